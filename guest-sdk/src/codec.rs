//! MessagePack (or raw bytes) on both sides of the boundary, and the traits that let
//! generated code handle every supported return type uniformly.
//!
//! Every value crosses as an [`Encoded`]: a byte buffer (`Vec<u8>`, `[u8]`, `bytes::Bytes`,
//! `serde_bytes`) **raw**, as one copy and never element by element; anything else as
//! MessagePack with structs as maps keyed by field name, byte for byte the same as the
//! host's `rmp_serde::to_vec_named` (written by the SDK's own [`crate::msgpack`], which
//! keeps `std::io` and its error tables out of guests), so Python and other languages
//! read it. Arguments arrive as one [`InArg`] per parameter (a value, or an object
//! reference for an `ObjectRef<T>` parameter) and results leave as one `Encoded`. Keeping
//! all encoding here means error messages name the function, the parameter and its type
//! the same way everywhere.
//!
//! The SDK's own `Serialize`/`Deserialize` impls that can fail (actor handles) raise their
//! errors through [`ser_error`]/[`de_error`], which keep the message aside, and every
//! encode and decode here prefers it to the encoder's rendering.

use std::cell::RefCell;
use std::fmt::Display;
use std::mem::ManuallyDrop;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApplicationError, InvokeError, RAY_ERROR_TYPE, RayError};
use crate::sys::Handle;

/// How a value's bytes are to be read (the WIT's `encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// A MessagePack value.
    Msgpack,
    /// A byte buffer, as it is.
    Raw,
}

/// A value as it crosses the boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// How `data` is to be read.
    pub encoding: Encoding,
    /// The bytes.
    pub data: Vec<u8>,
}

/// One argument as `invoke` (or an actor entry point) received it.
pub enum InArg {
    /// A value.
    Value(Encoded),
    /// An object reference, for an `ObjectRef<T>` parameter.
    Reference(Handle),
    /// Already taken by its parameter.
    Taken,
}

/// Fails unless exactly `expected` arguments arrived.
pub fn check_arity(function: &str, args: &[InArg], expected: usize) -> Result<(), InvokeError> {
    if args.len() == expected {
        Ok(())
    } else {
        let plural = if expected == 1 { "" } else { "s" };
        Err(InvokeError::BadArguments(format!(
            "`{function}` takes {expected} argument{plural}, got {}",
            args.len()
        )))
    }
}

/// Checks that a `variadic` function got at least its `fixed` arguments.
pub fn check_min_arity(function: &str, args: &[InArg], fixed: usize) -> Result<(), InvokeError> {
    if args.len() >= fixed {
        Ok(())
    } else {
        Err(InvokeError::BadArguments(format!(
            "`{function}` takes at least {fixed} argument(s), got {}",
            args.len()
        )))
    }
}

/// What a parameter can be made from: a value (anything `DeserializeOwned`), or, for an
/// `ObjectRef<T>` parameter, the reference itself.
#[diagnostic::on_unimplemented(
    message = "the parameter type `{Self}` must implement serde's `Deserialize` (or be an `ObjectRef<T>`)",
    label = "not `Deserialize`"
)]
pub trait FromArg: Sized {
    /// The parameter's value from its argument, or why not.
    fn from_arg(arg: InArg) -> Result<Self, String>;
}

impl<T: DeserializeOwned> FromArg for T {
    fn from_arg(arg: InArg) -> Result<Self, String> {
        match arg {
            InArg::Value(value) => match value.encoding {
                Encoding::Msgpack => decode_exact(&value.data).or_else(|why| {
                    // A plain value given for an `ObjectRef<T>` parameter (e.g. by
                    // `rustyray call`): stored, so the function still reads it through
                    // a reference.
                    if crate::object_ref::is_object_ref::<T>() {
                        stored_reference(value)
                    } else {
                        Err(why)
                    }
                }),
                Encoding::Raw if crate::object_ref::is_object_ref::<T>() => stored_reference(value),
                Encoding::Raw => decode_raw(value.data),
            },
            InArg::Reference(handle) => crate::object_ref::from_reference(handle),
            InArg::Taken => Err("missing".to_owned()),
        }
    }
}

/// An `ObjectRef` parameter given a value: the value, stored.
fn stored_reference<T: DeserializeOwned>(value: Encoded) -> Result<T, String> {
    let handle = crate::sys::put(value).map_err(|error| error.to_string())?;
    crate::object_ref::from_reference(handle)
}

/// Decodes argument `index` (described as `param`, e.g. `b: i32`) of `function`, taking it
/// out of `args`.
pub fn decode_arg<T: FromArg>(
    function: &str,
    args: &mut [InArg],
    index: usize,
    param: &str,
) -> Result<T, InvokeError> {
    let bad = |why: String| {
        InvokeError::BadArguments(format!(
            "`{function}` argument {index} (`{param}`) did not decode: {why}"
        ))
    };
    let arg = args
        .get_mut(index)
        .ok_or_else(|| bad("missing".to_owned()))?;
    T::from_arg(std::mem::replace(arg, InArg::Taken)).map_err(bad)
}

/// Encodes what a function returned.
pub fn encode_output<T: Serialize>(function: &str, value: T) -> Result<Encoded, InvokeError> {
    let value = match into_bytes(value) {
        Ok(data) => {
            return Ok(Encoded {
                encoding: Encoding::Raw,
                data,
            });
        }
        Err(value) => value,
    };
    encode(&value).map_err(|error| {
        InvokeError::Application(ApplicationError::from(format!(
            "the result of `{function}` did not encode: {error}"
        )))
    })
}

/// A `Result` return type: its `Ok` value is the task's value, its `Err` the task's
/// application error (rendered with `Display`, and carried with its type's name and, when
/// the type is `Serialize`, its value: see [`ApplicationError`]).
#[diagnostic::on_unimplemented(
    message = "a #[rustyray::remote] function returning `{Self}` needs an error type that implements `Display`"
)]
pub trait Fallible {
    /// The value a successful call stores.
    type Ok;
    /// The error type.
    type Err: Display;
    /// The value, or the error.
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
}

impl<T, E: Display> Fallible for Result<T, E> {
    type Ok = T;
    type Err = E;

    fn into_result(self) -> Result<T, E> {
        self
    }
}

/// Encodes the `Ok` of a `Result`-returning function; its `Err` becomes
/// [`InvokeError::Application`], made by `error` (generated where the error type is known,
/// so it can tell whether the type is `Serialize`).
pub fn encode_fallible<R>(
    function: &str,
    value: R,
    error: impl FnOnce(R::Err) -> ApplicationError,
) -> Result<Encoded, InvokeError>
where
    R: Fallible,
    R::Ok: Serialize,
{
    match value.into_result() {
        Ok(value) => encode_output(function, value),
        Err(err) => Err(InvokeError::Application(error(err))),
    }
}

/// The `Ok` of a `Result`-returning constructor; its `Err` becomes
/// [`InvokeError::Application`], as for [`encode_fallible`].
pub fn fallible_value<R: Fallible>(
    value: R,
    error: impl FnOnce(R::Err) -> ApplicationError,
) -> Result<R::Ok, InvokeError> {
    value
        .into_result()
        .map_err(|err| InvokeError::Application(error(err)))
}

/// The application error of a returned `Err(error)`: its message, its type's name and,
/// when its type is `Serialize` (`value` is `Some`), its encoded value. A [`RayError`]
/// returned as it is (e.g. from a nested `get` with `?`) keeps its kind: it travels under
/// [`RAY_ERROR_TYPE`] and the caller's `get` returns it as it was.
pub fn application_error<E: Display>(
    error: &E,
    value: Option<Result<Encoded, String>>,
) -> ApplicationError {
    let type_name = if typeid::of::<E>() == typeid::of::<RayError>() {
        RAY_ERROR_TYPE
    } else {
        std::any::type_name::<E>()
    };
    ApplicationError::typed(error.to_string(), type_name, value.and_then(Result::ok))
}

/// Autoref probes: whether a returned error's type is `Serialize`, decided where the
/// macros know the type (`(&&ErrProbe(&e)).rustyray_error_value()`).
pub mod probe {
    use serde::Serialize;

    use super::Encoded;

    /// Wraps the error being probed.
    pub struct ErrProbe<'a, E>(pub &'a E);

    /// The error's value, for a `Serialize` error type.
    pub trait ErrValue {
        /// `Some(encoded)`, or why it did not encode.
        fn rustyray_error_value(&self) -> Option<Result<Encoded, String>>;
    }

    impl<E: Serialize> ErrValue for &ErrProbe<'_, E> {
        fn rustyray_error_value(&self) -> Option<Result<Encoded, String>> {
            Some(super::encode(self.0))
        }
    }

    /// No value, for any other error type.
    pub trait NoErrValue {
        /// `None`.
        fn rustyray_error_value(&self) -> Option<Result<Encoded, String>>;
    }

    impl<E> NoErrValue for ErrProbe<'_, E> {
        fn rustyray_error_value(&self) -> Option<Result<Encoded, String>> {
            None
        }
    }
}

/// What a `#[rustyray::main]` may return, and the exit status it means.
#[diagnostic::on_unimplemented(
    message = "#[rustyray::main] must return `()` or `Result<(), E>` with `E: Display`, not `{Self}`"
)]
pub trait MainOutput {
    /// 0 for success; otherwise reports the error on stderr and returns 1.
    fn exit_code(self) -> i32;
}

impl MainOutput for () {
    fn exit_code(self) -> i32 {
        0
    }
}

impl<E: Display> MainOutput for Result<(), E> {
    fn exit_code(self) -> i32 {
        match self {
            Ok(()) => 0,
            Err(error) => {
                // Only drivers (components with a `#[main]`) instantiate this, so only they
                // import stderr for it.
                eprintln!("Error: {error}");
                1
            }
        }
    }
}

/// The exit status of a `#[rustyray::main]`'s return value.
pub fn exit_code<R: MainOutput>(output: R) -> i32 {
    output.exit_code()
}

/// Decodes an object's value as the `T` its `ObjectRef<T>` promised.
pub(crate) fn decode_object<T: DeserializeOwned>(value: Encoded) -> Result<T, RayError> {
    let encoding = value.encoding;
    decode_encoded(value).map_err(|why| {
        RayError::Decode(format!(
            "{why} (expected {} `{}`)",
            match encoding {
                Encoding::Msgpack => "a MessagePack-encoded",
                Encoding::Raw => "raw bytes as a",
            },
            std::any::type_name::<T>()
        ))
    })
}

/// Encodes a value for the object store.
pub(crate) fn encode_value<T: Serialize + ?Sized>(value: &T) -> Result<Encoded, RayError> {
    encode(value).map_err(RayError::Encode)
}

/// A value encoded: raw for a byte buffer, MessagePack for anything else.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Encoded, String> {
    if let Some(data) = as_bytes(value) {
        return Ok(Encoded {
            encoding: Encoding::Raw,
            data,
        });
    }
    if let Ok(data) = value.serialize(BytesProbe) {
        return Ok(Encoded {
            encoding: Encoding::Raw,
            data,
        });
    }
    // References serialized into this value are shared with the host (see
    // `ObjectRef`'s `Serialize`); nowhere else can one be serialized.
    let outer = SHARING.replace(true);
    let data = to_bytes(value);
    SHARING.set(outer);
    data.map(|data| Encoded {
        encoding: Encoding::Msgpack,
        data,
    })
}

/// MessagePack bytes of a value for the host that is not a value of the object store
/// (an actor's snapshot): the references inside it are shared as in [`encode`].
pub(crate) fn to_bytes_shared<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    let outer = SHARING.replace(true);
    let data = to_bytes(value);
    SHARING.set(outer);
    data
}

/// Whether a value for the host is being encoded (where an `ObjectRef` may go).
pub(crate) fn sharing() -> bool {
    SHARING.get()
}

/// A value decoded from either encoding.
pub(crate) fn decode_encoded<T: DeserializeOwned>(value: Encoded) -> Result<T, String> {
    match value.encoding {
        Encoding::Msgpack => decode_exact(&value.data),
        Encoding::Raw => decode_raw(value.data),
    }
}

/// Raw bytes as a `T`: a `Vec<u8>` as it is (no copy), else any type that accepts a
/// byte buffer (`serde_bytes::ByteBuf`, `bytes::Bytes`, ...).
fn decode_raw<T: DeserializeOwned>(data: Vec<u8>) -> Result<T, String> {
    if typeid::of::<T>() == typeid::of::<Vec<u8>>() {
        // SAFETY: T is Vec<u8> (same type id): the vector is moved as what it is.
        return Ok(unsafe { std::mem::transmute_copy(&ManuallyDrop::new(data)) });
    }
    CUSTOM_MESSAGE.take();
    T::deserialize(RawDeserializer(data)).map_err(|error| {
        CUSTOM_MESSAGE
            .take()
            .unwrap_or_else(|| format!("{error} (the value is raw bytes)"))
    })
}

/// An owned byte buffer's bytes, moved out without a copy (`Vec<u8>`, `Box<[u8]>`,
/// `serde_bytes::ByteBuf`): a function returning one hands its own allocation to the
/// host. Any other type comes back as it was, to be encoded.
fn into_bytes<T>(value: T) -> Result<Vec<u8>, T> {
    let id = typeid::of::<T>();
    let value = ManuallyDrop::new(value);
    // SAFETY (each arm): the type ids are equal, so `value` is that type; it is read out
    // of the `ManuallyDrop` exactly once, which then owns nothing.
    unsafe {
        if id == typeid::of::<Vec<u8>>() {
            Ok(std::mem::transmute_copy::<T, Vec<u8>>(&value))
        } else if id == typeid::of::<serde_bytes::ByteBuf>() {
            Ok(std::mem::transmute_copy::<T, serde_bytes::ByteBuf>(&value).into_vec())
        } else if id == typeid::of::<Box<[u8]>>() {
            Ok(std::mem::transmute_copy::<T, Box<[u8]>>(&value).into_vec())
        } else {
            Err(ManuallyDrop::into_inner(value))
        }
    }
}

/// The bytes of a value whose type is a byte buffer, copied once, without serializing.
#[allow(clippy::borrowed_box, reason = "read as the very type the id matched")]
fn as_bytes<T: ?Sized>(value: &T) -> Option<Vec<u8>> {
    let id = typeid::of::<T>();
    // SAFETY (each arm): the type ids are equal, so `value` is a reference to that type.
    unsafe {
        if id == typeid::of::<Vec<u8>>() {
            let v: &Vec<u8> = std::mem::transmute_copy(&value);
            Some(v.clone())
        } else if id == typeid::of::<[u8]>() {
            let v: &[u8] = std::mem::transmute_copy(&value);
            Some(v.to_vec())
        } else if id == typeid::of::<&[u8]>() {
            let v: &&[u8] = std::mem::transmute_copy(&value);
            Some(v.to_vec())
        } else if id == typeid::of::<Box<[u8]>>() {
            let v: &Box<[u8]> = std::mem::transmute_copy(&value);
            Some(v.to_vec())
        } else {
            None
        }
    }
}

/// MessagePack bytes of `value` (structs as maps), or why it did not encode.
pub(crate) fn to_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    CUSTOM_MESSAGE.take();
    crate::msgpack::to_vec_named(value).map_err(|error| explain(error.to_string()))
}

/// MessagePack, refusing trailing bytes: they mean the bytes were written as another type.
pub(crate) fn decode_exact<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    CUSTOM_MESSAGE.take();
    let mut deserializer = crate::msgpack::Deserializer::new(bytes);
    match T::deserialize(&mut deserializer) {
        Ok(value) => match deserializer.remaining() {
            0 => Ok(value),
            rest => Err(format!("{rest} unexpected trailing bytes")),
        },
        Err(error) => Err(explain(error.to_string())),
    }
}

thread_local! {
    /// Set while a value for the host is encoded: see [`sharing`].
    static SHARING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The message of the last custom serde error raised through [`ser_error`]/[`de_error`].
    static CUSTOM_MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A custom serialization error whose message is kept whatever the encoder does with it.
pub(crate) fn ser_error<E: serde::ser::Error>(message: String) -> E {
    let error = E::custom(&message);
    CUSTOM_MESSAGE.set(Some(message));
    error
}

/// A custom deserialization error whose message is kept whatever the decoder does with it.
pub(crate) fn de_error<E: serde::de::Error>(message: String) -> E {
    let error = E::custom(&message);
    CUSTOM_MESSAGE.set(Some(message));
    error
}

/// An encoder's error as text, the SDK's own message first.
fn explain(error: String) -> String {
    CUSTOM_MESSAGE.take().unwrap_or(error)
}

/// Why a value is not a bare byte buffer (the probe's only error).
#[derive(Debug)]
struct NotBytes;

impl Display for NotBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a byte buffer")
    }
}

impl std::error::Error for NotBytes {}

impl serde::ser::Error for NotBytes {
    fn custom<M: Display>(_: M) -> Self {
        NotBytes
    }
}

macro_rules! not_bytes {
    ($($name:ident($($ty:ty),*) -> $ret:ty),* $(,)?) => {
        $(fn $name(self, $(_: $ty),*) -> Result<$ret, NotBytes> { Err(NotBytes) })*
    };
}

/// A serializer that succeeds only for a value that serializes as one byte buffer
/// (`bytes::Bytes`, `serde_bytes`): it fails at the first call for anything else, so
/// trying it costs nothing.
struct BytesProbe;

type No = serde::ser::Impossible<Vec<u8>, NotBytes>;

impl serde::Serializer for BytesProbe {
    type Ok = Vec<u8>;
    type Error = NotBytes;
    type SerializeSeq = No;
    type SerializeTuple = No;
    type SerializeTupleStruct = No;
    type SerializeTupleVariant = No;
    type SerializeMap = No;
    type SerializeStruct = No;
    type SerializeStructVariant = No;

    fn serialize_bytes(self, v: &[u8]) -> Result<Vec<u8>, NotBytes> {
        Ok(v.to_vec())
    }

    not_bytes!(
        serialize_bool(bool) -> Vec<u8>,
        serialize_i8(i8) -> Vec<u8>,
        serialize_i16(i16) -> Vec<u8>,
        serialize_i32(i32) -> Vec<u8>,
        serialize_i64(i64) -> Vec<u8>,
        serialize_u8(u8) -> Vec<u8>,
        serialize_u16(u16) -> Vec<u8>,
        serialize_u32(u32) -> Vec<u8>,
        serialize_u64(u64) -> Vec<u8>,
        serialize_f32(f32) -> Vec<u8>,
        serialize_f64(f64) -> Vec<u8>,
        serialize_char(char) -> Vec<u8>,
        serialize_str(&str) -> Vec<u8>,
        serialize_none() -> Vec<u8>,
        serialize_unit() -> Vec<u8>,
        serialize_unit_struct(&'static str) -> Vec<u8>,
        serialize_unit_variant(&'static str, u32, &'static str) -> Vec<u8>,
        serialize_seq(Option<usize>) -> No,
        serialize_tuple(usize) -> No,
        serialize_tuple_struct(&'static str, usize) -> No,
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> No,
        serialize_map(Option<usize>) -> No,
        serialize_struct(&'static str, usize) -> No,
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> No,
    );

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Vec<u8>, NotBytes> {
        Err(NotBytes)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<Vec<u8>, NotBytes> {
        Err(NotBytes)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Vec<u8>, NotBytes> {
        Err(NotBytes)
    }
}

/// Why raw bytes did not decode as the type asked for.
#[derive(Debug)]
struct RawError(String);

impl Display for RawError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RawError {}

impl serde::de::Error for RawError {
    fn custom<M: Display>(msg: M) -> Self {
        RawError(msg.to_string())
    }

    // Rendered without serde's `Unexpected` Display, as the MessagePack decoder's are: it
    // would bring float formatting into every guest (see `msgpack::Shown`).
    fn invalid_type(unexpected: serde::de::Unexpected, expected: &dyn serde::de::Expected) -> Self {
        RawError(format!(
            "invalid type: {}, expected {expected}",
            crate::msgpack::Shown(unexpected)
        ))
    }

    fn invalid_value(
        unexpected: serde::de::Unexpected,
        expected: &dyn serde::de::Expected,
    ) -> Self {
        RawError(format!(
            "invalid value: {}, expected {expected}",
            crate::msgpack::Shown(unexpected)
        ))
    }
}

/// Raw bytes offered to a type as a byte buffer, whatever it asks for.
struct RawDeserializer(Vec<u8>);

impl<'de> serde::Deserializer<'de> for RawDeserializer {
    type Error = RawError;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, RawError> {
        visitor.visit_byte_buf(self.0)
    }

    fn deserialize_seq<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, RawError> {
        visitor.visit_seq(serde::de::value::SeqDeserializer::new(self.0.into_iter()))
    }

    fn deserialize_newtype_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, RawError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgpack<T: Serialize>(value: &T) -> Encoded {
        encode(value).expect("encodes")
    }

    #[test]
    fn decodes_exactly() {
        let value = msgpack(&(1u8, 2u8));
        assert_eq!(decode_object::<(u8, u8)>(value.clone()), Ok((1, 2)));
        let err = decode_object::<u8>(value).expect_err("not a u8");
        assert!(
            matches!(&err, RayError::Decode(m) if m.contains("`u8`")),
            "{err}"
        );
        let mut data = msgpack(&7u8).data;
        data.push(0);
        assert_eq!(
            decode_exact::<u8>(&data).err().as_deref(),
            Some("1 unexpected trailing bytes")
        );
    }

    #[test]
    fn byte_buffers_travel_raw() {
        let bytes = vec![1u8, 2, 3];
        let value = msgpack(&bytes);
        assert_eq!(value.encoding, Encoding::Raw);
        assert_eq!(value.data, bytes);
        assert_eq!(encode(&bytes[..]).unwrap().encoding, Encoding::Raw);
        assert_eq!(decode_encoded::<Vec<u8>>(value.clone()), Ok(bytes));
        // Raw bytes are a `String` only when they are UTF-8.
        assert!(decode_encoded::<u32>(value).is_err());
        let not_utf8 = Encoded {
            encoding: Encoding::Raw,
            data: vec![0xff],
        };
        assert!(decode_encoded::<String>(not_utf8).is_err());
        // A Vec of something else is MessagePack.
        assert_eq!(msgpack(&vec![1u16]).encoding, Encoding::Msgpack);
    }

    #[test]
    fn a_returned_byte_buffer_is_moved_not_copied() {
        let vec = vec![5u8; 4096];
        let at = vec.as_ptr();
        let out = encode_output("f", vec).unwrap();
        assert_eq!((out.encoding, out.data.as_ptr()), (Encoding::Raw, at));
        let buf = serde_bytes::ByteBuf::from(vec![6u8; 4096]);
        let at = buf.as_ptr();
        let out = encode_output("f", buf).unwrap();
        assert_eq!((out.encoding, out.data.as_ptr()), (Encoding::Raw, at));
        assert_eq!(out.data, vec![6u8; 4096]);
        let boxed: Box<[u8]> = vec![7u8; 4096].into_boxed_slice();
        let at = boxed.as_ptr();
        let out = encode_output("f", boxed).unwrap();
        assert_eq!((out.encoding, out.data.as_ptr()), (Encoding::Raw, at));
        // Anything else is encoded as before, and dropped exactly once.
        struct Counted<'a>(&'a std::cell::Cell<u32>);
        impl Serialize for Counted<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u32(7)
            }
        }
        impl Drop for Counted<'_> {
            fn drop(&mut self) {
                self.0.set(self.0.get() + 1);
            }
        }
        let drops = std::cell::Cell::new(0);
        let out = encode_output("f", Counted(&drops)).unwrap();
        assert_eq!(
            (out.encoding, out.data, drops.get()),
            (Encoding::Msgpack, vec![7], 1)
        );
        assert_eq!(
            encode_output("f", "text").unwrap().encoding,
            Encoding::Msgpack
        );
    }

    #[test]
    fn structs_are_maps_by_field_name() {
        #[derive(Serialize)]
        struct P {
            x: i8,
        }
        // fixmap of 1, fixstr "x", 5
        assert_eq!(msgpack(&P { x: 5 }).data, vec![0x81, 0xa1, b'x', 5]);
    }

    /// A failing `Deserialize` whose message must reach the user.
    struct Picky;

    impl<'de> serde::Deserialize<'de> for Picky {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let n = u8::deserialize(deserializer)?;
            Err(de_error(format!("{n} is not acceptable")))
        }
    }

    #[test]
    fn custom_messages_survive() {
        let bytes = msgpack(&7u8).data;
        assert_eq!(
            decode_exact::<Picky>(&bytes).err().as_deref(),
            Some("7 is not acceptable")
        );
        // A message is never attached to a later, unrelated error.
        let err = decode_exact::<u8>(&[]).expect_err("empty");
        assert!(!err.contains("acceptable"), "{err}");
    }

    #[test]
    fn arity_message() {
        let err = check_arity("add", &[InArg::Taken], 2).expect_err("wrong count");
        assert_eq!(
            err,
            InvokeError::BadArguments("`add` takes 2 arguments, got 1".into())
        );
    }

    #[test]
    fn fallible_err_is_an_application_error() {
        let out: Result<u8, String> = Err("nope".into());
        let err = encode_fallible("f", out, |e| application_error(&e, None)).expect_err("an Err");
        let InvokeError::Application(app) = err else {
            panic!("an application error");
        };
        assert_eq!(app.message(), "nope");
        assert_eq!(app.type_name(), Some("alloc::string::String"));
    }

    #[test]
    fn main_exit_codes() {
        assert_eq!(exit_code(()), 0);
        assert_eq!(exit_code(Ok::<(), String>(())), 0);
        assert_eq!(exit_code(Err::<(), _>("bad")), 1);
    }
}
