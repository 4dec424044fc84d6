//! `GET /metrics`: the node's figures in Prometheus text format (prometheus-client).
//! Jobs by state are read from the job manager at each scrape; latencies are observed
//! as jobs run. Jobs' own tasks and actors run in their drivers' processes, so their
//! counts are not here.

use std::sync::Mutex;

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
        }
    }
}

impl Metrics {
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
    ) -> String {
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
