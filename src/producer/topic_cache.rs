//! A [`TopicProducer`](super::TopicProducer)'s copy of its topic's metadata,
//! so that `produce` does not look the topic up in the client's cache (a
//! read lock, a hash of the name and a clock read) for every record.
//!
//! The copy is used while the client's metadata generation is unchanged (no
//! Metadata answer was applied since it was taken) and for at most
//! [`RECHECK_MS`] of wall-clock time; then the client's cache is asked again
//! (which also applies `metadata_max_age`). A wall clock that jumps only
//! makes it ask sooner.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::cluster::TopicMetadata;
use crate::KafkaClient;

/// How long a copy is used before the client's cache is asked again, in
/// milliseconds of wall-clock time.
const RECHECK_MS: i64 = 1000;

#[derive(Default)]
pub(crate) struct TopicCache(Mutex<Option<Entry>>);

struct Entry {
    meta: Arc<TopicMetadata>,
    generation: u64,
    taken_ms: i64,
}

impl std::fmt::Debug for TopicCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicCache").finish_non_exhaustive()
    }
}

impl TopicCache {
    /// The copy, if it is still current at `now_ms` (wall clock).
    pub(crate) fn get(&self, client: &KafkaClient, now_ms: i64) -> Option<Arc<TopicMetadata>> {
        let entry = self.0.lock();
        let entry = entry.as_ref()?;
        let age = now_ms.wrapping_sub(entry.taken_ms);
        ((0..RECHECK_MS).contains(&age) && client.metadata_generation() == entry.generation)
            .then(|| Arc::clone(&entry.meta))
    }

    /// Keeps `meta`, read from the client's cache after its generation was
    /// `generation`, at `now_ms`.
    pub(crate) fn put(&self, meta: &Arc<TopicMetadata>, generation: u64, now_ms: i64) {
        *self.0.lock() = Some(Entry {
            meta: Arc::clone(meta),
            generation,
            taken_ms: now_ms,
        });
    }
}
