//! SCRAM users through the admin client, against tansu.
//!
//! tansu 0.6.0 stores SCRAM credentials only in its SQL storage engines
//! (`sqlite://`, `postgres://`); the memory (and S3) engine of the binary the
//! testkit provisions acknowledges AlterUserScramCredentials without storing
//! anything, and its DescribeUserScramCredentials always answers an empty list.
//! With `--authentication` every request but ApiVersions and the SASL ones
//! needs a logged-in connection, so the first user is created by a broker
//! started without authentication on the same SQLite file; a second broker
//! with authentication then serves it. The live login tests need a tansu built
//! with `--features libsql`: `TANSU_SQL_BIN` names one, and without it the
//! tests build it once with `scripts/install-tansu-sql.sh` (a slow release
//! build the first time on a machine, cached under `~/.cache/kafka-sync`),
//! and fail saying what went wrong when that build cannot be made.
#![cfg(feature = "testkit")]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kafka_sync::admin::{ScramMechanism, UserScramCredentialAlteration as Alter};
use kafka_sync::testkit::{self, unique_name, Broker};
use kafka_sync::{Error, KafkaClient, ProducerConfig, Sasl, SimpleConsumerConfig};

fn client() -> KafkaClient {
    KafkaClient::new(&testkit::shared().expect("test broker starts").bootstrap())
        .expect("client bootstraps")
}

#[test]
fn tansu_acknowledges_each_upsertion_and_deletion_by_user() {
    let admin = client().admin();
    let alice = unique_name("alice");
    let bob = unique_name("bob");
    let results = admin
        .alter_user_scram_credentials(&[
            Alter::upsert(&alice, ScramMechanism::ScramSha256, 4096, "alice-secret"),
            Alter::upsert(&bob, ScramMechanism::ScramSha512, 8192, "bob-secret"),
            Alter::delete(&bob, ScramMechanism::ScramSha256),
        ])
        .expect("AlterUserScramCredentials answers");
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(results[&alice].is_ok(), "{results:?}");
    assert!(results[&bob].is_ok(), "{results:?}");
}

#[test]
fn an_invalid_alteration_is_its_users_error_and_the_others_are_sent() {
    let admin = client().admin();
    let good = unique_name("good");
    let bad = unique_name("bad");
    let results = admin
        .alter_user_scram_credentials(&[
            Alter::upsert(&good, ScramMechanism::ScramSha256, 4096, "pw-good"),
            Alter::upsert(&bad, ScramMechanism::ScramSha256, 10, "pw-bad"),
        ])
        .unwrap();
    assert!(results[&good].is_ok(), "{results:?}");
    let err = results[&bad].as_ref().unwrap_err();
    assert!(
        matches!(err, Error::Config(m) if m.contains(&bad) && m.contains("iterations")),
        "{err}"
    );
}

#[test]
fn describe_user_scram_credentials_answers_by_user() {
    // tansu 0.6.0 answers every DescribeUserScramCredentials with no users;
    // the call must still decode it and return an empty map.
    let described = client()
        .admin()
        .describe_user_scram_credentials(None)
        .expect("DescribeUserScramCredentials answers");
    for (user, result) in &described {
        assert!(!user.is_empty(), "{described:?}");
        if let Ok(infos) = result {
            assert!(!infos.is_empty(), "{described:?}");
        }
    }
}

/// SCRAM logins against a tansu that stores credentials.
mod live {
    use super::*;

    const SHA256_USER: &str = "alice";
    const SHA256_PASSWORD: &str = "alice-secret-256";
    const SHA512_USER: &str = "bob";
    const SHA512_PASSWORD: &str = "bob-secret-512";

    /// The tansu with SQLite storage: `TANSU_SQL_BIN`, or the one
    /// `scripts/install-tansu-sql.sh` builds (once per machine; the tests of
    /// this binary wait for the one build).
    fn sql_tansu() -> PathBuf {
        static BIN: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
        let bin = BIN.get_or_init(|| match std::env::var_os("TANSU_SQL_BIN") {
            Some(bin) if !bin.is_empty() => Ok(PathBuf::from(bin)),
            _ => build_sql_tansu(),
        });
        let path = bin.clone().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            path.is_file(),
            "{} is not a file: TANSU_SQL_BIN must name a tansu 0.6.0 built with \
             `--features libsql` (scripts/install-tansu-sql.sh builds one); the memory \
             storage of the default binary cannot keep SCRAM users",
            path.display()
        );
        path
    }

    fn build_sql_tansu() -> Result<PathBuf, String> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install-tansu-sql.sh");
        eprintln!("building tansu with SQLite storage ({script}; slow the first time)");
        let output = std::process::Command::new("bash")
            .arg(script)
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run {script}: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "{script} failed ({}): the live SCRAM logins need tansu 0.6.0 built with \
                 `--features libsql`; see its output above, or set TANSU_SQL_BIN",
                output.status
            ));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let path = stdout.trim().lines().last().unwrap_or_default();
        Ok(PathBuf::from(path))
    }

    /// A tansu with `--authentication` serving two SCRAM users, created
    /// through the admin client by a broker without authentication on the
    /// same SQLite file, which is stopped before the other one starts.
    fn broker_with_users() -> (Broker, tempdir::Dir) {
        let bin = sql_tansu();
        // tansu opens `sqlite://HOST/PATH` at `<its working directory>/HOST/PATH`
        // (it inherits ours); `target` is the URL's host.
        let relative = format!("kafka-sync-scram/{}", unique_name("db"));
        let dir = tempdir::Dir::new(
            std::env::current_dir()
                .unwrap()
                .join("target")
                .join(&relative),
        );
        let storage = format!("sqlite://target/{relative}/tansu.db");
        {
            let open = Broker::builder()
                .binary(&bin)
                .force_local(true)
                .arg("--storage-engine")
                .arg(&storage)
                .start()
                .expect("tansu (sqlite, no authentication) starts");
            let admin = KafkaClient::new(&open.bootstrap()).unwrap().admin();
            let results = admin
                .alter_user_scram_credentials(&[
                    Alter::upsert(
                        SHA256_USER,
                        ScramMechanism::ScramSha256,
                        8192,
                        SHA256_PASSWORD,
                    ),
                    Alter::upsert(
                        SHA512_USER,
                        ScramMechanism::ScramSha512,
                        4096,
                        SHA512_PASSWORD,
                    ),
                ])
                .expect("AlterUserScramCredentials answers");
            assert!(results.values().all(Result::is_ok), "{results:?}");
        }
        let broker = Broker::builder()
            .binary(&bin)
            .force_local(true)
            .authentication(true)
            .arg("--storage-engine")
            .arg(&storage)
            .start()
            .expect("tansu (sqlite, authentication) starts");
        (broker, dir)
    }

    fn login(broker: &Broker, sasl: Sasl) -> kafka_sync::Result<KafkaClient> {
        KafkaClient::builder()
            .hosts(broker.bootstrap())
            .sasl(sasl)
            .build()
    }

    fn produce_and_consume(client: &KafkaClient, value: &[u8]) {
        let topic_name = unique_name("scram");
        client
            .create_topic(&topic_name, 1, 1)
            .expect("topic created");
        let topic = client.topic(&topic_name).unwrap();
        let producer = topic.get_producer(ProducerConfig::default()).unwrap();
        producer.produce(value).expect("produced");
        producer.flush(Duration::from_secs(10)).expect("delivered");
        drop(producer);
        let consumer = topic
            .get_simple_consumer(
                SimpleConsumerConfig::default()
                    .auto_offset_reset(kafka_sync::OffsetReset::Earliest)
                    .consumer_timeout(Duration::from_secs(5)),
            )
            .unwrap();
        let first = consumer.into_iter().next().expect("a message").unwrap();
        assert_eq!(first.value(), Some(value));
    }

    #[test]
    fn users_created_through_the_admin_log_in_with_each_mechanism_and_produce_and_consume() {
        let (broker, _dir) = broker_with_users();
        let client = login(&broker, Sasl::scram_sha_256(SHA256_USER, SHA256_PASSWORD))
            .expect("SCRAM-SHA-256 login succeeds");
        produce_and_consume(&client, b"through SCRAM-SHA-256");
        let client = login(&broker, Sasl::scram_sha_512(SHA512_USER, SHA512_PASSWORD))
            .expect("SCRAM-SHA-512 login succeeds");
        produce_and_consume(&client, b"through SCRAM-SHA-512");
    }

    #[test]
    fn a_wrong_password_an_unknown_user_and_the_wrong_mechanism_fail_at_once() {
        let (broker, _dir) = broker_with_users();
        for sasl in [
            Sasl::scram_sha_256(SHA256_USER, "not-the-password"),
            Sasl::scram_sha_512("nobody", SHA512_PASSWORD),
            // alice has a SCRAM-SHA-256 credential only.
            Sasl::scram_sha_512(SHA256_USER, SHA256_PASSWORD),
        ] {
            let started = Instant::now();
            let e = login(&broker, sasl).unwrap_err();
            assert!(matches!(e, Error::Sasl(_)), "{e:?}");
            assert!(!e.is_retriable(), "{e}");
            assert!(started.elapsed() < Duration::from_secs(5), "{e}");
        }
    }
}

/// A directory removed on drop, without a dependency.
mod tempdir {
    use std::path::PathBuf;

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new(path: PathBuf) -> Dir {
            std::fs::create_dir_all(&path).expect("database directory");
            Dir(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
