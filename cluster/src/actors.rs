//! The actor directory: actors placed cluster-wide, their names, their snapshots, and the
//! subject each node serves their requests on.
//!
//! - `rustyray_actors` (KV): by actor id, the actor's record (kept opaque here: the node's
//!   `ActorEntry`: which node hosts it, how to bring it back), written by the node that
//!   hosts it and rewritten with compare-and-set by the node that restarts it elsewhere.
//! - `rustyray_actor_names` (KV): by a key made of namespace and name, the id of the
//!   actor holding that name; created (compare-and-set) to claim a name cluster-wide.
//! - `rustyray_actor_snapshots` (KV): by actor id, its last snapshot (bytes as the
//!   class's `snapshot` encoded them), written before the call it follows is answered.
//! - `rustyray.actors.<node id>` (request/reply): MessagePack requests to the actors a
//!   node hosts (create, call, kill, locate), answered in MessagePack.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::connection::{Cluster, keys};
use crate::error::{ClusterError, Result};
use crate::{
    ACTOR_NAMES_BUCKET, ACTOR_SNAPSHOTS_BUCKET, ACTORS_BUCKET, REQUEST_TIMEOUT, valid_key,
};

/// The subject node `node_id` serves actor requests on.
pub fn subject(node_id: &str) -> String {
    format!("rustyray.actors.{node_id}")
}

/// An actor request as it arrives: its body (`payload`) and where to answer (`reply`).
pub use async_nats::Message as ActorMessage;

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
        self.actors
            .put(id, Bytes::from(json))
            .await
            .map_err(|err| ClusterError::nats(format!("writing {id} in {ACTORS_BUCKET}"), err))
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
        let entry =
            self.actors.entry(id).await.map_err(|err| {
                ClusterError::nats(format!("reading {id} in {ACTORS_BUCKET}"), err)
            })?;
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
        let ids = keys(&self.actors, ACTORS_BUCKET).await?;
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
        })
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
        let value = self.actor_names.get(key).await.map_err(|err| {
            ClusterError::nats(format!("reading {key} in {ACTOR_NAMES_BUCKET}"), err)
        })?;
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

    /// Keeps an actor's last snapshot (at most NATS's payload limit, 1 MiB by default).
    pub async fn save_snapshot(&self, id: &str, state: Vec<u8>) -> Result<()> {
        check(id)?;
        self.actor_snapshots
            .put(id, Bytes::from(state))
            .await
            .map(|_| ())
            .map_err(|err| {
                ClusterError::nats(format!("writing {id} in {ACTOR_SNAPSHOTS_BUCKET}"), err)
            })
    }

    /// An actor's last snapshot, if one was kept.
    pub async fn snapshot(&self, id: &str) -> Result<Option<Vec<u8>>> {
        if !valid_key(id) {
            return Ok(None);
        }
        let entry = self.actor_snapshots.entry(id).await.map_err(|err| {
            ClusterError::nats(format!("reading {id} in {ACTOR_SNAPSHOTS_BUCKET}"), err)
        })?;
        Ok(entry
            .filter(|entry| entry.operation == async_nats::jetstream::kv::Operation::Put)
            .map(|entry| entry.value.to_vec()))
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
        self.client
            .publish(to, Bytes::from(body))
            .await
            .map_err(|err| ClusterError::nats("answering an actor request", err))
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
        if !valid_key(node_id) {
            return Err(Unanswered::Failed(format!("{node_id:?} is not a node id")));
        }
        let request = async_nats::Request::new()
            .payload(Bytes::from(body))
            .timeout(timeout);
        match self.client.send_request(subject(node_id), request).await {
            Ok(message) => Ok(message.payload),
            Err(err) => Err(match err.kind() {
                async_nats::RequestErrorKind::NoResponders => Unanswered::NoResponders,
                async_nats::RequestErrorKind::TimedOut => Unanswered::TimedOut,
                _ => Unanswered::Failed(err.to_string()),
            }),
        }
    }
}
