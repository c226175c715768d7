//! Client configuration: a builder that validates and freezes [`ClientConfig`].
//!
//! Every default is listed once, in [`ClientConfig::default`], and in the
//! rustdoc of its setter. A built client's configuration never changes.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::net::{Sasl, TlsConfig};
use crate::ApiKey;

/// The frozen settings of a [`KafkaClient`](crate::KafkaClient).
#[derive(Clone)]
pub struct ClientConfig {
    pub(crate) bootstrap: Vec<String>,
    pub(crate) client_id: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) metadata_max_age: Duration,
    pub(crate) max_response_size: usize,
    pub(crate) reconnect_backoff: Duration,
    pub(crate) reconnect_backoff_max: Duration,
    pub(crate) retry_backoff: Duration,
    pub(crate) allow_auto_topic_creation: bool,
    pub(crate) tls: Option<TlsConfig>,
    pub(crate) sasl: Option<Sasl>,
    pub(crate) max_api_versions: BTreeMap<ApiKey, i16>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            bootstrap: Vec::new(),
            client_id: "kafka-sync".to_owned(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            metadata_max_age: Duration::from_secs(300),
            max_response_size: 100 * 1024 * 1024,
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(1),
            retry_backoff: Duration::from_millis(100),
            allow_auto_topic_creation: false,
            tls: None,
            sasl: None,
            max_api_versions: BTreeMap::new(),
        }
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("bootstrap", &self.bootstrap)
            .field("client_id", &self.client_id)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("metadata_max_age", &self.metadata_max_age)
            .field("max_response_size", &self.max_response_size)
            .field("reconnect_backoff", &self.reconnect_backoff)
            .field("reconnect_backoff_max", &self.reconnect_backoff_max)
            .field("retry_backoff", &self.retry_backoff)
            .field("allow_auto_topic_creation", &self.allow_auto_topic_creation)
            .field("tls", &self.tls)
            .field("sasl", &self.sasl)
            .field("max_api_versions", &self.max_api_versions)
            .finish()
    }
}

impl ClientConfig {
    /// The bootstrap `host:port` list.
    pub fn bootstrap(&self) -> &[String] {
        &self.bootstrap
    }
    /// The `client_id` sent in every request.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// Bound on opening one TCP connection.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
    /// Bound on one request's round trip.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
    /// Age after which cached metadata is refreshed before use.
    pub fn metadata_max_age(&self) -> Duration {
        self.metadata_max_age
    }
    /// Largest response frame accepted from a broker.
    pub fn max_response_size(&self) -> usize {
        self.max_response_size
    }
    /// Wait between retries of a failed request.
    pub fn retry_backoff(&self) -> Duration {
        self.retry_backoff
    }
    /// TLS settings, when connections use TLS.
    pub fn tls(&self) -> Option<&TlsConfig> {
        self.tls.as_ref()
    }
    /// SASL credentials, when connections authenticate.
    pub fn sasl(&self) -> Option<&Sasl> {
        self.sasl.as_ref()
    }
    /// The cap set with [`KafkaClientBuilder::max_api_version`] for `api`,
    /// if any.
    pub fn max_api_version(&self, api: ApiKey) -> Option<i16> {
        self.max_api_versions.get(&api).copied()
    }
}

/// Parses a comma-separated `host:port` list; a missing port means 9092.
pub(crate) fn parse_hosts(hosts: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for raw in hosts.split(',') {
        let host = raw.trim();
        if host.is_empty() {
            continue;
        }
        let host = host
            .strip_prefix("tcp://")
            .or_else(|| host.strip_prefix("kafka://"))
            .unwrap_or(host);
        let with_port = match host.rsplit_once(':') {
            // An IPv6 literal without a port ends in ']' or has several ':'.
            Some((h, p)) if !h.is_empty() && !p.contains(']') && !h.ends_with(':') => {
                p.parse::<u16>()
                    .map_err(|_| Error::Config(format!("bad port in bootstrap host `{host}`")))?;
                host.to_owned()
            }
            _ => format!("{host}:9092"),
        };
        out.push(with_port);
    }
    if out.is_empty() {
        return Err(Error::Config(
            "no bootstrap hosts given; pass a comma-separated host:port list".into(),
        ));
    }
    Ok(out)
}

/// Builds a [`KafkaClient`](crate::KafkaClient).
///
/// ```no_run
/// use std::time::Duration;
/// let client = kafka_sync::KafkaClient::builder()
///     .hosts("127.0.0.1:9092,127.0.0.1:9093")
///     .client_id("billing")
///     .request_timeout(Duration::from_secs(10))
///     .build()?;
/// # Ok::<(), kafka_sync::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until build() is called"]
pub struct KafkaClientBuilder {
    hosts: Option<String>,
    config: ClientConfig,
}

impl KafkaClientBuilder {
    /// The bootstrap brokers, comma separated (`host:port,host:port`); any
    /// live one is enough. Required.
    pub fn hosts(mut self, hosts: impl Into<String>) -> Self {
        self.hosts = Some(hosts.into());
        self
    }

    /// `client_id` in request headers, shown in broker logs and quotas.
    /// Defaults to `kafka-sync`.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.config.client_id = id.into();
        self
    }

    /// Bound on opening a TCP connection. Defaults to 10 s, as the Java
    /// client's `socket.connection.setup.timeout.ms`.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.config.connect_timeout = t;
        self
    }

    /// Bound on each request's round trip; the connection is closed when it
    /// fires. Defaults to 30 s, as the Java client's `request.timeout.ms`.
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.config.request_timeout = t;
        self
    }

    /// Metadata older than this is refreshed before use. Defaults to 5 min,
    /// as the Java client's `metadata.max.age.ms`.
    pub fn metadata_max_age(mut self, t: Duration) -> Self {
        self.config.metadata_max_age = t;
        self
    }

    /// Largest response frame accepted; a broker claiming more fails that
    /// request instead of making the client allocate it. Defaults to 100 MiB.
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.config.max_response_size = bytes;
        self
    }

    /// First wait before reconnecting to a broker that failed; doubles per
    /// failure up to [`reconnect_backoff_max`](Self::reconnect_backoff_max).
    /// Defaults to 50 ms, as the Java client.
    pub fn reconnect_backoff(mut self, t: Duration) -> Self {
        self.config.reconnect_backoff = t;
        self
    }

    /// Cap on the reconnect backoff. Defaults to 1 s, as the Java client.
    pub fn reconnect_backoff_max(mut self, t: Duration) -> Self {
        self.config.reconnect_backoff_max = t;
        self
    }

    /// Wait between retries of a failed request. Defaults to 100 ms, as the
    /// Java client's `retry.backoff.ms`.
    pub fn retry_backoff(mut self, t: Duration) -> Self {
        self.config.retry_backoff = t;
        self
    }

    /// Whether metadata requests for a missing topic may create it (when the
    /// broker allows it). Defaults to `false`: [`KafkaClient::topic`](crate::KafkaClient::topic)
    /// reports a missing topic instead of creating it by accident.
    pub fn allow_auto_topic_creation(mut self, allow: bool) -> Self {
        self.config.allow_auto_topic_creation = allow;
        self
    }

    /// Connect with TLS (feature `tls`, on by default). Defaults to
    /// plaintext. Certificate files are read when the client is built.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.config.tls = Some(tls);
        self
    }

    /// Authenticate every connection with SASL (`PLAIN`, `SCRAM-SHA-256` or
    /// `SCRAM-SHA-512`) right after it opens. Defaults to none.
    pub fn sasl(mut self, sasl: Sasl) -> Self {
        self.config.sasl = Some(sasl);
        self
    }

    /// Caps the version of `api` this client sends to every broker at
    /// `version`, on every connection: the version used is the highest that
    /// both sides speak and that is at most `version`.
    ///
    /// An escape hatch for broker bugs, like librdkafka's
    /// `broker.version.fallback`; normal clusters need none, since versions
    /// are negotiated with ApiVersions. For example librdkafka's mock cluster
    /// advertises JoinGroup v6 but parses it as a non-flexible version and
    /// closes the connection, so consumer groups there need
    /// `max_api_version(ApiKey::JoinGroup, 5)`. When a broker's oldest
    /// version of `api` is above the cap, requests of that API fail with
    /// [`Error::UnsupportedVersion`]. A later call for the same API replaces
    /// an earlier one. Defaults to no cap for any API.
    ///
    /// ```no_run
    /// use kafka_sync::{ApiKey, KafkaClient};
    /// let client = KafkaClient::builder()
    ///     .hosts("127.0.0.1:9092")
    ///     .max_api_version(ApiKey::JoinGroup, 5)
    ///     .build()?;
    /// # Ok::<(), kafka_sync::Error>(())
    /// ```
    pub fn max_api_version(mut self, api: ApiKey, version: i16) -> Self {
        self.config.max_api_versions.insert(api, version);
        self
    }

    /// Validates the settings. Use [`build`](Self::build) to also connect.
    pub fn config(self) -> Result<ClientConfig> {
        let mut config = self.config;
        let hosts = self.hosts.ok_or_else(|| {
            Error::Config("no bootstrap hosts; call KafkaClientBuilder::hosts".into())
        })?;
        config.bootstrap = parse_hosts(&hosts)?;
        if let Some((api, version)) = config.max_api_versions.iter().find(|(_, v)| **v < 0) {
            return Err(Error::Config(format!(
                "max_api_version for {api} is {version}; versions start at 0"
            )));
        }
        for (name, d) in [
            ("connect_timeout", config.connect_timeout),
            ("request_timeout", config.request_timeout),
        ] {
            if d.is_zero() {
                return Err(Error::Config(format!("{name} must be greater than zero")));
            }
        }
        if config.max_response_size < 1024 {
            return Err(Error::Config(
                "max_response_size below 1 KiB cannot hold a metadata response".into(),
            ));
        }
        if config.tls.is_some() && !cfg!(feature = "tls") {
            return Err(Error::Config(
                "TLS was configured but kafka-sync was built without its `tls` feature".into(),
            ));
        }
        if config.tls.is_none()
            && config
                .sasl
                .as_ref()
                .is_some_and(|s| s.mechanism() == "PLAIN")
        {
            log::warn!(
                "SASL PLAIN without TLS sends the password in clear text; add \
                 KafkaClientBuilder::tls or use SCRAM"
            );
        }
        if config.max_response_size > i32::MAX as usize {
            return Err(Error::Config(format!(
                "max_response_size above {} cannot be expressed in Kafka's frame size",
                i32::MAX
            )));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_split_trimmed_and_default_to_port_9092() {
        assert_eq!(
            parse_hosts(" a:1, b ,tcp://c:3,,[::1]:4").unwrap(),
            vec!["a:1", "b:9092", "c:3", "[::1]:4"]
        );
    }

    #[test]
    fn an_empty_host_list_is_a_config_error() {
        assert!(matches!(parse_hosts(" , "), Err(Error::Config(_))));
        assert!(matches!(parse_hosts("a:notaport"), Err(Error::Config(_))));
    }

    #[test]
    fn debug_output_shows_the_sasl_user_but_not_the_password() {
        let builder = KafkaClientBuilder::default()
            .hosts("a:1")
            .sasl(Sasl::scram_sha_512("alice", "s3cr3t-pw"));
        let shown = format!("{builder:?} {:?}", builder.clone().config().unwrap());
        assert!(
            shown.contains("alice") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }

    #[test]
    fn max_api_versions_are_kept_per_api_and_negative_ones_rejected() {
        let config = KafkaClientBuilder::default()
            .hosts("a:1")
            .max_api_version(ApiKey::JoinGroup, 6)
            .max_api_version(ApiKey::JoinGroup, 5)
            .config()
            .unwrap();
        assert_eq!(config.max_api_version(ApiKey::JoinGroup), Some(5));
        assert_eq!(config.max_api_version(ApiKey::Fetch), None);
        let r = KafkaClientBuilder::default()
            .hosts("a:1")
            .max_api_version(ApiKey::Fetch, -1)
            .config();
        assert!(matches!(r, Err(Error::Config(m)) if m.contains("Fetch")));
    }

    #[test]
    fn zero_timeouts_are_rejected() {
        let r = KafkaClientBuilder::default()
            .hosts("a:1")
            .request_timeout(Duration::ZERO)
            .config();
        assert!(matches!(r, Err(Error::Config(m)) if m.contains("request_timeout")));
    }
}
