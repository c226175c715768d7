//! `-P`: messages from stdin or files to a topic, with delivery reports
//! counted so that the exit status says whether everything was written.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use kafka_sync::{Error, Producer, Record};

use crate::error::{CliError, CliResult};
use crate::format::unescape;
use crate::progress::Progress;
use crate::Ctx;

/// Where messages come from.
enum Source {
    Stdin,
    File(String),
}

/// Delivery bookkeeping.
#[derive(Default)]
struct Tally {
    accepted: u64,
    refused: u64,
    delivered: u64,
    failed: u64,
    first_error: Option<String>,
}

impl Tally {
    fn note(&mut self, report: kafka_sync::DeliveryReport) {
        match report.result {
            Ok(_) => self.delivered += 1,
            Err(e) => {
                self.failed += 1;
                self.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }

    fn drain(&mut self, producer: &Producer) {
        while let Ok(r) = producer.delivery_reports().try_recv() {
            self.note(r);
        }
    }
}

/// What each message gets.
struct Shape {
    delim: Vec<u8>,
    key_delim: Option<Vec<u8>>,
    headers: Vec<(String, Vec<u8>)>,
    partition: Option<i32>,
    null_empty: bool,
}

impl Shape {
    fn record(&self, raw: &[u8]) -> Record {
        let (key, value) = match &self.key_delim {
            Some(kd) => match find(raw, kd) {
                Some(at) => (Some(&raw[..at]), &raw[at + kd.len()..]),
                None => (None, raw),
            },
            None => (None, raw),
        };
        let mut r = if self.null_empty && value.is_empty() {
            Record::default()
        } else {
            Record::new(value)
        };
        if let Some(k) = key {
            if !(self.null_empty && k.is_empty()) {
                r = r.key(k);
            }
        }
        for (name, value) in &self.headers {
            r = r.header(name.clone(), value.clone());
        }
        if let Some(p) = self.partition {
            r = r.partition(p);
        }
        r
    }
}

/// Runs `-P`.
pub fn run(ctx: &Ctx) -> CliResult<()> {
    let a = &ctx.args;
    let topic = ctx.topic("-P")?;
    let delim = unescape(a.delim.as_deref().unwrap_or("\n"))?;
    if delim.is_empty() {
        return Err(CliError::usage("-D: the message delimiter cannot be empty"));
    }
    let key_delim = a.key_delim.as_deref().map(unescape).transpose()?;
    if key_delim.as_ref().is_some_and(Vec::is_empty) {
        return Err(CliError::usage("-K: the key delimiter cannot be empty"));
    }
    let mut headers = Vec::new();
    for h in &a.headers {
        let Some((name, value)) = h.split_once('=') else {
            return Err(CliError::usage(format!(
                "-H `{h}`: write a header as name=value"
            )));
        };
        headers.push((name.to_string(), unescape(value)?));
    }
    let partition = match a.partition {
        None | Some(-1) => None,
        Some(p) if p >= 0 => Some(p),
        Some(p) => {
            return Err(CliError::usage(format!(
                "-p {p}: give a partition number, or -1 for the partitioner's choice"
            )))
        }
    };
    let shape = Shape {
        delim,
        key_delim,
        headers,
        partition,
        null_empty: a.null,
    };
    let sources: Vec<Source> = if a.rest.is_empty() {
        vec![Source::Stdin]
    } else {
        a.rest.iter().cloned().map(Source::File).collect()
    };
    for s in &sources {
        if let Source::File(path) = s {
            File::open(path).map_err(|e| {
                CliError::failed(format!("cannot open `{path}` ({e}); check the path"))
            })?;
        }
    }
    // Every input must be a regular file for the bar to know its total.
    let total = total_size(&sources);
    let progress = if io::stderr().is_terminal() && !a.quiet {
        total.map(Progress::new)
    } else {
        None
    };

    let client = ctx.client()?;
    // Fail early and clearly on a topic that is not there.
    let meta = client
        .topic(topic)
        .map_err(|e| CliError::kafka(&format!("-P -t {topic}"), e))?;
    if let Some(p) = partition {
        let n = meta.partitions().len() as i32;
        if p >= n {
            return Err(CliError::usage(format!(
                "-p {p}: topic `{topic}` has partitions 0 to {}",
                n - 1
            )));
        }
    }
    let config = ctx.settings.producer_config()?.delivery_reports(true);
    let producer = client
        .get_producer(config)
        .map_err(|e| CliError::kafka("starting the producer", e))?;

    let mut tally = Tally::default();
    let limit = a.count.unwrap_or(u64::MAX);
    let mut bytes_read = 0u64;
    let mut send_error: Option<Error> = None;
    'sources: for source in &sources {
        if tally.accepted >= limit || ctx.stopped() {
            break;
        }
        let (name, reader): (String, Box<dyn Read>) = match source {
            Source::Stdin => ("stdin".into(), Box::new(io::stdin().lock())),
            Source::File(path) => (
                path.clone(),
                Box::new(File::open(path).map_err(|e| {
                    CliError::failed(format!("cannot open `{path}` ({e}); check the path"))
                })?),
            ),
        };
        let mut reader = BufReader::with_capacity(256 * 1024, reader);
        let whole_file = matches!(source, Source::File(_)) && !a.lines;
        let mut buf = Vec::new();
        loop {
            if tally.accepted >= limit || ctx.stopped() {
                break 'sources;
            }
            buf.clear();
            let (got, consumed) = if whole_file {
                let n = reader
                    .read_to_end(&mut buf)
                    .map_err(|e| CliError::io(&format!("reading {name}"), e))?;
                (true, n as u64)
            } else {
                read_record(&mut reader, &shape.delim, &mut buf)
                    .map_err(|e| CliError::io(&format!("reading {name}"), e))?
            };
            if !got {
                break;
            }
            bytes_read += consumed;
            // kcat skips empty messages (an empty line, an empty file).
            if buf.is_empty() {
                if whole_file {
                    break;
                }
                continue;
            }
            match producer.send(topic, shape.record(&buf)) {
                Ok(()) => tally.accepted += 1,
                // This record is refused (too large, ...): count it, go on.
                Err(e @ Error::Config(_)) => {
                    tally.refused += 1;
                    tally.first_error.get_or_insert_with(|| e.to_string());
                }
                // The producer cannot go on.
                Err(e) => {
                    send_error = Some(e);
                    break 'sources;
                }
            }
            tally.drain(&producer);
            if let Some(p) = &progress {
                p.update(tally.accepted, bytes_read);
            }
            if whole_file {
                break;
            }
        }
    }

    let wait = ctx
        .settings
        .get("delivery.timeout.ms")
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(120), Duration::from_millis)
        + Duration::from_secs(5);
    let _ = producer.flush(wait);
    let deadline = Instant::now() + wait;
    while tally.delivered + tally.failed < tally.accepted {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match producer.delivery_reports().recv_timeout(left) {
            Ok(r) => tally.note(r),
            Err(_) => break,
        }
    }
    if let Some(p) = progress {
        p.finish(tally.delivered, bytes_read);
    }
    let missing = tally.accepted - tally.delivered + tally.refused;
    let read = tally.accepted + tally.refused;
    if let Some(e) = send_error {
        let mut err = CliError::kafka(
            &format!(
                "producing to `{topic}` stopped at record {} ({} delivered, {missing} not)",
                read + 1,
                tally.delivered
            ),
            e,
        );
        err.code = err.code.max(crate::error::EXIT_FAILED);
        return Err(err);
    }
    if missing > 0 {
        let why = tally
            .first_error
            .unwrap_or_else(|| "no delivery report before the timeout".into());
        return Err(CliError::failed(crate::error::one_line(&format!(
            "{missing} of {read} records not delivered to `{topic}`; the first error: {why}"
        ))));
    }
    if a.verbose > 0 {
        ctx.info(&format!("{} records delivered to {topic}", tally.delivered));
    }
    Ok(())
}

/// The summed size of the inputs when every one is a regular file.
fn total_size(sources: &[Source]) -> Option<u64> {
    let mut total = 0;
    for s in sources {
        let meta = match s {
            Source::Stdin => {
                let fd = io::stdin().as_fd().try_clone_to_owned().ok()?;
                File::from(fd).metadata().ok()?
            }
            Source::File(path) => std::fs::metadata(path).ok()?,
        };
        if !meta.is_file() {
            return None;
        }
        total += meta.len();
    }
    Some(total)
}

/// Reads one message up to `delim` (not included) into `buf`; answers
/// whether one was read (false at end of input with nothing left) and how
/// many bytes were consumed.
fn read_record(r: &mut impl BufRead, delim: &[u8], buf: &mut Vec<u8>) -> io::Result<(bool, u64)> {
    let last = *delim.last().expect("non-empty delimiter");
    let mut consumed = 0u64;
    loop {
        let n = r.read_until(last, buf)?;
        consumed += n as u64;
        if n == 0 {
            return Ok((!buf.is_empty(), consumed));
        }
        if buf.ends_with(delim) {
            buf.truncate(buf.len() - delim.len());
            return Ok((true, consumed));
        }
        if buf.last() != Some(&last) {
            // End of input without a final delimiter.
            return Ok((true, consumed));
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &[u8], delim: &[u8]) -> Vec<Vec<u8>> {
        let mut r = io::Cursor::new(input.to_vec());
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            let (got, _) = read_record(&mut r, delim, &mut buf).unwrap();
            if !got {
                return out;
            }
            out.push(buf);
        }
    }

    #[test]
    fn delimiters_split_messages() {
        assert_eq!(split(b"a\nb\n", b"\n"), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(
            split(b"a\n\nb", b"\n"),
            vec![b"a".to_vec(), vec![], b"b".to_vec()]
        );
        assert_eq!(
            split(b"a;;b;c;;", b";;"),
            vec![b"a".to_vec(), b"b;c".to_vec()]
        );
        assert!(split(b"", b"\n").is_empty());
    }

    #[test]
    fn key_delimiter_splits_at_first() {
        let shape = Shape {
            delim: b"\n".to_vec(),
            key_delim: Some(b":".to_vec()),
            headers: vec![("h".into(), b"v".to_vec())],
            partition: Some(1),
            null_empty: true,
        };
        let r = shape.record(b"k:v:w");
        assert_eq!(r.get_key(), Some(&b"k"[..]));
        assert_eq!(r.get_value(), Some(&b"v:w"[..]));
        assert_eq!(r.get_partition(), Some(1));
        let r = shape.record(b"novalue:");
        assert_eq!(r.get_value(), None);
        let r = shape.record(b"nokey");
        assert_eq!(r.get_key(), None);
    }
}
