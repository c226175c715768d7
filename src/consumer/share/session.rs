//! Share sessions and the requests that use them: ShareFetch (acquire
//! records, piggyback acknowledgements) and ShareAcknowledge (commit,
//! close), one session per partition leader.
//!
//! A session opens with epoch 0 and the full partition set, then each
//! request carries the next epoch and only the changes (partitions added,
//! partitions forgotten) and the acknowledgements for partitions in it. A
//! session a broker no longer knows (`SHARE_SESSION_NOT_FOUND`,
//! `INVALID_SHARE_SESSION_EPOCH`, a dropped connection) is gone with its
//! locks: the broker released its records for redelivery, so what was
//! owed for them is dropped and the next fetch opens a new session.
//! Runs on the caller's thread, under the consumer's fetch lock; the
//! [`Acks`] lock is taken only between network calls.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, warn};
use parking_lot::Mutex;

mod acquired;
mod commit;

use super::acks::{Acks, Tp};
use super::config::ShareConsumerConfig;
use super::member::Membership;
use crate::cluster::{duration_ms, KafkaClient, TopicMetadata};
use crate::error::{Error, Result};
use crate::net::Connection;
use crate::protocol::api::share_fetch::OPEN_SESSION_EPOCH;
use crate::protocol::api::{
    ShareFetchPartition, ShareFetchPartitionResponse, ShareFetchRequest, ShareFetchResponse,
    ShareFetchTopic, ShareForgottenTopic,
};
use crate::protocol::ErrorCode;

/// Longest acquired range whose missing offsets are acknowledged as gaps;
/// a longer one is a broker bug, not something to loop over.
const MAX_GAP_RANGE: i64 = 1 << 20;

/// Waits for `pending` until `deadline` or its request timeout, whichever
/// comes first.
fn wait_until<R: crate::protocol::Request>(
    pending: crate::net::PendingResponse<R>,
    deadline: Instant,
) -> Result<R::Response> {
    match pending
        .receiver()
        .recv_deadline(deadline.min(pending.deadline()))
    {
        Ok(frame) => pending.decode(frame),
        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
            Err(Error::Closed("share consumer's leader connection"))
        }
        Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(Error::timeout(
            crate::TimeoutKind::Request,
            format!(
                "waiting for the answer to api {} (the caller's timeout or request_timeout)",
                R::API_KEY
            ),
        )),
    }
}

/// One leader's share session.
#[derive(Debug, Default)]
struct Session {
    /// The epoch of the next request; 0 while no session is open.
    epoch: i32,
    /// The partitions in the session.
    partitions: BTreeSet<Tp>,
}

/// The subscribed topics' metadata, by name and by id.
#[derive(Default)]
struct Topics {
    by_id: HashMap<[u8; 16], Arc<TopicMetadata>>,
    names: HashMap<Arc<str>, [u8; 16]>,
}

impl Topics {
    fn id(&self, name: &str) -> Option<[u8; 16]> {
        self.names.get(name).copied()
    }
}

/// The share sessions of one consumer.
pub(crate) struct Sessions {
    client: KafkaClient,
    group_id: String,
    member_id: String,
    topics: Vec<String>,
    config: ShareConsumerConfig,
    sessions: BTreeMap<i32, Session>,
    /// Topic names, interned so messages share them.
    interned: HashMap<String, Arc<str>>,
    /// A connection of its own per leader: a ShareFetch the broker holds
    /// for `fetch_max_wait` must not delay the client's other requests to
    /// that broker (heartbeats, metadata) on a pooled one.
    connections: BTreeMap<i32, Connection>,
    /// When a leader that could not be reached may be tried again.
    backoff_until: BTreeMap<i32, Instant>,
}

/// What a request was for, to update its session from the answer.
struct Sent {
    leader: i32,
    epoch: i32,
    added: BTreeSet<Tp>,
    forgotten: BTreeSet<Tp>,
    acked: BTreeSet<Tp>,
}

impl Sessions {
    pub(crate) fn new(
        client: KafkaClient,
        group_id: String,
        member_id: String,
        topics: Vec<String>,
        config: ShareConsumerConfig,
    ) -> Self {
        Sessions {
            client,
            group_id,
            member_id,
            topics,
            config,
            sessions: BTreeMap::new(),
            interned: HashMap::new(),
            connections: BTreeMap::new(),
            backoff_until: BTreeMap::new(),
        }
    }

    /// The connection to `leader`, opened if needed (not within
    /// `retry_backoff` of a failed attempt).
    fn connection(&mut self, leader: i32) -> Result<&Connection> {
        if self
            .connections
            .get(&leader)
            .is_some_and(Connection::is_closed)
        {
            self.connections.remove(&leader);
        }
        if !self.connections.contains_key(&leader) {
            if let Some(until) = self.backoff_until.get(&leader) {
                if Instant::now() < *until {
                    return Err(Error::NoBrokerAvailable(format!(
                        "broker {leader} failed moments ago; retrying after retry_backoff"
                    )));
                }
            }
            match self.client.dedicated_connection(leader) {
                Ok(conn) => {
                    self.backoff_until.remove(&leader);
                    self.connections.insert(leader, conn);
                }
                Err(e) => {
                    self.backoff_until.insert(
                        leader,
                        crate::time::after(self.client.config().retry_backoff()),
                    );
                    return Err(e);
                }
            }
        }
        Ok(self
            .connections
            .get(&leader)
            .expect("the connection was just checked or inserted"))
    }

    fn intern(&mut self, name: &str) -> Arc<str> {
        Arc::clone(
            self.interned
                .entry(name.to_owned())
                .or_insert_with(|| Arc::from(name)),
        )
    }

    /// The subscribed topics' metadata (cached by the client).
    fn topics(&self) -> Topics {
        let mut t = Topics::default();
        for name in &self.topics {
            match self.client.topic_metadata(name) {
                Ok(meta) => {
                    t.names.insert(Arc::from(name.as_str()), meta.topic_id);
                    t.by_id.insert(meta.topic_id, meta);
                }
                Err(e) => debug!("share group `{}`: topic `{name}`: {e}", self.group_id),
            }
        }
        t
    }

    /// The assigned partitions, by leader.
    fn wanted(
        &mut self,
        topics: &Topics,
        assignment: &BTreeMap<[u8; 16], Vec<i32>>,
    ) -> BTreeMap<i32, BTreeSet<Tp>> {
        let mut wanted: BTreeMap<i32, BTreeSet<Tp>> = BTreeMap::new();
        for (topic_id, partitions) in assignment {
            let Some(meta) = topics.by_id.get(topic_id) else {
                debug!(
                    "share group `{}`: assigned topic id {topic_id:02x?} is not subscribed here",
                    self.group_id
                );
                continue;
            };
            let name = self.intern(&meta.name);
            for &p in partitions {
                match meta.partition(p).and_then(|p| p.leader).filter(|l| *l >= 0) {
                    Some(leader) => {
                        wanted
                            .entry(leader)
                            .or_default()
                            .insert((Arc::clone(&name), p));
                    }
                    None => {
                        let _ = self.client.refresh_topic(&meta.name);
                    }
                }
            }
        }
        wanted
    }

    /// Forgets a session the broker no longer has.
    fn reset(&mut self, leader: i32, acks: &Mutex<Acks>, why: &str) {
        if let Some(session) = self.sessions.remove(&leader) {
            acks.lock().forget(&session.partitions, why);
        }
    }

    /// One ShareFetch to every leader of the assignment (and to every open
    /// session with acknowledgements or partitions to forget), in parallel,
    /// waiting at most until `deadline`. Acquired records go to `acks`'
    /// buffer. Returns whether any request was sent.
    ///
    /// # Errors
    /// A top-level answer that retrying cannot cure (authorization, an
    /// invalid request).
    pub(crate) fn fetch(
        &mut self,
        acks: &Mutex<Acks>,
        membership: &Mutex<Membership>,
        deadline: Instant,
    ) -> Result<bool> {
        let assignment = membership.lock().assignment.clone();
        let topics = self.topics();
        let wanted = self.wanted(&topics, &assignment);
        self.drop_orphan_acks(acks);
        let leaders: BTreeSet<i32> = wanted.keys().chain(self.sessions.keys()).copied().collect();
        let max_wait = deadline
            .saturating_duration_since(Instant::now())
            .min(self.config.fetch_max_wait);
        let mut in_flight = Vec::new();
        for leader in leaders {
            let want = wanted.get(&leader).cloned().unwrap_or_default();
            let Some((request, sent)) = self.fetch_request(leader, want, &topics, acks, max_wait)
            else {
                continue;
            };
            let sent_request = self.connection(leader).and_then(|c| c.send(&request));
            match sent_request {
                Ok(pending) => in_flight.push((pending, sent)),
                Err(e) => {
                    warn!(
                        "share group `{}`: ShareFetch to broker {leader}: {e}",
                        self.group_id
                    );
                    self.reset(leader, acks, "the request could not be sent");
                }
            }
        }
        let any = !in_flight.is_empty();
        let mut fatal = None;
        for (pending, sent) in in_flight {
            match pending.wait() {
                Ok(response) => {
                    if let Err(e) = self.fetched(&sent, response, &topics, acks) {
                        fatal.get_or_insert(e);
                    }
                }
                Err(e) => {
                    warn!(
                        "share group `{}`: ShareFetch from broker {}: {e}",
                        self.group_id, sent.leader
                    );
                    self.reset(sent.leader, acks, "the connection failed");
                }
            }
        }
        fatal.map_or(Ok(any), Err)
    }

    /// Drops acknowledgements owed for partitions in no open session.
    fn drop_orphan_acks(&self, acks: &Mutex<Acks>) {
        let mut acks = acks.lock();
        let orphans: BTreeSet<Tp> = acks
            .owed()
            .into_iter()
            .filter(|tp| {
                !self
                    .sessions
                    .values()
                    .any(|s| s.epoch > 0 && s.partitions.contains(tp))
            })
            .collect();
        if !orphans.is_empty() {
            acks.forget(&orphans, "their share session ended");
        }
    }

    /// The next ShareFetch for `leader`, or `None` when there is nothing
    /// to ask it.
    fn fetch_request(
        &mut self,
        leader: i32,
        want: BTreeSet<Tp>,
        topics: &Topics,
        acks: &Mutex<Acks>,
        max_wait: Duration,
    ) -> Option<(ShareFetchRequest, Sent)> {
        let session = self.sessions.entry(leader).or_default();
        let opening = session.epoch == OPEN_SESSION_EPOCH;
        let (added, forgotten, acked): (BTreeSet<Tp>, BTreeSet<Tp>, BTreeSet<Tp>) = if opening {
            (want.clone(), BTreeSet::new(), BTreeSet::new())
        } else {
            let owed: BTreeSet<Tp> = acks
                .lock()
                .owed()
                .into_iter()
                .filter(|tp| session.partitions.contains(tp))
                .collect();
            (
                want.difference(&session.partitions).cloned().collect(),
                session.partitions.difference(&want).cloned().collect(),
                owed,
            )
        };
        if opening && added.is_empty() {
            self.sessions.remove(&leader);
            return None;
        }
        if !opening && want.is_empty() && forgotten.is_empty() && acked.is_empty() {
            return None;
        }
        let mut by_topic: BTreeMap<[u8; 16], Vec<ShareFetchPartition>> = BTreeMap::new();
        {
            let mut acks = acks.lock();
            acks.unbuffer(&forgotten);
            for tp in added.union(&acked) {
                let Some(topic_id) = topics.id(&tp.0) else {
                    continue;
                };
                by_topic
                    .entry(topic_id)
                    .or_default()
                    .push(ShareFetchPartition {
                        partition_index: tp.1,
                        acknowledgement_batches: if acked.contains(tp) {
                            acks.take(tp)
                        } else {
                            Vec::new()
                        },
                    });
            }
        }
        let mut forgotten_topics: BTreeMap<[u8; 16], Vec<i32>> = BTreeMap::new();
        for tp in &forgotten {
            if let Some(topic_id) = topics.id(&tp.0) {
                forgotten_topics.entry(topic_id).or_default().push(tp.1);
            }
        }
        let request = ShareFetchRequest {
            group_id: self.group_id.clone(),
            member_id: self.member_id.clone(),
            share_session_epoch: session.epoch,
            max_wait_ms: duration_ms(max_wait),
            min_bytes: self.config.fetch_min_bytes,
            max_bytes: self.config.fetch_max_bytes,
            max_records: self.config.max_poll_records,
            batch_size: self.config.max_poll_records,
            topics: by_topic
                .into_iter()
                .map(|(topic_id, partitions)| ShareFetchTopic {
                    topic_id,
                    partitions,
                })
                .collect(),
            forgotten_topics_data: forgotten_topics
                .into_iter()
                .map(|(topic_id, partitions)| ShareForgottenTopic {
                    topic_id,
                    partitions,
                })
                .collect(),
        };
        debug!(
            "share group `{}`: ShareFetch to broker {leader} epoch {} (+{} -{} partitions, acks \
             for {})",
            self.group_id,
            request.share_session_epoch,
            added.len(),
            forgotten.len(),
            acked.len()
        );
        let sent = Sent {
            leader,
            epoch: session.epoch,
            added,
            forgotten,
            acked,
        };
        Some((request, sent))
    }

    /// Applies a ShareFetch answer.
    fn fetched(
        &mut self,
        sent: &Sent,
        response: ShareFetchResponse,
        topics: &Topics,
        acks: &Mutex<Acks>,
    ) -> Result<()> {
        let code = response.error_code;
        if matches!(
            code,
            ErrorCode::ShareSessionNotFound | ErrorCode::InvalidShareSessionEpoch
        ) {
            warn!(
                "share group `{}`: broker {} answered {}; opening a new share session (the \
                 acknowledgements sent for {} partitions were not applied: the broker released \
                 those records for redelivery)",
                self.group_id,
                sent.leader,
                code.name(),
                sent.acked.len()
            );
            self.reset(sent.leader, acks, code.name());
            return Ok(());
        }
        if !code.is_ok() {
            let e = Error::broker(
                code,
                response.error_message.clone(),
                format!(
                    "ShareFetch of share group `{}` from broker {}",
                    self.group_id, sent.leader
                ),
            );
            // Whether the session survived is unknown: start a new one
            // (the broker releases what the old one held).
            self.reset(sent.leader, acks, code.name());
            return if code.is_retriable() {
                warn!("{e}");
                Ok(())
            } else {
                Err(e)
            };
        }
        let session = self.sessions.entry(sent.leader).or_default();
        session.epoch = if sent.epoch == OPEN_SESSION_EPOCH {
            1
        } else {
            sent.epoch.wrapping_add(1).max(1)
        };
        session.partitions.extend(sent.added.iter().cloned());
        for tp in &sent.forgotten {
            session.partitions.remove(tp);
        }
        for topic in response.responses {
            let Some(meta) = topics.by_id.get(&topic.topic_id) else {
                warn!(
                    "share group `{}`: ShareFetch answered an unknown topic id {:02x?}",
                    self.group_id, topic.topic_id
                );
                continue;
            };
            let name = self.intern(&meta.name);
            for p in topic.partitions {
                self.partition_fetched(&name, p, sent, acks);
            }
        }
        Ok(())
    }

    fn partition_fetched(
        &self,
        name: &Arc<str>,
        p: ShareFetchPartitionResponse,
        sent: &Sent,
        acks: &Mutex<Acks>,
    ) {
        let tp: Tp = (Arc::clone(name), p.partition_index);
        if !p.acknowledge_error_code.is_ok() && sent.acked.contains(&tp) {
            acks.lock().refused(Error::broker(
                p.acknowledge_error_code,
                p.acknowledge_error_message.clone(),
                format!(
                    "acknowledging records of topic `{name}` partition {} (ShareFetch)",
                    p.partition_index
                ),
            ));
        }
        if !p.error_code.is_ok() {
            warn!(
                "share group `{}`: ShareFetch of `{name}` partition {}: {}",
                self.group_id,
                p.partition_index,
                p.error_code.name()
            );
            if matches!(
                p.error_code,
                ErrorCode::NotLeaderOrFollower
                    | ErrorCode::FencedLeaderEpoch
                    | ErrorCode::UnknownTopicOrPartition
                    | ErrorCode::UnknownTopicId
                    | ErrorCode::LeaderNotAvailable
            ) {
                let _ = self.client.refresh_topic(name);
            }
            return;
        }
        if p.acquired_records.is_empty() {
            return;
        }
        let messages = self.acquired(&tp, &p, acks);
        acks.lock().buffer(messages);
    }
}
