//! Transactions v2 (KIP-890) against an in-process fake broker: no broker
//! here offers EndTxn v5 (tansu stops at v4, librdkafka's mock at v1), so a
//! scripted one-broker fake (coded with the `kafka-protocol` crate,
//! independent of ours) answers EndTxn v5 with the bumped epoch a Kafka 4
//! coordinator returns, and the test checks that the producer runs its next
//! transaction under that epoch with sequences from 0.
#![cfg(feature = "testkit")]

mod support;

use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey, ApiVersionsResponse, BrokerId,
    EndTxnRequest, EndTxnResponse, FindCoordinatorResponse, InitProducerIdResponse,
    MetadataResponse, ProduceRequest, ProduceResponse, ProducerId, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_sync::producer::{ProducerConfig, Record};
use kafka_sync::KafkaClient;
use support::fake_broker::{FakeBroker, Reply, Request};
use support::DEADLINE;

const TOPIC: &str = "v2-topic";
const PRODUCER_ID: i64 = 4242;

/// What the fake saw: each Produce batch's (epoch, base sequence), each
/// EndTxn's (version, epoch).
#[derive(Default)]
struct Seen {
    epoch: i16,
    batches: Vec<(i16, i32)>,
    end_txns: Vec<(i16, i16)>,
    next_offset: i64,
}

fn str(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn answer(request: &Request, port: u16, seen: &Mutex<Seen>) -> Vec<u8> {
    let version = request.api_version;
    let mut frame = request.body.clone();
    let mut body = BytesMut::new();
    match request.key().expect("a known api") {
        ApiKey::ApiVersions => ApiVersionsResponse::default()
            .with_api_keys(
                [
                    (ApiKey::ApiVersions, 0, 3),
                    (ApiKey::Metadata, 1, 8),
                    (ApiKey::FindCoordinator, 0, 3),
                    (ApiKey::InitProducerId, 0, 5),
                    (ApiKey::AddPartitionsToTxn, 0, 3),
                    (ApiKey::EndTxn, 0, 5),
                    (ApiKey::Produce, 3, 9),
                ]
                .iter()
                .map(|&(k, min, max)| {
                    ApiVersion::default()
                        .with_api_key(k as i16)
                        .with_min_version(min)
                        .with_max_version(max)
                })
                .collect(),
            )
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
                .with_partitions(vec![MetadataResponsePartition::default()
                    .with_partition_index(0)
                    .with_leader_id(BrokerId(1))
                    .with_replica_nodes(vec![BrokerId(1)])
                    .with_isr_nodes(vec![BrokerId(1)])])])
            .encode(&mut body, version)
            .unwrap(),
        ApiKey::FindCoordinator => FindCoordinatorResponse::default()
            .with_node_id(BrokerId(1))
            .with_host(str("127.0.0.1"))
            .with_port(i32::from(port))
            .encode(&mut body, version)
            .unwrap(),
        ApiKey::InitProducerId => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(PRODUCER_ID))
            .with_producer_epoch(seen.lock().unwrap().epoch)
            .encode(&mut body, version)
            .unwrap(),
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
        ApiKey::Produce => {
            let request = ProduceRequest::decode(&mut frame, version).unwrap();
            let mut s = seen.lock().unwrap();
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
                    s.batches.push((epoch, sequence));
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
            let request = EndTxnRequest::decode(&mut frame, version).unwrap();
            let mut s = seen.lock().unwrap();
            s.end_txns.push((version, request.producer_epoch));
            // A transactions-v2 coordinator bumps the epoch at every end.
            s.epoch = request.producer_epoch + 1;
            EndTxnResponse::default()
                .with_producer_id(ProducerId(PRODUCER_ID))
                .with_producer_epoch(s.epoch)
                .encode(&mut body, version)
                .unwrap()
        }
        other => panic!("the fake does not serve {other:?}"),
    }
    body.to_vec()
}

#[test]
fn an_end_txn_v5_answer_starts_the_next_transaction_under_the_bumped_epoch() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let broker = FakeBroker::bind();
    let port = broker.port();
    let state = Arc::clone(&seen);
    broker.serve(move || {
        let state = Arc::clone(&state);
        move |request: &Request| Reply::Body(answer(request, port, &state))
    });
    let client = KafkaClient::new(&broker.bootstrap()).unwrap();
    let producer = client
        .get_producer(ProducerConfig::default().transactional_id("v2-tx"))
        .unwrap();
    producer.init_transactions(DEADLINE).unwrap();
    for round in 0..3 {
        producer.begin_transaction().unwrap();
        for i in 0..2 {
            producer
                .send(TOPIC, Record::new(format!("r{round}-{i}")).partition(0))
                .unwrap();
            producer.flush(DEADLINE).unwrap();
        }
        producer.commit_transaction(DEADLINE).unwrap();
    }
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.end_txns,
        [(5, 0), (5, 1), (5, 2)],
        "EndTxn v5 with each epoch"
    );
    // Each transaction's batches under its epoch, sequences from 0.
    assert_eq!(
        seen.batches,
        [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    );
}
