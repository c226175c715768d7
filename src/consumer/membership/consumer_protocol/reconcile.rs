//! Reconciling the owned partitions with the coordinator's target
//! assignment: revoke what left it (the consumer commits, then
//! acknowledges; heartbeats go on meanwhile), take what joined it, then
//! acknowledge with a heartbeat carrying the owned set.

use std::collections::BTreeSet;
use std::time::Instant;

use log::debug;

use super::Member;
use crate::consumer::assignor::TopicPartition;
use crate::consumer::membership::link::{
    lose_all, revoke_and_wait, Interrupt, Link, Revoking, Step,
};
use crate::consumer::membership::{MembershipConfig, Shared};
use crossbeam_channel::Sender;
use crate::consumer::membership::GroupEvent;

impl Member {
    /// Moves the owned set towards the latest target.
    pub(super) fn reconcile(&mut self) -> Step<()> {
        let Some(target) = self.target.clone() else {
            return Ok(());
        };
        let (assigned, unknown) = self.topic_ids.resolve(&self.client, &target);
        if unknown > 0 {
            debug!(
                "group `{}`: {unknown} assigned partitions are of topics whose id is not known yet",
                self.group()
            );
        }
        let revoked: BTreeSet<TopicPartition> =
            self.owned.difference(&assigned).cloned().collect();
        let revoking = !revoked.is_empty();
        if revoking {
            self.revoke(revoked)?;
            if self.target.as_ref() != Some(&target) {
                // A newer target came while revoking: the next turn
                // reconciles towards it.
                self.next_heartbeat = Instant::now();
                return Ok(());
            }
        }
        let added: BTreeSet<TopicPartition> =
            assigned.difference(&self.owned).cloned().collect();
        if unknown == 0 {
            self.target = None;
        }
        if revoking || !added.is_empty() || self.announce {
            self.owned.extend(added.iter().cloned());
            self.announce = false;
            self.publish();
            self.announce_assignment(added);
        }
        if self.sent_owned.as_ref() != Some(&self.owned) {
            // Acknowledge at once: the coordinator waits for it to hand the
            // released partitions to their next owners.
            self.next_heartbeat = Instant::now();
        }
        Ok(())
    }

    /// Tells the consumer the owned set, of which `added` is new.
    pub(super) fn announce_assignment(&mut self, added: BTreeSet<TopicPartition>) {
        let _ = self.events.send(GroupEvent::Assigned {
            generation: self.epoch,
            assignment: self.owned.clone(),
            added,
        });
    }

    /// Announces a revocation and waits, heartbeating, until the consumer
    /// acknowledges it (bounded by `rebalance_timeout` and the poll timer);
    /// then the partitions are no longer owned.
    fn revoke(&mut self, partitions: BTreeSet<TopicPartition>) -> Step<()> {
        revoke_and_wait(self, &partitions)?;
        for tp in &partitions {
            self.owned.remove(tp);
        }
        self.publish();
        Ok(())
    }

    /// Reports the owned partitions lost (no commit: another member may
    /// own them already).
    pub(super) fn lose(&mut self, why: &str) {
        let group = self.config.group_id.clone();
        lose_all(&group, &mut self.owned, &self.shared, &self.events, why);
    }

    /// Leaves the group with `epoch` (-1, or -2 for a static member) on a
    /// pooled connection, bounded by `close_timeout`; failures are logged:
    /// the session timeout removes the member anyway.
    pub(super) fn leave(&mut self, epoch: i32) {
        let mut request = crate::protocol::api::ConsumerGroupHeartbeatRequest::new(
            self.config.group_id.clone(),
            self.member_id.clone(),
            epoch,
        );
        request.instance_id.clone_from(&self.config.group_instance_id);
        let deadline = crate::time::after(self.config.close_timeout);
        match self.link.request_last_coordinator(&request, deadline) {
            None => debug!(
                "group `{}`: coordinator unknown; not leaving",
                self.group()
            ),
            Some(Ok(r)) if r.error_code == crate::protocol::ErrorCode::None => {
                log::info!(
                    "group `{}`: left as {} (epoch {epoch})",
                    self.group(),
                    self.member_id
                );
            }
            Some(Ok(r)) => debug!(
                "group `{}`: leaving said {}",
                self.group(),
                r.error_code.name()
            ),
            Some(Err(e)) => debug!("group `{}`: leaving failed: {e}", self.group()),
        }
    }
}

impl Revoking for Member {
    fn link(&mut self) -> &mut Link {
        &mut self.link
    }

    fn parts(&self) -> (&MembershipConfig, &Shared, &Sender<GroupEvent>) {
        (&self.config, &self.shared, &self.events)
    }

    fn heartbeat_while_revoking(&mut self) -> Step<Instant> {
        if Instant::now() >= self.next_heartbeat {
            match self.heartbeat() {
                Ok(()) => {}
                // Keep waiting for the consumer; the next heartbeat finds
                // the coordinator again.
                Err(Interrupt::Coordinator(e) | Interrupt::Retry(e)) => {
                    debug!(
                        "group `{}`: heartbeat while revoking failed: {e}",
                        self.group()
                    );
                    self.link.forget_coordinator();
                    self.next_heartbeat = crate::time::after(self.client.config().retry_backoff());
                }
                Err(other) => return Err(other),
            }
        }
        Ok(self.next_heartbeat)
    }
}
