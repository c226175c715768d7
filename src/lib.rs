#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod error;
pub mod protocol;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use error::{BrokerError, Error, Result, TimeoutKind};
pub use protocol::ErrorCode;
