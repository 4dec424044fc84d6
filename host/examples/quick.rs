//! The seed's quick example, as written there: a native function registered with
//! `task_function!`, submitted with `TaskBuilder`, its result read with `get`.
//!
//! Run it with `cargo run --release -p rustyray --example quick`.

use rustyray::actor::ActorSystem;
use rustyray::task::{TaskBuilder, TaskSystem};
use rustyray::task_function;
use std::sync::Arc;

#[tokio::main]
async fn main() -> rustyray::error::Result<()> {
    // Initialize systems
    let actor_system = Arc::new(ActorSystem::new());
    let task_system = Arc::new(TaskSystem::new(actor_system.clone()));

    // Register a function
    task_system.register_function(
        "add",
        task_function!(
            |a: i32, b: i32| async move { Ok::<i32, rustyray::error::RustyRayError>(a + b) }
        ),
    )?;

    // Submit a task
    let result_ref = TaskBuilder::new("add")
        .arg(5)
        .arg(3)
        .submit::<i32>(&task_system)
        .await?;

    // Get the result
    let result = result_ref.get().await?;
    println!("5 + 3 = {}", result);

    // Shutdown
    task_system.shutdown().await?;
    actor_system.shutdown().await?;

    Ok(())
}
