//! A node's resource account (`node/src/held.rs`): what is held is never more than
//! there is, waiters are admitted first in first out as holders end, and a waiter
//! given up leaves nothing behind. The cluster tests (`cluster_tasks.rs`) check the
//! same through nodes.

use std::collections::BTreeMap;

use rustyray_node::held::{Account, Amounts, HeldError};

fn amounts(pairs: &[(&str, f64)]) -> Amounts {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

#[test]
fn waiters_are_admitted_in_order_and_never_hold_more_than_there_is() {
    runtime().block_on(async {
        let account = Account::new("n", amounts(&[("gpu", 1.0), ("CPU", 4.0)]));
        let gpu = amounts(&[("gpu", 1.0)]);
        let first = account.acquire(&gpu, "t1").await.expect("free");
        assert_eq!(account.available()["gpu"], 0.0);
        let (order, mut admitted) = tokio::sync::mpsc::unbounded_channel();
        let mut waiters = Vec::new();
        for n in 2..=4 {
            let (mine, gpu, order) = (account.clone(), gpu.clone(), order.clone());
            waiters.push(tokio::spawn(async move {
                let hold = mine.acquire(&gpu, "t").await.expect("admitted");
                let _ = order.send(n);
                hold
            }));
            while account.waiting() < n - 1 {
                tokio::task::yield_now().await;
            }
        }
        // Other resources pass them; the same resource does not; more than there is
        // fails at once.
        assert!(account.try_acquire(&amounts(&[("CPU", 1.0)])).is_some());
        assert!(account.try_acquire(&gpu).is_none());
        assert!(!account.free_now(&gpu));
        assert!(matches!(
            account.acquire(&amounts(&[("gpu", 2.0)]), "t9").await,
            Err(HeldError::Infeasible { .. })
        ));
        drop(first);
        for (expected, waiter) in (2..=4).zip(waiters) {
            assert_eq!(admitted.recv().await, Some(expected));
            let hold = waiter.await.expect("joined");
            assert_eq!(account.available()["gpu"], 0.0);
            drop(hold);
        }
        assert_eq!(account.available()["gpu"], 1.0);
        assert_eq!(account.waiting(), 0);
    });
}

#[test]
fn a_waiter_given_up_leaves_nothing_held_and_no_place() {
    runtime().block_on(async {
        let account = Account::new("n", amounts(&[("gpu", 1.0)]));
        let gpu = amounts(&[("gpu", 1.0)]);
        let first = account.acquire(&gpu, "t1").await.expect("free");
        let waiting = tokio::spawn({
            let (account, gpu) = (account.clone(), gpu.clone());
            async move { account.acquire(&gpu, "t2").await }
        });
        while account.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        waiting.abort();
        let _ = waiting.await;
        assert_eq!(account.waiting(), 0);
        drop(first);
        assert_eq!(account.available()["gpu"], 1.0);
        // Asking for nothing holds nothing and never waits.
        let nothing = account.acquire(&BTreeMap::new(), "t3").await.expect("free");
        assert!(nothing.amounts().is_empty());
        // A forced hold (a job's) may go past the total; newcomers then wait.
        let job = account.force(&gpu);
        let also = account.force(&gpu);
        assert_eq!(account.available()["gpu"], -1.0);
        assert!(!account.free_now(&gpu));
        drop((job, also));
        assert!(account.free_now(&gpu));
    });
}
