//! Share-group (KIP-932) settings of the [`MockCluster`]: librdkafka's
//! `rd_kafka_mock_sharegroup_set_*` (2.15+). They set the defaults of share
//! groups created afterwards (a group is created by its first heartbeat);
//! the delivery-attempt limit and the lock duration also change existing
//! groups. Defaults of the mock: session timeout 45 s, heartbeat interval
//! 5 s, record lock 30 s, 5 delivery attempts, and records from the
//! *latest* offset.

use std::time::Duration;

use serde_json::json;

use super::mock_cluster::MockCluster;
use crate::{Error, OffsetReset, Result};

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis())
        .unwrap_or(i64::from(i32::MAX))
        .min(i64::from(i32::MAX))
}

impl MockCluster {
    fn share_group_setting(&self, name: &str, value: i64) -> Result<()> {
        self.call("sharegroup_set", json!([name, value]))
    }

    /// How long a silent share-group member stays in its group, and a share
    /// session without requests stays open (`group.share.session.timeout.ms`).
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn set_share_group_session_timeout(&self, timeout: Duration) -> Result<()> {
        self.share_group_setting("session_timeout", millis(timeout))
    }

    /// The heartbeat interval share-group members are told to keep
    /// (`group.share.heartbeat.interval.ms`).
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn set_share_group_heartbeat_interval(&self, interval: Duration) -> Result<()> {
        self.share_group_setting("heartbeat_interval", millis(interval))
    }

    /// How long an acquired record stays locked to its member
    /// (`group.share.record.lock.duration.ms`); zero means the session
    /// timeout.
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn set_share_group_record_lock_duration(&self, duration: Duration) -> Result<()> {
        self.share_group_setting("record_lock_duration", millis(duration))
    }

    /// How many times a record is delivered before it is archived
    /// (`group.share.delivery.attempt.limit`); zero means no limit.
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn set_share_group_max_delivery_attempts(&self, attempts: i32) -> Result<()> {
        self.share_group_setting("max_delivery_attempts", i64::from(attempts.max(0)))
    }

    /// Where a share group starts reading a partition it has not read yet
    /// (`share.auto.offset.reset`): [`OffsetReset::Earliest`] or
    /// [`OffsetReset::Latest`] (the mock's default).
    ///
    /// # Errors
    /// [`Error::Config`] for [`OffsetReset::Error`], which share groups do
    /// not have; otherwise as [`create_topic`](Self::create_topic).
    pub fn set_share_group_auto_offset_reset(&self, reset: OffsetReset) -> Result<()> {
        let value = match reset {
            OffsetReset::Earliest => 1,
            OffsetReset::Latest => 0,
            OffsetReset::Error => {
                return Err(Error::Config(
                    "share groups start from the earliest or the latest offset; there is no \
                     `error` reset"
                        .into(),
                ))
            }
        };
        self.share_group_setting("auto_offset_reset", value)
    }
}
