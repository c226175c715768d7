//! lz4 for record batches: the LZ4 frame format with independent 64 KiB
//! blocks and no checksums (KIP-57), and the Kafka 0.8/0.9 frames of magic 0
//! whose header checksum covers the wrong bytes.

#[cfg(feature = "lz4")]
use std::io::Write;

#[cfg(feature = "lz4")]
use super::read_bounded;
#[cfg(not(feature = "lz4"))]
use crate::protocol::DecodeError;
use crate::protocol::{DecodeResult, EncodeError};

#[cfg(feature = "lz4")]
pub(super) fn lz4_compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
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
pub(super) fn lz4_compress(_input: &[u8], _out: &mut Vec<u8>) -> Result<(), EncodeError> {
    Err(EncodeError::Unsupported(
        "lz4 compression needs the `lz4` feature of kafka-sync",
    ))
}

#[cfg(feature = "lz4")]
pub(super) fn lz4_decompress(input: &[u8], limit: usize, legacy: bool) -> DecodeResult<Vec<u8>> {
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
pub(super) fn lz4_decompress(_input: &[u8], _limit: usize, _legacy: bool) -> DecodeResult<Vec<u8>> {
    Err(DecodeError::UnsupportedCompression(
        "record batch is lz4-compressed: enable the `lz4` feature of kafka-sync to read it",
    ))
}

/// Kafka 0.8/0.9 computed the lz4 frame header checksum over the magic
/// number too (KAFKA-3160); Java readers skip the check for magic 0. The
/// decoder used here always checks it, so the byte is recomputed.
#[cfg(feature = "lz4")]
pub(super) fn lz4_fix_header_checksum(input: &[u8]) -> Vec<u8> {
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
pub(super) fn xxh32_short(data: &[u8]) -> u32 {
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
