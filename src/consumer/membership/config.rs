//! [`MembershipConfig`] and [`Subscription`]: what a group member subscribes
//! to and the settings of its membership, every default the Java
//! consumer's; checked when the membership starts.

use std::time::Duration;

use super::GroupProtocol;
use crate::cluster::KafkaClient;
use crate::consumer::assignor::{Assignor, PartitionAssignor, RebalanceProtocol};
use crate::error::{Error, Result};

/// What a member subscribes to: a list of topics
/// ([`Subscription::topics`]) or a name pattern ([`Subscription::pattern`]).
#[derive(Debug, Clone)]
pub struct Subscription {
    kind: SubscriptionKind,
}

/// The regex stays private so that `regex` is no public dependency.
#[derive(Debug, Clone)]
enum SubscriptionKind {
    /// These topics (a topic that does not exist yet is simply not assigned).
    Topics(Vec<String>),
    /// Every topic whose name matches, re-evaluated on each metadata refresh
    /// (`metadata_refresh_interval`). Internal topics never match.
    Pattern(regex::Regex),
}

impl Subscription {
    /// A subscription to `topics` (a topic that does not exist yet is simply
    /// not assigned).
    pub fn topics<S: Into<String>>(topics: impl IntoIterator<Item = S>) -> Self {
        Subscription {
            kind: SubscriptionKind::Topics(topics.into_iter().map(Into::into).collect()),
        }
    }

    /// A subscription to every topic matching `pattern` (a
    /// [regex](https://docs.rs/regex) expression, matched anywhere in the
    /// name: anchor it with `^…$`), re-evaluated on each metadata refresh
    /// (`metadata_refresh_interval`). Internal topics never match.
    ///
    /// # Errors
    /// [`Error::Config`] when `pattern` is not a valid expression.
    pub fn pattern(pattern: &str) -> Result<Self> {
        regex::Regex::new(pattern)
            .map(|re| Subscription {
                kind: SubscriptionKind::Pattern(re),
            })
            .map_err(|e| Error::Config(format!("invalid subscription pattern `{pattern}`: {e}")))
    }

    /// Whether this is a pattern subscription, whose topics change with the
    /// cluster's metadata.
    pub fn is_pattern(&self) -> bool {
        matches!(self.kind, SubscriptionKind::Pattern(_))
    }

    /// The listed topics of a [`Subscription::topics`] subscription; `None`
    /// for a pattern.
    pub(crate) fn listed_topics(&self) -> Option<&[String]> {
        match &self.kind {
            SubscriptionKind::Topics(topics) => Some(topics),
            SubscriptionKind::Pattern(_) => None,
        }
    }

    /// The expression of a [`Subscription::pattern`] subscription; `None`
    /// for a list of topics.
    pub(crate) fn pattern_source(&self) -> Option<&str> {
        match &self.kind {
            SubscriptionKind::Topics(_) => None,
            SubscriptionKind::Pattern(re) => Some(re.as_str()),
        }
    }

    /// The topics this subscription selects among `available`.
    pub fn select(&self, available: &[String]) -> Vec<String> {
        let mut topics: Vec<String> = match &self.kind {
            SubscriptionKind::Topics(topics) => topics.clone(),
            SubscriptionKind::Pattern(re) => available
                .iter()
                .filter(|t| re.is_match(t))
                .cloned()
                .collect(),
        };
        topics.sort();
        topics.dedup();
        topics
    }
}

/// Settings of a [`GroupMembership`](super::GroupMembership); every default below is the Java
/// consumer's.
#[derive(Debug, Clone)]
pub struct MembershipConfig {
    pub(crate) group_id: String,
    pub(crate) subscription: Subscription,
    pub(crate) assignors: Vec<Assignor>,
    pub(crate) group_instance_id: Option<String>,
    pub(crate) rack_id: Option<String>,
    pub(crate) session_timeout: Duration,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) rebalance_timeout: Duration,
    pub(crate) max_poll_interval: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) metadata_refresh_interval: Option<Duration>,
    pub(crate) group_protocol: GroupProtocol,
    pub(crate) remote_assignor: Option<String>,
}

impl MembershipConfig {
    /// Membership of group `group_id` subscribed to `subscription`, with:
    /// assignor [`Assignor::Range`], no `group_instance_id` (a dynamic
    /// member), `session_timeout` 45 s, `heartbeat_interval` 3 s,
    /// `rebalance_timeout` and `max_poll_interval` 300 s, `close_timeout`
    /// 5 s, metadata re-checked every `metadata_max_age` of the client.
    pub fn new(group_id: impl Into<String>, subscription: Subscription) -> Self {
        MembershipConfig {
            group_id: group_id.into(),
            subscription,
            assignors: vec![Assignor::Range],
            group_instance_id: None,
            rack_id: None,
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            rebalance_timeout: Duration::from_secs(300),
            max_poll_interval: Duration::from_secs(300),
            close_timeout: Duration::from_secs(5),
            metadata_refresh_interval: None,
            group_protocol: GroupProtocol::Classic,
            remote_assignor: None,
        }
    }

    /// The group protocol: [`GroupProtocol::Classic`] (JoinGroup, SyncGroup,
    /// Heartbeat, the default) or [`GroupProtocol::Consumer`] (KIP-848's
    /// ConsumerGroupHeartbeat, Kafka 4.0+).
    #[must_use]
    pub fn group_protocol(mut self, protocol: GroupProtocol) -> Self {
        self.group_protocol = protocol;
        self
    }

    /// The broker-side assignor of a [`GroupProtocol::Consumer`] member
    /// (`"uniform"` or `"range"` on Apache Kafka). Defaults to none: the
    /// broker's `group.consumer.assignors` default (`uniform`). The classic
    /// protocol ignores it and uses [`assignor`](Self::assignor).
    #[must_use]
    pub fn remote_assignor(mut self, assignor: impl Into<String>) -> Self {
        self.remote_assignor = Some(assignor.into());
        self
    }

    /// Uses one assignor (replacing the list).
    #[must_use]
    pub fn assignor(mut self, assignor: Assignor) -> Self {
        self.assignors = vec![assignor];
        self
    }

    /// Offers several assignors, most preferred first; the coordinator picks
    /// the first one every member supports. Rebalancing is cooperative only
    /// when every one of them is cooperative.
    #[must_use]
    pub fn assignors(mut self, assignors: impl IntoIterator<Item = Assignor>) -> Self {
        self.assignors = assignors.into_iter().collect();
        self
    }

    /// Makes this a static member (KIP-345): a restart within
    /// `session_timeout` under the same id gets its partitions back without
    /// a rebalance. Static members do not send LeaveGroup on close.
    #[must_use]
    pub fn group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group_instance_id = Some(id.into());
        self
    }

    /// The member's rack, sent to rack-aware assignors (KIP-881).
    #[must_use]
    pub fn rack_id(mut self, rack: impl Into<String>) -> Self {
        self.rack_id = Some(rack.into());
        self
    }

    /// How long the coordinator waits for a heartbeat before removing the
    /// member. Defaults to 45 s; the broker bounds it by its
    /// `group.min/max.session.timeout.ms`.
    #[must_use]
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }

    /// Time between heartbeats. Defaults to 3 s; keep it well under a third
    /// of `session_timeout`.
    #[must_use]
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// How long the coordinator waits for every member to rejoin during a
    /// rebalance, and how long this member waits for the consumer to
    /// acknowledge a revocation. Defaults to 300 s (the Java consumer uses
    /// `max.poll.interval.ms`).
    #[must_use]
    pub fn rebalance_timeout(mut self, timeout: Duration) -> Self {
        self.rebalance_timeout = timeout;
        self
    }

    /// The longest the consumer may go without calling
    /// [`GroupMembership::poll`](super::GroupMembership::poll) before the member leaves the group.
    /// Defaults to 300 s.
    #[must_use]
    pub fn max_poll_interval(mut self, interval: Duration) -> Self {
        self.max_poll_interval = interval;
        self
    }

    /// Bound on leaving the group and joining the `kafka-sync-heartbeat`
    /// thread in [`GroupMembership::close`](super::GroupMembership::close) and `Drop`; a thread still busy
    /// then is detached. A balanced consumer uses its own `close_timeout`
    /// instead. Defaults to 5 s.
    #[must_use]
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// How often a pattern subscription is re-evaluated and the leader
    /// checks subscribed topics' partition counts. Defaults to the client's
    /// `metadata_max_age`.
    #[must_use]
    pub fn metadata_refresh_interval(mut self, interval: Duration) -> Self {
        self.metadata_refresh_interval = Some(interval);
        self
    }

    /// The group id.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// The rebalance protocol: cooperative when every assignor supports it.
    pub fn rebalance_protocol(&self) -> RebalanceProtocol {
        if !self.assignors.is_empty()
            && self
                .assignors
                .iter()
                .all(|a| a.protocol() == RebalanceProtocol::Cooperative)
        {
            RebalanceProtocol::Cooperative
        } else {
            RebalanceProtocol::Eager
        }
    }

    pub(super) fn validate(&self) -> Result<()> {
        let fits_ms = |d: Duration| i32::try_from(d.as_millis()).is_ok();
        if self.group_id.is_empty() {
            return Err(Error::Config("the group id must not be empty".into()));
        }
        if self.assignors.is_empty() {
            return Err(Error::Config("name at least one assignor".into()));
        }
        let mut names: Vec<&str> = self.assignors.iter().map(|a| a.name()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) || names.contains(&"") {
            return Err(Error::Config(format!(
                "assignor names must be unique and non-empty: {names:?}"
            )));
        }
        if let Some(topics) = self.subscription.listed_topics() {
            if topics.is_empty() {
                return Err(Error::Config("subscribe to at least one topic".into()));
            }
        }
        if self.remote_assignor.as_deref() == Some("") {
            return Err(Error::Config(
                "remote_assignor must name an assignor such as \"uniform\" or \"range\"".into(),
            ));
        }
        if self.heartbeat_interval.is_zero() || self.heartbeat_interval >= self.session_timeout {
            return Err(Error::Config(format!(
                "heartbeat_interval ({:?}) must be positive and below session_timeout ({:?})",
                self.heartbeat_interval, self.session_timeout
            )));
        }
        if !fits_ms(self.session_timeout) || !fits_ms(self.rebalance_timeout) {
            return Err(Error::Config(
                "session_timeout and rebalance_timeout must fit in i32 milliseconds".into(),
            ));
        }
        Ok(())
    }
}

impl MembershipConfig {
    /// How often metadata is re-checked: `metadata_refresh_interval`, else
    /// the client's `metadata_max_age`.
    pub(crate) fn metadata_interval(&self, client: &KafkaClient) -> Duration {
        self.metadata_refresh_interval
            .unwrap_or_else(|| client.config().metadata_max_age())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_subscription_is_sorted_and_deduplicated() {
        let s = Subscription::topics(["b", "a", "b"]);
        assert_eq!(s.select(&[]), ["a", "b"]);
    }

    #[test]
    fn a_pattern_subscription_selects_matching_topics() {
        let s = Subscription::pattern("^orders-.*$").unwrap();
        let available = ["orders-eu", "payments", "orders-us", "x-orders-"].map(String::from);
        assert_eq!(s.select(&available), ["orders-eu", "orders-us"]);
    }

    #[test]
    fn an_invalid_pattern_is_a_config_error() {
        assert!(matches!(
            Subscription::pattern("(unclosed"),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn defaults_are_the_java_consumers() {
        let c = MembershipConfig::new("g", Subscription::topics(["t"]));
        assert_eq!(c.session_timeout, Duration::from_secs(45));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(3));
        assert_eq!(c.rebalance_timeout, Duration::from_secs(300));
        assert_eq!(c.max_poll_interval, Duration::from_secs(300));
        assert_eq!(c.assignors.len(), 1);
        assert_eq!(c.rebalance_protocol(), RebalanceProtocol::Eager);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn rebalancing_is_cooperative_only_when_every_assignor_is() {
        let c = MembershipConfig::new("g", Subscription::topics(["t"]));
        let coop = c.clone().assignor(Assignor::CooperativeSticky);
        assert_eq!(coop.rebalance_protocol(), RebalanceProtocol::Cooperative);
        let mixed = c.assignors([Assignor::CooperativeSticky, Assignor::Range]);
        assert_eq!(mixed.rebalance_protocol(), RebalanceProtocol::Eager);
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let ok = || MembershipConfig::new("g", Subscription::topics(["t"]));
        let bad = [
            MembershipConfig::new("", Subscription::topics(["t"])),
            MembershipConfig::new("g", Subscription::topics(Vec::<String>::new())),
            ok().assignors([]),
            ok().assignors([Assignor::Range, Assignor::Range]),
            ok().heartbeat_interval(Duration::from_secs(45)),
            ok().heartbeat_interval(Duration::ZERO),
            ok().session_timeout(Duration::from_secs(u64::MAX / 2)),
        ];
        for config in bad {
            assert!(
                matches!(config.validate(), Err(Error::Config(_))),
                "{config:?}"
            );
        }
    }

    #[test]
    fn the_classic_protocol_is_the_default_and_an_empty_remote_assignor_is_refused() {
        let c = MembershipConfig::new("g", Subscription::topics(["t"]));
        assert_eq!(c.group_protocol, GroupProtocol::Classic);
        assert_eq!(c.remote_assignor, None);
        let kip848 = c.group_protocol(GroupProtocol::Consumer);
        assert!(kip848.clone().remote_assignor("uniform").validate().is_ok());
        assert!(matches!(
            kip848.remote_assignor("").validate(),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn a_pattern_subscription_shows_its_expression() {
        let s = Subscription::pattern("^orders-.*").unwrap();
        assert_eq!(s.pattern_source(), Some("^orders-.*"));
        assert_eq!(Subscription::topics(["a"]).pattern_source(), None);
    }
}
