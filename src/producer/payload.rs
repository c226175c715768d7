//! [`Payload`]: the bytes of a key, value or header value on their way into
//! a [`Record`](super::Record).

use std::borrow::Cow;

use bytes::Bytes;

/// The bytes of a key, value or header value, as a [`Record`](super::Record)
/// takes them: a [`Bytes`], which clones without copying, or, for a short
/// borrowed slice, the bytes themselves.
///
/// Everything a record took before (`impl Into<Vec<u8>>`) converts: owned
/// buffers (`Vec<u8>`, `String`, `Box<[u8]>`, [`Bytes`]) move in without a
/// copy; borrowed ones (`&[u8]`, `&str`, `b"..."`, `&Vec<u8>`, `&String`,
/// arrays) are copied once: up to [`Payload::INLINE`] bytes into the payload
/// itself, which a record keeps as its key without an allocation, longer
/// ones into a new [`Bytes`]. To send the same payload many times, make it a
/// [`Bytes`] once and clone that: each clone is a reference count.
///
/// ```
/// use kafka_sync::producer::{Payload, Record};
/// use kafka_sync::Bytes;
/// let shared = Bytes::from(vec![0u8; 1024]);
/// let record = Record::new(shared.clone()).key("user-42").header("trace", b"1");
/// assert_eq!(record.get_value_bytes().unwrap().as_ptr(), shared.as_ptr()); // not copied
/// assert_eq!(Payload::from(&b"k"[..]).into_bytes(), Bytes::from_static(b"k"));
/// assert_eq!(Payload::from("user-42").as_slice(), b"user-42");
/// ```
#[derive(Clone)]
pub struct Payload(Repr);

#[derive(Clone)]
enum Repr {
    Inline(Inline<{ Payload::INLINE }>),
    Shared(Bytes),
}

/// Up to `N` bytes (at most 255) kept in place of an allocation: a short
/// [`Payload`] or [`HeaderKey`](super::HeaderKey).
#[derive(Clone, Copy)]
pub(crate) struct Inline<const N: usize> {
    /// How many of `bytes` are used, from the start.
    len: u8,
    bytes: [u8; N],
}

impl<const N: usize> Inline<N> {
    /// A copy of `s`, if it fits.
    pub(crate) fn new(s: &[u8]) -> Option<Self> {
        let len = u8::try_from(s.len())
            .ok()
            .filter(|&len| usize::from(len) <= N)?;
        let mut bytes = [0u8; N];
        bytes[..s.len()].copy_from_slice(s);
        Some(Inline { len, bytes })
    }

    /// The bytes kept.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl Payload {
    /// The longest borrowed slice kept without an allocation, in bytes.
    pub const INLINE: usize = 22;

    /// A copy of `s`: inline when it is short enough, else a new [`Bytes`].
    fn copy(s: &[u8]) -> Self {
        match Inline::new(s) {
            Some(inline) => Payload(Repr::Inline(inline)),
            None => Payload(Repr::Shared(Bytes::copy_from_slice(s))),
        }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline(inline) => inline.as_slice(),
            Repr::Shared(b) => b,
        }
    }

    /// The bytes as a [`Bytes`] (copied into one when they were kept inline).
    pub fn into_bytes(self) -> Bytes {
        match self.0 {
            Repr::Shared(b) => b,
            Repr::Inline(inline) => Bytes::copy_from_slice(inline.as_slice()),
        }
    }

    /// The bytes as a [`Bytes`]: a reference count, or a copy when they were
    /// kept inline.
    pub fn to_bytes(&self) -> Bytes {
        match &self.0 {
            Repr::Shared(b) => b.clone(),
            Repr::Inline(inline) => Bytes::copy_from_slice(inline.as_slice()),
        }
    }

    /// The [`Bytes`] held, unless the bytes are kept inline.
    pub fn as_shared(&self) -> Option<&Bytes> {
        match &self.0 {
            Repr::Shared(b) => Some(b),
            Repr::Inline(_) => None,
        }
    }

    /// How many bytes.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for Payload {
    fn default() -> Self {
        Payload(Repr::Shared(Bytes::new()))
    }
}

impl std::ops::Deref for Payload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

/// Shown as the bytes, however they are held.
impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Repr::Shared(b) => std::fmt::Debug::fmt(b, f),
            Repr::Inline(_) => std::fmt::Debug::fmt(&Bytes::copy_from_slice(self), f),
        }
    }
}

/// Equal when the bytes are, however they are held.
impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Payload {}

impl From<Bytes> for Payload {
    fn from(b: Bytes) -> Self {
        Payload(Repr::Shared(b))
    }
}

impl From<&Bytes> for Payload {
    fn from(b: &Bytes) -> Self {
        Payload(Repr::Shared(b.clone()))
    }
}

impl From<bytes::BytesMut> for Payload {
    fn from(b: bytes::BytesMut) -> Self {
        Payload(Repr::Shared(b.freeze()))
    }
}

impl From<Vec<u8>> for Payload {
    fn from(v: Vec<u8>) -> Self {
        Payload(Repr::Shared(Bytes::from(v)))
    }
}

impl From<&Vec<u8>> for Payload {
    fn from(v: &Vec<u8>) -> Self {
        Payload::copy(v)
    }
}

impl From<Box<[u8]>> for Payload {
    fn from(v: Box<[u8]>) -> Self {
        Payload(Repr::Shared(Bytes::from(v)))
    }
}

impl From<String> for Payload {
    fn from(s: String) -> Self {
        Payload(Repr::Shared(Bytes::from(s)))
    }
}

impl From<&String> for Payload {
    fn from(s: &String) -> Self {
        Payload::copy(s.as_bytes())
    }
}

impl From<&str> for Payload {
    fn from(s: &str) -> Self {
        Payload::copy(s.as_bytes())
    }
}

impl From<&[u8]> for Payload {
    fn from(s: &[u8]) -> Self {
        Payload::copy(s)
    }
}

impl From<&mut [u8]> for Payload {
    fn from(s: &mut [u8]) -> Self {
        Payload::copy(s)
    }
}

impl<const N: usize> From<[u8; N]> for Payload {
    fn from(s: [u8; N]) -> Self {
        Payload::copy(&s)
    }
}

impl<const N: usize> From<&[u8; N]> for Payload {
    fn from(s: &[u8; N]) -> Self {
        Payload::copy(s)
    }
}

impl From<Cow<'_, [u8]>> for Payload {
    fn from(c: Cow<'_, [u8]>) -> Self {
        match c {
            Cow::Borrowed(s) => Payload::copy(s),
            Cow::Owned(v) => Payload::from(v),
        }
    }
}

impl From<Cow<'_, str>> for Payload {
    fn from(c: Cow<'_, str>) -> Self {
        match c {
            Cow::Borrowed(s) => Payload::copy(s.as_bytes()),
            Cow::Owned(s) => Payload::from(s),
        }
    }
}

impl From<Payload> for Bytes {
    fn from(p: Payload) -> Self {
        p.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_borrowed_slices_are_kept_inline_and_compare_by_content() {
        let short = Payload::from(&b"user-42"[..]);
        assert!(short.as_shared().is_none(), "no allocation");
        assert_eq!(short.as_slice(), b"user-42");
        let edge = [7u8; Payload::INLINE];
        assert!(Payload::from(edge).as_shared().is_none());
        let long = [7u8; Payload::INLINE + 1];
        assert_eq!(Payload::from(long).as_shared().map(Bytes::len), Some(23));
        assert_eq!(short, Payload::from(Bytes::from_static(b"user-42")));
        assert_eq!(short.to_bytes(), Bytes::from_static(b"user-42"));
        assert_eq!(short.clone().into_bytes(), short.to_bytes());
        assert_eq!(format!("{short:?}"), "b\"user-42\"");
        assert!(Payload::default().is_empty());
        assert!(Payload::from("").as_slice().is_empty());
        assert!(std::mem::size_of::<Payload>() <= 32);
    }
}
