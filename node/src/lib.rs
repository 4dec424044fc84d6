//! # rustyray-node
//!
//! A rustyray node: a long-lived service you deploy modules and submit jobs to, as a Ray
//! user does with `ray start` and `ray job submit`. One process, no other service.
//!
//! - `server.rs`: the HTTP service (axum) and [`server::start`]/[`server::BoundNode::serve`].
//! - `api.rs`: the JSON shapes; the job ones are Ray's, so Ray's clients work unchanged.
//! - `modules.rs`: deployed components, by SHA-256, compiled once, kept in the data dir.
//! - `jobs.rs`: jobs, each a driver process (`rustyray run`) with its log and record.
//! - `detached.rs`: detached actors, hosted by the node's own runtime so they outlive
//!   their jobs, reached by drivers through a unix socket, kept in the data dir.
//! - `entrypoint.rs`: the one entrypoint a job may have, checked against the operator's
//!   policy (`--allow-dir`, `--job-memory`).
//! - `state.rs`: the state API (`/api/v0/tasks|actors|objects`, summaries), merged
//!   from the state files the jobs' drivers write.
//! - `cluster.rs`: a node in a cluster (`--cluster nats://...`): heartbeats, job records
//!   and modules in NATS JetStream, requests forwarded to the node running a job.
//! - `cluster_actors.rs`: actors cluster-wide: placed on any node, a directory and names
//!   in JetStream, calls node to node over NATS, restarted elsewhere when a node is lost.
//! - `cluster_tasks.rs`: a cluster's tasks: placed by load on the live nodes, sent over
//!   NATS, run in a runtime per module, re-run elsewhere when their node is lost.
//! - `held.rs`: what a node's running jobs, tasks and actors hold of its resources, and
//!   the queue of those waiting for theirs.
//! - `local_cluster.rs`: `rustyray cluster up|down` (nats-server and N nodes here).
//! - `token.rs`, `metrics.rs`, `dashboard.rs` (+ `assets/`): auth, `/metrics`, `/`.
//! - `client.rs`: a client of the node's API (the `rustyray` command's node verbs use it;
//!   the command itself is the `cli/` crate).

pub mod api;
pub mod client;
pub mod cluster;
pub mod cluster_actors;
pub mod cluster_objects;
pub mod cluster_tasks;
mod dashboard;
pub mod detached;
pub mod entrypoint;
pub mod error;
pub mod held;
pub mod jobs;
pub mod local_cluster;
pub mod metrics;
pub mod modules;
mod private_socket;
pub mod server;
pub mod state;
pub mod token;

pub use error::{NodeError, Result};
pub use server::{BoundNode, NodeConfig, start};
