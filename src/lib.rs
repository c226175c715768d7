#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api_key;
pub mod client;
pub mod cluster;
pub mod config;
pub mod consumer;
pub mod error;
pub mod net;
pub mod producer;
pub mod protocol;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod topic;

pub use api_key::ApiKey;
pub use client::{KafkaClient, ListedOffset, NewTopic};
pub use cluster::{Broker, Partition, TopicMetadata};
pub use config::{ClientConfig, KafkaClientBuilder};
pub use consumer::{
    Assignor, BalancedConsumer, BalancedConsumerConfig, IsolationLevel, Message, OffsetReset,
    SimpleConsumer, SimpleConsumerConfig, Subscription, TopicPartition,
};
pub use error::{BrokerError, Error, Result, TimeoutKind};
pub use net::{Sasl, TlsConfig};
pub use producer::{Acks, Compression, DeliveryReport, Producer, ProducerConfig, Record};
pub use protocol::ErrorCode;
pub use topic::Topic;
