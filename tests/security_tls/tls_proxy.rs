//! A TLS terminator in front of a plaintext broker, as stunnel or a load
//! balancer's TLS listener would be: it accepts on a loopback port, runs the
//! server side of the TLS handshake with OpenSSL (optionally requiring a
//! client certificate signed by a given CA, as a broker's
//! `ssl.client.auth=required`), then connects to the broker's plaintext port
//! and copies bytes both ways. The broker is real (tansu); only the TLS
//! layer is ours, so the tests need no `stunnel4` installed.
//!
//! Each connection has three threads: one reads the client's socket, one
//! reads the broker's socket, and one owns the TLS session (over in-memory
//! buffers, so it never waits on a socket to read). The two readers never
//! wait for anything but their socket and hand bytes over an unbounded
//! channel, so neither peer can stall the other by not reading, whatever
//! order requests and responses cross in.
//!
//! [`TlsProxy::hold_responses`] withholds the broker's bytes from the
//! clients until the returned guard drops, for tests that need a client's
//! reader to sit waiting for the network.
//!
//! Dropping the proxy closes its listener and every connection, and waits
//! (for a bounded time) for its threads to end.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use openssl::ssl::{ErrorCode, Ssl, SslAcceptor, SslFiletype, SslMethod, SslStream, SslVerifyMode};

/// How long `Drop` waits for the proxy's threads to end.
const STOP_WITHIN: Duration = Duration::from_secs(5);
/// A handshake still unfinished after this long is abandoned.
const HANDSHAKE_WITHIN: Duration = Duration::from_secs(10);

/// What the proxy serves: its certificate, and who may connect.
pub struct ProxyConfig<'a> {
    pub cert: &'a Path,
    pub key: &'a Path,
    /// When set, clients must present a certificate signed by this CA.
    pub require_client_cert_from: Option<&'a Path>,
}

/// A running TLS terminator; see the module docs.
pub struct TlsProxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    stopping: AtomicBool,
    held: Arc<Gate>,
    /// Client sockets and the thread serving each, so `Drop` can end them.
    connections: Mutex<Vec<(TcpStream, JoinHandle<()>)>>,
}

impl TlsProxy {
    /// Listens on a free loopback port at once (see [`TlsProxy::port`]);
    /// each accepted connection is forwarded to `upstream` after its
    /// handshake.
    pub fn start(config: &ProxyConfig<'_>, upstream: SocketAddr) -> TlsProxy {
        let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())
            .expect("OpenSSL builds a server context");
        builder
            .set_certificate_chain_file(config.cert)
            .expect("the proxy's certificate loads");
        builder
            .set_private_key_file(config.key, SslFiletype::PEM)
            .expect("the proxy's key loads");
        builder
            .check_private_key()
            .expect("key matches certificate");
        if let Some(ca) = config.require_client_cert_from {
            builder.set_ca_file(ca).expect("the client CA loads");
            builder.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
        }
        let tls = Arc::new(builder.build());
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("a bound address").port();
        let shared = Arc::new(Shared {
            stopping: AtomicBool::new(false),
            held: Arc::default(),
            connections: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("tls-proxy-accept".into())
                .spawn(move || accept_loop(listener, &tls, upstream, &shared))
                .expect("spawning the accept thread")
        };
        TlsProxy {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The TLS port, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Withholds everything the broker sends from the clients (requests
    /// still go through) until the guard drops.
    pub fn hold_responses(&self) -> Held<'_> {
        self.shared.held.set(true);
        Held(&self.shared.held)
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.held.set(false);
        // Wakes the accept thread, which then sees `stopping`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        let deadline = Instant::now() + STOP_WITHIN;
        if let Some(acceptor) = self.acceptor.take() {
            join_by(acceptor, deadline, "accept");
        }
        let connections = std::mem::take(&mut *lock(&self.shared.connections));
        for (client, _) in &connections {
            let _ = client.shutdown(Shutdown::Both);
        }
        for (_, serving) in connections {
            join_by(serving, deadline, "connection");
        }
    }
}

/// Releases [`TlsProxy::hold_responses`] on drop.
pub struct Held<'a>(&'a Gate);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// A flag threads can wait on until it clears.
#[derive(Default)]
struct Gate {
    closed: Mutex<bool>,
    changed: Condvar,
}

impl Gate {
    fn set(&self, closed: bool) {
        *lock(&self.closed) = closed;
        self.changed.notify_all();
    }

    fn wait_open(&self) {
        let mut closed = lock(&self.closed);
        while *closed {
            closed = self
                .changed
                .wait(closed)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Joins `thread` if it ends before `deadline`, else leaves it detached
/// (it holds no listener, and its sockets are shut down).
fn join_by(thread: JoinHandle<()>, deadline: Instant, what: &str) {
    while !thread.is_finished() {
        if Instant::now() >= deadline {
            eprintln!("tls proxy: a {what} thread did not end within {STOP_WITHIN:?}");
            return;
        }
        thread::sleep(Duration::from_millis(5));
    }
    let _ = thread.join();
}

fn accept_loop(
    listener: TcpListener,
    tls: &Arc<SslAcceptor>,
    upstream: SocketAddr,
    shared: &Arc<Shared>,
) {
    for client in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let Ok(handle) = client.try_clone() else {
            continue;
        };
        let tls = Arc::clone(tls);
        let shared_for_thread = Arc::clone(shared);
        let serving = thread::Builder::new()
            .name("tls-proxy-session".into())
            .spawn(move || serve(client, &tls, upstream, &shared_for_thread))
            .expect("spawning a proxy session thread");
        let mut connections = lock(&shared.connections);
        connections.retain(|(_, thread)| !thread.is_finished());
        connections.push((handle, serving));
    }
}

/// Bytes from either side, or that side's end.
enum Event {
    FromClient(Vec<u8>),
    FromBroker(Vec<u8>),
    Closed,
}

/// The TLS session of one client connection: handshake, then forwarding.
fn serve(client: TcpStream, tls: &SslAcceptor, upstream: SocketAddr, shared: &Shared) {
    let (events, incoming) = channel();
    let mut readers = vec![spawn_reader(&client, None, Event::FromClient, &events)];
    let mut session =
        match Ssl::new(tls.context()).and_then(|ssl| SslStream::new(ssl, Buffers::default())) {
            Ok(session) => session,
            Err(e) => {
                eprintln!("tls proxy: creating a session: {e}");
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
        };
    let handshake_deadline = Instant::now() + HANDSHAKE_WITHIN;
    let mut broker: Option<TcpStream> = None;
    let mut plaintext = vec![0; 64 * 1024];
    loop {
        let event = if broker.is_none() {
            let left = handshake_deadline.saturating_duration_since(Instant::now());
            match incoming.recv_timeout(left) {
                Ok(event) => event,
                Err(_) => break,
            }
        } else {
            match incoming.recv() {
                Ok(event) => event,
                Err(_) => break,
            }
        };
        let open = match event {
            Event::Closed => false,
            Event::FromClient(bytes) => {
                session.get_mut().inbound.extend(bytes);
                let mut open = true;
                if broker.is_none() {
                    match session.accept() {
                        Ok(()) => match TcpStream::connect(upstream) {
                            Ok(stream) => {
                                readers.push(spawn_reader(
                                    &stream,
                                    Some(Arc::clone(&shared.held)),
                                    Event::FromBroker,
                                    &events,
                                ));
                                broker = Some(stream);
                            }
                            Err(e) => {
                                eprintln!("tls proxy: connecting to {upstream}: {e}");
                                open = false;
                            }
                        },
                        Err(e) if e.code() == ErrorCode::WANT_READ => {}
                        // OpenSSL has queued its alert; it is flushed below.
                        Err(_) => open = false,
                    }
                }
                if let (true, Some(broker)) = (open, &mut broker) {
                    open = decrypt_to(&mut session, &mut plaintext, broker);
                }
                open
            }
            Event::FromBroker(bytes) => encrypt(&mut session, &bytes),
        };
        let flushed = flush(&mut session, &client);
        if !open || !flushed {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    if let Some(broker) = &broker {
        let _ = broker.shutdown(Shutdown::Both);
    }
    drop(events);
    for reader in readers {
        let _ = reader.join();
    }
}

/// Moves all decrypted application data to the broker; false once the
/// client has ended the session or the broker is gone.
fn decrypt_to(session: &mut SslStream<Buffers>, buf: &mut [u8], broker: &mut TcpStream) -> bool {
    loop {
        match session.ssl_read(buf) {
            Ok(n) => {
                if broker.write_all(&buf[..n]).is_err() {
                    return false;
                }
            }
            Err(e) if e.code() == ErrorCode::WANT_READ => return true,
            Err(_) => return false,
        }
    }
}

fn encrypt(session: &mut SslStream<Buffers>, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        match session.ssl_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(_) => return false,
        }
    }
    true
}

/// Writes what OpenSSL produced (handshake, alerts, records) to the client.
fn flush(session: &mut SslStream<Buffers>, mut client: &TcpStream) -> bool {
    let outbound = std::mem::take(&mut session.get_mut().outbound);
    outbound.is_empty() || client.write_all(&outbound).is_ok()
}

/// A thread that reads `socket` until it ends, passing the bytes on (after
/// `gate` opens, when there is one).
fn spawn_reader(
    socket: &TcpStream,
    gate: Option<Arc<Gate>>,
    wrap: fn(Vec<u8>) -> Event,
    events: &Sender<Event>,
) -> JoinHandle<()> {
    let mut socket = socket.try_clone().expect("cloning a socket handle");
    let events = events.clone();
    thread::Builder::new()
        .name("tls-proxy-read".into())
        .spawn(move || {
            let mut buf = vec![0; 64 * 1024];
            loop {
                match socket.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if let Some(gate) = &gate {
                            gate.wait_open();
                        }
                        if events.send(wrap(buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = events.send(Event::Closed);
        })
        .expect("spawning a proxy reader thread")
}

/// The TLS session's transport: ciphertext in from the client, ciphertext
/// out to it. Reading an empty buffer "would block", which OpenSSL reports
/// as `WANT_READ` until more arrives.
#[derive(Default)]
struct Buffers {
    inbound: VecDeque<u8>,
    outbound: Vec<u8>,
}

impl Read for Buffers {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.inbound.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.inbound.read(buf)
    }
}

impl Write for Buffers {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outbound.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
