//! The producer against a live broker: what is produced reads back exactly,
//! with every codec, over many partitions, in sync mode and with acks=0;
//! errors are reported.
#![cfg(feature = "testkit")]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_sync::producer::{
    murmur2_partition, Acks, Compression, DeliveryReport, Partitioning, ProducerConfig, Record,
};
use kafka_sync::Error;
use support::{client, new_topic, read_partition, DEADLINE};

fn with_reports() -> ProducerConfig {
    ProducerConfig::default().delivery_reports(true)
}

/// Every report of `n` records, within the deadline.
fn reports(receiver: &kafka_sync::producer::DeliveryReports, n: usize) -> Vec<DeliveryReport> {
    (0..n)
        .map(|i| {
            receiver
                .recv_timeout(DEADLINE)
                .unwrap_or_else(|_| panic!("report {i} of {n} arrives"))
        })
        .collect()
}

#[test]
fn every_key_value_header_and_timestamp_reads_back_exactly() {
    let client = client();
    let name = new_topic(&client, "exact", 2);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(with_reports())
        .unwrap();
    let sent = vec![
        Record::new(b"plain")
            .partition(0)
            .timestamp(1_600_000_000_000),
        Record::new(b"keyed")
            .key(b"k1")
            .partition(0)
            .timestamp(1_600_000_000_001),
        Record::new(b"with headers")
            .key(b"k2")
            .header("trace", b"abc")
            .header("trace", b"repeated key")
            .null_header("null-valued")
            .header("empty", b"")
            .partition(0)
            .timestamp(1_600_000_000_002),
        Record::tombstone(b"deleted")
            .partition(0)
            .timestamp(1_500_000_000_000),
        Record::new(Vec::new())
            .key(Vec::new())
            .partition(0)
            .timestamp(0),
        Record::new(vec![7u8; 100_000])
            .partition(0)
            .timestamp(1_700_000_000_000),
    ];
    for record in &sent {
        producer.send(record.clone()).unwrap();
    }
    producer.flush(DEADLINE).unwrap();
    let reports = reports(producer.delivery_reports(), sent.len());
    for (report, record) in reports.iter().zip(&sent) {
        let meta = report.result.as_ref().expect("delivered");
        assert_eq!(meta.partition, 0);
        assert_eq!(Some(meta.timestamp), record.get_timestamp());
        assert_eq!(report.record.get_value(), record.get_value());
    }
    let fetched = read_partition(&client, &name, 0, sent.len());
    assert_eq!(fetched.len(), sent.len());
    for (got, want) in fetched.iter().zip(&sent) {
        assert_eq!(got.key.as_deref(), want.get_key());
        assert_eq!(got.value.as_deref(), want.get_value());
        assert_eq!(Some(got.timestamp), want.get_timestamp());
        let want_headers: Vec<(String, Option<Vec<u8>>)> = want
            .get_headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_ref().map(|v| v.to_vec())))
            .collect();
        assert_eq!(got.headers, want_headers);
    }
    for (got, report) in fetched.iter().zip(&reports) {
        assert_eq!(
            Some(got.offset),
            report.offset(),
            "report offsets match the log"
        );
    }
}

#[test]
fn each_compression_codec_reads_back() {
    let client = client();
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let name = new_topic(&client, "codec", 1);
        let producer = client
            .topic(&name)
            .unwrap()
            .get_producer(with_reports().compression(codec).batch_size(4096))
            .unwrap();
        let values: Vec<Vec<u8>> = (0..500)
            .map(|i| {
                format!(
                    "record {i} compressed with {codec:?} {}",
                    "x".repeat(i % 50)
                )
                .into_bytes()
            })
            .collect();
        for v in &values {
            producer.produce(v.clone()).unwrap();
        }
        producer.flush(DEADLINE).unwrap();
        assert!(reports(producer.delivery_reports(), values.len())
            .iter()
            .all(DeliveryReport::is_ok));
        let fetched = read_partition(&client, &name, 0, values.len());
        let got: Vec<Vec<u8>> = fetched.into_iter().map(|r| r.value.unwrap()).collect();
        assert_eq!(got, values, "{codec:?}");
    }
}

#[test]
fn keyed_records_spread_over_many_partitions_by_murmur2() {
    let client = client();
    let partitions = 24;
    let name = new_topic(&client, "many", partitions);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(with_reports())
        .unwrap();
    let n = 2400;
    for i in 0..n {
        producer
            .produce_keyed(format!("key-{i}"), format!("value-{i}"))
            .unwrap();
    }
    producer.flush(DEADLINE).unwrap();
    let mut per_partition: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for report in reports(producer.delivery_reports(), n) {
        let key = report.record.get_key().unwrap().to_vec();
        let meta = report.result.expect("delivered");
        assert_eq!(meta.partition, murmur2_partition(&key, partitions));
        per_partition
            .entry(meta.partition)
            .or_default()
            .push(String::from_utf8(report.record.get_value().unwrap().to_vec()).unwrap());
    }
    assert_eq!(
        per_partition.len(),
        partitions as usize,
        "every partition used"
    );
    for (partition, values) in per_partition {
        let fetched = read_partition(&client, &name, partition, values.len());
        let got: Vec<String> = fetched
            .into_iter()
            .map(|r| String::from_utf8(r.value.unwrap()).unwrap())
            .collect();
        assert_eq!(got, values, "partition {partition} keeps produce order");
    }
}

#[test]
fn unkeyed_records_stick_to_a_partition_per_batch() {
    let client = client();
    let name = new_topic(&client, "sticky", 4);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(with_reports().batch_size(1024))
        .unwrap();
    for _ in 0..400 {
        producer.produce(vec![1u8; 100]).unwrap();
    }
    producer.flush(DEADLINE).unwrap();
    let partitions: Vec<i32> = reports(producer.delivery_reports(), 400)
        .into_iter()
        .map(|r| r.partition)
        .collect();
    let switches = partitions.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(switches >= 3, "spread over partitions: {switches} switches");
    assert!(
        switches <= 60,
        "but in runs, not per record: {switches} switches"
    );
}

#[test]
fn round_robin_spreads_records_evenly() {
    let client = client();
    let name = new_topic(&client, "rr", 3);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(with_reports().partitioning(Partitioning::RoundRobin))
        .unwrap();
    for i in 0..30 {
        producer.produce_keyed(b"same-key", format!("{i}")).unwrap();
    }
    producer.flush(DEADLINE).unwrap();
    let mut counts = [0; 3];
    for r in reports(producer.delivery_reports(), 30) {
        counts[r.partition as usize] += 1;
    }
    assert_eq!(counts, [10, 10, 10]);
}

#[test]
fn a_custom_partitioner_decides() {
    let client = client();
    let name = new_topic(&client, "custom", 3);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(
            with_reports().partitioner(|_: &str, key: Option<&[u8]>, n: i32| {
                key.map_or(0, |k| i32::from(k[0]) % n)
            }),
        )
        .unwrap();
    producer.produce_keyed(b"\x02", b"two").unwrap();
    producer.produce_keyed(b"\x01", b"one").unwrap();
    producer.flush(DEADLINE).unwrap();
    let mut parts: Vec<(Vec<u8>, i32)> = reports(producer.delivery_reports(), 2)
        .iter()
        .map(|r| (r.record.get_key().unwrap().to_vec(), r.partition))
        .collect();
    parts.sort();
    assert_eq!(parts, [(vec![1], 1), (vec![2], 2)]);
}

#[test]
fn sync_produce_returns_consecutive_offsets() {
    let client = client();
    let name = new_topic(&client, "sync", 1);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_sync_producer(ProducerConfig::default().linger(Duration::from_secs(10)))
        .unwrap();
    let first = producer.produce(b"one").unwrap();
    let second = producer.produce_keyed(b"k", b"two").unwrap();
    assert_eq!(first.partition, 0);
    assert!(first.offset >= 0);
    assert!(second.offset > first.offset, "{first:?} then {second:?}");
    let fetched = read_partition(&client, &name, 0, 2);
    assert_eq!(fetched[1].offset, second.offset);
    assert_eq!(fetched[1].value.as_deref(), Some(&b"two"[..]));
}

#[test]
fn acks_zero_reports_delivery_without_offsets() {
    let client = client();
    let name = new_topic(&client, "acks0", 1);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(with_reports().acks(Acks::None))
        .unwrap();
    for i in 0..50 {
        producer.produce(format!("{i}")).unwrap();
    }
    producer.flush(DEADLINE).unwrap();
    for r in reports(producer.delivery_reports(), 50) {
        assert_eq!(r.offset(), Some(-1));
    }
    // Read through the producer's own client and connection: tansu 0.6
    // answers acks=0 Produce requests (Kafka sends nothing); the connection
    // drops such answers instead of taking them for the next response.
    assert_eq!(read_partition(&client, &name, 0, 50).len(), 50);
    producer.produce(b"more").unwrap();
    producer.flush(DEADLINE).unwrap();
    assert_eq!(read_partition(&client, &name, 0, 51).len(), 51);
}

#[test]
fn acks_leader_delivers() {
    let client = client();
    let name = new_topic(&client, "acks1", 1);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(with_reports().acks(Acks::Leader))
        .unwrap();
    producer.produce(b"x").unwrap();
    producer.flush(DEADLINE).unwrap();
    assert!(producer
        .get_delivery_report(true, Some(DEADLINE))
        .unwrap()
        .is_ok());
}

#[test]
fn producing_to_a_missing_topic_reports_unknown_topic() {
    let client = client();
    let producer = client.get_producer(with_reports()).unwrap();
    let missing = kafka_sync::testkit::unique_name("missing");
    let e = producer.send(&missing, Record::new(b"x")).unwrap_err();
    assert!(matches!(&e, Error::UnknownTopic(t) if *t == missing), "{e}");
}

#[test]
fn a_multi_topic_producer_sends_to_each_topic() {
    let client = client();
    let a = new_topic(&client, "multi-a", 1);
    let b = new_topic(&client, "multi-b", 1);
    let producer = client.get_producer(with_reports()).unwrap();
    producer.send(&a, Record::new(b"to a")).unwrap();
    producer.send(&b, Record::new(b"to b")).unwrap();
    producer.flush(DEADLINE).unwrap();
    assert_eq!(
        read_partition(&client, &a, 0, 1)[0].value.as_deref(),
        Some(&b"to a"[..])
    );
    assert_eq!(
        read_partition(&client, &b, 0, 1)[0].value.as_deref(),
        Some(&b"to b"[..])
    );
}

#[test]
fn a_record_over_max_request_size_is_refused_at_once() {
    let client = client();
    let name = new_topic(&client, "too-big", 1);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(ProducerConfig::default().max_request_size(10_000))
        .unwrap();
    let e = producer.produce(vec![0u8; 20_000]).unwrap_err();
    assert!(
        matches!(&e, Error::Config(m) if m.contains("max_request_size")),
        "{e}"
    );
}

#[test]
fn an_explicit_partition_out_of_range_is_refused() {
    let client = client();
    let name = new_topic(&client, "range", 2);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(ProducerConfig::default())
        .unwrap();
    let e = producer.send(Record::new(b"x").partition(2)).unwrap_err();
    assert!(
        matches!(&e, Error::Config(m) if m.contains("no partition 2")),
        "{e}"
    );
}

#[test]
fn dropping_the_producer_delivers_what_was_queued() {
    let client = client();
    let name = new_topic(&client, "drop", 1);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(ProducerConfig::default().linger(Duration::from_secs(30)))
        .unwrap();
    for i in 0..100 {
        producer.produce(format!("{i}")).unwrap();
    }
    drop(producer);
    assert_eq!(read_partition(&client, &name, 0, 100).len(), 100);
}

#[test]
fn metrics_count_records_and_batches() {
    let client = client();
    let name = new_topic(&client, "metrics", 1);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(ProducerConfig::default())
        .unwrap();
    for _ in 0..1000 {
        producer.produce(vec![0u8; 100]).unwrap();
    }
    producer.flush(DEADLINE).unwrap();
    let m = producer.metrics();
    assert_eq!(m.records_sent, 1000);
    assert_eq!(m.records_failed, 0);
    assert!(m.batches_sent >= 1);
    assert!(m.average_batch_size > 100.0);
    assert_eq!(m.queued_records, 0);
    assert_eq!(m.buffer_used, 0);
}

#[test]
fn flush_with_nothing_queued_returns_at_once() {
    let client = client();
    let name = new_topic(&client, "flush-empty", 1);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(ProducerConfig::default())
        .unwrap();
    producer.flush(Duration::from_millis(1)).unwrap();
}

#[test]
fn idempotence_is_on_by_default_and_batches_are_accepted() {
    // With acks=all (the default) the producer asks for a producer id; the
    // records still read back in order, once each.
    let client = client();
    let name = new_topic(&client, "idem", 1);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(with_reports().idempotence(Some(true)).batch_size(512))
        .unwrap();
    for i in 0..300 {
        producer.produce(format!("{i:04}")).unwrap();
    }
    producer.flush(DEADLINE).unwrap();
    assert!(reports(producer.delivery_reports(), 300)
        .iter()
        .all(DeliveryReport::is_ok));
    let got: Vec<String> = read_partition(&client, &name, 0, 300)
        .into_iter()
        .map(|r| String::from_utf8(r.value.unwrap()).unwrap())
        .collect();
    let want: Vec<String> = (0..300).map(|i| format!("{i:04}")).collect();
    assert_eq!(got, want);
}

#[test]
fn dropping_a_producer_whose_reports_nobody_reads_is_bounded() {
    let client = client();
    let name = new_topic(&client, "unread", 1);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(
            with_reports()
                .delivery_reports_capacity(2)
                .close_timeout(Duration::from_millis(500)),
        )
        .unwrap();
    let reports = producer.delivery_reports().clone();
    for i in 0..20 {
        producer.produce(format!("{i}")).unwrap();
    }
    producer.flush(DEADLINE).unwrap();
    let dropping = std::time::Instant::now();
    drop(producer);
    assert!(
        dropping.elapsed() < Duration::from_secs(5),
        "drop is bounded"
    );
    assert_eq!(
        reports.try_iter().count(),
        2,
        "the channel held what it could"
    );
    assert_eq!(read_partition(&client, &name, 0, 20).len(), 20);
}

#[test]
fn reports_beyond_the_channel_capacity_wait_for_a_reader() {
    let client = client();
    let name = new_topic(&client, "slow-reader", 1);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(with_reports().delivery_reports_capacity(3))
        .unwrap();
    for i in 0..50 {
        producer.produce(format!("{i}")).unwrap();
    }
    producer.flush(DEADLINE).unwrap();
    let got: Vec<String> = reports(producer.delivery_reports(), 50)
        .into_iter()
        .map(|r| String::from_utf8(r.record.get_value().unwrap().to_vec()).unwrap())
        .collect();
    let want: Vec<String> = (0..50).map(|i| format!("{i}")).collect();
    assert_eq!(got, want, "every report, in order");
}

#[test]
fn acks_zero_survives_many_batches() {
    let client = client();
    let name = new_topic(&client, "acks0-many", 1);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(
            with_reports()
                .acks(Acks::None)
                .batch_size(200)
                .linger(Duration::ZERO),
        )
        .unwrap();
    for i in 0..500 {
        producer.produce(format!("{i:0100}")).unwrap();
    }
    producer.flush(DEADLINE).unwrap();
    let failed = reports(producer.delivery_reports(), 500)
        .iter()
        .filter(|r| !r.is_ok())
        .count();
    assert_eq!(failed, 0);
}

#[test]
fn threads_share_one_producer() {
    let client = client();
    let name = new_topic(&client, "threads", 4);
    let producer = std::sync::Arc::new(
        client
            .topic(&name)
            .unwrap()
            .get_producer(with_reports())
            .unwrap(),
    );
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let producer = std::sync::Arc::clone(&producer);
            std::thread::spawn(move || {
                for i in 0..2500 {
                    producer
                        .produce_keyed(format!("{t}"), format!("{i}"))
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    producer.flush(DEADLINE).unwrap();
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for report in reports(producer.delivery_reports(), 10_000) {
        let key = String::from_utf8(report.record.get_key().unwrap().to_vec()).unwrap();
        let value: i64 = String::from_utf8(report.record.get_value().unwrap().to_vec())
            .unwrap()
            .parse()
            .unwrap();
        assert!(report.is_ok());
        // One key, one partition: each thread's records keep their order.
        let previous = last.insert(key, value);
        assert!(previous.is_none_or(|p| p < value));
    }
    assert_eq!(producer.metrics().records_sent, 10_000);
}

#[test]
fn get_delivery_report_waits_or_not_as_asked() {
    let client = client();
    let name = new_topic(&client, "pykafka-style", 1);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(with_reports())
        .unwrap();
    assert!(producer.get_delivery_report(false, None).is_none());
    assert!(producer
        .get_delivery_report(true, Some(Duration::from_millis(10)))
        .is_none());
    producer.produce(b"x").unwrap();
    let report = producer
        .get_delivery_report(true, Some(DEADLINE))
        .expect("a report within the deadline");
    assert_eq!(report.record.get_value(), Some(&b"x"[..]));
    assert!(report.is_ok());
}

#[test]
fn a_linger_and_delivery_timeout_of_duration_max_deliver_on_flush() {
    // Both used to overflow `Instant + Duration` on the sender thread, which
    // then died and took every queued record with it, reporting nothing.
    let client = client();
    let name = new_topic(&client, "huge-timeouts", 1);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_producer(
            with_reports()
                .linger(Duration::MAX)
                .delivery_timeout(Duration::MAX),
        )
        .unwrap();
    for i in 0..3 {
        producer.produce(format!("v{i}")).unwrap();
    }
    // Nothing is sent while the batch lingers: this is the sender computing
    // when the linger ends, which used to overflow.
    assert!(producer
        .delivery_reports()
        .recv_timeout(Duration::from_millis(300))
        .is_err());
    producer.flush(DEADLINE).expect("flush delivers");
    for report in reports(producer.delivery_reports(), 3) {
        report.result.expect("delivered");
    }
}

#[test]
fn a_sync_producer_with_a_delivery_timeout_of_duration_max_is_acknowledged() {
    let client = client();
    let name = new_topic(&client, "huge-sync", 1);
    let producer = client
        .topic(&name)
        .unwrap()
        .get_sync_producer(ProducerConfig::default().delivery_timeout(Duration::MAX))
        .unwrap();
    let metadata = producer.produce(b"v".to_vec()).expect("acknowledged");
    assert_eq!(metadata.partition, 0);
}
