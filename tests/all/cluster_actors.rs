//! Actors cluster-wide (`node/src/cluster_actors.rs`), with the `detached` program: an
//! actor a job creates is placed on the node that has what it asks for, found by name
//! and called from a job on another node, and restarted on another node from its last
//! snapshot (kept in JetStream) when its node is killed with SIGKILL mid-job. Each test
//! starts its own nats-server and three nodes (`cluster.rs`'s helpers); waits on cluster
//! state poll it (a heartbeat's expiry sends no event), everything else waits on a job's
//! log.

use std::process::Command;

use rustyray::remote::{Request, Response, WireError};
use rustyray_node::api::JobStatus;

use crate::cluster::{BIN, Nats, Node, three_nodes, wait_until};
use crate::common;

/// Runs one step of the `detached` program (namespace `shop`) as job `id` through
/// `via`, on a node that has `resource`; returns its log once it ended.
fn step(via: &Node, id: &str, resource: &str, args: &str) -> String {
    via.submit(
        &format!("rustyray run detached --namespace shop -- {args}"),
        id,
        &[(resource, 1.0)],
    )
    .expect("submitting a step");
    let log = via.follow(id, None);
    assert_eq!(via.job(id).status, JobStatus::Succeeded, "{id}: {log}");
    log
}

/// The actors node `node` hosts, as `rustyray list actors --json` prints them.
fn actors_on(node: &Node) -> Vec<serde_json::Value> {
    let out = Command::new(BIN)
        .args(["list", "actors", "--json", "--limit", "1000", "--address"])
        .arg(&node.address)
        .output()
        .expect("rustyray list actors");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the actors as JSON")
}

/// Whether node `node` hosts a live actor named `name`. The state API answers for the
/// whole cluster from any node; each actor carries the id of the node it lives on.
pub(crate) fn hosts(node: &Node, name: &str) -> bool {
    actors_on(node).iter().any(|actor| {
        actor["name"] == name && actor["state"] == "ALIVE" && actor["node_id"] == node.node_id
    })
}

fn deploy_detached(node: &Node) {
    let bytes = std::fs::read(rustyray_tests::DETACHED).expect("reading the detached program");
    node.client()
        .deploy(&bytes, "detached")
        .expect("deploying the detached program");
}

#[test]
fn an_actor_is_placed_where_its_resources_are_and_called_by_name_from_another_node() {
    let Some(nats) = Nats::start(&common::fresh_dir("cactors-place-nats")) else {
        return;
    };
    let [a, b, c] = three_nodes(
        &nats,
        "cactors-place",
        [
            &["--resources", "driver=4"],
            // Two: the detached tally holds one for its lifetime, the job's scratch
            // actor below the other.
            &["--resources", "gpu=2"],
            &["--resources", "caller=4"],
        ],
    );
    deploy_detached(&a);

    // A job on A creates it; it needs a gpu, which only B has: it runs on B, as
    // `rustyray list actors` on B shows (and A does not host it).
    let log = step(&a, "place", "driver", "place tally gpu 3");
    assert!(log.contains("count=3"), "{log}");
    assert!(hosts(&b, "tally"), "{:?}", actors_on(&b));
    assert!(!hosts(&a, "tally") && !hosts(&c, "tally"));

    // A job on C finds it by name and calls it, with its state.
    let log = step(&c, "incr-from-c", "caller", "incr tally");
    assert!(log.contains("count=4"), "{log}");

    // Node affinity: on the node asked for.
    let log = step(
        &a,
        "pinned",
        "driver",
        &format!("place-on pinned {}", c.node_id),
    );
    assert!(log.contains("count=1"), "{log}");
    assert!(hosts(&c, "pinned"), "{:?}", actors_on(&c));
    let log = step(
        &a,
        "pinned-gone",
        "driver",
        "place-on lost node_0000000000000000",
    );
    assert!(log.contains("not a live node"), "{log}");

    // What no node has is refused with the reason, at creation.
    let log = step(&a, "no-tpu", "driver", "unplaceable tpu");
    assert!(log.contains("error=") && log.contains("tpu=1"), "{log}");

    // A non-detached actor placed on B ends with its job.
    let log = step(&a, "scratch", "driver", "place-local scratch gpu");
    assert!(log.contains("count=1"), "{log}");
    wait_until("the job's actor to end with it", || {
        (!hosts(&b, "scratch")).then_some(())
    });
    let log = step(&c, "find-scratch", "caller", "find-local scratch");
    assert!(log.contains("missing"), "{log}");

    // Hostile: garbage on B's actor subject gets a typed error back; a call to an actor
    // B does not host is ActorNotFound; B lives on and its actor answers.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let cluster = rustyray_cluster::Cluster::connect(&nats.url(), "hostile test")
            .await
            .expect("connecting to NATS");
        for garbage in [&b"\xc1\xc1 not msgpack"[..], &[], &[0x92, 0x01]] {
            let answer = cluster
                .actor_request(&b.node_id, garbage.to_vec(), Some(std::time::Duration::from_secs(10)))
                .await
                .expect("an answer to garbage");
            let response: Response = rmp_serde::from_slice(&answer).expect("a response");
            assert!(
                matches!(&response, Response::Failed(WireError::Other(message)) if message.contains("did not decode")),
                "{response:?}"
            );
        }
        let call = Request::Call {
            actor: rustyray::ActorId(rustyray::Id::random(0)),
            method: "increment".into(),
            args: vec![],
            want_result: true,
            caller_node: None,
        };
        let answer = cluster
            .actor_request(
                &b.node_id,
                rmp_serde::to_vec_named(&call).expect("encoding"),
                Some(std::time::Duration::from_secs(10)),
            )
            .await
            .expect("an answer");
        let response: Response = rmp_serde::from_slice(&answer).expect("a response");
        assert!(
            matches!(response, Response::Failed(WireError::ActorNotFound(_))),
            "{response:?}"
        );
    });
    let log = step(&c, "after-garbage", "caller", "incr tally");
    assert!(log.contains("count=5"), "{log}");
}

#[test]
fn a_snapshot_actor_of_a_killed_node_goes_on_elsewhere_from_its_snapshot_mid_job() {
    let Some(nats) = Nats::start(&common::fresh_dir("cactors-loss-nats")) else {
        return;
    };
    let [a, b, c] = three_nodes(
        &nats,
        "cactors-loss",
        [
            &["--resources", "driver=4"],
            &["--resources", "gpu=1"],
            &["--resources", "gpu=1"],
        ],
    );
    let mut nodes = [b, c];
    deploy_detached(&a);
    // The canary: a detached actor on A, which nothing here touches.
    let log = step(
        &a,
        "canary",
        "driver",
        &format!("place-on canary {}", a.node_id),
    );
    assert!(log.contains("count=1"), "{log}");

    // A job on A keeps calling a snapshot actor on a gpu node (B or C) ...
    a.submit(
        &format!(
            "rustyray run detached --namespace shop -- chase ledger gpu {}",
            a.node_id
        ),
        "chase",
        &[("driver", 1.0)],
    )
    .expect("submitting the chase");
    let placed = a.follow("chase", Some("placed"));
    if let Some(us) = placed.split("round_trip_us=").nth(1) {
        eprintln!(
            "cross-node actor call round trip (job on A, actor on a gpu node): {} us",
            us.split_whitespace().next().unwrap_or("?")
        );
    }
    let victim = if hosts(&nodes[0], "ledger") { 0 } else { 1 };
    let heir = 1 - victim;
    assert!(
        hosts(&nodes[victim], "ledger"),
        "ledger on neither gpu node"
    );
    // ... whose node is killed while it does.
    let lost = nodes[victim].node_id.clone();
    let killed = std::time::Instant::now();
    nodes[victim].kill();
    wait_until("the actor restarted on the other gpu node", || {
        hosts(&nodes[heir], "ledger").then_some(())
    });
    eprintln!(
        "a lost node's actor restarted elsewhere {} ms after the kill (heartbeat expiry included)",
        killed.elapsed().as_millis()
    );
    // Listed as the chase job's actor (not detached), its restart after the loss counted.
    let listed = actors_on(&nodes[heir])
        .into_iter()
        .find(|actor| actor["name"] == "ledger" && actor["state"] == "ALIVE")
        .expect("the ledger listed");
    assert_eq!(
        (
            &listed["is_detached"],
            &listed["job_id"],
            &listed["num_restarts"]
        ),
        (
            &serde_json::json!(false),
            &serde_json::json!("chase"),
            &serde_json::json!(1)
        ),
        "{listed}"
    );
    let log = step(&a, "open", "driver", "open ledger");
    assert!(log.contains("opened"), "{log}");
    let log = a.follow("chase", None);
    assert_eq!(a.job("chase").status, JobStatus::Succeeded, "{log}");
    // Every number counted once, and the count went on from the snapshot (a restart from
    // the constructor would have started it again at 0).
    let end = log
        .lines()
        .find_map(|line| line.trim().strip_prefix("count="))
        .unwrap_or_else(|| panic!("no count in {log}"));
    let (count, last) = end.split_once(" last=").expect("count=C last=L");
    assert_eq!(count, last, "{log}");
    assert!(last.parse::<u64>().expect("a number") > 20, "{log}");
    assert!(!log.contains(&format!("{lost} was lost during")), "{log}");

    // The canary is unaffected.
    let log = step(&a, "canary-after", "driver", "incr canary");
    assert!(log.contains("count=2"), "{log}");
}

/// NATS down for longer than a heartbeat lives (10 s against the 4 s TTL): when it is
/// back every node's heartbeat has expired, and until the nodes beat again each looks
/// lost to the others. Nothing may be judged lost then: the job's actor on another node
/// is neither killed as orphaned (its job's node looked dead) nor restarted, its calls
/// held during the outage go through after it, and the job ends right.
#[test]
fn a_nats_outage_longer_than_the_heartbeat_ttl_loses_no_actor_and_no_job() {
    let Some(mut nats) = Nats::start(&common::fresh_dir("cactors-outage-nats")) else {
        return;
    };
    let [a, b, c] = three_nodes(
        &nats,
        "cactors-outage",
        [
            &["--resources", "driver=4"],
            &["--resources", "gpu=1"],
            &["--resources", "gpu=1"],
        ],
    );
    deploy_detached(&a);
    // The canary: a detached actor on C, which nothing here touches.
    let log = step(
        &a,
        "canary",
        "driver",
        &format!("place-on canary {}", c.node_id),
    );
    assert!(log.contains("count=1"), "{log}");
    a.submit(
        &format!(
            "rustyray run detached --namespace shop -- chase ledger gpu {}",
            a.node_id
        ),
        "chase",
        &[("driver", 1.0)],
    )
    .expect("submitting the chase");
    a.follow("chase", Some("placed"));
    let host = if hosts(&b, "ledger") { &b } else { &c };
    assert!(hosts(host, "ledger"), "ledger on neither gpu node");
    std::thread::scope(|scope| {
        // The job's log followed through another node across the outage (as `rustyray
        // job submit` does): the stream waits for NATS and goes on to the job's end.
        let far = scope.spawn(|| c.follow("chase", None));
        outage_then_check(&mut nats, &a, host);
        let log = far.join().expect("following through C");
        assert!(
            log.contains("count="),
            "the log through C ended early: {log}"
        );
    });
}

fn outage_then_check(nats: &mut Nats, a: &Node, host: &Node) {
    nats.restart_after(std::time::Duration::from_secs(10));
    let back = rustyray_node::api::now_ms();
    wait_until("three fresh heartbeats", || {
        (a.nodes()
            .iter()
            .filter(|node| node.alive && node.last_heartbeat_ms > back)
            .count()
            == 3)
            .then_some(())
    });
    // The actor is where it was, never restarted, still the chase job's.
    let listed = actors_on(a)
        .into_iter()
        .find(|actor| actor["name"] == "ledger" && actor["state"] == "ALIVE")
        .expect("the ledger listed alive");
    assert_eq!(
        (
            &listed["node_id"],
            &listed["job_id"],
            &listed["num_restarts"]
        ),
        (
            &serde_json::json!(host.node_id),
            &serde_json::json!("chase"),
            &serde_json::json!(0)
        ),
        "{listed}"
    );
    let log = step(a, "open", "driver", "open ledger");
    assert!(log.contains("opened"), "{log}");
    let log = a.follow("chase", None);
    assert_eq!(a.job("chase").status, JobStatus::Succeeded, "{log}");
    let end = log
        .lines()
        .find_map(|line| line.trim().strip_prefix("count="))
        .unwrap_or_else(|| panic!("no count in {log}"));
    let (count, last) = end.split_once(" last=").expect("count=C last=L");
    assert_eq!(count, last, "{log}");
    // A job placed right after the outage is placed and runs, and the canary is intact.
    let log = step(a, "canary-after", "driver", "incr canary");
    assert!(log.contains("count=2"), "{log}");
}

#[test]
fn handles_cross_nodes_inside_values_and_a_5_mib_snapshot_outlives_its_node() {
    let Some(nats) = Nats::start(&common::fresh_dir("cactors-handles-nats")) else {
        return;
    };
    let [a, b, mut c] = three_nodes(
        &nats,
        "cactors-handles",
        [
            &["--resources", "driver=4"],
            &["--resources", "gpu=1"],
            &["--resources", "keep=1"],
        ],
    );
    deploy_detached(&a);

    // A job on A: a tally on B (gpu), and a keeper on C (keep) given the tally's handle
    // (a constructor argument) and 5 MiB of state. The keeper calls the tally through
    // the handle, returns the handle inside a value (called here), and a handle of the
    // job's own actor sent to it is refused before it leaves — the keeper keeps its
    // tally (`after` counts on from `back`).
    let log = step(&a, "keep", "driver", "keep keeper gpu keep 5");
    assert!(log.contains("bump=1"), "{log}");
    assert!(log.contains("back=2"), "{log}");
    assert!(
        log.contains("refused=") && log.contains("only handles of placed actors cross"),
        "{log}"
    );
    assert!(log.contains("after=3"), "{log}");
    let state = log
        .lines()
        .find_map(|line| line.trim().strip_prefix("state="))
        .unwrap_or_else(|| panic!("no state in {log}"))
        .to_string();
    assert!(state.starts_with("2:5242880:"), "{state}");
    assert!(hosts(&b, "keeper-tally"), "{:?}", actors_on(&b));
    assert!(hosts(&c, "keeper"), "{:?}", actors_on(&c));

    // A fourth node that can host it; then C is killed. The keeper comes back on D
    // from its 5 MiB snapshot (over NATS's 1 MiB payload limit: kept in the object
    // store), and the handle in its state reaches the tally on B from there.
    let d = Node::start(
        &nats,
        &common::fresh_dir("cactors-handles-d"),
        &["--resources", "keep=1"],
    );
    wait_until("four live nodes", || {
        (a.nodes().iter().filter(|node| node.alive).count() == 4).then_some(())
    });
    c.kill();
    wait_until("the keeper restarted on D", || {
        hosts(&d, "keeper").then_some(())
    });
    let log = step(&a, "bump-after", "driver", "bump keeper");
    // Its state is the snapshot's (a restart from its constructor would show 0 bumps).
    assert!(log.contains(&format!("state={state}")), "{state} / {log}");
    assert!(log.contains("bump=4"), "{log}");
}

/// Deploys the program in `dir` (a Python or JavaScript directory, built by the CLI) to
/// `node`.
fn deploy_program(node: &Node, dir: &str) {
    let (status, out, err) = crate::programs::run_cli(
        &["deploy", "--address", &node.address, dir],
        crate::programs::BUILD,
    );
    assert_eq!(status, Some(0), "stdout:\n{out}\nstderr:\n{err}");
}

/// Runs one step of `program` (namespace `shop`) as job `id` on a node with `driver`.
fn program_step(via: &Node, program: &str, id: &str, args: &str) -> String {
    via.submit(
        &format!("rustyray run {program} --namespace shop -- {args}"),
        id,
        &[("driver", 1.0)],
    )
    .expect("submitting a step");
    let log = via.follow(id, None);
    assert_eq!(via.job(id).status, JobStatus::Succeeded, "{id}: {log}");
    log
}

/// The placement options of a guest SDK mean what Rust's do, for actors and tasks:
/// `resources` places the actor (the task) on the node that has them, node affinity on
/// the node named, a request no node meets fails its creation (its task, typed
/// `InvalidArgumentError`) naming it, and bad options are refused with their reason.
fn sdk_placement(dir: &str, program: &str, prefix: &str) {
    let Some(nats) = Nats::start(&common::fresh_dir(&format!("{prefix}-nats"))) else {
        return;
    };
    let [a, b, c] = three_nodes(
        &nats,
        prefix,
        // Two gpus: the detached actor placed first holds one for its lifetime, and
        // the gpu tasks run on the other.
        [&["--resources", "driver=4"], &["--resources", "gpu=2"], &[]],
    );
    deploy_program(&a, dir);
    let gpu = format!("{prefix}-gpu");
    let log = program_step(&a, program, "place", &format!("place {gpu} gpu"));
    assert!(log.contains("count=1"), "{log}");
    assert!(hosts(&b, &gpu), "{:?}", actors_on(&b));
    assert!(!hosts(&a, &gpu) && !hosts(&c, &gpu));

    let pinned = format!("{prefix}-pinned");
    let log = program_step(
        &a,
        program,
        "pinned",
        &format!("place-on {pinned} {}", a.node_id),
    );
    assert!(log.contains("count=1"), "{log}");
    assert!(hosts(&a, &pinned), "{:?}", actors_on(&a));

    let log = program_step(&a, program, "refuse", "refuse tpu");
    let refused: Vec<&str> = log
        .lines()
        .filter_map(|line| line.trim().strip_prefix("refused="))
        .collect();
    assert_eq!(refused.len(), 4, "{log}");
    assert!(!refused.contains(&"no"), "{log}");
    for reason in ["positive", "dict", "not supported", "soft"] {
        assert!(
            refused.iter().any(|line| line.contains(reason))
                || (reason == "dict" && refused.iter().any(|line| line.contains("object"))),
            "no refusal says {reason:?}: {log}"
        );
    }
    assert!(log.contains("error=") && log.contains("tpu=1"), "{log}");
    assert!(!log.contains("error=none"), "{log}");

    // Tasks: 6 asking for a gpu (only B has one), 6 pinned to C (two results each),
    // one asking for what no node has.
    let log = program_step(&a, program, "tasks", &format!("tasks gpu {} 6", c.node_id));
    let squares: u64 = (0..6u64).map(|i| i * i).sum();
    assert!(
        log.contains(&format!(
            "tasks resource={squares} node={squares} pair=15 missing=InvalidArgumentError: "
        )),
        "{log}"
    );
    let missing = log.split("missing=").nth(1).unwrap_or_default();
    assert!(
        missing.contains("no live node") && missing.contains("nosuch"),
        "{log}"
    );
    let refused: Vec<&str> = log
        .lines()
        .filter_map(|line| line.trim().strip_prefix("task-refused="))
        .collect();
    assert_eq!(refused.len(), 3, "{log}");
    assert!(!refused.contains(&"no"), "{log}");
    // Where they ran, from each node's own count: the gpu ones on B, the pinned on C.
    let ran = crate::cluster_objects::ran;
    assert_eq!(ran(&b, "square"), 6, "{log}");
    assert_eq!(ran(&c, "square_pair"), 6, "{log}");
    assert_eq!(ran(&a, "square") + ran(&a, "square_pair"), 0, "{log}");
    assert_eq!(ran(&b, "square_pair") + ran(&c, "square"), 0, "{log}");
    // A list of references to objects the driver put, read by a task on C, and by an
    // actor placed on C, which hands back a reference to its own object.
    assert!(log.contains("tasks refs=150"), "{log}");
    assert!(
        log.contains("tasks actor-refs=150 actor-returned=7"),
        "{log}"
    );
    assert_eq!(ran(&c, "sum_refs"), 1, "{log}");
}

#[test]
fn python_actors_and_tasks_are_placed_by_resources_and_node_affinity() {
    sdk_placement("tests/guests/py_placed", "py_placed", "cactors-py");
}

#[test]
fn javascript_actors_and_tasks_are_placed_by_resources_and_node_affinity() {
    sdk_placement("tests/guests/js_placed", "js_placed", "cactors-js");
}

#[test]
fn calls_over_the_message_limit_cross_nodes_and_a_snapshot_over_the_nodes_cap_is_refused_by_name() {
    let Some(nats) = Nats::start(&common::fresh_dir("cactors-big-nats")) else {
        return;
    };
    let root = common::fresh_dir("cactors-big");
    let stderr_path = root.join("b.stderr");
    let a = Node::start(&nats, &root.join("a"), &["--resources", "driver=4"]);
    let b = Node::start_with_stderr(
        &nats,
        &root.join("b"),
        &["--resources", "keep=1", "--max-snapshot-mib", "1"],
        std::fs::File::create(&stderr_path)
            .expect("the node's stderr file")
            .into(),
    );
    let c = Node::start(&nats, &root.join("c"), &["--resources", "gpu=1"]);
    wait_until("three live nodes", || {
        (a.nodes().iter().filter(|node| node.alive).count() == 3).then_some(())
    });
    deploy_detached(&a);

    // A keeper on B with 2 MiB of state: over B's --max-snapshot-mib 1, so its snapshot
    // is not kept; the actor goes on, and B's stderr says why, naming the limit's flag.
    let log = step(&a, "keep", "driver", "keep keeper gpu keep 2");
    assert!(log.contains("bump=1"), "{log}");
    assert!(log.contains("after=3"), "{log}");
    assert!(hosts(&b, "keeper"), "{:?}", actors_on(&b));
    let refusal = wait_until("the snapshot's refusal on B's stderr", || {
        let text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        text.lines()
            .find(|line| line.contains("its snapshot was not kept"))
            .map(str::to_string)
    });
    assert!(
        refusal.contains("snapshot size limit of 1 MiB"),
        "{refusal}"
    );
    assert!(refusal.contains("--max-snapshot-mib"), "{refusal}");

    // 3 MiB to the keeper on B and back, from a driver on A: over NATS's 1 MiB message
    // limit both ways (through the transfer store), whole both ways.
    let log = step(&a, "echo", "driver", "echo keeper 3");
    assert!(
        log.contains(&format!("echo len={} hash_ok=true back_ok=true", 3 << 20)),
        "{log}"
    );
    // The canary: a small call still works, and C is untouched.
    let log = step(&a, "bump-after", "driver", "bump keeper");
    assert!(log.contains("bump=4"), "{log}");
    assert!(c.nodes().iter().all(|node| node.alive));
}
