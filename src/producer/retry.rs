//! What the sender does with a failure: which broker answers are retried,
//! which reset the idempotent producer's state, which are final, and how long
//! to back off before the next attempt.
//!
//! # References
//! Kafka `Errors.java` (retriable exceptions); the Java producer's
//! `Sender.completeBatch` and `TransactionManager` (KIP-360 epoch bumps).

use std::time::Duration;

use super::accumulator::Batch;
use crate::error::{Error, TimeoutKind};
use crate::protocol::api::PartitionProduceResponse;
use crate::protocol::ErrorCode;

/// How a partition's answer is handled.
pub(crate) enum Outcome {
    Written {
        base_offset: i64,
        log_append_time: i64,
    },
    Retry(Error),
    /// The producer id or epoch is no longer valid: get a new epoch, resend.
    ResetProducer(Error),
    Fail(Error),
}

/// What to do with a batch, given its partition's answer.
pub(crate) fn classify(batch: &Batch, p: &PartitionProduceResponse, idempotent: bool) -> Outcome {
    let context = || format!("Produce to `{}` partition {}", batch.topic, batch.partition);
    match p.error_code {
        ErrorCode::None => Outcome::Written {
            base_offset: p.base_offset,
            log_append_time: p.log_append_time_ms,
        },
        // An idempotent retry of a batch the broker already has.
        ErrorCode::DuplicateSequenceNumber => Outcome::Written {
            base_offset: -1,
            log_append_time: -1,
        },
        code @ (ErrorCode::OutOfOrderSequenceNumber
        | ErrorCode::UnknownProducerId
        | ErrorCode::InvalidProducerEpoch)
            if idempotent =>
        {
            Outcome::ResetProducer(Error::broker(code, p.error_message.clone(), context()))
        }
        code if code.is_retriable() => {
            Outcome::Retry(Error::broker(code, p.error_message.clone(), context()))
        }
        code => Outcome::Fail(Error::broker(code, p.error_message.clone(), context())),
    }
}

/// Errors about the idempotent producer's id, epoch or sequence numbers.
pub(crate) fn is_producer_state_error(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::OutOfOrderSequenceNumber
            | ErrorCode::UnknownProducerId
            | ErrorCode::InvalidProducerEpoch
    )
}

pub(crate) fn delivery_timeout_error(batch: &Batch, timeout: Duration, cause: &Error) -> Error {
    Error::timeout(
        TimeoutKind::Delivery,
        format!(
            "delivering {} records to `{}` partition {}: {timeout:?} passed after {} attempts; last error: {cause}",
            batch.record_count, batch.topic, batch.partition, batch.attempts
        ),
    )
}

/// Exponential backoff with ±20 % jitter: `initial * 2^(attempt-1)`, capped.
pub(crate) fn backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    crate::net::Backoff {
        initial,
        max: max.max(initial),
    }
    .delay(attempt)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::protocol::records::BatchOptions;

    fn outcome(code: ErrorCode, idempotent: bool) -> Outcome {
        let batch = Batch::new(&Arc::from("t"), 0, BatchOptions::default(), 0, None);
        let answer = PartitionProduceResponse {
            error_code: code,
            base_offset: 42,
            ..PartitionProduceResponse::default()
        };
        classify(&batch, &answer, idempotent)
    }

    #[test]
    fn answers_are_written_retried_reset_or_final() {
        assert!(matches!(
            outcome(ErrorCode::None, true),
            Outcome::Written {
                base_offset: 42,
                ..
            }
        ));
        assert!(matches!(
            outcome(ErrorCode::DuplicateSequenceNumber, true),
            Outcome::Written {
                base_offset: -1,
                ..
            }
        ));
        assert!(matches!(
            outcome(ErrorCode::NotLeaderOrFollower, false),
            Outcome::Retry(_)
        ));
        assert!(matches!(
            outcome(ErrorCode::RequestTimedOut, false),
            Outcome::Retry(_)
        ));
        assert!(matches!(
            outcome(ErrorCode::OutOfOrderSequenceNumber, true),
            Outcome::ResetProducer(_)
        ));
        assert!(matches!(
            outcome(ErrorCode::UnknownProducerId, true),
            Outcome::ResetProducer(_)
        ));
        assert!(matches!(
            outcome(ErrorCode::OutOfOrderSequenceNumber, false),
            Outcome::Fail(_)
        ));
        assert!(matches!(
            outcome(ErrorCode::MessageTooLarge, true),
            Outcome::Fail(_)
        ));
        assert!(matches!(
            outcome(ErrorCode::TopicAuthorizationFailed, true),
            Outcome::Fail(_)
        ));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let (initial, max) = (Duration::from_millis(100), Duration::from_secs(1));
        let first = backoff(initial, max, 1);
        assert!(first >= Duration::from_millis(80) && first <= Duration::from_millis(120));
        let third = backoff(initial, max, 3);
        assert!(third >= Duration::from_millis(320) && third <= Duration::from_millis(480));
        assert!(backoff(initial, max, 30) <= Duration::from_millis(1200));
    }
}
