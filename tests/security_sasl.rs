//! SASL authentication of connections: PLAIN and SCRAM against a minimal
//! SASL broker written here (its SCRAM side uses the RustCrypto crates
//! directly, independently of the client's own code), and against tansu's
//! `--authentication` mode.
//!
//! The provisioned tansu 0.6 keeps no SCRAM users (its memory storage
//! ignores AlterUserScramCredentials), so the live test here covers what a
//! user-less broker can show (a rejected SCRAM login, through the whole
//! client); successful live logins against a tansu with SQLite storage are in
//! `tests/admin_scram.rs`. PLAIN (tansu drops the connection when offered
//! PLAIN) and unsupported mechanisms are shown against the fake broker.
#![cfg(feature = "testkit")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use kafka_sync::net::{Backoff, Connection, ConnectionConfig, ConnectionPool};
use kafka_sync::protocol::api::ApiVersionsRequest;
use kafka_sync::{Error, KafkaClient, Sasl};

const SALT: &[u8] = b"kafka-sync-test-salt";
const ITERATIONS: u32 = 4096;

/// How the fake broker behaves.
#[derive(Clone)]
struct FakeSasl {
    mechanisms: Vec<&'static str>,
    user: &'static str,
    password: &'static str,
    /// Sends a server signature computed from another password.
    forge_signature: bool,
    session_lifetime_ms: i64,
    /// Highest SaslHandshake version advertised.
    handshake_max: i16,
    connections: Arc<AtomicUsize>,
}

impl Default for FakeSasl {
    fn default() -> Self {
        FakeSasl {
            mechanisms: vec!["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
            user: "alice",
            password: "alice-secret",
            forge_signature: false,
            session_lifetime_ms: 0,
            handshake_max: 1,
            connections: Arc::new(AtomicUsize::new(0)),
        }
    }
}

struct Request {
    api_key: i16,
    version: i16,
    correlation_id: i32,
    /// The body after the v1 request header.
    body: Vec<u8>,
}

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).ok()?;
    let mut frame = vec![0u8; i32::from_be_bytes(size) as usize];
    stream.read_exact(&mut frame).ok()?;
    let api_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let client_id_len = i16::from_be_bytes([frame[8], frame[9]]).max(0) as usize;
    let body = frame[10 + client_id_len..].to_vec();
    Some(Request {
        api_key,
        version,
        correlation_id,
        body,
    })
}

fn respond(stream: &mut TcpStream, correlation_id: i32, body: &[u8]) {
    let mut out = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&correlation_id.to_be_bytes());
    out.extend_from_slice(body);
    let _ = stream.write_all(&out);
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as i16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn api_versions_v0(error_code: i16, handshake_max: i16) -> Vec<u8> {
    let mut body = error_code.to_be_bytes().to_vec();
    let apis: [(i16, i16, i16); 3] = [(18, 0, 0), (17, 0, handshake_max), (36, 0, 1)];
    body.extend_from_slice(&(apis.len() as i32).to_be_bytes());
    for (key, min, max) in apis {
        for v in [key, min, max] {
            body.extend_from_slice(&v.to_be_bytes());
        }
    }
    body
}

fn authenticate_v1(error_code: i16, message: Option<&str>, token: &[u8], lifetime: i64) -> Vec<u8> {
    let mut body = error_code.to_be_bytes().to_vec();
    match message {
        Some(m) => string(&mut body, m),
        None => body.extend_from_slice(&(-1i16).to_be_bytes()),
    }
    body.extend_from_slice(&(token.len() as i32).to_be_bytes());
    body.extend_from_slice(token);
    body.extend_from_slice(&lifetime.to_be_bytes());
    body
}

fn auth_bytes(request: &Request) -> Vec<u8> {
    let len = i32::from_be_bytes(request.body[..4].try_into().unwrap()) as usize;
    request.body[4..4 + len].to_vec()
}

/// The server side of SCRAM, RFC 5802 section 3, written against the
/// RustCrypto crates directly.
fn scram_keys(mechanism: &str, password: &str) -> (Vec<u8>, Vec<u8>) {
    let salted = match mechanism {
        "SCRAM-SHA-256" => {
            pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password.as_bytes(), SALT, ITERATIONS).to_vec()
        }
        _ => {
            pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(password.as_bytes(), SALT, ITERATIONS).to_vec()
        }
    };
    let client_key = hmac_for(mechanism, &salted, b"Client Key");
    (
        hash_for(mechanism, &client_key),
        hmac_for(mechanism, &salted, b"Server Key"),
    )
}

fn hmac_for(mechanism: &str, key: &[u8], data: &[u8]) -> Vec<u8> {
    match mechanism {
        "SCRAM-SHA-256" => {
            let mut m = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        _ => {
            let mut m = <Hmac<Sha512> as hmac::digest::KeyInit>::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
    }
}

fn hash_for(mechanism: &str, data: &[u8]) -> Vec<u8> {
    match mechanism {
        "SCRAM-SHA-256" => Sha256::digest(data).to_vec(),
        _ => Sha512::digest(data).to_vec(),
    }
}

fn serve(mut stream: TcpStream, fake: FakeSasl) {
    fake.connections.fetch_add(1, Ordering::SeqCst);
    let mut mechanism = String::new();
    let mut client_first_bare = String::new();
    let mut server_first = String::new();
    while let Some(request) = read_request(&mut stream) {
        let id = request.correlation_id;
        match request.api_key {
            18 if request.version > 0 => {
                respond(&mut stream, id, &api_versions_v0(35, fake.handshake_max))
            }
            18 => respond(&mut stream, id, &api_versions_v0(0, fake.handshake_max)),
            17 => {
                let len = i16::from_be_bytes([request.body[0], request.body[1]]) as usize;
                mechanism = String::from_utf8(request.body[2..2 + len].to_vec()).unwrap();
                let enabled = fake.mechanisms.contains(&mechanism.as_str());
                let mut body = (if enabled { 0i16 } else { 33 }).to_be_bytes().to_vec();
                body.extend_from_slice(&(fake.mechanisms.len() as i32).to_be_bytes());
                for m in &fake.mechanisms {
                    string(&mut body, m);
                }
                respond(&mut stream, id, &body);
            }
            36 if mechanism == "PLAIN" => {
                let token = auth_bytes(&request);
                let expected = format!("\0{}\0{}", fake.user, fake.password);
                let body = if token == expected.as_bytes() {
                    authenticate_v1(0, None, b"", fake.session_lifetime_ms)
                } else {
                    authenticate_v1(58, Some("Invalid username or password"), b"", 0)
                };
                respond(&mut stream, id, &body);
            }
            36 if server_first.is_empty() => {
                let token = String::from_utf8(auth_bytes(&request)).unwrap();
                client_first_bare = token.strip_prefix("n,,").unwrap().to_owned();
                let client_nonce = client_first_bare.split(",r=").nth(1).unwrap();
                server_first = format!(
                    "r={client_nonce}fake-server-nonce,s={},i={ITERATIONS}",
                    BASE64.encode(SALT)
                );
                let body = authenticate_v1(0, None, server_first.as_bytes(), 0);
                respond(&mut stream, id, &body);
            }
            36 => {
                let token = String::from_utf8(auth_bytes(&request)).unwrap();
                let (without_proof, proof) = token.rsplit_once(",p=").unwrap();
                let proof = BASE64.decode(proof).unwrap();
                let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
                let user_ok = client_first_bare.starts_with(&format!("n={},", fake.user));
                let (stored_key, server_key) = scram_keys(&mechanism, fake.password);
                let signature = hmac_for(&mechanism, &stored_key, auth_message.as_bytes());
                let client_key: Vec<u8> =
                    proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
                let body = if user_ok && hash_for(&mechanism, &client_key) == stored_key {
                    let server_key = if fake.forge_signature {
                        scram_keys(&mechanism, "another-password").1
                    } else {
                        server_key
                    };
                    let server_signature =
                        hmac_for(&mechanism, &server_key, auth_message.as_bytes());
                    let server_final = format!("v={}", BASE64.encode(server_signature));
                    authenticate_v1(0, None, server_final.as_bytes(), fake.session_lifetime_ms)
                } else {
                    authenticate_v1(58, Some("Authentication failed during authentication due to invalid credentials with SASL mechanism"), b"", 0)
                };
                respond(&mut stream, id, &body);
            }
            other => panic!("the fake SASL broker got api {other}"),
        }
    }
}

fn fake_broker(fake: FakeSasl) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let fake = fake.clone();
            thread::spawn(move || serve(stream, fake));
        }
    });
    addr
}

fn config(sasl: Sasl) -> ConnectionConfig {
    ConnectionConfig {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(5),
        sasl: Some(sasl),
        ..ConnectionConfig::default()
    }
}

fn connect(fake: FakeSasl, sasl: Sasl) -> kafka_sync::Result<Connection> {
    Connection::connect(&fake_broker(fake), &config(sasl))
}

fn sasl_error(result: kafka_sync::Result<Connection>) -> String {
    match result {
        Err(e @ Error::Sasl(_)) => {
            assert!(!e.is_retriable(), "{e} must not be retried");
            e.to_string()
        }
        Err(other) => panic!("expected a SASL error, got {other:?}"),
        Ok(_) => panic!("expected a SASL error, got a connection"),
    }
}

#[test]
fn scram_sha_256_login_succeeds_and_the_connection_serves_requests() {
    let conn = connect(
        FakeSasl::default(),
        Sasl::scram_sha_256("alice", "alice-secret"),
    )
    .unwrap();
    conn.request(&ApiVersionsRequest::default()).unwrap();
    assert!(conn.reauthenticate_at().is_none());
}

#[test]
fn scram_sha_512_login_succeeds() {
    let conn = connect(
        FakeSasl::default(),
        Sasl::scram_sha_512("alice", "alice-secret"),
    )
    .unwrap();
    conn.request(&ApiVersionsRequest::default()).unwrap();
}

#[test]
fn plain_login_succeeds() {
    let conn = connect(FakeSasl::default(), Sasl::plain("alice", "alice-secret")).unwrap();
    conn.request(&ApiVersionsRequest::default()).unwrap();
}

#[test]
fn a_wrong_scram_password_is_a_sasl_error_naming_the_user() {
    let text = sasl_error(connect(
        FakeSasl::default(),
        Sasl::scram_sha_512("alice", "wrong"),
    ));
    assert!(
        text.contains("rejected SCRAM-SHA-512 credentials for user `alice`"),
        "{text}"
    );
    assert!(!text.contains("wrong"), "the password leaked: {text}");
}

#[test]
fn a_wrong_plain_password_is_a_sasl_error() {
    let text = sasl_error(connect(FakeSasl::default(), Sasl::plain("alice", "nope")));
    assert!(text.contains("rejected PLAIN credentials"), "{text}");
}

#[test]
fn a_forged_server_signature_is_rejected() {
    let fake = FakeSasl {
        forge_signature: true,
        ..FakeSasl::default()
    };
    let text = sasl_error(connect(fake, Sasl::scram_sha_256("alice", "alice-secret")));
    assert!(text.contains("signature is wrong"), "{text}");
}

#[test]
fn an_unsupported_mechanism_names_the_enabled_ones() {
    let fake = FakeSasl {
        mechanisms: vec!["SCRAM-SHA-512"],
        ..FakeSasl::default()
    };
    let text = sasl_error(connect(fake, Sasl::plain("alice", "alice-secret")));
    assert!(
        text.contains("does not enable PLAIN; it enables [SCRAM-SHA-512]"),
        "{text}"
    );
}

#[test]
fn a_broker_with_only_the_legacy_handshake_is_refused_clearly() {
    let fake = FakeSasl {
        handshake_max: 0,
        ..FakeSasl::default()
    };
    let text = sasl_error(connect(fake, Sasl::plain("alice", "alice-secret")));
    assert!(text.contains("SaslHandshake v1"), "{text}");
}

#[test]
fn a_session_lifetime_schedules_reauthentication_before_it_ends() {
    let fake = FakeSasl {
        session_lifetime_ms: 10_000,
        ..FakeSasl::default()
    };
    let before = Instant::now();
    let conn = connect(fake, Sasl::scram_sha_512("alice", "alice-secret")).unwrap();
    let at = conn.reauthenticate_at().expect("a lifetime was announced");
    let delay = at - before;
    assert!(
        delay >= Duration::from_millis(8_400) && delay <= Duration::from_millis(9_600),
        "{delay:?}"
    );
    assert!(!conn.session_expiring());
}

#[test]
fn the_pool_opens_a_fresh_authenticated_connection_when_a_session_expires() {
    let fake = FakeSasl {
        session_lifetime_ms: 300,
        ..FakeSasl::default()
    };
    let connections = Arc::clone(&fake.connections);
    let addr = fake_broker(fake);
    let pool = ConnectionPool::new(
        config(Sasl::scram_sha_256("alice", "alice-secret")),
        Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(100),
        },
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let first = pool.get(&addr, deadline).unwrap();
    assert!(Arc::ptr_eq(&first, &pool.get(&addr, deadline).unwrap()));
    thread::sleep(Duration::from_millis(300));
    assert!(first.session_expiring());
    let second = pool.get(&addr, deadline).unwrap();
    assert!(!Arc::ptr_eq(&first, &second));
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    // The old connection still answers requests already made through it.
    first.request(&ApiVersionsRequest::default()).unwrap();
    second.request(&ApiVersionsRequest::default()).unwrap();
}

#[test]
fn the_pool_reports_a_sasl_failure_at_once_without_reconnecting() {
    let fake = FakeSasl::default();
    let connections = Arc::clone(&fake.connections);
    let addr = fake_broker(fake);
    let pool = ConnectionPool::new(
        config(Sasl::scram_sha_256("alice", "wrong")),
        Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_secs(1),
        },
    );
    let started = Instant::now();
    for _ in 0..5 {
        let e = pool
            .get(&addr, Instant::now() + Duration::from_secs(30))
            .unwrap_err();
        assert!(matches!(e, Error::Sasl(_)), "{e:?}");
    }
    assert!(started.elapsed() < Duration::from_millis(800));
    assert_eq!(connections.load(Ordering::SeqCst), 1, "no retry storm");
}

#[cfg(feature = "testkit")]
mod live {
    use super::*;
    use kafka_sync::testkit::Broker;

    fn authenticating_broker() -> Broker {
        Broker::builder()
            .authentication(true)
            .start()
            .expect("tansu starts with --authentication")
    }

    #[test]
    fn tansu_rejects_an_unknown_scram_user_with_a_clear_error_at_once() {
        let broker = authenticating_broker();
        if broker.is_external() {
            return;
        }
        let started = Instant::now();
        let e = KafkaClient::builder()
            .hosts(broker.bootstrap())
            .sasl(Sasl::scram_sha_512("nobody", "nothing"))
            .build()
            .unwrap_err();
        assert!(matches!(e, Error::Sasl(_)), "{e:?}");
        assert!(!e.is_retriable());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        let text = e.to_string();
        assert!(
            text.contains("`nobody`") && !text.contains("nothing"),
            "{text}"
        );
    }
}

#[test]
fn connection_settings_never_show_the_password_in_debug_output() {
    let config = config(Sasl::scram_sha_512("alice", "correct-horse-battery"));
    let shown = format!("{config:?} {config:#?}");
    assert!(!shown.contains("correct-horse"), "{shown}");
    assert!(
        shown.contains("alice") && shown.contains("SCRAM-SHA-512"),
        "{shown}"
    );
}
