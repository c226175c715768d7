//! OffsetFetch (key 9): reads a consumer group's committed positions from its
//! coordinator.
//!
//! v1 is the oldest version Kafka 4.0 still accepts (KIP-896); v2 allows a
//! null topic list ("every topic the group committed") and adds a group-level
//! error, v5 the leader epoch, v6 is flexible, v7 adds `require_stable`
//! (KIP-447), v8 batches several groups in one request (KIP-709) and v9 adds
//! the KIP-848 member id and epoch.
//!
//! [`OffsetFetchRequest::new`] builds a one-group request that encodes at
//! every version; the response presents the one group of v1-v7 answers like
//! the batched form, so [`OffsetFetchResponse::group`] reads either.
//!
//! # References
//! Kafka protocol guide, "OffsetFetch API"; KIP-447, KIP-709, KIP-848, KIP-896.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// OffsetFetch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchRequest {
    /// The groups to read. Before v8 the request carries exactly one
    /// (encoding fails otherwise).
    pub groups: Vec<OffsetFetchRequestGroup>,
    /// Whether the broker should answer `UNSTABLE_OFFSET_COMMIT` for partitions
    /// with pending transactional commits instead of a possibly stale offset
    /// (v7+; encoding fails below v7 when set).
    pub require_stable: bool,
}

impl OffsetFetchRequest {
    /// A request for `group_id`'s offsets of `topics`, valid at every version.
    pub fn new(group_id: impl Into<String>, topics: Vec<OffsetFetchRequestTopic>) -> Self {
        OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: group_id.into(),
                member_id: None,
                member_epoch: -1,
                topics: Some(topics),
            }],
            require_stable: false,
        }
    }

    /// A request for every offset `group_id` committed (v2+).
    pub fn all_topics(group_id: impl Into<String>) -> Self {
        let mut request = Self::new(group_id, Vec::new());
        request.groups[0].topics = None;
        request
    }
}

/// One group in an [`OffsetFetchRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchRequestGroup {
    /// Group id.
    pub group_id: String,
    /// The KIP-848 member id (v9+; dropped earlier). `None` for classic groups.
    pub member_id: Option<String>,
    /// The KIP-848 member epoch (v9+; dropped earlier), -1 for classic groups.
    pub member_epoch: i32,
    /// The partitions to read, or `None` for all the group committed (v2+).
    pub topics: Option<Vec<OffsetFetchRequestTopic>>,
}

/// One topic in an [`OffsetFetchRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchRequestTopic {
    /// Topic name.
    pub name: String,
    /// Partition indexes.
    pub partition_indexes: Vec<i32>,
}

/// OffsetFetch response. The single group of a v1-v7 answer is presented as a
/// one-entry `groups` list whose `group_id` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchResponse {
    /// Throttle time (v3+).
    pub throttle_time_ms: i32,
    /// Results, per group.
    pub groups: Vec<OffsetFetchResponseGroup>,
}

impl OffsetFetchResponse {
    /// The results for `group_id`: the entry naming it (v8+), or the one
    /// unnamed group of a v1-v7 response.
    pub fn group(&self, group_id: &str) -> Option<&OffsetFetchResponseGroup> {
        self.groups
            .iter()
            .find(|g| g.group_id.as_deref().is_none_or(|id| id == group_id))
    }
}

/// The results for one group in an [`OffsetFetchResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchResponseGroup {
    /// The group (v8+); `None` before v8, where the answer belongs to the one
    /// group the request named.
    pub group_id: Option<String>,
    /// Results, per topic.
    pub topics: Vec<OffsetFetchResponseTopic>,
    /// Group-level error (v2+; always `NONE` in v1), e.g. `NOT_COORDINATOR`
    /// or `COORDINATOR_LOAD_IN_PROGRESS`.
    pub error_code: ErrorCode,
}

impl OffsetFetchResponseGroup {
    /// Every partition's result, with its topic name.
    pub fn partitions(&self) -> impl Iterator<Item = (&str, &OffsetFetchResponsePartition)> + '_ {
        self.topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |p| (t.name.as_str(), p)))
    }
}

/// The results for one topic in an [`OffsetFetchResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchResponseTopic {
    /// Topic name.
    pub name: String,
    /// Results, per partition.
    pub partitions: Vec<OffsetFetchResponsePartition>,
}

/// The committed position of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchResponsePartition {
    /// Partition index.
    pub partition_index: i32,
    /// The committed offset, or -1 when the group committed none.
    pub committed_offset: i64,
    /// Leader epoch stored with the offset (v5+), -1 when unknown.
    pub committed_leader_epoch: i32,
    /// Metadata stored with the offset.
    pub metadata: Option<String>,
    /// Partition-level error, e.g. `UNSTABLE_OFFSET_COMMIT`.
    pub error_code: ErrorCode,
}

impl Request for OffsetFetchRequest {
    const API_KEY: i16 = api_key::OFFSET_FETCH;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 9;
    const FIRST_FLEXIBLE: i16 = 6;
    type Response = OffsetFetchResponse;

    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        if version >= 8 {
            e.array_of(&self.groups, |e, group| {
                e.string(&group.group_id)?;
                if version >= 9 {
                    e.nullable_string(group.member_id.as_deref())?;
                    e.i32(group.member_epoch);
                }
                encode_topics(e, group.topics.as_deref())?;
                e.tagged_fields();
                Ok(())
            })?;
        } else {
            let [group] = self.groups.as_slice() else {
                return Err(EncodeError::Unsupported(
                    "OffsetFetch before v8 reads exactly one group",
                ));
            };
            if version < 2 && group.topics.is_none() {
                return Err(EncodeError::Unsupported(
                    "OffsetFetch reads all topics (null topics) from v2",
                ));
            }
            e.string(&group.group_id)?;
            encode_topics(e, group.topics.as_deref())?;
        }
        if version >= 7 {
            e.bool(self.require_stable);
        } else if self.require_stable {
            return Err(EncodeError::Unsupported(
                "OffsetFetch carries require_stable from v7",
            ));
        }
        e.tagged_fields();
        Ok(())
    }
}

fn encode_topics(
    e: &mut Encoder<'_>,
    topics: Option<&[OffsetFetchRequestTopic]>,
) -> Result<(), EncodeError> {
    e.nullable_array_len(topics.map(<[_]>::len))?;
    for topic in topics.unwrap_or_default() {
        e.string(&topic.name)?;
        e.array_of(&topic.partition_indexes, |e, &p| {
            e.i32(p);
            Ok(())
        })?;
        e.tagged_fields();
    }
    Ok(())
}

impl Response for OffsetFetchResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = if version >= 3 { d.i32()? } else { 0 };
        let groups = if version >= 8 {
            // group id, topic count, error code, tagged fields.
            d.array_of(5, |d| {
                let group_id = Some(d.string()?);
                let topics = decode_topics(version, d)?;
                let error_code = ErrorCode::from_code(d.i16()?);
                d.tagged_fields()?;
                Ok(OffsetFetchResponseGroup {
                    group_id,
                    topics,
                    error_code,
                })
            })?
        } else {
            let topics = decode_topics(version, d)?;
            let error_code = if version >= 2 {
                ErrorCode::from_code(d.i16()?)
            } else {
                ErrorCode::None
            };
            vec![OffsetFetchResponseGroup {
                group_id: None,
                topics,
                error_code,
            }]
        };
        d.tagged_fields()?;
        Ok(OffsetFetchResponse {
            throttle_time_ms,
            groups,
        })
    }
}

fn decode_topics(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Vec<OffsetFetchResponseTopic>> {
    // name, partition count, tagged fields.
    d.array_of(3, |d| {
        let name = d.string()?;
        // index, offset, metadata, error code, tagged fields.
        let partitions = d.array_of(16, |d| {
            let partition_index = d.i32()?;
            let committed_offset = d.i64()?;
            let committed_leader_epoch = if version >= 5 { d.i32()? } else { -1 };
            let metadata = d.nullable_string()?;
            let error_code = ErrorCode::from_code(d.i16()?);
            d.tagged_fields()?;
            Ok(OffsetFetchResponsePartition {
                partition_index,
                committed_offset,
                committed_leader_epoch,
                metadata,
                error_code,
            })
        })?;
        d.tagged_fields()?;
        Ok(OffsetFetchResponseTopic { name, partitions })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup as OracleGroup, OffsetFetchRequestTopic as OracleTopic,
        OffsetFetchRequestTopics as OracleGroupTopic,
    };
    use kafka_protocol::messages::offset_fetch_response::{
        OffsetFetchResponseGroup as OracleResultGroup,
        OffsetFetchResponsePartition as OracleResultPartition,
        OffsetFetchResponsePartitions as OracleGroupResultPartition,
        OffsetFetchResponseTopic as OracleResultTopic,
        OffsetFetchResponseTopics as OracleGroupResultTopic,
    };
    use kafka_protocol::messages::{
        GroupId, OffsetFetchRequest as OracleRequest, OffsetFetchResponse as OracleResponse,
        TopicName,
    };

    type Req = OffsetFetchRequest;

    fn sample_topics() -> Vec<OffsetFetchRequestTopic> {
        vec![
            OffsetFetchRequestTopic {
                name: "invoices".into(),
                partition_indexes: vec![0, 1, 2, 11],
            },
            OffsetFetchRequestTopic {
                name: "refunds".into(),
                partition_indexes: vec![],
            },
        ]
    }

    fn oracle_request(r: &Req, version: i16) -> OracleRequest {
        let mut o = OracleRequest::default();
        if version >= 7 {
            o.require_stable = r.require_stable;
        }
        if version >= 8 {
            o.groups = r
                .groups
                .iter()
                .map(|g| {
                    let mut og = OracleGroup::default();
                    og.group_id = GroupId(oracle_str(&g.group_id));
                    if version >= 9 {
                        og.member_id = g.member_id.as_deref().map(oracle_str);
                        og.member_epoch = g.member_epoch;
                    }
                    og.topics = g.topics.as_ref().map(|topics| {
                        topics
                            .iter()
                            .map(|t| {
                                let mut ot = OracleGroupTopic::default();
                                ot.name = TopicName(oracle_str(&t.name));
                                ot.partition_indexes = t.partition_indexes.clone();
                                ot
                            })
                            .collect()
                    });
                    og
                })
                .collect();
        } else {
            let g = &r.groups[0];
            o.group_id = GroupId(oracle_str(&g.group_id));
            o.topics = g.topics.as_ref().map(|topics| {
                topics
                    .iter()
                    .map(|t| {
                        let mut ot = OracleTopic::default();
                        ot.name = TopicName(oracle_str(&t.name));
                        ot.partition_indexes = t.partition_indexes.clone();
                        ot
                    })
                    .collect()
            });
        }
        o
    }

    #[test]
    fn one_group_request_matches_kafka_protocol_at_every_version() {
        let one_group = |_| [Req::new("billing", sample_topics())];
        assert_every_request_version_matches_oracle(one_group, oracle_request);
    }

    #[test]
    fn all_topics_request_matches_kafka_protocol_from_v2() {
        for version in 2..=Req::MAX_VERSION {
            let r = Req::all_topics("billing");
            assert_request_matches_oracle(&r, &oracle_request(&r, version), version);
        }
    }

    #[test]
    fn stable_kip848_batched_request_matches_kafka_protocol() {
        let mut r = Req::new("billing", sample_topics());
        r.require_stable = true;
        r.groups[0].member_id = Some("m-7f3a".into());
        r.groups[0].member_epoch = 12;
        r.groups.push(Req::all_topics("audit").groups.remove(0));
        for version in 8..=Req::MAX_VERSION {
            assert_request_matches_oracle(&r, &oracle_request(&r, version), version);
        }
        r.groups.truncate(1);
        assert_request_matches_oracle(&r, &oracle_request(&r, 7), 7);
    }

    #[test]
    fn requests_a_version_cannot_express_are_encode_errors() {
        assert!(try_request_body(&Req::all_topics("g"), 1).is_err());
        let mut stable = Req::new("g", sample_topics());
        stable.require_stable = true;
        assert!(try_request_body(&stable, 6).is_err());
        let mut two = Req::new("g", sample_topics());
        two.groups.push(two.groups[0].clone());
        assert!(try_request_body(&two, 7).is_err());
    }

    fn sample_response(version: i16) -> OffsetFetchResponse {
        let partitions = vec![
            OffsetFetchResponsePartition {
                partition_index: 0,
                committed_offset: 1_234_567,
                committed_leader_epoch: if version >= 5 { 5 } else { -1 },
                metadata: Some("host-1@2024-06-01".into()),
                error_code: ErrorCode::None,
            },
            OffsetFetchResponsePartition {
                partition_index: 11,
                committed_offset: -1,
                committed_leader_epoch: -1,
                metadata: None,
                error_code: ErrorCode::from_code(if version >= 7 { 88 } else { 0 }),
            },
        ];
        let billing = OffsetFetchResponseGroup {
            group_id: (version >= 8).then(|| "billing".to_owned()),
            topics: vec![
                OffsetFetchResponseTopic {
                    name: "invoices".into(),
                    partitions,
                },
                OffsetFetchResponseTopic {
                    name: "refunds".into(),
                    partitions: vec![],
                },
            ],
            error_code: ErrorCode::None,
        };
        let mut groups = vec![billing];
        if version >= 8 {
            groups.push(OffsetFetchResponseGroup {
                group_id: Some("audit".into()),
                topics: vec![],
                error_code: ErrorCode::from_code(16),
            });
        } else if version >= 2 {
            groups[0].error_code = ErrorCode::from_code(14);
        }
        OffsetFetchResponse {
            throttle_time_ms: if version >= 3 { 80 } else { 0 },
            groups,
        }
    }

    fn oracle_response(r: &OffsetFetchResponse, version: i16) -> OracleResponse {
        let mut o = OracleResponse::default();
        o.throttle_time_ms = r.throttle_time_ms;
        if version >= 8 {
            o.groups = r
                .groups
                .iter()
                .map(|g| {
                    let mut og = OracleResultGroup::default();
                    og.group_id = GroupId(oracle_str(g.group_id.as_deref().unwrap_or_default()));
                    og.error_code = g.error_code.code();
                    og.topics = g
                        .topics
                        .iter()
                        .map(|t| {
                            let mut ot = OracleGroupResultTopic::default();
                            ot.name = TopicName(oracle_str(&t.name));
                            ot.partitions = t
                                .partitions
                                .iter()
                                .map(|p| {
                                    let mut op = OracleGroupResultPartition::default();
                                    op.partition_index = p.partition_index;
                                    op.committed_offset = p.committed_offset;
                                    op.committed_leader_epoch = p.committed_leader_epoch;
                                    op.metadata = p.metadata.as_deref().map(oracle_str);
                                    op.error_code = p.error_code.code();
                                    op
                                })
                                .collect();
                            ot
                        })
                        .collect();
                    og
                })
                .collect();
        } else {
            let g = &r.groups[0];
            o.error_code = g.error_code.code();
            o.topics = g
                .topics
                .iter()
                .map(|t| {
                    let mut ot = OracleResultTopic::default();
                    ot.name = TopicName(oracle_str(&t.name));
                    ot.partitions = t
                        .partitions
                        .iter()
                        .map(|p| {
                            let mut op = OracleResultPartition::default();
                            op.partition_index = p.partition_index;
                            op.committed_offset = p.committed_offset;
                            op.committed_leader_epoch = p.committed_leader_epoch;
                            op.metadata = p.metadata.as_deref().map(oracle_str);
                            op.error_code = p.error_code.code();
                            op
                        })
                        .collect();
                    ot
                })
                .collect();
        }
        o
    }

    #[test]
    fn group_offsets_are_found_at_every_version() {
        for version in Req::MIN_VERSION..=Req::MAX_VERSION {
            let response = sample_response(version);
            let group = response.group("billing").expect("billing results");
            let offsets: Vec<_> = group
                .partitions()
                .map(|(topic, p)| (topic, p.partition_index, p.committed_offset))
                .collect();
            assert_eq!(
                offsets,
                vec![("invoices", 0, 1_234_567), ("invoices", 11, -1)]
            );
            let want_error = if (2..8).contains(&version) { 14 } else { 0 };
            assert_eq!(group.error_code.code(), want_error, "v{version}");
        }
        let batched = sample_response(8);
        assert_eq!(
            batched.group("audit").map(|g| g.error_code.code()),
            Some(16)
        );
        assert!(batched.group("unknown").is_none());
    }

    oracle_codec_tests! {
        request: Req,
        bare_bodies_up_to: 128,
        responses: sample_response => oracle_response,
        corrupted_responses_never_panic,
    }
}
