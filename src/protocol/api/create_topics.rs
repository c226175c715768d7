//! CreateTopics (key 19): create topics with a partition count and
//! replication factor (or an explicit replica assignment) and topic configs.
//!
//! The client sends it to the controller (any broker forwards it in KRaft
//! clusters). Each topic gets its own result: an existing topic answers
//! `TOPIC_ALREADY_EXISTS`, with an error message from v1.
//!
//! Versions 2 to 7: v4 lets `num_partitions` and `replication_factor` be -1
//! (use the broker's defaults, KIP-464), v5 is the first flexible version and
//! returns the created topic's partitions, replication factor and configs
//! (KIP-525), v6 may answer `THROTTLING_QUOTA_EXCEEDED` (KIP-599), and v7
//! returns the topic id (KIP-516).
//!
//! # References
//! Kafka protocol guide, "CreateTopics API"; KIP-4, KIP-464, KIP-525,
//! KIP-599, KIP-516.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// CreateTopics request.
///
/// `Default` has no topics, a 60 s timeout (the schema's default) and
/// `validate_only` off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTopicsRequest {
    /// The topics to create.
    pub topics: Vec<CreatableTopic>,
    /// How long the broker waits for the topics to be created, in ms.
    /// Defaults to 60 000.
    pub timeout_ms: i32,
    /// Check that the topics could be created, without creating them.
    /// Defaults to `false`.
    pub validate_only: bool,
}

impl Default for CreateTopicsRequest {
    fn default() -> Self {
        CreateTopicsRequest {
            topics: Vec::new(),
            timeout_ms: 60_000,
            validate_only: false,
        }
    }
}

impl CreateTopicsRequest {
    /// A request creating `topics`, waiting up to `timeout_ms`.
    pub fn new(topics: Vec<CreatableTopic>, timeout_ms: i32) -> Self {
        CreateTopicsRequest {
            topics,
            timeout_ms,
            validate_only: false,
        }
    }
}

/// One topic in a [`CreateTopicsRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatableTopic {
    /// The topic name.
    pub name: String,
    /// The number of partitions, or -1 for the broker's default (v4+) or when
    /// `assignments` is given. Defaults to -1.
    pub num_partitions: i32,
    /// The replication factor, or -1 for the broker's default (v4+) or when
    /// `assignments` is given. Defaults to -1.
    pub replication_factor: i16,
    /// A manual replica assignment per partition; empty for automatic
    /// placement.
    pub assignments: Vec<CreatableReplicaAssignment>,
    /// Topic configs to set, e.g. `cleanup.policy`; a `None` value is null.
    pub configs: Vec<CreatableTopicConfig>,
}

impl CreatableTopic {
    /// A topic with `num_partitions` partitions of `replication_factor`
    /// replicas each, placed by the broker, with no configs.
    pub fn new(name: impl Into<String>, num_partitions: i32, replication_factor: i16) -> Self {
        CreatableTopic {
            name: name.into(),
            num_partitions,
            replication_factor,
            assignments: Vec::new(),
            configs: Vec::new(),
        }
    }

    /// Adds the topic config `name=value`.
    pub fn config(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.push(CreatableTopicConfig {
            name: name.into(),
            value: Some(value.into()),
        });
        self
    }
}

/// A manual replica assignment for one partition of a [`CreatableTopic`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreatableReplicaAssignment {
    /// The partition index.
    pub partition_index: i32,
    /// The brokers to place the replicas on, preferred leader first.
    pub broker_ids: Vec<i32>,
}

/// One config of a [`CreatableTopic`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreatableTopicConfig {
    /// The config name.
    pub name: String,
    /// The config value.
    pub value: Option<String>,
}

/// CreateTopics response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTopicsResponse {
    /// How long the broker throttled the request, in ms.
    pub throttle_time_ms: i32,
    /// The result for each topic.
    pub topics: Vec<CreatableTopicResult>,
}

/// The result for one topic in a [`CreateTopicsResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatableTopicResult {
    /// The topic name.
    pub name: String,
    /// The new topic's id (v7+; all zeros before, or on error).
    pub topic_id: [u8; 16],
    /// The topic's error, e.g. `TOPIC_ALREADY_EXISTS`.
    pub error_code: ErrorCode,
    /// The broker's explanation of the error, if any.
    pub error_message: Option<String>,
    /// Why `configs` is missing, if the broker could not return them (v5+, a
    /// tagged field; `NONE` otherwise).
    pub topic_config_error_code: ErrorCode,
    /// The topic's partition count (v5+, else -1).
    pub num_partitions: i32,
    /// The topic's replication factor (v5+, else -1).
    pub replication_factor: i16,
    /// The topic's configs (v5+; `None` before, or when not returned).
    pub configs: Option<Vec<CreatableTopicConfigs>>,
}

/// One config of a created topic, in a [`CreatableTopicResult`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatableTopicConfigs {
    /// The config name.
    pub name: String,
    /// The config value; `None` when unset or sensitive.
    pub value: Option<String>,
    /// Whether the config is read-only.
    pub read_only: bool,
    /// Where the value comes from (Kafka's `ConfigSource` ids, -1 unknown).
    pub config_source: i8,
    /// Whether the value is sensitive (then `value` is `None`).
    pub is_sensitive: bool,
}

/// Tag of the `TopicConfigErrorCode` field in a flexible topic result.
const TOPIC_CONFIG_ERROR_CODE_TAG: u32 = 0;

impl Request for CreateTopicsRequest {
    const API_KEY: i16 = api_key::CREATE_TOPICS;
    const MIN_VERSION: i16 = 2;
    const MAX_VERSION: i16 = 7;
    const FIRST_FLEXIBLE: i16 = 5;
    type Response = CreateTopicsResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.array_of(&self.topics, |e, topic| {
            e.string(&topic.name)?;
            e.i32(topic.num_partitions);
            e.i16(topic.replication_factor);
            e.array_of(&topic.assignments, |e, assignment| {
                e.i32(assignment.partition_index);
                e.array_of(&assignment.broker_ids, |e, id| {
                    e.i32(*id);
                    Ok(())
                })?;
                e.tagged_fields();
                Ok(())
            })?;
            e.array_of(&topic.configs, |e, config| {
                e.string(&config.name)?;
                e.nullable_string(config.value.as_deref())?;
                e.tagged_fields();
                Ok(())
            })?;
            e.tagged_fields();
            Ok(())
        })?;
        e.i32(self.timeout_ms);
        e.bool(self.validate_only);
        e.tagged_fields();
        Ok(())
    }
}

// Smallest encodings, to bound array counts before allocating: a topic result
// is an empty name, an error code and a null message; a config an empty name,
// a null value and three one-byte fields.
const MIN_TOPIC_SIZE: usize = 1 + 2 + 1;
const MIN_CONFIG_SIZE: usize = 1 + 1 + 3;

impl Response for CreateTopicsResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let topics = d.array_of(MIN_TOPIC_SIZE, |d| decode_topic(version, d))?;
        d.tagged_fields()?;
        Ok(CreateTopicsResponse {
            throttle_time_ms,
            topics,
        })
    }
}

fn decode_topic(version: i16, d: &mut Decoder<'_>) -> DecodeResult<CreatableTopicResult> {
    let name = d.string()?;
    let topic_id = if version >= 7 { d.uuid()? } else { [0; 16] };
    let error_code = ErrorCode::from_code(d.i16()?);
    let error_message = d.nullable_string()?;
    let (num_partitions, replication_factor, configs) = if version >= 5 {
        (
            d.i32()?,
            d.i16()?,
            d.nullable_array_of(MIN_CONFIG_SIZE, decode_config)?,
        )
    } else {
        (-1, -1, None)
    };
    let mut topic_config_error_code = ErrorCode::None;
    d.tagged_fields_with(|tag, data, _| {
        if tag != TOPIC_CONFIG_ERROR_CODE_TAG {
            return Ok(false);
        }
        let mut field = Decoder::new(data);
        topic_config_error_code = ErrorCode::from_code(field.i16()?);
        field.finish()?;
        Ok(true)
    })?;
    Ok(CreatableTopicResult {
        name,
        topic_id,
        error_code,
        error_message,
        topic_config_error_code,
        num_partitions,
        replication_factor,
        configs,
    })
}

fn decode_config(d: &mut Decoder<'_>) -> DecodeResult<CreatableTopicConfigs> {
    let config = CreatableTopicConfigs {
        name: d.string()?,
        value: d.nullable_string()?,
        read_only: d.bool()?,
        config_source: d.i8()?,
        is_sensitive: d.bool()?,
    };
    d.tagged_fields()?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::{self as oracle, create_topics_request, create_topics_response};

    type Req = CreateTopicsRequest;

    const TOPIC_ID: [u8; 16] = [
        0xa1, 0x0c, 0x44, 0x9e, 0x51, 0x2f, 0x4e, 0x07, 0x8d, 0x3b, 0x90, 0x16, 0xfe, 0xed, 0xfa,
        0xce,
    ];

    /// The test's own response encoder. Flexible structs carry an unknown
    /// tagged field (tag 7), and topic results their config error code
    /// (tag 0) when it is not `NONE`.
    fn response_body(r: &CreateTopicsResponse, version: i16) -> Vec<u8> {
        let mut body = Vec::new();
        let e = &mut Encoder::with_flexible(&mut body, Req::is_flexible(version));
        let unknown_tag = |e: &mut Encoder<'_>| e.tagged_fields_with(&[(7, b"?")]).unwrap();
        e.i32(r.throttle_time_ms);
        e.array_of(&r.topics, |e, t| {
            e.string(&t.name)?;
            if version >= 7 {
                e.uuid(&t.topic_id);
            }
            e.i16(t.error_code.code());
            e.nullable_string(t.error_message.as_deref())?;
            if version >= 5 {
                e.i32(t.num_partitions);
                e.i16(t.replication_factor);
                match &t.configs {
                    None => e.nullable_array_len(None)?,
                    Some(configs) => e.array_of(configs, |e, c| {
                        e.string(&c.name)?;
                        e.nullable_string(c.value.as_deref())?;
                        e.bool(c.read_only);
                        e.i8(c.config_source);
                        e.bool(c.is_sensitive);
                        unknown_tag(e);
                        Ok(())
                    })?,
                }
            }
            let code = t.topic_config_error_code.code().to_be_bytes();
            if t.topic_config_error_code.is_ok() {
                unknown_tag(e);
            } else {
                e.tagged_fields_with(&[(TOPIC_CONFIG_ERROR_CODE_TAG, &code), (7, b"?")])?;
            }
            Ok(())
        })
        .unwrap();
        unknown_tag(e);
        body
    }

    fn sample_response(version: i16) -> CreateTopicsResponse {
        let since_v5 = version >= 5;
        CreateTopicsResponse {
            throttle_time_ms: 10,
            topics: vec![
                CreatableTopicResult {
                    name: "events".into(),
                    topic_id: if version >= 7 { TOPIC_ID } else { [0; 16] },
                    error_code: ErrorCode::None,
                    error_message: None,
                    topic_config_error_code: ErrorCode::None,
                    num_partitions: if since_v5 { 6 } else { -1 },
                    replication_factor: if since_v5 { 3 } else { -1 },
                    configs: since_v5.then(|| {
                        vec![
                            CreatableTopicConfigs {
                                name: "cleanup.policy".into(),
                                value: Some("compact".into()),
                                read_only: false,
                                config_source: 1,
                                is_sensitive: false,
                            },
                            CreatableTopicConfigs {
                                name: "sasl.secret".into(),
                                value: None,
                                read_only: true,
                                config_source: 5,
                                is_sensitive: true,
                            },
                        ]
                    }),
                },
                CreatableTopicResult {
                    name: "taken".into(),
                    topic_id: [0; 16],
                    error_code: ErrorCode::TopicAlreadyExists,
                    error_message: Some("Topic 'taken' already exists.".into()),
                    topic_config_error_code: if since_v5 {
                        ErrorCode::TopicAuthorizationFailed
                    } else {
                        ErrorCode::None
                    },
                    num_partitions: -1,
                    replication_factor: -1,
                    configs: None,
                },
            ],
        }
    }

    fn sample_request(version: i16) -> CreateTopicsRequest {
        let (partitions, replicas) = if version >= 4 { (-1, -1) } else { (1, 1) };
        CreateTopicsRequest {
            topics: vec![
                CreatableTopic::new("events", 6, 3)
                    .config("cleanup.policy", "compact")
                    .config("retention.ms", "604800000"),
                CreatableTopic {
                    name: "placed".into(),
                    num_partitions: -1,
                    replication_factor: -1,
                    assignments: vec![
                        CreatableReplicaAssignment {
                            partition_index: 0,
                            broker_ids: vec![1, 2],
                        },
                        CreatableReplicaAssignment {
                            partition_index: 1,
                            broker_ids: vec![2, 3],
                        },
                    ],
                    configs: vec![CreatableTopicConfig {
                        name: "compression.type".into(),
                        value: None,
                    }],
                },
                CreatableTopic::new("topic-événement", partitions, replicas),
            ],
            timeout_ms: 30_000,
            validate_only: true,
        }
    }

    fn oracle_request(r: &CreateTopicsRequest) -> oracle::CreateTopicsRequest {
        oracle::CreateTopicsRequest::default()
            .with_timeout_ms(r.timeout_ms)
            .with_validate_only(r.validate_only)
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        create_topics_request::CreatableTopic::default()
                            .with_name(oracle_str(&t.name).into())
                            .with_num_partitions(t.num_partitions)
                            .with_replication_factor(t.replication_factor)
                            .with_assignments(
                                t.assignments
                                    .iter()
                                    .map(|a| {
                                        create_topics_request::CreatableReplicaAssignment::default()
                                            .with_partition_index(a.partition_index)
                                            .with_broker_ids(
                                                a.broker_ids
                                                    .iter()
                                                    .map(|&id| oracle::BrokerId(id))
                                                    .collect(),
                                            )
                                    })
                                    .collect(),
                            )
                            .with_configs(
                                t.configs
                                    .iter()
                                    .map(|c| {
                                        create_topics_request::CreatableTopicConfig::default()
                                            .with_name(oracle_str(&c.name))
                                            .with_value(c.value.as_deref().map(oracle_str))
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
    }

    fn oracle_response(r: &CreateTopicsResponse) -> oracle::CreateTopicsResponse {
        oracle::CreateTopicsResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_unknown_tagged_field(3, b"top".as_ref().into())
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        create_topics_response::CreatableTopicResult::default()
                            .with_name(oracle_str(&t.name).into())
                            .with_topic_id(oracle_uuid(&t.topic_id))
                            .with_error_code(t.error_code.code())
                            .with_error_message(t.error_message.as_deref().map(oracle_str))
                            .with_topic_config_error_code(t.topic_config_error_code.code())
                            .with_num_partitions(t.num_partitions)
                            .with_replication_factor(t.replication_factor)
                            .with_unknown_tagged_field(4, b"t".as_ref().into())
                            .with_configs(t.configs.as_ref().map(|configs| {
                                configs
                                    .iter()
                                    .map(|c| {
                                        create_topics_response::CreatableTopicConfigs::default()
                                            .with_name(oracle_str(&c.name))
                                            .with_value(c.value.as_deref().map(oracle_str))
                                            .with_read_only(c.read_only)
                                            .with_config_source(c.config_source)
                                            .with_is_sensitive(c.is_sensitive)
                                    })
                                    .collect()
                            }))
                    })
                    .collect(),
            )
    }

    #[test]
    fn a_malformed_topic_config_error_code_is_an_error() {
        let mut body = Vec::new();
        let e = &mut Encoder::with_flexible(&mut body, true);
        e.i32(0);
        e.array_len(1).unwrap();
        e.string("t").unwrap();
        e.i16(0);
        e.nullable_string(None).unwrap();
        e.i32(1);
        e.i16(1);
        e.nullable_array_len(None).unwrap();
        e.tagged_fields_with(&[(TOPIC_CONFIG_ERROR_CODE_TAG, &[0, 29, 0])])
            .unwrap();
        e.tagged_fields();
        let frame = response_frame::<Req>(5, &body);
        assert!(decode::<Req>(5, &frame).is_err());
    }

    #[test]
    fn new_topics_are_placed_by_the_broker_and_configs_accumulate() {
        let topic = CreatableTopic::new("t", 3, 2)
            .config("a", "1")
            .config("b", "2");
        assert_eq!((topic.num_partitions, topic.replication_factor), (3, 2));
        assert!(topic.assignments.is_empty());
        let names: Vec<_> = topic.configs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(CreateTopicsRequest::default().timeout_ms, 60_000);
    }

    oracle_codec_tests! {
        request: Req,
        requests encodes_like_oracle: |v| [sample_request(v)] => |r, _| oracle_request(r),
        responses: sample_response => |r, _| oracle_response(r),
        round_trip_bodies: response_body,
    }
}
