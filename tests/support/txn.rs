//! What the transactional-producer tests (`tests/transactions*.rs`) share
//! beside the log itself (`txn_log`): delivery reports collected, and the
//! checks of what kind of error a transaction call gave.

use kafka_sync::producer::DeliveryReport;
use kafka_sync::{Error, Producer, TimeoutKind, TransactionErrorKind};

use super::DEADLINE;

/// The next `n` delivery reports of `producer` (each within [`DEADLINE`]).
pub fn delivery_reports(producer: &Producer, n: usize) -> Vec<DeliveryReport> {
    (0..n)
        .map(|i| {
            producer
                .delivery_reports()
                .recv_timeout(DEADLINE)
                .unwrap_or_else(|_| panic!("report {i} of {n} arrives"))
        })
        .collect()
}

/// How many of `reports` say delivered.
pub fn delivered(reports: &[DeliveryReport]) -> usize {
    reports.iter().filter(|r| r.is_ok()).count()
}

/// `e` is a transaction error of kind `want`.
#[track_caller]
pub fn assert_kind(e: &Error, want: TransactionErrorKind) {
    assert_eq!(e.transaction_kind(), Some(want), "{e}");
}

/// `e` is a transaction call that ran out of its time.
#[track_caller]
pub fn assert_transaction_timeout(e: &Error) {
    assert!(
        matches!(
            e,
            Error::Timeout {
                kind: TimeoutKind::Transaction,
                ..
            }
        ),
        "{e}"
    );
}
