//! An actor's mailbox queue: one sender (the actor's cell) and one receiver (its
//! mailbox loop). A queue that allocates nothing until a message arrives, instead of
//! tokio's unbounded channel, whose first block (32 messages, ~5 KiB here) every actor
//! held for its whole life: most actors are idle most of the time, and that block was
//! the largest single thing an idle actor owned on the host.
//!
//! The sender pushes under a short lock and wakes the receiver only when the queue
//! was empty; the receiver takes everything queued at once (swapping the two
//! buffers, so a busy actor's steady state allocates and frees nothing, and no buffer
//! is freed by a thread that did not allocate it) and runs it without the lock. A
//! buffer grown by a burst is given back once drained.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;

use futures::task::AtomicWaker;

/// Messages a drained buffer may keep room for; a larger one is shrunk back.
const KEEP_ROOM: usize = 64;

/// A queue with one sender and one receiver: see the module doc.
pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            closed: false,
            sender_gone: false,
        }),
        wake: AtomicWaker::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver {
            shared,
            taken: VecDeque::new(),
        },
    )
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// The receiver's waker, registered before it finds the queue empty; woken when
    /// the queue stops being empty or the sender goes.
    wake: AtomicWaker,
}

struct State<T> {
    queue: VecDeque<T>,
    /// The receiver closed (or dropped) it: sends are refused.
    closed: bool,
    /// The sender was dropped: once drained, `recv` answers `None`.
    sender_gone: bool,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics under this lock (pushes, pops, swaps and flags); a poisoned
        // state is still consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The sending half (held by the actor's cell).
pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Queues `message`; a closed mailbox hands it back (dropped by the caller, outside
    /// the lock: a dropped call answers its caller).
    pub(crate) fn send(&self, message: T) -> Result<(), T> {
        let mut state = self.shared.lock();
        if state.closed {
            return Err(message);
        }
        let was_empty = state.queue.is_empty();
        state.queue.push_back(message);
        drop(state);
        // Not empty before: the receiver was woken for the first of them and has not
        // seen the queue empty since, so it is not waiting.
        if was_empty {
            self.shared.wake.wake();
        }
        Ok(())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.lock().sender_gone = true;
        self.shared.wake.wake();
    }
}

/// The receiving half (owned by the mailbox loop).
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// What the last take moved out of the queue, not yet handed out.
    taken: VecDeque<T>,
}

/// `try_recv` found nothing queued.
#[derive(Debug)]
pub(crate) struct Empty;

impl<T> Receiver<T> {
    /// The next message, waiting for one; `None` once the sender is gone (or the
    /// mailbox was closed) and nothing is left. Cancel-safe: a message is only ever
    /// taken by the call that returns it.
    pub(crate) async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| {
            if let Some(message) = self.taken.pop_front() {
                return Poll::Ready(Some(message));
            }
            // Registered first: a send after the check below wakes this task.
            self.shared.wake.register(cx.waker());
            let mut state = self.shared.lock();
            take(&mut self.taken, &mut state);
            let ended = state.sender_gone || state.closed;
            drop(state);
            match self.taken.pop_front() {
                Some(message) => Poll::Ready(Some(message)),
                None if ended => Poll::Ready(None),
                None => Poll::Pending,
            }
        })
        .await
    }

    /// The next message if one is queued.
    pub(crate) fn try_recv(&mut self) -> Result<T, Empty> {
        if let Some(message) = self.taken.pop_front() {
            return Ok(message);
        }
        let mut state = self.shared.lock();
        take(&mut self.taken, &mut state);
        drop(state);
        self.taken.pop_front().ok_or(Empty)
    }

    /// Refuses every later send; what is queued can still be received.
    pub(crate) fn close(&mut self) {
        self.shared.lock().closed = true;
    }
}

/// Moves the queue into `taken` (empty), leaving the queue `taken`'s old buffer (or
/// none, if a burst had grown it).
fn take<T>(taken: &mut VecDeque<T>, state: &mut State<T>) {
    if taken.capacity() > KEEP_ROOM {
        *taken = VecDeque::new();
    }
    std::mem::swap(&mut state.queue, taken);
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let left = {
            let mut state = self.shared.lock();
            state.closed = true;
            std::mem::take(&mut state.queue)
        };
        // Dropped outside the lock: a message's drop may send to this very mailbox
        // (an actor's handle inside a call's arguments).
        drop(left);
        self.taken.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_arrive_in_order_and_end_when_the_sender_goes() {
        let (sender, mut receiver) = channel();
        for n in 0..200 {
            sender.send(n).unwrap();
        }
        for n in 0..100 {
            assert_eq!(receiver.recv().await, Some(n));
        }
        sender.send(200).unwrap();
        drop(sender);
        let rest: Vec<i32> = std::iter::from_fn(|| receiver.try_recv().ok()).collect();
        assert_eq!(rest, (100..=200).collect::<Vec<_>>());
        assert_eq!(receiver.recv().await, None);
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken_by_another_thread() {
        let (sender, mut receiver) = channel();
        let task = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(n) = receiver.recv().await {
                got.push(n);
            }
            got
        });
        let feeder = std::thread::spawn(move || {
            for n in 0..10_000u32 {
                sender.send(n).unwrap();
                if n % 1000 == 0 {
                    std::thread::yield_now();
                }
            }
        });
        feeder.join().unwrap();
        assert_eq!(task.await.unwrap(), (0..10_000).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_closed_mailbox_refuses_and_drops_what_it_held() {
        let (sender, mut receiver) = channel();
        let held = Arc::new(());
        sender.send(held.clone()).unwrap();
        sender.send(held.clone()).unwrap();
        receiver.close();
        let refused = sender.send(held.clone()).unwrap_err();
        drop(refused);
        assert!(receiver.try_recv().is_ok());
        assert_eq!(Arc::strong_count(&held), 2);
        drop(receiver);
        assert_eq!(Arc::strong_count(&held), 1);
        assert!(sender.send(held.clone()).is_err());
    }

    #[tokio::test]
    async fn a_burst_is_given_back_once_drained() {
        let (sender, mut receiver) = channel();
        for n in 0..10_000 {
            sender.send(n).unwrap();
        }
        assert_eq!(receiver.recv().await, Some(0));
        while receiver.try_recv().is_ok() {}
        sender.send(1).unwrap();
        assert_eq!(receiver.recv().await, Some(1));
        assert!(receiver.taken.capacity() <= KEEP_ROOM);
        assert!(receiver.shared.lock().queue.capacity() <= KEEP_ROOM);
    }

    #[tokio::test]
    async fn a_dropped_recv_loses_nothing() {
        let (sender, mut receiver) = channel();
        // Polled once (waiting), then dropped: as in a `select!` another branch won.
        {
            let pending = receiver.recv();
            tokio::pin!(pending);
            assert!(futures_poll_once(pending.as_mut()).await.is_none());
        }
        sender.send(7).unwrap();
        assert_eq!(receiver.recv().await, Some(7));
    }

    /// Polls `future` once: its output if it was ready.
    async fn futures_poll_once<F: std::future::Future + Unpin>(future: F) -> Option<F::Output> {
        let mut future = Some(future);
        std::future::poll_fn(|cx| {
            let ready = match std::pin::Pin::new(future.as_mut().unwrap()).poll(cx) {
                std::task::Poll::Ready(out) => Some(out),
                std::task::Poll::Pending => None,
            };
            std::task::Poll::Ready(ready)
        })
        .await
    }
}
