//! Guests that attack the host's budgets and deadlines: actor phases that never end,
//! deadlines a guest tries to lengthen, huge errors and names, hoarded objects, fork
//! bombs that outlive their program, actors that should end with it.

use std::hint::black_box;
use std::time::Duration;

use rustyray::{ActorOptions, RayError, TaskOptions};
use serde::{Deserialize, Serialize, Serializer};

/// Spins until something outside stops it.
fn spin() -> u64 {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// An actor that misbehaves in the phase `mode` names: `"ctor"` (its constructor
/// spins), `"snapshot"` (its snapshots spin), `"stop"` (its `on_stop` spins); any other
/// mode behaves.
#[rustyray::actor(snapshot)]
#[derive(Deserialize)]
pub struct Stubborn {
    mode: String,
    calls: u32,
}

impl Serialize for Stubborn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.mode == "snapshot" {
            spin();
        }
        (&self.mode, self.calls).serialize(serializer)
    }
}

#[rustyray::actor]
impl Stubborn {
    pub fn new(mode: String) -> Self {
        if mode == "ctor" {
            spin();
        }
        Stubborn { mode, calls: 0 }
    }

    /// Counts calls.
    pub fn ok(&mut self) -> u32 {
        self.calls += 1;
        self.calls
    }

    /// Prints `spinning`, then spins until stopped.
    pub fn announce_and_spin(&mut self) -> u64 {
        println!("spinning");
        spin()
    }

    fn on_stop(&mut self) {
        if self.mode == "stop" {
            spin();
        }
    }
}

/// Creates a `Stubborn` whose constructor spins, and waits for it: the task's own
/// deadline must end the constructor too.
#[rustyray::remote]
fn create_spinning_actor() -> Result<u32, RayError> {
    let actor = Stubborn::remote("ctor".to_string());
    actor.ok().get()
}

/// Submits `forever` asking for a deadline of an hour: the operator's shorter one
/// must win. Returns the error it got.
#[rustyray::remote]
fn ask_for_a_long_deadline() -> String {
    let options = TaskOptions::new().timeout(Duration::from_secs(3600));
    match crate::forever::remote_with(options).get() {
        Ok(n) => format!("it returned {n}"),
        Err(err) => err.to_string(),
    }
}

/// Fails with an error message of `mib` MiB.
#[rustyray::remote]
fn huge_error(mib: u32) -> Result<u64, String> {
    Err("e".repeat((mib as usize) << 20))
}

/// Submits a function whose name is `len` bytes long, and creates an actor with a
/// name that long: returns both refusals.
#[rustyray::remote]
fn long_names(len: u32) -> (String, String) {
    let name = "n".repeat(len as usize);
    let submitted: rustyray::ObjectRef<u64> =
        rustyray::__private::submit(&name, &[], Vec::new(), TaskOptions::new());
    let submitted = match submitted.get() {
        Ok(_) => "accepted".to_string(),
        Err(err) => err.to_string(),
    };
    let actor = Stubborn::remote_with(ActorOptions::new().name(name), "calm".to_string());
    let created = match actor.ok().get() {
        Ok(_) => "accepted".to_string(),
        Err(err) => err.to_string(),
    };
    (submitted, created)
}

/// `put`s `mib`-MiB objects, keeping every reference, until the host refuses one
/// (or `count` are held). Returns how many were stored and the refusal.
#[rustyray::remote]
fn hoard_objects(mib: u32, count: u32) -> (u32, String) {
    let block = vec![7u8; (mib as usize) << 20];
    let mut held = Vec::new();
    for _ in 0..count {
        match rustyray::put(&block) {
            Ok(object) => held.push(object),
            Err(err) => return (held.len() as u32, err.to_string()),
        }
    }
    (held.len() as u32, String::new())
}

/// `rustyray run hostile.wasm -- --fork-bomb N`: submits `N` never-ending tasks and
/// forgets them, then returns at once: they must not outlive the program.
pub fn fork_bomb(count: u32) -> Result<(), RayError> {
    for _ in 0..count {
        drop(crate::forever::remote());
    }
    println!("submitted {count} endless tasks");
    Ok(())
}

/// `rustyray run hostile.wasm -- --lifetimes`: a named actor that ends with the
/// program and a named detached one that outlives it.
pub fn lifetimes() -> Result<(), RayError> {
    let attached = Stubborn::remote_with(ActorOptions::new().name("attached"), "calm".to_string());
    let kept = Stubborn::remote_with(
        ActorOptions::new().name("kept").detached(true),
        "calm".to_string(),
    );
    println!(
        "attached {} kept {}",
        attached.ok().get()?,
        kept.ok().get()?
    );
    Ok(())
}
