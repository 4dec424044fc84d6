//! wit-bindgen's output for `wit/runtime.wit`, world `driver-module` (wasm only).
//!
//! Generated once, here, so no guest crate ever depends on wit-bindgen: `sys` calls the
//! imports and `exports` implements the exports. Every guest is a `driver-module` (a task
//! module that also exports `driver.run`); without a `#[rustyray::main]`, `run` returns an
//! exit status saying so.

#![allow(
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::pedantic,
    reason = "generated code"
)]

wit_bindgen::generate!({
    world: "driver-module",
    path: "wit",
});
