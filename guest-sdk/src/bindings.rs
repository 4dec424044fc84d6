//! wit-bindgen's output for `wit/runtime.wit` (wasm only), world `driver-module`; with the
//! `concurrent` feature, `concurrent-module` (a `driver-module` that also exports
//! `concurrent-actor` and imports `concurrent-objects`).
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

#[cfg(feature = "concurrent")]
wit_bindgen::generate!({
    world: "concurrent-module",
    path: "wit",
});

#[cfg(not(feature = "concurrent"))]
wit_bindgen::generate!({
    world: "driver-module",
    path: "wit",
});
