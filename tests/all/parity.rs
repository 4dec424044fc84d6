//! Ray parity, from inside a guest: each test runs one scenario of
//! `tests/guests/parity` (a task that exercises the public SDK the way a Ray user would)
//! and is named after the Ray test it follows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    let outcome = runtime.task(name).submit_now::<()>(&runtime)?;
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
    let found = runtime
        .get_actor("phoenix")
        .expect("the new actor has the name");
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
    let refused = runtime
        .actor("Counter")
        .arg(0)
        .get_if_exists(true)
        .create()
        .await;
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

/// Ray's `test_failure.py::test_retry_system_level_error`, in a guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_retry_system_level_error() -> Result<()> {
    scenario("test_retry_system_level_error").await
}

/// Ray's `test_failure.py::test_retry_application_level_error`, in a guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_retry_application_level_error() -> Result<()> {
    scenario("test_retry_application_level_error").await
}

/// Ray's `test_cancel.py::test_recursive_cancel`: cancelling a task also cancels the
/// tasks it submitted (the default); with `recursive = false` they go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_recursive_cancel() -> Result<()> {
    let runtime = runtime().await;
    for recursive in [true, false] {
        let outer = runtime
            .task("spawn_spinner_and_wait")
            .submit_now::<u64>(&runtime)?;
        // The outer task and the spinner it submitted are both running.
        assert!(
            common::eventually(SHORT, || runtime.stats().tasks_in_flight == 2).await,
            "{:?}",
            runtime.stats()
        );
        runtime.cancel_with(&outer, recursive);
        let cancelled = within(SHORT, "the outer task", outer.get()).await;
        assert!(
            matches!(cancelled, Err(RayError::Cancelled)),
            "{cancelled:?}"
        );
        if recursive {
            assert!(
                common::eventually(SHORT, || runtime.stats().tasks_in_flight == 0).await,
                "the inner task was cancelled too: {:?}",
                runtime.stats()
            );
        } else {
            // The spinner never ends on its own: it is still running.
            assert!(
                runtime.stats().tasks_in_flight >= 1,
                "{:?}",
                runtime.stats()
            );
        }
    }
    // Shutdown cancels the spinner left by the non-recursive cancel.
    runtime
        .shutdown_with_deadline(std::time::Duration::ZERO)
        .await
}

/// Ray's `test_cancel.py` actor-task cases: cancelling an actor call that is still queued
/// (here: waiting on an argument that never comes) answers `Cancelled` at once and the
/// call never runs; the actor goes on with the next call; dependents see `Cancelled` as
/// the root cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_cancel_queued_actor_task() -> Result<()> {
    let runtime = actor_runtime().await;
    runtime.load(rustyray_tests::PARITY).await?;
    let counter = runtime.actor("Counter").arg(0).create().await?;
    let never = runtime.task("spin_forever").submit_now::<i32>(&runtime)?;
    let blocked: rustyray::ObjectRef<i32> =
        counter.call("add", rustyray::Args::new().object(&never));
    let queued: rustyray::ObjectRef<i32> = counter.call("add", (100,));
    runtime.cancel(&queued);
    let answer = within(SHORT, "the queued call", queued.get()).await;
    assert!(matches!(answer, Err(RayError::Cancelled)), "{answer:?}");
    runtime.cancel(&blocked);
    let answer = within(SHORT, "the blocked call", blocked.get()).await;
    assert!(matches!(answer, Err(RayError::Cancelled)), "{answer:?}");
    let dependent = runtime
        .task("one_more")
        .arg_ref(&blocked)
        .submit_now::<u64>(&runtime)?;
    let failed = within(SHORT, "a dependent", dependent.get()).await;
    match &failed {
        Err(err @ RayError::DependencyFailed { .. }) => {
            assert!(matches!(err.root_cause(), RayError::Cancelled), "{err:?}")
        }
        other => panic!("expected DependencyFailed(Cancelled), got {other:?}"),
    }
    // Neither cancelled call ran.
    let value = within(SHORT, "get", counter.call::<i32>("increment", ()).get()).await?;
    assert_eq!(value, 1);
    runtime.cancel(&never);
    runtime.shutdown().await
}

/// Ray's `max_pending_calls` (`test_actor.py`): past the limit, a call fails at once with
/// `PendingCallsLimitExceeded`; once calls are answered, new ones are taken again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_max_pending_calls() -> Result<()> {
    let runtime = actor_runtime().await;
    runtime.load(rustyray_tests::PARITY).await?;
    let counter = runtime
        .actor("Counter")
        .arg(0)
        .max_pending_calls(2)
        .create()
        .await?;
    let never = runtime.task("spin_forever").submit_now::<i32>(&runtime)?;
    let blocked: rustyray::ObjectRef<i32> =
        counter.call("add", rustyray::Args::new().object(&never));
    let second: rustyray::ObjectRef<i32> = counter.call("add", (10,));
    let third: rustyray::ObjectRef<i32> = counter.call("add", (100,));
    let refused = within(SHORT, "the third call", third.get()).await;
    assert!(
        matches!(
            refused,
            Err(RayError::PendingCallsLimitExceeded { limit: 2, .. })
        ),
        "{refused:?}"
    );
    runtime.cancel(&never);
    let failed = within(SHORT, "the blocked call", blocked.get()).await;
    assert!(
        matches!(failed, Err(RayError::DependencyFailed { .. })),
        "{failed:?}"
    );
    assert_eq!(within(SHORT, "the second call", second.get()).await?, 10);
    let value = within(
        SHORT,
        "a later call",
        counter.call::<i32>("add", (1,)).get(),
    )
    .await?;
    assert_eq!(value, 11, "the refused call never ran");
    runtime.shutdown().await
}

/// Ray's `exit_actor` (`test_actor_failures.py`): the actor ends gracefully and is not
/// restarted whatever its `max_restarts`; the calling and the queued calls answer
/// `ActorDied` saying it exited, and its name is free again. `std::process::exit` in a
/// method does the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_exit_actor() -> Result<()> {
    let runtime = runtime().await;
    for method in ["quit", "exit_process"] {
        let tally = runtime
            .actor("Tally")
            .name("quitter")
            .max_restarts(3)
            .create()
            .await?;
        assert_eq!(
            within(SHORT, "bump", tally.call::<u32>("bump", ()).get()).await?,
            1
        );
        let quit: rustyray::ObjectRef<u32> = tally.call(method, ());
        let queued: rustyray::ObjectRef<u32> = tally.call("bump", ());
        for (what, answer) in [
            ("the exiting call", within(SHORT, method, quit.get()).await),
            ("a queued call", within(SHORT, "queued", queued.get()).await),
            (
                "a later call",
                within(SHORT, "later", tally.call::<u32>("count", ()).get()).await,
            ),
        ] {
            match &answer {
                Err(RayError::ActorDied { reason, .. }) => {
                    assert!(reason.contains("exited"), "{what}: {reason}")
                }
                other => panic!("{method}, {what}: expected ActorDied, got {other:?}"),
            }
        }
        assert!(
            runtime.get_actor("quitter").is_none(),
            "{method}: the name is free"
        );
    }
    runtime.shutdown().await
}

/// Ray's `test_failure.py` dependent-failure cases: a dependent's `get` raises the root
/// cause with its kind, through a chain, in a guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_dependent_sees_the_root_cause() -> Result<()> {
    scenario("test_dependent_sees_the_root_cause").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_actor_restart_after_constructor_crash() -> Result<()> {
    scenario("test_actor_restart_after_constructor_crash").await
}

/// Ray's `ray.kill(actor, no_restart=False)` (`test_actor_failures.py::test_actor_restart`
/// kills with restarts allowed): the actor comes back from its constructor, using one
/// restart; with none left the kill is final.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_kill_with_restart() -> Result<()> {
    let runtime = actor_runtime().await;
    let counter = runtime
        .actor("Counter")
        .arg(10)
        .max_restarts(1)
        .create()
        .await?;
    assert_eq!(
        within(
            SHORT,
            "increment",
            counter.call::<i32>("increment", ()).get()
        )
        .await?,
        11
    );
    counter.kill_with(false);
    // Calls sent after the kill run on the restarted instance, whose state is new.
    let after = within(
        SHORT,
        "after the restart",
        counter.call::<i32>("increment", ()).get(),
    )
    .await?;
    assert_eq!(after, 11, "restarted from its constructor");
    counter.kill_with(false);
    let dead = within(
        SHORT,
        "with no restarts left",
        counter.call::<i32>("increment", ()).get(),
    )
    .await;
    assert!(matches!(dead, Err(RayError::ActorDied { .. })), "{dead:?}");

    // A running call is interrupted: it fails, and the calls behind it run on the new
    // instance.
    let started = Arc::new(AtomicBool::new(false));
    let seen = started.clone();
    let runtime = common::builder()
        .on_output(move |line| {
            if line.line == b"spinning" {
                seen.store(true, Ordering::Release);
            }
        })
        .build()?;
    runtime.load(rustyray_tests::HOSTILE).await?;
    let stubborn = runtime
        .actor("Stubborn")
        .arg("calm")
        .max_restarts(1)
        .create()
        .await?;
    assert_eq!(
        within(SHORT, "ok", stubborn.call::<u32>("ok", ()).get()).await?,
        1
    );
    let spinning = stubborn.call::<u64>("announce_and_spin", ());
    let behind = stubborn.call::<u32>("ok", ());
    assert!(
        common::eventually(SHORT, || started.load(Ordering::Acquire)).await,
        "the spinning call started"
    );
    stubborn.kill_with(false);
    let interrupted = within(SHORT, "the spinning call", spinning.get()).await;
    assert!(
        matches!(interrupted, Err(RayError::ActorDied { .. })),
        "{interrupted:?}"
    );
    assert_eq!(
        within(SHORT, "the call behind", behind.get()).await?,
        2,
        "a new instance, restored from the snapshot taken after the first call"
    );
    drop(counter);
    runtime.shutdown().await
}

/// Ray's `test_failure.py::test_failed_task`: a task's own error type is re-raised as
/// itself (here: `downcast` to the guest's error enum), from tasks, actor methods,
/// dependents and nested gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_failed_task() -> Result<()> {
    scenario("test_failed_task").await
}

/// A trap (or a cancel) seen through a nested `get` keeps its kind for the caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_failed_task_through_a_nested_get() -> Result<()> {
    scenario("test_failed_task_through_a_nested_get").await
}

/// Ray's `ray.kill(actor, no_restart=False)`, from a guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_actor_restart_kill_no_restart_false() -> Result<()> {
    scenario("test_actor_restart_kill_no_restart_false").await
}

/// The host sees a guest's typed error as `Application` with its type's name and value,
/// which `codec` decodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_failed_task_host_sees_type_and_value() -> Result<()> {
    let runtime = runtime().await;
    let failed = runtime
        .task("throw_custom")
        .arg(7u32)
        .submit_now::<u64>(&runtime)?;
    let err = within(SHORT, "throw_custom", failed.get())
        .await
        .expect_err("throw_custom fails");
    // The serializable form names the guest's type, as Ray's error_type does.
    let info = err.info();
    assert_eq!(
        (info.kind.as_str(), info.type_name.as_deref()),
        ("Application", Some("parity::CustomError"))
    );
    match Err::<u64, _>(err) {
        Err(RayError::Application {
            function,
            message,
            type_name,
            value,
        }) => {
            assert_eq!(function, "throw_custom");
            assert!(message.contains("code 7"), "{message}");
            assert_eq!(type_name.as_deref(), Some("parity::CustomError"));
            let value = value.expect("a Serialize error carries its value");
            let json = rustyray::codec::to_json(&value)?;
            assert_eq!(json, serde_json::json!({"Failed": {"code": 7}}));
        }
        other => panic!("expected an application error, got {other:?}"),
    }
    runtime.shutdown().await
}

/// Ray's `test_failure.py::test_incorrect_method_calls`: a constructor or a method called
/// with too few or too many arguments, or a method that does not exist, fails the call
/// itself (`TypeError` / `AttributeError` at `.remote()`), and nothing runs; a task too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_incorrect_method_calls() -> Result<()> {
    let runtime = actor_runtime().await;
    runtime.load(rustyray_tests::FIXTURES).await?;
    for builder in [
        runtime.actor("Counter"),
        runtime.actor("Counter").arg(1).arg(2),
    ] {
        let refused = builder.create().await;
        assert!(
            matches!(&refused, Err(RayError::BadArguments { message, .. }) if message.contains("takes 1 argument")),
            "{refused:?}"
        );
    }
    let counter = runtime.actor("Counter").arg(5).create().await?;
    for (args, what) in [
        (rustyray::Args::new(), "too few"),
        (rustyray::Args::new().value(1).value(2), "too many"),
    ] {
        let refused = counter.try_call::<i32>("add", args.clone());
        assert!(
            matches!(&refused, Err(RayError::BadArguments { function, .. }) if function == "Counter.add"),
            "{what}: {refused:?}"
        );
        // `call` answers the same at once, in its object.
        let answer = within(SHORT, what, counter.call::<i32>("add", args).get()).await;
        assert!(
            matches!(answer, Err(RayError::BadArguments { .. })),
            "{answer:?}"
        );
    }
    let refused = counter.try_call::<i32>("nonexistent_method", ());
    assert!(
        matches!(&refused, Err(RayError::FunctionNotFound(name)) if name.contains("Counter.nonexistent_method")),
        "{refused:?}"
    );
    let refused = counter.call::<i32>("nonexistent_method", ()).get().await;
    assert!(
        matches!(refused, Err(RayError::FunctionNotFound(_))),
        "{refused:?}"
    );
    // None of them ran.
    assert_eq!(
        within(SHORT, "get", counter.call::<i32>("get", ()).get()).await?,
        5
    );
    // A task with a wrong count is refused by `submit` itself.
    for builder in [
        runtime.task("add").arg(1),
        runtime.task("add").arg(1).arg(2).arg(3),
    ] {
        let refused = builder.submit::<i32>(&runtime).await;
        assert!(
            matches!(&refused, Err(RayError::BadArguments { message, .. }) if message.contains("`add` takes 2 arguments")),
            "{refused:?}"
        );
    }
    runtime.shutdown().await
}

/// Ray's `test_basic.py::test_invalid_arguments` and its actor-option checks: an option
/// out of range fails the creation itself (`max_task_retries` without `max_restarts`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_invalid_arguments() -> Result<()> {
    let runtime = actor_runtime().await;
    let refused = runtime
        .actor("Counter")
        .arg(0)
        .max_task_retries(2)
        .create()
        .await;
    assert!(
        matches!(&refused, Err(RayError::InvalidOptions(m)) if m.contains("max_restarts")),
        "{refused:?}"
    );
    runtime.shutdown().await
}

/// Validation at submission from a guest (untyped calls, where the compiler cannot check):
/// a wrong count or an unknown method fails at once and never runs; an option out of
/// range fails the creation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_incorrect_method_calls_in_a_guest() -> Result<()> {
    scenario("test_incorrect_method_calls").await
}

/// Ray's `test_actor.py::test_actor_deletion`, handles in flight: a handle in a pending
/// task's arguments, in an object or in a result keeps its actor alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_actor_deletion_handles_in_flight() -> Result<()> {
    scenario("test_actor_deletion_handles_in_flight").await
}

/// ... and no longer than that: once the result holding the only handle is dropped, the
/// actor is reclaimed (Ray's `test_actor_deletion`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_actor_deletion_after_the_carrying_object() -> Result<()> {
    let runtime = runtime().await;
    let made = runtime
        .task("make_tally")
        .submit_now::<rustyray::ActorId>(&runtime)?;
    let id = within(SHORT, "make_tally", made.get()).await?;
    assert_eq!(runtime.stats().live_actors, 1, "the result keeps it");
    let found = runtime.get_actor_by_id(id)?;
    assert_eq!(
        within(SHORT, "a call", found.call::<u32>("count", ()).get()).await?,
        1
    );
    drop(found);
    assert_eq!(runtime.stats().live_actors, 1, "the result still keeps it");
    drop(made);
    assert!(
        common::eventually(SHORT, || runtime.stats().live_actors == 0).await,
        "reclaimed with the result: {:?}",
        runtime.stats()
    );
    runtime.shutdown().await
}

// Objects and references (issue 10, points 1-3): nested and returned references
// (Ray's `test_reference_counting*.py`), `free`, `num_returns` (`test_basic*.py`).

/// Ray's `test_basic_nested_ids` (python/ray/tests/test_reference_counting.py), in a guest:
/// references in a `Vec`, a struct and a map, passed as references, not resolved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_basic_nested_ids() -> Result<()> {
    scenario("test_basic_nested_ids").await
}

/// Ray's `test_recursively_nest_ids` (test_reference_counting_2.py), in a guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_recursively_nest_ids() -> Result<()> {
    scenario("test_recursively_nest_ids").await
}

/// Ray's `test_return_object_ref` (test_reference_counting_2.py), in a guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_return_object_ref() -> Result<()> {
    scenario("test_return_object_ref").await
}

/// Ray's `test_pass_returned_object_ref` (test_reference_counting_2.py), in a guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_pass_returned_object_ref() -> Result<()> {
    scenario("test_pass_returned_object_ref").await
}

/// Ray's `test_recursively_return_borrowed_object_ref` (test_reference_counting_2.py).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_recursively_return_borrowed_object_ref() -> Result<()> {
    scenario("test_recursively_return_borrowed_object_ref").await
}

/// Ray's `test_actor_holding_serialized_reference` (test_reference_counting.py).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_actor_holding_serialized_reference() -> Result<()> {
    scenario("test_actor_holding_serialized_reference").await
}

/// An actor whose snapshot holds `ObjectRef`s (Ray has no snapshots; its refs in actor
/// state, `test_actor_holding_serialized_reference`, across a restart): the snapshot keeps
/// the objects, and the actor restored after a crash reads them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_snapshot_holding_object_refs() -> Result<()> {
    scenario("test_snapshot_holding_object_refs").await
}

/// Ray's `test_borrowed_id_failure` (test_reference_counting_2.py), its success case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_borrowed_id() -> Result<()> {
    scenario("test_borrowed_id").await
}

/// Ray's `test_internal_free`, in a guest: `free`, then `ObjectFreed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_internal_free_in_a_guest() -> Result<()> {
    scenario("test_internal_free").await
}

/// Ray's `num_returns` for tasks (`test_multiple_return_values`), in a guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_multiple_return_values_in_a_guest() -> Result<()> {
    scenario("test_multiple_return_values").await
}

/// Ray's `num_returns` for actor methods, in a guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_actor_method_num_returns_in_a_guest() -> Result<()> {
    scenario("test_actor_method_num_returns").await
}

/// The host API's side of nested references: a value holding `ObjectRef`s keeps their
/// objects alive after every other handle is gone, gives them back on `get`, passes them
/// to a task as references, and lets them go with its last holder (no leak). A reference
/// a task returns is an `ObjectRef` on the host too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_nested_ids_through_the_host_api() -> Result<()> {
    let runtime = runtime().await;
    let base = runtime.stats().objects.live_objects;
    let inner = runtime.put(&vec![3u8; 4096])?;
    let inner_id = inner.id();
    let outer = runtime.put(&vec![inner])?;
    assert_eq!(runtime.stats().objects.live_objects, base + 2);
    let back: Vec<rustyray::ObjectRef<Vec<u8>>> = outer.get().await?;
    assert_eq!(back[0].id(), inner_id);
    drop(back);
    let lengths = runtime
        .task("lengths")
        .arg_ref(&outer)
        .submit_now::<Vec<usize>>(&runtime)?;
    assert_eq!(within(SHORT, "lengths", lengths.get()).await?, vec![4096]);
    assert_eq!(
        rustyray::codec::to_json(&outer.get_value().await?)?,
        serde_json::json!([{ "object_ref": inner_id.0.to_string() }])
    );
    drop(outer);
    drop(lengths);
    // Once the task has let go of its argument and result, nothing is left.
    let live = || runtime.stats().objects.live_objects;
    assert!(
        common::eventually(SHORT, || live() == base).await,
        "{} leaked",
        live() - base
    );

    let returned = runtime
        .task("return_an_id")
        .submit_now::<Vec<rustyray::ObjectRef<Vec<u8>>>>(&runtime)?;
    let inner = within(SHORT, "return_an_id", returned.get())
        .await?
        .remove(0);
    drop(returned);
    assert_eq!(inner.get().await?.len(), 1 << 20);
    drop(inner);
    assert!(
        common::eventually(SHORT, || live() == base).await,
        "{} leaked",
        live() - base
    );

    // Only rustyray's encoding carries a reference.
    let object = runtime.put(&1u8)?;
    assert!(serde_json::to_string(&object).is_err());
    runtime.shutdown().await
}

/// Ray's `free` on the host: every later `get` fails with `ObjectFreed`, as does a task
/// that takes the object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_internal_free() -> Result<()> {
    let runtime = runtime().await;
    let object = runtime.put(&vec![1u8; 100])?;
    let copy = object.clone();
    let used = runtime.stats().objects.used_bytes;
    runtime.free(&[object]);
    // Its bytes are given back at once, though `copy` still holds the object.
    assert_eq!(runtime.stats().objects.used_bytes, used - 100);
    assert!(matches!(copy.get().await, Err(RayError::ObjectFreed(id)) if id == copy.id()));
    let task = runtime
        .task("read_len")
        .arg_ref(&copy)
        .submit_now::<usize>(&runtime)?;
    let err = within(SHORT, "read_len", task.get()).await.unwrap_err();
    assert!(
        matches!(err.root_cause(), RayError::ObjectFreed(_)),
        "{err:?}"
    );
    runtime.shutdown().await
}

/// Ray's `num_returns` on the host: `TaskBuilder::num_returns` and
/// `ActorHandle::call_returns`; a length mismatch fails every object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_multiple_return_values() -> Result<()> {
    let runtime = runtime().await;
    let refs = runtime
        .task("three")
        .arg(4u64)
        .num_returns(3)
        .submit_returns::<()>(&runtime)?;
    assert_eq!(refs.len(), 3);
    let mut refs = refs.into_iter();
    let (a, b, c) = (
        refs.next().unwrap(),
        refs.next().unwrap(),
        refs.next().unwrap(),
    );
    assert_eq!(within(SHORT, "a", a.cast::<u64>().get()).await?, 4);
    assert_eq!(b.cast::<String>().get().await?, "n4");
    assert_eq!(c.cast::<Vec<u64>>().get().await?, vec![4; 3]);

    let wrong = runtime
        .task("three")
        .arg(4u64)
        .num_returns(2)
        .submit_returns::<u64>(&runtime)?;
    for object in wrong {
        let err = within(SHORT, "mismatch", object.get()).await.unwrap_err();
        assert!(
            matches!(&err, RayError::BadArguments { message, .. } if message.contains("got 3")),
            "{err:?}"
        );
    }
    let none = runtime
        .task("three")
        .arg(1u64)
        .num_returns(0)
        .submit_returns::<u64>(&runtime)?;
    assert!(none.is_empty());
    // Each return is a slot made at submission: a bound, refused at once.
    let too_many = runtime
        .task("three")
        .arg(1u64)
        .num_returns(rustyray::refs::MAX_NUM_RETURNS + 1)
        .submit_returns::<u64>(&runtime);
    assert!(
        matches!(too_many, Err(RayError::InvalidArgument(_))),
        "{too_many:?}"
    );

    let pairs = runtime.actor("Pairs").create().await?;
    let both = pairs.call_returns::<u64>("pair", (5u64,), 2);
    assert_eq!(within(SHORT, "pair", both[0].get()).await?, 5);
    assert_eq!(both[1].get().await?, 50);
    runtime.shutdown().await
}

/// Waits until the running `Sleeper` call has submitted its never-ending task: it is
/// running, and its next wait (on that task) is where the cancel reaches it.
async fn until_submitted(runtime: &Runtime, before: u64) {
    assert!(
        common::eventually(SHORT, || runtime.stats().tasks_submitted > before).await,
        "the call never started: {:?}",
        runtime.stats()
    );
}

/// Ray's `test_async_actor_cancel` (`test_actor_cancel.py`): cancelling a running actor
/// call reaches it at its wait (Ray: `asyncio.CancelledError` at the `await`); its
/// handler runs — a later `get` in it works — and the caller gets `Cancelled` although
/// the method returned a value. The task the call submitted is cancelled with it
/// (recursive), and the actor goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_async_actor_cancel() -> Result<()> {
    let runtime = runtime().await;
    let sleeper = runtime.actor("Sleeper").create().await?;
    let in_flight = runtime.stats().tasks_in_flight;
    let before = runtime.stats().tasks_submitted;
    let call: rustyray::ObjectRef<bool> = sleeper.call("f", ());
    until_submitted(&runtime, before).await;
    runtime.cancel(&call);
    let answer = within(SHORT, "the cancelled call", call.get()).await;
    assert!(matches!(answer, Err(RayError::Cancelled)), "{answer:?}");
    let seen = within(SHORT, "seen", sleeper.call::<(u32, u32)>("seen", ()).get()).await?;
    assert_eq!(seen, (1, 7), "the handler ran, and its later get worked");
    assert!(
        common::eventually(SHORT, || runtime.stats().tasks_in_flight <= in_flight).await,
        "the task the call submitted was cancelled too: {:?}",
        runtime.stats()
    );
    runtime.shutdown().await
}

/// A cancel the method does not catch propagates as `Cancelled` (`?`), as does one that
/// reaches a `wait` without a timeout; the actor keeps its state and takes the next
/// call. Canary: an uncancelled call on the same actor answers its value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_async_actor_cancel_propagates() -> Result<()> {
    let runtime = runtime().await;
    let sleeper = runtime.actor("Sleeper").create().await?;
    for method in ["g", "h"] {
        let before = runtime.stats().tasks_submitted;
        let call: rustyray::ObjectRef<u64> = sleeper.call(method, ());
        until_submitted(&runtime, before).await;
        runtime.cancel(&call);
        let answer = within(SHORT, method, call.get()).await;
        assert!(
            matches!(answer, Err(RayError::Cancelled)),
            "{method}: {answer:?}"
        );
    }
    let canary = within(SHORT, "empty", sleeper.call::<u32>("empty", ()).get()).await?;
    assert_eq!(canary, 0, "the actor is alive, and f's handler never ran");
    runtime.shutdown().await
}

/// Ray's `test_async_actor_cancel_after_task_finishes`: cancelling calls that already
/// ran changes nothing; their values stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_async_actor_cancel_after_task_finishes() -> Result<()> {
    let runtime = runtime().await;
    let sleeper = runtime.actor("Sleeper").create().await?;
    let first: rustyray::ObjectRef<u32> = sleeper.call("empty", ());
    let second: rustyray::ObjectRef<u32> = sleeper.call("empty", ());
    within(SHORT, "first", first.get()).await?;
    within(SHORT, "second", second.get()).await?;
    runtime.cancel(&first);
    runtime.cancel(&second);
    assert_eq!(within(SHORT, "first again", first.get()).await?, 0);
    assert_eq!(within(SHORT, "second again", second.get()).await?, 0);
    runtime.shutdown().await
}

/// Ray's `test_actor.py::test_get_actor_after_killed`, in a guest: `kill` frees the name
/// at once; `kill(no_restart=False)` keeps it for the restarted actor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_get_actor_after_killed() -> Result<()> {
    scenario("test_get_actor_after_killed").await
}

/// Ray's `test_actor.py::test_max_pending_calls`, in a guest: the refusal is a typed
/// `LimitExceeded { limit: "max_pending_calls" }`, a bound of 0 is refused at creation,
/// and an unknown class is `FunctionNotFound`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_max_pending_calls_in_a_guest() -> Result<()> {
    scenario("test_max_pending_calls_in_a_guest").await
}

/// Ray's `test_failure.py::test_retry_application_level_error` with
/// `retry_exceptions=[MyError]`, in a guest: only the listed error types are retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_retry_application_level_error_of_listed_types() -> Result<()> {
    scenario("test_retry_application_level_error_of_listed_types").await
}

/// Ray's `f.options(num_returns=k)` (`test_basic.py::test_multiple_return_values`) for a
/// function named at run time, in a guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_num_returns_by_name() -> Result<()> {
    scenario("test_num_returns_by_name").await
}

/// Ray's `max_retries=-1` and `max_restarts=-1, max_task_retries=-1` (no bound), in a
/// guest: `rustyray::UNLIMITED` retries a task and an actor call past every default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_unlimited_retries() -> Result<()> {
    scenario("test_unlimited_retries").await
}

/// Ray's `test_cancel.py::test_cancel_multiple_dependents`, in a guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_cancel_multiple_dependents() -> Result<()> {
    scenario("test_cancel_multiple_dependents").await
}

/// Ray's `test_failure.py::test_actor_worker_dying`, in a guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_actor_worker_dying() -> Result<()> {
    scenario("test_actor_worker_dying").await
}

/// Ray's `test_basic.py::test_mutually_recursive_functions`, in a guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_mutually_recursive_functions() -> Result<()> {
    scenario("test_mutually_recursive_functions").await
}

/// Ray's `test_basic.py::test_put_get`, in a guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_put_get() -> Result<()> {
    scenario("test_put_get").await
}
