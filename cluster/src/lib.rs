//! # rustyray-cluster
//!
//! The cluster side of a rustyray node: everything that goes through NATS JetStream, so no
//! node is special and a node needs nothing but the NATS URL to join.
//!
//! - `error.rs`: [`ClusterError`], one enum for every NATS failure, with what was being done.
//! - `connection.rs`: [`Cluster::connect`]: a client that reconnects forever, and the
//!   buckets (created on first use, bound afterwards).
//! - `registry.rs`: the node registry ([`NodeRecord`]) and heartbeats whose expiry, through
//!   the heartbeat bucket's `max_age`, is what makes a node dead.
//! - `modules.rs`: the module index (KV, by SHA-256) and module bytes (object store).
//! - `jobs.rs`: job records (KV, by submission id), written with compare-and-set.
//! - `rpc.rs`: node-to-node requests (`rustyray.node.<id>.<verb>`, JSON, request/reply).
//! - `objects.rs`: large task results kept by the node that made them, fetched by
//!   range and released by their owner (`rustyray.objects.<id>.*`).
//! - `tasks.rs`: tasks between nodes (`rustyray.tasks.<id>`, request/reply), large
//!   payloads through the object store `rustyray_transfers`.
//!
//! What lives where (the names are fixed: one NATS account holds one cluster):
//!
//! | bucket / subject | kind | key | value |
//! | --- | --- | --- | --- |
//! | `rustyray_nodes` | KV, history 1, max_age [`DEAD_NODE_KEPT`] | node id | [`NodeRecord`] (JSON) |
//! | `rustyray_heartbeats` | KV, history 1, max_age [`HEARTBEAT_TTL`] | node id | heartbeat time (ms) |
//! | `rustyray_jobs` | KV, history 1 | submission id | [`JobEntry`] (JSON) |
//! | `rustyray_modules` | KV, history 1 | SHA-256 | module record (JSON) |
//! | `rustyray_module_bytes` | object store | SHA-256 | the component |
//! | `rustyray.node.<id>.<verb>` | request/reply | | JSON request, [`rpc::Reply`] |
//! | `rustyray_actors` | KV, history 1 | actor id | actor record (JSON, see `actors.rs`) |
//! | `rustyray_actor_names` | KV, history 1 | namespace + name key | actor id |
//! | `rustyray_actor_snapshots` | KV, history 1 | actor id | last snapshot (inline), or a mark that it is in `rustyray_actor_snapshot_bytes` |
//! | `rustyray_actor_snapshot_bytes` | object store | actor id | a last snapshot too large for a KV value (NATS's `max_payload`) |
//! | `rustyray.actors.<id>` | request/reply | | MessagePack actor request and answer |
//! | `rustyray.tasks.<id>` | request/reply | | a task and its answer (opaque bytes) |
//! | `rustyray_transfers` | object store, max_age 1 h | random | a payload over `max_payload` |
//! | `rustyray.objects.<id>.fetch` | request/reply | | a range of an object the node keeps (`objects.rs`) |
//! | `rustyray.objects.<id>.release` | publish | | the key of an object its owner let go |

pub mod actors;
mod connection;
mod error;
pub mod jobs;
pub mod modules;
pub mod objects;
pub mod registry;
pub mod rpc;
pub mod tasks;

use std::time::Duration;

pub use connection::Cluster;
pub use error::{ClusterError, Result};
pub use jobs::JobEntry;
pub use registry::{NodeRecord, NodeView};

/// How often a node writes its heartbeat (and its record, with its load).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(1000);
/// How long a heartbeat lives in the heartbeat bucket (its `max_age`): a node with no
/// heartbeat younger than this is dead. Four missed heartbeats.
pub const HEARTBEAT_TTL: Duration = Duration::from_millis(4000);
/// How long a node's record stays in the registry after its last write: dead nodes are
/// listed (as dead) for this long, then forgotten.
pub const DEAD_NODE_KEPT: Duration = Duration::from_secs(24 * 3600);
/// Largest module kept in the object store (the node's upload limit is smaller by default).
pub const MAX_MODULE_BYTES: usize = 256 << 20;
/// How long a node-to-node request waits for its answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a reconnection attempt (NATS restarting is retried forever).
pub const MAX_RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// How long after reconnecting to NATS a node does not take a missing heartbeat for a
/// lost node: the other nodes reconnect too, and write their heartbeat within
/// [`HEARTBEAT_INTERVAL`] of it (the NATS restart may have been longer than
/// [`HEARTBEAT_TTL`]).
pub const SETTLE_AFTER_RECONNECT: Duration = Duration::from_millis(
    HEARTBEAT_TTL.as_millis() as u64 + 2 * HEARTBEAT_INTERVAL.as_millis() as u64,
);

/// How long a step on the cluster's state (a KV read or write) keeps being tried while
/// NATS restarts ([`Cluster::outlasting`]) before it fails.
pub const OUTAGE_WAIT: Duration = Duration::from_secs(30);
/// How often such a step is tried again meanwhile.
pub const OUTAGE_RETRY: Duration = Duration::from_millis(200);

/// Bucket of node records.
pub const NODES_BUCKET: &str = "rustyray_nodes";
/// Bucket of heartbeats (expiring).
pub const HEARTBEATS_BUCKET: &str = "rustyray_heartbeats";
/// Bucket of job records.
pub const JOBS_BUCKET: &str = "rustyray_jobs";
/// Bucket of module records.
pub const MODULES_BUCKET: &str = "rustyray_modules";
/// Bucket of actors placed cluster-wide (the directory).
pub const ACTORS_BUCKET: &str = "rustyray_actors";
/// Bucket of actor names (namespace + name -> actor id).
pub const ACTOR_NAMES_BUCKET: &str = "rustyray_actor_names";
/// Bucket of actor snapshots.
pub const ACTOR_SNAPSHOTS_BUCKET: &str = "rustyray_actor_snapshots";
/// Object store of actor snapshots too large for a KV value.
pub const ACTOR_SNAPSHOT_BYTES_STORE: &str = "rustyray_actor_snapshot_bytes";
/// Object store of module bytes.
pub const MODULE_BYTES_STORE: &str = "rustyray_module_bytes";

/// Whether `key` can be a KV key or a subject token: 1 to 128 letters, digits, `_`, `-`.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 128
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
