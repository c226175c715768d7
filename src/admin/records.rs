//! Records through [`Admin`]: delete the records before an offset
//! (DeleteRecords), each partition at its leader.
//!
//! # References
//! Kafka protocol guide, "DeleteRecords API"; KIP-107.

use std::collections::BTreeMap;

use super::{item_result, Admin, ItemResult};
use crate::consumer::TopicPartition;
use crate::error::{Error, Result};
use crate::protocol::api::delete_records::{
    DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsTopic,
};
use crate::protocol::ErrorCode;

/// The offset for [`Admin::delete_records`] meaning "everything up to the
/// high watermark".
pub const HIGH_WATERMARK: i64 = -1;

impl Admin {
    /// Deletes every record before `offsets[partition]` in each partition
    /// (use [`HIGH_WATERMARK`] for all of them) and answers each partition's
    /// new low watermark (log start offset). Requests go to each partition's
    /// leader; NOT_LEADER_OR_FOLLOWER refreshes the topic's metadata and
    /// retries. An offset past the high watermark gives [`Error::Broker`] with
    /// `OFFSET_OUT_OF_RANGE`; a missing topic [`Error::UnknownTopic`]; a
    /// missing partition `UNKNOWN_TOPIC_OR_PARTITION`.
    pub fn delete_records(
        &self,
        offsets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, ItemResult<i64>>> {
        let deadline = self.deadline();
        let pending: Vec<TopicPartition> = offsets.keys().cloned().collect();
        let mut first = true;
        self.retry_items("DeleteRecords", deadline, pending, |pending| {
            // Leaders may have moved since the last attempt.
            let mut topics: Vec<&str> = pending.iter().map(|tp| tp.topic.as_str()).collect();
            topics.sort_unstable();
            topics.dedup();
            let mut answers = Vec::new();
            let mut by_leader: BTreeMap<i32, Vec<&TopicPartition>> = BTreeMap::new();
            for topic in topics {
                let meta = if first {
                    self.client.topic_metadata(topic)
                } else {
                    self.client.refresh_topic(topic)
                };
                for tp in pending.iter().filter(|tp| tp.topic == topic) {
                    let leader = match &meta {
                        Err(e) => Err(e.clone()),
                        Ok(meta) => match meta.partition(tp.partition) {
                            None => Err(Error::broker(
                                ErrorCode::UnknownTopicOrPartition,
                                None,
                                format!("DeleteRecords {tp}: the topic has no such partition"),
                            )),
                            Some(p) => p.leader.ok_or_else(|| {
                                Error::broker(
                                    ErrorCode::LeaderNotAvailable,
                                    None,
                                    format!("DeleteRecords {tp}"),
                                )
                            }),
                        },
                    };
                    match leader {
                        Ok(leader) => by_leader.entry(leader).or_default().push(tp),
                        Err(e) => answers.push((tp.clone(), Err(e))),
                    }
                }
            }
            first = false;
            for (leader, partitions) in by_leader {
                let mut request = DeleteRecordsRequest {
                    topics: Vec::new(),
                    timeout_ms: self.timeout_ms(),
                };
                for tp in &partitions {
                    let partition = DeleteRecordsPartition {
                        partition_index: tp.partition,
                        offset: offsets[*tp],
                    };
                    match request.topics.iter_mut().find(|t| t.name == tp.topic) {
                        Some(t) => t.partitions.push(partition),
                        None => request.topics.push(DeleteRecordsTopic {
                            name: tp.topic.clone(),
                            partitions: vec![partition],
                        }),
                    }
                }
                let response = self
                    .client
                    .broker_connection(leader, deadline)
                    .and_then(|conn| conn.request(&request));
                match response {
                    Ok(response) => {
                        for t in response.topics {
                            for p in t.partitions {
                                let tp = TopicPartition::new(t.name.clone(), p.partition_index);
                                let result = item_result(p.error_code, None, || {
                                    format!("DeleteRecords {tp} (leader {leader})")
                                })
                                .map(|()| p.low_watermark);
                                answers.push((tp, result));
                            }
                        }
                    }
                    // This leader's partitions share its failure (retried
                    // when retriable); the other leaders' answers stand.
                    Err(e) => answers.extend(
                        partitions
                            .into_iter()
                            .map(|tp| (tp.clone(), Err(e.clone()))),
                    ),
                }
            }
            Ok(answers)
        })
    }
}
