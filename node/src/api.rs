//! The JSON the node speaks. The job shapes are Ray's (`dashboard/modules/job`:
//! `JobSubmitRequest`, `JobSubmitResponse`, `JobDetails`, `JobStopResponse`, ...), field
//! for field, so Ray's `ray job` CLI and `JobSubmissionClient` work against a node
//! unchanged; the module and node shapes are rustyray's own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The Ray release whose job API the node speaks; Ray's clients check it (≥ 2.0).
pub const RAY_API_VERSION: &str = "2.60.0";
/// Ray's job API version (`/api/version`'s `version`).
pub const JOBS_API_VERSION: &str = "4";

/// A job's state, as in Ray.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    /// Accepted, waiting for a slot.
    Pending,
    /// Its driver runs.
    Running,
    /// Stopped by a request.
    Stopped,
    /// Its driver returned 0.
    Succeeded,
    /// Its driver failed, trapped or could not start.
    Failed,
}

impl JobStatus {
    /// Whether the job has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Stopped | JobStatus::Succeeded | JobStatus::Failed
        )
    }

    /// Every state, for metrics and summaries.
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Pending,
        JobStatus::Running,
        JobStatus::Stopped,
        JobStatus::Succeeded,
        JobStatus::Failed,
    ];

    /// The name Ray uses.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "PENDING",
            JobStatus::Running => "RUNNING",
            JobStatus::Stopped => "STOPPED",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
        }
    }
}

/// `POST /api/jobs/` (Ray's `JobSubmitRequest`; fields the node has no use for, such
/// as `entrypoint_num_cpus`, are accepted and ignored, as a one-node Ray does).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JobSubmitRequest {
    /// `rustyray run <module> [flags] [-- args]`.
    pub entrypoint: String,
    /// The id to give the job (default: a new `rrsubmit_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission_id: Option<String>,
    /// Deprecated name of `submission_id`, as in Ray.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Ray's runtime environment: only `{}` (or absent) is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_env: Option<serde_json::Map<String, serde_json::Value>>,
    /// Free-form strings kept with the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Ray's custom resources the job needs on its node (`{"gpu": 1}`); in a cluster, the
    /// job is placed on a live node that has them; a node alone refuses what it lacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint_resources: Option<BTreeMap<String, f64>>,
    /// Ray's CPUs the job needs (the `CPU` resource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint_num_cpus: Option<f64>,
}

impl JobSubmitRequest {
    /// The resources the job asks for: `entrypoint_resources` and `CPU`.
    pub fn resources(&self) -> BTreeMap<String, f64> {
        let mut resources = self.entrypoint_resources.clone().unwrap_or_default();
        if let Some(cpus) = self.entrypoint_num_cpus {
            resources.insert("CPU".into(), cpus);
        }
        resources.retain(|_, amount| *amount > 0.0);
        resources
    }
}

/// `GET /api/v0/nodes`: one node of the cluster (a node alone lists itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeEntry {
    /// Its id (`node_` and 16 hex digits, new at each start).
    pub node_id: String,
    /// Its HTTP address.
    pub address: String,
    /// `ALIVE` or `DEAD` (Ray's node states).
    pub state: String,
    /// Whether its heartbeat is live.
    pub alive: bool,
    /// What it has: `CPU` and its `--resources`.
    pub resources: BTreeMap<String, f64>,
    /// What its running jobs, tasks and actors do not hold now.
    pub available: BTreeMap<String, f64>,
    /// Jobs running on it.
    pub running_jobs: usize,
    /// Jobs waiting for a slot on it.
    pub pending_jobs: usize,
    /// Tasks the cluster placed on it that are running there now (its load for task
    /// placement), as of its last heartbeat; absent on a node outside a cluster, which
    /// places no tasks (a job's tasks run in its driver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_tasks: Option<usize>,
    /// Tasks and actor creations waiting on it for their resources to be free (held by
    /// others), as of its last heartbeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for_resources: Option<usize>,
    /// When it started (ms since the epoch).
    pub started_ms: u64,
    /// Its last heartbeat (its clock, ms since the epoch).
    pub last_heartbeat_ms: u64,
    /// Whether it is the node that answered.
    pub this_node: bool,
}

/// The answer to a submission (Ray's `JobSubmitResponse`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobSubmitResponse {
    /// Same as `submission_id` (deprecated in Ray).
    pub job_id: String,
    /// The job's id.
    pub submission_id: String,
}

/// Where the driver of a job ran (Ray's `DriverInfo`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriverInfo {
    /// The driver's id (the job id).
    pub id: String,
    /// The node's address.
    pub node_ip_address: String,
    /// The driver process's pid.
    pub pid: String,
}

/// One job (Ray's `JobDetails`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobDetails {
    /// Always `SUBMISSION`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The job id (same as the submission id).
    pub job_id: Option<String>,
    /// The submission id.
    pub submission_id: Option<String>,
    /// The driver, once started.
    pub driver_info: Option<DriverInfo>,
    /// Its state.
    pub status: JobStatus,
    /// What it runs.
    pub entrypoint: String,
    /// Its state in words.
    pub message: Option<String>,
    /// Why it failed, when it did.
    pub error_type: Option<String>,
    /// When it started (ms since the epoch).
    pub start_time: Option<u64>,
    /// When it ended (ms since the epoch).
    pub end_time: Option<u64>,
    /// The submitter's metadata.
    pub metadata: Option<BTreeMap<String, String>>,
    /// Always `{}`.
    pub runtime_env: Option<serde_json::Map<String, serde_json::Value>>,
    /// The node's address.
    pub driver_agent_http_address: Option<String>,
    /// The node's id.
    pub driver_node_id: Option<String>,
    /// The driver's exit status, once it ended.
    pub driver_exit_code: Option<i32>,
}

/// `POST /api/jobs/{id}/stop` (Ray's `JobStopResponse`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobStopResponse {
    /// Whether the job was running.
    pub stopped: bool,
}

/// `DELETE /api/jobs/{id}` (Ray's `JobDeleteResponse`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobDeleteResponse {
    /// Whether a job was deleted.
    pub deleted: bool,
}

/// `GET /api/jobs/{id}/logs` (Ray's `JobLogsResponse`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobLogsResponse {
    /// Everything the job wrote so far.
    pub logs: String,
}

/// `GET /api/version`: Ray's fields, plus rustyray's own version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Ray's job API version.
    pub version: String,
    /// The Ray release whose API this is (what Ray's clients check).
    pub ray_version: String,
    /// This build's commit, if known.
    pub ray_commit: String,
    /// The node's session (its start time).
    pub session_name: String,
    /// rustyray's version.
    pub rustyray_version: String,
}

/// A deployed module.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// SHA-256 of the component's bytes: its identity.
    pub sha256: String,
    /// The name it was deployed under (file or crate name).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Whether it has a `#[rustyray::main]` (can be a job's program).
    pub has_main: bool,
    /// Functions it exports (with signatures).
    pub functions: Vec<String>,
    /// Actor classes it exports.
    pub actor_classes: Vec<String>,
    /// The names it registers (functions and classes): two modules a job loads
    /// together must not share one.
    pub exports: Vec<String>,
    /// When it was deployed (ms since the epoch).
    pub deployed_at: u64,
}

/// `GET /api/v0/status`: the node at a glance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Where it listens.
    pub address: String,
    /// rustyray's version.
    pub version: String,
    /// Seconds since it started.
    pub uptime_s: u64,
    /// Where it keeps modules, jobs and logs (`null`: a temporary directory).
    pub data_dir: Option<String>,
    /// CPUs of the machine.
    pub cpus: usize,
    /// Jobs that may run at once.
    pub max_jobs: usize,
    /// Memory each job's guests may grow to, in MiB.
    pub job_memory_mib: u64,
    /// Resident memory of the node process, in KiB (jobs run in processes of their own).
    pub node_rss_kib: u64,
    /// Jobs by state.
    pub jobs: BTreeMap<String, usize>,
    /// Deployed modules.
    pub modules: usize,
    /// Directories jobs may be granted.
    pub allow_dirs: Vec<String>,
    /// Network destinations jobs may ask for (the operator's `--allow-net`).
    #[serde(default)]
    pub allow_net: Vec<String>,
    /// Ports jobs may ask to listen on (the operator's `--allow-listen`).
    #[serde(default)]
    pub allow_listen: Vec<String>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
