//! SimpleConsumer's committed offsets: sync, async and automatic commits,
//! and where a partition without a committed offset starts.

#![cfg(feature = "testkit")]

mod support;

use std::time::Duration;

use kafka_sync::testkit::unique_name;
use kafka_sync::{Error, OffsetReset, SimpleConsumerConfig};
use support::*;

#[test]
fn a_new_consumer_of_the_group_resumes_after_the_last_commit() {
    let (client, name) = topic_with_values("offsets", 1, 6);
    let group = unique_name("group");
    let config = earliest().consumer_group(&group).enable_auto_commit(false);
    let first = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(config.clone())
        .unwrap();
    consume_n(&first, 4);
    first.commit_offsets().unwrap();
    drop(first);
    let second = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(config)
        .unwrap();
    let rest: Vec<i64> = consume_n(&second, 2).iter().map(|m| m.offset()).collect();
    assert_eq!(rest, [4, 5]);
}

#[test]
fn closing_commits_the_positions_when_auto_commit_is_on() {
    let (client, name) = topic_with_values("offsets", 1, 6);
    let group = unique_name("group");
    let config = earliest()
        .consumer_group(&group)
        .auto_commit(Duration::from_secs(60));
    let first = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(config.clone())
        .unwrap();
    consume_n(&first, 3);
    first.close().unwrap();
    let second = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(config)
        .unwrap();
    assert_eq!(
        second.committed_offsets().unwrap(),
        [(0, Some(3))].into_iter().collect()
    );
    assert_eq!(second.position(0), Some(3));
}

#[test]
fn auto_commit_runs_on_its_interval_while_consuming() {
    let (client, name) = topic_with_values("offsets", 1, 3);
    let group = unique_name("group");
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(
            earliest()
                .consumer_group(&group)
                .auto_commit(Duration::from_millis(100)),
        )
        .unwrap();
    consume_n(&consumer, 3);
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        // Consuming (even with nothing to read) drives the interval.
        let _ = consumer.consume(Duration::from_millis(150)).unwrap();
        if consumer.committed_offsets().unwrap().get(&0) == Some(&Some(3)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never auto-committed");
    }
}

#[test]
fn an_async_commit_reports_its_result_on_the_channel() {
    let (client, name) = topic_with_values("offsets", 1, 2);
    let group = unique_name("group");
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest().consumer_group(&group).enable_auto_commit(false))
        .unwrap();
    consume_n(&consumer, 2);
    let result = consumer
        .commit_offsets_async()
        .recv_timeout(DEADLINE)
        .unwrap();
    result.unwrap();
    assert_eq!(
        consumer.committed_offsets().unwrap(),
        [(0, Some(2))].into_iter().collect()
    );
}

#[test]
fn committing_without_a_group_is_a_config_error() {
    let (client, name) = topic_with_values("offsets", 1, 0);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest())
        .unwrap();
    assert!(matches!(consumer.commit_offsets(), Err(Error::Config(_))));
    let async_result = consumer.commit_offsets_async().recv().unwrap();
    assert!(matches!(async_result, Err(Error::Config(_))));
}

#[test]
fn without_a_committed_offset_earliest_starts_at_the_beginning_and_latest_at_the_end() {
    let (client, name) = topic_with_values("offsets", 1, 4);
    let group = unique_name("group");
    for (reset, start) in [(OffsetReset::Earliest, 0), (OffsetReset::Latest, 4)] {
        let consumer = client
            .topic(&name)
            .unwrap()
            .get_simple_consumer(
                SimpleConsumerConfig::default()
                    .consumer_group(&group)
                    .enable_auto_commit(false)
                    .auto_offset_reset(reset),
            )
            .unwrap();
        assert_eq!(consumer.position(0), Some(start), "{reset:?}");
    }
}

#[test]
fn without_a_committed_offset_reset_policy_error_reports_the_partition_until_a_seek() {
    let (client, name) = topic_with_values("offsets", 1, 4);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(SimpleConsumerConfig::default().auto_offset_reset(OffsetReset::Error))
        .unwrap();
    assert_eq!(consumer.position(0), None);
    let e = consumer.consume(Duration::from_secs(1)).unwrap_err();
    assert!(e.to_string().contains("no committed offset"), "{e}");
    assert!(consumer
        .consume(Duration::from_millis(200))
        .unwrap()
        .is_none());
    consumer.seek(0, 2).unwrap();
    let rest: Vec<i64> = consume_n(&consumer, 2).iter().map(|m| m.offset()).collect();
    assert_eq!(rest, [2, 3]);
}

#[test]
fn high_watermarks_come_from_the_fetch_answers_without_a_request() {
    let (client, name) = topic_with_values("high-watermarks", 2, 6);
    let consumer = client
        .topic(&name)
        .unwrap()
        .get_simple_consumer(earliest())
        .unwrap();
    let read = consume_n(&consumer, 12);
    assert_eq!(read.len(), 12);
    let high_watermarks = consumer.high_watermarks();
    let positions = consumer.positions();
    assert_eq!(positions.len(), 2, "{positions:?}");
    for (partition, position) in positions {
        let high_watermark = high_watermarks[&partition];
        // Everything was read: the position is the end the broker reported.
        assert_eq!(high_watermark, position, "partition {partition}");
    }
}
