//! The hostile-guest suite: every way a guest can misbehave or try to leave its
//! sandbox, each asserting the typed error it gets, that a canary task running at
//! the same time still returns the right answer, and that objects made before are
//! intact.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustyray::{
    CacheOutcome, Capabilities, DirAccess, Limit, Limits, ObjectRef, RayError, Result, Runtime,
};

use crate::common::{self, LONG, SHORT, hostile_runtime, within};

mod budgets;

/// What `canary(rounds)` must return (the guest runs the same loop).
pub(crate) fn canary_answer(rounds: u32) -> u64 {
    let mut x: u64 = 0;
    for i in 0..u64::from(rounds) * 1_000_000 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i);
    }
    x
}

/// Rounds of the canary: long enough (a few hundred ms) to overlap the hostile act.
pub(crate) const ROUNDS: u32 = 150;

/// Objects made before the hostile act, and a canary running through it.
pub(crate) struct Witness {
    put: ObjectRef<Vec<u64>>,
    computed: ObjectRef<i32>,
    canary: ObjectRef<u64>,
}

impl Witness {
    pub(crate) async fn start(runtime: &Runtime) -> Witness {
        let put = runtime.put(&(0..1000u64).collect::<Vec<_>>()).expect("put");
        let computed = runtime
            .task("add")
            .arg(40)
            .arg(2)
            .submit_now::<i32>(runtime)
            .expect("submit add");
        assert_eq!(within(SHORT, "add", computed.get()).await.expect("add"), 42);
        let canary = runtime
            .task("canary")
            .arg(ROUNDS)
            .submit_now::<u64>(runtime)
            .expect("submit the canary");
        Witness {
            put,
            computed,
            canary,
        }
    }

    /// The canary's answer is right, the earlier objects are intact, and a new
    /// task still runs.
    pub(crate) async fn check(self, runtime: &Runtime) {
        assert_eq!(
            within(LONG, "the canary", self.canary.get())
                .await
                .expect("the canary succeeds"),
            canary_answer(ROUNDS),
            "the canary's answer"
        );
        assert_eq!(
            self.put.get().await.expect("the earlier put"),
            (0..1000u64).collect::<Vec<_>>()
        );
        assert_eq!(self.computed.get().await.expect("the earlier result"), 42);
        let fresh = runtime
            .task("add")
            .arg(1)
            .arg(2)
            .submit_now::<i32>(runtime)
            .expect("submit");
        assert_eq!(
            within(SHORT, "a fresh task", fresh.get())
                .await
                .expect("add"),
            3
        );
    }
}

fn limit_exceeded(err: &RayError) -> (&str, Limit, u64) {
    match err {
        RayError::LimitExceeded {
            function,
            limit,
            value,
            ..
        } => (function.as_str(), *limit, *value),
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
}

fn application_message(err: RayError) -> String {
    match err {
        RayError::Application { message, .. } => message,
        other => panic!("expected an application error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_infinite_loop_is_stopped_by_its_deadline_or_a_cancel() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    let looping = runtime
        .task("forever")
        .timeout(Duration::from_millis(100))
        .submit_now::<u64>(&runtime)?;
    match within(SHORT, "forever", looping.get()).await {
        Err(RayError::Timeout(after)) => assert_eq!(after, Duration::from_millis(100)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    let looping = runtime.task("forever").submit_now::<u64>(&runtime)?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    runtime.cancel(&looping);
    assert!(matches!(
        within(SHORT, "cancelled forever", looping.get()).await,
        Err(RayError::Cancelled)
    ));
    // The runtime-wide default deadline applies too.
    let bounded =
        hostile_runtime(common::builder().default_timeout(Some(Duration::from_millis(50)))).await;
    let looping = bounded.task("forever").submit_now::<u64>(&bounded)?;
    assert!(matches!(
        within(SHORT, "forever", looping.get()).await,
        Err(RayError::Timeout(_))
    ));
    witness.check(&runtime).await;
    Ok(())
}

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<usize>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

#[tokio::test]
async fn a_memory_bomb_hits_the_memory_limit_and_host_memory_stays_bounded() -> Result<()> {
    const LIMIT: usize = 64 << 20;
    const BOMBS: usize = 6;
    let runtime = hostile_runtime(common::builder().memory_limit(LIMIT)).await;
    let witness = Witness::start(&runtime).await;
    let before = rss_bytes();
    let bombs: Vec<ObjectRef<u64>> = (0..BOMBS)
        .map(|_| runtime.task("memory_bomb").submit_now(&runtime))
        .collect::<Result<_>>()?;
    let mut peak = before;
    let watch = async {
        while !bombs.iter().all(ObjectRef::is_ready) {
            peak = peak.max(rss_bytes());
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    within(LONG, "the memory bombs", watch).await;
    for bomb in &bombs {
        let err = bomb.get().await.expect_err("a bomb fails");
        let (function, limit, value) = limit_exceeded(&err);
        assert_eq!(
            (function, limit, value),
            ("memory_bomb", Limit::Memory, LIMIT as u64)
        );
        assert!(err.to_string().contains("memory limit of 64 MiB"), "{err}");
        // What the guest printed on its way down (Rust's allocation-failure message).
        let printed = bomb.output().expect("the guest said something");
        assert!(
            printed.stderr_text().contains("memory allocation"),
            "{}",
            printed.stderr_text()
        );
    }
    // Each bomb had at most its 64 MiB; other tests share this process, so allow
    // them some room too.
    let grown = peak.saturating_sub(before);
    assert!(
        grown < BOMBS * LIMIT + (256 << 20),
        "host RSS grew by {} MiB for {BOMBS} bombs of at most 64 MiB",
        grown >> 20
    );

    // A guest that handles the refusal itself is not failed for it.
    let careful = runtime
        .task("try_allocate")
        .arg(100u32)
        .submit_now::<u64>(&runtime)?;
    let message = application_message(
        within(SHORT, "try_allocate", careful.get())
            .await
            .expect_err("refused"),
    );
    assert!(message.contains("refused"), "{message}");
    // A task can lower its own limit below the runtime's.
    let small = runtime
        .task("try_allocate")
        .arg(32u32)
        .memory_limit(16 << 20)
        .submit_now::<u64>(&runtime)?;
    assert!(within(SHORT, "try_allocate", small.get()).await.is_err());
    let fits = runtime
        .task("try_allocate")
        .arg(8u32)
        .memory_limit(16 << 20)
        .submit_now::<u64>(&runtime)?;
    assert_eq!(within(SHORT, "try_allocate", fits.get()).await?, 8 * 256);
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn a_stack_overflow_traps_cleanly() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    // Two stacks can overflow: wasm's call stack (limited by the engine), and the
    // stack a Rust guest keeps in its linear memory (below its data, so running off
    // it is an out-of-bounds access).
    for (function, says, frame) in [
        ("call_stack_overflow", "512 KiB", "hostile::calls"),
        ("stack_overflow", "overflowed", "hostile::deep"),
    ] {
        let deep = runtime
            .task(function)
            .arg(0u64)
            .submit_now::<u64>(&runtime)?;
        let err = within(SHORT, function, deep.get())
            .await
            .expect_err("it overflows");
        match &err {
            RayError::Trap {
                function: trapped,
                message,
                backtrace,
                context,
            } => {
                assert_eq!(trapped, function);
                assert!(message.contains(says), "{function}: {message}");
                assert!(backtrace.contains(frame), "{backtrace}");
                assert!(backtrace.lines().count() < 60, "kept short: {backtrace}");
                assert_eq!(context.task, format!("task {}", deep.id().0));
                assert_eq!(context.arg_sizes, [1]);
            }
            other => panic!("expected a trap, got {other:?}"),
        }
    }
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn unbounded_recursion_through_remote_fails_with_the_instance_limit() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let before = rss_bytes();
    let witness = Witness::start(&runtime).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let start = Instant::now();
    let root = runtime
        .task("recurse")
        .arg(0u64)
        .submit_now::<u64>(&runtime)?;
    let err = within(LONG, "the recursion", root.get())
        .await
        .expect_err("the recursion fails");
    let message = application_message(err);
    assert!(
        message.contains("live instances limit of 256") && message.contains("--max-instances"),
        "the innermost task's error reaches the root, naming the flag: {message}"
    );
    eprintln!(
        "recursion through remote failed cleanly after {:?}, rss {} -> {} MiB",
        start.elapsed(),
        before >> 20,
        rss_bytes() >> 20
    );
    witness.check(&runtime).await;
    // Every nested task ended: nothing is left in flight.
    assert!(
        common::eventually(SHORT, || runtime.stats().tasks_in_flight == 0).await,
        "{:?}",
        runtime.stats()
    );
    Ok(())
}

#[tokio::test]
async fn an_oversized_result_or_put_is_refused() -> Result<()> {
    let runtime =
        hostile_runtime(common::builder().limits(Limits::new().result_size(1 << 20))).await;
    let witness = Witness::start(&runtime).await;
    let big = runtime
        .task("big_result")
        .arg(2u64 << 20)
        .submit_now::<Vec<u8>>(&runtime)?;
    let err = within(SHORT, "big_result", big.get())
        .await
        .expect_err("too big");
    assert_eq!(
        limit_exceeded(&err),
        ("big_result", Limit::ResultSize, 1 << 20)
    );
    assert!(
        err.to_string().contains("result size limit of 1 MiB"),
        "{err}"
    );
    let fits = runtime
        .task("big_result")
        .arg(1000u64)
        .submit_now::<Vec<u8>>(&runtime)?;
    assert_eq!(within(SHORT, "big_result", fits.get()).await?.len(), 1000);
    // A guest's own put is held to the same limit, as an error it can handle.
    let put = runtime
        .task("put_big")
        .arg(2u64 << 20)
        .submit_now::<u64>(&runtime)?;
    let message = application_message(
        within(SHORT, "put_big", put.get())
            .await
            .expect_err("refused"),
    );
    assert!(message.contains("result size limit"), "{message}");
    // A task may set its own.
    let tight = runtime
        .task("big_result")
        .arg(2000u64)
        .limits(Limits::new().result_size(1000))
        .submit_now::<Vec<u8>>(&runtime)?;
    let err = within(SHORT, "big_result", tight.get())
        .await
        .expect_err("too big");
    assert_eq!(limit_exceeded(&err).1, Limit::ResultSize);
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn a_panic_shows_its_message_and_where_it_happened() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    let panicked = runtime
        .task("panic_with")
        .arg("the guest gave up")
        .submit_now::<u64>(&runtime)?;
    let err = within(SHORT, "panic_with", panicked.get())
        .await
        .expect_err("it panics");
    match &err {
        RayError::Trap {
            function,
            message,
            backtrace,
            context,
        } => {
            assert_eq!(function, "panic_with");
            assert!(message.contains("the guest gave up"), "{message}");
            assert!(backtrace.contains("panic_with"), "{backtrace}");
            assert_eq!(context.task, format!("task {}", panicked.id().0));
            // MessagePack: a 1-byte fixstr header, then 17 bytes of text.
            assert_eq!(context.arg_sizes, [18]);
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    let shown = err.to_string();
    assert!(
        shown.contains(&format!(
            "in task {}, 1 argument of 18 bytes",
            panicked.id().0
        )),
        "{shown}"
    );
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn a_trap_inside_an_actor_method_kills_only_that_instance() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    let fragile = runtime.actor("Fragile").max_restarts(1).create().await?;
    assert_eq!(fragile.call::<u32>("ok", ()).get().await?, 1);
    let err = within(SHORT, "Fragile.trap", fragile.call::<u32>("trap", ()).get())
        .await
        .expect_err("it traps");
    match &err {
        RayError::ActorDied { class, reason, .. } => {
            assert_eq!(class, "Fragile");
            assert!(reason.contains("unreachable"), "{reason}");
            assert!(reason.contains("hostile::Fragile"), "a backtrace: {reason}");
            assert!(reason.contains(&format!("in {}", fragile.id())), "{reason}");
        }
        other => panic!("expected ActorDied, got {other:?}"),
    }
    // Restarted from its constructor: the count starts over.
    assert_eq!(fragile.call::<u32>("ok", ()).get().await?, 1);
    // Out of restarts, the next trap kills it for good.
    let _ = fragile.call::<u32>("trap", ()).get().await;
    assert!(matches!(
        fragile.call::<u32>("ok", ()).get().await,
        Err(RayError::ActorDied { .. })
    ));
    // An actor's memory limit is its own.
    let bomber = runtime
        .actor("Fragile")
        .limits(Limits::new().memory(32 << 20))
        .create()
        .await?;
    let err = within(SHORT, "Fragile.bomb", bomber.call::<u64>("bomb", ()).get())
        .await
        .expect_err("the bomb fails");
    match &err {
        RayError::ActorDied { reason, .. } => {
            assert!(reason.contains("memory limit of 32 MiB"), "{reason}")
        }
        other => panic!("expected ActorDied, got {other:?}"),
    }
    // A call past its deadline fails with the timeout; the actor is replaced.
    let spinner = runtime
        .actor("Fragile")
        .call_timeout(Duration::from_millis(50))
        .max_restarts(1)
        .create()
        .await?;
    assert_eq!(spinner.call::<u32>("ok", ()).get().await?, 1);
    assert!(matches!(
        within(SHORT, "Fragile.spin", spinner.call::<u64>("spin", ()).get()).await,
        Err(RayError::Timeout(_))
    ));
    assert_eq!(spinner.call::<u32>("ok", ()).get().await?, 1);
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn files_outside_the_preopens_cannot_be_opened() -> Result<()> {
    let root = common::fresh_dir("sandbox-fs");
    let granted = root.join("granted");
    std::fs::create_dir_all(&granted).expect("mkdir");
    std::fs::write(granted.join("hello.txt"), "hello from the host").expect("write");
    std::fs::write(root.join("secret.txt"), "not for guests").expect("write");
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    let read_only = Capabilities::new().dir(&granted, "/data", DirAccess::ReadOnly);

    let read = |path: &str, caps: Option<Capabilities>| {
        let mut task = runtime.task("read_file").arg(path);
        if let Some(caps) = caps {
            task = task.capabilities(caps);
        }
        task.submit_now::<String>(&runtime)
    };
    // Inside the grant: readable.
    let inside = read("/data/hello.txt", Some(read_only.clone()))?;
    assert_eq!(
        within(SHORT, "read", inside.get()).await?,
        "hello from the host"
    );
    // Not granted: nothing is there.
    for (path, caps) in [
        ("/data/hello.txt", None),
        ("/data/../secret.txt", Some(read_only.clone())),
        ("/etc/passwd", Some(read_only.clone())),
        (
            root.join("secret.txt").to_str().expect("utf-8"),
            Some(read_only.clone()),
        ),
        ("../secret.txt", Some(read_only.clone())),
    ] {
        let denied = read(path, caps)?;
        let message = application_message(
            within(SHORT, "read", denied.get())
                .await
                .expect_err("outside the sandbox"),
        );
        assert!(!message.contains("not for guests"), "{message}");
        assert!(
            message.starts_with(path),
            "the guest's own error: {message}"
        );
    }
    // A symlink inside the grant that points out of it does not lead out.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(root.join("secret.txt"), granted.join("escape"))
            .expect("symlink");
        let escape = read("/data/escape", Some(read_only.clone()))?;
        assert!(within(SHORT, "read", escape.get()).await.is_err());
    }
    // Read-only means no writes.
    let write = runtime
        .task("write_file")
        .arg("/data/new.txt")
        .arg("x")
        .capabilities(read_only.clone())
        .submit_now::<()>(&runtime)?;
    assert!(within(SHORT, "write", write.get()).await.is_err());
    assert!(!granted.join("new.txt").exists());
    // Read-write allows them, inside.
    let write = runtime
        .task("write_file")
        .arg("/data/new.txt")
        .arg("written by a guest")
        .capabilities(Capabilities::new().dir(&granted, "/data", DirAccess::ReadWrite))
        .submit_now::<()>(&runtime)?;
    within(SHORT, "write", write.get()).await?;
    assert_eq!(
        std::fs::read_to_string(granted.join("new.txt")).expect("the file"),
        "written by a guest"
    );
    // The root is not listable without a grant.
    let listing = runtime
        .task("list_dir")
        .arg("/")
        .submit_now::<Vec<String>>(&runtime)?;
    assert!(within(SHORT, "list", listing.get()).await.is_err());
    // A grant of a directory that does not exist is refused at submission.
    assert!(matches!(
        runtime
            .task("read_file")
            .arg("/x")
            .capabilities(Capabilities::new().dir(root.join("nope"), "/x", DirAccess::ReadOnly))
            .submit_now::<String>(&runtime),
        Err(RayError::InvalidOptions(_))
    ));
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn environment_variables_are_only_those_granted() -> Result<()> {
    // SAFETY: `set_var` in a multi-threaded test process; this name is unique
    // to this test and only read back through the guest.
    unsafe { std::env::set_var("RUSTYRAY_TEST_SECRET", "hunter2") };
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    let all = runtime
        .task("env_all")
        .submit_now::<Vec<(String, String)>>(&runtime)?;
    assert_eq!(within(SHORT, "env_all", all.get()).await?, []);
    for name in ["RUSTYRAY_TEST_SECRET", "PATH", "HOME"] {
        let var = runtime
            .task("env_var")
            .arg(name)
            .submit_now::<Option<String>>(&runtime)?;
        assert_eq!(within(SHORT, "env_var", var.get()).await?, None, "{name}");
    }
    let args = runtime
        .task("args_seen")
        .submit_now::<Vec<String>>(&runtime)?;
    assert_eq!(
        within(SHORT, "args", args.get()).await?,
        Vec::<String>::new()
    );
    // Granted: exactly those.
    let caps = Capabilities::new()
        .env("MODE", "fast")
        .inherit_env("RUSTYRAY_TEST_SECRET");
    let all = runtime
        .task("env_all")
        .capabilities(caps)
        .submit_now::<Vec<(String, String)>>(&runtime)?;
    let mut seen = within(SHORT, "env_all", all.get()).await?;
    seen.sort();
    assert_eq!(
        seen,
        [
            ("MODE".to_string(), "fast".to_string()),
            ("RUSTYRAY_TEST_SECRET".to_string(), "hunter2".to_string())
        ]
    );
    // Actors too: nothing by default, what their own capabilities grant.
    let plain = runtime.actor("Fragile").create().await?;
    assert_eq!(
        plain
            .call::<Option<String>>("env", ("RUSTYRAY_TEST_SECRET",))
            .get()
            .await?,
        None
    );
    let granted = runtime
        .actor("Fragile")
        .capabilities(Capabilities::new().env("ROLE", "actor"))
        .create()
        .await?;
    assert_eq!(
        granted
            .call::<Option<String>>("env", ("ROLE",))
            .get()
            .await?,
        Some("actor".to_string())
    );
    // Runtime defaults apply to every task without its own.
    let defaulted =
        hostile_runtime(common::builder().capabilities(Capabilities::new().env("STAGE", "test")))
            .await;
    let var = defaulted
        .task("env_var")
        .arg("STAGE")
        .submit_now::<Option<String>>(&defaulted)?;
    assert_eq!(
        within(SHORT, "env_var", var.get()).await?.as_deref(),
        Some("test")
    );
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn sockets_cannot_be_opened() -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a host listener");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("its address").to_string();
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    let cases: [(&str, &str); 4] = [
        ("tcp_connect", addr.as_str()),
        ("tcp_listen", "127.0.0.1:0"),
        ("udp_send", addr.as_str()),
        ("resolve", "localhost"),
    ];
    for (function, arg) in cases {
        let attempt = runtime.task(function).arg(arg).submit_now::<()>(&runtime)?;
        let err = within(SHORT, function, attempt.get())
            .await
            .expect_err("the network is closed");
        assert!(
            matches!(
                err,
                RayError::Application { .. } | RayError::BadArguments { .. }
            ),
            "{function}: a refusal the guest sees as an error: {err:?}"
        );
    }
    // Nothing reached the host's listener.
    match listener.accept() {
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a guest connected to the host: {other:?}"),
    }
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn bad_modules_are_refused_while_work_goes_on() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    let mut garbage = b"\0asm\x0d\0\x01\0".to_vec();
    garbage.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage.wasm",
            b"MZ\x90\0 not wasm at all".to_vec(),
            "not a WebAssembly file",
        ),
        ("broken.wasm", garbage, "does not compile"),
        (
            "core.wasm",
            b"\0asm\x01\0\0\0".to_vec(),
            "core WebAssembly module",
        ),
        (
            "foreign.wasm",
            std::fs::read(rustyray_tests::FOREIGN_WORLD).expect("the foreign world"),
            "acme:clock",
        ),
        (
            "command.wasm",
            std::fs::read(rustyray_tests::OTHER_WORLD).expect("the other world"),
            "does not export",
        ),
    ];
    for (name, bytes, words) in cases {
        match runtime.load_bytes(&bytes, name).await {
            Err(RayError::InvalidModule {
                source_name,
                message,
            }) => {
                assert_eq!(source_name, name);
                assert!(message.contains(words), "{name}: {message}");
            }
            other => panic!("{name}: expected InvalidModule, got {other:?}"),
        }
    }
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn undecodable_arguments_and_unknown_functions_are_reported() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    let cases: Vec<rustyray::TaskBuilder> = vec![
        runtime.task("canary").arg("not a number"),
        runtime.task("canary").arg(u64::MAX),
        runtime.task("canary").arg(vec![0xffu8; 64]),
        runtime.task("read_file").arg(vec![0xffu8, 0xfe, 0xfd]),
        runtime.task("canary"),
        runtime.task("canary").arg(1u32).arg(2u32),
    ];
    for task in cases {
        // A wrong count is refused by `submit` itself (issue 10.8); a value that does not
        // decode, by the task.
        let outcome = match task.submit_now::<u64>(&runtime) {
            Ok(bad) => within(SHORT, "bad arguments", bad.get()).await,
            Err(err) => Err(err),
        };
        match outcome {
            Err(RayError::BadArguments { function, .. }) => {
                assert!(function == "canary" || function == "read_file")
            }
            other => panic!("expected BadArguments, got {other:?}"),
        }
    }
    // Raw bytes given for a number, through a raw object.
    let raw = runtime.put_bytes(bytes::Bytes::from_static(&[0xff; 16]))?;
    let bad = runtime
        .task("canary")
        .arg_ref(&raw)
        .submit_now::<u64>(&runtime)?;
    assert!(matches!(
        within(SHORT, "raw bytes as u32", bad.get()).await,
        Err(RayError::BadArguments { .. })
    ));
    for name in ["no_such_function", "", "canary\0", "../../etc/passwd"] {
        match runtime.task(name).submit_now::<u64>(&runtime) {
            Err(RayError::FunctionNotFound(missing)) => assert_eq!(missing, name),
            other => panic!("expected FunctionNotFound, got {other:?}"),
        }
    }
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn a_hundred_thousand_tasks_at_once_all_answer() -> Result<()> {
    const TASKS: u32 = 100_000;
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    let before = rss_bytes();
    let start = Instant::now();
    let results: Vec<ObjectRef<i32>> = (0..TASKS)
        .map(|i| {
            runtime
                .task("add")
                .arg(i as i32)
                .arg(1)
                .submit_now::<i32>(&runtime)
        })
        .collect::<Result<_>>()?;
    let submitted = start.elapsed();
    let mut peak = rss_bytes();
    let mut sum = 0i64;
    let collect = async {
        for (i, result) in results.iter().enumerate() {
            sum += i64::from(result.get().await.expect("every task answers"));
            if i % 10_000 == 0 {
                peak = peak.max(rss_bytes());
            }
        }
    };
    within(Duration::from_secs(300), "100,000 tasks", collect).await;
    let n = i64::from(TASKS);
    assert_eq!(sum, n * (n + 1) / 2);
    eprintln!(
        "100,000 tasks: submitted in {submitted:?}, all answered in {:?}; RSS {} -> peak {} MiB",
        start.elapsed(),
        before >> 20,
        peak >> 20
    );
    assert!(
        peak.saturating_sub(before) < 1 << 30,
        "queueing 100,000 tasks took {} MiB",
        peak.saturating_sub(before) >> 20
    );
    witness.check(&runtime).await;
    Ok(())
}

/// A guest floods an actor with calls: past `max_pending_calls` they are refused at once
/// (`PendingCallsLimitExceeded`, seen by the guest as a runtime error naming the limit),
/// the mailbox stays bounded, and the rest of the runtime goes on.
#[tokio::test]
async fn a_call_flood_is_bounded_by_max_pending_calls() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    runtime.load(rustyray_tests::PARITY).await?;
    let witness = Witness::start(&runtime).await;
    let tally = runtime.actor("Tally").max_pending_calls(8).create().await?;
    let flood = runtime
        .task("flood")
        .arg(tally.id().0)
        .arg(10_000u32)
        .submit_now::<(u32, u32)>(&runtime)?;
    let (refused, ran) = within(LONG, "the flood", flood.get()).await?;
    assert_eq!(refused + ran, 10_000);
    assert!(
        refused > 0,
        "some calls were refused: {refused} refused, {ran} ran"
    );
    assert!(ran >= 8, "calls under the limit ran: {ran}");
    let count = within(SHORT, "count", tally.call::<u32>("count", ()).get()).await?;
    assert_eq!(count, ran, "refused calls never ran");
    witness.check(&runtime).await;
    Ok(())
}

// ---- The compile cache is not a code-execution path (issue 9, point 1). ----

/// The `.cwasm` artifacts in a cache directory.
fn cache_artifacts(cache: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(cache.join("artifacts")) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cwasm"))
        .collect();
    found.sort();
    found
}

/// A runtime over `cache` with the fixtures and the hostile guests loaded; the
/// outcome of loading the fixtures.
async fn runtime_on_cache(cache: &Path) -> (Runtime, rustyray::ComponentInfo) {
    let runtime = Runtime::builder()
        .max_instances(256)
        .max_actors(256)
        .cache_dir(Some(cache.to_path_buf()))
        .build()
        .expect("the runtime starts");
    let info = runtime
        .load(rustyray_tests::FIXTURES)
        .await
        .expect("the fixtures load");
    runtime
        .load(rustyray_tests::HOSTILE)
        .await
        .expect("the hostile guests load");
    (runtime, info)
}

#[tokio::test]
async fn a_patched_or_planted_artifact_is_never_executed() -> Result<()> {
    let cache = common::fresh_dir("cache-patched");
    let (first, info) = runtime_on_cache(&cache).await;
    assert_eq!(info.cache, CacheOutcome::Miss);
    drop(first);
    let stored = cache_artifacts(&cache);
    assert_eq!(stored.len(), 2, "{stored:?}");
    let fixtures = stored
        .iter()
        .find(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(&info.hash))
        })
        .expect("the fixtures' artifact")
        .clone();

    // Patch the artifact's code the way an attacker with write access would: flip
    // every byte of a run in its middle (executed, this is SIGILL or worse).
    let mut bytes = std::fs::read(&fixtures).expect("reading the artifact");
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle..middle + 4096] {
        *byte = !*byte;
    }
    std::fs::write(&fixtures, &bytes).expect("patching it");
    let (second, info) = runtime_on_cache(&cache).await;
    assert_eq!(
        info.cache,
        CacheOutcome::Replaced,
        "the patched artifact was refused"
    );
    let witness = Witness::start(&second).await;
    witness.check(&second).await;
    drop(second);
    let (third, info) = runtime_on_cache(&cache).await;
    assert_eq!(info.cache, CacheOutcome::Hit, "and replaced by a good one");
    common::assert_adds(&third, 2, 3).await?;
    drop(third);

    // Plant a genuine artifact of the same component, made by another cache (another
    // key, as another user's would be), under the same name: refused too.
    let other = common::fresh_dir("cache-other-user");
    let (elsewhere, _) = runtime_on_cache(&other).await;
    drop(elsewhere);
    let planted = other
        .join("artifacts")
        .join(fixtures.file_name().expect("a name"));
    std::fs::copy(&planted, &fixtures).expect("planting it");
    let (fourth, info) = runtime_on_cache(&cache).await;
    assert_eq!(
        info.cache,
        CacheOutcome::Replaced,
        "the planted artifact was refused"
    );
    let witness = Witness::start(&fourth).await;
    witness.check(&fourth).await;
    Ok(())
}

#[tokio::test]
async fn an_unsafe_cache_directory_is_refused_and_compiles_in_memory() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // Created private.
    let fresh = common::fresh_dir("cache-private").join("new");
    let runtime = Runtime::builder()
        .max_instances(256)
        .max_actors(256)
        .cache_dir(Some(fresh.clone()))
        .build()?;
    assert_eq!(runtime.cache_refused(), None);
    let mode = std::fs::metadata(&fresh)
        .expect("created")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "mode {mode:o}");
    let key = std::fs::metadata(fresh.join("key"))
        .expect("a key")
        .permissions()
        .mode();
    assert_eq!(key & 0o777, 0o600, "key mode {key:o}");
    drop(runtime);

    // World-writable (a shared /tmp-like directory): refused, saying why.
    let shared = common::fresh_dir("cache-shared");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let runtime = hostile_runtime(
        Runtime::builder()
            .max_instances(256)
            .max_actors(256)
            .cache_dir(Some(shared.clone())),
    )
    .await;
    let why = runtime.cache_refused().expect("refused").to_string();
    assert!(
        why.contains("world-writable") && why.contains("compiling in memory"),
        "{why}"
    );
    let witness = Witness::start(&runtime).await;
    assert_eq!(
        runtime.load(rustyray_tests::ACTOR_FIXTURES).await?.cache,
        CacheOutcome::Refused
    );
    assert!(
        cache_artifacts(&shared).is_empty(),
        "nothing was written there"
    );
    witness.check(&runtime).await;
    drop(runtime);

    // Owned by another user: refused (this needs the right to give a directory
    // away, which the CI's root has; elsewhere that half is skipped, saying so).
    let foreign = common::fresh_dir("cache-foreign");
    match std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)) {
        Ok(()) => {
            let runtime = Runtime::builder()
                .max_instances(256)
                .max_actors(256)
                .cache_dir(Some(foreign.clone()))
                .build()?;
            let why = runtime.cache_refused().expect("refused").to_string();
            assert!(why.contains("owned by uid 65534"), "{why}");
            assert_eq!(
                runtime.load(rustyray_tests::FIXTURES).await?.cache,
                CacheOutcome::Refused
            );
            common::assert_adds(&runtime, 4, 5).await?;
        }
        Err(err) => eprintln!("skipping the foreign-owner case: chown: {err}"),
    }

    // The CLI says so on stderr, and runs the program anyway.
    let output = crate::cli_sandbox::run_with_cache(
        &["run", rustyray_tests::HOSTILE, "--quiet-tasks"],
        &shared,
    );
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{err}");
    assert!(
        err.contains("warning: compile cache") && err.contains("world-writable"),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn a_grant_covering_the_cache_is_refused() -> Result<()> {
    let cache = common::fresh_dir("cache-granted");
    let inside = cache.join("artifacts");
    let runtime = hostile_runtime(
        Runtime::builder()
            .max_instances(256)
            .max_actors(256)
            .cache_dir(Some(cache.clone())),
    )
    .await;
    let witness = Witness::start(&runtime).await;
    let parent = cache.parent().expect("a parent").to_path_buf();
    for (grant, access) in [
        (&cache, DirAccess::ReadWrite),
        (&inside, DirAccess::ReadWrite),
        (&parent, DirAccess::ReadOnly),
    ] {
        let caps = Capabilities::new().dir(grant, "/cache", access);
        match runtime
            .task("canary")
            .arg(1u32)
            .capabilities(caps.clone())
            .submit_now::<u64>(&runtime)
        {
            Err(RayError::GrantCoversCache {
                grant: named,
                cache: covered,
            }) => {
                assert_eq!(&named, grant);
                assert_eq!(covered, cache.canonicalize().expect("canonical"));
            }
            other => panic!(
                "a task granted {}: expected GrantCoversCache, got {other:?}",
                grant.display()
            ),
        }
        match runtime
            .actor("Fragile")
            .capabilities(caps.clone())
            .create()
            .await
        {
            Err(RayError::GrantCoversCache { .. }) => {}
            other => panic!(
                "an actor granted {}: expected GrantCoversCache, got {other:?}",
                grant.display()
            ),
        }
        match Runtime::builder()
            .max_instances(256)
            .max_actors(256)
            .cache_dir(Some(cache.clone()))
            .capabilities(caps)
            .build()
        {
            Err(err @ RayError::GrantCoversCache { .. }) => {
                assert!(
                    err.to_string().contains("covers the compile cache"),
                    "{err}"
                );
            }
            other => panic!(
                "a runtime granted {}: expected GrantCoversCache, got {:?}",
                grant.display(),
                other.err()
            ),
        }
    }
    // A directory beside the cache is fine.
    let beside = common::fresh_dir("cache-beside");
    let ok = runtime
        .task("list_dir")
        .arg("/data")
        .capabilities(Capabilities::new().dir(&beside, "/data", DirAccess::ReadWrite))
        .submit_now::<Vec<String>>(&runtime)?;
    assert_eq!(
        within(SHORT, "list_dir", ok.get()).await?,
        Vec::<String>::new()
    );
    witness.check(&runtime).await;

    // And from the command line.
    let grant = format!("{}:/cache", cache.display());
    let output = crate::cli_sandbox::run_with_cache(
        &["run", rustyray_tests::HOSTILE, "--dir", &grant],
        &cache,
    );
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(err.contains("covers the compile cache"), "{err}");
    Ok(())
}

#[tokio::test]
async fn components_failing_their_checks_are_not_cached() -> Result<()> {
    let cache = common::fresh_dir("cache-unchecked");
    let runtime = hostile_runtime(
        Runtime::builder()
            .max_instances(256)
            .max_actors(256)
            .cache_dir(Some(cache.clone())),
    )
    .await;
    let witness = Witness::start(&runtime).await;
    let cached = cache_artifacts(&cache);
    for refused in [
        rustyray_tests::OTHER_WORLD,
        rustyray_tests::DUPLICATE_EXPORTS,
    ] {
        assert!(
            matches!(
                runtime.load(refused).await,
                Err(RayError::InvalidModule { .. })
            ),
            "{refused} is refused"
        );
    }
    assert_eq!(cache_artifacts(&cache), cached, "nothing more was cached");
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn the_cache_is_bounded_and_evicts_the_least_recently_used() -> Result<()> {
    let cache = common::fresh_dir("cache-bounded");
    let (runtime, _) = runtime_on_cache(&cache).await;
    drop(runtime);
    let sizes: Vec<u64> = cache_artifacts(&cache)
        .iter()
        .map(|path| std::fs::metadata(path).expect("size").len())
        .collect();
    let bound: u64 = sizes.iter().sum::<u64>() - 1;
    let before = cache_artifacts(&cache);
    let runtime = hostile_runtime(
        Runtime::builder()
            .max_instances(256)
            .max_actors(256)
            .cache_dir(Some(cache.clone()))
            .cache_max_bytes(bound),
    )
    .await;
    let witness = Witness::start(&runtime).await;
    assert_eq!(
        runtime.load(rustyray_tests::ACTOR_FIXTURES).await?.cache,
        CacheOutcome::Miss
    );
    let after = cache_artifacts(&cache);
    let total: u64 = after
        .iter()
        .map(|path| std::fs::metadata(path).expect("size").len())
        .sum();
    assert!(total <= bound, "{total} bytes kept, bound {bound}");
    assert!(
        after.len() < before.len() + 1,
        "something was evicted: {after:?}"
    );
    assert!(
        after.iter().any(|path| !before.contains(path)),
        "the newest artifact is kept: {after:?}"
    );
    witness.check(&runtime).await;
    // A bound of one byte keeps nothing, and every load still works.
    drop(runtime);
    let tiny = Runtime::builder()
        .max_instances(256)
        .max_actors(256)
        .cache_dir(Some(cache.clone()))
        .cache_max_bytes(1)
        .build()?;
    tiny.load(rustyray_tests::FIXTURES).await?;
    assert!(cache_artifacts(&cache).is_empty());
    common::assert_adds(&tiny, 1, 1).await?;
    Ok(())
}

// ---- No task can abort the host (issue 9, point 2). ----

#[tokio::test]
async fn a_fifty_thousand_deep_failure_chain_is_dropped_and_reported() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    // Built by a guest: the chain's last reference dies with the guest's instance,
    // on its fiber's stack, which recursion along the chain used to overflow (SIGABRT).
    let chain = runtime
        .task("failure_chain")
        .arg(50_000u32)
        .submit_now::<String>(&runtime)?;
    let message = within(LONG, "the guest's chain", chain.get()).await?;
    assert!(message.contains("the root cause"), "{message}");
    drop(chain);

    // Built by the host: the chain's error is walked, formatted and dropped here.
    let mut last = runtime.task("fail_now").submit_now::<u64>(&runtime)?;
    for _ in 0..50_000 {
        last = runtime
            .task("pass_on")
            .arg_ref(&last)
            .submit_now::<u64>(&runtime)?;
    }
    let err = within(LONG, "the host's chain", last.get())
        .await
        .expect_err("the chain fails");
    assert_eq!(err.chain().count(), 50_001);
    assert!(
        matches!(err.root_cause(), RayError::Application { message, .. } if message == "the root cause"),
        "{err}"
    );
    assert!(err.to_string().ends_with("the root cause"), "{err}");
    assert!(format!("{err:?}").contains("links: 50000"));
    drop(err);
    drop(last);
    witness.check(&runtime).await;
    Ok(())
}

// ---- Nothing a guest names reaches a terminal raw (issue 9, point 6). ----

/// Fails if `bytes` hold a control character other than newline and tab (or a C1
/// control, or a bidirectional override), which a terminal would act on.
fn assert_no_terminal_controls(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{what} sent {bad:?} to the terminal:\n{text}"
    );
}

#[tokio::test]
async fn guest_chosen_text_reaches_the_terminal_escaped() -> Result<()> {
    // A canary runs beside the CLI runs, in a runtime of its own.
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;

    let inspect = crate::cli_sandbox::run(&["inspect", rustyray_tests::HOSTILE], b"");
    assert!(inspect.status.success());
    assert_no_terminal_controls("inspect", &inspect.stdout);
    assert_no_terminal_controls("inspect's stderr", &inspect.stderr);
    let listing = String::from_utf8_lossy(&inspect.stdout);
    assert!(listing.contains("evil_name"), "{listing}");

    let run = crate::cli_sandbox::run(&["run", rustyray_tests::HOSTILE, "--", "--escape"], b"");
    assert!(!run.status.success(), "the program fails on purpose");
    assert_no_terminal_controls("run's stdout", &run.stdout);
    assert_no_terminal_controls("run's stderr", &run.stderr);
    let out = String::from_utf8_lossy(&run.stdout);
    let err = String::from_utf8_lossy(&run.stderr);
    // Shown, escaped: the task's prefix and line, the program's own line, its error.
    assert!(
        out.contains("evil\\u{1b}[2J\\u{1b}]0;pwned\\u{7}] task says \\u{1b}[31mred"),
        "{out}"
    );
    assert!(out.contains("main says task says"), "{out}");
    assert!(err.contains("main warns \\u{9b}2J"), "{err}");
    assert!(
        err.split_once("rustyray: error:")
            .is_some_and(|(_, cli)| cli.contains("failing with \\u{1b}[2J in the message")),
        "the CLI's error line, escaped: {err}"
    );
    witness.check(&runtime).await;
    Ok(())
}

// ---- Smaller ones (issue 9, point 8). ----

#[tokio::test]
async fn duplicate_export_names_are_refused_naming_both() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    match runtime.load(rustyray_tests::DUPLICATE_EXPORTS).await {
        Err(RayError::InvalidModule { message, .. }) => {
            assert!(
                message.contains("two functions named \"twin\""),
                "{message}"
            );
            assert!(
                message.contains("twin_adds") && message.contains("twin_shouts"),
                "names both: {message}"
            );
        }
        other => panic!("expected InvalidModule, got {other:?}"),
    }
    // Refused at submission, or (were it queued) when it runs: either way not found.
    let twin = match runtime
        .task("twin")
        .arg(1u64)
        .arg(2u64)
        .submit_now::<u64>(&runtime)
    {
        Ok(result) => result.get().await,
        Err(err) => Err(err),
    };
    assert!(
        matches!(twin, Err(RayError::FunctionNotFound(_))),
        "nothing of it was registered: {twin:?}"
    );
    witness.check(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn symlinks_leaving_a_read_write_grant_cannot_be_created() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    let dir = common::fresh_dir("symlinks");
    let grant = Capabilities::new().dir(&dir, "/data", DirAccess::ReadWrite);
    let symlink = |target: &str, link: &str| {
        runtime
            .task("make_symlink")
            .arg(target)
            .arg(link)
            .capabilities(grant.clone())
            .submit_now::<()>(&runtime)
    };
    for (target, link) in [
        ("../../../../../../etc/passwd", "/data/escape"),
        ("..", "/data/parent"),
        ("sub/../../outside", "/data/sneaky"),
        ("/etc/passwd", "/data/absolute"),
    ] {
        match within(SHORT, "make_symlink", symlink(target, link)?.get()).await {
            Err(RayError::Application { message, .. }) => {
                assert!(
                    message.contains("not permitted"),
                    "{link} -> {target}: {message}"
                );
            }
            other => panic!("{link} -> {target}: expected a refusal, got {other:?}"),
        }
        let on_host = dir.join(link.trim_start_matches("/data/"));
        assert!(
            std::fs::symlink_metadata(&on_host).is_err(),
            "{} exists on the host",
            on_host.display()
        );
    }
    // Links that stay inside are still fine.
    std::fs::write(dir.join("inside.txt"), "in").expect("write");
    within(
        SHORT,
        "make_symlink",
        symlink("inside.txt", "/data/ok")?.get(),
    )
    .await?;
    assert_eq!(
        std::fs::read_link(dir.join("ok")).expect("the link"),
        PathBuf::from("inside.txt")
    );
    witness.check(&runtime).await;
    Ok(())
}

/// Whether process `pid` is still running (not gone, not a zombie).
fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[tokio::test]
async fn sigterm_during_a_build_stops_the_compilers() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    // A guest crate whose build script writes its pid and then never ends.
    let krate = common::fresh_dir("slow-build");
    let marker = krate.join("build-script.pid");
    std::fs::create_dir_all(krate.join("src")).expect("src");
    std::fs::write(
        krate.join("Cargo.toml"),
        "[package]\nname = \"slow_build\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [lib]\ncrate-type = [\"cdylib\"]\n\n[workspace]\n",
    )
    .expect("Cargo.toml");
    std::fs::write(krate.join("src/lib.rs"), "").expect("lib.rs");
    std::fs::write(
        krate.join("build.rs"),
        format!(
            "fn main() {{\n    std::fs::write({:?}, std::process::id().to_string()).unwrap();\n    \
             loop {{ std::thread::sleep(std::time::Duration::from_secs(1)); }}\n}}\n",
            marker.display().to_string()
        ),
    )
    .expect("build.rs");
    let mut rustyray = std::process::Command::new(env!("CARGO_BIN_EXE_rustyray"))
        .arg("run")
        .arg(&krate)
        .env("CARGO_TARGET_DIR", krate.join("target"))
        .env("RUSTYRAY_CACHE_DIR", common::cache_dir())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting rustyray");
    let started = Instant::now();
    let build_script: u32 = loop {
        if let Some(pid) = std::fs::read_to_string(&marker)
            .ok()
            .and_then(|text| text.trim().parse().ok())
        {
            break pid;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the build script never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(process_alive(build_script));
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(rustyray.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = rustyray.wait().expect("rustyray ends");
    assert!(!exit.success(), "{exit:?}");
    let stopped = common::eventually(SHORT, || !process_alive(build_script)).await;
    if !stopped {
        let _ = std::process::Command::new("kill")
            .arg("-KILL")
            .arg(build_script.to_string())
            .status();
    }
    assert!(stopped, "the build script outlived rustyray");
    witness.check(&runtime).await;
    Ok(())
}

/// Reads through an object reference at any offset and length: cut at the object's end,
/// or refused with a typed error, never more than the object; the runtime goes on.
#[tokio::test]
async fn object_reads_out_of_range_are_cut_or_refused() -> rustyray::Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    let object = runtime.put_bytes(bytes::Bytes::from(vec![3u8; 4096]))?;
    let read = |offset: u64, len: u64| {
        runtime
            .task("read_anywhere")
            .arg_object(&object)
            .arg(offset)
            .arg(len)
            .submit_now::<String>(&runtime)
    };
    let cases = [
        (0, u64::MAX, "ok 4096"),
        (4000, u64::MAX, "ok 96"),
        (4096, 10, "ok 0"),
        (u64::MAX, u64::MAX, "err BadArguments"),
        (4097, 1, "err BadArguments"),
        (1 << 40, 1 << 40, "err BadArguments"),
    ];
    for (offset, len, expected) in cases {
        let answer = within(SHORT, "read_anywhere", read(offset, len)?.get()).await?;
        assert!(
            answer.starts_with(expected),
            "read({offset}, {len}): {answer}"
        );
        if expected.starts_with("err") {
            assert!(answer.contains("past its end"), "{answer}");
        }
    }
    // The canary ran through it; the object is intact.
    witness.check(&runtime).await;
    assert_eq!(object.get().await?, vec![3u8; 4096]);
    Ok(())
}
