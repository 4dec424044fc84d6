//! Actors whose calls interleave (`max_concurrency`), built with rustyray-sdk's
//! `concurrent` feature.
//!
//! `AsyncActor`: its calls interleave when it is created with `max_concurrency` > 1
//! (Ray's async actors). Its `async fn` methods taking `&self` share
//! state in `Cell`s and await `get_async`; `total` takes `&mut self` and runs alone.
//!
//! The native task `entered` (registered by the tests) is submitted by each waiting method
//! as it starts, so a test knows how many calls are in flight without sleeping.

use std::cell::Cell;

use rustyray::{ActorOptions, ObjectRef, RayError};

#[rustyray::actor]
#[derive(Default)]
pub struct AsyncActor {
    in_flight: Cell<u32>,
    most: Cell<u32>,
    done: Cell<u32>,
}

#[rustyray::actor]
impl AsyncActor {
    pub fn new() -> Self {
        AsyncActor {
            in_flight: Cell::new(0),
            most: Cell::new(0),
            done: Cell::new(0),
        }
    }

    /// Calls its own `give(value)` (found by `name`) and awaits the answer: the call it
    /// waits for queues behind this one unless calls interleave.
    pub async fn ask_self(&self, name: String, value: i32) -> Result<i32, RayError> {
        let me = AsyncActor::get_named(&name)
            .ok_or_else(|| RayError::Runtime(format!("no actor named {name:?}")))?;
        Ok(me.give(value).get_async().await? + 1)
    }

    pub async fn give(&self, value: i32) -> i32 {
        value * 10
    }

    /// Counts itself in flight, tells `entered`, and waits for `gate`.
    pub async fn hold(&self, gate: ObjectRef<u64>) -> Result<u64, RayError> {
        self.enter();
        let opened = gate.get_async().await;
        self.in_flight.set(self.in_flight.get() - 1);
        self.done.set(self.done.get() + 1);
        opened
    }

    /// `hold` that panics once `gate` opens: the instance traps under every call in flight.
    pub async fn crash_after(&self, gate: ObjectRef<u64>) -> u64 {
        self.enter();
        let opened = gate.get_async().await;
        panic!("crash_after: the gate opened with {opened:?}");
    }

    /// The most calls that were in flight at once.
    pub async fn most(&self) -> u32 {
        self.most.get()
    }

    /// How many `hold`s ended; runs alone (`&mut self`), between the interleaving calls.
    pub fn total(&mut self) -> u32 {
        self.done.get()
    }

    fn enter(&self) {
        let now = self.in_flight.get() + 1;
        self.in_flight.set(now);
        self.most.set(self.most.get().max(now));
        // Fire and forget: the test counts these.
        let _ = rustyray::function("entered").remote::<u64>(Vec::new());
    }
}

/// From a guest: creates an `AsyncActor` named `name` with `max_concurrency`, and has it
/// call itself (`ask_self`), which needs its calls to interleave.
#[rustyray::remote]
fn ask_self_from_guest(name: String, max_concurrency: u32) -> Result<i32, RayError> {
    let actor = AsyncActor::remote_with(
        ActorOptions::new()
            .name(name.clone())
            .max_concurrency(max_concurrency),
    );
    let answer = actor.ask_self(name, 7).get();
    actor.kill();
    answer
}

/// A class with no method that can interleave: `max_concurrency` > 1 is refused.
#[rustyray::actor]
#[derive(Default)]
pub struct SerialActor {
    calls: u32,
}

#[rustyray::actor]
impl SerialActor {
    pub fn new() -> Self {
        SerialActor { calls: 0 }
    }

    pub fn ping(&mut self) -> u32 {
        self.calls += 1;
        self.calls
    }
}
