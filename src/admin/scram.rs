//! SCRAM users: describe which mechanisms a user has credentials for, and
//! create, replace or delete credentials (DescribeUserScramCredentials,
//! AlterUserScramCredentials).
//!
//! Passwords never leave the client: as Kafka requires, an upsertion draws a
//! random salt and sends `Hi(password, salt, iterations)` (RFC 5802's PBKDF2),
//! from which the broker derives the keys it stores. Both calls go to the
//! controller, as the Java admin sends them; a NOT_CONTROLLER answer refreshes
//! metadata and retries.
//!
//! # References
//! KIP-554; RFC 5802, RFC 7677.

use std::collections::BTreeMap;
use std::fmt;

use super::Admin;
use crate::error::{Error, Result};
use crate::net::scram::{random_salt, ScramHash};
use crate::protocol::api::alter_user_scram_credentials::{
    AlterUserScramCredentialsRequest, ScramCredentialDeletion, ScramCredentialUpsertion,
};
use crate::protocol::api::describe_user_scram_credentials::DescribeUserScramCredentialsRequest;
use crate::protocol::ErrorCode;

/// A SCRAM mechanism a credential is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ScramMechanism {
    /// SCRAM-SHA-256 (RFC 7677), wire code 1.
    ScramSha256,
    /// SCRAM-SHA-512, wire code 2.
    ScramSha512,
    /// A code this client does not know, as a broker reported it.
    Unknown(i8),
}

impl ScramMechanism {
    /// The code on the wire.
    pub fn code(self) -> i8 {
        match self {
            ScramMechanism::ScramSha256 => 1,
            ScramMechanism::ScramSha512 => 2,
            ScramMechanism::Unknown(code) => code,
        }
    }

    /// The mechanism a wire code names.
    pub fn from_code(code: i8) -> Self {
        match code {
            1 => ScramMechanism::ScramSha256,
            2 => ScramMechanism::ScramSha512,
            code => ScramMechanism::Unknown(code),
        }
    }

    /// The SASL mechanism name (`SCRAM-SHA-256`, `SCRAM-SHA-512`).
    pub fn name(self) -> &'static str {
        match self.hash() {
            Some(hash) => hash.mechanism(),
            None => "an unknown SCRAM mechanism",
        }
    }

    fn hash(self) -> Option<ScramHash> {
        match self {
            ScramMechanism::ScramSha256 => Some(ScramHash::Sha256),
            ScramMechanism::ScramSha512 => Some(ScramHash::Sha512),
            ScramMechanism::Unknown(_) => None,
        }
    }
}

impl fmt::Display for ScramMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One credential of a user, as [`Admin::describe_user_scram_credentials`]
/// reports it (brokers never return salts or keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScramCredentialInfo {
    /// The mechanism.
    pub mechanism: ScramMechanism,
    /// PBKDF2 iterations.
    pub iterations: i32,
}

/// One change for [`Admin::alter_user_scram_credentials`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserScramCredentialAlteration {
    /// Creates or replaces `user`'s credential for `mechanism`.
    Upsert {
        /// User name.
        user: String,
        /// The mechanism the credential is for.
        mechanism: ScramMechanism,
        /// PBKDF2 iterations; Kafka accepts 4096 to 16384.
        iterations: i32,
        /// The password: salted on the client, never sent.
        password: String,
    },
    /// Deletes `user`'s credential for `mechanism`.
    Delete {
        /// User name.
        user: String,
        /// The mechanism of the credential to delete.
        mechanism: ScramMechanism,
    },
}

impl UserScramCredentialAlteration {
    /// Creates or replaces `user`'s `mechanism` credential with `password`,
    /// at `iterations` PBKDF2 iterations (Kafka's tools default to 4096).
    pub fn upsert(
        user: impl Into<String>,
        mechanism: ScramMechanism,
        iterations: i32,
        password: impl Into<String>,
    ) -> Self {
        UserScramCredentialAlteration::Upsert {
            user: user.into(),
            mechanism,
            iterations,
            password: password.into(),
        }
    }

    /// Deletes `user`'s `mechanism` credential.
    pub fn delete(user: impl Into<String>, mechanism: ScramMechanism) -> Self {
        UserScramCredentialAlteration::Delete {
            user: user.into(),
            mechanism,
        }
    }

    /// The user this alteration is about.
    pub fn user(&self) -> &str {
        match self {
            UserScramCredentialAlteration::Upsert { user, .. }
            | UserScramCredentialAlteration::Delete { user, .. } => user,
        }
    }
}

// Secrets never reach `Debug`.
impl fmt::Debug for UserScramCredentialAlteration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserScramCredentialAlteration::Upsert {
                user,
                mechanism,
                iterations,
                ..
            } => f
                .debug_struct("Upsert")
                .field("user", user)
                .field("mechanism", mechanism)
                .field("iterations", iterations)
                .finish_non_exhaustive(),
            UserScramCredentialAlteration::Delete { user, mechanism } => f
                .debug_struct("Delete")
                .field("user", user)
                .field("mechanism", mechanism)
                .finish(),
        }
    }
}

/// The iteration counts this client salts with: Kafka's minimum, and a bound
/// on the client's own PBKDF2 work (Kafka's maximum is 16384).
const ITERATIONS: std::ops::RangeInclusive<i32> = 4096..=1_000_000;

impl Admin {
    /// The SCRAM credentials of `users` (`None`: of every user), by user:
    /// the mechanisms and iteration counts, or the user's own error (Kafka
    /// answers RESOURCE_NOT_FOUND for a user without credentials).
    ///
    /// # Errors
    /// A request-level broker error (e.g. CLUSTER_AUTHORIZATION_FAILED),
    /// [`Error::UnsupportedVersion`] naming DescribeUserScramCredentials when
    /// the broker lacks it, or the transport's errors after retries.
    pub fn describe_user_scram_credentials(
        &self,
        users: Option<&[&str]>,
    ) -> Result<BTreeMap<String, Result<Vec<ScramCredentialInfo>>>> {
        let request = DescribeUserScramCredentialsRequest {
            users: users.map(|u| u.iter().map(|&u| u.to_owned()).collect()),
        };
        let client = &self.client;
        let deadline = self.deadline();
        let context = "DescribeUserScramCredentials";
        let response = client.retry_until(deadline, context, || {
            let response = client.controller_connection(deadline)?.request(&request)?;
            match response.error_code {
                ErrorCode::None => Ok(response),
                code => {
                    if code == ErrorCode::NotController {
                        client.refresh_metadata()?;
                    }
                    Err(Error::broker(code, response.error_message, context))
                }
            }
        })?;
        Ok(response
            .results
            .into_iter()
            .map(|r| {
                let outcome = match r.error_code {
                    ErrorCode::None => Ok(r
                        .credential_infos
                        .iter()
                        .map(|c| ScramCredentialInfo {
                            mechanism: ScramMechanism::from_code(c.mechanism),
                            iterations: c.iterations,
                        })
                        .collect()),
                    code => Err(Error::broker(
                        code,
                        r.error_message,
                        format!("{context} for user `{}`", r.user),
                    )),
                };
                (r.user, outcome)
            })
            .collect())
    }

    /// Applies `alterations`, by user: `Ok(())` or that user's error
    /// (UNSUPPORTED_SASL_MECHANISM, UNACCEPTABLE_CREDENTIAL for iterations
    /// the broker refuses, RESOURCE_NOT_FOUND when deleting a credential
    /// that does not exist, …).
    ///
    /// Each upsertion gets a fresh random salt. An alteration this client
    /// cannot send (an unknown mechanism, iterations outside 4096 to
    /// 1,000,000, an empty user name) is that user's [`Error::Config`]; the
    /// others are still sent.
    ///
    /// ```no_run
    /// # let client = kafka_sync::KafkaClient::new("127.0.0.1:9092")?;
    /// use kafka_sync::admin::{ScramMechanism, UserScramCredentialAlteration as Alter};
    /// let results = client.admin().alter_user_scram_credentials(&[
    ///     Alter::upsert("alice", ScramMechanism::ScramSha256, 8192, "alice-secret"),
    ///     Alter::delete("mallory", ScramMechanism::ScramSha512),
    /// ])?;
    /// for (user, result) in results {
    ///     println!("{user}: {result:?}");
    /// }
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::UnsupportedVersion`] naming AlterUserScramCredentials when
    /// the broker lacks it, a random-number failure as [`Error::Sasl`], or
    /// the transport's errors after retries.
    pub fn alter_user_scram_credentials(
        &self,
        alterations: &[UserScramCredentialAlteration],
    ) -> Result<BTreeMap<String, Result<()>>> {
        let context = "AlterUserScramCredentials";
        let mut results = BTreeMap::new();
        let mut request = AlterUserScramCredentialsRequest::default();
        for alteration in alterations {
            match to_wire(alteration)? {
                Ok(Wire::Delete(d)) => request.deletions.push(d),
                Ok(Wire::Upsert(u)) => request.upsertions.push(u),
                Err(e) => {
                    results.insert(alteration.user().to_owned(), Err(e));
                }
            }
        }
        if request.deletions.is_empty() && request.upsertions.is_empty() {
            return Ok(results);
        }
        let client = &self.client;
        let deadline = self.deadline();
        let response = client.retry_until(deadline, context, || {
            let response = client.controller_connection(deadline)?.request(&request)?;
            if let Some(moved) = response
                .results
                .iter()
                .find(|r| r.error_code == ErrorCode::NotController)
            {
                client.refresh_metadata()?;
                return Err(Error::broker(
                    moved.error_code,
                    moved.error_message.clone(),
                    context,
                ));
            }
            Ok(response)
        })?;
        for r in response.results {
            let outcome = match r.error_code {
                ErrorCode::None => Ok(()),
                code => Err(Error::broker(
                    code,
                    r.error_message,
                    format!("{context} for user `{}`", r.user),
                )),
            };
            results.entry(r.user).or_insert(outcome);
        }
        Ok(results)
    }
}

enum Wire {
    Delete(ScramCredentialDeletion),
    Upsert(ScramCredentialUpsertion),
}

/// The wire form of one alteration, salting an upsertion's password; the
/// inner error is the alteration's own, the outer one a failure to draw a
/// salt.
fn to_wire(alteration: &UserScramCredentialAlteration) -> Result<Result<Wire>> {
    let user = alteration.user();
    let invalid = |what: String| Ok(Err(Error::Config(format!("SCRAM user `{user}`: {what}"))));
    if user.is_empty() {
        return invalid("the user name is empty".into());
    }
    match alteration {
        UserScramCredentialAlteration::Delete { mechanism, .. } => {
            if mechanism.hash().is_none() {
                return invalid(format!("mechanism code {} is unknown", mechanism.code()));
            }
            Ok(Ok(Wire::Delete(ScramCredentialDeletion {
                name: user.to_owned(),
                mechanism: mechanism.code(),
            })))
        }
        UserScramCredentialAlteration::Upsert {
            mechanism,
            iterations,
            password,
            ..
        } => {
            let Some(hash) = mechanism.hash() else {
                return invalid(format!("mechanism code {} is unknown", mechanism.code()));
            };
            if !ITERATIONS.contains(iterations) {
                return invalid(format!(
                    "{iterations} iterations is outside {}..={}",
                    ITERATIONS.start(),
                    ITERATIONS.end()
                ));
            }
            let salt = random_salt()?;
            let rounds = u32::try_from(*iterations).expect("checked to be positive above");
            let salted_password = hash.salted_password(password.as_bytes(), &salt, rounds);
            Ok(Ok(Wire::Upsert(ScramCredentialUpsertion {
                name: user.to_owned(),
                mechanism: mechanism.code(),
                iterations: *iterations,
                salt,
                salted_password,
            })))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_codes_round_trip() {
        for m in [
            ScramMechanism::ScramSha256,
            ScramMechanism::ScramSha512,
            ScramMechanism::Unknown(7),
        ] {
            assert_eq!(ScramMechanism::from_code(m.code()), m);
        }
        assert_eq!(ScramMechanism::ScramSha512.to_string(), "SCRAM-SHA-512");
    }

    #[test]
    fn an_upsertion_sends_hi_of_the_password_with_a_fresh_salt() {
        let alteration =
            UserScramCredentialAlteration::upsert("alice", ScramMechanism::ScramSha256, 4096, "pw");
        let (Wire::Upsert(a), Wire::Upsert(b)) = (
            to_wire(&alteration).unwrap().unwrap(),
            to_wire(&alteration).unwrap().unwrap(),
        ) else {
            panic!("an upsertion")
        };
        assert_ne!(a.salt, b.salt, "each upsertion draws its own salt");
        assert_eq!(a.salt.len(), 32);
        let expected = ScramHash::Sha256.salted_password(b"pw", &a.salt, 4096);
        assert_eq!(a.salted_password, expected);
        assert_eq!((a.mechanism, a.iterations), (1, 4096));
        assert!(!String::from_utf8_lossy(&a.salted_password).contains("pw"));
    }

    #[test]
    fn bad_alterations_are_the_users_own_config_errors() {
        for alteration in [
            UserScramCredentialAlteration::upsert("a", ScramMechanism::ScramSha512, 4095, "pw"),
            UserScramCredentialAlteration::upsert("a", ScramMechanism::Unknown(9), 4096, "pw"),
            UserScramCredentialAlteration::upsert("", ScramMechanism::ScramSha256, 4096, "pw"),
            UserScramCredentialAlteration::delete("a", ScramMechanism::Unknown(0)),
        ] {
            let err = to_wire(&alteration).unwrap().err().unwrap();
            assert!(
                matches!(err, Error::Config(ref m) if m.contains("SCRAM user")),
                "{err}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_password() {
        let alteration = UserScramCredentialAlteration::upsert(
            "alice",
            ScramMechanism::ScramSha256,
            4096,
            "hunter2",
        );
        let shown = format!("{alteration:?}");
        assert!(
            shown.contains("alice") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
