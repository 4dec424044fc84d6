//! [`Id`]: what identifies an object or an actor.

use core::fmt;

use serde::{Deserialize, Serialize};

/// The id of an object or an actor: the node (runtime) that created it and 128 random
/// bits. Ids cannot be guessed or derived from one another, so an actor's id works as
/// a capability: only a guest that was given a handle (or a value holding one) learns
/// it.
///
/// `node` is 0 for a single runtime; the cluster numbers its nodes there. Displayed as
/// `NODE:HEX` (the node in hex, then the 128 bits as 32 hex digits), as the host
/// prints it. Serialized as the three numbers `node`, `hi`, `lo`, which is also how an
/// [`ActorHandle`](crate::ActorHandle) travels inside a value.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Id {
    /// The node that created the id (0 for a single runtime).
    pub node: u64,
    /// The upper 64 random bits.
    pub hi: u64,
    /// The lower 64 random bits.
    pub lo: u64,
}

impl Id {
    /// The id of nothing: what a handle or reference whose creation failed reports.
    /// The host never gives it out.
    pub const NONE: Id = Id {
        node: 0,
        hi: 0,
        lo: 0,
    };
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}:{:016x}{:016x}", self.node, self.hi, self.lo)
    }
}

#[cfg(test)]
mod tests {
    use super::Id;

    #[test]
    fn ids_display_as_the_host_does() {
        let id = Id {
            node: 0x2a,
            hi: 1,
            lo: 0xff,
        };
        assert_eq!(id.to_string(), "2a:000000000000000100000000000000ff");
        // MessagePack, by field name, as the host encodes its own ids.
        let mut expected = vec![0x83, 0xa4, b'n', b'o', b'd', b'e', 0x2a];
        expected.extend([0xa2, b'h', b'i', 1, 0xa2, b'l', b'o', 0xcc, 0xff]);
        assert_eq!(crate::codec::to_bytes(&id).unwrap(), expected);
    }
}
