//! Objects across nodes (`node/src/cluster_objects.rs`, `rustyray::remote::objects`):
//! a task result larger than `--max-direct-call-object-size` stays on the node that
//! made it, its owner (the job's driver) fetches it when used (a ranged `read` only
//! its range), the copy there is let go once fetched or dropped, and a copy lost with
//! its node is made again from its lineage within the task's retries, else reads fail
//! `ObjectLost` naming the node. What each node keeps is read from the outside, its
//! `/metrics` (`rustyray_cluster_held_object_bytes`, `rustyray_cluster_objects_kept_total`).
//!
//! Without `nats-server` on PATH the tests say so and pass without running.

use rustyray_node::api::{JobStatus, ModuleInfo};

use crate::cluster::{Nats, Node, three_nodes, wait_until};
use crate::common;

/// The value of the metric `name` (no labels) in `node`'s `/metrics`.
fn metric(node: &Node, name: &str) -> u64 {
    let text = crate::node::ureq_text(&format!("{}/metrics", node.address));
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map_or(0, |value| value as u64)
}

fn held_bytes(node: &Node) -> u64 {
    metric(node, "rustyray_cluster_held_object_bytes")
}

fn kept(node: &Node) -> u64 {
    metric(node, "rustyray_cluster_objects_kept_total")
}

/// The cluster tasks of `function` that `node` ran and that ended `ok`.
pub(crate) fn ran(node: &Node, function: &str) -> u64 {
    let text = crate::node::ureq_text(&format!("{}/metrics", node.address));
    let labels = format!("function=\"{function}\"");
    text.lines()
        .filter(|line| line.starts_with("rustyray_cluster_tasks_total{"))
        .filter(|line| line.contains(&labels) && line.contains("outcome=\"ok\""))
        .filter_map(|line| line.rsplit(' ').next()?.trim().parse::<u64>().ok())
        .sum()
}

fn deploy(node: &Node) -> ModuleInfo {
    let bytes = std::fs::read(rustyray_tests::CLUSTER_TASKS).expect("reading cluster_tasks");
    node.client()
        .deploy(&bytes, "cluster_tasks")
        .expect("deploying cluster_tasks")
}

/// `make_big(mib, seed)`'s bytes, as the guest makes them.
fn big(mib: usize, seed: usize) -> Vec<u8> {
    (0..mib << 20)
        .map(|k| (k.wrapping_mul(31) + seed * 7 + k / 4096) as u8)
        .collect()
}

fn fnv(data: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in data {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[test]
fn large_results_stay_where_they_were_made_until_used_and_are_let_go_after() {
    let Some(nats) = Nats::start(&common::fresh_dir("cobjects-hold-nats")) else {
        return;
    };
    // Results over 1 MiB stay where they are made (4 MiB each here).
    let flags: &[&str] = &["--max-direct-call-object-size", "1048576"];
    let [a, b, c] = three_nodes(
        &nats,
        "cobjects-hold",
        [
            &[
                "--resources",
                "driver=1,opener=1",
                "--max-direct-call-object-size",
                "1048576",
            ],
            flags,
            flags,
        ],
    );
    deploy(&a);
    let entry = format!(
        "rustyray run cluster_tasks --namespace objs -- hold 4 6 {}",
        a.node_id
    );
    a.submit(&entry, "hold", &[("driver", 1.0)])
        .expect("submitting");
    let log = a.follow("hold", Some("hold released"));
    for seed in 1..=6 {
        let data = big(4, seed);
        let head: String = data[..16].iter().map(|b| format!("{b:02x}")).collect();
        let line = format!(
            "hold seed={seed} head={head} len={} fnv={:016x}",
            data.len(),
            fnv(&data)
        );
        assert!(log.contains(&line), "{line} not in {log}");
    }
    let first = big(4, 1);
    assert!(
        log.contains(&format!(
            "hold arg len={} fnv={:016x}",
            first.len(),
            fnv(&first)
        )),
        "{log}"
    );
    // Some results were kept on the other nodes (the driver's own node sends none)...
    assert!(kept(&b) + kept(&c) > 0, "no node kept a result");
    assert_eq!(kept(&a), 0);
    // ...and every copy is let go while the job still runs (fetched, or dropped
    // unread: the spare), not only when it ends.
    wait_until("the kept copies let go", || {
        (held_bytes(&b) == 0 && held_bytes(&c) == 0).then_some(())
    });
    assert_eq!(
        a.job("hold").status,
        JobStatus::Running,
        "the job must still be running"
    );
    a.submit(
        "rustyray run cluster_tasks --namespace objs -- open gate",
        "open",
        &[("opener", 1.0)],
    )
    .expect("opening the gate");
    let log = a.follow("hold", None);
    assert!(log.contains("hold done"), "{log}");
    assert_eq!(a.job("hold").status, JobStatus::Succeeded);
}

#[test]
fn a_node_killed_with_the_results_it_kept_they_are_made_again_or_fail_object_lost() {
    let Some(nats) = Nats::start(&common::fresh_dir("cobjects-lost-nats")) else {
        return;
    };
    let [a, mut b, c] = three_nodes(
        &nats,
        "cobjects-lost",
        [
            &["--resources", "driver=1,opener=1"],
            &[],
            &["--resources", "canary=1"],
        ],
    );
    deploy(&a);
    let entry = format!(
        "rustyray run cluster_tasks --namespace lost -- lost 2 8 {}",
        a.node_id
    );
    a.submit(&entry, "lost", &[("driver", 1.0)])
        .expect("submitting");
    a.follow("lost", Some("lost held"));
    assert!(kept(&b) > 0, "B kept none of the job's results");
    let held_on_b = kept(&b);
    // B dies with what it kept; a canary job on C goes on meanwhile.
    b.kill();
    c.submit(
        "rustyray run cluster_tasks -- spread 100 5",
        "canary",
        &[("canary", 1.0)],
    )
    .expect("submitting the canary");
    a.submit(
        "rustyray run cluster_tasks --namespace lost -- open gate",
        "open",
        &[("opener", 1.0)],
    )
    .expect("opening the gate");
    let log = a.follow("lost", None);
    assert_eq!(a.job("lost").status, JobStatus::Succeeded, "{log}");
    // With retries, every object is right: those B held were made again.
    for seed in 1..=8 {
        let data = big(2, seed);
        let line = format!(
            "lost seed={seed} len={} fnv={:016x}",
            data.len(),
            fnv(&data)
        );
        assert!(log.contains(&line), "{line} not in {log}");
    }
    // Without, each is right or lost, and the lost ones reach the guest typed
    // (`RayError::ObjectLost`, not a runtime error's text) naming B.
    let mut lost = 0;
    for seed in 101..=108 {
        let data = big(2, seed);
        let line = format!(
            "lost seed={seed} len={} fnv={:016x}",
            data.len(),
            fnv(&data)
        );
        if log.contains(&line) {
            continue;
        }
        let error = log
            .lines()
            .find(|l| l.starts_with(&format!("lost seed={seed} kind=")))
            .unwrap_or_else(|| panic!("seed {seed}: neither its value nor an error in {log}"));
        assert!(
            error.starts_with(&format!(
                "lost seed={seed} kind=ObjectLost node={} object=",
                b.node_id
            )),
            "{error}"
        );
        lost += 1;
    }
    println!("without retries {lost} of 8 lost; B had kept {held_on_b} results");
    assert!(
        lost > 0 || held_on_b <= 8,
        "B held {held_on_b} results, so some without retries must be lost: {log}"
    );
    let log = c.follow("canary", None);
    assert!(log.contains("spread n=100"), "{log}");
    assert_eq!(c.job("canary").status, JobStatus::Succeeded);
}

#[test]
fn a_task_given_a_result_kept_on_another_node_runs_there_and_the_bytes_do_not_move() {
    let Some(nats) = Nats::start(&common::fresh_dir("cobjects-near-nats")) else {
        return;
    };
    let [a, b, c] = three_nodes(
        &nats,
        "cobjects-near",
        [&["--resources", "driver=1"], &[], &[]],
    );
    deploy(&a);
    a.submit(
        "rustyray run cluster_tasks -- near 4 6",
        "near",
        &[("driver", 1.0)],
    )
    .expect("submitting");
    let log = a.follow("near", None);
    assert_eq!(a.job("near").status, JobStatus::Succeeded, "{log}");
    for seed in 1..=6 {
        let data = big(4, seed);
        let line = format!(
            "near seed={seed} len={} fnv={:016x}",
            data.len(),
            fnv(&data)
        );
        assert!(log.contains(&line), "{line} not in {log}");
    }
    // Results were kept on B and C, and the checksums of those ran there: no node sent
    // another a piece of a kept object (nor did the driver fetch one).
    assert!(kept(&b) + kept(&c) > 0, "no node kept a result");
    assert!(ran(&b, "checksum") + ran(&c, "checksum") > 0);
    let served = |node: &Node| metric(node, "rustyray_cluster_object_pieces_served_total");
    assert_eq!((served(&a), served(&b), served(&c)), (0, 0, 0));
    // Once the job ended, every copy is let go (released, or swept with the job).
    wait_until("the ended job's copies let go", || {
        (held_bytes(&b) == 0 && held_bytes(&c) == 0).then_some(())
    });
}

#[test]
fn object_refs_inside_values_cross_nodes_both_ways_and_are_let_go_after_the_last_one() {
    let Some(nats) = Nats::start(&common::fresh_dir("cobjects-borrow-nats")) else {
        return;
    };
    let [a, b, c] = three_nodes(
        &nats,
        "cobjects-borrow",
        [&["--resources", "driver=1,opener=1"], &[], &[]],
    );
    deploy(&a);
    let entry = format!(
        "rustyray run cluster_tasks --namespace borrow -- borrow 2 3 {} {}",
        a.node_id, b.node_id
    );
    a.submit(&entry, "borrow", &[("driver", 1.0)])
        .expect("submitting");
    let log = a.follow("borrow", Some("borrow released"));
    // A list of references (the driver's own objects, and results kept where they were
    // made) read by a task on B and by one placed anywhere: every byte right.
    for label in ["pinned", "anywhere"] {
        for seed in (1..=3).chain(101..=103) {
            let data = big(2, seed);
            let line = format!(
                "borrow {label} seed={seed} len={} fnv={:016x}",
                data.len(),
                fnv(&data)
            );
            assert!(log.contains(&line), "{line} not in {log}");
        }
    }
    // A reference to an object a task put on B, returned to the driver on A.
    let data = big(2, 77);
    let line = format!("borrow returned len={} fnv={:016x}", data.len(), fnv(&data));
    assert!(log.contains(&line), "{line} not in {log}");
    assert!(
        ran(&b, "read_refs") >= 1,
        "the pinned read_refs did not run on B"
    );
    assert_eq!(ran(&b, "put_here"), 1);
    // The driver's own objects were kept on its node for the others to read.
    assert!(kept(&a) > 0, "A kept none of the driver's objects");
    // Every reference is dropped (the driver's, B's, and the anywhere task's): each
    // node lets its copies go while the job still runs, not only when it ends.
    wait_until("every copy let go after the last reference", || {
        (held_bytes(&a) == 0 && held_bytes(&b) == 0 && held_bytes(&c) == 0).then_some(())
    });
    assert_eq!(
        a.job("borrow").status,
        JobStatus::Running,
        "the job must still be running"
    );
    a.submit(
        "rustyray run cluster_tasks --namespace borrow -- open gate",
        "open",
        &[("opener", 1.0)],
    )
    .expect("opening the gate");
    let log = a.follow("borrow", None);
    assert!(log.contains("borrow done"), "{log}");
    assert_eq!(a.job("borrow").status, JobStatus::Succeeded);
}

#[test]
fn a_borrower_node_that_dies_is_dropped_from_the_count_and_the_copy_let_go() {
    let Some(nats) = Nats::start(&common::fresh_dir("cobjects-borrower-nats")) else {
        return;
    };
    let [a, b, mut c] = three_nodes(
        &nats,
        "cobjects-borrower",
        [&["--resources", "driver=1,opener=1"], &[], &[]],
    );
    deploy(&a);
    let entry = format!(
        "rustyray run cluster_tasks --namespace borrower -- borrower 2 {} {}",
        b.node_id, c.node_id
    );
    a.submit(&entry, "borrower", &[("driver", 1.0)])
        .expect("submitting");
    a.follow("borrower", Some("borrower dropped"));
    // The driver let its reference go; the task on C still holds its borrowed one, so
    // A keeps the copy (a count of C's)...
    assert!(kept(&a) > 0, "A kept none of the driver's objects");
    let held = held_bytes(&a);
    assert_eq!(held, 2 << 20, "A must keep the 2 MiB copy C borrows");
    // ...until C dies: its count goes once its heartbeat expires.
    c.kill();
    wait_until("the dead borrower's count dropped", || {
        (held_bytes(&a) == 0).then_some(())
    });
    let log = a.follow("borrower", Some("borrower task="));
    let task = log
        .lines()
        .find(|line| line.starts_with("borrower task="))
        .unwrap_or_default();
    assert!(
        task.starts_with("borrower task=error:") && task.contains(&c.node_id),
        "{log}"
    );
    assert_eq!(
        a.job("borrower").status,
        JobStatus::Running,
        "the job must still be running"
    );
    a.submit(
        "rustyray run cluster_tasks --namespace borrower -- open gate",
        "open",
        &[("opener", 1.0)],
    )
    .expect("opening the gate");
    let log = a.follow("borrower", None);
    assert!(log.contains("borrower done"), "{log}");
    assert_eq!(a.job("borrower").status, JobStatus::Succeeded);
}

#[test]
fn object_refs_cross_to_a_placed_actor_and_back_are_kept_in_its_state_and_let_go_with_the_job() {
    let Some(nats) = Nats::start(&common::fresh_dir("cobjects-actorrefs-nats")) else {
        return;
    };
    let [a, b, c] = three_nodes(
        &nats,
        "cobjects-actorrefs",
        [&["--resources", "driver=1,opener=1"], &[], &[]],
    );
    deploy(&a);
    let entry = format!(
        "rustyray run cluster_tasks --namespace actorrefs -- actorrefs 4 {} {} {}",
        a.node_id, b.node_id, c.node_id
    );
    a.submit(&entry, "actorrefs", &[("driver", 1.0)])
        .expect("submitting");
    let log = a.follow("actorrefs", Some("actorrefs released"));
    // The driver's object, read by the actor on B from a reference inside a list (beside
    // a result not made yet when the call was made) and from the reference passed as
    // itself; the actor's own object (made on B), read by
    // the driver on A and by a task on C; both read again by the actor in a later call
    // (kept in its state).
    let (mine, pending, its) = (big(4, 5), big(4, 9), big(4, 77));
    let sum = |data: &[u8]| format!("len={} fnv={:016x}", data.len(), fnv(data));
    for line in [
        format!("actorrefs took {}", sum(&mine)),
        format!("actorrefs took {}", sum(&pending)),
        format!("actorrefs by-reference {}", sum(&mine)),
        format!("actorrefs returned {}", sum(&its)),
        format!("actorrefs relayed {}", sum(&its)),
        format!("actorrefs kept {}", sum(&mine)),
        format!("actorrefs kept {}", sum(&pending)),
        format!("actorrefs kept {}", sum(&its)),
        "actorrefs canary=1 task=49".to_string(),
    ] {
        assert!(log.contains(&line), "{line} not in {log}");
    }
    // A copied the driver's object for the others, B the actor's.
    assert!(kept(&a) > 0, "A kept none of the driver's objects");
    assert!(kept(&b) > 0, "B kept none of the actor's objects");
    // The driver and the task dropped theirs; the actor on B still holds its own
    // object, so B keeps that copy (4 MiB) for the others; the driver's copy on A is let
    // go (the actor read it whole).
    wait_until("the dropped references let go", || {
        (held_bytes(&a) == 0 && held_bytes(&c) == 0 && held_bytes(&b) == 4 << 20).then_some(())
    });
    assert_eq!(
        a.job("actorrefs").status,
        JobStatus::Running,
        "the job must still be running"
    );
    a.submit(
        "rustyray run cluster_tasks --namespace actorrefs -- open gate",
        "open",
        &[("opener", 1.0)],
    )
    .expect("opening the gate");
    let log = a.follow("actorrefs", None);
    assert!(log.contains("actorrefs done"), "{log}");
    assert_eq!(a.job("actorrefs").status, JobStatus::Succeeded);
    // The job ended: its actor with it, and what it held is let go everywhere.
    wait_until("the ended job's actor's objects let go", || {
        (held_bytes(&a) == 0 && held_bytes(&b) == 0 && held_bytes(&c) == 0).then_some(())
    });
}

#[test]
fn a_placed_actors_reference_whose_keeper_died_is_object_lost_and_the_cap_is_named() {
    let Some(nats) = Nats::start(&common::fresh_dir("cobjects-actorlost-nats")) else {
        return;
    };
    // The driver's node keeps at most 2 MiB for the others.
    let [a, b, mut c] = three_nodes(
        &nats,
        "cobjects-actorlost",
        [
            &[
                "--resources",
                "driver=1,opener=1",
                "--max-held-objects-mib",
                "2",
            ],
            &[],
            &[],
        ],
    );
    deploy(&a);
    let entry = format!(
        "rustyray run cluster_tasks --namespace actorlost -- actorlost {} {} {}",
        a.node_id, b.node_id, c.node_id
    );
    a.submit(&entry, "actorlost", &[("driver", 1.0)])
        .expect("submitting");
    let log = a.follow("actorlost", Some("actorlost held="));
    // A 4 MiB object does not fit the driver's node's 2 MiB: the call fails naming the
    // flag, and nothing is kept for it.
    let cap = log
        .lines()
        .find_map(|line| line.strip_prefix("actorlost cap="))
        .unwrap_or_default();
    assert!(
        cap.contains("--max-held-objects-mib") && !cap.starts_with("none"),
        "{log}"
    );
    assert!(log.contains("actorlost held=1"), "{log}");
    assert_eq!(held_bytes(&a), 0, "{log}");
    // C dies with the result the actor on B holds unread: made with no retries, it
    // cannot be made again, and the actor's read is the typed ObjectLost naming C.
    c.kill();
    a.submit(
        "rustyray run cluster_tasks --namespace actorlost -- open gate",
        "open",
        &[("opener", 1.0)],
    )
    .expect("opening the gate");
    let log = a.follow("actorlost", None);
    assert!(
        log.contains(&format!("actorlost kind=ObjectLost node={}", c.node_id)),
        "{log}"
    );
    // The actor itself goes on.
    assert!(log.contains("actorlost canary=1"), "{log}");
    assert_eq!(a.job("actorlost").status, JobStatus::Succeeded, "{log}");
}
