//! `-o s@TS`, `-o e@TS` and `-Q` with a time. Neither real broker here
//! looks offsets up by time (tansu 0.6.0 answers offset 0, librdkafka's mock
//! cluster -1), so these run against the scripted broker of
//! `support::timed_broker`, which answers as Kafka does.

mod support;

use support::timed_broker::TimedBroker;
use support::*;

const BASE: i64 = 1_700_000_000_000;

/// 20 records at BASE, BASE + 1 s, ...
fn broker() -> TimedBroker {
    TimedBroker::start(
        "timed",
        (0..20)
            .map(|i| (BASE + i * 1000, format!("m{i}")))
            .collect(),
    )
}

fn offsets(bs: &str, extra: &[&str]) -> Vec<i64> {
    let mut args = vec!["-b", bs, "-C", "-t", "timed", "-q", "-f", "%o %T\\n"];
    args.extend_from_slice(extra);
    lines(&ok(&args, None))
        .iter()
        .map(|l| {
            let (o, ts) = l.split_once(' ').unwrap();
            let o: i64 = o.parse().unwrap();
            assert_eq!(
                ts.parse::<i64>().unwrap(),
                BASE + o * 1000,
                "%T is the record's time"
            );
            o
        })
        .collect()
}

fn at(ms: i64) -> String {
    (BASE + ms).to_string()
}

#[test]
fn start_and_stop_at_times() {
    let b = broker();
    let bs = b.bootstrap();
    let from = |o: i64| (o..20).collect::<Vec<_>>();
    assert_eq!(offsets(&bs, &["-e"]), from(0));
    assert_eq!(
        offsets(&bs, &["-o", &format!("s@{}", at(7000)), "-e"]),
        from(7)
    );
    assert_eq!(
        offsets(&bs, &["-o", &format!("s@{}", at(7500)), "-e"]),
        from(8)
    );
    // e@: ends the run before the first record at or after the time.
    assert_eq!(
        offsets(
            &bs,
            &[
                "-o",
                &format!("s@{}", at(7000)),
                "-o",
                &format!("e@{}", at(12_000))
            ]
        ),
        (7..12).collect::<Vec<_>>()
    );
    assert_eq!(
        offsets(&bs, &["-o", &format!("e@{}", at(3000))]),
        vec![0, 1, 2]
    );
    // Past every record: s@ starts at the end, e@ reads to the end.
    assert!(offsets(&bs, &["-o", &format!("s@{}", at(100_000)), "-e"]).is_empty());
    assert_eq!(
        offsets(&bs, &["-o", &format!("e@{}", at(100_000))]),
        from(0)
    );
    // A time before every record: all of them.
    assert_eq!(
        offsets(&bs, &["-o", "s@1", "-o", &format!("e@{}", at(2000))]),
        vec![0, 1]
    );
}

#[test]
fn q_looks_offsets_up_by_time() {
    let b = broker();
    let bs = b.bootstrap();
    let q = |spec: &str| format!("timed:0:{spec}");
    let out = ok(
        &[
            "-b",
            &bs,
            "-Q",
            "-t",
            &q(&at(7000)),
            "-t",
            &q(&at(7500)),
            "-t",
            &q("-2"),
            "-t",
            &q("-1"),
            "-t",
            &q(&at(100_000)),
        ],
        None,
    );
    assert_eq!(
        lines(&out),
        vec![
            "timed [0] offset 7",
            "timed [0] offset 8",
            "timed [0] offset 0",
            "timed [0] offset 20",
            "timed [0] offset -1",
        ]
    );
    let json: serde_json::Value =
        serde_json::from_slice(&ok(&["-b", &bs, "-Q", "-J", "-t", &q(&at(0))], None)).unwrap();
    assert_eq!(json["timed"]["0"]["offset"], 0);
}
