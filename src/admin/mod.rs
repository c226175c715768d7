//! The admin client: one [`Admin`] handle from [`KafkaClient::admin`] for
//! the operator's calls (consumer groups, ACLs, SCRAM users), each blocking
//! with the client's request timeout and routed where Kafka says it must go
//! (the group coordinator, the controller, any broker).
//!
//! Calls about several items return one result per item, so one bad group or
//! user never hides the others' outcomes.

use crate::cluster::KafkaClient;

mod acls;
mod groups;
mod scram;

pub use acls::{
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourceType,
};
pub use groups::{ConsumerGroupDescription, ConsumerGroupListing, GroupMember, PartitionLag};
pub use scram::{ScramCredentialInfo, ScramMechanism, UserScramCredentialAlteration};

/// The admin client, from [`KafkaClient::admin`]: cheap to clone, `Send +
/// Sync`, sharing the client's connections and metadata.
#[derive(Debug, Clone)]
pub struct Admin {
    pub(crate) client: KafkaClient,
}

impl KafkaClient {
    /// The admin client sharing this client's connections.
    pub fn admin(&self) -> Admin {
        Admin {
            client: self.clone(),
        }
    }
}
