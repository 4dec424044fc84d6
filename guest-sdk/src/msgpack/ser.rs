//! The encoder: serde's data model to MessagePack, as `rmp_serde::to_vec_named` writes it.

use serde::Serialize;
use serde::ser::{self, Impossible};

use super::{Error, MSGPACK_EXT_STRUCT_NAME};

/// MessagePack bytes of `value`, structs as maps keyed by field name.
pub(crate) fn to_vec_named<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut serializer = Serializer { out: Vec::new() };
    value.serialize(&mut serializer)?;
    Ok(serializer.out)
}

/// Writes MessagePack into a vector.
pub(crate) struct Serializer {
    out: Vec<u8>,
}

/// A length as the `u32` MessagePack carries.
fn len32(len: usize) -> Result<u32, Error> {
    u32::try_from(len).map_err(|_| Error::Model("length beyond u32"))
}

impl Serializer {
    fn marker(&mut self, marker: u8, data: &[u8]) {
        self.out.push(marker);
        self.out.extend_from_slice(data);
    }

    /// The header of a str/bin/array/map of `len`: `fix | len` below `fix_max` (when
    /// there is a fix form), else the 8-bit (if any), 16- or 32-bit form.
    fn header(&mut self, len: u32, fix: Option<(u8, u32)>, m8: Option<u8>, m16: u8) {
        match (fix, m8) {
            (Some((fix, max)), _) if len < max => self.out.push(fix | len as u8),
            (_, Some(m8)) if len < 256 => self.marker(m8, &[len as u8]),
            _ if len < 65536 => self.marker(m16, &(len as u16).to_be_bytes()),
            _ => self.marker(m16 + 1, &len.to_be_bytes()),
        }
    }

    fn array_len(&mut self, len: u32) {
        self.header(len, Some((0x90, 16)), None, 0xdc);
    }

    fn map_len(&mut self, len: u32) {
        self.header(len, Some((0x80, 16)), None, 0xde);
    }

    fn str(&mut self, v: &str) -> Result<(), Error> {
        self.header(len32(v.len())?, Some((0xa0, 32)), Some(0xd9), 0xda);
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }

    fn uint(&mut self, v: u64) {
        if v < 128 {
            self.out.push(v as u8)
        } else if v < 256 {
            self.marker(0xcc, &[v as u8])
        } else if v < 65536 {
            self.marker(0xcd, &(v as u16).to_be_bytes())
        } else if v < 1 << 32 {
            self.marker(0xce, &(v as u32).to_be_bytes())
        } else {
            self.marker(0xcf, &v.to_be_bytes())
        }
    }

    fn sint(&mut self, v: i64) {
        if v >= 0 {
            self.uint(v as u64)
        } else if v >= -32 {
            self.out.push(v as u8)
        } else if v >= -128 {
            self.marker(0xd0, &[v as u8])
        } else if v >= -32768 {
            self.marker(0xd1, &(v as i16).to_be_bytes())
        } else if v >= -(1 << 31) {
            self.marker(0xd2, &(v as i32).to_be_bytes())
        } else {
            self.marker(0xd3, &v.to_be_bytes())
        }
    }

    /// A variant with data: a map of one entry, from its name.
    fn variant(&mut self, variant: &str) -> Result<&mut Self, Error> {
        self.out.push(0x81);
        self.str(variant)?;
        Ok(self)
    }
}

impl<'a> ser::Serializer for &'a mut Serializer {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Seq<'a>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.push(if v { 0xc3 } else { 0xc2 });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.sint(v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.serialize_bytes(&v.to_be_bytes())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.uint(v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.serialize_bytes(&v.to_be_bytes())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.marker(0xca, &v.to_be_bytes());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.marker(0xcb, &v.to_be_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.str(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.header(len32(v.len())?, None, Some(0xc4), 0xc5);
        self.out.extend_from_slice(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.push(0xc0);
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.out.push(0x90);
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        if name == MSGPACK_EXT_STRUCT_NAME {
            let mut ext = Ext {
                se: self,
                state: Ext::TUPLE,
                tag: 0,
            };
            value.serialize(&mut ext)?;
            return match ext.state {
                Ext::DONE => Ok(()),
                Ext::TUPLE => Err(Error::Model("expected tuple")),
                _ => Err(Error::Model("expected i8 and bytes")),
            };
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self.variant(variant)?)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Seq<'a>, Error> {
        Seq::new(self, len, false)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self, Error> {
        self.array_len(len32(len)?);
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Self, Error> {
        self.serialize_tuple(len)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self, Error> {
        self.variant(variant)?.serialize_tuple(len)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Seq<'a>, Error> {
        Seq::new(self, len, true)
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Self, Error> {
        self.map_len(len32(len)?);
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self, Error> {
        self.variant(variant)?.serialize_struct(name, len)
    }
}

impl ser::SerializeTuple for &mut Serializer {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for &mut Serializer {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

impl ser::SerializeTupleVariant for &mut Serializer {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

impl ser::SerializeStruct for &mut Serializer {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.str(key)?;
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

impl ser::SerializeStructVariant for &mut Serializer {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

/// A sequence or map. Of unknown length, its items are written first and its header,
/// once they are counted, inserted before them (where `rmp_serde` buffers them).
pub(crate) struct Seq<'a> {
    se: &'a mut Serializer,
    /// Where the items start and how many were written, when the length was unknown.
    unknown: Option<(usize, u32)>,
    map: bool,
}

impl<'a> Seq<'a> {
    fn new(se: &'a mut Serializer, len: Option<usize>, map: bool) -> Result<Self, Error> {
        let unknown = match len {
            Some(len) => {
                let len = len32(len)?;
                if map {
                    se.map_len(len)
                } else {
                    se.array_len(len)
                }
                None
            }
            None => Some((se.out.len(), 0)),
        };
        Ok(Seq { se, unknown, map })
    }

    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.se)?;
        if let Some((_, count)) = &mut self.unknown {
            *count = count
                .checked_add(1)
                .ok_or(Error::Model("length beyond u32"))?;
        }
        Ok(())
    }

    fn finish(self) -> Result<(), Error> {
        if let Some((start, count)) = self.unknown {
            let mut header = Serializer { out: Vec::new() };
            if self.map {
                header.map_len(count / 2)
            } else {
                header.array_len(count)
            }
            self.se.out.splice(start..start, header.out);
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.item(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeMap for Seq<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.item(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.item(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// An extension struct's content: a tuple of an `i8` type and the bytes.
struct Ext<'a> {
    se: &'a mut Serializer,
    state: u8,
    tag: i8,
}

impl Ext<'_> {
    /// Expecting the tuple.
    const TUPLE: u8 = 0;
    /// Expecting the type.
    const TAG: u8 = 1;
    /// Expecting the bytes.
    const DATA: u8 = 2;
    /// Written.
    const DONE: u8 = 3;

    fn wrong(&self) -> Error {
        Error::Model(if self.state == Self::TUPLE {
            "expected tuple"
        } else {
            "expected i8 and bytes"
        })
    }
}

macro_rules! wrong {
    ($($name:ident($($ty:ty),*) -> $ret:ty;)*) => {
        $(fn $name(self, $(_: $ty),*) -> Result<$ret, Error> { Err(self.wrong()) })*
    };
}

type No = Impossible<(), Error>;

impl<'a, 'b> ser::Serializer for &'a mut Ext<'b> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = No;
    type SerializeTuple = Self;
    type SerializeTupleStruct = No;
    type SerializeTupleVariant = No;
    type SerializeMap = No;
    type SerializeStruct = No;
    type SerializeStructVariant = No;

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        if self.state != Ext::TAG {
            return Err(self.wrong());
        }
        self.tag = v;
        self.state = Ext::DATA;
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        if self.state != Ext::DATA {
            return Err(self.wrong());
        }
        let len = len32(v.len())?;
        let se = &mut *self.se;
        match len {
            1 | 2 | 4 | 8 | 16 => se.out.push(0xd4 + len.trailing_zeros() as u8),
            _ => se.header(len, None, Some(0xc7), 0xc8),
        }
        se.out.push(self.tag as u8);
        se.out.extend_from_slice(v);
        self.state = Ext::DONE;
        Ok(())
    }

    fn serialize_tuple(self, _: usize) -> Result<Self, Error> {
        if self.state != Ext::TUPLE {
            return Err(self.wrong());
        }
        self.state = Ext::TAG;
        Ok(self)
    }

    wrong! {
        serialize_bool(bool) -> ();
        serialize_i16(i16) -> ();
        serialize_i32(i32) -> ();
        serialize_i64(i64) -> ();
        serialize_u8(u8) -> ();
        serialize_u16(u16) -> ();
        serialize_u32(u32) -> ();
        serialize_u64(u64) -> ();
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_char(char) -> ();
        serialize_str(&str) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
        serialize_seq(Option<usize>) -> No;
        serialize_tuple_struct(&'static str, usize) -> No;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> No;
        serialize_map(Option<usize>) -> No;
        serialize_struct(&'static str, usize) -> No;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> No;
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Error> {
        Err(self.wrong())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(self.wrong())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(self.wrong())
    }
}

impl ser::SerializeTuple for &mut Ext<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}
