//! DescribeConfigs (key 32): the configs of topics and brokers (and, on newer
//! brokers, of broker loggers, client metrics and groups), with where each
//! value comes from.
//!
//! Topic configs can be asked of any broker; a broker's own configs must be
//! asked of that broker (the client routes by resource). Each resource gets
//! its own result: an unknown topic answers `UNKNOWN_TOPIC_OR_PARTITION`.
//!
//! Versions 1 to 4 (v0, removed in Kafka 4.0, had an `is_default` flag in
//! place of `config_source`): v1 adds synonyms and the config source, v2 is
//! v1, v3 adds the config type and documentation, v4 is the first flexible
//! version.
//!
//! # References
//! Kafka protocol guide, "DescribeConfigs API"; KIP-133, KIP-226, KIP-569.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// DescribeConfigs request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeConfigsRequest {
    /// The resources to describe.
    pub resources: Vec<DescribeConfigsResource>,
    /// Whether to return each config's synonyms (the other places its value
    /// may come from, most specific first).
    pub include_synonyms: bool,
    /// Whether to return each config's documentation (v3+; ignored before).
    pub include_documentation: bool,
}

/// One resource in a [`DescribeConfigsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeConfigsResource {
    /// The resource type (Kafka's `ConfigResource.Type` ids: 2 topic, 4
    /// broker, 8 broker logger).
    pub resource_type: i8,
    /// The resource name: a topic name or a broker id.
    pub resource_name: String,
    /// The configs to describe, or `None` for all of them.
    pub configuration_keys: Option<Vec<String>>,
}

/// DescribeConfigs response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeConfigsResponse {
    /// How long the broker throttled the request, in ms.
    pub throttle_time_ms: i32,
    /// The result for each resource.
    pub results: Vec<DescribeConfigsResult>,
}

/// The result for one resource in a [`DescribeConfigsResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeConfigsResult {
    /// The resource's error, e.g. `UNKNOWN_TOPIC_OR_PARTITION`.
    pub error_code: ErrorCode,
    /// The broker's explanation of the error, if any.
    pub error_message: Option<String>,
    /// The resource type.
    pub resource_type: i8,
    /// The resource name.
    pub resource_name: String,
    /// Each config of the resource.
    pub configs: Vec<DescribeConfigsResourceResult>,
}

/// One config in a [`DescribeConfigsResult`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeConfigsResourceResult {
    /// The config name.
    pub name: String,
    /// The value; `None` when unset or sensitive.
    pub value: Option<String>,
    /// Whether the config is read-only.
    pub read_only: bool,
    /// Where the value comes from (Kafka's `ConfigSource` ids, -1 unknown).
    pub config_source: i8,
    /// Whether the value is sensitive (then `value` is `None`).
    pub is_sensitive: bool,
    /// The config's synonyms, when requested.
    pub synonyms: Vec<DescribeConfigsSynonym>,
    /// The config's type (v3+, Kafka's `ConfigType` ids; 0 unknown).
    pub config_type: i8,
    /// The config's documentation (v3+, when requested).
    pub documentation: Option<String>,
}

/// One synonym in a [`DescribeConfigsResourceResult`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeConfigsSynonym {
    /// The synonym's name (e.g. `log.retention.ms` for `retention.ms`).
    pub name: String,
    /// Its value; `None` when unset or sensitive.
    pub value: Option<String>,
    /// Where it comes from (`ConfigSource` id).
    pub source: i8,
}

impl Request for DescribeConfigsRequest {
    const API_KEY: i16 = api_key::DESCRIBE_CONFIGS;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 4;
    const FIRST_FLEXIBLE: i16 = 4;
    type Response = DescribeConfigsResponse;

    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.array_of(&self.resources, |e, r| {
            e.i8(r.resource_type);
            e.string(&r.resource_name)?;
            match &r.configuration_keys {
                None => e.nullable_array_len(None)?,
                Some(keys) => e.array_of(keys, |e, k| e.string(k))?,
            }
            e.tagged_fields();
            Ok(())
        })?;
        e.bool(self.include_synonyms);
        if version >= 3 {
            e.bool(self.include_documentation);
        }
        e.tagged_fields();
        Ok(())
    }
}

// Smallest encodings, to bound array counts before allocating.
// A result: error code, null message, type, empty name, empty configs.
const MIN_RESULT_SIZE: usize = 2 + 1 + 1 + 1 + 1;
// A config: empty name, null value, three one-byte fields, empty synonyms.
const MIN_CONFIG_SIZE: usize = 1 + 1 + 3 + 1;
// A synonym: empty name, null value, source.
const MIN_SYNONYM_SIZE: usize = 1 + 1 + 1;

impl Response for DescribeConfigsResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let throttle_time_ms = d.i32()?;
        let results = d.array_of(MIN_RESULT_SIZE, |d| {
            let error_code = ErrorCode::from_code(d.i16()?);
            let error_message = d.nullable_string()?;
            let resource_type = d.i8()?;
            let resource_name = d.string()?;
            let configs = d.array_of(MIN_CONFIG_SIZE, |d| decode_config(version, d))?;
            d.tagged_fields()?;
            Ok(DescribeConfigsResult {
                error_code,
                error_message,
                resource_type,
                resource_name,
                configs,
            })
        })?;
        d.tagged_fields()?;
        Ok(DescribeConfigsResponse {
            throttle_time_ms,
            results,
        })
    }
}

fn decode_config(version: i16, d: &mut Decoder<'_>) -> DecodeResult<DescribeConfigsResourceResult> {
    let name = d.string()?;
    let value = d.nullable_string()?;
    let read_only = d.bool()?;
    let config_source = d.i8()?;
    let is_sensitive = d.bool()?;
    let synonyms = d.array_of(MIN_SYNONYM_SIZE, |d| {
        let synonym = DescribeConfigsSynonym {
            name: d.string()?,
            value: d.nullable_string()?,
            source: d.i8()?,
        };
        d.tagged_fields()?;
        Ok(synonym)
    })?;
    let (config_type, documentation) = if version >= 3 {
        (d.i8()?, d.nullable_string()?)
    } else {
        (0, None)
    };
    d.tagged_fields()?;
    Ok(DescribeConfigsResourceResult {
        name,
        value,
        read_only,
        config_source,
        is_sensitive,
        synonyms,
        config_type,
        documentation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;
    use kafka_protocol::messages::{
        self as oracle, describe_configs_request, describe_configs_response,
    };

    type Req = DescribeConfigsRequest;

    fn sample_request(version: i16) -> [DescribeConfigsRequest; 2] {
        [
            DescribeConfigsRequest {
                resources: vec![
                    DescribeConfigsResource {
                        resource_type: 2,
                        resource_name: "events".into(),
                        configuration_keys: None,
                    },
                    DescribeConfigsResource {
                        resource_type: 4,
                        resource_name: "1".into(),
                        configuration_keys: Some(vec!["log.retention.ms".into(), "é".into()]),
                    },
                ],
                include_synonyms: true,
                include_documentation: version >= 3,
            },
            DescribeConfigsRequest::default(),
        ]
    }

    fn oracle_request(r: &DescribeConfigsRequest, _: i16) -> oracle::DescribeConfigsRequest {
        oracle::DescribeConfigsRequest::default()
            .with_include_synonyms(r.include_synonyms)
            .with_include_documentation(r.include_documentation)
            .with_resources(
                r.resources
                    .iter()
                    .map(|res| {
                        describe_configs_request::DescribeConfigsResource::default()
                            .with_resource_type(res.resource_type)
                            .with_resource_name(oracle_str(&res.resource_name))
                            .with_configuration_keys(
                                res.configuration_keys
                                    .as_ref()
                                    .map(|keys| keys.iter().map(|k| oracle_str(k)).collect()),
                            )
                    })
                    .collect(),
            )
    }

    fn sample_response(version: i16) -> DescribeConfigsResponse {
        let v3 = version >= 3;
        DescribeConfigsResponse {
            throttle_time_ms: 3,
            results: vec![
                DescribeConfigsResult {
                    error_code: ErrorCode::None,
                    error_message: None,
                    resource_type: 2,
                    resource_name: "events".into(),
                    configs: vec![
                        DescribeConfigsResourceResult {
                            name: "retention.ms".into(),
                            value: Some("3600000".into()),
                            read_only: false,
                            config_source: 1,
                            is_sensitive: false,
                            synonyms: vec![
                                DescribeConfigsSynonym {
                                    name: "retention.ms".into(),
                                    value: Some("3600000".into()),
                                    source: 1,
                                },
                                DescribeConfigsSynonym {
                                    name: "log.retention.ms".into(),
                                    value: None,
                                    source: 5,
                                },
                            ],
                            config_type: if v3 { 5 } else { 0 },
                            documentation: v3.then(|| "How long to keep a log.".into()),
                        },
                        DescribeConfigsResourceResult {
                            name: "sasl.secret".into(),
                            value: None,
                            read_only: true,
                            config_source: 4,
                            is_sensitive: true,
                            synonyms: vec![],
                            config_type: if v3 { 9 } else { 0 },
                            documentation: None,
                        },
                    ],
                },
                DescribeConfigsResult {
                    error_code: ErrorCode::UnknownTopicOrPartition,
                    error_message: Some("Topic missing does not exist".into()),
                    resource_type: 2,
                    resource_name: "missing".into(),
                    configs: vec![],
                },
            ],
        }
    }

    fn oracle_response(r: &DescribeConfigsResponse, _: i16) -> oracle::DescribeConfigsResponse {
        oracle::DescribeConfigsResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_unknown_tagged_field(9, b"top".as_ref().into())
            .with_results(
                r.results
                    .iter()
                    .map(|res| {
                        describe_configs_response::DescribeConfigsResult::default()
                            .with_error_code(res.error_code.code())
                            .with_error_message(res.error_message.as_deref().map(oracle_str))
                            .with_resource_type(res.resource_type)
                            .with_resource_name(oracle_str(&res.resource_name))
                            .with_configs(
                                res.configs
                                    .iter()
                                    .map(|c| {
                                        describe_configs_response::DescribeConfigsResourceResult::default()
                                            .with_name(oracle_str(&c.name))
                                            .with_value(c.value.as_deref().map(oracle_str))
                                            .with_read_only(c.read_only)
                                            .with_config_source(c.config_source)
                                            .with_is_sensitive(c.is_sensitive)
                                            .with_config_type(c.config_type)
                                            .with_documentation(
                                                c.documentation.as_deref().map(oracle_str),
                                            )
                                            .with_unknown_tagged_field(3, b"c".as_ref().into())
                                            .with_synonyms(
                                                c.synonyms
                                                    .iter()
                                                    .map(|s| {
                                                        describe_configs_response::DescribeConfigsSynonym::default()
                                                            .with_name(oracle_str(&s.name))
                                                            .with_value(s.value.as_deref().map(oracle_str))
                                                            .with_source(s.source)
                                                    })
                                                    .collect(),
                                            )
                                    })
                                    .collect(),
                            )
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
