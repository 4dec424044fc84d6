//! Detached actors: the node's own runtime hosts them, so they outlive the job that
//! created them (each job's driver is a process of its own, and ends with its job).
//!
//! A driver gets the node's socket (hidden `rustyray run --node-actors`) and sends
//! there the creation of its detached actors, the names it does not find itself, and
//! the calls of those actors' handles (`rustyray::remote`). The socket is a unix socket
//! in the data dir's `actors/` (0700; a private temporary directory when that path is
//! too long for a socket), so only the node's user reaches it, and guests never do.
//!
//! Detached actors of `snapshot` classes are kept in `actors/`: `<id>.json` (who it is:
//! id, class, module, name, namespace, options) and `<id>.state` (its last snapshot,
//! written after construction and after calls as its `snapshot_every` says, before the
//! call is answered), each written whole or not at all (a temporary file renamed). On
//! start the node restores each of them from its module and last snapshot. They run
//! with no capabilities (no directory, no network, no environment) under the node's
//! `--job-memory`, whatever the job that created them was granted.
//!
//! On a node alone (no cluster), a detached actor asking for resources holds them on
//! this node for its lifetime ([`HeldHere`], `held.rs`): its creation waits its turn
//! until they are free, and one asking for more than the node has is refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustyray::ActorId;
use rustyray::remote::{
    ActorHost, PersistedActor, Request, RequestRouter, Response, Routed, SnapshotStore,
};

use crate::api::ModuleInfo;
use crate::error::{NodeError, Result};
use crate::modules::ModuleStore;
use crate::private_socket::{create_private_dir, socket_path};

/// How long stopping the node waits for detached actors' `on_stop`.
const STOP_DEADLINE: Duration = Duration::from_secs(10);

/// The node's detached actors: their runtime, their socket, where they are kept.
pub struct DetachedActors {
    host: Arc<ActorHost>,
    socket: PathBuf,
    /// A private directory made for the socket (removed on shutdown), when the data
    /// dir's path was too long.
    socket_dir: Option<PathBuf>,
    server: tokio::task::JoinHandle<()>,
    store: Arc<FileSnapshots>,
}

impl DetachedActors {
    /// Starts the runtime with every deployed module loaded, restores the kept actors,
    /// and serves the socket.
    pub async fn start(
        data_dir: &Path,
        modules: &ModuleStore,
        cache_dir: &Path,
        memory_mib: u64,
    ) -> Result<Self> {
        let dir = data_dir.join("actors");
        create_private_dir(&dir)?;
        let store = Arc::new(FileSnapshots {
            dir: dir.clone(),
            cluster: std::sync::OnceLock::new(),
        });
        let runtime = rustyray::Runtime::builder()
            .max_instances(64)
            .max_actors(256)
            .cache_dir(Some(cache_dir.to_path_buf()))
            .memory_limit((memory_mib as usize).saturating_mul(1 << 20))
            .snapshot_store(store.clone())
            // Every deployed module is loaded, and two may define one class name: a
            // creation names the module its class is from (`CreateRequest::module`).
            .shared_names(true)
            .build()?;
        let host = ActorHost::new(runtime);
        for module in modules.list().iter().rev() {
            load(&host, modules, module).await;
        }
        store.restore_all(&host).await;
        let (socket, socket_dir) = socket_path(&dir, "actors")?;
        let _ = std::fs::remove_file(&socket);
        let listener = tokio::net::UnixListener::bind(&socket)
            .map_err(|err| NodeError::io(format!("binding {}", socket.display()), err))?;
        let server = tokio::spawn(host.clone().serve(listener));
        Ok(DetachedActors {
            host,
            socket,
            socket_dir,
            server,
            store,
        })
    }

    /// The socket drivers reach the detached actors through.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The runtime hosting them and its actors (for the state API).
    pub fn host(&self) -> &Arc<ActorHost> {
        &self.host
    }

    /// In a cluster: keeps snapshots in `store` (JetStream) from now on, instead of
    /// the data dir, so another node can restore the actors when this one is lost.
    pub fn attach_cluster(&self, store: Arc<dyn SnapshotStore>) {
        let _ = self.store.cluster.set(store);
    }

    /// Loads a newly deployed module, so detached actors of its classes can be created.
    pub async fn deployed(&self, modules: &ModuleStore, module: &ModuleInfo) {
        load(&self.host, modules, module).await;
    }

    /// Stops serving and stops the actors (`on_stop` runs); kept actors stay kept.
    pub async fn shutdown(&self) {
        self.server.abort();
        let _ = self
            .host
            .runtime()
            .shutdown_with_deadline(STOP_DEADLINE)
            .await;
        let _ = std::fs::remove_file(&self.socket);
        if let Some(dir) = &self.socket_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A node alone: what reaches the actors' socket is answered by its host, and a creation
/// asking for resources holds them in the node's account for the actor's lifetime.
#[derive(Debug)]
pub struct HeldHere {
    host: std::sync::Weak<ActorHost>,
    account: Arc<crate::held::Account>,
}

impl HeldHere {
    /// Routes `host`'s socket through `account` (set as the host's router).
    pub fn attach(host: &Arc<ActorHost>, account: Arc<crate::held::Account>) {
        host.set_router(Arc::new(HeldHere {
            host: Arc::downgrade(host),
            account,
        }));
    }

    async fn create(&self, host: &ActorHost, request: rustyray::remote::CreateRequest) -> Response {
        // `get_if_exists` finding the actor of its name: it holds what it asked for.
        if request.get_if_exists
            && let Some(name) = &request.name
            && let Response::Actor(Some(existing)) = host
                .handle(Request::Lookup {
                    namespace: request.namespace.clone(),
                    name: name.clone(),
                })
                .await
        {
            return Response::Actor(Some(existing));
        }
        let what = format!("actor {}", request.class);
        let hold = match self.account.acquire(&request.resources, &what).await {
            Ok(hold) => hold,
            Err(err) => {
                return Response::Failed(
                    (&rustyray::RayError::InvalidOptions(err.to_string())).into(),
                );
            }
        };
        let response = host.handle(Request::Create(request)).await;
        if let Response::Actor(Some(actor)) = &response
            && let Some(ended) = host.ended(actor.id)
        {
            tokio::spawn(async move {
                ended.await;
                drop(hold);
            });
        }
        response
    }
}

impl RequestRouter for HeldHere {
    fn route(&self, request: Request) -> Routed<'_> {
        Box::pin(async move {
            let Some(host) = self.host.upgrade() else {
                return Response::Failed((&rustyray::RayError::ShutDown).into());
            };
            match request {
                Request::Create(create) if !create.resources.is_empty() => {
                    self.create(&host, create).await
                }
                other => host.handle(other).await,
            }
        })
    }
}

async fn load(host: &ActorHost, modules: &ModuleStore, module: &ModuleInfo) {
    if module.actor_classes.is_empty() {
        return;
    }
    if let Err(err) = host.runtime().load(modules.path(module)).await {
        eprintln!(
            "rustyray node: detached actors of module {} ({}) cannot be created: {}",
            module.name,
            &module.sha256[..12.min(module.sha256.len())],
            rustyray::terminal::escape_text(&err.to_string())
        );
    }
}

/// Kept actors as files: `<id>.json` and `<id>.state` (in a cluster, the cluster's store
/// instead).
#[derive(Debug)]
struct FileSnapshots {
    dir: PathBuf,
    cluster: std::sync::OnceLock<Arc<dyn SnapshotStore>>,
}

impl FileSnapshots {
    fn stem(&self, actor: ActorId) -> PathBuf {
        let id = actor.0;
        self.dir
            .join(format!("{:x}-{:016x}{:016x}", id.node, id.hi, id.lo))
    }

    fn path(&self, actor: ActorId, extension: &str) -> PathBuf {
        self.stem(actor).with_extension(extension)
    }

    /// Restores every kept actor; one that cannot be (its module is gone, its state
    /// does not restore) is reported and left on disk. A state without a record (the
    /// node died between the two writes) is removed.
    async fn restore_all(&self, host: &ActorHost) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut records = Vec::new();
        let mut states = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            match path.extension().and_then(|ext| ext.to_str()) {
                Some("json") => records.push(path),
                Some("state") => states.push(path),
                _ => {}
            }
        }
        for path in states {
            if !path.with_extension("json").is_file() {
                let _ = std::fs::remove_file(&path);
            }
        }
        for path in records {
            let kept = std::fs::read(&path)
                .ok()
                .and_then(|text| serde_json::from_slice::<PersistedActor>(&text).ok());
            let Some(kept) = kept else {
                eprintln!(
                    "rustyray node: {} is not a detached actor's record; left as it is",
                    path.display()
                );
                continue;
            };
            let Ok(state) = std::fs::read(self.path(kept.id, "state")) else {
                eprintln!(
                    "rustyray node: detached actor {} has no snapshot to restore from",
                    kept.id
                );
                continue;
            };
            if let Err(err) = host.restore(&kept, state).await {
                eprintln!(
                    "rustyray node: detached actor {} ({}) was not restored: {}",
                    kept.id,
                    rustyray::terminal::escape_text(&kept.class),
                    rustyray::terminal::escape_text(&err.to_string())
                );
            }
        }
    }
}

/// Writes `bytes` to `path` whole or not at all: a temporary file beside it, renamed.
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn io_error(what: &str, path: &Path, err: std::io::Error) -> rustyray::RayError {
    rustyray::RayError::Io {
        context: format!("{what} {}", path.display()),
        message: err.to_string(),
    }
}

impl SnapshotStore for FileSnapshots {
    fn record(&self, actor: &PersistedActor) -> rustyray::Result<()> {
        if let Some(cluster) = self.cluster.get() {
            return cluster.record(actor);
        }
        let path = self.path(actor.id, "json");
        let json = serde_json::to_vec_pretty(actor).map_err(|err| {
            rustyray::RayError::Serialization(format!("a detached actor's record: {err}"))
        })?;
        write_whole(&path, &json).map_err(|err| io_error("writing", &path, err))
    }

    fn save(&self, actor: ActorId, state: Vec<u8>) -> rustyray::remote::Pending<'_, ()> {
        if let Some(cluster) = self.cluster.get() {
            return cluster.save(actor, state);
        }
        let path = self.path(actor, "state");
        Box::pin(async move {
            write_whole(&path, &state).map_err(|err| io_error("writing", &path, err))
        })
    }

    fn forget(&self, actor: ActorId) {
        if let Some(cluster) = self.cluster.get() {
            cluster.forget(actor);
        }
        let _ = std::fs::remove_file(self.path(actor, "json"));
        let _ = std::fs::remove_file(self.path(actor, "state"));
    }
}
