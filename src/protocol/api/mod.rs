//! One module per Kafka API: request and response types with their version windows.

pub mod api_versions;

pub use api_versions::{ApiVersionRange, ApiVersionsRequest, ApiVersionsResponse};

// Consumer groups, committed offsets and SASL.
#[cfg(test)]
pub(crate) mod codec_checks;
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
