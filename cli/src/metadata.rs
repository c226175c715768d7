//! `-L`: brokers, topics and partitions, in kcat's layout or as JSON (`-J`).

use kafka_sync::{ErrorCode, TopicMetadata};
use serde_json::json;

use crate::error::{CliError, CliResult};
use crate::Ctx;

/// Runs `-L`.
pub fn list(ctx: &Ctx) -> CliResult<()> {
    let client = ctx.client()?;
    let admin = client.admin();
    let kafka = |e| CliError::kafka("metadata", e);
    let topics: Vec<TopicMetadata> = if ctx.args.topic.is_empty() {
        admin.list_topics(true).map_err(kafka)?
    } else {
        let names: Vec<&str> = ctx.args.topic.iter().map(String::as_str).collect();
        let mut found = Vec::new();
        for (name, t) in admin.describe_topics(&names).map_err(kafka)? {
            found.push(t.map_err(|e| CliError::kafka(&format!("-L -t {name}"), e))?);
        }
        found
    };
    let cluster = admin.describe_cluster().map_err(kafka)?;
    let controller = cluster.controller.as_ref().map(|b| b.id);
    let bootstrap = client.config().bootstrap().join(",");
    if ctx.args.json {
        let doc = json!({
            "originating_bootstrap": bootstrap,
            "cluster_id": cluster.cluster_id,
            "query": { "topic": if ctx.args.topic.is_empty() { "*".to_string() } else { ctx.args.topic.join(",") } },
            "controllerid": controller.unwrap_or(-1),
            "brokers": cluster.brokers.iter().map(|b| json!({
                "id": b.id, "name": b.addr(), "rack": b.rack,
            })).collect::<Vec<_>>(),
            "topics": topics.iter().map(|t| json!({
                "topic": t.name,
                "internal": t.is_internal,
                "partitions": t.partitions.iter().map(|p| {
                    let mut o = json!({
                        "partition": p.id,
                        "leader": p.leader.unwrap_or(-1),
                        "replicas": p.replicas.iter().map(|r| json!({"id": r})).collect::<Vec<_>>(),
                        "isrs": p.isr.iter().map(|r| json!({"id": r})).collect::<Vec<_>>(),
                    });
                    if p.error != ErrorCode::None {
                        o["error"] = json!(p.error.name());
                    }
                    o
                }).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        println!("{doc}");
        return Ok(());
    }
    let which = if ctx.args.topic.is_empty() {
        "all topics".to_string()
    } else {
        format!("topic {}", ctx.args.topic.join(","))
    };
    println!("Metadata for {which} (from bootstrap {bootstrap}):");
    println!(" {} brokers:", cluster.brokers.len());
    for b in &cluster.brokers {
        let c = if Some(b.id) == controller {
            " (controller)"
        } else {
            ""
        };
        println!("  broker {} at {}{c}", b.id, b.addr());
    }
    println!(" {} topics:", topics.len());
    for t in &topics {
        println!(
            "  topic \"{}\" with {} partitions:",
            t.name,
            t.partitions.len()
        );
        for p in &t.partitions {
            let ids = |v: &[i32]| v.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
            let err = if p.error != ErrorCode::None {
                format!(", error {}", p.error.name())
            } else {
                String::new()
            };
            println!(
                "    partition {}, leader {}, replicas: {}, isrs: {}{err}",
                p.id,
                p.leader.unwrap_or(-1),
                ids(&p.replicas),
                ids(&p.isr)
            );
        }
    }
    Ok(())
}
