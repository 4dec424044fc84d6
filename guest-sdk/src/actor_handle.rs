//! [`ActorHandle`], an untyped handle to a live actor; [`get_actor`] to find a named one;
//! and the creation and call helpers behind the typed handles `#[rustyray::actor]` generates.
//!
//! A handle owns the WIT `actor-handle` resource: cloning it asks the host for one more
//! handle (`clone-handle`), dropping it releases one, and an unnamed actor whose last handle
//! is gone is stopped. Creating an actor can fail (unknown class, a constructor that returns
//! `Err`, a refused name); as with task submission, the failure is deferred rather than
//! returned: the handle holds the error, every call's `ObjectRef` yields it and
//! [`ActorHandle::ready`] reports it, so `Counter::remote(0).increment()` stays one
//! expression.
//!
//! A handle is serde-`Serialize` as its actor's [`Id`] (node and 128 random bits, so it cannot
//! be guessed), and deserializing asks the host for a fresh handle to that id
//! (`actors.from-id`). That is what lets handles travel inside
//! task arguments, actor-method arguments, objects and results. Serializing a handle also
//! records a clone of it, announced to the host (`actors.carry`) with the next value
//! handed over, so the actor stays alive as long as that value may still be decoded (a
//! queued task or call, an object, a result, a snapshot), as Ray counts serialized
//! handles as references.

use std::fmt;

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};

use crate::codec;
use crate::error::RayError;
use crate::id::Id;
use crate::object_ref::{LoweredArg, ObjectRef};
use crate::options::ActorOptions;
use crate::runtime::with_sys_args;
use crate::sys::{self, Actor};

/// A handle to an actor, whatever its class: what the generated typed handles
/// (`CounterHandle`, …) wrap, reachable from one with `.raw()`.
///
/// Prefer the typed handle: it checks method names and argument types at compile time.
/// Use this one for an actor whose class is defined in another component, or found by
/// name with [`get_actor`].
///
/// ```no_run
/// # extern crate rustyray_sdk as rustyray;
/// # fn demo() -> Result<(), rustyray::RayError> {
/// let counter = rustyray::ActorHandle::create(
///     "Counter",
///     rustyray::ActorOptions::new().name("hits"),
///     vec![rustyray::arg(10i32)],
/// );
/// let n: i32 = counter.call("add", vec![rustyray::arg(5i32)]).get()?;
/// counter.tell("increment", vec![])?;
/// let same = rustyray::get_actor("hits").expect("it is named");
/// assert_eq!(same.id(), counter.id());
/// counter.kill();
/// # Ok(()) }
/// ```
#[must_use = "dropping the last handle to an unnamed actor stops it"]
pub struct ActorHandle {
    link: Link,
}

/// A live actor, or the error that prevented one.
enum Link {
    Live(Actor),
    Failed(RayError),
}

impl ActorHandle {
    fn live(actor: Actor) -> Self {
        Self {
            link: Link::Live(actor),
        }
    }

    fn failed(error: RayError) -> Self {
        Self {
            link: Link::Failed(error),
        }
    }

    /// Creates an actor of `class` (exported by any loaded component), passing `args` to its
    /// constructor; each argument is [`arg(value)`](crate::arg) or
    /// [`arg_ref(&object_ref)`](crate::arg_ref). The
    /// constructor has run when this returns. A failure is kept in the handle: see
    /// [`ready`](Self::ready).
    pub fn create(class: &str, options: ActorOptions, args: Vec<LoweredArg<'_>>) -> Self {
        create(class, &[], args, &options)
    }

    /// Calls `method` with `args` (each [`arg(value)`](crate::arg) or
    /// [`arg_ref(&object_ref)`](crate::arg_ref));
    /// the result object is filled once the call has run. Calls to one actor run one at a
    /// time, in the order they were made.
    ///
    /// Nothing checks that the actor has that method or that `T` is what it returns: a wrong
    /// name fails the call with [`RayError::FunctionNotFound`], a wrong `T` fails `get` with
    /// [`RayError::Decode`].
    pub fn call<T>(&self, method: &str, args: Vec<LoweredArg<'_>>) -> ObjectRef<T> {
        call(self, &format!("`{method}`"), method, &[], args)
    }

    /// Calls `method` and discards its result, errors included (fire and forget).
    ///
    /// # Errors
    ///
    /// Only what fails before the call leaves this guest: the actor's creation failed, an
    /// argument did not encode ([`RayError::Encode`]), or an `ObjectRef` argument holds an
    /// error ([`RayError::DependencyFailed`]).
    pub fn tell(&self, method: &str, args: Vec<LoweredArg<'_>>) -> Result<(), RayError> {
        tell(self, &format!("`{method}`"), method, &[], args)
    }

    /// Stops the actor now: its pending calls fail, it is not restarted, and its name (if
    /// any) is free again. Every handle to it, in any guest, sees a dead actor. Does nothing
    /// for a handle whose creation failed.
    pub fn kill(&self) {
        if let Link::Live(actor) = &self.link {
            sys::actor_kill(actor);
        }
    }

    /// Ray's `ray.kill(actor, no_restart=...)`: with `no_restart` as [`kill`](Self::kill);
    /// without, the running instance is killed (a call it was running fails with
    /// [`RayError::ActorDied`]) and the actor restarts as after a crash — from its last
    /// snapshot, or its constructor — if it has restarts left, using one; with none left it
    /// ends as after `kill`. Calls queued behind it run on the new instance.
    pub fn kill_with(&self, no_restart: bool) {
        if let Link::Live(actor) = &self.link {
            sys::actor_kill_with(actor, no_restart);
        }
    }

    /// The actor's id: stable for its life, equal across handles to the same actor, and what
    /// the handle serializes as. A handle whose creation failed has [`Id::NONE`].
    pub fn id(&self) -> Id {
        match &self.link {
            Link::Live(actor) => sys::actor_id(actor),
            Link::Failed(_) => Id::NONE,
        }
    }

    /// A handle to the live actor with this id (an id that travelled as data).
    ///
    /// # Errors
    ///
    /// [`RayError::ActorDied`] when no live actor has that id: it was never created (ids are
    /// random, so a made-up one finds nothing), or it was killed, stopped or reclaimed;
    /// [`RayError::Runtime`] on native targets.
    pub fn from_id(id: Id) -> Result<ActorHandle, RayError> {
        sys::actor_from_id(id).map(Self::live)
    }

    /// Whether the actor was created: `Err` with the reason if it was not (unknown class,
    /// the constructor returned `Err` or trapped, the name was taken, no runtime).
    ///
    /// # Errors
    ///
    /// The error that prevented the actor, the same one every call on this handle yields.
    pub fn ready(&self) -> Result<(), RayError> {
        match &self.link {
            Link::Live(_) => Ok(()),
            Link::Failed(error) => Err(error.clone()),
        }
    }
}

impl Clone for ActorHandle {
    /// One more handle to the same actor (the host counts it).
    fn clone(&self) -> Self {
        Self {
            link: match &self.link {
                Link::Live(actor) => Link::Live(sys::actor_clone(actor)),
                Link::Failed(error) => Link::Failed(error.clone()),
            },
        }
    }
}

impl fmt::Debug for ActorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.link {
            Link::Live(actor) => write!(f, "ActorHandle({})", sys::actor_id(actor)),
            Link::Failed(error) => write!(f, "ActorHandle(failed: {error})"),
        }
    }
}

thread_local! {
    /// Handles serialized since the last hand-over to the host: the next `submit`, `put`,
    /// `create`, call or returned result announces them (`actors.carry`), so the actors
    /// stay alive while the value holding their ids does — a handle inside a value keeps
    /// its actor, as a real one does (Ray's too).
    static CARRIED: std::cell::RefCell<Vec<Actor>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The handles serialized since the last call, to announce with the value they are in.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code, reason = "wasm only"))]
pub(crate) fn take_carried() -> Vec<Actor> {
    CARRIED.with(|carried| carried.take())
}

impl Serialize for ActorHandle {
    /// The actor's id. A handle whose creation failed does not serialize: there is no actor
    /// to refer to.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.link {
            Link::Live(actor) => {
                // A handle of our own until the value is handed over (the one serialized
                // may be dropped first, e.g. an argument moved into `remote`).
                let carried = sys::actor_clone(actor);
                CARRIED.with(|list| list.borrow_mut().push(carried));
                sys::actor_id(actor).serialize(serializer)
            }
            Link::Failed(error) => Err(codec::ser_error(format!(
                "cannot send a handle to an actor that was never created: {error}"
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for ActorHandle {
    /// A fresh handle to the actor with the decoded id; fails if that actor is gone.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = Id::deserialize(deserializer)?;
        sys::available().map_err(|error| codec::de_error(error.to_string()))?;
        sys::actor_from_id(id)
            .map(Self::live)
            .map_err(|error| codec::de_error(format!("its handle cannot be decoded: {error}")))
    }
}

/// The actor registered as `name` in the program's namespace (on a node, its job's), if
/// it is alive; on a node, a detached actor of that namespace is found too.
///
/// Returns `None` on native targets, where there is no runtime to ask.
pub fn get_actor(name: &str) -> Option<ActorHandle> {
    sys::actor_get_named(name, None).map(ActorHandle::live)
}

/// The actor registered as `name` in `namespace`, if it is alive.
pub fn get_actor_in(namespace: &str, name: &str) -> Option<ActorHandle> {
    sys::actor_get_named(name, Some(namespace)).map(ActorHandle::live)
}

/// Creates an actor of `class`; the generated `Actor::remote_with` calls this with its
/// constructor's parameters (`params`, for messages).
pub fn create(
    class: &str,
    params: &[&str],
    args: Vec<LoweredArg<'_>>,
    options: &ActorOptions,
) -> ActorHandle {
    let created = options
        .check()
        .and_then(|()| sys::available())
        .and_then(|()| {
            with_sys_args(
                &format!("the constructor of `{class}`"),
                params,
                args,
                |args| sys::actor_create(class, args, &options.to_sys()),
            )
        });
    match created {
        Ok(actor) => ActorHandle::live(actor),
        Err(error) => ActorHandle::failed(error),
    }
}

/// Calls `method` on `handle` (described as `what` in messages, e.g. `` `Counter.add` ``);
/// the generated typed methods call this with the method's parameters.
/// What a call on an actor whose creation failed with `error` fails with.
fn creation_failed(error: &RayError) -> RayError {
    match error {
        RayError::ActorDied(_) => error.clone(),
        other => RayError::ActorDied(format!("its creation failed: {other}")),
    }
}

pub fn call<T>(
    handle: &ActorHandle,
    what: &str,
    method: &str,
    params: &[&str],
    args: Vec<LoweredArg<'_>>,
) -> ObjectRef<T> {
    let actor = match &handle.link {
        Link::Live(actor) => actor,
        // As in Ray, a call on an actor whose creation failed fails with `ActorDied`
        // naming why (`ready` gives the creation error itself).
        Link::Failed(error) => return ObjectRef::failed(creation_failed(error)),
    };
    ObjectRef::from_result(with_sys_args(what, params, args, |args| {
        Ok(sys::actor_call(actor, method, args))
    }))
}

/// Tells `method` to `handle`: [`call`] without a result.
pub fn tell(
    handle: &ActorHandle,
    what: &str,
    method: &str,
    params: &[&str],
    args: Vec<LoweredArg<'_>>,
) -> Result<(), RayError> {
    let actor = match &handle.link {
        Link::Live(actor) => actor,
        Link::Failed(error) => return Err(creation_failed(error)),
    };
    with_sys_args(what, params, args, |args| {
        sys::actor_tell(actor, method, args);
        Ok(())
    })
}

impl ActorHandle {
    /// Calls a method whose result is a tuple of `num_returns` values (Ray's
    /// `num_returns` for actor methods): one reference per element, 0 allowed; see
    /// [`ObjectRef::cast`] for their types. A result of another length fails every
    /// one of them, as does a failed call.
    pub fn call_returns(
        &self,
        method: &str,
        args: Vec<LoweredArg<'_>>,
        num_returns: u32,
    ) -> Vec<ObjectRef<()>> {
        call_returns(self, &format!("`{method}`"), method, &[], args, num_returns)
    }
}

/// [`call`] for a method of `num_returns` results: one reference per element.
pub fn call_returns(
    handle: &ActorHandle,
    what: &str,
    method: &str,
    params: &[&str],
    args: Vec<LoweredArg<'_>>,
    num_returns: u32,
) -> Vec<ObjectRef<()>> {
    let called = match &handle.link {
        Link::Live(actor) => crate::runtime::check_num_returns(num_returns).and_then(|()| {
            with_sys_args(what, params, args, |args| {
                Ok(sys::actor_call_returns(actor, method, args, num_returns))
            })
        }),
        Link::Failed(error) => Err(creation_failed(error)),
    };
    crate::runtime::returned(called, num_returns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arg;

    /// Natively there is no runtime: creation fails, and so does everything after it, with
    /// the same error.
    #[test]
    fn native_handles_hold_the_runtime_error() {
        let handle = ActorHandle::create("Counter", ActorOptions::new(), vec![arg(1i32)]);
        let Err(RayError::Runtime(message)) = handle.ready() else {
            panic!("no runtime natively");
        };
        // Calls on a handle whose creation failed answer `ActorDied` naming why (Ray's).
        let died = RayError::ActorDied(format!(
            "its creation failed: {}",
            RayError::Runtime(message.clone())
        ));
        assert!(message.contains("on native targets"), "{message}");
        assert_eq!(handle.id(), crate::Id::NONE);
        let result: ObjectRef<i32> = handle.call("add", vec![arg(2i32)]);
        assert_eq!(result.get(), Err(died.clone()));
        assert_eq!(handle.tell("add", vec![]), Err(died.clone()));
        let copy = handle.clone();
        assert_eq!(copy.ready(), handle.ready());
        copy.kill();
        assert!(format!("{handle:?}").starts_with("ActorHandle(failed: "));
        assert!(get_actor("anything").is_none());
        assert!(get_actor_in("ns", "anything").is_none());
    }

    #[test]
    fn failed_handles_do_not_serialize() {
        let handle = ActorHandle::failed(RayError::Runtime("nope".into()));
        assert_eq!(
            codec::to_bytes(&handle).err().as_deref(),
            Some("cannot send a handle to an actor that was never created: runtime error: nope")
        );
        // Passed to a task, the submission fails before reaching the host.
        let LoweredArg(crate::object_ref::Lowered::Value(Err(message))) = arg(handle) else {
            panic!("a failed handle is not an argument");
        };
        assert!(message.contains("never created"), "{message}");
    }

    #[test]
    fn decoding_a_handle_needs_the_runtime() {
        let bytes = codec::to_bytes(&crate::Id::NONE).expect("encodes");
        let message = codec::decode_exact::<ActorHandle>(&bytes).expect_err("no runtime");
        assert!(message.contains("on native targets"), "{message}");
    }
}
