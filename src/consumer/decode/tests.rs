use super::*;
use crate::protocol::records::{BatchBuilder, BatchOptions, Compression, Header, TimestampType};

const TOPIC: &str = "t";

/// A batch at `base_offset` with one record per value.
fn batch(options: BatchOptions, values: &[&str]) -> Vec<u8> {
    let mut builder = BatchBuilder::new(options);
    for (i, v) in values.iter().enumerate() {
        let ts = 1_000 + i64::try_from(i).unwrap();
        builder
            .append(
                ts,
                None,
                Some(v.as_bytes()),
                &[Header::new("h", Some(b"x"))],
            )
            .unwrap();
    }
    builder.build().unwrap()
}

fn data(base_offset: i64, values: &[&str]) -> Vec<u8> {
    batch(
        BatchOptions::default().with_base_offset(base_offset),
        values,
    )
}

fn transactional(base_offset: i64, producer_id: i64, values: &[&str]) -> Vec<u8> {
    batch(
        BatchOptions::default()
            .with_base_offset(base_offset)
            .with_producer_state(producer_id, 0, 0)
            .with_transactional(true),
        values,
    )
}

fn marker(base_offset: i64, producer_id: i64, kind: ControlRecordType) -> Vec<u8> {
    let options = BatchOptions {
        control: true,
        ..BatchOptions::default()
            .with_base_offset(base_offset)
            .with_producer_state(producer_id, 0, -1)
            .with_transactional(true)
    };
    let mut builder = BatchBuilder::new(options);
    builder
        .append(
            2_000,
            Some(&kind.key()),
            Some(&ControlRecordType::end_txn_marker_value(0)),
            &[],
        )
        .unwrap();
    builder.build().unwrap()
}

fn read(
    bytes: &[u8],
    fetch_offset: i64,
    isolation_level: IsolationLevel,
    aborted: &[AbortedTransaction],
) -> Decoded {
    let topic: Arc<str> = Arc::from(TOPIC);
    PartitionRead {
        topic: &topic,
        partition: 3,
        fetch_offset,
        isolation_level,
        options: DecodeOptions::default(),
        sums: FrameSums::NONE,
    }
    .decode(&Bytes::copy_from_slice(bytes), aborted, usize::MAX)
}

fn values(decoded: &Decoded) -> Vec<(i64, String)> {
    decoded
        .messages
        .iter()
        .map(|m| {
            (
                m.offset(),
                String::from_utf8(m.value_bytes().to_vec()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn records_come_out_with_their_partition_offset_headers_and_timestamp() {
    let bytes = data(10, &["a", "b"]);
    let decoded = read(&bytes, 10, IsolationLevel::ReadUncommitted, &[]);
    assert_eq!(values(&decoded), [(10, "a".into()), (11, "b".into())]);
    assert_eq!(decoded.next_offset, 12);
    let m = &decoded.messages[1];
    assert_eq!((m.topic(), m.partition(), m.key()), (TOPIC, 3, None));
    assert_eq!(
        (m.timestamp(), m.timestamp_type()),
        (1_001, TimestampType::CreateTime)
    );
    assert_eq!(m.header("h"), Some(Some(&b"x"[..])));
    assert!(decoded.error.is_none() && !decoded.truncated_batch);
}

#[test]
fn records_before_the_fetch_offset_are_dropped() {
    let mut bytes = data(0, &["a", "b", "c"]);
    bytes.extend(data(3, &["d"]));
    let decoded = read(&bytes, 2, IsolationLevel::ReadUncommitted, &[]);
    assert_eq!(values(&decoded), [(2, "c".into()), (3, "d".into())]);
    assert_eq!(decoded.next_offset, 4);
}

#[test]
fn compressed_batches_are_read_like_plain_ones() {
    let options = BatchOptions::default()
        .with_base_offset(5)
        .with_compression(Compression::Gzip, None);
    let bytes = batch(options, &["x", "y"]);
    let decoded = read(&bytes, 5, IsolationLevel::ReadUncommitted, &[]);
    assert_eq!(values(&decoded), [(5, "x".into()), (6, "y".into())]);
}

#[test]
fn control_batches_are_never_delivered_but_are_fetched_past() {
    let mut bytes = transactional(0, 7, &["a"]);
    bytes.extend(marker(1, 7, ControlRecordType::Commit));
    for level in [
        IsolationLevel::ReadUncommitted,
        IsolationLevel::ReadCommitted,
    ] {
        let decoded = read(&bytes, 0, level, &[]);
        assert_eq!(values(&decoded), [(0, "a".into())], "{level:?}");
        assert_eq!(decoded.next_offset, 2);
    }
}

#[test]
fn read_committed_drops_aborted_transactions_and_keeps_committed_ones() {
    let mut bytes = transactional(0, 7, &["aborted-1"]);
    bytes.extend(transactional(1, 8, &["committed"]));
    bytes.extend(transactional(2, 7, &["aborted-2"]));
    bytes.extend(marker(3, 7, ControlRecordType::Abort));
    bytes.extend(marker(4, 8, ControlRecordType::Commit));
    // The same producer's next transaction, after its abort marker, counts.
    bytes.extend(transactional(5, 7, &["later"]));
    let aborted = [AbortedTransaction {
        producer_id: 7,
        first_offset: 0,
    }];
    let committed = read(&bytes, 0, IsolationLevel::ReadCommitted, &aborted);
    assert_eq!(
        values(&committed),
        [(1, "committed".into()), (5, "later".into())]
    );
    assert_eq!(committed.next_offset, 6);

    let uncommitted = read(&bytes, 0, IsolationLevel::ReadUncommitted, &aborted);
    assert_eq!(
        uncommitted.messages.len(),
        4,
        "read_uncommitted sees every data record"
    );
}

#[test]
fn a_corrupt_batch_reports_its_offset_after_the_good_ones() {
    let mut bytes = data(0, &["a"]);
    let mut bad = data(1, &["b"]);
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    bytes.extend(bad);
    let decoded = read(&bytes, 0, IsolationLevel::ReadUncommitted, &[]);
    assert_eq!(values(&decoded), [(0, "a".into())]);
    let (offset, _) = decoded.error.expect("the CRC mismatch is reported");
    assert_eq!(offset, 1);
}

#[test]
fn only_a_partial_batch_means_the_batch_is_too_large_for_the_fetch() {
    let bytes = data(0, &["a", "b"]);
    let decoded = read(
        &bytes[..bytes.len() - 3],
        0,
        IsolationLevel::ReadUncommitted,
        &[],
    );
    assert!(decoded.messages.is_empty());
    assert!(decoded.truncated_batch);
    assert_eq!(decoded.next_offset, 0);

    let mut two = data(0, &["a"]);
    two.extend(&data(1, &["b"])[..20]);
    let decoded = read(&two, 0, IsolationLevel::ReadUncommitted, &[]);
    assert!(
        !decoded.truncated_batch,
        "a trailing partial batch is routine"
    );
    assert_eq!(decoded.next_offset, 1);
}

#[test]
fn garbage_never_panics() {
    for len in 0..80 {
        let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        let _ = read(&junk, 0, IsolationLevel::ReadCommitted, &[]);
    }
}

fn read_within(bytes: &[u8], fetch_offset: i64, budget: usize) -> Decoded {
    let topic: Arc<str> = Arc::from(TOPIC);
    PartitionRead {
        topic: &topic,
        partition: 3,
        fetch_offset,
        isolation_level: IsolationLevel::ReadUncommitted,
        options: DecodeOptions::default(),
        sums: FrameSums::NONE,
    }
    .decode(&Bytes::copy_from_slice(bytes), &[], budget)
}

#[test]
fn a_compressed_batch_past_the_budget_is_handed_out_a_budget_at_a_time() {
    let values: Vec<String> = (0..100).map(|i| format!("v{i:03}")).collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    let mut bytes = batch(
        BatchOptions::default()
            .with_base_offset(10)
            .with_compression(Compression::Gzip, None),
        &refs,
    );
    bytes.extend(data(110, &["v100"]));
    let one = read_within(&bytes, 0, usize::MAX).messages[0].queued_size();
    // Room for ten messages: the fetch stops after the first batch, whose
    // rest waits in memory; the second batch is left for the next fetch.
    let mut decoded = read_within(&bytes, 15, 10 * one);
    assert_eq!(decoded.messages.len(), 10);
    assert_eq!(decoded.messages[0].offset(), 15);
    assert_eq!(decoded.bytes, 10 * one);
    assert_eq!(
        decoded.next_offset, 110,
        "the fetch resumes after the batch"
    );
    assert!(!decoded.truncated_batch);
    let mut pending = decoded.pending.take().expect("the rest of the batch waits");
    assert_eq!(pending.next_offset, 25);
    let mut offsets: Vec<i64> = decoded.messages.iter().map(|m| m.offset()).collect();
    while !pending.is_done() {
        let (messages, size, failed) = pending.decode(7 * one);
        assert!(failed.is_none());
        assert!(!messages.is_empty() && messages.len() <= 7);
        assert_eq!(size, messages.len() * one);
        offsets.extend(messages.iter().map(|m| m.offset()));
        assert_eq!(pending.next_offset, offsets[offsets.len() - 1] + 1);
    }
    assert_eq!(offsets, (15..110).collect::<Vec<_>>());
}

#[test]
fn a_budget_that_runs_out_at_a_batch_boundary_leaves_nothing_pending() {
    let mut bytes = data(0, &["a", "b"]);
    bytes.extend(data(2, &["c"]));
    let one = read_within(&bytes, 0, usize::MAX).messages[0].queued_size();
    let decoded = read_within(&bytes, 0, 2 * one);
    assert_eq!(values(&decoded).len(), 2);
    assert!(decoded.pending.is_none());
    assert_eq!(decoded.next_offset, 2);
    assert!(!decoded.truncated_batch);
    // A budget too small for one message still takes one.
    let decoded = read_within(&bytes, 0, 1);
    assert_eq!(values(&decoded).len(), 1);
    assert_eq!(decoded.pending.expect("the batch's rest").next_offset, 1);
}

/// A record that cannot be read in the rest of a batch handed out in parts:
/// the messages made before it are still returned, and the position stops
/// at the bad record, so nothing is skipped or committed past unseen.
#[test]
fn a_bad_record_in_a_waiting_batch_keeps_the_messages_before_it() {
    let mut bytes = data(0, &["a", "b", "c", "dddddddd"]);
    // The last record's value length (zigzag 8) claims 63 bytes, past the
    // record's end. CRCs are not checked, so only that record fails.
    let value = bytes
        .windows(8)
        .position(|w| w == b"dddddddd")
        .expect("the value is stored uncompressed");
    assert_eq!(bytes[value - 1], 0x10);
    bytes[value - 1] = 0x7e;
    let topic: Arc<str> = Arc::from(TOPIC);
    let read = |budget| {
        PartitionRead {
            topic: &topic,
            partition: 3,
            fetch_offset: 0,
            isolation_level: IsolationLevel::ReadUncommitted,
            options: DecodeOptions::default().with_check_crcs(false),
            sums: FrameSums::NONE,
        }
        .decode(&Bytes::copy_from_slice(&bytes), &[], budget)
    };
    let one = read(usize::MAX).messages[0].queued_size();
    let mut decoded = read(one);
    assert_eq!(values(&decoded), [(0, "a".to_owned())]);
    let mut pending = decoded.pending.take().expect("the rest of the batch waits");
    let (messages, _, failed) = pending.decode(usize::MAX);
    let got: Vec<i64> = messages.iter().map(|m| m.offset()).collect();
    assert_eq!(got, [1, 2], "the good records before the bad one are kept");
    assert!(failed.is_some(), "the bad record is an error");
    assert_eq!(
        pending.next_offset, 3,
        "the position is the bad record's offset"
    );
}

/// Whether `part` lies inside `buf`'s memory.
fn inside(buf: &[u8], part: &[u8]) -> bool {
    let (start, at) = (buf.as_ptr() as usize, part.as_ptr() as usize);
    at >= start && at + part.len() <= start + buf.len()
}

#[test]
fn values_and_header_values_are_slices_of_the_fetched_bytes_not_copies() {
    let input = Bytes::from(batch(BatchOptions::default(), &["first", "second"]));
    let topic: Arc<str> = Arc::from(TOPIC);
    let read = PartitionRead {
        topic: &topic,
        partition: 0,
        fetch_offset: 0,
        isolation_level: IsolationLevel::ReadUncommitted,
        options: DecodeOptions::default(),
        sums: FrameSums::NONE,
    };
    let decoded = read.decode(&input, &[], usize::MAX);
    assert_eq!(decoded.messages.len(), 2);
    for m in &decoded.messages {
        assert!(
            inside(&input, m.value_bytes()),
            "value of {} copied",
            m.offset()
        );
        assert!(
            inside(&input, m.headers().next().unwrap().value().unwrap()),
            "header copied"
        );
    }
}

#[test]
fn values_of_a_compressed_batch_share_its_one_decompressed_buffer() {
    let options = BatchOptions::default().with_compression(Compression::Lz4, None);
    let input = Bytes::from(batch(options, &["first", "second", "third"]));
    let topic: Arc<str> = Arc::from(TOPIC);
    let read = PartitionRead {
        topic: &topic,
        partition: 0,
        fetch_offset: 0,
        isolation_level: IsolationLevel::ReadUncommitted,
        options: DecodeOptions::default(),
        sums: FrameSums::NONE,
    };
    let decoded = read.decode(&input, &[], usize::MAX);
    let values: Vec<&[u8]> = decoded.messages.iter().map(|m| m.value_bytes()).collect();
    assert_eq!(values, [&b"first"[..], b"second", b"third"]);
    // One buffer: each value starts after the previous one, a record's
    // framing apart (a copy per value would be separate allocations).
    for pair in values.windows(2) {
        let gap = pair[1].as_ptr() as usize - (pair[0].as_ptr() as usize + pair[0].len());
        assert!(gap < 32, "values {gap} bytes apart");
    }
}
