//! The `rustyray` command line: the commands on an embedded runtime (`run`, `inspect`,
//! `call`, `new`, `bench`: [`program`]) and the node's: `start` a node, `deploy` modules
//! to it, `job submit|list|status|logs|stop|delete`, `list`, `summary` (the state API's
//! tables: `state_cli.rs`), `status`, `timeline`.
//!
//! A library as well as the binary so the integration tests can build the very same
//! command as a binary of their own (`CARGO_BIN_EXE_*` only exists inside one package).

mod cluster_bench;
pub mod program;
mod state_cli;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use rustyray::DirGrant;

use rustyray_node::api::{
    JobDetails, JobStatus, JobSubmitRequest, JobSubmitResponse, ModuleInfo, NodeStatus,
};
use rustyray_node::client::{Client, DEFAULT_ADDRESS};
use rustyray_node::error::{NodeError, Result};
use rustyray_node::server::NodeConfig;
use rustyray_node::state::Resource;

/// rustyray runs Ray-style tasks as sandboxed WebAssembly components.
///
/// Guests are Rust crates built for wasm32-wasip2 with the rustyray SDK: functions
/// marked #[rustyray::remote] become tasks, and a #[rustyray::main] makes the crate
/// a program that `rustyray run` starts, or that a node runs as a job.
#[derive(Parser, Debug)]
#[command(
    name = "rustyray",
    version,
    about = "rustyray runs Ray-style tasks and actors as sandboxed WebAssembly components; \
             `rustyray start` runs a node to deploy modules and submit jobs to",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Top,
}

// Parsed once per process: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Top {
    #[command(flatten)]
    Core(crate::program::Command),
    /// Start a node in the foreground: modules and jobs are submitted to it.
    ///
    /// It prints its address and serves until SIGINT or SIGTERM, which stop its jobs.
    /// Ray's job clients work against it (`ray job submit --address URL -- rustyray
    /// run MODULE`).
    ///
    /// Example: rustyray start --data-dir ~/.rustyray
    Start(StartArgs),
    /// Upload a component (or build and upload a guest crate) to the node.
    ///
    /// Modules are kept by SHA-256 and compiled once; their functions and actor
    /// classes are callable from every job.
    ///
    /// Example: rustyray deploy examples/tasks
    Deploy {
        /// A .wasm component or a guest crate directory.
        module: PathBuf,
        /// The name to deploy it under (default: the file or crate name).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        conn: Conn,
    },
    /// Submit and manage jobs (Ray's job API).
    Job {
        #[command(subcommand)]
        command: JobCommand,
    },
    /// List the node's jobs, modules, or its jobs' tasks, actors and objects (Ray's
    /// `ray list`).
    ///
    /// Tasks, actors and objects come from the state each job's driver writes every
    /// 100 ms or so; each job keeps its latest 10,000 task records.
    ///
    /// Example: rustyray list tasks --filter state=FAILED
    List {
        /// What to list.
        what: ListWhat,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Only entries whose field KEY equals VALUE (KEY!=VALUE: differs). Repeatable.
        #[arg(long, value_name = "KEY=VALUE")]
        filter: Vec<String>,
        /// At most N tasks, actors or objects (default 100, at most 10,000).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        #[command(flatten)]
        conn: Conn,
    },
    /// Count the node's tasks per function or actors per class, by state (Ray's
    /// `ray summary`).
    ///
    /// Example: rustyray summary tasks
    Summary {
        /// What to summarize.
        what: SummaryWhat,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        conn: Conn,
    },
    /// Write the timeline of a job (or of every job) as Chrome trace events, for
    /// Perfetto (ui.perfetto.dev) or chrome://tracing: one slice per task and actor call,
    /// on its worker thread, each job a process.
    ///
    /// Example: rustyray timeline --job rrsubmit_abc -o trace.json
    Timeline {
        /// The job's submission id (default: every job).
        #[arg(long)]
        job: Option<String>,
        /// The file to write.
        #[arg(short, long, default_value = "timeline.json")]
        output: PathBuf,
        #[command(flatten)]
        conn: Conn,
    },
    /// A cluster on this machine, for trying one: nats-server and N nodes.
    ///
    /// Example: rustyray cluster up --nodes 3; rustyray list nodes; rustyray cluster down
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// The node at a glance: address, resources, jobs by state, modules.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        conn: Conn,
    },
}

/// Where the node is.
#[derive(clap::Args, Debug, Clone)]
struct Conn {
    /// The node's address.
    #[arg(long, env = "RUSTYRAY_ADDRESS", default_value = DEFAULT_ADDRESS)]
    address: String,
    /// The node's token file (needed when the node was started with one).
    #[arg(long, env = "RUSTYRAY_TOKEN_FILE", value_name = "FILE")]
    token_file: Option<PathBuf>,
}

impl Conn {
    fn client(&self) -> Result<Client> {
        Client::new(&self.address, self.token_file.as_deref())
    }
}

#[derive(clap::Args, Debug)]
struct StartArgs {
    /// Port to listen on (0: any free one).
    #[arg(long, default_value_t = 8265)]
    port: u16,
    /// Address to bind; anything but loopback needs --token-file.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Keep modules, jobs, logs and compiled code here, across restarts (default: a
    /// temporary directory removed when the node stops).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Require `Authorization: Bearer TOKEN` with the token in FILE (created with a
    /// random token, mode 0600, when missing).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// A directory jobs may ask for (`--dir` in their entrypoint), read-only with
    /// `:ro`. Repeatable. Jobs get no directory otherwise.
    #[arg(long = "allow-dir", value_name = "PATH[:ro]", value_parser = parse_allow_dir)]
    allow_dirs: Vec<DirGrant>,
    /// A network destination jobs may ask for (`--allow-net` in their entrypoint):
    /// [tcp://|udp://|http://|https://]HOST[:PORT], as `rustyray run --allow-net`. A job
    /// may ask only for destinations each inside one of these, and never gets more.
    /// Repeatable. Jobs get no network otherwise.
    #[arg(long = "allow-net", value_name = "HOST[:PORT]", value_parser = parse_net)]
    allow_net: Vec<rustyray::NetRule>,
    /// A port or range jobs may ask to listen on (`--allow-listen`). Repeatable.
    #[arg(long = "allow-listen", value_name = "PORT", value_parser = rustyray::net::parse_ports)]
    allow_listen: Vec<rustyray::PortRange>,
    /// Jobs running at once; later ones wait as PENDING.
    #[arg(long, default_value_t = 8)]
    max_jobs: usize,
    /// Linear memory each task, actor and driver of a job may grow to, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    job_memory: u64,
    /// Largest module upload, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    max_upload_mib: u64,
    /// Log kept per job, in MiB (the rest is dropped, with a note).
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    max_log_mib: u64,
    /// Join the cluster whose state is in this NATS JetStream server (`nats://HOST:PORT`,
    /// started with `nats-server -js`). Every node of a cluster accepts deploys, jobs
    /// and the state API for all of them.
    #[arg(long, value_name = "nats://HOST:PORT")]
    cluster: Option<String>,
    /// Custom resources this node offers jobs, as Ray's `--resources` (CPU is counted).
    #[arg(long, value_name = "NAME=N,...", value_parser = rustyray_node::cluster::parse_resources)]
    resources: Option<std::collections::BTreeMap<String, f64>>,
    /// In a cluster: task runtimes (one per job, namespace and module set) this node keeps
    /// at once for tasks other nodes send it; past it such a task fails with
    /// `LimitExceeded` (task runtimes). A job's runtimes are given back when it ends.
    #[arg(long, value_name = "N", default_value_t = rustyray_node::cluster_tasks::MAX_TASK_RUNTIMES)]
    max_task_runtimes: usize,
    /// In a cluster: a task result larger than this many bytes (Ray's
    /// `max_direct_call_object_size`) stays on the node that ran the task; its owner
    /// fetches it from there when it is used, and a task lost with that node is run
    /// again (lineage) or its reads fail with `ObjectLost`.
    #[arg(long, value_name = "BYTES", default_value_t = rustyray_node::cluster_objects::MAX_DIRECT_CALL_OBJECT_SIZE)]
    max_direct_call_object_size: usize,
    /// In a cluster: the most MiB of objects this node keeps for other nodes at once —
    /// such results, kept for their owners (past it a result is sent back by value),
    /// and objects of this node's runtimes whose references crossed to other nodes in
    /// task or actor-call arguments and results (past it such a reference fails
    /// ReferencesCannotCross naming this flag).
    #[arg(long, value_name = "MIB", default_value_t = rustyray_node::cluster_objects::MAX_HELD_MIB)]
    max_held_objects_mib: u64,
    /// In a cluster: the largest actor snapshot this node keeps in JetStream (and reads
    /// back to restart an actor elsewhere), in MiB. A larger snapshot is not kept: the
    /// actor goes on, its previous snapshot stays, and the node's stderr names this flag.
    #[arg(long, value_name = "MIB", default_value_t = rustyray_node::cluster_actors::MAX_SNAPSHOT_MIB)]
    max_snapshot_mib: u64,
}

fn parse_net(spec: &str) -> std::result::Result<rustyray::NetRule, String> {
    rustyray::net::parse_net_rule(spec).map_err(|err| err.to_string())
}

fn parse_allow_dir(spec: &str) -> std::result::Result<DirGrant, String> {
    let (path, access) = match spec.strip_suffix(":ro") {
        Some(path) => (path, rustyray::DirAccess::ReadOnly),
        None => (spec, rustyray::DirAccess::ReadWrite),
    };
    Ok(DirGrant {
        host: PathBuf::from(path),
        guest: path.to_string(),
        access,
    })
}

// `Submit` carries every flag; the enum is parsed once per process, so its size is moot.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum JobCommand {
    /// Upload a program and run its #[rustyray::main] on the node.
    ///
    /// APP is a .wasm component, a guest crate directory (built first), or the name
    /// or sha256 of a deployed module. Without --no-wait, streams the job's output and
    /// exits with its status (0 succeeded, 1 otherwise).
    ///
    /// Example: rustyray job submit examples/tasks -- 20
    Submit {
        /// Print the job's id and return at once.
        #[arg(long)]
        no_wait: bool,
        /// The job's id (default: a new rrsubmit_… id).
        #[arg(long, value_name = "ID")]
        submission_id: Option<String>,
        /// Linear memory each task, actor and the driver may grow to, in MiB (at most
        /// the node's --job-memory).
        #[arg(long, value_name = "MIB")]
        memory: Option<u64>,
        /// Fuel for each task and actor call.
        #[arg(long, value_name = "N")]
        fuel: Option<u64>,
        /// Default deadline of each task and actor call, in milliseconds.
        #[arg(long, value_name = "MS")]
        task_timeout: Option<u64>,
        /// Worker threads of the job.
        #[arg(long)]
        workers: Option<u64>,
        /// Captured output of each task or actor call, in KiB.
        #[arg(long, value_name = "KIB")]
        max_output: Option<u64>,
        /// Largest result of a task or actor call, in KiB.
        #[arg(long, value_name = "KIB")]
        max_result: Option<u64>,
        /// A directory for the job, within the node's --allow-dir. Repeatable.
        #[arg(long = "dir", value_name = "HOST[:GUEST][:ro]")]
        dirs: Vec<String>,
        /// A network destination for the job, within the node's --allow-net. Repeatable.
        #[arg(long = "allow-net", value_name = "HOST[:PORT]")]
        allow_net: Vec<String>,
        /// A port the job may listen on, within the node's --allow-listen. Repeatable.
        #[arg(long = "allow-listen", value_name = "PORT")]
        allow_listen: Vec<String>,
        /// Do not show tasks' output in the log.
        #[arg(long)]
        quiet_tasks: bool,
        /// The job's namespace (Ray's `ray.init(namespace=...)`): its named actors are
        /// looked up there, and later jobs of the same namespace find its detached
        /// actors. Default: an anonymous namespace of the job's own.
        #[arg(long, value_name = "NS")]
        namespace: Option<String>,
        /// Resources the job needs on its node (Ray's entrypoint resources): in a
        /// cluster, it runs on a live node that has them.
        #[arg(long, value_name = "NAME=N,...", value_parser = rustyray_node::cluster::parse_resources)]
        resources: Option<std::collections::BTreeMap<String, f64>>,
        /// The program: .wasm, crate directory, or deployed module name or sha256.
        app: String,
        /// Arguments for the program.
        #[arg(last = true)]
        args: Vec<String>,
        #[command(flatten)]
        conn: Conn,
    },
    /// List jobs.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        conn: Conn,
    },
    /// A job's status.
    Status {
        /// The job's submission id.
        id: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// A job's output so far, or as it is written with --follow.
    Logs {
        /// The job's submission id.
        id: String,
        /// Keep printing until the job ends.
        #[arg(long, short)]
        follow: bool,
        #[command(flatten)]
        conn: Conn,
    },
    /// Stop a job: its driver gets SIGTERM, then SIGKILL; its tasks and actors end.
    Stop {
        /// The job's submission id.
        id: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Delete an ended job, its record and its log.
    Delete {
        /// The job's submission id.
        id: String,
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(Subcommand, Debug)]
enum ClusterCommand {
    /// Start nats-server (JetStream, from PATH) and N nodes joined to it, in the
    /// background; their pids go to DIR/cluster.json.
    Up {
        /// Nodes to start.
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// NATS's port (0: any free one).
        #[arg(long, default_value_t = 4222)]
        nats_port: u16,
        /// The first node's port; the others follow it (0: any free ones).
        #[arg(long, default_value_t = 8265)]
        base_port: u16,
        /// Where NATS's store, the logs and the nodes' data go.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Stop the cluster `up` started (nodes, then nats-server).
    Down {
        /// The directory given to `up`.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum ListWhat {
    Jobs,
    Modules,
    Tasks,
    Actors,
    Objects,
    /// The cluster's nodes (a node alone lists itself).
    Nodes,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum SummaryWhat {
    Tasks,
    Actors,
}

impl Top {
    /// Whether it is a client of a node that prints what it was told and ends (not a
    /// node, a cluster, or a program run here).
    fn is_client(&self) -> bool {
        !matches!(self, Top::Core(_) | Top::Start(_) | Top::Cluster { .. })
    }
}

/// A client's output piped into `head` (or anything that stops reading) ends it quietly,
/// as a Unix tool does, instead of a panic on the failed print: the default action of
/// SIGPIPE, which Rust's runtime sets to ignored.
fn quiet_on_a_closed_pipe() {
    // SAFETY: signal(2) with the default action, before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Parses the process's arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.command.is_client() {
        quiet_on_a_closed_pipe();
    }
    let result = match cli.command {
        Top::Core(command) => {
            return match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(executor) => match executor.block_on(crate::program::execute(command)) {
                    Ok(code) => code,
                    Err(err) => {
                        // Errors carry guest-chosen names and messages.
                        eprintln!(
                            "rustyray: error: {}",
                            rustyray::terminal::escape_text(&err.to_string())
                        );
                        ExitCode::FAILURE
                    }
                },
                Err(err) => {
                    eprintln!("rustyray: cannot start: {err}");
                    ExitCode::FAILURE
                }
            };
        }
        Top::Start(args) => start(args),
        Top::Deploy { module, name, conn } => deploy(&module, name, &conn),
        Top::Job { command } => job(command),
        Top::List {
            what: ListWhat::Tasks,
            json,
            filter,
            limit,
            conn,
        } => crate::state_cli::list(Resource::Tasks, json, &filter, limit, conn.client()),
        Top::List {
            what: ListWhat::Actors,
            json,
            filter,
            limit,
            conn,
        } => crate::state_cli::list(Resource::Actors, json, &filter, limit, conn.client()),
        Top::List {
            what: ListWhat::Objects,
            json,
            filter,
            limit,
            conn,
        } => crate::state_cli::list(Resource::Objects, json, &filter, limit, conn.client()),
        Top::List {
            what,
            json,
            filter,
            conn,
            ..
        } => list(what, json, &filter, &conn),
        Top::Summary {
            what: SummaryWhat::Tasks,
            json,
            conn,
        } => crate::state_cli::summarize(Resource::Tasks, json, conn.client()),
        Top::Summary {
            what: SummaryWhat::Actors,
            json,
            conn,
        } => crate::state_cli::summarize(Resource::Actors, json, conn.client()),
        Top::Status { json, conn } => status(json, &conn),
        Top::Cluster { command } => local_cluster(command),
        Top::Timeline { job, output, conn } => timeline(job.as_deref(), &output, &conn),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // Node errors may carry job output or module names: escaped too.
            eprintln!(
                "rustyray: error: {}",
                rustyray::terminal::escape_text(&err.to_string())
            );
            ExitCode::FAILURE
        }
    }
}

fn start(args: StartArgs) -> Result<ExitCode> {
    let config = NodeConfig {
        host: args.host,
        port: args.port,
        data_dir: args.data_dir,
        token_file: args.token_file,
        allow_dirs: args.allow_dirs,
        allow_net: args.allow_net,
        allow_listen: args.allow_listen,
        max_jobs: args.max_jobs.max(1),
        job_memory_mib: args.job_memory.max(1),
        max_upload_mib: args.max_upload_mib.max(1),
        max_log_mib: args.max_log_mib.max(1),
        cluster: args.cluster,
        resources: args.resources.unwrap_or_default(),
        max_task_runtimes: args.max_task_runtimes.max(1),
        max_direct_call_object_size: args.max_direct_call_object_size,
        max_held_objects_mib: args.max_held_objects_mib,
        max_snapshot_mib: args.max_snapshot_mib.max(1),
    };
    let executor = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| NodeError::io("starting", err))?;
    executor.block_on(async move {
        let node = rustyray_node::server::start(config).await?;
        let address = node.address().to_string();
        println!("rustyray node listening on {address}");
        println!("  data:      {}", node.data_dir().display());
        if let Some((node_id, url)) = node.cluster() {
            println!("  cluster:   {url} as {node_id} (rustyray list nodes)");
        }
        println!("  dashboard: {address}/");
        println!(
            "  submit:    RUSTYRAY_ADDRESS={address} rustyray job submit examples/tasks -- 20"
        );
        println!("  stop:      Ctrl-C (or SIGTERM): running jobs are stopped");
        let _ = std::io::stdout().flush();
        node.serve(shutdown_signal()).await?;
        println!("rustyray node stopped");
        Ok(ExitCode::SUCCESS)
    })
}

fn local_cluster(command: ClusterCommand) -> Result<ExitCode> {
    match command {
        ClusterCommand::Up {
            nodes,
            nats_port,
            base_port,
            dir,
        } => {
            let given = dir.is_some();
            let dir = dir.unwrap_or_else(rustyray_node::local_cluster::default_dir);
            let cluster =
                rustyray_node::local_cluster::up(&rustyray_node::local_cluster::UpConfig {
                    nodes,
                    nats_port,
                    base_port,
                    dir: dir.clone(),
                })?;
            println!(
                "NATS JetStream at {} (pid {})",
                cluster.nats.address, cluster.nats.pid
            );
            for node in &cluster.nodes {
                println!("node at {} (pid {})", node.address, node.pid);
            }
            if let Some(first) = cluster.nodes.first() {
                println!("  try:  export RUSTYRAY_ADDRESS={}", first.address);
                println!("        rustyray list nodes");
            }
            println!("  logs: {}", dir.display());
            if given {
                println!("  stop: rustyray cluster down --dir {}", dir.display());
            } else {
                println!("  stop: rustyray cluster down");
            }
            Ok(ExitCode::SUCCESS)
        }
        ClusterCommand::Down { dir } => {
            let dir = dir.unwrap_or_else(rustyray_node::local_cluster::default_dir);
            let down = rustyray_node::local_cluster::down(&dir)?;
            let gone = down.cluster.nodes.len() - down.nodes_stopped;
            println!(
                "stopped {} of {} nodes{} and {} ({})",
                down.nodes_stopped,
                down.cluster.nodes.len(),
                if gone > 0 {
                    format!(" ({gone} had ended already)")
                } else {
                    String::new()
                },
                match (down.nats_stopped, down.nats_restarted_stopped) {
                    (true, _) => "NATS".to_string(),
                    (false, Some(pid)) => format!(
                        "NATS (the one started again by hand on the cluster's store, pid {pid})"
                    ),
                    (false, None) => "not NATS (it had ended already)".to_string(),
                },
                down.cluster.nats.address
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

/// The bytes and name of a .wasm file, or of a program directory built first (a Rust
/// crate, a Python or a JavaScript program, as `rustyray run` builds them). The name is
/// the crate's (its .wasm's), or a Python or JavaScript program directory's own.
fn module_bytes(path: &Path) -> Result<(Vec<u8>, String)> {
    let wasm = if path.is_dir() {
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.set_message(format!("building {}", path.display()));
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
        let built = program::resolve_program(path);
        spinner.finish_and_clear();
        built?
    } else {
        path.to_path_buf()
    };
    let bytes = std::fs::read(&wasm)
        .map_err(|err| NodeError::io(format!("reading {}", wasm.display()), err))?;
    let crate_dir = path.join("Cargo.toml").is_file();
    let named = if path.is_dir() && !crate_dir {
        path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
    } else {
        wasm
    };
    let name = named
        .file_stem()
        .map_or_else(|| "module".into(), |s| s.to_string_lossy().into_owned());
    Ok((bytes, name))
}

fn deploy(path: &Path, name: Option<String>, conn: &Conn) -> Result<ExitCode> {
    let client = conn.client()?;
    // Check the node is there before a build.
    client.get::<rustyray_node::api::VersionInfo>("/api/version")?;
    let (bytes, default_name) = module_bytes(path)?;
    let module = client.deploy(&bytes, name.as_deref().unwrap_or(&default_name))?;
    println!(
        "deployed {} ({}, {} bytes): {} functions, {} actor classes{}",
        module.name,
        &module.sha256[..16],
        module.size,
        module.functions.len(),
        module.actor_classes.len(),
        if module.has_main { ", has a main" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
fn job(command: JobCommand) -> Result<ExitCode> {
    match command {
        JobCommand::Submit {
            no_wait,
            submission_id,
            memory,
            fuel,
            task_timeout,
            workers,
            max_output,
            max_result,
            dirs,
            allow_net,
            allow_listen,
            quiet_tasks,
            namespace,
            resources,
            app,
            args,
            conn,
        } => {
            let client = conn.client()?;
            client.get::<rustyray_node::api::VersionInfo>("/api/version")?;
            let path = Path::new(&app);
            let module = if path.exists() {
                let (bytes, name) = module_bytes(path)?;
                client.deploy(&bytes, &name)?.sha256
            } else {
                app.clone()
            };
            let mut words = vec!["rustyray".to_string(), "run".into(), module];
            for (flag, value) in [
                ("--memory", memory),
                ("--fuel", fuel),
                ("--task-timeout", task_timeout),
                ("--workers", workers),
                ("--max-output", max_output),
                ("--max-result", max_result),
            ] {
                if let Some(value) = value {
                    words.extend([flag.to_string(), value.to_string()]);
                }
            }
            for dir in dirs {
                words.extend(["--dir".to_string(), dir]);
            }
            for rule in allow_net {
                words.extend(["--allow-net".to_string(), rule]);
            }
            for ports in allow_listen {
                words.extend(["--allow-listen".to_string(), ports]);
            }
            if quiet_tasks {
                words.push("--quiet-tasks".into());
            }
            if let Some(namespace) = namespace {
                words.extend(["--namespace".to_string(), namespace]);
            }
            if !args.is_empty() {
                words.push("--".into());
                words.extend(args);
            }
            let entrypoint = shlex::try_join(words.iter().map(String::as_str)).map_err(|err| {
                NodeError::BadRequest(format!("an argument cannot be quoted: {err}"))
            })?;
            let submitted: JobSubmitResponse = client.post(
                "/api/jobs/",
                &JobSubmitRequest {
                    entrypoint,
                    submission_id,
                    entrypoint_resources: resources,
                    ..Default::default()
                },
            )?;
            let id = submitted.submission_id;
            eprintln!("Job '{id}' submitted.");
            if no_wait {
                println!("{id}");
                eprintln!("  status: rustyray job status {id}");
                eprintln!("  logs:   rustyray job logs {id} --follow");
                eprintln!("  stop:   rustyray job stop {id}");
                return Ok(ExitCode::SUCCESS);
            }
            follow_and_finish(&client, &id)
        }
        JobCommand::List { json, conn } => list(ListWhat::Jobs, json, &[], &conn),
        JobCommand::Status { id, conn } => {
            let client = conn.client()?;
            let job: JobDetails = client.get(&format!("/api/jobs/{id}"))?;
            println!("Job '{id}': {}", job.status.as_str());
            if let Some(message) = job.message {
                println!("  {message}");
            }
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Logs { id, follow, conn } => {
            let client = conn.client()?;
            if follow {
                client.follow(&format!("/api/jobs/{id}/logs/stream"), print_chunk)?;
            } else {
                let logs: rustyray_node::api::JobLogsResponse =
                    client.get(&format!("/api/jobs/{id}/logs"))?;
                print_chunk(logs.logs.as_bytes());
            }
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Stop { id, conn } => {
            let client = conn.client()?;
            let stop: rustyray_node::api::JobStopResponse =
                client.post(&format!("/api/jobs/{id}/stop"), &serde_json::json!({}))?;
            if stop.stopped {
                println!("Stopping job '{id}'.");
            } else {
                println!("Job '{id}' had already ended.");
            }
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Delete { id, conn } => {
            let client = conn.client()?;
            let _: rustyray_node::api::JobDeleteResponse =
                client.delete(&format!("/api/jobs/{id}"))?;
            println!("Job '{id}' deleted.");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Streams the job's log, then reports how it ended (exit 0 if it succeeded).
fn follow_and_finish(client: &Client, id: &str) -> Result<ExitCode> {
    client.follow(&format!("/api/jobs/{id}/logs/stream"), print_chunk)?;
    let job: JobDetails = client.get(&format!("/api/jobs/{id}"))?;
    let message = job.message.unwrap_or_default();
    eprintln!("Job '{id}' {}: {message}", job.status.as_str());
    Ok(if job.status == JobStatus::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Prints guest output with control characters shown escaped, so a job cannot drive
/// the terminal.
fn print_chunk(chunk: &[u8]) -> bool {
    let text: Vec<String> = chunk
        .split(|b| *b == b'\n')
        .map(rustyray::terminal::escape_line)
        .collect();
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.join("\n").as_bytes());
    let _ = stdout.flush();
    true
}

fn list(what: ListWhat, json: bool, filters: &[String], conn: &Conn) -> Result<ExitCode> {
    let client = conn.client()?;
    let rows: Vec<serde_json::Value> = match what {
        ListWhat::Jobs => client.get("/api/v0/jobs")?,
        ListWhat::Modules => client.get("/api/v0/modules")?,
        ListWhat::Tasks | ListWhat::Actors | ListWhat::Objects => {
            return Err(NodeError::BadRequest(
                "tasks, actors and objects are listed by the state API".into(),
            ));
        }
        ListWhat::Nodes => client.get("/api/v0/nodes")?,
    };
    let mut wanted = Vec::new();
    for filter in filters {
        let (key, value) = filter.split_once('=').ok_or_else(|| {
            NodeError::BadRequest(format!("--filter {filter:?}: write it KEY=VALUE"))
        })?;
        wanted.push((key.to_string(), value.to_string()));
    }
    let rows: Vec<serde_json::Value> = rows
        .into_iter()
        .filter(|row| {
            wanted.iter().all(|(key, value)| match &row[key] {
                serde_json::Value::String(text) => text == value,
                serde_json::Value::Null => value == "null",
                other => serde_json::to_string(other).is_ok_and(|text| text == *value),
            })
        })
        .collect();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    match what {
        ListWhat::Nodes => {
            println!(
                "{:<22} {:<6} {:<28} {:>4} {:>4} {:>5} {:>6} {:>9}  RESOURCES (available/total)",
                "NODE ID", "STATE", "ADDRESS", "RUN", "WAIT", "TASKS", "QUEUED", "HEARTBEAT"
            );
            let now = rustyray_node::api::now_ms();
            for row in rows {
                let node: rustyray_node::api::NodeEntry = serde_json::from_value(row)
                    .map_err(|err| NodeError::io("reading a node", err))?;
                let resources: Vec<String> = node
                    .resources
                    .iter()
                    .map(|(name, total)| {
                        let free = node.available.get(name).copied().unwrap_or(0.0);
                        format!("{name} {free}/{total}")
                    })
                    .collect();
                let age = now.saturating_sub(node.last_heartbeat_ms) as f64 / 1000.0;
                println!(
                    "{:<22} {:<6} {:<28} {:>4} {:>4} {:>5} {:>6} {:>8.1}s  {}{}",
                    node.node_id,
                    node.state,
                    node.address,
                    node.running_jobs,
                    node.pending_jobs,
                    node.running_tasks
                        .map_or_else(|| "-".to_string(), |tasks| tasks.to_string()),
                    node.waiting_for_resources
                        .map_or_else(|| "-".to_string(), |waiting| waiting.to_string()),
                    age,
                    resources.join(", "),
                    if node.this_node { "  (this node)" } else { "" }
                );
            }
        }
        ListWhat::Jobs => {
            println!(
                "{:<28} {:<10} {:<9} ENTRYPOINT",
                "SUBMISSION ID", "STATUS", "EXIT"
            );
            for row in rows {
                let job: JobDetails = serde_json::from_value(row)
                    .map_err(|err| NodeError::io("reading a job", err))?;
                println!(
                    "{:<28} {:<10} {:<9} {}",
                    job.submission_id.unwrap_or_default(),
                    job.status.as_str(),
                    job.driver_exit_code.map_or("-".into(), |c| c.to_string()),
                    rustyray::terminal::escape_text(&job.entrypoint)
                );
            }
        }
        ListWhat::Tasks | ListWhat::Actors | ListWhat::Objects => {}
        ListWhat::Modules => {
            println!(
                "{:<20} {:<18} {:>10} {:<5} EXPORTS",
                "NAME", "SHA256", "BYTES", "MAIN"
            );
            for row in rows {
                let module: ModuleInfo = serde_json::from_value(row)
                    .map_err(|err| NodeError::io("reading a module", err))?;
                println!(
                    "{:<20} {:<18} {:>10} {:<5} {}",
                    module.name,
                    &module.sha256[..16],
                    module.size,
                    if module.has_main { "yes" } else { "no" },
                    module.exports.join(", ")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn timeline(job: Option<&str>, output: &std::path::Path, conn: &Conn) -> Result<ExitCode> {
    let client = conn.client()?;
    let path = match job {
        Some(id) => format!(
            "/api/v0/timeline?job_id={}",
            rustyray_node::client::url_encode(id)
        ),
        None => "/api/v0/timeline".to_string(),
    };
    let events: Vec<serde_json::Value> = client.get(&path)?;
    let slices = events
        .iter()
        .filter(|event| event.get("ph").and_then(serde_json::Value::as_str) == Some("X"))
        .count();
    let json = serde_json::to_vec(&events)
        .map_err(|err| rustyray_node::error::NodeError::io("encoding the timeline", err))?;
    std::fs::write(output, json).map_err(|err| {
        rustyray_node::error::NodeError::io(format!("writing {}", output.display()), err)
    })?;
    println!(
        "wrote {slices} slices to {} (open it in https://ui.perfetto.dev or chrome://tracing)",
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn status(json: bool, conn: &Conn) -> Result<ExitCode> {
    let client = conn.client()?;
    let status: NodeStatus = client.get("/api/v0/status")?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "node:      {} (rustyray {})",
        status.address, status.version
    );
    println!("uptime:    {} s", status.uptime_s);
    println!(
        "data:      {}",
        status
            .data_dir
            .as_deref()
            .unwrap_or("temporary (no --data-dir)")
    );
    println!(
        "resources: {} CPUs, {} jobs at once, {} MiB per guest",
        status.cpus, status.max_jobs, status.job_memory_mib
    );
    println!(
        "memory:    node {} MiB resident",
        status.node_rss_kib / 1024
    );
    let jobs: Vec<String> = status
        .jobs
        .iter()
        .map(|(state, count)| format!("{count} {state}"))
        .collect();
    println!("jobs:      {}", jobs.join(", "));
    println!("modules:   {}", status.modules);
    if !status.allow_dirs.is_empty() {
        println!("dirs:      {}", status.allow_dirs.join(", "));
    }
    let net = if status.allow_net.is_empty() {
        "none".to_string()
    } else {
        status.allow_net.join(", ")
    };
    println!("network:   {net}");
    if !status.allow_listen.is_empty() {
        println!("listen:    {}", status.allow_listen.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
