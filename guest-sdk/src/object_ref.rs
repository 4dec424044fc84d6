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

    /// The same reference seen as a reference to a `U` (for references made by untyped
    /// calls, like [`ActorHandle::call_returns`](crate::ActorHandle::call_returns)).
    pub fn cast<U>(self) -> ObjectRef<U> {
        ObjectRef {
            state: self.state,
            value: PhantomData,
        }
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

    /// [`get`](Self::get) to `.await` in an `async fn` method taking `&self` of an actor
    /// created with [`max_concurrency`](crate::ActorOptions::max_concurrency) > 1 (Ray's
    /// `await ref` in an async actor): while it waits, the actor's other calls run. Anywhere
    /// else it is `get`, blocking as `get` does.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get); [`RayError::Cancelled`] when this call was cancelled while
    /// it waited (once, as `get` answers a cancelled actor call).
    pub async fn get_async(&self) -> Result<T, RayError>
    where
        T: DeserializeOwned,
    {
        match &self.state {
            State::Live(handle) => codec::decode_object(sys::get_async(handle).await?),
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
        sys::read(self.handle()?, 0, u64::MAX)
    }
}

/// The MessagePack extension type of an object reference inside a value (ASCII `R`);
/// its 24 bytes are the object's id: node, hi, lo, big-endian.
const OBJECT_REF_EXT: i8 = 82;

/// An `ObjectRef` inside a value — a field, a `Vec` or map of them, a task's or
/// method's return value, an actor's argument — travels as the reference, not the
/// object's value (Ray's nested references): the receiver gets an `ObjectRef` of its
/// own, and the object lives as long as any holder has it (the value it is stored in,
/// a task argument, an actor's state, a borrower in another task). Only a value handed
/// to rustyray can carry one; any other serializer (and a reference that holds a
/// submission error) fails.
impl<T> Serialize for ObjectRef<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let handle = match &self.state {
            State::Live(handle) => handle,
            State::Failed(error) => {
                return Err(codec::ser_error(format!(
                    "cannot send a reference whose task was never submitted: {error}"
                )));
            }
        };
        if !codec::sharing() {
            return Err(codec::ser_error(
                "an ObjectRef serializes only into a value passed to rustyray (an argument, \
                 a put, a return value)"
                    .to_owned(),
            ));
        }
        let id = sys::share(handle);
        let mut payload = [0u8; 24];
        payload[..8].copy_from_slice(&id.node.to_be_bytes());
        payload[8..16].copy_from_slice(&id.hi.to_be_bytes());
        payload[16..].copy_from_slice(&id.lo.to_be_bytes());
        serializer.serialize_newtype_struct(
            crate::msgpack::MSGPACK_EXT_STRUCT_NAME,
            &(OBJECT_REF_EXT, ExtPayload(&payload)),
        )
    }
}

/// A reference read back from a value this guest was handed (see `Serialize`).
impl<'de, T> serde::Deserialize<'de> for ObjectRef<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (kind, payload) = deserializer
            .deserialize_newtype_struct(crate::msgpack::MSGPACK_EXT_STRUCT_NAME, ExtVisitor)?;
        // A reference handed over as an argument of its own (`argument.reference`).
        if let Some(handle) = DIRECT.take() {
            return Ok(ObjectRef::from_handle(handle));
        }
        if kind != OBJECT_REF_EXT || payload.len() != 24 {
            return Err(codec::de_error(format!(
                "expected an object reference (MessagePack extension {OBJECT_REF_EXT} of 24 \
                 bytes), got extension {kind} of {} bytes",
                payload.len()
            )));
        }
        let word = |at: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&payload[at..at + 8]);
            u64::from_be_bytes(word)
        };
        let id = crate::Id {
            node: word(0),
            hi: word(8),
            lo: word(16),
        };
        sys::available().map_err(|error| codec::de_error(error.to_string()))?;
        sys::receive(id)
            .map(ObjectRef::from_handle)
            .map_err(|error| {
                codec::de_error(format!("the reference to {id} cannot be decoded: {error}"))
            })
    }
}

thread_local! {
    /// A reference the host passed as an argument of its own, while its parameter
    /// (an `ObjectRef<T>`) is being made from it.
    static DIRECT: std::cell::RefCell<Option<Handle>> = const { std::cell::RefCell::new(None) };
    /// Set when a type asked [`Probe`] for an object reference.
    static ASKED_FOR_REF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The parameter of type `T` (an `ObjectRef<_>`) made from a reference argument.
pub(crate) fn from_reference<T: serde::de::DeserializeOwned>(handle: Handle) -> Result<T, String> {
    DIRECT.set(Some(handle));
    let result = T::deserialize(Probe);
    // Not taken: `T` is not an `ObjectRef`; the handle is released.
    let unused = DIRECT.take().is_some();
    match result {
        Ok(value) if !unused => Ok(value),
        _ => Err("expected a value, got an object reference".to_owned()),
    }
}

/// Whether `T` is an `ObjectRef<_>` (it deserializes from an object reference).
pub(crate) fn is_object_ref<T: serde::de::DeserializeOwned>() -> bool {
    ASKED_FOR_REF.set(false);
    let _ = T::deserialize(Probe);
    DIRECT.take();
    ASKED_FOR_REF.take()
}

/// A deserializer that offers only an object reference: an empty extension of type
/// [`OBJECT_REF_EXT`], which `ObjectRef`'s `Deserialize` completes from [`DIRECT`].
struct Probe;

#[derive(Debug)]
struct ProbeError;

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an object reference")
    }
}

impl std::error::Error for ProbeError {}

impl serde::de::Error for ProbeError {
    fn custom<M: fmt::Display>(_: M) -> Self {
        ProbeError
    }
}

impl<'de> serde::Deserializer<'de> for Probe {
    type Error = ProbeError;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeError> {
        Err(ProbeError)
    }

    fn deserialize_newtype_struct<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        if name != crate::msgpack::MSGPACK_EXT_STRUCT_NAME {
            return Err(ProbeError);
        }
        ASKED_FOR_REF.set(true);
        if DIRECT.with_borrow(Option::is_none) {
            return Err(ProbeError);
        }
        visitor.visit_newtype_struct(ProbeExt)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// The extension [`Probe`] offers: type [`OBJECT_REF_EXT`], 24 zero bytes.
struct ProbeExt;

impl<'de> serde::Deserializer<'de> for ProbeExt {
    type Error = ProbeError;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        use serde::de::IntoDeserializer;
        use serde::de::value::BytesDeserializer;
        struct Fields(u8);
        impl<'de> serde::de::SeqAccess<'de> for Fields {
            type Error = ProbeError;
            fn next_element_seed<S: serde::de::DeserializeSeed<'de>>(
                &mut self,
                seed: S,
            ) -> Result<Option<S::Value>, ProbeError> {
                self.0 += 1;
                match self.0 {
                    1 => seed
                        .deserialize(OBJECT_REF_EXT.into_deserializer())
                        .map(Some),
                    2 => seed
                        .deserialize(BytesDeserializer::new(&[0u8; 24]))
                        .map(Some),
                    _ => Ok(None),
                }
            }
        }
        visitor.visit_seq(Fields(0))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// An extension's payload, serialized as bytes.
struct ExtPayload<'a>(&'a [u8]);

impl Serialize for ExtPayload<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// Reads a MessagePack extension as its type and payload.
struct ExtVisitor;

impl<'de> serde::de::Visitor<'de> for ExtVisitor {
    type Value = (i8, Vec<u8>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object reference (a MessagePack extension)")
    }

    fn visit_newtype_struct<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_tuple(2, self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let kind: i8 = seq
            .next_element()?
            .ok_or_else(|| serde::de::Error::custom("an extension without its type"))?;
        let payload: PayloadBytes = seq
            .next_element()?
            .ok_or_else(|| serde::de::Error::custom("an extension without its data"))?;
        Ok((kind, payload.0))
    }
}

/// An extension's payload, read as bytes.
struct PayloadBytes(Vec<u8>);

impl<'de> serde::Deserialize<'de> for PayloadBytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = PayloadBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, bytes: &[u8]) -> Result<PayloadBytes, E> {
                Ok(PayloadBytes(bytes.to_vec()))
            }
            fn visit_byte_buf<E>(self, bytes: Vec<u8>) -> Result<PayloadBytes, E> {
                Ok(PayloadBytes(bytes))
            }
        }
        deserializer.deserialize_bytes(Bytes)
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
