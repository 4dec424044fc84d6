//! `max_concurrency` (issue 10.11): calls to one actor interleave, as Ray's async actors'
//! do (python/ray/tests/test_asyncio.py). `AsyncActor` (tests/concurrent_guests) has
//! `async fn` methods taking `&self` that await `get_async`; a native task `gate` stands
//! for an event the test fires, and each waiting method submits the native task `entered`
//! as it starts, so the tests know how many calls are in flight without sleeping.

use std::time::Duration;

use rustyray::codec::encode;
use rustyray::registry::{InvokeFailure, NativeFunction};
use rustyray::{ActorHandle, Args, ObjectRef, RayError, Runtime};
use tokio::sync::{mpsc, watch};

use crate::common::{self, SHORT, within};

/// A runtime with the actor fixtures and the native task `entered`, whose runs arrive on
/// the receiver.
async fn runtime() -> (Runtime, mpsc::UnboundedReceiver<()>) {
    let runtime = common::builder().build().expect("the runtime starts");
    runtime
        .load(rustyray_tests::CONCURRENT_ACTORS)
        .await
        .expect("the concurrent actors load");
    runtime
        .load(rustyray_tests::ACTOR_FIXTURES)
        .await
        .expect("the actor fixtures load");
    let (sender, entered) = mpsc::unbounded_channel();
    runtime
        .register_function(
            "entered",
            NativeFunction::new("fn()", move |_| {
                let _ = sender.send(());
                Box::pin(async {
                    encode(&0u64).map_err(|err| InvokeFailure::Application(err.to_string()))
                })
            }),
        )
        .expect("entered registers");
    (runtime, entered)
}

/// A native task `name` that answers 7 once the returned sender says `true`; the object
/// it fills.
fn gate(runtime: &Runtime, name: &str) -> (watch::Sender<bool>, ObjectRef<u64>) {
    let (open, opened) = watch::channel(false);
    runtime
        .register_function(
            name,
            NativeFunction::new("fn()", move |_| {
                let mut opened = opened.clone();
                Box::pin(async move {
                    let _ = opened.wait_for(|open| *open).await;
                    encode(&7u64).map_err(|err| InvokeFailure::Application(err.to_string()))
                })
            }),
        )
        .expect("the gate registers");
    let object = runtime
        .task(name)
        .submit_now::<u64>(runtime)
        .expect("the gate task is submitted");
    (open, object)
}

/// Waits for `count` calls to have started.
async fn entered(receiver: &mut mpsc::UnboundedReceiver<()>, count: usize) {
    for _ in 0..count {
        within(SHORT, "a call to start", receiver.recv())
            .await
            .expect("entered is registered");
    }
}

async fn async_actor(runtime: &Runtime, name: &str, max_concurrency: u32) -> ActorHandle {
    runtime
        .actor("AsyncActor")
        .name(name)
        .max_concurrency(max_concurrency)
        .create()
        .await
        .expect("AsyncActor is created")
}

/// Ray's test_asyncio_actor (a call awaiting one that queues behind it): `ask_self` awaits
/// its own actor's `give`, which can only run while `ask_self` waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_asyncio_actor_concurrency() {
    let (runtime, _entered) = runtime().await;
    let actor = async_actor(&runtime, "asker", 2).await;
    let answer: ObjectRef<i32> = actor.call("ask_self", ("asker".to_string(), 4));
    assert_eq!(within(SHORT, "ask_self", answer.get()).await.unwrap(), 41);

    // Canary: one call at a time, the same call waits for a call queued behind it, and
    // only its deadline ends it.
    let limit = Duration::from_millis(300);
    let serial = runtime
        .actor("AsyncActor")
        .name("serial")
        .call_timeout(limit)
        .create()
        .await
        .unwrap();
    let stuck: ObjectRef<i32> = serial.call("ask_self", ("serial".to_string(), 4));
    match within(SHORT, "the serial ask_self", stuck.get()).await {
        Err(RayError::Timeout(after)) => assert_eq!(after, limit),
        other => panic!("expected the serial actor to time out, got {other:?}"),
    }
}

/// From a guest: `ActorOptions::max_concurrency` reaches the host (and 0 is refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_async_actor_max_concurrency_from_guest() {
    let (runtime, _entered) = runtime().await;
    let answer = runtime
        .task("ask_self_from_guest")
        .arg("from-guest")
        .arg(3u32)
        .submit_now::<i32>(&runtime)
        .unwrap();
    assert_eq!(
        within(SHORT, "the guest's actor", answer.get())
            .await
            .unwrap(),
        71
    );
    let refused = runtime
        .task("ask_self_from_guest")
        .arg("zero")
        .arg(0u32)
        .submit_now::<i32>(&runtime)
        .unwrap();
    match within(SHORT, "the refused creation", refused.get()).await {
        Err(err) => assert!(err.to_string().contains("max_concurrency"), "{err:?}"),
        Ok(answer) => panic!("expected the guest's refusal, got {answer}"),
    }
}

/// Ray's test_async_actor_max_concurrency: no more than `max_concurrency` calls run at
/// once, and at least that many do when they all wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_async_actor_max_concurrency() {
    let (runtime, mut started) = runtime().await;
    let (open, gate) = gate(&runtime, "gate_bound");
    let actor = async_actor(&runtime, "bounded", 2).await;
    let holds: Vec<ObjectRef<u64>> = (0..5)
        .map(|_| actor.call("hold", Args::new().reference(&gate)))
        .collect();
    // Two are in flight, waiting on the gate; the others queue.
    entered(&mut started, 2).await;
    // A method that runs alone (`&mut self`) waits for the calls in flight.
    let total: ObjectRef<u32> = actor.call("total", ());
    open.send(true).unwrap();
    for hold in &holds {
        assert_eq!(within(SHORT, "a hold", hold.get()).await.unwrap(), 7);
    }
    assert_eq!(within(SHORT, "total", total.get()).await.unwrap(), 5);
    let most: ObjectRef<u32> = actor.call("most", ());
    assert_eq!(within(SHORT, "most", most.get()).await.unwrap(), 2);
}

/// Ray's test_async_actor_task_cancel (test_cancel.py): cancelling one running call
/// interrupts that call at its wait; the other call in flight goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_async_actor_task_cancel_leaves_the_others() {
    let (runtime, mut started) = runtime().await;
    let (open, gate) = gate(&runtime, "gate_cancel");
    let actor = async_actor(&runtime, "cancelled", 2).await;
    let first: ObjectRef<u64> = actor.call("hold", Args::new().reference(&gate));
    let second: ObjectRef<u64> = actor.call("hold", Args::new().reference(&gate));
    entered(&mut started, 2).await;
    runtime.cancel(&first);
    // Answered while the gate is still shut: the cancel reached the call's wait.
    match within(SHORT, "the cancelled call", first.get()).await {
        Err(RayError::Cancelled) => {}
        other => panic!("expected Cancelled, got {other:?}"),
    }
    open.send(true).unwrap();
    assert_eq!(
        within(SHORT, "the other call", second.get()).await.unwrap(),
        7
    );
    let total: ObjectRef<u32> = actor.call("total", ());
    assert_eq!(within(SHORT, "total", total.get()).await.unwrap(), 2);
}

/// A trap in one call loses the instance every call in flight shares: they all fail
/// `ActorDied`, and the actor restarts while `max_restarts` allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_async_actor_trap_fails_every_call_in_flight() {
    let (runtime, mut started) = runtime().await;
    let (_shut, never) = gate(&runtime, "gate_never");
    let (crash, crash_gate) = gate(&runtime, "gate_crash");
    let actor = runtime
        .actor("AsyncActor")
        .name("crashing")
        .max_concurrency(3)
        .max_restarts(1)
        .create()
        .await
        .unwrap();
    let waiting: ObjectRef<u64> = actor.call("hold", Args::new().reference(&never));
    let crashing: ObjectRef<u64> = actor.call("crash_after", Args::new().reference(&crash_gate));
    entered(&mut started, 2).await;
    crash.send(true).unwrap();
    for (what, call) in [
        ("the crashing call", &crashing),
        ("the waiting call", &waiting),
    ] {
        match within(SHORT, what, call.get()).await {
            Err(RayError::ActorDied { reason, .. }) => {
                assert!(reason.contains("trapped"), "{reason}")
            }
            other => panic!("{what}: expected ActorDied, got {other:?}"),
        }
    }
    // Restarted from its constructor: it answers, with fresh state.
    let given: ObjectRef<i32> = actor.call("give", (3,));
    assert_eq!(
        within(SHORT, "give after the restart", given.get())
            .await
            .unwrap(),
        30
    );
    let total: ObjectRef<u32> = actor.call("total", ());
    assert_eq!(
        within(SHORT, "total after the restart", total.get())
            .await
            .unwrap(),
        0
    );
    // The second trap finds no restart left: the actor is dead.
    let crashing: ObjectRef<u64> = actor.call("crash_after", Args::new().reference(&crash_gate));
    match within(SHORT, "the second crash", crashing.get()).await {
        Err(RayError::ActorDied { .. }) => {}
        other => panic!("expected ActorDied, got {other:?}"),
    }
    let after: ObjectRef<i32> = actor.call("give", (1,));
    match within(SHORT, "a call to the dead actor", after.get()).await {
        Err(RayError::ActorDied { reason, .. }) => {
            assert!(reason.contains("no restarts left"), "{reason}")
        }
        other => panic!("expected ActorDied, got {other:?}"),
    }
}

/// What cannot interleave is refused at creation with a typed error naming the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_max_concurrency_refusals() {
    let (runtime, _entered) = runtime().await;
    let refused = |class: &'static str, calls: u32| {
        let runtime = &runtime;
        async move {
            match runtime
                .actor(class)
                .arg(0)
                .max_concurrency(calls)
                .create()
                .await
            {
                Err(RayError::InvalidOptions(message)) => message,
                other => panic!("{class} with max_concurrency {calls}: {other:?}"),
            }
        }
    };
    let snapshot = refused("SafeCounter", 2).await;
    assert!(snapshot.contains("snapshot"), "{snapshot}");
    // Built without the SDK's `concurrent` feature, and with it but no `async fn`.
    let serial = refused("Counter", 2).await;
    assert!(serial.contains("no method that can interleave"), "{serial}");
    let serial = match runtime
        .actor("SerialActor")
        .max_concurrency(2)
        .create()
        .await
    {
        Err(RayError::InvalidOptions(message)) => message,
        other => panic!("SerialActor with max_concurrency 2: {other:?}"),
    };
    assert!(serial.contains("no method that can interleave"), "{serial}");
    let zero = runtime
        .actor("AsyncActor")
        .max_concurrency(0)
        .create()
        .await
        .unwrap_err();
    assert!(
        matches!(&zero, RayError::InvalidOptions(m) if m.contains("at least 1")),
        "{zero:?}"
    );
    let above = runtime
        .actor("AsyncActor")
        .max_concurrency(rustyray::actor::MAX_CONCURRENCY + 1)
        .create()
        .await
        .unwrap_err();
    assert!(
        matches!(&above, RayError::InvalidOptions(m) if m.contains("bound")),
        "{above:?}"
    );
    // Canary: the same classes with one call at a time, and AsyncActor at the bound.
    runtime.actor("SafeCounter").arg(0).create().await.unwrap();
    runtime
        .actor("Counter")
        .arg(0)
        .max_concurrency(1)
        .create()
        .await
        .unwrap();
    let serial = runtime.actor("SerialActor").create().await.unwrap();
    let pinged: ObjectRef<u32> = serial.call("ping", ());
    assert_eq!(within(SHORT, "ping", pinged.get()).await.unwrap(), 1);
    runtime
        .actor("AsyncActor")
        .max_concurrency(rustyray::actor::MAX_CONCURRENCY)
        .create()
        .await
        .unwrap();
}
