//! An actor that blocks inside a method, waiting on a slow task: while it waits, only its own
//! instance is suspended, and every other actor (and task) keeps answering.

use rustyray::RayError;

/// Spins for about `iterations` loop turns; returns them.
#[rustyray::remote]
fn spin_for(iterations: u64) -> u64 {
    let mut n: u64 = 0;
    while n < iterations {
        n = std::hint::black_box(n + 1);
    }
    n
}

/// Sleeps `ms` milliseconds of wall-clock time; returns `ms`.
#[rustyray::remote]
fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(ms));
    ms
}

#[rustyray::actor]
pub struct Waiter {
    waits: u32,
}

#[rustyray::actor]
impl Waiter {
    pub fn new() -> Self {
        Waiter { waits: 0 }
    }

    /// Submits `sleep_ms(ms)` and blocks in `get` until it is done.
    pub fn wait_on_sleeper(&mut self, ms: u64) -> Result<u64, RayError> {
        let slept = sleep_ms::remote(ms).get()?;
        self.waits += 1;
        Ok(slept)
    }

    /// Spins in the actor itself (pure CPU, no wait) for about `iterations` turns.
    pub fn spin(&mut self, iterations: u64) -> u64 {
        let mut n: u64 = 0;
        while n < iterations {
            n = std::hint::black_box(n + 1);
        }
        n
    }

    /// Submits `spin_for(iterations)` and blocks in `get` until it is done.
    pub fn wait_on_spinner(&mut self, iterations: u64) -> Result<u64, RayError> {
        let spun = spin_for::remote(iterations).get()?;
        self.waits += 1;
        Ok(spun)
    }

    /// How many waits finished.
    pub fn waits(&self) -> u32 {
        self.waits
    }
}
