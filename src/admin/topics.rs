//! Topic administration through [`Admin`]: create and delete topics and add
//! partitions (through the controller, waiting until metadata shows the
//! change), describe and list topics (from Metadata, any broker).
//!
//! # References
//! Kafka protocol guide, "CreateTopics API", "DeleteTopics API",
//! "CreatePartitions API", "Metadata API"; KIP-4, KIP-195.

use std::collections::BTreeMap;

use super::{item_result, Admin, ItemResult};
use crate::cluster::{NewTopic, TopicMetadata};
use crate::error::{Error, Result};
use crate::protocol::api::create_partitions::{CreatePartitionsRequest, CreatePartitionsTopic};
use crate::protocol::api::{CreatableTopic, CreateTopicsRequest, DeleteTopicsRequest};

impl Admin {
    /// Creates `topics` through the controller and waits until each created
    /// topic has a leader for every partition, so producers made right after
    /// find them. Answers each topic by name: an existing topic gives
    /// [`Error::Broker`] with [`ErrorCode::TopicAlreadyExists`](crate::ErrorCode::TopicAlreadyExists), an invalid
    /// partition count, replication factor or config the broker's code
    /// (`INVALID_PARTITIONS`, `INVALID_REPLICATION_FACTOR`, `INVALID_CONFIG`)
    /// and message; an invalid name, or one listed twice, gives
    /// [`Error::Config`] without asking the broker.
    pub fn create_topics(&self, topics: &[NewTopic]) -> Result<BTreeMap<String, ItemResult<()>>> {
        let deadline = self.deadline();
        let mut results = BTreeMap::new();
        let mut valid = Vec::new();
        for topic in topics {
            let twice = topics.iter().filter(|t| t.name == topic.name).count() > 1;
            let checked = if twice {
                // Kafka refuses every copy (INVALID_REQUEST); refuse them here.
                Err(Error::Config(format!(
                    "topic `{}` is listed more than once in one create_topics call",
                    topic.name
                )))
            } else {
                crate::cluster::validate_topic_name(&topic.name)
            };
            match checked {
                Ok(()) => valid.push(topic),
                Err(e) => {
                    results.insert(topic.name.clone(), Err(e));
                }
            }
        }
        let names = valid.iter().map(|t| t.name.clone()).collect();
        let created = self.retry_items("CreateTopics", deadline, names, |pending| {
            let request = CreateTopicsRequest::new(
                valid
                    .iter()
                    .filter(|t| pending.contains(&t.name))
                    .map(|t| {
                        t.configs.iter().fold(
                            CreatableTopic::new(&t.name, t.partitions, t.replication_factor),
                            |c, (k, v)| c.config(k, v),
                        )
                    })
                    .collect(),
                self.timeout_ms(),
            );
            let response = self
                .client
                .controller_connection(deadline)?
                .request(&request)?;
            Ok(response
                .topics
                .into_iter()
                .map(|t| {
                    let result = item_result(t.error_code, t.error_message, || {
                        format!("CreateTopics `{}`", t.name)
                    });
                    (t.name, result)
                })
                .collect())
        })?;
        for (name, result) in created {
            let result = result.and_then(|()| self.client.wait_for_topic(&name, true, deadline));
            results.insert(name, result);
        }
        Ok(results)
    }

    /// Deletes `topics` through the controller and waits until metadata no
    /// longer lists each deleted one. Answers each topic by name: a missing
    /// topic gives [`Error::Broker`] with
    /// [`ErrorCode::UnknownTopicOrPartition`](crate::ErrorCode::UnknownTopicOrPartition) and the broker's message.
    pub fn delete_topics(&self, topics: &[&str]) -> Result<BTreeMap<String, ItemResult<()>>> {
        let deadline = self.deadline();
        let names = topics.iter().map(|t| (*t).to_owned()).collect();
        let deleted = self.retry_items("DeleteTopics", deadline, names, |pending| {
            let request = DeleteTopicsRequest::by_names(pending.iter().cloned(), self.timeout_ms());
            let response = self
                .client
                .controller_connection(deadline)?
                .request(&request)?;
            Ok(response
                .responses
                .into_iter()
                .filter_map(|t| {
                    let name = t.name?;
                    let result = item_result(t.error_code, t.error_message, || {
                        format!("DeleteTopics `{name}`")
                    });
                    Some((name, result))
                })
                .collect())
        })?;
        Ok(deleted
            .into_iter()
            .map(|(name, result)| {
                let result =
                    result.and_then(|()| self.client.wait_for_topic(&name, false, deadline));
                (name, result)
            })
            .collect())
    }

    /// Raises `topic`'s partition count to `new_total` (CreatePartitions,
    /// through the controller) and waits until every partition has a leader.
    /// A count at or below the current one gives [`Error::Broker`] with
    /// [`ErrorCode::InvalidPartitions`](crate::ErrorCode::InvalidPartitions) and the broker's message; a broker
    /// without CreatePartitions (tansu 0.6.0, librdkafka's mock cluster)
    /// gives [`Error::UnsupportedVersion`] naming it.
    pub fn create_partitions(&self, topic: &str, new_total: i32) -> Result<()> {
        let deadline = self.deadline();
        let results = self.retry_items(
            "CreatePartitions",
            deadline,
            vec![topic.to_owned()],
            |pending| {
                let request = CreatePartitionsRequest {
                    topics: pending
                        .iter()
                        .map(|name| CreatePartitionsTopic {
                            name: name.clone(),
                            count: new_total,
                            assignments: None,
                        })
                        .collect(),
                    timeout_ms: self.timeout_ms(),
                    validate_only: false,
                };
                let response = self
                    .client
                    .controller_connection(deadline)?
                    .request(&request)?;
                Ok(response
                    .results
                    .into_iter()
                    .map(|t| {
                        let result = item_result(t.error_code, t.error_message, || {
                            format!("CreatePartitions `{}` to {new_total}", t.name)
                        });
                        (t.name, result)
                    })
                    .collect())
            },
        )?;
        results
            .into_values()
            .next()
            .unwrap_or_else(|| Err(Error::protocol("CreatePartitions", "no result")))?;
        self.client.wait_for_topic(topic, true, deadline)?;
        // The cache may still hold the old partition count; wait for the new one.
        loop {
            let count = self.client.refresh_topic(topic)?.partitions.len();
            if i32::try_from(count).is_ok_and(|c| c >= new_total) {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(Error::timeout(
                    crate::error::TimeoutKind::Metadata,
                    format!("waiting for topic `{topic}` to list {new_total} partitions"),
                ));
            }
            std::thread::sleep(self.client.config().retry_backoff());
        }
    }

    /// Describes `topics` from a Metadata request to any broker: partitions
    /// with their leaders, replicas and in-sync replicas, the internal flag
    /// and the topic id (all zeros from brokers before Kafka 2.8). A missing
    /// topic gives [`Error::UnknownTopic`]; a topic the broker reports an
    /// error for, [`Error::Broker`].
    pub fn describe_topics(
        &self,
        topics: &[&str],
    ) -> Result<BTreeMap<String, ItemResult<TopicMetadata>>> {
        let mut results = BTreeMap::new();
        let mut valid = Vec::new();
        for &name in topics {
            match crate::cluster::validate_topic_name(name) {
                Ok(()) => valid.push(name),
                Err(e) => {
                    results.insert(name.to_owned(), Err(e));
                }
            }
        }
        if !valid.is_empty() {
            results.extend(self.client.topics_snapshot(Some(&valid))?);
        }
        for name in valid {
            results
                .entry(name.to_owned())
                .or_insert_with(|| Err(Error::UnknownTopic(name.to_owned())));
        }
        Ok(results)
    }

    /// Every topic of the cluster with its metadata, sorted by name; internal
    /// topics such as `__consumer_offsets` only with `include_internal`.
    pub fn list_topics(&self, include_internal: bool) -> Result<Vec<TopicMetadata>> {
        Ok(self
            .client
            .topics_snapshot(None)?
            .into_iter()
            .filter_map(|(_, t)| t.ok())
            .filter(|t| include_internal || !t.is_internal)
            .collect())
    }
}
