//! The fake SASL server: ApiVersions, SaslHandshake and SaslAuthenticate
//! v0/v1 for PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, as a handler on the
//! shared frame loop ([`super::fake_broker`]). Its SCRAM side uses the
//! RustCrypto crates directly, independently of the client's own code.
//! Requests past SASL go to an inner handler (a fake coordinator behind a
//! SASL front), and like a Kafka broker (KIP-368) it may close a connection
//! whose session has expired when such a request arrives on it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::fake_broker::{old_api_versions, FakeBroker, Handler, Reply, Request};

const SALT: &[u8] = b"kafka-sync-test-salt";
const ITERATIONS: u32 = 4096;

/// How the fake SASL server behaves, and what it counts.
#[derive(Clone)]
pub struct FakeSasl {
    pub mechanisms: Vec<&'static str>,
    pub user: &'static str,
    pub password: &'static str,
    /// Sends a server signature computed from another password.
    pub forge_signature: bool,
    pub session_lifetime_ms: i64,
    /// Highest SaslHandshake version advertised.
    pub handshake_max: i16,
    /// Advertised in ApiVersions besides the SASL apis: what the inner
    /// handler serves, as `(api key, min version, max version)`.
    pub apis: Vec<(i16, i16, i16)>,
    /// Delay before answering an ApiVersions request made after SASL.
    pub slow_answers_after_auth: Duration,
    /// KIP-368: a request other than ApiVersions or SASL on a connection
    /// that has no session, or whose session has ended, closes it.
    pub close_expired_sessions: bool,
    /// Connections accepted.
    pub connections: Arc<AtomicUsize>,
    /// Successful authentications.
    pub logins: Arc<AtomicUsize>,
    /// Requests that arrived on an expired session (connection closed).
    pub expired: Arc<AtomicUsize>,
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
            apis: Vec::new(),
            slow_answers_after_auth: Duration::ZERO,
            close_expired_sessions: false,
            connections: Arc::new(AtomicUsize::new(0)),
            logins: Arc::new(AtomicUsize::new(0)),
            expired: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl FakeSasl {
    /// Serves SASL alone on a fresh loopback port; returns its address.
    pub fn start(self) -> String {
        FakeBroker::start(move || sasl_server(self.clone(), None)).bootstrap()
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as i16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
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

/// One connection's handler: ApiVersions, SaslHandshake and
/// SaslAuthenticate v0/v1, as `fake` says; any other request goes to
/// `inner` (none: the fake panics, a request it does not expect).
pub fn sasl_server(fake: FakeSasl, mut inner: Option<Handler>) -> impl FnMut(&Request) -> Reply {
    fake.connections.fetch_add(1, Ordering::SeqCst);
    let mut mechanism = String::new();
    let mut client_first_bare = String::new();
    let mut server_first = String::new();
    let mut authenticating = false;
    // `None`: no session yet; `Some(None)`: one that does not end.
    let mut session: Option<Option<Instant>> = None;
    let mut apis = vec![(18, 0, 0), (17, 0, fake.handshake_max), (36, 0, 1)];
    apis.extend_from_slice(&fake.apis);
    move |request| {
        if request.api_key == 36 {
            authenticating = true;
        }
        if request.api_key == 18 && authenticating {
            std::thread::sleep(fake.slow_answers_after_auth);
        }
        let mut logged_in = || {
            fake.logins.fetch_add(1, Ordering::SeqCst);
            let lifetime = u64::try_from(fake.session_lifetime_ms).unwrap_or(0);
            session =
                Some((lifetime > 0).then(|| Instant::now() + Duration::from_millis(lifetime)));
        };
        let body = match request.api_key {
            18 => old_api_versions(request, &apis),
            17 => {
                let len = i16::from_be_bytes([request.body[0], request.body[1]]) as usize;
                mechanism = String::from_utf8(request.body[2..2 + len].to_vec()).unwrap();
                let enabled = fake.mechanisms.contains(&mechanism.as_str());
                let mut body = (if enabled { 0i16 } else { 33 }).to_be_bytes().to_vec();
                body.extend_from_slice(&(fake.mechanisms.len() as i32).to_be_bytes());
                for m in &fake.mechanisms {
                    string(&mut body, m);
                }
                body
            }
            36 if mechanism == "PLAIN" => {
                let token = auth_bytes(request);
                let expected = format!("\0{}\0{}", fake.user, fake.password);
                if token == expected.as_bytes() {
                    logged_in();
                    authenticate_v1(0, None, b"", fake.session_lifetime_ms)
                } else {
                    authenticate_v1(58, Some("Invalid username or password"), b"", 0)
                }
            }
            36 if server_first.is_empty() => {
                let token = String::from_utf8(auth_bytes(request)).unwrap();
                client_first_bare = token.strip_prefix("n,,").unwrap().to_owned();
                let client_nonce = client_first_bare.split(",r=").nth(1).unwrap();
                server_first = format!(
                    "r={client_nonce}fake-server-nonce,s={},i={ITERATIONS}",
                    BASE64.encode(SALT)
                );
                authenticate_v1(0, None, server_first.as_bytes(), 0)
            }
            36 => {
                let token = String::from_utf8(auth_bytes(request)).unwrap();
                let (without_proof, proof) = token.rsplit_once(",p=").unwrap();
                let proof = BASE64.decode(proof).unwrap();
                let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
                let user_ok = client_first_bare.starts_with(&format!("n={},", fake.user));
                let (stored_key, server_key) = scram_keys(&mechanism, fake.password);
                let signature = hmac_for(&mechanism, &stored_key, auth_message.as_bytes());
                let client_key: Vec<u8> =
                    proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
                if user_ok && hash_for(&mechanism, &client_key) == stored_key {
                    logged_in();
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
                }
            }
            other => {
                let inner = inner
                    .as_mut()
                    .unwrap_or_else(|| panic!("the fake SASL broker got api {other}"));
                let expired = match session {
                    None => true,
                    Some(end) => end.is_some_and(|end| Instant::now() >= end),
                };
                if fake.close_expired_sessions && expired {
                    // KIP-368: the broker closes a connection whose session ended.
                    fake.expired.fetch_add(1, Ordering::SeqCst);
                    return Reply::Close;
                }
                return inner(request);
            }
        };
        Reply::Body(body)
    }
}
