//! The fetcher's own connections to partition leaders: made on short-lived
//! threads so a black-holed broker never stalls the other leaders, with a
//! backoff per leader after failures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, warn};

use crate::error::Error;

use super::{Fetcher, CONNECT_THREAD};
use crate::thread as worker;

impl Fetcher {
    /// Opens a connection to `leader` on a `kafka-sync-connect` thread; the
    /// result comes back through `connecting`.
    ///
    /// The connection is the fetcher's own, outside the client's pool: a
    /// broker serves one request per connection at a time, so a Fetch it
    /// holds for `fetch_max_wait` on a shared connection would hold up every
    /// commit, produce and metadata request to that broker behind it (the
    /// Java consumer and producer likewise use sockets of their own). The
    /// fetcher keeps its own per-leader backoff, so the pool's is not needed.
    pub(super) fn start_connecting(&mut self, leader: i32) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let client = self.client.clone();
        let spawned = worker::spawn(CONNECT_THREAD, move || {
            let _ = tx.send(client.dedicated_connection(leader).map(Arc::new));
        });
        match spawned {
            Ok(thread) => {
                self.connecting.insert(leader, rx);
                self.connect_threads.insert(leader, thread);
            }
            Err(e) => self.leader_failed(leader, &e),
        }
    }

    /// Joins the connect thread of `leader`, which has just sent its result
    /// (a panicked one drops its sender, which reads as a failed attempt).
    pub(super) fn join_connect_thread(&mut self, leader: i32) {
        if let Some(thread) = self.connect_threads.remove(&leader) {
            thread.join_until(Instant::now() + Duration::from_secs(1));
        }
    }

    /// The fetcher stops: connection attempts still running are not waited
    /// for. Each is bounded by the client's `connect_timeout` (and SASL's
    /// request timeout), holds only a clone of the client, and ends on its
    /// own; waiting would let a black-holed broker hold up the consumer's
    /// close by a whole connect timeout.
    pub(super) fn detach_connect_threads(&mut self) {
        for (_, thread) in self.connect_threads.drain() {
            if thread.is_finished() {
                thread.join_until(Instant::now());
            } else {
                thread.detach("a connection attempt ends by itself within connect_timeout");
            }
        }
    }

    pub(super) fn leader_failed(&mut self, leader: i32, e: &Error) {
        let failures = self.leader_failures.get(&leader).map_or(0, |&(n, _)| n) + 1;
        let delay = self.backoff.delay(failures);
        self.leader_failures
            .insert(leader, (failures, crate::time::after(delay)));
        self.metadata_stale = true;
        if failures == 1 {
            warn!(
                "fetching {} from broker {leader} failed: {e}; retrying in {delay:?}",
                self.shared.label
            );
        } else {
            debug!(
                "fetching {} from broker {leader} failed again ({failures}): {e}",
                self.shared.label
            );
        }
    }
}
