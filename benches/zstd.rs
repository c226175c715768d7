//! zstd backends side by side on the same bytes: the pure-Rust `ruzstd` (the
//! default `zstd` feature) and libzstd through the `zstd` crate (the `zstd-c`
//! feature). Decoding reads frames libzstd wrote at level 3, as the Java
//! producer and librdkafka write them by default, so both decoders get the
//! same input; encoding writes each backend's own frames (ruzstd has one
//! level, about zstd's level 1). The input is one 64 KiB batch payload of
//! JSON-like 100 B and 1 KiB values, as in `benches/records.rs`.
//!
//! Run: `cargo bench --bench zstd -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;
use std::io::Read;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const PAYLOAD: usize = 64 * 1024;

/// Values like `benches/records.rs` writes, concatenated.
fn payload(size: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut out = Vec::with_capacity(PAYLOAD);
    for i in 0..PAYLOAD / size {
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
        out.extend_from_slice(&v);
    }
    out
}

fn ruzstd_decode(frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(PAYLOAD);
    ruzstd::decoding::StreamingDecoder::new(frame)
        .expect("frame header")
        .read_to_end(&mut out)
        .expect("frame");
    out
}

fn bench(c: &mut Criterion) {
    for size in [100usize, 1024] {
        let label = if size == 1024 { "1KiB" } else { "100B" };
        let input = payload(size);
        let c_frame = zstd::bulk::compress(&input, 3).expect("libzstd");
        let c_frame_1 = zstd::bulk::compress(&input, 1).expect("libzstd");
        let mut rust_frame = Vec::new();
        ruzstd::encoding::compress(
            &input[..],
            &mut rust_frame,
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert_eq!(ruzstd_decode(&c_frame), input);
        assert_eq!(
            zstd::stream::decode_all(&rust_frame[..]).expect("libzstd"),
            input
        );
        eprintln!(
            "{label}: {} B -> libzstd level 3 {} B, level 1 {} B, ruzstd {} B",
            input.len(),
            c_frame.len(),
            c_frame_1.len(),
            rust_frame.len()
        );

        let mut group = c.benchmark_group(format!("zstd/decode/{label}"));
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function("libzstd", |b| {
            b.iter(|| zstd::bulk::decompress(black_box(&c_frame), PAYLOAD).expect("libzstd"))
        });
        group.bench_function("ruzstd", |b| b.iter(|| ruzstd_decode(black_box(&c_frame))));
        group.finish();

        let mut group = c.benchmark_group(format!("zstd/encode/{label}"));
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function("libzstd-3", |b| {
            b.iter(|| zstd::bulk::compress(black_box(&input), 3).expect("libzstd"))
        });
        group.bench_function("libzstd-1", |b| {
            b.iter(|| zstd::bulk::compress(black_box(&input), 1).expect("libzstd"))
        });
        group.bench_function("ruzstd", |b| {
            b.iter(|| {
                let mut out = Vec::new();
                ruzstd::encoding::compress(
                    black_box(&input[..]),
                    &mut out,
                    ruzstd::encoding::CompressionLevel::Fastest,
                );
                out
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
