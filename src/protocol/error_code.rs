//! Kafka's error codes as an enum with a catch-all for codes this crate does
//! not know yet.
//!
//! Each code carries its protocol name, whether the protocol guide marks it
//! retriable, and its description. Adding a code is one line in the table.
//!
//! # References
//! Kafka protocol guide, "Error Codes".

macro_rules! error_codes {
    ($( $variant:ident = $code:literal, $name:literal, $retriable:literal, $desc:literal; )*) => {
        /// A Kafka protocol error code. `None` (0) means success.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(
                #[doc = $desc]
                $variant,
            )*
            /// A code this crate does not know.
            Unknown(i16),
        }

        impl ErrorCode {
            /// Maps a wire code to its variant (`Unknown` for codes not in the table).
            pub fn from_code(code: i16) -> Self {
                match code {
                    $( $code => ErrorCode::$variant, )*
                    other => ErrorCode::Unknown(other),
                }
            }

            /// The wire code.
            pub fn code(self) -> i16 {
                match self {
                    $( ErrorCode::$variant => $code, )*
                    ErrorCode::Unknown(c) => c,
                }
            }

            /// The protocol guide's name, e.g. `NOT_LEADER_OR_FOLLOWER`.
            pub fn name(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $name, )*
                    ErrorCode::Unknown(_) => "UNKNOWN_ERROR_CODE",
                }
            }

            /// Whether the protocol guide marks the error retriable.
            pub fn is_retriable(self) -> bool {
                match self {
                    $( ErrorCode::$variant => $retriable, )*
                    ErrorCode::Unknown(_) => false,
                }
            }

            /// The protocol guide's description.
            pub fn description(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $desc, )*
                    ErrorCode::Unknown(_) => "an error code this client does not know; check the broker's logs",
                }
            }

            /// Every known code, in table order.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];
        }
    };
}

error_codes! {
    UnknownServerError = -1, "UNKNOWN_SERVER_ERROR", false, "The server experienced an unexpected error when processing the request.";
    None = 0, "NONE", false, "No error.";
    OffsetOutOfRange = 1, "OFFSET_OUT_OF_RANGE", false, "The requested offset is not within the range of offsets maintained by the server.";
    CorruptMessage = 2, "CORRUPT_MESSAGE", true, "This message has failed its CRC checksum, exceeds the valid size, has a null key for a compacted topic, or is otherwise corrupt.";
    UnknownTopicOrPartition = 3, "UNKNOWN_TOPIC_OR_PARTITION", true, "This server does not host this topic-partition.";
    LeaderNotAvailable = 5, "LEADER_NOT_AVAILABLE", true, "There is no leader for this topic-partition as we are in the middle of a leadership election.";
    NotLeaderOrFollower = 6, "NOT_LEADER_OR_FOLLOWER", true, "For requests intended only for the leader, this error indicates that the broker is not the current leader.";
    RequestTimedOut = 7, "REQUEST_TIMED_OUT", true, "The request timed out.";
    TopicAlreadyExists = 36, "TOPIC_ALREADY_EXISTS", false, "Topic with this name already exists.";
    UnsupportedVersion = 35, "UNSUPPORTED_VERSION", false, "The version of API is not supported.";
}

impl ErrorCode {
    /// Whether this is `None`, i.e. success.
    pub fn is_ok(self) -> bool {
        self == ErrorCode::None
    }
}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> Self {
        ErrorCode::from_code(code)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_round_trips_and_unknown_codes_are_kept() {
        for &c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.code()), c);
        }
        assert_eq!(ErrorCode::from_code(30_000), ErrorCode::Unknown(30_000));
        assert_eq!(ErrorCode::Unknown(30_000).code(), 30_000);
    }
}
