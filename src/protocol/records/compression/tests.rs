use super::lz4_codec::*;
use super::zstd_codec::*;
use super::*;

const ALL: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

fn sample(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i / 1000) as u8)
        .collect()
}

#[test]
fn every_codec_round_trips() {
    for c in ALL.into_iter().filter(|c| c.is_available()) {
        for len in [0, 1, 100, XERIAL_BLOCK_SIZE, 200_000] {
            let input = sample(len);
            let mut out = Vec::new();
            compress(c, None, &input, &mut out).unwrap();
            assert_eq!(
                decompress(c, &out, 1 << 20, false).unwrap(),
                input,
                "{c} {len}"
            );
        }
    }
}

#[cfg(not(any(feature = "zstd", feature = "zstd-c")))]
#[test]
fn encoding_with_a_codec_whose_feature_is_off_names_the_feature() {
    assert_eq!(
        compress(Compression::Zstd, None, b"x", &mut Vec::new()),
        Err(EncodeError::Unsupported(
            "zstd compression needs the `zstd` feature of kafka-sync"
        ))
    );
}

#[test]
fn ids_and_names_round_trip() {
    for c in ALL {
        assert_eq!(Compression::from_id(c.id()), Some(c));
        assert_eq!(c.name().parse::<Compression>(), Ok(c));
        assert_eq!(c.to_string().to_uppercase().parse::<Compression>(), Ok(c));
    }
    assert_eq!(Compression::from_id(5), None);
    assert!("brotli".parse::<Compression>().is_err());
}

#[test]
fn levels_outside_the_range_are_rejected() {
    let mut out = Vec::new();
    assert!(compress(Compression::Gzip, Some(10), b"x", &mut out).is_err());
    assert!(compress(Compression::Zstd, Some(23), b"x", &mut out).is_err());
    for level in [1, 9] {
        out.clear();
        compress(Compression::Gzip, Some(level), b"abc", &mut out).unwrap();
        assert_eq!(
            decompress(Compression::Gzip, &out, 10, false).unwrap(),
            b"abc"
        );
    }
}

#[test]
fn snappy_writes_the_xerial_framing() {
    let mut out = Vec::new();
    compress(
        Compression::Snappy,
        None,
        &sample(XERIAL_BLOCK_SIZE + 1),
        &mut out,
    )
    .unwrap();
    assert_eq!(out[..16], XERIAL_HEADER);
    // Two blocks: a full 32 KiB one, then one byte.
    let first = u32::from_be_bytes([out[16], out[17], out[18], out[19]]) as usize;
    let second_at = 20 + first;
    let second = u32::from_be_bytes(out[second_at..second_at + 4].try_into().unwrap());
    assert_eq!(out.len(), second_at + 4 + second as usize);
}

#[test]
fn raw_snappy_without_framing_is_read() {
    let input = sample(5000);
    let raw = snap::raw::Encoder::new().compress_vec(&input).unwrap();
    assert_eq!(
        decompress(Compression::Snappy, &raw, 1 << 20, false).unwrap(),
        input
    );
}

#[test]
fn output_past_the_limit_is_an_error() {
    let input = vec![0u8; 100_000];
    for c in ALL.into_iter().filter(|c| c.is_available()) {
        let mut out = Vec::new();
        compress(c, None, &input, &mut out).unwrap();
        assert_eq!(
            decompress(c, &out, 99_999, false),
            Err(DecodeError::DecompressionLimit { limit: 99_999 }),
            "{c}"
        );
        assert_eq!(decompress(c, &out, 100_000, false).unwrap().len(), 100_000);
    }
}

#[test]
fn garbage_is_an_error_for_every_codec() {
    for c in ALL.into_iter().skip(1) {
        assert!(
            decompress(c, b"definitely not compressed", 1 << 20, false).is_err(),
            "{c}"
        );
    }
}

#[cfg(any(feature = "zstd", feature = "zstd-c"))]
#[test]
fn a_zstd_frame_declaring_a_huge_window_fails_before_allocating_it() {
    // Magic, a descriptor with no content size, then a 2^35-byte window:
    // the decoder would reserve 32 GiB for it.
    let frame = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 25 << 3, 0, 0, 0];
    assert_eq!(
        decompress(Compression::Zstd, &frame, 1 << 20, false),
        Err(DecodeError::DecompressionLimit { limit: 1 << 20 })
    );
}

#[cfg(any(feature = "zstd", feature = "zstd-c"))]
#[test]
fn a_zstd_frame_declaring_more_content_than_the_limit_is_rejected() {
    // Single segment, a 4-byte content size of 2^31 - 1.
    let frame = [0x28, 0xB5, 0x2F, 0xFD, 0xA0, 0xFF, 0xFF, 0xFF, 0x7F, 0, 0];
    assert_eq!(
        decompress(Compression::Zstd, &frame, 1 << 20, false),
        Err(DecodeError::DecompressionLimit { limit: 1 << 20 })
    );
}

#[cfg(any(feature = "zstd", feature = "zstd-c"))]
#[test]
fn concatenated_and_skippable_zstd_frames_are_read_as_one_stream() {
    let (a, b) = (sample(70_000), sample(3_000));
    let mut input = Vec::new();
    compress(Compression::Zstd, None, &a, &mut input).unwrap();
    // A skippable frame (magic 0x184D2A5?, length, payload) in between.
    input.extend_from_slice(&[0x53, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    compress(Compression::Zstd, None, &b, &mut input).unwrap();
    let output = decompress(Compression::Zstd, &input, 1 << 20, false).unwrap();
    assert_eq!(output, [a, b].concat());
    assert_eq!(
        decompress(Compression::Zstd, &input, 72_999, false),
        Err(DecodeError::DecompressionLimit { limit: 72_999 })
    );
}

/// With both backends compiled (`--all-features`, the suite's command),
/// each reads what the other writes, and both keep the same bounds: the
/// pure-Rust default is checked even where libzstd is the one in use.
#[cfg(all(feature = "zstd", feature = "zstd-c"))]
#[test]
fn the_pure_rust_and_the_c_zstd_backends_read_each_other() {
    for len in [0, 1, 100, 70_000, 300_000] {
        let input = sample(len);
        let (mut by_c, mut by_rust) = (Vec::new(), Vec::new());
        libzstd_compress(&input, 3, &mut by_c).unwrap();
        ruzstd_compress(&input, 3, &mut by_rust).unwrap();
        assert_eq!(ruzstd_decompress(&by_c, 1 << 20).unwrap(), input, "{len} B");
        assert_eq!(libzstd_decompress(&by_rust, 1 << 20).unwrap(), input, "{len} B");
        assert_eq!(ruzstd_decompress(&by_rust, 1 << 20).unwrap(), input, "{len} B");
        if len > 100 {
            let limit = len - 1;
            let over = Err(DecodeError::DecompressionLimit { limit });
            assert_eq!(ruzstd_decompress(&by_c, limit), over, "{len} B");
            assert_eq!(libzstd_decompress(&by_rust, limit), over, "{len} B");
        }
    }
}

#[cfg(any(feature = "zstd", feature = "zstd-c"))]
#[test]
fn zstd_frame_headers_are_read_as_rfc_8878_describes() {
    // No single segment, window descriptor 0x59: 2^(10 + 11) + 1/8 of it.
    let header = zstd_frame_header(&[0x28, 0xB5, 0x2F, 0xFD, 0x40, 0x59, 0x10, 0x00]);
    assert_eq!(
        header,
        Ok(ZstdFrameHeader {
            window_size: (1 << 21) + (1 << 18),
            content_size: Some(0x10 + 256),
            skippable_len: None,
        })
    );
    assert!(zstd_frame_header(&[0x28, 0xB5, 0x2F]).is_err());
    assert!(zstd_frame_header(b"not zstd").is_err());
}

#[cfg(any(feature = "zstd", feature = "zstd-c"))]
proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..Default::default()
    })]
    /// The zstd decoder (either backend) never panics on a damaged
    /// frame and stays within the limit.
    #[test]
    fn damaged_zstd_frames_never_panic(
        edits in proptest::collection::vec((0usize..4096, 0u8..=255), 1..8),
        cut in 0usize..4096,
    ) {
        let input = sample(3000);
        let mut frame = Vec::new();
        compress(Compression::Zstd, None, &input, &mut frame).unwrap();
        for (at, value) in edits {
            let at = at % frame.len();
            frame[at] = value;
        }
        frame.truncate(frame.len() - cut % frame.len());
        if let Ok(out) = decompress(Compression::Zstd, &frame, 4000, false) {
            proptest::prop_assert!(out.len() <= 4000);
        }
    }
}

#[cfg(feature = "lz4")]
#[test]
fn lz4_frames_with_kafka_0_8_header_checksums_are_read_for_magic_0() {
    let input = sample(1000);
    let mut good = Vec::new();
    compress(Compression::Lz4, None, &input, &mut good).unwrap();
    let mut broken = good.clone();
    // Kafka 0.8 hashed the magic number as well.
    broken[6] = (xxh32_short(&broken[..6]) >> 8) as u8;
    assert_ne!(broken[6], good[6]);
    assert!(decompress(Compression::Lz4, &broken, 1 << 20, false).is_err());
    assert_eq!(
        decompress(Compression::Lz4, &broken, 1 << 20, true).unwrap(),
        input
    );
}

#[cfg(feature = "lz4")]
#[test]
fn xxh32_matches_reference_vectors() {
    // Computed with the Python `xxhash` binding of the reference C code.
    assert_eq!(xxh32_short(b""), 0x02cc_5d05);
    assert_eq!(xxh32_short(b"a"), 0x550d_7456);
    assert_eq!(xxh32_short(b"abc"), 0x32d1_53ff);
    assert_eq!(xxh32_short(b"Nobody inspects"), 0x9759_cd1a);
    assert_eq!(xxh32_short(b"0123456789abcd"), 0xf45a_ca85);
}
