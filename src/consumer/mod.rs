//! Consumers. On this branch: the building blocks of the balanced consumer —
//! partition assignors and the consumer-group membership thread.
//!
//! # References
//! Kafka protocol guide, "The Consumer Group Protocol"; KIP-62 (background
//! heartbeats), KIP-345 (static membership), KIP-394 (member id required),
//! KIP-429 (cooperative rebalancing).

pub mod assignor;
pub mod membership;
