//! The one error type of the host API, [`RayError`].
//!
//! Every way a task, an object or the runtime can fail is a variant here, so callers
//! can match on the cause instead of parsing strings. Errors are cheap to clone (an
//! object's error is handed to every holder that calls `get`), and a failed
//! dependency keeps the whole chain back to its root cause behind an `Arc`, so a
//! 1,000-long chain of failures costs one allocation per link, not a deep copy.
//!
//! Such a chain can be as long as a guest likes (a task that submits 50,000 tasks,
//! each depending on the one before), so nothing here recurses along it: the link,
//! [`Cause`], unlinks the chain in a loop when it is dropped, and `Display`,
//! `Debug`, [`RayError::root_cause`] and [`RayError::chain`] walk it in a loop.

use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use crate::limits::Limit;
use crate::object_store::ObjectId;

/// A [`RayError`] as data: what the node's API and the state API answer with. Its
/// fields are stable; `kind` and `root_kind` are [`RayError::kind`] names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorInfo {
    /// The error's kind, e.g. `"DependencyFailed"`.
    pub kind: String,
    /// The whole message, as `Display` prints it.
    pub message: String,
    /// The kind at the end of the chain of failed dependencies (`kind` itself if none).
    pub root_kind: String,
    /// For an application error at the root: the guest's error type (e.g. `"ValueError"`).
    pub type_name: Option<String>,
}

/// Everything that can go wrong in rustyray.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RayError {
    /// The task's function returned an error; the message is the function's own.
    #[error("task {function} failed: {message}")]
    Application {
        /// The function that failed.
        function: String,
        /// Its error, rendered with `Display`.
        message: String,
        /// The error's type as the guest named it (`my_crate::MyError`, a Python class),
        /// when known (Ray keeps the user's exception class).
        type_name: Option<String>,
        /// The error's value, encoded, when its type could be (a `Serialize` Rust error):
        /// `codec::decode` or `codec::to_json` reads it.
        value: Option<Box<crate::codec::Value>>,
    },

    /// The guest trapped: a wasm trap (with its code) or a panic (with its message).
    #[error("task {function} trapped: {message}{context}{}", backtrace_suffix(.backtrace))]
    Trap {
        /// The function that trapped.
        function: String,
        /// The panic message, or the trap code's description.
        message: String,
        /// A symbolized wasm backtrace, innermost frame first (may be empty).
        backtrace: String,
        /// Which task or actor call it was, and the sizes of its arguments.
        context: TrapContext,
    },

    /// The guest ran into one of its limits (see [`Limits`](crate::Limits)).
    #[error("task {function} exceeded its {limit} limit of {}{}", .limit.describe(*.value), detail_suffix(.detail))]
    LimitExceeded {
        /// The function (or `Class.method`) that hit the limit.
        function: String,
        /// Which limit.
        limit: Limit,
        /// The limit's value (bytes, units of fuel, or a count).
        value: u64,
        /// What happened, e.g. the size of the refused growth (may be empty).
        detail: String,
    },

    /// A capability or option that cannot be honoured: a granted directory that does
    /// not exist, an invalid variable name, fuel asked of a runtime without metering.
    #[error("invalid options: {0}")]
    InvalidOptions(String),

    /// A directory grant that covers the compile cache (or lies inside it): a guest
    /// could plant native code the host would run, or read the cache's key.
    #[error(
        "the directory grant {} covers the compile cache {}; grant a directory outside it \
         (or move the cache with RUSTYRAY_CACHE_DIR)", .grant.display(), .cache.display()
    )]
    GrantCoversCache {
        /// The granted host directory.
        grant: std::path::PathBuf,
        /// The cache directory.
        cache: std::path::PathBuf,
    },

    /// The task was cancelled before it produced a value.
    #[error("task was cancelled")]
    Cancelled,

    /// The task ran longer than its deadline.
    #[error("task timed out after {0:?}")]
    Timeout(Duration),

    /// A `get` with a timeout gave up waiting ([`ObjectRef::get_timeout`]); the task goes
    /// on running (Ray's `GetTimeoutError`).
    ///
    /// [`ObjectRef::get_timeout`]: crate::ObjectRef::get_timeout
    #[error("get timed out after {0:?}; the object is not ready yet")]
    GetTimeout(Duration),

    /// The object was freed ([`Runtime::free`](crate::Runtime::free), a guest's `free`):
    /// it can no longer be read (Ray's `ObjectFreedError`).
    #[error("{0} was freed and can no longer be read")]
    ObjectFreed(ObjectId),

    /// A call was given arguments it cannot work with, e.g. duplicate references or a
    /// `num_returns` out of range for `wait` (Ray's `ValueError`).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// One of the task's arguments was an object whose task failed.
    #[error("dependency {object} failed: {}", .cause.root_cause())]
    DependencyFailed {
        /// The argument object that failed.
        object: ObjectId,
        /// Its error (itself possibly a `DependencyFailed`: see [`RayError::chain`]).
        cause: Cause,
    },

    /// No loaded component and no native registration has a function of that name.
    #[error("function not found: {0:?}")]
    FunctionNotFound(String),

    /// A function or actor class name that several loaded components define, none of
    /// them the caller's own (a runtime built with
    /// [`shared_names`](crate::RuntimeBuilder::shared_names), as a node's are): name
    /// one of them as `MODULE/NAME`.
    #[error(
        "{name:?} is defined by {} loaded modules: {}; the calling module defines no {name:?} \
         of its own, so name the one meant as MODULE/{name} (MODULE: a module's name or \
         SHA-256 prefix)",
        .modules.len(),
        .modules.join(", ")
    )]
    AmbiguousName {
        /// The function or class name.
        name: String,
        /// The modules that define it (source name and start of the SHA-256).
        modules: Vec<String>,
    },

    /// A function of that name is already registered.
    #[error("function {name:?} is already registered (by {existing})")]
    DuplicateFunction {
        /// The function name.
        name: String,
        /// Where the first registration came from.
        existing: String,
    },

    /// The arguments did not decode as the function's parameters, or a result did not
    /// decode as the type asked for.
    #[error("bad arguments for {function}: {message}")]
    BadArguments {
        /// The function called (or `get` when a result did not decode).
        function: String,
        /// What did not fit.
        message: String,
    },

    /// A `.wasm` file that cannot be used: not wasm, a core module instead of a
    /// component, a component of another world, or one missing an export.
    #[error("invalid module {source_name}: {message}")]
    InvalidModule {
        /// The path or name the module was loaded from.
        source_name: String,
        /// Why it was refused.
        message: String,
    },

    /// The object store would exceed its memory cap.
    #[error(
        "object store full: {requested} bytes requested, {used} of {capacity} bytes in use \
         (the object store limit; raise it with `--object-store MIB` or \
         `RuntimeBuilder::object_store_capacity`)"
    )]
    ObjectStoreFull {
        /// Size of the object that did not fit.
        requested: usize,
        /// Bytes held when it was refused.
        used: usize,
        /// The configured cap.
        capacity: usize,
    },

    /// Spilling objects to disk, or reading one back, failed: the object store was
    /// full and its cold objects could not be written to the spill directory, or a
    /// spilled object's file could not be read.
    #[error(
        "spilling objects to {} failed: {message} (the spill directory; set it with \
         `--spill-dir DIR` or `RuntimeBuilder::spill_dir`)", .dir.display()
    )]
    Spill {
        /// The spill directory (its root, as configured).
        dir: std::path::PathBuf,
        /// What failed, with the OS error.
        message: String,
    },

    /// No loaded component exports an actor class of that name.
    #[error("actor class not found: {0:?}")]
    ActorClassNotFound(String),

    /// An actor of that name already exists in that namespace.
    #[error("an actor named {name:?} already exists in namespace {namespace:?}")]
    ActorNameTaken {
        /// The namespace.
        namespace: String,
        /// The name.
        name: String,
    },

    /// The actor already has `max_pending_calls` calls sent and not answered (Ray's
    /// `PendingCallsLimitExceeded`); the call was not sent.
    #[error("{class} {actor} has {limit} pending calls, its max_pending_calls: call refused")]
    PendingCallsLimitExceeded {
        /// Which actor.
        actor: crate::actor::ActorId,
        /// Its class.
        class: String,
        /// Its `max_pending_calls`.
        limit: usize,
    },

    /// The actor is gone: it trapped with no restarts left, was killed or stopped.
    #[error("{class} {actor} died: {reason}")]
    ActorDied {
        /// Which actor.
        actor: crate::actor::ActorId,
        /// Its class.
        class: String,
        /// Why, with the root cause (e.g. the trap) when there is one.
        reason: String,
    },

    /// No live actor has that id: it never existed (a forged or mistyped id), or it
    /// was killed, stopped, or reclaimed once its last handle was dropped.
    #[error("no live actor has id {}: never created here, or killed, stopped or reclaimed", .0.0)]
    ActorNotFound(crate::actor::ActorId),

    /// A value sent to another runtime (an actor or a task on another node, a
    /// detached actor of a node alone) holds [`ObjectRef`](crate::ObjectRef)s that
    /// cannot cross: off a cluster, in a placed actor's constructor arguments, to an
    /// object that failed or holds references itself, or past the keeping node's
    /// `--max-held-objects-mib`. `what` says which and why.
    #[error(
        "{what}: its object references cannot cross to the other runtime (they cross only \
         between cluster nodes, to objects with a value that hold no references themselves \
         and fit the keeping node's --max-held-objects-mib); pass the values (top-level \
         ObjectRef arguments are resolved), not references inside them"
    )]
    ReferencesCannotCross {
        /// The call or value refused.
        what: String,
    },

    /// A value sent to (or answered by) an actor of another runtime carries a handle of
    /// an actor that only this runtime knows (a job's own actor, not placed): the
    /// other side could not resolve it. Handles of placed actors (detached, or created
    /// with resources or a node id) cross; others do not.
    #[error(
        "{what} holds a handle of actor {actor} ({class}), which lives only in this \
         runtime and cannot be reached from another node: only handles of placed actors \
         cross (create it with ActorOptions::detached(true), .resource(..) or .node_id(..))"
    )]
    ActorHandleCannotCross {
        /// The call or value refused.
        what: String,
        /// The actor whose handle it holds.
        actor: crate::actor::ActorId,
        /// Its class.
        class: String,
    },

    /// The node a task was running on died (its heartbeat expired) before it answered:
    /// a system failure, retried within the task's `max_retries` (Ray's `NodeDiedError`).
    #[error(
        "task {function} was running on node {node}, which died (its heartbeat expired) \
         before the task answered"
    )]
    NodeDied {
        /// The lost node.
        node: String,
        /// The task's function.
        function: String,
    },

    /// An object kept on another node could not be read there (that node died, or no
    /// longer holds it) and could not be made again from its lineage (re-running the
    /// task that made it, within that task's `max_retries`): Ray's `ObjectLostError`.
    #[error("{object} was lost: it was held on node {node}, {reason}")]
    ObjectLost {
        /// The object.
        object: String,
        /// The node that held it.
        node: String,
        /// Why it could not be read or made again.
        reason: String,
    },

    /// An error of the runtime hosting a remote actor (the node, for a detached actor),
    /// of a kind that does not cross with its shape: its message.
    #[error("on the actor's runtime: {0}")]
    Remote(String),

    /// A value could not be encoded or decoded.
    #[error("serialization failed: {0}")]
    Serialization(String),

    /// The runtime is shutting down (or was shut down) and took no more work.
    #[error("runtime is shut down")]
    ShutDown,

    /// An I/O error from the host side (reading a module, the compile cache).
    #[error("{context}: {message}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        message: String,
    },

    /// A Python guest program could not be built into a component (`rustyray run DIR`
    /// with a `main.py`/`app.py`): no Python, the venv or componentize-py install
    /// failed, or componentize-py refused the program (its message says why).
    #[error("building the Python program {program}: {message}")]
    PythonBuild {
        /// The program's directory.
        program: String,
        /// What failed.
        message: String,
    },

    /// A JavaScript guest program could not be built into a component (`rustyray run
    /// DIR` with a `main.js`): no Node.js or npm, the componentize-js install failed, or
    /// the program did not parse or componentize (the message says where and why).
    #[error("building the JavaScript program {program}: {message}")]
    JsBuild {
        /// The program's directory.
        program: String,
        /// What failed.
        message: String,
    },

    /// An error inside the runtime itself, not caused by the guest.
    #[error("internal runtime error: {0}")]
    Internal(String),
}

/// The error behind a [`RayError::DependencyFailed`]: a shared reference (cloning is
/// one atomic increment) that derefs to the [`RayError`].
///
/// Dropping it, and formatting it, never recurse along the chain, however long:
/// a 50,000-link chain would otherwise overflow the stack of the thread (or of the
/// guest fiber) that drops the last reference to it, and abort the process.
pub struct Cause(ManuallyDrop<Arc<RayError>>);

impl Cause {
    /// Wraps `error` as the cause of a failed dependency.
    pub fn new(error: RayError) -> Self {
        Cause(ManuallyDrop::new(Arc::new(error)))
    }

    /// The shared error.
    pub fn as_arc(&self) -> &Arc<RayError> {
        &self.0
    }
}

impl From<RayError> for Cause {
    fn from(error: RayError) -> Self {
        Cause::new(error)
    }
}

impl From<Arc<RayError>> for Cause {
    fn from(error: Arc<RayError>) -> Self {
        Cause(ManuallyDrop::new(error))
    }
}

impl Clone for Cause {
    fn clone(&self) -> Self {
        Cause(ManuallyDrop::new(Arc::clone(&self.0)))
    }
}

impl Deref for Cause {
    type Target = RayError;

    fn deref(&self) -> &RayError {
        &self.0
    }
}

impl AsRef<RayError> for Cause {
    fn as_ref(&self) -> &RayError {
        &self.0
    }
}

impl Drop for Cause {
    fn drop(&mut self) {
        // SAFETY: `self.0` is taken exactly once, here, and never used again.
        let mut next = unsafe { ManuallyDrop::take(&mut self.0) };
        // While this was the last reference to a link, take the link's own cause out
        // before the link is dropped, so each drop below is one level deep.
        while let Some(RayError::DependencyFailed { mut cause, .. }) = Arc::into_inner(next) {
            // SAFETY: `cause` is forgotten right after, so its `Arc` is moved, not
            // dropped twice.
            next = unsafe { ManuallyDrop::take(&mut cause.0) };
            std::mem::forget(cause);
        }
    }
}

impl std::fmt::Debug for Cause {
    /// The depth of the chain and its root cause, found in a loop.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let depth = self.chain().count();
        f.debug_struct("Cause")
            .field("links", &depth)
            .field("root", self.root_cause())
            .finish()
    }
}

/// Where a trap happened: the task (or actor call) and its arguments' sizes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrapContext {
    /// `task 12` (the task whose result is object 12), `actor#3`, or empty.
    pub task: String,
    /// The encoded size of each argument, in bytes.
    pub arg_sizes: Vec<usize>,
}

impl std::fmt::Display for TrapContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.task.is_empty() {
            return Ok(());
        }
        write!(f, "\n  in {}", self.task)?;
        match self.arg_sizes.as_slice() {
            [] => write!(f, ", no arguments"),
            sizes => {
                let sizes: Vec<String> = sizes.iter().map(usize::to_string).collect();
                write!(
                    f,
                    ", {} argument{} of {} bytes",
                    sizes.len(),
                    if sizes.len() == 1 { "" } else { "s" },
                    sizes.join(" + ")
                )
            }
        }
    }
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

fn backtrace_suffix(backtrace: &str) -> String {
    if backtrace.is_empty() {
        String::new()
    } else {
        format!("\nwasm backtrace:\n{backtrace}")
    }
}

impl RayError {
    /// About how many bytes the host holds for this error: the texts it carries, plus
    /// a fixed overhead. A failed dependency shares its cause, so it counts only
    /// itself. Charged to the host memory account while an object holds the error.
    pub(crate) fn held_bytes(&self) -> usize {
        const OVERHEAD: usize = 64;
        OVERHEAD
            + match self {
                RayError::Application {
                    function,
                    message,
                    type_name,
                    value,
                } => {
                    function.len()
                        + message.len()
                        + type_name.as_ref().map_or(0, String::len)
                        + value.as_deref().map_or(0, crate::codec::Value::len)
                }
                RayError::BadArguments { function, message } => function.len() + message.len(),
                RayError::Trap {
                    function,
                    message,
                    backtrace,
                    context,
                } => {
                    function.len()
                        + message.len()
                        + backtrace.len()
                        + context.task.len()
                        + context.arg_sizes.len() * 8
                }
                RayError::LimitExceeded {
                    function, detail, ..
                } => function.len() + detail.len(),
                RayError::InvalidOptions(text)
                | RayError::InvalidArgument(text)
                | RayError::FunctionNotFound(text)
                | RayError::ActorClassNotFound(text)
                | RayError::Serialization(text)
                | RayError::Remote(text)
                | RayError::Internal(text) => text.len(),
                RayError::ActorDied { class, reason, .. } => class.len() + reason.len(),
                RayError::NodeDied { node, function } => node.len() + function.len(),
                RayError::ObjectLost {
                    object,
                    node,
                    reason,
                } => object.len() + node.len() + reason.len(),
                RayError::InvalidModule {
                    source_name,
                    message,
                } => source_name.len() + message.len(),
                RayError::ActorNameTaken { namespace, name } => namespace.len() + name.len(),
                RayError::AmbiguousName { name, modules } => {
                    name.len() + modules.iter().map(String::len).sum::<usize>()
                }
                RayError::Io { context, message } => context.len() + message.len(),
                RayError::Spill { dir, message } => dir.as_os_str().len() + message.len(),
                _ => 0,
            }
    }

    /// The variant's stable name (`"Trap"`, `"LimitExceeded"`, `"ActorDied"`, ...): what
    /// an API client matches on. Names are never reused for another meaning.
    pub fn kind(&self) -> &'static str {
        match self {
            RayError::Application { .. } => "Application",
            RayError::Trap { .. } => "Trap",
            RayError::LimitExceeded { .. } => "LimitExceeded",
            RayError::InvalidOptions(_) => "InvalidOptions",
            RayError::GrantCoversCache { .. } => "GrantCoversCache",
            RayError::Cancelled => "Cancelled",
            RayError::Timeout(_) => "Timeout",
            RayError::GetTimeout(_) => "GetTimeout",
            RayError::ObjectFreed(_) => "ObjectFreed",
            RayError::InvalidArgument(_) => "InvalidArgument",
            RayError::DependencyFailed { .. } => "DependencyFailed",
            RayError::FunctionNotFound(_) => "FunctionNotFound",
            RayError::DuplicateFunction { .. } => "DuplicateFunction",
            RayError::AmbiguousName { .. } => "AmbiguousName",
            RayError::BadArguments { .. } => "BadArguments",
            RayError::InvalidModule { .. } => "InvalidModule",
            RayError::ObjectStoreFull { .. } => "ObjectStoreFull",
            RayError::Spill { .. } => "Spill",
            RayError::ActorClassNotFound(_) => "ActorClassNotFound",
            RayError::ActorNameTaken { .. } => "ActorNameTaken",
            RayError::PendingCallsLimitExceeded { .. } => "PendingCallsLimitExceeded",
            RayError::ActorDied { .. } => "ActorDied",
            RayError::ActorNotFound(_) => "ActorNotFound",
            RayError::Serialization(_) => "Serialization",
            RayError::ShutDown => "ShutDown",
            RayError::Io { .. } => "Io",
            RayError::PythonBuild { .. } => "PythonBuild",
            RayError::JsBuild { .. } => "JsBuild",
            RayError::ReferencesCannotCross { .. } => "ReferencesCannotCross",
            RayError::ActorHandleCannotCross { .. } => "ActorHandleCannotCross",
            RayError::Remote(_) => "Remote",
            RayError::NodeDied { .. } => "NodeDied",
            RayError::ObjectLost { .. } => "ObjectLost",
            RayError::Internal(_) => "Internal",
        }
    }

    /// The error's stable serializable form, for APIs and logs: its [kind](Self::kind),
    /// its message, the kind of its root cause, and an application error's type name.
    pub fn info(&self) -> ErrorInfo {
        let root = self.root_cause();
        ErrorInfo {
            kind: self.kind().to_string(),
            message: self.to_string(),
            root_kind: root.kind().to_string(),
            type_name: match root {
                RayError::Application { type_name, .. } => type_name.clone(),
                _ => None,
            },
        }
    }

    /// The error at the end of a chain of failed dependencies (or `self`).
    pub fn root_cause(&self) -> &RayError {
        let mut current = self;
        while let RayError::DependencyFailed { cause, .. } = current {
            current = cause;
        }
        current
    }

    /// The errors from this one down to the root cause, outermost first.
    pub fn chain(&self) -> impl Iterator<Item = &RayError> {
        let mut next = Some(self);
        std::iter::from_fn(move || {
            let current = next?;
            next = match current {
                RayError::DependencyFailed { cause, .. } => Some(&**cause),
                _ => None,
            };
            Some(current)
        })
    }

    /// An application error with only a message (no type, no value).
    pub fn application(function: impl Into<String>, message: impl Into<String>) -> Self {
        RayError::Application {
            function: function.into(),
            message: message.into(),
            type_name: None,
            value: None,
        }
    }

    /// An [`RayError::Io`] saying what was being done (`context`) and what the OS said.
    pub fn io(context: impl Into<String>, err: std::io::Error) -> Self {
        RayError::Io {
            context: context.into(),
            message: err.to_string(),
        }
    }

    /// An [`RayError::InvalidModule`]: `source` (a path or a name) and what is wrong.
    pub fn invalid_module(source: impl Into<String>, message: impl Into<String>) -> Self {
        RayError::InvalidModule {
            source_name: source.into(),
            message: message.into(),
        }
    }
}

/// The seed's name for the error type (`rustyray::error::RustyRayError`).
pub type RustyRayError = RayError;

/// `Result` with [`RayError`].
pub type Result<T, E = RayError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;

    #[test]
    fn chain_walks_to_root_cause() {
        let root = RayError::application("f", "boom");
        let mid = RayError::DependencyFailed {
            object: ObjectId(Id {
                node: 0,
                hi: 0,
                lo: 1,
            }),
            cause: Cause::new(root),
        };
        let top = RayError::DependencyFailed {
            object: ObjectId(Id {
                node: 0,
                hi: 0,
                lo: 2,
            }),
            cause: Cause::new(mid),
        };
        assert_eq!(top.chain().count(), 3);
        assert!(
            matches!(top.root_cause(), RayError::Application { message, .. } if message == "boom")
        );
        assert_eq!(
            top.to_string(),
            "dependency object#0:00000000000000000000000000000002 failed: task f failed: boom"
        );
    }

    #[test]
    fn a_deep_chain_drops_and_formats_without_recursing() {
        // On a 64 KiB stack, where even a few thousand levels of recursion overflow.
        let worker = std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(|| {
                let mut error = RayError::Cancelled;
                for link in 0..100_000 {
                    error = RayError::DependencyFailed {
                        object: ObjectId(Id {
                            node: 0,
                            hi: 0,
                            lo: link,
                        }),
                        cause: Cause::new(error),
                    };
                }
                let shared = error.clone();
                drop(error);
                assert_eq!(shared.chain().count(), 100_001);
                assert!(matches!(shared.root_cause(), RayError::Cancelled));
                assert!(shared.to_string().ends_with("failed: task was cancelled"));
                assert!(format!("{shared:?}").contains("links: 100000"));
                drop(shared);
            })
            .expect("spawning");
        worker.join().expect("no stack overflow");
    }

    #[test]
    fn traps_and_limits_say_where_and_what() {
        let trap = RayError::Trap {
            function: "add".into(),
            message: "wasm trap: wasm `unreachable` instruction executed".into(),
            backtrace: "    0: fixtures::add".into(),
            context: TrapContext {
                task: "task 12".into(),
                arg_sizes: vec![1, 2],
            },
        };
        assert_eq!(
            trap.to_string(),
            "task add trapped: wasm trap: wasm `unreachable` instruction executed\n  in task 12, \
             2 arguments of 1 + 2 bytes\nwasm backtrace:\n    0: fixtures::add"
        );
        let limit = RayError::LimitExceeded {
            function: "grow".into(),
            limit: Limit::Memory,
            value: 16 << 20,
            detail: String::new(),
        };
        assert_eq!(
            limit.to_string(),
            "task grow exceeded its memory limit of 16 MiB (16777216 bytes)"
        );
    }
}
