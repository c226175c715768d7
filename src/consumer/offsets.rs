//! Committed offsets through a group's coordinator, and offset resets.
//!
//! [`GroupCoordinator`] finds the broker that coordinates a consumer group
//! (FindCoordinator), remembers it, and commits and reads the group's offsets
//! there (OffsetCommit, OffsetFetch), following coordinator moves until a
//! deadline. The simple consumer commits outside any group membership
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
use std::sync::Arc;
use std::time::Instant;

use log::debug;
use parking_lot::Mutex;

use crate::client::{KafkaClient, EARLIEST, LATEST};
use crate::error::{Error, Result};
use crate::net::Connection;
use crate::protocol::api::{
    FindCoordinatorRequest, OffsetCommitRequest, OffsetCommitRequestPartition,
    OffsetCommitRequestTopic, OffsetFetchRequest, OffsetFetchRequestTopic,
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

/// The coordinator of one consumer group, found on first use.
pub(crate) struct GroupCoordinator {
    client: KafkaClient,
    group_id: String,
    /// Node id of the coordinator, once known.
    node: Mutex<Option<i32>>,
}

impl std::fmt::Debug for GroupCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCoordinator")
            .field("group_id", &self.group_id)
            .field("node", &*self.node.lock())
            .finish()
    }
}

/// Whether `code` means "ask another broker, or the same one later".
fn is_coordinator_error(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::NotCoordinator
            | ErrorCode::CoordinatorNotAvailable
            | ErrorCode::CoordinatorLoadInProgress
    )
}

impl GroupCoordinator {
    pub fn new(client: KafkaClient, group_id: impl Into<String>) -> Self {
        GroupCoordinator {
            client,
            group_id: group_id.into(),
            node: Mutex::new(None),
        }
    }

    /// The group's id.
    #[allow(dead_code)] // for the balanced consumer
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// A connection to the coordinator, looking it up if unknown.
    pub fn connection(&self, deadline: Instant) -> Result<Arc<Connection>> {
        let known = *self.node.lock();
        let node = match known {
            Some(node) => node,
            None => {
                let node = self.find(deadline)?;
                *self.node.lock() = Some(node);
                node
            }
        };
        self.client
            .broker_connection(node, deadline)
            .inspect_err(|_| self.forget())
    }

    /// Drops the remembered coordinator, after it said it no longer is one
    /// or could not be reached.
    pub fn forget(&self) {
        *self.node.lock() = None;
    }

    fn find(&self, deadline: Instant) -> Result<i32> {
        let context = format!("FindCoordinator for group `{}`", self.group_id);
        let conn = self.client.any_connection(deadline)?;
        let response = conn.request(&FindCoordinatorRequest::group(&self.group_id))?;
        let found = response
            .coordinator(&self.group_id)
            .ok_or_else(|| Error::Protocol {
                decode: None,
                context: context.clone(),
                detail: "the response names no coordinator for the group".into(),
            })?;
        match found.error_code {
            ErrorCode::None => {
                debug!(
                    "group `{}` is coordinated by broker {} ({}:{})",
                    self.group_id, found.node_id, found.host, found.port
                );
                Ok(found.node_id)
            }
            code => Err(Error::broker(code, found.error_message.clone(), context)),
        }
    }

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
            ..OffsetCommitRequest::new(&self.group_id)
        };
        let context = format!("OffsetCommit for group `{}` topic `{topic}`", self.group_id);
        self.client.retry_until(deadline, &context, || {
            let response = self.connection(deadline)?.request(&request)?;
            for (_, partition, code) in response.partitions() {
                if code != ErrorCode::None {
                    if is_coordinator_error(code) {
                        self.forget();
                    }
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
            &self.group_id,
            vec![OffsetFetchRequestTopic {
                name: topic.to_owned(),
                partition_indexes: partitions.to_vec(),
            }],
        );
        let context = format!("OffsetFetch for group `{}` topic `{topic}`", self.group_id);
        self.client.retry_until(deadline, &context, || {
            let response = self.connection(deadline)?.request(&request)?;
            let group = response
                .group(&self.group_id)
                .ok_or_else(|| Error::Protocol {
                    decode: None,
                    context: context.clone(),
                    detail: "the response does not mention the group".into(),
                })?;
            if group.error_code != ErrorCode::None {
                if is_coordinator_error(group.error_code) {
                    self.forget();
                }
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
                        if is_coordinator_error(code) {
                            self.forget();
                        }
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
