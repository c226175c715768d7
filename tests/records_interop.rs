//! The record codec against independent implementations: batches written by
//! kafka-python and by librdkafka (tests/data/records, made by
//! scripts/make-record-vectors.py) must decode to the records its manifest
//! lists, and our encoder must agree
//! with the `kafka-protocol` crate's, byte for byte where the codec is
//! deterministic and by decoding everywhere.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use kafka_sync::protocol::records::{
    decode_batches, BatchBuilder, BatchOptions, Compression, ControlRecordType, DecodeOptions,
    Header, RecordBatch, TimestampType,
};
// A record as the manifest states it.
use support::Fetched as Expected;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/records");

#[derive(Debug, Default)]
struct ExpectedBatch {
    fields: BTreeMap<String, String>,
    records: Vec<Expected>,
}

fn bytes_token(token: &str) -> Option<Vec<u8>> {
    if token == "-" {
        return None;
    }
    if let Some(len) = token.strip_prefix('p') {
        let len: usize = len.parse().unwrap();
        return Some((0..len).map(|i| (i % 251) as u8).collect());
    }
    let hex = token.strip_prefix('x').expect("bytes token");
    Some(
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect(),
    )
}

fn manifest() -> Vec<(String, Vec<ExpectedBatch>)> {
    let text = std::fs::read_to_string(Path::new(DATA).join("manifest.txt")).unwrap();
    let mut files: Vec<(String, Vec<ExpectedBatch>)> = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut words = line.split(' ');
        match words.next() {
            Some("file") => files.push((words.next().unwrap().to_owned(), Vec::new())),
            Some("batch") => {
                let fields = words
                    .map(|w| {
                        let (k, v) = w.split_once('=').unwrap();
                        (k.to_owned(), v.to_owned())
                    })
                    .collect();
                files.last_mut().unwrap().1.push(ExpectedBatch {
                    fields,
                    records: Vec::new(),
                });
            }
            Some("record") => {
                let offset = words.next().unwrap().parse().unwrap();
                let timestamp = words.next().unwrap().parse().unwrap();
                let key = bytes_token(words.next().unwrap());
                let value = bytes_token(words.next().unwrap());
                let headers = words
                    .map(|h| {
                        let mut parts = h.splitn(3, ':');
                        assert_eq!(parts.next(), Some("h"));
                        let key = bytes_token(&format!("x{}", parts.next().unwrap())).unwrap();
                        (
                            String::from_utf8(key).unwrap(),
                            bytes_token(parts.next().unwrap()),
                        )
                    })
                    .collect();
                let batch = files.last_mut().unwrap().1.last_mut().unwrap();
                batch.records.push(Expected {
                    offset,
                    timestamp,
                    key,
                    value,
                    headers,
                });
            }
            other => panic!("unexpected manifest line {other:?}"),
        }
    }
    files
}

fn actual_records(batch: &RecordBatch<'_>) -> Vec<Expected> {
    batch
        .records()
        .unwrap()
        .map(|r| Expected::from(r.unwrap()))
        .collect()
}

fn batch_fields(batch: &RecordBatch<'_>) -> BTreeMap<String, String> {
    let h = batch.header();
    let timestamp_type = match h.timestamp_type {
        TimestampType::CreateTime => "create",
        TimestampType::LogAppendTime => "log_append",
        TimestampType::NoTimestamp => "none",
    };
    [
        ("magic", h.magic.to_string()),
        ("compression", h.compression.name().to_owned()),
        ("base_offset", h.base_offset.to_string()),
        ("last_offset", h.last_offset().to_string()),
        ("count", h.record_count.to_string()),
        ("producer_id", h.producer_id.to_string()),
        ("producer_epoch", h.producer_epoch.to_string()),
        ("base_sequence", h.base_sequence.to_string()),
        ("transactional", u8::from(h.is_transactional).to_string()),
        ("control", u8::from(h.is_control).to_string()),
        ("timestamp_type", timestamp_type.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[test]
fn every_kafka_python_and_librdkafka_vector_decodes_to_its_manifest() {
    let files = manifest();
    assert!(files.len() >= 22, "manifest lists {} files", files.len());
    for (name, expected) in files {
        let bytes = std::fs::read(Path::new(DATA).join(&name)).unwrap();
        let mut batches = decode_batches(&bytes, DecodeOptions::default());
        let decoded: Vec<RecordBatch<'_>> = batches.by_ref().map(Result::unwrap).collect();
        assert!(batches.remainder().is_empty(), "{name}: bytes left over");
        assert_eq!(decoded.len(), expected.len(), "{name}: batch count");
        for (i, (batch, want)) in decoded.iter().zip(&expected).enumerate() {
            assert_eq!(batch_fields(batch), want.fields, "{name} batch {i}");
            assert_eq!(actual_records(batch), want.records, "{name} batch {i}");
        }
    }
}

#[test]
fn our_uncompressed_encoding_of_the_kafka_python_records_is_identical() {
    let (_, batches) = manifest()
        .into_iter()
        .find(|(name, _)| name == "v2-none.bin")
        .unwrap();
    let mut options = BatchOptions::default()
        .with_producer_state(4242, 7, 100)
        .with_base_offset(1000);
    options.partition_leader_epoch = 0; // kafka-python writes 0, Java -1
    let mut builder = BatchBuilder::new(options);
    for r in &batches[0].records {
        let headers: Vec<Header<'_>> = r
            .headers
            .iter()
            .map(|(k, v)| Header::new(k, v.as_deref()))
            .collect();
        builder
            .append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &headers)
            .unwrap();
    }
    let theirs = std::fs::read(Path::new(DATA).join("v2-none.bin")).unwrap();
    assert_eq!(builder.build().unwrap(), theirs);
}

#[test]
fn librdkafka_writes_raw_snappy_which_we_read() {
    let bytes = std::fs::read(Path::new(DATA).join("rdkafka-v2-snappy.bin")).unwrap();
    assert_eq!(bytes[22] & 0x07, 2, "snappy");
    assert_ne!(&bytes[61..62], b"\x82", "not the Xerial framing");
    let batch = decode_batches(&bytes, DecodeOptions::default())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(batch.records().unwrap().count(), 7);
}

#[test]
fn the_kafka_python_commit_marker_is_a_control_batch_of_type_commit() {
    let bytes = std::fs::read(Path::new(DATA).join("v2-transaction-commit.bin")).unwrap();
    let batches: Vec<_> = decode_batches(&bytes, DecodeOptions::default())
        .map(Result::unwrap)
        .collect();
    assert_eq!(batches[0].control_type(), Ok(None));
    assert!(batches[1].is_control());
    assert_eq!(
        batches[1].control_type(),
        Ok(Some(ControlRecordType::Commit))
    );
}

#[test]
fn a_fetch_cut_inside_a_kafka_python_batch_yields_the_complete_ones() {
    let mut bytes = std::fs::read(Path::new(DATA).join("v2-gzip.bin")).unwrap();
    let first = bytes.len();
    let next = std::fs::read(Path::new(DATA).join("v2-zstd.bin")).unwrap();
    bytes.extend_from_slice(&next[..next.len() / 2]);
    let mut batches = decode_batches(&bytes, DecodeOptions::default());
    assert_eq!(batches.by_ref().map(Result::unwrap).count(), 1);
    assert_eq!(batches.remainder(), &bytes[first..]);
    assert!(batches.ends_with_partial_batch());
}

// --- kafka-protocol crate as an oracle ---

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as OracleCompression, Record as OracleRecord, RecordBatchDecoder,
    RecordBatchEncoder, RecordEncodeOptions, TimestampType as OracleTimestampType,
};

use support::{build_batch, Rec as Sample};

/// Records with non-decreasing timestamps and unique header keys: the oracle
/// takes the smallest timestamp as the base and keeps headers in a map.
fn samples() -> Vec<Sample> {
    (0..40)
        .map(|i: usize| Sample {
            timestamp: 1_700_000_000_000 + (i as i64) * 7,
            key: (i % 3 != 0).then(|| format!("key-{i}").into_bytes()),
            value: (i % 5 != 4).then(|| vec![b'a' + (i % 26) as u8; i * 37]),
            headers: (0..i % 4)
                .map(|h| (format!("h{h}"), (h != 2).then(|| vec![h as u8; h])))
                .collect(),
        })
        .collect()
}

fn ours(compression: Compression, samples: &[Sample]) -> Vec<u8> {
    let options = BatchOptions::default()
        .with_compression(compression, None)
        .with_producer_state(99, 3, 1234)
        .with_base_offset(500);
    build_batch(options, samples)
}

fn oracle(compression: OracleCompression, samples: &[Sample]) -> Vec<u8> {
    let records: Vec<OracleRecord> = samples
        .iter()
        .enumerate()
        .map(|(i, s)| OracleRecord {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: 99,
            producer_epoch: 3,
            timestamp_type: OracleTimestampType::Creation,
            offset: 500 + i as i64,
            sequence: 1234 + i as i32,
            timestamp: s.timestamp,
            key: s.key.clone().map(Bytes::from),
            value: s.value.clone().map(Bytes::from),
            headers: s
                .headers
                .iter()
                .map(|(k, v)| (StrBytes::from_string(k.clone()), v.clone().map(Bytes::from)))
                .collect::<IndexMap<_, _>>(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).unwrap();
    buf.to_vec()
}

const PAIRS: [(Compression, OracleCompression); 5] = [
    (Compression::None, OracleCompression::None),
    (Compression::Gzip, OracleCompression::Gzip),
    (Compression::Snappy, OracleCompression::Snappy),
    (Compression::Lz4, OracleCompression::Lz4),
    (Compression::Zstd, OracleCompression::Zstd),
];

#[test]
fn uncompressed_batches_match_kafka_protocol_byte_for_byte() {
    assert_eq!(
        ours(Compression::None, &samples()),
        oracle(OracleCompression::None, &samples())
    );
}

#[test]
fn snappy_batches_match_kafka_protocol_byte_for_byte() {
    // Both write snappy-java's Xerial framing with 32 KiB blocks.
    assert_eq!(
        ours(Compression::Snappy, &samples()),
        oracle(OracleCompression::Snappy, &samples())
    );
}

#[test]
fn a_control_batch_matches_kafka_protocol_byte_for_byte() {
    let mut options = BatchOptions::default().with_producer_state(7, 1, -1);
    options.control = true;
    options.transactional = true;
    let mut builder = BatchBuilder::new(options);
    let key = ControlRecordType::Abort.key();
    let value = ControlRecordType::end_txn_marker_value(12);
    builder.append(42, Some(&key), Some(&value), &[]).unwrap();
    let ours = builder.build().unwrap();
    let record = OracleRecord {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: 7,
        producer_epoch: 1,
        timestamp_type: OracleTimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 42,
        key: Some(Bytes::copy_from_slice(&key)),
        value: Some(Bytes::copy_from_slice(&value)),
        headers: IndexMap::new(),
    };
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: OracleCompression::None,
    };
    RecordBatchEncoder::encode(&mut buf, [&record], &options).unwrap();
    assert_eq!(ours, buf.to_vec());
    let batch = decode_batches(&ours, DecodeOptions::default())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(batch.control_type(), Ok(Some(ControlRecordType::Abort)));
}

#[test]
fn kafka_protocol_decodes_our_batches_for_every_codec() {
    for (ours_codec, oracle_codec) in PAIRS {
        let bytes = ours(ours_codec, &samples());
        let mut buf = Bytes::from(bytes);
        let set = RecordBatchDecoder::decode(&mut buf).unwrap();
        assert_eq!(set.compression, oracle_codec, "{ours_codec}");
        assert_eq!(set.records.len(), samples().len());
        for (i, (got, want)) in set.records.iter().zip(samples()).enumerate() {
            assert_eq!(got.offset, 500 + i as i64);
            assert_eq!(got.sequence, 1234 + i as i32);
            assert_eq!(got.timestamp, want.timestamp);
            assert_eq!(got.key.as_deref(), want.key.as_deref());
            assert_eq!(got.value.as_deref(), want.value.as_deref());
            assert_eq!(got.headers.len(), want.headers.len());
        }
    }
}

#[test]
fn we_decode_kafka_protocol_batches_for_every_codec() {
    for (ours_codec, oracle_codec) in PAIRS {
        let bytes = oracle(oracle_codec, &samples());
        let batch = decode_batches(&bytes, DecodeOptions::default())
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(batch.compression(), ours_codec);
        assert_eq!(batch.header().producer_id, 99);
        let records: Vec<_> = batch.records().unwrap().map(Result::unwrap).collect();
        assert_eq!(records.len(), samples().len());
        for (i, (got, want)) in records.iter().zip(samples()).enumerate() {
            assert_eq!(got.offset, 500 + i as i64);
            assert_eq!(got.timestamp, want.timestamp);
            assert_eq!(got.key, want.key.as_deref());
            assert_eq!(got.value, want.value.as_deref());
            let headers: Vec<_> = got
                .headers
                .iter()
                .map(|h| (h.key.to_string(), h.value().map(<[u8]>::to_vec)))
                .collect();
            assert_eq!(headers, want.headers);
        }
    }
}
