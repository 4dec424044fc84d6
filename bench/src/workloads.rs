//! The workloads: each builds a fresh runtime, warms it up, and measures one thing.
//! Keys and meanings follow Ray's microbenchmark names where there is one.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::Sizes;
use super::probe;
use rustyray::error::{RayError, Result};
use rustyray::{ObjectRef, Runtime, TaskBuilder};

/// What a workload gets.
pub(crate) struct Context {
    pub guest: PathBuf,
    /// The Python bench guest, for the `python_*` workloads (which only run with one).
    pub python_guest: Option<PathBuf>,
    /// The JavaScript bench guest, for the `js_*` workloads (which only run with one).
    pub js_guest: Option<PathBuf>,
    pub sizes: Sizes,
}

type Run = fn(Context) -> Pin<Box<dyn Future<Output = Result<f64>>>>;

/// One measured figure.
pub(crate) struct Workload {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    pub run: Run,
}

use super::raw::{
    echo as raw_echo, python_task_cycle as raw_python_task_cycle, task_cycle as raw_task_cycle,
};

macro_rules! workload {
    ($key:literal, $label:literal, $unit:literal, $fn:ident) => {
        Workload {
            key: $key,
            label: $label,
            unit: $unit,
            run: |ctx| Box::pin($fn(ctx)),
        }
    };
}

pub(crate) const ALL: &[Workload] = &[
    // The heaviest (thousands of actors) last: they leave the process's memory in a
    // state that would slow what ran after them.
    workload!(
        "tasks_async_per_s",
        "trivial tasks, submit all then get all",
        "tasks/s",
        tasks_async
    ),
    workload!(
        "tasks_sync_per_s",
        "trivial task submit + get, one at a time",
        "tasks/s",
        tasks_sync
    ),
    workload!(
        "tasks_multi_client_per_s",
        "trivial tasks from 4 concurrent clients",
        "tasks/s",
        tasks_multi_client
    ),
    workload!(
        "raw_wasmtime_task_cycle_per_s",
        "floor: wasmtime alone, store + instance + call, 1 thread",
        "tasks/s",
        raw_task_cycle
    ),
    workload!(
        "actor_calls_async_per_s",
        "calls to one actor, submit all then get all",
        "calls/s",
        actor_calls_async
    ),
    workload!(
        "actor_calls_sync_per_s",
        "actor call + get, one at a time",
        "calls/s",
        actor_calls_sync
    ),
    workload!(
        "actor_calls_n_n_per_s",
        "4 clients calling 4 actors",
        "calls/s",
        actor_calls_n_n
    ),
    workload!(
        "put_calls_per_s",
        "put of a small object",
        "puts/s",
        put_calls
    ),
    workload!(
        "get_calls_per_s",
        "get of a small object",
        "gets/s",
        get_calls
    ),
    workload!(
        "put_gb_per_s",
        "put of a 100 MiB buffer (moved in, no copy)",
        "GB/s",
        put_gb
    ),
    workload!(
        "get_gb_per_s",
        "get of 100 MiB of bytes (zero-copy)",
        "GB/s",
        get_gb
    ),
    workload!(
        "guest_roundtrip_gb_per_s",
        "64 MiB into a guest task and back",
        "GB/s",
        guest_roundtrip
    ),
    workload!(
        "raw_wasmtime_echo_gb_per_s",
        "floor: wasmtime alone, 64 MiB echo through a fresh instance",
        "GB/s",
        raw_echo
    ),
    workload!(
        "object_fanout_ms",
        "50 MiB put once, 25 tasks each read 2 MiB of it and hash it",
        "ms",
        object_fanout
    ),
    workload!(
        "object_fanout_peak_rss_mib",
        "peak RSS of a process running object_fanout",
        "MiB",
        object_fanout_peak_rss
    ),
    workload!(
        "object_fanout_value_ms",
        "as object_fanout, each task taking the whole 50 MiB as a Vec<u8> argument",
        "ms",
        object_fanout_by_value
    ),
    workload!(
        "object_fanout_value_peak_rss_mib",
        "peak RSS of a process running object_fanout_value",
        "MiB",
        object_fanout_by_value_peak_rss
    ),
    workload!(
        "object_spill_gb_per_s",
        "512 MiB of objects through a 256 MiB store and back (spill + restore)",
        "GB/s",
        object_spill
    ),
    workload!(
        "object_spill_peak_rss_mib",
        "peak RSS of a process running object_spill",
        "MiB",
        object_spill_peak_rss
    ),
    workload!(
        "wait_1k_refs_per_s",
        "submit 1k tasks and wait on all 1k refs",
        "waits/s",
        wait_1k_refs
    ),
    workload!(
        "chain_1000_ms",
        "chain of 1,000 dependent tasks",
        "ms",
        chain
    ),
    workload!(
        "fan_in_1000_ms",
        "1,000 tasks of 1 KiB, reduced by one task",
        "ms",
        fan_in
    ),
    workload!(
        "error_propagation_ms",
        "error raised in a task until get sees it",
        "ms",
        error_propagation
    ),
    workload!(
        "cancel_running_ms",
        "cancel of a running task until get sees it",
        "ms",
        cancel_running
    ),
    workload!(
        "python_tasks_async_per_s",
        "Python guest: trivial tasks, submit all then get all",
        "tasks/s",
        python_tasks_async
    ),
    workload!(
        "python_raw_wasmtime_task_cycle_per_s",
        "Python floor: wasmtime alone, store + instance + call, 1 thread",
        "tasks/s",
        raw_python_task_cycle
    ),
    workload!(
        "python_actor_calls_async_per_s",
        "Python guest: calls to one actor, submit all then get all",
        "calls/s",
        python_actor_calls_async
    ),
    workload!(
        "python_cold_start_ms",
        "Python guest: process start to first task result (cache warm)",
        "ms",
        python_cold_start
    ),
    workload!(
        "js_tasks_async_per_s",
        "JavaScript guest: trivial tasks, submit all then get all",
        "tasks/s",
        js_tasks_async
    ),
    workload!(
        "js_actor_calls_async_per_s",
        "JavaScript guest: calls to one actor, submit all then get all",
        "calls/s",
        js_actor_calls_async
    ),
    workload!(
        "js_cold_start_ms",
        "JavaScript guest: process start to first task result (cache warm)",
        "ms",
        js_cold_start
    ),
    workload!(
        "cold_start_ms",
        "process start to first task result (cache warm)",
        "ms",
        cold_start
    ),
    workload!(
        "runtime_idle_rss_mib",
        "RSS of a runtime with one module loaded",
        "MiB",
        runtime_idle_rss
    ),
    workload!(
        "runtime_idle_private_mib",
        "of which its own (RssAnon + RssShmem; the rest is the executable's code, shared)",
        "MiB",
        runtime_idle_private
    ),
    workload!(
        "node_idle_rss_mib",
        "RSS of a started node (`rustyray start`), idle",
        "MiB",
        node_idle_rss
    ),
    workload!(
        "job_first_output_ms",
        "node: job submit (POST /api/jobs/) to its first output",
        "ms",
        job_first_output
    ),
    workload!(
        "actors_created_per_s",
        "create 1,000 actors and call each once",
        "actors/s",
        actors_created
    ),
    workload!(
        "actor_idle_rss_kib",
        "added RSS per idle actor, 10,000 alive",
        "KiB",
        actor_idle_rss
    ),
    workload!(
        "actors_100k_alive_s",
        "create 100,000 actors, call each once, all alive",
        "s",
        actors_100k
    ),
];

pub(crate) async fn runtime_with(ctx: &Context, instances: u32, memory: usize) -> Result<Runtime> {
    runtime_for(ctx, instances, 1000, memory).await
}

/// A runtime for `actors` live actors (tasks get a small budget of their own: the
/// pool holds both, and each slot costs kernel memory mappings).
async fn actor_runtime(ctx: &Context, actors: u32) -> Result<Runtime> {
    runtime_for(ctx, 64, actors, 64 << 20).await
}

async fn runtime_for(ctx: &Context, instances: u32, actors: u32, memory: usize) -> Result<Runtime> {
    let runtime = Runtime::builder()
        .max_instances(instances)
        .max_actors(actors)
        .memory_limit(memory)
        // A result may be as large as the guest's memory (the echo's is its input).
        .limits(rustyray::Limits::new().result_size(memory))
        .build()?;
    runtime.load(&ctx.guest).await?;
    // Warm up: instantiate a few times so first-touch page faults are not measured.
    let warm: Vec<ObjectRef<()>> = (0..64)
        .map(|_| TaskBuilder::new("noop").submit_now(&runtime))
        .collect::<Result<_>>()?;
    for object in &warm {
        object.get().await?;
    }
    Ok(runtime)
}

pub(crate) async fn runtime(ctx: &Context) -> Result<Runtime> {
    runtime_with(ctx, 1000, 64 << 20).await
}

fn rate(count: usize, since: Instant) -> f64 {
    count as f64 / since.elapsed().as_secs_f64()
}

fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

async fn get_all<T: serde::de::DeserializeOwned>(objects: &[ObjectRef<T>]) -> Result<()> {
    for object in objects {
        object.get().await?;
    }
    Ok(())
}

async fn tasks_async(ctx: Context) -> Result<f64> {
    let runtime = runtime(&ctx).await?;
    let n = ctx.sizes.tasks;
    let start = Instant::now();
    let objects: Vec<ObjectRef<()>> = (0..n)
        .map(|_| TaskBuilder::new("noop").submit_now(&runtime))
        .collect::<Result<_>>()?;
    get_all(&objects).await?;
    Ok(rate(n, start))
}

async fn tasks_sync(ctx: Context) -> Result<f64> {
    let runtime = runtime(&ctx).await?;
    let n = ctx.sizes.sync_tasks;
    let start = Instant::now();
    for _ in 0..n {
        TaskBuilder::new("noop")
            .submit_now::<()>(&runtime)?
            .get()
            .await?;
    }
    Ok(rate(n, start))
}

async fn tasks_multi_client(ctx: Context) -> Result<f64> {
    let runtime = std::sync::Arc::new(runtime(&ctx).await?);
    let clients = ctx.sizes.clients;
    let per_client = ctx.sizes.tasks / clients;
    let start = Instant::now();
    all_clients((0..clients).map(|_| {
        let runtime = runtime.clone();
        async move {
            let objects: Vec<ObjectRef<()>> = (0..per_client)
                .map(|_| TaskBuilder::new("noop").submit_now(&*runtime))
                .collect::<Result<_>>()?;
            get_all(&objects).await
        }
    }))
    .await?;
    Ok(rate(per_client * clients, start))
}

/// Runs each client as a task of its own (concurrent drivers) and waits for all.
async fn all_clients<F>(clients: impl Iterator<Item = F>) -> Result<()>
where
    F: Future<Output = Result<()>> + Send + 'static,
{
    let joins: Vec<_> = clients.map(tokio::spawn).collect();
    for join in joins {
        join.await
            .map_err(|err| RayError::Internal(err.to_string()))??;
    }
    Ok(())
}

async fn actor_calls_async(ctx: Context) -> Result<f64> {
    let runtime = runtime(&ctx).await?;
    let actor = runtime.actor("Pinger").create().await?;
    actor.call::<()>("ping", ()).get().await?;
    let n = ctx.sizes.actor_async;
    let start = Instant::now();
    let calls: Vec<ObjectRef<()>> = (0..n).map(|_| actor.call("ping", ())).collect();
    get_all(&calls).await?;
    Ok(rate(n, start))
}

async fn actor_calls_sync(ctx: Context) -> Result<f64> {
    let runtime = runtime(&ctx).await?;
    let actor = runtime.actor("Pinger").create().await?;
    actor.call::<()>("ping", ()).get().await?;
    let n = ctx.sizes.actor_sync;
    let start = Instant::now();
    for _ in 0..n {
        actor.call::<()>("ping", ()).get().await?;
    }
    Ok(rate(n, start))
}

async fn actor_calls_n_n(ctx: Context) -> Result<f64> {
    let runtime = runtime(&ctx).await?;
    let clients = ctx.sizes.clients;
    let per_client = ctx.sizes.actor_async / clients;
    let mut actors = Vec::new();
    for _ in 0..clients {
        let actor = runtime.actor("Pinger").create().await?;
        actor.call::<()>("ping", ()).get().await?;
        actors.push(actor);
    }
    let start = Instant::now();
    all_clients(actors.into_iter().map(|actor| async move {
        let calls: Vec<ObjectRef<()>> = (0..per_client).map(|_| actor.call("ping", ())).collect();
        get_all(&calls).await
    }))
    .await?;
    Ok(rate(per_client * clients, start))
}

async fn put_calls(ctx: Context) -> Result<f64> {
    let runtime = runtime(&ctx).await?;
    let n = ctx.sizes.small_objects;
    let mut kept = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        kept.push(runtime.put(&(i as u64))?);
    }
    Ok(rate(n, start))
}

async fn get_calls(ctx: Context) -> Result<f64> {
    let runtime = runtime(&ctx).await?;
    let object = runtime.put(&42u64)?;
    let n = ctx.sizes.small_objects;
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(object.get().await?);
    }
    Ok(rate(n, start))
}

fn gb_per_s(bytes: usize, since: Instant) -> f64 {
    bytes as f64 / since.elapsed().as_secs_f64() / 1e9
}

async fn put_gb(ctx: Context) -> Result<f64> {
    let runtime = runtime(&ctx).await?;
    let bytes = ctx.sizes.big_mib << 20;
    // The payload is built first, as in Ray's bench; `put_bytes` takes ownership of
    // the buffer without copying it (Ray must copy it into its shared-memory store).
    let data = vec![1u8; bytes];
    let start = Instant::now();
    let object = runtime.put_bytes(Bytes::from(data))?;
    let figure = gb_per_s(bytes, start);
    if object.get_bytes().await?.len() != bytes {
        return Err(RayError::Internal("put stored the wrong size".into()));
    }
    Ok(figure)
}

async fn get_gb(ctx: Context) -> Result<f64> {
    let runtime = runtime(&ctx).await?;
    let bytes = ctx.sizes.big_mib << 20;
    let object = runtime.put_bytes(Bytes::from(vec![1u8; bytes]))?;
    let start = Instant::now();
    let view = object.get_bytes().await?;
    let figure = gb_per_s(bytes, start);
    if view.len() != bytes {
        return Err(RayError::Internal("get returned the wrong size".into()));
    }
    Ok(figure)
}

async fn guest_roundtrip(ctx: Context) -> Result<f64> {
    let bytes = ctx.sizes.roundtrip_mib << 20;
    let runtime = runtime_with(&ctx, 64, (bytes * 6).max(64 << 20)).await?;
    let input = runtime.put_bytes(Bytes::from(vec![7u8; bytes]))?;
    // One untimed round to fault in the pool's memory slot.
    TaskBuilder::new("echo")
        .arg_ref(&input)
        .submit_now::<Vec<u8>>(&runtime)?
        .get_bytes()
        .await?;
    let start = Instant::now();
    let output = TaskBuilder::new("echo")
        .arg_ref(&input)
        .submit_now::<Vec<u8>>(&runtime)?
        .get_bytes()
        .await?;
    let figure = gb_per_s(bytes, start);
    // A Vec<u8> result is raw: exactly the bytes.
    if output.len() < bytes {
        return Err(RayError::Internal("echo returned too little".into()));
    }
    Ok(figure)
}

/// Runs the fan-out in a process of its own (so its peak RSS is its own): `(ms, MiB)`.
fn object_fanout_probe(ctx: &Context) -> Result<(f64, f64)> {
    fanout_probe(ctx, "object-fanout")
}

fn fanout_probe(ctx: &Context, kind: &str) -> Result<(f64, f64)> {
    let output = probe::spawn_probe(kind, &ctx.guest)?;
    let mut figures = output.split_whitespace().map(str::parse::<f64>);
    match (figures.next(), figures.next()) {
        (Some(Ok(ms)), Some(Ok(mib))) => Ok((ms, mib)),
        _ => Err(RayError::Internal(format!(
            "object-fanout probe said {output:?}"
        ))),
    }
}

async fn object_fanout(ctx: Context) -> Result<f64> {
    object_fanout_probe(&ctx).map(|(ms, _)| ms)
}

async fn object_fanout_peak_rss(ctx: Context) -> Result<f64> {
    object_fanout_probe(&ctx).map(|(_, mib)| mib)
}

async fn object_fanout_by_value(ctx: Context) -> Result<f64> {
    fanout_probe(&ctx, "object-fanout-by-value").map(|(ms, _)| ms)
}

async fn object_fanout_by_value_peak_rss(ctx: Context) -> Result<f64> {
    fanout_probe(&ctx, "object-fanout-by-value").map(|(_, mib)| mib)
}

/// Runs the spill workload in a process of its own: `(GB/s, MiB)`.
fn object_spill_probe(ctx: &Context) -> Result<(f64, f64)> {
    let output = probe::spawn_probe("object-spill", &ctx.guest)?;
    let mut figures = output.split_whitespace().map(str::parse::<f64>);
    match (figures.next(), figures.next(), figures.next()) {
        (Some(Ok(rate)), Some(Ok(mib)), Some(Ok(spills))) if spills > 0.0 => Ok((rate, mib)),
        _ => Err(RayError::Internal(format!(
            "object-spill probe said {output:?}"
        ))),
    }
}

async fn object_spill(ctx: Context) -> Result<f64> {
    object_spill_probe(&ctx).map(|(rate, _)| rate)
}

async fn object_spill_peak_rss(ctx: Context) -> Result<f64> {
    object_spill_probe(&ctx).map(|(_, mib)| mib)
}

async fn wait_1k_refs(ctx: Context) -> Result<f64> {
    let runtime = runtime(&ctx).await?;
    let rounds = 5;
    let start = Instant::now();
    for _ in 0..rounds {
        let objects: Vec<ObjectRef<()>> = (0..ctx.sizes.wait_refs)
            .map(|_| TaskBuilder::new("noop").submit_now(&runtime))
            .collect::<Result<_>>()?;
        let (ready, _) = runtime.wait(&objects, objects.len(), None).await?;
        if ready.len() != objects.len() {
            return Err(RayError::Internal("wait returned early".into()));
        }
    }
    Ok(rate(rounds, start))
}

async fn chain(ctx: Context) -> Result<f64> {
    let runtime = runtime(&ctx).await?;
    let n = ctx.sizes.chain;
    let start = Instant::now();
    let mut last: ObjectRef<u64> = TaskBuilder::new("add_one").arg(0u64).submit_now(&runtime)?;
    for _ in 1..n {
        last = TaskBuilder::new("add_one")
            .arg_ref(&last)
            .submit_now(&runtime)?;
    }
    let value = last.get().await?;
    let figure = millis(start);
    if value != n as u64 {
        return Err(RayError::Internal(format!("chain gave {value}, not {n}")));
    }
    Ok(figure)
}

async fn fan_in(ctx: Context) -> Result<f64> {
    let runtime = runtime(&ctx).await?;
    let n = ctx.sizes.fan_in;
    let start = Instant::now();
    let blobs: Vec<ObjectRef<Vec<u8>>> = (0..n)
        .map(|_| {
            TaskBuilder::new("make_blob")
                .arg(1024u64)
                .submit_now(&runtime)
        })
        .collect::<Result<_>>()?;
    let reduce = blobs
        .iter()
        .fold(TaskBuilder::new("reduce_blobs"), |task, blob| {
            task.arg_ref(blob)
        });
    let total: u64 = reduce.submit_now(&runtime)?.get().await?;
    let figure = millis(start);
    if total != n as u64 * 1024 {
        return Err(RayError::Internal(format!("fan-in gave {total}")));
    }
    Ok(figure)
}

async fn error_propagation(ctx: Context) -> Result<f64> {
    let runtime = runtime(&ctx).await?;
    let mut tries = Vec::new();
    for _ in 0..6 {
        let start = Instant::now();
        let outcome = TaskBuilder::new("raise_error")
            .submit_now::<()>(&runtime)?
            .get()
            .await;
        if !matches!(outcome, Err(RayError::Application { .. })) {
            return Err(RayError::Internal(format!(
                "expected an error, got {outcome:?}"
            )));
        }
        tries.push(millis(start));
    }
    Ok(super::report::median(&mut tries[1..].to_vec()))
}

async fn cancel_running(ctx: Context) -> Result<f64> {
    let runtime = runtime(&ctx).await?;
    let mut tries = Vec::new();
    for _ in 0..3 {
        let spinning: ObjectRef<u64> = TaskBuilder::new("spin").submit_now(&runtime)?;
        // Let it start running.
        let _ = runtime
            .wait(
                std::slice::from_ref(&spinning),
                1,
                Some(Duration::from_millis(20)),
            )
            .await?;
        let start = Instant::now();
        runtime.cancel(&spinning);
        let outcome = spinning.get().await;
        if !matches!(outcome, Err(RayError::Cancelled)) {
            return Err(RayError::Internal(format!(
                "expected Cancelled, got {outcome:?}"
            )));
        }
        tries.push(millis(start));
    }
    Ok(super::report::median(&mut tries))
}

async fn actors_created(ctx: Context) -> Result<f64> {
    let n = ctx.sizes.actors_created;
    let runtime = actor_runtime(&ctx, (n as u32) + 200).await?;
    let start = Instant::now();
    spawn_and_ping(&runtime, n).await?;
    Ok(rate(n, start))
}

/// As Ray's `[Pinger.remote() for _ in range(n)]` then a ping to each: creates `n`
/// actors without waiting for each constructor, calls each once, waits for every
/// answer; the actors stay alive as long as the returned handles.
async fn spawn_and_ping(runtime: &Runtime, n: usize) -> Result<Vec<rustyray::ActorHandle>> {
    let actors = (0..n)
        .map(|_| runtime.actor("Pinger").spawn())
        .collect::<Result<Vec<_>>>()?;
    let calls: Vec<ObjectRef<()>> = actors.iter().map(|a| a.call("ping", ())).collect();
    get_all(&calls).await?;
    Ok(actors)
}

async fn actor_idle_rss(ctx: Context) -> Result<f64> {
    // In a process of its own: memory freed by an earlier workload stays resident in
    // this one and would be counted as the actors' (or hide theirs).
    let kind = format!("actor-rss:{}", ctx.sizes.idle_actors);
    let output = probe::spawn_probe(&kind, &ctx.guest)?;
    output
        .trim()
        .parse::<f64>()
        .map_err(|err| RayError::Internal(format!("actor-rss probe said {output:?}: {err}")))
}

async fn actors_100k(ctx: Context) -> Result<f64> {
    let n = ctx.sizes.many_actors;
    // Each live instance costs a few kernel memory mappings; the default limit
    // (65,530) stops a process near 16,000 live instances.
    let map_limit: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(usize::MAX);
    if map_limit < n * 5 {
        return Err(RayError::Internal(format!(
            "{n} live actors need vm.max_map_count >= {} (it is {map_limit}): \
             run `sysctl -w vm.max_map_count={}` or skip with --filter",
            n * 5,
            n * 8
        )));
    }
    let runtime = actor_runtime(&ctx, (n as u32) + 200).await?;
    let start = Instant::now();
    let _actors = spawn_and_ping(&runtime, n).await?;
    let figure = start.elapsed().as_secs_f64();
    if runtime.stats().live_actors < n {
        return Err(RayError::Internal("not every actor is alive".into()));
    }
    Ok(figure)
}

async fn cold_start(ctx: Context) -> Result<f64> {
    program_cold_start(&ctx.guest).await
}

/// The guest of another language's workloads, which the suite only selects with one.
pub(super) fn program_guest<'a>(guest: &'a Option<PathBuf>, language: &str) -> Result<&'a PathBuf> {
    guest
        .as_ref()
        .ok_or_else(|| RayError::Internal(format!("no {language} bench guest")))
}

/// A runtime with a program guest loaded and warmed up (instances from its snapshot).
pub(super) async fn program_runtime(guest: &Path) -> Result<Runtime> {
    let runtime = Runtime::builder().max_instances(1000).build()?;
    runtime.load(guest).await?;
    let warm: Vec<ObjectRef<()>> = (0..16)
        .map(|_| TaskBuilder::new("noop").submit_now(&runtime))
        .collect::<Result<_>>()?;
    for object in &warm {
        object.get_bytes().await?;
    }
    Ok(runtime)
}

/// `n` of the guest's `noop` tasks, submitted all then got all: tasks/s.
async fn program_tasks_async(guest: &Path, n: usize) -> Result<f64> {
    let runtime = program_runtime(guest).await?;
    let start = Instant::now();
    let objects: Vec<ObjectRef<()>> = (0..n)
        .map(|_| TaskBuilder::new("noop").submit_now(&runtime))
        .collect::<Result<_>>()?;
    for object in &objects {
        object.get_bytes().await?;
    }
    Ok(rate(n, start))
}

/// `n` calls of the guest's `Pinger.ping`, submitted all then got all: calls/s.
async fn program_actor_calls_async(guest: &Path, n: usize) -> Result<f64> {
    let runtime = program_runtime(guest).await?;
    let actor = runtime.actor("Pinger").create().await?;
    actor.call::<()>("ping", ()).get_bytes().await?;
    let start = Instant::now();
    let calls: Vec<ObjectRef<()>> = (0..n).map(|_| actor.call("ping", ())).collect();
    for call in &calls {
        call.get_bytes().await?;
    }
    Ok(rate(n, start))
}

/// A process start to the guest's first task result, its compiled artifact cached.
async fn program_cold_start(guest: &Path) -> Result<f64> {
    // Once to make sure the compiled artifact is in the cache.
    probe::spawn_probe("cold-start", guest)?;
    let start = Instant::now();
    probe::spawn_probe("cold-start", guest)?;
    Ok(millis(start))
}

async fn python_tasks_async(ctx: Context) -> Result<f64> {
    let guest = program_guest(&ctx.python_guest, "Python")?;
    program_tasks_async(guest, ctx.sizes.python_tasks).await
}

async fn python_actor_calls_async(ctx: Context) -> Result<f64> {
    let guest = program_guest(&ctx.python_guest, "Python")?;
    program_actor_calls_async(guest, ctx.sizes.python_actor_calls).await
}

async fn python_cold_start(ctx: Context) -> Result<f64> {
    program_cold_start(program_guest(&ctx.python_guest, "Python")?).await
}

async fn js_tasks_async(ctx: Context) -> Result<f64> {
    let guest = program_guest(&ctx.js_guest, "JavaScript")?;
    program_tasks_async(guest, ctx.sizes.js_tasks).await
}

async fn js_actor_calls_async(ctx: Context) -> Result<f64> {
    let guest = program_guest(&ctx.js_guest, "JavaScript")?;
    program_actor_calls_async(guest, ctx.sizes.js_actor_calls).await
}

async fn js_cold_start(ctx: Context) -> Result<f64> {
    program_cold_start(program_guest(&ctx.js_guest, "JavaScript")?).await
}

async fn runtime_idle_rss(ctx: Context) -> Result<f64> {
    idle_rss(&ctx, 0)
}

async fn runtime_idle_private(ctx: Context) -> Result<f64> {
    idle_rss(&ctx, 1)
}

/// Field `which` (0: the whole RSS, 1: its private part) of the `idle-rss` probe, in MiB.
fn idle_rss(ctx: &Context, which: usize) -> Result<f64> {
    let output = probe::spawn_probe("idle-rss", &ctx.guest)?;
    output
        .split_whitespace()
        .nth(which)
        .and_then(|field| field.parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .ok_or_else(|| RayError::Internal(format!("idle-rss probe said {output:?}")))
}

async fn node_idle_rss(_ctx: Context) -> Result<f64> {
    super::node::idle_rss_mib()
}

async fn job_first_output(ctx: Context) -> Result<f64> {
    super::node::job_first_output_ms(&ctx.guest)
}
