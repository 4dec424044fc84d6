//! The node registry: each node writes its [`NodeRecord`] (address, resources, load) to
//! `rustyray_nodes` and a heartbeat to `rustyray_heartbeats` every
//! [`HEARTBEAT_INTERVAL`](crate::HEARTBEAT_INTERVAL). The heartbeat bucket's `max_age` is
//! [`HEARTBEAT_TTL`](crate::HEARTBEAT_TTL): JetStream drops a heartbeat that old, so a node
//! is alive exactly while its heartbeat key is there. Nothing compares clocks.

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::connection::{Cluster, keys};
use crate::error::{ClusterError, Result};
use crate::{HEARTBEATS_BUCKET, NODES_BUCKET, valid_key};

/// What a node says about itself at each heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Its id (`node_` and 16 hex digits, new at each start).
    pub node_id: String,
    /// Its HTTP address (`http://HOST:PORT`).
    pub address: String,
    /// rustyray's version.
    pub version: String,
    /// What it has: `CPU` (the machine's), `jobs` (`--max-jobs`), and `--resources`.
    pub resources: BTreeMap<String, f64>,
    /// What is not held now by its running jobs, tasks and actors (below 0 when its
    /// jobs hold more than it has: jobs are admitted by their slots).
    pub available: BTreeMap<String, f64>,
    /// Tasks and actor creations waiting there for their resources to be free.
    #[serde(default)]
    pub waiting_for_resources: usize,
    /// Jobs running on it.
    pub running_jobs: usize,
    /// Jobs waiting for a slot on it.
    pub pending_jobs: usize,
    /// Cluster tasks running on it (placed there by any node).
    #[serde(default)]
    pub running_tasks: usize,
    /// When it started (ms since the epoch).
    pub started_ms: u64,
    /// When it wrote this (its clock, ms since the epoch).
    pub heartbeat_ms: u64,
}

impl NodeRecord {
    /// The load the scheduler compares: jobs running and waiting.
    pub fn load(&self) -> usize {
        self.running_jobs + self.pending_jobs
    }

    /// Whether `request` fits in what is available now.
    pub fn fits(&self, request: &BTreeMap<String, f64>) -> bool {
        request
            .iter()
            .all(|(name, amount)| self.available.get(name).copied().unwrap_or(0.0) >= *amount)
    }

    /// Whether `request` could ever fit on this node (its totals).
    pub fn could_fit(&self, request: &BTreeMap<String, f64>) -> bool {
        request
            .iter()
            .all(|(name, amount)| self.resources.get(name).copied().unwrap_or(0.0) >= *amount)
    }
}

/// A node as the cluster sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeView {
    /// Its last record.
    #[serde(flatten)]
    pub record: NodeRecord,
    /// Whether its heartbeat is live.
    pub alive: bool,
}

impl Cluster {
    /// Writes `record` and a fresh heartbeat.
    pub async fn heartbeat(&self, record: &NodeRecord) -> Result<()> {
        if !valid_key(&record.node_id) {
            return Err(ClusterError::BadKey(record.node_id.clone()));
        }
        let json = serde_json::to_vec(record)
            .map_err(|err| ClusterError::nats("encoding the node record", err))?;
        self.nodes
            .put(&record.node_id, Bytes::from(json))
            .await
            .map_err(|err| ClusterError::nats(format!("writing {NODES_BUCKET}"), err))?;
        self.heartbeats
            .put(
                &record.node_id,
                Bytes::from(record.heartbeat_ms.to_string()),
            )
            .await
            .map_err(|err| ClusterError::nats(format!("writing {HEARTBEATS_BUCKET}"), err))?;
        Ok(())
    }

    /// Removes a node's heartbeat (it is leaving); its record stays, as dead.
    pub async fn leave(&self, node_id: &str) -> Result<()> {
        self.heartbeats
            .purge(node_id)
            .await
            .map_err(|err| ClusterError::nats(format!("purging {HEARTBEATS_BUCKET}"), err))
    }

    /// The ids of the nodes whose heartbeat is live.
    pub async fn live_node_ids(&self) -> Result<HashSet<String>> {
        let mut live = HashSet::new();
        for key in keys(&self.heartbeats, HEARTBEATS_BUCKET).await? {
            // A node that left purged its key: a marker, no value.
            let value =
                self.heartbeats.get(&key).await.map_err(|err| {
                    ClusterError::nats(format!("reading {HEARTBEATS_BUCKET}"), err)
                })?;
            if value.is_some_and(|value| !value.is_empty()) {
                live.insert(key);
            }
        }
        Ok(live)
    }

    /// Every node the registry knows, alive or dead, as read once this connection is
    /// [`Cluster::settled`]: just after NATS restarted every node's heartbeat may have
    /// expired, so placing work then waits (at most [`OUTAGE_WAIT`](crate::OUTAGE_WAIT))
    /// for the nodes to reconnect and beat again, and a NATS error meanwhile is retried
    /// ([`Cluster::outlasting`]).
    pub async fn settled_nodes(&self) -> Result<Vec<NodeView>> {
        let start = std::time::Instant::now();
        while !self.settled() && start.elapsed() < crate::OUTAGE_WAIT {
            tokio::time::sleep(crate::OUTAGE_RETRY).await;
        }
        self.outlasting(|| self.nodes()).await
    }

    /// Whether node `node_id` may be alive: its heartbeat is live, or this connection is
    /// not [`Cluster::settled`] since NATS came back (its heartbeat may have expired and
    /// not be written again yet). The read outlasts a NATS restart.
    pub async fn may_be_alive(&self, node_id: &str) -> Result<bool> {
        let live = self.outlasting(|| self.live_node_ids()).await?;
        Ok(live.contains(node_id) || !self.settled())
    }

    /// Every node the registry knows, alive or dead, by id.
    pub async fn nodes(&self) -> Result<Vec<NodeView>> {
        let live = self.live_node_ids().await?;
        let ids = keys(&self.nodes, NODES_BUCKET).await?;
        let mut views = Vec::new();
        for id in ids {
            let Some(bytes) = self
                .nodes
                .get(&id)
                .await
                .map_err(|err| ClusterError::nats(format!("reading {NODES_BUCKET}"), err))?
            else {
                continue;
            };
            let record: NodeRecord =
                serde_json::from_slice(&bytes).map_err(|err| ClusterError::Corrupt {
                    bucket: NODES_BUCKET,
                    key: id.clone(),
                    cause: err.to_string(),
                })?;
            views.push(NodeView {
                alive: live.contains(&id),
                record,
            });
        }
        views.sort_by(|a, b| a.record.node_id.cmp(&b.record.node_id));
        Ok(views)
    }
}

/// The live node to place work needing `request` on: the least loaded among those it fits
/// now, else among those it could ever fit (it waits there); ties by node id, so every
/// node would choose the same.
pub fn place<'a>(nodes: &'a [NodeView], request: &BTreeMap<String, f64>) -> Option<&'a NodeRecord> {
    let live = || nodes.iter().filter(|n| n.alive).map(|n| &n.record);
    let least = |candidates: Vec<&'a NodeRecord>| {
        candidates
            .into_iter()
            .min_by(|a, b| a.load().cmp(&b.load()).then(a.node_id.cmp(&b.node_id)))
    };
    least(live().filter(|n| n.fits(request)).collect())
        .or_else(|| least(live().filter(|n| n.could_fit(request)).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, alive: bool, running: usize, gpus: f64) -> NodeView {
        let mut resources = BTreeMap::from([("CPU".to_string(), 2.0)]);
        if gpus > 0.0 {
            resources.insert("gpu".into(), gpus);
        }
        NodeView {
            alive,
            record: NodeRecord {
                node_id: id.into(),
                address: String::new(),
                version: String::new(),
                available: resources.clone(),
                resources,
                running_jobs: running,
                pending_jobs: 0,
                running_tasks: 0,
                waiting_for_resources: 0,
                started_ms: 0,
                heartbeat_ms: 0,
            },
        }
    }

    #[test]
    fn places_on_the_least_loaded_live_node_that_fits() {
        let nodes = [
            node("a", true, 2, 0.0),
            node("b", false, 0, 1.0),
            node("c", true, 1, 0.0),
            node("d", true, 3, 1.0),
        ];
        assert_eq!(place(&nodes, &BTreeMap::new()).unwrap().node_id, "c");
        let gpu = BTreeMap::from([("gpu".to_string(), 1.0)]);
        assert_eq!(place(&nodes, &gpu).unwrap().node_id, "d");
        let two = BTreeMap::from([("gpu".to_string(), 2.0)]);
        assert!(place(&nodes, &two).is_none());
    }
}
