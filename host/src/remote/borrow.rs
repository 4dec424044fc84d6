//! Object references nested in values crossing nodes (Ray's borrowing): an
//! `ObjectRef` inside a task's arguments (a `Vec<ObjectRef>`, a struct holding one) or
//! inside a task's result travels as its object's address — the node that keeps its
//! bytes and its key there ([`Held`]) — beside the value's bytes ([`WireValue::refs`],
//! one [`RefAddress`] per reference extension, in order), and the runtime that receives
//! it makes an object of the same id, kept there, fetched on first use
//! (`objects.rs`).
//!
//! Counting is per node, at the node that keeps the bytes (`node/src/cluster_objects.rs`):
//! every runtime that holds a reference is counted under its node, and a copy is let go
//! when no node counts it any more (or its job ends; a counted node declared dead is
//! dropped from the count). The counts follow the references:
//!
//! - A runtime sending a reference first makes it addressable ([`export`]): an object it
//!   holds in its own store is copied once to its node, which keeps it counted for this
//!   runtime (the copy's count is the object's: let go when the object here is freed);
//!   an object kept elsewhere already gets one more count for this node. Either is
//!   remembered on the object, so sending it again costs nothing.
//! - Whoever knows where the value goes counts the receiver before sending it: the node
//!   placing a task counts the node that runs it, the node answering a task counts the
//!   node the answer goes to — while the sender still holds its own reference, so a copy
//!   is never let go in between.
//! - The receiver's objects ([`import`]) let their count go when dropped (or fetched
//!   whole), as any object kept elsewhere does.
//!
//! Limits: an object referenced this way must be ready and hold no references itself
//! (its value would need addresses too); such a value is refused with
//! [`RayError::ReferencesCannotCross`], and a task carrying one runs where it was
//! submitted, as before; so does a reference to an object that failed.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::codec::Value;
use crate::error::{RayError, Result};
use crate::object_store::{Encoding, Slot};
use crate::refs::Contained;
use crate::remote::objects::RemoteObject;
use crate::remote::tasks::TaskTransport;
use crate::remote::wire::{Held, WireValue};
use crate::runtime::RuntimeInner;

/// Where a referenced object is, and how its bytes are encoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RefAddress {
    /// The node that keeps it, its key there and its length.
    pub held: Held,
    /// Raw bytes (`true`) or MessagePack.
    pub raw: bool,
}

/// An object of this runtime made addressable to others: the node keeps `held`
/// counted for this runtime until this is dropped (with the object).
pub(crate) struct Exported {
    held: Held,
    transport: Arc<dyn TaskTransport>,
}

impl Exported {
    pub(crate) fn held(&self) -> &Held {
        &self.held
    }
}

impl Drop for Exported {
    fn drop(&mut self) {
        self.transport.release(self.held.clone());
    }
}

fn cannot_cross(what: &str, why: impl std::fmt::Display) -> RayError {
    RayError::ReferencesCannotCross {
        what: format!("{what}: {why}"),
    }
}

/// The address of `slot` for another node: where its bytes are kept, counted for this
/// runtime's node as long as the object lives here. Waits until it is ready.
async fn address(
    transport: &Arc<dyn TaskTransport>,
    slot: &Arc<Slot>,
    what: &str,
    job: Option<&str>,
) -> Result<RefAddress> {
    let stored = match slot.ready_unfetched().await {
        Ok(stored) => *stored,
        Err(err) => return Err(cannot_cross(what, format!("{} failed: {err}", slot.id()))),
    };
    let raw = stored.encoding == Encoding::Raw;
    if let Some(exported) = slot.exported() {
        return Ok(RefAddress {
            held: exported.held().clone(),
            raw,
        });
    }
    if !slot.contained().is_empty() {
        return Err(cannot_cross(
            what,
            format!("{} itself holds object references", slot.id()),
        ));
    }
    // Kept elsewhere already: one more count there, this runtime's.
    let elsewhere = match slot.remote_held() {
        Some(held) => match transport.borrow(&held, None).await {
            Ok(()) => Some(held),
            // Fetched here meanwhile (the copy there let go), or lost there: from here.
            Err(RayError::ObjectLost { .. }) => None,
            Err(err) => return Err(err),
        },
        None => None,
    };
    let held = match elsewhere {
        Some(held) => held,
        // Here (fetched first, or made again, if it was kept elsewhere): copied once to
        // this runtime's node, which keeps it for the others.
        None => {
            let stored = match slot.ready().await {
                Ok(stored) => *stored,
                Err(err) => return Err(cannot_cross(what, format!("{} failed: {err}", slot.id()))),
            };
            let value = slot.value(&stored).map_err(|err| cannot_cross(what, err))?;
            transport
                .keep(
                    WireValue {
                        raw,
                        data: value.data,
                        held: None,
                        refs: Vec::new(),
                    },
                    job.map(str::to_string),
                )
                .await?
        }
    };
    let exported = Exported {
        held: held.clone(),
        transport: transport.clone(),
    };
    // Two exports at once: the second's copy is let go, the first's address is used.
    let held = match slot.set_exported(exported) {
        Ok(()) => held,
        Err(mine) => {
            drop(mine);
            slot.exported().map_or(held, |first| first.held().clone())
        }
    };
    Ok(RefAddress { held, raw })
}

/// The addresses of the references `value` holds, in order (none: nothing to do).
/// `what` names the value in errors; an object copied to this runtime's node for the
/// others belongs to `job` there (let go when it ends; `None`: the transport's job).
pub(crate) async fn export(
    runtime: &RuntimeInner,
    value: &Value,
    what: &str,
    job: Option<&str>,
) -> Result<Vec<RefAddress>> {
    if value.refs.is_empty() {
        return Ok(Vec::new());
    }
    let Some(transport) = runtime.object_transport() else {
        return Err(cannot_cross(what, "this runtime is not on a cluster node"));
    };
    let mut addresses = Vec::with_capacity(value.refs.len());
    for slot in value.refs.slots() {
        addresses.push(address(transport, slot, what, job).await?);
    }
    Ok(addresses)
}

/// `value` as it crosses: its bytes and the addresses of the references it holds
/// (objects copied for the others belong to `job`, as in [`export`]).
pub(crate) async fn to_wire(
    runtime: &RuntimeInner,
    value: &Value,
    what: &str,
    job: Option<&str>,
) -> Result<WireValue> {
    let refs = export(runtime, value, what, job).await?;
    Ok(WireValue {
        raw: value.encoding == Encoding::Raw,
        data: value.data.clone(),
        held: None,
        refs,
    })
}

/// The value `wire` describes, as this runtime keeps it: each reference it holds
/// becomes an object of the same id kept where its address says (its count, which the
/// sender made for this node, let go when the object is dropped here). Addresses that
/// do not match the references in the bytes are refused.
pub(crate) fn import(runtime: &RuntimeInner, wire: WireValue) -> Result<Value> {
    if wire.refs.is_empty() {
        return Ok(wire.into_value());
    }
    let refused =
        |why: String| RayError::Serialization(format!("a value from another node: {why}"));
    let Some(transport) = runtime.object_transport() else {
        return Err(refused(
            "it holds object references and this runtime is not on a cluster node".into(),
        ));
    };
    if wire.raw {
        return Err(refused("raw bytes cannot hold object references".into()));
    }
    let ids = crate::refs::scan(&wire.data)?;
    if ids.len() != wire.refs.len() {
        return Err(refused(format!(
            "it holds {} object references but names {} addresses",
            ids.len(),
            wire.refs.len()
        )));
    }
    let mut slots = Vec::with_capacity(ids.len());
    for (id, address) in ids.into_iter().zip(wire.refs) {
        let slot = runtime.objects.slot_with_id(id);
        slot.hold_remote(Arc::new(RemoteObject::borrowed(
            address.held,
            address.raw,
            transport.clone(),
        )));
        let encoding = if address.raw {
            Encoding::Raw
        } else {
            Encoding::Msgpack
        };
        slot.complete(Ok((Bytes::new(), encoding)))?;
        slots.push(slot);
    }
    Ok(Value::with_refs(
        Encoding::Msgpack,
        wire.data,
        Contained::new(slots),
    ))
}

/// A reference passed as itself (a parameter of type `ObjectRef`), as a value holding
/// just that reference: it crosses as any nested one, and the callee's parameter
/// decodes it the same way.
pub(crate) fn reference_value(slot: &Arc<Slot>) -> Value {
    let mut data = Vec::with_capacity(3 + crate::refs::OBJECT_REF_LEN);
    // MessagePack ext 8: length, type, payload.
    data.extend_from_slice(&[
        0xc7,
        crate::refs::OBJECT_REF_LEN as u8,
        crate::refs::OBJECT_REF_EXT as u8,
    ]);
    data.extend_from_slice(&crate::refs::id_bytes(slot.id()));
    Value::with_refs(
        Encoding::Msgpack,
        Bytes::from(data),
        Contained::new(vec![slot.clone()]),
    )
}
