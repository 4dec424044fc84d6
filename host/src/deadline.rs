//! A task's deadline counts its run time, not its turns in line.
//!
//! Up to `max_running` tasks run at once on a few worker threads, and a guest yields
//! its thread at every epoch tick; with 16 tasks per thread, a task that needs 4 ms
//! of CPU took 60 ms or more of wall-clock time, and a 100 ms deadline failed tasks
//! that were nowhere near it. [`within`] measures instead the wall-clock time from
//! the start **less** the time the task was ready to run but waiting for a thread
//! (from a wake-up to the poll that follows it) and the time it waited to be
//! admitted again after a `get` (its permit and memory, recorded in its
//! [`RunClock`]). Time it waits for something of its own — a timer, the network,
//! another object — still counts, so a task stuck on one still times out.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::error::{RayError, Result};

/// Time not to be counted against a task's deadline, shared with its instance (which
/// adds the time it waits to be admitted again after a `get`).
#[derive(Debug, Default)]
pub(crate) struct RunClock {
    excluded_ns: AtomicU64,
}

impl RunClock {
    /// Leaves `waited` out of the task's run time.
    pub(crate) fn exclude(&self, waited: Duration) {
        self.excluded_ns.fetch_add(nanos(waited), Ordering::Relaxed);
    }

    fn excluded(&self) -> Duration {
        Duration::from_nanos(self.excluded_ns.load(Ordering::Relaxed))
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// No wake-up recorded.
const NOT_WOKEN: u64 = u64::MAX;

/// The waker the task's future sees: records when it was woken, then wakes the
/// executor's waker.
struct Recorder {
    start: Instant,
    /// Nanoseconds from `start` to the first wake-up since the last poll.
    woken: AtomicU64,
    waker: Mutex<Option<Waker>>,
}

impl Wake for Recorder {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let now = nanos(self.start.elapsed());
        let _ = self
            .woken
            .compare_exchange(NOT_WOKEN, now, Ordering::AcqRel, Ordering::Acquire);
        let waker = self
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// `work`, failed with [`RayError::Timeout`] once it has *run* for `limit` (see the
/// module docs); `clock` is where its instance records time to leave out.
pub(crate) async fn within<T>(
    limit: Duration,
    clock: Arc<RunClock>,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    let start = Instant::now();
    let recorder = Arc::new(Recorder {
        start,
        woken: AtomicU64::new(NOT_WOKEN),
        waker: Mutex::new(None),
    });
    let waker = Waker::from(recorder.clone());
    let mut work = std::pin::pin!(work);
    let mut sleep = Box::pin(tokio::time::sleep(limit));
    std::future::poll_fn(move |cx: &mut Context<'_>| {
        {
            let mut current = recorder
                .waker
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !current.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *current = Some(cx.waker().clone());
            }
        }
        // The time from a wake-up to this poll was spent waiting for a thread.
        let woken = recorder.woken.swap(NOT_WOKEN, Ordering::AcqRel);
        if woken != NOT_WOKEN {
            let now = nanos(start.elapsed());
            clock.exclude(Duration::from_nanos(now.saturating_sub(woken)));
        }
        let mut inner = Context::from_waker(&waker);
        if let Poll::Ready(outcome) = work.as_mut().poll(&mut inner) {
            return Poll::Ready(outcome);
        }
        loop {
            let deadline = start + limit + clock.excluded();
            if Instant::now() >= deadline {
                return Poll::Ready(Err(RayError::Timeout(limit)));
            }
            let deadline = tokio::time::Instant::from_std(deadline);
            if sleep.deadline() != deadline {
                sleep.as_mut().reset(deadline);
            }
            match sleep.as_mut().poll(&mut inner) {
                Poll::Ready(()) => continue,
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives the thread up once, waking at once (as a guest does at an epoch tick).
    async fn yield_once() {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if yielded {
                Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await;
    }

    #[tokio::test]
    async fn time_waiting_for_a_thread_is_not_counted_but_waiting_for_a_timer_is() {
        // On this one thread a neighbour holds the thread 5 ms at a time, 20 times,
        // while the task only yields: 100 ms of wall-clock time, almost no run time.
        let neighbour = tokio::spawn(async {
            for _ in 0..20 {
                std::thread::sleep(Duration::from_millis(5));
                yield_once().await;
            }
        });
        let clock = Arc::new(RunClock::default());
        let started = Instant::now();
        within(Duration::from_millis(50), clock.clone(), async {
            for _ in 0..20 {
                yield_once().await;
            }
            Ok(())
        })
        .await
        .unwrap();
        neighbour.await.unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(50),
            "the neighbour ran"
        );
        assert!(clock.excluded() >= Duration::from_millis(40), "{clock:?}");

        // Its own waiting counts: a sleep longer than the limit times out.
        let clock = Arc::new(RunClock::default());
        let started = Instant::now();
        let outcome = within(Duration::from_millis(30), clock, async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(())
        })
        .await;
        assert!(matches!(outcome, Err(RayError::Timeout(_))), "{outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(2));

        // Time recorded in the clock is left out.
        let clock = Arc::new(RunClock::default());
        clock.exclude(Duration::from_millis(100));
        within(Duration::from_millis(50), clock, async {
            tokio::time::sleep(Duration::from_millis(80)).await;
            Ok(())
        })
        .await
        .unwrap();
    }
}
