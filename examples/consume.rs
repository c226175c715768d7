//! Consume: prints the messages of a topic, from the beginning (or from a
//! group's committed offsets), until nothing arrives for two seconds.
//!
//! ```sh
//! cargo run --example consume -- 127.0.0.1:9092 events            # every partition
//! cargo run --example consume -- 127.0.0.1:9092 events audit 0,2  # group "audit", partitions 0 and 2
//! ```
//!
//! With a group, positions are committed every 5 seconds and on exit, so the
//! next run resumes where this one stopped.

use std::time::Duration;

use kafka_sync::{KafkaClient, OffsetReset, SimpleConsumerConfig};

fn main() -> kafka_sync::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(bootstrap), Some(topic)) = (args.first(), args.get(1)) else {
        eprintln!("usage: consume BOOTSTRAP TOPIC [GROUP [PARTITIONS]]");
        std::process::exit(2);
    };
    let client = KafkaClient::new(bootstrap)?;
    let topic = client.topic(topic)?;

    let mut config = SimpleConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .consumer_timeout(Duration::from_secs(2));
    if let Some(group) = args.get(2) {
        config = config.consumer_group(group);
    }
    if let Some(list) = args.get(3) {
        let partitions: Vec<i32> = list
            .split(',')
            .map(|p| p.trim().parse())
            .collect::<Result<_, _>>()
            .map_err(|_| kafka_sync::Error::Config(format!("bad partition list `{list}`")))?;
        config = config.partitions(partitions);
    }

    let consumer = topic.get_simple_consumer(config)?;
    println!(
        "reading `{}` partitions {:?}",
        topic.name(),
        consumer.partitions()
    );
    let mut count = 0u64;
    for message in &consumer {
        let message = message?;
        count += 1;
        println!(
            "{}/{} @{} key={:?} value={:?} headers={}",
            message.partition(),
            message.offset(),
            message.timestamp(),
            message.key().map(String::from_utf8_lossy),
            String::from_utf8_lossy(message.value_bytes()),
            message.headers().len(),
        );
    }
    println!("{count} messages; lag now {:?}", consumer.lag()?);
    // Dropping commits the positions when a group is set.
    consumer.close()
}
