//! The state API's source: the tasks, actors and objects of a runtime, in the shapes of
//! Ray's state API (`ray list tasks|actors|objects`, `ray summary tasks|actors`).
//!
//! Kept cheap on the task hot path: a submitted task gets one small record (an `Arc`)
//! pushed on a bounded ring of the latest [`DEFAULT_MAX_TASK_RECORDS`] tasks (settable,
//! [`RuntimeBuilder::max_task_records`](crate::RuntimeBuilder::max_task_records); Ray
//! keeps a bounded number of task events too), its state moves by plain atomic stores on
//! its own record, and a finished task adds to a run-time histogram with two relaxed
//! atomic adds. Listing and summarizing read the ring; a task pushed out of it while
//! still pending is no longer listed (the snapshot says how many records were dropped).
//! Actors have a record each from creation; dead ones are kept, the latest
//! [`MAX_DEAD_ACTORS`]. Objects are the live results of the recorded tasks and the
//! latest `put`s (see `object_store.rs`): there is no global object table to walk.
//!
//! Names and messages are kept as guests gave them (the CLI escapes them when it
//! prints). [`Runtime::state`](crate::Runtime::state) takes a [`StateSnapshot`]; [`StateFile`]
//! rewrites one as JSON every 100 ms, less often when it is large (what `rustyray run
//! --state-file` does for the node, which merges its jobs' files).

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::actor::ActorId;
use crate::error::RayError;
use crate::object_store::{ObjectId, ObjectLocation, Slot};
use crate::registry::Function;

/// Tasks whose records are kept by default (the latest submitted).
pub const DEFAULT_MAX_TASK_RECORDS: usize = 10_000;
/// Dead actors whose records are kept (the latest to die).
pub const MAX_DEAD_ACTORS: usize = 1_000;
/// The longest error message kept in a task's record (the rest is cut).
const MAX_ERROR_MESSAGE: usize = 2_048;
/// Upper bounds of the task run-time histogram, in seconds.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0, 60.0,
];

/// A task's state, named as in Ray's state API (`TaskStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[repr(u8)]
pub enum TaskState {
    /// Waiting for its `ObjectRef` arguments.
    PendingArgsAvail = 0,
    /// Waiting for an execution permit (`max_running`).
    PendingNodeAssignment = 1,
    /// Waiting for room in the host memory budget (memory-aware admission).
    PendingObjStoreMemAvail = 2,
    /// Running in its instance.
    Running = 3,
    /// Returned a value.
    Finished = 4,
    /// Failed (its error is kept).
    Failed = 5,
}

impl TaskState {
    /// Every state, in order.
    pub const ALL: [TaskState; 6] = [
        TaskState::PendingArgsAvail,
        TaskState::PendingNodeAssignment,
        TaskState::PendingObjStoreMemAvail,
        TaskState::Running,
        TaskState::Finished,
        TaskState::Failed,
    ];

    /// Ray's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::PendingArgsAvail => "PENDING_ARGS_AVAIL",
            TaskState::PendingNodeAssignment => "PENDING_NODE_ASSIGNMENT",
            TaskState::PendingObjStoreMemAvail => "PENDING_OBJ_STORE_MEM_AVAIL",
            TaskState::Running => "RUNNING",
            TaskState::Finished => "FINISHED",
            TaskState::Failed => "FAILED",
        }
    }

    fn from_u8(value: u8) -> TaskState {
        TaskState::ALL
            .get(usize::from(value))
            .copied()
            .unwrap_or(TaskState::Failed)
    }

    /// Whether the task has ended.
    pub fn is_terminal(self) -> bool {
        matches!(self, TaskState::Finished | TaskState::Failed)
    }
}

/// An actor's state, named as in Ray's state API (`ActorState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[repr(u8)]
pub enum ActorState {
    /// Its constructor has not finished.
    PendingCreation = 0,
    /// Taking calls.
    Alive = 1,
    /// Its instance was lost; a new one is being made (from its snapshot, or its
    /// constructor).
    Restarting = 2,
    /// Gone for good (see its `death_cause`).
    Dead = 3,
}

impl ActorState {
    /// Every state, in order.
    pub const ALL: [ActorState; 4] = [
        ActorState::PendingCreation,
        ActorState::Alive,
        ActorState::Restarting,
        ActorState::Dead,
    ];

    /// Ray's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorState::PendingCreation => "PENDING_CREATION",
            ActorState::Alive => "ALIVE",
            ActorState::Restarting => "RESTARTING",
            ActorState::Dead => "DEAD",
        }
    }

    fn from_u8(value: u8) -> ActorState {
        ActorState::ALL
            .get(usize::from(value))
            .copied()
            .unwrap_or(ActorState::Dead)
    }
}

/// The error type Ray's state API would give `error` (its `ErrorType` names where one
/// fits, else the variant's name in the same style).
pub fn error_type(error: &RayError) -> &'static str {
    use crate::limits::Limit;
    match error {
        RayError::Application { .. } => "TASK_EXECUTION_EXCEPTION",
        RayError::Trap { .. } => "WORKER_DIED",
        RayError::LimitExceeded {
            limit: Limit::Memory | Limit::HostMemory,
            ..
        } => "OUT_OF_MEMORY",
        RayError::LimitExceeded { .. } => "LIMIT_EXCEEDED",
        RayError::Cancelled => "TASK_CANCELLED",
        RayError::Timeout(_) => "TASK_TIMEOUT",
        RayError::DependencyFailed { .. } => "DEPENDENCY_RESOLUTION_FAILED",
        RayError::ObjectFreed(_) => "OBJECT_FREED",
        RayError::ObjectLost { .. } => "OBJECT_LOST",
        RayError::ActorDied { .. } => "ACTOR_DIED",
        RayError::ActorNotFound(_) => "ACTOR_NOT_FOUND",
        RayError::FunctionNotFound(_) => "FUNCTION_NOT_FOUND",
        RayError::BadArguments { .. } => "BAD_ARGUMENTS",
        RayError::ObjectStoreFull { .. } => "OBJECT_STORE_FULL",
        RayError::Spill { .. } => "OUT_OF_DISK_ERROR",
        RayError::ShutDown => "NODE_DIED",
        RayError::Serialization(_) => "SERIALIZATION_ERROR",
        _ => "SYSTEM_ERROR",
    }
}

/// The clock records count in: microseconds since the tables were made.
#[derive(Debug)]
struct Clock {
    start: Instant,
    start_ms: u64,
}

impl Clock {
    fn new() -> Self {
        Clock {
            start: Instant::now(),
            start_ms: unix_ms(SystemTime::now()),
        }
    }

    /// Now, in µs since the start (never 0, which records use for "not yet").
    fn now_us(&self) -> u64 {
        (self.start.elapsed().as_micros() as u64).max(1)
    }

    /// A record's time as Unix milliseconds (`None` for 0, "not yet").
    fn to_ms(&self, us: u64) -> Option<u64> {
        (us != 0).then(|| self.start_ms + us / 1000)
    }
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// `error` rendered, cut at [`MAX_ERROR_MESSAGE`] bytes *while* it is rendered; a failed
/// dependency names its object only, since rendering it walks the chain to its root
/// cause, which over a 50,000-deep chain of failing tasks is quadratic.
fn bounded_message(error: &RayError) -> String {
    use std::fmt::Write as _;
    // Its `Display` walks to the root cause: O(depth) per task, quadratic over a chain.
    if let RayError::DependencyFailed { object, .. } = error {
        return format!("dependency {object} failed (its task's error says why)");
    }
    /// Takes text until it is full, then refuses, which ends the formatting.
    struct Bounded(String);
    impl std::fmt::Write for Bounded {
        fn write_str(&mut self, text: &str) -> std::fmt::Result {
            let room = MAX_ERROR_MESSAGE.saturating_sub(self.0.len());
            if text.len() <= room {
                self.0.push_str(text);
                return Ok(());
            }
            let mut cut = room;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            self.0.push_str(&text[..cut]);
            Err(std::fmt::Error)
        }
    }
    let mut message = Bounded(String::new());
    if write!(message, "{error}").is_err() {
        message.0.push_str(" …");
    }
    message.0
}

/// What a task record runs: a function, or a method of an actor (Ray's `ACTOR_TASK`).
#[derive(Debug)]
enum Work {
    Function(Arc<Function>),
    /// `Class.method`, Ray's name for an actor task.
    Method(Box<str>),
}

impl Work {
    fn name(&self) -> &str {
        match self {
            Work::Function(function) => &function.name,
            Work::Method(name) => name,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Work::Function(_) => "NORMAL_TASK",
            Work::Method(_) => "ACTOR_TASK",
        }
    }
}

/// One task's record (an actor call's too).
#[derive(Debug)]
pub(crate) struct TaskRecord {
    id: ObjectId,
    work: Work,
    state: AtomicU8,
    /// Runs after the first (retries after a failure).
    retries: AtomicU32,
    submitted_us: u64,
    started_us: AtomicU64,
    ended_us: AtomicU64,
    error: OnceLock<(&'static str, String)>,
    output: Weak<Slot>,
    tables: Weak<StateTables>,
}

impl TaskRecord {
    /// Moves the task to `state` (not past an end).
    pub(crate) fn set(&self, state: TaskState) {
        if TaskState::from_u8(self.state.load(Ordering::Relaxed)).is_terminal() {
            return;
        }
        if state == TaskState::Running
            && let Some(tables) = self.tables.upgrade()
        {
            self.started_us
                .store(tables.clock.now_us(), Ordering::Relaxed);
        }
        self.state.store(state as u8, Ordering::Release);
    }

    /// Counts a retry.
    pub(crate) fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends the record from what its output slot holds (called once the task is over,
    /// whichever way: `OutputGuard`'s drop).
    pub(crate) fn end(&self, slot: &Slot) {
        self.end_with(slot.try_get().map(|filled| filled.as_ref().map(|_| ())));
    }

    /// Whether the record has ended.
    pub(crate) fn is_ended(&self) -> bool {
        TaskState::from_u8(self.state.load(Ordering::Relaxed)).is_terminal()
    }

    /// Ends the record with `outcome` (`None`: it ended with no result).
    pub(crate) fn end_with(&self, outcome: Option<std::result::Result<(), &RayError>>) {
        if self.is_ended() {
            return;
        }
        let state = match outcome {
            Some(Ok(())) => TaskState::Finished,
            Some(Err(error)) => {
                let _ = self.error.set((error_type(error), bounded_message(error)));
                TaskState::Failed
            }
            None => TaskState::Failed,
        };
        if let Some(tables) = self.tables.upgrade() {
            let now = tables.clock.now_us();
            self.ended_us.store(now, Ordering::Relaxed);
            let started = self.started_us.load(Ordering::Relaxed);
            if started != 0 {
                tables.observe(Duration::from_micros(now.saturating_sub(started)));
            }
            let counter = if state == TaskState::Finished {
                &tables.finished
            } else {
                &tables.failed
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.state.store(state as u8, Ordering::Release);
    }
}

/// One actor's record, shared by its mailbox loop (which moves its state) and the
/// tables.
#[derive(Debug)]
pub(crate) struct ActorRecord {
    id: ActorId,
    class: String,
    name: Option<(String, String)>,
    detached: bool,
    state: AtomicU8,
    restarts: AtomicU32,
    created_us: u64,
    ended_us: AtomicU64,
    snapshot_us: AtomicU64,
    death_cause: OnceLock<String>,
    tables: Weak<StateTables>,
}

impl ActorRecord {
    /// The constructor ran: the actor takes calls.
    pub(crate) fn alive(&self) {
        if self.state() != ActorState::Dead {
            self.state.store(ActorState::Alive as u8, Ordering::Release);
        }
    }

    /// Its instance is being replaced (one restart more).
    pub(crate) fn restarting(&self) {
        if self.state() != ActorState::Dead {
            self.restarts.fetch_add(1, Ordering::Relaxed);
            self.state
                .store(ActorState::Restarting as u8, Ordering::Release);
        }
    }

    /// A snapshot of its state was taken now.
    pub(crate) fn snapshotted(&self) {
        if let Some(tables) = self.tables.upgrade() {
            self.snapshot_us
                .store(tables.clock.now_us(), Ordering::Relaxed);
        }
    }

    /// The actor is dead (the first cause given is kept).
    pub(crate) fn dead(&self, cause: &str) {
        let _ = self.death_cause.set(cause.to_string());
        if self.state.swap(ActorState::Dead as u8, Ordering::AcqRel) == ActorState::Dead as u8 {
            return;
        }
        if let Some(tables) = self.tables.upgrade() {
            self.ended_us
                .store(tables.clock.now_us(), Ordering::Relaxed);
            tables.buried(self.id);
        }
    }

    fn state(&self) -> ActorState {
        ActorState::from_u8(self.state.load(Ordering::Acquire))
    }
}

/// The records of one runtime.
#[derive(Debug)]
pub(crate) struct StateTables {
    clock: Clock,
    max_tasks: usize,
    tasks: Mutex<VecDeque<Arc<TaskRecord>>>,
    dropped_tasks: AtomicU64,
    submitted: AtomicU64,
    finished: AtomicU64,
    failed: AtomicU64,
    actors: Mutex<HashMap<ActorId, Arc<ActorRecord>>>,
    dead_actors: Mutex<VecDeque<ActorId>>,
    /// Counts per bucket of [`LATENCY_BUCKETS`] (and one more, past the last), the sum
    /// in µs.
    latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_us: AtomicU64,
}

impl StateTables {
    pub(crate) fn new(max_tasks: usize) -> Arc<Self> {
        Arc::new(StateTables {
            clock: Clock::new(),
            max_tasks: max_tasks.max(1),
            tasks: Mutex::new(VecDeque::new()),
            dropped_tasks: AtomicU64::new(0),
            submitted: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            actors: Mutex::default(),
            dead_actors: Mutex::default(),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_sum_us: AtomicU64::new(0),
        })
    }

    /// Records a submitted task whose result is `output`.
    pub(crate) fn task(
        self: &Arc<Self>,
        function: &Arc<Function>,
        output: &Arc<Slot>,
    ) -> Arc<TaskRecord> {
        self.push(
            output.id(),
            Work::Function(function.clone()),
            Arc::downgrade(output),
        )
    }

    /// Records a call of `class.method` whose id is `id` and result `output` (`None`
    /// for a `tell`, whose result nobody reads): Ray's `ACTOR_TASK`.
    pub(crate) fn actor_call(
        self: &Arc<Self>,
        class: &str,
        method: &str,
        id: ObjectId,
        output: Option<&Arc<Slot>>,
    ) -> Arc<TaskRecord> {
        let mut name = String::with_capacity(class.len() + 1 + method.len());
        name.push_str(class);
        name.push('.');
        name.push_str(method);
        self.push(
            id,
            Work::Method(name.into_boxed_str()),
            output.map_or_else(Weak::new, Arc::downgrade),
        )
    }

    fn push(self: &Arc<Self>, id: ObjectId, work: Work, output: Weak<Slot>) -> Arc<TaskRecord> {
        let record = Arc::new(TaskRecord {
            id,
            work,
            state: AtomicU8::new(TaskState::PendingArgsAvail as u8),
            retries: AtomicU32::new(0),
            submitted_us: self.clock.now_us(),
            started_us: AtomicU64::new(0),
            ended_us: AtomicU64::new(0),
            error: OnceLock::new(),
            output,
            tables: Arc::downgrade(self),
        });
        self.submitted.fetch_add(1, Ordering::Relaxed);
        let evicted = match self.tasks.lock() {
            Ok(mut tasks) => {
                let evicted = if tasks.len() >= self.max_tasks {
                    tasks.pop_front()
                } else {
                    None
                };
                tasks.push_back(record.clone());
                evicted
            }
            Err(_) => None,
        };
        if evicted.is_some() {
            self.dropped_tasks.fetch_add(1, Ordering::Relaxed);
        }
        // Dropped outside the lock.
        drop(evicted);
        record
    }

    /// Records a new actor.
    pub(crate) fn actor(
        self: &Arc<Self>,
        id: ActorId,
        class: &str,
        name: Option<(String, String)>,
        detached: bool,
    ) -> Arc<ActorRecord> {
        let record = Arc::new(ActorRecord {
            id,
            class: class.to_string(),
            name,
            detached,
            state: AtomicU8::new(ActorState::PendingCreation as u8),
            restarts: AtomicU32::new(0),
            created_us: self.clock.now_us(),
            ended_us: AtomicU64::new(0),
            snapshot_us: AtomicU64::new(0),
            death_cause: OnceLock::new(),
            tables: Arc::downgrade(self),
        });
        if let Ok(mut actors) = self.actors.lock() {
            actors.insert(id, record.clone());
        }
        record
    }

    /// A dead actor's record is kept among the latest [`MAX_DEAD_ACTORS`].
    fn buried(&self, id: ActorId) {
        let forgotten = match self.dead_actors.lock() {
            Ok(mut dead) => {
                dead.push_back(id);
                if dead.len() > MAX_DEAD_ACTORS {
                    dead.pop_front()
                } else {
                    None
                }
            }
            Err(_) => None,
        };
        if let Some(old) = forgotten
            && let Ok(mut actors) = self.actors.lock()
        {
            actors.remove(&old);
        }
    }

    fn observe(&self, ran: Duration) {
        let seconds = ran.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us
            .fetch_add(ran.as_micros() as u64, Ordering::Relaxed);
    }

    /// Everything, now.
    pub(crate) fn snapshot(&self, stats: crate::StoreStats, puts: Vec<Arc<Slot>>) -> StateSnapshot {
        let now_us = self.clock.now_us();
        let records: Vec<Arc<TaskRecord>> = self
            .tasks
            .lock()
            .map(|tasks| tasks.iter().cloned().collect())
            .unwrap_or_default();
        let mut tasks = Vec::with_capacity(records.len());
        let mut objects = Vec::new();
        for record in &records {
            let state = TaskState::from_u8(record.state.load(Ordering::Acquire));
            let (error_type, error_message) = match record.error.get() {
                Some((kind, message)) => (Some((*kind).to_string()), Some(message.clone())),
                None => (None, None),
            };
            let task_id = record.id.0.to_string();
            let name = record.work.name().to_string();
            if let Some(slot) = record.output.upgrade() {
                objects.push(object_info(&slot, Some((&task_id, state))));
            }
            tasks.push(TaskInfo {
                task_id,
                attempt_number: record.retries.load(Ordering::Relaxed),
                func_or_class_name: name.clone(),
                name,
                state,
                kind: record.work.kind().into(),
                job_id: None,
                node_id: None,
                error_type,
                error_message,
                creation_time_ms: self.clock.to_ms(record.submitted_us),
                start_time_ms: self.clock.to_ms(record.started_us.load(Ordering::Relaxed)),
                end_time_ms: self.clock.to_ms(record.ended_us.load(Ordering::Relaxed)),
            });
        }
        for slot in puts {
            objects.push(object_info(&slot, None));
        }
        let mut actors: Vec<ActorInfo> = self
            .actors
            .lock()
            .map(|actors| actors.values().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
            .iter()
            .map(|record| {
                let snapshot_us = record.snapshot_us.load(Ordering::Relaxed);
                let (namespace, name) = record.name.clone().unwrap_or_default();
                ActorInfo {
                    actor_id: record.id.0.to_string(),
                    class_name: record.class.clone(),
                    state: record.state(),
                    name,
                    ray_namespace: namespace,
                    job_id: None,
                    node_id: None,
                    num_restarts: record.restarts.load(Ordering::Relaxed),
                    is_detached: record.detached,
                    death_cause: record.death_cause.get().cloned(),
                    start_time_ms: self.clock.to_ms(record.created_us),
                    end_time_ms: self.clock.to_ms(record.ended_us.load(Ordering::Relaxed)),
                    snapshot_time_ms: self.clock.to_ms(snapshot_us),
                    snapshot_age_s: (snapshot_us != 0)
                        .then(|| now_us.saturating_sub(snapshot_us) as f64 / 1e6),
                }
            })
            .collect();
        actors.sort_by_key(|actor| actor.start_time_ms);
        let mut cumulative = 0;
        let buckets = LATENCY_BUCKETS
            .iter()
            .chain(std::iter::once(&f64::INFINITY))
            .zip(&self.latency)
            .map(|(bound, count)| {
                cumulative += count.load(Ordering::Relaxed);
                (*bound, cumulative)
            })
            .collect();
        StateSnapshot {
            time_ms: self.clock.to_ms(now_us).unwrap_or(0),
            tasks,
            actors,
            objects,
            totals: TaskTotals {
                submitted: self.submitted.load(Ordering::Relaxed),
                finished: self.finished.load(Ordering::Relaxed),
                failed: self.failed.load(Ordering::Relaxed),
                records_dropped: self.dropped_tasks.load(Ordering::Relaxed),
                max_task_records: self.max_tasks as u64,
            },
            latency: LatencyHistogram {
                buckets,
                sum_seconds: self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6,
                count: cumulative,
            },
            store: StoreSummary {
                live_objects: stats.live_objects as u64,
                used_bytes: stats.used_bytes as u64,
                capacity: stats.capacity as u64,
                spilled_bytes: stats.spilled_bytes as u64,
                spills: stats.spills,
                restores: stats.restores,
            },
            instances: InstanceSummary::default(),
        }
    }
}

fn object_info(slot: &Arc<Slot>, task: Option<(&str, TaskState)>) -> ObjectInfo {
    let (location, size) = slot.location();
    ObjectInfo {
        object_id: slot.id().0.to_string(),
        object_size: size.map(|size| size as u64),
        location,
        // The `Arc`s besides this snapshot's own.
        reference_count: Arc::strong_count(slot).saturating_sub(1) as u64,
        reference_type: "LOCAL_REFERENCE".into(),
        kind: if task.is_some() {
            "TASK_RETURN"
        } else {
            "PUT_OBJECT"
        }
        .into(),
        task_id: task.map(|(id, _)| id.to_string()),
        task_status: task.map(|(_, state)| state),
        job_id: None,
        node_id: None,
    }
}

/// One task, as Ray's state API lists it (`TaskState`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// The task's id (the id of the object it returns).
    pub task_id: String,
    /// Retries so far (0 for the first run).
    pub attempt_number: u32,
    /// The function's name (`Class.method` for an actor call).
    pub name: String,
    /// Its state.
    pub state: TaskState,
    /// The job it belongs to (set by the node).
    pub job_id: Option<String>,
    /// The node it ran on (set by the node).
    #[serde(default)]
    pub node_id: Option<String>,
    /// `NORMAL_TASK`, or `ACTOR_TASK` for an actor method call.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function's name (Ray: the function or class).
    pub func_or_class_name: String,
    /// Why it failed (Ray's `ErrorType` names where one fits).
    pub error_type: Option<String>,
    /// Its error, rendered.
    pub error_message: Option<String>,
    /// When it was submitted (Unix ms).
    pub creation_time_ms: Option<u64>,
    /// When it started running.
    pub start_time_ms: Option<u64>,
    /// When it ended.
    pub end_time_ms: Option<u64>,
}

/// One actor, as Ray's state API lists it (`ActorState`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActorInfo {
    /// Its id.
    pub actor_id: String,
    /// Its class.
    pub class_name: String,
    /// Its state.
    pub state: ActorState,
    /// Its name (empty if unnamed, as in Ray).
    pub name: String,
    /// The namespace of its name.
    pub ray_namespace: String,
    /// The job it belongs to (set by the node).
    pub job_id: Option<String>,
    /// The node it lives on (set by the node).
    #[serde(default)]
    pub node_id: Option<String>,
    /// Restarts so far.
    pub num_restarts: u32,
    /// Whether it outlives its program.
    pub is_detached: bool,
    /// Why it died.
    pub death_cause: Option<String>,
    /// When it was created (Unix ms).
    pub start_time_ms: Option<u64>,
    /// When it died.
    pub end_time_ms: Option<u64>,
    /// When its last snapshot was taken (snapshot classes).
    pub snapshot_time_ms: Option<u64>,
    /// How old its last snapshot was when this was taken, in seconds.
    pub snapshot_age_s: Option<f64>,
}

/// One object, as Ray's state API lists it (`ObjectState`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// Its id.
    pub object_id: String,
    /// Bytes of its value, once it has one.
    pub object_size: Option<u64>,
    /// Where it is: pending, in memory, spilled, failed, freed.
    pub location: ObjectLocation,
    /// Holders of a reference to it.
    pub reference_count: u64,
    /// Ray's reference type (`LOCAL_REFERENCE`: held in this process).
    pub reference_type: String,
    /// `TASK_RETURN` or `PUT_OBJECT`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The task that makes it.
    pub task_id: Option<String>,
    /// That task's state.
    pub task_status: Option<TaskState>,
    /// The job it belongs to (set by the node).
    pub job_id: Option<String>,
    /// The node it is on (set by the node).
    #[serde(default)]
    pub node_id: Option<String>,
}

/// Counts since the runtime started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskTotals {
    /// Tasks submitted.
    pub submitted: u64,
    /// Tasks that returned a value.
    pub finished: u64,
    /// Tasks that failed.
    pub failed: u64,
    /// Task records pushed out of the bounded ring.
    pub records_dropped: u64,
    /// The ring's bound.
    pub max_task_records: u64,
}

/// Tasks' run times (from running to their end), cumulative buckets as Prometheus'.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    /// `(upper bound in seconds, tasks at or below it)`, the last bound infinite.
    #[serde(with = "bounds")]
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the run times, in seconds.
    pub sum_seconds: f64,
    /// Tasks observed.
    pub count: u64,
}

/// JSON has no infinity: the last bound is written as `null`.
mod bounds {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(
        buckets: &[(f64, u64)],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        buckets
            .iter()
            .map(|(bound, count)| (bound.is_finite().then_some(*bound), *count))
            .collect::<Vec<_>>()
            .serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<(f64, u64)>, D::Error> {
        Ok(Vec::<(Option<f64>, u64)>::deserialize(deserializer)?
            .into_iter()
            .map(|(bound, count)| (bound.unwrap_or(f64::INFINITY), count))
            .collect())
    }
}

/// The object store's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreSummary {
    /// Objects alive.
    pub live_objects: u64,
    /// Bytes in memory.
    pub used_bytes: u64,
    /// The memory cap.
    pub capacity: u64,
    /// Bytes on disk only.
    pub spilled_bytes: u64,
    /// Objects spilled since start.
    pub spills: u64,
    /// Spilled objects read back since start.
    pub restores: u64,
}

/// The state of a runtime at one moment ([`Runtime::state`](crate::Runtime::state)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateSnapshot {
    /// When it was taken (Unix ms).
    pub time_ms: u64,
    /// The recorded tasks, oldest first.
    pub tasks: Vec<TaskInfo>,
    /// The actors, alive and recently dead, oldest first.
    pub actors: Vec<ActorInfo>,
    /// Live results of the recorded tasks, then live `put` objects.
    pub objects: Vec<ObjectInfo>,
    /// Task counts since start.
    pub totals: TaskTotals,
    /// Task run times.
    pub latency: LatencyHistogram,
    /// The object store.
    pub store: StoreSummary,
    /// Live instances of the pool.
    #[serde(default)]
    pub instances: InstanceSummary,
}

/// Instances alive in the runtime's pool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceSummary {
    /// Task instances (running, or parked in `get`).
    pub tasks: u64,
    /// Actor instances.
    pub actors: u64,
}

/// Writes a runtime's [`StateSnapshot`] to a file as JSON, replaced atomically (written
/// beside it, then renamed) every [`STATE_FILE_PERIOD`] or so (see [`StateFile::start`]),
/// and once more by [`StateFile::finish`].
pub struct StateFile {
    path: PathBuf,
    stop: Arc<(Mutex<bool>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The runtime's state now; `None` once the runtime is gone.
    snapshot: Arc<dyn Fn() -> Option<StateSnapshot> + Send + Sync>,
    finished: bool,
}

impl std::fmt::Debug for StateFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateFile")
            .field("path", &self.path)
            .finish()
    }
}

/// How often a [`StateFile`] is rewritten at most.
pub const STATE_FILE_PERIOD: Duration = Duration::from_millis(100);
/// The longest a [`StateFile`] waits between writes, however large its snapshot.
pub const STATE_FILE_MAX_PERIOD: Duration = Duration::from_secs(2);
/// A [`StateFile`] waits this many times as long as its last write took before the
/// next, so writing costs at most about 1/20 of one thread.
const STATE_FILE_COST_FACTOR: u32 = 20;

/// The wait after a write that took `cost`.
fn next_wait(cost: Duration) -> Duration {
    (cost * STATE_FILE_COST_FACTOR).clamp(STATE_FILE_PERIOD, STATE_FILE_MAX_PERIOD)
}

impl StateFile {
    /// Starts writing `runtime`'s state to `path`: at once, then every
    /// [`STATE_FILE_PERIOD`], or less often when a write takes long (20 times its cost,
    /// at most [`STATE_FILE_MAX_PERIOD`]).
    pub fn start(runtime: &crate::Runtime, path: &Path) -> crate::Result<StateFile> {
        let inner = Arc::downgrade(runtime.inner());
        let snapshot: Arc<dyn Fn() -> Option<StateSnapshot> + Send + Sync> =
            Arc::new(move || inner.upgrade().map(|inner| inner.state_snapshot()));
        if let Some(now) = snapshot() {
            write_atomically(path, &now)?;
        }
        let stop = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let thread = {
            let stop = stop.clone();
            let snapshot = snapshot.clone();
            let path = path.to_path_buf();
            std::thread::Builder::new()
                .name("rustyray-state".into())
                .spawn(move || {
                    let (lock, wake) = &*stop;
                    let Ok(mut stopped) = lock.lock() else { return };
                    let mut wait = STATE_FILE_PERIOD;
                    while !*stopped {
                        let Ok((guard, _)) = wake.wait_timeout(stopped, wait) else {
                            return;
                        };
                        stopped = guard;
                        if *stopped {
                            break;
                        }
                        let began = Instant::now();
                        if let Some(now) = snapshot() {
                            let _ = write_atomically(&path, &now);
                        }
                        wait = next_wait(began.elapsed());
                    }
                })
                .map_err(|err| crate::RayError::io("starting the state writer", err))?
        };
        Ok(StateFile {
            path: path.to_path_buf(),
            stop,
            thread: Some(thread),
            snapshot,
            finished: false,
        })
    }

    /// Stops the periodic writes and writes the state a last time (dropping it does
    /// the same, ignoring errors, while the runtime is still there).
    pub fn finish(mut self) -> crate::Result<()> {
        self.finished = true;
        self.stop_thread();
        match (self.snapshot)() {
            Some(now) => write_atomically(&self.path, &now),
            None => Ok(()),
        }
    }

    fn stop_thread(&mut self) {
        let (lock, wake) = &*self.stop;
        if let Ok(mut stopped) = lock.lock() {
            *stopped = true;
        }
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for StateFile {
    fn drop(&mut self) {
        self.stop_thread();
        if !self.finished
            && let Some(now) = (self.snapshot)()
        {
            let _ = write_atomically(&self.path, &now);
        }
    }
}

/// Writes `snapshot` as JSON to a file beside `path`, then renames it over `path`.
fn write_atomically(path: &Path, snapshot: &StateSnapshot) -> crate::Result<()> {
    let json = serde_json::to_vec(snapshot)
        .map_err(|err| crate::RayError::Internal(format!("encoding the state: {err}")))?;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::write(&partial, json)
        .map_err(|err| crate::RayError::io(format!("writing {}", partial.display()), err))?;
    std::fs::rename(&partial, path)
        .map_err(|err| crate::RayError::io(format!("renaming to {}", path.display()), err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_file_waits_longer_after_a_costly_write() {
        assert_eq!(next_wait(Duration::from_micros(50)), STATE_FILE_PERIOD);
        assert_eq!(
            next_wait(Duration::from_millis(20)),
            Duration::from_millis(400)
        );
        assert_eq!(next_wait(Duration::from_secs(1)), STATE_FILE_MAX_PERIOD);
    }

    #[test]
    fn error_messages_are_cut_while_rendered() {
        let long = RayError::application("f", "x".repeat(10 * MAX_ERROR_MESSAGE));
        let message = bounded_message(&long);
        assert!(
            message.len() <= MAX_ERROR_MESSAGE + " …".len(),
            "{}",
            message.len()
        );
        assert!(message.ends_with(" …"));
        let short = RayError::application("f", "é".repeat(3));
        assert_eq!(bounded_message(&short), short.to_string());
    }
}
