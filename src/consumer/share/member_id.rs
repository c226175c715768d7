//! Client-generated member ids: KIP-848 consumer groups and KIP-932 share
//! groups let the member pick its id (a random UUID) instead of asking the
//! coordinator for one, so a member that retries its join keeps its id.
//!
//! Nothing here is share-specific: the KIP-848 member can use the same
//! function (see docs/design.md).

use crate::error::{Error, Result};

/// A random (version 4) UUID in its 36-character text form, e.g.
/// `3f1c9a2e-7d4b-4e0a-9c1f-5b2d8e6a4c10`.
///
/// # Errors
/// [`Error::Io`] when the operating system has no randomness to give.
pub(crate) fn generate() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::io(
            "generating a member id",
            std::io::Error::other(e.to_string()),
        )
    })?;
    Ok(format_uuid_v4(bytes))
}

/// Sets the version (4) and variant (RFC 4122) bits of `bytes` and formats
/// them as `8-4-4-4-12` lowercase hex.
fn format_uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_4_uuids_and_differ() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert_eq!(
            format_uuid_v4([0; 16]),
            "00000000-0000-4000-8000-000000000000"
        );
    }
}
