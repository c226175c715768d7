//! `-G`: two `kafka-sync` processes in one group split the partitions,
//! read every record once between them and commit on SIGINT; then
//! `--admin groups` reports the group. Against the testkit broker (tansu).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use kafka_sync::TopicPartition;
use support::*;

/// A `-G` process whose stdout and stderr lines are collected as they come.
struct Member {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
    readers: Vec<thread::JoinHandle<()>>,
}

impl Member {
    fn start(bs: &str, group: &str, topic: &str) -> Member {
        let mut child = command(&[
            "-b",
            bs,
            "-G",
            group,
            topic,
            "-o",
            "beginning",
            "-f",
            "%p %k\\n",
            "-u",
            "-X",
            "partition.assignment.strategy=range",
            "-X",
            "session.timeout.ms=6000",
            "-X",
            "heartbeat.interval.ms=500",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kafka-sync -G");
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        let stdout = child.stdout.take().unwrap();
        let o = Arc::clone(&out);
        readers.push(thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                o.lock().unwrap().push(line);
            }
        }));
        let stderr = child.stderr.take().unwrap();
        let e = Arc::clone(&err);
        readers.push(thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                e.lock().unwrap().push(line);
            }
        }));
        Member {
            child,
            out,
            err,
            readers,
        }
    }

    /// The partitions of the last "assigned:" line on stderr (range is an
    /// eager assignor: each assignment replaces the last one).
    fn assigned(&self) -> Option<BTreeSet<i32>> {
        let err = self.err.lock().unwrap();
        let last = err.iter().rev().find(|l| l.contains("rebalanced"))?;
        let (_, list) = last.split_once("assigned: ")?;
        Some(
            list.split(", ")
                .filter_map(|tp| tp.rsplit_once('[')?.1.trim_end_matches(']').parse().ok())
                .collect(),
        )
    }

    fn records(&self) -> Vec<(i32, String)> {
        self.out
            .lock()
            .unwrap()
            .iter()
            .map(|l| {
                let (p, k) = l.split_once(' ').unwrap();
                (p.parse().unwrap(), k.to_string())
            })
            .collect()
    }

    /// SIGINT, then waits for a clean exit.
    fn stop(mut self) -> Vec<String> {
        interrupt(&self.child);
        let deadline = std::time::Instant::now() + RUN_TIMEOUT;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("kafka-sync -G did not exit after SIGINT");
            }
            thread::sleep(Duration::from_millis(20));
        };
        for r in self.readers.drain(..) {
            r.join().unwrap();
        }
        let err = self.err.lock().unwrap().clone();
        assert!(
            status.success(),
            "exit after SIGINT: {status}; stderr {err:?}"
        );
        err
    }
}

#[test]
fn two_processes_split_the_partitions_and_commit_on_exit() {
    let bs = bootstrap();
    let t = topic("cli-group", 4);
    let group = kafka_sync::testkit::unique_name("cli-group");
    let a = Member::start(&bs, &group, &t);
    eventually(RUN_TIMEOUT, "the first member has partitions", || {
        a.assigned().is_some_and(|p| !p.is_empty())
    });
    let b = Member::start(&bs, &group, &t);
    eventually(
        RUN_TIMEOUT,
        "the members share the 4 partitions",
        || match (a.assigned(), b.assigned()) {
            (Some(pa), Some(pb)) => {
                !pa.is_empty() && !pb.is_empty() && pa.is_disjoint(&pb) && pa.len() + pb.len() == 4
            }
            _ => false,
        },
    );
    let (pa, pb) = (a.assigned().unwrap(), b.assigned().unwrap());

    let n = 200;
    let mut input = String::new();
    for i in 0..n {
        writeln!(input, "key-{i}:v{i}").unwrap();
    }
    ok(
        &["-b", &bs, "-P", "-t", &t, "-K", ":"],
        Some(input.as_bytes()),
    );
    eventually(RUN_TIMEOUT, "every record is read", || {
        a.records().len() + b.records().len() >= n
    });
    // A moment for a duplicate to show up, were there one.
    thread::sleep(Duration::from_millis(500));
    let (ra, rb) = (a.records(), b.records());
    assert!(
        ra.iter().all(|(p, _)| pa.contains(p)),
        "a read only its partitions"
    );
    assert!(
        rb.iter().all(|(p, _)| pb.contains(p)),
        "b read only its partitions"
    );
    assert!(
        !ra.is_empty() && !rb.is_empty(),
        "both read: {} and {}",
        ra.len(),
        rb.len()
    );
    let mut keys: Vec<String> = ra.iter().chain(&rb).map(|(_, k)| k.clone()).collect();
    keys.sort();
    let mut want: Vec<String> = (0..n).map(|i| format!("key-{i}")).collect();
    want.sort();
    assert_eq!(keys, want, "every record exactly once");
    let mut per_partition: BTreeMap<i32, i64> = BTreeMap::new();
    for (p, _) in ra.iter().chain(&rb) {
        *per_partition.entry(*p).or_default() += 1;
    }

    let err_a = a.stop();
    let err_b = b.stop();
    assert!(
        err_a.iter().chain(&err_b).all(|l| !l.contains("ERROR")),
        "{err_a:?} {err_b:?}"
    );

    // Committed on exit: every partition at the count read from it.
    let committed = client()
        .admin()
        .list_consumer_group_offsets(&group)
        .unwrap();
    for (p, count) in &per_partition {
        assert_eq!(
            committed.get(&TopicPartition::new(&t, *p)),
            Some(count),
            "{committed:?}"
        );
    }
    // --admin groups lag shows the same offsets; list names the group.
    let lag =
        String::from_utf8(ok(&["-b", &bs, "--admin", "groups", "lag", &group], None)).unwrap();
    for (p, count) in &per_partition {
        assert!(
            lag.contains(&format!("{t} [{p}]\tcommitted {count}\t")),
            "{lag}"
        );
    }
    let list = String::from_utf8(ok(&["-b", &bs, "--admin", "groups", "list"], None)).unwrap();
    assert!(list.lines().any(|l| l.starts_with(&group)), "{list}");
    let json: serde_json::Value = serde_json::from_slice(&ok(
        &["-b", &bs, "-J", "--admin", "groups", "lag", &group],
        None,
    ))
    .unwrap();
    assert_eq!(
        json["partitions"].as_array().unwrap().len(),
        per_partition.len()
    );
}

#[test]
fn g_with_e_reads_to_the_end_and_exits() {
    let bs = bootstrap();
    let t = topic("cli-group-e", 2);
    let group = kafka_sync::testkit::unique_name("cli-group-e");
    let mut input = String::new();
    for i in 0..50 {
        writeln!(input, "k{i}:{i}").unwrap();
    }
    ok(
        &["-b", &bs, "-P", "-t", &t, "-K", ":"],
        Some(input.as_bytes()),
    );
    let args = [
        "-b",
        &bs,
        "-G",
        &group,
        &t,
        "-o",
        "beginning",
        "-e",
        "-q",
        "-K",
        ":",
        "-X",
        "session.timeout.ms=6000",
        "-X",
        "heartbeat.interval.ms=500",
    ];
    let mut got = lines(&ok(&args, None));
    got.sort();
    let mut want: Vec<String> = input.lines().map(str::to_string).collect();
    want.sort();
    assert_eq!(got, want);
    // Committed on exit: a second run has nothing left.
    assert!(ok(&args, None).is_empty());
}
