//! Partitioner micro-benchmarks: murmur2 of typical keys, and the cost of
//! choosing a partition per record.
//!
//! ```sh
//! cargo bench --bench partitioner
//! ```

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kafka_sync::producer::{murmur2, murmur2_partition};

fn bench_murmur2(c: &mut Criterion) {
    let mut group = c.benchmark_group("murmur2");
    for len in [8usize, 36, 256] {
        let key: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(format!("{len} B key"), |b| {
            b.iter(|| murmur2(black_box(&key)))
        });
    }
    group.finish();
    c.bench_function("murmur2_partition 36 B key, 12 partitions", |b| {
        let key = b"0b9f3c2e-5a7d-4e1f-9c8b-2d6a4f0e1b3c";
        b.iter(|| murmur2_partition(black_box(key), black_box(12)))
    });
}

criterion_group!(benches, bench_murmur2);
criterion_main!(benches);
