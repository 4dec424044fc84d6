//! `rustyray run`'s sandbox flags: `--dir`, `--env`, `--stdin`, `--fuel`,
//! `--memory`, `--max-output`, and tasks' output shown live with their prefix.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common;

const BIN: &str = env!("CARGO_BIN_EXE_rustyray");

/// Runs the CLI with `args` and `stdin`, killing it after a minute.
pub(crate) fn run(args: &[&str], stdin: &[u8]) -> Output {
    run_in(args, stdin, &common::cache_dir())
}

/// [`run`] with `cache` as the compile cache, and no stdin.
pub(crate) fn run_with_cache(args: &[&str], cache: &std::path::Path) -> Output {
    run_in(args, b"", cache)
}

fn run_in(args: &[&str], stdin: &[u8], cache: &std::path::Path) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("RUSTYRAY_CACHE_DIR", cache)
        .env("HOSTILE_MODE", "from the host's environment")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting rustyray");
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    // The program may never read its stdin; dropping `input` closes it.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for rustyray") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`rustyray {}` did not finish within a minute",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    Output {
        status,
        stdout: out.join().expect("stdout thread"),
        stderr: err.join().expect("stderr thread"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn nothing_is_granted_unless_asked_for() {
    let dir = common::fresh_dir("cli-sandbox");
    std::fs::write(dir.join("hello.txt"), "hi there\n").expect("write");
    let output = run(
        &["run", rustyray_tests::HOSTILE, "--", "/data/hello.txt"],
        b"typed input",
    );
    let out = text(&output.stdout);
    assert!(output.status.success(), "{out}\n{}", text(&output.stderr));
    assert!(out.contains("env HOSTILE_MODE=None"), "{out}");
    assert!(out.contains("cannot read /data/hello.txt"), "{out}");
    assert!(out.contains("stdin: \"\""), "{out}");
}

#[test]
fn dir_env_and_stdin_grant_what_they_name() {
    let dir = common::fresh_dir("cli-sandbox");
    std::fs::write(dir.join("hello.txt"), "hi there\n").expect("write");
    let grant = format!("{}:/data:ro", dir.display());
    let output = run(
        &[
            "run",
            rustyray_tests::HOSTILE,
            "--dir",
            &grant,
            "--env",
            "HOSTILE_MODE",
            "--env",
            "OTHER=1",
            "--stdin",
            "--",
            "/data/hello.txt",
        ],
        b"typed input\n",
    );
    let out = text(&output.stdout);
    let err = text(&output.stderr);
    assert!(output.status.success(), "{out}\n{err}");
    assert!(
        out.contains("env HOSTILE_MODE=Some(\"from the host's environment\")"),
        "{out}"
    );
    assert!(out.contains("read /data/hello.txt: hi there"), "{out}");
    assert!(out.contains("stdin: \"typed input\""), "{out}");
}

#[test]
fn tasks_output_is_shown_live_with_its_task() {
    let output = run(&["run", rustyray_tests::HOSTILE], b"");
    let out = text(&output.stdout);
    let err = text(&output.stderr);
    assert!(output.status.success(), "{out}\n{err}");
    let prefixed = |text: &str, line: &str| {
        text.lines()
            .any(|l| l.starts_with("[task ") && l.ends_with(&format!(" chatter] {line}")))
    };
    assert!(prefixed(&out, "out 0") && prefixed(&out, "out 1"), "{out}");
    assert!(prefixed(&err, "err 0") && prefixed(&err, "err 1"), "{err}");
    assert!(out.contains("chatter -> 2"), "{out}");

    let quiet = run(&["run", rustyray_tests::HOSTILE, "--quiet-tasks"], b"");
    let out = text(&quiet.stdout);
    assert!(quiet.status.success(), "{out}");
    assert!(!out.contains("[task "), "{out}");
    assert!(out.contains("chatter -> 2"), "{out}");
}

#[test]
fn limits_from_flags_name_themselves_when_hit() {
    // The program itself runs out of fuel.
    let starved = run(&["run", rustyray_tests::HOSTILE, "--fuel", "1000"], b"");
    let err = text(&starved.stderr);
    assert!(!starved.status.success());
    assert!(err.contains("fuel limit of 1000 units"), "{err}");
    // A task printing more than --max-output allows.
    let capped = run(
        &[
            "run",
            rustyray_tests::HOSTILE,
            "--max-output",
            "0",
            "--quiet-tasks",
        ],
        b"",
    );
    let out = text(&capped.stdout);
    let err = text(&capped.stderr);
    assert!(!capped.status.success(), "{out}");
    assert!(err.contains("output limit of 0 B"), "{err}");
    // Enough memory, and too little to even start.
    let roomy = run(&["run", rustyray_tests::HOSTILE, "--memory", "64"], b"");
    assert!(roomy.status.success(), "{}", text(&roomy.stderr));
    // 1 MiB is less than the guest's initial memory: refused at load, saying so.
    let cramped = run(&["run", rustyray_tests::HOSTILE, "--memory", "1"], b"");
    let err = text(&cramped.stderr);
    assert!(!cramped.status.success());
    assert!(
        err.contains("memory") && err.contains("exceeds the limit"),
        "{err}"
    );
}

#[test]
fn bad_grants_are_refused_with_a_clear_message() {
    let missing = run(
        &[
            "run",
            rustyray_tests::HOSTILE,
            "--dir",
            "/no/such/dir:/data",
        ],
        b"",
    );
    let err = text(&missing.stderr);
    assert!(!missing.status.success());
    assert!(
        err.contains("/no/such/dir") && err.contains("not a directory"),
        "{err}"
    );
    let malformed = run(&["run", rustyray_tests::HOSTILE, "--dir", "a:b:c:d"], b"");
    let err = text(&malformed.stderr);
    assert!(!malformed.status.success());
    assert!(err.contains("HOST[:GUEST][:ro|:rw]"), "{err}");
}
