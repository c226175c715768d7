//! IncrementalAlterConfigs (key 44): set, delete, append to or subtract
//! from single configs of topics and brokers, leaving the others alone (the
//! older AlterConfigs replaced a resource's whole config set).
//!
//! Topic configs go to any broker (it forwards them to the controller); a
//! broker's own configs to that broker. Each resource gets its own result:
//! an unknown config name or an invalid value answers `INVALID_CONFIG`, an
//! unknown topic `UNKNOWN_TOPIC_OR_PARTITION`.
//!
//! Versions 0 and 1: v1 is the first flexible version.
//!
//! # References
//! Kafka protocol guide, "IncrementalAlterConfigs API"; KIP-339.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// IncrementalAlterConfigs request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IncrementalAlterConfigsRequest {
    /// The resources to alter.
    pub resources: Vec<AlterConfigsResource>,
    /// Check the changes without applying them.
    pub validate_only: bool,
}

/// One resource in an [`IncrementalAlterConfigsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlterConfigsResource {
    /// The resource type (`ConfigResource.Type` id: 2 topic, 4 broker).
    pub resource_type: i8,
    /// The resource name: a topic name or a broker id.
    pub resource_name: String,
    /// The changes.
    pub configs: Vec<AlterableConfig>,
}

/// One change in an [`AlterConfigsResource`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlterableConfig {
    /// The config name.
    pub name: String,
    /// The operation: 0 set, 1 delete, 2 append, 3 subtract.
    pub config_operation: i8,
    /// The value to set, append or subtract; `None` for delete.
    pub value: Option<String>,
}

/// IncrementalAlterConfigs response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncrementalAlterConfigsResponse {
    /// How long the broker throttled the request, in ms.
    pub throttle_time_ms: i32,
    /// The result for each resource.
    pub responses: Vec<AlterConfigsResourceResponse>,
}

/// The result for one resource in an [`IncrementalAlterConfigsResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterConfigsResourceResponse {
    /// The resource's error, e.g. `INVALID_CONFIG`.
    pub error_code: ErrorCode,
    /// The broker's explanation of the error, if any.
    pub error_message: Option<String>,
    /// The resource type.
    pub resource_type: i8,
    /// The resource name.
    pub resource_name: String,
}

impl Request for IncrementalAlterConfigsRequest {
    const API_KEY: i16 = api_key::INCREMENTAL_ALTER_CONFIGS;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 1;
    const FIRST_FLEXIBLE: i16 = 1;
    type Response = IncrementalAlterConfigsResponse;

    fn encode(&self, _version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.array_of(&self.resources, |e, r| {
            e.i8(r.resource_type);
            e.string(&r.resource_name)?;
            e.array_of(&r.configs, |e, c| {
                e.string(&c.name)?;
                e.i8(c.config_operation);
                e.nullable_string(c.value.as_deref())?;
                e.tagged_fields();
                Ok(())
            })?;
            e.tagged_fields();
            Ok(())
        })?;
        e.bool(self.validate_only);
        e.tagged_fields();
        Ok(())
    }
}

/// Smallest resource result, to bound the count before allocating: error
/// code, null message, type and an empty name.
const MIN_RESULT_SIZE: usize = 2 + 1 + 1 + 1;

impl Response for IncrementalAlterConfigsResponse {
    fn decode(_version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let responses = d.array_of(MIN_RESULT_SIZE, |d| {
            let result = AlterConfigsResourceResponse {
                error_code: ErrorCode::from_code(d.i16()?),
                error_message: d.nullable_string()?,
                resource_type: d.i8()?,
                resource_name: d.string()?,
            };
            d.tagged_fields()?;
            Ok(result)
        })?;
        d.tagged_fields()?;
        Ok(IncrementalAlterConfigsResponse {
            throttle_time_ms,
            responses,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::{
        self as oracle, incremental_alter_configs_request, incremental_alter_configs_response,
    };

    type Req = IncrementalAlterConfigsRequest;

    fn sample_request(_: i16) -> [IncrementalAlterConfigsRequest; 2] {
        let config = |name: &str, op: i8, value: Option<&str>| AlterableConfig {
            name: name.into(),
            config_operation: op,
            value: value.map(Into::into),
        };
        [
            IncrementalAlterConfigsRequest {
                resources: vec![
                    AlterConfigsResource {
                        resource_type: 2,
                        resource_name: "events".into(),
                        configs: vec![
                            config("retention.ms", 0, Some("60000")),
                            config("cleanup.policy", 2, Some("compact")),
                            config("segment.ms", 1, None),
                        ],
                    },
                    AlterConfigsResource {
                        resource_type: 4,
                        resource_name: "1".into(),
                        configs: vec![config("log.cleaner.threads", 3, Some("é"))],
                    },
                ],
                validate_only: false,
            },
            IncrementalAlterConfigsRequest {
                resources: vec![],
                validate_only: true,
            },
        ]
    }

    fn oracle_request(
        r: &IncrementalAlterConfigsRequest,
        _: i16,
    ) -> oracle::IncrementalAlterConfigsRequest {
        oracle::IncrementalAlterConfigsRequest::default()
            .with_validate_only(r.validate_only)
            .with_resources(
                r.resources
                    .iter()
                    .map(|res| {
                        incremental_alter_configs_request::AlterConfigsResource::default()
                            .with_resource_type(res.resource_type)
                            .with_resource_name(oracle_str(&res.resource_name))
                            .with_configs(
                                res.configs
                                    .iter()
                                    .map(|c| {
                                        incremental_alter_configs_request::AlterableConfig::default()
                                            .with_name(oracle_str(&c.name))
                                            .with_config_operation(c.config_operation)
                                            .with_value(c.value.as_deref().map(oracle_str))
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
    }

    fn sample_response(_: i16) -> IncrementalAlterConfigsResponse {
        IncrementalAlterConfigsResponse {
            throttle_time_ms: 1,
            responses: vec![
                AlterConfigsResourceResponse {
                    error_code: ErrorCode::None,
                    error_message: None,
                    resource_type: 2,
                    resource_name: "events".into(),
                },
                AlterConfigsResourceResponse {
                    error_code: ErrorCode::InvalidConfig,
                    error_message: Some("Unknown topic config name: nope".into()),
                    resource_type: 2,
                    resource_name: "other".into(),
                },
            ],
        }
    }

    fn oracle_response(
        r: &IncrementalAlterConfigsResponse,
        _: i16,
    ) -> oracle::IncrementalAlterConfigsResponse {
        oracle::IncrementalAlterConfigsResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_unknown_tagged_field(4, b"top".as_ref().into())
            .with_responses(
                r.responses
                    .iter()
                    .map(|res| {
                        incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                            .with_error_code(res.error_code.code())
                            .with_error_message(res.error_message.as_deref().map(oracle_str))
                            .with_resource_type(res.resource_type)
                            .with_resource_name(oracle_str(&res.resource_name))
                            .with_unknown_tagged_field(1, b"r".as_ref().into())
                    })
                    .collect(),
            )
    }

    oracle_codec_tests! {
        request: Req,
        requests matches_oracle: sample_request => oracle_request,
        responses: sample_response => oracle_response,
    }
}
