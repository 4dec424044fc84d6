//! The actor directory: actors placed cluster-wide, their names, their snapshots, and the
//! subject each node serves their requests on.
//!
//! - `rustyray_actors` (KV): by actor id, the actor's record (kept opaque here: the node's
//!   `ActorEntry`: which node hosts it, how to bring it back), written by the node that
//!   hosts it and rewritten with compare-and-set by the node that restarts it elsewhere.
//! - `rustyray_actor_names` (KV): by a key made of namespace and name, the id of the
//!   actor holding that name; created (compare-and-set) to claim a name cluster-wide.
//! - `rustyray_actor_snapshots` (KV): by actor id, its last snapshot (bytes as the
//!   class's `snapshot` encoded them, after a tag byte), written before the call it
//!   follows is answered. A snapshot too large for a KV value (NATS's `max_payload`, 1
//!   MiB by default) goes to the object store `rustyray_actor_snapshot_bytes` under the
//!   same id first, and the KV value is then only the tag saying so; up to
//!   [`Cluster::max_snapshot_bytes`] (default [`MAX_SNAPSHOT_BYTES`], `rustyray start
//!   --max-snapshot-mib`).
//! - `rustyray.actors.<node id>` (request/reply): MessagePack requests to the actors a
//!   node hosts (create, call, kill, locate), answered in MessagePack. A request or an
//!   answer too large for one message (NATS's `max_payload`: a call's arguments or
//!   result over about 1 MiB) goes through the transfer store of `tasks.rs` first; the
//!   message is then empty, with the object's name in its [`TRANSFER_HEADER`] header.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::AsyncReadExt;

use crate::connection::{Cluster, keys};
use crate::error::{ClusterError, Result};
use crate::{
    ACTOR_NAMES_BUCKET, ACTOR_SNAPSHOT_BYTES_STORE, ACTOR_SNAPSHOTS_BUCKET, ACTORS_BUCKET,
    REQUEST_TIMEOUT, valid_key,
};

/// The largest actor snapshot a node keeps by default (`rustyray start
/// --max-snapshot-mib`, [`Cluster::with_max_snapshot_bytes`]); a larger one is refused
/// with [`ClusterError::SnapshotTooLarge`] and the previous one stays kept.
pub const MAX_SNAPSHOT_BYTES: usize = 256 << 20;

/// A snapshot KV value's first byte: the snapshot follows.
const SNAPSHOT_INLINE: u8 = 0;
/// A snapshot KV value's first byte: the snapshot is in the object store.
const SNAPSHOT_STORED: u8 = 1;
/// Room left in a message for NATS's headers and the KV's framing.
const SNAPSHOT_HEADROOM: usize = 4096;

/// The header of an actor request or answer whose body is in the transfer store: the
/// object's name (the reader deletes it).
pub const TRANSFER_HEADER: &str = "Rustyray-Transfer";

/// The header naming an actor request by its sender's key for it: a request sent again
/// (its answer was lost while NATS restarted) under the same key is not run twice.
pub const CALL_KEY_HEADER: &str = "Rustyray-Call";

/// The sender's key of an actor request, if it gave a valid one.
pub fn call_key(message: &ActorMessage) -> Option<String> {
    message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(CALL_KEY_HEADER))
        .map(|key| key.as_str().to_string())
        .filter(|key| !key.is_empty() && key.len() <= crate::tasks::MAX_TASK_KEY)
}

/// The subject node `node_id` serves actor requests on.
pub fn subject(node_id: &str) -> String {
    format!("rustyray.actors.{node_id}")
}

/// An actor request as it arrives: its body (`payload`) and where to answer (`reply`).
pub use async_nats::Message as ActorMessage;
/// Where an actor request is answered.
pub use async_nats::Subject as ReplySubject;

fn check(key: &str) -> Result<()> {
    if valid_key(key) {
        Ok(())
    } else {
        Err(ClusterError::BadKey(key.to_string()))
    }
}

/// Why an actor request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unanswered {
    /// Nobody serves that node's subject: the request was not delivered.
    NoResponders,
    /// It was sent, but no answer came in time (the node may have been lost with it).
    TimedOut,
    /// Another failure (NATS unreachable, ...).
    Failed(String),
}

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unanswered::NoResponders => write!(f, "nothing serves that node's actors"),
            Unanswered::TimedOut => write!(f, "no answer within {REQUEST_TIMEOUT:?}"),
            Unanswered::Failed(cause) => write!(f, "{cause}"),
        }
    }
}

impl Cluster {
    /// Records (or rewrites) an actor's entry.
    pub async fn put_actor<T: Serialize>(&self, id: &str, entry: &T) -> Result<u64> {
        check(id)?;
        let json = serde_json::to_vec(entry)
            .map_err(|err| ClusterError::nats("encoding an actor record", err))?;
        let json = Bytes::from(json);
        self.outlasting(|| async {
            self.actors
                .put(id, json.clone())
                .await
                .map_err(|err| ClusterError::nats(format!("writing {id} in {ACTORS_BUCKET}"), err))
        })
        .await
    }

    /// Rewrites an actor's entry if it is still at `revision`.
    pub async fn update_actor<T: Serialize>(
        &self,
        id: &str,
        entry: &T,
        revision: u64,
    ) -> Result<u64> {
        check(id)?;
        let json = serde_json::to_vec(entry)
            .map_err(|err| ClusterError::nats("encoding an actor record", err))?;
        self.actors
            .update(id, Bytes::from(json), revision)
            .await
            .map_err(|_| ClusterError::Conflict {
                bucket: ACTORS_BUCKET,
                key: id.to_string(),
            })
    }

    /// An actor's entry and its revision.
    pub async fn actor<T: DeserializeOwned>(&self, id: &str) -> Result<Option<(T, u64)>> {
        if !valid_key(id) {
            return Ok(None);
        }
        let entry = self
            .outlasting(|| async {
                self.actors.entry(id).await.map_err(|err| {
                    ClusterError::nats(format!("reading {id} in {ACTORS_BUCKET}"), err)
                })
            })
            .await?;
        let Some(entry) = entry else {
            return Ok(None);
        };
        if entry.operation != async_nats::jetstream::kv::Operation::Put {
            return Ok(None);
        }
        let value = serde_json::from_slice(&entry.value).map_err(|err| ClusterError::Corrupt {
            bucket: ACTORS_BUCKET,
            key: id.to_string(),
            cause: err.to_string(),
        })?;
        Ok(Some((value, entry.revision)))
    }

    /// Every actor entry with its id and revision (undecodable ones are skipped).
    pub async fn actors<T: DeserializeOwned>(&self) -> Result<Vec<(String, T, u64)>> {
        let ids = self
            .outlasting(|| keys(&self.actors, ACTORS_BUCKET))
            .await?;
        let mut actors = Vec::new();
        for id in ids {
            if let Ok(Some((entry, revision))) = self.actor(&id).await {
                actors.push((id, entry, revision));
            }
        }
        Ok(actors)
    }

    /// Forgets an actor: its entry and its snapshot.
    pub async fn delete_actor(&self, id: &str) -> Result<()> {
        check(id)?;
        self.actors
            .purge(id)
            .await
            .map_err(|err| ClusterError::nats(format!("deleting {id} in {ACTORS_BUCKET}"), err))?;
        self.actor_snapshots.purge(id).await.map_err(|err| {
            ClusterError::nats(format!("deleting {id} in {ACTOR_SNAPSHOTS_BUCKET}"), err)
        })?;
        // A large last snapshot, if there was one (none is the common case).
        self.forget_stored(id);
        let _ = self.actor_snapshot_bytes.delete(id).await;
        Ok(())
    }

    /// Claims the name `key` for actor `id`: `Ok(None)` if claimed, else the id holding it.
    pub async fn claim_name(&self, key: &str, id: &str) -> Result<Option<String>> {
        check(key)?;
        match self
            .actor_names
            .create(key, Bytes::from(id.to_string()))
            .await
        {
            Ok(_) => Ok(None),
            Err(err) if err.kind() == async_nats::jetstream::kv::CreateErrorKind::AlreadyExists => {
                Ok(Some(self.name(key).await?.unwrap_or_default()))
            }
            Err(err) => Err(ClusterError::nats(
                format!("claiming {key} in {ACTOR_NAMES_BUCKET}"),
                err,
            )),
        }
    }

    /// The id of the actor holding the name `key`.
    pub async fn name(&self, key: &str) -> Result<Option<String>> {
        if !valid_key(key) {
            return Ok(None);
        }
        let value = self
            .outlasting(|| async {
                self.actor_names.get(key).await.map_err(|err| {
                    ClusterError::nats(format!("reading {key} in {ACTOR_NAMES_BUCKET}"), err)
                })
            })
            .await?;
        Ok(value
            .filter(|value| !value.is_empty())
            .map(|value| String::from_utf8_lossy(&value).into_owned()))
    }

    /// Lets go of the name `key` if actor `id` holds it.
    pub async fn release_name(&self, key: &str, id: &str) -> Result<()> {
        if self.name(key).await?.as_deref() == Some(id) {
            self.actor_names.purge(key).await.map_err(|err| {
                ClusterError::nats(format!("deleting {key} in {ACTOR_NAMES_BUCKET}"), err)
            })?;
        }
        Ok(())
    }

    /// Keeps an actor's last snapshot: in the KV value if it fits NATS's `max_payload`,
    /// else in the object store (then the KV value says so). At most
    /// [`Cluster::max_snapshot_bytes`].
    pub async fn save_snapshot(&self, id: &str, state: Vec<u8>) -> Result<()> {
        check(id)?;
        if state.len() > self.max_snapshot_bytes {
            return Err(ClusterError::SnapshotTooLarge {
                actor: id.to_string(),
                size: state.len(),
                limit: self.max_snapshot_bytes,
            });
        }
        let max = self.client.server_info().max_payload;
        if state.len() + SNAPSHOT_HEADROOM <= max {
            let mut value = Vec::with_capacity(state.len() + 1);
            value.push(SNAPSHOT_INLINE);
            value.extend_from_slice(&state);
            self.put_snapshot_value(id, value).await?;
            // A larger one stored before is stale now.
            if self.forget_stored(id) {
                let _ = self.actor_snapshot_bytes.delete(id).await;
            }
            return Ok(());
        }
        let mut reader = state.as_slice();
        self.actor_snapshot_bytes
            .put(id, &mut reader)
            .await
            .map_err(|err| {
                ClusterError::nats(format!("storing {id} in {ACTOR_SNAPSHOT_BYTES_STORE}"), err)
            })?;
        if let Ok(mut stored) = self.stored_snapshots.lock() {
            stored.insert(id.to_string());
        }
        self.put_snapshot_value(id, vec![SNAPSHOT_STORED]).await
    }

    async fn put_snapshot_value(&self, id: &str, value: Vec<u8>) -> Result<()> {
        let value = Bytes::from(value);
        self.outlasting(|| async {
            self.actor_snapshots
                .put(id, value.clone())
                .await
                .map(|_| ())
                .map_err(|err| {
                    ClusterError::nats(format!("writing {id} in {ACTOR_SNAPSHOTS_BUCKET}"), err)
                })
        })
        .await
    }

    /// Whether this connection had stored `id`'s last snapshot in the object store
    /// (and forgets it).
    fn forget_stored(&self, id: &str) -> bool {
        self.stored_snapshots
            .lock()
            .is_ok_and(|mut stored| stored.remove(id))
    }

    /// An actor's last snapshot, if one was kept.
    pub async fn snapshot(&self, id: &str) -> Result<Option<Vec<u8>>> {
        if !valid_key(id) {
            return Ok(None);
        }
        let entry = self.actor_snapshots.entry(id).await.map_err(|err| {
            ClusterError::nats(format!("reading {id} in {ACTOR_SNAPSHOTS_BUCKET}"), err)
        })?;
        let Some(entry) =
            entry.filter(|entry| entry.operation == async_nats::jetstream::kv::Operation::Put)
        else {
            return Ok(None);
        };
        let corrupt = |cause: &str| ClusterError::Corrupt {
            bucket: ACTOR_SNAPSHOTS_BUCKET,
            key: id.to_string(),
            cause: cause.to_string(),
        };
        match entry.value.split_first() {
            Some((&SNAPSHOT_INLINE, state)) => Ok(Some(state.to_vec())),
            Some((&SNAPSHOT_STORED, [])) => {
                let mut object = self.actor_snapshot_bytes.get(id).await.map_err(|err| {
                    ClusterError::nats(
                        format!("fetching {id} from {ACTOR_SNAPSHOT_BYTES_STORE}"),
                        err,
                    )
                })?;
                let size = object.info().size;
                if size > self.max_snapshot_bytes {
                    return Err(ClusterError::SnapshotTooLarge {
                        actor: id.to_string(),
                        size,
                        limit: self.max_snapshot_bytes,
                    });
                }
                let mut state = Vec::with_capacity(size);
                (&mut object)
                    .take(self.max_snapshot_bytes as u64 + 1)
                    .read_to_end(&mut state)
                    .await
                    .map_err(|err| {
                        ClusterError::nats(
                            format!("reading {id} from {ACTOR_SNAPSHOT_BYTES_STORE}"),
                            err,
                        )
                    })?;
                if state.len() != size {
                    return Err(corrupt(&format!(
                        "its stored snapshot is {} bytes, its record says {size}",
                        state.len()
                    )));
                }
                if let Ok(mut stored) = self.stored_snapshots.lock() {
                    stored.insert(id.to_string());
                }
                Ok(Some(state))
            }
            Some((tag, _)) => Err(corrupt(&format!("unknown snapshot tag {tag}"))),
            None => Err(corrupt("an empty snapshot value")),
        }
    }

    /// The actor requests sent to node `node_id`: each message's body and where to answer.
    pub async fn serve_actor_requests(
        &self,
        node_id: &str,
    ) -> Result<impl futures::Stream<Item = async_nats::Message> + use<>> {
        check(node_id)?;
        self.client
            .subscribe(subject(node_id))
            .await
            .map_err(|err| ClusterError::nats("subscribing to actor requests", err))
    }

    /// Answers an actor request.
    pub async fn answer_actor_request(&self, to: async_nats::Subject, body: Vec<u8>) -> Result<()> {
        let (headers, payload) = self.outgoing(body).await?;
        let sent = match headers {
            Some(headers) => self.client.publish_with_headers(to, headers, payload).await,
            None => self.client.publish(to, payload).await,
        };
        sent.map_err(|err| ClusterError::nats("answering an actor request", err))
    }

    /// The body of an actor request or answer as it arrived (one sent through the
    /// transfer store is read from it, then deleted there).
    pub async fn actor_body(&self, message: &async_nats::Message) -> Result<Bytes> {
        match message
            .headers
            .as_ref()
            .and_then(|headers| headers.get(TRANSFER_HEADER))
        {
            Some(name) => crate::tasks::take_transfer(&self.transfers, name.as_str()).await,
            None => Ok(message.payload.clone()),
        }
    }

    /// A body as it is sent: itself when it fits one message, else stored first and
    /// named by a header.
    async fn outgoing(&self, body: Vec<u8>) -> Result<(Option<async_nats::HeaderMap>, Bytes)> {
        let max = self.client.server_info().max_payload;
        if body.len() + SNAPSHOT_HEADROOM <= max {
            return Ok((None, Bytes::from(body)));
        }
        let name = crate::tasks::store_transfer(self, &self.transfers, &body).await?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(TRANSFER_HEADER, name.as_str());
        Ok((Some(headers), Bytes::new()))
    }

    /// Sends an actor request to node `node_id` and waits for its answer, at most
    /// `timeout` (`None`: as long as it takes — an actor call has no deadline of its
    /// own; the caller watches the node's liveness instead).
    pub async fn actor_request(
        &self,
        node_id: &str,
        body: Vec<u8>,
        timeout: Option<std::time::Duration>,
    ) -> std::result::Result<Bytes, Unanswered> {
        self.actor_request_keyed(node_id, body, timeout, None).await
    }

    /// [`Cluster::actor_request`] naming the request by `key` ([`CALL_KEY_HEADER`]): the
    /// serving node runs a request once per key, and answers one sent again from what
    /// it answered (or, while it still runs, to the newest sending).
    pub async fn actor_request_keyed(
        &self,
        node_id: &str,
        body: Vec<u8>,
        timeout: Option<std::time::Duration>,
        key: Option<&str>,
    ) -> std::result::Result<Bytes, Unanswered> {
        if !valid_key(node_id) {
            return Err(Unanswered::Failed(format!("{node_id:?} is not a node id")));
        }
        let (headers, payload) = self
            .outgoing(body)
            .await
            .map_err(|err| Unanswered::Failed(err.to_string()))?;
        let mut headers = headers.unwrap_or_default();
        if let Some(key) = key {
            headers.insert(CALL_KEY_HEADER, key);
        }
        let request = async_nats::Request::new()
            .payload(payload)
            .timeout(timeout)
            .headers(headers);
        match self.client.send_request(subject(node_id), request).await {
            Ok(message) => self
                .actor_body(&message)
                .await
                .map_err(|err| Unanswered::Failed(format!("reading its answer: {err}"))),
            Err(err) => Err(match err.kind() {
                async_nats::RequestErrorKind::NoResponders => Unanswered::NoResponders,
                async_nats::RequestErrorKind::TimedOut => Unanswered::TimedOut,
                _ => Unanswered::Failed(err.to_string()),
            }),
        }
    }
}
