//! [`ConsumerGroupMetadata`]: who a consumer is in its group, for a
//! transactional producer's
//! [`send_offsets_to_transaction`](crate::Producer::send_offsets_to_transaction).
//!
//! The group coordinator checks the generation and member id of a
//! transactional offset commit (TxnOffsetCommit v3+, KIP-447), so a consumer
//! that lost its partitions in a rebalance cannot commit offsets for them
//! through a transaction any more: its transaction aborts instead of
//! committing duplicates.
//!
//! # References
//! KIP-447 (producer scalability for exactly-once semantics); the Java
//! client's `ConsumerGroupMetadata`.

/// A consumer's identity in its group, as of the call that returned it:
/// group id, generation, member id and static instance id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ConsumerGroupMetadata {
    /// The consumer group.
    pub group_id: String,
    /// The group generation the consumer last joined; -1 for a consumer
    /// that is not a group member (a [`SimpleConsumer`](crate::SimpleConsumer)
    /// committing into a group).
    pub generation_id: i32,
    /// The member id the coordinator gave the consumer; empty when it is
    /// not a member.
    pub member_id: String,
    /// The static member's `group_instance_id`, if any.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// Metadata of a consumer that commits into `group_id` without being a
    /// member (generation -1, no member id): the coordinator checks nothing
    /// about it, as for the Java client's `new ConsumerGroupMetadata(groupId)`.
    pub fn new(group_id: impl Into<String>) -> Self {
        ConsumerGroupMetadata {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }

    /// Metadata of a group member.
    pub fn member(
        group_id: impl Into<String>,
        generation_id: i32,
        member_id: impl Into<String>,
        group_instance_id: Option<String>,
    ) -> Self {
        ConsumerGroupMetadata {
            group_id: group_id.into(),
            generation_id,
            member_id: member_id.into(),
            group_instance_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_member_has_no_generation_and_no_member_id() {
        let m = ConsumerGroupMetadata::new("billing");
        assert_eq!((m.generation_id, m.member_id.as_str()), (-1, ""));
        assert_eq!(m.group_instance_id, None);
    }
}
