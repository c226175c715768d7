//! Quickstart: starts a throwaway broker (unless `KAFKA_BOOTSTRAP` names one),
//! creates a topic, prints the cluster and topic metadata, produces a few
//! records and reads them back.
//!
//! ```sh
//! cargo run --example quickstart --features testkit
//! ```

use std::time::Duration;

use kafka_sync::testkit::{self, Broker};
use kafka_sync::{KafkaClient, OffsetReset, ProducerConfig, SimpleConsumerConfig};

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

    let producer = topic.get_producer(ProducerConfig::default().delivery_reports(true))?;
    producer.produce(b"hello")?;
    producer.produce_keyed(b"user-42", b"clicked")?;
    producer.produce_keyed(b"user-42", b"purchased")?;
    producer.flush(Duration::from_secs(10))?;
    for report in producer.delivery_reports().try_iter() {
        let meta = report.result?;
        println!(
            "  produced {:?} to partition {} at offset {}",
            String::from_utf8_lossy(report.record.get_value().unwrap_or_default()),
            meta.partition,
            meta.offset
        );
    }
    drop(producer);
    println!("high watermarks {:?}", topic.latest_available_offsets()?);

    // Read everything back; iteration ends after one second without a message.
    let consumer = topic.get_simple_consumer(
        SimpleConsumerConfig::default()
            .auto_offset_reset(OffsetReset::Earliest)
            .consumer_timeout(Duration::from_secs(1)),
    )?;
    for message in &consumer {
        let message = message?;
        println!(
            "  consumed {:?} (key {:?}) from partition {} at offset {}",
            String::from_utf8_lossy(message.value_bytes()),
            message.key().map(String::from_utf8_lossy),
            message.partition(),
            message.offset()
        );
    }
    drop(consumer);

    client.delete_topic(&name)?;
    println!("deleted `{name}`");
    Ok(())
}
