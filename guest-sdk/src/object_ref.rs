//! [`ObjectRef<T>`], a typed reference to an object in the host's store; [`Arg<T>`], what a
//! `name::remote(..)` parameter accepts; and [`LoweredArg`], an argument already encoded,
//! which untyped actor calls take a list of.
//!
//! An `ObjectRef` owns the WIT `object-ref` resource: cloning it asks the host for one more
//! reference (`clone-ref`), dropping it releases one. Submitting can fail before any object
//! exists; rather than make every `remote(..)` call return a `Result`, the `ObjectRef` then
//! holds the error, and [`ObjectRef::get`] returns it (Ray's `.remote()` cannot fail either).
//! Passing such a reference to another task fails that submission with
//! [`RayError::DependencyFailed`], as the host would for a failed upstream task.

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{self, Encoded, Encoding};
use crate::error::RayError;
use crate::sys::{self, Handle};

/// A reference to a value of type `T` held by the rustyray runtime: the result of a task,
/// or a value [`put`](crate::put) there.
///
/// Get the value with [`get`](Self::get), as many times as needed; pass the reference
/// (owned or borrowed) to other tasks' `remote(..)` and the host resolves it to the value
/// before they run, without copying it through this guest.
#[must_use = "dropping an ObjectRef releases the object; call .get() to wait for its value"]
pub struct ObjectRef<T> {
    state: State,
    // `fn() -> T`: the reference does not own a `T`, so `T`'s auto traits do not matter.
    value: PhantomData<fn() -> T>,
}

/// A live reference, or the error that prevented one.
pub enum State {
    Live(Handle),
    Failed(RayError),
}

impl<T> ObjectRef<T> {
    pub(crate) fn from_handle(handle: Handle) -> Self {
        Self::from_state(State::Live(handle))
    }

    pub(crate) fn failed(error: RayError) -> Self {
        Self::from_state(State::Failed(error))
    }

    pub(crate) fn from_result(result: Result<Handle, RayError>) -> Self {
        match result {
            Ok(handle) => Self::from_handle(handle),
            Err(error) => Self::failed(error),
        }
    }

    fn from_state(state: State) -> Self {
        Self {
            state,
            value: PhantomData,
        }
    }

    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    /// The object's id, stable for its lifetime: for logs and equality. A reference that
    /// holds a submission error has [`Id::NONE`](crate::Id::NONE).
    pub fn id(&self) -> crate::Id {
        match &self.state {
            State::Live(handle) => sys::id(handle),
            State::Failed(_) => crate::Id::NONE,
        }
    }

    /// The value, waiting until the task that produces it has finished. Waiting suspends
    /// only this guest. May be called any number of times.
    ///
    /// # Errors
    ///
    /// The task's error ([`RayError::Application`], [`RayError::Trap`], …), the error that
    /// prevented the submission, or [`RayError::Decode`] if the bytes are not a `T`.
    pub fn get(&self) -> Result<T, RayError>
    where
        T: DeserializeOwned,
    {
        match &self.state {
            State::Live(handle) => codec::decode_object(sys::get(handle)?),
            State::Failed(error) => Err(error.clone()),
        }
    }

    fn handle(&self) -> Result<&Handle, RayError> {
        match &self.state {
            State::Live(handle) => Ok(handle),
            State::Failed(error) => Err(error.clone()),
        }
    }

    /// The size in bytes of the object as stored: the bytes of a byte buffer (see
    /// [`is_raw`](Self::is_raw)), else of its MessagePack encoding. Waits until it is ready;
    /// nothing is copied.
    ///
    /// # Errors
    ///
    /// The task's error, as [`get`](Self::get).
    pub fn len(&self) -> Result<u64, RayError> {
        Ok(sys::size(self.handle()?)?.1)
    }

    /// Whether the object is empty ([`len`](Self::len) is 0).
    ///
    /// # Errors
    ///
    /// As [`len`](Self::len).
    pub fn is_empty(&self) -> Result<bool, RayError> {
        Ok(self.len()? == 0)
    }

    /// Whether the object is a byte buffer stored raw (a `Vec<u8>`, `bytes::Bytes`,
    /// `serde_bytes` value): then [`read`](Self::read) and [`bytes`](Self::bytes) give
    /// those bytes themselves. Otherwise they give the MessagePack encoding.
    ///
    /// # Errors
    ///
    /// As [`len`](Self::len).
    pub fn is_raw(&self) -> Result<bool, RayError> {
        Ok(sys::size(self.handle()?)?.0 == Encoding::Raw)
    }

    /// The bytes of `range` of the object, copied into this guest's memory: only those.
    /// The range is cut at the object's end (`read(..)` reads it all); a start past
    /// the end is refused with [`RayError::BadArguments`]. Waits until it is ready.
    ///
    /// ```no_run
    /// # extern crate rustyray_sdk as rustyray;
    /// # fn demo(data: rustyray::ObjectRef<Vec<u8>>) -> Result<(), rustyray::RayError> {
    /// let chunk = data.read(2 << 20..4 << 20)?;   // 2 MiB of a large object
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`len`](Self::len), and [`RayError::BadArguments`] for a start past the end.
    pub fn read(&self, range: impl std::ops::RangeBounds<u64>) -> Result<Vec<u8>, RayError> {
        use std::ops::Bound;
        let start = match range.start_bound() {
            Bound::Included(&n) => n,
            Bound::Excluded(&n) => n.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let len = match range.end_bound() {
            Bound::Included(&n) => n.saturating_add(1).saturating_sub(start),
            Bound::Excluded(&n) => n.saturating_sub(start),
            Bound::Unbounded => u64::MAX,
        };
        sys::read(self.handle()?, start, len)
    }

    /// The object's stored bytes, copied once into this guest's memory (for a byte
    /// buffer, the bytes themselves; see [`is_raw`](Self::is_raw)).
    ///
    /// # Errors
    ///
    /// As [`len`](Self::len).
    pub fn bytes(&self) -> Result<Vec<u8>, RayError> {
        Ok(sys::get(self.handle()?)?.data)
    }
}

impl<T> ObjectRef<T> {
    /// [`get`](Self::get), giving up after `timeout` with [`RayError::GetTimeout`]; the
    /// task goes on running and a later `get` can still have its value (Ray's
    /// `ray.get(ref, timeout=..)`).
    ///
    /// # Errors
    ///
    /// [`RayError::GetTimeout`], or what [`get`](Self::get) returns.
    pub fn get_timeout(&self, timeout: std::time::Duration) -> Result<T, RayError>
    where
        T: DeserializeOwned,
    {
        if let State::Live(handle) = &self.state {
            let ms = crate::options::whole_millis(timeout);
            if sys::wait(&[handle], 1, Some(ms)).is_empty() {
                return Err(RayError::GetTimeout { ms });
            }
        }
        self.get()
    }
}

impl<T> Clone for ObjectRef<T> {
    /// One more reference to the same object (the host counts it).
    fn clone(&self) -> Self {
        Self::from_state(match &self.state {
            State::Live(handle) => State::Live(sys::clone_handle(handle)),
            State::Failed(error) => State::Failed(error.clone()),
        })
    }
}

impl<T> fmt::Debug for ObjectRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            State::Live(handle) => write!(f, "ObjectRef({})", sys::id(handle)),
            State::Failed(error) => write!(f, "ObjectRef(failed: {error})"),
        }
    }
}

/// Any `ObjectRef`, whatever its value type: what [`wait`](crate::wait) takes, so
/// references to different types can be waited on together
/// (`wait(&[&a as &dyn AnyObjectRef, &b], ..)`). Implemented for `ObjectRef<T>` and
/// references to implementors; not implementable outside the SDK.
pub trait AnyObjectRef: sealed::Sealed {}

impl<T> AnyObjectRef for ObjectRef<T> {}
impl<R: AnyObjectRef + ?Sized> AnyObjectRef for &R {}

pub(crate) mod sealed {
    use super::{ObjectRef, State};

    pub trait Sealed {
        fn object_state(&self) -> &State;
    }

    impl<T> Sealed for ObjectRef<T> {
        fn object_state(&self) -> &State {
            self.state()
        }
    }

    impl<R: super::AnyObjectRef + ?Sized> Sealed for &R {
        fn object_state(&self) -> &State {
            (**self).object_state()
        }
    }
}

/// One argument of a `name::remote(..)` call: a value, or a reference to a value held by
/// the runtime (which the host resolves before the task runs).
///
/// You rarely name this type: `remote` parameters are `impl IntoArg<'a, T>`, which `T`,
/// `ObjectRef<T>` and `&ObjectRef<T>` all are.
pub struct Arg<'a, T> {
    kind: ArgKind<'a, T>,
}

enum ArgKind<'a, T> {
    Value(T),
    Owned(ObjectRef<T>),
    Borrowed(&'a ObjectRef<T>),
}

impl<T> From<T> for Arg<'_, T> {
    fn from(value: T) -> Self {
        Self {
            kind: ArgKind::Value(value),
        }
    }
}

impl<T> From<ObjectRef<T>> for Arg<'_, T> {
    fn from(object: ObjectRef<T>) -> Self {
        Self {
            kind: ArgKind::Owned(object),
        }
    }
}

impl<'a, T> From<&'a ObjectRef<T>> for Arg<'a, T> {
    fn from(object: &'a ObjectRef<T>) -> Self {
        Self {
            kind: ArgKind::Borrowed(object),
        }
    }
}

/// What a `name::remote(..)` parameter of type `T` accepts: anything that can stand for a
/// `T`, so a call reads like a plain function call.
///
/// - a `T`, or a `&T` (encoded at once, not cloned);
/// - an [`ObjectRef<T>`] or a `&ObjectRef<T>`: the host resolves it to the value before the
///   task runs (Ray's top-level reference arguments);
/// - for a `String` parameter, a `&str`; for a `Vec<E>` parameter, a `&[E]`, a `[E; N]`
///   or a `&[E; N]` (they encode exactly as the `String` or `Vec` would).
///
/// Rust cannot infer the target of a bare `.into()` or `.collect()` through a generic
/// parameter; pass the `&str` itself, or name the type (`collect::<Vec<_>>()`).
pub trait IntoArg<'a, T> {
    /// The argument, encoded (or the reference, kept).
    fn into_arg(self) -> LoweredArg<'a>;
}

impl<'a, T: Serialize> IntoArg<'a, T> for T {
    fn into_arg(self) -> LoweredArg<'a> {
        LoweredArg(Lowered::Value(codec::encode(&self)))
    }
}

impl<'a, T: Serialize> IntoArg<'a, T> for &T {
    fn into_arg(self) -> LoweredArg<'a> {
        LoweredArg(Lowered::Value(codec::encode(self)))
    }
}

impl<'a, T> IntoArg<'a, T> for ObjectRef<T> {
    fn into_arg(self) -> LoweredArg<'a> {
        LoweredArg(Lowered::Owned(self.state, false))
    }
}

impl<'a, T> IntoArg<'a, ObjectRef<T>> for ObjectRef<T> {
    fn into_arg(self) -> LoweredArg<'a> {
        LoweredArg(Lowered::Owned(self.state, true))
    }
}

impl<'a, T> IntoArg<'a, ObjectRef<T>> for &'a ObjectRef<T> {
    fn into_arg(self) -> LoweredArg<'a> {
        LoweredArg(Lowered::Borrowed(&self.state, true))
    }
}

impl<'a, T> IntoArg<'a, T> for &'a ObjectRef<T> {
    fn into_arg(self) -> LoweredArg<'a> {
        LoweredArg(Lowered::Borrowed(&self.state, false))
    }
}

impl<'a, T: Serialize> IntoArg<'a, T> for Arg<'a, T> {
    fn into_arg(self) -> LoweredArg<'a> {
        lower(self)
    }
}

impl<'a> IntoArg<'a, String> for &str {
    fn into_arg(self) -> LoweredArg<'a> {
        LoweredArg(Lowered::Value(codec::encode(self)))
    }
}

impl<'a, E: Serialize> IntoArg<'a, Vec<E>> for &[E] {
    fn into_arg(self) -> LoweredArg<'a> {
        LoweredArg(Lowered::Value(codec::encode(self)))
    }
}

impl<'a, E: Serialize, const N: usize> IntoArg<'a, Vec<E>> for [E; N] {
    fn into_arg(self) -> LoweredArg<'a> {
        LoweredArg(Lowered::Value(codec::encode(self.as_slice())))
    }
}

impl<'a, E: Serialize, const N: usize> IntoArg<'a, Vec<E>> for &[E; N] {
    fn into_arg(self) -> LoweredArg<'a> {
        LoweredArg(Lowered::Value(codec::encode(self.as_slice())))
    }
}

/// An argument with its value encoded: untyped, so arguments of different types fit in one
/// `Vec`. Made by [`arg`] and [`arg_ref`]; taken by [`ActorHandle::call`](crate::ActorHandle::call) and
/// friends.
pub struct LoweredArg<'a>(pub(crate) Lowered<'a>);

pub(crate) enum Lowered<'a> {
    /// The encoded value, or why it did not encode.
    Value(Result<Encoded, String>),
    /// A reference the submission consumes (and releases once submitted); `true`: passed
    /// as the reference itself (an `ObjectRef<T>` parameter), else resolved to its value.
    Owned(State, bool),
    /// A reference the caller keeps; the flag as for `Owned`.
    Borrowed(&'a State, bool),
}

/// A value as one argument of an untyped call ([`ActorHandle::call`](crate::ActorHandle::call)
/// and friends); for an `ObjectRef`, see [`arg_ref`].
///
/// ```no_run
/// # extern crate rustyray_sdk as rustyray;
/// # fn demo(counter: &rustyray::ActorHandle) -> Result<(), rustyray::RayError> {
/// let five = rustyray::put(&5i32)?;
/// let sum = counter.call::<i32>("add", vec![rustyray::arg_ref(&five)]);
/// counter.tell("add", vec![rustyray::arg(1i32)])?;
/// # Ok(()) }
/// ```
pub fn arg<'a, T: Serialize + 'a>(value: T) -> LoweredArg<'a> {
    lower::<T>(Arg::from(value))
}

/// A reference as one argument of an untyped call: the host resolves it to the object's value
/// before the call runs, as for a task.
pub fn arg_ref<T>(object: &ObjectRef<T>) -> LoweredArg<'_> {
    LoweredArg(Lowered::Borrowed(&object.state, false))
}

/// A reference as one argument of an untyped call, passed as the reference itself: for a
/// parameter of type `ObjectRef<T>` (the callee reads what it needs; nothing waits).
pub fn arg_object<T>(object: &ObjectRef<T>) -> LoweredArg<'_> {
    LoweredArg(Lowered::Borrowed(&object.state, true))
}

/// Encodes an argument's value; generated `remote` functions call this once per parameter.
pub fn lower<T: Serialize>(arg: Arg<'_, T>) -> LoweredArg<'_> {
    LoweredArg(match arg.kind {
        ArgKind::Value(value) => Lowered::Value(codec::encode(&value)),
        ArgKind::Owned(object) => Lowered::Owned(object.state, false),
        ArgKind::Borrowed(object) => Lowered::Borrowed(&object.state, false),
    })
}
