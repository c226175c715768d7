//! [`KafkaClient`]: the one entry point. It owns the connection pool and the
//! metadata cache, finds leaders and coordinators, and runs admin calls.
//!
//! A client is a cheap `Arc` handle: clone it into every thread. Producers and
//! consumers made from it share its connections and metadata.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, warn};
use parking_lot::{Mutex, RwLock};

use crate::cluster::{Broker, ClusterState, TopicMetadata, TopicStatus};
use crate::config::{ClientConfig, KafkaClientBuilder};
use crate::error::{Error, Result, TimeoutKind};
use crate::net::{Backoff, Connection, ConnectionConfig, ConnectionPool, TlsConnector};
use crate::protocol::api::{
    CreatableTopic, CreateTopicsRequest, DeleteTopicsRequest, ListOffsetsPartition,
    ListOffsetsRequest, ListOffsetsTopic, MetadataRequest,
};
use crate::protocol::ErrorCode;
use crate::topic::Topic;

/// Entry point to a Kafka cluster: metadata, topic admin, and the factory for
/// producers and consumers.
///
/// ```no_run
/// let client = kafka_sync::KafkaClient::new("127.0.0.1:9092")?;
/// for broker in client.brokers() {
///     println!("{} {}:{}", broker.id, broker.host, broker.port);
/// }
/// # Ok::<(), kafka_sync::Error>(())
/// ```
#[derive(Clone)]
pub struct KafkaClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    config: ClientConfig,
    pool: ConnectionPool,
    state: RwLock<ClusterState>,
    /// Serialises metadata fetches so a burst of leader errors makes one
    /// request, not one per caller.
    refresh: Mutex<()>,
}

impl Drop for ClientInner {
    fn drop(&mut self) {
        self.pool.close_all();
    }
}

impl std::fmt::Debug for KafkaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaClient")
            .field("bootstrap", &self.inner.config.bootstrap)
            .field("brokers", &self.inner.state.read().brokers.len())
            .finish()
    }
}

/// A topic to create, with its settings.
///
/// ```no_run
/// # let client = kafka_sync::KafkaClient::new("127.0.0.1:9092")?;
/// use kafka_sync::NewTopic;
/// client.create_topic_with(NewTopic::new("events", 6, 1).config("retention.ms", "3600000"))?;
/// # Ok::<(), kafka_sync::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// Topic name.
    pub name: String,
    /// Number of partitions; `-1` takes the broker's default.
    pub partitions: i32,
    /// Replication factor; `-1` takes the broker's default.
    pub replication_factor: i16,
    /// Topic-level configs (`retention.ms`, `cleanup.policy`, …).
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    /// A topic with `partitions` partitions, each on `replication_factor` brokers.
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i16) -> Self {
        NewTopic {
            name: name.into(),
            partitions,
            replication_factor,
            configs: Vec::new(),
        }
    }

    /// Adds a topic-level config.
    #[must_use]
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.push((key.into(), value.into()));
        self
    }
}

/// An offset found by a ListOffsets query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset; `-1` when no record matches (a timestamp past the last record).
    pub offset: i64,
    /// The matching record's timestamp (`-1` for earliest/latest queries).
    pub timestamp: i64,
    /// The leader epoch of the offset, `-1` when unknown.
    pub leader_epoch: i32,
}

/// ListOffsets special timestamps.
pub(crate) const EARLIEST: i64 = -2;
pub(crate) const LATEST: i64 = -1;

impl KafkaClient {
    /// Connects to a cluster through `hosts` (comma separated `host:port`)
    /// with default settings. See [`KafkaClient::builder`] for the others.
    pub fn new(hosts: &str) -> Result<KafkaClient> {
        Self::builder().hosts(hosts).build()
    }

    /// A builder for the client's settings.
    pub fn builder() -> KafkaClientBuilder {
        KafkaClientBuilder::default()
    }

    pub(crate) fn from_config(config: ClientConfig) -> Result<KafkaClient> {
        let pool = ConnectionPool::new(
            ConnectionConfig {
                client_id: Some(config.client_id.clone()),
                connect_timeout: config.connect_timeout,
                request_timeout: config.request_timeout,
                max_response_size: config.max_response_size,
                tls: config.tls.as_ref().map(TlsConnector::new).transpose()?,
                sasl: config.sasl.clone(),
                max_api_versions: config
                    .max_api_versions
                    .iter()
                    .map(|(api, version)| (api.code(), *version))
                    .collect(),
            },
            Backoff {
                initial: config.reconnect_backoff,
                max: config.reconnect_backoff_max,
            },
        );
        let client = KafkaClient {
            inner: Arc::new(ClientInner {
                config,
                pool,
                state: RwLock::new(ClusterState::default()),
                refresh: Mutex::new(()),
            }),
        };
        // Learn the brokers without listing every topic of a large cluster.
        client.fetch_metadata(Some(&[]))?;
        Ok(client)
    }

    /// The frozen configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The brokers named by the latest metadata, sorted by id.
    pub fn brokers(&self) -> Vec<Broker> {
        self.inner.state.read().brokers.values().cloned().collect()
    }

    /// The cluster id, when the broker reports one.
    pub fn cluster_id(&self) -> Option<String> {
        self.inner.state.read().cluster_id.clone()
    }

    /// The controller broker, when known.
    pub fn controller(&self) -> Option<Broker> {
        let state = self.inner.state.read();
        state
            .controller_id
            .and_then(|id| state.brokers.get(&id).cloned())
    }

    /// Refreshes the metadata of the brokers and of every topic.
    pub fn refresh_metadata(&self) -> Result<()> {
        self.fetch_metadata(None).map(drop)
    }

    /// Names of the cluster's topics, sorted, without internal topics such as
    /// `__consumer_offsets`. Always asks a broker.
    pub fn topics(&self) -> Result<Vec<String>> {
        self.fetch_metadata(None)?;
        let state = self.inner.state.read();
        let mut names: Vec<String> = state
            .topics
            .values()
            .filter(|(t, _)| !t.is_internal)
            .map(|(t, _)| t.name.clone())
            .collect();
        names.sort();
        Ok(names)
    }

    /// A handle on topic `name`; [`Error::UnknownTopic`] if it does not exist.
    pub fn topic(&self, name: &str) -> Result<Topic> {
        self.topic_metadata(name)?;
        Ok(Topic::new(self.clone(), name))
    }

    /// Creates a topic and waits until every partition has a leader.
    /// An existing topic gives [`Error::Broker`] with
    /// [`ErrorCode::TopicAlreadyExists`].
    pub fn create_topic(&self, name: &str, partitions: i32, replication_factor: i16) -> Result<()> {
        self.create_topic_with(NewTopic::new(name, partitions, replication_factor))
    }

    /// Creates a topic with configs; see [`KafkaClient::create_topic`].
    pub fn create_topic_with(&self, topic: NewTopic) -> Result<()> {
        validate_topic_name(&topic.name)?;
        let timeout = self.inner.config.request_timeout;
        let deadline = Instant::now() + timeout;
        let creatable = topic.configs.iter().fold(
            CreatableTopic::new(&topic.name, topic.partitions, topic.replication_factor),
            |t, (k, v)| t.config(k, v),
        );
        let request = CreateTopicsRequest::new(vec![creatable], duration_ms(timeout));
        let context = format!("CreateTopics `{}`", topic.name);
        self.retry_until(deadline, &context, || {
            let conn = self.controller_connection(deadline)?;
            let response = conn.request(&request)?;
            let result = response
                .topics
                .iter()
                .find(|t| t.name == topic.name)
                .map(|t| (t.error_code, t.error_message.clone()));
            self.admin_topic_result(&context, result)
        })?;
        self.wait_for_topic(&topic.name, true, deadline)
    }

    /// Deletes a topic and waits until metadata no longer lists it. A missing
    /// topic gives [`Error::UnknownTopic`].
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        let timeout = self.inner.config.request_timeout;
        let deadline = Instant::now() + timeout;
        let request = DeleteTopicsRequest::by_names([name], duration_ms(timeout));
        let context = format!("DeleteTopics `{name}`");
        self.retry_until(deadline, &context, || {
            let conn = self.controller_connection(deadline)?;
            let response = conn.request(&request)?;
            let result = response
                .responses
                .iter()
                .find(|t| t.name.as_deref() == Some(name))
                .map(|t| (t.error_code, t.error_message.clone()));
            self.admin_topic_result(&context, result)
                .map_err(|e| match e.code() {
                    Some(ErrorCode::UnknownTopicOrPartition) => {
                        Error::UnknownTopic(name.to_owned())
                    }
                    _ => e,
                })
        })?;
        self.wait_for_topic(name, false, deadline)
    }

    /// One topic's outcome in a CreateTopics or DeleteTopics response as a
    /// `Result`. On NOT_CONTROLLER (retriable) the broker list is refreshed
    /// first, so the retry goes to the new controller.
    fn admin_topic_result(
        &self,
        context: &str,
        result: Option<(ErrorCode, Option<String>)>,
    ) -> Result<()> {
        let (code, message) = result.ok_or_else(|| Error::Protocol {
            context: context.to_owned(),
            detail: "the response does not mention the topic".into(),
        })?;
        match code {
            ErrorCode::None => Ok(()),
            ErrorCode::NotController => {
                self.fetch_metadata(Some(&[]))?;
                Err(Error::broker(code, message, context))
            }
            code => Err(Error::broker(code, message, context)),
        }
    }

    /// Polls metadata until `name` exists with a leader for every partition
    /// (`present`) or no longer exists.
    fn wait_for_topic(&self, name: &str, present: bool, deadline: Instant) -> Result<()> {
        loop {
            let statuses = self.fetch_metadata(Some(&[name]))?;
            let done = match statuses.get(name) {
                Some(TopicStatus::Found) => {
                    present
                        && self
                            .inner
                            .state
                            .read()
                            .topics
                            .get(name)
                            .is_some_and(|(t, _)| {
                                !t.partitions.is_empty()
                                    && t.partitions.iter().all(|p| p.leader.is_some())
                            })
                }
                Some(TopicStatus::Missing) | None => !present,
                Some(TopicStatus::Error(_)) => false,
            };
            if done {
                return Ok(());
            }
            if Instant::now() + self.inner.config.retry_backoff > deadline {
                return Err(Error::timeout(
                    TimeoutKind::Metadata,
                    format!(
                        "waiting for topic `{name}` to be {} in metadata",
                        if present {
                            "listed with leaders"
                        } else {
                            "gone"
                        }
                    ),
                ));
            }
            std::thread::sleep(self.inner.config.retry_backoff);
        }
    }

    /// Metadata for `name`, from the cache when younger than
    /// `metadata_max_age`, else from a broker.
    pub(crate) fn topic_metadata(&self, name: &str) -> Result<Arc<TopicMetadata>> {
        if let Some((meta, at)) = self.inner.state.read().topics.get(name) {
            if at.elapsed() < self.inner.config.metadata_max_age {
                return Ok(Arc::clone(meta));
            }
        }
        self.refresh_topic(name)
    }

    /// Fetches `name`'s metadata now (after a leader error, say).
    pub(crate) fn refresh_topic(&self, name: &str) -> Result<Arc<TopicMetadata>> {
        validate_topic_name(name)?;
        let statuses = self.fetch_metadata(Some(&[name]))?;
        match statuses.get(name) {
            Some(TopicStatus::Found) => self
                .inner
                .state
                .read()
                .topics
                .get(name)
                .map(|(m, _)| Arc::clone(m))
                .ok_or_else(|| Error::UnknownTopic(name.to_owned())),
            Some(TopicStatus::Error(code)) => Err(Error::broker(
                *code,
                None,
                format!("Metadata for topic `{name}`"),
            )),
            Some(TopicStatus::Missing) | None => Err(Error::UnknownTopic(name.to_owned())),
        }
    }

    /// Sends a Metadata request for `topics` (`None`: all) to any live broker
    /// and folds the answer into the cache.
    fn fetch_metadata(&self, topics: Option<&[&str]>) -> Result<HashMap<String, TopicStatus>> {
        let _serial = self.inner.refresh.lock();
        let deadline = Instant::now() + self.inner.config.request_timeout;
        let mut request = match topics {
            Some(names) => MetadataRequest::for_topics(names.iter().copied()),
            None => MetadataRequest::all_topics(),
        };
        request.allow_auto_topic_creation = self.inner.config.allow_auto_topic_creation;
        let mut errors = Vec::new();
        let mut security_error = None;
        for addr in self.candidate_addrs() {
            let conn = match self.inner.pool.get(&addr, deadline) {
                Ok(conn) => conn,
                Err(e) => {
                    errors.push(format!("{addr}: {e}"));
                    keep_security_error(&mut security_error, e);
                    continue;
                }
            };
            match conn.request(&request) {
                Ok(response) => {
                    let statuses =
                        self.inner
                            .state
                            .write()
                            .apply(&response, topics.is_none(), Instant::now());
                    debug!("metadata from {addr}: {} brokers", response.brokers.len());
                    return Ok(statuses);
                }
                Err(e) => {
                    warn!("metadata request to {addr} failed: {e}");
                    errors.push(format!("{addr}: {e}"));
                }
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        if let Some(e) = security_error {
            return Err(e);
        }
        Err(Error::NoBrokerAvailable(format!(
            "tried {}; check that the brokers are running and reachable",
            errors.join("; ")
        )))
    }

    /// Addresses to try for a cluster-wide request: connected brokers first,
    /// then other known brokers, then the bootstrap list; brokers in
    /// reconnect backoff last.
    fn candidate_addrs(&self) -> Vec<String> {
        let known: Vec<String> = self
            .inner
            .state
            .read()
            .brokers
            .values()
            .map(Broker::addr)
            .collect();
        let mut all: Vec<String> = Vec::new();
        for addr in known
            .into_iter()
            .chain(self.inner.config.bootstrap.iter().cloned())
        {
            if !all.contains(&addr) {
                all.push(addr);
            }
        }
        let pool = &self.inner.pool;
        all.sort_by_key(|a| (!pool.is_connected(a), pool.in_backoff(a)));
        all
    }

    /// A connection to broker `id`, refreshing metadata once if the broker is
    /// not known.
    pub(crate) fn broker_connection(&self, id: i32, deadline: Instant) -> Result<Arc<Connection>> {
        let addr = self.inner.state.read().brokers.get(&id).map(Broker::addr);
        let addr = match addr {
            Some(addr) => addr,
            None => {
                self.fetch_metadata(Some(&[]))?;
                self.inner
                    .state
                    .read()
                    .brokers
                    .get(&id)
                    .map(Broker::addr)
                    .ok_or_else(|| {
                        Error::NoBrokerAvailable(format!(
                            "broker {id} is not in the cluster metadata"
                        ))
                    })?
            }
        };
        self.inner.pool.get(&addr, deadline)
    }

    /// A new connection to broker `id`, outside the pool, with the pool's
    /// settings: for a caller whose requests hold a connection for long (a
    /// JoinGroup waits for the whole group), which would otherwise stall
    /// everyone else's requests to that broker. The Java client likewise
    /// talks to a group coordinator on a socket of its own.
    pub(crate) fn dedicated_connection(&self, id: i32) -> Result<Connection> {
        let lookup = || self.inner.state.read().brokers.get(&id).map(Broker::addr);
        let addr = match lookup() {
            Some(addr) => addr,
            None => {
                self.fetch_metadata(Some(&[]))?;
                lookup().ok_or_else(|| {
                    Error::NoBrokerAvailable(format!("broker {id} is not in the cluster metadata"))
                })?
            }
        };
        Connection::connect(&addr, self.inner.pool.config())
    }

    /// The connection to broker `id` (opened if needed), for sending raw
    /// protocol requests: the escape hatch for APIs this crate does not wrap.
    ///
    /// ```no_run
    /// use kafka_sync::protocol::api::MetadataRequest;
    /// let client = kafka_sync::KafkaClient::new("127.0.0.1:9092")?;
    /// let broker = client.brokers()[0].id;
    /// let metadata = client.connection(broker)?.request(&MetadataRequest::all_topics())?;
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn connection(&self, broker_id: i32) -> Result<Arc<Connection>> {
        self.broker_connection(
            broker_id,
            Instant::now() + self.inner.config.request_timeout,
        )
    }

    /// A connection to the controller, or to any broker when the controller
    /// is unknown (old brokers forward admin requests).
    fn controller_connection(&self, deadline: Instant) -> Result<Arc<Connection>> {
        let controller = self.inner.state.read().controller_id;
        match controller {
            Some(id) => self.broker_connection(id, deadline),
            None => self.any_connection(deadline),
        }
    }

    /// A connection to any live broker.
    pub(crate) fn any_connection(&self, deadline: Instant) -> Result<Arc<Connection>> {
        let mut errors = Vec::new();
        let mut security_error = None;
        for addr in self.candidate_addrs() {
            match self.inner.pool.get(&addr, deadline) {
                Ok(conn) => return Ok(conn),
                Err(e) => {
                    errors.push(format!("{addr}: {e}"));
                    keep_security_error(&mut security_error, e);
                }
            }
        }
        Err(security_error.unwrap_or_else(|| Error::NoBrokerAvailable(errors.join("; "))))
    }

    /// Runs `op` until it succeeds, fails with a non-retriable error, or the
    /// deadline passes, sleeping `retry_backoff` between attempts.
    pub(crate) fn retry_until<T>(
        &self,
        deadline: Instant,
        context: &str,
        mut op: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        let mut attempt = 0u32;
        loop {
            match op() {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retriable() => {
                    attempt += 1;
                    let wait = self.inner.config.retry_backoff;
                    if Instant::now() + wait >= deadline {
                        debug!("{context}: giving up after {attempt} attempts: {e}");
                        return Err(e);
                    }
                    debug!("{context}: attempt {attempt} failed ({e}); retrying");
                    std::thread::sleep(wait);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Looks up offsets for `(partition, timestamp)` pairs of `topic`, where
    /// the timestamp is a time in ms, `-1` for the latest offset (the high
    /// watermark) or `-2` for the earliest. Requests go to each partition's
    /// leader; leader changes are followed until `request_timeout`.
    pub fn list_offsets(
        &self,
        topic: &str,
        queries: &[(i32, i64)],
    ) -> Result<BTreeMap<i32, ListedOffset>> {
        let deadline = Instant::now() + self.inner.config.request_timeout;
        let mut results = BTreeMap::new();
        let mut todo: Vec<(i32, i64)> = queries.to_vec();
        let context = format!("ListOffsets for topic `{topic}`");
        let mut meta = self.topic_metadata(topic)?;
        loop {
            let mut by_leader: BTreeMap<i32, Vec<(i32, i64)>> = BTreeMap::new();
            let mut retry: Vec<(i32, i64)> = Vec::new();
            let mut last_error: Option<Error> = None;
            for &(partition, ts) in &todo {
                let p = meta.partition(partition).ok_or_else(|| {
                    Error::Config(format!(
                        "topic `{topic}` has no partition {partition} (it has {})",
                        meta.partitions.len()
                    ))
                })?;
                match p.leader {
                    Some(leader) => by_leader.entry(leader).or_default().push((partition, ts)),
                    None => {
                        retry.push((partition, ts));
                        last_error = Some(Error::broker(
                            ErrorCode::LeaderNotAvailable,
                            None,
                            format!("{context} partition {partition}"),
                        ));
                    }
                }
            }
            for (leader, parts) in by_leader {
                let request = ListOffsetsRequest {
                    replica_id: -1,
                    isolation_level: 0,
                    topics: vec![ListOffsetsTopic {
                        name: topic.to_owned(),
                        partitions: parts
                            .iter()
                            .map(|&(partition, timestamp)| {
                                ListOffsetsPartition::new(partition, timestamp)
                            })
                            .collect(),
                    }],
                };
                let response = self
                    .broker_connection(leader, deadline)
                    .and_then(|conn| conn.request(&request));
                let response = match response {
                    Ok(r) => r,
                    Err(e) if e.is_retriable() => {
                        retry.extend(parts);
                        last_error = Some(e);
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                for t in &response.topics {
                    for p in &t.partitions {
                        let ts = parts
                            .iter()
                            .find(|(id, _)| *id == p.partition_index)
                            .map(|&(_, ts)| ts);
                        let Some(ts) = ts else { continue };
                        match p.error_code {
                            ErrorCode::None => {
                                results.insert(
                                    p.partition_index,
                                    ListedOffset {
                                        offset: p.offset,
                                        timestamp: p.timestamp,
                                        leader_epoch: p.leader_epoch,
                                    },
                                );
                            }
                            code if code.is_retriable() => {
                                retry.push((p.partition_index, ts));
                                last_error = Some(Error::broker(
                                    code,
                                    None,
                                    format!("{context} partition {}", p.partition_index),
                                ));
                            }
                            code => {
                                return Err(Error::broker(
                                    code,
                                    None,
                                    format!("{context} partition {}", p.partition_index),
                                ))
                            }
                        }
                    }
                }
            }
            for &(partition, ts) in &todo {
                if !results.contains_key(&partition)
                    && !retry.iter().any(|(id, _)| *id == partition)
                {
                    retry.push((partition, ts));
                    last_error.get_or_insert_with(|| Error::Protocol {
                        context: format!("{context} partition {partition}"),
                        detail: "the leader's response does not mention the partition".into(),
                    });
                }
            }
            if retry.is_empty() {
                return Ok(results);
            }
            if Instant::now() + self.inner.config.retry_backoff >= deadline {
                return Err(last_error
                    .unwrap_or_else(|| Error::timeout(TimeoutKind::Request, context.clone())));
            }
            std::thread::sleep(self.inner.config.retry_backoff);
            meta = self.refresh_topic(topic)?;
            todo = retry;
        }
    }
}

/// Kafka's topic-name rules: 1–249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub(crate) fn validate_topic_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "`{name}` is not a valid topic name: use 1 to 249 characters from [a-zA-Z0-9._-]"
        )))
    }
}

fn duration_ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// When no broker could be used, a TLS or SASL failure (wrong CA, wrong
/// password) is the error to report: it is clear and not retriable, where
/// `NoBrokerAvailable` would invite retries that cannot succeed.
fn keep_security_error(kept: &mut Option<Error>, e: Error) {
    if kept.is_none() && matches!(e, Error::Tls(_) | Error::Sasl(_)) {
        *kept = Some(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafkas_rules() {
        assert!(validate_topic_name("events.v1_a-b").is_ok());
        for bad in ["", ".", "..", "has space", "slash/", &"x".repeat(250)] {
            assert!(validate_topic_name(bad).is_err(), "{bad:?}");
        }
    }
}
