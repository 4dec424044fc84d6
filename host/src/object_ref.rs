//! [`ObjectRef<T>`]: the host's typed handle to an object, and a future of its value.
//!
//! A handle is an `Arc` of the object's slot plus the value's type, so cloning one
//! adds a reference and dropping the last one frees the object. `get` may be awaited
//! any number of times, by any number of holders, before or after the object is
//! ready; each call decodes the shared bytes afresh, while [`ObjectRef::get_bytes`]
//! hands out the payload itself without a copy.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::codec;
use crate::error::{RayError, Result};
use crate::object_store::{ObjectId, Slot};
use crate::output::TaskOutput;

/// A reference to an object holding a `T`: the result of a task or a `put`.
pub struct ObjectRef<T> {
    slot: Arc<Slot>,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for ObjectRef<T> {
    fn clone(&self) -> Self {
        ObjectRef {
            slot: self.slot.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> fmt::Debug for ObjectRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectRef")
            .field("id", &self.slot.id())
            .field("type", &std::any::type_name::<T>())
            .field("ready", &self.slot.is_ready())
            .finish()
    }
}

impl<T> ObjectRef<T> {
    pub(crate) fn from_slot(slot: Arc<Slot>) -> Self {
        ObjectRef {
            slot,
            _type: PhantomData,
        }
    }

    pub(crate) fn slot(&self) -> &Arc<Slot> {
        &self.slot
    }

    /// The object's id.
    pub fn id(&self) -> ObjectId {
        self.slot.id()
    }

    /// Whether the object is ready (holds a value or an error).
    pub fn is_ready(&self) -> bool {
        self.slot.is_ready()
    }

    /// What the task that produced this object printed (stdout and stderr), once
    /// the object is ready; `None` if it printed nothing, or for a `put`.
    pub fn output(&self) -> Option<TaskOutput> {
        if !self.slot.is_ready() {
            return None;
        }
        self.slot.output().cloned()
    }

    /// The same object seen as another type (for objects produced by untyped APIs).
    pub fn cast<U>(self) -> ObjectRef<U> {
        ObjectRef::from_slot(self.slot)
    }

    /// The object's stored bytes (raw bytes, or the MessagePack encoding of its value),
    /// shared without a copy, once it is ready.
    pub async fn get_bytes(&self) -> Result<Bytes> {
        self.slot.get_value_soon().await.map(|value| value.data)
    }

    /// The object's encoded value (its encoding and bytes, shared without a copy), once it
    /// is ready: what [`codec::to_json`] renders.
    pub async fn get_value(&self) -> Result<codec::Value> {
        self.slot.get_value_soon().await
    }

    /// Frees the object (Ray's `ray._private.internal_api.free`): from now on every `get`
    /// of it, by any holder, fails with [`RayError::ObjectFreed`], as does a task that
    /// takes it as an argument. Its bytes (in memory or spilled) are given back at once.
    pub fn free(&self) {
        self.slot.free();
    }
}

/// An `ObjectRef` inside a value (a field, a `Vec`, a map, a return value) is
/// serialized as a reference the value holds: the object lives as long as the value,
/// and whoever gets the value gets a reference, not the object's value (Ray's nested
/// references). Only rustyray's own encoding can carry one ([`codec::encode`],
/// `put`, task and call arguments); any other serializer gets an error.
impl<T> serde::Serialize for ObjectRef<T> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        if !crate::refs::note_encoded(&self.slot) {
            return Err(serde::ser::Error::custom(
                "an ObjectRef serializes only into a rustyray value (put, a task or call \
                 argument, a return value)",
            ));
        }
        let id = crate::refs::id_bytes(self.slot.id());
        serializer.serialize_newtype_struct(
            rmp_serde::MSGPACK_EXT_STRUCT_NAME,
            &(crate::refs::OBJECT_REF_EXT, ExtPayload(&id)),
        )
    }
}

/// An `ObjectRef` read back from a value that holds it (see `Serialize`).
impl<'de, T> serde::Deserialize<'de> for ObjectRef<T> {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let (kind, payload) = deserializer
            .deserialize_newtype_struct(rmp_serde::MSGPACK_EXT_STRUCT_NAME, ExtVisitor)?;
        let id = match (kind, crate::refs::id_from_bytes(&payload)) {
            (crate::refs::OBJECT_REF_EXT, Some(id)) => id,
            _ => {
                return Err(serde::de::Error::custom(format!(
                    "expected an object reference (MessagePack extension {}), got extension {kind}",
                    crate::refs::OBJECT_REF_EXT
                )));
            }
        };
        match crate::refs::decoded(id) {
            Some(slot) => Ok(ObjectRef::from_slot(slot)),
            None => Err(serde::de::Error::custom(format!(
                "the value refers to {id}, which it does not hold"
            ))),
        }
    }
}

/// An extension's payload, serialized as bytes.
struct ExtPayload<'a>(&'a [u8]);

impl serde::Serialize for ExtPayload<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
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
    ) -> std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_tuple(2, self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
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
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = PayloadBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, bytes: &[u8]) -> std::result::Result<PayloadBytes, E> {
                Ok(PayloadBytes(bytes.to_vec()))
            }
            fn visit_byte_buf<E>(self, bytes: Vec<u8>) -> std::result::Result<PayloadBytes, E> {
                Ok(PayloadBytes(bytes))
            }
        }
        deserializer.deserialize_bytes(Bytes)
    }
}

impl<T: DeserializeOwned> ObjectRef<T> {
    /// Waits for the object and decodes its value. May be called many times.
    pub async fn get(&self) -> Result<T> {
        let value = self.slot.get_value_soon().await?;
        decode_outcome(&value)
    }

    /// [`get`](Self::get), giving up after `timeout` with [`RayError::GetTimeout`]; the
    /// task goes on running (Ray's `ray.get(ref, timeout=..)`).
    pub async fn get_timeout(&self, timeout: std::time::Duration) -> Result<T> {
        match tokio::time::timeout(timeout, self.get()).await {
            Ok(result) => result,
            Err(_) => Err(RayError::GetTimeout(timeout)),
        }
    }

    /// Waits for the object; its value (or error) and what its task printed.
    pub async fn get_with_output(&self) -> (Result<T>, TaskOutput) {
        let value = self.get().await;
        (value, self.output().unwrap_or_default())
    }

    /// The value if the object is ready, without waiting.
    pub fn try_get(&self) -> Option<Result<T>> {
        // A value kept on another node is not here until a `get` fetches it.
        if self.slot.needs_fetch() {
            return None;
        }
        Some(match self.slot.try_get()? {
            Ok(stored) => self
                .slot
                .value(stored)
                .and_then(|value| decode_outcome(&value)),
            Err(err) => Err(err.clone()),
        })
    }
}

fn decode_outcome<T: DeserializeOwned>(value: &codec::Value) -> Result<T> {
    codec::decode(value).map_err(|err| RayError::BadArguments {
        function: "get".into(),
        message: format!(
            "the object does not decode as {}: {err}",
            std::any::type_name::<T>()
        ),
    })
}
