//! Consumers: the fetcher thread with its bounded prefetch queue, committed
//! offsets through the group coordinator, the [`SimpleConsumer`] that
//! reads explicitly chosen partitions, and the [`BalancedConsumer`] that
//! shares its topics' partitions with the other members of a consumer group,
//! built from the partition assignors and the group membership thread.
//!
//! ```text
//! caller thread                       kafka-sync-fetcher thread
//! ─────────────                       ─────────────────────────
//! consume / iterate ◀── queue ◀────── Fetch per leader, decode, filter
//! seek / pause ───────▶ (one lock) ──▶ (woken through a channel)
//! commit ──▶ GroupCoordinator (FindCoordinator, OffsetCommit, OffsetFetch)
//!
//! balanced consumer only:
//! kafka-sync-heartbeat (membership) ──GroupEvent──▶ kafka-sync-rebalance
//!                                   ──▶ assign / unassign partitions in the queue
//! ```
//!
//! # References
//! Kafka protocol guide, "Fetch API", "OffsetCommit API", "OffsetFetch API",
//! "FindCoordinator API", "The Consumer Group Protocol"; KIP-98
//! (read_committed), KIP-62 (background heartbeats), KIP-345 (static
//! membership), KIP-394 (member id required), KIP-429 (cooperative rebalancing).

pub mod assignor;
mod balanced;
mod config;
mod decode;
mod fetcher;
mod group_metadata;
pub(crate) mod member_id;
crate::internal_mod!(membership);
mod message;
pub(crate) mod offsets;
mod queue;
mod share;
mod simple;

pub use crate::protocol::api::IsolationLevel;
pub use crate::protocol::records::{Header, TimestampType};
pub use assignor::{Assignor, TopicPartition};
pub use balanced::{BalancedConsumer, BalancedConsumerConfig, Iter as BalancedIter};
pub use bytes::Bytes;
pub use config::{OffsetReset, SimpleConsumerConfig};
pub use group_metadata::ConsumerGroupMetadata;
pub use membership::{GroupProtocol, Subscription};
pub use message::{Headers as MessageHeaders, Message, MessageHeader};
pub use share::{AckType, AcknowledgementMode, ShareConsumer, ShareConsumerConfig, ShareIter};
pub use simple::{Iter as SimpleIter, SimpleConsumer};

/// The old name of [`SimpleIter`].
#[deprecated(
    since = "0.1.0",
    note = "renamed to `SimpleIter`, beside `BalancedIter`"
)]
pub type Iter<'a> = SimpleIter<'a>;
