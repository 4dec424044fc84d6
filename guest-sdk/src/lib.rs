//! # rustyray guest SDK
//!
//! Everything a task crate needs to run on rustyray, a Ray-style runtime where every task and
//! every actor is a WebAssembly component. Depend on it under the name `rustyray` and build a `cdylib` for
//! `wasm32-wasip2`:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! rustyray = { package = "rustyray-sdk", path = "../guest-sdk" }
//! serde = { version = "1", features = ["derive"] }
//! ```
//!
//! ```no_run
//! # extern crate rustyray_sdk as rustyray;
//! use std::time::Duration;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Point { x: f64, y: f64 }
//!
//! #[rustyray::remote]
//! fn add(a: i32, b: i32) -> i32 { a + b }
//!
//! // `Err(e)` becomes an application error carrying `e.to_string()`, the error's type
//! // name and, when the type is `Serialize`, its value: `err.downcast::<E>()` gives it back.
//! #[rustyray::remote]
//! fn parse(s: String) -> Result<u64, std::num::ParseIntError> { s.parse() }
//!
//! #[rustyray::remote]
//! async fn slow(p: Point) -> Point { p }
//!
//! #[rustyray::main]
//! fn main() -> Result<(), rustyray::RayError> {
//!     let a = add::remote(5, 3);                 // ObjectRef<i32>
//!     let b = add::remote(&a, 10);               // values, ObjectRefs or &ObjectRefs
//!     println!("{}", b.get()?);                  // 18; get() may be called many times
//!     let r = rustyray::put(&vec![1u8, 2, 3])?;  // ObjectRef<Vec<u8>>
//!     let v: Vec<u8> = rustyray::get(&r)?;
//!     let (ready, not_ready) = rustyray::wait(&[a.clone(), b.clone()], 1, Some(Duration::from_millis(100)))?;
//!     let sums: Vec<i32> = rustyray::get_all(&[a.clone(), b.clone()])?;  // fails fast
//!     let late = b.get_timeout(Duration::from_millis(10));        // Err(GetTimeout) if not ready
//!     rustyray::cancel(&b);
//!     let c = add::remote_with(
//!         rustyray::TaskOptions::new().timeout(Duration::from_millis(50)),
//!         1,
//!         2,
//!     );
//!     let n = parse::remote("42".to_string());   // ObjectRef<u64>
//!     let p = slow::remote(Point { x: 1.0, y: 2.0 });
//!     Ok(())
//! }
//! ```
//!
//! Actors are a struct and its impl block, both marked [`actor`]; the macro generates a typed
//! handle, `CounterHandle` here:
//!
//! ```no_run
//! # extern crate rustyray_sdk as rustyray;
//! use serde::{Deserialize, Serialize};
//!
//! // `snapshot`: after a crash the runtime restores the last saved state (needs serde).
//! #[derive(Serialize, Deserialize)]
//! #[rustyray::actor(snapshot)]
//! struct Counter { count: i32 }
//!
//! #[rustyray::actor]
//! impl Counter {
//!     // The constructor: the associated fn returning `Self` (or `Result<Self, E>`).
//!     fn new(start: i32) -> Self { Counter { count: start } }
//!     // Every `&self` / `&mut self` method is remote.
//!     fn add(&mut self, n: i32) -> i32 { self.count += n; self.count }
//!     fn check(&self) -> Result<i32, String> { Ok(self.count) }
//!     // Not remote: runs when the actor is stopped gracefully.
//!     fn on_stop(&mut self) {}
//! }
//!
//! // Handles travel in arguments (as the actor's id).
//! #[rustyray::remote]
//! fn bump(counter: CounterHandle) -> Result<i32, rustyray::RayError> {
//!     counter.add(1).get()
//! }
//!
//! # fn demo() -> Result<(), rustyray::RayError> {
//! let counter = Counter::remote(10);                     // CounterHandle
//! let n = counter.add(5);                                // ObjectRef<i32>
//! counter.add_tell(1)?;                                  // fire and forget
//! println!("{}", bump::remote(counter.clone()).get()?); // 17
//! let named = Counter::remote_with(
//!     rustyray::ActorOptions::new().name("hits").max_restarts(3),
//!     0,
//! );
//! let again = Counter::get_named("hits").expect("alive");
//! named.kill();
//! # Ok(()) }
//! # fn main() {}
//! ```
//!
//! On native targets the functions stay plain functions (`add(5, 3)` in a unit test), so do
//! actor methods, and every runtime call fails with [`RayError::Runtime`].
//!
//! ## How the pieces fit
//!
//! - [`remote`] and [`main`] (from `rustyray-sdk-macros`) register functions in the
//!   `registry` with `inventory`, and [`actor`] registers classes in `actor_registry`;
//!   nothing needs listing by hand.
//! - `exports` (wasm only) implements the component's exported `guest` and `driver`
//!   interfaces from `wit/runtime.wit`: `describe` lists both registries, `invoke`
//!   dispatches by name, `actor-new`/`actor-call`/`actor-snapshot`/`actor-restore`/
//!   `actor-stop` drive the one actor an instance holds, `run` calls the `#[main]`. The SDK
//!   exports them itself, so a guest crate has no boilerplate; wit-bindgen stays an
//!   implementation detail.
//! - [`ObjectRef`], [`put`], [`get`], [`wait`], [`cancel`], the generated
//!   `name::remote(..)`, and [`ActorHandle`] (behind every typed handle) talk to the host
//!   through `sys`, the one module that calls the imports. On native targets `sys` is a stub whose calls fail with
//!   [`RayError::Runtime`], so users can unit-test their functions by calling them directly.
//! - Values cross the boundary as MessagePack, or raw for byte buffers (`codec`); users only see serde.
//!
//! The SDK adds no WASI imports of its own (no clocks, no randomness, no files). Every
//! wasm32-wasip2 guest built with std imports stdio, `environment` and `exit` anyway: std's
//! panic machinery links them even if nothing ever panics. Beyond those and
//! `rustyray:runtime`, what a guest imports is what its own code uses.

// Generated code names this crate `::rustyray`; this makes that path work inside the SDK's
// own tests too.
extern crate self as rustyray;

mod actor_handle;
mod actor_registry;
#[cfg(target_arch = "wasm32")]
mod bindings;
mod codec;
mod error;
mod executor;
#[cfg(target_arch = "wasm32")]
mod exports;
mod function;
mod id;
mod msgpack;
mod object_ref;
mod options;
mod registry;
mod runtime;
mod sys;

pub use actor_handle::{ActorHandle, get_actor, get_actor_in};
pub use error::{ApplicationError, RAY_ERROR_TYPE, RayError};
pub use function::{Function, function};
pub use id::Id;
pub use object_ref::{AnyObjectRef, Arg, IntoArg, LoweredArg, ObjectRef, arg, arg_object, arg_ref};
pub use options::{ActorOptions, TaskOptions, UNLIMITED};
pub use runtime::{
    MAX_NUM_RETURNS, args, cancel, exit_actor, free, get, get_all, put, wait, wait_indexes,
};
pub use rustyray_sdk_macros::{actor, main, remote};

/// What the macros' generated code uses. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::actor_handle::{
        ActorHandle, call as call_actor, call_returns as call_actor_returns,
        create as create_actor, tell as tell_actor,
    };
    pub use crate::actor_registry::{
        ActorClass, ActorObject, ActorState, ConcurrentCall, assert_actor_impl,
        call_actor as dispatch_actor_call, current_class, describe_actors, new_actor, no_snapshots,
        restore_actor, restore_state, snapshot_actor, snapshot_state, stop_actor,
    };
    pub use crate::codec::{
        Encoded, Encoding, Fallible, FromArg, InArg, MainOutput, application_error, check_arity,
        check_min_arity, decode_arg, encode_fallible, encode_output, exit_code, fallible_value,
        probe,
    };
    pub use crate::error::InvokeError;
    pub use crate::error::RayError;
    pub use crate::executor::block_on;
    pub use crate::object_ref::{Arg, IntoArg, LoweredArg, ObjectRef, lower};
    pub use crate::options::{ActorOptions, TaskOptions, UNLIMITED};
    pub use crate::registry::{
        EXIT_NO_MAIN, EXIT_SEVERAL_MAINS, MainFunction, RemoteFunction, describe, has_main, invoke,
        run_main,
    };
    pub use crate::runtime::{next_ref, submit, submit_returns};
    pub use inventory;
    pub use serde;
}
