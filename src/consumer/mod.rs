//! Consumers: the fetcher thread with its bounded prefetch queue, committed
//! offsets through the group coordinator, and the [`SimpleConsumer`] that
//! reads explicitly chosen partitions.
//!
//! ```text
//! caller thread                       kafka-sync-fetcher thread
//! ─────────────                       ─────────────────────────
//! consume / iterate ◀── queue ◀────── Fetch per leader, decode, filter
//! seek / pause ───────▶ (one lock) ──▶ (woken through a channel)
//! commit ──▶ GroupCoordinator (FindCoordinator, OffsetCommit, OffsetFetch)
//! ```
//!
//! # References
//! Kafka protocol guide, "Fetch API", "OffsetCommit API", "OffsetFetch API",
//! "FindCoordinator API"; KIP-98 (read_committed).

mod config;
mod decode;
mod fetcher;
mod message;
pub(crate) mod offsets;
mod queue;
mod simple;

pub use crate::protocol::api::IsolationLevel;
pub use crate::protocol::records::{Header, TimestampType};
pub use config::{OffsetReset, SimpleConsumerConfig};
pub use message::Message;
pub use simple::{Iter, SimpleConsumer};
