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
use crate::object_store::{Encoding, ObjectId, Slot};
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
}

impl<T: DeserializeOwned> ObjectRef<T> {
    /// Waits for the object and decodes its value. May be called many times.
    pub async fn get(&self) -> Result<T> {
        let value = self.slot.get_value_soon().await?;
        decode_outcome(&value.data, value.encoding)
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
        Some(match self.slot.try_get()? {
            Ok(stored) => self
                .slot
                .value(stored)
                .and_then(|value| decode_outcome(&value.data, value.encoding)),
            Err(err) => Err(err.clone()),
        })
    }
}

fn decode_outcome<T: DeserializeOwned>(bytes: &Bytes, encoding: Encoding) -> Result<T> {
    codec::decode_parts(encoding, bytes).map_err(|err| RayError::BadArguments {
        function: "get".into(),
        message: format!(
            "the object does not decode as {}: {err}",
            std::any::type_name::<T>()
        ),
    })
}
