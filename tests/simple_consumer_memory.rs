//! The prefetch queue keeps memory bounded however large the backlog. Alone
//! in its test binary so the process's resident set is this test's own.

#![cfg(feature = "testkit")]

mod support;

use std::time::Duration;

use kafka_sync::testkit::unique_name;
use kafka_sync::{OffsetReset, SimpleConsumerConfig};
use support::*;

/// The process's resident set size in bytes (Linux `VmRSS`).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kb * 1024
}

#[test]
fn memory_stays_bounded_while_reading_a_backlog_much_larger_than_the_queue() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("skipped: no /proc/self/status to read the resident set from");
        return;
    }
    const RECORD: usize = 10 * 1024;
    const PER_BATCH: usize = 100;
    const BATCHES: usize = 100; // 100 MB of backlog
    let client = client();
    let name = unique_name("backlog");
    client.create_topic(&name, 1, 1).unwrap();
    let value = vec![b'x'; RECORD];
    let batch: Vec<Rec> = (0..PER_BATCH).map(|_| Rec::value(&value)).collect();
    for _ in 0..BATCHES {
        produce_batch(&client, &name, 0, &batch);
    }
    let baseline = rss();

    // About 1 MB queued plus one fetch of about 2 MiB (the per-partition
    // limit would say 1 MiB, but tansu 0.6.0 ignores it and answers up to
    // about `fetch_max_bytes`): under 10 MB in all.
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(
            SimpleConsumerConfig::default()
                .auto_offset_reset(OffsetReset::Earliest)
                .queued_max_messages(100)
                .fetch_max_bytes(2 << 20),
        )
        .unwrap();
    consume_n(&consumer, 1);
    // Give an unbounded fetcher time to pull the whole backlog in.
    std::thread::sleep(Duration::from_secs(2));
    let mut peak = rss();
    let total = PER_BATCH * BATCHES;
    let mut read = 1;
    while read < total {
        let got = consume_n(&consumer, 1000.min(total - read));
        assert!(got.iter().all(|m| m.value_bytes().len() == RECORD));
        read += got.len();
        peak = peak.max(rss());
    }
    let growth = peak.saturating_sub(baseline);
    eprintln!(
        "backlog {} MB, resident set grew by {} MB",
        (RECORD * total) >> 20,
        growth >> 20
    );
    assert!(
        growth < 40 << 20,
        "resident set grew by {} MB",
        growth >> 20
    );
}
