//! What the KIP-848 tests (`GroupProtocol::Consumer` on librdkafka's mock
//! cluster) share: a mock with short consumer-group heartbeat and session
//! settings, a member's settings, records produced and read, and
//! [`Group`]: members of one group read by threads of their own, with a
//! check that no partition has two owners.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_sync::testkit::{unique_name, MockCluster};
use kafka_sync::{
    BalancedConsumer, BalancedConsumerConfig, GroupProtocol, KafkaClient, OffsetReset,
    ProducerConfig, TopicPartition,
};

use super::{mock, DEADLINE, LONG};

/// The heartbeat interval the mock tells members to keep.
pub const HEARTBEAT: Duration = Duration::from_millis(200);

/// A 3-broker mock cluster with a short KIP-848 heartbeat interval and
/// session timeout; `MOCK_TEST_DEBUG=mock,protocol` turns on librdkafka's
/// debug log in the helper's log file.
pub fn cluster() -> MockCluster {
    let cluster = mock::cluster();
    cluster
        .set_group_consumer_heartbeat_interval(HEARTBEAT)
        .unwrap();
    cluster
        .set_group_consumer_session_timeout(Duration::from_secs(6))
        .unwrap();
    cluster
}

pub fn client(cluster: &MockCluster) -> KafkaClient {
    super::log_to_stderr_if("KIP848_TEST_LOG");
    mock::client(cluster.bootstrap())
}

/// A consumer-protocol member's settings: from the beginning, a client-side
/// session bound of 6 s (the mock's), commits every 300 ms.
pub fn config() -> BalancedConsumerConfig {
    BalancedConsumerConfig::default()
        .group_protocol(GroupProtocol::Consumer)
        .auto_offset_reset(OffsetReset::Earliest)
        .session_timeout(Duration::from_secs(6))
        .auto_commit(Duration::from_millis(300))
        .fetch_max_wait(Duration::from_millis(100))
        .close_timeout(Duration::from_secs(5))
}

pub fn all(topic: &str, partitions: i32) -> BTreeSet<TopicPartition> {
    (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect()
}

/// Produces `records` values `v0…` keyed over the partitions; returns them.
pub fn produce(client: &KafkaClient, topic: &str, records: usize) -> BTreeSet<String> {
    produce_labeled(client, topic, "v", records)
}

/// Produces `records` values `{label}0…` keyed over the partitions; returns
/// them.
pub fn produce_labeled(
    client: &KafkaClient,
    topic: &str,
    label: &str,
    records: usize,
) -> BTreeSet<String> {
    let producer = client
        .topic(topic)
        .unwrap()
        .get_producer(ProducerConfig::default())
        .unwrap();
    let mut values = BTreeSet::new();
    for i in 0..records {
        let value = format!("{label}{i}");
        producer
            .produce_keyed(format!("k{i}"), value.clone())
            .unwrap();
        values.insert(value);
    }
    producer.producer().flush(DEADLINE).unwrap();
    values
}

/// Reads from `consumer` until `want` values were seen (or fails after
/// `DEADLINE`).
pub fn read_values(consumer: &BalancedConsumer, want: usize) -> BTreeSet<String> {
    let mut values = BTreeSet::new();
    let deadline = Instant::now() + DEADLINE;
    while values.len() < want {
        assert!(
            Instant::now() < deadline,
            "read {} of {want} records; assignment {:?}",
            values.len(),
            consumer.assignment()
        );
        if let Some(message) = consumer.consume(Duration::from_millis(100)).unwrap() {
            values.insert(String::from_utf8_lossy(message.value_bytes()).into_owned());
        }
    }
    values
}

pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Members of one group, each read by a thread of its own, and what they
/// read.
pub struct Group<'a> {
    pub client: &'a KafkaClient,
    pub topic: String,
    pub group: String,
    pub config: BalancedConsumerConfig,
    pub members: parking_lot::Mutex<BTreeMap<usize, Arc<BalancedConsumer>>>,
    /// Every value read, with the members that read it.
    pub seen: parking_lot::Mutex<BTreeMap<String, Vec<usize>>>,
    /// Ownership checks made.
    pub samples: std::sync::atomic::AtomicUsize,
    /// Members whose threads do not poll for now.
    pub paused: parking_lot::Mutex<BTreeSet<usize>>,
}

impl<'a> Group<'a> {
    pub fn new(client: &'a KafkaClient, topic: &str, config: BalancedConsumerConfig) -> Self {
        Group {
            client,
            topic: topic.to_owned(),
            group: unique_name("kip848-group"),
            config,
            members: Default::default(),
            seen: Default::default(),
            samples: Default::default(),
            paused: Default::default(),
        }
    }

    /// Starts member `index` and the thread that reads it until it is
    /// stopped (then drops it: it commits and leaves).
    pub fn join<'s>(&'s self, s: &'s std::thread::Scope<'s, '_>, index: usize) {
        let member = Arc::new(
            self.client
                .topic(&self.topic)
                .unwrap()
                .get_balanced_consumer(&self.group, self.config.clone())
                .unwrap(),
        );
        self.members.lock().insert(index, Arc::clone(&member));
        s.spawn(move || {
            while self.members.lock().contains_key(&index) {
                if self.paused.lock().contains(&index) {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                if let Some(m) = member.consume(Duration::from_millis(50)).unwrap() {
                    let value = String::from_utf8_lossy(m.value_bytes()).into_owned();
                    self.seen.lock().entry(value).or_default().push(index);
                }
            }
        });
    }

    /// Stops member `index`: its thread ends and the last handle's drop
    /// leaves the group.
    pub fn leave(&self, index: usize) {
        self.members.lock().remove(&index);
    }

    pub fn member(&self, index: usize) -> Arc<BalancedConsumer> {
        Arc::clone(&self.members.lock()[&index])
    }

    pub fn snapshot(&self) -> Vec<(usize, Arc<BalancedConsumer>)> {
        self.members
            .lock()
            .iter()
            .map(|(i, m)| (*i, Arc::clone(m)))
            .collect()
    }

    /// The members' assignments once they are disjoint, cover `want` and
    /// read alike twice in a row.
    pub fn split(&self) -> Option<BTreeMap<usize, BTreeSet<TopicPartition>>> {
        let read = || -> BTreeMap<usize, BTreeSet<TopicPartition>> {
            self.snapshot()
                .into_iter()
                .map(|(i, m)| (i, m.assignment()))
                .collect()
        };
        let first = read();
        std::thread::sleep(Duration::from_millis(100));
        (read() == first).then_some(first)
    }

    /// Checks that no partition has two owners now. The assignments are
    /// read one member after another, then the first pass again: a
    /// partition in member x's first read, in a later member y's read, and
    /// in x's second read was owned by both when y was read.
    pub fn check_owners(&self) {
        let members = self.snapshot();
        let first: Vec<BTreeSet<TopicPartition>> =
            members.iter().map(|(_, m)| m.assignment()).collect();
        let again: Vec<BTreeSet<TopicPartition>> =
            members.iter().map(|(_, m)| m.assignment()).collect();
        for x in 0..members.len() {
            for y in x + 1..members.len() {
                let both: Vec<&TopicPartition> = first[x]
                    .intersection(&first[y])
                    .filter(|tp| again[x].contains(*tp))
                    .collect();
                assert!(
                    both.is_empty(),
                    "members {} and {} both own {both:?}",
                    members[x].0,
                    members[y].0
                );
            }
        }
        self.samples
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Waits until the split has `count` members, each owning `each`
    /// partitions (counts in member order), covering every partition.
    pub fn wait_split(&self, partitions: &BTreeSet<TopicPartition>, each: &[usize]) {
        let deadline = Instant::now() + LONG;
        loop {
            if let Some(split) = self.split() {
                let mut sizes: Vec<usize> = split.values().map(BTreeSet::len).collect();
                sizes.sort_unstable();
                let union: BTreeSet<TopicPartition> = split.values().flatten().cloned().collect();
                if sizes == each && &union == partitions {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no split of sizes {each:?}: {:?}",
                self.split()
            );
        }
    }
}

/// Produces keyed values `p0…` until `stop` is dropped; returns them.
pub fn produce_until(
    client: &KafkaClient,
    topic: &str,
    stop: &crossbeam_channel::Receiver<()>,
) -> BTreeSet<String> {
    let producer = client
        .topic(topic)
        .unwrap()
        .get_producer(ProducerConfig::default().linger(Duration::from_millis(5)))
        .unwrap();
    let mut values = BTreeSet::new();
    let mut i = 0usize;
    while stop.recv_timeout(Duration::from_millis(2))
        == Err(crossbeam_channel::RecvTimeoutError::Timeout)
    {
        let value = format!("p{i}");
        producer
            .produce_keyed(format!("k{i}"), value.clone())
            .unwrap();
        values.insert(value);
        i += 1;
    }
    producer.producer().flush(DEADLINE).unwrap();
    values
}
