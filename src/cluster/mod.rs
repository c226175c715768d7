//! The cluster layer: [`KafkaClient`] and what it knows about the cluster.
//!
//! One file per job, each depending only on the ones listed before it:
//! `config` (the frozen [`ClientConfig`] and its builder), `metadata` (brokers,
//! topics and partition leaders as the last Metadata response described
//! them), `client` (bootstrap, the metadata cache, connection routing and
//! retries), then, each adding to the client, `admin` (create and delete
//! topics), `offsets` (ListOffsets), `coordinator` (the group coordinator
//! that commits and group membership share) and `topic` (the [`Topic`]
//! handle).

mod admin;
mod client;
mod config;
pub(crate) mod coordinator;
mod metadata;
mod offsets;
mod topic;

pub use admin::NewTopic;
pub use client::KafkaClient;
pub use config::{ClientConfig, KafkaClientBuilder};
pub use metadata::{Broker, Partition, TopicMetadata};
pub use offsets::ListedOffset;
pub use topic::Topic;

pub(crate) use admin::duration_ms;
pub(crate) use coordinator::{CoordinatorStatus, GroupCoordinator};
pub(crate) use metadata::validate_topic_name;
pub(crate) use offsets::{EARLIEST, LATEST};
