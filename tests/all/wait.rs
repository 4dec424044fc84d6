//! `wait(refs, num_ready, timeout)`: Ray's partition into ready and not ready, in
//! the order given, from the host and from inside a guest.

use std::time::{Duration, Instant};

use rustyray::{ObjectId, ObjectRef, RayError, Result};

use crate::common::{self, SHORT, within};

fn ids<T>(refs: &[ObjectRef<T>]) -> Vec<ObjectId> {
    refs.iter().map(ObjectRef::id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_partitions_in_the_order_given() -> Result<()> {
    let runtime = common::runtime().await;
    let a = runtime.put(&1u64)?;
    let spinning = runtime.task("spin").submit_now::<u64>(&runtime)?;
    let b = runtime.put(&2u64)?;
    let c = runtime.put(&3u64)?;
    let refs = vec![a.clone(), spinning.clone(), b.clone(), c.clone()];

    // At most num_ready are reported ready, the first ones in order; the rest,
    // ready or not, are "not ready".
    let (ready, not_ready) = within(SHORT, "wait for 2", runtime.wait(&refs, 2, None)).await?;
    assert_eq!(ids(&ready), vec![a.id(), b.id()]);
    assert_eq!(ids(&not_ready), vec![spinning.id(), c.id()]);

    // Asking for all four: the timeout ends the wait with the three that are ready.
    let timeout = Duration::from_millis(100);
    let start = Instant::now();
    let (ready, not_ready) =
        within(SHORT, "wait for 4", runtime.wait(&refs, 4, Some(timeout))).await?;
    let elapsed = start.elapsed();
    assert_eq!(ids(&ready), vec![a.id(), b.id(), c.id()]);
    assert_eq!(ids(&not_ready), vec![spinning.id()]);
    assert!(elapsed >= timeout, "waited for the timeout: {elapsed:?}");
    assert!(elapsed < timeout + Duration::from_secs(2), "{elapsed:?}");

    runtime.cancel(&spinning);
    let (ready, not_ready) =
        within(SHORT, "wait after cancel", runtime.wait(&refs, 4, None)).await?;
    assert_eq!(ready.len(), 4, "a cancelled task counts as ready");
    assert!(not_ready.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_with_a_spinning_task_returns_the_quick_ones_at_the_timeout() -> Result<()> {
    let runtime = common::runtime().await;
    let first = runtime.task("inc").arg(1u64).submit_now::<u64>(&runtime)?;
    let spinning = runtime.task("spin").submit_now::<u64>(&runtime)?;
    let second = runtime.task("inc").arg(2u64).submit_now::<u64>(&runtime)?;
    let refs = [first.clone(), spinning.clone(), second.clone()];
    let timeout = Duration::from_secs(1);
    let start = Instant::now();
    let (ready, not_ready) = within(SHORT, "wait", runtime.wait(&refs, 3, Some(timeout))).await?;
    let elapsed = start.elapsed();
    assert_eq!(ids(&ready), vec![first.id(), second.id()]);
    assert_eq!(ids(&not_ready), vec![spinning.id()]);
    assert!(elapsed >= timeout, "{elapsed:?}");
    assert!(elapsed < timeout + Duration::from_secs(2), "{elapsed:?}");
    assert_eq!(ready[0].get().await?, 2);
    assert_eq!(ready[1].get().await?, 3);
    runtime.cancel(&spinning);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_returns_as_soon_as_enough_are_ready() -> Result<()> {
    let runtime = common::runtime().await;
    let quick = runtime.task("inc").arg(1u64).submit_now::<u64>(&runtime)?;
    let spinning = runtime.task("spin").submit_now::<u64>(&runtime)?;
    let refs = [spinning.clone(), quick.clone()];
    let start = Instant::now();
    // One of two, with a timeout far away: the quick task's end ends the wait.
    let (ready, not_ready) = within(
        SHORT,
        "wait for one",
        runtime.wait(&refs, 1, Some(Duration::from_secs(30))),
    )
    .await?;
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(ids(&ready), vec![quick.id()]);
    assert_eq!(ids(&not_ready), vec![spinning.id()]);
    runtime.cancel(&spinning);
    Ok(())
}

/// Ray's `test_wait` (python/ray/tests/test_basic_2.py): `ray.wait` refuses duplicate
/// references and a `num_returns` of 0 or above the list's length with a `ValueError`, and
/// answers `([], [])` for an empty list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_wait_refuses_duplicates_and_num_returns_out_of_range() -> Result<()> {
    let runtime = common::runtime().await;
    let refs = (0..5u64)
        .map(|i| runtime.task("inc").arg(i).submit_now::<u64>(&runtime))
        .collect::<Result<Vec<_>>>()?;
    for num_returns in [0, 6] {
        let refused = runtime.wait(&refs, num_returns, None).await;
        assert!(
            matches!(&refused, Err(RayError::InvalidArgument(m)) if m.contains("num_returns")),
            "num_returns {num_returns}: {refused:?}"
        );
    }
    let twice = [refs[0].clone(), refs[1].clone(), refs[0].clone()];
    let refused = runtime.wait(&twice, 1, None).await;
    assert!(
        matches!(&refused, Err(RayError::InvalidArgument(m)) if m.contains("unique")),
        "{refused:?}"
    );
    let (ready, not_ready) = within(SHORT, "wait for 5 of 5", runtime.wait(&refs, 5, None)).await?;
    assert_eq!(ids(&ready), ids(&refs));
    assert!(not_ready.is_empty());
    // Nothing to wait for: immediate.
    let none: Vec<ObjectRef<u64>> = Vec::new();
    let (ready, not_ready) = within(SHORT, "wait on nothing", runtime.wait(&none, 3, None)).await?;
    assert!(ready.is_empty() && not_ready.is_empty());
    Ok(())
}

/// Ray's `test_get_with_timeout` (python/ray/tests/test_basic_2.py): a `get` with a
/// timeout on a task that is still running raises `GetTimeoutError`; the task goes on and
/// a later `get` has its value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_get_with_timeout() -> Result<()> {
    let runtime = common::runtime().await;
    let spinning = runtime.task("spin").submit_now::<u64>(&runtime)?;
    let timeout = Duration::from_millis(50);
    let late = within(SHORT, "get_timeout", spinning.get_timeout(timeout)).await;
    assert!(
        matches!(late, Err(RayError::GetTimeout(t)) if t == timeout),
        "{late:?}"
    );
    assert!(
        !spinning.is_ready(),
        "the task goes on after a get timed out"
    );
    runtime.cancel(&spinning);
    let quick = runtime.task("inc").arg(41u64).submit_now::<u64>(&runtime)?;
    assert_eq!(within(SHORT, "get", quick.get_timeout(SHORT)).await?, 42);
    Ok(())
}

/// Ray's `test_get_multiple` (python/ray/tests/test_basic_2.py), and `ray.get([...])` failing fast:
/// the values in order; with one failing task among long ones, the error comes back at
/// once, before the others finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_get_multiple_fails_fast() -> Result<()> {
    let runtime = common::runtime().await;
    let refs = (0..10u64)
        .map(|i| runtime.task("inc").arg(i).submit_now::<u64>(&runtime))
        .collect::<Result<Vec<_>>>()?;
    let values = within(SHORT, "get_all", runtime.get_all(&refs)).await?;
    assert_eq!(values, (1..=10).collect::<Vec<u64>>());
    let spinning = runtime.task("spin").submit_now::<u64>(&runtime)?;
    let failing = runtime
        .task("fail")
        .arg("boom".to_string())
        .submit_now::<u64>(&runtime)?;
    let mixed = [spinning.clone(), failing];
    let failed = within(SHORT, "get_all fails fast", runtime.get_all(&mixed)).await;
    assert!(
        matches!(&failed, Err(RayError::Application { message, .. }) if message.contains("boom")),
        "{failed:?}"
    );
    assert!(
        !spinning.is_ready(),
        "the error came back before the spinning task ended"
    );
    runtime.cancel(&spinning);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_waits_with_a_timeout_then_cancels() -> Result<()> {
    let runtime = common::runtime().await;
    let count = runtime
        .task("wait_then_cancel")
        .submit_now::<usize>(&runtime)?;
    assert_eq!(within(SHORT, "wait_then_cancel", count.get()).await?, 1);
    // Its spinning task was cancelled from inside the guest: nothing is left running.
    assert!(
        common::eventually(SHORT, || runtime.stats().tasks_in_flight == 0).await,
        "{:?}",
        runtime.stats()
    );
    Ok(())
}
