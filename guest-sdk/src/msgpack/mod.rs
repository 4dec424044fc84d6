//! The SDK's own MessagePack serde codec: byte for byte what `rmp_serde::to_vec_named`
//! writes (the host's encoder, and what Python reads), and a decoder that accepts what
//! `rmp_serde`'s does for serde's data model.
//!
//! Why not `rmp-serde` itself: its `std::io`-based errors bring `std::io::Error`'s
//! `Display`, wasi-libc's `strerror` table and `rmp`'s marker names into every guest, and
//! every instance maps its data image: with them a guest's static data was 2.7 times
//! larger and its code twice as big. This one writes into a `Vec<u8>`, reads from a
//! `&[u8]`, and its errors are a small enum.
//!
//! The encoding (the same as `rmp-serde` 1.3 with struct maps):
//! - integers in their most compact form (a non-negative signed integer as unsigned),
//!   `i128`/`u128` as 16 big-endian bytes of bin; `f32`/`f64` as float 32/64;
//!   `char` and `str` as str; `serialize_bytes` as bin; `None` and `()` as nil;
//! - a unit struct as an empty array; a newtype struct as its value; a struct as a map
//!   keyed by field name; tuples, tuple structs and sequences as arrays; maps as maps;
//! - a unit variant as its name; a newtype, tuple or struct variant as a map of one
//!   entry, the name to the value (a tuple variant's fields as an array, a struct
//!   variant's as a map);
//! - a newtype struct named [`MSGPACK_EXT_STRUCT_NAME`] around an `(i8, bytes)` tuple as
//!   an extension value of that type, and an extension decodes back the same way.
//!
//! Decoding also takes structs and tuples from arrays or maps, enums as a bare name (or
//! index) or a map of one entry, byte buffers from bin or arrays, strings and bytes
//! borrowed from the input, any integer marker for any integer type it fits. Hostile
//! input errors, never panics: every length is checked against the bytes left before
//! anything is read or allocated, and nesting is limited to 1024 levels (as
//! `rmp_serde`'s).

mod de;
mod ser;

use std::fmt::Write as _;

use serde::de::{Expected, Unexpected};

pub(crate) use de::Deserializer;
pub(crate) use ser::to_vec_named;

/// The newtype struct name under which an `(i8, bytes)` tuple is a MessagePack extension
/// (the same name as `rmp_serde::MSGPACK_EXT_STRUCT_NAME`).
pub const MSGPACK_EXT_STRUCT_NAME: &str = "_ExtStruct";

/// Why a value did not encode or decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input ended inside a value.
    Eof,
    /// A marker that cannot start the value asked for.
    Marker(u8),
    /// A container had a different number of items than its reader took.
    Length(u32),
    /// A string that is not UTF-8, where bytes would not do.
    Utf8,
    /// Nesting deeper than the limit.
    Depth,
    /// An extension struct that is not `(i8, bytes)`, or a length beyond `u32`.
    Model(&'static str),
    /// A message from serde or the type itself.
    Custom(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (text, n) = match self {
            Error::Eof => ("unexpected end of MessagePack input", None),
            Error::Marker(m) => ("unexpected MessagePack marker ", Some(*m as u32)),
            Error::Length(n) => ("array had incorrect length, expected ", Some(*n)),
            Error::Utf8 => ("string is not valid UTF-8", None),
            Error::Depth => ("depth limit exceeded", None),
            Error::Model(what) => (*what, None),
            Error::Custom(message) => (message.as_str(), None),
        };
        f.write_str(text)?;
        match n {
            Some(n) => n.fmt(f),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Error {}

impl serde::ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::Custom(msg.to_string())
    }
}

impl serde::de::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::Custom(msg.to_string())
    }

    // serde's own renderings, but through `Shown`: see there.
    fn invalid_type(unexpected: Unexpected, expected: &dyn Expected) -> Self {
        Error::Custom(format!(
            "invalid type: {}, expected {expected}",
            Shown(unexpected)
        ))
    }

    fn invalid_value(unexpected: Unexpected, expected: &dyn Expected) -> Self {
        Error::Custom(format!(
            "invalid value: {}, expected {expected}",
            Shown(unexpected)
        ))
    }
}

/// What serde's `Unexpected` displays, except that a float's value is left out and a
/// string is escaped by hand: `f64`'s `Display` and `str`'s `Debug` would bring float
/// formatting and Unicode tables into every guest's static data, for an error message.
pub(crate) struct Shown<'a>(pub(crate) Unexpected<'a>);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.0 {
            Unexpected::Bool(b) => return write!(f, "boolean `{b}`"),
            Unexpected::Unsigned(n) => return write!(f, "integer `{n}`"),
            Unexpected::Signed(n) => return write!(f, "integer `{n}`"),
            Unexpected::Char(c) => return write!(f, "character `{c}`"),
            Unexpected::Str(s) => {
                f.write_str("string \"")?;
                for c in s.chars() {
                    match c {
                        '"' | '\\' => write!(f, "\\{c}")?,
                        c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
                        c => f.write_char(c)?,
                    }
                }
                return f.write_str("\"");
            }
            Unexpected::Float(_) => "floating point",
            Unexpected::Bytes(_) => "byte array",
            Unexpected::Unit => "unit value",
            Unexpected::Option => "Option value",
            Unexpected::NewtypeStruct => "newtype struct",
            Unexpected::Seq => "sequence",
            Unexpected::Map => "map",
            Unexpected::Enum => "enum",
            Unexpected::UnitVariant => "unit variant",
            Unexpected::NewtypeVariant => "newtype variant",
            Unexpected::TupleVariant => "tuple variant",
            Unexpected::StructVariant => "struct variant",
            Unexpected::Other(other) => other,
        };
        f.write_str(what)
    }
}

#[cfg(test)]
mod tests;
