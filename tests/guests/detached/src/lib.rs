//! Detached actors across the jobs of a node (`tests/all/detached.rs`).
//!
//! `Tally` keeps snapshots, so a node started again on its data dir brings it back;
//! `Scratch` is the same counter without. The program does one step per run, named by its
//! first argument, and prints what it saw (`count=N`, `missing`, `error=...`), which the
//! tests read from the job's log:
//!
//! - `create NAME N`: a detached `Tally` named NAME (the existing one if there is one),
//!   incremented N times.
//! - `incr NAME` / `get NAME`: the actor named NAME, found by name, incremented or read.
//! - `kill NAME`: kills the actor named NAME.
//! - `local NAME`: a non-detached `Scratch` named NAME, incremented once.
//! - `find-local NAME`: whether an actor named NAME is found (`Scratch`).
//! - `nested NAME`: `Tally.sum` of a value holding references (refused: they cannot cross).
//! - `bad-class`: a detached actor of a class no module has.
//!
//! In a cluster (`tests/all/cluster.rs`):
//!
//! - `place NAME RES N`: a detached `Tally` named NAME that needs the resource RES (1 of
//!   it), incremented N times.
//! - `place-on NAME NODE`: a detached `Tally` named NAME on node NODE, incremented once.
//! - `place-local NAME RES`: a non-detached `Scratch` named NAME needing RES, incremented
//!   once (it ends with the job).
//! - `unplaceable RES`: a `Tally` needing RES, which no node has (`error=...`).
//! - `chase NAME RES GATE_NODE`: a `Tally` named NAME needing RES (3 restarts, 3 call
//!   retries), given sequence numbers 1, 2, … (`record`) until the `Gate` it creates on
//!   GATE_NODE (named NAME-gate) is opened, then 10 more; prints `placed` (with the
//!   mean round trip of calls 2 to 11) after the eleventh, and `count=C last=L` at the
//!   end (C = L when no number was lost or counted twice, and its state went on from
//!   where it was).
//! - `open NAME`: opens the gate named NAME-gate.

use rustyray::{ActorOptions, ObjectRef, RayError};
use serde::{Deserialize, Serialize};

/// A counter whose state is kept in snapshots.
#[derive(Serialize, Deserialize)]
#[rustyray::actor(snapshot)]
pub struct Tally {
    count: i64,
    /// The last sequence number `record` took.
    #[serde(default)]
    last: i64,
}

#[rustyray::actor]
impl Tally {
    pub fn new(start: i64) -> Self {
        Tally {
            count: start,
            last: 0,
        }
    }

    /// Counts sequence number `seq` once: a number at or below the last one taken (a
    /// call retried after it ran) changes nothing.
    pub fn record(&mut self, seq: i64) -> i64 {
        if seq > self.last {
            self.last = seq;
            self.count += 1;
        }
        self.count
    }

    pub fn increment(&mut self) -> i64 {
        self.count += 1;
        self.count
    }

    pub fn get(&self) -> i64 {
        self.count
    }

    /// Adds the values of objects nested in a value.
    pub fn sum(&mut self, parts: Vec<ObjectRef<i64>>) -> Result<i64, RayError> {
        for part in parts {
            self.count += part.get()?;
        }
        Ok(self.count)
    }
}

/// The same counter, without snapshots.
#[rustyray::actor]
pub struct Scratch {
    count: i64,
}

#[rustyray::actor]
impl Scratch {
    pub fn new(start: i64) -> Self {
        Scratch { count: start }
    }

    pub fn increment(&mut self) -> i64 {
        self.count += 1;
        self.count
    }
}

/// A flag another job raises.
#[rustyray::actor]
pub struct Gate {
    open: bool,
}

#[rustyray::actor]
impl Gate {
    pub fn new(open: bool) -> Self {
        Gate { open }
    }

    pub fn open(&mut self) {
        self.open = true;
    }

    pub fn is_open(&self) -> bool {
        self.open
    }
}

fn arg(args: &[String], index: usize) -> Result<&str, RayError> {
    args.get(index)
        .map(String::as_str)
        .ok_or_else(|| RayError::application(format!("argument {index} is missing")))
}

fn found(name: &str) -> Result<TallyHandle, RayError> {
    Tally::get_named(name).ok_or_else(|| RayError::application(format!("missing {name}")))
}

#[rustyray::main]
fn main() -> Result<(), RayError> {
    let args = rustyray::args();
    match arg(&args, 1)? {
        "create" => {
            let name = arg(&args, 2)?;
            let times: u32 = arg(&args, 3)?
                .parse()
                .map_err(|_| RayError::application("N is a number"))?;
            let tally = Tally::remote_with(
                ActorOptions::new()
                    .name(name)
                    .get_if_exists(true)
                    .detached(true),
                0,
            );
            tally.ready()?;
            let mut count = tally.get().get()?;
            for _ in 0..times {
                count = tally.increment().get()?;
            }
            println!("count={count}");
        }
        "incr" => println!("count={}", found(arg(&args, 2)?)?.increment().get()?),
        "get" => match Tally::get_named(arg(&args, 2)?) {
            Some(tally) => println!("count={}", tally.get().get()?),
            None => println!("missing"),
        },
        "kill" => {
            found(arg(&args, 2)?)?.kill();
            println!("killed");
        }
        "local" => {
            let scratch = Scratch::remote_with(ActorOptions::new().name(arg(&args, 2)?), 0);
            println!("count={}", scratch.increment().get()?);
        }
        "find-local" => match Scratch::get_named(arg(&args, 2)?) {
            Some(_) => println!("found"),
            None => println!("missing"),
        },
        "nested" => {
            let tally = found(arg(&args, 2)?)?;
            let parts = vec![rustyray::put(&5i64)?];
            match tally.sum(parts).get() {
                Ok(count) => println!("count={count}"),
                Err(err) => println!("error={err}"),
            }
            println!("count={}", tally.get().get()?);
        }
        "bad-class" => {
            let handle = rustyray::ActorHandle::create(
                "NoSuchClass",
                ActorOptions::new().name("ghost").detached(true),
                vec![],
            );
            match handle.ready() {
                Ok(()) => println!("created"),
                Err(err) => println!("error={err}"),
            }
        }
        "place" => {
            let times: u32 = arg(&args, 4)?
                .parse()
                .map_err(|_| RayError::application("N is a number"))?;
            let tally = Tally::remote_with(
                ActorOptions::new()
                    .name(arg(&args, 2)?)
                    .get_if_exists(true)
                    .detached(true)
                    .resource(arg(&args, 3)?, 1.0),
                0,
            );
            let mut count = tally.get().get()?;
            for _ in 0..times {
                count = tally.increment().get()?;
            }
            println!("count={count}");
        }
        "place-on" => {
            let tally = Tally::remote_with(
                ActorOptions::new()
                    .name(arg(&args, 2)?)
                    .detached(true)
                    .node_id(arg(&args, 3)?),
                0,
            );
            match tally.increment().get() {
                Ok(count) => println!("count={count}"),
                Err(err) => println!("error={err}"),
            }
        }
        "place-local" => {
            let scratch = Scratch::remote_with(
                ActorOptions::new()
                    .name(arg(&args, 2)?)
                    .resource(arg(&args, 3)?, 1.0),
                0,
            );
            println!("count={}", scratch.increment().get()?);
        }
        "unplaceable" => {
            let tally = Tally::remote_with(ActorOptions::new().resource(arg(&args, 2)?, 1.0), 0);
            match tally.ready() {
                Ok(()) => println!("created"),
                Err(err) => println!("error={err}"),
            }
        }
        "chase" => {
            let name = arg(&args, 2)?;
            let gate = Gate::remote_with(
                ActorOptions::new()
                    .name(format!("{name}-gate"))
                    .detached(true)
                    .node_id(arg(&args, 4)?),
                false,
            );
            gate.ready()?;
            let tally = Tally::remote_with(
                ActorOptions::new()
                    .name(name)
                    .resource(arg(&args, 3)?, 1.0)
                    .max_restarts(3)
                    .max_task_retries(3),
                0,
            );
            let mut seq = 0;
            let mut after = None;
            let mut started = std::time::Instant::now();
            loop {
                seq += 1;
                tally.record(seq).get()?;
                if seq == 1 {
                    started = std::time::Instant::now();
                }
                if seq == 11 {
                    // Ten round trips to an actor on another node, one at a time.
                    println!(
                        "placed round_trip_us={}",
                        started.elapsed().as_micros() / 10
                    );
                }
                match after {
                    None if seq > 11 && gate.is_open().get()? => after = Some(seq + 10),
                    Some(end) if seq >= end => break,
                    _ => {}
                }
            }
            println!("count={} last={seq}", tally.get().get()?);
        }
        "open" => match Gate::get_named(&format!("{}-gate", arg(&args, 2)?)) {
            Some(gate) => {
                gate.open().get()?;
                println!("opened");
            }
            None => println!("missing"),
        },
        other => return Err(RayError::application(format!("unknown step {other}"))),
    }
    Ok(())
}
