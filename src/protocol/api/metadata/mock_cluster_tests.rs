use super::*;
use crate::protocol::{decode_response, decode_response_counting_trailing};

/// librdkafka 2.16.0's mock cluster (3 brokers, topic `t1` with 4
/// partitions and replication factor 3) answering a Metadata v12 request
/// for every topic, correlation id 4: one byte more than the schema.
const MOCK_CLUSTER_V12_ANSWER: &str = "\
    00000004000000000004000000010a3132372e302e302e3100008efb0000000000020a3132372e302e302e31\
    00008afb0000000000030a3132372e302e302e310000ab030000186d6f636b436c7573746572313537663566\
    386433353234000000000200000374316e05728de6444b0e8d7c309cf7c67713000500000000000000000003\
    000000000400000001000000020000000304000000010000000200000003010000000000000100000002000000\
    000400000001000000020000000304000000010000000200000003010000000000000200000002000000000400\
    000001000000020000000304000000010000000200000003010000000000000300000002000000000400000001\
    000000020000000304000000010000000200000003010080000000000000";

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn the_mock_clusters_extra_byte_after_a_v12_body_is_ignored() {
    let frame = unhex(MOCK_CLUSTER_V12_ANSWER);
    let (response, trailing) =
        decode_response_counting_trailing::<MetadataRequest>(&frame, 12, 4).unwrap();
    assert_eq!(trailing, 1);
    assert_eq!(response.brokers.len(), 3);
    assert_eq!(response.topics.len(), 1);
    let topic = &response.topics[0];
    assert_eq!(topic.name.as_deref(), Some("t1"));
    assert_eq!(topic.partitions.len(), 4);
    for p in &topic.partitions {
        assert_eq!(p.replica_nodes.len(), 3);
    }
    assert_eq!(
        decode_response::<MetadataRequest>(&frame, 12, 4).unwrap(),
        response
    );
}
