//! The crate's one error type.
//!
//! Variants are categories (I/O, timeout, protocol, broker, config, …) so
//! callers can match on what kind of thing went wrong; each message says what
//! happened and, where there is something to do, what to do.

use std::fmt;
use std::io;

use crate::producer::TransactionState;
use crate::protocol::{DecodeError, EncodeError, ErrorCode};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// Opening a TCP connection (`connect_timeout`).
    Connect,
    /// Waiting for a broker's response (`request_timeout`).
    Request,
    /// Waiting for metadata to name a leader or a topic (`metadata_timeout`).
    Metadata,
    /// Waiting for a group coordinator.
    Coordinator,
    /// Waiting for queued records to be delivered (`flush`).
    Flush,
    /// Waiting for room in the producer's buffer (`max_block`).
    MaxBlock,
    /// Waiting for a producer transaction call (`init_transactions`,
    /// `send_offsets_to_transaction`, `commit_transaction`,
    /// `abort_transaction`) to finish within the timeout it was given.
    /// Retriable: call the same method again to resume.
    Transaction,
    /// Waiting for a produced record to be acknowledged (`delivery_timeout`).
    Delivery,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connect_timeout",
            TimeoutKind::Request => "request_timeout",
            TimeoutKind::Metadata => "metadata_timeout",
            TimeoutKind::Coordinator => "coordinator lookup timeout",
            TimeoutKind::Flush => "flush timeout",
            TimeoutKind::MaxBlock => "max_block",
            TimeoutKind::Delivery => "delivery_timeout",
            TimeoutKind::Transaction => "transaction call timeout",
        })
    }
}

/// An error returned by a broker in a response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrokerError {
    /// The error code.
    pub code: ErrorCode,
    /// The broker's own error message, when it sent one.
    pub message: Option<String>,
    /// What the client was doing: the API and the resource (topic, partition, group).
    pub context: String,
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: broker returned {}", self.context, self.code.name())?;
        if let Some(message) = &self.message {
            write!(f, " ({message})")?;
        }
        write!(f, ": {}", self.code.description())
    }
}

/// What a transactional producer's error means, in the Java client's terms
/// (retriable errors are the ordinary retriable ones, such as
/// [`TimeoutKind::Transaction`]: call the same method again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransactionErrorKind {
    /// A call the producer's [`TransactionState`] does not allow (commit
    /// without begin, begin twice, a send outside a transaction, a
    /// transaction call on a producer without a `transactional_id`). Nothing
    /// changed; make the calls in order.
    InvalidState,
    /// The transaction cannot commit (a record of it failed, the broker
    /// refused a partition or the offsets): call
    /// [`abort_transaction`](crate::Producer::abort_transaction), then begin
    /// the next one.
    Abortable,
    /// The producer cannot go on (`PRODUCER_FENCED`: another producer with
    /// the same `transactional_id` took over; `INVALID_PRODUCER_EPOCH`;
    /// `TRANSACTIONAL_ID_AUTHORIZATION_FAILED`; …). Every later call returns
    /// this error; drop the producer (and create a new one if it was not
    /// fenced).
    Fatal,
    /// In a delivery report: the record's transaction was aborted, so no
    /// `read_committed` consumer will ever see it.
    Aborted,
}

impl fmt::Display for TransactionErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransactionErrorKind::InvalidState => "invalid state",
            TransactionErrorKind::Abortable => "abortable",
            TransactionErrorKind::Fatal => "fatal",
            TransactionErrorKind::Aborted => "aborted",
        })
    }
}

/// A transactional producer's error: its kind, the producer's transaction
/// state when it happened, what to do, and the cause.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransactionError {
    /// What the error means for the transaction.
    pub kind: TransactionErrorKind,
    /// The producer's state when the error happened (for
    /// [`TransactionErrorKind::InvalidState`], the state that refused the
    /// call).
    pub state: TransactionState,
    /// What happened and what to do.
    pub message: String,
    /// The error behind it (a broker error code, a failed record), if any.
    pub cause: Option<Error>,
}

impl fmt::Display for TransactionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "transaction error ({}, producer state {}): {}",
            self.kind, self.state, self.message
        )?;
        if let Some(cause) = &self.cause {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A socket operation failed; `context` names the broker and the operation.
    #[error("{context}: {source}")]
    Io {
        /// Broker address and operation.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A timeout fired; `context` says what was being waited for.
    #[error("timed out ({kind}) {context}")]
    Timeout {
        /// Which timeout.
        kind: TimeoutKind,
        /// What was being waited for.
        context: String,
    },
    /// The broker sent bytes that do not decode, or a request could not be
    /// encoded at the negotiated version.
    #[error("protocol error {context}: {detail}")]
    Protocol {
        /// Broker and API.
        context: String,
        /// What was wrong.
        detail: String,
        /// The typed decode failure, when bytes did not decode (see
        /// [`Error::decode_error`]); `None` for other protocol violations.
        decode: Option<Box<DecodeError>>,
    },
    /// A response larger than `max_response_size`.
    #[error("response of {size} bytes from {broker} exceeds max_response_size ({max} bytes); raise it with KafkaClientBuilder::max_response_size if the broker is trusted")]
    FrameTooLarge {
        /// Broker address.
        broker: String,
        /// Claimed size.
        size: i64,
        /// Configured limit.
        max: usize,
    },
    /// The broker answered with an error code.
    #[error("{0}")]
    Broker(Box<BrokerError>),
    /// The topic does not exist on the cluster.
    #[error("topic `{0}` does not exist; create it (KafkaClient::create_topic) or enable auto-creation on the broker")]
    UnknownTopic(String),
    /// The broker does not support any version of an API this crate needs.
    #[error("broker {broker} supports no version of {api} that this client speaks ({ours}); upgrade the broker or the client")]
    UnsupportedVersion {
        /// Broker address.
        broker: String,
        /// API name.
        api: &'static str,
        /// Versions this client speaks.
        ours: String,
    },
    /// No broker of the bootstrap list or metadata could be reached.
    #[error("no broker could be reached: {0}")]
    NoBrokerAvailable(String),
    /// Invalid configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// TLS setup or handshake failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// SASL authentication failed.
    #[error("SASL: {0}")]
    Sasl(String),
    /// The handle, connection or producer has been closed.
    #[error("{0} is closed")]
    Closed(&'static str),
    /// A background thread of a handle panicked; the handle cannot go on.
    /// Records the thread held got this error in their delivery reports, and
    /// every later call on the handle returns it.
    #[error("the {handle}'s background thread {thread} panicked ({detail}); drop the {handle} and create a new one")]
    ThreadPanicked {
        /// The handle: `producer`, `consumer`.
        handle: &'static str,
        /// The thread's name (`kafka-sync-sender`, …).
        thread: &'static str,
        /// The panic message.
        detail: Box<str>,
    },
    /// A transactional producer's error; see [`TransactionErrorKind`] for
    /// what to do.
    #[error("{0}")]
    Transaction(Box<TransactionError>),
}

impl Error {
    /// The broker error code, for [`Error::Broker`].
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Broker(e) => Some(e.code),
            _ => None,
        }
    }

    /// Whether retrying the same operation may succeed: network failures,
    /// timeouts and retriable broker codes.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Io { .. } | Error::Timeout { .. } | Error::NoBrokerAvailable(_) => true,
            Error::Broker(e) => e.code.is_retriable(),
            _ => false,
        }
    }

    /// What a transactional producer's error means, for
    /// [`Error::Transaction`].
    pub fn transaction_kind(&self) -> Option<TransactionErrorKind> {
        match self {
            Error::Transaction(e) => Some(e.kind),
            _ => None,
        }
    }

    /// A transaction error.
    pub(crate) fn transaction(
        kind: TransactionErrorKind,
        state: TransactionState,
        message: impl Into<String>,
        cause: Option<Error>,
    ) -> Self {
        Error::Transaction(Box::new(TransactionError {
            kind,
            state,
            message: message.into(),
            cause,
        }))
    }

    /// A broker error with context.
    pub fn broker(code: ErrorCode, message: Option<String>, context: impl Into<String>) -> Self {
        Error::Broker(Box::new(BrokerError {
            code,
            message,
            context: context.into(),
        }))
    }

    /// An I/O error with context.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// A timeout with context.
    pub fn timeout(kind: TimeoutKind, context: impl Into<String>) -> Self {
        Error::Timeout {
            kind,
            context: context.into(),
        }
    }

    /// The typed decode failure behind an [`Error::Protocol`], for callers
    /// that tell a CRC mismatch from a truncated frame.
    pub fn decode_error(&self) -> Option<&DecodeError> {
        match self {
            Error::Protocol {
                decode: Some(e), ..
            } => Some(e),
            _ => None,
        }
    }

    /// A decode failure with context; the [`DecodeError`] is kept.
    pub(crate) fn decode(context: impl Into<String>, e: DecodeError) -> Self {
        Error::Protocol {
            context: context.into(),
            detail: e.to_string(),
            decode: Some(Box::new(e)),
        }
    }

    /// A protocol violation that is not a decode failure.
    pub(crate) fn protocol(context: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Protocol {
            context: context.into(),
            detail: detail.into(),
            decode: None,
        }
    }

    /// A background thread of `handle` panicked with `detail`.
    pub(crate) fn thread_panicked(
        handle: &'static str,
        thread: &'static str,
        detail: impl Into<Box<str>>,
    ) -> Self {
        Error::ThreadPanicked {
            handle,
            thread,
            detail: detail.into(),
        }
    }

    /// An encode failure with context.
    pub(crate) fn encode(context: impl Into<String>, e: EncodeError) -> Self {
        Error::protocol(context, e.to_string())
    }
}

impl Clone for Error {
    fn clone(&self) -> Self {
        match self {
            Error::Io { context, source } => Error::Io {
                context: context.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
            Error::Timeout { kind, context } => Error::Timeout {
                kind: *kind,
                context: context.clone(),
            },
            Error::Protocol {
                context,
                detail,
                decode,
            } => Error::Protocol {
                context: context.clone(),
                detail: detail.clone(),
                decode: decode.clone(),
            },
            Error::FrameTooLarge { broker, size, max } => Error::FrameTooLarge {
                broker: broker.clone(),
                size: *size,
                max: *max,
            },
            Error::Broker(e) => Error::Broker(e.clone()),
            Error::UnknownTopic(t) => Error::UnknownTopic(t.clone()),
            Error::UnsupportedVersion { broker, api, ours } => Error::UnsupportedVersion {
                broker: broker.clone(),
                api,
                ours: ours.clone(),
            },
            Error::NoBrokerAvailable(s) => Error::NoBrokerAvailable(s.clone()),
            Error::Config(s) => Error::Config(s.clone()),
            Error::Tls(s) => Error::Tls(s.clone()),
            Error::Sasl(s) => Error::Sasl(s.clone()),
            Error::Closed(s) => Error::Closed(s),
            Error::ThreadPanicked {
                handle,
                thread,
                detail,
            } => Error::ThreadPanicked {
                handle,
                thread,
                detail: detail.clone(),
            },
            Error::Transaction(e) => Error::Transaction(e.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stays_small() {
        assert!(
            std::mem::size_of::<Error>() <= 64,
            "{}",
            std::mem::size_of::<Error>()
        );
    }

    #[test]
    fn a_thread_panic_names_the_thread_and_says_what_to_do() {
        let e = Error::thread_panicked("producer", "kafka-sync-sender", "boom");
        let text = e.to_string();
        assert!(
            text.contains("kafka-sync-sender") && text.contains("boom"),
            "{text}"
        );
        assert!(text.contains("create a new one"), "{text}");
        assert!(!e.is_retriable());
        assert!(matches!(
            e.clone(),
            Error::ThreadPanicked {
                handle: "producer",
                ..
            }
        ));
    }

    #[test]
    fn broker_errors_say_what_and_where() {
        let e = Error::broker(ErrorCode::TopicAlreadyExists, None, "CreateTopics `events`");
        let text = e.to_string();
        assert!(text.contains("CreateTopics `events`"), "{text}");
        assert!(text.contains("TOPIC_ALREADY_EXISTS"), "{text}");
        assert_eq!(e.code(), Some(ErrorCode::TopicAlreadyExists));
        assert!(!e.is_retriable());
    }
}
