//! The commands on an embedded runtime: `run` a guest program (a component, a crate, a
//! Python or JavaScript directory), `inspect` a component, `call` one function, `new`
//! to scaffold a guest crate, `bench`.

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::Write as _;

use clap::{Parser, Subcommand};
use rustyray::net::{NetAllow, NetGrants, NetRule, PortRange, parse_net_rule, parse_ports};
use rustyray::output::{OutputLine, Stream};
use rustyray::sandbox::parse_dir_grant;
use rustyray::terminal::{escape, escape_line, escape_text};
use rustyray::{Capabilities, DirGrant, Limits, Runtime, Stdin};
use rustyray_builder::{guest_build, js_build, python_build};

fn parse_dir(spec: &str) -> Result<DirGrant, String> {
    parse_dir_grant(spec)
}

fn parse_net(spec: &str) -> Result<NetRule, String> {
    parse_net_rule(spec).map_err(|err| err.to_string())
}

/// Shows a line a task printed, prefixed with the task: `[task 12 add] hello`,
/// on the stream it was written to. Control characters are escaped, in the line and
/// in the prefix (which holds guest-chosen names), so a guest cannot drive the terminal.
fn print_live(line: &OutputLine<'_>) {
    let text = format!("[{}] {}\n", escape(line.source), escape_line(line.line));
    // A closed pipe is not the guest's problem.
    let _ = match line.stream {
        Stream::Stdout => std::io::stdout().lock().write_all(text.as_bytes()),
        Stream::Stderr => std::io::stderr().lock().write_all(text.as_bytes()),
    };
}

/// Says (once, on stderr) that the compile cache directory was refused as unsafe.
fn warn_cache_refused(runtime: &Runtime) {
    if let Some(why) = runtime.cache_refused() {
        eprintln!("rustyray: warning: {}", escape_text(why));
    }
}

/// rustyray runs Ray-style tasks as sandboxed WebAssembly components.
///
/// Guests are Rust crates built for wasm32-wasip2 with the rustyray SDK: functions
/// marked #[rustyray::remote] become tasks, and a #[rustyray::main] makes the crate
/// a program that `rustyray run` starts.
#[derive(Parser, Debug)]
#[command(name = "rustyray", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The runtime's commands; the `rustyray` binary (`cli/`) adds the node's beside them.
// `Run` carries every flag; the enum is parsed once per process, so its size is moot.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a guest program's #[rustyray::main].
    ///
    /// PROGRAM is a .wasm component, or a guest crate directory (built for
    /// wasm32-wasip2 first). Arguments after `--` go to the program. Exits with the
    /// program's status.
    ///
    /// Example: rustyray run examples/tasks -- 100
    Run {
        /// A .wasm component, a guest crate directory, a Python program directory
        /// (main.py or app.py) or a JavaScript program directory (main.js).
        program: PathBuf,
        /// More components (or program directories, built first) whose functions and
        /// actor classes the program may call. Repeatable.
        #[arg(long = "load", value_name = "WASM|DIR")]
        load: Vec<PathBuf>,
        /// Worker threads (default: one per core).
        #[arg(long)]
        workers: Option<usize>,
        /// Default deadline for each task and actor call, in milliseconds.
        #[arg(long, value_name = "MS")]
        task_timeout: Option<u64>,
        /// Grant a host directory, as GUEST inside (default: the same path),
        /// read-only with `:ro` (default read-write). Repeatable.
        #[arg(long = "dir", value_name = "HOST[:GUEST][:ro]", value_parser = parse_dir)]
        dirs: Vec<DirGrant>,
        /// Grant an environment variable: NAME=VALUE, or NAME to pass the host's
        /// value. Repeatable.
        #[arg(long = "env", value_name = "NAME[=VALUE]")]
        envs: Vec<String>,
        /// Let the program, its tasks and actors reach a destination:
        /// [tcp://|udp://|http://|https://]HOST[:PORT], HOST an IP, a CIDR block, a DNS
        /// name, *.domain or *, PORT a port, a range (8000-8099) or * (the default).
        /// TCP, UDP and wasi:http; a name's loopback or link-local addresses need
        /// listing themselves. Repeatable.
        #[arg(long = "allow-net", value_name = "HOST[:PORT]", value_parser = parse_net)]
        allow_net: Vec<NetRule>,
        /// Let them listen on (bind) a port or range of ports. Repeatable.
        #[arg(long = "allow-listen", value_name = "PORT", value_parser = parse_ports)]
        allow_listen: Vec<PortRange>,
        /// A bound over the network grants (the node passes its operator's
        /// `--allow-net` here): what passes must pass both, so the grants cannot widen
        /// it. Repeatable; any bound flag, even with no rule, bounds the grants.
        #[arg(long = "net-bound", value_name = "HOST[:PORT]", value_parser = parse_net, hide = true)]
        net_bound: Vec<NetRule>,
        /// Listening ports of the bound (the operator's `--allow-listen`). Repeatable.
        #[arg(long = "listen-bound", value_name = "PORT", value_parser = parse_ports, hide = true)]
        listen_bound: Vec<PortRange>,
        /// Lay the bound of --net-bound/--listen-bound even if it is empty (then
        /// nothing passes).
        #[arg(long = "net-bounded", hide = true)]
        net_bounded: bool,
        /// The namespace of the program's actor names when it names none (Ray's
        /// `ray.init(namespace=...)`; default "default").
        #[arg(long, value_name = "NS")]
        namespace: Option<String>,
        /// The node's socket for detached actors (the node passes it to a job's driver):
        /// detached actors are created there and names not found here looked up there.
        #[arg(long = "node-actors", value_name = "SOCKET", hide = true)]
        node_actors: Option<PathBuf>,
        /// The job this driver runs (the node passes it): its non-detached actors placed
        /// on the cluster end with it.
        #[arg(
            long = "job-id",
            value_name = "ID",
            hide = true,
            requires = "node_actors"
        )]
        job_id: Option<String>,
        /// The node's socket for tasks (a node in a cluster passes it to a job's
        /// driver): tasks that can run anywhere are sent there, and the node places them
        /// on the cluster's nodes.
        #[arg(long = "node-tasks", value_name = "SOCKET", hide = true)]
        node_tasks: Option<PathBuf>,
        /// Sockets and HTTP connections each task or actor may have open (default 16).
        #[arg(long, value_name = "N")]
        max_connections: Option<u32>,
        /// Bytes each task or actor call may send over the network, in KiB
        /// (default 1 GiB).
        #[arg(long, value_name = "KIB")]
        max_sent: Option<u64>,
        /// Bytes each task or actor call may receive over the network, in KiB
        /// (default 1 GiB).
        #[arg(long, value_name = "KIB")]
        max_received: Option<u64>,
        /// How long a connect may take, in milliseconds (default 10000).
        #[arg(long, value_name = "MS")]
        connect_timeout: Option<u64>,
        /// How long a network read may wait for data, in milliseconds (default 30000).
        #[arg(long, value_name = "MS")]
        read_timeout: Option<u64>,
        /// Let the program (not its tasks) read this process's stdin.
        #[arg(long)]
        stdin: bool,
        /// Linear memory each task, actor and the program may grow to, in MiB
        /// (default 256).
        #[arg(long, value_name = "MIB")]
        memory: Option<usize>,
        /// Tasks executing at once (default 16 per worker thread); the rest queue.
        #[arg(long, value_name = "N")]
        max_running: Option<usize>,
        /// Task instances alive at once, running or waiting in get (default 1000);
        /// past it a task fails with the live instances limit.
        #[arg(long, value_name = "N")]
        max_instances: Option<u32>,
        /// Actors alive at once (default 1000), counted apart from tasks; past it
        /// creating one fails with the live actors limit.
        #[arg(long, value_name = "N")]
        max_actors: Option<u32>,
        /// Memory the host may hold for guests, all together, in MiB: objects, queued
        /// arguments, errors, captured output, grown linear memory (default 16 x
        /// --memory, at least 1024, at most half the machine).
        #[arg(long, value_name = "MIB")]
        host_memory: Option<usize>,
        /// Fuel (about one unit per wasm instruction) for each task and actor call;
        /// turns fuel metering on.
        #[arg(long, value_name = "N")]
        fuel: Option<u64>,
        /// Captured stdout plus stderr of each task or actor call, in KiB (default 1024).
        #[arg(long, value_name = "KIB")]
        max_output: Option<usize>,
        /// Largest result of a task or actor call, in KiB (default: the memory limit).
        #[arg(long, value_name = "KIB")]
        max_result: Option<usize>,
        /// Bytes of objects kept in memory, in MiB (default: half of --host-memory, at
        /// most 4096); past it the least recently used objects spill to disk
        /// (--spill-dir, up to --max-spill) and come back when used.
        #[arg(long, value_name = "MIB")]
        object_store: Option<usize>,
        /// Where objects spill when the object store is full (default: spill/ in the
        /// compile cache directory); each run writes a private subdirectory of its own
        /// there and removes it.
        #[arg(long, value_name = "DIR")]
        spill_dir: Option<PathBuf>,
        /// Bytes of objects that may be spilled to disk at once, in MiB (default 4 x
        /// --object-store); past it what does not fit is refused.
        #[arg(long, value_name = "MIB")]
        max_spill: Option<usize>,
        /// Do not show tasks' output live (it is still captured).
        #[arg(long)]
        quiet_tasks: bool,
        /// Write a timeline of every task and actor call to FILE: Chrome trace events
        /// (one slice per task or call, on its worker thread), for Perfetto or
        /// chrome://tracing.
        #[arg(long, value_name = "FILE")]
        timeline: Option<PathBuf>,
        /// The most the timeline file may take, in MiB (default 64); then it ends with
        /// an event saying it was cut.
        #[arg(long, value_name = "MIB")]
        timeline_max_mib: Option<u64>,
        /// Write the state API's snapshot (tasks, actors, objects) to FILE as JSON,
        /// every 100 ms or so and at exit (the node reads its jobs' files).
        #[arg(long, value_name = "FILE", hide = true)]
        state_file: Option<PathBuf>,
        /// Pass the program's own stdout and stderr through as written (by default
        /// control characters in them are escaped, like everything a guest prints).
        #[arg(long)]
        raw_output: bool,
        /// Arguments for the program.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Call one function of a component with JSON arguments; print its result as JSON.
    ///
    /// The arguments are a JSON array, one element per parameter (objects for structs,
    /// by field name). The result is printed on stdout as JSON (byte buffers as arrays
    /// of numbers); what the task printed goes to stderr. Exits 1 with the error when the
    /// task fails.
    ///
    /// Example: rustyray call examples/tasks add '[5, 3]'
    Call {
        /// A .wasm component, a guest crate directory, or a Python or JavaScript program
        /// directory.
        program: PathBuf,
        /// The function's name (as `rustyray inspect` lists it): the program's own if it
        /// has one; `MODULE/NAME` names a loaded module's (MODULE: its file stem or a
        /// SHA-256 prefix), needed when several loaded modules define the name.
        function: String,
        /// The arguments, a JSON array.
        #[arg(default_value = "[]")]
        args: String,
        /// More components whose functions the call may use. Repeatable.
        #[arg(long = "load", value_name = "WASM|DIR")]
        load: Vec<PathBuf>,
        /// Linear memory of the task, in MiB (default 256).
        #[arg(long, value_name = "MIB")]
        memory: Option<usize>,
        /// Deadline of the call, in milliseconds.
        #[arg(long, value_name = "MS")]
        task_timeout: Option<u64>,
    },
    /// Create a guest crate that builds and runs at once.
    ///
    /// Writes Cargo.toml and src/lib.rs under PATH (the crate is named after its last
    /// component): remote functions and a #[rustyray::main], or with --actor an actor class.
    ///
    /// Example: rustyray new hello && rustyray run hello
    New {
        /// The new crate's directory (must not exist, or be empty).
        path: PathBuf,
        /// Scaffold an actor class instead of remote functions.
        #[arg(long)]
        actor: bool,
        /// The SDK to depend on (default: this rustyray's own guest-sdk/, or the git
        /// repository when that is gone).
        #[arg(long, value_name = "DIR")]
        sdk: Option<PathBuf>,
    },
    /// Measure rustyray on Ray's benchmark workloads (median of several runs).
    ///
    /// Builds the bench guest (bench/guest) on first use. Compare with Ray in the
    /// same run with bench/compare.py.
    ///
    /// Example: rustyray bench --quick --filter tasks
    Bench {
        /// Smaller counts and 3 repetitions.
        #[arg(long)]
        quick: bool,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Only workloads whose key contains NAME.
        #[arg(long, value_name = "NAME")]
        filter: Option<String>,
        /// Repetitions per figure (default 5, or 3 with --quick).
        #[arg(long)]
        reps: Option<usize>,
        /// A prebuilt bench guest .wasm instead of building bench/guest.
        #[arg(long, value_name = "WASM")]
        guest: Option<PathBuf>,
        /// A prebuilt Python bench guest .wasm instead of building bench/python_guest.
        #[arg(long, value_name = "WASM")]
        python_guest: Option<PathBuf>,
        /// A prebuilt JavaScript bench guest .wasm instead of building bench/js_guest.
        #[arg(long, value_name = "WASM")]
        js_guest: Option<PathBuf>,
        /// Run the cross-node rows against the cluster of the node at URL instead
        /// (tasks/s across its nodes, object transfer GB/s between them, the round trip
        /// of an actor call to another node).
        #[arg(long, value_name = "URL")]
        address: Option<String>,
        /// With --address: the cluster's NATS URL, to time a lost node's detection (a
        /// node is started, joined, killed with SIGKILL, and timed until listed DEAD)
        /// and an actor's restart on another node (two nodes are started, the one
        /// hosting the actor killed, and timed until the actor runs on the other); what
        /// it starts is stopped afterwards.
        #[arg(long, value_name = "NATS_URL", requires = "address")]
        cluster: Option<String>,
    },
    /// Internal: measurements the bench takes in a process of their own.
    #[command(name = "__probe", hide = true)]
    Probe { kind: String, guest: PathBuf },
    /// List the functions a component exports, with their signatures.
    ///
    /// Example: rustyray inspect target/wasm32-wasip2/release/tasks.wasm
    Inspect {
        /// A .wasm component or a guest crate directory.
        program: PathBuf,
    },
}

/// Parses the process's arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let executor = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(executor) => executor,
        Err(err) => {
            eprintln!("rustyray: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    match executor.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            // Errors carry guest-chosen names and messages.
            eprintln!("rustyray: error: {}", escape_text(&err.to_string()));
            ExitCode::FAILURE
        }
    }
}

/// A .wasm path as given, or the program at a directory, built: a Python program
/// (`main.py` or `app.py`, no `Cargo.toml`) with componentize-py, a JavaScript program
/// (`main.js`, no `Cargo.toml`) with componentize-js, else a Rust crate.
pub(crate) fn resolve_program(program: &std::path::Path) -> rustyray::Result<PathBuf> {
    let foreign = program.is_dir() && !program.join("Cargo.toml").is_file();
    if foreign && python_build::entry_module(program).is_some() {
        python_build::build_program(program)
    } else if foreign && js_build::is_program(program) {
        js_build::build_program(program)
    } else if program.is_dir() {
        let mut built = guest_build::build_crate(program)?;
        Ok(built.remove(0))
    } else if program.exists() {
        Ok(program.to_path_buf())
    } else {
        Err(rustyray::RayError::Io {
            context: format!("opening {}", program.display()),
            message: "no such file or directory".into(),
        })
    }
}

/// Runs one of the runtime's commands (for a binary that parses its own command line).
pub async fn execute(command: Command) -> rustyray::Result<ExitCode> {
    run(Cli { command }).await
}

async fn run(cli: Cli) -> rustyray::Result<ExitCode> {
    match cli.command {
        Command::Run {
            program,
            load,
            workers,
            task_timeout,
            dirs,
            envs,
            allow_net,
            allow_listen,
            net_bound,
            listen_bound,
            net_bounded,
            namespace,
            node_actors,
            job_id,
            node_tasks,
            max_connections,
            max_sent,
            max_received,
            connect_timeout,
            read_timeout,
            stdin,
            memory,
            max_running,
            max_instances,
            max_actors,
            host_memory,
            fuel,
            max_output,
            max_result,
            object_store,
            spill_dir,
            max_spill,
            quiet_tasks,
            timeline,
            timeline_max_mib,
            state_file,
            raw_output,
            args,
        } => {
            let wasm = resolve_program(&program)?;
            let timeline = timeline
                .map(|path| {
                    let max = timeline_max_mib
                        .map_or(rustyray::timeline::DEFAULT_MAX_BYTES, |mib| {
                            mib.saturating_mul(1 << 20)
                        });
                    rustyray::Timeline::install(&path, max)
                })
                .transpose()?;
            let mut builder = Runtime::builder()
                .default_timeout(task_timeout.map(std::time::Duration::from_millis))
                .escape_driver_output(!raw_output)
                // `--load`ed modules may define the program's names, or each other's:
                // the program's own come first, and a name several loaded modules
                // define is refused when used, naming them (`MODULE/NAME` picks one).
                .shared_names(true);
            if let Some(workers) = workers {
                builder = builder.worker_threads(workers);
            }
            let mut capabilities = Capabilities::new();
            for grant in dirs {
                capabilities = capabilities.grant_dir(grant);
            }
            for env in envs {
                capabilities = match env.split_once('=') {
                    Some((name, value)) => capabilities.env(name, value),
                    None => capabilities.inherit_env(env),
                };
            }
            for rule in allow_net {
                capabilities = capabilities.net_rule(rule);
            }
            for ports in allow_listen {
                capabilities = capabilities.listen_ports(ports);
            }
            if net_bounded || !net_bound.is_empty() || !listen_bound.is_empty() {
                let mut bound = NetAllow::new();
                for rule in net_bound {
                    bound = bound.rule(rule);
                }
                for ports in listen_bound {
                    bound = bound.listen(ports);
                }
                capabilities = capabilities.narrow_net(&NetGrants::new(bound));
            }
            let mut limits = Limits::new();
            limits.connections = max_connections;
            limits.bytes_sent = max_sent.map(|kib| kib.saturating_mul(1024));
            limits.bytes_received = max_received.map(|kib| kib.saturating_mul(1024));
            limits.connect_timeout = connect_timeout.map(std::time::Duration::from_millis);
            limits.read_timeout = read_timeout.map(std::time::Duration::from_millis);
            limits.fuel = fuel;
            limits.output = max_output.map(|kib| kib.saturating_mul(1024));
            limits.result_size = max_result.map(|kib| kib.saturating_mul(1024));
            builder = builder.capabilities(capabilities).limits(limits);
            if let Some(mib) = memory {
                builder = builder.memory_limit(mib.saturating_mul(1 << 20));
            }
            if let Some(tasks) = max_running {
                builder = builder.max_running(tasks);
            }
            if let Some(instances) = max_instances {
                builder = builder.max_instances(instances);
            }
            if let Some(actors) = max_actors {
                builder = builder.max_actors(actors);
            }
            if let Some(mib) = host_memory {
                builder = builder.host_memory(mib.saturating_mul(1 << 20));
            }
            if let Some(mib) = object_store {
                builder = builder.object_store_capacity(mib.saturating_mul(1 << 20));
            }
            if let Some(dir) = spill_dir {
                builder = builder.spill_dir(dir);
            }
            if let Some(mib) = max_spill {
                builder = builder.spill_capacity(mib.saturating_mul(1 << 20));
            }
            if !quiet_tasks {
                builder = builder.on_output(print_live);
            }
            if let Some(namespace) = namespace {
                builder = builder.namespace(namespace);
            }
            if let Some(socket) = node_actors {
                let mut transport = rustyray::remote::SocketTransport::new(socket);
                if let Some(job) = &job_id {
                    transport = transport.with_owner(job.clone());
                }
                builder = builder.remote_actors(std::sync::Arc::new(transport));
            }
            if let Some(socket) = node_tasks {
                let mut transport = rustyray::remote::SocketTaskTransport::new(socket);
                if let Some(job) = &job_id {
                    transport = transport.with_job(job.clone());
                }
                builder = builder.remote_tasks(std::sync::Arc::new(transport));
            }
            let runtime = builder.build()?;
            warn_cache_refused(&runtime);
            let state_file = state_file
                .map(|path| rustyray::StateFile::start(&runtime, &path))
                .transpose()?;
            for extra in &load {
                runtime.load(&resolve_program(extra)?).await?;
            }
            let info = runtime.load(&wasm).await?;
            if !info.has_main {
                return Err(rustyray::RayError::InvalidModule {
                    source_name: info.source_name,
                    message: "it has no #[rustyray::main] to run (its functions can be called \
                              from a program that loads it with --load)"
                        .into(),
                });
            }
            let mut argv = vec![program.display().to_string()];
            argv.extend(args);
            let stdin = if stdin { Stdin::Inherit } else { Stdin::Closed };
            // SIGTERM (how a node stops a job, and how it stops itself) stops the
            // program gracefully: its running tasks get a moment, its actors' `on_stop`
            // run, and the timeline and state are written; then it exits failed.
            let mut terminate =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .map_err(|err| rustyray::RayError::io("listening for SIGTERM", err))?;
            let status = tokio::select! {
                status = runtime.run_main_with(&info.source_name, &argv, stdin) => status?,
                _ = terminate.recv() => {
                    eprintln!(
                        "rustyray: SIGTERM: stopping (running tasks are cancelled after {} ms; \
                         actors' on_stop run)",
                        TERM_GRACE.as_millis()
                    );
                    runtime.shutdown_with_deadline(TERM_GRACE).await?;
                    1
                }
            };
            runtime.shutdown().await?;
            if let Some(timeline) = timeline {
                timeline.finish()?;
            }
            if let Some(state_file) = state_file {
                state_file.finish()?;
            }
            Ok(ExitCode::from(status.clamp(0, 255) as u8))
        }
        Command::Bench {
            quick,
            json,
            filter,
            reps,
            guest,
            python_guest,
            js_guest,
            address,
            cluster,
        } => {
            if let Some(address) = address {
                let guest = crate::cluster_bench::guest(guest)?;
                crate::cluster_bench::run(
                    &address,
                    cluster.as_deref(),
                    &guest,
                    reps.unwrap_or(3),
                    quick,
                    json,
                )
                .map_err(|err| rustyray::RayError::Remote(err.to_string()))?;
                return Ok(ExitCode::SUCCESS);
            }
            let report = rustyray_bench::run(rustyray_bench::BenchOptions {
                quick,
                filter,
                reps,
                guest,
                python_guest,
                js_guest,
                progress: true,
            })
            .await?;
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_table());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Call {
            program,
            function,
            args,
            load,
            memory,
            task_timeout,
        } => call(program, function, &args, load, memory, task_timeout).await,
        Command::New { path, actor, sdk } => {
            let template = if actor {
                rustyray_builder::scaffold::Template::Actor
            } else {
                rustyray_builder::scaffold::Template::Tasks
            };
            rustyray_builder::scaffold::create(&path, template, sdk.as_deref())?;
            println!(
                "created guest crate {}; run it with: rustyray run {}",
                path.display(),
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Probe { kind, guest } => {
            println!("{}", rustyray_bench::run_probe(&kind, &guest).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Inspect { program } => {
            let wasm = resolve_program(&program)?;
            let runtime = Runtime::builder().worker_threads(1).build()?;
            warn_cache_refused(&runtime);
            let info = runtime.load(&wasm).await?;
            // Names and signatures are the guest's own words: escaped.
            println!("component: {}", escape(&info.source_name));
            println!("size:      {} bytes", info.size);
            println!("sha256:    {}", info.hash);
            println!(
                "main:      {}",
                if info.has_main {
                    "yes (rustyray run starts it)"
                } else {
                    "no"
                }
            );
            println!("functions: {}", info.functions.len());
            for function in &info.functions {
                println!("  {}", escape(&function.signature));
            }
            println!("actors:    {}", info.actors.len());
            for class in &info.actors {
                let snapshot = if class.snapshot { " (snapshots)" } else { "" };
                println!(
                    "  actor {}{snapshot}: {}",
                    escape(&class.name),
                    escape(&class.constructor)
                );
                for method in &class.methods {
                    println!("    {}", escape(&method.signature));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// How long a program stopped by SIGTERM lets its running tasks go on before they are
/// cancelled (a node gives a stopped job's driver 3 s before SIGKILL).
const TERM_GRACE: std::time::Duration = std::time::Duration::from_millis(1000);

/// `rustyray call`: one task with JSON arguments, its result printed as JSON.
async fn call(
    program: PathBuf,
    function: String,
    args: &str,
    load: Vec<PathBuf>,
    memory: Option<usize>,
    task_timeout: Option<u64>,
) -> rustyray::Result<ExitCode> {
    let bad = |message: String| rustyray::RayError::BadArguments {
        function: function.clone(),
        message,
    };
    let json: serde_json::Value = serde_json::from_str(args)
        .map_err(|err| bad(format!("the arguments are not JSON: {err}")))?;
    let serde_json::Value::Array(values) = json else {
        return Err(bad(
            "the arguments must be a JSON array, one element per parameter (e.g. '[5, 3]')".into(),
        ));
    };
    let wasm = resolve_program(&program)?;
    let mut builder = Runtime::builder()
        .on_output(print_live_stderr)
        .shared_names(true);
    if let Some(mib) = memory {
        builder = builder.memory_limit(mib.saturating_mul(1 << 20));
    }
    let runtime = builder.build()?;
    warn_cache_refused(&runtime);
    for extra in &load {
        runtime.load(&resolve_program(extra)?).await?;
    }
    let info = runtime.load(&wasm).await?;
    // The program's own function first, as a guest's own names are.
    let own = !function.contains('/') && info.functions.iter().any(|f| f.name == function);
    let name = if own {
        format!("{}/{function}", info.hash)
    } else {
        function.clone()
    };
    let mut task = runtime.task(name);
    for value in &values {
        task = task.arg_value(rustyray::codec::from_json(value)?);
    }
    if let Some(ms) = task_timeout {
        task = task.timeout(std::time::Duration::from_millis(ms));
    }
    let result = task.submit::<()>(&runtime).await?.get_value().await;
    runtime.shutdown().await?;
    let json = rustyray::codec::to_json(&result?)?;
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}

/// [`print_live`] on stderr, whatever the stream: stdout is the result's.
fn print_live_stderr(line: &OutputLine<'_>) {
    let text = format!("[{}] {}\n", escape(line.source), escape_line(line.line));
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
