//! Forging ids: a guest that was given nothing guesses actor ids — small sequential
//! numbers (what ids used to be), neighbours of the ids it does know (its own actor's
//! and its own object's), single bit flips of them, other node numbers — and tries to
//! turn each into a handle with `ActorHandle::from_id`. Whatever it finds that is not
//! its own actor it calls and kills: a regression would show up as a found id *and* a
//! harmed canary.

use rustyray::{ActorHandle, Id, RayError};

use crate::{Fragile, FragileHandle};

/// The guesses made from what the forger knows: ~5,000 ids.
fn guesses(own: &[Id]) -> Vec<Id> {
    let mut ids = Vec::new();
    // Sequential small numbers, on a few nodes, in either half.
    for node in 0..4u64 {
        for k in 0..512u64 {
            ids.push(Id { node, hi: 0, lo: k });
            if node == 0 {
                ids.push(Id { node, hi: k, lo: 0 });
                ids.push(Id {
                    node: k,
                    hi: 0,
                    lo: 0,
                });
            }
        }
    }
    for known in own {
        // Neighbours of a known id.
        for k in 1..=256u64 {
            for (hi, lo) in [
                (known.hi, known.lo.wrapping_add(k)),
                (known.hi, known.lo.wrapping_sub(k)),
                (known.hi.wrapping_add(k), known.lo),
                (known.hi.wrapping_sub(k), known.lo),
            ] {
                ids.push(Id { hi, lo, ..*known });
            }
        }
        // Every single bit flip.
        for bit in 0..64 {
            ids.push(Id {
                node: known.node ^ (1 << bit),
                ..*known
            });
            ids.push(Id {
                hi: known.hi ^ (1 << bit),
                ..*known
            });
            ids.push(Id {
                lo: known.lo ^ (1 << bit),
                ..*known
            });
        }
        // The same random bits on other nodes, and swapped halves.
        for node in 1..=16u64 {
            ids.push(Id { node, ..*known });
        }
        ids.push(Id {
            hi: known.lo,
            lo: known.hi,
            ..*known
        });
    }
    ids
}

/// Forges ids and reports `(tried, found, refused as ActorDied, another error if any)`.
/// `found` counts handles to actors other than its own; each was called and killed.
#[rustyray::remote]
fn forge_ids() -> Result<(u32, u32, u32, String), RayError> {
    let mine = Fragile::remote();
    mine.ready()?;
    let object = rustyray::put(&7u32)?;
    // Its own object's id is not an actor id either: it is among the guesses.
    let own = [mine.id(), object.id()];
    let (mut tried, mut found, mut refused) = (0u32, 0u32, 0u32);
    let mut other = String::new();
    for guess in guesses(&own) {
        tried += 1;
        match ActorHandle::from_id(guess) {
            Ok(handle) if handle.id() == mine.id() => {}
            Ok(handle) => {
                // The attack: use what was found.
                let _ = handle.call::<u32>("ok", vec![]).get();
                handle.kill();
                found += 1;
            }
            Err(RayError::ActorDied(_)) => refused += 1,
            Err(error) if other.is_empty() => other = error.to_string(),
            Err(_) => {}
        }
    }
    // Its own id, which it was given, still works.
    let again = ActorHandle::from_id(mine.id())?;
    again.call::<u32>("ok", vec![]).get()?;
    Ok((tried, found, refused, other))
}

/// Calls `ok` on the actor it is given (as a handle inside its arguments): the host
/// passes forged ids here, which must fail to decode.
#[rustyray::remote]
fn poke(target: FragileHandle) -> Result<u32, RayError> {
    target.ok().get()
}

/// The error `ActorHandle::from_id` gives for this id, or "found" if it finds an actor.
#[rustyray::remote]
fn from_id_error(id: Id) -> String {
    match ActorHandle::from_id(id) {
        Ok(_) => "found".to_owned(),
        Err(error) => format!("{error:?}"),
    }
}

/// An object reference written by hand inside a value: extension 82 with the id of an
/// object this guest was never given (the host passes one it learned out of band), never
/// shared with the host through a handle.
struct ForgedRef(Id);

impl serde::Serialize for ForgedRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Payload([u8; 24]);
        impl serde::Serialize for Payload {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_bytes(&self.0)
            }
        }
        let mut payload = [0u8; 24];
        payload[..8].copy_from_slice(&self.0.node.to_be_bytes());
        payload[8..16].copy_from_slice(&self.0.hi.to_be_bytes());
        payload[16..].copy_from_slice(&self.0.lo.to_be_bytes());
        serializer.serialize_newtype_struct("_ExtStruct", &(82i8, Payload(payload)))
    }
}

/// The length of the object `refs[0]` refers to.
#[rustyray::remote]
fn nested_len(refs: Vec<rustyray::ObjectRef<Vec<u8>>>) -> Result<usize, RayError> {
    Ok(refs[0].get()?.len())
}

/// Forges references to `target` inside values, every way a guest can: stored alone (the
/// host keeps the bytes but no reference: decoding it finds nothing), stored beside a
/// real reference (the host refuses the value), and nested in a task argument (the task
/// cannot decode it). The errors, in that order; "reached" if any read the object.
#[rustyray::remote]
fn forge_nested_ref(target: Id) -> Result<Vec<String>, RayError> {
    let mut errors = Vec::new();
    let forged = rustyray::put(&vec![ForgedRef(target)])?;
    let as_refs: rustyray::ObjectRef<Vec<rustyray::ObjectRef<Vec<u8>>>> = forged.cast();
    errors.push(match as_refs.get() {
        Ok(refs) => match refs[0].get() {
            Ok(_) => "reached".to_owned(),
            Err(error) => format!("{error:?}"),
        },
        Err(error) => format!("{error:?}"),
    });
    let mine = rustyray::put(&1u8)?;
    errors.push(match rustyray::put(&(mine, ForgedRef(target))) {
        Ok(_) => "stored".to_owned(),
        Err(error) => format!("{error:?}"),
    });
    let task: rustyray::ObjectRef<usize> = rustyray::__private::submit(
        "nested_len",
        &[],
        vec![rustyray::arg(vec![ForgedRef(target)])],
        rustyray::TaskOptions::new(),
    );
    errors.push(match task.get() {
        Ok(_) => "reached".to_owned(),
        Err(error) => format!("{error:?}"),
    });
    Ok(errors)
}
