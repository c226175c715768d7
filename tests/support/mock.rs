//! What the tests on librdkafka's mock cluster (`testkit::MockCluster`)
//! share: a 3-broker cluster, a client with the version caps its bugs need, faults run on
//! another thread while a producer or a consumer works, delivery reports
//! counted, and every partition read back and compared with what was
//! produced.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafka_sync::testkit::MockCluster;
use kafka_sync::{KafkaClient, OffsetReset, SimpleConsumerConfig};

use super::LONG;

/// A 3-broker mock cluster; `MOCK_TEST_DEBUG=mock,protocol` turns on
/// librdkafka's debug log in the helper's log file.
pub fn cluster() -> MockCluster {
    let debug = std::env::var("MOCK_TEST_DEBUG").unwrap_or_default();
    MockCluster::builder()
        .brokers(3)
        .debug(debug)
        .start()
        .expect("the mock cluster starts")
}

/// A client for the mock at `bootstrap` (which may name other hosts too),
/// with the version caps its group API bugs need
/// (`MockCluster::API_VERSION_CAPS`) and a 10 s request timeout.
pub fn client(bootstrap: &str) -> KafkaClient {
    MockCluster::API_VERSION_CAPS
        .iter()
        .fold(KafkaClient::builder().hosts(bootstrap), |b, &(api, v)| {
            b.max_api_version(api, v)
        })
        .request_timeout(Duration::from_secs(10))
        .build()
        .expect("the client bootstraps against the mock cluster")
}

/// Runs `fault(round)` every `period` on another thread while `work` runs;
/// returns what `work` returned and how many rounds ran. No fault runs
/// once `work` has returned.
pub fn while_faulting<T: Send>(
    period: Duration,
    fault: impl Fn(usize) + Send + Sync,
    work: impl FnOnce() -> T + Send,
) -> (T, usize) {
    let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
    std::thread::scope(|s| {
        let faults = s.spawn(|| {
            let mut round = 0;
            // Until `stop` is dropped, which disconnects the channel.
            while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(period)
            {
                round += 1;
                fault(round);
            }
            round
        });
        let result = work();
        drop(stop);
        (result, faults.join().unwrap())
    })
}

/// Takes `records` delivery reports from `reports` (failing the test when
/// one does not come within [`LONG`]) and returns how many were errors,
/// printing the first few.
pub fn count_failed_reports(
    reports: &kafka_sync::producer::DeliveryReports,
    records: usize,
) -> usize {
    let (mut ok, mut failed) = (0, 0);
    while ok + failed < records {
        match reports.recv_timeout(LONG) {
            Ok(report) if report.is_ok() => ok += 1,
            Ok(report) => {
                failed += 1;
                if failed <= 5 {
                    eprintln!("failed delivery: {:?}", report.result);
                }
            }
            Err(_) => panic!("only {} of {records} delivery reports arrived", ok + failed),
        }
    }
    failed
}

/// Reads every partition of `topic` that `want` names from the beginning
/// until they hold as many records as `want` says, and a little longer, to
/// see duplicates that arrive after them (or [`LONG`] passes); returns the
/// values per partition.
pub fn read_back(
    client: &KafkaClient,
    topic: &str,
    want: &BTreeMap<i32, Vec<String>>,
) -> BTreeMap<i32, Vec<String>> {
    read_back_with(client, topic, want, SimpleConsumerConfig::default())
}

/// [`read_back`] with a consumer configured by `config` (its partitions and
/// offset reset are set here).
pub fn read_back_with(
    client: &KafkaClient,
    topic: &str,
    want: &BTreeMap<i32, Vec<String>>,
    config: SimpleConsumerConfig,
) -> BTreeMap<i32, Vec<String>> {
    let total: usize = want.values().map(Vec::len).sum();
    let consumer = client
        .topic(topic)
        .unwrap()
        .get_simple_consumer(
            config
                .partitions(want.keys().copied())
                .auto_offset_reset(OffsetReset::Earliest),
        )
        .unwrap();
    let mut got: BTreeMap<i32, Vec<String>> = want.keys().map(|&p| (p, Vec::new())).collect();
    let mut count = 0;
    let deadline = Instant::now() + LONG;
    let mut quiet_since: Option<Instant> = None;
    loop {
        if Instant::now() >= deadline {
            // Which partitions fell short, and where the consumer stands on
            // them, tells a stalled fetch from records that never came.
            let short: Vec<String> = want
                .iter()
                .filter(|(p, w)| got[p].len() < w.len())
                .map(|(p, w)| {
                    format!(
                        "partition {p}: {} of {} (position {:?})",
                        got[p].len(),
                        w.len(),
                        consumer.position(*p)
                    )
                })
                .collect();
            panic!("read {count} of {total} records back; short: {short:?}");
        }
        match consumer.consume(Duration::from_millis(200)).unwrap() {
            Some(message) => {
                got.get_mut(&message.partition())
                    .unwrap()
                    .push(String::from_utf8_lossy(message.value_bytes()).into_owned());
                count += 1;
                quiet_since = None;
            }
            None if count >= total => {
                let since = *quiet_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_millis(500) {
                    break;
                }
            }
            None => {}
        }
    }
    got
}

/// Over every partition of `want`: records read more than once, and
/// adjacent pairs read in the opposite order from the one they were
/// produced in; fails the test when a partition lost records or holds
/// another's.
pub fn duplicates_and_inversions(
    got: &BTreeMap<i32, Vec<String>>,
    want: &BTreeMap<i32, Vec<String>>,
) -> (usize, usize) {
    let (mut duplicates, mut inversions) = (0, 0);
    for (partition, want) in want {
        let got = &got[partition];
        let distinct: BTreeSet<&String> = got.iter().collect();
        let wanted: BTreeSet<&String> = want.iter().collect();
        assert_eq!(
            distinct, wanted,
            "partition {partition} lost or misplaced records"
        );
        duplicates += got.len() - distinct.len();
        let index: BTreeMap<&String, usize> =
            want.iter().enumerate().map(|(i, v)| (v, i)).collect();
        inversions += got
            .windows(2)
            .filter(|w| index[&w[0]] > index[&w[1]])
            .count();
    }
    (duplicates, inversions)
}
