//! Quickstart: starts a throwaway broker (unless `KAFKA_BOOTSTRAP` names one),
//! creates a topic and prints the cluster and topic metadata.
//!
//! ```sh
//! cargo run --example quickstart --features testkit
//! ```

use kafka_sync::testkit::{self, Broker};
use kafka_sync::KafkaClient;

fn main() -> kafka_sync::Result<()> {
    // With KAFKA_BOOTSTRAP set, this uses that broker and starts nothing.
    let broker = Broker::start()?;
    println!("broker at {}", broker.bootstrap());

    let client = KafkaClient::new(&broker.bootstrap())?;
    println!("cluster {:?}", client.cluster_id());
    for b in client.brokers() {
        println!("  broker {} at {}:{}", b.id, b.host, b.port);
    }

    let name = testkit::unique_name("quickstart");
    client.create_topic(&name, 3, 1)?;
    let topic = client.topic(&name)?;
    println!(
        "topic `{}` with {} partitions",
        topic.name(),
        topic.partitions().len()
    );
    for p in topic.partitions() {
        println!(
            "  partition {} leader {:?} replicas {:?} isr {:?}",
            p.id, p.leader, p.replicas, p.isr
        );
    }
    println!("high watermarks {:?}", topic.latest_available_offsets()?);

    client.delete_topic(&name)?;
    println!("deleted `{name}`");
    Ok(())
}
