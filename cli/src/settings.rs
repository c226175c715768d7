//! Client settings by their librdkafka / Java names (`-X key=value`, `-F
//! file`), checked once and applied to the library's builders.

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

use kafka_sync::{
    Acks, Assignor, BalancedConsumerConfig, Compression, IsolationLevel, KafkaClient,
    KafkaClientBuilder, OffsetReset, ProducerConfig, Sasl, SimpleConsumerConfig, TlsConfig,
};

use crate::error::{CliError, CliResult};

/// Applies the settings both consumers take (reset, auto commit, fetch
/// sizes and waits, queue bound, isolation, CRC checks) to `$config`, a
/// [`SimpleConsumerConfig`] or a [`BalancedConsumerConfig`] (their builder
/// methods have the same names), returning the config; `?` returns from
/// the caller on a bad value.
macro_rules! fetch_settings {
    ($settings:expr, $config:expr) => {{
        let s: &Settings = $settings;
        let mut c = $config;
        if let Some(r) = s.offset_reset()? {
            c = c.auto_offset_reset(r);
        }
        if let Some(on) = s.flag("enable.auto.commit") {
            c = c.enable_auto_commit(on);
        }
        if let Some(t) = s.millis("auto.commit.interval.ms") {
            c = c.auto_commit(t);
        }
        if let Some(n) = s.int("fetch.min.bytes") {
            c = c.fetch_min_bytes(n as i32);
        }
        if let Some(t) = s.millis("fetch.max.wait.ms") {
            c = c.fetch_max_wait(t);
        }
        if let Some(n) = s.int("max.partition.fetch.bytes") {
            c = c.max_partition_fetch_bytes(n as i32);
        }
        if let Some(n) = s.int("fetch.max.bytes") {
            c = c.fetch_max_bytes(n as i32);
        }
        if let Some(n) = s.int("queued.max.messages") {
            c = c.queued_max_messages(n as usize);
        }
        if let Some(i) = s.isolation()? {
            c = c.isolation_level(i);
        }
        if let Some(on) = s.flag("check.crcs") {
            c = c.check_crcs(on);
        }
        c
    }};
}

/// What a value must look like.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Millis,
    Int,
    Bool,
}

/// One known setting: its name, the other names it is known by, the value
/// kind and what it does.
struct Known {
    name: &'static str,
    aliases: &'static [&'static str],
    kind: Kind,
    help: &'static str,
}

const fn k(
    name: &'static str,
    aliases: &'static [&'static str],
    kind: Kind,
    help: &'static str,
) -> Known {
    Known {
        name,
        aliases,
        kind,
        help,
    }
}

/// Every setting `-X` accepts (`-X list` prints them).
const KNOWN: &[Known] = &[
    // Client.
    k("bootstrap.servers", &["metadata.broker.list"], Kind::Text, "host:port[,host:port...] (same as -b)"),
    k("client.id", &[], Kind::Text, "client id sent to the broker"),
    k("security.protocol", &[], Kind::Text, "plaintext | ssl | sasl_plaintext | sasl_ssl"),
    k("sasl.mechanism", &["sasl.mechanisms"], Kind::Text, "PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512"),
    k("sasl.username", &[], Kind::Text, "SASL user name"),
    k("sasl.password", &[], Kind::Text, "SASL password"),
    k("ssl.ca.location", &["ssl.truststore.location"], Kind::Text, "PEM file of the CA to trust"),
    k("ssl.certificate.location", &[], Kind::Text, "PEM client certificate (with ssl.key.location)"),
    k("ssl.key.location", &[], Kind::Text, "PEM client key"),
    k("ssl.endpoint.identification.algorithm", &[], Kind::Text, "https (check host names, default) | none"),
    k("enable.ssl.certificate.verification", &[], Kind::Bool, "false accepts any certificate (testing only)"),
    k("socket.connection.setup.timeout.ms", &["connect.timeout.ms"], Kind::Millis, "connect timeout"),
    k("request.timeout.ms", &["socket.timeout.ms"], Kind::Millis, "per-request timeout"),
    k("metadata.max.age.ms", &[], Kind::Millis, "metadata refresh interval"),
    k("reconnect.backoff.ms", &[], Kind::Millis, "first reconnect backoff"),
    k("reconnect.backoff.max.ms", &[], Kind::Millis, "longest reconnect backoff"),
    k("api.version.caps", &[], Kind::Text, "mock: cap the group APIs at the versions librdkafka's mock cluster reads (for -G on --mock)"),
    k("allow.auto.create.topics", &[], Kind::Bool, "let metadata requests create topics"),
    k("receive.message.max.bytes", &[], Kind::Int, "largest response accepted"),
    // Producer.
    k("linger.ms", &["queue.buffering.max.ms"], Kind::Millis, "producer batching delay"),
    k("batch.size", &[], Kind::Int, "producer batch size in bytes"),
    k("acks", &["request.required.acks"], Kind::Text, "0 | 1 | all (-1)"),
    k("compression.type", &["compression.codec"], Kind::Text, "none | gzip | snappy | lz4 | zstd (same as -z)"),
    k("compression.level", &[], Kind::Int, "codec level"),
    k("delivery.timeout.ms", &["message.timeout.ms"], Kind::Millis, "give up on a record after this long"),
    k("enable.idempotence", &[], Kind::Bool, "idempotent producer (default: when the broker can)"),
    k("max.in.flight.requests.per.connection", &["max.in.flight"], Kind::Int, "requests in flight per broker"),
    k("buffer.memory", &[], Kind::Int, "producer buffer in bytes"),
    k("max.block.ms", &[], Kind::Millis, "how long a full buffer blocks"),
    k("max.request.size", &["message.max.bytes"], Kind::Int, "largest Produce request"),
    k("retry.backoff.ms", &[], Kind::Millis, "first retry backoff"),
    k("retry.backoff.max.ms", &[], Kind::Millis, "longest retry backoff"),
    // Consumer.
    k("group.id", &[], Kind::Text, "consumer group of -C (committed offsets, -o stored)"),
    k("auto.offset.reset", &[], Kind::Text, "earliest | latest | error (smallest/largest too)"),
    k("enable.auto.commit", &[], Kind::Bool, "commit positions automatically"),
    k("auto.commit.interval.ms", &[], Kind::Millis, "automatic commit interval"),
    k("fetch.min.bytes", &[], Kind::Int, "bytes a fetch waits for"),
    k("fetch.max.wait.ms", &["fetch.wait.max.ms"], Kind::Millis, "longest fetch wait"),
    k("max.partition.fetch.bytes", &["fetch.message.max.bytes"], Kind::Int, "bytes per partition per fetch"),
    k("fetch.max.bytes", &[], Kind::Int, "bytes per fetch"),
    k("queued.max.messages", &[], Kind::Int, "prefetched messages"),
    k("isolation.level", &[], Kind::Text, "read_uncommitted | read_committed"),
    k("check.crcs", &[], Kind::Bool, "check record CRCs"),
    k("session.timeout.ms", &[], Kind::Millis, "group session timeout"),
    k("heartbeat.interval.ms", &[], Kind::Millis, "group heartbeat interval"),
    k("max.poll.interval.ms", &[], Kind::Millis, "longest pause between polls"),
    k("partition.assignment.strategy", &[], Kind::Text, "range | roundrobin | sticky | cooperative-sticky[,...]"),
    k("group.instance.id", &[], Kind::Text, "static membership id"),
    k("client.rack", &[], Kind::Text, "rack id for rack-aware assignment"),
];

/// The settings of one run, by canonical name.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    values: BTreeMap<&'static str, String>,
}

impl Settings {
    /// Sets `key=value` (one `-X` argument or config file line).
    pub fn set_pair(&mut self, pair: &str, origin: &str) -> CliResult<()> {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(CliError::usage(format!(
                "{origin}: `{pair}` is not key=value; write e.g. -X linger.ms=5 (-X list shows the settings)"
            )));
        };
        self.set(key.trim(), value.trim(), origin)
    }

    /// Sets one setting, checking the name and the value.
    pub fn set(&mut self, key: &str, value: &str, origin: &str) -> CliResult<()> {
        let known = KNOWN
            .iter()
            .find(|k| k.name == key || k.aliases.contains(&key))
            .ok_or_else(|| {
                CliError::usage(format!(
                    "{origin}: unknown setting `{key}`; -X list shows the settings this tool knows"
                ))
            })?;
        let ok = match known.kind {
            Kind::Text => true,
            Kind::Millis | Kind::Int => value.parse::<i64>().is_ok_and(|v| v >= 0),
            Kind::Bool => parse_bool(value).is_some(),
        };
        if !ok {
            let want = match known.kind {
                Kind::Millis => "a number of milliseconds",
                Kind::Int => "a non-negative number",
                _ => "true or false",
            };
            return Err(CliError::usage(format!(
                "{origin}: `{key}={value}`: the value must be {want}"
            )));
        }
        self.values.insert(known.name, value.to_string());
        Ok(())
    }

    /// Reads a config file of `key=value` lines (`#` starts a comment).
    pub fn load_file(&mut self, path: &str) -> CliResult<()> {
        let text = fs::read_to_string(path).map_err(|e| {
            CliError::usage(format!(
                "-F {path}: cannot read the config file ({e}); check the path"
            ))
        })?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            self.set_pair(line, &format!("{path}:{}", n + 1))?;
        }
        Ok(())
    }

    /// The value of a canonical setting.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    fn millis(&self, name: &str) -> Option<Duration> {
        self.get(name)
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis)
    }

    fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(|v| v.parse().ok())
    }

    fn flag(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(parse_bool)
    }

    /// A client builder for these settings.
    pub fn client_builder(&self) -> CliResult<KafkaClientBuilder> {
        let hosts = self.get("bootstrap.servers").ok_or_else(|| {
            CliError::usage("no broker given; add -b host:port (or -X bootstrap.servers=host:port)")
        })?;
        let mut b = KafkaClient::builder()
            .hosts(hosts)
            .client_id(self.get("client.id").unwrap_or("kafka-sync-cli"));
        if let Some(t) = self.millis("socket.connection.setup.timeout.ms") {
            b = b.connect_timeout(t);
        }
        if let Some(t) = self.millis("request.timeout.ms") {
            b = b.request_timeout(t);
        }
        if let Some(t) = self.millis("metadata.max.age.ms") {
            b = b.metadata_max_age(t);
        }
        if let Some(t) = self.millis("reconnect.backoff.ms") {
            b = b.reconnect_backoff(t);
        }
        if let Some(t) = self.millis("reconnect.backoff.max.ms") {
            b = b.reconnect_backoff_max(t);
        }
        if let Some(on) = self.flag("allow.auto.create.topics") {
            b = b.allow_auto_topic_creation(on);
        }
        if let Some(n) = self.int("receive.message.max.bytes") {
            b = b.max_response_size(n as usize);
        }
        match self.get("api.version.caps") {
            None => {}
            Some("mock") => {
                for (api, version) in kafka_sync::testkit::MockCluster::API_VERSION_CAPS {
                    b = b.max_api_version(api, version);
                }
            }
            Some(other) => {
                return Err(CliError::usage(format!(
                    "api.version.caps `{other}`: the one value is `mock`"
                )))
            }
        }
        let protocol = self
            .get("security.protocol")
            .unwrap_or("plaintext")
            .to_ascii_lowercase();
        let (tls, sasl) = match protocol.as_str() {
            "plaintext" => (false, false),
            "ssl" => (true, false),
            "sasl_plaintext" => (false, true),
            "sasl_ssl" => (true, true),
            other => {
                return Err(CliError::usage(format!(
                    "security.protocol `{other}`: use plaintext, ssl, sasl_plaintext or sasl_ssl"
                )))
            }
        };
        if tls {
            let mut t = TlsConfig::default();
            if let Some(ca) = self.get("ssl.ca.location") {
                t = t.ca_file(ca);
            }
            match (
                self.get("ssl.certificate.location"),
                self.get("ssl.key.location"),
            ) {
                (Some(c), Some(k)) => t = t.client_cert(c, k),
                (None, None) => {}
                _ => return Err(CliError::usage(
                    "a client certificate needs both ssl.certificate.location and ssl.key.location",
                )),
            }
            if self.get("ssl.endpoint.identification.algorithm") == Some("none") {
                t = t.danger_accept_invalid_hostnames(true);
            }
            if self.flag("enable.ssl.certificate.verification") == Some(false) {
                t = t.danger_accept_invalid_certs(true);
            }
            b = b.tls(t);
        }
        if sasl {
            let user = self.get("sasl.username").unwrap_or_default();
            let pass = self.get("sasl.password").unwrap_or_default();
            let mechanism = self.get("sasl.mechanism").unwrap_or("PLAIN");
            let s = match mechanism.to_ascii_uppercase().as_str() {
                "PLAIN" => Sasl::plain(user, pass),
                "SCRAM-SHA-256" => Sasl::scram_sha_256(user, pass),
                "SCRAM-SHA-512" => Sasl::scram_sha_512(user, pass),
                other => {
                    return Err(CliError::usage(format!(
                        "sasl.mechanism `{other}`: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
                    )))
                }
            };
            b = b.sasl(s);
        }
        Ok(b)
    }

    /// A producer config for these settings.
    pub fn producer_config(&self) -> CliResult<ProducerConfig> {
        let mut c = ProducerConfig::default();
        if let Some(t) = self.millis("linger.ms") {
            c = c.linger(t);
        }
        if let Some(n) = self.int("batch.size") {
            c = c.batch_size(n as usize);
        }
        if let Some(a) = self.get("acks") {
            c = c.acks(match a.to_ascii_lowercase().as_str() {
                "0" => Acks::None,
                "1" => Acks::Leader,
                "all" | "-1" => Acks::All,
                other => return Err(CliError::usage(format!("acks `{other}`: use 0, 1 or all"))),
            });
        }
        if let Some(z) = self.get("compression.type") {
            c = c.compression(parse_compression(z)?);
        }
        if let Some(n) = self.int("compression.level") {
            c = c.compression_level(Some(n as i32));
        }
        if let Some(t) = self.millis("delivery.timeout.ms") {
            c = c.delivery_timeout(t);
        }
        if let Some(t) = self.millis("request.timeout.ms") {
            c = c.request_timeout(t);
        }
        if let Some(on) = self.flag("enable.idempotence") {
            c = c.idempotence(Some(on));
        }
        if let Some(n) = self.int("max.in.flight.requests.per.connection") {
            c = c.max_in_flight(n as usize);
        }
        if let Some(n) = self.int("buffer.memory") {
            c = c.buffer_memory(n as usize);
        }
        if let Some(t) = self.millis("max.block.ms") {
            c = c.max_block(t);
        }
        if let Some(n) = self.int("max.request.size") {
            c = c.max_request_size(n as usize);
        }
        let backoff = self.millis("retry.backoff.ms");
        let backoff_max = self.millis("retry.backoff.max.ms");
        if backoff.is_some() || backoff_max.is_some() {
            let first = backoff.unwrap_or(Duration::from_millis(100));
            c = c.retry_backoff(
                first,
                backoff_max.unwrap_or(first.max(Duration::from_secs(1))),
            );
        }
        Ok(c)
    }

    /// The `auto.offset.reset` setting, if given.
    pub fn offset_reset(&self) -> CliResult<Option<OffsetReset>> {
        self.get("auto.offset.reset")
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "earliest" | "smallest" | "beginning" => Ok(OffsetReset::Earliest),
                "latest" | "largest" | "end" => Ok(OffsetReset::Latest),
                "error" | "none" => Ok(OffsetReset::Error),
                other => Err(CliError::usage(format!(
                    "auto.offset.reset `{other}`: use earliest, latest or error"
                ))),
            })
            .transpose()
    }

    fn isolation(&self) -> CliResult<Option<IsolationLevel>> {
        self.get("isolation.level")
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "read_uncommitted" => Ok(IsolationLevel::ReadUncommitted),
                "read_committed" => Ok(IsolationLevel::ReadCommitted),
                other => Err(CliError::usage(format!(
                    "isolation.level `{other}`: use read_uncommitted or read_committed"
                ))),
            })
            .transpose()
    }

    /// A simple consumer config for these settings (no partitions, offsets
    /// or timeout: the caller sets those).
    pub fn simple_consumer_config(&self) -> CliResult<SimpleConsumerConfig> {
        let mut c = fetch_settings!(self, SimpleConsumerConfig::default());
        if let Some(g) = self.get("group.id") {
            c = c.consumer_group(g);
        }
        Ok(c)
    }

    /// A balanced consumer config for these settings (listeners, reset and
    /// timeout are set by the caller).
    pub fn balanced_consumer_config(&self) -> CliResult<BalancedConsumerConfig> {
        let mut c = fetch_settings!(self, BalancedConsumerConfig::default());
        if let Some(t) = self.millis("session.timeout.ms") {
            c = c.session_timeout(t);
        }
        if let Some(t) = self.millis("heartbeat.interval.ms") {
            c = c.heartbeat_interval(t);
        }
        if let Some(t) = self.millis("max.poll.interval.ms") {
            c = c.max_poll_interval(t);
        }
        if let Some(s) = self.get("partition.assignment.strategy") {
            let mut assignors = Vec::new();
            for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                assignors.push(Assignor::from_name(name).ok_or_else(|| {
                    CliError::usage(format!(
                        "partition.assignment.strategy `{name}`: use range, roundrobin, sticky or cooperative-sticky"
                    ))
                })?);
            }
            c = c.assignors(assignors);
        }
        if let Some(id) = self.get("group.instance.id") {
            c = c.group_instance_id(id);
        }
        if let Some(rack) = self.get("client.rack") {
            c = c.rack_id(rack);
        }
        Ok(c)
    }
}

/// The text `-X list` prints.
pub fn list() -> String {
    let mut out =
        String::from("Settings for -X key=value and -F files (other names in brackets):\n");
    for k in KNOWN {
        let aliases = if k.aliases.is_empty() {
            String::new()
        } else {
            format!(" [{}]", k.aliases.join(", "))
        };
        out.push_str(&format!("  {}{aliases}\n      {}\n", k.name, k.help));
    }
    out
}

/// A codec by its kcat / Java name.
pub fn parse_compression(name: &str) -> CliResult<Compression> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        other => {
            return Err(CliError::usage(format!(
                "compression `{other}`: use none, gzip, snappy, lz4 or zstd"
            )))
        }
    })
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_map_to_one_name_and_values_are_checked() {
        let mut s = Settings::default();
        s.set_pair("queue.buffering.max.ms=7", "-X").unwrap();
        assert_eq!(s.get("linger.ms"), Some("7"));
        assert!(s
            .set_pair("linger.ms=soon", "-X")
            .unwrap_err()
            .message
            .contains("milliseconds"));
        let e = s.set_pair("no.such.thing=1", "-X").unwrap_err();
        assert_eq!(e.code, crate::error::EXIT_USAGE);
        assert!(e.message.contains("-X list"), "{e}");
        assert!(s.set_pair("linger.ms", "-X").is_err());
    }

    #[test]
    fn security_settings_are_checked() {
        let mut s = Settings::default();
        s.set("bootstrap.servers", "h:1", "-b").unwrap();
        s.set("security.protocol", "sasl_plaintext", "-X").unwrap();
        s.set("sasl.mechanism", "GSSAPI", "-X").unwrap();
        assert!(s
            .client_builder()
            .unwrap_err()
            .message
            .contains("SCRAM-SHA-256"));
        s.set("sasl.mechanism", "SCRAM-SHA-512", "-X").unwrap();
        assert!(s.client_builder().is_ok());
        s.set("acks", "2", "-X").unwrap();
        assert!(s.producer_config().is_err());
    }
}
