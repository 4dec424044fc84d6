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
//! Instances are counted in two budgets, [`InstanceBudget`]: tasks (running, or
//! parked in `get`) against `--max-instances`, actors against `--max-actors`, so idle
//! actors can never take the room tasks need, and the error says which one ran out.
//!
//! [`Limits`]: crate::Limits

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
}

impl HostMemory {
    pub(crate) fn new(capacity: usize) -> Self {
        HostMemory {
            inner: Arc::new(Account {
                used: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                capacity,
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
