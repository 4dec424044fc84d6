//! Shutdown: graceful, with a deadline, after which new work is refused, and by
//! dropping the runtime; in every case every `get` gets an answer.

use std::time::{Duration, Instant};

use rustyray::{RayError, Result, task_function};
use tokio::sync::Notify;

use crate::common::{self, SHORT, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_tasks_in_flight_finish() -> Result<()> {
    let runtime = common::runtime().await;
    let iterations = 2_000_000u64;
    let busy = (0..20)
        .map(|_| {
            runtime
                .task("busy")
                .arg(iterations)
                .submit_now::<u64>(&runtime)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut chained = runtime.task("inc").arg(0u64).submit_now::<u64>(&runtime)?;
    for _ in 0..20 {
        chained = runtime
            .task("inc")
            .arg_ref(&chained)
            .submit_now::<u64>(&runtime)?;
    }
    within(Duration::from_secs(30), "shutdown", runtime.shutdown()).await?;

    // When shutdown returns, everything has ended, with its value.
    assert_eq!(runtime.stats().tasks_in_flight, 0);
    for r in &busy {
        assert!(r.is_ready());
        assert_eq!(r.get().await?, iterations);
    }
    assert!(chained.is_ready());
    assert_eq!(chained.get().await?, 21);

    let late = runtime
        .task("add")
        .arg(1)
        .arg(2)
        .submit_now::<i32>(&runtime)?;
    match within(SHORT, "a task after shutdown", late.get()).await {
        Err(RayError::ShutDown) => {}
        other => panic!("expected ShutDown, got {other:?}"),
    }
    // Shutting down again is harmless.
    within(SHORT, "a second shutdown", runtime.shutdown()).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_task_in_flight_submit_the_tasks_it_needs() -> Result<()> {
    let runtime = common::runtime().await;
    // A native gate the test opens once shutdown has begun, so that `nested_sum`
    // (in flight, waiting on the gate) starts only then.
    let gate: &'static Notify = Box::leak(Box::new(Notify::new()));
    runtime.register_function(
        "gate",
        task_function!(|n: u32| async move {
            gate.notified().await;
            Ok::<u32, String>(n)
        }),
    )?;
    let opened = runtime
        .task("gate")
        .arg(20u32)
        .submit_now::<u32>(&runtime)?;
    let nested = runtime
        .task("nested_sum")
        .arg_ref(&opened)
        .submit_now::<i64>(&runtime)?;
    let (shutdown, ()) = tokio::join!(
        within(Duration::from_secs(30), "shutdown", runtime.shutdown()),
        async { gate.notify_one() },
    );
    shutdown?;
    assert!(nested.is_ready());
    // A task in flight finishes: the tasks it submits on the way are part of it.
    assert_eq!(nested.get().await?, 210);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_a_deadline_cancels_what_is_left() -> Result<()> {
    let runtime = common::runtime().await;
    let spinning = runtime.task("spin").submit_now::<u64>(&runtime)?;
    let dependent = runtime
        .task("inc")
        .arg_ref(&spinning)
        .submit_now::<u64>(&runtime)?;
    let quick = runtime
        .task("busy")
        .arg(1000u64)
        .submit_now::<u64>(&runtime)?;
    let deadline = Duration::from_millis(200);
    let start = Instant::now();
    within(
        deadline + Duration::from_secs(5),
        "shutdown_with_deadline",
        runtime.shutdown_with_deadline(deadline),
    )
    .await?;
    let elapsed = start.elapsed();
    assert!(elapsed >= deadline, "waited for the deadline: {elapsed:?}");
    assert!(
        elapsed < deadline + Duration::from_secs(2),
        "then stopped promptly: {elapsed:?}"
    );
    assert!(spinning.is_ready() && dependent.is_ready());
    assert!(matches!(spinning.get().await, Err(RayError::Cancelled)));
    let outcome = dependent.get().await;
    assert!(
        matches!(
            outcome,
            Err(RayError::Cancelled) | Err(RayError::DependencyFailed { .. })
        ),
        "{outcome:?}"
    );
    assert_eq!(quick.get().await?, 1000);
    assert_eq!(runtime.stats().tasks_in_flight, 0);

    let late = runtime.task("inc").arg(1u64).submit_now::<u64>(&runtime)?;
    assert!(matches!(late.get().await, Err(RayError::ShutDown)));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_runtime_answers_every_get() -> Result<()> {
    let runtime = common::runtime_with(common::builder().max_running(1)).await;
    let spinning = runtime.task("spin").submit_now::<u64>(&runtime)?;
    let dependent = runtime
        .task("inc")
        .arg_ref(&spinning)
        .submit_now::<u64>(&runtime)?;
    // With one execution slot taken by the spin, these queue.
    let queued = (0..5)
        .map(|i| {
            runtime
                .task("inc")
                .arg(i as u64)
                .submit_now::<u64>(&runtime)
        })
        .collect::<Result<Vec<_>>>()?;
    let (ready, _) = runtime
        .wait(
            std::slice::from_ref(&spinning),
            1,
            Some(Duration::from_millis(50)),
        )
        .await?;
    assert!(ready.is_empty());
    drop(runtime);

    for r in std::iter::once(&spinning)
        .chain(std::iter::once(&dependent))
        .chain(&queued)
    {
        let outcome = within(SHORT, "a get after the runtime was dropped", r.get()).await;
        match outcome {
            Err(RayError::ShutDown | RayError::Cancelled | RayError::DependencyFailed { .. }) => {}
            // A queued task may have slipped in before the spin took the slot.
            Ok(_) if !std::ptr::eq(r, &spinning) && !std::ptr::eq(r, &dependent) => {}
            other => panic!("expected ShutDown or Cancelled, got {other:?}"),
        }
    }
    Ok(())
}

/// The runtime is a cloneable handle: a clone handed to another part of a program keeps
/// the runtime alive after the first handle is dropped, and shares its objects and
/// tasks; the runtime stops when the last clone goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_share_one_runtime_which_stops_with_the_last() -> Result<()> {
    let runtime = common::runtime_with(common::builder().max_running(1)).await;
    let clone = runtime.clone();
    let object = runtime.put(&41u64)?;
    drop(runtime);

    // The clone still runs tasks, on the object the first handle made.
    let next = clone
        .task("inc")
        .arg_ref(&object)
        .submit_now::<u64>(&clone)?;
    assert_eq!(
        within(SHORT, "a task through the clone", next.get()).await?,
        42
    );

    // Dropping the last handle stops the runtime: a spinning task is answered.
    let spinning = clone.task("spin").submit_now::<u64>(&clone)?;
    drop(clone);
    match within(
        SHORT,
        "a get after the last clone was dropped",
        spinning.get(),
    )
    .await
    {
        Err(RayError::ShutDown | RayError::Cancelled) => {}
        other => panic!("expected ShutDown or Cancelled, got {other:?}"),
    }
    Ok(())
}

/// `serve(shutdown)` runs until its future resolves, then shuts down gracefully:
/// tasks in flight finish with their values, later ones are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_until_its_shutdown_future_then_shuts_down_gracefully() -> Result<()> {
    let runtime = common::runtime().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn({
        let runtime = runtime.clone();
        async move {
            runtime
                .serve(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    let busy = runtime
        .task("busy")
        .arg(500_000u64)
        .submit_now::<u64>(&runtime)?;
    assert_eq!(
        within(SHORT, "a task while serving", busy.get()).await?,
        500_000
    );
    assert!(
        !served.is_finished(),
        "serve returned before its shutdown future"
    );

    let in_flight = runtime
        .task("busy")
        .arg(2_000_000u64)
        .submit_now::<u64>(&runtime)?;
    stop.send(()).expect("serve is waiting");
    within(Duration::from_secs(30), "serve to return", served)
        .await
        .expect("the serve task does not panic")?;
    assert_eq!(in_flight.get().await?, 2_000_000);
    let late = runtime
        .task("add")
        .arg(1)
        .arg(2)
        .submit_now::<i32>(&runtime)?;
    match within(SHORT, "a task after serve returned", late.get()).await {
        Err(RayError::ShutDown) => {}
        other => panic!("expected ShutDown, got {other:?}"),
    }
    Ok(())
}
