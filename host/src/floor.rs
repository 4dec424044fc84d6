//! The floor under the bench's figures: wasmtime alone on a loaded guest. A store, a
//! fresh instance from the same `InstancePre`, one call, the store dropped, on the
//! calling thread, with no scheduler, object store, permits or dependency tracking.
//! It reaches inside the runtime, so it lives here; `rustyray-bench` times it.

use crate::component::new_store;
use crate::error::{RayError, Result};
use crate::limits::Limits;

/// One fresh-instance call of `function` of the loaded component `guest`, with one
/// raw-bytes argument if `raw_arg` is given (moved in, not copied); the length of the
/// result.
pub async fn fresh_instance_call(
    runtime: &crate::Runtime,
    guest: &str,
    function: &str,
    raw_arg: Option<Vec<u8>>,
) -> Result<usize> {
    let inner = runtime.inner();
    let component = runtime
        .loaded(guest)
        .ok_or_else(|| RayError::Internal(format!("{guest} is not loaded")))?;
    let limits = inner.sandbox.limits_for(&Limits::default())?;
    let mut store = new_store(
        inner,
        component.engine(),
        crate::sandbox::InstanceSandbox::bare(&limits),
        limits,
    );
    let args: Vec<crate::bindings::Argument> = raw_arg
        .as_deref()
        .map(|data| {
            crate::bindings::Argument::Value(crate::bindings::WitValueParam {
                encoding: crate::bindings::WitEncoding::Raw,
                data,
            })
        })
        .into_iter()
        .collect();
    let instance = component
        .pre()
        .instantiate_async(&mut store)
        .await
        .map_err(|err| RayError::Internal(format!("instantiate: {err}")))?;
    let outcome = instance
        .rustyray_runtime_guest()
        .call_invoke(&mut store, function, &args)
        .await
        .map_err(|err| RayError::Internal(format!("call: {err}")))?;
    outcome
        .map(|value| value.data.len())
        .map_err(|err| RayError::Internal(format!("{function} failed: {err:?}")))
}
