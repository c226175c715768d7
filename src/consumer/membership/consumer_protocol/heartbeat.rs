//! One ConsumerGroupHeartbeat: what it carries (every field when joining,
//! after a new coordinator connection or a failure; otherwise only what
//! changed) and what its answer means.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use log::{debug, info, warn};

use super::Member;
use crate::consumer::membership::{MembershipConfig, Subscription};
use crate::cluster::CoordinatorStatus;
use crate::consumer::assignor::TopicPartition;
use crate::consumer::member_id;
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
            .map_err(explain_unsupported)?;
        self.answered(response, sent)
    }

    /// The request and what it tells the coordinator.
    fn heartbeat_request(&mut self) -> Step<(ConsumerGroupHeartbeatRequest, Sent)> {
        let version = self
            .link
            .coordinator_version::<ConsumerGroupHeartbeatRequest>()
            .map_err(explain_unsupported)?;
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
        let client_side = self.config.subscription.is_pattern() && !server_regex;
        if client_side && (full || self.matched.is_none()) {
            self.matched = Some(self.matched_topics());
        }
        let matched = if client_side {
            self.matched.as_deref()
        } else {
            None
        };
        let (names, regex) = subscription_fields(
            &self.config.subscription,
            server_regex,
            full,
            matched,
            self.sent_topics.as_deref(),
        );
        if client_side {
            sent.topics.clone_from(&names);
        }
        request.subscribed_topic_names = names;
        request.subscribed_topic_regex = regex;
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

    /// Re-matches a client-side pattern (every `metadata_refresh_interval`);
    /// a change is sent at once.
    pub(super) fn check_pattern(&mut self) {
        if self.sent_topics.is_none() {
            // The broker matches it (or nothing was sent yet).
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
        self.matched = Some(topics);
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
        self.reconcile_due = self.target.is_some();
        self.publish();
        if self.announce && self.epoch > 0 && self.target.is_none() {
            // Joined with nothing to reconcile: say so, as a classic join
            // with an empty assignment does.
            self.announce = false;
            self.announce_assignment(BTreeSet::new());
        }
        Ok(())
    }

    /// What an error answer means for the member; a moved coordinator is
    /// forgotten.
    fn failure(&mut self, code: ErrorCode, message: Option<String>) -> Interrupt {
        let interrupt = classify(&self.config, code, message);
        if matches!(interrupt, Interrupt::Coordinator(_)) {
            self.link.observe(code);
        }
        interrupt
    }
}

/// What the error `code` in a heartbeat's answer means, with advice in the
/// message of the fatal ones.
fn classify(config: &MembershipConfig, code: ErrorCode, message: Option<String>) -> Interrupt {
    let context = format!("ConsumerGroupHeartbeat for group `{}`", config.group_id);
    match CoordinatorStatus::of(code) {
        Some(CoordinatorStatus::Moved) => {
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
            config.group_instance_id.as_deref().unwrap_or("")
        )),
        ErrorCode::GroupMaxSizeReached => Some(
            "the group has as many members as the broker allows \
             (group.consumer.max.size); raise it or stop a member"
                .to_owned(),
        ),
        ErrorCode::UnsupportedAssignor => Some(format!(
            "the broker has no assignor {:?}; use one of its group.consumer.assignors \
             (\"uniform\", \"range\")",
            config.remote_assignor.as_deref().unwrap_or("")
        )),
        ErrorCode::InvalidRegularExpression => Some(
            "the broker cannot compile the subscription pattern (Kafka uses RE2J syntax)"
                .to_owned(),
        ),
        ErrorCode::GroupIdNotFound | ErrorCode::InconsistentGroupProtocol => Some(format!(
            "group `{}` exists with the classic protocol; use GroupProtocol::Classic \
             for it or another group id",
            config.group_id
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

/// The subscription fields of one heartbeat: `subscribed_topic_names` and
/// `subscribed_topic_regex`, both set or both null (the mock cluster aborts
/// otherwise). A full request carries the subscription; a later one only a
/// client-side match (`matched`, for brokers without server-side regex)
/// that differs from the one `sent`.
fn subscription_fields(
    subscription: &Subscription,
    server_regex: bool,
    full: bool,
    matched: Option<&[String]>,
    sent: Option<&[String]>,
) -> (Option<Vec<String>>, Option<String>) {
    match subscription.pattern_source() {
        // Kafka matches the whole topic name (RE2J `matches`); the wrapping
        // keeps this crate's "matched anywhere" meaning of a pattern on
        // every broker.
        Some(pattern) if server_regex => {
            if full {
                (Some(Vec::new()), Some(format!(".*({pattern}).*")))
            } else {
                (None, None)
            }
        }
        // No server-side regex (v0): the member matches the pattern against
        // metadata and sends names when they change.
        Some(_) => match matched {
            Some(topics) if full || sent != Some(topics) => (Some(topics.to_vec()), None),
            _ => (None, None),
        },
        // librdkafka sends an empty regex beside topic names.
        None if full => (
            Some(subscription.select(&[])),
            server_regex.then(String::new),
        ),
        None => (None, None),
    }
}

/// Says, in an `UnsupportedVersion` for ConsumerGroupHeartbeat, that the
/// broker has no KIP-848 groups and what to use instead.
fn explain_unsupported(interrupt: Interrupt) -> Interrupt {
    match interrupt {
        Interrupt::Fatal(e) => Interrupt::Fatal(member_id::explain_unsupported(
            e,
            "v0..=v1, the KIP-848 consumer group protocol",
            "this broker has no KIP-848 groups (Apache Kafka 4.0 or newer has them): use \
             GroupProtocol::Classic with it",
        )),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics() -> Subscription {
        Subscription::topics(["b", "a"])
    }

    fn pattern() -> Subscription {
        Subscription::pattern("^orders-").unwrap()
    }

    #[test]
    fn a_full_request_sends_topic_names_with_an_empty_regex() {
        assert_eq!(
            subscription_fields(&topics(), true, true, None, None),
            (Some(vec!["a".into(), "b".into()]), Some(String::new()))
        );
        // v0 has no regex field.
        assert_eq!(
            subscription_fields(&topics(), false, true, None, None),
            (Some(vec!["a".into(), "b".into()]), None)
        );
    }

    #[test]
    fn a_pattern_goes_to_the_broker_wrapped_to_match_anywhere() {
        assert_eq!(
            subscription_fields(&pattern(), true, true, None, None),
            (Some(vec![]), Some(".*(^orders-).*".into()))
        );
        let re = regex::Regex::new(".*(^orders-).*").unwrap();
        assert!(re.is_match("orders-eu") && !re.is_match("x-orders-eu"));
    }

    #[test]
    fn later_requests_leave_an_unchanged_subscription_null() {
        for subscription in [topics(), pattern()] {
            assert_eq!(
                subscription_fields(&subscription, true, false, None, None),
                (None, None)
            );
        }
    }

    #[test]
    fn without_server_side_regex_a_pattern_is_sent_as_the_names_it_matches_when_they_change() {
        let now = vec!["orders-eu".to_owned()];
        let before = vec![];
        assert_eq!(
            subscription_fields(&pattern(), false, false, Some(&now), Some(&before)),
            (Some(now.clone()), None)
        );
        assert_eq!(
            subscription_fields(&pattern(), false, false, Some(&now), Some(&now)),
            (None, None)
        );
        assert_eq!(
            subscription_fields(&pattern(), false, true, Some(&now), Some(&now)),
            (Some(now.clone()), None)
        );
    }

    fn config() -> MembershipConfig {
        MembershipConfig::new("g", topics())
            .group_instance_id("i-1")
            .remote_assignor("sticky")
    }

    fn fatal_message(code: ErrorCode) -> String {
        match classify(&config(), code, None) {
            Interrupt::Fatal(e) => {
                assert_eq!(e.code(), Some(code));
                e.to_string()
            }
            _ => panic!("{code:?} is not fatal"),
        }
    }

    #[test]
    fn fatal_codes_carry_advice() {
        assert!(fatal_message(ErrorCode::UnreleasedInstanceId).contains("`i-1`"));
        assert!(fatal_message(ErrorCode::GroupMaxSizeReached).contains("group.consumer.max.size"));
        assert!(fatal_message(ErrorCode::UnsupportedAssignor).contains("\"sticky\""));
        assert!(fatal_message(ErrorCode::GroupIdNotFound).contains("GroupProtocol::Classic"));
        assert!(fatal_message(ErrorCode::GroupAuthorizationFailed).contains("g"));
    }

    #[test]
    fn coordinator_and_transient_codes_are_retried() {
        assert!(matches!(
            classify(&config(), ErrorCode::NotCoordinator, None),
            Interrupt::Coordinator(_)
        ));
        assert!(matches!(
            classify(&config(), ErrorCode::CoordinatorNotAvailable, None),
            Interrupt::Coordinator(_)
        ));
        for code in [
            ErrorCode::CoordinatorLoadInProgress,
            ErrorCode::RequestTimedOut,
        ] {
            assert!(
                matches!(classify(&config(), code, None), Interrupt::Retry(_)),
                "{code:?}"
            );
        }
    }

    #[test]
    fn the_unsupported_version_error_names_the_api_and_the_classic_protocol() {
        let Interrupt::Fatal(e) = explain_unsupported(Interrupt::Fatal(Error::UnsupportedVersion {
            broker: "127.0.0.1:9092".into(),
            api: "ConsumerGroupHeartbeat",
            ours: "v0..=v1".into(),
        })) else {
            panic!("not fatal")
        };
        assert!(matches!(
            e,
            Error::UnsupportedVersion {
                api: "ConsumerGroupHeartbeat",
                ..
            }
        ));
        assert!(e.to_string().contains("GroupProtocol::Classic"), "{e}");
    }
}
