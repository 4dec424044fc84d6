//! [`Cluster`]: one NATS connection (reconnecting forever, with a short delay, so a NATS
//! restart is ridden out) and the JetStream buckets of cluster state, created by whichever
//! node comes first (creating a stream with the same config is idempotent in JetStream).

use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store};

use crate::error::{ClusterError, Result};
use crate::{
    ACTOR_NAMES_BUCKET, ACTOR_SNAPSHOT_BYTES_STORE, ACTOR_SNAPSHOTS_BUCKET, ACTORS_BUCKET,
    DEAD_NODE_KEPT, HEARTBEAT_TTL, HEARTBEATS_BUCKET, JOBS_BUCKET, MAX_RECONNECT_DELAY,
    MODULE_BYTES_STORE, MODULES_BUCKET, NODES_BUCKET, OUTAGE_RETRY, OUTAGE_WAIT, REQUEST_TIMEOUT,
    SETTLE_AFTER_RECONNECT,
};

/// A connection to the cluster's NATS and its buckets. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    pub(crate) client: async_nats::Client,
    pub(crate) nodes: kv::Store,
    pub(crate) heartbeats: kv::Store,
    pub(crate) jobs: kv::Store,
    pub(crate) modules: kv::Store,
    pub(crate) module_bytes: object_store::ObjectStore,
    pub(crate) actors: kv::Store,
    pub(crate) actor_names: kv::Store,
    pub(crate) actor_snapshots: kv::Store,
    pub(crate) actor_snapshot_bytes: object_store::ObjectStore,
    /// Payloads too large for one message (`tasks.rs`'s transfers).
    pub(crate) transfers: object_store::ObjectStore,
    /// Actors whose last snapshot this connection stored (or found) in
    /// `actor_snapshot_bytes`: a smaller one written next removes it.
    pub(crate) stored_snapshots:
        std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// The largest actor snapshot this connection keeps or reads
    /// ([`Cluster::with_max_snapshot_bytes`]).
    pub(crate) max_snapshot_bytes: usize,
    /// The client's (re)connections, counted by its event callback.
    connects: std::sync::Arc<Connects>,
    url: String,
}

/// What the client's event callback saw of its connection: how many times it connected,
/// and when it last connected again after losing the server.
#[derive(Debug)]
pub(crate) struct Connects {
    count: tokio::sync::watch::Sender<u64>,
    reconnected: std::sync::Mutex<Option<std::time::Instant>>,
    /// When the connection was last lost or made again.
    troubled: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Connects {
    fn event(&self, event: &async_nats::Event) {
        if let async_nats::Event::Disconnected = event
            && let Ok(mut troubled) = self.troubled.lock()
        {
            *troubled = Some(std::time::Instant::now());
        }
        if let async_nats::Event::Connected = event {
            let mut again = false;
            self.count.send_modify(|count| {
                *count += 1;
                again = *count > 1;
            });
            if again && let Ok(mut reconnected) = self.reconnected.lock() {
                *reconnected = Some(std::time::Instant::now());
                if let Ok(mut troubled) = self.troubled.lock() {
                    *troubled = Some(std::time::Instant::now());
                }
            }
        }
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("url", &self.url).finish()
    }
}

impl Cluster {
    /// Keeps and reads actor snapshots of at most `bytes` (default
    /// [`crate::actors::MAX_SNAPSHOT_BYTES`]; `rustyray start --max-snapshot-mib`).
    #[must_use]
    pub fn with_max_snapshot_bytes(mut self, bytes: usize) -> Self {
        self.max_snapshot_bytes = bytes;
        self
    }

    /// The largest actor snapshot this connection keeps or reads.
    pub fn max_snapshot_bytes(&self) -> usize {
        self.max_snapshot_bytes
    }

    /// Connects to NATS at `url` (`nats://HOST:PORT`) as `name`, and opens (or creates) the
    /// cluster's buckets. The first connection must succeed; after it, the client
    /// reconnects forever, every [`MAX_RECONNECT_DELAY`] at most.
    pub async fn connect(url: &str, name: &str) -> Result<Cluster> {
        let connects = std::sync::Arc::new(Connects {
            count: tokio::sync::watch::channel(0).0,
            reconnected: std::sync::Mutex::new(None),
            troubled: std::sync::Mutex::new(None),
        });
        let seen = connects.clone();
        let client = async_nats::ConnectOptions::new()
            .event_callback(move |event| {
                seen.event(&event);
                async {}
            })
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .request_timeout(Some(REQUEST_TIMEOUT))
            .ping_interval(Duration::from_secs(2))
            .max_reconnects(None)
            .reconnect_delay_callback(|attempts| {
                MAX_RECONNECT_DELAY.min(Duration::from_millis(50 * attempts as u64))
            })
            .connect(url)
            .await
            .map_err(|err| ClusterError::Connect {
                url: url.to_string(),
                cause: err.to_string(),
            })?;
        let context = jetstream::new(client.clone());
        let nodes = bucket(
            &context,
            NODES_BUCKET,
            DEAD_NODE_KEPT,
            "rustyray node records",
        )
        .await?;
        let heartbeats = bucket(
            &context,
            HEARTBEATS_BUCKET,
            HEARTBEAT_TTL,
            "rustyray heartbeats: a node is alive while its key is here",
        )
        .await?;
        let jobs = bucket(
            &context,
            JOBS_BUCKET,
            Duration::ZERO,
            "rustyray job records",
        )
        .await?;
        let modules = bucket(
            &context,
            MODULES_BUCKET,
            Duration::ZERO,
            "rustyray module index",
        )
        .await?;
        let module_bytes = context
            .create_object_store(object_store::Config {
                bucket: MODULE_BYTES_STORE.into(),
                description: Some("rustyray module components, by SHA-256".into()),
                storage: jetstream::stream::StorageType::File,
                max_bytes: -1,
                ..Default::default()
            })
            .await
            .map_err(|err| ClusterError::nats(format!("opening {MODULE_BYTES_STORE}"), err))?;
        let actors = bucket(
            &context,
            ACTORS_BUCKET,
            Duration::ZERO,
            "rustyray actor directory",
        )
        .await?;
        let actor_names = bucket(
            &context,
            ACTOR_NAMES_BUCKET,
            Duration::ZERO,
            "rustyray actor names",
        )
        .await?;
        let actor_snapshots = bucket(
            &context,
            ACTOR_SNAPSHOTS_BUCKET,
            Duration::ZERO,
            "rustyray actor snapshots",
        )
        .await?;
        let actor_snapshot_bytes = context
            .create_object_store(object_store::Config {
                bucket: ACTOR_SNAPSHOT_BYTES_STORE.into(),
                description: Some("rustyray actor snapshots too large for a KV value".into()),
                storage: jetstream::stream::StorageType::File,
                max_bytes: -1,
                ..Default::default()
            })
            .await
            .map_err(|err| {
                ClusterError::nats(format!("opening {ACTOR_SNAPSHOT_BYTES_STORE}"), err)
            })?;
        let transfers = context
            .create_object_store(crate::tasks::transfers_config())
            .await
            .map_err(|err| {
                ClusterError::nats(format!("opening {}", crate::tasks::TRANSFERS_STORE), err)
            })?;
        Ok(Cluster {
            client,
            transfers,
            actors,
            actor_names,
            actor_snapshots,
            actor_snapshot_bytes,
            stored_snapshots: Default::default(),
            max_snapshot_bytes: crate::actors::MAX_SNAPSHOT_BYTES,
            nodes,
            heartbeats,
            jobs,
            modules,
            module_bytes,
            connects,
            url: url.to_string(),
        })
    }

    /// The NATS URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the client is connected now (it reconnects by itself when not).
    pub fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// How many times the client has connected so far; changes at each reconnection
    /// (NATS restarted, or the connection was lost and made again).
    pub fn connections(&self) -> tokio::sync::watch::Receiver<u64> {
        self.connects.count.subscribe()
    }

    /// How many times the client has connected so far.
    pub fn connection_count(&self) -> u64 {
        *self.connects.count.borrow()
    }

    /// When the client last connected again after losing the server, if it has.
    pub fn reconnected_at(&self) -> Option<std::time::Instant> {
        self.connects.reconnected.lock().ok().and_then(|at| *at)
    }

    /// Whether what this connection reads of the cluster's liveness can be trusted: it is
    /// connected, and it has been for [`SETTLE_AFTER_RECONNECT`] since it last connected
    /// again (after a NATS restart every node needs that long to reconnect and write a
    /// heartbeat; until then a live node can look dead).
    pub fn settled(&self) -> bool {
        self.connected()
            && self
                .troubled_at()
                .is_none_or(|at| at.elapsed() >= SETTLE_AFTER_RECONNECT)
    }

    /// When the connection was last lost or made again.
    fn troubled_at(&self) -> Option<std::time::Instant> {
        self.connects.troubled.lock().ok().and_then(|at| *at)
    }

    /// Runs `op` (a step on the cluster's state) and, while NATS is restarting — this
    /// client not connected, or not yet [`Cluster::settled`] since it connected again
    /// (JetStream may still be starting) — runs it again on a NATS error, every
    /// [`OUTAGE_RETRY`], for at most [`OUTAGE_WAIT`]; then its error is returned.
    pub async fn outlasting<T, Fut>(&self, mut op: impl FnMut() -> Fut) -> Result<T>
    where
        Fut: std::future::Future<Output = Result<T>>,
    {
        let start = std::time::Instant::now();
        loop {
            let tried = std::time::Instant::now();
            match op().await {
                // Failed while the connection was not settled, or lost meanwhile.
                Err(err @ ClusterError::Nats { .. })
                    if (!self.settled() || self.troubled_at().is_some_and(|at| at >= tried))
                        && start.elapsed() < OUTAGE_WAIT =>
                {
                    drop(err);
                    tokio::time::sleep(OUTAGE_RETRY).await;
                }
                outcome => return outcome,
            }
        }
    }

    /// The NATS client, for subscriptions of the node's own.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }
}

/// Opens the KV bucket `name` (file storage, one value per key), creating it with
/// `max_age` (zero: kept forever) if it does not exist. The stream is made here, as a KV
/// bucket's stream (`KV_<name>`, subjects `$KV.<name>.>`), because the client's own
/// bucket creation first reads the account's info in a shape nats-server 2.9 does not
/// send (`reserved_memory`).
async fn bucket(
    context: &jetstream::Context,
    name: &str,
    max_age: Duration,
    description: &str,
) -> Result<kv::Store> {
    context
        .get_or_create_stream(jetstream::stream::Config {
            name: format!("KV_{name}"),
            description: Some(description.into()),
            subjects: vec![format!("$KV.{name}.>")],
            max_messages_per_subject: 1,
            max_age,
            storage: jetstream::stream::StorageType::File,
            allow_rollup: true,
            deny_delete: true,
            deny_purge: false,
            allow_direct: true,
            num_replicas: 1,
            discard: jetstream::stream::DiscardPolicy::New,
            ..Default::default()
        })
        .await
        .map_err(|err| ClusterError::nats(format!("opening bucket {name}"), err))?;
    context
        .get_key_value(name)
        .await
        .map_err(|err| ClusterError::nats(format!("opening bucket {name}"), err))
}

/// The keys of a KV bucket that hold a value now, read from the stream's subjects (one
/// request per page, no consumer: the client's key listing, an ordered consumer, can wait
/// forever for a message that a newer put or `max_age` removed meanwhile).
pub(crate) async fn keys(store: &kv::Store, bucket: &'static str) -> Result<Vec<String>> {
    use futures::StreamExt;
    let prefix = format!("$KV.{bucket}.");
    let mut subjects = store
        .stream
        .info_with_subjects(format!("{prefix}>"))
        .await
        .map_err(|err| ClusterError::nats(format!("listing {bucket}"), err))?;
    let mut keys = Vec::new();
    while let Some(subject) = subjects.next().await {
        let (subject, _) =
            subject.map_err(|err| ClusterError::nats(format!("listing {bucket}"), err))?;
        if let Some(key) = subject.strip_prefix(&prefix) {
            keys.push(key.to_string());
        }
    }
    keys.sort();
    Ok(keys)
}
