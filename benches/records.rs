//! Record batch codec throughput: encode (append + build) and decode (split,
//! CRC check, decompress, iterate records) of 64 KiB batches of 100 B and
//! 1 KiB records, for every codec. Throughput counts record values only.
//!
//! Run: `cargo bench --bench records -- --warm-up-time 1 --measurement-time 2`
//! (figures in docs/benchmarks.md). zstd runs through the pure-Rust `ruzstd`
//! by default and through libzstd with `--features zstd-c`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kafka_sync::protocol::records::{
    decode_batches, BatchBuilder, BatchOptions, Compression, DecodeOptions,
};

const BATCH_PAYLOAD: usize = 64 * 1024;
const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// Values that look like log lines or JSON events: compressible, not trivially.
fn values(size: usize) -> Vec<Vec<u8>> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..BATCH_PAYLOAD / size)
        .map(|i| {
            let mut v = format!(
                "{{\"id\":{i},\"user\":\"user-{}\",\"event\":\"page_view\",\"data\":\"",
                i % 97
            )
            .into_bytes();
            while v.len() < size {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                v.push(b'a' + (state % 16) as u8);
            }
            v.truncate(size);
            v
        })
        .collect()
}

fn encode(compression: Compression, values: &[Vec<u8>]) -> Vec<u8> {
    let options = BatchOptions::default().with_compression(compression, None);
    let mut builder = BatchBuilder::with_capacity(options, BATCH_PAYLOAD + values.len() * 24);
    for (i, value) in values.iter().enumerate() {
        let key = (i as u64).to_be_bytes();
        builder
            .append(1_700_000_000_000 + i as i64, Some(&key), Some(value), &[])
            .expect("append");
    }
    builder.build().expect("build")
}

fn decode(bytes: &[u8]) -> usize {
    let mut total = 0;
    for batch in decode_batches(bytes, DecodeOptions::default()) {
        let batch = batch.expect("batch");
        for record in batch.records().expect("records") {
            let record = record.expect("record");
            total += record.value.map_or(0, <[u8]>::len) + record.key.map_or(0, <[u8]>::len);
        }
    }
    total
}

fn bench(c: &mut Criterion) {
    for size in [100usize, 1024] {
        let label = if size == 1024 { "1KiB" } else { "100B" };
        let values = values(size);
        let payload = (values.len() * size) as u64;

        let mut group = c.benchmark_group(format!("records/encode/{label}"));
        group.throughput(Throughput::Bytes(payload));
        for codec in CODECS {
            group.bench_with_input(BenchmarkId::from_parameter(codec), &values, |b, values| {
                b.iter(|| encode(codec, black_box(values)))
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("records/decode/{label}"));
        group.throughput(Throughput::Bytes(payload));
        for codec in CODECS {
            let bytes = encode(codec, &values);
            // The compression ratio, to read beside the speed.
            eprintln!(
                "{label} {codec}: {payload} B of values in a {} B batch",
                bytes.len()
            );
            group.bench_with_input(BenchmarkId::from_parameter(codec), &bytes, |b, bytes| {
                b.iter(|| decode(black_box(bytes)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
