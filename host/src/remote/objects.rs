//! Objects kept where they were made: a task's result that another runtime (a cluster
//! node) ran and kept instead of sending it back ([`Held`]), as its owner (the runtime
//! that submitted the task, Ray's ownership model) sees it.
//!
//! The owner's object records where the value is and its length; nothing is copied
//! until the value is used. The first `get` (or a task taking it as an argument here)
//! fetches it whole through the runtime's task transport, in pieces of at most
//! [`FETCH_PIECE`] bytes, keeps it in the local store and tells the holder to let its
//! copy go; a guest's ranged `read` fetches only its range. Dropping the last reference
//! before that releases the remote copy too (a message; a holder that hears nothing
//! lets it go when the job ends).
//!
//! The request that made the object is kept as its lineage. When the holder cannot
//! give it (its node died, or it no longer has it), the task is run again — at most
//! its `max_retries` times (Ray's object reconstruction) — and the new copy fetched;
//! past that, reads fail with [`RayError::ObjectLost`] naming the object and the node.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};

use crate::error::{RayError, Result};
use crate::object_store::Encoding;
use crate::remote::tasks::{Cancellation, TaskRequest, TaskTransport};
use crate::remote::wire::{Held, WireValue};

/// The most bytes one fetch through a task transport asks for (the node answers each
/// piece as one frame).
pub const FETCH_PIECE: u64 = 16 << 20;

/// Where a value kept by another runtime is, and how to get it (or make it) again.
pub(crate) struct RemoteObject {
    /// Where it is now (another node after a reconstruction).
    held: Mutex<Held>,
    /// Whether the holder was told to let `held` go.
    released: AtomicBool,
    /// The value itself, when running its task again made it here.
    here: Mutex<Option<Bytes>>,
    encoding: Encoding,
    transport: Arc<dyn TaskTransport>,
    /// The task that made it, with its arguments (Ray's lineage); `None` for a
    /// reference received from another node (`borrow.rs`): its owner makes it again.
    lineage: Option<TaskRequest>,
    /// How many times it may be made again.
    retries: u32,
    /// One fetch at a time: readers arriving meanwhile find it fetched.
    pub(crate) fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for RemoteObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteObject")
            .field("held", &self.held())
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

impl RemoteObject {
    /// The object `held` describes, made by `lineage`, which may run again `retries` times.
    pub(crate) fn new(
        held: Held,
        raw: bool,
        transport: Arc<dyn TaskTransport>,
        lineage: TaskRequest,
        retries: u32,
    ) -> Self {
        RemoteObject {
            held: Mutex::new(held),
            released: AtomicBool::new(false),
            here: Mutex::new(None),
            encoding: if raw {
                Encoding::Raw
            } else {
                Encoding::Msgpack
            },
            transport,
            lineage: Some(lineage),
            retries,
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// An object a reference received from another node names (`borrow.rs`): kept
    /// where `held` says, counted there for this node; never made again here.
    pub(crate) fn borrowed(held: Held, raw: bool, transport: Arc<dyn TaskTransport>) -> Self {
        RemoteObject {
            held: Mutex::new(held),
            released: AtomicBool::new(false),
            here: Mutex::new(None),
            encoding: if raw {
                Encoding::Raw
            } else {
                Encoding::Msgpack
            },
            transport,
            lineage: None,
            retries: 0,
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// Where it is now.
    pub(crate) fn held(&self) -> Held {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn len(&self) -> usize {
        usize::try_from(self.held().len).unwrap_or(usize::MAX)
    }

    /// Tells the holder to let its copy go (once).
    pub(crate) fn release(&self) {
        if !self.released.swap(true, Ordering::AcqRel) {
            self.transport.release(self.held());
        }
    }

    /// Bytes `offset..offset + len` from where it is held (no reconstruction).
    async fn fetch_from(&self, held: &Held, offset: u64, len: u64) -> Result<Bytes> {
        let mut out = BytesMut::with_capacity(usize::try_from(len).unwrap_or(0));
        let mut at = offset;
        let end = offset.saturating_add(len);
        while at < end {
            let want = (end - at).min(FETCH_PIECE);
            let piece = self.transport.fetch(held, at, want).await?;
            if piece.len() as u64 != want {
                return Err(RayError::Remote(format!(
                    "node {} answered a fetch of {want} bytes with {}",
                    held.node,
                    piece.len()
                )));
            }
            out.extend_from_slice(&piece);
            at += want;
        }
        Ok(out.freeze())
    }

    /// Bytes `range` of the value: from its holder, or, if the holder lost it, made
    /// again from its lineage (within its retries; the new copy is where it is then).
    /// `object` names it in errors.
    pub(crate) async fn fetch(&self, object: &str, offset: u64, len: u64) -> Result<Bytes> {
        let mut remade = 0u32;
        let slice = |data: &Bytes| {
            let start = usize::try_from(offset).ok()?;
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            (end <= data.len()).then(|| data.slice(start..end))
        };
        loop {
            let here = self
                .here
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            if let Some(data) = here {
                return slice(&data).ok_or_else(|| {
                    RayError::Internal(format!("{object}: bytes {offset}..+{len} are outside it"))
                });
            }
            let held = self.held();
            let mut lost = match self.fetch_from(&held, offset, len).await {
                Ok(bytes) => return Ok(bytes),
                Err(RayError::ObjectLost { reason, .. }) => reason,
                Err(err) => return Err(err),
            };
            // Run its task again until a copy is made (a node that dies meanwhile costs
            // a retry too, as a task's own retries count it).
            loop {
                if remade >= self.retries {
                    return Err(RayError::ObjectLost {
                        object: object.to_string(),
                        node: held.node,
                        reason: if self.lineage.is_none() {
                            format!("{lost}; it was received from another node as a reference")
                        } else if remade == 0 {
                            format!("{lost}; its task has no retries to make it again")
                        } else {
                            format!(
                                "{lost}; its task was run again {remade} times (its max_retries)"
                            )
                        },
                    });
                }
                remade += 1;
                match self.remake(object, &held).await {
                    Ok(Remade::Here(value)) => {
                        if value.data.len() as u64 != held.len {
                            return Err(RayError::ObjectLost {
                                object: object.to_string(),
                                node: held.node.clone(),
                                reason: format!(
                                    "its task ran again but made a value of {} bytes, not {}",
                                    value.data.len(),
                                    held.len
                                ),
                            });
                        }
                        *self
                            .here
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(value.data);
                        // The lost copy needs no release; nothing is held elsewhere now.
                        self.released.store(true, Ordering::Release);
                        break;
                    }
                    Ok(Remade::Held(new)) => {
                        *self
                            .held
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = new;
                        self.released.store(false, Ordering::Release);
                        break;
                    }
                    Err(RayError::NodeDied { node, .. }) => {
                        lost = format!("{lost}; running its task again, node {node} died too");
                    }
                    Err(err) => return Err(err),
                }
            }
        }
    }

    /// Runs the task that made it again (a lost node answers [`RayError::NodeDied`]).
    async fn remake(&self, object: &str, lost: &Held) -> Result<Remade> {
        let Some(lineage) = self.lineage.clone() else {
            return Err(RayError::ObjectLost {
                object: object.to_string(),
                node: lost.node.clone(),
                reason: "it was received from another node as a reference".into(),
            });
        };
        let function = lineage.function.clone();
        let value = match self.transport.run(lineage, Cancellation::new()).await {
            Ok(value) => value,
            Err(err @ RayError::NodeDied { .. }) => return Err(err),
            Err(err) => {
                return Err(RayError::ObjectLost {
                    object: object.to_string(),
                    node: lost.node.clone(),
                    reason: format!(
                        "that node no longer has it and running {function} again failed: {err}"
                    ),
                });
            }
        };
        Ok(match value.held {
            Some(held) if held.len == lost.len => Remade::Held(held),
            Some(held) => {
                self.transport.release(held.clone());
                return Err(RayError::ObjectLost {
                    object: object.to_string(),
                    node: lost.node.clone(),
                    reason: format!(
                        "its task ran again but made a value of {} bytes, not {}",
                        held.len, lost.len
                    ),
                });
            }
            None => Remade::Here(value),
        })
    }
}

enum Remade {
    Here(WireValue),
    Held(Held),
}

impl Drop for RemoteObject {
    fn drop(&mut self) {
        self.release();
    }
}
