//! `GET /metrics`: the node's figures in Prometheus text format (prometheus-client).
//! Jobs by state are read from the job manager at each scrape; latencies are observed
//! as jobs run. Jobs' tasks, actors and objects live in their drivers' processes: their
//! figures come from the state files the drivers write (`state.rs`), merged at each
//! scrape (tasks and actors by state, actor restarts, the task run-time histogram,
//! object store and spilled bytes, live instances), by a collector ([`StateCollector`]).

use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::api::JobStatus;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

/// The node's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    jobs: Family<StateLabel, Gauge>,
    jobs_submitted: Counter,
    jobs_ended: Family<StateLabel, Counter>,
    first_output: Histogram,
    job_duration: Histogram,
    modules: Gauge,
    module_bytes: Gauge,
    rss: Gauge,
    state: Arc<StateCollector>,
}

/// The jobs' state figures, set before each encoding.
#[derive(Debug, Default)]
pub struct StateCollector {
    merged: Mutex<crate::state::Merged>,
}

impl StateCollector {
    fn set(&self, merged: &crate::state::Merged) {
        if let Ok(mut latest) = self.merged.lock() {
            *latest = merged.clone();
        }
    }
}

/// Encodes one gauge family of `(label value, count)` under label `label`.
fn gauge_family(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &'static str,
    values: &[(String, i64)],
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (value, count) in values {
        let labels = [(label, value.as_str())];
        let family = metric.encode_family(&labels)?;
        ConstGauge::new(*count).encode(family)?;
    }
    Ok(())
}

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Ok(merged) = self.merged.lock() else {
            return Ok(());
        };
        let tasks: Vec<(String, i64)> = rustyray::state::TaskState::ALL
            .iter()
            .map(|state| {
                let count = merged
                    .tasks
                    .iter()
                    .filter(|task| task.state == *state)
                    .count();
                (state.as_str().to_string(), count as i64)
            })
            .collect();
        gauge_family(
            &mut encoder,
            "tasks",
            "Jobs' tasks by state (of the task records each job keeps)",
            "state",
            &tasks,
        )?;
        let actors: Vec<(String, i64)> = rustyray::state::ActorState::ALL
            .iter()
            .map(|state| {
                let count = merged
                    .actors
                    .iter()
                    .filter(|actor| actor.state == *state)
                    .count();
                (state.as_str().to_string(), count as i64)
            })
            .collect();
        gauge_family(
            &mut encoder,
            "actors",
            "Jobs' actors by state",
            "state",
            &actors,
        )?;
        let totals = merged.task_totals.values();
        let (finished, failed) = totals.fold((0, 0), |(finished, failed), totals| {
            (finished + totals.finished, failed + totals.failed)
        });
        for (name, help, value) in [
            (
                "tasks_finished",
                "Tasks that returned a value, in the node's jobs",
                finished,
            ),
            (
                "tasks_failed",
                "Tasks that failed, in the node's jobs",
                failed,
            ),
            (
                "actor_restarts",
                "Actor restarts, in the node's jobs",
                merged
                    .actors
                    .iter()
                    .map(|actor| u64::from(actor.num_restarts))
                    .sum(),
            ),
        ] {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        for (name, help, value) in [
            (
                "object_store_used_bytes",
                "Bytes of objects in the jobs' object stores' memory",
                merged.store.used_bytes,
            ),
            (
                "object_store_spilled_bytes",
                "Bytes of the jobs' objects spilled to disk",
                merged.store.spilled_bytes,
            ),
            (
                "object_store_objects",
                "Objects alive in the jobs' object stores",
                merged.store.live_objects,
            ),
        ] {
            let gauge = ConstGauge::new(value as i64);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        gauge_family(
            &mut encoder,
            "instances",
            "Live instances of the jobs' pools, tasks and actors apart",
            "kind",
            &[
                ("task".to_string(), merged.instances.tasks as i64),
                ("actor".to_string(), merged.instances.actors as i64),
            ],
        )?;
        let latency = &merged.latency;
        let metric = encoder.encode_descriptor(
            "task_run_seconds",
            "Tasks' run times, from running to their end, in the node's jobs",
            None,
            MetricType::Histogram,
        )?;
        // The encoder adds the buckets up itself: it takes each bucket's own count.
        let mut below = 0;
        let buckets: Vec<(f64, u64)> = latency
            .buckets
            .iter()
            .map(|(bound, cumulative)| {
                let own = cumulative.saturating_sub(below);
                below = *cumulative;
                // The encoder writes `le="+Inf"` (Prometheus' spelling) for f64::MAX
                // only; an infinite bound would come out as `inf`.
                let bound = if bound.is_infinite() {
                    f64::MAX
                } else {
                    *bound
                };
                (bound, own)
            })
            .collect();
        let mut metric = metric;
        metric.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            latency.sum_seconds,
            latency.count,
            &buckets,
            None,
        )?;
        Ok(())
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("rustyray");
        let jobs = Family::<StateLabel, Gauge>::default();
        registry.register("jobs", "Jobs on the node, by state", jobs.clone());
        let jobs_submitted = Counter::default();
        registry.register("jobs_submitted", "Jobs submitted", jobs_submitted.clone());
        let jobs_ended = Family::<StateLabel, Counter>::default();
        registry.register(
            "jobs_ended",
            "Jobs ended, by final state",
            jobs_ended.clone(),
        );
        let first_output = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register(
            "job_first_output_seconds",
            "From a job's submission to its first output",
            first_output.clone(),
        );
        let job_duration = Histogram::new(exponential_buckets(0.01, 2.0, 16));
        registry.register(
            "job_duration_seconds",
            "From a job's submission to its end",
            job_duration.clone(),
        );
        let modules = Gauge::default();
        registry.register("modules", "Deployed modules", modules.clone());
        let module_bytes = Gauge::default();
        registry.register(
            "module_bytes",
            "Bytes of deployed modules",
            module_bytes.clone(),
        );
        let rss = Gauge::default();
        registry.register(
            "node_resident_bytes",
            "Resident memory of the node process",
            rss.clone(),
        );
        let state = Arc::new(StateCollector::default());
        registry.register_collector(Box::new(state.clone()));
        Metrics {
            registry: Mutex::new(registry),
            jobs,
            jobs_submitted,
            jobs_ended,
            first_output,
            job_duration,
            modules,
            module_bytes,
            rss,
            state,
        }
    }
}

impl Metrics {
    /// Registers a metric kept by another part of the node (e.g. the cluster's task
    /// counters, `cluster_tasks.rs`), under the `rustyray_` prefix.
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        if let Ok(mut registry) = self.registry.lock() {
            registry.register(name, help, metric);
        }
    }

    /// A job was accepted.
    pub fn job_submitted(&self) {
        self.jobs_submitted.inc();
    }

    /// A job wrote its first output, `seconds` after it was submitted.
    pub fn first_output(&self, seconds: f64) {
        self.first_output.observe(seconds);
    }

    /// A job ended in `state`, `seconds` after it was submitted.
    pub fn job_ended(&self, state: JobStatus, seconds: f64) {
        self.jobs_ended
            .get_or_create(&StateLabel {
                state: state.as_str().into(),
            })
            .inc();
        self.job_duration.observe(seconds);
    }

    /// The text exposition, with the gauges read now.
    pub fn encode(
        &self,
        jobs: &std::collections::BTreeMap<String, usize>,
        modules: &[crate::api::ModuleInfo],
        state: &crate::state::Merged,
    ) -> String {
        self.state.set(state);
        for (state, count) in jobs {
            self.jobs
                .get_or_create(&StateLabel {
                    state: state.clone(),
                })
                .set(*count as i64);
        }
        self.modules.set(modules.len() as i64);
        self.module_bytes
            .set(modules.iter().map(|m| m.size as i64).sum());
        self.rss.set((crate::server::rss_kib() * 1024) as i64);
        let mut text = String::new();
        if let Ok(registry) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        }
        text
    }
}
