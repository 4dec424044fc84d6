//! Runtime-wide budgets: the host memory held on guests' behalf, and how many task
//! and actor instances may be alive at once.
//!
//! A guest's own linear memory is bounded per instance by its [`Limits`]; what the
//! *host* keeps for guests lives outside any instance and would otherwise grow without
//! bound: objects, by-value arguments of tasks still queued, error messages, captured
//! output, and the linear memory instances grow into. All of it is charged to one
//! account, [`HostMemory`], whose cap is `--host-memory` /
//! [`RuntimeBuilder::host_memory`](crate::RuntimeBuilder::host_memory). A charge that
//! does not fit is refused with [`RayError::LimitExceeded`] naming
//! [`Limit::HostMemory`] and what was being stored; the charge is given back when the
//! thing it paid for is dropped ([`Held`]).
//!
//! The same account schedules tasks by memory (Ray's memory-aware scheduling): a
//! task about to run asks [`HostMemory::admit`] for its arguments plus its memory
//! limit, and waits (it does not fail) until what is held plus what running tasks have
//! reserved leaves room for it. Admission is first come, first served, so a large task
//! is not overtaken forever by small ones; a task larger than the whole budget runs
//! when no other admitted task is running, alone (its real growth is still charged,
//! and refused past the budget). Linear memory a task grows into is moved from its
//! reservation to the account, so nothing is counted twice; a task blocked in `get`
//! gives its reservation back, as it gives back its permit, so waiting parents cannot
//! starve their children.
//!
//! Instances are counted in two budgets, [`InstanceBudget`]: tasks (running, or
//! parked in `get`) against `--max-instances`, actors against `--max-actors`, so idle
//! actors can never take the room tasks need, and the error says which one ran out.
//!
//! [`Limits`]: crate::Limits

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::error::RayError;
use crate::limits::Limit;

/// Bytes charged for one queued task or actor call besides its arguments: the task's
/// own bookkeeping (slot, control, its future on the executor), so a flood of
/// argument-less submissions is bounded too. Measured: 200,000 queued tasks take
/// about 420 MB (2.1 KB each).
pub(crate) const QUEUED_OVERHEAD: usize = 2 << 10;

/// The default host memory budget for a runtime whose guests may each grow to
/// `memory_limit`: sixteen guests' worth, at least 1 GiB, at most half the machine.
pub(crate) fn default_host_memory(memory_limit: usize) -> usize {
    let wanted = memory_limit.saturating_mul(16).max(1 << 30);
    match physical_memory() {
        Some(total) => wanted.min(total / 2).max(256 << 20),
        None => wanted,
    }
}

/// The machine's memory, from `/proc/meminfo` (Linux); `None` elsewhere.
fn physical_memory() -> Option<usize> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The one account of host memory held for guests (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct HostMemory {
    inner: Arc<Account>,
}

#[derive(Debug)]
struct Account {
    used: AtomicUsize,
    peak: AtomicUsize,
    capacity: usize,
    /// Admission of tasks by memory (see the module docs).
    gate: Mutex<Gate>,
    /// Tasks waiting in [`Gate::queue`], read without the lock on every release.
    queued: AtomicUsize,
    /// Raised when room may have been made for a waiting task.
    changed: Notify,
}

/// The reservations of running tasks and the line of tasks waiting for room.
#[derive(Debug, Default)]
struct Gate {
    /// Bytes reserved by admitted tasks and not yet grown into.
    reserved: usize,
    /// Admitted tasks holding a reservation.
    running: usize,
    /// Tickets of waiting tasks, first come first.
    queue: VecDeque<u64>,
    next_ticket: u64,
}

impl HostMemory {
    pub(crate) fn new(capacity: usize) -> Self {
        HostMemory {
            inner: Arc::new(Account {
                used: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                capacity,
                gate: Mutex::new(Gate::default()),
                queued: AtomicUsize::new(0),
                changed: Notify::new(),
            }),
        }
    }

    /// Charges `bytes`, or says why not: the error names `what` was being held.
    pub(crate) fn take(&self, bytes: usize, what: impl FnOnce() -> String) -> Result<(), RayError> {
        let account = &self.inner;
        let mut used = account.used.load(Ordering::Relaxed);
        loop {
            let next = used.saturating_add(bytes);
            if next > account.capacity {
                return Err(self.refusal(bytes, used, what()));
            }
            match account.used.compare_exchange_weak(
                used,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    // A read first: the shared line is written only for a new peak.
                    if next > account.peak.load(Ordering::Relaxed) {
                        account.peak.fetch_max(next, Ordering::Relaxed);
                    }
                    return Ok(());
                }
                Err(actual) => used = actual,
            }
        }
    }

    /// Charges `bytes` and returns the guard that gives them back.
    pub(crate) fn hold(
        &self,
        bytes: usize,
        what: impl FnOnce() -> String,
    ) -> Result<Held, RayError> {
        self.take(bytes, what)?;
        Ok(Held {
            memory: self.clone(),
            bytes,
        })
    }

    /// Gives back `bytes` charged earlier with [`HostMemory::take`].
    pub(crate) fn release(&self, bytes: usize) {
        self.inner.used.fetch_sub(bytes, Ordering::Relaxed);
        self.wake_queue();
    }

    /// Tells waiting tasks to look again, if there are any.
    fn wake_queue(&self) {
        if self.inner.queued.load(Ordering::Acquire) > 0 {
            self.inner.changed.notify_waiters();
        }
    }

    fn gate(&self) -> MutexGuard<'_, Gate> {
        self.inner
            .gate
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `need` more bytes may be reserved now: they fit beside what is held
    /// and reserved, or no admitted task is running (a task bigger than the budget
    /// then runs alone).
    fn fits(&self, gate: &Gate, need: usize) -> bool {
        gate.running == 0
            || self
                .used()
                .saturating_add(gate.reserved)
                .saturating_add(need)
                <= self.inner.capacity
    }

    fn grant(&self, gate: &mut Gate, need: usize) -> Reservation {
        gate.reserved += need;
        gate.running += 1;
        Reservation {
            memory: self.clone(),
            left: need,
        }
    }

    /// Reserves `need` bytes for a task about to run, waiting (first come, first
    /// served) until they fit (see the module docs). Never fails; dropping the future
    /// leaves the line.
    pub(crate) async fn admit(&self, need: usize) -> Reservation {
        let ticket = {
            let mut gate = self.gate();
            if gate.queue.is_empty() && self.fits(&gate, need) {
                return self.grant(&mut gate, need);
            }
            let ticket = gate.next_ticket;
            gate.next_ticket += 1;
            gate.queue.push_back(ticket);
            self.inner.queued.fetch_add(1, Ordering::AcqRel);
            ticket
        };
        // Leaves the line if the task is dropped (cancelled) while it waits.
        struct InLine<'a> {
            memory: &'a HostMemory,
            ticket: Option<u64>,
        }
        impl Drop for InLine<'_> {
            fn drop(&mut self) {
                if let Some(ticket) = self.ticket {
                    let mut gate = self.memory.gate();
                    gate.queue.retain(|waiting| *waiting != ticket);
                    self.memory.inner.queued.fetch_sub(1, Ordering::AcqRel);
                    drop(gate);
                    self.memory.inner.changed.notify_waiters();
                }
            }
        }
        let mut in_line = InLine {
            memory: self,
            ticket: Some(ticket),
        };
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut gate = self.gate();
                if gate.queue.front() == Some(&ticket) && self.fits(&gate, need) {
                    gate.queue.pop_front();
                    self.inner.queued.fetch_sub(1, Ordering::AcqRel);
                    in_line.ticket = None;
                    let reservation = self.grant(&mut gate, need);
                    drop(gate);
                    // The next in line may fit too.
                    self.inner.changed.notify_waiters();
                    return reservation;
                }
            }
            changed.await;
        }
    }

    /// Bytes reserved by running tasks and not yet grown into.
    pub(crate) fn reserved(&self) -> usize {
        self.gate().reserved
    }

    /// Tasks waiting for memory to run.
    pub(crate) fn waiting(&self) -> usize {
        self.inner.queued.load(Ordering::Relaxed)
    }

    fn refusal(&self, bytes: usize, used: usize, what: String) -> RayError {
        RayError::LimitExceeded {
            function: what,
            limit: Limit::HostMemory,
            value: self.inner.capacity as u64,
            detail: format!(
                "{bytes} more bytes were asked with {used} already held for guests; \
                 raise it with --host-memory"
            ),
        }
    }

    pub(crate) fn used(&self) -> usize {
        self.inner.used.load(Ordering::Relaxed)
    }

    pub(crate) fn peak(&self) -> usize {
        self.inner.peak.load(Ordering::Relaxed)
    }

    pub(crate) fn capacity(&self) -> usize {
        self.inner.capacity
    }
}

/// Bytes charged to [`HostMemory`], given back on drop.
#[derive(Debug)]
pub(crate) struct Held {
    memory: HostMemory,
    bytes: usize,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.memory.release(self.bytes);
    }
}

/// A running task's claim on the host memory budget (from [`HostMemory::admit`]):
/// what it may still grow into. Given back on drop.
#[derive(Debug)]
pub(crate) struct Reservation {
    memory: HostMemory,
    left: usize,
}

impl Reservation {
    /// `bytes` of the reservation were grown into (and charged to the account).
    pub(crate) fn consume(&mut self, bytes: usize) {
        let bytes = bytes.min(self.left);
        if bytes > 0 {
            self.left -= bytes;
            self.memory.gate().reserved -= bytes;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut gate = self.memory.gate();
        gate.reserved -= self.left;
        gate.running -= 1;
        drop(gate);
        self.memory.wake_queue();
    }
}

/// What an instance is, for [`InstanceBudget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InstanceKind {
    /// A task's instance, running or parked in `get`.
    Task,
    /// An actor's instance, from its constructor to its end.
    Actor,
}

/// Separate counts of live task and actor instances (see the module docs).
#[derive(Debug)]
pub(crate) struct InstanceBudget {
    tasks: AtomicUsize,
    actors: AtomicUsize,
    max_tasks: usize,
    max_actors: usize,
}

impl InstanceBudget {
    pub(crate) fn new(max_tasks: usize, max_actors: usize) -> Arc<Self> {
        Arc::new(InstanceBudget {
            tasks: AtomicUsize::new(0),
            actors: AtomicUsize::new(0),
            max_tasks,
            max_actors,
        })
    }

    /// Counts one more instance of `kind` in, or refuses with the limit (and its flag)
    /// that is exhausted; `what` names the task or actor for the error.
    pub(crate) fn enter(
        self: &Arc<Self>,
        kind: InstanceKind,
        what: &str,
    ) -> Result<InstanceSlot, RayError> {
        let (count, max, limit, flag) = match kind {
            InstanceKind::Task => (
                &self.tasks,
                self.max_tasks,
                Limit::LiveInstances,
                "--max-instances",
            ),
            InstanceKind::Actor => (
                &self.actors,
                self.max_actors,
                Limit::LiveActors,
                "--max-actors",
            ),
        };
        let before = count.fetch_add(1, Ordering::AcqRel);
        if before >= max {
            count.fetch_sub(1, Ordering::AcqRel);
            return Err(RayError::LimitExceeded {
                function: what.to_string(),
                limit,
                value: max as u64,
                detail: format!(
                    "{before} are alive (tasks and actors are counted apart); raise it with \
                     {flag}"
                ),
            });
        }
        Ok(InstanceSlot {
            budget: self.clone(),
            kind,
        })
    }

    /// Live task instances.
    pub(crate) fn tasks(&self) -> usize {
        self.tasks.load(Ordering::Relaxed)
    }

    /// Live actor instances.
    pub(crate) fn actors(&self) -> usize {
        self.actors.load(Ordering::Relaxed)
    }
}

/// One instance counted in an [`InstanceBudget`], counted out on drop.
#[derive(Debug)]
pub(crate) struct InstanceSlot {
    budget: Arc<InstanceBudget>,
    kind: InstanceKind,
}

impl Drop for InstanceSlot {
    fn drop(&mut self) {
        let count = match self.kind {
            InstanceKind::Task => &self.budget.tasks,
            InstanceKind::Actor => &self.budget.actors,
        };
        count.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_refuses_past_its_cap_and_recovers_on_release() {
        let memory = HostMemory::new(100);
        let held = memory.hold(60, || "a".into()).unwrap();
        let err = memory.hold(50, || "storing object x".into()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("host memory"), "{text}");
        assert!(text.contains("storing object x"), "{text}");
        assert!(text.contains("--host-memory"), "{text}");
        assert_eq!(memory.used(), 60);
        drop(held);
        assert_eq!(memory.used(), 0);
        assert_eq!(memory.peak(), 60);
        memory.hold(100, || "b".into()).unwrap();
    }

    #[tokio::test]
    async fn tasks_wait_for_memory_in_line_and_a_big_one_runs_alone() {
        use std::time::Duration;
        let memory = HostMemory::new(100);
        let first = memory.admit(60).await;
        // 60 + 50 > 100: waits.
        let second = memory.admit(50);
        tokio::pin!(second);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), second.as_mut())
                .await
                .is_err()
        );
        assert_eq!(memory.waiting(), 1);
        // A small one that would fit waits behind it (first come, first served).
        let third = memory.admit(10);
        tokio::pin!(third);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), third.as_mut())
                .await
                .is_err()
        );
        drop(first);
        let second = second.await;
        let third = third.await;
        assert_eq!(memory.reserved(), 60);
        // Growing moves bytes from the reservation to the account: counted once.
        let mut second = second;
        memory.take(30, String::new).unwrap();
        second.consume(30);
        assert_eq!(memory.reserved(), 30);
        drop((second, third));
        memory.release(30);
        assert_eq!(memory.reserved(), 0);
        // Bigger than the whole budget: runs, alone.
        let huge = memory.admit(1_000).await;
        let after = memory.admit(1);
        tokio::pin!(after);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), after.as_mut())
                .await
                .is_err()
        );
        drop(huge);
        after.await;
        // A waiter that is dropped leaves the line.
        let holder = memory.admit(100).await;
        {
            let gone = memory.admit(100);
            tokio::pin!(gone);
            let _ = tokio::time::timeout(Duration::from_millis(5), gone.as_mut()).await;
        }
        assert_eq!(memory.waiting(), 0);
        drop(holder);
        memory.admit(100).await;
    }

    #[test]
    fn tasks_and_actors_are_counted_apart() {
        let budget = InstanceBudget::new(2, 1);
        let actor = budget.enter(InstanceKind::Actor, "A").unwrap();
        let err = budget.enter(InstanceKind::Actor, "B").unwrap_err();
        assert!(err.to_string().contains("--max-actors"), "{err}");
        let a = budget.enter(InstanceKind::Task, "f").unwrap();
        let _b = budget.enter(InstanceKind::Task, "f").unwrap();
        let err = budget.enter(InstanceKind::Task, "f").unwrap_err();
        assert!(err.to_string().contains("--max-instances"), "{err}");
        drop(a);
        budget.enter(InstanceKind::Task, "f").unwrap();
        drop(actor);
        assert_eq!(budget.actors(), 0);
        budget.enter(InstanceKind::Actor, "B").unwrap();
    }

    #[test]
    fn the_default_is_sixteen_guests_bounded_by_the_machine() {
        let small = default_host_memory(16 << 20);
        assert!(small >= 256 << 20);
        assert!(small <= 1 << 30);
        let big = default_host_memory(usize::MAX / 4);
        if let Some(total) = physical_memory() {
            assert!(big <= total / 2);
        }
    }
}
