//! Actors cluster-wide: a node of a cluster places the actors its jobs create on any live
//! node, serves the ones placed on it to every other node, and brings back elsewhere the
//! actors of a node that was lost.
//!
//! - **Directory.** Each actor placed through a node (detached, or asking for resources
//!   or a node) has an [`ActorEntry`] in JetStream KV (`rustyray_actors`, by id): the node
//!   hosting it, how it was created, its constructor's arguments, restarts used. Its name
//!   is claimed cluster-wide in `rustyray_actor_names` (namespace + name, hashed). Its
//!   snapshots (snapshot classes) go to `rustyray_actor_snapshots`, before the call they
//!   follow is answered, so an answer seen is a state kept even if the node dies.
//! - **Routing.** A job's driver sends these actors' requests to its node's unix socket
//!   (`remote::SocketTransport`); [`ClusterActors`] routes them: a creation to the
//!   least-loaded live node that has the resources (or the node asked for), which holds
//!   them for the actor's lifetime (`held.rs`; its creation waits there until they are
//!   free), a call or kill to the node hosting the actor, over NATS request/reply on
//!   `rustyray.actors.<node>` (MessagePack `remote::Request`/`Response`, as on the
//!   socket).
//! - **Loss.** Every second each node reads the directory; an actor whose node has no
//!   heartbeat and does not answer is restarted by the live node placement picks (every
//!   node picks the same one; compare-and-set on the entry makes it one): from its last
//!   snapshot, else from its constructor, within `max_restarts`; else it is marked dead,
//!   naming the lost node. A call in flight to a lost node is retried on the restarted
//!   actor within `max_task_retries`, else fails with `ActorDied` naming the node; calls
//!   not yet delivered wait for the restart.
//! - **Lifetime.** A non-detached actor belongs to its job: when the job ends (or its
//!   node is lost), it is killed.
//! - **NATS restarting.** A request or its answer sent while NATS restarts is lost (core
//!   NATS delivers at most once). Each request carries its sender's key for it
//!   (`Rustyray-Call`); once the sender's client connected again it sends an unanswered
//!   request again, every [`RESEND_INTERVAL`] for [`RESEND_GRACE`] (the hosting node may
//!   subscribe again later). The hosting node runs a key once: a request sent again
//!   while it runs is answered once it ends, and one it answered in the last
//!   [`ANSWER_KEPT`] (at most [`ANSWERS_KEPT_BYTES`]) is answered again from what it
//!   kept. Until [`rustyray_cluster::SETTLE_AFTER_RECONNECT`] after its reconnection a
//!   node takes no unanswered liveness check or missing responder for a lost node.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use rustyray::ActorId;
use rustyray::remote::wire::WireError;
use rustyray::remote::{
    ActorHost, ActorTransport, CreateRequest, Pending, PersistedActor, RemoteActor, Request,
    RequestRouter, Response, Routed, SnapshotStore, WireValue,
};
use rustyray_cluster::actors::Unanswered;
use rustyray_cluster::tasks::{ANSWER_KEPT, ANSWERS_KEPT_BYTES, RESEND_GRACE, RESEND_INTERVAL};
use rustyray_cluster::{Cluster, NodeView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api::ModuleInfo;
use crate::cluster_objects::{ClusterObjects, HostObjects};
use crate::detached::DetachedActors;
use crate::held::{Account, Hold};
use crate::jobs::JobManager;
use crate::modules::ModuleStore;

/// How often a node looks for actors of lost nodes and for ended jobs' actors.
pub const SWEEP_INTERVAL: Duration = Duration::from_millis(1000);
/// How often a call in flight checks that the node hosting its actor still answers.
pub const LIVENESS_CHECK: Duration = Duration::from_millis(500);
/// How long a call to an actor of a lost node waits for the actor to be restarted.
pub const RESTART_WAIT: Duration = Duration::from_secs(30);
/// How long a liveness check or a directory step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a node without a heartbeat that is still subscribed on NATS but does not
/// answer (hung, or its machine overloaded) is waited for before it is taken for lost. A
/// node whose process is gone is lost at once: NATS says nobody serves its subject.
const HUNG_NODE_AFTER: Duration = Duration::from_secs(20);

/// An actor as the cluster's directory keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActorEntry {
    /// Who it is and how to bring it back (its `module` is the module's SHA-256 here).
    pub actor: PersistedActor,
    /// The node hosting it now.
    pub node_id: String,
    /// Whether its class keeps snapshots (in `rustyray_actor_snapshots`).
    pub snapshot: bool,
    /// Whether it outlives its job.
    pub detached: bool,
    /// The job that created it.
    pub owner: Option<String>,
    /// The node that job runs on.
    pub owner_node: String,
    /// The custom resources it holds where it runs.
    pub resources: BTreeMap<String, f64>,
    /// The node it must run on, if it asked for one.
    pub node_affinity: Option<String>,
    /// Its constructor's arguments (to run it again after a loss).
    pub args: Vec<WireValue>,
    /// Restarts used after node losses.
    pub restarts: u32,
    /// Being brought back on `node_id` (claimed there, not up yet): calls wait.
    #[serde(default)]
    pub restarting: bool,
    /// Why it is dead, once it is (kept so callers learn why).
    pub dead: Option<String>,
    /// When it was created (ms since the epoch).
    pub created_ms: u64,
}

/// The key of an actor id in the buckets.
pub fn id_key(actor: ActorId) -> String {
    let id = actor.0;
    format!("{:x}-{:016x}{:016x}", id.node, id.hi, id.lo)
}

/// The key of a name in `rustyray_actor_names`: namespace and name may hold any
/// character, a key may not, so it is their hash.
pub fn name_key(namespace: &str, name: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(namespace.as_bytes());
    hash.update([0]);
    hash.update(name.as_bytes());
    crate::modules::hex(&hash.finalize())
}

/// The SHA-256 of a module from its component's source name (`<dir>/<sha256>.wasm`).
fn module_sha(source: &str) -> String {
    std::path::Path::new(source)
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn failed(err: &rustyray::RayError) -> Response {
    Response::Failed(err.into())
}

fn other(message: String) -> Response {
    Response::Failed(WireError::Other(message))
}

fn encode(message: &impl Serialize) -> Vec<u8> {
    rmp_serde::to_vec_named(message).unwrap_or_default()
}

/// The node's part in placing, serving and restarting actors cluster-wide.
pub struct ClusterActors {
    cluster: Cluster,
    node_id: String,
    /// This node's resources and what holds them: an actor placed here holds what it
    /// asks for while it lives (`held.rs`).
    account: Arc<Account>,
    detached: Arc<DetachedActors>,
    modules: Arc<ModuleStore>,
    jobs: Arc<JobManager>,
    /// Non-detached actors this node's jobs created, by job.
    owned: Mutex<HashMap<String, Vec<ActorId>>>,
    /// Modules announced to the actors' runtime, by SHA-256.
    loaded: Mutex<HashSet<String>>,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Keys of the requests this node sends to others.
    next_call: std::sync::atomic::AtomicU64,
    /// Keyed requests other nodes sent here: running, or answered lately.
    calls: Mutex<HostedCalls>,
    /// This node's kept objects (set once, after start: `cluster_objects.rs`): object
    /// references in calls are counted there.
    objects: std::sync::OnceLock<Arc<ClusterObjects>>,
    /// Nodes the sweep saw without a heartbeat, since when (this node's clock): one that
    /// is still subscribed but does not answer is taken for lost only after
    /// [`HUNG_NODE_AFTER`].
    missing: Mutex<HashMap<String, std::time::Instant>>,
}

/// Keyed requests other nodes sent here (by key): running (with where to answer now),
/// or answered lately (the answer kept).
#[derive(Default)]
struct HostedCalls {
    running: HashMap<String, rustyray_cluster::actors::ReplySubject>,
    answered: HashMap<String, Vec<u8>>,
    order: std::collections::VecDeque<(std::time::Instant, String)>,
    bytes: usize,
}

impl HostedCalls {
    fn trim(&mut self) {
        while let Some((at, key)) = self.order.front() {
            if at.elapsed() < ANSWER_KEPT && self.bytes <= ANSWERS_KEPT_BYTES {
                break;
            }
            if let Some(answer) = self.answered.remove(key) {
                self.bytes = self.bytes.saturating_sub(answer.len());
            }
            self.order.pop_front();
        }
    }
}

impl std::fmt::Debug for ClusterActors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterActors")
            .field("node_id", &self.node_id)
            .finish()
    }
}

impl ClusterActors {
    /// Starts serving this node's actors on NATS, routes its socket's requests
    /// cluster-wide, keeps its actors' snapshots in JetStream, and sweeps.
    pub async fn start(
        url: &str,
        (node_id, account): (&str, Arc<Account>),
        detached: Arc<DetachedActors>,
        modules: Arc<ModuleStore>,
        jobs: Arc<JobManager>,
        max_snapshot_bytes: usize,
    ) -> crate::error::Result<Arc<ClusterActors>> {
        let cluster = Cluster::connect(url, &format!("rustyray {node_id} actors"))
            .await?
            .with_max_snapshot_bytes(max_snapshot_bytes);
        let actors = Arc::new(ClusterActors {
            cluster,
            node_id: node_id.to_string(),
            account,
            detached,
            modules,
            jobs,
            owned: Mutex::new(HashMap::new()),
            loaded: Mutex::new(HashSet::new()),
            background: Mutex::new(Vec::new()),
            next_call: std::sync::atomic::AtomicU64::new(0),
            calls: Mutex::new(HostedCalls::default()),
            objects: std::sync::OnceLock::new(),
            missing: Mutex::new(HashMap::new()),
        });
        if let Ok(mut loaded) = actors.loaded.lock() {
            loaded.extend(actors.modules.list().into_iter().map(|m| m.sha256));
        }
        let requests = actors.cluster.serve_actor_requests(node_id).await?;
        actors.detached.attach_cluster(Arc::new(ClusterSnapshots {
            cluster: actors.cluster.clone(),
        }));
        actors.host().set_router(actors.clone());
        // Handles inside values reaching the actors here are resolved in the directory.
        actors
            .host()
            .runtime()
            .resolve_actors_through(Arc::new(Directory(Arc::downgrade(&actors))));
        let tasks = vec![
            tokio::spawn(actors.clone().serve(requests)),
            tokio::spawn(actors.clone().sweeps()),
        ];
        if let Ok(mut background) = actors.background.lock() {
            background.extend(tasks);
        }
        Ok(actors)
    }

    /// Gives this node's kept objects: object references cross in calls to the actors
    /// from then on, and the actors hosted here keep, fetch and count theirs there.
    pub fn set_objects(&self, objects: &Arc<ClusterObjects>) {
        if self.objects.set(objects.clone()).is_ok() {
            self.host()
                .runtime()
                .share_objects_through(Arc::new(HostObjects::new(objects)));
        }
    }

    /// Counts one more reference to each object `request` (a call) carries, for
    /// `node`, where it is going (whose runtime lets it go as it drops it), while the
    /// caller still holds its own. [`RayError::ObjectLost`](rustyray::RayError) when
    /// one is no longer kept.
    async fn count_for(&self, request: &Request, node: &str) -> rustyray::Result<()> {
        let Request::Call { args, .. } = request else {
            return Ok(());
        };
        if args.iter().all(|arg| arg.refs.is_empty()) {
            return Ok(());
        }
        let objects = self.objects.get().ok_or_else(|| {
            rustyray::RayError::Remote(
                "this node does not serve cluster objects (not started)".into(),
            )
        })?;
        for arg in args {
            for address in &arg.refs {
                objects.borrow_for(&address.held, node).await?;
            }
        }
        Ok(())
    }

    /// Stops serving and sweeping (the actors themselves stop with the node's runtime).
    pub fn stop(&self) {
        if let Ok(mut background) = self.background.lock() {
            for task in background.drain(..) {
                task.abort();
            }
        }
    }

    /// The directory's word on the live actors placed on this node, by actor id, for
    /// the state API (empty if the directory cannot be read now).
    pub async fn placed_here(&self) -> HashMap<String, crate::state::PlacedActor> {
        let Ok(entries) = self.cluster.actors::<ActorEntry>().await else {
            return HashMap::new();
        };
        entries
            .into_iter()
            .filter(|(_, entry, _)| entry.node_id == self.node_id && entry.dead.is_none())
            .map(|(_, entry, _)| {
                (
                    entry.actor.id.0.to_string(),
                    crate::state::PlacedActor {
                        detached: entry.detached,
                        owner: entry.owner,
                        restarts: entry.restarts,
                    },
                )
            })
            .collect()
    }

    fn host(&self) -> &Arc<ActorHost> {
        self.detached.host()
    }

    // ---- the hosting side: requests from other nodes ----

    async fn serve(
        self: Arc<Self>,
        requests: impl futures::Stream<Item = rustyray_cluster::actors::ActorMessage>,
    ) {
        let mut requests = std::pin::pin!(requests);
        while let Some(message) = requests.next().await {
            // A keyed request sent again: answered from what was kept, or (running)
            // answered at its newest reply subject once it ends.
            let key = rustyray_cluster::actors::call_key(&message)
                .filter(|_| message.reply.is_some())
                .map(|key| format!("{}/{key}", message.subject));
            if let (Some(key), Some(reply)) = (&key, &message.reply)
                && let Ok(mut calls) = self.calls.lock()
            {
                calls.trim();
                if let Some(answer) = calls.answered.get(key).cloned() {
                    drop(calls);
                    let cluster = self.cluster.clone();
                    let reply = reply.clone();
                    tokio::spawn(async move {
                        let _ = cluster.answer_actor_request(reply, answer).await;
                    });
                    continue;
                }
                if let Some(to) = calls.running.get_mut(key) {
                    *to = reply.clone();
                    continue;
                }
                calls.running.insert(key.clone(), reply.clone());
            }
            let actors = self.clone();
            tokio::spawn(async move {
                let response = match actors.cluster.actor_body(&message).await {
                    Ok(body) => match rmp_serde::from_slice::<Request>(&body) {
                        Ok(request) => actors.hosted(request).await,
                        Err(err) => other(format!(
                            "an actor request to node {} did not decode ({} bytes): {err}",
                            actors.node_id,
                            body.len()
                        )),
                    },
                    Err(err) => other(format!(
                        "an actor request to node {}: its body: {err}",
                        actors.node_id
                    )),
                };
                let mut reply = message.reply;
                if let Some(key) = &key
                    && let Ok(mut calls) = actors.calls.lock()
                {
                    // The newest sending of it is where it is answered; kept for more.
                    if let Some(to) = calls.running.remove(key) {
                        reply = Some(to);
                    }
                    let answer = encode(&response);
                    calls.bytes += answer.len();
                    calls.answered.insert(key.clone(), answer);
                    calls
                        .order
                        .push_back((std::time::Instant::now(), key.clone()));
                    calls.trim();
                }
                if let Some(reply) = reply {
                    // An answer that cannot be sent (over the transfer limit, NATS
                    // gone) still answers, with why: the caller would wait forever.
                    if let Err(err) = actors
                        .cluster
                        .answer_actor_request(reply.clone(), encode(&response))
                        .await
                    {
                        let failed =
                            other(format!("answering from node {}: {err}", actors.node_id));
                        let _ = actors
                            .cluster
                            .answer_actor_request(reply, encode(&failed))
                            .await;
                    }
                }
            });
        }
    }

    /// Answers a request for the actors hosted here (never forwarded again).
    async fn hosted(&self, request: Request) -> Response {
        match request {
            Request::Create(request) => self.create_here(request).await,
            Request::Kill { actor, no_restart } => {
                let response = self
                    .host()
                    .handle(Request::Kill { actor, no_restart })
                    .await;
                if no_restart {
                    self.forget(actor).await;
                }
                response
            }
            other => self.host().handle(other).await,
        }
    }

    /// Creates an actor here and records it in the directory (and claims its name).
    /// What it asks for is held here for its lifetime; until it is free, the creation
    /// waits its turn.
    async fn create_here(&self, request: CreateRequest) -> Response {
        let what = format!("actor {}", request.class);
        let hold = match self.account.acquire(&request.resources, &what).await {
            Ok(hold) => hold,
            Err(err) => return failed(&rustyray::RayError::InvalidOptions(err.to_string())),
        };
        let mut response = self.host().handle(Request::Create(request.clone())).await;
        if matches!(
            &response,
            Response::Failed(WireError::ActorClassNotFound(_))
        ) {
            self.load_modules().await;
            response = self.host().handle(Request::Create(request.clone())).await;
        }
        let Response::Actor(Some(remote)) = &response else {
            return response;
        };
        let key = id_key(remote.id);
        // `get_if_exists` may have found an actor of the name here: it is in already
        // (and holds what it asked for).
        if let Ok(Some(_)) = self.cluster.actor::<ActorEntry>(&key).await {
            return response;
        }
        self.hold_while_alive(remote.id, hold);
        let (module, snapshot) = self.host().module_of(remote.id).unwrap_or_default();
        let entry = ActorEntry {
            actor: PersistedActor {
                id: remote.id,
                class: remote.class.clone(),
                module: module_sha(&module),
                name: remote.name.as_ref().map(|(_, name)| name.clone()),
                namespace: request.namespace.clone(),
                max_restarts: request.max_restarts,
                max_task_retries: request.max_task_retries,
                max_pending_calls: request.max_pending_calls,
                snapshot_every: request.snapshot_every,
            },
            node_id: self.node_id.clone(),
            snapshot,
            detached: request.detached,
            owner: request.owner.clone(),
            owner_node: String::new(),
            resources: request.resources.clone(),
            node_affinity: request.node_id.clone(),
            args: request.args.clone(),
            restarts: 0,
            restarting: false,
            dead: None,
            created_ms: crate::api::now_ms(),
        };
        if let Err(err) = self.cluster.put_actor(&key, &entry).await {
            self.kill_here(remote.id).await;
            return other(format!("recording the actor in the cluster: {err}"));
        }
        let Some((namespace, name)) = &remote.name else {
            return response;
        };
        let names = name_key(namespace, name);
        loop {
            match self.cluster.claim_name(&names, &key).await {
                Ok(None) => return response,
                // Two creations with `get_if_exists` at once: the runtime here answered
                // the second with the first, which holds the name already.
                Ok(Some(holder)) if holder == key => return response,
                Ok(Some(holder)) => match self.live_entry(&holder).await {
                    Some(existing) => {
                        self.kill_here(remote.id).await;
                        let _ = self.cluster.delete_actor(&key).await;
                        if request.get_if_exists {
                            return Response::Actor(Some(existing));
                        }
                        return failed(&rustyray::RayError::ActorNameTaken {
                            namespace: namespace.clone(),
                            name: name.clone(),
                        });
                    }
                    // A stale claim (its actor is gone): let go of it and claim again.
                    None => {
                        if self.cluster.release_name(&names, &holder).await.is_err() {
                            return response;
                        }
                    }
                },
                Err(err) => {
                    eprintln!("rustyray node: claiming actor name {name:?}: {err}");
                    return response;
                }
            }
        }
    }

    /// Keeps `hold` until hosted actor `actor` is gone for good (however it ends).
    fn hold_while_alive(&self, actor: ActorId, hold: Hold) {
        match self.host().ended(actor) {
            Some(ended) => {
                tokio::spawn(async move {
                    ended.await;
                    drop(hold);
                });
            }
            None => drop(hold),
        }
    }

    async fn kill_here(&self, actor: ActorId) {
        let _ = self
            .host()
            .handle(Request::Kill {
                actor,
                no_restart: true,
            })
            .await;
    }

    /// Drops an actor that ended for good from the directory, with its name.
    async fn forget(&self, actor: ActorId) {
        let key = id_key(actor);
        if let Ok(Some((entry, _))) = self.cluster.actor::<ActorEntry>(&key).await
            && let Some(name) = &entry.actor.name
        {
            let _ = self
                .cluster
                .release_name(&name_key(&entry.actor.namespace, name), &key)
                .await;
        }
        let _ = self.cluster.delete_actor(&key).await;
    }

    /// The live actor of directory key `key`, if it is alive on a live node.
    async fn live_entry(&self, key: &str) -> Option<RemoteActor> {
        let (entry, _) = self.cluster.actor::<ActorEntry>(key).await.ok()??;
        if entry.dead.is_some() {
            return None;
        }
        let alive = self.cluster.may_be_alive(&entry.node_id).await.ok()?;
        alive.then(|| remote(&entry))
    }

    /// Fetches the cluster's modules this node lacks and loads every module into the
    /// actors' runtime that is not there yet.
    async fn load_modules(&self) {
        if let Ok(index) = self.cluster.modules::<ModuleInfo>().await {
            for module in index {
                if self.modules.find(&module.sha256).is_ok() {
                    continue;
                }
                if let Ok(bytes) = self.cluster.module_bytes(&module.sha256).await {
                    let _ = self.modules.deploy(&bytes, &module.name).await;
                }
            }
        }
        for module in self.modules.list().iter().rev() {
            let new = self
                .loaded
                .lock()
                .is_ok_and(|mut loaded| loaded.insert(module.sha256.clone()));
            if new {
                self.detached.deployed(&self.modules, module).await;
            }
        }
    }

    // ---- the routing side: requests of this node's drivers ----

    /// Answers a request of this node's drivers (or of anything on this node holding an
    /// actor handle): placed, found or forwarded cluster-wide.
    pub async fn route_request(&self, request: Request) -> Response {
        match request {
            Request::Create(request) => self.create(request).await,
            Request::Lookup { namespace, name } => {
                match self.cluster.name(&name_key(&namespace, &name)).await {
                    Ok(Some(key)) => Response::Actor(self.live_entry(&key).await),
                    // Not in the cluster: one of this node's own (kept from before it
                    // joined), if any.
                    Ok(None) => {
                        self.host()
                            .handle(Request::Lookup { namespace, name })
                            .await
                    }
                    Err(err) => other(format!("looking up actor {name:?}: {err}")),
                }
            }
            Request::Locate { actor } => {
                match self.cluster.actor::<ActorEntry>(&id_key(actor)).await {
                    Ok(Some((entry, _))) if entry.dead.is_none() => {
                        Response::Actor(Some(remote(&entry)))
                    }
                    Ok(_) => self.host().handle(Request::Locate { actor }).await,
                    Err(err) => other(format!("locating actor {actor}: {err}")),
                }
            }
            Request::Call { actor, .. } | Request::Kill { actor, .. } => {
                self.forward(actor, request).await
            }
        }
    }

    /// Places a new actor and creates it there.
    async fn create(&self, mut request: CreateRequest) -> Response {
        if let Some(name) = &request.name {
            match self.cluster.name(&name_key(&request.namespace, name)).await {
                Ok(Some(key)) => {
                    if let Some(existing) = self.live_entry(&key).await {
                        if request.get_if_exists {
                            return Response::Actor(Some(existing));
                        }
                        return failed(&rustyray::RayError::ActorNameTaken {
                            namespace: request.namespace.clone(),
                            name: name.clone(),
                        });
                    }
                }
                Ok(None) => {}
                Err(err) => return other(format!("looking up actor name {name:?}: {err}")),
            }
        }
        let target = match self
            .place(&request.resources, request.node_id.as_deref())
            .await
        {
            Ok(target) => target,
            Err(message) => return failed(&rustyray::RayError::InvalidOptions(message)),
        };
        let owner = request.owner.clone();
        // A task of a job running on another node creates for that job, whose node then
        // ends the actor with it (the sweep); otherwise the job is this node's.
        let owner_node = request
            .owner_node
            .clone()
            .unwrap_or_else(|| self.node_id.clone());
        let detached = request.detached;
        // The owner node is this one: the job's driver sent it here.
        let response = if target == self.node_id {
            self.create_here(request.clone()).await
        } else {
            request.owner = owner.clone();
            match self.send(&target, &Request::Create(request.clone())).await {
                Ok(response) => response,
                Err(err) => other(format!("creating the actor on node {target}: {err}")),
            }
        };
        if let Response::Actor(Some(remote)) = &response {
            // The entry the hosting node wrote names this node as the owner's.
            let key = id_key(remote.id);
            if let Ok(Some((mut entry, revision))) = self.cluster.actor::<ActorEntry>(&key).await
                && entry.owner_node.is_empty()
            {
                entry.owner_node = owner_node.clone();
                let _ = self.cluster.update_actor(&key, &entry, revision).await;
            }
            if !detached
                && owner_node == self.node_id
                && let Some(job) = owner
                && let Ok(mut owned) = self.owned.lock()
            {
                owned.entry(job).or_default().push(remote.id);
            }
        }
        response
    }

    /// The live node to run an actor needing `resources` on: `node` if given (and
    /// alive), else the least loaded (jobs and actors) that has them.
    async fn place(
        &self,
        resources: &BTreeMap<String, f64>,
        node: Option<&str>,
    ) -> std::result::Result<String, String> {
        let nodes = self
            .cluster
            .settled_nodes()
            .await
            .map_err(|err| format!("reading the cluster's nodes: {err}"))?;
        let entries = self
            .cluster
            .actors::<ActorEntry>()
            .await
            .unwrap_or_default();
        choose(&nodes, &entries, resources, node)
    }

    /// Sends a call or kill to the node hosting `actor`, following it when its node is
    /// lost and it is restarted elsewhere.
    async fn forward(&self, actor: ActorId, mut request: Request) -> Response {
        let key = id_key(actor);
        // Its answer comes back here: references in it are counted for this node.
        if let Request::Call { caller_node, .. } = &mut request {
            *caller_node = Some(self.node_id.clone());
        }
        let is_call = matches!(request, Request::Call { .. });
        let mut retries_used = 0u32;
        loop {
            let entry = match self.cluster.actor::<ActorEntry>(&key).await {
                Ok(Some((entry, _))) => entry,
                // Not in the directory: a detached actor of this node only.
                Ok(None) => {
                    return match self.count_for(&request, &self.node_id).await {
                        Ok(()) => self.host().handle(request).await,
                        Err(err) => failed(&err),
                    };
                }
                Err(err) => return other(format!("finding actor {actor}: {err}")),
            };
            if let Some(reason) = &entry.dead {
                return failed(&rustyray::RayError::ActorDied {
                    actor,
                    class: entry.actor.class.clone(),
                    reason: reason.clone(),
                });
            }
            let node = entry.node_id.clone();
            if entry.restarting {
                if let Err(reason) = self.moved(&key, None).await {
                    return failed(&rustyray::RayError::ActorDied {
                        actor,
                        class: entry.actor.class.clone(),
                        reason,
                    });
                }
                continue;
            }
            if let Err(err) = self.count_for(&request, &node).await {
                return failed(&err);
            }
            if node == self.node_id {
                return self
                    .checked(actor, &entry, self.hosted(request).await)
                    .await;
            }
            match self.send(&node, &request).await {
                Ok(response) => return self.checked(actor, &entry, response).await,
                // Not delivered: its node is gone; wait for the restart, then send it.
                Err(Unanswered::NoResponders) => {}
                // Delivered, maybe run, and its node lost before it answered.
                Err(Unanswered::TimedOut) => {
                    if is_call {
                        if retries_used >= entry.actor.max_task_retries {
                            return failed(&rustyray::RayError::ActorDied {
                                actor,
                                class: entry.actor.class.clone(),
                                reason: format!(
                                    "its node {node} was lost during this call (max_task_retries {} used)",
                                    entry.actor.max_task_retries
                                ),
                            });
                        }
                        retries_used += 1;
                    }
                }
                Err(Unanswered::Failed(cause)) => {
                    return other(format!("reaching actor {actor} on node {node}: {cause}"));
                }
            }
            if let Err(reason) = self.moved(&key, Some(&node)).await {
                return failed(&rustyray::RayError::ActorDied {
                    actor,
                    class: entry.actor.class.clone(),
                    reason,
                });
            }
        }
    }

    /// A hosting node that no longer has the actor (and still is where the directory
    /// says it is) means it ended: forget it.
    async fn checked(&self, actor: ActorId, entry: &ActorEntry, response: Response) -> Response {
        if let Response::Failed(WireError::ActorNotFound(_)) = &response {
            let key = id_key(actor);
            if let Ok(Some((now, _))) = self.cluster.actor::<ActorEntry>(&key).await
                && (now.node_id != entry.node_id || now.restarting)
            {
                return failed(&rustyray::RayError::ActorDied {
                    actor,
                    class: entry.actor.class.clone(),
                    reason: format!(
                        "it moved from node {} while this call was sent",
                        entry.node_id
                    ),
                });
            }
            self.forget(actor).await;
            return failed(&rustyray::RayError::ActorDied {
                actor,
                class: entry.actor.class.clone(),
                reason: "it is no longer alive".into(),
            });
        }
        response
    }

    /// Waits until the actor of `key` is up again: no longer on `node` (restarted
    /// elsewhere, dead or gone) and not restarting, at most [`RESTART_WAIT`].
    async fn moved(&self, key: &str, node: Option<&str>) -> std::result::Result<(), String> {
        let deadline = tokio::time::Instant::now() + RESTART_WAIT;
        loop {
            let last = match self.cluster.actor::<ActorEntry>(key).await {
                Ok(Some((entry, _)))
                    if entry.dead.is_none()
                        && (entry.restarting || node == Some(entry.node_id.as_str())) =>
                {
                    entry.node_id
                }
                _ => return Ok(()),
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "its node {last} was lost and it was not restarted within {RESTART_WAIT:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Sends `request` to `node` and waits for the answer, while checking that the
    /// node still answers (a node lost mid-call never answers).
    async fn send(
        &self,
        node: &str,
        request: &Request,
    ) -> std::result::Result<Response, Unanswered> {
        let body = encode(request);
        let key = format!(
            "{}-{}",
            self.node_id,
            self.next_call
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut connections = self.cluster.connections();
        let lost = self.lost(node);
        let mut lost = std::pin::pin!(lost);
        let answer = loop {
            let sent = self
                .cluster
                .actor_request_keyed(node, body.clone(), None, Some(&key));
            let answer = tokio::select! {
                answer = sent => answer,
                lost = &mut lost => return Err(lost),
                () = resend_due(&self.cluster, &mut connections) => continue,
            };
            match answer {
                // Just after NATS restarted the node may not have subscribed again.
                Err(Unanswered::NoResponders) if !self.cluster.settled() => {
                    tokio::select! {
                        () = tokio::time::sleep(RESEND_INTERVAL) => continue,
                        lost = &mut lost => return Err(lost),
                    }
                }
                answer => break answer?,
            }
        };
        rmp_serde::from_slice(&answer)
            .map_err(|err| Unanswered::Failed(format!("its answer did not decode: {err}")))
    }

    /// Returns once `node` stops answering.
    async fn lost(&self, node: &str) -> Unanswered {
        let probe = encode(&Request::Locate {
            actor: ActorId(rustyray::Id {
                node: 0,
                hi: 0,
                lo: 0,
            }),
        });
        loop {
            tokio::time::sleep(LIVENESS_CHECK).await;
            if let Err(Unanswered::NoResponders | Unanswered::TimedOut) = self
                .cluster
                .actor_request(node, probe.clone(), Some(STEP_TIMEOUT))
                .await
                && self.cluster.settled()
            {
                return Unanswered::TimedOut;
            }
        }
    }

    // ---- sweeping: lost nodes' actors, ended jobs' actors ----

    async fn sweeps(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.end_jobs_actors().await;
            let _ = tokio::time::timeout(Duration::from_secs(60), self.sweep()).await;
        }
    }

    /// Kills the non-detached actors of this node's jobs that ended.
    async fn end_jobs_actors(&self) {
        let ended: Vec<(String, Vec<ActorId>)> = match self.owned.lock() {
            Ok(mut owned) => {
                let jobs: Vec<String> = owned
                    .keys()
                    .filter(|job| {
                        self.jobs
                            .details(job)
                            .map_or(true, |details| details.status.is_terminal())
                    })
                    .cloned()
                    .collect();
                jobs.into_iter()
                    .filter_map(|job| owned.remove_entry(&job))
                    .collect()
            }
            Err(_) => return,
        };
        for (_, actors) in ended {
            for actor in actors {
                self.end_actor(actor).await;
            }
        }
    }

    /// Kills `actor` for good wherever it runs, waiting at most `STEP_TIMEOUT` for the
    /// answer, which neither caller (a job's end, the sweep) needs.
    async fn end_actor(&self, actor: ActorId) {
        let _ = tokio::time::timeout(
            STEP_TIMEOUT,
            self.forward(
                actor,
                Request::Kill {
                    actor,
                    no_restart: true,
                },
            ),
        )
        .await;
    }

    /// Restarts (or declares dead) the actors of lost nodes this node should take, and
    /// kills the actors it hosts whose job's node was lost.
    async fn sweep(&self) {
        // Just after NATS restarted, a live node's heartbeat may have expired and not be
        // written again yet: nothing is judged lost until every node had time to beat.
        if !self.cluster.settled() {
            return;
        }
        let Ok(nodes) = self.cluster.nodes().await else {
            return;
        };
        let live: HashSet<String> = nodes
            .iter()
            .filter(|view| view.alive)
            .map(|view| view.record.node_id.clone())
            .collect();
        if let Ok(mut missing) = self.missing.lock() {
            missing.retain(|node, _| !live.contains(node));
            for view in nodes.iter().filter(|view| !view.alive) {
                missing
                    .entry(view.record.node_id.clone())
                    .or_insert_with(std::time::Instant::now);
            }
        }
        let Ok(entries) = self.cluster.actors::<ActorEntry>().await else {
            return;
        };
        let mut answered: HashMap<String, bool> = HashMap::new();
        for (key, entry, revision) in &entries {
            if entry.dead.is_some() {
                continue;
            }
            // Created for one of this node's jobs by its task on another node: it ends
            // with the job.
            if !entry.detached
                && entry.owner_node == self.node_id
                && let Some(job) = &entry.owner
                && self
                    .jobs
                    .details(job)
                    .map_or(true, |details| details.status.is_terminal())
            {
                let actor = entry.actor.id;
                self.end_actor(actor).await;
                continue;
            }
            let owner_lost = !entry.detached
                && !entry.owner_node.is_empty()
                && !live.contains(&entry.owner_node);
            if entry.node_id == self.node_id {
                // Its job's node, without a heartbeat, may only have lost NATS for a while:
                // it is gone when it does not answer either.
                if owner_lost && self.gone(&mut answered, &entry.owner_node).await {
                    self.kill_here(entry.actor.id).await;
                    self.forget(entry.actor.id).await;
                }
                continue;
            }
            if live.contains(&entry.node_id) {
                continue;
            }
            // No heartbeat; a node that only lost NATS for a while still answers.
            let node = entry.node_id.clone();
            if !self.gone(&mut answered, &node).await {
                continue;
            }
            if owner_lost {
                // Its job went with its node: nobody is left to call it.
                if self
                    .cluster
                    .update_actor(
                        key,
                        &dead(
                            entry,
                            format!(
                                "its node {node} was lost, and its job's node {} too",
                                entry.owner_node
                            ),
                        ),
                        *revision,
                    )
                    .await
                    .is_ok()
                {
                    self.release(entry).await;
                }
                continue;
            }
            let others: Vec<(String, ActorEntry, u64)> = entries
                .iter()
                .filter(|(other, _, _)| other != key)
                .cloned()
                .collect();
            let chosen = choose(&nodes, &others, &entry.resources, None);
            let Ok(chosen) = chosen else {
                let reason = format!(
                    "its node {node} was lost and no live node has what it needs ({})",
                    crate::cluster::describe(&entry.resources)
                );
                if self
                    .cluster
                    .update_actor(key, &dead(entry, reason), *revision)
                    .await
                    .is_ok()
                {
                    self.release(entry).await;
                }
                continue;
            };
            if chosen != self.node_id {
                continue;
            }
            if entry.restarts >= entry.actor.max_restarts || entry.node_affinity.is_some() {
                let reason = if entry.node_affinity.is_some() {
                    format!("its node {node} was lost (it was bound to that node)")
                } else {
                    format!(
                        "its node {node} was lost and it has no restarts left (max_restarts {})",
                        entry.actor.max_restarts
                    )
                };
                if self
                    .cluster
                    .update_actor(key, &dead(entry, reason), *revision)
                    .await
                    .is_ok()
                {
                    self.release(entry).await;
                }
                continue;
            }
            // What it asks for is held here from its restart on; while it is not free
            // here the actor waits (callers wait at most `RESTART_WAIT`), and the next
            // sweep tries again.
            let Some(hold) = self.account.try_acquire(&entry.resources) else {
                continue;
            };
            let mut claimed = entry.clone();
            claimed.node_id = self.node_id.clone();
            claimed.restarts += 1;
            claimed.restarting = true;
            let Ok(revision) = self.cluster.update_actor(key, &claimed, *revision).await else {
                continue;
            };
            let revived = self.revive(key, &claimed).await;
            if revived.is_ok() {
                self.hold_while_alive(claimed.actor.id, hold);
            } else {
                drop(hold);
            }
            claimed.restarting = false;
            let revived = match revived {
                Ok(()) => self
                    .cluster
                    .update_actor(key, &claimed, revision)
                    .await
                    .map(|_| ())
                    .map_err(|err| rustyray::RayError::Remote(err.to_string())),
                Err(err) => Err(err),
            };
            if let Err(err) = revived {
                let reason = format!(
                    "its node {node} was lost and restarting it on {} failed: {err}",
                    self.node_id
                );
                eprintln!("rustyray node: actor {key} {reason}");
                if self
                    .cluster
                    .update_actor(key, &dead(&claimed, reason), revision)
                    .await
                    .is_ok()
                {
                    self.release(&claimed).await;
                }
            } else {
                eprintln!(
                    "rustyray node: actor {key} ({}) of lost node {node} restarted here",
                    rustyray::terminal::escape_text(&claimed.actor.class)
                );
            }
        }
    }

    /// Whether `node`, seen without a heartbeat, is gone: it does not answer on its actor
    /// subject while this connection is settled. Answers are kept in `answered` for the
    /// rest of one sweep.
    async fn gone(&self, answered: &mut HashMap<String, bool>, node: &str) -> bool {
        if let Some(gone) = answered.get(node) {
            return *gone;
        }
        let gone = self.unanswering(node).await && self.cluster.settled();
        answered.insert(node.to_string(), gone);
        gone
    }

    /// Whether `node` does not answer on its actor subject: nobody serves it, or — once
    /// it has been without a heartbeat for [`HUNG_NODE_AFTER`] — no answer comes in time.
    async fn unanswering(&self, node: &str) -> bool {
        let hung = self
            .missing
            .lock()
            .ok()
            .and_then(|missing| missing.get(node).copied())
            .is_some_and(|since| since.elapsed() >= HUNG_NODE_AFTER);
        let probe = encode(&Request::Locate {
            actor: ActorId(rustyray::Id {
                node: 0,
                hi: 0,
                lo: 0,
            }),
        });
        match self
            .cluster
            .actor_request(node, probe, Some(STEP_TIMEOUT))
            .await
        {
            Err(Unanswered::NoResponders) => true,
            Err(Unanswered::TimedOut) => hung,
            _ => false,
        }
    }

    async fn release(&self, entry: &ActorEntry) {
        if let Some(name) = &entry.actor.name {
            let _ = self
                .cluster
                .release_name(
                    &name_key(&entry.actor.namespace, name),
                    &id_key(entry.actor.id),
                )
                .await;
        }
    }

    /// Brings an actor of a lost node back here: from its last snapshot, else from its
    /// constructor.
    async fn revive(&self, key: &str, entry: &ActorEntry) -> rustyray::Result<()> {
        let module = match self.modules.find(&entry.actor.module) {
            Ok(module) => module,
            Err(_) => {
                self.load_modules().await;
                self.modules.find(&entry.actor.module).map_err(|_| {
                    rustyray::RayError::ActorClassNotFound(format!(
                        "{} (its module {} is not in the cluster)",
                        entry.actor.class, entry.actor.module
                    ))
                })?
            }
        };
        self.load_modules().await;
        let mut actor = entry.actor.clone();
        actor.module = self.modules.path(&module).display().to_string();
        let state = if entry.snapshot {
            self.cluster
                .snapshot(key)
                .await
                .map_err(|err| rustyray::RayError::Remote(err.to_string()))?
        } else {
            None
        };
        self.host()
            .revive(&actor, state, entry.args.clone())
            .await
            .map(|_| ())
    }
}

/// In-process access to the cluster's actors, for a runtime of this node (the same
/// routing as the node's socket).
impl ActorTransport for ClusterActors {
    fn create(&self, request: CreateRequest) -> Pending<'_, RemoteActor> {
        Box::pin(async move {
            match self.route_request(Request::Create(request)).await {
                Response::Actor(Some(actor)) => Ok(actor),
                other => Err(unexpected(other)),
            }
        })
    }

    fn lookup(&self, namespace: String, name: String) -> Pending<'_, Option<RemoteActor>> {
        Box::pin(async move {
            match self
                .route_request(Request::Lookup { namespace, name })
                .await
            {
                Response::Actor(actor) => Ok(actor),
                other => Err(unexpected(other)),
            }
        })
    }

    fn call(
        &self,
        actor: ActorId,
        method: String,
        args: Vec<WireValue>,
        want_result: bool,
    ) -> Pending<'_, WireValue> {
        Box::pin(async move {
            let request = Request::Call {
                actor,
                method,
                args,
                want_result,
                caller_node: None,
            };
            match self.route_request(request).await {
                Response::Value(value) => Ok(value),
                Response::Done => Ok(WireValue {
                    raw: false,
                    data: rustyray::codec::UNIT.to_vec().into(),
                    held: None,
                    refs: Vec::new(),
                }),
                other => Err(unexpected(other)),
            }
        })
    }

    fn kill(&self, actor: ActorId, no_restart: bool) -> Pending<'_, ()> {
        Box::pin(async move {
            match self
                .route_request(Request::Kill { actor, no_restart })
                .await
            {
                Response::Done => Ok(()),
                other => Err(unexpected(other)),
            }
        })
    }

    fn locate(&self, actor: ActorId) -> Pending<'_, Option<RemoteActor>> {
        Box::pin(async move {
            match self.route_request(Request::Locate { actor }).await {
                Response::Actor(actor) => Ok(actor),
                other => Err(unexpected(other)),
            }
        })
    }
}

/// The cluster's actors as the node's own actors' runtime reaches them (handles that
/// arrived inside values): the same routing, without keeping the node's part alive.
#[derive(Debug)]
struct Directory(std::sync::Weak<ClusterActors>);

impl Directory {
    fn actors(&self) -> rustyray::Result<Arc<ClusterActors>> {
        self.0.upgrade().ok_or(rustyray::RayError::ShutDown)
    }
}

impl ActorTransport for Directory {
    fn create(&self, request: CreateRequest) -> Pending<'_, RemoteActor> {
        Box::pin(async move {
            let actors = self.actors()?;
            ActorTransport::create(&*actors, request).await
        })
    }

    fn lookup(&self, namespace: String, name: String) -> Pending<'_, Option<RemoteActor>> {
        Box::pin(async move {
            let actors = self.actors()?;
            ActorTransport::lookup(&*actors, namespace, name).await
        })
    }

    fn call(
        &self,
        actor: ActorId,
        method: String,
        args: Vec<WireValue>,
        want_result: bool,
    ) -> Pending<'_, WireValue> {
        Box::pin(async move {
            let actors = self.actors()?;
            ActorTransport::call(&*actors, actor, method, args, want_result).await
        })
    }

    fn kill(&self, actor: ActorId, no_restart: bool) -> Pending<'_, ()> {
        Box::pin(async move {
            let actors = self.actors()?;
            ActorTransport::kill(&*actors, actor, no_restart).await
        })
    }

    fn locate(&self, actor: ActorId) -> Pending<'_, Option<RemoteActor>> {
        Box::pin(async move {
            let actors = self.actors()?;
            ActorTransport::locate(&*actors, actor).await
        })
    }
}

/// A failure as the transport returns it; anything else was not the answer expected.
fn unexpected(response: Response) -> rustyray::RayError {
    match response {
        Response::Failed(err) => err.into(),
        other => rustyray::RayError::Remote(format!("unexpected answer: {other:?}")),
    }
}

impl RequestRouter for ClusterActors {
    fn route(&self, request: Request) -> Routed<'_> {
        Box::pin(self.route_request(request))
    }
}

/// The entry, marked dead for `reason`.
fn dead(entry: &ActorEntry, reason: String) -> ActorEntry {
    ActorEntry {
        dead: Some(reason),
        ..entry.clone()
    }
}

/// What a caller is told of a directory entry.
fn remote(entry: &ActorEntry) -> RemoteActor {
    RemoteActor {
        id: entry.actor.id,
        class: entry.actor.class.clone(),
        module: Some(entry.actor.module.clone()),
        name: entry
            .actor
            .name
            .clone()
            .map(|name| (entry.actor.namespace.clone(), name)),
    }
}

/// The live node to place an actor needing `resources` on (`node`: that one, if alive):
/// the least loaded — jobs running and waiting, work waiting for resources, plus actors
/// it hosts — among those with the resources free (what its record says, less actors
/// created there since), else among those that have them at all (it waits there for
/// its turn); ties by node id, so every node chooses the same.
fn choose(
    nodes: &[NodeView],
    entries: &[(String, ActorEntry, u64)],
    resources: &BTreeMap<String, f64>,
    node: Option<&str>,
) -> std::result::Result<String, String> {
    if let Some(node) = node {
        return if nodes
            .iter()
            .any(|view| view.alive && view.record.node_id == node)
        {
            Ok(node.to_string())
        } else {
            Err(format!(
                "node affinity: node {node:?} is not a live node of the cluster (see `rustyray list nodes`)"
            ))
        };
    }
    let mut adjusted: Vec<NodeView> = nodes.to_vec();
    for view in &mut adjusted {
        view.record.pending_jobs += view.record.waiting_for_resources;
        for (_, entry, _) in entries {
            if entry.dead.is_some() || entry.node_id != view.record.node_id {
                continue;
            }
            view.record.pending_jobs += 1;
            // Its record's `available` has what its actors hold as of its heartbeat; an
            // actor created there since (both times are that node's clock) is not in.
            if entry.created_ms <= view.record.heartbeat_ms {
                continue;
            }
            for (name, amount) in &entry.resources {
                if let Some(left) = view.record.available.get_mut(name) {
                    *left -= amount;
                }
            }
        }
    }
    rustyray_cluster::registry::place(&adjusted, resources)
        .map(|record| record.node_id.clone())
        .ok_or_else(|| {
            format!(
                "no live node of the cluster has the resources this actor asks for ({}): start \
                 a node with `rustyray start --cluster URL --resources NAME=N`",
                crate::cluster::describe(resources)
            )
        })
}

/// Snapshots of the node's hosted actors, kept in JetStream so another node can restore
/// them when this one is lost.
#[derive(Debug)]
pub struct ClusterSnapshots {
    cluster: Cluster,
}

/// The largest actor snapshot a node keeps by default, in MiB (`rustyray start
/// --max-snapshot-mib`).
pub const MAX_SNAPSHOT_MIB: u64 = (rustyray_cluster::actors::MAX_SNAPSHOT_BYTES >> 20) as u64;

impl SnapshotStore for ClusterSnapshots {
    fn record(&self, _actor: &PersistedActor) -> rustyray::Result<()> {
        // The directory entry is written by `ClusterActors::create_here`.
        Ok(())
    }

    fn save(&self, actor: ActorId, state: Vec<u8>) -> rustyray::remote::Pending<'_, ()> {
        Box::pin(async move {
            // The actor goes on either way (its previous snapshot stays the one kept):
            // say why on the node's stderr, the only place an operator sees it.
            self.cluster
                .save_snapshot(&id_key(actor), state)
                .await
                .map_err(|err| {
                    let err = match err {
                        rustyray_cluster::ClusterError::SnapshotTooLarge {
                            size, limit, ..
                        } => rustyray::RayError::LimitExceeded {
                            function: format!("snapshot of actor {actor}"),
                            limit: rustyray::Limit::SnapshotSize,
                            value: limit as u64,
                            detail: format!(
                                "it is {size} bytes; `rustyray start --max-snapshot-mib` \
                                     sets the limit; the previous snapshot stays kept"
                            ),
                        },
                        other => rustyray::RayError::Remote(format!("keeping a snapshot: {other}")),
                    };
                    eprintln!(
                        "rustyray node: actor {actor}: its snapshot was not kept: {}",
                        rustyray::terminal::escape_text(&err.to_string())
                    );
                    err
                })
        })
    }

    fn forget(&self, actor: ActorId) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let cluster = self.cluster.clone();
        runtime.spawn(async move {
            let key = id_key(actor);
            if let Ok(Some((entry, _))) = cluster.actor::<ActorEntry>(&key).await
                && let Some(name) = &entry.actor.name
            {
                let _ = cluster
                    .release_name(&name_key(&entry.actor.namespace, name), &key)
                    .await;
            }
            let _ = cluster.delete_actor(&key).await;
        });
    }
}

/// Returns when an unanswered request should be sent again: every [`RESEND_INTERVAL`]
/// for [`RESEND_GRACE`] after the client connected again (the other node may subscribe
/// again after it did), else at the next reconnection.
async fn resend_due(cluster: &Cluster, connections: &mut tokio::sync::watch::Receiver<u64>) {
    if cluster
        .reconnected_at()
        .is_some_and(|at| at.elapsed() < RESEND_GRACE)
    {
        tokio::time::sleep(RESEND_INTERVAL).await;
        return;
    }
    if connections.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_keys_are_valid_keys_whatever_the_name() {
        let key = name_key("shop", "a name with spaces/and.dots\u{0}");
        assert!(rustyray_cluster::valid_key(&key), "{key}");
        assert_ne!(key, name_key("sho", "pa name with spaces/and.dots\u{0}"));
        assert_eq!(module_sha("/data/modules/abc123.wasm"), "abc123");
    }
}
