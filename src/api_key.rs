//! [`ApiKey`]: the Kafka APIs this client sends, by name, for settings that
//! refer to one (such as [`KafkaClientBuilder::max_api_version`]).
//!
//! [`KafkaClientBuilder::max_api_version`]: crate::KafkaClientBuilder::max_api_version

use std::fmt;

use crate::protocol::api_key as code;

/// A Kafka API (request type) that this client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ApiKey {
    /// Produce (key 0).
    Produce,
    /// Fetch (key 1).
    Fetch,
    /// ListOffsets (key 2).
    ListOffsets,
    /// Metadata (key 3).
    Metadata,
    /// OffsetCommit (key 8).
    OffsetCommit,
    /// OffsetFetch (key 9).
    OffsetFetch,
    /// FindCoordinator (key 10).
    FindCoordinator,
    /// JoinGroup (key 11).
    JoinGroup,
    /// Heartbeat (key 12).
    Heartbeat,
    /// LeaveGroup (key 13).
    LeaveGroup,
    /// SyncGroup (key 14).
    SyncGroup,
    /// DescribeGroups (key 15).
    DescribeGroups,
    /// ListGroups (key 16).
    ListGroups,
    /// SaslHandshake (key 17).
    SaslHandshake,
    /// ApiVersions (key 18).
    ApiVersions,
    /// CreateTopics (key 19).
    CreateTopics,
    /// DeleteTopics (key 20).
    DeleteTopics,
    /// InitProducerId (key 22).
    InitProducerId,
    /// SaslAuthenticate (key 36).
    SaslAuthenticate,
    /// DeleteRecords (key 21).
    DeleteRecords,
    /// DescribeConfigs (key 32).
    DescribeConfigs,
    /// CreatePartitions (key 37).
    CreatePartitions,
    /// IncrementalAlterConfigs (key 44).
    IncrementalAlterConfigs,
    /// DescribeCluster (key 60).
    DescribeCluster,
}

impl ApiKey {
    /// Every API this client sends.
    pub const ALL: [ApiKey; 24] = [
        ApiKey::Produce,
        ApiKey::Fetch,
        ApiKey::ListOffsets,
        ApiKey::Metadata,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::FindCoordinator,
        ApiKey::JoinGroup,
        ApiKey::Heartbeat,
        ApiKey::LeaveGroup,
        ApiKey::SyncGroup,
        ApiKey::DescribeGroups,
        ApiKey::ListGroups,
        ApiKey::SaslHandshake,
        ApiKey::ApiVersions,
        ApiKey::CreateTopics,
        ApiKey::DeleteTopics,
        ApiKey::InitProducerId,
        ApiKey::SaslAuthenticate,
        ApiKey::DeleteRecords,
        ApiKey::DescribeConfigs,
        ApiKey::CreatePartitions,
        ApiKey::IncrementalAlterConfigs,
        ApiKey::DescribeCluster,
    ];

    /// The numeric key in a request header.
    pub const fn code(self) -> i16 {
        match self {
            ApiKey::Produce => code::PRODUCE,
            ApiKey::Fetch => code::FETCH,
            ApiKey::ListOffsets => code::LIST_OFFSETS,
            ApiKey::Metadata => code::METADATA,
            ApiKey::OffsetCommit => code::OFFSET_COMMIT,
            ApiKey::OffsetFetch => code::OFFSET_FETCH,
            ApiKey::FindCoordinator => code::FIND_COORDINATOR,
            ApiKey::JoinGroup => code::JOIN_GROUP,
            ApiKey::Heartbeat => code::HEARTBEAT,
            ApiKey::LeaveGroup => code::LEAVE_GROUP,
            ApiKey::SyncGroup => code::SYNC_GROUP,
            ApiKey::DescribeGroups => code::DESCRIBE_GROUPS,
            ApiKey::ListGroups => code::LIST_GROUPS,
            ApiKey::SaslHandshake => code::SASL_HANDSHAKE,
            ApiKey::ApiVersions => code::API_VERSIONS,
            ApiKey::CreateTopics => code::CREATE_TOPICS,
            ApiKey::DeleteTopics => code::DELETE_TOPICS,
            ApiKey::InitProducerId => code::INIT_PRODUCER_ID,
            ApiKey::SaslAuthenticate => code::SASL_AUTHENTICATE,
            ApiKey::DeleteRecords => code::DELETE_RECORDS,
            ApiKey::DescribeConfigs => code::DESCRIBE_CONFIGS,
            ApiKey::CreatePartitions => code::CREATE_PARTITIONS,
            ApiKey::IncrementalAlterConfigs => code::INCREMENTAL_ALTER_CONFIGS,
            ApiKey::DescribeCluster => code::DESCRIBE_CLUSTER,
        }
    }

    /// The API with numeric key `code`, if this client sends it.
    pub fn from_code(code: i16) -> Option<ApiKey> {
        ApiKey::ALL.into_iter().find(|api| api.code() == code)
    }

    /// The API's name in the Kafka protocol guide, e.g. `JoinGroup`.
    pub const fn name(self) -> &'static str {
        match self {
            ApiKey::Produce => "Produce",
            ApiKey::Fetch => "Fetch",
            ApiKey::ListOffsets => "ListOffsets",
            ApiKey::Metadata => "Metadata",
            ApiKey::OffsetCommit => "OffsetCommit",
            ApiKey::OffsetFetch => "OffsetFetch",
            ApiKey::FindCoordinator => "FindCoordinator",
            ApiKey::JoinGroup => "JoinGroup",
            ApiKey::Heartbeat => "Heartbeat",
            ApiKey::LeaveGroup => "LeaveGroup",
            ApiKey::SyncGroup => "SyncGroup",
            ApiKey::DescribeGroups => "DescribeGroups",
            ApiKey::ListGroups => "ListGroups",
            ApiKey::SaslHandshake => "SaslHandshake",
            ApiKey::ApiVersions => "ApiVersions",
            ApiKey::CreateTopics => "CreateTopics",
            ApiKey::DeleteTopics => "DeleteTopics",
            ApiKey::InitProducerId => "InitProducerId",
            ApiKey::SaslAuthenticate => "SaslAuthenticate",
            ApiKey::DeleteRecords => "DeleteRecords",
            ApiKey::DescribeConfigs => "DescribeConfigs",
            ApiKey::CreatePartitions => "CreatePartitions",
            ApiKey::IncrementalAlterConfigs => "IncrementalAlterConfigs",
            ApiKey::DescribeCluster => "DescribeCluster",
        }
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
        for api in ApiKey::ALL {
            assert_eq!(ApiKey::from_code(api.code()), Some(api));
        }
        assert_eq!(ApiKey::JoinGroup.code(), 11);
        assert_eq!(ApiKey::from_code(99), None);
        assert_eq!(ApiKey::JoinGroup.to_string(), "JoinGroup (key 11)");
    }
}
