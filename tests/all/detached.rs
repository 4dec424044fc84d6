//! Detached actors on a node (`tests/guests/detached`): a named detached actor outlives
//! its job and later jobs of its namespace find it with its state; a named actor that is
//! not detached ends with its job; a node killed with SIGKILL and started again on its
//! data dir brings a snapshot actor back from its last snapshot; and a job cannot reach
//! another namespace's actors, send references across, or create an unknown class.

use rustyray_node::api::JobStatus;

use crate::common;
use crate::node::TestNode;

/// Runs one step of the `detached` program as a job in `namespace` (`None`: the job's
/// own anonymous one), waits for it to end, and returns what it printed.
fn step(node: &TestNode, namespace: Option<&str>, args: &str) -> String {
    let namespace = namespace
        .map(|ns| format!("--namespace {ns} "))
        .unwrap_or_default();
    let id = node
        .submit(&format!("rustyray run detached {namespace}-- {args}"), None)
        .expect("submitting a job");
    let job = node.wait(&id);
    let logs = node.logs(&id);
    assert_eq!(job.status, JobStatus::Succeeded, "{args}: {job:?}\n{logs}");
    logs
}

#[test]
fn a_detached_actor_outlives_its_job_and_a_kill_of_the_node() {
    let data = common::fresh_dir("detached");
    let mut node = TestNode::start(&data, &[]);
    node.deploy(rustyray_tests::DETACHED);

    // Job 1 creates it and ends; job 2, of the same namespace, finds it by name.
    assert!(step(&node, Some("shop"), "create tally 3").contains("count=3"));
    // The state API lists it, detached, after its job has ended.
    let listed = node.cli(&["list", "actors", "--json"]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.contains("\"Tally\"") && listed.contains("\"is_detached\": true"),
        "{listed}"
    );
    assert!(step(&node, Some("shop"), "incr tally").contains("count=4"));
    // `get_if_exists` from another job hands back the same actor.
    assert!(step(&node, Some("shop"), "create tally 0").contains("count=4"));

    // A named actor that is not detached ends with its job.
    assert!(step(&node, Some("shop"), "local scratch").contains("count=1"));
    assert!(step(&node, Some("shop"), "find-local scratch").contains("missing"));

    // A job without a namespace has an anonymous one of its own.
    assert!(step(&node, None, "get tally").contains("missing"));

    // A detached actor killed by a job is gone, and no longer kept.
    assert!(step(&node, Some("shop"), "create spare 1").contains("count=1"));
    assert!(step(&node, Some("shop"), "kill spare").contains("killed"));
    assert!(step(&node, Some("shop"), "get spare").contains("missing"));

    // kill -9: nothing graceful happens; the last snapshot is on disk.
    node.child.kill().expect("killing the node");
    node.child.wait().expect("reaping the node");
    drop(node);
    let node = TestNode::start(&data, &[]);
    assert!(step(&node, Some("shop"), "get tally").contains("count=4"));
    assert!(step(&node, Some("shop"), "incr tally").contains("count=5"));
    assert!(step(&node, Some("shop"), "get spare").contains("missing"));
}

#[test]
fn hostile_jobs_cannot_reach_other_namespaces_or_send_references() {
    let data = common::fresh_dir("detached-hostile");
    let node = TestNode::start(&data, &[]);
    node.deploy(rustyray_tests::DETACHED);
    assert!(step(&node, Some("alpha"), "create vault 2").contains("count=2"));

    // Another namespace does not see it; the canary, in its own namespace, does.
    assert!(step(&node, Some("beta"), "get vault").contains("missing"));
    assert!(step(&node, None, "get vault").contains("missing"));
    assert!(step(&node, Some("alpha"), "get vault").contains("count=2"));

    // A reference nested in an argument is refused with its own error, before the
    // actor runs; the actor is unharmed.
    let nested = step(&node, Some("alpha"), "nested vault");
    assert!(
        nested.contains("cannot cross to the other runtime")
            && nested.contains("not on a cluster node"),
        "{nested}"
    );
    assert!(nested.contains("count=2"), "{nested}");

    // An unknown class is a typed error, and creates nothing.
    let bad = step(&node, Some("alpha"), "bad-class");
    assert!(
        bad.contains("error=") && bad.contains("NoSuchClass"),
        "{bad}"
    );

    // The node's socket, written to by a local process: a frame past the limit, or one
    // that does not decode, ends that connection and nothing else.
    let socket = data.join("actors").join("node.sock");
    if socket.exists() {
        use std::io::{Read, Write};
        for frame in [
            &u32::MAX.to_be_bytes()[..],
            &[0, 0, 0, 3, 0xc1, 0xc1, 0xc1][..],
        ] {
            let mut stream = std::os::unix::net::UnixStream::connect(&socket).expect("connecting");
            stream.write_all(frame).expect("writing");
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).expect("reading to the end");
            assert!(answer.is_empty(), "{answer:?}");
        }
    }

    // A job cannot claim the node's anonymous namespaces.
    let refused = node
        .submit(
            "rustyray run detached --namespace anonymous-x -- get vault",
            None,
        )
        .expect_err("an anonymous namespace claimed");
    assert!(refused.to_string().contains("anonymous-"), "{refused}");
    assert!(step(&node, Some("alpha"), "get vault").contains("count=2"));
}

#[test]
fn two_modules_with_one_class_name_each_create_their_own() {
    // The detached fixture's `Tally::new(start)` and the actors example's `Tally::new()`:
    // the example deployed last, as it would be loaded first. A job's detached `Tally`
    // is made from the class of the job's own module, told to the node with the request.
    let data = common::fresh_dir("detached-two-tallies");
    let mut node = TestNode::start(&data, &[]);
    node.deploy(rustyray_tests::DETACHED);
    node.deploy(rustyray_tests::ACTORS);
    assert!(step(&node, Some("shop"), "create tally 3").contains("count=3"));
    assert!(step(&node, Some("shop"), "incr tally").contains("count=4"));
    // The canary: the actors example, whose own `Tally` (and every other class) is
    // its own in its job, beside the fixture's.
    let id = node
        .submit("rustyray run actors", None)
        .expect("submitting the actors example");
    let job = node.wait(&id);
    let logs = node.logs(&id);
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}\n{logs}");

    // After kill -9 the kept actor comes back from its own module's class.
    node.child.kill().expect("killing the node");
    node.child.wait().expect("reaping the node");
    drop(node);
    let node = TestNode::start(&data, &[]);
    assert!(step(&node, Some("shop"), "get tally").contains("count=4"));
    assert!(step(&node, Some("shop"), "incr tally").contains("count=5"));
}

/// A node alone holds what its detached actors ask for, for their lifetime: with
/// `--resources gpu=1`, a second actor asking for the gpu waits until the first is
/// killed, `list nodes` shows the gpu held and the creation waiting; a node without a
/// gpu refuses such an actor at once, naming what it has.
#[test]
fn a_node_alone_holds_a_detached_actors_resources_until_it_is_killed() {
    let data = common::fresh_dir("detached-held");
    let node = TestNode::start(&data, &["--resources", "gpu=1"]);
    node.deploy(rustyray_tests::CLUSTER_TASKS);
    let gpu = |node: &TestNode| -> (f64, usize) {
        let nodes: Vec<rustyray_node::api::NodeEntry> =
            node.client().get("/api/v0/nodes").expect("the nodes");
        let me = &nodes[0];
        (
            me.available.get("gpu").copied().unwrap_or(f64::NAN),
            me.waiting_for_resources.unwrap_or(0),
        )
    };
    let run = |args: &str| {
        node.submit(
            &format!("rustyray run cluster_tasks --namespace shop -- {args}"),
            None,
        )
        .expect("submitting a job")
    };
    assert_eq!(gpu(&node), (1.0, 0));
    let first = run("holder first");
    assert_eq!(node.wait(&first).status, JobStatus::Succeeded);
    assert!(
        node.logs(&first).contains("holder up"),
        "{}",
        node.logs(&first)
    );
    assert_eq!(gpu(&node), (0.0, 0));
    // The second waits for the gpu (its job with it) while the first lives.
    let second = run("holder second");
    crate::cluster::wait_until("the second actor waiting for the gpu", || {
        (gpu(&node) == (0.0, 1)).then_some(())
    });
    assert_eq!(node.job(&second).status, JobStatus::Running);
    let kill = run("kill first");
    assert_eq!(node.wait(&kill).status, JobStatus::Succeeded);
    assert!(node.logs(&kill).contains("killed"), "{}", node.logs(&kill));
    assert_eq!(node.wait(&second).status, JobStatus::Succeeded);
    assert!(
        node.logs(&second).contains("holder up"),
        "{}",
        node.logs(&second)
    );
    assert_eq!(gpu(&node), (0.0, 0));
    let kill = run("kill second");
    assert_eq!(node.wait(&kill).status, JobStatus::Succeeded);
    crate::cluster::wait_until("the gpu free again", || {
        (gpu(&node) == (1.0, 0)).then_some(())
    });
    drop(node);

    // A node without one refuses it at once, naming what it has; the canary, a job of
    // plain tasks, runs.
    let data = common::fresh_dir("detached-held-none");
    let node = TestNode::start(&data, &[]);
    node.deploy(rustyray_tests::CLUSTER_TASKS);
    let refused = node
        .submit("rustyray run cluster_tasks -- holder nowhere", None)
        .expect("submitting a job");
    assert_eq!(node.wait(&refused).status, JobStatus::Succeeded);
    let log = node.logs(&refused);
    assert!(
        log.contains("holder error=") && log.contains("gpu=1") && log.contains("could never run"),
        "{log}"
    );
    let canary = node
        .submit("rustyray run cluster_tasks -- spread 10 0", None)
        .expect("submitting a job");
    assert_eq!(node.wait(&canary).status, JobStatus::Succeeded);
    assert!(
        node.logs(&canary)
            .contains("spread n=10 sum=285 nested=2470"),
        "{}",
        node.logs(&canary)
    );
}
