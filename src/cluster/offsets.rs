//! Offset queries (ListOffsets): the earliest and latest offsets of
//! partitions and the offsets for a time, each asked of the partition's
//! leader, following leader moves until `request_timeout`.
//!
//! # References
//! Kafka protocol guide, "ListOffsets API"; KIP-79 (offsets by timestamp).

use std::collections::BTreeMap;

use super::client::KafkaClient;
use crate::error::{Error, Result, TimeoutKind};
use crate::protocol::api::{ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic};
use crate::protocol::ErrorCode;

/// An offset found by a ListOffsets query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListedOffset {
    /// The offset; `-1` when no record matches (a timestamp past the last record).
    pub offset: i64,
    /// The matching record's timestamp (`-1` for earliest/latest queries).
    pub timestamp: i64,
    /// The leader epoch of the offset, `-1` when unknown.
    pub leader_epoch: i32,
}

/// ListOffsets special timestamps.
pub(crate) const EARLIEST: i64 = -2;
pub(crate) const LATEST: i64 = -1;

impl KafkaClient {
    /// Looks up offsets for `(partition, timestamp)` pairs of `topic`, where
    /// the timestamp is a time in ms, `-1` for the latest offset (the high
    /// watermark) or `-2` for the earliest. Requests go to each partition's
    /// leader; leader changes are followed until `request_timeout`.
    pub fn list_offsets(
        &self,
        topic: &str,
        queries: &[(i32, i64)],
    ) -> Result<BTreeMap<i32, ListedOffset>> {
        let deadline = crate::time::after(self.inner.config.request_timeout);
        let mut results = BTreeMap::new();
        let mut todo: Vec<(i32, i64)> = queries.to_vec();
        let context = format!("ListOffsets for topic `{topic}`");
        let mut meta = self.topic_metadata(topic)?;
        loop {
            let mut by_leader: BTreeMap<i32, Vec<(i32, i64)>> = BTreeMap::new();
            let mut retry: Vec<(i32, i64)> = Vec::new();
            let mut last_error: Option<Error> = None;
            for &(partition, ts) in &todo {
                let p = meta.partition(partition).ok_or_else(|| {
                    Error::Config(format!(
                        "topic `{topic}` has no partition {partition} (it has {})",
                        meta.partitions.len()
                    ))
                })?;
                match p.leader {
                    Some(leader) => by_leader.entry(leader).or_default().push((partition, ts)),
                    None => {
                        retry.push((partition, ts));
                        last_error = Some(Error::broker(
                            ErrorCode::LeaderNotAvailable,
                            None,
                            format!("{context} partition {partition}"),
                        ));
                    }
                }
            }
            for (leader, parts) in by_leader {
                let request = ListOffsetsRequest {
                    replica_id: -1,
                    isolation_level: 0,
                    topics: vec![ListOffsetsTopic {
                        name: topic.to_owned(),
                        partitions: parts
                            .iter()
                            .map(|&(partition, timestamp)| {
                                ListOffsetsPartition::new(partition, timestamp)
                            })
                            .collect(),
                    }],
                };
                let response = self
                    .broker_connection(leader, deadline)
                    .and_then(|conn| conn.request(&request));
                let response = match response {
                    Ok(r) => r,
                    Err(e) if e.is_retriable() => {
                        retry.extend(parts);
                        last_error = Some(e);
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                for t in &response.topics {
                    for p in &t.partitions {
                        let ts = parts
                            .iter()
                            .find(|(id, _)| *id == p.partition_index)
                            .map(|&(_, ts)| ts);
                        let Some(ts) = ts else { continue };
                        match p.error_code {
                            ErrorCode::None => {
                                results.insert(
                                    p.partition_index,
                                    ListedOffset {
                                        offset: p.offset,
                                        timestamp: p.timestamp,
                                        leader_epoch: p.leader_epoch,
                                    },
                                );
                            }
                            code if code.is_retriable() => {
                                retry.push((p.partition_index, ts));
                                last_error = Some(Error::broker(
                                    code,
                                    None,
                                    format!("{context} partition {}", p.partition_index),
                                ));
                            }
                            code => {
                                return Err(Error::broker(
                                    code,
                                    None,
                                    format!("{context} partition {}", p.partition_index),
                                ))
                            }
                        }
                    }
                }
            }
            for &(partition, ts) in &todo {
                if !results.contains_key(&partition)
                    && !retry.iter().any(|(id, _)| *id == partition)
                {
                    retry.push((partition, ts));
                    last_error.get_or_insert_with(|| Error::Protocol {
                        decode: None,
                        context: format!("{context} partition {partition}"),
                        detail: "the leader's response does not mention the partition".into(),
                    });
                }
            }
            if retry.is_empty() {
                return Ok(results);
            }
            if crate::time::after(self.inner.config.retry_backoff) >= deadline {
                return Err(last_error
                    .unwrap_or_else(|| Error::timeout(TimeoutKind::Request, context.clone())));
            }
            std::thread::sleep(self.inner.config.retry_backoff);
            meta = self.refresh_topic(topic)?;
            todo = retry;
        }
    }
}
