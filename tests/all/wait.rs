//! `wait(refs, num_ready, timeout)`: Ray's partition into ready and not ready, in
//! the order given, from the host and from inside a guest.

use std::time::{Duration, Instant};

use rustyray::{ObjectId, ObjectRef, Result};

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
    let (ready, not_ready) = within(SHORT, "wait for 2", runtime.wait(&refs, 2, None)).await;
    assert_eq!(ids(&ready), vec![a.id(), b.id()]);
    assert_eq!(ids(&not_ready), vec![spinning.id(), c.id()]);

    // Asking for all four: the timeout ends the wait with the three that are ready.
    let timeout = Duration::from_millis(100);
    let start = Instant::now();
    let (ready, not_ready) =
        within(SHORT, "wait for 4", runtime.wait(&refs, 4, Some(timeout))).await;
    let elapsed = start.elapsed();
    assert_eq!(ids(&ready), vec![a.id(), b.id(), c.id()]);
    assert_eq!(ids(&not_ready), vec![spinning.id()]);
    assert!(elapsed >= timeout, "waited for the timeout: {elapsed:?}");
    assert!(elapsed < timeout + Duration::from_secs(2), "{elapsed:?}");

    runtime.cancel(&spinning);
    let (ready, not_ready) = within(SHORT, "wait after cancel", runtime.wait(&refs, 4, None)).await;
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
    let (ready, not_ready) = within(SHORT, "wait", runtime.wait(&refs, 3, Some(timeout))).await;
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
    .await;
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(ids(&ready), vec![quick.id()]);
    assert_eq!(ids(&not_ready), vec![spinning.id()]);
    runtime.cancel(&spinning);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn num_ready_larger_than_the_refs_waits_for_all_of_them() -> Result<()> {
    let runtime = common::runtime().await;
    let refs = (0..5u64)
        .map(|i| {
            runtime
                .task("busy")
                .arg(100_000 * i)
                .submit_now::<u64>(&runtime)
        })
        .collect::<Result<Vec<_>>>()?;
    let start = Instant::now();
    let (ready, not_ready) = within(
        SHORT,
        "wait for 10 of 5",
        runtime.wait(&refs, 10, Some(Duration::from_secs(30))),
    )
    .await;
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "returned when all were ready, not at the timeout"
    );
    assert_eq!(ids(&ready), ids(&refs));
    assert!(not_ready.is_empty());

    // Nothing to wait for, or nothing wanted: immediate.
    let none: Vec<ObjectRef<u64>> = Vec::new();
    let (ready, not_ready) = within(SHORT, "wait on nothing", runtime.wait(&none, 3, None)).await;
    assert!(ready.is_empty() && not_ready.is_empty());
    let (ready, not_ready) = within(SHORT, "wait for 0", runtime.wait(&refs, 0, None)).await;
    assert!(ready.is_empty());
    assert_eq!(ids(&not_ready), ids(&refs));
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
