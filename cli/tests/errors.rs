//! Bad flags, bad settings and unreachable brokers: one line on stderr
//! saying what to do, and the documented exit status (2 usage, 3 no
//! broker, 1 failed). Topic errors run against the testkit broker (tansu).

mod support;

use std::net::TcpListener;

use support::*;

/// Runs and checks the status and the one stderr line.
fn fails(args: &[&str], stdin: Option<&[u8]>, code: i32, says: &str) -> String {
    let out = run(args, stdin);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "kafka-sync {args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("% ERROR: "), "{err:?}");
    assert!(err.contains(says), "{args:?} should say {says:?}: {err}");
    err
}

#[test]
fn bad_flags_and_values_are_usage_errors() {
    fails(&["-Y"], None, 2, "--help");
    fails(&["-b", "h:1", "-C"], None, 2, "add -t TOPIC");
    fails(
        &["-b", "h:1", "-C", "-P", "-t", "x"],
        None,
        2,
        "give one mode",
    );
    fails(&["-C", "-t", "x"], None, 2, "add -b host:port");
    fails(&["-b", "h:1", "-X", "no.such=1", "-L"], None, 2, "-X list");
    fails(
        &["-b", "h:1", "-X", "linger.ms", "-P", "-t", "x"],
        None,
        2,
        "key=value",
    );
    fails(
        &["-b", "h:1", "-X", "linger.ms=soon", "-L"],
        None,
        2,
        "milliseconds",
    );
    fails(
        &["-b", "h:1", "-z", "brotli", "-P", "-t", "x"],
        None,
        2,
        "gzip",
    );
    fails(&["-b", "h:1", "-C", "-t", "x", "-f", "%q"], None, 2, "%t");
    fails(
        &["-b", "h:1", "-C", "-t", "x", "-J", "-f", "%s"],
        None,
        2,
        "-J and -f",
    );
    fails(
        &["-b", "h:1", "-F", "/nonexistent/kafka-sync.conf", "-L"],
        None,
        2,
        "check the path",
    );
    fails(
        &["-b", "h:1", "-X", "security.protocol=tls", "-L"],
        None,
        2,
        "sasl_ssl",
    );
    fails(&["-b", "h:1", "-G", "g"], None, 2, "topics after the flags");
    fails(
        &["-b", "h:1", "--admin", "frobnicate"],
        None,
        2,
        "--admin help",
    );
    fails(&["--mock", "0"], None, 2, "at least 1");
    fails(
        &["-b", "h:1", "-P", "-t", "x", "/nonexistent/input.txt"],
        None,
        1,
        "check the path",
    );
    fails(&["--testkit", "--create", "t"], None, 2, "topic:partitions");
}

#[test]
fn an_unreachable_broker_exits_3() {
    // A port nobody listens on: bound, then closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bs = format!("127.0.0.1:{port}");
    for args in [
        vec!["-b", &bs, "-L"],
        vec!["-b", &bs, "-C", "-t", "x"],
        vec!["-b", &bs, "-Q", "-t", "x:0:-1"],
        vec!["-b", &bs, "--admin", "topics", "list"],
    ] {
        fails(&args, None, 3, "no broker could be reached");
    }
    fails(&["-b", &bs, "-P", "-t", "x"], Some(b"a\n"), 3, &bs);
}

#[test]
fn topic_errors_exit_1_and_say_how_to_fix() {
    let bs = bootstrap();
    let missing = kafka_sync::testkit::unique_name("cli-missing");
    fails(
        &["-b", &bs, "-C", "-t", &missing, "-e"],
        None,
        1,
        "--admin topics create",
    );
    fails(
        &["-b", &bs, "-P", "-t", &missing],
        Some(b"a\n"),
        1,
        "does not exist",
    );
    let t = topic("cli-errors", 2);
    fails(
        &["-b", &bs, "-C", "-t", &t, "-p", "5"],
        None,
        2,
        "partitions 0 to 1",
    );
    fails(
        &["-b", &bs, "-C", "-t", &t, "-o", "stored"],
        None,
        2,
        "group.id",
    );
    fails(
        &["-b", &bs, "-C", "-t", &t, "-o", "soon"],
        None,
        2,
        "s@TIMESTAMP_MS",
    );
    // A record over max.request.size is not delivered: counted, the rest go.
    let big = format!("{}\nsmall\n", "x".repeat(5000));
    let err = fails(
        &["-b", &bs, "-P", "-t", &t, "-X", "max.request.size=1000"],
        Some(big.as_bytes()),
        1,
        "1 of 2 records not delivered",
    );
    assert!(err.contains("max_request_size"), "{err}");
    let back = lines(&ok(&["-b", &bs, "-C", "-t", &t, "-e", "-q"], None));
    assert_eq!(back, vec!["small".to_string()]);
}
