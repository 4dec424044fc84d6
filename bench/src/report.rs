//! The bench's output: a progress bar while it runs, then a table (or JSON) of
//! medians.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use super::workloads::Workload;

/// The median of `values` (sorts them).
pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    match values.len() {
        0 => f64::NAN,
        n if !n.is_multiple_of(2) => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

pub(crate) fn progress(done: usize, total: usize, key: &str, rep: usize, reps: usize) {
    const WIDTH: usize = 30;
    let filled = WIDTH * done / total.max(1);
    let mut err = std::io::stderr();
    let _ = write!(
        err,
        "\r[{}{}] {done}/{total} rep {rep}/{reps} {key:<28}",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled)
    );
    let _ = err.flush();
}

pub(crate) fn progress_done(total: usize, took: Duration) {
    let _ = writeln!(
        std::io::stderr(),
        "\r[{}] {total}/{total} done in {:.1} s{:<40}",
        "#".repeat(30),
        took.as_secs_f64(),
        ""
    );
}

/// One row of the report.
#[derive(Debug, Clone)]
pub struct Row {
    /// The JSON key.
    pub key: &'static str,
    /// What was measured.
    pub label: &'static str,
    /// Its unit.
    pub unit: &'static str,
    /// The median.
    pub median: f64,
    /// The smallest and largest sample.
    pub range: (f64, f64),
    /// Why the workload failed (then there is no figure).
    pub error: Option<String>,
}

/// The bench's results.
#[derive(Debug, Clone)]
pub struct Report {
    /// One row per workload, in suite order.
    pub rows: Vec<Row>,
    /// Repetitions per figure.
    pub reps: usize,
    /// Whether `--quick` counts were used.
    pub quick: bool,
}

impl Report {
    pub(crate) fn new(
        workloads: &[&Workload],
        mut samples: BTreeMap<&'static str, Vec<f64>>,
        failures: BTreeMap<&'static str, String>,
        reps: usize,
        quick: bool,
    ) -> Self {
        let rows = workloads
            .iter()
            .filter_map(|w| {
                if let Some(error) = failures.get(w.key) {
                    return Some(Row {
                        key: w.key,
                        label: w.label,
                        unit: w.unit,
                        median: f64::NAN,
                        range: (f64::NAN, f64::NAN),
                        error: Some(error.clone()),
                    });
                }
                let values = samples.get_mut(w.key)?;
                let median = median(values);
                let range = (values[0], values[values.len() - 1]);
                Some(Row {
                    key: w.key,
                    label: w.label,
                    unit: w.unit,
                    median,
                    range,
                    error: None,
                })
            })
            .collect();
        Report { rows, reps, quick }
    }

    /// The report as one JSON object: every key's median, `failed` (each failed
    /// workload's key and error; its key has no figure), plus `meta`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        let mut failed = serde_json::Map::new();
        for row in &self.rows {
            match &row.error {
                Some(error) => {
                    failed.insert(row.key.to_string(), serde_json::json!(error));
                }
                None => {
                    object.insert(row.key.to_string(), serde_json::json!(row.median));
                }
            }
        }
        if !failed.is_empty() {
            object.insert("failed".into(), serde_json::Value::Object(failed));
        }
        object.insert(
            "meta".into(),
            serde_json::json!({
                "rustyray_version": env!("CARGO_PKG_VERSION"),
                "repetitions": self.reps,
                "statistic": "median",
                "quick": self.quick,
                "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
                "os": std::env::consts::OS,
                "arch": std::env::consts::ARCH,
            }),
        );
        serde_json::Value::Object(object)
    }

    /// The report as a table.
    pub fn to_table(&self) -> String {
        let mut out = format!(
            "rustyray bench — median of {} repetition{}{}\n\n",
            self.reps,
            if self.reps == 1 { "" } else { "s" },
            if self.quick { " (quick counts)" } else { "" }
        );
        out.push_str(&format!(
            "{:<26} {:>14} {:<9} {:>23}  {}\n",
            "key", "median", "unit", "min .. max", "workload"
        ));
        for row in &self.rows {
            if let Some(error) = &row.error {
                out.push_str(&format!(
                    "{:<26} {:>14} {:<9} {:>23}  {}: {}\n",
                    row.key,
                    "FAILED",
                    row.unit,
                    "",
                    row.label,
                    error.replace('\n', " ")
                ));
                continue;
            }
            out.push_str(&format!(
                "{:<26} {:>14} {:<9} {:>23}  {}\n",
                row.key,
                format_figure(row.median),
                row.unit,
                format!(
                    "{} .. {}",
                    format_figure(row.range.0),
                    format_figure(row.range.1)
                ),
                row.label
            ));
        }
        out
    }
}

/// A figure with sensible precision.
pub fn format_figure(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1000.0 {
        let whole = value.round() as i64;
        let digits = whole.abs().to_string();
        let mut grouped = String::new();
        for (index, digit) in digits.chars().enumerate() {
            if index > 0 && (digits.len() - index).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        if whole < 0 {
            format!("-{grouped}")
        } else {
            grouped
        }
    } else if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn a_failed_workload_is_reported_and_the_rest_still_are() {
        let workloads = [
            Workload {
                key: "good",
                label: "works",
                unit: "ms",
                run: |_| Box::pin(async { Ok(1.0) }),
            },
            Workload {
                key: "bad",
                label: "fails",
                unit: "ms",
                run: |_| Box::pin(async { Ok(1.0) }),
            },
        ];
        let selected: Vec<&Workload> = workloads.iter().collect();
        let samples = BTreeMap::from([("good", vec![2.0, 1.0, 3.0])]);
        let failures = BTreeMap::from([("bad", "out of map areas".to_string())]);
        let report = Report::new(&selected, samples, failures, 3, true);
        let json = report.to_json();
        assert_eq!(json["good"], serde_json::json!(2.0));
        assert!(json.get("bad").is_none());
        assert_eq!(json["failed"]["bad"], serde_json::json!("out of map areas"));
        let table = report.to_table();
        assert!(table.contains("FAILED"), "{table}");
        assert!(table.contains("out of map areas"), "{table}");
        assert!(table.contains("good"), "{table}");
    }

    #[test]
    fn figures_are_grouped() {
        assert_eq!(format_figure(1_234_567.0), "1,234,567");
        assert_eq!(format_figure(12.345), "12.3");
        assert_eq!(format_figure(0.01234), "0.012");
    }
}
