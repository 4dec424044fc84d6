//! The host side of the WIT contract: generated bindings, the per-instance state
//! ([`TaskCtx`]) and the imports a guest calls (`objects`, `tasks`, `diagnostics`).
//!
//! Guest-held object references are `object-ref` resources whose table entries hold
//! the object's slot: each entry is one reference, `clone-ref` adds one, and the
//! guest dropping its handle (or the instance being dropped with its table) releases
//! it. `get` and `wait` are the only async imports: a guest that waits suspends its
//! own fiber and gives its worker thread back to other tasks.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::actor_impl::{ActorCell, ActorId, ActorOptions};
use crate::id::Id;
use crate::limits::GuestLimiter;
use crate::net::NetCtx;
use crate::object_store::{Encoding, Slot};
use crate::runtime::RuntimeInner;
use crate::task_impl::{TaskArg, TaskOptions};

wasmtime::component::bindgen!({
    path: "../wit",
    world: "task-module",
    imports: {
        "rustyray:runtime/objects.get": async | trappable,
        "rustyray:runtime/objects.wait": async | trappable,
        "rustyray:runtime/objects.size": async | trappable,
        "rustyray:runtime/objects.read": async | trappable,
        "rustyray:runtime/actors.create": async | trappable,
        "rustyray:runtime/actors.create-placed": async | trappable,
        "rustyray:runtime/actors.get-named": async | trappable,
        "rustyray:runtime/actors.from-id": async | trappable,
        default: trappable,
    },
    exports: { default: async },
    // Arguments the host passes into a guest borrow their bytes (`ValueParam<'a>`):
    // an object shared by many tasks is copied once, into each instance, not first
    // into a host `Vec` per task as well.
    ownership: Borrowing { duplicate_if_necessary: true },
    with: {
        "rustyray:runtime/types.object-ref": GuestObjectRef,
        "rustyray:runtime/types.actor-handle": GuestActorHandle,
    },
});

pub(crate) use self::rustyray::runtime::types::{
    ApplicationError as WitApplicationError, Encoding as WitEncoding, Id as WitId, LimitInfo,
    ObjectLostInfo, ObjectSize, TaskError, TrapInfo, ValueParam as WitValueParam,
    ValueResult as WitValue,
};

impl From<Id> for WitId {
    fn from(id: Id) -> Self {
        WitId {
            node: id.node,
            hi: id.hi,
            lo: id.lo,
        }
    }
}

impl From<WitId> for Id {
    fn from(id: WitId) -> Self {
        Id {
            node: id.node,
            hi: id.hi,
            lo: id.lo,
        }
    }
}
pub(crate) use exports::rustyray::runtime::guest::{
    Argument, Arity as WitArity, ComponentInfo as GuestComponentInfo,
    FunctionInfo as GuestFunctionInfo, InvokeError,
};

/// A guest's handle to an object: one reference to its slot.
#[derive(Debug)]
pub struct GuestObjectRef {
    pub(crate) slot: Arc<Slot>,
}

/// A guest's handle to an actor: one reference to its cell.
#[derive(Debug)]
pub struct GuestActorHandle {
    pub(crate) cell: Arc<ActorCell>,
}

/// The state of one instance (a task, or a driver) in its `Store`.
pub(crate) struct TaskCtx {
    pub(crate) runtime: Arc<RuntimeInner>,
    pub(crate) table: ResourceTable,
    pub(crate) wasi: WasiCtx,
    /// Enforces the instance's limits and remembers which one refused.
    pub(crate) limiter: GuestLimiter,
    /// The guest's panic message, reported just before it traps.
    pub(crate) panic_message: Option<String>,
    /// The task's execution permit, handed back while the guest waits on an object
    /// (with its memory reservation, `limiter.reservation`).
    pub(crate) permit: Option<OwnedSemaphorePermit>,
    /// For a task with a deadline: where the time it waits to be admitted again
    /// after a `get` is recorded, so the deadline does not count it.
    pub(crate) clock: Option<Arc<crate::deadline::RunClock>>,
    /// The running task's or actor call's cancel, whose children the tasks it submits
    /// become (`None` for drivers and idle actors).
    pub(crate) control: Option<Arc<crate::task_impl::TaskControl>>,
    /// For a running actor call: its cancel, told to the guest at its next wait.
    pub(crate) call_cancel: Option<crate::call_cancel::CallCancel>,
    /// For an actor whose calls interleave: the cancel of each call in flight, by the id
    /// its `concurrent-objects` waits name.
    pub(crate) calls: std::collections::HashMap<u64, crate::call_cancel::CallCancel>,
    /// `concurrent-actors.next-max-concurrency`: for the next actor this guest creates.
    pub(crate) next_max_concurrency: Option<u32>,
    /// Network grants, limits and accounting, and the `wasi:http` context.
    pub(crate) net: NetCtx,
    /// The program this instance works for (`None`: the host's own work, or a
    /// detached actor): the tasks and actors it submits belong to it too.
    pub(crate) scope: Option<Arc<crate::signal::Signal>>,
    /// Actors announced by `actors.carry` for the next value the guest hands over (by
    /// id: at most one entry per live actor, so a guest cannot grow it without bound).
    pub(crate) carried: std::collections::HashMap<ActorId, Arc<ActorCell>>,
    /// References the guest shared into values, and ones it was handed inside values.
    pub(crate) refs: crate::refs::InstanceRefs,
    /// The SHA-256 of the component this instance is of: names it submits resolve to
    /// its own functions and classes first (see `registry.rs`).
    pub(crate) origin: Option<String>,
}

impl TaskCtx {
    pub(crate) fn new(
        runtime: Arc<RuntimeInner>,
        wasi: WasiCtx,
        net: NetCtx,
        limiter: GuestLimiter,
    ) -> Self {
        TaskCtx {
            runtime,
            table: ResourceTable::new(),
            wasi,
            limiter,
            panic_message: None,
            permit: None,
            clock: None,
            control: None,
            call_cancel: None,
            calls: std::collections::HashMap::new(),
            next_max_concurrency: None,
            net,
            scope: None,
            carried: std::collections::HashMap::new(),
            refs: crate::refs::InstanceRefs::default(),
            origin: None,
        }
    }

    /// The actors announced for the value being handed over now.
    pub(crate) fn take_carried(&mut self) -> Vec<Arc<ActorCell>> {
        if self.carried.is_empty() {
            return Vec::new();
        }
        std::mem::take(&mut self.carried).into_values().collect()
    }

    /// A value the guest hands the host (put, an argument, a result), with the
    /// references inside it resolved from what the guest shared (no copy of the bytes).
    pub(crate) fn value_from_guest(
        &mut self,
        value: WitValue,
    ) -> crate::error::Result<crate::codec::Value> {
        let mut value = crate::component::from_guest(value);
        let refs = self.refs.resolve(value.encoding, &value.data)?;
        if !refs.is_empty() {
            value.refs = refs;
        }
        Ok(value)
    }

    /// A value the host hands the guest: the references inside it become receivable.
    pub(crate) fn value_to_guest(&mut self, value: &crate::codec::Value) -> WitValue {
        self.receive_refs(value);
        crate::component::to_guest(value)
    }

    /// A value the host passes into a guest export (an argument): as
    /// [`value_to_guest`](Self::value_to_guest), but borrowing its bytes, which the
    /// call copies straight into the instance.
    pub(crate) fn value_param<'a>(&mut self, value: &'a crate::codec::Value) -> WitValueParam<'a> {
        self.receive_refs(value);
        WitValueParam {
            encoding: crate::component::wit_encoding(value.encoding),
            data: &value.data,
        }
    }

    fn receive_refs(&mut self, value: &crate::codec::Value) {
        if !value.refs.is_empty() {
            self.refs.receive_all(value.refs.slots());
        }
    }

    fn slot(&self, handle: &Resource<GuestObjectRef>) -> wasmtime::Result<Arc<Slot>> {
        Ok(self.table.get(handle)?.slot.clone())
    }

    /// Waits on objects with the task's permit handed back, so tasks this one waits
    /// for can run even when every permit is taken by waiting tasks. `None`: a running
    /// actor call was cancelled during the wait (it is told so, see [`CallCancel`]).
    ///
    /// [`CallCancel`]: crate::call_cancel::CallCancel
    async fn waiting_on(
        &mut self,
        slots: &[Arc<Slot>],
        num_ready: usize,
        timeout: Option<Duration>,
    ) -> wasmtime::Result<Option<Vec<usize>>> {
        let had_permit = self.permit.take().is_some();
        let had_reservation = self.limiter.reservation.take().is_some();
        let waiting = crate::wait::wait_slots(slots, num_ready, timeout);
        let ready = match self.call_cancel.as_ref().and_then(|c| c.pending()) {
            Some(control) => tokio::select! {
                biased;
                () = control.cancelled() => None,
                ready = waiting => Some(ready),
            },
            None => Some(waiting.await),
        };
        if had_permit {
            let back = std::time::Instant::now();
            let permit = self.runtime.permits.clone().acquire_owned().await?;
            self.permit = Some(permit);
            if had_reservation {
                let need = self.limiter.remaining_need();
                let memory = self.runtime.objects.host_memory().clone();
                self.limiter.reservation = Some(memory.admit(need).await);
            }
            if let Some(clock) = &self.clock {
                clock.exclude(back.elapsed());
            }
        }
        Ok(ready)
    }

    /// Whether a running actor call was cancelled and not yet told: if so it is told now
    /// (once; later waits wait as usual).
    fn tell_cancel(&mut self) -> bool {
        self.call_cancel.as_mut().is_some_and(|c| c.tell())
    }

    /// The slot of `handle`, once it is ready (waiting with the permit handed back), or
    /// `Cancelled` for a running actor call that was cancelled.
    async fn ready_slot(
        &mut self,
        handle: &Resource<GuestObjectRef>,
    ) -> wasmtime::Result<Result<Arc<Slot>, TaskError>> {
        if self.tell_cancel() {
            return Ok(Err(TaskError::Cancelled));
        }
        let slot = self.slot(handle)?;
        if !slot.is_ready()
            && self
                .waiting_on(std::slice::from_ref(&slot), 1, None)
                .await?
                .is_none()
        {
            self.tell_cancel();
            return Ok(Err(TaskError::Cancelled));
        }
        Ok(Ok(slot))
    }

    fn push(&mut self, slot: Arc<Slot>) -> wasmtime::Result<Resource<GuestObjectRef>> {
        Ok(self.table.push(GuestObjectRef { slot })?)
    }
}

impl WasiView for TaskCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_http::WasiHttpView for TaskCtx {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView {
            ctx: &mut self.net.http,
            table: &mut self.table,
            hooks: &mut self.net.hooks,
        }
    }
}

impl rustyray::runtime::types::Host for TaskCtx {}

impl rustyray::runtime::types::HostObjectRef for TaskCtx {
    fn id(&mut self, handle: Resource<GuestObjectRef>) -> wasmtime::Result<WitId> {
        Ok(self.table.get(&handle)?.slot.id().0.into())
    }

    fn clone_ref(
        &mut self,
        handle: Resource<GuestObjectRef>,
    ) -> wasmtime::Result<Resource<GuestObjectRef>> {
        let slot = self.slot(&handle)?;
        self.push(slot)
    }

    fn drop(&mut self, handle: Resource<GuestObjectRef>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl TaskCtx {
    fn actor(&self, handle: &Resource<GuestActorHandle>) -> wasmtime::Result<Arc<ActorCell>> {
        Ok(self.table.get(handle)?.cell.clone())
    }

    fn push_actor(&mut self, cell: Arc<ActorCell>) -> wasmtime::Result<Resource<GuestActorHandle>> {
        Ok(self.table.push(GuestActorHandle { cell })?)
    }

    /// The arguments as the host takes them; `Ok(Err(..))` when a value holds a
    /// reference the guest did not share (the call is refused, not trapped).
    fn task_args(
        &mut self,
        args: Vec<rustyray::runtime::types::TaskArg>,
    ) -> wasmtime::Result<crate::error::Result<Vec<TaskArg>>> {
        let mut out = Vec::with_capacity(args.len());
        for arg in args {
            out.push(match arg {
                rustyray::runtime::types::TaskArg::Value(value) => {
                    match self.value_from_guest(value) {
                        Ok(value) => TaskArg::Value(value),
                        Err(err) => return Ok(Err(err)),
                    }
                }
                rustyray::runtime::types::TaskArg::Object(handle) => {
                    TaskArg::Object(self.slot(&handle)?)
                }
                rustyray::runtime::types::TaskArg::Reference(handle) => {
                    TaskArg::Reference(self.slot(&handle)?)
                }
            });
        }
        Ok(Ok(out))
    }
}

impl rustyray::runtime::types::HostActorHandle for TaskCtx {
    fn id(&mut self, handle: Resource<GuestActorHandle>) -> wasmtime::Result<WitId> {
        Ok(self.actor(&handle)?.id().0.into())
    }

    fn call(
        &mut self,
        handle: Resource<GuestActorHandle>,
        method: String,
        args: Vec<rustyray::runtime::types::TaskArg>,
    ) -> wasmtime::Result<Resource<GuestObjectRef>> {
        let cell = self.actor(&handle)?;
        let carried = self.take_carried();
        let slot = match self.task_args(args)? {
            Ok(args) => cell.call_slot(&method, args, carried),
            Err(err) => failed_slot(&self.runtime, err)?,
        };
        self.push(slot)
    }

    fn call_returns(
        &mut self,
        handle: Resource<GuestActorHandle>,
        method: String,
        args: Vec<rustyray::runtime::types::TaskArg>,
        num_returns: u32,
    ) -> wasmtime::Result<Vec<Resource<GuestObjectRef>>> {
        if let Err(err) = crate::refs::check_num_returns(num_returns as usize) {
            // No error channel: one object holding the refusal.
            return Ok(vec![self.push(failed_slot(&self.runtime, err)?)?]);
        }
        let cell = self.actor(&handle)?;
        let carried = self.take_carried();
        let slot = match self.task_args(args)? {
            Ok(args) => cell.call_slot(&method, args, carried),
            Err(err) => failed_slot(&self.runtime, err)?,
        };
        let slots = crate::task_impl::split_returns(
            &self.runtime.objects,
            Some(&self.runtime.handle),
            slot,
            num_returns as usize,
        );
        slots.into_iter().map(|slot| self.push(slot)).collect()
    }

    fn tell(
        &mut self,
        handle: Resource<GuestActorHandle>,
        method: String,
        args: Vec<rustyray::runtime::types::TaskArg>,
    ) -> wasmtime::Result<()> {
        let cell = self.actor(&handle)?;
        let carried = self.take_carried();
        // A tell has no result to carry an error: a refused value drops the call.
        if let Ok(args) = self.task_args(args)? {
            cell.tell_args(&method, args, carried);
        }
        Ok(())
    }

    fn clone_handle(
        &mut self,
        handle: Resource<GuestActorHandle>,
    ) -> wasmtime::Result<Resource<GuestActorHandle>> {
        let cell = self.actor(&handle)?;
        self.push_actor(cell)
    }

    fn drop(&mut self, handle: Resource<GuestActorHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl TaskCtx {
    /// `actors.create` and `create-placed`.
    async fn create_actor(
        &mut self,
        class: String,
        args: Vec<rustyray::runtime::types::TaskArg>,
        options: rustyray::runtime::types::ActorOptions,
        placement: Option<rustyray::runtime::actors::Placement>,
    ) -> wasmtime::Result<Result<Resource<GuestActorHandle>, TaskError>> {
        let max_concurrency = self.next_max_concurrency.take().unwrap_or(1);
        let args = match self.task_args(args)? {
            Ok(args) => args,
            Err(err) => return Ok(Err(TaskError::from(&err))),
        };
        let detached = options.detached;
        let options = ActorOptions {
            name: options.name,
            namespace: options
                .namespace
                .unwrap_or_else(|| self.runtime.namespace.clone()),
            max_restarts: options.max_restarts,
            max_task_retries: options.max_task_retries,
            get_if_exists: options.get_if_exists,
            max_pending_calls: options
                .max_pending_calls
                .and_then(|calls| usize::try_from(calls).ok()),
            max_concurrency,
            detached,
            ..ActorOptions::default()
        };
        let options = match placement {
            Some(placement) => ActorOptions {
                resources: placement.resources.into_iter().collect(),
                node_id: placement.node_id,
                ..options
            },
            None => options,
        };
        let runtime = self.runtime.clone();
        // The class this guest means: its own component's first (shared names).
        let class = match runtime
            .registry
            .actor_class_from(&class, self.origin.as_deref())
        {
            Ok(found) => format!("{}/{}", found.component.hash(), found.name),
            Err(err) => return Ok(Err(TaskError::from(&err))),
        };
        let scope = self.scope.clone();
        let carried = self.take_carried();
        match crate::actor_impl::create(&runtime, &class, args, options, scope, carried).await {
            Ok(handle) => Ok(Ok(self.push_actor(handle.cell().clone())?)),
            Err(err) => Ok(Err(TaskError::from(&err))),
        }
    }
}

impl rustyray::runtime::actors::Host for TaskCtx {
    async fn create(
        &mut self,
        class: String,
        args: Vec<rustyray::runtime::types::TaskArg>,
        options: rustyray::runtime::types::ActorOptions,
    ) -> wasmtime::Result<Result<Resource<GuestActorHandle>, TaskError>> {
        self.create_actor(class, args, options, None).await
    }

    async fn create_placed(
        &mut self,
        class: String,
        args: Vec<rustyray::runtime::types::TaskArg>,
        options: rustyray::runtime::types::ActorOptions,
        placement: rustyray::runtime::actors::Placement,
    ) -> wasmtime::Result<Result<Resource<GuestActorHandle>, TaskError>> {
        self.create_actor(class, args, options, Some(placement))
            .await
    }

    async fn get_named(
        &mut self,
        name: String,
        namespace: Option<String>,
    ) -> wasmtime::Result<Option<Resource<GuestActorHandle>>> {
        let namespace = namespace.unwrap_or_else(|| self.runtime.namespace.clone());
        // A name longer than any actor may have names none (and is not looked up).
        if name.len() > crate::limits::NAME_LENGTH || namespace.len() > crate::limits::NAME_LENGTH {
            return Ok(None);
        }
        if let Some(cell) = self.runtime.actors.named(&namespace, &name) {
            return Ok(Some(self.push_actor(cell)?));
        }
        // Not here: a job's driver asks its node, which hosts the detached actors.
        let Some(transport) = self.runtime.remote_actors.clone() else {
            return Ok(None);
        };
        let runtime = self.runtime.clone();
        match crate::remote::lookup(&runtime, &transport, &namespace, &name).await {
            Ok(Some(cell)) => Ok(Some(self.push_actor(cell)?)),
            Ok(None) => Ok(None),
            Err(err) => {
                tracing::warn!("looking up actor {name:?} on the node: {err}");
                Ok(None)
            }
        }
    }

    /// Any id a guest makes up is looked up and, unless a live actor has exactly
    /// that id, answered with `actor-died` — never a trap or a panic. Ids are random
    /// 128-bit numbers, so only an id the guest was given finds anything.
    /// An id this runtime has no actor of is asked of the runtime's actor transport
    /// (a job's driver: its node, which finds placed actors in the cluster's
    /// directory; a node's actors: the directory itself).
    async fn from_id(
        &mut self,
        id: WitId,
    ) -> wasmtime::Result<Result<Resource<GuestActorHandle>, TaskError>> {
        let id = ActorId(Id::from(id));
        let runtime = self.runtime.clone();
        match crate::remote::resolve_cell(&runtime, id).await {
            Ok(Some(cell)) => Ok(Ok(self.push_actor(cell)?)),
            Ok(None) => Ok(Err(TaskError::from(
                &crate::error::RayError::ActorNotFound(id),
            ))),
            Err(err) => Ok(Err(TaskError::from(&err))),
        }
    }

    fn kill(&mut self, handle: Resource<GuestActorHandle>) -> wasmtime::Result<()> {
        self.actor(&handle)?.kill();
        Ok(())
    }

    fn carry(&mut self, handles: Vec<Resource<GuestActorHandle>>) -> wasmtime::Result<()> {
        for handle in &handles {
            let cell = self.actor(handle)?;
            self.carried.entry(cell.id()).or_insert(cell);
        }
        Ok(())
    }

    fn kill_with(
        &mut self,
        handle: Resource<GuestActorHandle>,
        no_restart: bool,
    ) -> wasmtime::Result<()> {
        let cell = self.actor(&handle)?;
        if no_restart {
            cell.kill();
        } else {
            cell.kill_and_restart();
        }
        Ok(())
    }
}

impl rustyray::runtime::objects::Host for TaskCtx {
    fn put(
        &mut self,
        value: WitValue,
    ) -> wasmtime::Result<Result<Resource<GuestObjectRef>, TaskError>> {
        if let Err(err) = self.limiter.limits.check_result("put", value.data.len()) {
            return Ok(Err(TaskError::from(&err)));
        }
        let carried = self.take_carried();
        let stored = self
            .value_from_guest(value)
            .and_then(|value| crate::refs::put(&self.runtime.objects, value));
        match stored {
            Ok(slot) => {
                slot.carry(carried);
                Ok(Ok(self.push(slot)?))
            }
            Err(err) => Ok(Err(TaskError::from(&err))),
        }
    }

    fn free(&mut self, handles: Vec<Resource<GuestObjectRef>>) -> wasmtime::Result<()> {
        for handle in &handles {
            self.slot(handle)?.free();
        }
        Ok(())
    }

    fn share(&mut self, handle: Resource<GuestObjectRef>) -> wasmtime::Result<WitId> {
        let slot = self.slot(&handle)?;
        self.refs.share(&slot);
        Ok(slot.id().0.into())
    }

    fn receive(
        &mut self,
        id: WitId,
    ) -> wasmtime::Result<Result<Resource<GuestObjectRef>, TaskError>> {
        let id = crate::object_store::ObjectId(Id::from(id));
        match self.refs.receive(id) {
            Some(slot) => Ok(Ok(self.push(slot)?)),
            None => Ok(Err(TaskError::BadArguments(format!(
                "no reference to {id} was handed to this instance (inside a value it \
                 received) that it has not already taken"
            )))),
        }
    }

    async fn get(
        &mut self,
        handle: Resource<GuestObjectRef>,
    ) -> wasmtime::Result<Result<WitValue, TaskError>> {
        let slot = match self.ready_slot(&handle).await? {
            Ok(slot) => slot,
            Err(cancelled) => return Ok(Err(cancelled)),
        };
        Ok(match slot.get_value().await {
            Ok(value) => Ok(self.value_to_guest(&value)),
            Err(err) => Err(TaskError::from(&err)),
        })
    }

    async fn size(
        &mut self,
        handle: Resource<GuestObjectRef>,
    ) -> wasmtime::Result<Result<ObjectSize, TaskError>> {
        let slot = match self.ready_slot(&handle).await? {
            Ok(slot) => slot,
            Err(cancelled) => return Ok(Err(cancelled)),
        };
        // Its size is known without fetching a value kept on another node.
        Ok(match slot.ready_unfetched().await {
            Ok(stored) => Ok(ObjectSize {
                encoding: match stored.encoding {
                    Encoding::Msgpack => WitEncoding::Msgpack,
                    Encoding::Raw => WitEncoding::Raw,
                },
                len: stored.len as u64,
            }),
            Err(err) => Err(TaskError::from(err)),
        })
    }

    async fn read(
        &mut self,
        handle: Resource<GuestObjectRef>,
        offset: u64,
        len: u64,
    ) -> wasmtime::Result<Result<Vec<u8>, TaskError>> {
        let slot = match self.ready_slot(&handle).await? {
            Ok(slot) => slot,
            Err(cancelled) => return Ok(Err(cancelled)),
        };
        // A value kept on another node: only the range is fetched.
        Ok(match slot.ready_unfetched().await {
            Ok(stored) => match read_range(stored.len, offset, len) {
                Ok(range) => match slot.read_range(range).await {
                    Ok(data) => Ok(data),
                    Err(err) => Err(TaskError::from(&err)),
                },
                Err(message) => Err(TaskError::BadArguments(message)),
            },
            Err(err) => Err(TaskError::from(err)),
        })
    }

    async fn wait(
        &mut self,
        handles: Vec<Resource<GuestObjectRef>>,
        num_ready: u32,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<Vec<u32>> {
        let slots = handles
            .iter()
            .map(|handle| self.slot(handle))
            .collect::<wasmtime::Result<Vec<_>>>()?;
        let timeout = timeout_ms.map(Duration::from_millis);
        // A cancelled actor call's wait returns at once with what is ready, as at its
        // timeout (it has no error to carry `Cancelled`; its call answers `Cancelled`).
        let ready = if self.tell_cancel() {
            None
        } else {
            self.waiting_on(&slots, num_ready as usize, timeout).await?
        };
        let ready = match ready {
            Some(ready) => ready,
            None => {
                self.tell_cancel();
                crate::wait::ready_now(&slots, num_ready as usize)
            }
        };
        Ok(ready.into_iter().map(|index| index as u32).collect())
    }
}

/// A guest's `retry-exception-types`: at most
/// [`MAX_RETRY_EXCEPTION_TYPES`](crate::task::MAX_RETRY_EXCEPTION_TYPES) names, each within
/// the name length limit.
fn check_retry_exception_types(types: &[String]) -> crate::error::Result<()> {
    if types.len() > crate::task::MAX_RETRY_EXCEPTION_TYPES {
        return Err(crate::error::RayError::LimitExceeded {
            function: "retry_exceptions".into(),
            limit: crate::limits::Limit::RetryExceptionTypes,
            value: crate::task::MAX_RETRY_EXCEPTION_TYPES as u64,
            detail: format!("{} type names were given", types.len()),
        });
    }
    types
        .iter()
        .try_for_each(|name| crate::limits::check_name("retry exception type", name))
}

impl TaskCtx {
    /// `tasks.submit` and `submit-placed`: one object.
    fn submit_task(
        &mut self,
        function: String,
        args: Vec<rustyray::runtime::types::TaskArg>,
        options: rustyray::runtime::types::TaskOptions,
        placement: Option<rustyray::runtime::tasks::TaskPlacement>,
    ) -> wasmtime::Result<Result<Resource<GuestObjectRef>, TaskError>> {
        // A name too long to hold, or an unknown function, fails the submission itself,
        // not a later `get`.
        // A wrong argument count too (Ray's `TypeError` at `.remote()`).
        // The function this guest means: its own module's first (shared names), passed
        // on qualified so the task runs that one.
        let resolved = crate::limits::check_name("function", &function).and_then(|()| {
            let found = self
                .runtime
                .registry
                .lookup_from(&function, self.origin.as_deref())?;
            found.check_arity(args.len())?;
            Ok(found.qualified_name())
        });
        let function = match resolved {
            Ok(name) => name,
            Err(err) => return Ok(Err(TaskError::from(&err))),
        };
        let task_args = match self.task_args(args)? {
            Ok(args) => args,
            Err(err) => return Ok(Err(TaskError::from(&err))),
        };
        // A guest may ask for a shorter deadline than the operator's, never a longer one.
        let timeout = crate::limits::shorter(
            options.timeout_ms.map(Duration::from_millis),
            self.runtime.config.default_timeout,
        );
        if let Err(err) = check_retry_exception_types(&options.retry_exception_types) {
            return Ok(Err(TaskError::from(&err)));
        }
        let (resources, node_id) = match placement {
            Some(placement) => (placement.resources.into_iter().collect(), placement.node_id),
            None => Default::default(),
        };
        let options = TaskOptions {
            timeout,
            max_retries: options.max_retries,
            retry_exceptions: options.retry_exceptions,
            retry_exception_types: options.retry_exception_types,
            resources,
            node_id,
            ..TaskOptions::default()
        };
        let carried = self.take_carried();
        let slot = match self.runtime.submit_slot(
            &function,
            task_args,
            options,
            true,
            self.scope.clone(),
            carried,
        ) {
            Ok(slot) => slot,
            Err(err) => return Ok(Err(TaskError::from(&err))),
        };
        if let (Some(parent), Some(child)) = (&self.control, slot.producer()) {
            parent.adopt(&child);
        }
        Ok(Ok(self.push(slot)?))
    }

    /// `tasks.submit-returns` and `submit-placed` with `num-returns`: one object per
    /// element of the tuple the task returns.
    fn submit_split(
        &mut self,
        function: String,
        args: Vec<rustyray::runtime::types::TaskArg>,
        options: rustyray::runtime::types::TaskOptions,
        placement: Option<rustyray::runtime::tasks::TaskPlacement>,
        num_returns: u32,
    ) -> wasmtime::Result<Result<Vec<Resource<GuestObjectRef>>, TaskError>> {
        if let Err(err) = crate::refs::check_num_returns(num_returns as usize) {
            return Ok(Err(TaskError::BadArguments(err.to_string())));
        }
        let handle = match self.submit_task(function, args, options, placement)? {
            Ok(handle) => handle,
            Err(err) => return Ok(Err(err)),
        };
        let slot = self.slot(&handle)?;
        self.table.delete(handle)?;
        let slots = crate::task_impl::split_returns(
            &self.runtime.objects,
            Some(&self.runtime.handle),
            slot,
            num_returns as usize,
        );
        Ok(Ok(slots
            .into_iter()
            .map(|slot| self.push(slot))
            .collect::<wasmtime::Result<_>>()?))
    }
}

impl rustyray::runtime::tasks::Host for TaskCtx {
    fn submit(
        &mut self,
        function: String,
        args: Vec<rustyray::runtime::types::TaskArg>,
        options: rustyray::runtime::types::TaskOptions,
    ) -> wasmtime::Result<Result<Resource<GuestObjectRef>, TaskError>> {
        self.submit_task(function, args, options, None)
    }

    fn submit_placed(
        &mut self,
        function: String,
        args: Vec<rustyray::runtime::types::TaskArg>,
        options: rustyray::runtime::types::TaskOptions,
        placement: rustyray::runtime::tasks::TaskPlacement,
        num_returns: Option<u32>,
    ) -> wasmtime::Result<Result<Vec<Resource<GuestObjectRef>>, TaskError>> {
        match num_returns {
            None => Ok(self
                .submit_task(function, args, options, Some(placement))?
                .map(|handle| vec![handle])),
            Some(num_returns) => {
                self.submit_split(function, args, options, Some(placement), num_returns)
            }
        }
    }
    fn submit_returns(
        &mut self,
        function: String,
        args: Vec<rustyray::runtime::types::TaskArg>,
        options: rustyray::runtime::types::TaskOptions,
        num_returns: u32,
    ) -> wasmtime::Result<Result<Vec<Resource<GuestObjectRef>>, TaskError>> {
        self.submit_split(function, args, options, None, num_returns)
    }

    fn cancel(&mut self, handle: Resource<GuestObjectRef>) -> wasmtime::Result<()> {
        let slot = self.slot(&handle)?;
        crate::task_impl::cancel_slot(&slot);
        Ok(())
    }
}

impl rustyray::runtime::diagnostics::Host for TaskCtx {
    fn report_panic(&mut self, message: String) -> wasmtime::Result<()> {
        self.panic_message = Some(crate::limits::cut_message(message));
        Ok(())
    }
}

/// A ready object holding `err`: how a call refused before it reached its actor answers.
fn failed_slot(runtime: &RuntimeInner, err: crate::error::RayError) -> wasmtime::Result<Arc<Slot>> {
    let slot = runtime.objects.new_slot();
    let _ = slot.complete(Err(err));
    Ok(slot)
}

/// The bytes `read(offset, len)` copies out of an object of `bytes.len()` bytes: cut at
/// its end; an offset past the end is refused.
pub(crate) fn read_range(
    size: usize,
    offset: u64,
    len: u64,
) -> Result<std::ops::Range<usize>, String> {
    let size = size as u64;
    if offset > size {
        return Err(format!(
            "read at offset {offset} of an object of {size} bytes (past its end)"
        ));
    }
    let end = offset.saturating_add(len).min(size);
    Ok(offset as usize..end as usize)
}

impl From<&crate::error::RayError> for TaskError {
    fn from(err: &crate::error::RayError) -> Self {
        use crate::error::RayError;
        match err {
            RayError::Application {
                message,
                type_name,
                value,
                ..
            } => TaskError::Application(WitApplicationError {
                message: message.clone(),
                type_name: type_name.clone(),
                value: value.as_deref().map(crate::component::to_guest),
            }),
            RayError::Trap {
                message, backtrace, ..
            } => TaskError::Trap(TrapInfo {
                message: message.clone(),
                backtrace: backtrace.clone(),
            }),
            RayError::LimitExceeded { limit, value, .. } => TaskError::LimitExceeded(LimitInfo {
                limit: limit.name().to_string(),
                value: *value,
                message: err.to_string(),
            }),
            RayError::Cancelled => TaskError::Cancelled,
            RayError::Timeout(after) => TaskError::Timeout(after.as_millis() as u64),
            // As in Ray, a guest sees the root cause itself, with its kind: a dependent of
            // a trapped task gets the trap, of a cancelled one `Cancelled`. (The host API
            // keeps the whole chain in `DependencyFailed`.)
            RayError::DependencyFailed { .. } => match err.root_cause() {
                root @ RayError::DependencyFailed { .. } => {
                    TaskError::DependencyFailed(root.to_string())
                }
                root => TaskError::from(root),
            },
            RayError::FunctionNotFound(name) => TaskError::FunctionNotFound(name.clone()),
            // A name several other modules define: as unknown as no such name, with the
            // modules named and the fix.
            RayError::AmbiguousName { .. } => TaskError::FunctionNotFound(err.to_string()),
            // A guest names classes and functions the same way: an unknown class is
            // an unknown export, not a runtime failure.
            RayError::ActorClassNotFound(name) => {
                TaskError::FunctionNotFound(format!("actor class {name:?}"))
            }
            // Ray's `PendingCallsLimitExceeded`: a limit, named so a guest can match it.
            RayError::PendingCallsLimitExceeded { limit, .. } => {
                TaskError::LimitExceeded(LimitInfo {
                    limit: "max_pending_calls".to_string(),
                    value: *limit as u64,
                    message: err.to_string(),
                })
            }
            RayError::BadArguments { message, .. } => TaskError::BadArguments(message.clone()),
            RayError::InvalidModule { .. } => TaskError::InvalidModule(err.to_string()),
            RayError::ActorDied { .. } | RayError::ActorNotFound(_) => {
                TaskError::ActorDied(err.to_string())
            }
            RayError::ObjectFreed(id) => TaskError::ObjectFreed(id.0.into()),
            // Ray's `ValueError`: an option or argument out of range, typed for every
            // guest (Rust's `InvalidArgument`, Python's and JS's `InvalidArgumentError`).
            RayError::InvalidOptions(message) | RayError::InvalidArgument(message) => {
                TaskError::InvalidArgument(message.clone())
            }
            // Ray's `ObjectLostError`, typed for every guest (Rust's `ObjectLost`, Python's
            // and JS's `ObjectLostError`) with the object and the node that held it.
            RayError::ObjectLost {
                object,
                node,
                reason,
            } => TaskError::ObjectLost(ObjectLostInfo {
                object: object.clone(),
                node: node.clone(),
                reason: reason.clone(),
            }),
            RayError::ObjectStoreFull { capacity, .. } => TaskError::LimitExceeded(LimitInfo {
                limit: "object store".to_string(),
                value: *capacity as u64,
                message: err.to_string(),
            }),
            other => TaskError::Runtime(other.to_string()),
        }
    }
}
