//! SASL authentication of a new connection: the [`Sasl`] credentials and
//! the SaslHandshake + SaslAuthenticate exchange that runs right after
//! ApiVersions on every connection the pool opens.
//!
//! Mechanisms: `PLAIN` (the password travels as is, so use it only over
//! TLS) and `SCRAM-SHA-256` / `SCRAM-SHA-512` (the password never travels
//! and the broker proves it knows it too). Only SaslHandshake v1 with
//! SaslAuthenticate requests is spoken (Kafka ≥ 1.0); the v0 framing, where
//! tokens travel as raw frames outside the Kafka protocol, is not supported
//! and gives a clear error.
//!
//! When the broker announces a session lifetime (KIP-368), the connection
//! records a deadline before it; the pool opens a fresh, freshly
//! authenticated connection once it has passed, instead of re-authenticating
//! in place. Requests still in flight on the old connection finish there.
//!
//! # References
//! Kafka protocol guide, "SASL Authentication Sequence"; KIP-43, KIP-84,
//! KIP-152, KIP-368; RFC 4616 (PLAIN).

use std::fmt;
use std::time::Duration;

use log::debug;

use super::scram::{random_nonce, ScramClient, ScramHash};
use super::Connection;
use crate::error::{Error, Result};
use crate::protocol::api::{SaslAuthenticateRequest, SaslHandshakeRequest};
use crate::protocol::{ErrorCode, Request};

/// SASL credentials for every connection of a client.
///
/// `Debug` shows the mechanism and user, never the password.
///
/// ```
/// let sasl = kafka_sync::Sasl::scram_sha_512("alice", "secret");
/// assert_eq!(sasl.mechanism(), "SCRAM-SHA-512");
/// assert!(!format!("{sasl:?}").contains("secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Sasl {
    mechanism: Mechanism,
    username: String,
    password: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mechanism {
    Plain,
    Scram(ScramHash),
}

impl fmt::Debug for Sasl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sasl")
            .field("mechanism", &self.mechanism())
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Sasl {
    /// `PLAIN` (RFC 4616): the password is sent to the broker as is, so
    /// combine it with TLS.
    pub fn plain(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::new(Mechanism::Plain, username, password)
    }

    /// `SCRAM-SHA-256` (RFC 7677).
    pub fn scram_sha_256(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::new(Mechanism::Scram(ScramHash::Sha256), username, password)
    }

    /// `SCRAM-SHA-512`.
    pub fn scram_sha_512(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::new(Mechanism::Scram(ScramHash::Sha512), username, password)
    }

    fn new(mechanism: Mechanism, username: impl Into<String>, password: impl Into<String>) -> Self {
        Sasl {
            mechanism,
            username: username.into(),
            password: password.into(),
        }
    }

    /// The SASL mechanism name sent in SaslHandshake.
    pub fn mechanism(&self) -> &'static str {
        match self.mechanism {
            Mechanism::Plain => "PLAIN",
            Mechanism::Scram(hash) => hash.mechanism(),
        }
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }
}

/// Authenticates `conn` (after ApiVersions); returns the session lifetime
/// the broker announced, if any.
pub(crate) fn authenticate(conn: &Connection, sasl: &Sasl) -> Result<Option<Duration>> {
    let addr = conn.addr();
    let mechanism = sasl.mechanism();
    let handshake_max = conn
        .api_range(SaslHandshakeRequest::API_KEY)
        .map(|r| r.max_version);
    if handshake_max.unwrap_or(-1) < 1 || conn.version_for::<SaslAuthenticateRequest>().is_err() {
        return Err(Error::Sasl(format!(
            "broker {addr} does not offer SaslHandshake v1 and SaslAuthenticate \
             (Kafka 1.0 or later); this client does not speak the older SASL framing"
        )));
    }
    let handshake = conn.request_at(
        &SaslHandshakeRequest {
            mechanism: mechanism.to_owned(),
        },
        1,
    )?;
    match handshake.error_code {
        ErrorCode::None => {}
        ErrorCode::UnsupportedSaslMechanism => {
            return Err(Error::Sasl(format!(
                "broker {addr} does not enable {mechanism}; it enables [{}]",
                handshake.mechanisms.join(", ")
            )))
        }
        ErrorCode::IllegalSaslState => {
            return Err(Error::Sasl(format!(
                "broker {addr} refused the SASL handshake (illegal SASL state); \
                 does its listener expect SASL at all?"
            )))
        }
        code => {
            return Err(Error::Sasl(format!(
                "SaslHandshake with {addr} failed: {} ({})",
                code.name(),
                code.description()
            )))
        }
    }
    let lifetime = match sasl.mechanism {
        Mechanism::Plain => {
            let mut token = Vec::with_capacity(sasl.username.len() + sasl.password.len() + 2);
            token.push(0);
            token.extend_from_slice(sasl.username.as_bytes());
            token.push(0);
            token.extend_from_slice(sasl.password.as_bytes());
            step(conn, sasl, token)?.1
        }
        Mechanism::Scram(hash) => {
            // Failures inside the exchange say which broker and user.
            let context = |e: Error| match e {
                Error::Sasl(detail) => Error::Sasl(format!(
                    "{mechanism} login to {addr} as `{}`: {detail}",
                    sasl.username
                )),
                other => other,
            };
            let mut scram = ScramClient::new(hash, &sasl.username, &sasl.password, random_nonce()?);
            let (server_first, _) = step(conn, sasl, scram.client_first())?;
            let client_final = scram.client_final(&server_first).map_err(context)?;
            let (server_final, lifetime) = step(conn, sasl, client_final)?;
            scram.verify_server_final(&server_final).map_err(context)?;
            lifetime
        }
    };
    debug!(
        "authenticated to {addr} as `{}` with {mechanism}{}",
        sasl.username,
        lifetime
            .map(|l| format!(", session lifetime {l:?}"))
            .unwrap_or_default()
    );
    Ok(lifetime)
}

/// One SaslAuthenticate round trip: the broker's token and session lifetime.
fn step(conn: &Connection, sasl: &Sasl, token: Vec<u8>) -> Result<(Vec<u8>, Option<Duration>)> {
    let response = conn.request(&SaslAuthenticateRequest { auth_bytes: token })?;
    match response.error_code {
        ErrorCode::None => {}
        ErrorCode::SaslAuthenticationFailed => {
            return Err(Error::Sasl(format!(
                "broker {} rejected {} credentials for user `{}`: {}; check the user name \
                 and password",
                conn.addr(),
                sasl.mechanism(),
                sasl.username,
                response
                    .error_message
                    .as_deref()
                    .unwrap_or("authentication failed")
            )))
        }
        code => {
            return Err(Error::Sasl(format!(
                "SaslAuthenticate with {} failed: {}{}",
                conn.addr(),
                code.name(),
                response
                    .error_message
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            )))
        }
    }
    let lifetime = u64::try_from(response.session_lifetime_ms)
        .ok()
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis);
    Ok((response.auth_bytes, lifetime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_password() {
        for sasl in [
            Sasl::plain("alice", "hunter2-secret"),
            Sasl::scram_sha_256("alice", "hunter2-secret"),
            Sasl::scram_sha_512("alice", "hunter2-secret"),
        ] {
            let shown = format!("{sasl:?} {sasl:#?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("alice") && shown.contains(sasl.mechanism()));
        }
    }

    #[test]
    fn mechanism_names_are_kafkas() {
        assert_eq!(Sasl::plain("u", "p").mechanism(), "PLAIN");
        assert_eq!(Sasl::scram_sha_256("u", "p").mechanism(), "SCRAM-SHA-256");
        assert_eq!(Sasl::scram_sha_512("u", "p").mechanism(), "SCRAM-SHA-512");
    }
}
