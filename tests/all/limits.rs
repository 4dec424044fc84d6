//! Limits not covered by the hostile suite: fuel, table and instance counts, and
//! how per-task and per-actor limits lay over the runtime's defaults.

use rustyray::{Limit, Limits, RayError, Result};

use crate::common::{self, SHORT, hostile_runtime, within};

fn limit_of(err: &RayError) -> (Limit, u64) {
    match err {
        RayError::LimitExceeded { limit, value, .. } => (*limit, *value),
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
}

#[tokio::test]
async fn fuel_stops_a_task_that_burns_too_much() -> Result<()> {
    let runtime = hostile_runtime(common::builder().fuel(true)).await;
    // Without a limit of its own a task has all the fuel it wants.
    let unlimited = runtime
        .task("canary")
        .arg(20u32)
        .submit_now::<u64>(&runtime)?;
    within(SHORT, "canary", unlimited.get()).await?;
    let starved = runtime
        .task("canary")
        .arg(20u32)
        .fuel(1_000_000)
        .submit_now::<u64>(&runtime)?;
    let err = within(SHORT, "canary", starved.get())
        .await
        .expect_err("out of fuel");
    assert_eq!(limit_of(&err), (Limit::Fuel, 1_000_000));
    assert!(
        err.to_string().contains("fuel limit of 1000000 units"),
        "{err}"
    );
    let looping = runtime
        .task("forever")
        .fuel(10_000_000)
        .submit_now::<u64>(&runtime)?;
    assert_eq!(
        limit_of(
            &within(SHORT, "forever", looping.get())
                .await
                .expect_err("stops")
        )
        .0,
        Limit::Fuel
    );
    let enough = runtime
        .task("canary")
        .arg(1u32)
        .fuel(1_000_000_000)
        .submit_now::<u64>(&runtime)?;
    within(SHORT, "canary", enough.get()).await?;

    // An actor's fuel is per call: each call gets a full tank.
    let actor = runtime
        .actor("Fragile")
        .limits(Limits::new().fuel(50_000_000))
        .create()
        .await?;
    for expected in 1..=3 {
        assert_eq!(actor.call::<u32>("ok", ()).get().await?, expected);
    }
    let err = within(SHORT, "Fragile.spin", actor.call::<u64>("spin", ()).get())
        .await
        .expect_err("out of fuel");
    match err {
        RayError::ActorDied { reason, .. } => assert!(reason.contains("fuel limit"), "{reason}"),
        other => panic!("expected ActorDied, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn a_default_fuel_limit_applies_to_every_task() -> Result<()> {
    let runtime = hostile_runtime(common::builder().limits(Limits::new().fuel(2_000_000))).await;
    let looping = runtime.task("forever").submit_now::<u64>(&runtime)?;
    let err = within(SHORT, "forever", looping.get())
        .await
        .expect_err("stops");
    assert_eq!(limit_of(&err), (Limit::Fuel, 2_000_000));
    // Other work still fits.
    common::assert_adds(&runtime, 1, 2).await?;
    Ok(())
}

#[tokio::test]
async fn fuel_needs_a_metering_runtime() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    match runtime
        .task("canary")
        .arg(1u32)
        .fuel(1000)
        .submit_now::<u64>(&runtime)
    {
        Err(RayError::InvalidOptions(message)) => assert!(message.contains("fuel"), "{message}"),
        other => panic!("expected InvalidOptions, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn table_and_instance_counts_are_limited() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    for (limits, expected) in [
        (Limits::new().instances(1), Limit::Instances),
        (Limits::new().tables(1), Limit::Tables),
        (Limits::new().table_elements(4), Limit::TableElements),
        (Limits::new().memory(64 << 10), Limit::Memory),
    ] {
        let task = runtime
            .task("add")
            .arg(1)
            .arg(2)
            .limits(limits)
            .submit_now::<i32>(&runtime)?;
        let err = within(SHORT, "add", task.get())
            .await
            .expect_err("the component does not fit");
        assert_eq!(limit_of(&err).0, expected, "{err}");
    }
    // The defaults fit every guest built with the SDK.
    common::assert_adds(&runtime, 1, 2).await?;
    Ok(())
}
