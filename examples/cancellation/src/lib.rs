//! Timeouts and cancellation: a task past its deadline, a running task cancelled
//! mid-computation, and a pending task cancelled before it ever ran.
//!
//! Run with `rustyray run examples/cancellation`.

use std::time::Duration;

use rustyray::{RayError, TaskOptions};

/// Spins for `turns` loop iterations (a stand-in for real work).
#[rustyray::remote]
fn work(turns: u64) -> u64 {
    let mut n = 0u64;
    while n < turns {
        n = std::hint::black_box(n + 1);
    }
    n
}

#[rustyray::remote]
fn double(x: u64) -> u64 {
    x * 2
}

fn show(what: &str, result: Result<u64, RayError>) {
    match result {
        Ok(v) => println!("{what}: finished with {v}"),
        Err(e) => println!("{what}: {e}"),
    }
}

#[rustyray::main]
fn main() -> Result<(), RayError> {
    // A deadline: this task would spin for a very long time; it gets 50 ms.
    let slow = work::remote_with(
        TaskOptions::new().timeout(Duration::from_millis(50)),
        u64::MAX,
    );
    show("task with a 50 ms timeout", slow.get());

    // Cancel a running task: the runtime interrupts the guest mid-loop.
    let running = work::remote(u64::MAX);
    let (ready, _not_ready) = rustyray::wait(
        std::slice::from_ref(&running),
        1,
        Some(Duration::from_millis(20)),
    )?;
    println!("after 20 ms the long task is ready: {}", !ready.is_empty());
    rustyray::cancel(&running);
    show("running task after cancel", running.get());

    // Cancel a pending task: `double` waits for `blocker`, so it has not started;
    // cancelling it means it never runs. Then the blocker is cancelled too.
    let blocker = work::remote(u64::MAX);
    let pending = double::remote(&blocker);
    rustyray::cancel(&pending);
    show("pending task after cancel", pending.get());
    rustyray::cancel(&blocker);
    show("its blocker after cancel", blocker.get());

    // Work that fits its deadline is unaffected.
    let quick = work::remote_with(TaskOptions::new().timeout(Duration::from_secs(10)), 1_000);
    show("quick task with a 10 s timeout", quick.get());
    Ok(())
}
