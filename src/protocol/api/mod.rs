//! One module per Kafka API: request and response types with their version windows.

pub mod api_versions;

pub use api_versions::{ApiVersionRange, ApiVersionsRequest, ApiVersionsResponse};

// Consumer groups, committed offsets and SASL.
#[cfg(test)]
pub(crate) mod codec_checks;
pub mod find_coordinator;

pub use find_coordinator::{
    Coordinator, CoordinatorKeyType, FindCoordinatorRequest, FindCoordinatorResponse,
};
