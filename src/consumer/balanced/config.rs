//! [`BalancedConsumerConfig`]: the settings of a
//! [`BalancedConsumer`](crate::BalancedConsumer) — group membership
//! (assignor, static membership, timeouts), rebalance listeners, and the
//! fetch, offset and commit settings it shares with the
//! [`SimpleConsumer`](crate::SimpleConsumer).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::consumer::assignor::{Assignor, TopicPartition};
use crate::consumer::config::{OffsetReset, SimpleConsumerConfig};
use crate::consumer::membership::{GroupProtocol, MembershipConfig, Subscription};
use crate::error::{Error, Result};
use crate::protocol::api::IsolationLevel;

/// A rebalance listener: called with the partitions concerned, sorted.
pub(crate) type Listener = Arc<dyn Fn(&[TopicPartition]) + Send + Sync>;

/// Settings of a [`BalancedConsumer`](crate::BalancedConsumer); build it with
/// the setters, starting from [`BalancedConsumerConfig::default`].
///
/// Group settings default to the Java consumer's; fetch settings are the
/// [`SimpleConsumerConfig`] ones, with the same defaults.
///
/// ```
/// use std::time::Duration;
/// use kafka_sync::{Assignor, BalancedConsumerConfig, OffsetReset};
///
/// let config = BalancedConsumerConfig::default()
///     .assignor(Assignor::RoundRobin)
///     .group_instance_id("billing-1")
///     .auto_offset_reset(OffsetReset::Earliest)
///     .on_assign(|partitions| println!("assigned {partitions:?}"))
///     .on_revoke(|partitions| println!("revoked {partitions:?}"))
///     .consumer_timeout(Duration::from_secs(5));
/// ```
#[derive(Clone)]
pub struct BalancedConsumerConfig {
    /// Fetching, offsets, auto commit and iteration.
    pub(crate) fetch: SimpleConsumerConfig,
    /// Group settings; the group id and subscription are filled in when the
    /// consumer starts ([`BalancedConsumerConfig::membership`]).
    pub(crate) group: MembershipConfig,
    pub(crate) on_assign: Option<Listener>,
    pub(crate) on_revoke: Option<Listener>,
    pub(crate) on_lost: Option<Listener>,
}

impl Default for BalancedConsumerConfig {
    fn default() -> Self {
        BalancedConsumerConfig {
            fetch: SimpleConsumerConfig::default(),
            group: MembershipConfig::new(String::new(), Subscription::topics(Vec::<String>::new())),
            on_assign: None,
            on_revoke: None,
            on_lost: None,
        }
    }
}

impl fmt::Debug for BalancedConsumerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BalancedConsumerConfig")
            .field("fetch", &self.fetch)
            .field("group_protocol", &self.group.group_protocol)
            .field("remote_assignor", &self.group.remote_assignor)
            .field("assignors", &self.group.assignors)
            .field("group_instance_id", &self.group.group_instance_id)
            .field("rack_id", &self.group.rack_id)
            .field("session_timeout", &self.group.session_timeout)
            .field("heartbeat_interval", &self.group.heartbeat_interval)
            .field("rebalance_timeout", &self.group.rebalance_timeout)
            .field("max_poll_interval", &self.group.max_poll_interval)
            .field(
                "metadata_refresh_interval",
                &self.group.metadata_refresh_interval,
            )
            .field("on_assign", &self.on_assign.is_some())
            .field("on_revoke", &self.on_revoke.is_some())
            .field("on_lost", &self.on_lost.is_some())
            .finish()
    }
}

impl BalancedConsumerConfig {
    // ---- the group ----

    /// The group protocol. Defaults to [`GroupProtocol::Classic`], which
    /// every Kafka broker speaks and whose partitions the group's leader
    /// member assigns with the [`assignor`](Self::assignor).
    ///
    /// [`GroupProtocol::Consumer`] is KIP-848's protocol (Apache Kafka 4.0
    /// and later, where new Java and librdkafka consumers default to it):
    /// the broker assigns with its [`remote_assignor`](Self::remote_assignor),
    /// members heartbeat with ConsumerGroupHeartbeat, and a rebalance moves
    /// only the partitions that change owner while every other member keeps
    /// reading. Switch when the brokers run Kafka 4.0+ and the group's
    /// other members use it too (a group is one protocol or the other);
    /// the client-side `assignor`, `session_timeout` and
    /// `heartbeat_interval` then come from the broker's
    /// `group.consumer.*` settings instead (`session_timeout` stays the
    /// bound on how long the member keeps its partitions without an
    /// answered heartbeat). A broker without KIP-848 makes the consumer
    /// fail with [`Error::UnsupportedVersion`](crate::Error::UnsupportedVersion).
    #[must_use]
    pub fn group_protocol(mut self, protocol: GroupProtocol) -> Self {
        self.group = self.group.group_protocol(protocol);
        self
    }

    /// The broker-side assignor of a [`GroupProtocol::Consumer`] member:
    /// `"uniform"` or `"range"` on Apache Kafka. Defaults to none, the
    /// broker's default (the first of its `group.consumer.assignors`,
    /// `uniform`). Ignored by the classic protocol.
    #[must_use]
    pub fn remote_assignor(mut self, assignor: impl Into<String>) -> Self {
        self.group = self.group.remote_assignor(assignor);
        self
    }

    /// The partition assignor (replacing the list). Defaults to
    /// [`Assignor::Range`], as in the Java consumer. Members of one group
    /// must share an assignor, whatever client they use.
    /// [`GroupProtocol::Consumer`] members do not use it: the broker
    /// assigns (see [`remote_assignor`](Self::remote_assignor)).
    #[must_use]
    pub fn assignor(mut self, assignor: Assignor) -> Self {
        self.group = self.group.assignor(assignor);
        self
    }

    /// Several assignors, most preferred first; the coordinator picks the
    /// first one every member supports. Rebalancing is cooperative only when
    /// every one of them is.
    #[must_use]
    pub fn assignors(mut self, assignors: impl IntoIterator<Item = Assignor>) -> Self {
        self.group = self.group.assignors(assignors);
        self
    }

    /// Makes the consumer a static member (KIP-345): a restart within
    /// `session_timeout` under the same id gets its partitions back without
    /// a rebalance. Static members do not send LeaveGroup on close. Defaults
    /// to none (a dynamic member).
    #[must_use]
    pub fn group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group = self.group.group_instance_id(id);
        self
    }

    /// The consumer's rack, sent to rack-aware assignors. Defaults to none.
    #[must_use]
    pub fn rack_id(mut self, rack: impl Into<String>) -> Self {
        self.group = self.group.rack_id(rack);
        self
    }

    /// How long the coordinator waits for a heartbeat before it removes the
    /// member and gives its partitions to others. Defaults to 45 s, as in the
    /// Java consumer. With [`GroupProtocol::Consumer`] the broker's
    /// `group.consumer.session.timeout.ms` decides; this stays the longest
    /// the member keeps its partitions without an answered heartbeat.
    #[must_use]
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.group = self.group.session_timeout(timeout);
        self
    }

    /// Time between heartbeats (sent by a background thread, whatever the
    /// caller does). Defaults to 3 s; keep it under a third of
    /// `session_timeout`. With [`GroupProtocol::Consumer`] the broker names
    /// the interval in every answer; this one is used until the first.
    #[must_use]
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.group = self.group.heartbeat_interval(interval);
        self
    }

    /// How long the coordinator waits for every member to rejoin during a
    /// rebalance. Defaults to 300 s.
    #[must_use]
    pub fn rebalance_timeout(mut self, timeout: Duration) -> Self {
        self.group = self.group.rebalance_timeout(timeout);
        self
    }

    /// The longest the caller may go without iterating (or calling
    /// [`consume`](crate::BalancedConsumer::consume)) before the consumer
    /// leaves the group and its partitions go to others; it rejoins when
    /// iteration resumes. Time spent waiting inside `consume` counts as
    /// iterating. Defaults to 300 s, as in the Java consumer.
    #[must_use]
    pub fn max_poll_interval(mut self, interval: Duration) -> Self {
        self.group = self.group.max_poll_interval(interval);
        self
    }

    /// How often a pattern subscription is re-evaluated (and the group's
    /// leader checks partition counts). Defaults to the client's
    /// `metadata_max_age`.
    #[must_use]
    pub fn metadata_refresh_interval(mut self, interval: Duration) -> Self {
        self.group = self.group.metadata_refresh_interval(interval);
        self
    }

    // ---- rebalance listeners ----

    /// Called after a rebalance with the partitions newly assigned to this
    /// consumer (all of them after an eager rebalance, only the added ones
    /// after a cooperative one), before they are fetched. Runs on the
    /// consumer's `kafka-sync-rebalance` thread, not the caller's.
    #[must_use]
    pub fn on_assign(
        mut self,
        listener: impl Fn(&[TopicPartition]) + Send + Sync + 'static,
    ) -> Self {
        self.on_assign = Some(Arc::new(listener));
        self
    }

    /// Called when partitions are taken from this consumer in a rebalance,
    /// after their fetching stopped, their prefetched messages were dropped
    /// and (with auto commit) their positions were committed, and before the
    /// group hands them to another member. Runs on the
    /// `kafka-sync-rebalance` thread; the rebalance waits for it.
    #[must_use]
    pub fn on_revoke(
        mut self,
        listener: impl Fn(&[TopicPartition]) + Send + Sync + 'static,
    ) -> Self {
        self.on_revoke = Some(Arc::new(listener));
        self
    }

    /// Called when partitions were lost without a chance to commit (the
    /// session expired, the member was fenced, or `max_poll_interval`
    /// passed): another member may already read them. Defaults to the
    /// [`on_revoke`](Self::on_revoke) listener, as in the Java consumer.
    #[must_use]
    pub fn on_lost(mut self, listener: impl Fn(&[TopicPartition]) + Send + Sync + 'static) -> Self {
        self.on_lost = Some(Arc::new(listener));
        self
    }

    // ---- fetching, offsets and commits (as in SimpleConsumerConfig) ----

    /// Where a newly assigned partition without a committed offset starts,
    /// and where a position that fell out of the log jumps. Defaults to
    /// [`OffsetReset::Latest`], as in the Java consumer.
    #[must_use]
    pub fn auto_offset_reset(mut self, reset: OffsetReset) -> Self {
        self.fetch = self.fetch.auto_offset_reset(reset);
        self
    }

    /// Commits the positions of the assigned partitions every `interval`
    /// (checked when messages are consumed), when partitions are revoked,
    /// and on close. Defaults to on, every 5 s, as in the Java consumer.
    #[must_use]
    pub fn auto_commit(mut self, interval: Duration) -> Self {
        self.fetch = self.fetch.auto_commit(interval);
        self
    }

    /// Turns automatic commits on or off; see [`auto_commit`](Self::auto_commit).
    /// Without them, revoked partitions are not committed: commit with
    /// [`commit_offsets`](crate::BalancedConsumer::commit_offsets) as you go.
    #[must_use]
    pub fn enable_auto_commit(mut self, enable: bool) -> Self {
        self.fetch = self.fetch.enable_auto_commit(enable);
        self
    }

    /// How long iteration waits for a message before it ends. Defaults to
    /// none: iterating blocks until a message arrives.
    #[must_use]
    pub fn consumer_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.fetch = self.fetch.consumer_timeout(timeout);
        self
    }

    /// See [`SimpleConsumerConfig::fetch_min_bytes`]. Defaults to 1.
    #[must_use]
    pub fn fetch_min_bytes(mut self, bytes: i32) -> Self {
        self.fetch = self.fetch.fetch_min_bytes(bytes);
        self
    }

    /// See [`SimpleConsumerConfig::fetch_max_wait`]. Defaults to 500 ms.
    #[must_use]
    pub fn fetch_max_wait(mut self, wait: Duration) -> Self {
        self.fetch = self.fetch.fetch_max_wait(wait);
        self
    }

    /// See [`SimpleConsumerConfig::max_partition_fetch_bytes`]. Defaults to
    /// 1 MiB.
    #[must_use]
    pub fn max_partition_fetch_bytes(mut self, bytes: i32) -> Self {
        self.fetch = self.fetch.max_partition_fetch_bytes(bytes);
        self
    }

    /// See [`SimpleConsumerConfig::fetch_max_bytes`]. Defaults to 50 MiB.
    #[must_use]
    pub fn fetch_max_bytes(mut self, bytes: i32) -> Self {
        self.fetch = self.fetch.fetch_max_bytes(bytes);
        self
    }

    /// See [`SimpleConsumerConfig::queued_max_messages`]. Defaults to 100,000
    /// per partition.
    #[must_use]
    pub fn queued_max_messages(mut self, messages: usize) -> Self {
        self.fetch = self.fetch.queued_max_messages(messages);
        self
    }

    /// See [`SimpleConsumerConfig::queued_max_bytes`]. Defaults to 64 MiB
    /// over all assigned partitions together.
    #[must_use]
    pub fn queued_max_bytes(mut self, bytes: usize) -> Self {
        self.fetch = self.fetch.queued_max_bytes(bytes);
        self
    }

    /// See [`SimpleConsumerConfig::fetches_in_flight`]. Defaults to 2 per
    /// leader.
    #[must_use]
    pub fn fetches_in_flight(mut self, fetches: usize) -> Self {
        self.fetch = self.fetch.fetches_in_flight(fetches);
        self
    }

    /// See [`SimpleConsumerConfig::isolation_level`]. Defaults to
    /// [`IsolationLevel::ReadUncommitted`].
    #[must_use]
    pub fn isolation_level(mut self, level: IsolationLevel) -> Self {
        self.fetch = self.fetch.isolation_level(level);
        self
    }

    /// See [`SimpleConsumerConfig::check_crcs`]. Defaults to `true`.
    #[must_use]
    pub fn check_crcs(mut self, check: bool) -> Self {
        self.fetch = self.fetch.check_crcs(check);
        self
    }

    /// The one bound on closing (or dropping) the consumer: stopping the
    /// rebalance and fetcher threads, waiting for a running auto commit, the
    /// final commit (itself also bounded by the client's `request_timeout`),
    /// leaving the group and joining the membership thread all finish within
    /// this, together. A thread still inside a blocking call then is
    /// detached with a warning and ends on its own. Defaults to 10 s.
    #[must_use]
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.fetch = self.fetch.close_timeout(timeout);
        self
    }

    // ---- internal ----

    /// The membership settings for `group` and `subscription`.
    pub(crate) fn membership(&self, group: &str, subscription: Subscription) -> MembershipConfig {
        let mut config = self.group.clone().close_timeout(self.fetch.close_timeout);
        config.group_id = group.to_owned();
        config.subscription = subscription;
        config
    }

    /// Checks the settings that are not the membership's (it checks its own
    /// when it starts).
    pub(crate) fn validate(&self) -> Result<()> {
        self.fetch.validate()?;
        if self.group.max_poll_interval.is_zero() {
            return Err(Error::Config(
                "max_poll_interval must be longer than zero".into(),
            ));
        }
        Ok(())
    }

    /// Whether positions are committed automatically.
    pub(crate) fn auto_commits(&self) -> bool {
        self.fetch.auto_commit_enable
    }

    pub(crate) fn consumer_timeout_value(&self) -> Option<Duration> {
        self.fetch.consumer_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_defaults_are_the_java_consumers() {
        let c = BalancedConsumerConfig::default();
        assert_eq!(c.group.session_timeout, Duration::from_secs(45));
        assert_eq!(c.group.heartbeat_interval, Duration::from_secs(3));
        assert_eq!(c.group.max_poll_interval, Duration::from_secs(300));
        assert!(matches!(c.group.assignors.as_slice(), [Assignor::Range]));
        assert!(c.auto_commits());
        assert_eq!(c.fetch.auto_offset_reset, OffsetReset::Latest);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn membership_settings_are_passed_on() {
        let c = BalancedConsumerConfig::default()
            .assignor(Assignor::CooperativeSticky)
            .group_instance_id("i-1")
            .session_timeout(Duration::from_secs(6))
            .heartbeat_interval(Duration::from_millis(500))
            .close_timeout(Duration::from_secs(2));
        let m = c.membership("g", Subscription::topics(["t"]));
        assert_eq!(m.group_id(), "g");
        assert_eq!(m.group_instance_id.as_deref(), Some("i-1"));
        assert_eq!(m.session_timeout, Duration::from_secs(6));
        assert_eq!(m.heartbeat_interval, Duration::from_millis(500));
        assert_eq!(m.close_timeout, Duration::from_secs(2));
        assert_eq!(
            m.rebalance_protocol(),
            crate::consumer::assignor::RebalanceProtocol::Cooperative
        );
    }

    #[test]
    fn fetch_settings_are_checked_as_the_simple_consumers() {
        let bad = [
            BalancedConsumerConfig::default().queued_max_messages(0),
            BalancedConsumerConfig::default().queued_max_bytes(0),
            BalancedConsumerConfig::default().auto_commit(Duration::ZERO),
            BalancedConsumerConfig::default().max_poll_interval(Duration::ZERO),
        ];
        for c in bad {
            assert!(matches!(c.validate(), Err(Error::Config(_))), "{c:?}");
        }
    }

    #[test]
    fn debug_shows_which_listeners_are_set() {
        let c = BalancedConsumerConfig::default().on_revoke(|_| {});
        let shown = format!("{c:?}");
        assert!(shown.contains("on_revoke: true") && shown.contains("on_assign: false"));
    }
}
