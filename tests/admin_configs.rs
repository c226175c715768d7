//! The admin API's config calls against a live broker (tansu 0.6.0):
//! DescribeConfigs of topics and brokers, IncrementalAlterConfigs, and
//! interop with confluent-kafka's `AdminClient` (`tests/peers/admin_configs.py`,
//! run by the pinned Python peers) both ways.
//!
//! tansu keeps only the configs set on a topic, reports each with source
//! DEFAULT, lists no broker configs and no synonyms, and accepts any config
//! name and any topic in IncrementalAlterConfigs (Kafka answers
//! INVALID_CONFIG and UNKNOWN_TOPIC_OR_PARTITION). The tests check what
//! every broker must do; the bad-input checks run against an external
//! broker (`KAFKA_BOOTSTRAP`) and, on tansu, pin its acceptance so a change
//! is noticed.
#![cfg(feature = "testkit")]

mod support;

use std::collections::BTreeMap;

use kafka_sync::admin::{AlterConfigOp, ConfigEntry, ConfigResource};
use kafka_sync::testkit::unique_name;
use kafka_sync::{Admin, ErrorCode, KafkaClient, NewTopic};
use support::{admin, bootstrap, shared_broker};

fn topic_with(admin: &Admin, prefix: &str, configs: &[(&str, &str)]) -> String {
    let name = unique_name(prefix);
    let topic = configs
        .iter()
        .fold(NewTopic::new(&name, 1, 1), |t, (k, v)| t.config(*k, *v));
    admin.create_topics(&[topic]).unwrap()[&name]
        .as_ref()
        .unwrap();
    name
}

fn topic_configs(admin: &Admin, topic: &str) -> BTreeMap<String, ConfigEntry> {
    let resource = ConfigResource::topic(topic);
    let mut results = admin
        .describe_configs(std::slice::from_ref(&resource))
        .unwrap();
    results
        .remove(&resource)
        .expect("the topic is answered")
        .unwrap()
        .into_iter()
        .map(|e| (e.name.clone(), e))
        .collect()
}

fn value<'a>(configs: &'a BTreeMap<String, ConfigEntry>, name: &str) -> Option<&'a str> {
    configs.get(name).and_then(|e| e.value.as_deref())
}

fn peer(args: &[&str]) -> String {
    support::peers::run("admin_configs.py", args, support::LONG)
}

#[test]
fn describe_configs_reads_a_topics_configs_and_answers_each_resource() {
    let admin = admin();
    let name = topic_with(&admin, "cfg-desc", &[("retention.ms", "3600000")]);
    let broker_id = admin.client().brokers()[0].id;
    let results = admin
        .describe_configs_with_synonyms(&[
            ConfigResource::topic(&name),
            ConfigResource::broker(broker_id),
        ])
        .unwrap();
    assert_eq!(results.len(), 2, "{results:?}");
    let configs = results[&ConfigResource::topic(&name)].as_ref().unwrap();
    let retention = configs.iter().find(|e| e.name == "retention.ms").unwrap();
    assert_eq!(retention.value.as_deref(), Some("3600000"));
    assert!(!retention.is_sensitive && !retention.read_only);
    // tansu lists no broker configs; Kafka lists hundreds.
    results[&ConfigResource::broker(broker_id)]
        .as_ref()
        .unwrap();
}

#[test]
fn a_broker_resource_must_be_named_by_its_id() {
    let admin = admin();
    let bad = ConfigResource::new(kafka_sync::admin::ConfigResourceType::Broker, "leader");
    let results = admin.describe_configs(std::slice::from_ref(&bad)).unwrap();
    let e = results[&bad].as_ref().unwrap_err();
    assert!(matches!(e, kafka_sync::Error::Config(_)), "{e}");
    assert!(e.to_string().contains("leader"), "{e}");
}

#[test]
fn incremental_alter_configs_sets_and_deletes_single_configs() {
    let admin = admin();
    let name = topic_with(&admin, "cfg-alter", &[("retention.ms", "3600000")]);
    let resource = ConfigResource::topic(&name);
    admin
        .incremental_alter_configs(
            &resource,
            &[
                AlterConfigOp::set("retention.ms", "60000"),
                AlterConfigOp::set("cleanup.policy", "compact"),
            ],
        )
        .unwrap();
    let configs = topic_configs(&admin, &name);
    assert_eq!(value(&configs, "retention.ms"), Some("60000"));
    assert_eq!(value(&configs, "cleanup.policy"), Some("compact"));

    admin
        .incremental_alter_configs(&resource, &[AlterConfigOp::delete("retention.ms")])
        .unwrap();
    let configs = topic_configs(&admin, &name);
    // Deleted: gone (tansu), or back to the default (Kafka).
    assert_ne!(value(&configs, "retention.ms"), Some("60000"));
    assert_eq!(value(&configs, "cleanup.policy"), Some("compact"));
}

#[test]
fn bad_config_names_and_missing_topics_are_per_item_errors_where_the_broker_checks() {
    let admin = admin();
    let name = topic_with(&admin, "cfg-bad", &[]);
    let unknown_name = admin.incremental_alter_configs(
        &ConfigResource::topic(&name),
        &[AlterConfigOp::set("no.such.config", "1")],
    );
    let missing_topic = unique_name("cfg-missing");
    let missing = admin.incremental_alter_configs(
        &ConfigResource::topic(&missing_topic),
        &[AlterConfigOp::set("retention.ms", "1")],
    );
    let described = admin
        .describe_configs(&[ConfigResource::topic(&missing_topic)])
        .unwrap();
    if shared_broker().is_external() {
        let e = unknown_name.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidConfig), "{e}");
        assert!(e.to_string().contains(&name), "{e}");
        let e = missing.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UnknownTopicOrPartition), "{e}");
        let e = described[&ConfigResource::topic(&missing_topic)]
            .as_ref()
            .unwrap_err();
        assert!(e.to_string().contains(&missing_topic), "{e}");
    } else {
        // tansu 0.6.0 checks neither; see the module docs.
        unknown_name.unwrap();
        missing.unwrap();
        assert_eq!(
            described[&ConfigResource::topic(&missing_topic)]
                .as_ref()
                .unwrap(),
            &[]
        );
    }
}

#[test]
fn confluent_kafka_reads_what_this_admin_writes() {
    let admin = admin();
    let name = topic_with(&admin, "cfg-peer-r", &[]);
    admin
        .incremental_alter_configs(
            &ConfigResource::topic(&name),
            &[
                AlterConfigOp::set("retention.ms", "120000"),
                AlterConfigOp::set("max.message.bytes", "65536"),
            ],
        )
        .unwrap();
    let out = peer(&["describe", &bootstrap(), &name]);
    assert!(out.contains("\"retention.ms\": \"120000\""), "{out}");
    assert!(out.contains("\"max.message.bytes\": \"65536\""), "{out}");
}

#[test]
fn this_admin_reads_what_confluent_kafka_writes() {
    let admin = admin();
    let name = topic_with(&admin, "cfg-peer-w", &[]);
    peer(&[
        "set",
        &bootstrap(),
        &name,
        "retention.ms=240000",
        "cleanup.policy=compact",
    ]);
    let configs = topic_configs(&admin, &name);
    assert_eq!(value(&configs, "retention.ms"), Some("240000"));
    assert_eq!(value(&configs, "cleanup.policy"), Some("compact"));
}

#[test]
fn incremental_alter_configs_appends_to_and_subtracts_from_list_configs() {
    let admin = admin();
    let name = topic_with(&admin, "cfg-list", &[("cleanup.policy", "compact")]);
    let resource = ConfigResource::topic(&name);
    admin
        .incremental_alter_configs(
            &resource,
            &[AlterConfigOp::append("cleanup.policy", "delete")],
        )
        .unwrap();
    assert_eq!(
        value(&topic_configs(&admin, &name), "cleanup.policy"),
        Some("compact,delete")
    );
    admin
        .incremental_alter_configs(
            &resource,
            &[AlterConfigOp::subtract("cleanup.policy", "compact")],
        )
        .unwrap();
    assert_eq!(
        value(&topic_configs(&admin, &name), "cleanup.policy"),
        Some("delete")
    );
}

/// The oldest versions this client speaks, capped through
/// `max_api_version`, against the same broker: DescribeConfigs v1 and
/// IncrementalAlterConfigs v0 are not flexible, DescribeCluster v0 has no
/// endpoint type.
#[test]
fn the_oldest_versions_read_and_write_configs_too() {
    use kafka_sync::ApiKey;
    let admin = KafkaClient::builder()
        .hosts(bootstrap())
        .max_api_version(ApiKey::DescribeConfigs, 1)
        .max_api_version(ApiKey::IncrementalAlterConfigs, 0)
        .max_api_version(ApiKey::DescribeCluster, 0)
        .build()
        .unwrap()
        .admin();
    let name = topic_with(&admin, "cfg-old", &[("retention.ms", "3600000")]);
    admin
        .incremental_alter_configs(
            &ConfigResource::topic(&name),
            &[AlterConfigOp::set("max.message.bytes", "32768")],
        )
        .unwrap();
    let configs = topic_configs(&admin, &name);
    assert_eq!(value(&configs, "retention.ms"), Some("3600000"));
    assert_eq!(value(&configs, "max.message.bytes"), Some("32768"));
    let cluster = admin.describe_cluster().unwrap();
    assert_eq!(cluster.brokers, admin.client().brokers());
}

#[test]
fn a_resource_type_the_broker_does_not_know_is_unsupported_version_naming_the_api() {
    use kafka_sync::admin::ConfigResourceType;
    let admin = admin();
    let unknown = ConfigResource::new(ConfigResourceType::Other(99), "x");
    let results = admin
        .describe_configs(&[unknown.clone(), ConfigResource::topic("__nothing")])
        .unwrap();
    let e = results[&unknown].as_ref().unwrap_err();
    match e {
        kafka_sync::Error::UnsupportedVersion { api, ours, .. } => {
            assert_eq!(*api, "DescribeConfigs");
            assert!(ours.contains("resource type 99"), "{ours}");
        }
        e => panic!("expected UnsupportedVersion, got {e:?}"),
    }
}
