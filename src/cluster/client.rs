//! [`KafkaClient`]: the one entry point. It owns the connection pool and the
//! metadata cache, and routes requests to brokers (a partition's leader, the
//! controller, any live broker), retrying retriable errors until a deadline.
//!
//! A client is a cheap `Arc` handle: clone it into every thread. Producers and
//! consumers made from it share its connections and metadata. Admin calls
//! live in `admin.rs`, offset queries in `offsets.rs`, topic handles in
//! `topic.rs`: each adds an `impl KafkaClient` block on top of this one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use log::{debug, warn};
use parking_lot::{Condvar, Mutex, RwLock};

use super::config::{ClientConfig, KafkaClientBuilder};
use super::metadata::{validate_topic_name, Broker, ClusterState, TopicMetadata, TopicStatus};
use crate::error::{Error, Result, TimeoutKind};
use crate::net::{Backoff, Connection, ConnectionConfig, ConnectionPool, TlsConnector};
use crate::protocol::api::MetadataRequest;

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
    pub(super) inner: Arc<ClientInner>,
}

pub(super) struct ClientInner {
    pub(super) config: ClientConfig,
    pool: ConnectionPool,
    pub(super) state: RwLock<ClusterState>,
    /// Bumped after every change of `state`'s topics, so that a holder of
    /// a topic's metadata (a `TopicProducer`) sees, with one atomic load, that
    /// its copy is still the latest.
    generation: std::sync::atomic::AtomicU64,
    /// Metadata refreshes in flight, so a burst of leader errors makes one
    /// request, not one per caller. Held only to look one up or start one.
    refresh: Mutex<Refreshes>,
}

/// The metadata refreshes in flight and their threads.
#[derive(Default)]
struct Refreshes {
    active: Vec<Arc<Flight>>,
    threads: Vec<crate::thread::Handle>,
}

type Statuses = HashMap<String, TopicStatus>;

/// One Metadata request in flight, run on a `kafka-sync-metadata` thread;
/// every caller who wants what it asks for waits for its answer, each until
/// its own deadline.
struct Flight {
    /// The topics asked for; `None` for all.
    topics: Option<Vec<String>>,
    /// Whether the request lets the broker create missing topics.
    allow_auto_topic_creation: bool,
    result: Mutex<Option<Result<Statuses>>>,
    done: Condvar,
}

impl Flight {
    /// Whether this request's answer also answers a request for `topics`.
    /// A request for every topic creates none, so it answers a request that
    /// may create the topics it names only when auto-creation is off.
    fn covers(&self, topics: Option<&[&str]>) -> bool {
        match (&self.topics, topics) {
            (None, None) => true,
            (None, Some(_)) => !self.allow_auto_topic_creation,
            (Some(_), None) => false,
            (Some(mine), Some(wanted)) => wanted.iter().all(|t| mine.iter().any(|m| m == t)),
        }
    }

    fn wait(&self, deadline: Instant) -> Result<Statuses> {
        let mut result = self.result.lock();
        loop {
            if let Some(result) = result.as_ref() {
                return result.clone();
            }
            if self.done.wait_until(&mut result, deadline).timed_out() && result.is_none() {
                return Err(Error::timeout(
                    TimeoutKind::Metadata,
                    "waiting for a metadata refresh in flight",
                ));
            }
        }
    }
}

/// The name of the threads that run metadata refreshes.
const METADATA_THREAD: &str = "kafka-sync-metadata";

/// Publishes a flight's result on drop (so also when the refresh panics)
/// and takes the flight out of the list.
struct Publish<'a> {
    inner: &'a ClientInner,
    flight: Arc<Flight>,
    result: Option<Result<Statuses>>,
}

impl Drop for Publish<'_> {
    fn drop(&mut self) {
        self.inner
            .refresh
            .lock()
            .active
            .retain(|f| !Arc::ptr_eq(f, &self.flight));
        let result = self.result.take().unwrap_or_else(|| {
            Err(Error::NoBrokerAvailable(format!(
                "the {METADATA_THREAD} thread panicked"
            )))
        });
        *self.flight.result.lock() = Some(result);
        self.flight.done.notify_all();
    }
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

impl KafkaClientBuilder {
    /// Validates the settings and bootstraps: connects to the first live
    /// bootstrap host and loads the cluster metadata.
    pub fn build(self) -> Result<KafkaClient> {
        KafkaClient::from_config(self.config()?)
    }
}

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

    fn from_config(config: ClientConfig) -> Result<KafkaClient> {
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
                frame_buffers: Default::default(),
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
                generation: std::sync::atomic::AtomicU64::new(0),
                refresh: Mutex::new(Refreshes::default()),
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

    /// Metadata for `name`, from the cache when younger than
    /// `metadata_max_age`, else from a broker.
    pub(crate) fn topic_metadata(&self, name: &str) -> Result<Arc<TopicMetadata>> {
        self.topic_metadata_until(name, crate::time::after(self.inner.config.request_timeout))
    }

    /// Like [`KafkaClient::topic_metadata`], waiting for a broker no later
    /// than `deadline` (a producer's `max_block`).
    pub(crate) fn topic_metadata_until(
        &self,
        name: &str,
        deadline: Instant,
    ) -> Result<Arc<TopicMetadata>> {
        match self.cached_topic_metadata(name, Instant::now()) {
            Some(meta) => Ok(meta),
            None => self.refresh_topic_until(name, deadline),
        }
    }

    /// Changes with every metadata update (see `ClientInner::generation`):
    /// read it before [`cached_topic_metadata`](Self::cached_topic_metadata),
    /// and the metadata is still the latest while it reads the same.
    pub(crate) fn metadata_generation(&self) -> u64 {
        self.inner
            .generation
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// `name`'s metadata if it is cached and younger than
    /// `metadata_max_age` at `now` (the producer's per-record path, which
    /// has read the clock already).
    pub(crate) fn cached_topic_metadata(
        &self,
        name: &str,
        now: Instant,
    ) -> Option<Arc<TopicMetadata>> {
        let state = self.inner.state.read();
        let (meta, at) = state.topics.get(name)?;
        (now.saturating_duration_since(*at) < self.inner.config.metadata_max_age)
            .then(|| Arc::clone(meta))
    }

    /// Fetches `name`'s metadata now (after a leader error, say).
    pub(crate) fn refresh_topic(&self, name: &str) -> Result<Arc<TopicMetadata>> {
        self.refresh_topic_until(name, crate::time::after(self.inner.config.request_timeout))
    }

    fn refresh_topic_until(&self, name: &str, deadline: Instant) -> Result<Arc<TopicMetadata>> {
        validate_topic_name(name)?;
        let statuses = self.fetch_metadata_until(Some(&[name]), deadline)?;
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

    /// Fetches metadata for `names` (`None`: every topic) and answers each
    /// topic's metadata or why there is none, for the admin API's
    /// `describe_topics` and `list_topics`.
    pub(crate) fn topics_snapshot(
        &self,
        names: Option<&[&str]>,
    ) -> Result<Vec<(String, Result<TopicMetadata>)>> {
        let statuses = self.fetch_metadata_with(names, false)?;
        let state = self.inner.state.read();
        let mut out: Vec<(String, Result<TopicMetadata>)> = statuses
            .into_iter()
            .map(|(name, status)| {
                let result = match status {
                    TopicStatus::Found => state
                        .topics
                        .get(&name)
                        .map(|(m, _)| TopicMetadata::clone(m))
                        .ok_or_else(|| Error::UnknownTopic(name.clone())),
                    TopicStatus::Missing => Err(Error::UnknownTopic(name.clone())),
                    TopicStatus::Error(code) => Err(Error::broker(
                        code,
                        None,
                        format!("Metadata for topic `{name}`"),
                    )),
                };
                (name, result)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Sends a Metadata request for `topics` (`None`: all) to any live broker
    /// and folds the answer into the cache, waiting up to `request_timeout`.
    pub(crate) fn fetch_metadata(&self, topics: Option<&[&str]>) -> Result<Statuses> {
        self.fetch_metadata_until(
            topics,
            crate::time::after(self.inner.config.request_timeout),
        )
    }

    /// Like [`KafkaClient::fetch_metadata_until`], with auto-creation of
    /// missing topics allowed or not whatever the config says: the admin API
    /// never creates a topic by describing it, as the Java `Admin` does not.
    pub(super) fn fetch_metadata_with(
        &self,
        topics: Option<&[&str]>,
        allow_auto_topic_creation: bool,
    ) -> Result<Statuses> {
        self.join_or_start_refresh(
            topics,
            allow_auto_topic_creation,
            crate::time::after(self.inner.config.request_timeout),
        )
    }

    /// Like [`KafkaClient::fetch_metadata`], waiting no later than
    /// `deadline`. The request runs on a `kafka-sync-metadata` thread; a
    /// caller whose topics a request in flight already covers waits for
    /// that one instead of sending another. No lock is held while the
    /// request is on the network, so a refresh stuck on a slow broker
    /// delays nobody past their own deadline.
    pub(super) fn fetch_metadata_until(
        &self,
        topics: Option<&[&str]>,
        deadline: Instant,
    ) -> Result<Statuses> {
        let allow = self.inner.config.allow_auto_topic_creation;
        self.join_or_start_refresh(topics, allow, deadline)
    }

    /// Waits, until `deadline`, for a refresh in flight that answers
    /// `topics` with the same auto-creation setting, or starts one.
    fn join_or_start_refresh(
        &self,
        topics: Option<&[&str]>,
        allow_auto_topic_creation: bool,
        deadline: Instant,
    ) -> Result<Statuses> {
        let flight = {
            let mut refreshes = self.inner.refresh.lock();
            let joinable = refreshes.active.iter().find(|f| {
                f.allow_auto_topic_creation == allow_auto_topic_creation && f.covers(topics)
            });
            match joinable {
                Some(flight) => Arc::clone(flight),
                None => {
                    let flight = Arc::new(Flight {
                        topics: topics.map(|t| t.iter().map(|&n| n.to_owned()).collect()),
                        allow_auto_topic_creation,
                        result: Mutex::new(None),
                        done: Condvar::new(),
                    });
                    refreshes.active.push(Arc::clone(&flight));
                    // Threads of earlier refreshes that have ended.
                    let (ended, running) = std::mem::take(&mut refreshes.threads)
                        .into_iter()
                        .partition::<Vec<_>, _>(crate::thread::Handle::is_finished);
                    refreshes.threads = running;
                    let client = self.clone();
                    let on_thread = Arc::clone(&flight);
                    let spawned = crate::thread::spawn(METADATA_THREAD, move || {
                        let mut publish = Publish {
                            inner: &client.inner,
                            flight: on_thread,
                            result: None,
                        };
                        let topics = publish.flight.topics.clone();
                        let names: Option<Vec<&str>> = topics
                            .as_ref()
                            .map(|t| t.iter().map(String::as_str).collect());
                        publish.result = Some(
                            client.fetch_metadata_now(names.as_deref(), allow_auto_topic_creation),
                        );
                    });
                    match spawned {
                        Ok(handle) => refreshes.threads.push(handle),
                        Err(e) => {
                            refreshes.active.retain(|f| !Arc::ptr_eq(f, &flight));
                            return Err(e);
                        }
                    }
                    drop(refreshes);
                    for handle in ended {
                        handle.join_until(Instant::now());
                    }
                    flight
                }
            }
        };
        flight.wait(deadline)
    }

    /// The Metadata request itself, on the caller's thread, bounded by
    /// `request_timeout` (plus the last candidate's round trip).
    fn fetch_metadata_now(
        &self,
        topics: Option<&[&str]>,
        allow_auto_topic_creation: bool,
    ) -> Result<Statuses> {
        let deadline = crate::time::after(self.inner.config.request_timeout);
        let mut request = match topics {
            Some(names) => MetadataRequest::for_topics(names.iter().copied()),
            None => MetadataRequest::all_topics(),
        };
        request.allow_auto_topic_creation = allow_auto_topic_creation;
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
                    let statuses = {
                        let mut state = self.inner.state.write();
                        let statuses = state.apply(&response, topics.is_none(), Instant::now());
                        self.inner
                            .generation
                            .fetch_add(1, std::sync::atomic::Ordering::Release);
                        statuses
                    };
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
                // Until the caller's deadline only (the sender's is short):
                // the refresh goes on for the next caller.
                self.fetch_metadata_until(Some(&[]), deadline)?;
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

    /// The pooled connection to broker `broker_id` (opened if needed), for
    /// this crate's own tests and tools: unstable (feature
    /// `unstable-internals`), since closing it would break every producer and
    /// consumer sharing it.
    #[cfg(feature = "unstable-internals")]
    #[doc(hidden)]
    pub fn connection(&self, broker_id: i32) -> Result<Arc<Connection>> {
        self.broker_connection(
            broker_id,
            crate::time::after(self.inner.config.request_timeout),
        )
    }

    /// A connection to the controller, or to any broker when the controller
    /// is unknown (old brokers forward admin requests).
    pub(crate) fn controller_connection(&self, deadline: Instant) -> Result<Arc<Connection>> {
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
                    if crate::time::after(wait) >= deadline {
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
}

/// When no broker could be used, a TLS or SASL failure (wrong CA, wrong
/// password) is the error to report: it is clear and not retriable, where
/// `NoBrokerAvailable` would invite retries that cannot succeed.
fn keep_security_error(kept: &mut Option<Error>, e: Error) {
    if kept.is_none() && matches!(e, Error::Tls(_) | Error::Sasl(_)) {
        *kept = Some(e);
    }
}
