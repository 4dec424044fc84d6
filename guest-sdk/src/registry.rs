//! The component's table of entry points, filled by the macros through `inventory`.
//!
//! `#[rustyray::remote]` submits a [`RemoteFunction`] and `#[rustyray::main]` a
//! [`MainFunction`]; the exported `guest.describe`, `guest.invoke` and `driver.run` read
//! them here. Nothing wasm-specific lives in this module, so dispatch is unit-tested
//! natively. On wasm, `inventory`'s registrations are static constructors: the component's
//! export glue (wit-bindgen's `run_ctors_once`) runs them before the first export body, so
//! the table is complete by the time anything below reads it.

use crate::error::InvokeError;

/// One `#[rustyray::remote]` function.
pub struct RemoteFunction {
    /// The name the host invokes it by.
    pub name: &'static str,
    /// Its Rust signature, for `rustyray inspect`: `fn add(a: i32, b: i32) -> i32`.
    pub signature: &'static str,
    /// Decodes postcard arguments, calls the function, encodes its result.
    pub invoke: fn(&[Vec<u8>]) -> Result<Vec<u8>, InvokeError>,
}

inventory::collect!(RemoteFunction);

/// The `#[rustyray::main]` function.
pub struct MainFunction {
    /// The function's Rust name, for messages.
    pub name: &'static str,
    /// Runs it; its exit status.
    pub run: fn() -> i32,
}

inventory::collect!(MainFunction);

/// Exit status of `driver.run` in a component with no `#[rustyray::main]`.
pub const EXIT_NO_MAIN: i32 = 2;
/// Exit status of `driver.run` in a component with more than one `#[rustyray::main]`.
pub const EXIT_SEVERAL_MAINS: i32 = 3;

/// Every remote function as `(name, signature)`, sorted by name.
pub fn describe() -> Vec<(&'static str, &'static str)> {
    let mut functions: Vec<_> = inventory::iter::<RemoteFunction>
        .into_iter()
        .map(|function| (function.name, function.signature))
        .collect();
    functions.sort_unstable();
    functions
}

/// Runs the remote function exported as `name` on postcard-encoded `args`.
///
/// # Errors
///
/// [`InvokeError::FunctionNotFound`] for an unknown name, [`InvokeError::BadArguments`]
/// when the arguments do not decode, [`InvokeError::Application`] when it returns `Err`.
pub fn invoke(name: &str, args: &[Vec<u8>]) -> Result<Vec<u8>, InvokeError> {
    let function = inventory::iter::<RemoteFunction>
        .into_iter()
        .find(|function| function.name == name)
        .ok_or_else(|| InvokeError::FunctionNotFound(name.to_owned()))?;
    (function.invoke)(args)
}

/// Runs the component's `#[rustyray::main]`; its exit status, or [`EXIT_NO_MAIN`] /
/// [`EXIT_SEVERAL_MAINS`] when there is not exactly one. (Those two are not printed: the
/// SDK writes nothing to stdio itself, so a task-only guest imports no WASI streams; the
/// host names the status.)
pub fn run_main() -> i32 {
    let mut mains = inventory::iter::<MainFunction>.into_iter();
    match (mains.next(), mains.next()) {
        (Some(main), None) => (main.run)(),
        (None, _) => EXIT_NO_MAIN,
        (Some(_), Some(_)) => EXIT_SEVERAL_MAINS,
    }
}
