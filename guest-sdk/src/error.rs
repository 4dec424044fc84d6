//! The SDK's errors: [`RayError`], what a guest sees when an object holds no value, and
//! [`InvokeError`], what the exported `invoke` reports back to the host.
//!
//! `RayError` mirrors the WIT `task-error` one to one (plus the two ways a value can fail
//! to cross MessagePack in the guest), so an error raised anywhere in the runtime reaches the
//! user with its kind intact, and `match`ing on it works the same in every guest.

use std::fmt;
use std::ops::Deref;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::codec::{Encoded, Encoding};

/// Why a rustyray operation produced no value.
///
/// Each variant but [`Decode`](Self::Decode) and [`Encode`](Self::Encode) corresponds to a
/// case of the WIT `task-error`; those two happen inside the guest when a value does not
/// fit the expected type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RayError {
    /// The task's function returned `Err`: its message, its type's name and, for a
    /// `Serialize` error type, its value, so the caller can
    /// [`downcast`](Self::downcast) it back to the error the function returned (Ray
    /// re-raises the user's exception class). Reads as its message (`Deref<Target = str>`).
    #[error("{0}")]
    Application(ApplicationError),
    /// The task trapped or panicked.
    #[error("{}", TrapDisplay { message, backtrace })]
    Trap {
        /// The trap code or the panic message.
        message: String,
        /// A symbolized wasm backtrace, one frame per line, innermost first; may be empty.
        backtrace: String,
    },
    /// The task was cancelled before it produced a value.
    #[error("task was cancelled")]
    Cancelled,
    /// The task ran past its deadline.
    #[error("task timed out after {ms} ms")]
    Timeout {
        /// The deadline that passed, in milliseconds.
        ms: u64,
    },
    /// A task this one depended on (an `ObjectRef` argument) failed.
    #[error("{0}")]
    DependencyFailed(String),
    /// The actor is gone: it trapped with no restarts left, was killed or stopped.
    #[error("{0}")]
    ActorDied(String),
    /// No loaded component (or native registration) exports that function.
    #[error("function not found: {0}")]
    FunctionNotFound(String),
    /// The arguments did not decode as the function's parameters.
    #[error("bad arguments: {0}")]
    BadArguments(String),
    /// The component could not be loaded or instantiated.
    #[error("invalid module: {0}")]
    InvalidModule(String),
    /// The runtime refused the work or is unavailable (shutting down, store full, or a
    /// native build with no runtime at all).
    #[error("runtime error: {0}")]
    Runtime(String),
    /// The task ran into one of its limits (memory, fuel, result size, output, live
    /// instances, ...).
    #[error("{message}")]
    LimitExceeded {
        /// The limit's name, e.g. `memory` or `live instances`.
        limit: String,
        /// Its value: bytes, units of fuel, or a count.
        value: u64,
        /// The error as the host rendered it.
        message: String,
    },
    /// A `get` with a timeout ([`ObjectRef::get_timeout`](crate::ObjectRef::get_timeout))
    /// gave up waiting; the task goes on running (Ray's `GetTimeoutError`).
    #[error("get timed out after {ms} ms; the object is not ready yet")]
    GetTimeout {
        /// The timeout that passed, in milliseconds.
        ms: u64,
    },
    /// The object was freed ([`free`](crate::free)) and can no longer be read (Ray's
    /// `ObjectFreedError`).
    #[error("object {0} was freed and can no longer be read")]
    ObjectFreed(crate::Id),
    /// A call was given arguments it cannot work with, e.g. duplicate references or a
    /// `num_returns` out of range for [`wait`](crate::wait) (Ray's `ValueError`).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An object's bytes did not decode as the type its `ObjectRef<T>` promised.
    #[error("object did not decode as the expected type: {0}")]
    Decode(String),
    /// A value did not encode (MessagePack) (a `Serialize` impl failed).
    #[error("value did not encode: {0}")]
    Encode(String),
    /// An object kept on another node of a cluster could not be read there (that node
    /// died, or no longer holds it) nor made again from its lineage within its task's
    /// `max_retries` (Ray's `ObjectLostError`).
    #[error("{object} was lost: it was held on node {node}, {reason}")]
    ObjectLost {
        /// The object, rendered as the host renders ids.
        object: String,
        /// The node that held it.
        node: String,
        /// Why it could not be read or made again.
        reason: String,
    },
}

/// The type name a returned [`RayError`] travels under (see [`RayError::Application`]):
/// the caller's `get` gives back that error itself, with its kind.
pub const RAY_ERROR_TYPE: &str = "rustyray::RayError";

impl RayError {
    /// An application error with only a message (what a function's `Err` of a type
    /// unknown here would be).
    pub fn application(message: impl Into<String>) -> Self {
        RayError::Application(ApplicationError::new(message))
    }

    /// The error a task returned as its `Err`, as the type `E` it was, if this is that
    /// task's application error and `E` is its type (matched by type name, decoded from
    /// its value; `E` must be `Deserialize`, and was `Serialize` where it was returned).
    ///
    /// ```no_run
    /// # extern crate rustyray_sdk as rustyray;
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Debug, Serialize, Deserialize)]
    /// enum BankError { Overdrawn { by: u64 } }
    /// # impl std::fmt::Display for BankError {
    /// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") }
    /// # }
    /// # fn demo(r: rustyray::ObjectRef<u64>) {
    /// match r.get() {
    ///     Ok(balance) => println!("{balance}"),
    ///     Err(err) => match err.downcast::<BankError>() {
    ///         Some(BankError::Overdrawn { by }) => println!("short by {by}"),
    ///         None => println!("{err}"),
    ///     },
    /// }
    /// # }
    /// ```
    pub fn downcast<E: DeserializeOwned>(&self) -> Option<E> {
        match self {
            RayError::Application(error) => error.downcast(),
            _ => None,
        }
    }
}

/// What a function's `Err` becomes: its message (`Display`), its type's name
/// (`std::any::type_name`) and, when its type is `Serialize`, its encoded value.
///
/// It reads as its message: it derefs to `str` and compares equal to one, so
/// `RayError::Application(message) if message.contains("boom")` works as with a `String`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationError {
    message: String,
    type_name: Option<String>,
    value: Option<ErrorValue>,
}

/// An application error's encoded value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ErrorValue {
    raw: bool,
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

impl ApplicationError {
    /// An error with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        ApplicationError {
            message: message.into(),
            type_name: None,
            value: None,
        }
    }

    pub(crate) fn typed(message: String, type_name: &str, value: Option<Encoded>) -> Self {
        ApplicationError {
            message,
            type_name: Some(type_name.to_owned()),
            value: value.map(|value| ErrorValue {
                raw: value.encoding == Encoding::Raw,
                data: value.data,
            }),
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code, reason = "wasm only"))]
    pub(crate) fn from_parts(
        message: String,
        type_name: Option<String>,
        value: Option<Encoded>,
    ) -> Self {
        ApplicationError {
            message,
            type_name,
            value: value.map(|value| ErrorValue {
                raw: value.encoding == Encoding::Raw,
                data: value.data,
            }),
        }
    }

    /// The error's message (its `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The name of the error's type (`my_crate::MyError`; a Python exception's class
    /// name), when known.
    pub fn type_name(&self) -> Option<&str> {
        self.type_name.as_deref()
    }

    /// Whether the error's type is `E` (by type name).
    pub fn is<E>(&self) -> bool {
        self.type_name.as_deref() == Some(std::any::type_name::<E>())
    }

    /// The error as the `E` it was returned as: `None` if its type is not `E` or it
    /// carries no value (its type was not `Serialize`).
    pub fn downcast<E: DeserializeOwned>(&self) -> Option<E> {
        if !self.is::<E>() {
            return None;
        }
        crate::codec::decode_encoded(self.encoded()?).ok()
    }

    /// The encoded value, if any.
    pub(crate) fn encoded(&self) -> Option<Encoded> {
        self.value.as_ref().map(|value| Encoded {
            encoding: if value.raw {
                Encoding::Raw
            } else {
                Encoding::Msgpack
            },
            data: value.data.clone(),
        })
    }

    /// A returned [`RayError`] that travelled as this error, as it was.
    #[cfg_attr(
        not(target_arch = "wasm32"),
        allow(dead_code, reason = "wasm, and tests")
    )]
    pub(crate) fn as_ray_error(&self) -> Option<RayError> {
        if self.type_name.as_deref() != Some(RAY_ERROR_TYPE) {
            return None;
        }
        crate::codec::decode_encoded(self.encoded()?).ok()
    }

    /// The parts, for the WIT record.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code, reason = "wasm only"))]
    pub(crate) fn into_parts(self) -> (String, Option<String>, Option<Encoded>) {
        let value = self.value.map(|value| Encoded {
            encoding: if value.raw {
                Encoding::Raw
            } else {
                Encoding::Msgpack
            },
            data: value.data,
        });
        (self.message, self.type_name, value)
    }
}

impl fmt::Debug for ApplicationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.type_name {
            // Debug reads like the `String` it used to be, plus the type.
            Some(name) => write!(f, "{:?} ({name})", self.message),
            None => write!(f, "{:?}", self.message),
        }
    }
}

impl fmt::Display for ApplicationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Deref for ApplicationError {
    type Target = str;

    fn deref(&self) -> &str {
        &self.message
    }
}

impl From<String> for ApplicationError {
    fn from(message: String) -> Self {
        ApplicationError::new(message)
    }
}

impl From<&str> for ApplicationError {
    fn from(message: &str) -> Self {
        ApplicationError::new(message)
    }
}

impl PartialEq<str> for ApplicationError {
    fn eq(&self, other: &str) -> bool {
        self.message == other
    }
}

impl PartialEq<&str> for ApplicationError {
    fn eq(&self, other: &&str) -> bool {
        self.message == *other
    }
}

impl PartialEq<String> for ApplicationError {
    fn eq(&self, other: &String) -> bool {
        &self.message == other
    }
}

/// `task trapped: message`, then the backtrace (if any) on the following lines.
struct TrapDisplay<'a> {
    message: &'a str,
    backtrace: &'a str,
}

impl fmt::Display for TrapDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task trapped: {}", self.message)?;
        if !self.backtrace.is_empty() {
            write!(f, "\nwasm backtrace:\n{}", self.backtrace)?;
        }
        Ok(())
    }
}

/// Why the exported `invoke` produced no value; mirrors the WIT `invoke-error`.
///
/// Traps are not reported here: a panicking function traps the instance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The function returned `Err`: its message, type and value.
    #[error("{0}")]
    Application(ApplicationError),
    /// An argument did not decode, or the count was wrong.
    #[error("{0}")]
    BadArguments(String),
    /// The component does not export that function.
    #[error("no function `{0}` in this component")]
    FunctionNotFound(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_shows_its_backtrace() {
        let error = RayError::Trap {
            message: "panicked at src/lib.rs:3:5:\nboom".into(),
            backtrace: "0: guest::f\n1: guest::g".into(),
        };
        assert_eq!(
            error.to_string(),
            "task trapped: panicked at src/lib.rs:3:5:\nboom\nwasm backtrace:\n0: guest::f\n1: guest::g"
        );
        let bare = RayError::Trap {
            message: "unreachable".into(),
            backtrace: String::new(),
        };
        assert_eq!(bare.to_string(), "task trapped: unreachable");
    }
}
