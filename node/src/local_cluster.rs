//! `rustyray cluster up|down`: a cluster on this machine for trying it: `nats-server -js`
//! (from PATH) with its store in the cluster's directory, and N nodes joined to it, each
//! in a session of its own so they outlive the command. Their pids go to `cluster.json`
//! in that directory; `down` stops them (SIGTERM, then SIGKILL) and removes it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{NodeError, Result};

/// How long `up` waits for nats-server and each node to be ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `down` waits for a process after SIGTERM before SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Most nodes `up` starts.
pub const MAX_NODES: usize = 64;

/// What `up` asks for.
#[derive(Debug, Clone)]
pub struct UpConfig {
    /// Nodes to start.
    pub nodes: usize,
    /// NATS's port (0: any free one).
    pub nats_port: u16,
    /// The first node's port; the others follow (0: any free ones).
    pub base_port: u16,
    /// Where the store, logs, node data and the state file go.
    pub dir: PathBuf,
}

/// A started process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Started {
    /// Its pid.
    pub pid: u32,
    /// Where it listens (`nats://…` or `http://…`).
    pub address: String,
    /// Its log.
    pub log: PathBuf,
}

/// The state file of a local cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LocalCluster {
    /// nats-server.
    pub nats: Started,
    /// The nodes.
    pub nodes: Vec<Started>,
}

/// The default directory of `rustyray cluster up`.
pub fn default_dir() -> PathBuf {
    std::env::temp_dir().join(format!("rustyray-cluster-{}", uid()))
}

fn uid() -> u32 {
    // SAFETY: getuid(2) cannot fail and has no preconditions.
    unsafe { libc::getuid() }
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join("cluster.json")
}

/// `nats-server` on PATH.
fn find_nats() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            NodeError::BadRequest(
                "nats-server is not installed: install it (Debian/Ubuntu: `apt-get install \
                 nats-server`; or a release from nats.io) and run `rustyray cluster up` again"
                    .into(),
            )
        })
}

/// Starts nats-server and the nodes; returns what was started (also in the state file).
pub fn up(config: &UpConfig) -> Result<LocalCluster> {
    if let Ok(text) = std::fs::read_to_string(state_path(&config.dir))
        && let Ok(state) = serde_json::from_str::<LocalCluster>(&text)
        && running(state.nats.pid, "nats-server")
    {
        return Err(NodeError::BadRequest(format!(
            "a cluster is up already in {} (NATS at {}): `rustyray cluster down` first",
            config.dir.display(),
            state.nats.address
        )));
    }
    let nodes = config.nodes.clamp(1, MAX_NODES);
    let nats_bin = find_nats()?;
    std::fs::create_dir_all(&config.dir)
        .map_err(|err| NodeError::io(format!("creating {}", config.dir.display()), err))?;
    let log = config.dir.join("nats.log");
    // A free port chosen here rather than nats-server's `-p -1`: the port is then in
    // the log and in cluster.json, so NATS restarted by hand with the same arguments
    // comes back where the nodes reconnect to.
    let port = if config.nats_port == 0 {
        free_port()?
    } else {
        config.nats_port
    }
    .to_string();
    let mut nats_command = Command::new(&nats_bin);
    nats_command
        .args(["-js", "-a", "127.0.0.1", "-p", &port, "-sd"])
        .arg(config.dir.join("jetstream"));
    let nats_pid = spawn_detached(&mut nats_command, &log)?;
    let mut started = Vec::new();
    let nats_address = match wait_for_line(&log, nats_pid, "Listening for client connections on ") {
        Ok(rest) => format!("nats://{}", rest.trim()),
        Err(err) => {
            stop(nats_pid, "nats-server");
            return Err(err);
        }
    };
    let nats = Started {
        pid: nats_pid,
        address: nats_address.clone(),
        log,
    };
    let exe = std::env::current_exe().map_err(|err| NodeError::io("finding rustyray", err))?;
    for index in 0..nodes {
        let port = if config.base_port == 0 {
            0
        } else {
            config.base_port.saturating_add(index as u16)
        };
        let log = config.dir.join(format!("node-{index}.log"));
        let mut command = Command::new(&exe);
        command
            .args([
                "start",
                "--port",
                &port.to_string(),
                "--cluster",
                &nats_address,
            ])
            .arg("--data-dir")
            .arg(config.dir.join(format!("node-{index}")));
        let result = spawn_detached(&mut command, &log).and_then(|pid| {
            let address = wait_for_line(&log, pid, "rustyray node listening on ");
            match address {
                Ok(address) => Ok(Started {
                    pid,
                    address: address.trim().to_string(),
                    log,
                }),
                Err(err) => {
                    stop(pid, "rustyray");
                    Err(err)
                }
            }
        });
        match result {
            Ok(node) => started.push(node),
            Err(err) => {
                for node in &started {
                    stop(node.pid, "rustyray");
                }
                stop(nats.pid, "nats-server");
                return Err(err);
            }
        }
    }
    let state = LocalCluster {
        nats,
        nodes: started,
    };
    let json = serde_json::to_vec_pretty(&state)
        .map_err(|err| NodeError::io("encoding the cluster's state", err))?;
    crate::modules::write_atomic(&state_path(&config.dir), &json)?;
    Ok(state)
}

/// What `down` found: the cluster recorded, and how many of its processes were still
/// running and were stopped (the others had ended already).
#[derive(Debug, Clone)]
pub struct Down {
    /// The cluster `cluster.json` recorded.
    pub cluster: LocalCluster,
    /// Nodes that were running and were stopped.
    pub nodes_stopped: usize,
    /// Whether nats-server was running and was stopped.
    pub nats_stopped: bool,
    /// The pid of a nats-server started again by hand on the cluster's store (the one
    /// `up` started had ended), which was stopped too.
    pub nats_restarted_stopped: Option<u32>,
}

/// Stops the cluster recorded in `dir`: nodes first, then nats-server.
pub fn down(dir: &Path) -> Result<Down> {
    let path = state_path(dir);
    let text = std::fs::read_to_string(&path).map_err(|_| {
        NodeError::BadRequest(format!(
            "no cluster is up in {} (no cluster.json there)",
            dir.display()
        ))
    })?;
    let state: LocalCluster = serde_json::from_str(&text)
        .map_err(|err| NodeError::io(format!("reading {}", path.display()), err))?;
    let nodes_stopped = state
        .nodes
        .iter()
        .filter(|node| stop(node.pid, "rustyray"))
        .count();
    let nats_stopped = stop(state.nats.pid, "nats-server");
    let nats_restarted_stopped = if nats_stopped {
        None
    } else {
        nats_on_store(&dir.join("jetstream")).filter(|pid| stop(*pid, "nats-server"))
    };
    let _ = std::fs::remove_file(&path);
    Ok(Down {
        cluster: state,
        nodes_stopped,
        nats_stopped,
        nats_restarted_stopped,
    })
}

/// A nats-server process whose store (`-sd DIR`, read against its working directory)
/// is `store`: one started again by hand with the command line `up` used.
fn nats_on_store(store: &Path) -> Option<u32> {
    let store = store.canonicalize().ok()?;
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<String> = cmdline
                .split(|byte| *byte == 0)
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect();
            let is_nats = args
                .first()
                .is_some_and(|program| program.ends_with("nats-server"));
            let Some(dir) = args
                .iter()
                .position(|arg| arg == "-sd" || arg == "--store_dir")
                .and_then(|at| args.get(at + 1))
            else {
                return false;
            };
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
            is_nats && cwd.join(dir).canonicalize().is_ok_and(|dir| dir == store)
        })
}

/// A free TCP port on 127.0.0.1, from the kernel.
fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|err| NodeError::io("finding a free port for nats-server", err))
}

/// Starts `command` in a session of its own, output to `log`; its pid.
fn spawn_detached(command: &mut Command, log: &Path) -> Result<u32> {
    use std::os::unix::process::CommandExt;
    let file = std::fs::File::create(log)
        .map_err(|err| NodeError::io(format!("creating {}", log.display()), err))?;
    let err_file = file
        .try_clone()
        .map_err(|err| NodeError::io(format!("opening {}", log.display()), err))?;
    command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err_file)
        .process_group(0);
    let child = command
        .spawn()
        .map_err(|err| NodeError::io(format!("starting {:?}", command.get_program()), err))?;
    Ok(child.id())
}

/// Waits until `log` has a line starting with (or containing) `prefix`; the rest of it.
fn wait_for_line(log: &Path, pid: u32, prefix: &str) -> Result<String> {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(rest) = text.lines().find_map(|line| {
            line.find(prefix)
                .map(|at| line[at + prefix.len()..].to_string())
        }) {
            return Ok(rest);
        }
        if !alive(pid) || start.elapsed() > READY_TIMEOUT {
            return Err(NodeError::BadRequest(format!(
                "a process of the cluster did not start (see {}):\n{}",
                log.display(),
                text.lines().rev().take(5).collect::<Vec<_>>().join("\n")
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `pid` runs (and is not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

/// Whether `pid` runs a program whose command line mentions `name` (a pid reused by
/// something else is left alone).
fn running(pid: u32, name: &str) -> bool {
    alive(pid)
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(name))
}

/// SIGTERM, then SIGKILL after [`STOP_TIMEOUT`]; whether `pid` was running `name`
/// (a pid that ended, or was reused by another program, is left alone).
fn stop(pid: u32, name: &str) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 0 || !running(pid, name) {
        return false;
    }
    // SAFETY: kill(2) on a pid checked to run `name`, with valid signal numbers.
    unsafe {
        libc::kill(raw, libc::SIGTERM);
    }
    let start = Instant::now();
    while alive(pid) && start.elapsed() < STOP_TIMEOUT {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(pid) {
        // SAFETY: as above.
        unsafe {
            libc::kill(raw, libc::SIGKILL);
        }
    }
    true
}
