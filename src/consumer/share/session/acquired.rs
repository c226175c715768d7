//! The records a ShareFetch answer acquired for this member: the answer's
//! batches are whole stored batches, so only the offsets in
//! `acquired_records` are handed out, each with its delivery count.

use std::collections::BTreeMap;

use log::{error, warn};
use parking_lot::Mutex;

use super::{Sessions, MAX_GAP_RANGE};
use crate::consumer::decode::PartitionRead;
use crate::consumer::share::acks::{Acks, Tp};
use crate::consumer::Message;
use crate::protocol::api::share_fetch::acknowledge_type;
use crate::protocol::api::{IsolationLevel, ShareFetchPartitionResponse};
use crate::protocol::records::crc::FrameSums;
use crate::protocol::records::DecodeOptions;

impl Sessions {
    /// The acquired records of one partition: the answer's batches hold
    /// other records too (a batch is returned whole). Acquired offsets
    /// with no record (compacted away, control records) are acknowledged
    /// as gaps; acquired records that do not decode are released.
    pub(super) fn acquired(
        &self,
        tp: &Tp,
        p: &ShareFetchPartitionResponse,
        acks: &Mutex<Acks>,
    ) -> Vec<Message> {
        let first = p
            .acquired_records
            .iter()
            .map(|a| a.first_offset)
            .min()
            .unwrap_or(0);
        let read = PartitionRead {
            topic: &tp.0,
            partition: tp.1,
            fetch_offset: first,
            isolation_level: IsolationLevel::ReadUncommitted,
            options: DecodeOptions::default(),
            sums: FrameSums::NONE,
        };
        // ShareFetch answers are decoded into owned buffers (not yet slices of
        // the frame, as Fetch answers are): one copy per partition answer.
        let records = bytes::Bytes::from(p.records.clone().unwrap_or_default());
        let decoded = read.decode(&records, &[], usize::MAX);
        let broken_from = decoded.error.as_ref().map(|(offset, e)| {
            error!(
                "share group `{}`: records of `{}` partition {} from offset {offset} do not \
                 decode ({e}); releasing them",
                self.group_id, tp.0, tp.1
            );
            *offset
        });
        let mut by_offset: BTreeMap<i64, Message> = decoded
            .messages
            .into_iter()
            .map(|m| (m.offset(), m))
            .collect();
        let mut out = Vec::new();
        let mut acks = acks.lock();
        for range in &p.acquired_records {
            let count = u16::try_from(range.delivery_count.max(1)).unwrap_or(1);
            if range.last_offset < range.first_offset
                || range.last_offset - range.first_offset > MAX_GAP_RANGE
            {
                warn!(
                    "share group `{}`: ignoring acquired range {}..={} of `{}` partition {}",
                    self.group_id, range.first_offset, range.last_offset, tp.0, tp.1
                );
                continue;
            }
            for offset in range.first_offset..=range.last_offset {
                match by_offset.remove(&offset) {
                    Some(mut m) => {
                        m.set_delivery_count(count);
                        out.push(m);
                    }
                    None if broken_from.is_some_and(|b| offset >= b) => {
                        acks.owe(tp.clone(), offset, acknowledge_type::RELEASE);
                    }
                    None => acks.owe(tp.clone(), offset, acknowledge_type::GAP),
                }
            }
        }
        out.sort_by_key(Message::offset);
        out
    }
}
