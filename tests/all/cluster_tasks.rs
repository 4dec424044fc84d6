//! A job's tasks spread over a cluster's nodes (`node/src/cluster_tasks.rs`): each test
//! starts its own nats-server on a free loopback port and three node processes (the
//! helpers of `cluster.rs`), runs `tests/guests/cluster_tasks` as jobs, and checks what
//! it printed against the tests' own computation. Where tasks ran is read from the
//! outside: each node's `/metrics` counts the cluster tasks it ran, by function.
//!
//! Without `nats-server` on PATH the tests say so and pass without running.

use std::collections::BTreeMap;
use std::time::Duration;

use rustyray::remote::tasks::{TaskRequest, TaskResponse};
use rustyray::remote::wire::{self, WireValue};
use rustyray_node::api::{JobStatus, ModuleInfo};

use crate::cluster::{Nats, Node, three_nodes, wait_until};
use crate::common;

/// The cluster tasks `node` ran that ended `ok`, by function, from its `/metrics`.
fn ran(node: &Node) -> BTreeMap<String, u64> {
    ended(node, "ok")
}

/// The cluster tasks `node` ran that ended with `outcome` (`ok`, or an error's kind), by
/// function, from its `/metrics`.
fn ended(node: &Node, outcome: &str) -> BTreeMap<String, u64> {
    let text = crate::node::ureq_text(&format!("{}/metrics", node.address));
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("rustyray_cluster_tasks_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        if !labels.contains(&format!("outcome=\"{outcome}\"")) {
            continue;
        }
        let function = labels
            .split(',')
            .find_map(|label| label.strip_prefix("function=\""))
            .map(|f| f.trim_end_matches('"').to_string())
            .unwrap_or_default();
        *counts.entry(function).or_default() += value.trim().parse::<u64>().unwrap_or(0);
    }
    counts
}

/// The value of `node`'s metric `name` whose label's value is `label` (0 if absent).
fn metric(node: &Node, name: &str, label: &str) -> u64 {
    let text = crate::node::ureq_text(&format!("{}/metrics", node.address));
    text.lines()
        .filter_map(|line| line.strip_prefix(name)?.strip_prefix('{'))
        .filter_map(|rest| rest.split_once("} "))
        .filter(|(labels, _)| labels.contains(&format!("=\"{label}\"")))
        .map(|(_, value)| value.trim().parse::<f64>().unwrap_or(0.0) as u64)
        .sum()
}

fn deploy(node: &Node) -> ModuleInfo {
    let bytes = std::fs::read(rustyray_tests::CLUSTER_TASKS).expect("reading cluster_tasks");
    node.client()
        .deploy(&bytes, "cluster_tasks")
        .expect("deploying cluster_tasks")
}

/// What `spread N MS` prints: the sum of i*i for i < n, and for i < 20 (nested).
fn spread_line(n: u64) -> String {
    let squares = |n: u64| (0..n).map(|i| i * i).sum::<u64>();
    format!("spread n={n} sum={} nested={}", squares(n), squares(20))
}

/// What `big MIB` prints for `seed`: the length and the FNV-1a of `make_big`'s bytes.
fn big_line(mib: usize, seed: usize) -> String {
    let len = mib << 20;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for k in 0..len {
        let byte = (k.wrapping_mul(31) + seed * 7 + k / 4096) as u8;
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("big seed={seed} len={len} fnv={hash:016x}")
}

#[test]
fn a_jobs_tasks_run_on_every_node_and_a_100_mib_object_made_on_one_is_read_on_another() {
    let Some(nats) = Nats::start(&common::fresh_dir("ctasks-spread-nats")) else {
        return;
    };
    let memory: &[&str] = &["--job-memory", "1024"];
    let [a, b, c] = three_nodes(&nats, "ctasks-spread", [memory, memory, memory]);
    deploy(&a);

    // 300 tasks of 5 ms and a task that submits 20: all three nodes run some.
    b.submit("rustyray run cluster_tasks -- spread 300 5", "spread", &[])
        .expect("submitting");
    let log = c.follow("spread", None);
    assert!(log.contains(&spread_line(300)), "{log}");
    assert_eq!(c.job("spread").status, JobStatus::Succeeded);
    let counts: Vec<BTreeMap<String, u64>> = [&a, &b, &c].iter().map(|n| ran(n)).collect();
    for (node, counts) in [&a, &b, &c].iter().zip(&counts) {
        assert!(
            counts.get("step").copied().unwrap_or(0) > 0,
            "node {} ran no step: {counts:?}",
            node.node_id
        );
    }
    let steps: u64 = counts
        .iter()
        .map(|c| c.get("step").copied().unwrap_or(0))
        .sum();
    let nested: u64 = counts
        .iter()
        .map(|c| c.get("nested").copied().unwrap_or(0))
        .sum();
    assert_eq!(steps, 320, "{counts:?}");
    assert_eq!(nested, 1, "{counts:?}");

    // Two 100 MiB objects made at once: placement puts them on two nodes, so at least
    // one is made on a node other than the driver's, which reads it (its checksum runs
    // where it is; then the driver gets it, fetched from there).
    // Placement goes by the loads nodes report: wait until every node says the spread
    // job's tasks are over there, or a stale load could send both to the driver's node.
    wait_until("every node reporting no placed task running", || {
        let nodes = a.nodes();
        (nodes.len() == 3 && nodes.iter().all(|node| node.running_tasks == Some(0))).then_some(())
    });
    a.submit("rustyray run cluster_tasks -- big 100", "big", &[])
        .expect("submitting");
    let log = b.follow("big", None);
    for seed in [1, 2] {
        assert!(log.contains(&big_line(100, seed)), "{log}");
        let read = big_line(100, seed).replace("big seed", "big read seed");
        assert!(log.contains(&read), "{log}");
    }
    let job = b.job("big");
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    let driver = job.driver_agent_http_address.expect("the driver's node");
    let made_elsewhere: u64 = [&a, &b, &c]
        .iter()
        .filter(|node| node.address != driver)
        .map(|node| ran(node).get("make_big").copied().unwrap_or(0))
        .sum();
    assert!(
        made_elsewhere >= 1,
        "both objects were made on the driver's node"
    );
}

#[test]
fn a_node_killed_in_the_middle_of_a_job_of_1000_tasks_still_gives_the_right_result() {
    let Some(nats) = Nats::start(&common::fresh_dir("ctasks-loss-nats")) else {
        return;
    };
    let [a, mut b, c] = three_nodes(
        &nats,
        "ctasks-loss",
        [
            &["--resources", "driver=1"],
            &[],
            &["--resources", "canary=1"],
        ],
    );
    deploy(&a);
    // The job's driver on A, a canary job's on C; both spread their tasks over A, B, C.
    a.submit(
        "rustyray run cluster_tasks -- spread 1000 300",
        "thousand",
        &[("driver", 1.0)],
    )
    .expect("submitting");
    c.submit(
        "rustyray run cluster_tasks -- spread 200 300",
        "canary",
        &[("canary", 1.0)],
    )
    .expect("submitting the canary");
    // B is killed once it has run tasks of theirs (more are on it then).
    wait_until("B running the jobs' tasks", || {
        (ran(&b).get("step").copied().unwrap_or(0) >= 10).then_some(())
    });
    // B's process is gone at once: NATS answers "no responders" to the probes of the
    // nodes that have tasks out there, sooner than its heartbeat expires; they re-run
    // its tasks and drop their batch queues to it.
    b.kill();
    wait_until("A and C to drop their batch queues to B", || {
        [&a, &c]
            .iter()
            .all(|node| metric(node, "rustyray_cluster_batch_queues", &b.node_id) == 0)
            .then_some(())
    });
    let no_responders: u64 = [&a, &c]
        .iter()
        .map(|node| metric(node, "rustyray_cluster_nodes_lost_total", "no_responders"))
        .sum();
    assert!(no_responders >= 1, "B was found lost only by its heartbeat");
    let log = a.follow("thousand", None);
    assert!(log.contains(&spread_line(1000)), "{log}");
    let job = a.job("thousand");
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    let log = c.follow("canary", None);
    assert!(log.contains(&spread_line(200)), "{log}");
    assert_eq!(c.job("canary").status, JobStatus::Succeeded);
    // The tasks B had were run again on A and C: together they ran the rest.
    let survivors: u64 = [&a, &c]
        .iter()
        .map(|node| ran(node).get("step").copied().unwrap_or(0))
        .sum();
    assert!(survivors > 0);
}

/// Sends raw bytes to `node`'s task subject and decodes the answer.
fn ask(nats_url: &str, node: &str, payload: Vec<u8>) -> Result<WireValue, rustyray::RayError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let cluster = rustyray_cluster::Cluster::connect(nats_url, "hostile test")
            .await
            .expect("connecting");
        let link = rustyray_cluster::tasks::TaskLink::open(&cluster)
            .await
            .expect("the task link");
        let answer = link
            .send_raw(node, payload.into(), Duration::from_secs(30))
            .await
            .expect("an answer");
        let response: TaskResponse = wire::read_frame(&mut &answer[..])
            .await
            .expect("a frame")
            .expect("a response");
        response.into()
    })
}

fn framed(request: &TaskRequest) -> Vec<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let mut bytes = vec![rustyray_cluster::tasks::INLINE];
    runtime
        .block_on(wire::write_frame(&mut bytes, request))
        .expect("framing");
    bytes
}

#[test]
fn hostile_task_requests_from_nats_get_typed_errors_and_the_node_lives_on() {
    let Some(nats) = Nats::start(&common::fresh_dir("ctasks-hostile-nats")) else {
        return;
    };
    let [a, b, c] = three_nodes(&nats, "ctasks-hostile", [&[], &[], &[]]);
    let module = deploy(&a);
    let url = nats.url();
    let kind = |result: Result<WireValue, rustyray::RayError>| match result {
        Ok(value) => panic!("a hostile request ran: {value:?}"),
        Err(err) => (err.kind().to_string(), err.to_string()),
    };
    // Garbage: an unknown envelope, a frame that is not a request, an empty message.
    let (k, m) = kind(ask(&url, &b.node_id, vec![0xff, 1, 2, 3]));
    assert_eq!(k, "Serialization", "{m}");
    let (k, m) = kind(ask(&url, &b.node_id, vec![0, 0, 0, 0, 3, 0xc1, 0xc1, 0xc1]));
    assert_eq!(k, "Serialization", "{m}");
    let (k, _) = kind(ask(&url, &b.node_id, Vec::new()));
    assert_eq!(k, "Serialization");
    // A stored envelope naming no transfer.
    let mut stored = vec![rustyray_cluster::tasks::STORED];
    stored.extend_from_slice(b"no-such-transfer");
    let (k, _) = kind(ask(&url, &b.node_id, stored));
    assert_eq!(k, "Serialization");
    // A module no node has, a name that is no hash, a function the module lacks.
    let request = |module: &str, function: &str| TaskRequest {
        module: module.into(),
        function: function.into(),
        args: vec![],
        timeout_ms: None,
        namespace: "default".into(),
        job: None,
        job_node: None,
        actors: vec![],
        object: None,
        modules: vec![],
        resources: Default::default(),
        node_id: None,
    };
    let missing = "0".repeat(64);
    let (k, m) = kind(ask(&url, &b.node_id, framed(&request(&missing, "step"))));
    assert_eq!(k, "InvalidModule", "{m}");
    assert!(m.contains(&missing), "{m}");
    let (k, m) = kind(ask(
        &url,
        &b.node_id,
        framed(&request("../etc/passwd", "step")),
    ));
    assert_eq!(k, "InvalidModule", "{m}");
    let (k, m) = kind(ask(
        &url,
        &c.node_id,
        framed(&request(&module.sha256, "no_such_function")),
    ));
    assert_eq!(k, "FunctionNotFound", "{m}");
    // Wrong arguments for a real function: its typed error, from the guest's module.
    let (k, m) = kind(ask(
        &url,
        &c.node_id,
        framed(&request(&module.sha256, "step")),
    ));
    assert_eq!(k, "BadArguments", "{m}");
    // A job that is not the cluster's, a namespace past the name limit, an actor no
    // node has: typed refusals, nothing runs.
    let (k, m) = kind(ask(
        &url,
        &c.node_id,
        framed(&TaskRequest {
            job: Some("raysubmit_nosuchjob".into()),
            ..request(&module.sha256, "step")
        }),
    ));
    assert_eq!(k, "InvalidOptions", "{m}");
    assert!(m.contains("raysubmit_nosuchjob"), "{m}");
    let (k, m) = kind(ask(
        &url,
        &c.node_id,
        framed(&TaskRequest {
            namespace: "n".repeat(100_000),
            ..request(&module.sha256, "step")
        }),
    ));
    assert_eq!(k, "InvalidOptions", "{m}");
    assert!(m.contains("namespace"), "{m}");
    let (k, m) = kind(ask(
        &url,
        &c.node_id,
        framed(&TaskRequest {
            actors: vec![rustyray::ActorId(rustyray::Id {
                node: 0,
                hi: 1,
                lo: 2,
            })],
            ..request(&module.sha256, "step")
        }),
    ));
    assert_eq!(k, "ReferencesCannotCross", "{m}");
    // Object references the bytes do not hold, or held in raw bytes: refused before
    // anything is counted or run.
    let address = rustyray::remote::borrow::RefAddress {
        held: rustyray::remote::Held {
            node: "node_nobody".into(),
            key: "k".into(),
            len: 1,
        },
        raw: false,
    };
    for raw in [false, true] {
        let (k, m) = kind(ask(
            &url,
            &c.node_id,
            framed(&TaskRequest {
                args: vec![WireValue {
                    raw,
                    data: vec![0x01u8].into(),
                    held: None,
                    refs: vec![address.clone()],
                }],
                ..request(&module.sha256, "step")
            }),
        ));
        assert_eq!(k, "Serialization", "{m}");
        assert!(
            m.contains("names 1 addresses") || m.contains("raw bytes cannot hold"),
            "{m}"
        );
    }
    // The job's other modules: one that is no hash, one no node has, too many.
    let (k, m) = kind(ask(
        &url,
        &c.node_id,
        framed(&TaskRequest {
            modules: vec!["../../etc/passwd".into()],
            ..request(&module.sha256, "step")
        }),
    ));
    assert_eq!(k, "InvalidModule", "{m}");
    let (k, m) = kind(ask(
        &url,
        &c.node_id,
        framed(&TaskRequest {
            modules: vec!["1".repeat(64)],
            ..request(&module.sha256, "step")
        }),
    ));
    assert_eq!(k, "InvalidModule", "{m}");
    assert!(m.contains(&"1".repeat(64)), "{m}");
    let (k, m) = kind(ask(
        &url,
        &c.node_id,
        framed(&TaskRequest {
            modules: vec![module.sha256.clone(); rustyray::remote::tasks::MAX_TASK_MODULES + 1],
            ..request(&module.sha256, "step")
        }),
    ));
    assert_eq!(k, "InvalidOptions", "{m}");
    assert!(m.contains("MAX_TASK_MODULES"), "{m}");

    // Batches that do not decode, name no sender, or carry unknown items and garbage
    // tasks (answered, with errors, to a sender that does not exist): dropped or
    // answered, and nothing runs.
    let publish = |from: Option<&str>, bytes: Vec<u8>| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(async {
            let cluster = rustyray_cluster::Cluster::connect(&url, "hostile batches")
                .await
                .expect("connecting");
            let link = rustyray_cluster::tasks::TaskLink::open(&cluster)
                .await
                .expect("the task link");
            link.publish_raw_batch(&b.node_id, from, bytes.into())
                .await
                .expect("publishing");
        });
    };
    publish(Some("node_nobody"), vec![0, 200, 1, 2, 3]);
    publish(None, vec![0, 1, b'k', 0, 0, 0, 1, 0]);
    publish(Some("not a node id!"), vec![0, 1, b'k', 0, 0, 0, 1, 0]);
    publish(
        Some("node_nobody"),
        vec![
            9, 1, b'k', 0, 0, 0, 0, // an unknown tag
            0, 1, b'k', 0, 0, 0, 2, 0xff, 0xff, // a task whose envelope is garbage
            0, 0, 0, 0, 0, 0, // a task with an empty key
        ],
    );

    // The canary: the nodes live on, and a job still spreads over all of them.
    a.submit("rustyray run cluster_tasks -- spread 60 0", "canary", &[])
        .expect("submitting");
    let log = b.follow("canary", None);
    assert!(log.contains(&spread_line(60)), "{log}");
    assert_eq!(b.job("canary").status, JobStatus::Succeeded);
    wait_until("three live nodes", || {
        (a.nodes().iter().filter(|n| n.alive).count() == 3).then_some(())
    });
}

#[test]
fn an_actor_created_from_node_a_is_called_from_tasks_on_node_c_by_handle_and_by_name() {
    let Some(nats) = Nats::start(&common::fresh_dir("ctasks-actors-nats")) else {
        return;
    };
    let [a, b, c] = three_nodes(
        &nats,
        "ctasks-actors",
        [&["--resources", "driver=1"], &[], &[]],
    );
    deploy(&a);
    // The driver on A places `hits` on B; tasks spread over A, B and C reach it by its
    // handle (an argument) and by its name (the job's namespace), and claim another
    // name with get_if_exists from wherever they run.
    a.submit(
        &format!(
            "rustyray run cluster_tasks --namespace shop -- actors {} 30",
            b.node_id
        ),
        "actors",
        &[("driver", 1.0)],
    )
    .expect("submitting");
    let log = a.follow("actors", None);
    assert!(log.contains("actors hits=60 made=30 plain=30"), "{log}");
    assert_eq!(a.job("actors").status, JobStatus::Succeeded, "{log}");
    // C is neither the driver's node nor the actor's: tasks there called it.
    let on_c = ran(&c);
    for function in ["bump", "bump_named", "ensure"] {
        assert!(
            on_c.get(function).copied().unwrap_or(0) > 0,
            "C ran no {function}: {on_c:?}"
        );
    }
    // The plain actor's tasks stayed on the driver's node (its handle names an actor of
    // the driver's runtime): the cluster ran only the 30 handle tasks of `hits`.
    let bumps: u64 = [&a, &b, &c]
        .iter()
        .map(|node| ran(node).get("bump").copied().unwrap_or(0))
        .sum();
    assert_eq!(bumps, 30);
    // The actor a task created for the job (on B, from whichever node) ended with it.
    wait_until(
        "the actor the job's tasks created to end with the job",
        || {
            let out = std::process::Command::new(crate::cluster::BIN)
                .args(["list", "actors", "--json", "--limit", "1000", "--address"])
                .arg(&c.address)
                .output()
                .expect("rustyray list actors");
            let actors: Vec<serde_json::Value> =
                serde_json::from_slice(&out.stdout).expect("the actors as JSON");
            (!actors
                .iter()
                .any(|actor| actor["name"] == "made-in-tasks" && actor["state"] == "ALIVE"))
            .then_some(())
        },
    );

    // The canary: `hits` is detached, so it outlives the job. A task of a job in the
    // same namespace finds it by name from any node; one of a job in another namespace
    // does not.
    a.submit(
        "rustyray run cluster_tasks --namespace shop -- lookup hits",
        "same-namespace",
        &[("driver", 1.0)],
    )
    .expect("submitting");
    let log = a.follow("same-namespace", None);
    assert!(log.contains("lookup found=61"), "{log}");
    a.submit(
        "rustyray run cluster_tasks --namespace elsewhere -- lookup hits",
        "elsewhere",
        &[("driver", 1.0)],
    )
    .expect("submitting");
    let log = a.follow("elsewhere", None);
    assert!(log.contains("lookup missing"), "{log}");
}

#[test]
fn cancelling_tasks_running_on_other_nodes_stops_them_there_with_their_children() {
    let Some(nats) = Nats::start(&common::fresh_dir("ctasks-cancel-nats")) else {
        return;
    };
    let [a, b, c] = three_nodes(
        &nats,
        "ctasks-cancel",
        [&["--resources", "driver=1"], &[], &[]],
    );
    deploy(&a);
    // Three parents, each with a child, spread over the nodes; all six sleep until
    // cancelled. The driver cancels the parents (recursively, as `cancel` does).
    a.submit(
        &format!("rustyray run cluster_tasks -- cancel {} 3", a.node_id),
        "cancel",
        &[("driver", 1.0)],
    )
    .expect("submitting");
    let log = a.follow("cancel", None);
    assert!(log.contains("cancel parents=3 cancelled=3"), "{log}");
    assert!(
        log.contains("dependent=") && log.to_lowercase().contains("cancel"),
        "{log}"
    );
    assert!(!log.contains("dependent=ran"), "{log}");
    assert_eq!(a.job("cancel").status, JobStatus::Succeeded, "{log}");
    // Where they ran, all six ended Cancelled (parents and children), some of them on
    // a node other than the driver's.
    let cancelled = |node: &Node| {
        ended(node, "Cancelled")
            .get("spin_tree")
            .copied()
            .unwrap_or(0)
    };
    wait_until("the six tasks to end Cancelled where they ran", || {
        let total: u64 = [&a, &b, &c].iter().map(|node| cancelled(node)).sum();
        (total == 6).then_some(())
    });
    assert!(cancelled(&b) + cancelled(&c) > 0);
    // The canary: the nodes still run a job's tasks.
    a.submit("rustyray run cluster_tasks -- spread 30 0", "after", &[])
        .expect("submitting");
    let log = b.follow("after", None);
    assert!(log.contains(&spread_line(30)), "{log}");
}

#[test]
fn a_task_on_any_node_submits_another_modules_function_and_its_limit_errors_keep_their_kind() {
    let Some(nats) = Nats::start(&common::fresh_dir("ctasks-modules-nats")) else {
        return;
    };
    let memory: &[&str] = &["--job-memory", "64"];
    let [a, b, c] = three_nodes(&nats, "ctasks-modules", [memory, memory, memory]);
    // Two modules: the job's program, and examples/tasks, whose `add` the program's
    // tasks submit by name (`rustyray::function("add")`) wherever they run.
    deploy(&c);
    let tasks = std::fs::read(rustyray_tests::TASKS).expect("reading examples/tasks");
    c.client()
        .deploy(&tasks, "tasks")
        .expect("deploying examples/tasks");
    c.submit("rustyray run cluster_tasks -- other 90", "other", &[])
        .expect("submitting");
    let log = c.follow("other", None);
    let sum: u64 = (0..90).map(|i| i + 1000).sum();
    assert!(log.contains(&format!("other n=90 sum={sum}")), "{log}");
    assert_eq!(c.job("other").status, JobStatus::Succeeded, "{log}");
    // Tasks ran on the other nodes, and each found `add` there.
    for node in [&a, &b] {
        let counts = ran(node);
        assert!(
            counts.get("call_other").copied().unwrap_or(0) > 0,
            "node {} ran no call_other: {counts:?}",
            node.node_id
        );
        let failed = ended(node, "FunctionNotFound");
        assert!(failed.is_empty(), "{failed:?}");
    }

    // A task over the nodes' 64 MiB --job-memory: wherever it ran, its driver sees
    // LimitExceeded (memory), not an error of another kind.
    c.submit("rustyray run cluster_tasks -- hog 30 128", "hog", &[])
        .expect("submitting");
    let log = c.follow("hog", None);
    assert!(log.contains("hog n=30 LimitExceeded:memory=30"), "{log}");
    let elsewhere: u64 = [&a, &b]
        .iter()
        .map(|node| {
            ended(node, "LimitExceeded")
                .get("hog")
                .copied()
                .unwrap_or(0)
        })
        .sum();
    assert!(elsewhere > 0, "no hog ran on another node");
}

#[test]
fn tasks_asking_for_a_resource_or_a_node_run_only_there_and_unmet_ones_fail_typed() {
    // Outside a cluster a placed task is refused at once, typed, naming the cause.
    let out = std::process::Command::new(crate::cluster::BIN)
        .args([
            "run",
            rustyray_tests::CLUSTER_TASKS,
            "--",
            "placed",
            "gpu",
            "x",
            "2",
        ])
        .output()
        .expect("rustyray run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("InvalidArgument") || stderr.contains("invalid argument"),
        "{stderr}"
    );
    assert!(
        stderr.contains("not a job on a node of a cluster"),
        "{stderr}"
    );

    let Some(nats) = Nats::start(&common::fresh_dir("ctasks-placed-nats")) else {
        return;
    };
    let [a, b, c] = three_nodes(
        &nats,
        "ctasks-placed",
        [&[], &["--resources", "gpu=2"], &[]],
    );
    deploy(&a);
    // Driver on A: 10 tasks needing a gpu (only B has one), 10 with affinity to C, three
    // that no node can meet, and a plain canary.
    a.submit(
        &format!("rustyray run cluster_tasks -- placed gpu {} 10", c.node_id),
        "placed",
        &[],
    )
    .expect("submitting");
    let log = a.follow("placed", None);
    let squares: u64 = (0..10u64).map(|i| i * i).sum();
    assert!(
        log.contains(&format!("placed resource={squares} node={squares} ")),
        "{log}"
    );
    assert!(log.contains("canary=49"), "{log}");
    let failure = |label: &str| {
        log.split(&format!("{label}="))
            .nth(1)
            .and_then(|rest| rest.split(" gone=").next())
            .and_then(|rest| rest.split(" too_much=").next())
            .and_then(|rest| rest.split(" canary=").next())
            .unwrap_or_default()
            .to_string()
    };
    let missing = failure("missing");
    assert!(missing.starts_with("InvalidArgument("), "{log}");
    assert!(
        missing.contains("no live node") && missing.contains("nosuch"),
        "{log}"
    );
    let gone = failure("gone");
    assert!(gone.starts_with("InvalidArgument("), "{log}");
    assert!(
        gone.contains("node affinity") && gone.contains("no-such-node"),
        "{log}"
    );
    let too_much = failure("too_much");
    assert!(too_much.starts_with("InvalidArgument("), "{log}");
    assert!(
        too_much.contains("no live node") && too_much.contains("gpu"),
        "{log}"
    );
    assert_eq!(a.job("placed").status, JobStatus::Succeeded, "{log}");
    // Where they ran: the gpu tasks on B, the pinned ones on C; only the canary may
    // have run anywhere else.
    let steps = |node: &Node| ran(node).get("step").copied().unwrap_or(0);
    let (on_a, on_b, on_c) = (steps(&a), steps(&b), steps(&c));
    assert_eq!(on_a + on_b + on_c, 21, "a={on_a} b={on_b} c={on_c}");
    assert!(
        on_b >= 10 && on_c >= 10 && on_a <= 1,
        "a={on_a} b={on_b} c={on_c}"
    );
}

#[test]
fn tasks_and_actor_calls_in_flight_while_nats_restarts_complete_with_nothing_lost() {
    let Some(mut nats) = Nats::start(&common::fresh_dir("ctasks-natsdown-nats")) else {
        return;
    };
    let [a, b, c] = three_nodes(
        &nats,
        "ctasks-natsdown",
        [&["--resources", "driver=1"], &[], &[]],
    );
    deploy(&a);
    // Both drivers on A: 600 tasks of 150 ms spread over A, B and C (and a task that
    // submits 20), and tasks that call a detached actor placed on B from every node.
    a.submit(
        "rustyray run cluster_tasks -- spread 600 150",
        "spread",
        &[("driver", 1.0)],
    )
    .expect("submitting");
    a.submit(
        &format!(
            "rustyray run cluster_tasks --namespace shop -- actors {} 150",
            b.node_id
        ),
        "actors",
        &[("driver", 1.0)],
    )
    .expect("submitting");
    // NATS is killed (SIGKILL) and started again on its port and store once tasks of
    // both jobs have run on other nodes, while many more are out there.
    wait_until("both jobs' tasks running on B and C", || {
        let (on_b, on_c) = (ran(&b), ran(&c));
        let count = |counts: &BTreeMap<String, u64>, f: &str| counts.get(f).copied().unwrap_or(0);
        (count(&on_b, "step") + count(&on_c, "step") >= 20
            && count(&on_b, "bump")
                + count(&on_c, "bump")
                + count(&on_b, "bump_named")
                + count(&on_c, "bump_named")
                >= 5)
            .then_some(())
    });
    let spread_before = a.job("spread").status;
    let actors_before = a.job("actors").status;
    nats.restart();
    let restarted = rustyray_node::api::now_ms();
    // Both jobs end right: every task answered once, every call counted once.
    let log = a.follow("spread", None);
    assert!(log.contains(&spread_line(600)), "{log}");
    assert_eq!(a.job("spread").status, JobStatus::Succeeded, "{log}");
    let log = a.follow("actors", None);
    assert!(log.contains("actors hits=300 made=150 plain=150"), "{log}");
    assert_eq!(a.job("actors").status, JobStatus::Succeeded, "{log}");
    // The restart came while they ran (neither had ended).
    assert_eq!(spread_before, JobStatus::Running);
    assert_eq!(actors_before, JobStatus::Running);
    // No task ran twice: the nodes ran the 620 steps, no more.
    let steps: u64 = [&a, &b, &c]
        .iter()
        .map(|node| ran(node).get("step").copied().unwrap_or(0))
        .sum();
    assert_eq!(steps, 620);
    // Every node heartbeats again and is listed alive, by every node.
    for node in [&a, &b, &c] {
        wait_until("three fresh heartbeats", || {
            let nodes = node.nodes();
            (nodes
                .iter()
                .filter(|node| node.alive && node.last_heartbeat_ms > restarted)
                .count()
                == 3)
                .then_some(())
        });
    }
    // The canary: a job after it spreads over the nodes, and the actor directory still
    // finds `hits` by name.
    b.submit(
        "rustyray run cluster_tasks --namespace shop -- lookup hits",
        "canary-lookup",
        &[],
    )
    .expect("submitting");
    let log = b.follow("canary-lookup", None);
    assert!(log.contains("lookup found=301"), "{log}");
    c.submit("rustyray run cluster_tasks -- spread 60 0", "canary", &[])
        .expect("submitting the canary");
    let log = c.follow("canary", None);
    assert!(log.contains(&spread_line(60)), "{log}");
    assert_eq!(c.job("canary").status, JobStatus::Succeeded);
}

/// What node `id` has free of `resource` and how many wait there for resources, as the
/// cluster lists it through `via` (its last heartbeat).
fn held_on(via: &Node, id: &str, resource: &str) -> (f64, usize) {
    via.nodes()
        .into_iter()
        .find(|node| node.node_id == id)
        .map(|node| {
            (
                node.available.get(resource).copied().unwrap_or(f64::NAN),
                node.waiting_for_resources.unwrap_or(0),
            )
        })
        .unwrap_or((f64::NAN, 0))
}

/// Ray's resource accounting: a task holds what it asks for while it runs. Four tasks
/// asking for the cluster's only gpu (B's) all run on B, one at a time — a gauge actor
/// they count themselves in and out on never sees two at once — and all succeed, while
/// plain tasks (the canary) run on every node meanwhile.
#[test]
fn tasks_asking_for_the_only_gpu_run_there_one_at_a_time_while_plain_tasks_spread() {
    let Some(nats) = Nats::start(&common::fresh_dir("ctasks-gpus-nats")) else {
        return;
    };
    let [a, b, c] = three_nodes(&nats, "ctasks-gpus", [&[], &["--resources", "gpu=1"], &[]]);
    deploy(&a);
    a.submit(
        &format!("rustyray run cluster_tasks -- gpus 4 300 {}", a.node_id),
        "gpus",
        &[],
    )
    .expect("submitting");
    let log = a.follow("gpus", None);
    let squares: u64 = (0..30u64).map(|i| i * i).sum();
    assert!(
        log.contains(&format!("gpus n=4 sum=6 most=1 entered=4 canary={squares}")),
        "{log}"
    );
    assert_eq!(a.job("gpus").status, JobStatus::Succeeded, "{log}");
    let count = |node: &Node, function: &str| ran(node).get(function).copied().unwrap_or(0);
    assert_eq!(
        (
            count(&a, "gauged"),
            count(&b, "gauged"),
            count(&c, "gauged")
        ),
        (0, 4, 0)
    );
    let steps = [count(&a, "step"), count(&b, "step"), count(&c, "step")];
    assert_eq!(steps.iter().sum::<u64>(), 30, "{steps:?}");
    assert!(
        steps.iter().all(|n| *n > 0),
        "plain tasks on every node: {steps:?}"
    );
    // Nothing is left held or waiting once they ended.
    wait_until("B's gpu free again", || {
        (held_on(&a, &b.node_id, "gpu") == (1.0, 0)).then_some(())
    });
}

/// What is held shows, and a gpu held by a task or by an actor (for its lifetime)
/// keeps the next gpu task waiting on B — queued there, not run — until it ends, while
/// plain tasks run at once.
#[test]
fn a_gpu_held_by_a_running_task_or_a_live_actor_keeps_the_next_gpu_task_waiting() {
    let Some(nats) = Nats::start(&common::fresh_dir("ctasks-holds-nats")) else {
        return;
    };
    let [a, b, _c] = three_nodes(&nats, "ctasks-holds", [&[], &["--resources", "gpu=1"], &[]]);
    deploy(&a);
    assert_eq!(held_on(&a, &b.node_id, "gpu"), (1.0, 0));
    // A task holds B's gpu until its gate (a detached actor on A) opens.
    a.submit(
        &format!(
            "rustyray run cluster_tasks --namespace shop -- gated {}",
            a.node_id
        ),
        "gated",
        &[],
    )
    .expect("submitting");
    wait_until("B's gpu held by the gated task", || {
        (held_on(&a, &b.node_id, "gpu") == (0.0, 0)).then_some(())
    });
    // Held from before it starts: its gate is made once it runs.
    wait_until("the gated task's gate on A", || {
        crate::cluster_actors::hosts(&a, "gate").then_some(())
    });
    // The next gpu task waits on B; a plain task of the same job ran meanwhile.
    a.submit("rustyray run cluster_tasks -- after", "after", &[])
        .expect("submitting");
    wait_until("the next gpu task waiting on B", || {
        (held_on(&a, &b.node_id, "gpu") == (0.0, 1)).then_some(())
    });
    let log = a.follow("after", Some("after canary=49"));
    assert!(!log.contains("after ran"), "{log}");
    assert_eq!(a.job("after").status, JobStatus::Running, "{log}");
    let step = |node: &Node| ran(node).get("step").copied().unwrap_or(0);
    let (b_steps, b_gated) = (step(&b), ran(&b).get("gated").copied().unwrap_or(0));
    assert_eq!(b_gated, 0, "the gated task still runs");
    // Open the gate: the gated task ends, the waiting one runs, then B's gpu is free.
    let open = |id: &str| {
        a.submit(
            "rustyray run cluster_tasks --namespace shop -- open gate",
            id,
            &[],
        )
        .expect("submitting");
        a.follow(id, None)
    };
    let log = open("open");
    assert!(log.contains("open count=1"), "{log}");
    let log = a.follow("gated", None);
    assert!(log.contains("gated ran=49"), "{log}");
    let log = a.follow("after", None);
    assert!(log.contains("after ran=49"), "{log}");
    assert_eq!(a.job("after").status, JobStatus::Succeeded, "{log}");
    assert_eq!(step(&b), b_steps + 1, "the gpu task ran on B");
    wait_until("B's gpu free after both", || {
        (held_on(&a, &b.node_id, "gpu") == (1.0, 0)).then_some(())
    });

    // An actor asking for the gpu holds it for its lifetime.
    a.submit(
        "rustyray run cluster_tasks --namespace shop -- holder",
        "holder",
        &[],
    )
    .expect("submitting");
    let log = a.follow("holder", None);
    assert!(log.contains("holder up"), "{log}");
    wait_until("B's gpu held by the actor", || {
        (held_on(&a, &b.node_id, "gpu") == (0.0, 0)).then_some(())
    });
    a.submit("rustyray run cluster_tasks -- after", "after-actor", &[])
        .expect("submitting");
    wait_until("a gpu task waiting on B behind the actor", || {
        (held_on(&a, &b.node_id, "gpu") == (0.0, 1)).then_some(())
    });
    let log = a.follow("after-actor", Some("after canary=49"));
    assert!(!log.contains("after ran"), "{log}");
    let b_steps = step(&b);
    a.submit(
        "rustyray run cluster_tasks --namespace shop -- kill holder",
        "kill",
        &[],
    )
    .expect("submitting");
    let log = a.follow("kill", None);
    assert!(log.contains("killed"), "{log}");
    let log = a.follow("after-actor", None);
    assert!(log.contains("after ran=49"), "{log}");
    assert_eq!(a.job("after-actor").status, JobStatus::Succeeded, "{log}");
    assert_eq!(step(&b), b_steps + 1, "the gpu task ran on B");
    wait_until("B's gpu free after the actor and the task", || {
        (held_on(&a, &b.node_id, "gpu") == (1.0, 0)).then_some(())
    });
}
