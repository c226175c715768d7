#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// Declares a crate-internal module that the `unstable-internals` feature
/// makes public (hidden from the docs, outside any semver promise) for this
/// crate's own tests, benchmarks and fuzz targets, as rskafka does. Without
/// the feature, the module is private, and the parts of it only those users
/// reach are allowed to be unused.
macro_rules! internal_mod {
    ($(#[$attr:meta])* $name:ident) => {
        $(#[$attr])*
        #[cfg(feature = "unstable-internals")]
        #[doc(hidden)]
        pub mod $name;
        $(#[$attr])*
        #[cfg(not(feature = "unstable-internals"))]
        #[allow(dead_code, unused_imports, unreachable_pub)]
        mod $name;
    };
}
pub(crate) use internal_mod;

pub mod admin;
mod api_key;
pub mod cluster;
pub mod consumer;
pub mod error;
internal_mod!(net);
pub mod producer;
internal_mod!(protocol);
#[cfg(feature = "testkit")]
pub mod testkit;
mod thread;
mod time;

pub use admin::Admin;
pub use api_key::ApiKey;
pub use cluster::{
    Broker, ClientConfig, KafkaClient, KafkaClientBuilder, ListedOffset, NewTopic, Partition,
    Topic, TopicMetadata,
};
pub use consumer::GroupProtocol;
pub use consumer::{
    AckType, AcknowledgementMode, Assignor, BalancedConsumer, BalancedConsumerConfig, Bytes,
    ConsumerGroupMetadata, IsolationLevel, Message, MessageHeader, MessageHeaders, OffsetReset,
    ShareConsumer, ShareConsumerConfig, SimpleConsumer, SimpleConsumerConfig, Subscription,
    TopicPartition,
};
pub use error::{BrokerError, Error, Result, TimeoutKind, TransactionError, TransactionErrorKind};
pub use net::{Sasl, TlsConfig};
pub use producer::{
    Acks, Compression, DeliveryReport, DeliveryReports, Producer, ProducerConfig, Record,
    TransactionState,
};
pub use protocol::{DecodeError, ErrorCode};
