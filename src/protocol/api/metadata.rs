//! Metadata (key 3): the cluster's brokers, its controller, and every
//! requested topic's partitions with their leaders and replicas.
//!
//! The client sends it to bootstrap and whenever its cached view of the
//! cluster goes stale (a leader moved, a topic appeared). `topics: None` asks
//! for every topic; `Some(vec![])` asks for none, which still returns the
//! brokers.
//!
//! Versions 1 to 12: v4 adds `allow_auto_topic_creation`, v7 partition leader
//! epochs, v8 authorized operations, v9 is the first flexible version, v10
//! topic ids, v11 drops the cluster's authorized operations, and v12 lets a
//! topic be named by id alone.
//!
//! A request field that the chosen version cannot carry must hold its default,
//! otherwise encoding fails with [`EncodeError::Unsupported`] rather than
//! silently asking the broker something else.
//!
//! # References
//! Kafka protocol guide, "Metadata API"; KIP-482 (flexible versions),
//! KIP-516 (topic ids), KIP-430 and KIP-700 (authorized operations).

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// "Authorized operations were not requested": the schema's default for the
/// authorized-operations bit fields.
pub const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

/// Metadata request.
///
/// `Default` asks for every topic, allows auto-creation (the schema's default)
/// and asks for no authorized operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataRequest {
    /// The topics to describe; `None` means every topic, an empty list none.
    pub topics: Option<Vec<MetadataRequestTopic>>,
    /// Whether the broker may auto-create requested topics that do not exist,
    /// if it is configured to (v4+; older versions leave it to the broker, so
    /// `false` cannot be sent to them). Defaults to `true`.
    pub allow_auto_topic_creation: bool,
    /// Whether to return the cluster's authorized operations (v8 to v10 only).
    /// Defaults to `false`.
    pub include_cluster_authorized_operations: bool,
    /// Whether to return each topic's authorized operations (v8+). Defaults
    /// to `false`.
    pub include_topic_authorized_operations: bool,
}

impl Default for MetadataRequest {
    fn default() -> Self {
        MetadataRequest {
            topics: None,
            allow_auto_topic_creation: true,
            include_cluster_authorized_operations: false,
            include_topic_authorized_operations: false,
        }
    }
}

impl MetadataRequest {
    /// A request for every topic in the cluster.
    pub fn all_topics() -> Self {
        MetadataRequest::default()
    }

    /// A request for the named topics, without auto-creating missing ones
    /// (so it needs v4+, which every broker since Kafka 0.11 speaks).
    pub fn for_topics<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        MetadataRequest {
            topics: Some(
                names
                    .into_iter()
                    .map(|name| MetadataRequestTopic::named(name))
                    .collect(),
            ),
            allow_auto_topic_creation: false,
            ..MetadataRequest::default()
        }
    }
}

/// One topic in a [`MetadataRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetadataRequestTopic {
    /// The topic id (v12+ only; all zeros when asking by name).
    pub topic_id: [u8; 16],
    /// The topic name; `None` (v12+ only) asks by `topic_id` alone.
    pub name: Option<String>,
}

impl MetadataRequestTopic {
    /// A topic asked for by name.
    pub fn named(name: impl Into<String>) -> Self {
        MetadataRequestTopic {
            topic_id: [0; 16],
            name: Some(name.into()),
        }
    }

    /// A topic asked for by id (v12+).
    pub fn by_id(topic_id: [u8; 16]) -> Self {
        MetadataRequestTopic {
            topic_id,
            name: None,
        }
    }
}

/// Metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataResponse {
    /// How long the broker throttled the request, in ms (v3+, else 0).
    pub throttle_time_ms: i32,
    /// Every live broker in the cluster.
    pub brokers: Vec<MetadataResponseBroker>,
    /// The cluster id (v2+; `None` before, or when the broker has none).
    pub cluster_id: Option<String>,
    /// The controller's broker id, -1 when unknown (v1+).
    pub controller_id: i32,
    /// Each requested topic.
    pub topics: Vec<MetadataResponseTopic>,
    /// The cluster's authorized operations bit field (v8 to v10 when
    /// requested, else [`AUTHORIZED_OPERATIONS_OMITTED`]).
    pub cluster_authorized_operations: i32,
}

/// One broker in a [`MetadataResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataResponseBroker {
    /// The broker id.
    pub node_id: i32,
    /// The host name it advertises.
    pub host: String,
    /// The port it advertises.
    pub port: i32,
    /// Its rack, if it has one (v1+).
    pub rack: Option<String>,
}

/// One topic in a [`MetadataResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataResponseTopic {
    /// The topic's error, e.g. `UNKNOWN_TOPIC_OR_PARTITION`.
    pub error_code: ErrorCode,
    /// The topic name; `None` only in v12+ for an unknown topic asked by id.
    pub name: Option<String>,
    /// The topic id (v10+; all zeros before, or for an unknown topic asked by
    /// name).
    pub topic_id: [u8; 16],
    /// Whether this is an internal topic such as `__consumer_offsets` (v1+).
    pub is_internal: bool,
    /// Each partition of the topic.
    pub partitions: Vec<MetadataResponsePartition>,
    /// The topic's authorized operations bit field (v8+ when requested, else
    /// [`AUTHORIZED_OPERATIONS_OMITTED`]).
    pub topic_authorized_operations: i32,
}

/// One partition in a [`MetadataResponseTopic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataResponsePartition {
    /// The partition's error, e.g. `LEADER_NOT_AVAILABLE`.
    pub error_code: ErrorCode,
    /// The partition index.
    pub partition_index: i32,
    /// The leader's broker id, -1 when there is none.
    pub leader_id: i32,
    /// The leader epoch (v7+, else -1).
    pub leader_epoch: i32,
    /// Every broker hosting a replica.
    pub replica_nodes: Vec<i32>,
    /// The replicas in sync with the leader.
    pub isr_nodes: Vec<i32>,
    /// The replicas that are offline (v5+).
    pub offline_replicas: Vec<i32>,
}

fn require(ok: bool, what: &'static str) -> Result<(), EncodeError> {
    if ok {
        Ok(())
    } else {
        Err(EncodeError::Unsupported(what))
    }
}

impl Request for MetadataRequest {
    const API_KEY: i16 = api_key::METADATA;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 12;
    const FIRST_FLEXIBLE: i16 = 9;
    type Response = MetadataResponse;

    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        match &self.topics {
            None => e.nullable_array_len(None)?,
            Some(topics) => {
                e.array_len(topics.len())?;
                for topic in topics {
                    // v10 and v11 carry the fields, but brokers only honour
                    // them from v12 on; the Java client refuses them as well.
                    require(
                        version >= 12 || topic.topic_id == [0; 16],
                        "Metadata below v12 cannot ask for a topic by id",
                    )?;
                    if version >= 10 {
                        e.uuid(&topic.topic_id);
                    }
                    match &topic.name {
                        Some(name) => e.string(name)?,
                        None => {
                            require(version >= 12, "Metadata below v12 needs topic names")?;
                            e.nullable_string(None)?;
                        }
                    }
                    e.tagged_fields();
                }
            }
        }
        if version >= 4 {
            e.bool(self.allow_auto_topic_creation);
        } else {
            require(
                self.allow_auto_topic_creation,
                "Metadata below v4 cannot forbid topic auto-creation",
            )?;
        }
        if (8..=10).contains(&version) {
            e.bool(self.include_cluster_authorized_operations);
        } else {
            require(
                !self.include_cluster_authorized_operations,
                "Metadata carries cluster authorized operations in v8 to v10 only",
            )?;
        }
        if version >= 8 {
            e.bool(self.include_topic_authorized_operations);
        } else {
            require(
                !self.include_topic_authorized_operations,
                "Metadata below v8 cannot ask for topic authorized operations",
            )?;
        }
        e.tagged_fields();
        Ok(())
    }
}

// Smallest encodings, to bound array counts before allocating: a broker is at
// least node id, empty host and port; a topic an error code, an empty name and
// an empty partition array; a partition error, index, leader and two empty
// arrays.
const MIN_BROKER_SIZE: usize = 4 + 1 + 4;
const MIN_TOPIC_SIZE: usize = 2 + 1 + 1;
const MIN_PARTITION_SIZE: usize = 2 + 4 + 4 + 1 + 1;

impl Response for MetadataResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = if version >= 3 { d.i32()? } else { 0 };
        let brokers = d.array_of(MIN_BROKER_SIZE, |d| {
            let broker = MetadataResponseBroker {
                node_id: d.i32()?,
                host: d.string()?,
                port: d.i32()?,
                rack: if version >= 1 {
                    d.nullable_string()?
                } else {
                    None
                },
            };
            d.tagged_fields()?;
            Ok(broker)
        })?;
        let cluster_id = if version >= 2 {
            d.nullable_string()?
        } else {
            None
        };
        let controller_id = if version >= 1 { d.i32()? } else { -1 };
        let topics = d.array_of(MIN_TOPIC_SIZE, |d| decode_topic(version, d))?;
        let cluster_authorized_operations = if (8..=10).contains(&version) {
            d.i32()?
        } else {
            AUTHORIZED_OPERATIONS_OMITTED
        };
        d.tagged_fields()?;
        Ok(MetadataResponse {
            throttle_time_ms,
            brokers,
            cluster_id,
            controller_id,
            topics,
            cluster_authorized_operations,
        })
    }
}

fn decode_topic(version: i16, d: &mut Decoder<'_>) -> DecodeResult<MetadataResponseTopic> {
    let error_code = ErrorCode::from_code(d.i16()?);
    let name = if version >= 12 {
        d.nullable_string()?
    } else {
        Some(d.string()?)
    };
    let topic_id = if version >= 10 { d.uuid()? } else { [0; 16] };
    let is_internal = if version >= 1 { d.bool()? } else { false };
    let partitions = d.array_of(MIN_PARTITION_SIZE, |d| decode_partition(version, d))?;
    let topic_authorized_operations = if version >= 8 {
        d.i32()?
    } else {
        AUTHORIZED_OPERATIONS_OMITTED
    };
    d.tagged_fields()?;
    Ok(MetadataResponseTopic {
        error_code,
        name,
        topic_id,
        is_internal,
        partitions,
        topic_authorized_operations,
    })
}

fn decode_partition(version: i16, d: &mut Decoder<'_>) -> DecodeResult<MetadataResponsePartition> {
    let partition = MetadataResponsePartition {
        error_code: ErrorCode::from_code(d.i16()?),
        partition_index: d.i32()?,
        leader_id: d.i32()?,
        leader_epoch: if version >= 7 { d.i32()? } else { -1 },
        replica_nodes: d.array_of(4, Decoder::i32)?,
        isr_nodes: d.array_of(4, Decoder::i32)?,
        offline_replicas: if version >= 5 {
            d.array_of(4, Decoder::i32)?
        } else {
            Vec::new()
        },
    };
    d.tagged_fields()?;
    Ok(partition)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod mock_cluster_tests;
