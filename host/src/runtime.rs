//! [`Runtime`]: the embedded rustyray node — engine, worker threads, object store,
//! function registry — and the host API over them.
//!
//! A `Runtime` owns its own multi-threaded tokio executor (the worker threads tasks
//! run on), so it can be used from any async context, or none. Its API is Ray's:
//! `put`, `get`, `wait`, `cancel`, tasks submitted through [`TaskBuilder`], and a
//! graceful [`Runtime::shutdown`] after which every pending `get` has an answer.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{Notify, Semaphore};
use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::actor_impl::{
    self as actor, ActorClass, ActorDirectory, ActorHandle, ActorId, ActorOptions,
    DEFAULT_NAMESPACE,
};
use crate::bindings::{TaskCtx, TaskModule};
use crate::budget::{HostMemory, InstanceBudget, default_host_memory};
use crate::cache::{CompileCache, default_cache_dir, default_cache_max_bytes};
use crate::codec;
use crate::component::{ComponentInfo, LoadedComponent};
use crate::engine::{EpochTicker, PoolSizes, build_engine};
use crate::error::{RayError, Result};
use crate::limits::{Limits, ResolvedLimits};
use crate::object_ref::ObjectRef;
use crate::object_store::{Encoding, ObjectStore, Slot, StoreStats};
use crate::output::{OutputLine, OutputSink};
use crate::registry::{Function, FunctionInfo, FunctionKind, NativeFunction, Registry};
use crate::sandbox::{Capabilities, SandboxDefaults, Stdin};
use crate::signal::Signal;
use crate::task_impl::{self as task, OutputGuard, Task, TaskArg, TaskControl, TaskOptions};

/// Settings of a runtime; see [`RuntimeBuilder`] for what each means.
#[derive(Debug, Clone)]
pub(crate) struct RuntimeConfig {
    pub(crate) worker_threads: usize,
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) cache_max_bytes: u64,
    /// `None`: half the host memory budget, at most 4 GiB.
    pub(crate) object_store_capacity: Option<usize>,
    /// Where cold objects spill (`None`: under the cache dir, see `spill.rs`).
    pub(crate) spill_dir: Option<PathBuf>,
    /// The most bytes spilled at once (`None`: 4 × the object store's cap).
    pub(crate) spill_capacity: Option<usize>,
    /// The node number of ids (0 for a single runtime).
    pub(crate) node: u64,
    pub(crate) max_instances: u32,
    pub(crate) max_actors: u32,
    pub(crate) max_running: usize,
    /// The host memory budget; `None` takes [`default_host_memory`].
    pub(crate) host_memory: Option<usize>,
    pub(crate) memory_limit: usize,
    pub(crate) default_timeout: Option<Duration>,
    /// Capabilities, limits, fuel and the live output sink (see `sandbox.rs`).
    pub(crate) sandbox: SandboxConfig,
    /// Task records the state API keeps (see `state.rs`).
    pub(crate) max_task_records: usize,
    /// The namespace of guests' actor names when they give none.
    pub(crate) namespace: String,
    /// Where detached actors are created and named actors looked up when this runtime
    /// has none of that name (a job's driver: its node; see `remote/`).
    pub(crate) remote_actors: Option<Arc<dyn crate::remote::ActorTransport>>,
    /// Where tasks that can run anywhere are sent (a job's driver in a cluster: its
    /// node; see `remote/tasks.rs`).
    pub(crate) remote_tasks: Option<Arc<dyn crate::remote::TaskTransport>>,
    /// Where detached actors of snapshot classes are kept (a node's data dir).
    pub(crate) snapshots: Option<Arc<dyn crate::remote::SnapshotStore>>,
    /// Several components may define one name (see [`RuntimeBuilder::shared_names`]).
    pub(crate) shared_names: bool,
}

/// The builder's sandbox settings.
#[derive(Clone, Default)]
pub(crate) struct SandboxConfig {
    pub(crate) capabilities: Capabilities,
    pub(crate) limits: Limits,
    pub(crate) fuel: bool,
    pub(crate) sink: Option<OutputSink>,
    pub(crate) escape_driver_output: bool,
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("capabilities", &self.capabilities)
            .field("limits", &self.limits)
            .field("fuel", &self.fuel)
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

/// Builds a [`Runtime`].
#[derive(Debug, Clone)]
pub struct RuntimeBuilder {
    config: RuntimeConfig,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        RuntimeBuilder {
            config: RuntimeConfig {
                worker_threads: threads,
                cache_dir: default_cache_dir(),
                cache_max_bytes: default_cache_max_bytes(),
                object_store_capacity: None,
                spill_dir: None,
                spill_capacity: None,
                node: 0,
                max_instances: 1000,
                max_actors: 1000,
                max_running: threads * 16,
                host_memory: None,
                memory_limit: 256 << 20,
                default_timeout: None,
                sandbox: SandboxConfig::default(),
                max_task_records: crate::state::DEFAULT_MAX_TASK_RECORDS,
                namespace: DEFAULT_NAMESPACE.to_string(),
                remote_actors: None,
                remote_tasks: None,
                snapshots: None,
                shared_names: false,
            },
        }
    }
}

impl RuntimeBuilder {
    /// Threads tasks run on (default: one per core).
    pub fn worker_threads(mut self, threads: usize) -> Self {
        self.config.worker_threads = threads.max(1);
        self
    }

    /// Where compiled components are cached (default: `~/.cache/rustyray`, or
    /// `$RUSTYRAY_CACHE_DIR`); `None` compiles every load afresh.
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.config.cache_dir = dir;
        self
    }

    /// Total size of the compiled artifacts the cache keeps (default 1 GiB,
    /// [`DEFAULT_CACHE_MAX_BYTES`](crate::cache::DEFAULT_CACHE_MAX_BYTES), or
    /// `$RUSTYRAY_CACHE_MAX_MIB`); the least
    /// recently used are evicted past it.
    pub fn cache_max_bytes(mut self, bytes: u64) -> Self {
        self.config.cache_max_bytes = bytes;
        self
    }

    /// Bytes of objects the store keeps in memory (default: half the
    /// [`host_memory`](Self::host_memory) budget, at most 4 GiB). Past it, the least
    /// recently used objects of 64 KiB or more that nothing is reading are spilled to
    /// disk ([`spill_dir`](Self::spill_dir)) and read back when used (Ray's object
    /// spilling); only a value that cannot be made to fit is refused with
    /// [`RayError::ObjectStoreFull`].
    pub fn object_store_capacity(mut self, bytes: usize) -> Self {
        self.config.object_store_capacity = Some(bytes);
        self
    }

    /// Bytes of objects that may be spilled to disk at once (default: 4 × the object
    /// store's cap). Past it nothing more spills, and what does not fit in memory is
    /// refused with [`RayError::LimitExceeded`] naming
    /// [`Limit::Spilled`](crate::Limit::Spilled).
    pub fn spill_capacity(mut self, bytes: usize) -> Self {
        self.config.spill_capacity = Some(bytes);
        self
    }

    /// The directory objects spill to (default: `spill/` in the cache directory, or
    /// the system's temporary directory without one). The runtime writes into a
    /// private (0700) subdirectory of its own, made on its first spill, with files
    /// 0600, and removes them when their objects are freed and when it goes away.
    /// A disk error is [`RayError::Spill`], naming the directory.
    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.spill_dir = Some(dir.into());
        self
    }

    /// The node number this runtime's object and actor ids carry (default 0, a single
    /// runtime). The cluster will give each node its own, so that an id says which node
    /// holds its object or actor; the ids' 128 random bits make them unguessable either way.
    pub fn node(mut self, node: u64) -> Self {
        self.config.node = node;
        self
    }

    /// Task instances that may be alive at once: running tasks and tasks waiting on
    /// objects (default 1,000). A task past it fails with
    /// [`RayError::LimitExceeded`] naming [`Limit::LiveInstances`](crate::Limit::LiveInstances).
    /// Actors are counted apart ([`max_actors`](Self::max_actors)), so idle actors
    /// cannot take the room tasks need. Each reserves address space, not memory.
    pub fn max_instances(mut self, instances: u32) -> Self {
        self.config.max_instances = instances.max(2);
        self
    }

    /// Actors that may be alive at once (default 1,000); creating one more fails with
    /// [`RayError::LimitExceeded`] naming [`Limit::LiveActors`](crate::Limit::LiveActors).
    pub fn max_actors(mut self, actors: u32) -> Self {
        self.config.max_actors = actors.max(1);
        self
    }

    /// Bytes the host may hold on guests' behalf, all together: objects, by-value
    /// arguments of queued tasks and calls, error messages, captured output, and the
    /// linear memory instances grow into (default: 16 × the memory limit, at least
    /// 1 GiB, at most half the machine's memory). What does not fit is refused with
    /// [`RayError::LimitExceeded`] naming [`Limit::HostMemory`](crate::Limit::HostMemory).
    pub fn host_memory(mut self, bytes: usize) -> Self {
        self.config.host_memory = Some(bytes.max(1 << 20));
        self
    }

    /// Tasks executing at once (default 16 per worker thread); the rest queue.
    pub fn max_running(mut self, tasks: usize) -> Self {
        self.config.max_running = tasks.max(1);
        self
    }

    /// Linear memory a guest may grow to (default 256 MiB): the size of each slot
    /// of the instance pool, so also the most a task's own [`Limits`] may ask for.
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.config.memory_limit = bytes.max(64 << 10);
        self
    }

    /// Deadline for tasks and actor calls that set none (default: none).
    pub fn default_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.default_timeout = timeout;
        self
    }

    /// What tasks, actors and drivers may touch unless given their own (default:
    /// nothing; see [`Capabilities`]).
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.config.sandbox.capabilities = capabilities;
        self
    }

    /// Default limits of tasks and actors (over the built-in ones: memory as
    /// [`memory_limit`](Self::memory_limit), no fuel limit, 20,000 table elements,
    /// 20 instances and 20 tables per store, results up to the memory limit, 1 MiB
    /// of captured output). A default fuel limit turns fuel metering on.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.sandbox.limits = limits;
        self
    }

    /// Meters fuel, so tasks and actors can be given a fuel limit (default off:
    /// metering adds a counter update to every block of every guest; a few percent
    /// on a tight loop here, more on call-heavy code).
    pub fn fuel(mut self, meter: bool) -> Self {
        self.config.sandbox.fuel = meter;
        self
    }

    /// Passes guest stdout and stderr, a line at a time and labelled with the task
    /// or actor, to `sink` as they are written (they are captured either way).
    pub fn on_output(mut self, sink: impl Fn(&OutputLine<'_>) + Send + Sync + 'static) -> Self {
        self.config.sandbox.sink = Some(Arc::new(sink));
        self
    }

    /// Escapes control characters in a driver's own stdout and stderr (newlines and
    /// tabs pass), so a program cannot drive the terminal it prints to (default off
    /// for embedders; the CLI turns it on unless `--raw-output`).
    pub fn escape_driver_output(mut self, escape: bool) -> Self {
        self.config.sandbox.escape_driver_output = escape;
        self
    }

    /// The namespace guests' actor names are in when they name none (default
    /// `"default"`; a node gives each job its own, as Ray does).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.config.namespace = namespace.into();
        self
    }

    /// Lets several loaded components define the same function or actor class name
    /// (default off: a second one is refused with [`RayError::DuplicateFunction`]). A
    /// node's runtimes turn it on, as they load every deployed module. A name then
    /// means the calling guest's own component's, else the only component's that
    /// defines it; one that several other components define is refused when used, with
    /// [`RayError::AmbiguousName`] naming them, and `MODULE/NAME` picks one (`MODULE`:
    /// the component's SHA-256 or a prefix of 8+ hex digits, its source name, or that
    /// name's file stem). The host API (no calling component) takes the only one, or
    /// the qualified name.
    pub fn shared_names(mut self, shared: bool) -> Self {
        self.config.shared_names = shared;
        self
    }

    /// Creates detached actors through `transport` (in the runtime it reaches), and
    /// looks up there the named actors this runtime does not have: how a job's driver
    /// reaches its node's detached actors.
    pub fn remote_actors(mut self, transport: Arc<dyn crate::remote::ActorTransport>) -> Self {
        self.config.remote_actors = Some(transport);
        self
    }

    /// Sends the tasks that can run anywhere through `transport` (see
    /// [`remote::tasks`](crate::remote::tasks)): how a job's driver in a cluster spreads
    /// its tasks over the nodes.
    pub fn remote_tasks(mut self, transport: Arc<dyn crate::remote::TaskTransport>) -> Self {
        self.config.remote_tasks = Some(transport);
        self
    }

    /// Keeps detached actors of snapshot classes in `store` (see
    /// [`ActorHost`](crate::remote::ActorHost)).
    pub fn snapshot_store(mut self, store: Arc<dyn crate::remote::SnapshotStore>) -> Self {
        self.config.snapshots = Some(store);
        self
    }

    /// How many task records the state API keeps, the latest submitted (default
    /// [`DEFAULT_MAX_TASK_RECORDS`](crate::state::DEFAULT_MAX_TASK_RECORDS)); older ones
    /// are no longer listed by [`Runtime::state`], as Ray keeps a bounded number of
    /// task events.
    pub fn max_task_records(mut self, records: usize) -> Self {
        self.config.max_task_records = records.max(1);
        self
    }

    /// Starts the runtime.
    pub fn build(self) -> Result<Runtime> {
        let mut config = self.config;
        config.max_running = config
            .max_running
            .min(config.max_instances as usize / 2)
            .max(1);
        config.sandbox.capabilities.check()?;
        crate::limits::check_name("namespace", &config.namespace)?;
        let cache = CompileCache::open(config.cache_dir.clone(), config.cache_max_bytes);
        cache.check_grants(&config.sandbox.capabilities)?;
        let spill_root = config
            .spill_dir
            .clone()
            .unwrap_or_else(|| crate::spill::default_root(cache.dir()));
        crate::spill::check_grants(&spill_root, &config.sandbox.capabilities)?;
        let host_memory = config
            .host_memory
            .unwrap_or_else(|| default_host_memory(config.memory_limit));
        // Below the host budget, so that objects spill before the budget refuses them.
        let store_capacity = config
            .object_store_capacity
            .unwrap_or((host_memory / 2).min(DEFAULT_OBJECT_STORE));
        let fuel = config.sandbox.fuel || config.sandbox.limits.fuel.is_some();
        let sandbox = SandboxDefaults {
            capabilities: Arc::new(config.sandbox.capabilities.clone()),
            limits: ResolvedLimits::defaults(config.memory_limit, &config.sandbox.limits),
            sink: config.sandbox.sink.clone(),
            fuel,
            pool_instances: pool_instances(&config),
            escape_driver_output: config.sandbox.escape_driver_output,
        };
        let pool = PoolSizes {
            instances: pool_instances(&config),
            max_memory: config.memory_limit,
            fuel,
        };
        let engine = build_engine(&pool, false)?;
        let linker = build_linker(&engine, false)?;
        let executor = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads)
            .thread_name("rustyray-worker")
            .enable_time()
            // Guests' granted sockets and HTTP requests run on these threads.
            .enable_io()
            .build()
            .map_err(|err| RayError::io("starting worker threads", err))?;
        let ticker = EpochTicker::start(engine.clone())?;
        let inner = Arc::new(RuntimeInner {
            handle: executor.handle().clone(),
            executor: Mutex::new(Some(executor)),
            _ticker: ticker,
            cache,
            objects: ObjectStore::with_spill(
                store_capacity,
                HostMemory::new(host_memory),
                config.node,
                spill_root,
                config
                    .spill_capacity
                    .unwrap_or(store_capacity.saturating_mul(4)),
            ),
            instances: InstanceBudget::new(
                config.max_instances as usize,
                config.max_actors as usize,
            ),
            permits: Arc::new(Semaphore::new(config.max_running)),
            registry: Registry::new(config.shared_names),
            components: Mutex::new(Vec::new()),
            actors: Arc::new(ActorDirectory::new(config.node)),
            namespace: config.namespace.clone(),
            remote_actors: config.remote_actors.clone(),
            snapshots: config.snapshots.clone(),
            resolver: std::sync::OnceLock::new(),
            shared_objects: std::sync::OnceLock::new(),
            abort: Signal::default(),
            closed: AtomicBool::new(false),
            in_flight: AtomicU64::new(0),
            submitted: AtomicU64::new(0),
            unstarted: std::sync::atomic::AtomicUsize::new(0),
            idle: Notify::new(),
            engine,
            linker,
            pool,
            concurrent: std::sync::OnceLock::new(),
            state: crate::state::StateTables::new(config.max_task_records),
            sandbox,
            config,
        });
        Ok(Runtime {
            _owner: Arc::new(Owner(inner.clone())),
            inner,
        })
    }
}

/// The most the object store keeps in memory by default (Ray's default is 30% of the
/// machine's memory; ours is half the host memory budget, up to this).
const DEFAULT_OBJECT_STORE: usize = 4 << 30;

/// Slots of the instance pool: every task and every actor budget allows, plus a few
/// for drivers and `describe`.
fn pool_instances(config: &RuntimeConfig) -> u32 {
    config
        .max_instances
        .saturating_add(config.max_actors)
        .saturating_add(4)
}

/// The linker of `engine`: WASI, `wasi:http`, the network hooks, rustyray's imports,
/// and with `concurrent` its `concurrent-objects`.
fn build_linker(engine: &Engine, concurrent: bool) -> Result<Linker<TaskCtx>> {
    let mut linker = Linker::<TaskCtx>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)
        .map_err(|err| RayError::Internal(format!("linking WASI: {err}")))?;
    crate::symlinks::guard_symlinks(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
        .map_err(|err| RayError::Internal(format!("linking wasi:http: {err}")))?;
    crate::net::sockets::add_to_linker(&mut linker)
        .map_err(|err| RayError::Internal(format!("linking the network hooks: {err}")))?;
    TaskModule::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |ctx| ctx)
        .map_err(|err| RayError::Internal(format!("linking rustyray imports: {err}")))?;
    if concurrent {
        crate::actor_impl::concurrent::add_to_linker(&mut linker).map_err(|err| {
            RayError::Internal(format!("linking rustyray's concurrent imports: {err}"))
        })?;
    }
    Ok(linker)
}

/// The engine with the component model's async ABI, its linker and its epoch ticker.
pub(crate) struct ConcurrentEngine {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<TaskCtx>,
    _ticker: EpochTicker,
}

impl RuntimeInner {
    /// The engine for components that use the component model's async ABI, made on
    /// first use (a runtime that never loads one never pays for it).
    pub(crate) fn concurrent_engine(&self) -> Result<&ConcurrentEngine> {
        self.concurrent
            .get_or_init(|| {
                let engine = build_engine(&self.pool, true)?;
                let linker = build_linker(&engine, true)?;
                let ticker = EpochTicker::start(engine.clone())?;
                Ok(ConcurrentEngine {
                    engine,
                    linker,
                    _ticker: ticker,
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The shared state behind a [`Runtime`], reachable from tasks and instances.
pub(crate) struct RuntimeInner {
    /// Records of tasks and actors for the state API (`state.rs`).
    pub(crate) state: Arc<crate::state::StateTables>,
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<TaskCtx>,
    /// Sizes the engines are built with.
    pool: PoolSizes,
    /// See [`RuntimeInner::concurrent_engine`].
    concurrent: std::sync::OnceLock<Result<ConcurrentEngine>>,
    pub(crate) cache: CompileCache,
    pub(crate) objects: ObjectStore,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) registry: Registry,
    pub(crate) config: RuntimeConfig,
    /// Capabilities and limits every instance starts from.
    pub(crate) sandbox: SandboxDefaults,
    pub(crate) abort: Signal,
    pub(crate) actors: Arc<ActorDirectory>,
    /// Guests' default namespace (see [`RuntimeBuilder::namespace`]).
    pub(crate) namespace: String,
    /// See [`RuntimeBuilder::remote_actors`].
    pub(crate) remote_actors: Option<Arc<dyn crate::remote::ActorTransport>>,
    /// See [`RuntimeBuilder::snapshot_store`].
    pub(crate) snapshots: Option<Arc<dyn crate::remote::SnapshotStore>>,
    /// See [`Runtime::resolve_actors_through`].
    pub(crate) resolver: std::sync::OnceLock<Arc<dyn crate::remote::ActorTransport>>,
    /// See [`Runtime::share_objects_through`].
    pub(crate) shared_objects: std::sync::OnceLock<Arc<dyn crate::remote::TaskTransport>>,
    /// Live task and actor instances, counted apart (see `budget.rs`).
    pub(crate) instances: Arc<InstanceBudget>,
    components: Mutex<Vec<Arc<LoadedComponent>>>,
    pub(crate) handle: tokio::runtime::Handle,
    executor: Mutex<Option<tokio::runtime::Runtime>>,
    /// Advances the epoch until the runtime's last reference is gone.
    _ticker: EpochTicker,
    closed: AtomicBool,
    in_flight: AtomicU64,
    submitted: AtomicU64,
    /// Tasks spawned that no worker (nor a waiting caller) has started yet: a host
    /// `get` runs its task inline only while the workers are not this far behind.
    pub(crate) unstarted: std::sync::atomic::AtomicUsize,
    idle: Notify,
}

impl RuntimeInner {
    /// Where this runtime's objects cross to other nodes and others' are reached
    /// (`remote/borrow.rs`): its task transport, else the one it shares objects
    /// through ([`Runtime::share_objects_through`]); `None` off a cluster.
    pub(crate) fn object_transport(&self) -> Option<&Arc<dyn crate::remote::TaskTransport>> {
        self.config
            .remote_tasks
            .as_ref()
            .or_else(|| self.shared_objects.get())
    }

    /// The SHA-256s of the components loaded here, in load order.
    pub(crate) fn component_hashes(&self) -> Vec<String> {
        self.components
            .lock()
            .map(|components| {
                components
                    .iter()
                    .map(|component| component.hash().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Submits a task; the returned slot is filled when it ends. Fails only when the
    /// submission itself cannot be held: a name over [`NAME_LENGTH`](crate::limits::NAME_LENGTH),
    /// or its by-value arguments (and bookkeeping) over the host memory budget. A task
    /// that cannot run (unknown function, runtime shut down) fails its object.
    ///
    /// After `shutdown` starts, the host API submits nothing more, but work already in
    /// flight (`from_guest`) may still submit the tasks it needs to finish, until the
    /// shutdown deadline aborts everything. `scope` is the program the task belongs to:
    /// when it ends, the task is cancelled.
    /// `function` may be qualified (`MODULE/NAME`, as a guest's resolved name is).
    pub(crate) fn submit_slot(
        self: &Arc<Self>,
        function: &str,
        args: Vec<TaskArg>,
        options: TaskOptions,
        from_guest: bool,
        scope: Option<Arc<Signal>>,
        carried: Vec<Arc<crate::actor_impl::ActorCell>>,
    ) -> Result<Arc<Slot>> {
        crate::limits::check_name("function", function)?;
        options.check_placement(self.config.remote_tasks.is_some())?;
        let held = task::hold_queued(
            self.objects.host_memory(),
            function.len(),
            || format!("submitting {function}"),
            &args,
        )?;
        let slot = self.objects.new_slot();
        let refused = if from_guest {
            self.abort.is_raised()
        } else {
            self.closed.load(Ordering::Acquire)
        };
        if refused {
            let _ = slot.complete(Err(RayError::ShutDown));
            return Ok(slot);
        }
        let function = match self.registry.lookup(function) {
            Ok(function) => function,
            Err(err) => {
                let _ = slot.complete(Err(err));
                return Ok(slot);
            }
        };
        let control = Arc::new(TaskControl::default());
        slot.set_producer(&control);
        let record = self.state.task(&function, &slot);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.submitted.fetch_add(1, Ordering::Relaxed);
        let task = Task {
            function,
            args,
            options,
            control,
            scope,
            _held: held,
            _carried: carried,
            output: OutputGuard {
                slot: slot.clone(),
                runtime: self.clone(),
                record,
            },
        };
        task::spawn(&self.handle, task);
        Ok(slot)
    }

    /// The state API's view of this runtime now (see `state.rs`).
    pub(crate) fn state_snapshot(&self) -> crate::state::StateSnapshot {
        let mut snapshot = self
            .state
            .snapshot(self.objects.stats(), self.objects.live_puts());
        snapshot.instances = crate::state::InstanceSummary {
            tasks: self.instances.tasks() as u64,
            actors: self.instances.actors() as u64,
        };
        snapshot
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Spawns work that shutdown must wait for (an actor's mailbox loop).
    pub(crate) fn spawn_tracked(
        self: &Arc<Self>,
        future: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        struct Tracked(Arc<RuntimeInner>);
        impl Drop for Tracked {
            fn drop(&mut self) {
                self.0.task_finished();
            }
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let tracked = Tracked(self.clone());
        // Boxed: an async block that awaits a future it captured keeps room for it
        // twice (the capture and the awaited copy), and every idle actor's mailbox
        // loop lives here — 7.7 KB each unboxed, for a 3.8 KB loop.
        let future = Box::pin(future);
        self.handle.spawn(async move {
            let _tracked = tracked;
            future.await;
        });
    }

    pub(crate) fn task_finished(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }

    async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.in_flight.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Counters of a runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeStats {
    /// The object store.
    pub objects: StoreStats,
    /// Tasks submitted since start.
    pub tasks_submitted: u64,
    /// Tasks not yet finished (waiting on arguments, queued or running), plus
    /// live actors' mailboxes.
    pub tasks_in_flight: u64,
    /// Actors alive (with a handle or a name).
    pub live_actors: usize,
    /// Task instances alive (running, or parked in `get`), against
    /// [`RuntimeBuilder::max_instances`].
    pub task_instances: usize,
    /// Actors counted against [`RuntimeBuilder::max_actors`] (from creation to their
    /// end).
    pub actor_instances: usize,
    /// Tasks waiting for room in the host memory budget to run (memory-aware
    /// scheduling: a task reserves its memory limit plus its arguments).
    pub tasks_waiting_for_memory: usize,
    /// Bytes reserved by running tasks and not yet grown into.
    pub host_memory_reserved: usize,
}

/// A rustyray runtime: load components, submit tasks, put and get objects.
///
/// A cheap handle: clones share one runtime (hand one to each part of a service). The
/// runtime stops when [`shutdown`](Runtime::shutdown) or [`serve`](Runtime::serve) says
/// so, or when the last clone is dropped.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
    /// Held by every clone of this handle, never by tasks: the last one dropped stops
    /// the runtime.
    _owner: Arc<Owner>,
}

/// Stops the runtime when the last [`Runtime`] handle goes.
struct Owner(Arc<RuntimeInner>);

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Runtime {
    /// A runtime with default settings.
    pub fn new() -> Result<Self> {
        RuntimeBuilder::default().build()
    }

    /// Starts configuring a runtime.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// From now on, an actor id this runtime has no actor of (a handle that arrived
    /// inside a value) is looked up through `transport`, and called through it — for
    /// a runtime hosting actors for others (a node's), whose own actors are not
    /// created through a transport (unlike [`RuntimeBuilder::remote_actors`]). Set
    /// once; a later call is ignored.
    pub fn resolve_actors_through(&self, transport: Arc<dyn crate::remote::ActorTransport>) {
        let _ = self.inner.resolver.set(transport);
    }

    /// From now on, object references crossing to or from this runtime inside values
    /// (its hosted actors' call arguments and results) are made addressable, fetched,
    /// counted and let go through `transport`'s object operations (`remote/borrow.rs`)
    /// — for a runtime hosting actors for others (a node's), which sends no tasks
    /// anywhere (unlike [`RuntimeBuilder::remote_tasks`], whose transport does both).
    /// Set once; a later call is ignored.
    pub fn share_objects_through(&self, transport: Arc<dyn crate::remote::TaskTransport>) {
        let _ = self.inner.shared_objects.set(transport);
    }

    /// Loads a component from a `.wasm` file and registers its functions.
    pub async fn load(&self, path: impl AsRef<Path>) -> Result<ComponentInfo> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes =
            std::fs::read(path).map_err(|err| RayError::io(format!("reading {name}"), err))?;
        self.load_owned(bytes, name).await
    }

    /// Loads a component from bytes (`name` is for messages) and registers its
    /// functions. Loading the same component again is a no-op.
    pub async fn load_bytes(&self, bytes: &[u8], name: &str) -> Result<ComponentInfo> {
        self.load_owned(bytes.to_vec(), name.to_string()).await
    }

    /// [`Runtime::load_bytes`] of bytes it may keep (no copy of a file just read).
    async fn load_owned(&self, bytes: Vec<u8>, name: String) -> Result<ComponentInfo> {
        let inner = self.inner.clone();
        // Compile and describe on the worker threads: loading may be called from a
        // context without a tokio runtime, and guests need an epoch-aware executor.
        let component = self
            .spawn(async move { LoadedComponent::load(&inner, &bytes, &name).await })
            .await?;
        let component = Arc::new(component);
        let entries = component
            .info()
            .functions
            .iter()
            .map(|function| Function {
                name: function.name.clone(),
                kind: FunctionKind::Wasm(component.clone()),
                arity: Some(function.arity),
            })
            .collect();
        self.inner.registry.register_all(entries)?;
        let classes = component
            .info()
            .actors
            .iter()
            .map(|class| ActorClass {
                name: class.name.clone(),
                component: component.clone(),
                snapshot: class.snapshot,
                constructor_arity: class.constructor_arity,
                methods: class
                    .methods
                    .iter()
                    .map(|method| (method.name.clone(), method.arity))
                    .collect(),
                concurrent_methods: class.concurrent_methods.clone(),
            })
            .collect();
        self.inner.registry.register_actor_classes(classes)?;
        let info = component.info().clone();
        if let Ok(mut components) = self.inner.components.lock() {
            components.push(component);
        }
        Ok(info)
    }

    /// Compiles (or takes from the cache) and describes a component without
    /// registering anything: what a node checks before it accepts a module, whose
    /// functions may clash with another module's.
    pub async fn describe_bytes(&self, bytes: &[u8], name: &str) -> Result<ComponentInfo> {
        let inner = self.inner.clone();
        let bytes = bytes.to_vec();
        let name = name.to_string();
        let component = self
            .spawn(async move { LoadedComponent::load(&inner, &bytes, &name).await })
            .await?;
        Ok(component.info().clone())
    }

    /// Registers a native function (see [`task_function!`](crate::task_function)).
    pub fn register_function(
        &self,
        name: impl Into<String>,
        function: NativeFunction,
    ) -> Result<()> {
        self.inner.registry.register_all(vec![Function {
            name: name.into(),
            kind: FunctionKind::Native(function),
            arity: None,
        }])
    }

    /// Every function tasks can call.
    pub fn functions(&self) -> Vec<FunctionInfo> {
        self.inner.registry.list()
    }

    /// Starts building a task of `function`.
    pub fn task(&self, function: impl Into<String>) -> TaskBuilder {
        TaskBuilder::new(function)
    }

    /// Stores a value; the handle owns the new object. `ObjectRef`s inside the value
    /// stay references: the new object holds them (they live as long as it does) and a
    /// `get` of it gives them back (Ray's nested references).
    pub fn put<T: Serialize>(&self, value: &T) -> Result<ObjectRef<T>> {
        let value = codec::encode(value)?;
        Ok(ObjectRef::from_slot(crate::refs::put(
            &self.inner.objects,
            value,
        )?))
    }

    /// Frees `objects` (Ray's `free`): every later `get` of them, by any holder, fails
    /// with [`RayError::ObjectFreed`]. See [`ObjectRef::free`].
    pub fn free<T>(&self, objects: &[ObjectRef<T>]) {
        for object in objects {
            object.free();
        }
    }

    /// Stores bytes without copying them. The object reads as a `Vec<u8>` (in the
    /// host and in guests); [`ObjectRef::get_bytes`] gives the same `Bytes` back.
    pub fn put_bytes(&self, bytes: Bytes) -> Result<ObjectRef<Vec<u8>>> {
        Ok(ObjectRef::from_slot(
            self.inner.objects.put(bytes, Encoding::Raw)?,
        ))
    }

    /// Stores an encoded value as it is (e.g. one [`codec::from_json`] made); the
    /// handle owns the new object.
    pub fn put_value(&self, value: codec::Value) -> Result<ObjectRef<()>> {
        Ok(ObjectRef::from_slot(crate::refs::put(
            &self.inner.objects,
            value,
        )?))
    }

    /// Waits for an object's value (same as [`ObjectRef::get`]).
    pub async fn get<T: serde::de::DeserializeOwned>(&self, object: &ObjectRef<T>) -> Result<T> {
        object.get().await
    }

    /// The values of `objects`, in order, once all are ready (Ray's `ray.get([...])`).
    /// Fails fast: the first error, in the order the objects finish, is returned without
    /// waiting for the rest.
    pub async fn get_all<T: serde::de::DeserializeOwned>(
        &self,
        objects: &[ObjectRef<T>],
    ) -> Result<Vec<T>> {
        use futures::StreamExt;
        let mut finishing: futures::stream::FuturesUnordered<_> = objects
            .iter()
            .map(|object| async move { object.slot().ready().await })
            .collect();
        while let Some(outcome) = finishing.next().await {
            if let Err(err) = outcome {
                return Err(err.clone());
            }
        }
        drop(finishing);
        let mut values = Vec::with_capacity(objects.len());
        for object in objects {
            values.push(object.get().await?);
        }
        Ok(values)
    }

    /// Waits until `num_returns` of `objects` are ready, or `timeout` passes. Returns
    /// `(ready, not_ready)`, each in the order given, as Ray's `wait` does; `ready` has at
    /// most `num_returns` objects. An empty list answers `([], [])`.
    ///
    /// # Errors
    ///
    /// [`RayError::InvalidArgument`] if an object appears twice, or `num_returns` is 0 or
    /// more than `objects.len()` (Ray refuses them too).
    #[allow(clippy::type_complexity, reason = "Ray's (ready, not_ready) pair")]
    pub async fn wait<T>(
        &self,
        objects: &[ObjectRef<T>],
        num_returns: usize,
        timeout: Option<Duration>,
    ) -> Result<(Vec<ObjectRef<T>>, Vec<ObjectRef<T>>)> {
        if objects.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        if num_returns == 0 || num_returns > objects.len() {
            return Err(RayError::InvalidArgument(format!(
                "wait: num_returns must be between 1 and the number of objects ({}), not \
                 {num_returns}",
                objects.len()
            )));
        }
        let mut ids = std::collections::HashSet::with_capacity(objects.len());
        if let Some(twice) = objects.iter().find(|object| !ids.insert(object.id())) {
            return Err(RayError::InvalidArgument(format!(
                "wait requires a list of unique objects (Ray's rule): {} appears twice",
                twice.id()
            )));
        }
        let slots: Vec<Arc<Slot>> = objects.iter().map(|object| object.slot().clone()).collect();
        let ready = crate::wait::wait_slots(&slots, num_returns, timeout).await;
        let mut is_ready = vec![false; objects.len()];
        for index in ready {
            is_ready[index] = true;
        }
        let (ready, not_ready): (Vec<_>, Vec<_>) = objects
            .iter()
            .cloned()
            .zip(is_ready)
            .partition(|(_, ready)| *ready);
        Ok((
            ready.into_iter().map(|(object, _)| object).collect(),
            not_ready.into_iter().map(|(object, _)| object).collect(),
        ))
    }

    /// Cancels the task producing `object`: a pending task never runs, a running one
    /// is interrupted; `get` then fails with [`RayError::Cancelled`]. Cancelling a
    /// finished task does nothing.
    pub fn cancel<T>(&self, object: &ObjectRef<T>) {
        task::cancel_slot(object.slot());
    }

    /// [`Runtime::cancel`], choosing whether the tasks it submitted are cancelled too
    /// (`recursive`, Ray's default and what `cancel` does). There is no `force`: a running
    /// task is always interrupted, at its next epoch tick. An actor call still queued is
    /// cancelled and never runs; one already running finishes (as in Ray for an actor that
    /// is not async).
    pub fn cancel_with<T>(&self, object: &ObjectRef<T>, recursive: bool) {
        task::cancel_slot_with(object.slot(), recursive);
    }

    /// Runs the `#[rustyray::main]` of a loaded component (by the name it was loaded
    /// under) with `args`, its stdout and stderr going to this process's. Returns the
    /// driver's exit status.
    pub async fn run_main(&self, component: &str, args: &[String]) -> Result<i32> {
        self.run_main_with(component, args, Stdin::Closed).await
    }

    /// [`Runtime::run_main`], with the driver's stdin (its other capabilities and
    /// its limits are the runtime's defaults).
    pub async fn run_main_with(
        &self,
        component: &str,
        args: &[String],
        stdin: Stdin,
    ) -> Result<i32> {
        let loaded = self
            .loaded(component)
            .ok_or_else(|| RayError::FunctionNotFound(format!("main of {component}")))?;
        let inner = self.inner.clone();
        let args = args.to_vec();
        self.spawn(async move { loaded.run_main(&inner, &args, stdin).await })
            .await
    }

    /// Starts building an actor of `class` (exported by a loaded component).
    pub fn actor(&self, class: impl Into<String>) -> ActorBuilder<'_> {
        ActorBuilder {
            runtime: self,
            class: class.into(),
            args: Ok(Vec::new()),
            options: ActorOptions::default(),
        }
    }

    /// The actor named `name` in the default namespace, if it is alive.
    pub fn get_actor(&self, name: &str) -> Option<ActorHandle> {
        self.get_actor_in(DEFAULT_NAMESPACE, name)
    }

    /// The actor named `name` in `namespace`, if it is alive.
    pub fn get_actor_in(&self, namespace: &str, name: &str) -> Option<ActorHandle> {
        self.inner
            .actors
            .named(namespace, name)
            .map(ActorHandle::from_cell)
    }

    /// The live actor of that id, for an id that travelled as data (e.g. parsed from
    /// text); unknown, forged and dead ids give [`RayError::ActorNotFound`].
    pub fn get_actor_by_id(&self, id: ActorId) -> Result<ActorHandle> {
        self.inner
            .actors
            .get(id)
            .map(ActorHandle::from_cell)
            .ok_or(RayError::ActorNotFound(id))
    }

    /// Kills an actor (see [`ActorHandle::kill`]).
    pub fn kill(&self, actor: &ActorHandle) {
        actor.kill();
    }

    /// A loaded component by the name it was loaded under.
    pub(crate) fn loaded(&self, source_name: &str) -> Option<Arc<LoadedComponent>> {
        self.inner
            .components
            .lock()
            .ok()?
            .iter()
            .find(|loaded| loaded.source_name() == source_name)
            .cloned()
    }

    /// Why the configured compile cache directory is not used (it is owned by another
    /// user, or group- or world-writable, or cannot be created), if it was refused:
    /// components are then compiled in memory on every load.
    pub fn cache_refused(&self) -> Option<&str> {
        self.inner.cache.refused()
    }

    /// Counters of the object store and the task queue.
    pub fn stats(&self) -> RuntimeStats {
        RuntimeStats {
            live_actors: self.inner.actors.live(),
            task_instances: self.inner.instances.tasks(),
            actor_instances: self.inner.instances.actors(),
            objects: self.inner.objects.stats(),
            tasks_waiting_for_memory: self.inner.objects.host_memory().waiting(),
            host_memory_reserved: self.inner.objects.host_memory().reserved(),
            tasks_submitted: self.inner.submitted.load(Ordering::Relaxed),
            tasks_in_flight: self.inner.in_flight.load(Ordering::Relaxed),
        }
    }

    /// Serves until `shutdown` resolves (e.g. SIGINT, or a channel the embedding
    /// service closes), then shuts down as [`Runtime::shutdown`] does: the shape of a
    /// service's main loop. Other clones of the handle keep working until then.
    pub async fn serve(&self, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
        shutdown.await;
        self.shutdown().await
    }

    /// The tasks, actors and objects of this runtime now, in the shapes of Ray's state
    /// API (see [`state`](crate::state)): the latest task records, the actors alive and
    /// recently dead, the live objects of those tasks and of recent `put`s, counts and
    /// the task run-time histogram.
    pub fn state(&self) -> crate::state::StateSnapshot {
        self.inner.state_snapshot()
    }

    /// Stops taking tasks and waits for those in flight; after 30 s cancels the rest.
    pub async fn shutdown(&self) -> Result<()> {
        self.shutdown_with_deadline(Duration::from_secs(30)).await
    }

    /// Stops taking tasks (new ones fail with [`RayError::ShutDown`]), lets running
    /// tasks finish until `deadline`, then cancels whatever is left. When it returns
    /// every task has ended and every pending `get` has its answer.
    pub async fn shutdown_with_deadline(&self, deadline: Duration) -> Result<()> {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.actors.stop_all();
        if tokio::time::timeout(deadline, self.inner.wait_idle())
            .await
            .is_err()
        {
            self.inner.abort.raise();
            self.inner.wait_idle().await;
        }
        Ok(())
    }

    pub(crate) fn inner(&self) -> &Arc<RuntimeInner> {
        &self.inner
    }

    /// Runs a future on the worker threads and awaits it from any context.
    async fn spawn<R: Send + 'static>(
        &self,
        future: impl std::future::Future<Output = Result<R>> + Send + 'static,
    ) -> Result<R> {
        self.inner
            .handle
            .spawn(future)
            .await
            .map_err(|err| RayError::Internal(format!("worker task failed: {err}")))?
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        // Without a shutdown: stop everything now. Tasks dropped unfinished fill
        // their objects with `ShutDown` (see `OutputGuard`), so holders still get
        // an answer.
        self.0.closed.store(true, Ordering::Release);
        self.0.abort.raise();
        if let Ok(mut executor) = self.0.executor.lock()
            && let Some(executor) = executor.take()
        {
            executor.shutdown_background();
        }
        // The epoch ticker stays until the last task lets go of `RuntimeInner`: a
        // spinning guest only notices the abort at its next epoch tick.
    }
}

/// Builds one actor: `runtime.actor("Counter").arg(0).name("c").create().await`.
#[derive(Debug)]
pub struct ActorBuilder<'a> {
    runtime: &'a Runtime,
    class: String,
    args: Result<Vec<TaskArg>>,
    options: ActorOptions,
}

impl ActorBuilder<'_> {
    /// Adds a constructor argument passed by value.
    pub fn arg<A: Serialize>(mut self, value: A) -> Self {
        if let Ok(args) = &mut self.args {
            match codec::encode(&value) {
                Ok(value) => args.push(TaskArg::Value(value)),
                Err(err) => self.args = Err(err),
            }
        }
        self
    }

    /// Adds a constructor argument passed by reference.
    pub fn arg_ref<A>(mut self, object: &ObjectRef<A>) -> Self {
        if let Ok(args) = &mut self.args {
            args.push(TaskArg::Object(object.slot().clone()));
        }
        self
    }

    /// Names the actor (in the default namespace unless [`ActorBuilder::namespace`]).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.options.name = Some(name.into());
        self
    }

    /// The namespace of the name.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.options.namespace = namespace.into();
        self
    }

    /// Restarts after a trap (default 0; [`UNLIMITED`](crate::UNLIMITED), Ray's `-1`: no
    /// bound).
    pub fn max_restarts(mut self, restarts: u32) -> Self {
        self.options.max_restarts = restarts;
        self
    }

    /// Retries of the call that trapped, on the restarted actor (default 0;
    /// [`UNLIMITED`](crate::UNLIMITED), Ray's `-1`: no bound).
    pub fn max_task_retries(mut self, retries: u32) -> Self {
        self.options.max_task_retries = retries;
        self
    }

    /// Calls sent and not answered beyond which a new call fails at once with
    /// [`RayError::PendingCallsLimitExceeded`] (Ray's `max_pending_calls`; default:
    /// unbounded).
    pub fn max_pending_calls(mut self, calls: usize) -> Self {
        self.options.max_pending_calls = Some(calls);
        self
    }

    /// Calls that run at once, interleaving in the actor's instance (Ray's
    /// `max_concurrency`; default 1, one at a time). See
    /// [`ActorOptions::max_concurrency`](crate::ActorOptions::max_concurrency).
    pub fn max_concurrency(mut self, calls: u32) -> Self {
        self.options.max_concurrency = calls;
        self
    }

    /// With the name taken, return that actor instead of failing.
    pub fn get_if_exists(mut self, yes: bool) -> Self {
        self.options.get_if_exists = yes;
        self
    }

    /// Needs `amount` of the custom resource `name` (Ray's `resources={"gpu": 1}`): a
    /// job's driver on a node has it placed on a live node that has it.
    pub fn resource(mut self, name: impl Into<String>, amount: f64) -> Self {
        self.options.resources.insert(name.into(), amount);
        self
    }

    /// Runs on that node (a node id of `rustyray list nodes`; Ray's node affinity).
    pub fn node_id(mut self, node: impl Into<String>) -> Self {
        self.options.node_id = Some(node.into());
        self
    }

    /// For classes with snapshots: snapshot after every `calls` calls (default 1).
    pub fn snapshot_every(mut self, calls: u32) -> Self {
        self.options.snapshot_every = calls.max(1);
        self
    }

    /// Deadline of each call (default: the runtime's default timeout).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.options.call_timeout = Some(timeout);
        self
    }

    /// Limits of the actor over the runtime's defaults (fuel, result size and output
    /// are per call).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.options.limits = limits;
        self
    }

    /// What the actor may touch, instead of the runtime's default capabilities.
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.options.capabilities = Some(Arc::new(capabilities));
        self
    }

    /// All options at once.
    pub fn options(mut self, options: ActorOptions) -> Self {
        self.options = options;
        self
    }

    /// Creates the actor; returns once its constructor has run (or with its error).
    pub async fn create(self) -> Result<ActorHandle> {
        if let Some(capabilities) = &self.options.capabilities {
            capabilities.check()?;
            self.runtime.inner.cache.check_grants(capabilities)?;
            crate::spill::check_grants(self.runtime.inner.objects.spill_root(), capabilities)?;
        }
        actor::create(
            &self.runtime.inner,
            &self.class,
            self.args?,
            self.options,
            None,
            Vec::new(),
        )
        .await
    }

    /// Creates the actor without waiting for its constructor, as Ray's
    /// `Actor.remote()` does: calls queue until it has run, and fail with
    /// [`RayError::ActorDied`] if it failed (see [`ActorHandle::ready`]). Name
    /// clashes and unknown classes are still reported here.
    pub fn spawn(self) -> Result<ActorHandle> {
        actor::spawn(
            &self.runtime.inner,
            &self.class,
            self.args?,
            self.options,
            None,
            Vec::new(),
        )
    }
}

/// Builds one task: `TaskBuilder::new("add").arg(5).arg(3).submit::<i32>(&runtime)`.
#[derive(Debug, Clone)]
pub struct TaskBuilder {
    function: String,
    args: Vec<TaskArg>,
    options: TaskOptions,
    error: Option<RayError>,
    num_returns: usize,
}

impl TaskBuilder {
    /// A task of `function`.
    pub fn new(function: impl Into<String>) -> Self {
        TaskBuilder {
            function: function.into(),
            args: Vec::new(),
            options: TaskOptions::default(),
            error: None,
            num_returns: 1,
        }
    }

    /// How many objects the task returns (Ray's `num_returns`, default 1): with `k`
    /// other than 1 the function returns a tuple of `k` values and
    /// [`submit_returns`](Self::submit_returns) gives one object per element (`k = 0`:
    /// none; the task still runs). A result of another length fails all of them, as
    /// does a failed task.
    pub fn num_returns(mut self, num_returns: usize) -> Self {
        self.num_returns = num_returns;
        self
    }

    /// Submits a task of [`num_returns`](Self::num_returns) results: one object per
    /// element of the tuple it returns (all seen as `T`; [`ObjectRef::cast`] each to its
    /// own type).
    ///
    /// # Errors
    ///
    /// As [`submit_now`](Self::submit_now), and [`RayError::InvalidArgument`] for more
    /// than [`MAX_NUM_RETURNS`](crate::refs::MAX_NUM_RETURNS).
    pub fn submit_returns<T>(self, runtime: &impl AsRuntime) -> Result<Vec<ObjectRef<T>>> {
        let num_returns = self.num_returns;
        crate::refs::check_num_returns(num_returns)?;
        let inner = runtime.as_runtime().inner().clone();
        let whole = self.submit_now::<()>(runtime)?;
        Ok(crate::task_impl::split_returns(
            &inner.objects,
            Some(&inner.handle),
            whole.slot().clone(),
            num_returns,
        )
        .into_iter()
        .map(ObjectRef::from_slot)
        .collect())
    }

    /// Adds an argument passed by value.
    pub fn arg<A: Serialize>(mut self, value: A) -> Self {
        match codec::encode(&value) {
            Ok(value) => self.args.push(TaskArg::Value(value)),
            Err(err) => {
                self.error.get_or_insert(err);
            }
        }
        self
    }

    /// Adds an argument passed by reference: the task runs once `object` is ready
    /// and receives its value (Ray's semantics for top-level `ObjectRef` arguments).
    pub fn arg_ref<A>(mut self, object: &ObjectRef<A>) -> Self {
        self.args.push(TaskArg::Object(object.slot().clone()));
        self
    }

    /// Adds the reference itself, for a parameter of type `ObjectRef<T>`: the task
    /// receives the reference (not the value; it does not wait for the object) and
    /// reads what it needs (`len`, `read(range)`, `get`).
    pub fn arg_object<A>(mut self, object: &ObjectRef<A>) -> Self {
        self.args.push(TaskArg::Reference(object.slot().clone()));
        self
    }

    /// Adds an argument already encoded (e.g. by [`codec::from_json`]).
    pub fn arg_value(mut self, value: codec::Value) -> Self {
        self.args.push(TaskArg::Value(value));
        self
    }

    /// Sets a deadline counted from when the task starts running.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Needs `amount` of the custom resource `name` (Ray's `resources={"gpu": 1}`): a
    /// job's driver on a node of a cluster has it run on a live node that has it.
    pub fn resource(mut self, name: impl Into<String>, amount: f64) -> Self {
        self.options.resources.insert(name.into(), amount);
        self
    }

    /// Runs on that node (a node id of `rustyray list nodes`; Ray's hard node affinity).
    pub fn node_id(mut self, node: impl Into<String>) -> Self {
        self.options.node_id = Some(node.into());
        self
    }

    /// Limits of this task, over the runtime's defaults.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.options.limits = limits;
        self
    }

    /// Runs the task again up to `retries` times after a system failure (a trap), or also
    /// after an application error with [`retry_exceptions`](Self::retry_exceptions)
    /// (Ray's `max_retries`; default [`DEFAULT_MAX_RETRIES`](crate::task::DEFAULT_MAX_RETRIES);
    /// [`UNLIMITED`](crate::UNLIMITED), Ray's `-1`: no bound).
    /// Cancelled and timed-out tasks are never retried.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.options.max_retries = Some(retries);
        self
    }

    /// Whether an application error is retried too (Ray's `retry_exceptions`).
    pub fn retry_exceptions(mut self, retry: bool) -> Self {
        self.options.retry_exceptions = retry;
        self
    }

    /// Retries application errors of these type names only (Ray's
    /// `retry_exceptions=[MyError]`): an error's `type_name` is `std::any::type_name` of
    /// a Rust guest's error type, a Python exception's class name, a JavaScript error's
    /// `name`. Sets [`retry_exceptions`](Self::retry_exceptions). Matched by exact name
    /// (a subclass is another name).
    pub fn retry_exception_types<S: Into<String>>(
        mut self,
        types: impl IntoIterator<Item = S>,
    ) -> Self {
        self.options.retry_exceptions = true;
        self.options.retry_exception_types = types.into_iter().map(Into::into).collect();
        self
    }

    /// Caps the task's linear memory (at most the runtime's memory limit).
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.options.limits.memory = Some(bytes);
        self
    }

    /// Gives the task `units` of fuel (the runtime must meter fuel).
    pub fn fuel(mut self, units: u64) -> Self {
        self.options.limits.fuel = Some(units);
        self
    }

    /// What the task may touch, instead of the runtime's default capabilities.
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.options.capabilities = Some(Arc::new(capabilities));
        self
    }

    /// Submits the task; its result, once it runs, is read through the `ObjectRef`.
    /// `async` for the seed's API; it never waits for the task itself.
    ///
    /// # Errors
    ///
    /// At once, before anything runs: [`RayError::FunctionNotFound`] for a function no
    /// loaded component exports, an argument that did not encode, capabilities or fuel
    /// the runtime cannot grant.
    pub async fn submit<T>(self, runtime: &impl AsRuntime) -> Result<ObjectRef<T>> {
        self.submit_now(runtime)
    }

    /// [`TaskBuilder::submit`] without `async`.
    pub fn submit_now<T>(self, runtime: &impl AsRuntime) -> Result<ObjectRef<T>> {
        if let Some(err) = self.error {
            return Err(err);
        }
        let inner = runtime.as_runtime().inner();
        if let Some(capabilities) = &self.options.capabilities {
            capabilities.check()?;
            inner.cache.check_grants(capabilities)?;
            crate::spill::check_grants(inner.objects.spill_root(), capabilities)?;
        }
        if self.options.limits.fuel.is_some() && !inner.sandbox.fuel {
            return Err(crate::sandbox::fuel_unavailable());
        }
        // An unknown function, or a wrong argument count, fails the submission itself
        // (Ray cannot even call one: `AttributeError`, `TypeError`).
        inner
            .registry
            .lookup(&self.function)?
            .check_arity(self.args.len())?;
        Ok(ObjectRef::from_slot(inner.submit_slot(
            &self.function,
            self.args,
            self.options,
            false,
            None,
            Vec::new(),
        )?))
    }
}

/// Anything tasks can be submitted to: a [`Runtime`] or the seed's `TaskSystem`.
pub trait AsRuntime {
    /// The runtime behind it.
    fn as_runtime(&self) -> &Runtime;
}

impl AsRuntime for Runtime {
    fn as_runtime(&self) -> &Runtime {
        self
    }
}

impl<R: AsRuntime> AsRuntime for Arc<R> {
    fn as_runtime(&self) -> &Runtime {
        (**self).as_runtime()
    }
}
