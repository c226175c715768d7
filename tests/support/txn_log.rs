//! A partition's log as a transactional test sees it: data records of
//! transactional batches (with their producer id), plain records, and
//! transaction markers, read with raw Fetch requests (independent of the
//! consumer, which never hands out markers). CRCs are not checked: the mock
//! cluster writes its markers with a zero CRC.

use std::time::Instant;

use kafka_sync::protocol::records::{ControlRecordType, DecodeOptions};
use kafka_sync::KafkaClient;

use super::DEADLINE;

/// What one position of a partition's log holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A data record of a transactional batch, with its producer id.
    Data { value: String, producer_id: i64 },
    /// A data record outside any transaction.
    Plain(String),
    /// A transaction marker of a producer id.
    Marker(ControlRecordType, i64),
}

/// Reads `partition` of `topic` from the beginning with raw Fetch requests
/// until it holds `expected` entries (data records and markers).
pub fn log(client: &KafkaClient, topic: &str, partition: i32, expected: usize) -> Vec<Entry> {
    read(client, topic, partition, Some(expected))
}

/// Reads all of `partition` of `topic` that is written already: until
/// three fetches in a row bring nothing new (tansu's high watermark counts
/// batches, not records, so it cannot tell where the end is).
pub fn whole_log(client: &KafkaClient, topic: &str, partition: i32) -> Vec<Entry> {
    read(client, topic, partition, None)
}

fn read(client: &KafkaClient, topic: &str, partition: i32, expected: Option<usize>) -> Vec<Entry> {
    let deadline = Instant::now() + DEADLINE;
    let meta = client.topic(topic).unwrap().metadata().unwrap();
    let leader = meta.partition(partition).and_then(|p| p.leader).unwrap();
    let conn = client.connection(leader).unwrap();
    let options = DecodeOptions::default().with_check_crcs(false);
    let mut out = Vec::new();
    let mut offset = 0;
    let mut empty = 0;
    while expected.map_or(empty < 3, |n| out.len() < n) {
        assert!(
            Instant::now() < deadline,
            "read {} of {expected:?} entries of {topic}/{partition}: {out:?}",
            out.len()
        );
        let before = offset;
        super::broker::fetch_batches_with(
            &conn,
            (topic, meta.topic_id, partition),
            offset,
            100,
            1 << 20,
            options,
            |batch| {
                if batch.next_offset() <= offset {
                    return;
                }
                offset = batch.next_offset();
                let producer_id = batch.header().producer_id;
                if batch.is_control() {
                    let kind = batch.control_type().unwrap().unwrap();
                    out.push(Entry::Marker(kind, producer_id));
                    return;
                }
                let transactional = batch.is_transactional();
                for record in batch.records().unwrap() {
                    let value =
                        String::from_utf8_lossy(record.unwrap().value.unwrap()).into_owned();
                    out.push(if transactional {
                        Entry::Data { value, producer_id }
                    } else {
                        Entry::Plain(value)
                    });
                }
            },
        );
        empty = if offset == before { empty + 1 } else { 0 };
    }
    out
}

/// The data records' values, in log order.
pub fn values(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::Data { value, .. } | Entry::Plain(value) => Some(value.clone()),
            Entry::Marker(..) => None,
        })
        .collect()
}

/// The markers, in log order.
pub fn markers(entries: &[Entry]) -> Vec<ControlRecordType> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::Marker(m, _) => Some(*m),
            _ => None,
        })
        .collect()
}

/// What a read_committed reader of `entries` sees, computed from the
/// markers (for brokers that list no aborted transactions in Fetch
/// answers, as tansu): a transactional record counts once its producer's
/// next marker is a commit; plain records count at once. Records of a
/// transaction still open at the end are left out.
pub fn committed_values(entries: &[Entry]) -> Vec<String> {
    let mut out = Vec::new();
    let mut open: std::collections::HashMap<i64, Vec<String>> = Default::default();
    for entry in entries {
        match entry {
            Entry::Plain(v) => out.push(v.clone()),
            Entry::Data { value, producer_id } => {
                open.entry(*producer_id).or_default().push(value.clone());
            }
            Entry::Marker(kind, producer_id) => {
                let pending = open.remove(producer_id).unwrap_or_default();
                if *kind == ControlRecordType::Commit {
                    out.extend(pending);
                }
            }
        }
    }
    out
}
