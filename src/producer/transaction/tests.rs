//! Unit tests of the transaction state machine.

use super::*;

fn txn() -> Transactions {
    Transactions::new("t".into(), 60_000)
}

fn kind(e: &Error) -> Option<TransactionErrorKind> {
    e.transaction_kind()
}

#[test]
fn calls_out_of_order_name_the_state() {
    let t = txn();
    let e = t.begin().unwrap_err();
    assert_eq!(kind(&e), Some(TransactionErrorKind::InvalidState));
    assert!(e.to_string().contains("Uninitialized"), "{e}");
    t.set_producer((7, 0));
    assert_eq!(t.state(), TransactionState::Ready);
    assert!(t.begin_send().is_err(), "send outside a transaction");
    assert!(t.start_commit().is_err(), "commit without begin");
    assert!(t.start_abort().is_err(), "abort without begin");
    t.begin().unwrap();
    let e = t.begin().unwrap_err();
    assert!(e.to_string().contains("InTransaction"), "{e}");
    assert!(t.check_init().is_err(), "init twice");
    drop(t.begin_send().unwrap());
    t.start_commit().unwrap();
    assert!(t.start_abort().is_err(), "abort while committing");
    t.start_commit().unwrap();
    t.end(true);
    assert_eq!(t.state(), TransactionState::Ready);
}

#[test]
fn an_abortable_failure_allows_only_abort() {
    let t = txn();
    t.set_producer((7, 0));
    t.begin().unwrap();
    let cause = Error::broker(ErrorCode::TopicAuthorizationFailed, None, "Produce");
    assert_eq!(kind(&t.fail(&cause)), Some(TransactionErrorKind::Abortable));
    assert_eq!(t.state(), TransactionState::AbortableError);
    for e in [t.begin_send().err(), t.start_commit().err()] {
        assert_eq!(
            e.as_ref().and_then(kind),
            Some(TransactionErrorKind::Abortable)
        );
    }
    t.mark_bump();
    t.start_abort().unwrap();
    assert!(t.needs_bump());
    t.end(false);
    t.begin().unwrap();
}

#[test]
fn a_fatal_error_sticks_to_every_call() {
    let t = txn();
    t.set_producer((7, 0));
    t.begin().unwrap();
    let fenced = Error::broker(ErrorCode::ProducerFenced, None, "EndTxn");
    assert_eq!(kind(&t.fail(&fenced)), Some(TransactionErrorKind::Fatal));
    assert!(t.fatal().is_some());
    for e in [
        t.begin_send().err(),
        t.begin().err(),
        t.start_commit().err(),
        t.start_abort().err(),
        t.check_init().err(),
    ] {
        let e = e.expect("refused");
        assert_eq!(kind(&e), Some(TransactionErrorKind::Fatal), "{e}");
        assert!(e.to_string().contains("fenced"), "{e}");
    }
}

#[test]
fn an_aborted_transaction_reports_its_written_records_aborted() {
    let t = txn();
    t.set_producer((7, 0));
    t.begin().unwrap();
    let report = |result| DeliveryReport {
        topic: Arc::from("x"),
        partition: 0,
        record: super::super::Record::new(b"v"),
        result,
    };
    t.hold(report(Ok(super::super::RecordMetadata {
        topic: Arc::from("x"),
        partition: 0,
        offset: 3,
        timestamp: 1,
    })));
    t.start_abort().unwrap();
    t.end(false);
    let released = t.take_released(false);
    assert_eq!(released.len(), 1);
    let e = released[0].result.as_ref().unwrap_err();
    assert_eq!(kind(e), Some(TransactionErrorKind::Aborted));
}

#[test]
fn the_protocol_is_fixed_per_transaction_at_begin() {
    let t = txn();
    t.set_producer((7, 0));
    assert!(
        !t.v2() && !t.next_v2(),
        "transactions v1 until told otherwise"
    );
    t.set_next_v2(true);
    assert!(!t.v2(), "nothing open yet");
    t.begin().unwrap();
    assert!(t.v2());
    // The coordinator stops offering it mid-transaction: the open one keeps v2.
    t.set_next_v2(false);
    assert!(t.v2());
    t.start_commit().unwrap();
    t.end(true);
    t.begin().unwrap();
    assert!(!t.v2(), "the next transaction runs v1");
}
