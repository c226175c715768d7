//! What the KIP-848 consumer-group member (`membership/consumer_protocol`)
//! and the KIP-932 share-group member (`share/member.rs`) both need: a
//! client-generated member id, and an `UnsupportedVersion` that says which
//! Kafka the group kind needs.
//!
//! Both protocols let the member pick its id (KIP-1082) instead of asking
//! the coordinator for one, so a member that retries its join keeps its
//! id. The id has the text form of Kafka's own `Uuid` (what the Java
//! client's `Uuid.randomUuid().toString()` gives): 16 random bytes of a
//! version 4 UUID in URL-safe base64 without padding, 22 characters, never
//! starting with `-` (see docs/design.md, "client-generated member ids").

use base64::Engine as _;

use crate::error::Error;

/// A new member id: a random version 4 UUID in Kafka's `Uuid` text form
/// (22 URL-safe base64 characters), e.g. `Pz6aLn1LTgqcH1stjmpMEA`.
///
/// Never fails: without OS randomness, the clock and the process id make
/// the bytes (unique enough among the members of one group).
pub(crate) fn generate() -> String {
    let mut attempt = 0u32;
    loop {
        let id = encode(random_bytes(attempt));
        // Kafka's `Uuid.randomUuid` draws again for ids that start with
        // `-`: a command-line tool would take them for an option.
        if !id.starts_with('-') {
            return id;
        }
        attempt += 1;
    }
}

fn random_bytes(attempt: u32) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let salt = (u128::from(std::process::id()) << 96) ^ (u128::from(attempt) << 64);
        bytes.copy_from_slice(&(nanos ^ salt).to_le_bytes());
    }
    bytes
}

/// Sets the version (4) and variant (RFC 4122) bits, as Java's
/// `UUID.randomUUID` does, and encodes the 16 bytes.
fn encode(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Rewrites an [`Error::UnsupportedVersion`] (the broker has no version of
/// the group kind's API that this client speaks) so that its message says
/// what the group kind needs: `ours` is the versions this client speaks,
/// `needs` the Kafka release (and setting) that has them, or what to do
/// instead. Any other error is returned as it is.
pub(crate) fn explain_unsupported(e: Error, ours: &str, needs: &str) -> Error {
    match e {
        Error::UnsupportedVersion { broker, api, .. } => Error::UnsupportedVersion {
            broker,
            api,
            ours: format!("{ours}; {needs}"),
        },
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_22_url_safe_characters_of_a_version_4_uuid_and_differ() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), 22);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert!(!a.starts_with('-'), "{a}");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&a)
            .unwrap();
        assert_eq!(bytes[6] >> 4, 4, "version 4");
        assert_eq!(bytes[8] >> 6, 0b10, "RFC 4122 variant");
        assert_eq!(encode([0; 16]), "AAAAAAAAQACAAAAAAAAAAA");
    }

    #[test]
    fn only_unsupported_version_errors_are_explained() {
        let e = explain_unsupported(
            Error::UnsupportedVersion {
                broker: "127.0.0.1:9092".into(),
                api: "ShareGroupHeartbeat",
                ours: "v1..=v1".into(),
            },
            "v1",
            "needs Kafka 4.1",
        );
        assert!(matches!(
            &e,
            Error::UnsupportedVersion { api: "ShareGroupHeartbeat", ours, .. } if ours == "v1; needs Kafka 4.1"
        ));
        let other = explain_unsupported(Error::Config("x".into()), "v1", "needs Kafka 4.1");
        assert!(matches!(other, Error::Config(_)));
    }
}
