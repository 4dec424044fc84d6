//! Measurements that need a process of their own: how long a fresh process takes to
//! its first task result, and what a started runtime costs in memory. The bench
//! starts its own executable with the hidden `__probe` subcommand for these.

use std::path::Path;
use std::process::Command;

use crate::error::{RayError, Result};
use crate::{Runtime, TaskBuilder};

/// Resident set size of this process, in KiB (Linux `/proc/self/status`).
pub(crate) fn rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|err| RayError::io("reading /proc/self/status", err))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| RayError::Internal("no VmRSS in /proc/self/status".into()))
}

/// Runs this executable's `__probe <kind> <guest>`; its stdout.
pub(crate) fn spawn_probe(kind: &str, guest: &Path) -> Result<String> {
    let exe =
        std::env::current_exe().map_err(|err| RayError::io("finding rustyray itself", err))?;
    let output = Command::new(exe)
        .args(["__probe", kind])
        .arg(guest)
        .output()
        .map_err(|err| RayError::io("starting a probe process", err))?;
    if !output.status.success() {
        return Err(RayError::Internal(format!(
            "probe {kind} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Added RSS (KiB) per idle actor with `count` alive, each called once. One actor
/// is made first so the class's one-off costs are not spread over the rest.
async fn actor_rss(count: usize, guest: &Path) -> Result<f64> {
    let runtime = Runtime::builder()
        .max_instances(16)
        .max_actors(count as u32 + 200)
        .memory_limit(64 << 20)
        .build()?;
    runtime.load(guest).await?;
    let first = runtime.actor("Pinger").create().await?;
    first.call::<()>("ping", ()).get().await?;
    let before = rss_kib()?;
    let actors = (0..count)
        .map(|_| runtime.actor("Pinger").spawn())
        .collect::<Result<Vec<_>>>()?;
    for actor in &actors {
        actor.call::<()>("ping", ()).get().await?;
    }
    let after = rss_kib()?;
    Ok(after.saturating_sub(before) as f64 / count as f64)
}

/// The probe side: `cold-start` runs one task and exits; `idle-rss` prints the RSS
/// (KiB) of a runtime with the guest loaded after one task.
pub async fn run_probe(kind: &str, guest: &Path) -> Result<String> {
    if let Some(count) = kind.strip_prefix("actor-rss:") {
        let count = count
            .parse()
            .map_err(|_| RayError::Internal(format!("bad actor count in {kind}")))?;
        return actor_rss(count, guest).await.map(|kib| format!("{kib:.1}"));
    }
    let runtime = Runtime::new()?;
    runtime.load(guest).await?;
    let value: u64 = TaskBuilder::new("add_one")
        .arg(41u64)
        .submit_now(&runtime)?
        .get()
        .await?;
    match kind {
        "cold-start" => Ok(value.to_string()),
        "idle-rss" => {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            Ok(rss_kib()?.to_string())
        }
        other => Err(RayError::Internal(format!("unknown probe {other}"))),
    }
}
