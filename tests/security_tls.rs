//! TLS end to end: a tansu broker behind a TLS terminator, with a CA and
//! certificates made at test time.
//!
//! The terminator (`security_tls/tls_proxy.rs`) plays exactly the role
//! stunnel would: it accepts TLS on a loopback port, optionally requires a
//! client certificate signed by the test CA, and forwards the plaintext to
//! the real broker's plaintext port. The broker advertises the proxy's port
//! (`--advertised-listener-url`), so every connection the client opens
//! after bootstrap goes through TLS too. Certificates and the proxy use the
//! `openssl` crate (already built for native-tls on Linux), so the tests
//! need no `stunnel4` or `openssl` command.
#![cfg(feature = "testkit")]
#![cfg(all(feature = "tls", feature = "testkit"))]

mod support;
#[path = "security_tls/tls_proxy.rs"]
mod tls_proxy;

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use kafka_sync::net::{Connection, ConnectionConfig, TlsConnector};
use kafka_sync::protocol::api::ApiVersionsRequest;
use kafka_sync::testkit::{tansu_binary, unique_name};
use kafka_sync::{Error, KafkaClient, TlsConfig};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509Name, X509};
use support::fake_broker::free_port;
use tls_proxy::{ProxyConfig, TlsProxy};

const STARTUP: Duration = Duration::from_secs(15);

/// Certificates for one test run.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// A CA's certificate and key, to sign others with.
struct Issuer {
    cert: X509,
    key: PKey<Private>,
}

/// What a leaf certificate is for (its extendedKeyUsage).
enum Role {
    Server,
    Client,
}

/// A new EC (P-256) key, written to `{name}.key` as PKCS#8 PEM
/// (`-----BEGIN PRIVATE KEY-----`, what the client expects).
fn key(dir: &Path, name: &str) -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    fs::write(
        dir.join(format!("{name}.key")),
        key.private_key_to_pem_pkcs8().unwrap(),
    )
    .unwrap();
    key
}

/// An X.509 v3 certificate for `CN=name` with `key`, a random serial, valid
/// from an hour ago (clock skew) for two days; not yet signed.
fn certificate(name: &str, key: &PKey<Private>) -> X509Builder {
    let mut serial = BigNum::new().unwrap();
    serial.rand(128, MsbOption::MAYBE_ZERO, false).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut cert = X509Builder::new().unwrap();
    cert.set_version(2).unwrap();
    cert.set_serial_number(&Asn1Integer::from_bn(&serial).unwrap())
        .unwrap();
    cert.set_subject_name(&common_name(name)).unwrap();
    cert.set_pubkey(key).unwrap();
    let not_before = Asn1Time::from_unix((now - 3600).try_into().unwrap()).unwrap();
    cert.set_not_before(&not_before).unwrap();
    cert.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    cert
}

/// A self-signed CA, `{name}.pem` and `{name}.key`.
fn ca(dir: &Path, name: &str) -> Issuer {
    let key = key(dir, name);
    let mut cert = certificate(name, &key);
    cert.set_issuer_name(&common_name(name)).unwrap();
    let subject_key_id = SubjectKeyIdentifier::new()
        .build(&cert.x509v3_context(None, None))
        .unwrap();
    cert.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    cert.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .unwrap(),
    )
    .unwrap();
    cert.append_extension(subject_key_id).unwrap();
    cert.sign(&key, MessageDigest::sha256()).unwrap();
    let cert = cert.build();
    fs::write(dir.join(format!("{name}.pem")), cert.to_pem().unwrap()).unwrap();
    Issuer { cert, key }
}

fn common_name(name: &str) -> X509Name {
    let mut cn = X509Name::builder().unwrap();
    cn.append_entry_by_nid(Nid::COMMONNAME, name).unwrap();
    cn.build()
}

/// A certificate for `name` signed by `ca`, valid for the `dns` names and
/// `ips` (subjectAltName), for `role`: `{name}.pem` and `{name}.key`.
fn leaf(dir: &Path, name: &str, ca: &Issuer, dns: &[&str], ips: &[&str], role: Role) {
    let key = key(dir, name);
    let mut cert = certificate(name, &key);
    cert.set_issuer_name(ca.cert.subject_name()).unwrap();
    let mut san = SubjectAlternativeName::new();
    for name in dns {
        san.dns(name);
    }
    for ip in ips {
        san.ip(ip);
    }
    let mut usage = ExtendedKeyUsage::new();
    match role {
        Role::Server => usage.server_auth(),
        Role::Client => usage.client_auth(),
    };
    let context = cert.x509v3_context(Some(&ca.cert), None);
    let san = san.build(&context).unwrap();
    let subject_key_id = SubjectKeyIdentifier::new().build(&context).unwrap();
    let authority_key_id = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&context)
        .unwrap();
    cert.append_extension(BasicConstraints::new().build().unwrap())
        .unwrap();
    cert.append_extension(san).unwrap();
    cert.append_extension(usage.build().unwrap()).unwrap();
    cert.append_extension(subject_key_id).unwrap();
    cert.append_extension(authority_key_id).unwrap();
    cert.sign(&ca.key, MessageDigest::sha256()).unwrap();
    fs::write(
        dir.join(format!("{name}.pem")),
        cert.build().to_pem().unwrap(),
    )
    .unwrap();
}

/// `{name}-sec1.key`: the key of `{name}.key` in the traditional SEC1 form
/// (`-----BEGIN EC PRIVATE KEY-----`) rather than PKCS#8.
fn sec1_copy(dir: &Path, name: &str) -> PathBuf {
    let pkcs8 = fs::read(dir.join(format!("{name}.key"))).unwrap();
    let key = PKey::private_key_from_pem(&pkcs8).unwrap();
    let sec1 = key.ec_key().unwrap().private_key_to_pem().unwrap();
    let path = dir.join(format!("{name}-sec1.key"));
    fs::write(&path, sec1).unwrap();
    path
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        remove_stale_pki_dirs();
        let dir = std::env::temp_dir().join(unique_name("kafka-sync-pki"));
        fs::create_dir_all(&dir).unwrap();
        let test_ca = ca(&dir, "ca");
        let other_ca = ca(&dir, "other-ca");
        let (localhost, loopback) = (&["localhost"], &["127.0.0.1"]);
        leaf(&dir, "broker", &test_ca, localhost, loopback, Role::Server);
        leaf(&dir, "client", &test_ca, &["client"], &[], Role::Client);
        leaf(&dir, "intruder", &other_ca, &["client"], &[], Role::Client);
        sec1_copy(&dir, "client");
        Pki { dir }
    })
}

/// The PKI of a test run stays for its whole process (tests share it); the
/// next run removes those older than an hour.
fn remove_stale_pki_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(3600));
        if stale
            && entry
                .file_name()
                .to_string_lossy()
                .starts_with("kafka-sync-pki-")
        {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + STARTUP;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} never opened");
        thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// tansu on a plaintext port, advertising the port of a TLS proxy in front
/// of it (see the module docs).
struct TlsBroker {
    // Dropped first: no new TLS sessions once tansu goes.
    proxy: TlsProxy,
    _tansu: Killed,
    plain_port: u16,
}

impl TlsBroker {
    /// `require_client_cert`: the proxy demands a client certificate signed
    /// by the test CA (as a broker's `ssl.client.auth=required`).
    fn start(require_client_cert: bool) -> TlsBroker {
        Self::start_with(require_client_cert, false)
    }

    /// `authentication`: tansu requires SASL/SCRAM (`--authentication`).
    fn start_with(require_client_cert: bool, authentication: bool) -> TlsBroker {
        let pki = pki();
        let plain_port = free_port();
        let ca = pki.path("ca.pem");
        let proxy = TlsProxy::start(
            &ProxyConfig {
                cert: &pki.path("broker.pem"),
                key: &pki.path("broker.key"),
                require_client_cert_from: require_client_cert.then_some(ca.as_path()),
            },
            SocketAddr::from(([127, 0, 0, 1], plain_port)),
        );
        let mut tansu = Command::new(tansu_binary().unwrap());
        tansu.args([
            "broker",
            "--listener-url",
            &format!("tcp://127.0.0.1:{plain_port}"),
            "--advertised-listener-url",
            &format!("tcp://localhost:{}", proxy.port()),
        ]);
        if authentication {
            tansu.arg("--authentication");
        }
        let tansu = tansu
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let tansu = Killed(tansu);
        wait_for_port(plain_port);
        TlsBroker {
            proxy,
            _tansu: tansu,
            plain_port,
        }
    }

    fn bootstrap(&self) -> String {
        format!("localhost:{}", self.proxy.port())
    }
}

fn trusting(ca: &str) -> TlsConfig {
    TlsConfig::default().ca_file(pki().path(&format!("{ca}.pem")))
}

fn build(broker: &TlsBroker, tls: TlsConfig) -> kafka_sync::Result<KafkaClient> {
    KafkaClient::builder()
        .hosts(broker.bootstrap())
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(5))
        .tls(tls)
        .build()
}

/// Asserts a prompt, non-retriable TLS error and returns its text.
fn tls_error(started: Instant, result: kafka_sync::Result<KafkaClient>) -> String {
    let e = result.expect_err("the TLS setup must be refused");
    assert!(matches!(e, Error::Tls(_)), "expected Error::Tls, got {e:?}");
    assert!(!e.is_retriable());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    e.to_string()
}

#[test]
fn the_whole_client_works_over_tls() {
    let broker = TlsBroker::start(false);
    let client = build(&broker, trusting("ca")).unwrap();
    let topic = unique_name("tls");
    client.create_topic(&topic, 2, 1).unwrap();
    let offsets = client
        .topic(&topic)
        .unwrap()
        .latest_available_offsets()
        .unwrap();
    assert_eq!(offsets.len(), 2);
    assert!(client
        .brokers()
        .iter()
        .all(|b| b.addr() == broker.bootstrap()));
}

#[test]
fn a_client_trusting_another_ca_fails_cleanly() {
    let broker = TlsBroker::start(false);
    let started = Instant::now();
    let text = tls_error(started, build(&broker, trusting("other-ca")));
    assert!(text.contains("not signed by a trusted CA"), "{text}");
}

#[test]
fn a_hostname_mismatch_fails_cleanly() {
    let broker = TlsBroker::start(false);
    let started = Instant::now();
    let tls = trusting("ca").server_name("kafka.elsewhere.example");
    let text = tls_error(started, build(&broker, tls));
    assert!(text.contains("hostname mismatch"), "{text}");
    assert!(text.contains("kafka.elsewhere.example"), "{text}");
}

#[test]
fn danger_accept_invalid_certs_connects_to_an_untrusted_broker() {
    let broker = TlsBroker::start(false);
    let tls = trusting("other-ca").danger_accept_invalid_certs(true);
    build(&broker, tls).unwrap();
}

#[test]
fn danger_accept_invalid_hostnames_still_checks_the_ca() {
    let broker = TlsBroker::start(false);
    let ok = trusting("ca")
        .server_name("kafka.elsewhere.example")
        .danger_accept_invalid_hostnames(true);
    build(&broker, ok).unwrap();
    let untrusted = trusting("other-ca").danger_accept_invalid_hostnames(true);
    tls_error(Instant::now(), build(&broker, untrusted));
}

#[test]
fn mutual_tls_works_with_a_client_certificate() {
    let broker = TlsBroker::start(true);
    let tls = trusting("ca").client_cert(pki().path("client.pem"), pki().path("client.key"));
    let client = build(&broker, tls).unwrap();
    client.refresh_metadata().unwrap();
}

#[test]
fn mutual_tls_without_a_client_certificate_fails_cleanly() {
    let broker = TlsBroker::start(true);
    let text = tls_error(Instant::now(), build(&broker, trusting("ca")));
    assert!(text.contains("client certificate"), "{text}");
}

#[test]
fn mutual_tls_with_a_certificate_from_another_ca_fails_cleanly() {
    let broker = TlsBroker::start(true);
    let tls = trusting("ca").client_cert(pki().path("intruder.pem"), pki().path("intruder.key"));
    let text = tls_error(Instant::now(), build(&broker, tls));
    assert!(text.contains("client certificate"), "{text}");
}

#[test]
fn a_key_that_is_not_pkcs8_is_a_clear_error() {
    let tls = trusting("ca").client_cert(pki().path("client.pem"), pki().path("client-sec1.key"));
    let e = TlsConnector::new(&tls).unwrap_err();
    assert!(e.to_string().contains("PKCS#8"), "{e}");
}

#[test]
fn a_missing_ca_file_is_reported_when_the_client_is_built() {
    let tls = TlsConfig::default().ca_file("/nonexistent/ca.pem");
    let e = KafkaClient::builder()
        .hosts("localhost:1")
        .tls(tls)
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
}

/// Round trips over TLS and plaintext to the same broker, one by one and
/// 100 pipelined: every answer arrives, to its own request, and says what
/// the plaintext one says. (What TLS costs per round trip is measured, not
/// asserted: docs/benchmarks.md.)
#[test]
fn tls_round_trips_answer_like_plaintext_ones_one_by_one_and_pipelined() {
    let broker = TlsBroker::start(false);
    let plain = ConnectionConfig::default();
    let tls = ConnectionConfig {
        tls: Some(TlsConnector::new(&trusting("ca")).unwrap()),
        ..ConnectionConfig::default()
    };
    let plain = Connection::connect(&format!("127.0.0.1:{}", broker.plain_port), &plain).unwrap();
    let tls = Connection::connect(&broker.bootstrap(), &tls).unwrap();
    let expected = plain.request(&ApiVersionsRequest::default()).unwrap();
    assert!(!expected.api_keys.is_empty());
    for conn in [&plain, &tls] {
        for _ in 0..200 {
            assert_eq!(
                conn.request(&ApiVersionsRequest::default()).unwrap(),
                expected
            );
        }
        let pending: Vec<_> = (0..100)
            .map(|_| conn.send(&ApiVersionsRequest::default()).unwrap())
            .collect();
        for p in pending {
            assert_eq!(p.wait().unwrap(), expected);
        }
    }
    assert!(!tls.is_closed());
}

/// The connection's reader thread must not hold the shared TLS session
/// while it waits for the network (see src/net/tls.rs): with every response
/// withheld, so that the reader sits waiting, several threads still send
/// small requests and a 1 MiB one through the same session; once the
/// responses flow, each reaches its own caller.
#[test]
fn a_reader_waiting_for_responses_does_not_hold_up_writers() {
    use kafka_sync::protocol::api::MetadataRequest;
    use std::sync::Arc;
    let broker = TlsBroker::start(false);
    let config = ConnectionConfig {
        tls: Some(TlsConnector::new(&trusting("ca")).unwrap()),
        request_timeout: Duration::from_secs(20),
        ..ConnectionConfig::default()
    };
    let conn = Arc::new(Connection::connect(&broker.bootstrap(), &config).unwrap());
    let names: Arc<Vec<String>> = Arc::new(
        (0..20_000)
            .map(|i| format!("no-such-topic-{i:06}-{}", "x".repeat(32)))
            .collect(),
    );
    let held = broker.proxy.hold_responses();
    let first = conn.send(&ApiVersionsRequest::default()).unwrap();
    // Every send below writes its whole frame before returning; a reader
    // holding the session while it waits would stall them (for good: the
    // responses it waits for are held back).
    let (sent_tx, sent_rx) = std::sync::mpsc::channel();
    for worker in 0..4 {
        let conn = Arc::clone(&conn);
        let names = Arc::clone(&names);
        let sent_tx = sent_tx.clone();
        thread::spawn(move || {
            let small: Vec<_> = (0..5)
                .map(|_| conn.send(&ApiVersionsRequest::default()).unwrap())
                .collect();
            let large = (worker == 0).then(|| {
                let mut request = MetadataRequest::for_topics(names.iter());
                request.allow_auto_topic_creation = false;
                conn.send(&request).unwrap()
            });
            let _ = sent_tx.send((small, large));
        });
    }
    drop(sent_tx);
    let deadline = Instant::now() + config.request_timeout;
    let sent: Vec<_> = (0..4)
        .map(|_| {
            let left = deadline.saturating_duration_since(Instant::now());
            sent_rx.recv_timeout(left).expect(
                "every sender finishes writing while the reader waits \
                 (a sender failed, or is stalled behind the reader)",
            )
        })
        .collect();
    assert!(
        first.receiver().is_empty(),
        "the proxy let a response through"
    );
    drop(held);
    first.wait().unwrap();
    for (small, large) in sent {
        for p in small {
            p.wait().unwrap();
        }
        if let Some(large) = large {
            assert_eq!(large.wait().unwrap().topics.len(), names.len());
        }
    }
    assert!(!conn.is_closed());
}

/// Eight threads share one TLS connection, pipelining small requests and
/// Metadata requests of about 1 MiB each way: frames span many TLS records
/// and socket writes, and every answer reaches its own caller.
#[test]
fn threads_share_one_tls_connection_with_large_frames() {
    use kafka_sync::protocol::api::MetadataRequest;
    use std::sync::Arc;
    let broker = TlsBroker::start(false);
    let config = ConnectionConfig {
        tls: Some(TlsConnector::new(&trusting("ca")).unwrap()),
        request_timeout: Duration::from_secs(20),
        ..ConnectionConfig::default()
    };
    let conn = Arc::new(Connection::connect(&broker.bootstrap(), &config).unwrap());
    let names: Vec<String> = (0..20_000)
        .map(|i| format!("no-such-topic-{i:06}-{}", "x".repeat(32)))
        .collect();
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let conn = Arc::clone(&conn);
            let names = names.clone();
            thread::spawn(move || {
                for round in 0..4 {
                    let small = conn.send(&ApiVersionsRequest::default()).unwrap();
                    if (worker + round) % 2 == 0 {
                        let mut request = MetadataRequest::for_topics(names.iter());
                        request.allow_auto_topic_creation = false;
                        let response = conn.request(&request).unwrap();
                        assert_eq!(response.topics.len(), names.len());
                    }
                    small.wait().unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert!(!conn.is_closed());
}

/// A "broker" that accepts and then says nothing: the TLS handshake gives up
/// at `connect_timeout`, as a timeout.
#[test]
fn a_silent_tls_peer_times_out_at_connect_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let _held = thread::spawn(move || {
        let peer = listener.accept();
        thread::sleep(Duration::from_secs(5));
        drop(peer);
    });
    let config = ConnectionConfig {
        tls: Some(TlsConnector::new(&TlsConfig::default()).unwrap()),
        connect_timeout: Duration::from_millis(500),
        ..ConnectionConfig::default()
    };
    let started = Instant::now();
    let e = Connection::connect(&addr, &config).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Timeout {
                kind: kafka_sync::TimeoutKind::Connect,
                ..
            }
        ),
        "{e:?}"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(1500),
        "{took:?}"
    );
}

/// SASL runs inside the TLS session: against tansu's `--authentication`
/// mode (which has no users, see tests/security_sasl.rs) the SCRAM exchange
/// gets as far as the broker's verdict on the user.
#[test]
fn sasl_runs_inside_the_tls_session() {
    let broker = TlsBroker::start_with(false, true);
    let e = KafkaClient::builder()
        .hosts(broker.bootstrap())
        .tls(trusting("ca"))
        .sasl(kafka_sync::Sasl::scram_sha_256("nobody", "nothing"))
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Sasl(_)), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("SCRAM-SHA-256 login") && text.contains("`nobody`"),
        "{text}"
    );
}

/// One bootstrap host failing its TLS handshake does not stop the client
/// from bootstrapping through the next.
#[test]
fn a_host_failing_the_handshake_does_not_stop_bootstrap_from_the_next() {
    let broker = TlsBroker::start(false);
    let hangs_up = TcpListener::bind("127.0.0.1:0").unwrap();
    let bad = format!("localhost:{}", hangs_up.local_addr().unwrap().port());
    thread::spawn(move || {
        for peer in hangs_up.incoming() {
            drop(peer);
        }
    });
    let client = KafkaClient::builder()
        .hosts(format!("{bad},{}", broker.bootstrap()))
        .tls(trusting("ca"))
        .build()
        .unwrap();
    client.refresh_metadata().unwrap();
}
