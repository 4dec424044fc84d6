//! Memory-aware scheduling and run-time deadlines (issue 11.4).

use std::time::{Duration, Instant};

use rustyray::{Limit, RayError, Result};

use crate::common::{self, LONG, SHORT, within};

const MIB: usize = 1 << 20;

/// A builder with small pools: each pool slot costs kernel memory mappings, and the
/// tests share one process (`vm.max_map_count`). Room for 64 running tasks.
fn small() -> rustyray::RuntimeBuilder {
    common::builder().max_instances(130).max_actors(2)
}

#[tokio::test]
async fn deadlines_count_run_time_not_the_time_in_line() -> Result<()> {
    // Many tasks at once on two threads: each waits its turn most of the time. (A
    // small memory limit, so that memory does not bound how many run at once.)
    let runtime = common::runtime_with(
        small()
            .worker_threads(2)
            .max_running(64)
            .memory_limit(16 * MIB),
    )
    .await;
    // A task of about 20 ms of CPU on this machine, measured alone.
    let mut iterations = 1_000_000u64;
    loop {
        let start = Instant::now();
        let alone = runtime
            .task("busy")
            .arg(iterations)
            .submit_now::<u64>(&runtime)?;
        within(SHORT, "busy", alone.get()).await?;
        if start.elapsed() >= Duration::from_millis(20) || iterations >= 1 << 34 {
            break;
        }
        iterations *= 2;
    }
    // 128 of them with a deadline of 400 ms: 64 running at once share two threads, so
    // each spends 600 ms or more in line, and the whole takes over a second.
    let deadline = Duration::from_millis(400);
    let start = Instant::now();
    let tasks = (0..128)
        .map(|_| {
            runtime
                .task("busy")
                .arg(iterations)
                .timeout(deadline)
                .submit_now::<u64>(&runtime)
        })
        .collect::<Result<Vec<_>>>()?;
    for task in &tasks {
        assert_eq!(within(LONG, "busy", task.get()).await?, iterations);
    }
    eprintln!(
        "128 tasks of {iterations} iterations with a 400 ms deadline took {:?}",
        start.elapsed()
    );
    // Canary: a task that really runs past its deadline still times out.
    let spinning = runtime
        .task("spin")
        .timeout(Duration::from_millis(50))
        .submit_now::<u64>(&runtime)?;
    assert!(matches!(
        within(SHORT, "spin", spinning.get()).await,
        Err(RayError::Timeout(_))
    ));
    Ok(())
}

#[tokio::test]
async fn memory_heavy_tasks_wait_for_room_instead_of_failing() -> Result<()> {
    // Each task may grow to 64 MiB and does grow to 40: two fit in 160 MiB at a time,
    // 24 at once would need 960.
    let runtime = common::runtime_with(
        small()
            .memory_limit(64 * MIB)
            .host_memory(160 * MIB)
            .max_running(32),
    )
    .await;
    let tasks = (0..24)
        .map(|_| {
            runtime
                .task("allocate")
                .arg(40u32)
                .submit_now::<u64>(&runtime)
        })
        .collect::<Result<Vec<_>>>()?;
    // Canary beside them: a small task runs too (it waits its turn like the others).
    common::assert_adds(&runtime, 4, 5).await?;
    for task in &tasks {
        assert_eq!(within(LONG, "allocate", task.get()).await?, 40 << 20);
    }
    let stats = runtime.stats();
    assert!(
        stats.objects.host_memory_peak <= stats.objects.host_memory_capacity,
        "{stats:?}"
    );
    assert_eq!(stats.tasks_waiting_for_memory, 0);
    assert_eq!(stats.host_memory_reserved, 0);
    Ok(())
}

#[tokio::test]
async fn a_task_bigger_than_the_budget_runs_alone_and_is_still_bounded() -> Result<()> {
    // Its memory limit alone (64 MiB) is over the budget (32 MiB): it runs when no
    // other task does, instead of waiting forever.
    let runtime = common::runtime_with(small().memory_limit(64 * MIB).host_memory(32 * MIB)).await;
    let small = (0..4)
        .map(|_| {
            runtime
                .task("allocate")
                .arg(8u32)
                .submit_now::<u64>(&runtime)
        })
        .collect::<Result<Vec<_>>>()?;
    for task in &small {
        assert_eq!(within(SHORT, "allocate", task.get()).await?, 8 << 20);
    }
    // What it really grows into is still charged: past the budget it fails, naming it.
    let too_big = runtime
        .task("allocate")
        .arg(48u32)
        .max_retries(0)
        .submit_now::<u64>(&runtime)?;
    match within(SHORT, "allocate", too_big.get()).await {
        Err(RayError::LimitExceeded { limit, .. }) => assert_eq!(limit, Limit::HostMemory),
        other => panic!("expected the host memory limit, got {other:?}"),
    }
    common::assert_adds(&runtime, 1, 1).await?;
    Ok(())
}

#[tokio::test]
async fn a_parent_waiting_on_children_gives_its_memory_back() -> Result<()> {
    // Parent and child cannot both hold 64 MiB of a 100 MiB budget: the parent's
    // reservation goes back while it waits in `get`, as its permit does.
    let runtime = common::runtime_with(small().memory_limit(64 * MIB).host_memory(100 * MIB)).await;
    let sum = runtime
        .task("nested_sum")
        .arg(6u32)
        .submit_now::<i64>(&runtime)?;
    assert_eq!(within(SHORT, "nested_sum", sum.get()).await?, 21);
    Ok(())
}
