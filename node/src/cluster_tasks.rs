//! Tasks spread over a cluster's nodes.
//!
//! In a cluster a job's driver gets the node's task socket (hidden `rustyray run
//! --node-tasks`) and sends there each task that can run anywhere (`rustyray::remote::
//! tasks`: a module's function, its arguments resolved to plain values, any actor
//! handles it carries naming placed actors). The node places it and answers with its
//! result:
//!
//! - **Placement** — the live node with the lowest load: for this node, the tasks it
//!   runs now; for another, the larger of the tasks its record says it runs (written
//!   every heartbeat) and the tasks this node has sent it and not had answered. Ties go
//!   round the nodes in turn. A task asking for resources goes to a node that has them,
//!   where they are free now if any such node is (its record's `available`, less what
//!   this node sent there unanswered), and holds them there while it runs: the node
//!   running it admits it against its own account (`held.rs`), and until they are free
//!   there it waits its turn, first in first out. Locality is the driver's part: a
//!   task whose arguments are larger than `MAX_REMOTE_ARGS_BYTES` is not sent at all,
//!   it runs where they are.
//! - **Sending** — to another node, the task goes over NATS (`rustyray-cluster`'s
//!   `tasks.rs`: in a batch with the other tasks queued for that node, on
//!   `rustyray.tasks.<node>.batch`, answered in batches on this node's `.answers`; a
//!   payload past NATS's `max_payload` through the object store `rustyray_transfers`).
//!   It has no timeout; instead, while any task is out, every [`WATCH_INTERVAL`] the node reads the
//!   live heartbeats, and the tasks out on a node whose heartbeat expired (or whose
//!   subject has no subscriber) fail with `NodeDied`, which the driver retries within
//!   the task's `max_retries` (the node is then no longer chosen).
//! - **Driver connection** — a driver keeps one connection to the task socket: tasks
//!   and cancels go in batches of [`TaskFrame`]s, answers come back in batches of
//!   [`TaskAnswer`]s as the tasks end (each batch what was queued while the last was
//!   written), matched by the driver's number for each task.
//! - **Cancelling** — a driver cancels a task it sent by a cancel frame naming it (or by
//!   closing the connection: all it has out, recursive); the node cancels it where it runs:
//!   here, through its runtime (with the tasks it submitted, unless alone); on another
//!   node, by a message on `rustyray.tasks.<node>.cancel` naming the request's key (the
//!   same for a task a task submitted, when its parent ends unanswered).
//! - **Running** — the node that runs a task keeps one runtime per job, namespace and
//!   module set (the task's module and the other modules its driver loaded, by SHA-256;
//!   fetched from the cluster and checked if the node lacks them: a task submits any of
//!   the job's functions by name, as on its driver's node), under the node's `--job-memory`, with no capabilities: names the task
//!   looks up or claims are in its job's namespace, and it reaches the cluster's placed
//!   actors ([`ClusterActors`], in-process) as its job — actors it creates belong to the
//!   job and end with it. A job's runtimes are shut down once its record says it ended
//!   (at most `--max-task-runtimes` at once). Tasks such a task submits are placed the
//!   same way (nested tasks spread too). What it runs is counted in `/metrics`
//!   (`rustyray_cluster_tasks_total{function, outcome}`).
//!
//! Ownership is Ray's: the submitter owns the objects. A driver resolves a task's
//! `ObjectRef` arguments before sending it. A small result comes back to its store; a
//! result over `--max-direct-call-object-size` of a task another node sent stays here
//! (`cluster_objects.rs`) until its owner fetches or releases it, and the driver's
//! object records where it is, with the request that made it (lineage). A driver's
//! fetches and releases come on the task socket as a `TaskRequest` with an `object`
//! op. A driver lost with its node fails its job (`NODE_DIED`). Objects are not
//! borrowed across nodes: a task whose arguments hold references, or are larger than
//! the locality bound, runs on the driver's node; a result that holds references is
//! recomputed there.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures::StreamExt;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use rustyray::remote::tasks::{
    Cancellation, MAX_TASK_MODULES, TaskAnswer, TaskFrame, TaskRequest, TaskResponse,
    TaskTransport, answer_bytes, write_batches,
};
use rustyray::remote::wire::{self, WireValue};
use rustyray::remote::{ActorTransport, CreateRequest, Held, Pending, RemoteActor};
use rustyray::{ActorId, RayError, Runtime};
use rustyray_cluster::Cluster;
use rustyray_cluster::tasks::{Incoming, SendFailure, TaskLink};
use tokio::net::{UnixListener, UnixStream};

use crate::api::{JobDetails, ModuleInfo};
use crate::cluster_actors::ClusterActors;
use crate::cluster_objects::ClusterObjects;
use crate::error::{NodeError, Result};
use crate::held::Account;
use crate::metrics::Metrics;
use crate::modules::ModuleStore;
use crate::private_socket::{create_private_dir, socket_path};

/// How often the live heartbeats are read while tasks are out on other nodes.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(500);
/// How long a probe of a node with tasks out waits for its answer (none: not judged).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the batch queues of nodes no longer live are dropped.
pub const QUEUE_SWEEP: Duration = Duration::from_secs(5);
/// How long a node found dead is not chosen again.
pub const DEAD_SHUNNED: Duration = Duration::from_secs(30);
/// How long the registry's view (loads, liveness) is reused for placement.
const VIEW_TTL: Duration = Duration::from_millis(250);
/// The most task runtimes (one per job, namespace and module set) a node keeps at once by
/// default (`rustyray start --max-task-runtimes`).
pub const MAX_TASK_RUNTIMES: usize = 32;
/// How often the task runtimes of ended jobs are looked for (and shut down).
pub const RUNTIME_SWEEP: Duration = Duration::from_secs(2);

/// What a task runtime is for: the job whose tasks it runs, its namespace, and the
/// modules its driver has loaded (sorted SHA-256s: the task's own and the others a task
/// may submit by name).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct RuntimeKey {
    modules: Vec<String>,
    job: Option<String>,
    namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabel {
    node: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LostLabel {
    how: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabel {
    function: String,
    outcome: String,
}

/// What placement knows of the other nodes.
#[derive(Default)]
struct View {
    read: Option<Instant>,
    /// Live nodes as their records said.
    nodes: Vec<Seen>,
}

/// Tasks out on one node: how many, and what they ask for in all.
type Out = (usize, BTreeMap<String, f64>);

/// A live node as its record said: its load (tasks running and waiting for their
/// resources there), the resources it was started with, and what was free of them.
#[derive(Clone)]
struct Seen {
    id: String,
    load: usize,
    resources: BTreeMap<String, f64>,
    available: BTreeMap<String, f64>,
}

/// This node's part in running a cluster's tasks.
pub struct ClusterTasks {
    me: Weak<ClusterTasks>,
    link: TaskLink,
    cluster: Cluster,
    node_id: String,
    modules: Arc<ModuleStore>,
    cache_dir: PathBuf,
    memory_mib: u64,
    /// Tasks running here now (written to this node's record for the others).
    running: Arc<AtomicUsize>,
    /// This node's resources, and what its jobs, tasks and actors hold of them: a task
    /// asking for some waits here, in turn, until they are free (`held.rs`).
    account: Arc<Account>,
    /// The cluster's actors, which the tasks' runtimes reach.
    actors: Option<Arc<ClusterActors>>,
    /// The most runtimes kept at once.
    max_runtimes: usize,
    /// One runtime per module and job.
    runtimes: tokio::sync::Mutex<HashMap<RuntimeKey, Runtime>>,
    /// Tasks other nodes sent here and have not had answered, by the sender's key.
    incoming: Mutex<HashMap<String, Cancellation>>,
    /// Keys of the tasks this node sends to others.
    next_key: std::sync::atomic::AtomicU64,
    view: Mutex<View>,
    /// Tasks sent to each node and not answered yet, and what they ask for in all.
    out: Mutex<HashMap<String, Out>>,
    /// Nodes found dead, and when; `dead_changed` wakes the tasks waiting on them. A
    /// node is not chosen for [`DEAD_SHUNNED`] after (a node id is new at each start,
    /// so only a node that lost NATS for a while can come back).
    dead: Mutex<HashMap<String, Instant>>,
    dead_changed: tokio::sync::watch::Sender<u64>,
    turn: AtomicUsize,
    socket: PathBuf,
    socket_dir: Option<PathBuf>,
    ran: Family<TaskLabel, Counter>,
    /// Batch queues kept to each other node (`rustyray_cluster_batch_queues`).
    queues: Family<NodeLabel, prometheus_client::metrics::gauge::Gauge>,
    /// Nodes found lost with tasks out there, by how (`rustyray_cluster_nodes_lost`).
    lost: Family<LostLabel, Counter>,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Large results kept here for their owners, and fetching others' (set once, after
    /// start: `cluster_objects.rs`).
    objects: std::sync::OnceLock<Arc<ClusterObjects>>,
}

/// The in-process transport of the runtimes this node runs tasks in: their nested tasks
/// are placed like a driver's, as tasks of the same job.
#[derive(Debug)]
struct Nested {
    tasks: Weak<ClusterTasks>,
    job: Option<String>,
    job_node: Option<String>,
}

impl TaskTransport for Nested {
    fn run(&self, mut request: TaskRequest, cancel: Cancellation) -> Pending<'_, WireValue> {
        request.job.clone_from(&self.job);
        request.job_node.clone_from(&self.job_node);
        Box::pin(async move {
            match self.tasks.upgrade() {
                Some(tasks) => tasks.dispatch(request, cancel).await,
                None => Err(RayError::ShutDown),
            }
        })
    }

    fn fetch(&self, held: &Held, offset: u64, len: u64) -> Pending<'_, bytes::Bytes> {
        let held = held.clone();
        Box::pin(async move {
            match self.tasks.upgrade() {
                Some(tasks) => tasks.objects()?.fetch(&held, offset, len).await,
                None => Err(RayError::ShutDown),
            }
        })
    }

    fn release(&self, held: Held) {
        if let Some(tasks) = self.tasks.upgrade()
            && let Ok(objects) = tasks.objects()
        {
            objects.release(&held);
        }
    }

    fn keep(&self, value: WireValue, job: Option<String>) -> Pending<'_, Held> {
        Box::pin(async move {
            match self.tasks.upgrade() {
                Some(tasks) => tasks
                    .objects()?
                    .keep_shared(value, job.as_deref().or(self.job.as_deref())),
                None => Err(RayError::ShutDown),
            }
        })
    }

    fn borrow(&self, held: &Held, node: Option<String>) -> Pending<'_, ()> {
        let held = held.clone();
        Box::pin(async move {
            match self.tasks.upgrade() {
                Some(tasks) => {
                    let node = node.unwrap_or_else(|| tasks.node_id.clone());
                    tasks.objects()?.borrow_for(&held, &node).await
                }
                None => Err(RayError::ShutDown),
            }
        })
    }
}

/// The cluster's actors as a task runtime of a job reaches them: what it creates
/// belongs to that job (and the job's node), as if its driver had created it.
#[derive(Debug)]
struct JobActors {
    actors: Arc<ClusterActors>,
    job: Option<String>,
    job_node: Option<String>,
}

impl ActorTransport for JobActors {
    fn create(&self, mut request: CreateRequest) -> Pending<'_, RemoteActor> {
        request.owner.clone_from(&self.job);
        request.owner_node.clone_from(&self.job_node);
        self.actors.create(request)
    }

    fn lookup(&self, namespace: String, name: String) -> Pending<'_, Option<RemoteActor>> {
        self.actors.lookup(namespace, name)
    }

    fn call(
        &self,
        actor: ActorId,
        method: String,
        args: Vec<WireValue>,
        want_result: bool,
    ) -> Pending<'_, WireValue> {
        self.actors.call(actor, method, args, want_result)
    }

    fn kill(&self, actor: ActorId, no_restart: bool) -> Pending<'_, ()> {
        self.actors.kill(actor, no_restart)
    }

    fn locate(&self, actor: ActorId) -> Pending<'_, Option<RemoteActor>> {
        self.actors.locate(actor)
    }
}

impl ClusterTasks {
    /// Starts serving tasks: from NATS (sent by other nodes) and from this node's
    /// drivers (the unix socket under `data_dir/tasks`).
    #[allow(clippy::too_many_arguments, reason = "the node's parts it uses, once")]
    pub async fn start(
        cluster: Cluster,
        node_id: String,
        (running, account): (Arc<AtomicUsize>, Arc<Account>),
        modules: Arc<ModuleStore>,
        (socket, socket_dir): (PathBuf, Option<PathBuf>),
        cache_dir: PathBuf,
        memory_mib: u64,
        metrics: &Metrics,
        actors: Option<Arc<ClusterActors>>,
        max_runtimes: usize,
    ) -> Result<Arc<ClusterTasks>> {
        let link = TaskLink::open(&cluster).await?;
        let incoming = link.serve(&node_id).await?;
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket)
            .map_err(|err| NodeError::io(format!("binding {}", socket.display()), err))?;
        let queues = Family::<NodeLabel, prometheus_client::metrics::gauge::Gauge>::default();
        metrics.register(
            "cluster_batch_queues",
            "Batch queues this node keeps to each other node (its tasks and its answers)",
            queues.clone(),
        );
        let lost = Family::<LostLabel, Counter>::default();
        metrics.register(
            "cluster_nodes_lost",
            "Nodes this node found lost while it had tasks out there, by how \
             (no_responders: NATS said nothing takes its batches; heartbeat: it expired)",
            lost.clone(),
        );
        let ran = Family::<TaskLabel, Counter>::default();
        metrics.register(
            "cluster_tasks",
            "Cluster tasks this node ran, by function and outcome (ok, or the error's kind)",
            ran.clone(),
        );
        let tasks = Arc::new_cyclic(|me| ClusterTasks {
            me: me.clone(),
            link,
            cluster,
            node_id,
            modules,
            cache_dir,
            memory_mib,
            running,
            account,
            actors,
            max_runtimes,
            runtimes: tokio::sync::Mutex::new(HashMap::new()),
            incoming: Mutex::new(HashMap::new()),
            next_key: std::sync::atomic::AtomicU64::new(0),
            view: Mutex::new(View::default()),
            out: Mutex::new(HashMap::new()),
            dead: Mutex::new(HashMap::new()),
            dead_changed: tokio::sync::watch::channel(0).0,
            turn: AtomicUsize::new(0),
            socket,
            socket_dir,
            ran,
            queues,
            lost,
            background: Mutex::new(Vec::new()),
            objects: std::sync::OnceLock::new(),
        });
        let background = vec![
            tokio::spawn(tasks.clone().serve_nats(incoming)),
            tokio::spawn(tasks.clone().serve_socket(listener)),
            tokio::spawn(tasks.clone().watch()),
            tokio::spawn(tasks.clone().sweep_runtimes()),
        ];
        if let Ok(mut handles) = tasks.background.lock() {
            *handles = background;
        }
        Ok(tasks)
    }

    /// Gives this node's kept objects (`cluster_objects.rs`): large results of tasks
    /// other nodes send are kept here from then on.
    pub fn set_objects(&self, objects: Arc<ClusterObjects>) {
        let _ = self.objects.set(objects);
    }

    fn objects(&self) -> rustyray::Result<&Arc<ClusterObjects>> {
        self.objects.get().ok_or_else(|| {
            RayError::Remote("this node does not serve cluster objects (not started)".into())
        })
    }

    /// Where the task socket of a node with data dir `data_dir` goes (known before the
    /// node joins, for its drivers): `data_dir/tasks/node.sock`, or one in a private
    /// temporary directory (the second path, removed on shutdown) when that is too long.
    pub fn socket_for(data_dir: &Path) -> Result<(PathBuf, Option<PathBuf>)> {
        let dir = data_dir.join("tasks");
        create_private_dir(&dir)?;
        socket_path(&dir, "tasks")
    }

    /// The socket drivers send their tasks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Stops serving, and the task runtimes.
    pub async fn shutdown(&self) {
        if let Ok(mut handles) = self.background.lock() {
            for handle in handles.drain(..) {
                handle.abort();
            }
        }
        let runtimes: Vec<Runtime> = self.runtimes.lock().await.drain().map(|(_, r)| r).collect();
        for runtime in runtimes {
            let _ = runtime.shutdown_with_deadline(Duration::from_secs(5)).await;
        }
        if let Some(objects) = self.objects.get() {
            objects.shutdown();
        }
        let _ = std::fs::remove_file(&self.socket);
        if let Some(dir) = &self.socket_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Places `request` and runs it there; its result. Once `cancel` is raised the task
    /// is cancelled where it runs (so is it if this future is dropped unfinished).
    pub async fn dispatch(
        &self,
        request: TaskRequest,
        cancel: Cancellation,
    ) -> rustyray::Result<WireValue> {
        // Locality: where its largest argument kept on a node is, unless the task asks
        // for resources or a node (then those decide) or that node is known dead (then
        // the argument is lost: the task fails `ObjectLost` there and its driver runs it
        // itself, making the argument again).
        let near = request
            .args
            .iter()
            .filter_map(|arg| arg.held.as_ref())
            .max_by_key(|held| held.len)
            .map(|held| held.node.clone())
            .filter(|node| {
                request.resources.0.is_empty() && request.node_id.is_none() && !self.is_dead(node)
            });
        let node = match near {
            Some(node) => node,
            None => self.choose(&request).await?,
        };
        // Object references nested in its arguments: counted for the node that runs it
        // (which lets them go as it drops them), while their sender still holds them.
        for address in request.args.iter().flat_map(|arg| &arg.refs) {
            self.objects()?.borrow_for(&address.held, &node).await?;
        }
        if node == self.node_id {
            return self.run_here(request, cancel, None).await;
        }
        let function = request.function.clone();
        let mut payload = Vec::new();
        wire::write_frame(&mut payload, &request)
            .await
            .map_err(|err| RayError::Io {
                context: format!("encoding task {function}"),
                message: err.to_string(),
            })?;
        let _out = OutGuard::new(self, &node, &request.resources.0);
        let died = || RayError::NodeDied {
            node: node.clone(),
            function: function.clone(),
        };
        let mut changed = self.dead_changed.subscribe();
        let key = format!(
            "{}-{}",
            self.node_id,
            self.next_key.fetch_add(1, Ordering::Relaxed)
        );
        let mut unanswered = CancelRemote {
            link: Some(self.link.clone()),
            node: node.clone(),
            key: key.clone(),
            cancel: cancel.clone(),
        };
        let answer = tokio::select! {
            answer = self.link.send(&node, &key, &payload) => answer,
            recursive = cancel.cancelled() => {
                unanswered.link = None;
                let _ = self.link.cancel(&node, &key, recursive).await;
                return Err(RayError::Cancelled);
            }
            () = async {
                while !self.is_dead(&node) {
                    if changed.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            } => return Err(died()),
        };
        unanswered.link = None;
        match answer {
            Ok(bytes) => match wire::read_frame::<TaskResponse>(&mut &bytes[..]).await {
                Ok(Some(response)) => response.into(),
                Ok(None) | Err(_) => Err(RayError::Remote(format!(
                    "node {node} answered task {function} with a message that does not decode"
                ))),
            },
            Err(SendFailure::NoResponders) => {
                self.mark_dead(&node, "no_responders");
                Err(died())
            }
            Err(SendFailure::Failed(err)) => Err(RayError::Remote(format!(
                "sending task {function} to node {node}: {err}"
            ))),
        }
    }

    fn is_dead(&self, node: &str) -> bool {
        self.dead.lock().is_ok_and(|dead| {
            dead.get(node)
                .is_some_and(|since| since.elapsed() < DEAD_SHUNNED)
        })
    }

    /// Node `node` is lost (found `how`): its tasks from here fail `NodeDied` (their
    /// drivers re-run them within their retries), it is not chosen for
    /// [`DEAD_SHUNNED`], and its batch queues are dropped.
    fn mark_dead(&self, node: &str, how: &str) {
        let new = self.dead.lock().is_ok_and(|mut dead| {
            dead.retain(|_, since| since.elapsed() < DEAD_SHUNNED);
            dead.insert(node.to_string(), Instant::now()).is_none()
        });
        self.link.forget_node(node);
        if new {
            eprintln!("rustyray node: node {node} is lost ({how}); its tasks from here are re-run");
            self.lost
                .get_or_create(&LostLabel {
                    how: how.to_string(),
                })
                .inc();
            self.dead_changed.send_modify(|generation| *generation += 1);
        }
    }

    /// The node to run `request` on: the node it names (hard affinity: failing
    /// [`RayError::InvalidOptions`] unless it is alive), else a live node (this one
    /// included) that has the resources it asks for — every node when it asks for none:
    /// among those where they are free now (as their records said, less what this node
    /// sent there since), else among all that have them (it waits there for its turn),
    /// the least loaded; ties take turns. No live node with them fails it the same way.
    async fn choose(&self, request: &TaskRequest) -> rustyray::Result<String> {
        let stale = self
            .view
            .lock()
            .map(|view| view.read.is_none_or(|read| read.elapsed() > VIEW_TTL))
            .unwrap_or(true);
        // A placed task is never sent on a view older than its options (a node just
        // started with the resource, or the node named, may not be in it yet).
        let stale = stale
            || (request.asks_placement()
                && !self.view_has(request.node_id.as_deref(), &request.resources.0));
        // Just after NATS restarted, live nodes may look dead until they beat again: the
        // view read before is kept meanwhile.
        let stale = stale && self.cluster.settled();
        if stale && let Ok(nodes) = self.cluster.nodes().await {
            let nodes = nodes
                .into_iter()
                .filter(|view| view.alive)
                .map(|view| Seen {
                    id: view.record.node_id.clone(),
                    load: view.record.running_tasks + view.record.waiting_for_resources,
                    resources: view.record.resources.clone(),
                    available: view.record.available.clone(),
                })
                .collect();
            if let Ok(mut view) = self.view.lock() {
                *view = View {
                    read: Some(Instant::now()),
                    nodes,
                };
            }
        }
        let view = self
            .view
            .lock()
            .map(|v| v.nodes.clone())
            .unwrap_or_default();
        if let Some(node) = &request.node_id {
            let alive = *node == self.node_id
                || view
                    .iter()
                    .any(|seen| seen.id == *node && !self.is_dead(&seen.id));
            return if alive {
                Ok(node.clone())
            } else {
                Err(RayError::InvalidOptions(format!(
                    "task {}: node affinity: node {node:?} is not a live node of the cluster \
                     (see `rustyray list nodes`)",
                    request.function
                )))
            };
        }
        let asked = &request.resources.0;
        let has = |resources: &BTreeMap<String, f64>| {
            asked
                .iter()
                .all(|(name, amount)| resources.get(name).copied().unwrap_or(0.0) >= *amount)
        };
        // (node, load, whether what it asks for is free there now)
        let mut candidates: Vec<(String, usize, bool)> = {
            let out = self.out.lock().map(|o| o.clone()).unwrap_or_default();
            view.into_iter()
                .filter(|seen| {
                    seen.id != self.node_id && !self.is_dead(&seen.id) && has(&seen.resources)
                })
                .map(|seen| {
                    let (sent, sent_asked) = out.get(&seen.id).cloned().unwrap_or_default();
                    // What this node sent there and has not had answered may be counted
                    // in the record already: erring towards another node, never past
                    // the receiving node's own admission.
                    let mut free = seen.available.clone();
                    for (name, amount) in &sent_asked {
                        if let Some(left) = free.get_mut(name) {
                            *left -= amount;
                        }
                    }
                    let free = asked.is_empty() || has(&free);
                    (seen.id, seen.load.max(sent), free)
                })
                .collect()
        };
        if self.account.feasible(asked) {
            candidates.push((
                self.node_id.clone(),
                self.running.load(Ordering::Relaxed) + self.account.waiting(),
                self.account.free_now(asked),
            ));
        }
        if candidates.is_empty() {
            return Err(RayError::InvalidOptions(format!(
                "task {}: no live node of the cluster has the resources it asks for ({}): \
                 start a node with `rustyray start --resources NAME=N` (see `rustyray list nodes`)",
                request.function,
                crate::cluster::describe(asked)
            )));
        }
        if candidates.iter().any(|(_, _, free)| *free) {
            candidates.retain(|(_, _, free)| *free);
        }
        candidates.sort();
        let lowest = candidates
            .iter()
            .map(|(_, load, _)| *load)
            .min()
            .unwrap_or(0);
        let tied: Vec<&String> = candidates
            .iter()
            .filter(|(_, load, _)| *load == lowest)
            .map(|(id, _, _)| id)
            .collect();
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        Ok(tied[turn % tied.len()].clone())
    }

    /// Whether the current view holds `node` (alive) or, without one, a node with
    /// `resources`: if not, a placed task rereads the cluster's nodes first.
    fn view_has(&self, node: Option<&str>, resources: &BTreeMap<String, f64>) -> bool {
        self.view.lock().is_ok_and(|view| {
            view.nodes.iter().any(|seen| match node {
                Some(node) => seen.id == node,
                None => resources.iter().all(|(name, amount)| {
                    seen.resources.get(name).copied().unwrap_or(0.0) >= *amount
                }),
            })
        })
    }

    /// Runs `request` here, in the runtime of its module and job; references its result
    /// holds are counted for `answer_node` (this node if `None`), where it goes.
    async fn run_here(
        &self,
        mut request: TaskRequest,
        cancel: Cancellation,
        answer_node: Option<String>,
    ) -> rustyray::Result<WireValue> {
        // Arguments kept on a node are read where they are: here without a copy.
        for arg in &mut request.args {
            if let Some(held) = arg.held.take() {
                let limit = rustyray_cluster::tasks::MAX_TASK_PAYLOAD as u64;
                if held.len > limit {
                    return Err(RayError::InvalidArgument(format!(
                        "an argument kept on node {} is {} bytes, over the task payload \
                         limit of {limit}",
                        held.node, held.len
                    )));
                }
                arg.data = self.objects()?.fetch(&held, 0, held.len).await?;
            }
        }
        // Never run: the references it was sent are not held here.
        let unsent = |request: &TaskRequest| {
            if let Ok(objects) = self.objects() {
                for address in request.args.iter().flat_map(|arg| &arg.refs) {
                    objects.release(&address.held);
                }
            }
        };
        // What it asks for is held while it runs; until it is free here, it waits its
        // turn (cancellable meanwhile).
        let what = format!("task {}", request.function);
        let _hold = tokio::select! {
            hold = self.account.acquire(&request.resources.0, &what) => match hold {
                Ok(hold) => hold,
                Err(err) => {
                    unsent(&request);
                    return Err(RayError::InvalidOptions(err.to_string()));
                }
            },
            _ = cancel.cancelled() => {
                unsent(&request);
                return Err(RayError::Cancelled);
            }
        };
        self.running.fetch_add(1, Ordering::Relaxed);
        let function = request.function.clone();
        // Dropped unfinished (the task here that submitted it was cancelled or ended, and
        // `run_request` cancelled it): counted as cancelled.
        let mut running = Running {
            tasks: self,
            function: Some(function.clone()),
        };
        let outcome = async {
            let runtime = tokio::select! {
                runtime = self.runtime_for(&request) => runtime,
                _ = cancel.cancelled() => Err(RayError::Cancelled),
            };
            let runtime = match runtime {
                Ok(runtime) => runtime,
                Err(err) => {
                    unsent(&request);
                    return Err(err);
                }
            };
            rustyray::remote::tasks::run_request(&runtime, request, cancel, answer_node).await
        }
        .await;
        running.function = None;
        drop(running);
        let outcome_label = match &outcome {
            Ok(_) => "ok".to_string(),
            Err(err) => err.kind().to_string(),
        };
        // Functions a module does not export are not labels: the count would be
        // anyone's to grow.
        let function = if matches!(
            &outcome,
            Err(RayError::FunctionNotFound(_) | RayError::InvalidModule { .. })
        ) {
            "-".to_string()
        } else {
            function
        };
        self.ran
            .get_or_create(&TaskLabel {
                function,
                outcome: outcome_label,
            })
            .inc();
        outcome
    }

    /// The runtime of `request`'s job and modules (the modules fetched from the cluster
    /// and checked, and the runtime made, on first use): it has every module the job's
    /// driver loaded — so a task here submits another module's function by name as it
    /// would on the driver's node — and the job's namespace, and reaches the cluster's
    /// actors as the job.
    async fn runtime_for(&self, request: &TaskRequest) -> rustyray::Result<Runtime> {
        let sha = request.module.as_str();
        let invalid = |sha: &str, message: String| RayError::InvalidModule {
            source_name: rustyray::terminal::escape_text(sha)
                .chars()
                .take(80)
                .collect(),
            message,
        };
        let is_hash = |sha: &str| sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit());
        if !is_hash(sha) {
            return Err(invalid(
                sha,
                "a task's module must be named by its SHA-256 (64 hex digits)".into(),
            ));
        }
        if request.modules.len() > MAX_TASK_MODULES {
            return Err(RayError::InvalidOptions(format!(
                "the task names {} modules of its job, over the limit of {MAX_TASK_MODULES} \
                 (rustyray::remote::tasks::MAX_TASK_MODULES)",
                request.modules.len()
            )));
        }
        let mut modules: Vec<String> = request.modules.clone();
        modules.push(sha.to_string());
        if let Some(bad) = modules.iter().find(|m| !is_hash(m)) {
            return Err(invalid(
                bad,
                "a job's module must be named by its SHA-256 (64 hex digits)".into(),
            ));
        }
        modules.sort();
        modules.dedup();
        let key = RuntimeKey {
            modules,
            job: request.job.clone(),
            namespace: request.namespace.clone(),
        };
        let mut runtimes = self.runtimes.lock().await;
        if let Some(runtime) = runtimes.get(&key) {
            return Ok(runtime.clone());
        }
        if request.namespace.len() > rustyray::limits::NAME_LENGTH {
            return Err(RayError::InvalidOptions(format!(
                "the task's namespace is {} bytes, over the name limit of {} bytes",
                request.namespace.len(),
                rustyray::limits::NAME_LENGTH
            )));
        }
        if runtimes.len() >= self.max_runtimes {
            return Err(RayError::LimitExceeded {
                function: request.function.clone(),
                limit: rustyray::Limit::TaskRuntimes,
                value: self.max_runtimes as u64,
                detail: format!(
                    "this node runs tasks of {} jobs and module sets at once (`rustyray start \
                     --max-task-runtimes`); a job's runtimes are given back when it ends",
                    self.max_runtimes
                ),
            });
        }
        if let Some(job) = &request.job {
            match self.cluster.job::<JobDetails>(job).await {
                Ok(Some((entry, _))) if !entry.job.status.is_terminal() => {}
                Ok(Some(_)) => return Err(RayError::Cancelled),
                Ok(None) => {
                    return Err(RayError::InvalidOptions(format!(
                        "the task names job {:?}, which is not a job of this cluster",
                        rustyray::terminal::escape_text(job)
                    )));
                }
                Err(err) => {
                    return Err(RayError::Remote(format!(
                        "reading the record of job {job}: {err}"
                    )));
                }
            }
        }
        let mut paths = Vec::with_capacity(key.modules.len());
        let mut index: Option<Vec<ModuleInfo>> = None;
        for sha in &key.modules {
            let module = match self.local_module(sha) {
                Some(module) => module,
                None => {
                    let bytes = self.cluster.module_bytes(sha).await.map_err(|err| {
                        invalid(
                            sha,
                            format!("this node does not hold it and could not fetch it: {err}"),
                        )
                    })?;
                    if index.is_none() {
                        index = Some(
                            self.cluster
                                .modules::<ModuleInfo>()
                                .await
                                .unwrap_or_default(),
                        );
                    }
                    let name = index
                        .iter()
                        .flatten()
                        .find(|m| m.sha256 == *sha)
                        .map_or_else(|| format!("module-{}", &sha[..12]), |m| m.name.clone());
                    self.modules
                        .deploy(&bytes, &name)
                        .await
                        .map_err(|err| invalid(sha, err.to_string()))?
                }
            };
            paths.push(self.modules.path(&module));
        }
        let mut builder = Runtime::builder()
            .cache_dir(Some(self.cache_dir.clone()))
            .memory_limit((self.memory_mib as usize).saturating_mul(1 << 20))
            .max_actors(64)
            .namespace(request.namespace.clone())
            // The job's modules may define the same names: a task's own module's come
            // first, as on its driver's node.
            .shared_names(true)
            .remote_tasks(Arc::new(Nested {
                tasks: self.me.clone(),
                job: request.job.clone(),
                job_node: request.job_node.clone(),
            }));
        if let Some(actors) = &self.actors {
            builder = builder.remote_actors(Arc::new(JobActors {
                actors: actors.clone(),
                job: request.job.clone(),
                job_node: request.job_node.clone(),
            }));
        }
        let runtime = builder.build()?;
        for path in paths {
            runtime.load(path).await?;
        }
        runtimes.insert(key, runtime.clone());
        Ok(runtime)
    }

    fn local_module(&self, sha: &str) -> Option<ModuleInfo> {
        self.modules.list().into_iter().find(|m| m.sha256 == sha)
    }

    /// Answers the tasks other nodes send here, and takes their cancels.
    async fn serve_nats(self: Arc<Self>, incoming: impl futures::Stream<Item = Incoming>) {
        let mut incoming = std::pin::pin!(incoming);
        while let Some(message) = incoming.next().await {
            let task = match message {
                Incoming::Task(task) => task,
                Incoming::Cancel { key, recursive } => {
                    let cancel = self
                        .incoming
                        .lock()
                        .ok()
                        .and_then(|incoming| incoming.get(&key).cloned());
                    if let Some(cancel) = cancel {
                        cancel.cancel(recursive);
                    }
                    continue;
                }
            };
            // Registered before the next message is read: its cancel comes after it.
            let cancel = Cancellation::new();
            let registered = task.key.clone().filter(|key| {
                self.incoming.lock().is_ok_and(|mut incoming| {
                    incoming.insert(key.clone(), cancel.clone()).is_none()
                })
            });
            let tasks = self.clone();
            tokio::spawn(async move {
                let _forget = Forget {
                    tasks: &tasks,
                    key: registered,
                };
                let response: TaskResponse = match tasks.link.request_payload(&task).await {
                    Ok(payload) => match wire::read_frame::<TaskRequest>(&mut &payload[..]).await {
                        Ok(Some(request)) => {
                            let job = request.job.clone();
                            // Where the answer goes: the sending node (a batch names it),
                            // else the job's node.
                            let owner = task
                                .sender()
                                .map(str::to_string)
                                .or_else(|| request.job_node.clone());
                            let outcome = tasks.run_here(request, cancel, owner.clone()).await;
                            // A large result stays here; its owner fetches it on demand.
                            match tasks.objects.get() {
                                Some(objects) => outcome
                                    .map(|value| {
                                        objects.keep(value, job.as_deref(), owner.as_deref())
                                    })
                                    .into(),
                                None => outcome.into(),
                            }
                        }
                        Ok(None) | Err(_) => Err(RayError::Serialization(
                            "a task request that is not a framed MessagePack TaskRequest".into(),
                        ))
                        .into(),
                    },
                    Err(err) => {
                        Err(RayError::Serialization(format!("a task request: {err}"))).into()
                    }
                };
                let mut payload = Vec::new();
                if wire::write_frame(&mut payload, &response).await.is_err() {
                    payload.clear();
                    let refused: TaskResponse = Err(RayError::Io {
                        context: "answering a task".into(),
                        message: format!(
                            "its result is over the frame limit of {} bytes",
                            wire::MAX_FRAME
                        ),
                    })
                    .into();
                    let _ = wire::write_frame(&mut payload, &refused).await;
                }
                if let Err(err) = tasks.link.answer(&task, &payload).await {
                    eprintln!("rustyray node: answering a task: {err}");
                }
            });
        }
    }

    /// Answers this node's drivers: a connection per driver.
    async fn serve_socket(self: Arc<Self>, listener: UnixListener) {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(self.clone().connection(stream));
                }
                Err(err) => eprintln!("rustyray node: accepting a task connection: {err}"),
            }
        }
    }

    /// One driver's connection: batches of [`TaskFrame`]s in, batches of answers out
    /// (each task dispatched as it arrives, answered as it ends). A cancel frame cancels
    /// its task; the connection closed cancels every task it has not had answered,
    /// with the tasks they submitted.
    async fn connection(self: Arc<Self>, stream: UnixStream) {
        let (mut read, write) = stream.into_split();
        let (answers, queue) = tokio::sync::mpsc::unbounded_channel::<TaskAnswer>();
        let writer = tokio::spawn(write_batches(write, queue, answer_bytes));
        let running: Arc<Mutex<HashMap<u64, Cancellation>>> = Arc::default();
        while let Ok(Some(frames)) = wire::read_frame::<Vec<TaskFrame>>(&mut read).await {
            for frame in frames {
                match frame {
                    TaskFrame::Run { id, mut request } => {
                        // Not a task: a fetch or release of an object a node keeps for
                        // this driver.
                        if let Some(op) = request.object.take() {
                            let (tasks, answers) = (self.clone(), answers.clone());
                            let job = request.job.take();
                            tokio::spawn(async move {
                                let response: TaskResponse = match tasks.objects() {
                                    Ok(objects) => objects.op(op, job.as_deref()).await.into(),
                                    Err(err) => Err(err).into(),
                                };
                                let _ = answers.send(fit_frame(TaskAnswer { id, response }));
                            });
                            continue;
                        }
                        // This node's driver sent it: its job runs here.
                        request.job_node = Some(self.node_id.clone());
                        let cancel = Cancellation::new();
                        if let Ok(mut running) = running.lock() {
                            running.insert(id, cancel.clone());
                        }
                        let (tasks, running, answers) =
                            (self.clone(), running.clone(), answers.clone());
                        tokio::spawn(async move {
                            let response: TaskResponse =
                                tasks.dispatch(request, cancel).await.into();
                            let still = running
                                .lock()
                                .is_ok_and(|mut running| running.remove(&id).is_some());
                            if still {
                                let _ = answers.send(fit_frame(TaskAnswer { id, response }));
                            }
                        });
                    }
                    TaskFrame::Cancel { id, cancel } => {
                        let found = running
                            .lock()
                            .ok()
                            .and_then(|mut running| running.remove(&id));
                        if let Some(task) = found {
                            task.cancel(cancel.recursive);
                        }
                    }
                }
            }
        }
        // The driver went away: what it has not had answered is cancelled.
        let left: Vec<Cancellation> = running
            .lock()
            .map(|mut running| running.drain().map(|(_, cancel)| cancel).collect())
            .unwrap_or_default();
        for cancel in left {
            cancel.cancel(true);
        }
        drop(answers);
        writer.abort();
    }

    /// Every [`RUNTIME_SWEEP`], shuts down the task runtimes of jobs that ended (their
    /// tasks, and the actors those created here, end with them).
    async fn sweep_runtimes(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(RUNTIME_SWEEP);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let jobs: std::collections::HashSet<String> = self
                .runtimes
                .lock()
                .await
                .keys()
                .filter_map(|key| key.job.clone())
                .collect();
            let mut ended = Vec::new();
            for job in jobs {
                if let Ok(record) = self.cluster.job::<JobDetails>(&job).await
                    && record.is_none_or(|(entry, _)| entry.job.status.is_terminal())
                {
                    ended.push(job);
                }
            }
            if ended.is_empty() {
                continue;
            }
            let gone: Vec<Runtime> = {
                let mut runtimes = self.runtimes.lock().await;
                let keys: Vec<RuntimeKey> = runtimes
                    .keys()
                    .filter(|key| key.job.as_ref().is_some_and(|job| ended.contains(job)))
                    .cloned()
                    .collect();
                keys.iter().filter_map(|key| runtimes.remove(key)).collect()
            };
            for runtime in gone {
                let _ = runtime.shutdown_with_deadline(Duration::from_secs(5)).await;
            }
        }
    }

    /// While tasks are out on other nodes, every [`WATCH_INTERVAL`] probes those nodes
    /// (NATS answering "no responders" for one: its process is gone) and reads the live
    /// heartbeats (a node with tasks out and none is lost); every [`QUEUE_SWEEP`] drops
    /// the batch queues of nodes no longer live. Nothing is judged until the NATS
    /// connection has settled after a reconnection.
    async fn watch(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(WATCH_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut swept = Instant::now();
        loop {
            ticks.tick().await;
            self.queues.clear();
            for (node, count) in self.link.queued_nodes() {
                self.queues
                    .get_or_create(&NodeLabel { node })
                    .set(count as i64);
            }
            let waiting: Vec<String> = self
                .out
                .lock()
                .map(|out| {
                    out.iter()
                        .filter(|(_, (count, _))| *count > 0)
                        .map(|(node, _)| node.clone())
                        .collect()
                })
                .unwrap_or_default();
            let sweep = swept.elapsed() >= QUEUE_SWEEP && !self.link.queued_nodes().is_empty();
            // Just after NATS restarted, a live node's heartbeat may not be written yet.
            if (waiting.is_empty() && !sweep) || !self.cluster.settled() {
                continue;
            }
            let link = &self.link;
            let probes = waiting
                .iter()
                .map(|node| async move { (node, link.probe(node, PROBE_TIMEOUT).await) });
            let mut answering = HashSet::new();
            for (node, answer) in futures::future::join_all(probes).await {
                if answer == Some(false) && self.cluster.settled() {
                    self.mark_dead(node, "no_responders");
                }
                if answer == Some(true) {
                    answering.insert(node.clone());
                }
            }
            let Ok(Ok(live)) =
                tokio::time::timeout(Duration::from_secs(3), self.cluster.live_node_ids()).await
            else {
                continue;
            };
            if !self.cluster.settled() {
                continue;
            }
            for node in &waiting {
                // A node that answered the probe just now is alive, whatever its
                // heartbeat (NATS slow to store it, or the node slow to write it).
                if !live.contains(node) && !answering.contains(node) {
                    self.mark_dead(node, "heartbeat");
                }
            }
            if sweep {
                swept = Instant::now();
                for node in self.link.queued_nodes().into_keys() {
                    if !live.contains(&node) {
                        self.link.forget_node(&node);
                    }
                }
            }
        }
    }
}

/// `answer`, or — when its result does not fit a frame — the error saying so.
fn fit_frame(answer: TaskAnswer) -> TaskAnswer {
    if answer_bytes(&answer) + 4096 <= wire::MAX_FRAME {
        return answer;
    }
    TaskAnswer {
        id: answer.id,
        response: Err(RayError::Io {
            context: "answering a task".into(),
            message: format!(
                "its result is over the frame limit of {} bytes",
                wire::MAX_FRAME
            ),
        })
        .into(),
    }
}

/// Counts a task running here while it is, and as cancelled if dropped unfinished.
struct Running<'a> {
    tasks: &'a ClusterTasks,
    function: Option<String>,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.tasks.running.fetch_sub(1, Ordering::Relaxed);
        if let Some(function) = self.function.take() {
            self.tasks
                .ran
                .get_or_create(&TaskLabel {
                    function,
                    outcome: "Cancelled".to_string(),
                })
                .inc();
        }
    }
}

/// Forgets a task another node sent once it is answered.
struct Forget<'a> {
    tasks: &'a ClusterTasks,
    key: Option<String>,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        if let Some(key) = &self.key
            && let Ok(mut incoming) = self.tasks.incoming.lock()
        {
            incoming.remove(key);
        }
    }
}

/// Cancels a task sent to another node if its sender stops waiting unanswered (this
/// node's driver went away, or the task that submitted it ended).
struct CancelRemote {
    link: Option<TaskLink>,
    node: String,
    key: String,
    cancel: Cancellation,
}

impl Drop for CancelRemote {
    fn drop(&mut self) {
        let Some(link) = self.link.take() else {
            return;
        };
        let recursive = self.cancel.state().unwrap_or(true);
        let (node, key) = (
            std::mem::take(&mut self.node),
            std::mem::take(&mut self.key),
        );
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = link.cancel(&node, &key, recursive).await;
            });
        }
    }
}

/// Counts a task out on a node, and what it asks for, while it is.
struct OutGuard<'a> {
    tasks: &'a ClusterTasks,
    node: String,
    asked: BTreeMap<String, f64>,
}

impl<'a> OutGuard<'a> {
    fn new(tasks: &'a ClusterTasks, node: &str, asked: &BTreeMap<String, f64>) -> Self {
        if let Ok(mut out) = tasks.out.lock() {
            let (count, sum) = out.entry(node.to_string()).or_default();
            *count += 1;
            for (name, amount) in asked {
                *sum.entry(name.clone()).or_default() += amount;
            }
        }
        OutGuard {
            tasks,
            node: node.to_string(),
            asked: asked.clone(),
        }
    }
}

impl Drop for OutGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut out) = self.tasks.out.lock()
            && let Some((count, sum)) = out.get_mut(&self.node)
        {
            *count = count.saturating_sub(1);
            for (name, amount) in &self.asked {
                if let Some(left) = sum.get_mut(name) {
                    *left -= amount;
                }
            }
            if *count == 0 {
                out.remove(&self.node);
            }
        }
    }
}
