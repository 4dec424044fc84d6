//! What travels between a runtime and the runtime hosting its remote actors: requests,
//! answers, values and errors, as MessagePack frames (a 4-byte big-endian length, then
//! the body), one answer per request, in order, on one connection.
//!
//! Values cross as their bytes and encoding, and the object references nested in them
//! as their objects' addresses ([`WireValue::refs`], `borrow.rs`): an
//! [`ObjectRef`](crate::ObjectRef) names an object of one runtime and means nothing in
//! another by itself. [`WireValue::from_value`] (what needs no address: a constructor's
//! arguments) refuses a value holding references ([`RayError::ReferencesCannotCross`]).

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::actor_impl::ActorId;
use crate::codec::Value;
use crate::error::{Cause, RayError, Result, TrapContext};
use crate::limits::Limit;
use crate::object_store::{Encoding, ObjectId};

/// The largest frame either side reads (a value of an actor call, with its framing);
/// a larger one is refused before it is read.
pub const MAX_FRAME: usize = 256 << 20;

/// A value as it crosses: its encoding and its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireValue {
    /// A byte buffer as it is (`true`), or MessagePack.
    pub raw: bool,
    /// The bytes.
    pub data: Bytes,
    /// Set instead of `data` (which is then empty) for a task's result the node that
    /// made it keeps (`remote/objects.rs`): where it is, fetched from there on demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Held>,
    /// Where the objects are that the `ObjectRef`s nested in `data` name, one per
    /// reference in the order they appear (`borrow.rs`); empty for a value holding none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<crate::remote::borrow::RefAddress>,
}

/// A task's result kept on the node that made it: that node, its key there and its
/// length. Only a cluster node makes one (for results larger than its
/// `--max-direct-call-object-size`); the owner fetches it by this.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Held {
    /// The node holding it.
    pub node: String,
    /// Its key on that node.
    pub key: String,
    /// Its length in bytes.
    pub len: u64,
}

impl WireValue {
    /// The value to send; refused when it holds references (`what` names the call).
    pub(crate) fn from_value(value: &Value, what: &str) -> Result<Self> {
        if !value.refs.is_empty() {
            return Err(RayError::ReferencesCannotCross {
                what: what.to_string(),
            });
        }
        Ok(WireValue {
            raw: value.encoding == Encoding::Raw,
            data: value.data.clone(),
            held: None,
            refs: Vec::new(),
        })
    }

    /// The value as the runtime keeps it.
    pub(crate) fn into_value(self) -> Value {
        if self.raw {
            Value::raw(self.data)
        } else {
            Value::msgpack(self.data)
        }
    }
}

/// How to create a remote actor: Ray's actor options that mean something on the host
/// (what the caller's runtime decides — capabilities, limits — stays with the host).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateRequest {
    /// The actor class.
    pub class: String,
    /// The module (component SHA-256, lowercase hex) the caller resolved the class
    /// from: the hosting side creates that module's class, and refuses
    /// ([`WireError::ActorClassNotFound`]) when it does not have that module, rather
    /// than another module's class of the same name. `None` (an older caller): the
    /// class by its name alone, refused when several modules define it.
    #[serde(default)]
    pub module: Option<String>,
    /// The constructor's arguments, resolved.
    pub args: Vec<WireValue>,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// The namespace of the name.
    pub namespace: String,
    /// Restarts after a trap.
    pub max_restarts: u32,
    /// Retries of a call that trapped.
    pub max_task_retries: u32,
    /// Return the actor of that name if there is one.
    pub get_if_exists: bool,
    /// Calls pending beyond which a call is refused.
    pub max_pending_calls: Option<u64>,
    /// Snapshot after every this many calls.
    pub snapshot_every: u32,
    /// Custom resources it needs (a cluster places it on a node that has them).
    #[serde(default)]
    pub resources: std::collections::BTreeMap<String, f64>,
    /// The node it must run on (node affinity).
    #[serde(default)]
    pub node_id: Option<String>,
    /// Whether it outlives the job that created it; otherwise it ends with it.
    #[serde(default = "yes")]
    pub detached: bool,
    /// The job that created it (its submission id), filled in by the transport.
    #[serde(default)]
    pub owner: Option<String>,
    /// The node that job runs on, when the creation comes from another node (a task of
    /// the job running there); `None`: the node routing the creation.
    #[serde(default)]
    pub owner_node: Option<String>,
}

fn yes() -> bool {
    true
}

/// An actor of another runtime, as its handles there know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteActor {
    /// Its id (the same in both runtimes).
    pub id: ActorId,
    /// Its class.
    pub class: String,
    /// Its namespace and name, if it has one.
    pub name: Option<(String, String)>,
    /// The module (component SHA-256) of its class, when known: a caller checks its
    /// calls against that module's class.
    #[serde(default)]
    pub module: Option<String>,
}

/// One request to the hosting runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Create a detached actor (answered when its constructor has run).
    Create(CreateRequest),
    /// The live actor of that name.
    Lookup {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// Call a method (answered with its result; at once for a tell).
    Call {
        /// Which actor.
        actor: ActorId,
        /// The method.
        method: String,
        /// Its arguments, resolved.
        args: Vec<WireValue>,
        /// Whether the caller wants the result (`false`: Ray's fire-and-forget).
        want_result: bool,
        /// The node the answer goes to (set by the node routing the call): object
        /// references in the result are counted for it (`borrow.rs`). `None`: the
        /// hosting runtime's own node.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caller_node: Option<String>,
    },
    /// The live actor of that id (a handle received in a value, on another node).
    Locate {
        /// Which actor.
        actor: ActorId,
    },
    /// Kill it (Ray's `kill(actor, no_restart)`).
    Kill {
        /// Which actor.
        actor: ActorId,
        /// Without a restart.
        no_restart: bool,
    },
}

/// The answer to one [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The actor created, or found (`None`: no live actor of that name).
    Actor(Option<RemoteActor>),
    /// A call's result.
    Value(WireValue),
    /// Done (a kill, a tell).
    Done,
    /// It failed.
    Failed(WireError),
}

/// A [`RayError`] as it crosses: every kind keeps its shape, so an error raised on
/// another node (a limit, a timeout, a full object store) reaches the caller as the same
/// [`RayError`] kind. A failed dependency crosses as its object and its root cause (the
/// chain between is this side's to rebuild, and may be as long as a guest likes); a
/// trap's local context (the task's object id and argument sizes) stays where it was.
/// New kinds go at the end (older peers decode the ones they know).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum WireError {
    Application {
        function: String,
        message: String,
        type_name: Option<String>,
        value: Option<WireValue>,
    },
    Trap {
        function: String,
        message: String,
        backtrace: String,
    },
    ActorDied {
        actor: ActorId,
        class: String,
        reason: String,
    },
    ActorNotFound(ActorId),
    ActorClassNotFound(String),
    ActorNameTaken {
        namespace: String,
        name: String,
    },
    PendingCallsLimitExceeded {
        actor: ActorId,
        class: String,
        limit: u64,
    },
    FunctionNotFound(String),
    BadArguments {
        function: String,
        message: String,
    },
    InvalidOptions(String),
    ReferencesCannotCross(String),
    ActorHandleCannotCross {
        what: String,
        actor: ActorId,
        class: String,
    },
    NodeDied {
        node: String,
        function: String,
    },
    InvalidModule {
        source_name: String,
        message: String,
    },
    TimeoutMs(u64),
    Serialization(String),
    Cancelled,
    ShutDown,
    Other(String),
    AmbiguousName {
        name: String,
        modules: Vec<String>,
    },
    ObjectLost {
        object: String,
        node: String,
        reason: String,
    },
    LimitExceeded {
        function: String,
        /// The limit's name ([`Limit::name`]).
        limit: String,
        value: u64,
        detail: String,
    },
    GetTimeoutMs(u64),
    ObjectFreed(ObjectId),
    InvalidArgument(String),
    DependencyFailed {
        object: ObjectId,
        /// The root cause of the chain.
        root: Box<WireError>,
    },
    DuplicateFunction {
        name: String,
        existing: String,
    },
    ObjectStoreFull {
        requested: u64,
        used: u64,
        capacity: u64,
    },
    Spill {
        dir: String,
        message: String,
    },
    GrantCoversCache {
        grant: String,
        cache: String,
    },
    Remote(String),
    Io {
        context: String,
        message: String,
    },
    PythonBuild {
        program: String,
        message: String,
    },
    JsBuild {
        program: String,
        message: String,
    },
    Internal(String),
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl From<&RayError> for WireError {
    fn from(err: &RayError) -> Self {
        match err {
            RayError::Application {
                function,
                message,
                type_name,
                value,
            } => WireError::Application {
                function: function.clone(),
                message: message.clone(),
                type_name: type_name.clone(),
                value: value
                    .as_deref()
                    .and_then(|value| WireValue::from_value(value, "an error value").ok()),
            },
            RayError::Trap {
                function,
                message,
                backtrace,
                ..
            } => WireError::Trap {
                function: function.clone(),
                message: message.clone(),
                backtrace: backtrace.clone(),
            },
            RayError::ActorDied {
                actor,
                class,
                reason,
            } => WireError::ActorDied {
                actor: *actor,
                class: class.clone(),
                reason: reason.clone(),
            },
            RayError::ActorNotFound(actor) => WireError::ActorNotFound(*actor),
            RayError::ActorClassNotFound(class) => WireError::ActorClassNotFound(class.clone()),
            RayError::ActorNameTaken { namespace, name } => WireError::ActorNameTaken {
                namespace: namespace.clone(),
                name: name.clone(),
            },
            RayError::PendingCallsLimitExceeded {
                actor,
                class,
                limit,
            } => WireError::PendingCallsLimitExceeded {
                actor: *actor,
                class: class.clone(),
                limit: *limit as u64,
            },
            RayError::FunctionNotFound(name) => WireError::FunctionNotFound(name.clone()),
            RayError::AmbiguousName { name, modules } => WireError::AmbiguousName {
                name: name.clone(),
                modules: modules.clone(),
            },
            RayError::BadArguments { function, message } => WireError::BadArguments {
                function: function.clone(),
                message: message.clone(),
            },
            RayError::InvalidOptions(message) => WireError::InvalidOptions(message.clone()),
            RayError::ReferencesCannotCross { what } => {
                WireError::ReferencesCannotCross(what.clone())
            }
            RayError::ActorHandleCannotCross { what, actor, class } => {
                WireError::ActorHandleCannotCross {
                    what: what.clone(),
                    actor: *actor,
                    class: class.clone(),
                }
            }
            RayError::NodeDied { node, function } => WireError::NodeDied {
                node: node.clone(),
                function: function.clone(),
            },
            RayError::InvalidModule {
                source_name,
                message,
            } => WireError::InvalidModule {
                source_name: source_name.clone(),
                message: message.clone(),
            },
            RayError::Timeout(after) => {
                WireError::TimeoutMs(u64::try_from(after.as_millis()).unwrap_or(u64::MAX))
            }
            RayError::Serialization(message) => WireError::Serialization(message.clone()),
            RayError::Cancelled => WireError::Cancelled,
            RayError::ShutDown => WireError::ShutDown,
            RayError::ObjectLost {
                object,
                node,
                reason,
            } => WireError::ObjectLost {
                object: object.clone(),
                node: node.clone(),
                reason: reason.clone(),
            },
            RayError::LimitExceeded {
                function,
                limit,
                value,
                detail,
            } => WireError::LimitExceeded {
                function: function.clone(),
                limit: limit.name().to_string(),
                value: *value,
                detail: detail.clone(),
            },
            RayError::GetTimeout(after) => {
                WireError::GetTimeoutMs(u64::try_from(after.as_millis()).unwrap_or(u64::MAX))
            }
            RayError::ObjectFreed(object) => WireError::ObjectFreed(*object),
            RayError::InvalidArgument(message) => WireError::InvalidArgument(message.clone()),
            RayError::DependencyFailed { object, cause } => {
                let root = cause.root_cause();
                WireError::DependencyFailed {
                    object: *object,
                    // The root is no `DependencyFailed`: this recurses once.
                    root: Box::new(if matches!(root, RayError::DependencyFailed { .. }) {
                        WireError::Other(root.to_string())
                    } else {
                        root.into()
                    }),
                }
            }
            RayError::DuplicateFunction { name, existing } => WireError::DuplicateFunction {
                name: name.clone(),
                existing: existing.clone(),
            },
            RayError::ObjectStoreFull {
                requested,
                used,
                capacity,
            } => WireError::ObjectStoreFull {
                requested: to_u64(*requested),
                used: to_u64(*used),
                capacity: to_u64(*capacity),
            },
            RayError::Spill { dir, message } => WireError::Spill {
                dir: dir.display().to_string(),
                message: message.clone(),
            },
            RayError::GrantCoversCache { grant, cache } => WireError::GrantCoversCache {
                grant: grant.display().to_string(),
                cache: cache.display().to_string(),
            },
            RayError::Remote(message) => WireError::Remote(message.clone()),
            RayError::Io { context, message } => WireError::Io {
                context: context.clone(),
                message: message.clone(),
            },
            RayError::PythonBuild { program, message } => WireError::PythonBuild {
                program: program.clone(),
                message: message.clone(),
            },
            RayError::JsBuild { program, message } => WireError::JsBuild {
                program: program.clone(),
                message: message.clone(),
            },
            RayError::Internal(message) => WireError::Internal(message.clone()),
        }
    }
}

impl From<WireError> for RayError {
    fn from(err: WireError) -> Self {
        match err {
            WireError::Application {
                function,
                message,
                type_name,
                value,
            } => RayError::Application {
                function,
                message,
                type_name,
                value: value.map(|value| Box::new(value.into_value())),
            },
            WireError::Trap {
                function,
                message,
                backtrace,
            } => RayError::Trap {
                function,
                message,
                backtrace,
                context: TrapContext::default(),
            },
            WireError::ActorDied {
                actor,
                class,
                reason,
            } => RayError::ActorDied {
                actor,
                class,
                reason,
            },
            WireError::ActorNotFound(actor) => RayError::ActorNotFound(actor),
            WireError::ActorClassNotFound(class) => RayError::ActorClassNotFound(class),
            WireError::ActorNameTaken { namespace, name } => {
                RayError::ActorNameTaken { namespace, name }
            }
            WireError::PendingCallsLimitExceeded {
                actor,
                class,
                limit,
            } => RayError::PendingCallsLimitExceeded {
                actor,
                class,
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
            },
            WireError::FunctionNotFound(name) => RayError::FunctionNotFound(name),
            WireError::AmbiguousName { name, modules } => RayError::AmbiguousName { name, modules },
            WireError::BadArguments { function, message } => {
                RayError::BadArguments { function, message }
            }
            WireError::InvalidOptions(message) => RayError::InvalidOptions(message),
            WireError::ReferencesCannotCross(what) => RayError::ReferencesCannotCross { what },
            WireError::ActorHandleCannotCross { what, actor, class } => {
                RayError::ActorHandleCannotCross { what, actor, class }
            }
            WireError::NodeDied { node, function } => RayError::NodeDied { node, function },
            WireError::InvalidModule {
                source_name,
                message,
            } => RayError::InvalidModule {
                source_name,
                message,
            },
            WireError::TimeoutMs(ms) => RayError::Timeout(std::time::Duration::from_millis(ms)),
            WireError::Serialization(message) => RayError::Serialization(message),
            WireError::Cancelled => RayError::Cancelled,
            WireError::ShutDown => RayError::ShutDown,
            WireError::ObjectLost {
                object,
                node,
                reason,
            } => RayError::ObjectLost {
                object,
                node,
                reason,
            },
            WireError::Other(message) | WireError::Remote(message) => RayError::Remote(message),
            WireError::LimitExceeded {
                function,
                limit,
                value,
                detail,
            } => match Limit::from_name(&limit) {
                Some(limit) => RayError::LimitExceeded {
                    function,
                    limit,
                    value,
                    detail,
                },
                // A limit this side does not know (a newer peer's): its message.
                None => RayError::Remote(format!(
                    "task {function} exceeded its {limit} limit of {value}{}",
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({detail})")
                    }
                )),
            },
            WireError::GetTimeoutMs(ms) => {
                RayError::GetTimeout(std::time::Duration::from_millis(ms))
            }
            WireError::ObjectFreed(object) => RayError::ObjectFreed(object),
            WireError::InvalidArgument(message) => RayError::InvalidArgument(message),
            WireError::DependencyFailed { object, root } => RayError::DependencyFailed {
                object,
                cause: Cause::new((*root).into()),
            },
            WireError::DuplicateFunction { name, existing } => {
                RayError::DuplicateFunction { name, existing }
            }
            WireError::ObjectStoreFull {
                requested,
                used,
                capacity,
            } => RayError::ObjectStoreFull {
                requested: to_usize(requested),
                used: to_usize(used),
                capacity: to_usize(capacity),
            },
            WireError::Spill { dir, message } => RayError::Spill {
                dir: dir.into(),
                message,
            },
            WireError::GrantCoversCache { grant, cache } => RayError::GrantCoversCache {
                grant: grant.into(),
                cache: cache.into(),
            },
            WireError::Io { context, message } => RayError::Io { context, message },
            WireError::PythonBuild { program, message } => {
                RayError::PythonBuild { program, message }
            }
            WireError::JsBuild { program, message } => RayError::JsBuild { program, message },
            WireError::Internal(message) => RayError::Internal(message),
        }
    }
}

/// Writes one frame holding `message`.
pub async fn write_frame<T: Serialize>(
    stream: &mut (impl AsyncWrite + Unpin),
    message: &T,
) -> std::io::Result<()> {
    let body = rmp_serde::to_vec_named(message)
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, err))?;
    let len = u32::try_from(body.len())
        .ok()
        .filter(|len| (*len as usize) <= MAX_FRAME)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "a message of {} bytes is over the frame limit of {MAX_FRAME}",
                    body.len()
                ),
            )
        })?;
    stream.write_all(&len.to_be_bytes()).await?;
    stream.write_all(&body).await?;
    stream.flush().await
}

/// Reads one frame; `Ok(None)` at a clean end of the stream.
pub async fn read_frame<T: serde::de::DeserializeOwned>(
    stream: &mut (impl AsyncRead + Unpin),
) -> std::io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len).await {
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes is over the limit of {MAX_FRAME}"),
        ));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    rmp_serde::from_slice(&body)
        .map(Some)
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_oversized_ones_are_refused_unread() {
        let request = Request::Call {
            actor: ActorId(crate::id::Id::random(0)),
            method: "increment".into(),
            args: vec![WireValue {
                raw: true,
                data: Bytes::from_static(b"\x00\x01"),
                held: None,
                refs: Vec::new(),
            }],
            want_result: true,
            caller_node: None,
        };
        let mut buffer = Vec::new();
        write_frame(&mut buffer, &request).await.expect("writing");
        let read: Option<Request> = read_frame(&mut buffer.as_slice()).await.expect("reading");
        assert_eq!(read, Some(request));
        // A clean end is no request; a length past the limit is refused before any read.
        let none: Option<Request> = read_frame(&mut &[][..]).await.expect("end");
        assert_eq!(none, None);
        let huge = u32::MAX.to_be_bytes();
        let err = read_frame::<Request>(&mut &huge[..]).await.unwrap_err();
        assert!(err.to_string().contains("over the limit"), "{err}");
        // Garbage of a fitting length does not decode.
        let garbage = [0, 0, 0, 3, 0xc1, 0xc1, 0xc1];
        assert!(read_frame::<Request>(&mut &garbage[..]).await.is_err());
    }

    #[test]
    fn errors_keep_their_kind_across() {
        let died = RayError::ActorDied {
            actor: ActorId(crate::id::Id::random(0)),
            class: "Tally".into(),
            reason: "it was killed".into(),
        };
        let back: RayError = WireError::from(&died).into();
        assert_eq!(back.to_string(), died.to_string());
        // Every kind comes back as itself, with the same message (a trap's local
        // context stays behind; a dependency's chain becomes its root).
        let object = crate::object_store::ObjectId(crate::id::Id::random(0));
        let every = [
            RayError::LimitExceeded {
                function: "hog".into(),
                limit: Limit::Memory,
                value: 64 << 20,
                detail: "the node's --job-memory".into(),
            },
            RayError::InvalidOptions("o".into()),
            RayError::GrantCoversCache {
                grant: "/a".into(),
                cache: "/a/c".into(),
            },
            RayError::Cancelled,
            RayError::Timeout(std::time::Duration::from_millis(1500)),
            RayError::GetTimeout(std::time::Duration::from_millis(250)),
            RayError::ObjectFreed(object),
            RayError::InvalidArgument("a".into()),
            RayError::DependencyFailed {
                object,
                cause: Cause::new(RayError::DependencyFailed {
                    object,
                    cause: Cause::new(RayError::Timeout(std::time::Duration::from_secs(1))),
                }),
            },
            RayError::FunctionNotFound("f".into()),
            RayError::AmbiguousName {
                name: "n".into(),
                modules: vec!["a".into(), "b".into()],
            },
            RayError::DuplicateFunction {
                name: "n".into(),
                existing: "m".into(),
            },
            RayError::BadArguments {
                function: "f".into(),
                message: "m".into(),
            },
            RayError::InvalidModule {
                source_name: "s".into(),
                message: "m".into(),
            },
            RayError::ObjectStoreFull {
                requested: 3,
                used: 2,
                capacity: 4,
            },
            RayError::Spill {
                dir: "/s".into(),
                message: "m".into(),
            },
            RayError::ActorClassNotFound("C".into()),
            RayError::ActorNameTaken {
                namespace: "ns".into(),
                name: "n".into(),
            },
            RayError::ActorNotFound(ActorId(crate::id::Id::random(0))),
            RayError::ReferencesCannotCross { what: "w".into() },
            RayError::NodeDied {
                node: "n".into(),
                function: "f".into(),
            },
            RayError::Remote("r".into()),
            RayError::Serialization("s".into()),
            RayError::ShutDown,
            RayError::Io {
                context: "c".into(),
                message: "m".into(),
            },
            RayError::PythonBuild {
                program: "p".into(),
                message: "m".into(),
            },
            RayError::JsBuild {
                program: "p".into(),
                message: "m".into(),
            },
            RayError::Internal("i".into()),
            RayError::ObjectLost {
                object: "o".into(),
                node: "n".into(),
                reason: "r".into(),
            },
        ];
        for err in every {
            let wire = WireError::from(&err);
            let bytes = rmp_serde::to_vec_named(&wire).expect("encoding");
            let decoded: WireError = rmp_serde::from_slice(&bytes).expect("decoding");
            let back: RayError = decoded.into();
            assert_eq!(back.kind(), err.kind(), "{err}");
            if let RayError::DependencyFailed { .. } = &err {
                assert_eq!(back.root_cause().kind(), "Timeout");
            } else {
                assert_eq!(back.to_string(), err.to_string());
            }
        }
        // A limit this side does not know keeps its words.
        let newer: RayError = WireError::LimitExceeded {
            function: "f".into(),
            limit: "warp drives".into(),
            value: 3,
            detail: String::new(),
        }
        .into();
        assert!(
            newer.to_string().contains("warp drives limit of 3"),
            "{newer}"
        );
        for limit in Limit::ALL {
            assert_eq!(Limit::from_name(limit.name()), Some(limit));
        }
    }
}
