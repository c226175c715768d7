//! librdkafka's mock cluster as a multi-broker test cluster with fault
//! injection.
//!
//! The mock cluster is part of librdkafka (`src/rdkafka_mock.h`); the
//! testkit runs the copy bundled in the `confluent-kafka` wheel of the
//! [Python peers](super::python_peers) in a helper process: a small Python
//! script shipped in this crate (`src/testkit/mock_cluster.py`) that loads
//! the library with `ctypes`, creates the cluster, then executes one JSON
//! command per line read on its standard input and answers each with one
//! JSON line. Nothing is compiled. The helper exits when its standard input
//! reaches end of file, so it never outlives the process that started it.

use std::fmt;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::python::peers_dir;
use super::{log_tail, prune_logs, python_peers, unique_name};
use crate::{ApiKey, Error, ErrorCode, KafkaClient, KafkaClientBuilder, Result, TimeoutKind};

/// The helper script, run with `python -c`.
const SCRIPT: &str = include_str!("mock_cluster.py");
/// Default for [`MockClusterBuilder::start_timeout`].
const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(20);
/// Default for [`MockClusterBuilder::call_timeout`].
const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `Drop` waits for the helper to exit before killing it.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// librdkafka's mock cluster: `N` brokers (ids `1..=N`) on loopback ports,
/// topics with replicated partitions whose leaders are spread over the
/// brokers, and fault injection (leader moves, brokers going down, request
/// errors, round-trip delays, coordinator moves).
///
/// It is an independent implementation of the Kafka protocol, and a
/// multi-broker one, unlike the single-node [`Broker`](super::Broker).
/// It has no CreateTopics: create topics with [`create_topic`](Self::create_topic).
/// It is librdkafka 2.16.0 as bundled in `confluent-kafka` 2.16.1, provisioned
/// with [`python_peers`](super::python_peers) on first use. Dropping it stops
/// the helper process; the process also exits by itself when the program that
/// started it exits, however it exits.
///
/// Every method is one round trip to the helper, bounded by
/// [`MockClusterBuilder::call_timeout`]. `MockCluster` is `Send + Sync`, so a
/// thread can inject faults while others produce and consume.
///
/// Quirks of the mock that a client meets: it answers ApiVersions v3 with
/// UNSUPPORTED_VERSION and a body that is no v0 body, and its Metadata v12
/// answers carry one byte more than the schema (this crate tolerates both).
/// Its consumer-group handlers read some arrays of flexible versions as
/// classic ones although it announces those versions: JoinGroup v6 makes it
/// close the connection, SyncGroup v4 crashes the whole mock process, and
/// LeaveGroup v3+ is misread as an unknown member. Group clients therefore
/// need the caps in [`API_VERSION_CAPS`](Self::API_VERSION_CAPS) (the versions
/// librdkafka's own client sends), which [`client_builder`](Self::client_builder)
/// sets.
///
/// ```no_run
/// use std::time::Duration;
/// use kafka_sync::testkit::MockCluster;
/// use kafka_sync::{ApiKey, ErrorCode, KafkaClient};
///
/// let cluster = MockCluster::start(3)?;
/// cluster.create_topic("events", 4, 3)?;
/// // The bootstrap list and the version caps the mock's bugs need.
/// let client = cluster.client_builder().build()?;
/// // The same by hand:
/// let client = KafkaClient::builder()
///     .hosts(cluster.bootstrap())
///     .max_api_version(ApiKey::JoinGroup, 5)
///     .max_api_version(ApiKey::SyncGroup, 3)
///     .max_api_version(ApiKey::LeaveGroup, 2)
///     .build()?;
/// assert_eq!(client.brokers().len(), 3);
///
/// cluster.set_leader("events", 0, 2)?; // partition 0 moves to broker 2
/// cluster.request_errors(ApiKey::Produce, &[ErrorCode::NotLeaderOrFollower])?;
/// cluster.round_trip_time(1, Duration::from_millis(300))?;
/// cluster.broker_down(3)?; // refuses and drops connections, leaders stay
/// cluster.broker_up(3)?;
/// # Ok::<(), kafka_sync::Error>(())
/// ```
pub struct MockCluster {
    bootstrap: String,
    brokers: i32,
    log: PathBuf,
    call_timeout: Duration,
    helper: Mutex<Helper>,
}

/// The helper process and the two ends of its command channel.
struct Helper {
    child: Child,
    stdin: Option<ChildStdin>,
    answers: Receiver<String>,
    next_id: u64,
}

/// Which coordinator [`MockCluster::set_coordinator`] moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CoordinatorKind {
    /// A consumer group's coordinator; the key is the group id.
    Group,
    /// A transactional producer's coordinator; the key is the transactional id.
    Transaction,
}

impl CoordinatorKind {
    fn as_str(self) -> &'static str {
        match self {
            CoordinatorKind::Group => "group",
            CoordinatorKind::Transaction => "transaction",
        }
    }
}

/// Options for [`MockCluster::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct MockClusterBuilder {
    brokers: i32,
    debug: String,
    start_timeout: Duration,
    call_timeout: Duration,
}

impl Default for MockClusterBuilder {
    fn default() -> Self {
        MockClusterBuilder {
            brokers: 3,
            debug: String::new(),
            start_timeout: DEFAULT_START_TIMEOUT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
        }
    }
}

impl MockClusterBuilder {
    /// How many brokers (ids `1..=brokers`). Defaults to 3.
    pub fn brokers(mut self, brokers: i32) -> Self {
        self.brokers = brokers;
        self
    }

    /// librdkafka `debug` contexts for the helper's log, comma separated:
    /// `"mock"` shows why the mock rejects or drops a request,
    /// `"mock,protocol"` every request too. Defaults to none.
    pub fn debug(mut self, contexts: impl Into<String>) -> Self {
        self.debug = contexts.into();
        self
    }

    /// How long to wait for the helper to report the cluster's addresses,
    /// once the Python peers are provisioned. Defaults to 20 s.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Bound on each command's round trip to the helper. Defaults to 10 s.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Provisions the Python peers if needed, starts the helper and waits
    /// for the cluster's addresses.
    ///
    /// # Errors
    /// [`Error::Config`] when the Python peers cannot be provisioned, the
    /// broker count is below 1, or the helper cannot load librdkafka or make
    /// the cluster; [`Error::Io`] of kind [`std::io::ErrorKind::TimedOut`]
    /// when it does not report within the start timeout; [`Error::Io`] when it
    /// cannot be spawned or exits. Each carries the tail of the helper's log.
    pub fn start(self) -> Result<MockCluster> {
        if self.brokers < 1 {
            return Err(Error::Config(format!(
                "a mock cluster needs at least one broker, not {}",
                self.brokers
            )));
        }
        let python = python_peers()?;
        let logs = peers_dir().join("logs");
        prune_logs(&logs);
        fs::create_dir_all(&logs)
            .map_err(|e| Error::io(format!("creating {}", logs.display()), e))?;
        let log = logs.join(format!("{}.log", unique_name("mock-cluster")));
        let log_file = fs::File::create(&log)
            .map_err(|e| Error::io(format!("creating {}", log.display()), e))?;
        let mut child = Command::new(&python)
            .arg("-c")
            .arg(SCRIPT)
            .arg(self.brokers.to_string())
            .arg(&self.debug)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| {
                Error::io(
                    format!("starting the mock cluster helper with {}", python.display()),
                    e,
                )
            })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout was piped");
        let (tx, answers) = crossbeam_channel::unbounded();
        thread::Builder::new()
            .name("kafka-sync-mock-cluster".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| Error::io("spawning the mock cluster reader thread", e))?;
        let mut helper = Helper {
            child,
            stdin,
            answers,
            next_id: 0,
        };
        let first = match helper.answers.recv_timeout(self.start_timeout) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                helper.stop();
                return Err(Error::io(
                    format!(
                        "testkit: waiting {:?} for the mock cluster helper to report its brokers; \
                         raise MockClusterBuilder::start_timeout if the machine is slow; log {}:\n{}",
                        self.start_timeout,
                        log.display(),
                        log_tail(&log)
                    ),
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "mock cluster start timed out"),
                ));
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = helper.stop();
                return Err(Error::io(
                    "starting the mock cluster",
                    std::io::Error::other(format!(
                        "the helper exited ({status}) before reporting its brokers; log {}:\n{}",
                        log.display(),
                        log_tail(&log)
                    )),
                ));
            }
        };
        let answer: Value = serde_json::from_str(&first).map_err(|e| {
            Error::Config(format!(
                "the mock cluster helper printed {first:?}, not JSON ({e}); log {}:\n{}",
                log.display(),
                log_tail(&log)
            ))
        })?;
        let bootstrap = match answer.get("bootstraps").and_then(Value::as_str) {
            Some(bootstrap) if answer["ok"] == json!(true) => bootstrap.to_owned(),
            _ => {
                helper.stop();
                return Err(Error::Config(format!(
                    "the mock cluster did not start: {}; log {}:\n{}",
                    answer["message"].as_str().unwrap_or(&first),
                    log.display(),
                    log_tail(&log)
                )));
            }
        };
        Ok(MockCluster {
            bootstrap,
            brokers: self.brokers,
            log,
            call_timeout: self.call_timeout,
            helper: Mutex::new(helper),
        })
    }
}

impl MockCluster {
    /// The highest versions of the group APIs that librdkafka 2.16.0's mock
    /// cluster reads correctly, although it announces higher ones: JoinGroup
    /// v5, SyncGroup v3, LeaveGroup v2. See the [type documentation](Self).
    pub const API_VERSION_CAPS: [(ApiKey, i16); 3] = [
        (ApiKey::JoinGroup, 5),
        (ApiKey::SyncGroup, 3),
        (ApiKey::LeaveGroup, 2),
    ];

    /// A client builder for this cluster: its bootstrap list and the
    /// [`API_VERSION_CAPS`](Self::API_VERSION_CAPS) its bugs need.
    pub fn client_builder(&self) -> KafkaClientBuilder {
        MockCluster::API_VERSION_CAPS.iter().fold(
            KafkaClient::builder().hosts(self.bootstrap.clone()),
            |builder, &(api, version)| builder.max_api_version(api, version),
        )
    }

    /// Starts a mock cluster of `brokers` brokers with default options; see
    /// [`MockClusterBuilder::start`].
    ///
    /// # Errors
    /// As [`MockClusterBuilder::start`].
    pub fn start(brokers: i32) -> Result<MockCluster> {
        MockCluster::builder().brokers(brokers).start()
    }

    /// Options: broker count, librdkafka debug logging, timeouts.
    pub fn builder() -> MockClusterBuilder {
        MockClusterBuilder::default()
    }

    /// The bootstrap list for clients: every broker's `127.0.0.1:PORT`,
    /// comma separated, broker 1 first.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// How many brokers the cluster has; their ids are `1..=brokers()`.
    pub fn brokers(&self) -> i32 {
        self.brokers
    }

    /// The helper's log: librdkafka's log lines for the `debug` contexts
    /// given to [`MockClusterBuilder::debug`], and any Python error.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Creates `topic` with `partitions` partitions of `replication`
    /// replicas each, their leaders spread over the brokers.
    ///
    /// # Errors
    /// As every command: [`Error::Broker`] with librdkafka's error code when
    /// the mock refuses, [`Error::Timeout`] or [`Error::Io`] when the helper
    /// does not answer.
    pub fn create_topic(&self, topic: &str, partitions: i32, replication: i32) -> Result<()> {
        self.call("topic_create", json!([topic, partitions, replication]))
    }

    /// Moves the leader of `topic`/`partition` to `broker`, or makes the
    /// partition leaderless with `-1`. Clients learn of it from
    /// NOT_LEADER_OR_FOLLOWER answers and fresh metadata.
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn set_leader(&self, topic: &str, partition: i32, broker: i32) -> Result<()> {
        self.call("partition_set_leader", json!([topic, partition, broker]))
    }

    /// Sets the preferred replica (KIP-392) of `topic`/`partition` that the
    /// leader points fetchers to.
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn set_follower(&self, topic: &str, partition: i32, broker: i32) -> Result<()> {
        self.call("partition_set_follower", json!([topic, partition, broker]))
    }

    /// Takes `broker` down (`-1`: every broker): its connections are closed
    /// and new ones refused. Leadership does not move.
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn broker_down(&self, broker: i32) -> Result<()> {
        self.call("broker_set_down", json!([broker]))
    }

    /// Lets `broker` (`-1`: every broker) accept connections again.
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn broker_up(&self, broker: i32) -> Result<()> {
        self.call("broker_set_up", json!([broker]))
    }

    /// Delays every answer of `broker` (`-1`: every broker) by `rtt`
    /// (millisecond resolution); `Duration::ZERO` removes the delay.
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn round_trip_time(&self, broker: i32, rtt: Duration) -> Result<()> {
        self.call("broker_set_rtt", json!([broker, millis(rtt)]))
    }

    /// Makes the next `errors.len()` requests of `api`, to any broker, fail
    /// with these codes, in order.
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn request_errors(&self, api: ApiKey, errors: &[ErrorCode]) -> Result<()> {
        let codes: Vec<i16> = errors.iter().map(|e| e.code()).collect();
        self.call("push_request_errors", json!([api.code(), codes]))
    }

    /// Makes the next `errors.len()` requests of `api` to `broker` fail with
    /// these codes (a code of [`ErrorCode::None`] lets one through), each
    /// answered after its delay. They take precedence over
    /// [`request_errors`](Self::request_errors).
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn broker_request_errors(
        &self,
        broker: i32,
        api: ApiKey,
        errors: &[(ErrorCode, Duration)],
    ) -> Result<()> {
        let pairs: Vec<(i16, i32)> = errors.iter().map(|(e, d)| (e.code(), millis(*d))).collect();
        self.call(
            "broker_push_request_error_rtts",
            json!([broker, api.code(), pairs]),
        )
    }

    /// Forgets the errors queued for `api` with
    /// [`request_errors`](Self::request_errors).
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn clear_request_errors(&self, api: ApiKey) -> Result<()> {
        self.call("clear_request_errors", json!([api.code()]))
    }

    /// Makes `topic` answer Metadata with `error` ([`ErrorCode::None`] to
    /// clear it).
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn topic_error(&self, topic: &str, error: ErrorCode) -> Result<()> {
        self.call("topic_set_error", json!([topic, error.code()]))
    }

    /// Moves the coordinator of the group or transactional id `key` to
    /// `broker` (which need not exist). Without it the mock picks one by
    /// hashing the key.
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn set_coordinator(&self, kind: CoordinatorKind, key: &str, broker: i32) -> Result<()> {
        self.call("coordinator_set", json!([kind.as_str(), key, broker]))
    }

    /// Sets the KIP-848 consumer groups' session timeout (the broker's
    /// `group.consumer.session.timeout.ms`; the mock's default is 30 s),
    /// for groups whose members join or heartbeat afterwards.
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn set_group_consumer_session_timeout(&self, timeout: Duration) -> Result<()> {
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        self.call("group_consumer_session_timeout", json!([ms]))
    }

    /// Sets the heartbeat interval KIP-848 consumer group members are told
    /// to keep (the broker's `group.consumer.heartbeat.interval.ms`; the
    /// mock's default is 3 s), from their next heartbeat on.
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn set_group_consumer_heartbeat_interval(&self, interval: Duration) -> Result<()> {
        let ms = i32::try_from(interval.as_millis()).unwrap_or(i32::MAX);
        self.call("group_consumer_heartbeat_interval", json!([ms]))
    }

    /// Sets the version window the brokers announce for `api` (both `-1`:
    /// the API is not supported at all). The maximum must not exceed what
    /// the mock implements.
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn set_api_version(&self, api: ApiKey, min_version: i16, max_version: i16) -> Result<()> {
        self.call(
            "set_apiversion",
            json!([api.code(), min_version, max_version]),
        )
    }

    /// One command round trip: writes `{"id", "cmd", "args"}` and waits for
    /// the answer with the same id (a late answer to a timed-out command is
    /// skipped).
    pub(super) fn call(&self, cmd: &str, args: Value) -> Result<()> {
        let context = || format!("mock cluster {cmd}({})", args_text(&args));
        let mut helper = self.helper.lock();
        helper.next_id += 1;
        let id = helper.next_id;
        let line = json!({"id": id, "cmd": cmd, "args": args}).to_string() + "\n";
        let written = match helper.stdin.as_mut() {
            Some(stdin) => stdin
                .write_all(line.as_bytes())
                .and_then(|()| stdin.flush()),
            None => Err(std::io::Error::other("the helper was stopped")),
        };
        written.map_err(|e| self.helper_gone(&mut helper, context(), e))?;
        let deadline = Instant::now() + self.call_timeout;
        loop {
            let line = match helper.answers.recv_deadline(deadline) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(Error::timeout(
                        TimeoutKind::Request,
                        format!(
                            "{}: no answer from the helper within {:?}; log {}:\n{}",
                            context(),
                            self.call_timeout,
                            self.log.display(),
                            log_tail(&self.log)
                        ),
                    ))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let e = std::io::Error::other("its output ended");
                    return Err(self.helper_gone(&mut helper, context(), e));
                }
            };
            let answer: Value = serde_json::from_str(&line).map_err(|e| {
                Error::Config(format!(
                    "{}: the helper answered {line:?}, not JSON ({e})",
                    context()
                ))
            })?;
            if answer["id"] != json!(id) {
                continue;
            }
            if answer["ok"] == json!(true) {
                return Ok(());
            }
            let code = answer["err"]
                .as_i64()
                .and_then(|c| i16::try_from(c).ok())
                .unwrap_or(-1);
            let name = answer["name"].as_str().unwrap_or("?");
            let message = answer["message"].as_str().unwrap_or("?");
            // librdkafka's own codes (below zero) have no Kafka name.
            let message = if code < 0 {
                format!("librdkafka {name} ({code}): {message}")
            } else {
                format!("librdkafka: {message}")
            };
            return Err(Error::broker(
                ErrorCode::from_code(code),
                Some(message),
                context(),
            ));
        }
    }

    fn helper_gone(&self, helper: &mut Helper, context: String, e: std::io::Error) -> Error {
        let status = helper
            .child
            .try_wait()
            .ok()
            .flatten()
            .map_or_else(|| "still running".to_owned(), |s| s.to_string());
        Error::io(
            context,
            std::io::Error::other(format!(
                "the mock cluster helper is gone ({e}; {status}); log {}:\n{}",
                self.log.display(),
                log_tail(&self.log)
            )),
        )
    }
}

impl Helper {
    /// Closes the helper's stdin, which makes it exit, and waits for it;
    /// kills it if it does not exit in time. Returns its exit status.
    fn stop(&mut self) -> String {
        drop(self.stdin.take());
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) => return status.to_string(),
                Ok(None) => thread::sleep(Duration::from_millis(5)),
                Err(e) => return e.to_string(),
            }
        }
        let _ = self.child.kill();
        self.child
            .wait()
            .map_or_else(|e| e.to_string(), |s| format!("killed: {s}"))
    }
}

impl Drop for MockCluster {
    /// Stops the helper and removes its log, unless a panic is unwinding (a
    /// failing test), in which case the log is kept and its path printed.
    fn drop(&mut self) {
        self.helper.get_mut().stop();
        if thread::panicking() {
            eprintln!(
                "kafka-sync testkit: mock cluster log kept at {}",
                self.log.display()
            );
        } else {
            let _ = fs::remove_file(&self.log);
        }
    }
}

impl fmt::Debug for MockCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockCluster")
            .field("bootstrap", &self.bootstrap)
            .field("brokers", &self.brokers)
            .field("log", &self.log)
            .finish()
    }
}

/// Milliseconds as librdkafka's `int` takes them (saturating).
fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// The arguments of a command as the caller wrote them, for error messages.
fn args_text(args: &Value) -> String {
    match args {
        Value::Array(items) => items
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}
