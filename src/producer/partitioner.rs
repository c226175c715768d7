//! Partitioners: which partition a record without an explicit one goes to.
//!
//! Keyed records are hashed with murmur2 exactly as the Java client does
//! (`Utils.toPositive(Utils.murmur2(key)) % partitions`), which is also what
//! librdkafka's `murmur2_random` partitioner computes, so every client of a
//! topic puts a key on the same partition. Records without a key are spread by
//! sticky partitioning (KIP-480, with the byte-based switch of KIP-794): they
//! stick to one random partition until about a batch worth of bytes has gone
//! there, so batches fill up instead of each partition getting a trickle.
//!
//! # References
//! Kafka `Utils.murmur2` and `BuiltInPartitioner`; KIP-480 (sticky
//! partitioner), KIP-794 (uniform sticky partitioner); librdkafka
//! `rd_kafka_msg_partitioner_murmur2_random`.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use parking_lot::Mutex;

/// Picks a partition for a record that names none.
///
/// Implemented for closures `Fn(&str, Option<&[u8]>, i32) -> i32` taking the
/// topic, the key and the partition count. The returned partition must lie in
/// `0..partition_count`; anything else fails that record's `produce` with a
/// configuration error.
///
/// ```
/// use kafka_sync::producer::{murmur2_partition, ProducerConfig};
/// // All keys starting with "vip-" go to partition 0, the rest are hashed.
/// let config = ProducerConfig::default().partitioner(
///     |_topic: &str, key: Option<&[u8]>, partitions: i32| match key {
///         Some(k) if k.starts_with(b"vip-") => 0,
///         Some(k) => murmur2_partition(k, partitions),
///         None => 0,
///     },
/// );
/// ```
pub trait Partitioner: Send + Sync {
    /// The partition for a record of `topic` with `key`, among `partition_count`.
    fn partition(&self, topic: &str, key: Option<&[u8]>, partition_count: i32) -> i32;
}

impl<F> Partitioner for F
where
    F: Fn(&str, Option<&[u8]>, i32) -> i32 + Send + Sync,
{
    fn partition(&self, topic: &str, key: Option<&[u8]>, partition_count: i32) -> i32 {
        self(topic, key, partition_count)
    }
}

/// The partitioning strategies.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Partitioning {
    /// murmur2 of the key, as the Java client; sticky partitioning for records
    /// without a key. The default, as in the Java producer.
    #[default]
    Default,
    /// murmur2 of the key; a random partition per record without a key, as
    /// librdkafka's `murmur2_random`.
    Murmur2Random,
    /// Every record to the next partition in turn, key or not.
    RoundRobin,
    /// Every record to a random partition, key or not.
    Random,
    /// A user-supplied partitioner.
    Custom(Arc<dyn Partitioner>),
}

impl fmt::Debug for Partitioning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Partitioning::Default => "Default",
            Partitioning::Murmur2Random => "Murmur2Random",
            Partitioning::RoundRobin => "RoundRobin",
            Partitioning::Random => "Random",
            Partitioning::Custom(_) => "Custom",
        })
    }
}

/// Kafka's murmur2 hash (seed `0x9747b28c`), bit for bit as the Java client's
/// `Utils.murmur2`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if let Some(&first) = tail.first() {
        h ^= u32::from(first);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition the Java client (and librdkafka's `murmur2_random`) picks
/// for `key` among `partition_count`: `(murmur2(key) & 0x7fffffff) % count`.
/// `partition_count` must be positive.
pub fn murmur2_partition(key: &[u8], partition_count: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % partition_count.max(1)
}

/// Per-topic state of the built-in strategies.
#[derive(Debug, Default)]
struct TopicState {
    sticky: Option<i32>,
    sticky_bytes: usize,
    round_robin: u32,
}

/// Applies a [`Partitioning`] with the state it needs (sticky partitions,
/// round-robin counters, a random generator).
pub(crate) struct PartitionChooser {
    partitioning: Partitioning,
    batch_size: usize,
    state: Mutex<(HashMap<Arc<str>, TopicState>, Rng)>,
}

impl PartitionChooser {
    pub(crate) fn new(partitioning: Partitioning, batch_size: usize) -> Self {
        PartitionChooser {
            partitioning,
            batch_size,
            state: Mutex::new((HashMap::new(), Rng::new())),
        }
    }

    /// The partition for a record of `size` bytes; `partition_count` > 0.
    /// Unkeyed round-robin and sticky choices skip partitions for which
    /// `has_leader` is false while any partition has one, as the Java
    /// client does (keyed and random choices do not: a key's partition must
    /// not depend on leadership).
    pub(crate) fn choose(
        &self,
        topic: &Arc<str>,
        key: Option<&[u8]>,
        partition_count: i32,
        size: usize,
        has_leader: impl Fn(i32) -> bool,
    ) -> i32 {
        let count = partition_count.max(1);
        match (&self.partitioning, key) {
            (Partitioning::Custom(p), _) => p.partition(topic, key, count),
            (Partitioning::Default | Partitioning::Murmur2Random, Some(key)) => {
                murmur2_partition(key, count)
            }
            (Partitioning::Murmur2Random | Partitioning::Random, _) => {
                self.state.lock().1.below(count)
            }
            (Partitioning::RoundRobin, _) => {
                let mut state = self.state.lock();
                let topic_state = topic_state(&mut state.0, topic);
                let p = (topic_state.round_robin % count as u32) as i32;
                let p = with_leader(p, count, &has_leader);
                // Continue after the partition actually chosen.
                topic_state.round_robin = (p as u32).wrapping_add(1);
                p
            }
            (Partitioning::Default, None) => {
                let mut guard = self.state.lock();
                let (topics, rng) = &mut *guard;
                let topic_state = topic_state(topics, topic);
                let current = topic_state.sticky.filter(|p| *p < count);
                let p = match current {
                    Some(p) if topic_state.sticky_bytes < self.batch_size => p,
                    _ => {
                        // Move on to another partition, never the same one twice.
                        let mut next = rng.below(count);
                        if count > 1 && Some(next) == current {
                            next = (next + 1 + rng.below(count - 1)) % count;
                        }
                        let next = with_leader(next, count, &has_leader);
                        topic_state.sticky = Some(next);
                        topic_state.sticky_bytes = 0;
                        next
                    }
                };
                topic_state.sticky_bytes += size;
                p
            }
        }
    }
}

/// `p`, or the first partition after it (wrapping) that has a leader; `p`
/// itself when none has.
fn with_leader(p: i32, count: i32, has_leader: &impl Fn(i32) -> bool) -> i32 {
    (0..count)
        .map(|i| (p + i) % count)
        .find(|&q| has_leader(q))
        .unwrap_or(p)
}

fn topic_state<'a>(
    topics: &'a mut HashMap<Arc<str>, TopicState>,
    topic: &Arc<str>,
) -> &'a mut TopicState {
    topics.entry(Arc::clone(topic)).or_default()
}

/// xorshift64*: fast, seeded per producer; not for cryptography.
#[derive(Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new() -> Self {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(0x5eed);
        Rng(h.finish() | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: i32) -> i32 {
        ((self.next_u64() >> 33) % n.max(1) as u64) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From the Java client's `UtilsTest.testMurmur2` and librdkafka's
    /// `rdmurmur2.c` unit test.
    #[test]
    fn murmur2_matches_the_java_client() {
        let cases: [(&[u8], i32); 11] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            (b"abc", 479470107),
            (b"string-f-24-chars-length", 124730809),
            (b"string-fo-25-chars-length", 1269511650),
            (b"string-foo-26-chars-length", 119165628),
            (b"string-last-27-chars-length", 1089971754),
            (b"kafka", 0xd067cf64_u32 as i32),
        ];
        for (key, expected) in cases {
            assert_eq!(murmur2(key), expected, "{}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn murmur2_of_short_keys_matches_published_values() {
        for (key, expected) in [
            ("1", -1993445489),
            ("12", 126087238),
            ("123", -267702483),
            ("1234", -1614185708),
            ("12345", -1188365604),
        ] {
            assert_eq!(murmur2(key.as_bytes()), expected, "{key}");
        }
    }

    #[test]
    fn keyed_partition_is_the_positive_hash_modulo_the_count() {
        // murmur2("21") = -973932308; & 0x7fffffff = 1173551340.
        assert_eq!(murmur2_partition(b"21", 7), 1173551340 % 7);
        let chooser = PartitionChooser::new(Partitioning::Default, 16384);
        let topic: Arc<str> = Arc::from("t");
        assert_eq!(
            chooser.choose(&topic, Some(b"21"), 7, 10, |_| true),
            1173551340 % 7
        );
    }

    #[test]
    fn sticky_partitioning_stays_until_a_batch_worth_of_bytes() {
        let chooser = PartitionChooser::new(Partitioning::Default, 1000);
        let topic: Arc<str> = Arc::from("t");
        let first = chooser.choose(&topic, None, 8, 100, |_| true);
        for _ in 0..9 {
            assert_eq!(chooser.choose(&topic, None, 8, 100, |_| true), first);
        }
        assert_ne!(chooser.choose(&topic, None, 8, 100, |_| true), first);
    }

    #[test]
    fn round_robin_visits_every_partition_in_turn() {
        let chooser = PartitionChooser::new(Partitioning::RoundRobin, 1000);
        let topic: Arc<str> = Arc::from("t");
        let seen: Vec<i32> = (0..6)
            .map(|_| chooser.choose(&topic, Some(b"k"), 3, 1, |_| true))
            .collect();
        assert_eq!(seen, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn random_partitions_stay_in_range_and_spread() {
        let chooser = PartitionChooser::new(Partitioning::Random, 1000);
        let topic: Arc<str> = Arc::from("t");
        let mut hits = [0; 4];
        for _ in 0..4000 {
            let p = chooser.choose(&topic, None, 4, 1, |_| true);
            hits[p as usize] += 1;
        }
        assert!(hits.iter().all(|&h| h > 800), "{hits:?}");
    }

    #[test]
    fn a_closure_is_a_partitioner() {
        let chooser = PartitionChooser::new(
            Partitioning::Custom(Arc::new(|_: &str, _: Option<&[u8]>, n: i32| n - 1)),
            1000,
        );
        assert_eq!(chooser.choose(&Arc::from("t"), None, 5, 1, |_| true), 4);
    }

    #[test]
    fn unkeyed_choices_skip_partitions_without_a_leader() {
        let topic: Arc<str> = Arc::from("t");
        let leaderless = |p: i32| p != 1 && p != 2;
        let round_robin = PartitionChooser::new(Partitioning::RoundRobin, 1000);
        let seen: Vec<i32> = (0..4)
            .map(|_| round_robin.choose(&topic, None, 4, 1, leaderless))
            .collect();
        assert_eq!(seen, [0, 3, 0, 3]);
        let sticky = PartitionChooser::new(Partitioning::Default, 10);
        for _ in 0..50 {
            let p = sticky.choose(&topic, None, 4, 10, leaderless);
            assert!(p == 0 || p == 3, "{p}");
        }
        // Keys keep their partition whatever the leadership.
        let keyed = PartitionChooser::new(Partitioning::Default, 1000);
        assert_eq!(
            keyed.choose(&topic, Some(b"21"), 7, 10, |_| false),
            1173551340 % 7
        );
    }

    #[test]
    fn with_no_leader_anywhere_the_choice_is_unchanged() {
        let topic: Arc<str> = Arc::from("t");
        let round_robin = PartitionChooser::new(Partitioning::RoundRobin, 1000);
        let seen: Vec<i32> = (0..3)
            .map(|_| round_robin.choose(&topic, None, 3, 1, |_| false))
            .collect();
        assert_eq!(seen, [0, 1, 2]);
    }
}
