//! Share-group membership (KIP-932): the join on the caller's thread, then
//! the `kafka-sync-share-heartbeat` thread that heartbeats at the interval
//! the coordinator asks for, takes each new assignment, rejoins (epoch 0,
//! same member id) when fenced, and leaves (epoch -1) when stopped.
//!
//! Share groups have no JoinGroup/SyncGroup round: the coordinator assigns
//! partitions itself and sends each member its whole assignment in
//! heartbeat answers. The member id is generated here
//! ([`member_id::generate`](crate::consumer::member_id::generate)), as in KIP-848
//! consumer groups; what could be shared with the KIP-848 member is listed
//! in docs/design.md.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use log::{debug, info, warn};
use parking_lot::Mutex;

use crate::cluster::coordinator::{CoordinatorStatus, GroupCoordinator};
use crate::consumer::member_id;
use crate::error::{Error, Result};
use crate::protocol::api::share_group_heartbeat::{JOIN_EPOCH, LEAVE_EPOCH};
use crate::protocol::api::{ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse};
use crate::protocol::ErrorCode;
use crate::thread::{self, Handle};

/// The heartbeat thread's name.
pub(crate) const THREAD: &str = "kafka-sync-share-heartbeat";

/// What the membership thread shares with the consumer.
#[derive(Debug, Default)]
pub(crate) struct Membership {
    /// The member's epoch (0 while rejoining).
    pub epoch: i32,
    /// Assigned partitions by topic id.
    pub assignment: BTreeMap<[u8; 16], Vec<i32>>,
    /// Why the membership ended for good (the consumer reports it).
    pub fatal: Option<Error>,
}

/// How the member identifies itself.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub group_id: String,
    pub member_id: String,
    pub topics: Vec<String>,
    pub rack_id: Option<String>,
}

impl Identity {
    fn request(&self, epoch: i32, with_subscription: bool) -> ShareGroupHeartbeatRequest {
        ShareGroupHeartbeatRequest {
            group_id: self.group_id.clone(),
            member_id: self.member_id.clone(),
            member_epoch: epoch,
            rack_id: if with_subscription {
                self.rack_id.clone()
            } else {
                None
            },
            subscribed_topic_names: with_subscription.then(|| self.topics.clone()),
        }
    }
}

/// The running membership: the shared state and the heartbeat thread.
pub(crate) struct Member {
    pub shared: Arc<Mutex<Membership>>,
    stop: Option<Sender<()>>,
    handle: Option<Handle>,
}

/// Says, in an `UnsupportedVersion` for ShareGroupHeartbeat, which Kafka
/// has share groups.
pub(crate) fn explain_unsupported(e: Error) -> Error {
    member_id::explain_unsupported(
        e,
        "v1",
        "share groups (KIP-932) need Apache Kafka 4.1 or newer with share groups enabled \
         (`group.share.enable`, on by default from 4.2)",
    )
}

/// One heartbeat to the coordinator, forgetting it when it moved.
fn heartbeat(
    coordinator: &GroupCoordinator,
    request: &ShareGroupHeartbeatRequest,
    deadline: Instant,
) -> Result<ShareGroupHeartbeatResponse> {
    let conn = coordinator.connection(deadline)?;
    conn.version_for::<ShareGroupHeartbeatRequest>()
        .map_err(explain_unsupported)?;
    let response = conn.request(request)?;
    coordinator.observe(response.error_code);
    Ok(response)
}

/// An error answer as an [`Error`].
fn answer_error(identity: &Identity, r: &ShareGroupHeartbeatResponse) -> Error {
    Error::broker(
        r.error_code,
        r.error_message.clone(),
        format!("ShareGroupHeartbeat of share group `{}`", identity.group_id),
    )
}

fn assignment_of(r: &ShareGroupHeartbeatResponse) -> Option<BTreeMap<[u8; 16], Vec<i32>>> {
    r.assignment.as_ref().map(|topics| {
        topics
            .iter()
            .map(|t| (t.topic_id, t.partitions.clone()))
            .collect()
    })
}

fn interval_of(r: &ShareGroupHeartbeatResponse) -> Duration {
    Duration::from_millis(u64::try_from(r.heartbeat_interval_ms.max(100)).unwrap_or(100))
}

impl Member {
    /// Joins `identity`'s group (retrying coordinator moves and retriable
    /// codes until `deadline`), then starts the heartbeat thread.
    ///
    /// # Errors
    /// [`Error::UnsupportedVersion`] naming ShareGroupHeartbeat when the
    /// coordinator has no share groups; [`Error::Broker`] for a code that
    /// retrying does not cure (`GROUP_MAX_SIZE_REACHED`, authorization);
    /// [`Error::Timeout`] when `deadline` passes first.
    pub(crate) fn join(
        coordinator: GroupCoordinator,
        identity: Identity,
        backoff: Duration,
        deadline: Instant,
    ) -> Result<Member> {
        let request = identity.request(JOIN_EPOCH, true);
        let response = loop {
            let attempt = heartbeat(&coordinator, &request, deadline);
            let retry = match &attempt {
                Ok(r) if r.error_code.is_ok() => None,
                Ok(r)
                    if CoordinatorStatus::of(r.error_code).is_some()
                        || r.error_code.is_retriable() =>
                {
                    Some(answer_error(&identity, r))
                }
                Ok(r) => return Err(answer_error(&identity, r)),
                Err(e) if e.is_retriable() => Some(e.clone()),
                Err(e) => return Err(e.clone()),
            };
            match retry {
                None => break attempt?,
                Some(e) => {
                    if crate::time::add(Instant::now(), backoff) >= deadline {
                        return Err(Error::timeout(
                            crate::TimeoutKind::Coordinator,
                            format!(
                                "joining share group `{}` (join_timeout); last error: {e}",
                                identity.group_id
                            ),
                        ));
                    }
                    debug!("share group `{}`: join retry: {e}", identity.group_id);
                    std::thread::sleep(backoff);
                }
            }
        };
        info!(
            "share group `{}`: member {} joined at epoch {}",
            identity.group_id, identity.member_id, response.member_epoch
        );
        let shared = Arc::new(Mutex::new(Membership {
            epoch: response.member_epoch,
            assignment: assignment_of(&response).unwrap_or_default(),
            fatal: None,
        }));
        let (stop, stopped) = crossbeam_channel::bounded(1);
        let state = Arc::clone(&shared);
        let interval = interval_of(&response);
        let handle = thread::spawn(THREAD, move || {
            run(&coordinator, &identity, &state, &stopped, interval, backoff);
        })?;
        Ok(Member {
            shared,
            stop: Some(stop),
            handle: Some(handle),
        })
    }

    /// Whether the heartbeat thread is still running.
    pub(crate) fn is_running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// Stops the thread, which leaves the group; waits until `deadline`.
    pub(crate) fn stop(&mut self, deadline: Instant) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.try_send(());
        }
        if let Some(handle) = self.handle.take() {
            if let thread::Joined::Panicked(message) = handle.join_until(deadline) {
                warn!("{THREAD} panicked: {message}");
            }
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.stop(crate::time::after(Duration::from_secs(5)));
    }
}

/// The heartbeat loop; leaves the group when told to stop.
fn run(
    coordinator: &GroupCoordinator,
    identity: &Identity,
    state: &Mutex<Membership>,
    stopped: &Receiver<()>,
    mut interval: Duration,
    backoff: Duration,
) {
    let request_timeout = coordinator.client().config().request_timeout();
    let mut send_subscription = false;
    // Until told to stop (a message, or the sender dropped).
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
        let epoch = state.lock().epoch;
        let request = identity.request(epoch, send_subscription || epoch == JOIN_EPOCH);
        let deadline = crate::time::after(request_timeout);
        let response = match heartbeat(coordinator, &request, deadline) {
            Ok(r) => r,
            Err(e @ Error::UnsupportedVersion { .. }) => {
                state.lock().fatal = Some(e);
                return;
            }
            Err(e) => {
                warn!("share group `{}`: heartbeat failed: {e}", identity.group_id);
                interval = backoff;
                send_subscription = true;
                continue;
            }
        };
        let code = response.error_code;
        if code.is_ok() {
            let mut s = state.lock();
            if s.epoch != response.member_epoch {
                debug!(
                    "share group `{}`: member {} now at epoch {}",
                    identity.group_id, identity.member_id, response.member_epoch
                );
            }
            s.epoch = response.member_epoch;
            if let Some(assignment) = assignment_of(&response) {
                s.assignment = assignment;
            }
            interval = interval_of(&response);
            send_subscription = false;
        } else if matches!(
            code,
            ErrorCode::UnknownMemberId | ErrorCode::FencedMemberEpoch
        ) {
            warn!(
                "share group `{}`: member {} was fenced ({}); joining again",
                identity.group_id,
                identity.member_id,
                code.name()
            );
            let mut s = state.lock();
            s.epoch = JOIN_EPOCH;
            s.assignment.clear();
            interval = Duration::ZERO;
        } else if CoordinatorStatus::of(code).is_some() || code.is_retriable() {
            debug!(
                "share group `{}`: heartbeat answered {}; retrying",
                identity.group_id,
                code.name()
            );
            interval = backoff;
            send_subscription = true;
        } else {
            let e = answer_error(identity, &response);
            log::error!("share group `{}`: membership ended: {e}", identity.group_id);
            let mut s = state.lock();
            s.assignment.clear();
            s.fatal = Some(e);
            return;
        }
    }
    // Leave: the coordinator gives the partitions to the others at once.
    let epoch = state.lock().epoch;
    if epoch == JOIN_EPOCH {
        return;
    }
    let request = identity.request(LEAVE_EPOCH, false);
    match heartbeat(
        coordinator,
        &request,
        crate::time::after(request_timeout.min(Duration::from_secs(5))),
    ) {
        Ok(r) if r.error_code.is_ok() => {
            info!(
                "share group `{}`: member {} left",
                identity.group_id, identity.member_id
            );
        }
        Ok(r) => warn!(
            "share group `{}`: leave answered {}",
            identity.group_id,
            r.error_code.name()
        ),
        Err(e) => warn!("share group `{}`: leave failed: {e}", identity.group_id),
    }
    state.lock().assignment.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsupported_share_group_heartbeat_says_which_kafka_has_share_groups() {
        let e = explain_unsupported(Error::UnsupportedVersion {
            broker: "127.0.0.1:9092".into(),
            api: "ShareGroupHeartbeat",
            ours: "v1..=v1".into(),
        });
        let text = e.to_string();
        assert!(text.contains("ShareGroupHeartbeat"), "{text}");
        assert!(text.contains("Kafka 4.1 or newer"), "{text}");
        let other = explain_unsupported(Error::Config("x".into()));
        assert!(matches!(other, Error::Config(_)));
    }

    #[test]
    fn the_subscription_and_rack_go_with_joins_only() {
        let identity = Identity {
            group_id: "g".into(),
            member_id: "m".into(),
            topics: vec!["jobs".into()],
            rack_id: Some("r".into()),
        };
        let join = identity.request(JOIN_EPOCH, true);
        assert_eq!(join.subscribed_topic_names, Some(vec!["jobs".to_owned()]));
        assert_eq!(join.rack_id.as_deref(), Some("r"));
        let beat = identity.request(3, false);
        assert_eq!((beat.subscribed_topic_names, beat.rack_id), (None, None));
    }
}
