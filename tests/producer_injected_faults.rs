//! Faults injected between the producer and a live broker by a proxy: a lost
//! acknowledgement (the broker writes a batch but its answer never arrives
//! and the connection drops), a retriable error answer, a final one.
//!
//! The producer retries the first two; with idempotence the broker
//! recognises the retry, so every record is written once and in order, and
//! reported once. The broker advertises the proxy's address, so every
//! connection of the client goes through it.
#![cfg(feature = "testkit")]

mod support;

use std::io::Write;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kafka_sync::producer::{DeliveryReport, ProducerConfig, ProducerMetrics};
use kafka_sync::{testkit, ErrorCode, KafkaClient};
use support::fake_broker::{framed, free_port, parse_request, read_frame};
use support::{read_partition, DEADLINE};

/// A tansu process listening on one port and advertising another.
struct Tansu(Child);

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_tansu(listen: u16, advertise: u16) -> Tansu {
    let child = Command::new(testkit::tansu_binary().expect("tansu is available"))
        .args([
            "broker",
            "--listener-url",
            &format!("tcp://127.0.0.1:{listen}"),
            "--advertised-listener-url",
            &format!("tcp://127.0.0.1:{advertise}"),
        ])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tansu starts");
    Tansu(child)
}

/// What the proxy does to the next Produce request's answer.
#[derive(Clone)]
enum Fault {
    /// Swallows it and cuts both connections: the batch was written, the
    /// producer never hears so.
    Swallow,
    /// Replaces it with this error code for every partition of `topic`.
    Replace { topic: String, code: i16 },
}

/// Forwards connections from `listener` to `upstream`, applying `fault` (once)
/// to the next Produce request's answer. Not a `FakeBroker`: a proxy must
/// pass pipelined requests on at once, and the frame loop answers one
/// request before it reads the next; it shares the loop's frame reading.
fn start_proxy(listener: TcpListener, upstream: u16, fault: Arc<Mutex<Option<Fault>>>) {
    start_proxy_recording(listener, upstream, fault, Arc::default());
}

/// [`start_proxy`], also noting the size of every Produce request frame.
fn start_proxy_recording(
    listener: TcpListener,
    upstream: u16,
    fault: Arc<Mutex<Option<Fault>>>,
    produce_sizes: Arc<Mutex<Vec<usize>>>,
) {
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let Ok(mut broker) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            // (correlation id, version, fault) of the answer to tamper with.
            let victim: Arc<Mutex<Option<(i32, i16, Fault)>>> = Arc::new(Mutex::new(None));
            let (mut client_r, mut broker_w) =
                (client.try_clone().unwrap(), broker.try_clone().unwrap());
            let (fault, victim_w) = (Arc::clone(&fault), Arc::clone(&victim));
            let produce_sizes = Arc::clone(&produce_sizes);
            thread::spawn(move || {
                while let Ok(frame) = read_frame(&mut client_r) {
                    let Ok(request) = parse_request(frame.clone()) else {
                        break;
                    };
                    if request.api_key == 0 {
                        produce_sizes.lock().unwrap().push(frame.len());
                        if let Some(f) = fault.lock().unwrap().take() {
                            *victim_w.lock().unwrap() =
                                Some((request.correlation_id, request.api_version, f));
                        }
                    }
                    if broker_w.write_all(&framed(&frame)).is_err() {
                        return;
                    }
                }
                let _ = broker_w.shutdown(Shutdown::Both);
            });
            thread::spawn(move || {
                while let Ok(frame) = read_frame(&mut broker) {
                    let mut frame = framed(&frame);
                    let correlation = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
                    let hit = victim
                        .lock()
                        .unwrap()
                        .take_if(|(c, _, _)| *c == correlation);
                    match hit {
                        Some((_, _, Fault::Swallow)) => break,
                        Some((_, version, Fault::Replace { topic, code })) => {
                            frame = produce_error(correlation, version, &topic, code);
                        }
                        None => {}
                    }
                    if client.write_all(&frame).is_err() {
                        break;
                    }
                }
                let _ = client.shutdown(Shutdown::Both);
                let _ = broker.shutdown(Shutdown::Both);
            });
        }
    });
}

/// A flexible (v9+) Produce response failing partition 0 of `topic` with `code`.
fn produce_error(correlation: i32, version: i16, topic: &str, code: i16) -> Vec<u8> {
    assert!(
        version >= 9,
        "the fake answer is written for flexible versions only"
    );
    let mut body = correlation.to_be_bytes().to_vec();
    body.push(0); // header tagged fields
    body.push(2); // one topic
    body.push(u8::try_from(topic.len() + 1).unwrap());
    body.extend_from_slice(topic.as_bytes());
    body.push(2); // one partition
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&code.to_be_bytes());
    body.extend_from_slice(&(-1i64).to_be_bytes()); // base offset
    body.extend_from_slice(&(-1i64).to_be_bytes()); // log append time
    body.extend_from_slice(&(-1i64).to_be_bytes()); // log start offset
    body.push(1); // no record errors
    body.push(0); // null error message
    body.push(0); // partition tagged fields
    body.push(0); // topic tagged fields
    body.extend_from_slice(&0i32.to_be_bytes()); // throttle time
    body.push(0); // tagged fields
    framed(&body)
}

fn connect(bootstrap: &str) -> KafkaClient {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match KafkaClient::builder()
            .hosts(bootstrap)
            .reconnect_backoff_max(Duration::from_millis(100))
            .build()
        {
            Ok(client) => return client,
            Err(e) if Instant::now() < deadline => {
                eprintln!("broker not up yet: {e}");
                thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("broker never came up: {e}"),
        }
    }
}

struct Outcome {
    values: Vec<String>,
    reports: Vec<DeliveryReport>,
    metrics: ProducerMetrics,
}

/// Produces `a`, then `b` and `c` in one batch whose answer suffers `fault`,
/// then a marker; returns what the partition holds up to the marker.
fn produce_through_fault(idempotence: bool, fault: impl FnOnce(&str) -> Fault) -> Outcome {
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = proxy.local_addr().unwrap().port();
    let broker_port = free_port();
    let _tansu = start_tansu(broker_port, proxy_port);
    let armed: Arc<Mutex<Option<Fault>>> = Arc::new(Mutex::new(None));
    start_proxy(proxy, broker_port, Arc::clone(&armed));

    let client = connect(&format!("127.0.0.1:{proxy_port}"));
    let name = testkit::unique_name("lost-ack");
    client.create_topic(&name, 1, 1).unwrap();
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(
            ProducerConfig::default()
                .delivery_reports(true)
                // b and c travel in one batch: flush sends it, not the linger.
                .linger(Duration::from_secs(5))
                .idempotence(Some(idempotence))
                .retry_backoff(Duration::from_millis(20), Duration::from_millis(100)),
        )
        .unwrap();
    producer.produce(b"a").unwrap();
    producer.flush(DEADLINE).unwrap();

    *armed.lock().unwrap() = Some(fault(&name));
    producer.produce(b"b").unwrap();
    producer.produce(b"c").unwrap();
    producer.flush(DEADLINE).unwrap();
    assert!(armed.lock().unwrap().is_none(), "the fault was applied");
    producer.produce(b"end").unwrap();
    producer.flush(DEADLINE).unwrap();

    let reports: Vec<DeliveryReport> = producer.delivery_reports().try_iter().collect();
    // Read until the marker: duplicates, if any, come before it.
    let mut expected = 2;
    let values: Vec<String> = loop {
        let values: Vec<String> = read_partition(&client, &name, 0, expected)
            .into_iter()
            .map(|r| String::from_utf8(r.value.unwrap()).unwrap())
            .collect();
        if values.last().map(String::as_str) == Some("end") {
            break values;
        }
        expected += 1;
    };
    Outcome {
        values,
        reports,
        metrics: producer.metrics(),
    }
}

fn values_of(reports: &[DeliveryReport]) -> Vec<&[u8]> {
    reports
        .iter()
        .map(|r| r.record.get_value().unwrap())
        .collect()
}

#[test]
fn with_idempotence_a_retry_after_a_lost_ack_writes_each_record_once_in_order() {
    let outcome = produce_through_fault(true, |_| Fault::Swallow);
    assert_eq!(outcome.reports.len(), 4, "one report per record");
    assert!(outcome.reports.iter().all(DeliveryReport::is_ok));
    assert!(
        outcome.metrics.records_retried >= 2,
        "the batch was retried"
    );
    assert_eq!(outcome.values, ["a", "b", "c", "end"]);
}

#[test]
fn without_idempotence_a_retry_after_a_lost_ack_may_duplicate() {
    let outcome = produce_through_fault(false, |_| Fault::Swallow);
    assert_eq!(outcome.reports.len(), 4, "still one report per record");
    assert!(outcome.reports.iter().all(DeliveryReport::is_ok));
    // At-least-once: nothing lost, order kept, the retried batch twice.
    assert_eq!(outcome.values, ["a", "b", "c", "b", "c", "end"]);
}

#[test]
fn a_not_leader_answer_is_retried() {
    let outcome = produce_through_fault(true, |topic| Fault::Replace {
        topic: topic.to_owned(),
        code: ErrorCode::NotLeaderOrFollower.code(),
    });
    assert!(outcome.reports.iter().all(DeliveryReport::is_ok));
    assert!(outcome.metrics.records_retried >= 2);
    // The broker had written the batch; idempotence drops the retry.
    assert_eq!(outcome.values, ["a", "b", "c", "end"]);
}

#[test]
fn a_non_retriable_answer_fails_the_batch_without_retrying() {
    let outcome = produce_through_fault(false, |topic| Fault::Replace {
        topic: topic.to_owned(),
        code: ErrorCode::TopicAuthorizationFailed.code(),
    });
    assert_eq!(outcome.metrics.records_retried, 0);
    let failed: Vec<&DeliveryReport> = outcome.reports.iter().filter(|r| !r.is_ok()).collect();
    assert_eq!(values_of(&outcome.reports).len(), 4);
    assert_eq!(failed.len(), 2, "b and c fail");
    for report in failed {
        assert_eq!(
            report.error().and_then(kafka_sync::Error::code),
            Some(ErrorCode::TopicAuthorizationFailed)
        );
    }
}

/// Ready batches of many partitions for one broker are split over several
/// Produce requests so that none exceeds `max_request_size` (before, every
/// ready batch went into one request, which a broker with a smaller
/// `socket.request.max.bytes` refuses by closing the connection).
#[test]
fn produce_requests_stay_within_max_request_size() {
    const MAX_REQUEST: usize = 40_000;
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = proxy.local_addr().unwrap().port();
    let broker_port = free_port();
    let _tansu = start_tansu(broker_port, proxy_port);
    let sizes: Arc<Mutex<Vec<usize>>> = Arc::default();
    start_proxy_recording(proxy, broker_port, Arc::default(), Arc::clone(&sizes));

    let client = connect(&format!("127.0.0.1:{proxy_port}"));
    let name = testkit::unique_name("max-request");
    client.create_topic(&name, 8, 1).unwrap();
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(
            ProducerConfig::default()
                .linger(Duration::from_secs(5))
                .batch_size(16 * 1024)
                .max_request_size(MAX_REQUEST),
        )
        .unwrap();
    // About 15 KB per partition, all ready at the flush: 120 KB for one broker.
    for partition in 0..8 {
        for _ in 0..15 {
            producer
                .send(kafka_sync::Record::new(vec![b'x'; 1000]).partition(partition))
                .unwrap();
        }
    }
    producer.flush(DEADLINE).unwrap();
    let sizes = sizes.lock().unwrap().clone();
    assert!(
        sizes.len() >= 3,
        "the batches went in several requests: {sizes:?}"
    );
    // The request header and topic names add some bytes to the batches'.
    for size in &sizes {
        assert!(
            *size <= MAX_REQUEST + 512,
            "a {size}-byte Produce request: {sizes:?}"
        );
    }
    for partition in 0..8 {
        assert_eq!(read_partition(&client, &name, partition, 15).len(), 15);
    }
}
