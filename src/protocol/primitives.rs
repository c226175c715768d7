//! Kafka's wire primitives: fixed-width integers, varints, (compact, nullable)
//! strings and bytes, arrays, UUIDs and tagged fields.
//!
//! [`Decoder`] reads from a borrowed `&[u8]` and never panics: every read checks
//! the remaining length, negative lengths other than the null marker `-1` are
//! rejected, and no allocation is sized straight from a length read off the
//! wire. [`Encoder`] appends to a `Vec<u8>`.
//!
//! Both carry a `flexible` flag: in flexible versions (KIP-482) strings, bytes
//! and arrays are written in their compact forms and every struct ends with a
//! tagged-field section. Message codecs call [`Encoder::string`] or
//! [`Decoder::array_len`] and the flag picks the form, so one codec serves the
//! classic and the flexible versions of an API.
//!
//! # References
//! Kafka protocol guide, "Protocol Primitive Types"; KIP-482 (tagged fields).

use super::DecodeError;

/// Result of a decode step.
pub type DecodeResult<T> = Result<T, DecodeError>;

/// A cursor over a borrowed byte slice that decodes Kafka primitives.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    flexible: bool,
}

impl<'a> Decoder<'a> {
    /// A decoder for a non-flexible message version.
    pub fn new(buf: &'a [u8]) -> Self {
        Decoder {
            buf,
            pos: 0,
            flexible: false,
        }
    }

    /// A decoder whose string/bytes/array reads use the compact forms when
    /// `flexible` is true.
    pub fn with_flexible(buf: &'a [u8], flexible: bool) -> Self {
        Decoder {
            buf,
            pos: 0,
            flexible,
        }
    }

    /// Whether compact forms and tagged fields are in effect.
    pub fn is_flexible(&self) -> bool {
        self.flexible
    }

    /// Switches between classic and flexible forms (headers and bodies can differ).
    pub fn set_flexible(&mut self, flexible: bool) {
        self.flexible = flexible;
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Current offset from the start of the buffer.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The unread part of the buffer.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Errors unless every byte has been read.
    pub fn finish(&self) -> DecodeResult<()> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes(self.remaining()))
        }
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> DecodeResult<&'a [u8]> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated {
                needed: n,
                remaining: self.remaining(),
            });
        }
        let slice = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> DecodeResult<()> {
        self.take(n).map(|_| ())
    }

    fn array<const N: usize>(&mut self) -> DecodeResult<[u8; N]> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// BOOLEAN: one byte, non-zero is true.
    pub fn bool(&mut self) -> DecodeResult<bool> {
        Ok(self.u8()? != 0)
    }

    /// UINT8.
    pub fn u8(&mut self) -> DecodeResult<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// INT8.
    pub fn i8(&mut self) -> DecodeResult<i8> {
        Ok(i8::from_be_bytes(self.array()?))
    }

    /// INT16, big-endian.
    pub fn i16(&mut self) -> DecodeResult<i16> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    /// UINT16, big-endian.
    pub fn u16(&mut self) -> DecodeResult<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// INT32, big-endian.
    pub fn i32(&mut self) -> DecodeResult<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    /// UINT32, big-endian.
    pub fn u32(&mut self) -> DecodeResult<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// INT64, big-endian.
    pub fn i64(&mut self) -> DecodeResult<i64> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// FLOAT64, big-endian IEEE 754.
    pub fn f64(&mut self) -> DecodeResult<f64> {
        Ok(f64::from_be_bytes(self.array()?))
    }

    /// UUID: 16 bytes.
    pub fn uuid(&mut self) -> DecodeResult<[u8; 16]> {
        self.array()
    }

    /// UNSIGNED_VARINT (up to 5 bytes, 32 bits).
    pub fn uvarint(&mut self) -> DecodeResult<u32> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let byte = self.u8()?;
            if i == 4 && byte > 0x0f {
                return Err(DecodeError::VarintOverflow);
            }
            value |= u32::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::VarintOverflow)
    }

    /// Unsigned 64-bit varint (up to 10 bytes).
    pub fn uvarlong(&mut self) -> DecodeResult<u64> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let byte = self.u8()?;
            if i == 9 && byte > 0x01 {
                return Err(DecodeError::VarintOverflow);
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::VarintOverflow)
    }

    /// VARINT: zig-zag encoded signed 32-bit.
    pub fn varint(&mut self) -> DecodeResult<i32> {
        let raw = self.uvarint()?;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    /// VARLONG: zig-zag encoded signed 64-bit.
    pub fn varlong(&mut self) -> DecodeResult<i64> {
        let raw = self.uvarlong()?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    /// Reads a length for a nullable field: classic INT16/INT32 or compact
    /// UNSIGNED_VARINT (N+1). `None` is null.
    fn nullable_len(&mut self, classic_i16: bool) -> DecodeResult<Option<usize>> {
        if self.flexible {
            let n = self.uvarint()?;
            return Ok(if n == 0 { None } else { Some((n - 1) as usize) });
        }
        let n = if classic_i16 {
            i32::from(self.i16()?)
        } else {
            self.i32()?
        };
        match n {
            -1 => Ok(None),
            n if n < 0 => Err(DecodeError::NegativeLength(n)),
            n => Ok(Some(n as usize)),
        }
    }

    fn utf8(bytes: &'a [u8]) -> DecodeResult<&'a str> {
        std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)
    }

    /// STRING or COMPACT_STRING (by the flexible flag), borrowed.
    pub fn str(&mut self) -> DecodeResult<&'a str> {
        self.nullable_str()?.ok_or(DecodeError::UnexpectedNull)
    }

    /// NULLABLE_STRING or COMPACT_NULLABLE_STRING, borrowed.
    pub fn nullable_str(&mut self) -> DecodeResult<Option<&'a str>> {
        match self.nullable_len(true)? {
            None => Ok(None),
            Some(n) => Ok(Some(Self::utf8(self.take(n)?)?)),
        }
    }

    /// STRING or COMPACT_STRING, owned.
    pub fn string(&mut self) -> DecodeResult<String> {
        self.str().map(str::to_owned)
    }

    /// NULLABLE_STRING or COMPACT_NULLABLE_STRING, owned.
    pub fn nullable_string(&mut self) -> DecodeResult<Option<String>> {
        Ok(self.nullable_str()?.map(str::to_owned))
    }

    /// BYTES or COMPACT_BYTES, borrowed.
    pub fn bytes(&mut self) -> DecodeResult<&'a [u8]> {
        self.nullable_bytes()?.ok_or(DecodeError::UnexpectedNull)
    }

    /// NULLABLE_BYTES or COMPACT_NULLABLE_BYTES, borrowed.
    pub fn nullable_bytes(&mut self) -> DecodeResult<Option<&'a [u8]>> {
        match self.nullable_len(false)? {
            None => Ok(None),
            Some(n) => Ok(Some(self.take(n)?)),
        }
    }

    /// Length of a nullable ARRAY or COMPACT_ARRAY; `None` is null.
    ///
    /// The count is checked against the remaining bytes (`min_item_size` bytes
    /// each, at least 1), so a hostile count cannot drive a huge allocation.
    pub fn nullable_array_len(&mut self, min_item_size: usize) -> DecodeResult<Option<usize>> {
        let n = match self.nullable_len(false)? {
            None => return Ok(None),
            Some(n) => n,
        };
        if n.saturating_mul(min_item_size.max(1)) > self.remaining() {
            return Err(DecodeError::Truncated {
                needed: n.saturating_mul(min_item_size.max(1)),
                remaining: self.remaining(),
            });
        }
        Ok(Some(n))
    }

    /// Length of an ARRAY or COMPACT_ARRAY; a null array reads as empty.
    pub fn array_len(&mut self, min_item_size: usize) -> DecodeResult<usize> {
        Ok(self.nullable_array_len(min_item_size)?.unwrap_or(0))
    }

    /// Reads an array whose items are decoded by `item`.
    pub fn array_of<T>(
        &mut self,
        min_item_size: usize,
        mut item: impl FnMut(&mut Self) -> DecodeResult<T>,
    ) -> DecodeResult<Vec<T>> {
        let n = self.array_len(min_item_size)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }

    /// Reads a nullable array whose items are decoded by `item`.
    pub fn nullable_array_of<T>(
        &mut self,
        min_item_size: usize,
        mut item: impl FnMut(&mut Self) -> DecodeResult<T>,
    ) -> DecodeResult<Option<Vec<T>>> {
        match self.nullable_array_len(min_item_size)? {
            None => Ok(None),
            Some(n) => {
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    out.push(item(self)?);
                }
                Ok(Some(out))
            }
        }
    }

    /// Reads a tagged-field section, skipping every field, when flexible.
    pub fn tagged_fields(&mut self) -> DecodeResult<()> {
        self.tagged_fields_with(|_, _, _| Ok(false))
    }

    /// Reads a tagged-field section when flexible, offering each field to
    /// `known(tag, data, decoder_flexible)`; unknown tags (those for which it
    /// returns `false`) are skipped.
    pub fn tagged_fields_with(
        &mut self,
        mut known: impl FnMut(u32, &'a [u8], bool) -> DecodeResult<bool>,
    ) -> DecodeResult<()> {
        if !self.flexible {
            return Ok(());
        }
        let count = self.uvarint()?;
        let mut last_tag: Option<u32> = None;
        for _ in 0..count {
            let tag = self.uvarint()?;
            if last_tag.is_some_and(|last| tag <= last) {
                return Err(DecodeError::Invalid("tagged fields out of order"));
            }
            last_tag = Some(tag);
            let size = self.uvarint()? as usize;
            let data = self.take(size)?;
            known(tag, data, self.flexible)?;
        }
        Ok(())
    }
}

/// Appends Kafka primitives to a `Vec<u8>`.
#[derive(Debug)]
pub struct Encoder<'a> {
    buf: &'a mut Vec<u8>,
    flexible: bool,
}

impl<'a> Encoder<'a> {
    /// An encoder for a non-flexible message version.
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        Encoder {
            buf,
            flexible: false,
        }
    }

    /// An encoder that writes compact forms and tagged fields when `flexible`.
    pub fn with_flexible(buf: &'a mut Vec<u8>, flexible: bool) -> Self {
        Encoder { buf, flexible }
    }

    /// Whether compact forms and tagged fields are in effect.
    pub fn is_flexible(&self) -> bool {
        self.flexible
    }

    /// Switches between classic and flexible forms.
    pub fn set_flexible(&mut self, flexible: bool) {
        self.flexible = flexible;
    }

    /// Bytes written to the underlying buffer so far (including any that were
    /// there before this encoder was made).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether the underlying buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The underlying buffer, for back-patching length prefixes.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        self.buf
    }

    /// Raw bytes, no prefix.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// BOOLEAN.
    pub fn bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }

    /// UINT8.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// INT8.
    pub fn i8(&mut self, v: i8) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// INT16.
    pub fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// UINT16.
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// INT32.
    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// UINT32.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// INT64.
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// FLOAT64.
    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// UUID.
    pub fn uuid(&mut self, v: &[u8; 16]) {
        self.buf.extend_from_slice(v);
    }

    /// UNSIGNED_VARINT.
    pub fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// Unsigned 64-bit varint.
    pub fn uvarlong(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// VARINT (zig-zag).
    pub fn varint(&mut self, v: i32) {
        self.uvarint(((v << 1) ^ (v >> 31)) as u32);
    }

    /// VARLONG (zig-zag).
    pub fn varlong(&mut self, v: i64) {
        self.uvarlong(((v << 1) ^ (v >> 63)) as u64);
    }

    fn len_prefix(&mut self, len: Option<usize>, classic_i16: bool) -> Result<(), EncodeError> {
        if self.flexible {
            let n = match len {
                None => 0,
                Some(n) => u32::try_from(n)
                    .ok()
                    .and_then(|n| n.checked_add(1))
                    .ok_or(EncodeError::TooLong(n))?,
            };
            self.uvarint(n);
        } else if classic_i16 {
            let n = match len {
                None => -1,
                Some(n) => i16::try_from(n).map_err(|_| EncodeError::TooLong(n))?,
            };
            self.i16(n);
        } else {
            let n = match len {
                None => -1,
                Some(n) => i32::try_from(n).map_err(|_| EncodeError::TooLong(n))?,
            };
            self.i32(n);
        }
        Ok(())
    }

    /// STRING or COMPACT_STRING.
    pub fn string(&mut self, s: &str) -> Result<(), EncodeError> {
        self.len_prefix(Some(s.len()), true)?;
        self.raw(s.as_bytes());
        Ok(())
    }

    /// NULLABLE_STRING or COMPACT_NULLABLE_STRING.
    pub fn nullable_string(&mut self, s: Option<&str>) -> Result<(), EncodeError> {
        match s {
            None => self.len_prefix(None, true),
            Some(s) => self.string(s),
        }
    }

    /// BYTES or COMPACT_BYTES.
    pub fn bytes(&mut self, b: &[u8]) -> Result<(), EncodeError> {
        self.len_prefix(Some(b.len()), false)?;
        self.raw(b);
        Ok(())
    }

    /// NULLABLE_BYTES or COMPACT_NULLABLE_BYTES.
    pub fn nullable_bytes(&mut self, b: Option<&[u8]>) -> Result<(), EncodeError> {
        match b {
            None => self.len_prefix(None, false),
            Some(b) => self.bytes(b),
        }
    }

    /// The length prefix of an ARRAY or COMPACT_ARRAY of `n` items.
    pub fn array_len(&mut self, n: usize) -> Result<(), EncodeError> {
        self.len_prefix(Some(n), false)
    }

    /// The length prefix of a nullable array (`None` writes null).
    pub fn nullable_array_len(&mut self, n: Option<usize>) -> Result<(), EncodeError> {
        self.len_prefix(n, false)
    }

    /// Writes an array, each item by `item`.
    pub fn array_of<T>(
        &mut self,
        items: &[T],
        mut item: impl FnMut(&mut Self, &T) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        self.array_len(items.len())?;
        for it in items {
            item(self, it)?;
        }
        Ok(())
    }

    /// An empty tagged-field section, when flexible.
    pub fn tagged_fields(&mut self) {
        if self.flexible {
            self.uvarint(0);
        }
    }

    /// A tagged-field section holding `fields` (tag, already-encoded data),
    /// which must be sorted by tag; nothing is written when not flexible.
    pub fn tagged_fields_with(&mut self, fields: &[(u32, &[u8])]) -> Result<(), EncodeError> {
        if !self.flexible {
            return Ok(());
        }
        let count = u32::try_from(fields.len()).map_err(|_| EncodeError::TooLong(fields.len()))?;
        self.uvarint(count);
        for (tag, data) in fields {
            self.uvarint(*tag);
            let len = u32::try_from(data.len()).map_err(|_| EncodeError::TooLong(data.len()))?;
            self.uvarint(len);
            self.raw(data);
        }
        Ok(())
    }
}

/// What can go wrong while encoding: a value too long for its length prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A string, bytes or array longer than its length prefix can express.
    #[error("value of length {0} is too long for its length prefix")]
    TooLong(usize),
    /// A field that the chosen version cannot express.
    #[error("{0}")]
    Unsupported(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(flexible: bool, f: impl FnOnce(&mut Encoder)) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut e = Encoder::with_flexible(&mut buf, flexible);
        f(&mut e);
        buf
    }

    #[test]
    fn fixed_ints_at_boundaries_round_trip() {
        for v in [i16::MIN, -1, 0, 1, i16::MAX] {
            let b = enc(false, |e| e.i16(v));
            assert_eq!(Decoder::new(&b).i16().unwrap(), v);
        }
        for v in [i32::MIN, -1, 0, 1, i32::MAX] {
            let b = enc(false, |e| e.i32(v));
            assert_eq!(Decoder::new(&b).i32().unwrap(), v);
        }
        for v in [i64::MIN, -1, 0, 1, i64::MAX] {
            let b = enc(false, |e| e.i64(v));
            assert_eq!(Decoder::new(&b).i64().unwrap(), v);
        }
        for v in [0u32, 1, u32::MAX] {
            let b = enc(false, |e| e.u32(v));
            assert_eq!(Decoder::new(&b).u32().unwrap(), v);
        }
        for v in [i8::MIN, 0, i8::MAX] {
            let b = enc(false, |e| e.i8(v));
            assert_eq!(Decoder::new(&b).i8().unwrap(), v);
        }
        for v in [0u16, u16::MAX] {
            let b = enc(false, |e| e.u16(v));
            assert_eq!(Decoder::new(&b).u16().unwrap(), v);
        }
        let b = enc(false, |e| e.f64(-1.5));
        assert_eq!(Decoder::new(&b).f64().unwrap(), -1.5);
        let b = enc(false, |e| e.bool(true));
        assert!(Decoder::new(&b).bool().unwrap());
    }

    #[test]
    fn varints_match_known_encodings() {
        // Vectors from the protobuf/Kafka zig-zag definition.
        assert_eq!(enc(false, |e| e.varint(0)), [0x00]);
        assert_eq!(enc(false, |e| e.varint(-1)), [0x01]);
        assert_eq!(enc(false, |e| e.varint(1)), [0x02]);
        assert_eq!(enc(false, |e| e.varint(-64)), [0x7f]);
        assert_eq!(enc(false, |e| e.varint(64)), [0x80, 0x01]);
        assert_eq!(enc(false, |e| e.uvarint(300)), [0xac, 0x02]);
        assert_eq!(
            enc(false, |e| e.varint(i32::MAX)),
            [0xfe, 0xff, 0xff, 0xff, 0x0f]
        );
        assert_eq!(
            enc(false, |e| e.varint(i32::MIN)),
            [0xff, 0xff, 0xff, 0xff, 0x0f]
        );
    }

    #[test]
    fn varints_at_boundaries_round_trip() {
        for v in [i32::MIN, i32::MIN + 1, -65, -64, -1, 0, 1, 63, 64, i32::MAX] {
            let b = enc(false, |e| e.varint(v));
            let mut d = Decoder::new(&b);
            assert_eq!(d.varint().unwrap(), v);
            d.finish().unwrap();
        }
        for v in [i64::MIN, -1, 0, 1, i64::MAX] {
            let b = enc(false, |e| e.varlong(v));
            let mut d = Decoder::new(&b);
            assert_eq!(d.varlong().unwrap(), v);
            d.finish().unwrap();
        }
        for v in [0u32, 127, 128, 16383, 16384, u32::MAX] {
            let b = enc(false, |e| e.uvarint(v));
            assert_eq!(Decoder::new(&b).uvarint().unwrap(), v);
        }
        for v in [0u64, u64::MAX] {
            let b = enc(false, |e| e.uvarlong(v));
            assert_eq!(Decoder::new(&b).uvarlong().unwrap(), v);
        }
    }

    #[test]
    fn overlong_varints_are_rejected() {
        assert_eq!(
            Decoder::new(&[0xff; 6]).uvarint(),
            Err(DecodeError::VarintOverflow)
        );
        assert_eq!(
            Decoder::new(&[0xff, 0xff, 0xff, 0xff, 0x1f]).uvarint(),
            Err(DecodeError::VarintOverflow)
        );
        assert_eq!(
            Decoder::new(&[0xff; 11]).uvarlong(),
            Err(DecodeError::VarintOverflow)
        );
    }

    #[test]
    fn strings_classic_and_compact_round_trip() {
        for flexible in [false, true] {
            for s in ["", "a", "topic-événement"] {
                let b = enc(flexible, |e| e.string(s).unwrap());
                let mut d = Decoder::with_flexible(&b, flexible);
                assert_eq!(d.str().unwrap(), s);
                d.finish().unwrap();
            }
            let b = enc(flexible, |e| e.nullable_string(None).unwrap());
            assert_eq!(
                Decoder::with_flexible(&b, flexible).nullable_str().unwrap(),
                None
            );
            let b = enc(flexible, |e| e.nullable_bytes(None).unwrap());
            assert_eq!(
                Decoder::with_flexible(&b, flexible)
                    .nullable_bytes()
                    .unwrap(),
                None
            );
            let b = enc(flexible, |e| e.bytes(&[1, 2, 3]).unwrap());
            assert_eq!(
                Decoder::with_flexible(&b, flexible).bytes().unwrap(),
                &[1, 2, 3]
            );
        }
        assert_eq!(enc(false, |e| e.string("ab").unwrap()), [0, 2, b'a', b'b']);
        assert_eq!(enc(true, |e| e.string("ab").unwrap()), [3, b'a', b'b']);
        assert_eq!(enc(true, |e| e.nullable_string(None).unwrap()), [0]);
        assert_eq!(
            enc(false, |e| e.nullable_string(None).unwrap()),
            [0xff, 0xff]
        );
    }

    #[test]
    fn a_string_longer_than_i16_is_an_encode_error() {
        let long = "x".repeat(40_000);
        let mut buf = Vec::new();
        assert_eq!(
            Encoder::new(&mut buf).string(&long),
            Err(EncodeError::TooLong(40_000))
        );
        assert!(Encoder::with_flexible(&mut buf, true).string(&long).is_ok());
    }

    #[test]
    fn null_where_a_value_is_required_is_an_error() {
        assert_eq!(
            Decoder::new(&[0xff, 0xff]).str(),
            Err(DecodeError::UnexpectedNull)
        );
        assert_eq!(
            Decoder::with_flexible(&[0], true).bytes(),
            Err(DecodeError::UnexpectedNull)
        );
    }

    #[test]
    fn negative_lengths_are_rejected() {
        assert_eq!(
            Decoder::new(&[0xff, 0xfe]).nullable_str(),
            Err(DecodeError::NegativeLength(-2))
        );
        assert_eq!(
            Decoder::new(&[0x80, 0, 0, 0]).nullable_bytes(),
            Err(DecodeError::NegativeLength(i32::MIN))
        );
        assert_eq!(
            Decoder::new(&[0xff, 0xff, 0xff, 0xfe]).array_len(1),
            Err(DecodeError::NegativeLength(-2))
        );
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        assert_eq!(
            Decoder::new(&[0, 2, 0xc3, 0x28]).str(),
            Err(DecodeError::InvalidUtf8)
        );
    }

    #[test]
    fn a_huge_array_count_is_rejected_before_allocating() {
        let mut d = Decoder::new(&[0x7f, 0xff, 0xff, 0xff, 1, 2]);
        assert!(matches!(
            d.array_of(4, |d| d.i32()),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn every_truncation_of_every_primitive_is_an_error() {
        type Read = fn(&mut Decoder<'_>) -> DecodeResult<()>;
        let cases: Vec<(bool, Vec<u8>, Read)> = vec![
            (false, enc(false, |e| e.i16(7)), |d| d.i16().map(drop)),
            (false, enc(false, |e| e.i32(7)), |d| d.i32().map(drop)),
            (false, enc(false, |e| e.i64(7)), |d| d.i64().map(drop)),
            (false, enc(false, |e| e.uuid(&[9; 16])), |d| {
                d.uuid().map(drop)
            }),
            (false, enc(false, |e| e.varint(1 << 20)), |d| {
                d.varint().map(drop)
            }),
            (false, enc(false, |e| e.varlong(1 << 40)), |d| {
                d.varlong().map(drop)
            }),
            (false, enc(false, |e| e.string("hello").unwrap()), |d| {
                d.str().map(drop)
            }),
            (true, enc(true, |e| e.string("hello").unwrap()), |d| {
                d.str().map(drop)
            }),
            (false, enc(false, |e| e.bytes(b"hello").unwrap()), |d| {
                d.bytes().map(drop)
            }),
            (true, enc(true, |e| e.bytes(b"hello").unwrap()), |d| {
                d.bytes().map(drop)
            }),
            (
                false,
                enc(false, |e| {
                    e.array_of(&[1, 2], |e, v| {
                        e.i32(*v);
                        Ok(())
                    })
                    .unwrap()
                }),
                |d| d.array_of(4, |d| d.i32()).map(drop),
            ),
            (
                true,
                enc(true, |e| {
                    e.tagged_fields_with(&[(1, b"ab"), (5, b"c")]).unwrap()
                }),
                |d| d.tagged_fields(),
            ),
        ];
        for (flexible, bytes, read) in cases {
            read(&mut Decoder::with_flexible(&bytes, flexible)).unwrap();
            for cut in 0..bytes.len() {
                let mut d = Decoder::with_flexible(&bytes[..cut], flexible);
                assert!(read(&mut d).is_err(), "cut at {cut} of {bytes:?}");
            }
        }
    }

    #[test]
    fn unknown_tagged_fields_are_skipped_and_known_ones_offered() {
        let b = enc(true, |e| {
            e.tagged_fields_with(&[(0, b"xyz"), (7, b"")]).unwrap();
            e.i32(42);
        });
        let mut d = Decoder::with_flexible(&b, true);
        let mut seen = Vec::new();
        d.tagged_fields_with(|tag, data, _| {
            seen.push((tag, data.to_vec()));
            Ok(tag == 0)
        })
        .unwrap();
        assert_eq!(seen, vec![(0, b"xyz".to_vec()), (7, vec![])]);
        assert_eq!(d.i32().unwrap(), 42);
        // Classic versions have no tagged section at all.
        let mut d = Decoder::new(&[0, 0, 0, 1]);
        d.tagged_fields().unwrap();
        assert_eq!(d.i32().unwrap(), 1);
    }

    #[test]
    fn trailing_bytes_are_reported() {
        let d = Decoder::new(&[1, 2]);
        assert_eq!(d.finish(), Err(DecodeError::TrailingBytes(2)));
    }
}
