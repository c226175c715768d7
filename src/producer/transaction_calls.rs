//! The transactional producer's requests to its coordinators, each retried
//! until it succeeds, fails for good, or its deadline passes.
//!
//! Coordinator codes are classified with the shared
//! [`CoordinatorStatus::of`](crate::cluster::CoordinatorStatus::of):
//! NOT_COORDINATOR and COORDINATOR_NOT_AVAILABLE forget the coordinator and
//! look it up again (FindCoordinator), COORDINATOR_LOAD_IN_PROGRESS retries
//! the same one; CONCURRENT_TRANSACTIONS (the coordinator is still ending the
//! previous transaction) and other retriable codes and transport errors are
//! retried after a backoff. Nothing here holds a lock.
//!
//! # References
//! Kafka protocol guide: InitProducerId, AddPartitionsToTxn,
//! AddOffsetsToTxn, TxnOffsetCommit, EndTxn; the Java producer's
//! `TransactionManager` handlers.

use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use log::debug;

use super::retry::backoff;
use super::transaction::Transactions;
use crate::cluster::GroupCoordinator;
use crate::error::{Error, Result, TimeoutKind};
use crate::net::api_name;
use crate::net::PendingResponse;
use crate::protocol::api::{
    AddPartitionsToTxnRequest, InitProducerIdRequest, END_TXN_BEFORE_TRANSACTIONS_V2,
    PRODUCE_BEFORE_TRANSACTIONS_V2, TRANSACTION_VERSION_FEATURE,
};
use crate::protocol::{api_key, ErrorCode, Request};

/// Backoff bounds between attempts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

/// Sends `request` to `coordinator` until it answers without error
/// (`code_of` reads the answer's code), fails with a code that is neither a
/// coordinator move nor retriable, or `deadline` passes
/// ([`TimeoutKind::Transaction`]).
pub(crate) fn call<R: Request>(
    coordinator: &GroupCoordinator,
    retry: Backoff,
    deadline: Instant,
    call: &str,
    request: &R,
    code_of: impl Fn(&R::Response) -> (ErrorCode, Option<String>),
) -> Result<R::Response> {
    call_at_most(
        coordinator,
        R::MAX_VERSION,
        retry,
        deadline,
        call,
        request,
        code_of,
    )
}

/// [`call`] with the request's version capped at `cap` (a transactions-v1
/// producer's EndTxn and TxnOffsetCommit stay below transactions v2).
pub(crate) fn call_at_most<R: Request>(
    coordinator: &GroupCoordinator,
    cap: i16,
    retry: Backoff,
    deadline: Instant,
    call: &str,
    request: &R,
    code_of: impl Fn(&R::Response) -> (ErrorCode, Option<String>),
) -> Result<R::Response> {
    let api = api_name(R::API_KEY);
    let mut attempt = 0u32;
    let mut last: Option<Error> = None;
    loop {
        if Instant::now() >= deadline {
            let why = match &last {
                Some(e) => format!("{api} did not succeed in time; last error: {e}"),
                None => format!("{api} did not succeed in time"),
            };
            return Err(Transactions::timeout(call, why));
        }
        match once(coordinator, deadline, request, cap) {
            Ok(response) => {
                let (code, message) = code_of(&response);
                if code == ErrorCode::None {
                    return Ok(response);
                }
                let e = Error::broker(
                    code,
                    message,
                    format!(
                        "{call}: {api} to the coordinator of `{}`",
                        coordinator.group_id()
                    ),
                );
                if coordinator.observe(code).is_none() && !code.is_retriable() {
                    return Err(e);
                }
                debug!("{e}; retrying");
                last = Some(e);
            }
            Err(e) if e.is_retriable() => {
                // The coordinator may be down: look it up again.
                coordinator.forget();
                debug!("{call}: {api} failed ({e}); retrying");
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
        attempt += 1;
        let now = Instant::now();
        let wait =
            backoff(retry.initial, retry.max, attempt).min(deadline.saturating_duration_since(now));
        std::thread::sleep(wait);
    }
}

/// One attempt: the coordinator's connection, the request, its answer,
/// bounded by `deadline` as well as by the request timeout.
fn once<R: Request>(
    coordinator: &GroupCoordinator,
    deadline: Instant,
    request: &R,
    cap: i16,
) -> Result<R::Response> {
    let conn = coordinator.connection(deadline)?;
    let pending = conn.send_at_most(request, cap)?;
    if deadline >= pending.deadline() {
        return pending.wait();
    }
    match pending.receiver().recv_deadline(deadline) {
        Ok(frame) => pending.decode(frame),
        Err(RecvTimeoutError::Timeout) => Err(Error::timeout(
            TimeoutKind::Transaction,
            format!("waiting for {} from {}", api_name(R::API_KEY), conn.addr()),
        )),
        Err(RecvTimeoutError::Disconnected) => Err(Error::io(
            format!("{} to {}", api_name(R::API_KEY), conn.addr()),
            std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "the connection closed before the answer came",
            ),
        )),
    }
}

/// Whether the transaction coordinator offers transactions v2 (KIP-890),
/// as the Java producer decides it: the cluster finalized
/// `transaction.version` 2 or later, and the coordinator speaks Produce v12
/// and EndTxn v5. `None` when no connection to the coordinator opened by
/// `deadline` (the caller keeps its last answer).
pub(crate) fn offers_v2(coordinator: &GroupCoordinator, deadline: Instant) -> Option<bool> {
    let conn = coordinator.connection(deadline).ok()?;
    let level = conn.finalized_feature(TRANSACTION_VERSION_FEATURE);
    let speaks = |api: i16, version: i16| {
        conn.api_range(api)
            .is_some_and(|r| r.max_version >= version && r.min_version <= version)
    };
    Some(
        level.is_some_and(|l| l >= 2)
            && speaks(api_key::PRODUCE, PRODUCE_BEFORE_TRANSACTIONS_V2 + 1)
            && speaks(api_key::END_TXN, END_TXN_BEFORE_TRANSACTIONS_V2 + 1),
    )
}

/// InitProducerId for the transactional id: a fresh epoch (fencing any
/// older producer with the id), or, with `bump` and a coordinator that
/// speaks v3+ (KIP-360), the next epoch of the current producer id.
pub(crate) fn init_producer_id(
    coordinator: &GroupCoordinator,
    txn: &Transactions,
    retry: Backoff,
    deadline: Instant,
    call_name: &str,
    bump: Option<(i64, i16)>,
) -> Result<(i64, i16)> {
    let mut request = InitProducerIdRequest {
        transactional_id: Some(txn.id.clone()),
        transaction_timeout_ms: txn.timeout_ms,
        ..InitProducerIdRequest::default()
    };
    if let Some((id, epoch)) = bump {
        let speaks_bump = coordinator
            .connection(deadline)
            .ok()
            .and_then(|c| c.api_range(api_key::INIT_PRODUCER_ID))
            .is_some_and(|r| r.max_version >= 3);
        if speaks_bump {
            request.producer_id = id;
            request.producer_epoch = epoch;
        }
    }
    let response = call(coordinator, retry, deadline, call_name, &request, |r| {
        (r.error_code, None)
    })?;
    Ok((response.producer_id, response.producer_epoch))
}

/// Sends one AddPartitionsToTxn for the sender thread (which awaits the
/// answer with its Produce answers and schedules its own retries): waits
/// until `connect_by` for a connection to the coordinator, after looking it
/// up if it is not known (one FindCoordinator round trip).
pub(crate) fn send_add_partitions(
    coordinator: &GroupCoordinator,
    connect_by: Instant,
    request: &AddPartitionsToTxnRequest,
) -> Result<PendingResponse<AddPartitionsToTxnRequest>> {
    let conn = coordinator.connection(connect_by)?;
    conn.send(request)
}

/// The first error code among a response's per-partition `codes` (the
/// worst one: an error other than OPERATION_NOT_ATTEMPTED first).
pub(crate) fn first_error(codes: impl Iterator<Item = ErrorCode>) -> ErrorCode {
    let mut first = ErrorCode::None;
    for code in codes {
        if code == ErrorCode::None {
            continue;
        }
        if first == ErrorCode::None || first == ErrorCode::OperationNotAttempted {
            first = code;
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_real_error_wins_over_operation_not_attempted() {
        let codes = [
            ErrorCode::None,
            ErrorCode::OperationNotAttempted,
            ErrorCode::TopicAuthorizationFailed,
        ];
        assert_eq!(
            first_error(codes.into_iter()),
            ErrorCode::TopicAuthorizationFailed
        );
        assert_eq!(first_error([ErrorCode::None].into_iter()), ErrorCode::None);
    }
}
