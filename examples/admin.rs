//! The admin API: starts a throwaway broker (unless `KAFKA_BOOTSTRAP` names
//! one), creates topics, reads and changes their configs, describes the
//! cluster and deletes the topics.
//!
//! ```sh
//! cargo run --example admin --features testkit
//! ```

use kafka_sync::admin::{AlterConfigOp, ConfigResource};
use kafka_sync::testkit::{self, Broker};
use kafka_sync::{KafkaClient, NewTopic};

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

    for (name, result) in admin.delete_topics(&[&events, &audit])? {
        println!("delete {name}: {result:?}");
    }
    Ok(())
}
