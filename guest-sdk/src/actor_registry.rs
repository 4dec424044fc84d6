//! Actor classes (`#[rustyray::actor]`) and the one actor this instance holds.
//!
//! The macro on an impl block implements [`ActorObject`] for the struct (method dispatch by
//! name, `on_stop`) and submits an [`ActorClass`] to `inventory`; the macro on the struct
//! implements [`ActorState`] (whether and how its state is snapshotted). The exported
//! `guest.actor-*` functions land here. An instance holds at most one actor, so the host can
//! give each actor an instance of its own whose linear memory is the actor's state; it lives
//! in a thread-local slot, which suits a single-threaded guest and spares user state a
//! `Send` bound. Nothing here is wasm-specific, so dispatch is unit-tested natively, where
//! each test thread has a slot of its own, like an instance.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{self, Encoded, InArg};
use crate::error::{ApplicationError, InvokeError};

/// A live actor behind the exports: the struct of a `#[rustyray::actor]` class, erased.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has #[rustyray::actor] on its struct but no #[rustyray::actor] impl block",
    label = "no actor impl block for `{Self}`",
    note = "put #[rustyray::actor] on the `impl` block that holds the constructor and the methods"
)]
pub trait ActorObject: 'static {
    /// Runs `method` on `args`; its encoded result.
    ///
    /// # Errors
    ///
    /// [`InvokeError::FunctionNotFound`] (`Class.method`) for an unknown method,
    /// [`InvokeError::BadArguments`] for arguments that do not decode,
    /// [`InvokeError::Application`] when the method returns `Err`.
    fn call(&mut self, method: &str, args: &mut [InArg]) -> Result<Encoded, InvokeError>;

    /// Starts `method` as a call that may interleave with others (an `async fn` taking
    /// `&self`): its arguments decoded now, the method's future to await. `None` for a
    /// method that runs alone (any other method; [`call`](Self::call) runs it).
    fn call_concurrent<'a>(
        &'a self,
        method: &str,
        args: &mut [InArg],
    ) -> Option<Result<ConcurrentCall<'a>, InvokeError>> {
        let _ = (method, args);
        None
    }

    /// The encoded state, for a class that opted in to snapshots; `None` otherwise.
    fn snapshot(&self) -> Option<Result<Vec<u8>, String>>;

    /// Runs the class's `on_stop`, if it has one.
    fn stop(&mut self);
}

/// How a `#[rustyray::actor]` struct's state is saved and restored; implemented by the macro
/// on the struct, following its `snapshot` option.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has a #[rustyray::actor] impl block but no #[rustyray::actor] on its struct",
    label = "not declared as an actor",
    note = "put #[rustyray::actor] (or #[rustyray::actor(snapshot)]) on the struct definition too"
)]
pub trait ActorState: Sized {
    /// Whether the class opted in with `#[rustyray::actor(snapshot)]`.
    const SNAPSHOT: bool;

    /// The state's MessagePack bytes (or why it did not encode) for a snapshot class.
    fn snapshot(&self) -> Option<Result<Vec<u8>, String>>;

    /// The state rebuilt from [`snapshot`](Self::snapshot)'s bytes.
    ///
    /// # Errors
    ///
    /// [`InvokeError::BadArguments`] when the bytes do not decode,
    /// [`InvokeError::Application`] for a class without snapshots.
    fn restore(class: &str, state: &[u8]) -> Result<Self, InvokeError>;
}

/// A running call of an `async fn` method taking `&self`, borrowing the actor.
pub type ConcurrentCall<'a> = Pin<Box<dyn Future<Output = Result<Encoded, InvokeError>> + 'a>>;

/// A class's constructor shim: arguments in, a live actor out.
pub type ConstructFn = fn(&mut [InArg]) -> Result<Box<dyn ActorObject>, InvokeError>;

/// A class's restore shim: a snapshot in, a live actor out.
pub type RestoreFn = fn(&[u8]) -> Result<Box<dyn ActorObject>, InvokeError>;

/// One `#[rustyray::actor]` class.
pub struct ActorClass {
    /// The class name the host creates it by: the struct's name.
    pub name: &'static str,
    /// The constructor's Rust signature: `fn new(start: i32) -> Self`.
    pub constructor_signature: &'static str,
    /// How many arguments the constructor takes.
    pub constructor_args: u32,
    /// Every remote method as `(name, signature)`, in declaration order.
    pub methods: &'static [(&'static str, &'static str)],
    /// How many arguments each method takes, in the same order.
    pub method_args: &'static [u32],
    /// Whether the state can be snapshotted and restored.
    pub snapshot: bool,
    /// The methods that may interleave with other calls (`async fn` taking `&self`)
    /// when the actor is created with `max_concurrency` > 1.
    pub concurrent_methods: &'static [&'static str],
    /// Decodes the constructor's arguments and runs it.
    pub construct: ConstructFn,
    /// Rebuilds the actor from a snapshot, without the constructor.
    pub restore: RestoreFn,
}

inventory::collect!(ActorClass);

/// The actor this instance holds, and its class. The object is shared (`Rc`) so a call
/// that interleaves can hold it across its awaits: such calls borrow it shared, the others
/// exclusively (the host runs those alone).
struct Live {
    class: &'static ActorClass,
    object: Rc<RefCell<Box<dyn ActorObject>>>,
}

thread_local! {
    /// At most one actor per instance.
    static ACTOR: RefCell<Option<Live>> = const { RefCell::new(None) };
    /// The host's id of the interleaving call being polled now (`None` outside one): what
    /// its waits (`ObjectRef::get_async`) name to the host.
    static CURRENT_CALL: Cell<Option<u64>> = const { Cell::new(None) };
}

/// The interleaving call being polled now, if any.
#[cfg_attr(not(feature = "concurrent"), allow(dead_code))]
pub fn current_call() -> Option<u64> {
    CURRENT_CALL.with(Cell::get)
}

/// Every class's methods that may interleave, as (class, methods).
#[cfg_attr(not(feature = "concurrent"), allow(dead_code))]
pub fn describe_concurrent() -> Vec<(&'static str, &'static [&'static str])> {
    describe_actors()
        .into_iter()
        .map(|class| (class.name, class.concurrent_methods))
        .collect()
}

/// A call's future, polled with [`current_call`] naming it.
#[cfg_attr(not(feature = "concurrent"), allow(dead_code))]
struct InCall<'a> {
    call: u64,
    future: ConcurrentCall<'a>,
}

impl Future for InCall<'_> {
    type Output = Result<Encoded, InvokeError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let outer = CURRENT_CALL.with(|current| current.replace(Some(self.call)));
        let polled = self.future.as_mut().poll(cx);
        CURRENT_CALL.with(|current| current.set(outer));
        polled
    }
}

/// The actor's object, shared, or `FunctionNotFound` for an instance without one.
#[cfg_attr(not(feature = "concurrent"), allow(dead_code))]
fn live_object(method: &str) -> Result<Rc<RefCell<Box<dyn ActorObject>>>, InvokeError> {
    ACTOR.with(|slot| {
        slot.try_borrow()
            .ok()
            .and_then(|slot| slot.as_ref().map(|live| live.object.clone()))
            .ok_or_else(|| {
                InvokeError::FunctionNotFound(format!("{method} (this instance holds no actor)"))
            })
    })
}

fn busy(method: &str) -> InvokeError {
    InvokeError::Application(ApplicationError::from(format!(
        "`{method}` was called while the actor was already running a method"
    )))
}

/// Calls `method` of this instance's actor as call `call` of an actor whose calls may
/// interleave: an `async fn` taking `&self` runs as a future that shares the actor with
/// the other calls in flight; any other method runs at once, alone (the host sends it
/// only when no other call is in flight).
///
/// # Errors
///
/// As [`call_actor`].
#[cfg_attr(not(feature = "concurrent"), allow(dead_code))]
#[allow(
    clippy::await_holding_refcell_ref,
    reason = "an interleaving call holds the actor shared across its awaits: the others borrow \
              it shared too, and the host runs the methods that borrow it exclusively alone"
)]
pub async fn call_actor_concurrent(
    call: u64,
    method: String,
    mut args: Vec<InArg>,
) -> Result<Encoded, InvokeError> {
    let object = live_object(&method)?;
    {
        let shared = object.try_borrow().map_err(|_| busy(&method))?;
        if let Some(started) = shared.call_concurrent(&method, &mut args) {
            return InCall {
                call,
                future: started?,
            }
            .await;
        }
    }
    let mut exclusive = object.try_borrow_mut().map_err(|_| busy(&method))?;
    exclusive.call(&method, &mut args)
}

/// Every actor class, sorted by name.
pub fn describe_actors() -> Vec<&'static ActorClass> {
    let mut classes: Vec<_> = inventory::iter::<ActorClass>.into_iter().collect();
    classes.sort_unstable_by_key(|class| class.name);
    classes
}

fn find_class(name: &str) -> Result<&'static ActorClass, InvokeError> {
    inventory::iter::<ActorClass>
        .into_iter()
        .find(|class| class.name == name)
        .ok_or_else(|| InvokeError::FunctionNotFound(name.to_owned()))
}

/// Makes this instance an actor of `class` by running its constructor on `args`.
///
/// # Errors
///
/// [`InvokeError::FunctionNotFound`] for an unknown class, [`InvokeError::Application`] if
/// the instance already holds an actor or the constructor returns `Err`,
/// [`InvokeError::BadArguments`] for arguments that do not decode.
pub fn new_actor(class: &str, args: &mut [InArg]) -> Result<(), InvokeError> {
    let class = find_class(class)?;
    ensure_empty(class)?;
    let object = (class.construct)(args)?;
    install(class, object)
}

/// Makes this instance an actor of `class` from a snapshot, without the constructor.
///
/// # Errors
///
/// As [`new_actor`], and [`InvokeError::Application`] for a class without snapshots.
pub fn restore_actor(class: &str, state: &[u8]) -> Result<(), InvokeError> {
    let class = find_class(class)?;
    if !class.snapshot {
        return no_snapshots(class.name);
    }
    ensure_empty(class)?;
    let object = (class.restore)(state)?;
    install(class, object)
}

/// Calls `method` of this instance's actor.
///
/// # Errors
///
/// [`InvokeError::FunctionNotFound`] when there is no actor or no such method, and what the
/// method's dispatch reports (see [`ActorObject::call`]).
pub fn call_actor(method: &str, args: &mut [InArg]) -> Result<Encoded, InvokeError> {
    let object = live_object(method)?;
    // The guest is single-threaded and wasm forbids re-entering an instance, so the
    // object is never borrowed here already; if it were, refuse rather than panic.
    let mut object = object.try_borrow_mut().map_err(|_| busy(method))?;
    object.call(method, args)
}

/// The actor's encoded state, for a snapshot class; `None` for other classes, for an
/// instance without an actor, and for a state that did not encode (the host keeps its
/// previous snapshot then).
pub fn snapshot_actor() -> Option<Vec<u8>> {
    ACTOR.with(|slot| {
        let slot = slot.try_borrow().ok()?;
        let live = slot.as_ref()?;
        if live.class.snapshot {
            live.object.try_borrow().ok()?.snapshot()?.ok()
        } else {
            None
        }
    })
}

/// Stops this instance's actor: runs its `on_stop`, if any, then drops it (releasing the
/// handles and objects it held). Does nothing without an actor.
pub fn stop_actor() {
    // Out of the slot first, so nothing holds the slot while `on_stop` runs.
    let live = ACTOR.with(|slot| slot.try_borrow_mut().ok()?.take());
    if let Some(live) = live
        && let Ok(mut object) = live.object.try_borrow_mut()
    {
        object.stop();
    }
}

/// The class of this instance's actor, if it holds one.
pub fn current_class() -> Option<&'static str> {
    ACTOR.with(|slot| Some(slot.try_borrow().ok()?.as_ref()?.class.name))
}

fn ensure_empty(class: &ActorClass) -> Result<(), InvokeError> {
    match current_class() {
        None => Ok(()),
        Some(held) => Err(InvokeError::Application(ApplicationError::from(format!(
            "cannot make this instance a `{}` actor: it already holds a `{held}` actor, and an \
             instance holds one",
            class.name
        )))),
    }
}

fn install(class: &'static ActorClass, object: Box<dyn ActorObject>) -> Result<(), InvokeError> {
    ACTOR.with(|slot| {
        let mut slot = slot.try_borrow_mut().map_err(|_| {
            InvokeError::Application(ApplicationError::from(format!(
                "the `{}` actor was created while another call was running",
                class.name
            )))
        })?;
        *slot = Some(Live {
            class,
            object: Rc::new(RefCell::new(object)),
        });
        Ok(())
    })
}

/// Encodes a snapshot class's state; the `ActorState` impl `#[rustyray::actor(snapshot)]`
/// generates calls this. `ObjectRef`s in the state travel as references: the host keeps
/// their objects alive with the snapshot and hands them back on a restore.
pub fn snapshot_state<T: Serialize>(state: &T) -> Result<Vec<u8>, String> {
    codec::to_bytes_shared(state)
}

/// Decodes a snapshot class's state.
///
/// # Errors
///
/// [`InvokeError::BadArguments`] when the bytes are not a `T`.
pub fn restore_state<T: DeserializeOwned>(class: &str, state: &[u8]) -> Result<T, InvokeError> {
    codec::decode_exact(state).map_err(|why| {
        InvokeError::BadArguments(format!("the snapshot of `{class}` did not decode: {why}"))
    })
}

/// The `restore` of a class without snapshots, which the host should never call.
///
/// # Errors
///
/// Always [`InvokeError::Application`].
pub fn no_snapshots<T>(class: &str) -> Result<T, InvokeError> {
    Err(InvokeError::Application(ApplicationError::from(format!(
        "`{class}` has no snapshots to restore from (declare it with #[rustyray::actor(snapshot)])"
    ))))
}

/// Compiles only if `T` has a `#[rustyray::actor]` impl block; the macro on the struct
/// checks this, so a struct marked alone is an error rather than a silently missing class.
pub fn assert_actor_impl<T: ActorObject>() {}

#[cfg(test)]
mod tests {
    //! Actor classes through the real macro, natively: the path the `actor-*` exports take.
    //! Each test runs on a thread of its own, so each has an empty actor slot, like a fresh
    //! instance.

    use std::cell::Cell;

    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::{ActorOptions, ObjectRef, RayError};

    thread_local! {
        /// What the last stopped `Counter` counted to, recorded by its `on_stop`.
        static STOPPED_AT: Cell<Option<i32>> = const { Cell::new(None) };
    }

    #[rustyray::actor]
    struct Counter {
        count: i32,
    }

    #[rustyray::actor]
    impl Counter {
        fn new(start: i32) -> Self {
            Counter { count: start }
        }

        /// Not a constructor: `new` is.
        fn zero() -> Self {
            Counter::new(0)
        }

        fn increment(&mut self) -> i32 {
            self.count += 1;
            self.count
        }

        pub fn add(&mut self, n: i32) -> i32 {
            self.count += n;
            self.count
        }

        fn get(&self) -> i32 {
            self.count
        }

        async fn doubled(&self) -> i64 {
            i64::from(self.count) * 2
        }

        fn fail(&self) -> Result<i32, String> {
            Err(format!("refusing at {}", self.count))
        }

        fn on_stop(&mut self) {
            STOPPED_AT.set(Some(self.count));
        }

        /// Associated, without `self`: a local helper, not exported.
        fn helper(x: &str) -> usize {
            x.len()
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[rustyray::actor(snapshot)]
    struct Ledger {
        owner: String,
        entries: Vec<i64>,
    }

    #[rustyray::actor]
    impl Ledger {
        fn open(owner: String) -> Result<Self, String> {
            if owner.is_empty() {
                return Err("a ledger needs an owner".to_owned());
            }
            Ok(Ledger {
                owner,
                entries: Vec::new(),
            })
        }

        fn record(&mut self, amount: i64) -> usize {
            self.entries.push(amount);
            self.entries.len()
        }

        fn total(&self) -> i64 {
            self.entries.iter().sum()
        }

        fn owner(&self) -> String {
            self.owner.clone()
        }
    }

    /// A class whose impl block lives in another module than its struct.
    mod elsewhere {
        #[rustyray::actor]
        pub struct Far {
            pub hops: u8,
        }
    }

    #[rustyray::actor]
    impl elsewhere::Far {
        fn new() -> elsewhere::Far {
            elsewhere::Far { hops: 1 }
        }

        fn hops(&self) -> u8 {
            self.hops
        }
    }

    /// Takes a typed handle: handles are task arguments like any serde value.
    #[rustyray::remote]
    fn bump(counter: CounterHandle) -> Result<i32, RayError> {
        counter.increment().get()
    }

    fn a<T: Serialize>(value: &T) -> InArg {
        InArg::Value(crate::codec::encode(value).expect("test values encode"))
    }

    fn call<T: serde::de::DeserializeOwned>(method: &str, args: &mut [InArg]) -> T {
        let value = call_actor(method, args).expect("the call succeeds");
        crate::codec::decode_encoded(value).expect("the result decodes")
    }

    #[test]
    fn describe_lists_classes_constructors_and_methods() {
        let classes = describe_actors();
        let counter = classes
            .iter()
            .find(|class| class.name == "Counter")
            .expect("Counter is registered");
        assert_eq!(counter.constructor_signature, "fn new(start: i32) -> Self");
        assert_eq!(
            counter.methods,
            [
                ("increment", "fn increment(&mut self) -> i32"),
                ("add", "fn add(&mut self, n: i32) -> i32"),
                ("get", "fn get(&self) -> i32"),
                ("doubled", "async fn doubled(&self) -> i64"),
                ("fail", "fn fail(&self) -> Result<i32, String>"),
            ]
        );
        assert!(!counter.snapshot);
        let ledger = classes
            .iter()
            .find(|class| class.name == "Ledger")
            .expect("Ledger is registered");
        assert_eq!(
            ledger.constructor_signature,
            "fn open(owner: String) -> Result<Self, String>"
        );
        assert!(ledger.snapshot);
        assert!(classes.is_sorted_by_key(|class| class.name));
    }

    #[test]
    fn constructs_and_keeps_state_across_calls() {
        assert_eq!(current_class(), None);
        new_actor("Counter", &mut [a(&10)]).expect("constructs");
        assert_eq!(current_class(), Some("Counter"));
        assert_eq!(call::<i32>("increment", &mut []), 11);
        assert_eq!(call::<i32>("increment", &mut []), 12);
        assert_eq!(call::<i32>("add", &mut [a(&5)]), 17);
        assert_eq!(call::<i32>("get", &mut []), 17);
        assert_eq!(call::<i64>("doubled", &mut []), 34);
        stop_actor();
        new_actor("Far", &mut []).expect("a class split across modules constructs");
        assert_eq!(call::<u8>("hops", &mut []), 1);
        // Helpers and the constructor's siblings stay plain Rust.
        assert_eq!(Counter::helper("abc"), 3);
        assert_eq!(Counter::zero().get(), 0);
    }

    #[test]
    fn one_actor_per_instance() {
        new_actor("Counter", &mut [a(&0)]).expect("constructs");
        let Err(InvokeError::Application(message)) = new_actor("Counter", &mut [a(&1)]) else {
            panic!("a second actor is refused");
        };
        assert!(
            message.contains("already holds a `Counter` actor"),
            "{message}"
        );
        assert_eq!(call::<i32>("get", &mut []), 0, "the first one is untouched");
    }

    #[test]
    fn err_is_an_application_error_and_the_actor_lives_on() {
        new_actor("Counter", &mut [a(&3)]).expect("constructs");
        let Err(InvokeError::Application(error)) = call_actor("fail", &mut []) else {
            panic!("an application error");
        };
        assert_eq!(error, "refusing at 3");
        assert_eq!(error.downcast::<String>().as_deref(), Some("refusing at 3"));
        assert_eq!(call::<i32>("increment", &mut []), 4);
    }

    #[test]
    fn unknown_classes_and_methods_are_not_found() {
        assert_eq!(
            new_actor("Nope", &mut []),
            Err(InvokeError::FunctionNotFound("Nope".into()))
        );
        assert!(matches!(
            call_actor("get", &mut []),
            Err(InvokeError::FunctionNotFound(message)) if message.contains("holds no actor")
        ));
        new_actor("Counter", &mut [a(&0)]).expect("constructs");
        assert_eq!(
            call_actor("nope", &mut []),
            Err(InvokeError::FunctionNotFound("Counter.nope".into()))
        );
        // `on_stop` and associated fns are not remote methods.
        for local in ["on_stop", "helper", "new", "zero"] {
            assert_eq!(
                call_actor(local, &mut []),
                Err(InvokeError::FunctionNotFound(format!("Counter.{local}")))
            );
        }
    }

    #[test]
    fn bad_arguments_name_the_method_and_parameter() {
        assert_eq!(
            new_actor("Counter", &mut []),
            Err(InvokeError::BadArguments(
                "`Counter::new` takes 1 argument, got 0".into()
            ))
        );
        assert_eq!(
            current_class(),
            None,
            "a failed constructor leaves no actor"
        );
        new_actor("Counter", &mut [a(&0)]).expect("constructs");
        assert_eq!(
            call_actor("add", &mut []),
            Err(InvokeError::BadArguments(
                "`Counter.add` takes 1 argument, got 0".into()
            ))
        );
        let Err(InvokeError::BadArguments(message)) = call_actor(
            "add",
            &mut [InArg::Value(crate::codec::Encoded {
                encoding: crate::codec::Encoding::Msgpack,
                data: vec![],
            })],
        ) else {
            panic!("an empty buffer is not an i32");
        };
        assert!(
            message.starts_with("`Counter.add` argument 0 (`n: i32`) did not decode: "),
            "{message}"
        );
        assert_eq!(
            call::<i32>("get", &mut []),
            0,
            "a refused call changes nothing"
        );
    }

    #[test]
    fn constructor_err_is_an_application_error() {
        let Err(InvokeError::Application(error)) = new_actor("Ledger", &mut [a(&String::new())])
        else {
            panic!("an application error");
        };
        assert_eq!(error, "a ledger needs an owner");
        assert!(error.is::<String>(), "{error:?}");
        assert_eq!(current_class(), None);
    }

    #[test]
    fn snapshots_round_trip_without_the_constructor() {
        new_actor("Ledger", &mut [a(&"ada".to_string())]).expect("constructs");
        assert_eq!(call::<usize>("record", &mut [a(&5i64)]), 1);
        assert_eq!(call::<usize>("record", &mut [a(&-2i64)]), 2);
        let state = snapshot_actor().expect("Ledger opts in to snapshots");
        assert_eq!(
            crate::codec::decode_exact::<Ledger>(&state).expect("the state is MessagePack"),
            Ledger {
                owner: "ada".into(),
                entries: vec![5, -2]
            }
        );
        // A fresh instance (another thread's slot) comes back with the same state.
        let restored = std::thread::spawn(move || {
            restore_actor("Ledger", &state).expect("restores");
            (
                call::<i64>("total", &mut []),
                call::<String>("owner", &mut []),
            )
        })
        .join()
        .expect("the restoring thread runs");
        assert_eq!(restored, (3, "ada".to_string()));
        // Restoring over a live actor is refused; a stopped one leaves room.
        let state = snapshot_actor().expect("still there");
        assert!(matches!(
            restore_actor("Ledger", &state),
            Err(InvokeError::Application(_))
        ));
        stop_actor();
        restore_actor("Ledger", &state).expect("restores into the empty slot");
        assert_eq!(call::<i64>("total", &mut []), 3);
    }

    #[test]
    fn snapshots_need_the_option() {
        new_actor("Counter", &mut [a(&1)]).expect("constructs");
        assert_eq!(snapshot_actor(), None);
        stop_actor();
        assert!(matches!(
            restore_actor("Counter", &crate::codec::to_bytes(&1).unwrap()),
            Err(InvokeError::Application(message)) if message.contains("#[rustyray::actor(snapshot)]")
        ));
        let Err(InvokeError::BadArguments(message)) = restore_actor("Ledger", &[0xff]) else {
            panic!("garbage is not a Ledger");
        };
        assert!(
            message.starts_with("the snapshot of `Ledger` did not decode"),
            "{message}"
        );
        assert_eq!(snapshot_actor(), None, "no actor, no snapshot");
    }

    #[test]
    fn stop_runs_on_stop_and_empties_the_instance() {
        new_actor("Counter", &mut [a(&40)]).expect("constructs");
        call::<i32>("add", &mut [a(&2)]);
        assert_eq!(STOPPED_AT.get(), None);
        stop_actor();
        assert_eq!(STOPPED_AT.get(), Some(42));
        assert_eq!(current_class(), None);
        stop_actor(); // nothing left to stop
        assert_eq!(STOPPED_AT.get(), Some(42));
        // A class without `on_stop` stops quietly.
        new_actor("Ledger", &mut [a(&"x".to_string())]).expect("constructs");
        stop_actor();
        assert_eq!(current_class(), None);
    }

    /// Natively there is no runtime: creation fails, and everything on the handle reports
    /// the same error; the documented call sites compile.
    #[test]
    fn typed_handles_without_a_runtime() {
        let counter: CounterHandle = Counter::remote(1);
        let Err(RayError::Runtime(message)) = counter.ready() else {
            panic!("no runtime natively");
        };
        // Calls on a handle whose creation failed answer `ActorDied` naming why (Ray's).
        let died = RayError::ActorDied(format!(
            "its creation failed: {}",
            RayError::Runtime(message.clone())
        ));
        let n: ObjectRef<i32> = counter.add(5);
        assert_eq!(n.get(), Err(died.clone()));
        let put = ObjectRef::<i32>::failed(RayError::Cancelled);
        assert_eq!(counter.add(&put).get(), Err(died.clone()));
        assert_eq!(counter.increment_tell(), Err(died.clone()));
        let failed: ObjectRef<()> = Counter::remote(1).raw().call("increment", vec![]);
        assert!(failed.get().is_err());
        let fallible: ObjectRef<i32> = counter.fail();
        assert!(fallible.get().is_err());
        assert_eq!(counter.id(), crate::Id::NONE);
        assert_eq!(counter.clone().ready(), counter.ready());
        assert!(format!("{counter:?}").starts_with("Counter(ActorHandle(failed: "));
        counter.kill();
        let named = Counter::remote_with(ActorOptions::new().name("c").max_restarts(1), 0);
        assert!(named.ready().is_err());
        assert!(Counter::get_named("c").is_none());
        assert!(Counter::get_named_in("ns", "c").is_none());
        let ledger: LedgerHandle = Ledger::remote("ada".to_string());
        let total: ObjectRef<i64> = ledger.total();
        assert!(total.get().is_err());
        // Handles are task arguments (natively the submission itself has no runtime; that a
        // failed handle does not encode is `actor_handle`'s test).
        assert_eq!(
            bump::remote(counter.clone()).get(),
            Err(RayError::Runtime(message.clone()))
        );
        let raw = counter.into_raw();
        assert!(CounterHandle::from_raw(raw).ready().is_err());
        let far: elsewhere::FarHandle = elsewhere::Far::remote();
        assert!(far.hops().get().is_err());
    }

    #[test]
    fn methods_stay_callable_directly() {
        let mut counter = Counter::new(1);
        assert_eq!(counter.increment(), 2);
        assert_eq!(crate::executor::block_on(counter.doubled()), 4);
        let mut ledger = Ledger::open("ada".into()).expect("has an owner");
        ledger.record(3);
        assert_eq!(ledger.total(), 3);
    }
}
