//! Helpers for the tests of guest programs in other languages (Python, JavaScript): a
//! bounded build into the shared test cache, and the CLI run on one, killed past a
//! ceiling, with its output.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rustyray::{RayError, Runtime, RuntimeBuilder, TaskBuilder};

use crate::common::{self, LONG, SHORT, within};

/// The repository root: the CLI runs there, example paths are relative to it.
pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// A ceiling for one build: installing the builder (a download) the first time, the
/// build (about a minute), and compiling the component.
pub const BUILD: Duration = Duration::from_secs(20 * 60);

/// `relative` under the repository root.
pub fn path(relative: &str) -> PathBuf {
    Path::new(ROOT).join(relative)
}

/// A program builder: `build_program_in(dir, cache_dir)` of a language.
pub type Builder = fn(&Path, &Path) -> rustyray::Result<PathBuf>;

/// Builds the program in `dir` (relative to the root) with `builder`, failing the test
/// past [`BUILD`].
pub fn build(dir: &str, builder: Builder) -> PathBuf {
    let dir = path(dir);
    let (sender, receiver) = std::sync::mpsc::channel();
    let program = dir.clone();
    std::thread::spawn(move || {
        let _ = sender.send(builder(&program, &common::cache_dir()));
    });
    match receiver.recv_timeout(BUILD) {
        Ok(Ok(wasm)) => wasm,
        Ok(Err(err)) => panic!("building {}: {err}", dir.display()),
        Err(_) => panic!("building {} took longer than {BUILD:?}", dir.display()),
    }
}

/// A runtime from `builder` with the component `program` builds (once per test process)
/// loaded.
pub async fn runtime_with_program(
    builder: RuntimeBuilder,
    program: fn() -> &'static Path,
) -> Runtime {
    let wasm = tokio::task::spawn_blocking(program)
        .await
        .expect("the build thread");
    let runtime = builder.build().expect("the runtime starts");
    within(BUILD, "loading the program", runtime.load(wasm))
        .await
        .expect("the program loads");
    runtime
}

/// Runs the CLI, killing it past `ceiling`; (status, stdout, stderr).
pub fn run_cli(args: &[&str], ceiling: Duration) -> (Option<i32>, String, String) {
    run_cli_with(args, &[], ceiling)
}

/// [`run_cli`] with more environment variables.
pub fn run_cli_with(
    args: &[&str],
    env: &[(&str, &Path)],
    ceiling: Duration,
) -> (Option<i32>, String, String) {
    let output = crate::cli::rustyray_in(Some(Path::new(ROOT)), args, ceiling, env);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Fails unless every line of `expected` is a whole line of `output`.
pub fn assert_lines(output: &str, stderr: &str, expected: &[&str]) {
    for line in expected {
        assert!(
            output.lines().any(|l| l == *line),
            "missing line {line:?} in\n{output}\nstderr:\n{stderr}"
        );
    }
}

/// `function` (of no parameters) answers 1 on every call: it counts its calls in module
/// state, and each task runs in a fresh instance started from the build's snapshot.
pub async fn assert_fresh_instances(runtime: &Runtime, function: &str) -> rustyray::Result<()> {
    for _ in 0..3 {
        let fresh = TaskBuilder::new(function).submit_now::<u32>(runtime)?;
        assert_eq!(within(LONG, function, fresh.get()).await?, 1);
    }
    Ok(())
}

/// `function` (of two parameters) called with one is refused as bad arguments.
pub async fn assert_refuses_one_argument(
    runtime: &Runtime,
    function: &str,
) -> rustyray::Result<()> {
    // Refused by the submission itself: the host knows the function's parameters from
    // `describe` (issue 10, point 8).
    let wrong = TaskBuilder::new(function)
        .arg(1u32)
        .submit_now::<u32>(runtime);
    assert!(
        matches!(&wrong, Err(RayError::BadArguments { message, .. }) if message.contains("2 arguments, got 1")),
        "{wrong:?}"
    );
    Ok(())
}

/// `spin` (an endless loop) is cut by a 200 ms deadline, and the canary beside it,
/// `add(1, 2)`, still answers: the runtime goes on.
pub async fn assert_spin_is_cut(runtime: &Runtime, spin: &str, add: &str) -> rustyray::Result<()> {
    let spinning = runtime
        .task(spin)
        .timeout(Duration::from_millis(200))
        .submit_now::<u32>(runtime)?;
    let err = within(LONG, spin, spinning.get()).await.unwrap_err();
    assert!(matches!(err, RayError::Timeout { .. }), "{err:?}");
    let sum = TaskBuilder::new(add)
        .arg(1u32)
        .arg(2u32)
        .submit_now::<u32>(runtime)?;
    assert_eq!(within(SHORT, "the canary", sum.get()).await?, 3);
    Ok(())
}
