//! Compression codecs for record batches: gzip, snappy, lz4 and zstd.
//!
//! Each codec writes what the Java client writes, so every broker and client
//! reads our batches, and reads what every client writes:
//! - gzip: one gzip member (several concatenated members are read too);
//! - snappy: the Xerial framing of `snappy-java` (`\x82SNAPPY\0`, version 1,
//!   compatible version 1, then blocks of at most 32 KiB prefixed with their
//!   big-endian compressed length); raw snappy without the framing, as some
//!   non-Java clients write it, is read too;
//! - lz4: the LZ4 frame format with independent 64 KiB blocks and no
//!   checksums (KIP-57); frames written by Kafka 0.8/0.9 for magic 0, whose
//!   header checksum is computed over the wrong bytes, are read too;
//! - zstd: one zstd frame (KIP-110); several concatenated frames and
//!   skippable frames are read too. The default `zstd` feature uses the
//!   pure-Rust `ruzstd` (its encoder has one level, about zstd's level 1);
//!   `zstd-c` uses libzstd, which is faster and honours every level.
//!
//! Decompression never produces more than a caller-given limit: past it the
//! batch is rejected with [`DecodeError::DecompressionLimit`], so a hostile
//! batch cannot exhaust memory. A zstd frame whose header declares a window
//! (the history its decoder reserves up front) above the limit and 8 MiB is
//! rejected the same way before any decoding.
//!
//! # References
//! Kafka protocol guide, "Record Batch" (attributes); KIP-57 (lz4 framing),
//! KIP-110 (zstd), KIP-390 (compression levels).

use std::fmt;
use std::io::{Read, Write};
use std::ops::RangeInclusive;
use std::str::FromStr;

use crate::protocol::{DecodeError, DecodeResult, EncodeError};

/// How the records of a batch are compressed: bits 0-2 of the batch
/// attributes. Defaults to `None`, as in the Java producer.
///
/// `Lz4` and `Zstd` need the `lz4` and `zstd` (or `zstd-c`) cargo features
/// (`lz4` and `zstd` are on by default); without them, encoding fails with an `EncodeError` and
/// decoding with [`DecodeError::UnsupportedCompression`] naming the feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression.
    #[default]
    None,
    /// gzip (DEFLATE), levels 1 to 9.
    Gzip,
    /// Snappy, no levels.
    Snappy,
    /// LZ4 frame format.
    Lz4,
    /// Zstandard (brokers 2.1 and newer), levels -131072 to 22. With the
    /// pure-Rust `zstd` feature every level is written as about level 1;
    /// the `zstd-c` feature applies the level.
    Zstd,
}

impl Compression {
    /// The codec id in the batch attributes (0 to 4).
    pub fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The codec for an attributes id, `None` for ids Kafka does not define.
    pub fn from_id(id: u8) -> Option<Compression> {
        Some(match id {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            _ => return None,
        })
    }

    /// The name used by Kafka's `compression.type` setting: `none`, `gzip`,
    /// `snappy`, `lz4` or `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// The compression levels the codec accepts, as in the Java client
    /// (KIP-390); `None` for codecs without levels. The LZ4 encoder used
    /// here has a single level, so an LZ4 level is accepted and ignored.
    pub fn level_range(self) -> Option<RangeInclusive<i32>> {
        match self {
            Compression::Gzip => Some(1..=9),
            Compression::Lz4 => Some(1..=17),
            Compression::Zstd => Some(-131_072..=22),
            Compression::None | Compression::Snappy => None,
        }
    }

    /// The level used when none is given: 6 for gzip, 9 for lz4 and 3 for
    /// zstd, as in the Java client.
    pub fn default_level(self) -> Option<i32> {
        match self {
            Compression::Gzip => Some(6),
            Compression::Lz4 => Some(9),
            Compression::Zstd => Some(3),
            Compression::None | Compression::Snappy => None,
        }
    }

    /// Whether this build can encode and decode the codec (lz4 and zstd are
    /// cargo features).
    pub fn is_available(self) -> bool {
        let lz4 = cfg!(feature = "lz4");
        let zstd = cfg!(any(feature = "zstd", feature = "zstd-c"));
        match self {
            Compression::Lz4 => lz4,
            Compression::Zstd => zstd,
            _ => true,
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string that names no compression codec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compression type `{0}`; expected none, gzip, snappy, lz4 or zstd")]
pub struct ParseCompressionError(String);

impl FromStr for Compression {
    type Err = ParseCompressionError;

    /// Parses Kafka's `compression.type` names, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ]
        .into_iter()
        .find(|c| c.name().eq_ignore_ascii_case(s))
        .ok_or_else(|| ParseCompressionError(s.to_owned()))
    }
}

/// The Xerial snappy stream header: magic, version 1, compatible version 1.
const XERIAL_HEADER: [u8; 16] = [
    0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1,
];
/// snappy-java's default block size, which Kafka's Java client uses.
const XERIAL_BLOCK_SIZE: usize = 32 * 1024;

/// Appends `input` compressed with `compression` to `out`. `level` must lie
/// in [`Compression::level_range`] (`None` picks the default level).
pub(crate) fn compress(
    compression: Compression,
    level: Option<i32>,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let level = match (compression.level_range(), level) {
        (_, None) => compression.default_level(),
        (Some(range), Some(level)) if range.contains(&level) => Some(level),
        (Some(_), Some(_)) => {
            return Err(EncodeError::Unsupported(
                "compression level outside the codec's range (see Compression::level_range)",
            ))
        }
        (None, Some(_)) => None, // snappy and none have no levels; nothing to apply
    };
    match compression {
        Compression::None => out.extend_from_slice(input),
        Compression::Gzip => gzip_compress(input, level.unwrap_or(6), out),
        Compression::Snappy => snappy_compress(input, out)?,
        Compression::Lz4 => lz4_compress(input, out)?,
        Compression::Zstd => zstd_compress(input, level.unwrap_or(3), out)?,
    }
    Ok(())
}

/// Decompresses `input`, failing past `limit` output bytes. `legacy_lz4`
/// tolerates the wrong lz4 header checksum of magic-0 message sets.
pub(crate) fn decompress(
    compression: Compression,
    input: &[u8],
    limit: usize,
    legacy_lz4: bool,
) -> DecodeResult<Vec<u8>> {
    match compression {
        Compression::None => {
            if input.len() > limit {
                return Err(DecodeError::DecompressionLimit { limit });
            }
            Ok(input.to_vec())
        }
        Compression::Gzip => read_bounded(
            flate2::read::MultiGzDecoder::new(input),
            input.len().saturating_mul(4),
            limit,
            "gzip",
        ),
        Compression::Snappy => snappy_decompress(input, limit),
        Compression::Lz4 => lz4_decompress(input, limit, legacy_lz4),
        Compression::Zstd => zstd_decompress(input, limit),
    }
}

/// Reads `reader` to the end into a new buffer of at most `limit` bytes.
fn read_bounded(
    reader: impl Read,
    size_hint: usize,
    limit: usize,
    codec: &'static str,
) -> DecodeResult<Vec<u8>> {
    let mut out = Vec::with_capacity(size_hint.min(limit));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::InvalidOwned(format!("{codec} data is corrupt: {e}")))?;
    if out.len() > limit {
        return Err(DecodeError::DecompressionLimit { limit });
    }
    Ok(out)
}

fn gzip_compress(input: &[u8], level: i32, out: &mut Vec<u8>) {
    // `level` was checked against 1..=9.
    let level = flate2::Compression::new(level.unsigned_abs());
    let mut encoder = flate2::write::GzEncoder::new(out, level);
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(input);
    let _ = encoder.finish();
}

fn snappy_compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    out.extend_from_slice(&XERIAL_HEADER);
    let mut encoder = snap::raw::Encoder::new();
    for block in input.chunks(XERIAL_BLOCK_SIZE) {
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        let start = out.len();
        out.resize(start + snap::raw::max_compress_len(block.len()), 0);
        let written = encoder
            .compress(block, &mut out[start..])
            .map_err(|_| EncodeError::Unsupported("snappy compression failed"))?;
        out.truncate(start + written);
        let written = u32::try_from(written).map_err(|_| EncodeError::TooLong(written))?;
        out[len_at..start].copy_from_slice(&written.to_be_bytes());
    }
    Ok(())
}

fn snappy_decompress(input: &[u8], limit: usize) -> DecodeResult<Vec<u8>> {
    let mut out = Vec::new();
    match input.strip_prefix(&XERIAL_HEADER[..8]) {
        // The version fields are ignored, as snappy-java and kafka-python do:
        // some writers get their byte order wrong.
        Some(framed) if input.len() >= XERIAL_HEADER.len() => {
            let mut blocks = &framed[8..];
            while !blocks.is_empty() {
                let (len, rest) = blocks.split_at_checked(4).ok_or(DecodeError::Truncated {
                    needed: 4,
                    remaining: blocks.len(),
                })?;
                let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
                let len = usize::try_from(len).map_err(|_| DecodeError::NegativeLength(len))?;
                let (block, rest) = rest.split_at_checked(len).ok_or(DecodeError::Truncated {
                    needed: len,
                    remaining: rest.len(),
                })?;
                snappy_block(block, limit, &mut out)?;
                blocks = rest;
            }
        }
        _ => snappy_block(input, limit, &mut out)?,
    }
    Ok(out)
}

/// Appends one raw snappy block, checking its declared length against `limit`
/// before allocating.
fn snappy_block(block: &[u8], limit: usize, out: &mut Vec<u8>) -> DecodeResult<()> {
    let corrupt =
        |e: snap::Error| DecodeError::InvalidOwned(format!("snappy data is corrupt: {e}"));
    let len = snap::raw::decompress_len(block).map_err(corrupt)?;
    if len > limit.saturating_sub(out.len()) {
        return Err(DecodeError::DecompressionLimit { limit });
    }
    let start = out.len();
    out.resize(start + len, 0);
    snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(corrupt)?;
    Ok(())
}

#[cfg(feature = "lz4")]
fn lz4_compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
    // What Kafka's KafkaLZ4BlockOutputStream writes: independent 64 KiB
    // blocks, no block or content checksum (the batch CRC covers the data).
    let info = FrameInfo::new()
        .block_size(BlockSize::Max64KB)
        .block_mode(BlockMode::Independent);
    let mut encoder = FrameEncoder::with_frame_info(info, out);
    encoder
        .write_all(input)
        .and_then(|()| encoder.finish().map(drop).map_err(std::io::Error::other))
        .map_err(|_| EncodeError::Unsupported("lz4 compression failed"))
}

#[cfg(not(feature = "lz4"))]
fn lz4_compress(_input: &[u8], _out: &mut Vec<u8>) -> Result<(), EncodeError> {
    Err(EncodeError::Unsupported(
        "lz4 compression needs the `lz4` feature of kafka-sync",
    ))
}

#[cfg(feature = "lz4")]
fn lz4_decompress(input: &[u8], limit: usize, legacy: bool) -> DecodeResult<Vec<u8>> {
    let fixed;
    let input = if legacy {
        fixed = lz4_fix_header_checksum(input);
        &fixed[..]
    } else {
        input
    };
    let decoder = lz4_flex::frame::FrameDecoder::new(input);
    read_bounded(decoder, input.len().saturating_mul(4), limit, "lz4")
}

#[cfg(not(feature = "lz4"))]
fn lz4_decompress(_input: &[u8], _limit: usize, _legacy: bool) -> DecodeResult<Vec<u8>> {
    Err(DecodeError::UnsupportedCompression(
        "record batch is lz4-compressed: enable the `lz4` feature of kafka-sync to read it",
    ))
}

/// Kafka 0.8/0.9 computed the lz4 frame header checksum over the magic
/// number too (KAFKA-3160); Java readers skip the check for magic 0. The
/// decoder used here always checks it, so the byte is recomputed.
#[cfg(feature = "lz4")]
fn lz4_fix_header_checksum(input: &[u8]) -> Vec<u8> {
    let mut fixed = input.to_vec();
    let Some(&flags) = input.get(4) else {
        return fixed;
    };
    // FLG and BD, then the optional content size and dictionary id.
    let descriptor_len =
        2 + if flags & 0x08 != 0 { 8 } else { 0 } + if flags & 0x01 != 0 { 4 } else { 0 };
    if let (Some(descriptor), Some(_)) = (
        input.get(4..4 + descriptor_len),
        input.get(4 + descriptor_len),
    ) {
        fixed[4 + descriptor_len] = (xxh32_short(descriptor) >> 8) as u8;
    }
    fixed
}

/// XXH32 with seed 0 for inputs shorter than 16 bytes (an lz4 frame
/// descriptor is at most 14), which skip the 16-byte stripe loop.
#[cfg(feature = "lz4")]
fn xxh32_short(data: &[u8]) -> u32 {
    const P1: u32 = 2_654_435_761;
    const P2: u32 = 2_246_822_519;
    const P3: u32 = 3_266_489_917;
    const P4: u32 = 668_265_263;
    const P5: u32 = 374_761_393;
    debug_assert!(data.len() < 16, "xxh32_short handles inputs under 16 bytes");
    let mut h = P5.wrapping_add(data.len() as u32);
    let mut words = data.chunks_exact(4);
    for word in &mut words {
        let word = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        h = h
            .wrapping_add(word.wrapping_mul(P3))
            .rotate_left(17)
            .wrapping_mul(P4);
    }
    for &byte in words.remainder() {
        h = h
            .wrapping_add(u32::from(byte).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^ (h >> 16)
}

/// Frames whose window (the history a decoder must keep) exceeds both this
/// and the caller's limit are rejected before the decoder reserves it. 8 MiB
/// is the window zstd uses up to level 19 when the input size is not known
/// in advance, as in the Java producer's streaming encoder.
#[cfg(any(feature = "zstd", feature = "zstd-c"))]
const ZSTD_MIN_WINDOW_BOUND: u64 = 8 * 1024 * 1024;

/// Zstandard through the backend the features pick: libzstd when `zstd-c`
/// is on, else the pure-Rust one. Both are compiled when both features are
/// on, so the tests can check each against the other.
#[cfg(feature = "zstd-c")]
fn zstd_compress(input: &[u8], level: i32, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    libzstd_compress(input, level, out)
}

#[cfg(all(feature = "zstd", not(feature = "zstd-c")))]
fn zstd_compress(input: &[u8], level: i32, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    ruzstd_compress(input, level, out)
}

#[cfg(feature = "zstd-c")]
fn zstd_decompress(input: &[u8], limit: usize) -> DecodeResult<Vec<u8>> {
    libzstd_decompress(input, limit)
}

#[cfg(all(feature = "zstd", not(feature = "zstd-c")))]
fn zstd_decompress(input: &[u8], limit: usize) -> DecodeResult<Vec<u8>> {
    ruzstd_decompress(input, limit)
}

#[cfg(feature = "zstd-c")]
fn libzstd_compress(input: &[u8], level: i32, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let compressed = zstd::bulk::compress(input, level)
        .map_err(|_| EncodeError::Unsupported("zstd compression failed"))?;
    out.extend_from_slice(&compressed);
    Ok(())
}

/// The pure-Rust encoder implements one level (about zstd's level 1), so
/// every level is accepted and written with it.
#[cfg(feature = "zstd")]
#[cfg_attr(feature = "zstd-c", allow(dead_code))]
fn ruzstd_compress(input: &[u8], _level: i32, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    ruzstd::encoding::compress(input, out, ruzstd::encoding::CompressionLevel::Fastest);
    Ok(())
}

#[cfg(not(any(feature = "zstd", feature = "zstd-c")))]
fn zstd_compress(_input: &[u8], _level: i32, _out: &mut Vec<u8>) -> Result<(), EncodeError> {
    Err(EncodeError::Unsupported(
        "zstd compression needs the `zstd` feature of kafka-sync",
    ))
}

#[cfg(feature = "zstd-c")]
fn libzstd_decompress(input: &[u8], limit: usize) -> DecodeResult<Vec<u8>> {
    let header = zstd_frame_header(input)?;
    let declared = header.content_size.and_then(|n| usize::try_from(n).ok());
    if declared.is_some_and(|n| n > limit) || header.window_size > zstd_window_bound(limit) {
        return Err(DecodeError::DecompressionLimit { limit });
    }
    let mut decoder = zstd::stream::read::Decoder::with_buffer(input)
        .map_err(|e| DecodeError::InvalidOwned(format!("zstd decoder: {e}")))?;
    // libzstd reserves the window a frame declares; refuse more than the
    // output may hold (or the usual streaming window), as for ruzstd.
    let window_log = zstd_window_bound(limit)
        .next_power_of_two()
        .ilog2()
        .clamp(10, 31);
    decoder
        .window_log_max(window_log)
        .map_err(|e| DecodeError::InvalidOwned(format!("zstd decoder: {e}")))?;
    let hint = declared.unwrap_or_else(|| input.len().saturating_mul(4));
    read_bounded(decoder, hint, limit, "zstd")
}

#[cfg(feature = "zstd")]
#[cfg_attr(feature = "zstd-c", allow(dead_code))]
fn ruzstd_decompress(input: &[u8], limit: usize) -> DecodeResult<Vec<u8>> {
    // ruzstd decodes one frame per decoder, so concatenated frames (which
    // libzstd reads as one stream) are decoded one after the other.
    let corrupt =
        |e: &dyn fmt::Display| DecodeError::InvalidOwned(format!("zstd data is corrupt: {e}"));
    // The first frame's declared size sizes the buffer, so check it first.
    let hint = match zstd_frame_header(input)?.content_size {
        Some(n) => match usize::try_from(n) {
            Ok(n) if n <= limit => n,
            _ => return Err(DecodeError::DecompressionLimit { limit }),
        },
        None => input.len().saturating_mul(4).min(limit),
    };
    let mut out = Vec::with_capacity(hint);
    let mut rest = input;
    while !rest.is_empty() {
        let header = zstd_frame_header(rest)?;
        if let Some(skip) = header.skippable_len {
            rest = rest.get(skip..).ok_or(DecodeError::Truncated {
                needed: skip,
                remaining: rest.len(),
            })?;
            continue;
        }
        let room = limit - out.len();
        if header
            .content_size
            .is_some_and(|n| n > u64::try_from(room).unwrap_or(u64::MAX))
        {
            return Err(DecodeError::DecompressionLimit { limit });
        }
        // ruzstd reserves the declared window up front.
        if header.window_size > zstd_window_bound(limit) {
            return Err(DecodeError::DecompressionLimit { limit });
        }
        let decoder =
            ruzstd::decoding::StreamingDecoder::new(&mut rest).map_err(|e| corrupt(&e))?;
        let cap = u64::try_from(room).unwrap_or(u64::MAX).saturating_add(1);
        decoder
            .take(cap)
            .read_to_end(&mut out)
            .map_err(|e| corrupt(&e))?;
        if out.len() > limit {
            return Err(DecodeError::DecompressionLimit { limit });
        }
    }
    Ok(out)
}

#[cfg(not(any(feature = "zstd", feature = "zstd-c")))]
fn zstd_decompress(_input: &[u8], _limit: usize) -> DecodeResult<Vec<u8>> {
    Err(DecodeError::UnsupportedCompression(
        "record batch is zstd-compressed: enable the `zstd` feature of kafka-sync to read it",
    ))
}

/// The largest window accepted for a decompression `limit`.
#[cfg(any(feature = "zstd", feature = "zstd-c"))]
fn zstd_window_bound(limit: usize) -> u64 {
    u64::try_from(limit)
        .unwrap_or(u64::MAX)
        .max(ZSTD_MIN_WINDOW_BOUND)
}

/// What a zstd frame header declares (RFC 8878, section 3.1.1.1).
#[cfg(any(feature = "zstd", feature = "zstd-c"))]
#[derive(Debug, PartialEq, Eq)]
struct ZstdFrameHeader {
    /// The history the decoder must keep.
    window_size: u64,
    /// The decompressed size, when the encoder wrote it.
    content_size: Option<u64>,
    /// For a skippable frame: its whole length, header included.
    skippable_len: Option<usize>,
}

/// Reads the frame header at the start of `input`, without decoding blocks.
#[cfg(any(feature = "zstd", feature = "zstd-c"))]
fn zstd_frame_header(input: &[u8]) -> DecodeResult<ZstdFrameHeader> {
    let truncated = |needed: usize| DecodeError::Truncated {
        needed,
        remaining: input.len(),
    };
    let magic = input.get(..4).ok_or_else(|| truncated(4))?;
    let magic = u32::from_le_bytes([magic[0], magic[1], magic[2], magic[3]]);
    if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
        let len = input.get(4..8).ok_or_else(|| truncated(8))?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]);
        let len = usize::try_from(len).unwrap_or(usize::MAX).saturating_add(8);
        return Ok(ZstdFrameHeader {
            window_size: 0,
            content_size: Some(0),
            skippable_len: Some(len),
        });
    }
    if magic != 0xFD2F_B528 {
        return Err(DecodeError::Invalid(
            "zstd data is corrupt: bad frame magic",
        ));
    }
    let descriptor = *input.get(4).ok_or_else(|| truncated(5))?;
    let single_segment = descriptor & 0x20 != 0;
    let dict_id_len = [0, 1, 2, 4][usize::from(descriptor & 0x03)];
    let content_size_len = match descriptor >> 6 {
        0 if single_segment => 1,
        0 => 0,
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let mut at = 5;
    let mut window_size = 0;
    if !single_segment {
        let byte = *input.get(at).ok_or_else(|| truncated(at + 1))?;
        let base = 1u64 << (10 + (byte >> 3));
        window_size = base + (base / 8) * u64::from(byte & 0x07);
        at += 1;
    }
    at += dict_id_len;
    let content_size = if content_size_len == 0 {
        None
    } else {
        let field = input
            .get(at..at + content_size_len)
            .ok_or_else(|| truncated(at + content_size_len))?;
        let mut bytes = [0u8; 8];
        bytes[..content_size_len].copy_from_slice(field);
        let n = u64::from_le_bytes(bytes);
        Some(if content_size_len == 2 { n + 256 } else { n })
    };
    if single_segment {
        window_size = content_size.unwrap_or(0);
    }
    Ok(ZstdFrameHeader {
        window_size,
        content_size,
        skippable_len: None,
    })
}

#[cfg(test)]
mod tests {
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
}
