//! Consume benchmark: messages per second and CPU seconds per million
//! records for 100 B and 1 KiB records read from a pre-filled 4-partition
//! topic, by this crate's `SimpleConsumer` and, in the same run on the same
//! data, by `confluent-kafka` (librdkafka) with `assign()`.
//!
//! ```sh
//! pip install confluent-kafka        # the librdkafka side; skipped if missing
//! cargo run --release --example bench_consume --features testkit
//! BENCH_RECORDS_100=2000000 BENCH_RECORDS_1K=500000 cargo run --release ...
//! ```
//!
//! Starts a throwaway broker unless `KAFKA_BOOTSTRAP` names one. CPU time is
//! the whole process's (every thread), read from `/proc/self/stat` for this
//! crate and from `getrusage` for the Python process.

use std::process::Command;
use std::time::{Duration, Instant};

use kafka_sync::protocol::api::{PartitionProduceData, ProduceRequest, TopicProduceData};
use kafka_sync::protocol::records::{BatchBuilder, BatchOptions};
use kafka_sync::testkit::{self, Broker};
use kafka_sync::{KafkaClient, OffsetReset, SimpleConsumerConfig};

const PARTITIONS: i32 = 4;
const PER_BATCH: usize = 1000;

/// The librdkafka side: assign every partition from offset 0 and read `total`
/// messages with `consume(num_messages=...)`, the fastest Python path.
const PYTHON: &str = r#"
import resource, sys, time
from confluent_kafka import Consumer, TopicPartition
bootstrap, topic, partitions, total = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-" + topic,
              "enable.auto.commit": False, "fetch.wait.max.ms": 100})
c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
start = time.monotonic(); cpu0 = resource.getrusage(resource.RUSAGE_SELF)
n = 0; payload = 0
deadline = start + 300
while n < total and time.monotonic() < deadline:
    for m in c.consume(num_messages=10000, timeout=1.0):
        if m.error() is None:
            n += 1; payload += len(m.value())
wall = time.monotonic() - start; cpu1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
print(n, wall, cpu)
c.close()
"#;

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Process CPU time (user + system, all threads) in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields, in clock ticks (100 per second on Linux).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn fill(client: &KafkaClient, topic: &str, records: usize, size: usize) -> kafka_sync::Result<()> {
    client.create_topic(topic, PARTITIONS, 1)?;
    let meta = client.topic(topic)?.metadata()?;
    let value = vec![b'x'; size];
    let per_partition = records / PARTITIONS as usize;
    for p in 0..PARTITIONS {
        let leader = meta.partition(p).and_then(|m| m.leader).unwrap_or(0);
        let conn = client.connection(leader)?;
        let mut left = per_partition;
        while left > 0 {
            let n = left.min(PER_BATCH);
            let mut builder = BatchBuilder::new(BatchOptions::default());
            for i in 0..n {
                let key = format!("key-{i}");
                builder
                    .append(0, Some(key.as_bytes()), Some(&value), &[])
                    .map_err(|e| kafka_sync::Error::Config(format!("building a batch: {e}")))?;
            }
            let records = builder
                .build()
                .map_err(|e| kafka_sync::Error::Config(format!("building a batch: {e}")))?;
            conn.request(&ProduceRequest {
                transactional_id: None,
                acks: 1,
                timeout_ms: 30_000,
                topic_data: vec![TopicProduceData {
                    name: topic.to_owned(),
                    partition_data: vec![PartitionProduceData { index: p, records }],
                }],
            })?;
            left -= n;
        }
    }
    Ok(())
}

struct Run {
    messages: usize,
    wall: f64,
    cpu: f64,
}

impl Run {
    fn print(&self, who: &str, size: usize) {
        println!(
            "| {who:<22} | {size:>6} B | {:>9} | {:>10.0} | {:>7.2} s | {:>8.2} |",
            self.messages,
            self.messages as f64 / self.wall,
            self.wall,
            self.cpu / (self.messages as f64 / 1e6),
        );
    }
}

fn ours(client: &KafkaClient, topic: &str, total: usize) -> kafka_sync::Result<Run> {
    let start = Instant::now();
    let cpu0 = cpu_seconds();
    let consumer = client.topic(topic)?.get_simple_consumer(
        SimpleConsumerConfig::default()
            .auto_offset_reset(OffsetReset::Earliest)
            .consumer_timeout(Duration::from_secs(10)),
    )?;
    let mut messages = 0;
    let mut payload = 0usize;
    for message in &consumer {
        let message = message?;
        payload += message.value_bytes().len();
        messages += 1;
        if messages == total {
            break;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    drop(consumer);
    assert!(payload > 0);
    Ok(Run {
        messages,
        wall,
        cpu,
    })
}

fn librdkafka(bootstrap: &str, topic: &str, total: usize) -> Option<Run> {
    let output = Command::new("python3")
        .args(["-c", PYTHON, bootstrap, topic])
        .arg(PARTITIONS.to_string())
        .arg(total.to_string())
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!(
            "confluent-kafka run failed (pip install confluent-kafka?): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut fields = text.split_whitespace();
    Some(Run {
        messages: fields.next()?.parse().ok()?,
        wall: fields.next()?.parse().ok()?,
        cpu: fields.next()?.parse().ok()?,
    })
}

fn main() -> kafka_sync::Result<()> {
    let broker = Broker::start()?;
    let client = KafkaClient::new(&broker.bootstrap())?;
    let cases = [
        (100, env_count("BENCH_RECORDS_100", 1_000_000)),
        (1024, env_count("BENCH_RECORDS_1K", 250_000)),
    ];
    println!(
        "| consumer               | record   | messages  | msgs/s     | wall      | CPU s/M  |"
    );
    println!(
        "|------------------------|----------|-----------|------------|-----------|----------|"
    );
    for (size, records) in cases {
        let topic = testkit::unique_name(&format!("bench-consume-{size}"));
        fill(&client, &topic, records, size)?;
        let total = records / PARTITIONS as usize * PARTITIONS as usize;
        ours(&client, &topic, total)?.print("kafka-sync SimpleConsumer", size);
        if let Some(run) = librdkafka(&broker.bootstrap(), &topic, total) {
            run.print("confluent-kafka assign", size);
        }
        client.delete_topic(&topic)?;
    }
    Ok(())
}
