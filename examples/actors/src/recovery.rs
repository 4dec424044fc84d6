//! A crash and a recovery: an actor created with `max_restarts` panics on purpose; the runtime
//! restarts it. With `#[rustyray::actor(snapshot)]` it comes back with its last saved state;
//! without, it starts over from its constructor (what Ray does).

use rustyray::{ActorOptions, RayError};
use serde::{Deserialize, Serialize};

/// Counts ticks; the state is snapshotted, so it survives a crash.
#[derive(Serialize, Deserialize)]
#[rustyray::actor(snapshot)]
pub struct Tally {
    count: u32,
}

#[rustyray::actor]
impl Tally {
    fn new() -> Self {
        Tally { count: 0 }
    }

    /// Counts one more, and panics if that goes past `crash_after`.
    fn tick(&mut self, crash_after: u32) -> u32 {
        tick(&mut self.count, crash_after)
    }

    fn count(&self) -> u32 {
        self.count
    }
}

/// The same without snapshots: after a crash it is rebuilt by its constructor.
#[rustyray::actor]
pub struct Forgetful {
    count: u32,
}

#[rustyray::actor]
impl Forgetful {
    fn new() -> Self {
        Forgetful { count: 0 }
    }

    fn tick(&mut self, crash_after: u32) -> u32 {
        tick(&mut self.count, crash_after)
    }

    fn count(&self) -> u32 {
        self.count
    }
}

fn tick(count: &mut u32, crash_after: u32) -> u32 {
    *count += 1;
    if *count > crash_after {
        panic!("tick {count}: crashing on purpose (crash_after = {crash_after})");
    }
    *count
}

/// An error without the wasm backtrace a trap carries: more than this example needs.
fn without_backtrace(error: &RayError) -> String {
    let text = error.to_string();
    let lines: Vec<_> = text
        .lines()
        .take_while(|line| !line.starts_with("wasm backtrace"))
        .collect();
    lines.join(" ")
}

pub fn demo() -> Result<(), RayError> {
    let options = ActorOptions::new().max_restarts(1);
    let tally = Tally::remote_with(options.clone());
    let forgetful = Forgetful::remote_with(options);

    for _ in 0..5 {
        tally.tick(5).get()?;
        forgetful.tick(5).get()?;
    }
    println!(
        "counted to 5: tally {}, forgetful {}",
        tally.count().get()?,
        forgetful.count().get()?
    );

    // The sixth tick panics: the call fails with the panic, and the actor is restarted.
    match tally.tick(5).get() {
        Ok(n) => println!("tally: tick returned {n}, no crash?"),
        Err(error) => println!("tally: tick 6 failed: {}", without_backtrace(&error)),
    }
    match forgetful.tick(5).get() {
        Ok(n) => println!("forgetful: tick returned {n}, no crash?"),
        Err(error) => println!("forgetful: tick 6 failed: {}", without_backtrace(&error)),
    }

    println!(
        "after the restart: tally {} (restored from its snapshot), forgetful {} (rebuilt by \
         its constructor)",
        tally.count().get()?,
        forgetful.count().get()?
    );
    println!("tally goes on counting: {}", tally.tick(u32::MAX).get()?);
    Ok(())
}
