//! The standard `consumer` embedded protocol: what consumer group members put
//! in JoinGroup metadata and SyncGroup assignments.
//!
//! The group coordinator treats both as opaque bytes; every consumer client
//! (Java, librdkafka, kafka-python, …) encodes them the same way so members of
//! different clients can share a group. Each is an i16 version followed by
//! the fields of that version, in the classic (non-flexible) encoding.
//!
//! Like the Java client, decoding accepts versions newer than this crate
//! knows: it reads the fields it knows and ignores the rest, since later
//! versions may only append fields. Trailing bytes are ignored at every
//! version, as Java does, so one oddly encoded member cannot stall a group.
//!
//! # References
//! Kafka protocol guide, "The Messages" (`ConsumerProtocolSubscription`,
//! `ConsumerProtocolAssignment` schemas); KIP-429 (owned partitions), KIP-792
//! (generation id), KIP-881 (rack id).

use super::{DecodeError, DecodeResult, Decoder, EncodeError, Encoder};

/// The JoinGroup `protocol_type` of consumer groups.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// Partitions of one topic, in a subscription's owned partitions or an
/// assignment (`TopicPartition` in Kafka's schema).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TopicPartitions {
    /// Topic name.
    pub topic: String,
    /// Partition indexes.
    pub partitions: Vec<i32>,
}

/// What a consumer sends as JoinGroup protocol metadata: the topics it
/// subscribes to and, for cooperative rebalancing, what it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerProtocolSubscription {
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// Assignor-specific data.
    pub user_data: Option<Vec<u8>>,
    /// Partitions the member owns (v1+; dropped earlier).
    pub owned_partitions: Vec<TopicPartitions>,
    /// The generation `owned_partitions` belong to (v2+; dropped earlier), -1
    /// when unknown.
    pub generation_id: i32,
    /// The member's rack, for rack-aware assignors (v3+; dropped earlier).
    pub rack_id: Option<String>,
}

impl Default for ConsumerProtocolSubscription {
    fn default() -> Self {
        ConsumerProtocolSubscription {
            topics: Vec::new(),
            user_data: None,
            owned_partitions: Vec::new(),
            generation_id: -1,
            rack_id: None,
        }
    }
}

/// What a group leader sends each member in SyncGroup: its partitions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerProtocolAssignment {
    /// The member's partitions.
    pub assigned_partitions: Vec<TopicPartitions>,
    /// Assignor-specific data.
    pub user_data: Option<Vec<u8>>,
}

impl ConsumerProtocolSubscription {
    /// The newest version this crate encodes and fully decodes.
    pub const MAX_VERSION: i16 = 3;

    /// Encodes at `version` (0..=3), version prefix included.
    pub fn encode(&self, version: i16) -> Result<Vec<u8>, EncodeError> {
        let mut buf = Vec::new();
        let mut e = Encoder::new(&mut buf);
        start(&mut e, version, Self::MAX_VERSION)?;
        e.array_of(&self.topics, |e, t| e.string(t))?;
        e.nullable_bytes(self.user_data.as_deref())?;
        if version >= 1 {
            encode_topic_partitions(&mut e, &self.owned_partitions)?;
        }
        if version >= 2 {
            e.i32(self.generation_id);
        }
        if version >= 3 {
            e.nullable_string(self.rack_id.as_deref())?;
        }
        Ok(buf)
    }

    /// Decodes a subscription of any version (see the module docs for newer
    /// versions); fields the version lacks keep their defaults.
    pub fn decode(bytes: &[u8]) -> DecodeResult<Self> {
        let mut d = Decoder::new(bytes);
        let version = read_version(&mut d)?;
        let topics = d.array_of(2, |d| d.string())?;
        let user_data = d.nullable_bytes()?.map(<[u8]>::to_vec);
        let owned_partitions = if version >= 1 {
            decode_topic_partitions(&mut d)?
        } else {
            Vec::new()
        };
        let generation_id = if version >= 2 { d.i32()? } else { -1 };
        let rack_id = if version >= 3 {
            d.nullable_string()?
        } else {
            None
        };
        Ok(ConsumerProtocolSubscription {
            topics,
            user_data,
            owned_partitions,
            generation_id,
            rack_id,
        })
    }
}

impl ConsumerProtocolAssignment {
    /// The newest version this crate encodes. Versions 0-3 share one layout.
    pub const MAX_VERSION: i16 = 3;

    /// Encodes at `version` (0..=3), version prefix included.
    pub fn encode(&self, version: i16) -> Result<Vec<u8>, EncodeError> {
        let mut buf = Vec::new();
        let mut e = Encoder::new(&mut buf);
        start(&mut e, version, Self::MAX_VERSION)?;
        encode_topic_partitions(&mut e, &self.assigned_partitions)?;
        e.nullable_bytes(self.user_data.as_deref())?;
        Ok(buf)
    }

    /// Decodes an assignment of any version (see the module docs). An empty
    /// SyncGroup assignment (a leader that assigned a member nothing may send
    /// zero bytes) is an error here; callers treat it as no partitions.
    pub fn decode(bytes: &[u8]) -> DecodeResult<Self> {
        let mut d = Decoder::new(bytes);
        read_version(&mut d)?;
        let assigned_partitions = decode_topic_partitions(&mut d)?;
        let user_data = d.nullable_bytes()?.map(<[u8]>::to_vec);
        Ok(ConsumerProtocolAssignment {
            assigned_partitions,
            user_data,
        })
    }
}

/// The version prefix of an encoded subscription or assignment.
pub fn version(bytes: &[u8]) -> DecodeResult<i16> {
    read_version(&mut Decoder::new(bytes))
}

fn start(e: &mut Encoder<'_>, version: i16, max_version: i16) -> Result<(), EncodeError> {
    if !(0..=max_version).contains(&version) {
        return Err(EncodeError::Unsupported(
            "consumer protocol version outside 0..=3",
        ));
    }
    e.i16(version);
    Ok(())
}

fn read_version(d: &mut Decoder<'_>) -> DecodeResult<i16> {
    let version = d.i16()?;
    if version < 0 {
        return Err(DecodeError::InvalidOwned(format!(
            "consumer protocol version {version}"
        )));
    }
    Ok(version)
}

fn encode_topic_partitions(
    e: &mut Encoder<'_>,
    topics: &[TopicPartitions],
) -> Result<(), EncodeError> {
    e.array_of(topics, |e, t| {
        e.string(&t.topic)?;
        e.array_of(&t.partitions, |e, &p| {
            e.i32(p);
            Ok(())
        })
    })
}

fn decode_topic_partitions(d: &mut Decoder<'_>) -> DecodeResult<Vec<TopicPartitions>> {
    // topic name length, partition count.
    d.array_of(6, |d| {
        Ok(TopicPartitions {
            topic: d.string()?,
            partitions: d.array_of(4, |d| d.i32())?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as OracleAssigned;
    use kafka_protocol::messages::consumer_protocol_subscription::TopicPartition as OracleOwned;
    use kafka_protocol::messages::{
        ConsumerProtocolAssignment as OracleAssignment,
        ConsumerProtocolSubscription as OracleSubscription, TopicName,
    };
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
    use proptest::prelude::*;

    fn s(v: &str) -> StrBytes {
        StrBytes::from_string(v.to_owned())
    }

    fn oracle_encode<M: Encodable>(m: &M, version: i16) -> Vec<u8> {
        let mut buf = bytes::BytesMut::new();
        buf.extend_from_slice(&version.to_be_bytes());
        m.encode(&mut buf, version).expect("oracle encodes");
        buf.to_vec()
    }

    fn oracle_decode<M: Decodable>(bytes: &[u8]) -> M {
        let mut buf = bytes::Bytes::copy_from_slice(&bytes[2..]);
        let version = i16::from_be_bytes([bytes[0], bytes[1]]);
        M::decode(&mut buf, version).expect("oracle decodes")
    }

    fn owned() -> Vec<TopicPartitions> {
        vec![
            TopicPartitions {
                topic: "invoices".into(),
                partitions: vec![0, 2, 5],
            },
            TopicPartitions {
                topic: "refunds".into(),
                partitions: vec![],
            },
        ]
    }

    /// A subscription with every field the version carries set, the others
    /// at their defaults.
    fn subscription(version: i16) -> ConsumerProtocolSubscription {
        ConsumerProtocolSubscription {
            topics: vec!["invoices".into(), "refunds".into(), "événements".into()],
            user_data: Some(vec![0, 0, 0, 7, 0xfe, 0x01]),
            owned_partitions: if version >= 1 { owned() } else { Vec::new() },
            generation_id: if version >= 2 { 18 } else { -1 },
            rack_id: (version >= 3).then(|| "eu-west-1a".into()),
        }
    }

    fn oracle_subscription(sub: &ConsumerProtocolSubscription) -> OracleSubscription {
        let mut o = OracleSubscription::default();
        o.topics = sub.topics.iter().map(|t| s(t)).collect();
        o.user_data = sub.user_data.clone().map(bytes::Bytes::from);
        o.owned_partitions = sub
            .owned_partitions
            .iter()
            .map(|tp| {
                let mut ot = OracleOwned::default();
                ot.topic = TopicName(s(&tp.topic));
                ot.partitions = tp.partitions.clone();
                ot
            })
            .collect();
        o.generation_id = sub.generation_id;
        o.rack_id = sub.rack_id.as_deref().map(s);
        o
    }

    fn assignment() -> ConsumerProtocolAssignment {
        ConsumerProtocolAssignment {
            assigned_partitions: owned(),
            user_data: Some(b"sticky:gen=18".to_vec()),
        }
    }

    fn oracle_assignment(a: &ConsumerProtocolAssignment) -> OracleAssignment {
        let mut o = OracleAssignment::default();
        o.assigned_partitions = a
            .assigned_partitions
            .iter()
            .map(|tp| {
                let mut ot = OracleAssigned::default();
                ot.topic = TopicName(s(&tp.topic));
                ot.partitions = tp.partitions.clone();
                ot
            })
            .collect();
        o.user_data = a.user_data.clone().map(bytes::Bytes::from);
        o
    }

    #[test]
    fn subscription_encodes_like_kafka_protocol_at_every_version() {
        for version in 0..=3 {
            let sub = subscription(version);
            let ours = sub.encode(version).unwrap();
            let oracle = oracle_subscription(&sub);
            assert_eq!(ours, oracle_encode(&oracle, version), "v{version}");
            assert_eq!(
                oracle_decode::<OracleSubscription>(&ours),
                oracle,
                "v{version}"
            );
        }
    }

    #[test]
    fn subscription_encoded_by_kafka_protocol_decodes_at_every_version() {
        for version in 0..=3 {
            let want = subscription(version);
            let bytes = oracle_encode(&oracle_subscription(&want), version);
            assert_eq!(ConsumerProtocolSubscription::decode(&bytes).unwrap(), want);
            assert_eq!(super::version(&bytes).unwrap(), version);
        }
    }

    #[test]
    fn subscription_fields_a_version_lacks_are_dropped() {
        let full = subscription(3);
        for version in 0..=3 {
            let got = ConsumerProtocolSubscription::decode(&full.encode(version).unwrap());
            assert_eq!(got.unwrap(), subscription(version), "v{version}");
        }
    }

    #[test]
    fn null_user_data_and_null_rack_survive() {
        let sub = ConsumerProtocolSubscription {
            topics: vec!["t".into()],
            ..Default::default()
        };
        let bytes = sub.encode(3).unwrap();
        assert_eq!(bytes, oracle_encode(&oracle_subscription(&sub), 3));
        assert_eq!(ConsumerProtocolSubscription::decode(&bytes).unwrap(), sub);
    }

    #[test]
    fn a_newer_subscription_version_decodes_the_known_fields() {
        let mut bytes = subscription(3).encode(3).unwrap();
        bytes[..2].copy_from_slice(&7i16.to_be_bytes());
        // A field a future version might append.
        bytes.extend_from_slice(&[0, 0, 0, 42, 1]);
        let got = ConsumerProtocolSubscription::decode(&bytes).unwrap();
        assert_eq!(got, subscription(3));
    }

    #[test]
    fn trailing_bytes_after_a_known_version_are_ignored() {
        let mut bytes = subscription(1).encode(1).unwrap();
        bytes.extend_from_slice(&[0xff; 3]);
        assert_eq!(
            ConsumerProtocolSubscription::decode(&bytes).unwrap(),
            subscription(1)
        );
    }

    #[test]
    fn a_negative_version_is_an_error() {
        let mut bytes = subscription(0).encode(0).unwrap();
        bytes[..2].copy_from_slice(&(-1i16).to_be_bytes());
        assert!(ConsumerProtocolSubscription::decode(&bytes).is_err());
        let mut bytes = assignment().encode(0).unwrap();
        bytes[..2].copy_from_slice(&(-1i16).to_be_bytes());
        assert!(ConsumerProtocolAssignment::decode(&bytes).is_err());
    }

    #[test]
    fn versions_this_crate_does_not_know_are_encode_errors() {
        assert!(subscription(3).encode(4).is_err());
        assert!(subscription(3).encode(-1).is_err());
        assert!(assignment().encode(4).is_err());
    }

    #[test]
    fn assignment_matches_kafka_protocol_at_every_version() {
        for version in 0..=3 {
            let a = assignment();
            let ours = a.encode(version).unwrap();
            let oracle = oracle_assignment(&a);
            assert_eq!(ours, oracle_encode(&oracle, version), "v{version}");
            assert_eq!(oracle_decode::<OracleAssignment>(&ours), oracle);
            assert_eq!(ConsumerProtocolAssignment::decode(&ours).unwrap(), a);
        }
        let empty = ConsumerProtocolAssignment::default();
        let bytes = oracle_encode(&oracle_assignment(&empty), 0);
        assert_eq!(bytes, empty.encode(0).unwrap());
        assert_eq!(ConsumerProtocolAssignment::decode(&bytes).unwrap(), empty);
    }

    #[test]
    fn a_newer_assignment_version_decodes_the_known_fields() {
        let mut bytes = assignment().encode(3).unwrap();
        bytes[..2].copy_from_slice(&4i16.to_be_bytes());
        bytes.extend_from_slice(&[9, 9, 9]);
        assert_eq!(
            ConsumerProtocolAssignment::decode(&bytes).unwrap(),
            assignment()
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        for version in 0..=3 {
            let bytes = subscription(version).encode(version).unwrap();
            for cut in 0..bytes.len() {
                assert!(
                    ConsumerProtocolSubscription::decode(&bytes[..cut]).is_err(),
                    "subscription v{version} cut at {cut}"
                );
            }
            let bytes = assignment().encode(version).unwrap();
            for cut in 0..bytes.len() {
                assert!(
                    ConsumerProtocolAssignment::decode(&bytes[..cut]).is_err(),
                    "assignment v{version} cut at {cut}"
                );
            }
        }
    }

    fn arb_topic_partitions() -> impl Strategy<Value = Vec<TopicPartitions>> {
        proptest::collection::vec(
            (
                "[a-z._-]{1,12}",
                proptest::collection::vec(any::<i32>(), 0..5),
            )
                .prop_map(|(topic, partitions)| TopicPartitions { topic, partitions }),
            0..4,
        )
    }

    proptest! {
        #[test]
        fn any_subscription_round_trips_at_v3(
            topics in proptest::collection::vec("\\PC{0,10}", 0..4),
            user_data in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
            owned_partitions in arb_topic_partitions(),
            generation_id: i32,
            rack_id in proptest::option::of("[a-z0-9-]{0,12}"),
        ) {
            let sub = ConsumerProtocolSubscription {
                topics, user_data, owned_partitions, generation_id, rack_id,
            };
            let bytes = sub.encode(3).unwrap();
            prop_assert_eq!(ConsumerProtocolSubscription::decode(&bytes).unwrap(), sub);
        }

        #[test]
        fn any_assignment_round_trips(
            assigned_partitions in arb_topic_partitions(),
            user_data in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
            version in 0i16..=3,
        ) {
            let a = ConsumerProtocolAssignment { assigned_partitions, user_data };
            let bytes = a.encode(version).unwrap();
            prop_assert_eq!(ConsumerProtocolAssignment::decode(&bytes).unwrap(), a);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = ConsumerProtocolSubscription::decode(&bytes);
            let _ = ConsumerProtocolAssignment::decode(&bytes);
        }

        #[test]
        fn corrupted_subscriptions_never_panic(index: usize, value: u8) {
            let mut bytes = subscription(3).encode(3).unwrap();
            let i = index % bytes.len();
            bytes[i] = value;
            let _ = ConsumerProtocolSubscription::decode(&bytes);
        }
    }
}
