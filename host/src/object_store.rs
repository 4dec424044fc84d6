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
//! holder inside the host. The store counts the bytes of live objects and refuses a
//! value that would take it past its configured cap with [`RayError::ObjectStoreFull`].
//!
//! [`ObjectRef`]: crate::ObjectRef

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::budget::HostMemory;
use crate::error::{RayError, Result};
use crate::id::Id;
use crate::output::TaskOutput;
use crate::task_impl::TaskControl;

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

/// A finished object: its payload or why there is none.
pub(crate) type Outcome = std::result::Result<(Bytes, Encoding), RayError>;

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
}

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
}

/// The store: creates slots and keeps the counters.
#[derive(Debug, Clone)]
pub(crate) struct ObjectStore {
    shared: Arc<StoreShared>,
}

impl ObjectStore {
    pub(crate) fn new(capacity: usize, host: HostMemory, node: u64) -> Self {
        ObjectStore {
            shared: Arc::new(StoreShared {
                node,
                live_objects: AtomicUsize::new(0),
                used_bytes: AtomicUsize::new(0),
                freed_objects: AtomicU64::new(0),
                capacity,
                host,
            }),
        }
    }

    /// The runtime's host memory account.
    pub(crate) fn host_memory(&self) -> &HostMemory {
        &self.shared.host
    }

    /// A new empty slot, to be filled by a task.
    pub(crate) fn new_slot(&self) -> Arc<Slot> {
        let id = ObjectId(Id::random(self.shared.node));
        self.shared.live_objects.fetch_add(1, Ordering::Relaxed);
        Arc::new(Slot {
            id,
            outcome: OnceLock::new(),
            notify: Notify::new(),
            producer: Mutex::new(None),
            store: self.shared.clone(),
            output: OnceLock::new(),
            held: AtomicUsize::new(0),
        })
    }

    /// A slot already holding `bytes` (a `put`).
    pub(crate) fn put(&self, bytes: Bytes, encoding: Encoding) -> Result<Arc<Slot>> {
        let slot = self.new_slot();
        slot.complete(Ok((bytes, encoding)))?;
        Ok(slot)
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
        }
    }
}

impl StoreShared {
    /// Reserves `len` bytes of object `id` under the cap and in the host memory account.
    fn reserve(&self, id: ObjectId, len: usize) -> Result<()> {
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

/// One object: filled once, read by any number of holders.
pub struct Slot {
    id: ObjectId,
    outcome: OnceLock<Outcome>,
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

    /// Fills the slot. A payload over the store's cap fills it with
    /// [`RayError::ObjectStoreFull`] instead, and that error is also returned.
    /// Filling an already filled slot does nothing (the first outcome wins: a task
    /// that finishes just as it is cancelled keeps one answer).
    pub(crate) fn complete(&self, outcome: Outcome) -> Result<()> {
        if self.outcome.get().is_some() {
            return Ok(());
        }
        let mut error_bytes = 0;
        let mut refused = None;
        let outcome = match outcome {
            Ok((bytes, encoding)) => match self.store.reserve(self.id, bytes.len()) {
                Ok(()) => Ok((bytes, encoding)),
                Err(err) => {
                    refused = Some(err.clone());
                    Err(err)
                }
            },
            // An error's text is held as long as the object: charged like a value. One
            // that does not fit is replaced by the (small) refusal itself.
            Err(err) => {
                let len = err.held_bytes();
                match self
                    .store
                    .host
                    .take(len, || format!("keeping the error of {}", self.id))
                {
                    Ok(()) => {
                        error_bytes = len;
                        Err(err)
                    }
                    Err(refused) => Err(refused),
                }
            }
        };
        match self.outcome.set(outcome) {
            Ok(()) => {
                self.held.fetch_add(error_bytes, Ordering::Relaxed);
            }
            Err(Ok((bytes, _))) => self.store.unreserve(bytes.len()),
            Err(Err(_)) => self.store.host.release(error_bytes),
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

    /// The outcome if the slot is filled.
    pub(crate) fn try_get(&self) -> Option<&Outcome> {
        self.outcome.get()
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.outcome.get().is_some()
    }

    /// Waits until the slot is filled.
    pub(crate) async fn ready(&self) -> &Outcome {
        loop {
            if let Some(outcome) = self.outcome.get() {
                return outcome;
            }
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Register before the second check, so a fill in between is not missed.
            notified.as_mut().enable();
            if let Some(outcome) = self.outcome.get() {
                return outcome;
            }
            notified.await;
        }
    }

    /// [`Slot::ready`] for a caller on a thread of its own (the host API): spin for a
    /// few microseconds first. A short task or actor call answers in about that long,
    /// while parking and waking a thread costs as much again, twice per round trip.
    /// Never used inside the runtime's workers, where spinning would delay the very
    /// work being waited for.
    pub(crate) async fn ready_soon(&self) -> &Outcome {
        if let Some(outcome) = self.outcome.get() {
            return outcome;
        }
        let start = std::time::Instant::now();
        while start.elapsed() < HOST_SPIN {
            // Yield rather than spin: on a small machine the worker we wait for may
            // be queued on this very core.
            std::thread::yield_now();
            if let Some(outcome) = self.outcome.get() {
                return outcome;
            }
        }
        self.ready().await
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
        if let Some(Ok((bytes, _))) = self.outcome.get() {
            self.store.unreserve(bytes.len());
        }
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
