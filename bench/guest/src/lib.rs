//! The bench guest: the functions and actor `rustyray bench` measures, mirroring
//! Ray's `ray_bench.py` (noop, add_one, make_blob, reduce_blobs, raise_error, Pinger).

#[rustyray::remote]
fn noop() {}

#[rustyray::remote]
fn add_one(x: u64) -> u64 {
    x + 1
}

#[rustyray::remote]
fn make_blob(n: u64) -> Vec<u8> {
    vec![b'x'; n as usize]
}

/// The fan-in reducer: any number of blobs, their total length.
#[rustyray::remote(variadic)]
fn reduce_blobs(blobs: Vec<Vec<u8>>) -> u64 {
    blobs.iter().map(|b| b.len() as u64).sum()
}

/// Bytes in, the same bytes out. `ByteBuf` has the same encoding as `Vec<u8>` but is
/// (de)serialized with one copy instead of byte by byte.
#[rustyray::remote]
fn echo(data: serde_bytes::ByteBuf) -> serde_bytes::ByteBuf {
    data
}

/// SHA-256 of `len` bytes of `data` from `offset`: reads only those bytes of the object
/// (the `object_fanout_ms` row).
#[rustyray::remote]
fn hash_range(
    data: rustyray::ObjectRef<Vec<u8>>,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>, rustyray::RayError> {
    use sha2::Digest;
    let chunk = data.read(offset..offset + len)?;
    Ok(sha2::Sha256::digest(&chunk).to_vec())
}

#[rustyray::remote]
fn raise_error() -> Result<(), String> {
    Err("intentional benchmark error".to_string())
}

/// Runs until cancelled.
#[rustyray::remote]
fn spin() -> u64 {
    let mut n = 0u64;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

#[rustyray::actor]
#[derive(Default)]
pub struct Pinger {
    pings: u64,
}

#[rustyray::actor]
impl Pinger {
    pub fn new() -> Self {
        Pinger::default()
    }

    pub fn ping(&mut self) {
        self.pings += 1;
    }
}
