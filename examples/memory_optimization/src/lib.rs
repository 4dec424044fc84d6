//! One large object, put once and passed by reference to many tasks: the bytes go
//! into the object store once, and each task gets its own copy in its own sandbox
//! only when it runs, never through the driver.
//!
//! Run with `rustyray run examples/memory_optimization` (optionally `-- MIB TASKS`).

/// The sum of the bytes in `data[start..start + len]` (a slice of the shared block).
#[rustyray::remote]
fn checksum(data: Vec<u8>, start: u64, len: u64) -> u64 {
    let start = (start as usize).min(data.len());
    let end = start.saturating_add(len as usize).min(data.len());
    data[start..end].iter().map(|&b| u64::from(b)).sum()
}

#[rustyray::main]
fn main() -> Result<(), rustyray::RayError> {
    let args = rustyray::args();
    let mib: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(8);
    let tasks: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(16);

    let block: Vec<u8> = (0..mib * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let expected: u64 = block.iter().map(|&b| u64::from(b)).sum();

    // Put once: from here on the block is shared by reference.
    let shared = rustyray::put(&block)?;
    drop(block);
    println!("put a {mib} MiB block once as object {}", shared.id());

    let chunk = (mib as u64 * 1024 * 1024).div_ceil(tasks);
    let parts: Vec<_> = (0..tasks)
        .map(|i| checksum::remote(&shared, i * chunk, chunk))
        .collect();
    let mut total = 0;
    for part in &parts {
        total += part.get()?;
    }
    println!("{tasks} tasks read the same object; checksum {total} (expected {expected})");
    if total != expected {
        return Err(rustyray::RayError::application("checksum mismatch"));
    }
    Ok(())
}
