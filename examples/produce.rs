//! Produces records with delivery reports, then one record synchronously.
//!
//! ```sh
//! cargo run --example produce --features testkit
//! KAFKA_BOOTSTRAP=127.0.0.1:9092 cargo run --example produce --features testkit
//! ```

use std::time::Duration;

use kafka_sync::producer::{Compression, ProducerConfig, Record};
use kafka_sync::testkit::{self, Broker};
use kafka_sync::KafkaClient;

fn main() -> kafka_sync::Result<()> {
    // With KAFKA_BOOTSTRAP set, this uses that broker and starts nothing.
    let broker = Broker::start()?;
    let client = KafkaClient::new(&broker.bootstrap())?;
    let name = testkit::unique_name("produce-example");
    client.create_topic(&name, 3, 1)?;
    let topic = client.topic(&name)?;

    let producer = topic.get_producer(
        ProducerConfig::default()
            .linger(Duration::from_millis(5))
            .compression(Compression::Lz4)
            .delivery_reports(true),
    )?;
    producer.produce(b"hello")?;
    producer.produce_keyed(b"user-42", b"clicked")?;
    producer.send(
        Record::new(b"with a header")
            .key(b"user-7")
            .header("trace-id", b"abc123"),
    )?;
    producer.flush(Duration::from_secs(10))?;
    while let Some(report) = producer.get_delivery_report(false, None) {
        match &report.result {
            Ok(meta) => println!(
                "delivered {:?} to partition {} at offset {}",
                String::from_utf8_lossy(report.record.get_value().unwrap_or_default()),
                meta.partition,
                meta.offset
            ),
            Err(e) => println!("failed: {e}"),
        }
    }
    println!("{:?}", producer.metrics());

    let sync = topic.get_sync_producer(ProducerConfig::default())?;
    let meta = sync.produce_keyed(b"user-42", b"purchased")?;
    println!(
        "sync: partition {} offset {} timestamp {}",
        meta.partition, meta.offset, meta.timestamp
    );
    Ok(())
}
