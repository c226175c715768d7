//! The producer next to librdkafka (through the `confluent-kafka` Python
//! package): keys land on the partitions librdkafka's `murmur2_random`
//! partitioner picks, and confluent-kafka reads back exactly what was
//! produced. The peers are tests/peers/produce_keyed.py and consume.py, run
//! with the testkit's Python peers (`testkit::python_peers`, provisioned on
//! first use); a test fails when they cannot be provisioned.
#![cfg(feature = "testkit")]

mod support;

use std::collections::BTreeMap;

use kafka_sync::producer::{Compression, ProducerConfig, Record};
use support::{bootstrap, client, new_topic, peers, DEADLINE, LONG};

fn hex(bytes: Option<&[u8]>) -> String {
    match bytes {
        None => "-".into(),
        Some([]) => "\"\"".into(),
        Some(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

#[test]
fn keyed_records_land_where_librdkafka_murmur2_random_puts_them() {
    let client = client();
    let partitions = 7;
    let n = 300;
    let theirs_topic = new_topic(&client, "rdkafka-keys", partitions);
    let theirs: BTreeMap<String, i32> = peers::run(
        "produce_keyed.py",
        &[&bootstrap(), &theirs_topic, &n.to_string()],
        LONG,
    )
    .lines()
    .map(|line| {
        let (k, p) = line.split_once('\t').unwrap();
        (k.to_owned(), p.parse().unwrap())
    })
    .collect();
    assert_eq!(theirs.len(), n);

    let ours_topic = new_topic(&client, "our-keys", partitions);
    let producer = client
        .topic(&ours_topic)
        .unwrap()
        .get_producer(ProducerConfig::default().delivery_reports(true))
        .unwrap();
    for i in 0..n {
        producer.produce_keyed(format!("key-{i}"), b"v").unwrap();
    }
    producer.flush(DEADLINE).unwrap();
    let mut ours = BTreeMap::new();
    for _ in 0..n {
        let report = producer.delivery_reports().recv_timeout(DEADLINE).unwrap();
        assert!(report.is_ok());
        let key = String::from_utf8(report.record.get_key().unwrap().to_vec()).unwrap();
        ours.insert(key, report.partition);
    }
    assert_eq!(ours, theirs);
}

#[test]
fn confluent_kafka_reads_exactly_what_was_produced() {
    let client = client();
    for codec in [Compression::None, Compression::Lz4, Compression::Zstd] {
        let partitions = 3;
        let name = new_topic(&client, "rdkafka-reads", partitions);
        let producer = client
            .topic(&name)
            .unwrap()
            .get_producer(ProducerConfig::default().compression(codec))
            .unwrap();
        let mut sent: Vec<Record> = (0..60)
            .map(|i| {
                Record::new(format!("value {i}"))
                    .key(format!("key {i}"))
                    .header("n", format!("{i}"))
                    .header("codec", format!("{codec:?}"))
                    .timestamp(1_650_000_000_000 + i)
            })
            .collect();
        sent.push(
            Record::tombstone(b"gone")
                .partition(1)
                .timestamp(1_650_000_001_000),
        );
        sent.push(
            Record::new(b"no key")
                .partition(2)
                .null_header("nothing")
                .timestamp(5),
        );
        for record in &sent {
            producer.send(record.clone()).unwrap();
        }
        producer.flush(DEADLINE).unwrap();
        drop(producer);

        let lines = peers::run(
            "consume.py",
            &[
                &bootstrap(),
                &name,
                &partitions.to_string(),
                &sent.len().to_string(),
            ],
            LONG,
        );
        let mut theirs: Vec<String> = lines
            .lines()
            .map(|l| {
                // Drop partition and offset: compare what the records carry.
                l.splitn(3, '\t').nth(2).unwrap().to_owned()
            })
            .collect();
        let mut ours: Vec<String> = sent
            .iter()
            .map(|r| {
                let headers: Vec<String> = r
                    .get_headers()
                    .iter()
                    .map(|(k, v)| format!("{}={}", hex(Some(k.as_bytes())), hex(v.as_deref())))
                    .collect();
                format!(
                    "{}\t{}\t{}\t{}",
                    r.get_timestamp().unwrap(),
                    hex(r.get_key()),
                    hex(r.get_value()),
                    if headers.is_empty() {
                        "-".to_owned()
                    } else {
                        headers.join(",")
                    }
                )
            })
            .collect();
        theirs.sort();
        ours.sort();
        assert_eq!(theirs, ours, "{codec:?}");
    }
}
