//! The admin API: [`Admin`], a handle from [`KafkaClient::admin`] for what an
//! operator reaches for (topics, partitions, configs, records, the cluster,
//! and, in the files added beside these, consumer groups, ACLs and SCRAM
//! users).
//!
//! Every call blocks until the cluster answers, bounded by one deadline: the
//! client's `request_timeout` (30 s by default), or the timeout given to
//! [`Admin::with_timeout`]. Retriable broker codes are retried within it
//! (after `retry_backoff`), and metadata is refreshed when the controller
//! or a partition leader moved. Calls about several items answer each item
//! on its own ([`ItemResult`]), so one bad topic never hides the others'
//! results; the outer `Result` fails only when no item could be tried at all
//! (no broker reachable, the API unsupported: [`Error::UnsupportedVersion`]
//! names it).
//!
//! Shared helpers for the per-item results live here: [`ItemResult`],
//! `item_result` (an error code and message into a result) and
//! `retry_items` (the retry loop of a batch call).
//!
//! # References
//! KIP-4 (admin requests), KIP-117 (the Java `AdminClient`).

mod cluster;
mod configs;
mod records;
mod topics;

pub use cluster::ClusterDescription;
pub use configs::{
    AlterConfigOp, AlterConfigOpType, ConfigEntry, ConfigResource, ConfigResourceType,
    ConfigSource, ConfigSynonym,
};
pub use records::HIGH_WATERMARK;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use log::{debug, warn};

use crate::error::{Error, Result};
use crate::protocol::ErrorCode;
use crate::KafkaClient;

/// One item's outcome in a call about several (a topic, a config resource,
/// a partition): its value, or the error the broker gave for it alone.
pub type ItemResult<T> = Result<T, Error>;

/// The admin handle: cheap to clone, shares the client's connections and
/// metadata.
///
/// ```no_run
/// use kafka_sync::{KafkaClient, NewTopic};
/// let admin = KafkaClient::new("127.0.0.1:9092")?.admin();
/// let results = admin.create_topics(&[NewTopic::new("events", 3, 1)])?;
/// results["events"].as_ref().expect("created");
/// # Ok::<(), kafka_sync::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Admin {
    client: KafkaClient,
    timeout: Duration,
}

impl KafkaClient {
    /// The admin API, each call bounded by this client's `request_timeout`
    /// (see [`Admin::with_timeout`]).
    pub fn admin(&self) -> Admin {
        Admin {
            client: self.clone(),
            timeout: self.config().request_timeout(),
        }
    }
}

impl Admin {
    /// The same handle with every call bounded by `timeout` instead of the
    /// client's `request_timeout`. The timeout also goes to the broker as the
    /// request's `timeout_ms` where the API has one. A single request still
    /// waits at most `request_timeout` for its answer.
    #[must_use]
    pub fn with_timeout(&self, timeout: Duration) -> Admin {
        Admin {
            client: self.client.clone(),
            timeout,
        }
    }

    /// How long each call may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The client this handle came from.
    pub fn client(&self) -> &KafkaClient {
        &self.client
    }

    /// The deadline of a call starting now.
    pub(crate) fn deadline(&self) -> Instant {
        crate::time::after(self.timeout)
    }

    /// The timeout as a request's `timeout_ms`.
    pub(crate) fn timeout_ms(&self) -> i32 {
        crate::cluster::duration_ms(self.timeout)
    }

    /// Runs a batch call until every item has a final answer or the deadline
    /// passes. `attempt` sends the request for the items still `pending` and
    /// answers each item it heard about; an item it does not mention gets a
    /// protocol error. Items with a retriable error are tried again after
    /// `retry_backoff` (and NOT_CONTROLLER refreshes the broker list first);
    /// at the deadline they keep their last error. A whole-request failure
    /// is retried the same way if retriable, and otherwise becomes the error
    /// of every pending item, or the call's error when no item was answered
    /// yet.
    pub(crate) fn retry_items<K, T>(
        &self,
        api: &str,
        deadline: Instant,
        mut pending: Vec<K>,
        mut attempt: impl FnMut(&[K]) -> Result<Vec<(K, ItemResult<T>)>>,
    ) -> Result<BTreeMap<K, ItemResult<T>>>
    where
        K: Ord + Clone + std::fmt::Debug,
    {
        let backoff = self.client.config().retry_backoff();
        let mut done = BTreeMap::new();
        let mut last_error: Option<Error> = None;
        while !pending.is_empty() {
            let out_of_time = |now: Instant| now + backoff >= deadline;
            match attempt(&pending) {
                Ok(answers) => {
                    let mut retry = Vec::new();
                    let mut refresh_brokers = false;
                    for (key, result) in answers {
                        let Some(at) = pending.iter().position(|k| *k == key) else {
                            continue;
                        };
                        pending.swap_remove(at);
                        match result {
                            Err(e) if is_retriable(&e) && !out_of_time(Instant::now()) => {
                                warn!("{api} {key:?}: {e}; retrying");
                                refresh_brokers |= e.code() == Some(ErrorCode::NotController);
                                retry.push(key);
                            }
                            result => {
                                done.insert(key, result);
                            }
                        }
                    }
                    for key in pending.drain(..) {
                        let e = Error::protocol(
                            format!("{api} {key:?}"),
                            "the response does not mention it",
                        );
                        done.insert(key, Err(e));
                    }
                    pending = retry;
                    if refresh_brokers {
                        // The retry goes to the controller metadata names now.
                        if let Err(e) = self.client.fetch_metadata(Some(&[])) {
                            debug!("{api}: metadata refresh failed: {e}");
                        }
                    }
                }
                Err(e) if e.is_retriable() && !out_of_time(Instant::now()) => {
                    warn!("{api}: {e}; retrying");
                    last_error = Some(e);
                }
                Err(e) => {
                    if done.is_empty() {
                        return Err(e);
                    }
                    for key in pending.drain(..) {
                        done.insert(key, Err(e.clone()));
                    }
                }
            }
            if !pending.is_empty() {
                std::thread::sleep(backoff);
            }
        }
        if let Some(e) = last_error {
            debug!("{api}: succeeded after retrying {e}");
        }
        Ok(done)
    }
}

/// Whether an item's error may go away on retry. UNKNOWN_TOPIC_OR_PARTITION
/// is retriable for producers (metadata may lag a creation) but for an admin
/// call it is the answer: the topic does not exist.
fn is_retriable(e: &Error) -> bool {
    e.is_retriable() && e.code() != Some(ErrorCode::UnknownTopicOrPartition)
}

/// An item's error code and the broker's message as a result; `context`
/// names the API and the item (``"DescribeConfigs topic `events`"``).
pub(crate) fn item_result(
    code: ErrorCode,
    message: Option<String>,
    context: impl FnOnce() -> String,
) -> ItemResult<()> {
    if code.is_ok() {
        Ok(())
    } else {
        Err(Error::broker(code, message, context()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_error_names_the_item_and_keeps_the_brokers_message() {
        let e = item_result(
            ErrorCode::InvalidPartitions,
            Some("Topic currently has 3 partitions".into()),
            || "CreatePartitions `events`".into(),
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("CreatePartitions `events`"), "{text}");
        assert!(text.contains("currently has 3 partitions"), "{text}");
        assert_eq!(e.code(), Some(ErrorCode::InvalidPartitions));
        assert!(item_result(ErrorCode::None, None, || unreachable!()).is_ok());
    }

    #[test]
    fn an_unknown_topic_is_final_for_admin_calls() {
        let unknown = Error::broker(ErrorCode::UnknownTopicOrPartition, None, "x");
        assert!(unknown.is_retriable() && !is_retriable(&unknown));
        assert!(is_retriable(&Error::broker(
            ErrorCode::NotController,
            None,
            "x"
        )));
    }
}
