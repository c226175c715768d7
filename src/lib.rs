#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod error;
pub mod protocol;

pub use error::{BrokerError, Error, Result, TimeoutKind};
pub use protocol::ErrorCode;
