//! The host's decoding of objects: `codec::decode` of guest-produced bytes, MessagePack
//! or raw, as the types a host program asks for, and `to_json` of any of them.
//! Decoding may fail; it must never panic, loop, or allocate beyond the input.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use rustyray_host::codec;
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Shape {
    Unit,
    Circle { r: f64 },
    Poly(Vec<(i32, i32)>),
    Named(String, Option<Box<Shape>>),
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Record {
    id: u64,
    name: String,
    tags: Vec<String>,
    scores: BTreeMap<String, f32>,
    shape: Shape,
    blob: Vec<u8>,
    flag: Option<bool>,
    pair: (i8, u128),
    ch: char,
}

/// Decodes `data` as `T`; whatever decodes must re-encode to the same bytes.
fn roundtrip<T>(data: &[u8])
where
    T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
{
    let msgpack = codec::Value::msgpack(data.to_vec());
    let _ = codec::to_json(&msgpack);
    let _ = codec::decode::<T>(&codec::Value::raw(data.to_vec()));
    if let Ok(value) = codec::decode::<T>(&msgpack) {
        let again = codec::encode(&value).expect("a decoded value encodes");
        let back = codec::decode::<T>(&again).expect("an encoded value decodes");
        // Floats: NaN != NaN, so compare encodings instead of values.
        assert_eq!(codec::encode(&back).expect("encodes"), again);
    }
}

fuzz_target!(|data: &[u8]| {
    roundtrip::<i32>(data);
    roundtrip::<u64>(data);
    roundtrip::<String>(data);
    roundtrip::<Vec<u8>>(data);
    roundtrip::<Vec<Vec<u8>>>(data);
    roundtrip::<Vec<(String, String)>>(data);
    roundtrip::<Option<Vec<u64>>>(data);
    roundtrip::<Shape>(data);
    roundtrip::<Record>(data);
    roundtrip::<Result<u32, String>>(data);
    // Raw bytes decode back to themselves.
    let raw = codec::Value::raw(data.to_vec());
    assert_eq!(codec::decode::<Vec<u8>>(&raw).expect("raw"), data);
});
