//! A node in a cluster (`rustyray start --cluster nats://HOST:PORT`). Cluster state lives
//! in NATS JetStream (see the `rustyray-cluster` crate); this module is the node's side:
//!
//! - every [`HEARTBEAT_INTERVAL`] the node writes its heartbeat and record (resources,
//!   load), and sweeps: a job recorded on a node whose heartbeat expired (and which does
//!   not answer a ping) is rewritten FAILED, naming the lost node;
//! - every [`SYNC_INTERVAL`] it publishes the records of its own jobs that changed;
//! - it serves `rustyray.node.<id>.<verb>` requests: `submit`, `details`, `stop`,
//!   `delete`, `log_chunk`, `ping`, so that any node answers for a job another runs,
//!   and `state_list`, `state_summary`, so that any node's state API answers for every
//!   live node's tasks, actors and objects, and `timeline_chunk`, so that any node
//!   gives the timeline of a job another ran;
//! - a deploy goes to the object store and the module index; a node fetches the modules
//!   it lacks (by hash, checked) before it runs a job.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use rustyray_cluster::rpc::{Incoming, RemoteError, Reply};
use rustyray_cluster::{Cluster, ClusterError, HEARTBEAT_INTERVAL, JobEntry, NodeRecord};
use serde::{Deserialize, Serialize};

use crate::api::{
    JobDetails, JobStatus, JobSubmitRequest, JobSubmitResponse, ModuleInfo, NodeEntry,
};
use crate::error::{NodeError, Result};
use crate::held::{Account, Hold};
use crate::jobs::JobManager;
use crate::modules::ModuleStore;

/// How often a node publishes the records of its jobs that changed.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(250);
/// Largest piece of a log one `log_chunk` request carries.
pub const LOG_CHUNK_BYTES: usize = 64 << 10;
/// The most of a timeline file one `timeline_chunk` answer carries (well under NATS's
/// 1 MiB payload, with JSON's escaping).
pub const TIMELINE_CHUNK_BYTES: usize = 384 << 10;
/// The most of a job's timeline gathered from another node (the size a driver's
/// timeline file is bounded to by default); past it the timeline ends with an event
/// saying it was cut.
pub const MAX_TIMELINE_BYTES: u64 = rustyray::timeline::DEFAULT_MAX_BYTES;
/// How long a `log_chunk` request waits for new output before answering empty.
pub const LOG_WAIT: Duration = Duration::from_secs(5);
/// Longest a heartbeat (or a sweep) may take before the next is tried.
const STEP_TIMEOUT: Duration = Duration::from_secs(3);

/// The node's membership of a cluster.
pub struct ClusterLink {
    cluster: Cluster,
    node_id: String,
    address: String,
    /// Its resources and what holds them: jobs, tasks, actors (`held.rs`).
    account: Arc<Account>,
    started_ms: u64,
    jobs: Arc<JobManager>,
    modules: Arc<ModuleStore>,
    /// What each of this node's unfinished jobs holds (what it asked for).
    requests: Mutex<HashMap<String, Hold>>,
    /// The job records last published (JSON), by id.
    published: Mutex<HashMap<String, String>>,
    /// Dead nodes whose jobs were swept already.
    swept: Mutex<HashSet<String>>,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Cluster tasks running on this node now (`cluster_tasks.rs` counts them).
    running_tasks: Arc<std::sync::atomic::AtomicUsize>,
    /// This node's own state (its jobs' and its runtime's), for the state verbs; set
    /// by the server ([`ClusterLink::serve_state`]).
    local_state: std::sync::OnceLock<LocalState>,
}

/// What gives this node's own state, merged and tagged with its node id.
pub type LocalState = Arc<
    dyn Fn() -> futures::future::BoxFuture<'static, Option<crate::state::Merged>> + Send + Sync,
>;

/// A state request to another node: a resource, and the list query as given.
#[derive(Serialize, Deserialize)]
struct StateRequest {
    resource: String,
    query: Option<String>,
}

/// Where a job is, seen from this node.
enum Place {
    Here,
    There(String),
    Lost {
        node: String,
        address: String,
        job: Box<JobDetails>,
    },
}

#[derive(Serialize, Deserialize)]
struct JobId {
    id: String,
}

#[derive(Serialize, Deserialize)]
struct LogChunkRequest {
    id: String,
    offset: u64,
    wait_ms: u64,
}

#[derive(Serialize, Deserialize)]
struct TimelineChunkRequest {
    id: String,
    offset: u64,
}

#[derive(Serialize, Deserialize)]
struct TimelineChunk {
    data: String,
    next: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct LogChunk {
    data: Vec<u8>,
    ended: bool,
}

impl ClusterLink {
    /// Joins the cluster at `url`: connects, writes a first heartbeat, and starts the
    /// heartbeat, sync and request loops.
    pub async fn join(
        url: &str,
        address: &str,
        mut resources: BTreeMap<String, f64>,
        jobs: Arc<JobManager>,
        modules: Arc<ModuleStore>,
    ) -> Result<Arc<ClusterLink>> {
        let node_id = format!(
            "node_{}",
            crate::modules::hex(&crate::token::random_bytes(8))
        );
        let cluster = Cluster::connect(url, &format!("rustyray {node_id} {address}")).await?;
        jobs.set_cluster_node_id(&node_id);
        resources
            .entry("CPU".into())
            .or_insert(std::thread::available_parallelism().map_or(1, |n| n.get()) as f64);
        let account = Account::new(&node_id, resources);
        let link = Arc::new(ClusterLink {
            cluster,
            node_id,
            address: address.to_string(),
            account,
            started_ms: crate::api::now_ms(),
            jobs,
            modules,
            requests: Mutex::new(HashMap::new()),
            published: Mutex::new(HashMap::new()),
            swept: Mutex::new(HashSet::new()),
            background: Mutex::new(Vec::new()),
            running_tasks: Arc::default(),
            local_state: std::sync::OnceLock::new(),
        });
        link.cluster.heartbeat(&link.record()).await?;
        let requests = link.cluster.serve_requests(&link.node_id).await?;
        let mut background = vec![
            tokio::spawn(link.clone().heartbeats()),
            tokio::spawn(link.clone().syncs()),
            tokio::spawn(link.clone().serve(requests)),
        ];
        if let Ok(mut tasks) = link.background.lock() {
            tasks.append(&mut background);
        }
        Ok(link)
    }

    /// This node's id in the cluster.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The NATS URL.
    pub fn url(&self) -> &str {
        self.cluster.url()
    }

    /// The connection to the cluster.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// This node's resources and what holds them (its jobs, tasks and actors).
    pub fn account(&self) -> Arc<Account> {
        self.account.clone()
    }

    /// The count of cluster tasks running here, published in the node's record.
    pub fn running_tasks(&self) -> Arc<std::sync::atomic::AtomicUsize> {
        self.running_tasks.clone()
    }

    /// Leaves the cluster: publishes the final records of its jobs (stopped by then) and
    /// drops its heartbeat, so other nodes see it dead at once.
    pub async fn leave(&self) {
        let _ = tokio::time::timeout(STEP_TIMEOUT, self.sync()).await;
        if let Ok(mut tasks) = self.background.lock() {
            for task in tasks.drain(..) {
                task.abort();
            }
        }
        let _ = tokio::time::timeout(STEP_TIMEOUT, self.cluster.leave(&self.node_id)).await;
    }

    fn record(&self) -> NodeRecord {
        let counts = self.jobs.counts();
        NodeRecord {
            node_id: self.node_id.clone(),
            address: self.address.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            resources: self.account.total().clone(),
            available: self.account.available(),
            waiting_for_resources: self.account.waiting(),
            running_jobs: counts.get("RUNNING").copied().unwrap_or(0),
            pending_jobs: counts.get("PENDING").copied().unwrap_or(0),
            running_tasks: self
                .running_tasks
                .load(std::sync::atomic::Ordering::Relaxed),
            started_ms: self.started_ms,
            heartbeat_ms: crate::api::now_ms(),
        }
    }

    async fn heartbeats(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(HEARTBEAT_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            ticks.tick().await;
            let beat = tokio::time::timeout(STEP_TIMEOUT, self.cluster.heartbeat(&self.record()))
                .await
                .unwrap_or_else(|_| {
                    Err(ClusterError::NoAnswer {
                        node: "NATS".into(),
                        verb: "heartbeat".into(),
                        timeout_ms: STEP_TIMEOUT.as_millis() as u64,
                        cause: "no acknowledgement".into(),
                    })
                });
            match beat {
                Ok(()) if failing => {
                    failing = false;
                    eprintln!("rustyray node: heartbeats resumed");
                }
                Ok(()) => {
                    let _ = tokio::time::timeout(STEP_TIMEOUT, self.sweep()).await;
                }
                Err(err) if !failing => {
                    failing = true;
                    eprintln!("rustyray node: heartbeat failed ({err}); retrying");
                }
                Err(_) => {}
            }
        }
    }

    async fn syncs(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(SYNC_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let _ = tokio::time::timeout(STEP_TIMEOUT, self.sync()).await;
        }
    }

    /// Publishes the records of this node's jobs that changed since last time.
    async fn sync(&self) {
        for details in self.jobs.list() {
            let Some(id) = details.submission_id.clone() else {
                continue;
            };
            let Ok(json) = serde_json::to_string(&details) else {
                continue;
            };
            let same = self
                .published
                .lock()
                .is_ok_and(|published| published.get(&id) == Some(&json));
            if same {
                continue;
            }
            let entry = JobEntry {
                node_id: self.node_id.clone(),
                job: details.clone(),
            };
            if self.cluster.put_job(&id, &entry).await.is_ok() {
                if let Ok(mut published) = self.published.lock() {
                    published.insert(id.clone(), json);
                }
                if details.status.is_terminal()
                    && let Ok(mut requests) = self.requests.lock()
                {
                    requests.remove(&id);
                }
            }
        }
    }

    /// Marks FAILED the unfinished jobs of nodes that are dead: no heartbeat, and no
    /// answer to a ping (a node that lost NATS for a while is not dead).
    async fn sweep(&self) {
        // Just after NATS restarted, a live node's heartbeat may have expired and not be
        // written again yet.
        if !self.cluster.settled() {
            return;
        }
        let Ok(nodes) = self.cluster.nodes().await else {
            return;
        };
        let swept = self.swept.lock().map(|s| s.clone()).unwrap_or_default();
        let dead: HashMap<String, NodeRecord> = nodes
            .into_iter()
            .filter(|view| {
                !view.alive
                    && view.record.node_id != self.node_id
                    && !swept.contains(&view.record.node_id)
            })
            .map(|view| (view.record.node_id.clone(), view.record))
            .collect();
        if dead.is_empty() {
            return;
        }
        let mut answered = HashSet::new();
        for id in dead.keys() {
            let ping: std::result::Result<Reply<String>, _> =
                self.cluster.request(id, "ping", &()).await;
            if ping.is_ok() {
                answered.insert(id.clone());
            }
        }
        let Ok(jobs) = self.cluster.jobs::<JobDetails>().await else {
            return;
        };
        let mut conflicts = HashSet::new();
        for (id, mut entry, revision) in jobs {
            let Some(node) = dead.get(&entry.node_id) else {
                continue;
            };
            if answered.contains(&node.node_id) || entry.job.status.is_terminal() {
                continue;
            }
            mark_lost(&mut entry.job, node);
            if self
                .cluster
                .update_job(&id, &entry, revision)
                .await
                .is_err()
            {
                conflicts.insert(node.node_id.clone());
            } else {
                eprintln!(
                    "rustyray node: job {id} failed: its node {} was lost",
                    node.node_id
                );
            }
        }
        if let Ok(mut swept) = self.swept.lock() {
            for id in dead.keys() {
                if !answered.contains(id) && !conflicts.contains(id) {
                    swept.insert(id.clone());
                }
            }
        }
    }

    async fn serve(self: Arc<Self>, requests: impl futures::Stream<Item = Incoming>) {
        let mut requests = std::pin::pin!(requests);
        while let Some(incoming) = requests.next().await {
            let link = self.clone();
            tokio::spawn(async move {
                let reply = link.handle(&incoming).await;
                let _ = link.cluster.answer(&incoming, &reply).await;
            });
        }
    }

    async fn handle(&self, incoming: &Incoming) -> Reply<serde_json::Value> {
        let result = self.handle_verb(&incoming.verb, &incoming.body).await;
        match result {
            Ok(value) => Reply::Ok(value),
            Err(err) => {
                let body = err.to_body();
                Reply::Err(RemoteError {
                    error: body.error,
                    message: body.message,
                    status: err.status(),
                })
            }
        }
    }

    async fn handle_verb(&self, verb: &str, body: &[u8]) -> Result<serde_json::Value> {
        fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T> {
            serde_json::from_slice(body)
                .map_err(|err| NodeError::BadRequest(format!("a cluster request: {err}")))
        }
        fn encode(value: impl Serialize) -> Result<serde_json::Value> {
            serde_json::to_value(value).map_err(|err| NodeError::io("encoding an answer", err))
        }
        match verb {
            "ping" => encode(&self.node_id),
            "submit" => encode(self.submit_here(decode(body)?).await?),
            "details" => encode(self.jobs.details(&decode::<JobId>(body)?.id)?),
            "stop" => encode(self.jobs.stop(&decode::<JobId>(body)?.id)?),
            "delete" => {
                let id = decode::<JobId>(body)?.id;
                let deleted = self.jobs.delete(&id)?;
                self.forget(&id).await?;
                encode(deleted)
            }
            "log_chunk" => {
                let request: LogChunkRequest = decode(body)?;
                let wait = Duration::from_millis(request.wait_ms).min(LOG_WAIT);
                let (data, ended) = self
                    .jobs
                    .log_chunk(&request.id, request.offset, LOG_CHUNK_BYTES, wait)
                    .await?;
                encode(LogChunk { data, ended })
            }
            "timeline_chunk" => {
                let request: TimelineChunkRequest = decode(body)?;
                let (data, next) = self
                    .jobs
                    .timeline_chunk(&request.id, request.offset, TIMELINE_CHUNK_BYTES)
                    .await?;
                encode(TimelineChunk { data, next })
            }
            "state_list" => {
                let request: StateRequest = decode(body)?;
                let resource = crate::state::Resource::parse(&request.resource)?;
                let query = crate::state::ListQuery::parse(request.query.as_deref())?;
                let mut part = crate::state::list(&self.local().await?, resource, &query)?;
                crate::state::fit(&mut part, crate::state::MAX_PART_BYTES);
                encode(part)
            }
            "state_summary" => {
                let request: StateRequest = decode(body)?;
                let merged = self.local().await?;
                match crate::state::Resource::parse(&request.resource)? {
                    crate::state::Resource::Actors => {
                        encode(crate::state::summarize_actors(&merged))
                    }
                    _ => encode(crate::state::summarize_tasks(&merged)),
                }
            }
            other => Err(NodeError::BadRequest(format!(
                "unknown cluster request {other:?}"
            ))),
        }
    }

    async fn forget(&self, id: &str) -> Result<()> {
        self.cluster.delete_job(id).await?;
        if let Ok(mut published) = self.published.lock() {
            published.remove(id);
        }
        Ok(())
    }

    /// Asks node `node` to do `verb`.
    async fn ask<Q: Serialize, A: serde::de::DeserializeOwned>(
        &self,
        node: &str,
        verb: &str,
        request: &Q,
    ) -> Result<A> {
        match self.cluster.request::<Q, A>(node, verb, request).await? {
            Reply::Ok(answer) => Ok(answer),
            Reply::Err(err) => Err(NodeError::Forwarded {
                kind: err.error,
                status: err.status,
                message: err.message,
            }),
        }
    }

    /// Gives the state verbs this node's own state.
    pub fn serve_state(&self, source: LocalState) {
        let _ = self.local_state.set(source);
    }

    async fn local(&self) -> Result<crate::state::Merged> {
        let source = self
            .local_state
            .get()
            .ok_or_else(|| NodeError::BadRequest("this node is still starting".into()))?;
        source()
            .await
            .ok_or_else(|| NodeError::BadRequest("this node is stopping".into()))
    }

    /// Asks every other live node `verb` at once; each answer, or why there was none.
    async fn ask_others<A: serde::de::DeserializeOwned>(
        &self,
        verb: &str,
        request: &StateRequest,
    ) -> (Vec<A>, Vec<String>) {
        let nodes = match self.cluster.nodes().await {
            Ok(nodes) => nodes,
            Err(err) => return (Vec::new(), vec![format!("the other nodes: {err}")]),
        };
        let asked = nodes
            .into_iter()
            .filter(|view| view.alive && view.record.node_id != self.node_id)
            .map(|view| async move {
                let id = view.record.node_id;
                let answer: Result<A> = self.ask(&id, verb, request).await;
                answer.map_err(|err| format!("node {id} did not answer: {err}"))
            });
        let mut answers = Vec::new();
        let mut failures = Vec::new();
        for answer in futures::future::join_all(asked).await {
            match answer {
                Ok(answer) => answers.push(answer),
                Err(failure) => failures.push(failure),
            }
        }
        (answers, failures)
    }

    /// The cluster's list of `resource`: this node's `local` part and every other live
    /// node's, each filtered and limited by `query` where it is, then limited again.
    pub async fn gather_list(
        &self,
        resource: crate::state::Resource,
        query: Option<&str>,
        local: crate::state::ListResult,
        limit: usize,
    ) -> crate::state::ListResult {
        let request = StateRequest {
            resource: resource.as_str().into(),
            query: query.map(String::from),
        };
        let (mut parts, failures) = self.ask_others("state_list", &request).await;
        parts.insert(0, local);
        crate::state::combine(parts, failures, limit)
    }

    /// The cluster's task summary: this node's and every other live node's, added.
    pub async fn gather_task_summary(
        &self,
        mut summary: crate::state::Summary<crate::state::TaskSummaryLine>,
    ) -> crate::state::Summary<crate::state::TaskSummaryLine> {
        let request = StateRequest {
            resource: "tasks".into(),
            query: None,
        };
        let (parts, _) = self.ask_others("state_summary", &request).await;
        for part in parts {
            crate::state::add_summary(&mut summary, part);
        }
        summary
    }

    /// The cluster's actor summary: this node's and every other live node's, added.
    pub async fn gather_actor_summary(
        &self,
        mut summary: crate::state::Summary<crate::state::ActorSummaryLine>,
    ) -> crate::state::Summary<crate::state::ActorSummaryLine> {
        let request = StateRequest {
            resource: "actors".into(),
            query: None,
        };
        let (parts, _) = self.ask_others("state_summary", &request).await;
        for part in parts {
            crate::state::add_summary(&mut summary, part);
        }
        summary
    }

    /// Every node of the cluster.
    pub async fn nodes(&self) -> Result<Vec<NodeEntry>> {
        Ok(self
            .cluster
            .nodes()
            .await?
            .into_iter()
            .map(|view| NodeEntry {
                this_node: view.record.node_id == self.node_id,
                state: if view.alive { "ALIVE" } else { "DEAD" }.into(),
                alive: view.alive,
                node_id: view.record.node_id,
                address: view.record.address,
                resources: view.record.resources,
                available: view.record.available,
                running_jobs: view.record.running_jobs,
                pending_jobs: view.record.pending_jobs,
                running_tasks: Some(view.record.running_tasks),
                waiting_for_resources: Some(view.record.waiting_for_resources),
                started_ms: view.record.started_ms,
                last_heartbeat_ms: view.record.heartbeat_ms,
            })
            .collect())
    }

    /// Places a job on the least-loaded live node that has what it asks for, and submits
    /// it there.
    pub async fn submit(&self, mut request: JobSubmitRequest) -> Result<JobSubmitResponse> {
        let id = request
            .submission_id
            .clone()
            .or_else(|| request.job_id.clone())
            .unwrap_or_else(crate::jobs::new_submission_id);
        request.submission_id = Some(id);
        request.job_id = None;
        let wanted = request.resources();
        let nodes = self.cluster.settled_nodes().await?;
        let target = rustyray_cluster::registry::place(&nodes, &wanted)
            .map(|node| node.node_id.clone())
            .ok_or_else(|| NodeError::Unschedulable {
                asked: describe(&wanted),
            })?;
        if target == self.node_id {
            self.submit_here(request).await
        } else {
            self.ask(&target, "submit", &request).await
        }
    }

    /// Runs a job on this node: fetches the modules it lacks, claims the id cluster-wide,
    /// and submits it to the node's jobs.
    async fn submit_here(&self, request: JobSubmitRequest) -> Result<JobSubmitResponse> {
        let wanted = request.resources();
        if !self.account.feasible(&wanted) {
            return Err(NodeError::Unschedulable {
                asked: describe(&wanted),
            });
        }
        self.fetch_modules().await?;
        let id = request
            .submission_id
            .clone()
            .unwrap_or_else(crate::jobs::new_submission_id);
        let claim = JobEntry {
            node_id: self.node_id.clone(),
            job: pending(&id, &request.entrypoint),
        };
        match self.cluster.create_job(&id, &claim).await {
            Ok(_) => {}
            Err(ClusterError::Exists { .. }) => return Err(NodeError::JobExists(id)),
            Err(ClusterError::BadKey(_)) => {
                return Err(NodeError::BadRequest(format!(
                    "submission id {id:?}: use 1 to 64 letters, digits, '_' or '-'"
                )));
            }
            Err(err) => return Err(err.into()),
        }
        if let Ok(mut requests) = self.requests.lock() {
            requests.insert(id.clone(), self.account.force(&wanted));
        }
        match self.jobs.submit(request) {
            Ok(response) => {
                self.sync().await;
                Ok(response)
            }
            Err(err) => {
                if let Ok(mut requests) = self.requests.lock() {
                    requests.remove(&id);
                }
                let _ = self.cluster.delete_job(&id).await;
                Err(err)
            }
        }
    }

    /// Fetches, checks and compiles the modules of the index this node does not hold.
    async fn fetch_modules(&self) -> Result<()> {
        let index: Vec<ModuleInfo> = self.cluster.modules().await?;
        for module in index {
            if self.modules.find(&module.sha256).is_ok() {
                continue;
            }
            let bytes = self.cluster.module_bytes(&module.sha256).await?;
            self.modules.deploy(&bytes, &module.name).await?;
        }
        Ok(())
    }

    /// Deploys a module here and publishes it to the cluster.
    pub async fn deploy(&self, bytes: &[u8], name: &str) -> Result<ModuleInfo> {
        let module = self.modules.deploy(bytes, name).await?;
        self.cluster.put_module(bytes, &module).await?;
        Ok(module)
    }

    /// Every module deployed in the cluster, oldest first.
    pub async fn modules(&self) -> Result<Vec<ModuleInfo>> {
        let mut modules: Vec<ModuleInfo> = self.cluster.modules().await?;
        for local in self.modules.list() {
            if !modules.iter().any(|m| m.sha256 == local.sha256) {
                modules.push(local);
            }
        }
        modules.sort_by_key(|module| module.deployed_at);
        Ok(modules)
    }

    /// Whether the node running job `id` may still answer: the connection is not settled
    /// since NATS came back (nothing is read then), or the node is alive.
    async fn job_node_may_answer(&self, id: &str) -> bool {
        !self.cluster.settled() || matches!(self.locate(id).await, Ok(Place::There(_)))
    }

    async fn locate(&self, id: &str) -> Result<Place> {
        if self.jobs.details(id).is_ok() {
            return Ok(Place::Here);
        }
        let Some((entry, _)) = self.cluster.job::<JobDetails>(id).await? else {
            return Err(NodeError::JobNotFound(id.to_string()));
        };
        if self.cluster.may_be_alive(&entry.node_id).await? {
            return Ok(Place::There(entry.node_id));
        }
        let address = self
            .cluster
            .nodes()
            .await?
            .into_iter()
            .find(|view| view.record.node_id == entry.node_id)
            .map(|view| view.record.address)
            .unwrap_or_else(|| "address unknown".into());
        Ok(Place::Lost {
            node: entry.node_id,
            address,
            job: Box::new(entry.job),
        })
    }

    /// Every job of the cluster, oldest first.
    pub async fn list(&self) -> Result<Vec<JobDetails>> {
        let mut jobs: Vec<JobDetails> = self
            .cluster
            .jobs::<JobDetails>()
            .await?
            .into_iter()
            .map(|(_, entry, _)| entry.job)
            .collect();
        jobs.sort_by_key(|job| job.start_time);
        Ok(jobs)
    }

    /// One job, from the node running it (or its last record, if that node is lost).
    pub async fn details(&self, id: &str) -> Result<JobDetails> {
        match self.locate(id).await? {
            Place::Here => self.jobs.details(id),
            Place::There(node) => self.ask(&node, "details", &JobId { id: id.into() }).await,
            Place::Lost { job, .. } => Ok(*job),
        }
    }

    /// Stops a job wherever it runs; whether it had not ended.
    pub async fn stop(&self, id: &str) -> Result<bool> {
        match self.locate(id).await? {
            Place::Here => self.jobs.stop(id),
            Place::There(node) => self.ask(&node, "stop", &JobId { id: id.into() }).await,
            Place::Lost { .. } => Ok(false),
        }
    }

    /// Deletes an ended job wherever it ran.
    pub async fn delete(&self, id: &str) -> Result<bool> {
        match self.locate(id).await? {
            Place::Here => {
                let deleted = self.jobs.delete(id)?;
                self.forget(id).await?;
                Ok(deleted)
            }
            Place::There(node) => self.ask(&node, "delete", &JobId { id: id.into() }).await,
            Place::Lost { job, .. } if job.status.is_terminal() => {
                self.forget(id).await?;
                Ok(true)
            }
            Place::Lost { .. } => Err(NodeError::JobNotEnded(id.to_string())),
        }
    }

    /// Everything the job wrote so far.
    pub async fn logs(&self, id: &str) -> Result<String> {
        match self.locate(id).await? {
            Place::Here => self.jobs.logs(id).await,
            Place::There(node) => {
                let mut log = Vec::new();
                loop {
                    let chunk: LogChunk = self
                        .ask(
                            &node,
                            "log_chunk",
                            &LogChunkRequest {
                                id: id.into(),
                                offset: log.len() as u64,
                                wait_ms: 0,
                            },
                        )
                        .await?;
                    if chunk.data.is_empty() {
                        break;
                    }
                    log.extend_from_slice(&chunk.data);
                }
                Ok(String::from_utf8_lossy(&log).into_owned())
            }
            Place::Lost { node, address, .. } => Err(NodeError::NodeLost {
                job: id.into(),
                node,
                address,
            }),
        }
    }

    /// The timeline of job `id` wherever it ran (every job's of the cluster, without
    /// one): Chrome trace events, as [`JobManager::timeline`] gives them. A job's part
    /// from another node is at most [`MAX_TIMELINE_BYTES`] of its file, fetched in
    /// chunks; a lost node's jobs are left out of the whole-cluster timeline (and named
    /// in an error for one job).
    pub async fn timeline(&self, id: Option<&str>) -> Result<Vec<serde_json::Value>> {
        let ids: Vec<String> = match id {
            Some(id) => vec![id.to_string()],
            None => self
                .list()
                .await?
                .into_iter()
                .filter_map(|job| job.submission_id)
                .collect(),
        };
        let mut all = Vec::new();
        for job in ids {
            let events = match self.locate(&job).await {
                Ok(Place::Here) => self.jobs.timeline(Some(&job)).await,
                Ok(Place::There(node)) => self.timeline_from(&node, &job).await,
                Ok(Place::Lost { node, address, .. }) => Err(NodeError::NodeLost {
                    job: job.clone(),
                    node,
                    address,
                }),
                Err(err) => Err(err),
            };
            match events {
                Ok(events) => all.extend(events),
                Err(err) if id.is_some() => return Err(err),
                Err(_) => {}
            }
        }
        Ok(all)
    }

    /// Job `id`'s timeline from `node`, in chunks, at most [`MAX_TIMELINE_BYTES`].
    async fn timeline_from(&self, node: &str, id: &str) -> Result<Vec<serde_json::Value>> {
        let mut text = String::new();
        let mut offset = 0u64;
        let mut cut = false;
        loop {
            let chunk: TimelineChunk = self
                .ask(
                    node,
                    "timeline_chunk",
                    &TimelineChunkRequest {
                        id: id.into(),
                        offset,
                    },
                )
                .await?;
            text.push_str(&chunk.data);
            match chunk.next {
                Some(next) if next > offset => offset = next,
                _ => break,
            }
            if text.len() as u64 >= MAX_TIMELINE_BYTES {
                cut = true;
                break;
            }
        }
        let mut events = crate::jobs::timeline_events(&[(id.to_string(), text)]);
        if cut {
            events.push(serde_json::json!({
                "ph": "i", "s": "g", "name": "timeline cut", "pid": 0, "tid": 0, "ts": 0,
                "args": {"reason": format!(
                    "job {id}'s timeline on node {node} is over {MAX_TIMELINE_BYTES} bytes; \
                     the rest was left out")}
            }));
        }
        Ok(events)
    }

    /// The job's log as it is written, wherever it runs, until it ends.
    pub async fn follow(
        self: &Arc<Self>,
        id: &str,
    ) -> Result<futures::stream::BoxStream<'static, Vec<u8>>> {
        match self.locate(id).await? {
            Place::Here => Ok(self.jobs.follow(id)?.boxed()),
            Place::There(node) => {
                let link = self.clone();
                let id = id.to_string();
                Ok(futures::stream::unfold(Some(0u64), move |offset| {
                    let link = link.clone();
                    let node = node.clone();
                    let id = id.clone();
                    async move {
                        let mut offset = offset?;
                        let mut failing: Option<std::time::Instant> = None;
                        loop {
                            let asked: Result<LogChunk> = link
                                .ask(
                                    &node,
                                    "log_chunk",
                                    &LogChunkRequest {
                                        id: id.clone(),
                                        offset,
                                        wait_ms: LOG_WAIT.as_millis() as u64,
                                    },
                                )
                                .await;
                            let chunk = match asked {
                                Ok(chunk) => {
                                    failing = None;
                                    chunk
                                }
                                // NATS restarting: the job's node answers again once both
                                // reconnected, which it does while it is alive.
                                Err(NodeError::Cluster(_))
                                    if failing
                                        .get_or_insert_with(std::time::Instant::now)
                                        .elapsed()
                                        < rustyray_cluster::OUTAGE_WAIT
                                        && link.job_node_may_answer(&id).await =>
                                {
                                    tokio::time::sleep(rustyray_cluster::OUTAGE_RETRY).await;
                                    continue;
                                }
                                Err(_) => return None,
                            };
                            if !chunk.data.is_empty() {
                                offset += chunk.data.len() as u64;
                                return Some((chunk.data, Some(offset)));
                            }
                            if chunk.ended {
                                return None;
                            }
                        }
                    }
                })
                .boxed())
            }
            Place::Lost { node, address, .. } => Err(NodeError::NodeLost {
                job: id.into(),
                node,
                address,
            }),
        }
    }
}

/// Rewrites a job's record: FAILED, because its node was lost.
fn mark_lost(job: &mut JobDetails, node: &NodeRecord) {
    job.status = JobStatus::Failed;
    job.error_type = Some("NODE_DIED".into());
    job.message = Some(format!(
        "The node {} ({}) running the job was lost: no heartbeat for {} s. The job's \
         driver, tasks and actors were there.",
        node.node_id,
        node.address,
        rustyray_cluster::HEARTBEAT_TTL.as_secs(),
    ));
    job.end_time = Some(crate::api::now_ms());
}

/// The record that claims a job id before the job is submitted.
fn pending(id: &str, entrypoint: &str) -> JobDetails {
    JobDetails {
        kind: "SUBMISSION".into(),
        job_id: Some(id.into()),
        submission_id: Some(id.into()),
        driver_info: None,
        status: JobStatus::Pending,
        entrypoint: entrypoint.into(),
        message: Some("Job has not started yet.".into()),
        error_type: None,
        start_time: Some(crate::api::now_ms()),
        end_time: None,
        metadata: None,
        runtime_env: None,
        driver_agent_http_address: None,
        driver_node_id: None,
        driver_exit_code: None,
    }
}

/// `NAME=N, ...` (or "nothing").
pub fn describe(resources: &BTreeMap<String, f64>) -> String {
    if resources.is_empty() {
        return "nothing".into();
    }
    resources
        .iter()
        .map(|(name, amount)| format!("{name}={amount}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `NAME=N,NAME=N` (`--resources`).
pub fn parse_resources(spec: &str) -> std::result::Result<BTreeMap<String, f64>, String> {
    let mut resources = BTreeMap::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, amount) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?}: write NAME=N"))?;
        let name = name.trim();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
        {
            return Err(format!(
                "{name:?}: a resource name is 1 to 64 letters, digits, '_', '-', '.' or ':'"
            ));
        }
        let amount: f64 = amount
            .trim()
            .parse()
            .map_err(|_| format!("{part:?}: the amount is not a number"))?;
        if !amount.is_finite() || amount < 0.0 {
            return Err(format!("{part:?}: the amount must be 0 or more"));
        }
        resources.insert(name.to_string(), amount);
    }
    Ok(resources)
}
