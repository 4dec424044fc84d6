//! JavaScript guests: the example through the CLI, and a Rust host calling JavaScript
//! tasks and actors by name (typed results, JavaScript errors with their name and stack,
//! the sandbox, fresh instances), JavaScript calling Rust tasks and actors by name.
//!
//! A JavaScript program is built with componentize-js, installed with npm on first use
//! (see `.ci/run`), so each build is bounded by [`BUILD`]; builds are cached by content
//! in the shared test cache, so later runs only load them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustyray::{Capabilities, RayError, Result, Runtime, TaskBuilder};

use crate::common::{self, LONG, within};
use crate::programs::{BUILD, assert_lines, path, run_cli, run_cli_with};

fn fixtures() -> &'static Path {
    static FIXTURES: OnceLock<PathBuf> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        crate::programs::build(
            "tests/guests/js_fixtures",
            rustyray_builder::js_build::build_program_in,
        )
    })
}

async fn runtime_with(builder: rustyray::RuntimeBuilder) -> Runtime {
    crate::programs::runtime_with_program(builder, fixtures).await
}

async fn runtime() -> Runtime {
    runtime_with(common::builder()).await
}

#[test]
fn js_tasks_example_runs() {
    let (status, out, err) = run_cli(&["run", "examples/js_tasks", "--", "6"], BUILD);
    assert_eq!(status, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert_lines(
        &out,
        &err,
        &[
            "squares: [0,1,4,9,16,25]",
            "chain sum: 15",
            "tree sum: 55 = 55",
            "structured: {\"name\":\"p\",\"norm\":5}",
            "counter: [11,13,16] -> 16",
            "error: RayTaskError - RangeError: not a number: \"forty-two\"",
            "  thrown at: parse@main.js:28:30",
            "wait: 6 ready, 0 pending",
        ],
    );
}

#[test]
fn a_broken_js_program_fails_the_build_saying_why() {
    let dir = common::fresh_dir("js-broken");
    std::fs::write(
        dir.join("main.js"),
        "import * as rustyray from \"rustyray\";\n\nconst total = 1 +;\n",
    )
    .expect("writing main.js");
    let dir = dir.to_string_lossy().into_owned();
    let (status, out, err) = run_cli(&["run", &dir], BUILD);
    assert_eq!(status, Some(1), "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("building the JavaScript program"), "{err}");
    assert!(err.contains("main.js:3:"), "where: {err}");
    assert!(err.contains("SyntaxError: Unexpected token"), "why: {err}");
    assert!(err.contains("SyntaxError"), "why: {err}");
}

#[test]
fn a_missing_node_is_named_with_its_install_command() {
    let dir = common::fresh_dir("js-no-node");
    std::fs::write(dir.join("main.js"), "export const unused = 1;\n").expect("writing main.js");
    let dir = dir.to_string_lossy().into_owned();
    let (status, out, err) = run_cli_with(
        &["run", &dir],
        &[("RUSTYRAY_NODE", Path::new("/nonexistent/node"))],
        BUILD,
    );
    assert_eq!(status, Some(1), "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("/nonexistent/node"), "{err}");
    assert!(err.contains("apt-get install nodejs npm"), "{err}");
}

#[tokio::test]
async fn a_rust_host_calls_js_tasks_and_actors_by_name() -> Result<()> {
    let runtime = runtime().await;
    let sum = TaskBuilder::new("js_add")
        .arg(2u32)
        .arg(3u32)
        .submit_now::<u32>(&runtime)?;
    assert_eq!(within(LONG, "js_add", sum.get()).await?, 5);
    let doubled = TaskBuilder::new("js_double_via")
        .arg(21u32)
        .submit_now::<u32>(&runtime)?;
    assert_eq!(within(LONG, "js_double_via", doubled.get()).await?, 42);
    // A JavaScript object read by Rust as its own struct, typed.
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Point {
        x: f64,
        y: f64,
    }
    let point = TaskBuilder::new("js_point")
        .arg(1.5f64)
        .arg(-2.0f64)
        .submit_now::<Point>(&runtime)?;
    assert_eq!(
        within(LONG, "js_point", point.get()).await?,
        Point { x: 1.5, y: -2.0 }
    );
    // A reference the host put, resolved for a JavaScript task.
    let xs = runtime.put(&vec![0.25f64, 0.75, 2.0])?;
    let total = TaskBuilder::new("js_sum")
        .arg_ref(&xs)
        .submit_now::<f64>(&runtime)?;
    assert_eq!(within(LONG, "js_sum", total.get()).await?, 3.0);
    // A JavaScript actor, created and called from Rust: its state lives between calls.
    let counter = within(
        LONG,
        "creating JsCounter",
        runtime.actor("JsCounter").arg(10u32).create(),
    )
    .await?;
    for expected in 11..=13 {
        assert_eq!(counter.call::<u32>("incr", ()).get().await?, expected);
    }
    let failed = within(
        LONG,
        "JsCounter.fail",
        counter.call::<u32>("fail", ()).get(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&failed, RayError::Application { message, .. } if message.starts_with("RangeError: JsCounter.fail at 13")),
        "{failed:?}"
    );
    assert_eq!(counter.call::<u32>("get", ()).get().await?, 13);
    // And from a JavaScript task, by class name.
    let via = TaskBuilder::new("js_counter_via")
        .arg(5u32)
        .arg(3u32)
        .submit_now::<u32>(&runtime)?;
    assert_eq!(within(LONG, "js_counter_via", via.get()).await?, 8);
    let info = runtime.functions();
    assert!(
        info.iter().any(|f| f.signature == "js_add(a, b)"),
        "{info:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_js_error_carries_its_name_and_stack() -> Result<()> {
    let runtime = runtime().await;
    let failed = TaskBuilder::new("js_fail")
        .arg(7u32)
        .submit_now::<u32>(&runtime)?;
    let err = within(LONG, "js_fail", failed.get()).await.unwrap_err();
    let RayError::Application { message, .. } = &err else {
        panic!("expected an application error, got {err:?}");
    };
    assert!(message.starts_with("TypeError: 7\n\n"), "{message}");
    assert!(
        message.contains("JavaScript stack (most recent call first):"),
        "{message}"
    );
    // Innermost first, with the program's file and line; no SDK or binding frames.
    let check = message
        .find("check@main.js:13:")
        .expect("the throwing frame");
    let caller = message.find("js_fail@main.js:17:").expect("its caller");
    assert!(check < caller, "{message}");
    assert!(!message.contains("__rustyray__"), "{message}");
    assert!(!message.contains("initializer.js"), "{message}");
    crate::programs::assert_refuses_one_argument(&runtime, "js_add").await
}

#[tokio::test]
async fn every_js_task_starts_from_the_snapshot() -> Result<()> {
    let runtime = runtime().await;
    crate::programs::assert_fresh_instances(&runtime, "js_fresh").await
}

#[tokio::test]
async fn js_tasks_are_sandboxed() -> Result<()> {
    let runtime = runtime_with(common::builder().capabilities(Capabilities::new())).await;
    // No process, require or Deno: no environment, no modules of the host's.
    let globals = TaskBuilder::new("js_globals").submit_now::<Vec<String>>(&runtime)?;
    assert_eq!(
        within(LONG, "js_globals", globals.get()).await?,
        vec!["undefined"; 3]
    );
    // No files...
    let file = TaskBuilder::new("js_fetch")
        .arg("file:///etc/hostname".to_string())
        .submit_now::<String>(&runtime)?;
    let file = within(LONG, "js_fetch file", file.get()).await?;
    assert!(file.starts_with("refused: "), "{file}");
    // ...and no network without a grant: the listener is never reached.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local listener");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}/", listener.local_addr().expect("its address"));
    let net = TaskBuilder::new("js_fetch")
        .arg(url)
        .submit_now::<String>(&runtime)?;
    let net = within(LONG, "js_fetch net", net.get()).await?;
    assert!(net.starts_with("refused: "), "{net}");
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a connection reached the listener"
    );
    // An endless loop is cut by its deadline, and the canary beside it answers.
    crate::programs::assert_spin_is_cut(&runtime, "js_spin", "js_add").await
}

// Across languages: the JavaScript fixtures beside the Rust `interop` guest and the Rust
// actor fixtures, calling each other by name.

#[tokio::test]
async fn a_js_task_calls_rust_tasks_and_actors_by_name() -> Result<()> {
    let runtime = runtime().await;
    for guest in [rustyray_tests::INTEROP, rustyray_tests::ACTOR_FIXTURES] {
        within(LONG, "loading a Rust guest", runtime.load(guest)).await?;
    }
    // JavaScript calls `rs_stats`, gets an object, and returns it: a Rust struct again here.
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Stats {
        count: u64,
        mean: f64,
    }
    let stats = TaskBuilder::new("js_calls_rust")
        .arg(vec![1.0f64, 2.0, 6.0])
        .submit_now::<Stats>(&runtime)?;
    assert_eq!(
        within(LONG, "js_calls_rust", stats.get()).await?,
        Stats {
            count: 3,
            mean: 3.0
        }
    );
    // JavaScript puts bytes and passes the reference to a Rust task taking `Vec<u8>`.
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let expected: u64 = data.iter().map(|&b| u64::from(b)).sum();
    let sum = TaskBuilder::new("js_passes_ref_to_rust")
        .arg(bytes::Bytes::from(data))
        .submit_now::<u64>(&runtime)?;
    assert_eq!(
        within(LONG, "js_passes_ref_to_rust", sum.get()).await?,
        expected
    );
    // A Rust actor created by class name from JavaScript: 7, then three increments.
    let counted = TaskBuilder::new("js_drives_rust_counter")
        .arg(7i32)
        .arg(3u32)
        .submit_now::<i32>(&runtime)?;
    assert_eq!(
        within(LONG, "js_drives_rust_counter", counted.get()).await?,
        10
    );
    Ok(())
}

#[test]
fn a_js_program_runs_through_the_cli() {
    let (status, out, err) = run_cli(
        &[
            "run",
            path("tests/guests/js_fixtures").to_str().expect("UTF-8"),
            "--",
            "a",
            "b",
        ],
        BUILD,
    );
    assert_eq!(
        status,
        Some(2),
        "main returns its argument count\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert_lines(&out, &err, &["js main a b"]);
}

/// Runs the JavaScript fixture task `name` and returns its result.
async fn js_scenario<T: serde::de::DeserializeOwned + Send + 'static>(name: &str) -> Result<T> {
    let runtime = runtime().await;
    let outcome = TaskBuilder::new(name).submit_now::<T>(&runtime)?;
    within(LONG, name, outcome.get()).await
}

/// Ray's `test_basic_nested_ids` (test_reference_counting.py), in JavaScript: references
/// in a returned value and in an argument travel as references (extension 82) and are
/// read where they arrive.
#[tokio::test]
async fn test_basic_nested_ids_in_js() -> Result<()> {
    assert_eq!(js_scenario::<u64>("js_basic_nested_ids").await?, 3 + 4 + 5);
    Ok(())
}

/// Ray's `test_return_object_ref`: a JavaScript task's result holds a reference, which a
/// Rust host reads as an `ObjectRef` (and the object lives while the host holds it).
#[tokio::test]
async fn test_return_object_ref_from_js() -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Shard {
        name: String,
        data: rustyray::ObjectRef<Vec<i64>>,
    }
    let runtime = runtime().await;
    let loaded = TaskBuilder::new("js_load")
        .arg(4u32)
        .submit_now::<Shard>(&runtime)?;
    let shard = within(LONG, "js_load", loaded.get()).await?;
    drop(loaded);
    assert_eq!(shard.name, "s4");
    assert_eq!(shard.data.get().await?, vec![0, 1, 2, 3]);
    Ok(())
}

/// Ray's `test_internal_free`, in JavaScript: `rustyray.free` makes later `get`s (and a
/// task given the object) throw `ObjectFreedError`; another object is untouched.
#[tokio::test]
async fn test_internal_free_in_js() -> Result<()> {
    assert_eq!(js_scenario::<u64>("js_internal_free").await?, 4);
    Ok(())
}

/// Ray's `test_actor_holding_serialized_reference`, in JavaScript: references handed to
/// an actor inside a value stay alive in its state after their task has ended.
#[tokio::test]
async fn test_actor_holding_serialized_reference_in_js() -> Result<()> {
    assert_eq!(
        js_scenario::<u64>("js_actor_holding_serialized_reference").await?,
        10
    );
    Ok(())
}

/// Ray's `test_actor_deletion_handles_in_flight`, in JavaScript: a handle inside a task's
/// result keeps its actor alive after the task that made it (and held its only other
/// handle) has ended.
#[tokio::test]
async fn test_actor_deletion_handles_in_flight_in_js() -> Result<()> {
    assert_eq!(
        js_scenario::<u64>("js_actor_deletion_handles_in_flight").await?,
        3
    );
    Ok(())
}

/// Ray's `test_wait` checks, in JavaScript: `wait` refuses the same object twice and
/// `numReturns` of 0, -1 or past the array with `InvalidArgumentError`; an empty array
/// gives `[[], []]`; `get` of an array naming one object twice still answers.
#[tokio::test]
async fn test_wait_validation_in_js() -> Result<()> {
    let refused = "InvalidArgumentError";
    assert_eq!(
        js_scenario::<serde_json::Value>("js_wait_validation").await?,
        serde_json::json!([refused, refused, refused, refused, true, [3, 3], 2])
    );
    Ok(())
}

/// Ray's `test_multiple_return_values` family, in JavaScript: `numReturns: 3` gives
/// three refs, 1 one ref holding the whole array, 0 `undefined` while the task still
/// runs; a result of another length fails every ref; `rustyray.actor(cls, {numReturns:
/// {pair: 2}})` and `handle.m.options({numReturns})` on actor methods; a bad
/// `numReturns` is refused at the call.
#[tokio::test]
async fn test_num_returns_in_js() -> Result<()> {
    let refused = "InvalidArgumentError";
    let out = js_scenario::<serde_json::Value>("js_num_returns").await?;
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

/// Actor options Ray refuses with `ValueError` (an empty name, `getIfExists` without a
/// name, `maxTaskRetries` without `maxRestarts`, `maxPendingCalls: 0`, a count below -1)
/// are `InvalidArgumentError` in JavaScript, not `RaySystemError`; a valid actor works.
#[tokio::test]
async fn invalid_actor_options_are_typed_in_js() -> Result<()> {
    let refused = "InvalidArgumentError";
    assert_eq!(
        js_scenario::<serde_json::Value>("js_options_refused").await?,
        serde_json::json!([refused, refused, refused, refused, refused, refused, 6])
    );
    Ok(())
}

/// Ray's `kill(actor, no_restart=False)` in JavaScript: restarted from its snapshot; a
/// plain `kill` after it ends the actor for good.
#[tokio::test]
async fn test_kill_with_restart_in_js() -> Result<()> {
    assert_eq!(
        js_scenario::<serde_json::Value>("js_kill_restart").await?,
        serde_json::json!([3, "ActorDiedError"])
    );
    Ok(())
}

/// Ray's `max_retries=-1` (no bound), in JavaScript: a task failing 5 times, retried on
/// its errors, succeeds on its 6th run; with the default 3 retries it fails after 4
/// runs (the canary); an actor takes `maxRestarts: -1, maxTaskRetries: -1`.
#[tokio::test]
async fn test_unlimited_retries_in_js() -> Result<()> {
    assert_eq!(
        js_scenario::<serde_json::Value>("js_unlimited_retries").await?,
        serde_json::json!([6, "RayTaskError", 4, 2])
    );
    Ok(())
}
