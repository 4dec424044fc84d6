//! Python guests: the examples through the CLI, and a Rust host calling Python tasks and
//! actors by name (typed results, Python errors with their type and traceback, the
//! sandbox, fresh instances, restarts from a snapshot).
//!
//! A Python program is built with componentize-py on first use (the venv is created
//! then, see `.ci/run`), so each build is bounded by [`BUILD`]; builds are cached by
//! content in the shared test cache, so later runs only load them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustyray::{Capabilities, RayError, Result, Runtime, TaskBuilder};

use crate::common::{self, LONG, within};
use crate::programs::{BUILD, assert_lines, path, run_cli};

// Values cross as MessagePack (bytes raw) between Rust hosts, Rust guests and Python
// guests alike: Rust structs arrive in Python as dicts of their fields.

/// Builds a Python program once per test process, failing the test past [`BUILD`].
fn build(dir: &str) -> PathBuf {
    crate::programs::build(dir, rustyray_builder::python_build::build_program_in)
}

fn fixtures() -> &'static Path {
    static FIXTURES: OnceLock<PathBuf> = OnceLock::new();
    FIXTURES.get_or_init(|| build("tests/guests/python_fixtures"))
}

async fn runtime_with(builder: rustyray::RuntimeBuilder) -> Runtime {
    crate::programs::runtime_with_program(builder, fixtures).await
}

async fn runtime() -> Runtime {
    runtime_with(common::builder()).await
}

#[test]
fn python_tasks_example_runs() {
    let (status, out, err) = run_cli(&["run", "examples/python_tasks", "--", "6"], BUILD);
    assert_eq!(status, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert_lines(
        &out,
        &err,
        &[
            "squares: [0, 1, 4, 9, 16, 25]",
            "chain sum: 15",
            "tree sum: 55 = 55",
            "error: RayTaskError(ValueError) - invalid literal for int() with base 10: 'forty-two'",
            "wait: 6 ready, 0 pending",
        ],
    );
}

#[test]
fn mixed_example_runs() {
    let (status, out, err) = run_cli(
        &[
            "run",
            "examples/mixed",
            "--load",
            "examples/mixed/tally",
            "--",
            "2",
        ],
        BUILD,
    );
    assert_eq!(status, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert_lines(
        &out,
        &err,
        &[
            "8 Rust tasks counted 119 words",
            "the Python tally holds 119 words (58 distinct) from 8 batches",
            "   the 14",
            "    of 12",
        ],
    );
    assert!(
        !out.contains("   was 11"),
        "only the top 2 were asked for:\n{out}"
    );
}

#[test]
fn python_actors_example_runs() {
    let (status, out, err) = run_cli(&["run", "examples/python_actors"], BUILD);
    assert_eq!(status, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert_lines(
        &out,
        &err,
        &[
            "counter: [11, 12, 13, 14, 15] -> 15",
            "after tell: 115",
            "bob after transfer: 50",
            "refused: main.InsufficientFunds - bob has 50, asked for 1000",
            // kill(no_restart=False): restarted from its snapshot, its balance kept.
            "bob after a restart: 50",
            "after kill: ActorDiedError",
        ],
    );
}

#[test]
fn a_broken_python_program_fails_the_build_saying_why() {
    let dir = common::fresh_dir("py-broken");
    std::fs::write(
        dir.join("main.py"),
        "import rustyray\n\ndef oops(:\n    pass\n",
    )
    .expect("writing main.py");
    let dir = dir.to_string_lossy().into_owned();
    let (status, out, err) = run_cli(&["run", &dir], BUILD);
    assert_eq!(status, Some(1), "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("building the Python program"), "{err}");
    assert!(err.contains("SyntaxError"), "{err}");
}

#[tokio::test]
async fn a_rust_host_calls_python_tasks_by_name() -> Result<()> {
    let runtime = runtime().await;
    let sum = TaskBuilder::new("py_add")
        .arg(2u32)
        .arg(3u32)
        .submit_now::<u32>(&runtime)?;
    assert_eq!(within(LONG, "py_add", sum.get()).await?, 5);
    let doubled = TaskBuilder::new("py_double_via")
        .arg(21u32)
        .submit_now::<u32>(&runtime)?;
    assert_eq!(within(LONG, "py_double_via", doubled.get()).await?, 42);
    let info = runtime.functions();
    assert!(
        info.iter()
            .any(|f| f.signature.contains("def py_add(a, b)")),
        "{info:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_python_exception_carries_its_type_and_traceback() -> Result<()> {
    let runtime = runtime().await;
    let failed = TaskBuilder::new("py_fail")
        .arg(7u32)
        .submit_now::<u32>(&runtime)?;
    let err = within(LONG, "py_fail", failed.get()).await.unwrap_err();
    let RayError::Application {
        message, type_name, ..
    } = &err
    else {
        panic!("expected an application error, got {err:?}");
    };
    assert!(message.starts_with("ValueError: 7"), "{message}");
    assert_eq!(
        type_name.as_deref(),
        Some("ValueError"),
        "the exception's class"
    );
    assert!(
        message.contains("Traceback (most recent call last):"),
        "{message}"
    );
    assert!(message.contains("in py_fail"), "{message}");
    crate::programs::assert_refuses_one_argument(&runtime, "py_add").await
}

#[tokio::test]
async fn every_python_task_starts_from_the_snapshot() -> Result<()> {
    let runtime = runtime().await;
    crate::programs::assert_fresh_instances(&runtime, "py_fresh").await
}

/// Each task dirties 128 pages far apart in the snapshot's data (more disjoint regions
/// than one scan of wasmtime's in-place reset reports) and counts those it did not find
/// as the snapshot has them: any page a reset missed would show in the next task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_tasks_see_every_scattered_page_reset() -> Result<()> {
    let runtime = runtime().await;
    for round in 0..6 {
        let task = TaskBuilder::new("py_scattered_pages").submit_now::<u32>(&runtime)?;
        let changed = within(LONG, "py_scattered_pages", task.get()).await?;
        assert_eq!(changed, 0, "round {round}: pages left from an earlier task");
    }
    let together = (0..16)
        .map(|_| TaskBuilder::new("py_scattered_pages").submit_now::<u32>(&runtime))
        .collect::<Result<Vec<_>>>()?;
    for task in &together {
        assert_eq!(within(LONG, "py_scattered_pages", task.get()).await?, 0);
    }
    Ok(())
}

#[tokio::test]
async fn python_tasks_are_sandboxed() -> Result<()> {
    let runtime = runtime_with(common::builder().capabilities(Capabilities::new())).await;
    let read = TaskBuilder::new("py_read_hostname").submit_now::<u32>(&runtime)?;
    let err = within(LONG, "py_read", read.get()).await.unwrap_err();
    assert!(
        matches!(&err, RayError::Application { message: m, .. } if m.contains("Error") && m.contains("hostname")),
        "{err:?}"
    );
    let env = TaskBuilder::new("py_has_home").submit_now::<u32>(&runtime)?;
    assert_eq!(within(LONG, "py_env", env.get()).await?, 0);
    crate::programs::assert_spin_is_cut(&runtime, "py_spin", "py_add").await
}

#[tokio::test]
async fn a_python_actor_restarts_from_its_snapshot() -> Result<()> {
    let runtime = runtime().await;
    let actor = within(
        LONG,
        "creating PyCounter",
        runtime
            .actor("PyCounter")
            .arg(10u32)
            .max_restarts(1)
            .create(),
    )
    .await?;
    for expected in 11..=13 {
        assert_eq!(actor.call::<u32>("incr", ()).get().await?, expected);
    }
    let crash = within(LONG, "crash", actor.call::<u32>("crash", ()).get())
        .await
        .unwrap_err();
    assert!(matches!(crash, RayError::ActorDied { .. }), "{crash:?}");
    assert_eq!(
        within(LONG, "get", actor.call::<u32>("get", ()).get()).await?,
        13
    );
    Ok(())
}

#[tokio::test]
async fn a_python_guest_cannot_forge_actor_ids() -> Result<()> {
    let runtime = runtime().await;
    // The canary: an unnamed actor the forger was never given.
    let canary = within(
        LONG,
        "creating PyCounter",
        runtime.actor("PyCounter").arg(10u32).create(),
    )
    .await?;
    assert_eq!(canary.call::<u32>("incr", ()).get().await?, 11);
    let forged = TaskBuilder::new("py_forge_ids").submit_now::<u32>(&runtime)?;
    // Over a thousand guesses, each refused with ActorDiedError (the task raises if any
    // reached an actor or failed otherwise).
    assert_eq!(within(LONG, "py_forge_ids", forged.get()).await?, 1);
    // Untouched: nobody else called it, nobody killed it.
    assert_eq!(canary.call::<u32>("incr", ()).get().await?, 12);
    Ok(())
}

/// Ray's `lifetime="detached"` from Python: when the program's `main` returns, its named
/// actor stops, and the detached one lives on and still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_detached_actor_outlives_its_program() {
    let runtime = runtime().await;
    let wasm = tokio::task::spawn_blocking(fixtures)
        .await
        .expect("the build thread");
    let status = within(
        BUILD,
        "the Python program",
        runtime.run_main(
            &wasm.display().to_string(),
            &["main.py".to_string(), "--lifetimes".to_string()],
        ),
    )
    .await
    .expect("the program runs");
    assert_eq!(status, 0);
    assert!(
        common::eventually(BUILD, || runtime.get_actor("py-attached").is_none()).await,
        "the attached actor stopped with its program"
    );
    let kept = runtime
        .get_actor("py-kept")
        .expect("the detached actor lives on");
    let value: i64 = within(BUILD, "py-kept.incr", kept.call("incr", ()).get())
        .await
        .expect("it answers");
    assert_eq!(value, 12);
}

// Across languages (issue 13.3): the Python fixtures and the Rust `interop` guest
// (tests/guests/interop) loaded in one runtime call each other by name.

/// A runtime with the Python fixtures and the Rust interop guest loaded.
async fn mixed_runtime() -> Runtime {
    let runtime = runtime().await;
    within(
        LONG,
        "loading the interop guest",
        runtime.load(rustyray_tests::INTEROP),
    )
    .await
    .expect("the interop guest loads");
    runtime
}

#[tokio::test]
async fn a_rust_task_calls_python_tasks_and_actors_by_name() -> Result<()> {
    let runtime = mixed_runtime().await;
    let doubled = TaskBuilder::new("rs_calls_python")
        .arg(21i64)
        .submit_now::<i64>(&runtime)?;
    assert_eq!(within(LONG, "rs_calls_python", doubled.get()).await?, 42);
    // A Python dict read by Rust as its own struct, typed.
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Point {
        x: f64,
        y: f64,
    }
    let point = TaskBuilder::new("rs_python_point")
        .arg(1.5f64)
        .arg(-2.0f64)
        .submit_now::<Point>(&runtime)?;
    assert_eq!(
        within(LONG, "rs_python_point", point.get()).await?,
        Point { x: 1.5, y: -2.0 }
    );
    // A Python actor created and called from a Rust task: 7, then three increments.
    let counted = TaskBuilder::new("rs_feeds_python_actor")
        .arg(7i64)
        .arg(3u32)
        .submit_now::<i64>(&runtime)?;
    assert_eq!(
        within(LONG, "rs_feeds_python_actor", counted.get()).await?,
        10
    );
    // A Python exception seen from Rust keeps its type's name and message.
    let seen = TaskBuilder::new("rs_python_error")
        .arg("no good".to_string())
        .submit_now::<String>(&runtime)?;
    let seen = within(LONG, "rs_python_error", seen.get()).await?;
    assert!(
        seen.contains("ValueError") && seen.contains("no good"),
        "{seen}"
    );
    Ok(())
}

#[tokio::test]
async fn a_python_task_calls_rust_tasks_and_passes_them_refs() -> Result<()> {
    let runtime = mixed_runtime().await;
    // Python calls `rs_stats`, gets a dict, and returns it: a Rust struct again here.
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Stats {
        count: u64,
        mean: f64,
    }
    let stats = TaskBuilder::new("py_calls_rust")
        .arg(vec![1.0f64, 2.0, 6.0])
        .submit_now::<Stats>(&runtime)?;
    assert_eq!(
        within(LONG, "py_calls_rust", stats.get()).await?,
        Stats {
            count: 3,
            mean: 3.0
        }
    );
    // Python puts bytes and passes the reference to a Rust task taking `Vec<u8>`.
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let expected: u64 = data.iter().map(|&b| u64::from(b)).sum();
    let sum = TaskBuilder::new("py_passes_ref_to_rust")
        .arg(data)
        .submit_now::<u64>(&runtime)?;
    assert_eq!(
        within(LONG, "py_passes_ref_to_rust", sum.get()).await?,
        expected
    );
    // A reference the host put, resolved for a Python task.
    let xs = runtime.put(&vec![0.25f64, 0.75, 2.0])?;
    let total = TaskBuilder::new("py_sum")
        .arg_ref(&xs)
        .submit_now::<f64>(&runtime)?;
    assert_eq!(within(LONG, "py_sum", total.get()).await?, 3.0);
    Ok(())
}

#[test]
fn a_rust_program_drives_python_through_the_cli() {
    let python = path("tests/guests/python_fixtures");
    let (status, out, err) = run_cli(
        &[
            "run",
            rustyray_tests::INTEROP,
            "--load",
            python.to_str().expect("a UTF-8 path"),
        ],
        BUILD,
    );
    assert_eq!(status, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert_lines(
        &out,
        &err,
        &[
            "py_add 42",
            "py_sum 8",
            "py_calls_rust 2 3",
            "point 0.5 -1",
            "actor 13",
            "missing true",
        ],
    );
}

/// Runs the Python fixture task `name` and returns its result.
async fn python_scenario<T: serde::de::DeserializeOwned + Send + 'static>(name: &str) -> Result<T> {
    let runtime = runtime().await;
    let outcome = TaskBuilder::new(name).submit_now::<T>(&runtime)?;
    within(LONG, name, outcome.get()).await
}

/// Ray's `test_basic_nested_ids` (test_reference_counting.py), in Python: references in a
/// returned value and in an argument travel as references (extension 82) and are read
/// where they arrive.
#[tokio::test]
async fn test_basic_nested_ids_in_python() -> Result<()> {
    assert_eq!(
        python_scenario::<u64>("py_basic_nested_ids").await?,
        3 + 4 + 5
    );
    Ok(())
}

/// Ray's `test_return_object_ref`: a Python task's result holds a reference, which a Rust
/// host reads as an `ObjectRef` (and the object lives while the host holds it).
#[tokio::test]
async fn test_return_object_ref_from_python() -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Shard {
        name: String,
        data: rustyray::ObjectRef<Vec<i64>>,
    }
    let runtime = runtime().await;
    let loaded = TaskBuilder::new("py_load")
        .arg(4u32)
        .submit_now::<Shard>(&runtime)?;
    let shard = within(LONG, "py_load", loaded.get()).await?;
    drop(loaded);
    assert_eq!(shard.name, "s4");
    assert_eq!(shard.data.get().await?, vec![0, 1, 2, 3]);
    Ok(())
}

/// Ray's `test_internal_free`, in Python: `rustyray.free` makes later `get`s raise
/// `ObjectFreedError`; another object is untouched.
#[tokio::test]
async fn test_internal_free_in_python() -> Result<()> {
    assert_eq!(python_scenario::<u64>("py_internal_free").await?, 4);
    Ok(())
}

/// A Python actor whose snapshot holds references keeps their objects, and reads them
/// after a restart from it.
#[tokio::test]
async fn a_python_snapshot_holding_object_refs() -> Result<()> {
    assert_eq!(
        python_scenario::<u64>("py_snapshot_holding_object_refs").await?,
        10
    );
    Ok(())
}

/// Ray's `test_actor_deletion_handles_in_flight`, in Python: a handle inside an object
/// keeps its actor alive after the program dropped its own.
#[tokio::test]
async fn test_actor_deletion_handles_in_flight_in_python() -> Result<()> {
    assert_eq!(
        python_scenario::<u64>("py_actor_deletion_handles_in_flight").await?,
        3
    );
    Ok(())
}

/// Ray's `test_actor_cancel.py::test_async_actor_cancel`, in Python: a running actor
/// call cancelled at its `get` raises `TaskCancelledError` inside the method, which
/// handles it and works on (a later `get` answers); the caller gets `TaskCancelledError`
/// although the method returned; an uncaught cancel propagates; the actor lives on.
#[tokio::test]
async fn test_async_actor_cancel_in_python() -> Result<()> {
    assert_eq!(
        python_scenario::<Vec<u32>>("py_async_actor_cancel").await?,
        vec![1, 7]
    );
    Ok(())
}

/// Ray's `test_wait` checks, in Python: `wait` refuses the same object twice and
/// `num_returns` of 0, -1 or past the list with `InvalidArgumentError`, which is a
/// `ValueError` as Ray's; an empty list gives `([], [])`; `get` of a list naming one
/// object twice (with a timeout, which waits underneath) still answers.
#[tokio::test]
async fn test_wait_validation_in_python() -> Result<()> {
    let refused = "InvalidArgumentError";
    assert_eq!(
        python_scenario::<serde_json::Value>("py_wait_validation").await?,
        serde_json::json!([refused, refused, refused, refused, true, [3, 3], 2])
    );
    Ok(())
}

/// Ray's `test_multiple_return_values` family (test_basic.py), in Python:
/// `@rustyray.remote(num_returns=3)` gives three refs, `.options(num_returns=1)` one ref
/// holding the whole tuple, `num_returns=0` `None` while the task still runs; a result of
/// another length fails every ref; `@rustyray.method(num_returns=2)` and
/// `handle.m.options(num_returns=k)` on actor methods; `num_returns=-1` and `"dynamic"`
/// are refused at the call.
#[tokio::test]
async fn test_num_returns_in_python() -> Result<()> {
    let refused = "InvalidArgumentError";
    let out = python_scenario::<serde_json::Value>("py_num_returns").await?;
    assert_eq!(
        out,
        serde_json::json!([
            1,
            "two",
            [3],
            [1, "two", [3]],
            true,
            ["BadArgumentsError", "BadArgumentsError"],
            [10, 11],
            [10, 10, 10],
            [10, 11],
            refused,
            refused
        ]),
        "{out}"
    );
    Ok(())
}

/// Actor options Ray refuses with `ValueError` (an empty name, `get_if_exists` without
/// a name, `max_task_retries` without `max_restarts`, `max_pending_calls=0`, a count
/// below -1) are `InvalidArgumentError` in Python, from the SDK's checks and from the
/// host's own (reached past the SDK), not `RaySystemError`; a valid actor still works.
#[tokio::test]
async fn invalid_actor_options_are_typed_in_python() -> Result<()> {
    let refused = "InvalidArgumentError";
    assert_eq!(
        python_scenario::<serde_json::Value>("py_options_refused").await?,
        serde_json::json!([
            refused, refused, refused, refused, refused, refused, refused, refused, 6
        ])
    );
    Ok(())
}

/// Ray's `max_retries=-1` and `max_restarts=-1, max_task_retries=-1` (no bound), in
/// Python: a task that traps 5 times succeeds on its 6th run, an actor call that traps
/// 5 times answers after 5 restarts; the same task with the default 3 retries fails
/// with `WorkerCrashedError` (the canary).
#[tokio::test]
async fn test_unlimited_retries_in_python() -> Result<()> {
    assert_eq!(
        python_scenario::<serde_json::Value>("py_unlimited_retries").await?,
        serde_json::json!([6, 6, "WorkerCrashedError"])
    );
    Ok(())
}

/// `rustyray job submit DIR` builds a Python program directory as `rustyray run` does
/// (not as a Rust crate), uploads it under the directory's name, runs it on the node and
/// streams its output; `rustyray deploy DIR` keeps it under that name.
#[test]
fn a_python_program_directory_runs_as_a_job_on_a_node() {
    let node = crate::node::TestNode::start(&common::fresh_dir("node-python-job"), &[]);
    let (status, out, err) = run_cli(
        &[
            "job",
            "submit",
            "--address",
            &node.address,
            "examples/python_tasks",
            "--",
            "6",
        ],
        BUILD,
    );
    assert_eq!(status, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert_lines(
        &out,
        &err,
        &["squares: [0, 1, 4, 9, 16, 25]", "chain sum: 15"],
    );
    let (status, out, err) = run_cli(
        &[
            "deploy",
            "--address",
            &node.address,
            "examples/python_tasks",
        ],
        BUILD,
    );
    assert_eq!(status, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("deployed python_tasks"), "{out}");
}
