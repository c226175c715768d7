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

mod lz4_codec;
mod zstd_codec;

use lz4_codec::{lz4_compress, lz4_decompress};
use zstd_codec::{zstd_compress, zstd_decompress};

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

#[cfg(test)]
mod tests;
