//! One blocking TCP connection to one broker, shared by many threads.
//!
//! Kafka answers requests on a connection in the order they were sent, so a
//! connection can carry several requests at once (pipelining). Callers write
//! their request under a short lock and register a one-shot channel in a FIFO
//! queue; a reader thread (`kafka-sync-reader`) reads each response frame,
//! checks its correlation id against the head of the queue and hands the
//! frame over. Decoding happens on the caller's thread.
//!
//! Every wait is bounded: connecting by `connect_timeout`, writes and
//! responses by `request_timeout`. A response that never comes, a correlation
//! mismatch, an oversized or truncated frame, each closes the connection and
//! fails every request still waiting on it, so the stream can never be read
//! out of step; the pool opens a fresh connection for the next request.
//!
//! With TLS the reader and the writers share one TLS session instead of a
//! cloned socket; see [`tls`](super::tls) for how. After ApiVersions, SASL
//! authentication (see [`sasl`](super::sasl)) runs before the connection is
//! handed out.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{self, Read, Write};
use std::marker::PhantomData;
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use log::{debug, warn};
use parking_lot::Mutex;

use super::sasl::{self, Sasl};
use super::tls::TlsConnector;
use crate::error::{Error, Result, TimeoutKind};
use crate::protocol::api::{ApiVersionRange, ApiVersionsRequest, ApiVersionsResponse};
use crate::protocol::{self, ErrorCode, Request};

mod buffers;
mod dial;
mod reader;
mod versions;

use dial::{connect_tcp, explain_tls_rejection, is_timeout, tls_halves};
pub use buffers::FrameBuffers;
use reader::{read_loop, MAX_UNANSWERED, READER_THREAD};
use versions::{cap_versions, finalized_levels};

/// The largest request buffer a connection keeps between writes: room for a
/// Produce request of the default `max_request_size` (1 MiB) and its headers
/// once the buffer has doubled past it.
const KEPT_WRITE_BUFFER: usize = 4 << 20;

/// Settings every connection of a client shares.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// `client_id` in every request header.
    pub client_id: Option<String>,
    /// Bound on opening the TCP connection.
    pub connect_timeout: Duration,
    /// Bound on each request's round trip.
    pub request_timeout: Duration,
    /// Largest response frame accepted.
    pub max_response_size: usize,
    /// TLS for every connection; `None` for plaintext.
    pub tls: Option<TlsConnector>,
    /// SASL authentication after ApiVersions; `None` for none.
    pub sasl: Option<Sasl>,
    /// Highest version to use per API key, whatever the broker announces
    /// (`KafkaClientBuilder::max_api_version`); empty for none.
    pub max_api_versions: BTreeMap<i16, i16>,
    /// Buffers of large response frames, kept for reuse by every
    /// connection made with this configuration (one client's).
    pub frame_buffers: Arc<FrameBuffers>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            client_id: Some("kafka-sync".to_owned()),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_response_size: 100 * 1024 * 1024,
            tls: None,
            sasl: None,
            max_api_versions: BTreeMap::new(),
            frame_buffers: Arc::default(),
        }
    }
}

/// A response frame as the reader read it: the bytes after the size
/// prefix, and the CRC-32C of each complete block of them, summed while they
/// were fresh in the reader's cache (empty for small frames; see
/// `protocol::records::crc`). A Fetch response's batches are checked
/// against those sums.
#[derive(Debug)]
pub struct Frame {
    /// The frame, from the correlation id on. A large frame lies in a
    /// buffer the reader keeps for reuse once every slice of it is dropped.
    pub bytes: Bytes,
    /// `block_sums[i]` is the CRC-32C of `bytes`' `i`-th block.
    pub block_sums: Vec<u32>,
}

type FrameResult = Result<Frame>;

struct Pending {
    correlation_id: i32,
    api_key: i16,
    tx: Sender<FrameResult>,
}

/// Where requests are written: the socket itself, or the TLS session the
/// reader shares.
enum WriteHalf {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Arc<super::tls::TlsIo>),
}

impl WriteHalf {
    /// Writes a whole frame by `deadline`. For plaintext each write's socket
    /// timeout is what is left until the deadline, so a peer that reads a
    /// trickle cannot stretch the whole write past it.
    fn write_all(&mut self, buf: &[u8], deadline: Instant) -> io::Result<()> {
        match self {
            WriteHalf::Plain(stream) => {
                let mut written = 0;
                while written < buf.len() {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                    stream.set_write_timeout(Some(left))?;
                    match stream.write(&buf[written..]) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => written += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
            #[cfg(feature = "tls")]
            WriteHalf::Tls(io) => {
                let left = deadline.saturating_duration_since(Instant::now());
                io.write_all(buf, left)
            }
        }
    }
}

/// The reader thread's body, over whichever read side the transport has.
type ReadLoop = Box<dyn FnOnce(&Shared) + Send>;

struct Writer {
    stream: WriteHalf,
    next_correlation_id: i32,
    buf: Vec<u8>,
}

struct Shared {
    addr: String,
    writer: Mutex<Writer>,
    pending: Mutex<VecDeque<Pending>>,
    /// Correlation ids of recent requests sent without expecting an answer
    /// (Produce with acks=0). Kafka sends nothing back for them, but some
    /// brokers (tansu 0.6.0) do; such a frame is dropped rather than taken
    /// for the answer to the next request.
    unanswered: Mutex<VecDeque<i32>>,
    /// Set once the connection is unusable; the reason is kept for callers.
    failure: Mutex<Option<Error>>,
    closed: AtomicBool,
    /// Set by [`Connection::retire`]: dropping the connection then lets the
    /// requests in flight finish instead of failing them.
    retired: AtomicBool,
    /// Set when a retired connection is dropped with requests in flight:
    /// the reader ends the connection after the last answer.
    draining: AtomicBool,
    /// The socket, for shutting it down from any thread.
    control: TcpStream,
    /// Where the reader takes buffers for large frames.
    frame_buffers: Arc<FrameBuffers>,
}

impl Shared {
    /// Marks the connection dead, shuts the socket and fails every waiter.
    fn fail(&self, error: Error) {
        {
            let mut failure = self.failure.lock();
            if failure.is_none() {
                *failure = Some(error.clone());
            }
        }
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.control.shutdown(Shutdown::Both);
        let waiters: Vec<Pending> = self.pending.lock().drain(..).collect();
        for p in waiters {
            let _ = p.tx.send(Err(error.clone()));
        }
    }

    fn closed_error(&self) -> Error {
        self.failure
            .lock()
            .clone()
            .unwrap_or(Error::Closed("connection"))
    }

    /// Why a drained connection ended: retriable, since the pool has a
    /// fresh connection.
    fn retired_error(&self) -> Error {
        Error::io(
            format!("sending to {}", self.addr),
            io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the connection was retired (replaced by a fresh one)",
            ),
        )
    }

    /// Whether the connection is draining and has nothing left in flight.
    fn drained(&self) -> bool {
        self.draining.load(Ordering::SeqCst) && self.pending.lock().is_empty()
    }
}

/// A blocking connection to one broker; `Send + Sync`, shared through `Arc`.
pub struct Connection {
    shared: Arc<Shared>,
    versions: Vec<ApiVersionRange>,
    /// The cluster-wide finalized feature levels the broker announced in
    /// ApiVersions v3+ (KIP-584), as (name, level); empty without them.
    finalized_features: Vec<(String, i16)>,
    config: ConnectionConfig,
    reader: Mutex<Option<crate::thread::Handle>>,
    /// When the SASL session must be renewed (KIP-368): the pool replaces
    /// the connection after this.
    reauthenticate_at: Option<Instant>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.shared.addr)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// A request that has been written and whose response has not been read yet.
#[must_use = "a pending response does nothing unless waited on"]
pub struct PendingResponse<R: Request> {
    rx: Receiver<FrameResult>,
    version: i16,
    correlation_id: i32,
    deadline: Instant,
    shared: Arc<Shared>,
    _request: PhantomData<fn() -> R>,
}

impl<R: Request> PendingResponse<R> {
    /// The channel the raw frame arrives on, for `select!` over several
    /// pending responses; decode what arrives with [`PendingResponse::decode`].
    pub fn receiver(&self) -> &Receiver<FrameResult> {
        &self.rx
    }

    /// When this request times out.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Waits for the response until the request deadline.
    pub fn wait(self) -> Result<R::Response> {
        self.wait_keeping_frame().map(|(response, _)| response)
    }

    /// Like [`PendingResponse::wait`], and hands the frame back too; see
    /// [`PendingResponse::decode_keeping_frame`].
    pub fn wait_keeping_frame(self) -> Result<(R::Response, Frame)> {
        match self.rx.recv_deadline(self.deadline) {
            Ok(frame) => self.decode_keeping_frame(frame),
            Err(RecvTimeoutError::Timeout) => {
                let error = Error::timeout(
                    TimeoutKind::Request,
                    format!(
                        "waiting for a response to api {} from {}",
                        R::API_KEY,
                        self.shared.addr
                    ),
                );
                // The broker may still answer later; a fresh connection keeps
                // the stream in step, as the Java client does.
                self.shared.fail(error.clone());
                Err(error)
            }
            Err(RecvTimeoutError::Disconnected) => Err(self.shared.closed_error()),
        }
    }

    /// Decodes a frame taken from [`PendingResponse::receiver`].
    pub fn decode(&self, frame: FrameResult) -> Result<R::Response> {
        self.decode_keeping_frame(frame)
            .map(|(response, _)| response)
    }

    /// Like [`PendingResponse::decode`], and hands the frame back too: byte
    /// ranges in the response (a Fetch response's records) index into it.
    pub fn decode_keeping_frame(&self, frame: FrameResult) -> Result<(R::Response, Frame)> {
        let frame = frame?;
        let (response, trailing) = protocol::decode_response_counting_trailing::<R>(
            &frame.bytes,
            self.version,
            self.correlation_id,
        )
        .map_err(|e| {
            Error::decode(
                format!(
                    "decoding api {} v{} response from {}",
                    R::API_KEY,
                    self.version,
                    self.shared.addr
                ),
                e,
            )
        })?;
        if trailing > 0 {
            log_trailing_bytes_once(&self.shared.addr, R::API_KEY, self.version, trailing);
        }
        Ok((response, frame))
    }
}

/// Logs, once per API and version for the whole process, that a broker sent
/// bytes after a complete response body (tolerated, as the Java client
/// does): the quirk is a property of the broker's software, so repeating it
/// per response would only flood the log.
fn log_trailing_bytes_once(addr: &str, api_key: i16, version: i16, trailing: usize) {
    static LOGGED: Mutex<BTreeSet<(i16, i16)>> = Mutex::new(BTreeSet::new());
    if LOGGED.lock().insert((api_key, version)) {
        debug!(
            "{addr}: {} v{version} response has {trailing} bytes after its body; ignored (logged \
             once per API and version)",
            api_name(api_key)
        );
    }
}

impl Connection {
    /// Connects to `addr` (`host:port`), negotiates API versions and starts the
    /// reader thread.
    pub fn connect(addr: &str, config: &ConnectionConfig) -> Result<Connection> {
        let started = Instant::now();
        let stream = connect_tcp(addr, config.connect_timeout)?;
        let io_err = |e| Error::io(format!("configuring socket to {addr}"), e);
        stream.set_nodelay(true).map_err(io_err)?;
        let control = stream.try_clone().map_err(io_err)?;
        let max = config.max_response_size;
        let (writer, reader): (WriteHalf, ReadLoop) = match &config.tls {
            None => {
                stream
                    .set_write_timeout(Some(config.request_timeout))
                    .map_err(io_err)?;
                let read_half = stream.try_clone().map_err(io_err)?;
                (
                    WriteHalf::Plain(stream),
                    Box::new(move |shared: &Shared| read_loop(read_half, shared, max)),
                )
            }
            Some(tls) => tls_halves(stream, addr, tls, config, started)?,
        };
        let shared = Arc::new(Shared {
            addr: addr.to_owned(),
            writer: Mutex::new(Writer {
                stream: writer,
                next_correlation_id: 0,
                buf: Vec::with_capacity(1024),
            }),
            pending: Mutex::new(VecDeque::new()),
            unanswered: Mutex::new(VecDeque::new()),
            failure: Mutex::new(None),
            closed: AtomicBool::new(false),
            retired: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            control,
            frame_buffers: Arc::clone(&config.frame_buffers),
        });
        let reader_shared = Arc::clone(&shared);
        let reader = crate::thread::spawn(READER_THREAD, move || {
            if let Err(detail) = crate::thread::catch(READER_THREAD, || reader(&reader_shared)) {
                // Waiters learn at once instead of at their request timeout;
                // the pool opens a new connection on next use.
                reader_shared.fail(Error::io(
                    format!("reading from {}", reader_shared.addr),
                    io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        format!("the {READER_THREAD} thread panicked: {detail}"),
                    ),
                ));
            }
        })?;
        let mut conn = Connection {
            shared,
            versions: Vec::new(),
            finalized_features: Vec::new(),
            config: config.clone(),
            reader: Mutex::new(Some(reader)),
            reauthenticate_at: None,
        };
        conn.versions = match conn.negotiate_versions() {
            Ok(response) => {
                conn.finalized_features = finalized_levels(&response);
                cap_versions(response.api_keys, &config.max_api_versions)
            }
            Err(e) if config.tls.is_some() => return Err(explain_tls_rejection(addr, e)),
            Err(e) => return Err(e),
        };
        if let Some(credentials) = &config.sasl {
            let authenticated_at = Instant::now();
            match sasl::authenticate(&conn, credentials) {
                Ok(lifetime) => {
                    conn.reauthenticate_at =
                        lifetime.map(|l| authenticated_at + reauthentication_delay(l));
                }
                Err(e) => {
                    conn.shared.fail(e.clone());
                    return Err(e);
                }
            }
        }
        debug!("connected to {addr}");
        Ok(conn)
    }

    /// The broker's address as dialled.
    pub fn addr(&self) -> &str {
        &self.shared.addr
    }

    /// Whether the connection has failed or been closed.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Marks the connection as replaced (a fresh one is open): it still
    /// serves whoever holds it, and when the last holder drops it, the
    /// requests in flight get their answers before it closes (or fail at
    /// their request timeout, as ever) instead of failing at once.
    pub fn retire(&self) {
        self.shared.retired.store(true, Ordering::SeqCst);
    }

    /// Whether the broker's SASL session lifetime (KIP-368) is nearly over,
    /// so new requests should go to a freshly authenticated connection.
    pub fn session_expiring(&self) -> bool {
        self.reauthenticate_at
            .is_some_and(|at| Instant::now() >= at)
    }

    /// When the SASL session should be renewed, if the broker set a lifetime.
    pub fn reauthenticate_at(&self) -> Option<Instant> {
        self.reauthenticate_at
    }

    /// The broker's supported window for `api_key`.
    pub fn api_range(&self, api_key: i16) -> Option<ApiVersionRange> {
        self.versions.iter().copied().find(|r| r.api_key == api_key)
    }

    /// Every API the broker announced.
    pub fn api_versions(&self) -> &[ApiVersionRange] {
        &self.versions
    }

    /// The highest version of `R` both sides speak.
    pub fn version_for<R: Request>(&self) -> Result<i16> {
        self.api_range(R::API_KEY)
            .and_then(|r| protocol::negotiate_version::<R>(r.min_version, r.max_version))
            .ok_or_else(|| Error::UnsupportedVersion {
                broker: self.addr().to_owned(),
                api: api_name(R::API_KEY),
                ours: format!("v{}..=v{}", R::MIN_VERSION, R::MAX_VERSION),
            })
    }

    /// Sends `request` and waits for its response.
    pub fn request<R: Request>(&self, request: &R) -> Result<R::Response> {
        self.send(request)?.wait()
    }

    /// Sends `request` at `version` and waits for its response.
    pub(crate) fn request_at<R: Request>(&self, request: &R, version: i16) -> Result<R::Response> {
        self.send_at(request, version)?.wait()
    }

    /// Sends `request` at the negotiated version without waiting; several
    /// requests can be in flight at once.
    pub fn send<R: Request>(&self, request: &R) -> Result<PendingResponse<R>> {
        let version = self.version_for::<R>()?;
        self.send_at(request, version)
    }

    /// Sends a request the broker will not answer (a Produce with acks=0).
    pub fn send_no_response<R: Request>(&self, request: &R) -> Result<()> {
        let version = self.version_for::<R>()?;
        self.write_request(request, version, None).map(|_| ())
    }

    fn send_at<R: Request>(&self, request: &R, version: i16) -> Result<PendingResponse<R>> {
        if !request.expects_response() {
            return Err(Error::Config(
                "this request gets no response; use send_no_response".into(),
            ));
        }
        let (tx, rx) = bounded(1);
        let correlation_id = self.write_request(request, version, Some(tx))?;
        Ok(PendingResponse {
            rx,
            version,
            correlation_id,
            deadline: crate::time::after(self.config.request_timeout),
            shared: Arc::clone(&self.shared),
            _request: PhantomData,
        })
    }

    fn write_request<R: Request>(
        &self,
        request: &R,
        version: i16,
        tx: Option<Sender<FrameResult>>,
    ) -> Result<i32> {
        let write_deadline = crate::time::after(self.config.request_timeout);
        // Another writer may be stuck on a peer that stopped reading: wait
        // for the lock no longer than this request's own timeout.
        let Some(mut writer) = self.shared.writer.try_lock_until(write_deadline) else {
            let error = Error::timeout(
                TimeoutKind::Request,
                format!(
                    "waiting to write {} to {} (another request's write is stuck)",
                    api_name(R::API_KEY),
                    self.addr()
                ),
            );
            // The stream may be out of step now: close it, as a timeout does.
            self.shared.fail(error.clone());
            return Err(error);
        };
        if self.is_closed() {
            return Err(self.shared.closed_error());
        }
        let correlation_id = writer.next_correlation_id;
        writer.next_correlation_id = correlation_id.wrapping_add(1) & i32::MAX;
        let client_id = self.config.client_id.as_deref();
        let mut buf = std::mem::take(&mut writer.buf);
        let encoded =
            protocol::encode_request_into(request, version, correlation_id, client_id, &mut buf);
        if let Err(e) = encoded {
            writer.buf = buf;
            return Err(Error::encode(
                format!(
                    "encoding {} v{version} for {}",
                    api_name(R::API_KEY),
                    self.addr()
                ),
                e,
            ));
        }
        if let Some(tx) = tx {
            // Registered before writing so the reader can never see a response
            // without its waiter; queue order equals write order under this lock.
            self.shared.pending.lock().push_back(Pending {
                correlation_id,
                api_key: R::API_KEY,
                tx,
            });
        } else {
            let mut unanswered = self.shared.unanswered.lock();
            if unanswered.len() >= MAX_UNANSWERED {
                unanswered.pop_front();
            }
            unanswered.push_back(correlation_id);
        }
        debug!(
            "{} -> {} v{version} correlation {correlation_id} ({} bytes)",
            self.addr(),
            api_name(R::API_KEY),
            buf.len()
        );
        let written = writer.stream.write_all(&buf, write_deadline);
        // Keep the buffer for the next request unless it is huge. A
        // producer's requests fill `max_request_size` (1 MiB by default), so
        // their frames come a little over it and the buffer that holds one
        // is 2 MiB: dropping it made every request grow a new one by
        // doubling, copying the frame each time, and fault its pages in.
        if buf.capacity() <= KEPT_WRITE_BUFFER {
            writer.buf = buf;
        }
        drop(writer);
        if let Err(e) = written {
            let error = if is_timeout(&e) {
                Error::timeout(
                    TimeoutKind::Request,
                    format!("writing {} to {}", api_name(R::API_KEY), self.addr()),
                )
            } else {
                Error::io(
                    format!("writing {} to {}", api_name(R::API_KEY), self.addr()),
                    e,
                )
            };
            self.shared.fail(error);
            // The reader may have seen the cause first (a TLS alert, a reset).
            return Err(self.shared.closed_error());
        }
        Ok(correlation_id)
    }

    /// Closes the connection, failing requests still in flight.
    pub fn close(&self) {
        self.shared.fail(Error::Closed("connection"));
        let handle = self.reader.lock().take();
        if let Some(handle) = handle {
            // The socket is shut down, so the reader's blocking read returns
            // at once; the deadline only guards against a stuck platform.
            handle.join_until(crate::time::after(self.config.request_timeout));
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.shared.retired.load(Ordering::SeqCst) {
            self.shared.draining.store(true, Ordering::SeqCst);
        }
        if self.shared.draining.load(Ordering::SeqCst) && !self.shared.drained() {
            // Requests are still in flight: the reader ends the connection
            // after their answers. Each waiter times out by its request
            // deadline (closing the connection); for plaintext a read
            // timeout bounds the reader if nobody waits any more (the TLS
            // reader sets its own timeouts: there the broker ends the
            // session, KIP-368).
            let _ = self
                .shared
                .control
                .set_read_timeout(Some(self.config.request_timeout));
            if let Some(handle) = self.reader.lock().take() {
                handle.detach("a retired connection finishes its requests in flight");
            }
            return;
        }
        self.close();
    }
}

/// Renew a session at 85-95 % of its lifetime (jittered so connections
/// opened together do not renew together), as the Java client does.
fn reauthentication_delay(lifetime: Duration) -> Duration {
    lifetime.mul_f64(0.85 + 0.10 * super::pseudo_random_unit())
}

/// A readable name for an API key, for messages and logs.
pub fn api_name(api_key: i16) -> &'static str {
    crate::ApiKey::from_code(api_key).map_or("an API", crate::ApiKey::name)
}

