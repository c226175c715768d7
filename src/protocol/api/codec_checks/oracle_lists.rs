//! Conversions of lists several API modules' tests share into the
//! `kafka-protocol` oracle's types. The oracle gives each API its own
//! types with the same field names, so these are macros over the types.

/// The oracle's list of topics by name, each with its partitions' error
/// codes, from ours (the answer shape of OffsetCommit, TxnOffsetCommit and
/// AddPartitionsToTxn up to v3): `oracle_partition_codes!(r.topics,
/// OracleTopic { oracle_partitions: our_partitions },
/// OraclePartition { oracle_code: our_code })`. Each partition keeps its
/// `partition_index`; each topic its `name`.
macro_rules! oracle_partition_codes {
    (
        $topics:expr,
        $otopic:ty { $oparts:ident : $parts:ident },
        $opart:ty { $ocode:ident : $code:ident } $(,)?
    ) => {
        $topics
            .iter()
            .map(|t| {
                let mut ot = <$otopic>::default();
                ot.name = kafka_protocol::messages::TopicName(
                    $crate::protocol::api::codec_checks::oracle_str(&t.name),
                );
                ot.$oparts = t
                    .$parts
                    .iter()
                    .map(|p| {
                        let mut op = <$opart>::default();
                        op.partition_index = p.partition_index;
                        op.$ocode = p.$code.code();
                        op
                    })
                    .collect();
                ot
            })
            .collect()
    };
}
pub(crate) use oracle_partition_codes;

/// The oracle's topics of a share request (ShareFetch, ShareAcknowledge)
/// from ours: each topic id with its partitions and their acknowledgement
/// batches, in the request's own oracle types
/// (`oracle_acknowledgement_topics!(r.topics, oreq::FetchTopic,
/// oreq::FetchPartition, oreq::AcknowledgementBatch)`).
macro_rules! oracle_acknowledgement_topics {
    ($topics:expr, $otopic:ty, $opart:ty, $obatch:ty $(,)?) => {
        $topics
            .iter()
            .map(|t| {
                <$otopic>::default()
                    .with_topic_id($crate::protocol::api::codec_checks::oracle_uuid(&t.topic_id))
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                <$opart>::default()
                                    .with_partition_index(p.partition_index)
                                    .with_acknowledgement_batches(
                                        p.acknowledgement_batches
                                            .iter()
                                            .map(|b| {
                                                <$obatch>::default()
                                                    .with_first_offset(b.first_offset)
                                                    .with_last_offset(b.last_offset)
                                                    .with_acknowledge_types(
                                                        b.acknowledge_types.clone(),
                                                    )
                                            })
                                            .collect(),
                                    )
                            })
                            .collect(),
                    )
            })
            .collect()
    };
}
pub(crate) use oracle_acknowledgement_topics;

/// The oracle's node endpoints (of type `$oendpoint`, the response
/// module's `NodeEndpoint`) from ours: Produce, Fetch, ShareFetch and
/// ShareAcknowledge answers carry the same list in their own oracle types.
macro_rules! oracle_node_endpoints {
    ($oendpoint:ty, $endpoints:expr $(,)?) => {
        $endpoints
            .iter()
            .map(|n| {
                <$oendpoint>::default()
                    .with_node_id(n.node_id.into())
                    .with_host($crate::protocol::api::codec_checks::oracle_str(&n.host))
                    .with_port(n.port)
                    .with_rack(
                        n.rack
                            .as_deref()
                            .map($crate::protocol::api::codec_checks::oracle_str),
                    )
            })
            .collect()
    };
}
pub(crate) use oracle_node_endpoints;
