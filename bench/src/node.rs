//! The node rows (issue 15): a `rustyray start` of this very executable on a free
//! loopback port (`--port 0`) and a fresh data directory, measured over its HTTP API as
//! a user would see it: its resident memory idle, and the time from a job's `POST
//! /api/jobs/` to the first byte of its log stream.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustyray::error::{RayError, Result};

/// How long a node may take to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Nodes started by this process (each gets a data directory of its own).
static STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A node process of this executable, stopped (and its data directory removed) on drop.
struct Node {
    child: Child,
    address: String,
    data: PathBuf,
    agent: ureq::Agent,
}

fn failed(what: &str, err: impl std::fmt::Display) -> RayError {
    RayError::Internal(format!("bench node: {what}: {err}"))
}

impl Node {
    /// Starts `rustyray start --port 0 --data-dir <fresh>` and reads its address from
    /// its first line (`rustyray node listening on http://127.0.0.1:PORT`).
    fn start() -> Result<Node> {
        let exe =
            std::env::current_exe().map_err(|err| RayError::io("finding rustyray itself", err))?;
        let data = std::env::temp_dir().join(format!(
            "rustyray-bench-node-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&data).map_err(|err| RayError::io("making a data dir", err))?;
        let mut child = Command::new(exe)
            .args(["start", "--host", "127.0.0.1", "--port", "0", "--data-dir"])
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| RayError::io("starting a node", err))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| failed("starting", "no stdout"))?;
        // The first line, read on a thread so a node that never says it is bounded; the
        // rest is read to its end (a closed pipe would fail the node's next print).
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = send.send(line);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut node = Node {
            child,
            address: String::new(),
            data,
            agent,
        };
        let line = receive
            .recv_timeout(START_TIMEOUT)
            .map_err(|_| failed("starting", "the node did not say where it listens"))?;
        node.address = line
            .split_whitespace()
            .last()
            .filter(|word| word.starts_with("http://"))
            .ok_or_else(|| failed("starting", format!("its first line was {line:?}")))?
            .to_string();
        Ok(node)
    }

    fn body(&self, response: ureq::http::Response<ureq::Body>, what: &str) -> Result<String> {
        let status = response.status().as_u16();
        let text = response
            .into_body()
            .read_to_string()
            .map_err(|err| failed(what, err))?;
        if !(200..300).contains(&status) {
            return Err(failed(what, format!("HTTP {status}: {text}")));
        }
        Ok(text)
    }

    fn get_json(&self, path: &str) -> Result<serde_json::Value> {
        let response = self
            .agent
            .get(format!("{}{path}", self.address))
            .call()
            .map_err(|err| failed(path, err))?;
        let text = self.body(response, path)?;
        serde_json::from_str(&text).map_err(|err| failed(path, err))
    }

    /// Its resident memory (the status API's `node_rss_kib`).
    fn rss_kib(&self) -> Result<f64> {
        self.get_json("/api/v0/status")?["node_rss_kib"]
            .as_f64()
            .ok_or_else(|| failed("status", "no node_rss_kib"))
    }

    /// Deploys `module` as `name`.
    fn deploy(&self, module: &Path, name: &str) -> Result<()> {
        let bytes = std::fs::read(module).map_err(|err| RayError::io("reading the guest", err))?;
        let response = self
            .agent
            .post(format!("{}/api/modules?name={name}", self.address))
            .header("Content-Type", "application/wasm")
            .send(&bytes[..])
            .map_err(|err| failed("deploying", err))?;
        self.body(response, "deploying").map(|_| ())
    }

    /// Submits `entrypoint`; the time to the first byte of its log stream, then waits
    /// for the stream's end and checks the job succeeded.
    fn job_to_first_output(&self, entrypoint: &str) -> Result<Duration> {
        let body = serde_json::json!({ "entrypoint": entrypoint }).to_string();
        let start = Instant::now();
        let response = self
            .agent
            .post(format!("{}/api/jobs/", self.address))
            .header("Content-Type", "application/json")
            .send(body.as_bytes())
            .map_err(|err| failed("submitting", err))?;
        let answer: serde_json::Value = serde_json::from_str(&self.body(response, "submitting")?)
            .map_err(|err| failed("submitting", err))?;
        let id = answer["submission_id"]
            .as_str()
            .ok_or_else(|| failed("submitting", format!("no submission_id in {answer}")))?
            .to_string();
        let response = self
            .agent
            .get(format!("{}/api/jobs/{id}/logs/stream", self.address))
            .call()
            .map_err(|err| failed("following the log", err))?;
        let mut reader = response.into_body().into_reader();
        let mut first = [0u8; 1];
        let n = reader
            .read(&mut first)
            .map_err(|err| failed("following the log", err))?;
        let to_first = start.elapsed();
        if n == 0 {
            return Err(failed("following the log", "the job printed nothing"));
        }
        let mut rest = Vec::new();
        reader
            .read_to_end(&mut rest)
            .map_err(|err| failed("following the log", err))?;
        let details = self.get_json(&format!("/api/jobs/{id}"))?;
        if details["status"] != "SUCCEEDED" {
            return Err(failed(
                "the job",
                format!("it ended {}: {}", details["status"], details["message"]),
            ));
        }
        Ok(to_first)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Its drivers die with it (PR_SET_PDEATHSIG).
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// A started node's resident memory, in MiB: nothing deployed, no job run.
pub(crate) fn idle_rss_mib() -> Result<f64> {
    let node = Node::start()?;
    Ok(node.rss_kib()? / 1024.0)
}

/// Milliseconds from a job's submission to the first byte of its output: the bench
/// guest deployed, its `main` (one task, then a line) run once first so its compiled
/// artifact is cached, then timed.
pub(crate) fn job_first_output_ms(guest: &Path) -> Result<f64> {
    let node = Node::start()?;
    node.deploy(guest, "bench")?;
    node.job_to_first_output("rustyray run bench")?;
    Ok(node
        .job_to_first_output("rustyray run bench")?
        .as_secs_f64()
        * 1e3)
}
