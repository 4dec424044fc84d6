//! The seed's API, as its programs use it (`host/examples/quick.rs`), and the same
//! systems running wasm tasks.

use std::sync::Arc;

use rustyray::actor::ActorSystem;
use rustyray::error::RustyRayError;
use rustyray::task::{TaskBuilder, TaskSystem};
use rustyray::{RayError, task_function};

use crate::common::{self, SHORT, within};

#[tokio::test]
async fn the_quick_example_runs_as_written() -> rustyray::error::Result<()> {
    // Initialize systems
    let actor_system = Arc::new(ActorSystem::new());
    let task_system = Arc::new(TaskSystem::new(actor_system.clone()));

    // Register a function
    task_system.register_function(
        "add",
        task_function!(|a: i32, b: i32| async move { Ok::<i32, RustyRayError>(a + b) }),
    )?;

    // Submit a task
    let result_ref = TaskBuilder::new("add")
        .arg(5)
        .arg(3)
        .submit::<i32>(&task_system)
        .await?;

    // Get the result
    let result = within(SHORT, "add", result_ref.get()).await?;
    assert_eq!(result, 8);

    // Shutdown
    within(SHORT, "task_system.shutdown", task_system.shutdown()).await?;
    within(SHORT, "actor_system.shutdown", actor_system.shutdown()).await?;

    // Both are views of one runtime, now shut down.
    let late = TaskBuilder::new("add")
        .arg(1)
        .arg(1)
        .submit::<i32>(&task_system)
        .await?;
    assert!(matches!(late.get().await, Err(RayError::ShutDown)));
    Ok(())
}

#[tokio::test]
async fn seed_systems_run_wasm_tasks_too() -> rustyray::error::Result<()> {
    let actor_system = Arc::new(ActorSystem::with_runtime(common::builder().build()?));
    actor_system
        .runtime()
        .load(rustyray_tests::FIXTURES)
        .await?;
    let task_system = TaskSystem::new(actor_system.clone());
    task_system.register_function(
        "halve",
        task_function!(|x: i32| async move {
            if x % 2 == 0 {
                Ok(x / 2)
            } else {
                Err(format!("{x} is odd"))
            }
        }),
    )?;
    let sum = TaskBuilder::new("add")
        .arg(40)
        .arg(4)
        .submit::<i32>(&task_system)
        .await?;
    let half = TaskBuilder::new("halve")
        .arg_ref(&sum)
        .submit::<i32>(&task_system)
        .await?;
    assert_eq!(within(SHORT, "halve", half.get()).await?, 22);
    // Submitting through the ActorSystem reaches the same runtime.
    let odd = TaskBuilder::new("halve")
        .arg(7)
        .submit::<i32>(&actor_system)
        .await?;
    match within(SHORT, "halve(7)", odd.get()).await {
        Err(RayError::Application {
            function, message, ..
        }) => {
            assert_eq!(function, "halve");
            assert_eq!(message, "7 is odd");
        }
        other => panic!("expected an application error, got {other:?}"),
    }
    within(SHORT, "shutdown", task_system.shutdown()).await?;
    Ok(())
}
