//! Network faults in the connection and cluster layers: a broker that is
//! slow to connect, a metadata refresh stuck on a slow broker, a peer that
//! reads a trickle. Each test bounds what a *healthy* path may suffer from
//! the faulty one. Only loopback addresses are used.
#![cfg(all(feature = "testkit", feature = "unstable-internals"))]

mod support;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use kafka_sync::net::{Connection, ConnectionConfig};
use kafka_sync::protocol::api::MetadataRequest;
use kafka_sync::testkit::{unique_name, MockCluster};
use kafka_sync::{KafkaClient, ProducerConfig, Record};
use support::fake_broker::{old_api_versions, FakeBroker, Reply, Request};

/// A 3-broker mock cluster.
fn cluster() -> MockCluster {
    MockCluster::builder()
        .brokers(3)
        .start()
        .expect("the mock cluster starts")
}

/// A client for the mock, with the version caps its bugs need, bootstrapped
/// through broker 1 only (so brokers 2 and 3 are not connected yet).
fn client(cluster: &MockCluster, metadata_max_age: Duration) -> KafkaClient {
    let first = cluster.bootstrap().split(',').next().unwrap().to_owned();
    cluster
        .client_builder()
        .hosts(first)
        .request_timeout(Duration::from_secs(10))
        .metadata_max_age(metadata_max_age)
        .build()
        .expect("the client bootstraps against the mock cluster")
}

/// H4: the sender serves every broker from one thread. A broker whose
/// connection takes seconds to open (its answers come after an 8 s round
/// trip, so ApiVersions hangs) must not hold up records for a healthy one.
#[test]
fn a_broker_slow_to_connect_does_not_stall_producing_to_the_others() {
    let cluster = cluster();
    let topic = unique_name("slow-connect");
    cluster.create_topic(&topic, 2, 3).unwrap();
    cluster.set_leader(&topic, 0, 1).unwrap();
    cluster.set_leader(&topic, 1, 3).unwrap();
    let client = client(&cluster, Duration::from_secs(300));
    // Learn the leaders while broker 3 is still fast.
    client.topic(&topic).unwrap();
    cluster.round_trip_time(3, Duration::from_secs(8)).unwrap();
    let producer = client
        .get_producer(
            ProducerConfig::default()
                .linger(Duration::from_millis(1))
                .delivery_reports(true),
        )
        .unwrap();
    // The sender starts connecting to broker 3 for this one...
    producer
        .send(&topic, Record::new("to the slow broker").partition(1))
        .unwrap();
    thread::sleep(Duration::from_millis(100));
    // ... while records for broker 1 keep their normal latency.
    let mut worst = Duration::ZERO;
    for i in 0..10 {
        let sent = Instant::now();
        producer
            .send(&topic, Record::new(format!("healthy {i}")).partition(0))
            .unwrap();
        loop {
            let report = producer
                .delivery_reports()
                .recv_timeout(Duration::from_secs(30))
                .expect("a delivery report");
            if report.partition == 0 {
                report.result.expect("delivered to the healthy broker");
                break;
            }
        }
        worst = worst.max(sent.elapsed());
    }
    eprintln!("worst delivery latency to the healthy broker: {worst:?}");
    assert!(
        worst < Duration::from_millis(1500),
        "a record for the healthy broker took {worst:?}"
    );
    cluster.round_trip_time(3, Duration::ZERO).unwrap();
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// H3: a metadata refresh stuck on a slow broker holds no lock: a producer
/// whose topic metadata must be refreshed gives up at its own `max_block`
/// instead of queueing behind the stuck refresh.
#[test]
fn a_stuck_metadata_refresh_delays_nobody_past_their_own_deadline() {
    let cluster = cluster();
    let topic = unique_name("stuck-refresh");
    cluster.create_topic(&topic, 1, 3).unwrap();
    let client = client(&cluster, Duration::from_millis(200));
    client.topic(&topic).unwrap();
    let producer = client
        .get_producer(ProducerConfig::default().max_block(Duration::from_millis(500)))
        .unwrap();
    // Broker 1 carries the client's only connection: every Metadata
    // request now takes 5 s.
    cluster.round_trip_time(1, Duration::from_secs(5)).unwrap();
    let refresher = {
        let client = client.clone();
        thread::spawn(move || client.refresh_metadata())
    };
    thread::sleep(Duration::from_millis(300));
    // The cached metadata is older than metadata_max_age now.
    let started = Instant::now();
    let sent = producer.send(&topic, Record::new("x"));
    let took = started.elapsed();
    eprintln!("send with max_block 500 ms returned after {took:?}: {sent:?}");
    assert!(
        took < Duration::from_millis(1500),
        "send waited {took:?} ({sent:?}) with max_block 500 ms"
    );
    cluster.round_trip_time(1, Duration::ZERO).unwrap();
    refresher
        .join()
        .unwrap()
        .expect("the slow refresh succeeds");
}

/// A fake broker that answers the ApiVersions handshake (v3 refused, v0
/// answered: ApiVersions v0..=0 and Metadata v0..=1), then reads only a
/// trickle (4 KiB every 100 ms) and answers nothing.
fn trickle_reader() -> String {
    FakeBroker::start(|| {
        |request: &Request| {
            assert_eq!(request.api_key, 18, "the handshake comes first");
            let body = old_api_versions(request, &[(18, 0, 0), (3, 0, 1)]);
            if request.api_version > 0 {
                Reply::Body(body)
            } else {
                Reply::BodyThenTrickle {
                    body,
                    chunk: 4096,
                    every: Duration::from_millis(100),
                }
            }
        }
    })
    .bootstrap()
}

/// A peer that reads a trickle cannot hold a connection's writer past the
/// request timeout: the big write times out at its deadline, and a small
/// request queued behind it fails by its own deadline, both retriably (the
/// connection is closed, as after any request timeout).
#[test]
fn a_peer_reading_a_trickle_cannot_hold_writers_past_their_request_timeout() {
    let addr = trickle_reader();
    let config = ConnectionConfig {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(1),
        ..ConnectionConfig::default()
    };
    let conn = Arc::new(Connection::connect(&addr, &config).unwrap());
    // About 64 MiB: far more than the socket buffers hold.
    let names: Vec<String> = (0..65_536).map(|i| format!("{i:01000}")).collect();
    let mut big = MetadataRequest::for_topics(names);
    big.allow_auto_topic_creation = true;
    let writer = {
        let conn = Arc::clone(&conn);
        thread::spawn(move || {
            let started = Instant::now();
            let result = conn.send(&big).map(drop);
            (result, started.elapsed())
        })
    };
    thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let mut request = MetadataRequest::for_topics(["t"]);
    request.allow_auto_topic_creation = true;
    let small = conn.send(&request).and_then(|pending| pending.wait());
    let took = started.elapsed();
    let error = small.expect_err("nothing answers");
    assert!(error.is_retriable(), "{error}");
    assert!(
        took < Duration::from_millis(2500),
        "the small request took {took:?}"
    );
    let (big, big_took) = writer.join().unwrap();
    eprintln!("small request failed after {took:?}, the big write after {big_took:?}");
    let error = big.expect_err("the big write cannot finish");
    assert!(error.is_retriable(), "{error}");
    assert!(
        big_took < Duration::from_millis(2500),
        "the big write took {big_took:?}"
    );
    assert!(conn.is_closed());
}

/// M8: a SASL coordinator (PLAIN, session lifetime 1.5 s) that, like a Kafka
/// broker (KIP-368), closes a connection whose session has expired when a
/// request other than SASL arrives on it; it serves one topic and a
/// one-member group (`support::fake_coordinator` behind
/// `support::fake_sasl`).
mod sasl_coordinator {
    use super::support::fake_coordinator::{FakeCoordinator, APIS};
    use super::support::fake_sasl::{sasl_server, FakeSasl};

    pub const TOPIC: &str = "renewed";
    const LIFETIME_MS: i64 = 1500;

    pub fn start() -> (FakeCoordinator, FakeSasl) {
        let fake = FakeSasl {
            mechanisms: vec!["PLAIN"],
            session_lifetime_ms: LIFETIME_MS,
            apis: APIS.to_vec(),
            close_expired_sessions: true,
            ..FakeSasl::default()
        };
        let front = fake.clone();
        let coordinator = FakeCoordinator::start_behind(TOPIC, 1, move |handler| {
            sasl_server(front.clone(), Some(handler))
        });
        (coordinator, fake)
    }
}

/// M8: the group membership's dedicated coordinator connection (outside the
/// pool) is renewed before its SASL session ends, like pooled connections:
/// the broker never has to close a connection for an expired session, and
/// heartbeats go on.
#[test]
fn the_dedicated_coordinator_connection_is_renewed_before_its_session_ends() {
    use kafka_sync::consumer::membership::{
        GroupEvent, GroupMembership, MembershipConfig, Subscription,
    };
    use std::sync::atomic::Ordering;

    let (coordinator, seen) = sasl_coordinator::start();
    let client = KafkaClient::builder()
        .hosts(coordinator.bootstrap())
        .sasl(kafka_sync::Sasl::plain("alice", "alice-secret"))
        .build()
        .expect("the client bootstraps");
    let config = MembershipConfig::new(
        "renewal-group",
        Subscription::topics([sasl_coordinator::TOPIC]),
    )
    .session_timeout(Duration::from_secs(6))
    .heartbeat_interval(Duration::from_millis(100))
    .close_timeout(Duration::from_secs(2));
    let member = GroupMembership::start(&client, config).expect("membership starts");
    member.poll();
    match member.events().recv_timeout(Duration::from_secs(20)) {
        Ok(GroupEvent::Assigned { .. }) => {}
        other => panic!("expected an assignment, got {other:?}"),
    }
    // Two and a half session lifetimes of heartbeats.
    let until = Instant::now() + Duration::from_millis(3750);
    while Instant::now() < until {
        member.poll();
        if let Ok(event) = member.events().recv_timeout(Duration::from_millis(100)) {
            panic!("no event expected while heartbeating, got {event:?}");
        }
    }
    let heartbeats = coordinator.script().count("Heartbeat");
    let logins = seen.logins.load(Ordering::SeqCst);
    assert_eq!(
        seen.expired.load(Ordering::SeqCst),
        0,
        "requests arrived on expired sessions ({heartbeats} heartbeats, {logins} logins)"
    );
    assert!(heartbeats >= 10, "{heartbeats} heartbeats");
    // The pooled connection once, the dedicated one and at least two renewals.
    assert!(logins >= 4, "{logins} logins");
}

/// M8: the consumer's fetcher talks to partition leaders on connections of
/// its own (outside the pool), and renews one before its SASL session ends:
/// once the connection in use reports `session_expiring()`, a replacement
/// is opened in the background and takes over (the old one retired) when it
/// arrives. Behind a SASL front (PLAIN, session lifetime 1.5 s) that closes
/// a connection whose session has expired when a request arrives on it, as
/// KIP-368 brokers do (`support::fake_cluster` behind `support::fake_sasl`),
/// a consumer reads records appended one at a time for three session
/// lifetimes: every one in order, and no request on an expired session.
#[test]
fn the_fetchers_own_connection_is_renewed_before_its_session_ends() {
    use std::sync::atomic::Ordering;
    use support::fake_cluster::{FakeCluster, APIS};
    use support::fake_sasl::{sasl_server, FakeSasl};

    const LIFETIME: Duration = Duration::from_millis(1500);
    let seen = FakeSasl {
        mechanisms: vec!["PLAIN"],
        session_lifetime_ms: i64::try_from(LIFETIME.as_millis()).unwrap(),
        apis: APIS.to_vec(),
        close_expired_sessions: true,
        ..FakeSasl::default()
    };
    let front = seen.clone();
    let cluster = FakeCluster::start_behind("renewed-fetches", 1, &[1], move |handler| {
        sasl_server(front.clone(), Some(handler))
    });
    let client = KafkaClient::builder()
        .hosts(cluster.bootstrap())
        .sasl(kafka_sync::Sasl::plain("alice", "alice-secret"))
        .build()
        .expect("the client bootstraps");
    let consumer = client
        .topic("renewed-fetches")
        .unwrap()
        .get_simple_consumer(support::earliest())
        .unwrap();
    let until = Instant::now() + 3 * LIFETIME;
    let mut read = 0;
    while Instant::now() < until {
        let value = format!("v{read}");
        cluster.append(0, &[&value]);
        let message = consumer
            .consume(support::DEADLINE)
            .unwrap()
            .unwrap_or_else(|| panic!("record {read} did not arrive"));
        assert_eq!(
            (message.offset(), support::value_str(&message)),
            (read, value),
            "records arrive in order"
        );
        read += 1;
        // Paced (the fetches go on between records, an empty one every
        // 20 ms or so): a few hundred records, not thousands.
        thread::sleep(Duration::from_millis(10));
    }
    let logins = seen.logins.load(Ordering::SeqCst);
    eprintln!(
        "{read} records read over {} connections, {logins} logins",
        seen.connections.load(Ordering::SeqCst)
    );
    assert_eq!(
        seen.expired.load(Ordering::SeqCst),
        0,
        "requests arrived on expired sessions ({read} records read, {logins} logins)"
    );
    assert!(read >= 10, "only {read} records read");
    // The pooled connection once, the fetcher's own and at least two
    // renewals of it.
    assert!(logins >= 4, "{logins} logins");
    assert!(
        consumer
            .consume(Duration::from_millis(200))
            .unwrap()
            .is_none(),
        "nothing more than was appended"
    );
}

/// A listener that accepts connections and never answers: the TCP handshake
/// completes, ApiVersions gets no answer, so connecting hangs until the
/// request timeout.
fn silent_broker() -> String {
    FakeBroker::start(|| |_: &Request| Reply::Nothing).bootstrap()
}

/// The pool's slot is not held while one thread connects: a second thread
/// wanting the same broker gives up at its own deadline, not when the first
/// thread's attempt ends.
#[test]
fn a_pool_waiter_gives_up_at_its_own_deadline_while_another_connects() {
    use kafka_sync::net::{Backoff, ConnectionPool};
    let addr = silent_broker();
    let pool = Arc::new(ConnectionPool::new(
        ConnectionConfig {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(4),
            ..ConnectionConfig::default()
        },
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        },
    ));
    let first = {
        let pool = Arc::clone(&pool);
        let addr = addr.clone();
        thread::spawn(move || {
            let started = Instant::now();
            let result = pool.get(&addr, Instant::now() + Duration::from_secs(10));
            (result.map(drop), started.elapsed())
        })
    };
    thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let second = pool.get(&addr, Instant::now() + Duration::from_millis(300));
    let took = started.elapsed();
    eprintln!("the second waiter gave up after {took:?}");
    let error = second.expect_err("nothing answers");
    assert!(error.is_retriable(), "{error}");
    assert!(took < Duration::from_millis(1000), "took {took:?}: {error}");
    let (first, first_took) = first.join().unwrap();
    assert!(first.is_err());
    // The first caller's attempt ends with the ApiVersions timeout.
    assert!(first_took >= Duration::from_secs(3), "{first_took:?}");
}
