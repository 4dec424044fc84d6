//! How values become bytes: postcard, the same encoding the guest SDK uses.
//!
//! Kept in one place so the host and every guest agree. Raw byte objects
//! (`put_bytes`) are stored unframed so that they can be shared without a copy; when
//! one must be read as a value it is framed as postcard's `Vec<u8>` (a varint
//! length, then the bytes).

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{RayError, Result};

/// Encodes a value.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Bytes> {
    postcard::to_stdvec(value)
        .map(Bytes::from)
        .map_err(|err| RayError::Serialization(err.to_string()))
}

/// Decodes a value; trailing bytes are an error (they mean a type mismatch).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> std::result::Result<T, postcard::Error> {
    let (value, rest) = postcard::take_from_bytes(bytes)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(postcard::Error::DeserializeBadEncoding)
    }
}

/// Raw bytes as postcard would encode a `Vec<u8>` of them.
#[doc(hidden)]
pub fn frame_raw(bytes: &[u8]) -> Vec<u8> {
    let mut framed = Vec::with_capacity(bytes.len() + 10);
    let mut len = bytes.len() as u64;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            framed.push(byte);
            break;
        }
        framed.push(byte | 0x80);
    }
    framed.extend_from_slice(bytes);
    framed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_framing_matches_postcard() {
        for len in [0usize, 1, 127, 128, 300, 70_000] {
            let data = vec![7u8; len];
            assert_eq!(frame_raw(&data), postcard::to_stdvec(&data).unwrap());
        }
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = encode(&5i32).unwrap().to_vec();
        bytes.push(0);
        assert!(decode::<i32>(&bytes).is_err());
    }
}
