//! The client against librdkafka's mock cluster (`testkit::MockCluster`): an
//! independent, multi-broker implementation of the protocol with replicated
//! partitions and injected faults.
#![cfg(feature = "testkit")]

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::time::Duration;

use kafka_sync::testkit::{unique_name, MockCluster};
use kafka_sync::KafkaClient;

/// How long a test waits for anything before it fails.
const DEADLINE: Duration = Duration::from_secs(30);

/// A 3-broker mock cluster; `MOCK_TEST_DEBUG=mock,protocol` turns on
/// librdkafka's debug log in the helper's log file.
fn cluster() -> MockCluster {
    let debug = std::env::var("MOCK_TEST_DEBUG").unwrap_or_default();
    MockCluster::builder()
        .brokers(3)
        .debug(debug)
        .start()
        .expect("the mock cluster starts")
}

/// Logs the client's debug lines to stderr when `MOCK_TEST_LOG` is set.
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target().starts_with("kafka_sync") {
            eprintln!(
                "[{}] {} {}",
                std::thread::current().name().unwrap_or("?"),
                record.level(),
                record.args()
            );
        }
    }
    fn flush(&self) {}
}

/// A client for the mock at `bootstrap`, with the version caps its group
/// API bugs need (`MockCluster::API_VERSION_CAPS`).
fn client(bootstrap: &str) -> KafkaClient {
    if std::env::var_os("MOCK_TEST_LOG").is_some() {
        static LOGGER: StderrLog = StderrLog;
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    }
    MockCluster::API_VERSION_CAPS
        .iter()
        .fold(KafkaClient::builder().hosts(bootstrap), |b, &(api, v)| {
            b.max_api_version(api, v)
        })
        .request_timeout(Duration::from_secs(10))
        .build()
        .expect("the client bootstraps against the mock cluster")
}

/// A loopback address nobody listens on.
fn dead_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    address
}

#[test]
fn client_bootstraps_past_a_dead_first_host_and_sees_three_brokers() {
    let cluster = cluster();
    let client = client(&format!("{},{}", dead_address(), cluster.bootstrap()));
    let ids: BTreeSet<i32> = client.brokers().iter().map(|b| b.id).collect();
    assert_eq!(ids, BTreeSet::from([1, 2, 3]));
}

#[test]
fn metadata_shows_replicated_partitions_with_leaders_spread_over_the_brokers() {
    let cluster = cluster();
    let topic = unique_name("mock-spread");
    cluster.create_topic(&topic, 6, 3).unwrap();
    let client = client(cluster.bootstrap());
    let partitions = client.topic(&topic).unwrap().partitions();
    assert_eq!(partitions.len(), 6);
    let leaders: BTreeSet<i32> = partitions.iter().filter_map(|p| p.leader).collect();
    assert_eq!(leaders, BTreeSet::from([1, 2, 3]), "{partitions:?}");
    for p in &partitions {
        assert_eq!(p.replicas.len(), 3, "{p:?}");
    }
    let _ = DEADLINE;
}

#[test]
fn a_refused_command_is_a_typed_error_naming_the_command() {
    let cluster = cluster();
    let err = cluster.broker_down(42).unwrap_err();
    let text = err.to_string();
    assert!(err.code().is_some(), "{err:?}");
    assert!(text.contains("broker_set_down(42)"), "{text}");
}

#[test]
fn dropping_the_cluster_stops_its_brokers() {
    let cluster = cluster();
    let first = cluster.bootstrap().split(',').next().unwrap().to_owned();
    let address: std::net::SocketAddr = first.parse().unwrap();
    std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1))
        .expect("the mock's broker 1 accepts connections");
    drop(cluster);
    assert!(
        std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err(),
        "broker 1 still listens after drop"
    );
}

#[test]
fn a_one_member_group_gets_every_partition_and_reads_them() {
    use kafka_sync::{BalancedConsumerConfig, OffsetReset, TopicPartition};
    let cluster = cluster();
    let topic = unique_name("mock-group");
    cluster.create_topic(&topic, 4, 3).unwrap();
    let client = client(cluster.bootstrap());
    let producer = client
        .topic(&topic)
        .unwrap()
        .get_producer(kafka_sync::ProducerConfig::default())
        .unwrap();
    for i in 0..40 {
        producer
            .produce_keyed(format!("k{i}"), format!("v{i}"))
            .unwrap();
    }
    producer.producer().flush(DEADLINE).unwrap();
    let consumer = client
        .topic(&topic)
        .unwrap()
        .get_balanced_consumer(
            &unique_name("mock-group"),
            BalancedConsumerConfig::default()
                .auto_offset_reset(OffsetReset::Earliest)
                .session_timeout(Duration::from_secs(6))
                .heartbeat_interval(Duration::from_millis(500)),
        )
        .unwrap();
    let want: BTreeSet<TopicPartition> = (0..4).map(|p| TopicPartition::new(&topic, p)).collect();
    let mut values = BTreeSet::new();
    let deadline = std::time::Instant::now() + DEADLINE;
    while values.len() < 40 {
        assert!(
            std::time::Instant::now() < deadline,
            "read {} of 40 records; assignment {:?}",
            values.len(),
            consumer.assignment()
        );
        if let Some(message) = consumer.consume(Duration::from_millis(200)).unwrap() {
            values.insert(String::from_utf8_lossy(message.value_bytes()).into_owned());
        }
    }
    assert_eq!(consumer.assignment(), want);
    consumer.close().unwrap();
}
