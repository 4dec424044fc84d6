//! The guest's view of the runtime: [`put`], [`get`], [`get_all`], [`wait`], [`cancel`],
//! [`args`], and
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
    let value = codec::encode_value(value)?;
    sys::put(value).map(ObjectRef::from_handle)
}

/// The value `object` refers to, waiting until it is ready. Same as [`ObjectRef::get`].
///
/// # Errors
///
/// See [`ObjectRef::get`].
pub fn get<T: DeserializeOwned>(object: &ObjectRef<T>) -> Result<T, RayError> {
    object.get()
}

/// The values of `objects`, in order, once all are ready (Ray's `ray.get([...])`). Fails
/// fast: the first error among them, in the order the objects finish, is returned at once,
/// without waiting for the rest.
///
/// # Errors
///
/// The first failed object's error (see [`ObjectRef::get`]).
pub fn get_all<T: DeserializeOwned>(objects: &[ObjectRef<T>]) -> Result<Vec<T>, RayError> {
    let mut values: Vec<Option<T>> = objects.iter().map(|_| None).collect();
    let mut pending: Vec<usize> = Vec::with_capacity(objects.len());
    for (index, object) in objects.iter().enumerate() {
        match object.state() {
            State::Failed(error) => return Err(error.clone()),
            State::Live(_) => pending.push(index),
        }
    }
    while !pending.is_empty() {
        let handles: Vec<&Handle> = pending
            .iter()
            .filter_map(|&index| match objects[index].state() {
                State::Live(handle) => Some(handle),
                State::Failed(_) => None,
            })
            .collect();
        let count = u32::try_from(handles.len()).unwrap_or(u32::MAX);
        // Whatever is ready now; if nothing is, block until one is.
        let mut ready = sys::wait(&handles, count, Some(0));
        if ready.is_empty() {
            ready = sys::wait(&handles, 1, None);
        }
        let mut done = Vec::with_capacity(ready.len());
        for position in ready {
            let Some(&index) = usize::try_from(position)
                .ok()
                .and_then(|position| pending.get(position))
            else {
                continue;
            };
            values[index] = Some(objects[index].get()?);
            done.push(index);
        }
        if done.is_empty() {
            // A wait without a timeout answers short only in a running actor call that
            // was cancelled (the host told it so).
            return Err(RayError::Cancelled);
        }
        pending.retain(|index| !done.contains(index));
    }
    Ok(values.into_iter().flatten().collect())
}

/// Waits until `num_returns` of `objects` are ready, or `timeout` passes (`None`: no
/// limit), and hands back `(ready, not_ready)`: the references themselves, each in the
/// order given (Ray's `ray.wait`). `ready` has at most `num_returns` references, fewer if
/// the timeout passed first. A reference that holds a submission error counts as ready.
/// An empty list answers `([], [])`.
///
/// # Errors
///
/// [`RayError::InvalidArgument`] if the same object appears twice, or `num_returns` is 0
/// or more than `objects.len()`, as Ray refuses them. In an actor method whose call is
/// cancelled while it waits: [`RayError::Cancelled`] without a timeout; with one, the
/// wait returns at once with what is ready, as at its timeout (the call answers
/// `Cancelled` all the same).
#[allow(clippy::type_complexity, reason = "Ray's (ready, not_ready) pair")]
pub fn wait<T>(
    objects: &[ObjectRef<T>],
    num_returns: usize,
    timeout: Option<Duration>,
) -> Result<(Vec<ObjectRef<T>>, Vec<ObjectRef<T>>), RayError> {
    let ready = wait_indexes(objects, num_returns, timeout)?;
    let mut is_ready = vec![false; objects.len()];
    for index in ready {
        is_ready[index] = true;
    }
    let (ready, not_ready): (Vec<_>, Vec<_>) =
        objects.iter().zip(is_ready).partition(|(_, ready)| *ready);
    Ok((
        ready
            .into_iter()
            .map(|(object, _)| object.clone())
            .collect(),
        not_ready
            .into_iter()
            .map(|(object, _)| object.clone())
            .collect(),
    ))
}

/// [`wait`] for references to values of different types: the indexes of the ready ones,
/// in the order given. `objects` can be `&[&a, &b]`, a slice of `ObjectRef`s, or mixed
/// value types as `&[&a as &dyn AnyObjectRef, &b]`.
///
/// # Errors
///
/// As [`wait`].
pub fn wait_indexes<R: AnyObjectRef>(
    objects: &[R],
    num_returns: usize,
    timeout: Option<Duration>,
) -> Result<Vec<usize>, RayError> {
    if objects.is_empty() {
        return Ok(Vec::new());
    }
    if num_returns == 0 || num_returns > objects.len() {
        return Err(RayError::InvalidArgument(format!(
            "wait: num_returns must be between 1 and the number of objects ({}), not \
             {num_returns}",
            objects.len()
        )));
    }
    let mut ready = Vec::new();
    let mut live: Vec<&Handle> = Vec::new();
    let mut live_index = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for (index, object) in objects.iter().enumerate() {
        match object.object_state() {
            State::Live(handle) => {
                if !ids.insert(sys::id(handle)) {
                    return Err(RayError::InvalidArgument(
                        "wait requires a list of unique object references (Ray's rule): \
                         an object appears twice"
                            .into(),
                    ));
                }
                live.push(handle);
                live_index.push(index);
            }
            State::Failed(_) => ready.push(index),
        }
    }
    ready.truncate(num_returns);
    if ready.len() < num_returns && !live.is_empty() {
        let wanted = u32::try_from(num_returns - ready.len()).unwrap_or(u32::MAX);
        let timeout_ms = timeout.map(whole_millis);
        ready.extend(
            sys::wait(&live, wanted, timeout_ms)
                .into_iter()
                .filter_map(|i| live_index.get(usize::try_from(i).ok()?).copied()),
        );
        ready.sort_unstable();
        // Without a timeout, a wait answers short only in a running actor call that was
        // cancelled: the host told it so.
        if timeout.is_none() && ready.len() < num_returns {
            return Err(RayError::Cancelled);
        }
    }
    Ok(ready)
}

/// Frees `objects` (Ray's `ray._private.internal_api.free`): from now on every `get` of
/// them, by any holder in any guest, fails with [`RayError::ObjectFreed`], as does a task
/// that takes one as an argument. References that hold a submission error are skipped.
pub fn free<T>(objects: &[ObjectRef<T>]) {
    let handles: Vec<&Handle> = objects
        .iter()
        .filter_map(|object| match object.state() {
            State::Live(handle) => Some(handle),
            State::Failed(_) => None,
        })
        .collect();
    if !handles.is_empty() {
        sys::free(&handles);
    }
}

/// Cancels the task that produces `object`: a pending task never runs, a running one is
/// interrupted, and every `get` of it returns [`RayError::Cancelled`]. Cancelling a
/// finished task does nothing.
pub fn cancel<T>(object: &ObjectRef<T>) {
    if let State::Live(handle) = object.state() {
        sys::cancel(handle);
    }
}

/// Ends the actor whose method calls this, gracefully and for good (Ray's
/// `ray.actor.exit_actor()`): it is not restarted whatever its `max_restarts`, this call and
/// every call queued or sent later answer [`RayError::ActorDied`] saying it exited, and its
/// name is free again. `std::process::exit` in a method does the same. In a task or in
/// `main` it ends that task (an error) or the program, as `std::process::exit(0)` would.
pub fn exit_actor() -> ! {
    std::process::exit(0)
}

/// The driver's command-line arguments, as `std::env::args` would give them: `args()[0]` is
/// the program (the path given to `rustyray run`), then what followed `--`
/// (`rustyray run prog -- a b` gives `["prog", "a", "b"]`). Empty in a task.
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

/// Submits a function of `num_returns` results (`#[remote(num_returns = k)]`): one
/// reference per element of the tuple it returns. Never fails itself: an error ends up in
/// each returned reference.
pub fn submit_returns(
    function: &str,
    params: &[&str],
    args: Vec<LoweredArg<'_>>,
    options: TaskOptions,
    num_returns: u32,
) -> Vec<ObjectRef<()>> {
    let submitted = check_num_returns(num_returns)
        .and_then(|()| sys::available())
        .and_then(|()| {
            with_sys_args(&format!("`{function}`"), params, args, |sys_args| {
                sys::submit_returns(function, sys_args, &options, num_returns)
            })
        });
    returned(submitted, num_returns)
}

/// The most objects one task or actor call may return (`num_returns`), as the host
/// allows.
pub const MAX_NUM_RETURNS: u32 = 4096;

pub(crate) fn check_num_returns(num_returns: u32) -> Result<(), RayError> {
    if num_returns > MAX_NUM_RETURNS {
        return Err(RayError::InvalidArgument(format!(
            "num_returns = {num_returns} is more than the {MAX_NUM_RETURNS} objects a task \
             or call may return"
        )));
    }
    Ok(())
}

/// `num_returns` references: the host's, or each holding the error.
pub(crate) fn returned(
    handles: Result<Vec<Handle>, RayError>,
    num_returns: u32,
) -> Vec<ObjectRef<()>> {
    match handles {
        Ok(handles) => handles.into_iter().map(ObjectRef::from_handle).collect(),
        Err(error) => (0..num_returns.min(MAX_NUM_RETURNS))
            .map(|_| ObjectRef::failed(error.clone()))
            .collect(),
    }
}

/// The next of the references [`submit_returns`] (or an actor's `call_returns`) gave, as
/// an `ObjectRef<U>`; one holding an error if there is none (the host answered fewer).
pub fn next_ref<U>(refs: &mut impl Iterator<Item = ObjectRef<()>>) -> ObjectRef<U> {
    match refs.next() {
        Some(object) => object.cast(),
        None => ObjectRef::failed(RayError::Runtime(
            "the runtime returned fewer references than num_returns".into(),
        )),
    }
}

fn submit_lowered(
    function: &str,
    params: &[&str],
    args: Vec<LoweredArg<'_>>,
    options: &TaskOptions,
) -> Result<Handle, RayError> {
    with_sys_args(&format!("`{function}`"), params, args, |sys_args| {
        sys::submit(function, sys_args, options)
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
        Value(crate::codec::Encoded),
        Owned(usize, bool),
        Borrowed(&'a Handle, bool),
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
            Lowered::Owned(State::Live(handle), reference) => {
                owned.push(handle);
                Slot::Owned(owned.len() - 1, reference)
            }
            Lowered::Borrowed(State::Live(handle), reference) => Slot::Borrowed(handle, reference),
            Lowered::Owned(State::Failed(error), _) => {
                return Err(RayError::DependencyFailed(format!(
                    "{}: {error}",
                    describe(index)
                )));
            }
            Lowered::Borrowed(State::Failed(error), _) => {
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
            Slot::Value(value) => SysArg::Value(value),
            // `k` came from `owned.len() - 1` right after a push.
            Slot::Owned(k, false) => SysArg::Object(&owned[k]),
            Slot::Owned(k, true) => SysArg::Reference(&owned[k]),
            Slot::Borrowed(handle, false) => SysArg::Object(handle),
            Slot::Borrowed(handle, true) => SysArg::Reference(handle),
        })
        .collect();
    // Owned references are released when `owned` drops, after the host took its own.
    send(sys_args)
}
