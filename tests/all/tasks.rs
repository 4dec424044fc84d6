//! Results of tasks: plain values, structs, async functions, bytes, native
//! functions, chains, fan-ins, and the fresh instance every task gets.

use std::time::Duration;

use rustyray::{RayError, Result, TaskBuilder, task_function};
use serde::{Deserialize, Serialize};

use crate::common::{self, LONG, SHORT, within};

/// The fixtures' `Point`, defined identically: MessagePack sees the field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i64,
    y: i64,
}

#[tokio::test]
async fn add_returns_the_sum() -> Result<()> {
    let runtime = common::runtime().await;
    let sum = TaskBuilder::new("add")
        .arg(5)
        .arg(3)
        .submit::<i32>(&runtime)
        .await?;
    assert_eq!(within(SHORT, "add", sum.get()).await?, 8);
    let negative = runtime
        .task("add")
        .arg(-7)
        .arg(2)
        .submit_now::<i32>(&runtime)?;
    assert_eq!(runtime.get(&negative).await?, -5);
    Ok(())
}

#[tokio::test]
async fn structs_cross_the_boundary() -> Result<()> {
    let runtime = common::runtime().await;
    let sum = runtime
        .task("add_points")
        .arg(Point { x: 1, y: -2 })
        .arg(Point {
            x: 10,
            y: i64::MIN + 2,
        })
        .submit_now::<Point>(&runtime)?;
    assert_eq!(
        within(SHORT, "add_points", sum.get()).await?,
        Point { x: 11, y: i64::MIN }
    );
    Ok(())
}

#[tokio::test]
async fn async_guest_functions_return_their_value() -> Result<()> {
    let runtime = common::runtime().await;
    let doubled = runtime
        .task("async_double")
        .arg(21i64)
        .submit_now::<i64>(&runtime)?;
    assert_eq!(within(SHORT, "async_double", doubled.get()).await?, 42);
    Ok(())
}

#[tokio::test]
async fn bytes_echo_unchanged() -> Result<()> {
    let runtime = common::runtime().await;
    let inputs = [
        Vec::new(),
        (0..=255u8).collect::<Vec<u8>>(),
        (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect(),
    ];
    for input in inputs {
        let echoed = runtime
            .task("echo")
            .arg(&input)
            .submit_now::<Vec<u8>>(&runtime)?;
        assert_eq!(within(SHORT, "echo", echoed.get()).await?, input);
    }
    Ok(())
}

#[tokio::test]
async fn native_functions_run_and_fail_like_wasm_ones() -> Result<()> {
    let runtime = common::builder().build()?;
    runtime.register_function(
        "mul",
        task_function!(|a: i64, b: i64| async move { Ok::<i64, String>(a * b) }),
    )?;
    runtime.register_function(
        "refuse",
        task_function!(|why: String| async move { Err::<i64, String>(format!("refused: {why}")) }),
    )?;
    let product = runtime
        .task("mul")
        .arg(6i64)
        .arg(-7i64)
        .submit_now::<i64>(&runtime)?;
    assert_eq!(within(SHORT, "mul", product.get()).await?, -42);

    let refused = runtime
        .task("refuse")
        .arg("no")
        .submit_now::<i64>(&runtime)?;
    match within(SHORT, "refuse", refused.get()).await {
        Err(RayError::Application {
            function, message, ..
        }) => {
            assert_eq!(function, "refuse");
            assert_eq!(message, "refused: no");
        }
        other => panic!("expected an application error, got {other:?}"),
    }

    let bad = runtime
        .task("mul")
        .arg("six")
        .arg(7i64)
        .submit_now::<i64>(&runtime)?;
    match within(SHORT, "mul with a string", bad.get()).await {
        Err(RayError::BadArguments { function, message }) => {
            assert_eq!(function, "mul");
            assert!(message.contains("`a`"), "names the parameter: {message}");
        }
        other => panic!("expected bad arguments, got {other:?}"),
    }

    let short = runtime.task("mul").arg(1i64).submit_now::<i64>(&runtime)?;
    match within(SHORT, "mul with one argument", short.get()).await {
        Err(RayError::BadArguments { message, .. }) => {
            assert!(message.contains("expected 2 arguments, got 1"), "{message}");
        }
        other => panic!("expected bad arguments, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn native_and_wasm_tasks_mix_in_one_chain() -> Result<()> {
    let runtime = common::runtime().await;
    runtime.register_function(
        "widen_times_ten",
        task_function!(|x: i32| async move {
            Ok::<u64, String>(u64::try_from(x).map_err(|e| e.to_string())? * 10)
        }),
    )?;
    runtime.register_function(
        "square",
        task_function!(|x: u64| async move { Ok::<u64, String>(x * x) }),
    )?;
    let functions = runtime.functions();
    let native = functions
        .iter()
        .find(|f| f.name == "square")
        .expect("square is listed");
    assert_eq!(native.component, None);
    let wasm = functions
        .iter()
        .find(|f| f.name == "add")
        .expect("add is listed");
    assert_eq!(wasm.component.as_deref(), Some(rustyray_tests::FIXTURES));
    assert_eq!(wasm.signature, "fn add(a: i32, b: i32) -> i32");

    // wasm add -> native widen -> wasm inc -> native square
    let sum = runtime
        .task("add")
        .arg(2)
        .arg(3)
        .submit_now::<i32>(&runtime)?;
    let wide = runtime
        .task("widen_times_ten")
        .arg_ref(&sum)
        .submit_now::<u64>(&runtime)?;
    let next = runtime
        .task("inc")
        .arg_ref(&wide)
        .submit_now::<u64>(&runtime)?;
    let squared = runtime
        .task("square")
        .arg_ref(&next)
        .submit_now::<u64>(&runtime)?;
    assert_eq!(
        within(SHORT, "the mixed chain", squared.get()).await?,
        51 * 51
    );
    assert_eq!(wide.get().await?, 50);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_1000_dependent_tasks() -> Result<()> {
    let runtime = common::runtime().await;
    let mut last = runtime.task("inc").arg(0u64).submit_now::<u64>(&runtime)?;
    for _ in 1..1000 {
        // The previous handle is dropped here: the task still holds its argument.
        last = runtime
            .task("inc")
            .arg_ref(&last)
            .submit_now::<u64>(&runtime)?;
    }
    assert_eq!(
        within(LONG, "the 1,000-long chain", last.get()).await?,
        1000
    );
    assert_eq!(runtime.stats().tasks_submitted, 1000);
    Ok(())
}

fn kilobyte(seed: u8) -> Vec<u8> {
    (0..1024u32).map(|i| seed.wrapping_add(i as u8)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_in_of_1000_tasks() -> Result<()> {
    let runtime = common::runtime().await;
    let refs = (0..1000u32)
        .map(|i| {
            runtime
                .task("kilobyte")
                .arg(i as u8)
                .submit_now::<Vec<u8>>(&runtime)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut parts = Vec::with_capacity(refs.len());
    for (i, r) in refs.iter().enumerate() {
        let part = within(LONG, "a kilobyte task", r.get()).await?;
        assert_eq!(part, kilobyte(i as u8), "part {i}");
        parts.push(part);
    }
    let expected: u64 = parts.iter().flatten().map(|&b| u64::from(b)).sum();
    // The reducer gets all 1,000 parts as one argument.
    let total = runtime
        .task("sum_bytes")
        .arg(&parts)
        .submit_now::<u64>(&runtime)?;
    assert_eq!(within(SHORT, "sum_bytes", total.get()).await?, expected);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_fans_in_1000_nested_tasks() -> Result<()> {
    let runtime = common::runtime().await;
    let sum = runtime
        .task("nested_sum")
        .arg(1000u32)
        .submit_now::<i64>(&runtime)?;
    assert_eq!(within(LONG, "nested_sum(1000)", sum.get()).await?, 500_500);
    // The guest's 1,000 tasks, plus its own.
    assert_eq!(runtime.stats().tasks_submitted, 1001);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_holders_get_the_same_value_many_times() -> Result<()> {
    let runtime = common::runtime().await;
    // Long enough that most getters start before it is ready.
    let iterations = 3_000_000u64;
    let result = runtime
        .task("busy")
        .arg(iterations)
        .submit_now::<u64>(&runtime)?;
    let mut getters = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let holder = result.clone();
        getters.spawn(async move {
            let mut values = Vec::new();
            for _ in 0..50 {
                values.push(holder.get().await?);
            }
            Ok::<_, RayError>(values)
        });
    }
    assert_eq!(within(SHORT, "busy", result.get()).await?, iterations);
    let mut answers = 0;
    while let Some(joined) = within(SHORT, "the getters", getters.join_next()).await {
        let values = joined.expect("a getter panicked")?;
        assert_eq!(values, vec![iterations; 50]);
        answers += values.len();
    }
    assert_eq!(answers, 400);
    assert_eq!(result.try_get().expect("ready")?, iterations);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_runs_in_a_fresh_instance() -> Result<()> {
    let runtime = common::runtime().await;
    let refs = (0..50)
        .map(|_| {
            runtime
                .task("calls_in_this_instance")
                .submit_now::<u32>(&runtime)
        })
        .collect::<Result<Vec<_>>>()?;
    for r in &refs {
        assert_eq!(within(SHORT, "calls_in_this_instance", r.get()).await?, 1);
    }
    // And one after the other, too.
    for _ in 0..5 {
        let r = runtime
            .task("calls_in_this_instance")
            .submit_now::<u32>(&runtime)?;
        assert_eq!(within(SHORT, "calls_in_this_instance", r.get()).await?, 1);
    }
    Ok(())
}

#[test]
fn tasks_work_without_an_async_context_of_the_caller() {
    // `Runtime` owns its executor: building it, registering and submitting need no
    // tokio runtime of the caller's; only awaiting the value does.
    let runtime = common::builder().build().expect("runtime");
    runtime
        .register_function(
            "triple",
            task_function!(|x: u32| async move { Ok::<u32, String>(x * 3) }),
        )
        .expect("register");
    let r = runtime
        .task("triple")
        .arg(14u32)
        .submit_now::<u32>(&runtime)
        .expect("submit");
    let waiter = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a waiter runtime");
    let value = waiter.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), r.get())
            .await
            .expect("no hang")
    });
    assert_eq!(value.expect("triple"), 42);
}

/// A host `get` runs a task no worker has started yet on its own thread (Ray runs a task
/// inline in a worker blocked in `get`). A caller that stops waiting half-way must not
/// take the task down with it: the rest of it finishes on a worker, and the next `get`
/// has its value.
#[tokio::test]
async fn a_get_that_stops_waiting_leaves_its_task_to_finish() -> Result<()> {
    let runtime = common::runtime().await;
    let iterations = 300_000_000u64;
    let busy = runtime
        .task("busy")
        .arg(iterations)
        .submit_now::<u64>(&runtime)?;
    // Gives up long before 300 million turns are done (whoever runs them).
    if let Ok(early) = tokio::time::timeout(Duration::from_millis(1), busy.get()).await {
        assert_eq!(early?, iterations);
    }
    assert_eq!(within(LONG, "busy", busy.get()).await?, iterations);
    Ok(())
}

/// A task run by the `get` waiting for it is still cancelled by `cancel` (here from the
/// same thread, between two of its epoch-tick yields) and still ends `Cancelled`.
#[tokio::test]
async fn a_task_run_by_its_get_is_cancelled_like_any_other() -> Result<()> {
    let runtime = common::runtime().await;
    let spinning = runtime.task("spin").submit_now::<u64>(&runtime)?;
    let (outcome, ()) = within(SHORT, "spin", async {
        tokio::join!(spinning.get(), async { runtime.cancel(&spinning) })
    })
    .await;
    assert!(matches!(outcome, Err(RayError::Cancelled)), "{outcome:?}");
    // The runtime goes on.
    let sum = runtime
        .task("add")
        .arg(2)
        .arg(3)
        .submit_now::<i32>(&runtime)?;
    assert_eq!(within(SHORT, "add", sum.get()).await?, 5);
    Ok(())
}

/// A host `get` runs a task no worker has started yet on its own thread (Ray's inline
/// execution), but not while the workers have a backlog of tasks not started (a batch
/// submitted all at once, then got one by one): then it waits for a worker, and the
/// caller does not become one more thread on cores the workers keep busy. A native
/// task says which thread ran it; one worker is held busy, so nothing else starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_runs_its_task_inline_unless_the_workers_have_a_backlog() -> Result<()> {
    use std::sync::{Condvar, Mutex, OnceLock, mpsc};
    static GATE: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());
    static STARTED: OnceLock<Mutex<mpsc::Sender<()>>> = OnceLock::new();
    let (started, holding) = mpsc::channel();
    let _ = STARTED.set(Mutex::new(started));
    let runtime = common::builder().worker_threads(1).build()?;
    // Blocks the runtime's only worker until the gate opens (at most SHORT).
    runtime.register_function(
        "hold",
        task_function!(|x: u64| async move {
            if let Some(started) = STARTED.get() {
                let _ = started.lock().map(|sender| sender.send(()));
            }
            let (lock, opened) = &GATE;
            let mut open = lock.lock().map_err(|_| "gate poisoned".to_string())?;
            let deadline = std::time::Instant::now() + SHORT;
            while !*open && std::time::Instant::now() < deadline {
                open = opened
                    .wait_timeout(open, SHORT)
                    .map_err(|_| "gate poisoned".to_string())?
                    .0;
            }
            Ok::<u64, String>(x)
        }),
    )?;
    runtime.register_function(
        "thread",
        task_function!(|_x: u64| async move {
            Ok::<String, String>(std::thread::current().name().unwrap_or("").to_string())
        }),
    )?;
    let held = runtime.task("hold").arg(1u64).submit_now::<u64>(&runtime)?;
    holding
        .recv_timeout(SHORT)
        .expect("the worker starts the holding task");

    // One task waiting to start: its get runs it, here.
    let alone = runtime
        .task("thread")
        .arg(1u64)
        .submit_now::<String>(&runtime)?;
    let ran_on = within(SHORT, "the task run by its get", alone.get()).await?;
    assert_ne!(ran_on, "rustyray-worker", "a lone task is run by its get");

    // A backlog of two: the get waits for the (held) worker instead.
    let first = runtime
        .task("thread")
        .arg(2u64)
        .submit_now::<String>(&runtime)?;
    let second = runtime
        .task("thread")
        .arg(3u64)
        .submit_now::<String>(&runtime)?;
    let waited = second.get_timeout(Duration::from_millis(200)).await;
    assert!(
        matches!(waited, Err(RayError::GetTimeout(_))),
        "a get behind a backlog runs nothing itself: {waited:?}"
    );
    {
        let (lock, opened) = &GATE;
        *lock.lock().expect("gate") = true;
        opened.notify_all();
    }
    assert_eq!(within(SHORT, "hold", held.get()).await?, 1);
    // Both run once the worker is free (which thread takes the last one is a race).
    within(SHORT, "first", first.get()).await?;
    within(SHORT, "second", second.get()).await?;
    Ok(())
}
