//! Exactly-once processing against tansu: a consume → transform → produce
//! loop that commits its input offsets in the same transaction as its
//! output is killed (SIGKILL, inside an open transaction) and restarted
//! several times; every input record then appears in the output topic
//! exactly once, in order, as a read_committed reader sees it.
//!
//! Each worker runs in a child process (`support::child_test`) so that it
//! can be killed the way a crashed process dies. A restarted worker's
//! `init_transactions` aborts the transaction its killed predecessor left
//! open, and its consumer starts at the offsets the last committed
//! transaction stored for the group.
//!
//! tansu lists no aborted transactions in Fetch answers, so the output is
//! read with raw Fetch requests and the markers decide what a
//! read_committed reader sees (`support::txn_log::committed_values`); the
//! log must hold at least one abort marker per kill.
#![cfg(feature = "testkit")]

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kafka_sync::producer::{ProducerConfig, Record};
use kafka_sync::protocol::records::ControlRecordType;
use kafka_sync::{IsolationLevel, KafkaClient, OffsetReset, SimpleConsumerConfig, TopicPartition};
use support::txn_log::{committed_values, markers, whole_log};
use support::{bootstrap, client, new_topic, DEADLINE, LONG};

const WORKER: &str = "exactly_once_worker";
const PARTITIONS: i32 = 2;
const RECORDS_PER_PARTITION: usize = 60;
const KILLS: usize = 3;

/// The worker, run only as a child: reads `TX_INPUT` from the group's
/// committed offsets, writes each value with `-out` appended to the same
/// partition of `TX_OUTPUT`, ten records per transaction with their
/// offsets; prints `SENT` once a transaction's records are written and
/// sleeps before committing it (where the parent kills it), `COMMITTED`
/// after; exits once the input has been idle for two seconds.
#[test]
#[ignore = "run by exactly_once_survives_kills_and_restarts in a child process"]
fn exactly_once_worker() {
    if !support::is_child(WORKER) {
        return;
    }
    let env = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is set"));
    let (input, output, group, id) = (
        env("TX_INPUT"),
        env("TX_OUTPUT"),
        env("TX_GROUP"),
        env("TX_ID"),
    );
    let client = KafkaClient::new(&env("TX_BOOTSTRAP")).unwrap();
    let consumer = client
        .topic(&input)
        .unwrap()
        .get_simple_consumer(
            SimpleConsumerConfig::default()
                .partitions(0..PARTITIONS)
                .consumer_group(&group)
                .isolation_level(IsolationLevel::ReadCommitted)
                .auto_offset_reset(OffsetReset::Earliest),
        )
        .unwrap();
    let metadata = consumer.group_metadata().expect("the consumer has a group");
    let producer = client
        .get_producer(ProducerConfig::default().transactional_id(&id))
        .unwrap();
    producer.init_transactions(DEADLINE).unwrap();
    let mut idle_since = Instant::now();
    loop {
        let mut batch = Vec::new();
        while batch.len() < 10 {
            match consumer.consume(Duration::from_millis(200)).unwrap() {
                Some(m) => batch.push(m),
                None => break,
            }
        }
        if batch.is_empty() {
            if idle_since.elapsed() > Duration::from_secs(2) {
                return;
            }
            continue;
        }
        idle_since = Instant::now();
        producer.begin_transaction().unwrap();
        let mut offsets = BTreeMap::new();
        for m in &batch {
            let value = format!("{}-out", String::from_utf8_lossy(m.value_bytes()));
            producer
                .send(&output, Record::new(value).partition(m.partition()))
                .unwrap();
            offsets.insert(TopicPartition::new(&input, m.partition()), m.offset() + 1);
        }
        producer.flush(DEADLINE).unwrap();
        println!("SENT {}", batch.len());
        std::thread::sleep(Duration::from_millis(150));
        producer
            .send_offsets_to_transaction(&offsets, &metadata, DEADLINE)
            .unwrap();
        producer.commit_transaction(DEADLINE).unwrap();
        println!("COMMITTED");
    }
}

/// Starts a worker child; its stdout lines arrive on the receiver.
fn start_worker(env: &[(&str, &str)]) -> (Child, mpsc::Receiver<String>) {
    let mut command = support::child_test(WORKER);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the worker starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

/// Waits for a line starting with `prefix`, failing after [`LONG`].
fn wait_for(lines: &mpsc::Receiver<String>, prefix: &str) {
    let deadline = Instant::now() + LONG;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.starts_with(prefix) => return,
            Ok(_) => {}
            Err(_) => panic!("the worker never printed {prefix}"),
        }
    }
}

#[test]
fn exactly_once_survives_kills_and_restarts() {
    let client = client();
    let input = new_topic(&client, "eos-in", PARTITIONS);
    let output = new_topic(&client, "eos-out", PARTITIONS);
    let mut want: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    let plain = client.get_producer(ProducerConfig::default()).unwrap();
    for i in 0..RECORDS_PER_PARTITION {
        for p in 0..PARTITIONS {
            let value = format!("in-{p}-{i}");
            plain
                .send(&input, Record::new(value.clone()).partition(p))
                .unwrap();
            want.entry(p).or_default().push(format!("{value}-out"));
        }
    }
    plain.flush(DEADLINE).unwrap();
    let group = kafka_sync::testkit::unique_name("eos-group");
    let id = kafka_sync::testkit::unique_name("eos-tx");
    let bootstrap = bootstrap();
    let env = [
        ("TX_BOOTSTRAP", bootstrap.as_str()),
        ("TX_INPUT", input.as_str()),
        ("TX_OUTPUT", output.as_str()),
        ("TX_GROUP", group.as_str()),
        ("TX_ID", id.as_str()),
    ];
    for _ in 0..KILLS {
        let (mut child, lines) = start_worker(&env);
        // One transaction committed, the next one written but still open.
        wait_for(&lines, "COMMITTED");
        wait_for(&lines, "SENT");
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let (mut child, _lines) = start_worker(&env);
    let deadline = Instant::now() + LONG;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the last worker did not finish within {LONG:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "the last worker failed: {status}");

    let mut aborts = 0;
    for (partition, want) in &want {
        let entries = whole_log(&client, &output, *partition);
        let seen = committed_values(&entries);
        assert_eq!(&seen, want, "partition {partition}: {entries:?}");
        aborts += markers(&entries)
            .iter()
            .filter(|m| **m == ControlRecordType::Abort)
            .count();
    }
    // Each killed worker left a transaction open with records in it, which
    // its successor's init_transactions aborted.
    assert!(aborts >= KILLS, "{aborts} abort markers for {KILLS} kills");
}
