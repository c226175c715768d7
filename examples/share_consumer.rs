//! Share groups (KIP-932): two members of share group `workers` take jobs
//! from one topic like a work queue. Each job goes to one member at a time;
//! a member accepts what it handled, releases what it wants retried (it comes
//! back, to either member, with a higher delivery count) and rejects what it
//! cannot handle (never delivered again).
//!
//! Runs on librdkafka's mock cluster (the testkit provisions it on first
//! use): no broker before Kafka 4.1 has share groups.
//!
//! ```sh
//! cargo run --example share_consumer --features testkit
//! ```

use std::time::Duration;

use kafka_sync::consumer::{AckType, AcknowledgementMode, ShareConsumerConfig};
use kafka_sync::testkit::{unique_name, MockCluster};
use kafka_sync::{OffsetReset, ProducerConfig, Subscription};

fn main() -> kafka_sync::Result<()> {
    let cluster = MockCluster::start(3)?;
    // The mock's share groups start at the latest offset unless told otherwise.
    cluster.set_share_group_auto_offset_reset(OffsetReset::Earliest)?;
    cluster.set_share_group_heartbeat_interval(Duration::from_millis(500))?;
    let topic = unique_name("jobs");
    cluster.create_topic(&topic, 2, 3)?;
    let client = cluster.client_builder().build()?;

    let config = ShareConsumerConfig::default()
        .acknowledgement_mode(AcknowledgementMode::Explicit)
        .consumer_timeout(Duration::from_secs(2));
    let mut workers = Vec::new();
    for name in ["left", "right"] {
        let consumer =
            client.get_share_consumer("workers", Subscription::topics([&topic]), config.clone())?;
        workers.push((name, consumer));
    }
    // Let the coordinator spread the partitions over both members.
    std::thread::sleep(Duration::from_secs(2));
    for (name, consumer) in &workers {
        println!("{name} is assigned {:?}", consumer.assignment());
    }

    let producer = client
        .topic(&topic)?
        .get_producer(ProducerConfig::default())?;
    for i in 0..12 {
        producer.produce_keyed(format!("job-{i}"), format!("job-{i}"))?;
    }
    producer.producer().flush(Duration::from_secs(10))?;

    std::thread::scope(|s| {
        let running: Vec<_> = workers
            .into_iter()
            .map(|(worker, consumer)| {
                s.spawn(move || -> kafka_sync::Result<()> {
                    for message in &consumer {
                        let m = message?;
                        let job = String::from_utf8_lossy(m.value_bytes()).into_owned();
                        let count = m.delivery_count().unwrap_or(1);
                        // Jobs 0 and 10 fail once and are retried; job-11 is poison.
                        let ack = if job == "job-11" {
                            AckType::Reject
                        } else if job.ends_with('0') && count == 1 {
                            AckType::Release
                        } else {
                            AckType::Accept
                        };
                        println!("{worker}: {job} (delivery {count}) -> {ack:?}");
                        consumer.acknowledge(&m, ack)?;
                    }
                    consumer.commit_sync(Duration::from_secs(5))?;
                    consumer.close()
                })
            })
            .collect();
        running
            .into_iter()
            .try_for_each(|w| w.join().expect("a worker panicked"))
    })
}
