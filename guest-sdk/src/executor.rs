//! [`block_on`]: runs an `async fn` entry point to completion inside the guest.
//!
//! A guest is single-threaded and has no event loop. It needs none: the SDK's own calls
//! (`get`, `put`, `wait`, `remote`) are synchronous imports that block, and while they do the
//! host suspends this guest's fiber, not a thread. So an `async` remote function or
//! `#[main]` can await anything that completes by being polled: SDK calls wrapped in
//! `async`, other `async fn`s, `std::future::ready`, a future that yields once and wakes
//! itself. What cannot work is a future waiting for an outside event (a timer, a socket
//! of some other runtime): nothing in the guest would ever wake it. Spinning on it would
//! burn the task's whole deadline, so `block_on` panics instead, with a message saying so;
//! the host reports the panic as the task's error.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// Remembers whether the future asked to be polled again.
struct WakeFlag(AtomicBool);

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Polls `future` until it is ready, re-polling at once whenever it wakes itself.
///
/// # Panics
///
/// If the future is pending and has not arranged to be woken: in a guest that can only
/// mean it waits for an event nothing will deliver.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let flag = Arc::new(WakeFlag(AtomicBool::new(false)));
    let waker = Waker::from(Arc::clone(&flag));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        // A wake-up before or during this poll means "poll me again"; none means the
        // future waits on something outside the guest, which will never come.
        if !flag.0.swap(false, Ordering::Relaxed) {
            panic!(
                "an async rustyray function awaited a future that can never complete inside \
                 the guest (it is pending with no wake-up scheduled). Only futures that finish \
                 by being polled can be awaited here, e.g. rustyray calls, which block; no \
                 async runtime (timers, sockets) runs in a guest"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pending once, after waking itself: the pattern of `yield_now`.
    struct YieldOnce(bool);

    impl Future for YieldOnce {
        type Output = u8;

        fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u8> {
            if self.0 {
                Poll::Ready(7)
            } else {
                self.0 = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    #[test]
    fn runs_ready_and_self_waking_futures() {
        assert_eq!(block_on(async { 1 + 1 }), 2);
        assert_eq!(block_on(async { YieldOnce(false).await + 1 }), 8);
    }

    #[test]
    #[should_panic(expected = "can never complete")]
    fn refuses_to_spin_on_a_future_nobody_wakes() {
        block_on(std::future::pending::<()>());
    }
}
