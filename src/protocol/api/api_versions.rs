//! ApiVersions (key 18): which APIs and versions a broker speaks.
//!
//! The client sends it first on every connection. A broker that does not know
//! the requested ApiVersions version answers with a v0 body carrying
//! `UNSUPPORTED_VERSION` and its own version window (KIP-511), so the caller
//! retries at the broker's highest version. The response header is always v0,
//! even in flexible versions.
//!
//! # References
//! Kafka protocol guide, "ApiVersions API"; KIP-35, KIP-482, KIP-511.

use crate::protocol::{
    api_key, DecodeResult, Decoder, EncodeError, Encoder, ErrorCode, Request, Response,
};

/// ApiVersions request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiVersionsRequest {
    /// Client software name (v3+), e.g. `kafka-sync`.
    pub client_software_name: String,
    /// Client software version (v3+).
    pub client_software_version: String,
}

/// One API the broker supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersionRange {
    /// API key.
    pub api_key: i16,
    /// Oldest supported version.
    pub min_version: i16,
    /// Newest supported version.
    pub max_version: i16,
}

/// ApiVersions response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersionsResponse {
    /// Error code; `UNSUPPORTED_VERSION` means "retry at a version in `api_keys`".
    pub error_code: ErrorCode,
    /// Supported APIs.
    pub api_keys: Vec<ApiVersionRange>,
    /// Throttle time (v1+).
    pub throttle_time_ms: i32,
}

impl ApiVersionsResponse {
    /// The broker's window for `api_key`, if it supports the API.
    pub fn range(&self, api_key: i16) -> Option<ApiVersionRange> {
        self.api_keys.iter().copied().find(|r| r.api_key == api_key)
    }
}

impl Request for ApiVersionsRequest {
    const API_KEY: i16 = api_key::API_VERSIONS;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 3;
    const FIRST_FLEXIBLE: i16 = 3;
    type Response = ApiVersionsResponse;

    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        if version >= 3 {
            e.string(&self.client_software_name)?;
            e.string(&self.client_software_version)?;
            e.tagged_fields();
        }
        Ok(())
    }

    fn response_header_version(_version: i16) -> i16 {
        0
    }
}

impl Response for ApiVersionsResponse {
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self> {
        let error_code = ErrorCode::from_code(d.i16()?);
        if error_code == ErrorCode::UnsupportedVersion {
            // A broker rejecting our version answers with a v0 body (KIP-511)
            // listing its own window. Not every broker does: librdkafka's mock
            // cluster sends a body that is no clean v0 body. Like the Java
            // client, take what can be read and otherwise an empty list, so
            // that the caller falls back to v0. The rest is skipped.
            d.set_flexible(false);
            let api_keys = decode_api_keys(d).unwrap_or_default();
            let rest = d.remaining();
            d.skip(rest)?;
            return Ok(ApiVersionsResponse {
                error_code,
                api_keys,
                throttle_time_ms: 0,
            });
        }
        let api_keys = decode_api_keys(d)?;
        let throttle_time_ms = if version >= 1 { d.i32()? } else { 0 };
        // v3 adds tagged fields (SupportedFeatures, FinalizedFeatures, …) that
        // the client does not use; they are skipped.
        d.tagged_fields()?;
        Ok(ApiVersionsResponse {
            error_code,
            api_keys,
            throttle_time_ms,
        })
    }
}

fn decode_api_keys(d: &mut Decoder<'_>) -> DecodeResult<Vec<ApiVersionRange>> {
    d.array_of(6, |d| {
        let range = ApiVersionRange {
            api_key: d.i16()?,
            min_version: d.i16()?,
            max_version: d.i16()?,
        };
        d.tagged_fields()?;
        Ok(range)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::codec_checks::*;

    type Req = ApiVersionsRequest;

    fn response_body(version: i16, r: &ApiVersionsResponse) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut e = Encoder::with_flexible(&mut buf, version >= 3);
        e.i16(r.error_code.code());
        e.array_of(&r.api_keys, |e, k| {
            e.i16(k.api_key);
            e.i16(k.min_version);
            e.i16(k.max_version);
            e.tagged_fields();
            Ok(())
        })
        .unwrap();
        if version >= 1 {
            e.i32(r.throttle_time_ms);
        }
        e.tagged_fields();
        buf
    }

    fn sample() -> ApiVersionsResponse {
        ApiVersionsResponse {
            error_code: ErrorCode::None,
            api_keys: vec![
                ApiVersionRange {
                    api_key: 0,
                    min_version: 3,
                    max_version: 11,
                },
                ApiVersionRange {
                    api_key: 18,
                    min_version: 0,
                    max_version: 4,
                },
            ],
            throttle_time_ms: 0,
        }
    }

    #[test]
    fn every_version_round_trips() {
        let sample = |version| {
            let mut want = sample();
            if version == 0 {
                want.throttle_time_ms = 0;
            }
            want
        };
        assert_every_response_version_decodes::<Req>(sample, |r, version| {
            response_body(version, r)
        });
    }

    #[test]
    fn v3_request_matches_kafka_protocol_crate() {
        use kafka_protocol::messages::ApiVersionsRequest as Oracle;
        let ours = ApiVersionsRequest {
            client_software_name: "kafka-sync".into(),
            client_software_version: "0.1.0".into(),
        };
        let oracle = Oracle::default()
            .with_client_software_name(oracle_str("kafka-sync"))
            .with_client_software_version(oracle_str("0.1.0"));
        assert_request_encodes_like_oracle(&ours, &oracle, 3);
    }

    #[test]
    fn unsupported_version_answer_decodes_as_v0() {
        let mut want = sample();
        want.error_code = ErrorCode::UnsupportedVersion;
        let frame = response_frame::<Req>(0, &response_body(0, &want));
        let got = decode::<Req>(3, &frame).unwrap();
        assert_eq!(got, want);
        assert_eq!(got.range(0).unwrap().max_version, 11);
    }

    /// librdkafka 2.16.0's mock cluster answers an ApiVersions v3 request
    /// with this frame (correlation id 1): UNSUPPORTED_VERSION and a body
    /// that is no v0 body (read as v0, its array count is 16781824).
    const MOCK_CLUSTER_V3_ANSWER: &str = "0000000100230100120000000200000000";

    fn unhex(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn an_unreadable_unsupported_version_answer_lists_nothing_so_the_client_falls_back_to_v0() {
        let frame = unhex(MOCK_CLUSTER_V3_ANSWER);
        let got = crate::protocol::decode_response::<Req>(&frame, 3, 1).unwrap();
        assert_eq!(got.error_code, ErrorCode::UnsupportedVersion);
        assert!(got.api_keys.is_empty(), "{got:?}");
        assert_eq!(got.range(api_key::API_VERSIONS), None);
    }

    #[test]
    fn the_mock_clusters_v0_answer_lists_its_window() {
        // Its answer to the v0 retry (correlation id 2), captured likewise.
        let frame = unhex(
            "0000000200000000001800000000000a00010000001000020000000700030000000d000800000009\
             000900000006000a00000003000b00000006000c00000005000d00000004000e0000000400120000\
             0002001600000004001700020002001800000001001900000001001a00000001001c000000030044\
             00010001004700000000004800000000004c00010001004e00010001004f00010001",
        );
        let got = crate::protocol::decode_response::<Req>(&frame, 0, 2).unwrap();
        assert_eq!(got.error_code, ErrorCode::None);
        assert_eq!(got.api_keys.len(), 24);
        let window = got.range(api_key::API_VERSIONS).unwrap();
        assert_eq!((window.min_version, window.max_version), (0, 2));
        let join_group = got.range(api_key::JOIN_GROUP).unwrap();
        assert_eq!(join_group.max_version, 6);
    }

    #[test]
    fn every_truncation_is_an_error() {
        assert_every_truncation_fails::<Req>(3, &response_body(3, &sample()));
    }
}
