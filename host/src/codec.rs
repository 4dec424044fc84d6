//! How values become bytes: MessagePack, or raw bytes for a byte buffer.
//!
//! Every value that crosses the boundary is a [`Value`]: bytes tagged with their
//! [`Encoding`]. A byte buffer (`Vec<u8>`, `[u8]`, `bytes::Bytes`, `serde_bytes`) is
//! stored and passed **raw**, as one copy and never element by element; anything else
//! is MessagePack with structs as maps keyed by field name (`rmp_serde::to_vec_named`),
//! which Python, JavaScript and every other language read, and which [`to_json`]
//! renders for the CLI and the node's API. The guest SDK makes the same choice the same
//! way, so the host and every guest agree.

use std::mem::ManuallyDrop;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{RayError, Result};
pub use crate::object_store::Encoding;
use crate::refs::Contained;

/// MessagePack's `nil`: the encoding of `()`.
pub const UNIT: &[u8] = &[0xc0];

/// A value as it crosses the boundary: its encoding and its bytes, and the objects
/// the references inside it (`ObjectRef`s nested in the value) refer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// How `data` is to be read.
    pub encoding: Encoding,
    /// The encoded value (MessagePack), or the bytes themselves (raw).
    pub data: Bytes,
    /// The objects referred to from inside the value, one per reference (see
    /// `refs.rs`): held, so they live as long as the value.
    pub(crate) refs: Contained,
}

impl Value {
    /// A MessagePack-encoded value.
    pub fn msgpack(data: impl Into<Bytes>) -> Self {
        Value {
            encoding: Encoding::Msgpack,
            data: data.into(),
            refs: Contained::default(),
        }
    }

    /// A byte buffer, as it is.
    pub fn raw(data: impl Into<Bytes>) -> Self {
        Value {
            encoding: Encoding::Raw,
            data: data.into(),
            refs: Contained::default(),
        }
    }

    /// A value of `encoding` holding references to `refs`.
    pub(crate) fn with_refs(encoding: Encoding, data: Bytes, refs: Contained) -> Self {
        Value {
            encoding,
            data,
            refs,
        }
    }

    /// The ids of the objects the value holds references to, in order.
    pub fn ref_ids(&self) -> Vec<crate::ObjectId> {
        self.refs.ids()
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether it has no bytes (an empty raw buffer).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// Encodes a value: raw for a byte buffer, MessagePack for anything else. An
/// [`ObjectRef`](crate::ObjectRef) inside it becomes a reference the value holds.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Value> {
    if let Some(bytes) = as_bytes(value) {
        return Ok(Value::raw(bytes));
    }
    if let Ok(bytes) = value.serialize(BytesProbe) {
        return Ok(Value::raw(bytes));
    }
    let (bytes, refs) = crate::refs::encoding(|| rmp_serde::to_vec_named(value));
    bytes
        .map(|bytes| Value::with_refs(Encoding::Msgpack, bytes.into(), refs))
        .map_err(|err| RayError::Serialization(err.to_string()))
}

/// Decodes a value as a `T`; trailing bytes are an error (they mean a type mismatch).
/// References inside it decode as [`ObjectRef`](crate::ObjectRef)s to the objects it
/// holds.
pub fn decode<T: DeserializeOwned>(value: &Value) -> std::result::Result<T, String> {
    crate::refs::decoding(value.refs.slots(), || {
        decode_parts(value.encoding, &value.data)
    })
}

/// [`decode`] from an encoding and the bytes.
pub fn decode_parts<T: DeserializeOwned>(
    encoding: Encoding,
    data: &Bytes,
) -> std::result::Result<T, String> {
    match encoding {
        Encoding::Raw => decode_raw(data),
        Encoding::Msgpack => decode_msgpack(data),
    }
}

fn decode_msgpack<T: DeserializeOwned>(data: &[u8]) -> std::result::Result<T, String> {
    let mut rest = data;
    let mut deserializer = rmp_serde::Deserializer::new(&mut rest);
    let value = T::deserialize(&mut deserializer).map_err(|err| err.to_string())?;
    match rest.len() {
        0 => Ok(value),
        rest => Err(format!("{rest} unexpected trailing bytes")),
    }
}

/// Raw bytes as a `T`: a `Vec<u8>` or `Bytes` directly (one copy at most), else any
/// type that accepts a byte buffer (`serde_bytes::ByteBuf`, ...).
fn decode_raw<T: DeserializeOwned>(data: &Bytes) -> std::result::Result<T, String> {
    if typeid::of::<T>() == typeid::of::<Vec<u8>>() {
        // SAFETY: T is Vec<u8> (same type id), so the value is moved as what it is.
        return Ok(unsafe { std::mem::transmute_copy(&ManuallyDrop::new(data.to_vec())) });
    }
    if typeid::of::<T>() == typeid::of::<Bytes>() {
        // SAFETY: T is Bytes.
        return Ok(unsafe { std::mem::transmute_copy(&ManuallyDrop::new(data.clone())) });
    }
    T::deserialize(RawDeserializer(data)).map_err(|err| err.0)
}

/// The bytes of a value whose type is a byte buffer, without serializing it.
#[allow(clippy::borrowed_box, reason = "read as the very type the id matched")]
fn as_bytes<T: ?Sized>(value: &T) -> Option<Bytes> {
    let id = typeid::of::<T>();
    // SAFETY (each arm): the type ids are equal, so `value` is a reference to that type.
    unsafe {
        if id == typeid::of::<Vec<u8>>() {
            let v: &Vec<u8> = std::mem::transmute_copy(&value);
            Some(Bytes::copy_from_slice(v))
        } else if id == typeid::of::<[u8]>() {
            let v: &[u8] = std::mem::transmute_copy(&value);
            Some(Bytes::copy_from_slice(v))
        } else if id == typeid::of::<&[u8]>() {
            let v: &&[u8] = std::mem::transmute_copy(&value);
            Some(Bytes::copy_from_slice(v))
        } else if id == typeid::of::<Box<[u8]>>() {
            let v: &Box<[u8]> = std::mem::transmute_copy(&value);
            Some(Bytes::copy_from_slice(v))
        } else if id == typeid::of::<Bytes>() {
            let v: &Bytes = std::mem::transmute_copy(&value);
            Some(v.clone())
        } else {
            None
        }
    }
}

/// A value rendered as JSON: maps with string keys as objects, other maps as arrays of
/// `[key, value]` pairs, binary (and raw values) as arrays of numbers, extension types
/// as `{"ext": type, "data": [...]}`, an object reference as `{"object_ref": "ID"}`.
pub fn to_json(value: &Value) -> Result<serde_json::Value> {
    match value.encoding {
        Encoding::Raw => Ok(bytes_json(&value.data)),
        Encoding::Msgpack => {
            let mut data: &[u8] = &value.data;
            let decoded = rmpv::decode::read_value_with_max_depth(&mut data, 512)
                .map_err(|err| RayError::Serialization(format!("not MessagePack: {err}")))?;
            if !data.is_empty() {
                return Err(RayError::Serialization(format!(
                    "{} unexpected trailing bytes after a MessagePack value",
                    data.len()
                )));
            }
            Ok(msgpack_json(decoded))
        }
    }
}

/// A JSON value as a MessagePack one (what `rustyray call` passes as arguments).
pub fn from_json(json: &serde_json::Value) -> Result<Value> {
    rmp_serde::to_vec_named(json)
        .map(Value::msgpack)
        .map_err(|err| RayError::Serialization(err.to_string()))
}

fn bytes_json(bytes: &[u8]) -> serde_json::Value {
    serde_json::Value::Array(bytes.iter().map(|b| (*b).into()).collect())
}

fn msgpack_json(value: rmpv::Value) -> serde_json::Value {
    use rmpv::Value as M;
    use serde_json::Value as J;
    match value {
        M::Nil => J::Null,
        M::Boolean(b) => J::Bool(b),
        M::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => J::from(u),
            (None, Some(i)) => J::from(i),
            _ => J::Null,
        },
        M::F32(f) => serde_json::Number::from_f64(f64::from(f)).map_or(J::Null, J::Number),
        M::F64(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        M::String(s) => match s.into_str() {
            Some(s) => J::String(s),
            None => J::Null,
        },
        M::Binary(b) => bytes_json(&b),
        M::Array(items) => J::Array(items.into_iter().map(msgpack_json).collect()),
        M::Map(entries) => {
            if entries.iter().all(|(k, _)| k.is_str()) {
                J::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), msgpack_json(v)))
                        .collect(),
                )
            } else {
                J::Array(
                    entries
                        .into_iter()
                        .map(|(k, v)| J::Array(vec![msgpack_json(k), msgpack_json(v)]))
                        .collect(),
                )
            }
        }
        M::Ext(crate::refs::OBJECT_REF_EXT, data) => match crate::refs::id_from_bytes(&data) {
            Some(id) => serde_json::json!({ "object_ref": id.0.to_string() }),
            None => {
                serde_json::json!({ "ext": crate::refs::OBJECT_REF_EXT, "data": bytes_json(&data) })
            }
        },
        M::Ext(kind, data) => serde_json::json!({ "ext": kind, "data": bytes_json(&data) }),
    }
}

/// Why a value is not a bare byte buffer (the probe's only error).
#[derive(Debug)]
struct NotBytes;

impl std::fmt::Display for NotBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a byte buffer")
    }
}

impl std::error::Error for NotBytes {}

impl serde::ser::Error for NotBytes {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        NotBytes
    }
}

macro_rules! not_bytes {
    ($($name:ident($($ty:ty),*)),* $(,)?) => {
        $(fn $name(self, $(_: $ty),*) -> std::result::Result<Self::Ok, NotBytes> { Err(NotBytes) })*
    };
}

/// A serializer that succeeds only for a value that serializes as one byte buffer
/// (`bytes::Bytes`, `serde_bytes`): it fails at the first call for anything else, so
/// trying it costs nothing.
struct BytesProbe;

impl serde::Serializer for BytesProbe {
    type Ok = Bytes;
    type Error = NotBytes;
    type SerializeSeq = serde::ser::Impossible<Bytes, NotBytes>;
    type SerializeTuple = serde::ser::Impossible<Bytes, NotBytes>;
    type SerializeTupleStruct = serde::ser::Impossible<Bytes, NotBytes>;
    type SerializeTupleVariant = serde::ser::Impossible<Bytes, NotBytes>;
    type SerializeMap = serde::ser::Impossible<Bytes, NotBytes>;
    type SerializeStruct = serde::ser::Impossible<Bytes, NotBytes>;
    type SerializeStructVariant = serde::ser::Impossible<Bytes, NotBytes>;

    fn serialize_bytes(self, v: &[u8]) -> std::result::Result<Bytes, NotBytes> {
        Ok(Bytes::copy_from_slice(v))
    }

    not_bytes!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> std::result::Result<Bytes, NotBytes> {
        Err(NotBytes)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> std::result::Result<Bytes, NotBytes> {
        Err(NotBytes)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> std::result::Result<Bytes, NotBytes> {
        Err(NotBytes)
    }
    fn serialize_seq(self, _: Option<usize>) -> std::result::Result<Self::SerializeSeq, NotBytes> {
        Err(NotBytes)
    }
    fn serialize_tuple(self, _: usize) -> std::result::Result<Self::SerializeTuple, NotBytes> {
        Err(NotBytes)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeTupleStruct, NotBytes> {
        Err(NotBytes)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeTupleVariant, NotBytes> {
        Err(NotBytes)
    }
    fn serialize_map(self, _: Option<usize>) -> std::result::Result<Self::SerializeMap, NotBytes> {
        Err(NotBytes)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeStruct, NotBytes> {
        Err(NotBytes)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeStructVariant, NotBytes> {
        Err(NotBytes)
    }
}

/// Why raw bytes did not decode as the type asked for.
#[derive(Debug)]
struct RawError(String);

impl std::fmt::Display for RawError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RawError {}

impl serde::de::Error for RawError {
    fn custom<M: std::fmt::Display>(msg: M) -> Self {
        RawError(format!("{msg} (the value is raw bytes)"))
    }
}

/// Raw bytes offered to a type as a byte buffer, whatever it asks for.
struct RawDeserializer<'a>(&'a Bytes);

impl<'de> serde::Deserializer<'de> for RawDeserializer<'_> {
    type Error = RawError;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, RawError> {
        visitor.visit_byte_buf(self.0.to_vec())
    }

    fn deserialize_seq<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, RawError> {
        visitor.visit_seq(serde::de::value::SeqDeserializer::new(
            self.0.iter().copied(),
        ))
    }

    fn deserialize_newtype_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> std::result::Result<V::Value, RawError> {
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

    #[test]
    fn byte_buffers_are_raw() {
        let v = vec![1u8, 2, 3];
        assert_eq!(encode(&v).unwrap(), Value::raw(vec![1u8, 2, 3]));
        assert_eq!(encode(&v[..]).unwrap().encoding, Encoding::Raw);
        assert_eq!(
            encode(&Bytes::from_static(b"ab")).unwrap().encoding,
            Encoding::Raw
        );
        let back: Vec<u8> = decode(&encode(&v).unwrap()).unwrap();
        assert_eq!(back, v);
        let back: Bytes = decode(&encode(&v).unwrap()).unwrap();
        assert_eq!(&back[..], &v[..]);
        assert!(decode::<String>(&Value::raw(vec![0xffu8])).is_err());
        assert!(decode::<u32>(&Value::raw(vec![1u8])).is_err());
    }

    #[test]
    fn structs_are_named_msgpack() {
        #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
        struct P {
            x: i32,
            name: String,
        }
        let p = P {
            x: 3,
            name: "a".into(),
        };
        let v = encode(&p).unwrap();
        assert_eq!(v.encoding, Encoding::Msgpack);
        assert_eq!(
            to_json(&v).unwrap(),
            serde_json::json!({"x": 3, "name": "a"})
        );
        assert_eq!(decode::<P>(&v).unwrap(), p);
        let from = from_json(&serde_json::json!({"x": 3, "name": "a"})).unwrap();
        assert_eq!(decode::<P>(&from).unwrap(), p);
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = encode(&5i32).unwrap().data.to_vec();
        bytes.push(0);
        assert!(decode::<i32>(&Value::msgpack(bytes)).is_err());
    }
}
