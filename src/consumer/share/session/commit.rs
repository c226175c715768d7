//! ShareAcknowledge: what `commit_sync` and `close` send to each leader's
//! share session.

use std::collections::BTreeMap;
use std::time::Instant;

use log::debug;
use parking_lot::Mutex;

use super::{wait_until, Sessions};
use crate::consumer::share::acks::Acks;
use crate::error::Error;
use crate::protocol::api::share_fetch::CLOSE_SESSION_EPOCH;
use crate::protocol::api::{
    ShareAcknowledgePartition, ShareAcknowledgeRequest, ShareAcknowledgeTopic,
};
use crate::protocol::ErrorCode;

impl Sessions {
    /// Sends the acknowledgements owed (ShareAcknowledge to each leader
    /// whose session holds some; with `close`, epoch -1 to every open
    /// session, which then releases what is still acquired and ends).
    /// Returns the refusals.
    pub(crate) fn acknowledge(
        &mut self,
        acks: &Mutex<Acks>,
        close: bool,
        deadline: Instant,
    ) -> Vec<Error> {
        self.drop_orphan_acks(acks);
        let topics = self.topics();
        let mut errors = Vec::new();
        let mut in_flight = Vec::new();
        let leaders: Vec<i32> = self.sessions.keys().copied().collect();
        for leader in leaders {
            let Some(session) = self.sessions.get(&leader) else {
                continue;
            };
            if session.epoch <= 0 {
                continue;
            }
            let mut by_topic: BTreeMap<[u8; 16], Vec<ShareAcknowledgePartition>> = BTreeMap::new();
            {
                let mut acks = acks.lock();
                for tp in acks.owed() {
                    if !session.partitions.contains(&tp) {
                        continue;
                    }
                    let Some(topic_id) = topics.id(&tp.0) else {
                        continue;
                    };
                    let batches = acks.take(&tp);
                    by_topic
                        .entry(topic_id)
                        .or_default()
                        .push(ShareAcknowledgePartition {
                            partition_index: tp.1,
                            acknowledgement_batches: batches,
                        });
                }
            }
            if by_topic.is_empty() && !close {
                continue;
            }
            let request = ShareAcknowledgeRequest {
                group_id: self.group_id.clone(),
                member_id: self.member_id.clone(),
                share_session_epoch: if close {
                    CLOSE_SESSION_EPOCH
                } else {
                    session.epoch
                },
                topics: by_topic
                    .into_iter()
                    .map(|(topic_id, partitions)| ShareAcknowledgeTopic {
                        topic_id,
                        partitions,
                    })
                    .collect(),
            };
            let carried = !request.topics.is_empty();
            let sent = self.connection(leader).and_then(|c| c.send(&request));
            match sent {
                Ok(pending) => in_flight.push((leader, pending, carried)),
                Err(e) => {
                    errors.push(e);
                    self.reset(leader, acks, "the leader could not be reached");
                }
            }
        }
        for (leader, pending, carried) in in_flight {
            match wait_until(pending, deadline) {
                Ok(r) if r.error_code.is_ok() => {
                    if close {
                        self.sessions.remove(&leader);
                    } else if let Some(s) = self.sessions.get_mut(&leader) {
                        s.epoch = s.epoch.wrapping_add(1).max(1);
                    }
                    for topic in r.responses {
                        let name = topics
                            .by_id
                            .get(&topic.topic_id)
                            .map_or_else(|| "?".to_owned(), |m| m.name.clone());
                        for p in topic
                            .partitions
                            .into_iter()
                            .filter(|p| !p.error_code.is_ok())
                        {
                            errors.push(Error::broker(
                                p.error_code,
                                p.error_message,
                                format!(
                                    "acknowledging records of topic `{name}` partition {} \
                                     (ShareAcknowledge)",
                                    p.partition_index
                                ),
                            ));
                        }
                    }
                }
                Ok(r)
                    if close
                        && !carried
                        && matches!(
                            r.error_code,
                            ErrorCode::ShareSessionNotFound | ErrorCode::InvalidShareSessionEpoch
                        ) =>
                {
                    // Closing a session that is gone already, with nothing
                    // to acknowledge: its records are released either way.
                    debug!(
                        "share group `{}`: broker {leader} had closed the share session ({})",
                        self.group_id,
                        r.error_code.name()
                    );
                    self.sessions.remove(&leader);
                }
                Ok(r) => {
                    errors.push(Error::broker(
                        r.error_code,
                        r.error_message,
                        format!(
                            "ShareAcknowledge of share group `{}` to broker {leader}",
                            self.group_id
                        ),
                    ));
                    self.sessions.remove(&leader);
                }
                Err(e) => {
                    errors.push(e);
                    self.sessions.remove(&leader);
                }
            }
        }
        if close {
            self.sessions.clear();
        }
        errors
    }
}
