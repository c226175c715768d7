//! [`ShareConsumerConfig`]: every setting of a [`ShareConsumer`](super::ShareConsumer),
//! with its default.

use std::time::Duration;

/// How delivered records are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AcknowledgementMode {
    /// Every record handed out is accepted when the consumer next fetches
    /// (the poll after the last buffered record), commits or closes; calls
    /// to [`acknowledge`](super::ShareConsumer::acknowledge) may still
    /// release or reject single records before that. Java's `implicit`.
    #[default]
    Implicit,
    /// Every record handed out must be acknowledged with
    /// [`acknowledge`](super::ShareConsumer::acknowledge) before the
    /// consumer fetches again; a fetch with unacknowledged records is an
    /// error. Java's `explicit`.
    Explicit,
}

/// How one record is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AckType {
    /// Processed: never delivered again.
    Accept,
    /// Not processed: delivered again (to this or another member), with a
    /// higher delivery count, until the broker's delivery-attempt limit
    /// (`group.share.delivery.attempt.limit`, 5 by default) archives it.
    Release,
    /// Unprocessable: never delivered again.
    Reject,
}

impl AckType {
    /// The type's code on the wire.
    pub(crate) fn code(self) -> i8 {
        use crate::protocol::api::share_fetch::acknowledge_type;
        match self {
            AckType::Accept => acknowledge_type::ACCEPT,
            AckType::Release => acknowledge_type::RELEASE,
            AckType::Reject => acknowledge_type::REJECT,
        }
    }
}

/// Settings of a [`ShareConsumer`](super::ShareConsumer).
///
/// ```
/// use std::time::Duration;
/// use kafka_sync::consumer::{AcknowledgementMode, ShareConsumerConfig};
///
/// let config = ShareConsumerConfig::default()
///     .acknowledgement_mode(AcknowledgementMode::Explicit)
///     .max_poll_records(100)
///     .consumer_timeout(Duration::from_secs(5));
/// ```
#[derive(Debug, Clone)]
pub struct ShareConsumerConfig {
    pub(crate) consumer_timeout: Option<Duration>,
    pub(crate) acknowledgement_mode: AcknowledgementMode,
    pub(crate) max_poll_records: i32,
    pub(crate) fetch_max_wait: Duration,
    pub(crate) fetch_min_bytes: i32,
    pub(crate) fetch_max_bytes: i32,
    pub(crate) rack_id: Option<String>,
    pub(crate) join_timeout: Duration,
    pub(crate) close_timeout: Duration,
}

impl Default for ShareConsumerConfig {
    /// `consumer_timeout` none (iteration waits for records forever),
    /// implicit acknowledgement, `max_poll_records` 500, `fetch_max_wait`
    /// 500 ms, `fetch_min_bytes` 1, `fetch_max_bytes` 50 MiB, no rack,
    /// `join_timeout` 30 s, `close_timeout` 10 s.
    fn default() -> Self {
        ShareConsumerConfig {
            consumer_timeout: None,
            acknowledgement_mode: AcknowledgementMode::Implicit,
            max_poll_records: 500,
            fetch_max_wait: Duration::from_millis(500),
            fetch_min_bytes: 1,
            fetch_max_bytes: 50 * 1024 * 1024,
            rack_id: None,
            join_timeout: Duration::from_secs(30),
            close_timeout: Duration::from_secs(10),
        }
    }
}

impl ShareConsumerConfig {
    /// How long iteration waits for a record before it ends (pykafka's
    /// `consumer_timeout_ms`). Defaults to none: iteration waits forever.
    pub fn consumer_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.consumer_timeout = timeout.into();
        self
    }

    /// Implicit (the default) or explicit acknowledgement.
    pub fn acknowledgement_mode(mut self, mode: AcknowledgementMode) -> Self {
        self.acknowledgement_mode = mode;
        self
    }

    /// Most records one ShareFetch acquires per broker (`max.poll.records`),
    /// at least 1. Defaults to 500, as in the Java share consumer. The
    /// broker may return a few more (it acquires whole batches).
    pub fn max_poll_records(mut self, records: i32) -> Self {
        self.max_poll_records = records.max(1);
        self
    }

    /// Longest time a broker holds a ShareFetch waiting for records
    /// (`fetch.max.wait.ms`). Defaults to 500 ms.
    pub fn fetch_max_wait(mut self, wait: Duration) -> Self {
        self.fetch_max_wait = wait;
        self
    }

    /// Bytes a broker waits for before answering (`fetch.min.bytes`).
    /// Defaults to 1.
    pub fn fetch_min_bytes(mut self, bytes: i32) -> Self {
        self.fetch_min_bytes = bytes.max(0);
        self
    }

    /// Most bytes one ShareFetch returns (`fetch.max.bytes`). Defaults to
    /// 50 MiB.
    pub fn fetch_max_bytes(mut self, bytes: i32) -> Self {
        self.fetch_max_bytes = bytes.max(1);
        self
    }

    /// The member's rack (`client.rack`), sent when it joins. Defaults to
    /// none.
    pub fn rack_id(mut self, rack: impl Into<Option<String>>) -> Self {
        self.rack_id = rack.into();
        self
    }

    /// How long [`get_share_consumer`](crate::KafkaClient::get_share_consumer)
    /// waits for the coordinator to accept the member. Defaults to 30 s.
    pub fn join_timeout(mut self, timeout: Duration) -> Self {
        self.join_timeout = timeout;
        self
    }

    /// How long `close` (and `Drop`) may take to acknowledge, release what
    /// is held and leave the group. Defaults to 10 s.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = ShareConsumerConfig::default();
        assert_eq!(c.consumer_timeout, None);
        assert_eq!(c.acknowledgement_mode, AcknowledgementMode::Implicit);
        assert_eq!(c.max_poll_records, 500);
        assert_eq!(c.fetch_max_wait, Duration::from_millis(500));
        assert_eq!(c.fetch_max_bytes, 50 * 1024 * 1024);
        assert_eq!(c.close_timeout, Duration::from_secs(10));
        assert_eq!(
            ShareConsumerConfig::default()
                .max_poll_records(0)
                .max_poll_records,
            1
        );
    }

    #[test]
    fn ack_types_use_the_wire_codes() {
        assert_eq!(AckType::Accept.code(), 1);
        assert_eq!(AckType::Release.code(), 2);
        assert_eq!(AckType::Reject.code(), 3);
    }
}
