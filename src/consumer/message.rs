//! [`Message`]: one record as a consumer hands it over.
//!
//! A message is 64 bytes: one reference-counted pointer to the buffer the
//! record was read from (the Fetch answer's bytes, or its batch
//! decompressed) together with the topic name, then the record's numbers and
//! the positions of its key, value and header bytes in that buffer. Making a
//! message copies none of the record's bytes and allocates nothing; headers
//! are read from their bytes when asked for (they were checked when the
//! record was decoded, so reading them cannot fail).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::protocol::records::TimestampType;
use crate::protocol::Encoder;

/// The buffer records are read from, shared by their messages, and the
/// topic they belong to: one reference count per message for both.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub buf: Bytes,
    pub topic: Arc<str>,
}

/// Where a field lies in its chunk's buffer; `len == NULL` is a null field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: u32,
    pub len: u32,
}

impl Span {
    /// The span of a null field.
    pub const NULL: Span = Span {
        start: 0,
        len: u32::MAX,
    };

    /// The span of `len` bytes at `start`.
    pub fn new(start: u32, len: u32) -> Span {
        Span { start, len }
    }

    fn is_null(self) -> bool {
        self.len == u32::MAX
    }

    /// The bytes' length, 0 for null.
    pub fn size(self) -> usize {
        if self.is_null() {
            0
        } else {
            self.len as usize
        }
    }

    fn range(self) -> Option<std::ops::Range<usize>> {
        (!self.is_null()).then(|| self.start as usize..self.start as usize + self.len as usize)
    }
}

/// A record read from a partition.
///
/// Key and value are `None` when the producer sent null (a null key is not
/// the same as an empty one; a null value is a tombstone on compacted
/// topics). Accessors borrow from the buffer the record came in (or its
/// batch, decompressed): cloning a message copies nothing, and
/// [`Message::value_shared`] gives an owned [`Bytes`] slice of it without a
/// copy. The buffer is freed when the last message or slice of it is
/// dropped; a caller that keeps a few small values of a large response for
/// long can copy them (`value().map(<[u8]>::to_vec)`) to let the response go.
///
/// Equality compares content (topic, partition, offset, key, value,
/// headers, timestamp and its type, delivery count), not buffers.
#[derive(Clone)]
pub struct Message {
    chunk: Arc<Chunk>,
    offset: i64,
    timestamp: i64,
    key: Span,
    value: Span,
    /// The record's header bytes, after their count.
    headers: Span,
    partition: i32,
    header_count: u32,
    /// 0 outside share groups.
    delivery_count: u16,
    timestamp_type: TimestampType,
}

/// What the decoder read of one record: its place, and where its fields lie
/// in the chunk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawRecord {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Span,
    pub value: Span,
    pub headers: Span,
    pub header_count: u32,
}

impl Message {
    /// A message of `record`, whose spans lie in `chunk`'s buffer (and whose
    /// headers were checked by the decoder).
    pub(crate) fn new(
        chunk: &Arc<Chunk>,
        partition: i32,
        timestamp_type: TimestampType,
        record: &RawRecord,
    ) -> Self {
        Message {
            chunk: Arc::clone(chunk),
            offset: record.offset,
            timestamp: record.timestamp,
            key: record.key,
            value: record.value,
            headers: record.headers,
            partition,
            header_count: record.header_count,
            delivery_count: 0,
            timestamp_type,
        }
    }

    /// A message owning a copy of its key, value and headers, for records
    /// that do not lie in a shared buffer (legacy compressed messages) and
    /// for tests.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn copied(
        topic: &Arc<str>,
        partition: i32,
        offset: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
        timestamp: i64,
        timestamp_type: TimestampType,
    ) -> Self {
        let mut buf = Vec::new();
        let put = |buf: &mut Vec<u8>, part: Option<&[u8]>| match part {
            None => Span::NULL,
            Some(part) => {
                let start = buf.len() as u32;
                buf.extend_from_slice(part);
                Span::new(start, part.len() as u32)
            }
        };
        let key = put(&mut buf, key);
        let value = put(&mut buf, value);
        let headers_start = buf.len();
        for (k, v) in headers {
            let mut e = Encoder::new(&mut buf);
            e.varlong(k.len() as i64);
            e.raw(k.as_bytes());
            match v {
                None => e.varlong(-1),
                Some(v) => {
                    e.varlong(v.len() as i64);
                    e.raw(v);
                }
            }
        }
        let headers_span = Span::new(headers_start as u32, (buf.len() - headers_start) as u32);
        let chunk = Arc::new(Chunk {
            buf: Bytes::from(buf),
            topic: Arc::clone(topic),
        });
        let record = RawRecord {
            offset,
            timestamp,
            key,
            value,
            headers: headers_span,
            header_count: headers.len() as u32,
        };
        Message::new(&chunk, partition, timestamp_type, &record)
    }

    /// Sets the share group's delivery count.
    pub(crate) fn set_delivery_count(&mut self, count: u16) {
        self.delivery_count = count;
    }

    /// The memory the message takes in a prefetch queue, as the
    /// `queued_max_bytes` bound counts it: key, value and header bytes, plus
    /// the fixed size of the message (so a million one-byte records count
    /// as the tens of megabytes they take, not as one).
    pub(crate) fn queued_size(&self) -> usize {
        std::mem::size_of::<Message>() + self.key.size() + self.value.size() + self.headers.size()
    }

    fn part(&self, span: Span) -> Option<&[u8]> {
        span.range().and_then(|r| self.chunk.buf.get(r))
    }

    fn shared(&self, span: Span) -> Option<Bytes> {
        span.range().map(|r| self.chunk.buf.slice(r))
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.chunk.topic
    }

    /// The topic, shared.
    pub(crate) fn topic_arc(&self) -> &Arc<str> {
        &self.chunk.topic
    }

    /// The partition.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The record's offset in its partition.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// The key, `None` when null.
    pub fn key(&self) -> Option<&[u8]> {
        self.part(self.key)
    }

    /// The value, `None` when null.
    pub fn value(&self) -> Option<&[u8]> {
        self.part(self.value)
    }

    /// The key, or an empty slice when it is null.
    pub fn key_bytes(&self) -> &[u8] {
        self.key().unwrap_or_default()
    }

    /// The value, or an empty slice when it is null.
    pub fn value_bytes(&self) -> &[u8] {
        self.value().unwrap_or_default()
    }

    /// The key as an owned [`Bytes`] slice of the fetched buffer (no copy),
    /// `None` when null: for callers that keep keys beyond the message.
    pub fn key_shared(&self) -> Option<Bytes> {
        self.shared(self.key)
    }

    /// The value as an owned [`Bytes`] slice of the fetched buffer (no
    /// copy), `None` when null: for callers that keep values beyond the
    /// message.
    pub fn value_shared(&self) -> Option<Bytes> {
        self.shared(self.value)
    }

    /// Milliseconds since the Unix epoch, meaning what
    /// [`Message::timestamp_type`] says; `-1` when the record has none
    /// (magic 0).
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// Whether [`Message::timestamp`] is the producer's create time or the
    /// broker's log-append time.
    pub fn timestamp_type(&self) -> TimestampType {
        self.timestamp_type
    }

    /// The headers, in the order the producer wrote them (keys may repeat).
    pub fn headers(&self) -> Headers<'_> {
        Headers {
            data: self.part(self.headers).unwrap_or_default(),
            left: self.header_count,
        }
    }

    /// How many headers the record has.
    pub fn header_count(&self) -> usize {
        self.header_count as usize
    }

    /// The value of the first header named `key`; `None` when there is no
    /// such header, `Some(None)` when its value is null.
    pub fn header(&self, key: &str) -> Option<Option<&[u8]>> {
        self.headers().find(|h| h.key() == key).map(|h| h.value())
    }

    /// How many times the share group has delivered this record, this
    /// delivery included (1 the first time; more after a release, a lock
    /// timeout or a member's departure). `None` for records read by the
    /// simple and balanced consumers, which have no such count.
    pub fn delivery_count(&self) -> Option<u16> {
        (self.delivery_count > 0).then_some(self.delivery_count)
    }
}

impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.offset == other.offset
            && self.partition == other.partition
            && self.timestamp == other.timestamp
            && self.timestamp_type == other.timestamp_type
            && self.delivery_count == other.delivery_count
            && self.header_count == other.header_count
            && self.topic() == other.topic()
            && self.key() == other.key()
            && self.value() == other.value()
            && self.part(self.headers) == other.part(other.headers)
    }
}

impl Eq for Message {}

/// Bytes shown as a byte string literal.
struct ByteStr<'a>(Option<&'a [u8]>);

impl fmt::Debug for ByteStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("None"),
            Some(b) => write!(f, "b\"{}\"", b.escape_ascii()),
        }
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("topic", &self.topic())
            .field("partition", &self.partition)
            .field("offset", &self.offset)
            .field("key", &ByteStr(self.key()))
            .field("value", &ByteStr(self.value()))
            .field("headers", &self.headers().collect::<Vec<_>>())
            .field("timestamp", &self.timestamp)
            .field("timestamp_type", &self.timestamp_type)
            .field("delivery_count", &self.delivery_count())
            .finish()
    }
}

/// A record header as a consumer hands it over, borrowing from its
/// [`Message`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MessageHeader<'a> {
    key: &'a [u8],
    value: Option<&'a [u8]>,
}

impl<'a> MessageHeader<'a> {
    /// The key. Keys that are not valid UTF-8 on the wire are read with
    /// U+FFFD replacement characters, as the Java client reads them.
    pub fn key(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.key)
    }

    /// The key as it is on the wire.
    pub fn key_bytes(&self) -> &'a [u8] {
        self.key
    }

    /// The value; `None` is a null value.
    pub fn value(&self) -> Option<&'a [u8]> {
        self.value
    }
}

impl fmt::Debug for MessageHeader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageHeader")
            .field("key", &self.key())
            .field("value", &ByteStr(self.value))
            .finish()
    }
}

/// The headers of a [`Message`], in wire order; see [`Message::headers`].
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    data: &'a [u8],
    left: u32,
}

impl<'a> Iterator for Headers<'a> {
    type Item = MessageHeader<'a>;

    fn next(&mut self) -> Option<MessageHeader<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // Checked when decoded; a malformed header (which cannot happen)
        // just ends the iteration.
        let mut pos = 0;
        let key = read_part(self.data, &mut pos);
        let value = read_part(self.data, &mut pos);
        match (key, value) {
            (Some(Some(key)), Some(value)) => {
                self.data = self.data.get(pos..).unwrap_or_default();
                Some(MessageHeader { key, value })
            }
            _ => {
                self.left = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // Exact: the headers were checked when the record was decoded.
        (self.left as usize, Some(self.left as usize))
    }
}

impl ExactSizeIterator for Headers<'_> {}

/// A zig-zag varint length (-1 for null) and that many bytes, from
/// `data[*pos..]`; `None` when they are not all there.
pub(crate) fn read_part<'a>(data: &'a [u8], pos: &mut usize) -> Option<Option<&'a [u8]>> {
    let len = read_varint(data, pos)?;
    if len == -1 {
        return Some(None);
    }
    let len = usize::try_from(len).ok()?;
    let part = data.get(*pos..pos.checked_add(len)?)?;
    *pos += len;
    Some(Some(part))
}

/// A zig-zag varint (32 bits) from `data[*pos..]`.
pub(crate) fn read_varint(data: &[u8], pos: &mut usize) -> Option<i32> {
    let raw = read_unsigned(data, pos, 32)? as u32; // at most 32 bits, checked
    Some(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

/// A zig-zag varlong (64 bits) from `data[*pos..]`.
pub(crate) fn read_varlong(data: &[u8], pos: &mut usize) -> Option<i64> {
    let raw = read_unsigned(data, pos, 64)?;
    Some(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

/// An unsigned varint of at most `bits` bits from `data[*pos..]`; `None`
/// when it is cut short or longer than `bits`.
fn read_unsigned(data: &[u8], pos: &mut usize, bits: u32) -> Option<u64> {
    let bytes = bits.div_ceil(7);
    let mut raw: u64 = 0;
    for i in 0..bytes {
        let byte = *data.get(*pos)?;
        *pos += 1;
        // The last byte may carry only the bits left (4 of 32, 1 of 64).
        if i == bytes - 1 && u32::from(byte) >> (bits - 7 * i) != 0 {
            return None;
        }
        raw |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(raw);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_read_back_at_their_extremes_and_overlong_ones_are_refused() {
        for v in [0, 1, -1, 63, -64, i32::MAX, i32::MIN] {
            let mut buf = Vec::new();
            Encoder::new(&mut buf).varint(v);
            let mut pos = 0;
            assert_eq!(read_varint(&buf, &mut pos), Some(v));
            assert_eq!(pos, buf.len());
        }
        for v in [0, -1, i64::from(i32::MAX) + 1, i64::MAX, i64::MIN] {
            let mut buf = Vec::new();
            Encoder::new(&mut buf).varlong(v);
            let mut pos = 0;
            assert_eq!(read_varlong(&buf, &mut pos), Some(v));
            assert_eq!(pos, buf.len());
        }
        // A fifth byte past 32 bits, a tenth past 64, and a cut varint.
        assert_eq!(read_varint(&[0xff, 0xff, 0xff, 0xff, 0x10], &mut 0), None);
        assert_eq!(
            read_varlong(
                &[0xff; 9].iter().copied().chain([0x02]).collect::<Vec<_>>(),
                &mut 0
            ),
            None
        );
        assert_eq!(read_varint(&[0x80], &mut 0), None);
    }

    #[test]
    fn a_message_is_at_most_64_bytes() {
        assert!(std::mem::size_of::<Message>() <= 64);
    }

    #[test]
    fn a_copied_message_reads_back_what_it_was_given() {
        let topic: Arc<str> = Arc::from("t");
        let m = Message::copied(
            &topic,
            3,
            7,
            None,
            Some(b""),
            &[("a", Some(b"1")), ("b", None), ("a", Some(b"2"))],
            5,
            TimestampType::LogAppendTime,
        );
        assert_eq!((m.topic(), m.partition(), m.offset()), ("t", 3, 7));
        assert_eq!((m.key(), m.value()), (None, Some(&b""[..])));
        assert_eq!((m.key_bytes(), m.key_shared()), (&b""[..], None));
        assert_eq!(m.value_shared(), Some(Bytes::new()));
        let headers: Vec<_> = m.headers().map(|h| (h.key(), h.value())).collect();
        assert_eq!(
            headers,
            [
                (Cow::from("a"), Some(&b"1"[..])),
                (Cow::from("b"), None),
                (Cow::from("a"), Some(&b"2"[..]))
            ]
        );
        assert_eq!(m.header("a"), Some(Some(&b"1"[..])));
        assert_eq!(m.header("b"), Some(None));
        assert_eq!(m.header("c"), None);
        assert_eq!(m.delivery_count(), None);
        assert_eq!(m.clone(), m);
        let text = format!("{m:?}");
        assert!(text.contains("value: b\"\""), "{text}");
    }
}
