//! Tasks: how one submitted call becomes a filled object.
//!
//! A task lives as one future on the runtime's worker threads and goes through
//! three steps, each of which a cancel (or the runtime's abort) interrupts:
//!
//! 1. **Dependency resolution** — wait until every `ObjectRef` argument is ready; if
//!    one failed, fail with [`RayError::DependencyFailed`] wrapping its error, so the
//!    chain back to the root cause is kept.
//! 2. **Admission** — take a permit from the runtime's execution semaphore, which
//!    bounds how many instances run at once (a guest blocked in `get` gives its
//!    permit back while it waits, so nested tasks cannot starve each other).
//! 3. **Execution** — a fresh instance of the component (or the native closure) runs
//!    under the task's deadline; the result bytes fill the output slot.
//!
//! Cancelling drops the task's future wherever it is. A guest in the middle of a
//! computation is reached too: every epoch tick it yields to the executor, which
//! then sees the cancel and drops the call, unwinding the guest's fiber. Whatever
//! happens — success, error, cancel, or the runtime being torn down — the output
//! slot is filled exactly once, so no `get` ever hangs.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::codec::Value;
use crate::error::{RayError, Result};
use crate::limits::Limits;
use crate::object_store::Slot;
use crate::output::OutputCapture;
use crate::registry::{Function, FunctionKind, InvokeFailure};
use crate::runtime::RuntimeInner;
use crate::sandbox::Capabilities;
use crate::signal::Signal;

/// Options of one task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskOptions {
    /// Deadline counted from when the task starts running; `None` takes the
    /// runtime's default.
    pub timeout: Option<Duration>,
    /// Limits overriding the runtime's defaults (memory, fuel, result size, ...).
    pub limits: Limits,
    /// What the task may touch, *instead of* the runtime's default capabilities;
    /// `None` takes the defaults.
    pub capabilities: Option<Arc<Capabilities>>,
    /// How many times the task is run again after a system failure (a trap: a panic,
    /// a wasm fault; the instance is gone) or, with `retry_exceptions`, an application
    /// error. `None` takes Ray's default, [`DEFAULT_MAX_RETRIES`]. A cancelled or timed-out
    /// task is never retried. Each run is a fresh instance: at-least-once semantics for
    /// what the task does outside itself.
    pub max_retries: Option<u32>,
    /// Whether an application error (`Err`) is retried too (Ray's `retry_exceptions`).
    pub retry_exceptions: bool,
    /// Placed already (a cluster's node runs it for another): it runs here, never
    /// through the runtime's task transport.
    pub(crate) placed: bool,
    /// With `retry_exceptions`, only application errors of these type names
    /// ([`RayError::Application`]'s `type_name`) are retried (Ray's
    /// `retry_exceptions=[MyError]`); empty: every application error.
    pub retry_exception_types: Vec<String>,
    /// Custom resources it needs (Ray's `resources={"gpu": 1}`): in a cluster, the
    /// driver's node runs it on a live node started with them (`rustyray start
    /// --resources`). It holds them there while it runs: past what the node has, tasks
    /// wait there for their turn (`rustyray_node::held`). Only a job's driver on a node
    /// of a cluster can place tasks; elsewhere the submission is refused with
    /// [`RayError::InvalidOptions`].
    pub resources: std::collections::BTreeMap<String, f64>,
    /// Run it on this node (Ray's `NodeAffinitySchedulingStrategy`, hard): a node id of
    /// `rustyray list nodes`. A node that is not alive fails the task with
    /// [`RayError::InvalidOptions`].
    pub node_id: Option<String>,
}

/// The most type names [`TaskOptions::retry_exception_types`] may list.
pub const MAX_RETRY_EXCEPTION_TYPES: usize = 64;

/// Retries after a system failure when a task does not say (Ray's default for tasks).
pub const DEFAULT_MAX_RETRIES: u32 = 3;

/// Ray's `-1` for `max_retries`, `max_restarts` and `max_task_retries`: no bound
/// (`u32::MAX`, a count never reached in practice).
pub const UNLIMITED: u32 = u32::MAX;

impl TaskOptions {
    /// Whether it asks where to run (resources or a node): such a task is placed by the
    /// driver's node, never run by this runtime on its own.
    pub fn asks_placement(&self) -> bool {
        !self.resources.is_empty() || self.node_id.is_some()
    }

    /// Refuses placement options that cannot be met: bad amounts or names, or no node
    /// to place the task (a runtime without remote tasks).
    pub(crate) fn check_placement(&self, remote: bool) -> Result<()> {
        crate::actor_impl::check_placement("task", &self.resources, self.node_id.as_deref(), remote)
    }

    /// Whether a failed run with `error`, after `retried` retries, runs again.
    fn retries_after(&self, error: &RayError, retried: u32) -> bool {
        if retried >= self.max_retries.unwrap_or(DEFAULT_MAX_RETRIES) {
            return false;
        }
        match error {
            RayError::Trap { .. } | RayError::NodeDied { .. } => true,
            RayError::Application { type_name, .. } => {
                self.retry_exceptions
                    && (self.retry_exception_types.is_empty()
                        || type_name.as_deref().is_some_and(|name| {
                            self.retry_exception_types.iter().any(|t| t == name)
                        }))
            }
            _ => false,
        }
    }
}

/// One argument: a value, an object whose value is passed once it is ready, or a
/// reference passed as it is.
#[derive(Debug, Clone)]
pub(crate) enum TaskArg {
    Value(Value),
    Object(Arc<Slot>),
    Reference(Arc<Slot>),
}

/// An argument ready for the callee: a value, or a reference passed as it is.
#[derive(Debug, Clone)]
pub(crate) enum Resolved {
    Value(Value),
    Reference(Arc<Slot>),
}

impl Resolved {
    /// Its size in bytes (a reference counts as none), for error messages.
    pub(crate) fn len(&self) -> usize {
        match self {
            Resolved::Value(value) => value.len(),
            Resolved::Reference(_) => 0,
        }
    }
}

/// Charges what a queued task or actor call holds until it runs: its by-value
/// arguments, an object reference's pointer, its name (`name_len` bytes) and a fixed
/// overhead. `what` names it in a refusal (formatted only then: this is a hot path).
pub(crate) fn hold_queued(
    memory: &crate::budget::HostMemory,
    name_len: usize,
    what: impl FnOnce() -> String,
    args: &[TaskArg],
) -> Result<crate::budget::Held> {
    let bytes = args
        .iter()
        .map(|arg| match arg {
            TaskArg::Value(value) => value.len(),
            TaskArg::Object(_) | TaskArg::Reference(_) => 16,
        })
        .sum::<usize>()
        + name_len
        + crate::budget::QUEUED_OVERHEAD;
    memory.hold(bytes, what)
}

/// An actor call still in its actor's mailbox (see [`TaskControl::queued_call`]).
const CALL_QUEUED: u8 = 1;
/// An actor call its actor has started.
const CALL_RUNNING: u8 = 2;
/// An actor call cancelled before it started: it never runs.
const CALL_CANCELLED: u8 = 3;

/// What a cancel needs to reach a task (or an actor call).
#[derive(Debug, Default)]
pub(crate) struct TaskControl {
    cancel: Signal,
    /// The tasks this one submitted, cancelled with it (Ray's `recursive=True`).
    children: Mutex<Vec<Weak<TaskControl>>>,
    /// For an actor call: queued, running or cancelled (`CALL_*`); 0 for a task.
    call_state: AtomicU8,
    /// For a task: where it waits until a worker starts it (see [`spawn`]).
    queued: OnceLock<Weak<Queued>>,
    /// Cancelled alone (Ray's `recursive=False`): what a task sent to another node is
    /// told when it is cancelled.
    alone: std::sync::atomic::AtomicBool,
}

/// A submitted task no worker has started yet. The worker it was spawned on starts it,
/// unless a host caller waiting for its result took it first to run it on its own
/// thread (see [`run_waited`]).
struct Queued(Mutex<Option<Task>>);

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Queued")
    }
}

impl Queued {
    /// The task, for the worker it was spawned on.
    fn take(&self) -> Option<Task> {
        let task = self.0.lock().ok()?.take()?;
        task.output.runtime.unstarted.fetch_sub(1, Ordering::AcqRel);
        Some(task)
    }

    /// The task, for a host caller about to wait for it — unless the workers are
    /// busy with a backlog of tasks not started yet (a batch submitted all at once,
    /// then got one by one): the caller would then run one more task beside them on
    /// cores they already keep busy, and the worker it was spawned on would still
    /// wake for it and find it gone.
    fn take_inline(&self) -> Option<Task> {
        let mut queued = self.0.lock().ok()?;
        let runtime = &queued.as_ref()?.output.runtime;
        if runtime.unstarted.load(Ordering::Acquire) <= runtime.config.worker_threads {
            let task = queued.take()?;
            task.output.runtime.unstarted.fetch_sub(1, Ordering::AcqRel);
            return Some(task);
        }
        None
    }
}

impl TaskControl {
    /// The control of an actor call waiting in its mailbox.
    pub(crate) fn queued_call() -> Self {
        TaskControl {
            call_state: AtomicU8::new(CALL_QUEUED),
            ..TaskControl::default()
        }
    }

    /// Cancels this task and, transitively, every task it submitted.
    pub(crate) fn cancel(&self) {
        self.cancel.raise();
        let mut stack = self.take_children();
        while let Some(child) = stack.pop() {
            if let Some(child) = child.upgrade() {
                child.cancel.raise();
                stack.extend(child.take_children());
            }
        }
    }

    /// The task, if no worker has started it yet: the caller runs it (see [`run_waited`]).
    pub(crate) fn take_queued(&self) -> Option<Task> {
        self.queued.get()?.upgrade()?.take_inline()
    }

    /// Cancels this task only (Ray's `recursive=False`).
    pub(crate) fn cancel_alone(&self) {
        if !self.cancel.is_raised() {
            self.alone.store(true, Ordering::Release);
        }
        self.cancel.raise();
    }

    /// Whether it was cancelled with the tasks it submitted (`false`: alone).
    pub(crate) fn recursive(&self) -> bool {
        !self.alone.load(Ordering::Acquire)
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.is_raised()
    }

    /// Resolves once this task or call is cancelled.
    pub(crate) async fn cancelled(&self) {
        self.cancel.raised().await;
    }

    fn take_children(&self) -> Vec<Weak<TaskControl>> {
        self.children
            .lock()
            .map(|mut children| std::mem::take(&mut *children))
            .unwrap_or_default()
    }

    /// Records `child`, a task this one submitted, so cancelling this one cancels it. A
    /// child submitted after this task was cancelled is cancelled at once.
    pub(crate) fn adopt(&self, child: &Arc<TaskControl>) {
        if let Ok(mut children) = self.children.lock() {
            // Forget finished children now and then, so a long-lived parent that submits
            // many short tasks keeps a short list.
            if children.len() >= 64 && children.len().is_power_of_two() {
                children.retain(|child| child.strong_count() > 0);
            }
            children.push(Arc::downgrade(child));
        }
        if self.is_cancelled() {
            self.cancel();
        }
    }

    /// For an actor call: marks it started, unless it was cancelled while queued (then it
    /// must not run).
    pub(crate) fn start_call(&self) -> bool {
        self.call_state
            .compare_exchange(
                CALL_QUEUED,
                CALL_RUNNING,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// For an actor call still queued: cancels it so it never runs.
    fn cancel_queued_call(&self) -> bool {
        self.call_state
            .compare_exchange(
                CALL_QUEUED,
                CALL_CANCELLED,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }
}

/// Cancels the task producing `slot` and the tasks it submitted, if it has not finished.
pub(crate) fn cancel_slot(slot: &Slot) {
    cancel_slot_with(slot, true);
}

/// Cancels the task producing `slot`; with `recursive`, also the tasks it submitted,
/// transitively. An actor call still queued is answered `Cancelled` at once and never
/// runs; one already running is not interrupted in its own code (its actor's state would
/// be half-changed) but told at its next wait, as Ray cancels async actor tasks at an
/// `await` (see `call_cancel`).
pub(crate) fn cancel_slot_with(slot: &Slot, recursive: bool) {
    if slot.is_ready() {
        return;
    }
    if let Some(control) = slot.producer() {
        if control.cancel_queued_call() {
            let _ = slot.complete(Err(RayError::Cancelled));
        }
        if recursive {
            control.cancel();
        } else {
            control.cancel_alone();
        }
    }
}

/// A submitted task.
pub(crate) struct Task {
    pub(crate) function: Arc<Function>,
    pub(crate) args: Vec<TaskArg>,
    pub(crate) options: TaskOptions,
    pub(crate) control: Arc<TaskControl>,
    /// The program the task belongs to (`None`: the host's own): when it ends, the
    /// task is cancelled, unless it already finished.
    pub(crate) scope: Option<Arc<Signal>>,
    /// Host memory charged for the task while it is queued and running.
    pub(crate) _held: crate::budget::Held,
    /// The actors whose handles its arguments hold serialized: alive until it ends.
    pub(crate) _carried: Vec<Arc<crate::actor_impl::ActorCell>>,
    pub(crate) output: OutputGuard,
}

/// Fills the output slot with `ShutDown` if the task is dropped unfinished (the
/// runtime was torn down), and counts the task out of the in-flight set.
pub(crate) struct OutputGuard {
    pub(crate) slot: Arc<Slot>,
    pub(crate) runtime: Arc<RuntimeInner>,
    /// The task's record for the state API, ended from the slot's outcome.
    pub(crate) record: Arc<crate::state::TaskRecord>,
}

impl Drop for OutputGuard {
    fn drop(&mut self) {
        let _ = self.slot.complete(Err(RayError::ShutDown));
        self.record.end(&self.slot);
        self.runtime.task_finished();
    }
}

/// Starts `task` on one of the runtime's workers — or, if a host caller waits for its
/// result before a worker got to it, on the caller's thread (see [`run_waited`]).
pub(crate) fn spawn(handle: &tokio::runtime::Handle, task: Task) {
    let runtime = &task.output.runtime;
    let backlog = runtime.unstarted.fetch_add(1, Ordering::AcqRel);
    if backlog >= runtime.config.worker_threads {
        // The workers are behind (a batch submitted at once): no `get` runs this one
        // inline (see `Queued::take_inline`), so it skips the bookkeeping that would
        // let one — measured at 6% of submit-all-then-get throughput.
        handle.spawn(async move {
            task.output.runtime.unstarted.fetch_sub(1, Ordering::AcqRel);
            run(task).await;
        });
        return;
    }
    let control = task.control.clone();
    let queued = Arc::new(Queued(Mutex::new(Some(task))));
    let _ = control.queued.set(Arc::downgrade(&queued));
    handle.spawn(async move {
        let task = queued.take();
        // Dropped unstarted (the runtime went away): `OutputGuard` answers `ShutDown`.
        drop(queued);
        if let Some(task) = task {
            run(task).await;
        }
    });
}

/// Runs `task`, which a host caller took from the queue because it is about to wait
/// for its result (Ray runs a task inline in a worker blocked in `get` likewise): no
/// worker thread is woken to start it, and the caller is not woken when it ends — the
/// two thread wake-ups that otherwise dominate a short task's round trip. It runs in
/// the runtime's context (its timers and sockets), yields to the caller's executor at
/// every epoch tick like any guest, and if the caller stops waiting half-way (a
/// timeout on its `get`), the rest of the task goes on on a worker.
pub(crate) async fn run_waited(task: Task) {
    let handle = task.output.runtime.handle.clone();
    RunHere {
        handle,
        future: Some(Box::pin(run(task))),
    }
    .await;
}

/// A task's future polled on the caller's thread inside the runtime's context (see
/// [`run_waited`]).
struct RunHere {
    handle: tokio::runtime::Handle,
    future: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl Future for RunHere {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let Some(future) = this.future.as_mut() else {
            return Poll::Ready(());
        };
        let _context = this.handle.enter();
        let poll = future.as_mut().poll(cx);
        if poll.is_ready() {
            this.future = None;
        }
        poll
    }
}

impl Drop for RunHere {
    fn drop(&mut self) {
        // The caller stopped waiting: the task is not dropped with it but finishes on
        // a worker.
        if let Some(future) = self.future.take() {
            self.handle.spawn(future);
        }
    }
}

/// Runs a task to completion and fills its output.
pub(crate) async fn run(task: Task) {
    let Task {
        function,
        args,
        options,
        control,
        scope,
        _held,
        _carried,
        output,
    } = task;
    let runtime = output.runtime.clone();
    // Outside the select, so what a task printed survives its timeout or cancel.
    let capture = OutputCapture::for_task(&runtime, &function, output.slot.id(), &options);
    let mut retried = 0;
    let outcome = loop {
        let outcome = tokio::select! {
            biased;
            _ = control.cancel.raised() => Err(RayError::Cancelled),
            _ = runtime.abort.raised() => Err(RayError::Cancelled),
            _ = crate::signal::raised_or_never(scope.as_deref()) => Err(RayError::Cancelled),
            outcome = execute(&runtime, &function, args.clone(), &options, &output.slot, &control, capture.as_ref(), scope.as_ref(), &output.record, &_carried) => outcome,
        };
        match &outcome {
            Err(error) if !control.is_cancelled() && options.retries_after(error, retried) => {
                retried += 1;
                output.record.retried();
            }
            _ => break outcome,
        }
    };
    if let Some(printed) = capture.and_then(|capture| capture.take()) {
        output.slot.set_output(printed);
    }
    // An oversized result fills the slot with `ObjectStoreFull`; nothing else to do.
    let _ = crate::refs::fill(&output.slot, outcome);
}

#[allow(
    clippy::too_many_arguments,
    reason = "one task's parts, taken apart once"
)]
async fn execute(
    runtime: &Arc<RuntimeInner>,
    function: &Function,
    args: Vec<TaskArg>,
    options: &TaskOptions,
    slot: &Slot,
    control: &Arc<TaskControl>,
    capture: Option<&OutputCapture>,
    scope: Option<&Arc<Signal>>,
    record: &crate::state::TaskRecord,
    carried: &[Arc<crate::actor_impl::ActorCell>],
) -> Result<Value> {
    use crate::state::TaskState;
    record.set(TaskState::PendingArgsAvail);
    // In a cluster, an argument kept on another node is not fetched here: the task goes
    // to it by reference (locality).
    let retries = options.max_retries.unwrap_or(DEFAULT_MAX_RETRIES);
    if runtime.config.remote_tasks.is_some()
        && args.iter().any(|arg| matches!(arg, TaskArg::Object(_)))
    {
        let sent = std::time::Instant::now();
        if let Some(outcome) = crate::remote::tasks::run_by_reference(
            runtime, function, &args, options, carried, control, slot, retries,
        )
        .await
        {
            crate::timeline::remote_task(&function.name, &slot.id(), sent.elapsed());
            return outcome;
        }
    }
    let args = resolve(args).await?;
    record.set(TaskState::PendingNodeAssignment);
    // In a cluster, a task that can run anywhere goes to the driver's node, which places it.
    if let Some(mut request) =
        crate::remote::tasks::placeable(runtime, function, &args, options, carried)
    {
        // References nested in its arguments go as where their objects are; one that
        // cannot keeps the task here (a placed task fails with why).
        match crate::remote::tasks::export_args(runtime, &mut request, &args).await {
            Err(err) if request.asks_placement() => return Err(err),
            Err(_) => {}
            Ok(()) => {
                record.set(TaskState::Running);
                let sent = std::time::Instant::now();
                if let Some(outcome) =
                    crate::remote::tasks::run_remote(runtime, request, control, slot, retries).await
                {
                    // Its slice in this job's timeline: from sending it to its answer.
                    crate::timeline::remote_task(&function.name, &slot.id(), sent.elapsed());
                    return outcome;
                }
            }
        }
    } else if options.asks_placement() && !options.placed {
        // Never run here on its own: only the node knows where it fits.
        return Err(RayError::InvalidOptions(format!(
            "task {} asks for {} but cannot be sent to a node: a placed task's arguments \
             must be values of at most {} bytes in all (object references inside them \
             to objects that are ready and hold no references themselves), it must not set its own limits or capabilities, nor carry handles to \
             this program's own actors",
            function.name,
            if options.resources.is_empty() {
                format!("node {:?}", options.node_id.as_deref().unwrap_or_default())
            } else {
                format!("resources {:?}", options.resources)
            },
            crate::remote::tasks::MAX_REMOTE_ARGS_BYTES,
        )));
    }
    let permit = runtime
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| RayError::ShutDown)?;
    // Memory-aware: a guest task waits until its memory limit and its arguments fit
    // the host memory budget (see `budget.rs`); not counted against its deadline.
    let reservation = match &function.kind {
        FunctionKind::Wasm(_) => {
            let limits = runtime.sandbox.limits_for(&options.limits)?;
            let need = limits
                .memory
                .saturating_add(args.iter().map(Resolved::len).sum());
            record.set(TaskState::PendingObjStoreMemAvail);
            Some(runtime.objects.host_memory().admit(need).await)
        }
        FunctionKind::Native(_) => None,
    };
    record.set(TaskState::Running);
    let timeout = options.timeout.or(runtime.config.default_timeout);
    let clock = timeout.map(|_| Arc::new(crate::deadline::RunClock::default()));
    let work = async {
        match &function.kind {
            FunctionKind::Native(native) => {
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    match arg {
                        Resolved::Value(value) => values.push(value),
                        Resolved::Reference(_) => {
                            return Err(RayError::BadArguments {
                                function: function.name.clone(),
                                message: "a native function takes values, not object references"
                                    .into(),
                            });
                        }
                    }
                }
                native.call(values).await.map_err(|failure| match failure {
                    InvokeFailure::Application(message) => {
                        RayError::application(function.name.clone(), message)
                    }
                    InvokeFailure::BadArguments(message) => RayError::BadArguments {
                        function: function.name.clone(),
                        message,
                    },
                })
            }
            FunctionKind::Wasm(component) => {
                let run = crate::component::TaskRun {
                    id: slot.id(),
                    slot,
                    options,
                    capture,
                    control,
                    scope,
                    clock: clock.clone(),
                };
                // Boxed: an instance's future is large, and a task waiting for its
                // dependencies or a permit should hold only a pointer's worth of it.
                let span = crate::timeline::task_span(&function.name, &slot.id());
                Box::pin(tracing::Instrument::instrument(
                    component.invoke(runtime, &function.name, args, (permit, reservation), &run),
                    span,
                ))
                .await
            }
        }
    };
    // The deadline counts the task's run time, not its waits for a thread (see
    // `deadline.rs`).
    match (timeout, clock.clone()) {
        (Some(limit), Some(clock)) => crate::deadline::within(limit, clock, work).await,
        _ => work.await,
    }
}

/// Waits for every object argument and replaces it with its value (references are
/// passed as they are, without waiting).
pub(crate) async fn resolve(args: Vec<TaskArg>) -> Result<Vec<Resolved>> {
    let mut resolved = Vec::with_capacity(args.len());
    for arg in args {
        resolved.push(match arg {
            TaskArg::Value(value) => Resolved::Value(value),
            TaskArg::Reference(slot) => Resolved::Reference(slot),
            TaskArg::Object(slot) => match slot.ready().await {
                Ok(stored) => Resolved::Value(slot.value(stored)?),
                Err(err) => {
                    return Err(RayError::DependencyFailed {
                        object: slot.id(),
                        cause: crate::error::Cause::new(err.clone()),
                    });
                }
            },
        });
    }
    Ok(resolved)
}

/// The `count` objects of a task or actor call whose result object is `whole` (Ray's
/// `num_returns`): for 1, `whole` itself; otherwise new objects, filled from the
/// elements of the tuple `whole` holds once it is ready (no copy: each is a slice of
/// its bytes, holding the references inside it). A result that is not a tuple of
/// `count` values fails every one of them, and so does a failed task. Cancelling any
/// of them cancels the task. For 0, nothing: the task runs and its result is dropped.
pub(crate) fn split_returns(
    objects: &crate::object_store::ObjectStore,
    spawner: Option<&tokio::runtime::Handle>,
    whole: Arc<Slot>,
    count: usize,
) -> Vec<Arc<Slot>> {
    if count == 1 {
        return vec![whole];
    }
    let parts: Vec<Arc<Slot>> = (0..count).map(|_| objects.new_slot()).collect();
    if let Some(control) = whole.producer() {
        for part in &parts {
            part.set_producer(&control);
        }
    }
    let fill = PartsGuard(parts.clone());
    if whole.is_ready() && !whole.needs_fetch() {
        fill.fill(&whole, count);
    } else if count > 0 {
        let split = async move {
            whole.ready().await;
            fill.fill(&whole, count);
        };
        match spawner
            .cloned()
            .or_else(|| tokio::runtime::Handle::try_current().ok())
        {
            Some(handle) => drop(handle.spawn(split)),
            // No runtime to run on (a host caller outside tokio): a thread of its own.
            None => drop(std::thread::spawn(move || {
                if let Ok(executor) = tokio::runtime::Builder::new_current_thread().build() {
                    executor.block_on(split);
                }
            })),
        }
    }
    parts
}

/// The objects of a split result: filled from the whole, or with `ShutDown` if the
/// runtime goes away first.
struct PartsGuard(Vec<Arc<Slot>>);

impl PartsGuard {
    fn fill(self, whole: &Slot, count: usize) {
        let Some(outcome) = whole.try_get() else {
            return;
        };
        if let (Some(printed), Some(first)) = (whole.output(), self.0.first()) {
            first.set_output(printed.clone());
        }
        let bad = |message: String| RayError::BadArguments {
            function: "num_returns".into(),
            message,
        };
        let whole_value = match outcome {
            Err(err) => Err(err.clone()),
            Ok(stored) => whole.value(stored),
        };
        let pieces = match whole_value {
            Err(err) => Err(err),
            Ok(value) if value.encoding == crate::object_store::Encoding::Raw => Err(bad(format!(
                "expected a tuple of {count} values (num_returns), got raw bytes"
            ))),
            Ok(value) => crate::refs::split(&value.data, count)
                .map_err(|message| bad(format!("num_returns = {count}: {message}")))
                .map(|ranges| {
                    ranges
                        .into_iter()
                        .map(|range| {
                            let data = value.data.slice(range);
                            let refs = crate::refs::part_of(&value.refs, &data);
                            Value::with_refs(crate::object_store::Encoding::Msgpack, data, refs)
                        })
                        .collect::<Vec<_>>()
                }),
        };
        match pieces {
            Ok(values) => {
                for (part, value) in self.0.iter().zip(values) {
                    let _ = crate::refs::fill(part, Ok(value));
                }
            }
            Err(err) => {
                for part in &self.0 {
                    let _ = part.complete(Err(err.clone()));
                }
            }
        }
    }
}

impl Drop for PartsGuard {
    fn drop(&mut self) {
        for part in &self.0 {
            let _ = part.complete(Err(RayError::ShutDown));
        }
    }
}

#[cfg(test)]
mod retry_tests {
    use super::*;

    fn application(type_name: Option<&str>) -> RayError {
        RayError::Application {
            function: "f".into(),
            message: "failed".into(),
            type_name: type_name.map(str::to_string),
            value: None,
        }
    }

    /// Ray's `retry_exceptions=[MyError]`: only listed type names are retried, and only
    /// within `max_retries`; without `retry_exceptions` none is; traps are retried
    /// whatever the list.
    #[test]
    fn retry_exception_types_pick_the_errors_retried() {
        let listed = TaskOptions {
            max_retries: Some(2),
            retry_exceptions: true,
            retry_exception_types: vec!["app::Transient".into()],
            ..TaskOptions::default()
        };
        assert!(listed.retries_after(&application(Some("app::Transient")), 0));
        assert!(listed.retries_after(&application(Some("app::Transient")), 1));
        assert!(!listed.retries_after(&application(Some("app::Transient")), 2));
        assert!(!listed.retries_after(&application(Some("app::Other")), 0));
        assert!(!listed.retries_after(&application(None), 0));
        let trap = RayError::Trap {
            function: "f".into(),
            message: "boom".into(),
            backtrace: String::new(),
            context: crate::error::TrapContext::default(),
        };
        assert!(listed.retries_after(&trap, 0));
        let every = TaskOptions {
            retry_exceptions: true,
            ..TaskOptions::default()
        };
        assert!(every.retries_after(&application(Some("app::Other")), 0));
        assert!(every.retries_after(&application(None), 0));
        let none = TaskOptions::default();
        assert!(!none.retries_after(&application(Some("app::Transient")), 0));
    }
}
