//! Actor fixtures: classes whose behaviour the integration tests assert, and a driver that
//! exercises actor handles from the guest side.
//!
//! - `counters`: `Counter` (state, `fail`, `crash_at`, `add_from` taking a handle),
//!   `SafeCounter` (the same with snapshots) and the task `bump(CounterHandle)`.
//! - `lifecycle`: `Log` and `Stoppable`, whose `on_stop` records itself in a named `Log`.
//! - `waiting`: `Waiter`, which blocks in `get` on a slow task (`sleep_ms`, `spin_for`).
//! - `bank`: `Account` and the task `transfer(from, to, amount)`.
//!
//! The driver (`rustyray run`) checks what it prints and exits 1 (`Error: ...`) on the first
//! surprise, so its exit status alone says whether guest-side handles work.

mod bank;
mod counters;
mod lifecycle;
mod waiting;

use rustyray::{ActorOptions, RayError};

use bank::{Account, transfer};
use counters::{Counter, bump};
use lifecycle::Log;

/// `Err` naming `what` unless `actual == expected`.
fn expect<T: PartialEq + std::fmt::Debug>(
    what: &str,
    actual: T,
    expected: T,
) -> Result<(), RayError> {
    if actual == expected {
        println!("{what}: {actual:?}");
        Ok(())
    } else {
        Err(RayError::application(format!(
            "{what}: expected {expected:?}, got {actual:?}"
        )))
    }
}

/// `Err` naming `what` unless `result` is an error; prints it.
fn expect_err<T: std::fmt::Debug>(
    what: &str,
    result: Result<T, RayError>,
) -> Result<RayError, RayError> {
    match result {
        Err(error) => {
            println!("{what}: error: {error}");
            Ok(error)
        }
        Ok(value) => Err(RayError::application(format!(
            "{what}: expected an error, got {value:?}"
        ))),
    }
}

#[rustyray::main]
fn main() -> Result<(), RayError> {
    // Create and call: state persists across calls, in order.
    let counter = Counter::remote(10);
    counter.ready()?;
    let increments = [
        counter.increment(),
        counter.increment(),
        counter.increment(),
    ];
    let values = increments
        .iter()
        .map(|r| r.get())
        .collect::<Result<Vec<_>, _>>()?;
    expect("increments", values, vec![11, 12, 13])?;
    expect("add(5)", counter.add(5).get()?, 18)?;
    counter.add_tell(2)?;
    expect("get after add_tell(2)", counter.get().get()?, 20)?;
    let failed = expect_err("fail", counter.fail().get())?;
    if !matches!(failed, RayError::Application(_)) {
        return Err(RayError::application(format!(
            "fail: not an application error: {failed:?}"
        )));
    }
    expect("get after fail", counter.get().get()?, 20)?;

    // The untyped handle: call by name.
    expect(
        "raw add(1)",
        counter
            .raw()
            .call::<i32>("add", vec![rustyray::arg(1i32)])
            .get()?,
        21,
    )?;
    expect_err(
        "raw nope()",
        counter.raw().call::<i32>("nope", vec![]).get(),
    )?;

    // Named actors: found by name, and `get_if_exists` hands back the same actor.
    let named = Counter::remote_with(ActorOptions::new().name("fixtures-counter"), 100);
    named.ready()?;
    let found = Counter::get_named("fixtures-counter")
        .ok_or_else(|| RayError::application("fixtures-counter not found"))?;
    expect("named: same actor", found.id(), named.id())?;
    expect("named: increment", found.increment().get()?, 101)?;
    let again = Counter::remote_with(
        ActorOptions::new()
            .name("fixtures-counter")
            .get_if_exists(true),
        0,
    );
    expect("get_if_exists: same actor", again.id(), named.id())?;
    expect("get_if_exists: state kept", again.get().get()?, 101)?;
    expect(
        "unknown name",
        Counter::get_named("no-such-actor").map(|h| h.id()),
        None,
    )?;

    // Handles as arguments: to a task, and to another actor's method.
    expect("bump(counter)", bump::remote(counter.clone()).get()?, 22)?;
    expect(
        "named.add_from(counter)",
        named.add_from(counter.clone()).get()?,
        123,
    )?;

    // Bank: a task moves money between two actors.
    let alice = Account::remote("alice".to_string(), 100);
    let bob = Account::remote("bob".to_string(), 50);
    expect(
        "transfer 30 alice->bob",
        transfer::remote(alice.clone(), bob.clone(), 30).get()?,
        (70, 80),
    )?;
    expect_err(
        "transfer 500 alice->bob",
        transfer::remote(alice.clone(), bob.clone(), 500).get(),
    )?;
    expect(
        "balances after a refused transfer",
        (alice.balance().get()?, bob.balance().get()?),
        (70, 80),
    )?;

    // A constructor error is deferred into the handle.
    let nobody = Account::remote(String::new(), 0);
    expect_err("Account::new(\"\")", nobody.ready())?;
    expect_err("call on a handle that failed", nobody.balance().get())?;

    // An async method.
    let log = Log::remote();
    log.record_tell("hello".to_string())?;
    expect("log.len()", log.len().get()?, 1)?;

    // Kill: later calls fail, through every handle.
    let doomed = counter.clone();
    counter.kill();
    expect_err("get after kill", doomed.get().get())?;

    println!("actor fixtures main: ok");
    Ok(())
}
