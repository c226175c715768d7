//! The tool's one error type, its exit codes, and how a library error maps
//! onto them.

use std::fmt;
use std::io;

use kafka_sync::{Error, TimeoutKind};

/// Exit status of a successful run.
pub const EXIT_OK: i32 = 0;
/// Exit status when an operation failed: a broker error, records not
/// delivered, an unknown topic, a file that cannot be read.
pub const EXIT_FAILED: i32 = 1;
/// Exit status for bad usage: unknown flags, bad values, settings the tool
/// does not know, a missing `-t`.
pub const EXIT_USAGE: i32 = 2;
/// Exit status when no broker could be reached (refused, timed out, TLS or
/// SASL failure at connect).
pub const EXIT_UNREACHABLE: i32 = 3;

/// A failure with the exit status it gives and a one-line message saying
/// what to do.
#[derive(Debug)]
pub struct CliError {
    /// Exit status: one of the `EXIT_*` constants.
    pub code: i32,
    /// One line, no trailing newline.
    pub message: String,
}

/// The tool's result type.
pub type CliResult<T> = Result<T, CliError>;

impl CliError {
    /// Bad usage (exit status 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    /// A failed operation (exit status 1).
    pub fn failed(message: impl Into<String>) -> Self {
        CliError {
            code: EXIT_FAILED,
            message: message.into(),
        }
    }

    /// A library error met while doing `what`, mapped to its exit status.
    pub fn kafka(what: &str, error: Error) -> Self {
        let code = match &error {
            Error::NoBrokerAvailable(_) | Error::Tls(_) | Error::Sasl(_) => EXIT_UNREACHABLE,
            Error::Timeout {
                kind: TimeoutKind::Connect,
                ..
            } => EXIT_UNREACHABLE,
            Error::Config(_) => EXIT_USAGE,
            _ => EXIT_FAILED,
        };
        let hint = match &error {
            Error::NoBrokerAvailable(_)
            | Error::Timeout {
                kind: TimeoutKind::Connect,
                ..
            } => " (brokers from -b or bootstrap.servers)",
            Error::Tls(_) => "; check -X security.protocol and -X ssl.ca.location",
            Error::Sasl(_) => "; check -X sasl.mechanism, sasl.username and sasl.password",
            _ => "",
        };
        let text = match &error {
            Error::UnknownTopic(t) => format!(
                "topic `{t}` does not exist; create it with --admin topics create {t} (or add -X allow.auto.create.topics=true if the broker allows it)"
            ),
            e => e.to_string(),
        };
        CliError {
            code,
            message: one_line(&format!("{what}: {text}{hint}")),
        }
    }

    /// An I/O error on `what` (a file, stdout).
    pub fn io(what: &str, error: io::Error) -> Self {
        CliError::failed(one_line(&format!("{what}: {error}")))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// `text` on one line: line breaks become "; ".
pub fn one_line(text: &str) -> String {
    text.trim()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_and_config_errors_have_their_codes() {
        let e = CliError::kafka("metadata", Error::NoBrokerAvailable("127.0.0.1:1".into()));
        assert_eq!(e.code, EXIT_UNREACHABLE);
        assert!(e.message.contains("-b"), "{e}");
        assert_eq!(
            CliError::kafka("x", Error::Config("bad".into())).code,
            EXIT_USAGE
        );
        assert_eq!(
            CliError::kafka("x", Error::UnknownTopic("t".into())).code,
            EXIT_FAILED
        );
    }

    #[test]
    fn messages_are_one_line() {
        assert_eq!(one_line("a\n\n  b\nc  \n"), "a; b; c");
    }
}
