//! Actors: persistent instances with mailboxes, handles, names, restarts with state.

use std::time::{Duration, Instant};

use crate::common;
use rustyray::{ActorHandle, Args, ObjectRef, RayError, Runtime, TaskBuilder};

async fn runtime_with(builder: rustyray::RuntimeBuilder) -> Runtime {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("actors-cache");
    let runtime = builder
        .cache_dir(Some(dir))
        .build()
        .expect("runtime starts");
    runtime
        .load(rustyray_tests::ACTOR_FIXTURES)
        .await
        .expect("actor fixtures load");
    runtime
}

async fn runtime() -> Runtime {
    runtime_with(common::builder()).await
}

async fn counter(runtime: &Runtime, start: i32) -> ActorHandle {
    runtime
        .actor("Counter")
        .arg(start)
        .create()
        .await
        .expect("counter created")
}

#[tokio::test]
async fn inspect_lists_actor_classes() {
    let runtime = Runtime::builder()
        .max_instances(256)
        .max_actors(256)
        .cache_dir(None)
        .build()
        .unwrap();
    let info = runtime.load(rustyray_tests::ACTOR_FIXTURES).await.unwrap();
    let counter = info.actors.iter().find(|a| a.name == "Counter").unwrap();
    assert!(!counter.snapshot);
    assert!(counter.methods.iter().any(|m| m.name == "increment"));
    let safe = info
        .actors
        .iter()
        .find(|a| a.name == "SafeCounter")
        .unwrap();
    assert!(safe.snapshot);
}

#[tokio::test]
async fn state_persists_across_calls_in_submission_order() {
    let runtime = runtime().await;
    let actor = counter(&runtime, 10).await;
    // 200 calls sent without waiting: each sees the previous one's state, in order.
    let results: Vec<ObjectRef<i32>> = (0..200).map(|_| actor.call("increment", ())).collect();
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result.get().await.unwrap(), 10 + i as i32 + 1);
    }
    assert_eq!(actor.call::<i32>("add", (5,)).get().await.unwrap(), 215);
    assert_eq!(actor.call::<i32>("get", ()).get().await.unwrap(), 215);
    // Two actors of one class have separate state.
    let other = counter(&runtime, 0).await;
    assert_eq!(other.call::<i32>("get", ()).get().await.unwrap(), 0);
}

#[tokio::test]
async fn tell_is_fire_and_forget_but_ordered() {
    let runtime = runtime().await;
    let actor = counter(&runtime, 0).await;
    for _ in 0..50 {
        actor.tell("increment", ());
    }
    assert_eq!(actor.call::<i32>("get", ()).get().await.unwrap(), 50);
}

#[tokio::test]
async fn arguments_may_be_object_refs() {
    let runtime = runtime().await;
    let actor = counter(&runtime, 1).await;
    // An argument that is an object: the call waits for it, then gets its value.
    let five = runtime.put(&5i32).unwrap();
    let sum: i32 = actor
        .call("add", Args::new().object(&five))
        .get()
        .await
        .unwrap();
    assert_eq!(sum, 6);
    // A failed argument fails the call (not the actor) with the upstream error.
    // (An unknown function fails at submit now, so the failed upstream is an `Err`.)
    let failed: ObjectRef<i32> = actor.call("fail", ());
    let err = actor
        .call::<i32>("add", Args::new().object(&failed))
        .get()
        .await
        .unwrap_err();
    assert!(
        matches!(err.root_cause(), RayError::Application { .. }),
        "{err:?}"
    );
    assert_eq!(actor.call::<i32>("get", ()).get().await.unwrap(), 6);
}

#[tokio::test]
async fn application_error_fails_the_call_only() {
    let runtime = runtime().await;
    let actor = counter(&runtime, 3).await;
    let err = actor.call::<i32>("fail", ()).get().await.unwrap_err();
    assert!(matches!(err, RayError::Application { .. }), "{err:?}");
    assert_eq!(actor.call::<i32>("increment", ()).get().await.unwrap(), 4);
    // Unknown methods and bad arguments are typed errors too, and the actor lives on.
    let err = actor
        .call::<i32>("no_such_method", ())
        .get()
        .await
        .unwrap_err();
    assert!(matches!(err, RayError::FunctionNotFound(_)), "{err:?}");
    let err = actor.call::<i32>("add", ("five",)).get().await.unwrap_err();
    assert!(matches!(err, RayError::BadArguments { .. }), "{err:?}");
    assert_eq!(actor.call::<i32>("get", ()).get().await.unwrap(), 4);
}

#[tokio::test]
async fn trap_without_restarts_kills_the_actor_for_good() {
    let runtime = runtime().await;
    let actor = counter(&runtime, 0).await;
    let crash: ObjectRef<i32> = actor.call("crash_at", (1,));
    let queued: ObjectRef<i32> = actor.call("get", ());
    let err = crash.get().await.unwrap_err();
    match &err {
        RayError::ActorDied { class, reason, .. } => {
            assert_eq!(class, "Counter");
            assert!(reason.contains("trapped"), "{reason}");
        }
        other => panic!("expected ActorDied, got {other:?}"),
    }
    assert!(matches!(
        queued.get().await,
        Err(RayError::ActorDied { .. })
    ));
    assert!(matches!(
        actor.call::<i32>("get", ()).get().await,
        Err(RayError::ActorDied { .. })
    ));
    // Other actors are untouched.
    let other = counter(&runtime, 7).await;
    assert_eq!(other.call::<i32>("increment", ()).get().await.unwrap(), 8);
}

#[tokio::test]
async fn restart_without_snapshot_starts_from_the_constructor() {
    let runtime = runtime().await;
    let actor = runtime
        .actor("Counter")
        .arg(100)
        .max_restarts(1)
        .create()
        .await
        .unwrap();
    for _ in 0..3 {
        actor.call::<i32>("increment", ()).get().await.unwrap();
    }
    // crash_at(104) increments to 104 and traps: the call fails, the actor restarts.
    let crash = actor
        .call::<i32>("crash_at", (104,))
        .get()
        .await
        .unwrap_err();
    assert!(matches!(crash, RayError::ActorDied { .. }), "{crash:?}");
    assert_eq!(actor.call::<i32>("get", ()).get().await.unwrap(), 100);
}

#[tokio::test]
async fn restart_with_snapshot_keeps_the_state() {
    let runtime = runtime().await;
    let actor = runtime
        .actor("SafeCounter")
        .arg(0)
        .max_restarts(2)
        .create()
        .await
        .unwrap();
    for i in 1..=5 {
        assert_eq!(actor.call::<i32>("increment", ()).get().await.unwrap(), i);
    }
    // Counting to 6 traps on purpose; the restarted actor comes back at 5, not 0.
    let crash = actor.call::<i32>("crash_at", (6,)).get().await.unwrap_err();
    assert!(matches!(crash, RayError::ActorDied { .. }), "{crash:?}");
    assert_eq!(actor.call::<i32>("get", ()).get().await.unwrap(), 5);
    assert_eq!(actor.call::<i32>("increment", ()).get().await.unwrap(), 6);
}

#[tokio::test]
async fn the_trapping_call_is_retried_up_to_max_task_retries() {
    let runtime = runtime().await;
    // Retried once on the restarted (snapshot) actor: counting from 5 to 6 traps again,
    // so both restarts are used and the call still fails; the actor is then dead.
    let actor = runtime
        .actor("SafeCounter")
        .arg(5)
        .max_restarts(2)
        .max_task_retries(1)
        .create()
        .await
        .unwrap();
    actor.call::<i32>("get", ()).get().await.unwrap();
    let err = actor.call::<i32>("crash_at", (6,)).get().await.unwrap_err();
    assert!(matches!(err, RayError::ActorDied { .. }), "{err:?}");
    // One restart is left: the actor lives, from its snapshot.
    assert_eq!(actor.call::<i32>("get", ()).get().await.unwrap(), 5);
}

#[tokio::test]
async fn named_actors_and_namespaces() {
    let runtime = runtime().await;
    let first = runtime
        .actor("Counter")
        .arg(1)
        .name("shared")
        .create()
        .await
        .unwrap();
    let found = runtime.get_actor("shared").expect("named actor found");
    assert_eq!(found.id(), first.id());
    found.call::<i32>("increment", ()).get().await.unwrap();
    assert_eq!(first.call::<i32>("get", ()).get().await.unwrap(), 2);

    let taken = runtime
        .actor("Counter")
        .arg(0)
        .name("shared")
        .create()
        .await;
    assert!(
        matches!(taken, Err(RayError::ActorNameTaken { .. })),
        "{taken:?}"
    );
    let same = runtime
        .actor("Counter")
        .arg(0)
        .name("shared")
        .get_if_exists(true)
        .create()
        .await
        .unwrap();
    assert_eq!(same.id(), first.id());

    let elsewhere = runtime
        .actor("Counter")
        .arg(50)
        .name("shared")
        .namespace("other")
        .create()
        .await
        .unwrap();
    assert_ne!(elsewhere.id(), first.id());
    assert_eq!(
        runtime
            .get_actor_in("other", "shared")
            .unwrap()
            .call::<i32>("get", ())
            .get()
            .await
            .unwrap(),
        50
    );
    assert!(runtime.get_actor("nobody").is_none());
    // A named actor outlives its handles.
    drop((first, found, same));
    assert!(runtime.get_actor("shared").is_some());
}

#[tokio::test]
async fn kill_answers_every_pending_call() {
    let runtime = runtime().await;
    let waiter = runtime.actor("Waiter").create().await.unwrap();
    // The first call blocks on a 10 s task; the others queue behind it.
    let blocked: ObjectRef<u64> = waiter.call("wait_on_sleeper", (10_000u64,));
    let queued: Vec<ObjectRef<u32>> = (0..5).map(|_| waiter.call("waits", ())).collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let start = Instant::now();
    waiter.kill();
    assert!(matches!(
        blocked.get().await,
        Err(RayError::ActorDied { .. })
    ));
    for call in &queued {
        assert!(matches!(call.get().await, Err(RayError::ActorDied { .. })));
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "kill took {:?}",
        start.elapsed()
    );
    assert!(matches!(
        waiter.call::<u32>("waits", ()).get().await,
        Err(RayError::ActorDied { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_waiting_in_get_does_not_block_others() {
    let runtime = runtime().await;
    let waiter = runtime.actor("Waiter").create().await.unwrap();
    let actor = counter(&runtime, 0).await;
    let slow: ObjectRef<u64> = waiter.call("wait_on_sleeper", (800u64,));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let start = Instant::now();
    for _ in 0..100 {
        actor.call::<i32>("increment", ()).get().await.unwrap();
    }
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "other actor was held up: {:?}",
        start.elapsed()
    );
    assert!(!slow.is_ready(), "the waiter should still be waiting");
    assert_eq!(slow.get().await.unwrap(), 800);
    assert_eq!(waiter.call::<u32>("waits", ()).get().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_actors_run_in_parallel() {
    // One actor busy in a method that never yields by itself (pure CPU, for far longer
    // than the test) does not hold up another: its calls are all answered while the
    // first is still spinning. (How much faster two actors go than one is the
    // bench's `actor_calls_n_n_per_s`, not a test's.)
    let runtime = runtime_with(common::builder().worker_threads(2)).await;
    let busy = runtime.actor("Waiter").create().await.unwrap();
    let other = runtime.actor("Waiter").create().await.unwrap();
    let spinning: ObjectRef<u64> = busy.call("spin", (u64::MAX,));
    for _ in 0..50 {
        assert_eq!(other.call::<u32>("waits", ()).get().await.unwrap(), 0);
    }
    assert!(
        !spinning.is_ready(),
        "the busy actor cannot have spun u64::MAX turns"
    );
    busy.kill();
    assert!(matches!(
        spinning.get().await,
        Err(RayError::ActorDied { .. })
    ));
}

#[tokio::test]
async fn handles_travel_to_tasks_and_to_other_actors() {
    let runtime = runtime().await;
    let counter_a = counter(&runtime, 10).await;
    let counter_b = counter(&runtime, 5).await;
    // A task takes a CounterHandle (serialized as the actor id) and calls it.
    let bumped: i32 = TaskBuilder::new("bump")
        .arg(counter_a.id().0)
        .submit_now(&runtime)
        .unwrap()
        .get()
        .await
        .unwrap();
    assert_eq!(bumped, 11);
    // An actor method takes another actor's handle.
    let sum: i32 = counter_b
        .call("add_from", (counter_a.id().0,))
        .get()
        .await
        .unwrap();
    assert_eq!(sum, 5 + 11);
    // Bank transfer between two account actors, by a task holding both handles.
    let alice = runtime
        .actor("Account")
        .arg("alice")
        .arg(100u64)
        .create()
        .await
        .unwrap();
    let bob = runtime
        .actor("Account")
        .arg("bob")
        .arg(50u64)
        .create()
        .await
        .unwrap();
    let balances: (u64, u64) = TaskBuilder::new("transfer")
        .arg(alice.id().0)
        .arg(bob.id().0)
        .arg(30u64)
        .submit_now(&runtime)
        .unwrap()
        .get()
        .await
        .unwrap();
    assert_eq!(balances, (70, 80));
    let refused = TaskBuilder::new("transfer")
        .arg(bob.id().0)
        .arg(alice.id().0)
        .arg(1_000u64)
        .submit_now::<(u64, u64)>(&runtime)
        .unwrap()
        .get()
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("insufficient funds"),
        "{refused}"
    );
    assert_eq!(bob.call::<u64>("balance", ()).get().await.unwrap(), 80);
}

#[tokio::test]
async fn constructor_errors_fail_creation() {
    let runtime = runtime().await;
    let err = runtime
        .actor("Account")
        .arg("")
        .arg(1u64)
        .create()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("needs an owner"), "{err}");
    let err = runtime.actor("NoSuchClass").create().await.unwrap_err();
    assert!(matches!(err, RayError::ActorClassNotFound(_)), "{err:?}");
    let err = runtime
        .actor("Counter")
        .arg("not a number")
        .create()
        .await
        .unwrap_err();
    assert!(matches!(err, RayError::BadArguments { .. }), "{err:?}");
}

#[tokio::test]
async fn unreferenced_actors_are_reclaimed_and_stop_gracefully() {
    let runtime = runtime().await;
    let log = runtime
        .actor("Log")
        .name("farewells")
        .create()
        .await
        .unwrap();
    let before = runtime.stats().live_actors;
    let stoppable = runtime
        .actor("Stoppable")
        .arg("s1")
        .arg("farewells")
        .create()
        .await
        .unwrap();
    for _ in 0..3 {
        stoppable.call::<u32>("ping", ()).get().await.unwrap();
    }
    assert_eq!(runtime.stats().live_actors, before + 1);
    drop(stoppable);
    // The mailbox drains, runs on_stop (which tells the log), and the actor is gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let entries: Vec<String> = log.call("entries", ()).get().await.unwrap();
        if entries
            .iter()
            .any(|e| e.contains("s1 stopped after 3 pings"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "on_stop never ran: {entries:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(runtime.stats().live_actors, before);
}

#[tokio::test]
async fn shutdown_finishes_calls_in_flight_then_stops_actors() {
    let runtime = runtime().await;
    let log = runtime
        .actor("Log")
        .name("shutdown-log")
        .create()
        .await
        .unwrap();
    let stoppable = runtime
        .actor("Stoppable")
        .arg("s2")
        .arg("shutdown-log")
        .create()
        .await
        .unwrap();
    let pings: Vec<ObjectRef<u32>> = (0..100).map(|_| stoppable.call("ping", ())).collect();
    runtime.shutdown().await.unwrap();
    // Every call sent before the shutdown was answered with its value.
    for (i, ping) in pings.iter().enumerate() {
        assert_eq!(ping.get().await.unwrap(), i as u32 + 1);
    }
    // After shutdown, calls are refused with an answer, not a hang.
    assert!(matches!(
        stoppable.call::<u32>("ping", ()).get().await,
        Err(RayError::ActorDied { .. })
    ));
    drop(log);
}

#[tokio::test]
async fn shutdown_deadline_interrupts_a_blocked_actor() {
    let runtime = runtime().await;
    let waiter = runtime.actor("Waiter").create().await.unwrap();
    let blocked: ObjectRef<u64> = waiter.call("wait_on_sleeper", (30_000u64,));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let start = Instant::now();
    runtime
        .shutdown_with_deadline(Duration::from_millis(200))
        .await
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert!(blocked.get().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_live_actors_each_with_its_own_state() {
    const N: usize = 10_000;
    let runtime = runtime_with(
        Runtime::builder()
            .max_instances(16)
            .max_actors(N as u32 + 10),
    )
    .await;
    let start = Instant::now();
    let mut actors = Vec::with_capacity(N);
    for i in 0..N {
        actors.push(counter(&runtime, i as i32).await);
    }
    let created = start.elapsed();
    let answers: Vec<ObjectRef<i32>> = actors.iter().map(|a| a.call("increment", ())).collect();
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer.get().await.unwrap(), i as i32 + 1);
    }
    assert!(runtime.stats().live_actors >= N);
    eprintln!(
        "10,000 actors created in {created:?}, all answered in {:?}",
        start.elapsed()
    );
}
