//! A broker that misbehaves — garbage, a huge length prefix, a frame cut off
//! mid-way, silence — must cost the caller one failed request with a clear
//! error, never a panic, a hang or a huge allocation; the next connection
//! works again.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use kafka_sync::net::{Connection, ConnectionConfig};
use kafka_sync::protocol::api::ApiVersionsRequest;
use kafka_sync::{Error, TimeoutKind};
use support::fake_broker::{
    api_versions_v0, framed, free_port, old_api_versions, FakeBroker, Reply, Request,
};

/// What the fake broker does with the first request after the handshake.
#[derive(Clone, Copy)]
enum Misbehaviour {
    Garbage,
    HugeLength,
    CloseMidFrame,
    Silence,
    NegativeLength,
    WrongCorrelationId,
}

/// ApiVersions v0 and Metadata v1–v12, so the client's second request
/// (ApiVersions or Metadata) reaches the misbehaviour.
const APIS: [(i16, i16, i16); 2] = [(18, 0, 0), (3, 1, 12)];

/// One connection's handler: a correct ApiVersions handshake (first
/// rejecting v3, as an old broker would), then `how` on the next request.
fn misbehaving(how: Misbehaviour) -> impl FnMut(&Request) -> Reply {
    let mut handshaken = false;
    move |request| {
        if !handshaken {
            assert_eq!(request.api_key, 18);
            handshaken = request.api_version == 0;
            return Reply::Body(old_api_versions(request, &APIS));
        }
        match how {
            Misbehaviour::Garbage => {
                Reply::Raw(vec![0, 0, 0, 8, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4])
            }
            Misbehaviour::HugeLength => Reply::Raw(vec![0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]),
            Misbehaviour::NegativeLength => Reply::Raw(vec![0xff, 0xff, 0xff, 0xf0]),
            Misbehaviour::CloseMidFrame => {
                // The client sees EOF mid-frame.
                let mut cut = vec![0, 0, 0, 100];
                cut.extend_from_slice(&request.correlation_id.to_be_bytes());
                cut.extend_from_slice(&[0; 6]);
                Reply::RawThenClose(cut)
            }
            Misbehaviour::WrongCorrelationId => {
                let mut frame = (request.correlation_id + 1000).to_be_bytes().to_vec();
                frame.extend_from_slice(&api_versions_v0(0, &APIS));
                Reply::Raw(framed(&frame))
            }
            // The socket stays open until the client gives up on it.
            Misbehaviour::Silence => Reply::Nothing,
        }
    }
}

/// Starts a fake broker that misbehaves on every connection; returns its address.
fn fake_broker(how: Misbehaviour) -> String {
    FakeBroker::start(move || misbehaving(how)).bootstrap()
}

fn config() -> ConnectionConfig {
    ConnectionConfig {
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        ..ConnectionConfig::default()
    }
}

fn second_request_fails(how: Misbehaviour) -> Error {
    let addr = fake_broker(how);
    let conn = Connection::connect(&addr, &config()).expect("handshake succeeds");
    let error = conn
        .request(&ApiVersionsRequest::default())
        .expect_err("the misbehaving answer is an error");
    assert!(conn.is_closed(), "a broken stream is closed, not reused");
    // A fresh connection to the same peer handshakes again: nothing is poisoned.
    let again = Connection::connect(&addr, &config()).expect("reconnect succeeds");
    assert!(!again.is_closed());
    error
}

#[test]
fn an_old_broker_rejecting_api_versions_v3_is_retried_at_v0() {
    let addr = fake_broker(Misbehaviour::Silence);
    let conn = Connection::connect(&addr, &config()).unwrap();
    assert_eq!(conn.api_range(18).unwrap().max_version, 0);
}

#[test]
fn garbage_is_a_protocol_error() {
    let e = second_request_fails(Misbehaviour::Garbage);
    assert!(matches!(e, Error::Protocol { .. }), "{e}");
}

#[test]
fn a_wrong_correlation_id_is_a_protocol_error() {
    let e = second_request_fails(Misbehaviour::WrongCorrelationId);
    assert!(
        matches!(e, Error::Protocol { ref detail, .. } if detail.contains("correlation")),
        "{e}"
    );
}

#[test]
fn a_huge_length_prefix_is_refused_without_allocating() {
    let e = second_request_fails(Misbehaviour::HugeLength);
    assert!(
        matches!(
            e,
            Error::FrameTooLarge {
                size: 0x7fff_ffff,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("max_response_size"), "{e}");
}

#[test]
fn a_negative_length_prefix_is_a_protocol_error() {
    let e = second_request_fails(Misbehaviour::NegativeLength);
    assert!(matches!(e, Error::Protocol { .. }), "{e}");
}

#[test]
fn a_frame_cut_off_mid_way_is_an_io_error() {
    let e = second_request_fails(Misbehaviour::CloseMidFrame);
    assert!(matches!(e, Error::Io { .. }), "{e}");
}

#[test]
fn a_silent_broker_times_out_after_request_timeout() {
    let start = Instant::now();
    let e = second_request_fails(Misbehaviour::Silence);
    assert!(
        matches!(
            e,
            Error::Timeout {
                kind: TimeoutKind::Request,
                ..
            }
        ),
        "{e}"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_dead_address_fails_to_connect_with_an_io_error() {
    let port = free_port();
    let e = Connection::connect(&format!("127.0.0.1:{port}"), &config()).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    assert!(e.to_string().contains(&port.to_string()), "{e}");
}

#[test]
fn many_threads_share_one_connection() {
    // A well-behaved fake: answers every ApiVersions v0 request.
    let addr =
        FakeBroker::start(|| |request: &Request| Reply::Body(old_api_versions(request, &APIS)))
            .bootstrap();
    let conn = std::sync::Arc::new(Connection::connect(&addr, &config()).unwrap());
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let conn = conn.clone();
            thread::spawn(move || {
                for _ in 0..50 {
                    let pending: Vec<_> = (0..4)
                        .map(|_| conn.send(&ApiVersionsRequest::default()).unwrap())
                        .collect();
                    for p in pending {
                        p.wait().unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(!conn.is_closed());
}

#[cfg(feature = "testkit")]
#[test]
fn a_client_whose_first_bootstrap_host_misbehaves_uses_the_next_one() {
    let live = kafka_sync::testkit::shared().unwrap().bootstrap();
    for how in [
        Misbehaviour::Garbage,
        Misbehaviour::HugeLength,
        Misbehaviour::CloseMidFrame,
    ] {
        let hosts = format!("{},{live}", fake_broker(how));
        let client = kafka_sync::KafkaClient::builder()
            .hosts(hosts)
            .request_timeout(Duration::from_secs(2))
            .build()
            .expect("the live host answers after the hostile one fails");
        assert!(!client.brokers().is_empty());
        client.topics().unwrap();
    }
}
