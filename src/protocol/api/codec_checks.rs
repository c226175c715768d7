//! Test helpers shared by the API modules: framing our requests and the
//! `kafka-protocol` oracle's messages, and the checks every response decoder
//! must pass (truncations fail, hostile bytes never panic).

use std::fmt::Debug;

use kafka_protocol::protocol::{Decodable, Encodable};

use crate::protocol::{decode_response, encode_request, DecodeResult, Decoder, Request, Response};

/// The correlation id every helper frames with.
pub(crate) const CORRELATION_ID: i32 = 0x0102_0304;

/// Our encoding of `request` at `version`, without the size prefix and the
/// request header.
pub(crate) fn request_body<R: Request>(request: &R, version: i16) -> Vec<u8> {
    let frame = encode_request(request, version, CORRELATION_ID, None)
        .unwrap_or_else(|e| panic!("v{version} request does not encode: {e}"));
    // 4 size + 2 api key + 2 version + 4 correlation id + 2 null client id,
    // then the header's tagged-field section in flexible versions.
    let header = 14 + usize::from(R::is_flexible(version));
    frame[header..].to_vec()
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
/// oracle's encoding of `oracle`, and that the oracle decodes ours back to
/// `oracle`.
pub(crate) fn assert_request_matches_oracle<R, M>(request: &R, oracle: &M, version: i16)
where
    R: Request,
    M: Encodable + Decodable + PartialEq + Debug,
{
    let ours = request_body(request, version);
    assert_eq!(ours, oracle_bytes(oracle, version), "v{version} bytes");
    assert_eq!(&oracle_decode::<M>(&ours, version), oracle, "v{version}");
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

/// Our decoding of the oracle's encoding of `oracle` at `version`.
pub(crate) fn decode_oracle_response<R: Request, M: Encodable>(
    oracle: &M,
    version: i16,
) -> R::Response {
    let frame = response_frame::<R>(version, &oracle_bytes(oracle, version));
    decode::<R>(version, &frame).unwrap_or_else(|e| panic!("v{version} does not decode: {e}"))
}

/// Checks that every proper prefix of the oracle's encoding of `oracle` fails
/// to decode at `version`.
pub(crate) fn assert_every_truncation_fails<R, M>(oracle: &M, version: i16)
where
    R: Request,
    R::Response: Debug,
    M: Encodable,
{
    let frame = response_frame::<R>(version, &oracle_bytes(oracle, version));
    decode::<R>(version, &frame).unwrap_or_else(|e| panic!("v{version} does not decode: {e}"));
    for cut in 0..frame.len() {
        let got = decode::<R>(version, &frame[..cut]);
        assert!(got.is_err(), "v{version} cut at {cut}: {got:?}");
    }
}

/// Decodes `body` as a response body at every version of `R`; the result does
/// not matter, only that nothing panics.
pub(crate) fn decode_any_body<R: Request>(body: &[u8]) {
    for version in R::MIN_VERSION..=R::MAX_VERSION {
        let mut d = Decoder::with_flexible(body, R::is_flexible(version));
        let _ = R::Response::decode(version, &mut d);
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
