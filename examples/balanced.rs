//! Balanced: one member of a consumer group. Run it in two or three
//! terminals with the same group to watch the partitions move between them
//! as members come and go.
//!
//! ```sh
//! cargo run --example balanced -- 127.0.0.1:9092 events billing
//! cargo run --example balanced -- 127.0.0.1:9092 '^orders-.*' billing pattern
//! cargo run --example balanced -- 127.0.0.1:9092 events billing roundrobin
//! ```
//!
//! The fourth argument picks the assignor (`range`, `roundrobin`, `sticky`,
//! `cooperative-sticky`), or `pattern` to read every topic whose name
//! matches the second argument. Positions are committed every 5 seconds, when
//! partitions are revoked, and on exit (Ctrl-C ends the process without
//! committing: the next owner of its partitions reads some messages again).

use std::time::Duration;

use kafka_sync::{
    Assignor, BalancedConsumerConfig, KafkaClient, OffsetReset, Subscription, TopicPartition,
};

fn names(partitions: &[TopicPartition]) -> String {
    let list: Vec<String> = partitions.iter().map(ToString::to_string).collect();
    list.join(", ")
}

fn main() -> kafka_sync::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(bootstrap), Some(topic), Some(group)) = (args.first(), args.get(1), args.get(2))
    else {
        eprintln!("usage: balanced BOOTSTRAP TOPIC|PATTERN GROUP [ASSIGNOR|pattern]");
        std::process::exit(2);
    };
    let mode = args.get(3).map_or("range", String::as_str);
    let client = KafkaClient::new(bootstrap)?;

    let mut config = BalancedConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .session_timeout(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_secs(1))
        .metadata_refresh_interval(Duration::from_secs(5))
        .on_assign(|partitions| println!("+ assigned {}", names(partitions)))
        .on_revoke(|partitions| println!("- revoked  {}", names(partitions)))
        .consumer_timeout(Duration::from_secs(30));
    let subscription = if mode == "pattern" {
        Subscription::pattern(topic)?
    } else {
        let assignor = Assignor::from_name(mode)
            .ok_or_else(|| kafka_sync::Error::Config(format!("unknown assignor `{mode}`")))?;
        config = config.assignor(assignor);
        Subscription::topics([topic.as_str()])
    };
    let consumer = client.get_balanced_consumer(group, subscription, config)?;
    println!("joining group `{group}`; stops after 30 s without a message");

    let mut count = 0u64;
    for message in &consumer {
        let message = message?;
        count += 1;
        println!(
            "{}-{} @{}: {}",
            message.topic(),
            message.partition(),
            message.offset(),
            String::from_utf8_lossy(message.value_bytes())
        );
    }
    println!("{count} messages; leaving the group");
    consumer.close()
}
