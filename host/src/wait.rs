//! `wait`: the first `num_ready` of a set of objects, or whatever is ready at a timeout.
//!
//! Shared by the host API and the guest import so both answer alike: the indexes
//! of ready objects, in the order given, at most `num_ready` of them. Pending
//! objects are awaited together (one future each, polled as they complete), so
//! waiting on n objects costs O(n) however they finish.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::object_store::Slot;

/// Indexes (into `slots`) of ready objects once `num_ready` are ready or `timeout`
/// passes; `None` waits without limit. `num_ready` is clamped to `slots.len()`.
pub(crate) async fn wait_slots(
    slots: &[Arc<Slot>],
    num_ready: usize,
    timeout: Option<Duration>,
) -> Vec<usize> {
    let wanted = num_ready.min(slots.len());
    let already = slots.iter().filter(|slot| slot.is_ready()).count();
    if already < wanted {
        let needed = wanted - already;
        let mut pending: FuturesUnordered<_> = slots
            .iter()
            .filter(|slot| !slot.is_ready())
            .map(|slot| slot.ready_unfetched())
            .collect();
        let until_enough = async {
            let mut done = 0;
            while done < needed && pending.next().await.is_some() {
                done += 1;
            }
        };
        match timeout {
            Some(limit) => {
                let _ = tokio::time::timeout(limit, until_enough).await;
            }
            None => until_enough.await,
        }
    }
    ready_now(slots, wanted)
}

/// Indexes (into `slots`) of the objects ready now, at most `num_ready` of them.
pub(crate) fn ready_now(slots: &[Arc<Slot>], num_ready: usize) -> Vec<usize> {
    slots
        .iter()
        .enumerate()
        .filter(|(_, slot)| slot.is_ready())
        .map(|(index, _)| index)
        .take(num_ready)
        .collect()
}
