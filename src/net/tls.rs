//! TLS for broker connections (feature `tls`, on by default): the public
//! [`TlsConfig`], the [`TlsConnector`] built from it once per client, and the
//! stream that lets the connection's reader thread and its writers share one
//! TLS session.
//!
//! # Sharing one TLS stream between a reader and writers
//!
//! A plaintext connection gives its reader thread a `try_clone` of the
//! socket, so reading and writing never wait on each other. A TLS session
//! cannot be split that way (`native_tls::TlsStream` owns its socket and its
//! cipher state), so here both sides share it behind one mutex, and the
//! reader never holds that mutex while it waits for the network:
//!
//! - The reader waits for bytes with `peek` on a clone of the raw socket,
//!   without the lock and without a timeout (closing the connection shuts the
//!   socket down, which wakes it). Only when bytes have arrived does it take
//!   the lock and call the TLS `read`, with a 1 ms socket read timeout so
//!   that a TLS record still half on the wire never keeps the lock longer.
//!   A timed-out TLS read is simply repeated later: the TLS layer keeps the
//!   partial record, and the `Read` impl hides the `WouldBlock` so frame
//!   parsing (`read_exact`) never sees a short read. Plaintext the TLS layer
//!   already decrypted is read first, without touching the network
//!   (`buffered_read_size`).
//! - Writers take the lock per 16 KiB chunk with a 10 ms socket write
//!   timeout, and release it in between. A broker that stops reading our
//!   requests until we read its responses (Kafka mutes a connection while a
//!   response is pending) therefore cannot deadlock the connection: the
//!   reader gets the lock between chunks. A timed-out TLS write is retried
//!   with the same bytes, as OpenSSL requires, until `request_timeout`.
//!
//! The cost is that a writer can wait for the lock while the reader is
//! inside a TLS `read`. With OpenSSL (`buffered_read_size` exact) the reader
//! only calls it once `peek` has seen bytes, so the wait is the time to
//! decrypt what arrived, or at worst the 1 ms timeout (rounded up to the
//! kernel's timer tick, often 4 ms) while the rest of a record is on the way.
//! Measured (docs/benchmarks.md, "TLS round trips"): the median ApiVersions
//! round trip through stunnel is 90-240 µs against 60-170 µs plaintext
//! straight to the broker, the same as a Python `ssl` client through the
//! same stunnel. `tests/security_tls.rs` checks the behaviour: writers go
//! on while the reader waits for responses that are held back.
//! (A first cut that did a timed read after every response cost a full
//! timer tick, 8 ms, per round trip: avoid timed reads on the hot path.)
//! An idle connection costs no wake-ups.
//!
//! A dedicated I/O thread per connection was the alternative; it needs a
//! non-blocking socket and a way to wait on both the socket and a channel,
//! which std does not offer, so it would have polled. Plaintext connections
//! keep the split-socket path and pay nothing for any of this.
//!
//! # Verification
//! Certificates are verified against the CA file when one is given (and then
//! only against it, like a Java truststore), else against the system roots.
//! The host name of the broker address (or [`TlsConfig::server_name`]) is
//! checked against the certificate and sent as SNI.

use std::fmt;
#[cfg(feature = "tls")]
use std::path::Path;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// TLS settings for every connection of a client.
///
/// ```no_run
/// let tls = kafka_sync::TlsConfig::default()
///     .ca_file("ca.pem")
///     .client_cert("client.pem", "client.key");
/// let client = kafka_sync::KafkaClient::builder()
///     .hosts("broker:9093")
///     .tls(tls)
///     .build()?;
/// # Ok::<(), kafka_sync::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct TlsConfig {
    ca_file: Option<PathBuf>,
    client_cert: Option<(PathBuf, PathBuf)>,
    server_name: Option<String>,
    accept_invalid_certs: bool,
    accept_invalid_hostnames: bool,
}

impl TlsConfig {
    /// A PEM file of CA certificates (one or several) that sign the brokers'
    /// certificates. When set, only these CAs are trusted; by default the
    /// system's roots are.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// A client certificate (PEM, optionally followed by its chain) and its
    /// private key (PEM, PKCS#8: `-----BEGIN PRIVATE KEY-----`), for brokers
    /// that require mutual TLS. Convert other key formats with
    /// `openssl pkcs8 -topk8 -nocrypt -in key.pem -out key.pk8.pem`.
    /// Defaults to none.
    pub fn client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.client_cert = Some((cert.into(), key.into()));
        self
    }

    /// The name checked against broker certificates and sent as SNI, instead
    /// of the host part of each broker's address. Defaults to none: every
    /// broker is checked against its own host name, as the Java client does.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// **Development only**: accepts any certificate, including expired,
    /// self-signed and wrongly named ones. The connection is then encrypted
    /// but not authenticated: anyone on the path can read it. Defaults to
    /// `false`.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.accept_invalid_certs = accept;
        self
    }

    /// **Development only**: accepts a valid certificate issued for another
    /// host name (what Java's empty `ssl.endpoint.identification.algorithm`
    /// does). Defaults to `false`.
    pub fn danger_accept_invalid_hostnames(mut self, accept: bool) -> Self {
        self.accept_invalid_hostnames = accept;
        self
    }
}

/// A TLS client context built once from a [`TlsConfig`] (files read,
/// certificates parsed) and shared by every connection; cheap to clone.
#[derive(Clone)]
pub struct TlsConnector {
    #[cfg(feature = "tls")]
    inner: native_tls::TlsConnector,
    server_name: Option<String>,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsConnector {
    /// Reads the files `config` names and builds the TLS context.
    ///
    /// # Errors
    /// [`Error::Tls`] when a file cannot be read or parsed, [`Error::Config`]
    /// when the crate was built without the `tls` feature.
    pub fn new(config: &TlsConfig) -> Result<TlsConnector> {
        #[cfg(feature = "tls")]
        {
            let mut builder = native_tls::TlsConnector::builder();
            if let Some(path) = &config.ca_file {
                let pem = read_file(path, "CA file")?;
                let certs = native_tls::Certificate::stack_from_pem(&pem)
                    .map_err(|e| Error::Tls(format!("CA file {}: {e}", path.display())))?;
                if certs.is_empty() {
                    return Err(Error::Tls(format!(
                        "CA file {} holds no PEM certificate",
                        path.display()
                    )));
                }
                builder.disable_built_in_roots(true);
                for cert in certs {
                    builder.add_root_certificate(cert);
                }
            }
            if let Some((cert_path, key_path)) = &config.client_cert {
                let cert = read_file(cert_path, "client certificate")?;
                let key = read_file(key_path, "client key")?;
                if !key
                    .windows(b"BEGIN PRIVATE KEY".len())
                    .any(|w| w == b"BEGIN PRIVATE KEY")
                {
                    return Err(Error::Tls(format!(
                        "client key {} is not a PKCS#8 PEM key (-----BEGIN PRIVATE KEY-----); \
                         convert it with `openssl pkcs8 -topk8 -nocrypt`",
                        key_path.display()
                    )));
                }
                let identity = native_tls::Identity::from_pkcs8(&cert, &key).map_err(|e| {
                    Error::Tls(format!(
                        "client certificate {} with key {}: {e}",
                        cert_path.display(),
                        key_path.display()
                    ))
                })?;
                builder.identity(identity);
            }
            builder
                .danger_accept_invalid_certs(config.accept_invalid_certs)
                .danger_accept_invalid_hostnames(config.accept_invalid_hostnames);
            let inner = builder
                .build()
                .map_err(|e| Error::Tls(format!("building the TLS context: {e}")))?;
            Ok(TlsConnector {
                inner,
                server_name: config.server_name.clone(),
            })
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = config;
            Err(Error::Config(
                "TLS was configured but kafka-sync was built without its `tls` feature".into(),
            ))
        }
    }

    /// The name to verify and send as SNI for broker address `addr`.
    #[cfg(feature = "tls")]
    fn server_name_for<'a>(&'a self, addr: &'a str) -> &'a str {
        if let Some(name) = &self.server_name {
            return name;
        }
        let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
        // `[::1]:9093` → `::1`.
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
    }
}

#[cfg(feature = "tls")]
fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| Error::Tls(format!("cannot read {what} {}: {e}", path.display())))
}

#[cfg(feature = "tls")]
pub(crate) use stream::{TlsIo, TlsReader};

#[cfg(feature = "tls")]
mod stream {
    use std::io::{self, Read, Write};
    use std::net::TcpStream;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use parking_lot::{Mutex, MutexGuard};

    use super::TlsConnector;
    use crate::error::{Error, Result, TimeoutKind};

    /// How long a TLS read may hold the lock waiting for the rest of a record
    /// (the kernel rounds it up to its timer tick).
    const READ_SLICE: Duration = Duration::from_millis(1);
    /// Whether `buffered_read_size` covers everything the TLS layer holds.
    /// True for OpenSSL, which reads one record at a time; Security.framework
    /// and SChannel may hold raw bytes they have not decrypted yet, so there a
    /// short timed read follows each read before the reader waits on the
    /// socket again.
    const BUFFERED_SIZE_IS_EXACT: bool = !cfg!(any(target_vendor = "apple", windows));
    /// How long a TLS write may hold the lock waiting for socket buffer room.
    const WRITE_SLICE: Duration = Duration::from_millis(10);
    /// Longest single socket wait during the handshake.
    const HANDSHAKE_SLICE: Duration = Duration::from_millis(100);
    /// Bytes written per lock acquisition (one TLS record's worth).
    const WRITE_CHUNK: usize = 16 * 1024;

    /// One TLS session shared by a connection's reader thread and writers.
    pub(crate) struct TlsIo {
        stream: Mutex<native_tls::TlsStream<TcpStream>>,
        /// The same socket, for waiting on it without the lock and for its
        /// timeouts.
        raw: TcpStream,
    }

    impl TlsIo {
        /// Runs the TLS handshake on a connected socket, bounded by `timeout`
        /// in total: each socket wait is short, and the handshake resumes
        /// until the deadline, so a broker dribbling bytes cannot stretch it.
        pub(crate) fn handshake(
            tcp: TcpStream,
            addr: &str,
            connector: &TlsConnector,
            timeout: Duration,
        ) -> Result<TlsIo> {
            let deadline = crate::time::after(timeout);
            let io_err = |e| Error::io(format!("configuring TLS socket to {addr}"), e);
            let slice = timeout.min(HANDSHAKE_SLICE);
            tcp.set_read_timeout(Some(slice)).map_err(io_err)?;
            tcp.set_write_timeout(Some(slice)).map_err(io_err)?;
            let raw = tcp.try_clone().map_err(io_err)?;
            let name = connector.server_name_for(addr);
            let mut attempt = connector.inner.connect(name, tcp);
            let stream = loop {
                match attempt {
                    Ok(stream) => break stream,
                    Err(native_tls::HandshakeError::WouldBlock(mid)) => {
                        if Instant::now() >= deadline {
                            return Err(Error::timeout(
                                TimeoutKind::Connect,
                                format!("TLS handshake with {addr} (after {timeout:?})"),
                            ));
                        }
                        attempt = mid.handshake();
                    }
                    Err(native_tls::HandshakeError::Failure(e)) => {
                        return Err(Error::Tls(describe_handshake_failure(addr, name, &e)))
                    }
                }
            };
            raw.set_write_timeout(Some(WRITE_SLICE)).map_err(io_err)?;
            Ok(TlsIo {
                stream: Mutex::new(stream),
                raw,
            })
        }

        /// Writes all of `buf` within `timeout`, a chunk per lock hold.
        pub(crate) fn write_all(&self, buf: &[u8], timeout: Duration) -> io::Result<()> {
            let deadline = crate::time::after(timeout);
            let mut written = 0;
            while written < buf.len() {
                let end = buf.len().min(written + WRITE_CHUNK);
                let result = {
                    let mut stream = self.stream.lock();
                    let result = stream.write(&buf[written..end]);
                    MutexGuard::unlock_fair(stream);
                    result
                };
                match result {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => written += n,
                    Err(e) if is_would_block(&e) => {
                        // Retried with the same bytes, as OpenSSL requires.
                        if Instant::now() >= deadline {
                            return Err(io::ErrorKind::TimedOut.into());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.stream.lock().flush()
        }
    }

    /// The reading side of a [`TlsIo`], for the connection's reader thread.
    pub(crate) struct TlsReader {
        io: Arc<TlsIo>,
        /// The socket read timeout last set: short for TLS reads, none for
        /// waiting; tracked to save a system call per read.
        short_timeout: Option<bool>,
        /// Whether the TLS layer may hold unread bytes, so the next read must
        /// try the TLS stream before waiting on the socket.
        maybe_more: bool,
    }

    impl TlsReader {
        pub(crate) fn new(io: Arc<TlsIo>) -> Self {
            TlsReader {
                io,
                short_timeout: None,
                maybe_more: true,
            }
        }

        fn set_short_timeout(&mut self, short: bool) -> io::Result<()> {
            if self.short_timeout != Some(short) {
                self.io.raw.set_read_timeout(short.then_some(READ_SLICE))?;
                self.short_timeout = Some(short);
            }
            Ok(())
        }
    }

    impl Read for TlsReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let io = Arc::clone(&self.io);
            let mut at_eof = false;
            loop {
                {
                    let mut stream = io.stream.lock();
                    let buffered = stream.buffered_read_size().unwrap_or(0) > 0;
                    if buffered || self.maybe_more || at_eof {
                        if !buffered {
                            self.set_short_timeout(true)?;
                        }
                        match stream.read(buf) {
                            Ok(n) => {
                                if BUFFERED_SIZE_IS_EXACT
                                    && stream.buffered_read_size().unwrap_or(1) == 0
                                {
                                    // Nothing left inside the TLS layer: wait
                                    // on the socket next time.
                                    self.maybe_more = false;
                                }
                                return Ok(n);
                            }
                            Err(e) if is_would_block(&e) => {
                                if at_eof {
                                    return Err(io::ErrorKind::UnexpectedEof.into());
                                }
                                self.maybe_more = false;
                            }
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            Err(e) => return Err(e),
                        }
                    }
                    MutexGuard::unlock_fair(stream);
                }
                // Wait for the network without the lock, so writers can go on.
                self.set_short_timeout(false)?;
                match io.raw.peek(&mut [0u8; 1]) {
                    Ok(0) => at_eof = true,
                    Ok(_) => self.maybe_more = true,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }

    fn is_would_block(e: &io::Error) -> bool {
        matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        )
    }

    /// Names the usual causes of a failed handshake so users know what to fix.
    fn describe_handshake_failure(addr: &str, name: &str, e: &native_tls::Error) -> String {
        let detail = e.to_string();
        let lower = detail.to_lowercase();
        let hint = if lower.contains("hostname mismatch") || lower.contains("host name mismatch") {
            format!(
                "hostname mismatch: the broker's certificate is not valid for `{name}`; \
                 connect by a name the certificate lists or set TlsConfig::server_name"
            )
        } else if lower.contains("certificate verify failed")
            || lower.contains("unable to get local issuer")
            || lower.contains("self-signed")
            || lower.contains("self signed")
        {
            "the broker's certificate is not signed by a trusted CA; check TlsConfig::ca_file"
                .to_owned()
        } else if lower.contains("alert") && lower.contains("certificate") {
            "the broker rejected the client certificate (or needs one); check \
             TlsConfig::client_cert"
                .to_owned()
        } else {
            "is the broker's listener TLS?".to_owned()
        };
        format!("handshake with {addr} failed: {hint} ({detail})")
    }
}
