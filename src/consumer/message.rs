//! [`Message`]: one record as a consumer hands it over. Key, value and header
//! values are [`Bytes`]: cheap, reference-counted slices of the fetched (or
//! decompressed) buffer, made without copying the record's bytes, that can
//! outlive the consumer and move to other threads.

use std::sync::Arc;

use bytes::Bytes;

use crate::protocol::records::TimestampType;

/// A record header as a consumer hands it over: the key, and the value as a
/// slice of the fetched buffer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct MessageHeader {
    /// The key. Keys that are not valid UTF-8 on the wire are read with
    /// U+FFFD replacement characters, as the Java client reads them.
    pub key: String,
    /// The value; `None` is a null value.
    pub value: Option<Bytes>,
}

impl MessageHeader {
    /// A header with `key` and `value`.
    pub fn new(key: impl Into<String>, value: Option<Bytes>) -> Self {
        MessageHeader {
            key: key.into(),
            value,
        }
    }

    /// The value as a slice, `None` when null.
    pub fn value(&self) -> Option<&[u8]> {
        self.value.as_deref()
    }
}

/// A record read from a partition.
///
/// Key and value are `None` when the producer sent null (a null key is not
/// the same as an empty one; a null value is a tombstone on compacted
/// topics). They are [`Bytes`] slices of the response the record came in
/// (or of its batch, decompressed): cloning a message or keeping its value
/// copies nothing, and the buffer is freed when the last slice of it is
/// dropped. A caller that keeps a few small values of a large response for
/// long can copy them (`value.to_vec()`) to let the response go.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset in its partition.
    pub offset: i64,
    /// The key, `None` when null.
    pub key: Option<Bytes>,
    /// The value, `None` when null.
    pub value: Option<Bytes>,
    /// Headers in the order the producer wrote them (keys may repeat).
    pub headers: Vec<MessageHeader>,
    /// Milliseconds since the Unix epoch, meaning what `timestamp_type` says;
    /// `-1` when the record has none (magic 0).
    pub timestamp: i64,
    /// Whether `timestamp` is the producer's create time or the broker's
    /// log-append time.
    pub timestamp_type: TimestampType,
    /// How many times a share group has delivered this record, this time
    /// included; `None` outside share groups.
    pub(crate) delivery_count: Option<u16>,
}

impl Message {
    /// The memory the message takes in a prefetch queue, as the
    /// `queued_max_bytes` bound counts it: key, value and headers, plus the
    /// fixed size of the struct and of each header (so a million one-byte
    /// records count as the hundred-odd megabytes they take, not as one).
    pub(crate) fn queued_size(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|h| {
                std::mem::size_of::<MessageHeader>()
                    + h.key.len()
                    + h.value.as_ref().map_or(0, Bytes::len)
            })
            .sum();
        std::mem::size_of::<Message>()
            + self.key.as_ref().map_or(0, Bytes::len)
            + self.value.as_ref().map_or(0, Bytes::len)
            + headers
    }

    /// How many times the share group has delivered this record, this
    /// delivery included (1 the first time; more after a release, a lock
    /// timeout or a member's departure). `None` for records read by the
    /// simple and balanced consumers, which have no such count.
    pub fn delivery_count(&self) -> Option<u16> {
        self.delivery_count
    }

    /// The value, or an empty slice when it is null.
    pub fn value_bytes(&self) -> &[u8] {
        self.value.as_deref().unwrap_or_default()
    }

    /// The key, or an empty slice when it is null.
    pub fn key_bytes(&self) -> &[u8] {
        self.key.as_deref().unwrap_or_default()
    }

    /// The value of the first header named `key`; `None` when there is no
    /// such header, `Some(None)` when its value is null.
    pub fn header(&self, key: &str) -> Option<Option<&[u8]>> {
        self.headers
            .iter()
            .find(|h| h.key == key)
            .map(MessageHeader::value)
    }
}
