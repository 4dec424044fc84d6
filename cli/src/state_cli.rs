//! `rustyray list tasks|actors|objects` and `rustyray summary tasks|actors`: the node's
//! state API (`state.rs`) as tables, or as JSON with `--json`. Filters are checked here
//! first, so a bad key fails before any request, naming the valid keys.

use std::process::ExitCode;

use rustyray::state::{ActorInfo, ObjectInfo, TaskInfo};
use rustyray::terminal::escape;

use rustyray_node::client::{Client, url_encode};
use rustyray_node::error::{NodeError, Result};
use rustyray_node::state::{
    ActorSummaryLine, Envelope, Filter, ListResult, Resource, Summary, TaskSummaryLine,
};

/// Lists `resource`, filtered (`KEY=VALUE`, `KEY!=VALUE`) and limited.
pub fn list(
    resource: Resource,
    json: bool,
    filters: &[String],
    limit: Option<usize>,
    client: Result<Client>,
) -> Result<ExitCode> {
    let mut query = Vec::new();
    for text in filters {
        Filter::parse(text)?.check(resource)?;
        query.push(format!("filter={}", url_encode(text)));
    }
    if let Some(limit) = limit {
        query.push(format!("limit={limit}"));
    }
    let path = format!("/api/v0/{}?{}", resource.as_str(), query.join("&"));
    let answer: Envelope<ListResult> = client?.get(&path)?;
    let answer = answer.data.result;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer.result).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let rows = answer.result.into_iter();
    let decode = |what: &str, err: serde_json::Error| NodeError::io(format!("reading {what}"), err);
    match resource {
        Resource::Tasks => {
            println!(
                "{:<34} {:<24} {:<12} {:<24} {:<28} ERROR TYPE",
                "TASK ID", "NAME", "TYPE", "STATE", "JOB ID"
            );
            for row in rows {
                let task: TaskInfo =
                    serde_json::from_value(row).map_err(|e| decode("a task", e))?;
                println!(
                    "{:<34} {:<24} {:<12} {:<24} {:<28} {}",
                    task.task_id,
                    escape(&task.name),
                    escape(&task.kind),
                    task.state.as_str(),
                    escape(task.job_id.as_deref().unwrap_or("-")),
                    task.error_type.as_deref().unwrap_or("-"),
                );
            }
        }
        Resource::Actors => {
            println!(
                "{:<34} {:<18} {:<14} {:<10} {:>8} {:>12} JOB ID",
                "ACTOR ID", "CLASS", "NAME", "STATE", "RESTARTS", "SNAPSHOT AGE"
            );
            for row in rows {
                let actor: ActorInfo =
                    serde_json::from_value(row).map_err(|e| decode("an actor", e))?;
                println!(
                    "{:<34} {:<18} {:<14} {:<10} {:>8} {:>12} {}",
                    actor.actor_id,
                    escape(&actor.class_name),
                    escape(if actor.name.is_empty() {
                        "-"
                    } else {
                        &actor.name
                    }),
                    actor.state.as_str(),
                    actor.num_restarts,
                    actor
                        .snapshot_age_s
                        .map_or("-".into(), |age| format!("{age:.1}s")),
                    escape(actor.job_id.as_deref().unwrap_or("-")),
                );
            }
        }
        Resource::Objects => {
            println!(
                "{:<34} {:>10} {:<8} {:<11} {:<34} JOB ID",
                "OBJECT ID", "SIZE", "WHERE", "TYPE", "TASK ID"
            );
            for row in rows {
                let object: ObjectInfo =
                    serde_json::from_value(row).map_err(|e| decode("an object", e))?;
                let place = serde_json::to_value(object.location)
                    .ok()
                    .and_then(|value| value.as_str().map(str::to_string))
                    .unwrap_or_default();
                println!(
                    "{:<34} {:>10} {:<8} {:<11} {:<34} {}",
                    object.object_id,
                    object
                        .object_size
                        .map_or("-".into(), |size| size.to_string()),
                    place,
                    object.kind,
                    object.task_id.as_deref().unwrap_or("-"),
                    escape(object.job_id.as_deref().unwrap_or("-")),
                );
            }
        }
    }
    if let Some(warning) = answer.partial_failure_warning {
        eprintln!("note: {warning}");
    }
    for warning in answer.warnings.unwrap_or_default() {
        eprintln!("note: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Summarizes tasks per function, or actors per class, by state.
pub fn summarize(resource: Resource, json: bool, client: Result<Client>) -> Result<ExitCode> {
    let client = client?;
    let path = format!("/api/v0/{}/summarize", resource.as_str());
    // Each line: the function or class, its kind, then its counts per state.
    let lines: Vec<SummaryRow> = match resource {
        Resource::Actors => {
            let answer: Envelope<Summary<ActorSummaryLine>> = client.get(&path)?;
            if json {
                return print_json(&answer.data.result);
            }
            lines_of(answer.data.result, |line| {
                (line.class_name, String::new(), line.state_counts)
            })
        }
        _ => {
            let answer: Envelope<Summary<TaskSummaryLine>> = client.get(&path)?;
            if json {
                return print_json(&answer.data.result);
            }
            lines_of(answer.data.result, |line| {
                (line.func_or_class_name, line.kind, line.state_counts)
            })
        }
    };
    let what = if resource == Resource::Actors {
        "CLASS"
    } else {
        "FUNCTION"
    };
    // Tasks say their type (`NORMAL_TASK`, or `ACTOR_TASK` for `Class.method`).
    let kind_column = |kind: &str| {
        if resource == Resource::Actors {
            String::new()
        } else {
            format!("{kind:<12} ")
        }
    };
    println!("{what:<32} {}STATE COUNTS", kind_column("TYPE"));
    for (name, kind, counts) in lines {
        let counts: Vec<String> = counts
            .into_iter()
            .map(|(state, count)| format!("{state}: {count}"))
            .collect();
        println!(
            "{:<32} {}{}",
            escape(&name),
            kind_column(&escape(&kind)),
            counts.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A summary's line: the function or class, its kind (tasks only), its counts per state.
type SummaryRow = (String, String, Vec<(String, u64)>);

fn lines_of<L>(
    summary: Summary<L>,
    line: impl Fn(L) -> (String, String, std::collections::BTreeMap<String, u64>),
) -> Vec<SummaryRow> {
    summary
        .node_id_to_summary
        .into_values()
        .flat_map(|body| body.summary.into_values())
        .map(|entry| {
            let (name, kind, counts) = line(entry);
            (name, kind, counts.into_iter().collect())
        })
        .collect()
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<ExitCode> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
