//! The client side of SCRAM (RFC 5802) with SHA-256 and SHA-512 (RFC 7677):
//! pure message building and checking, no I/O.
//!
//! One exchange is three steps: [`ScramClient::client_first`] names the user
//! and a fresh nonce; [`ScramClient::client_final`] takes the broker's
//! challenge (its nonce, the salt and the iteration count) and returns the
//! proof that we know the password; [`ScramClient::verify_server_final`]
//! checks the broker's signature, which proves the broker knows the salted
//! password too, so a man in the middle cannot fake a successful login.
//!
//! Channel binding is not used (`n,,`), as in every Kafka client. Passwords
//! are used as UTF-8 without SASLprep normalisation, like the Java client;
//! ASCII passwords are unaffected. The client nonce is 24 bytes from the
//! operating system's CSPRNG (`getrandom`): the nonce must be unpredictable,
//! which a hash of the clock is not.
//!
//! # References
//! RFC 5802 (SCRAM), RFC 7677 (SCRAM-SHA-256), KIP-84 (SCRAM in Kafka).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use crate::error::{Error, Result};

/// Kafka's brokers never use fewer iterations (`ScramMechanism.minIterations`).
const MIN_ITERATIONS: u32 = 4096;
/// Bounds the work a hostile broker can make us do.
const MAX_ITERATIONS: u32 = 1_000_000;

/// The hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScramHash {
    Sha256,
    Sha512,
}

impl ScramHash {
    /// The SASL mechanism name.
    pub(crate) fn mechanism(self) -> &'static str {
        match self {
            ScramHash::Sha256 => "SCRAM-SHA-256",
            ScramHash::Sha512 => "SCRAM-SHA-512",
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
            let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
                .expect("HMAC accepts keys of any length");
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            ScramHash::Sha256 => run::<Hmac<Sha256>>(key, data),
            ScramHash::Sha512 => run::<Hmac<Sha512>>(key, data),
        }
    }

    /// `Hi()` of RFC 5802: PBKDF2 with this hash's HMAC.
    pub(crate) fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out.to_vec()
            }
            ScramHash::Sha512 => {
                let mut out = [0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out.to_vec()
            }
        }
    }
}

/// A fresh client nonce: 24 random bytes, base64 (printable, never `,`).
pub(crate) fn random_nonce() -> Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Sasl(format!("cannot draw a random SCRAM nonce: {e}")))?;
    Ok(BASE64.encode(bytes))
}

/// A fresh salt for a new credential: 32 bytes from the operating system's
/// CSPRNG (Kafka's own tools use about as many).
pub(crate) fn random_salt() -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Sasl(format!("cannot draw a random SCRAM salt: {e}")))?;
    Ok(bytes)
}

/// One SCRAM exchange, client side.
pub(crate) struct ScramClient<'a> {
    hash: ScramHash,
    password: &'a str,
    client_nonce: String,
    client_first_bare: String,
    /// Set by `client_final`: the signature the server must send back.
    expected_server_signature: Option<Vec<u8>>,
}

impl<'a> ScramClient<'a> {
    /// Starts an exchange for `username` with the given client nonce.
    pub(crate) fn new(
        hash: ScramHash,
        username: &str,
        password: &'a str,
        client_nonce: String,
    ) -> Self {
        let client_first_bare = format!("n={},r={client_nonce}", escape_username(username));
        ScramClient {
            hash,
            password,
            client_nonce,
            client_first_bare,
            expected_server_signature: None,
        }
    }

    /// The client-first-message: GS2 header `n,,` (no channel binding, no
    /// authorization identity) and the bare message.
    pub(crate) fn client_first(&self) -> Vec<u8> {
        format!("n,,{}", self.client_first_bare).into_bytes()
    }

    /// Answers the server-first-message with the client-final-message.
    pub(crate) fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>> {
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| bad_message("server-first-message is not UTF-8"))?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for (i, attribute) in server_first.split(',').enumerate() {
            match attribute.split_once('=') {
                Some(("m", _)) if i == 0 => {
                    return Err(bad_message(
                        "the broker requires a SCRAM extension this client does not know",
                    ))
                }
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = Some(v),
                Some(("i", v)) => iterations = Some(v),
                Some(("e", v)) => {
                    return Err(Error::Sasl(format!(
                        "the broker rejected the exchange: {v}"
                    )))
                }
                _ => {}
            }
        }
        let nonce = nonce.ok_or_else(|| bad_message("server-first-message has no nonce"))?;
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err(bad_message(
                "the broker's nonce does not extend ours; possible replay or tampering",
            ));
        }
        let salt = salt
            .and_then(|s| BASE64.decode(s).ok())
            .ok_or_else(|| bad_message("server-first-message has no valid salt"))?;
        let iterations: u32 = iterations
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| bad_message("server-first-message has no valid iteration count"))?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(bad_message(&format!(
                "iteration count {iterations} is outside {MIN_ITERATIONS}..={MAX_ITERATIONS}"
            )));
        }

        let hash = self.hash;
        let salted = hash.salted_password(self.password.as_bytes(), &salt, iterations);
        let client_key = hash.hmac(&salted, b"Client Key");
        let stored_key = hash.hash(&client_key);
        // "biws" is base64("n,,"): the GS2 header of client_first.
        let client_final_bare = format!("c=biws,r={nonce}");
        let auth_message = format!(
            "{},{server_first},{client_final_bare}",
            self.client_first_bare
        );
        let client_signature = hash.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hash.hmac(&salted, b"Server Key");
        self.expected_server_signature = Some(hash.hmac(&server_key, auth_message.as_bytes()));
        Ok(format!("{client_final_bare},p={}", BASE64.encode(proof)).into_bytes())
    }

    /// Checks the server-final-message: the broker must prove it knows the
    /// salted password.
    pub(crate) fn verify_server_final(&self, server_final: &[u8]) -> Result<()> {
        let expected = self
            .expected_server_signature
            .as_ref()
            .ok_or_else(|| bad_message("server-final-message before client-final-message"))?;
        let text = std::str::from_utf8(server_final)
            .map_err(|_| bad_message("server-final-message is not UTF-8"))?;
        for attribute in text.split(',') {
            match attribute.split_once('=') {
                Some(("e", reason)) => {
                    return Err(Error::Sasl(format!(
                        "the broker rejected the credentials ({reason}); check the user name \
                         and password"
                    )))
                }
                Some(("v", signature)) => {
                    let signature = BASE64
                        .decode(signature)
                        .map_err(|_| bad_message("server signature is not base64"))?;
                    return if constant_time_eq(&signature, expected) {
                        Ok(())
                    } else {
                        Err(Error::Sasl(
                            "the broker's SCRAM signature is wrong: it does not know the \
                             credentials (possible man in the middle)"
                                .into(),
                        ))
                    };
                }
                _ => {}
            }
        }
        Err(bad_message("server-final-message has no signature"))
    }
}

/// RFC 5802 `saslname`: `=` and `,` are escaped.
fn escape_username(username: &str) -> String {
    username.replace('=', "=3D").replace(',', "=2C")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn bad_message(detail: &str) -> Error {
    Error::Sasl(format!("malformed SCRAM exchange: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &str = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

    fn client(hash: ScramHash) -> ScramClient<'static> {
        ScramClient::new(hash, "user", "pencil", CLIENT_NONCE.to_owned())
    }

    #[test]
    fn sha256_exchange_matches_rfc_7677_section_3() {
        let mut c = client(ScramHash::Sha256);
        assert_eq!(c.client_first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let client_final = c.client_final(SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(client_final).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        c.verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
    }

    /// Computed independently by `tests/security_scram_vector.py` (Python's
    /// hashlib and hmac) for RFC 7677's inputs.
    #[test]
    fn sha512_exchange_matches_an_independent_python_computation() {
        let mut c = client(ScramHash::Sha512);
        let client_final = c.client_final(SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(client_final).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ=="
        );
        c.verify_server_final(
            b"v=ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw==",
        )
        .unwrap();
    }

    #[test]
    fn a_wrong_server_signature_is_rejected() {
        let mut c = client(ScramHash::Sha256);
        c.client_final(SERVER_FIRST.as_bytes()).unwrap();
        let err = c
            .verify_server_final(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap_err();
        assert!(err.to_string().contains("signature is wrong"), "{err}");
    }

    #[test]
    fn a_server_error_attribute_is_reported() {
        let mut c = client(ScramHash::Sha256);
        c.client_final(SERVER_FIRST.as_bytes()).unwrap();
        let err = c.verify_server_final(b"e=invalid-proof").unwrap_err();
        assert!(err.to_string().contains("invalid-proof"), "{err}");
    }

    #[test]
    fn a_server_nonce_that_does_not_extend_ours_is_rejected() {
        let mut c = client(ScramHash::Sha256);
        let err = c
            .client_final(b"r=someoneelse123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
            .unwrap_err();
        assert!(err.to_string().contains("nonce"), "{err}");
    }

    #[test]
    fn too_few_or_too_many_iterations_are_rejected() {
        for i in ["1", "4095", "999999999", "-1", "x"] {
            let mut c = client(ScramHash::Sha256);
            let msg = format!("r={CLIENT_NONCE}abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i={i}");
            assert!(c.client_final(msg.as_bytes()).is_err(), "i={i}");
        }
    }

    #[test]
    fn usernames_escape_comma_and_equals() {
        let c = ScramClient::new(ScramHash::Sha256, "a=b,c", "p", "n".into());
        assert_eq!(c.client_first(), b"n,,n=a=3Db=2Cc,r=n");
    }

    #[test]
    fn random_nonces_are_printable_distinct_and_comma_free() {
        let a = random_nonce().unwrap();
        let b = random_nonce().unwrap();
        assert_ne!(a, b);
        assert!(a.len() >= 24 && !a.contains(','));
        assert!(a.bytes().all(|c| c.is_ascii_graphic()));
    }

    #[test]
    fn garbage_never_panics() {
        for input in [&b""[..], b",,,", b"r=", b"\xff\xfe", b"m=ext,r=x", b"e=bad"] {
            let mut c = client(ScramHash::Sha512);
            assert!(c.client_final(input).is_err());
            assert!(c.verify_server_final(input).is_err());
        }
    }
}
