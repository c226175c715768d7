//! Running the built `kafka-sync` binary against the testkit broker, with
//! a deadline on every wait so that a hung run fails instead of hanging.

#![allow(dead_code)]

pub mod timed_broker;

use std::io::{Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use kafka_sync::testkit;
use kafka_sync::KafkaClient;

/// How long one run of the binary may take.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_kafka-sync");

/// The shared test broker's bootstrap (started on first use).
pub fn bootstrap() -> String {
    testkit::shared()
        .unwrap_or_else(|e| panic!("the test broker (tansu) did not start: {e}"))
        .bootstrap()
}

/// A client of the shared broker.
pub fn client() -> KafkaClient {
    KafkaClient::new(&bootstrap()).expect("client of the test broker")
}

/// A new topic with a unique name.
pub fn topic(prefix: &str, partitions: i32) -> String {
    let name = testkit::unique_name(prefix);
    client()
        .create_topic(&name, partitions, 1)
        .expect("create topic");
    name
}

/// A command for the binary with these arguments.
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    c
}

/// Runs the binary with `stdin` (empty when `None`) and waits for it.
pub fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut c = command(args);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn kafka-sync");
    let input = stdin.unwrap_or_default().to_vec();
    let mut pipe = child.stdin.take().expect("stdin");
    let writer = thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = wait_output(child, RUN_TIMEOUT, args);
    writer.join().expect("stdin writer");
    out
}

/// Runs the binary and asserts it succeeded; its stdout.
pub fn ok(args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let out = run(args, stdin);
    assert!(
        out.status.success(),
        "kafka-sync {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Waits for `child` (stdout and stderr piped) up to `timeout`; kills it
/// and fails the test past that.
pub fn wait_output(mut child: Child, timeout: Duration, what: &[&str]) -> Output {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_reader = thread::spawn(move || read_all(stdout.as_mut()));
    let err_reader = thread::spawn(move || read_all(stderr.as_mut()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let err = err_reader.join().unwrap_or_default();
            panic!(
                "kafka-sync {what:?} still running after {timeout:?}; stderr: {}",
                String::from_utf8_lossy(&err)
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

fn read_all(r: Option<&mut impl Read>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(r) = r {
        let _ = r.read_to_end(&mut buf);
    }
    buf
}

/// Sends SIGINT to a child (through the shell's builtin `kill`: no unsafe
/// code, and no procps needed).
pub fn interrupt(child: &Child) {
    let status = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .expect("run sh -c kill");
    assert!(status.success(), "kill -INT {} failed", child.id());
}

/// Waits until `check` holds, polling, up to `timeout`; fails with `what`.
pub fn eventually(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// Lines of text output.
pub fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_string)
        .collect()
}
