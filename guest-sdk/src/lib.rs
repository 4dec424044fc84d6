//! # rustyray guest SDK
//!
//! Everything a task crate needs to run on rustyray, a Ray-style runtime where every task is
//! a WebAssembly component. Depend on it under the name `rustyray` and build a `cdylib` for
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
//! ```ignore
//! #[rustyray::remote]
//! fn add(a: i32, b: i32) -> i32 { a + b }
//!
//! #[rustyray::main]
//! fn main() -> Result<(), rustyray::RayError> {
//!     let a = add::remote(5, 3);        // ObjectRef<i32>
//!     let b = add::remote(&a, 10);      // results feed other tasks without a copy here
//!     println!("{}", b.get()?);         // 18
//!     Ok(())
//! }
//! ```
//!
//! ## How the pieces fit
//!
//! - [`remote`] and [`main`] (from `rustyray-sdk-macros`) register functions in the
//!   `registry` with `inventory`; nothing needs listing by hand.
//! - `exports` (wasm only) implements the component's exported `guest` and `driver`
//!   interfaces from `wit/runtime.wit`: `describe` lists the registry, `invoke` dispatches
//!   by name, `run` calls the `#[main]`. The SDK exports them itself, so a guest crate has
//!   no boilerplate; wit-bindgen stays an implementation detail.
//! - [`ObjectRef`], [`put`], [`get`], [`wait`], [`cancel`] and the generated
//!   `name::remote(..)` talk to the host through `sys`, the one module that calls the
//!   imports. On native targets `sys` is a stub whose calls fail with
//!   [`RayError::Runtime`], so users can unit-test their functions by calling them directly.
//! - Values cross the boundary as postcard bytes (`codec`); users only see serde.
//!
//! The SDK itself imports nothing from WASI (no clocks, no stdio): what a guest imports
//! beyond `rustyray:runtime` is what its own code uses.

// Generated code names this crate `::rustyray`; this makes that path work inside the SDK's
// own tests too.
extern crate self as rustyray;

#[cfg(target_arch = "wasm32")]
mod bindings;
mod codec;
mod error;
mod executor;
#[cfg(target_arch = "wasm32")]
mod exports;
mod object_ref;
mod options;
mod registry;
mod runtime;
mod sys;

pub use error::RayError;
pub use object_ref::{AnyObjectRef, Arg, ObjectRef};
pub use options::TaskOptions;
pub use runtime::{args, cancel, get, put, wait};
pub use rustyray_sdk_macros::{main, remote};

/// What the macros' generated code uses. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::codec::{
        Fallible, MainOutput, check_arity, decode_arg, encode_fallible, encode_output, exit_code,
    };
    pub use crate::error::InvokeError;
    pub use crate::executor::block_on;
    pub use crate::object_ref::{Arg, LoweredArg, ObjectRef, lower};
    pub use crate::options::TaskOptions;
    pub use crate::registry::{MainFunction, RemoteFunction, describe, invoke, run_main};
    pub use crate::runtime::submit;
    pub use inventory;
    pub use postcard;
    pub use serde;
}
