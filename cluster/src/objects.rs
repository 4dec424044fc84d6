//! Objects between nodes: a node keeps a large task result it made for another node
//! (the owner fetches it on demand) and serves its bytes on `rustyray.objects.<node
//! id>.fetch` (NATS core request/reply, no JetStream): the request names the object
//! in the [`OBJECT_KEY`] header and the range in [`OBJECT_RANGE`] (`offset-len`), the
//! answer is the bytes, or empty with the [`OBJECT_MISSING`] header when the node does
//! not hold it (any more). A range is at most [`piece_limit`] bytes (one message under
//! the server's `max_payload`); [`ObjectLink::fetch`] asks for a larger range in pieces,
//! [`PIECES_IN_FLIGHT`] at once. `rustyray.objects.<node id>.release` with the key as
//! payload lets one count of a kept object go, the one of the node its [`OBJECT_FROM`]
//! header names; `rustyray.objects.<node id>.borrow` (request/reply, key and node in
//! headers) counts one more for that node — a reference to it is going there — and is
//! answered empty, or with [`OBJECT_MISSING`] when the node no longer holds it.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use crate::connection::Cluster;
use crate::error::{ClusterError, Result};
use crate::valid_key;

/// The header naming the object of a fetch.
pub const OBJECT_KEY: &str = "Rustyray-Object";
/// The header with a fetch's range, `offset-len` in decimal.
pub const OBJECT_RANGE: &str = "Rustyray-Range";
/// The header of an answer saying the node does not hold the object.
pub const OBJECT_MISSING: &str = "Rustyray-Missing";
/// The header naming the node a release or a borrow counts for.
pub const OBJECT_FROM: &str = "Rustyray-From";
/// Pieces of one fetch asked for at once.
pub const PIECES_IN_FLIGHT: usize = 8;
/// How long one piece may take before the holder counts as lost.
pub const PIECE_TIMEOUT: Duration = Duration::from_secs(30);
/// Room left in a message for NATS headers.
const HEADROOM: usize = 4096;

/// The subject node `node_id` serves its objects' bytes on.
pub fn fetch_subject(node_id: &str) -> String {
    format!("rustyray.objects.{node_id}.fetch")
}

/// The subject node `node_id` takes releases of its objects on.
pub fn release_subject(node_id: &str) -> String {
    format!("rustyray.objects.{node_id}.release")
}

/// The subject node `node_id` counts borrowers of its objects on.
pub fn borrow_subject(node_id: &str) -> String {
    format!("rustyray.objects.{node_id}.borrow")
}

/// The largest range one answer carries on this connection.
pub fn piece_limit(cluster: &Cluster) -> usize {
    cluster
        .client
        .server_info()
        .max_payload
        .saturating_sub(HEADROOM)
        .max(4096)
}

/// Why a fetch got no bytes.
#[derive(Debug)]
pub enum FetchFailure {
    /// The node is gone (nobody serves its subject, or it did not answer in time).
    NodeGone(String),
    /// The node does not hold the object (released, its job ended, or never made).
    Missing,
    /// Anything else.
    Failed(ClusterError),
}

/// What arrives on a node's object subjects.
pub enum ObjectMessage {
    /// A fetch: answer it with [`ObjectLink::answer`].
    Fetch(FetchRequest),
    /// A holder lets this object go: one count of node `from` (any, if not named).
    Release {
        /// The object's key.
        key: String,
        /// The node whose count it was.
        from: Option<String>,
    },
    /// A reference to this object is going to node `from`: count one more for it and
    /// answer with [`ObjectLink::answer_borrow`].
    Borrow(BorrowRequest),
}

/// A borrow a node received.
pub struct BorrowRequest {
    /// The object's key.
    pub key: String,
    /// The node to count.
    pub from: String,
    reply: Option<async_nats::Subject>,
}

/// A fetch a node received.
pub struct FetchRequest {
    /// The object's key.
    pub key: String,
    /// Where the range starts.
    pub offset: u64,
    /// Its length.
    pub len: u64,
    reply: Option<async_nats::Subject>,
}

/// The object side of a cluster connection.
#[derive(Clone, Debug)]
pub struct ObjectLink {
    cluster: Cluster,
}

fn parse_range(value: &str) -> Option<(u64, u64)> {
    let (offset, len) = value.split_once('-')?;
    Some((offset.parse().ok()?, len.parse().ok()?))
}

impl ObjectLink {
    /// The object side of `cluster`.
    pub fn new(cluster: &Cluster) -> ObjectLink {
        ObjectLink {
            cluster: cluster.clone(),
        }
    }

    /// The fetches and releases sent to node `node_id`. Malformed messages are answered
    /// as missing (fetches) or dropped.
    pub async fn serve(
        &self,
        node_id: &str,
    ) -> Result<impl futures::Stream<Item = ObjectMessage> + use<>> {
        if !valid_key(node_id) {
            return Err(ClusterError::BadKey(node_id.to_string()));
        }
        let subscriber = self
            .cluster
            .client
            .subscribe(format!("rustyray.objects.{node_id}.*"))
            .await
            .map_err(|err| ClusterError::nats("subscribing to objects", err))?;
        let releases = release_subject(node_id);
        let borrows = borrow_subject(node_id);
        Ok(subscriber.filter_map(move |message| {
            let header = |name: &str| {
                message
                    .headers
                    .as_ref()
                    .and_then(|headers| headers.get(name))
                    .map(|value| value.as_str().to_string())
            };
            let incoming = if message.subject.as_str() == releases {
                std::str::from_utf8(&message.payload)
                    .ok()
                    .filter(|key| valid_key(key))
                    .map(|key| ObjectMessage::Release {
                        key: key.to_string(),
                        from: header(OBJECT_FROM).filter(|from| valid_key(from)),
                    })
            } else if message.subject.as_str() == borrows {
                // Malformed: answered as missing (nothing counted).
                Some(ObjectMessage::Borrow(BorrowRequest {
                    key: header(OBJECT_KEY)
                        .filter(|key| valid_key(key))
                        .unwrap_or_default(),
                    from: header(OBJECT_FROM)
                        .filter(|from| valid_key(from))
                        .unwrap_or_default(),
                    reply: message.reply.clone(),
                }))
            } else {
                let key = header(OBJECT_KEY).filter(|key| valid_key(key));
                let range = header(OBJECT_RANGE).and_then(|range| parse_range(&range));
                Some(ObjectMessage::Fetch(match (key, range) {
                    (Some(key), Some((offset, len))) => FetchRequest {
                        key,
                        offset,
                        len,
                        reply: message.reply,
                    },
                    // Answered as missing: a bad request names no object here.
                    _ => FetchRequest {
                        key: String::new(),
                        offset: 0,
                        len: 0,
                        reply: message.reply,
                    },
                }))
            };
            std::future::ready(incoming)
        }))
    }

    /// Answers `request` with `bytes`, or as missing (`None`).
    pub async fn answer(&self, request: &FetchRequest, bytes: Option<Bytes>) -> Result<()> {
        let Some(to) = request.reply.clone() else {
            return Ok(());
        };
        let sent = match bytes {
            Some(bytes) => self.cluster.client.publish(to, bytes).await,
            None => {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(OBJECT_MISSING, "1");
                self.cluster
                    .client
                    .publish_with_headers(to, headers, Bytes::new())
                    .await
            }
        };
        sent.map_err(|err| ClusterError::nats("answering an object fetch", err))
    }

    /// Lets node `node_id` drop node `from`'s count of the object `key` (fire and
    /// forget).
    pub async fn release(&self, node_id: &str, key: &str, from: &str) -> Result<()> {
        if !valid_key(node_id) || !valid_key(key) {
            return Err(ClusterError::BadKey(format!("{node_id}/{key}")));
        }
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(OBJECT_FROM, from);
        self.cluster
            .client
            .publish_with_headers(
                release_subject(node_id),
                headers,
                Bytes::copy_from_slice(key.as_bytes()),
            )
            .await
            .map_err(|err| ClusterError::nats("releasing an object", err))
    }

    /// Has node `node_id` count one more reference to its object `key` for node
    /// `from`; answered once counted.
    pub async fn borrow(
        &self,
        node_id: &str,
        key: &str,
        from: &str,
    ) -> std::result::Result<(), FetchFailure> {
        if !valid_key(node_id) || !valid_key(key) || !valid_key(from) {
            return Err(FetchFailure::Failed(ClusterError::BadKey(format!(
                "{node_id}/{key}/{from}"
            ))));
        }
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(OBJECT_KEY, key);
        headers.insert(OBJECT_FROM, from);
        let request = async_nats::Request::new()
            .headers(headers)
            .timeout(Some(PIECE_TIMEOUT));
        match self
            .cluster
            .client
            .send_request(borrow_subject(node_id), request)
            .await
        {
            Ok(message) => {
                let missing = message
                    .headers
                    .as_ref()
                    .is_some_and(|headers| headers.get(OBJECT_MISSING).is_some());
                if missing {
                    Err(FetchFailure::Missing)
                } else {
                    Ok(())
                }
            }
            Err(err) => match err.kind() {
                async_nats::client::RequestErrorKind::NoResponders => Err(FetchFailure::NodeGone(
                    format!("nobody serves node {node_id}'s objects (it is gone)"),
                )),
                async_nats::client::RequestErrorKind::TimedOut => Err(FetchFailure::NodeGone(
                    format!("node {node_id} did not answer a borrow within {PIECE_TIMEOUT:?}"),
                )),
                _ => Err(FetchFailure::Failed(ClusterError::nats(
                    format!("counting a reference on {node_id}"),
                    err,
                ))),
            },
        }
    }

    /// Answers `request`: counted (`true`) or not held there.
    pub async fn answer_borrow(&self, request: &BorrowRequest, counted: bool) -> Result<()> {
        let Some(to) = request.reply.clone() else {
            return Ok(());
        };
        let sent = if counted {
            self.cluster.client.publish(to, Bytes::new()).await
        } else {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(OBJECT_MISSING, "1");
            self.cluster
                .client
                .publish_with_headers(to, headers, Bytes::new())
                .await
        };
        sent.map_err(|err| ClusterError::nats("answering a borrow", err))
    }

    /// One piece: bytes `offset..offset + len` of `key` on `node_id`.
    async fn piece(
        &self,
        node_id: &str,
        key: &str,
        offset: u64,
        len: u64,
    ) -> std::result::Result<Bytes, FetchFailure> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(OBJECT_KEY, key);
        headers.insert(OBJECT_RANGE, format!("{offset}-{len}").as_str());
        let request = async_nats::Request::new()
            .headers(headers)
            .timeout(Some(PIECE_TIMEOUT));
        match self
            .cluster
            .client
            .send_request(fetch_subject(node_id), request)
            .await
        {
            Ok(message) => {
                let missing = message
                    .headers
                    .as_ref()
                    .is_some_and(|headers| headers.get(OBJECT_MISSING).is_some());
                if missing {
                    Err(FetchFailure::Missing)
                } else if message.payload.len() as u64 != len {
                    Err(FetchFailure::Failed(ClusterError::BadEnvelope(format!(
                        "node {node_id} answered a fetch of {len} bytes with {}",
                        message.payload.len()
                    ))))
                } else {
                    Ok(message.payload)
                }
            }
            Err(err) => match err.kind() {
                async_nats::client::RequestErrorKind::NoResponders => Err(FetchFailure::NodeGone(
                    format!("nobody serves node {node_id}'s objects (it is gone)"),
                )),
                async_nats::client::RequestErrorKind::TimedOut => Err(FetchFailure::NodeGone(
                    format!("node {node_id} did not answer a fetch within {PIECE_TIMEOUT:?}"),
                )),
                _ => Err(FetchFailure::Failed(ClusterError::nats(
                    format!("fetching an object from {node_id}"),
                    err,
                ))),
            },
        }
    }

    /// Bytes `offset..offset + len` of object `key` held by node `node_id`, in pieces
    /// of at most [`piece_limit`], [`PIECES_IN_FLIGHT`] at once.
    pub async fn fetch(
        &self,
        node_id: &str,
        key: &str,
        offset: u64,
        len: u64,
    ) -> std::result::Result<Bytes, FetchFailure> {
        if !valid_key(node_id) || !valid_key(key) {
            return Err(FetchFailure::Failed(ClusterError::BadKey(format!(
                "{node_id}/{key}"
            ))));
        }
        let piece = piece_limit(&self.cluster) as u64;
        let end = offset.saturating_add(len);
        let ranges: Vec<(u64, u64)> = (0..)
            .map(|i: u64| offset + i * piece)
            .take_while(|start| *start < end)
            .map(|start| (start, piece.min(end - start)))
            .collect();
        let mut pieces = futures::stream::iter(ranges)
            .map(|(start, len)| self.piece(node_id, key, start, len))
            .buffered(PIECES_IN_FLIGHT);
        // Grown as pieces arrive: `len` is the asker's word until they do.
        let mut out = BytesMut::with_capacity(usize::try_from(len.min(piece * 8)).unwrap_or(0));
        while let Some(piece) = pieces.next().await {
            out.extend_from_slice(&piece?);
        }
        Ok(out.freeze())
    }
}
