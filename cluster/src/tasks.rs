//! Tasks between nodes: a node sends a task to another on `rustyray.tasks.<node id>.run`
//! (NATS core request/reply, no JetStream per task) and waits for its answer with no
//! timeout of its own (a task runs as long as it runs; the sender watches the other
//! node's heartbeat instead). Request and answer are opaque bytes here (the node's
//! MessagePack). A request carries the sender's key for it in the [`TASK_KEY`] header;
//! `rustyray.tasks.<node id>.cancel` with that key as its payload (and [`CANCEL_ALONE`]
//! in the [`CANCEL_HOW`] header for a cancel without the task's children) cancels it.
//! Both subjects are one subscription, so a cancel never overtakes its request.
//!
//! A payload that does not fit the server's `max_payload` (1 MiB by default) goes
//! through the object store [`TRANSFERS_STORE`] (JetStream chunks it): the message then
//! carries only the object's name, and the receiver reads and deletes it. Objects a
//! receiver never read (it died) expire after [`TRANSFER_KEPT`].
//!
//! The envelope is one byte, then the rest: [`INLINE`] + the payload, or [`STORED`] +
//! the object's name.
//!
//! **Batches.** Once a node serves its subjects ([`TaskLink::serve`]), what it sends to
//! another node goes in batches: every task (and cancel, in order behind it) queued for
//! that node while the last batch was published goes in one message on
//! `rustyray.tasks.<node id>.batch` (its [`FROM_HEADER`] naming the sender), up to
//! NATS's `max_payload`; the receiver answers each task as it ends, its answers queued
//! the same way into messages on `rustyray.tasks.<sender id>.answers`, matched by the
//! sender's key. A batch is items one after another: a tag byte ([`ITEM_RUN`],
//! [`ITEM_CANCEL`], [`ITEM_ANSWER`]), the key's length (one byte) and the key, the
//! body's length (4 bytes, big-endian) and the body (a run's or an answer's envelope; a
//! cancel's one byte, 1 for recursive). A batch that does not decode is dropped from
//! where it stops decoding. `.run` still takes one task per request. An empty message
//! with a reply subject on `.batch` is a probe ([`TaskLink::probe`]), answered empty:
//! NATS answers "no responders" for a node whose process is gone.
//!
//! **NATS restarting.** Core NATS delivers at most once: a batch or an answer published
//! while its receiver was disconnected (NATS restarting) is lost. So the sender keeps
//! every task it sent until answered, and once its client has connected again it
//! re-sends each task it sent before that (or in [`RESEND_GRACE`] after it, when the
//! receiver may not have subscribed again yet) every [`RESEND_INTERVAL`] until the
//! receiver confirms it. The receiver knows each task by its sender and key: a task it
//! runs now is confirmed ([`ITEM_HAVE`]) and not run twice; a task it answered in the
//! last [`ANSWER_KEPT`] (at most [`ANSWERS_KEPT_BYTES`] of answers) is answered again
//! from what it kept; any other runs (as a retry would).

use std::time::Duration;

use async_nats::jetstream::{self, object_store};
use bytes::Bytes;
use tokio::io::AsyncReadExt;

use crate::connection::Cluster;
use crate::error::{ClusterError, Result};
use crate::valid_key;

/// Object store of task payloads too large for one NATS message.
pub const TRANSFERS_STORE: &str = "rustyray_transfers";
/// How long an unread transfer is kept.
pub const TRANSFER_KEPT: Duration = Duration::from_secs(3600);
/// Largest payload a task request or answer may have (arguments or a result).
pub const MAX_TASK_PAYLOAD: usize = 1 << 30;
/// Envelope tag: the payload follows.
pub const INLINE: u8 = 0;
/// Envelope tag: the name of a transfer object follows.
pub const STORED: u8 = 1;
/// Room left in a message for the envelope and NATS headers.
const HEADROOM: usize = 4096;
/// The header naming a task request (the sender's key for it).
pub const TASK_KEY: &str = "Rustyray-Task";
/// The header of a cancel saying how.
pub const CANCEL_HOW: &str = "Rustyray-Cancel";
/// [`CANCEL_HOW`]'s value for a cancel of the task alone (otherwise: with its children).
pub const CANCEL_ALONE: &str = "alone";
/// The longest task key taken.
pub const MAX_TASK_KEY: usize = 128;

/// The transfer store's configuration (every connection opens it alike).
pub(crate) fn transfers_config() -> object_store::Config {
    object_store::Config {
        bucket: TRANSFERS_STORE.into(),
        description: Some("rustyray payloads too large for one message".into()),
        storage: jetstream::stream::StorageType::File,
        max_age: TRANSFER_KEPT,
        max_bytes: -1,
        ..Default::default()
    }
}

/// Stores `payload` in the transfer store under a new name, which it returns.
pub(crate) async fn store_transfer(
    cluster: &Cluster,
    transfers: &object_store::ObjectStore,
    payload: &[u8],
) -> Result<String> {
    if payload.len() > MAX_TASK_PAYLOAD {
        return Err(ClusterError::PayloadTooLarge {
            size: payload.len(),
            limit: MAX_TASK_PAYLOAD,
        });
    }
    let name = cluster.client.new_inbox().replace(['_', '.'], "-");
    let mut reader = payload;
    transfers
        .put(name.as_str(), &mut reader)
        .await
        .map_err(|err| ClusterError::nats(format!("storing {name} in {TRANSFERS_STORE}"), err))?;
    Ok(name)
}

/// Reads (then deletes) the transfer named `name`.
pub(crate) async fn take_transfer(
    transfers: &object_store::ObjectStore,
    name: &str,
) -> Result<Bytes> {
    if !valid_key(name) {
        return Err(ClusterError::BadEnvelope(
            "a transfer's name is not valid".into(),
        ));
    }
    let mut object = transfers.get(name).await.map_err(|err| {
        ClusterError::nats(format!("fetching {name} from {TRANSFERS_STORE}"), err)
    })?;
    let size = object.info().size;
    if size > MAX_TASK_PAYLOAD {
        return Err(ClusterError::PayloadTooLarge {
            size,
            limit: MAX_TASK_PAYLOAD,
        });
    }
    let mut bytes = Vec::with_capacity(size);
    (&mut object)
        .take(MAX_TASK_PAYLOAD as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|err| ClusterError::nats(format!("reading {name} from {TRANSFERS_STORE}"), err))?;
    let _ = transfers.delete(name).await;
    Ok(Bytes::from(bytes))
}

/// The header of a batch naming the node that sent it (where answers go).
pub const FROM_HEADER: &str = "Rustyray-From";
/// Batch item: a task (its key, its envelope).
pub const ITEM_RUN: u8 = 0;
/// Batch item: the cancel of the task sent under its key (body: 1 recursive, 0 alone).
pub const ITEM_CANCEL: u8 = 1;
/// Batch item: the answer to the task sent under its key (its envelope).
pub const ITEM_ANSWER: u8 = 2;
/// Batch item (on an answers subject): the task sent under its key, sent again, is
/// running here; no need to send it again (empty body).
pub const ITEM_HAVE: u8 = 3;
/// How often tasks not yet confirmed are sent again after a reconnection.
pub const RESEND_INTERVAL: Duration = Duration::from_millis(1000);
/// How long after the client reconnected the tasks sent since are sent again too (until
/// confirmed): the receiver may not have subscribed again yet when they were sent.
pub const RESEND_GRACE: Duration = Duration::from_secs(15);
/// How long a node keeps the answer to a task another node sent, to answer it again if
/// the task comes again (its answer was lost while NATS restarted).
pub const ANSWER_KEPT: Duration = Duration::from_secs(60);
/// The most bytes of answers kept for [`ANSWER_KEPT`] (the oldest go first).
pub const ANSWERS_KEPT_BYTES: usize = 64 << 20;
/// Room left in a batch message for NATS's headers.
const BATCH_HEADROOM: usize = 1024;
/// Items one batch carries at most.
pub const BATCH_ITEMS: usize = 1024;
/// Batch queues (one per peer node's tasks or answers subject) a node keeps at most: a
/// batch naming yet another sender is not answered. A lost node's queues are dropped
/// ([`TaskLink::forget_node`]).
pub const MAX_BATCH_QUEUES: usize = 1024;

/// The subject node `node_id` takes batches of tasks on.
pub fn batch_subject(node_id: &str) -> String {
    format!("rustyray.tasks.{node_id}.batch")
}

/// The subject node `node_id` takes batches of answers on.
pub fn answers_subject(node_id: &str) -> String {
    format!("rustyray.tasks.{node_id}.answers")
}

/// One batch item, encoded.
fn item(tag: u8, key: &str, body: &[u8]) -> Vec<u8> {
    let mut item = Vec::with_capacity(key.len() + body.len() + 6);
    item.push(tag);
    item.push(u8::try_from(key.len()).unwrap_or(u8::MAX));
    item.extend_from_slice(key.as_bytes());
    item.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
    item.extend_from_slice(body);
    item
}

/// The items of a batch: (tag, key, body); stops where it stops decoding.
pub fn batch_items(batch: &Bytes) -> Vec<(u8, String, Bytes)> {
    let mut items = Vec::new();
    let mut at = 0usize;
    while at < batch.len() {
        let Some(&[tag, key_len]) = batch.get(at..at + 2) else {
            break;
        };
        let key_end = at + 2 + usize::from(key_len);
        let Some(key) = batch
            .get(at + 2..key_end)
            .and_then(|key| std::str::from_utf8(key).ok())
        else {
            break;
        };
        let Some(len) = batch
            .get(key_end..key_end + 4)
            .and_then(|len| <[u8; 4]>::try_from(len).ok())
        else {
            break;
        };
        let body_start = key_end + 4;
        let body_end = body_start.saturating_add(u32::from_be_bytes(len) as usize);
        if body_end > batch.len() {
            break;
        }
        items.push((tag, key.to_string(), batch.slice(body_start..body_end)));
        at = body_end;
    }
    items
}

/// What a node sends in batches: a queue per subject (another node's tasks or answers
/// subject), each emptied by a task of its own; the tasks sent and not answered; and, of
/// the tasks other nodes sent, those running here and the answers kept.
#[derive(Default)]
struct Batching {
    /// This node's id, once it serves (batches are sent from then on).
    me: std::sync::OnceLock<String>,
    /// The runtime of the node's own serving, where every queue's publisher runs: a
    /// queue first used from a runtime that later ends (a job's task runtime) would
    /// otherwise close with it, and every later send to that node fail.
    publishers: std::sync::OnceLock<tokio::runtime::Handle>,
    queues: std::sync::Mutex<
        std::collections::HashMap<String, tokio::sync::mpsc::UnboundedSender<Bytes>>,
    >,
    waiting: std::sync::Mutex<std::collections::HashMap<String, Waiter>>,
    received: std::sync::Mutex<Received>,
}

/// A task sent and not answered: where its answer goes, and what to send again.
struct Waiter {
    answer: tokio::sync::oneshot::Sender<Bytes>,
    node: String,
    item: Bytes,
    /// The client's connection count when it was sent.
    connection: u64,
    /// Last sent then.
    sent: std::time::Instant,
    /// The receiver said it has it (since the last reconnection).
    confirmed: bool,
}

/// The tasks other nodes sent (by sender and key): running here, or answered lately.
#[derive(Default)]
struct Received {
    running: std::collections::HashSet<String>,
    answered: std::collections::HashMap<String, Bytes>,
    /// The answers kept, oldest first, and when.
    order: std::collections::VecDeque<(std::time::Instant, String)>,
    bytes: usize,
}

impl Received {
    /// Forgets answers past [`ANSWER_KEPT`] or over [`ANSWERS_KEPT_BYTES`].
    fn trim(&mut self) {
        while let Some((at, id)) = self.order.front() {
            if at.elapsed() < ANSWER_KEPT && self.bytes <= ANSWERS_KEPT_BYTES {
                break;
            }
            if let Some(answer) = self.answered.remove(id) {
                self.bytes = self.bytes.saturating_sub(answer.len());
            }
            self.order.pop_front();
        }
    }
}

/// What a node does with a task another node sent.
enum Arrival {
    /// New: run it.
    New,
    /// Running here: confirm it.
    Running,
    /// Answered lately: answer it again.
    Answered(Bytes),
}

/// The id a receiver knows a task by: its sender and the sender's key.
fn received_id(from: &str, key: &str) -> String {
    format!("{from} {key}")
}

/// Publishes what `queue` holds on `subject` in batches (what was queued while the last
/// one was published, up to `max` bytes and [`BATCH_ITEMS`] items).
async fn publish_batches(
    client: async_nats::Client,
    subject: String,
    from: String,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<Bytes>,
    max: usize,
) {
    let mut carried: Option<Bytes> = None;
    loop {
        let mut batch = match carried.take() {
            Some(item) => item.to_vec(),
            None => match queue.recv().await {
                Some(item) => item.to_vec(),
                None => return,
            },
        };
        let mut count = 1;
        while count < BATCH_ITEMS {
            match queue.try_recv() {
                Ok(next) => {
                    if batch.len() + next.len() > max {
                        carried = Some(next);
                        break;
                    }
                    batch.extend_from_slice(&next);
                    count += 1;
                }
                Err(_) => break,
            }
        }
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(FROM_HEADER, from.as_str());
        if let Err(err) = client
            .publish_with_headers(subject.clone(), headers, Bytes::from(batch))
            .await
        {
            eprintln!("rustyray node: publishing a batch on {subject}: {err}");
        }
    }
}

/// Forgets a task sent in a batch once its sender stops waiting.
struct Unanswered<'a> {
    batching: &'a Batching,
    key: &'a str,
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if let Ok(mut waiting) = self.batching.waiting.lock() {
            waiting.remove(self.key);
        }
    }
}

/// The subject node `node_id` takes tasks on.
pub fn subject(node_id: &str) -> String {
    format!("rustyray.tasks.{node_id}.run")
}

/// The subject node `node_id` takes cancels of its tasks on.
pub fn cancel_subject(node_id: &str) -> String {
    format!("rustyray.tasks.{node_id}.cancel")
}

/// The task side of a cluster connection: the connection and the transfer store.
#[derive(Clone)]
pub struct TaskLink {
    cluster: Cluster,
    transfers: object_store::ObjectStore,
    batching: std::sync::Arc<Batching>,
}

impl std::fmt::Debug for TaskLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskLink")
            .field("cluster", &self.cluster)
            .finish()
    }
}

/// Where a received task's answer goes.
enum Reply {
    /// The request's inbox (`.run`); none for a request that wants no answer.
    Inbox(Option<async_nats::Subject>),
    /// The sending node's answers, batched (`.batch`).
    Batched(String),
}

/// A task request a node received.
pub struct IncomingTask {
    envelope: Bytes,
    reply: Reply,
    /// The sender's key for it, if it gave a valid one.
    pub key: Option<String>,
}

impl IncomingTask {
    /// The node that sent it, when it came in a batch (which names its sender).
    pub fn sender(&self) -> Option<&str> {
        match &self.reply {
            Reply::Batched(sender) => Some(sender),
            Reply::Inbox(_) => None,
        }
    }
}

/// What arrives on a node's task subjects.
pub enum Incoming {
    /// A task to run.
    Task(IncomingTask),
    /// The cancel of the task the sender keyed `key`; `recursive`: with its children.
    Cancel {
        /// The key of its request.
        key: String,
        /// With the tasks it submitted.
        recursive: bool,
    },
}

fn task_key(headers: Option<&async_nats::HeaderMap>) -> Option<String> {
    headers
        .and_then(|headers| headers.get(TASK_KEY))
        .map(|value| value.as_str().to_string())
        .filter(|key| !key.is_empty() && key.len() <= MAX_TASK_KEY)
}

/// Why a task request got no answer.
#[derive(Debug)]
pub enum SendFailure {
    /// Nobody takes tasks on that node's subject (it is gone).
    NoResponders,
    /// Anything else.
    Failed(ClusterError),
}

impl TaskLink {
    /// The task side of `cluster`'s connection.
    pub async fn open(cluster: &Cluster) -> Result<TaskLink> {
        Ok(TaskLink {
            cluster: cluster.clone(),
            transfers: cluster.transfers.clone(),
            batching: std::sync::Arc::default(),
        })
    }

    /// The tasks sent to node `node_id`, and their cancels, in the order sent.
    pub async fn serve(
        &self,
        node_id: &str,
    ) -> Result<impl futures::Stream<Item = Incoming> + use<>> {
        if !valid_key(node_id) {
            return Err(ClusterError::BadKey(node_id.to_string()));
        }
        let subscriber = self
            .cluster
            .client
            .subscribe(format!("rustyray.tasks.{node_id}.*"))
            .await
            .map_err(|err| ClusterError::nats("subscribing to tasks", err))?;
        let _ = self.batching.me.set(node_id.to_string());
        let _ = self
            .batching
            .publishers
            .set(tokio::runtime::Handle::current());
        let cancels = cancel_subject(node_id);
        let batches = batch_subject(node_id);
        let answers = answers_subject(node_id);
        let link = self.clone();
        let resend = self.clone().resend_unconfirmed();
        match self.batching.publishers.get() {
            Some(runtime) => drop(runtime.spawn(resend)),
            None => drop(tokio::spawn(resend)),
        }
        let incoming = futures::StreamExt::flat_map(subscriber, move |message| {
            let subject = message.subject.as_str();
            let incoming: Vec<Incoming> = if subject == cancels {
                std::str::from_utf8(&message.payload)
                    .ok()
                    .filter(|key| !key.is_empty() && key.len() <= MAX_TASK_KEY)
                    .map(|key| Incoming::Cancel {
                        key: key.to_string(),
                        recursive: message
                            .headers
                            .as_ref()
                            .and_then(|headers| headers.get(CANCEL_HOW))
                            .is_none_or(|how| how.as_str() != CANCEL_ALONE),
                    })
                    .into_iter()
                    .collect()
            } else if subject == answers {
                if let Ok(mut waiting) = link.batching.waiting.lock() {
                    for (tag, key, body) in batch_items(&message.payload) {
                        match tag {
                            ITEM_ANSWER => {
                                if let Some(waiter) = waiting.remove(&key) {
                                    let _ = waiter.answer.send(body);
                                }
                            }
                            ITEM_HAVE => {
                                if let Some(waiter) = waiting.get_mut(&key) {
                                    waiter.confirmed = true;
                                }
                            }
                            _ => {}
                        }
                    }
                }
                Vec::new()
            } else if subject == batches && message.payload.is_empty() {
                // A probe ([`TaskLink::probe`]): answered empty, so its sender knows
                // this node takes batches.
                if let Some(reply) = message.reply.clone() {
                    let client = link.cluster.client.clone();
                    tokio::spawn(async move {
                        let _ = client.publish(reply, Bytes::new()).await;
                    });
                }
                Vec::new()
            } else if subject == batches {
                let from = message
                    .headers
                    .as_ref()
                    .and_then(|headers| headers.get(FROM_HEADER))
                    .map(|from| from.as_str().to_string())
                    .filter(|from| valid_key(from));
                match from {
                    Some(from) => batch_items(&message.payload)
                        .into_iter()
                        .filter(|(_, key, _)| !key.is_empty() && key.len() <= MAX_TASK_KEY)
                        .filter_map(|(tag, key, body)| match tag {
                            ITEM_RUN => match link.arrival(&from, &key) {
                                Arrival::New => Some(Incoming::Task(IncomingTask {
                                    envelope: body,
                                    reply: Reply::Batched(from.clone()),
                                    key: Some(key),
                                })),
                                Arrival::Running => {
                                    let _ = link.enqueue(
                                        answers_subject(&from),
                                        item(ITEM_HAVE, &key, &[]),
                                    );
                                    None
                                }
                                Arrival::Answered(answer) => {
                                    let _ = link.enqueue(answers_subject(&from), answer);
                                    None
                                }
                            },
                            ITEM_CANCEL => Some(Incoming::Cancel {
                                key,
                                recursive: body.first() != Some(&0),
                            }),
                            _ => None,
                        })
                        .collect(),
                    None => Vec::new(),
                }
            } else {
                vec![Incoming::Task(IncomingTask {
                    key: task_key(message.headers.as_ref()),
                    envelope: message.payload,
                    reply: Reply::Inbox(message.reply),
                })]
            };
            futures::stream::iter(incoming)
        });
        Ok(incoming)
    }

    /// What to do with the task `from` sent under `key`: new ones are recorded as running.
    fn arrival(&self, from: &str, key: &str) -> Arrival {
        let id = received_id(from, key);
        let Ok(mut received) = self.batching.received.lock() else {
            return Arrival::New;
        };
        received.trim();
        if received.running.contains(&id) {
            return Arrival::Running;
        }
        if let Some(answer) = received.answered.get(&id) {
            return Arrival::Answered(answer.clone());
        }
        received.running.insert(id);
        Arrival::New
    }

    /// Keeps the answer `item` to the task `from` sent under `key` (it no longer runs).
    fn answered(&self, from: &str, key: &str, item: &Bytes) {
        let id = received_id(from, key);
        if let Ok(mut received) = self.batching.received.lock() {
            received.running.remove(&id);
            if item.len() <= ANSWERS_KEPT_BYTES {
                received.bytes += item.len();
                if let Some(old) = received.answered.insert(id.clone(), item.clone()) {
                    received.bytes = received.bytes.saturating_sub(old.len());
                }
                received.order.push_back((std::time::Instant::now(), id));
            }
            received.trim();
        }
    }

    /// Once the client connected again, sends again (every [`RESEND_INTERVAL`]) each
    /// task not answered nor confirmed that was sent before, or up to [`RESEND_GRACE`]
    /// after, the reconnection.
    async fn resend_unconfirmed(self) {
        let mut connections = self.cluster.connections();
        let mut ticks = tokio::time::interval(RESEND_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                changed = connections.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    // A new connection: what the receivers confirmed before may be lost.
                    if let Ok(mut waiting) = self.batching.waiting.lock() {
                        for waiter in waiting.values_mut() {
                            waiter.confirmed = false;
                        }
                    }
                }
                _ = ticks.tick() => {}
            }
            let Some(reconnected) = self.cluster.reconnected_at() else {
                continue;
            };
            let now = *connections.borrow();
            let again: Vec<(String, Bytes)> = match self.batching.waiting.lock() {
                Ok(mut waiting) => waiting
                    .values_mut()
                    .filter(|waiter| {
                        !waiter.confirmed
                            && waiter.sent.elapsed() >= RESEND_INTERVAL
                            && (waiter.connection < now || reconnected.elapsed() < RESEND_GRACE)
                    })
                    .map(|waiter| {
                        waiter.sent = std::time::Instant::now();
                        (waiter.node.clone(), waiter.item.clone())
                    })
                    .collect(),
                Err(_) => continue,
            };
            for (node, item) in again {
                let _ = self.enqueue(batch_subject(&node), item);
            }
        }
    }

    /// Whether node `node_id` still takes batches: `Some(false)` when NATS answers that
    /// nothing subscribes to its batch subject (its process is gone), `Some(true)` when
    /// it answers the probe, `None` when neither comes within `timeout`.
    pub async fn probe(&self, node_id: &str, timeout: Duration) -> Option<bool> {
        if !valid_key(node_id) {
            return Some(false);
        }
        let request = async_nats::Request::new()
            .payload(Bytes::new())
            .timeout(Some(timeout));
        match self
            .cluster
            .client
            .send_request(batch_subject(node_id), request)
            .await
        {
            Ok(_) => Some(true),
            Err(err) if err.kind() == async_nats::client::RequestErrorKind::NoResponders => {
                Some(false)
            }
            Err(_) => None,
        }
    }

    /// Drops the batch queues to node `node_id` (its tasks and its answers subjects):
    /// it was found lost or left. What they still held is not sent.
    pub fn forget_node(&self, node_id: &str) {
        if let Ok(mut queues) = self.batching.queues.lock() {
            queues.remove(&batch_subject(node_id));
            queues.remove(&answers_subject(node_id));
        }
    }

    /// The nodes this node keeps batch queues to, and how many each (at most two: its
    /// tasks and its answers subjects).
    pub fn queued_nodes(&self) -> std::collections::BTreeMap<String, usize> {
        let mut nodes = std::collections::BTreeMap::new();
        if let Ok(queues) = self.batching.queues.lock() {
            for subject in queues.keys() {
                if let Some(node) = subject
                    .strip_prefix("rustyray.tasks.")
                    .and_then(|rest| rest.split('.').next())
                {
                    *nodes.entry(node.to_string()).or_default() += 1;
                }
            }
        }
        nodes
    }

    /// Queues `item` for `subject` (its publishing task started on first use).
    fn enqueue(&self, subject: String, item: impl Into<Bytes>) -> Result<()> {
        let item = item.into();
        let Some(me) = self.batching.me.get() else {
            return Err(ClusterError::BadEnvelope(
                "batches are sent only once the node serves its own".into(),
            ));
        };
        let mut queues = self
            .batching
            .queues
            .lock()
            .map_err(|_| ClusterError::BadEnvelope("the batch queues are poisoned".into()))?;
        // A publisher that ended (its runtime shut down) gets a new one.
        if queues.get(&subject).is_some_and(|queue| queue.is_closed()) {
            queues.remove(&subject);
        }
        if !queues.contains_key(&subject) && queues.len() >= MAX_BATCH_QUEUES {
            return Err(ClusterError::BadEnvelope(format!(
                "this node already sends batches to {MAX_BATCH_QUEUES} subjects \
                 (MAX_BATCH_QUEUES); {subject} is not one of them"
            )));
        }
        let queue = queues.entry(subject.clone()).or_insert_with(|| {
            let (queue, items) = tokio::sync::mpsc::unbounded_channel();
            let max = self
                .cluster
                .client
                .server_info()
                .max_payload
                .saturating_sub(BATCH_HEADROOM);
            let publisher =
                publish_batches(self.cluster.client.clone(), subject, me.clone(), items, max);
            match self.batching.publishers.get() {
                Some(runtime) => drop(runtime.spawn(publisher)),
                None => drop(tokio::spawn(publisher)),
            }
            queue
        });
        queue
            .send(item)
            .map_err(|_| ClusterError::BadEnvelope("a batch queue closed".into()))
    }

    /// Cancels the task sent to node `node_id` under `key` (with the tasks it submitted
    /// if `recursive`).
    pub async fn cancel(&self, node_id: &str, key: &str, recursive: bool) -> Result<()> {
        if !valid_key(node_id) {
            return Err(ClusterError::BadKey(node_id.to_string()));
        }
        // Behind its task in the same queue, so it never overtakes it.
        if self.batching.me.get().is_some() {
            return self.enqueue(
                batch_subject(node_id),
                item(ITEM_CANCEL, key, &[u8::from(recursive)]),
            );
        }
        let mut headers = async_nats::HeaderMap::new();
        if !recursive {
            headers.insert(CANCEL_HOW, CANCEL_ALONE);
        }
        self.cluster
            .client
            .publish_with_headers(
                cancel_subject(node_id),
                headers,
                Bytes::copy_from_slice(key.as_bytes()),
            )
            .await
            .map_err(|err| ClusterError::nats("cancelling a task", err))
    }

    /// Wraps `payload` for a message: inline, or stored first.
    async fn wrap(&self, payload: &[u8]) -> Result<Bytes> {
        if payload.len() > MAX_TASK_PAYLOAD {
            return Err(ClusterError::PayloadTooLarge {
                size: payload.len(),
                limit: MAX_TASK_PAYLOAD,
            });
        }
        let max = self.cluster.client.server_info().max_payload;
        if payload.len() + HEADROOM <= max {
            let mut envelope = Vec::with_capacity(payload.len() + 1);
            envelope.push(INLINE);
            envelope.extend_from_slice(payload);
            return Ok(Bytes::from(envelope));
        }
        let name = store_transfer(&self.cluster, &self.transfers, payload).await?;
        let mut envelope = vec![STORED];
        envelope.extend_from_slice(name.as_bytes());
        Ok(Bytes::from(envelope))
    }

    /// The payload of an envelope (a stored one is read, then deleted).
    pub async fn unwrap(&self, envelope: &[u8]) -> Result<Bytes> {
        match envelope.split_first() {
            Some((&INLINE, payload)) => Ok(Bytes::copy_from_slice(payload)),
            Some((&STORED, name)) => {
                let name = std::str::from_utf8(name).map_err(|_| {
                    ClusterError::BadEnvelope("a transfer's name is not valid".into())
                })?;
                take_transfer(&self.transfers, name).await
            }
            Some((tag, _)) => Err(ClusterError::BadEnvelope(format!(
                "unknown envelope tag {tag}"
            ))),
            None => Err(ClusterError::BadEnvelope("an empty message".into())),
        }
    }

    /// The payload of a request received.
    pub async fn request_payload(&self, incoming: &IncomingTask) -> Result<Bytes> {
        self.unwrap(&incoming.envelope).await
    }

    /// Answers `incoming` with `payload`.
    pub async fn answer(&self, incoming: &IncomingTask, payload: &[u8]) -> Result<()> {
        let to = match &incoming.reply {
            Reply::Inbox(Some(to)) => to.clone(),
            Reply::Inbox(None) => return Ok(()),
            Reply::Batched(node) => {
                let Some(key) = &incoming.key else {
                    return Ok(());
                };
                let envelope = self.wrap(payload).await?;
                let answer = Bytes::from(item(ITEM_ANSWER, key, &envelope));
                self.answered(node, key, &answer);
                return self.enqueue(answers_subject(node), answer);
            }
        };
        let envelope = self.wrap(payload).await?;
        self.cluster
            .client
            .publish(to, envelope)
            .await
            .map_err(|err| ClusterError::nats("answering a task", err))
    }

    /// Sends `payload` to node `node_id` under `key` (what [`TaskLink::cancel`] names it
    /// by) and waits (without a timeout) for its answer.
    pub async fn send(
        &self,
        node_id: &str,
        key: &str,
        payload: &[u8],
    ) -> std::result::Result<Bytes, SendFailure> {
        if !valid_key(node_id) {
            return Err(SendFailure::Failed(ClusterError::BadKey(
                node_id.to_string(),
            )));
        }
        let envelope = self.wrap(payload).await.map_err(SendFailure::Failed)?;
        if self.batching.me.get().is_some() && key.len() <= MAX_TASK_KEY {
            let (answer, answered) = tokio::sync::oneshot::channel();
            let item = Bytes::from(item(ITEM_RUN, key, &envelope));
            if let Ok(mut waiting) = self.batching.waiting.lock() {
                waiting.insert(
                    key.to_string(),
                    Waiter {
                        answer,
                        node: node_id.to_string(),
                        item: item.clone(),
                        connection: self.cluster.connection_count(),
                        sent: std::time::Instant::now(),
                        confirmed: false,
                    },
                );
            }
            let _forget = Unanswered {
                batching: &self.batching,
                key,
            };
            self.enqueue(batch_subject(node_id), item)
                .map_err(SendFailure::Failed)?;
            // No answer without a sender: the node's liveness watch ends the wait.
            let envelope = answered.await.map_err(|_| {
                SendFailure::Failed(ClusterError::BadEnvelope(
                    "the batch link dropped the task".into(),
                ))
            })?;
            return self.unwrap(&envelope).await.map_err(SendFailure::Failed);
        }
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(TASK_KEY, key);
        let request = async_nats::Request::new()
            .payload(envelope)
            .headers(headers)
            .timeout(None);
        match self
            .cluster
            .client
            .send_request(subject(node_id), request)
            .await
        {
            Ok(message) => self
                .unwrap(&message.payload)
                .await
                .map_err(SendFailure::Failed),
            Err(err) if err.kind() == async_nats::client::RequestErrorKind::NoResponders => {
                Err(SendFailure::NoResponders)
            }
            Err(err) => Err(SendFailure::Failed(ClusterError::nats(
                format!("sending a task to {node_id}"),
                err,
            ))),
        }
    }

    /// Publishes raw `bytes` as a batch to node `node_id`, its sender header `from` (for
    /// tests and probes: nothing is checked or added).
    pub async fn publish_raw_batch(
        &self,
        node_id: &str,
        from: Option<&str>,
        bytes: Bytes,
    ) -> Result<()> {
        let mut headers = async_nats::HeaderMap::new();
        if let Some(from) = from {
            headers.insert(FROM_HEADER, from);
        }
        self.cluster
            .client
            .publish_with_headers(batch_subject(node_id), headers, bytes)
            .await
            .map_err(|err| ClusterError::nats("publishing a batch", err))?;
        self.cluster
            .client
            .flush()
            .await
            .map_err(|err| ClusterError::nats("flushing a batch", err))
    }

    /// Publishes raw `bytes` on node `node_id`'s task subject and waits up to `timeout`
    /// for the answer's payload (for tests and probes: no envelope is added).
    pub async fn send_raw(&self, node_id: &str, bytes: Bytes, timeout: Duration) -> Result<Bytes> {
        let request = async_nats::Request::new()
            .payload(bytes)
            .timeout(Some(timeout));
        let message = self
            .cluster
            .client
            .send_request(subject(node_id), request)
            .await
            .map_err(|err| ClusterError::nats(format!("sending to {node_id}"), err))?;
        self.unwrap(&message.payload).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_items_decode_and_a_cut_batch_stops_where_it_breaks() {
        let mut batch = item(ITEM_RUN, "n1-0", b"\x00abc");
        batch.extend(item(ITEM_CANCEL, "n1-1", &[0]));
        batch.extend(item(ITEM_ANSWER, "n1-2", b""));
        let items = batch_items(&Bytes::from(batch.clone()));
        assert_eq!(
            items,
            vec![
                (ITEM_RUN, "n1-0".to_string(), Bytes::from_static(b"\x00abc")),
                (ITEM_CANCEL, "n1-1".to_string(), Bytes::from_static(&[0])),
                (ITEM_ANSWER, "n1-2".to_string(), Bytes::new()),
            ]
        );
        // Cut anywhere inside the last item: the whole items before it, no more.
        for cut in 1..item(ITEM_ANSWER, "n1-2", b"").len() {
            let cut_batch = Bytes::from(batch[..batch.len() - cut].to_vec());
            assert_eq!(batch_items(&cut_batch).len(), 2, "cut {cut}");
        }
        // A length past the end, a key that is not UTF-8, nothing at all.
        let mut long = item(ITEM_RUN, "k", b"x");
        long[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(batch_items(&Bytes::from(long)).is_empty());
        assert!(batch_items(&Bytes::from(vec![ITEM_RUN, 2, 0xff, 0xfe, 0, 0, 0, 0])).is_empty());
        assert!(batch_items(&Bytes::new()).is_empty());
    }
}
