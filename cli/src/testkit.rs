//! `--testkit` and `--mock N`: a throwaway broker (tansu) or librdkafka's
//! mock cluster, for trying the other modes out. Prints the bootstrap on
//! stdout and runs until SIGINT or SIGTERM.

use std::io::Write;
use std::thread;
use std::time::Duration;

use kafka_sync::testkit::{Broker, MockCluster};
use kafka_sync::KafkaClient;

use crate::error::{CliError, CliResult};
use crate::Ctx;

/// One `--create topic:partitions` or `topic:partitions:replication`.
fn parse_create(v: &str) -> CliResult<(String, i32, i32)> {
    let bad = || {
        CliError::usage(format!(
            "--create `{v}`: write topic:partitions[:replication]"
        ))
    };
    let mut it = v.split(':');
    let topic = it.next().filter(|t| !t.is_empty()).ok_or_else(bad)?;
    let partitions = it
        .next()
        .and_then(|p| p.parse().ok())
        .filter(|p| *p > 0)
        .ok_or_else(bad)?;
    let replication = match it.next() {
        None => 1,
        Some(r) => r.parse().ok().filter(|r| *r > 0).ok_or_else(bad)?,
    };
    if it.next().is_some() {
        return Err(bad());
    }
    Ok((topic.to_string(), partitions, replication))
}

/// Where the testkit keeps the broker binary and the Python peers when the
/// tool is not run from a cargo target directory (an installed binary):
/// `$XDG_CACHE_HOME/kafka-sync/cli` or `~/.cache/kafka-sync/cli`, rather
/// than the testkit's fallback, `./target` under whatever the current
/// directory is. Set through `CARGO_TARGET_DIR`, which the testkit reads.
fn choose_cache_dir() {
    let set = std::env::var_os("CARGO_TARGET_DIR").is_some_and(|v| !v.is_empty());
    let in_target = std::env::current_exe().ok().is_some_and(|exe| {
        exe.ancestors()
            .skip(1)
            .any(|d| d.join("CACHEDIR.TAG").is_file() || d.file_name() == Some("target".as_ref()))
    });
    if set || in_target {
        return;
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")));
    if let Some(base) = base.filter(|b| b.is_absolute()) {
        // Single-threaded here: no other thread reads the environment yet.
        std::env::set_var("CARGO_TARGET_DIR", base.join("kafka-sync").join("cli"));
    }
}

/// Runs `--testkit` or `--mock N`.
pub fn run(ctx: &Ctx) -> CliResult<()> {
    choose_cache_dir();
    let creates: Vec<_> = ctx
        .args
        .create
        .iter()
        .map(|c| parse_create(c))
        .collect::<CliResult<_>>()?;
    let start = |e| CliError::kafka("starting the test broker", e);
    // Kept alive until the end of the function: dropping stops it.
    let (bootstrap, _broker, _cluster) = if let Some(n) = ctx.args.mock {
        if n < 1 {
            return Err(CliError::usage("--mock N: give at least 1 broker"));
        }
        let cluster = MockCluster::start(n).map_err(start)?;
        for (topic, partitions, replication) in &creates {
            cluster
                .create_topic(topic, *partitions, *replication)
                .map_err(|e| CliError::kafka(&format!("--create {topic}"), e))?;
        }
        ctx.info(&format!(
            "librdkafka mock cluster, {n} brokers; for -G add -X api.version.caps=mock; stop with Ctrl-C"
        ));
        (cluster.bootstrap().to_string(), None, Some(cluster))
    } else {
        let broker = Broker::builder().force_local(true).start().map_err(start)?;
        let bootstrap = broker.bootstrap();
        if !creates.is_empty() {
            let client = KafkaClient::new(&bootstrap).map_err(start)?;
            for (topic, partitions, replication) in &creates {
                client
                    .create_topic(topic, *partitions, *replication as i16)
                    .map_err(|e| CliError::kafka(&format!("--create {topic}"), e))?;
            }
        }
        ctx.info(&format!(
            "tansu {} broker, in-memory storage; stop with Ctrl-C",
            kafka_sync::testkit::TANSU_VERSION
        ));
        (bootstrap, Some(broker), None)
    };
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{bootstrap}")
        .and_then(|()| stdout.flush())
        .map_err(|e| CliError::io("writing to stdout", e))?;
    while !ctx.stopped() {
        thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_parse() {
        assert_eq!(parse_create("t:3").unwrap(), ("t".into(), 3, 1));
        assert_eq!(parse_create("t:3:2").unwrap(), ("t".into(), 3, 2));
        assert!(parse_create("t").is_err());
        assert!(parse_create("t:0").is_err());
        assert!(parse_create("t:1:1:1").is_err());
    }
}
