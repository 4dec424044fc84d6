//! The node (`rustyray start`): modules, jobs over Ray's job API shapes, the state API,
//! metrics, the token, the entrypoint policy, restarts with `--data-dir`, and jobs that
//! spin, panic or fail beside a canary job that must still succeed.
//!
//! Each test starts its own node on a port chosen at run time and kills it when done.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use rustyray_node::NodeError;
use rustyray_node::api::{JobDetails, JobStatus, JobSubmitRequest, JobSubmitResponse, ModuleInfo};
use rustyray_node::client::Client;

use crate::common;

const BIN: &str = env!("CARGO_BIN_EXE_rustyray");

/// A node started by a test; killed (SIGKILL) when dropped.
pub(crate) struct TestNode {
    pub(crate) child: Child,
    pub(crate) address: String,
    pub(crate) data_dir: PathBuf,
}

impl TestNode {
    pub(crate) fn start(data_dir: &Path, extra: &[&str]) -> TestNode {
        let mut child = Command::new(BIN)
            .args(["start", "--port", "0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting a node");
        let stdout = child.stdout.take().expect("the node's stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .next()
            .expect("the node printed nothing (see its stderr above)")
            .expect("reading the node's stdout");
        let address = first
            .strip_prefix("rustyray node listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_string();
        // Keep draining its stdout so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        TestNode {
            child,
            address,
            data_dir: data_dir.to_path_buf(),
        }
    }

    pub(crate) fn client(&self) -> Client {
        Client::new(&self.address, None).expect("a client")
    }

    /// Runs the CLI against this node.
    pub(crate) fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("RUSTYRAY_ADDRESS", &self.address)
            .env_remove("RUSTYRAY_TOKEN_FILE")
            .stdin(Stdio::null())
            .output()
            .expect("running rustyray")
    }

    /// Submits `entrypoint` through the HTTP API.
    pub(crate) fn submit(&self, entrypoint: &str, id: Option<&str>) -> Result<String, NodeError> {
        let response: JobSubmitResponse = self.client().post(
            "/api/jobs/",
            &JobSubmitRequest {
                entrypoint: entrypoint.into(),
                submission_id: id.map(String::from),
                ..Default::default()
            },
        )?;
        Ok(response.submission_id)
    }

    /// Waits (on the log stream, which ends with the job) for the job to end.
    pub(crate) fn wait(&self, id: &str) -> JobDetails {
        self.client()
            .follow(&format!("/api/jobs/{id}/logs/stream"), |_| true)
            .expect("following the job");
        let job = self.job(id);
        assert!(job.status.is_terminal(), "{job:?}");
        job
    }

    /// Follows the job's log until it contains `text`.
    pub(crate) fn wait_for_output(&self, id: &str, text: &str) {
        let mut seen = String::new();
        self.client()
            .follow(&format!("/api/jobs/{id}/logs/stream"), |chunk| {
                seen.push_str(&String::from_utf8_lossy(chunk));
                !seen.contains(text)
            })
            .expect("following the job");
        assert!(
            seen.contains(text),
            "the job ended without {text:?}: {seen}"
        );
    }

    pub(crate) fn job(&self, id: &str) -> JobDetails {
        self.client()
            .get(&format!("/api/jobs/{id}"))
            .expect("the job's details")
    }

    pub(crate) fn logs(&self, id: &str) -> String {
        let logs: rustyray_node::api::JobLogsResponse = self
            .client()
            .get(&format!("/api/jobs/{id}/logs"))
            .expect("the job's logs");
        logs.logs
    }

    pub(crate) fn deploy(&self, wasm: &str) -> ModuleInfo {
        let bytes = std::fs::read(wasm).expect("reading a fixture");
        self.client().deploy(&bytes, wasm).expect("deploying")
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn jobs_run_with_rays_shapes_and_cli() {
    let node = TestNode::start(&common::fresh_dir("node-jobs"), &[]);
    // Submitting a .wasm uploads it, runs its main, streams its output, exits 0.
    let out = node.cli(&["job", "submit", rustyray_tests::FIXTURES, "--", "a", "b"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(r#"fixtures main: args=["a", "b"] sum=42"#),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("SUCCEEDED"),
        "{}",
        text(&out.stderr)
    );

    // The module is listed, and a job can name it by name.
    let modules: Vec<ModuleInfo> = node.client().get("/api/modules").expect("modules");
    assert_eq!(modules.len(), 1);
    assert_eq!(modules[0].name, "fixtures");
    assert!(modules[0].has_main && modules[0].exports.contains(&"add".to_string()));

    // --no-wait prints the id; a failing program fails the job, exit code kept.
    let out = node.cli(&[
        "job",
        "submit",
        "--no-wait",
        "--submission-id",
        "failing",
        "fixtures",
        "--",
        "fail",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "failing");
    let job = node.wait("failing");
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.kind, "SUBMISSION");
    assert_eq!(job.submission_id.as_deref(), Some("failing"));
    assert!(
        job.driver_exit_code.is_some_and(|code| code != 0),
        "{job:?}"
    );
    assert!(job.start_time.is_some() && job.end_time.is_some());
    assert!(
        node.logs("failing").contains("asked to fail"),
        "{}",
        node.logs("failing")
    );
    // Waiting on a failing job exits 1.
    let out = node.cli(&["job", "submit", "fixtures", "--", "exit7"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("FAILED"),
        "{}",
        text(&out.stderr)
    );

    // The same id twice is refused.
    let err = node
        .submit("rustyray run fixtures", Some("failing"))
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");

    // Ray's shapes: version, list, status, logs, delete.
    let version: serde_json::Value = node.client().get("/api/version").expect("version");
    assert!(
        version["ray_version"]
            .as_str()
            .is_some_and(|v| v.starts_with('2'))
    );
    let jobs: Vec<JobDetails> = node.client().get("/api/jobs/").expect("jobs");
    assert_eq!(jobs.len(), 3);
    let out = node.cli(&["list", "jobs", "--json", "--filter", "status=FAILED"]);
    let failed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(failed.len(), 2, "{}", text(&out.stdout));
    let out = node.cli(&["job", "status", "failing"]);
    assert!(
        text(&out.stdout).contains("FAILED"),
        "{}",
        text(&out.stdout)
    );
    let out = node.cli(&["job", "delete", "failing"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = node
        .client()
        .get::<JobDetails>("/api/jobs/failing")
        .unwrap_err();
    assert!(
        matches!(err, NodeError::Remote { status: 404, .. }),
        "{err}"
    );

    // State API and metrics.
    let out = node.cli(&["status"]);
    assert!(
        text(&out.stdout).contains("1 SUCCEEDED"),
        "{}",
        text(&out.stdout)
    );
    let out = node.cli(&["list", "modules"]);
    assert!(
        text(&out.stdout).contains("fixtures"),
        "{}",
        text(&out.stdout)
    );
    let metrics = ureq_text(&format!("{}/metrics", node.address));
    assert!(
        metrics.contains("rustyray_jobs{state=\"SUCCEEDED\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rustyray_job_first_output_seconds_count"),
        "{metrics}"
    );
    // The dashboard is served from the binary.
    let page = ureq_text(&format!("{}/", node.address));
    assert!(page.contains("rustyray node") && page.contains("/dashboard.js"));
}

/// A plain GET, as curl would do it.
pub(crate) fn ureq_text(url: &str) -> String {
    let mut stream = std::net::TcpStream::connect(
        url.trim_start_matches("http://")
            .split('/')
            .next()
            .expect("host:port"),
    )
    .expect("connecting");
    let path = format!(
        "/{}",
        url.trim_start_matches("http://")
            .split_once('/')
            .map_or("", |(_, p)| p)
    );
    use std::io::{Read, Write};
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n"
    )
    .expect("writing");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reading");
    answer
}

#[test]
fn hostile_jobs_never_harm_the_node_or_other_jobs() {
    let node = TestNode::start(&common::fresh_dir("node-hostile"), &[]);
    node.deploy(rustyray_tests::FIXTURES);
    let spinner = node
        .submit("rustyray run fixtures -- spin", Some("spinner"))
        .expect("submitting");
    node.wait_for_output(&spinner, "spinning");
    let panicking = node
        .submit("rustyray run fixtures -- panic", None)
        .expect("submitting");
    // The canary: a job beside a spinning one still runs to the end.
    let canary = node
        .submit("rustyray run fixtures -- canary", None)
        .expect("submitting");
    assert_eq!(node.wait(&canary).status, JobStatus::Succeeded);
    let job = node.wait(&panicking);
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        node.logs(&panicking).contains("asked to panic"),
        "{}",
        node.logs(&panicking)
    );
    assert_eq!(node.job(&spinner).status, JobStatus::Running);
    // Stopping the spinning job ends its driver.
    let out = node.cli(&["job", "stop", "spinner"]);
    assert!(
        text(&out.stdout).contains("Stopping"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(node.wait(&spinner).status, JobStatus::Stopped);
    let out = node.cli(&["job", "stop", "spinner"]);
    assert!(
        text(&out.stdout).contains("already ended"),
        "{}",
        text(&out.stdout)
    );
    // And the node goes on.
    let after = node
        .submit("rustyray run fixtures", None)
        .expect("submitting");
    assert_eq!(node.wait(&after).status, JobStatus::Succeeded);
}

#[test]
fn entrypoints_are_checked_against_the_operators_policy() {
    let allowed = common::fresh_dir("node-allowed");
    std::fs::write(allowed.join("data.txt"), "granted").expect("writing");
    let allow = format!("{}:ro", allowed.display());
    let node = TestNode::start(
        &common::fresh_dir("node-policy"),
        &["--allow-dir", &allow, "--job-memory", "64"],
    );
    node.deploy(rustyray_tests::FIXTURES);
    for (entrypoint, expected) in [
        ("python script.py", "bad_entrypoint"),
        ("rustyray run nosuchmodule", "no module"),
        ("rustyray run fixtures --env HOME", "not allowed"),
        ("rustyray run fixtures --memory 1000", "at most 64"),
        ("rustyray run fixtures --dir /etc", "--allow-dir /etc"),
        (
            "rustyray run fixtures --load x.wasm",
            "--load is not needed",
        ),
    ] {
        let err = node.submit(entrypoint, None).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(expected) || message.contains(&expected.replace('_', " ")),
            "{entrypoint}: {message}"
        );
    }
    // Read-write is refused where the operator allowed read-only, read-only is fine.
    let rw = format!("rustyray run fixtures --dir {}", allowed.display());
    assert!(
        node.submit(&rw, None)
            .unwrap_err()
            .to_string()
            .contains(":ro")
    );
    let ro = format!("rustyray run fixtures --dir {}:/data:ro", allowed.display());
    let id = node.submit(&ro, None).expect("an allowed directory");
    assert_eq!(
        node.wait(&id).status,
        JobStatus::Succeeded,
        "{}",
        node.logs(&id)
    );
    // Ray's runtime_env is refused rather than ignored.
    let err = node
        .client()
        .post::<JobSubmitResponse>(
            "/api/jobs/",
            &serde_json::json!({"entrypoint": "rustyray run fixtures", "runtime_env": {"pip": ["x"]}}),
        )
        .unwrap_err();
    assert!(err.to_string().contains("runtime_env"), "{err}");
}

#[test]
fn a_token_guards_every_request() {
    // Beyond loopback, a token file is required.
    let out = Command::new(BIN)
        .args(["start", "--port", "0", "--host", "0.0.0.0"])
        .output()
        .expect("running rustyray");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--token-file"),
        "{}",
        text(&out.stderr)
    );

    let dir = common::fresh_dir("node-token");
    let token_file = dir.join("token");
    let node = TestNode::start(
        &dir.join("data"),
        &["--token-file", token_file.to_str().expect("utf-8 path")],
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&token_file)
        .expect("token file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let err = node
        .client()
        .get::<serde_json::Value>("/api/jobs/")
        .unwrap_err();
    assert!(matches!(err, NodeError::Unauthorized), "{err}");
    let out = node.cli(&["list", "jobs"]);
    assert!(
        text(&out.stderr).contains("--token-file"),
        "{}",
        text(&out.stderr)
    );
    let with = Client::new(&node.address, Some(&token_file)).expect("a client");
    let jobs: Vec<JobDetails> = with.get("/api/jobs/").expect("with the token");
    assert!(jobs.is_empty());
}

#[test]
fn with_a_data_dir_modules_and_jobs_survive_a_kill() {
    let data = common::fresh_dir("node-restart");
    let mut node = TestNode::start(&data, &[]);
    node.deploy(rustyray_tests::FIXTURES);
    let done = node
        .submit("rustyray run fixtures -- kept", Some("done"))
        .expect("submit");
    assert_eq!(node.wait(&done).status, JobStatus::Succeeded);
    let spinner = node
        .submit("rustyray run fixtures -- spin", Some("spinner"))
        .expect("submit");
    node.wait_for_output(&spinner, "spinning");
    // kill -9: nothing graceful happens.
    node.child.kill().expect("killing the node");
    node.child.wait().expect("reaping the node");
    drop(node);

    let node = TestNode::start(&data, &[]);
    assert_eq!(node.data_dir, data);
    let modules: Vec<ModuleInfo> = node.client().get("/api/modules").expect("modules");
    assert_eq!(modules.len(), 1);
    assert_eq!(node.job("done").status, JobStatus::Succeeded);
    assert!(node.logs("done").contains("kept"), "{}", node.logs("done"));
    let job = node.job("spinner");
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.error_type.as_deref(), Some("NODE_RESTARTED"));
    // The module needs no new upload.
    let again = node.submit("rustyray run fixtures", None).expect("submit");
    assert_eq!(node.wait(&again).status, JobStatus::Succeeded);
}

#[test]
fn sigterm_stops_running_jobs_and_the_node() {
    let data = common::fresh_dir("node-sigterm");
    let mut node = TestNode::start(&data, &[]);
    node.deploy(rustyray_tests::FIXTURES);
    let spinner = node
        .submit("rustyray run fixtures -- spin", Some("spinner"))
        .expect("submit");
    node.wait_for_output(&spinner, "spinning");
    // A job with an actor, waiting on a task that never ends: its actor's on_stop runs.
    let holder = node
        .submit("rustyray run fixtures -- state hold", Some("holder"))
        .expect("submit");
    node.wait_for_output(&holder, "state-ready");
    // SAFETY: kill(2) on the child we started.
    unsafe {
        libc::kill(node.child.id() as i32, libc::SIGTERM);
    }
    let status = node.child.wait().expect("the node exits");
    assert!(status.success(), "{status:?}");
    drop(node);
    let node = TestNode::start(&data, &[]);
    assert_eq!(node.job("spinner").status, JobStatus::Stopped);
    assert_eq!(node.job("holder").status, JobStatus::Stopped);
    let logs = node.logs("holder");
    assert!(logs.contains("probe stopped at 5"), "{logs}");
}

/// Debian's chromium (`.ci/run` installs it), or `RUSTYRAY_CHROMIUM`.
pub(crate) fn chromium() -> PathBuf {
    let path = std::env::var_os("RUSTYRAY_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.is_file(),
        "the dashboard test needs a headless chromium at {}: `apt-get install chromium` \
         (.ci/run does), or set RUSTYRAY_CHROMIUM",
        path.display()
    );
    path
}

/// Loads `url` in headless `browser` (a fresh profile named after `profile`) and returns
/// the page's DOM once its scripts have settled. Fails the test if chromium fails or
/// logs any console message at all: no script error, no failed request.
pub(crate) fn dump_dom(browser: &Path, url: &str, profile: &str) -> String {
    let profile = common::fresh_dir(profile);
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("running chromium");
    let log = text(&out.stderr);
    assert!(out.status.success(), "chromium failed: {log}");
    let console: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(":CONSOLE"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    text(&out.stdout)
}

#[test]
fn the_dashboard_shows_a_job_and_its_logs_in_chromium() {
    let browser = chromium();
    let node = TestNode::start(&common::fresh_dir("node-dashboard"), &[]);
    node.deploy(rustyray_tests::FIXTURES);
    let id = node
        .submit(
            "rustyray run fixtures -- shown-in-the-browser",
            Some("dashboard-job"),
        )
        .expect("submitting");
    assert_eq!(node.wait(&id).status, JobStatus::Succeeded);
    let dom = dump_dom(
        &browser,
        &format!("{}/#job={id}", node.address),
        "chromium-profile",
    );
    // The jobs table lists the job, with its state, and the log pane shows its output.
    assert!(dom.contains("dashboard-job"), "{dom}");
    assert!(dom.contains("SUCCEEDED"), "{dom}");
    assert!(dom.contains("shown-in-the-browser"), "{dom}");
    assert!(dom.contains("fixtures main"), "{dom}");
}

/// POSTs `body` (JSON) to the node without the client, for the raw status and body.
fn post_raw(address: &str, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(address.trim_start_matches("http://")).expect("connecting");
    let body = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("writing");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reading");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let json = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(serde_json::Value::Null);
    (status, json)
}

#[test]
fn jobs_get_only_the_network_the_operator_allows() {
    use crate::net::{Server, echo};
    let server = Server::start(echo);
    let other = Server::start(echo);
    let bound = format!("127.0.0.1:{}", server.port());
    let node = TestNode::start(
        &common::fresh_dir("node-net"),
        &["--allow-net", &bound, "--allow-listen", "9000-9099"],
    );
    node.deploy(rustyray_tests::FIXTURES);
    node.deploy(rustyray_tests::NET_CLIENT);
    // The operator's list is in the status API (and so on the dashboard).
    let status: rustyray_node::api::NodeStatus =
        node.client().get("/api/v0/status").expect("status");
    assert_eq!(status.allow_net, std::slice::from_ref(&bound));
    assert_eq!(status.allow_listen, ["9000-9099"]);
    let canary = node
        .submit("rustyray run fixtures -- canary", None)
        .expect("submitting the canary");

    // Inside the bound: the job reaches the server.
    let inside = node
        .submit(
            &format!(
                "rustyray run net_client --allow-net {bound} -- {}",
                server.addr()
            ),
            None,
        )
        .expect("a destination inside the bound");
    let job = node.wait(&inside);
    assert_eq!(job.status, JobStatus::Succeeded, "{}", node.logs(&inside));
    assert!(
        node.logs(&inside)
            .contains(&format!("{} answered: echo: hello", server.addr())),
        "{}",
        node.logs(&inside)
    );

    // Outside it, the submission is refused: 400, `net_not_allowed`, naming the entry
    // and the operator's flag that would allow it.
    for (asked, fix) in [
        (
            format!("--allow-net {}", other.addr()),
            format!("--allow-net {}", other.addr()),
        ),
        (
            "--allow-net 127.0.0.1".to_string(),
            "--allow-net 127.0.0.1:*".to_string(),
        ),
        (
            "--allow-net localhost".to_string(),
            "--allow-net localhost:*".to_string(),
        ),
        (
            "--allow-listen 8080".to_string(),
            "--allow-listen 8080".to_string(),
        ),
    ] {
        let (code, body) = post_raw(
            &node.address,
            "/api/jobs/",
            &serde_json::json!({
                "entrypoint": format!("rustyray run net_client {asked} -- {}", other.addr())
            }),
        );
        assert_eq!(code, 400, "{asked}: {body}");
        assert_eq!(body["error"], "net_not_allowed", "{asked}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(&asked), "{message}");
        assert!(
            message.contains(&format!("rustyray start {fix}")),
            "{message}"
        );
        let list = if asked.starts_with("--allow-listen") {
            "9000-9099"
        } else {
            bound.as_str()
        };
        assert!(message.contains(list), "the node's list: {message}");
    }
    // The same through the CLI, which says why.
    let out = node.cli(&[
        "job",
        "submit",
        "--allow-net",
        &other.addr(),
        "net_client",
        "--",
        &other.addr(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(&format!("rustyray start --allow-net {}", other.addr())),
        "{}",
        text(&out.stderr)
    );

    // A job that asks for nothing gets nothing: no ambient network, even inside the
    // operator's list.
    let nothing = node
        .submit(
            &format!("rustyray run net_client -- {}", server.addr()),
            None,
        )
        .expect("submitting");
    assert_eq!(node.wait(&nothing).status, JobStatus::Failed);
    assert!(
        node.logs(&nothing)
            .contains(&format!("refused TCP connect to {}", server.addr())),
        "{}",
        node.logs(&nothing)
    );

    assert_eq!(node.wait(&canary).status, JobStatus::Succeeded);
    assert_eq!(
        server.accepted(),
        1,
        "only the job inside the bound connected"
    );
    assert_eq!(other.accepted(), 0);
}

/// The driver the node starts cannot widen the operator's bound: `rustyray run` with a
/// grant wider than its `--net-bound` reaches only what both allow.
#[test]
fn a_drivers_grants_cannot_widen_its_net_bound() {
    use crate::net::{Server, echo};
    let server = Server::start(echo);
    let other = Server::start(echo);
    let bound = format!("127.0.0.1:{}", server.port());
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let run = |target: &str| {
        crate::cli_sandbox::run(
            &[
                "run",
                rustyray_tests::NET_CLIENT,
                "--allow-net",
                "127.0.0.1",
                "--net-bound",
                &bound,
                "--",
                target,
            ],
            b"",
        )
    };
    let inside = run(&server.addr());
    assert!(inside.status.success(), "{}", text(&inside.stderr));
    let outside = run(&other.addr());
    assert!(!outside.status.success());
    assert!(
        text(&outside.stderr).contains("outside the bound"),
        "{}",
        text(&outside.stderr)
    );
    // An empty bound allows nothing at all.
    let empty = crate::cli_sandbox::run(
        &[
            "run",
            rustyray_tests::NET_CLIENT,
            "--allow-net",
            "127.0.0.1",
            "--net-bounded",
            "--",
            &server.addr(),
        ],
        b"",
    );
    assert!(!empty.status.success());
    assert_eq!(server.accepted(), 1);
    assert_eq!(other.accepted(), 0);
}

#[test]
fn a_jobs_timeline_has_a_slice_per_task_on_its_worker_thread() {
    let node = TestNode::start(&common::fresh_dir("node-timeline"), &[]);
    node.deploy(rustyray_tests::FIXTURES);
    let id = node
        .submit("rustyray run fixtures -- a b", Some("traced"))
        .expect("submitted");
    assert_eq!(node.wait(&id).status, JobStatus::Succeeded);
    let file = common::fresh_dir("node-timeline-out").join("trace.json");
    let out = node.cli(&[
        "timeline",
        "--job",
        "traced",
        "-o",
        file.to_str().expect("a UTF-8 path"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("slices"),
        "{}",
        text(&out.stdout)
    );
    let events: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&file).expect("the timeline file"))
            .expect("the timeline is a JSON array of events");
    let slices: Vec<&serde_json::Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    // The fixtures' main adds with tasks: each is a slice named after its function,
    // with its task id, timed, on a named worker thread of the job's process.
    assert!(
        slices
            .iter()
            .any(|e| e["name"] == "add" && e["cat"] == "task"),
        "{events:?}"
    );
    for slice in &slices {
        assert!(slice["dur"].as_f64().is_some_and(|d| d >= 0.0), "{slice}");
        assert!(
            slice["args"]["task"].as_str().is_some() || slice["args"]["actor"].as_str().is_some()
        );
    }
    let worker = &slices[0]["tid"];
    assert!(
        events.iter().any(|e| e["ph"] == "M"
            && e["name"] == "thread_name"
            && &e["tid"] == worker
            && e["args"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("rustyray-worker"))),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["name"] == "process_name" && e["args"]["name"] == "job traced"),
        "{events:?}"
    );
    // Every job's timeline without --job; an unknown job is a 404 naming it.
    let all: Vec<serde_json::Value> = node.client().get("/api/v0/timeline").expect("all jobs");
    assert!(all.len() >= events.len());
    let err = node
        .client()
        .get::<Vec<serde_json::Value>>("/api/v0/timeline?job_id=nope")
        .expect_err("no such job");
    assert!(err.to_string().contains("nope"), "{err}");
    // Deleting the job deletes its timeline.
    node.client()
        .delete::<serde_json::Value>("/api/jobs/traced")
        .expect("deleted");
    assert!(!node.data_dir.join("jobs/traced.trace.json").exists());
}

/// `rustyray bench` measures a node as a user meets it: a `rustyray start` of its own
/// binary on a free loopback port, its idle memory, and a job's submission to its first
/// output (any guest with a main: the fixtures here).
#[test]
fn the_bench_reports_a_nodes_idle_memory_and_a_jobs_first_output() {
    for row in ["node_idle_rss_mib", "job_first_output_ms"] {
        let out = crate::cli::rustyray_in(
            None,
            &[
                "bench",
                "--filter",
                row,
                "--reps",
                "1",
                "--json",
                "--guest",
                rustyray_tests::FIXTURES,
            ],
            std::time::Duration::from_secs(120),
            &[],
        );
        assert!(out.status.success(), "{row}: {}", text(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|err| panic!("{row}: not JSON ({err}): {}", text(&out.stdout)));
        assert!(report.get("failed").is_none(), "{row}: {report}");
        let value = report[row].as_f64().unwrap_or_else(|| panic!("{report}"));
        assert!(value > 0.0, "{row}: {report}");
    }
}

/// The value of the series `series` (its name and labels, as written) in a Prometheus
/// text exposition, if it is there.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
    })
}

/// Each node serves its own `/metrics` (a Prometheus scrape target per node): after the
/// actors example ran as a job (one of its actors crashes on purpose and restarts), the
/// node has every series the issue names, with the figures of that job.
#[test]
fn metrics_have_tasks_actors_restarts_objects_instances_and_jobs() {
    let node = TestNode::start(&common::fresh_dir("node-metrics"), &[]);
    node.deploy(rustyray_tests::ACTORS);
    let id = node
        .submit("rustyray run actors", Some("metrics-actors"))
        .expect("submitted");
    let job = node.wait(&id);
    assert_eq!(job.status, JobStatus::Succeeded, "{}", node.logs(&id));
    let metrics = ureq_text(&format!("{}/metrics", node.address));
    let value = |series: &str| {
        sample(&metrics, series).unwrap_or_else(|| panic!("no {series} in {metrics}"))
    };
    // Jobs by state.
    assert_eq!(value("rustyray_jobs{state=\"SUCCEEDED\"}"), 1.0);
    // Tasks by state (every state a series), and the run-time histogram.
    assert!(value("rustyray_tasks{state=\"FINISHED\"}") >= 1.0);
    for state in ["RUNNING", "FAILED", "PENDING_ARGS_AVAIL"] {
        value(&format!("rustyray_tasks{{state=\"{state}\"}}"));
    }
    let runs = value("rustyray_task_run_seconds_count");
    assert!(runs >= 1.0, "{metrics}");
    assert_eq!(value("rustyray_task_run_seconds_bucket{le=\"+Inf\"}"), runs);
    assert!(value("rustyray_task_run_seconds_sum") > 0.0);
    // Actors by state (the job ended: its actors are dead) and their restarts.
    assert!(value("rustyray_actors{state=\"DEAD\"}") >= 1.0);
    value("rustyray_actors{state=\"ALIVE\"}");
    assert!(value("rustyray_actor_restarts_total") >= 1.0, "{metrics}");
    // The object store and what is spilled, and the instance pool's use.
    value("rustyray_object_store_used_bytes");
    value("rustyray_object_store_spilled_bytes");
    value("rustyray_object_store_objects");
    value("rustyray_instances{kind=\"task\"}");
    value("rustyray_instances{kind=\"actor\"}");
    // The node's own.
    assert!(value("rustyray_node_resident_bytes") > 0.0);
    assert_eq!(value("rustyray_modules"), 1.0);

    // A listing piped into something that stops reading (`| head -1`) ends quietly, as
    // a Unix tool does: no panic about a broken pipe.
    let mut child = Command::new(BIN)
        .args(["list", "tasks", "--json", "--limit", "10000"])
        .env("RUSTYRAY_ADDRESS", &node.address)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running rustyray list");
    let mut first = [0u8; 1];
    std::io::Read::read_exact(&mut child.stdout.take().expect("stdout"), &mut first)
        .expect("a first byte");
    let out = child.wait_with_output().expect("it ends");
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(first[0], b'[');
}
