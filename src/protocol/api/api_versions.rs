//! ApiVersions (key 18): which APIs and versions a broker speaks.
//!
//! The client sends it first on every connection. A broker that does not know
//! the requested ApiVersions version answers with a v0 body carrying
//! `UNSUPPORTED_VERSION` and its own version window (KIP-511), so the caller
//! retries at the broker's highest version. The response header is always v0,
//! even in flexible versions.
//!
//! From v3 the answer may carry the broker's feature flags in tagged fields
//! (KIP-584): `SupportedFeatures` (tag 0), `FinalizedFeaturesEpoch` (tag 1)
//! and `FinalizedFeatures` (tag 2), the cluster-wide levels in force, such as
//! `transaction.version` (2: transactions v2, KIP-890). They are decoded
//! liberally: a feature field that cannot be read is dropped, never the
//! connection, and a broker without them simply has no features.
//!
//! # References
//! Kafka protocol guide, "ApiVersions API"; KIP-35, KIP-482, KIP-511,
//! KIP-584 (feature versioning), KIP-890 (`transaction.version`).

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

/// A feature the broker supports, and the levels it can run (v3+,
/// `SupportedFeatures`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportedFeature {
    /// Feature name, e.g. `transaction.version`.
    pub name: String,
    /// Lowest supported level.
    pub min_version: i16,
    /// Highest supported level.
    pub max_version: i16,
}

/// A feature level finalized for the whole cluster (v3+,
/// `FinalizedFeatures`): what every broker runs now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalizedFeature {
    /// Feature name, e.g. `transaction.version`.
    pub name: String,
    /// The finalized level in force.
    pub max_version_level: i16,
    /// The lowest finalized level.
    pub min_version_level: i16,
}

/// The name of the feature whose level 2 means transactions v2 (KIP-890).
pub const TRANSACTION_VERSION_FEATURE: &str = "transaction.version";

/// ApiVersions response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersionsResponse {
    /// Error code; `UNSUPPORTED_VERSION` means "retry at a version in `api_keys`".
    pub error_code: ErrorCode,
    /// Supported APIs.
    pub api_keys: Vec<ApiVersionRange>,
    /// Throttle time (v1+).
    pub throttle_time_ms: i32,
    /// Features the broker supports (tagged, v3+; empty when absent).
    pub supported_features: Vec<SupportedFeature>,
    /// Epoch of the finalized features (tagged, v3+); -1 when absent or
    /// unknown, and then `finalized_features` says nothing.
    pub finalized_features_epoch: i64,
    /// Cluster-wide finalized feature levels (tagged, v3+; empty when absent).
    pub finalized_features: Vec<FinalizedFeature>,
}

impl ApiVersionsResponse {
    /// The broker's window for `api_key`, if it supports the API.
    pub fn range(&self, api_key: i16) -> Option<ApiVersionRange> {
        self.api_keys.iter().copied().find(|r| r.api_key == api_key)
    }

    /// The finalized level of feature `name`, if the cluster finalized it
    /// (with a known epoch, KIP-584).
    pub fn finalized_level(&self, name: &str) -> Option<i16> {
        if self.finalized_features_epoch < 0 {
            return None;
        }
        self.finalized_features
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.max_version_level)
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
                supported_features: Vec::new(),
                finalized_features_epoch: -1,
                finalized_features: Vec::new(),
            });
        }
        let api_keys = decode_api_keys(d)?;
        let throttle_time_ms = if version >= 1 { d.i32()? } else { 0 };
        let mut response = ApiVersionsResponse {
            error_code,
            api_keys,
            throttle_time_ms,
            supported_features: Vec::new(),
            finalized_features_epoch: -1,
            finalized_features: Vec::new(),
        };
        // Feature fields that do not decode are dropped (and the client runs
        // as if the broker had no features), not the whole answer.
        d.tagged_fields_with(|tag, data, _| {
            match tag {
                0 => response.supported_features = decode_features(data).unwrap_or_default(),
                1 => {
                    response.finalized_features_epoch = data
                        .try_into()
                        .map(i64::from_be_bytes)
                        .unwrap_or(-1)
                }
                2 => response.finalized_features = decode_features(data).unwrap_or_default(),
                // ZkMigrationReady (3) and later tags: not the client's business.
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(response)
    }
}

/// Decodes a `SupportedFeatures` or `FinalizedFeatures` tagged field: a
/// compact array of (name, int16, int16) structs, read as finalized levels
/// (max first) or supported ranges (min first) by the caller's type.
fn decode_features<F: FeatureEntry>(data: &[u8]) -> DecodeResult<Vec<F>> {
    let mut d = Decoder::with_flexible(data, true);
    // Smallest entry: an empty compact name, two int16s, no tags.
    let features = d.array_of(6, |d| {
        let name = d.string()?;
        let first = d.i16()?;
        let second = d.i16()?;
        d.tagged_fields()?;
        Ok(F::from_wire(name, first, second))
    })?;
    // Bytes after the array (a later schema's addition) are ignored.
    Ok(features)
}

/// The two feature entry types, in their wire order.
trait FeatureEntry {
    fn from_wire(name: String, first: i16, second: i16) -> Self;
}

impl FeatureEntry for SupportedFeature {
    fn from_wire(name: String, min_version: i16, max_version: i16) -> Self {
        SupportedFeature {
            name,
            min_version,
            max_version,
        }
    }
}

impl FeatureEntry for FinalizedFeature {
    fn from_wire(name: String, max_version_level: i16, min_version_level: i16) -> Self {
        FinalizedFeature {
            name,
            max_version_level,
            min_version_level,
        }
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
    use kafka_protocol::messages::api_versions_response::{
        ApiVersion as OracleApi, FinalizedFeatureKey, SupportedFeatureKey,
    };
    use kafka_protocol::messages::{
        ApiVersionsRequest as OracleRequest, ApiVersionsResponse as OracleResponse,
    };

    type Req = ApiVersionsRequest;

    /// Our own test encoder for response bodies, written from the schema.
    fn response_body(r: &ApiVersionsResponse, version: i16) -> Vec<u8> {
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
        let entries = |features: &[(String, i16, i16)]| {
            tagged_struct_array(features)
        };
        let supported: Vec<_> = r
            .supported_features
            .iter()
            .map(|f| (f.name.clone(), f.min_version, f.max_version))
            .collect();
        let finalized: Vec<_> = r
            .finalized_features
            .iter()
            .map(|f| (f.name.clone(), f.max_version_level, f.min_version_level))
            .collect();
        let epoch = r.finalized_features_epoch.to_be_bytes();
        let (supported, finalized) = (entries(&supported), entries(&finalized));
        let mut tags: Vec<(u32, &[u8])> = Vec::new();
        if !r.supported_features.is_empty() {
            tags.push((0, &supported));
        }
        if r.finalized_features_epoch != -1 {
            tags.push((1, &epoch));
        }
        if !r.finalized_features.is_empty() {
            tags.push((2, &finalized));
        }
        // An unknown tag the decoder must skip.
        if version >= 3 {
            tags.push((7, b"later"));
        }
        e.tagged_fields_with(&tags).unwrap();
        buf
    }

    /// A compact array of (name, int16, int16) flexible structs.
    fn tagged_struct_array(features: &[(String, i16, i16)]) -> Vec<u8> {
        let mut data = Vec::new();
        Encoder::with_flexible(&mut data, true)
            .array_of(features, |e, (name, a, b)| {
                e.string(name)?;
                e.i16(*a);
                e.i16(*b);
                e.tagged_fields();
                Ok(())
            })
            .unwrap();
        data
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
            supported_features: Vec::new(),
            finalized_features_epoch: -1,
            finalized_features: Vec::new(),
        }
    }

    /// A Kafka 4 broker's answer at `version`: features from v3 on.
    fn sample_at(version: i16) -> ApiVersionsResponse {
        let mut r = sample();
        if version >= 1 {
            r.throttle_time_ms = 7;
        }
        if version >= 3 {
            r.supported_features = vec![
                SupportedFeature {
                    name: "metadata.version".into(),
                    min_version: 7,
                    max_version: 27,
                },
                SupportedFeature {
                    name: TRANSACTION_VERSION_FEATURE.into(),
                    min_version: 1,
                    max_version: 2,
                },
            ];
            r.finalized_features_epoch = 1_234;
            r.finalized_features = vec![FinalizedFeature {
                name: TRANSACTION_VERSION_FEATURE.into(),
                max_version_level: 2,
                min_version_level: 2,
            }];
        }
        r
    }

    fn oracle_response(r: &ApiVersionsResponse, version: i16) -> OracleResponse {
        OracleResponse::default()
            .with_error_code(r.error_code.code())
            .with_api_keys(
                r.api_keys
                    .iter()
                    .map(|k| {
                        OracleApi::default()
                            .with_api_key(k.api_key)
                            .with_min_version(k.min_version)
                            .with_max_version(k.max_version)
                    })
                    .collect(),
            )
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_supported_features(
                r.supported_features
                    .iter()
                    .map(|f| {
                        SupportedFeatureKey::default()
                            .with_name(oracle_str(&f.name))
                            .with_min_version(f.min_version)
                            .with_max_version(f.max_version)
                    })
                    .collect(),
            )
            .with_finalized_features_epoch(r.finalized_features_epoch)
            .with_finalized_features(
                r.finalized_features
                    .iter()
                    .map(|f| {
                        FinalizedFeatureKey::default()
                            .with_name(oracle_str(&f.name))
                            .with_max_version_level(f.max_version_level)
                            .with_min_version_level(f.min_version_level)
                    })
                    .collect(),
            )
            // Tag 3, which the client skips.
            .with_zk_migration_ready(version >= 3)
    }

    fn sample_requests(_version: i16) -> [ApiVersionsRequest; 1] {
        [ApiVersionsRequest {
            client_software_name: "kafka-sync".into(),
            client_software_version: "0.1.0".into(),
        }]
    }

    fn oracle_request(r: &ApiVersionsRequest, version: i16) -> OracleRequest {
        if version < 3 {
            // Before v3 the request has no fields.
            return OracleRequest::default();
        }
        OracleRequest::default()
            .with_client_software_name(oracle_str(&r.client_software_name))
            .with_client_software_version(oracle_str(&r.client_software_version))
    }

    oracle_codec_tests! {
        request: Req,
        requests encodes_like_oracle: sample_requests => oracle_request,
        responses: sample_at => oracle_response,
        round_trip_bodies: response_body,
    }

    #[test]
    fn the_finalized_transaction_version_is_read_from_a_kafka_4_answer() {
        let got = decode_oracle_response::<Req, _>(&oracle_response(&sample_at(3), 3), 3);
        assert_eq!(got.finalized_level(TRANSACTION_VERSION_FEATURE), Some(2));
        assert_eq!(got.finalized_level("group.version"), None);
        assert_eq!(got.supported_features.len(), 2);
    }

    #[test]
    fn finalized_levels_without_a_known_epoch_say_nothing() {
        let mut r = sample_at(3);
        r.finalized_features_epoch = -1;
        let got = decode_framed::<Req>(3, &response_body(&r, 3));
        assert_eq!(got.finalized_level(TRANSACTION_VERSION_FEATURE), None);
    }

    #[test]
    fn an_unreadable_feature_field_is_dropped_not_the_answer() {
        let mut buf = Vec::new();
        let mut e = Encoder::with_flexible(&mut buf, true);
        e.i16(0);
        e.array_of(&[()], |e, _| {
            e.i16(0);
            e.i16(3);
            e.i16(12);
            e.tagged_fields();
            Ok(())
        })
        .unwrap();
        e.i32(0);
        // FinalizedFeatures whose array claims 5 entries but holds one byte,
        // and an epoch of the wrong size.
        e.tagged_fields_with(&[(1, &[1, 2, 3]), (2, &[6, 0])]).unwrap();
        let got = decode_framed::<Req>(3, &buf);
        assert_eq!(got.api_keys.len(), 1);
        assert_eq!(got.finalized_features_epoch, -1);
        assert!(got.finalized_features.is_empty());
        assert_eq!(got.finalized_level(TRANSACTION_VERSION_FEATURE), None);
    }

    #[test]
    fn unsupported_version_answer_decodes_as_v0() {
        let mut want = sample();
        want.error_code = ErrorCode::UnsupportedVersion;
        let frame = response_frame::<Req>(0, &response_body(&want, 0));
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
}
