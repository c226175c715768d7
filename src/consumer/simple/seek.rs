//! Moving a simple consumer's positions: to an offset, the beginning or
//! end of partitions, or the first offset at a time.

use std::collections::BTreeMap;

use log::debug;

use crate::error::{Error, Result};

use super::super::config::OffsetReset;
use super::super::offsets::reset_offsets;
use super::SimpleConsumer;

impl SimpleConsumer {
    /// Moves `partition` to `offset`: the next message from it will be the
    /// one at `offset` (or the first after it). Queued messages of the
    /// partition are dropped, and a stopped partition starts again.
    ///
    /// # Errors
    /// [`Error::Config`] for a partition this consumer does not read or a
    /// negative offset.
    pub fn seek(&self, partition: i32, offset: i64) -> Result<()> {
        if offset < 0 {
            return Err(Error::Config(format!(
                "cannot seek partition {partition} to negative offset {offset}; \
                 use seek_to_beginning or seek_to_end"
            )));
        }
        self.seek_all(&BTreeMap::from([(partition, offset)]))
    }

    pub(super) fn seek_all(&self, offsets: &BTreeMap<i32, i64>) -> Result<()> {
        let mut state = self.shared.lock();
        for &p in offsets.keys() {
            if state.partition(self.topic.name(), p).is_none() {
                // `not_assigned` lists the partitions, which takes the lock.
                drop(state);
                return Err(self.not_assigned(p));
            }
        }
        for (&p, &offset) in offsets {
            if let Some(state) = state.partition_mut(self.topic.name(), p) {
                debug!(
                    "seek topic `{}` partition {p} to {offset}",
                    self.topic.name()
                );
                state.seek(Some(offset));
            }
        }
        drop(state);
        self.shared.poke_fetcher();
        Ok(())
    }

    pub(super) fn not_assigned(&self, partition: i32) -> Error {
        Error::Config(format!(
            "partition {partition} of topic `{}` is not read by this consumer (it reads {:?})",
            self.topic.name(),
            self.partitions()
        ))
    }

    /// `partitions`, or every partition when it is empty.
    pub(super) fn chosen(&self, partitions: &[i32]) -> Result<Vec<i32>> {
        if partitions.is_empty() {
            return Ok(self.partitions());
        }
        let read = self.partitions();
        for &p in partitions {
            if read.binary_search(&p).is_err() {
                return Err(self.not_assigned(p));
            }
        }
        Ok(partitions.to_vec())
    }

    /// Moves `partitions` (all when empty) to their oldest stored offset.
    pub fn seek_to_beginning(&self, partitions: &[i32]) -> Result<()> {
        let chosen = self.chosen(partitions)?;
        let offsets = reset_offsets(
            self.topic.client(),
            self.topic.name(),
            &chosen,
            OffsetReset::Earliest,
        )?;
        self.seek_all(&offsets)
    }

    /// Moves `partitions` (all when empty) to their end: only messages
    /// produced from now on are read.
    pub fn seek_to_end(&self, partitions: &[i32]) -> Result<()> {
        let chosen = self.chosen(partitions)?;
        let offsets = reset_offsets(
            self.topic.client(),
            self.topic.name(),
            &chosen,
            OffsetReset::Latest,
        )?;
        self.seek_all(&offsets)
    }

    /// Moves every partition to its first message with a timestamp at or
    /// after `timestamp_ms` (milliseconds since the Unix epoch); partitions
    /// with no such message move to their end.
    pub fn seek_to_time(&self, timestamp_ms: i64) -> Result<()> {
        let found = self.topic.offsets_for_time(timestamp_ms)?;
        let mut offsets: BTreeMap<i32, i64> = BTreeMap::new();
        let mut at_end = Vec::new();
        for p in self.partitions() {
            match found.get(&p).copied().flatten() {
                Some(listed) => {
                    offsets.insert(p, listed.offset);
                }
                None => at_end.push(p),
            }
        }
        offsets.extend(reset_offsets(
            self.topic.client(),
            self.topic.name(),
            &at_end,
            OffsetReset::Latest,
        )?);
        self.seek_all(&offsets)
    }
}
