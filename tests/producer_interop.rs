//! The producer next to librdkafka (through the `confluent-kafka` Python
//! package): keys land on the partitions librdkafka's `murmur2_random`
//! partitioner picks, and confluent-kafka reads back exactly what was
//! produced. confluent-kafka comes from the testkit's Python peers
//! (`testkit::python_peers`, provisioned on first use); a test fails when
//! they cannot be provisioned.
#![cfg(feature = "testkit")]

mod producer_support;

use std::collections::BTreeMap;
use std::process::Command;

use kafka_sync::producer::{Compression, ProducerConfig, Record};
use producer_support::{client, new_topic, DEADLINE};

/// Produces `key-0` … `key-{n-1}` with `partitioner=murmur2_random` and
/// prints `key<TAB>partition` per delivered record.
const PRODUCE_KEYED: &str = r#"
import sys, confluent_kafka
bootstrap, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = confluent_kafka.Producer({'bootstrap.servers': bootstrap, 'partitioner': 'murmur2_random'})
out, errors = {}, []
def delivered(err, msg):
    if err:
        errors.append(str(err))
    else:
        out[msg.key().decode()] = msg.partition()
for i in range(n):
    p.produce(topic, key=('key-%d' % i).encode(), value=b'v', on_delivery=delivered)
p.flush(30)
if errors or len(out) != n:
    sys.exit('delivery failed: %r (%d of %d)' % (errors[:3], len(out), n))
for k, v in out.items():
    print('%s\t%d' % (k, v))
"#;

/// Reads `n` records from every partition of the topic from the start and
/// prints `partition offset timestamp key value headers`, bytes in hex
/// (`-` for null), headers as `key=value` pairs joined by commas.
const CONSUME: &str = r#"
import sys, time, confluent_kafka
from confluent_kafka import TopicPartition, OFFSET_BEGINNING
bootstrap, topic, partitions, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = confluent_kafka.Consumer({'bootstrap.servers': bootstrap, 'group.id': 'kafka-sync-interop',
                              'enable.auto.commit': False})
c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
h = lambda b: '-' if b is None else (b.hex() or '""')
got, deadline = 0, time.time() + 30
while got < n and time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        sys.exit('consume failed: %s' % m.error())
    headers = ','.join('%s=%s' % (k.encode().hex(), h(v)) for k, v in (m.headers() or []))
    print('%d\t%d\t%d\t%s\t%s\t%s' % (m.partition(), m.offset(), m.timestamp()[1],
                                      h(m.key()), h(m.value()), headers or '-'))
    got += 1
c.close()
if got < n:
    sys.exit('read %d of %d records' % (got, n))
"#;

fn python(script: &str, args: &[String]) -> String {
    let python = kafka_sync::testkit::python_peers().expect("the Python peers are provisioned");
    let output = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("the peers' python runs");
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn hex(bytes: Option<&[u8]>) -> String {
    match bytes {
        None => "-".into(),
        Some([]) => "\"\"".into(),
        Some(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

fn bootstrap() -> String {
    kafka_sync::testkit::shared().unwrap().bootstrap()
}

#[test]
fn keyed_records_land_where_librdkafka_murmur2_random_puts_them() {
    let client = client();
    let partitions = 7;
    let n = 300;
    let theirs_topic = new_topic(&client, "rdkafka-keys", partitions);
    let theirs: BTreeMap<String, i32> =
        python(PRODUCE_KEYED, &[bootstrap(), theirs_topic, n.to_string()])
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

        let lines = python(
            CONSUME,
            &[
                bootstrap(),
                name,
                partitions.to_string(),
                sent.len().to_string(),
            ],
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
