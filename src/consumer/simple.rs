//! [`SimpleConsumer`]: reads explicitly chosen partitions of one topic, with
//! optional committed offsets in a consumer group it does not join.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use log::{debug, warn};
use parking_lot::Mutex;

use crate::cluster::Topic;
use crate::cluster::LATEST;
use crate::error::{Error, Result};

use super::config::{OffsetReset, SimpleConsumerConfig};
use super::fetcher::{self, FetchSettings, FetcherHandle, NewPartitions};
use super::message::Message;
use super::offsets::{reset_offsets, GroupCoordinator, Membership};
use super::queue::{Item, Shared};
use crate::thread::{self as worker, Joined};

/// The name of the threads that commit in the background.
const COMMIT_THREAD: &str = "kafka-sync-commit";

impl Topic {
    /// A consumer of this topic's partitions (all of them unless the config
    /// names some), with a background fetcher thread.
    ///
    /// Each partition starts at the group's committed offset when the config
    /// names a [`consumer_group`](SimpleConsumerConfig::consumer_group) and
    /// one is committed, else where
    /// [`auto_offset_reset`](SimpleConsumerConfig::auto_offset_reset) says.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use kafka_sync::{KafkaClient, OffsetReset, SimpleConsumerConfig};
    ///
    /// let topic = KafkaClient::new("127.0.0.1:9092")?.topic("events")?;
    /// let consumer = topic.get_simple_consumer(SimpleConsumerConfig::default()
    ///     .auto_offset_reset(OffsetReset::Earliest)
    ///     .consumer_timeout(Duration::from_secs(1)))?;
    /// for message in &consumer {
    ///     let message = message?;
    ///     println!("{}/{} {:?}", message.partition(), message.offset(), message.value());
    /// }
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for invalid settings or partitions the topic does
    /// not have; broker and timeout errors from looking up the starting
    /// offsets.
    pub fn get_simple_consumer(&self, config: SimpleConsumerConfig) -> Result<SimpleConsumer> {
        SimpleConsumer::new(self.clone(), config)
    }
}

/// A consumer of chosen partitions of one topic; `Send + Sync`.
///
/// A background thread (`kafka-sync-fetcher`) fetches ahead into a bounded
/// queue per partition; [`consume`](Self::consume) and iteration take from
/// it. Messages of a partition come in offset order. Iterating `&consumer`
/// yields `Result<Message>` and ends after
/// [`consumer_timeout`](SimpleConsumerConfig::consumer_timeout) without a
/// message. An `Err` item reports a partition that stopped (corrupt data, an
/// offset out of range with [`OffsetReset::Error`], a non-retriable broker
/// error); the other partitions go on, and a [`seek`](Self::seek) restarts it.
///
/// Dropping the consumer stops the fetcher thread, waits for background
/// commits still running, then commits its positions if auto commit is on,
/// all within [`close_timeout`](SimpleConsumerConfig::close_timeout);
/// [`close`](Self::close) does the same and reports the commit's result.
///
/// If the fetcher thread dies (a panic), messages already fetched are still
/// handed out, then every call returns [`Error::ThreadPanicked`] and the
/// iteration ends.
pub struct SimpleConsumer {
    topic: Topic,
    config: SimpleConsumerConfig,
    shared: Arc<Shared>,
    coordinator: Option<Arc<GroupCoordinator>>,
    fetcher: Option<FetcherHandle>,
    next_auto_commit: Mutex<Instant>,
    /// Set while an automatic commit runs, so they never pile up.
    auto_commit_running: Arc<AtomicBool>,
    /// Background commits not yet joined; close waits for them so the final
    /// commit is the last to land.
    commits: Mutex<Vec<worker::Handle>>,
    /// Delays every background commit (tests of commit ordering).
    #[cfg(test)]
    commit_delay_for_test: Duration,
}

impl std::fmt::Debug for SimpleConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimpleConsumer")
            .field("topic", &self.topic.name())
            .field("partitions", &self.partitions())
            .field("group", &self.config.consumer_group)
            .finish()
    }
}

impl SimpleConsumer {
    fn new(topic: Topic, config: SimpleConsumerConfig) -> Result<SimpleConsumer> {
        config.validate()?;
        let request_timeout = topic.client().config().request_timeout();
        if config.fetch_max_wait >= request_timeout {
            return Err(Error::Config(format!(
                "fetch_max_wait ({:?}) must be shorter than the client's request_timeout \
                 ({request_timeout:?}), or every idle fetch would time out",
                config.fetch_max_wait
            )));
        }
        let meta = topic.metadata()?;
        let partitions = match &config.partitions {
            Some(list) => {
                for &p in list {
                    if meta.partition(p).is_none() {
                        return Err(Error::Config(format!(
                            "topic `{}` has no partition {p} (it has {})",
                            topic.name(),
                            meta.partitions.len()
                        )));
                    }
                }
                list.clone()
            }
            None => meta.partitions.iter().map(|p| p.id).collect(),
        };
        let client = topic.client().clone();
        let coordinator = config
            .consumer_group
            .as_ref()
            .map(|group| Arc::new(GroupCoordinator::new(client.clone(), group.clone())));
        let (wake_tx, wake_rx) = crossbeam_channel::bounded(1);
        let shared = Arc::new(Shared::new(
            format!("topic `{}`", topic.name()),
            config.queue_limits(),
            wake_tx,
        ));
        {
            let name: Arc<str> = Arc::from(topic.name());
            let mut state = shared.lock();
            for &p in &partitions {
                state.assign(&name, p);
            }
        }

        // Starting positions: committed offsets, else the reset policy.
        let deadline = crate::time::after(client.config().request_timeout());
        let committed = match &coordinator {
            Some(c) => c.fetch(topic.name(), &partitions, deadline)?,
            None => partitions.iter().map(|&p| (p, None)).collect(),
        };
        let missing: Vec<i32> = committed
            .iter()
            .filter(|(_, o)| o.is_none())
            .map(|(&p, _)| p)
            .collect();
        let reset = reset_offsets(&client, topic.name(), &missing, config.auto_offset_reset)?;
        {
            let mut state = shared.lock();
            for (&p, &offset) in &committed {
                let Some(state) = state.partition_mut(topic.name(), p) else {
                    continue;
                };
                match offset.or_else(|| reset.get(&p).copied()) {
                    Some(offset) => state.fetch_offset = Some(offset),
                    None => state.fail(
                        None,
                        Error::Config(format!(
                            "topic `{}` partition {p} has no committed offset and \
                             auto_offset_reset is Error; seek it to a position",
                            topic.name()
                        )),
                    ),
                }
            }
        }
        debug!(
            "simple consumer of topic `{}` starts at {:?}",
            topic.name(),
            shared
                .lock()
                .partitions
                .iter()
                .map(|p| (p.id, p.fetch_offset))
                .collect::<Vec<_>>()
        );

        let mut settings = FetchSettings::from_config(&config);
        if config.partitions.is_none() {
            settings.new_partitions = Some(NewPartitions {
                topic: Arc::from(topic.name()),
                coordinator: coordinator.clone(),
            });
        }
        let fetcher = fetcher::spawn(client, Arc::clone(&shared), wake_rx, settings)?;
        Ok(SimpleConsumer {
            next_auto_commit: Mutex::new(crate::time::after(config.auto_commit_interval)),
            topic,
            config,
            shared,
            coordinator,
            fetcher: Some(fetcher),
            auto_commit_running: Arc::new(AtomicBool::new(false)),
            commits: Mutex::new(Vec::new()),
            #[cfg(test)]
            commit_delay_for_test: Duration::ZERO,
        })
    }

    /// The topic.
    pub fn topic(&self) -> &Topic {
        &self.topic
    }

    /// The partitions this consumer reads, sorted: the ones the config
    /// named, or every partition of the topic, including partitions added
    /// to it while the consumer runs (see
    /// [`SimpleConsumerConfig::partitions`]).
    pub fn partitions(&self) -> Vec<i32> {
        self.shared.lock().partitions.iter().map(|p| p.id).collect()
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &SimpleConsumerConfig {
        &self.config
    }

    /// The most bytes of messages (as `queued_max_bytes` counts them) the
    /// prefetch queues have held together, for this crate's tests of the
    /// bound: unstable (feature `unstable-internals`).
    #[cfg(feature = "unstable-internals")]
    #[doc(hidden)]
    pub fn peak_queued_bytes(&self) -> usize {
        self.shared.lock().totals.peak()
    }

    /// The next message, waiting up to `timeout`; `Ok(None)` when none came.
    ///
    /// # Errors
    /// An error a partition stopped with (see the type's docs), or
    /// [`Error::Closed`] after the consumer closed.
    pub fn consume(&self, timeout: Duration) -> Result<Option<Message>> {
        self.next_message(Some(crate::time::after(timeout)))
    }

    /// The next message, waiting until one arrives however long it takes.
    pub fn consume_blocking(&self) -> Result<Message> {
        loop {
            if let Some(m) = self.next_message(None)? {
                return Ok(m);
            }
        }
    }

    /// Up to `max` messages at once, waiting up to `timeout` for the first
    /// one: what is queued is taken under one lock, so a caller that handles
    /// messages in batches pays for the hand-over once per batch. Empty when
    /// none came in time (or `max` is 0).
    ///
    /// # Errors
    /// As [`consume`](Self::consume). An error a partition stopped with comes
    /// on its own, after the messages queued before it were returned by
    /// earlier calls.
    pub fn consume_batch(&self, max: usize, timeout: Duration) -> Result<Vec<Message>> {
        self.maybe_auto_commit();
        self.shared
            .pop_batch(max, Some(crate::time::after(timeout)))
    }

    fn next_message(&self, deadline: Option<Instant>) -> Result<Option<Message>> {
        self.maybe_auto_commit();
        match self.shared.pop(deadline)? {
            Some(Item::Message(m)) => Ok(Some(m)),
            Some(Item::Error(e)) => Err(e.error),
            None => Ok(None),
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

    /// The next offset the caller will receive from `partition` (one past
    /// the last message returned); `None` for a partition this consumer does
    /// not read or that has no position yet.
    pub fn position(&self, partition: i32) -> Option<i64> {
        self.shared
            .lock()
            .partition(self.topic.name(), partition)?
            .position()
    }

    /// Every partition's position; partitions without one are left out.
    pub fn positions(&self) -> BTreeMap<i32, i64> {
        self.shared
            .lock()
            .partitions
            .iter()
            .filter_map(|p| Some((p.id, p.position()?)))
            .collect()
    }

    /// The high watermark (the offset after the last committed record) of
    /// each partition, as the latest Fetch answer for it carried: no request
    /// is sent, so it lags the broker by up to one fetch (librdkafka's
    /// `get_watermark_offsets`). Partitions not fetched yet are left out; for
    /// the broker's current end, see [`SimpleConsumer::lag`].
    pub fn high_watermarks(&self) -> BTreeMap<i32, i64> {
        self.shared
            .lock()
            .partitions
            .iter()
            .filter(|p| p.high_watermark >= 0)
            .map(|p| (p.id, p.high_watermark))
            .collect()
    }

    /// Moves `partition` to `offset`: the next message from it will be the
    /// one at `offset` (or the first after it). Queued messages of the
    /// partition are dropped, and a stopped partition starts again.
    ///
    /// # Errors
    /// [`Error::Config`] for a partition this consumer does not read or a
    /// negative offset.
    pub fn seek(&self, partition: i32, offset: i64) -> Result<()> {
        if offset < 0 {
            return Err(Error::Config(format!(
                "cannot seek partition {partition} to negative offset {offset}; \
                 use seek_to_beginning or seek_to_end"
            )));
        }
        self.seek_all(&BTreeMap::from([(partition, offset)]))
    }

    fn seek_all(&self, offsets: &BTreeMap<i32, i64>) -> Result<()> {
        let mut state = self.shared.lock();
        for &p in offsets.keys() {
            if state.partition(self.topic.name(), p).is_none() {
                // `not_assigned` lists the partitions, which takes the lock.
                drop(state);
                return Err(self.not_assigned(p));
            }
        }
        for (&p, &offset) in offsets {
            if let Some(state) = state.partition_mut(self.topic.name(), p) {
                debug!(
                    "seek topic `{}` partition {p} to {offset}",
                    self.topic.name()
                );
                state.seek(Some(offset));
            }
        }
        drop(state);
        self.shared.poke_fetcher();
        Ok(())
    }

    fn not_assigned(&self, partition: i32) -> Error {
        Error::Config(format!(
            "partition {partition} of topic `{}` is not read by this consumer (it reads {:?})",
            self.topic.name(),
            self.partitions()
        ))
    }

    /// `partitions`, or every partition when it is empty.
    fn chosen(&self, partitions: &[i32]) -> Result<Vec<i32>> {
        if partitions.is_empty() {
            return Ok(self.partitions());
        }
        let read = self.partitions();
        for &p in partitions {
            if read.binary_search(&p).is_err() {
                return Err(self.not_assigned(p));
            }
        }
        Ok(partitions.to_vec())
    }

    /// Moves `partitions` (all when empty) to their oldest stored offset.
    pub fn seek_to_beginning(&self, partitions: &[i32]) -> Result<()> {
        let chosen = self.chosen(partitions)?;
        let offsets = reset_offsets(
            self.topic.client(),
            self.topic.name(),
            &chosen,
            OffsetReset::Earliest,
        )?;
        self.seek_all(&offsets)
    }

    /// Moves `partitions` (all when empty) to their end: only messages
    /// produced from now on are read.
    pub fn seek_to_end(&self, partitions: &[i32]) -> Result<()> {
        let chosen = self.chosen(partitions)?;
        let offsets = reset_offsets(
            self.topic.client(),
            self.topic.name(),
            &chosen,
            OffsetReset::Latest,
        )?;
        self.seek_all(&offsets)
    }

    /// Moves every partition to its first message with a timestamp at or
    /// after `timestamp_ms` (milliseconds since the Unix epoch); partitions
    /// with no such message move to their end.
    pub fn seek_to_time(&self, timestamp_ms: i64) -> Result<()> {
        let found = self.topic.offsets_for_time(timestamp_ms)?;
        let mut offsets: BTreeMap<i32, i64> = BTreeMap::new();
        let mut at_end = Vec::new();
        for p in self.partitions() {
            match found.get(&p).copied().flatten() {
                Some(listed) => {
                    offsets.insert(p, listed.offset);
                }
                None => at_end.push(p),
            }
        }
        offsets.extend(reset_offsets(
            self.topic.client(),
            self.topic.name(),
            &at_end,
            OffsetReset::Latest,
        )?);
        self.seek_all(&offsets)
    }

    /// Stops handing out messages of `partitions` (and fetching them) until
    /// [`resume`](Self::resume); what was already fetched stays queued.
    /// Partitions this consumer does not read are ignored.
    pub fn pause(&self, partitions: &[i32]) {
        self.set_paused(partitions, true);
        // The fetcher may be holding back other partitions for this one.
        self.shared.poke_fetcher();
    }

    /// Resumes partitions paused with [`pause`](Self::pause).
    pub fn resume(&self, partitions: &[i32]) {
        self.set_paused(partitions, false);
        self.shared.poke_fetcher();
    }

    fn set_paused(&self, partitions: &[i32], paused: bool) {
        let mut state = self.shared.lock();
        for &p in partitions {
            if let Some(state) = state.partition_mut(self.topic.name(), p) {
                state.set_paused(paused);
            }
        }
    }

    /// The paused partitions, sorted.
    pub fn paused(&self) -> Vec<i32> {
        self.shared
            .lock()
            .partitions
            .iter()
            .filter(|p| p.paused)
            .map(|p| p.id)
            .collect()
    }

    /// For each partition with a position, how many messages lie between
    /// it and the end of the partition (the high watermark, asked now).
    pub fn lag(&self) -> Result<BTreeMap<i32, i64>> {
        let queries: Vec<(i32, i64)> = self.partitions().into_iter().map(|p| (p, LATEST)).collect();
        let ends = self
            .topic
            .client()
            .list_offsets(self.topic.name(), &queries)?;
        let positions = self.positions();
        Ok(positions
            .into_iter()
            .filter_map(|(p, position)| Some((p, (ends.get(&p)?.offset - position).max(0))))
            .collect())
    }

    fn coordinator(&self) -> Result<&Arc<GroupCoordinator>> {
        self.coordinator.as_ref().ok_or_else(|| {
            Error::Config(
                "committed offsets need a consumer group; set SimpleConsumerConfig::consumer_group"
                    .into(),
            )
        })
    }

    /// Commits every partition's position (the next offset to read) to the
    /// consumer group, waiting for the coordinator's answer up to
    /// `request_timeout`.
    ///
    /// # Errors
    /// [`Error::Config`] without a consumer group; broker and timeout errors.
    pub fn commit_offsets(&self) -> Result<()> {
        self.commit_until(crate::time::after(
            self.topic.client().config().request_timeout(),
        ))
    }

    fn commit_until(&self, deadline: Instant) -> Result<()> {
        let coordinator = self.coordinator()?;
        coordinator.commit(
            self.topic.name(),
            &self.positions(),
            &Membership::default(),
            deadline,
        )
    }

    /// Commits every partition's position in the background; the result
    /// arrives on the returned channel. Commits started one after the other
    /// may complete in either order.
    pub fn commit_offsets_async(&self) -> Receiver<Result<()>> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.commit_in_background(move |result| {
            let _ = tx.send(result);
        });
        rx
    }

    /// Commits the positions on a short-lived `kafka-sync-commit` thread
    /// and hands the result to `done`.
    fn commit_in_background(&self, done: impl FnOnce(Result<()>) + Send + 'static) {
        let coordinator = match self.coordinator() {
            Ok(c) => Arc::clone(c),
            Err(e) => return done(Err(e)),
        };
        let positions = self.positions();
        let topic = self.topic.name().to_owned();
        let deadline = crate::time::after(self.topic.client().config().request_timeout());
        let done = Arc::new(Mutex::new(Some(done)));
        let on_thread = Arc::clone(&done);
        #[cfg(test)]
        let delay = self.commit_delay_for_test;
        let spawned = worker::spawn(COMMIT_THREAD, move || {
            #[cfg(test)]
            std::thread::sleep(delay);
            // A panicking commit still reaches `done`, which clears the
            // auto-commit flag or answers `commit_offsets_async`.
            let result = worker::catch(COMMIT_THREAD, || {
                coordinator.commit(&topic, &positions, &Membership::default(), deadline)
            })
            .unwrap_or_else(|detail| {
                Err(Error::thread_panicked("consumer", COMMIT_THREAD, detail))
            });
            if let Some(done) = on_thread.lock().take() {
                done(result);
            }
        });
        match spawned {
            Ok(thread) => {
                let finished = {
                    let mut commits = self.commits.lock();
                    let (finished, running) = std::mem::take(&mut *commits)
                        .into_iter()
                        .partition::<Vec<_>, _>(worker::Handle::is_finished);
                    *commits = running;
                    commits.push(thread);
                    finished
                };
                for thread in finished {
                    thread.join_until(Instant::now());
                }
            }
            Err(e) => {
                if let Some(done) = done.lock().take() {
                    done(Err(e));
                }
            }
        }
    }

    /// The consumer group's metadata (generation -1, no member id: a
    /// simple consumer is no group member), for
    /// [`Producer::send_offsets_to_transaction`](crate::Producer::send_offsets_to_transaction);
    /// `None` without a [`consumer_group`](SimpleConsumerConfig::consumer_group).
    pub fn group_metadata(&self) -> Option<super::ConsumerGroupMetadata> {
        self.config
            .consumer_group
            .as_deref()
            .map(super::ConsumerGroupMetadata::new)
    }

    /// The group's committed offset for each partition this consumer reads;
    /// `None` for partitions without one.
    pub fn committed_offsets(&self) -> Result<BTreeMap<i32, Option<i64>>> {
        let deadline = crate::time::after(self.topic.client().config().request_timeout());
        self.coordinator()?
            .fetch(self.topic.name(), &self.partitions(), deadline)
    }

    fn maybe_auto_commit(&self) {
        if !self.config.auto_commits() {
            return;
        }
        {
            let mut next = self.next_auto_commit.lock();
            let now = Instant::now();
            if now < *next {
                return;
            }
            *next = crate::time::add(now, self.config.auto_commit_interval);
        }
        if self.auto_commit_running.swap(true, Ordering::SeqCst) {
            return;
        }
        let running = Arc::clone(&self.auto_commit_running);
        let topic = self.topic.name().to_owned();
        self.commit_in_background(move |result| {
            if let Err(e) = result {
                warn!("auto commit of topic `{topic}` failed: {e}");
            }
            running.store(false, Ordering::SeqCst);
        });
    }

    /// Commits the positions (when auto commit is on) and stops the fetcher
    /// thread, as dropping does, returning the commit's result.
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    /// Everything within one deadline, `close_timeout` from now: the
    /// fetcher stops, background commits still running are waited for (so
    /// none of them lands after the final one), then the final commit.
    fn shutdown(&mut self) -> Result<()> {
        let Some(fetcher) = self.fetcher.take() else {
            return Ok(());
        };
        let deadline = crate::time::after(self.config.close_timeout);
        fetcher.stop(&self.shared, deadline);
        let commits = std::mem::take(&mut *self.commits.lock());
        let mut overtaken = false;
        for thread in commits {
            overtaken |= thread.join_until(deadline) == Joined::Detached;
        }
        if !self.config.auto_commits() {
            return Ok(());
        }
        if overtaken {
            warn!(
                "closing the consumer of topic `{}`: a background commit still runs and may \
                 land after the final one",
                self.topic.name()
            );
        }
        let request_deadline = crate::time::after(self.topic.client().config().request_timeout());
        self.commit_until(deadline.min(request_deadline))
    }
}

impl Drop for SimpleConsumer {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            warn!(
                "closing the consumer of topic `{}`: final commit failed: {e}",
                self.topic.name()
            );
        }
    }
}

/// Iterator over a [`SimpleConsumer`]'s messages; see [`SimpleConsumer::iter`].
#[derive(Debug)]
pub struct Iter<'a> {
    consumer: &'a SimpleConsumer,
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
            .consumer_timeout
            .map(crate::time::after);
        loop {
            match self.consumer.next_message(deadline) {
                Ok(Some(m)) => return Some(Ok(m)),
                Ok(None) if deadline.is_some() => return None,
                Ok(None) => continue,
                Err(Error::Closed(_)) => return None,
                Err(e) => {
                    self.ended = matches!(e, Error::ThreadPanicked { .. });
                    return Some(Err(e));
                }
            }
        }
    }
}

impl<'a> IntoIterator for &'a SimpleConsumer {
    type Item = Result<Message>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[cfg(all(test, feature = "testkit"))]
mod tests {
    use super::*;
    use crate::producer::ProducerConfig;
    use crate::testkit;
    use crate::KafkaClient;

    const DEADLINE: Duration = Duration::from_secs(20);

    /// A fresh one-partition topic holding `records` records.
    fn topic_with(records: usize) -> Topic {
        let broker = testkit::shared().expect("test broker starts");
        let client = KafkaClient::new(&broker.bootstrap()).expect("client bootstraps");
        let name = testkit::unique_name("simple-threads");
        client.create_topic(&name, 1, 1).expect("topic is created");
        let topic = client.topic(&name).expect("topic exists");
        let producer = topic.get_producer(ProducerConfig::default()).unwrap();
        for i in 0..records {
            producer.produce(format!("v{i}")).unwrap();
        }
        producer.flush(DEADLINE).expect("records are written");
        topic
    }

    #[test]
    fn a_panicking_fetcher_makes_consume_fail_instead_of_waiting() {
        let consumer = topic_with(0)
            .get_simple_consumer(
                SimpleConsumerConfig::default().auto_offset_reset(OffsetReset::Earliest),
            )
            .unwrap();
        consumer
            .shared
            .panic_fetcher_for_test
            .store(true, Ordering::SeqCst);
        consumer.shared.poke_fetcher();
        let started = Instant::now();
        let e = consumer.consume(DEADLINE).unwrap_err();
        assert!(
            matches!(
                e,
                Error::ThreadPanicked {
                    thread: fetcher::FETCHER_THREAD,
                    ..
                }
            ),
            "{e}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        let mut iter = consumer.iter();
        assert!(matches!(
            iter.next(),
            Some(Err(Error::ThreadPanicked { .. }))
        ));
        assert!(iter.next().is_none(), "the iteration ends after the error");
    }

    #[test]
    fn close_waits_for_a_running_auto_commit_so_the_final_commit_lands_last() {
        let topic = topic_with(10);
        let group = testkit::unique_name("simple-commit-order");
        let config = SimpleConsumerConfig::default()
            .consumer_group(group.clone())
            .auto_offset_reset(OffsetReset::Earliest)
            .auto_commit(Duration::from_millis(50));
        let mut consumer = topic.get_simple_consumer(config.clone()).unwrap();
        // The background commit of an early position lands 1.5 s after it starts.
        consumer.commit_delay_for_test = Duration::from_millis(1500);
        for _ in 0..3 {
            consumer.consume(DEADLINE).unwrap().expect("a message");
        }
        std::thread::sleep(Duration::from_millis(100));
        // Starts the auto commit of position 3, then takes a message.
        consumer.consume(DEADLINE).unwrap().expect("a message");
        for _ in 4..10 {
            consumer.consume(DEADLINE).unwrap().expect("a message");
        }
        assert_eq!(consumer.position(0), Some(10));
        consumer.close().expect("the final commit succeeds");
        // Past the moment the delayed commit would land, had close not waited.
        std::thread::sleep(Duration::from_millis(2000));
        let reader = topic.get_simple_consumer(config).unwrap();
        assert_eq!(
            reader.committed_offsets().unwrap(),
            BTreeMap::from([(0, Some(10))])
        );
    }
}
