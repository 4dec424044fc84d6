//! Cancellation and deadlines: pending and running tasks, finished ones, per-task
//! and default timeouts, for wasm and native functions.

use std::time::{Duration, Instant};

use rustyray::{RayError, Result, task_function};

use crate::common::{self, SHORT, eventually, within};

/// How fast a cancel or a deadline must be answered (generous: the epoch is 1 ms).
const PROMPT: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_pending_task_answers_cancelled() -> Result<()> {
    let runtime = common::runtime().await;
    let blocker = runtime.task("spin").submit_now::<u64>(&runtime)?;
    let pending = runtime
        .task("inc")
        .arg_ref(&blocker)
        .submit_now::<u64>(&runtime)?;
    assert!(!pending.is_ready());
    let start = Instant::now();
    runtime.cancel(&pending);
    let outcome = within(PROMPT, "the cancelled pending task", pending.get()).await;
    assert!(matches!(outcome, Err(RayError::Cancelled)), "{outcome:?}");
    assert!(start.elapsed() < PROMPT);
    assert!(
        !blocker.is_ready(),
        "cancelling a dependent leaves its argument"
    );

    runtime.cancel(&blocker);
    let outcome = within(PROMPT, "the cancelled spin", blocker.get()).await;
    assert!(matches!(outcome, Err(RayError::Cancelled)), "{outcome:?}");
    assert!(
        eventually(SHORT, || runtime.stats().tasks_in_flight == 0).await,
        "both tasks ended: {:?}",
        runtime.stats()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_task_interrupts_it() -> Result<()> {
    let runtime = common::runtime().await;
    let spinning = runtime.task("spin").submit_now::<u64>(&runtime)?;
    let (ready, _) = runtime
        .wait(
            std::slice::from_ref(&spinning),
            1,
            Some(Duration::from_millis(100)),
        )
        .await?;
    assert!(ready.is_empty(), "spin never finishes on its own");
    let start = Instant::now();
    runtime.cancel(&spinning);
    let outcome = within(PROMPT, "the cancelled spin", spinning.get()).await;
    assert!(matches!(outcome, Err(RayError::Cancelled)), "{outcome:?}");
    assert!(start.elapsed() < PROMPT);
    // The thread it ran on is free again.
    common::assert_adds(&runtime, 1, 1).await?;
    assert!(
        eventually(SHORT, || runtime.stats().tasks_in_flight == 0).await,
        "{:?}",
        runtime.stats()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_an_argument_fails_its_dependents() -> Result<()> {
    let runtime = common::runtime().await;
    let blocker = runtime.task("spin").submit_now::<u64>(&runtime)?;
    let dependent = runtime
        .task("inc")
        .arg_ref(&blocker)
        .submit_now::<u64>(&runtime)?;
    runtime.cancel(&blocker);
    match within(PROMPT, "the dependent", dependent.get()).await {
        Err(err @ RayError::DependencyFailed { .. }) => {
            assert!(matches!(err.root_cause(), RayError::Cancelled), "{err:?}");
            assert_eq!(err.chain().count(), 2);
        }
        other => panic!("expected DependencyFailed, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn cancelling_a_finished_task_keeps_its_value() -> Result<()> {
    let runtime = common::runtime().await;
    let sum = runtime
        .task("add")
        .arg(20)
        .arg(3)
        .submit_now::<i32>(&runtime)?;
    assert_eq!(within(SHORT, "add", sum.get()).await?, 23);
    runtime.cancel(&sum);
    assert_eq!(sum.get().await?, 23);
    let put = runtime.put(&7u8)?;
    runtime.cancel(&put);
    assert_eq!(put.get().await?, 7);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_timeout_gives_timeout() -> Result<()> {
    let runtime = common::runtime().await;
    let limit = Duration::from_millis(100);
    let start = Instant::now();
    let spinning = runtime
        .task("spin")
        .timeout(limit)
        .submit_now::<u64>(&runtime)?;
    match within(limit + PROMPT, "spin with a timeout", spinning.get()).await {
        Err(RayError::Timeout(after)) => assert_eq!(after, limit),
        other => panic!("expected Timeout, got {other:?}"),
    }
    let elapsed = start.elapsed();
    assert!(elapsed >= limit, "not before its deadline: {elapsed:?}");
    assert!(elapsed < limit + PROMPT, "{elapsed:?}");

    // A task that fits its deadline is not affected.
    let quick = runtime
        .task("busy")
        .arg(1000u64)
        .timeout(Duration::from_secs(10))
        .submit_now::<u64>(&runtime)?;
    assert_eq!(within(SHORT, "busy", quick.get()).await?, 1000);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_default_timeout_applies_unless_a_task_sets_one() -> Result<()> {
    let default = Duration::from_millis(100);
    let runtime = common::runtime_with(common::builder().default_timeout(Some(default))).await;
    let spinning = runtime.task("spin").submit_now::<u64>(&runtime)?;
    match within(default + PROMPT, "spin", spinning.get()).await {
        Err(RayError::Timeout(after)) => assert_eq!(after, default),
        other => panic!("expected Timeout, got {other:?}"),
    }
    let own = Duration::from_millis(250);
    let start = Instant::now();
    let spinning = runtime
        .task("spin")
        .timeout(own)
        .submit_now::<u64>(&runtime)?;
    match within(own + PROMPT, "spin with its own timeout", spinning.get()).await {
        Err(RayError::Timeout(after)) => assert_eq!(after, own),
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(start.elapsed() >= own);
    common::assert_adds(&runtime, 2, 2).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_tasks_are_cancelled_and_timed_out_too() -> Result<()> {
    let runtime = common::builder().build()?;
    runtime.register_function(
        "never",
        task_function!(|x: u64| async move {
            std::future::pending::<()>().await;
            Ok::<u64, String>(x)
        }),
    )?;
    let forever = runtime
        .task("never")
        .arg(1u64)
        .submit_now::<u64>(&runtime)?;
    runtime.cancel(&forever);
    let outcome = within(PROMPT, "the cancelled native task", forever.get()).await;
    assert!(matches!(outcome, Err(RayError::Cancelled)), "{outcome:?}");

    let limit = Duration::from_millis(50);
    let timed = runtime
        .task("never")
        .arg(1u64)
        .timeout(limit)
        .submit_now::<u64>(&runtime)?;
    match within(limit + PROMPT, "the timed-out native task", timed.get()).await {
        Err(RayError::Timeout(after)) => assert_eq!(after, limit),
        other => panic!("expected Timeout, got {other:?}"),
    }
    Ok(())
}
