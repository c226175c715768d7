//! Side-by-side benchmark: kafka-sync against librdkafka (rust-rdkafka,
//! librdkafka built from source), in the same run, against the same
//! throwaway broker (`kafka_sync::testkit::Broker`, tansu).
//!
//! ```sh
//! cargo run --release -p kafka-sync-peers              # the full run; rewrites docs/benchmarks.md's table and chart
//! cargo run --release -p kafka-sync-peers -- --smoke   # a few thousand records, nothing written (CI)
//! ```
//!
//! Each measured run is a child process of this binary (`__worker`), so the
//! CPU time (getrusage, user + system, every thread) and peak RSS (`VmHWM`)
//! are that client's alone; the broker and this parent are not counted. Rounds
//! alternate the two clients and the table gives the median of the rounds.
//! See docs/benchmarks.md ("kafka-sync against librdkafka") for the method.

mod chart;
mod report;
mod worker;

use std::process::Command;
use std::time::{Duration, Instant};

use kafka_sync::testkit::{unique_name, Broker};
use kafka_sync::{Compression, KafkaClient, ProducerConfig, Record};

/// Partitions of every benchmark topic.
pub const PARTITIONS: i32 = 4;

/// The two clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    KafkaSync,
    Librdkafka,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::KafkaSync => "kafka-sync",
            Client::Librdkafka => "librdkafka",
        }
    }

    fn parse(s: &str) -> Option<Client> {
        [Client::KafkaSync, Client::Librdkafka]
            .into_iter()
            .find(|c| c.name() == s)
    }
}

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Produce keyed records with one header, acks=all, linger 5 ms,
    /// delivery reports on.
    Produce,
    /// Read a backlog from offset 0, every partition assigned (no group):
    /// `SimpleConsumer` / librdkafka `assign`.
    Assign,
    /// Read the backlog as the only member of a fresh group:
    /// `BalancedConsumer` / librdkafka `subscribe`.
    Group,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Produce => "produce",
            Workload::Assign => "consume (assign)",
            Workload::Group => "consume (group)",
        }
    }

    fn arg(self) -> &'static str {
        match self {
            Workload::Produce => "produce",
            Workload::Assign => "assign",
            Workload::Group => "group",
        }
    }

    fn parse(s: &str) -> Option<Workload> {
        [Workload::Produce, Workload::Assign, Workload::Group]
            .into_iter()
            .find(|w| w.arg() == s)
    }
}

/// Text-like values: compressible, but not trivially.
pub fn values(size: usize, count: usize) -> Vec<Vec<u8>> {
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

/// The command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub smoke: bool,
    pub rounds: usize,
    pub sizes: Vec<usize>,
    pub codecs: Vec<Compression>,
    pub workloads: Vec<Workload>,
    pub write: bool,
    /// Scales every record count (1.0: the defaults below).
    pub scale: f64,
    /// Runs only this client (for profiling one of them).
    pub only: Option<Client>,
}

fn usage() -> ! {
    eprintln!(
        "usage: kafka-sync-peers [--smoke] [--rounds N] [--sizes 100,1024,10240] \
         [--codecs none,gzip,snappy,lz4,zstd] [--workloads produce,assign,group] [--scale F] [--no-write] [--only kafka-sync|librdkafka]"
    );
    std::process::exit(2)
}

fn parse(args: &[String]) -> Options {
    let mut o = Options {
        smoke: false,
        rounds: 3,
        sizes: vec![100, 1024, 10240],
        codecs: vec![
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ],
        workloads: vec![Workload::Produce, Workload::Assign, Workload::Group],
        write: true,
        scale: 1.0,
        only: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--smoke" => {
                o.smoke = true;
                o.rounds = 1;
                o.sizes = vec![100, 1024];
                o.codecs = vec![Compression::None, Compression::Lz4];
                o.write = false;
                o.scale = 0.005;
            }
            "--rounds" => o.rounds = value().parse().unwrap_or_else(|_| usage()),
            "--scale" => o.scale = value().parse().unwrap_or_else(|_| usage()),
            "--sizes" => {
                o.sizes = value()
                    .split(',')
                    .map(|s| s.parse().unwrap_or_else(|_| usage()))
                    .collect()
            }
            "--codecs" => {
                o.codecs = value()
                    .split(',')
                    .map(|s| s.parse().unwrap_or_else(|_| usage()))
                    .collect()
            }
            "--workloads" => {
                o.workloads = value()
                    .split(',')
                    .map(|s| Workload::parse(s).unwrap_or_else(|| usage()))
                    .collect()
            }
            "--no-write" => o.write = false,
            "--only" => {
                o.only = Some(Client::parse(&value()).unwrap_or_else(|| usage()));
                o.write = false;
            }
            _ => usage(),
        }
    }
    o
}

/// Records of one run: about 100 MB (100 B), 300 MB (1 KiB) and 1.1 GB
/// (10 KiB, the consumers' memory check) uncompressed; a third with a codec.
fn record_count(o: &Options, size: usize, codec: Compression) -> usize {
    let base: f64 = match size {
        0..=200 => 1_000_000.0,
        201..=2048 => 300_000.0,
        _ => 110_000.0,
    };
    let codec_factor = if codec == Compression::None {
        1.0
    } else {
        1.0 / 3.0
    };
    let n = ((base * codec_factor * o.scale) as usize).max(1000);
    if size > 2048 && codec == Compression::None && !o.smoke {
        // The consumers' memory check: a backlog of at least 1 GB.
        n.max((1_050_000_000 / size).max(1))
    } else {
        n
    }
}

/// One measured run.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub records: usize,
    pub seconds: f64,
    pub cpu: f64,
    pub rss_kib: u64,
}

/// One line of results: the runs of one client on one workload.
#[derive(Debug, Clone)]
pub struct Row {
    pub workload: Workload,
    pub size: usize,
    pub codec: Compression,
    pub client: Client,
    pub runs: Vec<Run>,
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

/// Runs one workload of one client in a child process.
fn child(
    client: Client,
    workload: Workload,
    bootstrap: &str,
    topic: &str,
    size: usize,
    codec: Compression,
    records: usize,
) -> Result<Run, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = Command::new(exe)
        .arg("__worker")
        .args([
            client.name(),
            workload.arg(),
            bootstrap,
            topic,
            &size.to_string(),
            codec_name(codec),
            &records.to_string(),
        ])
        .output()
        .map_err(|e| format!("starting the worker: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find(|l| l.starts_with("RESULT "));
    let (Some(line), true) = (line, output.status.success()) else {
        return Err(format!(
            "{} {} failed ({}): {}",
            client.name(),
            workload.name(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    };
    let f: Vec<&str> = line.split_whitespace().skip(1).collect();
    let bad = || format!("worker printed `{line}`");
    Ok(Run {
        records: f.first().and_then(|s| s.parse().ok()).ok_or_else(bad)?,
        seconds: f.get(1).and_then(|s| s.parse().ok()).ok_or_else(bad)?,
        cpu: f.get(2).and_then(|s| s.parse().ok()).ok_or_else(bad)?,
        rss_kib: f.get(3).and_then(|s| s.parse().ok()).ok_or_else(bad)?,
    })
}

/// Writes `records` records of `size` bytes into a fresh topic, for the
/// consumers (not timed).
fn fill(
    client: &KafkaClient,
    size: usize,
    codec: Compression,
    records: usize,
) -> Result<String, String> {
    let name = unique_name("peers-backlog");
    client
        .create_topic(&name, PARTITIONS, 1)
        .map_err(|e| e.to_string())?;
    let topic = client.topic(&name).map_err(|e| e.to_string())?;
    let producer = topic
        .get_producer(
            ProducerConfig::default()
                .linger(Duration::from_millis(5))
                .compression(codec),
        )
        .map_err(|e| e.to_string())?;
    let pool: Vec<kafka_sync::Bytes> = values(size, 1024)
        .into_iter()
        .map(kafka_sync::Bytes::from)
        .collect();
    for i in 0..records {
        let record = Record::new(pool[i % pool.len()].clone())
            .key((i as u64).to_be_bytes())
            .header("h", kafka_sync::Bytes::from_static(b"v"));
        producer.send(record).map_err(|e| e.to_string())?;
    }
    producer
        .flush(Duration::from_secs(600))
        .map_err(|e| e.to_string())?;
    Ok(name)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn bench(o: &Options) -> Result<Vec<Row>, String> {
    let broker = Broker::start().map_err(|e| e.to_string())?;
    let bootstrap = broker.bootstrap();
    let client = KafkaClient::new(&bootstrap).map_err(|e| e.to_string())?;
    let mut rows: Vec<Row> = Vec::new();
    let clients = [Client::KafkaSync, Client::Librdkafka];
    for &size in &o.sizes {
        for &codec in &o.codecs {
            let records = record_count(o, size, codec);
            // The headline (no codec) gets every round; the codec rows one.
            let rounds = if codec == Compression::None {
                o.rounds
            } else {
                1
            };
            let mut backlog: Option<String> = None;
            let mut results: Vec<[Vec<Run>; 2]> = o
                .workloads
                .iter()
                .map(|_| [Vec::new(), Vec::new()])
                .collect();
            // Produce rounds first (before the backlog exists), then rounds
            // of the consume workloads, each round running assign and group
            // in turn: a change in the machine's load lands on both alike,
            // so their rows stay comparable (issue 13: run in blocks, a busier
            // stretch during the group block read as a slower group consumer).
            let indexed: Vec<(usize, Workload)> = o.workloads.iter().copied().enumerate().collect();
            let (produce, consume): (Vec<_>, Vec<_>) = indexed
                .into_iter()
                .partition(|&(_, w)| w == Workload::Produce);
            let schedule: Vec<(usize, usize, Workload)> = [produce, consume]
                .iter()
                .flat_map(|block| {
                    (0..rounds).flat_map(move |round| {
                        block.iter().map(move |&(w, workload)| (round, w, workload))
                    })
                })
                .collect();
            for (round, w, workload) in schedule {
                for turn in 0..2 {
                    // Alternate which client goes first.
                    let which = (round + turn) % 2;
                    let who = clients[which];
                    if o.only.is_some_and(|only| only != who) {
                        continue;
                    }
                    let topic = match workload {
                        Workload::Produce => {
                            let name = unique_name("peers-produce");
                            client
                                .create_topic(&name, PARTITIONS, 1)
                                .map_err(|e| e.to_string())?;
                            name
                        }
                        Workload::Assign | Workload::Group => match &backlog {
                            Some(name) => name.clone(),
                            None => {
                                let name = fill(&client, size, codec, records)?;
                                backlog = Some(name.clone());
                                name
                            }
                        },
                    };
                    let run = child(who, workload, &bootstrap, &topic, size, codec, records)?;
                    eprintln!(
                            "{:<10} {:<17} {:>6} B {:<6} round {}: {:>10.0} msgs/s {:>8.1} MB/s CPU {:>6.2} s/M RSS {:>6.1} MB (load {})",
                            who.name(),
                            workload.name(),
                            size,
                            codec_name(codec),
                            round + 1,
                            run.records as f64 / run.seconds,
                            (run.records * size) as f64 / run.seconds / 1e6,
                            run.cpu / run.records as f64 * 1e6,
                            run.rss_kib as f64 / 1024.0,
                            load_average(),
                        );
                    results[w][which].push(run);
                    if workload == Workload::Produce {
                        let _ = client.delete_topic(&topic);
                    }
                }
            }
            for (&workload, per_client) in o.workloads.iter().zip(results) {
                for (i, runs) in per_client.into_iter().enumerate() {
                    rows.push(Row {
                        workload,
                        size,
                        codec,
                        client: clients[i],
                        runs,
                    });
                }
            }
            if let Some(name) = backlog {
                let _ = client.delete_topic(&name);
            }
        }
    }
    Ok(rows)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("__worker") {
        if let Err(e) = worker::run(&args[1..]) {
            eprintln!("{e}");
            std::process::exit(1);
        }
        return;
    }
    let o = parse(&args);
    let started = Instant::now();
    let load_before = load_average();
    let rows = match bench(&o) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            std::process::exit(1);
        }
    };
    let context = report::Context {
        load_before,
        load_after: load_average(),
        minutes: started.elapsed().as_secs_f64() / 60.0,
        options: o.clone(),
    };
    let table = report::markdown(&rows, &context);
    println!("{table}");
    if o.write {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let doc = root.join("docs/benchmarks.md");
        let svg = root.join("docs/benchmarks-peers.svg");
        if let Err(e) = report::write_into(&doc, &table).and_then(|()| chart::draw(&rows, &svg)) {
            eprintln!("writing the results failed: {e}");
            std::process::exit(1);
        }
        eprintln!("wrote {} and {}", doc.display(), svg.display());
    }
}
