//! The hosting side: a runtime whose actors other runtimes create, find and call (a
//! node's detached actors), and what it keeps of them across restarts.
//!
//! [`ActorHost`] answers [`Request`]s, from [`ActorHost::serve`]'s unix socket or
//! directly. Object references in a call's arguments become objects kept where they
//! are (counted for this node by whoever routed the call); those in its result are
//! made addressable and counted for the caller's node before the answer leaves
//! (`borrow.rs`). It hosts only actors created through it (or restored): lookups and calls
//! reach nothing else of its runtime. With a [`SnapshotStore`] (the node's data dir),
//! each hosted actor of a `snapshot` class is recorded when created, its state saved
//! after construction and after calls as its snapshot policy says (before the call is
//! answered, so an answer seen is an answer kept), and forgotten when it ends for good
//! (killed, dead, exited) — not when the runtime shuts down: [`ActorHost::restore`]
//! brings it back from its record and last snapshot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::net::{UnixListener, UnixStream};

use crate::actor_impl::{ActorHandle, ActorId, ActorOptions};
use crate::error::{RayError, Result};
use crate::remote::wire::{self, CreateRequest, RemoteActor, Request, Response, WireValue};
use crate::runtime::Runtime;
use crate::task_impl::TaskArg;

/// Where a hosting runtime keeps its detached snapshot actors (the node: files in its
/// data dir). Called from the actors' mailbox loops; each call should be quick and
/// durable (write a file atomically).
pub trait SnapshotStore: Send + Sync + std::fmt::Debug + 'static {
    /// A new hosted actor to keep.
    fn record(&self, actor: &PersistedActor) -> Result<()>;
    /// Its latest state, as its class's `snapshot` encoded it; the call it follows is
    /// answered once this is done.
    fn save(&self, actor: ActorId, state: Vec<u8>) -> crate::remote::Pending<'_, ()>;
    /// It ended for good: drop its record and state.
    fn forget(&self, actor: ActorId);
}

/// What is kept of a hosted actor to bring it back: who it is and how it was created
/// (its state is the store's latest snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedActor {
    /// Its id, kept across restarts.
    pub id: ActorId,
    /// Its class.
    pub class: String,
    /// The module (component source name) the class came from: restored only from it.
    pub module: String,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Its namespace.
    pub namespace: String,
    /// Restarts after a trap.
    pub max_restarts: u32,
    /// Retries of a call that trapped.
    pub max_task_retries: u32,
    /// Calls pending beyond which a call is refused.
    pub max_pending_calls: Option<u64>,
    /// Snapshot after every this many calls.
    pub snapshot_every: u32,
}

impl PersistedActor {
    fn options(&self) -> ActorOptions {
        ActorOptions {
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            max_restarts: self.max_restarts,
            max_task_retries: self.max_task_retries,
            max_pending_calls: self
                .max_pending_calls
                .and_then(|calls| usize::try_from(calls).ok()),
            snapshot_every: self.snapshot_every,
            detached: true,
            ..ActorOptions::default()
        }
    }
}

/// What answers the requests that reach a host's socket instead of the host itself
/// (a node in a cluster: it places creations and forwards calls to other nodes).
pub trait RequestRouter: Send + Sync + std::fmt::Debug + 'static {
    /// The answer to `request`.
    fn route(&self, request: Request) -> Routed<'_>;
}

/// A routed request's answer, to come.
pub type Routed<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send + 'a>>;

/// A runtime hosting actors for other runtimes.
#[derive(Debug)]
pub struct ActorHost {
    runtime: Runtime,
    hosted: Mutex<HashMap<ActorId, ActorHandle>>,
    /// The job each hosted non-detached actor belongs to: objects of its that cross to
    /// other nodes belong to that job there too (`borrow.rs`).
    jobs: Mutex<HashMap<ActorId, String>>,
    router: std::sync::OnceLock<Arc<dyn RequestRouter>>,
}

impl ActorHost {
    /// Hosts actors in `runtime` (built with
    /// [`RuntimeBuilder::snapshot_store`](crate::RuntimeBuilder::snapshot_store) to keep them).
    pub fn new(runtime: Runtime) -> Arc<Self> {
        Arc::new(ActorHost {
            runtime,
            hosted: Mutex::default(),
            jobs: Mutex::default(),
            router: std::sync::OnceLock::new(),
        })
    }

    /// Sends what reaches the socket to `router` from now on (once; a later call is
    /// ignored).
    pub fn set_router(&self, router: Arc<dyn RequestRouter>) {
        let _ = self.router.set(router);
    }

    /// Whether it hosts `actor` (alive, or dead and not yet killed).
    pub fn hosts(&self, actor: ActorId) -> bool {
        self.hosted(actor).is_ok()
    }

    /// The module (component source name) of a hosted actor's class, and whether the
    /// class keeps snapshots.
    pub fn module_of(&self, actor: ActorId) -> Option<(String, bool)> {
        self.hosted(actor)
            .ok()
            .map(|handle| crate::actor_impl::class_module(&handle))
    }

    /// Brings back an actor whose runtime was lost, here, with the same id: from
    /// `state` (its last snapshot), or, with `None`, from its constructor run again on
    /// `args`. Its class's module must be loaded here.
    pub async fn revive(
        &self,
        actor: &PersistedActor,
        state: Option<Vec<u8>>,
        args: Vec<WireValue>,
    ) -> Result<ActorHandle> {
        let inner = self.runtime.inner();
        let args = args
            .into_iter()
            .map(|arg| TaskArg::Value(arg.into_value()))
            .collect();
        let handle = crate::actor_impl::revive(inner, actor, actor.options(), state, args).await?;
        self.keep(&handle);
        Ok(handle)
    }

    /// Resolves once hosted actor `actor` is gone for good (see
    /// [`ActorHandle::ended`]); `None` if it is not hosted here.
    pub fn ended(
        &self,
        actor: ActorId,
    ) -> Option<impl std::future::Future<Output = ()> + Send + use<>> {
        self.hosted(actor).ok().map(|handle| handle.ended())
    }

    /// The hosting runtime (to load modules into, to shut down).
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Handles to every hosted actor (alive, or dead and not yet killed).
    pub fn actors(&self) -> Vec<ActorHandle> {
        self.hosted
            .lock()
            .map(|hosted| hosted.values().cloned().collect())
            .unwrap_or_default()
    }

    fn hosted(&self, actor: ActorId) -> Result<ActorHandle> {
        self.hosted
            .lock()
            .ok()
            .and_then(|hosted| hosted.get(&actor).cloned())
            .ok_or(RayError::ActorNotFound(actor))
    }

    fn keep(&self, handle: &ActorHandle) -> bool {
        // Hosted: callers elsewhere find it by id (`Request::Locate`), so its handles
        // may cross inside values.
        handle.cell().mark_crossable();
        self.hosted
            .lock()
            .map(|mut hosted| hosted.insert(handle.id(), handle.clone()).is_none())
            .unwrap_or(false)
    }

    /// Answers one request.
    pub async fn handle(&self, request: Request) -> Response {
        match self.answer(request).await {
            Ok(response) => response,
            Err(err) => Response::Failed((&err).into()),
        }
    }

    async fn answer(&self, request: Request) -> Result<Response> {
        match request {
            Request::Create(request) => self
                .create(request)
                .await
                .map(|actor| Response::Actor(Some(actor))),
            Request::Lookup { namespace, name } => {
                let found = self
                    .runtime
                    .get_actor_in(&namespace, &name)
                    .filter(|handle| self.hosted(handle.id()).is_ok());
                Ok(Response::Actor(found.as_ref().map(remote)))
            }
            Request::Call {
                actor,
                method,
                args,
                want_result,
                caller_node,
            } => {
                let inner = self.runtime.inner();
                // First: the references it was sent are held here (counted for this
                // node), and let go when dropped, whatever happens next.
                let mut imported = Vec::with_capacity(args.len());
                for arg in args {
                    imported.push(TaskArg::Value(crate::remote::borrow::import(inner, arg)?));
                }
                let args = imported;
                let handle = self.hosted(actor)?;
                let cell = handle.cell();
                if !want_result {
                    cell.tell_args(&method, args, Vec::new());
                    return Ok(Response::Done);
                }
                let what = format!("the result of {}.{method}", handle.class());
                let slot = cell.call_slot(&method, args, Vec::new());
                let value = slot.get_value().await?;
                // Handles inside it cross as ids: only of actors others can resolve.
                crate::actor_impl::check_crossable(slot.carried(), &what)?;
                // References inside it cross as addresses, counted for the caller's
                // node while `value` still holds them here.
                let job = self
                    .jobs
                    .lock()
                    .ok()
                    .and_then(|jobs| jobs.get(&actor).cloned());
                let wire =
                    crate::remote::borrow::to_wire(inner, &value, &what, job.as_deref()).await?;
                if let Some(transport) = inner.object_transport() {
                    for address in &wire.refs {
                        transport.borrow(&address.held, caller_node.clone()).await?;
                    }
                }
                drop(value);
                Ok(Response::Value(wire))
            }
            Request::Locate { actor } => Ok(Response::Actor(
                self.hosted(actor).ok().as_ref().map(remote),
            )),
            Request::Kill { actor, no_restart } => {
                let handle = self.hosted(actor)?;
                handle.kill_with(no_restart);
                if no_restart {
                    if let Ok(mut hosted) = self.hosted.lock() {
                        hosted.remove(&actor);
                    }
                    if let Ok(mut jobs) = self.jobs.lock() {
                        jobs.remove(&actor);
                    }
                    // No longer kept, before the kill is answered (its mailbox forgets
                    // it too as it ends).
                    if let Some(store) = &self.runtime.inner().snapshots {
                        store.forget(actor);
                    }
                }
                Ok(Response::Done)
            }
        }
    }

    async fn create(&self, request: CreateRequest) -> Result<RemoteActor> {
        let job = request.owner.clone().filter(|_| !request.detached);
        let options = ActorOptions {
            name: request.name,
            namespace: request.namespace,
            max_restarts: request.max_restarts,
            max_task_retries: request.max_task_retries,
            get_if_exists: request.get_if_exists,
            max_pending_calls: request
                .max_pending_calls
                .and_then(|calls| usize::try_from(calls).ok()),
            snapshot_every: request.snapshot_every,
            detached: true,
            ..ActorOptions::default()
        };
        let args = request
            .args
            .into_iter()
            .map(|arg| TaskArg::Value(arg.into_value()))
            .collect();
        let inner = self.runtime.inner();
        // The class of the module the caller resolved it from (see `CreateRequest`).
        let class = match &request.module {
            Some(module) => format!("{module}/{}", request.class),
            None => request.class.clone(),
        };
        let handle =
            crate::actor_impl::create(inner, &class, args, options.clone(), None, Vec::new())
                .await?;
        if let Some(job) = job
            && let Ok(mut jobs) = self.jobs.lock()
        {
            jobs.entry(handle.id()).or_insert(job);
        }
        if self.keep(&handle)
            && let Some(store) = &inner.snapshots
            && let Some(module) = crate::actor_impl::snapshot_module(&handle)
        {
            let (namespace, name) = match handle.name() {
                Some((namespace, name)) => (namespace.to_string(), Some(name.to_string())),
                None => (options.namespace.clone(), None),
            };
            let record = PersistedActor {
                id: handle.id(),
                class: handle.class().to_string(),
                module,
                name,
                namespace,
                max_restarts: options.max_restarts,
                max_task_retries: options.max_task_retries,
                max_pending_calls: options.max_pending_calls.map(|calls| calls as u64),
                snapshot_every: options.snapshot_every,
            };
            if let Err(err) = store.record(&record) {
                tracing::warn!(actor = %handle.id(), "could not record a detached actor: {err}");
            }
        }
        Ok(remote(&handle))
    }

    /// Brings back a kept actor from its record and last snapshot (same id, name,
    /// namespace and class), if its module is loaded here.
    pub async fn restore(&self, actor: &PersistedActor, state: Vec<u8>) -> Result<ActorHandle> {
        let inner = self.runtime.inner();
        let handle = crate::actor_impl::restore(inner, actor, actor.options(), state).await?;
        self.keep(&handle);
        Ok(handle)
    }

    /// Serves requests from `listener` until the runtime shuts down: one task per
    /// connection, answering its requests in order.
    pub async fn serve(self: Arc<Self>, listener: UnixListener) {
        loop {
            let accepted = tokio::select! {
                _ = self.runtime.inner().abort.raised() => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(self.clone().connection(stream));
                }
                Err(err) => {
                    tracing::warn!("accepting a connection to the detached actors: {err}");
                }
            }
        }
    }

    async fn connection(self: Arc<Self>, mut stream: UnixStream) {
        // A frame that does not decode ends the connection; nothing else does.
        while let Ok(Some(request)) = wire::read_frame::<Request>(&mut stream).await {
            let response = match self.router.get() {
                Some(router) => router.route(request).await,
                None => self.handle(request).await,
            };
            if wire::write_frame(&mut stream, &response).await.is_err() {
                return;
            }
        }
    }
}

/// What a caller is told of a hosted actor.
fn remote(handle: &ActorHandle) -> RemoteActor {
    RemoteActor {
        id: handle.id(),
        class: handle.class().to_string(),
        module: Some(crate::actor_impl::class_hash(handle)),
        name: handle
            .name()
            .map(|(namespace, name)| (namespace.to_string(), name.to_string())),
    }
}
