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

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::codec;
use crate::error::{RayError, Result};
use crate::limits::Limits;
use crate::object_store::{Encoding, Slot};
use crate::output::OutputCapture;
use crate::registry::{Function, FunctionKind, InvokeFailure};
use crate::runtime::RuntimeInner;
use crate::sandbox::Capabilities;
use crate::signal::Signal;

/// Options of one task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskOptions {
    /// Deadline counted from when the task starts running; `None` takes the
    /// runtime's default.
    pub timeout: Option<Duration>,
    /// Limits overriding the runtime's defaults (memory, fuel, result size, ...).
    pub limits: Limits,
    /// What the task may touch, *instead of* the runtime's default capabilities;
    /// `None` takes the defaults.
    pub capabilities: Option<Arc<Capabilities>>,
}

/// One argument: a value, or an object whose value is passed once it is ready.
#[derive(Debug, Clone)]
pub(crate) enum TaskArg {
    Value(Bytes),
    Object(Arc<Slot>),
}

/// What a cancel needs to reach a task.
#[derive(Debug, Default)]
pub(crate) struct TaskControl {
    cancel: Signal,
}

impl TaskControl {
    pub(crate) fn cancel(&self) {
        self.cancel.raise();
    }
}

/// Cancels the task producing `slot`, if it has not finished.
pub(crate) fn cancel_slot(slot: &Slot) {
    if slot.is_ready() {
        return;
    }
    if let Some(control) = slot.producer() {
        control.cancel();
    }
}

/// A submitted task.
pub(crate) struct Task {
    pub(crate) function: Arc<Function>,
    pub(crate) args: Vec<TaskArg>,
    pub(crate) options: TaskOptions,
    pub(crate) control: Arc<TaskControl>,
    pub(crate) output: OutputGuard,
}

/// Fills the output slot with `ShutDown` if the task is dropped unfinished (the
/// runtime was torn down), and counts the task out of the in-flight set.
pub(crate) struct OutputGuard {
    pub(crate) slot: Arc<Slot>,
    pub(crate) runtime: Arc<RuntimeInner>,
}

impl Drop for OutputGuard {
    fn drop(&mut self) {
        let _ = self.slot.complete(Err(RayError::ShutDown));
        self.runtime.task_finished();
    }
}

/// Runs a task to completion and fills its output.
pub(crate) async fn run(task: Task) {
    let Task {
        function,
        args,
        options,
        control,
        output,
    } = task;
    let runtime = output.runtime.clone();
    // Outside the select, so what a task printed survives its timeout or cancel.
    let capture = OutputCapture::for_task(&runtime, &function, output.slot.id(), &options);
    let outcome = tokio::select! {
        biased;
        _ = control.cancel.raised() => Err(RayError::Cancelled),
        _ = runtime.abort.raised() => Err(RayError::Cancelled),
        outcome = execute(&runtime, &function, args, &options, &output.slot, capture.as_ref()) => outcome,
    };
    if let Some(printed) = capture.and_then(|capture| capture.take()) {
        output.slot.set_output(printed);
    }
    // An oversized result fills the slot with `ObjectStoreFull`; nothing else to do.
    let _ = output
        .slot
        .complete(outcome.map(|bytes| (bytes, Encoding::Postcard)));
}

async fn execute(
    runtime: &Arc<RuntimeInner>,
    function: &Function,
    args: Vec<TaskArg>,
    options: &TaskOptions,
    slot: &Slot,
    capture: Option<&OutputCapture>,
) -> Result<Bytes> {
    let args = resolve(args).await?;
    let permit = runtime
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| RayError::ShutDown)?;
    let timeout = options.timeout.or(runtime.config.default_timeout);
    let work = async {
        match &function.kind {
            FunctionKind::Native(native) => {
                native.call(args).await.map_err(|failure| match failure {
                    InvokeFailure::Application(message) => RayError::Application {
                        function: function.name.clone(),
                        message,
                    },
                    InvokeFailure::BadArguments(message) => RayError::BadArguments {
                        function: function.name.clone(),
                        message,
                    },
                })
            }
            FunctionKind::Wasm(component) => {
                let args: Vec<Vec<u8>> = args.iter().map(|arg| arg.to_vec()).collect();
                let run = crate::component::TaskRun {
                    id: slot.id(),
                    options,
                    capture,
                };
                component
                    .invoke(runtime, &function.name, &args, permit, &run)
                    .await
            }
        }
    };
    match timeout {
        Some(limit) => tokio::time::timeout(limit, work)
            .await
            .unwrap_or(Err(RayError::Timeout(limit))),
        None => work.await,
    }
}

/// Waits for every object argument and replaces it with its bytes.
pub(crate) async fn resolve(args: Vec<TaskArg>) -> Result<Vec<Bytes>> {
    let mut resolved = Vec::with_capacity(args.len());
    for arg in args {
        resolved.push(match arg {
            TaskArg::Value(bytes) => bytes,
            TaskArg::Object(slot) => match slot.ready().await {
                Ok((bytes, Encoding::Postcard)) => bytes.clone(),
                Ok((bytes, Encoding::Raw)) => Bytes::from(codec::frame_raw(bytes)),
                Err(err) => {
                    return Err(RayError::DependencyFailed {
                        object: slot.id(),
                        cause: Arc::new(err.clone()),
                    });
                }
            },
        });
    }
    Ok(resolved)
}
