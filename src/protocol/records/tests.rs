//! Behaviour of the record codec through its public API, one behaviour per
//! test. Interop with other implementations is in tests/records_interop.rs,
//! property tests in tests/records_properties.rs.

use super::*;
use crate::protocol::DecodeError;

const ALL: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// Timestamp, key and value of a record to append.
type Plain<'a> = (i64, Option<&'a [u8]>, Option<&'a [u8]>);

fn build(options: BatchOptions, records: &[Plain<'_>]) -> Vec<u8> {
    let mut builder = BatchBuilder::new(options);
    for (timestamp, key, value) in records {
        builder.append(*timestamp, *key, *value, &[]).unwrap();
    }
    builder.build().unwrap()
}

fn three(compression: Compression) -> Vec<u8> {
    build(
        BatchOptions::default()
            .with_compression(compression, None)
            .with_base_offset(100),
        &[
            (10, Some(b"a"), Some(b"one")),
            (30, None, Some(b"")),
            (20, Some(b""), None),
        ],
    )
}

fn only_batch(bytes: &[u8]) -> RecordBatch<'_> {
    let mut batches = decode_batches(bytes, DecodeOptions::default());
    let batch = batches.next().expect("one batch").unwrap();
    assert!(batches.next().is_none());
    batch
}

/// Patches the attributes of a magic-2 batch and fixes its CRC.
fn with_attributes(mut batch: Vec<u8>, attributes: i16) -> Vec<u8> {
    batch[21..23].copy_from_slice(&attributes.to_be_bytes());
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    batch
}

#[test]
fn every_codec_round_trips_keys_values_nulls_and_timestamps() {
    for c in ALL.into_iter().filter(|c| c.is_available()) {
        let bytes = three(c);
        let batch = only_batch(&bytes);
        assert_eq!(batch.compression(), c);
        let records: Vec<_> = batch.records().unwrap().map(Result::unwrap).collect();
        let got: Vec<_> = records
            .iter()
            .map(|r| (r.offset, r.timestamp, r.key, r.value))
            .collect();
        assert_eq!(
            got,
            [
                (100, 10, Some(&b"a"[..]), Some(&b"one"[..])),
                (101, 30, None, Some(&b""[..])),
                (102, 20, Some(&b""[..]), None),
            ],
            "{c}"
        );
    }
}

#[test]
fn the_header_carries_what_the_builder_was_given() {
    let options = BatchOptions::default()
        .with_producer_state(12, 3, 40)
        .with_transactional(true)
        .with_base_offset(7);
    let bytes = build(
        options,
        &[(5, None, None), (9, None, None), (1, None, None)],
    );
    let header = *only_batch(&bytes).header();
    assert_eq!(header.base_offset, 7);
    assert_eq!(header.last_offset(), 9);
    assert_eq!(header.next_offset(), 10);
    assert_eq!(header.batch_length as usize, bytes.len() - 12);
    assert_eq!(header.partition_leader_epoch, -1);
    assert_eq!(header.magic, 2);
    assert_eq!((header.base_timestamp, header.max_timestamp), (5, 9));
    assert_eq!(
        (
            header.producer_id,
            header.producer_epoch,
            header.base_sequence
        ),
        (12, 3, 40)
    );
    assert!(header.is_transactional && !header.is_control);
    assert_eq!(header.timestamp_type, TimestampType::CreateTime);
    assert_eq!(header.record_count, 3);
}

#[test]
fn headers_keep_order_duplicates_and_null_values() {
    let mut builder = BatchBuilder::new(BatchOptions::default());
    let headers = [
        Header::new("a", Some(b"1")),
        Header::new("a", None),
        Header::owned("ü".into(), Some(vec![])),
    ];
    builder.append(0, None, Some(b"v"), &headers).unwrap();
    let bytes = builder.build().unwrap();
    let batch = only_batch(&bytes);
    let record = batch.records().unwrap().next().unwrap().unwrap();
    assert_eq!(record.headers, headers);
}

#[test]
fn uncompressed_records_borrow_from_the_fetched_bytes() {
    let bytes = three(Compression::None);
    let batch = only_batch(&bytes);
    let record = batch.records().unwrap().next().unwrap().unwrap();
    let value = record.value.unwrap();
    let range = bytes.as_ptr_range();
    assert!(range.contains(&value.as_ptr()));
}

#[test]
fn a_compressed_batch_is_decompressed_once() {
    let bytes = three(Compression::Gzip);
    let batch = only_batch(&bytes);
    let first = batch.records().unwrap().next().unwrap().unwrap().value;
    let again = batch.records().unwrap().next().unwrap().unwrap().value;
    assert_eq!(first.unwrap().as_ptr(), again.unwrap().as_ptr());
}

#[test]
fn log_append_time_gives_every_record_the_max_timestamp() {
    let bytes = with_attributes(three(Compression::None), 0x08);
    let batch = only_batch(&bytes);
    assert_eq!(batch.header().timestamp_type, TimestampType::LogAppendTime);
    assert!(batch.records().unwrap().all(|r| r.unwrap().timestamp == 30));
}

#[test]
fn records_from_skips_records_before_the_fetch_offset() {
    let bytes = three(Compression::Snappy);
    let batch = only_batch(&bytes);
    let offsets: Vec<i64> = batch
        .records_from(102)
        .unwrap()
        .map(|r| r.unwrap().offset)
        .collect();
    assert_eq!(offsets, [102]);
}

#[test]
fn a_flipped_bit_fails_the_crc_unless_crcs_are_off() {
    let mut bytes = three(Compression::None);
    let last = bytes.len() - 2;
    bytes[last] ^= 0x01;
    let mut batches = decode_batches(&bytes, DecodeOptions::default());
    assert!(matches!(
        batches.next(),
        Some(Err(DecodeError::CrcMismatch { .. }))
    ));
    assert!(batches.next().is_none(), "iteration stops after an error");
    let unchecked = DecodeOptions::default().with_check_crcs(false);
    assert!(decode_batches(&bytes, unchecked).next().unwrap().is_ok());
}

#[test]
fn several_batches_follow_each_other() {
    let mut bytes = three(Compression::None);
    let second = build(
        BatchOptions::default().with_base_offset(103),
        &[(1, None, None)],
    );
    bytes.extend_from_slice(&second);
    let offsets: Vec<i64> = decode_batches(&bytes, DecodeOptions::default())
        .map(|b| b.unwrap().base_offset())
        .collect();
    assert_eq!(offsets, [100, 103]);
}

#[test]
fn a_partial_batch_at_the_end_is_skipped_not_an_error() {
    let mut bytes = three(Compression::None);
    let whole = bytes.len();
    let partial = three(Compression::Gzip);
    for cut in [1, 11, 12, 17, 60, partial.len() - 1] {
        bytes.truncate(whole);
        bytes.extend_from_slice(&partial[..cut]);
        let mut batches = decode_batches(&bytes, DecodeOptions::default());
        assert!(batches.next().unwrap().is_ok());
        assert!(batches.next().is_none(), "cut {cut}");
        assert_eq!(batches.remainder(), &partial[..cut]);
        assert!(batches.ends_with_partial_batch());
    }
}

#[test]
fn an_empty_record_set_has_no_batches() {
    let mut batches = decode_batches(&[], DecodeOptions::default());
    assert!(batches.next().is_none());
    assert!(!batches.ends_with_partial_batch());
}

#[test]
fn a_negative_batch_length_is_an_error() {
    let mut bytes = three(Compression::None);
    bytes[8..12].copy_from_slice(&(-5i32).to_be_bytes());
    assert_eq!(
        decode_batches(&bytes, DecodeOptions::default())
            .next()
            .unwrap()
            .err(),
        Some(DecodeError::NegativeLength(-5))
    );
}

#[test]
fn an_unknown_magic_is_an_error() {
    let mut bytes = three(Compression::None);
    bytes[16] = 3;
    assert!(matches!(
        decode_batches(&bytes, DecodeOptions::default()).next(),
        Some(Err(DecodeError::InvalidOwned(_)))
    ));
}

#[test]
fn an_unknown_codec_id_is_an_error() {
    let bytes = with_attributes(three(Compression::None), 0x05);
    assert!(decode_batches(&bytes, DecodeOptions::default())
        .next()
        .unwrap()
        .is_err());
}

#[test]
fn bytes_after_the_last_record_are_an_error() {
    let mut bytes = three(Compression::None);
    // Claim one record fewer than the batch holds.
    bytes[57..61].copy_from_slice(&2i32.to_be_bytes());
    let bytes = with_attributes(bytes, 0);
    let batch = only_batch(&bytes);
    let results: Vec<_> = batch.records().unwrap().collect();
    assert_eq!(results.len(), 3);
    assert!(results[2].is_err());
}

#[test]
fn a_record_count_above_the_records_present_is_an_error() {
    let mut bytes = three(Compression::None);
    bytes[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    let bytes = with_attributes(bytes, 0);
    let batch = only_batch(&bytes);
    let results: Vec<_> = batch.records().unwrap().collect();
    assert_eq!(results.len(), 4, "three records, then the error");
    assert!(results[3].is_err());
}

#[test]
fn a_batch_inflating_past_the_limit_is_an_error() {
    let mut builder =
        BatchBuilder::new(BatchOptions::default().with_compression(Compression::Gzip, None));
    builder.append(0, None, Some(&[0; 100_000]), &[]).unwrap();
    let bytes = builder.build().unwrap();
    let options = DecodeOptions::default().with_max_decompressed_size(50_000);
    let batch = decode_batches(&bytes, options).next().unwrap().unwrap();
    assert_eq!(
        batch.records().err(),
        Some(DecodeError::DecompressionLimit { limit: 50_000 })
    );
}

#[test]
fn control_batches_expose_their_marker_type() {
    let mut options = BatchOptions::default().with_transactional(true);
    options.control = true;
    let key = ControlRecordType::Commit.key();
    let value = ControlRecordType::end_txn_marker_value(4);
    let bytes = build(options, &[(0, Some(&key), Some(&value))]);
    let batch = only_batch(&bytes);
    assert!(batch.is_control());
    assert_eq!(batch.control_type(), Ok(Some(ControlRecordType::Commit)));
    let data = three(Compression::None);
    assert_eq!(only_batch(&data).control_type(), Ok(None));
}

#[test]
fn a_control_batch_without_a_crc_is_read_and_a_data_batch_without_one_is_not() {
    // librdkafka's mock cluster writes transaction markers with CRC 0.
    let zero_crc = |mut bytes: Vec<u8>| {
        bytes[17..21].copy_from_slice(&[0; 4]);
        bytes
    };
    let mut options = BatchOptions::default().with_transactional(true);
    options.control = true;
    let key = ControlRecordType::Abort.key();
    let value = ControlRecordType::end_txn_marker_value(0);
    let marker = zero_crc(build(options, &[(0, Some(&key), Some(&value))]));
    let batch = decode_batches(&marker, DecodeOptions::default())
        .next()
        .unwrap()
        .expect("a marker without a CRC is read");
    assert_eq!(batch.control_type(), Ok(Some(ControlRecordType::Abort)));
    let data = zero_crc(three(Compression::None));
    assert!(matches!(
        decode_batches(&data, DecodeOptions::default()).next(),
        Some(Err(DecodeError::CrcMismatch { stored: 0, .. }))
    ));
}

#[test]
fn non_utf8_header_keys_are_read_with_replacement_characters() {
    let mut builder = BatchBuilder::new(BatchOptions::default());
    builder
        .append(0, None, None, &[Header::new("ab", None)])
        .unwrap();
    let mut bytes = builder.build().unwrap();
    let at = bytes.windows(2).position(|w| w == b"ab").unwrap();
    bytes[at] = 0xff;
    let bytes = with_attributes(bytes, 0);
    let batch = only_batch(&bytes);
    let record = batch.records().unwrap().next().unwrap().unwrap();
    assert_eq!(record.headers[0].key, "\u{fffd}b");
}

#[cfg(not(feature = "lz4"))]
#[test]
fn an_lz4_batch_without_the_feature_names_the_feature() {
    let bytes = with_attributes(three(Compression::None), 0x03);
    let batch = only_batch(&bytes);
    match batch.records().err() {
        Some(DecodeError::UnsupportedCompression(message)) => assert!(message.contains("`lz4`")),
        other => panic!("{other:?}"),
    }
}

#[cfg(not(any(feature = "zstd", feature = "zstd-c")))]
#[test]
fn a_zstd_batch_without_the_feature_names_the_feature() {
    let bytes = with_attributes(three(Compression::None), 0x04);
    let batch = only_batch(&bytes);
    match batch.records().err() {
        Some(DecodeError::UnsupportedCompression(message)) => assert!(message.contains("`zstd`")),
        other => panic!("{other:?}"),
    }
}
