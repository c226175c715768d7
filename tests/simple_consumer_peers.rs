//! SimpleConsumer with `confluent-kafka` (librdkafka) as the peer: it reads
//! whatever librdkafka produced, and the two share committed offsets.

#![cfg(feature = "testkit")]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_sync::consumer::IsolationLevel;
use kafka_sync::testkit::unique_name;
use kafka_sync::Message;
use support::*;

/// The records `produce.py` writes (see its docstring).
fn check_peer_records(got: &[Message]) {
    assert_eq!(got.len(), 41);
    for (i, m) in got.iter().take(40).enumerate() {
        let i = i64::try_from(i).unwrap();
        assert_eq!(m.offset(), i);
        let key = (i % 4 != 0).then(|| format!("key-{i}").into_bytes());
        assert_eq!(m.key(), key.as_deref(), "key of record {i}");
        let value = if i % 5 == 0 {
            Vec::new()
        } else {
            format!("value-{i}").into_bytes()
        };
        assert_eq!(m.value(), Some(&value[..]), "value of record {i}");
        assert_eq!(m.timestamp(), 1_600_000_000_000 + i);
        let headers: Vec<(String, Option<Vec<u8>>)> = m
            .headers()
            .map(|h| (h.key().into_owned(), h.value().map(<[u8]>::to_vec)))
            .collect();
        let expected = if i % 3 == 0 {
            vec![
                ("idx".to_owned(), Some(i.to_string().into_bytes())),
                ("dup".to_owned(), Some(b"a".to_vec())),
                ("dup".to_owned(), None),
            ]
        } else {
            Vec::new()
        };
        assert_eq!(headers, expected, "headers of record {i}");
    }
    let big = &got[40];
    assert_eq!(big.key(), Some(&b"big"[..]));
    let value = big.value_bytes();
    assert_eq!(value.len(), 900_000);
    assert!(value
        .iter()
        .enumerate()
        .all(|(j, &b)| usize::from(b) == (j * 7) % 251));
}

fn reads_what_confluent_kafka_produced(compression: &str) {
    let client = client();
    let name = unique_name(&format!("peer-{compression}"));
    client.create_topic(&name, 1, 1).unwrap();
    peers::run("produce.py", &[&bootstrap(), &name, compression], LONG);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest())
        .unwrap();
    check_peer_records(&consume_n(&consumer, 41));
}

#[test]
fn reads_every_record_confluent_kafka_produced_uncompressed() {
    reads_what_confluent_kafka_produced("none");
}

#[test]
fn reads_every_record_confluent_kafka_produced_with_gzip() {
    reads_what_confluent_kafka_produced("gzip");
}

#[test]
fn reads_every_record_confluent_kafka_produced_with_snappy() {
    reads_what_confluent_kafka_produced("snappy");
}

#[test]
fn reads_every_record_confluent_kafka_produced_with_lz4() {
    reads_what_confluent_kafka_produced("lz4");
}

#[test]
fn reads_every_record_confluent_kafka_produced_with_zstd() {
    reads_what_confluent_kafka_produced("zstd");
}

fn peer_committed(topic: &str, group: &str, partitions: &[i32]) -> BTreeMap<i32, i64> {
    let mut args = vec![bootstrap(), topic.to_owned(), group.to_owned()];
    args.extend(partitions.iter().map(i32::to_string));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    peers::run("committed.py", &args, LONG)
        .lines()
        .map(|line| {
            let (p, o) = line.split_once(' ').unwrap();
            (p.parse().unwrap(), o.parse().unwrap())
        })
        .collect()
}

#[test]
fn offsets_committed_here_are_read_by_confluent_kafka() {
    let client = client();
    let name = unique_name("commit-here");
    let group = unique_name("group");
    client.create_topic(&name, 2, 1).unwrap();
    produce_values(
        &client,
        &name,
        0,
        &(0..5).map(|i| format!("v{i}")).collect::<Vec<_>>(),
    );
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest().consumer_group(&group).partitions([0]))
        .unwrap();
    let got = consume_n(&consumer, 3);
    assert_eq!(got.last().map(|m| m.offset()), Some(2));
    consumer.commit_offsets().unwrap();
    // The committed offset is the next one to read.
    assert_eq!(
        peer_committed(&name, &group, &[0]),
        [(0, 3)].into_iter().collect()
    );
    assert_eq!(
        consumer.committed_offsets().unwrap(),
        [(0, Some(3))].into_iter().collect()
    );
}

#[test]
fn offsets_committed_by_confluent_kafka_are_where_this_consumer_starts() {
    let client = client();
    let name = unique_name("commit-peer");
    let group = unique_name("group");
    client.create_topic(&name, 2, 1).unwrap();
    for p in 0..2 {
        produce_values(
            &client,
            &name,
            p,
            &(0..6).map(|i| format!("p{p}-{i}")).collect::<Vec<_>>(),
        );
    }
    peers::run(
        "commit.py",
        &[&bootstrap(), &name, &group, "0:4", "1:2"],
        LONG,
    );
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest().consumer_group(&group))
        .unwrap();
    assert_eq!(
        consumer.committed_offsets().unwrap(),
        [(0, Some(4)), (1, Some(2))].into_iter().collect()
    );
    assert_eq!(consumer.positions(), [(0, 4), (1, 2)].into_iter().collect());
    let got = consume_n(&consumer, 6);
    let mut firsts: Vec<(i32, i64)> = got.iter().map(|m| (m.partition(), m.offset())).collect();
    firsts.sort_unstable();
    assert_eq!(firsts, [(0, 4), (0, 5), (1, 2), (1, 3), (1, 4), (1, 5)]);
}

fn values_read(name: &str, level: IsolationLevel) -> Vec<String> {
    let consumer = client()
        .topic(name)
        .unwrap()
        .get_simple_consumer(
            earliest()
                .isolation_level(level)
                .consumer_timeout(Duration::from_secs(2)),
        )
        .unwrap();
    consumer
        .iter()
        .map(|m| String::from_utf8(m.unwrap().value().unwrap().to_vec()).unwrap())
        .collect()
}

#[test]
fn read_committed_skips_aborted_transactions_and_control_records() {
    let client = client();
    let name = unique_name("txn");
    client.create_topic(&name, 1, 1).unwrap();
    peers::run("transactions.py", &[&bootstrap(), &name], LONG);
    // read_uncommitted sees every data record, and no control records.
    assert_eq!(
        values_read(&name, IsolationLevel::ReadUncommitted),
        [
            "aborted-0",
            "aborted-1",
            "committed-0",
            "committed-1",
            "aborted-2",
            "committed-2"
        ]
    );
    if client.cluster_id().as_deref() == Some("tansu_cluster") {
        // tansu 0.6.0 lists no aborted transactions in Fetch responses, so
        // no read_committed consumer (librdkafka's included) can drop them;
        // tests/simple_consumer_cluster.rs checks the filtering end to end.
        eprintln!("tansu: skipping the read_committed check");
        return;
    }
    assert_eq!(
        values_read(&name, IsolationLevel::ReadCommitted),
        ["committed-0", "committed-1", "committed-2"]
    );
}
