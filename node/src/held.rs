//! What this node's running work holds of its resources (Ray's resource accounting).
//!
//! A node has resources (`CPU`, `jobs`, its `--resources`); a job, a task or an actor
//! asking for some holds them here while it runs — a task until it ends (success,
//! error, cancel), an actor for its lifetime (until killed, exited or dead), a job until
//! it ends. [`Account::acquire`] admits a request against what is free now; one that
//! does not fit waits in one queue, first in first out, and is admitted as holders end.
//! A request more than the node has at all fails at once ([`HeldError::Infeasible`]):
//! no amount of waiting frees it. Jobs are admitted by their own slots
//! (`--max-jobs`) and hold their request whatever is free ([`Account::force`]), so a
//! job's request may take `available` below 0; tasks and actors then wait.
//!
//! The queue is fair per resource: going down it, a waiter that does not fit reserves
//! what it asks for, so a later, smaller request of the same resource does not pass it
//! (no starvation of large requests), while one asking only for other resources does.
//! A request that asks for nothing holds nothing and never waits.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

/// Amounts of resources by name.
pub type Amounts = BTreeMap<String, f64>;

/// Slack for comparing fractional amounts (`0.1 + 0.2` is `0.3` here).
const EPSILON: f64 = 1e-9;

/// Why a request cannot be held on this node.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HeldError {
    /// It asks for more than the node has at all.
    #[error(
        "{what} asks for {asked} but node {node} has {has} in all: it could never run \
         there (start a node with `rustyray start --resources NAME=N`)"
    )]
    Infeasible {
        /// What asked (`task NAME`, `actor CLASS`).
        what: String,
        /// What it asked for.
        asked: String,
        /// The node.
        node: String,
        /// What the node has.
        has: String,
    },
}

/// One node's resources and what holds them.
#[derive(Debug)]
pub struct Account {
    node: String,
    total: Amounts,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    held: Amounts,
    waiting: VecDeque<Waiter>,
    next: u64,
}

#[derive(Debug)]
struct Waiter {
    id: u64,
    asked: Amounts,
    grant: Option<oneshot::Sender<()>>,
}

/// Resources held until dropped.
#[derive(Debug)]
pub struct Hold {
    account: Option<Arc<Account>>,
    asked: Amounts,
}

impl Hold {
    /// A hold of nothing.
    pub fn none() -> Hold {
        Hold {
            account: None,
            asked: Amounts::new(),
        }
    }

    /// What it holds.
    pub fn amounts(&self) -> &Amounts {
        &self.asked
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(account) = self.account.take() {
            let mut state = account.lock();
            subtract(&mut state.held, &self.asked);
            account.admit(&mut state);
        }
    }
}

/// A place in the queue; leaving it unadmitted (the waiting future dropped) gives the
/// place back, and a grant that came meanwhile.
struct Place<'a> {
    account: &'a Arc<Account>,
    id: u64,
    asked: Amounts,
    granted: Option<oneshot::Receiver<()>>,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        let Some(mut granted) = self.granted.take() else {
            return;
        };
        let mut state = self.account.lock();
        let before = state.waiting.len();
        state.waiting.retain(|waiter| waiter.id != self.id);
        if state.waiting.len() == before && granted.try_recv().is_ok() {
            // Admitted as it was given up: held for nobody.
            subtract(&mut state.held, &self.asked);
        }
        // Its reservation is gone either way: those behind it may fit now.
        self.account.admit(&mut state);
    }
}

impl Account {
    /// The account of node `node`, which has `total`.
    pub fn new(node: &str, total: Amounts) -> Arc<Account> {
        Arc::new(Account {
            node: node.to_string(),
            total,
            state: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the node has.
    pub fn total(&self) -> &Amounts {
        &self.total
    }

    /// What is not held now, per resource the node has (below 0 when jobs hold more).
    pub fn available(&self) -> Amounts {
        let state = self.lock();
        let mut free = self.total.clone();
        subtract(&mut free, &state.held);
        free
    }

    /// Requests waiting for their resources here.
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    /// Whether `asked` could ever be held here.
    pub fn feasible(&self, asked: &Amounts) -> bool {
        fits(&self.total, asked)
    }

    /// Whether `asked` would be held at once now (free, and nothing waiting ahead of it
    /// for the same resources).
    pub fn free_now(&self, asked: &Amounts) -> bool {
        let state = self.lock();
        fits(&self.free_for_newcomer(&state), asked)
    }

    /// What a request arriving now may take: what is free, less what the waiters
    /// reserve.
    fn free_for_newcomer(&self, state: &State) -> Amounts {
        let mut free = self.total.clone();
        subtract(&mut free, &state.held);
        for waiter in &state.waiting {
            subtract(&mut free, &waiter.asked);
        }
        free
    }

    /// Holds `asked` for `what` once it is free here, waiting its turn (first in,
    /// first out) until then; at once when it asks for nothing. Dropping the future
    /// while it waits gives its place up. [`HeldError::Infeasible`] at once when the
    /// node does not have that much at all.
    pub async fn acquire(self: &Arc<Self>, asked: &Amounts, what: &str) -> Result<Hold, HeldError> {
        let asked: Amounts = asked
            .iter()
            .filter(|(_, amount)| **amount > 0.0)
            .map(|(name, amount)| (name.clone(), *amount))
            .collect();
        if asked.is_empty() {
            return Ok(Hold::none());
        }
        if !self.feasible(&asked) {
            return Err(HeldError::Infeasible {
                what: what.to_string(),
                asked: crate::cluster::describe(&asked),
                node: self.node.clone(),
                has: crate::cluster::describe(&self.total),
            });
        }
        let granted = {
            let mut state = self.lock();
            if fits(&self.free_for_newcomer(&state), &asked) {
                add(&mut state.held, &asked);
                return Ok(self.hold(asked));
            }
            let (grant, granted) = oneshot::channel();
            state.next += 1;
            let id = state.next;
            state.waiting.push_back(Waiter {
                id,
                asked: asked.clone(),
                grant: Some(grant),
            });
            Place {
                account: self,
                id,
                asked,
                granted: Some(granted),
            }
        };
        let mut place = granted;
        let Some(receiver) = place.granted.as_mut() else {
            return Ok(Hold::none());
        };
        // A waiter's sender is only dropped once it sent (or with its place): `Err` is
        // never seen, and would mean nothing was added for it.
        let granted = receiver.await.is_ok();
        place.granted = None;
        let asked = std::mem::take(&mut place.asked);
        Ok(if granted {
            self.hold(asked)
        } else {
            Hold::none()
        })
    }

    /// Holds `asked` whatever is free (a job, admitted by its own slots).
    pub fn force(self: &Arc<Self>, asked: &Amounts) -> Hold {
        let asked: Amounts = asked
            .iter()
            .filter(|(_, amount)| **amount > 0.0)
            .map(|(name, amount)| (name.clone(), *amount))
            .collect();
        add(&mut self.lock().held, &asked);
        self.hold(asked)
    }

    /// Holds `asked` if it is free now with nobody waiting ahead for it; `None` if not.
    pub fn try_acquire(self: &Arc<Self>, asked: &Amounts) -> Option<Hold> {
        let asked: Amounts = asked
            .iter()
            .filter(|(_, amount)| **amount > 0.0)
            .map(|(name, amount)| (name.clone(), *amount))
            .collect();
        let mut state = self.lock();
        if !fits(&self.free_for_newcomer(&state), &asked) {
            return None;
        }
        add(&mut state.held, &asked);
        drop(state);
        Some(self.hold(asked))
    }

    fn hold(self: &Arc<Self>, asked: Amounts) -> Hold {
        Hold {
            account: Some(self.clone()),
            asked,
        }
    }

    /// Admits the waiters that fit now, in order; one that does not reserves what it
    /// asks for from those behind it.
    fn admit(&self, state: &mut State) {
        let mut free = self.total.clone();
        subtract(&mut free, &state.held);
        let mut admitted = Vec::new();
        for waiter in &mut state.waiting {
            if fits(&free, &waiter.asked) {
                subtract(&mut free, &waiter.asked);
                admitted.push(waiter.id);
            } else {
                subtract(&mut free, &waiter.asked);
            }
        }
        if admitted.is_empty() {
            return;
        }
        let mut kept = VecDeque::with_capacity(state.waiting.len());
        for mut waiter in std::mem::take(&mut state.waiting) {
            if !admitted.contains(&waiter.id) {
                kept.push_back(waiter);
                continue;
            }
            add(&mut state.held, &waiter.asked);
            let sent = waiter
                .grant
                .take()
                .is_some_and(|grant| grant.send(()).is_ok());
            if !sent {
                // Its waiter is gone (its `Place` is being dropped, waiting for this
                // lock): not held after all.
                subtract(&mut state.held, &waiter.asked);
            }
        }
        state.waiting = kept;
    }
}

/// Whether every amount of `asked` is in `free`.
fn fits(free: &Amounts, asked: &Amounts) -> bool {
    asked
        .iter()
        .all(|(name, amount)| free.get(name).copied().unwrap_or(0.0) + EPSILON >= *amount)
}

fn add(to: &mut Amounts, amounts: &Amounts) {
    for (name, amount) in amounts {
        *to.entry(name.clone()).or_default() += amount;
    }
}

fn subtract(from: &mut Amounts, amounts: &Amounts) {
    for (name, amount) in amounts {
        if let Some(left) = from.get_mut(name) {
            *left -= amount;
            if left.abs() < EPSILON {
                *left = 0.0;
            }
        }
    }
}
