//! Buffers of large response frames, kept by a client's connections for
//! the next frames once their last user lets go.
//!
//! A Fetch response of a few MiB read into a fresh allocation costs a page
//! fault and the kernel's zeroing of every page (the allocator hands memory
//! of that size back to the system between frames), and a fresh buffer
//! would have to be zeroed again before a plain `read` may write into it.
//! A kept buffer was written by an earlier frame: its pages are mapped and
//! it may be read into as it is. Consumers keep slices of a frame (their
//! messages) for as long as they like, so a buffer comes back when the last
//! [`Bytes`] of it is dropped, on whichever thread that is.
//!
//! What is kept is bounded: at most [`KEPT_BUFFERS`] buffers and
//! [`KEPT_BYTES`] in all per client (its connections share them, so a
//! client with many brokers keeps no more than one with a single broker); a
//! buffer that does not fit is freed. When the client and its connections
//! are gone the buffers are freed with them.

use std::sync::{Arc, Weak};

use bytes::Bytes;
use parking_lot::Mutex;

/// Frames at least this long are read into kept buffers; shorter ones cost
/// little to allocate and are read into their own.
const POOLED_FRAME_MIN: usize = 64 * 1024;

/// Most buffers kept per client between frames.
const KEPT_BUFFERS: usize = 4;

/// Most bytes kept per client between frames; frames larger than this are
/// read into a buffer of their own every time.
const KEPT_BYTES: usize = 16 << 20;

/// The buffers of large response frames a client's connections keep for
/// reuse (see the module docs); shared through
/// [`ConnectionConfig`](super::ConnectionConfig).
#[derive(Debug, Default)]
pub struct FrameBuffers {
    free: Mutex<Vec<Vec<u8>>>,
}

impl FrameBuffers {
    /// An initialized buffer of at least `len` bytes for a frame of that
    /// size: a kept one not much larger than needed, or a new one with room
    /// for slightly larger frames to come; `None` for frames too small or
    /// too large to keep buffers for.
    pub(crate) fn take(&self, len: usize) -> Option<Vec<u8>> {
        if !(POOLED_FRAME_MIN..=KEPT_BYTES).contains(&len) {
            return None;
        }
        {
            let mut free = self.free.lock();
            let fit = free
                .iter()
                .enumerate()
                .filter(|(_, b)| b.len() >= len && b.len() / 2 <= len)
                .min_by_key(|(_, b)| b.len())
                .map(|(i, _)| i);
            if let Some(i) = fit {
                return Some(free.swap_remove(i));
            }
        }
        // Zeroed memory: fresh pages of a large allocation come zeroed from
        // the system, so this usually costs no pass over them.
        let size = len.saturating_add(len / 8).next_multiple_of(POOLED_FRAME_MIN);
        Some(vec![0; size.min(KEPT_BYTES)])
    }

    /// Keeps `buf` for a later frame if it fits the bounds; frees it if not.
    fn give(&self, buf: Vec<u8>) {
        let mut free = self.free.lock();
        let kept: usize = free.iter().map(Vec::len).sum();
        if free.len() < KEPT_BUFFERS && kept + buf.len() <= KEPT_BYTES {
            free.push(buf);
        }
    }

    /// The first `len` bytes of `buf` (from [`FrameBuffers::take`]) as
    /// [`Bytes`] that give the buffer back to `buffers` when the last slice
    /// of them is dropped.
    pub(crate) fn frame(buffers: &Arc<FrameBuffers>, buf: Vec<u8>, len: usize) -> Bytes {
        debug_assert!(len <= buf.len());
        Bytes::from_owner(Kept {
            buf,
            len,
            home: Arc::downgrade(buffers),
        })
    }
}

/// A frame in a kept buffer, going home when dropped.
struct Kept {
    buf: Vec<u8>,
    len: usize,
    home: Weak<FrameBuffers>,
}

impl AsRef<[u8]> for Kept {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        if let Some(home) = self.home.upgrade() {
            home.give(std::mem::take(&mut self.buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_when_its_last_slice_is_dropped_and_serves_the_next_frame() {
        let buffers = Arc::new(FrameBuffers::default());
        let mut buf = buffers.take(100_000).expect("kept-size frame");
        assert!(buf.len() >= 100_000);
        buf[..5].copy_from_slice(b"hello");
        let address = buf.as_ptr();
        let frame = FrameBuffers::frame(&buffers, buf, 100_000);
        assert_eq!(frame.len(), 100_000);
        assert_eq!(&frame[..5], b"hello");
        let slice = frame.slice(1..3);
        drop(frame);
        assert!(buffers.free.lock().is_empty(), "a slice still holds it");
        assert_eq!(&slice[..], b"el");
        drop(slice);
        let again = buffers.take(99_000).expect("kept-size frame");
        assert_eq!(again.as_ptr(), address, "the kept buffer is reused");
    }

    #[test]
    fn a_much_larger_kept_buffer_is_not_used_for_a_small_frame() {
        let buffers = Arc::new(FrameBuffers::default());
        let big = buffers.take(4 << 20).expect("kept-size frame");
        drop(FrameBuffers::frame(&buffers, big, 4 << 20));
        let small = buffers.take(100_000).expect("kept-size frame");
        assert!(small.len() < 1 << 20, "{}", small.len());
        assert_eq!(buffers.free.lock().len(), 1, "the large one stays kept");
    }

    #[test]
    fn what_is_kept_is_bounded_in_count_and_bytes() {
        let buffers = Arc::new(FrameBuffers::default());
        let frames: Vec<Bytes> = (0..KEPT_BUFFERS + 2)
            .map(|_| {
                let buf = buffers.take(1 << 20).expect("kept-size frame");
                FrameBuffers::frame(&buffers, buf, 1 << 20)
            })
            .collect();
        drop(frames);
        assert_eq!(buffers.free.lock().len(), KEPT_BUFFERS);
        let largest = buffers.take(KEPT_BYTES).expect("kept-size frame");
        drop(FrameBuffers::frame(&buffers, largest, KEPT_BYTES));
        let kept: usize = buffers.free.lock().iter().map(Vec::len).sum();
        assert!(kept <= KEPT_BYTES, "{kept}");
        assert!(buffers.take(KEPT_BYTES + 1).is_none(), "too large to keep");
        assert!(buffers.take(POOLED_FRAME_MIN - 1).is_none(), "too small to keep");
    }

    #[test]
    fn buffers_outliving_their_connection_are_freed() {
        let buffers = Arc::new(FrameBuffers::default());
        let buf = buffers.take(1 << 20).expect("kept-size frame");
        let frame = FrameBuffers::frame(&buffers, buf, 1 << 20);
        drop(buffers);
        assert_eq!(frame.len(), 1 << 20);
        drop(frame);
    }
}
