//! The span reader on hand-made record data: nulls, empties, headers, and
//! malformed records, which must give errors, never panics.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;

use super::SpanReader;
use crate::consumer::message::{Chunk, Message};
use crate::protocol::records::{BatchHeader, TimestampType};
use crate::protocol::{DecodeError, Encoder};

fn varint(out: &mut Vec<u8>, v: i64) {
    Encoder::new(out).varlong(v);
}

fn part(out: &mut Vec<u8>, part: Option<&[u8]>) {
    match part {
        None => varint(out, -1),
        Some(p) => {
            varint(out, p.len() as i64);
            out.extend_from_slice(p);
        }
    }
}

/// A header: key and value, either of which may be null (to test a null key).
type Pair<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// One magic-2 record, length prefix included.
fn record(
    offset_delta: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[Pair<'_>],
) -> Vec<u8> {
    let mut body = vec![0u8];
    varint(&mut body, 3); // timestamp delta
    varint(&mut body, offset_delta);
    part(&mut body, key);
    part(&mut body, value);
    varint(&mut body, headers.len() as i64);
    for (k, v) in headers {
        part(&mut body, *k);
        part(&mut body, *v);
    }
    let mut out = Vec::new();
    varint(&mut out, body.len() as i64);
    out.extend_from_slice(&body);
    out
}

fn header() -> BatchHeader {
    let mut h = BatchHeader::blank(2, 0).unwrap();
    h.base_offset = 100;
    h.base_timestamp = 1_000;
    h.timestamp_type = TimestampType::CreateTime;
    h
}

/// Reads `count` records of `data` (behind a 5-byte prefix, so spans are
/// not at 0) into messages, or the first error.
fn read(data: &[u8], count: i32) -> Result<Vec<Message>, DecodeError> {
    let mut buf = b"01234".to_vec();
    buf.extend_from_slice(data);
    let chunk = Arc::new(Chunk {
        buf: Bytes::from(buf),
        topic: Arc::from("t"),
    });
    let reader = SpanReader::new(&chunk.buf, 5, chunk.buf.len(), count, &header())?;
    reader
        .map(|r| r.map(|r| Message::new(&chunk, 0, TimestampType::CreateTime, &r)))
        .collect()
}

#[test]
fn nulls_empties_and_values_come_back_as_written() {
    let mut data = record(0, None, None, &[]);
    data.extend(record(1, Some(b""), Some(b""), &[]));
    data.extend(record(2, Some(b"k"), Some(b"value"), &[]));
    let m = read(&data, 3).unwrap();
    assert_eq!(m.len(), 3);
    assert_eq!((m[0].key(), m[0].value()), (None, None));
    assert_eq!((m[1].key(), m[1].value()), (Some(&b""[..]), Some(&b""[..])));
    assert_eq!(
        (m[2].key(), m[2].value()),
        (Some(&b"k"[..]), Some(&b"value"[..]))
    );
    assert_eq!(m[2].value_shared().unwrap(), Bytes::from_static(b"value"));
    assert_eq!(
        m.iter().map(Message::offset).collect::<Vec<_>>(),
        [100, 101, 102]
    );
    assert_eq!(m[0].timestamp(), 1_003);
    assert_eq!(m[0].headers().count(), 0);
}

#[test]
fn headers_with_null_values_and_non_utf8_keys_are_read_lazily() {
    let data = record(
        0,
        None,
        Some(b"v"),
        &[
            (Some(b"a"), None),
            (Some(b"\xffb"), Some(b"1")),
            (Some(b""), Some(b"")),
        ],
    );
    let m = read(&data, 1).unwrap();
    let headers: Vec<_> = m[0].headers().map(|h| (h.key(), h.value())).collect();
    assert_eq!(
        headers,
        [
            (Cow::from("a"), None),
            (Cow::from("\u{fffd}b"), Some(&b"1"[..])),
            (Cow::from(""), Some(&b""[..])),
        ]
    );
    assert_eq!(m[0].header("a"), Some(None));
    assert_eq!(m[0].header("\u{fffd}b"), Some(Some(&b"1"[..])));
    assert_eq!(m[0].headers().nth(1).unwrap().key_bytes(), b"\xffb");
}

#[test]
fn malformed_records_are_errors() {
    let good = record(0, Some(b"k"), Some(b"v"), &[(Some(b"h"), Some(b"x"))]);
    // A null header key.
    assert!(matches!(
        read(&record(0, None, None, &[(None, Some(b"x"))]), 1),
        Err(DecodeError::UnexpectedNull)
    ));
    // A negative key length.
    let mut bad = vec![0u8];
    varint(&mut bad, 0);
    varint(&mut bad, 0);
    varint(&mut bad, -2);
    let mut framed = Vec::new();
    varint(&mut framed, bad.len() as i64);
    framed.extend(bad);
    assert!(matches!(
        read(&framed, 1),
        Err(DecodeError::NegativeLength(-2))
    ));
    // Bytes after the last record, and a count larger than the records.
    let mut two = good.clone();
    two.extend_from_slice(&good);
    assert!(read(&two, 1).is_err());
    assert!(read(&good, 2).is_err());
    // Every cut of a good record, and a record length too small by one.
    for cut in 0..good.len() {
        assert!(read(&good[..cut], 1).is_err(), "cut at {cut}");
    }
    let mut short = good.clone();
    short[0] -= 2; // one byte less (zig-zag)
    assert!(read(&short, 1).is_err());
    // A varint that never ends.
    assert!(read(&[0xff; 12], 1).is_err());
}

#[test]
fn arbitrary_bytes_never_panic() {
    let good = record(1, Some(b"key"), Some(b"value"), &[(Some(b"h"), None)]);
    let mut state = 0x2545_f491_u32;
    for _ in 0..5_000 {
        let mut data = good.clone();
        for _ in 0..3 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let at = state as usize % data.len();
            data[at] = (state >> 8) as u8;
        }
        if let Ok(messages) = read(&data, 1) {
            for m in messages {
                let _ = (m.key(), m.value(), m.headers().count(), format!("{m:?}"));
            }
        }
    }
}
