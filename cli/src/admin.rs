//! `--admin`: subcommands over the library's admin API (topics, configs,
//! consumer groups with lag, cluster), as text or JSON (`-J`).

use clap::{Parser, Subcommand};
use kafka_sync::admin::{AlterConfigOp, ConfigResource, ItemResult};
use kafka_sync::{Admin, NewTopic};
use serde_json::{json, Map, Value};

use crate::error::{CliError, CliResult, EXIT_FAILED};
use crate::Ctx;

/// The arguments after `--admin`.
#[derive(Parser, Debug)]
#[command(
    name = "kafka-sync --admin",
    no_binary_name = true,
    about = "Admin subcommands (after -b and the other flags; -J for JSON)",
    after_help = "Examples:
  kafka-sync -b 127.0.0.1:9092 --admin topics create events --partitions 3 --config retention.ms=3600000
  kafka-sync -b 127.0.0.1:9092 --admin topics describe events
  kafka-sync -b 127.0.0.1:9092 --admin configs set topic events retention.ms=600000
  kafka-sync -b 127.0.0.1:9092 --admin groups lag billing
  kafka-sync -b 127.0.0.1:9092 -J --admin groups describe billing"
)]
struct AdminArgs {
    /// JSON output.
    #[arg(short = 'J', global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Topics: list, describe, create, delete, add partitions.
    #[command(subcommand)]
    Topics(Topics),
    /// Configs of a topic or a broker: describe, set, delete.
    #[command(subcommand)]
    Configs(Configs),
    /// Consumer groups: list, describe, lag, delete.
    #[command(subcommand)]
    Groups(Groups),
    /// The cluster: id, controller, brokers.
    Cluster,
}

#[derive(Subcommand, Debug)]
enum Topics {
    /// Every topic with its partition count.
    List {
        /// Internal topics too (__consumer_offsets, ...).
        #[arg(long)]
        internal: bool,
    },
    /// Partitions, leaders, replicas of these topics.
    Describe {
        #[arg(required = true)]
        topics: Vec<String>,
    },
    /// Create a topic.
    Create {
        topic: String,
        #[arg(long, default_value_t = 1)]
        partitions: i32,
        #[arg(long, default_value_t = 1)]
        replication: i16,
        /// A topic config name=value (repeatable).
        #[arg(long = "config", value_name = "NAME=VALUE")]
        configs: Vec<String>,
    },
    /// Delete topics.
    Delete {
        #[arg(required = true)]
        topics: Vec<String>,
    },
    /// Grow a topic to TOTAL partitions.
    AddPartitions { topic: String, total: i32 },
}

#[derive(Subcommand, Debug)]
enum Configs {
    /// Show the configs of `topic NAME` or `broker ID`.
    Describe { kind: String, name: String },
    /// Set name=value pairs.
    Set {
        kind: String,
        name: String,
        #[arg(required = true, value_name = "NAME=VALUE")]
        pairs: Vec<String>,
    },
    /// Remove settings (back to their defaults).
    Delete {
        kind: String,
        name: String,
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum Groups {
    /// Every consumer group.
    List,
    /// State, protocol and members of these groups.
    Describe {
        #[arg(required = true)]
        groups: Vec<String>,
    },
    /// Committed offsets, high watermarks and lag of a group.
    Lag { group: String },
    /// Delete these (empty) groups.
    Delete {
        #[arg(required = true)]
        groups: Vec<String>,
    },
}

/// Runs `--admin ARGS`.
pub fn run(ctx: &Ctx) -> CliResult<()> {
    let raw = ctx.args.admin.clone().unwrap_or_default();
    let args: AdminArgs = crate::parse_args(raw, "kafka-sync --admin help")?;
    let json = args.json || ctx.args.json;
    let admin = ctx.client()?.admin();
    let (text, doc, failures) = match args.command {
        Command::Topics(t) => topics(&admin, t)?,
        Command::Configs(c) => configs(&admin, c)?,
        Command::Groups(g) => groups(&admin, g)?,
        Command::Cluster => {
            let c = admin.describe_cluster().map_err(kafka("DescribeCluster"))?;
            let controller = c.controller.as_ref().map(|b| b.id);
            let mut text = format!(
                "cluster {}, controller {}\n",
                c.cluster_id.as_deref().unwrap_or("(none)"),
                controller.map_or("(none)".into(), |id| id.to_string())
            );
            for b in &c.brokers {
                text.push_str(&format!("  broker {} at {}\n", b.id, b.addr()));
            }
            let doc = json!({
                "cluster_id": c.cluster_id, "controller": controller,
                "brokers": c.brokers.iter().map(|b| json!({"id": b.id, "name": b.addr(), "rack": b.rack})).collect::<Vec<_>>(),
            });
            (text, doc, Vec::new())
        }
    };
    if json {
        println!("{doc}");
    } else {
        print!("{text}");
    }
    match failures.as_slice() {
        [] => Ok(()),
        [one] => Err(CliError::failed(one.clone())),
        [first, ..] => Err(CliError {
            code: EXIT_FAILED,
            message: format!("{} items failed; the first: {first}", failures.len()),
        }),
    }
}

/// Text, JSON and the per-item failures of one subcommand.
type Answer = (String, Value, Vec<String>);

fn kafka(what: &'static str) -> impl Fn(kafka_sync::Error) -> CliError {
    move |e| CliError::kafka(what, e)
}

/// Per-item results as text lines, a JSON object and failure messages.
fn items<T>(
    results: impl IntoIterator<Item = (String, ItemResult<T>)>,
    ok_text: impl Fn(&str, &T) -> String,
    ok_json: impl Fn(&T) -> Value,
) -> Answer {
    let (mut text, mut doc, mut failures) = (String::new(), Map::new(), Vec::new());
    for (name, r) in results {
        match r {
            Ok(v) => {
                text.push_str(&ok_text(&name, &v));
                doc.insert(name, ok_json(&v));
            }
            Err(e) => {
                let msg = crate::error::one_line(&format!("{name}: {e}"));
                text.push_str(&format!("{msg}\n"));
                doc.insert(name, json!({ "error": e.to_string() }));
                failures.push(msg);
            }
        }
    }
    (text, Value::Object(doc), failures)
}

fn topics(admin: &Admin, t: Topics) -> CliResult<Answer> {
    Ok(match t {
        Topics::List { internal } => {
            let list = admin.list_topics(internal).map_err(kafka("Metadata"))?;
            let text = list
                .iter()
                .map(|t| format!("{}\t{} partitions\n", t.name, t.partitions.len()))
                .collect();
            let doc = list
                .iter()
                .map(|t| json!({"topic": t.name, "partitions": t.partitions.len(), "internal": t.is_internal}))
                .collect();
            (text, Value::Array(doc), Vec::new())
        }
        Topics::Describe { topics } => {
            let names: Vec<&str> = topics.iter().map(String::as_str).collect();
            let found = admin.describe_topics(&names).map_err(kafka("Metadata"))?;
            items(
                found,
                |name, t| {
                    let mut s =
                        format!("topic \"{name}\" with {} partitions:\n", t.partitions.len());
                    for p in &t.partitions {
                        s.push_str(&format!(
                            "  partition {}, leader {}, replicas: {:?}, isrs: {:?}\n",
                            p.id,
                            p.leader.unwrap_or(-1),
                            p.replicas,
                            p.isr
                        ));
                    }
                    s
                },
                |t| {
                    json!({"partitions": t.partitions.iter().map(|p| json!({
                        "partition": p.id, "leader": p.leader, "replicas": p.replicas, "isrs": p.isr,
                    })).collect::<Vec<_>>()})
                },
            )
        }
        Topics::Create {
            topic,
            partitions,
            replication,
            configs,
        } => {
            let mut new = NewTopic::new(&topic, partitions, replication);
            for c in &configs {
                let (k, v) = c
                    .split_once('=')
                    .ok_or_else(|| CliError::usage(format!("--config `{c}`: write name=value")))?;
                new = new.config(k, v);
            }
            let r = admin.create_topics(&[new]).map_err(kafka("CreateTopics"))?;
            items(r, |n, _| format!("created {n}\n"), |_| json!("created"))
        }
        Topics::Delete { topics } => {
            let names: Vec<&str> = topics.iter().map(String::as_str).collect();
            let r = admin.delete_topics(&names).map_err(kafka("DeleteTopics"))?;
            items(r, |n, _| format!("deleted {n}\n"), |_| json!("deleted"))
        }
        Topics::AddPartitions { topic, total } => {
            let r = admin.create_partitions(&topic, total);
            items(
                [(topic, r)],
                |n, _| format!("{n} now has {total} partitions\n"),
                |_| json!({ "partitions": total }),
            )
        }
    })
}

fn resource(kind: &str, name: &str) -> CliResult<ConfigResource> {
    match kind {
        "topic" => Ok(ConfigResource::topic(name)),
        "broker" => name
            .parse()
            .map(ConfigResource::broker)
            .map_err(|_| CliError::usage(format!("broker `{name}`: give the broker's id number"))),
        other => Err(CliError::usage(format!(
            "`{other}`: configs belong to a `topic NAME` or a `broker ID`"
        ))),
    }
}

fn configs(admin: &Admin, c: Configs) -> CliResult<Answer> {
    let (res, ops) = match &c {
        Configs::Describe { kind, name } => {
            let res = resource(kind, name)?;
            let found = admin
                .describe_configs(std::slice::from_ref(&res))
                .map_err(kafka("DescribeConfigs"))?;
            let kind = kind.clone();
            return Ok(items(
                found.into_iter().map(|(r, v)| (r.name, v)),
                move |n, entries| {
                    let mut s = format!("{kind} {n}:\n");
                    for e in entries {
                        let v = if e.is_sensitive {
                            "(sensitive)".to_string()
                        } else {
                            e.value.clone().unwrap_or_else(|| "(null)".into())
                        };
                        s.push_str(&format!("  {} = {v} ({:?})\n", e.name, e.source));
                    }
                    s
                },
                |entries| {
                    let mut o = Map::new();
                    for e in entries {
                        o.insert(
                            e.name.clone(),
                            json!({"value": e.value, "source": format!("{:?}", e.source),
                                   "default": e.is_default, "read_only": e.read_only, "sensitive": e.is_sensitive}),
                        );
                    }
                    Value::Object(o)
                },
            ));
        }
        Configs::Set { kind, name, pairs } => {
            let mut ops = Vec::new();
            for p in pairs {
                let (k, v) = p
                    .split_once('=')
                    .ok_or_else(|| CliError::usage(format!("`{p}`: write name=value")))?;
                ops.push(AlterConfigOp::set(k, v));
            }
            (resource(kind, name)?, ops)
        }
        Configs::Delete { kind, name, names } => (
            resource(kind, name)?,
            names.iter().map(AlterConfigOp::delete).collect(),
        ),
    };
    let r = admin.incremental_alter_configs(&res, &ops);
    Ok(items(
        [(res.to_string(), r)],
        |n, _| format!("altered {n}\n"),
        |_| json!("altered"),
    ))
}

fn groups(admin: &Admin, g: Groups) -> CliResult<Answer> {
    Ok(match g {
        Groups::List => {
            let list = admin.list_consumer_groups().map_err(kafka("ListGroups"))?;
            let text = list
                .iter()
                .map(|g| {
                    format!(
                        "{}\t{}\tcoordinator {}\n",
                        g.group_id,
                        g.state.as_deref().unwrap_or("-"),
                        g.coordinator
                    )
                })
                .collect();
            let doc = list
                .iter()
                .map(|g| json!({"group": g.group_id, "state": g.state, "protocol_type": g.protocol_type, "coordinator": g.coordinator}))
                .collect();
            (text, Value::Array(doc), Vec::new())
        }
        Groups::Describe { groups } => {
            let names: Vec<&str> = groups.iter().map(String::as_str).collect();
            let found = admin
                .describe_consumer_groups(&names)
                .map_err(kafka("DescribeGroups"))?;
            items(
                found,
                |n, d| {
                    let mut s = format!(
                        "group {n}: {} ({} {}), coordinator {}, {} members\n",
                        d.state,
                        d.protocol_type,
                        d.protocol,
                        d.coordinator,
                        d.members.len()
                    );
                    for m in &d.members {
                        let parts: Vec<String> = m
                            .assignment
                            .iter()
                            .map(|tp| format!("{} [{}]", tp.topic, tp.partition))
                            .collect();
                        s.push_str(&format!(
                            "  member {} ({} at {}): {}\n",
                            m.member_id,
                            m.client_id,
                            m.client_host,
                            parts.join(", ")
                        ));
                    }
                    s
                },
                |d| {
                    json!({
                        "state": d.state, "protocol_type": d.protocol_type, "protocol": d.protocol,
                        "coordinator": d.coordinator,
                        "members": d.members.iter().map(|m| json!({
                            "member_id": m.member_id, "group_instance_id": m.group_instance_id,
                            "client_id": m.client_id, "client_host": m.client_host,
                            "assignment": m.assignment.iter().map(|tp| json!({"topic": tp.topic, "partition": tp.partition})).collect::<Vec<_>>(),
                        })).collect::<Vec<_>>(),
                    })
                },
            )
        }
        Groups::Lag { group } => {
            let lag = admin
                .consumer_group_lag(&group)
                .map_err(kafka("group lag"))?;
            let mut text = String::new();
            let mut total = 0i64;
            let mut rows = Vec::new();
            for (tp, l) in &lag {
                total += l.lag.max(0);
                text.push_str(&format!(
                    "{} [{}]\tcommitted {}\thigh watermark {}\tlag {}\n",
                    tp.topic, tp.partition, l.committed, l.high_watermark, l.lag
                ));
                rows.push(json!({"topic": tp.topic, "partition": tp.partition,
                    "committed": l.committed, "high_watermark": l.high_watermark, "lag": l.lag}));
            }
            text.push_str(&format!("group {group}: total lag {total}\n"));
            let doc = json!({"group": group, "total_lag": total, "partitions": rows});
            (text, doc, Vec::new())
        }
        Groups::Delete { groups } => {
            let names: Vec<&str> = groups.iter().map(String::as_str).collect();
            let r = admin
                .delete_consumer_groups(&names)
                .map_err(kafka("DeleteGroups"))?;
            items(r, |n, _| format!("deleted {n}\n"), |_| json!("deleted"))
        }
    })
}
