//! Ids of objects and actors: node-qualified, 128 random bits, unguessable.
//!
//! An id is what a handle serializes as when it travels inside a value, and what
//! `actors.from-id` turns back into a handle. Sequential ids made that a forging
//! path: a guest could count up from its own ids and call or kill actors it was
//! never given. Random 128-bit ids close it — a guess hits a live actor with
//! probability (live actors) / 2^128 — without a per-holder token table: an id is a
//! capability because it cannot be guessed, and a guest learns one only from a
//! handle it was given (or a value holding one).
//!
//! `node` names the runtime (the machine) that created the id. A single runtime is
//! node 0; the cluster will give each node its own number, so that an id says where
//! its object or actor lives without a directory lookup, and two nodes' random parts
//! never need to be compared.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// A node-qualified, random 128-bit id (of an object or an actor).
///
/// Displayed as `NODE:HEX`, the node in hex and the 128 random bits as 32 hex digits
/// (`0:5f0c…`); [`FromStr`] parses that form back. Serialized (MessagePack, the form
/// a guest's `rustyray::Id` has) as the three fields `node`, `hi`, `lo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Id {
    /// The node (runtime) that created the id: 0 for a single runtime. The cluster will
    /// number its nodes here.
    pub node: u64,
    /// The upper 64 random bits.
    pub hi: u64,
    /// The lower 64 random bits.
    pub lo: u64,
}

impl Id {
    /// The id of nothing (a handle whose creation failed): all zero, never generated.
    pub const NONE: Id = Id {
        node: 0,
        hi: 0,
        lo: 0,
    };

    /// A fresh id on `node`, its 128 bits from the thread's CSPRNG (ChaCha seeded by
    /// the operating system). Never [`Id::NONE`]'s random part.
    pub fn random(node: u64) -> Id {
        let mut rng = rand::rng();
        let (hi, mut lo) = (rng.next_u64(), rng.next_u64());
        if hi == 0 && lo == 0 {
            lo = 1;
        }
        Id { node, hi, lo }
    }

    /// The 128 random bits as one number.
    pub fn bits(&self) -> u128 {
        (u128::from(self.hi) << 64) | u128::from(self.lo)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}:{:016x}{:016x}", self.node, self.hi, self.lo)
    }
}

/// Why a string is not an [`Id`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an id (NODE:HEX, 32 hex digits after the colon): {0:?}")]
pub struct IdParseError(String);

impl FromStr for Id {
    type Err = IdParseError;

    fn from_str(text: &str) -> Result<Id, IdParseError> {
        let error = || IdParseError(text.chars().take(80).collect());
        let (node, bits) = text.split_once(':').ok_or_else(error)?;
        if bits.len() != 32 || !bits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(error());
        }
        let node = u64::from_str_radix(node, 16).map_err(|_| error())?;
        let bits = u128::from_str_radix(bits, 16).map_err(|_| error())?;
        Ok(Id {
            node,
            hi: (bits >> 64) as u64,
            lo: bits as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_round_trip_through_text() {
        let a = Id::random(0);
        let b = Id::random(0);
        assert_ne!(a, b);
        assert_ne!(a, Id::NONE);
        assert_eq!(a.to_string().parse::<Id>(), Ok(a));
        let far = Id::random(0x2a);
        assert!(far.to_string().starts_with("2a:"), "{far}");
        assert_eq!(far.to_string().parse::<Id>(), Ok(far));
        assert!("7".parse::<Id>().is_err());
        assert!("0:123".parse::<Id>().is_err());
    }

    #[test]
    fn ids_serialize_as_three_fields() {
        let id = Id {
            node: 1,
            hi: 2,
            lo: 3,
        };
        let value = crate::codec::encode(&id).unwrap();
        assert_eq!(
            crate::codec::to_json(&value).unwrap(),
            serde_json::json!({"node": 1, "hi": 2, "lo": 3})
        );
        assert_eq!(crate::codec::decode::<Id>(&value).unwrap(), id);
    }
}
