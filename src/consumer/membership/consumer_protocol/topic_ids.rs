//! Topic ids and names: the consumer protocol names partitions by topic id
//! (KIP-516), the rest of the consumer by topic name. Ids are learnt from
//! Metadata answers and kept; an id not seen yet makes one Metadata request
//! for every topic.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use log::debug;

use super::TopicIdBytes;
use crate::cluster::KafkaClient;
use crate::consumer::assignor::TopicPartition;
use crate::error::Result;
use crate::protocol::api::ConsumerGroupHeartbeatTopicPartitions;

const NO_ID: TopicIdBytes = [0; 16];

#[derive(Debug, Default)]
pub(super) struct TopicIds {
    names: HashMap<TopicIdBytes, String>,
    ids: HashMap<String, TopicIdBytes>,
}

impl TopicIds {
    fn learn(&mut self, id: TopicIdBytes, name: &str) {
        if id != NO_ID {
            self.names.insert(id, name.to_owned());
            self.ids.insert(name.to_owned(), id);
        }
    }

    /// Learns every topic's id from a fresh Metadata answer.
    fn refresh(&mut self, client: &KafkaClient) -> Result<()> {
        for (name, meta) in client.topics_snapshot(None)? {
            if let Ok(meta) = meta {
                self.learn(meta.topic_id, &name);
            }
        }
        Ok(())
    }

    /// The partitions of `assignment` by name. Ids unknown even after a
    /// metadata refresh (a topic deleted meanwhile, or created so recently
    /// that the broker answering Metadata does not know it) are returned
    /// apart, to be resolved on a later heartbeat.
    pub(super) fn resolve(
        &mut self,
        client: &KafkaClient,
        assignment: &[(TopicIdBytes, Vec<i32>)],
    ) -> (BTreeSet<TopicPartition>, usize) {
        if assignment.iter().any(|(id, _)| !self.names.contains_key(id)) {
            if let Err(e) = self.refresh(client) {
                debug!("cannot refresh topic ids: {e}");
            }
        }
        let mut out = BTreeSet::new();
        let mut unknown = 0;
        for (id, partitions) in assignment {
            match self.names.get(id) {
                Some(name) => {
                    out.extend(partitions.iter().map(|&p| TopicPartition::new(name.clone(), p)));
                }
                None => unknown += partitions.len(),
            }
        }
        (out, unknown)
    }

    /// `owned` in the request's shape, by topic id. Partitions whose topic
    /// id is unknown (cannot happen for partitions the coordinator gave by
    /// id) are left out.
    pub(super) fn by_id(
        &self,
        owned: &BTreeSet<TopicPartition>,
    ) -> Vec<ConsumerGroupHeartbeatTopicPartitions> {
        let mut grouped: BTreeMap<TopicIdBytes, Vec<i32>> = BTreeMap::new();
        for tp in owned {
            if let Some(id) = self.ids.get(&tp.topic) {
                grouped.entry(*id).or_default().push(tp.partition);
            }
        }
        grouped
            .into_iter()
            .map(|(topic_id, partitions)| ConsumerGroupHeartbeatTopicPartitions {
                topic_id,
                partitions,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_partitions_are_grouped_by_known_topic_id() {
        let mut ids = TopicIds::default();
        ids.learn([1; 16], "a");
        ids.learn([2; 16], "b");
        ids.learn(NO_ID, "no-id");
        let owned: BTreeSet<TopicPartition> = [
            TopicPartition::new("b", 1),
            TopicPartition::new("a", 3),
            TopicPartition::new("a", 0),
            TopicPartition::new("no-id", 0),
        ]
        .into_iter()
        .collect();
        let sent = ids.by_id(&owned);
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].topic_id, [1; 16]);
        assert_eq!(sent[0].partitions, [0, 3]);
        assert_eq!(sent[1].partitions, [1]);
    }
}
