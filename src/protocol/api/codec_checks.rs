//! Test helpers shared by the API modules: framing our requests and the
//! `kafka-protocol` oracle's messages, and the checks every codec must pass
//! (every version agrees with the oracle and round-trips, truncations fail,
//! hostile bytes never panic).

mod oracle_lists;

pub(crate) use oracle_lists::{
    oracle_acknowledgement_topics, oracle_node_endpoints, oracle_partition_codes,
};

use std::fmt::Debug;
use std::ops::RangeInclusive;

use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::protocol::api::{LeaderIdAndEpoch, NodeEndpoint};
use crate::protocol::{
    decode_response, encode_request, DecodeResult, Decoder, EncodeError, Encoder, Request, Response,
};

/// The correlation id every helper frames with.
pub(crate) const CORRELATION_ID: i32 = 0x0102_0304;

/// Every version this crate speaks of `R`, oldest first.
pub(crate) fn versions<R: Request>() -> RangeInclusive<i16> {
    R::MIN_VERSION..=R::MAX_VERSION
}

/// The oracle's string type holding `s`.
pub(crate) fn oracle_str(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// The oracle's UUID type holding our 16-byte topic id.
pub(crate) fn oracle_uuid<T: std::str::FromStr>(bytes: &[u8; 16]) -> T
where
    T::Err: Debug,
{
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.parse().unwrap()
}

/// Our encoding of `request` at `version`, without the size prefix and the
/// request header, or the reason it does not encode.
pub(crate) fn try_request_body<R: Request>(
    request: &R,
    version: i16,
) -> Result<Vec<u8>, EncodeError> {
    let frame = encode_request(request, version, CORRELATION_ID, None)?;
    // 4 size + 2 api key + 2 version + 4 correlation id + 2 null client id,
    // then the header's tagged-field section in flexible versions.
    let header = 14 + usize::from(R::is_flexible(version));
    Ok(frame[header..].to_vec())
}

/// Our encoding of `request` at `version`, without the size prefix and the
/// request header.
pub(crate) fn request_body<R: Request>(request: &R, version: i16) -> Vec<u8> {
    try_request_body(request, version)
        .unwrap_or_else(|e| panic!("v{version} request does not encode: {e}"))
}

/// Checks that `request` does not encode at any version of `R` before `first`.
pub(crate) fn assert_encode_fails_before<R: Request + Debug>(request: &R, first: i16) {
    for version in R::MIN_VERSION..first {
        assert!(
            try_request_body(request, version).is_err(),
            "v{version} encodes {request:?}"
        );
    }
}

/// The oracle's encoding of `message` at `version`.
pub(crate) fn oracle_bytes<M: Encodable>(message: &M, version: i16) -> Vec<u8> {
    let mut buf = bytes::BytesMut::new();
    message
        .encode(&mut buf, version)
        .unwrap_or_else(|e| panic!("oracle cannot encode v{version}: {e}"));
    buf.to_vec()
}

/// The oracle's decoding of `bytes` at `version`, which must use every byte.
pub(crate) fn oracle_decode<M: Decodable>(bytes: &[u8], version: i16) -> M {
    let mut buf = bytes::Bytes::copy_from_slice(bytes);
    let message = M::decode(&mut buf, version)
        .unwrap_or_else(|e| panic!("oracle cannot decode v{version}: {e}"));
    assert!(
        buf.is_empty(),
        "oracle left {} bytes at v{version}",
        buf.len()
    );
    message
}

/// Checks that our encoding of `request` at `version` is byte for byte the
/// oracle's encoding of `oracle`.
pub(crate) fn assert_request_encodes_like_oracle<R, M>(request: &R, oracle: &M, version: i16)
where
    R: Request + Debug,
    M: Encodable,
{
    assert_eq!(
        request_body(request, version),
        oracle_bytes(oracle, version),
        "v{version} bytes of {request:?}"
    );
}

/// Checks that our encoding of `request` at `version` is byte for byte the
/// oracle's encoding of `oracle`, and that the oracle decodes ours back to
/// `oracle`.
pub(crate) fn assert_request_matches_oracle<R, M>(request: &R, oracle: &M, version: i16)
where
    R: Request + Debug,
    M: Encodable + Decodable + PartialEq + Debug,
{
    assert_request_encodes_like_oracle(request, oracle, version);
    let ours = request_body(request, version);
    assert_eq!(&oracle_decode::<M>(&ours, version), oracle, "v{version}");
}

/// Runs `check` on each request `requests` gives for each version of `R`.
fn for_every_request_version<R, I>(requests: impl Fn(i16) -> I, check: impl Fn(&R, i16))
where
    R: Request,
    I: IntoIterator<Item = R>,
{
    for version in versions::<R>() {
        for request in requests(version) {
            check(&request, version);
        }
    }
}

/// Checks [`assert_request_encodes_like_oracle`] at every version of `R`, for
/// each request `requests` gives at that version against `oracle` of it.
pub(crate) fn assert_every_request_version_encodes_like_oracle<R, M, I>(
    requests: impl Fn(i16) -> I,
    oracle: impl Fn(&R, i16) -> M,
) where
    R: Request + Debug,
    M: Encodable,
    I: IntoIterator<Item = R>,
{
    for_every_request_version(requests, |request, version| {
        assert_request_encodes_like_oracle(request, &oracle(request, version), version);
    });
}

/// Checks [`assert_request_matches_oracle`] at every version of `R`, for each
/// request `requests` gives at that version against `oracle` of it.
pub(crate) fn assert_every_request_version_matches_oracle<R, M, I>(
    requests: impl Fn(i16) -> I,
    oracle: impl Fn(&R, i16) -> M,
) where
    R: Request + Debug,
    M: Encodable + Decodable + PartialEq + Debug,
    I: IntoIterator<Item = R>,
{
    for_every_request_version(requests, |request, version| {
        assert_request_matches_oracle(request, &oracle(request, version), version);
    });
}

/// Checks that at every version of `R`, each request `requests` gives comes
/// back unchanged from the test's own request decoder `decode`.
pub(crate) fn assert_every_request_version_round_trips<R, I>(
    requests: impl Fn(i16) -> I,
    decode: impl Fn(i16, &[u8]) -> DecodeResult<R>,
) where
    R: Request + PartialEq + Debug,
    I: IntoIterator<Item = R>,
{
    for_every_request_version(requests, |request, version| {
        let body = request_body(request, version);
        let got = decode(version, &body).unwrap_or_else(|e| panic!("v{version}: {e}"));
        assert_eq!(&got, request, "v{version}");
    });
}

/// A flexible struct's bytes, for a tagged field: what `write` writes, then
/// an empty tagged-field section.
pub(crate) fn tagged_struct(write: impl FnOnce(&mut Encoder<'_>)) -> Vec<u8> {
    let mut data = Vec::new();
    let mut e = Encoder::with_flexible(&mut data, true);
    write(&mut e);
    e.tagged_fields();
    data
}

/// The `current_leader` tagged field's data in Produce and Fetch responses.
pub(crate) fn leader_data(leader: &LeaderIdAndEpoch) -> Vec<u8> {
    tagged_struct(|e| {
        e.i32(leader.leader_id);
        e.i32(leader.leader_epoch);
    })
}

/// Ends a flexible Produce or Fetch response body with its tagged fields:
/// none without node endpoints, else `endpoints` as tag 0 followed by an
/// unknown tag `unknown_tag` that the decoder must skip.
pub(crate) fn end_with_node_endpoints(
    e: &mut Encoder<'_>,
    endpoints: &[NodeEndpoint],
    unknown_tag: u32,
) {
    if endpoints.is_empty() {
        e.tagged_fields();
        return;
    }
    let mut data = Vec::new();
    Encoder::with_flexible(&mut data, true)
        .array_of(endpoints, |e, n| {
            e.i32(n.node_id);
            e.string(&n.host)?;
            e.i32(n.port);
            e.nullable_string(n.rack.as_deref())?;
            e.tagged_fields();
            Ok(())
        })
        .unwrap();
    e.tagged_fields_with(&[(0, &data), (unknown_tag, b"future")])
        .unwrap();
}

/// A response frame (without size prefix) around `body`: correlation id, the
/// header's tagged fields when the header is v1, then the body.
pub(crate) fn response_frame<R: Request>(version: i16, body: &[u8]) -> Vec<u8> {
    let mut frame = CORRELATION_ID.to_be_bytes().to_vec();
    if R::response_header_version(version) >= 1 {
        frame.push(0);
    }
    frame.extend_from_slice(body);
    frame
}

/// Decodes a response frame made by [`response_frame`].
pub(crate) fn decode<R: Request>(version: i16, frame: &[u8]) -> DecodeResult<R::Response> {
    decode_response::<R>(frame, version, CORRELATION_ID)
}

/// Our decoding of the response frame around `body` at `version`, which must
/// succeed.
pub(crate) fn decode_framed<R: Request>(version: i16, body: &[u8]) -> R::Response {
    decode::<R>(version, &response_frame::<R>(version, body))
        .unwrap_or_else(|e| panic!("v{version} does not decode: {e}"))
}

/// Our decoding of the oracle's encoding of `oracle` at `version`.
pub(crate) fn decode_oracle_response<R: Request, M: Encodable>(
    oracle: &M,
    version: i16,
) -> R::Response {
    decode_framed::<R>(version, &oracle_bytes(oracle, version))
}

/// Checks that at every version of `R` the response `sample` gives decodes
/// back to itself from the body `body` encodes of it.
pub(crate) fn assert_every_response_version_decodes<R>(
    sample: impl Fn(i16) -> R::Response,
    body: impl Fn(&R::Response, i16) -> Vec<u8>,
) where
    R: Request,
    R::Response: PartialEq + Debug,
{
    for version in versions::<R>() {
        let want = sample(version);
        let got = decode_framed::<R>(version, &body(&want, version));
        assert_eq!(got, want, "v{version}");
    }
}

/// Checks that at every version of `R` the response `sample` gives decodes
/// back to itself from the oracle's encoding of `oracle` of it.
pub(crate) fn assert_every_response_version_decodes_like_oracle<R, M>(
    sample: impl Fn(i16) -> R::Response,
    oracle: impl Fn(&R::Response, i16) -> M,
) where
    R: Request,
    R::Response: PartialEq + Debug,
    M: Encodable,
{
    assert_every_response_version_decodes::<R>(sample, |response, version| {
        oracle_bytes(&oracle(response, version), version)
    });
}

/// Checks that the response frame around `body` decodes at `version`, and
/// that every proper prefix of it fails to.
pub(crate) fn assert_every_truncation_fails<R>(version: i16, body: &[u8])
where
    R: Request,
    R::Response: Debug,
{
    let frame = response_frame::<R>(version, body);
    decode::<R>(version, &frame).unwrap_or_else(|e| panic!("v{version} does not decode: {e}"));
    for cut in 0..frame.len() {
        let got = decode::<R>(version, &frame[..cut]);
        assert!(got.is_err(), "v{version} cut at {cut}: {got:?}");
    }
}

/// Checks [`assert_every_truncation_fails`] at every version of `R` for the
/// body `body` gives at that version.
pub(crate) fn assert_every_truncation_of_every_version_fails<R>(body: impl Fn(i16) -> Vec<u8>)
where
    R: Request,
    R::Response: Debug,
{
    for version in versions::<R>() {
        assert_every_truncation_fails::<R>(version, &body(version));
    }
}

/// Decodes `body` alone (no header, trailing bytes allowed) as a response
/// body at `version`.
pub(crate) fn decode_response_body<R: Request>(
    version: i16,
    body: &[u8],
) -> DecodeResult<R::Response> {
    let mut d = Decoder::with_flexible(body, R::is_flexible(version));
    R::Response::decode(version, &mut d)
}

/// Decodes `body` as a response body at every version of `R`; the result does
/// not matter, only that nothing panics.
pub(crate) fn decode_any_body<R: Request>(body: &[u8]) {
    for version in versions::<R>() {
        let _ = decode_response_body::<R>(version, body);
    }
}

/// `body` with the byte at `index` (modulo its length) replaced by `value`.
pub(crate) fn mutated(body: &[u8], index: usize, value: u8) -> Vec<u8> {
    let mut out = body.to_vec();
    if !out.is_empty() {
        let i = index % out.len();
        out[i] = value;
    }
    out
}

/// `bytes` with each `(index, value)` of `edits` applied in turn by
/// [`mutated`].
pub(crate) fn edited(bytes: &[u8], edits: &[(usize, u8)]) -> Vec<u8> {
    edits.iter().fold(bytes.to_vec(), |out, &(index, value)| {
        mutated(&out, index, value)
    })
}

/// The oracle checks that the API modules' tests share, written once. Each
/// clause names the module's own builders (functions or closures) and expands
/// to tests calling the helpers above with exactly those arguments.
///
/// `SAMPLE_RESPONSE` gives our response at a version, `ORACLE_RESPONSE` the
/// oracle's message for one of ours at a version, `REQUESTS` our requests at
/// a version and `ORACLE_REQUEST` the oracle's message for one at a version.
///
/// The `request: R,` form, with the never-panic checks on corrupted frames:
///
/// - `requests matches_oracle: REQUESTS => ORACLE_REQUEST,` (or `requests
///   encodes_like_oracle: ...`), optional, generates
///   `every_request_version_matches_kafka_protocol_crate` calling
///   [`assert_every_request_version_matches_oracle`] (or
///   [`assert_every_request_version_encodes_like_oracle`]);
/// - `responses: SAMPLE_RESPONSE => ORACLE_RESPONSE,` generates
///   `every_response_version_decodes_what_kafka_protocol_crate_encodes`
///   calling [`assert_every_response_version_decodes_like_oracle`], and
///   `every_truncation_of_every_version_is_an_error` and the proptest
///   `corrupted_responses_never_panic` (1 to 7 byte edits at the first 512
///   indices of the frame) on the oracle's encoding of the sample;
/// - `round_trip_bodies: RESPONSE_BODY,`, optional, the test's own response
///   encoder (response, version): `every_version_round_trips` calls
///   [`assert_every_response_version_decodes`] with the sample and it, and the
///   truncation and corruption tests (edits at the first 4096 indices) run on
///   its bytes instead of the oracle's.
///
/// The `request: R, bare_bodies_up_to: N,` form, with the never-panic checks
/// on bare bodies ([`decode_any_body`]):
///
/// - `request_test NAME: REQUESTS => ORACLE_REQUEST,`, optional, generates
///   the test `NAME` calling [`assert_every_request_version_matches_oracle`];
/// - `responses: SAMPLE_RESPONSE => ORACLE_RESPONSE,` generates
///   `every_version_of_the_response_decodes_like_kafka_protocol` calling
///   [`assert_every_response_version_decodes_like_oracle`],
///   `every_truncation_of_a_response_is_an_error` on the oracle's encoding of
///   the sample, and the proptest `arbitrary_bytes_never_panic` on bodies of
///   fewer than `N` random bytes;
/// - `corrupted_responses_never_panic,`, optional, adds that proptest: one
///   byte of the oracle's encoding of the sample replaced.
macro_rules! oracle_codec_tests {
    (
        request: $req:ty,
        bare_bodies_up_to: $max:literal,
        $(request_test $request_test:ident: $requests:expr => $oracle_request:expr,)?
        responses: $sample:expr => $oracle:expr,
        $($corrupted:ident,)?
    ) => {
        $(
            #[test]
            fn $request_test() {
                use $crate::protocol::api::codec_checks::*;
                assert_every_request_version_matches_oracle($requests, $oracle_request);
            }
        )?

        #[test]
        fn every_version_of_the_response_decodes_like_kafka_protocol() {
            use $crate::protocol::api::codec_checks::*;
            assert_every_response_version_decodes_like_oracle::<$req, _>($sample, $oracle);
        }

        #[test]
        fn every_truncation_of_a_response_is_an_error() {
            use $crate::protocol::api::codec_checks::*;
            assert_every_truncation_of_every_version_fails::<$req>(|v| {
                oracle_bytes(&($oracle)(&($sample)(v), v), v)
            });
        }

        ::proptest::proptest! {
            #[test]
            fn arbitrary_bytes_never_panic(
                body in ::proptest::collection::vec(::proptest::prelude::any::<u8>(), 0..$max),
            ) {
                $crate::protocol::api::codec_checks::decode_any_body::<$req>(&body);
            }

            $(
                #[test]
                fn $corrupted(
                    version in $crate::protocol::api::codec_checks::versions::<$req>(),
                    index in ::proptest::prelude::any::<usize>(),
                    value in ::proptest::prelude::any::<u8>(),
                ) {
                    use $crate::protocol::api::codec_checks::*;
                    let oracle = ($oracle)(&($sample)(version), version);
                    let body = mutated(&oracle_bytes(&oracle, version), index, value);
                    decode_any_body::<$req>(&body);
                }
            )?
        }
    };
    (
        request: $req:ty,
        $(requests $how:ident: $requests:expr => $oracle_request:expr,)?
        responses: $sample:expr => $oracle:expr,
        round_trip_bodies: $body:expr,
    ) => {
        $crate::protocol::api::codec_checks::oracle_codec_tests!(
            @requests $($how, $requests, $oracle_request)?
        );
        $crate::protocol::api::codec_checks::oracle_codec_tests!(@responses $req, $sample, $oracle);

        #[test]
        fn every_version_round_trips() {
            use $crate::protocol::api::codec_checks::*;
            assert_every_response_version_decodes::<$req>($sample, $body);
        }

        $crate::protocol::api::codec_checks::oracle_codec_tests!(
            @damaged_frames $req, 4096, |v| ($body)(&($sample)(v), v)
        );
    };
    (
        request: $req:ty,
        $(requests $how:ident: $requests:expr => $oracle_request:expr,)?
        responses: $sample:expr => $oracle:expr,
    ) => {
        $crate::protocol::api::codec_checks::oracle_codec_tests!(
            @requests $($how, $requests, $oracle_request)?
        );
        $crate::protocol::api::codec_checks::oracle_codec_tests!(@responses $req, $sample, $oracle);
        $crate::protocol::api::codec_checks::oracle_codec_tests!(
            @damaged_frames $req, 512, |v| {
                $crate::protocol::api::codec_checks::oracle_bytes(&($oracle)(&($sample)(v), v), v)
            }
        );
    };
    (@requests) => {};
    (@requests matches_oracle, $requests:expr, $oracle_request:expr) => {
        #[test]
        fn every_request_version_matches_kafka_protocol_crate() {
            use $crate::protocol::api::codec_checks::*;
            assert_every_request_version_matches_oracle($requests, $oracle_request);
        }
    };
    (@requests encodes_like_oracle, $requests:expr, $oracle_request:expr) => {
        #[test]
        fn every_request_version_matches_kafka_protocol_crate() {
            use $crate::protocol::api::codec_checks::*;
            assert_every_request_version_encodes_like_oracle($requests, $oracle_request);
        }
    };
    (@responses $req:ty, $sample:expr, $oracle:expr) => {
        #[test]
        fn every_response_version_decodes_what_kafka_protocol_crate_encodes() {
            use $crate::protocol::api::codec_checks::*;
            assert_every_response_version_decodes_like_oracle::<$req, _>($sample, $oracle);
        }
    };
    // The truncation and corruption tests on the body `$body` gives at each
    // version, with edits at indices below `$reach`.
    (@damaged_frames $req:ty, $reach:literal, $body:expr) => {
        #[test]
        fn every_truncation_of_every_version_is_an_error() {
            use $crate::protocol::api::codec_checks::*;
            assert_every_truncation_of_every_version_fails::<$req>($body);
        }

        ::proptest::proptest! {
            #[test]
            fn corrupted_responses_never_panic(
                version in $crate::protocol::api::codec_checks::versions::<$req>(),
                edits in ::proptest::collection::vec(
                    (0usize..$reach, ::proptest::num::u8::ANY),
                    1..8,
                ),
            ) {
                use $crate::protocol::api::codec_checks::*;
                let body = ($body)(version);
                let frame = edited(&response_frame::<$req>(version, &body), &edits);
                let _ = decode::<$req>(version, &frame);
            }
        }
    };
}
pub(crate) use oracle_codec_tests;
