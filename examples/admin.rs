//! The admin API: starts a throwaway broker, creates topics, reads and
//! changes their configs, sets a consumer group's offsets and reads them back
//! with the group's lag, grants and lists an ACL, upserts a SCRAM user,
//! describes the cluster and deletes what it made. Calls a broker does not
//! support print their error (tansu 0.6.0 has no CreatePartitions, OffsetDelete
//! or DeleteAcls, and its memory storage keeps no SCRAM users).
//!
//! ```sh
//! cargo run --example admin --features testkit
//! ```

use std::collections::BTreeMap;

use kafka_sync::admin::{
    AclBinding, AclOperation, AlterConfigOp, ConfigResource, ResourceType, ScramMechanism,
    UserScramCredentialAlteration,
};
use kafka_sync::testkit::{self, Broker};
use kafka_sync::{Admin, KafkaClient, NewTopic, ProducerConfig, Record, TopicPartition};

fn main() -> kafka_sync::Result<()> {
    let broker = Broker::start()?;
    let admin = KafkaClient::new(&broker.bootstrap())?.admin();

    let cluster = admin.describe_cluster()?;
    println!(
        "cluster {:?}, controller {:?}",
        cluster.cluster_id,
        cluster.controller.map(|b| b.id)
    );
    for b in &cluster.brokers {
        println!("  broker {} at {}", b.id, b.addr());
    }

    let events = testkit::unique_name("admin-events");
    let audit = testkit::unique_name("admin-audit");
    admin.client().create_topic(&audit, 1, 1)?;
    let created = admin.create_topics(&[
        NewTopic::new(&events, 3, 1).config("retention.ms", "3600000"),
        NewTopic::new(&audit, 1, 1), // exists already: refused on its own
    ])?;
    for (name, result) in &created {
        println!("create {name}: {result:?}");
    }

    for (name, topic) in admin.describe_topics(&[&events, &audit])? {
        let topic = topic?;
        println!("{name}: {} partitions", topic.partitions.len());
        for p in &topic.partitions {
            println!(
                "  {} leader {:?} replicas {:?} isr {:?}",
                p.id, p.leader, p.replicas, p.isr
            );
        }
    }

    let resource = ConfigResource::topic(&events);
    admin.incremental_alter_configs(
        &resource,
        &[
            AlterConfigOp::set("retention.ms", "600000"),
            AlterConfigOp::set("cleanup.policy", "compact"),
        ],
    )?;
    for (resource, entries) in admin.describe_configs(&[resource])? {
        println!("{resource}:");
        for e in entries? {
            println!("  {} = {:?} ({:?})", e.name, e.value, e.source);
        }
    }

    match admin.create_partitions(&events, 6) {
        Ok(()) => println!("{events} now has 6 partitions"),
        Err(e) => println!("create_partitions: {e}"),
    }

    groups(&admin, &events)?;
    acls(&admin, &events);
    scram(&admin)?;

    for (name, result) in admin.delete_topics(&[&events, &audit])? {
        println!("delete {name}: {result:?}");
    }
    Ok(())
}

/// Writes a few records, sets a group's offsets as a reset tool would, and
/// reads them back with the group's lag.
fn groups(admin: &Admin, topic: &str) -> kafka_sync::Result<()> {
    let producer = admin
        .client()
        .topic(topic)?
        .get_sync_producer(ProducerConfig::default())?;
    for i in 0..10 {
        producer.send(Record::new(format!("record {i}")).partition(0))?;
    }
    let group = testkit::unique_name("admin-group");
    let offsets = BTreeMap::from([(TopicPartition::new(topic, 0), 4)]);
    for (tp, result) in admin.alter_consumer_group_offsets(&group, &offsets)? {
        println!("set {group} {tp:?} to 4: {result:?}");
    }
    for (tp, lag) in admin.consumer_group_lag(&group)? {
        println!(
            "{group} {}/{}: committed {} of {}, lag {}",
            tp.topic, tp.partition, lag.committed, lag.high_watermark, lag.lag
        );
    }
    for listing in admin.list_consumer_groups()? {
        println!("group {} ({:?})", listing.group_id, listing.state);
    }
    for (name, description) in admin.describe_consumer_groups(&[&group])? {
        match description {
            Ok(d) => println!("{name}: {} with {} members", d.state, d.members.len()),
            Err(e) => println!("{name}: {e}"),
        }
    }
    match admin.delete_consumer_group_offsets(&group, &[TopicPartition::new(topic, 0)]) {
        Ok(results) => println!("delete offsets: {results:?}"),
        Err(e) => println!("delete offsets: {e}"),
    }
    for (name, result) in admin.delete_consumer_groups(&[&group])? {
        println!("delete group {name}: {result:?}");
    }
    Ok(())
}

/// Lets one user read the topic, lists the topic's ACLs, and removes them.
/// tansu 0.6.0 answers CreateAcls with no results and has no DeleteAcls, so
/// there each call prints its error.
fn acls(admin: &Admin, topic: &str) {
    let binding = AclBinding::allow(ResourceType::Topic, topic, "User:alice", AclOperation::Read);
    match admin.create_acls(std::slice::from_ref(&binding)) {
        Ok(results) => println!("create ACL: {results:?}"),
        Err(e) => println!("create ACL: {e}"),
    }
    match admin.describe_acls(&binding.to_filter()) {
        Ok(bindings) => {
            for b in bindings {
                println!(
                    "ACL {:?} {} {:?} {:?} on {}",
                    b.permission_type, b.principal, b.operation, b.resource_type, b.resource_name
                );
            }
        }
        Err(e) => println!("describe ACLs: {e}"),
    }
    match admin.delete_acls(&[binding.to_filter()]) {
        Ok(results) => println!("delete ACLs: {results:?}"),
        Err(e) => println!("delete ACLs: {e}"),
    }
}

/// Creates (or changes) a SCRAM-SHA-512 user; the password is salted and
/// hashed here, only the salted password reaches the broker.
fn scram(admin: &Admin) -> kafka_sync::Result<()> {
    let results = admin.alter_user_scram_credentials(&[UserScramCredentialAlteration::upsert(
        "alice",
        ScramMechanism::ScramSha512,
        8192,
        "alice-secret",
    )])?;
    println!("upsert alice: {:?}", results["alice"]);
    for (user, credentials) in admin.describe_user_scram_credentials(Some(&["alice"]))? {
        println!("{user}: {credentials:?}");
    }
    Ok(())
}
