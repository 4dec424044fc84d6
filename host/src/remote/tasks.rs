//! Remote tasks: tasks a runtime hands to another one to run (a job's driver, to its
//! node, which places them on the cluster's nodes).
//!
//! With a [`TaskTransport`] ([`RuntimeBuilder::remote_tasks`](crate::RuntimeBuilder::remote_tasks)),
//! a task whose dependencies are ready is sent through it instead of run here when it can
//! run anywhere ([`placeable`]): a function of a loaded component, whose arguments are
//! plain values (top-level `ObjectRef` arguments are resolved here first: the driver owns
//! its objects, Ray's ownership model), no larger together than
//! [`MAX_REMOTE_ARGS_BYTES`] (past that the task runs where the value is, locality), with
//! no capabilities and no limits of its own (a grant names this machine's directories
//! and this job's network bound). Anything else runs here, as without a transport.
//!
//! The task travels as a [`TaskRequest`] — the module's SHA-256, the function, the
//! arguments in the wire form of `wire.rs` (encoding and bytes) — and comes back as a
//! value or a [`WireError`] of the same kinds a remote actor's call answers with, so a
//! trap is retried here within the task's `max_retries`, and a lost node
//! ([`RayError::NodeDied`]) too, as Ray counts it a system failure. A result that holds
//! `ObjectRef`s cannot come back (the objects are the other runtime's): the task is run
//! again here instead. Cancelling a remote task answers `Cancelled` here at once; the
//! other runtime finishes it and its answer is dropped.
//!
//! [`run_request`] is the other side: it runs a request in a runtime that has the module
//! loaded (the node's per-module task runtime).

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::net::UnixStream;
use tokio::sync::Semaphore;

use crate::codec::Value;
use crate::error::{RayError, Result};
use crate::registry::{Function, FunctionKind};
use crate::remote::Pending;
use crate::remote::wire::{self, WireError, WireValue};
use crate::runtime::{Runtime, RuntimeInner};
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
    /// Runs the task there; its result or error.
    fn run(&self, request: TaskRequest) -> Pending<'_, WireValue>;
}

/// The transport a node's drivers use: one connection to the node's task socket per
/// task (the node answers once the task ran wherever it placed it).
#[derive(Debug)]
pub struct SocketTaskTransport {
    path: PathBuf,
    in_flight: Semaphore,
}

impl SocketTaskTransport {
    /// The transport to the socket at `path` (nothing is connected yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SocketTaskTransport {
            path: path.into(),
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
        }
    }
}

impl TaskTransport for SocketTaskTransport {
    fn run(&self, request: TaskRequest) -> Pending<'_, WireValue> {
        Box::pin(async move {
            let unreachable = |err: std::io::Error| RayError::Io {
                context: format!("reaching the node's task socket {}", self.path.display()),
                message: err.to_string(),
            };
            let _permit = self
                .in_flight
                .acquire()
                .await
                .map_err(|_| RayError::ShutDown)?;
            let mut stream = UnixStream::connect(&self.path).await.map_err(unreachable)?;
            wire::write_frame(&mut stream, &request)
                .await
                .map_err(unreachable)?;
            match wire::read_frame::<TaskResponse>(&mut stream)
                .await
                .map_err(unreachable)?
            {
                Some(response) => response.into(),
                None => Err(unreachable(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the node closed the connection without an answer",
                ))),
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
) -> Option<TaskRequest> {
    runtime.config.remote_tasks.as_ref()?;
    if options.placed {
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
    let mut total = 0usize;
    let mut values = Vec::with_capacity(args.len());
    for arg in args {
        let Resolved::Value(value) = arg else {
            return None;
        };
        if !value.refs.is_empty() {
            return None;
        }
        total = total.saturating_add(value.len());
        if total > MAX_REMOTE_ARGS_BYTES {
            return None;
        }
        values.push(WireValue::from_value(value, &function.name).ok()?);
    }
    Some(TaskRequest {
        module: component.hash().to_string(),
        function: function.name.clone(),
        args: values,
        timeout_ms: options
            .timeout
            .or(runtime.config.default_timeout)
            .map(|timeout| u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
    })
}

/// Sends `request` through the runtime's transport: `None` when the task must run here
/// after all (its result held references).
pub(crate) async fn run_remote(
    runtime: &Arc<RuntimeInner>,
    request: TaskRequest,
) -> Option<Result<Value>> {
    let transport = runtime.config.remote_tasks.as_ref()?;
    match transport.run(request).await {
        Ok(value) => Some(Ok(value.into_value())),
        Err(RayError::ReferencesCannotCross { .. }) => None,
        Err(err) => Some(Err(err)),
    }
}

/// Runs `request` in `runtime`, which has its module loaded: the task's own retries are
/// its sender's, so it runs once here.
pub async fn run_request(runtime: &Runtime, request: TaskRequest) -> Result<WireValue> {
    let inner = runtime.inner();
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
    let options = TaskOptions {
        timeout: request.timeout_ms.map(std::time::Duration::from_millis),
        max_retries: Some(0),
        placed: true,
        ..TaskOptions::default()
    };
    let what = format!("the result of {}", request.function);
    let args = request
        .args
        .into_iter()
        .map(|arg| TaskArg::Value(arg.into_value()))
        .collect();
    let slot = inner.submit_slot(&qualified, args, options, false, None, Vec::new())?;
    let value = slot.get_value().await?;
    WireValue::from_value(&value, &what)
}
