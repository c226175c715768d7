//! Mixed KIP-848 groups on librdkafka's mock cluster: a kafka-sync member
//! (`GroupProtocol::Consumer`) and a confluent-kafka 2.16.1 member with
//! `group.protocol=consumer` (tests/peers/group_consumer_rdkafka.py, strategy `kip848`)
//! share a topic, each joining first in turn. The broker assigns; both
//! revoke before the other takes over, so no partition has two owners at a
//! stable point, no record is read twice and none is lost.
#![cfg(feature = "testkit")]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_sync::testkit::unique_name;
use kafka_sync::{
    BalancedConsumer, BalancedConsumerConfig, GroupProtocol, KafkaClient, OffsetReset,
};
use parking_lot::Mutex;
use support::group_protocol::{cluster, produce_labeled, wait_for};
use support::{mock, peers, LONG};

const PARTITIONS: i32 = 4;

/// What the confluent-kafka member did, from its output.
#[derive(Default)]
struct Peer {
    owned: BTreeSet<i32>,
    values: Vec<String>,
    closed: bool,
}

/// Starts the peer for `seconds` and follows its output.
fn spawn_peer(
    bootstrap: &str,
    group: &str,
    topic: &str,
    seconds: u32,
) -> (Child, Arc<Mutex<Peer>>) {
    let mut child = peers::spawn(
        "group_consumer_rdkafka.py",
        &[bootstrap, group, topic, "kip848", &seconds.to_string()],
    );
    let peer: Arc<Mutex<Peer>> = Arc::default();
    let stdout = child.stdout.take().expect("piped stdout");
    let state = Arc::clone(&peer);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let mut peer = state.lock();
            let partitions = || -> Vec<i32> {
                let list = line.rsplit('[').next().and_then(|s| s.split(']').next());
                list.unwrap_or("")
                    .split(',')
                    .filter_map(|p| p.trim().parse().ok())
                    .collect()
            };
            if line.contains("\"message\"") {
                let value = line
                    .split("\"value\": \"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or_default();
                peer.values.push(value.to_owned());
            } else if line.contains("\"assign\"") {
                peer.owned.extend(partitions());
            } else if line.contains("\"revoke\"") || line.contains("\"lost\"") {
                for p in partitions() {
                    peer.owned.remove(&p);
                }
            } else if line.contains("\"closed\"") {
                peer.closed = true;
            }
        }
    });
    (child, peer)
}

/// Our member, read by a thread of its own until it is closed.
struct Ours {
    consumer: Arc<BalancedConsumer>,
    values: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    stop: Option<crossbeam_channel::Sender<()>>,
}

impl Ours {
    fn start(client: &KafkaClient, topic: &str, group: &str) -> Ours {
        let consumer = Arc::new(
            client
                .topic(topic)
                .unwrap()
                .get_balanced_consumer(
                    group,
                    BalancedConsumerConfig::default()
                        .group_protocol(GroupProtocol::Consumer)
                        .auto_offset_reset(OffsetReset::Earliest)
                        .session_timeout(Duration::from_secs(6))
                        .auto_commit(Duration::from_millis(300))
                        .fetch_max_wait(Duration::from_millis(100)),
                )
                .unwrap(),
        );
        let values: Arc<Mutex<Vec<String>>> = Arc::default();
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let reader = {
            let consumer = Arc::clone(&consumer);
            let values = Arc::clone(&values);
            std::thread::spawn(move || {
                while stopped.try_recv() == Err(crossbeam_channel::TryRecvError::Empty) {
                    if let Some(m) = consumer.consume(Duration::from_millis(50)).unwrap() {
                        values
                            .lock()
                            .push(String::from_utf8_lossy(m.value_bytes()).into_owned());
                    }
                }
            })
        };
        Ours {
            consumer,
            values,
            reader: Some(reader),
            stop: Some(stop),
        }
    }

    fn owned(&self) -> BTreeSet<i32> {
        self.consumer
            .assignment()
            .iter()
            .map(|tp| tp.partition)
            .collect()
    }

    /// Stops reading, commits and leaves the group.
    fn close(mut self) -> Vec<String> {
        drop(self.stop.take());
        self.reader.take().unwrap().join().unwrap();
        Arc::try_unwrap(self.consumer)
            .expect("only the test holds the consumer")
            .close()
            .unwrap();
        self.values.lock().clone()
    }
}

/// Waits until `ours` and `peer` own `want` between them (`ours` and
/// `peer` sizes as asked), reading both twice 200 ms apart alike; every
/// stable reading on the way must be disjoint.
fn wait_split(ours: &Ours, peer: &Mutex<Peer>, ours_size: usize, peer_size: usize) {
    let deadline = Instant::now() + LONG;
    let all: BTreeSet<i32> = (0..PARTITIONS).collect();
    loop {
        let first = (ours.owned(), peer.lock().owned.clone());
        std::thread::sleep(Duration::from_millis(200));
        let second = (ours.owned(), peer.lock().owned.clone());
        if first == second {
            let (mine, theirs) = second;
            assert!(
                mine.is_disjoint(&theirs),
                "partitions with two owners: ours {mine:?}, confluent-kafka's {theirs:?}"
            );
            let union: BTreeSet<i32> = mine.union(&theirs).copied().collect();
            if union == all && mine.len() == ours_size && theirs.len() == peer_size {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no split {ours_size}+{peer_size}: ours {:?}, confluent-kafka's {:?}",
            ours.owned(),
            peer.lock().owned
        );
    }
}

/// Checks that every produced value was read exactly once by one member.
fn assert_read_once(produced: &BTreeSet<String>, ours: &[String], peer: &[String]) {
    let mut count: BTreeMap<&String, usize> = BTreeMap::new();
    for v in ours.iter().chain(peer) {
        *count.entry(v).or_default() += 1;
    }
    let read: BTreeSet<String> = count.keys().map(|v| (*v).clone()).collect();
    let lost: Vec<&String> = produced.difference(&read).take(5).collect();
    assert!(lost.is_empty(), "records lost, e.g. {lost:?}");
    let twice: Vec<&&String> = count
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(v, _)| v)
        .take(5)
        .collect();
    assert!(twice.is_empty(), "records read twice, e.g. {twice:?}");
    assert!(!ours.is_empty() && !peer.is_empty(), "both members read");
}

#[test]
fn a_confluent_kafka_member_joins_and_leaves_a_group_kafka_sync_started() {
    let cluster = cluster();
    let topic = unique_name("kip848-mixed-ours");
    cluster.create_topic(&topic, PARTITIONS, 3).unwrap();
    let client = mock::client(cluster.bootstrap());
    let group = unique_name("kip848-mixed-ours");
    let mut produced = produce_labeled(&client, &topic, "a", 200);
    let ours = Ours::start(&client, &topic, &group);
    wait_for("our member to own everything", || ours.owned().len() == 4);
    let (mut child, peer) = spawn_peer(cluster.bootstrap(), &group, &topic, 10);
    wait_split(&ours, &peer, 2, 2);
    produced.extend(produce_labeled(&client, &topic, "b", 200));
    wait_for("the peer to leave", || peer.lock().closed);
    wait_split(&ours, &peer, 4, 0);
    produced.extend(produce_labeled(&client, &topic, "c", 100));
    wait_for("every record read", || {
        ours.values.lock().len() + peer.lock().values.len() >= produced.len()
    });
    std::thread::sleep(Duration::from_millis(500));
    let _ = child.wait();
    let ours_values = ours.close();
    assert_read_once(&produced, &ours_values, &peer.lock().values);
}

#[test]
fn kafka_sync_joins_and_leaves_a_group_a_confluent_kafka_member_started() {
    let cluster = cluster();
    let topic = unique_name("kip848-mixed-theirs");
    cluster.create_topic(&topic, PARTITIONS, 3).unwrap();
    let client = mock::client(cluster.bootstrap());
    let group = unique_name("kip848-mixed-theirs");
    let mut produced = produce_labeled(&client, &topic, "a", 200);
    let (mut child, peer) = spawn_peer(cluster.bootstrap(), &group, &topic, 15);
    wait_for("the peer to own everything", || {
        peer.lock().owned.len() == 4
    });
    let ours = Ours::start(&client, &topic, &group);
    wait_split(&ours, &peer, 2, 2);
    produced.extend(produce_labeled(&client, &topic, "b", 200));
    wait_for("our member to read", || !ours.values.lock().is_empty());
    let ours_values = ours.close();
    wait_for("the peer to own everything again", || {
        peer.lock().owned.len() == 4
    });
    produced.extend(produce_labeled(&client, &topic, "c", 100));
    wait_for("every record read", || {
        ours_values.len() + peer.lock().values.len() >= produced.len()
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(!peer.lock().closed, "the peer stayed for the whole test");
    let _ = child.kill();
    let _ = child.wait();
    assert_read_once(&produced, &ours_values, &peer.lock().values);
}
