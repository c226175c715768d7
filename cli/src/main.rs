//! `kafka-sync`: a kcat-style command-line Kafka client on the kafka-sync
//! library. See `kafka-sync --help` and cli/README.md.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;
use kafka_sync::KafkaClient;

mod admin;
mod args;
mod consume;
mod error;
mod format;
mod metadata;
mod offsets;
mod produce;
mod progress;
mod settings;
mod testkit;

use args::Args;
use error::{CliError, CliResult, EXIT_OK, EXIT_USAGE};
use settings::Settings;

/// What one run needs besides its flags.
pub struct Ctx {
    /// The parsed command line.
    pub args: Args,
    /// `-F` then `-X` then `-b`.
    pub settings: Settings,
    /// Set on SIGINT / SIGTERM: loops stop, flush, commit and exit.
    pub stop: Arc<AtomicBool>,
}

impl Ctx {
    /// An informational line on stderr, kcat's `% ` prefix; none with -q.
    pub fn info(&self, line: &str) {
        if !self.args.quiet {
            eprintln!("% {line}");
        }
    }

    /// Whether a signal asked the run to stop.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// A client for `-b` / the settings.
    pub fn client(&self) -> CliResult<KafkaClient> {
        self.settings
            .client_builder()?
            .build()
            .map_err(|e| CliError::kafka("connecting", e))
    }

    /// The one `-t` topic, or a usage error naming the mode.
    pub fn topic(&self, mode: &str) -> CliResult<&str> {
        match self.args.topic.as_slice() {
            [t] => Ok(t),
            [] => Err(CliError::usage(format!(
                "{mode} needs a topic; add -t TOPIC"
            ))),
            _ => Err(CliError::usage(format!("{mode} takes one -t topic"))),
        }
    }
}

fn main() -> ExitCode {
    let code = match run() {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("% ERROR: {e}");
            e.code
        }
    };
    let _ = std::io::stdout().flush();
    ExitCode::from(code as u8)
}

/// Parses `args` with clap: help and version print and exit 0; errors
/// become one usage line (exit status 2).
pub fn parse_args<T: Parser>(args: impl IntoIterator<Item = String>, help: &str) -> CliResult<T> {
    T::try_parse_from(args).map_err(|e| {
        use clap::error::ErrorKind;
        match e.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = e.print();
                std::process::exit(
                    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        EXIT_USAGE
                    } else {
                        EXIT_OK
                    },
                );
            }
            _ => {
                let text = e.to_string();
                let first = text
                    .lines()
                    .next()
                    .unwrap_or("bad arguments")
                    .trim_start_matches("error: ")
                    .to_string();
                CliError {
                    code: EXIT_USAGE,
                    message: format!("{first}; see {help}"),
                }
            }
        }
    })
}

fn run() -> CliResult<()> {
    let args: Args = parse_args(std::env::args(), "kafka-sync --help")?;
    if args.version {
        println!("kafka-sync {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    if args.settings.iter().any(|s| s == "list") {
        print!("{}", settings::list());
        return Ok(());
    }
    let mut settings = Settings::default();
    if let Some(f) = &args.config_file {
        settings.load_file(f)?;
    }
    for pair in &args.settings {
        settings.set_pair(pair, "-X")?;
    }
    if let Some(b) = &args.brokers {
        settings.set("bootstrap.servers", b, "-b")?;
    }
    if let Some(z) = &args.codec {
        settings::parse_compression(z)?;
        settings.set("compression.type", z, "-z")?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    // The first SIGINT / SIGTERM asks the run to stop cleanly (flush, commit,
    // leave the group); a second one ends the process at once, exit status 130.
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .map_err(|e| CliError::io("installing the signal handler", e))?;
    }
    let ctx = Ctx {
        args,
        settings,
        stop,
    };
    let a = &ctx.args;
    let modes = [
        a.consume,
        a.produce,
        a.metadata,
        a.query,
        a.group.is_some(),
        a.admin.is_some(),
        a.testkit,
        a.mock.is_some(),
    ];
    match modes.iter().filter(|m| **m).count() {
        0 => auto_mode(&ctx),
        1 if a.consume => consume::simple(&ctx),
        1 if a.produce => produce::run(&ctx),
        1 if a.metadata => metadata::list(&ctx),
        1 if a.query => offsets::query(&ctx),
        1 if a.group.is_some() => consume::balanced(&ctx),
        1 if a.admin.is_some() => admin::run(&ctx),
        1 => testkit::run(&ctx),
        _ => Err(CliError::usage(
            "give one mode: -C, -P, -L, -Q, -G, --admin, --testkit or --mock",
        )),
    }
}

/// kcat without a mode: producer when stdin is piped, consumer otherwise.
fn auto_mode(ctx: &Ctx) -> CliResult<()> {
    if ctx.args.topic.is_empty() {
        return Err(CliError::usage(
            "give a mode (-C, -P, -L, -Q, -G, --admin, --testkit, --mock); see kafka-sync --help",
        ));
    }
    if std::io::stdin().is_terminal() {
        ctx.info("Auto-selecting Consumer mode (use -P or -C to override)");
        consume::simple(ctx)
    } else {
        ctx.info("Auto-selecting Producer mode (use -P or -C to override)");
        produce::run(ctx)
    }
}
