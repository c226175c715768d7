//! The transactional producer against tansu (the testkit broker): init,
//! begin, send, send_offsets, commit and abort; what lands in the log
//! (transactional batches, commit and abort markers, read back with raw
//! Fetch requests, independent of the consumer); delivery reports of
//! aborted records; fencing by a second producer with the same id; calls
//! out of order.
//!
//! tansu lists no aborted transactions in Fetch answers, so what a
//! read_committed reader sees is checked on librdkafka's mock cluster
//! (`tests/transactions_mock.rs`) and with confluent-kafka
//! (`tests/transactions_interop.rs`); here the markers in the log show that
//! each transaction ended the way it was asked to.
#![cfg(feature = "testkit")]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_sync::producer::{DeliveryReport, ProducerConfig, Record};
use kafka_sync::protocol::records::ControlRecordType;
use kafka_sync::{
    ConsumerGroupMetadata, Error, KafkaClient, SimpleConsumerConfig, TopicPartition,
    TransactionErrorKind, TransactionState,
};
use support::txn::{assert_kind, assert_transaction_timeout, delivery_reports};
use support::txn_log::{log, markers, values, Entry};
use support::{client, new_topic, DEADLINE, SHORT};

fn transactional(id: &str) -> ProducerConfig {
    ProducerConfig::default()
        .transactional_id(id)
        .delivery_reports(true)
}

fn unique_id(prefix: &str) -> String {
    kafka_sync::testkit::unique_name(prefix)
}

#[test]
fn a_committed_transaction_writes_its_records_then_a_commit_marker_in_each_partition() {
    let client = client();
    let topic = new_topic(&client, "tx-commit", 2);
    let producer = client
        .get_producer(transactional(&unique_id("tx")))
        .unwrap();
    producer.init_transactions(DEADLINE).unwrap();
    assert_eq!(producer.transaction_state(), TransactionState::Ready);
    producer.begin_transaction().unwrap();
    for (partition, value) in [(0, "a0"), (1, "b0"), (0, "a1"), (1, "b1")] {
        producer
            .send(&topic, Record::new(value).partition(partition))
            .unwrap();
    }
    producer.commit_transaction(DEADLINE).unwrap();
    assert_eq!(producer.transaction_state(), TransactionState::Ready);
    let got = delivery_reports(&producer, 4);
    assert!(got.iter().all(DeliveryReport::is_ok), "{got:?}");
    for (partition, want) in [(0, ["a0", "a1"]), (1, ["b0", "b1"])] {
        let entries = log(&client, &topic, partition, 3);
        assert_eq!(values(&entries), want);
        assert_eq!(markers(&entries), [ControlRecordType::Commit]);
        assert!(
            entries[..2]
                .iter()
                .all(|e| matches!(e, Entry::Data { producer_id, .. } if *producer_id >= 0)),
            "transactional batches: {entries:?}"
        );
    }
}

#[test]
fn an_aborted_transaction_writes_an_abort_marker_and_reports_every_record_aborted() {
    let client = client();
    let topic = new_topic(&client, "tx-abort", 1);
    let producer = client
        .get_producer(transactional(&unique_id("tx")))
        .unwrap();
    producer.init_transactions(DEADLINE).unwrap();
    producer.begin_transaction().unwrap();
    producer.send(&topic, Record::new("doomed-0")).unwrap();
    producer.send(&topic, Record::new("doomed-1")).unwrap();
    // Written before the abort: their reports still say aborted.
    producer.flush(DEADLINE).unwrap();
    producer.send(&topic, Record::new("doomed-2")).unwrap();
    producer.abort_transaction(DEADLINE).unwrap();
    let got = delivery_reports(&producer, 3);
    for report in &got {
        let e = report
            .error()
            .expect("an aborted record is reported failed");
        assert_kind(e, TransactionErrorKind::Aborted);
    }
    // The next transaction goes on under the same producer.
    producer.begin_transaction().unwrap();
    producer.send(&topic, Record::new("kept")).unwrap();
    producer.commit_transaction(DEADLINE).unwrap();
    assert!(delivery_reports(&producer, 1)[0].is_ok());
    let entries = log(&client, &topic, 0, 4);
    let last = values(&entries).pop();
    assert_eq!(last.as_deref(), Some("kept"));
    let m = markers(&log(&client, &topic, 0, values(&entries).len() + 2));
    assert_eq!(m, [ControlRecordType::Abort, ControlRecordType::Commit]);
}

#[test]
fn transactions_without_records_need_no_round_trip_and_leave_nothing() {
    let client = client();
    let producer = client
        .get_producer(transactional(&unique_id("tx")))
        .unwrap();
    producer.init_transactions(DEADLINE).unwrap();
    for _ in 0..3 {
        producer.begin_transaction().unwrap();
        producer.commit_transaction(DEADLINE).unwrap();
        producer.begin_transaction().unwrap();
        producer.abort_transaction(DEADLINE).unwrap();
    }
    assert_eq!(producer.transaction_state(), TransactionState::Ready);
}

#[test]
fn calls_out_of_order_return_a_state_error_naming_the_state() {
    let client = client();
    let topic = new_topic(&client, "tx-order", 1);
    let producer = client
        .get_producer(transactional(&unique_id("tx")))
        .unwrap();
    let state_error = |r: kafka_sync::Result<()>, state: &str| {
        let e = r.expect_err("refused");
        assert_kind(&e, TransactionErrorKind::InvalidState);
        assert!(e.to_string().contains(state), "{e}");
    };
    state_error(producer.begin_transaction(), "Uninitialized");
    state_error(producer.send(&topic, Record::new("v")), "Uninitialized");
    producer.init_transactions(DEADLINE).unwrap();
    state_error(producer.init_transactions(DEADLINE), "Ready");
    state_error(producer.send(&topic, Record::new("v")), "Ready");
    state_error(producer.commit_transaction(DEADLINE), "Ready");
    state_error(producer.abort_transaction(DEADLINE), "Ready");
    state_error(
        producer.send_offsets_to_transaction(
            &BTreeMap::from([(TopicPartition::new(&topic, 0), 1)]),
            &ConsumerGroupMetadata::new("g"),
            DEADLINE,
        ),
        "Ready",
    );
    producer.begin_transaction().unwrap();
    state_error(producer.begin_transaction(), "InTransaction");
    producer.abort_transaction(DEADLINE).unwrap();
    // Nothing was sent outside a transaction.
    producer.begin_transaction().unwrap();
    producer.send(&topic, Record::new("only")).unwrap();
    producer.commit_transaction(DEADLINE).unwrap();
    assert_eq!(values(&log(&client, &topic, 0, 2)), ["only"]);
}

#[test]
fn a_producer_without_a_transactional_id_refuses_transaction_calls() {
    let client = client();
    let producer = client.get_producer(ProducerConfig::default()).unwrap();
    let e = producer.init_transactions(DEADLINE).unwrap_err();
    assert_kind(&e, TransactionErrorKind::InvalidState);
    assert!(e.to_string().contains("transactional_id"), "{e}");
    assert!(producer.begin_transaction().is_err());
}

#[test]
fn a_second_producer_with_the_same_id_fences_the_first_for_good() {
    let client = client();
    let topic = new_topic(&client, "tx-fence", 1);
    let id = unique_id("tx-fence");
    let first = client.get_producer(transactional(&id)).unwrap();
    first.init_transactions(DEADLINE).unwrap();
    first.begin_transaction().unwrap();
    first.send(&topic, Record::new("zombie")).unwrap();
    first.flush(DEADLINE).unwrap();

    let second = client.get_producer(transactional(&id)).unwrap();
    second.init_transactions(DEADLINE).unwrap();

    // The second init aborted the zombie's transaction: its commit fails.
    let e = first.commit_transaction(SHORT).unwrap_err();
    if client.cluster_id().as_deref() == Some("tansu_cluster") {
        // tansu 0.6.0 closes the connection instead of answering
        // PRODUCER_FENCED (its log: `err=Storage(Api(ProducerFenced))`),
        // so the fenced producer only sees its EndTxn time out;
        // tests/transactions_mock.rs checks the fatal error.
        assert_transaction_timeout(&e);
    } else {
        assert_kind(&e, TransactionErrorKind::Fatal);
        assert_eq!(first.transaction_state(), TransactionState::FatalError);
        // Every later call fails with the same fatal error; nothing gets through.
        for later in [
            first.send(&topic, Record::new("late")),
            first.begin_transaction(),
            first.abort_transaction(DEADLINE),
            first.flush(DEADLINE),
        ] {
            let later = later.unwrap_err();
            assert_kind(&later, TransactionErrorKind::Fatal);
        }
    }

    second.begin_transaction().unwrap();
    second.send(&topic, Record::new("survivor")).unwrap();
    second.commit_transaction(DEADLINE).unwrap();
    // The zombie's transaction was aborted by the second init, the
    // survivor's committed.
    let entries = log(&client, &topic, 0, 4);
    assert_eq!(values(&entries), ["zombie", "survivor"], "{entries:?}");
    assert_eq!(
        markers(&entries),
        [ControlRecordType::Abort, ControlRecordType::Commit],
        "{entries:?}"
    );
}

#[test]
fn offsets_sent_to_a_transaction_are_committed_with_it_and_only_then() {
    let client = client();
    let input = new_topic(&client, "tx-in", 1);
    let output = new_topic(&client, "tx-out", 1);
    let group = unique_id("tx-group");
    let producer = client
        .get_producer(transactional(&unique_id("tx")))
        .unwrap();
    producer.init_transactions(DEADLINE).unwrap();
    let metadata = ConsumerGroupMetadata::new(&group);
    let offsets = |next| BTreeMap::from([(TopicPartition::new(&input, 0), next)]);

    producer.begin_transaction().unwrap();
    producer.send(&output, Record::new("out-0")).unwrap();
    producer
        .send_offsets_to_transaction(&offsets(5), &metadata, DEADLINE)
        .unwrap();
    producer.abort_transaction(DEADLINE).unwrap();
    assert_eq!(committed(&client, &input, &group), None, "aborted offsets");

    producer.begin_transaction().unwrap();
    producer.send(&output, Record::new("out-1")).unwrap();
    producer
        .send_offsets_to_transaction(&offsets(7), &metadata, DEADLINE)
        .unwrap();
    producer.commit_transaction(DEADLINE).unwrap();
    assert_eq!(committed(&client, &input, &group), Some(7));
}

/// The offset `group` committed for partition 0 of `topic`.
fn committed(client: &KafkaClient, topic: &str, group: &str) -> Option<i64> {
    let consumer = client
        .topic(topic)
        .unwrap()
        .get_simple_consumer(
            SimpleConsumerConfig::default()
                .partitions([0])
                .consumer_group(group),
        )
        .unwrap();
    consumer
        .committed_offsets()
        .unwrap()
        .get(&0)
        .copied()
        .flatten()
}

#[test]
fn the_transaction_timeout_is_checked_before_any_call() {
    let client = client();
    let e = client
        .get_producer(transactional("x").transaction_timeout(Duration::ZERO))
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
    let e = client
        .get_producer(transactional("x").idempotence(Some(false)))
        .unwrap_err();
    assert!(e.to_string().contains("idempotence"), "{e}");
}

#[test]
fn dropping_a_producer_mid_transaction_aborts_it_and_reports_its_records_aborted() {
    let client = client();
    let topic = new_topic(&client, "tx-drop", 1);
    let producer = client
        .get_producer(transactional(&unique_id("tx")))
        .unwrap();
    let receiver = producer.delivery_reports().clone();
    producer.init_transactions(DEADLINE).unwrap();
    producer.begin_transaction().unwrap();
    producer.send(&topic, Record::new("written")).unwrap();
    producer.flush(DEADLINE).unwrap();
    producer.send(&topic, Record::new("queued")).unwrap();
    drop(producer);
    for i in 0..2 {
        let report = receiver
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("report {i} arrives"));
        let e = report.error().expect("reported failed");
        assert_kind(e, TransactionErrorKind::Aborted);
    }
    let entries = log(&client, &topic, 0, 2);
    assert_eq!(markers(&entries), [ControlRecordType::Abort], "{entries:?}");
}

#[test]
fn a_sync_producer_waits_for_each_record_inside_a_transaction() {
    let client = client();
    let topic = new_topic(&client, "tx-sync", 1);
    let producer = client
        .topic(&topic)
        .unwrap()
        .get_sync_producer(ProducerConfig::default().transactional_id(unique_id("tx")))
        .unwrap();
    producer.producer().init_transactions(DEADLINE).unwrap();
    producer.producer().begin_transaction().unwrap();
    let first = producer.produce(b"s0".to_vec()).unwrap();
    let second = producer.produce(b"s1".to_vec()).unwrap();
    assert_eq!(second.offset, first.offset + 1);
    producer.producer().commit_transaction(DEADLINE).unwrap();
    let e = producer.produce(b"outside".to_vec()).unwrap_err();
    assert_kind(&e, TransactionErrorKind::InvalidState);
    assert_eq!(values(&log(&client, &topic, 0, 3)), ["s0", "s1"]);
}

#[test]
fn a_group_members_metadata_commits_its_offsets_through_the_transaction() {
    let client = client();
    let input = new_topic(&client, "tx-member-in", 1);
    let group = unique_id("tx-member");
    let consumer = client
        .topic(&input)
        .unwrap()
        .get_balanced_consumer(
            &group,
            kafka_sync::BalancedConsumerConfig::default()
                .enable_auto_commit(false)
                .session_timeout(Duration::from_secs(6)),
        )
        .unwrap();
    let deadline = std::time::Instant::now() + support::LONG;
    while consumer.assignment().is_empty() {
        assert!(std::time::Instant::now() < deadline, "never assigned");
        let _ = consumer.consume(Duration::from_millis(100)).unwrap();
    }
    let metadata = consumer.group_metadata();
    assert_eq!(metadata.group_id, group);
    assert!(metadata.generation_id >= 0, "{metadata:?}"); // tansu starts at 0
    assert!(!metadata.member_id.is_empty(), "{metadata:?}");

    let producer = client
        .get_producer(transactional(&unique_id("tx")))
        .unwrap();
    producer.init_transactions(DEADLINE).unwrap();
    producer.begin_transaction().unwrap();
    let offsets = BTreeMap::from([(TopicPartition::new(&input, 0), 4)]);
    producer
        .send_offsets_to_transaction(&offsets, &metadata, DEADLINE)
        .unwrap();
    producer.commit_transaction(DEADLINE).unwrap();
    // A zombie's metadata (a generation the group has moved past).
    let stale = ConsumerGroupMetadata::member(
        &group,
        metadata.generation_id + 5,
        &metadata.member_id,
        None,
    );
    producer.begin_transaction().unwrap();
    let stale_result = producer.send_offsets_to_transaction(
        &BTreeMap::from([(TopicPartition::new(&input, 0), 9)]),
        &stale,
        DEADLINE,
    );
    match stale_result {
        // tansu 0.6.0 does not check the generation of a TxnOffsetCommit;
        // the mock test checks that ILLEGAL_GENERATION is abortable.
        Ok(()) => assert_eq!(client.cluster_id().as_deref(), Some("tansu_cluster")),
        Err(e) => assert_kind(&e, TransactionErrorKind::Abortable),
    }
    // Either way the aborted transaction's offsets are not committed.
    producer.abort_transaction(DEADLINE).unwrap();
    consumer.close().unwrap();
    assert_eq!(committed(&client, &input, &group), Some(4));
}
