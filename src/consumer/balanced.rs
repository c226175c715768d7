//! [`BalancedConsumer`]: a member of a consumer group that reads the
//! partitions the group's coordinator and leader give it, sharing a topic
//! (or several, or a pattern) with the other members of any client.
//!
//! Three threads besides the caller's:
//!
//! ```text
//! caller thread              kafka-sync-rebalance         kafka-sync-heartbeat
//! ─────────────              ────────────────────         ────────────────────
//! consume / iterate ──poll──────────────────────────────▶ max_poll_interval
//!   ◀── queue ◀── fetcher    GroupEvent ◀──────────────── join / sync / heartbeat
//!                            Assigned: committed offsets,
//!                              on_assign, start fetching
//!                            Revoked: stop fetching, drop
//!                              queued, commit, on_revoke, ack ──▶ rejoin
//! ```
//!
//! The rebalance thread applies every group event to the fetcher's
//! partition set, so a rebalance never waits for the caller to iterate
//! (pykafka #701), and a revoked partition is taken out of the queue under
//! the queue's lock: no message of it is handed out afterwards.
//!
//! The membership thread speaks either group protocol
//! ([`GroupProtocol`](crate::GroupProtocol)): the classic one, or KIP-848's
//! ConsumerGroupHeartbeat, whose broker-side assignments arrive as the same
//! events.
//!
//! Beside this file: `rebalance` (the rebalance thread), `commit` (committed
//! offsets, commits, auto commit), `close` (the shared close deadline) and
//! `config`.
//!
//! # References
//! Kafka protocol guide, "The Consumer Group Protocol", "OffsetCommit API",
//! "OffsetFetch API"; KIP-62 (`max.poll.interval.ms`), KIP-345 (static
//! membership), KIP-429 (cooperative rebalancing), KIP-848 (the consumer
//! group protocol).

mod close;
mod commit;
mod config;
mod rebalance;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::debug;
use parking_lot::Mutex;

use crate::cluster::KafkaClient;
use crate::cluster::Topic;
use crate::error::{Error, Result};

use super::assignor::TopicPartition;
use super::fetcher::{self, FetchSettings, FetcherHandle};
use super::membership::{GroupMembership, Subscription};
use super::message::Message;
use super::offsets::GroupCoordinator;
use super::queue::{Item, Shared};
use crate::thread as worker;

pub use config::BalancedConsumerConfig;
use rebalance::RebalanceHandle;

/// Longest the caller waits in one go inside `consume` before it tells the
/// membership thread again that it is iterating.
const POLL_SLICE: Duration = Duration::from_millis(500);

/// The name of the automatic commit's thread.
const COMMIT_THREAD: &str = "kafka-sync-commit";

impl Topic {
    /// A member of consumer group `group` reading this topic: the group's
    /// members share its partitions, each partition read by one member.
    ///
    /// The consumer joins the group in the background; messages arrive once
    /// the first rebalance assigned it partitions (with a Kafka broker's
    /// default `group.initial.rebalance.delay.ms`, about 3 s after the first
    /// member joins).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use kafka_sync::{Assignor, BalancedConsumerConfig, KafkaClient};
    ///
    /// let topic = KafkaClient::new("127.0.0.1:9092")?.topic("events")?;
    /// let consumer = topic.get_balanced_consumer("billing", BalancedConsumerConfig::default()
    ///     .assignor(Assignor::RoundRobin)
    ///     .on_assign(|partitions| println!("now reading {partitions:?}"))
    ///     .consumer_timeout(Duration::from_secs(5)))?;
    /// for message in &consumer {
    ///     let message = message?;
    ///     println!("{}/{} {:?}", message.partition(), message.offset(), message.value());
    /// }
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for invalid settings; an error starting a thread.
    pub fn get_balanced_consumer(
        &self,
        group: &str,
        config: BalancedConsumerConfig,
    ) -> Result<BalancedConsumer> {
        BalancedConsumer::new(
            self.client().clone(),
            group,
            Subscription::topics([self.name()]),
            config,
        )
    }
}

impl KafkaClient {
    /// A member of consumer group `group` reading the topics of
    /// `subscription`: a list of topics, or every topic matching a pattern
    /// (re-evaluated every `metadata_refresh_interval`).
    ///
    /// ```no_run
    /// use kafka_sync::{BalancedConsumerConfig, KafkaClient, Subscription};
    ///
    /// let client = KafkaClient::new("127.0.0.1:9092")?;
    /// let consumer = client.get_balanced_consumer(
    ///     "billing",
    ///     Subscription::pattern("^orders-.*")?,
    ///     BalancedConsumerConfig::default(),
    /// )?;
    /// println!("reading {:?}", consumer.assignment());
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for invalid settings; an error starting a thread.
    pub fn get_balanced_consumer(
        &self,
        group: &str,
        subscription: Subscription,
        config: BalancedConsumerConfig,
    ) -> Result<BalancedConsumer> {
        BalancedConsumer::new(self.clone(), group, subscription, config)
    }
}

/// A consumer group member; `Send + Sync`.
///
/// Iterating `&consumer` yields `Result<Message>` from the partitions
/// currently assigned to it and ends after
/// [`consumer_timeout`](BalancedConsumerConfig::consumer_timeout) without a
/// message. Messages of a partition come in offset order.
///
/// **Rebalances** happen on background threads, whatever the caller is
/// doing. When partitions are revoked the consumer stops fetching them,
/// drops their prefetched messages, commits their positions (with auto
/// commit), calls [`on_revoke`](BalancedConsumerConfig::on_revoke), and only
/// then lets the group move them; no message of a revoked partition is
/// handed out afterwards. Newly assigned partitions start at the group's
/// committed offset, or where
/// [`auto_offset_reset`](BalancedConsumerConfig::auto_offset_reset) says.
/// Delivery is at least once: a message handed out but not yet committed
/// when the consumer crashes is read again by the next owner.
///
/// **Liveness**: the caller must iterate (or call [`consume`](Self::consume))
/// at least every
/// [`max_poll_interval`](BalancedConsumerConfig::max_poll_interval), or the
/// consumer leaves the group until it does again.
///
/// Dropping the consumer commits its positions (with auto commit), leaves
/// the group and stops its threads, all steps together bounded by
/// [`close_timeout`](BalancedConsumerConfig::close_timeout);
/// [`close`](Self::close) does the same and reports what failed.
///
/// If one of its threads dies (a panic), the consumer no longer knows its
/// assignment: it stops reading every partition and every call returns
/// [`Error::ThreadPanicked`]; the iteration ends after handing it out.
pub struct BalancedConsumer {
    client: KafkaClient,
    group: String,
    config: BalancedConsumerConfig,
    shared: Arc<Shared>,
    coordinator: Arc<GroupCoordinator>,
    membership: Option<Arc<GroupMembership>>,
    fetcher: Option<FetcherHandle>,
    rebalancer: Option<RebalanceHandle>,
    next_auto_commit: Mutex<Instant>,
    /// Set while an automatic commit runs, so they never pile up and a
    /// revocation can wait for it.
    auto_commit_running: Arc<AtomicBool>,
    /// The latest automatic commit's thread; close joins it before the
    /// final commit.
    auto_commit: Mutex<Option<worker::Handle>>,
}

impl std::fmt::Debug for BalancedConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BalancedConsumer")
            .field("group", &self.group)
            .field("membership", &self.membership)
            .field("assignment", &self.assignment())
            .finish()
    }
}

impl BalancedConsumer {
    fn new(
        client: KafkaClient,
        group: &str,
        subscription: Subscription,
        config: BalancedConsumerConfig,
    ) -> Result<BalancedConsumer> {
        config.validate()?;
        let request_timeout = client.config().request_timeout();
        if config.fetch.fetch_max_wait >= request_timeout {
            return Err(Error::Config(format!(
                "fetch_max_wait ({:?}) must be shorter than the client's request_timeout \
                 ({request_timeout:?}), or every idle fetch would time out",
                config.fetch.fetch_max_wait
            )));
        }
        let membership_config = config.membership(group, subscription);
        let coordinator = Arc::new(GroupCoordinator::new(client.clone(), group));
        let (wake_tx, wake_rx) = crossbeam_channel::bounded(1);
        let shared = Arc::new(Shared::new(
            format!("group `{group}`"),
            config.fetch.queue_limits(),
            wake_tx,
        ));
        let fetcher = fetcher::spawn(
            client.clone(),
            Arc::clone(&shared),
            wake_rx,
            FetchSettings::from_config(&config.fetch),
        )?;
        let membership = match GroupMembership::start(&client, membership_config) {
            Ok(m) => Arc::new(m),
            Err(e) => {
                fetcher.stop(&shared, crate::time::after(config.fetch.close_timeout));
                return Err(e);
            }
        };
        let auto_commit_running = Arc::new(AtomicBool::new(false));
        let rebalancer = rebalance::spawn(rebalance::Rebalancer {
            client: client.clone(),
            config: config.clone(),
            shared: Arc::clone(&shared),
            coordinator: Arc::clone(&coordinator),
            membership: Arc::clone(&membership),
            auto_commit_running: Arc::clone(&auto_commit_running),
        });
        let rebalancer = match rebalancer {
            Ok(r) => r,
            Err(e) => {
                fetcher.stop(&shared, crate::time::after(config.fetch.close_timeout));
                return Err(e);
            }
        };
        debug!("balanced consumer of group `{group}` started");
        Ok(BalancedConsumer {
            client,
            group: group.to_owned(),
            next_auto_commit: Mutex::new(crate::time::after(config.fetch.auto_commit_interval)),
            config,
            shared,
            coordinator,
            membership: Some(membership),
            fetcher: Some(fetcher),
            rebalancer: Some(rebalancer),
            auto_commit_running,
            auto_commit: Mutex::new(None),
        })
    }

    /// The consumer group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &BalancedConsumerConfig {
        &self.config
    }

    /// The partitions this consumer reads now, sorted: those of the latest
    /// rebalance, once their starting offsets are known. Empty while the
    /// consumer is joining or out of the group.
    pub fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.shared
            .lock()
            .partitions
            .iter()
            .map(|p| TopicPartition::new(&*p.topic, p.id))
            .collect()
    }

    /// The member id: the one the coordinator gave this consumer (empty
    /// before it first joined) with [`GroupProtocol::Classic`], the one it
    /// generated for itself at start (KIP-1082) with
    /// [`GroupProtocol::Consumer`].
    ///
    /// [`GroupProtocol::Classic`]: crate::GroupProtocol::Classic
    /// [`GroupProtocol::Consumer`]: crate::GroupProtocol::Consumer
    pub fn member_id(&self) -> String {
        self.membership
            .as_ref()
            .map(|m| m.member_id())
            .unwrap_or_default()
    }

    /// The group generation this consumer last joined (with the KIP-848
    /// consumer protocol: its member epoch), `-1` when it is not a member.
    /// Commits carry it.
    pub fn generation(&self) -> i32 {
        self.membership.as_ref().map_or(-1, |m| m.generation())
    }

    /// The consumer's group id, generation, member id and instance id, for
    /// [`Producer::send_offsets_to_transaction`](crate::Producer::send_offsets_to_transaction).
    pub fn group_metadata(&self) -> super::ConsumerGroupMetadata {
        let instance = self
            .membership
            .as_ref()
            .and_then(|m| m.group_instance_id().map(str::to_owned));
        super::ConsumerGroupMetadata::member(
            &self.group,
            self.generation(),
            self.member_id(),
            instance,
        )
    }

    /// Whether the consumer is still a running group member: `false` after
    /// a fatal group error (such as a fenced static member) or close.
    pub fn is_member(&self) -> bool {
        self.membership.as_ref().is_some_and(|m| m.is_running())
    }

    /// The next message, waiting up to `timeout`; `Ok(None)` when none came.
    ///
    /// # Errors
    /// An error a partition stopped with, a group error (the membership
    /// thread reports it once), or [`Error::Closed`] after close.
    pub fn consume(&self, timeout: Duration) -> Result<Option<Message>> {
        self.next_message(Some(crate::time::after(timeout)))
    }

    /// Up to `max` messages at once, waiting up to `timeout` for the first;
    /// taken from the prefetch queue under one lock. Empty when none came in
    /// time. Errors as [`consume`](Self::consume); see
    /// [`SimpleConsumer::consume_batch`](crate::SimpleConsumer::consume_batch).
    pub fn consume_batch(&self, max: usize, timeout: Duration) -> Result<Vec<Message>> {
        let deadline = crate::time::after(timeout);
        loop {
            if let Some(m) = &self.membership {
                m.poll();
            }
            self.maybe_auto_commit();
            let slice = Instant::now() + POLL_SLICE.min(self.config.group.max_poll_interval / 2);
            let batch = self.shared.pop_batch(max, Some(deadline.min(slice)))?;
            if !batch.is_empty() || max == 0 || Instant::now() >= deadline {
                return Ok(batch);
            }
        }
    }

    /// The next message, waiting until one arrives however long it takes.
    pub fn consume_blocking(&self) -> Result<Message> {
        loop {
            if let Some(m) = self.next_message(None)? {
                return Ok(m);
            }
        }
    }

    fn next_message(&self, deadline: Option<Instant>) -> Result<Option<Message>> {
        loop {
            if let Some(m) = &self.membership {
                m.poll();
            }
            self.maybe_auto_commit();
            let now = Instant::now();
            let slice = now + POLL_SLICE.min(self.config.group.max_poll_interval / 2);
            let until = deadline.map_or(slice, |d| d.min(slice));
            match self.shared.pop(Some(until))? {
                Some(Item::Message(m)) => return Ok(Some(m)),
                Some(Item::Error(e)) => return Err(e.error),
                None if deadline.is_some_and(|d| Instant::now() >= d) => return Ok(None),
                None => {}
            }
        }
    }

    /// An iterator over messages that ends after `consumer_timeout` without
    /// one (never, when it is `None`); the same as `&consumer`.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            consumer: self,
            ended: false,
        }
    }

    /// The next offset the caller will receive from each assigned partition
    /// (one past the last message returned); partitions without a position
    /// are left out.
    pub fn positions(&self) -> BTreeMap<TopicPartition, i64> {
        self.shared
            .lock()
            .partitions
            .iter()
            .filter_map(|p| Some((TopicPartition::new(&*p.topic, p.id), p.position()?)))
            .collect()
    }

    /// The high watermark (the offset after the last committed record) of
    /// each assigned partition, as the latest Fetch answer for it carried:
    /// no request is sent, so it lags the broker by up to one fetch.
    /// Partitions not fetched yet are left out.
    pub fn high_watermarks(&self) -> BTreeMap<TopicPartition, i64> {
        self.shared
            .lock()
            .partitions
            .iter()
            .filter(|p| p.high_watermark >= 0)
            .map(|p| (TopicPartition::new(&*p.topic, p.id), p.high_watermark))
            .collect()
    }

    /// Moves an assigned partition to `offset`: the next message from it
    /// will be the one at `offset` (or the first after it). Queued messages
    /// of the partition are dropped. The move lasts while the partition
    /// stays assigned: after a rebalance it starts again from the committed
    /// offset, so commit the new position if it should outlive one.
    ///
    /// # Errors
    /// [`Error::Config`] for a partition not assigned to this consumer or a
    /// negative offset.
    pub fn seek(&self, partition: &TopicPartition, offset: i64) -> Result<()> {
        if offset < 0 {
            return Err(Error::Config(format!(
                "cannot seek {partition} to negative offset {offset}"
            )));
        }
        {
            let mut state = self.shared.lock();
            let Some(p) = state.partition_mut(&partition.topic, partition.partition) else {
                return Err(Error::Config(format!(
                    "{partition} is not assigned to this member of group `{}`",
                    self.group
                )));
            };
            debug!("group `{}`: seek {partition} to {offset}", self.group);
            p.seek(Some(offset));
        }
        self.shared.poke_fetcher();
        Ok(())
    }

    /// Stops handing out messages of `partitions` (and fetching them) until
    /// [`resume`](Self::resume) or until they are revoked; partitions not
    /// assigned are ignored. The consumer stays in the group meanwhile.
    pub fn pause(&self, partitions: &[TopicPartition]) {
        self.set_paused(partitions, true);
    }

    /// Resumes partitions paused with [`pause`](Self::pause).
    pub fn resume(&self, partitions: &[TopicPartition]) {
        self.set_paused(partitions, false);
    }

    fn set_paused(&self, partitions: &[TopicPartition], paused: bool) {
        {
            let mut state = self.shared.lock();
            for tp in partitions {
                if let Some(p) = state.partition_mut(&tp.topic, tp.partition) {
                    p.set_paused(paused);
                }
            }
        }
        // The fetcher may be holding back other partitions for these.
        self.shared.poke_fetcher();
    }

    /// The paused partitions, sorted.
    pub fn paused(&self) -> BTreeSet<TopicPartition> {
        self.shared
            .lock()
            .partitions
            .iter()
            .filter(|p| p.paused)
            .map(|p| TopicPartition::new(&*p.topic, p.id))
            .collect()
    }
}

/// Iterator over a [`BalancedConsumer`]'s messages; see
/// [`BalancedConsumer::iter`].
#[derive(Debug)]
pub struct Iter<'a> {
    consumer: &'a BalancedConsumer,
    /// A thread of the consumer died and its error was handed out: the
    /// iteration is over.
    ended: bool,
}

impl Iterator for Iter<'_> {
    type Item = Result<Message>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let deadline = self
            .consumer
            .config
            .consumer_timeout_value()
            .map(crate::time::after);
        match self.consumer.next_message(deadline) {
            Ok(Some(m)) => Some(Ok(m)),
            Ok(None) | Err(Error::Closed(_)) => None,
            Err(e) => {
                self.ended = matches!(e, Error::ThreadPanicked { .. });
                Some(Err(e))
            }
        }
    }
}

impl<'a> IntoIterator for &'a BalancedConsumer {
    type Item = Result<Message>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[cfg(all(test, feature = "testkit"))]
mod tests {
    use super::*;
    use crate::consumer::OffsetReset;
    use crate::producer::ProducerConfig;
    use crate::testkit;

    const DEADLINE: Duration = Duration::from_secs(30);

    #[test]
    fn a_panicking_membership_thread_stops_the_consumer_with_an_error() {
        let broker = testkit::shared().expect("test broker starts");
        let client = KafkaClient::new(&broker.bootstrap()).expect("client bootstraps");
        let name = testkit::unique_name("balanced-threads");
        client.create_topic(&name, 1, 1).expect("topic is created");
        let topic = client.topic(&name).expect("topic exists");
        let producer = topic.get_producer(ProducerConfig::default()).unwrap();
        for i in 0..5 {
            producer.produce(format!("v{i}")).unwrap();
        }
        producer.flush(DEADLINE).expect("records are written");
        let config = BalancedConsumerConfig::default()
            .auto_offset_reset(OffsetReset::Earliest)
            .session_timeout(Duration::from_secs(6))
            .heartbeat_interval(Duration::from_secs(1))
            .fetch_max_wait(Duration::from_millis(100));
        let consumer = topic
            .get_balanced_consumer(&testkit::unique_name("balanced-threads"), config)
            .unwrap();
        consumer
            .consume(DEADLINE)
            .unwrap()
            .expect("a message once assigned");
        consumer
            .membership
            .as_ref()
            .expect("a member")
            .panic_for_test();
        let started = Instant::now();
        let e = loop {
            // Messages prefetched before the panic may still come first.
            match consumer.consume(DEADLINE) {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("consume timed out instead of failing"),
                Err(e) => break e,
            }
        };
        assert!(
            matches!(
                e,
                Error::ThreadPanicked {
                    thread: crate::consumer::membership::HEARTBEAT_THREAD,
                    ..
                }
            ),
            "{e}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(consumer.assignment().is_empty(), "no partition is read on");
        assert!(!consumer.is_member());
        let mut iter = consumer.iter();
        assert!(matches!(
            iter.next(),
            Some(Err(Error::ThreadPanicked { .. }))
        ));
        assert!(iter.next().is_none(), "the iteration ends after the error");
    }
}
