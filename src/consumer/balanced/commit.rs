//! A balanced consumer's commits: the committed offsets, `commit_offsets`,
//! and auto commit, which runs on its own short-lived thread so that a slow
//! coordinator never holds up `consume`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::warn;

use super::{BalancedConsumer, COMMIT_THREAD};
use crate::cluster::KafkaClient;
use crate::consumer::assignor::TopicPartition;
use crate::consumer::membership::GroupMembership;
use crate::consumer::offsets::{auto_commit_due, GroupCoordinator, Membership};
use crate::error::{Error, Result};
use crate::protocol::ErrorCode;
use crate::thread as worker;

impl BalancedConsumer {
    /// The group's committed offsets of the assigned partitions; `None` for
    /// partitions without one.
    pub fn committed_offsets(&self) -> Result<BTreeMap<TopicPartition, Option<i64>>> {
        let deadline = crate::time::after(self.client.config().request_timeout());
        let mut out = BTreeMap::new();
        for (topic, partitions) in by_topic(self.assignment().iter().map(|tp| (tp, ()))) {
            let ids: Vec<i32> = partitions.keys().copied().collect();
            for (p, offset) in self.coordinator.fetch(&topic, &ids, deadline)? {
                out.insert(TopicPartition::new(topic.clone(), p), offset);
            }
        }
        Ok(out)
    }

    /// Commits every assigned partition's position (the next offset to read)
    /// as this member of the current generation, waiting up to
    /// `request_timeout`.
    ///
    /// # Errors
    /// Broker errors such as `REBALANCE_IN_PROGRESS` or
    /// `ILLEGAL_GENERATION` when the group is rebalancing (the partitions
    /// are committed again when they are revoked, with auto commit), and
    /// timeout errors.
    pub fn commit_offsets(&self) -> Result<()> {
        let positions = self.positions();
        let membership = self.member();
        commit(&self.client, &self.coordinator, &positions, &membership)
    }

    /// Who commits: this member in its current generation.
    pub(super) fn member(&self) -> Membership {
        member_of(self.membership.as_deref())
    }

    pub(super) fn maybe_auto_commit(&self) {
        if !self.config.auto_commits() {
            return;
        }
        if !auto_commit_due(
            &self.next_auto_commit,
            self.config.fetch.auto_commit_interval,
        ) {
            return;
        }
        let positions = self.positions();
        if positions.is_empty() || self.auto_commit_running.swap(true, Ordering::SeqCst) {
            return;
        }
        let running = Arc::clone(&self.auto_commit_running);
        let client = self.client.clone();
        let coordinator = Arc::clone(&self.coordinator);
        let membership = self.member();
        let group = self.group.clone();
        let spawned = worker::spawn(COMMIT_THREAD, move || {
            // Cleared even if the commit panics, or no auto commit would run again.
            let _clear = ClearOnDrop(running);
            if let Err(e) = commit(&client, &coordinator, &positions, &membership) {
                warn!("auto commit of group `{group}` failed: {e}");
            }
        });
        match spawned {
            Ok(thread) => {
                // The previous one has finished: `auto_commit_running` was clear.
                let previous = self.auto_commit.lock().replace(thread);
                if let Some(previous) = previous {
                    previous.join_until(Instant::now() + Duration::from_secs(1));
                }
            }
            Err(e) => {
                warn!("auto commit of group `{}` not started: {e}", self.group);
                self.auto_commit_running.store(false, Ordering::SeqCst);
            }
        }
    }
}

/// Clears an auto-commit-running flag when dropped.
struct ClearOnDrop(Arc<AtomicBool>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// The commit identity of `membership` now.
pub(super) fn member_of(membership: Option<&GroupMembership>) -> Membership {
    match membership {
        Some(m) => Membership {
            generation_id: m.generation(),
            member_id: m.member_id(),
            group_instance_id: m.group_instance_id().map(str::to_owned),
        },
        None => Membership::default(),
    }
}

/// Groups per-partition values by topic.
pub(super) fn by_topic<'a, V>(
    items: impl IntoIterator<Item = (&'a TopicPartition, V)>,
) -> BTreeMap<String, BTreeMap<i32, V>> {
    let mut out: BTreeMap<String, BTreeMap<i32, V>> = BTreeMap::new();
    for (tp, v) in items {
        out.entry(tp.topic.clone())
            .or_default()
            .insert(tp.partition, v);
    }
    out
}

/// Commits `positions`, one OffsetCommit per topic, within `request_timeout`.
pub(super) fn commit(
    client: &KafkaClient,
    coordinator: &GroupCoordinator,
    positions: &BTreeMap<TopicPartition, i64>,
    membership: &Membership,
) -> Result<()> {
    let deadline = crate::time::after(client.config().request_timeout());
    commit_until(coordinator, positions, membership, deadline)
}

/// Whether a commit failed because the group has a newer generation than
/// the committing member: a rebalance is under way or done without it.
pub(super) fn group_moved_on(error: &Error) -> bool {
    matches!(
        error.code(),
        Some(
            ErrorCode::RebalanceInProgress
                | ErrorCode::IllegalGeneration
                | ErrorCode::UnknownMemberId
                | ErrorCode::StaleMemberEpoch
                | ErrorCode::FencedMemberEpoch
        )
    )
}

/// Commits `positions`, one OffsetCommit per topic, by `deadline`.
pub(super) fn commit_until(
    coordinator: &GroupCoordinator,
    positions: &BTreeMap<TopicPartition, i64>,
    membership: &Membership,
    deadline: Instant,
) -> Result<()> {
    for (topic, offsets) in by_topic(positions.iter().map(|(tp, &o)| (tp, o))) {
        coordinator.commit(&topic, &offsets, membership, deadline)?;
    }
    Ok(())
}
