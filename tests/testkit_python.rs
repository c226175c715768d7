//! The Python peers' environment: provisioned by the testkit itself, pinned,
//! checked, and safe to provision from several processes at once.
#![cfg(feature = "testkit")]

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use kafka_sync::testkit::{self, CONFLUENT_KAFKA_VERSION, KAFKA_PYTHON_VERSION};
use support::{assert_child_passed, child_test, is_child, peers, LONG};

fn versions_seen_by(python: &Path) -> String {
    peers::run_with(python, "versions.py", &[], LONG)
        .trim()
        .to_owned()
}

#[test]
fn peers_environment_holds_the_pinned_packages() {
    let python = testkit::python_peers().expect("the Python peers are provisioned");
    assert!(
        python.ends_with("kafka-sync-peers/venv/bin/python"),
        "{}",
        python.display()
    );
    assert_eq!(
        versions_seen_by(&python),
        format!("{CONFLUENT_KAFKA_VERSION} 2.16.0 {KAFKA_PYTHON_VERSION}")
    );
    // A second call in the same process answers from the first one's check.
    assert_eq!(testkit::python_peers().unwrap(), python);
}

/// Run by `two_processes_provision_one_environment` with a fresh
/// `CARGO_TARGET_DIR`: provisions there and prints the interpreter's path.
#[test]
#[ignore = "run as a child process by two_processes_provision_one_environment"]
fn provision_child() {
    if !is_child("provision_child") {
        return;
    }
    let python = testkit::python_peers().expect("the Python peers are provisioned");
    println!("python={}", python.display());
}

#[test]
fn two_processes_provision_one_environment() {
    let target = std::env::temp_dir().join(testkit::unique_name("kafka-sync-peers-target"));
    std::fs::create_dir_all(&target).unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            child_test("provision_child")
                .env("CARGO_TARGET_DIR", &target)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut paths = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert_child_passed(&output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let path = stdout
            .lines()
            .find_map(|l| l.split_once("python=").map(|(_, path)| path))
            .expect("the child printed its interpreter")
            .to_owned();
        paths.push(PathBuf::from(path));
    }
    assert_eq!(paths[0], paths[1]);
    assert_eq!(paths[0], target.join("kafka-sync-peers/venv/bin/python"));
    assert_eq!(
        versions_seen_by(&paths[0]),
        format!("{CONFLUENT_KAFKA_VERSION} 2.16.0 {KAFKA_PYTHON_VERSION}")
    );
    // Nothing but the environment is left: scratch directories are removed.
    let left: Vec<_> = std::fs::read_dir(target.join("kafka-sync-peers"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["venv"]);
    std::fs::remove_dir_all(&target).unwrap();
}

#[test]
fn a_missing_interpreter_is_a_config_error_saying_what_to_install() {
    let target = std::env::temp_dir().join(testkit::unique_name("kafka-sync-peers-missing"));
    let output = child_test("provision_child")
        .env("CARGO_TARGET_DIR", &target)
        .env("KAFKA_SYNC_PYTHON", "/nonexistent/python3")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("Config"), "{text}");
    assert!(text.contains("apt-get install python3"), "{text}");
    let _ = std::fs::remove_dir_all(&target);
}
