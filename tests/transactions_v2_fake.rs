//! Transactions v2 (KIP-890 part 2) against an in-process fake broker.
//!
//! No broker here offers transactions v2: tansu 0.6.0 tops at EndTxn v4 and
//! Produce v11 and announces no `transaction.version`; librdkafka 2.16's
//! mock cluster at EndTxn v1 and Produce v10. So a scripted one-broker fake
//! (coded with the `kafka-protocol` crate, independent of ours) plays a
//! Kafka 4 broker: it announces a finalized `transaction.version` level in
//! its ApiVersions v3 answer, bumps the epoch at every EndTxn v5 as a v2
//! coordinator does, and logs every request's api and version. The tests
//! check what the producer sends under each level; that the transactions
//! v1 path is unchanged on real brokers is shown by `tests/transactions.rs`
//! (tansu) and `tests/transactions_mock.rs` (the mock).
#![cfg(feature = "testkit")]

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnResponse, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey,
    ApiVersionsResponse, BrokerId, EndTxnRequest, EndTxnResponse, FindCoordinatorResponse,
    InitProducerIdRequest, InitProducerIdResponse, MetadataResponse, ProduceRequest,
    ProduceResponse, ProducerId, TopicName, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_sync::producer::{Producer, ProducerConfig, Record};
use kafka_sync::{ConsumerGroupMetadata, KafkaClient, TopicPartition};
use support::fake_broker::{FakeBroker, Reply, Request};
use support::DEADLINE;

const TOPIC: &str = "v2-topic";
const GROUP: &str = "v2-group";
const PRODUCER_ID: i64 = 4242;

/// What the fake broker is.
#[derive(Clone, Copy)]
struct Offer {
    /// Its newest Produce version.
    produce_max: i16,
    /// The finalized `transaction.version` it announces, if any.
    transaction_version: Option<i16>,
}

/// What the fake saw, and its state.
#[derive(Default)]
struct Seen {
    /// The coordinator's current epoch for the producer id.
    epoch: i16,
    /// Every request after ApiVersions: (api key, version).
    requests: Vec<(ApiKey, i16)>,
    /// Each Produce batch: (request version, epoch, base sequence).
    batches: Vec<(i16, i16, i32)>,
    /// Each EndTxn: (version, epoch, committed).
    end_txns: Vec<(i16, i16, bool)>,
    next_offset: i64,
    /// Raise the announced level to 2 and close the connection at the
    /// first EndTxn (a cluster upgraded mid-transaction).
    upgrade_at_end_txn: bool,
    /// The level announced from now on (starts as the offer's).
    level: Option<i16>,
}

impl Seen {
    fn count(&self, api: ApiKey) -> usize {
        self.requests.iter().filter(|(k, _)| *k == api).count()
    }

    fn versions(&self, api: ApiKey) -> Vec<i16> {
        self.requests
            .iter()
            .filter(|(k, _)| *k == api)
            .map(|&(_, v)| v)
            .collect()
    }
}

fn str(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn api_versions(offer: Offer, level: Option<i16>, version: i16) -> ApiVersionsResponse {
    let apis = [
        (ApiKey::ApiVersions, 0, 3),
        (ApiKey::Metadata, 1, 8),
        (ApiKey::FindCoordinator, 0, 3),
        (ApiKey::InitProducerId, 0, 5),
        (ApiKey::AddPartitionsToTxn, 0, 3),
        (ApiKey::AddOffsetsToTxn, 0, 4),
        (ApiKey::TxnOffsetCommit, 0, 5),
        (ApiKey::EndTxn, 0, 5),
        (ApiKey::Produce, 3, offer.produce_max),
    ];
    let mut response = ApiVersionsResponse::default().with_api_keys(
        apis.iter()
            .map(|&(k, min, max)| {
                ApiVersion::default()
                    .with_api_key(k as i16)
                    .with_min_version(min)
                    .with_max_version(max)
            })
            .collect(),
    );
    if let (Some(level), true) = (level, version >= 3) {
        response = response
            .with_supported_features(vec![SupportedFeatureKey::default()
                .with_name(str("transaction.version"))
                .with_min_version(1)
                .with_max_version(2)])
            .with_finalized_features_epoch(7)
            .with_finalized_features(vec![FinalizedFeatureKey::default()
                .with_name(str("transaction.version"))
                .with_max_version_level(level)
                .with_min_version_level(level)]);
    }
    response
}

fn answer(request: &Request, port: u16, offer: Offer, seen: &Mutex<Seen>) -> Reply {
    let version = request.api_version;
    let mut frame = request.body.clone();
    let mut body = BytesMut::new();
    let key = request.key().expect("a known api");
    let mut s = seen.lock().unwrap();
    if key != ApiKey::ApiVersions {
        s.requests.push((key, version));
    }
    match key {
        ApiKey::ApiVersions => api_versions(offer, s.level, version)
            .encode(&mut body, version)
            .unwrap(),
        ApiKey::Metadata => MetadataResponse::default()
            .with_brokers(vec![MetadataResponseBroker::default()
                .with_node_id(BrokerId(1))
                .with_host(str("127.0.0.1"))
                .with_port(i32::from(port))])
            .with_controller_id(BrokerId(1))
            .with_topics(vec![MetadataResponseTopic::default()
                .with_name(Some(TopicName(str(TOPIC))))
                .with_partitions(
                    (0..2)
                        .map(|p| {
                            MetadataResponsePartition::default()
                                .with_partition_index(p)
                                .with_leader_id(BrokerId(1))
                                .with_replica_nodes(vec![BrokerId(1)])
                                .with_isr_nodes(vec![BrokerId(1)])
                        })
                        .collect(),
                )])
            .encode(&mut body, version)
            .unwrap(),
        ApiKey::FindCoordinator => FindCoordinatorResponse::default()
            .with_node_id(BrokerId(1))
            .with_host(str("127.0.0.1"))
            .with_port(i32::from(port))
            .encode(&mut body, version)
            .unwrap(),
        ApiKey::InitProducerId => {
            let request = InitProducerIdRequest::decode(&mut frame, version).unwrap();
            // An epoch bump (KIP-360) names the current id and epoch.
            if request.producer_id.0 >= 0 {
                s.epoch = request.producer_epoch + 1;
            }
            InitProducerIdResponse::default()
                .with_producer_id(ProducerId(PRODUCER_ID))
                .with_producer_epoch(s.epoch)
                .encode(&mut body, version)
                .unwrap()
        }
        ApiKey::AddPartitionsToTxn => {
            let request = AddPartitionsToTxnRequest::decode(&mut frame, version).unwrap();
            AddPartitionsToTxnResponse::default()
                .with_results_by_topic_v3_and_below(
                    request
                        .v3_and_below_topics
                        .iter()
                        .map(|t| {
                            AddPartitionsToTxnTopicResult::default()
                                .with_name(t.name.clone())
                                .with_results_by_partition(
                                    t.partitions
                                        .iter()
                                        .map(|&p| {
                                            AddPartitionsToTxnPartitionResult::default()
                                                .with_partition_index(p)
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                )
                .encode(&mut body, version)
                .unwrap()
        }
        ApiKey::AddOffsetsToTxn => AddOffsetsToTxnResponse::default()
            .encode(&mut body, version)
            .unwrap(),
        ApiKey::TxnOffsetCommit => {
            let request = TxnOffsetCommitRequest::decode(&mut frame, version).unwrap();
            TxnOffsetCommitResponse::default()
                .with_topics(
                    request
                        .topics
                        .iter()
                        .map(|t| {
                            TxnOffsetCommitResponseTopic::default()
                                .with_name(t.name.clone())
                                .with_partitions(
                                    t.partitions
                                        .iter()
                                        .map(|p| {
                                            TxnOffsetCommitResponsePartition::default()
                                                .with_partition_index(p.partition_index)
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                )
                .encode(&mut body, version)
                .unwrap()
        }
        ApiKey::Produce => {
            let request = ProduceRequest::decode(&mut frame, version).unwrap();
            let mut responses = Vec::new();
            for topic in &request.topic_data {
                let mut partitions = Vec::new();
                for p in &topic.partition_data {
                    let records = p.records.as_ref().expect("records");
                    // RecordBatch v2: producer epoch at byte 51, base sequence at 53.
                    let epoch = i16::from_be_bytes([records[51], records[52]]);
                    let sequence =
                        i32::from_be_bytes([records[53], records[54], records[55], records[56]]);
                    let count =
                        i32::from_be_bytes([records[57], records[58], records[59], records[60]]);
                    s.batches.push((version, epoch, sequence));
                    partitions.push(
                        PartitionProduceResponse::default()
                            .with_index(p.index)
                            .with_base_offset(s.next_offset),
                    );
                    s.next_offset += i64::from(count);
                }
                responses.push(
                    TopicProduceResponse::default()
                        .with_name(topic.name.clone())
                        .with_partition_responses(partitions),
                );
            }
            ProduceResponse::default()
                .with_responses(responses)
                .encode(&mut body, version)
                .unwrap()
        }
        ApiKey::EndTxn => {
            if std::mem::take(&mut s.upgrade_at_end_txn) {
                // The cluster finalizes level 2 now; the producer sees it
                // on its next connection.
                s.level = Some(2);
                s.requests.pop();
                return Reply::Close;
            }
            let request = EndTxnRequest::decode(&mut frame, version).unwrap();
            s.end_txns
                .push((version, request.producer_epoch, request.committed));
            let mut response = EndTxnResponse::default();
            if version >= 5 {
                // A transactions-v2 coordinator bumps the epoch at every end.
                s.epoch = request.producer_epoch + 1;
                response = response
                    .with_producer_id(ProducerId(PRODUCER_ID))
                    .with_producer_epoch(s.epoch);
            }
            response.encode(&mut body, version).unwrap()
        }
        other => panic!("the fake does not serve {other:?}"),
    }
    Reply::Body(body.to_vec())
}

/// A fake broker making `offer`, and a transactional producer on it.
fn start(offer: Offer, upgrade_at_end_txn: bool) -> (Producer, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen {
        level: offer.transaction_version,
        upgrade_at_end_txn,
        ..Seen::default()
    }));
    let broker = FakeBroker::bind();
    let port = broker.port();
    let state = Arc::clone(&seen);
    broker.serve(move || {
        let state = Arc::clone(&state);
        move |request: &Request| answer(request, port, offer, &state)
    });
    let client = KafkaClient::new(&broker.bootstrap()).unwrap();
    let producer = client
        .get_producer(ProducerConfig::default().transactional_id("v2-tx"))
        .unwrap();
    producer.init_transactions(DEADLINE).unwrap();
    (producer, seen)
}

/// One transaction: two records to partition 0 (flushed one by one, so two
/// batches), one to partition 1, offsets for the group when `offsets`, and
/// a commit or an abort.
fn transaction(producer: &Producer, round: usize, offsets: bool, commit: bool) {
    producer.begin_transaction().unwrap();
    for (i, partition) in [0, 0, 1].into_iter().enumerate() {
        producer
            .send(
                TOPIC,
                Record::new(format!("r{round}-{i}")).partition(partition),
            )
            .unwrap();
        producer.flush(DEADLINE).unwrap();
    }
    if offsets {
        producer
            .send_offsets_to_transaction(
                &BTreeMap::from([(TopicPartition::new("input", 0), 10 * round as i64)]),
                &ConsumerGroupMetadata::new(GROUP),
                DEADLINE,
            )
            .unwrap();
    }
    if commit {
        producer.commit_transaction(DEADLINE).unwrap();
    } else {
        producer.abort_transaction(DEADLINE).unwrap();
    }
}

#[test]
fn a_transactions_v2_broker_gets_produce_v12_and_end_txn_v5_without_add_partitions() {
    let offer = Offer {
        produce_max: 12,
        transaction_version: Some(2),
    };
    let (producer, seen) = start(offer, false);
    transaction(&producer, 0, false, true);
    transaction(&producer, 1, true, true);
    transaction(&producer, 2, true, false);
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.count(ApiKey::AddPartitionsToTxn),
        0,
        "Produce v12 adds the partitions"
    );
    assert_eq!(
        seen.count(ApiKey::AddOffsetsToTxn),
        0,
        "TxnOffsetCommit v5 adds the offsets"
    );
    assert_eq!(seen.versions(ApiKey::TxnOffsetCommit), [5, 5]);
    assert_eq!(
        seen.end_txns,
        [(5, 0, true), (5, 1, true), (5, 2, false)],
        "EndTxn v5 under each bumped epoch"
    );
    assert_eq!(
        seen.count(ApiKey::InitProducerId),
        1,
        "EndTxn bumps the epoch, the abort needs no InitProducerId"
    );
    // Every batch at v12, each transaction under its epoch, sequences per
    // partition from 0 (partition 0 twice, then partition 1).
    assert_eq!(
        seen.batches,
        [
            (12, 0, 0),
            (12, 0, 1),
            (12, 0, 0),
            (12, 1, 0),
            (12, 1, 1),
            (12, 1, 0),
            (12, 2, 0),
            (12, 2, 1),
            (12, 2, 0),
        ]
    );
}

#[test]
fn a_broker_with_produce_v12_but_transaction_version_1_or_none_gets_transactions_v1() {
    for level in [Some(1), None] {
        let offer = Offer {
            produce_max: 12,
            transaction_version: level,
        };
        let (producer, seen) = start(offer, false);
        transaction(&producer, 0, false, true);
        transaction(&producer, 1, true, true);
        let seen = seen.lock().unwrap();
        assert!(
            seen.versions(ApiKey::Produce).iter().all(|&v| v == 11),
            "level {level:?}: Produce stays below v12: {:?}",
            seen.versions(ApiKey::Produce)
        );
        assert!(
            seen.count(ApiKey::AddPartitionsToTxn) >= 2,
            "level {level:?}: partitions are added in each transaction"
        );
        assert_eq!(seen.count(ApiKey::AddOffsetsToTxn), 1, "level {level:?}");
        assert_eq!(
            seen.versions(ApiKey::TxnOffsetCommit),
            [4],
            "level {level:?}"
        );
        assert_eq!(
            seen.end_txns,
            [(4, 0, true), (4, 0, true)],
            "level {level:?}: EndTxn v4, the epoch stays"
        );
        // One epoch, sequences going on per partition.
        let sequences: Vec<(i16, i32)> = seen.batches.iter().map(|&(_, e, s)| (e, s)).collect();
        assert_eq!(
            sequences,
            [(0, 0), (0, 1), (0, 0), (0, 2), (0, 3), (0, 1)],
            "level {level:?}"
        );
    }
}

#[test]
fn a_cluster_upgraded_to_transactions_v2_is_followed_from_the_next_transaction_after_an_epoch_bump()
{
    let offer = Offer {
        produce_max: 12,
        transaction_version: Some(1),
    };
    let (producer, seen) = start(offer, true);
    // The first EndTxn loses its connection; the producer reconnects (and
    // sees level 2), ends the transaction as v1 and bumps the epoch.
    transaction(&producer, 0, false, true);
    transaction(&producer, 1, false, true);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.end_txns, [(4, 0, true), (5, 1, true)]);
    assert_eq!(
        seen.count(ApiKey::InitProducerId),
        2,
        "an epoch bump before the first v2 transaction"
    );
    assert_eq!(
        seen.batches,
        [
            (11, 0, 0),
            (11, 0, 1),
            (11, 0, 0),
            (12, 1, 0),
            (12, 1, 1),
            (12, 1, 0),
        ]
    );
    let adds = seen.count(ApiKey::AddPartitionsToTxn);
    assert!(
        adds >= 1
            && seen
                .requests
                .iter()
                .rposition(|(k, _)| *k == ApiKey::AddPartitionsToTxn)
                < seen
                    .requests
                    .iter()
                    .position(|(k, v)| *k == ApiKey::Produce && *v == 12),
        "AddPartitionsToTxn only in the v1 transaction: {:?}",
        seen.requests
    );
}
