//! The delivery-report queue between the sender thread and the readers of
//! [`DeliveryReports`].
//!
//! The sender hands over a batch's reports in one step, as one *chunk*: the
//! batch's outcome and its records. A reader turns the front chunk into one
//! [`DeliveryReport`] at a time, so building each report and the queue
//! operation it used to cost per record happen once per batch on the sender
//! thread, and on the reader's thread only what the report itself needs.
//!
//! The queue is bounded in reports, not chunks
//! ([`delivery_reports_capacity`](super::ProducerConfig::delivery_reports_capacity)):
//! a chunk that does not fit is split, and what does not fit waits in the
//! sender (see `report.rs`), still counted against `buffer_memory`. Once
//! every [`DeliveryReports`] handle is dropped, chunks are dropped on arrival;
//! once the sender is gone, readers see the queue disconnected when it is
//! empty.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crossbeam_channel::{RecvError, RecvTimeoutError, TryRecvError};
use parking_lot::{Condvar, Mutex};

use super::accumulator::Completion;
use super::record::{DeliveryReport, RecordMetadata};
use crate::error::Result;

/// Completion lists of read chunks kept for new batches (as the accumulator
/// keeps its own: a list of small records' completions is large).
const SPARE_LISTS: usize = 8;

/// Reports handed over together.
pub(crate) enum Chunk {
    /// Every record of one batch, with the batch's outcome.
    Batch(BatchReports),
    /// Reports built one by one (a transaction's, released when it ended).
    Ready(VecDeque<DeliveryReport>),
}

/// A batch's records and outcome; each becomes a report when it is read.
pub(crate) struct BatchReports {
    pub topic: Arc<str>,
    pub partition: i32,
    /// The base offset and log append time, or why the batch failed.
    pub result: Result<(i64, i64)>,
    /// Offset deltas and records; only [`Completion::Report`]s.
    pub records: VecDeque<(i32, Completion)>,
}

impl Chunk {
    pub(crate) fn len(&self) -> usize {
        match self {
            Chunk::Batch(b) => b.records.len(),
            Chunk::Ready(r) => r.len(),
        }
    }

    /// Leaves the first `at` reports here and returns the rest.
    pub(crate) fn split_off(&mut self, at: usize) -> Chunk {
        match self {
            Chunk::Batch(b) => Chunk::Batch(BatchReports {
                topic: Arc::clone(&b.topic),
                partition: b.partition,
                result: b.result.clone(),
                records: b.records.split_off(at),
            }),
            Chunk::Ready(r) => Chunk::Ready(r.split_off(at)),
        }
    }

    /// The next report, if any is left.
    pub(crate) fn next_report(&mut self) -> Option<DeliveryReport> {
        match self {
            Chunk::Ready(r) => r.pop_front(),
            Chunk::Batch(b) => loop {
                let (delta, completion) = b.records.pop_front()?;
                // Synchronous completions are answered by the sender and
                // never queued; skipped should one be here.
                let Completion::Report(record) = completion else {
                    continue;
                };
                let timestamp = record.timestamp.unwrap_or(-1);
                let result = match &b.result {
                    Ok((base, append_time)) => Ok(metadata(
                        &b.topic,
                        b.partition,
                        *base,
                        delta,
                        *append_time,
                        timestamp,
                    )),
                    Err(e) => Err(e.clone()),
                };
                return Some(DeliveryReport {
                    topic: Arc::clone(&b.topic),
                    partition: b.partition,
                    record,
                    result,
                });
            },
        }
    }

    /// The emptied completion list, for a new batch.
    fn into_spare(self) -> Option<Vec<(i32, Completion)>> {
        match self {
            Chunk::Batch(b) if b.records.is_empty() && b.records.capacity() > 0 => {
                Some(Vec::from(b.records))
            }
            _ => None,
        }
    }
}

/// Where record `delta` of a batch written at `base_offset` landed.
pub(crate) fn metadata(
    topic: &Arc<str>,
    partition: i32,
    base_offset: i64,
    delta: i32,
    log_append_time: i64,
    timestamp: i64,
) -> RecordMetadata {
    RecordMetadata {
        topic: Arc::clone(topic),
        partition,
        offset: if base_offset >= 0 {
            base_offset + i64::from(delta)
        } else {
            -1
        },
        timestamp: if log_append_time >= 0 {
            log_append_time
        } else {
            timestamp
        },
    }
}

struct State {
    chunks: VecDeque<Chunk>,
    /// Reports in `chunks`.
    len: usize,
    /// Live [`DeliveryReports`] handles.
    receivers: usize,
    /// The sender is gone (or reports are off): nothing more will come.
    closed: bool,
    spare: Vec<Vec<(i32, Completion)>>,
}

pub(crate) struct Queue {
    state: Mutex<State>,
    /// Signalled when reports arrive or the sender goes.
    arrived: Condvar,
    /// Signalled when a reader makes room or the last reader goes.
    room: Condvar,
    capacity: usize,
}

/// What [`ReportSender::offer`] did with a chunk.
pub(crate) struct Offered {
    /// The reports that did not fit (the chunk's tail), to offer again.
    pub rest: Option<Chunk>,
    /// An emptied completion list of a chunk read earlier, for a new batch.
    pub spare: Option<Vec<(i32, Completion)>>,
}

/// The sender's end of the queue; dropping it disconnects the readers once
/// they have read what is queued.
pub(crate) struct ReportSender(Arc<Queue>);

/// A queue for `capacity` reports: the sender's end and the first reader.
pub(crate) fn queue(capacity: usize) -> (ReportSender, DeliveryReports) {
    let queue = Arc::new(Queue {
        state: Mutex::new(State {
            chunks: VecDeque::new(),
            len: 0,
            receivers: 1,
            closed: false,
            spare: Vec::new(),
        }),
        arrived: Condvar::new(),
        room: Condvar::new(),
        capacity: capacity.max(1),
    });
    (ReportSender(Arc::clone(&queue)), DeliveryReports { queue })
}

/// A reader of a queue nothing will ever be sent to (reports are off).
pub(crate) fn disconnected() -> DeliveryReports {
    let (tx, rx) = queue(1);
    drop(tx);
    rx
}

impl ReportSender {
    /// Queues as much of `chunk` as fits; with no reader left it is dropped
    /// (counted as handed over).
    pub(crate) fn offer(&self, mut chunk: Chunk) -> Offered {
        let mut state = self.0.state.lock();
        let spare = state.spare.pop();
        if state.receivers == 0 {
            return Offered { rest: None, spare };
        }
        let room = self.0.capacity.saturating_sub(state.len);
        if room == 0 {
            return Offered {
                rest: Some(chunk),
                spare,
            };
        }
        let rest = (chunk.len() > room).then(|| chunk.split_off(room));
        state.len += chunk.len();
        state.chunks.push_back(chunk);
        drop(state);
        self.0.arrived.notify_all();
        Offered { rest, spare }
    }

    /// Waits until `deadline` for room (or for the last reader to go).
    pub(crate) fn wait_for_room(&self, deadline: Instant) -> bool {
        let mut state = self.0.state.lock();
        while state.receivers > 0 && state.len >= self.0.capacity {
            if self.0.room.wait_until(&mut state, deadline).timed_out() {
                return state.receivers == 0 || state.len < self.0.capacity;
            }
        }
        true
    }
}

impl Drop for ReportSender {
    fn drop(&mut self) {
        self.0.state.lock().closed = true;
        self.0.arrived.notify_all();
    }
}

/// The delivery reports of a producer, one per accepted record, from
/// [`Producer::delivery_reports`](super::Producer::delivery_reports).
///
/// Reads like a channel receiver (`recv`, `recv_timeout`, `try_recv`,
/// `iter`, `try_iter`, with crossbeam-channel's error types). The sender
/// thread hands a batch's reports over in one step and each report is built
/// when it is read, so reading costs little per record. Bounded by
/// [`delivery_reports_capacity`](super::ProducerConfig::delivery_reports_capacity)
/// reports; while it is full, further reports wait in the producer, counted
/// against `buffer_memory`.
///
/// Clone it to read from another thread or after the producer is dropped:
/// every clone reads from the same queue, and each report goes to one of
/// them. Once the producer is gone and the queue is empty, `recv` fails with
/// [`RecvError`] instead of blocking; once every handle is dropped, reports
/// are discarded as they arrive.
///
/// ```no_run
/// use std::time::Duration;
/// use kafka_sync::producer::ProducerConfig;
/// let client = kafka_sync::KafkaClient::new("127.0.0.1:9092")?;
/// let producer = client
///     .topic("events")?
///     .get_producer(ProducerConfig::default().delivery_reports(true))?;
/// producer.produce(b"payload")?;
/// let report = producer
///     .delivery_reports()
///     .recv_timeout(Duration::from_secs(10))
///     .expect("a report within 10 s");
/// println!("{:?}", report.offset());
/// # Ok::<(), kafka_sync::Error>(())
/// ```
pub struct DeliveryReports {
    queue: Arc<Queue>,
}

impl Clone for DeliveryReports {
    fn clone(&self) -> Self {
        self.queue.state.lock().receivers += 1;
        DeliveryReports {
            queue: Arc::clone(&self.queue),
        }
    }
}

impl Drop for DeliveryReports {
    fn drop(&mut self) {
        let mut state = self.queue.state.lock();
        state.receivers -= 1;
        if state.receivers == 0 {
            // Nobody can read them any more.
            state.chunks.clear();
            state.len = 0;
        }
        drop(state);
        self.queue.room.notify_all();
    }
}

impl std::fmt::Debug for DeliveryReports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryReports")
            .field("len", &self.len())
            .field("capacity", &self.queue.capacity)
            .finish()
    }
}

impl DeliveryReports {
    /// The next report, if one is queued: [`TryRecvError::Empty`] if none
    /// is, [`TryRecvError::Disconnected`] if none ever will be.
    pub fn try_recv(&self) -> std::result::Result<DeliveryReport, TryRecvError> {
        let mut state = self.queue.state.lock();
        match self.take(&mut state) {
            Some(report) => Ok(report),
            None if state.closed => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// The next report, waiting for as long as the producer lives.
    pub fn recv(&self) -> std::result::Result<DeliveryReport, RecvError> {
        let mut state = self.queue.state.lock();
        loop {
            if let Some(report) = self.take(&mut state) {
                return Ok(report);
            }
            if state.closed {
                return Err(RecvError);
            }
            self.queue.arrived.wait(&mut state);
        }
    }

    /// The next report, waiting at most `timeout`.
    pub fn recv_timeout(
        &self,
        timeout: Duration,
    ) -> std::result::Result<DeliveryReport, RecvTimeoutError> {
        self.recv_deadline(crate::time::add(Instant::now(), timeout))
    }

    /// The next report, waiting until `deadline`.
    pub fn recv_deadline(
        &self,
        deadline: Instant,
    ) -> std::result::Result<DeliveryReport, RecvTimeoutError> {
        let mut state = self.queue.state.lock();
        loop {
            if let Some(report) = self.take(&mut state) {
                return Ok(report);
            }
            if state.closed {
                return Err(RecvTimeoutError::Disconnected);
            }
            if self
                .queue
                .arrived
                .wait_until(&mut state, deadline)
                .timed_out()
            {
                return self.take(&mut state).ok_or(if state.closed {
                    RecvTimeoutError::Disconnected
                } else {
                    RecvTimeoutError::Timeout
                });
            }
        }
    }

    /// The reports, waiting for each; ends when the producer is gone and
    /// every report has been read.
    pub fn iter(&self) -> DeliveryReportsIter<'_> {
        DeliveryReportsIter { reports: self }
    }

    /// The reports queued now, without waiting.
    pub fn try_iter(&self) -> DeliveryReportsTryIter<'_> {
        DeliveryReportsTryIter { reports: self }
    }

    /// How many reports are queued.
    pub fn len(&self) -> usize {
        self.queue.state.lock().len
    }

    /// Whether no report is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many reports the queue holds at most
    /// ([`delivery_reports_capacity`](super::ProducerConfig::delivery_reports_capacity)).
    pub fn capacity(&self) -> usize {
        self.queue.capacity
    }

    fn take(&self, state: &mut State) -> Option<DeliveryReport> {
        loop {
            let front = state.chunks.front_mut()?;
            if let Some(report) = front.next_report() {
                let emptied = front.len() == 0;
                state.len -= 1;
                if emptied {
                    self.retire(state);
                }
                // Room appeared: a closing sender may be waiting for it.
                self.queue.room.notify_one();
                return Some(report);
            }
            self.retire(state);
        }
    }

    /// Drops the read front chunk, keeping its list for a new batch.
    fn retire(&self, state: &mut State) {
        if let Some(spare) = state.chunks.pop_front().and_then(Chunk::into_spare) {
            if state.spare.len() < SPARE_LISTS {
                state.spare.push(spare);
            }
        }
    }
}

/// A blocking iterator over [`DeliveryReports`] (see [`DeliveryReports::iter`]).
#[derive(Debug)]
pub struct DeliveryReportsIter<'a> {
    reports: &'a DeliveryReports,
}

impl Iterator for DeliveryReportsIter<'_> {
    type Item = DeliveryReport;
    fn next(&mut self) -> Option<DeliveryReport> {
        self.reports.recv().ok()
    }
}

/// A non-blocking iterator over [`DeliveryReports`] (see [`DeliveryReports::try_iter`]).
#[derive(Debug)]
pub struct DeliveryReportsTryIter<'a> {
    reports: &'a DeliveryReports,
}

impl Iterator for DeliveryReportsTryIter<'_> {
    type Item = DeliveryReport;
    fn next(&mut self) -> Option<DeliveryReport> {
        self.reports.try_recv().ok()
    }
}

impl<'a> IntoIterator for &'a DeliveryReports {
    type Item = DeliveryReport;
    type IntoIter = DeliveryReportsIter<'a>;
    fn into_iter(self) -> DeliveryReportsIter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::producer::Record;

    fn ready(n: usize) -> Chunk {
        let topic: Arc<str> = Arc::from("t");
        Chunk::Ready(
            (0..n)
                .map(|i| DeliveryReport {
                    topic: Arc::clone(&topic),
                    partition: 0,
                    record: Record::new(i.to_string()),
                    result: Err(Error::Closed("producer")),
                })
                .collect(),
        )
    }

    fn value(report: &DeliveryReport) -> String {
        String::from_utf8(report.record.get_value().unwrap().to_vec()).unwrap()
    }

    #[test]
    fn a_batch_chunk_becomes_one_report_per_record_with_its_offset() {
        let (tx, rx) = queue(10);
        let records = (0..3)
            .map(|i| {
                let record = Record::new(format!("{i}")).partition(2).timestamp(7);
                (i, Completion::Report(record))
            })
            .collect();
        let chunk = Chunk::Batch(BatchReports {
            topic: Arc::from("t"),
            partition: 2,
            result: Ok((100, -1)),
            records,
        });
        assert!(tx.offer(chunk).rest.is_none());
        assert_eq!(rx.len(), 3);
        let got: Vec<_> = rx.try_iter().collect();
        assert_eq!(got.len(), 3);
        for (i, report) in got.iter().enumerate() {
            let meta = report.result.as_ref().unwrap();
            assert_eq!((report.partition, meta.partition), (2, 2));
            assert_eq!(meta.offset, 100 + i as i64);
            assert_eq!(meta.timestamp, 7);
            assert_eq!(value(report), i.to_string());
        }
        assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
        // The read chunk's list comes back for a new batch.
        assert!(tx.offer(ready(1)).spare.is_some_and(|s| s.capacity() >= 3));
    }

    #[test]
    fn the_bound_counts_reports_and_a_chunk_that_does_not_fit_is_split() {
        let (tx, rx) = queue(3);
        let rest = tx.offer(ready(5)).rest.expect("two do not fit");
        assert_eq!((rx.len(), rest.len()), (3, 2));
        assert!(tx.offer(ready(1)).rest.is_some(), "full");
        assert!(!tx.wait_for_room(Instant::now()));
        let first: Vec<_> = rx.try_iter().map(|r| value(&r)).collect();
        assert_eq!(first, ["0", "1", "2"]);
        assert!(tx.wait_for_room(Instant::now()));
        assert!(tx.offer(rest).rest.is_none());
        let second: Vec<_> = rx.try_iter().map(|r| value(&r)).collect();
        assert_eq!(second, ["3", "4"], "in order, none lost");
    }

    #[test]
    fn readers_see_the_sender_go_once_the_queue_is_empty() {
        let (tx, rx) = queue(10);
        let other = rx.clone();
        assert!(tx.offer(ready(2)).rest.is_none());
        drop(tx);
        assert!(other.recv().is_ok(), "clones read the same queue");
        assert!(rx.recv_timeout(Duration::from_secs(5)).is_ok());
        assert_eq!(rx.recv().unwrap_err(), RecvError);
        assert_eq!(
            other.recv_timeout(Duration::from_secs(5)).unwrap_err(),
            RecvTimeoutError::Disconnected
        );
        assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Disconnected);
        assert_eq!(rx.iter().count(), 0);
        assert_eq!(
            disconnected().try_recv().unwrap_err(),
            TryRecvError::Disconnected
        );
    }

    #[test]
    fn a_reader_waits_for_the_next_chunk_and_times_out_without_one() {
        let (tx, rx) = queue(10);
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(20)).unwrap_err(),
            RecvTimeoutError::Timeout
        );
        std::thread::scope(|s| {
            let reader = s.spawn(|| rx.recv());
            std::thread::sleep(Duration::from_millis(20));
            assert!(tx.offer(ready(1)).rest.is_none());
            assert!(reader.join().unwrap().is_ok());
        });
    }

    #[test]
    fn with_every_reader_gone_chunks_are_dropped_and_the_sender_never_waits() {
        let (tx, rx) = queue(1);
        assert!(tx.offer(ready(1)).rest.is_none());
        let clone = rx.clone();
        drop(rx);
        assert!(tx.offer(ready(1)).rest.is_some(), "a clone still reads");
        drop(clone);
        assert!(tx.offer(ready(5)).rest.is_none(), "dropped, not held");
        assert!(tx.wait_for_room(Instant::now() + Duration::from_secs(60)));
    }
}
