//! A cluster on NATS JetStream: each test starts its own `nats-server -js` on a free
//! loopback port with a temporary store, and three `rustyray start --cluster` nodes (real
//! processes) on loopback; everything is killed when the test ends (kill on drop).
//!
//! Without `nats-server` on PATH (Debian: `apt-get install nats-server`; `.ci/run`
//! installs it) the tests say so and pass without running.
//!
//! Node liveness is a TTL in JetStream, which sends no event when a heartbeat expires:
//! those waits read the nodes' state (`GET /api/v0/nodes`) until it says so, every
//! [`POLL`], up to [`DEADLINE`]. Everything else waits on events (a process's output, a
//! job's log stream ending).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustyray_node::NodeError;
use rustyray_node::api::{
    JobDetails, JobStatus, JobSubmitRequest, JobSubmitResponse, ModuleInfo, NodeEntry,
};
use rustyray_node::client::Client;

use crate::common;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_rustyray");
/// How often a wait on cluster state reads it again.
const POLL: Duration = Duration::from_millis(100);
/// How long a wait on cluster state may take (heartbeats expire after 4 s).
const DEADLINE: Duration = Duration::from_secs(60);
/// How long any process a test starts may live: then the watchdog kills it, so a test
/// blocked on it (a log stream, a line) fails instead of hanging the suite.
const WATCHDOG: Duration = Duration::from_secs(300);

/// The processes the tests started and when: a thread kills those older than
/// [`WATCHDOG`].
static WATCHED: std::sync::Mutex<Vec<(u32, Instant)>> = std::sync::Mutex::new(Vec::new());

fn watch(pid: u32) {
    static WATCHDOG_THREAD: std::sync::Once = std::sync::Once::new();
    WATCHDOG_THREAD.call_once(|| {
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let mut watched = WATCHED.lock().unwrap_or_else(|p| p.into_inner());
                watched.retain(|(pid, since)| {
                    if since.elapsed() < WATCHDOG {
                        return true;
                    }
                    eprintln!("watchdog: killing pid {pid}, started {WATCHDOG:?} ago");
                    // SAFETY: kill(2) of a process this test binary started and has not
                    // reaped (pids are removed from the list before they are waited for).
                    unsafe {
                        libc::kill(*pid as i32, libc::SIGKILL);
                    }
                    false
                });
            }
        });
    });
    WATCHED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((pid, Instant::now()));
}

/// A command whose process gets SIGKILL when the test binary dies, whatever kills it.
fn dies_with_us(command: &mut Command) -> &mut Command {
    // SAFETY: prctl(2) only, between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        })
    }
}

/// Kills and reaps a child the watchdog watches.
fn end(child: &mut Child) {
    WATCHED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|(pid, _)| *pid != child.id());
    let _ = child.kill();
    let _ = child.wait();
}

/// A `nats-server -js` of one test; killed when dropped.
pub(crate) struct Nats {
    child: Child,
    port: u16,
    store: PathBuf,
}

impl Nats {
    /// Starts one on a free port, or `None` (with a note) when nats-server is missing.
    pub(crate) fn start(store: &Path) -> Option<Nats> {
        if Command::new("nats-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            eprintln!(
                "SKIPPED: nats-server is not installed (Debian: apt-get install nats-server); \
                 the cluster tests need it"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        Some(Nats::start_on(port, store))
    }

    /// Starts one on `port` with its store in `store`, and waits until it is ready.
    fn start_on(port: u16, store: &Path) -> Nats {
        let mut child = dies_with_us(&mut Command::new("nats-server"))
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting nats-server");
        watch(child.id());
        let stderr = child.stderr.take().expect("nats-server's stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = String::new();
        for line in lines.by_ref() {
            let line = line.expect("reading nats-server's stderr");
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("Server is ready") {
                break;
            }
        }
        assert!(
            seen.contains("Server is ready"),
            "nats-server did not start:\n{seen}"
        );
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Nats {
            child,
            port,
            store: store.to_path_buf(),
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL) and starts it again on the same port and store.
    pub(crate) fn restart(&mut self) {
        self.restart_after(std::time::Duration::ZERO);
    }

    /// Kills it (SIGKILL), keeps it down for `outage`, and starts it again on the same
    /// port and store. The outage is the scenario's input (longer than a heartbeat's
    /// TTL: every node's heartbeat has expired when it is back), not a wait for an event.
    pub(crate) fn restart_after(&mut self, outage: std::time::Duration) {
        end(&mut self.child);
        std::thread::sleep(outage);
        let again = Nats::start_on(self.port, &self.store);
        *self = again;
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        end(&mut self.child);
    }
}

/// A node of one test's cluster; killed (SIGKILL) when dropped.
pub(crate) struct Node {
    child: Child,
    pub(crate) address: String,
    pub(crate) node_id: String,
}

impl Node {
    pub(crate) fn start(nats: &Nats, dir: &Path, extra: &[&str]) -> Node {
        Node::start_with_stderr(nats, dir, extra, Stdio::inherit())
    }

    /// [`Node::start`] with the node's stderr going to `stderr` (a file the test reads).
    pub(crate) fn start_with_stderr(
        nats: &Nats,
        dir: &Path,
        extra: &[&str],
        stderr: Stdio,
    ) -> Node {
        let mut child = dies_with_us(&mut Command::new(BIN))
            .args([
                "start",
                "--port",
                "0",
                "--cluster",
                &nats.url(),
                "--data-dir",
            ])
            .arg(dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("starting a node");
        watch(child.id());
        let stdout = child.stdout.take().expect("the node's stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut next = || {
            lines
                .next()
                .expect("the node printed nothing more (see its stderr above)")
                .expect("reading the node's stdout")
        };
        let first = next();
        let address = first
            .strip_prefix("rustyray node listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_string();
        let node_id = loop {
            let line = next();
            if let Some(rest) = line.trim().strip_prefix("cluster:") {
                break rest
                    .split_whitespace()
                    .find(|word| word.starts_with("node_"))
                    .expect("the node's id")
                    .to_string();
            }
        };
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Node {
            child,
            address,
            node_id,
        }
    }

    pub(crate) fn client(&self) -> Client {
        Client::new(&self.address, None).expect("a client")
    }

    pub(crate) fn nodes(&self) -> Vec<NodeEntry> {
        self.client().get("/api/v0/nodes").expect("the nodes")
    }

    pub(crate) fn submit(
        &self,
        entrypoint: &str,
        id: &str,
        resources: &[(&str, f64)],
    ) -> Result<String, NodeError> {
        let resources: BTreeMap<String, f64> =
            resources.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let response: JobSubmitResponse = self.client().post(
            "/api/jobs/",
            &JobSubmitRequest {
                entrypoint: entrypoint.into(),
                submission_id: Some(id.into()),
                entrypoint_resources: Some(resources),
                ..Default::default()
            },
        )?;
        Ok(response.submission_id)
    }

    pub(crate) fn job(&self, id: &str) -> JobDetails {
        self.client()
            .get(&format!("/api/jobs/{id}"))
            .expect("the job's details")
    }

    /// Follows the job's log (through this node, wherever the job runs) until it ends,
    /// or until it holds `until`; returns what was read.
    pub(crate) fn follow(&self, id: &str, until: Option<&str>) -> String {
        let mut seen = String::new();
        self.client()
            .follow(&format!("/api/jobs/{id}/logs/stream"), |chunk| {
                seen.push_str(&String::from_utf8_lossy(chunk));
                until.is_none_or(|text| !seen.contains(text))
            })
            .expect("following the job");
        seen
    }

    pub(crate) fn kill(&mut self) {
        end(&mut self.child);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads cluster state until `check` finds what it waits for.
pub(crate) fn wait_until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(start.elapsed() < DEADLINE, "gave up waiting for {what}");
        std::thread::sleep(POLL);
    }
}

fn alive(nodes: &[NodeEntry]) -> usize {
    nodes.iter().filter(|node| node.alive).count()
}

/// A cluster of three nodes: `extra[i]` are node i's flags.
pub(crate) fn three_nodes(nats: &Nats, name: &str, extra: [&[&str]; 3]) -> [Node; 3] {
    let root = common::fresh_dir(name);
    let nodes = extra.map(|flags| {
        let dir = root.join(format!("node-{}", count()));
        Node::start(nats, &dir, flags)
    });
    wait_until("three live nodes", || {
        (alive(&nodes[0].nodes()) == 3).then_some(())
    });
    nodes
}

fn count() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[test]
fn a_module_deployed_on_one_node_runs_as_a_job_submitted_to_another() {
    let Some(nats) = Nats::start(&common::fresh_dir("cluster-jobs-nats")) else {
        return;
    };
    let [a, b, c] = three_nodes(&nats, "cluster-jobs", [&[], &["--resources", "gpu=1"], &[]]);
    // Every node lists all three, with resources and liveness.
    let out = Command::new(BIN)
        .args(["list", "nodes", "--address", &c.address])
        .output()
        .expect("rustyray list nodes");
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{listed}");
    for node in [&a, &b, &c] {
        assert!(
            listed
                .lines()
                .any(|line| line.contains(&node.node_id) && line.contains("ALIVE")),
            "{listed}"
        );
    }
    assert!(listed.contains("gpu 1/1"), "{listed}");

    // Deployed on A; submitted to C; needs a gpu, so it runs on B, which fetches the
    // module by hash. C answers for it: its log stream, details and list.
    let bytes = std::fs::read(rustyray_tests::FIXTURES).expect("reading the fixtures");
    let module: ModuleInfo = a.client().deploy(&bytes, "fixtures").expect("deploying");
    let modules: Vec<ModuleInfo> = c.client().get("/api/v0/modules").expect("modules");
    assert!(modules.iter().any(|m| m.sha256 == module.sha256));
    c.submit("rustyray run fixtures -- a b", "on-b", &[("gpu", 1.0)])
        .expect("submitting");
    let log = c.follow("on-b", None);
    assert!(
        log.contains(r#"fixtures main: args=["a", "b"] sum=42"#),
        "{log}"
    );
    let job = c.job("on-b");
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    assert_eq!(
        job.driver_agent_http_address.as_deref(),
        Some(b.address.as_str())
    );
    // Named by the id `rustyray list nodes` shows for B.
    assert_eq!(job.driver_node_id.as_deref(), Some(b.node_id.as_str()));
    let listed = wait_until("the job's record everywhere", || {
        let jobs: Vec<JobDetails> = a.client().get("/api/jobs/").expect("jobs");
        jobs.into_iter()
            .find(|job| job.submission_id.as_deref() == Some("on-b"))
            .filter(|job| job.status == JobStatus::Succeeded)
    });
    assert_eq!(listed.driver_exit_code, Some(0));
    // The state API of any node answers for the cluster: the job's tasks ran on B, and
    // A lists and counts them, naming B.
    let tasks: rustyray_node::state::Envelope<rustyray_node::state::ListResult> = a
        .client()
        .get("/api/v0/tasks?filter=job_id%3Don-b")
        .expect("A lists tasks");
    let tasks = tasks.data.result.result;
    assert!(
        tasks
            .iter()
            .any(|task| task["name"] == "add" && task["node_id"] == b.node_id.as_str()),
        "the job's add task, on B, listed by A: {tasks:#?}"
    );
    let out = Command::new(BIN)
        .args(["summary", "tasks", "--json", "--address", &a.address])
        .output()
        .expect("rustyray summary tasks");
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("a summary as JSON");
    assert!(
        summary["node_id_to_summary"]["cluster"]["summary"]["add"]["state_counts"]["FINISHED"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{summary:#}"
    );

    // So does the timeline: A writes the job's slices, which B's driver recorded (in
    // chunks over NATS), as Chrome trace events; the whole-cluster one from C has them.
    let trace = common::fresh_dir("cluster-jobs-timeline").join("trace.json");
    let out = Command::new(BIN)
        .args(["timeline", "--job", "on-b", "-o"])
        .arg(&trace)
        .args(["--address", &a.address])
        .output()
        .expect("rustyray timeline");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&trace).expect("the trace file"))
            .expect("a JSON array of trace events");
    assert!(
        events.iter().any(|e| e["ph"] == "X" && e["name"] == "add"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["name"] == "process_name" && e["args"]["name"] == "job on-b"),
        "{events:?}"
    );
    let all: Vec<serde_json::Value> = c.client().get("/api/v0/timeline").expect("C's timeline");
    assert!(
        all.iter().any(|e| e["ph"] == "X" && e["name"] == "add"),
        "{all:?}"
    );
    let err = c
        .client()
        .get::<Vec<serde_json::Value>>("/api/v0/timeline?job_id=no-such-job")
        .expect_err("no such job");
    assert!(err.to_string().contains("no-such-job"), "{err}");

    // The id is taken cluster-wide; what no node has is refused.
    let err = a
        .submit("rustyray run fixtures", "on-b", &[])
        .expect_err("a second on-b");
    assert!(err.to_string().contains("already exists"), "{err}");
    let err = a
        .submit("rustyray run fixtures", "needs-tpu", &[("tpu", 1.0)])
        .expect_err("nobody has a tpu");
    assert!(err.to_string().contains("tpu=1"), "{err}");
    // Deleting from another node than the one that ran it.
    let _: rustyray_node::api::JobDeleteResponse =
        a.client().delete("/api/jobs/on-b").expect("deleting on-b");
    assert!(c.client().get::<JobDetails>("/api/jobs/on-b").is_err());
}

#[test]
fn a_killed_node_shows_dead_and_its_running_job_fails_naming_it() {
    let Some(nats) = Nats::start(&common::fresh_dir("cluster-loss-nats")) else {
        return;
    };
    let [a, mut b, c] = three_nodes(
        &nats,
        "cluster-loss",
        [
            &[],
            &["--resources", "victim=1"],
            &["--resources", "canary=1"],
        ],
    );
    let bytes = std::fs::read(rustyray_tests::FIXTURES).expect("reading the fixtures");
    a.client().deploy(&bytes, "fixtures").expect("deploying");
    a.submit(
        "rustyray run fixtures -- spin",
        "doomed",
        &[("victim", 1.0)],
    )
    .expect("submitting to B");
    a.submit(
        "rustyray run fixtures -- spin",
        "canary",
        &[("canary", 1.0)],
    )
    .expect("submitting to C");
    // Through A and C, wherever they run.
    c.follow("doomed", Some("spinning"));
    a.follow("canary", Some("spinning"));
    assert_eq!(a.job("doomed").status, JobStatus::Running);

    b.kill();
    let dead = wait_until("B dead", || {
        a.nodes()
            .into_iter()
            .find(|node| node.node_id == b.node_id && !node.alive)
    });
    assert_eq!(dead.state, "DEAD");
    // The dashboard's Nodes view shows the loss, on a survivor.
    let dom = crate::node::dump_dom(
        &crate::node::chromium(),
        &format!("{}/", a.address),
        "chromium-profile-cluster-loss",
    );
    assert!(
        dom.contains(&b.node_id)
            && dom.contains("class=\"DEAD\">DEAD")
            && dom.contains("2 alive, 1 dead"),
        "the Nodes view shows B DEAD: {dom}"
    );
    let failed = wait_until("the doomed job failed", || {
        Some(c.job("doomed")).filter(|job| job.status == JobStatus::Failed)
    });
    let message = failed.message.unwrap_or_default();
    assert!(
        message.contains(&b.node_id) && message.contains("lost"),
        "{message}"
    );
    assert_eq!(failed.error_type.as_deref(), Some("NODE_DIED"));
    // Every survivor says so, in its job list too (Ray: the job is FAILED).
    for survivor in [&a, &c] {
        let listed: Vec<rustyray_node::api::JobDetails> =
            survivor.client().get("/api/jobs/").expect("the job list");
        let doomed = listed
            .iter()
            .find(|job| job.submission_id.as_deref() == Some("doomed"))
            .expect("the doomed job listed");
        assert_eq!(doomed.status, JobStatus::Failed, "{doomed:?}");
        assert_eq!(doomed.error_type.as_deref(), Some("NODE_DIED"));
    }
    // Its logs went with it: the error says so.
    let err = a
        .client()
        .get::<rustyray_node::api::JobLogsResponse>("/api/jobs/doomed/logs")
        .expect_err("logs of a lost node");
    assert!(err.to_string().contains(&b.node_id), "{err}");

    // The others are unaffected: the canary still runs, stops on request, and a new job
    // runs to the end.
    assert_eq!(alive(&a.nodes()), 2);
    assert_eq!(c.job("canary").status, JobStatus::Running);
    let stop: rustyray_node::api::JobStopResponse = a
        .client()
        .post("/api/jobs/canary/stop", &serde_json::json!({}))
        .expect("stopping the canary");
    assert!(stop.stopped);
    a.follow("canary", None);
    assert_eq!(a.job("canary").status, JobStatus::Stopped);
    a.submit("rustyray run fixtures -- x", "after", &[])
        .expect("a job after the loss");
    let log = c.follow("after", None);
    assert!(log.contains("sum=42"), "{log}");
    assert_eq!(c.job("after").status, JobStatus::Succeeded);
}

#[test]
fn nodes_reconnect_and_heartbeat_again_after_nats_restarts() {
    let Some(mut nats) = Nats::start(&common::fresh_dir("cluster-restart-nats")) else {
        return;
    };
    let [a, b, c] = three_nodes(&nats, "cluster-restart", [&[], &[], &[]]);
    let bytes = std::fs::read(rustyray_tests::FIXTURES).expect("reading the fixtures");
    a.client().deploy(&bytes, "fixtures").expect("deploying");
    b.submit("rustyray run fixtures -- x", "before", &[])
        .expect("submitting");
    assert!(c.follow("before", None).contains("sum=42"));
    wait_until("the job's record", || {
        Some(a.job("before")).filter(|job| job.status == JobStatus::Succeeded)
    });

    nats.restart();
    let restarted = rustyray_node::api::now_ms();
    // Each node reconnects by itself and heartbeats again.
    wait_until("three fresh heartbeats", || {
        let nodes = c.nodes();
        (nodes
            .iter()
            .filter(|node| node.alive && node.last_heartbeat_ms > restarted)
            .count()
            == 3)
            .then_some(())
    });
    // Nothing was lost: the job's record and the module are still there, and a new job
    // runs.
    let jobs: Vec<JobDetails> = b.client().get("/api/jobs/").expect("jobs");
    assert!(
        jobs.iter()
            .any(|job| job.submission_id.as_deref() == Some("before")
                && job.status == JobStatus::Succeeded),
        "{jobs:?}"
    );
    a.submit("rustyray run fixtures -- y", "after", &[])
        .expect("submitting after the restart");
    assert!(b.follow("after", None).contains("sum=42"));
    assert_eq!(b.job("after").status, JobStatus::Succeeded);
}

#[test]
fn cluster_up_starts_nats_and_three_nodes_and_down_stops_them() {
    if Command::new("nats-server")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: nats-server is not installed (Debian: apt-get install nats-server)");
        return;
    }
    let dir = common::fresh_dir("cluster-up");
    let dir_arg = dir.to_string_lossy().into_owned();
    let rustyray = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running rustyray")
    };
    let up = rustyray(&[
        "cluster",
        "up",
        "--nodes",
        "3",
        "--nats-port",
        "0",
        "--base-port",
        "0",
        "--dir",
        &dir_arg,
    ]);
    let said = String::from_utf8_lossy(&up.stdout).into_owned();
    assert!(
        up.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let state: rustyray_node::local_cluster::LocalCluster =
        serde_json::from_slice(&std::fs::read(dir.join("cluster.json")).expect("the state"))
            .expect("the state's JSON");
    // Whatever happens below, the processes go (kill on drop).
    struct Pids(Vec<u32>);
    impl Drop for Pids {
        fn drop(&mut self) {
            for pid in &self.0 {
                // SAFETY: kill(2) of processes this test started.
                unsafe {
                    libc::kill(*pid as i32, libc::SIGKILL);
                }
            }
        }
    }
    let _pids = Pids(
        state
            .nodes
            .iter()
            .map(|node| node.pid)
            .chain([state.nats.pid])
            .collect(),
    );
    assert_eq!(state.nodes.len(), 3, "{said}");
    let first = Client::new(&state.nodes[0].address, None).expect("a client");
    wait_until("three live nodes", || {
        let nodes: Vec<NodeEntry> = first.get("/api/v0/nodes").expect("the nodes");
        (alive(&nodes) == 3).then_some(())
    });
    // A second `up` in the same directory is refused while the first runs.
    let again = rustyray(&["cluster", "up", "--nats-port", "0", "--dir", &dir_arg]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("cluster down"));
    // The way to stop it names the directory it was given.
    assert!(
        said.contains(&format!("stop: rustyray cluster down --dir {dir_arg}")),
        "{said}"
    );
    // `--nats-port 0`: a port chosen before nats-server starts, on its command line, so
    // that NATS restarted with the same arguments comes back where the nodes look.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", state.nats.pid)).expect("cmdline");
    let args: Vec<String> = cmdline
        .split(|&b| b == 0)
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect();
    let port = args
        .iter()
        .position(|arg| arg == "-p")
        .and_then(|at| args.get(at + 1))
        .expect("nats-server's -p");
    assert!(
        state.nats.address.ends_with(&format!(":{port}")) && port != "-1",
        "{args:?} {}",
        state.nats.address
    );

    // A node that ended before `down` is reported so, not as stopped.
    let gone = state.nodes[2].pid;
    // SAFETY: kill(2) of a process this test started.
    unsafe {
        libc::kill(gone as i32, libc::SIGKILL);
    }
    wait_until("the killed node to end", || {
        let stat = std::fs::read_to_string(format!("/proc/{gone}/stat")).unwrap_or_default();
        (stat.is_empty()
            || stat
                .rsplit_once(") ")
                .is_some_and(|(_, s)| s.starts_with('Z')))
        .then_some(())
    });
    // NATS killed and started again by hand with the same command line (as the README
    // says one may): `down` finds it by its store and stops it too.
    // SAFETY: kill(2) of a process this test started.
    unsafe {
        libc::kill(state.nats.pid as i32, libc::SIGKILL);
    }
    let ended = |pid: u32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.is_empty()
            || stat
                .rsplit_once(") ")
                .is_some_and(|(_, s)| s.starts_with('Z'))
    };
    wait_until("the killed NATS to end", || {
        ended(state.nats.pid).then_some(())
    });
    let mut again = Command::new(&args[0])
        .args(args[1..].iter().filter(|arg| !arg.is_empty()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting nats-server again by hand");
    let by_hand = again.id();
    wait_until("NATS started again by hand to listen", || {
        std::net::TcpStream::connect(format!("127.0.0.1:{port}"))
            .ok()
            .map(drop)
    });
    let down = rustyray(&["cluster", "down", "--dir", &dir_arg]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    let told = String::from_utf8_lossy(&down.stdout);
    assert!(
        told.contains(&format!(
            "stopped 2 of 3 nodes (1 had ended already) and NATS (the one started again by hand on the cluster's store, pid {by_hand})"
        )),
        "{told}"
    );
    let _ = again.wait();
    for pid in state.nodes.iter().map(|n| n.pid).chain([state.nats.pid]) {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty()
                || stat
                    .rsplit_once(") ")
                    .is_some_and(|(_, s)| s.starts_with('Z')),
            "pid {pid} still runs: {stat}"
        );
    }
    assert!(!dir.join("cluster.json").exists());
}
