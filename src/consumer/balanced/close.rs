//! Closing a balanced consumer: one deadline for stopping its threads, the
//! final commit and leaving the group; `abandon` for tests that need a
//! member to vanish as a crashed process would.

use std::sync::Arc;

use log::{debug, warn};

use super::commit::{commit_until, group_moved_on};
use super::BalancedConsumer;
use crate::error::Result;

impl BalancedConsumer {
    /// Commits the positions (with auto commit), leaves the group and stops
    /// the consumer's threads, as dropping does; returns the first failure.
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    /// Stops the consumer's threads without committing or leaving the
    /// group, as a crashed process would: the coordinator gives its
    /// partitions to others after `session_timeout`. For tests of failure
    /// handling.
    #[cfg(feature = "testkit")]
    pub fn abandon(mut self) {
        let deadline = crate::time::after(self.config.fetch.close_timeout);
        if let Some(rebalancer) = self.rebalancer.take() {
            rebalancer.stop(deadline);
        }
        if let Some(fetcher) = self.fetcher.take() {
            fetcher.stop(&self.shared, deadline);
        }
        if let Some(Ok(membership)) = self.membership.take().map(Arc::try_unwrap) {
            membership.abandon();
        }
    }

    /// Everything by one deadline, `close_timeout` from now: the rebalance
    /// and fetcher threads stop, a running auto commit is joined, the final
    /// commit is sent, the group is left and the membership thread joined.
    fn shutdown(&mut self) -> Result<()> {
        let Some(fetcher) = self.fetcher.take() else {
            return Ok(());
        };
        let deadline = crate::time::after(self.config.fetch.close_timeout);
        // No more rebalance events are applied: from here on the partitions
        // held are this consumer's until it leaves.
        if let Some(rebalancer) = self.rebalancer.take() {
            rebalancer.stop(deadline);
        }
        fetcher.stop(&self.shared, deadline);
        let running = self.auto_commit.lock().take();
        if let Some(running) = running {
            // The final commit must be the last to land.
            running.join_until(deadline);
        }
        let committed = if self.config.auto_commits() {
            let request_deadline = crate::time::after(self.client.config().request_timeout());
            let committed = commit_until(
                &self.coordinator,
                &self.positions(),
                &self.member(),
                deadline.min(request_deadline),
            );
            match committed {
                // The group moved on while this member was leaving (another
                // member's leave started a rebalance): the partitions are no
                // longer this member's to commit, and their next owner
                // resumes from the last committed offsets. Not a failure of
                // close, as in the Java client; records read since then may
                // be read again.
                Err(e) if group_moved_on(&e) => {
                    warn!(
                        "group `{}`: final commit not accepted ({e}); the partitions' next owners \
                         resume from the last committed offsets",
                        self.group
                    );
                    Ok(())
                }
                other => other,
            }
        } else {
            Ok(())
        };
        let left = match self.membership.take().map(Arc::try_unwrap) {
            Some(Ok(membership)) => membership.close_until(deadline),
            // The rebalance thread is stuck in a request and still holds
            // the membership: it leaves the group when that thread ends.
            Some(Err(_)) => {
                warn!(
                    "group `{}`: the rebalance thread is still busy; leaving the group when it ends",
                    self.group
                );
                Ok(())
            }
            None => Ok(()),
        };
        debug!("balanced consumer of group `{}` closed", self.group);
        committed.and(left)
    }
}

impl Drop for BalancedConsumer {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            warn!("closing the consumer of group `{}`: {e}", self.group);
        }
    }
}
