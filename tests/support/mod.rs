//! What the integration tests share, in one place: each test file says
//! `mod support;` and takes what it needs.
//!
//! - [`broker`]: the shared testkit broker, a client for it, a unique topic
//!   with N partitions, records produced and read back with raw requests.
//! - [`fake_broker`]: the one frame loop behind every scripted peer (hostile
//!   brokers, peers that read a trickle or never answer, [`fake_coordinator`],
//!   [`fake_sasl`], [`fake_cluster`], proxies).
//! - [`fake_coordinator`]: a scripted group coordinator for one topic.
//! - [`fake_sasl`]: a PLAIN/SCRAM SASL server, alone or in front of another
//!   fake (a coordinator whose sessions expire).
//! - [`group_protocol`]: the KIP-848 tests' mock cluster, settings and
//!   multi-member [`group_protocol::Group`].
//! - [`mock`]: for tests on librdkafka's mock cluster: its client, faults
//!   run beside a producer or consumer, partitions read back and compared.
//! - [`share`]: for the share-group tests: a mock cluster with share-group
//!   settings, members joined, records drained and acknowledged.
//! - [`peers`]: runs a Python peer script from `tests/peers/` with the
//!   testkit's pinned interpreter.
//! - [`txn_log`]: a partition's log with its transaction markers, read with
//!   raw Fetch requests.
//! - The deadlines below; [`child_test`] to run one of the binary's ignored
//!   tests in a child process; a stderr logger for debugging a failure.
//!
//! Every integration test is a crate of its own and uses only part of this,
//! hence the `dead_code` allowance.

#![allow(dead_code)]

use std::time::Duration;

pub mod broker;
pub mod fake_broker;
pub mod fake_cluster;
pub mod fake_coordinator;
pub mod fake_sasl;
pub mod group_protocol;
pub mod mock;
pub mod peers;
pub mod share;
pub mod txn_log;

#[allow(unused_imports)] // some tests use only the fakes
pub use broker::*;

/// For what should be all but immediate, such as a stopped broker's port
/// refusing connections, or a killed owner's helper going away.
pub const SHORT: Duration = Duration::from_secs(5);

/// How long a test waits for anything that should happen promptly (records
/// arriving, a flush, a reconnect) before it fails. Generous because the
/// test machines are shared and slow; a passing test does not wait it out.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// For group rebalances: each may wait out a session timeout, and tansu
/// holds a join for about half of one, so a few in a row need this long.
/// Also how long a Python peer may run.
pub const LONG: Duration = Duration::from_secs(60);

/// Logs kafka-sync's debug lines to stderr (milliseconds, thread, level)
/// when the environment variable `var` is set, to debug a failing test:
/// `BALANCED_TEST_LOG=1 cargo test --test balanced_consumer`.
pub fn log_to_stderr_if(var: &str) {
    struct StderrLog;

    impl log::Log for StderrLog {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            if record.target().starts_with("kafka_sync") {
                eprintln!(
                    "{:?} [{}] {} {}",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_millis()
                        % 100_000,
                    std::thread::current().name().unwrap_or("?"),
                    record.level(),
                    record.args()
                );
            }
        }
        fn flush(&self) {}
    }

    if std::env::var_os(var).is_some() {
        static LOGGER: StderrLog = StderrLog;
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    }
}

/// Set, to the test's name, in the environment of a child test process.
const CHILD_ENV: &str = "KAFKA_SYNC_TEST_CHILD";

/// A command that runs `name`, an `#[ignore]`d test of this same binary, in a
/// child process (for what must outlive or kill a process: an owner killed
/// with SIGKILL, a fresh `CARGO_TARGET_DIR`). The child test starts with
/// `if !support::is_child("name") { return; }` so that `--ignored` runs of
/// the whole binary skip it.
pub fn child_test(name: &str) -> std::process::Command {
    let mut command =
        std::process::Command::new(std::env::current_exe().expect("the test binary's path"));
    command
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, name)
        .stdin(std::process::Stdio::null());
    command
}

/// Whether this process is the child [`child_test`] started to run `name`.
pub fn is_child(name: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(name)
}

/// Fails, with the child's output, unless the [`child_test`] passed.
pub fn assert_child_passed(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "child test failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
