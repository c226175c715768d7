//! DeleteTopics (key 20): delete topics by name, or by id from v6.
//!
//! The client sends it to the controller (any broker forwards it in KRaft
//! clusters). Each topic gets its own result: an unknown topic answers
//! `UNKNOWN_TOPIC_OR_PARTITION` (or `UNKNOWN_TOPIC_ID`), a broker with
//! deletion turned off `TOPIC_DELETION_DISABLED`.
//!
//! Versions 1 to 6: v4 is the first flexible version, v5 adds error messages
//! and may answer `THROTTLING_QUOTA_EXCEEDED` (KIP-599), and v6 names topics
//! by name or id (KIP-516). Before v6 the request is a list of names, so a
//! topic given by id alone cannot be sent.
//!
//! # References
//! Kafka protocol guide, "DeleteTopics API"; KIP-4, KIP-599, KIP-516.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// DeleteTopics request.
///
/// `Default` has no topics and a 60 s timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteTopicsRequest {
    /// The topics to delete.
    pub topics: Vec<DeleteTopicState>,
    /// How long the broker waits for the deletions to complete, in ms.
    /// Defaults to 60 000.
    pub timeout_ms: i32,
}

impl Default for DeleteTopicsRequest {
    fn default() -> Self {
        DeleteTopicsRequest {
            topics: Vec::new(),
            timeout_ms: 60_000,
        }
    }
}

impl DeleteTopicsRequest {
    /// A request deleting the named topics, waiting up to `timeout_ms`.
    pub fn by_names<I, S>(names: I, timeout_ms: i32) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        DeleteTopicsRequest {
            topics: names.into_iter().map(DeleteTopicState::named).collect(),
            timeout_ms,
        }
    }
}

/// One topic in a [`DeleteTopicsRequest`], by name or (v6+) by id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteTopicState {
    /// The topic name; `None` (v6+) deletes by `topic_id` alone.
    pub name: Option<String>,
    /// The topic id (v6+; all zeros when deleting by name).
    pub topic_id: [u8; 16],
}

impl DeleteTopicState {
    /// A topic given by name.
    pub fn named(name: impl Into<String>) -> Self {
        DeleteTopicState {
            name: Some(name.into()),
            topic_id: [0; 16],
        }
    }

    /// A topic given by id (v6+).
    pub fn by_id(topic_id: [u8; 16]) -> Self {
        DeleteTopicState {
            name: None,
            topic_id,
        }
    }
}

/// DeleteTopics response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteTopicsResponse {
    /// How long the broker throttled the request, in ms.
    pub throttle_time_ms: i32,
    /// The result for each topic.
    pub responses: Vec<DeletableTopicResult>,
}

/// The result for one topic in a [`DeleteTopicsResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletableTopicResult {
    /// The topic name; `None` only in v6+ for an unknown topic given by id.
    pub name: Option<String>,
    /// The topic id (v6+, else all zeros).
    pub topic_id: [u8; 16],
    /// The topic's error, e.g. `UNKNOWN_TOPIC_OR_PARTITION`.
    pub error_code: ErrorCode,
    /// The broker's explanation of the error, if any (v5+).
    pub error_message: Option<String>,
}

impl Request for DeleteTopicsRequest {
    const API_KEY: i16 = api_key::DELETE_TOPICS;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 6;
    const FIRST_FLEXIBLE: i16 = 4;
    type Response = DeleteTopicsResponse;

    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        if version >= 6 {
            e.array_of(&self.topics, |e, topic| {
                e.nullable_string(topic.name.as_deref())?;
                e.uuid(&topic.topic_id);
                e.tagged_fields();
                Ok(())
            })?;
        } else {
            e.array_of(&self.topics, |e, topic| {
                if topic.topic_id != [0; 16] {
                    return Err(EncodeError::Unsupported(
                        "DeleteTopics below v6 cannot delete a topic by id",
                    ));
                }
                let name = topic.name.as_deref().ok_or(EncodeError::Unsupported(
                    "DeleteTopics below v6 needs topic names",
                ))?;
                e.string(name)
            })?;
        }
        e.i32(self.timeout_ms);
        e.tagged_fields();
        Ok(())
    }
}

/// Smallest topic result, to bound the count before allocating: an empty
/// name and an error code.
const MIN_RESULT_SIZE: usize = 1 + 2;

impl Response for DeleteTopicsResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let responses = d.array_of(MIN_RESULT_SIZE, |d| {
            let result = DeletableTopicResult {
                name: if version >= 6 {
                    d.nullable_string()?
                } else {
                    Some(d.string()?)
                },
                topic_id: if version >= 6 { d.uuid()? } else { [0; 16] },
                error_code: ErrorCode::from_code(d.i16()?),
                error_message: if version >= 5 {
                    d.nullable_string()?
                } else {
                    None
                },
            };
            d.tagged_fields()?;
            Ok(result)
        })?;
        d.tagged_fields()?;
        Ok(DeleteTopicsResponse {
            throttle_time_ms,
            responses,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::{self as oracle, delete_topics_request, delete_topics_response};

    type Req = DeleteTopicsRequest;

    const TOPIC_ID: [u8; 16] = [
        0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1,
        0xf0,
    ];

    /// The test's own response encoder, adding an unknown tagged field to
    /// every flexible struct.
    fn response_body(r: &DeleteTopicsResponse, version: i16) -> Vec<u8> {
        let mut body = Vec::new();
        let e = &mut Encoder::with_flexible(&mut body, Req::is_flexible(version));
        let unknown_tag = |e: &mut Encoder<'_>| e.tagged_fields_with(&[(1, b"x")]).unwrap();
        e.i32(r.throttle_time_ms);
        e.array_of(&r.responses, |e, t| {
            e.nullable_string(t.name.as_deref())?;
            if version >= 6 {
                e.uuid(&t.topic_id);
            }
            e.i16(t.error_code.code());
            if version >= 5 {
                e.nullable_string(t.error_message.as_deref())?;
            }
            unknown_tag(e);
            Ok(())
        })
        .unwrap();
        unknown_tag(e);
        body
    }

    fn sample_response(version: i16) -> DeleteTopicsResponse {
        let v6 = version >= 6;
        let mut responses = vec![
            DeletableTopicResult {
                name: Some("events".into()),
                topic_id: if v6 { TOPIC_ID } else { [0; 16] },
                error_code: ErrorCode::None,
                error_message: None,
            },
            DeletableTopicResult {
                name: Some("missing".into()),
                topic_id: [0; 16],
                error_code: ErrorCode::UnknownTopicOrPartition,
                error_message: (version >= 5).then(|| "This server does not host it.".into()),
            },
        ];
        if v6 {
            responses.push(DeletableTopicResult {
                name: None,
                topic_id: [0x42; 16],
                error_code: ErrorCode::UnknownTopicId,
                error_message: Some("Unknown topic id.".into()),
            });
        }
        DeleteTopicsResponse {
            throttle_time_ms: 15,
            responses,
        }
    }

    fn sample_request(version: i16) -> DeleteTopicsRequest {
        let mut request = DeleteTopicsRequest::by_names(["events", "topic-événement"], 45_000);
        if version >= 6 {
            request.topics.push(DeleteTopicState::by_id(TOPIC_ID));
        }
        request
    }

    /// The oracle keeps v6's topic structs and older versions' names in two
    /// fields; only the one the version carries is filled.
    fn oracle_request(r: &DeleteTopicsRequest, version: i16) -> oracle::DeleteTopicsRequest {
        let request = oracle::DeleteTopicsRequest::default().with_timeout_ms(r.timeout_ms);
        if version >= 6 {
            request.with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        delete_topics_request::DeleteTopicState::default()
                            .with_name(t.name.as_deref().map(|n| oracle_str(n).into()))
                            .with_topic_id(oracle_uuid(&t.topic_id))
                    })
                    .collect(),
            )
        } else {
            request.with_topic_names(
                r.topics
                    .iter()
                    .filter_map(|t| t.name.as_deref())
                    .map(|n| oracle_str(n).into())
                    .collect(),
            )
        }
    }

    fn oracle_response(r: &DeleteTopicsResponse) -> oracle::DeleteTopicsResponse {
        oracle::DeleteTopicsResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_unknown_tagged_field(6, b"top".as_ref().into())
            .with_responses(
                r.responses
                    .iter()
                    .map(|t| {
                        delete_topics_response::DeletableTopicResult::default()
                            .with_name(t.name.as_deref().map(|n| oracle_str(n).into()))
                            .with_topic_id(oracle_uuid(&t.topic_id))
                            .with_error_code(t.error_code.code())
                            .with_error_message(t.error_message.as_deref().map(oracle_str))
                            .with_unknown_tagged_field(2, b"t".as_ref().into())
                    })
                    .collect(),
            )
    }

    #[test]
    fn a_topic_given_by_id_needs_v6() {
        let request = DeleteTopicsRequest {
            topics: vec![DeleteTopicState::by_id(TOPIC_ID)],
            ..DeleteTopicsRequest::default()
        };
        assert!(try_request_body(&request, 5).is_err());
        assert!(try_request_body(&request, 6).is_ok());
        let both = DeleteTopicsRequest {
            topics: vec![DeleteTopicState {
                name: Some("t".into()),
                topic_id: TOPIC_ID,
            }],
            ..DeleteTopicsRequest::default()
        };
        assert!(try_request_body(&both, 5).is_err());
    }

    #[test]
    fn by_names_deletes_by_name_only() {
        let request = DeleteTopicsRequest::by_names(["a"], 1_000);
        assert_eq!(request.topics, [DeleteTopicState::named("a")]);
        assert_eq!(request.timeout_ms, 1_000);
    }

    oracle_codec_tests! {
        request: Req,
        requests encodes_like_oracle: |v| [sample_request(v)] => oracle_request,
        responses: sample_response => |r, _| oracle_response(r),
        round_trip_bodies: response_body,
    }
}
