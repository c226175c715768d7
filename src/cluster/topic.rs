//! [`Topic`]: a cheap handle on one topic, the factory for its producers and
//! consumers, and its offset queries.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::client::KafkaClient;
use super::metadata::{Partition, TopicMetadata};
use super::offsets::{ListedOffset, EARLIEST, LATEST};
use crate::error::Result;

/// A handle on one topic; cheap to clone, `Send + Sync`.
///
/// ```no_run
/// let client = kafka_sync::KafkaClient::new("127.0.0.1:9092")?;
/// let topic = client.topic("events")?;
/// for (partition, offset) in topic.latest_available_offsets()? {
///     println!("partition {partition}: high watermark {offset}");
/// }
/// # Ok::<(), kafka_sync::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Topic {
    client: KafkaClient,
    name: Arc<str>,
}

impl KafkaClient {
    /// A handle on topic `name`; [`Error::UnknownTopic`](crate::Error::UnknownTopic) if it does not exist.
    pub fn topic(&self, name: &str) -> Result<Topic> {
        self.topic_metadata(name)?;
        Ok(Topic::new(self.clone(), name))
    }
}

impl Topic {
    fn new(client: KafkaClient, name: &str) -> Topic {
        Topic {
            client,
            name: Arc::from(name),
        }
    }

    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client this handle came from.
    pub fn client(&self) -> &KafkaClient {
        &self.client
    }

    /// The topic's metadata (cached up to `metadata_max_age`).
    pub fn metadata(&self) -> Result<Arc<TopicMetadata>> {
        self.client.topic_metadata(&self.name)
    }

    /// The partitions with their leaders, replicas and in-sync replicas, as
    /// of the latest metadata (falls back to an empty list if the topic has
    /// disappeared since the handle was made; use [`Topic::metadata`] to see
    /// the error).
    pub fn partitions(&self) -> Vec<Partition> {
        self.metadata()
            .map(|m| m.partitions.clone())
            .unwrap_or_default()
    }

    /// Partition ids, sorted.
    pub fn partition_ids(&self) -> Result<Vec<i32>> {
        Ok(self.metadata()?.partitions.iter().map(|p| p.id).collect())
    }

    fn offsets_at(&self, timestamp: i64) -> Result<BTreeMap<i32, ListedOffset>> {
        let queries: Vec<(i32, i64)> = self
            .partition_ids()?
            .into_iter()
            .map(|p| (p, timestamp))
            .collect();
        self.client.list_offsets(&self.name, &queries)
    }

    /// Each partition's high watermark: the offset the next record will get.
    pub fn latest_available_offsets(&self) -> Result<BTreeMap<i32, i64>> {
        Ok(self
            .offsets_at(LATEST)?
            .into_iter()
            .map(|(p, o)| (p, o.offset))
            .collect())
    }

    /// Each partition's log start offset: the oldest offset still stored.
    pub fn earliest_available_offsets(&self) -> Result<BTreeMap<i32, i64>> {
        Ok(self
            .offsets_at(EARLIEST)?
            .into_iter()
            .map(|(p, o)| (p, o.offset))
            .collect())
    }

    /// For each partition, the earliest offset whose record timestamp is at or
    /// after `timestamp_ms`, or `None` when every record is older (as the Java
    /// client's `offsetsForTimes`). A broker that answers "no match" with the
    /// high watermark and no timestamp, rather than offset `-1`, also gives `None`.
    pub fn offsets_for_time(
        &self,
        timestamp_ms: i64,
    ) -> Result<BTreeMap<i32, Option<ListedOffset>>> {
        Ok(self
            .offsets_at(timestamp_ms.max(0))?
            .into_iter()
            .map(|(p, o)| (p, (o.offset >= 0 && o.timestamp >= 0).then_some(o)))
            .collect())
    }
}
