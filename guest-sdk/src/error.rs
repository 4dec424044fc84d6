//! The SDK's errors: [`RayError`], what a guest sees when an object holds no value, and
//! [`InvokeError`], what the exported `invoke` reports back to the host.
//!
//! `RayError` mirrors the WIT `task-error` one to one (plus the two ways a value can fail
//! to cross MessagePack in the guest), so an error raised anywhere in the runtime reaches the
//! user with its kind intact, and `match`ing on it works the same in every guest.

use std::fmt;

/// Why a rustyray operation produced no value.
///
/// Each variant but [`Decode`](Self::Decode) and [`Encode`](Self::Encode) corresponds to a
/// case of the WIT `task-error`; those two happen inside the guest when a value does not
/// fit the expected type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RayError {
    /// The task's function returned `Err`; its message.
    #[error("{0}")]
    Application(String),
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
    /// The function returned `Err`; its message.
    #[error("{0}")]
    Application(String),
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
