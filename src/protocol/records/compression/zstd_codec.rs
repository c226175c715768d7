//! zstd for record batches (KIP-110): libzstd with the `zstd-c` feature, the
//! pure-Rust `ruzstd` with `zstd`; one frame written, concatenated and
//! skippable frames read, and a frame whose declared window is above the
//! decompression limit (and 8 MiB) refused before any decoding.

#[cfg(feature = "zstd")]
use std::fmt;
#[cfg(feature = "zstd")]
use std::io::Read;

#[cfg(feature = "zstd-c")]
use super::read_bounded;
use crate::protocol::{DecodeError, DecodeResult, EncodeError};

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
pub(super) fn zstd_compress(input: &[u8], level: i32, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    libzstd_compress(input, level, out)
}

#[cfg(all(feature = "zstd", not(feature = "zstd-c")))]
pub(super) fn zstd_compress(input: &[u8], level: i32, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    ruzstd_compress(input, level, out)
}

#[cfg(feature = "zstd-c")]
pub(super) fn zstd_decompress(input: &[u8], limit: usize) -> DecodeResult<Vec<u8>> {
    libzstd_decompress(input, limit)
}

#[cfg(all(feature = "zstd", not(feature = "zstd-c")))]
pub(super) fn zstd_decompress(input: &[u8], limit: usize) -> DecodeResult<Vec<u8>> {
    ruzstd_decompress(input, limit)
}

#[cfg(feature = "zstd-c")]
pub(super) fn libzstd_compress(input: &[u8], level: i32, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let compressed = zstd::bulk::compress(input, level)
        .map_err(|_| EncodeError::Unsupported("zstd compression failed"))?;
    out.extend_from_slice(&compressed);
    Ok(())
}

/// The pure-Rust encoder implements one level (about zstd's level 1), so
/// every level is accepted and written with it.
#[cfg(feature = "zstd")]
#[cfg_attr(feature = "zstd-c", allow(dead_code))]
pub(super) fn ruzstd_compress(input: &[u8], _level: i32, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    ruzstd::encoding::compress(input, out, ruzstd::encoding::CompressionLevel::Fastest);
    Ok(())
}

#[cfg(not(any(feature = "zstd", feature = "zstd-c")))]
pub(super) fn zstd_compress(_input: &[u8], _level: i32, _out: &mut Vec<u8>) -> Result<(), EncodeError> {
    Err(EncodeError::Unsupported(
        "zstd compression needs the `zstd` feature of kafka-sync",
    ))
}

#[cfg(feature = "zstd-c")]
pub(super) fn libzstd_decompress(input: &[u8], limit: usize) -> DecodeResult<Vec<u8>> {
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
pub(super) fn ruzstd_decompress(input: &[u8], limit: usize) -> DecodeResult<Vec<u8>> {
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
pub(super) fn zstd_decompress(_input: &[u8], _limit: usize) -> DecodeResult<Vec<u8>> {
    Err(DecodeError::UnsupportedCompression(
        "record batch is zstd-compressed: enable the `zstd` feature of kafka-sync to read it",
    ))
}

/// The largest window accepted for a decompression `limit`.
#[cfg(any(feature = "zstd", feature = "zstd-c"))]
pub(super) fn zstd_window_bound(limit: usize) -> u64 {
    u64::try_from(limit)
        .unwrap_or(u64::MAX)
        .max(ZSTD_MIN_WINDOW_BOUND)
}

/// What a zstd frame header declares (RFC 8878, section 3.1.1.1).
#[cfg(any(feature = "zstd", feature = "zstd-c"))]
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ZstdFrameHeader {
    /// The history the decoder must keep.
    pub(super) window_size: u64,
    /// The decompressed size, when the encoder wrote it.
    pub(super) content_size: Option<u64>,
    /// For a skippable frame: its whole length, header included.
    pub(super) skippable_len: Option<usize>,
}

/// Reads the frame header at the start of `input`, without decoding blocks.
#[cfg(any(feature = "zstd", feature = "zstd-c"))]
pub(super) fn zstd_frame_header(input: &[u8]) -> DecodeResult<ZstdFrameHeader> {
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
