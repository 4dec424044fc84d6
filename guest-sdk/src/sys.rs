//! The one module that calls the host's imports (`objects`, `tasks`, `diagnostics`).
//!
//! Everything above it works with [`Handle`] and [`RayError`](crate::RayError) and never
//! sees wit-bindgen. On `wasm32` a `Handle` is the WIT `object-ref` resource: dropping it
//! drops the resource, which releases the reference on the host. On native targets there is
//! no host: `Handle` is uninhabited, so no code path can hold one, and the calls that would
//! create one fail with [`RayError::Runtime`](crate::RayError::Runtime). That keeps native
//! builds (users' unit tests) compiling without a line of wit-bindgen.

/// One task argument on its way to `tasks.submit`.
#[cfg_attr(
    not(target_arch = "wasm32"),
    allow(dead_code, reason = "native builds never submit")
)]
pub(crate) enum SysArg<'a> {
    /// postcard bytes of the value.
    Value(Vec<u8>),
    /// An object the host resolves to its value before the task runs.
    Object(&'a Handle),
}

pub(crate) use imp::*;

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::SysArg;
    use crate::bindings::rustyray::runtime::{diagnostics, objects, tasks, types};
    use crate::error::RayError;

    /// An owned reference to a host object.
    pub type Handle = types::ObjectRef;

    /// A host is always there to call.
    pub(crate) fn available() -> Result<(), RayError> {
        Ok(())
    }

    pub(crate) fn put(data: &[u8]) -> Result<Handle, RayError> {
        objects::put(data).map_err(from_wit)
    }

    pub(crate) fn get(handle: &Handle) -> Result<Vec<u8>, RayError> {
        objects::get(handle).map_err(from_wit)
    }

    pub(crate) fn id(handle: &Handle) -> u64 {
        handle.id()
    }

    pub(crate) fn clone_handle(handle: &Handle) -> Handle {
        handle.clone_ref()
    }

    pub(crate) fn wait(handles: &[&Handle], num_ready: u32, timeout_ms: Option<u64>) -> Vec<u32> {
        objects::wait(handles, num_ready, timeout_ms)
    }

    pub(crate) fn submit(
        function: &str,
        args: Vec<SysArg<'_>>,
        timeout_ms: Option<u64>,
    ) -> Result<Handle, RayError> {
        let args: Vec<types::TaskArg<'_>> = args
            .into_iter()
            .map(|arg| match arg {
                SysArg::Value(bytes) => types::TaskArg::Value(bytes),
                SysArg::Object(handle) => types::TaskArg::Object(handle),
            })
            .collect();
        tasks::submit(function, &args, types::TaskOptions { timeout_ms }).map_err(from_wit)
    }

    pub(crate) fn cancel(handle: &Handle) {
        tasks::cancel(handle);
    }

    pub(crate) fn report_panic(message: &str) {
        diagnostics::report_panic(message);
    }

    fn from_wit(error: types::TaskError) -> RayError {
        use types::TaskError as E;
        match error {
            E::Application(message) => RayError::Application(message),
            E::Trap(trap) => RayError::Trap {
                message: trap.message,
                backtrace: trap.backtrace,
            },
            E::Cancelled => RayError::Cancelled,
            E::Timeout(ms) => RayError::Timeout { ms },
            E::DependencyFailed(message) => RayError::DependencyFailed(message),
            E::FunctionNotFound(name) => RayError::FunctionNotFound(name),
            E::BadArguments(message) => RayError::BadArguments(message),
            E::InvalidModule(message) => RayError::InvalidModule(message),
            E::Runtime(message) => RayError::Runtime(message),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::SysArg;
    use crate::error::RayError;

    /// No host, so no object can be referenced: nothing ever constructs this type, and the
    /// functions taking one below are never called.
    #[allow(dead_code, reason = "no handle exists without a host")]
    pub struct Handle(());

    /// There is no host on a native target.
    pub(crate) fn available() -> Result<(), RayError> {
        Err(unavailable())
    }

    /// The error every native call that needs the host returns.
    fn unavailable() -> RayError {
        RayError::Runtime(
            "rustyray guest APIs need the rustyray runtime; on native targets call the \
             function directly"
                .to_owned(),
        )
    }

    pub(crate) fn put(_data: &[u8]) -> Result<Handle, RayError> {
        Err(unavailable())
    }

    pub(crate) fn get(_handle: &Handle) -> Result<Vec<u8>, RayError> {
        Err(unavailable())
    }

    pub(crate) fn id(_handle: &Handle) -> u64 {
        0
    }

    pub(crate) fn clone_handle(_handle: &Handle) -> Handle {
        Handle(())
    }

    pub(crate) fn wait(
        _handles: &[&Handle],
        _num_ready: u32,
        _timeout_ms: Option<u64>,
    ) -> Vec<u32> {
        Vec::new()
    }

    pub(crate) fn submit(
        _function: &str,
        _args: Vec<SysArg<'_>>,
        _timeout_ms: Option<u64>,
    ) -> Result<Handle, RayError> {
        Err(unavailable())
    }

    pub(crate) fn cancel(_handle: &Handle) {}
}
