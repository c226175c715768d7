//! `-P`, `-C`, `-Q` and `-L` end to end: the built binary against the
//! testkit broker (tansu).

mod support;

use std::fmt::Write as _;
use std::fs;

use kafka_sync::{ProducerConfig, Record};
use serde_json::Value;
use support::*;

/// A file of `n` lines `key-i:value-i ...` (UTF-8, with a tab and a colon
/// in the value).
fn keyed_lines(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        writeln!(s, "key-{i}:value {i}\twith:colon é").unwrap();
    }
    s
}

#[test]
fn a_file_of_keyed_lines_with_headers_comes_back_byte_for_byte() {
    let bs = bootstrap();
    let t = topic("cli-file", 1);
    let n = 500;
    let text = keyed_lines(n);
    let dir = std::env::temp_dir().join(kafka_sync::testkit::unique_name("cli-in"));
    fs::write(&dir, &text).unwrap();
    let path = dir.to_str().unwrap();
    let out = run(
        &[
            "-b",
            &bs,
            "-P",
            "-t",
            &t,
            "-K",
            ":",
            "-H",
            "trace=abc",
            "-H",
            "n=1",
            "-l",
            path,
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "no progress or chatter when stderr is not a terminal: {:?}",
        String::from_utf8_lossy(&out.stderr)
    );

    // -f: key, delimiter, value, newline: the file again.
    let back = ok(
        &["-b", &bs, "-C", "-t", &t, "-e", "-q", "-f", "%k:%s\\n"],
        None,
    );
    assert_eq!(String::from_utf8(back).unwrap(), text);

    // kcat's default output with -K: the same.
    let back = ok(&["-b", &bs, "-C", "-t", &t, "-e", "-q", "-K", ":"], None);
    assert_eq!(String::from_utf8(back).unwrap(), text);

    // -J: one envelope per line, keys, values, headers and offsets as sent.
    let json = ok(&["-b", &bs, "-C", "-t", &t, "-e", "-q", "-J"], None);
    let envelopes: Vec<Value> = lines(&json)
        .iter()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(envelopes.len(), n);
    for (i, (e, line)) in envelopes.iter().zip(text.lines()).enumerate() {
        let (key, value) = line.split_once(':').unwrap();
        assert_eq!(e["topic"], t.as_str());
        assert_eq!(e["partition"], 0);
        assert_eq!(e["offset"], i as i64);
        assert_eq!(e["key"], key);
        assert_eq!(e["payload"], value);
        assert_eq!(e["headers"], serde_json::json!(["trace", "abc", "n", "1"]));
        assert_eq!(e["tstype"], "create");
        assert!(e["ts"].as_i64().unwrap() > 0);
    }

    // The other tokens on the first message.
    let first = ok(
        &[
            "-b",
            &bs,
            "-C",
            "-t",
            &t,
            "-c",
            "1",
            "-q",
            "-f",
            "%t|%p|%o|%K|%S|%h|%%\\n",
        ],
        None,
    );
    let value_len = text
        .lines()
        .next()
        .unwrap()
        .split_once(':')
        .unwrap()
        .1
        .len();
    assert_eq!(
        String::from_utf8(first).unwrap(),
        format!("{t}|0|0|5|{value_len}|trace=abc,n=1|%\n")
    );
    // %R: the value's length as 4 big-endian bytes, then the value.
    let framed = ok(
        &["-b", &bs, "-C", "-t", &t, "-c", "1", "-q", "-f", "%R%s"],
        None,
    );
    assert_eq!(&framed[..4], &(value_len as u32).to_be_bytes());
    assert_eq!(framed.len(), 4 + value_len);
    let _ = fs::remove_file(&dir);
}

#[test]
fn binary_values_with_a_custom_delimiter_round_trip_from_stdin() {
    let bs = bootstrap();
    let t = topic("cli-binary", 1);
    // Values with newlines, NULs and bytes that are not UTF-8, split by 0x1e.
    let values: Vec<Vec<u8>> = (0..50u8)
        .map(|i| vec![b'v', i, b'\n', 0, 0xff, i.wrapping_mul(7)])
        .filter(|v| !v.contains(&0x1e))
        .collect();
    let mut input = Vec::new();
    for v in &values {
        input.extend_from_slice(v);
        input.push(0x1e);
    }
    ok(&["-b", &bs, "-P", "-t", &t, "-D", "\\x1e"], Some(&input));
    let back = ok(
        &["-b", &bs, "-C", "-t", &t, "-e", "-q", "-D", "\\x1e"],
        None,
    );
    assert_eq!(back, input);
    // -J keeps non-UTF-8 values whole, in base64.
    let json = ok(
        &["-b", &bs, "-C", "-t", &t, "-e", "-q", "-J", "-c", "1"],
        None,
    );
    let e: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(e["payload"], Value::Null);
    assert!(e["payload_base64"].is_string(), "{e}");
}

#[test]
fn null_keys_and_values_with_z() {
    let bs = bootstrap();
    let t = topic("cli-null", 1);
    // The empty line is skipped, as kcat skips it.
    ok(
        &["-b", &bs, "-P", "-t", &t, "-K", ":", "-Z"],
        Some(b"k1:\n\n:v2\nplain\n"),
    );
    let out = ok(
        &[
            "-b",
            &bs,
            "-C",
            "-t",
            &t,
            "-e",
            "-q",
            "-Z",
            "-f",
            "%k|%s|%K|%S\\n",
        ],
        None,
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "k1|NULL|2|-1\nNULL|v2|-1|2\nNULL|plain|-1|5\n"
    );
}

/// 20 records on one partition, one per batch (a sync producer waits for
/// each), with timestamps 1000 ms apart from `base`.
pub fn twenty_records(t: &str, base: i64) {
    let producer = client()
        .topic(t)
        .unwrap()
        .get_sync_producer(ProducerConfig::default())
        .unwrap();
    for i in 0..20 {
        producer
            .send(
                Record::new(format!("m{i}"))
                    .partition(0)
                    .timestamp(base + i * 1000),
            )
            .unwrap();
    }
}

fn offsets(bs: &str, t: &str, extra: &[&str]) -> Vec<i64> {
    let mut args = vec!["-b", bs, "-C", "-t", t, "-q", "-f", "%o\\n"];
    args.extend_from_slice(extra);
    lines(&ok(&args, None))
        .iter()
        .map(|l| l.parse().unwrap())
        .collect()
}

#[test]
fn offset_variants_start_and_stop_where_asked() {
    let bs = bootstrap();
    let t = topic("cli-offsets", 1);
    let base = 1_700_000_000_000;
    twenty_records(&t, base);
    let all: Vec<i64> = (0..20).collect();
    assert_eq!(offsets(&bs, &t, &["-e"]), all);
    assert_eq!(offsets(&bs, &t, &["-o", "beginning", "-e"]), all);
    assert_eq!(offsets(&bs, &t, &["-o", "end", "-e"]), Vec::<i64>::new());
    assert_eq!(
        offsets(&bs, &t, &["-o", "5", "-e"]),
        (5..20).collect::<Vec<_>>()
    );
    assert_eq!(offsets(&bs, &t, &["-o", "-3", "-e"]), vec![17, 18, 19]);
    assert_eq!(offsets(&bs, &t, &["-o", "-100", "-e"]), all);
    assert_eq!(offsets(&bs, &t, &["-c", "4"]), vec![0, 1, 2, 3]);
    // s@ / e@ (timestamps) are checked on the mock cluster (tests/mock.rs):
    // tansu 0.6.0 answers every timestamp lookup with offset 0.

    // stored: a group's committed offset (committed on exit), then on.
    let group = kafka_sync::testkit::unique_name("cli-stored");
    let g = format!("group.id={group}");
    assert_eq!(
        offsets(&bs, &t, &["-X", &g, "-c", "5"]),
        vec![0, 1, 2, 3, 4]
    );
    assert_eq!(
        offsets(&bs, &t, &["-X", &g, "-o", "stored", "-c", "3"]),
        vec![5, 6, 7]
    );
    let committed = client()
        .admin()
        .list_consumer_group_offsets(&group)
        .unwrap();
    assert_eq!(
        committed.get(&kafka_sync::TopicPartition::new(&t, 0)),
        Some(&8)
    );
}

#[test]
fn partitions_and_end_of_each_partition() {
    let bs = bootstrap();
    let t = topic("cli-parts", 3);
    let mut input = String::new();
    for i in 0..90 {
        writeln!(input, "key{i}:{i}").unwrap();
    }
    ok(
        &["-b", &bs, "-P", "-t", &t, "-K", ":"],
        Some(input.as_bytes()),
    );
    let out = run(
        &["-b", &bs, "-C", "-t", &t, "-e", "-f", "%p %k:%s\\n"],
        None,
    );
    assert!(out.status.success());
    let got = lines(&out.stdout);
    assert_eq!(got.len(), 90, "every record once");
    let mut values: Vec<String> = got
        .iter()
        .map(|l| l.split_once(' ').unwrap().1.into())
        .collect();
    values.sort();
    let mut want: Vec<String> = input.lines().map(str::to_string).collect();
    want.sort();
    assert_eq!(values, want);
    // kcat's end-of-partition notes, one per partition.
    let err = String::from_utf8_lossy(&out.stderr);
    for p in 0..3 {
        assert!(
            err.contains(&format!("Reached end of topic {t} [{p}]")),
            "{err}"
        );
    }
    // -p: one partition only; -P -p writes to it.
    ok(&["-b", &bs, "-P", "-t", &t, "-p", "2"], Some(b"only-two\n"));
    let two = lines(&ok(
        &["-b", &bs, "-C", "-t", &t, "-p", "2", "-o", "-1", "-e", "-q"],
        None,
    ));
    assert_eq!(two, vec!["only-two".to_string()]);
}

#[test]
fn q_answers_the_ends_of_a_partition() {
    // Lookups by time are checked on the mock cluster (tests/mock.rs):
    // tansu 0.6.0 answers every timestamp lookup with offset 0.
    let bs = bootstrap();
    let t = topic("cli-query", 1);
    twenty_records(&t, 1_600_000_000_000);
    let out = ok(
        &[
            "-b",
            &bs,
            "-Q",
            "-t",
            &format!("{t}:0:-2"),
            "-t",
            &format!("{t}:0:-1"),
        ],
        None,
    );
    assert_eq!(
        lines(&out),
        vec![format!("{t} [0] offset 0"), format!("{t} [0] offset 20")]
    );
    let json = ok(&["-b", &bs, "-Q", "-J", "-t", &format!("{t}:0:-1")], None);
    let doc: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(doc[&t]["0"]["offset"], 20);
    assert_eq!(doc[&t]["0"]["partition"], 0);
    let bad = run(&["-b", &bs, "-Q", "-t", &t], None);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("topic:partition:timestamp"));
}

#[test]
fn metadata_lists_brokers_and_topics() {
    let bs = bootstrap();
    let t = topic("cli-meta", 2);
    let text = String::from_utf8(ok(&["-b", &bs, "-L"], None)).unwrap();
    assert!(
        text.contains(&format!("topic \"{t}\" with 2 partitions:")),
        "{text}"
    );
    assert!(text.contains("(controller)"), "{text}");
    let one = String::from_utf8(ok(&["-b", &bs, "-L", "-t", &t], None)).unwrap();
    assert!(one.contains(" 1 topics:"), "{one}");
    let json: Value =
        serde_json::from_slice(&ok(&["-b", &bs, "-L", "-J", "-t", &t], None)).unwrap();
    assert_eq!(json["topics"][0]["topic"], t.as_str());
    assert_eq!(json["topics"][0]["partitions"].as_array().unwrap().len(), 2);
    assert!(!json["brokers"].as_array().unwrap().is_empty());
}
