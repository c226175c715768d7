//! Topic administration: CreateTopics and DeleteTopics through the
//! controller, each waiting until metadata shows the change, so that a
//! producer made right after `create_topic` finds its leaders.
//!
//! # References
//! Kafka protocol guide, "CreateTopics API", "DeleteTopics API"; KIP-4.

use std::time::{Duration, Instant};

use super::client::KafkaClient;
use super::metadata::{validate_topic_name, TopicStatus};
use crate::error::{Error, Result, TimeoutKind};
use crate::protocol::api::{CreatableTopic, CreateTopicsRequest, DeleteTopicsRequest};
use crate::protocol::ErrorCode;

/// A topic to create, with its settings.
///
/// ```no_run
/// # let client = kafka_sync::KafkaClient::new("127.0.0.1:9092")?;
/// use kafka_sync::NewTopic;
/// client.create_topic_with(NewTopic::new("events", 6, 1).config("retention.ms", "3600000"))?;
/// # Ok::<(), kafka_sync::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewTopic {
    /// Topic name.
    pub name: String,
    /// Number of partitions; `-1` takes the broker's default.
    pub partitions: i32,
    /// Replication factor; `-1` takes the broker's default.
    pub replication_factor: i16,
    /// Topic-level configs (`retention.ms`, `cleanup.policy`, …).
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    /// A topic with `partitions` partitions, each on `replication_factor` brokers.
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i16) -> Self {
        NewTopic {
            name: name.into(),
            partitions,
            replication_factor,
            configs: Vec::new(),
        }
    }

    /// Adds a topic-level config.
    #[must_use]
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.push((key.into(), value.into()));
        self
    }
}

impl KafkaClient {
    /// Creates a topic and waits until every partition has a leader.
    /// An existing topic gives [`Error::Broker`] with
    /// [`ErrorCode::TopicAlreadyExists`].
    pub fn create_topic(&self, name: &str, partitions: i32, replication_factor: i16) -> Result<()> {
        self.create_topic_with(NewTopic::new(name, partitions, replication_factor))
    }

    /// Creates a topic with configs; see [`KafkaClient::create_topic`].
    pub fn create_topic_with(&self, topic: NewTopic) -> Result<()> {
        validate_topic_name(&topic.name)?;
        let timeout = self.inner.config.request_timeout;
        let deadline = crate::time::after(timeout);
        let creatable = topic.configs.iter().fold(
            CreatableTopic::new(&topic.name, topic.partitions, topic.replication_factor),
            |t, (k, v)| t.config(k, v),
        );
        let request = CreateTopicsRequest::new(vec![creatable], duration_ms(timeout));
        let context = format!("CreateTopics `{}`", topic.name);
        self.retry_until(deadline, &context, || {
            let conn = self.controller_connection(deadline)?;
            let response = conn.request(&request)?;
            let result = response
                .topics
                .iter()
                .find(|t| t.name == topic.name)
                .map(|t| (t.error_code, t.error_message.clone()));
            self.admin_topic_result(&context, result)
        })?;
        self.wait_for_topic(&topic.name, true, deadline)
    }

    /// Deletes a topic and waits until metadata no longer lists it. A missing
    /// topic gives [`Error::UnknownTopic`].
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        let timeout = self.inner.config.request_timeout;
        let deadline = crate::time::after(timeout);
        let request = DeleteTopicsRequest::by_names([name], duration_ms(timeout));
        let context = format!("DeleteTopics `{name}`");
        self.retry_until(deadline, &context, || {
            let conn = self.controller_connection(deadline)?;
            let response = conn.request(&request)?;
            let result = response
                .responses
                .iter()
                .find(|t| t.name.as_deref() == Some(name))
                .map(|t| (t.error_code, t.error_message.clone()));
            self.admin_topic_result(&context, result)
                .map_err(|e| match e.code() {
                    Some(ErrorCode::UnknownTopicOrPartition) => {
                        Error::UnknownTopic(name.to_owned())
                    }
                    _ => e,
                })
        })?;
        self.wait_for_topic(name, false, deadline)
    }

    /// One topic's outcome in a CreateTopics or DeleteTopics response as a
    /// `Result`. On NOT_CONTROLLER (retriable) the broker list is refreshed
    /// first, so the retry goes to the new controller.
    fn admin_topic_result(
        &self,
        context: &str,
        result: Option<(ErrorCode, Option<String>)>,
    ) -> Result<()> {
        let (code, message) = result.ok_or_else(|| Error::Protocol {
            decode: None,
            context: context.to_owned(),
            detail: "the response does not mention the topic".into(),
        })?;
        match code {
            ErrorCode::None => Ok(()),
            ErrorCode::NotController => {
                self.fetch_metadata(Some(&[]))?;
                Err(Error::broker(code, message, context))
            }
            code => Err(Error::broker(code, message, context)),
        }
    }

    /// Polls metadata until `name` exists with a leader for every partition
    /// (`present`) or no longer exists.
    pub(crate) fn wait_for_topic(
        &self,
        name: &str,
        present: bool,
        deadline: Instant,
    ) -> Result<()> {
        loop {
            let statuses = self.fetch_metadata_with(Some(&[name]), false)?;
            let done = match statuses.get(name) {
                Some(TopicStatus::Found) => {
                    present
                        && self
                            .inner
                            .state
                            .read()
                            .topics
                            .get(name)
                            .is_some_and(|(t, _)| {
                                !t.partitions.is_empty()
                                    && t.partitions.iter().all(|p| p.leader.is_some())
                            })
                }
                Some(TopicStatus::Missing) | None => !present,
                Some(TopicStatus::Error(_)) => false,
            };
            if done {
                return Ok(());
            }
            if crate::time::after(self.inner.config.retry_backoff) > deadline {
                return Err(Error::timeout(
                    TimeoutKind::Metadata,
                    format!(
                        "waiting for topic `{name}` to be {} in metadata",
                        if present {
                            "listed with leaders"
                        } else {
                            "gone"
                        }
                    ),
                ));
            }
            std::thread::sleep(self.inner.config.retry_backoff);
        }
    }
}

/// `d` in whole milliseconds for a request's `timeout_ms`, saturated.
pub(crate) fn duration_ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
