//! # rustyray
//!
//! Ray Core's programming model — tasks, objects, and (soon) actors — where every task
//! runs as a sandboxed WebAssembly component on wasmtime.
//!
//! ## A tour
//!
//! - [`Runtime`] (`runtime.rs`) is one embedded node: a wasmtime [`Engine`](wasmtime::Engine)
//!   (`engine.rs`: pooling allocator, epochs, fibers), a tokio executor whose
//!   threads run the tasks, the [object store](object_store), and the function
//!   registry (`registry.rs`). Its API is Ray's: `put`, `get`, `wait`, `cancel`,
//!   tasks through [`TaskBuilder`], `shutdown`.
//! - A component is loaded once (`component.rs`): compiled by Cranelift or loaded
//!   from the on-disk cache (`cache.rs`), linked against WASI and the rustyray
//!   imports, checked against the WIT contract (`wit/runtime.wit`), and asked to
//!   `describe` its functions, which go into the registry.
//! - A task (`task.rs`) waits for its `ObjectRef` arguments, takes an execution
//!   permit, runs in a fresh instance, and fills its output object. Cancels and
//!   deadlines drop the task's future; a busy guest yields every epoch tick so they
//!   can.
//! - Guests talk back through imports (`bindings.rs`): `put`, `get` (suspends only
//!   the guest's fiber), `wait`, `submit`, `cancel`. Their object handles are WIT
//!   resources: dropping one releases the reference.
//! - The sandbox: a guest gets no filesystem, network or environment unless
//!   [`Capabilities`] grant them (`sandbox.rs`), runs under [`Limits`] (memory, fuel,
//!   result size, output, ...; `limits.rs`) that fail it with
//!   [`RayError::LimitExceeded`], and its stdout/stderr are captured per task
//!   (`output.rs`) and returned with the result ([`ObjectRef::output`]). The threat
//!   model is `SECURITY.md`.
//! - Objects (`object_store.rs`) are `Arc`-shared slots of [`bytes::Bytes`]: no
//!   global table, no lock to hand a reference around, freed with the last holder.
//! - The seed's API (`ActorSystem`, `TaskSystem`, [`task_function!`]) lives in
//!   `seed.rs`, over the same runtime.
//!
//! ## Example
//!
//! ```no_run
//! use rustyray::{Runtime, TaskBuilder};
//! # async fn demo() -> rustyray::error::Result<()> {
//! let runtime = Runtime::new()?;
//! runtime.load("guest.wasm").await?;
//! let sum = TaskBuilder::new("add").arg(5).arg(3).submit::<i32>(&runtime).await?;
//! assert_eq!(sum.get().await?, 8);
//! runtime.shutdown().await?;
//! # Ok(()) }
//! ```

mod args;
mod bindings;
mod budget;
pub mod cache;
mod call_cancel;
pub mod codec;
mod component;
mod deadline;
mod engine;
pub mod error;
pub mod id;
pub mod limits;
mod mailbox;
pub mod net;
mod object_ref;
pub mod object_store;
pub mod output;
pub mod refs;
pub mod registry;
pub mod remote;
mod runtime;
pub mod sandbox;
mod seed;
mod signal;
mod spill;
pub mod state;
mod symlinks;
pub mod terminal;
pub mod timeline;
mod wait;

/// Tasks: the builder, options, and the seed's `TaskSystem`.
pub mod task {
    pub use crate::runtime::{AsRuntime, TaskBuilder};
    pub use crate::seed::TaskSystem;
    pub use crate::task_impl::{
        DEFAULT_MAX_RETRIES, MAX_RETRY_EXCEPTION_TYPES, TaskOptions, UNLIMITED,
    };
}
#[path = "task.rs"]
mod task_impl;

/// Actors: handles, options, and the seed's `ActorSystem`.
pub mod actor {
    pub use crate::actor_impl::{
        ActorHandle, ActorId, ActorOptions, DEFAULT_NAMESPACE, MAX_CONCURRENCY,
    };
    pub use crate::seed::ActorSystem;
}
#[path = "actor.rs"]
mod actor_impl;

pub use actor_impl::{ActorHandle, ActorId, ActorOptions};
pub use args::{Args, IntoArgs};
pub use cache::CacheOutcome;
pub use component::{ActorClassInfo, ComponentInfo, ExportedFunction};
pub use error::{Cause, ErrorInfo, RayError, Result, TrapContext};
pub use id::{Id, IdParseError};
pub use limits::{Limit, Limits};
pub use net::{NetAllow, NetGrants, NetRule, NetSpecError, PortRange};
pub use object_ref::ObjectRef;
pub use object_store::{ObjectId, StoreStats};
pub use output::{OutputLine, Stream, TaskOutput};
pub use registry::{FunctionInfo, NativeFunction};
pub use runtime::{ActorBuilder, AsRuntime, Runtime, RuntimeBuilder, RuntimeStats, TaskBuilder};
pub use sandbox::{Capabilities, DirAccess, DirGrant, Stdin};
pub use state::{StateFile, StateSnapshot};
pub use task_impl::{TaskOptions, UNLIMITED};
pub use timeline::{Timeline, TimelineGuard};

/// The bench's raw-wasmtime floor, which reaches inside the runtime (`rustyray-bench`).
#[doc(hidden)]
#[path = "floor.rs"]
pub mod __floor;

#[doc(hidden)]
pub mod __private {
    pub use bytes::Bytes;
}
