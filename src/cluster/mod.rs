//! The cluster layer: the client, its configuration, the metadata cache and
//! topic handles.

pub mod client;
pub mod config;
mod metadata;
pub mod topic;

pub use metadata::{Broker, Partition, TopicMetadata};
pub(crate) use metadata::{ClusterState, TopicStatus};
