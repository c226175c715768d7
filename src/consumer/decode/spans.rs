//! The consumer's magic-2 record reader: finds where each record's key,
//! value and header bytes lie in the buffer, checking the record's layout
//! (and its headers) on the way, without allocating. It reads as
//! `protocol::records::Records` does and fails where it fails: a record
//! that does not end where its length says, a negative length, a null
//! header key, record data left after the batch's last record.

use crate::consumer::message::{read_varint, read_varlong, RawRecord, Span};
use crate::protocol::records::{BatchHeader, TimestampType};
use crate::protocol::DecodeError;

/// Reads the records of `buf[pos..end]`.
#[derive(Debug)]
pub(crate) struct SpanReader<'a> {
    buf: &'a [u8],
    pos: usize,
    left: i32,
    base_offset: i64,
    base_timestamp: i64,
    log_append_time: Option<i64>,
    done: bool,
}

const TRUNCATED: DecodeError = DecodeError::Invalid("record cut short");

impl<'a> SpanReader<'a> {
    /// A reader of the `left` records of `header`'s batch that lie in
    /// `buf[pos..end]`. Spans are 32-bit: a buffer past 4 GiB is an error.
    pub fn new(
        buf: &'a [u8],
        pos: usize,
        end: usize,
        left: i32,
        header: &BatchHeader,
    ) -> Result<Self, DecodeError> {
        if end > u32::MAX as usize || pos > end || end > buf.len() {
            return Err(DecodeError::Invalid(
                "record data past 4 GiB or outside its buffer",
            ));
        }
        Ok(SpanReader {
            buf: &buf[..end],
            pos,
            left,
            base_offset: header.base_offset,
            base_timestamp: header.base_timestamp,
            log_append_time: (header.timestamp_type == TimestampType::LogAppendTime)
                .then_some(header.max_timestamp),
            done: false,
        })
    }

    /// Where the unread records start, and how many are left.
    pub fn remaining(&self) -> (usize, i32) {
        (self.pos, self.left)
    }

    fn read(&mut self) -> Result<RawRecord, DecodeError> {
        let buf = self.buf;
        let mut pos = self.pos;
        let len = read_varint(buf, &mut pos).ok_or(TRUNCATED)?;
        let len = usize::try_from(len).map_err(|_| DecodeError::NegativeLength(len))?;
        let end =
            pos.checked_add(len)
                .filter(|&end| end <= buf.len())
                .ok_or(DecodeError::Truncated {
                    needed: len,
                    remaining: buf.len() - pos,
                })?;
        let body = &buf[..end];
        pos += 1; // attributes, unused by every Kafka version so far
        let timestamp_delta = read_varlong(body, &mut pos).ok_or(TRUNCATED)?;
        let offset_delta = read_varint(body, &mut pos).ok_or(TRUNCATED)?;
        let key = span(body, &mut pos)?;
        let value = span(body, &mut pos)?;
        let count = read_varint(body, &mut pos).ok_or(TRUNCATED)?;
        let count = u32::try_from(count).map_err(|_| DecodeError::NegativeLength(count))?;
        let headers_start = pos;
        for _ in 0..count {
            if span(body, &mut pos)? == Span::NULL {
                return Err(DecodeError::UnexpectedNull);
            }
            span(body, &mut pos)?;
        }
        if pos != end {
            return Err(DecodeError::TrailingBytes(end.saturating_sub(pos)));
        }
        let offset = self
            .base_offset
            .checked_add(i64::from(offset_delta))
            .ok_or(DecodeError::Invalid("record offset overflows"))?;
        // Deltas are written with wrapping arithmetic, as in Java.
        let timestamp = self
            .log_append_time
            .unwrap_or(self.base_timestamp.wrapping_add(timestamp_delta));
        self.pos = end;
        Ok(RawRecord {
            offset,
            timestamp,
            key,
            value,
            headers: Span::new(headers_start as u32, (end - headers_start) as u32),
            header_count: count,
        })
    }
}

/// A varint length (-1 for null) and the span of that many bytes.
fn span(body: &[u8], pos: &mut usize) -> Result<Span, DecodeError> {
    let len = read_varint(body, pos).ok_or(TRUNCATED)?;
    if len == -1 {
        return Ok(Span::NULL);
    }
    let n = usize::try_from(len).map_err(|_| DecodeError::NegativeLength(len))?;
    let start = *pos;
    if n > body.len() - start {
        return Err(DecodeError::Truncated {
            needed: n,
            remaining: body.len() - start,
        });
    }
    *pos += n;
    Ok(Span::new(start as u32, n as u32))
}

impl Iterator for SpanReader<'_> {
    type Item = Result<RawRecord, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let result = if self.left == 0 {
            if self.pos == self.buf.len() {
                self.done = true;
                return None;
            }
            Err(DecodeError::Invalid(
                "bytes left after the batch's last record",
            ))
        } else {
            self.left -= 1;
            self.read()
        };
        if result.is_err() {
            self.done = true;
        }
        Some(result)
    }
}

#[cfg(test)]
mod tests;
