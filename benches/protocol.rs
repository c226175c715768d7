//! Response decoding, hand-written codec against the generated
//! `kafka-protocol` crate, on the same bytes: a Metadata v12 answer for 100
//! topics of 10 partitions (3 brokers, replication 3) and a Fetch v12 answer
//! for 10 topics of 10 partitions, each holding a 1 KiB record batch. Neither
//! decoder parses or copies the records (ours keeps their range in the frame,
//! the generated one a `Bytes` slice of it), so the Fetch figure is the cost
//! of the structure around them. The number and bytes of allocations per
//! decode are counted once, before timing, and printed.
//!
//! Run: `cargo bench --bench protocol -- --warm-up-time 1 --measurement-time 3`
//! (figures in docs/benchmarks.md).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion};
use kafka_protocol::messages as generated;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_sync::protocol::api::{FetchRequest, MetadataRequest};
use kafka_sync::protocol::decode_response;

/// Counts allocations and allocated bytes, for the per-decode figures.
struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`; counting is two
// relaxed atomic additions.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocations and bytes allocated by `f`.
fn count(f: impl FnOnce()) -> (usize, usize) {
    let (n, b) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        ALLOCATED.load(Ordering::Relaxed),
    );
    f();
    (
        ALLOCATIONS.load(Ordering::Relaxed) - n,
        ALLOCATED.load(Ordering::Relaxed) - b,
    )
}

const CORRELATION_ID: i32 = 7;
const METADATA_VERSION: i16 = 12;
const FETCH_VERSION: i16 = 12;

fn name(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn uuid<T: std::str::FromStr>(t: usize) -> T
where
    T::Err: std::fmt::Debug,
{
    format!("00000000-0000-4000-8000-{:012x}", t + 1)
        .parse()
        .expect("a well-formed UUID")
}

fn metadata_answer(topics: usize, partitions: i32) -> generated::MetadataResponse {
    use generated::metadata_response::*;
    let brokers = (0..3)
        .map(|id| {
            MetadataResponseBroker::default()
                .with_node_id(generated::BrokerId(id))
                .with_host(name(&format!("broker-{id}.kafka.internal")))
                .with_port(9092)
                .with_rack(Some(name(&format!("rack-{id}"))))
        })
        .collect();
    let topics = (0..topics)
        .map(|t| {
            let partitions = (0..partitions)
                .map(|p| {
                    let replicas: Vec<_> =
                        (0..3).map(|r| generated::BrokerId((p + r) % 3)).collect();
                    MetadataResponsePartition::default()
                        .with_partition_index(p)
                        .with_leader_id(replicas[0])
                        .with_leader_epoch(5)
                        .with_replica_nodes(replicas.clone())
                        .with_isr_nodes(replicas)
                })
                .collect();
            MetadataResponseTopic::default()
                .with_name(Some(generated::TopicName(name(&format!("events-{t:03}")))))
                .with_topic_id(uuid(t))
                .with_partitions(partitions)
        })
        .collect();
    generated::MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id(Some(name("cluster-a")))
        .with_controller_id(generated::BrokerId(1))
        .with_topics(topics)
}

fn fetch_answer(topics: usize, partitions: i32, records: &Bytes) -> generated::FetchResponse {
    use generated::fetch_response::*;
    let responses = (0..topics)
        .map(|t| {
            let partitions = (0..partitions)
                .map(|p| {
                    PartitionData::default()
                        .with_partition_index(p)
                        .with_high_watermark(1000)
                        .with_last_stable_offset(1000)
                        .with_log_start_offset(0)
                        .with_aborted_transactions(Some(Vec::new()))
                        .with_records(Some(records.clone()))
                })
                .collect();
            FetchableTopicResponse::default()
                .with_topic(generated::TopicName(name(&format!("events-{t:03}"))))
                .with_partitions(partitions)
        })
        .collect();
    generated::FetchResponse::default()
        .with_session_id(12)
        .with_responses(responses)
}

/// A 1 KiB RecordBatch v2: ten 100 B values.
fn record_batch() -> Bytes {
    use kafka_sync::protocol::records::{BatchBuilder, BatchOptions};
    let mut builder = BatchBuilder::with_capacity(BatchOptions::default(), 1200);
    for i in 0..10i64 {
        builder
            .append(1_700_000_000_000 + i, Some(b"key"), Some(&[b'x'; 92]), &[])
            .expect("append");
    }
    Bytes::from(builder.build().expect("build"))
}

/// A flexible response frame (no size prefix): correlation id, empty header
/// tags, then `message`'s body.
fn frame<M: Encodable>(message: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&CORRELATION_ID.to_be_bytes());
    buf.extend_from_slice(&[0]);
    message.encode(&mut buf, version).expect("encodable");
    buf.freeze()
}

/// Decodes the body of a flexible frame with the generated crate.
fn generated_decode<M: Decodable>(frame: &Bytes, version: i16) -> M {
    let mut body = frame.slice(5..);
    M::decode(&mut body, version).expect("decodable")
}

fn bench(c: &mut Criterion) {
    let metadata = frame(&metadata_answer(100, 10), METADATA_VERSION);
    let fetch = frame(&fetch_answer(10, 10, &record_batch()), FETCH_VERSION);
    let ours_metadata =
        || decode_response::<MetadataRequest>(&metadata, METADATA_VERSION, CORRELATION_ID).unwrap();
    let ours_fetch =
        || decode_response::<FetchRequest>(&fetch, FETCH_VERSION, CORRELATION_ID).unwrap();
    let theirs_metadata =
        || generated_decode::<generated::MetadataResponse>(&metadata, METADATA_VERSION);
    let theirs_fetch = || generated_decode::<generated::FetchResponse>(&fetch, FETCH_VERSION);

    for (what, len, ours, theirs) in [
        (
            "metadata",
            metadata.len(),
            count(|| drop(ours_metadata())),
            count(|| drop(theirs_metadata())),
        ),
        (
            "fetch",
            fetch.len(),
            count(|| drop(ours_fetch())),
            count(|| drop(theirs_fetch())),
        ),
    ] {
        eprintln!(
            "{what}: {len} B frame; hand-written {} allocations / {} B, kafka-protocol {} allocations / {} B",
            ours.0, ours.1, theirs.0, theirs.1
        );
    }

    let mut group = c.benchmark_group("protocol/decode/metadata-100x10");
    group.bench_function("hand-written", |b| b.iter(|| black_box(ours_metadata())));
    group.bench_function("kafka-protocol", |b| {
        b.iter(|| black_box(theirs_metadata()))
    });
    group.finish();

    let mut group = c.benchmark_group("protocol/decode/fetch-10x10");
    group.bench_function("hand-written", |b| b.iter(|| black_box(ours_fetch())));
    group.bench_function("kafka-protocol", |b| b.iter(|| black_box(theirs_fetch())));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
