//! The fetcher's view of the cluster: metadata refreshes (leader moves),
//! partitions that appear in a topic, and topics that are deleted.

use std::sync::Arc;
use std::time::Instant;

use log::{debug, warn};

use crate::cluster::TopicMetadata;
use crate::error::Error;

use super::{Fetcher, MISSING_REFRESHES};
use crate::consumer::config::OffsetReset;
use crate::consumer::offsets::reset_offsets;

impl Fetcher {
    /// Refreshes the metadata of the topics being fetched when it is stale
    /// or a topic has none yet, at most once per `retry_backoff`; forgets
    /// topics no longer fetched.
    pub(super) fn refresh_metadata(&mut self) {
        let topics: Vec<Arc<str>> = {
            let state = self.shared.lock();
            let mut topics: Vec<Arc<str>> = state
                .partitions
                .iter()
                .map(|p| Arc::clone(&p.topic))
                .collect();
            topics.dedup();
            topics
        };
        self.meta.retain(|t, _| topics.contains(t));
        if topics.iter().any(|t| !self.meta.contains_key(t)) {
            self.metadata_stale = true;
        }
        let aged = self
            .last_refresh
            .is_some_and(|at| at.elapsed() >= self.client.config().metadata_max_age());
        if !(self.metadata_stale || aged) {
            return;
        }
        if self
            .last_refresh
            .is_some_and(|at| at.elapsed() < self.retry_backoff)
        {
            return;
        }
        self.last_refresh = Some(Instant::now());
        self.metadata_stale = false;
        self.missing.retain(|t, _| topics.contains(t));
        for topic in topics {
            match self.client.refresh_topic(&topic) {
                Ok(meta) => {
                    self.missing.remove(&topic);
                    self.pick_up_new_partitions(&topic, &meta);
                    self.meta.insert(topic, meta);
                }
                Err(Error::UnknownTopic(_)) => {
                    let times = self.missing.entry(Arc::clone(&topic)).or_insert(0);
                    *times += 1;
                    if *times >= MISSING_REFRESHES {
                        self.topic_deleted(&topic);
                    }
                    self.metadata_stale = true;
                }
                Err(e) => {
                    debug!("fetcher: metadata for topic `{topic}` not refreshed: {e}");
                    self.metadata_stale = true;
                }
            }
        }
    }

    /// Starts reading partitions that metadata lists for the followed topic
    /// (see [`NewPartitions`]) and the queue does not hold yet: from the
    /// group's committed offset if there is one, else from the earliest
    /// offset, whatever `auto_offset_reset` says, since every record of a
    /// partition added after the consumer started is new to it (with
    /// `Latest`, records written before the next metadata refresh noticed
    /// the partition would be skipped). Failed lookups are retried at the
    /// next refresh.
    pub(super) fn pick_up_new_partitions(&mut self, topic: &Arc<str>, meta: &TopicMetadata) {
        let Some(follow) = self
            .settings
            .new_partitions
            .as_ref()
            .filter(|f| f.topic == *topic)
        else {
            return;
        };
        let added: Vec<i32> = {
            let state = self.shared.lock();
            meta.partitions
                .iter()
                .map(|p| p.id)
                .filter(|&id| state.partition(topic, id).is_none())
                .collect()
        };
        if added.is_empty() {
            return;
        }
        let deadline = crate::time::after(self.client.config().request_timeout());
        let committed = match &follow.coordinator {
            Some(c) => c.fetch(topic, &added, deadline),
            None => Ok(added.iter().map(|&p| (p, None)).collect()),
        };
        let starts = committed.and_then(|committed| {
            let missing: Vec<i32> = committed
                .iter()
                .filter(|(_, o)| o.is_none())
                .map(|(&p, _)| p)
                .collect();
            let earliest = reset_offsets(&self.client, topic, &missing, OffsetReset::Earliest)?;
            Ok(committed
                .into_iter()
                .filter_map(|(p, o)| Some((p, o.or_else(|| earliest.get(&p).copied())?)))
                .collect::<Vec<(i32, i64)>>())
        });
        match starts {
            Ok(starts) => {
                {
                    let mut state = self.shared.lock();
                    for &(id, offset) in &starts {
                        let p = state.assign(topic, id);
                        if p.fetch_offset.is_none() && !p.halted {
                            p.fetch_offset = Some(offset);
                        }
                    }
                }
                log::info!(
                    "topic `{topic}` has new partitions; {} reads them from {starts:?}",
                    self.shared.label
                );
            }
            Err(e) => {
                warn!("starting new partitions {added:?} of topic `{topic}` failed: {e}; retrying");
                self.metadata_stale = true;
            }
        }
    }

    /// `topic` is gone from the cluster (deleted): each of its partitions
    /// stops with [`Error::UnknownTopic`], queued after the messages already
    /// fetched (a partition still handing out a fetched batch stops once it
    /// is through). A seek starts a partition again, should the topic be
    /// created anew.
    pub(super) fn topic_deleted(&mut self, topic: &Arc<str>) {
        let mut stopped = Vec::new();
        {
            let mut state = self.shared.lock();
            for p in state.partitions.iter_mut().filter(|p| p.topic == *topic) {
                if p.halted || p.resume_at.is_some() {
                    continue;
                }
                let offset = p.fetch_offset;
                p.fail(offset, Error::UnknownTopic(topic.to_string()));
                stopped.push(p.id);
            }
        }
        if !stopped.is_empty() {
            warn!(
                "topic `{topic}` no longer exists (deleted?): stopping partitions {stopped:?} of {} \
                 after their fetched messages; seek them to read a re-created topic",
                self.shared.label
            );
            self.shared.notify_ready();
        }
    }
}
