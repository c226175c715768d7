//! Opening the TCP (and TLS) stream of a [`Connection`](super::Connection):
//! name resolution bounded by the connect timeout, the connect itself, and
//! the read and write halves a TLS session is split into.

use super::*;

pub(super) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The name of the short-lived threads that resolve broker host names.
pub(super) const RESOLVE_THREAD: &str = "kafka-sync-resolve";

/// Resolves `addr` by `deadline`. std's resolver blocks with no timeout of
/// its own, so a host name is resolved on a `kafka-sync-resolve` thread,
/// detached if it has not answered by the deadline (it ends when the
/// system resolver gives up; it holds only the name). A literal address
/// needs no thread.
pub(super) fn resolve(addr: &str, deadline: Instant) -> Result<Vec<SocketAddr>> {
    if let Ok(sa) = addr.parse::<SocketAddr>() {
        return Ok(vec![sa]);
    }
    let (tx, rx) = bounded(1);
    let name = addr.to_owned();
    let handle = crate::thread::spawn(RESOLVE_THREAD, move || {
        let _ = tx.send(resolve_blocking(&name));
    })?;
    match rx.recv_deadline(deadline) {
        Ok(result) => {
            handle.join_until(crate::time::after(Duration::from_secs(1)));
            result.map_err(|e| Error::io(format!("resolving {addr}"), e))
        }
        Err(RecvTimeoutError::Timeout) => {
            handle.detach("a name lookup ends when the system resolver gives up");
            Err(Error::timeout(
                TimeoutKind::Connect,
                format!("resolving {addr} (the connect timeout passed first)"),
            ))
        }
        Err(RecvTimeoutError::Disconnected) => {
            handle.join_until(crate::time::after(Duration::from_secs(1)));
            Err(Error::io(
                format!("resolving {addr}"),
                io::Error::other(format!("the {RESOLVE_THREAD} thread panicked")),
            ))
        }
    }
}

pub(super) fn resolve_blocking(addr: &str) -> io::Result<Vec<SocketAddr>> {
    #[cfg(test)]
    if let Some(rest) = addr.strip_prefix(tests::SLOW_DNS_HOST) {
        // A resolver that hangs, for the unit test of the bound above.
        std::thread::sleep(Duration::from_secs(3));
        return format!("127.0.0.1{rest}").to_socket_addrs().map(Iterator::collect);
    }
    addr.to_socket_addrs().map(Iterator::collect)
}

/// Resolves `addr` and connects to the first address that answers, all
/// within `timeout`.
pub(super) fn connect_tcp(addr: &str, timeout: Duration) -> Result<TcpStream> {
    let deadline = crate::time::after(timeout);
    let addrs = resolve(addr, deadline)?;
    if addrs.is_empty() {
        return Err(Error::Config(format!("{addr} resolves to no address")));
    }
    let mut last = None;
    for sa in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&sa, left) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if is_timeout(&e) => Error::timeout(
            TimeoutKind::Connect,
            format!("connecting to {addr} (after {timeout:?})"),
        ),
        Some(e) => Error::io(format!("connecting to {addr}"), e),
        None => Error::timeout(TimeoutKind::Connect, format!("connecting to {addr}")),
    })
}

/// With TLS 1.3 a broker checks the client certificate after the client's
/// handshake has finished, so a rejected (or missing) certificate shows up
/// as a TLS alert on the first request: report it as the TLS error it is.
pub(super) fn explain_tls_rejection(addr: &str, e: Error) -> Error {
    let Error::Io { source, .. } = &e else {
        return e;
    };
    let text = e.to_string();
    let lower = text.to_lowercase();
    let ended = matches!(
        source.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    );
    if ended || lower.contains("alert") || lower.contains("ssl") {
        Error::Tls(format!(
            "{addr} ended the TLS session right after the handshake, before answering \
             ApiVersions: it most likely rejected the client certificate or needs one; \
             check TlsConfig::client_cert ({text})"
        ))
    } else {
        e
    }
}

/// The TLS handshake (bounded by what is left of `connect_timeout`) and the
/// two sides of the shared session.
#[cfg(feature = "tls")]
pub(super) fn tls_halves(
    stream: TcpStream,
    addr: &str,
    tls: &TlsConnector,
    config: &ConnectionConfig,
    started: Instant,
) -> Result<(WriteHalf, ReadLoop)> {
    let left = config
        .connect_timeout
        .saturating_sub(started.elapsed())
        .max(Duration::from_millis(1));
    let io = Arc::new(crate::net::tls::TlsIo::handshake(stream, addr, tls, left)?);
    let reader = crate::net::tls::TlsReader::new(Arc::clone(&io));
    let max = config.max_response_size;
    Ok((
        WriteHalf::Tls(io),
        Box::new(move |shared: &Shared| read_loop(reader, shared, max)),
    ))
}

#[cfg(not(feature = "tls"))]
pub(super) fn tls_halves(
    _stream: TcpStream,
    _addr: &str,
    _tls: &TlsConnector,
    _config: &ConnectionConfig,
    _started: Instant,
) -> Result<(WriteHalf, ReadLoop)> {
    Err(Error::Config(
        "TLS was configured but kafka-sync was built without its `tls` feature".into(),
    ))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A host name whose lookup hangs for 3 s (see `resolve_blocking`).
    pub(in crate::net) const SLOW_DNS_HOST: &str = "slow-dns.kafka-sync.test";

    #[test]
    fn a_hanging_name_lookup_is_bounded_by_the_connect_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let started = Instant::now();
        let result = connect_tcp(
            &format!("{SLOW_DNS_HOST}:{port}"),
            Duration::from_millis(300),
        );
        let took = started.elapsed();
        assert!(
            matches!(
                result,
                Err(Error::Timeout {
                    kind: TimeoutKind::Connect,
                    ..
                })
            ),
            "{result:?}"
        );
        assert!(took < Duration::from_millis(1500), "took {took:?}");
        // Names still resolve (on the helper thread) and literals need none.
        connect_tcp(&format!("localhost:{port}"), Duration::from_secs(5)).unwrap();
        connect_tcp(&format!("127.0.0.1:{port}"), Duration::from_secs(5)).unwrap();
    }
}
