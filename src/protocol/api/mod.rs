//! One module per Kafka API: request and response types with their version windows.

pub mod api_versions;

pub use api_versions::{ApiVersionRange, ApiVersionsRequest, ApiVersionsResponse};

// Consumer groups, committed offsets and SASL.
#[cfg(test)]
pub(crate) mod codec_checks;
pub mod find_coordinator;
pub mod offset_commit;
pub mod offset_fetch;

pub use find_coordinator::{
    Coordinator, CoordinatorKeyType, FindCoordinatorRequest, FindCoordinatorResponse,
};
pub use offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    OffsetCommitResponse, OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
pub use offset_fetch::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchResponse,
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
