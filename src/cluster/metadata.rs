//! The client's view of the cluster: brokers, topics and partition leaders,
//! as the last Metadata response described them.
//!
//! The cache is replaced piecewise by each Metadata response and read through
//! cheap `Arc` snapshots, so readers never wait on a refresh in flight.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::protocol::api::MetadataResponse;
use crate::protocol::ErrorCode;

/// A broker of the cluster, as metadata names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Broker {
    /// Node id.
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: u16,
    /// Rack, if the broker has one.
    pub rack: Option<String>,
}

impl Broker {
    /// `host:port`, the address the client dials.
    pub fn addr(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Partition {
    /// Partition id.
    pub id: i32,
    /// Node id of the leader; `None` while no leader is available.
    pub leader: Option<i32>,
    /// Leader epoch (KIP-320), `-1` when the broker does not report it.
    pub leader_epoch: i32,
    /// Every replica's node id.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Replicas that are offline.
    pub offline_replicas: Vec<i32>,
    /// The partition's error in the metadata response (`None` when healthy).
    pub error: ErrorCode,
}

/// A topic's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicMetadata {
    /// Topic name.
    pub name: String,
    /// Topic id (KIP-516), all zero when the broker does not report one.
    pub topic_id: [u8; 16],
    /// Whether it is an internal topic such as `__consumer_offsets`.
    pub is_internal: bool,
    /// Partitions, sorted by id.
    pub partitions: Vec<Partition>,
}

impl TopicMetadata {
    /// The partition with `id`.
    pub fn partition(&self, id: i32) -> Option<&Partition> {
        self.partitions
            .binary_search_by_key(&id, |p| p.id)
            .ok()
            .map(|i| &self.partitions[i])
    }
}

/// A snapshot of what the client knows about the cluster.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClusterState {
    pub brokers: BTreeMap<i32, Broker>,
    pub controller_id: Option<i32>,
    pub cluster_id: Option<String>,
    pub topics: HashMap<String, (Arc<TopicMetadata>, Instant)>,
    /// When the broker list was last refreshed.
    pub refreshed_at: Option<Instant>,
}

/// What a Metadata response said about each requested topic.
#[derive(Debug, Clone)]
pub(crate) enum TopicStatus {
    Found,
    Missing,
    Error(ErrorCode),
}

impl ClusterState {
    /// Folds a Metadata response into the cache. With `all_topics`, topics
    /// the response does not mention are forgotten.
    pub fn apply(
        &mut self,
        response: &MetadataResponse,
        all_topics: bool,
        now: Instant,
    ) -> HashMap<String, TopicStatus> {
        self.brokers = response
            .brokers
            .iter()
            .filter_map(|b| {
                Some((
                    b.node_id,
                    Broker {
                        id: b.node_id,
                        host: b.host.clone(),
                        port: u16::try_from(b.port).ok()?,
                        rack: b.rack.clone(),
                    },
                ))
            })
            .collect();
        self.controller_id = (response.controller_id >= 0).then_some(response.controller_id);
        if response.cluster_id.is_some() {
            self.cluster_id = response.cluster_id.clone();
        }
        self.refreshed_at = Some(now);
        if all_topics {
            self.topics.clear();
        }
        let mut statuses = HashMap::new();
        for topic in &response.topics {
            let Some(name) = topic.name.clone() else {
                continue;
            };
            match topic.error_code {
                ErrorCode::None => {}
                ErrorCode::UnknownTopicOrPartition => {
                    self.topics.remove(&name);
                    statuses.insert(name, TopicStatus::Missing);
                    continue;
                }
                // LEADER_NOT_AVAILABLE right after creation still lists the
                // partitions; keep them so callers can wait for leaders.
                ErrorCode::LeaderNotAvailable if !topic.partitions.is_empty() => {}
                code => {
                    statuses.insert(name, TopicStatus::Error(code));
                    continue;
                }
            }
            let mut partitions: Vec<Partition> = topic
                .partitions
                .iter()
                .map(|p| Partition {
                    id: p.partition_index,
                    leader: (p.leader_id >= 0).then_some(p.leader_id),
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.clone(),
                    isr: p.isr_nodes.clone(),
                    offline_replicas: p.offline_replicas.clone(),
                    error: p.error_code,
                })
                .collect();
            partitions.sort_by_key(|p| p.id);
            let meta = TopicMetadata {
                name: name.clone(),
                topic_id: topic.topic_id,
                is_internal: topic.is_internal,
                partitions,
            };
            self.topics.insert(name.clone(), (Arc::new(meta), now));
            statuses.insert(name, TopicStatus::Found);
        }
        statuses
    }
}

/// Kafka's topic-name rules: 1–249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub(crate) fn validate_topic_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "`{name}` is not a valid topic name: use 1 to 249 characters from [a-zA-Z0-9._-]"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafkas_rules() {
        assert!(validate_topic_name("events.v1_a-b").is_ok());
        for bad in ["", ".", "..", "has space", "slash/", &"x".repeat(250)] {
            assert!(validate_topic_name(bad).is_err(), "{bad:?}");
        }
    }
}
