//! The throwaway broker: it starts, answers, restarts on its port, and never
//! outlives its owner.
#![cfg(feature = "testkit")]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use kafka_sync::protocol::api::{ApiVersionsRequest, ApiVersionsResponse};
use kafka_sync::protocol::{api_key, decode_response, encode_request, ErrorCode};
use kafka_sync::testkit::{self, Broker};
use kafka_sync::Error;
use support::fake_broker::read_frame;
use support::{assert_child_passed, child_test, is_child, SHORT};

fn local_broker() -> Broker {
    Broker::builder()
        .force_local(true)
        .start()
        .expect("tansu starts")
}

/// One ApiVersions round trip over a raw socket.
fn api_versions(bootstrap: &str) -> std::io::Result<ApiVersionsResponse> {
    let address: SocketAddr = bootstrap.parse().expect("a loopback address");
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let request = ApiVersionsRequest::default();
    stream.write_all(&encode_request(&request, 0, 42, Some("testkit-test")).unwrap())?;
    let frame = read_frame(&mut stream)?;
    decode_response::<ApiVersionsRequest>(&frame, 0, 42).map_err(std::io::Error::other)
}

fn refuses_connections(port: u16) -> bool {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err()
}

fn port_closes_within(port: u16, deadline: Duration) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if refuses_connections(port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn broker_starts_and_answers_api_versions() {
    let broker = Broker::start().unwrap();
    let response = api_versions(&broker.bootstrap()).unwrap();
    assert_eq!(response.error_code, ErrorCode::None);
    assert!(response.range(api_key::API_VERSIONS).is_some());
    assert!(response.range(api_key::METADATA).is_some());
}

#[test]
fn local_broker_listens_on_loopback_and_logs_to_a_file() {
    let broker = local_broker();
    assert!(!broker.is_external());
    assert_eq!(broker.bootstrap(), format!("127.0.0.1:{}", broker.port()));
    let log = std::fs::read_to_string(broker.log_path().unwrap()).unwrap();
    assert!(log.contains("tansu"), "{log}");
}

#[test]
fn two_brokers_run_at_once_on_different_ports() {
    let first = local_broker();
    let second = local_broker();
    assert_ne!(first.port(), second.port());
    api_versions(&first.bootstrap()).unwrap();
    api_versions(&second.bootstrap()).unwrap();
}

#[test]
fn stopped_broker_restarts_on_the_same_port() {
    let mut broker = local_broker();
    let port = broker.port();
    broker.stop();
    assert!(refuses_connections(port), "port {port} still answers");
    broker.restart().unwrap();
    assert_eq!(broker.port(), port);
    api_versions(&broker.bootstrap()).unwrap();
}

#[test]
fn running_broker_restarts_on_the_same_port() {
    let mut broker = local_broker();
    let port = broker.port();
    broker.restart().unwrap();
    assert_eq!(broker.port(), port);
    api_versions(&broker.bootstrap()).unwrap();
}

#[test]
fn dropping_the_broker_stops_its_process() {
    let broker = local_broker();
    let port = broker.port();
    drop(broker);
    assert!(port_closes_within(port, SHORT), "port {port} still answers");
}

#[test]
fn shared_broker_is_one_broker_per_test_binary() {
    let a = testkit::shared().unwrap();
    let b = testkit::shared().unwrap();
    assert!(std::ptr::eq(a, b));
    api_versions(&a.bootstrap()).unwrap();
}

#[test]
fn unique_names_differ_across_threads() {
    let names: Vec<String> = (0..4)
        .map(|_| std::thread::spawn(|| testkit::unique_name("group")))
        .map(|t| t.join().unwrap())
        .collect();
    let mut deduplicated = names.clone();
    deduplicated.sort();
    deduplicated.dedup();
    assert_eq!(deduplicated.len(), names.len(), "{names:?}");
}

#[test]
fn broker_does_not_outlive_a_killed_parent() {
    let mut child = child_test("child_starts_a_broker_and_sleeps")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let port: u16 = stdout
        .lines()
        .map_while(Result::ok)
        // libtest may print "test child_… ... " on the same line first.
        .find_map(|line| Some(line.split_once("BROKER_PORT=")?.1.trim().to_owned()))
        .expect("the child prints its broker's port")
        .parse()
        .unwrap();
    api_versions(&format!("127.0.0.1:{port}")).unwrap();
    child.kill().unwrap(); // SIGKILL: no destructor, no atexit
    child.wait().unwrap();
    assert!(
        port_closes_within(port, SHORT),
        "broker on {port} outlived its parent"
    );
}

#[test]
#[ignore = "helper process of broker_does_not_outlive_a_killed_parent"]
fn child_starts_a_broker_and_sleeps() {
    if !is_child("child_starts_a_broker_and_sleeps") {
        return;
    }
    let broker = local_broker();
    println!("BROKER_PORT={}", broker.port());
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn restarting_an_external_broker_is_an_error() {
    let output = child_test("child_restarts_an_external_broker")
        .env("KAFKA_BOOTSTRAP", "127.0.0.1:9")
        .output()
        .unwrap();
    assert_child_passed(&output);
}

#[test]
#[ignore = "helper process of restarting_an_external_broker_is_an_error"]
fn child_restarts_an_external_broker() {
    if !is_child("child_restarts_an_external_broker") {
        return;
    }
    let mut broker = Broker::start().unwrap();
    assert!(broker.is_external());
    assert_eq!(broker.bootstrap(), "127.0.0.1:9");
    assert_eq!(broker.port(), 9);
    let error = broker.restart().unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error}");
    assert!(error.to_string().contains("KAFKA_BOOTSTRAP"), "{error}");
}

#[test]
fn broker_that_never_answers_times_out_with_its_log() {
    let dir = std::env::temp_dir().join(testkit::unique_name("kafka-sync-fake-tansu"));
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("tansu");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho fake broker listening nowhere\nexec sleep 30\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let output = child_test("child_fails_to_start")
        .env("TANSU_BIN", &fake)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_child_passed(&output);
}

#[test]
#[ignore = "helper process of broker_that_never_answers_times_out_with_its_log"]
fn child_fails_to_start() {
    if !is_child("child_fails_to_start") {
        return;
    }
    let started = Instant::now();
    let error = Broker::builder()
        .force_local(true)
        .start_timeout(Duration::from_millis(500))
        .start()
        .unwrap_err();
    assert!(started.elapsed() < SHORT, "{:?}", started.elapsed());
    assert!(
        matches!(
            error,
            Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::TimedOut
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("fake broker listening nowhere"),
        "{error}"
    );
}
