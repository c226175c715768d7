//! One module per Kafka API: request and response types with their version windows.

pub mod api_versions;

pub use api_versions::{ApiVersionRange, ApiVersionsRequest, ApiVersionsResponse};

// Producer and consumer data path.
pub mod fetch;
pub mod init_producer_id;
pub mod produce;

pub use fetch::{
    AbortedTransaction, EpochEndOffset, FetchPartition, FetchPartitionResponse, FetchRequest,
    FetchResponse, FetchTopic, FetchTopicResponse, ForgottenTopic, IsolationLevel, SnapshotId,
};
pub use init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
pub use produce::{
    BatchIndexAndErrorMessage, LeaderIdAndEpoch, NodeEndpoint, PartitionProduceData,
    PartitionProduceResponse, ProduceRequest, ProduceResponse, TopicProduceData,
    TopicProduceResponse,
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
