//! [`SimpleConsumer`]: reads explicitly chosen partitions of one topic, with
//! optional committed offsets in a consumer group it does not join.
//!
//! Beside this file: `seek` (moving positions) and `commit` (commits and
//! committed offsets).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, warn};
use parking_lot::Mutex;

use crate::cluster::Topic;
use crate::cluster::LATEST;
use crate::error::{Error, Result};

use super::config::SimpleConsumerConfig;
use super::fetcher::{self, FetchSettings, FetcherHandle, NewPartitions};
use super::message::Message;
use super::offsets::{reset_offsets, GroupCoordinator};
use super::queue::{Item, Shared};
use crate::thread::{self as worker, Joined};

mod commit;
mod seek;

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
/// offset out of range with [`OffsetReset::Error`](crate::consumer::OffsetReset::Error), a non-retriable broker
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
mod tests;
