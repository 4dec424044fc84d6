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
//! - `keep NAME RES_T RES_K MIB`: a detached `Tally` named NAME-tally needing RES_T, and
//!   a detached `Keeper` named NAME needing RES_K, given the tally's handle and MIB MiB
//!   of state; prints `bump=` (the keeper calls the tally), `back=` (the handle the
//!   keeper returns, called here), `refused=` (a handle of this job's own actor sent to
//!   the keeper), `after=` (the keeper still works) and `state=BUMPS:LEN:SUM`.
//! - `bump NAME`: the keeper named NAME: `state=` before, then `bump=`.
//! - `echo NAME MIB`: MIB MiB sent to the keeper named NAME and back (`Keeper::echo`);
//!   prints `echo len=L hash_ok=B back_ok=B` (the keeper saw the bytes sent; the bytes
//!   came back whole).

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

/// Holds a `Tally`'s handle in its state (so in its snapshots) and `ballast` bytes of
/// state that each `bump` changes: a snapshot of several MiB, and a handle to resolve
/// wherever it is restarted.
#[derive(Serialize, Deserialize)]
#[rustyray::actor(snapshot)]
pub struct Keeper {
    tally: TallyHandle,
    bumps: u64,
    ballast: Vec<u8>,
}

#[rustyray::actor]
impl Keeper {
    pub fn new(tally: TallyHandle, mib: u32) -> Self {
        let len = (mib as usize) << 20;
        Keeper {
            tally,
            bumps: 0,
            ballast: (0..len).map(|at| (at % 127) as u8).collect(),
        }
    }

    /// Increments the tally (wherever it runs) and changes one byte of the ballast.
    pub fn bump(&mut self) -> Result<i64, RayError> {
        let count = self.tally.increment().get()?;
        self.bumps += 1;
        if !self.ballast.is_empty() {
            let at = (self.bumps as usize * 7919) % self.ballast.len();
            self.ballast[at] = (self.bumps % 127) as u8;
        }
        Ok(count)
    }

    /// `data` back, with its length and FNV-1a (an argument and a result over NATS's
    /// 1 MiB message limit when large).
    pub fn echo(&self, data: Vec<u8>) -> (u64, String, Vec<u8>) {
        (data.len() as u64, fnv(&data), data)
    }

    /// The tally's handle, returned inside a value.
    pub fn tally(&self) -> TallyHandle {
        self.tally.clone()
    }

    /// Takes another tally's handle.
    pub fn swap(&mut self, tally: TallyHandle) {
        self.tally = tally;
    }

    /// `BUMPS:LEN:SUM`, SUM an FNV-1a hash of the ballast.
    pub fn state(&self) -> String {
        format!(
            "{}:{}:{}",
            self.bumps,
            self.ballast.len(),
            fnv(&self.ballast)
        )
    }
}

/// The FNV-1a hash of `bytes`, in hex.
fn fnv(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
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
        "keep" => {
            let name = arg(&args, 2)?;
            let mib: u32 = arg(&args, 5)?
                .parse()
                .map_err(|_| RayError::application("MIB is a number"))?;
            let tally = Tally::remote_with(
                ActorOptions::new()
                    .name(format!("{name}-tally"))
                    .detached(true)
                    .resource(arg(&args, 3)?, 1.0),
                0,
            );
            tally.ready()?;
            let keeper = Keeper::remote_with(
                ActorOptions::new()
                    .name(name)
                    .detached(true)
                    .max_restarts(1)
                    .resource(arg(&args, 4)?, 1.0),
                tally.clone(),
                mib,
            );
            println!("bump={}", keeper.bump().get()?);
            let back = keeper.tally().get()?;
            println!("back={}", back.increment().get()?);
            // This job's own actor: its handle cannot reach another node.
            let local = Tally::remote(100);
            match keeper.swap(local).get() {
                Ok(()) => println!("refused=no"),
                Err(err) => println!("refused={err}"),
            }
            println!("after={}", keeper.bump().get()?);
            println!("state={}", keeper.state().get()?);
        }
        "echo" => {
            let keeper = Keeper::get_named(arg(&args, 2)?)
                .ok_or_else(|| RayError::application("missing keeper"))?;
            let mib: usize = arg(&args, 3)?
                .parse()
                .map_err(|_| RayError::application("MIB is a number"))?;
            let data: Vec<u8> = (0..mib << 20).map(|at| (at % 251) as u8).collect();
            let (len, hash, back) = keeper.echo(data.clone()).get()?;
            println!(
                "echo len={len} hash_ok={} back_ok={}",
                hash == fnv(&data),
                back == data
            );
        }
        "bump" => {
            let keeper = Keeper::get_named(arg(&args, 2)?)
                .ok_or_else(|| RayError::application("missing keeper"))?;
            println!("state={}", keeper.state().get()?);
            println!("bump={}", keeper.bump().get()?);
        }
        other => return Err(RayError::application(format!("unknown step {other}"))),
    }
    Ok(())
}
