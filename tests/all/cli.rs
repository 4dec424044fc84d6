//! The `rustyray` command: `run` and `inspect` of good and bad programs, exit
//! statuses, messages, and building a guest crate directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common;

const BIN: &str = env!("CARGO_BIN_EXE_rustyray");
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");

/// Runs the CLI with `args`, killing it after `ceiling`.
fn rustyray_with(args: &[&str], ceiling: Duration, env: &[(&str, &Path)]) -> Output {
    rustyray_in(None, args, ceiling, env)
}

/// Runs the CLI with `args` in `dir` (else this process's directory), killing it after
/// `ceiling`.
pub fn rustyray_in(
    dir: Option<&Path>,
    args: &[&str],
    ceiling: Duration,
    env: &[(&str, &Path)],
) -> Output {
    let mut command = Command::new(BIN);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    command
        .args(args)
        .env("RUSTYRAY_CACHE_DIR", common::cache_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("starting rustyray");
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).map(|_| buf)
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut buf).map(|_| buf)
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for rustyray") {
            break status;
        }
        if start.elapsed() > ceiling {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`rustyray {}` did not finish within {ceiling:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: out.join().expect("stdout thread").expect("reading stdout"),
        stderr: err.join().expect("stderr thread").expect("reading stderr"),
    }
}

fn rustyray(args: &[&str]) -> Output {
    rustyray_with(args, Duration::from_secs(60), &[])
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts success and returns stdout.
fn succeeds(args: &[&str]) -> String {
    let output = rustyray(args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "`rustyray {}` failed\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// Asserts a non-zero exit and that stderr holds each of `words`.
fn fails_saying(args: &[&str], words: &[&str]) {
    let output = rustyray(args);
    let err = stderr(&output);
    assert!(
        !output.status.success() && output.status.code().is_some(),
        "`rustyray {}` should fail with a status: {:?}\nstderr:\n{err}",
        args.join(" "),
        output.status
    );
    for word in words {
        assert!(
            err.contains(word),
            "`rustyray {}`: stderr should mention {word:?}:\n{err}",
            args.join(" ")
        );
    }
    assert!(
        !err.contains("panicked"),
        "an error message, not a panic:\n{err}"
    );
}

#[test]
fn run_prints_the_mains_output() {
    let out = succeeds(&["run", rustyray_tests::FIXTURES]);
    assert!(
        out.contains("fixtures main: args=[] sum=42"),
        "stdout:\n{out}"
    );
    let out = succeeds(&["run", rustyray_tests::FIXTURES, "--", "a", "b c"]);
    assert!(
        out.contains(r#"fixtures main: args=["a", "b c"] sum=42"#),
        "the arguments after -- reach the program:\n{out}"
    );
}

#[test]
fn a_main_returning_err_exits_1_with_the_error() {
    let output = rustyray(&["run", rustyray_tests::FIXTURES, "--", "fail"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(stdout(&output).contains("sum=42"));
    assert!(
        stderr(&output).contains("asked to fail"),
        "stderr:\n{}",
        stderr(&output)
    );
}

/// WASI's `exit` carries success or failure only (Rust's std on wasm32-wasip2 maps every
/// non-zero status to failure), so `std::process::exit(7)` ends the run with status 1,
/// at once, after what the program printed.
#[test]
fn a_main_calling_process_exit_ends_the_run_with_failure() {
    let output = rustyray(&["run", rustyray_tests::FIXTURES, "--", "exit7"]);
    assert!(stdout(&output).contains("sum=42"), "{output:?}");
    assert_eq!(
        output.status.code(),
        Some(1),
        "std::process::exit(7) in the guest\nstderr:\n{}",
        stderr(&output)
    );
}

#[test]
fn run_the_tasks_example() {
    let out = succeeds(&["run", rustyray_tests::TASKS]);
    for line in [
        "map: squares of 1..=10 = [1, 4, 9, 16, 25, 36, 49, 64, 81, 100]",
        "chain: 1 + 2 + ... + 100 = 5050",
        "fan-in: sum of squares = 385 (expected 385)",
        r#"words: "the" occurs 3 times"#,
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    let out = succeeds(&["run", rustyray_tests::TASKS, "--", "100"]);
    assert!(
        out.contains("fan-in: sum of squares = 338350 (expected 338350)"),
        "{out}"
    );
}

#[test]
fn run_the_cancellation_example() {
    let out = succeeds(&["run", rustyray_tests::CANCELLATION]);
    for line in [
        "task with a 50 ms timeout: task timed out after 50 ms",
        "after 20 ms the long task is ready: false",
        "running task after cancel: task was cancelled",
        "pending task after cancel: task was cancelled",
        "its blocker after cancel: task was cancelled",
        "quick task with a 10 s timeout: finished with 1000",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}

#[test]
fn run_the_error_handling_example() {
    let out = succeeds(&["run", rustyray_tests::ERROR_HANDLING]);
    let line = |prefix: &str| {
        out.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{out}"))
            .to_string()
    };
    assert_eq!(line("parse(\"42\"):"), "parse(\"42\"): ok 42");
    let bad_parse = line("parse(\"forty-two\"):");
    assert!(
        bad_parse.contains("error") && bad_parse.contains("invalid digit found in string"),
        "{bad_parse}"
    );
    let division = line("checked_div(10, 0):");
    assert!(
        division.contains("error") && division.contains("cannot divide 10 by 0"),
        "{division}"
    );
    assert!(
        out.contains("index out of bounds: the len is 3 but the index is 7"),
        "{out}"
    );
    assert_eq!(
        line("5 increments after parse(\"1\"):"),
        "5 increments after parse(\"1\"): ok 6"
    );
    let explode = line("explode(7):");
    assert!(
        explode.contains("trapped") && explode.contains("panicked"),
        "{explode}"
    );
    assert!(
        out.contains("error_handling::explode"),
        "a backtrace:\n{out}"
    );
    let chained = line("5 increments after a failed parse:");
    assert!(
        chained.contains("error") && chained.contains("invalid digit found in string"),
        "with its root cause: {chained}"
    );
}

#[test]
fn run_the_memory_optimization_example() {
    let out = succeeds(&["run", rustyray_tests::MEMORY_OPTIMIZATION]);
    assert!(out.contains("put a 8 MiB block once"), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("16 tasks read the same object; checksum "))
        .unwrap_or_else(|| panic!("a checksum line:\n{out}"));
    // "... checksum X (expected Y)": X must be Y.
    let numbers: Vec<&str> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(numbers.len(), 3, "{line}");
    assert_eq!(numbers[1], numbers[2], "{line}");
    let out = succeeds(&["run", rustyray_tests::MEMORY_OPTIMIZATION, "--", "1", "4"]);
    assert!(out.contains("4 tasks read the same object"), "{out}");
}

#[test]
fn inspect_lists_signatures() {
    let out = succeeds(&["inspect", rustyray_tests::FIXTURES]);
    assert!(out.contains("fn add(a: i32, b: i32) -> i32"), "{out}");
    assert!(
        out.contains("async fn async_double(x: i64) -> i64"),
        "{out}"
    );
    assert!(out.contains("main:      yes"), "{out}");
    let listed = out
        .lines()
        .filter(|l| l.starts_with("  fn ") || l.starts_with("  async fn "))
        .count();
    assert!(
        out.contains(&format!("functions: {listed}\n")),
        "the count matches the list ({listed}):\n{out}"
    );
    assert!(listed >= 19, "{out}");
}

#[test]
fn bad_programs_are_refused_with_a_clear_message() {
    let dir = common::fresh_dir("cli-bad");
    let missing = dir.join("missing.wasm");
    let text = dir.join("notes.wasm");
    std::fs::write(&text, "not a program\n").expect("writing a text file");
    let core = dir.join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").expect("writing a core module");
    let missing = missing.to_str().expect("utf-8 path");
    let text = text.to_str().expect("utf-8 path");
    let core = core.to_str().expect("utf-8 path");
    for command in ["run", "inspect"] {
        fails_saying(&[command, missing], &["missing.wasm", "no such file"]);
        fails_saying(&[command, text], &["notes.wasm", "not a WebAssembly file"]);
        fails_saying(&[command, core], &["core WebAssembly module"]);
        fails_saying(
            &[command, rustyray_tests::OTHER_WORLD],
            &["other_world.wasm", "rustyray:runtime/guest"],
        );
        fails_saying(
            &[command, rustyray_tests::FOREIGN_WORLD],
            &["foreign_world.wasm", "acme:clock/time"],
        );
    }
    // A directory that is not a crate.
    fails_saying(
        &["run", dir.to_str().expect("utf-8 path")],
        &["no Cargo.toml"],
    );
}

#[test]
fn run_with_a_clashing_load_means_the_programs_own() {
    // The tasks example exports `add` too (u64): the program's own `add` (i32) is the
    // one its main submits, and both load (a name is refused only when used, and only
    // when several loaded modules other than the caller's define it).
    let out = succeeds(&[
        "run",
        rustyray_tests::FIXTURES,
        "--load",
        rustyray_tests::TASKS,
    ]);
    assert!(out.contains("fixtures main: args=[] sum=42"), "{out}");
}

#[test]
fn run_builds_a_crate_directory() {
    // A target dir of the test's own (kept between runs, so only the first run
    // builds from cold), not the one `build.rs` built TASKS in: other tests read it.
    let target_dir: PathBuf = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("examples-target");
    let dir = format!("{EXAMPLES}/tasks");
    let output = rustyray_with(
        &["run", &dir, "--", "4"],
        Duration::from_secs(600),
        &[("CARGO_TARGET_DIR", &target_dir)],
    );
    let out = stdout(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{out}\nstderr:\n{}",
        stderr(&output)
    );
    assert!(
        out.contains("map: squares of 1..=4 = [1, 4, 9, 16]"),
        "{out}"
    );
    assert!(
        out.contains("fan-in: sum of squares = 30 (expected 30)"),
        "{out}"
    );
}

#[test]
fn help_mentions_the_commands() {
    let out = succeeds(&["--help"]);
    assert!(out.contains("run"), "{out}");
    assert!(out.contains("inspect"), "{out}");
    let out = succeeds(&["run", "--help"]);
    assert!(out.contains("--load"), "{out}");
    assert!(out.contains("--task-timeout"), "{out}");
    let output = rustyray(&[]);
    assert!(!output.status.success(), "no command is an error");
    assert!(stderr(&output).contains("Usage"), "{}", stderr(&output));
}

/// `rustyray new NAME [--actor]` scaffolds a crate that `rustyray run` builds and runs as
/// is, wherever it is created (here inside this repository's own workspace tree).
#[test]
fn new_scaffolds_a_crate_that_builds_and_runs() {
    let target_dir: PathBuf = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("examples-target");
    let parent = common::fresh_dir("new");
    for (name, flags, expected) in [
        ("hello_tasks", &[][..], "sum of squares below 5: 30"),
        ("hello-actor", &["--actor"][..], "counter: 55"),
    ] {
        let dir = parent.join(name);
        let dir_text = dir.display().to_string();
        let mut args = vec!["new", dir_text.as_str()];
        args.extend(flags);
        let out = succeeds(&args);
        assert!(out.contains("rustyray run"), "{out}");
        // Pin the dependency versions the other guests already use, so the build needs
        // no registry access.
        std::fs::copy(format!("{EXAMPLES}/Cargo.lock"), dir.join("Cargo.lock"))
            .expect("copying a lock file");
        let output = rustyray_with(
            &["run", &dir_text, "--", "5"],
            Duration::from_secs(600),
            &[
                ("CARGO_TARGET_DIR", &target_dir),
                ("CARGO_NET_OFFLINE", Path::new("true")),
            ],
        );
        let out = stdout(&output);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{name}\nstdout:\n{out}\nstderr:\n{}",
            stderr(&output)
        );
        assert!(out.contains(expected), "{name}: {out}");
    }
    // An existing, non-empty directory and a bad crate name are refused.
    let output = rustyray(&["new", &parent.join("hello_tasks").display().to_string()]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("not empty"), "{}", stderr(&output));
    let output = rustyray(&["new", &parent.join("9lives").display().to_string()]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("not a crate name"),
        "{}",
        stderr(&output)
    );
}

/// The SDK carries its own copy of the WIT contract (so a guest crate builds from a git or
/// path dependency anywhere); it must stay identical to the host's `wit/` files.
#[test]
fn the_sdk_wit_is_the_host_wit() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for file in ["runtime.wit", "concurrent.wit"] {
        let host = std::fs::read_to_string(format!("{root}/wit/{file}")).expect("host wit");
        let sdk = std::fs::read_to_string(format!("{root}/guest-sdk/wit/{file}")).expect("sdk wit");
        assert!(
            host == sdk,
            "guest-sdk/wit/{file} differs from wit/{file}: copy wit/{file} over it \
             (`cp wit/{file} guest-sdk/wit/`)"
        );
    }
}

#[test]
fn call_prints_the_result_as_json() {
    let out = succeeds(&["call", rustyray_tests::FIXTURES, "add", "[5, 3]"]);
    assert_eq!(out.trim(), "8");
    let out = succeeds(&[
        "call",
        rustyray_tests::FIXTURES,
        "add_points",
        r#"[{"x": 1, "y": 2}, {"x": 10, "y": 20}]"#,
    ]);
    let json: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON on stdout");
    assert_eq!(json, serde_json::json!({"x": 11, "y": 22}));
    // A byte buffer prints as an array of numbers.
    let out = succeeds(&["call", rustyray_tests::FIXTURES, "echo", "[[1, 2, 255]]"]);
    assert_eq!(out.trim(), "[1,2,255]");
    // Errors: the task's, with a status; arguments that are not a JSON array.
    fails_saying(
        &["call", rustyray_tests::FIXTURES, "fail", r#"["no luck"]"#],
        &["no luck"],
    );
    fails_saying(
        &["call", rustyray_tests::FIXTURES, "add", "{\"a\": 1}"],
        &["JSON array"],
    );
    fails_saying(
        &["call", rustyray_tests::FIXTURES, "add", "[\"five\", 3]"],
        &["add", "argument 0"],
    );
}

#[test]
fn call_means_the_programs_own_function_and_refuses_an_ambiguous_one() {
    // The fixtures and the tasks example both export `add` (i32 and u64): the program's
    // own comes first, whatever `--load` brings.
    let out = succeeds(&[
        "call",
        rustyray_tests::FIXTURES,
        "add",
        "[-2, 5]",
        "--load",
        rustyray_tests::TASKS,
    ]);
    assert_eq!(out.trim(), "3");
    // A program defining no `add`, two loaded modules that do: one line naming both
    // and the fix, exit 1; nothing was run with either.
    let refused = rustyray(&[
        "call",
        rustyray_tests::ACTORS,
        "add",
        "[1, 2]",
        "--load",
        rustyray_tests::FIXTURES,
        "--load",
        rustyray_tests::TASKS,
    ]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let message = stderr(&refused);
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(
        message.contains("fixtures") && message.contains("tasks") && message.contains("MODULE/add"),
        "{message}"
    );
    // Named by its module, each is itself: u64 arithmetic past i32 in the tasks one.
    let out = succeeds(&[
        "call",
        rustyray_tests::ACTORS,
        "tasks/add",
        "[4294967296, 1]",
        "--load",
        rustyray_tests::FIXTURES,
        "--load",
        rustyray_tests::TASKS,
    ]);
    assert_eq!(out.trim(), "4294967297");
}

#[test]
fn run_writes_a_timeline_of_tasks_and_actor_calls() {
    let file = common::fresh_dir("cli-timeline").join("trace.json");
    let path = file.to_str().expect("a UTF-8 path");
    // The prebuilt component: this test is about the timeline, not the build (a crate
    // directory would be built by cargo within the run's ceiling, which a loaded
    // machine can exceed).
    let actors = rustyray_tests::ACTORS;
    succeeds(&["run", actors, "--timeline", path]);
    let events: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&file).expect("the timeline file"))
            .expect("a closed JSON array of Chrome trace events");
    let slices: Vec<&serde_json::Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    // Tasks named after their function; actor calls as Class.method with the actor id.
    assert!(
        slices
            .iter()
            .any(|e| e["cat"] == "task" && e["name"] == "transfer"),
        "{events:?}"
    );
    assert!(
        slices.iter().any(|e| e["cat"] == "actor"
            && e["name"] == "Counter.increment"
            && e["args"]["actor"]
                .as_str()
                .is_some_and(|id| id.starts_with("actor#"))),
        "{events:?}"
    );
    // The file is bounded: past --timeline-max-mib it ends with an event saying so and
    // is still a closed JSON array.
    succeeds(&["run", actors, "--timeline", path, "--timeline-max-mib", "0"]);
    let events: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&file).expect("the timeline file"))
            .expect("a cut timeline is still a JSON array");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["name"], "timeline cut here");
    assert!(
        events[0]["args"]["why"]
            .as_str()
            .is_some_and(|why| why.contains("--timeline-max-mib")),
        "{events:?}"
    );
    // A file that cannot be created is refused before anything runs.
    let output = rustyray(&["run", actors, "--timeline", "/nonexistent/dir/trace.json"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("creating the timeline /nonexistent/dir/trace.json"),
        "{stderr}"
    );
}
