//! One measured run of one client, in a child process of the benchmark (so
//! that CPU time and peak RSS are that client's alone): `kafka-sync-peers
//! __worker CLIENT WORKLOAD BOOTSTRAP TOPIC SIZE CODEC RECORDS`. Prints one
//! line, `RESULT <records> <seconds> <cpu seconds> <peak RSS KiB>`.

use std::time::{Duration, Instant};

use kafka_sync::{
    BalancedConsumerConfig, Compression, KafkaClient, OffsetReset, ProducerConfig, Record,
    SimpleConsumerConfig, Subscription,
};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Message as _, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::{values, Client, Workload, PARTITIONS};

/// How long any one run may take before it counts as failed.
const RUN_LIMIT: Duration = Duration::from_secs(600);

/// The group workload's session timeout, the same for both clients. tansu
/// holds a group's first JoinGroup for half the session timeout (23 s with
/// the clients' default 45 s), so with the default the group rows start
/// reading after a long idle and the assign rows do not, and a run spends
/// most of its time waiting on joins (issue 13). Not a throughput setting:
/// it only shortens the join, which is not timed.
const GROUP_SESSION_TIMEOUT: Duration = Duration::from_secs(6);
/// Heartbeats within [`GROUP_SESSION_TIMEOUT`], both clients.
const GROUP_HEARTBEAT: Duration = Duration::from_secs(2);

/// Peak resident set of this process image, in KiB: `VmHWM` from
/// /proc/self/status. (getrusage's `ru_maxrss` would do, but Linux carries
/// it over from the parent's image across fork and exec, so every child would
/// report at least the benchmark's own peak.)
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU seconds and peak RSS (KiB) of this process.
pub fn rusage() -> (f64, u64) {
    // SAFETY: getrusage writes into the struct we pass and reads nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (
        secs(usage.ru_utime) + secs(usage.ru_stime),
        u64::try_from(usage.ru_maxrss).unwrap_or(0),
    )
}

/// What the child measured.
pub struct Measured {
    pub records: usize,
    pub elapsed: Duration,
    pub cpu: f64,
}

/// Runs one workload and prints its `RESULT` line.
pub fn run(args: &[String]) -> Result<(), String> {
    let [client, workload, bootstrap, topic, size, codec, records] = args else {
        return Err(format!("worker: expected 7 arguments, got {args:?}"));
    };
    let client = Client::parse(client).ok_or("worker: unknown client")?;
    let workload = Workload::parse(workload).ok_or("worker: unknown workload")?;
    let size: usize = size.parse().map_err(|_| "worker: bad size")?;
    let codec: Compression = codec.parse().map_err(|_| "worker: bad codec")?;
    let records: usize = records.parse().map_err(|_| "worker: bad record count")?;
    let measured = match (client, workload) {
        (Client::KafkaSync, Workload::Produce) => {
            ours_produce(bootstrap, topic, size, codec, records)
        }
        (Client::KafkaSync, Workload::Assign) => ours_assign(bootstrap, topic, records),
        (Client::KafkaSync, Workload::Group) => ours_group(bootstrap, topic, records),
        (Client::Librdkafka, Workload::Produce) => {
            rd_produce(bootstrap, topic, size, codec, records)
        }
        (Client::Librdkafka, Workload::Assign) => rd_consume(bootstrap, topic, records, false),
        (Client::Librdkafka, Workload::Group) => rd_consume(bootstrap, topic, records, true),
    }?;
    let rss = match peak_rss_kib() {
        0 => rusage().1,
        hwm => hwm,
    };
    println!(
        "RESULT {} {:.6} {:.6} {}",
        measured.records,
        measured.elapsed.as_secs_f64(),
        measured.cpu,
        rss
    );
    Ok(())
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Where timing starts: when `measure` calls its closure, or later, when
/// the closure says so (group consumers: at the first message, so that the
/// group join, which waits on the broker's rebalance timing, is not counted
/// as throughput).
struct Start(Instant, f64);

impl Start {
    fn now() -> Start {
        Start(Instant::now(), rusage().0)
    }
}

/// Times `f`, with the CPU it used.
fn measure(
    records: usize,
    f: impl FnOnce(&mut Start) -> Result<(), String>,
) -> Result<Measured, String> {
    let mut start = Start::now();
    f(&mut start)?;
    let elapsed = start.0.elapsed();
    let (cpu1, _) = rusage();
    Ok(Measured {
        records,
        elapsed,
        cpu: cpu1 - start.1,
    })
}

fn key(i: usize) -> [u8; 8] {
    (i as u64).to_be_bytes()
}

fn ours_produce(
    bootstrap: &str,
    topic: &str,
    size: usize,
    codec: Compression,
    records: usize,
) -> Result<Measured, String> {
    let client = KafkaClient::new(bootstrap).map_err(err)?;
    let topic = client.topic(topic).map_err(err)?;
    let producer = topic
        .get_producer(
            ProducerConfig::default()
                .linger(Duration::from_millis(5))
                .compression(codec)
                .delivery_reports(true),
        )
        .map_err(err)?;
    // Payloads shared, not copied: `Record` holds `Bytes`, and the record is
    // kept until its delivery report (librdkafka copies from a borrowed slice).
    let pool: Vec<kafka_sync::Bytes> = values(size, 1024)
        .into_iter()
        .map(kafka_sync::Bytes::from)
        .collect();
    let header_value = kafka_sync::Bytes::from_static(b"v");
    let reports = producer.producer().delivery_reports().clone();
    let mut failed = 0usize;
    let mut acked = 0usize;
    let m = measure(records, |_start| {
        for i in 0..records {
            let record = Record::new(pool[i % pool.len()].clone())
                .key(key(i))
                .header("h", header_value.clone());
            producer.send(record).map_err(err)?;
            while let Ok(report) = reports.try_recv() {
                acked += 1;
                failed += usize::from(!report.is_ok());
            }
        }
        producer.flush(RUN_LIMIT).map_err(err)?;
        while acked < records {
            let report = reports.recv_timeout(RUN_LIMIT).map_err(err)?;
            acked += 1;
            failed += usize::from(!report.is_ok());
        }
        Ok(())
    })?;
    if failed > 0 {
        return Err(format!("kafka-sync: {failed} records failed"));
    }
    Ok(m)
}

fn touch(value: &[u8], sum: &mut u64) {
    *sum = sum.wrapping_add(value.len() as u64 + u64::from(value.first().copied().unwrap_or(0)));
}

fn ours_assign(bootstrap: &str, topic: &str, records: usize) -> Result<Measured, String> {
    let client = KafkaClient::new(bootstrap).map_err(err)?;
    let topic = client.topic(topic).map_err(err)?;
    let mut sum = 0u64;
    let m = measure(records, |_start| {
        let consumer = topic
            .get_simple_consumer(
                SimpleConsumerConfig::default().auto_offset_reset(OffsetReset::Earliest),
            )
            .map_err(err)?;
        let deadline = Instant::now() + RUN_LIMIT;
        let mut seen = 0;
        while seen < records {
            let left = deadline.saturating_duration_since(Instant::now());
            let batch = consumer.consume_batch(10_000, left).map_err(err)?;
            if batch.is_empty() {
                return Err(format!("kafka-sync: {seen} of {records} records read"));
            }
            for m in &batch {
                touch(m.value_bytes(), &mut sum);
            }
            seen += batch.len();
        }
        Ok(())
    })?;
    std::hint::black_box(sum);
    Ok(m)
}

fn ours_group(bootstrap: &str, topic: &str, records: usize) -> Result<Measured, String> {
    let client = KafkaClient::new(bootstrap).map_err(err)?;
    let group = kafka_sync::testkit::unique_name("peers-group");
    let mut sum = 0u64;
    let m = measure(records, |start| {
        let consumer = client
            .get_balanced_consumer(
                &group,
                Subscription::topics([topic]),
                BalancedConsumerConfig::default()
                    .auto_offset_reset(OffsetReset::Earliest)
                    .enable_auto_commit(false)
                    .session_timeout(GROUP_SESSION_TIMEOUT)
                    .heartbeat_interval(GROUP_HEARTBEAT),
            )
            .map_err(err)?;
        let deadline = Instant::now() + RUN_LIMIT;
        let mut seen = 0;
        while seen < records {
            let left = deadline.saturating_duration_since(Instant::now());
            let batch = consumer.consume_batch(10_000, left).map_err(err)?;
            if batch.is_empty() {
                return Err(format!(
                    "kafka-sync group: {seen} of {records} records read"
                ));
            }
            if seen == 0 {
                *start = Start::now();
            }
            for m in &batch {
                touch(m.value_bytes(), &mut sum);
            }
            seen += batch.len();
        }
        consumer.close().map_err(err)
    })?;
    std::hint::black_box(sum);
    Ok(m)
}

/// Counts delivery reports.
struct Reports;

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {
        if result.is_ok() {
            DELIVERED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        } else {
            FAILED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

static DELIVERED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static FAILED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn rd_codec(codec: Compression) -> &'static str {
    match codec {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Snappy => "snappy",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}

fn rd_produce(
    bootstrap: &str,
    topic: &str,
    size: usize,
    codec: Compression,
    records: usize,
) -> Result<Measured, String> {
    let producer: BaseProducer<Reports> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("compression.type", rd_codec(codec))
        .create_with_context(Reports)
        .map_err(err)?;
    let pool = values(size, 1024);
    let m = measure(records, |_start| {
        for i in 0..records {
            let k = key(i);
            let headers = OwnedHeaders::new().insert(Header {
                key: "h",
                value: Some(b"v"),
            });
            let mut record = BaseRecord::to(topic)
                .payload(&pool[i % pool.len()][..])
                .key(&k[..])
                .headers(headers);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((
                        rdkafka::error::KafkaError::MessageProduction(
                            rdkafka::types::RDKafkaErrorCode::QueueFull,
                        ),
                        back,
                    )) => {
                        record = back;
                        producer.poll(Duration::from_millis(1));
                    }
                    Err((e, _)) => return Err(e.to_string()),
                }
            }
            if i % 1000 == 0 {
                producer.poll(Duration::ZERO);
            }
        }
        producer.flush(RUN_LIMIT).map_err(err)?;
        Ok(())
    })?;
    let failed = FAILED.load(std::sync::atomic::Ordering::Relaxed);
    let delivered = DELIVERED.load(std::sync::atomic::Ordering::Relaxed);
    if failed > 0 || delivered != records {
        return Err(format!(
            "librdkafka: {delivered} delivered, {failed} failed of {records}"
        ));
    }
    Ok(m)
}

fn rd_consume(
    bootstrap: &str,
    topic: &str,
    records: usize,
    group: bool,
) -> Result<Measured, String> {
    let group_id = kafka_sync::testkit::unique_name("peers-rd-group");
    let mut sum = 0u64;
    let m = measure(records, |start| {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", bootstrap)
            .set("group.id", &group_id)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest");
        if group {
            config
                .set(
                    "session.timeout.ms",
                    GROUP_SESSION_TIMEOUT.as_millis().to_string(),
                )
                .set(
                    "heartbeat.interval.ms",
                    GROUP_HEARTBEAT.as_millis().to_string(),
                );
        }
        let consumer: BaseConsumer = config.create().map_err(err)?;
        if group {
            consumer.subscribe(&[topic]).map_err(err)?;
        } else {
            let mut list = TopicPartitionList::new();
            for p in 0..PARTITIONS {
                list.add_partition_offset(topic, p, Offset::Beginning)
                    .map_err(err)?;
            }
            consumer.assign(&list).map_err(err)?;
        }
        let deadline = Instant::now() + RUN_LIMIT;
        let mut seen = 0;
        while seen < records {
            if Instant::now() > deadline {
                return Err(format!("librdkafka: {seen} of {records} records read"));
            }
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    if group && seen == 0 {
                        *start = Start::now();
                    }
                    touch(m.payload().unwrap_or_default(), &mut sum);
                    seen += 1;
                }
                Some(Err(e)) => return Err(e.to_string()),
                None => {}
            }
        }
        if group {
            consumer.unsubscribe();
        }
        Ok(())
    })?;
    std::hint::black_box(sum);
    Ok(m)
}
