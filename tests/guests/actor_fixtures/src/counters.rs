//! Counters: state that persists across calls, an application error, a deliberate crash,
//! and the same with snapshots, to tell a restart from the constructor (state lost) from a
//! restart from the last snapshot (state kept).

use rustyray::RayError;
use serde::{Deserialize, Serialize};

/// A counter without snapshots: restarted after a crash, it starts over from `start`.
#[rustyray::actor]
pub struct Counter {
    count: i32,
}

#[rustyray::actor]
impl Counter {
    pub fn new(start: i32) -> Self {
        Counter { count: start }
    }

    pub fn increment(&mut self) -> i32 {
        self.count += 1;
        self.count
    }

    pub fn add(&mut self, n: i32) -> i32 {
        self.count += n;
        self.count
    }

    pub fn get(&self) -> i32 {
        self.count
    }

    /// Always an application error; the actor lives on.
    pub fn fail(&self) -> Result<i32, String> {
        Err(format!("Counter.fail called at count {}", self.count))
    }

    /// Increments, then panics (a trap) once the count reaches `n`.
    pub fn crash_at(&mut self, n: i32) -> i32 {
        crash_when_reached(&mut self.count, n)
    }

    /// Adds another counter's value: a handle passed to an actor method.
    pub fn add_from(&mut self, other: CounterHandle) -> Result<i32, RayError> {
        self.count += other.get().get()?;
        Ok(self.count)
    }
}

/// The same counter, snapshotted: restarted after a crash, it comes back with the count of
/// its last snapshot.
#[derive(Serialize, Deserialize)]
#[rustyray::actor(snapshot)]
pub struct SafeCounter {
    count: i32,
}

#[rustyray::actor]
impl SafeCounter {
    pub fn new(start: i32) -> Self {
        SafeCounter { count: start }
    }

    pub fn increment(&mut self) -> i32 {
        self.count += 1;
        self.count
    }

    pub fn get(&self) -> i32 {
        self.count
    }

    /// Increments, then panics (a trap) once the count reaches `n`.
    pub fn crash_at(&mut self, n: i32) -> i32 {
        crash_when_reached(&mut self.count, n)
    }
}

fn crash_when_reached(count: &mut i32, n: i32) -> i32 {
    *count += 1;
    if *count >= n {
        panic!("crash_at({n}): the count reached {count}");
    }
    *count
}

/// A task taking a typed handle: increments the counter and returns the new count.
#[rustyray::remote]
pub fn bump(counter: CounterHandle) -> Result<i32, RayError> {
    counter.increment().get()
}
