//! The command line, kcat's flags first.

use clap::{ArgAction, Parser};

/// Examples shown at the end of `--help`.
const EXAMPLES: &str = "\
Examples:
  kafka-sync --testkit                      start a throwaway broker, print its bootstrap
  kafka-sync -b 127.0.0.1:9092 -L           list brokers, topics and partitions
  kafka-sync -b 127.0.0.1:9092 -L -J        the same, as JSON
  seq 10 | kafka-sync -b 127.0.0.1:9092 -P -t events
  kafka-sync -b 127.0.0.1:9092 -P -t events -K: -H source=cli -l data.txt
  kafka-sync -b 127.0.0.1:9092 -C -t events -o beginning -e
  kafka-sync -b 127.0.0.1:9092 -C -t events -o -5 -e -f '%p:%o %k=%s\\n'
  kafka-sync -b 127.0.0.1:9092 -C -t events -o s@1700000000000 -c 10 -J
  kafka-sync -b 127.0.0.1:9092 -G billing events orders
  kafka-sync -b 127.0.0.1:9092 -Q -t events:0:1700000000000
  kafka-sync -b 127.0.0.1:9092 --admin topics create events --partitions 3
  kafka-sync -b 127.0.0.1:9092 --admin groups lag billing

Format tokens (-f): %t topic  %p partition  %o offset  %k key  %K key length
  %s value  %S value length  %R value length as 4-byte big-endian  %T timestamp (ms)
  %h headers (name=value,...)  %% percent. Escapes in -f, -D, -K: \\n \\r \\t \\0 \\\\ \\xHH.

Exit codes: 0 success; 1 an operation failed (broker error, records not
delivered, unknown topic, unreadable file); 2 bad usage (unknown flag or
setting, bad value); 3 no broker reachable (refused, timed out, TLS or SASL).";

/// `--help` headings.
const MODES: &str = "Modes";
const BOTH: &str = "Producer and consumer";
const CONSUMER: &str = "Consumer";

/// A kcat-style Kafka command-line client, built on the kafka-sync library.
#[derive(Parser, Debug, Default)]
#[command(
    name = "kafka-sync",
    version,
    about = "kcat-style Kafka client: produce, consume, metadata, offsets and admin, in pure Rust",
    after_help = EXAMPLES,
    disable_version_flag = true,
)]
pub struct Args {
    /// Consumer mode: read -t topic, print messages to stdout.
    #[arg(short = 'C', help_heading = MODES)]
    pub consume: bool,
    /// Producer mode: read messages from stdin or files, write them to -t topic.
    #[arg(short = 'P', help_heading = MODES)]
    pub produce: bool,
    /// Metadata mode: brokers, topics, partitions (all topics, or -t topic).
    #[arg(short = 'L', help_heading = MODES)]
    pub metadata: bool,
    /// Offsets-for-times mode: -t topic:partition:timestamp (ms; -1 end, -2 beginning).
    #[arg(short = 'Q', help_heading = MODES)]
    pub query: bool,
    /// Balanced consumer mode: join GROUP and consume the topics given after the flags.
    #[arg(short = 'G', value_name = "GROUP", help_heading = MODES)]
    pub group: Option<String>,
    /// Admin mode: topics, configs, groups, cluster (`--admin help` for more).
    #[arg(long = "admin", num_args = 0.., allow_hyphen_values = true,
          value_name = "ARGS", help_heading = MODES)]
    pub admin: Option<Vec<String>>,
    /// Start a throwaway broker (tansu), print its bootstrap, run until Ctrl-C.
    #[arg(long = "testkit", help_heading = MODES)]
    pub testkit: bool,
    /// Start librdkafka's mock cluster with N brokers, print its bootstrap, run until Ctrl-C.
    #[arg(long = "mock", value_name = "N", help_heading = MODES)]
    pub mock: Option<i32>,
    /// With --testkit or --mock: topics to create before printing.
    #[arg(long = "create", value_name = "TOPIC:PARTITIONS", action = ArgAction::Append,
          help_heading = MODES,
          help = "With --testkit or --mock: create TOPIC:PARTITIONS[:REPLICATION] before printing")]
    pub create: Vec<String>,

    /// Bootstrap brokers.
    #[arg(
        short = 'b',
        value_name = "BROKERS",
        help = "Bootstrap brokers, host:port[,host:port...]"
    )]
    pub brokers: Option<String>,
    /// A client setting by its librdkafka/Java name (repeatable); `-X list` lists them.
    #[arg(short = 'X', value_name = "KEY=VALUE", action = ArgAction::Append)]
    pub settings: Vec<String>,
    /// A file of key=value settings, read before -X.
    #[arg(short = 'F', value_name = "FILE")]
    pub config_file: Option<String>,
    /// Topic (for -Q: topic:partition:timestamp, repeatable).
    #[arg(short = 't', value_name = "TOPIC", action = ArgAction::Append)]
    pub topic: Vec<String>,
    /// Partition (-P: write to it; -C: read only it).
    #[arg(short = 'p', value_name = "PARTITION", allow_negative_numbers = true)]
    pub partition: Option<i32>,
    /// JSON output (-C, -G: one envelope per message; -L, -Q, --admin: one document).
    #[arg(short = 'J')]
    pub json: bool,

    /// Key delimiter: -P splits each message at its first one; -C prints key, delimiter, value.
    #[arg(short = 'K', value_name = "DELIM", help_heading = BOTH)]
    pub key_delim: Option<String>,
    /// Message delimiter (default: newline).
    #[arg(short = 'D', value_name = "DELIM", help_heading = BOTH)]
    pub delim: Option<String>,
    /// Stop after COUNT messages.
    #[arg(short = 'c', value_name = "COUNT", help_heading = BOTH)]
    pub count: Option<u64>,
    /// -P: a header name=value on every message (repeatable).
    #[arg(short = 'H', value_name = "NAME=VALUE", action = ArgAction::Append,
          help_heading = BOTH)]
    pub headers: Vec<String>,
    /// -P: compression codec: none, gzip, snappy, lz4, zstd.
    #[arg(short = 'z', value_name = "CODEC", help_heading = BOTH)]
    pub codec: Option<String>,
    /// -P: read each file as delimited messages (default: one file, one message, as kcat).
    #[arg(short = 'l', help_heading = BOTH)]
    pub lines: bool,
    /// Null keys and values: -C prints them as NULL; -P sends empty ones as null.
    #[arg(short = 'Z', help_heading = BOTH)]
    pub null: bool,
    /// -P: files to read (default: stdin). -G: the topics to consume.
    #[arg(value_name = "FILE|TOPIC")]
    pub rest: Vec<String>,

    /// Start offset: beginning, end, stored, N, -N (N before end), s@TS; e@TS stops at TS (ms).
    #[arg(short = 'o', value_name = "OFFSET", action = ArgAction::Append,
          allow_hyphen_values = true, help_heading = CONSUMER)]
    pub offset: Vec<String>,
    /// Exit when every partition has been read to its end.
    #[arg(short = 'e', help_heading = CONSUMER)]
    pub exit_at_end: bool,
    /// Output format, kcat's tokens (see below).
    #[arg(short = 'f', value_name = "FORMAT", help_heading = CONSUMER)]
    pub format: Option<String>,
    /// Unbuffered output: flush stdout after every message.
    #[arg(short = 'u', help_heading = CONSUMER)]
    pub unbuffered: bool,

    /// Quiet: no informational messages on stderr (errors still).
    #[arg(short = 'q')]
    pub quiet: bool,
    /// Verbose: more informational messages on stderr.
    #[arg(short = 'v', action = ArgAction::Count)]
    pub verbose: u8,
    /// Print the version.
    #[arg(short = 'V', long = "version")]
    pub version: bool,
}
