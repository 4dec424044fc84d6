//! `rustyray bench --address URL [--cluster nats://…]`: the cross-node rows, against a
//! running cluster. The bench guest is deployed to the node at URL and run as jobs (its
//! `#[rustyray::main]`: `tasks N`, `transfer MIB K`), each timed inside its job, so a job's
//! start is not counted:
//!
//! - tasks across the cluster: N `add_one` tasks submitted at once and got, placed by the
//!   job's node on every live node (those placed elsewhere go through NATS);
//! - object transfer: K results of MIB MiB made at once (placed on the nodes) and read
//!   whole by the driver: those made elsewhere stay there until read, then are fetched
//!   node to node (NATS request/reply in pieces under `max_payload`);
//! - actor call across nodes: a `Pinger` pinned on each live node (node affinity), called
//!   one call at a time from a job; the mean round trip to the actors on nodes other
//!   than the job's (the actors end with the job);
//! - lost-node detection (with `--cluster`): a node started for the purpose joins, is
//!   killed (SIGKILL), and the time until the node at URL lists it DEAD is measured;
//! - actor restart after a node loss (with `--cluster`): two nodes started for the
//!   purpose with a resource of their own, a detached actor needing it placed on one of
//!   them, that node killed (SIGKILL), and the time until the node at URL lists the
//!   actor alive on the other; then the actor is killed and both nodes stopped.
//!
//! Medians of `--reps` (default 3) runs; one for each loss.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustyray_node::api::{JobDetails, JobStatus, JobSubmitRequest, JobSubmitResponse, NodeEntry};
use rustyray_node::client::Client;
use rustyray_node::error::{NodeError, Result};

/// How long the loss row waits for the node it started to be listed, then listed DEAD.
const LOSS_DEADLINE: Duration = Duration::from_secs(60);

/// One measured row.
struct Row {
    what: String,
    unit: &'static str,
    value: f64,
}

fn failed(message: impl Into<String>) -> NodeError {
    NodeError::Remote {
        status: 500,
        message: message.into(),
    }
}

/// Runs the rows and prints them (a table, or JSON).
pub fn run(
    address: &str,
    nats: Option<&str>,
    guest: &Path,
    reps: usize,
    quick: bool,
    json: bool,
) -> Result<()> {
    let client = Client::new(address, None)?;
    let nodes: Vec<NodeEntry> = client.get("/api/v0/nodes")?;
    let live = nodes.iter().filter(|node| node.alive).count();
    let bytes = std::fs::read(guest)
        .map_err(|err| NodeError::io(format!("reading {}", guest.display()), err))?;
    let module = client.deploy(&bytes, "bench_guest")?;
    let reps = reps.max(1);
    let (tasks, mib, blobs) = if quick { (500, 20, 3) } else { (5_000, 100, 3) };
    let mut rows = Vec::new();

    let mut rates = Vec::new();
    for _ in 0..reps {
        let line = job_line(&client, &module.sha256, &format!("tasks {tasks}"))?;
        let seconds = field(&line, "seconds")?;
        rates.push(tasks as f64 / seconds);
    }
    rows.push(Row {
        what: format!("{tasks} trivial tasks across {live} live nodes, submit all then get all"),
        unit: "tasks/s",
        value: median(&mut rates),
    });

    let mut rates = Vec::new();
    for _ in 0..reps {
        let line = job_line(&client, &module.sha256, &format!("transfer {mib} {blobs}"))?;
        rates.push(field(&line, "bytes")? / field(&line, "seconds")? / 1e9);
    }
    rows.push(Row {
        what: format!(
            "{blobs} results of {mib} MiB made at once on the nodes, read whole by the driver"
        ),
        unit: "GB/s",
        value: median(&mut rates),
    });

    let ids: Vec<&str> = nodes
        .iter()
        .filter(|node| node.alive)
        .map(|node| node.node_id.as_str())
        .collect();
    if ids.len() > 1 {
        let calls = if quick { 50 } else { 500 };
        let mut trips = Vec::new();
        for _ in 0..reps {
            let (log, job) = job_log(
                &client,
                &module.sha256,
                &format!("actor-rtt {calls} {}", ids.join(" ")),
            )?;
            let home = job.driver_node_id.unwrap_or_default();
            for line in log.lines() {
                let Some(node) = line
                    .split_whitespace()
                    .find_map(|word| word.strip_prefix("node="))
                else {
                    continue;
                };
                if node != home {
                    trips.push(field(line, "us")? / 1000.0);
                }
            }
        }
        rows.push(Row {
            what: format!(
                "actor call from a job to an actor on another node, one at a time ({calls} calls)"
            ),
            unit: "ms",
            value: median(&mut trips),
        });
    } else {
        eprintln!("(one live node: no row for actor calls across nodes)");
    }

    if let Some(nats) = nats {
        rows.push(Row {
            what: "lost node: kill -9 until listed DEAD".into(),
            unit: "s",
            value: lost_node_seconds(&client, nats)?,
        });
        rows.push(Row {
            what: "lost node: kill -9 until its actor runs on another node".into(),
            unit: "s",
            value: actor_restart_seconds(&client, nats, &module.sha256)?,
        });
    }

    if json {
        let object: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|row| {
                (
                    row.what.clone(),
                    serde_json::json!({"unit": row.unit, "value": row.value}),
                )
            })
            .collect();
        println!("{}", serde_json::Value::Object(object));
    } else {
        println!("cross-node rows against {address} ({live} live nodes; medians of {reps})");
        println!("| workload | unit | rustyray |\n|---|---|---:|");
        for row in &rows {
            println!("| {} | {} | {:.3} |", row.what, row.unit, row.value);
        }
    }
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// `name=VALUE` in `line`, as a number.
fn field(line: &str, name: &str) -> Result<f64> {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(name)?.strip_prefix('='))
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| failed(format!("the bench job printed no {name}=: {line}")))
}

/// Runs the bench guest's main with `args` as a job and returns the line it printed.
fn job_line(client: &Client, module: &str, args: &str) -> Result<String> {
    let (log, job) = job_log(client, module, args)?;
    log.lines()
        .rev()
        .find(|line| line.contains("seconds="))
        .map(str::to_string)
        .ok_or_else(|| {
            failed(format!(
                "bench job {} printed no timing:\n{log}",
                job.submission_id.unwrap_or_default()
            ))
        })
}

/// The namespace of the bench's jobs (its named actors live there).
const NAMESPACE: &str = "rustyray-bench";

/// Runs the bench guest's main with `args` as a job; its whole log and its details.
fn job_log(client: &Client, module: &str, args: &str) -> Result<(String, JobDetails)> {
    let response: JobSubmitResponse = client.post(
        "/api/jobs/",
        &JobSubmitRequest {
            entrypoint: format!("rustyray run {module} --namespace {NAMESPACE} -- {args}"),
            ..Default::default()
        },
    )?;
    let id = response.submission_id;
    let mut log = String::new();
    client.follow(&format!("/api/jobs/{id}/logs/stream"), |chunk| {
        log.push_str(&String::from_utf8_lossy(chunk));
        true
    })?;
    let job: JobDetails = client.get(&format!("/api/jobs/{id}"))?;
    if job.status != JobStatus::Succeeded {
        return Err(failed(format!(
            "bench job {id} ({args}) ended {:?}: {}\n{log}",
            job.status,
            job.message.unwrap_or_default()
        )));
    }
    Ok((log, job))
}

/// A node the bench started (killed and its data dir removed when dropped).
struct BenchNode {
    child: std::process::Child,
    node_id: String,
    dir: PathBuf,
}

impl BenchNode {
    /// Starts `rustyray start` joining `nats` with `extra` flags on a fresh data dir,
    /// and waits until the node behind `client` lists it alive.
    fn start(client: &Client, nats: &str, extra: &[&str]) -> Result<BenchNode> {
        let dir = std::env::temp_dir().join(format!(
            "rustyray-bench-node-{}-{}",
            std::process::id(),
            rustyray_node::modules::hex(&rustyray_node::token::random_bytes(4))
        ));
        let exe = std::env::current_exe().map_err(|err| NodeError::io("finding rustyray", err))?;
        let child = Command::new(exe)
            .args(["start", "--port", "0", "--cluster", nats, "--data-dir"])
            .arg(&dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| NodeError::io("starting a node for a loss row", err))?;
        let mut node = BenchNode {
            child,
            node_id: String::new(),
            dir,
        };
        let stdout = node
            .child
            .stdout
            .take()
            .ok_or_else(|| failed("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        node.node_id = lines
            .by_ref()
            .map_while(std::result::Result::ok)
            .find_map(|line| {
                line.trim()
                    .strip_prefix("cluster:")?
                    .split_whitespace()
                    .find(|word| word.starts_with("node_"))
                    .map(str::to_string)
            })
            .ok_or_else(|| failed("a node started for a loss row did not join"))?;
        // Keep reading what it prints: a closed pipe would fail its next line.
        std::thread::spawn(move || lines.map_while(std::result::Result::ok).for_each(drop));
        let start = Instant::now();
        while node_alive(client, &node.node_id)? != Some(true) {
            if start.elapsed() > LOSS_DEADLINE {
                return Err(failed(format!("{} was never listed alive", node.node_id)));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(node)
    }

    /// SIGKILL, at once.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for BenchNode {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether the node behind `client` lists node `id` alive (`None`: not listed).
fn node_alive(client: &Client, id: &str) -> Result<Option<bool>> {
    let nodes: Vec<NodeEntry> = client.get("/api/v0/nodes")?;
    Ok(nodes.into_iter().find(|n| n.node_id == id).map(|n| n.alive))
}

/// Starts a node that joins `nats`, waits until the node behind `client` lists it alive,
/// kills it, and times until it is listed DEAD.
fn lost_node_seconds(client: &Client, nats: &str) -> Result<f64> {
    let mut node = BenchNode::start(client, nats, &[])?;
    node.kill();
    let killed = Instant::now();
    while node_alive(client, &node.node_id)? != Some(false) {
        if killed.elapsed() > LOSS_DEADLINE {
            return Err(failed(format!("{} was never listed DEAD", node.node_id)));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(killed.elapsed().as_secs_f64())
}

/// The live node the node behind `client` lists actor `name` alive on, if any.
fn actor_node(client: &Client, name: &str) -> Result<Option<String>> {
    let listed: serde_json::Value =
        client.get(&format!("/api/v0/actors?filter=name%3D{name}&limit=100"))?;
    let items = listed["data"]["result"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    Ok(items
        .iter()
        .find(|actor| actor["name"] == name && actor["state"] == "ALIVE")
        .and_then(|actor| actor["node_id"].as_str().map(str::to_string)))
}

/// Two nodes started with a resource no other node has; a detached actor needing it is
/// placed on one, that node is killed, and the time until the actor is listed alive on
/// the other is measured. The actor is killed and both nodes stopped afterwards.
fn actor_restart_seconds(client: &Client, nats: &str, module: &str) -> Result<f64> {
    let tag = rustyray_node::modules::hex(&rustyray_node::token::random_bytes(4));
    let resource = format!("bench_loss_{tag}");
    let name = format!("bench-loss-{tag}");
    let flag = format!("{resource}=1");
    let mut first = BenchNode::start(client, nats, &["--resources", &flag])?;
    let mut second = BenchNode::start(client, nats, &["--resources", &flag])?;
    let outcome = (|| {
        job_line(client, module, &format!("actor-place {name} {resource}"))?;
        let host = actor_node(client, &name)?
            .ok_or_else(|| failed(format!("actor {name} is not listed alive")))?;
        let (victim, heir) = if host == first.node_id {
            (&mut first, second.node_id.clone())
        } else {
            (&mut second, first.node_id.clone())
        };
        victim.kill();
        let killed = Instant::now();
        while actor_node(client, &name)?.as_deref() != Some(heir.as_str()) {
            if killed.elapsed() > LOSS_DEADLINE {
                return Err(failed(format!(
                    "actor {name} was not running on {heir} {LOSS_DEADLINE:?} after its node was killed"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(killed.elapsed().as_secs_f64())
    })();
    // Whatever happened: the actor goes (it is detached), then the nodes.
    let _ = job_line(client, module, &format!("actor-kill {name}"));
    drop(first);
    drop(second);
    outcome
}

/// The bench guest: `given`, or built from this source tree.
pub fn guest(given: Option<PathBuf>) -> rustyray::Result<PathBuf> {
    rustyray_bench::bench_guest_path(given)
}
