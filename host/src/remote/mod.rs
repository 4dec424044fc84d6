//! Remote actors: actors that live in another runtime, called through handles here.
//!
//! A node runs each job's driver in a process of its own, so an actor that must outlive
//! its job (Ray's detached actor) lives in the node's runtime instead, and the driver
//! reaches it through an [`ActorTransport`]. Here such an actor is an ordinary
//! [`ActorCell`](crate::actor_impl::ActorCell) — guests and the host API hold, pass,
//! call and kill it like any other — whose mailbox is served by a *proxy* loop
//! (`proxy.rs`) that resolves each call's top-level `ObjectRef` arguments, sends the
//! call, and fills the call's object with the answer. The transport is a trait so the
//! same handles can reach actors of other nodes (the cluster); `socket.rs` is the one
//! the node uses (a unix socket), `host.rs` the side that hosts the actors, and
//! `wire.rs` what travels.
//!
//! Actor handles inside values cross as the actor's id, which the receiving runtime
//! resolves ([`resolve`]: its own actor, else through its transport, which in a cluster
//! asks the directory of placed actors); a handle of an actor only this runtime knows
//! is refused before it leaves ([`RayError::ActorHandleCannotCross`]).
//!
//! `ObjectRef`s cross in a call's arguments (nested in values, or passed as themselves)
//! and in its result as their objects' addresses (`borrow.rs`, as for tasks): the
//! sending runtime makes each addressable, the node routing the call counts the node
//! hosting the actor (`ClusterActors::forward` in the node), the hosting runtime holds
//! them as objects kept where they are (an actor may keep them in its state) and counts
//! the caller's node for the references of its answer. Off a cluster (no object
//! transport) they are refused with [`RayError::ReferencesCannotCross`], and so are
//! references in a constructor's arguments (kept in the directory to run it again
//! after a loss, where an address would outlive its count). What does not cross: the
//! caller's capabilities: a remote actor runs with what its hosting runtime grants.

pub mod borrow;
mod host;
pub mod objects;
mod proxy;
mod socket;
pub mod tasks;
pub mod wire;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use host::{ActorHost, PersistedActor, RequestRouter, Routed, SnapshotStore};
pub use socket::SocketTransport;
pub use tasks::{
    Cancellation, ObjectOp, SocketTaskTransport, TaskCancel, TaskRequest, TaskResponse,
    TaskTransport,
};
pub use wire::{CreateRequest, Held, RemoteActor, Request, Response, WireError, WireValue};

use crate::actor_impl::{ActorCell, ActorId, ActorOptions};
use crate::error::{RayError, Result};
use crate::runtime::RuntimeInner;
use crate::task_impl::{Resolved, TaskArg};

/// A boxed future, as the transport's methods return.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// How a runtime reaches actors hosted by another one. Each method is one exchange;
/// calls of one handle are sent one after the other, in order.
pub trait ActorTransport: Send + Sync + std::fmt::Debug + 'static {
    /// Creates an actor there; answers once its constructor has run.
    fn create(&self, request: CreateRequest) -> Pending<'_, RemoteActor>;
    /// The live actor of that name there, if any.
    fn lookup(&self, namespace: String, name: String) -> Pending<'_, Option<RemoteActor>>;
    /// Calls a method; with `want_result` false, answers once the call is queued.
    fn call(
        &self,
        actor: ActorId,
        method: String,
        args: Vec<WireValue>,
        want_result: bool,
    ) -> Pending<'_, WireValue>;
    /// Kills it (with a restart unless `no_restart`).
    fn kill(&self, actor: ActorId, no_restart: bool) -> Pending<'_, ()>;
    /// The actor of that id there, if the transport can find actors by id (a cluster's
    /// directory); `None` by default.
    fn locate(&self, actor: ActorId) -> Pending<'_, Option<RemoteActor>> {
        let _ = actor;
        Box::pin(async { Ok(None) })
    }
}

/// The actor of id `actor`, when this runtime does not have it: asked of its remote
/// actors' transport (in a cluster, the directory of every node's actors), and made a
/// handle here. `None` if nothing has it (or this runtime has no transport).
pub async fn resolve(
    runtime: &crate::Runtime,
    actor: ActorId,
) -> Result<Option<crate::ActorHandle>> {
    Ok(resolve_cell(runtime.inner(), actor)
        .await?
        .map(crate::ActorHandle::from_cell))
}

/// [`resolve`], as the cell: this runtime's actor, else one its transport (or the
/// resolver a hosting runtime was given) finds.
pub(crate) async fn resolve_cell(
    inner: &Arc<RuntimeInner>,
    actor: ActorId,
) -> Result<Option<Arc<ActorCell>>> {
    if let Some(cell) = inner.actors.get(actor) {
        return Ok(Some(cell));
    }
    let transport = match &inner.remote_actors {
        Some(transport) => transport.clone(),
        None => match inner.resolver.get() {
            Some(transport) => transport.clone(),
            None => return Ok(None),
        },
    };
    match transport.locate(actor).await? {
        Some(remote) => proxy::attach(inner, &transport, remote).map(Some),
        None => Ok(None),
    }
}

/// A call's arguments for a remote actor, resolved (top-level `ObjectRef`s became
/// their values): references nested in them, and references passed as themselves, go
/// with their objects' addresses (`borrow.rs`). The caller keeps `resolved` until the
/// call is answered, so what it references is held until the hosting side counts it.
pub(crate) async fn wire_call_args(
    runtime: &RuntimeInner,
    resolved: &[Resolved],
    what: &str,
) -> Result<Vec<WireValue>> {
    let mut wire = Vec::with_capacity(resolved.len());
    for arg in resolved {
        let value = match arg {
            Resolved::Value(value) => value.clone(),
            Resolved::Reference(slot) => borrow::reference_value(slot),
        };
        wire.push(borrow::to_wire(runtime, &value, what, None).await?);
    }
    Ok(wire)
}

/// Resolves a constructor's arguments for a remote actor: top-level `ObjectRef`s
/// become their values; a reference passed as itself, or nested in a value, is
/// refused (see the module docs).
pub(crate) async fn wire_args(args: Vec<TaskArg>, what: &str) -> Result<Vec<WireValue>> {
    crate::task_impl::resolve(args)
        .await?
        .iter()
        .map(|arg| match arg {
            Resolved::Value(value) => WireValue::from_value(value, what),
            Resolved::Reference(_) => Err(RayError::ReferencesCannotCross {
                what: what.to_string(),
            }),
        })
        .collect()
}

/// Creates a detached actor on the runtime `transport` reaches and returns a handle to
/// it here. The class must be loaded here too (for its methods' arity); the request
/// names its module (SHA-256), so the other side creates that module's class.
pub(crate) async fn create(
    runtime: &Arc<RuntimeInner>,
    transport: &Arc<dyn ActorTransport>,
    class: &str,
    args: Vec<TaskArg>,
    options: ActorOptions,
    carried: &[Arc<ActorCell>],
) -> Result<Arc<ActorCell>> {
    // `class` may be qualified (`MODULE/Class`, as a guest's own class is): the
    // hosting side is told the module it resolved to, and creates the class of that
    // module, whatever other module defines a class of the same name.
    let info = runtime.registry.actor_class(class)?;
    info.constructor_arity
        .check(&format!("{}::new", info.name), args.len())?;
    let what = format!("{}::new", info.name);
    crate::actor_impl::check_crossable(carried, &format!("the arguments of {what}"))?;
    let args = wire_args(args, &what).await?;
    let remote = transport
        .create(CreateRequest {
            class: info.name.clone(),
            module: Some(info.component.hash().to_string()),
            args,
            name: options.name,
            namespace: options.namespace,
            max_restarts: options.max_restarts,
            max_task_retries: options.max_task_retries,
            get_if_exists: options.get_if_exists,
            max_pending_calls: options.max_pending_calls.map(|calls| calls as u64),
            snapshot_every: options.snapshot_every,
            resources: options.resources,
            node_id: options.node_id,
            detached: options.detached,
            owner: None,
            owner_node: None,
        })
        .await?;
    proxy::attach(runtime, transport, remote)
}

/// The actor named `name` in `namespace` on the runtime `transport` reaches, as a
/// handle here; `None` if there is none (or its class is not loaded here).
pub(crate) async fn lookup(
    runtime: &Arc<RuntimeInner>,
    transport: &Arc<dyn ActorTransport>,
    namespace: &str,
    name: &str,
) -> Result<Option<Arc<ActorCell>>> {
    match transport
        .lookup(namespace.to_string(), name.to_string())
        .await?
    {
        Some(remote) => proxy::attach(runtime, transport, remote).map(Some),
        None => Ok(None),
    }
}
