//! `--testkit`, `--mock`, `--admin`, `-F`, `-X list` and `--help`, run as a
//! user would. The broker is the testkit's (tansu) or one the binary starts
//! itself; `--mock` runs librdkafka's mock cluster (Python peers).

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde_json::Value;
use support::*;

/// Starts `kafka-sync ARGS` (a --testkit or --mock run), reads the bootstrap
/// it prints, runs `body` with it, then stops it with SIGINT.
fn with_own_broker(args: &[&str], body: impl FnOnce(&str)) {
    let mut child = command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kafka-sync");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    // Starting may provision the broker or the Python peers first.
    let line = match rx.recv_timeout(Duration::from_secs(300)) {
        Ok(line) if !line.trim().is_empty() => line,
        other => {
            let _ = child.kill();
            let out = wait_output(child, RUN_TIMEOUT, args);
            panic!(
                "kafka-sync {args:?} printed no bootstrap ({other:?}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    body(line.trim());
    interrupt(&child);
    let out = wait_output(child, RUN_TIMEOUT, args);
    assert!(out.status.success(), "exit on SIGINT: {}", out.status);
}

#[test]
fn testkit_starts_a_broker_with_topics_and_stops_on_sigint() {
    with_own_broker(&["--testkit", "--create", "demo:3"], |bs| {
        let meta = String::from_utf8(ok(&["-b", bs, "-L"], None)).unwrap();
        assert!(meta.contains("topic \"demo\" with 3 partitions:"), "{meta}");
        ok(&["-b", bs, "-P", "-t", "demo", "-p", "1"], Some(b"hello\n"));
        let back = ok(
            &["-b", bs, "-C", "-t", "demo", "-e", "-q", "-f", "%p %s\\n"],
            None,
        );
        assert_eq!(back, b"1 hello\n");
    });
}

#[test]
fn mock_cluster_runs_produce_and_a_group() {
    with_own_broker(&["--mock", "3", "--create", "orders:4:2"], |bs| {
        let meta: Value = serde_json::from_slice(&ok(&["-b", bs, "-L", "-J"], None)).unwrap();
        assert_eq!(meta["brokers"].as_array().unwrap().len(), 3, "{meta}");
        let orders = meta["topics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["topic"] == "orders")
            .expect("orders listed");
        let partitions = orders["partitions"].as_array().unwrap();
        assert_eq!(partitions.len(), 4);
        assert!(partitions
            .iter()
            .all(|p| p["replicas"].as_array().unwrap().len() == 2));
        let input: String = (0..40).map(|i| format!("k{i}:v{i}\n")).collect();
        ok(
            &["-b", bs, "-P", "-t", "orders", "-K", ":"],
            Some(input.as_bytes()),
        );
        let group = kafka_sync::testkit::unique_name("cli-mock");
        let mut got = lines(&ok(
            &[
                "-b",
                bs,
                "-G",
                &group,
                "orders",
                "-o",
                "beginning",
                "-e",
                "-q",
                "-K",
                ":",
                "-X",
                "api.version.caps=mock",
                "-X",
                "session.timeout.ms=6000",
            ],
            None,
        ));
        got.sort();
        let mut want: Vec<String> = input.lines().map(str::to_string).collect();
        want.sort();
        assert_eq!(got, want);
    });
}

#[test]
fn admin_topics_and_configs() {
    let bs = bootstrap();
    let t = kafka_sync::testkit::unique_name("cli-admin");
    let created = ok(
        &[
            "-b",
            &bs,
            "--admin",
            "topics",
            "create",
            &t,
            "--partitions",
            "3",
            "--config",
            "retention.ms=3600000",
        ],
        None,
    );
    assert_eq!(
        String::from_utf8(created).unwrap(),
        format!("created {t}\n")
    );
    // Again: the broker's refusal, exit 1, the one item's error.
    let again = run(&["-b", &bs, "--admin", "topics", "create", &t], None);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("TOPIC_ALREADY_EXISTS"));

    let list = String::from_utf8(ok(&["-b", &bs, "--admin", "topics", "list"], None)).unwrap();
    assert!(list.contains(&format!("{t}\t3 partitions")), "{list}");
    let described: Value = serde_json::from_slice(&ok(
        &["-b", &bs, "--admin", "-J", "topics", "describe", &t],
        None,
    ))
    .unwrap();
    assert_eq!(described[&t]["partitions"].as_array().unwrap().len(), 3);

    let configs = String::from_utf8(ok(
        &["-b", &bs, "--admin", "configs", "describe", "topic", &t],
        None,
    ))
    .unwrap();
    assert!(configs.contains("retention.ms = 3600000"), "{configs}");
    ok(
        &[
            "-b",
            &bs,
            "--admin",
            "configs",
            "set",
            "topic",
            &t,
            "retention.ms=600000",
        ],
        None,
    );
    let configs: Value = serde_json::from_slice(&ok(
        &[
            "-b", &bs, "-J", "--admin", "configs", "describe", "topic", &t,
        ],
        None,
    ))
    .unwrap();
    assert_eq!(configs[&t]["retention.ms"]["value"], "600000", "{configs}");

    let cluster = String::from_utf8(ok(&["-b", &bs, "--admin", "cluster"], None)).unwrap();
    assert!(cluster.contains("broker "), "{cluster}");

    ok(&["-b", &bs, "--admin", "topics", "delete", &t], None);
    let list = String::from_utf8(ok(&["-b", &bs, "--admin", "topics", "list"], None)).unwrap();
    assert!(!list.contains(&t), "{list}");
}

#[test]
fn config_files_settings_list_help_and_version() {
    let bs = bootstrap();
    let t = topic("cli-conf", 1);
    let path = std::env::temp_dir().join(kafka_sync::testkit::unique_name("cli-conf"));
    std::fs::write(
        &path,
        format!(
            "# a kcat-style config\nbootstrap.servers={bs}\nclient.id=from-file\nlinger.ms=1\n\n"
        ),
    )
    .unwrap();
    let file = path.to_str().unwrap();
    ok(&["-F", file, "-P", "-t", &t], Some(b"via-file\n"));
    assert_eq!(
        ok(&["-F", file, "-C", "-t", &t, "-e", "-q"], None),
        b"via-file\n"
    );
    std::fs::write(&path, "bootstrap.servers\n").unwrap();
    let bad = run(&["-F", file, "-L"], None);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains(":1:"),
        "names the line"
    );
    let _ = std::fs::remove_file(&path);

    let list = String::from_utf8(ok(&["-X", "list"], None)).unwrap();
    for name in [
        "security.protocol",
        "sasl.mechanism",
        "ssl.ca.location",
        "linger.ms",
        "compression.type",
        "acks",
    ] {
        assert!(list.contains(name), "{name} in -X list");
    }
    let help = String::from_utf8(ok(&["--help"], None)).unwrap();
    assert!(
        help.contains("Examples:") && help.contains("Exit codes:"),
        "{help}"
    );
    let version = String::from_utf8(ok(&["-V"], None)).unwrap();
    assert!(version.starts_with("kafka-sync "), "{version}");
}
