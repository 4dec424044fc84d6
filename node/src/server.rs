//! The node's HTTP service (axum): Ray's job API under `/api/jobs/`, modules under
//! `/api/modules`, the state API under `/api/v0/`, `/metrics`, and the dashboard at `/`.
//! [`start`] binds and serves until its `shutdown` future resolves (SIGINT/SIGTERM for
//! `rustyray start`), then stops the jobs and returns.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ws::{CloseFrame, Message, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use rustyray::DirGrant;

use crate::api::{
    self, JobDeleteResponse, JobLogsResponse, JobStopResponse, JobSubmitRequest, NodeEntry,
    NodeStatus, VersionInfo,
};
use crate::cluster::ClusterLink;
use crate::detached::DetachedActors;
use crate::entrypoint::JobPolicy;
use crate::error::{NodeError, Result};
use crate::jobs::{JobConfig, JobManager};
use crate::metrics::Metrics;
use crate::modules::ModuleStore;

/// How a node is started (`rustyray start` flags).
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Address to bind (default 127.0.0.1).
    pub host: String,
    /// Port (default 8265, Ray's dashboard port; 0 picks a free one).
    pub port: u16,
    /// Where modules, jobs, logs and compiled code are kept; `None`: a temporary
    /// directory, removed when the node stops.
    pub data_dir: Option<PathBuf>,
    /// The token file (required to bind beyond loopback).
    pub token_file: Option<PathBuf>,
    /// Directories jobs may be granted.
    pub allow_dirs: Vec<DirGrant>,
    /// Network destinations jobs may ask for (`--allow-net`); none by default.
    pub allow_net: Vec<rustyray::NetRule>,
    /// Ports jobs may ask to listen on (`--allow-listen`); none by default.
    pub allow_listen: Vec<rustyray::PortRange>,
    /// Jobs running at once.
    pub max_jobs: usize,
    /// Linear memory each guest of a job may grow to, in MiB.
    pub job_memory_mib: u64,
    /// Largest module upload, in MiB.
    pub max_upload_mib: u64,
    /// Log kept per job, in MiB.
    pub max_log_mib: u64,
    /// The cluster to join (`nats://HOST:PORT`); `None`: a node alone.
    pub cluster: Option<String>,
    /// Custom resources the node offers jobs (`--resources NAME=N,...`), beside `CPU`.
    pub resources: BTreeMap<String, f64>,
    /// In a cluster: task runtimes kept at once (`--max-task-runtimes`).
    pub max_task_runtimes: usize,
    /// In a cluster: task results larger than this many bytes stay on the node that
    /// made them until their owner uses them (`--max-direct-call-object-size`).
    pub max_direct_call_object_size: usize,
    /// In a cluster: the most MiB of such results a node keeps at once
    /// (`--max-held-objects-mib`); past it results are sent back by value.
    pub max_held_objects_mib: u64,
    /// In a cluster: the largest actor snapshot kept in JetStream, in MiB
    /// (`--max-snapshot-mib`).
    pub max_snapshot_mib: u64,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            host: "127.0.0.1".into(),
            port: 8265,
            data_dir: None,
            token_file: None,
            allow_dirs: Vec::new(),
            allow_net: Vec::new(),
            allow_listen: Vec::new(),
            max_jobs: 8,
            job_memory_mib: 256,
            max_upload_mib: 64,
            max_log_mib: 64,
            cluster: None,
            resources: BTreeMap::new(),
            max_task_runtimes: crate::cluster_tasks::MAX_TASK_RUNTIMES,
            max_direct_call_object_size: crate::cluster_objects::MAX_DIRECT_CALL_OBJECT_SIZE,
            max_held_objects_mib: crate::cluster_objects::MAX_HELD_MIB,
            max_snapshot_mib: crate::cluster_actors::MAX_SNAPSHOT_MIB,
        }
    }
}

/// A running node's shared state.
pub struct Node {
    config: NodeConfig,
    address: String,
    data_dir: PathBuf,
    token: Option<String>,
    modules: Arc<ModuleStore>,
    jobs: Arc<JobManager>,
    detached: Arc<DetachedActors>,
    metrics: Arc<Metrics>,
    started: Instant,
    started_ms: u64,
    session: String,
    /// The node's membership of a cluster, if it joined one.
    cluster: Option<Arc<ClusterLink>>,
    /// Its part in actors placed cluster-wide, in a cluster.
    cluster_actors: Option<Arc<crate::cluster_actors::ClusterActors>>,
    /// Its part in running the cluster's tasks, if it joined one.
    cluster_tasks: Option<Arc<crate::cluster_tasks::ClusterTasks>>,
    /// Its resources and what holds them (`held.rs`).
    account: Arc<crate::held::Account>,
}

impl Node {
    /// The node's detached actors (hosted by its own runtime).
    pub fn detached(&self) -> &Arc<DetachedActors> {
        &self.detached
    }
}

/// A bound node, ready to [`serve`](BoundNode::serve).
pub struct BoundNode {
    listener: tokio::net::TcpListener,
    node: Arc<Node>,
    temporary: bool,
}

impl BoundNode {
    /// The address clients use: `http://HOST:PORT`.
    pub fn address(&self) -> &str {
        &self.node.address
    }

    /// Where the node keeps its data.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.node.data_dir
    }

    /// The node's id in its cluster and the NATS URL, if it joined one.
    pub fn cluster(&self) -> Option<(&str, &str)> {
        self.node
            .cluster
            .as_ref()
            .map(|link| (link.node_id(), link.url()))
    }

    /// Serves until `shutdown` resolves; then stops every job (SIGTERM, then SIGKILL
    /// after a grace period) and waits for their drivers.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let node = self.node.clone();
        let app = router(node.clone());
        let stopping = node.clone();
        let result = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                // Followers' streams end when their jobs do.
                stopping.jobs.shutdown().await;
            })
            .await
            .map_err(|err| NodeError::io("serving", err));
        node.jobs.shutdown().await;
        if let Some(actors) = &node.cluster_actors {
            actors.stop();
        }
        node.detached.shutdown().await;
        if let Some(tasks) = &node.cluster_tasks {
            tasks.shutdown().await;
        }
        if let Some(link) = &node.cluster {
            link.leave().await;
        }
        if self.temporary {
            let _ = std::fs::remove_dir_all(&node.data_dir);
        }
        result
    }
}

/// Opens the node's data, binds its address, and returns it ready to serve.
pub async fn start(config: NodeConfig) -> Result<BoundNode> {
    let loopback = match config.host.as_str() {
        "localhost" => true,
        host => host
            .parse::<std::net::IpAddr>()
            .map_err(|_| NodeError::BadRequest(format!("--host {host:?} is not an IP address")))?
            .is_loopback(),
    };
    let token = match &config.token_file {
        Some(path) => Some(crate::token::load_or_create(path)?),
        None if loopback => None,
        None => {
            return Err(NodeError::TokenRequired {
                host: config.host.clone(),
            });
        }
    };
    let (data_dir, temporary) = match &config.data_dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!(
                "rustyray-node-{}-{}",
                std::process::id(),
                crate::modules::hex(&crate::token::random_bytes(4))
            )),
            true,
        ),
    };
    std::fs::create_dir_all(&data_dir)
        .map_err(|err| NodeError::io(format!("creating {}", data_dir.display()), err))?;
    let data_dir = data_dir
        .canonicalize()
        .map_err(|err| NodeError::io(format!("opening {}", data_dir.display()), err))?;
    let mut allow_dirs = Vec::new();
    for grant in &config.allow_dirs {
        let host = grant
            .host
            .canonicalize()
            .map_err(|err| NodeError::io(format!("--allow-dir {}", grant.host.display()), err))?;
        allow_dirs.push(DirGrant {
            host,
            ..grant.clone()
        });
    }
    let cache_dir = data_dir.join("cache");
    let runtime = rustyray::Runtime::builder()
        .worker_threads(1)
        .max_instances(4)
        .max_actors(1)
        .cache_dir(Some(cache_dir.clone()))
        .memory_limit((config.job_memory_mib as usize).saturating_mul(1 << 20))
        .build()?;
    let modules = Arc::new(ModuleStore::open(data_dir.join("modules"), runtime)?);
    let detached = Arc::new(
        DetachedActors::start(&data_dir, &modules, &cache_dir, config.job_memory_mib).await?,
    );
    let metrics = Arc::new(Metrics::default());
    let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(|err| {
            NodeError::io(
                format!(
                    "binding {}:{} (another node or program there? choose --port)",
                    config.host, config.port
                ),
                err,
            )
        })?;
    let local: SocketAddr = listener
        .local_addr()
        .map_err(|err| NodeError::io("reading the bound address", err))?;
    let address = format!("http://{local}");
    let tasks_socket = match &config.cluster {
        Some(_) => Some(crate::cluster_tasks::ClusterTasks::socket_for(&data_dir)?),
        None => None,
    };
    let exe = std::env::current_exe().map_err(|err| NodeError::io("finding rustyray", err))?;
    let jobs = JobManager::open(
        JobConfig {
            dir: data_dir.join("jobs"),
            exe,
            cache_dir,
            max_jobs: config.max_jobs,
            max_log_bytes: config.max_log_mib.saturating_mul(1 << 20),
            policy: JobPolicy {
                allow_dirs,
                memory_mib: config.job_memory_mib,
                allow_net: config.allow_net.clone(),
                allow_listen: config.allow_listen.clone(),
            },
            address: address.clone(),
            actors_socket: Some(detached.socket().to_path_buf()),
            tasks_socket: tasks_socket.as_ref().map(|(socket, _)| socket.clone()),
        },
        modules.clone(),
        metrics.clone(),
    )?;
    let cluster = match &config.cluster {
        Some(url) => Some(
            ClusterLink::join(
                url,
                &address,
                config.resources.clone(),
                jobs.clone(),
                modules.clone(),
            )
            .await?,
        ),
        None => None,
    };
    let cluster_actors = match (&cluster, &config.cluster) {
        (Some(link), Some(url)) => Some(
            crate::cluster_actors::ClusterActors::start(
                url,
                (link.node_id(), link.account()),
                detached.clone(),
                modules.clone(),
                jobs.clone(),
                usize::try_from(config.max_snapshot_mib.saturating_mul(1 << 20))
                    .unwrap_or(usize::MAX),
            )
            .await?,
        ),
        _ => None,
    };
    let cluster_tasks = match (&cluster, tasks_socket) {
        (Some(link), Some(socket)) => Some(
            crate::cluster_tasks::ClusterTasks::start(
                link.cluster().clone(),
                link.node_id().to_string(),
                (link.running_tasks(), link.account()),
                modules.clone(),
                socket,
                data_dir.join("cache"),
                config.job_memory_mib,
                &metrics,
                cluster_actors.clone(),
                config.max_task_runtimes,
            )
            .await?,
        ),
        _ => None,
    };
    if let (Some(link), Some(tasks)) = (&cluster, &cluster_tasks) {
        let objects = crate::cluster_objects::ClusterObjects::start(
            link.cluster().clone(),
            link.node_id().to_string(),
            config.max_direct_call_object_size,
            usize::try_from(config.max_held_objects_mib)
                .unwrap_or(usize::MAX)
                .saturating_mul(1 << 20),
            &metrics,
        )
        .await?;
        // Object references in actor calls are kept and counted there too.
        if let Some(actors) = &cluster_actors {
            actors.set_objects(&objects);
        }
        tasks.set_objects(objects);
    }
    let account = match &cluster {
        Some(link) => link.account(),
        // A node alone: its detached actors asking for resources hold them here.
        None => {
            let mut resources = config.resources.clone();
            resources.insert(
                "CPU".into(),
                std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
            );
            let account = crate::held::Account::new(&jobs.node_id(), resources);
            crate::detached::HeldHere::attach(detached.host(), account.clone());
            account
        }
    };
    let node = Arc::new(Node {
        account,
        cluster,
        cluster_actors,
        cluster_tasks,
        session: format!("session_{}", api::now_ms()),
        config,
        address,
        data_dir,
        token,
        modules,
        jobs,
        detached,
        metrics,
        started: Instant::now(),
        started_ms: api::now_ms(),
    });
    if let Some(link) = &node.cluster {
        // Other nodes ask this one for its own state (a weak reference: no cycle).
        let weak = Arc::downgrade(&node);
        link.serve_state(Arc::new(move || {
            let weak = weak.clone();
            Box::pin(async move {
                let node = weak.upgrade()?;
                Some(merged_state(&node).await)
            })
        }));
    }
    Ok(BoundNode {
        listener,
        node,
        temporary,
    })
}

fn router(node: Arc<Node>) -> Router {
    let upload_limit = (node.config.max_upload_mib as usize).saturating_mul(1 << 20);
    Router::new()
        .route("/api/version", get(version))
        .route("/api/jobs/", post(submit_job).get(list_jobs))
        .route("/api/jobs", post(submit_job).get(list_jobs))
        .route("/api/jobs/{id}", get(job_details).delete(delete_job))
        .route("/api/jobs/{id}/stop", post(stop_job))
        .route("/api/jobs/{id}/logs", get(job_logs))
        .route("/api/jobs/{id}/logs/stream", get(stream_logs))
        .route("/api/jobs/{id}/logs/tail", get(tail_logs))
        .route(
            "/api/modules",
            post(deploy_module)
                .get(list_modules)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/v0/status", get(status))
        .route("/api/v0/jobs", get(list_jobs))
        .route("/api/v0/modules", get(list_modules))
        .route("/api/v0/nodes", get(list_nodes))
        .route("/api/v0/timeline", get(timeline))
        .route("/api/v0/tasks/summarize", get(summarize_tasks))
        .route("/api/v0/actors/summarize", get(summarize_actors))
        .route("/api/v0/{resource}", get(list_state))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(node.clone(), authorize))
        .route("/", get(crate::dashboard::page))
        .route("/dashboard.js", get(crate::dashboard::script))
        .with_state(node)
}

/// Every API request carries the token when the node has one. The dashboard's page
/// and script hold no data, so they load without it (the page asks for the token).
async fn authorize(State(node): State<Arc<Node>>, request: Request, next: Next) -> Response {
    if let Some(token) = &node.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or("");
        if !crate::token::same(given.trim(), token) {
            return NodeError::Unauthorized.into_response();
        }
    }
    next.run(request).await
}

impl IntoResponse for NodeError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        (status, axum::Json(self.to_body())).into_response()
    }
}

type Answer<T> = std::result::Result<axum::Json<T>, NodeError>;

async fn version(State(node): State<Arc<Node>>) -> axum::Json<VersionInfo> {
    axum::Json(VersionInfo {
        version: api::JOBS_API_VERSION.into(),
        ray_version: api::RAY_API_VERSION.into(),
        ray_commit: format!("rustyray-{}", env!("CARGO_PKG_VERSION")),
        session_name: node.session.clone(),
        rustyray_version: env!("CARGO_PKG_VERSION").into(),
    })
}

async fn submit_job(State(node): State<Arc<Node>>, body: Bytes) -> Answer<api::JobSubmitResponse> {
    let request: JobSubmitRequest = serde_json::from_slice(&body).map_err(|err| {
        NodeError::BadRequest(format!("the job request is not valid JSON: {err}"))
    })?;
    if let Some(link) = &node.cluster {
        return Ok(axum::Json(link.submit(request).await?));
    }
    let wanted = request.resources();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let lacking = wanted.iter().any(|(name, amount)| {
        let has = match name.as_str() {
            "CPU" => cpus,
            other => node.config.resources.get(other).copied().unwrap_or(0.0),
        };
        has < *amount
    });
    if lacking {
        return Err(NodeError::Unschedulable {
            asked: crate::cluster::describe(&wanted),
        });
    }
    Ok(axum::Json(node.jobs.submit(request)?))
}

async fn list_jobs(State(node): State<Arc<Node>>) -> Answer<Vec<api::JobDetails>> {
    match &node.cluster {
        Some(link) => Ok(axum::Json(link.list().await?)),
        None => Ok(axum::Json(node.jobs.list())),
    }
}

async fn job_details(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
) -> Answer<api::JobDetails> {
    match &node.cluster {
        Some(link) => Ok(axum::Json(link.details(&id).await?)),
        None => Ok(axum::Json(node.jobs.details(&id)?)),
    }
}

async fn stop_job(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
) -> Answer<JobStopResponse> {
    let stopped = match &node.cluster {
        Some(link) => link.stop(&id).await?,
        None => node.jobs.stop(&id)?,
    };
    Ok(axum::Json(JobStopResponse { stopped }))
}

async fn delete_job(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
) -> Answer<JobDeleteResponse> {
    let deleted = match &node.cluster {
        Some(link) => link.delete(&id).await?,
        None => node.jobs.delete(&id)?,
    };
    Ok(axum::Json(JobDeleteResponse { deleted }))
}

async fn job_logs(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
) -> Answer<JobLogsResponse> {
    let logs = match &node.cluster {
        Some(link) => link.logs(&id).await?,
        None => node.jobs.logs(&id).await?,
    };
    Ok(axum::Json(JobLogsResponse { logs }))
}

/// The job's log as it is written, wherever the job runs.
async fn log_stream(
    node: &Node,
    id: &str,
) -> std::result::Result<futures::stream::BoxStream<'static, Vec<u8>>, NodeError> {
    match &node.cluster {
        Some(link) => link.follow(id).await,
        None => Ok(node.jobs.follow(id)?.boxed()),
    }
}

async fn list_nodes(State(node): State<Arc<Node>>) -> Answer<Vec<NodeEntry>> {
    if let Some(link) = &node.cluster {
        return Ok(axum::Json(link.nodes().await?));
    }
    let counts = node.jobs.counts();
    Ok(axum::Json(vec![NodeEntry {
        node_id: node.jobs.node_id().to_string(),
        address: node.address.clone(),
        state: "ALIVE".into(),
        alive: true,
        available: node.account.available(),
        resources: node.account.total().clone(),
        running_jobs: counts.get("RUNNING").copied().unwrap_or(0),
        pending_jobs: counts.get("PENDING").copied().unwrap_or(0),
        running_tasks: None,
        waiting_for_resources: Some(node.account.waiting()),
        started_ms: node.started_ms,
        last_heartbeat_ms: api::now_ms(),
        this_node: true,
    }]))
}

/// The log as plain text, chunk by chunk as it is written, until the job ends.
async fn stream_logs(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
) -> std::result::Result<Response, NodeError> {
    let stream = log_stream(&node, &id)
        .await?
        .map(|chunk| Ok::<_, std::convert::Infallible>(Bytes::from(chunk)));
    let mut response = Body::from_stream(stream).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

/// Ray's log tail: a websocket of text messages, closed normally when the job ends.
async fn tail_logs(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    upgrade: WebSocketUpgrade,
) -> std::result::Result<Response, NodeError> {
    let stream = log_stream(&node, &id).await?;
    Ok(upgrade.on_upgrade(move |mut socket| async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(chunk) = stream.next().await {
            let text = String::from_utf8_lossy(&chunk).into_owned();
            if socket.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: 1000,
                reason: "".into(),
            })))
            .await;
    }))
}

#[derive(serde::Deserialize)]
struct DeployQuery {
    name: Option<String>,
}

async fn deploy_module(
    State(node): State<Arc<Node>>,
    Query(query): Query<DeployQuery>,
    body: std::result::Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Answer<api::ModuleInfo> {
    let body = body.map_err(|err| {
        if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
            NodeError::UploadTooLarge {
                limit_mib: node.config.max_upload_mib,
            }
        } else {
            NodeError::BadRequest(err.body_text())
        }
    })?;
    let name = query.name.unwrap_or_else(|| "module".into());
    let module = match &node.cluster {
        Some(link) => link.deploy(&body, &name).await?,
        None => node.modules.deploy(&body, &name).await?,
    };
    node.detached.deployed(&node.modules, &module).await;
    Ok(axum::Json(module))
}

/// `?job_id=ID` picks one job; without it, every job's.
#[derive(Debug, serde::Deserialize)]
struct TimelineQuery {
    job_id: Option<String>,
}

async fn timeline(
    State(node): State<Arc<Node>>,
    axum::extract::Query(query): axum::extract::Query<TimelineQuery>,
) -> Result<axum::Json<Vec<serde_json::Value>>, NodeError> {
    let events = match &node.cluster {
        Some(link) => link.timeline(query.job_id.as_deref()).await?,
        None => node.jobs.timeline(query.job_id.as_deref()).await?,
    };
    Ok(axum::Json(events))
}

/// Every job's state and the node's own runtime's (its detached actors, with no job
/// id), merged (see `state.rs`), each item naming this node.
async fn merged_state(node: &Node) -> crate::state::Merged {
    let mut states = node.jobs.states().await;
    states.push((None, node.detached.host().runtime().state()));
    let mut merged = crate::state::merge(states, api::now_ms());
    if let Some(actors) = &node.cluster_actors {
        crate::state::apply_placed(&mut merged, &actors.placed_here().await);
    }
    let node_id = match &node.cluster {
        Some(link) => link.node_id().to_string(),
        None => node.jobs.node_id().to_string(),
    };
    crate::state::tag_node(&mut merged, &node_id);
    merged
}

/// `GET /api/v0/{tasks,actors,objects}?filter=key=value&limit=N` (Ray's list API).
async fn list_state(
    State(node): State<Arc<Node>>,
    Path(resource): Path<String>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Answer<crate::state::Envelope<crate::state::ListResult>> {
    let resource = crate::state::Resource::parse(&resource)?;
    let query = crate::state::ListQuery::parse(raw.as_deref())?;
    let merged = merged_state(&node).await;
    let mut answer = crate::state::list(&merged, resource, &query)?;
    // In a cluster, every live node's part too.
    if let Some(link) = &node.cluster {
        let limit = query
            .limit
            .unwrap_or(crate::state::DEFAULT_LIMIT)
            .min(crate::state::MAX_LIMIT);
        answer = link
            .gather_list(resource, raw.as_deref(), answer, limit)
            .await;
    }
    Ok(axum::Json(crate::state::Envelope::new(answer)))
}

/// `GET /api/v0/tasks/summarize`: tasks per function and state.
async fn summarize_tasks(
    State(node): State<Arc<Node>>,
) -> axum::Json<crate::state::Envelope<crate::state::Summary<crate::state::TaskSummaryLine>>> {
    let merged = merged_state(&node).await;
    let mut summary = crate::state::summarize_tasks(&merged);
    if let Some(link) = &node.cluster {
        summary = link.gather_task_summary(summary).await;
    }
    axum::Json(crate::state::Envelope::new(summary))
}

/// `GET /api/v0/actors/summarize`: actors per class and state.
async fn summarize_actors(
    State(node): State<Arc<Node>>,
) -> axum::Json<crate::state::Envelope<crate::state::Summary<crate::state::ActorSummaryLine>>> {
    let merged = merged_state(&node).await;
    let mut summary = crate::state::summarize_actors(&merged);
    if let Some(link) = &node.cluster {
        summary = link.gather_actor_summary(summary).await;
    }
    axum::Json(crate::state::Envelope::new(summary))
}

async fn list_modules(State(node): State<Arc<Node>>) -> Answer<Vec<api::ModuleInfo>> {
    match &node.cluster {
        Some(link) => Ok(axum::Json(link.modules().await?)),
        None => Ok(axum::Json(node.modules.list())),
    }
}

async fn status(State(node): State<Arc<Node>>) -> axum::Json<NodeStatus> {
    axum::Json(NodeStatus {
        address: node.address.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_s: node.started.elapsed().as_secs(),
        data_dir: node
            .config
            .data_dir
            .as_ref()
            .map(|_| node.data_dir.display().to_string()),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        max_jobs: node.config.max_jobs,
        job_memory_mib: node.config.job_memory_mib,
        node_rss_kib: rss_kib(),
        jobs: node.jobs.counts(),
        modules: node.modules.list().len(),
        allow_dirs: node
            .jobs
            .config()
            .policy
            .allow_dirs
            .iter()
            .map(|dir| {
                let ro = if dir.access == rustyray::DirAccess::ReadOnly {
                    ":ro"
                } else {
                    ""
                };
                format!("{}{ro}", dir.host.display())
            })
            .collect(),
        allow_net: node
            .config
            .allow_net
            .iter()
            .map(ToString::to_string)
            .collect(),
        allow_listen: node
            .config
            .allow_listen
            .iter()
            .map(ToString::to_string)
            .collect(),
    })
}

async fn metrics(State(node): State<Arc<Node>>) -> Response {
    let merged = merged_state(&node).await;
    let text = node
        .metrics
        .encode(&node.jobs.counts(), &node.modules.list(), &merged);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Resident memory of this process, in KiB (0 where /proc is missing).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}
