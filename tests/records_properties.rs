//! Property tests of the record codec: arbitrary records survive a round trip
//! through every codec; flipped bits, truncations, mutations and random bytes
//! give errors (or a quiet partial-batch stop), never a panic.

mod support;

use kafka_sync::protocol::records::{
    decode_batches, BatchBuilder, BatchOptions, Compression, DecodeOptions,
};
use proptest::prelude::*;

use support::Rec as Input;

fn bytes(max: usize) -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(Vec::new())),
        6 => proptest::collection::vec(any::<u8>(), 0..max).prop_map(Some),
        // Big values, cheap to generate: a repeated pattern.
        1 => (10_000..150_000usize, any::<u8>())
            .prop_map(|(n, b)| Some((0..n).map(|i| b.wrapping_add((i % 13) as u8)).collect())),
    ]
}

fn timestamp() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(-1i64),
        Just(0i64),
        any::<i64>(),
        1_600_000_000_000i64..1_800_000_000_000,
    ]
}

fn input() -> impl Strategy<Value = Input> {
    let header = (
        ".{0,12}",
        prop_oneof![
            Just(None),
            proptest::collection::vec(any::<u8>(), 0..16).prop_map(Some)
        ],
    );
    let headers = prop_oneof![
        4 => proptest::collection::vec(header.clone(), 0..3),
        1 => proptest::collection::vec(header, 0..40),
    ];
    (timestamp(), bytes(64), bytes(512), headers).prop_map(|(timestamp, key, value, headers)| {
        Input {
            timestamp,
            key,
            value,
            headers,
        }
    })
}

fn compression() -> impl Strategy<Value = Compression> {
    prop_oneof![
        Just(Compression::None),
        Just(Compression::Gzip),
        Just(Compression::Snappy),
        Just(Compression::Lz4),
        Just(Compression::Zstd),
    ]
}

fn encode(compression: Compression, base_offset: i64, inputs: &[Input]) -> Vec<u8> {
    let options = BatchOptions::default()
        .with_compression(compression, None)
        .with_base_offset(base_offset);
    let mut builder = BatchBuilder::new(options);
    for input in inputs {
        let headers = input.header_refs();
        let before = builder.size_after(
            input.timestamp,
            input.key.as_deref(),
            input.value.as_deref(),
            &headers,
        );
        builder
            .append(
                input.timestamp,
                input.key.as_deref(),
                input.value.as_deref(),
                &headers,
            )
            .unwrap();
        assert_eq!(builder.size_in_bytes(), before);
    }
    builder.build().unwrap()
}

/// Decodes everything, records included, and reports whether any step
/// failed. Never panics on any input: that is the property.
fn decode_all(bytes: &[u8], options: DecodeOptions) -> Result<usize, String> {
    let mut records = 0;
    for batch in decode_batches(bytes, options) {
        let batch = batch.map_err(|e| e.to_string())?;
        let _ = batch.control_type();
        for record in batch.records().map_err(|e| e.to_string())? {
            record.map_err(|e| e.to_string())?;
            records += 1;
        }
    }
    Ok(records)
}

fn unchecked() -> DecodeOptions {
    DecodeOptions::default()
        .with_check_crcs(false)
        .with_max_decompressed_size(1 << 20)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_records_round_trip_through_every_codec(
        compression in compression(),
        base_offset in prop_oneof![Just(0i64), 0..i64::MAX / 2],
        inputs in proptest::collection::vec(input(), 1..12),
    ) {
        let bytes = encode(compression, base_offset, &inputs);
        let mut batches = decode_batches(&bytes, DecodeOptions::default());
        let batch = batches.next().unwrap().unwrap();
        prop_assert!(batches.next().is_none());
        prop_assert_eq!(batch.compression(), compression);
        prop_assert_eq!(batch.last_offset(), base_offset + inputs.len() as i64 - 1);
        let max = inputs.iter().map(|i| i.timestamp).max().unwrap();
        prop_assert_eq!(batch.header().max_timestamp, max);
        let records: Vec<_> = batch.records().unwrap().map(Result::unwrap).collect();
        prop_assert_eq!(records.len(), inputs.len());
        for (i, (got, want)) in records.iter().zip(&inputs).enumerate() {
            prop_assert_eq!(got.offset, base_offset + i as i64);
            prop_assert_eq!(got.timestamp, want.timestamp);
            prop_assert_eq!(got.key, want.key.as_deref());
            prop_assert_eq!(got.value, want.value.as_deref());
            let headers: Vec<_> = got.headers.iter().map(|h| (h.key.to_string(), h.value().map(<[u8]>::to_vec))).collect();
            prop_assert_eq!(&headers, &want.headers);
        }
    }

    #[test]
    fn a_flipped_bit_under_the_crc_fails_the_crc(
        compression in compression(),
        inputs in proptest::collection::vec(input(), 1..4),
        position in any::<prop::sample::Index>(),
        bit in 0..8u8,
    ) {
        let mut bytes = encode(compression, 0, &inputs);
        // The CRC field and everything it covers: bytes 17 to the end.
        let at = 17 + position.index(bytes.len() - 17);
        bytes[at] ^= 1 << bit;
        let result = decode_batches(&bytes, DecodeOptions::default()).next().unwrap();
        prop_assert!(
            matches!(result, Err(kafka_sync::protocol::DecodeError::CrcMismatch { .. })),
            "flip at {} gave {:?}", at, result.map(|b| *b.header())
        );
    }

    #[test]
    fn every_truncation_is_a_partial_batch_or_an_error(
        compression in compression(),
        inputs in proptest::collection::vec(input(), 1..4),
    ) {
        let bytes = encode(compression, 0, &inputs);
        for cut in 0..bytes.len() {
            // As a fetch response cut short: no batch, the rest is partial.
            let mut batches = decode_batches(&bytes[..cut], DecodeOptions::default());
            prop_assert!(batches.next().is_none(), "cut {}", cut);
            prop_assert_eq!(batches.remainder().len(), cut);
            // With the length field fixed to match and CRCs unchecked, the
            // missing bytes must still be noticed, except the lz4 frame's
            // end mark (its last four bytes): the decoder used takes the end
            // of input for the end of the frame, and no data is lost.
            if cut < 12 {
                continue;
            }
            let mut fixed = bytes[..cut].to_vec();
            fixed[8..12].copy_from_slice(&(cut as i32 - 12).to_be_bytes());
            match decode_all(&fixed, unchecked()) {
                Err(_) => {}
                Ok(n) => {
                    prop_assert!(compression == Compression::Lz4 && cut >= bytes.len() - 4, "cut {}", cut);
                    prop_assert_eq!(n, inputs.len());
                }
            }
        }
    }

    #[test]
    fn mutated_batches_never_panic(
        compression in compression(),
        inputs in proptest::collection::vec(input(), 1..4),
        mutations in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = encode(compression, 0, &inputs);
        for (at, byte) in mutations {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        let _ = decode_all(&bytes, unchecked());
        let _ = decode_all(&bytes, DecodeOptions::default());
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_all(&data, unchecked());
    }

    #[test]
    fn random_bodies_behind_a_plausible_header_never_panic(
        magic in 0..3u8,
        attributes in any::<u8>(),
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        // Offset, a length that matches, some epoch/crc bytes, the magic and
        // attributes, then noise: reaches the record and message parsers.
        let mut bytes = 0i64.to_be_bytes().to_vec();
        let len = 4 + 1 + 4 + 2 + body.len();
        bytes.extend_from_slice(&(len as i32).to_be_bytes());
        if magic == 2 {
            bytes.extend_from_slice(&[0, 0, 0, 0, magic, 0, 0, 0, 0, 0, attributes & 0x07]);
        } else {
            bytes.extend_from_slice(&[0, 0, 0, 0, magic, attributes & 0x0f, 0, 0, 0, 0, 0]);
        }
        bytes.extend_from_slice(&body);
        let _ = decode_all(&bytes, unchecked());
    }
}
