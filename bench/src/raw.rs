//! The floor under the figures: wasmtime alone on the same guest. A store, a
//! fresh instance from the same `InstancePre`, one call, the store dropped — on the
//! calling thread, with no scheduler, object store, permits or dependency tracking.
//! The distance between these and the runtime's own figures is what rustyray's
//! machinery costs; the distance to Ray is what the design buys.

use std::time::Instant;

use rustyray::__floor::fresh_instance_call as cycle;
use rustyray::error::{RayError, Result};

use super::workloads::Context;

/// Fresh-instance task cycles per second of `noop`, on one thread.
pub(crate) async fn task_cycle(ctx: Context) -> Result<f64> {
    let runtime = super::workloads::runtime(&ctx).await?;
    let guest = ctx.guest.display().to_string();
    let n = ctx.sizes.tasks;
    let start = Instant::now();
    for _ in 0..n {
        cycle(&runtime, &guest, "noop", None).await?;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// The same cycle on the Python bench guest's `noop`: the floor under
/// `python_tasks_async_per_s`, what instantiating a componentize-py component (its
/// interpreter's memory snapshot and dynamically linked core modules) costs by itself.
pub(crate) async fn python_task_cycle(ctx: Context) -> Result<f64> {
    let path = super::workloads::program_guest(&ctx.python_guest, "Python")?;
    let runtime = super::workloads::program_runtime(path).await?;
    let guest = path.display().to_string();
    let n = ctx.sizes.python_tasks;
    let start = Instant::now();
    for _ in 0..n {
        cycle(&runtime, &guest, "noop", None).await?;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// GB/s of an echo of `roundtrip_mib` through a fresh instance: the argument
/// copied into the guest, decoded, encoded, copied out.
pub(crate) async fn echo(ctx: Context) -> Result<f64> {
    let bytes = ctx.sizes.roundtrip_mib << 20;
    let runtime = super::workloads::runtime_with(&ctx, 64, (bytes * 6).max(64 << 20)).await?;
    let guest = ctx.guest.display().to_string();
    let arg = vec![7u8; bytes];
    cycle(&runtime, &guest, "echo", Some(arg.clone())).await?;
    let start = Instant::now();
    let len = cycle(&runtime, &guest, "echo", Some(arg)).await?;
    let figure = bytes as f64 / start.elapsed().as_secs_f64() / 1e9;
    if len < bytes {
        return Err(RayError::Internal("echo returned too little".into()));
    }
    Ok(figure)
}
