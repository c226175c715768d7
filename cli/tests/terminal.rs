//! The producer's progress bar: drawn when stderr is a terminal and the
//! input is a file, absent otherwise. The terminal is a pseudo-terminal
//! from util-linux's `script` (Debian's essential `bsdutils`), so no crate
//! or package is needed; the broker is the testkit's (tansu).

mod support;

use std::fmt::Write as _;
use std::fs;
use std::process::{Command, Stdio};

use support::*;

/// `sh -c` quoting.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Runs `command_line` under a pseudo-terminal; everything it wrote to the
/// terminal (stdout and stderr both).
fn under_pty(command_line: &str) -> (bool, String) {
    let script = Command::new("script")
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!("this test needs util-linux's `script` (Debian: bsdutils) for a pseudo-terminal: {e}")
        });
    assert!(script.status.success(), "`script --version` failed");
    let child = Command::new("script")
        .args(["-q", "-e", "-f", "-c", command_line, "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn script");
    let out = wait_output(child, RUN_TIMEOUT, &["script", command_line]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_progress_bar_renders_on_a_terminal_for_a_file_and_not_otherwise() {
    let bs = bootstrap();
    let t = topic("cli-progress", 1);
    let n = 20_000;
    let mut text = String::new();
    for i in 0..n {
        writeln!(text, "record number {i}").unwrap();
    }
    let path = std::env::temp_dir().join(kafka_sync::testkit::unique_name("cli-progress"));
    fs::write(&path, &text).unwrap();
    let file = path.to_str().unwrap();

    // A terminal and a file: the bar, ending with the delivered count.
    let line = format!("{} -b {bs} -P -t {t} -l {}", quote(BIN), quote(file));
    let (success, screen) = under_pty(&line);
    assert!(success, "{screen}");
    assert!(
        screen.contains(&format!("{n} records delivered")),
        "{screen:?}"
    );
    assert!(screen.contains("KiB/"), "bytes done / total: {screen:?}");
    assert!(screen.contains("/s"), "a rate: {screen:?}");
    assert!(
        screen.contains('\r') || screen.contains("\x1b["),
        "redrawn in place: {screen:?}"
    );

    // A terminal but a pipe for input: no total, no bar.
    let line = format!("cat {} | {} -b {bs} -P -t {t}", quote(file), quote(BIN));
    let (success, screen) = under_pty(&line);
    assert!(success, "{screen}");
    assert!(!screen.contains("records"), "no bar for a pipe: {screen:?}");

    // A file but stderr not a terminal (a pipe): no bar, nothing at all.
    let out = run(&["-b", &bs, "-P", "-t", &t, "-l", file], None);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );

    // -q on a terminal: no bar either.
    let line = format!("{} -q -b {bs} -P -t {t} -l {}", quote(BIN), quote(file));
    let (success, screen) = under_pty(&line);
    assert!(success);
    assert!(!screen.contains("records"), "{screen:?}");

    // Every run delivered the whole file.
    let back = ok(
        &[
            "-b",
            &bs,
            "-C",
            "-t",
            &t,
            "-e",
            "-q",
            "-c",
            &(4 * n).to_string(),
        ],
        None,
    );
    assert_eq!(back.len(), 4 * text.len());
    let _ = fs::remove_file(&path);
}
