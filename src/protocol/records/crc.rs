//! CRC-32C (Castagnoli) for magic-2 batches: one-shot sums, combining two
//! sums, and block sums that a connection's reader takes while a response is
//! still in its cache.
//!
//! A consumer checks the CRC of every batch it is given. Summed where the
//! batch is decoded, the bytes come cold from memory (another thread wrote
//! them), and on a loaded two-core machine that first touch cost about as
//! much as the kernel's copy out of the socket. The reader instead sums each
//! complete [`BLOCK`] of a large frame right after the read that completed
//! it ([`sum_blocks`]); checking a batch then sums only the parts of the
//! batch outside whole blocks and folds in the blocks' sums
//! ([`FrameSums::crc32c`]), a table lookup per block.

/// The block size of [`sum_blocks`]: small enough that a block is still in
/// the reading core's cache when it is summed, large enough that a batch of
/// a few blocks folds in a handful of sums.
pub const BLOCK: usize = 8 * 1024;

/// Frames shorter than this get no block sums: their batches are summed
/// directly, which costs about the same.
pub const SUMMED_FRAME_MIN: usize = 4 * BLOCK;

/// The CRC-32C of `data`.
///
/// `crc-fast` folds with carry-less multiplication (AVX-512 VPCLMULQDQ, or
/// PCLMULQDQ, or ARM's PMULL), four to five times the speed of the `crc32c`
/// crate's `crc32` instruction loop on the project's machine for blocks of a
/// few KiB (105 against 20 GB/s at 8 KiB, measured).
pub fn crc32c(data: &[u8]) -> u32 {
    crc_fast::crc32_iscsi(data)
}

/// The CRC-32C of `A` followed by `B`, from `crc32c(A)`, `crc32c(B)` and
/// `B`'s length: `crc32c(A)` times x^(8·len_b) modulo the polynomial, plus
/// `crc32c(B)`. The `crc32c` crate's own combine squares 32×32 bit matrices
/// about twenty times for a batch-sized length (tens of microseconds); this
/// multiplies by powers x^(2^k) from a table, a few dozen carry-less
/// products.
pub fn crc32c_combine(crc_a: u32, crc_b: u32, len_b: usize) -> u32 {
    if len_b == 0 {
        return crc_a;
    }
    gf2_mul(x_pow_8n(len_b as u64), crc_a) ^ crc_b
}

/// Appends to `sums` the CRC-32C of each complete [`BLOCK`] of `frame` that
/// it has no sum for yet (block `i` is `frame[i * BLOCK..(i + 1) * BLOCK]`).
/// Called as a frame is read, it sums each block while it is fresh.
pub fn sum_blocks(frame: &[u8], sums: &mut Vec<u32>) {
    let complete = frame.len() / BLOCK;
    for i in sums.len()..complete {
        sums.push(crc32c(&frame[i * BLOCK..(i + 1) * BLOCK]));
    }
}

/// The block sums of one frame (see [`sum_blocks`]), tied to where the frame
/// lies in memory so that a batch, given as a slice of the frame, can find
/// its blocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameSums<'a> {
    /// The address of the frame's first byte.
    base: usize,
    /// The frame's length.
    len: usize,
    /// `blocks[i]` is the CRC-32C of the frame's `i`-th [`BLOCK`].
    blocks: &'a [u32],
}

impl<'a> FrameSums<'a> {
    /// No block sums: [`FrameSums::crc32c`] sums everything directly.
    pub const NONE: FrameSums<'static> = FrameSums {
        base: 0,
        len: 0,
        blocks: &[],
    };

    /// The sums `blocks` of `frame`'s blocks, as [`sum_blocks`] made them.
    pub fn new(frame: &[u8], blocks: &'a [u32]) -> FrameSums<'a> {
        FrameSums {
            base: frame.as_ptr() as usize,
            len: frame.len(),
            blocks: &blocks[..blocks.len().min(frame.len() / BLOCK)],
        }
    }

    /// The CRC-32C of `data`, using the block sums for the whole blocks it
    /// covers when `data` lies in the frame; anything else is summed
    /// directly.
    pub fn crc32c(&self, data: &[u8]) -> u32 {
        let start = (data.as_ptr() as usize).wrapping_sub(self.base);
        if self.blocks.is_empty() || start > self.len || data.len() > self.len - start {
            return crc32c(data);
        }
        let end = start + data.len();
        let first = start.div_ceil(BLOCK);
        let last = (end / BLOCK).min(self.blocks.len());
        if first >= last {
            return crc32c(data);
        }
        let head = &data[..first * BLOCK - start];
        let tail = &data[last * BLOCK - start..];
        let mut crc = crc32c(head);
        for &block in &self.blocks[first..last] {
            crc = shift_block(crc) ^ block;
        }
        crc32c_combine(crc, crc32c(tail), tail.len())
    }
}

/// `crc · x^(8·BLOCK)` modulo the polynomial: the CRC of some bytes, moved
/// past a block, so that `shift_block(crc32c(A)) ^ crc32c(B)` is the CRC of
/// `A` followed by the block `B`. Multiplying by a constant is linear, so a
/// table per byte of `crc` gives it in four lookups.
fn shift_block(crc: u32) -> u32 {
    let t = &SHIFT_BLOCK;
    t[0][(crc & 0xff) as usize]
        ^ t[1][((crc >> 8) & 0xff) as usize]
        ^ t[2][((crc >> 16) & 0xff) as usize]
        ^ t[3][(crc >> 24) as usize]
}

/// `SHIFT_BLOCK[j][v]` = `(v << 8j) · x^(8·BLOCK)` modulo the polynomial.
static SHIFT_BLOCK: [[u32; 256]; 4] = {
    let shift = x_pow_8n(BLOCK as u64);
    let mut table = [[0u32; 256]; 4];
    let mut j = 0;
    while j < 4 {
        let mut v = 0;
        while v < 256 {
            table[j][v] = gf2_mul(shift, (v as u32) << (8 * j));
            v += 1;
        }
        j += 1;
    }
    table
};

/// x^(8·n) modulo the polynomial: the product of x^(2^k) over the set bits
/// k of 8·n.
const fn x_pow_8n(n: u64) -> u32 {
    let mut shift = X0;
    let mut n = n;
    let mut k = 3; // 8 = 2^3: a byte is eight bits
    while n != 0 {
        if n & 1 == 1 {
            shift = gf2_mul(X_POW_2K[k % 64], shift);
        }
        n >>= 1;
        k += 1;
    }
    shift
}

/// CRC-32C's polynomial, bit-reflected (the representation the CRC uses:
/// the most significant bit is x^0).
const POLY: u32 = 0x82F6_3B78;
/// x^0 in that representation.
const X0: u32 = 1 << 31;

/// `a · b` modulo the polynomial, both bit-reflected.
const fn gf2_mul(a: u32, mut b: u32) -> u32 {
    let mut product = 0;
    let mut bit = X0;
    while bit != 0 {
        if a & bit != 0 {
            product ^= b;
        }
        // b ·= x
        b = if b & 1 == 1 { (b >> 1) ^ POLY } else { b >> 1 };
        bit >>= 1;
    }
    product
}

/// `X_POW_2K[k]` = x^(2^k) modulo the polynomial.
const X_POW_2K: [u32; 64] = {
    let mut table = [0u32; 64];
    table[0] = X0 >> 1; // x^1
    let mut k = 1;
    while k < 64 {
        table[k] = gf2_mul(table[k - 1], table[k - 1]);
        k += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize) -> Vec<u8> {
        (0..len as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect()
    }

    #[test]
    fn the_sum_is_the_crc32c_crates() {
        let data = data(70_000);
        for (start, end) in [(0, 0), (0, 1), (3, 12), (5, 1_029), (0, 8_192), (1, 70_000)] {
            assert_eq!(
                crc32c(&data[start..end]),
                crc32c::crc32c(&data[start..end]),
                "{start}..{end}"
            );
        }
        assert_eq!(crc32c(b"123456789"), 0xE306_9283, "the CRC-32C check value");
    }

    #[test]
    fn combine_matches_the_crc_of_the_concatenation() {
        let data = data(70_000);
        for (split, end) in [(0, 0), (0, 10), (40, 40), (40, 41), (40, 1_000), (7, 70_000)] {
            let (a, b) = data[..end].split_at(split);
            assert_eq!(
                crc32c_combine(crc32c(a), crc32c(b), b.len()),
                crc32c(&data[..end]),
                "split {split} of {end}"
            );
            assert_eq!(
                crc32c_combine(crc32c(a), crc32c(b), b.len()),
                crc32c::crc32c_combine(crc32c(a), crc32c(b), b.len())
            );
        }
    }

    #[test]
    fn shifting_past_a_block_is_combining_with_a_block() {
        for crc in [0, 1, 0x8000_0000, 0xDEAD_BEEF, u32::MAX] {
            assert_eq!(shift_block(crc), crc32c_combine(crc, 0, BLOCK));
        }
    }

    #[test]
    fn block_sums_give_the_crc_of_any_slice_of_the_frame() {
        let frame = data(6 * BLOCK + 1_000);
        let mut blocks = Vec::new();
        // As the reader does: the frame grows, the sums follow.
        for len in [100, BLOCK - 1, BLOCK, 3 * BLOCK + 5, frame.len()] {
            sum_blocks(&frame[..len], &mut blocks);
            assert_eq!(blocks.len(), len / BLOCK);
        }
        let sums = FrameSums::new(&frame, &blocks);
        let cuts = [0, 1, 21, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 5 * BLOCK + 7];
        for &start in &cuts {
            for &end in cuts.iter().chain([&frame.len(), &(6 * BLOCK)]) {
                if end < start {
                    continue;
                }
                let slice = &frame[start..end];
                assert_eq!(sums.crc32c(slice), crc32c(slice), "{start}..{end}");
            }
        }
    }

    #[test]
    fn slices_of_other_memory_and_missing_sums_are_summed_directly() {
        let frame = data(4 * BLOCK);
        let mut blocks = Vec::new();
        sum_blocks(&frame, &mut blocks);
        let sums = FrameSums::new(&frame, &blocks);
        let other = data(3 * BLOCK);
        assert_eq!(sums.crc32c(&other), crc32c(&other));
        assert_eq!(sums.crc32c(&other[5..]), crc32c(&other[5..]));
        // Sums for a frame's first blocks only (a frame cut short).
        let partial = FrameSums::new(&frame, &blocks[..1]);
        assert_eq!(partial.crc32c(&frame[3..]), crc32c(&frame[3..]));
        assert_eq!(FrameSums::NONE.crc32c(&frame), crc32c(&frame));
        // Wrong sums are not trusted past the frame's own length.
        let short = FrameSums::new(&frame[..BLOCK], &blocks);
        assert_eq!(short.crc32c(&frame[..]), crc32c(&frame));
    }
}
