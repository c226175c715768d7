//! The transactional producer on librdkafka's mock cluster
//! (`testkit::MockCluster`, 3 brokers): every transaction ends with its
//! marker in each partition it wrote to, and records still queued at an
//! abort never reach the log; the transaction coordinator moves, or its
//! broker goes down, mid-transaction, and the transaction still commits or
//! aborts as a whole; coordinator and partition errors injected into
//! InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit,
//! EndTxn and Produce are retried, make the transaction abortable, or the
//! producer fatal, as the Java client classifies them.
//!
//! The mock does not fence: a second InitProducerId for the same
//! transactional id gets a *new* producer id, and the first producer's
//! records and EndTxn are still accepted. Fencing by a second producer is
//! tested on tansu (`tests/transactions.rs`); the fatal errors it causes
//! are injected here.
//!
//! The mock keeps the records of aborted transactions and lists no aborted
//! transactions in Fetch answers (librdkafka's own read_committed consumer
//! reads confluent-kafka's aborted records there too,
//! `tests/transactions_interop.rs`), so no reader can drop them: the tests
//! read the log with its markers (`support::txn_log`) and compute what a
//! read_committed reader sees from them. The consumer's own filtering of
//! aborted records is tested against the fake cluster
//! (`tests/simple_consumer_cluster.rs`).
#![cfg(feature = "testkit")]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafka_sync::producer::{ProducerConfig, Record};
use kafka_sync::protocol::records::ControlRecordType;
use kafka_sync::testkit::{unique_name, CoordinatorKind, MockCluster};
use kafka_sync::{
    ApiKey, ConsumerGroupMetadata, Error, ErrorCode, IsolationLevel, KafkaClient, Producer,
    SimpleConsumerConfig, TopicPartition, TransactionErrorKind, TransactionState,
};
use support::mock::{self, read_back_with};
use support::txn::{assert_kind, assert_transaction_timeout, delivered, delivery_reports};
use support::txn_log::{committed_values, log, markers, values, Entry};
use support::{DEADLINE, SHORT};

/// A 3-broker mock (`support::mock::cluster`) and a client of it (`MOCK_TEST_LOG` logs to stderr).
fn cluster_and_client() -> (MockCluster, KafkaClient) {
    let cluster = mock::cluster();
    support::log_to_stderr_if("MOCK_TEST_LOG");
    let client = mock::client(cluster.bootstrap());
    (cluster, client)
}

/// A topic with `partitions` partitions led by brokers 1, 2, 3, 1, …
fn topic(cluster: &MockCluster, prefix: &str, partitions: i32) -> String {
    let name = unique_name(prefix);
    cluster.create_topic(&name, partitions, 3).unwrap();
    for p in 0..partitions {
        cluster.set_leader(&name, p, p % 3 + 1).unwrap();
    }
    name
}

/// A transactional producer whose transaction coordinator is `broker`.
fn producer_on(cluster: &MockCluster, client: &KafkaClient, broker: i32) -> (Producer, String) {
    let id = unique_name("mock-tx");
    cluster
        .set_coordinator(CoordinatorKind::Transaction, &id, broker)
        .unwrap();
    let producer = client
        .get_producer(
            ProducerConfig::default()
                .transactional_id(&id)
                .delivery_reports(true)
                .retry_backoff(Duration::from_millis(20), Duration::from_millis(200)),
        )
        .unwrap();
    (producer, id)
}

fn read_committed(
    client: &KafkaClient,
    topic: &str,
    want: &BTreeMap<i32, Vec<String>>,
) -> BTreeMap<i32, Vec<String>> {
    read_back_with(
        client,
        topic,
        want,
        mock_reader().isolation_level(IsolationLevel::ReadCommitted),
    )
}

/// A consumer config for the mock: it writes transaction markers with a
/// zero CRC (`stored 0x00000000`), which librdkafka's own consumer never
/// sees (`check.crcs` is off there by default), so CRCs are not checked.
fn mock_reader() -> SimpleConsumerConfig {
    SimpleConsumerConfig::default().check_crcs(false)
}

/// Sends `values` round robin over `partitions` partitions; returns what
/// each partition got.
fn send_all(
    producer: &Producer,
    topic: &str,
    partitions: i32,
    values: &[String],
) -> BTreeMap<i32, Vec<String>> {
    let mut sent: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for (i, v) in values.iter().enumerate() {
        let p = i as i32 % partitions;
        producer
            .send(topic, Record::new(v.clone()).partition(p))
            .unwrap();
        sent.entry(p).or_default().push(v.clone());
    }
    sent
}

fn named(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

fn merge(into: &mut BTreeMap<i32, Vec<String>>, more: BTreeMap<i32, Vec<String>>) {
    for (p, values) in more {
        into.entry(p).or_default().extend(values);
    }
}

#[test]
fn every_transaction_ends_with_its_marker_in_every_partition_it_wrote_to() {
    let (cluster, client) = cluster_and_client();
    let topic = topic(&cluster, "mock-tx-markers", 3);
    let (producer, _) = producer_on(&cluster, &client, 2);
    producer.init_transactions(DEADLINE).unwrap();
    let mut committed = BTreeMap::new();
    for round in 0..4 {
        producer.begin_transaction().unwrap();
        let sent = send_all(&producer, &topic, 3, &named(&format!("r{round}"), 9));
        // Written before the end, so that aborted records are in the log.
        producer.flush(DEADLINE).unwrap();
        if round % 2 == 0 {
            producer.commit_transaction(DEADLINE).unwrap();
            merge(&mut committed, sent);
        } else {
            producer.abort_transaction(DEADLINE).unwrap();
        }
    }
    let reports = delivery_reports(&producer, 36);
    assert_eq!(delivered(&reports), 18);
    for r in reports.iter().filter(|r| !r.is_ok()) {
        assert_eq!(
            r.error().and_then(Error::transaction_kind),
            Some(TransactionErrorKind::Aborted)
        );
    }
    for (partition, want) in &committed {
        let entries = log(&client, &topic, *partition, 16);
        assert_eq!(
            markers(&entries),
            [
                ControlRecordType::Commit,
                ControlRecordType::Abort,
                ControlRecordType::Commit,
                ControlRecordType::Abort
            ],
            "{entries:?}"
        );
        // What a read_committed reader of a broker that lists aborted
        // transactions sees (the mock lists none).
        assert_eq!(&committed_values(&entries), want, "{entries:?}");
    }
}

#[test]
fn records_still_queued_when_a_transaction_aborts_are_never_written() {
    let (cluster, client) = cluster_and_client();
    let topic = topic(&cluster, "mock-tx-unsent", 2);
    let id = unique_name("mock-tx");
    let producer = client
        .get_producer(
            ProducerConfig::default()
                .transactional_id(&id)
                .delivery_reports(true)
                .linger(Duration::from_secs(30)),
        )
        .unwrap();
    producer.init_transactions(DEADLINE).unwrap();
    let mut committed = BTreeMap::new();
    for round in 0..4 {
        producer.begin_transaction().unwrap();
        let sent = send_all(&producer, &topic, 2, &named(&format!("q{round}"), 6));
        if round % 2 == 1 {
            producer.commit_transaction(DEADLINE).unwrap();
            merge(&mut committed, sent);
        } else {
            producer.abort_transaction(DEADLINE).unwrap();
        }
    }
    let reports = delivery_reports(&producer, 24);
    for r in &reports {
        let aborted =
            r.error().and_then(Error::transaction_kind) == Some(TransactionErrorKind::Aborted);
        assert_eq!(
            aborted,
            r.record.get_value().unwrap().starts_with(b"q0")
                || r.record.get_value().unwrap().starts_with(b"q2"),
            "{r:?}"
        );
    }
    // Only committed records reached the log, so every reader, ours with
    // read_committed included, sees exactly them, in order.
    assert_eq!(read_committed(&client, &topic, &committed), committed);
}

#[test]
fn the_transaction_coordinator_moving_mid_transaction_still_commits_it_whole() {
    let (cluster, client) = cluster_and_client();
    let topic = topic(&cluster, "mock-tx-move", 3);
    let (producer, id) = producer_on(&cluster, &client, 1);
    producer.init_transactions(DEADLINE).unwrap();
    let mut committed = BTreeMap::new();
    for round in 0..3 {
        producer.begin_transaction().unwrap();
        let mut sent = send_all(&producer, &topic, 2, &named(&format!("m{round}a"), 4));
        producer.flush(DEADLINE).unwrap();
        // The next partitions and the EndTxn go to a new coordinator,
        // which answers NOT_COORDINATOR at the old one.
        cluster
            .set_coordinator(CoordinatorKind::Transaction, &id, (round + 1) % 3 + 1)
            .unwrap();
        let later: Vec<String> = named(&format!("m{round}b"), 3);
        for v in &later {
            producer
                .send(&topic, Record::new(v.clone()).partition(2))
                .unwrap();
        }
        sent.entry(2).or_default().extend(later);
        producer.commit_transaction(DEADLINE).unwrap();
        merge(&mut committed, sent);
    }
    assert_eq!(read_committed(&client, &topic, &committed), committed);
}

#[test]
fn the_coordinator_broker_down_mid_commit_times_out_then_the_same_call_commits_everything() {
    let (cluster, client) = cluster_and_client();
    let topic = topic(&cluster, "mock-tx-down", 2);
    // Partitions led by brokers 1 and 2; the coordinator on 3.
    let (producer, _) = producer_on(&cluster, &client, 3);
    producer.init_transactions(DEADLINE).unwrap();
    producer.begin_transaction().unwrap();
    let sent = send_all(&producer, &topic, 2, &named("down", 10));
    producer.flush(DEADLINE).unwrap();
    cluster.broker_down(3).unwrap();
    let started = Instant::now();
    let e = producer
        .commit_transaction(Duration::from_secs(2))
        .unwrap_err();
    assert_transaction_timeout(&e);
    assert!(e.is_retriable());
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(producer.transaction_state(), TransactionState::Committing);
    // (The mock has no last stable offset: read_committed readers would
    // see the open transaction's records already, so nothing is read here.)
    let e = producer.abort_transaction(SHORT).unwrap_err();
    assert_kind(&e, TransactionErrorKind::InvalidState);
    cluster.broker_up(3).unwrap();
    producer.commit_transaction(DEADLINE).unwrap();
    assert_eq!(read_committed(&client, &topic, &sent), sent);
}

#[test]
fn the_coordinator_broker_down_mid_abort_still_aborts_everything() {
    let (cluster, client) = cluster_and_client();
    let topic = topic(&cluster, "mock-tx-down-abort", 2);
    let (producer, _) = producer_on(&cluster, &client, 3);
    producer.init_transactions(DEADLINE).unwrap();
    producer.begin_transaction().unwrap();
    send_all(&producer, &topic, 2, &named("gone", 6));
    producer.flush(DEADLINE).unwrap();
    cluster.broker_down(3).unwrap();
    let e = producer
        .abort_transaction(Duration::from_secs(2))
        .unwrap_err();
    assert!(e.is_retriable(), "{e}");
    cluster.broker_up(3).unwrap();
    producer.abort_transaction(DEADLINE).unwrap();
    producer.begin_transaction().unwrap();
    let sent = send_all(&producer, &topic, 2, &named("after", 4));
    producer.commit_transaction(DEADLINE).unwrap();
    let reports = delivery_reports(&producer, 10);
    assert_eq!(delivered(&reports), 4);
    // The mock keeps aborted records (see the module docs); the log shows
    // the transaction ended whole: every partition holds its records, an
    // abort marker, the next transaction's records and a commit marker.
    for partition in 0..2 {
        let entries = log(&client, &topic, partition, 7);
        assert_eq!(
            markers(&entries),
            [ControlRecordType::Abort, ControlRecordType::Commit],
            "{entries:?}"
        );
        let after: Vec<String> = values(&entries)
            .into_iter()
            .filter(|v| v.starts_with("after"))
            .collect();
        assert_eq!(after, sent[&partition], "{entries:?}");
        assert!(
            matches!(entries[3], Entry::Marker(ControlRecordType::Abort, _)),
            "{entries:?}"
        );
    }
}

#[test]
fn retriable_coordinator_errors_are_retried_by_every_transaction_call() {
    let (cluster, client) = cluster_and_client();
    let topic = topic(&cluster, "mock-tx-retry", 2);
    let group = unique_name("mock-tx-group");
    let (producer, _) = producer_on(&cluster, &client, 2);
    let coordinator_errors = [
        ErrorCode::CoordinatorLoadInProgress,
        ErrorCode::NotCoordinator,
        ErrorCode::CoordinatorNotAvailable,
        ErrorCode::ConcurrentTransactions,
    ];
    cluster
        .request_errors(ApiKey::InitProducerId, &coordinator_errors)
        .unwrap();
    producer.init_transactions(DEADLINE).unwrap();
    for api in [
        ApiKey::AddPartitionsToTxn,
        ApiKey::AddOffsetsToTxn,
        ApiKey::TxnOffsetCommit,
        ApiKey::EndTxn,
    ] {
        cluster.request_errors(api, &coordinator_errors).unwrap();
    }
    producer.begin_transaction().unwrap();
    let sent = send_all(&producer, &topic, 2, &named("retried", 6));
    producer
        .send_offsets_to_transaction(
            &BTreeMap::from([(TopicPartition::new(&topic, 0), 3)]),
            &ConsumerGroupMetadata::new(&group),
            DEADLINE,
        )
        .unwrap();
    producer.commit_transaction(DEADLINE).unwrap();
    assert_eq!(read_committed(&client, &topic, &sent), sent);
    // (The mock answers TxnOffsetCommit without storing the offsets, so
    // what the group committed is checked on tansu, in
    // tests/transactions.rs.)
}

#[test]
fn a_refused_partition_makes_the_transaction_abortable_and_the_next_one_commits() {
    let (cluster, client) = cluster_and_client();
    let topic = topic(&cluster, "mock-tx-refused", 1);
    let (producer, _) = producer_on(&cluster, &client, 1);
    producer.init_transactions(DEADLINE).unwrap();
    cluster
        .request_errors(
            ApiKey::AddPartitionsToTxn,
            &[ErrorCode::TopicAuthorizationFailed],
        )
        .unwrap();
    producer.begin_transaction().unwrap();
    producer.send(&topic, Record::new("refused")).unwrap();
    let e = producer.commit_transaction(DEADLINE).unwrap_err();
    assert_kind(&e, TransactionErrorKind::Abortable);
    assert_eq!(
        producer.transaction_state(),
        TransactionState::AbortableError
    );
    let e = producer.send(&topic, Record::new("late")).unwrap_err();
    assert_kind(&e, TransactionErrorKind::Abortable);
    producer.abort_transaction(DEADLINE).unwrap();
    let failed = delivery_reports(&producer, 1);
    let cause = failed[0].error().expect("the refused record failed");
    assert_kind(cause, TransactionErrorKind::Abortable);

    producer.begin_transaction().unwrap();
    producer.send(&topic, Record::new("accepted")).unwrap();
    producer.commit_transaction(DEADLINE).unwrap();
    let want = BTreeMap::from([(0, vec!["accepted".to_owned()])]);
    assert_eq!(read_committed(&client, &topic, &want), want);
}

#[test]
fn a_fenced_answer_to_end_txn_or_produce_is_fatal() {
    let (cluster, client) = cluster_and_client();
    let topic = topic(&cluster, "mock-tx-fatal", 1);
    for (api, code) in [
        (ApiKey::EndTxn, ErrorCode::ProducerFenced),
        (ApiKey::Produce, ErrorCode::InvalidProducerEpoch),
        (
            ApiKey::AddPartitionsToTxn,
            ErrorCode::TransactionalIdAuthorizationFailed,
        ),
    ] {
        let (producer, _) = producer_on(&cluster, &client, 1);
        producer.init_transactions(DEADLINE).unwrap();
        producer.begin_transaction().unwrap();
        cluster.request_errors(api, &[code]).unwrap();
        producer.send(&topic, Record::new("v")).unwrap();
        let e = producer.commit_transaction(DEADLINE).unwrap_err();
        assert_eq!(
            e.transaction_kind(),
            Some(TransactionErrorKind::Fatal),
            "{api:?} {code:?}: {e}"
        );
        let later = producer.send(&topic, Record::new("after")).unwrap_err();
        assert_kind(&later, TransactionErrorKind::Fatal);
        cluster.clear_request_errors(api).unwrap();
    }
}

#[test]
fn a_stale_generation_in_txn_offset_commit_is_abortable() {
    let (cluster, client) = cluster_and_client();
    let topic = topic(&cluster, "mock-tx-gen", 1);
    let (producer, _) = producer_on(&cluster, &client, 1);
    producer.init_transactions(DEADLINE).unwrap();
    producer.begin_transaction().unwrap();
    cluster
        .request_errors(ApiKey::TxnOffsetCommit, &[ErrorCode::IllegalGeneration])
        .unwrap();
    let e = producer
        .send_offsets_to_transaction(
            &BTreeMap::from([(TopicPartition::new(&topic, 0), 1)]),
            &ConsumerGroupMetadata::member(unique_name("g"), 3, "member-1", None),
            DEADLINE,
        )
        .unwrap_err();
    assert_kind(&e, TransactionErrorKind::Abortable);
    producer.abort_transaction(DEADLINE).unwrap();
    assert_eq!(producer.transaction_state(), TransactionState::Ready);
}

#[test]
fn init_transactions_with_every_broker_down_times_out_and_works_once_they_are_back() {
    let (cluster, client) = cluster_and_client();
    let (producer, _) = producer_on(&cluster, &client, 2);
    cluster.broker_down(2).unwrap();
    let started = Instant::now();
    let e = producer
        .init_transactions(Duration::from_secs(2))
        .unwrap_err();
    assert_transaction_timeout(&e);
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        producer.transaction_state(),
        TransactionState::Uninitialized
    );
    cluster.broker_up(2).unwrap();
    producer.init_transactions(DEADLINE).unwrap();
    assert_eq!(producer.transaction_state(), TransactionState::Ready);
}

#[test]
fn a_sequence_error_aborts_the_transaction_and_the_epoch_bump_lets_the_next_one_commit() {
    let (cluster, client) = cluster_and_client();
    let topic = topic(&cluster, "mock-tx-bump", 1);
    let (producer, _) = producer_on(&cluster, &client, 2);
    producer.init_transactions(DEADLINE).unwrap();
    producer.begin_transaction().unwrap();
    producer.send(&topic, Record::new("first")).unwrap();
    producer.flush(DEADLINE).unwrap();
    cluster
        .request_errors(ApiKey::Produce, &[ErrorCode::OutOfOrderSequenceNumber])
        .unwrap();
    producer.send(&topic, Record::new("refused")).unwrap();
    let e = producer.commit_transaction(DEADLINE).unwrap_err();
    assert_kind(&e, TransactionErrorKind::Abortable);
    // The abort bumps the epoch (InitProducerId with the current id and
    // epoch): the next transaction's sequences start at 0 again.
    producer.abort_transaction(DEADLINE).unwrap();
    for round in 0..2 {
        producer.begin_transaction().unwrap();
        producer
            .send(&topic, Record::new(format!("after-{round}")))
            .unwrap();
        producer.commit_transaction(DEADLINE).unwrap();
    }
    let entries = log(&client, &topic, 0, 6);
    assert_eq!(
        markers(&entries),
        [
            ControlRecordType::Abort,
            ControlRecordType::Commit,
            ControlRecordType::Commit
        ],
        "{entries:?}"
    );
    assert_eq!(committed_values(&entries), ["after-0", "after-1"]);
    let reports = delivery_reports(&producer, 4);
    assert_eq!(delivered(&reports), 2);
}

#[test]
fn a_slow_add_partitions_holds_back_only_the_new_partition() {
    let (cluster, client) = cluster_and_client();
    let topic = topic(&cluster, "mock-tx-slow-add", 2);
    let id = unique_name("mock-tx");
    cluster
        .set_coordinator(CoordinatorKind::Transaction, &id, 3)
        .unwrap();
    let producer = client
        .topic(&topic)
        .unwrap()
        .get_sync_producer(ProducerConfig::default().transactional_id(&id))
        .unwrap();
    producer.producer().init_transactions(DEADLINE).unwrap();
    producer.producer().begin_transaction().unwrap();
    producer.send(Record::new("p0-a").partition(0)).unwrap();
    // The next AddPartitionsToTxn (for partition 1) is answered after 3 s.
    cluster
        .broker_request_errors(
            3,
            ApiKey::AddPartitionsToTxn,
            &[(ErrorCode::None, Duration::from_secs(3))],
        )
        .unwrap();
    std::thread::scope(|s| {
        let slow = s.spawn(|| producer.send(Record::new("p1-a").partition(1)));
        std::thread::sleep(Duration::from_millis(200));
        // Partition 0 is in the transaction already: its record is written
        // while partition 1 waits for the coordinator.
        producer.send(Record::new("p0-b").partition(0)).unwrap();
        assert!(
            !slow.is_finished(),
            "partition 1 waited for its AddPartitionsToTxn"
        );
        slow.join().unwrap().unwrap();
    });
    producer.producer().commit_transaction(DEADLINE).unwrap();
    let want = BTreeMap::from([
        (0, vec!["p0-a".to_owned(), "p0-b".to_owned()]),
        (1, vec!["p1-a".to_owned()]),
    ]);
    assert_eq!(read_committed(&client, &topic, &want), want);
}
