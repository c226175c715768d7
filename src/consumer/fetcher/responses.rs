//! The fetcher's handling of Fetch responses: records into the queue,
//! partition errors into retries, metadata refreshes, offset resets or a
//! queued error.

use std::sync::Arc;

use bytes::Bytes;

use log::{debug, error, warn};

use crate::error::Error;
use crate::net::Frame;
use crate::protocol::api::FetchPartitionResponse;
use crate::protocol::records::crc::FrameSums;
use crate::protocol::ErrorCode;

use super::{FetchResult, Fetcher, Sent};
use crate::consumer::config::OffsetReset;
use crate::consumer::decode::PartitionRead;
use crate::consumer::offsets::reset_offsets;

impl Fetcher {
    pub(super) fn handle(&mut self, leader: i32, parts: &[Sent], result: FetchResult) {
        let (response, frame) = match result {
            Ok(ok) => ok,
            Err(e) => return self.leader_failed(leader, &e),
        };
        // Messages are slices of the frame (no copy); its buffer goes back
        // to the connection's reader (or is freed) when the last of them is
        // dropped. Its block sums count from the frame's
        // first byte, wherever it lies.
        let Frame {
            bytes: frame,
            block_sums,
        } = frame;
        let sums = FrameSums::new(&frame, &block_sums);
        self.leader_failures.remove(&leader);
        if response.error_code != ErrorCode::None {
            warn!(
                "fetch from broker {leader} failed for {}: {}",
                self.shared.label,
                response.error_code.name()
            );
            self.metadata_stale = true;
            let at = crate::time::after(self.retry_backoff);
            for s in parts {
                self.partition_retry_at.insert(s.key(), at);
            }
            return;
        }
        let mut resets = Vec::new();
        let mut answered = vec![false; parts.len()];
        for topic in &response.responses {
            // Named up to Fetch v12, by topic id from v13 (KIP-516).
            let Some(name) = self.response_topic(&topic.topic, &topic.topic_id) else {
                continue;
            };
            for p in &topic.partitions {
                let sent = parts
                    .iter()
                    .position(|s| s.partition == p.partition_index && *s.topic == *name);
                if let Some(i) = sent {
                    answered[i] = true;
                    self.handle_partition(&parts[i], p, &frame, sums, &mut resets);
                }
            }
        }
        // A full fetch answers every partition it asked for; one left out
        // (tansu leaves out the partitions of a deleted topic) is treated as
        // a leader error: metadata is refreshed, which tells a deleted topic.
        for (sent, _) in parts.iter().zip(answered).filter(|(_, a)| !a) {
            debug!(
                "fetch from broker {leader}: no answer for topic `{}` partition {}; \
                 refreshing metadata",
                sent.topic, sent.partition
            );
            self.metadata_stale = true;
            self.partition_retry_at
                .insert(sent.key(), crate::time::after(self.retry_backoff));
        }
        if !resets.is_empty() {
            self.reset(&resets);
        }
    }

    /// The name of a topic in a response: its name, or the one of the
    /// fetched topic with its id.
    fn response_topic(&self, name: &str, topic_id: &[u8; 16]) -> Option<Arc<str>> {
        self.meta
            .iter()
            .find(|(t, m)| {
                if name.is_empty() {
                    m.topic_id == *topic_id && *topic_id != [0; 16]
                } else {
                    ***t == *name
                }
            })
            .map(|(t, _)| Arc::clone(t))
            .or_else(|| (!name.is_empty()).then(|| Arc::from(name)))
    }

    fn handle_partition(
        &mut self,
        sent: &Sent,
        p: &FetchPartitionResponse,
        frame: &Bytes,
        sums: FrameSums<'_>,
        resets: &mut Vec<Sent>,
    ) {
        let topic = Arc::clone(&sent.topic);
        // Built only when something goes wrong: this runs for every partition answer.
        let context = || format!("fetching topic `{topic}` partition {}", sent.partition);
        match p.error_code {
            ErrorCode::None => {}
            ErrorCode::OffsetOutOfRange if self.settings.reset != OffsetReset::Error => {
                resets.push(sent.clone());
                return;
            }
            code if is_leader_error(code) || code.is_retriable() => {
                if is_leader_error(code) {
                    self.metadata_stale = true;
                }
                debug!("{}: {}; retrying", context(), code.name());
                self.partition_retry_at
                    .insert(sent.key(), crate::time::after(self.retry_backoff));
                return;
            }
            code => {
                let error = Error::broker(
                    code,
                    None,
                    format!("{} at offset {}", context(), sent.offset),
                );
                error!("{error}");
                self.fail(sent, Some(sent.offset), error);
                return;
            }
        }
        let Some(bytes) = p.records_in(frame).map(|records| frame.slice_ref(records)) else {
            let error = Error::protocol(context(), "the records lie outside the response");
            self.fail(sent, Some(sent.offset), error);
            return;
        };
        let read = PartitionRead {
            topic: &topic,
            partition: sent.partition,
            fetch_offset: sent.offset,
            isolation_level: self.settings.isolation_level,
            options: self.settings.decode,
            sums,
        };
        // Room in the queue only grows while we decode (the caller takes).
        let budget = self
            .shared
            .lock()
            .partition(&sent.topic, sent.partition)
            .map_or(0, |state| state.byte_room(self.shared.limits));
        let decoded = read.decode(&bytes, &p.aborted_transactions, budget);
        let failure = match decoded.error {
            Some((offset, e)) => Some((
                offset,
                Error::decode(format!("{}: corrupt data at offset {offset}", context()), e),
            )),
            None if decoded.truncated_batch => Some((
                decoded.next_offset,
                Error::Protocol {
                    decode: None,
                    context: format!("{} at offset {}", context(), decoded.next_offset),
                    detail: "the record batch there is larger than the fetch allowed; raise \
                             max_partition_fetch_bytes and fetch_max_bytes"
                        .into(),
                },
            )),
            None => None,
        };
        let delivered = !decoded.messages.is_empty() || failure.is_some();
        {
            let mut state = self.shared.lock();
            let Some(state) = state.partition_mut(&sent.topic, sent.partition) else {
                return;
            };
            if state.epoch != sent.epoch || state.fetch_offset != Some(sent.offset) {
                return;
            }
            state.high_watermark = p.high_watermark;
            state.push_messages(decoded.messages, decoded.bytes);
            state.fetch_offset = Some(decoded.next_offset);
            if let Some(pending) = decoded.pending {
                state.resume_at = Some(pending.next_offset);
                state.pending = Some(Box::new(pending));
                state.waiting_for_room = true;
            }
            if let Some((offset, error)) = failure {
                error!("{error}");
                state.fail(Some(offset), error);
            }
        }
        if delivered {
            self.shared.notify_ready();
        }
    }

    /// Queues `error` for the partition, unless a seek overtook the fetch.
    fn fail(&self, sent: &Sent, offset: Option<i64>, error: Error) {
        {
            let mut state = self.shared.lock();
            let Some(state) = state.partition_mut(&sent.topic, sent.partition) else {
                return;
            };
            if state.epoch != sent.epoch || state.fetch_offset != Some(sent.offset) {
                return;
            }
            state.fail(offset, error);
        }
        self.shared.notify_ready();
    }

    /// Applies the reset policy to partitions whose offset fell out of range.
    fn reset(&mut self, resets: &[Sent]) {
        let mut topics: Vec<&Arc<str>> = resets.iter().map(|s| &s.topic).collect();
        topics.sort();
        topics.dedup();
        for topic in topics {
            let of_topic: Vec<Sent> = resets
                .iter()
                .filter(|s| s.topic == *topic)
                .cloned()
                .collect();
            self.reset_topic(topic, &of_topic);
        }
    }

    fn reset_topic(&mut self, topic: &Arc<str>, resets: &[Sent]) {
        let partitions: Vec<i32> = resets.iter().map(|s| s.partition).collect();
        match reset_offsets(&self.client, topic, &partitions, self.settings.reset) {
            Ok(offsets) => {
                let mut state = self.shared.lock();
                for s in resets {
                    let (Some(p), Some(&offset)) = (
                        state.partition_mut(topic, s.partition),
                        offsets.get(&s.partition),
                    ) else {
                        continue;
                    };
                    if p.epoch == s.epoch && p.fetch_offset == Some(s.offset) {
                        warn!(
                            "offset {} of topic `{topic}` partition {} is out of range; \
                             resetting to {offset} ({:?})",
                            s.offset, s.partition, self.settings.reset
                        );
                        p.fetch_offset = Some(offset);
                    }
                }
            }
            Err(e) => {
                warn!("resetting offsets of topic `{topic}` {partitions:?} failed: {e}; retrying");
                let at = crate::time::after(self.retry_backoff);
                for s in resets {
                    self.partition_retry_at.insert(s.key(), at);
                }
            }
        }
    }
}

/// Errors that mean the partition's leader is not where metadata said.
fn is_leader_error(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::NotLeaderOrFollower
            | ErrorCode::LeaderNotAvailable
            | ErrorCode::UnknownTopicOrPartition
            | ErrorCode::FencedLeaderEpoch
            | ErrorCode::UnknownLeaderEpoch
            | ErrorCode::ReplicaNotAvailable
            | ErrorCode::KafkaStorageError
            | ErrorCode::OffsetNotAvailable
            | ErrorCode::UnknownTopicId
            | ErrorCode::InconsistentTopicId
            | ErrorCode::FetchSessionTopicIdError
    )
}
