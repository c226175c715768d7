//! `-C` (a simple consumer over chosen partitions and offsets) and `-G` (a
//! balanced consumer in a group), with one output path for both.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::time::{Duration, Instant};

use kafka_sync::{Message, OffsetReset, Subscription, TopicPartition};

use crate::error::{CliError, CliResult};
use crate::format::{unescape, Output};
use crate::Ctx;

/// How long one poll waits before the loop looks at signals and ends.
const POLL: Duration = Duration::from_millis(200);
/// How often `-C` looks whether its partitions reached their stop offsets
/// while messages keep coming.
const CHECK_EVERY: Duration = Duration::from_millis(50);
/// With -e, how long a poll after the end offsets must bring nothing before
/// the run ends. Kafka's ListOffsets answers the high watermark exactly;
/// tansu 0.6.0 answers the base offset of the last batch plus one, so the
/// rest of that batch (which came in the same fetch response, already
/// prefetched) is read in this last drain.
const DRAIN: Duration = Duration::from_millis(500);

/// Where `-C` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The log start offset.
    Beginning,
    /// The high watermark.
    End,
    /// The group's committed offset (`-X group.id`).
    Stored,
    /// This offset.
    Absolute(i64),
    /// This many messages before the high watermark.
    FromEnd(i64),
    /// The first offset at or after this time (ms).
    Time(i64),
}

/// The `-o` flags of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetSpec {
    /// Where to start.
    pub start: Start,
    /// `e@TS`: stop before the first message at or after TS.
    pub end_time: Option<i64>,
}

/// Parses the `-o` values (`e@TS` may come with a start).
pub fn parse_offsets(values: &[String]) -> CliResult<OffsetSpec> {
    let mut spec = OffsetSpec {
        start: Start::Beginning,
        end_time: None,
    };
    for v in values {
        let bad = || {
            CliError::usage(format!(
                "-o `{v}`: use beginning, end, stored, N, -N, s@TIMESTAMP_MS or e@TIMESTAMP_MS"
            ))
        };
        if let Some(ts) = v.strip_prefix("e@") {
            spec.end_time = Some(ts.parse().map_err(|_| bad())?);
            continue;
        }
        spec.start = match v.as_str() {
            "beginning" | "earliest" | "smallest" => Start::Beginning,
            "end" | "latest" | "largest" => Start::End,
            "stored" => Start::Stored,
            _ => {
                if let Some(ts) = v.strip_prefix("s@") {
                    Start::Time(ts.parse().map_err(|_| bad())?)
                } else if let Some(n) = v.strip_prefix('-') {
                    Start::FromEnd(n.parse().map_err(|_| bad())?)
                } else {
                    Start::Absolute(v.parse().map_err(|_| bad())?)
                }
            }
        };
    }
    Ok(spec)
}

/// Buffered stdout that reports a closed pipe (`| head`) as "stop".
struct Out {
    w: io::BufWriter<io::Stdout>,
    buf: Vec<u8>,
    output: Output,
    unbuffered: bool,
}

impl Out {
    fn new(ctx: &Ctx) -> CliResult<Out> {
        let a = &ctx.args;
        let output = if a.json {
            if a.format.is_some() {
                return Err(CliError::usage("-J and -f cannot be used together"));
            }
            Output::Json
        } else if let Some(f) = &a.format {
            Output::format(f, a.null)?
        } else {
            let delim = unescape(a.delim.as_deref().unwrap_or("\n"))?;
            let key = a.key_delim.as_deref().map(unescape).transpose()?;
            Output::default_for(key.as_deref(), &delim, a.null)
        };
        Ok(Out {
            w: io::BufWriter::with_capacity(64 * 1024, io::stdout()),
            buf: Vec::with_capacity(4096),
            output,
            unbuffered: a.unbuffered,
        })
    }

    /// Writes one message; `Ok(false)` when stdout was closed.
    fn message(&mut self, m: &Message) -> CliResult<bool> {
        self.buf.clear();
        self.output.render(m, &mut self.buf);
        let r = self.w.write_all(&self.buf).and_then(|()| {
            if self.unbuffered {
                self.w.flush()
            } else {
                Ok(())
            }
        });
        Self::ok(r)
    }

    fn flush(&mut self) -> CliResult<bool> {
        Self::ok(self.w.flush())
    }

    fn ok(r: io::Result<()>) -> CliResult<bool> {
        match r {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(CliError::io("writing to stdout", e)),
        }
    }
}

/// Runs `-C`.
pub fn simple(ctx: &Ctx) -> CliResult<()> {
    let a = &ctx.args;
    let name = ctx.topic("-C")?;
    let spec = parse_offsets(&a.offset)?;
    let mut out = Out::new(ctx)?;
    let client = ctx.client()?;
    let kafka = |what: &str| {
        let what = what.to_string();
        move |e| CliError::kafka(&what, e)
    };
    let topic = client
        .topic(name)
        .map_err(kafka(&format!("-C -t {name}")))?;
    let all = topic.partition_ids().map_err(kafka("metadata"))?;
    let partitions = match a.partition {
        None => all,
        Some(p) if all.contains(&p) => vec![p],
        Some(p) => {
            return Err(CliError::usage(format!(
                "-p {p}: topic `{name}` has partitions 0 to {}",
                all.len().saturating_sub(1)
            )))
        }
    };
    let group = ctx.settings.get("group.id");
    if spec.start == Start::Stored && group.is_none() {
        return Err(CliError::usage(
            "-o stored reads the group's committed offsets; add -X group.id=GROUP",
        ));
    }
    let earliest = topic
        .earliest_available_offsets()
        .map_err(kafka("ListOffsets"))?;
    let latest = topic
        .latest_available_offsets()
        .map_err(kafka("ListOffsets"))?;
    let by_time = |ts: i64| -> CliResult<BTreeMap<i32, i64>> {
        let found = topic.offsets_for_time(ts).map_err(kafka("ListOffsets"))?;
        Ok(partitions
            .iter()
            .map(|p| {
                let o = found.get(p).copied().flatten().map(|o| o.offset);
                (*p, o.unwrap_or_else(|| latest.get(p).copied().unwrap_or(0)))
            })
            .collect())
    };
    let low = |p: &i32| earliest.get(p).copied().unwrap_or(0);
    let high = |p: &i32| latest.get(p).copied().unwrap_or(0);
    let start: BTreeMap<i32, Option<i64>> = match spec.start {
        Start::Beginning => partitions.iter().map(|p| (*p, Some(low(p)))).collect(),
        Start::End => partitions.iter().map(|p| (*p, Some(high(p)))).collect(),
        Start::Stored => partitions.iter().map(|p| (*p, None)).collect(),
        Start::Absolute(n) => partitions.iter().map(|p| (*p, Some(n))).collect(),
        Start::FromEnd(n) => partitions
            .iter()
            .map(|p| (*p, Some((high(p) - n).max(low(p)))))
            .collect(),
        Start::Time(ts) => by_time(ts)?
            .into_iter()
            .map(|(p, o)| (p, Some(o)))
            .collect(),
    };
    // e@TS: messages at or past `stop` are not printed. A partition with
    // no message that late is bounded by its end instead.
    let mut stop: BTreeMap<i32, i64> = BTreeMap::new();
    // -e (and e@TS past the last message): the end offsets listed now; see
    // `read_to_end` for why reaching them is not the last word.
    let mut eof: BTreeMap<i32, i64> = BTreeMap::new();
    if let Some(ts) = spec.end_time {
        let found = topic.offsets_for_time(ts).map_err(kafka("ListOffsets"))?;
        for p in &partitions {
            match found.get(p).copied().flatten() {
                Some(o) => {
                    stop.insert(*p, o.offset);
                }
                None => {
                    eof.insert(*p, high(p));
                }
            }
        }
    }
    if a.exit_at_end {
        for p in &partitions {
            if !stop.contains_key(p) {
                eof.insert(*p, high(p));
            }
        }
    }
    let mut config = ctx
        .settings
        .simple_consumer_config()?
        .partitions(partitions.clone());
    // Where a position out of the log (or a group without a committed
    // offset) goes: kcat's librdkafka default, `largest`, except for the
    // starts that ask for old messages.
    if ctx.settings.offset_reset()?.is_none() {
        config = config.auto_offset_reset(match spec.start {
            Start::Beginning | Start::FromEnd(_) => OffsetReset::Earliest,
            _ => OffsetReset::Latest,
        });
    }
    let consumer = topic
        .get_simple_consumer(config)
        .map_err(kafka("starting the consumer"))?;
    for (p, o) in &start {
        if let Some(o) = o {
            consumer
                .seek(*p, *o)
                .map_err(kafka(&format!("seeking partition {p} to {o}")))?;
        }
    }

    let limit = a.count.unwrap_or(u64::MAX);
    let mut count = 0u64;
    let bounded = !stop.is_empty() || !eof.is_empty();
    let mut done: BTreeSet<i32> = BTreeSet::new();
    let mut next_check = Instant::now();
    // Marks the partitions whose position reached their bound.
    let check_done = |done: &mut BTreeSet<i32>| {
        for p in &partitions {
            let Some(bound) = stop.get(p).or(eof.get(p)) else {
                continue;
            };
            if done.contains(p) {
                continue;
            }
            let pos = consumer.position(*p).or(start[p]);
            if let Some(pos) = pos.filter(|pos| pos >= bound) {
                done.insert(*p);
                ctx.info(&format!(
                    "Reached end of topic {name} [{p}] at offset {pos}"
                ));
                if stop.contains_key(p) {
                    consumer.pause(&[*p]);
                }
            }
        }
        bounded && done.len() == partitions.len()
    };
    let write = |out: &mut Out, m: &Message, count: &mut u64| -> CliResult<bool> {
        if stop.get(&m.partition()).is_some_and(|s| m.offset() >= *s) {
            consumer.pause(&[m.partition()]);
            return Ok(true);
        }
        *count += 1;
        out.message(m)
    };
    let mut reached_end = false;
    while count < limit && !ctx.stopped() {
        if Instant::now() >= next_check {
            next_check = Instant::now() + CHECK_EVERY;
            if check_done(&mut done) {
                reached_end = true;
                break;
            }
        }
        match consumer.consume(POLL) {
            Ok(Some(m)) => {
                if !write(&mut out, &m, &mut count)? {
                    break;
                }
            }
            Ok(None) => {
                next_check = Instant::now();
                if !out.flush()? {
                    break;
                }
            }
            Err(e) => {
                out.flush()?;
                return Err(CliError::kafka(&format!("consuming {name}"), e));
            }
        }
    }
    // After every partition reached the end offset listed at the start,
    // takes what is still prefetched until a poll of DRAIN brings nothing:
    // see DRAIN.
    if reached_end && !eof.is_empty() {
        while count < limit && !ctx.stopped() {
            match consumer.consume(DRAIN) {
                Ok(Some(m)) => {
                    if !write(&mut out, &m, &mut count)? {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(CliError::kafka(&format!("consuming {name}"), e)),
            }
        }
    }
    out.flush()?;
    consumer.close().map_err(kafka("closing the consumer"))?;
    Ok(())
}

/// Runs `-G group topic...`.
pub fn balanced(ctx: &Ctx) -> CliResult<()> {
    let a = &ctx.args;
    let group = a.group.as_deref().unwrap_or_default().to_string();
    let mut topics: Vec<String> = a.topic.clone();
    topics.extend(a.rest.iter().cloned());
    if topics.is_empty() {
        return Err(CliError::usage(
            "-G GROUP needs topics after the flags: kafka-sync -b host:port -G GROUP topic1 topic2",
        ));
    }
    let spec = parse_offsets(&a.offset)?;
    let mut config = ctx.settings.balanced_consumer_config()?;
    match spec {
        OffsetSpec { start: _, end_time: Some(_) } => {
            return Err(CliError::usage("-G: e@TIMESTAMP is for -C; use -e or -c to stop"))
        }
        OffsetSpec { start: Start::Beginning, .. } if !a.offset.is_empty() => {
            config = config.auto_offset_reset(OffsetReset::Earliest)
        }
        OffsetSpec { start: Start::End, .. } => {
            config = config.auto_offset_reset(OffsetReset::Latest)
        }
        OffsetSpec { start: Start::Beginning | Start::Stored, .. } => {}
        _ => {
            return Err(CliError::usage(
                "-G: -o takes beginning, end or stored (the offset used where the group committed none)",
            ))
        }
    }
    if !a.quiet {
        let g = group.clone();
        config = config.on_assign(move |tps| {
            eprintln!("% Group {g} rebalanced: assigned: {}", list_tps(tps));
        });
        let g = group.clone();
        config = config.on_revoke(move |tps| {
            eprintln!("% Group {g} rebalanced: revoked: {}", list_tps(tps));
        });
    }
    let mut out = Out::new(ctx)?;
    let client = ctx.client()?;
    for t in &topics {
        client
            .topic(t)
            .map_err(|e| CliError::kafka(&format!("-G topic {t}"), e))?;
    }
    let consumer = client
        .get_balanced_consumer(&group, Subscription::topics(topics.iter().cloned()), config)
        .map_err(|e| CliError::kafka(&format!("joining group {group}"), e))?;
    let limit = a.count.unwrap_or(u64::MAX);
    let mut count = 0u64;
    let mut high: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    let mut reached: BTreeSet<TopicPartition> = BTreeSet::new();
    let mut since_check = 0u32;
    let result = loop {
        if count >= limit || ctx.stopped() {
            break Ok(());
        }
        match consumer.consume(POLL) {
            Ok(Some(m)) => {
                if !out.message(&m)? {
                    break Ok(());
                }
                count += 1;
                since_check += 1;
                if since_check < 1000 {
                    continue;
                }
            }
            Ok(None) => {
                if !out.flush()? {
                    break Ok(());
                }
            }
            Err(e) => break Err(CliError::kafka(&format!("consuming in group {group}"), e)),
        }
        since_check = 0;
        if a.exit_at_end {
            let assigned = consumer.assignment();
            if assigned.is_empty() || !consumer.is_member() {
                continue;
            }
            let positions = consumer.positions();
            let mut all = true;
            for tp in &assigned {
                let hw = match high.get(tp) {
                    Some(h) => *h,
                    None => {
                        let listed = client
                            .list_offsets(&tp.topic, &[(tp.partition, -1)])
                            .map_err(|e| CliError::kafka("ListOffsets", e))?;
                        let h = listed.get(&tp.partition).map_or(0, |o| o.offset);
                        high.insert(tp.clone(), h);
                        h
                    }
                };
                let position = positions.get(tp).copied();
                let at_end = position.is_some_and(|p| p >= hw);
                if at_end && reached.insert(tp.clone()) {
                    ctx.info(&format!(
                        "Reached end of topic {} [{}] at offset {}",
                        tp.topic,
                        tp.partition,
                        position.unwrap_or(hw)
                    ));
                }
                all &= at_end;
            }
            if all {
                // What is still prefetched, as for -C -e (see DRAIN).
                loop {
                    match consumer.consume(DRAIN) {
                        Ok(Some(m)) if count < limit => {
                            if !out.message(&m)? {
                                break;
                            }
                            count += 1;
                        }
                        Ok(_) => break,
                        Err(e) => {
                            out.flush()?;
                            return Err(CliError::kafka(&format!("consuming in group {group}"), e));
                        }
                    }
                }
                break Ok(());
            }
        }
    };
    out.flush()?;
    // Commits the positions (auto commit, kcat's habit) and leaves the group.
    let closed = consumer
        .close()
        .map_err(|e| CliError::kafka(&format!("leaving group {group}"), e));
    result.and(closed)
}

fn list_tps(tps: &[TopicPartition]) -> String {
    if tps.is_empty() {
        return "(none)".into();
    }
    tps.iter()
        .map(|tp| format!("{} [{}]", tp.topic, tp.partition))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: &[&str]) -> CliResult<OffsetSpec> {
        parse_offsets(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(spec(&[]).unwrap().start, Start::Beginning);
        assert_eq!(spec(&["end"]).unwrap().start, Start::End);
        assert_eq!(spec(&["-5"]).unwrap().start, Start::FromEnd(5));
        assert_eq!(spec(&["42"]).unwrap().start, Start::Absolute(42));
        let s = spec(&["s@100", "e@200"]).unwrap();
        assert_eq!((s.start, s.end_time), (Start::Time(100), Some(200)));
        let e = spec(&["soon"]).unwrap_err();
        assert_eq!(e.code, crate::error::EXIT_USAGE);
        assert!(e.message.contains("beginning"), "{e}");
    }
}
