//! Remote tasks: tasks a runtime hands to another one to run (a job's driver, to its
//! node, which places them on the cluster's nodes).
//!
//! With a [`TaskTransport`] ([`RuntimeBuilder::remote_tasks`](crate::RuntimeBuilder::remote_tasks)),
//! a task whose dependencies are ready is sent through it instead of run here when it can
//! run anywhere ([`placeable`]): a function of a loaded component, whose arguments are
//! values (top-level `ObjectRef` arguments are resolved here first: the driver owns
//! its objects, Ray's ownership model; references nested in them go as where their
//! objects are, `borrow.rs`), no larger together than
//! [`MAX_REMOTE_ARGS_BYTES`] (past that the task runs where the value is, locality), with
//! no capabilities and no limits of its own (a grant names this machine's directories
//! and this job's network bound), and whose carried actor handles (handles serialized in
//! its arguments) all name actors another runtime hosts (a cluster's placed actors, which
//! any node finds by id). Anything else runs here, as without a transport.
//!
//! The task travels as a [`TaskRequest`] — the module's SHA-256, the function, the
//! arguments in the wire form of `wire.rs` (encoding and bytes), the ids of the actors
//! it carries, and its job: namespace, job id and the job's node, so names a task looks
//! up or claims are its job's wherever it runs — and comes back as a value or a
//! [`WireError`] of the same kinds a remote actor's call answers with, so a trap is
//! retried here within the task's `max_retries`, and a lost node
//! ([`RayError::NodeDied`]) too, as Ray counts it a system failure. A result that holds
//! `ObjectRef`s comes back with their objects' addresses (`borrow.rs`); one whose
//! references cannot cross is run again here instead, and so is a task whose carried
//! actors the other runtime cannot reach ([`RayError::ReferencesCannotCross`]). Cancelling a remote task reaches it
//! where it runs ([`Cancellation`]): it is cancelled there, with the tasks it submitted
//! unless cancelled alone.
//!
//! A result the other side keeps where it was made comes back as a [`WireValue`] whose
//! `held` says where ([`Held`]): the object is filled as kept there, fetched on first use
//! through [`TaskTransport::fetch`] and made again from this request if lost
//! (`objects.rs`).
//!
//! [`run_request`] is the other side: it runs a request in a runtime that has the module
//! loaded (the node's task runtime of that module and job).

use std::path::PathBuf;

use bytes::Bytes;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::net::UnixStream;
use tokio::sync::Semaphore;

use crate::actor_impl::{ActorCell, ActorId};
use crate::codec::Value;
use crate::error::{RayError, Result};
use crate::registry::{Function, FunctionKind};
use crate::remote::Pending;
use crate::remote::wire::{self, Held, WireError, WireValue};
use crate::runtime::{Runtime, RuntimeInner};
use crate::task_impl::TaskControl;
use crate::task_impl::{Resolved, TaskArg, TaskOptions};

/// Arguments larger than this (together) keep their task here, where the values are.
pub const MAX_REMOTE_ARGS_BYTES: usize = 8 << 20;

/// Remote tasks one [`SocketTaskTransport`] has in flight at once; more wait.
pub const MAX_IN_FLIGHT: usize = 256;

/// A task to run elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRequest {
    /// SHA-256 (lowercase hex) of the component that exports the function.
    pub module: String,
    /// The function.
    pub function: String,
    /// Its arguments, resolved to values.
    pub args: Vec<WireValue>,
    /// Its deadline once it runs, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// The namespace of its job: names it looks up or claims without one are there.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Its job's submission id (filled in by the driver's transport).
    #[serde(default)]
    pub job: Option<String>,
    /// The node its job's driver runs on (filled in by that node).
    #[serde(default)]
    pub job_node: Option<String>,
    /// The actors whose handles its arguments hold (each hosted by some node of the
    /// cluster, found there by id).
    #[serde(default)]
    pub actors: Vec<ActorId>,
    /// Not a task: an operation on an object a node keeps (a driver asks its node on
    /// the same socket; `module` and `function` are then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectOp>,
    /// The SHA-256s of the other modules its sender's runtime has loaded (the job's
    /// modules): the runtime that runs it loads them too, so a task submits any of the
    /// job's functions by name wherever it runs. At most [`MAX_TASK_MODULES`].
    #[serde(default)]
    pub modules: Vec<String>,
    /// The custom resources it needs: its node runs it on a live node that has them.
    #[serde(default)]
    pub resources: Amounts,
    /// The node it must run on (hard node affinity).
    #[serde(default)]
    pub node_id: Option<String>,
}

/// What a runtime asks of the node that keeps one of its objects ([`Held`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectOp {
    /// Bytes `offset..offset + len` of it (answered as a raw [`WireValue`]).
    Fetch {
        /// The object.
        held: Held,
        /// Where the range starts.
        offset: u64,
        /// Its length (at most [`FETCH_PIECE`](crate::remote::objects::FETCH_PIECE)).
        len: u64,
    },
    /// Let it go: its owner no longer needs the copy there.
    Release {
        /// The object.
        held: Held,
    },
    /// Keep this value (an object a reference to which goes to another node,
    /// `borrow.rs`), counted for the asker's node; answered with where it is kept.
    Keep {
        /// The object's bytes.
        value: WireValue,
    },
    /// Count one more reference to `held` for `node` (the asker's, if `None`): a
    /// reference to it is going there (`borrow.rs`). Answered once counted; an object
    /// its holder no longer has answers [`RayError::ObjectLost`].
    Borrow {
        /// The object.
        held: Held,
        /// The node whose runtime will hold the reference.
        node: Option<String>,
    },
}

impl TaskRequest {
    /// The request carrying `op` (no task).
    pub fn object_op(op: ObjectOp) -> Self {
        TaskRequest {
            module: String::new(),
            function: String::new(),
            args: Vec::new(),
            timeout_ms: None,
            namespace: default_namespace(),
            job: None,
            job_node: None,
            actors: Vec::new(),
            object: Some(op),
            modules: Vec::new(),
            resources: Amounts::default(),
            node_id: None,
        }
    }

    /// Whether it asks where to run (resources or a node).
    pub fn asks_placement(&self) -> bool {
        !self.resources.0.is_empty() || self.node_id.is_some()
    }
}

/// The most modules a [`TaskRequest`] names (past that the task runs where it was
/// submitted, and a node refuses such a request).
pub const MAX_TASK_MODULES: usize = 256;

/// Amounts of custom resources by name. Equal when every amount has the same bits, so a
/// request stays `Eq` (amounts are finite and 0 or more: NaN is refused at submission).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Amounts(pub std::collections::BTreeMap<String, f64>);

impl PartialEq for Amounts {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|((a, x), (b, y))| a == b && x.to_bits() == y.to_bits())
    }
}

impl Eq for Amounts {}

fn default_namespace() -> String {
    crate::actor_impl::DEFAULT_NAMESPACE.to_string()
}

/// A task's cancel as a driver sends it ([`TaskFrame::Cancel`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCancel {
    /// With the tasks it submitted (Ray's `recursive=True`).
    pub recursive: bool,
}

/// What a driver sends on its one connection to its node's task socket: frames of
/// [`TaskFrame`]s (a batch: every task and cancel queued while the last batch was
/// written). The node answers with frames of [`TaskAnswer`]s, in the order the tasks
/// end. Closing the connection cancels every task it has not had answered, with the
/// tasks they submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(
    clippy::large_enum_variant,
    reason = "frames are built to be sent at once; a cancel's few bytes in a task's frame cost nothing"
)]
pub enum TaskFrame {
    /// Run `request`; its answer comes back under `id` (the driver's number for it).
    Run {
        /// The driver's number for the task.
        id: u64,
        /// The task.
        request: TaskRequest,
    },
    /// Cancel task `id` as `cancel` says.
    Cancel {
        /// The task's number.
        id: u64,
        /// How.
        cancel: TaskCancel,
    },
}

/// A node's answer to [`TaskFrame::Run`] `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskAnswer {
    /// The task's number.
    pub id: u64,
    /// Its result or error.
    pub response: TaskResponse,
}

/// Bytes of arguments or results one batch frame carries at most (a larger value goes
/// in a frame of its own).
pub const BATCH_BYTES: usize = 4 << 20;
/// Tasks (or answers) one batch frame carries at most.
pub const BATCH_TASKS: usize = 1024;

/// The bytes of values `frame` carries (what [`BATCH_BYTES`] counts).
fn frame_bytes(frame: &TaskFrame) -> usize {
    match frame {
        TaskFrame::Run { request, .. } => request.args.iter().map(|arg| arg.data.len()).sum(),
        TaskFrame::Cancel { .. } => 0,
    }
}

/// The bytes of values `answer` carries.
pub fn answer_bytes(answer: &TaskAnswer) -> usize {
    match &answer.response {
        TaskResponse::Value(value) => value.data.len(),
        TaskResponse::Failed(_) => 0,
    }
}

/// Writes what `queue` holds as batch frames (each as many items as were queued while
/// the one before was written, up to [`BATCH_TASKS`] and about [`BATCH_BYTES`]) until
/// the queue closes or a write fails. `size` is an item's bytes of values.
pub async fn write_batches<T: Serialize>(
    mut write: impl tokio::io::AsyncWrite + Unpin,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<T>,
    size: impl Fn(&T) -> usize,
) -> std::io::Result<()> {
    let mut batch: Vec<T> = Vec::new();
    // An item that would have made the last batch too large: the next one's first.
    let mut carried: Option<T> = None;
    loop {
        let first = match carried.take() {
            Some(item) => item,
            None => match queue.recv().await {
                Some(item) => item,
                None => return Ok(()),
            },
        };
        let mut bytes = size(&first);
        batch.push(first);
        while batch.len() < BATCH_TASKS && bytes < BATCH_BYTES {
            match queue.try_recv() {
                Ok(next) => {
                    let more = size(&next);
                    if bytes + more > BATCH_BYTES {
                        carried = Some(next);
                        break;
                    }
                    bytes += more;
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        wire::write_frame(&mut write, &batch).await?;
        batch.clear();
    }
}

/// A task's cancel, as the side running it sees it: raised once, with or without the
/// tasks it submitted. A transport's [`TaskTransport::run`] gets the task's own; a node
/// makes one per task it runs or forwards for another.
#[derive(Debug, Clone, Default)]
pub struct Cancellation(Arc<TaskControl>);

impl Cancellation {
    /// A cancel not raised yet.
    pub fn new() -> Self {
        Cancellation::default()
    }

    /// Raises it; `recursive`: the tasks the task submitted too.
    pub fn cancel(&self, recursive: bool) {
        if recursive {
            self.0.cancel();
        } else {
            self.0.cancel_alone();
        }
    }

    /// `None` while not cancelled, else whether the cancel is recursive.
    pub fn state(&self) -> Option<bool> {
        self.0.is_cancelled().then(|| self.0.recursive())
    }

    /// Resolves once cancelled, with whether the cancel is recursive.
    pub async fn cancelled(&self) -> bool {
        self.0.cancelled().await;
        self.0.recursive()
    }
}

/// The answer to a [`TaskRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskResponse {
    /// Its result.
    Value(WireValue),
    /// It failed.
    Failed(WireError),
}

impl From<Result<WireValue>> for TaskResponse {
    fn from(result: Result<WireValue>) -> Self {
        match result {
            Ok(value) => TaskResponse::Value(value),
            Err(err) => TaskResponse::Failed((&err).into()),
        }
    }
}

impl From<TaskResponse> for Result<WireValue> {
    fn from(response: TaskResponse) -> Self {
        match response {
            TaskResponse::Value(value) => Ok(value),
            TaskResponse::Failed(err) => Err(err.into()),
        }
    }
}

/// How a runtime hands tasks to another one.
pub trait TaskTransport: Send + Sync + std::fmt::Debug + 'static {
    /// Runs the task there; its result or error. If the future is dropped unfinished,
    /// the task is cancelled there, as `cancel` says (recursive when it is not raised:
    /// the sender went away).
    fn run(&self, request: TaskRequest, cancel: Cancellation) -> Pending<'_, WireValue>;

    /// Bytes `offset..offset + len` of an object another runtime keeps (a result
    /// [`run`](Self::run) answered as [`Held`]). A holder that cannot give it answers
    /// [`RayError::ObjectLost`].
    fn fetch(&self, held: &Held, offset: u64, len: u64) -> Pending<'_, Bytes> {
        let _ = (offset, len);
        let held = held.clone();
        Box::pin(async move {
            Err(RayError::ObjectLost {
                object: held.key,
                node: held.node,
                reason: "this runtime's task transport cannot fetch objects".into(),
            })
        })
    }

    /// Tells the holder of `held` to let it go (fire and forget).
    fn release(&self, held: Held) {
        let _ = held;
    }

    /// Has this runtime's node keep `value` for other nodes (a reference to it is
    /// crossing, `borrow.rs`), counted for this runtime; where it is kept. It belongs
    /// to `job` there (let go when that job ends), else to the transport's job.
    fn keep(&self, value: WireValue, job: Option<String>) -> Pending<'_, Held> {
        let _ = (value, job);
        Box::pin(async {
            Err(RayError::ReferencesCannotCross {
                what: "an object reference: this runtime's task transport cannot share objects"
                    .into(),
            })
        })
    }

    /// Counts one more reference to `held` for `node` (this runtime's node if `None`).
    fn borrow(&self, held: &Held, node: Option<String>) -> Pending<'_, ()> {
        let _ = (held, node);
        Box::pin(async {
            Err(RayError::ReferencesCannotCross {
                what: "an object reference: this runtime's task transport cannot share objects"
                    .into(),
            })
        })
    }
}

/// The transport a node's drivers use: one connection to the node's task socket, every
/// task and cancel on it in batches ([`TaskFrame`]), answers matched by number (made on
/// first use, and again if the node closed it).
#[derive(Debug)]
pub struct SocketTaskTransport {
    path: PathBuf,
    in_flight: Semaphore,
    job: Option<String>,
    connection: tokio::sync::Mutex<Option<Arc<Connection>>>,
    next_id: std::sync::atomic::AtomicU64,
}

/// One connection to a node's task socket.
#[derive(Debug)]
struct Connection {
    frames: tokio::sync::mpsc::UnboundedSender<TaskFrame>,
    /// Tasks sent and not answered, by number; cleared (their senders dropped) when the
    /// connection ends.
    waiting: std::sync::Mutex<
        Option<std::collections::HashMap<u64, tokio::sync::oneshot::Sender<TaskResponse>>>,
    >,
    reader: tokio::task::JoinHandle<()>,
    writer: tokio::task::JoinHandle<()>,
}

impl Connection {
    /// Stops waiting for the answer numbered `id`.
    fn forget(&self, id: u64) {
        if let Ok(mut waiting) = self.waiting.lock()
            && let Some(waiting) = waiting.as_mut()
        {
            waiting.remove(&id);
        }
    }

    fn is_open(&self) -> bool {
        self.waiting.lock().is_ok_and(|waiting| waiting.is_some())
    }

    /// Ends it: tasks still waiting get no answer.
    fn close(&self) {
        if let Ok(mut waiting) = self.waiting.lock() {
            *waiting = None;
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

impl SocketTaskTransport {
    /// The transport to the socket at `path` (nothing is connected yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SocketTaskTransport {
            path: path.into(),
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
            job: None,
            connection: tokio::sync::Mutex::new(None),
            next_id: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Names the job whose tasks these are (the node's job id of the driver).
    pub fn with_job(mut self, job: impl Into<String>) -> Self {
        self.job = Some(job.into());
        self
    }

    fn unreachable(&self, err: &std::io::Error) -> RayError {
        RayError::Io {
            context: format!("reaching the node's task socket {}", self.path.display()),
            message: err.to_string(),
        }
    }

    /// The open connection, made if there is none.
    async fn connection(&self) -> Result<Arc<Connection>> {
        let mut current = self.connection.lock().await;
        if let Some(connection) = current.as_ref()
            && connection.is_open()
        {
            return Ok(connection.clone());
        }
        let stream = UnixStream::connect(&self.path)
            .await
            .map_err(|err| self.unreachable(&err))?;
        let (mut read, write) = stream.into_split();
        let (frames, queue) = tokio::sync::mpsc::unbounded_channel();
        let waiting = std::sync::Mutex::new(Some(std::collections::HashMap::new()));
        let connection = Arc::new_cyclic(|me: &std::sync::Weak<Connection>| {
            let reader = {
                let me = me.clone();
                tokio::spawn(async move {
                    while let Ok(Some(answers)) =
                        wire::read_frame::<Vec<TaskAnswer>>(&mut read).await
                    {
                        let Some(connection) = me.upgrade() else {
                            return;
                        };
                        let Ok(mut waiting) = connection.waiting.lock() else {
                            return;
                        };
                        let Some(waiting) = waiting.as_mut() else {
                            return;
                        };
                        for answer in answers {
                            if let Some(sender) = waiting.remove(&answer.id) {
                                let _ = sender.send(answer.response);
                            }
                        }
                    }
                    if let Some(connection) = me.upgrade() {
                        connection.close();
                    }
                })
            };
            let writer = {
                let me = me.clone();
                tokio::spawn(async move {
                    let _ = write_batches(write, queue, frame_bytes).await;
                    if let Some(connection) = me.upgrade() {
                        connection.close();
                    }
                })
            };
            Connection {
                frames,
                waiting,
                reader,
                writer,
            }
        });
        *current = Some(connection.clone());
        Ok(connection)
    }
}

/// Tells the node a task was cancelled if its `run` future is dropped unanswered.
struct CancelUnanswered {
    connection: Option<Arc<Connection>>,
    id: u64,
    cancel: Cancellation,
}

impl Drop for CancelUnanswered {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        connection.forget(self.id);
        let _ = connection.frames.send(TaskFrame::Cancel {
            id: self.id,
            cancel: TaskCancel {
                recursive: self.cancel.state().unwrap_or(true),
            },
        });
    }
}

impl SocketTaskTransport {
    /// Sends `request` on the connection under a new number: the connection, the
    /// number, and where its answer will come.
    async fn send(
        &self,
        request: TaskRequest,
    ) -> Result<(
        Arc<Connection>,
        u64,
        tokio::sync::oneshot::Receiver<TaskResponse>,
    )> {
        let connection = self.connection().await?;
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (answer, answered) = tokio::sync::oneshot::channel();
        let registered = connection.waiting.lock().is_ok_and(|mut waiting| {
            waiting
                .as_mut()
                .map(|waiting| waiting.insert(id, answer))
                .is_some()
        });
        if !registered
            || connection
                .frames
                .send(TaskFrame::Run { id, request })
                .is_err()
        {
            connection.forget(id);
            return Err(self.closed());
        }
        Ok((connection, id, answered))
    }

    /// The error of a connection the node closed before it answered.
    fn closed(&self) -> RayError {
        self.unreachable(&std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the node closed the connection without an answer",
        ))
    }

    /// One request that is no task (an object's fetch or release) on the connection,
    /// and its answer.
    async fn exchange(&self, request: &TaskRequest) -> Result<TaskResponse> {
        let (connection, id, answered) = self.send(request.clone()).await?;
        answered.await.map_err(|_| {
            connection.forget(id);
            self.closed()
        })
    }
}

impl TaskTransport for SocketTaskTransport {
    fn fetch(&self, held: &Held, offset: u64, len: u64) -> Pending<'_, Bytes> {
        let request = TaskRequest::object_op(ObjectOp::Fetch {
            held: held.clone(),
            offset,
            len,
        });
        Box::pin(async move {
            let _permit = self
                .in_flight
                .acquire()
                .await
                .map_err(|_| RayError::ShutDown)?;
            let value: Result<WireValue> = self.exchange(&request).await?.into();
            Ok(value?.data)
        })
    }

    fn release(&self, held: Held) {
        let request = TaskRequest::object_op(ObjectOp::Release { held });
        let path = self.path.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let transport = SocketTaskTransport::new(path);
                let _ = transport.exchange(&request).await;
            });
        }
    }

    fn keep(&self, value: WireValue, job: Option<String>) -> Pending<'_, Held> {
        let mut request = TaskRequest::object_op(ObjectOp::Keep { value });
        request.job = job.or_else(|| self.job.clone());
        Box::pin(async move {
            let value: Result<WireValue> = self.exchange(&request).await?.into();
            value?.held.ok_or_else(|| {
                RayError::Remote("the node answered a keep without saying where".into())
            })
        })
    }

    fn borrow(&self, held: &Held, node: Option<String>) -> Pending<'_, ()> {
        let request = TaskRequest::object_op(ObjectOp::Borrow {
            held: held.clone(),
            node,
        });
        Box::pin(async move {
            let value: Result<WireValue> = self.exchange(&request).await?.into();
            value.map(|_| ())
        })
    }

    fn run(&self, mut request: TaskRequest, cancel: Cancellation) -> Pending<'_, WireValue> {
        if request.job.is_none() {
            request.job.clone_from(&self.job);
        }
        Box::pin(async move {
            let _permit = self
                .in_flight
                .acquire()
                .await
                .map_err(|_| RayError::ShutDown)?;
            let (connection, id, answered) = self.send(request).await?;
            let mut unanswered = CancelUnanswered {
                connection: Some(connection),
                id,
                cancel,
            };
            let response = answered.await;
            unanswered.connection = None;
            match response {
                Ok(response) => response.into(),
                Err(_) => Err(self.closed()),
            }
        })
    }
}

/// The request for running `function` with `args` elsewhere, or `None` when it must run
/// here (see the [module docs](self)).
pub(crate) fn placeable(
    runtime: &RuntimeInner,
    function: &Function,
    args: &[Resolved],
    options: &TaskOptions,
    carried: &[Arc<ActorCell>],
) -> Option<TaskRequest> {
    runtime.config.remote_tasks.as_ref()?;
    if options.placed {
        return None;
    }
    // Handles to this runtime's own actors name nothing elsewhere: such a task stays.
    if carried.iter().any(|cell| !cell.is_proxy()) {
        return None;
    }
    let FunctionKind::Wasm(component) = &function.kind else {
        return None;
    };
    if !options.limits.is_empty()
        || !runtime
            .sandbox
            .capabilities_for(options.capabilities.as_deref())
            .is_empty()
    {
        return None;
    }
    let own = component.hash();
    let modules: Vec<String> = runtime
        .component_hashes()
        .into_iter()
        .filter(|hash| hash != own)
        .collect();
    if modules.len() > MAX_TASK_MODULES {
        return None;
    }
    let mut total = 0usize;
    let mut values = Vec::with_capacity(args.len());
    for arg in args {
        let Resolved::Value(value) = arg else {
            return None;
        };
        total = total.saturating_add(value.len());
        if total > MAX_REMOTE_ARGS_BYTES {
            return None;
        }
        // References nested in it get their addresses in `export_args`.
        values.push(WireValue {
            raw: value.encoding == crate::object_store::Encoding::Raw,
            data: value.data.clone(),
            held: None,
            refs: Vec::new(),
        });
    }
    Some(TaskRequest {
        module: component.hash().to_string(),
        function: function.name.clone(),
        args: values,
        timeout_ms: options
            .timeout
            .or(runtime.config.default_timeout)
            .map(|timeout| u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
        namespace: runtime.namespace.clone(),
        job: None,
        job_node: None,
        actors: carried.iter().map(|cell| cell.id()).collect(),
        object: None,
        modules,
        resources: Amounts(options.resources.clone()),
        node_id: options.node_id.clone(),
    })
}

/// Fills in the addresses of the object references nested in `request`'s arguments
/// (`args`, as [`placeable`] took them), so the node that runs it reads them where
/// they are (`borrow.rs`). [`RayError::ReferencesCannotCross`] when one cannot cross
/// (then the task runs here, unless it asks where to run).
pub(crate) async fn export_args(
    runtime: &RuntimeInner,
    request: &mut TaskRequest,
    args: &[Resolved],
) -> Result<()> {
    let what = format!("an argument of {}", request.function);
    for (wire, arg) in request.args.iter_mut().zip(args) {
        if let Resolved::Value(value) = arg {
            wire.refs = crate::remote::borrow::export(runtime, value, &what, None).await?;
        }
    }
    Ok(())
}

/// Sends `request` through the runtime's transport: `None` when the task must run here
/// after all (its result held references) — never for a task that asks where to run,
/// which then fails with that error. A result the other side keeps ([`Held`])
/// is recorded in `slot` as remote (fetched on first use, made again from `request` at
/// most `retries` times if lost), and the value returned is empty.
pub(crate) async fn run_remote(
    runtime: &Arc<RuntimeInner>,
    request: TaskRequest,
    control: &Arc<TaskControl>,
    slot: &crate::object_store::Slot,
    retries: u32,
) -> Option<Result<Value>> {
    let transport = runtime.config.remote_tasks.as_ref()?;
    let placed = request.asks_placement();
    match transport
        .run(request.clone(), Cancellation(control.clone()))
        .await
    {
        Ok(WireValue {
            raw,
            held: Some(held),
            ..
        }) => {
            let encoding = if raw {
                crate::object_store::Encoding::Raw
            } else {
                crate::object_store::Encoding::Msgpack
            };
            slot.hold_remote(Arc::new(crate::remote::objects::RemoteObject::new(
                held,
                raw,
                transport.clone(),
                request,
                retries,
            )));
            Some(Ok(Value::with_refs(
                encoding,
                Bytes::new(),
                crate::refs::Contained::default(),
            )))
        }
        // References it holds are this runtime's objects kept where they are.
        Ok(value) => Some(crate::remote::borrow::import(runtime, value)),
        Err(RayError::ReferencesCannotCross { .. }) if !placed => None,
        Err(err) => Some(Err(err)),
    }
}

/// Sends a task one of whose object arguments is kept on another node ([`Held`]) as
/// a reference to it, so the node placing it sends it where the argument is (locality)
/// and the bytes need not come here: `None` when no argument is kept elsewhere, or the
/// task must run here after all (the argument fetched first, or made again, by the
/// caller's `resolve`). Arguments that are ready here go by value as in [`placeable`].
#[allow(
    clippy::too_many_arguments,
    reason = "one task's parts, as execute has them"
)]
pub(crate) async fn run_by_reference(
    runtime: &Arc<RuntimeInner>,
    function: &Function,
    args: &[TaskArg],
    options: &TaskOptions,
    carried: &[Arc<ActorCell>],
    control: &Arc<TaskControl>,
    slot: &crate::object_store::Slot,
    retries: u32,
) -> Option<Result<Value>> {
    runtime.config.remote_tasks.as_ref()?;
    let mut any = false;
    let mut resolved = Vec::with_capacity(args.len());
    let mut held = Vec::with_capacity(args.len());
    for arg in args {
        match arg {
            TaskArg::Value(value) => {
                resolved.push(Resolved::Value(value.clone()));
                held.push(None);
            }
            TaskArg::Object(object) => {
                let Ok(stored) = object.ready_unfetched().await else {
                    return None;
                };
                if let Some(at) = object.remote_held() {
                    any = true;
                    resolved.push(Resolved::Value(Value::with_refs(
                        stored.encoding,
                        Bytes::new(),
                        crate::refs::Contained::default(),
                    )));
                    held.push(Some(at));
                } else {
                    resolved.push(Resolved::Value(object.value(stored).ok()?));
                    held.push(None);
                }
            }
            TaskArg::Reference(_) => return None,
        }
    }
    if !any {
        return None;
    }
    let mut request = placeable(runtime, function, &resolved, options, carried)?;
    export_args(runtime, &mut request, &resolved).await.ok()?;
    for (arg, at) in request.args.iter_mut().zip(held) {
        arg.held = at;
    }
    match run_remote(runtime, request, control, slot, retries).await {
        // An argument lost where it was kept: run here, which fetches it (or makes it
        // again from its lineage) first.
        Some(Err(RayError::ObjectLost { .. })) => None,
        other => other,
    }
}

/// Runs `request` in `runtime`, which has its module loaded: the task's own retries are
/// its sender's, so it runs once here. Object references nested in its arguments are
/// read from where they are kept; those nested in its result are made addressable and
/// counted for `answer_node` (this runtime's node if `None`), where the answer goes
/// (`borrow.rs`). Its carried actors are found by id through the
/// runtime's remote actors (a cluster's directory); one not found answers
/// [`RayError::ReferencesCannotCross`], so the sender runs the task itself. Once `cancel`
/// is raised the task is cancelled here (with the tasks it submitted if the cancel is
/// recursive) and answers `Cancelled`.
pub async fn run_request(
    runtime: &Runtime,
    mut request: TaskRequest,
    cancel: Cancellation,
    answer_node: Option<String>,
) -> Result<WireValue> {
    let inner = runtime.inner();
    // First: the references it was sent are counted for this node, and let go (dropped
    // here) whatever happens next.
    let mut args = Vec::with_capacity(request.args.len());
    for arg in std::mem::take(&mut request.args) {
        args.push(TaskArg::Value(crate::remote::borrow::import(inner, arg)?));
    }
    // By its module: the function of that name in that module, whatever else is loaded.
    let qualified = format!("{}/{}", request.module, request.function);
    let function = inner.registry.lookup(&qualified).map_err(|_| {
        RayError::FunctionNotFound(format!(
            "{} (not exported by module {})",
            request.function, request.module
        ))
    })?;
    match &function.kind {
        FunctionKind::Wasm(component) if component.hash() == request.module => {}
        _ => {
            return Err(RayError::FunctionNotFound(format!(
                "{} (not exported by module {})",
                request.function, request.module
            )));
        }
    }
    let mut carried = Vec::with_capacity(request.actors.len());
    for actor in &request.actors {
        match crate::remote::resolve(runtime, *actor).await {
            Ok(Some(handle)) => carried.push(handle.cell().clone()),
            Ok(None) | Err(_) => {
                return Err(RayError::ReferencesCannotCross {
                    what: format!(
                        "actor {actor} in the arguments of {} (not found from this node)",
                        request.function
                    ),
                });
            }
        }
    }
    let options = TaskOptions {
        timeout: request.timeout_ms.map(std::time::Duration::from_millis),
        max_retries: Some(0),
        placed: true,
        ..TaskOptions::default()
    };
    let what = format!("the result of {}", request.function);
    let slot = inner.submit_slot(&qualified, args, options, false, None, carried)?;
    // Dropped unanswered (whoever waited went away): the task is cancelled too.
    let guard = CancelSlot {
        slot: slot.clone(),
        cancel: cancel.clone(),
    };
    let value = tokio::select! {
        value = slot.get_value() => value,
        recursive = cancel.cancelled() => {
            crate::task_impl::cancel_slot_with(&slot, recursive);
            slot.get_value().await
        }
    };
    drop(guard);
    let value = value?;
    let wire = crate::remote::borrow::to_wire(inner, &value, &what, None).await?;
    // Counted for where the answer goes while `value` still holds them here.
    if let Some(transport) = inner.object_transport() {
        for address in &wire.refs {
            transport.borrow(&address.held, answer_node.clone()).await?;
        }
    }
    drop(value);
    Ok(wire)
}

/// Cancels a task run for another runtime if its answer is no longer awaited.
struct CancelSlot {
    slot: Arc<crate::object_store::Slot>,
    cancel: Cancellation,
}

impl Drop for CancelSlot {
    fn drop(&mut self) {
        crate::task_impl::cancel_slot_with(&self.slot, self.cancel.state().unwrap_or(true));
    }
}
