//! Cancelling a running actor call: told to the guest at its next wait, never forced.
//!
//! A task is cancelled by dropping its instance at the next epoch tick; an actor's
//! instance outlives its calls, and interrupting a call in the middle of its own code
//! would leave the actor's state half-changed. So a running call is cancelled the way
//! Ray cancels a running async actor task — at a suspension point: the call's next
//! blocking runtime import (`objects.get`, `size`, `read`; or one already blocked)
//! answers `Cancelled`, once, and the method decides what to do with it (propagate
//! it with `?`, or clean up and return). `objects.wait` returns at once with what is
//! ready, as at its timeout. The call's result is `Cancelled` when the guest was told,
//! whatever the method returned; a call told nothing (it never waited again) keeps its
//! own result, as a cancel that came too late. The tasks the call submitted are
//! cancelled with it (Ray's `recursive=True`).

use std::sync::Arc;

use crate::task_impl::TaskControl;

/// A running actor call's cancel, as its instance sees it.
#[derive(Debug)]
pub(crate) struct CallCancel {
    control: Arc<TaskControl>,
    told: bool,
}

impl CallCancel {
    pub(crate) fn new(control: Arc<TaskControl>) -> Self {
        CallCancel {
            control,
            told: false,
        }
    }

    /// The cancel a wait races, while the guest has not been told.
    pub(crate) fn pending(&self) -> Option<Arc<TaskControl>> {
        (!self.told).then(|| self.control.clone())
    }

    /// Whether the call was cancelled and the guest not yet told; it counts as told now.
    pub(crate) fn tell(&mut self) -> bool {
        if self.told || !self.control.is_cancelled() {
            return false;
        }
        self.told = true;
        true
    }

    /// Whether the guest was told: the call then answers `Cancelled`.
    pub(crate) fn told(&self) -> bool {
        self.told
    }
}
