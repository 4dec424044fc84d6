//! Ray parity, from inside a guest: each test runs one scenario of
//! `tests/guests/parity` (a task that exercises the public SDK the way a Ray user would)
//! and is named after the Ray test it follows.

use rustyray::{RayError, Result, Runtime};

use crate::common::{self, SHORT, within};

/// A runtime with the parity guest loaded.
async fn runtime() -> Runtime {
    let runtime = common::builder().build().expect("the runtime starts");
    runtime
        .load(rustyray_tests::PARITY)
        .await
        .expect("the parity guest loads");
    runtime
}

/// Runs the scenario task `name`; fails the test with the scenario's own message.
async fn scenario(name: &str) -> Result<()> {
    let runtime = runtime().await;
    let outcome = runtime
        .task(name)
        .submit_now::<()>(&runtime)?;
    // A scenario's `Err(message)` is an application error carrying that message.
    within(SHORT, name, outcome.get()).await?;
    runtime.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_remote_arguments_infer_like_a_plain_call() -> Result<()> {
    scenario("test_remote_arguments_infer_like_a_plain_call").await
}

/// Ray's `test_get_with_timeout` (python/ray/tests/test_basic_2.py), in a guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_get_with_timeout_in_a_guest() -> Result<()> {
    scenario("test_get_with_timeout").await
}

/// Ray's `test_wait` (python/ray/tests/test_basic_2.py), in a guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_wait_in_a_guest() -> Result<()> {
    scenario("test_wait").await
}

/// Ray's `test_get_multiple` (python/ray/tests/test_basic_2.py) with a failing object:
/// `ray.get([...])` fails fast, in a guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_get_multiple_fails_fast_in_a_guest() -> Result<()> {
    scenario("test_get_multiple_fails_fast").await
}

/// A runtime with the actor fixtures loaded.
async fn actor_runtime() -> Runtime {
    let runtime = common::builder().build().expect("the runtime starts");
    runtime
        .load(rustyray_tests::ACTOR_FIXTURES)
        .await
        .expect("the actor fixtures load");
    runtime
}

/// Ray frees the name of a dead actor: after a named actor traps with no restarts left,
/// `get_actor` no longer finds it and a new actor can take the name (Ray's
/// `test_actor_failures.py` named-actor cases).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_dead_named_actor_releases_its_name() -> Result<()> {
    let runtime = actor_runtime().await;
    let first = runtime
        .actor("Counter")
        .arg(0)
        .name("phoenix")
        .create()
        .await?;
    let crash: rustyray::ObjectRef<i32> = first.call("crash_at", (1,));
    let died = within(SHORT, "the crash", crash.get()).await;
    assert!(matches!(died, Err(RayError::ActorDied { .. })), "{died:?}");
    assert!(
        runtime.get_actor("phoenix").is_none(),
        "a dead actor is not found by name"
    );
    let second = runtime
        .actor("Counter")
        .arg(10)
        .name("phoenix")
        .create()
        .await?;
    let found = runtime.get_actor("phoenix").expect("the new actor has the name");
    let value = within(SHORT, "a call", found.call::<i32>("increment", ()).get()).await?;
    assert_eq!(value, 11);
    // The old handle still answers ActorDied.
    let old = within(SHORT, "old handle", first.call::<i32>("get", ()).get()).await;
    assert!(matches!(old, Err(RayError::ActorDied { .. })), "{old:?}");
    drop(second);
    runtime.shutdown().await
}

/// Ray's `test_get_or_create.py::test_simple` checks and `test_actor.py`'s empty-name
/// check: `get_if_exists` without a name, and an empty name, are refused at creation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_get_or_create_needs_a_non_empty_name() -> Result<()> {
    let runtime = actor_runtime().await;
    let refused = runtime.actor("Counter").arg(0).get_if_exists(true).create().await;
    assert!(
        matches!(&refused, Err(RayError::InvalidOptions(m)) if m.contains("get_if_exists")),
        "{refused:?}"
    );
    let refused = runtime.actor("Counter").arg(0).name("").create().await;
    assert!(
        matches!(&refused, Err(RayError::InvalidOptions(m)) if m.contains("empty")),
        "{refused:?}"
    );
    let a = runtime
        .actor("Counter")
        .arg(1)
        .name("x")
        .get_if_exists(true)
        .create()
        .await?;
    let b = runtime
        .actor("Counter")
        .arg(2)
        .name("x")
        .get_if_exists(true)
        .create()
        .await?;
    assert_eq!(a.id(), b.id(), "the second gets the first");
    runtime.shutdown().await
}

/// Validation at submission (issue 10 point 8): an unknown function fails
/// `TaskBuilder::submit` itself, with `FunctionNotFound`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_submit_unknown_function_fails_at_submit() -> Result<()> {
    let runtime = runtime().await;
    let refused = rustyray::TaskBuilder::new("no_such_function")
        .arg(1)
        .submit::<u64>(&runtime)
        .await;
    assert!(
        matches!(&refused, Err(RayError::FunctionNotFound(name)) if name == "no_such_function"),
        "{refused:?}"
    );
    runtime.shutdown().await
}
