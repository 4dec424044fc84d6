//! [`Signal`]: a flag that, once raised, stays raised and wakes everyone waiting.
//!
//! Used for a task's cancellation and for the runtime's "abort everything" at the
//! end of a shutdown deadline: cheap to check on a hot path (one atomic load), and
//! awaitable inside `select!` next to the work it interrupts.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// A one-way, sticky, awaitable flag.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    raised: AtomicBool,
    notify: Notify,
}

impl Signal {
    pub(crate) fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }

    /// Resolves once the signal is raised (at once if it already is).
    pub(crate) async fn raised(&self) {
        loop {
            if self.is_raised() {
                return;
            }
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_raised() {
                return;
            }
            notified.await;
        }
    }
}

/// Resolves once `signal` is raised; never, without one (a task or actor that belongs
/// to no program).
pub(crate) async fn raised_or_never(signal: Option<&Signal>) {
    match signal {
        Some(signal) => signal.raised().await,
        None => std::future::pending().await,
    }
}

/// Raises its signal when dropped: a program's scope ends however its driver does.
#[derive(Debug)]
pub(crate) struct RaiseOnDrop(pub(crate) std::sync::Arc<Signal>);

impl Drop for RaiseOnDrop {
    fn drop(&mut self) {
        self.0.raise();
    }
}
