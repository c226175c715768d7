//! Network faults in the connection and cluster layers: a broker that is
//! slow to connect, a metadata refresh stuck on a slow broker, a peer that
//! reads a trickle. Each test bounds what a *healthy* path may suffer from
//! the faulty one. Only loopback addresses are used.
#![cfg(all(feature = "testkit", feature = "unstable-internals"))]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use kafka_sync::net::{Connection, ConnectionConfig};
use kafka_sync::protocol::api::MetadataRequest;
use kafka_sync::testkit::{unique_name, MockCluster};
use kafka_sync::{KafkaClient, ProducerConfig, Record};

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
    MockCluster::API_VERSION_CAPS
        .iter()
        .fold(KafkaClient::builder().hosts(&first), |b, &(api, v)| {
            b.max_api_version(api, v)
        })
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

/// A fake broker that answers the ApiVersions handshake, then reads only a
/// trickle (4 KiB every 100 ms) and answers nothing.
fn trickle_reader() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || serve_trickle(stream));
        }
    });
    addr
}

fn read_request(stream: &mut TcpStream) -> Option<(i16, i16, i32)> {
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).ok()?;
    let mut frame = vec![0u8; i32::from_be_bytes(size) as usize];
    stream.read_exact(&mut frame).ok()?;
    let api_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    Some((api_key, version, correlation_id))
}

fn serve_trickle(mut stream: TcpStream) {
    // ApiVersions: v3 is refused with a v0 body, v0 answered (ApiVersions
    // v0..=0 and Metadata v0..=1).
    while let Some((api_key, version, correlation_id)) = read_request(&mut stream) {
        assert_eq!(api_key, 18, "the handshake comes first");
        let error: i16 = if version > 0 { 35 } else { 0 };
        let mut body = correlation_id.to_be_bytes().to_vec();
        body.extend_from_slice(&error.to_be_bytes());
        body.extend_from_slice(&2i32.to_be_bytes());
        for (key, min, max) in [(18i16, 0i16, 0i16), (3, 0, 1)] {
            body.extend_from_slice(&key.to_be_bytes());
            body.extend_from_slice(&min.to_be_bytes());
            body.extend_from_slice(&max.to_be_bytes());
        }
        let mut frame = (body.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        stream.write_all(&frame).unwrap();
        if version == 0 {
            break;
        }
    }
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => thread::sleep(Duration::from_millis(100)),
        }
    }
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
/// one-member group (requests coded with the independent `kafka-protocol`
/// crate).
mod sasl_coordinator {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::{
        ApiKey, ApiVersionsResponse, BrokerId, FindCoordinatorResponse, HeartbeatResponse,
        JoinGroupRequest, JoinGroupResponse, LeaveGroupResponse, MetadataResponse, RequestHeader,
        ResponseHeader, SaslAuthenticateResponse, SaslHandshakeResponse, SyncGroupRequest,
        SyncGroupResponse, TopicName,
    };
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

    pub const TOPIC: &str = "renewed";
    pub const LIFETIME: Duration = Duration::from_millis(1500);

    #[derive(Default)]
    pub struct Seen {
        /// Successful authentications.
        pub logins: AtomicUsize,
        /// Requests that arrived on an expired session (connection closed).
        pub expired: AtomicUsize,
        pub heartbeats: AtomicUsize,
        assignment: Mutex<Bytes>,
    }

    pub fn start() -> (String, Arc<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Seen::default());
        let shared = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, port, &seen));
            }
        });
        (format!("127.0.0.1:{port}"), seen)
    }

    fn read_frame(stream: &mut TcpStream) -> Option<Bytes> {
        let mut size = [0u8; 4];
        stream.read_exact(&mut size).ok()?;
        let mut body = vec![0u8; usize::try_from(i32::from_be_bytes(size)).ok()?];
        stream.read_exact(&mut body).ok()?;
        Some(Bytes::from(body))
    }

    fn str(s: &str) -> StrBytes {
        StrBytes::from_string(s.to_owned())
    }

    fn serve(mut stream: TcpStream, port: u16, seen: &Seen) {
        let mut session_ends: Option<Instant> = None;
        while let Some(mut frame) = read_frame(&mut stream) {
            let api_key = i16::from_be_bytes([frame[0], frame[1]]);
            let version = i16::from_be_bytes([frame[2], frame[3]]);
            let key = ApiKey::try_from(api_key).expect("known api");
            let header =
                RequestHeader::decode(&mut frame, key.request_header_version(version)).unwrap();
            let sasl = matches!(
                key,
                ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
            );
            if !sasl && session_ends.is_none_or(|end| Instant::now() >= end) {
                // KIP-368: the broker closes a connection whose session ended.
                seen.expired.fetch_add(1, Ordering::SeqCst);
                return;
            }
            let mut body = BytesMut::new();
            match key {
                ApiKey::ApiVersions => {
                    let versions = [
                        (ApiKey::ApiVersions, 0, 3),
                        (ApiKey::SaslHandshake, 0, 1),
                        (ApiKey::SaslAuthenticate, 0, 2),
                        (ApiKey::Metadata, 1, 8),
                        (ApiKey::FindCoordinator, 0, 3),
                        (ApiKey::JoinGroup, 2, 7),
                        (ApiKey::SyncGroup, 0, 4),
                        (ApiKey::Heartbeat, 0, 4),
                        (ApiKey::LeaveGroup, 0, 4),
                    ];
                    ApiVersionsResponse::default()
                        .with_api_keys(
                            versions
                                .iter()
                                .map(|&(k, min, max)| {
                                    ApiVersion::default()
                                        .with_api_key(k as i16)
                                        .with_min_version(min)
                                        .with_max_version(max)
                                })
                                .collect(),
                        )
                        .encode(&mut body, version)
                        .unwrap();
                }
                ApiKey::SaslHandshake => SaslHandshakeResponse::default()
                    .with_mechanisms(vec![str("PLAIN")])
                    .encode(&mut body, version)
                    .unwrap(),
                ApiKey::SaslAuthenticate => {
                    seen.logins.fetch_add(1, Ordering::SeqCst);
                    session_ends = Some(Instant::now() + LIFETIME);
                    SaslAuthenticateResponse::default()
                        .with_session_lifetime_ms(LIFETIME.as_millis() as i64)
                        .encode(&mut body, version)
                        .unwrap();
                }
                ApiKey::Metadata => MetadataResponse::default()
                    .with_brokers(vec![MetadataResponseBroker::default()
                        .with_node_id(BrokerId(1))
                        .with_host(str("127.0.0.1"))
                        .with_port(i32::from(port))])
                    .with_controller_id(BrokerId(1))
                    .with_topics(vec![MetadataResponseTopic::default()
                        .with_name(Some(TopicName(str(TOPIC))))
                        .with_partitions(vec![MetadataResponsePartition::default()
                            .with_partition_index(0)
                            .with_leader_id(BrokerId(1))
                            .with_replica_nodes(vec![BrokerId(1)])
                            .with_isr_nodes(vec![BrokerId(1)])])])
                    .encode(&mut body, version)
                    .unwrap(),
                ApiKey::FindCoordinator => FindCoordinatorResponse::default()
                    .with_node_id(BrokerId(1))
                    .with_host(str("127.0.0.1"))
                    .with_port(i32::from(port))
                    .encode(&mut body, version)
                    .unwrap(),
                ApiKey::JoinGroup => {
                    let request = JoinGroupRequest::decode(&mut frame, version).unwrap();
                    let mut response = JoinGroupResponse::default();
                    if request.member_id.is_empty() {
                        response.error_code = 79; // MEMBER_ID_REQUIRED
                        response.member_id = str("member-1");
                    } else {
                        let protocol = request.protocols.first().expect("a protocol");
                        response.generation_id = 1;
                        response.protocol_type = Some(str("consumer"));
                        response.protocol_name = Some(protocol.name.clone());
                        response.leader = request.member_id.clone();
                        response.member_id = request.member_id.clone();
                        response.members = vec![JoinGroupResponseMember::default()
                            .with_member_id(request.member_id.clone())
                            .with_metadata(protocol.metadata.clone())];
                    }
                    response.encode(&mut body, version).unwrap();
                }
                ApiKey::SyncGroup => {
                    let request = SyncGroupRequest::decode(&mut frame, version).unwrap();
                    let mut assignment = seen.assignment.lock().unwrap();
                    if let Some(mine) = request
                        .assignments
                        .iter()
                        .find(|a| a.member_id == request.member_id)
                    {
                        *assignment = mine.assignment.clone();
                    }
                    SyncGroupResponse::default()
                        .with_protocol_type(request.protocol_type.clone())
                        .with_protocol_name(request.protocol_name.clone())
                        .with_assignment(assignment.clone())
                        .encode(&mut body, version)
                        .unwrap();
                }
                ApiKey::Heartbeat => {
                    seen.heartbeats.fetch_add(1, Ordering::SeqCst);
                    HeartbeatResponse::default()
                        .encode(&mut body, version)
                        .unwrap();
                }
                ApiKey::LeaveGroup => LeaveGroupResponse::default()
                    .encode(&mut body, version)
                    .unwrap(),
                other => panic!("the fake coordinator does not serve {other:?}"),
            }
            let mut out = BytesMut::new();
            ResponseHeader::default()
                .with_correlation_id(header.correlation_id)
                .encode(&mut out, key.response_header_version(version))
                .unwrap();
            out.extend_from_slice(&body);
            let mut framed = (out.len() as i32).to_be_bytes().to_vec();
            framed.extend_from_slice(&out);
            if stream.write_all(&framed).is_err() {
                return;
            }
        }
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

    let (bootstrap, seen) = sasl_coordinator::start();
    let client = KafkaClient::builder()
        .hosts(&bootstrap)
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
    let heartbeats = seen.heartbeats.load(Ordering::SeqCst);
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

/// A listener that accepts connections and never answers: the TCP handshake
/// completes, ApiVersions gets no answer, so connecting hangs until the
/// request timeout.
fn silent_broker() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    addr
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
