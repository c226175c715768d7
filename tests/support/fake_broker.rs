//! The one frame loop behind every scripted peer: accept a connection, read
//! a size-prefixed request, parse its header (api key, version, correlation
//! id), hand it to a closure, write what the closure answers.
//!
//! Hostile brokers, fake coordinators, the SASL server and
//! [`super::fake_cluster`] are all closures over [`serve_connection`];
//! [`FakeBroker`] adds the usual accept loop. The request header is parsed
//! with the `kafka-protocol` crate, independent of ours.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};

/// Larger frames are refused: nothing a test sends comes near it.
const MAX_FRAME: usize = 64 << 20;

/// One request as the fake broker read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
    /// What follows the request header.
    pub body: Bytes,
}

impl Request {
    /// The api key as `kafka-protocol` names it (`None`: unknown to it).
    pub fn key(&self) -> Option<ApiKey> {
        ApiKey::try_from(self.api_key).ok()
    }
}

/// What to do with a request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A response body: the loop frames it behind the response header (the
    /// request's correlation id; tagged fields for flexible versions).
    Body(Vec<u8>),
    /// Bytes written exactly as given, then the next request is read: a
    /// hostile peer's garbage, or a frame built by hand with [`framed`].
    Raw(Vec<u8>),
    /// Bytes written exactly as given, then the connection is shut down.
    RawThenClose(Vec<u8>),
    /// No answer: the next request is read.
    Nothing,
    /// The connection is shut down without an answer.
    Close,
    /// A response body, as [`Reply::Body`]; from then on the connection
    /// answers nothing and reads only a trickle, `chunk` bytes every
    /// `every`, until the peer leaves: a peer too slow to take a big request.
    BodyThenTrickle {
        body: Vec<u8>,
        chunk: usize,
        every: Duration,
    },
}

/// A handler for one connection, boxed: for a fake that wraps another's
/// handler (a SASL front on a coordinator).
pub type Handler = Box<dyn FnMut(&Request) -> Reply + Send>;

/// A size prefix followed by `bytes`.
pub fn framed(bytes: &[u8]) -> Vec<u8> {
    let mut out = i32::try_from(bytes.len())
        .expect("a test frame fits an i32")
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(bytes);
    out
}

/// Reads one size-prefixed frame and returns it without its prefix.
pub fn read_frame(stream: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut size = [0u8; 4];
    stream.read_exact(&mut size)?;
    let size = usize::try_from(i32::from_be_bytes(size))
        .ok()
        .filter(|&n| n <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad frame size"))?;
    let mut frame = vec![0u8; size];
    stream.read_exact(&mut frame)?;
    Ok(frame)
}

/// Parses a request frame (without its size prefix).
pub fn parse_request(frame: Vec<u8>) -> io::Result<Request> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    if frame.len() < 8 {
        return Err(invalid("short request header"));
    }
    let api_key = i16::from_be_bytes([frame[0], frame[1]]);
    let api_version = i16::from_be_bytes([frame[2], frame[3]]);
    // Keys kafka-protocol does not know get the classic v1 header.
    let header_version = ApiKey::try_from(api_key)
        .map(|k| k.request_header_version(api_version))
        .unwrap_or(1);
    let mut body = Bytes::from(frame);
    let header = RequestHeader::decode(&mut body, header_version)
        .map_err(|e| invalid(&format!("request header: {e}")))?;
    Ok(Request {
        api_key,
        api_version,
        correlation_id: header.correlation_id,
        client_id: header.client_id.map(|s| s.to_string()),
        body,
    })
}

/// The framed response to `request`: size, response header, `body`.
pub fn response_frame(request: &Request, body: &[u8]) -> Vec<u8> {
    let header_version = request
        .key()
        .map(|k| k.response_header_version(request.api_version))
        .unwrap_or(0);
    let mut out = BytesMut::new();
    ResponseHeader::default()
        .with_correlation_id(request.correlation_id)
        .encode(&mut out, header_version)
        .expect("a response header encodes");
    out.extend_from_slice(body);
    framed(&out)
}

/// An ApiVersions v0 response body: `error_code`, then each `(api key,
/// min version, max version)` of `apis`.
pub fn api_versions_v0(error_code: i16, apis: &[(i16, i16, i16)]) -> Vec<u8> {
    let mut body = error_code.to_be_bytes().to_vec();
    let count = i32::try_from(apis.len()).expect("a test's api list fits an i32");
    body.extend_from_slice(&count.to_be_bytes());
    for &(key, min, max) in apis {
        for v in [key, min, max] {
            body.extend_from_slice(&v.to_be_bytes());
        }
    }
    body
}

/// An old broker's answer to the ApiVersions `request`: UNSUPPORTED_VERSION
/// (with a v0 body, as brokers do) above v0, so the client retries at v0,
/// which gets `apis`.
pub fn old_api_versions(request: &Request, apis: &[(i16, i16, i16)]) -> Vec<u8> {
    let error_code = if request.api_version > 0 { 35 } else { 0 };
    api_versions_v0(error_code, apis)
}

/// Encodes a `kafka-protocol` response body at `version`.
pub fn encode(response: &impl Encodable, version: i16) -> Vec<u8> {
    let mut out = BytesMut::new();
    response
        .encode(&mut out, version)
        .expect("the fake's response encodes");
    out.to_vec()
}

/// Serves one connection until the peer leaves, the handler says
/// [`Reply::Close`], or a write fails ([`Reply::BodyThenTrickle`]: until
/// the peer leaves).
pub fn serve_connection(mut stream: TcpStream, mut handler: impl FnMut(&Request) -> Reply) {
    while let Ok(frame) = read_frame(&mut stream) {
        let Ok(request) = parse_request(frame) else {
            return;
        };
        let written = match handler(&request) {
            Reply::Body(body) => stream.write_all(&response_frame(&request, &body)),
            Reply::Raw(bytes) => stream.write_all(&bytes),
            Reply::RawThenClose(bytes) => {
                let _ = stream.write_all(&bytes);
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            Reply::Nothing => Ok(()),
            Reply::Close => {
                // Shut down, not just dropped: the owner may hold a clone.
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            Reply::BodyThenTrickle { body, chunk, every } => {
                if stream.write_all(&response_frame(&request, &body)).is_ok() {
                    read_a_trickle(&mut stream, chunk, every);
                }
                return;
            }
        };
        if written.is_err() {
            return;
        }
    }
}

/// Reads `chunk` bytes at a time, one read every `every`, until the peer
/// leaves.
fn read_a_trickle(stream: &mut TcpStream, chunk: usize, every: Duration) {
    let mut buf = vec![0u8; chunk];
    while let Ok(1..) = stream.read(&mut buf) {
        thread::sleep(every);
    }
}

/// A fake broker on a free loopback port; its threads live as long as the
/// test process (they end with their connections).
pub struct FakeBroker {
    listener: TcpListener,
    addr: SocketAddr,
}

impl FakeBroker {
    /// Binds a free loopback port; connections queue until [`serve`](Self::serve).
    pub fn bind() -> FakeBroker {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port binds");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        FakeBroker { listener, addr }
    }

    /// Binds and serves: `per_connection` makes each accepted connection's
    /// handler (so a handler may keep state for its connection).
    pub fn start<F, H>(per_connection: F) -> FakeBroker
    where
        F: Fn() -> H + Send + 'static,
        H: FnMut(&Request) -> Reply + Send + 'static,
    {
        let broker = FakeBroker::bind();
        broker.serve(per_connection);
        broker
    }

    /// Serves every connection accepted from now on, each on its own thread
    /// with a handler made by `per_connection`.
    pub fn serve<F, H>(&self, per_connection: F)
    where
        F: Fn() -> H + Send + 'static,
        H: FnMut(&Request) -> Reply + Send + 'static,
    {
        let listener = self.listener.try_clone().expect("the listener clones");
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let handler = per_connection();
                thread::spawn(move || serve_connection(stream, handler));
            }
        });
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `127.0.0.1:port`, for bootstrapping.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }
}

/// A loopback port free a moment ago (for a process that binds it itself).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a loopback port binds")
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// A loopback address nothing listens on.
pub fn dead_address() -> String {
    format!("127.0.0.1:{}", free_port())
}
