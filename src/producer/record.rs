//! What goes in and what comes out of a producer: [`Record`],
//! [`RecordMetadata`] and [`DeliveryReport`].

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;

use super::payload::Inline;
pub use super::payload::Payload;
use crate::error::{Error, Result};

/// A header's key, as a [`Record`] holds it. Keys of up to
/// [`HeaderKey::INLINE`] bytes (nearly all real ones: `trace-id`,
/// `content-type`) are kept inside the key itself, with no allocation,
/// whether they come from a literal or a borrowed `&str`; a longer key is a
/// `String` (moved in when it is one). Everything `Into<String>` took
/// converts: `&str`, `String`, `&String`, `Box<str>`, `Cow<str>`, `char`.
///
/// ```
/// use kafka_sync::producer::{HeaderKey, Record};
/// let name = String::from("trace");
/// let borrowed: &str = name.as_str();
/// let record = Record::new(b"v")
///     .header("literal", b"1")
///     .header(&name, b"2")
///     .header(borrowed, b"3");
/// assert_eq!(record.get_headers()[0].0, "literal");
/// assert_eq!(record.get_headers()[2].0.as_str(), "trace");
/// assert_eq!(HeaderKey::from(name).as_str(), "trace");
/// ```
#[derive(Clone)]
pub struct HeaderKey(KeyRepr);

#[derive(Clone)]
enum KeyRepr {
    /// UTF-8: only `From<&str>` makes it, from a whole `str`.
    Inline(Inline<{ HeaderKey::INLINE }>),
    Owned(String),
}

impl HeaderKey {
    /// The longest key kept without an allocation, in bytes.
    pub const INLINE: usize = 30;

    /// The key.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            KeyRepr::Inline(inline) => std::str::from_utf8(inline.as_slice()).unwrap_or_default(),
            KeyRepr::Owned(s) => s,
        }
    }

    /// The key as a `String` (copied when it was kept inline).
    pub fn into_string(self) -> String {
        match self.0 {
            KeyRepr::Owned(s) => s,
            inline @ KeyRepr::Inline(_) => HeaderKey(inline).as_str().to_owned(),
        }
    }
}

impl std::fmt::Debug for HeaderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for HeaderKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for HeaderKey {}

impl std::hash::Hash for HeaderKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for HeaderKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for HeaderKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::ops::Deref for HeaderKey {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for HeaderKey {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for HeaderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for HeaderKey {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for HeaderKey {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for HeaderKey {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl From<&str> for HeaderKey {
    fn from(s: &str) -> Self {
        match Inline::new(s.as_bytes()) {
            Some(inline) => HeaderKey(KeyRepr::Inline(inline)),
            None => HeaderKey(KeyRepr::Owned(s.to_owned())),
        }
    }
}

impl From<String> for HeaderKey {
    fn from(s: String) -> Self {
        HeaderKey(KeyRepr::Owned(s))
    }
}

impl From<&String> for HeaderKey {
    fn from(s: &String) -> Self {
        HeaderKey::from(s.as_str())
    }
}

impl From<Box<str>> for HeaderKey {
    fn from(s: Box<str>) -> Self {
        HeaderKey(KeyRepr::Owned(s.into()))
    }
}

impl From<Cow<'_, str>> for HeaderKey {
    fn from(s: Cow<'_, str>) -> Self {
        match s {
            Cow::Borrowed(s) => HeaderKey::from(s),
            Cow::Owned(s) => HeaderKey::from(s),
        }
    }
}

impl From<char> for HeaderKey {
    fn from(c: char) -> Self {
        HeaderKey::from(c.encode_utf8(&mut [0u8; 4]) as &str)
    }
}

impl From<HeaderKey> for String {
    fn from(k: HeaderKey) -> Self {
        k.into_string()
    }
}

/// A header as a [`Record`] holds it: key and value (`None` for null).
pub type RecordHeader = (HeaderKey, Option<Bytes>);

/// A record's headers. Most records have none or one, kept inline: a list
/// would be one more allocation per record.
#[derive(Debug, Clone, Default)]
pub(crate) enum Headers {
    #[default]
    None,
    One([RecordHeader; 1]),
    Many(Vec<RecordHeader>),
}

/// Equal when the headers are, however they are stored.
impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Headers {}

impl Headers {
    pub(crate) fn as_slice(&self) -> &[RecordHeader] {
        match self {
            Headers::None => &[],
            Headers::One(one) => one,
            Headers::Many(many) => many,
        }
    }

    fn push(&mut self, header: RecordHeader) {
        *self = match std::mem::take(self) {
            Headers::None => Headers::One([header]),
            Headers::One([first]) => Headers::Many(vec![first, header]),
            Headers::Many(mut many) => {
                many.push(header);
                Headers::Many(many)
            }
        };
    }
}

/// A record to produce: value, and optionally key, headers, partition and
/// timestamp.
///
/// Keys, values and header values are [`Bytes`]; every setter takes
/// anything that converts into a [`Payload`] (what `Into<Vec<u8>>` took:
/// `b"..."`, `&[u8]`, `&str`, `String`, `Vec<u8>`, …, and [`Bytes`]).
/// Owned buffers move in without a copy, and a record clones without
/// copying its payload: the producer keeps it until its delivery report.
///
/// ```
/// use kafka_sync::producer::Record;
/// let record = Record::new(b"clicked")
///     .key(b"user-42")
///     .header("trace", b"1")
///     .partition(3)
///     .timestamp(1_700_000_000_000);
/// assert_eq!(record.get_key(), Some(&b"user-42"[..]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// Kept as a [`Payload`]: a short borrowed key needs no allocation.
    pub(crate) key: Option<Payload>,
    pub(crate) value: Option<Bytes>,
    pub(crate) headers: Headers,
    pub(crate) partition: Option<i32>,
    pub(crate) timestamp: Option<i64>,
}

impl Record {
    /// A record with this value, no key, no headers; the partitioner picks
    /// the partition and the timestamp is the time of `produce`.
    pub fn new(value: impl Into<Payload>) -> Self {
        Record {
            value: Some(value.into().into_bytes()),
            ..Record::default()
        }
    }

    /// A record with a null value: a tombstone, which deletes `key` from a
    /// compacted topic.
    pub fn tombstone(key: impl Into<Payload>) -> Self {
        Record {
            key: Some(key.into()),
            ..Record::default()
        }
    }

    /// Sets the key; keyed records are partitioned by the key's murmur2 hash.
    #[must_use]
    pub fn key(mut self, key: impl Into<Payload>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds a header (keys may repeat).
    #[must_use]
    pub fn header(mut self, key: impl Into<HeaderKey>, value: impl Into<Payload>) -> Self {
        self.headers
            .push((key.into(), Some(value.into().into_bytes())));
        self
    }

    /// Adds a header with a null value.
    #[must_use]
    pub fn null_header(mut self, key: impl Into<HeaderKey>) -> Self {
        self.headers.push((key.into(), None));
        self
    }

    /// Sends the record to this partition, bypassing the partitioner.
    #[must_use]
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the timestamp, in milliseconds since the Unix epoch (create time).
    #[must_use]
    pub fn timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }

    /// The key.
    pub fn get_key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }

    /// The value; `None` for a tombstone.
    pub fn get_value(&self) -> Option<&[u8]> {
        self.value.as_deref()
    }

    /// The key as a [`Bytes`]: the one the record holds (a reference count,
    /// nothing copied), or a copy of a short key the record keeps inline
    /// (see [`Payload`]).
    pub fn get_key_bytes(&self) -> Option<Bytes> {
        self.key.as_ref().map(Payload::to_bytes)
    }

    /// The value, as the [`Bytes`] the record holds (cloning it copies nothing).
    pub fn get_value_bytes(&self) -> Option<&Bytes> {
        self.value.as_ref()
    }

    /// The headers, in order: key and value (`None` for a null value).
    pub fn get_headers(&self) -> &[RecordHeader] {
        self.headers.as_slice()
    }

    /// The explicit partition, if one was set.
    pub fn get_partition(&self) -> Option<i32> {
        self.partition
    }

    /// The explicit timestamp, if one was set.
    pub fn get_timestamp(&self) -> Option<i64> {
        self.timestamp
    }

    /// Bytes the record holds, the amount counted against `buffer_memory`:
    /// key, value and headers plus a fixed per-record overhead.
    ///
    /// A value sliced out of a larger [`Bytes`] counts only its own length,
    /// although it keeps the whole buffer alive.
    pub(crate) fn memory_size(&self) -> usize {
        const OVERHEAD: usize = 64;
        OVERHEAD
            + self.key.as_ref().map_or(0, Payload::len)
            + self.value.as_ref().map_or(0, Bytes::len)
            + self
                .headers
                .as_slice()
                .iter()
                .map(|(k, v)| k.len() + v.as_ref().map_or(0, Bytes::len) + 8)
                .sum::<usize>()
    }
}

/// Where a record was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RecordMetadata {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset; -1 with `acks=0`, or when the broker recognised
    /// an idempotent retry as a duplicate of a write it had already acknowledged.
    pub offset: i64,
    /// The record's timestamp: its create time, or the broker's append time
    /// when the topic uses `LogAppendTime`.
    pub timestamp: i64,
}

/// The outcome of one accepted record: written (with its offset) or failed
/// (with the error). Every record `produce` accepted gets exactly one report
/// when [`delivery_reports`](super::ProducerConfig::delivery_reports) is on.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition the record was assigned to.
    pub partition: i32,
    /// The record as it was produced (its partition and timestamp filled in).
    pub record: Record,
    /// Where it was written, or why it was not.
    pub result: Result<RecordMetadata, Error>,
}

impl DeliveryReport {
    /// Whether the record was written.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    /// The offset, when the record was written.
    pub fn offset(&self) -> Option<i64> {
        self.result.as_ref().ok().map(|m| m.offset)
    }

    /// The error, when the record was not written.
    pub fn error(&self) -> Option<&Error> {
        self.result.as_ref().err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_keys_convert_from_any_str_and_compare_by_content() {
        let name = String::from("trace-id");
        let borrowed: &str = &name;
        let inline = HeaderKey::from(borrowed);
        assert!(matches!(&inline.0, KeyRepr::Inline(i) if i.as_slice().len() == 8));
        let owned = HeaderKey::from(name.clone());
        assert!(matches!(owned.0, KeyRepr::Owned(_)));
        assert_eq!(inline, owned);
        use std::hash::BuildHasher;
        let state = std::hash::RandomState::new();
        assert_eq!(state.hash_one(&inline), state.hash_one(&owned));
        let long = "k".repeat(HeaderKey::INLINE + 1);
        let spilled = HeaderKey::from(long.as_str());
        assert!(matches!(spilled.0, KeyRepr::Owned(_)));
        assert_eq!(spilled.as_str(), long);
        let edge = "é".repeat(HeaderKey::INLINE / 2);
        assert_eq!(HeaderKey::from(edge.as_str()).into_string(), edge);
        assert_eq!(HeaderKey::from('ß').as_str(), "ß");
        assert_eq!(HeaderKey::from(Cow::Borrowed("x")), "x");
        assert_eq!(format!("{inline:?}"), "\"trace-id\"");
        assert!(std::mem::size_of::<HeaderKey>() <= 32);
    }

    #[test]
    fn everything_into_vec_took_converts_and_owned_buffers_are_not_copied() {
        let vec = vec![1u8, 2, 3];
        let at = vec.as_ptr();
        let bytes = Payload::from(vec).into_bytes();
        assert_eq!(bytes.as_ptr(), at, "a Vec<u8> moves in");
        let string = String::from("abc");
        let at = string.as_ptr();
        assert_eq!(
            Payload::from(string).into_bytes().as_ptr(),
            at,
            "a String moves in"
        );
        let shared = Bytes::from(vec![9u8; 64]);
        let record = Record::new(shared.clone()).key(&shared);
        assert_eq!(record.get_value_bytes().unwrap().as_ptr(), shared.as_ptr());
        assert_eq!(record.get_key_bytes().unwrap().as_ptr(), shared.as_ptr());

        let owned = vec![7u8; 2];
        let text = String::from("t");
        let cases: Vec<(Payload, &[u8])> = vec![
            (b"lit".into(), b"lit"),
            ((&b"lit"[..]).into(), b"lit"),
            ([1u8, 2].into(), &[1, 2]),
            ("str".into(), b"str"),
            ((&owned).into(), &[7, 7]),
            ((&text).into(), b"t"),
            (vec![5u8].into_boxed_slice().into(), &[5]),
            (Cow::Borrowed(&b"cow"[..]).into(), b"cow"),
            (Cow::<[u8]>::Owned(b"cow".to_vec()).into(), b"cow"),
            (Cow::Borrowed("cs").into(), b"cs"),
            (bytes::BytesMut::from(&b"mut"[..]).into(), b"mut"),
            (Bytes::from_static(b"static").into(), b"static"),
        ];
        for (payload, want) in cases {
            assert_eq!(&payload.into_bytes()[..], want);
        }
    }

    #[test]
    fn setters_take_what_they_took_before_and_memory_counts_the_bytes() {
        let name = String::from("trace");
        let record = Record::new("v")
            .key(vec![1u8, 2])
            .header(&name, b"1")
            .header(name.clone(), String::from("22"))
            .null_header("gone");
        assert_eq!(record.get_value(), Some(&b"v"[..]));
        assert_eq!(record.get_key(), Some(&[1u8, 2][..]));
        let headers = record.get_headers();
        assert_eq!(headers.len(), 3);
        assert_eq!(headers[0].0, "trace");
        assert_eq!(headers[1].1.as_deref(), Some(&b"22"[..]));
        assert_eq!(headers[2].1, None);
        // 64 overhead + key 2 + value 1 + headers (5+1+8) + (5+2+8) + (4+8)
        assert_eq!(record.memory_size(), 64 + 2 + 1 + 14 + 15 + 12);
        assert_eq!(Record::tombstone("k").get_value(), None);
        let one = Record::new("v").header("h", "1");
        let mut many = one.clone();
        many.headers = Headers::Many(vec![(HeaderKey::from("h"), Some(Bytes::from("1")))]);
        assert_eq!(
            one, many,
            "records compare by their headers, not their storage"
        );
    }
}
