//! Ray-parity scenarios that run inside a guest: each `#[remote]` function here exercises
//! one behaviour a Ray user relies on, through the public SDK only, and returns `Ok` or
//! what went wrong. `tests/all/parity.rs` runs them, one test per Ray test they follow.

use std::time::Duration;

use rustyray::{ObjectRef, RayError};

mod refs;

/// `Err` with a message when `condition` does not hold.
fn check(condition: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(what()) }
}

fn ray(error: RayError) -> String {
    format!("unexpected error: {error}")
}

#[rustyray::remote]
fn greet(name: String) -> String {
    format!("hello {name}")
}

#[rustyray::remote]
fn total(values: Vec<u64>) -> u64 {
    values.iter().sum()
}

#[rustyray::remote]
fn spin_forever() -> u64 {
    let mut n = 0u64;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

#[rustyray::remote]
fn one_more(x: u64) -> u64 {
    x + 1
}

#[rustyray::remote]
fn fails(message: String) -> Result<u64, String> {
    Err(message)
}

/// Arguments infer like a plain call: `&str` for `String`, slices and arrays for `Vec`,
/// references to values, and collected iterators with their type named.
#[allow(
    clippy::needless_borrows_for_generic_args,
    reason = "the borrowed forms are what this checks"
)]
#[rustyray::remote]
fn test_remote_arguments_infer_like_a_plain_call() -> Result<(), String> {
    let owned = String::from("owned");
    let answers = [
        greet::remote("text").get().map_err(ray)?,
        greet::remote(&owned).get().map_err(ray)?,
        greet::remote(owned.clone()).get().map_err(ray)?,
        greet::remote(format!("fmt {}", 1)).get().map_err(ray)?,
    ];
    check(
        answers == ["hello text", "hello owned", "hello owned", "hello fmt 1"],
        || format!("{answers:?}"),
    )?;
    let v = vec![1u64, 2, 3];
    let sums = [
        total::remote([1, 2, 3]).get().map_err(ray)?,
        total::remote(&[1, 2, 3]).get().map_err(ray)?,
        total::remote(&v[..]).get().map_err(ray)?,
        total::remote(&v).get().map_err(ray)?,
        total::remote((1..=3).collect::<Vec<_>>())
            .get()
            .map_err(ray)?,
        total::remote(v).get().map_err(ray)?,
    ];
    check(sums == [6; 6], || format!("{sums:?}"))?;
    let refs: Vec<ObjectRef<u64>> = (0..3u64).map(one_more::remote).collect();
    let ones = rustyray::get_all(&refs).map_err(ray)?;
    check(ones == [1, 2, 3], || format!("{ones:?}"))
}

/// Ray's `test_get_with_timeout`, inside a guest.
#[rustyray::remote]
fn test_get_with_timeout() -> Result<(), String> {
    let spinning = spin_forever::remote();
    match spinning.get_timeout(Duration::from_millis(20)) {
        Err(RayError::GetTimeout { ms: 20 }) => {}
        other => return Err(format!("expected GetTimeout, got {other:?}")),
    }
    // The task went on running: a zero-timeout wait still finds it pending.
    let (ready, not_ready) =
        rustyray::wait(std::slice::from_ref(&spinning), 1, Some(Duration::ZERO)).map_err(ray)?;
    check(ready.is_empty() && not_ready.len() == 1, || {
        "the task stopped after a get timed out".into()
    })?;
    rustyray::cancel(&spinning);
    let quick = one_more::remote(1u64);
    let value = quick.get_timeout(Duration::from_secs(10)).map_err(ray)?;
    check(value == 2, || format!("{value}"))
}

/// Ray's `test_wait`, inside a guest: `(ready, not_ready)` refs, duplicates and
/// `num_returns` out of range refused, an empty list answered at once.
#[rustyray::remote]
fn test_wait() -> Result<(), String> {
    let refs: Vec<ObjectRef<u64>> = (0..4u64).map(one_more::remote).collect();
    let (ready, rest) = rustyray::wait(&refs, 1, None).map_err(ray)?;
    check(ready.len() == 1 && rest.len() == 3, || {
        format!("{} ready, {} not", ready.len(), rest.len())
    })?;
    let (ready, rest) = rustyray::wait(&refs, 4, None).map_err(ray)?;
    check(ready.len() == 4 && rest.is_empty(), || {
        format!("{} ready, {} not", ready.len(), rest.len())
    })?;
    let got = rustyray::get_all(&ready).map_err(ray)?;
    check(got == [1, 2, 3, 4], || format!("{got:?}"))?;

    let mixed = vec![one_more::remote(0u64), spin_forever::remote()];
    let (ready, rest) = rustyray::wait(&mixed, 2, Some(Duration::from_millis(200))).map_err(ray)?;
    check(ready.len() == 1 && rest.len() == 1, || {
        format!("{} ready, {} not", ready.len(), rest.len())
    })?;
    check(rest[0].id() == mixed[1].id(), || {
        "the spinning task is the one not ready".into()
    })?;
    rustyray::cancel(&mixed[1]);

    let x = rustyray::put(&1u64).map_err(ray)?;
    match rustyray::wait(&[x.clone(), x.clone()], 1, None) {
        Err(RayError::InvalidArgument(_)) => {}
        other => {
            return Err(format!(
                "duplicates: expected InvalidArgument, got {other:?}"
            ));
        }
    }
    for n in [0, 3] {
        match rustyray::wait(&[x.clone(), refs[0].clone()], n, None) {
            Err(RayError::InvalidArgument(_)) => {}
            other => {
                return Err(format!(
                    "num_returns {n}: expected InvalidArgument, got {other:?}"
                ));
            }
        }
    }
    let empty: Vec<ObjectRef<u64>> = Vec::new();
    let (ready, rest) = rustyray::wait(&empty, 1, None).map_err(ray)?;
    check(ready.is_empty() && rest.is_empty(), || "empty wait".into())
}

/// `ray.get([...])` fails fast: a failing task among spinning ones gives its error at once.
#[rustyray::remote]
fn test_get_multiple_fails_fast() -> Result<(), String> {
    let refs = vec![
        spin_forever::remote(),
        fails::remote("boom"),
        spin_forever::remote(),
    ];
    let result = rustyray::get_all(&refs);
    for r in &refs {
        rustyray::cancel(r);
    }
    match result {
        Err(RayError::Application(message)) if message.contains("boom") => Ok(()),
        other => Err(format!("expected the application error, got {other:?}")),
    }
}

/// A tally other tasks bump, to count how many times a retried task ran.
#[rustyray::actor]
#[derive(Default)]
pub struct Tally {
    count: u32,
}

#[rustyray::actor]
impl Tally {
    pub fn new() -> Self {
        Tally::default()
    }

    pub fn bump(&mut self) -> u32 {
        self.count += 1;
        self.count
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// Waits (polling) until `gate` has been bumped: a call that stays pending.
    pub fn wait_gate(&mut self, gate: TallyHandle) -> Result<u32, RayError> {
        while gate.count().get()? == 0 {}
        Ok(self.count)
    }

    /// Ends the actor for good (Ray's `exit_actor`).
    pub fn quit(&mut self) -> u32 {
        rustyray::exit_actor()
    }

    /// `std::process::exit` in a method: the same as `exit_actor`.
    pub fn exit_process(&mut self) -> u32 {
        std::process::exit(3)
    }
}

/// Traps (a system failure) on its first `fail_times` runs, counted by `tally`.
#[rustyray::remote]
fn flaky_trap(tally: TallyHandle, fail_times: u32) -> Result<u32, RayError> {
    let run = tally.bump().get()?;
    if run <= fail_times {
        panic!("flaky system failure on run {run}");
    }
    Ok(run)
}

/// Returns `Err` (an application error) on its first `fail_times` runs.
#[rustyray::remote]
fn flaky_error(tally: TallyHandle, fail_times: u32) -> Result<u32, String> {
    let run = tally.bump().get().map_err(|e| e.to_string())?;
    if run <= fail_times {
        return Err(format!("flaky application error on run {run}"));
    }
    Ok(run)
}

/// Ray's `test_failure.py::test_retry_system_level_error`: a task whose instance dies
/// (a trap) is retried, 3 times by default; `max_retries(0)` turns that off.
#[rustyray::remote]
fn test_retry_system_level_error() -> Result<(), String> {
    let tally = Tally::remote();
    let run = flaky_trap::remote(tally.clone(), 3u32).get().map_err(ray)?;
    check(run == 4, || format!("succeeded on run {run}, expected 4"))?;

    let tally = Tally::remote();
    match flaky_trap::remote(tally.clone(), 4u32).get() {
        Err(RayError::Trap { message, .. }) if message.contains("run 4") => {}
        other => {
            return Err(format!(
                "4 failures > 3 retries: expected a trap, got {other:?}"
            ));
        }
    }
    let tally = Tally::remote();
    let once = flaky_trap::remote_with(
        rustyray::TaskOptions::new().max_retries(0),
        tally.clone(),
        1u32,
    );
    match once.get() {
        Err(RayError::Trap { .. }) => {}
        other => return Err(format!("max_retries(0): expected a trap, got {other:?}")),
    }
    let runs = tally.count().get().map_err(ray)?;
    check(runs == 1, || format!("max_retries(0) ran {runs} times"))
}

/// Ray's `test_failure.py::test_retry_application_level_error`: an `Err` is not retried
/// unless `retry_exceptions` is set, then up to `max_retries` times.
#[rustyray::remote]
fn test_retry_application_level_error() -> Result<(), String> {
    let tally = Tally::remote();
    match flaky_error::remote(tally.clone(), 1u32).get() {
        Err(RayError::Application(message)) if message.contains("run 1") => {}
        other => {
            return Err(format!(
                "no retry_exceptions: expected the error, got {other:?}"
            ));
        }
    }
    let tally = Tally::remote();
    let options = rustyray::TaskOptions::new()
        .retry_exceptions(true)
        .max_retries(2);
    let run = flaky_error::remote_with(options.clone(), tally.clone(), 2u32)
        .get()
        .map_err(ray)?;
    check(run == 3, || format!("succeeded on run {run}, expected 3"))?;
    let tally = Tally::remote();
    match flaky_error::remote_with(options, tally.clone(), 3u32).get() {
        Err(RayError::Application(message)) if message.contains("run 3") => Ok(()),
        other => Err(format!(
            "3 failures > 2 retries: expected the error, got {other:?}"
        )),
    }
}

/// A transient error type, retried by type; any other type is not.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub enum Transient {
    Flaky(u32),
}

impl std::fmt::Display for Transient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

/// Fails with `Transient` on its first `fail_times` runs.
#[rustyray::remote]
fn flaky_typed(tally: TallyHandle, fail_times: u32) -> Result<u32, Transient> {
    let run = tally.bump().get().unwrap_or(0);
    if run <= fail_times {
        return Err(Transient::Flaky(run));
    }
    Ok(run)
}

/// Ray's `test_failure.py::test_retry_application_level_error` with
/// `retry_exceptions=[MyError]`: only errors of the listed types are retried; an error
/// of another type fails the task on its first run.
#[rustyray::remote]
fn test_retry_application_level_error_of_listed_types() -> Result<(), String> {
    let tally = Tally::remote();
    let listed = rustyray::TaskOptions::new()
        .retry_exceptions_of::<Transient>()
        .max_retries(3);
    let run = flaky_typed::remote_with(listed, tally.clone(), 2u32)
        .get()
        .map_err(ray)?;
    check(run == 3, || {
        format!("a listed type: succeeded on run {run}, expected 3")
    })?;
    let tally = Tally::remote();
    let other = rustyray::TaskOptions::new()
        .retry_exceptions_of::<std::num::ParseIntError>()
        .max_retries(3);
    match flaky_typed::remote_with(other, tally.clone(), 2u32).get() {
        Err(err) if err.downcast::<Transient>().is_some() => {}
        other => {
            return Err(format!(
                "an unlisted type: expected Transient, got {other:?}"
            ));
        }
    }
    let runs = tally.count().get().map_err(ray)?;
    check(runs == 1, || {
        format!("an unlisted type was retried: {runs} runs")
    })?;
    let tally = Tally::remote();
    let by_name = rustyray::TaskOptions::new()
        .retry_exception_type(std::any::type_name::<Transient>())
        .max_retries(1);
    let run = flaky_typed::remote_with(by_name, tally.clone(), 1u32)
        .get()
        .map_err(ray)?;
    check(run == 2, || {
        format!("by name: succeeded on run {run}, expected 2")
    })
}

#[rustyray::remote(num_returns = 2)]
fn min_max(values: Vec<i64>) -> (i64, i64) {
    let low = values.iter().copied().min().unwrap_or(0);
    let high = values.iter().copied().max().unwrap_or(0);
    (low, high)
}

/// Ray's `test_basic.py::test_multiple_return_values` through `f.options(num_returns=k)`:
/// a function named at run time, split into `k` objects; a wrong `k` fails them all.
#[rustyray::remote]
fn test_num_returns_by_name() -> Result<(), String> {
    let min_max = rustyray::function("min_max");
    let refs = min_max.remote_returns(vec![rustyray::arg(vec![3i64, -1, 7])], 2);
    check(refs.len() == 2, || format!("{} references", refs.len()))?;
    let low: i64 = refs[0].clone().cast::<i64>().get().map_err(ray)?;
    let high: i64 = refs[1].clone().cast::<i64>().get().map_err(ray)?;
    check((low, high) == (-1, 7), || format!("({low}, {high})"))?;
    let wrong = min_max.remote_returns(vec![rustyray::arg(vec![1i64])], 3);
    for object in wrong {
        if object.cast::<i64>().get().is_ok() {
            return Err("a result of another length gave a value".into());
        }
    }
    let none = min_max.remote_returns(vec![rustyray::arg(vec![1i64])], 0);
    check(none.is_empty(), || {
        "num_returns = 0 gave references".to_string()
    })
}

/// Submits a task that never ends and waits for it: cancelling this task must cancel
/// that one too (Ray's recursive cancel).
#[rustyray::remote]
fn spawn_spinner_and_wait() -> u64 {
    let child = spin_forever::remote();
    child.get().unwrap_or(0)
}

#[rustyray::remote]
fn always_panics() -> u64 {
    panic!("the root cause")
}

/// Ray re-raises the root cause in a dependent's `get`: the kind survives a chain of
/// dependencies (a trap stays a trap, a cancel stays `Cancelled`), in a guest.
#[rustyray::remote]
fn test_dependent_sees_the_root_cause() -> Result<(), String> {
    let root = always_panics::remote_with(rustyray::TaskOptions::new().max_retries(0));
    let child = one_more::remote(&root);
    let grandchild = one_more::remote(&child);
    match grandchild.get() {
        Err(RayError::Trap { message, .. }) if message.contains("the root cause") => {}
        other => return Err(format!("expected the root trap, got {other:?}")),
    }
    let spinning = spin_forever::remote();
    let dependent = one_more::remote(&spinning);
    rustyray::cancel(&spinning);
    match dependent.get() {
        Err(RayError::Cancelled) => Ok(()),
        other => Err(format!("expected Cancelled, got {other:?}")),
    }
}

/// Hostile: sends `calls` calls to `tally` without waiting for any; returns how many the
/// runtime refused (past the actor's `max_pending_calls`) and how many it ran.
#[rustyray::remote]
fn flood(tally: TallyHandle, calls: u32) -> (u32, u32) {
    let sent: Vec<ObjectRef<u32>> = (0..calls).map(|_| tally.bump()).collect();
    let mut refused = 0;
    let mut ran = 0;
    for call in &sent {
        match call.get() {
            Ok(_) => ran += 1,
            Err(RayError::LimitExceeded { limit, .. }) if limit == "max_pending_calls" => {
                refused += 1
            }
            Err(other) => panic!("unexpected: {other}"),
        }
    }
    (refused, ran)
}

/// An actor whose constructor crashes (traps) on its first `fail_times` runs, counted by
/// `tally`.
#[rustyray::actor]
pub struct Fickle {
    run: u32,
}

#[rustyray::actor]
impl Fickle {
    pub fn new(tally: TallyHandle, fail_times: u32) -> Self {
        let run = tally.bump().get().expect("the tally answers");
        if run <= fail_times {
            panic!("constructor crash on run {run}");
        }
        Fickle { run }
    }

    /// Which run of the constructor made this instance.
    pub fn run(&self) -> u32 {
        self.run
    }
}

/// Ray's `test_actor_failures.py::test_actor_init_fails`-style restarts: an actor whose
/// creation crashes is restarted up to `max_restarts`, like any crash; with too few
/// restarts every call fails with `ActorDied` naming the crash.
#[rustyray::remote]
fn test_actor_restart_after_constructor_crash() -> Result<(), String> {
    let tally = Tally::remote();
    let actor = Fickle::remote_with(
        rustyray::ActorOptions::new().max_restarts(2),
        tally.clone(),
        2u32,
    );
    let run = actor.run().get().map_err(ray)?;
    check(run == 3, || {
        format!("the third construction served, not run {run}")
    })?;

    let tally = Tally::remote();
    let doomed = Fickle::remote_with(
        rustyray::ActorOptions::new().max_restarts(1),
        tally.clone(),
        5u32,
    );
    match doomed.run().get() {
        Err(RayError::ActorDied(reason)) if reason.contains("constructor crash on run 2") => {}
        other => {
            return Err(format!(
                "expected ActorDied naming the crash, got {other:?}"
            ));
        }
    }
    let runs = tally.count().get().map_err(ray)?;
    check(runs == 2, || {
        format!("ran the constructor {runs} times, expected 2")
    })
}

/// An error type of this program's own, as a Ray user raises their exception class.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum CustomError {
    Failed { code: u32 },
    Refused(String),
}

impl std::fmt::Display for CustomError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CustomError::Failed { code } => write!(f, "This function failed with code {code}."),
            CustomError::Refused(why) => write!(f, "refused: {why}"),
        }
    }
}

#[rustyray::remote]
fn throw_custom(code: u32) -> Result<u64, CustomError> {
    Err(CustomError::Failed { code })
}

/// Gets `r` inside the task and hands its error on as it is (`?`).
#[rustyray::remote]
fn get_inside(r: ObjectRef<u64>) -> Result<u64, RayError> {
    r.get()
}

/// A typed actor error.
#[rustyray::actor]
pub struct Vault {
    open: bool,
}

#[rustyray::actor]
impl Vault {
    pub fn new(open: bool) -> Result<Self, CustomError> {
        Ok(Vault { open })
    }

    pub fn take(&self, amount: u64) -> Result<u64, CustomError> {
        if self.open {
            Ok(amount)
        } else {
            Err(CustomError::Refused(format!("vault closed, {amount} kept")))
        }
    }
}

/// Ray's `test_failure.py::test_failed_task`: the custom exception a task raises is
/// re-raised as itself (`isinstance(e, CustomException)`): here the `Err` value keeps
/// its type and value, and `downcast` gives it back, from a task, an actor method, a
/// dependent and a task that got it through a nested `get`.
#[rustyray::remote]
fn test_failed_task() -> Result<(), String> {
    let expected = CustomError::Failed { code: 7 };
    let err = match throw_custom::remote(7u32).get() {
        Err(err) => err,
        Ok(value) => return Err(format!("expected an error, got {value}")),
    };
    match &err {
        RayError::Application(app) => {
            check(app.contains("This function failed"), || format!("{app}"))?;
            check(
                app.type_name() == Some(std::any::type_name::<CustomError>()),
                || format!("type {:?}", app.type_name()),
            )?;
            check(app.is::<CustomError>(), || "is::<CustomError>".into())?;
        }
        other => return Err(format!("expected an application error, got {other:?}")),
    }
    check(
        err.downcast::<CustomError>() == Some(expected.clone()),
        || format!("downcast gave {:?}", err.downcast::<CustomError>()),
    )?;
    check(err.downcast::<String>().is_none(), || {
        "downcast to another type".into()
    })?;
    // Seen by a dependent (its root cause) and through a nested get (`?`).
    let failing = throw_custom::remote(7u32);
    for (what, result) in [
        ("a dependent", one_more::remote(&failing).get()),
        ("a nested get", get_inside::remote(&failing).get()),
    ] {
        match result {
            Err(err) => check(
                err.downcast::<CustomError>() == Some(expected.clone()),
                || format!("{what}: {err:?}"),
            )?,
            Ok(value) => return Err(format!("{what}: expected an error, got {value}")),
        }
    }
    // An actor method's error, typed too.
    let vault = Vault::remote(false);
    match vault.take(5u64).get() {
        Err(err) => check(
            err.downcast::<CustomError>()
                == Some(CustomError::Refused("vault closed, 5 kept".into())),
            || format!("{err:?}"),
        ),
        Ok(value) => Err(format!("expected the vault to refuse, got {value}")),
    }
}

/// Ray re-raises the cause's own kind through a nested `ray.get`: a task that gets a
/// trapped task's result inside and returns that error hands on a trap, not an
/// application error; a cancelled one stays `Cancelled`.
#[rustyray::remote]
fn test_failed_task_through_a_nested_get() -> Result<(), String> {
    let root = always_panics::remote_with(rustyray::TaskOptions::new().max_retries(0));
    match get_inside::remote(&root).get() {
        Err(RayError::Trap { message, .. }) if message.contains("the root cause") => {}
        other => return Err(format!("expected the root trap, got {other:?}")),
    }
    // Two levels: the trap through a task that got a task that got it.
    let inner = get_inside::remote(&root);
    match get_inside::remote(&inner).get() {
        Err(RayError::Trap { message, .. }) if message.contains("the root cause") => {}
        other => return Err(format!("two levels: expected the root trap, got {other:?}")),
    }
    let spinning = spin_forever::remote();
    let waiting = get_inside::remote(&spinning);
    rustyray::cancel(&spinning);
    match waiting.get() {
        Err(RayError::Cancelled) => Ok(()),
        other => Err(format!("expected Cancelled, got {other:?}")),
    }
}

/// Ray's `test_actor_failures.py::test_actor_restart` with `ray.kill(actor,
/// no_restart=False)`, from a guest: the actor restarts from its constructor, using a
/// restart; with none left the kill is final; `kill_with(true)` is `kill`.
#[rustyray::remote]
fn test_actor_restart_kill_no_restart_false() -> Result<(), String> {
    let tally = Tally::remote_with(rustyray::ActorOptions::new().max_restarts(1));
    tally.bump().get().map_err(ray)?;
    let two = tally.bump().get().map_err(ray)?;
    check(two == 2, || format!("{two}"))?;
    tally.kill_with(false);
    let fresh = tally.bump().get().map_err(ray)?;
    check(fresh == 1, || {
        format!("restarted from its constructor: expected 1, got {fresh}")
    })?;
    tally.kill_with(false);
    match tally.bump().get() {
        Err(RayError::ActorDied(_)) => {}
        other => {
            return Err(format!(
                "no restarts left: expected ActorDied, got {other:?}"
            ));
        }
    }
    let other = Tally::remote_with(rustyray::ActorOptions::new().max_restarts(5));
    other.bump().get().map_err(ray)?;
    other.kill_with(true);
    match other.bump().get() {
        Err(RayError::ActorDied(_)) => Ok(()),
        other => Err(format!("no_restart: expected ActorDied, got {other:?}")),
    }
}

/// Ray's `test_failure.py::test_incorrect_method_calls`, from a guest, through the untyped
/// API (the typed one is checked by the compiler): a wrong argument count for a
/// constructor or a method, or an unknown method, fails at once and nothing runs; an
/// option out of range fails the creation (Ray's `ValueError`).
#[rustyray::remote]
fn test_incorrect_method_calls() -> Result<(), String> {
    use rustyray::{ActorHandle, ActorOptions, arg};
    let refused = ActorHandle::create("Tally", ActorOptions::new(), vec![arg(1u32)]);
    match refused.ready() {
        Err(RayError::BadArguments(message)) if message.contains("takes 0 arguments") => {}
        other => return Err(format!("a constructor with too many: {other:?}")),
    }
    let tally = ActorHandle::create("Tally", ActorOptions::new(), vec![]);
    tally.ready().map_err(ray)?;
    match tally.call::<u32>("bump", vec![arg(1u32)]).get() {
        Err(RayError::BadArguments(message)) if message.contains("Tally.bump") => {}
        other => return Err(format!("a method with too many: {other:?}")),
    }
    match tally.call::<u32>("nonexistent_method", vec![]).get() {
        Err(RayError::FunctionNotFound(name)) if name.contains("nonexistent_method") => {}
        other => return Err(format!("an unknown method: {other:?}")),
    }
    match tally.tell("bump", vec![arg(1u32), arg(2u32)]) {
        Ok(()) => {}
        Err(other) => return Err(format!("tell sends nothing back: {other:?}")),
    }
    let count: u32 = tally.call("count", vec![]).get().map_err(ray)?;
    check(count == 0, || format!("a refused call ran: count {count}"))?;
    let bad = Tally::remote_with(ActorOptions::new().max_task_retries(1));
    match bad.ready() {
        Err(RayError::InvalidArgument(message)) if message.contains("max_restarts") => {}
        other => return Err(format!("max_task_retries without restarts: {other:?}")),
    }
    Ok(())
}

/// Polls `gate` until it has been bumped: a dependency that finishes when the test says.
#[rustyray::remote]
fn wait_for_gate(gate: TallyHandle) -> u64 {
    while gate.count().get().unwrap_or(1) == 0 {}
    1
}

#[rustyray::remote]
fn bump_after(_ready: u64, tally: TallyHandle) -> Result<u32, RayError> {
    tally.bump().get()
}

/// Creates a tally, bumps it once and returns its handle (its own handle dies with this
/// task's instance).
#[rustyray::remote]
fn make_tally() -> Result<TallyHandle, RayError> {
    let tally = Tally::remote();
    tally.bump().get()?;
    Ok(tally)
}

/// Ray's `test_actor.py::test_actor_deletion` with the handle in flight: an actor whose
/// only handle sits in a pending task's arguments, inside an object, or in a task's
/// result stays alive while that is so (Ray counts serialized handles as references).
#[rustyray::remote]
fn test_actor_deletion_handles_in_flight() -> Result<(), String> {
    // In a pending task's arguments.
    let gate = Tally::remote();
    let ready = wait_for_gate::remote(gate.clone());
    let tally = Tally::remote();
    let pending = bump_after::remote(&ready, tally.clone());
    drop(tally);
    gate.bump().get().map_err(ray)?;
    let bumped = pending.get().map_err(ray)?;
    check(bumped == 1, || {
        format!("the pending task's tally: {bumped}")
    })?;
    // Inside an object.
    let tally = Tally::remote();
    tally.bump().get().map_err(ray)?;
    let stored = rustyray::put(&vec![tally.clone()]).map_err(ray)?;
    drop(tally);
    let back: Vec<TallyHandle> = stored.get().map_err(ray)?;
    let two = back[0].bump().get().map_err(ray)?;
    check(two == 2, || format!("the stored tally: {two}"))?;
    // In a task's result.
    let made = make_tally::remote().get().map_err(ray)?;
    let two = made.bump().get().map_err(ray)?;
    check(two == 2, || format!("the returned tally: {two}"))
}

/// The async actor of Ray's `test_async_actor_cancel` (`test_actor_cancel.py`): its
/// methods wait on a task that never ends; a cancel reaches them in that wait.
#[rustyray::actor]
#[derive(Default)]
pub struct Sleeper {
    /// Cancels the handler of `f` saw.
    cancelled: u32,
    /// What a `get` after the cancel gave (later waits work as usual).
    after: u32,
}

#[rustyray::actor]
impl Sleeper {
    pub fn new() -> Self {
        Sleeper::default()
    }

    /// Ray's `f`: catches the cancel (`asyncio.CancelledError`), does more work with the
    /// runtime, and returns `true`; its caller gets `Cancelled` all the same.
    pub fn f(&mut self) -> Result<bool, RayError> {
        match spin_forever::remote().get() {
            Err(RayError::Cancelled) => {
                self.cancelled += 1;
                self.after = rustyray::put(&7u32)?.get()?;
                Ok(true)
            }
            Err(other) => Err(other),
            Ok(_) => Ok(false),
        }
    }

    /// Does not catch the cancel: it propagates with `?`.
    pub fn g(&mut self) -> Result<u64, RayError> {
        spin_forever::remote().get()
    }

    /// Waits without a timeout: cancelled, the wait answers `Cancelled`.
    pub fn h(&mut self) -> Result<usize, RayError> {
        let never = spin_forever::remote();
        let (ready, _) = rustyray::wait(&[never], 1, None)?;
        Ok(ready.len())
    }

    /// A method that does not wait: nothing can interrupt it.
    pub fn empty(&self) -> u32 {
        self.cancelled
    }

    /// `(cancels seen by f, what the get after the cancel gave)`.
    pub fn seen(&self) -> (u32, u32) {
        (self.cancelled, self.after)
    }
}

/// Ray's `test_actor.py::test_get_actor_after_killed`: `kill` frees a named actor's name
/// before it returns (`get_actor` finds nothing, a new actor can take the name), while
/// `kill(no_restart=False)` keeps it for the restarted actor.
#[rustyray::remote]
fn test_get_actor_after_killed() -> Result<(), String> {
    use rustyray::ActorOptions;
    let named = ActorOptions::new().name("actor").namespace("namespace");
    let actor = Tally::remote_with(named.clone());
    actor.ready().map_err(ray)?;
    actor.kill();
    check(Tally::get_named_in("namespace", "actor").is_none(), || {
        "a killed actor is still found by its name".to_string()
    })?;
    let again = Tally::remote_with(named);
    again.ready().map_err(ray)?;
    let found = Tally::get_named_in("namespace", "actor").ok_or("the new actor is not found")?;
    check(found.id() == again.id(), || {
        "the name finds another actor".to_string()
    })?;
    let restarting = Tally::remote_with(
        ActorOptions::new()
            .name("actor_2")
            .namespace("namespace")
            .max_restarts(1)
            .max_task_retries(1),
    );
    restarting.bump().get().map_err(ray)?;
    restarting.kill_with(false);
    let same =
        Tally::get_named_in("namespace", "actor_2").ok_or("a restarting actor lost its name")?;
    let fresh = same.bump().get().map_err(ray)?;
    check(fresh == 1, || {
        format!("restarted from its constructor: {fresh}")
    })
}

/// Ray's `test_actor.py::test_max_pending_calls`, from a guest: past the bound a call
/// fails at once with `LimitExceeded` naming `max_pending_calls` (Ray's
/// `PendingCallsLimitExceeded`) and never runs; a bound of 0 is refused at creation.
#[rustyray::remote]
fn test_max_pending_calls_in_a_guest() -> Result<(), String> {
    use rustyray::ActorOptions;
    let gate = Tally::remote();
    let held = Tally::remote_with(ActorOptions::new().max_pending_calls(2));
    let waiting = held.wait_gate(gate.clone());
    let second = held.bump();
    let refused = held.bump().get();
    gate.bump().get().map_err(ray)?;
    waiting.get().map_err(ray)?;
    match refused {
        Err(RayError::LimitExceeded {
            limit, value: 2, ..
        }) if limit == "max_pending_calls" => {}
        other => return Err(format!("past max_pending_calls: {other:?}")),
    }
    let bumped = second.get().map_err(ray)?;
    check(bumped == 1, || format!("the refused call ran: {bumped}"))?;
    let zero = Tally::remote_with(ActorOptions::new().max_pending_calls(0));
    match zero.ready() {
        Err(RayError::InvalidArgument(message)) if message.contains("max_pending_calls") => {}
        other => return Err(format!("max_pending_calls(0): {other:?}")),
    }
    let unknown = rustyray::ActorHandle::create("NoSuchClass", ActorOptions::new(), vec![]);
    match unknown.ready() {
        Err(RayError::FunctionNotFound(message)) if message.contains("NoSuchClass") => Ok(()),
        other => Err(format!("an unknown class: {other:?}")),
    }
}

/// An actor whose method traps until `tally` has counted `fail_times` calls of it: each
/// trap restarts the actor (its constructor runs again) and the call is retried on it.
#[rustyray::actor]
pub struct Crashy {
    tally: TallyHandle,
    fail_times: u32,
}

#[rustyray::actor]
impl Crashy {
    pub fn new(tally: TallyHandle, fail_times: u32) -> Self {
        Crashy { tally, fail_times }
    }

    /// Traps on its first `fail_times` runs, then answers which run it is.
    pub fn work(&mut self) -> Result<u32, RayError> {
        let run = self.tally.bump().get()?;
        if run <= self.fail_times {
            panic!("method crash on run {run}");
        }
        Ok(run)
    }
}

/// Ray's `max_retries=-1` (`test_failure.py::test_retry_system_level_error` past the
/// default) and `max_restarts=-1, max_task_retries=-1`
/// (`test_actor_failures.py::test_actor_restart`): [`rustyray::UNLIMITED`] is no bound.
/// A task trapping 6 times (past the default 3) succeeds on its 7th run; an actor call
/// trapping 6 times answers after 6 restarts; with the defaults both fail (the canaries).
#[rustyray::remote]
fn test_unlimited_retries() -> Result<(), String> {
    use rustyray::{ActorOptions, TaskOptions, UNLIMITED};
    let tally = Tally::remote();
    let run = flaky_trap::remote_with(TaskOptions::new().max_retries(UNLIMITED), tally, 6u32)
        .get()
        .map_err(ray)?;
    check(run == 7, || {
        format!("the task succeeded on run {run}, expected 7")
    })?;
    match flaky_trap::remote(Tally::remote(), 6u32).get() {
        Err(RayError::Trap { .. }) => {}
        other => return Err(format!("default retries: expected a trap, got {other:?}")),
    }
    let unlimited = ActorOptions::new()
        .max_restarts(UNLIMITED)
        .max_task_retries(UNLIMITED);
    let crashy = Crashy::remote_with(unlimited, Tally::remote(), 6u32);
    let run = crashy.work().get().map_err(ray)?;
    check(run == 7, || {
        format!("the call answered on run {run}, expected 7")
    })?;
    let bounded = ActorOptions::new()
        .max_restarts(UNLIMITED)
        .max_task_retries(2);
    let crashy = Crashy::remote_with(bounded, Tally::remote(), 6u32);
    match crashy.work().get() {
        Err(RayError::ActorDied(reason)) if reason.contains("run 3") => Ok(()),
        other => Err(format!(
            "max_task_retries(2): expected ActorDied, got {other:?}"
        )),
    }
}

/// Ray's `test_cancel.py::test_cancel_multiple_dependents`: cancelling a running task
/// fails it and every task waiting on it with `Cancelled`; other work goes on (canary).
#[rustyray::remote]
fn test_cancel_multiple_dependents() -> Result<(), String> {
    let head = spin_forever::remote();
    let dependents: Vec<_> = (0..10).map(|_| one_more::remote(&head)).collect();
    rustyray::cancel(&head);
    for (i, dependent) in dependents.iter().enumerate() {
        match dependent.get() {
            Err(RayError::Cancelled) => {}
            other => return Err(format!("dependent {i}: expected Cancelled, got {other:?}")),
        }
    }
    match head.get() {
        Err(RayError::Cancelled) => {}
        other => return Err(format!("head: expected Cancelled, got {other:?}")),
    }
    let after = one_more::remote(41u64).get().map_err(ray)?;
    check(after == 42, || {
        format!("a task after the cancel gave {after}")
    })
}

/// An actor whose method panics.
#[rustyray::actor]
#[derive(Default)]
pub struct Worker {
    calls: u32,
}

#[rustyray::actor]
impl Worker {
    pub fn new() -> Self {
        Worker::default()
    }

    pub fn ok(&mut self) -> u32 {
        self.calls += 1;
        self.calls
    }

    pub fn die(&mut self) -> u32 {
        panic!("the actor's worker dies")
    }
}

/// Ray's `test_failure.py::test_actor_worker_dying`: with no restarts, the call that
/// crashed its actor and every later call fail with `ActorDied` naming the cause; another
/// actor is unaffected (canary).
#[rustyray::remote]
fn test_actor_worker_dying() -> Result<(), String> {
    let worker = Worker::remote();
    let other = Worker::remote();
    check(worker.ok().get().map_err(ray)? == 1, || "first call".into())?;
    match worker.die().get() {
        Err(RayError::ActorDied(reason)) if reason.contains("the actor's worker dies") => {}
        other => {
            return Err(format!(
                "the crashing call: expected ActorDied, got {other:?}"
            ));
        }
    }
    match worker.ok().get() {
        Err(RayError::ActorDied(_)) => {}
        other => return Err(format!("a later call: expected ActorDied, got {other:?}")),
    }
    check(other.ok().get().map_err(ray)? == 1, || {
        "the other actor".into()
    })
}

#[rustyray::remote]
fn is_even(n: u32) -> Result<bool, RayError> {
    if n == 0 {
        Ok(true)
    } else {
        is_odd::remote(n - 1).get()
    }
}

#[rustyray::remote]
fn is_odd(n: u32) -> Result<bool, RayError> {
    if n == 0 {
        Ok(false)
    } else {
        is_even::remote(n - 1).get()
    }
}

/// Ray's `test_basic.py::test_mutually_recursive_functions` (and
/// `test_nested_functions`): tasks that submit each other, each waiting on the next.
#[rustyray::remote]
fn test_mutually_recursive_functions() -> Result<(), String> {
    check(is_even::remote(8u32).get().map_err(ray)?, || {
        "8 is even".into()
    })?;
    check(!is_odd::remote(8u32).get().map_err(ray)?, || {
        "8 is not odd".into()
    })?;
    check(is_odd::remote(7u32).get().map_err(ray)?, || {
        "7 is odd".into()
    })
}

/// A value with many shapes inside, for `test_put_get`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Shapes {
    int: i64,
    text: String,
    floats: Vec<Option<f64>>,
    map: std::collections::HashMap<String, (i32, bool)>,
    unit: (),
}

#[rustyray::remote]
fn echo_shapes(value: Shapes) -> Shapes {
    value
}

#[rustyray::remote]
fn echo_bytes(value: Vec<u8>) -> Vec<u8> {
    value
}

/// Ray's `test_basic.py::test_put_get`: values of many shapes come back equal, through
/// `put`/`get` and through a task (extremes of integers, non-ASCII and NUL in strings,
/// nested and empty collections, tuples, options, maps, raw bytes).
#[rustyray::remote]
fn test_put_get() -> Result<(), String> {
    fn round<T>(value: &T) -> Result<T, String>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
    {
        rustyray::put(value).and_then(|r| r.get()).map_err(ray)
    }
    let ints = vec![i64::MIN, -1, 0, 1, i64::MAX];
    check(round(&ints)? == ints, || "integers".into())?;
    let text = String::from("h\u{e9}llo \u{1F600} \0 end");
    check(round(&text)? == text, || "a string".into())?;
    let nested: Vec<Vec<u32>> = vec![vec![], vec![1], vec![2, 3]];
    check(round(&nested)? == nested, || "nested lists".into())?;
    let tuple: (u8, String, Option<i32>) = (7, "x".into(), None);
    check(round(&tuple)? == tuple, || "a tuple".into())?;
    check(round(&1.5e300f64)? == 1.5e300, || "a float".into())?;
    let mut map = std::collections::HashMap::new();
    map.insert("k".to_string(), (1, true));
    let shapes = Shapes {
        int: -5,
        text: "t".into(),
        floats: vec![Some(0.5), None],
        map,
        unit: (),
    };
    check(round(&shapes)? == shapes, || "a struct by put".into())?;
    check(
        echo_shapes::remote(shapes.clone()).get().map_err(ray)? == shapes,
        || "a struct through a task".into(),
    )?;
    let bytes: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    check(
        echo_bytes::remote(&bytes).get().map_err(ray)? == bytes,
        || "bytes through a task".into(),
    )?;
    check(
        echo_bytes::remote(Vec::<u8>::new())
            .get()
            .map_err(ray)?
            .is_empty(),
        || "empty bytes".into(),
    )
}
