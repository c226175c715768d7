//! Throughput benchmark against a throwaway broker (or `KAFKA_BOOTSTRAP`).
//!
//! ```sh
//! cargo run --release --example bench --features testkit -- produce
//! cargo run --release --example bench --features testkit -- produce --records 1000000 \
//!     --sizes 100,1024 --codecs none,gzip,snappy,lz4,zstd --python
//! ```
//!
//! Modes:
//! - `produce`: records of each size with each codec into a 4-partition
//!   topic, acks=all, linger 5 ms; prints msgs/s, MB/s (payload) and CPU
//!   seconds of this process per million records. `--python` runs the same
//!   load through confluent-kafka (librdkafka) for comparison.

use std::process::Command;
use std::time::{Duration, Instant};

use kafka_sync::producer::{Acks, Compression, ProducerConfig};
use kafka_sync::testkit::{unique_name, Broker};
use kafka_sync::KafkaClient;

struct Options {
    records: Option<usize>,
    sizes: Vec<usize>,
    codecs: Vec<Compression>,
    partitions: i32,
    batch_size: usize,
    python: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench produce [--records N] [--sizes 100,1024] \
         [--codecs none,gzip,snappy,lz4,zstd] [--partitions 4] [--batch-size 16384] [--python]"
    );
    std::process::exit(2)
}

fn parse_codec(name: &str) -> Compression {
    match name {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        _ => usage(),
    }
}

fn codec_name(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Snappy => "snappy",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}

fn parse(args: &[String]) -> Options {
    let mut o = Options {
        records: None,
        sizes: vec![100, 1024],
        codecs: vec![
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ],
        partitions: 4,
        batch_size: 16 * 1024,
        python: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--records" => o.records = Some(value().parse().unwrap_or_else(|_| usage())),
            "--sizes" => {
                o.sizes = value()
                    .split(',')
                    .map(|s| s.parse().unwrap_or_else(|_| usage()))
                    .collect()
            }
            "--codecs" => o.codecs = value().split(',').map(parse_codec).collect(),
            "--partitions" => o.partitions = value().parse().unwrap_or_else(|_| usage()),
            "--batch-size" => o.batch_size = value().parse().unwrap_or_else(|_| usage()),
            "--python" => o.python = true,
            _ => usage(),
        }
    }
    o
}

/// CPU seconds (user + system) this process has used, from /proc (Linux).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which ends with ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0) // USER_HZ is 100 on Linux
}

/// Text-like values: compressible, but not trivially.
fn values(size: usize, count: usize) -> Vec<Vec<u8>> {
    let words = [
        "kafka ",
        "sync ",
        "record ",
        "batch ",
        "producer ",
        "offset ",
        "leader ",
        "topic ",
    ];
    let mut state = 0x2545_f491_u64;
    (0..count)
        .map(|_| {
            let mut v = Vec::with_capacity(size + 16);
            while v.len() < size {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                v.extend_from_slice(words[(state % 8) as usize].as_bytes());
                v.push(b'0' + (state >> 8) as u8 % 10);
            }
            v.truncate(size);
            v
        })
        .collect()
}

struct Result {
    records: usize,
    elapsed: Duration,
    cpu: Option<f64>,
    bytes: usize,
}

impl Result {
    fn print(&self, who: &str, size: usize, codec: &str) {
        let secs = self.elapsed.as_secs_f64();
        let cpu = self
            .cpu
            .map(|c| format!("{:>6.2}", c / self.records as f64 * 1e6))
            .unwrap_or_else(|| "     ?".into());
        println!(
            "{who:<14} {size:>5} B {codec:<6} {:>9} records {:>7.2} s {:>10.0} msgs/s {:>7.1} MB/s  CPU {cpu} s/M",
            self.records,
            secs,
            self.records as f64 / secs,
            self.bytes as f64 / secs / 1e6,
        );
    }
}

fn produce_ours(
    client: &KafkaClient,
    batch_size: usize,
    partitions: i32,
    size: usize,
    codec: Compression,
    records: usize,
) -> kafka_sync::Result<Result> {
    let name = unique_name("bench");
    client.create_topic(&name, partitions, 1)?;
    let topic = client.topic(&name)?;
    let producer = topic.get_producer(
        ProducerConfig::default()
            .acks(Acks::All)
            .linger(Duration::from_millis(5))
            .batch_size(batch_size)
            .compression(codec),
    )?;
    let pool = values(size, 1024);
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    for i in 0..records {
        producer.produce(pool[i % pool.len()].clone())?;
    }
    producer.flush(Duration::from_secs(300))?;
    let elapsed = start.elapsed();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    let m = producer.metrics();
    assert_eq!(m.records_sent as usize, records, "{m:?}");
    drop(producer);
    let _ = client.delete_topic(&name);
    Ok(Result {
        records,
        elapsed,
        cpu,
        bytes: records * size,
    })
}

const PYTHON_PRODUCE: &str = r#"
import sys, time, confluent_kafka
bootstrap, topic, size, codec, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
p = confluent_kafka.Producer({'bootstrap.servers': bootstrap, 'acks': 'all', 'linger.ms': 5,
                              'compression.type': codec, 'queue.buffering.max.messages': 1000000})
words = [b'kafka ', b'sync ', b'record ', b'batch ', b'producer ', b'offset ', b'leader ', b'topic ']
import random
random.seed(1)
pool = []
for _ in range(1024):
    v = b''
    while len(v) < size:
        v += random.choice(words) + str(random.randrange(10)).encode()
    pool.append(v[:size])
failed = [0]
def cb(err, msg):
    if err: failed[0] += 1
c0, t0 = time.process_time(), time.time()
for i in range(n):
    while True:
        try:
            p.produce(topic, pool[i % 1024], on_delivery=cb)
            break
        except BufferError:
            p.poll(0.01)
    if i % 10000 == 0:
        p.poll(0)
p.flush(300)
print(time.time() - t0, time.process_time() - c0, failed[0])
"#;

fn produce_python(
    client: &KafkaClient,
    bootstrap: &str,
    partitions: i32,
    size: usize,
    codec: Compression,
    records: usize,
) -> Option<Result> {
    let name = unique_name("bench-py");
    client.create_topic(&name, partitions, 1).ok()?;
    let output = Command::new("python3")
        .arg("-c")
        .arg(PYTHON_PRODUCE)
        .args([
            bootstrap,
            &name,
            &size.to_string(),
            codec_name(codec),
            &records.to_string(),
        ])
        .output()
        .ok()?;
    let _ = client.delete_topic(&name);
    if !output.status.success() {
        eprintln!(
            "confluent-kafka run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    let (elapsed, cpu, failed) = (fields.next()??, fields.next()??, fields.next()??);
    if failed > 0.0 {
        eprintln!("confluent-kafka: {failed} records failed");
    }
    Some(Result {
        records,
        elapsed: Duration::from_secs_f64(elapsed),
        cpu: Some(cpu),
        bytes: records * size,
    })
}

fn bench_produce(o: &Options) -> kafka_sync::Result<()> {
    let broker = Broker::start()?;
    let client = KafkaClient::new(&broker.bootstrap())?;
    println!(
        "broker {} ({}), {} partitions, acks=all, linger 5 ms, batch_size {} B (ours; librdkafka: its default); \
         CPU is the client process's user+system time",
        broker.bootstrap(),
        if broker.is_external() { "external" } else { "testkit tansu" },
        o.partitions,
        o.batch_size
    );
    for &size in &o.sizes {
        let records = o
            .records
            .unwrap_or(if size <= 200 { 1_000_000 } else { 300_000 });
        for &codec in &o.codecs {
            let ours = produce_ours(&client, o.batch_size, o.partitions, size, codec, records)?;
            ours.print("kafka-sync", size, codec_name(codec));
            if o.python {
                if let Some(theirs) = produce_python(
                    &client,
                    &broker.bootstrap(),
                    o.partitions,
                    size,
                    codec,
                    records,
                ) {
                    theirs.print("confluent-kafka", size, codec_name(codec));
                }
            }
        }
    }
    Ok(())
}

fn main() -> kafka_sync::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("produce") => bench_produce(&parse(&args[1..])),
        None => bench_produce(&parse(&[])),
        _ => usage(),
    }
}
