//! `-Q`: offsets for times, `-t topic:partition:timestamp` (kcat's form).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::error::{CliError, CliResult};
use crate::Ctx;

/// One `-t topic:partition:timestamp`.
#[derive(Debug, PartialEq, Eq)]
struct Query {
    topic: String,
    partition: i32,
    timestamp: i64,
}

fn parse(v: &str) -> CliResult<Query> {
    let bad = || {
        CliError::usage(format!(
            "-Q -t `{v}`: write topic:partition:timestamp (ms since the epoch; -1 for the end, -2 for the beginning)"
        ))
    };
    let mut it = v.rsplitn(3, ':');
    let ts = it.next().ok_or_else(bad)?;
    let p = it.next().ok_or_else(bad)?;
    let topic = it.next().filter(|t| !t.is_empty()).ok_or_else(bad)?;
    Ok(Query {
        topic: topic.to_string(),
        partition: p.parse().ok().filter(|p| *p >= 0).ok_or_else(bad)?,
        timestamp: ts.parse().ok().filter(|t| *t >= -2).ok_or_else(bad)?,
    })
}

/// Runs `-Q`.
pub fn query(ctx: &Ctx) -> CliResult<()> {
    if ctx.args.topic.is_empty() {
        return Err(CliError::usage(
            "-Q needs -t topic:partition:timestamp (repeatable)",
        ));
    }
    let queries: Vec<Query> = ctx
        .args
        .topic
        .iter()
        .map(|t| parse(t))
        .collect::<CliResult<_>>()?;
    let client = ctx.client()?;
    let mut by_topic: BTreeMap<&str, Vec<(i32, i64)>> = BTreeMap::new();
    for q in &queries {
        by_topic
            .entry(&q.topic)
            .or_default()
            .push((q.partition, q.timestamp));
    }
    let mut results: Vec<(String, i32, i64)> = Vec::new();
    for (topic, list) in by_topic {
        // One request per query: the answers are keyed by partition, so two
        // times for one partition cannot share a request.
        for (p, ts) in list {
            let listed = client
                .list_offsets(topic, &[(p, ts)])
                .map_err(|e| CliError::kafka(&format!("-Q for {topic} [{p}]"), e))?;
            // A time no record reaches answers -1, as Kafka brokers do (some
            // answer the high watermark with no timestamp instead).
            let offset = listed.get(&p).map_or(-1, |o| {
                if ts >= 0 && o.timestamp < 0 {
                    -1
                } else {
                    o.offset
                }
            });
            results.push((topic.to_string(), p, offset));
        }
    }
    if ctx.args.json {
        let mut doc = Map::new();
        for (topic, p, offset) in &results {
            let entry = doc
                .entry(topic.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            entry[p.to_string()] = json!({"topic": topic, "partition": p, "offset": offset});
        }
        println!("{}", Value::Object(doc));
    } else {
        for (topic, p, offset) in &results {
            println!("{topic} [{p}] offset {offset}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse() {
        let q = parse("a:b:3:1700").unwrap();
        assert_eq!(
            (q.topic.as_str(), q.partition, q.timestamp),
            ("a:b", 3, 1700)
        );
        assert_eq!(parse("t:0:-1").unwrap().timestamp, -1);
        assert!(parse("t:0").is_err());
        assert!(parse("t:x:1")
            .unwrap_err()
            .message
            .contains("topic:partition:timestamp"));
        assert!(parse(":0:1").is_err());
    }
}
