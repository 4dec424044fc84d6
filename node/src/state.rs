//! The node's state API, in Ray's shapes: `GET /api/v0/tasks|actors|objects` and
//! `/api/v0/tasks/summarize`, `/api/v0/actors/summarize`.
//!
//! Tasks, actors and objects live in the jobs' driver processes, so each driver writes
//! its runtime's [`StateSnapshot`] to `DATA_DIR/jobs/<id>.state.json` (`rustyray run
//! --state-file`, rewritten atomically every 100 ms, less often when large, and at exit). A request
//! reads every job's file, adds the node's own runtime (detached actors, no job id),
//! tags each item with its job's id ([`merge`]), then filters
//! (`key=value`, `key!=value`, on the keys [`valid_keys`] names) and limits.

use std::collections::{BTreeMap, HashMap};

use rustyray::StateSnapshot;
use rustyray::state::{ActorInfo, LatencyHistogram, ObjectInfo, StoreSummary, TaskInfo};
use serde::{Deserialize, Serialize};

use crate::error::{NodeError, Result};

/// Items listed when the request sets no `limit` (Ray's default).
pub const DEFAULT_LIMIT: usize = 100;
/// The most items one request lists (Ray's API server bound).
pub const MAX_LIMIT: usize = 10_000;

/// A listable resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Tasks.
    Tasks,
    /// Actors.
    Actors,
    /// Objects.
    Objects,
}

impl Resource {
    /// From its name in the path or on the command line.
    pub fn parse(name: &str) -> Result<Resource> {
        match name {
            "tasks" => Ok(Resource::Tasks),
            "actors" => Ok(Resource::Actors),
            "objects" => Ok(Resource::Objects),
            other => Err(NodeError::UnknownResource(other.to_string())),
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Tasks => "tasks",
            Resource::Actors => "actors",
            Resource::Objects => "objects",
        }
    }
}

/// The keys a filter on `resource` may name.
pub fn valid_keys(resource: Resource) -> &'static [&'static str] {
    match resource {
        Resource::Tasks => &[
            "task_id",
            "name",
            "state",
            "job_id",
            "type",
            "func_or_class_name",
            "error_type",
            "attempt_number",
            "node_id",
        ],
        Resource::Actors => &[
            "actor_id",
            "class_name",
            "state",
            "name",
            "ray_namespace",
            "job_id",
            "num_restarts",
            "is_detached",
            "node_id",
        ],
        Resource::Objects => &[
            "object_id",
            "object_size",
            "location",
            "reference_type",
            "type",
            "task_id",
            "task_status",
            "job_id",
            "node_id",
        ],
    }
}

/// One filter: `key=value` or `key!=value` (values compared as text, ignoring case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// The field.
    pub key: String,
    /// `!=` rather than `=`.
    pub negate: bool,
    /// The value it is compared with.
    pub value: String,
}

impl Filter {
    /// Parses `key=value` or `key!=value`.
    pub fn parse(text: &str) -> Result<Filter> {
        let (key, negate, value) = if let Some((key, value)) = text.split_once("!=") {
            (key, true, value)
        } else if let Some((key, value)) = text.split_once('=') {
            (key, false, value)
        } else {
            return Err(NodeError::BadFilter(text.to_string()));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(NodeError::BadFilter(text.to_string()));
        }
        Ok(Filter {
            key: key.to_string(),
            negate,
            value: value.trim().to_string(),
        })
    }

    /// Refuses a key `resource` does not have, naming the valid ones.
    pub fn check(&self, resource: Resource) -> Result<()> {
        let valid = valid_keys(resource);
        if valid.contains(&self.key.as_str()) {
            Ok(())
        } else {
            Err(NodeError::BadFilterKey {
                key: self.key.clone(),
                resource: resource.as_str(),
                valid: valid.to_vec(),
            })
        }
    }

    fn matches(&self, item: &serde_json::Value) -> bool {
        let field = match item.get(&self.key) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        };
        field.eq_ignore_ascii_case(&self.value) != self.negate
    }
}

/// What a list request asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Every filter must match.
    pub filters: Vec<Filter>,
    /// At most this many items ([`DEFAULT_LIMIT`] unless given, at most [`MAX_LIMIT`]).
    pub limit: Option<usize>,
}

impl ListQuery {
    /// Parses a query string: `filter=key=value` (repeatable; `key!=value` too), Ray's
    /// `filter_keys`/`filter_predicates`/`filter_values` triples, and `limit`. Other
    /// parameters (Ray's `timeout`, `detail`, `exclude_driver`) are accepted and ignored.
    pub fn parse(raw: Option<&str>) -> Result<ListQuery> {
        let mut query = ListQuery::default();
        let (mut keys, mut predicates, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for (name, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match name.as_ref() {
                "filter" => query.filters.push(Filter::parse(&value)?),
                "filter_keys" => keys.push(value.into_owned()),
                "filter_predicates" => predicates.push(value.into_owned()),
                "filter_values" => values.push(value.into_owned()),
                "limit" => {
                    let limit = value.trim().parse::<usize>().map_err(|_| {
                        NodeError::BadRequest(format!("limit must be a number, not {value:?}"))
                    })?;
                    query.limit = Some(limit);
                }
                _ => {}
            }
        }
        if keys.len() != values.len() || (!predicates.is_empty() && predicates.len() != keys.len())
        {
            return Err(NodeError::BadRequest(
                "filter_keys, filter_predicates and filter_values must come in equal numbers"
                    .into(),
            ));
        }
        for (index, (key, value)) in keys.into_iter().zip(values).enumerate() {
            let negate = match predicates.get(index).map(String::as_str) {
                None | Some("=") => false,
                Some("!=") => true,
                Some(other) => {
                    return Err(NodeError::BadFilter(format!("{key}{other}{value}")));
                }
            };
            query.filters.push(Filter { key, negate, value });
        }
        Ok(query)
    }
}

/// Every job's state, merged, each item carrying its `job_id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Merged {
    /// Tasks of every job.
    pub tasks: Vec<TaskInfo>,
    /// Actors of every job.
    pub actors: Vec<ActorInfo>,
    /// Objects of every job.
    pub objects: Vec<ObjectInfo>,
    /// Task records pushed out of the drivers' bounded rings.
    pub task_records_dropped: u64,
    /// Tasks submitted, finished and failed, by job.
    pub task_totals: BTreeMap<String, rustyray::state::TaskTotals>,
    /// Task run times, all jobs together.
    pub latency: LatencyHistogram,
    /// The object stores, all jobs together.
    pub store: StoreSummary,
    /// Live instances, all jobs together.
    pub instances: rustyray::state::InstanceSummary,
}

/// Merges snapshots, each under its job's id (`None`: the node's own runtime).
pub fn merge(snapshots: Vec<(Option<String>, StateSnapshot)>, now_ms: u64) -> Merged {
    let mut merged = Merged::default();
    for (job, snapshot) in snapshots {
        for mut task in snapshot.tasks {
            task.job_id = job.clone();
            merged.tasks.push(task);
        }
        for mut actor in snapshot.actors {
            actor.job_id = job.clone();
            // The age as of now, not as of when the driver wrote its file.
            if let Some(taken) = actor.snapshot_time_ms {
                actor.snapshot_age_s = Some(now_ms.saturating_sub(taken) as f64 / 1000.0);
            }
            merged.actors.push(actor);
        }
        for mut object in snapshot.objects {
            object.job_id = job.clone();
            merged.objects.push(object);
        }
        merged.task_records_dropped += snapshot.totals.records_dropped;
        merged
            .task_totals
            .insert(job.unwrap_or_else(|| "node".into()), snapshot.totals);
        add_latency(&mut merged.latency, &snapshot.latency);
        merged.store.live_objects += snapshot.store.live_objects;
        merged.store.used_bytes += snapshot.store.used_bytes;
        merged.store.capacity += snapshot.store.capacity;
        merged.store.spilled_bytes += snapshot.store.spilled_bytes;
        merged.store.spills += snapshot.store.spills;
        merged.store.restores += snapshot.store.restores;
        merged.instances.tasks += snapshot.instances.tasks;
        merged.instances.actors += snapshot.instances.actors;
    }
    merged
}

/// What the cluster's actor directory knows of an actor this node hosts that the
/// hosting runtime does not: it runs every placed actor as the node's own.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedActor {
    /// Whether it outlives its job.
    pub detached: bool,
    /// The job that created it.
    pub owner: Option<String>,
    /// Restarts after the loss of a node that hosted it.
    pub restarts: u32,
}

/// Gives the node's own actors that the cluster placed here their job, their
/// detachedness and the restarts they had on other nodes (keyed by actor id).
pub fn apply_placed(merged: &mut Merged, placed: &HashMap<String, PlacedActor>) {
    for actor in merged
        .actors
        .iter_mut()
        .filter(|actor| actor.job_id.is_none())
    {
        if let Some(facts) = placed.get(&actor.actor_id) {
            actor.is_detached = facts.detached;
            if !facts.detached {
                actor.job_id = facts.owner.clone();
            }
            actor.num_restarts = actor.num_restarts.saturating_add(facts.restarts);
        }
    }
}

/// Names `node_id` as the node of every item (the node that answers for them).
pub fn tag_node(merged: &mut Merged, node_id: &str) {
    for task in &mut merged.tasks {
        task.node_id = Some(node_id.to_string());
    }
    for actor in &mut merged.actors {
        actor.node_id = Some(node_id.to_string());
    }
    for object in &mut merged.objects {
        object.node_id = Some(node_id.to_string());
    }
}

/// The most bytes of JSON one node's part of a cluster-wide answer may take: NATS
/// refuses messages past its `max_payload` (1 MiB by default).
pub const MAX_PART_BYTES: usize = 768 << 10;

/// Cuts `part`'s items until its JSON fits in `max_bytes`, saying so in its warnings.
pub fn fit(part: &mut ListResult, max_bytes: usize) {
    let size = |part: &ListResult| serde_json::to_vec(part).map_or(usize::MAX, |json| json.len());
    let listed = part.result.len();
    while !part.result.is_empty() && size(part) > max_bytes {
        let keep = part.result.len() / 2;
        part.result.truncate(keep);
    }
    if part.result.len() < listed {
        part.num_after_truncation = part.result.len();
        part.warnings.get_or_insert_with(Vec::new).push(format!(
            "a node listed {} of its {listed} items: its answer is bounded to {} KiB (narrow it with --filter)",
            part.result.len(),
            max_bytes >> 10
        ));
    }
}

/// One list answer from the parts of every node (each filtered and limited already),
/// limited to `limit` items; `failures` name the nodes that did not answer.
pub fn combine(parts: Vec<ListResult>, failures: Vec<String>, limit: usize) -> ListResult {
    let mut combined = ListResult::default();
    let mut partial = Vec::new();
    let mut warnings = Vec::new();
    for part in parts {
        combined.total += part.total;
        combined.num_filtered += part.num_filtered;
        combined.result.extend(part.result);
        partial.extend(part.partial_failure_warning);
        warnings.extend(
            part.warnings
                .unwrap_or_default()
                .into_iter()
                .filter(|warning| !warning.contains(" match; ")),
        );
    }
    combined.result.truncate(limit.min(MAX_LIMIT));
    combined.num_after_truncation = combined.result.len();
    if combined.result.len() < combined.num_filtered {
        warnings.push(format!(
            "{} match; {} listed (raise --limit, at most {MAX_LIMIT})",
            combined.num_filtered,
            combined.result.len()
        ));
    }
    partial.extend(failures);
    combined.partial_failure_warning = (!partial.is_empty()).then(|| partial.join("; "));
    combined.warnings = (!warnings.is_empty()).then_some(warnings);
    combined
}

/// A line of a summary: a name's counts per state.
pub trait SummaryLine {
    /// What Ray's summary of these lines is `summary_by`.
    const SUMMARY_BY: &'static str;
    /// The same line with no counts.
    fn without_counts(&self) -> Self;
    /// Its counts per state.
    fn state_counts(&mut self) -> &mut BTreeMap<String, u64>;
}

impl SummaryLine for TaskSummaryLine {
    const SUMMARY_BY: &'static str = "func_name";
    fn without_counts(&self) -> Self {
        TaskSummaryLine {
            func_or_class_name: self.func_or_class_name.clone(),
            kind: self.kind.clone(),
            state_counts: BTreeMap::new(),
        }
    }
    fn state_counts(&mut self) -> &mut BTreeMap<String, u64> {
        &mut self.state_counts
    }
}

impl SummaryLine for ActorSummaryLine {
    const SUMMARY_BY: &'static str = "class";
    fn without_counts(&self) -> Self {
        ActorSummaryLine {
            class_name: self.class_name.clone(),
            state_counts: BTreeMap::new(),
        }
    }
    fn state_counts(&mut self) -> &mut BTreeMap<String, u64> {
        &mut self.state_counts
    }
}

/// Adds another node's summary into `into`'s `cluster` body.
pub fn add_summary<L: SummaryLine>(into: &mut Summary<L>, more: Summary<L>) {
    let into = into
        .node_id_to_summary
        .entry("cluster".into())
        .or_insert_with(|| SummaryBody {
            summary: BTreeMap::new(),
            total: 0,
            summary_by: L::SUMMARY_BY.into(),
        });
    for body in more.node_id_to_summary.into_values() {
        into.total += body.total;
        for (name, mut line) in body.summary {
            let entry = into
                .summary
                .entry(name)
                .or_insert_with(|| line.without_counts());
            for (state, count) in std::mem::take(line.state_counts()) {
                *entry.state_counts().entry(state).or_default() += count;
            }
        }
    }
}

/// Ends what a job's last state file left unfinished, once the job has ended: its
/// driver is gone (stopped, or killed before its last write), so a task still pending or
/// running failed with it, an actor still alive died with it, and its objects are gone,
/// as in Ray.
pub fn job_ended(snapshot: &mut StateSnapshot, end_ms: Option<u64>) {
    use rustyray::state::{ActorState, TaskState};
    for task in &mut snapshot.tasks {
        if !task.state.is_terminal() {
            task.state = TaskState::Failed;
            task.error_type = Some("WORKER_DIED".into());
            task.error_message = Some("its job ended before the task did".into());
            task.end_time_ms = task.end_time_ms.or(end_ms);
        }
    }
    for actor in &mut snapshot.actors {
        if actor.state != ActorState::Dead {
            actor.state = ActorState::Dead;
            actor.death_cause = Some("its job ended".into());
            actor.end_time_ms = actor.end_time_ms.or(end_ms);
        }
    }
    // Its objects went with its driver's process.
    snapshot.objects.clear();
    snapshot.store = Default::default();
    snapshot.instances = Default::default();
}

fn add_latency(into: &mut LatencyHistogram, more: &LatencyHistogram) {
    if into.buckets.is_empty() {
        into.buckets = more.buckets.clone();
    } else if into.buckets.len() == more.buckets.len() {
        for (bucket, (_, count)) in into.buckets.iter_mut().zip(&more.buckets) {
            bucket.1 += count;
        }
    }
    into.sum_seconds += more.sum_seconds;
    into.count += more.count;
}

/// A list answer (Ray's `ListApiResponse`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListResult {
    /// Items before filtering.
    pub total: usize,
    /// Items returned.
    pub num_after_truncation: usize,
    /// Items that passed the filters.
    pub num_filtered: usize,
    /// The items.
    pub result: Vec<serde_json::Value>,
    /// Why the answer may be partial (task records dropped from a bounded ring).
    pub partial_failure_warning: Option<String>,
    /// Other remarks.
    pub warnings: Option<Vec<String>>,
}

/// Ray's envelope around every state API answer: `{"result": true, "msg": "", "data":
/// {"result": ...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Always true for an answer (errors are the node's error body).
    pub result: bool,
    /// Empty.
    pub msg: String,
    /// The answer.
    pub data: EnvelopeData<T>,
}

/// The `data` of an [`Envelope`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvelopeData<T> {
    /// The answer itself.
    pub result: T,
}

impl<T> Envelope<T> {
    /// Wraps an answer.
    pub fn new(result: T) -> Self {
        Envelope {
            result: true,
            msg: String::new(),
            data: EnvelopeData { result },
        }
    }
}

/// Lists `resource` from `merged`, filtered and limited as `query` says.
pub fn list(merged: &Merged, resource: Resource, query: &ListQuery) -> Result<ListResult> {
    for filter in &query.filters {
        filter.check(resource)?;
    }
    let items: Vec<serde_json::Value> = match resource {
        Resource::Tasks => to_values(&merged.tasks),
        Resource::Actors => to_values(&merged.actors),
        Resource::Objects => to_values(&merged.objects),
    };
    let total = items.len();
    let filtered: Vec<serde_json::Value> = items
        .into_iter()
        .filter(|item| query.filters.iter().all(|filter| filter.matches(item)))
        .collect();
    let num_filtered = filtered.len();
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let result: Vec<serde_json::Value> = filtered.into_iter().take(limit).collect();
    let mut warnings = Vec::new();
    if result.len() < num_filtered {
        warnings.push(format!(
            "{num_filtered} {} match; {} listed (raise --limit, at most {MAX_LIMIT})",
            resource.as_str(),
            result.len()
        ));
    }
    let partial_failure_warning = (resource != Resource::Actors && merged.task_records_dropped > 0)
        .then(|| {
            format!(
                "{} older task records were dropped (each job keeps its latest {})",
                merged.task_records_dropped,
                merged
                    .task_totals
                    .values()
                    .map(|totals| totals.max_task_records)
                    .max()
                    .unwrap_or(0)
            )
        });
    Ok(ListResult {
        total,
        num_after_truncation: result.len(),
        num_filtered,
        result,
        partial_failure_warning,
        warnings: (!warnings.is_empty()).then_some(warnings),
    })
}

fn to_values<T: Serialize>(items: &[T]) -> Vec<serde_json::Value> {
    items
        .iter()
        .filter_map(|item| serde_json::to_value(item).ok())
        .collect()
}

/// One function's line in a task summary (Ray's `TaskSummaryPerFuncOrClassName`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskSummaryLine {
    /// The function.
    pub func_or_class_name: String,
    /// `NORMAL_TASK`, or `ACTOR_TASK` (a method, `Class.method`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Tasks per state.
    pub state_counts: BTreeMap<String, u64>,
}

/// One class's line in an actor summary (Ray's `ActorSummaryPerClass`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActorSummaryLine {
    /// The class.
    pub class_name: String,
    /// Actors per state.
    pub state_counts: BTreeMap<String, u64>,
}

/// A summary of one kind (Ray's `{"node_id_to_summary": {"cluster": ...}}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary<L> {
    /// Ray keys the one summary `cluster`.
    pub node_id_to_summary: BTreeMap<String, SummaryBody<L>>,
}

/// The body of a [`Summary`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SummaryBody<L> {
    /// A line per function or class.
    pub summary: BTreeMap<String, L>,
    /// Tasks (or actors) counted.
    #[serde(alias = "total_actors")]
    pub total: u64,
    /// What the lines are keyed by.
    pub summary_by: String,
}

/// Tasks per function and state.
pub fn summarize_tasks(merged: &Merged) -> Summary<TaskSummaryLine> {
    let mut summary: BTreeMap<String, TaskSummaryLine> = BTreeMap::new();
    for task in &merged.tasks {
        let line = summary
            .entry(task.func_or_class_name.clone())
            .or_insert_with(|| TaskSummaryLine {
                func_or_class_name: task.func_or_class_name.clone(),
                kind: task.kind.clone(),
                state_counts: BTreeMap::new(),
            });
        *line
            .state_counts
            .entry(task.state.as_str().to_string())
            .or_default() += 1;
    }
    cluster(summary, merged.tasks.len() as u64, "func_name")
}

/// Actors per class and state.
pub fn summarize_actors(merged: &Merged) -> Summary<ActorSummaryLine> {
    let mut summary: BTreeMap<String, ActorSummaryLine> = BTreeMap::new();
    for actor in &merged.actors {
        let line = summary
            .entry(actor.class_name.clone())
            .or_insert_with(|| ActorSummaryLine {
                class_name: actor.class_name.clone(),
                state_counts: BTreeMap::new(),
            });
        *line
            .state_counts
            .entry(actor.state.as_str().to_string())
            .or_default() += 1;
    }
    cluster(summary, merged.actors.len() as u64, "class")
}

fn cluster<L>(summary: BTreeMap<String, L>, total: u64, by: &str) -> Summary<L> {
    Summary {
        node_id_to_summary: BTreeMap::from([(
            "cluster".to_string(),
            SummaryBody {
                summary,
                total,
                summary_by: by.to_string(),
            },
        )]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_name_the_valid_keys() {
        let filter = Filter::parse("state=FINISHED").unwrap();
        assert!(!filter.negate);
        assert!(Filter::parse("state!=FAILED").unwrap().negate);
        assert!(matches!(
            Filter::parse("state"),
            Err(NodeError::BadFilter(_))
        ));
        let bad = Filter::parse("colour=red").unwrap().check(Resource::Tasks);
        let message = bad.unwrap_err().to_string();
        assert!(message.contains("\"colour\""), "{message}");
        assert!(message.contains("task_id, name, state"), "{message}");
        let query = ListQuery::parse(Some(
            "filter_keys=state&filter_predicates=%21%3D&filter_values=DEAD&limit=5",
        ))
        .unwrap();
        assert_eq!(query.limit, Some(5));
        assert!(query.filters[0].negate);
    }

    #[test]
    fn nodes_parts_combine_into_one_bounded_answer() {
        let part = |n: usize, warning: Option<&str>| ListResult {
            total: n,
            num_after_truncation: n,
            num_filtered: n,
            result: (0..n).map(|i| serde_json::json!({ "i": i })).collect(),
            partial_failure_warning: warning.map(String::from),
            warnings: None,
        };
        let combined = combine(
            vec![
                part(3, None),
                part(4, Some("older task records were dropped")),
            ],
            vec!["node node_b did not answer".into()],
            5,
        );
        assert_eq!(combined.total, 7);
        assert_eq!(combined.num_filtered, 7);
        assert_eq!(combined.result.len(), 5);
        assert_eq!(combined.num_after_truncation, 5);
        let partial = combined.partial_failure_warning.unwrap_or_default();
        assert!(
            partial.contains("dropped") && partial.contains("node_b"),
            "{partial}"
        );
        assert!(combined.warnings.unwrap_or_default()[0].contains("7 match; 5 listed"));
        // A part past the bound is cut, saying so.
        let mut big = part(10_000, None);
        fit(&mut big, 4 << 10);
        assert!(serde_json::to_vec(&big).unwrap().len() <= 4 << 10);
        assert!(big.result.len() < 10_000 && big.num_after_truncation == big.result.len());
        assert!(big.warnings.unwrap_or_default()[0].contains("bounded"));
    }

    #[test]
    fn placed_actors_get_their_job_detachedness_and_restarts_from_the_directory() {
        let actor = |id: &str| ActorInfo {
            actor_id: id.into(),
            class_name: "Tally".into(),
            state: rustyray::state::ActorState::Alive,
            name: String::new(),
            ray_namespace: String::new(),
            job_id: None,
            node_id: None,
            num_restarts: 1,
            is_detached: true,
            death_cause: None,
            start_time_ms: None,
            end_time_ms: None,
            snapshot_time_ms: None,
            snapshot_age_s: None,
        };
        let mut merged = Merged {
            actors: vec![actor("placed"), actor("detached"), actor("own")],
            ..Merged::default()
        };
        let placed = HashMap::from([
            (
                "placed".to_string(),
                PlacedActor {
                    detached: false,
                    owner: Some("job-1".into()),
                    restarts: 2,
                },
            ),
            (
                "detached".to_string(),
                PlacedActor {
                    detached: true,
                    owner: Some("job-1".into()),
                    restarts: 0,
                },
            ),
        ]);
        apply_placed(&mut merged, &placed);
        let [placed, detached, own] = &merged.actors[..] else {
            panic!("three actors");
        };
        assert_eq!(
            (
                placed.is_detached,
                placed.job_id.as_deref(),
                placed.num_restarts
            ),
            (false, Some("job-1"), 3)
        );
        assert_eq!(
            (
                detached.is_detached,
                detached.job_id.as_deref(),
                detached.num_restarts
            ),
            (true, None, 1)
        );
        assert_eq!(
            (own.is_detached, own.job_id.as_deref(), own.num_restarts),
            (true, None, 1)
        );
    }
}
