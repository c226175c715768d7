//! Committed offsets through a group's coordinator, and offset resets.
//!
//! [`GroupCoordinator`] (in `cluster::coordinator`) finds the broker that
//! coordinates a consumer group and remembers it; this module commits and
//! reads the group's offsets there (OffsetCommit, OffsetFetch), following
//! coordinator moves until a deadline. The simple consumer commits outside any group membership
//! (generation -1, no member id); the balanced consumer passes its
//! [`Membership`].
//!
//! A committed offset is the next offset to read (Kafka's convention), so the
//! Java and librdkafka consumers of the same group resume where this one
//! stopped, and the other way round.
//!
//! # References
//! Kafka protocol guide, "FindCoordinator API", "OffsetCommit API",
//! "OffsetFetch API"; KIP-699 (batched coordinator lookup).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use log::debug;
use parking_lot::Mutex;

pub(crate) use crate::cluster::GroupCoordinator;
use crate::cluster::{KafkaClient, EARLIEST, LATEST};
use crate::error::{Error, Result};
use crate::protocol::api::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    OffsetFetchRequest, OffsetFetchRequestTopic,
};
use crate::protocol::ErrorCode;

use super::config::OffsetReset;

/// Who commits: a member of the group's current generation, or nobody in
/// particular ([`Membership::default`], for consumers that do not join).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Membership {
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

impl Default for Membership {
    fn default() -> Self {
        Membership {
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

// The lookup, caching and "coordinator moved" classification live in
// `cluster::coordinator`, shared with the membership thread; commits and
// fetches are added here.
impl GroupCoordinator {
    /// Commits `offsets` (partition → next offset to read) of `topic`,
    /// retrying coordinator moves and retriable errors until `deadline`.
    pub fn commit(
        &self,
        topic: &str,
        offsets: &BTreeMap<i32, i64>,
        membership: &Membership,
        deadline: Instant,
    ) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let request = OffsetCommitRequest {
            generation_id_or_member_epoch: membership.generation_id,
            member_id: membership.member_id.clone(),
            group_instance_id: membership.group_instance_id.clone(),
            topics: vec![OffsetCommitRequestTopic {
                name: topic.to_owned(),
                partitions: offsets
                    .iter()
                    .map(|(&p, &o)| OffsetCommitRequestPartition::new(p, o))
                    .collect(),
            }],
            ..OffsetCommitRequest::new(self.group_id())
        };
        let context = format!(
            "OffsetCommit for group `{}` topic `{topic}`",
            self.group_id()
        );
        self.client().retry_until(deadline, &context, || {
            let response = self.connection(deadline)?.request(&request)?;
            for (_, partition, code) in response.partitions() {
                if code != ErrorCode::None {
                    self.observe(code);
                    return Err(Error::broker(
                        code,
                        None,
                        format!("{context} partition {partition}"),
                    ));
                }
            }
            debug!("{context}: committed {offsets:?}");
            Ok(())
        })
    }

    /// The committed offsets of `partitions` of `topic`: `None` for a
    /// partition without one.
    pub fn fetch(
        &self,
        topic: &str,
        partitions: &[i32],
        deadline: Instant,
    ) -> Result<BTreeMap<i32, Option<i64>>> {
        let request = OffsetFetchRequest::new(
            self.group_id(),
            vec![OffsetFetchRequestTopic {
                name: topic.to_owned(),
                partition_indexes: partitions.to_vec(),
            }],
        );
        let context = format!(
            "OffsetFetch for group `{}` topic `{topic}`",
            self.group_id()
        );
        self.client().retry_until(deadline, &context, || {
            let response = self.connection(deadline)?.request(&request)?;
            let group = response
                .group(self.group_id())
                .ok_or_else(|| Error::Protocol {
                    decode: None,
                    context: context.clone(),
                    detail: "the response does not mention the group".into(),
                })?;
            if group.error_code != ErrorCode::None {
                self.observe(group.error_code);
                return Err(Error::broker(group.error_code, None, context.clone()));
            }
            let mut found: BTreeMap<i32, Option<i64>> =
                partitions.iter().map(|&p| (p, None)).collect();
            for (name, p) in group.partitions() {
                if name != topic || !found.contains_key(&p.partition_index) {
                    continue;
                }
                match p.error_code {
                    ErrorCode::None => {
                        found.insert(
                            p.partition_index,
                            (p.committed_offset >= 0).then_some(p.committed_offset),
                        );
                    }
                    // Unknown partitions simply have no offset yet.
                    ErrorCode::UnknownTopicOrPartition => {}
                    code => {
                        self.observe(code);
                        return Err(Error::broker(
                            code,
                            None,
                            format!("{context} partition {}", p.partition_index),
                        ));
                    }
                }
            }
            Ok(found)
        })
    }
}

/// The offsets `reset` points at for `partitions` of `topic`: the log start
/// or the high watermark. [`OffsetReset::Error`] resolves nothing.
pub(crate) fn reset_offsets(
    client: &KafkaClient,
    topic: &str,
    partitions: &[i32],
    reset: OffsetReset,
) -> Result<BTreeMap<i32, i64>> {
    let timestamp = match reset {
        OffsetReset::Earliest => EARLIEST,
        OffsetReset::Latest => LATEST,
        OffsetReset::Error => return Ok(BTreeMap::new()),
    };
    if partitions.is_empty() {
        return Ok(BTreeMap::new());
    }
    let queries: Vec<(i32, i64)> = partitions.iter().map(|&p| (p, timestamp)).collect();
    Ok(client
        .list_offsets(topic, &queries)?
        .into_iter()
        .map(|(p, listed)| (p, listed.offset))
        .collect())
}

/// Whether an auto commit is due now, by the time kept in `next`; when it
/// is, the next one is scheduled `interval` from now.
pub(crate) fn auto_commit_due(next: &Mutex<Instant>, interval: Duration) -> bool {
    let mut next = next.lock();
    let now = Instant::now();
    if now < *next {
        return false;
    }
    *next = crate::time::add(now, interval);
    true
}
