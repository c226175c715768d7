use super::*;
use crate::protocol::records::{BatchBuilder, BatchOptions, Compression, TimestampType};

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
    }
    .decode(bytes, aborted)
}

fn values(decoded: &Decoded) -> Vec<(i64, String)> {
    decoded
        .messages
        .iter()
        .map(|m| {
            (
                m.offset,
                String::from_utf8(m.value.clone().unwrap_or_default()).unwrap(),
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
    assert_eq!((&*m.topic, m.partition, m.key.clone()), (TOPIC, 3, None));
    assert_eq!(
        (m.timestamp, m.timestamp_type),
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
