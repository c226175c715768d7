//! The Kafka wire protocol as pure codecs: no sockets, no clocks.
//!
//! Every request is a type implementing [`Request`]: it names its API key, the
//! window of versions this crate speaks, the first flexible version and its
//! [`Response`] type. [`encode_request`] frames a request with its header;
//! [`decode_response`] checks a response frame's correlation id and decodes
//! the body. The `net` layer moves the bytes; nothing here touches I/O.
//!
//! # References
//! Kafka protocol guide, "Protocol", "Headers" and "The Messages";
//! KIP-482 (flexible versions), KIP-511 (ApiVersions v3).

pub mod api;
pub mod consumer_protocol;
pub mod error_code;
pub mod primitives;
pub mod records;

pub use error_code::ErrorCode;
pub use primitives::{DecodeResult, Decoder, EncodeError, Encoder};

/// A decoding failure: the bytes do not form a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the value did.
    #[error("truncated input: needed {needed} more bytes, {remaining} left")]
    Truncated {
        /// Bytes the value needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A length prefix below -1.
    #[error("negative length {0}")]
    NegativeLength(i32),
    /// A varint longer than its type allows.
    #[error("varint is too long")]
    VarintOverflow,
    /// A string that is not UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A null where the schema requires a value.
    #[error("null value where one is required")]
    UnexpectedNull,
    /// Bytes left over after a complete message.
    #[error("{0} unexpected trailing bytes")]
    TrailingBytes(usize),
    /// A response whose correlation id is not the one the request carried.
    #[error("correlation id mismatch: expected {expected}, got {actual}")]
    CorrelationMismatch {
        /// What the request carried.
        expected: i32,
        /// What the response carried.
        actual: i32,
    },
    /// A CRC that does not match the data it covers.
    #[error("CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// The checksum in the data.
        stored: u32,
        /// The checksum computed over the data.
        computed: u32,
    },
    /// A compressed record batch that inflates past the configured limit.
    #[error("decompressed record batch exceeds the {limit}-byte limit; raise max_decompressed_size if the data is legitimate")]
    DecompressionLimit {
        /// The limit in bytes.
        limit: usize,
    },
    /// A record batch compressed with a codec this build cannot read; the
    /// message names the cargo feature to enable.
    #[error("{0}")]
    UnsupportedCompression(&'static str),
    /// Anything else that makes the bytes invalid.
    #[error("invalid data: {0}")]
    Invalid(&'static str),
    /// Invalid data, with a detail only known at run time.
    #[error("invalid data: {0}")]
    InvalidOwned(String),
}

/// The numeric API keys this crate knows.
#[allow(missing_docs)]
pub mod api_key {
    pub const PRODUCE: i16 = 0;
    pub const FETCH: i16 = 1;
    pub const LIST_OFFSETS: i16 = 2;
    pub const METADATA: i16 = 3;
    pub const OFFSET_COMMIT: i16 = 8;
    pub const OFFSET_FETCH: i16 = 9;
    pub const FIND_COORDINATOR: i16 = 10;
    pub const JOIN_GROUP: i16 = 11;
    pub const HEARTBEAT: i16 = 12;
    pub const CONSUMER_GROUP_HEARTBEAT: i16 = 68;
    pub const LEAVE_GROUP: i16 = 13;
    pub const SYNC_GROUP: i16 = 14;
    pub const DESCRIBE_GROUPS: i16 = 15;
    pub const LIST_GROUPS: i16 = 16;
    pub const SASL_HANDSHAKE: i16 = 17;
    pub const API_VERSIONS: i16 = 18;
    pub const CREATE_TOPICS: i16 = 19;
    pub const DELETE_TOPICS: i16 = 20;
    pub const INIT_PRODUCER_ID: i16 = 22;
    pub const ADD_PARTITIONS_TO_TXN: i16 = 24;
    pub const ADD_OFFSETS_TO_TXN: i16 = 25;
    pub const END_TXN: i16 = 26;
    pub const TXN_OFFSET_COMMIT: i16 = 28;
    pub const SASL_AUTHENTICATE: i16 = 36;
    pub const DELETE_RECORDS: i16 = 21;
    pub const DESCRIBE_CONFIGS: i16 = 32;
    pub const CREATE_PARTITIONS: i16 = 37;
    pub const INCREMENTAL_ALTER_CONFIGS: i16 = 44;
    pub const DESCRIBE_CLUSTER: i16 = 60;
    pub const DESCRIBE_ACLS: i16 = 29;
    pub const CREATE_ACLS: i16 = 30;
    pub const DELETE_ACLS: i16 = 31;
    pub const DELETE_GROUPS: i16 = 42;
    pub const OFFSET_DELETE: i16 = 47;
    pub const DESCRIBE_USER_SCRAM_CREDENTIALS: i16 = 50;
    pub const ALTER_USER_SCRAM_CREDENTIALS: i16 = 51;
    pub const SHARE_GROUP_HEARTBEAT: i16 = 76;
    pub const SHARE_FETCH: i16 = 78;
    pub const SHARE_ACKNOWLEDGE: i16 = 79;
}

/// A request message: its API key, the versions this crate speaks, and how to
/// encode its body at one of them.
pub trait Request {
    /// The API key in the request header.
    const API_KEY: i16;
    /// Oldest version this crate encodes.
    const MIN_VERSION: i16;
    /// Newest version this crate encodes.
    const MAX_VERSION: i16;
    /// First flexible version (KIP-482); `i16::MAX` when the API has none.
    const FIRST_FLEXIBLE: i16;
    /// The matching response type.
    type Response: Response;

    /// Encodes the body (everything after the request header) at `version`.
    /// The encoder's flexible flag is already set for the version.
    fn encode(&self, version: i16, e: &mut Encoder<'_>) -> Result<(), EncodeError>;

    /// Whether the broker answers this request at all (a Produce with acks=0
    /// does not).
    fn expects_response(&self) -> bool {
        true
    }

    /// Whether `version` is flexible.
    fn is_flexible(version: i16) -> bool {
        version >= Self::FIRST_FLEXIBLE
    }

    /// Response header version for `version`: v1 when flexible, else v0.
    /// ApiVersions overrides this, its response header is always v0.
    fn response_header_version(version: i16) -> i16 {
        if Self::is_flexible(version) {
            1
        } else {
            0
        }
    }
}

/// A response body decoder.
pub trait Response: Sized {
    /// Decodes the body (after the response header) at `version`. The
    /// decoder's flexible flag is already set for the version.
    fn decode(version: i16, d: &mut Decoder<'_>) -> DecodeResult<Self>;
}

/// Encodes `request` framed for the wire: the 4-byte size, the request header
/// (v1, or v2 in flexible versions) and the body.
pub fn encode_request<R: Request>(
    request: &R,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
) -> Result<Vec<u8>, EncodeError> {
    let mut buf = Vec::with_capacity(64);
    encode_request_into(request, version, correlation_id, client_id, &mut buf)?;
    Ok(buf)
}

/// Like [`encode_request`], appending to `buf` (which is cleared first).
pub fn encode_request_into<R: Request>(
    request: &R,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    buf: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    if !(R::MIN_VERSION..=R::MAX_VERSION).contains(&version) {
        return Err(EncodeError::Unsupported(
            "request version outside the supported window",
        ));
    }
    buf.clear();
    buf.extend_from_slice(&[0, 0, 0, 0]);
    let flexible = R::is_flexible(version);
    let mut e = Encoder::new(buf);
    e.i16(R::API_KEY);
    e.i16(version);
    e.i32(correlation_id);
    // client_id stays a classic nullable string even in header v2.
    e.nullable_string(client_id)?;
    e.set_flexible(flexible);
    e.tagged_fields();
    request.encode(version, &mut e)?;
    let size = buf.len() - 4;
    let size = i32::try_from(size).map_err(|_| EncodeError::TooLong(size))?;
    buf[..4].copy_from_slice(&size.to_be_bytes());
    Ok(())
}

/// Reads a response frame's correlation id (its first four bytes, after the
/// size prefix has been removed).
pub fn peek_correlation_id(frame: &[u8]) -> DecodeResult<i32> {
    Decoder::new(frame).i32()
}

/// Decodes a response frame (without its size prefix): checks the correlation
/// id, skips the header and decodes the body. Bytes after a complete body are
/// ignored, as the Java client ignores them: brokers differ in such details
/// (librdkafka's mock cluster sends one byte more than the Metadata v12
/// schema); [`decode_response_counting_trailing`] tells how many there were.
pub fn decode_response<R: Request>(
    frame: &[u8],
    version: i16,
    correlation_id: i32,
) -> DecodeResult<R::Response> {
    decode_response_counting_trailing::<R>(frame, version, correlation_id).map(|(r, _)| r)
}

/// Like [`decode_response`], and also returns how many bytes followed the
/// body (zero from a broker that matches the schema), so that the caller can
/// log the quirk.
pub fn decode_response_counting_trailing<R: Request>(
    frame: &[u8],
    version: i16,
    correlation_id: i32,
) -> DecodeResult<(R::Response, usize)> {
    let mut d = Decoder::new(frame);
    let actual = d.i32()?;
    if actual != correlation_id {
        return Err(DecodeError::CorrelationMismatch {
            expected: correlation_id,
            actual,
        });
    }
    if R::response_header_version(version) >= 1 {
        d.set_flexible(true);
        d.tagged_fields()?;
    }
    d.set_flexible(R::is_flexible(version));
    let response = R::Response::decode(version, &mut d)?;
    Ok((response, d.remaining()))
}

/// Picks the highest version both this crate (`R`) and the broker
/// (`broker_min..=broker_max`) support, or `None` if the windows do not overlap.
pub fn negotiate_version<R: Request>(broker_min: i16, broker_max: i16) -> Option<i16> {
    let high = R::MAX_VERSION.min(broker_max);
    let low = R::MIN_VERSION.max(broker_min);
    (high >= low).then_some(high)
}
