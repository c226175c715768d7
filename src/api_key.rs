//! [`ApiKey`]: the Kafka APIs this client sends, by name, for settings that
//! refer to one (such as [`KafkaClientBuilder::max_api_version`]).
//!
//! [`KafkaClientBuilder::max_api_version`]: crate::KafkaClientBuilder::max_api_version

use std::fmt;

use crate::protocol::api_key as code;

/// Declares [`ApiKey`] from one table (variant => numeric key constant in
/// `protocol::api_key`), so the enum, [`ApiKey::ALL`], [`ApiKey::code`] and
/// [`ApiKey::name`] cannot disagree; adding an API is one line.
macro_rules! api_keys {
    ($($name:ident => $code:ident,)*) => {
        /// A Kafka API (request type) that this client sends.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ApiKey {
            $(
                #[doc = concat!(stringify!($name), " (the protocol guide's `", stringify!($code), "`).")]
                $name,
            )*
        }

        impl ApiKey {
            /// Every API this client sends.
            pub const ALL: &'static [ApiKey] = &[$(ApiKey::$name,)*];

            /// The API's numeric key on the wire.
            pub const fn code(self) -> i16 {
                match self {
                    $(ApiKey::$name => code::$code,)*
                }
            }

            /// The API's name in the Kafka protocol guide, e.g. `JoinGroup`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(ApiKey::$name => stringify!($name),)*
                }
            }
        }
    };
}

api_keys! {
    Produce => PRODUCE,
    Fetch => FETCH,
    ListOffsets => LIST_OFFSETS,
    Metadata => METADATA,
    OffsetCommit => OFFSET_COMMIT,
    OffsetFetch => OFFSET_FETCH,
    FindCoordinator => FIND_COORDINATOR,
    JoinGroup => JOIN_GROUP,
    Heartbeat => HEARTBEAT,
    ConsumerGroupHeartbeat => CONSUMER_GROUP_HEARTBEAT,
    LeaveGroup => LEAVE_GROUP,
    SyncGroup => SYNC_GROUP,
    DescribeGroups => DESCRIBE_GROUPS,
    ListGroups => LIST_GROUPS,
    SaslHandshake => SASL_HANDSHAKE,
    ApiVersions => API_VERSIONS,
    CreateTopics => CREATE_TOPICS,
    DeleteTopics => DELETE_TOPICS,
    DeleteRecords => DELETE_RECORDS,
    InitProducerId => INIT_PRODUCER_ID,
    AddPartitionsToTxn => ADD_PARTITIONS_TO_TXN,
    AddOffsetsToTxn => ADD_OFFSETS_TO_TXN,
    EndTxn => END_TXN,
    TxnOffsetCommit => TXN_OFFSET_COMMIT,
    DescribeAcls => DESCRIBE_ACLS,
    CreateAcls => CREATE_ACLS,
    DeleteAcls => DELETE_ACLS,
    DescribeConfigs => DESCRIBE_CONFIGS,
    SaslAuthenticate => SASL_AUTHENTICATE,
    CreatePartitions => CREATE_PARTITIONS,
    DeleteGroups => DELETE_GROUPS,
    IncrementalAlterConfigs => INCREMENTAL_ALTER_CONFIGS,
    OffsetDelete => OFFSET_DELETE,
    DescribeUserScramCredentials => DESCRIBE_USER_SCRAM_CREDENTIALS,
    AlterUserScramCredentials => ALTER_USER_SCRAM_CREDENTIALS,
    DescribeCluster => DESCRIBE_CLUSTER,
    ShareGroupHeartbeat => SHARE_GROUP_HEARTBEAT,
    ShareFetch => SHARE_FETCH,
    ShareAcknowledge => SHARE_ACKNOWLEDGE,
}

impl ApiKey {
    /// The API with numeric key `code`, if this client sends it.
    pub fn from_code(code: i16) -> Option<ApiKey> {
        ApiKey::ALL.iter().copied().find(|api| api.code() == code)
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (key {})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_distinct() {
        for &api in ApiKey::ALL {
            assert_eq!(ApiKey::from_code(api.code()), Some(api));
        }
        assert_eq!(ApiKey::JoinGroup.code(), 11);
        assert_eq!(ApiKey::from_code(99), None);
        assert_eq!(ApiKey::JoinGroup.to_string(), "JoinGroup (key 11)");
    }
}
