#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cluster;
pub mod consumer;
pub mod error;
pub mod net;
pub mod producer;
pub mod protocol;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use cluster::{
    Broker, ClientConfig, KafkaClient, KafkaClientBuilder, ListedOffset, NewTopic, Partition,
    Topic, TopicMetadata,
};
pub use consumer::{
    Assignor, BalancedConsumer, BalancedConsumerConfig, IsolationLevel, Message, OffsetReset,
    SimpleConsumer, SimpleConsumerConfig, Subscription, TopicPartition,
};
pub use error::{BrokerError, Error, Result, TimeoutKind};
pub use net::{Sasl, TlsConfig};
pub use producer::{Acks, Compression, DeliveryReport, Producer, ProducerConfig, Record};
pub use protocol::{DecodeError, ErrorCode};
