//! Tasks spread over a cluster's nodes (`tests/all/cluster_tasks.rs`). The program's
//! first argument names what it does; it prints what it computed, which the tests check
//! against their own computation:
//!
//! - `spread N MS`: N tasks `step(i, MS)` (each sleeps MS ms and returns i*i) and one
//!   `nested(20)` (a task that submits 20 tasks itself); prints
//!   `spread n=N sum=S nested=X`.
//! - `big MIB`: two tasks `make_big(MIB, seed)` at once (MIB MiB each, from seeds 1 and
//!   2), then `checksum` of each, an `ObjectRef` argument (run where the object is),
//!   then reads each in the driver; prints `big seed=S len=L fnv=H` and
//!   `big read seed=S len=L fnv=H` per object.
//! - `actors NODE N`: a detached `Hits` actor named `hits` placed on node NODE, then N tasks
//!   `bump(handle, ms)` (its handle an argument) and N tasks `bump_named("hits", ms)`
//!   (found by name in the job's namespace, wherever the task runs), N tasks
//!   `ensure("made-in-tasks", NODE)` (created by the first, found by the others:
//!   `get_if_exists`), and N tasks `bump(plain, 0)` of a plain actor of the driver's;
//!   prints `actors hits=H made=M plain=P`.
//! - `hold MIB N GATE_NODE`: N tasks `make_big(MIB, seed)` (seeds 1..=N) and one more
//!   (seed 99) waited for but never read, then dropped; then reads bytes 0..16 of each
//!   (`read`), gets it whole and passes the first to `checksum`; prints
//!   `hold seed=S head=HEX len=L fnv=H` per object and `hold arg len=L fnv=H`, drops
//!   them all, prints `hold released`, then waits until the detached `Hits` named
//!   `gate` (placed on GATE_NODE) counts 1 and prints `hold done`.
//! - `lost MIB N GATE_NODE`: N tasks `make_big(MIB, seed)` (seeds 1..=N, default
//!   retries) and N more with `max_retries(0)` (seeds 101..=100+N), all waited for;
//!   prints `lost held`, waits for `gate` as `hold` does, then gets each: prints
//!   `lost seed=S len=L fnv=H`, `lost seed=S kind=ObjectLost node=NODE object=ID` (the
//!   typed `RayError::ObjectLost`), or `lost seed=S kind=other error=<the error>`.
//! - `near MIB N`: N tasks `make_big(MIB, seed)` (seeds 1..=N), all waited for, then
//!   `checksum` of each (the `ObjectRef` an argument, never read by the driver); prints
//!   `near seed=S len=L fnv=H` per object.
//! - `borrow MIB N GATE_NODE OTHER`: N objects `put` by the driver (seeds 1..=N) and N
//!   results `make_big(MIB, seed)` (seeds 101..=100+N), all waited for; a list of the 2N
//!   references goes to a task `read_refs` placed on node OTHER and to one placed
//!   anywhere, which read them where they are kept: prints `borrow pinned seed=S len=L
//!   fnv=H` and `borrow anywhere seed=S ...` per object; then a task `put_here(MIB, 77)`
//!   on OTHER returns a reference to an object it put there, which the driver reads:
//!   `borrow returned len=L fnv=H`. Drops every reference, prints `borrow released`,
//!   waits for `gate` as `hold` does and prints `borrow done`.
//! - `borrower MIB GATE_NODE OTHER`: one object `put` by the driver, whose reference a
//!   task `hold_refs` on node OTHER (no retries) holds until the gate opens; once it
//!   runs, the driver drops its own reference and prints `borrower dropped`, then waits
//!   for that task: `borrower task=held:N` or `borrower task=error:<the error>`, and for
//!   `gate`.
//! - `actorrefs MIB GATE_NODE OTHER THIRD`: a `Vault` actor placed on node OTHER is given
//!   a list holding a reference to an object the driver `put` (seed 5) and one to a
//!   result `make_big(MIB, 9)` not made yet, reads them and keeps them in its state:
//!   `actorrefs took len=L fnv=H` per object; reads it passed as the
//!   reference itself (`arg_object`): `actorrefs by-reference len=L fnv=H`; puts an
//!   object of its own there (seed 77) and returns a list holding its reference, which
//!   the driver reads (`actorrefs returned len=L fnv=H`) and passes on to a task
//!   `read_refs` placed on THIRD (`actorrefs relayed len=L fnv=H`); reads what it keeps
//!   in a later call (`actorrefs kept len=L fnv=H`, per object). A canary `Hits` placed
//!   on OTHER and a task: `actorrefs canary=1 task=49`. Drops every reference, prints
//!   `actorrefs released`, waits for `gate` as `hold` does and prints `actorrefs done`.
//! - `actorlost GATE_NODE OTHER THIRD`: a `Vault` placed on OTHER is given a reference to
//!   a 4 MiB object the driver `put`, which the driver's node (started with a smaller
//!   `--max-held-objects-mib`) cannot keep for others: `actorlost cap=<the error>`; then
//!   a reference to a 2 MiB result `make_big` made on THIRD with no retries, which it
//!   holds unread (`actorlost held=1`); waits for `gate` (THIRD is killed meanwhile),
//!   then has it read what it holds: `actorlost kind=ObjectLost node=NODE` (typed) or
//!   `actorlost kind=other error=<the error>`, and a canary call: `actorlost canary=1`.
//! - `open NAME`: adds one to the `Hits` named NAME in the job's namespace.
//! - `lookup NAME`: one task `bump_named(NAME, 0)`; prints `lookup found=C` or
//!   `lookup missing`.
//! - `cancel NODE K`: K tasks `spin_tree(started, 1)` (each submits one child
//!   `spin_tree(started, 0)`, counts itself on `started`, a `Hits` placed on NODE, then
//!   sleeps until cancelled), and a dependent of the first; once all 2K count, cancels
//!   the K parents; prints `cancel parents=K cancelled=C dependent=<its error>`.
//! - `other N`: N tasks `call_other(i)`, each submitting `add(i, 1000)` by name — a
//!   function of another module the job loaded (`examples/tasks`), wherever the task
//!   runs; prints `other n=N sum=S`.
//! - `hog N MIB`: N tasks `hog(MIB)`, each growing its memory by MIB MiB; prints
//!   `hog n=N` and, per error, its kind and limit (`LimitExceeded:memory=K`), sorted.
//! - `placed RESOURCE NODE N`: N tasks `step(i, 5)` asking for 1 of RESOURCE, N asking
//!   for node NODE, one each asking for a resource no node has, for a node that does not
//!   exist and for 1e9 of RESOURCE, and a plain canary `step(7, 0)`; prints
//!   `placed resource=S node=S missing=<error> gone=<error> too_much=<error> canary=49`.
//! - `gpus N MS NODE`: a `Gauge` placed on NODE, then N tasks `gauged(gauge, i, MS)`
//!   asking for 1 `gpu` (each counts itself in on the gauge, sleeps MS ms, counts itself
//!   out) and 30 plain tasks `step(i, MS)`; prints `gpus n=N sum=S most=M entered=E
//!   canary=C`, where M is the most that were in at once.
//! - `gated NODE`: one task asking for 1 `gpu` that waits for the detached `Hits` named
//!   `gate` (placed on NODE) to count 1 (as `hold` does); prints `gated ran=49`.
//! - `holder [NAME]`: a detached `Hits` named NAME (default `holder`) asking for 1
//!   `gpu`; prints `holder up`, or `holder error=<the error>`.
//! - `after`: a plain task `step(7, 0)`, printed `after canary=49` once it is done, then
//!   one task `step(7, 0)` asking for 1 `gpu`: `after ran=49`.
//! - `kill NAME`: kills the `Hits` named NAME in the job's namespace; prints `killed`.

use rustyray::{ActorOptions, RayError, TaskOptions};

/// A counter.
#[derive(Default)]
#[rustyray::actor]
pub struct Hits {
    count: u64,
}

#[rustyray::actor]
impl Hits {
    pub fn new() -> Self {
        Hits { count: 0 }
    }

    pub fn add(&mut self, by: u64) -> u64 {
        self.count += by;
        self.count
    }
}

/// Keeps object references in its state (`actorrefs`): placed on another node, the
/// references it is given and returns cross nodes.
#[derive(Default)]
#[rustyray::actor]
pub struct Vault {
    kept: Vec<rustyray::ObjectRef<Vec<u8>>>,
}

#[rustyray::actor]
impl Vault {
    pub fn new() -> Self {
        Vault { kept: Vec::new() }
    }

    /// Reads each object `refs` names (length and FNV-1a) and keeps the references.
    pub fn take(
        &mut self,
        refs: Vec<rustyray::ObjectRef<Vec<u8>>>,
    ) -> Result<Vec<(u64, u64)>, RayError> {
        let sums = sums_of(&refs)?;
        self.kept.extend(refs);
        Ok(sums)
    }

    /// Keeps the references, unread; how many it keeps.
    pub fn hold(&mut self, refs: Vec<rustyray::ObjectRef<Vec<u8>>>) -> usize {
        self.kept.extend(refs);
        self.kept.len()
    }

    /// Reads the object `object` names.
    pub fn read_one(&self, object: rustyray::ObjectRef<Vec<u8>>) -> Result<(u64, u64), RayError> {
        let data = object.get()?;
        Ok((data.len() as u64, fnv(&data)))
    }

    /// Puts `make_big(mib, seed)`'s bytes here, keeps the reference and returns a list
    /// holding it.
    pub fn make(
        &mut self,
        mib: u32,
        seed: u32,
    ) -> Result<Vec<rustyray::ObjectRef<Vec<u8>>>, RayError> {
        let object = rustyray::put(&bytes_of(mib, seed))?;
        self.kept.push(object.clone());
        Ok(vec![object])
    }

    /// Reads every object it keeps, again.
    pub fn reread(&self) -> Result<Vec<(u64, u64)>, RayError> {
        sums_of(&self.kept)
    }
}

/// The length and FNV-1a of each object `refs` names.
fn sums_of(refs: &[rustyray::ObjectRef<Vec<u8>>]) -> Result<Vec<(u64, u64)>, RayError> {
    refs.iter()
        .map(|r| r.get().map(|data| (data.len() as u64, fnv(&data))))
        .collect()
}

/// How many are in at once, and the most there were.
#[derive(Default)]
#[rustyray::actor]
pub struct Gauge {
    now: u64,
    most: u64,
    entered: u64,
}

#[rustyray::actor]
impl Gauge {
    pub fn new() -> Self {
        Gauge::default()
    }

    pub fn enter(&mut self) -> u64 {
        self.now += 1;
        self.entered += 1;
        self.most = self.most.max(self.now);
        self.now
    }

    pub fn leave(&mut self) -> u64 {
        self.now = self.now.saturating_sub(1);
        self.now
    }

    /// The most that were in at once, and how many came in.
    pub fn seen(&self) -> (u64, u64) {
        (self.most, self.entered)
    }
}

/// Counts itself in on `gauge`, sleeps `ms` ms, counts itself out; returns `i`.
#[rustyray::remote]
fn gauged(gauge: GaugeHandle, i: u64, ms: u64) -> Result<u64, RayError> {
    gauge.enter().get()?;
    std::thread::sleep(std::time::Duration::from_millis(ms));
    gauge.leave().get()?;
    Ok(i)
}

/// Waits for the detached `Hits` named `gate` on `node` to count 1; returns 49.
#[rustyray::remote]
fn gated(node: String) -> Result<u64, RayError> {
    wait_for_gate(node)?;
    Ok(49)
}

/// Adds one to `hits` (a handle in the arguments), after sleeping `ms` ms.
#[rustyray::remote]
fn bump(hits: HitsHandle, ms: u64) -> Result<u64, RayError> {
    if ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    hits.add(1).get()
}

/// Adds one to the actor named `name` in the job's namespace, after sleeping `ms` ms.
#[rustyray::remote]
fn bump_named(name: String, ms: u64) -> Result<u64, RayError> {
    if ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    let hits =
        Hits::get_named(&name).ok_or_else(|| RayError::application(format!("missing {name}")))?;
    hits.add(1).get()
}

/// The actor named `name`, created on node `node` by the first task that asks, found
/// by the others; adds one to it.
#[rustyray::remote]
fn ensure(name: String, node: String) -> Result<u64, RayError> {
    let hits = Hits::remote_with(
        ActorOptions::new()
            .name(name)
            .get_if_exists(true)
            .node_id(node),
    );
    hits.add(1).get()
}

/// Submits one child `spin_tree(started, depth - 1)` if `depth > 0`, counts itself on
/// `started`, then sleeps until cancelled.
#[rustyray::remote]
fn spin_tree(started: HitsHandle, depth: u64) -> Result<u64, RayError> {
    let _child = (depth > 0).then(|| spin_tree::remote(started.clone(), depth - 1));
    started.add(1).get()?;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Sleeps `ms` milliseconds, then returns `i * i`.
#[rustyray::remote]
fn step(i: u64, ms: u64) -> u64 {
    if ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    i * i
}

/// Submits `n` tasks itself (`step(i, 0)`, i < n) and sums their results.
#[rustyray::remote]
fn nested(n: u64) -> Result<u64, RayError> {
    let refs: Vec<_> = (0..n).map(|i| step::remote(i, 0)).collect();
    let mut total = 0;
    for r in &refs {
        total += r.get()?;
    }
    Ok(total)
}

/// `mib` MiB of bytes from `seed`: byte k is the low byte of `k * 31 + seed * 7 + k / 4096`.
#[rustyray::remote]
fn make_big(mib: u32, seed: u32) -> Vec<u8> {
    bytes_of(mib, seed)
}

/// `make_big`'s bytes, made here.
fn bytes_of(mib: u32, seed: u32) -> Vec<u8> {
    let len = (mib as usize) << 20;
    (0..len)
        .map(|k| (k.wrapping_mul(31) + (seed as usize) * 7 + k / 4096) as u8)
        .collect()
}

/// The length and FNV-1a of each object `refs` names, read here (wherever they are kept).
#[rustyray::remote]
fn read_refs(refs: Vec<rustyray::ObjectRef<Vec<u8>>>) -> Result<Vec<(u64, u64)>, RayError> {
    sums_of(&refs)
}

/// Holds `refs` (counts itself on `started`) until the `Hits` named `gate` counts 1.
#[rustyray::remote]
fn hold_refs(
    refs: Vec<rustyray::ObjectRef<Vec<u8>>>,
    started: HitsHandle,
    gate: String,
) -> Result<usize, RayError> {
    started.add(1).get()?;
    wait_for_gate(gate)?;
    Ok(refs.len())
}

/// Puts `make_big(mib, seed)`'s bytes here and returns a reference to them.
#[rustyray::remote]
fn put_here(mib: u32, seed: u32) -> Result<rustyray::ObjectRef<Vec<u8>>, RayError> {
    rustyray::put(&bytes_of(mib, seed))
}

/// 64-bit FNV-1a of `data`.
#[rustyray::remote]
fn checksum(data: Vec<u8>) -> (u64, u64) {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in &data {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (data.len() as u64, hash)
}

/// 64-bit FNV-1a of `data` (as `checksum`, here in the driver).
fn fnv(data: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in data {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The detached `Hits` named `gate` placed on `node`: waits until it counts 1.
fn wait_for_gate(node: String) -> Result<(), RayError> {
    let gate = Hits::remote_with(
        ActorOptions::new()
            .name("gate")
            .detached(true)
            .get_if_exists(true)
            .node_id(node),
    );
    while gate.add(0).get()? < 1 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(())
}

/// `add(i, 1000)` of another module, by name.
#[rustyray::remote]
fn call_other(i: u64) -> Result<u64, RayError> {
    rustyray::function("add")
        .remote::<u64>(vec![rustyray::arg(i), rustyray::arg(1000u64)])
        .get()
}

/// Grows this task's memory by `mib` MiB (and touches it); its length.
#[rustyray::remote]
fn hog(mib: u64) -> u64 {
    let bytes = vec![1u8; (mib as usize) << 20];
    bytes.iter().map(|b| u64::from(*b)).sum()
}

fn number(args: &[String], at: usize, default: u64) -> u64 {
    args.get(at).and_then(|a| a.parse().ok()).unwrap_or(default)
}

#[rustyray::main]
fn main() -> Result<(), RayError> {
    let args = rustyray::args();
    match args.get(1).map(String::as_str) {
        Some("spread") => {
            let n = number(&args, 2, 100);
            let ms = number(&args, 3, 0);
            let refs: Vec<_> = (0..n).map(|i| step::remote(i, ms)).collect();
            let nested = nested::remote(20);
            let mut sum = 0u64;
            for r in &refs {
                sum += r.get()?;
            }
            println!("spread n={n} sum={sum} nested={}", nested.get()?);
        }
        Some("big") => {
            let mib = number(&args, 2, 100) as u32;
            let objects: Vec<_> = (1..=2)
                .map(|seed| (seed, make_big::remote(mib, seed)))
                .collect();
            for (seed, object) in &objects {
                let (len, fnv) = checksum::remote(object).get()?;
                println!("big seed={seed} len={len} fnv={fnv:016x}");
                // And read here, wherever it was made (fetched from there if elsewhere).
                let data = object.get()?;
                println!(
                    "big read seed={seed} len={} fnv={:016x}",
                    data.len(),
                    self::fnv(&data)
                );
            }
        }
        Some("actors") => {
            let node = args.get(2).cloned().unwrap_or_default();
            let n = number(&args, 3, 30);
            let hits = Hits::remote_with(
                ActorOptions::new()
                    .name("hits")
                    .detached(true)
                    .node_id(node.clone()),
            );
            hits.add(0).get()?;
            let plain = Hits::remote();
            let mut refs: Vec<_> = (0..n).map(|_| bump::remote(hits.clone(), 20)).collect();
            refs.extend((0..n).map(|_| bump_named::remote("hits", 20)));
            let made: Vec<_> = (0..n)
                .map(|_| ensure::remote("made-in-tasks", node.clone()))
                .collect();
            let local: Vec<_> = (0..n).map(|_| bump::remote(plain.clone(), 0)).collect();
            for r in refs.iter().chain(&made).chain(&local) {
                r.get()?;
            }
            let made = Hits::get_named("made-in-tasks")
                .ok_or_else(|| RayError::application("made-in-tasks is missing"))?;
            println!(
                "actors hits={} made={} plain={}",
                hits.add(0).get()?,
                made.add(0).get()?,
                plain.add(0).get()?
            );
        }
        Some("hold") => {
            let mib = number(&args, 2, 4) as u32;
            let n = number(&args, 3, 6) as u32;
            let gate = args.get(4).cloned().unwrap_or_default();
            // Placed first, so it is there before anything is held.
            Hits::remote_with(
                ActorOptions::new()
                    .name("gate")
                    .detached(true)
                    .get_if_exists(true)
                    .node_id(gate.clone()),
            )
            .add(0)
            .get()?;
            let objects: Vec<_> = (1..=n).map(|seed| make_big::remote(mib, seed)).collect();
            let spare = make_big::remote(mib, 99);
            rustyray::wait(&objects, objects.len(), None)?;
            rustyray::wait(std::slice::from_ref(&spare), 1, None)?;
            drop(spare);
            for (seed, object) in (1..=n).zip(&objects) {
                let head: String = object
                    .read(0..16)?
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let whole = object.get()?;
                println!(
                    "hold seed={seed} head={head} len={} fnv={:016x}",
                    whole.len(),
                    fnv(&whole)
                );
            }
            let (len, hash) = checksum::remote(&objects[0]).get()?;
            println!("hold arg len={len} fnv={hash:016x}");
            drop(objects);
            println!("hold released");
            wait_for_gate(gate)?;
            println!("hold done");
        }
        Some("lost") => {
            let mib = number(&args, 2, 4) as u32;
            let n = number(&args, 3, 8) as u32;
            let gate = args.get(4).cloned().unwrap_or_default();
            Hits::remote_with(
                ActorOptions::new()
                    .name("gate")
                    .detached(true)
                    .get_if_exists(true)
                    .node_id(gate.clone()),
            )
            .add(0)
            .get()?;
            let mut objects: Vec<_> = (1..=n)
                .map(|seed| (seed, make_big::remote(mib, seed)))
                .collect();
            objects.extend((101..=100 + n).map(|seed| {
                (
                    seed,
                    make_big::remote_with(rustyray::TaskOptions::new().max_retries(0), mib, seed),
                )
            }));
            let refs: Vec<_> = objects.iter().map(|(_, object)| object.clone()).collect();
            rustyray::wait(&refs, refs.len(), None)?;
            println!("lost held");
            wait_for_gate(gate)?;
            for (seed, object) in &objects {
                match object.get() {
                    Ok(data) => {
                        println!(
                            "lost seed={seed} len={} fnv={:016x}",
                            data.len(),
                            fnv(&data)
                        )
                    }
                    // The kind the guest sees: a lost object is typed, naming its node.
                    Err(RayError::ObjectLost { node, object, .. }) => {
                        println!("lost seed={seed} kind=ObjectLost node={node} object={object}")
                    }
                    Err(err) => println!(
                        "lost seed={seed} kind=other error={}",
                        err.to_string().replace('\n', " ")
                    ),
                }
            }
        }
        Some("borrow") => {
            let mib = number(&args, 2, 2) as u32;
            let n = number(&args, 3, 3) as u32;
            let gate = args.get(4).cloned().unwrap_or_default();
            let other = args.get(5).cloned().unwrap_or_default();
            Hits::remote_with(
                ActorOptions::new()
                    .name("gate")
                    .detached(true)
                    .get_if_exists(true)
                    .node_id(gate.clone()),
            )
            .add(0)
            .get()?;
            let mut refs = Vec::new();
            for seed in 1..=n {
                refs.push((seed, rustyray::put(&bytes_of(mib, seed))?));
            }
            refs.extend((101..=100 + n).map(|seed| (seed, make_big::remote(mib, seed))));
            let list: Vec<_> = refs.iter().map(|(_, r)| r.clone()).collect();
            rustyray::wait(&list, list.len(), None)?;
            let pinned =
                read_refs::remote_with(TaskOptions::new().node_id(other.clone()), list.clone());
            let anywhere = read_refs::remote(list.clone());
            for (label, sums) in [("pinned", pinned), ("anywhere", anywhere)] {
                for ((seed, _), (len, hash)) in refs.iter().zip(sums.get()?) {
                    println!("borrow {label} seed={seed} len={len} fnv={hash:016x}");
                }
            }
            let returned = put_here::remote_with(TaskOptions::new().node_id(other), mib, 77);
            let inner = returned.get()?;
            let data = inner.get()?;
            println!("borrow returned len={} fnv={:016x}", data.len(), fnv(&data));
            drop((refs, list, returned, inner, data));
            println!("borrow released");
            wait_for_gate(gate)?;
            println!("borrow done");
        }
        Some("borrower") => {
            let mib = number(&args, 2, 2) as u32;
            let gate = args.get(3).cloned().unwrap_or_default();
            let other = args.get(4).cloned().unwrap_or_default();
            Hits::remote_with(
                ActorOptions::new()
                    .name("gate")
                    .detached(true)
                    .get_if_exists(true)
                    .node_id(gate.clone()),
            )
            .add(0)
            .get()?;
            let started = Hits::remote_with(ActorOptions::new().node_id(gate.clone()));
            started.add(0).get()?;
            let object = rustyray::put(&bytes_of(mib, 5))?;
            let held = hold_refs::remote_with(
                TaskOptions::new().node_id(other).max_retries(0),
                vec![object.clone()],
                started.clone(),
                gate.clone(),
            );
            while started.add(0).get()? < 1 {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            drop(object);
            println!("borrower dropped");
            let outcome = match held.get() {
                Ok(n) => format!("held:{n}"),
                Err(err) => format!("error:{}", err.to_string().replace('\n', " ")),
            };
            println!("borrower task={outcome}");
            wait_for_gate(gate)?;
            println!("borrower done");
        }
        Some("actorrefs") => {
            let mib = number(&args, 2, 4) as u32;
            let gate = args.get(3).cloned().unwrap_or_default();
            let other = args.get(4).cloned().unwrap_or_default();
            let third = args.get(5).cloned().unwrap_or_default();
            Hits::remote_with(
                ActorOptions::new()
                    .name("gate")
                    .detached(true)
                    .get_if_exists(true)
                    .node_id(gate.clone()),
            )
            .add(0)
            .get()?;
            let canary = Hits::remote_with(ActorOptions::new().node_id(other.clone()));
            let vault = Vault::remote_with(ActorOptions::new().node_id(other));
            let object = rustyray::put(&bytes_of(mib, 5))?;
            // Beside it, a result not made yet (sent once it is).
            let pending = make_big::remote(mib, 9);
            for (len, hash) in vault.take(vec![object.clone(), pending]).get()? {
                println!("actorrefs took len={len} fnv={hash:016x}");
            }
            let (len, hash) = vault
                .raw()
                .call::<(u64, u64)>("read_one", vec![rustyray::arg_object(&object)])
                .get()?;
            println!("actorrefs by-reference len={len} fnv={hash:016x}");
            let made = vault.make(mib, 77).get()?;
            for object in &made {
                let data = object.get()?;
                println!(
                    "actorrefs returned len={} fnv={:016x}",
                    data.len(),
                    fnv(&data)
                );
            }
            let relayed = read_refs::remote_with(TaskOptions::new().node_id(third), made.clone());
            for (len, hash) in relayed.get()? {
                println!("actorrefs relayed len={len} fnv={hash:016x}");
            }
            for (len, hash) in vault.reread().get()? {
                println!("actorrefs kept len={len} fnv={hash:016x}");
            }
            println!(
                "actorrefs canary={} task={}",
                canary.add(1).get()?,
                step::remote(7, 0).get()?
            );
            drop((object, made, relayed));
            println!("actorrefs released");
            wait_for_gate(gate)?;
            println!("actorrefs done");
        }
        Some("actorlost") => {
            let gate = args.get(2).cloned().unwrap_or_default();
            let other = args.get(3).cloned().unwrap_or_default();
            let third = args.get(4).cloned().unwrap_or_default();
            Hits::remote_with(
                ActorOptions::new()
                    .name("gate")
                    .detached(true)
                    .get_if_exists(true)
                    .node_id(gate.clone()),
            )
            .add(0)
            .get()?;
            let vault = Vault::remote_with(ActorOptions::new().node_id(other));
            let big = rustyray::put(&bytes_of(4, 5))?;
            match vault.take(vec![big]).get() {
                Ok(sums) => println!("actorlost cap=none:{}", sums.len()),
                Err(err) => println!("actorlost cap={}", err.to_string().replace('\n', " ")),
            }
            let made =
                make_big::remote_with(TaskOptions::new().node_id(third).max_retries(0), 2, 6);
            rustyray::wait(std::slice::from_ref(&made), 1, None)?;
            println!("actorlost held={}", vault.hold(vec![made]).get()?);
            wait_for_gate(gate)?;
            match vault.reread().get() {
                Ok(sums) => println!("actorlost kind=none read={}", sums.len()),
                Err(RayError::ObjectLost { node, .. }) => {
                    println!("actorlost kind=ObjectLost node={node}")
                }
                Err(err) => println!(
                    "actorlost kind=other error={}",
                    err.to_string().replace('\n', " ")
                ),
            }
            println!("actorlost canary={}", vault.hold(Vec::new()).get()?);
        }
        Some("near") => {
            let mib = number(&args, 2, 4) as u32;
            let n = number(&args, 3, 6) as u32;
            let objects: Vec<_> = (1..=n).map(|seed| make_big::remote(mib, seed)).collect();
            rustyray::wait(&objects, objects.len(), None)?;
            let sums: Vec<_> = objects.iter().map(checksum::remote).collect();
            for (seed, sum) in (1..=n).zip(&sums) {
                let (len, fnv) = sum.get()?;
                println!("near seed={seed} len={len} fnv={fnv:016x}");
            }
        }
        Some("open") => {
            let name = args.get(2).cloned().unwrap_or_default();
            let gate = Hits::get_named(&name)
                .ok_or_else(|| RayError::application(format!("missing {name}")))?;
            println!("open count={}", gate.add(1).get()?);
        }
        Some("lookup") => {
            let name = args.get(2).cloned().unwrap_or_default();
            match bump_named::remote(name, 0).get() {
                Ok(count) => println!("lookup found={count}"),
                Err(err) if err.to_string().contains("missing") => println!("lookup missing"),
                Err(err) => return Err(err),
            }
        }
        Some("cancel") => {
            let node = args.get(2).cloned().unwrap_or_default();
            let k = number(&args, 3, 3);
            let started = Hits::remote_with(ActorOptions::new().node_id(node));
            started.add(0).get()?;
            let parents: Vec<_> = (0..k)
                .map(|_| spin_tree::remote(started.clone(), 1))
                .collect();
            let dependent = step::remote(&parents[0], 0);
            while started.add(0).get()? < 2 * k {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            for parent in &parents {
                rustyray::cancel(parent);
            }
            let cancelled = parents
                .iter()
                .filter(|p| matches!(p.get(), Err(RayError::Cancelled)))
                .count();
            let dependent = match dependent.get() {
                Ok(value) => format!("ran:{value}"),
                Err(err) => err.to_string().replace('\n', " "),
            };
            println!("cancel parents={k} cancelled={cancelled} dependent={dependent}");
        }
        Some("other") => {
            let n = number(&args, 2, 30);
            let refs: Vec<_> = (0..n).map(call_other::remote).collect();
            let mut sum = 0;
            for r in &refs {
                sum += r.get()?;
            }
            println!("other n={n} sum={sum}");
        }
        Some("hog") => {
            let n = number(&args, 2, 10);
            let mib = number(&args, 3, 128);
            let refs: Vec<_> = (0..n).map(|_| hog::remote(mib)).collect();
            let mut kinds = std::collections::BTreeMap::<String, u64>::new();
            for r in &refs {
                let kind = match r.get() {
                    Ok(_) => "ok".to_string(),
                    Err(RayError::LimitExceeded { limit, .. }) => {
                        format!("LimitExceeded:{limit}")
                    }
                    Err(err) => format!("other:{}", err.to_string().replace('\n', " ")),
                };
                *kinds.entry(kind).or_default() += 1;
            }
            let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k}={n}")).collect();
            println!("hog n={n} {}", kinds.join(" "));
        }
        Some("placed") => {
            let resource = args.get(2).cloned().unwrap_or_default();
            let node = args.get(3).cloned().unwrap_or_default();
            let n = number(&args, 4, 10);
            let on = |options: TaskOptions| -> Vec<_> {
                (0..n)
                    .map(|i| step::remote_with(options.clone(), i, 5))
                    .collect()
            };
            let by_resource = on(TaskOptions::new().resource(resource.clone(), 1.0));
            let by_node = on(TaskOptions::new().node_id(node));
            let missing = step::remote_with(TaskOptions::new().resource("nosuch", 1.0), 1, 0);
            let gone = step::remote_with(TaskOptions::new().node_id("no-such-node"), 1, 0);
            let too_much = step::remote_with(TaskOptions::new().resource(resource, 1e9), 1, 0);
            let canary = step::remote(7, 0);
            let sum = |refs: &[rustyray::ObjectRef<u64>]| -> Result<u64, RayError> {
                refs.iter().map(|r| r.get()).sum()
            };
            let error = |r: rustyray::ObjectRef<u64>| match r.get() {
                Ok(value) => format!("ran:{value}"),
                Err(RayError::InvalidArgument(message)) => {
                    format!("InvalidArgument({})", message.replace('\n', " "))
                }
                Err(err) => format!("other:{err}"),
            };
            println!(
                "placed resource={} node={} missing={} gone={} too_much={} canary={}",
                sum(&by_resource)?,
                sum(&by_node)?,
                error(missing),
                error(gone),
                error(too_much),
                canary.get()?
            );
        }
        Some("gpus") => {
            let n = number(&args, 2, 4);
            let ms = number(&args, 3, 200);
            let node = args.get(4).cloned().unwrap_or_default();
            let gauge = Gauge::remote_with(ActorOptions::new().node_id(node));
            gauge.seen().get()?;
            let gpu = TaskOptions::new().resource("gpu", 1.0);
            let refs: Vec<_> = (0..n)
                .map(|i| gauged::remote_with(gpu.clone(), gauge.clone(), i, ms))
                .collect();
            let canary: Vec<_> = (0..30).map(|i| step::remote(i, ms)).collect();
            let mut sum = 0;
            for r in &refs {
                sum += r.get()?;
            }
            let mut squares = 0;
            for r in &canary {
                squares += r.get()?;
            }
            let (most, entered) = gauge.seen().get()?;
            println!("gpus n={n} sum={sum} most={most} entered={entered} canary={squares}");
        }
        Some("gated") => {
            let node = args.get(2).cloned().unwrap_or_default();
            let ran = gated::remote_with(TaskOptions::new().resource("gpu", 1.0), node);
            println!("gated ran={}", ran.get()?);
        }
        Some("holder") => {
            let name = args.get(2).cloned().unwrap_or_else(|| "holder".into());
            let holder = Hits::remote_with(
                ActorOptions::new()
                    .name(name)
                    .detached(true)
                    .resource("gpu", 1.0),
            );
            match holder.add(0).get() {
                Ok(_) => println!("holder up"),
                Err(err) => println!("holder error={}", err.to_string().replace('\n', " ")),
            }
        }
        Some("after") => {
            println!("after canary={}", step::remote(7, 0).get()?);
            let ran = step::remote_with(TaskOptions::new().resource("gpu", 1.0), 7, 0);
            println!("after ran={}", ran.get()?);
        }
        Some("kill") => {
            let name = args.get(2).cloned().unwrap_or_default();
            let actor = Hits::get_named(&name)
                .ok_or_else(|| RayError::application(format!("missing {name}")))?;
            actor.kill();
            println!("killed");
        }
        other => {
            return Err(RayError::application(format!(
                "unknown mode {other:?}: spread N MS, big MIB, hold MIB N NODE, lost MIB N \
                 NODE, borrow MIB N NODE OTHER, open NAME, actors NODE N, lookup NAME, cancel NODE K, other N, hog \
                 N MIB, placed RESOURCE NODE N, gpus N MS NODE, gated NODE, holder [NAME], after or kill NAME"
            )));
        }
    }
    Ok(())
}
