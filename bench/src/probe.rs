//! Measurements that need a process of their own: how long a fresh process takes to
//! its first task result, and what a started runtime costs in memory. The bench
//! starts its own executable with the hidden `__probe` subcommand for these.

use std::path::Path;
use std::process::Command;

use rustyray::error::{RayError, Result};
use rustyray::{Runtime, TaskBuilder};

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

/// The part of this process's resident set that is its own, in KiB: `RssAnon` plus
/// `RssShmem` — without `RssFile`, the executable's and libraries' pages mapped from
/// the page cache (shared with every process that maps them, and as large as the
/// kernel's fault-around and the cache's folios make them, not as the runtime does).
pub(crate) fn private_rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|err| RayError::io("reading /proc/self/status", err))?;
    let field = |name: &str| -> Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| RayError::Internal(format!("no {name} in /proc/self/status")))
    };
    Ok(field("RssAnon:")? + field("RssShmem:")?)
}

/// Peak resident set size of this process, in KiB (`VmHWM`).
pub(crate) fn peak_rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|err| RayError::io("reading /proc/self/status", err))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| RayError::Internal("no VmHWM in /proc/self/status".into()))
}

/// How the fan-out's tasks take the object.
#[derive(Clone, Copy)]
enum Fanout {
    /// A parameter of type `ObjectRef<Vec<u8>>`: each task reads only its 2 MiB.
    Read,
    /// A parameter of type `Vec<u8>` (the way most Ray programs pass it): each task
    /// receives the whole object, copied once into its instance.
    ByValue,
}

/// Objects at size (issue 11's pattern): a 50 MiB buffer put once, 25 tasks that each
/// hash their own 2 MiB of it (sha2), reading it through the reference or taking the
/// whole object as a `Vec<u8>` argument. Prints the milliseconds from the put to the
/// last hash, and the process's peak RSS in MiB.
async fn object_fanout(guest: &Path, how: Fanout) -> Result<String> {
    const OBJECT: usize = 50 << 20;
    const TASKS: u64 = 25;
    const CHUNK: u64 = 2 << 20;
    let runtime = Runtime::new()?;
    runtime.load(guest).await?;
    // Warm: the pool's slots and the guest's code, as in the other workloads.
    let warm: Vec<rustyray::ObjectRef<()>> = (0..8)
        .map(|_| TaskBuilder::new("noop").submit_now(&runtime))
        .collect::<Result<_>>()?;
    for object in &warm {
        object.get().await?;
    }
    let data: Vec<u8> = (0..OBJECT).map(|i| (i % 251) as u8).collect();
    let start = std::time::Instant::now();
    let object = runtime.put(&data)?;
    let hashes = (0..TASKS)
        .map(|i| {
            match how {
                Fanout::Read => TaskBuilder::new("hash_range").arg_object(&object),
                Fanout::ByValue => TaskBuilder::new("hash_value").arg_ref(&object),
            }
            .arg(i * CHUNK)
            .arg(CHUNK)
            .submit_now::<Vec<u8>>(&runtime)
        })
        .collect::<Result<Vec<_>>>()?;
    for hash in &hashes {
        if hash.get().await?.len() != 32 {
            return Err(RayError::Internal("hash_range gave no SHA-256".into()));
        }
    }
    let ms = start.elapsed().as_secs_f64() * 1e3;
    drop(data);
    Ok(format!("{ms:.3} {:.1}", peak_rss_kib()? as f64 / 1024.0))
}

/// Spilling (issue 11.5): 512 MiB of objects (32 × 16 MiB) put through a store capped
/// at 256 MiB, then each read back whole, so half go to disk and come back. Prints
/// the GB/s of the whole (1 GiB moved: 512 MiB in, 512 MiB out), the process's peak
/// RSS in MiB, and the spill and restore counts.
async fn object_spill() -> Result<String> {
    const OBJECTS: usize = 32;
    const SIZE: usize = 16 << 20;
    let runtime = Runtime::builder()
        .object_store_capacity(OBJECTS * SIZE / 2)
        .build()?;
    let start = std::time::Instant::now();
    let objects = (0..OBJECTS)
        .map(|i| runtime.put_bytes(bytes::Bytes::from(vec![i as u8; SIZE])))
        .collect::<Result<Vec<_>>>()?;
    for (i, object) in objects.iter().enumerate() {
        let bytes = object.get_bytes().await?;
        if bytes.len() != SIZE || bytes[SIZE - 1] != i as u8 {
            return Err(RayError::Internal(format!("object {i} came back wrong")));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let stats = runtime.stats().objects;
    drop(objects);
    Ok(format!(
        "{:.3} {:.1} {} {}",
        (2 * OBJECTS * SIZE) as f64 / seconds / 1e9,
        peak_rss_kib()? as f64 / 1024.0,
        stats.spills,
        stats.restores
    ))
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
/// (KiB) of a runtime with the guest loaded after one task, then its private part
/// ([`private_rss_kib`]).
pub async fn run_probe(kind: &str, guest: &Path) -> Result<String> {
    if let Some(count) = kind.strip_prefix("actor-rss:") {
        let count = count
            .parse()
            .map_err(|_| RayError::Internal(format!("bad actor count in {kind}")))?;
        return actor_rss(count, guest).await.map(|kib| format!("{kib:.1}"));
    }
    if kind == "object-fanout" {
        return object_fanout(guest, Fanout::Read).await;
    }
    if kind == "object-fanout-by-value" {
        return object_fanout(guest, Fanout::ByValue).await;
    }
    if kind == "object-spill" {
        return object_spill().await;
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
            Ok(format!("{} {}", rss_kib()?, private_rss_kib()?))
        }
        other => Err(RayError::Internal(format!("unknown probe {other}"))),
    }
}
