//! Tasks spread over a cluster's nodes (`tests/all/cluster_tasks.rs`). The program's
//! first argument names what it does; it prints what it computed, which the tests check
//! against their own computation:
//!
//! - `spread N MS`: N tasks `step(i, MS)` (each sleeps MS ms and returns i*i) and one
//!   `nested(20)` (a task that submits 20 tasks itself); prints
//!   `spread n=N sum=S nested=X`.
//! - `big MIB`: two tasks `make_big(MIB, seed)` at once (MIB MiB each, from seeds 1 and
//!   2), then `checksum` of each, an `ObjectRef` argument; prints
//!   `big seed=1 len=L fnv=H` per object.

use rustyray::RayError;

/// Sleeps `ms` milliseconds, then returns `i * i`.
#[rustyray::remote]
fn step(i: u64, ms: u64) -> u64 {
    if ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    i * i
}

/// Submits `n` tasks itself (`step(i, 0)`, i < n) and sums their results.
#[rustyray::remote]
fn nested(n: u64) -> Result<u64, RayError> {
    let refs: Vec<_> = (0..n).map(|i| step::remote(i, 0)).collect();
    let mut total = 0;
    for r in &refs {
        total += r.get()?;
    }
    Ok(total)
}

/// `mib` MiB of bytes from `seed`: byte k is the low byte of `k * 31 + seed * 7 + k / 4096`.
#[rustyray::remote]
fn make_big(mib: u32, seed: u32) -> Vec<u8> {
    let len = (mib as usize) << 20;
    (0..len)
        .map(|k| (k.wrapping_mul(31) + (seed as usize) * 7 + k / 4096) as u8)
        .collect()
}

/// 64-bit FNV-1a of `data`.
#[rustyray::remote]
fn checksum(data: Vec<u8>) -> (u64, u64) {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in &data {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (data.len() as u64, hash)
}

fn number(args: &[String], at: usize, default: u64) -> u64 {
    args.get(at).and_then(|a| a.parse().ok()).unwrap_or(default)
}

#[rustyray::main]
fn main() -> Result<(), RayError> {
    let args = rustyray::args();
    match args.get(1).map(String::as_str) {
        Some("spread") => {
            let n = number(&args, 2, 100);
            let ms = number(&args, 3, 0);
            let refs: Vec<_> = (0..n).map(|i| step::remote(i, ms)).collect();
            let nested = nested::remote(20);
            let mut sum = 0u64;
            for r in &refs {
                sum += r.get()?;
            }
            println!("spread n={n} sum={sum} nested={}", nested.get()?);
        }
        Some("big") => {
            let mib = number(&args, 2, 100) as u32;
            let objects: Vec<_> = (1..=2)
                .map(|seed| (seed, make_big::remote(mib, seed)))
                .collect();
            for (seed, object) in &objects {
                let (len, fnv) = checksum::remote(object).get()?;
                println!("big seed={seed} len={len} fnv={fnv:016x}");
            }
        }
        other => {
            return Err(RayError::application(format!(
                "unknown mode {other:?}: spread N MS, or big MIB"
            )));
        }
    }
    Ok(())
}
