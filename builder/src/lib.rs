//! # rustyray-builder
//!
//! Turns source into guest components: a Rust crate (`cargo build --target
//! wasm32-wasip2`, [`guest_build`]), a Python program (componentize-py,
//! [`python_build`]) or a JavaScript one (componentize-js, [`js_build`]), the steps the
//! last two share ([`program_build`]: the tools' venv or npm prefix, the build cache by
//! content hash), and `rustyray new`'s templates ([`scaffold`]).
//!
//! A crate of its own because the runtime never builds anything: it runs components.
//! The CLI, the node (deploy of a crate directory) and the bench use it.

pub mod guest_build;
pub mod js_build;
pub mod program_build;
pub mod python_build;
pub mod scaffold;
