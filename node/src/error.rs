//! [`NodeError`]: everything that can go wrong between a client, the node and its jobs,
//! each with the fix in its message, and the stable JSON form the HTTP API answers with.

use serde::Serialize;

/// An error of the node or of a client talking to it.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Nothing answers at the address.
    #[error(
        "no rustyray node at {address} ({cause}): start one with `rustyray start`, or point \
         to yours with --address URL or RUSTYRAY_ADDRESS"
    )]
    NoNode {
        /// The address tried.
        address: String,
        /// What the connection said.
        cause: String,
    },
    /// The node wants a token this request did not carry (or carried a wrong one).
    #[error(
        "the node refused the request: it needs its token (pass --token-file FILE, the file \
         the node was started with, or set RUSTYRAY_TOKEN_FILE)"
    )]
    Unauthorized,
    /// Binding a non-loopback address without a token.
    #[error(
        "binding {host} exposes the node beyond this machine: give --token-file FILE (created \
         with a random token, mode 0600, if missing), or bind 127.0.0.1"
    )]
    TokenRequired {
        /// The host asked for.
        host: String,
    },
    /// No job with that id.
    #[error("no job {0:?} on this node (see `rustyray job list`)")]
    JobNotFound(String),
    /// A job of that submission id exists already.
    #[error("a job with submission id {0:?} already exists: choose another --submission-id")]
    JobExists(String),
    /// The job is still running (for delete).
    #[error("job {0:?} has not ended: stop it first (`rustyray job stop {0}`)")]
    JobNotEnded(String),
    /// No module by that name or hash.
    #[error(
        "no module {0:?} is deployed (see `rustyray list modules`; deploy with `rustyray deploy FILE.wasm`)"
    )]
    ModuleNotFound(String),
    /// A name that matches several modules.
    #[error("{0:?} names several modules: give more of its sha256 (see `rustyray list modules`)")]
    ModuleAmbiguous(String),
    /// An entrypoint the node does not run.
    #[error("bad entrypoint: {0}")]
    BadEntrypoint(String),
    /// A directory grant beyond what the operator allowed.
    #[error(
        "the job asks for directory {path}{mode} but the node allows {allowed}: start the \
         node with --allow-dir {path}{mode}"
    )]
    DirNotAllowed {
        /// The host path asked for.
        path: String,
        /// ":ro" when read-only was asked.
        mode: &'static str,
        /// What the node allows (`only …`, or `no …`).
        allowed: String,
    },
    /// A network destination or listening port beyond the operator's allow-list.
    #[error(
        "the job asks for {entry} but the node allows {allowed}: start the node with \
         `rustyray start {fix}` (or a rule covering it)"
    )]
    NetNotAllowed {
        /// The entrypoint's flag and value as asked.
        entry: String,
        /// The `start` flag that would allow it.
        fix: String,
        /// What the node allows (`only …`, or `no …`).
        allowed: String,
    },
    /// A job asked for more than the node's limit.
    #[error(
        "the job asks for {what} {asked} but the node allows at most {limit} (raise it with `rustyray start --{flag}`)"
    )]
    OverLimit {
        /// What was asked.
        what: &'static str,
        /// The amount asked.
        asked: u64,
        /// The node's limit.
        limit: u64,
        /// The `start` flag that raises it.
        flag: &'static str,
    },
    /// A body larger than the node accepts.
    #[error(
        "the upload is larger than the node's limit of {limit_mib} MiB (raise it with `rustyray start --max-upload-mib`)"
    )]
    UploadTooLarge {
        /// The limit.
        limit_mib: u64,
    },
    /// A state API filter on a field the resource does not have.
    #[error(
        "unknown filter key {key:?} for {resource}: valid keys are {}",
        valid.join(", ")
    )]
    BadFilterKey {
        /// The key given.
        key: String,
        /// `tasks`, `actors` or `objects`.
        resource: &'static str,
        /// The keys that may be filtered on.
        valid: Vec<&'static str>,
    },
    /// A state API filter that is not `key=value` or `key!=value`.
    #[error("bad filter {0:?}: write key=value or key!=value (e.g. --filter state=FINISHED)")]
    BadFilter(String),
    /// A state resource the node does not list.
    #[error("no state resource {0:?}: choose tasks, actors or objects")]
    UnknownResource(String),
    /// A request the node could not parse.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The module is not a usable component.
    #[error("{0}")]
    Runtime(#[from] rustyray::RayError),
    /// An error the node answered with.
    #[error("the node answered {status}: {message}")]
    Remote {
        /// HTTP status.
        status: u16,
        /// Its message.
        message: String,
    },
    /// An error another node of the cluster answered a forwarded request with.
    #[error("{message}")]
    Forwarded {
        /// Its stable kind there.
        kind: String,
        /// Its HTTP status there.
        status: u16,
        /// Its message there.
        message: String,
    },
    /// NATS (the cluster's state) failed.
    #[error("cluster: {0}")]
    Cluster(#[from] rustyray_cluster::ClusterError),
    /// No live node has what the job asks for.
    #[error(
        "no live node has the resources the job asks for ({asked}); nodes offer them with \
         `rustyray start --resources NAME=N` (see `rustyray list nodes`)"
    )]
    Unschedulable {
        /// The request, `NAME=N, ...`.
        asked: String,
    },
    /// The node holding a job is gone.
    #[error(
        "job {job:?} ran on node {node} ({address}), which was lost (no heartbeat): its logs \
         went with it"
    )]
    NodeLost {
        /// The job.
        job: String,
        /// The lost node's id.
        node: String,
        /// Its address.
        address: String,
    },
    /// A file or process operation failed.
    #[error("{context}: {message}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS's message.
        message: String,
    },
}

impl NodeError {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, err: impl std::fmt::Display) -> Self {
        NodeError::Io {
            context: context.into(),
            message: err.to_string(),
        }
    }

    /// The stable machine-readable name of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            NodeError::NoNode { .. } => "no_node",
            NodeError::Unauthorized => "unauthorized",
            NodeError::TokenRequired { .. } => "token_required",
            NodeError::JobNotFound(_) => "job_not_found",
            NodeError::JobExists(_) => "job_exists",
            NodeError::JobNotEnded(_) => "job_not_ended",
            NodeError::ModuleNotFound(_) => "module_not_found",
            NodeError::ModuleAmbiguous(_) => "module_ambiguous",
            NodeError::BadEntrypoint(_) => "bad_entrypoint",
            NodeError::DirNotAllowed { .. } => "dir_not_allowed",
            NodeError::NetNotAllowed { .. } => "net_not_allowed",
            NodeError::OverLimit { .. } => "over_limit",
            NodeError::UploadTooLarge { .. } => "upload_too_large",
            NodeError::BadFilterKey { .. } => "bad_filter_key",
            NodeError::BadFilter(_) => "bad_filter",
            NodeError::UnknownResource(_) => "unknown_resource",
            NodeError::BadRequest(_) => "bad_request",
            NodeError::Runtime(_) => "invalid_module",
            NodeError::Remote { .. } => "remote",
            NodeError::Cluster(_) => "cluster",
            NodeError::Forwarded { .. } => "forwarded",
            NodeError::Unschedulable { .. } => "unschedulable",
            NodeError::NodeLost { .. } => "node_lost",
            NodeError::Io { .. } => "io",
        }
    }

    /// The HTTP status the API answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            NodeError::Unauthorized => 401,
            NodeError::JobNotFound(_) | NodeError::ModuleNotFound(_) => 404,
            NodeError::UploadTooLarge { .. } => 413,
            NodeError::Io { .. } | NodeError::NoNode { .. } => 500,
            NodeError::Cluster(_) => 503,
            NodeError::NodeLost { .. } => 410,
            NodeError::Remote { status, .. } | NodeError::Forwarded { status, .. } => *status,
            _ => 400,
        }
    }

    /// The JSON body the API answers with: `{"error": kind, "message": text}`.
    pub fn to_body(&self) -> ErrorBody {
        let kind = match self {
            NodeError::Forwarded { kind, .. } => kind.as_str(),
            _ => self.kind(),
        };
        ErrorBody {
            error: kind.to_string(),
            message: self.to_string(),
        }
    }
}

/// The serialized form of a [`NodeError`].
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct ErrorBody {
    /// The error's stable name ([`NodeError::kind`]).
    pub error: String,
    /// The one-line message, fix included.
    pub message: String,
}

/// Results of the node.
pub type Result<T, E = NodeError> = std::result::Result<T, E>;
