//! The decoder: MessagePack from a byte slice into serde's data model, accepting what
//! `rmp_serde`'s `Deserializer` accepts.

use serde::de::value::SeqDeserializer;
use serde::de::{self, DeserializeSeed, Unexpected, Visitor};
use serde::forward_to_deserialize_any;

use super::{Error, MSGPACK_EXT_STRUCT_NAME};

/// How deeply containers (and, separately, options and newtypes) may nest.
const MAX_DEPTH: u16 = 1024;

/// Reads MessagePack from a byte slice; strings and bytes are borrowed from it.
pub(crate) struct Deserializer<'de> {
    input: &'de [u8],
    /// Containers that may still be entered.
    depth: u16,
    /// Options and newtypes that may still be entered: they read no byte, so a
    /// recursive type could otherwise recurse without end on a short input.
    wraps: u16,
}

/// What a marker starts.
enum Kind {
    Nil,
    Bool(bool),
    /// An unsigned integer and its width in bytes.
    Uint(u64, u8),
    /// A signed integer and its width in bytes.
    Int(i64, u8),
    F32(f32),
    F64(f64),
    Str(u32),
    Bin(u32),
    Array(u32),
    Map(u32),
    Ext(u32),
}

impl<'de> Deserializer<'de> {
    /// A decoder of `input`.
    pub(crate) fn new(input: &'de [u8]) -> Self {
        Deserializer {
            input,
            depth: MAX_DEPTH,
            wraps: MAX_DEPTH,
        }
    }

    /// What is left after the value read.
    pub(crate) fn remaining(&self) -> usize {
        self.input.len()
    }

    fn peek(&self) -> Result<u8, Error> {
        self.input.first().copied().ok_or(Error::Eof)
    }

    fn take(&mut self, n: usize) -> Result<&'de [u8], Error> {
        if n > self.input.len() {
            return Err(Error::Eof);
        }
        let (head, rest) = self.input.split_at(n);
        self.input = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn be(&mut self, n: usize) -> Result<u64, Error> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn len(&mut self, n: usize) -> Result<u32, Error> {
        self.be(n).map(|len| len as u32)
    }

    /// Reads a marker and what it says before the content (a length or a scalar).
    fn kind(&mut self) -> Result<Kind, Error> {
        let marker = self.take(1)?[0];
        Ok(match marker {
            0x00..=0x7f => Kind::Uint(marker.into(), 1),
            0x80..=0x8f => Kind::Map(u32::from(marker & 0x0f)),
            0x90..=0x9f => Kind::Array(u32::from(marker & 0x0f)),
            0xa0..=0xbf => Kind::Str(u32::from(marker & 0x1f)),
            0xc0 => Kind::Nil,
            0xc2 => Kind::Bool(false),
            0xc3 => Kind::Bool(true),
            0xc4..=0xc6 => Kind::Bin(self.len(1 << (marker - 0xc4))?),
            0xc7..=0xc9 => Kind::Ext(self.len(1 << (marker - 0xc7))?),
            0xca => Kind::F32(f32::from_be_bytes(self.array()?)),
            0xcb => Kind::F64(f64::from_be_bytes(self.array()?)),
            0xcc..=0xcf => {
                let width = 1 << (marker - 0xcc);
                Kind::Uint(self.be(width as usize)?, width)
            }
            0xd0 => Kind::Int(i8::from_be_bytes(self.array()?).into(), 1),
            0xd1 => Kind::Int(i16::from_be_bytes(self.array()?).into(), 2),
            0xd2 => Kind::Int(i32::from_be_bytes(self.array()?).into(), 4),
            0xd3 => Kind::Int(i64::from_be_bytes(self.array()?), 8),
            0xd4..=0xd8 => Kind::Ext(1 << (marker - 0xd4)),
            0xd9..=0xdb => Kind::Str(self.len(1 << (marker - 0xd9))?),
            0xdc | 0xdd => Kind::Array(self.len(2 << (marker - 0xdc))?),
            0xde | 0xdf => Kind::Map(self.len(2 << (marker - 0xde))?),
            0xe0..=0xff => Kind::Int((marker as i8).into(), 1),
            0xc1 => return Err(Error::Marker(marker)),
        })
    }

    /// A scalar to `visitor` as its own type (what `rmp_serde` does for a bool, an
    /// integer or a float asked for); anything else is a type mismatch.
    fn scalar<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value, Error> {
        let marker = self.peek()?;
        let kind = self.kind()?;
        visit_scalar(kind, marker, visitor)
    }

    /// `f` one level deeper in containers (or in options and newtypes: `wrap`), an
    /// error past the limit.
    fn nest<T>(
        &mut self,
        wrap: bool,
        f: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let counter = if wrap {
            &mut self.wraps
        } else {
            &mut self.depth
        };
        if *counter <= 1 {
            return Err(Error::Depth);
        }
        *counter -= 1;
        let result = f(self);
        *(if wrap {
            &mut self.wraps
        } else {
            &mut self.depth
        }) += 1;
        result
    }

    /// Any value to `visitor`; bin as bytes when `bytes`, else as a sequence of them.
    fn any<V: Visitor<'de>>(&mut self, visitor: V, bytes: bool) -> Result<V::Value, Error> {
        let marker = self.peek()?;
        match self.kind()? {
            Kind::Str(len) => {
                let data = self.take(len as usize)?;
                match std::str::from_utf8(data) {
                    Ok(s) => visitor.visit_borrowed_str(s),
                    // Invalid UTF-8 is still bytes to a type that takes them.
                    Err(_) => visitor
                        .visit_borrowed_bytes(data)
                        .map_err(|_: Error| Error::Utf8),
                }
            }
            Kind::Bin(len) => {
                let data = self.take(len as usize)?;
                if bytes {
                    visitor.visit_borrowed_bytes(data)
                } else {
                    visitor.visit_seq(SeqDeserializer::new(data.iter().copied()))
                }
            }
            Kind::Array(len) => {
                self.check(len, 1)?;
                self.nest(false, |de| {
                    let mut access = Items { de, left: len };
                    let value = visitor.visit_seq(&mut access)?;
                    access.done(len)?;
                    Ok(value)
                })
            }
            Kind::Map(len) => {
                self.check(len, 2)?;
                self.nest(false, |de| {
                    let mut access = Items { de, left: len };
                    let value = visitor.visit_map(&mut access)?;
                    access.done(len)?;
                    Ok(value)
                })
            }
            Kind::Ext(len) => self.nest(false, |de| {
                visitor.visit_newtype_struct(ExtAccess { de, len, state: 0 })
            }),
            scalar => visit_scalar(scalar, marker, visitor),
        }
    }

    /// Refuses `len` items of at least `size` bytes each when fewer bytes are left.
    fn check(&self, len: u32, size: u64) -> Result<(), Error> {
        if u64::from(len) * size > self.input.len() as u64 {
            Err(Error::Eof)
        } else {
            Ok(())
        }
    }

    /// An `i128`/`u128`: an integer, or 16 big-endian bytes (bin 8, or after an
    /// array-of-16 marker, as `rmp_serde` reads them).
    fn int128(&mut self) -> Result<i128, Error> {
        let marker = self.peek()?;
        match marker {
            0xc4 | 0x90..=0x9f => {
                let len = if marker == 0xc4 {
                    self.take(2)?[1]
                } else {
                    self.take(1)?[0] & 0x0f
                };
                if len != 16 {
                    return Err(Error::Length(16));
                }
                Ok(i128::from_be_bytes(self.array()?))
            }
            _ => match self.kind()? {
                Kind::Uint(v, _) => Ok(v.into()),
                Kind::Int(v, _) => Ok(v.into()),
                _ => Err(Error::Marker(marker)),
            },
        }
    }
}

/// A scalar as its own type and width, as `rmp_serde` visits it.
fn visit_scalar<'de, V: Visitor<'de>>(
    kind: Kind,
    marker: u8,
    visitor: V,
) -> Result<V::Value, Error> {
    match kind {
        Kind::Nil => visitor.visit_unit(),
        Kind::Bool(v) => visitor.visit_bool(v),
        Kind::Uint(v, 1) => visitor.visit_u8(v as u8),
        Kind::Uint(v, 2) => visitor.visit_u16(v as u16),
        Kind::Uint(v, 4) => visitor.visit_u32(v as u32),
        Kind::Uint(v, _) => visitor.visit_u64(v),
        Kind::Int(v, 1) => visitor.visit_i8(v as i8),
        Kind::Int(v, 2) => visitor.visit_i16(v as i16),
        Kind::Int(v, 4) => visitor.visit_i32(v as i32),
        Kind::Int(v, _) => visitor.visit_i64(v),
        Kind::F32(v) => visitor.visit_f32(v),
        Kind::F64(v) => visitor.visit_f64(v),
        _ => Err(Error::Marker(marker)),
    }
}

macro_rules! scalars {
    ($($name:ident)*) => {
        $(fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.scalar(visitor)
        })*
    };
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.any(visitor, true)
    }

    scalars!(
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_f32 deserialize_f64
    );

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_i128(self.int128()?)
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u128(self.int128()? as u128)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.peek()? == 0xc0 {
            self.input = &self.input[1..];
            visitor.visit_none()
        } else {
            self.nest(true, |de| visitor.visit_some(de))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        // A unit struct is written as `[]`; nil is taken too.
        if let 0xc0 | 0x90 = self.peek()? {
            self.input = &self.input[1..];
            visitor.visit_unit()
        } else {
            self.any(visitor, true)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == MSGPACK_EXT_STRUCT_NAME {
            let marker = self.peek()?;
            return match self.kind()? {
                Kind::Ext(len) => visitor.visit_newtype_struct(ExtAccess {
                    de: self,
                    len,
                    state: 0,
                }),
                _ => Err(Error::Marker(marker)),
            };
        }
        self.nest(true, |de| visitor.visit_newtype_struct(de))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.any(visitor, false)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        self.any(visitor, false)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.any(visitor, false)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.any(visitor, false)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        // A map of one entry (the variant to its value), or a bare variant.
        if let 0x80..=0x8f | 0xde | 0xdf = self.peek()? {
            let Kind::Map(len) = self.kind()? else {
                return Err(Error::Eof);
            };
            if len != 1 {
                return Err(Error::Length(len));
            }
            self.nest(false, |de| visitor.visit_enum(Variant { de, unit: false }))
        } else {
            visitor.visit_enum(Variant {
                de: self,
                unit: true,
            })
        }
    }

    forward_to_deserialize_any! {
        char str string bytes byte_buf unit map identifier ignored_any
    }
}

/// The items of an array (`left` values) or a map (`left` pairs).
struct Items<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    left: u32,
}

impl Items<'_, '_> {
    /// Fails unless the visitor took every item.
    fn done(&self, len: u32) -> Result<(), Error> {
        match self.left {
            0 => Ok(()),
            left => Err(Error::Length(len - left)),
        }
    }
}

impl<'de> de::SeqAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left as usize)
    }
}

impl<'de> de::MapAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left as usize)
    }
}

/// An enum's variant: from a map of one entry, or bare (`unit`, a unit variant only).
struct Variant<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    unit: bool,
}

impl<'de> de::EnumAccess<'de> for Variant<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self), Error> {
        Ok((seed.deserialize(&mut *self.de)?, self))
    }
}

impl Variant<'_, '_> {
    fn bare(&self, expected: &str) -> Result<(), Error> {
        if self.unit {
            Err(de::Error::invalid_type(Unexpected::UnitVariant, &expected))
        } else {
            Ok(())
        }
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        if self.unit {
            return Ok(());
        }
        match self.de.take(1)?[0] {
            0xc0 => Ok(()),
            marker => Err(Error::Marker(marker)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        self.bare("newtype variant")?;
        seed.deserialize(self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        self.bare("tuple variant")?;
        self.de.any(visitor, false)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.bare("struct variant")?;
        self.de.any(visitor, false)
    }
}

/// An extension's content as a newtype around `(i8 type, bytes)`.
struct ExtAccess<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    len: u32,
    /// 0: the type is next, 1: the bytes, 2: read.
    state: u8,
}

impl<'de> de::Deserializer<'de> for ExtAccess<'_, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

impl<'de> de::SeqAccess<'de> for ExtAccess<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.state == 2 {
            return Ok(None);
        }
        seed.deserialize(&mut *self).map(Some)
    }
}

impl<'de> de::Deserializer<'de> for &mut ExtAccess<'_, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.state += 1;
        if self.state == 1 {
            visitor.visit_i8(self.de.take(1)?[0] as i8)
        } else {
            visitor.visit_borrowed_bytes(self.de.take(self.len as usize)?)
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}
