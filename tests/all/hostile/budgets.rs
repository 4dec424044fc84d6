//! Budgets and deadlines (issue 9, points 3 to 5): every guest phase has a deadline and
//! can be killed, the host memory held for guests is one bounded account, tasks and
//! actors have budgets of their own, and what a program starts ends with it.

use std::time::Duration;

use rustyray::{Limit, RayError, Result};

use super::{Witness, application_message};
use crate::common::{self, LONG, SHORT, assert_adds, eventually, hostile_runtime, within};

/// The deadline the operator sets in these tests (longer than the witness's canary).
const DEADLINE: Duration = Duration::from_millis(2500);

fn args(words: &[&str]) -> Vec<String> {
    std::iter::once("hostile")
        .chain(words.iter().copied())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_spinning_constructor_is_cut_by_its_deadline_and_by_kill() -> Result<()> {
    let runtime = hostile_runtime(common::builder().default_timeout(Some(DEADLINE))).await;
    let witness = Witness::start(&runtime).await;
    let err = within(
        LONG,
        "the constructor",
        runtime.actor("Stubborn").arg("ctor").create(),
    )
    .await
    .expect_err("the constructor never returns");
    assert!(
        matches!(err, RayError::Timeout(after) if after == DEADLINE),
        "{err:?}"
    );
    witness.check(&runtime).await;

    // Without a deadline, kill still ends it.
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    let actor = runtime.actor("Stubborn").arg("ctor").spawn()?;
    assert!(
        eventually(SHORT, || runtime.stats().actor_instances == 1).await,
        "the actor is counted"
    );
    actor.kill();
    let err = within(LONG, "ready after kill", actor.ready())
        .await
        .expect_err("a killed constructor never succeeds");
    assert!(matches!(err, RayError::Cancelled), "{err:?}");
    assert!(
        eventually(LONG, || runtime.stats().actor_instances == 0).await,
        "the killed actor's instance is gone: {:?}",
        runtime.stats()
    );
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn a_spinning_snapshot_is_cut_by_kill_and_by_shutdown() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    let actor = runtime.actor("Stubborn").arg("snapshot").create().await?;
    // The call answers; the snapshot after it spins.
    assert_eq!(
        within(SHORT, "ok", actor.call::<u32>("ok", ()).get()).await?,
        1
    );
    let queued = actor.call::<u32>("ok", ());
    actor.kill();
    let err = within(LONG, "the queued call", queued.get())
        .await
        .expect_err("the actor was killed");
    assert!(matches!(err, RayError::ActorDied { .. }), "{err:?}");
    witness.check(&runtime).await;

    let actor = runtime.actor("Stubborn").arg("snapshot").create().await?;
    assert_eq!(
        within(SHORT, "ok", actor.call::<u32>("ok", ()).get()).await?,
        1
    );
    within(
        LONG,
        "shutdown past a spinning snapshot",
        runtime.shutdown_with_deadline(Duration::from_millis(200)),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_snapshot_past_the_deadline_replaces_the_instance() -> Result<()> {
    let runtime = hostile_runtime(common::builder().default_timeout(Some(DEADLINE))).await;
    let actor = runtime
        .actor("Stubborn")
        .arg("snapshot")
        .max_restarts(0)
        .create()
        .await?;
    assert_eq!(
        within(SHORT, "ok", actor.call::<u32>("ok", ()).get()).await?,
        1
    );
    let err = within(LONG, "the next call", actor.call::<u32>("ok", ()).get())
        .await
        .expect_err("no restarts left after the snapshot ran over");
    match err {
        RayError::ActorDied { reason, .. } => {
            assert!(
                reason.contains("snapshot ran past the deadline"),
                "{reason}"
            )
        }
        other => panic!("expected ActorDied, got {other:?}"),
    }
    assert_adds(&runtime, 1, 2).await
}

#[tokio::test]
async fn on_stop_is_bounded_by_the_deadline() -> Result<()> {
    let runtime = hostile_runtime(common::builder().default_timeout(Some(DEADLINE))).await;
    let witness = Witness::start(&runtime).await;
    let actor = runtime.actor("Stubborn").arg("stop").create().await?;
    assert_eq!(
        within(SHORT, "ok", actor.call::<u32>("ok", ()).get()).await?,
        1
    );
    actor.stop();
    assert!(
        eventually(LONG, || runtime.stats().actor_instances == 0).await,
        "the stopped actor ends although on_stop spins: {:?}",
        runtime.stats()
    );
    witness.check(&runtime).await;
    within(
        LONG,
        "shutdown",
        runtime.shutdown_with_deadline(Duration::from_secs(30)),
    )
    .await
}

#[tokio::test]
async fn a_constructor_dies_with_the_task_that_timed_out_waiting_for_it() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    let creator = runtime
        .task("create_spinning_actor")
        .timeout(DEADLINE)
        .submit_now::<u32>(&runtime)?;
    let err = within(LONG, "the creator", creator.get())
        .await
        .expect_err("the creator times out");
    assert!(matches!(err, RayError::Timeout(_)), "{err:?}");
    assert!(
        eventually(LONG, || runtime.stats().actor_instances == 0).await,
        "the constructor it started does not outlive it: {:?}",
        runtime.stats()
    );
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn a_guest_cannot_lengthen_the_operators_deadline() -> Result<()> {
    let runtime = hostile_runtime(common::builder().default_timeout(Some(DEADLINE))).await;
    let answer = runtime
        .task("ask_for_a_long_deadline")
        .timeout(Duration::from_secs(30))
        .submit_now::<String>(&runtime)?;
    let answer = within(LONG, "the asker", answer.get()).await?;
    assert!(
        answer.contains("timed out after 2500 ms"),
        "the inner task ends at the operator's deadline, not the hour it asked for: {answer}"
    );
    assert_adds(&runtime, 2, 3).await
}

#[tokio::test]
async fn huge_errors_are_cut_and_long_names_refused() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    let failed = runtime
        .task("huge_error")
        .arg(8u32)
        .submit_now::<u64>(&runtime)?;
    let message = application_message(within(LONG, "huge_error", failed.get()).await.unwrap_err());
    assert!(
        message.len() < 70 << 10,
        "cut to 64 KiB: {} bytes",
        message.len()
    );
    assert!(
        message.contains("bytes cut"),
        "says so: {}",
        &message[message.len() - 120..]
    );

    let refused = runtime
        .task("long_names")
        .arg(2u32 << 20)
        .submit_now::<(String, String)>(&runtime)?;
    let (submitted, created) = within(LONG, "long_names", refused.get()).await?;
    for refusal in [&submitted, &created] {
        assert!(refusal.contains("name length limit"), "{refusal}");
        assert!(
            refusal.len() < 4096,
            "the refusal does not carry the name: {}",
            refusal.len()
        );
    }
    // The host API refuses them too.
    let err = runtime
        .actor("Stubborn")
        .arg("calm")
        .name("x".repeat(1 << 20))
        .create()
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            RayError::LimitExceeded {
                limit: Limit::NameLength,
                ..
            }
        ),
        "{err:?}"
    );
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn the_host_memory_budget_refuses_and_recovers() -> Result<()> {
    // A store cap above the budget: this is about the budget, which never spills.
    let runtime = hostile_runtime(
        common::builder()
            .host_memory(96 << 20)
            .object_store_capacity(1 << 30),
    )
    .await;
    let witness = Witness::start(&runtime).await;
    let hoard = runtime
        .task("hoard_objects")
        .arg(4u32)
        .arg(1000u32)
        .submit_now::<(u32, String)>(&runtime)?;
    let (stored, refusal) = within(LONG, "the hoard", hoard.get()).await?;
    assert!(stored > 0 && stored < 24, "stopped by the budget: {stored}");
    assert!(refusal.contains("host memory limit"), "{refusal}");
    assert!(refusal.contains("--host-memory"), "{refusal}");
    // The hoarding task's objects went with it.
    assert!(
        eventually(SHORT, || runtime.stats().objects.host_memory_used
            < 16 << 20)
        .await,
        "{:?}",
        runtime.stats().objects
    );
    // The host API is refused by the same account, naming what it stored.
    let mut held = Vec::new();
    let err = loop {
        match runtime.put(&vec![1u8; 8 << 20]) {
            Ok(object) => held.push(object),
            Err(err) => break err,
        }
        assert!(held.len() < 100, "the budget never refused");
    };
    assert!(
        matches!(&err, RayError::LimitExceeded { limit: Limit::HostMemory, function, .. } if function.starts_with("storing")),
        "{err:?}"
    );
    drop(held);
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn hoarding_through_spilling_is_bounded_by_the_spill_limit() -> Result<()> {
    // Past the store's cap objects spill, but only up to --max-spill: a guest cannot
    // fill the disk either.
    let spill = common::fresh_dir("hostile-spill");
    let runtime = hostile_runtime(
        common::builder()
            .object_store_capacity(16 << 20)
            .spill_capacity(32 << 20)
            .spill_dir(&spill),
    )
    .await;
    let witness = Witness::start(&runtime).await;
    let hoard = runtime
        .task("hoard_objects")
        .arg(4u32)
        .arg(1000u32)
        .submit_now::<(u32, String)>(&runtime)?;
    let (stored, refusal) = within(LONG, "the hoard", hoard.get()).await?;
    assert!(
        (8..=13).contains(&stored),
        "stopped by the limits: {stored}"
    );
    assert!(refusal.contains("spilled bytes limit"), "{refusal}");
    assert!(refusal.contains("--max-spill"), "{refusal}");
    // The hoarding task's objects and their files went with it.
    assert!(
        eventually(SHORT, || runtime.stats().objects.spilled_bytes == 0).await,
        "{:?}",
        runtime.stats().objects
    );
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn idle_actors_cannot_starve_tasks() -> Result<()> {
    let runtime = hostile_runtime(common::builder().max_actors(20)).await;
    let witness = Witness::start(&runtime).await;
    let mut actors = Vec::new();
    for i in 0..20 {
        actors.push(
            runtime
                .actor("Stubborn")
                .arg("calm")
                .name(format!("idle-{i}"))
                .create()
                .await?,
        );
    }
    let err = runtime
        .actor("Stubborn")
        .arg("calm")
        .create()
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            RayError::LimitExceeded {
                limit: Limit::LiveActors,
                value: 20,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("--max-actors"), "{err}");
    // Tasks have their own budget.
    for i in 0..50 {
        assert_adds(&runtime, i, 1).await?;
    }
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn a_fork_bomb_ends_with_its_program() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    let status = within(
        LONG,
        "the program",
        runtime.run_main(rustyray_tests::HOSTILE, &args(&["--fork-bomb", "100"])),
    )
    .await?;
    assert_eq!(status, 0);
    // The witness's canary is the host's, not the program's: it goes on.
    assert!(
        eventually(LONG, || runtime.stats().task_instances <= 1).await,
        "the endless tasks were cancelled with their program: {:?}",
        runtime.stats()
    );
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn actors_end_with_their_program_unless_detached() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let status = within(
        LONG,
        "the program",
        runtime.run_main(rustyray_tests::HOSTILE, &args(&["--lifetimes"])),
    )
    .await?;
    assert_eq!(status, 0);
    assert!(
        eventually(LONG, || runtime.get_actor("attached").is_none()).await,
        "the attached actor stopped with its program"
    );
    let kept = runtime
        .get_actor("kept")
        .expect("the detached actor lives on");
    assert_eq!(
        within(SHORT, "kept.ok", kept.call::<u32>("ok", ()).get()).await?,
        2
    );
    assert_adds(&runtime, 4, 5).await?;
    Ok(())
}
