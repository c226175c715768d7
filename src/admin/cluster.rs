//! The cluster through [`Admin`]: its id, controller and brokers
//! (DescribeCluster where the broker has it, else Metadata).
//!
//! # References
//! Kafka protocol guide, "DescribeCluster API", "Metadata API"; KIP-700.

use super::{item_result, Admin};
use crate::cluster::Broker;
use crate::error::{Error, Result};
use crate::protocol::api::describe_cluster::DescribeClusterRequest;

/// What [`Admin::describe_cluster`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterDescription {
    /// The cluster id; `None` from brokers that report none.
    pub cluster_id: Option<String>,
    /// The controller (in KRaft clusters, a broker id the cluster picks to
    /// stand for the controller quorum); `None` when unknown.
    pub controller: Option<Broker>,
    /// Every live broker, sorted by id.
    pub brokers: Vec<Broker>,
}

impl Admin {
    /// The cluster's id, controller and brokers, from DescribeCluster (Kafka
    /// 2.8+, tansu) or, from brokers without it, from Metadata. Also
    /// refreshes the client's broker list.
    pub fn describe_cluster(&self) -> Result<ClusterDescription> {
        let deadline = self.deadline();
        self.client
            .retry_until(deadline, "DescribeCluster", || {
                let conn = self.client.any_connection(deadline)?;
                if conn.version_for::<DescribeClusterRequest>().is_err() {
                    return Ok(None);
                }
                let r = conn.request(&DescribeClusterRequest::default())?;
                item_result(r.error_code, r.error_message, || {
                    format!("DescribeCluster at {}", conn.addr())
                })?;
                let mut brokers = Vec::with_capacity(r.brokers.len());
                for b in r.brokers {
                    let port = u16::try_from(b.port).map_err(|_| {
                        Error::protocol(
                            format!("DescribeCluster at {}", conn.addr()),
                            format!("broker {} has port {}", b.broker_id, b.port),
                        )
                    })?;
                    brokers.push(Broker {
                        id: b.broker_id,
                        host: b.host,
                        port,
                        rack: b.rack,
                    });
                }
                brokers.sort_by_key(|b| b.id);
                let controller = brokers.iter().find(|b| b.id == r.controller_id).cloned();
                Ok(Some(ClusterDescription {
                    cluster_id: Some(r.cluster_id),
                    controller,
                    brokers,
                }))
            })?
            .map_or_else(|| self.cluster_from_metadata(), Ok)
    }

    fn cluster_from_metadata(&self) -> Result<ClusterDescription> {
        self.client.fetch_metadata(Some(&[]))?;
        Ok(ClusterDescription {
            cluster_id: self.client.cluster_id(),
            controller: self.client.controller(),
            brokers: self.client.brokers(),
        })
    }
}
