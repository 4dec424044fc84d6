//! The in-memory object store: where task results and `put` values live.
//!
//! There is no global table of objects. An object *is* its [`Slot`], shared through
//! `Arc`s held by exactly the things that reference it: host [`ObjectRef`]s, guest
//! `object-ref` resources (in each instance's resource table) and the arguments of
//! tasks not yet run. The reference count is the `Arc`'s count, so handing a
//! reference around costs an atomic increment and no lock, and an object is freed
//! the moment its last holder lets go; [`StoreStats`] makes that observable.
//!
//! A slot is filled once, with bytes or with an error, and then wakes every waiter.
//! Payloads are [`Bytes`], so a value put once is shared, never copied, by every
//! holder inside the host. The store counts the bytes of objects in memory; when a
//! value would take it past its cap, the least recently used objects of
//! [`SPILL_MIN`] bytes or more that no one is reading right now (their `Bytes` are not
//! shared) are written to disk (`spill.rs`, at most the spill capacity) and dropped
//! from memory, and read back transparently when used: a whole `get` restores the
//! object (if it fits, by spilling colder ones), a ranged `read` reads only its range
//! from the file. Only what cannot be made to fit is refused, with
//! [`RayError::ObjectStoreFull`], `LimitExceeded` naming the spilled bytes limit, or
//! [`RayError::Spill`] when the disk fails. The host memory budget, charged too, is a
//! hard bound: it never spills.
//!
//! [`ObjectRef`]: crate::ObjectRef

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::budget::HostMemory;
use crate::codec::Value;
use crate::error::{RayError, Result};
use crate::id::Id;
use crate::output::TaskOutput;
use crate::spill::{SpillDir, SpillFile};
use crate::task_impl::TaskControl;

/// Objects at least this large may be spilled to disk; smaller ones always stay in
/// memory (a file per small object would cost more than it frees).
pub const SPILL_MIN: usize = 64 << 10;

/// How long a host-side `get` spins before it parks (see [`Slot::ready_soon`]).
const HOST_SPIN: std::time::Duration = std::time::Duration::from_micros(30);

/// The id of an object: node-qualified and random (see [`Id`]), so it cannot be
/// guessed from another id.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ObjectId(pub Id);

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "object#{}", self.0)
    }
}

/// How a value's bytes are to be read (the WIT's `encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// A MessagePack value (structs as maps keyed by field name).
    Msgpack,
    /// A byte buffer stored as given (`Vec<u8>`, `Bytes`, `serde_bytes`, `put_bytes`).
    Raw,
}

/// A finished object as it is handed to the store: its payload or why there is none.
pub(crate) type Outcome = std::result::Result<(Bytes, Encoding), RayError>;

/// What a filled slot holds: its payload's encoding and length (the bytes themselves
/// are read with [`Slot::value`] or [`Slot::read`]: they may be on disk), or the error.
pub(crate) type Filled = std::result::Result<Stored, RayError>;

/// The encoding and length of a ready object's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stored {
    pub(crate) encoding: Encoding,
    pub(crate) len: usize,
}

/// Where a ready object's bytes are.
#[derive(Debug)]
enum Payload {
    /// Not filled yet, or filled with an error.
    None,
    /// In memory; `file` is a copy on disk from an earlier spill (so spilling it
    /// again writes nothing).
    Memory {
        bytes: Bytes,
        file: Option<SpillFile>,
    },
    /// Only on disk.
    Spilled(SpillFile),
    /// Kept by the node that made it (`remote/objects.rs`): fetched on first use.
    Remote(Arc<crate::remote::objects::RemoteObject>),
}

/// Counters shared by every slot of one runtime.
#[derive(Debug)]
pub(crate) struct StoreShared {
    /// The node number ids are qualified with.
    node: u64,
    live_objects: AtomicUsize,
    used_bytes: AtomicUsize,
    freed_objects: AtomicU64,
    capacity: usize,
    /// The runtime's host memory account: objects, errors and output are charged
    /// to it as well as (objects) to the store's own cap.
    host: HostMemory,
    /// Where cold objects go when the cap is reached.
    spill: SpillDir,
    /// The most bytes on disk at once.
    spill_capacity: usize,
    /// Objects of [`SPILL_MIN`] bytes or more, the candidates for spilling (entries of
    /// freed objects are dropped as they are found).
    spillable: Mutex<Vec<Weak<Slot>>>,
    /// The logical clock of uses, for least-recently-used order.
    clock: AtomicU64,
    spilled_bytes: AtomicUsize,
    spills: AtomicU64,
    restores: AtomicU64,
    /// The latest objects made by `put` (host or guest), for the state API's object
    /// listing (`state.rs`); bounded, oldest out first.
    puts: Mutex<std::collections::VecDeque<Weak<Slot>>>,
}

/// How many `put` objects the state API remembers (the latest; task results are
/// found through their tasks' records).
pub const MAX_PUT_RECORDS: usize = 10_000;

/// A snapshot of the object store's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    /// Objects some holder still references (pending or ready).
    pub live_objects: usize,
    /// Bytes held by ready objects.
    pub used_bytes: usize,
    /// Objects freed since the runtime started.
    pub freed_objects: u64,
    /// The memory cap, in bytes.
    pub capacity: usize,
    /// Bytes the host holds on guests' behalf, objects included (see
    /// [`RuntimeBuilder::host_memory`](crate::RuntimeBuilder::host_memory)).
    pub host_memory_used: usize,
    /// The most [`host_memory_used`](Self::host_memory_used) has been.
    pub host_memory_peak: usize,
    /// The host memory budget.
    pub host_memory_capacity: usize,
    /// Bytes of objects that are on disk only (spilled, not restored).
    pub spilled_bytes: usize,
    /// Objects spilled to disk since the runtime started.
    pub spills: u64,
    /// Spilled objects read back whole (a `get`) since the runtime started.
    pub restores: u64,
}

/// The store: creates slots and keeps the counters.
#[derive(Debug, Clone)]
pub(crate) struct ObjectStore {
    shared: Arc<StoreShared>,
}

impl ObjectStore {
    /// A store spilling under the default root (the temporary directory).
    #[cfg(test)]
    pub(crate) fn new(capacity: usize, host: HostMemory, node: u64) -> Self {
        Self::with_spill(
            capacity,
            host,
            node,
            crate::spill::default_root(None),
            capacity.saturating_mul(4),
        )
    }

    /// A store whose cold objects spill under `spill_root` (see `spill.rs`).
    pub(crate) fn with_spill(
        capacity: usize,
        host: HostMemory,
        node: u64,
        spill_root: std::path::PathBuf,
        spill_capacity: usize,
    ) -> Self {
        ObjectStore {
            shared: Arc::new(StoreShared {
                node,
                live_objects: AtomicUsize::new(0),
                used_bytes: AtomicUsize::new(0),
                freed_objects: AtomicU64::new(0),
                capacity,
                host,
                spill: SpillDir::new(spill_root),
                spill_capacity,
                spillable: Mutex::new(Vec::new()),
                clock: AtomicU64::new(0),
                spilled_bytes: AtomicUsize::new(0),
                spills: AtomicU64::new(0),
                restores: AtomicU64::new(0),
                puts: Mutex::default(),
            }),
        }
    }

    /// The root of the spill directory.
    pub(crate) fn spill_root(&self) -> &std::path::Path {
        self.shared.spill.root()
    }

    /// The runtime's host memory account.
    pub(crate) fn host_memory(&self) -> &HostMemory {
        &self.shared.host
    }

    /// A new empty slot, to be filled by a task.
    pub(crate) fn new_slot(&self) -> Arc<Slot> {
        self.slot_with_id(ObjectId(Id::random(self.shared.node)))
    }

    /// A new empty slot of id `id`: this runtime's copy of another runtime's object
    /// (a reference received from another node, `remote/borrow.rs`), so the value
    /// holding the reference keeps its bytes.
    pub(crate) fn slot_with_id(&self, id: ObjectId) -> Arc<Slot> {
        self.shared.live_objects.fetch_add(1, Ordering::Relaxed);
        Arc::new_cyclic(|me| Slot {
            id,
            outcome: OnceLock::new(),
            payload: Mutex::new(Payload::None),
            last_use: AtomicU64::new(0),
            me: me.clone(),
            notify: Notify::new(),
            producer: Mutex::new(None),
            store: self.shared.clone(),
            output: OnceLock::new(),
            held: AtomicUsize::new(0),
            carried: OnceLock::new(),
            contained: OnceLock::new(),
            freed: OnceLock::new(),
            remote: Mutex::new(None),
            lost: OnceLock::new(),
            exported: OnceLock::new(),
        })
    }

    /// A slot already holding `bytes` (a `put`).
    pub(crate) fn put(&self, bytes: Bytes, encoding: Encoding) -> Result<Arc<Slot>> {
        let slot = self.new_slot();
        slot.complete(Ok((bytes, encoding)))?;
        self.record_put(&slot);
        Ok(slot)
    }

    /// Remembers `slot`, made by a `put`, for the state API (the latest
    /// [`MAX_PUT_RECORDS`]; a weak reference: it does not keep the object).
    pub(crate) fn record_put(&self, slot: &Arc<Slot>) {
        if let Ok(mut puts) = self.shared.puts.lock() {
            if puts.len() >= MAX_PUT_RECORDS {
                puts.pop_front();
            }
            puts.push_back(Arc::downgrade(slot));
        }
    }

    /// The `put` objects still alive, oldest first.
    pub(crate) fn live_puts(&self) -> Vec<Arc<Slot>> {
        self.shared
            .puts
            .lock()
            .map(|puts| puts.iter().filter_map(Weak::upgrade).collect())
            .unwrap_or_default()
    }

    pub(crate) fn stats(&self) -> StoreStats {
        StoreStats {
            live_objects: self.shared.live_objects.load(Ordering::Relaxed),
            used_bytes: self.shared.used_bytes.load(Ordering::Relaxed),
            freed_objects: self.shared.freed_objects.load(Ordering::Relaxed),
            capacity: self.shared.capacity,
            host_memory_used: self.shared.host.used(),
            host_memory_peak: self.shared.host.peak(),
            host_memory_capacity: self.shared.host.capacity(),
            spilled_bytes: self.shared.spilled_bytes.load(Ordering::Relaxed),
            spills: self.shared.spills.load(Ordering::Relaxed),
            restores: self.shared.restores.load(Ordering::Relaxed),
        }
    }
}

impl StoreShared {
    /// Reserves `len` bytes of object `id` under the cap and in the host memory
    /// account, spilling cold objects to disk to make room if need be.
    fn reserve(&self, id: ObjectId, len: usize) -> Result<()> {
        let mut refusal = match self.try_reserve(id, len) {
            Ok(()) => return Ok(()),
            Err(err) => err,
        };
        // Only the store's own cap makes room by spilling (the host memory budget is a
        // hard bound); what could never fit is refused at once.
        if !matches!(refusal, RayError::ObjectStoreFull { .. }) || len > self.capacity {
            return Err(refusal);
        }
        // Others may take what a spill freed before we do: try a few times.
        for _ in 0..4 {
            if self.make_room(len)? == 0 {
                return Err(refusal);
            }
            match self.try_reserve(id, len) {
                Ok(()) => return Ok(()),
                Err(err) => refusal = err,
            }
        }
        Err(refusal)
    }

    /// Spills the least recently used objects nobody is reading until `need` bytes
    /// are freed (or no candidate is left); returns the bytes freed. A disk error is
    /// returned only if nothing could be freed.
    fn make_room(&self, need: usize) -> Result<usize> {
        let mut spillable = self
            .spillable
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut candidates = Vec::new();
        spillable.retain(|slot| match slot.upgrade() {
            Some(slot) => {
                if let Some(last_use) = slot.spillable_now() {
                    candidates.push((last_use, slot));
                }
                true
            }
            None => false,
        });
        candidates.sort_by_key(|(last_use, _)| *last_use);
        let mut freed = 0;
        let mut failure = None;
        for (_, slot) in &candidates {
            if freed >= need {
                break;
            }
            match slot.spill_out(self.spill_capacity) {
                Ok(bytes) => freed += bytes,
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }
        drop(spillable);
        // Dropped outside the lock: one may be the last reference by now.
        drop(candidates);
        match failure {
            Some(err) if freed == 0 => Err(err),
            _ => Ok(freed),
        }
    }

    /// Counts `slot` among the candidates for spilling.
    fn register(&self, slot: Weak<Slot>) {
        let mut spillable = self
            .spillable
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Forget freed objects now and then, so the list stays as long as what lives.
        if spillable.len() >= 64 && spillable.len().is_power_of_two() {
            spillable.retain(|slot| slot.strong_count() > 0);
        }
        spillable.push(slot);
    }

    /// The next tick of the use clock.
    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// Reserves `len` bytes, or says why not (no spilling).
    fn try_reserve(&self, id: ObjectId, len: usize) -> Result<()> {
        let mut used = self.used_bytes.load(Ordering::Relaxed);
        loop {
            let next = used.saturating_add(len);
            if next > self.capacity {
                return Err(RayError::ObjectStoreFull {
                    requested: len,
                    used,
                    capacity: self.capacity,
                });
            }
            match self.used_bytes.compare_exchange_weak(
                used,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => used = actual,
            }
        }
        if let Err(err) = self.host.take(len, || format!("storing {id}")) {
            self.used_bytes.fetch_sub(len, Ordering::Relaxed);
            return Err(err);
        }
        Ok(())
    }

    /// Gives back what [`StoreShared::reserve`] took.
    fn unreserve(&self, len: usize) {
        self.used_bytes.fetch_sub(len, Ordering::Relaxed);
        self.host.release(len);
    }
}

/// Where an object is, as the state API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ObjectLocation {
    /// Its task has not finished.
    Pending,
    /// Its task failed: the object holds the error.
    Error,
    /// Freed (`free`): every read answers `ObjectFreed`.
    Freed,
    /// In the store's memory.
    Memory,
    /// On disk only (spilled past the store's cap).
    Spilled,
    /// Kept on the cluster node that made it, not fetched here yet.
    Remote,
}

/// One object: filled once, read by any number of holders.
pub struct Slot {
    id: ObjectId,
    outcome: OnceLock<Filled>,
    /// The bytes of a ready value, in memory or on disk. Filled, with `outcome`,
    /// under this lock; read under it (a clone of the `Bytes`), so a spill, which
    /// needs the only reference, cannot race a reader.
    payload: Mutex<Payload>,
    /// When it was last used (the store's clock), for objects of [`SPILL_MIN`] or more.
    last_use: AtomicU64,
    /// This slot, for the store's list of spill candidates.
    me: Weak<Slot>,
    notify: Notify,
    /// The task that will fill this slot, for `cancel`.
    producer: Mutex<Option<Weak<TaskControl>>>,
    store: Arc<StoreShared>,
    /// What the producing task printed, set (if it printed anything) before the
    /// outcome, so whoever sees the outcome sees the output.
    output: OnceLock<Box<TaskOutput>>,
    /// Host memory charged for the output and for an error outcome (a value's bytes
    /// are charged by the store's `reserve`).
    held: AtomicUsize,
    /// The actors whose handles are serialized inside the value: kept alive while it is.
    carried: OnceLock<Box<[Arc<crate::actor_impl::ActorCell>]>>,
    /// The objects this one's value holds references to (Ray's "contained in"
    /// references): kept alive for as long as this object is (see `refs.rs`).
    contained: OnceLock<Box<[Arc<Slot>]>>,
    /// Set by `free`: every read from then on answers [`RayError::ObjectFreed`].
    freed: OnceLock<Filled>,
    /// A result another runtime keeps, set just before [`Slot::complete`] fills the slot
    /// with it (see [`Slot::hold_remote`]).
    remote: Mutex<Option<Arc<crate::remote::objects::RemoteObject>>>,
    /// Set when a remote value could be neither fetched nor made again: every read
    /// from then on answers it ([`RayError::ObjectLost`]).
    lost: OnceLock<Filled>,
    /// Where other nodes find it, once a reference to it crossed to one
    /// (`remote/borrow.rs`): counted there for this runtime while this slot lives.
    exported: OnceLock<crate::remote::borrow::Exported>,
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot")
            .field("id", &self.id)
            .field("ready", &self.outcome.get().is_some())
            .finish()
    }
}

impl Slot {
    pub(crate) fn id(&self) -> ObjectId {
        self.id
    }

    /// Keeps `actors`, whose handles the value holds serialized, alive as long as this
    /// object (a handle inside a value keeps its actor, as a real one does). Set once.
    /// The actors whose handles the value holds (see [`Slot::carry`]).
    pub(crate) fn carried(&self) -> &[Arc<crate::actor_impl::ActorCell>] {
        self.carried.get().map(|actors| &actors[..]).unwrap_or(&[])
    }

    pub(crate) fn carry(&self, actors: Vec<Arc<crate::actor_impl::ActorCell>>) {
        if !actors.is_empty() {
            let _ = self.carried.set(actors.into_boxed_slice());
        }
    }

    /// Records what the producing task printed; call before [`Slot::complete`]. The
    /// bytes are charged to the host memory account; output that does not fit is
    /// replaced by a note saying so.
    pub(crate) fn set_output(&self, output: TaskOutput) {
        let len = output.stdout.len() + output.stderr.len();
        let output = match self
            .store
            .host
            .take(len, || format!("the output of {}", self.id))
        {
            Ok(()) => {
                self.held.fetch_add(len, Ordering::Relaxed);
                output
            }
            Err(err) => TaskOutput::dropped(&err),
        };
        if let Err(lost) = self.output.set(Box::new(output)) {
            self.give_back(lost.stdout.len() + lost.stderr.len());
        }
    }

    /// Gives back `len` bytes of what `held` charged.
    fn give_back(&self, len: usize) {
        self.held.fetch_sub(len, Ordering::Relaxed);
        self.store.host.release(len);
    }

    /// What the producing task printed, if anything (once the slot is ready).
    pub(crate) fn output(&self) -> Option<&TaskOutput> {
        self.output.get().map(|output| &**output)
    }

    /// Fills the slot. A payload that cannot be held (over the store's cap, with
    /// nothing left to spill) fills it with [`RayError::ObjectStoreFull`] (or the
    /// spill's [`RayError::Spill`]) instead, and that error is also returned.
    /// Filling an already filled slot does nothing (the first outcome wins: a task
    /// that finishes just as it is cancelled keeps one answer).
    pub(crate) fn complete(&self, outcome: Outcome) -> Result<()> {
        if self.outcome.get().is_some() {
            return Ok(());
        }
        let mut refused = None;
        let remote = self.remote.lock().ok().and_then(|mut remote| remote.take());
        match (outcome, remote) {
            // Kept elsewhere: nothing here to reserve until it is fetched.
            (Ok((_, encoding)), Some(remote)) => {
                let stored = Stored {
                    encoding,
                    len: remote.len(),
                };
                self.fill(Ok(stored), Payload::Remote(remote));
            }
            (Ok((bytes, encoding)), None) => {
                let len = bytes.len();
                match self.store.reserve(self.id, len) {
                    Ok(()) => {
                        let stored = Stored { encoding, len };
                        let payload = Payload::Memory { bytes, file: None };
                        if !self.fill(Ok(stored), payload) {
                            self.store.unreserve(len);
                        } else if len >= SPILL_MIN {
                            self.last_use.store(self.store.tick(), Ordering::Relaxed);
                            self.store.register(self.me.clone());
                        }
                    }
                    Err(err) => {
                        refused = Some(err.clone());
                        self.fill(Err(err), Payload::None);
                    }
                }
            }
            // An error's text is held as long as the object: charged like a value. One
            // that does not fit is replaced by the (small) refusal itself.
            (Err(err), _) => {
                let len = err.held_bytes();
                match self
                    .store
                    .host
                    .take(len, || format!("keeping the error of {}", self.id))
                {
                    Ok(()) => {
                        if self.fill(Err(err), Payload::None) {
                            self.held.fetch_add(len, Ordering::Relaxed);
                        } else {
                            self.store.host.release(len);
                        }
                    }
                    Err(refusal) => {
                        self.fill(Err(refusal), Payload::None);
                    }
                }
            }
        }
        if let Ok(mut producer) = self.producer.lock() {
            producer.take();
        }
        self.notify.notify_waiters();
        match refused {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// Sets the outcome and payload unless the slot is already filled; whether it was.
    fn fill(&self, filled: Filled, payload: Payload) -> bool {
        let mut slot_payload = self.payload();
        if self.outcome.get().is_some() || self.freed.get().is_some() {
            return false;
        }
        *slot_payload = payload;
        self.outcome.set(filled).is_ok()
    }

    fn payload(&self) -> MutexGuard<'_, Payload> {
        self.payload.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks a large object used now (for the spill order).
    fn touch(&self, len: usize) {
        if len >= SPILL_MIN {
            self.last_use.store(self.store.tick(), Ordering::Relaxed);
        }
    }

    /// The value of a ready object (`stored` is its [`Filled`]), read back from disk
    /// if it was spilled: restored into memory if the store can make room for it,
    /// else handed over without being kept.
    pub(crate) fn value(&self, stored: &Stored) -> Result<Value> {
        let payload = self.payload();
        let file = match &*payload {
            Payload::Memory { bytes, .. } => {
                let data = bytes.clone();
                drop(payload);
                self.touch(stored.len);
                return Ok(self.value_of(stored.encoding, data));
            }
            Payload::Spilled(file) => file.clone(),
            Payload::None => return Err(self.no_payload()),
            Payload::Remote(_) => return Err(self.not_fetched()),
        };
        // Read under the lock: readers arriving meanwhile wait and find it restored.
        let data = Bytes::from(self.store.spill.read(&file, 0, stored.len)?);
        self.store.restores.fetch_add(1, Ordering::Relaxed);
        drop(payload);
        let kept = self.store.reserve(self.id, stored.len).is_ok();
        let mut payload = self.payload();
        if kept {
            if matches!(*payload, Payload::Spilled(_)) {
                *payload = Payload::Memory {
                    bytes: data.clone(),
                    file: Some(file),
                };
                self.store
                    .spilled_bytes
                    .fetch_sub(stored.len, Ordering::Relaxed);
            } else {
                self.store.unreserve(stored.len);
            }
        }
        drop(payload);
        self.touch(stored.len);
        Ok(self.value_of(stored.encoding, data))
    }

    /// A value of this object: its bytes and the objects it refers to.
    fn value_of(&self, encoding: Encoding, data: Bytes) -> Value {
        let refs = crate::refs::Contained::new(self.contained().to_vec());
        Value::with_refs(encoding, data, refs)
    }

    /// Why a ready object has no bytes: it was freed meanwhile.
    fn no_payload(&self) -> RayError {
        match self.freed.get() {
            Some(Err(err)) => err.clone(),
            _ => RayError::Internal(format!("{} has no payload", self.id)),
        }
    }

    /// A remote value read before it was fetched (a bug: readers wait with `ready`).
    fn not_fetched(&self) -> RayError {
        RayError::Internal(format!(
            "{} is kept on another node and was not fetched",
            self.id
        ))
    }

    /// Where other nodes find this object, if a reference to it crossed to one.
    pub(crate) fn exported(&self) -> Option<&crate::remote::borrow::Exported> {
        self.exported.get()
    }

    /// Records where other nodes find it (once; a second is handed back).
    pub(crate) fn set_exported(
        &self,
        exported: crate::remote::borrow::Exported,
    ) -> std::result::Result<(), crate::remote::borrow::Exported> {
        self.exported.set(exported)
    }

    /// Records that the value about to fill this slot (its bytes empty) is kept by
    /// another runtime; call right before [`Slot::complete`].
    pub(crate) fn hold_remote(&self, remote: Arc<crate::remote::objects::RemoteObject>) {
        if let Ok(mut slot) = self.remote.lock() {
            *slot = Some(remote);
        }
    }

    /// Where a value kept by another runtime is, while it is not fetched here.
    pub(crate) fn remote_held(&self) -> Option<crate::remote::wire::Held> {
        if self.lost.get().is_some() {
            return None;
        }
        match &*self.payload() {
            Payload::Remote(remote) => Some(remote.held()),
            _ => None,
        }
    }

    /// The value is kept by another runtime and not fetched here yet.
    pub(crate) fn needs_fetch(&self) -> bool {
        self.lost.get().is_none() && matches!(*self.payload(), Payload::Remote(_))
    }

    /// Fetches a remote value whole into this store (the holder's copy is then let
    /// go); a value that cannot be had makes the slot [`RayError::ObjectLost`] (or
    /// [`RayError::ObjectStoreFull`] if it does not fit here).
    async fn fetch_remote(&self) {
        let remote = match &*self.payload() {
            Payload::Remote(remote) => remote.clone(),
            _ => return,
        };
        let _turn = remote.fetching.lock().await;
        if !matches!(*self.payload(), Payload::Remote(_)) || self.lost.get().is_some() {
            return;
        }
        let len = remote.len();
        let fetched = match remote.fetch(&self.id.to_string(), 0, len as u64).await {
            Ok(bytes) => self.store.reserve(self.id, len).map(|()| bytes),
            Err(err) => Err(err),
        };
        match fetched {
            Ok(bytes) => {
                let mut payload = self.payload();
                if matches!(*payload, Payload::Remote(_)) {
                    // Dropping the remote record lets the holder's copy go.
                    *payload = Payload::Memory { bytes, file: None };
                    drop(payload);
                    if len >= SPILL_MIN {
                        self.last_use.store(self.store.tick(), Ordering::Relaxed);
                        self.store.register(self.me.clone());
                    }
                } else {
                    drop(payload);
                    self.store.unreserve(len);
                }
            }
            Err(err) => {
                let _ = self.lost.set(Err(err));
                self.notify.notify_waiters();
            }
        }
    }

    /// Bytes `range` of a ready object's payload (the caller checked it is inside),
    /// fetching only that range if the value is kept on another node.
    pub(crate) async fn read_range(&self, range: std::ops::Range<usize>) -> Result<Vec<u8>> {
        let remote = match &*self.payload() {
            Payload::Remote(remote) => Some(remote.clone()),
            _ => None,
        };
        // Read with the payload's lock let go (`read` takes it).
        let Some(remote) = remote else {
            return self.read(range);
        };
        let bytes = remote
            .fetch(
                &self.id.to_string(),
                range.start as u64,
                (range.end - range.start) as u64,
            )
            .await?;
        Ok(bytes.to_vec())
    }

    /// Bytes `range` of a ready object's payload (the caller checked it is inside),
    /// read from the file without restoring the rest if the object is on disk.
    pub(crate) fn read(&self, range: std::ops::Range<usize>) -> Result<Vec<u8>> {
        let payload = self.payload();
        let file = match &*payload {
            Payload::Memory { bytes, .. } => {
                // Copied outside the lock: readers of one object do not queue.
                let bytes = bytes.clone();
                drop(payload);
                self.touch(bytes.len());
                return Ok(bytes[range].to_vec());
            }
            Payload::Spilled(file) => file.clone(),
            Payload::None => return Err(self.no_payload()),
            Payload::Remote(_) => return Err(self.not_fetched()),
        };
        drop(payload);
        // The file lives as long as the slot (it is removed only when it is freed).
        self.store
            .spill
            .read(&file, range.start as u64, range.end - range.start)
    }

    /// Waits for the object and returns its value (or its error).
    pub(crate) async fn get_value(&self) -> Result<Value> {
        match self.ready().await {
            Ok(stored) => self.value(stored),
            Err(err) => Err(err.clone()),
        }
    }

    /// [`Slot::get_value`] for a caller on a thread of its own (see [`Slot::ready_soon`]).
    pub(crate) async fn get_value_soon(&self) -> Result<Value> {
        match self.ready_soon().await {
            Ok(stored) => self.value(stored),
            Err(err) => Err(err.clone()),
        }
    }

    /// If it is in memory and nobody holds its bytes: when it was last used.
    fn spillable_now(&self) -> Option<u64> {
        let payload = self.payload.try_lock().ok()?;
        match &*payload {
            Payload::Memory { bytes, .. } if bytes.is_unique() => {
                Some(self.last_use.load(Ordering::Relaxed))
            }
            _ => None,
        }
    }

    /// Writes the object to disk (unless a copy is there already) and drops it from
    /// memory; the bytes freed (0 if it is in use or already out). Refused past
    /// `spill_capacity` bytes on disk.
    fn spill_out(&self, spill_capacity: usize) -> Result<usize> {
        let Ok(mut payload) = self.payload.try_lock() else {
            return Ok(0);
        };
        let Payload::Memory { bytes, file } = &*payload else {
            return Ok(0);
        };
        if !bytes.is_unique() {
            return Ok(0);
        }
        let len = bytes.len();
        let on_disk = self.store.spilled_bytes.load(Ordering::Relaxed);
        if on_disk.saturating_add(len) > spill_capacity {
            return Err(RayError::LimitExceeded {
                function: format!("spilling {}", self.id),
                limit: crate::limits::Limit::Spilled,
                value: spill_capacity as u64,
                detail: format!(
                    "{on_disk} bytes are on disk and the object store is full; raise it \
                     with --max-spill (or --object-store)"
                ),
            });
        }
        let file = match file {
            Some(file) => file.clone(),
            None => self.store.spill.write(bytes)?,
        };
        *payload = Payload::Spilled(file);
        drop(payload);
        self.store.unreserve(len);
        self.store.spilled_bytes.fetch_add(len, Ordering::Relaxed);
        self.store.spills.fetch_add(1, Ordering::Relaxed);
        Ok(len)
    }

    /// Records the objects the value about to fill this slot refers to; call before
    /// [`Slot::complete`]. They live as long as this slot.
    pub(crate) fn set_contained(&self, contained: Vec<Arc<Slot>>) {
        if !contained.is_empty() {
            let _ = self.contained.set(contained.into_boxed_slice());
        }
    }

    /// The objects this one's value refers to.
    pub(crate) fn contained(&self) -> &[Arc<Slot>] {
        self.contained.get().map_or(&[], |contained| contained)
    }

    /// Gives a payload's resources back to the store: its memory reservation, its spill
    /// file, and its share of the spilled bytes. Both `free` and the slot's drop end here.
    fn release(&self, payload: Payload) {
        match payload {
            Payload::None => {}
            Payload::Memory { bytes, file } => {
                self.store.unreserve(bytes.len());
                if let Some(file) = file {
                    self.store.spill.remove(&file);
                }
            }
            // Dropping it lets the holder's copy go.
            Payload::Remote(remote) => drop(remote),
            Payload::Spilled(file) => {
                if let Some(Ok(stored)) = self.outcome.get() {
                    self.store
                        .spilled_bytes
                        .fetch_sub(stored.len, Ordering::Relaxed);
                }
                self.store.spill.remove(&file);
            }
        }
    }

    /// Frees the object (Ray's `free`): every read from now on, and every waiter, gets
    /// [`RayError::ObjectFreed`], and its bytes (in memory or on disk) are given back
    /// now, whoever else still holds it. A value that arrives later is not kept.
    pub(crate) fn free(&self) {
        let _ = self.freed.set(Err(RayError::ObjectFreed(self.id)));
        let mut payload = self.payload();
        let released = std::mem::replace(&mut *payload, Payload::None);
        drop(payload);
        self.release(released);
        self.notify.notify_waiters();
    }

    /// The outcome if the slot is filled (or freed).
    pub(crate) fn try_get(&self) -> Option<&Filled> {
        self.freed
            .get()
            .or_else(|| self.lost.get())
            .or_else(|| self.outcome.get())
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.try_get().is_some()
    }

    /// Waits until the slot is filled, and a value kept on another node is fetched
    /// here (or found lost).
    pub(crate) async fn ready(&self) -> &Filled {
        let filled = self.ready_unfetched().await;
        if filled.is_ok() && self.needs_fetch() {
            self.fetch_remote().await;
            return self.try_get().unwrap_or(filled);
        }
        filled
    }

    /// Waits until the slot is filled; a value kept on another node stays there.
    pub(crate) async fn ready_unfetched(&self) -> &Filled {
        loop {
            if let Some(outcome) = self.try_get() {
                return outcome;
            }
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Register before the second check, so a fill in between is not missed.
            notified.as_mut().enable();
            if let Some(outcome) = self.try_get() {
                return outcome;
            }
            notified.await;
        }
    }

    /// [`Slot::ready`] for a caller on a thread of its own (the host API). A task no
    /// worker has started yet is run right here (see `task::run_waited`); otherwise
    /// spin for a few microseconds first. A short task or actor call answers in about
    /// that long, while parking and waking a thread costs as much again, twice per
    /// round trip. Never used inside the runtime's workers, where spinning would delay
    /// the very work being waited for.
    pub(crate) async fn ready_soon(&self) -> &Filled {
        let filled = self.ready_soon_unfetched().await;
        if filled.is_ok() && self.needs_fetch() {
            self.fetch_remote().await;
            return self.try_get().unwrap_or(filled);
        }
        filled
    }

    async fn ready_soon_unfetched(&self) -> &Filled {
        if let Some(outcome) = self.try_get() {
            return outcome;
        }
        // Its task not started yet: run it here rather than wait for a worker to.
        if let Some(task) = self.producer().and_then(|control| control.take_queued()) {
            crate::task_impl::run_waited(task).await;
        }
        let start = std::time::Instant::now();
        while start.elapsed() < HOST_SPIN {
            // Yield rather than spin: on a small machine the worker we wait for may
            // be queued on this very core.
            std::thread::yield_now();
            if let Some(outcome) = self.try_get() {
                return outcome;
            }
        }
        self.ready_unfetched().await
    }

    /// Where the object is, for the state API: pending, failed, freed, in memory or
    /// spilled to disk, with its size when it has a value.
    pub(crate) fn location(&self) -> (ObjectLocation, Option<usize>) {
        if self.freed.get().is_some() {
            return (ObjectLocation::Freed, None);
        }
        match self.outcome.get() {
            None => (ObjectLocation::Pending, None),
            Some(Err(_)) => (ObjectLocation::Error, None),
            Some(Ok(stored)) => {
                let place = match *self.payload() {
                    Payload::Spilled(_) => ObjectLocation::Spilled,
                    Payload::Remote(_) => ObjectLocation::Remote,
                    _ => ObjectLocation::Memory,
                };
                (place, Some(stored.len))
            }
        }
    }

    pub(crate) fn set_producer(&self, control: &Arc<TaskControl>) {
        if let Ok(mut producer) = self.producer.lock() {
            *producer = Some(Arc::downgrade(control));
        }
    }

    pub(crate) fn producer(&self) -> Option<Arc<TaskControl>> {
        self.producer.lock().ok()?.as_ref()?.upgrade()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Objects held only through this one go too, in a loop: a chain of objects each
        // holding a reference to the next would otherwise recurse once per link.
        if let Some(contained) = self.contained.take() {
            let mut stack = contained.into_vec();
            while let Some(slot) = stack.pop() {
                if let Some(mut last) = Arc::into_inner(slot)
                    && let Some(more) = last.contained.take()
                {
                    stack.extend(more.into_vec());
                }
            }
        }
        let payload = self
            .payload
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let released = std::mem::replace(payload, Payload::None);
        self.release(released);
        self.store.host.release(*self.held.get_mut());
        self.store.live_objects.fetch_sub(1, Ordering::Relaxed);
        self.store.freed_objects.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_refuses_and_drop_frees() {
        let store = ObjectStore::new(10, HostMemory::new(1 << 20), 0);
        let a = store
            .put(Bytes::from_static(b"123456"), Encoding::Raw)
            .unwrap();
        assert_eq!(store.stats().used_bytes, 6);
        let err = store
            .put(Bytes::from_static(b"123456"), Encoding::Raw)
            .unwrap_err();
        assert!(matches!(
            err,
            RayError::ObjectStoreFull {
                requested: 6,
                used: 6,
                capacity: 10
            }
        ));
        drop(a);
        let stats = store.stats();
        assert_eq!(stats.used_bytes, 0);
        assert_eq!(stats.live_objects, 0);
        assert_eq!(stats.freed_objects, 2);
    }

    #[test]
    fn a_long_chain_of_contained_objects_drops_in_a_loop() {
        let store = ObjectStore::new(1 << 30, HostMemory::new(1 << 30), 0);
        let mut head = store.put(Bytes::from_static(b"x"), Encoding::Raw).unwrap();
        for _ in 0..200_000 {
            let next = store.new_slot();
            next.set_contained(vec![head]);
            next.complete(Ok((Bytes::from_static(&[0xc0]), Encoding::Msgpack)))
                .unwrap();
            head = next;
        }
        assert_eq!(store.stats().live_objects, 200_001);
        drop(head);
        assert_eq!(store.stats().live_objects, 0);
    }

    #[test]
    fn freed_objects_read_as_freed() {
        let store = ObjectStore::new(100, HostMemory::new(1 << 20), 0);
        let slot = store.put(Bytes::from_static(b"x"), Encoding::Raw).unwrap();
        slot.free();
        assert!(matches!(slot.try_get(), Some(Err(RayError::ObjectFreed(id))) if *id == slot.id()));
    }

    #[test]
    fn first_outcome_wins() {
        let store = ObjectStore::new(100, HostMemory::new(1 << 20), 0);
        let slot = store.new_slot();
        slot.complete(Err(RayError::Cancelled)).unwrap();
        slot.complete(Ok((Bytes::from_static(b"x"), Encoding::Raw)))
            .unwrap();
        assert!(matches!(slot.try_get(), Some(Err(RayError::Cancelled))));
        assert_eq!(store.stats().used_bytes, 0);
    }
}
