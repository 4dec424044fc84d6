//! Node-to-node requests: a node serves `rustyray.node.<its id>.<verb>` and answers each
//! request (JSON) with a [`Reply`] (JSON). Used to forward what one node is asked about a
//! job another node runs (submit, stop, logs, delete), so any node answers for all.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::connection::Cluster;
use crate::error::{ClusterError, Result};
use crate::{REQUEST_TIMEOUT, valid_key};

/// The subject of `verb` on node `node_id`.
pub fn subject(node_id: &str, verb: &str) -> String {
    format!("rustyray.node.{node_id}.{verb}")
}

/// The answer to a request: a value, or the serving node's error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply<T> {
    /// It worked.
    Ok(T),
    /// It failed there.
    Err(RemoteError),
}

/// An error a node answered with (its stable kind, message and HTTP status).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoteError {
    /// The error's stable name.
    pub error: String,
    /// Its message.
    pub message: String,
    /// The HTTP status it maps to.
    pub status: u16,
}

/// A request a node received: its verb, body, and where to answer.
pub struct Incoming {
    /// The last subject token.
    pub verb: String,
    /// The JSON body.
    pub body: Bytes,
    reply: Option<async_nats::Subject>,
}

impl Cluster {
    /// The requests sent to node `node_id`.
    pub async fn serve_requests(
        &self,
        node_id: &str,
    ) -> Result<impl futures::Stream<Item = Incoming> + use<>> {
        if !valid_key(node_id) {
            return Err(ClusterError::BadKey(node_id.to_string()));
        }
        let subscriber = self
            .client
            .subscribe(subject(node_id, "*"))
            .await
            .map_err(|err| ClusterError::nats("subscribing to node requests", err))?;
        Ok(futures::StreamExt::map(subscriber, |message| Incoming {
            verb: message
                .subject
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_string(),
            body: message.payload,
            reply: message.reply,
        }))
    }

    /// Answers `incoming` with `reply`.
    pub async fn answer<T: Serialize>(&self, incoming: &Incoming, reply: &Reply<T>) -> Result<()> {
        let Some(to) = incoming.reply.clone() else {
            return Ok(());
        };
        let json =
            serde_json::to_vec(reply).map_err(|err| ClusterError::nats("encoding a reply", err))?;
        self.client
            .publish(to, Bytes::from(json))
            .await
            .map_err(|err| ClusterError::nats("answering a request", err))
    }

    /// Asks node `node_id` to do `verb` with `request`; its answer, or its error.
    pub async fn request<Q: Serialize, A: DeserializeOwned>(
        &self,
        node_id: &str,
        verb: &str,
        request: &Q,
    ) -> Result<Reply<A>> {
        if !valid_key(node_id) {
            return Err(ClusterError::BadKey(node_id.to_string()));
        }
        let json = serde_json::to_vec(request)
            .map_err(|err| ClusterError::nats("encoding a request", err))?;
        let no_answer = |cause: String| ClusterError::NoAnswer {
            node: node_id.to_string(),
            verb: verb.to_string(),
            timeout_ms: REQUEST_TIMEOUT.as_millis() as u64,
            cause,
        };
        let message = self
            .client
            .request(subject(node_id, verb), Bytes::from(json))
            .await
            .map_err(|err| no_answer(err.to_string()))?;
        serde_json::from_slice(&message.payload)
            .map_err(|err| no_answer(format!("its answer did not decode: {err}")))
    }
}
