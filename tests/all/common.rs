//! Helpers shared by the test modules: runtimes over a shared compile cache,
//! fresh temporary directories, and ceilings so that no test can hang.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustyray::{Runtime, RuntimeBuilder};

/// A ceiling for things that should take milliseconds.
pub const SHORT: Duration = Duration::from_secs(10);
/// A ceiling for the big workloads (1,000-task chains and fan-ins).
pub const LONG: Duration = Duration::from_secs(60);

/// The compile cache every test runtime shares (and the CLI tests point the binary at).
pub fn cache_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rustyray-cache");
    std::fs::create_dir_all(&dir).expect("creating the test cache dir");
    dir
}

/// A new, empty directory under the target's tmp dir, unique to this call.
/// The first call of a test process removes the ones earlier test processes left
/// behind (named `NAME-PID-N` with a PID no longer alive): a test's directories
/// outlive it so that a failure can be looked at, but not the next run.
pub fn fresh_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(sweep_dead_dirs);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a fresh dir");
    dir
}

/// Removes `fresh_dir`s of test processes that have ended.
fn sweep_dead_dirs() {
    let Ok(entries) = std::fs::read_dir(env!("CARGO_TARGET_TMPDIR")) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(fresh_dir_pid) else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The PID in a `fresh_dir` name (`NAME-PID-N`), if it is one.
fn fresh_dir_pid(name: &str) -> Option<u32> {
    let mut parts = name.rsplitn(3, '-');
    let n = parts.next()?;
    let pid = parts.next()?;
    parts.next()?;
    n.parse::<u32>().ok()?;
    pid.parse().ok()
}

#[test]
fn fresh_dir_names_give_their_pid_and_others_do_not() {
    assert_eq!(fresh_dir_pid("cache-beside-14600-53"), Some(14600));
    assert_eq!(fresh_dir_pid("cache-9463-1"), Some(9463));
    assert_eq!(fresh_dir_pid("rustyray-cache"), None);
    assert_eq!(fresh_dir_pid("actors-cache"), None);
    assert_eq!(fresh_dir_pid("12-3"), None);
}

/// A runtime builder using the shared test cache.
/// Budgets are smaller than the defaults: the tests run many runtimes at once in one
/// process, and every pool slot costs kernel memory mappings (`vm.max_map_count`).
pub fn builder() -> RuntimeBuilder {
    Runtime::builder()
        .cache_dir(Some(cache_dir()))
        .max_instances(256)
        .max_actors(256)
}

/// A runtime with the fixtures loaded.
pub async fn runtime() -> Runtime {
    runtime_with(builder()).await
}

/// A runtime from `builder` with the fixtures loaded.
pub async fn runtime_with(builder: RuntimeBuilder) -> Runtime {
    let runtime = builder.build().expect("the runtime starts");
    runtime
        .load(rustyray_tests::FIXTURES)
        .await
        .expect("the fixtures load");
    runtime
}

/// Awaits `future`, failing the test if it takes longer than `ceiling`.
pub async fn within<F: Future>(ceiling: Duration, what: &str, future: F) -> F::Output {
    match tokio::time::timeout(ceiling, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what} did not finish within {ceiling:?}"),
    }
}

/// Polls `condition` until it holds; false if it still does not after `ceiling`.
/// For state the runtime updates just after answering a `get` (a finished task
/// lets go of its objects a moment after filling its output).
pub async fn eventually(ceiling: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if condition() {
            return true;
        }
        if start.elapsed() > ceiling {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A runtime with the fixtures and the hostile guests loaded.
pub async fn hostile_runtime(builder: RuntimeBuilder) -> Runtime {
    let runtime = runtime_with(builder).await;
    runtime
        .load(rustyray_tests::HOSTILE)
        .await
        .expect("the hostile guests load");
    runtime
}

/// Checks that `runtime` still runs work: an `add` task answers `a + b` in time. The
/// "and the runtime goes on" step after a failure, a limit or a hostile act.
pub async fn assert_adds(runtime: &Runtime, a: i32, b: i32) -> rustyray::Result<()> {
    let sum = runtime
        .task("add")
        .arg(a)
        .arg(b)
        .submit_now::<i32>(runtime)?;
    assert_eq!(within(SHORT, "add", sum.get()).await?, a + b);
    Ok(())
}
