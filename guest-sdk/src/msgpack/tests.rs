//! The codec against `rmp_serde` (the host's encoder): the same bytes, each side reading
//! the other's, and hostile input refused without a panic or a large allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use serde::de::{DeserializeOwned, IgnoredAny, Visitor};
use serde::{Deserialize, Serialize};

use super::{Deserializer, Error, MSGPACK_EXT_STRUCT_NAME, to_vec_named};

/// Counts this thread's largest allocation, so a test can tell a forged length did not
/// make the decoder reserve memory for it.
struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.with(|l| l.set(l.get().max(layout.size())));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.with(|l| l.set(l.get().max(new_size)));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Decodes all of `bytes` with this codec.
fn decode<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, Error> {
    let mut de = Deserializer::new(bytes);
    let value = T::deserialize(&mut de)?;
    match de.remaining() {
        0 => Ok(value),
        _ => Err(Error::Model("trailing bytes")),
    }
}

/// Decodes all of `bytes` with `rmp_serde`, as the SDK did before this codec.
fn decode_rmp<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let mut rest = bytes;
    let value = T::deserialize(&mut rmp_serde::Deserializer::new(&mut rest)).ok()?;
    rest.is_empty().then_some(value)
}

/// The same bytes as `rmp_serde::to_vec_named`, and each side reads the other's.
#[track_caller]
fn same<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) -> Vec<u8> {
    let theirs = rmp_serde::to_vec_named(value).expect("rmp encodes");
    let ours = to_vec_named(value).expect("encodes");
    assert_eq!(ours, theirs, "bytes of {value:?}");
    assert_eq!(&decode::<T>(&theirs).expect("decodes rmp's bytes"), value);
    assert_eq!(
        &rmp_serde::from_slice::<T>(&ours).expect("rmp decodes"),
        value
    );
    ours
}

/// A byte buffer that serializes with `serialize_bytes` (what `serde_bytes` does).
#[derive(Debug, Clone, PartialEq, Default)]
struct Bytes(Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Bytes;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("bytes")
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes, E> {
        Ok(Bytes(v.to_vec()))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
        let mut out = Vec::new();
        while let Some(b) = seq.next_element()? {
            out.push(b);
        }
        Ok(Bytes(out))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_byte_buf(BytesVisitor)
    }
}

/// A MessagePack extension value, as the `refs` work writes object references.
#[derive(Debug, Clone, PartialEq, Default)]
struct Ext(i8, Bytes);

impl Serialize for Ext {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(MSGPACK_EXT_STRUCT_NAME, &(self.0, &self.1))
    }
}

impl<'de> Deserialize<'de> for Ext {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ext;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an extension")
            }
            fn visit_newtype_struct<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Ext, D::Error> {
                let (tag, data) = <(i8, Bytes)>::deserialize(d)?;
                Ok(Ext(tag, data))
            }
        }
        d.deserialize_newtype_struct(MSGPACK_EXT_STRUCT_NAME, V)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Unit;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Newtype(u32);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TupleStruct(i8, f64, String);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Kinds {
    Unit,
    Newtype(u32),
    Tuple(u8, String),
    Struct {
        a: i16,
        b: Vec<u8>,
        c: Option<Box<Kinds>>,
    },
    Wrapped(Unit),
    Empty(),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inner {
    name: String,
    score: f32,
    tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Outer {
    id: u64,
    inner: Inner,
    list: Vec<Inner>,
    maybe: Option<Inner>,
    kinds: Vec<Kinds>,
    map: BTreeMap<String, Vec<i32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<u8>,
    #[serde(default)]
    defaulted: u8,
    unit: (),
    raw: Bytes,
    ext: Ext,
    pair: (Unit, Newtype),
}

fn outer() -> Outer {
    let inner = Inner {
        name: "alpha".into(),
        score: 0.5,
        tags: vec!["x".into(), "é".repeat(20)],
    };
    Outer {
        id: u64::MAX - 7,
        inner: inner.clone(),
        list: vec![inner.clone(); 17],
        maybe: Some(inner),
        kinds: vec![
            Kinds::Unit,
            Kinds::Newtype(70_000),
            Kinds::Tuple(200, "t".into()),
            Kinds::Struct {
                a: -300,
                b: vec![1, 200],
                c: Some(Box::new(Kinds::Unit)),
            },
            Kinds::Wrapped(Unit),
            Kinds::Empty(),
        ],
        map: (0..20)
            .map(|i| (format!("k{i}"), vec![-i; i as usize]))
            .collect(),
        skipped: None,
        defaulted: 3,
        unit: (),
        raw: Bytes(vec![0, 255, 7]),
        ext: Ext(82, Bytes(vec![9; 24])),
        pair: (Unit, Newtype(1)),
    }
}

/// Integers at every width boundary, for every integer type they fit.
#[test]
#[allow(irrefutable_let_patterns, reason = "i128 from i128")]
fn integers() {
    let mut values: Vec<i128> = vec![0, 1, -1, 127, 128, -32, -33, 255, 256, -128, -129];
    values.extend([65535, 65536, -32768, -32769, (1 << 32) - 1, 1 << 32]);
    values.extend([
        -(1 << 31),
        -(1 << 31) - 1,
        i64::MAX as i128,
        i64::MIN as i128,
    ]);
    values.extend([u64::MAX as i128, i128::MAX, i128::MIN]);
    macro_rules! each {
        ($($ty:ty)*) => {$(
            for v in &values {
                if let Ok(v) = <$ty>::try_from(*v) {
                    same(&v);
                    same(&Some(v));
                }
            }
        )*};
    }
    each!(i8 i16 i32 i64 i128 u8 u16 u32 u64 u128);
    // Any integer marker into any type it fits.
    let big = rmp_serde::to_vec_named(&5i64).unwrap();
    assert_eq!(decode::<u8>(&big), Ok(5));
    assert_eq!(decode::<u8>(&[0xd3, 0, 0, 0, 0, 0, 0, 0, 5]), Ok(5));
    assert_eq!(decode::<i8>(&[0xcc, 0x7f]), Ok(127));
    assert_eq!(decode::<u64>(&[0xd0, 0x05]), Ok(5));
    assert_eq!(decode::<f64>(&[0x07]), Ok(7.0));
    assert!(decode::<u8>(&[0xcd, 1, 0]).is_err());
    assert!(decode::<u32>(&[0xff]).is_err());
    assert!(decode::<i8>(&[0xcc, 0x80]).is_err());
}

#[test]
fn floats_bools_chars() {
    for v in [
        0.0f64,
        -0.0,
        1.5,
        -2.25e300,
        f64::INFINITY,
        f64::MIN_POSITIVE,
    ] {
        same(&v);
        same(&(v as f32));
    }
    assert_eq!(
        to_vec_named(&f64::NAN).unwrap(),
        rmp_serde::to_vec_named(&f64::NAN).unwrap()
    );
    assert!(
        decode::<f32>(&to_vec_named(&f32::NAN).unwrap())
            .unwrap()
            .is_nan()
    );
    same(&true);
    same(&false);
    for c in ['a', 'é', '€', '😀'] {
        same(&c);
    }
}

#[test]
fn strings_and_bytes() {
    for len in [0, 1, 31, 32, 255, 256, 65535, 65536, 70_000] {
        let s: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        same(&s);
        same(&Bytes(vec![0xab; len]));
        same(&vec![3u8; len]);
    }
    // Borrowed from the input.
    let bytes = to_vec_named("borrowed").unwrap();
    let s: &str = decode(&bytes).unwrap();
    assert_eq!(s, "borrowed");
    let bytes = to_vec_named(&Bytes(vec![1, 2])).unwrap();
    let b: &[u8] = decode(&bytes).unwrap();
    assert_eq!(b, [1, 2]);
    // A byte vector reads bin too; bytes read an array too.
    assert_eq!(decode::<Vec<u8>>(&bytes), Ok(vec![1, 2]));
    assert_eq!(decode::<Bytes>(&[0x92, 1, 2]), Ok(Bytes(vec![1, 2])));
    // Invalid UTF-8: bytes if the type takes them, else an error.
    assert_eq!(decode::<Bytes>(&[0xa1, 0xff]), Ok(Bytes(vec![0xff])));
    assert_eq!(decode::<String>(&[0xa1, 0xff]), Err(Error::Utf8));
}

#[test]
fn options_units_newtypes_tuples() {
    same(&None::<u8>);
    same(&Some("x".to_owned()));
    same(&());
    same(&Unit);
    same(&Newtype(300));
    same(&(1u8, "two".to_owned(), 3.0f32, false));
    same(&TupleStruct(-5, 0.25, "z".into()));
    same(&(Unit, (), None::<u8>, Some(Unit)));
    // Nil is a unit struct too.
    assert_eq!(decode::<Unit>(&[0xc0]), Ok(Unit));
    // A tuple must take every item.
    assert_eq!(decode::<(u8, u8)>(&[0x93, 1, 2, 3]), Err(Error::Length(2)));
}

#[test]
fn sequences_and_maps() {
    for len in [0usize, 15, 16, 65535, 65536] {
        same(&vec![7u32; len]);
        let map: BTreeMap<u32, bool> = (0..len as u32).map(|i| (i, i % 2 == 0)).collect();
        same(&map);
    }
    same(&vec![
        vec![String::from("a")],
        vec![],
        vec!["b".into(), "c".into()],
    ]);
    let mut map = HashMap::new();
    map.insert("only".to_owned(), vec![Some(1u8), None]);
    same(&map);
    let mut keyed = BTreeMap::new();
    keyed.insert(Newtype(1), Kinds::Unit);
    keyed.insert(Newtype(2), Kinds::Tuple(1, "x".into()));
    let bytes = to_vec_named(&keyed).unwrap();
    assert_eq!(bytes, rmp_serde::to_vec_named(&keyed).unwrap());
}

/// Sequences and maps whose length is not known up front (an iterator with no exact
/// size hint), nested: counted, then the header put before the items.
#[test]
fn unknown_lengths() {
    struct Lazy(usize, bool);
    impl Serialize for Lazy {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let items = (0..self.0).filter(|_| true);
            if self.1 {
                s.collect_map(items.map(|i| (i, Lazy(i % 3, false))))
            } else {
                s.collect_seq(items.map(|i| vec![i; i % 3]))
            }
        }
    }
    for len in [0, 3, 15, 16, 300, 70_000] {
        for map in [false, true] {
            let value = Lazy(len, map);
            assert_eq!(
                to_vec_named(&value).unwrap(),
                rmp_serde::to_vec_named(&value).unwrap(),
                "{len} {map}"
            );
        }
    }
}

#[test]
fn enums() {
    for kind in outer().kinds {
        same(&kind);
        same(&vec![kind.clone(), kind]);
    }
    // The other forms `rmp_serde` reads: a unit variant by index or as a map to nil.
    assert_eq!(decode::<Kinds>(&[0x00]), Ok(Kinds::Unit));
    assert_eq!(
        decode::<Kinds>(&[0x81, 0xa4, b'U', b'n', b'i', b't', 0xc0]),
        Ok(Kinds::Unit)
    );
    assert_eq!(decode::<Kinds>(&[0x81, 0x01, 0x05]), Ok(Kinds::Newtype(5)));
    // A struct variant from an array, a bare name for a variant with data, two entries.
    assert_eq!(
        decode::<Kinds>(&[
            0x81, 0xa6, b'S', b't', b'r', b'u', b'c', b't', 0x93, 1, 0x90, 0xc0
        ]),
        Ok(Kinds::Struct {
            a: 1,
            b: vec![],
            c: None
        })
    );
    assert!(decode::<Kinds>(&to_vec_named("Newtype").unwrap()).is_err());
    assert_eq!(
        decode::<Kinds>(&[0x82, 0, 0xc0, 0, 0xc0]),
        Err(Error::Length(2))
    );
}

#[test]
fn structs() {
    let value = outer();
    same(&value);
    // Structs from arrays (`rmp_serde::to_vec`; no field skipped, as they are by
    // position), unknown fields (with an extension) skipped.
    let value = Outer {
        skipped: Some(4),
        ..value
    };
    same(&value);
    let compact = rmp_serde::to_vec(&value).unwrap();
    assert_eq!(decode::<Outer>(&compact).as_ref(), Ok(&value));
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Small {
        id: u64,
    }
    assert_eq!(
        decode::<Small>(&to_vec_named(&value).unwrap()),
        Ok(Small { id: value.id })
    );
    assert_eq!(decode::<IgnoredAny>(&compact), Ok(IgnoredAny));
    // A struct from an array must take every item.
    assert_eq!(decode::<Small>(&[0x92, 1, 2]), Err(Error::Length(1)));
}

#[test]
fn extensions() {
    for len in [0, 1, 2, 3, 4, 5, 8, 16, 17, 255, 256, 65535, 65536] {
        for tag in [0, 82, -1, 127, -128] {
            same(&Ext(tag, Bytes(vec![0x5a; len])));
        }
    }
    same(&vec![Ext(1, Bytes(vec![1])), Ext(2, Bytes(vec![2; 24]))]);
    same(&Some(Ext(3, Bytes(vec![]))));
    // Only `(i8, bytes)` is an extension.
    struct Bad<T>(T);
    impl<T: Serialize> Serialize for Bad<T> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_newtype_struct(MSGPACK_EXT_STRUCT_NAME, &self.0)
        }
    }
    for bad in [
        to_vec_named(&Bad(5u8)),
        to_vec_named(&Bad((5u8, Bytes(vec![])))),
        to_vec_named(&Bad((5i8,))),
        to_vec_named(&Bad((5i8, "s"))),
    ] {
        assert!(matches!(bad, Err(Error::Model(_))), "{bad:?}");
    }
    assert!(rmp_serde::to_vec_named(&Bad(5u8)).is_err());
    // An extension asked for where there is none.
    assert!(decode::<Ext>(&[0x05]).is_err());
}

#[test]
fn custom_messages_kept() {
    struct Fails;
    impl Serialize for Fails {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no way"))
        }
    }
    assert_eq!(
        to_vec_named(&(1, Fails)),
        Err(Error::Custom("no way".into()))
    );
    let err = decode::<bool>(&[0xa1, b'x']).unwrap_err();
    assert!(matches!(err, Error::Marker(0xa1)), "{err}");
    let err = decode::<Inner>(&[0x80]).unwrap_err();
    assert_eq!(err.to_string(), "missing field `name`");
    assert_eq!(
        Error::Length(3).to_string(),
        "array had incorrect length, expected 3"
    );
    // serde's type errors, a float's value left out, a string escaped by hand.
    let float = to_vec_named(&1.5f64).unwrap();
    assert_eq!(
        decode::<u8>(&float).unwrap_err().to_string(),
        "invalid type: floating point, expected u8"
    );
    let text = to_vec_named("a\"b\\\n\u{1b}é").unwrap();
    assert_eq!(
        decode::<Unit>(&text).unwrap_err().to_string(),
        r#"invalid type: string "a\"b\\\u{a}\u{1b}é", expected unit struct Unit"#
    );
    assert_eq!(
        decode::<bool>(&[0x92, 1, 2]).unwrap_err().to_string(),
        "unexpected MessagePack marker 146"
    );
    assert_eq!(
        decode::<Vec<u8>>(&[0x91, 0xd0, 0xff])
            .unwrap_err()
            .to_string(),
        "invalid value: integer `-1`, expected u8"
    );
    assert_eq!(
        decode::<String>(&[0xc3]).unwrap_err().to_string(),
        "invalid type: boolean `true`, expected a string"
    );
}

/// Every prefix of a valid value, forged lengths, deep nesting and bad markers: errors,
/// no panic, and no allocation sized by what the input claims.
#[test]
fn hostile_input() {
    let whole = to_vec_named(&outer()).unwrap();
    for end in 0..whole.len() {
        assert!(decode::<Outer>(&whole[..end]).is_err(), "prefix {end}");
        assert!(decode::<IgnoredAny>(&whole[..end]).is_err(), "prefix {end}");
    }
    LARGEST.set(0);
    let huge = [0xff, 0xff, 0xff, 0xff];
    for marker in [0xdd, 0xdf, 0xdb, 0xc6, 0xc9] {
        let mut forged = vec![marker];
        forged.extend(huge);
        forged.extend([1, 2, 3]);
        assert!(decode::<Vec<u64>>(&forged).is_err());
        assert!(decode::<Vec<String>>(&forged).is_err());
        assert!(decode::<String>(&forged).is_err());
        assert!(decode::<Bytes>(&forged).is_err());
        assert!(decode::<HashMap<String, u8>>(&forged).is_err());
        assert!(decode::<IgnoredAny>(&forged).is_err());
        assert!(decode::<Ext>(&forged).is_err());
        assert!(decode::<Outer>(&forged).is_err());
    }
    // Array 16 of 60000 items with 10 bytes left.
    assert_eq!(
        decode::<Vec<u8>>(&[0xdc, 0xea, 0x60, 1, 2]),
        Err(Error::Eof)
    );
    assert!(LARGEST.get() < 4096, "allocated {} bytes", LARGEST.get());

    // Nesting: arrays, maps, enums, and options of a recursive type (on a thread with a
    // large stack: unoptimized frames are big).
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(deep_nesting)
        .unwrap()
        .join()
        .unwrap();
    let bad: [&[u8]; 5] = [
        &[0xc1],
        &[0xd4],
        &[0xa5, b'a'],
        &[0xcb, 0, 0],
        &[0x81, 0xc0],
    ];
    for bad in bad {
        assert!(decode::<IgnoredAny>(bad).is_err());
        assert!(decode::<Outer>(bad).is_err());
    }
}

fn deep_nesting() {
    let deep = |open: &[u8], leaf: &[u8]| {
        let mut v = open.repeat(100_000);
        v.extend_from_slice(leaf);
        v
    };
    assert_eq!(
        decode::<IgnoredAny>(&deep(&[0x91], &[0xc0])),
        Err(Error::Depth)
    );
    assert_eq!(
        decode::<IgnoredAny>(&deep(&[0x81, 0xc0], &[0xc0])),
        Err(Error::Depth)
    );
    assert_eq!(
        decode::<Kinds>(&deep(
            &[
                0x81, 0xa6, b'S', b't', b'r', b'u', b'c', b't', 0x93, 1, 0x90
            ],
            &[0x00]
        )),
        Err(Error::Depth)
    );
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Loop(Option<Box<Loop>>);
    assert_eq!(decode::<Loop>(&[0x01]).unwrap_err(), Error::Depth);
    // 1023 levels are fine, as in `rmp_serde`.
    let all = deep(&[0x91], &[0xc0]);
    let ok = &all[100_000 - 1023..];
    assert_eq!(decode::<IgnoredAny>(ok), Ok(IgnoredAny));
    assert!(rmp_serde::from_slice::<IgnoredAny>(ok).is_ok());
    assert_eq!(
        decode::<IgnoredAny>(&all[100_000 - 1024..]),
        Err(Error::Depth)
    );
    assert!(rmp_serde::from_slice::<IgnoredAny>(&all[100_000 - 1024..]).is_err());
}

/// Valid values with random bytes changed, and random bytes: whatever `rmp_serde`
/// decodes, this codec decodes to the same value, and the other way round.
#[test]
fn agrees_with_rmp_on_mutations() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let samples = [
        to_vec_named(&outer()).unwrap(),
        to_vec_named(&outer().kinds).unwrap(),
        to_vec_named(&(1u8, -300i32, "abc", Unit)).unwrap(),
    ];
    // Compared by their encoding: a float may be NaN.
    fn check<T: DeserializeOwned + Serialize>(bytes: &[u8]) {
        let ours = decode::<T>(bytes).ok().map(|v| to_vec_named(&v).unwrap());
        let theirs = decode_rmp::<T>(bytes).map(|v| to_vec_named(&v).unwrap());
        assert_eq!(ours, theirs, "{bytes:02x?}");
    }
    for round in 0..20_000 {
        let mut bytes = samples[round % samples.len()].clone();
        if round % 10 == 9 {
            bytes.truncate((next() % 40) as usize);
            bytes.iter_mut().for_each(|b| *b = next() as u8);
        } else {
            for _ in 0..1 + next() % 3 {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] = next() as u8;
            }
        }
        check::<Outer>(&bytes);
        check::<Vec<Kinds>>(&bytes);
        check::<(u8, i32, String, Unit)>(&bytes);
        check::<Option<Vec<u64>>>(&bytes);
        check::<BTreeMap<String, f64>>(&bytes);
        let _ = decode::<IgnoredAny>(&bytes);
    }
}
