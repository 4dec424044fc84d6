//! `rustyray bench`: the workloads of Ray's own microbenchmark and of
//! `ray_bench.py`, measured on this runtime, so the two can be read side by side.
//!
//! Every figure is the median of several repetitions (5, or 3 with `--quick`, which
//! also uses smaller counts); each repetition starts a fresh runtime, as Ray's
//! bench starts a fresh cluster, and a workload's repetitions run back to back. The guest is `bench/guest` (built on first use, or
//! given with `--guest`). Output is a table, or one JSON object with `--json`.

mod node;
mod probe;
mod raw;
mod report;
mod workloads;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

pub use probe::run_probe;
pub use report::Report;

use rustyray::error::{RayError, Result};

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Smaller counts and 3 repetitions.
    pub quick: bool,
    /// Only workloads whose key contains this.
    pub filter: Option<String>,
    /// Repetitions (default 5, or 3 with `quick`).
    pub reps: Option<usize>,
    /// A prebuilt bench guest, instead of building `bench/guest`.
    pub guest: Option<PathBuf>,
    /// A prebuilt Python bench guest, instead of building `bench/python_guest`.
    pub python_guest: Option<PathBuf>,
    /// A prebuilt JavaScript bench guest, instead of building `bench/js_guest`.
    pub js_guest: Option<PathBuf>,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// Counts of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub tasks: usize,
    pub sync_tasks: usize,
    pub clients: usize,
    pub actor_async: usize,
    pub actor_sync: usize,
    pub small_objects: usize,
    pub big_mib: usize,
    pub roundtrip_mib: usize,
    pub wait_refs: usize,
    pub chain: usize,
    pub fan_in: usize,
    pub actors_created: usize,
    pub idle_actors: usize,
    pub many_actors: usize,
    pub python_tasks: usize,
    pub python_actor_calls: usize,
    pub js_tasks: usize,
    pub js_actor_calls: usize,
}

impl Sizes {
    fn new(quick: bool) -> Self {
        if quick {
            Sizes {
                tasks: 2_000,
                sync_tasks: 300,
                clients: 4,
                actor_async: 2_000,
                actor_sync: 300,
                small_objects: 2_000,
                big_mib: 32,
                roundtrip_mib: 16,
                wait_refs: 1_000,
                chain: 1_000,
                fan_in: 1_000,
                actors_created: 200,
                idle_actors: 1_000,
                many_actors: 10_000,
                python_tasks: 500,
                python_actor_calls: 2_000,
                js_tasks: 500,
                js_actor_calls: 2_000,
            }
        } else {
            Sizes {
                tasks: 10_000,
                sync_tasks: 1_000,
                clients: 4,
                actor_async: 10_000,
                actor_sync: 2_000,
                small_objects: 10_000,
                big_mib: 100,
                roundtrip_mib: 64,
                wait_refs: 1_000,
                chain: 1_000,
                fan_in: 1_000,
                actors_created: 1_000,
                idle_actors: 10_000,
                many_actors: 100_000,
                python_tasks: 2_000,
                python_actor_calls: 10_000,
                js_tasks: 2_000,
                js_actor_calls: 10_000,
            }
        }
    }
}

/// The bench guest's path: given, or built from `bench/guest` in this source tree.
fn bench_guest(options: &BenchOptions) -> Result<PathBuf> {
    bench_guest_path(options.guest.clone())
}

/// The bench guest's path: `given`, or built from `bench/guest` in this source tree
/// (the cross-node rows of `rustyray bench --address` run it as jobs).
pub fn bench_guest_path(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path);
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guest");
    if !dir.join("Cargo.toml").is_file() {
        return Err(RayError::Io {
            context: "finding the bench guest".into(),
            message: format!(
                "{} is not there (an installed binary has no source tree): pass --guest <bench guest .wasm>",
                dir.display()
            ),
        });
    }
    let mut built = rustyray_builder::guest_build::build_crate(&dir)?;
    Ok(built.remove(0))
}

/// A bench guest in another language (for the rows whose key starts with `prefix`):
/// `given`, or built from `bench/DIR` with `build`. `None`, saying why, when it cannot be
/// built: those rows are then left out rather than failing the whole suite.
fn program_bench_guest(
    given: &Option<PathBuf>,
    dir: &str,
    prefix: &str,
    build: fn(&std::path::Path) -> Result<PathBuf>,
) -> Option<PathBuf> {
    if let Some(path) = given {
        return Some(path.clone());
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    match build(&dir) {
        Ok(path) => Some(path),
        Err(err) => {
            eprintln!("rustyray bench: leaving out the {prefix}* rows: {err}");
            None
        }
    }
}

/// The guest of the rows starting with `prefix` when one of `selected` is such a row
/// (else `None`, and none of them stays selected).
fn guest_for(
    selected: &mut Vec<&workloads::Workload>,
    prefix: &str,
    guest: impl FnOnce() -> Option<PathBuf>,
) -> Option<PathBuf> {
    let wanted = selected.iter().any(|w| w.key.starts_with(prefix));
    let guest = if wanted { guest() } else { None };
    if guest.is_none() {
        selected.retain(|w| !w.key.starts_with(prefix));
    }
    guest
}

/// Runs the suite.
pub async fn run(options: BenchOptions) -> Result<Report> {
    let guest = bench_guest(&options)?;
    let sizes = Sizes::new(options.quick);
    let reps = options
        .reps
        .unwrap_or(if options.quick { 3 } else { 5 })
        .max(1);
    let mut selected: Vec<&workloads::Workload> = workloads::ALL
        .iter()
        .filter(|w| options.filter.as_deref().is_none_or(|f| w.key.contains(f)))
        .collect();
    let python_guest = guest_for(&mut selected, "python_", || {
        program_bench_guest(
            &options.python_guest,
            "python_guest",
            "python_",
            rustyray_builder::python_build::build_program,
        )
    });
    let js_guest = guest_for(&mut selected, "js_", || {
        program_bench_guest(
            &options.js_guest,
            "js_guest",
            "js_",
            rustyray_builder::js_build::build_program,
        )
    });
    if selected.is_empty() {
        return Err(RayError::Io {
            context: "selecting workloads".into(),
            message: format!(
                "no workload matches {:?}; keys are: {}",
                options.filter.as_deref().unwrap_or(""),
                workloads::ALL
                    .iter()
                    .map(|w| w.key)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    let mut samples: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    // A workload that fails is reported as failed, with its error; the others still are.
    let mut failures: BTreeMap<&'static str, String> = BTreeMap::new();
    let total = selected.len() * reps;
    let started = Instant::now();
    let mut done = 0;
    // All repetitions of one workload before the next: the heavy ones at the end of
    // the suite (100,000 actors) leave the process's memory in a state that would
    // slow whatever ran after them.
    for workload in &selected {
        for rep in 0..reps {
            if options.progress {
                report::progress(done, total, workload.key, rep + 1, reps);
            }
            let outcome = (workload.run)(workloads::Context {
                guest: guest.clone(),
                python_guest: python_guest.clone(),
                js_guest: js_guest.clone(),
                sizes,
            })
            .await;
            done += 1;
            match outcome {
                Ok(value) => samples.entry(workload.key).or_default().push(value),
                Err(err) => {
                    failures.insert(workload.key, err.to_string());
                    done += reps - rep - 1;
                    break;
                }
            }
        }
    }
    if options.progress {
        report::progress_done(total, started.elapsed());
    }
    Ok(Report::new(
        &selected,
        samples,
        failures,
        reps,
        options.quick,
    ))
}
