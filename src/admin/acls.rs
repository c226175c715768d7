//! ACLs: describe, create and delete the bindings of an authorizer
//! (DescribeAcls, CreateAcls, DeleteAcls), sent to any broker as the Java
//! admin does.
//!
//! A broker without one of the APIs gives [`Error::UnsupportedVersion`]
//! naming it (tansu 0.6.0 has DescribeAcls and CreateAcls but no
//! DeleteAcls); a broker without an authorizer answers SECURITY_DISABLED.
//!
//! # References
//! KIP-140 (ACL admin APIs), KIP-290 (prefixed resource patterns).

use super::Admin;
use crate::error::{Error, Result};
use crate::protocol::api::create_acls::CreateAclsRequest;
use crate::protocol::api::delete_acls::DeleteAclsRequest;
use crate::protocol::api::describe_acls::{AclBindingData, AclFilterData, DescribeAclsRequest};
use crate::protocol::ErrorCode;

/// An enum of Kafka's ACL codes, with `Unknown` for codes this client does
/// not know.
macro_rules! acl_code {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A code this client does not know, as a broker reported it.
            Unknown(i8),
        }

        impl $name {
            /// The code on the wire.
            pub fn code(self) -> i8 {
                match self {
                    $($name::$variant => $code,)*
                    $name::Unknown(code) => code,
                }
            }

            /// The value a wire code names.
            pub fn from_code(code: i8) -> Self {
                match code {
                    $($code => $name::$variant,)*
                    code => $name::Unknown(code),
                }
            }
        }
    };
}

acl_code! {
    /// The kind of resource an ACL is about.
    ResourceType {
        /// Any type (filters only).
        Any = 1,
        /// A topic.
        Topic = 2,
        /// A consumer group.
        Group = 3,
        /// The cluster (resource name `kafka-cluster`).
        Cluster = 4,
        /// A transactional id.
        TransactionalId = 5,
        /// A delegation token.
        DelegationToken = 6,
        /// A user.
        User = 7,
    }
}

acl_code! {
    /// How an ACL's resource name matches resources.
    PatternType {
        /// Any pattern type (filters only).
        Any = 1,
        /// Every binding that would apply to the named resource: literal,
        /// prefixed and wildcard ones (filters only).
        Match = 2,
        /// The name exactly, or `*` for every resource.
        Literal = 3,
        /// Every resource whose name starts with it.
        Prefixed = 4,
    }
}

acl_code! {
    /// The operation an ACL allows or denies.
    AclOperation {
        /// Any operation (filters only).
        Any = 1,
        /// Every operation.
        All = 2,
        /// Read.
        Read = 3,
        /// Write.
        Write = 4,
        /// Create.
        Create = 5,
        /// Delete.
        Delete = 6,
        /// Alter.
        Alter = 7,
        /// Describe.
        Describe = 8,
        /// Inter-broker cluster actions.
        ClusterAction = 9,
        /// Describe configs.
        DescribeConfigs = 10,
        /// Alter configs.
        AlterConfigs = 11,
        /// Idempotent writes.
        IdempotentWrite = 12,
        /// Create delegation tokens.
        CreateTokens = 13,
        /// Describe delegation tokens.
        DescribeTokens = 14,
    }
}

acl_code! {
    /// Whether an ACL allows or denies.
    AclPermissionType {
        /// Either (filters only).
        Any = 1,
        /// Denies the operation.
        Deny = 2,
        /// Allows the operation.
        Allow = 3,
    }
}

/// One ACL: `principal` from `host` may (or may not) do `operation` on the
/// resources `resource_name` and `pattern_type` select.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct AclBinding {
    /// The resource type.
    pub resource_type: ResourceType,
    /// The resource name (`*` for every resource of a literal binding).
    pub resource_name: String,
    /// How the name matches.
    pub pattern_type: PatternType,
    /// The principal, `User:alice` (or `User:*`).
    pub principal: String,
    /// The host, `*` for every host.
    pub host: String,
    /// The operation.
    pub operation: AclOperation,
    /// Allow or deny.
    pub permission_type: AclPermissionType,
}

impl AclBinding {
    /// Allows `principal` to do `operation` on the resource named exactly
    /// `resource_name`, from any host.
    pub fn allow(
        resource_type: ResourceType,
        resource_name: impl Into<String>,
        principal: impl Into<String>,
        operation: AclOperation,
    ) -> Self {
        AclBinding {
            resource_type,
            resource_name: resource_name.into(),
            pattern_type: PatternType::Literal,
            principal: principal.into(),
            host: "*".into(),
            operation,
            permission_type: AclPermissionType::Allow,
        }
    }

    /// The same binding with another pattern type.
    #[must_use]
    pub fn pattern_type(mut self, pattern_type: PatternType) -> Self {
        self.pattern_type = pattern_type;
        self
    }

    /// The same binding with another permission type.
    #[must_use]
    pub fn permission_type(mut self, permission_type: AclPermissionType) -> Self {
        self.permission_type = permission_type;
        self
    }

    /// The filter that matches exactly this binding.
    pub fn to_filter(&self) -> AclBindingFilter {
        AclBindingFilter {
            resource_type: self.resource_type,
            resource_name: Some(self.resource_name.clone()),
            pattern_type: self.pattern_type,
            principal: Some(self.principal.clone()),
            host: Some(self.host.clone()),
            operation: self.operation,
            permission_type: self.permission_type,
        }
    }

    fn to_wire(&self) -> AclBindingData {
        AclBindingData {
            resource_type: self.resource_type.code(),
            resource_name: self.resource_name.clone(),
            pattern_type: self.pattern_type.code(),
            principal: self.principal.clone(),
            host: self.host.clone(),
            operation: self.operation.code(),
            permission_type: self.permission_type.code(),
        }
    }

    fn from_wire(b: AclBindingData) -> Self {
        AclBinding {
            resource_type: ResourceType::from_code(b.resource_type),
            resource_name: b.resource_name,
            pattern_type: PatternType::from_code(b.pattern_type),
            principal: b.principal,
            host: b.host,
            operation: AclOperation::from_code(b.operation),
            permission_type: AclPermissionType::from_code(b.permission_type),
        }
    }
}

/// Which ACL bindings a describe or delete is about: `None` and the `Any`
/// values match everything.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct AclBindingFilter {
    /// The resource type, or [`ResourceType::Any`].
    pub resource_type: ResourceType,
    /// The resource name; `None` matches every name.
    pub resource_name: Option<String>,
    /// The pattern type, [`PatternType::Any`] or [`PatternType::Match`].
    pub pattern_type: PatternType,
    /// The principal; `None` matches every principal.
    pub principal: Option<String>,
    /// The host; `None` matches every host.
    pub host: Option<String>,
    /// The operation, or [`AclOperation::Any`].
    pub operation: AclOperation,
    /// The permission type, or [`AclPermissionType::Any`].
    pub permission_type: AclPermissionType,
}

impl AclBindingFilter {
    /// Matches every binding.
    pub fn any() -> Self {
        AclBindingFilter {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission_type: AclPermissionType::Any,
        }
    }

    /// Matches the bindings of the resource `resource_type` `name` (any
    /// pattern type, principal, host, operation, permission).
    pub fn resource(resource_type: ResourceType, name: impl Into<String>) -> Self {
        AclBindingFilter {
            resource_type,
            resource_name: Some(name.into()),
            ..AclBindingFilter::any()
        }
    }

    /// The same filter restricted to `principal`.
    #[must_use]
    pub fn principal(mut self, principal: impl Into<String>) -> Self {
        self.principal = Some(principal.into());
        self
    }

    fn to_wire(&self) -> AclFilterData {
        AclFilterData {
            resource_type: self.resource_type.code(),
            resource_name: self.resource_name.clone(),
            pattern_type: self.pattern_type.code(),
            principal: self.principal.clone(),
            host: self.host.clone(),
            operation: self.operation.code(),
            permission_type: self.permission_type.code(),
        }
    }
}

impl Admin {
    /// The ACL bindings matching `filter`.
    ///
    /// # Errors
    /// [`Error::Broker`] with the broker's code and message (SECURITY_DISABLED
    /// without an authorizer, INVALID_REQUEST for a bad filter),
    /// [`Error::UnsupportedVersion`] naming DescribeAcls where a broker lacks
    /// it, or the transport's errors after retries.
    pub fn describe_acls(&self, filter: &AclBindingFilter) -> Result<Vec<AclBinding>> {
        let request = DescribeAclsRequest {
            filter: filter.to_wire(),
        };
        let context = "DescribeAcls";
        let response = self.any_broker(context, |conn| {
            let response = conn.request(&request)?;
            match response.error_code {
                ErrorCode::None => Ok(response),
                code => Err(Error::broker(code, response.error_message, context)),
            }
        })?;
        Ok(response
            .bindings
            .into_iter()
            .map(AclBinding::from_wire)
            .collect())
    }

    /// Creates `bindings`; one result per binding, in order.
    ///
    /// # Errors
    /// Per binding: the broker's code and message (INVALID_REQUEST for a
    /// malformed principal, SECURITY_DISABLED, …). For the call:
    /// [`Error::UnsupportedVersion`] naming CreateAcls where a broker lacks
    /// it, or the transport's errors after retries.
    pub fn create_acls(&self, bindings: &[AclBinding]) -> Result<Vec<Result<()>>> {
        if bindings.is_empty() {
            return Ok(Vec::new());
        }
        let request = CreateAclsRequest {
            creations: bindings.iter().map(AclBinding::to_wire).collect(),
        };
        let context = "CreateAcls";
        let response = self.any_broker(context, |conn| {
            let response = conn.request(&request)?;
            if response.results.len() != bindings.len() {
                return Err(Error::protocol(
                    context,
                    format!(
                        "{} results for {} bindings",
                        response.results.len(),
                        bindings.len()
                    ),
                ));
            }
            Ok(response)
        })?;
        Ok(response
            .results
            .into_iter()
            .zip(bindings)
            .map(|((code, message), b)| match code {
                ErrorCode::None => Ok(()),
                code => Err(Error::broker(code, message, describe_binding(context, b))),
            })
            .collect())
    }

    /// Deletes the bindings matching each of `filters`; one result per
    /// filter, in order: the bindings it deleted, or its error.
    ///
    /// # Errors
    /// Per filter: the broker's code and message. For the call:
    /// [`Error::UnsupportedVersion`] naming DeleteAcls where a broker lacks
    /// it (tansu 0.6.0), or the transport's errors after retries.
    pub fn delete_acls(
        &self,
        filters: &[AclBindingFilter],
    ) -> Result<Vec<Result<Vec<AclBinding>>>> {
        if filters.is_empty() {
            return Ok(Vec::new());
        }
        let request = DeleteAclsRequest {
            filters: filters.iter().map(AclBindingFilter::to_wire).collect(),
        };
        let context = "DeleteAcls";
        let response = self.any_broker(context, |conn| {
            let response = conn.request(&request)?;
            if response.filter_results.len() != filters.len() {
                return Err(Error::protocol(
                    context,
                    format!(
                        "{} results for {} filters",
                        response.filter_results.len(),
                        filters.len()
                    ),
                ));
            }
            Ok(response)
        })?;
        Ok(response
            .filter_results
            .into_iter()
            .zip(filters)
            .map(|(r, f)| match r.error_code {
                ErrorCode::None => {
                    let mut deleted = Vec::new();
                    for (code, message, binding) in r.matching_acls {
                        let binding = AclBinding::from_wire(binding);
                        if code != ErrorCode::None {
                            return Err(Error::broker(
                                code,
                                message,
                                describe_binding(context, &binding),
                            ));
                        }
                        deleted.push(binding);
                    }
                    Ok(deleted)
                }
                code => Err(Error::broker(
                    code,
                    r.error_message,
                    format!("{context} for filter {f:?}"),
                )),
            })
            .collect())
    }

    fn any_broker<T>(
        &self,
        context: &str,
        mut op: impl FnMut(&crate::net::Connection) -> Result<T>,
    ) -> Result<T> {
        let client = &self.client;
        let deadline = self.deadline();
        client.retry_until(deadline, context, || {
            let conn = client.any_connection(deadline)?;
            op(&conn)
        })
    }
}

fn describe_binding(context: &str, b: &AclBinding) -> String {
    format!(
        "{context} for {:?} `{}` ({:?}) {:?} {:?} by `{}` from `{}`",
        b.resource_type,
        b.resource_name,
        b.pattern_type,
        b.permission_type,
        b.operation,
        b.principal,
        b.host
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_ones_are_kept() {
        assert_eq!(ResourceType::from_code(2), ResourceType::Topic);
        assert_eq!(ResourceType::Topic.code(), 2);
        assert_eq!(AclOperation::from_code(14), AclOperation::DescribeTokens);
        assert_eq!(AclOperation::from_code(99), AclOperation::Unknown(99));
        assert_eq!(AclOperation::Unknown(99).code(), 99);
        assert_eq!(PatternType::Prefixed.code(), 4);
        assert_eq!(AclPermissionType::from_code(3), AclPermissionType::Allow);
    }

    #[test]
    fn a_bindings_filter_matches_exactly_it() {
        let b = AclBinding::allow(
            ResourceType::Topic,
            "events",
            "User:alice",
            AclOperation::Read,
        );
        let f = b.to_filter().to_wire();
        assert_eq!(f.resource_name.as_deref(), Some("events"));
        assert_eq!((f.pattern_type, f.operation, f.permission_type), (3, 3, 3));
        assert_eq!(AclBinding::from_wire(b.to_wire()), b);
    }
}
