//! Actors: one persistent component instance per actor, driven by its mailbox.
//!
//! An actor is a tokio task (the *mailbox loop*) that owns the actor's `Store` and
//! instance — whose linear memory is the actor's state — and takes calls from an
//! unbounded channel one at a time, in the order they were sent (Ray's default).
//! Different actors are different tasks, so they run in parallel on the worker
//! threads, and an actor blocked in `get` suspends only its own fiber.
//!
//! References: every [`ActorHandle`] (host) and `actor-handle` resource (guest) holds
//! an `Arc` of the actor's [`ActorCell`], and the cell holds the mailbox's only
//! sender. When the last handle goes (and no name pins the actor in the directory),
//! the channel closes, the loop finishes the calls already queued, runs `on_stop`,
//! and drops the instance: unreferenced actors are reclaimed.
//!
//! Failures: an application error fails that call only. A trap kills the instance;
//! with restarts left the actor comes back — from its last snapshot when the class
//! has `#[rustyray::actor(snapshot)]`, else from its constructor — and the call that
//! trapped is retried up to `max_task_retries` times, else fails with
//! [`RayError::ActorDied`]. Without restarts left the actor is dead and every call,
//! queued or later, fails with `ActorDied` naming the cause. Whatever ends an actor
//! (kill, stop, runtime shutdown), every call it was sent gets an answer.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use wasmtime::Store;

use crate::args::IntoArgs;
use crate::bindings::{InvokeError, TaskCtx, TaskModule};
use crate::codec::{self, Value};
use crate::component::{
    LoadedComponent, call_error, guest_args, instantiate_error, new_store, refuel,
};
use crate::error::TrapContext;
use crate::error::{RayError, Result};
use crate::id::Id;
use crate::limits::Limits;
use crate::object_ref::ObjectRef;
use crate::object_store::{Encoding, ObjectStore, Slot};
use crate::output::{OutputCapture, Source, TaskOutput};
use crate::runtime::RuntimeInner;
use crate::sandbox::Capabilities;
use crate::signal::Signal;
use crate::task_impl::{Resolved, TaskArg, resolve};

#[path = "actor_concurrent.rs"]
pub(crate) mod concurrent;

/// The id of an actor: node-qualified and random (see [`Id`]). It is what a handle
/// serializes as inside a value, and it cannot be guessed from another id.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ActorId(pub Id);

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "actor#{}", self.0)
    }
}

/// How an actor is created.
#[derive(Debug, Clone, PartialEq)]
pub struct ActorOptions {
    /// Register the actor under this name, so [`Runtime::get_actor`](crate::Runtime::get_actor) finds it.
    pub name: Option<String>,
    /// The namespace of `name` (default: `"default"`).
    pub namespace: String,
    /// Restarts after a trap before the actor is dead for good (default 0).
    pub max_restarts: u32,
    /// Times the call that trapped is retried on the restarted actor (default 0).
    pub max_task_retries: u32,
    /// With a name taken: return the existing actor instead of failing.
    pub get_if_exists: bool,
    /// For classes with snapshots: snapshot after every this many calls (default 1).
    pub snapshot_every: u32,
    /// Deadline of each call; `None` takes the runtime's default timeout. A call past
    /// it fails with [`RayError::Timeout`] and the interrupted instance is replaced
    /// as after a trap (restarted if restarts are left, else the actor is dead).
    pub call_timeout: Option<Duration>,
    /// Limits of the actor's instance over the runtime's defaults; fuel, result size
    /// and output are per call.
    pub limits: Limits,
    /// What the actor may touch, instead of the runtime's default capabilities.
    pub capabilities: Option<Arc<Capabilities>>,
    /// Calls sent and not yet answered beyond which a new call fails at once with
    /// [`RayError::PendingCallsLimitExceeded`] (Ray's `max_pending_calls`); `None`:
    /// unbounded (the default).
    pub max_pending_calls: Option<usize>,
    /// Calls that run at once, interleaving in the actor's one instance (Ray's
    /// `max_concurrency`): its methods that can interleave (Rust guests: `async fn`
    /// taking `&self`) run together, up to this many, each suspended at its
    /// `get_async` while the others go on; its other methods run alone. Default 1: one
    /// call at a time, in order. Refused with [`RayError::InvalidOptions`]: 0, more than
    /// [`MAX_CONCURRENCY`], a snapshot class, a class with no method that can interleave.
    pub max_concurrency: u32,
    /// Custom resources it needs (Ray's `resources={"gpu": 1}`): in a cluster, it is
    /// placed on a live node that has them (`rustyray start --resources`) and holds
    /// them there for its lifetime (its creation waits until they are free). Only a
    /// job's driver on a node can place actors; elsewhere a request is refused.
    pub resources: std::collections::BTreeMap<String, f64>,
    /// Place it on this node (Ray's `NodeAffinitySchedulingStrategy`, hard): a node id
    /// of `rustyray list nodes`.
    pub node_id: Option<String>,
    /// Outlive the program that created it (Ray's `lifetime="detached"`). An actor a
    /// guest program creates (directly or through its tasks) stops when that program
    /// ends, unless detached. Actors created through the host API belong to no
    /// program: they live until killed or the runtime shuts down.
    pub detached: bool,
}

impl Default for ActorOptions {
    fn default() -> Self {
        ActorOptions {
            name: None,
            namespace: DEFAULT_NAMESPACE.to_string(),
            max_restarts: 0,
            max_task_retries: 0,
            get_if_exists: false,
            snapshot_every: 1,
            call_timeout: None,
            limits: Limits::default(),
            capabilities: None,
            max_pending_calls: None,
            max_concurrency: 1,
            resources: std::collections::BTreeMap::new(),
            node_id: None,
            detached: false,
        }
    }
}

impl ActorOptions {
    /// Whether it asks where to run (resources or a node): such an actor is placed by
    /// the node (a job's driver sends it there), never created in this runtime.
    pub fn placed(&self) -> bool {
        !self.resources.is_empty() || self.node_id.is_some()
    }

    /// Refuses placement options that cannot be met: bad amounts, or no node to place
    /// the actor (a runtime without remote actors).
    pub(crate) fn check_placement(&self, remote: bool) -> Result<()> {
        check_placement("actor", &self.resources, self.node_id.as_deref(), remote)
    }
}

/// Refuses placement options (of an actor or a task, `what`) that cannot be met: bad
/// amounts or names, or no node to place it (`remote`: the runtime has one).
pub(crate) fn check_placement(
    what: &str,
    resources: &std::collections::BTreeMap<String, f64>,
    node_id: Option<&str>,
    remote: bool,
) -> Result<()> {
    for (name, amount) in resources {
        crate::limits::check_name("resource name", name)?;
        if !amount.is_finite() || *amount < 0.0 {
            return Err(RayError::InvalidOptions(format!(
                "resource {name:?}: the amount must be a number, 0 or more (got {amount})"
            )));
        }
    }
    if let Some(node) = node_id {
        crate::limits::check_name("node id", node)?;
    }
    if (!resources.is_empty() || node_id.is_some()) && !remote {
        return Err(RayError::InvalidOptions(format!(
            "this {what} asks for {} but this runtime is not a job on a node{}: resources \
             and node affinity are met by a node's placement (`rustyray job submit` to a \
             node started with `--resources`{})",
            if resources.is_empty() {
                "a node".to_string()
            } else {
                format!("resources {resources:?}")
            },
            if what == "task" { " of a cluster" } else { "" },
            if what == "task" {
                " and `--cluster`"
            } else {
                ""
            },
        )));
    }
    Ok(())
}

/// The namespace of actors created without one.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The largest `max_concurrency` (Ray's default for async actors): each call in flight
/// holds its arguments and a guest task.
pub const MAX_CONCURRENCY: u32 = 1000;

/// How long `on_stop` may run, at most (less when the actor's call deadline is shorter).
const ON_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// An actor class of a loaded component.
#[derive(Debug)]
pub(crate) struct ActorClass {
    pub(crate) name: String,
    pub(crate) component: Arc<LoadedComponent>,
    pub(crate) snapshot: bool,
    /// How many arguments the constructor takes.
    pub(crate) constructor_arity: crate::component::Arity,
    /// Each remote method and how many arguments it takes.
    pub(crate) methods: Vec<(String, crate::component::Arity)>,
    /// The methods that may interleave when `max_concurrency` > 1.
    pub(crate) concurrent_methods: Vec<String>,
}

impl ActorClass {
    /// Refuses a call of a method the class does not have, or with another argument
    /// count (Ray's `AttributeError` / `TypeError` at `.remote()`).
    pub(crate) fn check_call(&self, method: &str, got: usize) -> Result<()> {
        match self.methods.iter().find(|(name, _)| name == method) {
            Some((_, arity)) => {
                if arity.min as usize <= got && arity.max.is_none_or(|max| got <= max as usize) {
                    Ok(())
                } else {
                    arity.check(&format!("{}.{method}", self.name), got)
                }
            }
            None => Err(RayError::FunctionNotFound(format!(
                "{}.{method} (the class has no such method)",
                self.name
            ))),
        }
    }
}

/// What a mailbox receives (a remote actor's proxy loop too, `remote/proxy.rs`).
pub(crate) enum Message {
    Call {
        method: String,
        args: Vec<TaskArg>,
        output: CallOutput,
    },
    Stop,
}

/// Where a call's result goes (`None` for a tell). Dropped unanswered — the actor
/// ended with the call still queued — it answers `ActorDied`, so nothing hangs.
pub(crate) struct CallOutput {
    slot: Option<Arc<Slot>>,
    actor: ActorId,
    class: String,
    /// The call's cancel: a call cancelled while queued never runs.
    control: Arc<crate::task_impl::TaskControl>,
    /// The actor's count of calls sent and not answered; this call leaves it on drop.
    pending: Arc<AtomicUsize>,
    /// Host memory charged for the call while it is queued and running.
    _held: Option<crate::budget::Held>,
    /// The actors whose handles its arguments hold serialized: alive while it is.
    carried: Box<[Arc<ActorCell>]>,
    /// Its record for the state API (Ray's `ACTOR_TASK`); `None` where the actor runs
    /// in another runtime, which records the call itself.
    record: Option<Arc<crate::state::TaskRecord>>,
}

impl CallOutput {
    /// Attaches what the call printed to its result object.
    fn set_output(&self, printed: Option<TaskOutput>) {
        if let (Some(slot), Some(printed)) = (&self.slot, printed) {
            slot.set_output(printed);
        }
    }

    /// The actors whose handles the call's arguments hold.
    pub(crate) fn carried(&self) -> &[Arc<ActorCell>] {
        &self.carried
    }

    /// Keeps `actors` (handles inside the result) alive with the result object.
    fn carry(&self, actors: Vec<Arc<ActorCell>>) {
        if let Some(slot) = &self.slot {
            slot.carry(actors);
        }
    }

    /// The actor's class.
    pub(crate) fn class(&self) -> &str {
        &self.class
    }

    /// The call's cancel.
    pub(crate) fn control(&self) -> &Arc<crate::task_impl::TaskControl> {
        &self.control
    }

    /// Whether the caller wants the result (not a tell).
    pub(crate) fn wants_result(&self) -> bool {
        self.slot.is_some()
    }

    /// The call starts running, unless it was cancelled while queued (`false`: it was
    /// answered `Cancelled` and must not run).
    pub(crate) fn start(&self) -> bool {
        if !self.control.start_call() {
            return false;
        }
        if let Some(record) = &self.record {
            record.set(crate::state::TaskState::Running);
        }
        true
    }

    /// The call runs again on a restarted instance.
    fn retried(&self) {
        if let Some(record) = &self.record {
            record.retried();
        }
    }

    pub(crate) fn complete(mut self, outcome: Result<Value>) {
        if let Some(record) = &self.record {
            record.end_with(Some(outcome.as_ref().map(|_| ())));
        }
        if let Some(slot) = self.slot.take() {
            let _ = crate::refs::fill(&slot, outcome);
        }
    }

    pub(crate) fn died(&self, reason: &str) -> RayError {
        RayError::ActorDied {
            actor: self.actor,
            class: self.class.clone(),
            reason: reason.to_string(),
        }
    }
}

impl Drop for CallOutput {
    fn drop(&mut self) {
        self.pending.fetch_sub(1, Ordering::AcqRel);
        const UNANSWERED: &str = "the actor stopped before running this call";
        if let Some(record) = self.record.take()
            && !record.is_ended()
        {
            // Answered already (cancelled while queued), or about to be, below.
            match self.slot.as_ref().and_then(|slot| slot.try_get()) {
                Some(outcome) => record.end_with(Some(outcome.as_ref().map(|_| ()))),
                None if self.control.is_cancelled() => {
                    record.end_with(Some(Err(&RayError::Cancelled)));
                }
                None => record.end_with(Some(Err(&self.died(UNANSWERED)))),
            }
        }
        if let Some(slot) = self.slot.take() {
            let _ = slot.complete(Err(self.died(UNANSWERED)));
        }
    }
}

/// One actor as its handles see it.
pub(crate) struct ActorCell {
    id: ActorId,
    class: String,
    /// The class's methods, to refuse an unknown one or a wrong count at the call.
    class_info: Arc<ActorClass>,
    name: Option<(String, String)>,
    /// Filled once the constructor has run (empty) or failed (its error).
    ready: Arc<Slot>,
    mailbox: crate::mailbox::Sender<Message>,
    kill: Arc<Signal>,
    /// A kill that asks for a restart (Ray's `kill(no_restart=False)`): one pending
    /// request at most.
    restart: Arc<tokio::sync::Notify>,
    objects: ObjectStore,
    directory: Arc<ActorDirectory>,
    /// Calls sent and not yet answered, and the most allowed (`max_pending_calls`).
    pending: Arc<AtomicUsize>,
    max_pending: Option<usize>,
    /// Where its calls are recorded (`None` for a proxy: the hosting runtime records
    /// them).
    state: Option<Arc<crate::state::StateTables>>,
    /// Whether another runtime can resolve its id (`remote::resolve`): a proxy's actor
    /// lives where others find it, and a hosting runtime marks the actors it hosts.
    /// A handle inside a value sent to another runtime must be of such an actor.
    crossable: AtomicBool,
    /// Raised when its mailbox loop (a proxy's: its proxy loop) has ended: the actor
    /// is gone for good, whatever ended it ([`ActorHandle::ended`]).
    ended: Arc<Signal>,
}

impl fmt::Debug for ActorCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorCell")
            .field("id", &self.id)
            .field("class", &self.class)
            .finish()
    }
}

impl Drop for ActorCell {
    fn drop(&mut self) {
        if let Ok(mut by_id) = self.directory.by_id.lock() {
            by_id.remove(&self.id);
        }
    }
}

impl ActorCell {
    /// Whether this is a handle to an actor another runtime hosts (served by a proxy
    /// loop here).
    pub(crate) fn is_proxy(&self) -> bool {
        self.state.is_none()
    }

    fn send(
        &self,
        method: &str,
        args: Result<Vec<TaskArg>>,
        want_result: bool,
        carried: Vec<Arc<ActorCell>>,
    ) -> Arc<Slot> {
        // An unknown method or a wrong argument count is answered at once, never sent.
        let args = args.and_then(|args| {
            self.class_info.check_call(method, args.len())?;
            Ok(args)
        });
        let slot = self.objects.new_slot();
        let control = Arc::new(crate::task_impl::TaskControl::queued_call());
        slot.set_producer(&control);
        let before = self.pending.fetch_add(1, Ordering::AcqRel);
        // The method's name and by-value arguments are held until the call runs.
        let held = match &args {
            Ok(args) => crate::limits::check_name("method", method).and_then(|()| {
                crate::task_impl::hold_queued(
                    self.objects.host_memory(),
                    method.len(),
                    || format!("calling {}.{method}", self.class),
                    args,
                )
                .map(Some)
            }),
            Err(_) => Ok(None),
        };
        let (held, args) = match held {
            Ok(held) => (held, args),
            Err(err) => (None, Err(err)),
        };
        let output = CallOutput {
            slot: want_result.then(|| slot.clone()),
            actor: self.id,
            class: self.class.clone(),
            control,
            pending: self.pending.clone(),
            _held: held,
            carried: carried.into_boxed_slice(),
            record: self.state.as_ref().map(|state| {
                state.actor_call(&self.class, method, slot.id(), want_result.then_some(&slot))
            }),
        };
        if let Some(limit) = self.max_pending
            && before >= limit
        {
            let err = RayError::PendingCallsLimitExceeded {
                actor: self.id,
                class: self.class.clone(),
                limit,
            };
            // A `tell` has no result to carry the error: it is dropped, as its errors are.
            let _ = slot.complete(Err(err));
            drop(output);
            return slot;
        }
        match args {
            Ok(args) => {
                // A closed mailbox hands the message back; dropping it answers `ActorDied`.
                let _ = self.mailbox.send(Message::Call {
                    method: method.to_string(),
                    args,
                    output,
                });
            }
            Err(err) => output.complete(Err(err)),
        }
        if !want_result {
            let _ = slot.complete(Ok((Bytes::from_static(codec::UNIT), Encoding::Msgpack)));
        }
        slot
    }

    /// A guest's call; `carried`: the actors whose handles `args` hold serialized.
    pub(crate) fn call_slot(
        &self,
        method: &str,
        args: Vec<TaskArg>,
        carried: Vec<Arc<ActorCell>>,
    ) -> Arc<Slot> {
        self.send(method, Ok(args), true, carried)
    }

    pub(crate) fn tell_args(&self, method: &str, args: Vec<TaskArg>, carried: Vec<Arc<ActorCell>>) {
        self.send(method, Ok(args), false, carried);
    }

    /// Kills the actor; its name is free again at once (Ray frees a killed actor's
    /// name before `kill` returns), not when its mailbox loop has wound down.
    pub(crate) fn kill(&self) {
        self.kill.raise();
        self.directory.unpin(self.id, &self.name);
    }

    /// Kills the running instance and restarts the actor, if it has restarts left
    /// (else it ends as after [`ActorCell::kill`]).
    pub(crate) fn kill_and_restart(&self) {
        self.restart.notify_one();
    }

    pub(crate) fn id(&self) -> ActorId {
        self.id
    }

    /// Marks the actor as reachable from other runtimes (a hosting runtime's actor).
    pub(crate) fn mark_crossable(&self) {
        self.crossable.store(true, Ordering::Release);
    }
}

/// Refuses `carried` (handles inside a value `what` that is about to leave this
/// runtime) if one of them is of an actor no other runtime can resolve.
pub(crate) fn check_crossable(carried: &[Arc<ActorCell>], what: &str) -> Result<()> {
    match carried
        .iter()
        .find(|cell| !cell.crossable.load(Ordering::Acquire))
    {
        Some(cell) => Err(RayError::ActorHandleCannotCross {
            what: what.to_string(),
            actor: cell.id,
            class: cell.class.clone(),
        }),
        None => Ok(()),
    }
}

/// A handle to an actor: call its methods, kill it. Cloning adds a reference; an
/// unnamed actor whose last handle is dropped finishes its queued calls and stops.
#[derive(Debug, Clone)]
pub struct ActorHandle {
    cell: Arc<ActorCell>,
}

impl ActorHandle {
    pub(crate) fn from_cell(cell: Arc<ActorCell>) -> Self {
        ActorHandle { cell }
    }

    pub(crate) fn cell(&self) -> &Arc<ActorCell> {
        &self.cell
    }

    /// The actor's id.
    pub fn id(&self) -> ActorId {
        self.cell.id
    }

    /// Its class.
    pub fn class(&self) -> &str {
        &self.cell.class
    }

    /// Its name and namespace, if it has one.
    pub fn name(&self) -> Option<(&str, &str)> {
        self.cell
            .name
            .as_ref()
            .map(|(namespace, name)| (namespace.as_str(), name.as_str()))
    }

    /// Calls `method` with `args` (a tuple of values, or [`Args`](crate::Args)); the
    /// result arrives in the returned object. Calls run in the order they are made.
    pub fn call<T>(&self, method: &str, args: impl IntoArgs) -> ObjectRef<T> {
        ObjectRef::from_slot(self.cell.send(
            method,
            args.into_args().into_parts(),
            true,
            Vec::new(),
        ))
    }

    /// [`call`](Self::call), refusing at once, before anything is sent, a method the
    /// class does not have ([`RayError::FunctionNotFound`]), a wrong argument count
    /// ([`RayError::BadArguments`]; Ray's `AttributeError` / `TypeError` at `.remote()`)
    /// and arguments that did not encode. (`call` puts the same refusal in its object.)
    pub fn try_call<T>(&self, method: &str, args: impl IntoArgs) -> Result<ObjectRef<T>> {
        let args = args.into_args().into_parts()?;
        crate::limits::check_name("method", method)?;
        self.cell.class_info.check_call(method, args.len())?;
        Ok(ObjectRef::from_slot(self.cell.send(
            method,
            Ok(args),
            true,
            Vec::new(),
        )))
    }

    /// Calls a method whose result is a tuple of `num_returns` values (Ray's
    /// `num_returns` for actor methods): one object per element, 0 allowed. A result of
    /// another length fails every one of them, as does a failed call. Objects of
    /// different types: [`ObjectRef::cast`] each. More than
    /// [`MAX_NUM_RETURNS`](crate::refs::MAX_NUM_RETURNS) gives one object holding
    /// [`RayError::InvalidArgument`].
    pub fn call_returns<T>(
        &self,
        method: &str,
        args: impl IntoArgs,
        num_returns: usize,
    ) -> Vec<ObjectRef<T>> {
        if let Err(err) = crate::refs::check_num_returns(num_returns) {
            // One object holding the refusal (there is no `Result` to carry it).
            let refused = self.cell.objects.new_slot();
            let _ = refused.complete(Err(err));
            return vec![ObjectRef::from_slot(refused)];
        }
        let whole = self
            .cell
            .send(method, args.into_args().into_parts(), true, Vec::new());
        crate::task_impl::split_returns(&self.cell.objects, None, whole, num_returns)
            .into_iter()
            .map(ObjectRef::from_slot)
            .collect()
    }

    /// Calls `method` and forgets the result (fire-and-forget).
    pub fn tell(&self, method: &str, args: impl IntoArgs) {
        self.cell
            .send(method, args.into_args().into_parts(), false, Vec::new());
    }

    /// Waits until the actor's constructor has run: `Ok`, or the constructor's error.
    pub async fn ready(&self) -> Result<()> {
        match self.cell.ready.ready_soon().await {
            Ok(_) => Ok(()),
            Err(err) => Err(err.clone()),
        }
    }

    /// Stops the actor now: a running call is interrupted, queued calls fail with
    /// [`RayError::ActorDied`], `on_stop` is not run, there is no restart.
    pub fn kill(&self) {
        self.cell.kill();
    }

    /// Ray's `kill(actor, no_restart=...)`: with `no_restart` as [`ActorHandle::kill`];
    /// without, the running instance is killed (a running call fails with
    /// [`RayError::ActorDied`]) and the actor restarts as after a crash — from its last
    /// snapshot, or its constructor — if it has restarts left, using one; with none
    /// left it ends as after `kill`. Calls queued behind it run on the new instance.
    pub fn kill_with(&self, no_restart: bool) {
        if no_restart {
            self.cell.kill();
        } else {
            self.cell.kill_and_restart();
        }
    }

    /// Stops the actor after the calls already sent: then `on_stop` runs and the
    /// instance is dropped. Later calls fail with [`RayError::ActorDied`].
    pub fn stop(&self) {
        let _ = self.cell.mailbox.send(Message::Stop);
    }

    /// Resolves once the actor is gone for good — killed, stopped, exited, dead after
    /// its last restart, or its runtime shut down — not while it restarts. For a
    /// handle of an actor another runtime hosts: once its proxy here has ended.
    pub fn ended(&self) -> impl std::future::Future<Output = ()> + Send + use<> {
        let ended = self.cell.ended.clone();
        async move { ended.raised().await }
    }
}

/// Every live actor, by id and by name.
#[derive(Debug)]
pub(crate) struct ActorDirectory {
    /// The node number ids are qualified with.
    pub(crate) node: u64,
    by_id: Mutex<HashMap<ActorId, Weak<ActorCell>>>,
    /// Named actors are pinned here: a name keeps its actor alive until it stops.
    by_name: Mutex<HashMap<(String, String), Arc<ActorCell>>>,
}

impl ActorDirectory {
    pub(crate) fn new(node: u64) -> Self {
        ActorDirectory {
            node,
            by_id: Mutex::default(),
            by_name: Mutex::default(),
        }
    }

    /// The live actor of that id, if there is one. Unknown, forged and dead ids alike
    /// find nothing.
    pub(crate) fn get(&self, id: ActorId) -> Option<Arc<ActorCell>> {
        self.by_id.lock().ok()?.get(&id)?.upgrade()
    }

    pub(crate) fn named(&self, namespace: &str, name: &str) -> Option<Arc<ActorCell>> {
        self.by_name
            .lock()
            .ok()?
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    pub(crate) fn live(&self) -> usize {
        self.by_id.lock().map_or(0, |by_id| by_id.len())
    }

    /// Asks every actor to stop after its queued calls (runtime shutdown).
    pub(crate) fn stop_all(&self) {
        let cells: Vec<Arc<ActorCell>> = match self.by_id.lock() {
            Ok(by_id) => by_id.values().filter_map(Weak::upgrade).collect(),
            Err(_) => return,
        };
        for cell in cells {
            let _ = cell.mailbox.send(Message::Stop);
        }
    }

    fn unpin(&self, id: ActorId, name: &Option<(String, String)>) {
        let Some(key) = name else { return };
        if let Ok(mut by_name) = self.by_name.lock()
            && by_name.get(key).is_some_and(|cell| cell.id == id)
        {
            by_name.remove(key);
        }
    }
}

/// Refuses a `max_concurrency` out of range (the class is checked once found).
fn check_concurrency_option(options: &ActorOptions) -> Result<()> {
    match options.max_concurrency {
        0 => Err(RayError::InvalidOptions(
            "max_concurrency must be at least 1 (1, the default, runs one call at a time)".into(),
        )),
        calls if calls > MAX_CONCURRENCY => Err(RayError::InvalidOptions(format!(
            "max_concurrency {calls} is above the bound of {MAX_CONCURRENCY} calls in flight"
        ))),
        _ => Ok(()),
    }
}

/// Creates an actor of `class` and waits for its constructor. If this future is
/// dropped before the constructor has answered (the creating task timed out or was
/// cancelled), the actor is killed: a constructor never outlives its creator's wait.
pub(crate) async fn create(
    runtime: &Arc<RuntimeInner>,
    class: &str,
    args: Vec<TaskArg>,
    options: ActorOptions,
    scope: Option<Arc<Signal>>,
    carried: Vec<Arc<ActorCell>>,
) -> Result<ActorHandle> {
    /// Kills the actor unless disarmed.
    struct KillUnlessReady(Option<Arc<ActorCell>>);
    impl Drop for KillUnlessReady {
        fn drop(&mut self) {
            if let Some(cell) = self.0.take() {
                cell.kill();
            }
        }
    }
    options.check_placement(runtime.remote_actors.is_some())?;
    check_concurrency_option(&options)?;
    // A detached actor of a job's driver lives in the node's runtime (`remote/`), and
    // so does one that asks where to run (the node places it, in a cluster on any node).
    if (options.detached || options.placed())
        && let Some(transport) = &runtime.remote_actors
    {
        if options.max_concurrency > 1 {
            return Err(RayError::InvalidOptions(
                "max_concurrency > 1 is not carried to a detached or placed actor of a job on \
                 a node yet: its calls would run one at a time"
                    .into(),
            ));
        }
        let cell =
            crate::remote::create(runtime, transport, class, args, options, &carried).await?;
        return Ok(ActorHandle::from_cell(cell));
    }
    let handle = spawn(runtime, class, args, options, scope, carried)?;
    let mut guard = KillUnlessReady(Some(handle.cell.clone()));
    // Not `ActorHandle::ready`: this also runs for guests, on a worker thread, where
    // the host API's brief spin would only delay the constructor it waits for.
    let ready = handle.cell.ready.ready().await;
    guard.0 = None;
    match ready {
        Ok(_) => Ok(handle),
        Err(err) => {
            handle
                .cell
                .directory
                .unpin(handle.cell.id, &handle.cell.name);
            Err(err.clone())
        }
    }
}

/// Creates an actor of `class` without waiting for its constructor (Ray's
/// `Actor.remote()`): calls queue until it has run; if it fails, they fail with
/// [`RayError::ActorDied`] naming the constructor's error, as does
/// [`ActorHandle::ready`]. `scope` is the program creating it: unless the actor is
/// detached, it stops when that program ends.
pub(crate) fn spawn(
    runtime: &Arc<RuntimeInner>,
    class: &str,
    args: Vec<TaskArg>,
    options: ActorOptions,
    scope: Option<Arc<Signal>>,
    carried: Vec<Arc<ActorCell>>,
) -> Result<ActorHandle> {
    spawn_with(runtime, class, args, options, scope, carried, None)
}

/// A kept actor to bring back: its id and last snapshot (`remote/host.rs`).
struct Revival {
    id: ActorId,
    /// Its last snapshot; `None`: it runs its constructor again (same id).
    state: Option<Vec<u8>>,
}

/// [`spawn`], or with `revival` the actor of that id from its snapshot (no constructor).
fn spawn_with(
    runtime: &Arc<RuntimeInner>,
    class: &str,
    args: Vec<TaskArg>,
    options: ActorOptions,
    scope: Option<Arc<Signal>>,
    carried: Vec<Arc<ActorCell>>,
    revival: Option<Revival>,
) -> Result<ActorHandle> {
    if runtime.is_closed() {
        return Err(RayError::ShutDown);
    }
    // Placed actors are created through `create` (a node places them), not here.
    options.check_placement(false)?;
    crate::limits::check_name("actor class", class)?;
    crate::limits::check_name("namespace", &options.namespace)?;
    // Ray's own checks: `ValueError` for an empty name, or `get_if_exists` without one.
    match &options.name {
        Some(name) if name.is_empty() => {
            return Err(RayError::InvalidOptions(
                "an actor name cannot be empty".into(),
            ));
        }
        Some(name) => crate::limits::check_name("actor name", name)?,
        None if options.get_if_exists => {
            return Err(RayError::InvalidOptions(
                "get_if_exists needs a name: it returns the actor of that name".into(),
            ));
        }
        None => {}
    }
    // A bound of 0 would refuse every call: an actor no one could use.
    if options.max_pending_calls == Some(0) {
        return Err(RayError::InvalidOptions(
            "max_pending_calls must be at least 1 (leave it unset for no bound)".into(),
        ));
    }
    check_concurrency_option(&options)?;
    // Ray's: `max_task_retries` needs restarts to retry on.
    if options.max_task_retries > 0 && options.max_restarts == 0 {
        return Err(RayError::InvalidOptions(
            "max_task_retries cannot be set without max_restarts: calls are retried on a \
             restarted actor"
                .into(),
        ));
    }
    let class = runtime.registry.actor_class(class)?;
    concurrent::check_class(&class, options.max_concurrency)?;
    // A wrong argument count fails the creation itself, before any instance (a
    // revived actor runs no constructor).
    if revival
        .as_ref()
        .is_none_or(|revival| revival.state.is_none())
    {
        class
            .constructor_arity
            .check(&format!("{}::new", class.name), args.len())?;
    }
    // Counted for the actor's whole life, apart from tasks (`--max-actors`).
    let counted = runtime
        .instances
        .enter(crate::budget::InstanceKind::Actor, &class.name)?;
    let directory = runtime.actors.clone();
    let name = options
        .name
        .clone()
        .map(|name| (options.namespace.clone(), name));
    let id = match &revival {
        Some(revival) => {
            if directory.get(revival.id).is_some() {
                return Err(RayError::InvalidOptions(format!(
                    "{} is alive already",
                    revival.id
                )));
            }
            revival.id
        }
        None => ActorId(Id::random(directory.node)),
    };
    let (sender, receiver) = crate::mailbox::channel();
    let kill = Arc::new(Signal::default());
    let restart = Arc::new(tokio::sync::Notify::new());
    let ended = Arc::new(Signal::default());
    let ready = runtime.objects.new_slot();
    let cell = Arc::new(ActorCell {
        id,
        class: class.name.clone(),
        class_info: class.clone(),
        name: name.clone(),
        ready: ready.clone(),
        mailbox: sender,
        kill: kill.clone(),
        restart: restart.clone(),
        objects: runtime.objects.clone(),
        directory: directory.clone(),
        pending: Arc::new(AtomicUsize::new(0)),
        max_pending: options.max_pending_calls,
        state: Some(runtime.state.clone()),
        crossable: AtomicBool::new(false),
        ended: ended.clone(),
    });
    if let Some(key) = &name {
        let mut by_name = directory
            .by_name
            .lock()
            .map_err(|_| RayError::Internal("actor directory poisoned".into()))?;
        if let Some(existing) = by_name.get(key) {
            if options.get_if_exists {
                return Ok(ActorHandle::from_cell(existing.clone()));
            }
            return Err(RayError::ActorNameTaken {
                namespace: key.0.clone(),
                name: key.1.clone(),
            });
        }
        by_name.insert(key.clone(), cell.clone());
    }
    if let Ok(mut by_id) = directory.by_id.lock() {
        by_id.insert(id, Arc::downgrade(&cell));
    }
    let record = runtime
        .state
        .actor(id, &class.name, name.clone(), options.detached);
    let scope = if options.detached { None } else { scope };
    // A hosted detached actor of a snapshot class is kept (`remote/host.rs`).
    let persist = if options.detached && class.snapshot {
        runtime.snapshots.clone()
    } else {
        None
    };
    let mailbox = Mailbox {
        persist,
        revival: revival.and_then(|revival| revival.state),
        runtime: runtime.clone(),
        id,
        class,
        options,
        name,
        kill,
        restart,
        scope,
        receiver,
        record,
        _counted: counted,
        _carried: carried,
        _ended: crate::signal::RaiseOnDrop(ended),
    };
    runtime.spawn_tracked(mailbox.run(args, ready));
    Ok(ActorHandle::from_cell(cell))
}

/// An actor's last snapshot: its state as the guest encoded it, and the objects the
/// references inside it name, kept alive with it and handed back on a restore.
struct Snapshot {
    state: Vec<u8>,
    refs: crate::refs::Contained,
}

/// The receiving end of a remote actor's cell, for its proxy loop (`remote/proxy.rs`).
pub(crate) struct ProxyParts {
    pub(crate) receiver: crate::mailbox::Receiver<Message>,
    pub(crate) kill: Arc<Signal>,
    pub(crate) restart: Arc<tokio::sync::Notify>,
    /// Raises the cell's `ended` when the proxy loop drops it.
    pub(crate) _ended: crate::signal::RaiseOnDrop,
}

/// A cell for an actor another runtime hosts: handles here call, pass and kill it as
/// any other, and its mailbox is served by a proxy loop. Registered by id (so handles
/// inside values find it), not pinned by name (the name lives where the actor does).
pub(crate) fn proxy_cell(
    runtime: &Arc<RuntimeInner>,
    remote: &crate::remote::RemoteActor,
    class: Arc<ActorClass>,
) -> Result<(Arc<ActorCell>, ProxyParts)> {
    if runtime.is_closed() {
        return Err(RayError::ShutDown);
    }
    let (sender, receiver) = crate::mailbox::channel();
    let kill = Arc::new(Signal::default());
    let restart = Arc::new(tokio::sync::Notify::new());
    let ended = Arc::new(Signal::default());
    let ready = runtime.objects.new_slot();
    let _ = ready.complete(Ok((Bytes::from_static(codec::UNIT), Encoding::Msgpack)));
    let cell = Arc::new(ActorCell {
        id: remote.id,
        class: class.name.clone(),
        class_info: class,
        name: remote.name.clone(),
        ready,
        mailbox: sender,
        kill: kill.clone(),
        restart: restart.clone(),
        objects: runtime.objects.clone(),
        directory: runtime.actors.clone(),
        pending: Arc::new(AtomicUsize::new(0)),
        max_pending: None,
        state: None,
        crossable: AtomicBool::new(true),
        ended: ended.clone(),
    });
    if let Ok(mut by_id) = runtime.actors.by_id.lock() {
        by_id.insert(remote.id, Arc::downgrade(&cell));
    }
    Ok((
        cell,
        ProxyParts {
            receiver,
            kill,
            restart,
            _ended: crate::signal::RaiseOnDrop(ended),
        },
    ))
}

/// The module (component source name) an actor's class came from, and whether the
/// class keeps snapshots.
pub(crate) fn class_module(handle: &ActorHandle) -> (String, bool) {
    let class = &handle.cell.class_info;
    (class.component.source_name().to_string(), class.snapshot)
}

/// The SHA-256 of the component an actor's class came from.
pub(crate) fn class_hash(handle: &ActorHandle) -> String {
    handle.cell.class_info.component.hash().to_string()
}

/// The module an actor's class came from, if the class keeps snapshots.
pub(crate) fn snapshot_module(handle: &ActorHandle) -> Option<String> {
    let class = &handle.cell.class_info;
    class
        .snapshot
        .then(|| class.component.source_name().to_string())
}

/// Brings a kept actor back in `runtime` from its last snapshot: same id, name and
/// class, from the same module; waits until it is restored.
pub(crate) async fn restore(
    runtime: &Arc<RuntimeInner>,
    kept: &crate::remote::PersistedActor,
    options: ActorOptions,
    state: Vec<u8>,
) -> Result<ActorHandle> {
    revive(runtime, kept, options, Some(state), Vec::new()).await
}

/// Brings back an actor of another runtime (its node was lost) in `runtime`, with the
/// same id and class from the same module: from `state` (its last snapshot), or with
/// `None` by running its constructor again on `args`. Waits until it is up.
pub(crate) async fn revive(
    runtime: &Arc<RuntimeInner>,
    kept: &crate::remote::PersistedActor,
    options: ActorOptions,
    state: Option<Vec<u8>>,
    args: Vec<TaskArg>,
) -> Result<ActorHandle> {
    // The class of its own module (`kept.module` is the component's source name),
    // whatever other module defines a class of that name.
    let qualified = format!("{}/{}", kept.module, kept.class);
    let class = runtime.registry.actor_class(&qualified).map_err(|_| {
        RayError::ActorClassNotFound(format!("{} of module {}", kept.class, kept.module))
    })?;
    if class.component.source_name() != kept.module || (state.is_some() && !class.snapshot) {
        return Err(RayError::ActorClassNotFound(format!(
            "{} of module {} (the loaded class of that name is of another module)",
            kept.class, kept.module
        )));
    }
    let revival = Revival { id: kept.id, state };
    let handle = spawn_with(
        runtime,
        &qualified,
        args,
        options,
        None,
        Vec::new(),
        Some(revival),
    )?;
    match handle.cell.ready.ready().await {
        Ok(_) => Ok(handle),
        Err(err) => {
            handle.cell.kill();
            Err(err.clone())
        }
    }
}

/// One life of an actor: a store and an instance.
struct Incarnation {
    store: Store<TaskCtx>,
    guest: TaskModule,
    /// The instance itself, for its `concurrent-actor` export.
    instance: wasmtime::component::Instance,
    /// The instance's stdout and stderr, taken after each call.
    capture: OutputCapture,
    id: ActorId,
}

/// Why a call produced no value: the instance is fine, or it is dead (trapped, or
/// interrupted by its deadline).
enum CallFailure {
    Error(RayError),
    Trap(RayError),
    /// The method called WASI `exit` (`rustyray::exit_actor()`, `std::process::exit`):
    /// the actor ends, gracefully and for good (Ray's `exit_actor`); the exit status.
    Exited(i32),
}

impl CallFailure {
    fn timed_out(err: &RayError) -> bool {
        matches!(err, RayError::Timeout(_))
    }
}

fn invoke_error(what: &str, err: InvokeError) -> RayError {
    match err {
        InvokeError::Application(error) => crate::component::application_error(what, error),
        InvokeError::BadArguments(message) => RayError::BadArguments {
            function: what.to_string(),
            message: crate::limits::cut_message(message),
        },
        InvokeError::FunctionNotFound(name) => {
            RayError::FunctionNotFound(crate::limits::cut_message(name))
        }
    }
}

impl Incarnation {
    /// Instantiates the class's component and runs its constructor (or restores
    /// `snapshot`).
    async fn start(
        runtime: &Arc<RuntimeInner>,
        class: &ActorClass,
        id: ActorId,
        options: &ActorOptions,
        ctor_args: &[Resolved],
        snapshot: Option<&Snapshot>,
        scope: Option<&Arc<Signal>>,
    ) -> Result<Self> {
        let what = format!("{}::new", class.name);
        let defaults = &runtime.sandbox;
        let limits = defaults.limits_for(&options.limits)?;
        let capture = OutputCapture::new(
            Source::Label(format!("{id} {what}")),
            limits.output,
            defaults.sink.clone(),
        );
        let sandbox = defaults
            .capabilities_for(options.capabilities.as_deref())
            .wasi(&capture, &limits)?;
        let mut store = new_store(runtime, class.component.engine(), sandbox, limits);
        store.data_mut().origin = Some(class.component.hash().to_string());
        // What the actor submits belongs to the program the actor belongs to.
        store.data_mut().scope = scope.cloned();
        let instance = match class
            .component
            .pre()
            .instance_pre()
            .instantiate_async(&mut store)
            .await
        {
            Ok(instance) => instance,
            Err(err) => return Err(instantiate_error(&what, err, &mut store)),
        };
        let guest = match TaskModule::new(&mut store, &instance) {
            Ok(guest) => guest,
            Err(err) => return Err(instantiate_error(&what, err, &mut store)),
        };
        crate::component::charge_growth(&mut store);
        let exports = guest.rustyray_runtime_guest();
        let outcome = match snapshot {
            Some(snapshot) => {
                // The references inside the state are the guest's to take again.
                store.data_mut().refs.receive_all(snapshot.refs.slots());
                let restored = exports
                    .call_actor_restore(&mut store, &class.name, &snapshot.state)
                    .await;
                store.data_mut().refs.clear();
                restored
            }
            None => match guest_args(&mut store, ctor_args) {
                Ok(args) => exports.call_actor_new(&mut store, &class.name, &args).await,
                Err(err) => Err(err),
            },
        };
        let context = || TrapContext {
            task: id.to_string(),
            arg_sizes: ctor_args.iter().map(Resolved::len).collect(),
        };
        // What the constructor printed was shown live (if asked); calls' outputs
        // start clean.
        let _ = capture.take();
        match outcome {
            Ok(Ok(())) => Ok(Incarnation {
                store,
                guest,
                instance,
                capture,
                id,
            }),
            Ok(Err(err)) => Err(invoke_error(&what, err)),
            Err(err) => Err(call_error(&what, err, &mut store, context())),
        }
    }

    /// Calls `method`, within `deadline` if there is one. Fuel, result size and
    /// output are counted per call.
    async fn call(
        &mut self,
        what: &str,
        method: &str,
        args: &[Resolved],
        deadline: Option<Duration>,
        control: &Arc<crate::task_impl::TaskControl>,
    ) -> Result<Value, CallFailure> {
        // A cancel reaches the call at its next wait (see `call_cancel`), and the tasks
        // it submits are cancelled with it.
        self.store.data_mut().control = Some(control.clone());
        self.store.data_mut().call_cancel =
            Some(crate::call_cancel::CallCancel::new(control.clone()));
        if self.capture.has_sink() {
            self.capture
                .set_source(Source::Label(format!("{} {what}", self.id)));
        }
        self.store.data_mut().limiter.reset();
        self.store.data().net.state.start_call();
        if self.store.data().runtime.sandbox.fuel {
            refuel(&mut self.store);
        }
        let guest_args = guest_args(&mut self.store, args)
            .map_err(|err| CallFailure::Error(RayError::Internal(format!("{what}: {err:#}"))))?;
        let call = self.guest.rustyray_runtime_guest().call_actor_call(
            &mut self.store,
            method,
            &guest_args,
        );
        let call =
            tracing::Instrument::instrument(call, crate::timeline::actor_call_span(what, &self.id));
        let outcome = match deadline {
            // Boxed, so calls without a deadline do not carry the timer in their future.
            Some(limit) => match Box::pin(tokio::time::timeout(limit, call)).await {
                Ok(outcome) => outcome,
                Err(_) => return Err(CallFailure::Trap(RayError::Timeout(limit))),
            },
            None => call.await,
        };
        // A network limit the guest was told about but survived still fails the call.
        if outcome.is_ok()
            && let Some(hit) = self.store.data().net.state.take_hit()
        {
            return Err(CallFailure::Error(hit.into_error(what)));
        }
        match outcome {
            Ok(Ok(value)) => {
                let limits = self.store.data().limiter.limits;
                limits
                    .check_result(what, value.data.len())
                    .map_err(CallFailure::Error)?;
                let value = self.store.data_mut().value_from_guest(value);
                // References shared or handed in during the call and not used are let go.
                self.store.data_mut().refs.clear();
                value.map_err(CallFailure::Error)
            }
            Ok(Err(err)) => Err(CallFailure::Error(invoke_error(what, err))),
            Err(err) => {
                if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
                    return Err(CallFailure::Exited(exit.0));
                }
                let context = TrapContext {
                    task: self.id.to_string(),
                    arg_sizes: args.iter().map(Resolved::len).collect(),
                };
                Err(CallFailure::Trap(call_error(
                    what,
                    err,
                    &mut self.store,
                    context,
                )))
            }
        }
    }

    /// Ends the call's cancel scope: whether the guest was told it was cancelled (the
    /// call then answers `Cancelled`).
    fn end_call(&mut self) -> bool {
        let data = self.store.data_mut();
        data.control = None;
        data.call_cancel.take().is_some_and(|cancel| cancel.told())
    }

    /// What the instance printed since the last call to this.
    fn take_output(&self) -> Option<TaskOutput> {
        self.capture.take()
    }

    /// The actors the guest announced (`actors.carry`) for the value it just handed over.
    fn take_carried(&mut self) -> Vec<Arc<ActorCell>> {
        self.store.data_mut().take_carried()
    }

    /// The actor's state as its `snapshot` encodes it (`None`: it declined), or the
    /// trap that lost the instance.
    async fn snapshot(&mut self) -> Result<Option<Snapshot>> {
        match self
            .guest
            .rustyray_runtime_guest()
            .call_actor_snapshot(&mut self.store)
            .await
        {
            Ok(Some(state)) => {
                // The references it holds are resolved from what the guest shared.
                let refs = self
                    .store
                    .data_mut()
                    .refs
                    .resolve(Encoding::Msgpack, &state);
                self.store.data_mut().refs.clear();
                Ok(Some(Snapshot { state, refs: refs? }))
            }
            Ok(None) => Ok(None),
            Err(err) => {
                let context = TrapContext {
                    task: self.id.to_string(),
                    arg_sizes: Vec::new(),
                };
                Err(call_error("snapshot", err, &mut self.store, context))
            }
        }
    }

    async fn stop(&mut self) {
        let _ = self
            .guest
            .rustyray_runtime_guest()
            .call_actor_stop(&mut self.store)
            .await;
    }
}

/// The mailbox loop's state.
struct Mailbox {
    runtime: Arc<RuntimeInner>,
    id: ActorId,
    class: Arc<ActorClass>,
    options: ActorOptions,
    name: Option<(String, String)>,
    kill: Arc<Signal>,
    /// `kill(no_restart=False)` requests.
    restart: Arc<tokio::sync::Notify>,
    /// The program the actor belongs to (`None`: detached, or created by the host).
    scope: Option<Arc<Signal>>,
    receiver: crate::mailbox::Receiver<Message>,
    /// Its record for the state API (state, restarts, snapshot age).
    record: Arc<crate::state::ActorRecord>,
    /// Where its snapshots are kept beyond this process (a node's detached actor).
    persist: Option<Arc<dyn crate::remote::SnapshotStore>>,
    /// The snapshot it comes back from instead of running its constructor (a kept
    /// actor restored on a node's restart).
    revival: Option<Vec<u8>>,
    /// The actor's place in the `--max-actors` budget, for its whole life.
    _counted: crate::budget::InstanceSlot,
    /// The actors whose handles its constructor's arguments hold serialized: alive as
    /// long as this one, which may run its constructor again on a restart.
    _carried: Vec<Arc<ActorCell>>,
    /// Raises the cell's `ended` as the loop's state is dropped: when it ended.
    _ended: crate::signal::RaiseOnDrop,
}

/// How the loop ended.
enum End {
    /// Stop message, no handle left, or its program ended while it was idle: finish
    /// politely (`on_stop`, under a deadline); the reason queued calls are given.
    Graceful(&'static str),
    /// Killed, the runtime aborted, or a guest phase was interrupted: drop everything
    /// now, without `on_stop`.
    Abrupt(&'static str),
}

/// What cut a guest phase (constructor, call, snapshot, restore, `on_stop`) short.
#[derive(Debug, Clone, Copy)]
enum Interrupt {
    Killed,
    /// Killed, to be restarted (`kill(no_restart=False)`).
    Restart,
    Aborted,
    ProgramEnded,
    Timeout(Duration),
}

impl Interrupt {
    /// Why the actor ended, for the calls still queued.
    fn reason(self) -> &'static str {
        match self {
            Interrupt::Killed => "it was killed",
            Interrupt::Restart => "it was killed (to be restarted)",
            Interrupt::Aborted => "the runtime shut down",
            Interrupt::ProgramEnded => "the program that created it ended",
            Interrupt::Timeout(_) => "a guest phase ran past its deadline",
        }
    }

    fn into_error(self) -> RayError {
        match self {
            Interrupt::Killed | Interrupt::Restart | Interrupt::ProgramEnded => RayError::Cancelled,
            Interrupt::Aborted => RayError::ShutDown,
            Interrupt::Timeout(after) => RayError::Timeout(after),
        }
    }
}

impl Mailbox {
    /// The deadline of each guest phase: the call timeout, or the runtime's default.
    fn deadline(&self) -> Option<Duration> {
        self.options
            .call_timeout
            .or(self.runtime.config.default_timeout)
    }

    /// Runs one guest phase under `deadline`, interruptible by kill, the runtime's
    /// abort and (when `scoped`) the end of the actor's program.
    ///
    /// `work` comes boxed: the guest phases' futures (wasmtime calls) are large, and the
    /// mailbox loop's future, which every idle actor keeps, would otherwise be as large
    /// as the largest of them.
    async fn phase<T, F: std::future::Future<Output = T>>(
        &self,
        deadline: Option<Duration>,
        scoped: bool,
        work: std::pin::Pin<Box<F>>,
    ) -> std::result::Result<T, Interrupt> {
        let timed = async {
            match deadline {
                Some(limit) => tokio::time::timeout(limit, work)
                    .await
                    .map_err(|_| Interrupt::Timeout(limit)),
                None => Ok(work.await),
            }
        };
        let scope = if scoped { self.scope.as_deref() } else { None };
        tokio::select! {
            biased;
            _ = self.kill.raised() => Err(Interrupt::Killed),
            _ = self.restart.notified() => Err(Interrupt::Restart),
            _ = self.runtime.abort.raised() => Err(Interrupt::Aborted),
            _ = crate::signal::raised_or_never(scope) => Err(Interrupt::ProgramEnded),
            outcome = timed => outcome,
        }
    }

    /// A new incarnation after the last one was lost: from `snapshot` if there is one,
    /// else from the constructor, under the phase deadline.
    async fn restart(
        &self,
        ctor_args: &[Resolved],
        snapshot: Option<&Snapshot>,
    ) -> std::result::Result<Result<Incarnation>, Interrupt> {
        let start = Box::pin(Incarnation::start(
            &self.runtime,
            &self.class,
            self.id,
            &self.options,
            ctor_args,
            snapshot,
            self.scope.as_ref(),
        ));
        let outcome = match self.phase(self.deadline(), true, start).await {
            Err(Interrupt::Timeout(after)) => Ok(Err(RayError::Timeout(after))),
            other => other,
        };
        if matches!(outcome, Ok(Ok(_))) {
            self.record.alive();
        }
        outcome
    }

    /// Resolves the constructor's arguments and runs it; a constructor that traps (or
    /// is killed to be restarted) is run again while restarts are left, as Ray restarts
    /// an actor whose creation crashed; an `Err` from it is final.
    async fn construct(
        &self,
        ctor_args: Vec<TaskArg>,
        restarts: &mut u32,
    ) -> Result<(Incarnation, Vec<Resolved>)> {
        let resolved = Box::pin(resolve(ctor_args));
        let args: Vec<Resolved> = match self.phase(self.deadline(), true, resolved).await {
            Ok(args) => args?,
            Err(interrupt) => return Err(interrupt.into_error()),
        };
        loop {
            let start = Box::pin(Incarnation::start(
                &self.runtime,
                &self.class,
                self.id,
                &self.options,
                &args,
                None,
                self.scope.as_ref(),
            ));
            let failure = match self.phase(self.deadline(), true, start).await {
                Ok(Ok(actor)) => return Ok((actor, args)),
                Ok(Err(err @ RayError::Trap { .. })) => err,
                Ok(Err(err)) => return Err(err),
                Err(Interrupt::Restart) => RayError::Cancelled,
                Err(interrupt) => return Err(interrupt.into_error()),
            };
            if *restarts >= self.options.max_restarts {
                return Err(failure);
            }
            *restarts += 1;
            self.record.restarting();
        }
    }

    /// Keeps `snapshot` beyond this process, for a kept actor (a failure is logged: the
    /// actor goes on, with its previous snapshot kept). A state holding object
    /// references is not kept: the objects would not outlive the process.
    async fn save(&self, snapshot: &Snapshot) {
        let Some(store) = &self.persist else { return };
        if !snapshot.refs.is_empty() {
            tracing::warn!(actor = %self.id, "a snapshot holding object references is not kept");
            return;
        }
        if let Err(err) = store.save(self.id, snapshot.state.clone()).await {
            tracing::warn!(actor = %self.id, "could not keep a snapshot: {err}");
        }
    }

    async fn run(mut self, ctor_args: Vec<TaskArg>, ready: Arc<Slot>) {
        let mut restarts = 0u32;
        let mut snapshot: Option<Snapshot> = None;
        let mut _snapshot_carried: Vec<Arc<ActorCell>> = Vec::new();
        let started = match self.revival.take() {
            // Brought back from its kept snapshot: no constructor runs.
            Some(state) => {
                let state = Snapshot {
                    state,
                    refs: crate::refs::Contained::default(),
                };
                let started = match Box::pin(self.restart(&[], Some(&state))).await {
                    Ok(Ok(actor)) => Ok((actor, Vec::new())),
                    Ok(Err(err)) => Err(err),
                    Err(interrupt) => Err(interrupt.into_error()),
                };
                snapshot = Some(state);
                started
            }
            None => Box::pin(self.construct(ctor_args, &mut restarts)).await,
        };
        let (mut actor, ctor_args) = match started {
            Ok((mut actor, ctor_args)) => {
                // A kept actor is kept from its first state on, before anyone calls it.
                if self.persist.is_some() && snapshot.is_none() {
                    let taken =
                        Box::pin(self.phase(self.deadline(), true, Box::pin(actor.snapshot())))
                            .await;
                    if let Ok(Ok(Some(state))) = taken {
                        Box::pin(self.save(&state)).await;
                        self.record.snapshotted();
                        _snapshot_carried = actor.take_carried();
                        snapshot = Some(state);
                    }
                }
                self.record.alive();
                let _ = ready.complete(Ok((Bytes::from_static(codec::UNIT), Encoding::Msgpack)));
                (actor, ctor_args)
            }
            Err(err) => {
                let reason = format!("its constructor failed: {err}");
                self.record.dead(&reason);
                let _ = ready.complete(Err(err));
                self.receiver.close();
                while let Ok(message) = self.receiver.try_recv() {
                    if let Message::Call { output, .. } = message {
                        let err = output.died(&reason);
                        output.complete(Err(err));
                    }
                }
                self.runtime.actors.unpin(self.id, &self.name);
                return;
            }
        };

        let mut calls_since_snapshot = 0u32;
        let mut dead: Option<String> = None;
        let kill = self.kill.clone();
        let restart = self.restart.clone();
        let runtime = self.runtime.clone();
        let scope = self.scope.clone();
        let deadline = self.deadline();

        let end = 'mailbox: loop {
            if self.options.max_concurrency > 1 && dead.is_none() {
                // Calls interleave: served by their own loop (`actor_concurrent.rs`).
                break self
                    .serve_concurrent(&mut actor, &ctor_args, &mut restarts, &mut dead)
                    .await;
            }
            let message = tokio::select! {
                biased;
                _ = kill.raised() => break End::Abrupt(Interrupt::Killed.reason()),
                _ = runtime.abort.raised() => break End::Abrupt(Interrupt::Aborted.reason()),
                _ = crate::signal::raised_or_never(scope.as_deref()) => {
                    break End::Graceful(Interrupt::ProgramEnded.reason())
                }
                _ = restart.notified() => None,
                message = self.receiver.recv() => Some(message),
            };
            let Some(message) = message else {
                // Killed while idle, to be restarted.
                if dead.is_some() {
                    continue;
                }
                if restarts >= self.options.max_restarts {
                    break End::Abrupt(Interrupt::Killed.reason());
                }
                restarts += 1;
                self.record.restarting();
                match Box::pin(self.restart(&ctor_args, snapshot.as_ref())).await {
                    Ok(Ok(restarted)) => actor = restarted,
                    Ok(Err(err)) => {
                        let reason = format!("it was killed and could not restart: {err}");
                        self.record.dead(&reason);
                        dead = Some(reason);
                        runtime.actors.unpin(self.id, &self.name);
                        self.forget();
                    }
                    Err(interrupt) => break End::Abrupt(interrupt.reason()),
                }
                continue;
            };
            let (method, args, output) = match message {
                None | Some(Message::Stop) => break End::Graceful("it stopped"),
                Some(Message::Call {
                    method,
                    args,
                    output,
                }) => (method, args, output),
            };
            if let Some(reason) = &dead {
                let err = output.died(reason);
                output.complete(Err(err));
                continue;
            }
            let what = format!("{}.{method}", self.class.name);
            let args = tokio::select! {
                biased;
                _ = kill.raised() => break End::Abrupt(Interrupt::Killed.reason()),
                // Cancelled while queued or waiting on its arguments: `cancel` answered it.
                _ = output.control.cancelled() => continue,
                args = resolve(args) => args,
            };
            if !output.start() {
                // Cancelled while queued: already answered `Cancelled`, never runs.
                continue;
            }
            let args = match args {
                Ok(args) => args,
                Err(err) => {
                    output.complete(Err(err));
                    continue;
                }
            };
            let mut retries = 0u32;
            // Set when the instance is lost after a call succeeded (its snapshot
            // trapped or ran past the deadline): it is replaced below.
            let mut lost: Option<String> = None;
            loop {
                // The call's own deadline is inside `Incarnation::call` (a timeout there
                // is a trap: the instance is replaced).
                let outcome = self
                    .phase(
                        None,
                        true,
                        Box::pin(actor.call(&what, &method, &args, deadline, &output.control)),
                    )
                    .await;
                let told_cancelled = actor.end_call();
                output.set_output(actor.take_output());
                // Handles inside the result keep their actors while the result lives.
                let carried = actor.take_carried();
                if matches!(outcome, Ok(Ok(_))) {
                    output.carry(carried);
                }
                let outcome = match outcome {
                    Ok(outcome) => outcome,
                    Err(Interrupt::Restart) => {
                        // Killed during this call, to be restarted: the call fails; the
                        // instance is replaced below if restarts are left.
                        let err = output.died("it was killed during this call");
                        output.complete(Err(err));
                        if restarts >= self.options.max_restarts {
                            break 'mailbox End::Abrupt(Interrupt::Killed.reason());
                        }
                        lost = Some("it was killed".to_string());
                        break;
                    }
                    Err(interrupt) => {
                        let err = output.died("it was stopped during this call");
                        output.complete(Err(err));
                        break 'mailbox End::Abrupt(interrupt.reason());
                    }
                };
                match outcome {
                    Ok(bytes) => {
                        // Told it was cancelled, the call answers so, whatever it returned
                        // (Ray's async actors); what it did to the state stays.
                        let answer = if told_cancelled {
                            Err(RayError::Cancelled)
                        } else {
                            Ok(bytes)
                        };
                        // A kept actor answers once its snapshot is kept: an answer
                        // seen survives a crash of the node.
                        let mut deferred = None;
                        if self.persist.is_some() {
                            deferred = Some((output, answer));
                        } else {
                            output.complete(answer);
                        }
                        if self.class.snapshot {
                            calls_since_snapshot += 1;
                            if calls_since_snapshot >= self.options.snapshot_every.max(1) {
                                calls_since_snapshot = 0;
                                let taken = Box::pin(self.phase(
                                    deadline,
                                    true,
                                    Box::pin(actor.snapshot()),
                                ))
                                .await;
                                match taken {
                                    Ok(Ok(Some(state))) => {
                                        Box::pin(self.save(&state)).await;
                                        snapshot = Some(state);
                                        self.record.snapshotted();
                                        // Handles inside the state are restored from it:
                                        // their actors live as long as the snapshot.
                                        _snapshot_carried = actor.take_carried();
                                    }
                                    Ok(Ok(None)) => {}
                                    Ok(Err(err)) => {
                                        lost = Some(format!("its snapshot failed: {err}"));
                                    }
                                    Err(Interrupt::Timeout(after)) => {
                                        lost = Some(format!(
                                            "its snapshot ran past the deadline of {after:?}"
                                        ));
                                    }
                                    Err(Interrupt::Restart) => {
                                        lost = Some("it was killed".to_string());
                                    }
                                    Err(interrupt) => {
                                        if let Some((output, answer)) = deferred.take() {
                                            output.complete(answer);
                                        }
                                        break 'mailbox End::Abrupt(interrupt.reason());
                                    }
                                }
                            }
                        }
                        if let Some((output, answer)) = deferred {
                            output.complete(answer);
                        }
                        break;
                    }
                    Err(CallFailure::Error(err)) => {
                        output.complete(Err(if told_cancelled {
                            RayError::Cancelled
                        } else {
                            err
                        }));
                        break;
                    }
                    Err(CallFailure::Exited(status)) => {
                        // Not a crash: no restart, and every later call is refused.
                        let reason =
                            format!("it exited (exit_actor, status {status}) during {what}");
                        let err = output.died(&reason);
                        output.complete(Err(err));
                        dead = Some(reason);
                        break;
                    }
                    Err(CallFailure::Trap(trap)) => {
                        let cause = trap.to_string();
                        // A call past its deadline fails with the timeout itself (and is
                        // not retried); its interrupted instance is replaced all the same.
                        let timed_out = CallFailure::timed_out(&trap);
                        let fail = |output: CallOutput, reason: &str| {
                            let err = if timed_out {
                                trap.clone()
                            } else {
                                output.died(reason)
                            };
                            output.complete(Err(err));
                        };
                        if restarts >= self.options.max_restarts {
                            let reason = format!("it trapped with no restarts left: {cause}");
                            fail(output, &reason);
                            dead = Some(reason);
                            break;
                        }
                        restarts += 1;
                        self.record.restarting();
                        match Box::pin(self.restart(&ctor_args, snapshot.as_ref())).await {
                            Ok(Ok(restarted)) => actor = restarted,
                            Ok(Err(err)) => {
                                let reason =
                                    format!("it trapped ({cause}) and could not restart: {err}");
                                fail(output, &reason);
                                dead = Some(reason);
                                break;
                            }
                            Err(interrupt) => {
                                fail(output, interrupt.reason());
                                break 'mailbox End::Abrupt(interrupt.reason());
                            }
                        }
                        // A cancelled call is never retried (Ray's too).
                        if retries >= self.options.max_task_retries
                            || timed_out
                            || output.control.is_cancelled()
                        {
                            fail(
                                output,
                                &format!(
                                    "it trapped during this call (restarted, {restarts} of {} restarts used): {cause}",
                                    if self.options.max_restarts == crate::task_impl::UNLIMITED {
                                        "unlimited".to_string()
                                    } else {
                                        self.options.max_restarts.to_string()
                                    }
                                ),
                            );
                            break;
                        }
                        retries += 1;
                        output.retried();
                    }
                }
            }
            if let Some(cause) = lost {
                if restarts >= self.options.max_restarts {
                    dead = Some(format!("{cause}, with no restarts left"));
                } else {
                    restarts += 1;
                    self.record.restarting();
                    match Box::pin(self.restart(&ctor_args, snapshot.as_ref())).await {
                        Ok(Ok(restarted)) => actor = restarted,
                        Ok(Err(err)) => {
                            dead = Some(format!("{cause}, and it could not restart: {err}"));
                        }
                        Err(interrupt) => break End::Abrupt(interrupt.reason()),
                    }
                }
            }
            // A dead actor lets go of its name at once (Ray's too), so the name can be
            // taken again and `get_named` no longer finds it; its handles still answer
            // `ActorDied`.
            if let Some(reason) = &dead {
                self.record.dead(reason);
                runtime.actors.unpin(self.id, &self.name);
                self.forget();
            }
        };

        // Refuse anything sent from now on, and answer what is still queued.
        self.receiver.close();
        let reason = match end {
            End::Graceful(reason) => {
                if dead.is_none() {
                    // `on_stop` is bounded too, and still cut short by kill and abort.
                    let limit = crate::limits::shorter(deadline, Some(ON_STOP_TIMEOUT));
                    let _ = Box::pin(self.phase(limit, false, Box::pin(actor.stop()))).await;
                }
                reason
            }
            End::Abrupt(reason) => reason,
        };
        self.record.dead(dead.as_deref().unwrap_or(reason));
        while let Ok(message) = self.receiver.try_recv() {
            if let Message::Call { output, .. } = message {
                let err = output.died(reason);
                output.complete(Err(err));
            }
        }
        runtime.actors.unpin(self.id, &self.name);
        // Ended for good (killed, dead, exited), not by a shutdown of its runtime: a
        // kept actor is not brought back.
        if !runtime.is_closed() && !runtime.abort.is_raised() {
            self.forget();
        }
    }

    /// A kept actor that ended for good is no longer kept.
    fn forget(&self) {
        if let Some(store) = &self.persist {
            store.forget(self.id);
        }
    }
}
