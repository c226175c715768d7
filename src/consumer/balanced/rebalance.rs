//! The `kafka-sync-rebalance` thread: applies the membership thread's
//! [`GroupEvent`]s to the fetcher's partition set.
//!
//! - **Assigned**: looks up where the new partitions start (the group's
//!   committed offset, else `auto_offset_reset`), calls `on_assign`, then
//!   hands them to the fetcher.
//! - **Revoked**: takes the partitions out of the queue (stopping their
//!   fetches and dropping what was prefetched, under the queue's lock so the
//!   caller cannot receive one of their messages afterwards), commits their
//!   positions with auto commit, calls `on_revoke`, then acknowledges so the
//!   group can hand them on.
//! - **Lost**: takes them out without committing; calls `on_lost`.
//! - **Error**: queued for the caller.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver, Sender};
use log::{debug, info, warn};

use super::commit::{by_topic, commit, member_of};
use super::config::{BalancedConsumerConfig, Listener};
use crate::cluster::KafkaClient;
use crate::consumer::assignor::TopicPartition;
use crate::consumer::config::OffsetReset;
use crate::consumer::membership::{GroupEvent, GroupMembership};
use crate::consumer::offsets::{reset_offsets, GroupCoordinator};
use crate::consumer::queue::Shared;
use crate::error::{Error, Result};
use crate::thread::{self as worker, Joined};

/// The rebalance thread's name.
const REBALANCE_THREAD: &str = "kafka-sync-rebalance";

/// What the rebalance thread works with.
pub(super) struct Rebalancer {
    pub client: KafkaClient,
    pub config: BalancedConsumerConfig,
    pub shared: Arc<Shared>,
    pub coordinator: Arc<GroupCoordinator>,
    pub membership: Arc<GroupMembership>,
    pub auto_commit_running: Arc<AtomicBool>,
}

/// The running thread.
pub(super) struct RebalanceHandle {
    thread: worker::Handle,
    /// Dropping it stops the thread.
    stop: Sender<()>,
}

impl RebalanceHandle {
    /// Stops the thread, waiting until `deadline` for the event it is
    /// handling to finish; after that it is detached and ends on its own
    /// (every request it can be in has a timeout).
    pub fn stop(self, deadline: Instant) {
        drop(self.stop);
        if self.thread.join_until(deadline) == Joined::Detached {
            warn!("rebalance thread did not stop by the close deadline; leaving it to exit on its own");
        }
    }
}

/// Starts the thread. A panic while handling an event stops the consumer
/// like the membership thread's death: the partitions are taken out and
/// every later call returns [`Error::ThreadPanicked`].
pub(super) fn spawn(rebalancer: Rebalancer) -> Result<RebalanceHandle> {
    let (stop, stop_rx) = crossbeam_channel::bounded::<()>(0);
    let thread = worker::spawn(REBALANCE_THREAD, move || {
        if let Err(detail) = worker::catch(REBALANCE_THREAD, || rebalancer.run(&stop_rx)) {
            rebalancer.stop_consuming(Error::thread_panicked("consumer", REBALANCE_THREAD, detail));
        }
    })?;
    Ok(RebalanceHandle { thread, stop })
}

impl Rebalancer {
    fn group(&self) -> &str {
        self.membership.group_id()
    }

    fn run(&self, stop: &Receiver<()>) {
        let events = self.membership.events().clone();
        loop {
            select! {
                recv(events) -> event => match event {
                    Ok(event) => self.handle(event),
                    Err(_) => break,
                },
                recv(stop) -> _ => break,
            }
        }
        debug!("group `{}`: rebalance thread stopped", self.group());
    }

    fn handle(&self, event: GroupEvent) {
        match event {
            GroupEvent::Assigned {
                generation,
                assignment,
                ..
            } => self.assigned(generation, &assignment),
            GroupEvent::Revoked { partitions, ack } => {
                self.revoked(&partitions);
                ack.ack();
            }
            GroupEvent::Lost { partitions } => {
                self.take_out(&partitions);
                let listener = self
                    .config
                    .on_lost
                    .as_ref()
                    .or(self.config.on_revoke.as_ref());
                call(listener, &partitions);
            }
            GroupEvent::Error(e @ Error::ThreadPanicked { .. }) => self.stop_consuming(e),
            GroupEvent::Error(e) => {
                warn!("group `{}`: {e}", self.group());
                self.shared.push_error(e);
            }
        }
    }

    /// A thread the consumer needs died: it no longer knows its assignment,
    /// so it stops reading every partition (dropping what was prefetched)
    /// and hands `error` out from then on.
    fn stop_consuming(&self, error: Error) {
        let held: BTreeSet<TopicPartition> = self
            .shared
            .lock()
            .partitions
            .iter()
            .map(|p| TopicPartition::new(&*p.topic, p.id))
            .collect();
        self.take_out(&held);
        log::error!("group `{}`: the consumer stops: {error}", self.group());
        self.shared.fail_for_good(error);
    }

    /// Takes `partitions` out of the queue and the fetcher's set; returns
    /// their positions.
    fn take_out(&self, partitions: &BTreeSet<TopicPartition>) -> BTreeMap<TopicPartition, i64> {
        let mut positions = BTreeMap::new();
        let mut state = self.shared.lock();
        for tp in partitions {
            if let Some(p) = state.unassign(&tp.topic, tp.partition) {
                if let Some(position) = p.position() {
                    positions.insert(tp.clone(), position);
                }
            }
        }
        positions
    }

    fn revoked(&self, partitions: &BTreeSet<TopicPartition>) {
        let positions = self.take_out(partitions);
        info!(
            "group `{}`: {} partitions revoked at {positions:?}",
            self.group(),
            partitions.len()
        );
        if self.config.auto_commits() {
            // An auto commit started before the revocation must not land
            // after this one with older positions.
            let deadline = crate::time::after(self.client.config().request_timeout());
            while self.auto_commit_running.load(Ordering::SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            let membership = member_of(Some(&self.membership));
            if let Err(e) = commit(&self.client, &self.coordinator, &positions, &membership) {
                warn!(
                    "group `{}`: committing revoked partitions failed: {e}; their next owner may read some messages again",
                    self.group()
                );
            }
        }
        call(self.config.on_revoke.as_ref(), partitions);
    }

    fn assigned(&self, generation: i32, assignment: &BTreeSet<TopicPartition>) {
        let current: BTreeSet<TopicPartition> = self
            .shared
            .lock()
            .partitions
            .iter()
            .map(|p| TopicPartition::new(&*p.topic, p.id))
            .collect();
        // Partitions still held that the group no longer gives us were lost
        // without an event (should not happen); never read them on.
        let stale: BTreeSet<TopicPartition> = current.difference(assignment).cloned().collect();
        if !stale.is_empty() {
            warn!(
                "group `{}`: dropping partitions no longer assigned: {stale:?}",
                self.group()
            );
            self.take_out(&stale);
        }
        let added: BTreeSet<TopicPartition> = assignment.difference(&current).cloned().collect();
        info!(
            "group `{}` generation {generation}: assigned {assignment:?} ({} new)",
            self.group(),
            added.len()
        );
        if added.is_empty() {
            return;
        }
        let starts = self.starting_offsets(&added);
        call(self.config.on_assign.as_ref(), &added);
        {
            let mut state = self.shared.lock();
            for tp in &added {
                let topic: Arc<str> = Arc::from(tp.topic.as_str());
                let p = state.assign(&topic, tp.partition);
                match starts.get(tp) {
                    Some(Ok(offset)) => p.fetch_offset = Some(*offset),
                    Some(Err(e)) => p.fail(None, e.clone()),
                    None => p.fail(
                        None,
                        Error::Config(format!(
                            "topic `{}` partition {} has no committed offset and \
                             auto_offset_reset is Error",
                            tp.topic, tp.partition
                        )),
                    ),
                }
            }
        }
        self.shared.notify_ready();
        self.shared.poke_fetcher();
    }

    /// Where each of `partitions` starts: the committed offset, else the
    /// reset policy's; an error for partitions whose lookup failed.
    fn starting_offsets(
        &self,
        partitions: &BTreeSet<TopicPartition>,
    ) -> BTreeMap<TopicPartition, Result<i64>> {
        let reset = self.config.fetch.auto_offset_reset;
        let deadline = crate::time::after(self.client.config().request_timeout());
        let mut out = BTreeMap::new();
        for (topic, parts) in by_topic(partitions.iter().map(|tp| (tp, ()))) {
            let ids: Vec<i32> = parts.keys().copied().collect();
            let committed = match self.coordinator.fetch(&topic, &ids, deadline) {
                Ok(c) => c,
                Err(e) => {
                    warn!(
                        "group `{}`: committed offsets of topic `{topic}` not found: {e}",
                        self.group()
                    );
                    for &p in &ids {
                        out.insert(TopicPartition::new(topic.clone(), p), Err(e.clone()));
                    }
                    continue;
                }
            };
            let missing: Vec<i32> = committed
                .iter()
                .filter(|(_, o)| o.is_none())
                .map(|(&p, _)| p)
                .collect();
            let resets = match reset_offsets(&self.client, &topic, &missing, reset) {
                Ok(r) => r.into_iter().map(|(p, o)| (p, Ok(o))).collect(),
                Err(e) => missing
                    .iter()
                    .map(|&p| (p, Err(e.clone())))
                    .collect::<BTreeMap<i32, Result<i64>>>(),
            };
            for (p, offset) in committed {
                let tp = TopicPartition::new(topic.clone(), p);
                match offset {
                    Some(o) => {
                        out.insert(tp, Ok(o));
                    }
                    None => {
                        if let Some(r) = resets.get(&p) {
                            out.insert(tp, r.clone());
                        } else if reset != OffsetReset::Error {
                            out.insert(
                                tp,
                                Err(Error::Config(format!(
                                    "no {reset:?} offset was found for topic `{topic}` partition {p}"
                                ))),
                            );
                        }
                    }
                }
            }
        }
        out
    }
}

/// Calls `listener`, if any, with `partitions` in order.
fn call(listener: Option<&Listener>, partitions: &BTreeSet<TopicPartition>) {
    if let Some(listener) = listener {
        let list: Vec<TopicPartition> = partitions.iter().cloned().collect();
        listener(&list);
    }
}
