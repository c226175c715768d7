//! A simple consumer's committed offsets in a group it does not join:
//! commits now, in the background (`commit_offsets_async`, auto commit),
//! and the committed offsets read back.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Receiver;
use log::warn;
use parking_lot::Mutex;

use crate::error::{Error, Result};

use super::super::offsets::{auto_commit_due, GroupCoordinator, Membership};
use super::{SimpleConsumer, COMMIT_THREAD};
use crate::thread::{self as worker};

impl SimpleConsumer {
    pub(super) fn coordinator(&self) -> Result<&Arc<GroupCoordinator>> {
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

    pub(super) fn commit_until(&self, deadline: Instant) -> Result<()> {
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
    pub(super) fn commit_in_background(&self, done: impl FnOnce(Result<()>) + Send + 'static) {
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
    /// `None` without a [`consumer_group`](crate::consumer::SimpleConsumerConfig::consumer_group).
    pub fn group_metadata(&self) -> Option<crate::consumer::ConsumerGroupMetadata> {
        self.config
            .consumer_group
            .as_deref()
            .map(crate::consumer::ConsumerGroupMetadata::new)
    }

    /// The group's committed offset for each partition this consumer reads;
    /// `None` for partitions without one.
    pub fn committed_offsets(&self) -> Result<BTreeMap<i32, Option<i64>>> {
        let deadline = crate::time::after(self.topic.client().config().request_timeout());
        self.coordinator()?
            .fetch(self.topic.name(), &self.partitions(), deadline)
    }

    pub(super) fn maybe_auto_commit(&self) {
        if !self.config.auto_commits() {
            return;
        }
        if !auto_commit_due(&self.next_auto_commit, self.config.auto_commit_interval) {
            return;
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
}
