//! Configs through [`Admin`]: describe the configs of topics and brokers
//! (DescribeConfigs) and change single configs (IncrementalAlterConfigs).
//!
//! Topic resources go to any broker; a broker resource to that broker, as
//! Kafka requires (only a broker knows its own static configs).
//!
//! # References
//! Kafka protocol guide, "DescribeConfigs API", "IncrementalAlterConfigs
//! API"; KIP-133, KIP-226, KIP-339.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use super::{item_result, Admin, ItemResult};
use crate::error::{Error, Result};
use crate::net::Connection;
use crate::protocol::api::describe_configs::{
    DescribeConfigsRequest, DescribeConfigsResource, DescribeConfigsResourceResult,
};
use crate::protocol::api::incremental_alter_configs::{
    AlterConfigsResource, AlterableConfig, IncrementalAlterConfigsRequest,
};
use crate::protocol::ErrorCode;

/// The kind of resource a config belongs to (Kafka's `ConfigResource.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ConfigResourceType {
    /// A topic (id 2).
    Topic,
    /// A broker (id 4), named by its id.
    Broker,
    /// A broker's loggers (id 8), named by the broker id.
    BrokerLogger,
    /// Another type, by id (client metrics 16, group 32 on newer brokers).
    Other(i8),
}

impl ConfigResourceType {
    /// The id on the wire.
    pub fn id(self) -> i8 {
        match self {
            ConfigResourceType::Topic => 2,
            ConfigResourceType::Broker => 4,
            ConfigResourceType::BrokerLogger => 8,
            ConfigResourceType::Other(id) => id,
        }
    }

    /// The type with wire id `id`.
    pub fn from_id(id: i8) -> Self {
        match id {
            2 => ConfigResourceType::Topic,
            4 => ConfigResourceType::Broker,
            8 => ConfigResourceType::BrokerLogger,
            id => ConfigResourceType::Other(id),
        }
    }

    /// Topics and brokers: the types every broker with configs knows.
    fn is_core(self) -> bool {
        matches!(self, ConfigResourceType::Topic | ConfigResourceType::Broker)
    }
}

/// A topic or broker whose configs to describe or alter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct ConfigResource {
    /// What kind of resource.
    pub resource_type: ConfigResourceType,
    /// Its name: the topic name, or the broker id in decimal.
    pub name: String,
}

impl ConfigResource {
    /// The configs of topic `name`.
    pub fn topic(name: impl Into<String>) -> Self {
        ConfigResource {
            resource_type: ConfigResourceType::Topic,
            name: name.into(),
        }
    }

    /// The configs of broker `id`.
    pub fn broker(id: i32) -> Self {
        ConfigResource {
            resource_type: ConfigResourceType::Broker,
            name: id.to_string(),
        }
    }

    /// A resource of any type, by wire id and name.
    pub fn new(resource_type: ConfigResourceType, name: impl Into<String>) -> Self {
        ConfigResource {
            resource_type,
            name: name.into(),
        }
    }

    /// The broker that must answer for this resource: the broker itself for
    /// broker and broker-logger resources, any broker (`None`) otherwise.
    fn target(&self) -> Result<Option<i32>> {
        match self.resource_type {
            ConfigResourceType::Broker | ConfigResourceType::BrokerLogger => {
                self.name.parse().map(Some).map_err(|_| {
                    Error::Config(format!(
                        "{self}: a broker resource is named by the broker id, e.g. \"1\""
                    ))
                })
            }
            _ => Ok(None),
        }
    }
}

impl fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.resource_type {
            ConfigResourceType::Topic => write!(f, "topic `{}`", self.name),
            ConfigResourceType::Broker => write!(f, "broker {}", self.name),
            ConfigResourceType::BrokerLogger => write!(f, "broker logger {}", self.name),
            ConfigResourceType::Other(id) => write!(f, "resource type {id} `{}`", self.name),
        }
    }
}

/// Where a config's value comes from (Kafka's `ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigSource {
    /// The broker did not say (id -1, or 0).
    Unknown,
    /// Set on the topic (id 1).
    DynamicTopic,
    /// Set dynamically for this broker (id 2).
    DynamicBroker,
    /// Set dynamically as every broker's default (id 3).
    DynamicDefaultBroker,
    /// From the broker's properties file (id 4).
    StaticBroker,
    /// Kafka's built-in default (id 5).
    Default,
    /// Set dynamically for a broker logger (id 6).
    DynamicBrokerLogger,
    /// Another source, by id (client metrics 7, group 8 on newer brokers).
    Other(i8),
}

impl ConfigSource {
    /// The source with wire id `id`.
    pub fn from_id(id: i8) -> Self {
        match id {
            1 => ConfigSource::DynamicTopic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            6 => ConfigSource::DynamicBrokerLogger,
            -1 | 0 => ConfigSource::Unknown,
            id => ConfigSource::Other(id),
        }
    }
}

/// Another place a config's value may come from, from the most specific
/// (the one in force) to the least.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigSynonym {
    /// Its name (e.g. `log.retention.ms` for the topic's `retention.ms`).
    pub name: String,
    /// Its value; `None` when unset or sensitive.
    pub value: Option<String>,
    /// Where it comes from.
    pub source: ConfigSource,
}

/// One config of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigEntry {
    /// The config name.
    pub name: String,
    /// The value; `None` when unset or when `is_sensitive` (the broker never
    /// sends sensitive values).
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Whether the value is Kafka's default (`source` is
    /// [`ConfigSource::Default`]).
    pub is_default: bool,
    /// Whether the value is sensitive (a password), hence hidden.
    pub is_sensitive: bool,
    /// Whether the config cannot be changed at run time.
    pub read_only: bool,
    /// The synonyms, when asked for with
    /// [`Admin::describe_configs_with_synonyms`]; empty otherwise.
    pub synonyms: Vec<ConfigSynonym>,
}

impl ConfigEntry {
    fn from_wire(c: DescribeConfigsResourceResult) -> Self {
        let source = ConfigSource::from_id(c.config_source);
        ConfigEntry {
            name: c.name,
            value: if c.is_sensitive { None } else { c.value },
            source,
            is_default: source == ConfigSource::Default,
            is_sensitive: c.is_sensitive,
            read_only: c.read_only,
            synonyms: c
                .synonyms
                .into_iter()
                .map(|s| ConfigSynonym {
                    name: s.name,
                    value: if c.is_sensitive { None } else { s.value },
                    source: ConfigSource::from_id(s.source),
                })
                .collect(),
        }
    }
}

/// What an [`AlterConfigOp`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlterConfigOpType {
    /// Set the value.
    Set,
    /// Remove the setting, falling back to the next synonym (the default).
    Delete,
    /// Add to a list-valued config (`cleanup.policy`, …).
    Append,
    /// Remove from a list-valued config.
    Subtract,
}

impl AlterConfigOpType {
    fn id(self) -> i8 {
        match self {
            AlterConfigOpType::Set => 0,
            AlterConfigOpType::Delete => 1,
            AlterConfigOpType::Append => 2,
            AlterConfigOpType::Subtract => 3,
        }
    }
}

/// One change for [`Admin::incremental_alter_configs`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AlterConfigOp {
    /// The config name.
    pub name: String,
    /// What to do.
    pub op: AlterConfigOpType,
    /// The value to set, append or subtract; `None` for delete.
    pub value: Option<String>,
}

impl AlterConfigOp {
    /// Sets `name` to `value`.
    pub fn set(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::with(name, AlterConfigOpType::Set, Some(value.into()))
    }

    /// Removes the setting of `name`.
    pub fn delete(name: impl Into<String>) -> Self {
        Self::with(name, AlterConfigOpType::Delete, None)
    }

    /// Appends `value` to the list `name`.
    pub fn append(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::with(name, AlterConfigOpType::Append, Some(value.into()))
    }

    /// Removes `value` from the list `name`.
    pub fn subtract(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::with(name, AlterConfigOpType::Subtract, Some(value.into()))
    }

    fn with(name: impl Into<String>, op: AlterConfigOpType, value: Option<String>) -> Self {
        AlterConfigOp {
            name: name.into(),
            op,
            value,
        }
    }
}

impl Admin {
    /// Describes every config of each resource (DescribeConfigs), without
    /// synonyms. Answers each resource on its own: an unknown topic gives
    /// [`Error::Broker`] with `UNKNOWN_TOPIC_OR_PARTITION` and the broker's
    /// message.
    pub fn describe_configs(
        &self,
        resources: &[ConfigResource],
    ) -> Result<BTreeMap<ConfigResource, ItemResult<Vec<ConfigEntry>>>> {
        self.describe(resources, false)
    }

    /// Like [`Admin::describe_configs`], with each config's synonyms.
    pub fn describe_configs_with_synonyms(
        &self,
        resources: &[ConfigResource],
    ) -> Result<BTreeMap<ConfigResource, ItemResult<Vec<ConfigEntry>>>> {
        self.describe(resources, true)
    }

    fn describe(
        &self,
        resources: &[ConfigResource],
        include_synonyms: bool,
    ) -> Result<BTreeMap<ConfigResource, ItemResult<Vec<ConfigEntry>>>> {
        let deadline = self.deadline();
        let mut results = BTreeMap::new();
        let mut by_target: BTreeMap<Option<i32>, Vec<ConfigResource>> = BTreeMap::new();
        for r in resources {
            match r.target() {
                Ok(target) => by_target.entry(target).or_default().push(r.clone()),
                Err(e) => {
                    results.insert(r.clone(), Err(e));
                }
            }
        }
        let single = by_target.len() == 1 && results.is_empty();
        for (target, group) in by_target {
            let keys = group.clone();
            let answered = self.retry_items("DescribeConfigs", deadline, group, |pending| {
                let request = DescribeConfigsRequest {
                    resources: pending
                        .iter()
                        .map(|r| DescribeConfigsResource {
                            resource_type: r.resource_type.id(),
                            resource_name: r.name.clone(),
                            configuration_keys: None,
                        })
                        .collect(),
                    include_synonyms,
                    include_documentation: false,
                };
                let connection = self.connection(target, deadline)?;
                let response = connection.request(&request)?;
                Ok(response
                    .results
                    .into_iter()
                    .map(|res| {
                        let (resource, result) = answer(
                            "DescribeConfigs",
                            connection.addr(),
                            pending,
                            (res.resource_type, res.resource_name),
                            res.error_code,
                            res.error_message,
                        );
                        let result = result.map(|()| {
                            res.configs
                                .into_iter()
                                .map(ConfigEntry::from_wire)
                                .collect()
                        });
                        (resource, result)
                    })
                    .collect())
            });
            match answered {
                Ok(answered) => results.extend(answered),
                Err(e) if single => return Err(e),
                // One broker's failure is its resources' error, not the call's.
                Err(e) => {
                    for r in keys {
                        results.insert(r, Err(e.clone()));
                    }
                }
            }
        }
        Ok(results)
    }

    /// Applies `ops` to `resource`'s configs in one step
    /// (IncrementalAlterConfigs): set, delete, append or subtract single
    /// configs, leaving the others alone. Topic resources go to any broker,
    /// broker resources to that broker. An unknown config name or an invalid
    /// value gives [`Error::Broker`] (`INVALID_CONFIG`, or
    /// `INVALID_REQUEST`) with the broker's message; an unknown topic
    /// `UNKNOWN_TOPIC_OR_PARTITION`.
    pub fn incremental_alter_configs(
        &self,
        resource: &ConfigResource,
        ops: &[AlterConfigOp],
    ) -> Result<()> {
        let deadline = self.deadline();
        let target = resource.target()?;
        let results = self.retry_items(
            "IncrementalAlterConfigs",
            deadline,
            vec![resource.clone()],
            |pending| {
                let request = IncrementalAlterConfigsRequest {
                    resources: pending
                        .iter()
                        .map(|r| AlterConfigsResource {
                            resource_type: r.resource_type.id(),
                            resource_name: r.name.clone(),
                            configs: ops
                                .iter()
                                .map(|op| AlterableConfig {
                                    name: op.name.clone(),
                                    config_operation: op.op.id(),
                                    value: op.value.clone(),
                                })
                                .collect(),
                        })
                        .collect(),
                    validate_only: false,
                };
                let connection = self.connection(target, deadline)?;
                let response = connection.request(&request)?;
                Ok(response
                    .responses
                    .into_iter()
                    .map(|res| {
                        answer(
                            "IncrementalAlterConfigs",
                            connection.addr(),
                            pending,
                            (res.resource_type, res.resource_name),
                            res.error_code,
                            res.error_message,
                        )
                    })
                    .collect())
            },
        )?;
        results.into_values().next().unwrap_or_else(|| {
            Err(Error::protocol(
                format!("IncrementalAlterConfigs {resource}"),
                "no result",
            ))
        })
    }
}

/// One resource's answer in a DescribeConfigs or IncrementalAlterConfigs
/// response, keyed by the resource it answers.
///
/// A resource type the broker does not know (anything but a topic or a
/// broker: broker loggers, client metrics, groups on older brokers) is
/// answered by Kafka with INVALID_REQUEST ("Unsupported resource type") or
/// UNSUPPORTED_VERSION, and by some brokers (tansu 0.6.0) under another
/// resource type with the same name. Those become [`Error::UnsupportedVersion`]
/// naming the API, as for an API the broker lacks.
fn answer(
    api: &'static str,
    broker: &str,
    pending: &[ConfigResource],
    (resource_type, name): (i8, String),
    code: ErrorCode,
    message: Option<String>,
) -> (ConfigResource, ItemResult<()>) {
    let resource = ConfigResource::new(ConfigResourceType::from_id(resource_type), name);
    // An answer for no resource asked about, named like one of a type the
    // broker may lack: that resource, answered under another type.
    let asked_other_type = || {
        pending
            .iter()
            .find(|p| p.name == resource.name && !p.resource_type.is_core())
            .cloned()
    };
    let unsupported = |resource: &ConfigResource, detail: Option<&str>| Error::UnsupportedVersion {
        broker: broker.to_string(),
        api,
        ours: match detail {
            Some(detail) => format!("{resource}, which the broker does not support: {detail}"),
            None => format!("{resource}, which the broker does not support"),
        },
    };
    if !pending.contains(&resource) {
        if let Some(asked) = asked_other_type() {
            let e = unsupported(&asked, None);
            return (asked, Err(e));
        }
    }
    let unsupported_type = code == ErrorCode::UnsupportedVersion
        || (code == ErrorCode::InvalidRequest && !resource.resource_type.is_core());
    if unsupported_type {
        let e = unsupported(&resource, message.as_deref());
        return (resource, Err(e));
    }
    let result = item_result(code, message, || format!("{api} {resource}"));
    (resource, result)
}

impl Admin {
    /// A connection to broker `target`, or to any broker.
    fn connection(&self, target: Option<i32>, deadline: Instant) -> Result<Arc<Connection>> {
        match target {
            Some(id) => self.client.broker_connection(id, deadline),
            None => self.client.any_connection(deadline),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::describe_configs::DescribeConfigsSynonym;

    fn answered(
        asked: ConfigResource,
        answered: (i8, &str),
        code: ErrorCode,
        message: Option<&str>,
    ) -> (ConfigResource, ItemResult<()>) {
        answer(
            "DescribeConfigs",
            "b:9092",
            std::slice::from_ref(&asked),
            (answered.0, answered.1.to_string()),
            code,
            message.map(Into::into),
        )
    }

    #[test]
    fn kafkas_answer_to_an_unknown_resource_type_is_unsupported_version() {
        // Kafka: INVALID_REQUEST "Unsupported resource type: ..." per resource.
        let asked = ConfigResource::new(ConfigResourceType::Other(16), "metrics");
        let (key, result) = answered(
            asked.clone(),
            (16, "metrics"),
            ErrorCode::InvalidRequest,
            Some("Unsupported resource type: CLIENT_METRICS"),
        );
        assert_eq!(key, asked);
        let e = result.unwrap_err();
        assert!(
            matches!(
                e,
                Error::UnsupportedVersion {
                    api: "DescribeConfigs",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("CLIENT_METRICS"), "{e}");
    }

    #[test]
    fn an_answer_under_another_type_is_matched_to_the_resource_asked_for() {
        // tansu 0.6.0 answers resource type 99 as another type, same name.
        let asked = ConfigResource::new(ConfigResourceType::Other(99), "x");
        let (key, result) = answered(asked.clone(), (0, "x"), ErrorCode::None, None);
        assert_eq!(key, asked);
        assert!(
            matches!(result, Err(Error::UnsupportedVersion { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn invalid_request_for_a_topic_stays_the_brokers_error() {
        let asked = ConfigResource::topic("t");
        let (_, result) = answered(asked, (2, "t"), ErrorCode::InvalidRequest, Some("bad"));
        assert_eq!(result.unwrap_err().code(), Some(ErrorCode::InvalidRequest));
    }

    fn wire(value: Option<&str>, source: i8, is_sensitive: bool) -> DescribeConfigsResourceResult {
        DescribeConfigsResourceResult {
            name: "ssl.key.password".into(),
            value: value.map(Into::into),
            read_only: true,
            config_source: source,
            is_sensitive,
            synonyms: vec![DescribeConfigsSynonym {
                name: "listener.name.x.ssl.key.password".into(),
                value: value.map(Into::into),
                source: 4,
            }],
            config_type: 0,
            documentation: None,
        }
    }

    #[test]
    fn sensitive_values_stay_hidden_even_if_a_broker_sends_them() {
        let entry = ConfigEntry::from_wire(wire(Some("secret"), 4, true));
        assert_eq!(entry.value, None);
        assert_eq!(entry.synonyms[0].value, None);
        assert!(entry.is_sensitive && entry.read_only);
        assert_eq!(entry.source, ConfigSource::StaticBroker);
        assert!(!entry.is_default);
    }

    #[test]
    fn a_value_from_kafkas_defaults_is_default() {
        let entry = ConfigEntry::from_wire(wire(Some("x"), 5, false));
        assert!(entry.is_default);
        assert_eq!(entry.value.as_deref(), Some("x"));
        assert_eq!(ConfigSource::from_id(-1), ConfigSource::Unknown);
        assert_eq!(ConfigSource::from_id(8), ConfigSource::Other(8));
    }

    #[test]
    fn resources_route_by_type_and_type_ids_round_trip() {
        assert_eq!(ConfigResource::topic("t").target().unwrap(), None);
        assert_eq!(ConfigResource::broker(3).target().unwrap(), Some(3));
        for id in [2, 4, 8, 16] {
            assert_eq!(ConfigResourceType::from_id(id).id(), id);
        }
        assert_eq!(ConfigResource::broker(3).to_string(), "broker 3");
        assert_eq!(ConfigResource::topic("t").to_string(), "topic `t`");
    }

    #[test]
    fn ops_carry_their_wire_ids_and_values() {
        let ops = [
            AlterConfigOp::set("a", "1"),
            AlterConfigOp::delete("a"),
            AlterConfigOp::append("a", "2"),
            AlterConfigOp::subtract("a", "3"),
        ];
        let ids: Vec<i8> = ops.iter().map(|o| o.op.id()).collect();
        assert_eq!(ids, [0, 1, 2, 3]);
        assert_eq!(ops[1].value, None);
        assert_eq!(ops[3].value.as_deref(), Some("3"));
    }
}
