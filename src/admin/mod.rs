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

mod acls;
mod cluster;
mod configs;
mod groups;
mod records;
mod scram;
mod topics;

pub use acls::{
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourceType,
};
pub use cluster::ClusterDescription;
pub use configs::{
    AlterConfigOp, AlterConfigOpType, ConfigEntry, ConfigResource, ConfigResourceType,
    ConfigSource, ConfigSynonym,
};
pub use groups::{ConsumerGroupDescription, ConsumerGroupListing, GroupMember, PartitionLag};
pub use records::HIGH_WATERMARK;
pub use scram::{ScramCredentialInfo, ScramMechanism, UserScramCredentialAlteration};

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
    /// passes; see [`retry_items`]. NOT_CONTROLLER refreshes the broker list
    /// before the retry, so that it goes to the new controller.
    pub(crate) fn retry_items<K, T>(
        &self,
        api: &str,
        deadline: Instant,
        pending: Vec<K>,
        attempt: impl FnMut(&[K]) -> Result<Vec<(K, ItemResult<T>)>>,
    ) -> Result<BTreeMap<K, ItemResult<T>>>
    where
        K: Ord + Clone + std::fmt::Debug,
    {
        let backoff = self.client.config().retry_backoff();
        retry_items(api, deadline, backoff, pending, attempt, || {
            if let Err(e) = self.client.fetch_metadata(Some(&[])) {
                debug!("{api}: metadata refresh failed: {e}");
            }
        })
    }
}

/// The retry loop of a batch call. `attempt` sends the request for the
/// items still pending and answers each item it heard about; an item it
/// does not mention gets a protocol error. Items with a retriable error are
/// tried again after `backoff` (calling `controller_moved` first when one
/// was NOT_CONTROLLER); at the deadline they keep their last error. A
/// whole-request failure is retried the same way if retriable, and
/// otherwise becomes the error of every pending item, or the call's error
/// when no item was answered yet.
pub(crate) fn retry_items<K, T>(
    api: &str,
    deadline: Instant,
    backoff: Duration,
    mut pending: Vec<K>,
    mut attempt: impl FnMut(&[K]) -> Result<Vec<(K, ItemResult<T>)>>,
    mut controller_moved: impl FnMut(),
) -> Result<BTreeMap<K, ItemResult<T>>>
where
    K: Ord + Clone + std::fmt::Debug,
{
    let out_of_time = || crate::time::after(backoff) >= deadline;
    let mut done = BTreeMap::new();
    while !pending.is_empty() {
        match attempt(&pending) {
            Ok(answers) => {
                let mut retry = Vec::new();
                let mut moved = false;
                for (key, result) in answers {
                    let Some(at) = pending.iter().position(|k| *k == key) else {
                        continue;
                    };
                    pending.swap_remove(at);
                    match result {
                        Err(e) if is_retriable(&e) && !out_of_time() => {
                            warn!("{api} {key:?}: {e}; retrying");
                            moved |= e.code() == Some(ErrorCode::NotController);
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
                if moved {
                    controller_moved();
                }
            }
            Err(e) if e.is_retriable() && !out_of_time() => {
                warn!("{api}: {e}; retrying");
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
    Ok(done)
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

    fn broker_error(code: ErrorCode) -> Error {
        Error::broker(code, None, "test")
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn retriable_items_are_retried_alone_and_final_ones_kept() {
        let mut sent = Vec::new();
        let mut moves = 0;
        let results = retry_items(
            "Test",
            soon(),
            Duration::from_millis(1),
            vec!["a", "b", "c"],
            |pending| {
                sent.push(pending.to_vec());
                Ok(pending
                    .iter()
                    .map(|&k| {
                        let result = match (k, sent.len()) {
                            ("a", 1) => Err(broker_error(ErrorCode::NotController)),
                            ("b", _) => Err(broker_error(ErrorCode::TopicAlreadyExists)),
                            _ => Ok(k.len()),
                        };
                        (k, result)
                    })
                    .collect())
            },
            || moves += 1,
        )
        .unwrap();
        assert_eq!(sent, [vec!["a", "b", "c"], vec!["a"]]);
        assert_eq!(moves, 1);
        assert_eq!(results["a"].as_ref().unwrap(), &1);
        assert_eq!(
            results["b"].as_ref().unwrap_err().code(),
            Some(ErrorCode::TopicAlreadyExists)
        );
        assert!(results["c"].is_ok());
    }

    #[test]
    fn an_item_the_response_leaves_out_is_a_protocol_error() {
        let results = retry_items(
            "Test",
            soon(),
            Duration::from_millis(1),
            vec![1, 2],
            |_| Ok(vec![(1, Ok(()))]),
            || {},
        )
        .unwrap();
        assert!(results[&1].is_ok());
        assert!(matches!(results[&2], Err(Error::Protocol { .. })));
    }

    #[test]
    fn a_retriable_item_keeps_its_error_at_the_deadline() {
        let deadline = Instant::now() + Duration::from_millis(50);
        let results = retry_items(
            "Test",
            deadline,
            Duration::from_millis(5),
            vec![1],
            |_| {
                Ok(vec![(
                    1,
                    Err::<(), _>(broker_error(ErrorCode::NotController)),
                )])
            },
            || {},
        )
        .unwrap();
        assert_eq!(
            results[&1].as_ref().unwrap_err().code(),
            Some(ErrorCode::NotController)
        );
        assert!(Instant::now() < deadline + Duration::from_millis(100));
    }

    #[test]
    fn a_failed_request_is_retried_when_retriable_and_the_calls_error_otherwise() {
        let mut calls = 0;
        let results = retry_items(
            "Test",
            soon(),
            Duration::from_millis(1),
            vec![1],
            |_| {
                calls += 1;
                if calls == 1 {
                    Err(Error::NoBrokerAvailable("down".into()))
                } else {
                    Ok(vec![(1, Ok(()))])
                }
            },
            || {},
        )
        .unwrap();
        assert!(results[&1].is_ok());
        let e = retry_items(
            "Test",
            soon(),
            Duration::from_millis(1),
            vec![1],
            |_| -> Result<Vec<(i32, ItemResult<()>)>> { Err(Error::Config("no".into())) },
            || {},
        )
        .unwrap_err();
        assert!(matches!(e, Error::Config(_)));
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
