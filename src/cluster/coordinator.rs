//! The group coordinator: which broker coordinates a consumer group, found
//! with FindCoordinator and remembered until it is known to be lost, and what
//! a coordinator error code says about it. The same component finds a
//! transactional producer's *transaction* coordinator
//! ([`GroupCoordinator::transaction`]: FindCoordinator with key type
//! `transaction`), which answers with the same codes.
//!
//! One component serves both users of a coordinator: offset commits and
//! fetches (through the client's pooled connections) and the membership
//! thread (which opens a dedicated connection to the node found here, so that
//! a JoinGroup held by the broker blocks no other request). Both classify
//! coordinator errors with [`CoordinatorStatus::of`], as the Java client does:
//! NOT_COORDINATOR and COORDINATOR_NOT_AVAILABLE mean "the group lives
//! elsewhere": forget the coordinator and find it again;
//! COORDINATOR_LOAD_IN_PROGRESS means "right broker, not ready yet": retry
//! the same coordinator after a backoff.
//!
//! # References
//! Kafka protocol guide, "FindCoordinator API"; KIP-699 (batched coordinator
//! lookup); Java `AbstractCoordinator` / `ConsumerCoordinator`.

use std::sync::Arc;
use std::time::Instant;

use log::debug;
use parking_lot::Mutex;

use super::client::KafkaClient;
use crate::error::{Error, Result};
use crate::net::Connection;
use crate::protocol::api::{CoordinatorKeyType, FindCoordinatorRequest};
use crate::protocol::ErrorCode;

/// What a broker error code says about the group coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CoordinatorStatus {
    /// NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE: the group is coordinated
    /// elsewhere, or nowhere yet. Forget the coordinator and look it up again.
    Moved,
    /// COORDINATOR_LOAD_IN_PROGRESS: the right broker, still loading the
    /// group's state. Retry the same coordinator after a backoff.
    Loading,
}

impl CoordinatorStatus {
    /// The status `code` reports, or `None` when it says nothing about the
    /// coordinator.
    pub(crate) fn of(code: ErrorCode) -> Option<CoordinatorStatus> {
        match code {
            ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable => {
                Some(CoordinatorStatus::Moved)
            }
            ErrorCode::CoordinatorLoadInProgress => Some(CoordinatorStatus::Loading),
            _ => None,
        }
    }
}

/// The remembered coordinator node, and when to forget it.
#[derive(Debug, Default)]
struct KnownNode(Mutex<Option<i32>>);

impl KnownNode {
    fn get(&self) -> Option<i32> {
        *self.0.lock()
    }

    fn set(&self, node: i32) {
        *self.0.lock() = Some(node);
    }

    fn forget(&self) {
        *self.0.lock() = None;
    }

    /// Forgets the node when `code` says the coordinator moved; a loading
    /// coordinator is kept, to be asked again after a backoff.
    fn observe(&self, code: ErrorCode) -> Option<CoordinatorStatus> {
        let status = CoordinatorStatus::of(code);
        if status == Some(CoordinatorStatus::Moved) {
            self.forget();
        }
        status
    }
}

/// The coordinator of one consumer group, found on first use and remembered
/// until [`GroupCoordinator::forget`] (or a [`CoordinatorStatus::Moved`] code
/// seen through [`GroupCoordinator::observe`]).
pub(crate) struct GroupCoordinator {
    client: KafkaClient,
    /// The group id, or the transactional id of a transaction coordinator.
    group_id: String,
    key_type: CoordinatorKeyType,
    /// Node id of the coordinator, once known.
    node: KnownNode,
}

impl std::fmt::Debug for GroupCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCoordinator")
            .field("group_id", &self.group_id)
            .field("node", &self.node.get())
            .finish()
    }
}

impl GroupCoordinator {
    pub(crate) fn new(client: KafkaClient, group_id: impl Into<String>) -> Self {
        GroupCoordinator {
            client,
            group_id: group_id.into(),
            key_type: CoordinatorKeyType::Group,
            node: KnownNode::default(),
        }
    }

    /// The transaction coordinator of `transactional_id` (FindCoordinator
    /// with key type `transaction`); the rest works as for a group.
    pub(crate) fn transaction(client: KafkaClient, transactional_id: impl Into<String>) -> Self {
        GroupCoordinator {
            key_type: CoordinatorKeyType::Transaction,
            ..GroupCoordinator::new(client, transactional_id)
        }
    }

    /// What this coordinator coordinates, for messages.
    fn what(&self) -> &'static str {
        match self.key_type {
            CoordinatorKeyType::Transaction => "transactional id",
            _ => "group",
        }
    }

    /// The client the coordinator is reached through.
    pub(crate) fn client(&self) -> &KafkaClient {
        &self.client
    }

    /// The group's id.
    pub(crate) fn group_id(&self) -> &str {
        &self.group_id
    }

    /// The coordinator's node id: the remembered one, else looked up with
    /// FindCoordinator (one attempt, bounded by `deadline`).
    ///
    /// # Errors
    /// The transport error of the lookup; [`Error::Broker`] with the code a
    /// broker answered (retriable ones include COORDINATOR_NOT_AVAILABLE
    /// while the cluster elects one); [`Error::Protocol`] without a decode
    /// error when the answer names no coordinator for the group.
    pub(crate) fn node(&self, deadline: Instant) -> Result<i32> {
        if let Some(node) = self.node.get() {
            return Ok(node);
        }
        let node = self.find(deadline)?;
        self.node.set(node);
        Ok(node)
    }

    /// A pooled connection to the coordinator, looking it up if unknown. A
    /// coordinator that cannot be reached is forgotten.
    pub(crate) fn connection(&self, deadline: Instant) -> Result<Arc<Connection>> {
        let node = self.node(deadline)?;
        self.client
            .broker_connection(node, deadline)
            .inspect_err(|_| self.forget())
    }

    /// Drops the remembered coordinator, after it said it no longer is one
    /// or could not be reached.
    pub(crate) fn forget(&self) {
        self.node.forget();
    }

    /// Classifies a code a coordinator answered, forgetting the coordinator
    /// when the code says it moved.
    pub(crate) fn observe(&self, code: ErrorCode) -> Option<CoordinatorStatus> {
        let status = self.node.observe(code);
        if status == Some(CoordinatorStatus::Moved) {
            debug!(
                "{} `{}`: coordinator moved ({}); forgot it",
                self.what(),
                self.group_id,
                code.name()
            );
        }
        status
    }

    fn find(&self, deadline: Instant) -> Result<i32> {
        let context = format!("FindCoordinator for {} `{}`", self.what(), self.group_id);
        let conn = self.client.any_connection(deadline)?;
        let response = conn.request(&FindCoordinatorRequest::new(self.key_type, &self.group_id))?;
        let found = response
            .coordinator(&self.group_id)
            .ok_or_else(|| Error::protocol(&context, "the response names no coordinator"))?;
        match found.error_code {
            ErrorCode::None => {
                debug!(
                    "{} `{}` is coordinated by broker {} ({}:{})",
                    self.what(),
                    self.group_id,
                    found.node_id,
                    found.host,
                    found.port
                );
                Ok(found.node_id)
            }
            code => Err(Error::broker(code, found.error_message.clone(), context)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_coordinator_and_not_available_mean_moved() {
        for code in [
            ErrorCode::NotCoordinator,
            ErrorCode::CoordinatorNotAvailable,
        ] {
            assert_eq!(
                CoordinatorStatus::of(code),
                Some(CoordinatorStatus::Moved),
                "{code:?}"
            );
        }
    }

    #[test]
    fn load_in_progress_means_retry_the_same_coordinator() {
        assert_eq!(
            CoordinatorStatus::of(ErrorCode::CoordinatorLoadInProgress),
            Some(CoordinatorStatus::Loading)
        );
    }

    #[test]
    fn other_codes_say_nothing_about_the_coordinator() {
        for code in [
            ErrorCode::None,
            ErrorCode::RebalanceInProgress,
            ErrorCode::UnknownMemberId,
            ErrorCode::IllegalGeneration,
            ErrorCode::GroupAuthorizationFailed,
            ErrorCode::RequestTimedOut,
        ] {
            assert_eq!(CoordinatorStatus::of(code), None, "{code:?}");
        }
    }

    #[test]
    fn a_moved_coordinator_is_forgotten() {
        for code in [
            ErrorCode::NotCoordinator,
            ErrorCode::CoordinatorNotAvailable,
        ] {
            let known = KnownNode::default();
            known.set(3);
            assert_eq!(known.observe(code), Some(CoordinatorStatus::Moved));
            assert_eq!(known.get(), None, "{code:?}");
        }
    }

    #[test]
    fn a_loading_coordinator_is_kept_for_the_retry() {
        let known = KnownNode::default();
        known.set(3);
        assert_eq!(
            known.observe(ErrorCode::CoordinatorLoadInProgress),
            Some(CoordinatorStatus::Loading)
        );
        assert_eq!(known.get(), Some(3));
    }

    #[test]
    fn other_errors_keep_the_coordinator() {
        let known = KnownNode::default();
        known.set(3);
        assert_eq!(known.observe(ErrorCode::OffsetMetadataTooLarge), None);
        assert_eq!(known.observe(ErrorCode::None), None);
        assert_eq!(known.get(), Some(3));
    }

    #[test]
    fn every_coordinator_code_is_retriable() {
        // Callers retry both kinds through their retriable-error paths.
        for code in [
            ErrorCode::NotCoordinator,
            ErrorCode::CoordinatorNotAvailable,
            ErrorCode::CoordinatorLoadInProgress,
        ] {
            assert!(code.is_retriable(), "{code:?}");
        }
    }
}
