//! KafkaClient against a live broker: bootstrap, metadata, topic admin and
//! offset queries.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use kafka_sync::testkit::{self, unique_name};
use kafka_sync::{Error, ErrorCode, KafkaClient, NewTopic};

fn bootstrap() -> String {
    testkit::shared().expect("test broker starts").bootstrap()
}

fn client() -> KafkaClient {
    KafkaClient::new(&bootstrap()).expect("client bootstraps")
}

/// A loopback address nothing listens on.
fn dead_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

#[test]
fn brokers_are_listed_after_bootstrap() {
    let client = client();
    let brokers = client.brokers();
    assert!(!brokers.is_empty());
    for b in &brokers {
        assert!(b.id >= 0);
        assert!(!b.host.is_empty());
        assert!(b.port > 0);
    }
}

#[test]
fn a_created_topic_is_listed_with_its_partitions_and_then_deleted() {
    let client = client();
    let name = unique_name("admin");
    client.create_topic(&name, 3, 1).unwrap();
    assert!(client.topics().unwrap().contains(&name));

    let topic = client.topic(&name).unwrap();
    let partitions = topic.partitions();
    assert_eq!(
        partitions.iter().map(|p| p.id).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    let broker_ids: Vec<i32> = client.brokers().iter().map(|b| b.id).collect();
    for p in &partitions {
        let leader = p.leader.expect("every partition has a leader");
        assert!(broker_ids.contains(&leader));
        assert!(p.replicas.contains(&leader), "{p:?}");
    }

    client.delete_topic(&name).unwrap();
    assert!(!client.topics().unwrap().contains(&name));
    assert!(matches!(client.topic(&name), Err(Error::UnknownTopic(t)) if t == name));
}

#[test]
fn a_topic_with_configs_can_be_created() {
    let client = client();
    let name = unique_name("configs");
    client
        .create_topic_with(NewTopic::new(&name, 1, 1).config("retention.ms", "3600000"))
        .unwrap();
    assert_eq!(client.topic(&name).unwrap().partitions().len(), 1);
}

#[test]
fn creating_an_existing_topic_is_topic_already_exists() {
    let client = client();
    let name = unique_name("twice");
    client.create_topic(&name, 1, 1).unwrap();
    let e = client.create_topic(&name, 1, 1).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::TopicAlreadyExists), "{e}");
    assert!(e.to_string().contains(&name), "{e}");
}

#[test]
fn an_unknown_topic_is_unknown_topic() {
    let client = client();
    let name = unique_name("missing");
    let e = client.topic(&name).unwrap_err();
    assert!(matches!(&e, Error::UnknownTopic(t) if *t == name), "{e}");
    assert!(e.to_string().contains("create it"), "{e}");
}

#[test]
fn deleting_an_unknown_topic_is_unknown_topic() {
    let e = client().delete_topic(&unique_name("never")).unwrap_err();
    assert!(matches!(e, Error::UnknownTopic(_)), "{e}");
}

#[test]
fn an_invalid_topic_name_is_a_config_error() {
    let e = client().create_topic("bad name!", 1, 1).unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
}

#[test]
fn a_bootstrap_list_with_one_dead_and_one_live_host_works() {
    let hosts = format!("{},{}", dead_addr(), bootstrap());
    let client = KafkaClient::new(&hosts).unwrap();
    assert!(!client.brokers().is_empty());
}

#[test]
fn a_bootstrap_list_of_dead_hosts_fails_clearly_within_the_connect_timeout() {
    let hosts = format!("{},{}", dead_addr(), dead_addr());
    let start = Instant::now();
    let e = KafkaClient::builder()
        .hosts(&hosts)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(matches!(e, Error::NoBrokerAvailable(_)), "{e}");
    let text = e.to_string();
    for host in hosts.split(',') {
        assert!(text.contains(host), "{text} names {host}");
    }
}

#[test]
fn offsets_of_an_empty_topic_are_all_zero() {
    let client = client();
    let name = unique_name("empty");
    client.create_topic(&name, 2, 1).unwrap();
    let topic = client.topic(&name).unwrap();
    let zeros = [(0, 0), (1, 0)].into_iter().collect();
    assert_eq!(topic.latest_available_offsets().unwrap(), zeros);
    assert_eq!(topic.earliest_available_offsets().unwrap(), zeros);
    let at = topic.offsets_for_time(0).unwrap();
    assert_eq!(at.len(), 2);
    assert!(at.values().all(Option::is_none), "{at:?}");
}

#[test]
fn a_client_is_cheap_to_clone_and_shared_across_threads() {
    let client = client();
    let name = unique_name("threads");
    client.create_topic(&name, 4, 1).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let topic = client.topic(&name).unwrap();
            std::thread::spawn(move || topic.latest_available_offsets().unwrap().len())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 4);
    }
}
