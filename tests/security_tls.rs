//! TLS end to end: a tansu broker behind `stunnel4`, with a CA and
//! certificates made by the `openssl` command at test time.
//!
//! The broker advertises the stunnel port (`--advertised-listener-url`), so
//! every connection the client opens after bootstrap goes through TLS too.
//! Needs `stunnel4` and `openssl` (Debian: `apt-get install stunnel4
//! openssl`); without them the tests say so and pass vacuously.
#![cfg(feature = "testkit")]
#![cfg(all(feature = "tls", feature = "testkit"))]

mod support;

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use kafka_sync::net::{Connection, ConnectionConfig, TlsConnector};
use kafka_sync::protocol::api::ApiVersionsRequest;
use kafka_sync::testkit::{tansu_binary, unique_name};
use kafka_sync::{Error, KafkaClient, TlsConfig};
use support::fake_broker::free_port;

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

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An EC key (PKCS#8 PEM, as `openssl genpkey` writes it).
fn key(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-out",
            name,
        ],
    );
}

fn ca(dir: &Path, name: &str) {
    key(dir, &format!("{name}.key"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
        ],
    );
}

/// A certificate for `name` signed by `ca`, with `san` as subjectAltName.
fn leaf(dir: &Path, name: &str, ca: &str, san: &str, usage: &str) {
    key(dir, &format!("{name}.key"));
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    let ext = format!("{name}.ext");
    fs::write(
        dir.join(&ext),
        format!("subjectAltName={san}\nextendedKeyUsage={usage}\n"),
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    );
}

fn tools_present() -> bool {
    let ok = |bin: &str| {
        Command::new(bin)
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    let present = ok("openssl") && ok("stunnel4");
    if !present {
        eprintln!("skipping: install stunnel4 and openssl to run the TLS tests");
    }
    present
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        remove_stale_pki_dirs();
        let dir = std::env::temp_dir().join(unique_name("kafka-sync-pki"));
        fs::create_dir_all(&dir).unwrap();
        ca(&dir, "ca");
        ca(&dir, "other-ca");
        leaf(
            &dir,
            "broker",
            "ca",
            "DNS:localhost,IP:127.0.0.1",
            "serverAuth",
        );
        leaf(&dir, "client", "ca", "DNS:client", "clientAuth");
        leaf(&dir, "intruder", "other-ca", "DNS:client", "clientAuth");
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

/// tansu on a plaintext port, advertising the stunnel port in front of it.
struct TlsBroker {
    _tansu: Killed,
    _stunnel: Killed,
    plain_port: u16,
    tls_port: u16,
}

impl TlsBroker {
    /// `require_client_cert`: stunnel demands a client certificate signed by
    /// the test CA (`verifyChain`, as a broker's `ssl.client.auth=required`).
    fn start(require_client_cert: bool) -> TlsBroker {
        Self::start_with(require_client_cert, false)
    }

    /// `authentication`: tansu requires SASL/SCRAM (`--authentication`).
    fn start_with(require_client_cert: bool, authentication: bool) -> TlsBroker {
        let pki = pki();
        let plain_port = free_port();
        let tls_port = free_port();
        let mut tansu = Command::new(tansu_binary().unwrap());
        tansu.args([
            "broker",
            "--listener-url",
            &format!("tcp://127.0.0.1:{plain_port}"),
            "--advertised-listener-url",
            &format!("tcp://localhost:{tls_port}"),
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
        let mut conf = format!(
            "foreground = yes\npid =\n[kafka]\naccept = 127.0.0.1:{tls_port}\n\
             connect = 127.0.0.1:{plain_port}\ncert = {}\nkey = {}\n",
            pki.path("broker.pem").display(),
            pki.path("broker.key").display()
        );
        if require_client_cert {
            conf.push_str(&format!(
                "CAfile = {}\nverifyChain = yes\nrequireCert = yes\n",
                pki.path("ca.pem").display()
            ));
        }
        let conf_path = pki.path(&format!("stunnel-{tls_port}.conf"));
        fs::write(&conf_path, conf).unwrap();
        let stunnel = Command::new("stunnel4")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("stunnel4 starts");
        let stunnel = Killed(stunnel);
        wait_for_port(plain_port);
        wait_for_port(tls_port);
        TlsBroker {
            _tansu: tansu,
            _stunnel: stunnel,
            plain_port,
            tls_port,
        }
    }

    fn bootstrap(&self) -> String {
        format!("localhost:{}", self.tls_port)
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
    if !tools_present() {
        return;
    }
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
    if !tools_present() {
        return;
    }
    let broker = TlsBroker::start(false);
    let started = Instant::now();
    let text = tls_error(started, build(&broker, trusting("other-ca")));
    assert!(text.contains("not signed by a trusted CA"), "{text}");
}

#[test]
fn a_hostname_mismatch_fails_cleanly() {
    if !tools_present() {
        return;
    }
    let broker = TlsBroker::start(false);
    let started = Instant::now();
    let tls = trusting("ca").server_name("kafka.elsewhere.example");
    let text = tls_error(started, build(&broker, tls));
    assert!(text.contains("hostname mismatch"), "{text}");
    assert!(text.contains("kafka.elsewhere.example"), "{text}");
}

#[test]
fn danger_accept_invalid_certs_connects_to_an_untrusted_broker() {
    if !tools_present() {
        return;
    }
    let broker = TlsBroker::start(false);
    let tls = trusting("other-ca").danger_accept_invalid_certs(true);
    build(&broker, tls).unwrap();
}

#[test]
fn danger_accept_invalid_hostnames_still_checks_the_ca() {
    if !tools_present() {
        return;
    }
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
    if !tools_present() {
        return;
    }
    let broker = TlsBroker::start(true);
    let tls = trusting("ca").client_cert(pki().path("client.pem"), pki().path("client.key"));
    let client = build(&broker, tls).unwrap();
    client.refresh_metadata().unwrap();
}

#[test]
fn mutual_tls_without_a_client_certificate_fails_cleanly() {
    if !tools_present() {
        return;
    }
    let broker = TlsBroker::start(true);
    let text = tls_error(Instant::now(), build(&broker, trusting("ca")));
    assert!(text.contains("client certificate"), "{text}");
}

#[test]
fn mutual_tls_with_a_certificate_from_another_ca_fails_cleanly() {
    if !tools_present() {
        return;
    }
    let broker = TlsBroker::start(true);
    let tls = trusting("ca").client_cert(pki().path("intruder.pem"), pki().path("intruder.key"));
    let text = tls_error(Instant::now(), build(&broker, tls));
    assert!(text.contains("client certificate"), "{text}");
}

#[test]
fn a_key_that_is_not_pkcs8_is_a_clear_error() {
    if !tools_present() {
        return;
    }
    let dir = &pki().dir;
    openssl(dir, &["ec", "-in", "client.key", "-out", "client-sec1.key"]);
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

/// Round trips over TLS and plaintext to the same broker, pipelined and one
/// by one; prints the medians (see the TLS module docs for the design).
#[test]
fn tls_round_trips_cost_little_more_than_plaintext() {
    if !tools_present() {
        return;
    }
    let broker = TlsBroker::start(false);
    let plain = ConnectionConfig::default();
    let tls = ConnectionConfig {
        tls: Some(TlsConnector::new(&trusting("ca")).unwrap()),
        ..ConnectionConfig::default()
    };
    let median = |addr: &str, config: &ConnectionConfig| {
        let conn = Connection::connect(addr, config).unwrap();
        let mut times: Vec<Duration> = (0..200)
            .map(|_| {
                let t = Instant::now();
                conn.request(&ApiVersionsRequest::default()).unwrap();
                t.elapsed()
            })
            .collect();
        times.sort();
        // Pipelined: 100 requests in flight at once.
        let t = Instant::now();
        let pending: Vec<_> = (0..100)
            .map(|_| conn.send(&ApiVersionsRequest::default()).unwrap())
            .collect();
        for p in pending {
            p.wait().unwrap();
        }
        (times[times.len() / 2], t.elapsed())
    };
    let (plain_rtt, plain_burst) = median(&format!("127.0.0.1:{}", broker.plain_port), &plain);
    let (tls_rtt, tls_burst) = median(&broker.bootstrap(), &tls);
    eprintln!(
        "median round trip: plaintext {plain_rtt:?}, TLS via stunnel {tls_rtt:?}; \
         100 pipelined: plaintext {plain_burst:?}, TLS {tls_burst:?}"
    );
    // stunnel adds a hop; the lock sharing must not add tens of milliseconds.
    assert!(tls_rtt < plain_rtt + Duration::from_millis(10));
}

/// Eight threads share one TLS connection, pipelining small requests and
/// Metadata requests of about 1 MiB each way: frames span many TLS records
/// and socket writes, and every answer reaches its own caller.
#[test]
fn threads_share_one_tls_connection_with_large_frames() {
    use kafka_sync::protocol::api::MetadataRequest;
    use std::sync::Arc;
    if !tools_present() {
        return;
    }
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
    if !tools_present() {
        return;
    }
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
    if !tools_present() {
        return;
    }
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
