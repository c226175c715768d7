//! The admin API's topic calls against a live broker (tansu): create,
//! delete, describe and list topics with per-topic results, and
//! CreatePartitions, which no broker here has (see `admin_fake_cluster.rs`).
#![cfg(feature = "testkit")]

use kafka_sync::testkit::{self, unique_name};
use kafka_sync::{Admin, Error, ErrorCode, KafkaClient, NewTopic};

fn admin() -> Admin {
    let broker = testkit::shared().expect("test broker starts");
    KafkaClient::new(&broker.bootstrap())
        .expect("client bootstraps")
        .admin()
}

#[test]
fn create_topics_answers_each_topic_and_one_bad_topic_hides_nothing() {
    let admin = admin();
    let (a, b, taken) = (
        unique_name("adm-a"),
        unique_name("adm-b"),
        unique_name("adm-t"),
    );
    admin.client().create_topic(&taken, 1, 1).unwrap();
    let results = admin
        .create_topics(&[
            NewTopic::new(&a, 3, 1),
            NewTopic::new(&taken, 1, 1),
            NewTopic::new("bad name", 1, 1),
            NewTopic::new(&b, 1, 1).config("retention.ms", "3600000"),
        ])
        .unwrap();
    assert_eq!(results.len(), 4, "{results:?}");
    results[&a].as_ref().unwrap();
    results[&b].as_ref().unwrap();
    let e = results[&taken].as_ref().unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::TopicAlreadyExists), "{e}");
    assert!(e.to_string().contains(&taken), "{e}");
    assert!(matches!(results["bad name"], Err(Error::Config(_))));

    let twice = unique_name("adm-twice");
    let results = admin
        .create_topics(&[NewTopic::new(&twice, 1, 1), NewTopic::new(&twice, 2, 1)])
        .unwrap();
    assert!(matches!(&results[&twice], Err(Error::Config(m)) if m.contains("more than once")));
    assert!(!admin.client().topics().unwrap().contains(&twice));

    let described = admin.describe_topics(&[&a]).unwrap();
    let topic = described[&a].as_ref().unwrap();
    assert_eq!(topic.partitions.len(), 3);
}

#[test]
fn delete_topics_answers_each_topic_and_a_missing_one_names_itself() {
    let admin = admin();
    let (a, missing) = (unique_name("adm-del"), unique_name("adm-missing"));
    admin.client().create_topic(&a, 1, 1).unwrap();
    let results = admin.delete_topics(&[&a, &missing]).unwrap();
    results[&a].as_ref().unwrap();
    let e = results[&missing].as_ref().unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::UnknownTopicOrPartition), "{e}");
    assert!(e.to_string().contains(&missing), "{e}");
    assert!(!admin.client().topics().unwrap().contains(&a));
}

#[test]
fn describe_topics_gives_partitions_leaders_replicas_and_isr() {
    let admin = admin();
    let (name, missing) = (unique_name("adm-desc"), unique_name("adm-none"));
    admin.client().create_topic(&name, 2, 1).unwrap();
    let results = admin.describe_topics(&[&name, &missing]).unwrap();
    let topic = results[&name].as_ref().unwrap();
    assert_eq!(topic.name, name);
    assert!(!topic.is_internal);
    let brokers: Vec<i32> = admin.client().brokers().iter().map(|b| b.id).collect();
    assert_eq!(
        topic.partitions.iter().map(|p| p.id).collect::<Vec<_>>(),
        [0, 1]
    );
    for p in &topic.partitions {
        let leader = p.leader.expect("a leader");
        assert!(brokers.contains(&leader), "{p:?}");
        assert!(p.replicas.contains(&leader), "{p:?}");
        assert!(p.isr.contains(&leader), "{p:?}");
    }
    assert!(
        matches!(&results[&missing], Err(Error::UnknownTopic(t)) if *t == missing),
        "{:?}",
        results[&missing]
    );
}

#[test]
fn list_topics_lists_created_topics_and_hides_internal_ones_unless_asked() {
    let admin = admin();
    let name = unique_name("adm-list");
    admin.client().create_topic(&name, 1, 1).unwrap();
    let listed = admin.list_topics(false).unwrap();
    assert!(listed.iter().any(|t| t.name == name));
    assert!(listed.iter().all(|t| !t.is_internal));
    let all = admin.list_topics(true).unwrap();
    assert!(all.len() >= listed.len());
    assert!(all.windows(2).all(|w| w[0].name < w[1].name));
}

/// tansu 0.6.0 has no CreatePartitions (nor has librdkafka's mock cluster),
/// so against it only the refusal is tested; growing and shrinking run
/// against the scripted fake in `tests/admin_fake_cluster.rs`, and here
/// against a broker that has it (`KAFKA_BOOTSTRAP`).
#[test]
fn create_partitions_grows_a_topic_or_names_the_missing_api() {
    let admin = admin();
    let name = unique_name("adm-parts");
    admin.client().create_topic(&name, 1, 1).unwrap();
    let conn_supports = admin
        .client()
        .brokers()
        .first()
        .map(|b| b.id)
        .and_then(|id| admin.client().connection(id).ok())
        .is_some_and(|c| c.api_versions().iter().any(|r| r.api_key == 37));
    match admin.create_partitions(&name, 3) {
        Ok(()) => {
            assert!(conn_supports);
            let topic = admin.describe_topics(&[&name]).unwrap()[&name]
                .clone()
                .unwrap();
            assert_eq!(topic.partitions.len(), 3);
            let e = admin.create_partitions(&name, 2).unwrap_err();
            assert_eq!(e.code(), Some(ErrorCode::InvalidPartitions), "{e}");
            assert!(e.to_string().contains(&name), "{e}");
        }
        Err(Error::UnsupportedVersion { api, .. }) => {
            assert!(!conn_supports);
            assert_eq!(api, "CreatePartitions");
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn an_explicit_timeout_replaces_the_request_timeout() {
    let admin = admin();
    let short = admin.with_timeout(std::time::Duration::from_secs(5));
    assert_eq!(short.timeout(), std::time::Duration::from_secs(5));
    assert_eq!(admin.timeout(), admin.client().config().request_timeout());
    let name = unique_name("adm-timeout");
    short.create_topics(&[NewTopic::new(&name, 1, 1)]).unwrap()[&name]
        .as_ref()
        .unwrap();
}

#[test]
fn describing_a_missing_topic_never_creates_it_even_with_auto_creation_on() {
    let broker = testkit::shared().expect("test broker starts");
    let client = KafkaClient::builder()
        .hosts(broker.bootstrap())
        .allow_auto_topic_creation(true)
        .build()
        .unwrap();
    let missing = unique_name("adm-auto");
    let results = client.admin().describe_topics(&[&missing]).unwrap();
    assert!(matches!(&results[&missing], Err(Error::UnknownTopic(_))));
    assert!(!client.topics().unwrap().contains(&missing));
}
