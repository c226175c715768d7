//! Python peers: scripts in `tests/peers/`, run with the interpreter of the
//! testkit's pinned environment (`testkit::python_peers`, provisioned on
//! first use; a test fails when it cannot be). Every script's docstring says
//! its arguments and what it prints.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use kafka_sync::testkit;

/// `tests/peers/<script>`.
pub fn script_path(script: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(script)
}

/// The peers' interpreter.
pub fn python() -> PathBuf {
    testkit::python_peers().expect("the Python peers are provisioned")
}

/// Runs `tests/peers/<script>` with `args` and returns its standard output;
/// fails the test, with the script's stderr, when it exits unsuccessfully or
/// runs past `timeout` (it is killed then).
pub fn run(script: &str, args: &[&str], timeout: Duration) -> String {
    run_with(&python(), script, args, timeout)
}

/// [`run`] with another interpreter (a freshly provisioned environment).
pub fn run_with(python: &Path, script: &str, args: &[&str], timeout: Duration) -> String {
    let mut child = Command::new(python)
        .arg(script_path(script))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", python.display()));
    // Drained on threads so that a chatty script cannot fill a pipe and stall.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("the peer can be waited for") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stdout = stdout.join().expect("stdout reader");
    let stderr = stderr.join().expect("stderr reader");
    match status {
        Some(status) if status.success() => stdout,
        Some(status) => panic!("peer {script} {args:?} failed ({status}):\n{stderr}"),
        None => panic!("peer {script} {args:?} ran past {timeout:?}; killed:\n{stderr}"),
    }
}

/// Starts `tests/peers/<script>` with `args` for a test that follows its
/// output as it runs (its stdout piped, its stderr discarded). The caller
/// kills and waits for it.
pub fn spawn(script: &str, args: &[&str]) -> Child {
    Command::new(python())
        .arg(script_path(script))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the peers' python starts")
}

/// A rebalance callback as the group peers print it: a JSON line
/// `{"event": "assign"|"revoke", "partitions": [...]}` (whole sets when
/// eager, increments when cooperative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rebalance {
    Assign(Vec<i32>),
    Revoke(Vec<i32>),
}

impl Rebalance {
    /// Parses one line of a group peer's output; `None` for any other line.
    pub fn parse(line: &str) -> Option<Rebalance> {
        let list = line
            .rsplit('[')
            .next()
            .and_then(|s| s.split(']').next())
            .unwrap_or("");
        let parts = list
            .split(',')
            .filter_map(|s| s.trim().parse::<i32>().ok())
            .collect();
        if line.contains("\"assign\"") {
            Some(Rebalance::Assign(parts))
        } else if line.contains("\"revoke\"") {
            Some(Rebalance::Revoke(parts))
        } else {
            None
        }
    }

    /// Updates the partitions the peer owns.
    pub fn apply(self, owned: &mut BTreeSet<i32>) {
        match self {
            Rebalance::Assign(parts) => owned.extend(parts),
            Rebalance::Revoke(parts) => {
                for p in parts {
                    owned.remove(&p);
                }
            }
        }
    }
}
