//! The reader thread of a [`Connection`](super::Connection): reads each
//! response frame, checks it against the oldest waiting request and hands it
//! over; the first error fails every waiting request and closes the stream.

use super::*;
use super::buffers::FrameBuffers;
use crate::protocol::records::crc;
use bytes::Bytes;

/// How many no-response correlation ids are remembered (see `Shared::unanswered`).
pub(super) const MAX_UNANSWERED: usize = 256;

/// The reader thread's name.
pub(super) const READER_THREAD: &str = "kafka-sync-reader";

pub(super) fn read_loop<S: Read>(mut stream: S, shared: &Shared, max_response_size: usize) {
    let error = loop {
        match read_frame(&mut stream, &shared.addr, max_response_size, &shared.frame_buffers) {
            Ok(frame) => {
                if let Ok(id) = protocol::peek_correlation_id(&frame.bytes) {
                    let mut unanswered = shared.unanswered.lock();
                    if let Some(i) = unanswered.iter().position(|&u| u == id) {
                        unanswered.remove(i);
                        debug!(
                            "{}: dropped an answer to a no-response request",
                            shared.addr
                        );
                        continue;
                    }
                }
                let head = shared.pending.lock().pop_front();
                let Some(pending) = head else {
                    break Error::Protocol {
                        decode: None,
                        context: format!("reading from {}", shared.addr),
                        detail: "the broker sent a response to no request".into(),
                    };
                };
                match protocol::peek_correlation_id(&frame.bytes) {
                    Ok(id) if id == pending.correlation_id => {
                        let _ = pending.tx.send(Ok(frame));
                        if shared.drained() {
                            debug!("{}: retired connection drained; closing it", shared.addr);
                            break shared.retired_error();
                        }
                    }
                    Ok(id) => {
                        let error = Error::Protocol {
                            decode: None,
                            context: format!(
                                "reading {} response from {}",
                                api_name(pending.api_key),
                                shared.addr
                            ),
                            detail: format!(
                                "correlation id mismatch: expected {}, got {id}",
                                pending.correlation_id
                            ),
                        };
                        let _ = pending.tx.send(Err(error.clone()));
                        break error;
                    }
                    Err(e) => {
                        let error = Error::decode(format!("reading from {}", shared.addr), e);
                        let _ = pending.tx.send(Err(error.clone()));
                        break error;
                    }
                }
            }
            Err(error) => break error,
        }
    };
    if !shared.closed.load(Ordering::SeqCst) {
        // Brokers close idle connections (`connections.max.idle.ms`); that is
        // routine when nothing was waiting on the connection.
        let idle_close = shared.pending.lock().is_empty()
            && matches!(&error, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::UnexpectedEof);
        if idle_close {
            debug!("{} closed an idle connection", shared.addr);
        } else {
            warn!("connection to {} failed: {error}", shared.addr);
        }
    }
    shared.fail(error);
}

/// The most one `read` into a kept buffer asks for. Each read takes what
/// has arrived (a socket holds a few hundred KiB at most), and the blocks it
/// completes are summed right after it, while they are still in this core's
/// cache: 1 MiB sits inside an L2 of 2 MiB.
///
/// `Read::read_to_end` reads in steps that start at 8 KiB on each call and
/// double only while reads come back full: a 256 KiB step took six `recv`
/// calls however much had arrived. A kept buffer, being initialized, can be
/// read into directly instead.
const READ_MAX: usize = 1 << 20;

/// How much of a frame not read into a kept buffer is read between block
/// sums (see [`READ_MAX`]).
const SUM_EVERY: usize = 32 * crc::BLOCK;

pub(super) fn read_frame<S: Read>(
    stream: &mut S,
    addr: &str,
    max: usize,
    buffers: &Arc<FrameBuffers>,
) -> Result<Frame> {
    let mut size = [0u8; 4];
    stream
        .read_exact(&mut size)
        .map_err(|e| Error::io(format!("reading from {addr}"), e))?;
    let size = i32::from_be_bytes(size);
    let len = usize::try_from(size).map_err(|_| Error::Protocol {
        decode: None,
        context: format!("reading from {addr}"),
        detail: format!("negative frame size {size}"),
    })?;
    if len > max {
        return Err(Error::FrameTooLarge {
            broker: addr.to_owned(),
            size: i64::from(size),
            max,
        });
    }
    if len < 4 {
        return Err(Error::Protocol {
            decode: None,
            context: format!("reading from {addr}"),
            detail: format!("frame of {len} bytes is too short for a response header"),
        });
    }
    let summed = len >= crc::SUMMED_FRAME_MIN;
    let mut block_sums = Vec::with_capacity(if summed { len / crc::BLOCK } else { 0 });
    let context = || format!("reading a {len}-byte frame from {addr}");
    let cut_short = |filled: usize| {
        Error::io(
            context(),
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the connection closed after {filled} bytes"),
            ),
        )
    };
    let bytes = match buffers.take(len) {
        Some(mut buf) => {
            // A kept buffer is initialized: each read takes whatever has
            // arrived, up to READ_MAX, and the blocks it completes are summed
            // while they are in this core's cache.
            let mut filled = 0;
            while filled < len {
                let end = len.min(filled + READ_MAX);
                match stream.read(&mut buf[filled..end]) {
                    Ok(0) => return Err(cut_short(filled)),
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Error::io(context(), e)),
                }
                if summed {
                    crc::sum_blocks(&buf[..filled], &mut block_sums);
                }
            }
            FrameBuffers::frame(buffers, buf, len)
        }
        None => {
            // Small frames, and frames too large to keep: read into the
            // vector's spare capacity (`read_to_end` through `take` fills
            // uninitialized memory where the stream can, as a plain TCP
            // stream can) rather than zeroing a large response first, a
            // SUM_EVERY step at a time so that blocks are summed fresh.
            let mut buf = Vec::with_capacity(len);
            while buf.len() < len {
                let want = (len - buf.len()).min(SUM_EVERY);
                let read = stream
                    .by_ref()
                    .take(want as u64)
                    .read_to_end(&mut buf)
                    .map_err(|e| Error::io(context(), e))?;
                if read < want {
                    return Err(cut_short(buf.len()));
                }
                if summed {
                    crc::sum_blocks(&buf, &mut block_sums);
                }
            }
            Bytes::from(buf)
        }
    };
    Ok(Frame { bytes, block_sums })
}

#[cfg(test)]
mod tests {
    use super::read_frame;
    use crate::error::Error;

    fn framed(size: i32, body: &[u8]) -> std::io::Cursor<Vec<u8>> {
        let mut bytes = size.to_be_bytes().to_vec();
        bytes.extend_from_slice(body);
        std::io::Cursor::new(bytes)
    }

    #[test]
    fn a_whole_frame_is_read_and_the_next_one_is_left() {
        let mut stream = framed(6, b"abcdefNEXT");
        let frame = read_frame(&mut stream, "b:9092", 1024, &Default::default()).expect("a whole frame");
        assert_eq!(&frame.bytes[..], b"abcdef");
        assert!(frame.block_sums.is_empty(), "a small frame is not summed");
        assert_eq!(stream.position(), 10);
    }

    #[test]
    fn a_large_frame_comes_with_the_sums_of_its_blocks() {
        use crate::protocol::records::crc::{crc32c, BLOCK, SUMMED_FRAME_MIN};
        let len = SUMMED_FRAME_MIN + 3 * BLOCK + 17;
        let body: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let mut stream = framed(len as i32, &body);
        let frame = read_frame(&mut stream, "b:9092", 1 << 20, &Default::default()).expect("a whole frame");
        assert_eq!(frame.bytes, body);
        let expected: Vec<u32> = body.chunks_exact(BLOCK).map(crc32c).collect();
        assert_eq!(frame.block_sums, expected, "one sum per complete block");
    }

    /// A stream that hands out at most `step` bytes per read, as a socket
    /// hands out what has arrived.
    struct Trickle {
        data: std::io::Cursor<Vec<u8>>,
        step: usize,
    }

    impl std::io::Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.step);
            self.data.read(&mut buf[..n])
        }
    }

    #[test]
    fn frames_in_kept_buffers_come_whole_with_their_sums_and_nothing_of_earlier_frames() {
        use crate::protocol::records::crc::{crc32c, BLOCK};
        let buffers = Default::default();
        let first_len: usize = 300_000;
        let second_len: usize = 290_000;
        let first: Vec<u8> = (0..first_len).map(|i| (i * 31 % 251) as u8).collect();
        let second: Vec<u8> = (0..second_len).map(|i| (i * 7 % 253) as u8).collect();
        let mut data = framed(first_len as i32, &first).into_inner();
        data.extend(framed(second_len as i32, &second).into_inner());
        let mut stream = Trickle {
            data: std::io::Cursor::new(data),
            step: 70_001,
        };
        let frame = read_frame(&mut stream, "b:9092", 1 << 20, &buffers).expect("first frame");
        assert_eq!(frame.bytes, first);
        let address = frame.bytes.as_ptr();
        drop(frame);
        let frame = read_frame(&mut stream, "b:9092", 1 << 20, &buffers).expect("second frame");
        assert_eq!(frame.bytes.as_ptr(), address, "the first frame's buffer is reused");
        assert_eq!(frame.bytes, second, "exactly the second frame's bytes");
        let expected: Vec<u32> = second.chunks_exact(BLOCK).map(crc32c).collect();
        assert_eq!(frame.block_sums, expected, "one sum per complete block");
    }

    #[test]
    fn a_frame_too_large_to_keep_a_buffer_for_is_read_and_summed_too() {
        use crate::protocol::records::crc::{crc32c, BLOCK};
        let len = (16 << 20) + 5;
        let body: Vec<u8> = (0..len).map(|i| (i % 241) as u8).collect();
        let mut stream = framed(len as i32, &body);
        let frame = read_frame(&mut stream, "b:9092", 32 << 20, &Default::default())
            .expect("a whole frame");
        assert_eq!(frame.bytes.len(), len);
        assert!(frame.bytes == body);
        assert_eq!(frame.block_sums.len(), len / BLOCK);
        assert_eq!(frame.block_sums[7], crc32c(&body[7 * BLOCK..8 * BLOCK]));
    }

    #[test]
    fn a_large_frame_cut_short_is_an_unexpected_eof_too() {
        let len = 1 << 17;
        let mut stream = framed(len, &vec![7; 70_000]);
        match read_frame(&mut stream, "b:9092", 1 << 20, &Default::default()) {
            Err(Error::Io { context, source }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::UnexpectedEof);
                assert!(source.to_string().contains("after 70000 bytes"), "{source}");
                assert!(context.contains("131072-byte frame"), "{context}");
            }
            other => panic!("expected an unexpected EOF, got {other:?}"),
        }
    }

    #[test]
    fn a_frame_cut_short_is_an_unexpected_eof_saying_how_much_came() {
        let mut stream = framed(100, b"only ten b");
        match read_frame(&mut stream, "b:9092", 1024, &Default::default()) {
            Err(Error::Io { source, context }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::UnexpectedEof);
                assert!(context.contains("100-byte frame"), "{context}");
                assert!(source.to_string().contains("after 10 bytes"), "{source}");
            }
            other => panic!("expected an I/O error, got {other:?}"),
        }
    }
}
