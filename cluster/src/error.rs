//! [`ClusterError`]: what can go wrong talking to NATS or to another node.

/// An error of the cluster layer.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The first connection failed (later ones are retried forever).
    #[error(
        "cannot reach NATS at {url} ({cause}): start it with `nats-server -js` (Debian: \
         `apt-get install nats-server`), or `rustyray cluster up`"
    )]
    Connect {
        /// The URL tried.
        url: String,
        /// What the client said.
        cause: String,
    },
    /// A JetStream or NATS operation failed.
    #[error("NATS: {context}: {cause}")]
    Nats {
        /// What was being done.
        context: String,
        /// What the client or server said.
        cause: String,
    },
    /// A stored value did not decode.
    #[error("cluster state {key:?} in {bucket} is not valid: {cause}")]
    Corrupt {
        /// The bucket.
        bucket: &'static str,
        /// The key.
        key: String,
        /// What the decoder said.
        cause: String,
    },
    /// A key that cannot be stored (see [`crate::valid_key`]).
    #[error("{0:?} cannot name cluster state: use 1 to 128 letters, digits, '_' or '-'")]
    BadKey(String),
    /// A compare-and-set lost to another writer.
    #[error("{key:?} in {bucket} was changed by another node meanwhile")]
    Conflict {
        /// The bucket.
        bucket: &'static str,
        /// The key.
        key: String,
    },
    /// A create found the key there already.
    #[error("{key:?} exists already in {bucket}")]
    Exists {
        /// The bucket.
        bucket: &'static str,
        /// The key.
        key: String,
    },
    /// A module larger than [`crate::MAX_MODULE_BYTES`].
    #[error("module of {size} bytes is larger than the cluster's limit of {limit} bytes")]
    ModuleTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Module bytes whose SHA-256 is not the one asked for.
    #[error("module {expected} fetched from the object store hashes to {actual}")]
    HashMismatch {
        /// The hash asked for.
        expected: String,
        /// What the bytes hash to.
        actual: String,
    },
    /// A task's arguments or result over [`crate::tasks::MAX_TASK_PAYLOAD`].
    #[error("a task payload of {size} bytes is larger than the cluster's limit of {limit} bytes")]
    PayloadTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// An actor's snapshot over the node's limit ([`crate::Cluster::max_snapshot_bytes`],
    /// `rustyray start --max-snapshot-mib`): not kept (the
    /// actor goes on; its previous snapshot stays the one kept).
    #[error(
        "a snapshot of actor {actor} of {size} bytes is larger than the node's snapshot \
         limit of {limit} bytes (set by `rustyray start --max-snapshot-mib`); the previous one \
         stays kept"
    )]
    SnapshotTooLarge {
        /// The actor's key.
        actor: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A task message that is not a valid envelope.
    #[error("a task message is not valid: {0}")]
    BadEnvelope(String),
    /// No module bytes under that hash.
    #[error("module {0} is not in the cluster's object store")]
    ModuleMissing(String),
    /// A request to another node got no answer.
    #[error("node {node} did not answer {verb} within {timeout_ms} ms ({cause})")]
    NoAnswer {
        /// The node asked.
        node: String,
        /// What was asked.
        verb: String,
        /// How long it waited.
        timeout_ms: u64,
        /// What the client said.
        cause: String,
    },
}

impl ClusterError {
    pub(crate) fn nats(context: impl Into<String>, cause: impl std::fmt::Display) -> Self {
        ClusterError::Nats {
            context: context.into(),
            cause: cause.to_string(),
        }
    }
}

/// Results of the cluster layer.
pub type Result<T, E = ClusterError> = std::result::Result<T, E>;
