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

/// SHA-256 of `len` bytes of `data` from `offset`, given the whole object as a value
/// (the `object_fanout_value_ms` row).
#[rustyray::remote]
fn hash_value(data: Vec<u8>, offset: u64, len: u64) -> Result<Vec<u8>, String> {
    use sha2::Digest;
    let range = usize::try_from(offset).map_err(|err| err.to_string())?
        ..usize::try_from(offset + len).map_err(|err| err.to_string())?;
    let chunk = data.get(range).ok_or("range past the end of the object")?;
    Ok(sha2::Sha256::digest(chunk).to_vec())
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

fn arg(args: &[String], at: usize, default: u64) -> u64 {
    args.get(at).and_then(|a| a.parse().ok()).unwrap_or(default)
}

/// The cross-node rows of `rustyray bench --address`, run as a job on a cluster (timed
/// inside the job, so the job's start is not counted):
///
/// - `tasks N`: N `add_one` tasks submitted at once, then all got; prints
///   `tasks=N seconds=S`.
/// - `transfer MIB K`: K `make_blob` tasks of MIB MiB at once (the cluster places them on
///   its nodes), each read whole by the driver (a result kept on another node is fetched
///   from there); prints `bytes=B seconds=S`.
/// - `actor-rtt N NODE...`: on each node named, a `Pinger` pinned there (node affinity),
///   called once, then N times one call at a time; prints `node=ID us=MEAN` per node,
///   then `seconds=S`. The actors end with the job.
/// - `actor-place NAME RES`: a detached `Pinger` named NAME needing 1 of resource RES
///   (one restart allowed), called once; prints `seconds=S`.
/// - `actor-kill NAME`: kills the `Pinger` named NAME; prints `killed=1 seconds=S` (or
///   `killed=0` if there is none).
#[rustyray::main]
fn main() -> Result<(), rustyray::RayError> {
    let args = rustyray::args();
    let start = std::time::Instant::now();
    match args.get(1).map(String::as_str) {
        Some("tasks") => {
            let n = arg(&args, 2, 1000);
            let refs: Vec<_> = (0..n).map(add_one::remote).collect();
            for r in &refs {
                r.get()?;
            }
            println!("tasks={n} seconds={}", start.elapsed().as_secs_f64());
        }
        Some("transfer") => {
            let mib = arg(&args, 2, 100);
            let k = arg(&args, 3, 3);
            let refs: Vec<_> = (0..k).map(|_| make_blob::remote(mib << 20)).collect();
            let mut bytes = 0;
            for r in &refs {
                // Read, not only sized: a result kept where it was made moves only then.
                bytes += r.bytes()?.len() as u64;
            }
            println!("bytes={bytes} seconds={}", start.elapsed().as_secs_f64());
        }
        Some("actor-rtt") => {
            let n = arg(&args, 2, 200).max(1);
            for node in args.iter().skip(3) {
                let pinger = Pinger::remote_with(rustyray::ActorOptions::new().node_id(node));
                pinger.ping().get()?;
                let began = std::time::Instant::now();
                for _ in 0..n {
                    pinger.ping().get()?;
                }
                println!(
                    "node={node} us={}",
                    began.elapsed().as_secs_f64() * 1e6 / n as f64
                );
            }
            println!("seconds={}", start.elapsed().as_secs_f64());
        }
        Some("actor-place") => {
            let (Some(name), Some(resource)) = (args.get(2), args.get(3)) else {
                return Err(rustyray::RayError::application("actor-place NAME RES"));
            };
            let pinger = Pinger::remote_with(
                rustyray::ActorOptions::new()
                    .name(name)
                    .detached(true)
                    .max_restarts(1)
                    .resource(resource, 1.0),
            );
            pinger.ping().get()?;
            println!("seconds={}", start.elapsed().as_secs_f64());
        }
        Some("actor-kill") => {
            let name = args
                .get(2)
                .ok_or_else(|| rustyray::RayError::application("actor-kill NAME"))?;
            let killed = match Pinger::get_named(name) {
                Some(pinger) => {
                    pinger.kill();
                    1
                }
                None => 0,
            };
            println!("killed={killed} seconds={}", start.elapsed().as_secs_f64());
        }
        // No mode: one task, then a line (the `job_first_output_ms` row of `rustyray bench`).
        None => println!("bench job: {}", add_one::remote(41).get()?),
        other => {
            return Err(rustyray::RayError::application(format!(
                "unknown mode {other:?}: tasks N, transfer MIB K, actor-rtt N NODE..., \
                 actor-place NAME RES, actor-kill NAME, or none"
            )));
        }
    }
    Ok(())
}
