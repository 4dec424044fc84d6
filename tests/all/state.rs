//! The state API (`rustyray list tasks|actors|objects`, `rustyray summary tasks|actors`,
//! `GET /api/v0/...`, `/metrics`): a job's tasks, actors and objects as its driver
//! publishes them, with its job id; and filters that name a key the resource lacks.
//!
//! Drivers rewrite their state file every 100 ms or so, so the running job's checks
//! poll the API until what they wait for shows up (bounded by a ceiling).

use std::time::{Duration, Instant};

use rustyray::state::{ActorInfo, ActorState, ObjectInfo, TaskInfo, TaskState};
use rustyray_node::api::JobStatus;
use rustyray_node::state::{Envelope, ListResult};

use crate::common;
use crate::node::{TestNode, text, ureq_text};

/// Lists `path` until `condition` holds of its items; panics after 60 s with the last
/// answer.
fn until<T: serde::de::DeserializeOwned + std::fmt::Debug>(
    node: &TestNode,
    path: &str,
    condition: impl Fn(&[T]) -> bool,
) -> Vec<T> {
    let start = Instant::now();
    loop {
        let answer: Envelope<ListResult> = node.client().get(path).expect(path);
        let items: Vec<T> = answer
            .data
            .result
            .result
            .into_iter()
            .map(|item| serde_json::from_value(item).expect("an item of the state API"))
            .collect();
        if condition(&items) {
            return items;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{path} never showed what was waited for: {items:#?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `rustyray list|summary ... --json` and parses its output.
fn cli_json<T: serde::de::DeserializeOwned>(node: &TestNode, args: &[&str]) -> T {
    let mut args = args.to_vec();
    args.push("--json");
    let out = node.cli(&args);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|err| panic!("{args:?} printed no JSON ({err}): {}", text(&out.stdout)))
}

#[test]
fn a_jobs_tasks_actors_and_objects_are_listed_and_summarized() {
    let node = TestNode::start(&common::fresh_dir("node-state"), &[]);
    node.deploy(rustyray_tests::FIXTURES);

    // A job that ends: its driver's last write has every task and actor in its final state.
    let done = node
        .submit("rustyray run fixtures -- state", Some("state-done"))
        .expect("submitting");
    assert_eq!(
        node.wait(&done).status,
        JobStatus::Succeeded,
        "{}",
        node.logs(&done)
    );
    let finished: Vec<TaskInfo> = cli_json(
        &node,
        &[
            "list",
            "tasks",
            "--filter",
            "state=FINISHED",
            "--filter",
            "job_id=state-done",
        ],
    );
    let adds: Vec<&TaskInfo> = finished.iter().filter(|t| t.name == "add").collect();
    assert_eq!(adds.len(), 3, "{finished:#?}");
    for task in &finished {
        assert_eq!(task.state, TaskState::Finished);
        assert_eq!(task.job_id.as_deref(), Some("state-done"));
        assert!(
            task.start_time_ms.is_some() && task.end_time_ms.is_some(),
            "{task:?}"
        );
    }
    // The actor's method calls are tasks too (Ray's ACTOR_TASK), named Class.method.
    let calls: Vec<TaskInfo> = cli_json(
        &node,
        &[
            "list",
            "tasks",
            "--filter",
            "type=ACTOR_TASK",
            "--filter",
            "job_id=state-done",
        ],
    );
    assert_eq!(calls.len(), 2, "{calls:#?}");
    for call in &calls {
        assert_eq!(call.name, "StateProbe.add", "{call:?}");
        assert_eq!(call.func_or_class_name, "StateProbe.add");
        assert_eq!(call.state, TaskState::Finished, "{call:?}");
        assert!(
            call.start_time_ms.is_some() && call.end_time_ms.is_some(),
            "{call:?}"
        );
    }
    assert!(
        finished
            .iter()
            .all(|t| t.kind == "NORMAL_TASK" || t.name == "StateProbe.add"),
        "{finished:#?}"
    );
    // The failed task keeps its error's type and message.
    let failed: Vec<TaskInfo> = cli_json(&node, &["list", "tasks", "--filter", "state=FAILED"]);
    let fail = failed
        .iter()
        .find(|t| t.name == "fail")
        .unwrap_or_else(|| panic!("the failed task is listed: {failed:#?}"));
    assert_eq!(fail.error_type.as_deref(), Some("TASK_EXECUTION_EXCEPTION"));
    assert!(
        fail.error_message
            .as_deref()
            .is_some_and(|m| m.contains("state-probe-failure")),
        "{fail:?}"
    );
    // The actor died with its job's end.
    let actors: Vec<ActorInfo> =
        cli_json(&node, &["list", "actors", "--filter", "job_id=state-done"]);
    assert_eq!(actors.len(), 1, "{actors:#?}");
    assert_eq!(actors[0].class_name, "StateProbe");
    assert_eq!(actors[0].name, "probe");
    assert_eq!(actors[0].state, ActorState::Dead, "{actors:#?}");
    assert!(actors[0].death_cause.is_some(), "{actors:#?}");
    // Summaries count per function and per class; the table says the same.
    let summary: serde_json::Value = cli_json(&node, &["summary", "tasks"]);
    let lines = &summary["node_id_to_summary"]["cluster"]["summary"];
    assert_eq!(lines["add"]["state_counts"]["FINISHED"], 3, "{summary:#}");
    assert_eq!(lines["fail"]["state_counts"]["FAILED"], 1, "{summary:#}");
    assert_eq!(lines["add"]["type"], "NORMAL_TASK", "{summary:#}");
    assert_eq!(lines["StateProbe.add"]["type"], "ACTOR_TASK", "{summary:#}");
    assert_eq!(
        lines["StateProbe.add"]["state_counts"]["FINISHED"], 2,
        "{summary:#}"
    );
    let table = node.cli(&["summary", "tasks"]);
    let table = text(&table.stdout);
    assert!(table.contains("FINISHED: 3"), "{table}");
    assert!(
        table
            .lines()
            .any(|line| line.starts_with("StateProbe.add") && line.contains("ACTOR_TASK")),
        "{table}"
    );
    let actors: serde_json::Value = cli_json(&node, &["summary", "actors"]);
    assert_eq!(
        actors["node_id_to_summary"]["cluster"]["summary"]["StateProbe"]["state_counts"]["DEAD"], 1,
        "{actors:#}"
    );

    // A job that holds: its actor is ALIVE with a snapshot, its spinning task RUNNING,
    // its results listed as objects in memory; stopped, the actor is DEAD.
    let held = node
        .submit("rustyray run fixtures -- state hold", Some("state-hold"))
        .expect("submitting");
    node.wait_for_output(&held, "state-ready");
    let alive = until::<ActorInfo>(&node, "/api/v0/actors?filter=job_id%3Dstate-hold", |a| {
        a.iter().any(|a| a.state == ActorState::Alive)
    });
    assert_eq!(alive[0].num_restarts, 0);
    assert!(alive[0].snapshot_age_s.is_some(), "{alive:#?}");
    let table = text(&node.cli(&["list", "actors"]).stdout);
    assert!(
        table.contains("StateProbe") && table.contains("ALIVE"),
        "{table}"
    );
    until::<TaskInfo>(
        &node,
        "/api/v0/tasks?filter=state%3DRUNNING&filter=job_id%3Dstate-hold",
        |t| t.iter().any(|t| t.name == "spin"),
    );
    let objects: Vec<ObjectInfo> =
        cli_json(&node, &["list", "objects", "--filter", "job_id=state-hold"]);
    let results: Vec<&ObjectInfo> = objects
        .iter()
        .filter(|o| o.kind == "TASK_RETURN" && o.object_size.is_some())
        .collect();
    assert!(results.len() >= 3, "{objects:#?}");
    assert!(results.iter().all(|o| o.task_id.is_some()), "{objects:#?}");
    // Ray's own query form, and the limit.
    let limited: Envelope<ListResult> = node
        .client()
        .get("/api/v0/tasks?filter_keys=name&filter_predicates=%3D&filter_values=add&limit=2")
        .expect("Ray's filter form");
    assert_eq!(limited.data.result.num_after_truncation, 2);
    assert_eq!(limited.data.result.num_filtered, 6, "{limited:?}");
    // /metrics has the jobs' tasks and actors by state and the run-time histogram.
    let metrics = ureq_text(&format!("{}/metrics", node.address));
    for needle in [
        "rustyray_tasks{state=\"FINISHED\"}",
        "rustyray_actors{state=\"ALIVE\"} 1",
        "rustyray_task_run_seconds_bucket",
        "rustyray_object_store_used_bytes",
        "rustyray_object_store_spilled_bytes",
        "rustyray_actor_restarts_total",
        "rustyray_instances{kind=\"actor\"} 1",
    ] {
        assert!(metrics.contains(needle), "{needle} in {metrics}");
    }
    let stop = node.cli(&["job", "stop", "state-hold"]);
    assert!(stop.status.success(), "{}", text(&stop.stderr));
    assert_eq!(node.wait(&held).status, JobStatus::Stopped);
    let dead: Vec<ActorInfo> =
        cli_json(&node, &["list", "actors", "--filter", "job_id=state-hold"]);
    assert_eq!(dead[0].state, ActorState::Dead, "{dead:#?}");
    let spin: Vec<TaskInfo> = cli_json(&node, &["list", "tasks", "--filter", "name=spin"]);
    assert_eq!(spin[0].state, TaskState::Failed, "{spin:#?}");
}

#[test]
fn a_bad_filter_names_its_key_and_the_valid_keys() {
    let node = TestNode::start(&common::fresh_dir("node-state-bad"), &[]);
    node.deploy(rustyray_tests::FIXTURES);
    // The CLI refuses before asking, naming the key and every valid one.
    let out = node.cli(&["list", "tasks", "--filter", "colour=red"]);
    assert!(!out.status.success());
    let message = text(&out.stderr);
    assert!(message.contains("\"colour\""), "{message}");
    assert!(
        message.contains("task_id, name, state, job_id"),
        "{message}"
    );
    let out = node.cli(&["list", "actors", "--filter", "no-equals-sign"]);
    assert!(
        text(&out.stderr).contains("key=value"),
        "{}",
        text(&out.stderr)
    );
    // The HTTP API answers 400 with a typed error, whatever the key holds.
    // (hyper itself answers 414 past 64 KiB of URI.)
    let hostile = "x".repeat(4 << 10);
    for (path, kind) in [
        ("/api/v0/actors?filter=colour%3Dred", "bad_filter_key"),
        ("/api/v0/objects?filter=%1B%5B2J%3D1", "bad_filter_key"),
        (
            &*format!("/api/v0/tasks?filter={hostile}%3D1") as &str,
            "bad_filter_key",
        ),
        (
            "/api/v0/tasks?filter_keys=state&filter_values=A&filter_values=B",
            "bad_request",
        ),
        ("/api/v0/tasks?limit=lots", "bad_request"),
        ("/api/v0/secrets", "unknown_resource"),
    ] {
        let answer = ureq_text(&format!("{}{path}", node.address));
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{path:.80}: {answer:.300}"
        );
        assert!(
            answer.contains(&format!("\"error\":\"{kind}\"")),
            "{path:.80}: {answer:.300}"
        );
    }
    // The canary: the node still runs jobs and lists them.
    let canary = node
        .submit("rustyray run fixtures -- canary", None)
        .expect("submitting the canary");
    assert_eq!(node.wait(&canary).status, JobStatus::Succeeded);
    let tasks: Vec<TaskInfo> = cli_json(&node, &["list", "tasks", "--filter", "name=add"]);
    assert_eq!(tasks.len(), 1, "{tasks:#?}");
}

#[test]
fn the_dashboard_shows_a_jobs_actors_tasks_objects_and_timeline_in_chromium() {
    let browser = crate::node::chromium();
    let node = TestNode::start(&common::fresh_dir("node-state-dashboard"), &[]);
    node.deploy(rustyray_tests::FIXTURES);
    let done = node
        .submit("rustyray run fixtures -- state", Some("shown-done"))
        .expect("submitting");
    assert_eq!(node.wait(&done).status, JobStatus::Succeeded);
    let held = node
        .submit("rustyray run fixtures -- state hold", Some("shown-held"))
        .expect("submitting");
    node.wait_for_output(&held, "state-ready");
    until::<ActorInfo>(&node, "/api/v0/actors?filter=job_id%3Dshown-held", |a| {
        a.iter().any(|a| a.state == ActorState::Alive)
    });
    let dom = crate::node::dump_dom(
        &browser,
        &format!("{}/#job={done}&tab=timeline", node.address),
        "chromium-profile-state",
    );
    // Actors: the finished job's DEAD, the held job's ALIVE; tasks with the failed one's
    // error; objects made by tasks; the finished job's timeline slices.
    for needle in [
        "id=\"actor-rows\"><tr>",
        "StateProbe",
        "ALIVE",
        "DEAD",
        "shown-held",
        "FINISHED",
        "TASK_EXECUTION_EXCEPTION",
        "state-probe-failure",
        "RUNNING",
        "TASK_RETURN",
        "MEMORY",
        "<td>StateProbe.add</td><td>ACTOR_TASK</td>",
        "id=\"timeline-job\">shown-done",
        "<td>add</td><td>task</td>",
        "class=\"bar\"",
    ] {
        assert!(dom.contains(needle), "{needle} in the page: {dom}");
    }
    let stop = node.cli(&["job", "stop", "shown-held"]);
    assert!(stop.status.success(), "{}", text(&stop.stderr));
}

/// A node with a token: the dashboard, given it in its address, shows the node in its
/// Nodes view and offers the timeline as a file it fetched with the token (a plain link
/// to the API would be refused for want of the header).
#[test]
fn with_a_token_the_dashboard_shows_the_node_and_offers_the_timeline() {
    use rustyray_node::api::{JobSubmitRequest, JobSubmitResponse};
    use rustyray_node::client::Client;
    let browser = crate::node::chromium();
    let dir = common::fresh_dir("node-state-token");
    let token_file = dir.join("token");
    let node = TestNode::start(
        &dir.join("data"),
        &["--token-file", token_file.to_str().expect("utf-8 path")],
    );
    let client = Client::new(&node.address, Some(&token_file)).expect("a client");
    let bytes = std::fs::read(rustyray_tests::FIXTURES).expect("reading the fixtures");
    client.deploy(&bytes, "fixtures").expect("deploying");
    let submitted: JobSubmitResponse = client
        .post(
            "/api/jobs/",
            &JobSubmitRequest {
                entrypoint: "rustyray run fixtures -- state".into(),
                submission_id: Some("token-job".into()),
                ..Default::default()
            },
        )
        .expect("submitting");
    client
        .follow(
            &format!("/api/jobs/{}/logs/stream", submitted.submission_id),
            |_| true,
        )
        .expect("following the job");
    let token = std::fs::read_to_string(&token_file).expect("the token");
    let dom = crate::node::dump_dom(
        &browser,
        &format!(
            "{}/#token={}&job=token-job&tab=timeline",
            node.address,
            token.trim()
        ),
        "chromium-profile-token",
    );
    for needle in [
        "id=\"node-rows\"><tr>",
        "(this node)",
        "class=\"ALIVE\">ALIVE",
        "1 node: 1 alive, 0 dead",
        "id=\"timeline-job\">token-job",
        "download=\"timeline-token-job.json\"",
        "href=\"blob:",
        "<td>StateProbe.add</td><td>ACTOR_TASK</td>",
    ] {
        assert!(dom.contains(needle), "{needle} in the page: {dom}");
    }
}
