//! One ConsumerGroupHeartbeat: what it carries (every field when joining,
//! after a new coordinator connection or a failure; otherwise only what
//! changed) and what its answer means.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use log::{debug, info, warn};

use super::Member;
use crate::cluster::CoordinatorStatus;
use crate::consumer::assignor::TopicPartition;
use crate::consumer::membership::link::{millis, Interrupt, Step};
use crate::error::Error;
use crate::protocol::api::consumer_group_heartbeat::JOIN_EPOCH;
use crate::protocol::api::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use crate::protocol::ErrorCode;

/// What one request told the coordinator, to remember once it answered.
struct Sent {
    full: bool,
    owned: Option<BTreeSet<TopicPartition>>,
    topics: Option<Vec<String>>,
    connection: u64,
}

impl Member {
    /// Sends one heartbeat and applies the answer.
    pub(super) fn heartbeat(&mut self) -> Step<()> {
        let (request, sent) = self.heartbeat_request()?;
        let timeout = self
            .client
            .config()
            .request_timeout()
            .min(self.config.session_timeout);
        // Whatever happens, the next attempt resends every field: the
        // coordinator may or may not have seen this one.
        self.send_full = true;
        let response = self
            .link
            .coordinator_request(&request, timeout)
            .map_err(|interrupt| match interrupt {
                Interrupt::Fatal(Error::UnsupportedVersion { broker, .. }) => {
                    Interrupt::Fatal(unsupported(broker))
                }
                other => other,
            })?;
        self.answered(response, sent)
    }

    /// The request and what it tells the coordinator.
    fn heartbeat_request(&mut self) -> Step<(ConsumerGroupHeartbeatRequest, Sent)> {
        let version = self
            .link
            .coordinator_version::<ConsumerGroupHeartbeatRequest>()
            .map_err(|interrupt| match interrupt {
                Interrupt::Fatal(Error::UnsupportedVersion { broker, .. }) => {
                    Interrupt::Fatal(unsupported(broker))
                }
                other => other,
            })?;
        let connection = self.link.connections();
        let full =
            self.send_full || self.epoch == JOIN_EPOCH || connection != self.connection_seen;
        let mut request = ConsumerGroupHeartbeatRequest::new(
            self.config.group_id.clone(),
            self.member_id.clone(),
            self.epoch,
        );
        let mut sent = Sent {
            full,
            owned: None,
            topics: None,
            connection,
        };
        let server_regex = version >= 1;
        if full {
            request.instance_id.clone_from(&self.config.group_instance_id);
            request.rack_id.clone_from(&self.config.rack_id);
            request.rebalance_timeout_ms = millis(self.config.rebalance_timeout);
            request.server_assignor.clone_from(&self.config.remote_assignor);
        }
        match self.config.subscription.pattern_source() {
            Some(pattern) if server_regex => {
                if full {
                    // Kafka matches the whole topic name (RE2J `matches`);
                    // the wrapping keeps this crate's "matched anywhere"
                    // meaning of a pattern on every broker.
                    request.subscribed_topic_names = Some(Vec::new());
                    request.subscribed_topic_regex = Some(format!(".*({pattern}).*"));
                }
            }
            Some(_) => {
                // No server-side regex (v0): the member matches the
                // pattern against metadata and sends names when they change.
                let topics = self.matched_topics();
                if full || self.sent_topics.as_ref() != Some(&topics) {
                    request.subscribed_topic_names = Some(topics.clone());
                    sent.topics = Some(topics);
                }
            }
            None => {
                if full {
                    request.subscribed_topic_names = Some(self.config.subscription.select(&[]));
                    // librdkafka sends an empty regex beside topic names;
                    // the mock cluster needs both set or both null.
                    request.subscribed_topic_regex = server_regex.then(String::new);
                }
            }
        }
        if full || self.sent_owned.as_ref() != Some(&self.owned) {
            request.topic_partitions = Some(self.topic_ids.by_id(&self.owned));
            sent.owned = Some(self.owned.clone());
        }
        Ok((request, sent))
    }

    /// The topics a client-side pattern matches now; the last ones sent
    /// when metadata cannot be read.
    fn matched_topics(&self) -> Vec<String> {
        match self.client.topics() {
            Ok(available) => self.config.subscription.select(&available),
            Err(e) => {
                debug!("group `{}`: metadata: {e}", self.group());
                self.sent_topics.clone().unwrap_or_default()
            }
        }
    }

    /// Re-matches a client-side pattern; a change is sent at once.
    pub(super) fn check_pattern(&mut self) {
        if self.sent_topics.is_none() {
            return;
        }
        let topics = self.matched_topics();
        if self.sent_topics.as_ref() != Some(&topics) {
            info!(
                "group `{}`: subscription now matches {topics:?}",
                self.group()
            );
            self.next_heartbeat = Instant::now();
        }
    }

    fn answered(&mut self, response: ConsumerGroupHeartbeatResponse, sent: Sent) -> Step<()> {
        let now = Instant::now();
        match response.error_code {
            ErrorCode::None => {}
            ErrorCode::FencedMemberEpoch | ErrorCode::UnknownMemberId => {
                warn!(
                    "group `{}`: heartbeat at epoch {} said {}; rejoining",
                    self.group(),
                    self.epoch,
                    response.error_code.name()
                );
                return Err(Interrupt::Rejoin);
            }
            code => return Err(self.failure(code, response.error_message)),
        }
        self.last_heartbeat_ok = now;
        self.send_full = false;
        if sent.full {
            self.connection_seen = sent.connection;
        }
        if let Some(owned) = sent.owned {
            self.sent_owned = Some(owned);
        }
        if let Some(topics) = sent.topics {
            self.sent_topics = Some(topics);
        }
        if let Ok(ms) = u64::try_from(response.heartbeat_interval_ms) {
            if ms > 0 {
                self.interval = Duration::from_millis(ms);
            }
        }
        self.next_heartbeat = crate::time::add(now, self.interval);
        if self.epoch != response.member_epoch {
            debug!(
                "group `{}`: member {} epoch {} -> {}",
                self.group(),
                self.member_id,
                self.epoch,
                response.member_epoch
            );
            if self.epoch == JOIN_EPOCH && response.member_epoch > 0 {
                info!(
                    "group `{}`: joined as {} at epoch {}",
                    self.group(),
                    self.member_id,
                    response.member_epoch
                );
            }
        }
        self.epoch = response.member_epoch;
        if let Some(assignment) = response.assignment {
            self.target = Some(
                assignment
                    .topic_partitions
                    .into_iter()
                    .map(|t| (t.topic_id, t.partitions))
                    .collect(),
            );
        }
        self.publish();
        if self.announce && self.epoch > 0 && self.target.is_none() {
            // Joined with nothing to reconcile: say so, as a classic join
            // with an empty assignment does.
            self.announce = false;
            self.announce_assignment(BTreeSet::new());
        }
        Ok(())
    }

    /// What an error answer means for the member.
    fn failure(&mut self, code: ErrorCode, message: Option<String>) -> Interrupt {
        let context = format!("ConsumerGroupHeartbeat for group `{}`", self.group());
        match CoordinatorStatus::of(code) {
            Some(CoordinatorStatus::Moved) => {
                self.link.observe(code);
                return Interrupt::Coordinator(Error::broker(code, message, context));
            }
            Some(CoordinatorStatus::Loading) => {
                return Interrupt::Retry(Error::broker(code, message, context))
            }
            None => {}
        }
        let advice = match code {
            ErrorCode::UnreleasedInstanceId => Some(format!(
                "group_instance_id `{}` is still used by another member of the group; \
                 stop that member (or wait for its session to expire) or choose another id",
                self.config.group_instance_id.as_deref().unwrap_or("")
            )),
            ErrorCode::GroupMaxSizeReached => Some(
                "the group has as many members as the broker allows \
                 (group.consumer.max.size); raise it or stop a member"
                    .to_owned(),
            ),
            ErrorCode::UnsupportedAssignor => Some(format!(
                "the broker has no assignor {:?}; use one of its group.consumer.assignors \
                 (\"uniform\", \"range\")",
                self.config.remote_assignor.as_deref().unwrap_or("")
            )),
            ErrorCode::InvalidRegularExpression => Some(
                "the broker cannot compile the subscription pattern (Kafka uses RE2J syntax)"
                    .to_owned(),
            ),
            ErrorCode::GroupIdNotFound | ErrorCode::InconsistentGroupProtocol => Some(format!(
                "group `{}` exists with the classic protocol; use GroupProtocol::Classic \
                 for it or another group id",
                self.group()
            )),
            _ => None,
        };
        let message = match (message, advice) {
            (Some(m), Some(a)) => Some(format!("{m}: {a}")),
            (m, a) => a.or(m),
        };
        let error = Error::broker(code, message, context);
        if code.is_retriable() {
            Interrupt::Retry(error)
        } else {
            Interrupt::Fatal(error)
        }
    }
}

/// The error for a broker without ConsumerGroupHeartbeat.
fn unsupported(broker: String) -> Error {
    Error::UnsupportedVersion {
        broker,
        api: "ConsumerGroupHeartbeat",
        ours: "v0..=v1, the KIP-848 consumer group protocol; this broker has no \
               KIP-848 groups: use GroupProtocol::Classic with it"
            .to_owned(),
    }
}
