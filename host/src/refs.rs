//! Object references inside values (Ray's borrowing and "contained in" references).
//!
//! An `ObjectRef` nested in a value (a field, a `Vec`, a map, a task's return value)
//! travels as a MessagePack extension of type [`OBJECT_REF_EXT`] whose 24 bytes are
//! the object's id (node, hi, lo, big-endian). The bytes alone grant nothing: what
//! keeps the object alive and lets a receiver use it is the list of slots a stored
//! [`Value`](crate::codec::Value) carries beside its bytes (`refs`), one per
//! extension, and, for a stored object, the slot's contained list.
//!
//! Inside one instance, two tables make this a capability scheme, not an id lookup:
//!
//! - `shared`: a guest that serializes an `ObjectRef` into a value first calls
//!   `objects.share` on its handle, which records the slot here. When the guest then
//!   hands the host a value (put, task or call argument, return value), the host scans
//!   it (only if something was shared: values without references cost nothing) and
//!   resolves each id *from this table*. An id the guest did not share — made up, or
//!   learned from a log — is refused: no table outside the instance is ever consulted.
//! - `received`: when the host hands a value holding references to an instance
//!   (task and actor arguments, `objects.get`), the contained slots are recorded here,
//!   and `objects.receive(id)` gives the guest a handle to one of them. Nothing else
//!   can be received.
//!
//! Both count occurrences, so each serialized reference is matched by one store and
//! each received one by one handle; what is left is dropped with the instance (or at
//! the end of an actor call).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use crate::codec::Value;
use crate::error::{RayError, Result};
use crate::id::Id;
use crate::object_store::{Encoding, ObjectId, Slot};

/// The MessagePack extension type of an object reference (ASCII `R`).
pub const OBJECT_REF_EXT: i8 = 82;

/// The length of a reference's extension payload: the id's three `u64`s.
pub const OBJECT_REF_LEN: usize = 24;

/// The most objects one task or actor call may return (`num_returns`): each is a slot
/// the host makes at submission, so a guest cannot ask for millions.
pub const MAX_NUM_RETURNS: usize = 4096;

/// Refuses a `num_returns` above [`MAX_NUM_RETURNS`].
pub(crate) fn check_num_returns(count: usize) -> Result<()> {
    if count > MAX_NUM_RETURNS {
        return Err(RayError::InvalidArgument(format!(
            "num_returns = {count} is more than the {MAX_NUM_RETURNS} objects a task or \
             call may return"
        )));
    }
    Ok(())
}

/// The 24 bytes of an id in a reference extension.
pub(crate) fn id_bytes(id: ObjectId) -> [u8; OBJECT_REF_LEN] {
    let mut bytes = [0u8; OBJECT_REF_LEN];
    bytes[..8].copy_from_slice(&id.0.node.to_be_bytes());
    bytes[8..16].copy_from_slice(&id.0.hi.to_be_bytes());
    bytes[16..].copy_from_slice(&id.0.lo.to_be_bytes());
    bytes
}

/// The id in a reference extension's payload, if it has the right length.
pub(crate) fn id_from_bytes(bytes: &[u8]) -> Option<ObjectId> {
    if bytes.len() != OBJECT_REF_LEN {
        return None;
    }
    let word = |range: Range<usize>| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[range]);
        u64::from_be_bytes(word)
    };
    Some(ObjectId(Id {
        node: word(0..8),
        hi: word(8..16),
        lo: word(16..24),
    }))
}

/// The objects a value holds references to, one per reference, in the order they
/// appear in its bytes. Compared by id. One pointer wide when empty or not, so values
/// (and errors carrying one) stay small.
#[derive(Clone, Default)]
#[allow(
    clippy::box_collection,
    reason = "one pointer wide: values, and the errors that carry one, stay small"
)]
pub struct Contained(Option<Box<Vec<Arc<Slot>>>>);

impl Contained {
    /// The references `slots` (none: nothing allocated).
    pub(crate) fn new(slots: Vec<Arc<Slot>>) -> Self {
        if slots.is_empty() {
            Contained(None)
        } else {
            Contained(Some(Box::new(slots)))
        }
    }

    /// The objects, in order.
    pub(crate) fn slots(&self) -> &[Arc<Slot>] {
        self.0.as_deref().map_or(&[], |slots| slots.as_slice())
    }

    /// The objects, taken.
    pub(crate) fn into_vec(self) -> Vec<Arc<Slot>> {
        self.0.map(|slots| *slots).unwrap_or_default()
    }

    /// Whether the value holds no reference.
    pub fn is_empty(&self) -> bool {
        self.slots().is_empty()
    }

    /// How many references it holds.
    pub fn len(&self) -> usize {
        self.slots().len()
    }

    /// The ids of the objects, in order.
    pub fn ids(&self) -> Vec<ObjectId> {
        self.slots().iter().map(|slot| slot.id()).collect()
    }
}

impl std::fmt::Debug for Contained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.slots().iter().map(|s| s.id()))
            .finish()
    }
}

impl PartialEq for Contained {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .slots()
                .iter()
                .zip(other.slots())
                .all(|(a, b)| Arc::ptr_eq(a, b) || a.id() == b.id())
    }
}

impl Eq for Contained {}

/// One item of a MessagePack stream.
enum Item {
    /// A value with no children (its bytes are skipped).
    Leaf,
    /// An array or map header: how many values follow as its children.
    Children(u64),
    /// An extension: its type and payload.
    Ext(i8, Range<usize>),
}

/// Reads the item at `pos`; the item and where the next one starts.
fn item(data: &[u8], pos: usize) -> std::result::Result<(Item, usize), String> {
    let truncated = || format!("a MessagePack value cut short at byte {pos}");
    let byte = |at: usize| data.get(at).copied().ok_or_else(truncated);
    let uint = |at: usize, len: usize| -> std::result::Result<u64, String> {
        let bytes = data.get(at..at + len).ok_or_else(truncated)?;
        Ok(bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b)))
    };
    let skip = |len: u64, after: usize| -> std::result::Result<(Item, usize), String> {
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| after.checked_add(len))
            .filter(|end| *end <= data.len())
            .ok_or_else(truncated)?;
        Ok((Item::Leaf, end))
    };
    let ext = |len: u64, at: usize| -> std::result::Result<(Item, usize), String> {
        let kind = byte(at)? as i8;
        let start = at + 1;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| start.checked_add(len))
            .filter(|end| *end <= data.len())
            .ok_or_else(truncated)?;
        Ok((Item::Ext(kind, start..end), end))
    };
    let marker = byte(pos)?;
    let next = pos + 1;
    match marker {
        0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => Ok((Item::Leaf, next)),
        0x80..=0x8f => Ok((Item::Children(2 * u64::from(marker & 0x0f)), next)),
        0x90..=0x9f => Ok((Item::Children(u64::from(marker & 0x0f)), next)),
        0xa0..=0xbf => skip(u64::from(marker & 0x1f), next),
        0xc4 | 0xd9 => skip(uint(next, 1)?, next + 1),
        0xc5 | 0xda => skip(uint(next, 2)?, next + 2),
        0xc6 | 0xdb => skip(uint(next, 4)?, next + 4),
        0xc7 => ext(uint(next, 1)?, next + 1),
        0xc8 => ext(uint(next, 2)?, next + 2),
        0xc9 => ext(uint(next, 4)?, next + 4),
        0xca | 0xce | 0xd2 => skip(4, next),
        0xcb | 0xcf | 0xd3 => skip(8, next),
        0xcc | 0xd0 => skip(1, next),
        0xcd | 0xd1 => skip(2, next),
        0xd4 => ext(1, next),
        0xd5 => ext(2, next),
        0xd6 => ext(4, next),
        0xd7 => ext(8, next),
        0xd8 => ext(16, next),
        0xdc => Ok((Item::Children(uint(next, 2)?), next + 2)),
        0xdd => Ok((Item::Children(uint(next, 4)?), next + 4)),
        0xde => Ok((Item::Children(2 * uint(next, 2)?), next + 2)),
        0xdf => Ok((Item::Children(2 * uint(next, 4)?), next + 4)),
        0xc1 => Err(format!("byte {pos} is not a MessagePack marker (0xc1)")),
    }
}

/// Walks the one value starting at `pos` without recursion (so no nesting depth can
/// exhaust the stack), calling `found` with each reference extension's id; where the
/// value ends.
fn walk(
    data: &[u8],
    mut pos: usize,
    found: &mut impl FnMut(ObjectId) -> Result<()>,
) -> Result<usize> {
    let bad = |message: String| RayError::BadArguments {
        function: "a value holding object references".into(),
        message,
    };
    // Each item consumes at least one byte, so this loop ends within `data.len()` items
    // whatever the headers claim.
    let mut remaining: u64 = 1;
    while remaining > 0 {
        remaining -= 1;
        let (item, next) = item(data, pos).map_err(bad)?;
        pos = next;
        match item {
            Item::Leaf => {}
            Item::Children(count) => remaining = remaining.saturating_add(count),
            Item::Ext(OBJECT_REF_EXT, payload) => match id_from_bytes(&data[payload]) {
                Some(id) => found(id)?,
                None => {
                    return Err(bad(format!(
                        "an object reference (extension {OBJECT_REF_EXT}) must hold \
                         {OBJECT_REF_LEN} bytes"
                    )));
                }
            },
            Item::Ext(..) => {}
        }
    }
    Ok(pos)
}

/// The ids of the references in the MessagePack value `data`, in order.
pub(crate) fn scan(data: &[u8]) -> Result<Vec<ObjectId>> {
    let mut ids = Vec::new();
    walk(data, 0, &mut |id| {
        ids.push(id);
        Ok(())
    })?;
    Ok(ids)
}

/// The byte ranges of the `count` elements of the MessagePack array `data` (a task's
/// tuple of `num_returns` values). For `count == 0`, `()` (nil) or an empty array.
pub(crate) fn split(data: &[u8], count: usize) -> std::result::Result<Vec<Range<usize>>, String> {
    if count == 0 && (data == [0xc0] || data == [0x90]) {
        return Ok(Vec::new());
    }
    let (header, mut pos) = item(data, 0)?;
    let len = match header {
        Item::Children(len) if data[0] & 0xf0 == 0x90 || data[0] == 0xdc || data[0] == 0xdd => len,
        _ => {
            return Err(format!(
                "expected a tuple of {count} values, got another value"
            ));
        }
    };
    if len != count as u64 {
        return Err(format!("expected a tuple of {count} values, got {len}"));
    }
    let mut ranges = Vec::with_capacity(count);
    for _ in 0..count {
        let end = walk(data, pos, &mut |_| Ok(())).map_err(|err| err.to_string())?;
        ranges.push(pos..end);
        pos = end;
    }
    if pos != data.len() {
        return Err(format!("{} unexpected trailing bytes", data.len() - pos));
    }
    Ok(ranges)
}

/// The references one instance may store (`shared`) and take handles to (`received`).
#[derive(Default)]
pub(crate) struct InstanceRefs {
    shared: HashMap<ObjectId, (Arc<Slot>, usize)>,
    received: HashMap<ObjectId, (Arc<Slot>, usize)>,
}

fn add(table: &mut HashMap<ObjectId, (Arc<Slot>, usize)>, slot: &Arc<Slot>) {
    table
        .entry(slot.id())
        .and_modify(|(_, count)| *count += 1)
        .or_insert_with(|| (slot.clone(), 1));
}

fn take(table: &mut HashMap<ObjectId, (Arc<Slot>, usize)>, id: ObjectId) -> Option<Arc<Slot>> {
    let std::collections::hash_map::Entry::Occupied(mut entry) = table.entry(id) else {
        return None;
    };
    let (slot, count) = entry.get_mut();
    let slot = slot.clone();
    *count -= 1;
    if *count == 0 {
        entry.remove();
    }
    Some(slot)
}

impl InstanceRefs {
    /// The guest is about to serialize a reference to `slot` into a value.
    pub(crate) fn share(&mut self, slot: &Arc<Slot>) {
        add(&mut self.shared, slot);
    }

    /// The guest was handed a value holding `contained`.
    pub(crate) fn receive_all(&mut self, contained: &[Arc<Slot>]) {
        for slot in contained {
            add(&mut self.received, slot);
        }
    }

    /// A handle for the guest to an object it received inside a value.
    pub(crate) fn receive(&mut self, id: ObjectId) -> Option<Arc<Slot>> {
        take(&mut self.received, id)
    }

    /// The references inside `data`, a value the guest hands the host, resolved from
    /// what it shared. Nothing to do (and nothing scanned) unless it shared something.
    pub(crate) fn resolve(&mut self, encoding: Encoding, data: &[u8]) -> Result<Contained> {
        if self.shared.is_empty() || encoding != Encoding::Msgpack {
            return Ok(Contained::default());
        }
        let mut contained = Vec::new();
        let shared = &mut self.shared;
        walk(data, 0, &mut |id| match take(shared, id) {
            Some(slot) => {
                contained.push(slot);
                Ok(())
            }
            None => Err(RayError::BadArguments {
                function: "a value holding object references".into(),
                message: format!(
                    "it holds a reference to {id}, which this instance did not share \
                     (only a reference serialized from a handle it holds can travel)"
                ),
            }),
        })
        .inspect_err(|_| {
            // Give back what this value had taken, so a refused store changes nothing.
            for slot in &contained {
                add(shared, slot);
            }
        })?;
        Ok(Contained::new(contained))
    }

    /// Forgets everything (the end of an actor call: what was not used is dropped).
    pub(crate) fn clear(&mut self) {
        if !self.shared.is_empty() {
            self.shared.clear();
        }
        if !self.received.is_empty() {
            self.received.clear();
        }
    }
}

/// The part of `contained` that the MessagePack value `data` (a piece of the value
/// `contained` belongs to) refers to, in order.
pub(crate) fn part_of(contained: &Contained, data: &[u8]) -> Contained {
    if contained.is_empty() {
        return Contained::default();
    }
    let ids = scan(data).unwrap_or_default();
    Contained::new(
        ids.iter()
            .filter_map(|id| {
                contained
                    .slots()
                    .iter()
                    .find(|slot| slot.id() == *id)
                    .cloned()
            })
            .collect(),
    )
}

/// Stores `value` as a new object that holds the objects it refers to.
pub(crate) fn put(objects: &crate::object_store::ObjectStore, value: Value) -> Result<Arc<Slot>> {
    if value.refs.is_empty() {
        return objects.put(value.data, value.encoding);
    }
    let slot = objects.new_slot();
    slot.set_contained(value.refs.into_vec());
    slot.complete(Ok((value.data, value.encoding)))?;
    objects.record_put(&slot);
    Ok(slot)
}

/// Fills `slot` with a task's or call's outcome; a value's references are kept with it.
/// An oversized value fills it with `ObjectStoreFull` (also returned).
pub(crate) fn fill(slot: &Slot, outcome: Result<Value>) -> Result<()> {
    slot.complete(outcome.map(|value| {
        slot.set_contained(value.refs.into_vec());
        (value.data, value.encoding)
    }))
}

thread_local! {
    /// While the host encodes a value: the slots of the `ObjectRef`s serialized into it.
    static ENCODING: std::cell::RefCell<Option<Vec<Arc<Slot>>>> = const { std::cell::RefCell::new(None) };
    /// While the host decodes a value: the slots it holds references to.
    static DECODING: std::cell::RefCell<Option<Vec<Arc<Slot>>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `encode` collecting the references serialized into the value (host side).
pub(crate) fn encoding<R>(encode: impl FnOnce() -> R) -> (R, Contained) {
    let outer = ENCODING.replace(Some(Vec::new()));
    let result = encode();
    let refs = ENCODING.replace(outer).unwrap_or_default();
    (result, Contained::new(refs))
}

/// Called by a host `ObjectRef`'s `Serialize`: records its slot in the value being
/// encoded; `false` if no rustyray value is being encoded.
pub(crate) fn note_encoded(slot: &Arc<Slot>) -> bool {
    ENCODING.with_borrow_mut(|refs| match refs {
        Some(refs) => {
            refs.push(slot.clone());
            true
        }
        None => false,
    })
}

/// Runs `decode` with `contained` as the references the value may resolve (host side).
pub(crate) fn decoding<R>(contained: &[Arc<Slot>], decode: impl FnOnce() -> R) -> R {
    if contained.is_empty() {
        return decode();
    }
    let outer = DECODING.replace(Some(contained.to_vec()));
    let result = decode();
    DECODING.set(outer);
    result
}

/// Called by a host `ObjectRef`'s `Deserialize`: the slot of `id` among the references
/// of the value being decoded.
pub(crate) fn decoded(id: ObjectId) -> Option<Arc<Slot>> {
    DECODING.with_borrow(|refs| refs.as_ref()?.iter().find(|slot| slot.id() == id).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(id: ObjectId) -> Vec<u8> {
        let mut bytes = vec![0xc7, OBJECT_REF_LEN as u8, OBJECT_REF_EXT as u8];
        bytes.extend(id_bytes(id));
        bytes
    }

    #[test]
    fn finds_references_at_any_depth() {
        let a = ObjectId(Id::random(0));
        let b = ObjectId(Id::random(3));
        // {"x": [1, ref a, "s"], 2: [[ref b]]}
        let mut data = vec![0x82, 0xa1, b'x', 0x93, 0x01];
        data.extend(ext(a));
        data.extend([0xa1, b's', 0x02, 0x91, 0x91]);
        data.extend(ext(b));
        assert_eq!(scan(&data).unwrap(), vec![a, b]);
        // Other extensions and binaries are skipped whole.
        let other = [0xd6, 5, OBJECT_REF_EXT as u8, 0, 0, 0];
        assert_eq!(scan(&other).unwrap(), vec![]);
        assert!(scan(&[0xd4, OBJECT_REF_EXT as u8, 0]).is_err());
    }

    #[test]
    fn hostile_headers_end_the_walk() {
        // An array that claims 2^32 - 1 elements and has none; nesting a million deep.
        assert!(scan(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
        let deep = vec![0x91; 1_000_000];
        assert!(scan(&deep).is_err());
        let mut fine = vec![0x91; 1_000_000];
        fine.push(0xc0);
        assert_eq!(scan(&fine).unwrap(), vec![]);
        assert!(scan(&[0xc1]).is_err());
        assert!(scan(&[0xdb, 0xff, 0xff, 0xff, 0xff, 1]).is_err());
    }

    #[test]
    fn splits_a_tuple() {
        // (1, "ab", [2, 3])
        let data = [0x93, 0x01, 0xa2, b'a', b'b', 0x92, 0x02, 0x03];
        let parts = split(&data, 3).unwrap();
        assert_eq!(parts, vec![1..2, 2..5, 5..8]);
        assert!(split(&data, 2).unwrap_err().contains("got 3"));
        assert!(split(&[0x01], 2).is_err());
        assert_eq!(split(&[0xc0], 0).unwrap(), vec![]);
        assert_eq!(split(&[0x90], 0).unwrap(), vec![]);
    }
}
