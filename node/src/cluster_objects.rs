//! Objects kept where they were made (issue 12: objects move between nodes on demand).
//!
//! A task another node sent here whose result is larger than
//! `--max-direct-call-object-size` (Ray's `max_direct_call_object_size`; default
//! [`MAX_DIRECT_CALL_OBJECT_SIZE`]) is not sent back: this node keeps it in memory
//! and answers with where it is ([`Held`]: this node, a random key, the length). The
//! owner (the job's driver, or a task runtime of the job that submitted it) fetches it
//! when it is first used — through its node, which reads it here in pieces over
//! `rustyray.objects.<node>.fetch` (`rustyray-cluster`'s `objects.rs`) — and lets it go
//! once fetched or when its last reference is dropped. A kept object is also let go
//! when its job ends (a node that never hears from the owner does not keep it for
//! ever). At most `--max-held-objects-mib` (default [`MAX_HELD_MIB`]) are kept at
//! once; a result that does not fit is sent back by value as before.
//!
//! Objects whose references cross nodes nested in values (`rustyray::remote::borrow`)
//! are kept here too: an object of a runtime of this node that a reference to is sent
//! elsewhere (copied here once), and results kept here whose references travel on.
//! Each kept object counts its references per node (the runtimes of that node that
//! hold one: the owner's, and every borrower's) and is let go when no node counts it:
//! a node lets its count go when its last reference there is dropped (or the object
//! is fetched whole there), and a node declared dead (its heartbeat expired) is dropped
//! from every count at the next sweep, so a borrower that died does not keep it.
//!
//! A driver's requests reach this from its node's task socket (a [`TaskRequest`]
//! carrying an [`ObjectOp`]); a task runtime's through its in-process transport. A
//! holder that is gone, or no longer holds the object, is answered as
//! [`RayError::ObjectLost`], which the owner answers by running the task again from
//! its lineage (`rustyray::remote::objects`).
//!
//! [`TaskRequest`]: rustyray::remote::TaskRequest

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use rustyray::RayError;
use rustyray::remote::objects::FETCH_PIECE;
use rustyray::remote::{
    Cancellation, Held, ObjectOp, Pending, TaskRequest, TaskTransport, WireValue,
};
use rustyray_cluster::Cluster;
use rustyray_cluster::objects::{FetchFailure, ObjectLink, ObjectMessage};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use crate::api::JobDetails;
use crate::error::Result;
use crate::metrics::Metrics;

/// Task results larger than this (bytes) stay on the node that made them, by default
/// (`rustyray start --max-direct-call-object-size`).
pub const MAX_DIRECT_CALL_OBJECT_SIZE: usize = 1 << 20;
/// The most MiB of results a node keeps for their owners at once, by default
/// (`rustyray start --max-held-objects-mib`).
pub const MAX_HELD_MIB: u64 = 1024;
/// How often kept objects of ended jobs are looked for (and let go).
pub const HELD_SWEEP: Duration = Duration::from_secs(2);

struct Kept {
    bytes: Bytes,
    job: Option<String>,
    /// References held to it, by node (`""`: a holder that named no node).
    holders: HashMap<String, u32>,
}

/// This node's kept objects and its side of fetching others'.
pub struct ClusterObjects {
    node_id: String,
    cluster: Cluster,
    link: ObjectLink,
    direct_max: usize,
    max_held: usize,
    held: Mutex<HashMap<String, Kept>>,
    held_bytes: AtomicUsize,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// `/metrics`: bytes kept now, results kept since start, pieces served.
    held_gauge: Gauge,
    kept_total: Counter,
    served_total: Counter,
}

impl ClusterObjects {
    /// Starts serving this node's kept objects: results larger than `direct_max` bytes
    /// are kept, at most `max_held` bytes at once.
    pub async fn start(
        cluster: Cluster,
        node_id: String,
        direct_max: usize,
        max_held: usize,
        metrics: &Metrics,
    ) -> Result<Arc<ClusterObjects>> {
        let link = ObjectLink::new(&cluster);
        let incoming = link.serve(&node_id).await?;
        let (held_gauge, kept_total, served_total) =
            (Gauge::default(), Counter::default(), Counter::default());
        metrics.register(
            "cluster_held_object_bytes",
            "Bytes of task results this node keeps for their owners on other nodes now",
            held_gauge.clone(),
        );
        metrics.register(
            "cluster_objects_kept",
            "Task results this node kept for their owners instead of sending them back",
            kept_total.clone(),
        );
        metrics.register(
            "cluster_object_pieces_served",
            "Pieces of kept objects this node sent to other nodes",
            served_total.clone(),
        );
        let objects = Arc::new(ClusterObjects {
            node_id,
            cluster,
            link,
            direct_max,
            max_held,
            held: Mutex::new(HashMap::new()),
            held_bytes: AtomicUsize::new(0),
            background: Mutex::new(Vec::new()),
            held_gauge,
            kept_total,
            served_total,
        });
        let handles = vec![
            tokio::spawn(objects.clone().serve(incoming)),
            tokio::spawn(objects.clone().sweep()),
        ];
        if let Ok(mut background) = objects.background.lock() {
            *background = handles;
        }
        Ok(objects)
    }

    /// Stops serving; kept objects are dropped.
    pub fn shutdown(&self) {
        if let Ok(mut background) = self.background.lock() {
            for handle in background.drain(..) {
                handle.abort();
            }
        }
        if let Ok(mut held) = self.held.lock() {
            held.clear();
        }
        self.held_bytes.store(0, Ordering::Relaxed);
        self.held_gauge.set(0);
    }

    /// Bytes of results kept here now.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes.load(Ordering::Relaxed)
    }

    /// Objects kept here now.
    pub fn held_count(&self) -> usize {
        self.held.lock().map_or(0, |held| held.len())
    }

    /// The answer to a task of job `job` node `owner` sent: `value` itself, or, when
    /// it is larger than the direct-call size and fits, where this node keeps it
    /// (counted for `owner`). A value holding references is sent as it is.
    pub fn keep(&self, value: WireValue, job: Option<&str>, owner: Option<&str>) -> WireValue {
        let len = value.data.len();
        if len <= self.direct_max || value.held.is_some() || !value.refs.is_empty() {
            return value;
        }
        match self.insert(&value.data, job, owner.unwrap_or_default()) {
            Some(held) => WireValue {
                raw: value.raw,
                data: Bytes::new(),
                held: Some(held),
                refs: Vec::new(),
            },
            None => value,
        }
    }

    /// Keeps `value`, an object of a runtime of this node a reference to which is
    /// going to another node, counted for this node; where it is kept. Refused when
    /// it does not fit (`--max-held-objects-mib`) or holds references itself.
    pub fn keep_shared(&self, value: WireValue, job: Option<&str>) -> rustyray::Result<Held> {
        if !value.refs.is_empty() || value.held.is_some() {
            return Err(RayError::ReferencesCannotCross {
                what: "an object reference to an object that holds references itself".into(),
            });
        }
        self.insert(&value.data, job, &self.node_id).ok_or_else(|| {
            RayError::ReferencesCannotCross {
                what: format!(
                    "an object reference: node {} keeps at most {} MiB for other nodes \
                     (--max-held-objects-mib) and this object of {} bytes does not fit",
                    self.node_id,
                    self.max_held >> 20,
                    value.data.len()
                ),
            }
        })
    }

    /// Keeps `bytes` for job `job`, counted once for `holder`: where, or `None` if
    /// they do not fit.
    fn insert(&self, bytes: &Bytes, job: Option<&str>, holder: &str) -> Option<Held> {
        let len = bytes.len();
        let fits = self
            .held_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(len)
                    .filter(|total| *total <= self.max_held)
            })
            .is_ok();
        if !fits {
            return None;
        }
        let key = random_key();
        self.kept_total.inc();
        self.held_gauge.inc_by(len as i64);
        if let Ok(mut held) = self.held.lock() {
            held.insert(
                key.clone(),
                Kept {
                    bytes: bytes.clone(),
                    job: job.map(str::to_string),
                    holders: HashMap::from([(holder.to_string(), 1)]),
                },
            );
        }
        Some(Held {
            node: self.node_id.clone(),
            key,
            len: len as u64,
        })
    }

    /// Counts one more reference to the object `key` kept here for `node`; `false`
    /// if it is not kept here (any more).
    fn add_holder(&self, key: &str, node: &str) -> bool {
        self.held
            .lock()
            .is_ok_and(|mut held| match held.get_mut(key) {
                Some(kept) => {
                    *kept.holders.entry(node.to_string()).or_default() += 1;
                    true
                }
                None => false,
            })
    }

    /// Lets one of `from`'s references to `key` go (one of any node's if `from` holds
    /// none or is not named); the object itself once no node holds one.
    fn unhold(&self, key: &str, from: Option<&str>) {
        let empty = self.held.lock().is_ok_and(|mut held| {
            let Some(kept) = held.get_mut(key) else {
                return false;
            };
            let who = from
                .filter(|from| kept.holders.contains_key(*from))
                .map(str::to_string)
                .or_else(|| kept.holders.keys().next().cloned());
            if let Some(who) = who
                && let Some(count) = kept.holders.get_mut(&who)
            {
                *count -= 1;
                if *count == 0 {
                    kept.holders.remove(&who);
                }
            }
            kept.holders.is_empty()
        });
        if empty {
            self.drop_kept(key);
        }
    }

    /// Counts one more reference to `held` for node `node` where it is kept (a
    /// reference to it is going there); [`RayError::ObjectLost`] if it is not kept
    /// there any more.
    pub async fn borrow_for(&self, held: &Held, node: &str) -> rustyray::Result<()> {
        let lost = |reason: String| RayError::ObjectLost {
            object: held.key.clone(),
            node: held.node.clone(),
            reason,
        };
        if held.node == self.node_id {
            return if self.add_holder(&held.key, node) {
                Ok(())
            } else {
                Err(lost("that node no longer holds it".into()))
            };
        }
        match self.link.borrow(&held.node, &held.key, node).await {
            Ok(()) => Ok(()),
            Err(FetchFailure::Missing) => Err(lost("that node no longer holds it".into())),
            Err(FetchFailure::NodeGone(why)) => Err(lost(why)),
            Err(FetchFailure::Failed(err)) => Err(RayError::Remote(format!(
                "counting a reference on node {}: {err}",
                held.node
            ))),
        }
    }

    /// Lets go of a kept object.
    fn drop_kept(&self, key: &str) {
        let gone = self.held.lock().ok().and_then(|mut held| held.remove(key));
        if let Some(kept) = gone {
            self.held_bytes
                .fetch_sub(kept.bytes.len(), Ordering::AcqRel);
            self.held_gauge.dec_by(kept.bytes.len() as i64);
        }
    }

    /// Bytes `offset..offset + len` of a kept object, if this node has it and the
    /// range is inside it.
    fn local(&self, key: &str, offset: u64, len: u64) -> Option<Bytes> {
        let held = self.held.lock().ok()?;
        let bytes = &held.get(key)?.bytes;
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        (end <= bytes.len()).then(|| bytes.slice(start..end))
    }

    /// Does what a runtime of job `job` asks of an object (a fetch answers its bytes
    /// as a raw value, a keep where it is kept).
    pub async fn op(&self, op: ObjectOp, job: Option<&str>) -> rustyray::Result<WireValue> {
        match op {
            ObjectOp::Fetch { held, offset, len } => {
                if len > FETCH_PIECE {
                    return Err(RayError::InvalidArgument(format!(
                        "a fetch asks for at most {FETCH_PIECE} bytes at once, not {len}"
                    )));
                }
                let data = self.fetch(&held, offset, len).await?;
                Ok(WireValue {
                    raw: true,
                    data,
                    held: None,
                    refs: Vec::new(),
                })
            }
            ObjectOp::Release { held } => {
                self.release(&held);
                Ok(unit())
            }
            ObjectOp::Keep { value } => {
                let raw = value.raw;
                let held = self.keep_shared(value, job)?;
                Ok(WireValue {
                    raw,
                    data: Bytes::new(),
                    held: Some(held),
                    refs: Vec::new(),
                })
            }
            ObjectOp::Borrow { held, node } => {
                let node = node.unwrap_or_else(|| self.node_id.clone());
                self.borrow_for(&held, &node).await?;
                Ok(unit())
            }
        }
    }

    /// Bytes `offset..offset + len` of `held`: from this node, or from its holder.
    pub async fn fetch(&self, held: &Held, offset: u64, len: u64) -> rustyray::Result<Bytes> {
        let lost = |reason: String| RayError::ObjectLost {
            object: held.key.clone(),
            node: held.node.clone(),
            reason,
        };
        if offset.checked_add(len).is_none_or(|end| end > held.len) {
            return Err(RayError::InvalidArgument(format!(
                "bytes {offset}..+{len} are not inside an object of {} bytes",
                held.len
            )));
        }
        if held.node == self.node_id {
            return self
                .local(&held.key, offset, len)
                .ok_or_else(|| lost("that node no longer holds it".into()));
        }
        match self.link.fetch(&held.node, &held.key, offset, len).await {
            Ok(bytes) => Ok(bytes),
            Err(FetchFailure::Missing) => Err(lost("that node no longer holds it".into())),
            Err(FetchFailure::NodeGone(why)) => Err(lost(why)),
            Err(FetchFailure::Failed(err)) => Err(RayError::Remote(format!(
                "fetching an object from node {}: {err}",
                held.node
            ))),
        }
    }

    /// Lets this node's count of `held` go where it is kept.
    pub fn release(&self, held: &Held) {
        if held.node == self.node_id {
            self.unhold(&held.key, Some(&self.node_id));
            return;
        }
        let (link, node, key, from) = (
            self.link.clone(),
            held.node.clone(),
            held.key.clone(),
            self.node_id.clone(),
        );
        tokio::spawn(async move {
            let _ = link.release(&node, &key, &from).await;
        });
    }

    /// Answers the fetches other nodes send, and takes releases.
    async fn serve(self: Arc<Self>, incoming: impl futures::Stream<Item = ObjectMessage>) {
        let mut incoming = std::pin::pin!(incoming);
        while let Some(message) = incoming.next().await {
            match message {
                ObjectMessage::Release { key, from } => self.unhold(&key, from.as_deref()),
                ObjectMessage::Borrow(request) => {
                    let counted =
                        !request.from.is_empty() && self.add_holder(&request.key, &request.from);
                    if let Err(err) = self.link.answer_borrow(&request, counted).await {
                        eprintln!("rustyray node: answering an object borrow: {err}");
                    }
                }
                ObjectMessage::Fetch(request) => {
                    let bytes = self.local(&request.key, request.offset, request.len);
                    if bytes.is_some() {
                        self.served_total.inc();
                    }
                    if let Err(err) = self.link.answer(&request, bytes).await {
                        eprintln!("rustyray node: answering an object fetch: {err}");
                    }
                }
            }
        }
    }

    /// Every [`HELD_SWEEP`], lets go of objects whose job ended.
    async fn sweep(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(HELD_SWEEP);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.forget_dead_holders().await;
            let jobs: std::collections::HashSet<String> = self
                .held
                .lock()
                .map(|held| held.values().filter_map(|kept| kept.job.clone()).collect())
                .unwrap_or_default();
            for job in jobs {
                let ended = match self.cluster.job::<JobDetails>(&job).await {
                    Ok(record) => record.is_none_or(|(entry, _)| entry.job.status.is_terminal()),
                    Err(_) => false,
                };
                if !ended {
                    continue;
                }
                let keys: Vec<String> = self
                    .held
                    .lock()
                    .map(|held| {
                        held.iter()
                            .filter(|(_, kept)| kept.job.as_deref() == Some(job.as_str()))
                            .map(|(key, _)| key.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                for key in keys {
                    self.drop_kept(&key);
                }
            }
        }
    }
}

impl ClusterObjects {
    /// Drops the counts of nodes no longer alive (their heartbeat expired): a
    /// borrower that died holds nothing. Objects no node holds then are let go.
    async fn forget_dead_holders(&self) {
        let others = self.held.lock().is_ok_and(|held| {
            held.values().any(|kept| {
                kept.holders
                    .keys()
                    .any(|node| !node.is_empty() && *node != self.node_id)
            })
        });
        // Just after NATS restarted, a live borrower's heartbeat may have expired and not
        // be written again yet.
        if !others || !self.cluster.settled() {
            return;
        }
        let Ok(live) = self.cluster.live_node_ids().await else {
            return;
        };
        let emptied: Vec<String> = self
            .held
            .lock()
            .map(|mut held| {
                held.iter_mut()
                    .filter_map(|(key, kept)| {
                        let before = kept.holders.len();
                        kept.holders.retain(|node, _| {
                            node.is_empty() || *node == self.node_id || live.contains(node)
                        });
                        (before > 0 && kept.holders.is_empty()).then(|| key.clone())
                    })
                    .collect()
            })
            .unwrap_or_default();
        for key in emptied {
            self.drop_kept(&key);
        }
    }
}

/// The object operations of the node's own runtime (the one hosting actors for every
/// node, `detached.rs`): its hosted actors' calls carry object references across nodes
/// (`rustyray::remote::borrow`), kept, fetched and counted here as a task runtime's
/// are. It runs no tasks elsewhere.
#[derive(Debug)]
pub struct HostObjects {
    objects: std::sync::Weak<ClusterObjects>,
    node_id: String,
}

impl HostObjects {
    /// The transport of `objects` for the node's own runtime.
    pub fn new(objects: &Arc<ClusterObjects>) -> Self {
        HostObjects {
            objects: Arc::downgrade(objects),
            node_id: objects.node_id.clone(),
        }
    }

    fn objects(&self) -> rustyray::Result<Arc<ClusterObjects>> {
        self.objects.upgrade().ok_or(RayError::ShutDown)
    }
}

impl TaskTransport for HostObjects {
    fn run(&self, request: TaskRequest, cancel: Cancellation) -> Pending<'_, WireValue> {
        let _ = (request, cancel);
        Box::pin(async {
            Err(RayError::Remote(
                "the node's actor runtime sends no tasks to other nodes".into(),
            ))
        })
    }

    fn fetch(&self, held: &Held, offset: u64, len: u64) -> Pending<'_, Bytes> {
        let held = held.clone();
        Box::pin(async move { self.objects()?.fetch(&held, offset, len).await })
    }

    fn release(&self, held: Held) {
        if let Ok(objects) = self.objects() {
            objects.release(&held);
        }
    }

    fn keep(&self, value: WireValue, job: Option<String>) -> Pending<'_, Held> {
        Box::pin(async move { self.objects()?.keep_shared(value, job.as_deref()) })
    }

    fn borrow(&self, held: &Held, node: Option<String>) -> Pending<'_, ()> {
        let held = held.clone();
        Box::pin(async move {
            let node = node.unwrap_or_else(|| self.node_id.clone());
            self.objects()?.borrow_for(&held, &node).await
        })
    }
}

/// A reply with no value.
fn unit() -> WireValue {
    WireValue {
        raw: false,
        data: Bytes::from_static(rustyray::codec::UNIT),
        held: None,
        refs: Vec::new(),
    }
}

/// A fresh key for a kept object: 128 random bits.
fn random_key() -> String {
    let id = rustyray::Id::random(0);
    format!("{:016x}{:016x}", id.hi, id.lo)
}
