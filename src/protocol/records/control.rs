//! Control records: the transaction markers (commit, abort) that a broker
//! writes into a partition, alone in a batch with the control bit set.
//!
//! A consumer never hands them to the application: it uses them to end a
//! transaction (read_committed) and skips them. Only the record key matters
//! for that: a version (0) and a type, both INT16. The value of a transaction
//! marker is a version (INT16) and the coordinator epoch (INT32).
//!
//! # References
//! Kafka protocol guide, "Control Batches"; KIP-98 (transaction markers).

use crate::protocol::{DecodeError, DecodeResult, Decoder};

/// Encoded size of a version-0 transaction marker value.
pub const END_TXN_MARKER_VALUE_LEN: usize = 6;

/// The type of a control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ControlRecordType {
    /// The producer's transaction was aborted: drop its records.
    Abort,
    /// The producer's transaction was committed.
    Commit,
    /// A type this crate does not know (KRaft writes several into its own
    /// metadata log); skip it.
    Unknown(i16),
}

impl ControlRecordType {
    /// The wire value of the type.
    pub fn code(self) -> i16 {
        match self {
            ControlRecordType::Abort => 0,
            ControlRecordType::Commit => 1,
            ControlRecordType::Unknown(code) => code,
        }
    }

    /// The type for a wire value.
    pub fn from_code(code: i16) -> Self {
        match code {
            0 => ControlRecordType::Abort,
            1 => ControlRecordType::Commit,
            code => ControlRecordType::Unknown(code),
        }
    }

    /// Reads the type from a control record's key (version, then type).
    /// Keys longer than four bytes, from newer key versions, are accepted.
    pub fn from_key(key: &[u8]) -> DecodeResult<Self> {
        let mut d = Decoder::new(key);
        let version = d.i16()?;
        if version < 0 {
            return Err(DecodeError::Invalid("negative control record key version"));
        }
        Ok(Self::from_code(d.i16()?))
    }

    /// The version-0 key for this type, for writing control batches.
    pub fn key(self) -> [u8; 4] {
        let [a, b] = self.code().to_be_bytes();
        [0, 0, a, b]
    }

    /// The version-0 value of a transaction marker written by a coordinator
    /// at `coordinator_epoch`.
    pub fn end_txn_marker_value(coordinator_epoch: i32) -> [u8; END_TXN_MARKER_VALUE_LEN] {
        let [a, b, c, d] = coordinator_epoch.to_be_bytes();
        [0, 0, a, b, c, d]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for t in [
            ControlRecordType::Abort,
            ControlRecordType::Commit,
            ControlRecordType::Unknown(3),
        ] {
            assert_eq!(ControlRecordType::from_key(&t.key()), Ok(t));
        }
    }

    #[test]
    fn a_short_or_negative_version_key_is_an_error() {
        assert!(ControlRecordType::from_key(&[0, 0, 0]).is_err());
        assert!(ControlRecordType::from_key(&[0xff, 0xff, 0, 1]).is_err());
    }
}
