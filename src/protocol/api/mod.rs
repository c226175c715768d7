//! One module per Kafka API: request and response types with their version windows.

pub mod api_versions;

pub use api_versions::{
    ApiVersionRange, ApiVersionsRequest, ApiVersionsResponse, FinalizedFeature, SupportedFeature,
    TRANSACTION_VERSION_FEATURE,
};

// Producer and consumer data path.
pub mod fetch;
pub mod init_producer_id;
pub mod produce;

// Transactions (issue 14).
pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod end_txn;
pub mod txn_offset_commit;

pub use add_offsets_to_txn::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};
pub use add_partitions_to_txn::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse,
    AddPartitionsToTxnTopic, AddPartitionsToTxnTopicResult,
};
pub use end_txn::{EndTxnRequest, EndTxnResponse, END_TXN_BEFORE_TRANSACTIONS_V2};
pub use txn_offset_commit::{
    TxnOffsetCommitRequest, TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
    TxnOffsetCommitResponse, TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
    TXN_OFFSET_COMMIT_BEFORE_TRANSACTIONS_V2,
};

pub use fetch::{
    AbortedTransaction, EpochEndOffset, FetchPartition, FetchPartitionResponse, FetchRequest,
    FetchResponse, FetchTopic, FetchTopicResponse, ForgottenTopic, IsolationLevel, SnapshotId,
};
pub use init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
pub use produce::{
    BatchIndexAndErrorMessage, LeaderIdAndEpoch, NodeEndpoint, PartitionProduceData,
    PartitionProduceResponse, ProduceRequest, ProduceResponse, TopicProduceData,
    TopicProduceResponse, PRODUCE_BEFORE_TRANSACTIONS_V2,
};

// Cluster metadata and topic admin.
pub mod create_topics;
pub mod delete_topics;
pub mod list_offsets;
pub mod metadata;

pub use create_topics::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig, CreatableTopicConfigs,
    CreatableTopicResult, CreateTopicsRequest, CreateTopicsResponse,
};
pub use delete_topics::{
    DeletableTopicResult, DeleteTopicState, DeleteTopicsRequest, DeleteTopicsResponse,
};
pub use list_offsets::{
    ListOffsetsPartition, ListOffsetsPartitionResponse, ListOffsetsRequest, ListOffsetsResponse,
    ListOffsetsTopic, ListOffsetsTopicResponse, EARLIEST_TIMESTAMP, LATEST_TIMESTAMP,
};
pub use metadata::{
    MetadataRequest, MetadataRequestTopic, MetadataResponse, MetadataResponseBroker,
    MetadataResponsePartition, MetadataResponseTopic,
};

// Consumer groups, committed offsets and SASL.
#[cfg(test)]
pub(crate) mod codec_checks;
pub mod consumer_group_heartbeat;
pub mod describe_groups;
pub mod find_coordinator;
pub mod heartbeat;
pub mod join_group;
pub mod leave_group;
pub mod offset_commit;
pub mod offset_fetch;
pub mod sasl_authenticate;
pub mod sasl_handshake;
pub mod sync_group;

pub use consumer_group_heartbeat::{
    ConsumerGroupHeartbeatAssignment, ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse, ConsumerGroupHeartbeatTopicPartitions,
};
pub use describe_groups::{
    DescribeGroupsRequest, DescribeGroupsResponse, DescribedGroup, DescribedGroupMember,
};
pub use find_coordinator::{
    Coordinator, CoordinatorKeyType, FindCoordinatorRequest, FindCoordinatorResponse,
};
pub use heartbeat::{HeartbeatRequest, HeartbeatResponse};
pub use join_group::{
    JoinGroupRequest, JoinGroupRequestProtocol, JoinGroupResponse, JoinGroupResponseMember,
};
pub use leave_group::{
    LeaveGroupRequest, LeaveGroupRequestMember, LeaveGroupResponse, LeaveGroupResponseMember,
};
pub use offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    OffsetCommitResponse, OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
pub use offset_fetch::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchResponse,
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
pub use sasl_authenticate::{SaslAuthenticateRequest, SaslAuthenticateResponse};
pub use sasl_handshake::{SaslHandshakeRequest, SaslHandshakeResponse};
pub use sync_group::{SyncGroupRequest, SyncGroupRequestAssignment, SyncGroupResponse};

// Admin APIs (issue 15): topics, configs, records, cluster.
pub mod create_partitions;
pub mod delete_records;
pub mod describe_cluster;
pub mod describe_configs;
pub mod incremental_alter_configs;
pub mod describe_user_scram_credentials;
pub mod alter_user_scram_credentials;
pub mod list_groups;
pub mod delete_groups;
pub mod offset_delete;
pub mod describe_acls;
pub mod create_acls;
pub mod delete_acls;

// Share groups (KIP-932, issue 18).
pub mod share_acknowledge;
pub mod share_fetch;
pub mod share_group_heartbeat;

pub use share_acknowledge::{
    ShareAcknowledgePartition, ShareAcknowledgePartitionResponse, ShareAcknowledgeRequest,
    ShareAcknowledgeResponse, ShareAcknowledgeTopic, ShareAcknowledgeTopicResponse,
};
pub use share_fetch::{
    AcknowledgementBatch, AcquiredRecords, ShareFetchPartition, ShareFetchPartitionResponse,
    ShareFetchRequest, ShareFetchResponse, ShareFetchTopic, ShareFetchTopicResponse,
    ShareForgottenTopic,
};
pub use share_group_heartbeat::{
    ShareGroupAssignmentTopic, ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse,
};
