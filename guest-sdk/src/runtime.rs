//! The guest's view of the runtime: [`put`], [`get`], [`wait`], [`cancel`], [`args`], and
//! the `submit` behind every generated `name::remote(..)`.
//!
//! These are Ray's verbs, typed: values go in and come out through serde, references are
//! [`ObjectRef<T>`]. Each call is one host import (see `sys`); calls that wait suspend only
//! this guest.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec;
use crate::error::RayError;
use crate::object_ref::{AnyObjectRef, Lowered, LoweredArg, ObjectRef, State};
use crate::options::{TaskOptions, whole_millis};
use crate::sys::{self, Handle, SysArg};

/// Stores `value` in the object store; the returned reference owns the new object.
///
/// # Errors
///
/// [`RayError::Encode`] if the value does not serialize, or the host's refusal (e.g. the
/// store is full: [`RayError::Runtime`]).
pub fn put<T: Serialize>(value: &T) -> Result<ObjectRef<T>, RayError> {
    sys::available()?;
    let bytes = codec::encode_value(value)?;
    sys::put(&bytes).map(ObjectRef::from_handle)
}

/// The value `object` refers to, waiting until it is ready. Same as [`ObjectRef::get`].
///
/// # Errors
///
/// See [`ObjectRef::get`].
pub fn get<T: DeserializeOwned>(object: &ObjectRef<T>) -> Result<T, RayError> {
    object.get()
}

/// Waits until `num_ready` of `objects` are ready, or `timeout` passes (`None`: no limit).
/// Returns the indexes of the ready ones, in the order given; fewer than `num_ready` if the
/// timeout passed first. A reference that holds a submission error counts as ready (its
/// `get` returns at once).
///
/// `objects` can be `&[&a, &b]`, a slice of `ObjectRef`s, or mixed value types as
/// `&[&a as &dyn AnyObjectRef, &b]`.
pub fn wait<R: AnyObjectRef>(
    objects: &[R],
    num_ready: usize,
    timeout: Option<Duration>,
) -> Vec<usize> {
    let num_ready = num_ready.min(objects.len());
    let mut ready = Vec::new();
    let mut live: Vec<&Handle> = Vec::new();
    let mut live_index = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        match object.object_state() {
            State::Live(handle) => {
                live.push(handle);
                live_index.push(index);
            }
            State::Failed(_) => ready.push(index),
        }
    }
    if ready.len() < num_ready && !live.is_empty() {
        let wanted = u32::try_from(num_ready - ready.len()).unwrap_or(u32::MAX);
        let timeout_ms = timeout.map(whole_millis);
        ready.extend(
            sys::wait(&live, wanted, timeout_ms)
                .into_iter()
                .filter_map(|i| live_index.get(usize::try_from(i).ok()?).copied()),
        );
        ready.sort_unstable();
    }
    ready
}

/// Cancels the task that produces `object`: a pending task never runs, a running one is
/// interrupted, and every `get` of it returns [`RayError::Cancelled`]. Cancelling a
/// finished task does nothing.
pub fn cancel<T>(object: &ObjectRef<T>) {
    if let State::Live(handle) = object.state() {
        sys::cancel(handle);
    }
}

/// The driver's command-line arguments (what `rustyray run <component> -- ARGS` passed).
/// Empty in a task.
pub fn args() -> Vec<String> {
    ARGS.lock().map(|args| args.clone()).unwrap_or_default()
}

static ARGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records the driver's arguments for [`args`].
#[cfg_attr(
    not(target_arch = "wasm32"),
    allow(dead_code, reason = "called by the wasm exports")
)]
pub(crate) fn set_args(args: Vec<String>) {
    if let Ok(mut slot) = ARGS.lock() {
        *slot = args;
    }
}

/// Submits `function` with `args` (described by `params`, for messages); the generated
/// `remote_with` calls this. Never fails itself: an error ends up in the returned reference.
pub fn submit<R>(
    function: &str,
    params: &[&str],
    args: Vec<LoweredArg<'_>>,
    options: TaskOptions,
) -> ObjectRef<R> {
    if let Err(error) = sys::available() {
        return ObjectRef::failed(error);
    }
    ObjectRef::from_result(submit_lowered(function, params, args, &options))
}

fn submit_lowered(
    function: &str,
    params: &[&str],
    args: Vec<LoweredArg<'_>>,
    options: &TaskOptions,
) -> Result<Handle, RayError> {
    with_sys_args(&format!("`{function}`"), params, args, |sys_args| {
        sys::submit(function, sys_args, options.timeout_ms())
    })
}

/// Checks and unwraps `args` (described by `params`, for messages about `what`, e.g.
/// `` `add` ``), then hands them to `send`, the import that takes them. A value that did not
/// encode or a reference holding an error fails here, before anything reaches the host.
/// Owned references are released after `send` returns, once the host took its own.
pub(crate) fn with_sys_args<R>(
    what: &str,
    params: &[&str],
    args: Vec<LoweredArg<'_>>,
    send: impl FnOnce(Vec<SysArg<'_>>) -> Result<R, RayError>,
) -> Result<R, RayError> {
    /// Where each argument's bytes or handle is, once every argument is checked.
    enum Slot<'a> {
        Value(Vec<u8>),
        Owned(usize),
        Borrowed(&'a Handle),
    }
    let describe = |index: usize| match params.get(index) {
        Some(param) => format!("argument {index} (`{param}`) of {what}"),
        None => format!("argument {index} of {what}"),
    };
    let mut owned = Vec::new();
    let mut slots = Vec::with_capacity(args.len());
    for (index, LoweredArg(arg)) in args.into_iter().enumerate() {
        let slot = match arg {
            Lowered::Value(Ok(bytes)) => Slot::Value(bytes),
            Lowered::Value(Err(error)) => {
                return Err(RayError::Encode(format!("{}: {error}", describe(index))));
            }
            Lowered::Owned(State::Live(handle)) => {
                owned.push(handle);
                Slot::Owned(owned.len() - 1)
            }
            Lowered::Borrowed(State::Live(handle)) => Slot::Borrowed(handle),
            Lowered::Owned(State::Failed(error)) => {
                return Err(RayError::DependencyFailed(format!(
                    "{}: {error}",
                    describe(index)
                )));
            }
            Lowered::Borrowed(State::Failed(error)) => {
                return Err(RayError::DependencyFailed(format!(
                    "{}: {error}",
                    describe(index)
                )));
            }
        };
        slots.push(slot);
    }
    let sys_args = slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Value(bytes) => SysArg::Value(bytes),
            // `k` came from `owned.len() - 1` right after a push.
            Slot::Owned(k) => SysArg::Object(&owned[k]),
            Slot::Borrowed(handle) => SysArg::Object(handle),
        })
        .collect();
    // Owned references are released when `owned` drops, after the host took its own.
    send(sys_args)
}
