//! The reader thread of a [`Connection`](super::Connection): reads each
//! response frame, checks it against the oldest waiting request and hands it
//! over; the first error fails every waiting request and closes the stream.

use super::*;
use crate::protocol::records::crc;

/// How many no-response correlation ids are remembered (see `Shared::unanswered`).
pub(super) const MAX_UNANSWERED: usize = 256;

/// The reader thread's name.
pub(super) const READER_THREAD: &str = "kafka-sync-reader";

pub(super) fn read_loop<S: Read>(mut stream: S, shared: &Shared, max_response_size: usize) {
    let error = loop {
        match read_frame(&mut stream, &shared.addr, max_response_size) {
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

/// How much of a large frame is read between block sums: the blocks just
/// read are summed while they are still in this core's cache (256 KiB sits
/// well inside an L2; smaller steps only add `recv` calls).
const SUM_EVERY: usize = 32 * crc::BLOCK;

pub(super) fn read_frame<S: Read>(stream: &mut S, addr: &str, max: usize) -> Result<Frame> {
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
    // Read into the vector's spare capacity: `read_to_end` through `take`
    // fills uninitialised memory where the stream can (a plain TCP stream
    // can), instead of zeroing a large response first, which cost the
    // consumer's reader thread most of its time. A large frame is read a
    // few blocks at a time, each block summed as soon as it is complete.
    let mut frame = Frame {
        bytes: Vec::with_capacity(len),
        block_sums: Vec::new(),
    };
    let summed = len >= crc::SUMMED_FRAME_MIN;
    let step = if summed { SUM_EVERY } else { len };
    let context = || format!("reading a {len}-byte frame from {addr}");
    while frame.bytes.len() < len {
        let want = (len - frame.bytes.len()).min(step);
        let read = stream
            .by_ref()
            .take(want as u64)
            .read_to_end(&mut frame.bytes)
            .map_err(|e| Error::io(context(), e))?;
        if read < want {
            return Err(Error::io(
                context(),
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the connection closed after {} bytes", frame.bytes.len()),
                ),
            ));
        }
        if summed {
            crc::sum_blocks(&frame.bytes, &mut frame.block_sums);
        }
    }
    Ok(frame)
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
        let frame = read_frame(&mut stream, "b:9092", 1024).expect("a whole frame");
        assert_eq!(frame.bytes, b"abcdef");
        assert!(frame.block_sums.is_empty(), "a small frame is not summed");
        assert_eq!(stream.position(), 10);
    }

    #[test]
    fn a_large_frame_comes_with_the_sums_of_its_blocks() {
        use crate::protocol::records::crc::{crc32c, BLOCK, SUMMED_FRAME_MIN};
        let len = SUMMED_FRAME_MIN + 3 * BLOCK + 17;
        let body: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let mut stream = framed(len as i32, &body);
        let frame = read_frame(&mut stream, "b:9092", 1 << 20).expect("a whole frame");
        assert_eq!(frame.bytes, body);
        let expected: Vec<u32> = body.chunks_exact(BLOCK).map(crc32c).collect();
        assert_eq!(frame.block_sums, expected, "one sum per complete block");
    }

    #[test]
    fn a_large_frame_cut_short_is_an_unexpected_eof_too() {
        let len = 1 << 17;
        let mut stream = framed(len, &vec![7; 70_000]);
        match read_frame(&mut stream, "b:9092", 1 << 20) {
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
        match read_frame(&mut stream, "b:9092", 1024) {
            Err(Error::Io { source, context }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::UnexpectedEof);
                assert!(context.contains("100-byte frame"), "{context}");
                assert!(source.to_string().contains("after 10 bytes"), "{source}");
            }
            other => panic!("expected an I/O error, got {other:?}"),
        }
    }
}
