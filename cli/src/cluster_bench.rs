//! `rustyray bench --address URL [--cluster nats://…]`: the cross-node rows, against a
//! running cluster. The bench guest is deployed to the node at URL and run as jobs (its
//! `#[rustyray::main]`: `tasks N`, `transfer MIB K`), each timed inside its job, so a job's
//! start is not counted:
//!
//! - tasks across the cluster: N `add_one` tasks submitted at once and got, placed by the
//!   job's node on every live node (those placed elsewhere go through NATS);
//! - object transfer: K results of MIB MiB made at once (placed on the nodes) and waited
//!   for in the driver's store: those made elsewhere travel through NATS's object store;
//! - lost-node detection (with `--cluster`): a node started for the purpose joins, is
//!   killed (SIGKILL), and the time until the node at URL lists it DEAD is measured.
//!
//! Medians of `--reps` (default 3) runs; one for the loss.

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
            "{blobs} results of {mib} MiB made at once on the nodes, into the driver's store"
        ),
        unit: "GB/s",
        value: median(&mut rates),
    });

    if let Some(nats) = nats {
        rows.push(Row {
            what: "lost node: kill -9 until listed DEAD".into(),
            unit: "s",
            value: lost_node_seconds(&client, nats)?,
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
    let response: JobSubmitResponse = client.post(
        "/api/jobs/",
        &JobSubmitRequest {
            entrypoint: format!("rustyray run {module} -- {args}"),
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
    log.lines()
        .rev()
        .find(|line| line.contains("seconds="))
        .map(str::to_string)
        .ok_or_else(|| failed(format!("bench job {id} printed no timing:\n{log}")))
}

/// Starts a node that joins `nats`, waits until the node behind `client` lists it alive,
/// kills it, and times until it is listed DEAD.
fn lost_node_seconds(client: &Client, nats: &str) -> Result<f64> {
    let dir = std::env::temp_dir().join(format!(
        "rustyray-bench-node-{}-{}",
        std::process::id(),
        rustyray_node::modules::hex(&rustyray_node::token::random_bytes(4))
    ));
    let exe = std::env::current_exe().map_err(|err| NodeError::io("finding rustyray", err))?;
    let mut child = Command::new(exe)
        .args(["start", "--port", "0", "--cluster", nats, "--data-dir"])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| NodeError::io("starting a node for the loss row", err))?;
    let outcome = (|| {
        let stdout = child.stdout.take().ok_or_else(|| failed("no stdout"))?;
        let node_id = BufReader::new(stdout)
            .lines()
            .map_while(std::result::Result::ok)
            .find_map(|line| {
                line.trim()
                    .strip_prefix("cluster:")?
                    .split_whitespace()
                    .find(|word| word.starts_with("node_"))
                    .map(str::to_string)
            })
            .ok_or_else(|| failed("the node started for the loss row did not join"))?;
        let state = |id: &str| -> Result<Option<bool>> {
            let nodes: Vec<NodeEntry> = client.get("/api/v0/nodes")?;
            Ok(nodes.into_iter().find(|n| n.node_id == id).map(|n| n.alive))
        };
        let start = Instant::now();
        while state(&node_id)? != Some(true) {
            if start.elapsed() > LOSS_DEADLINE {
                return Err(failed(format!("{node_id} was never listed alive")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let killed = Instant::now();
        while state(&node_id)? != Some(false) {
            if killed.elapsed() > LOSS_DEADLINE {
                return Err(failed(format!("{node_id} was never listed DEAD")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(killed.elapsed().as_secs_f64())
    })();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

/// The bench guest: `given`, or built from this source tree.
pub fn guest(given: Option<PathBuf>) -> rustyray::Result<PathBuf> {
    rustyray_bench::bench_guest_path(given)
}
