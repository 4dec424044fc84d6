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
}

impl std::fmt::Debug for TaskLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskLink")
            .field("cluster", &self.cluster)
            .finish()
    }
}

/// A task request a node received.
pub struct IncomingTask {
    envelope: Bytes,
    reply: Option<async_nats::Subject>,
    /// The sender's key for it, if it gave a valid one.
    pub key: Option<String>,
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
        let cancels = cancel_subject(node_id);
        Ok(futures::StreamExt::filter_map(subscriber, move |message| {
            let incoming = if message.subject.as_str() == cancels {
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
            } else {
                Some(Incoming::Task(IncomingTask {
                    key: task_key(message.headers.as_ref()),
                    envelope: message.payload,
                    reply: message.reply,
                }))
            };
            std::future::ready(incoming)
        }))
    }

    /// Cancels the task sent to node `node_id` under `key` (with the tasks it submitted
    /// if `recursive`).
    pub async fn cancel(&self, node_id: &str, key: &str, recursive: bool) -> Result<()> {
        if !valid_key(node_id) {
            return Err(ClusterError::BadKey(node_id.to_string()));
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
        let Some(to) = incoming.reply.clone() else {
            return Ok(());
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
