//! A lost acknowledgement: the broker writes a batch but its answer never
//! reaches the producer (the connection drops first). The producer retries;
//! with idempotence the broker recognises the retry, so every record is
//! written once and in order, and reported once.
//!
//! The broker runs behind a proxy that can swallow the answer to the next
//! Produce request and cut the connection; the broker advertises the proxy's
//! address so every connection of the client goes through it.

mod producer_support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kafka_sync::producer::{DeliveryReport, ProducerConfig};
use kafka_sync::{testkit, KafkaClient};
use producer_support::{read_partition, DEADLINE};

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

fn read_frame(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).ok()?;
    let mut frame = size.to_vec();
    frame.resize(4 + usize::try_from(i32::from_be_bytes(size)).ok()?, 0);
    stream.read_exact(&mut frame[4..]).ok()?;
    Some(frame)
}

/// Forwards connections from `listener` to `upstream`. While `armed`, the
/// next Produce request is forwarded but its answer is swallowed and both
/// connections are cut.
fn start_proxy(listener: TcpListener, upstream: u16, armed: Arc<AtomicBool>) {
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let Ok(mut broker) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let victim: Arc<Mutex<Option<i32>>> = Arc::new(Mutex::new(None));
            let (mut client_r, mut broker_w) =
                (client.try_clone().unwrap(), broker.try_clone().unwrap());
            let (armed, victim_w) = (Arc::clone(&armed), Arc::clone(&victim));
            thread::spawn(move || {
                while let Some(frame) = read_frame(&mut client_r) {
                    let api_key = i16::from_be_bytes([frame[4], frame[5]]);
                    if api_key == 0 && armed.swap(false, Ordering::SeqCst) {
                        let correlation =
                            i32::from_be_bytes([frame[8], frame[9], frame[10], frame[11]]);
                        *victim_w.lock().unwrap() = Some(correlation);
                    }
                    if broker_w.write_all(&frame).is_err() {
                        return;
                    }
                }
                let _ = broker_w.shutdown(Shutdown::Both);
            });
            thread::spawn(move || {
                while let Some(frame) = read_frame(&mut broker) {
                    let correlation = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
                    if *victim.lock().unwrap() == Some(correlation) {
                        // The broker wrote the batch; the producer never hears of it.
                        break;
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

fn values_after_a_lost_ack(idempotence: bool) -> (Vec<String>, Vec<DeliveryReport>) {
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = proxy.local_addr().unwrap().port();
    let broker_port = free_port();
    let _tansu = start_tansu(broker_port, proxy_port);
    let armed = Arc::new(AtomicBool::new(false));
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

    armed.store(true, Ordering::SeqCst);
    producer.produce(b"b").unwrap();
    producer.produce(b"c").unwrap();
    producer.flush(DEADLINE).unwrap();
    assert!(!armed.load(Ordering::SeqCst), "an answer was swallowed");
    producer.produce(b"end").unwrap();
    producer.flush(DEADLINE).unwrap();

    let reports: Vec<DeliveryReport> = producer.delivery_reports().try_iter().collect();
    // Read until the marker: duplicates, if any, come before it.
    let mut expected = 4;
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
    assert!(
        producer.metrics().records_retried >= 1,
        "the batch was retried"
    );
    (values, reports)
}

#[test]
fn with_idempotence_a_retry_after_a_lost_ack_writes_each_record_once_in_order() {
    let (values, reports) = values_after_a_lost_ack(true);
    assert_eq!(reports.len(), 4, "one report per record");
    assert!(reports.iter().all(DeliveryReport::is_ok));
    assert_eq!(values, ["a", "b", "c", "end"]);
}

#[test]
fn without_idempotence_a_retry_after_a_lost_ack_may_duplicate() {
    let (values, reports) = values_after_a_lost_ack(false);
    assert_eq!(reports.len(), 4, "still one report per record");
    assert!(reports.iter().all(DeliveryReport::is_ok));
    // At-least-once: nothing lost, order kept, the retried batch twice.
    assert_eq!(values, ["a", "b", "c", "b", "c", "end"]);
}
