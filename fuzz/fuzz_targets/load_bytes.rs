//! Loading a component from arbitrary bytes: `Runtime::load_bytes` must answer
//! with a component or an error (not wasm, a core module, does not compile,
//! another world, ...), never panic, hang or crash the host.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rustyray_host::{RayError, Runtime};

struct Host {
    runtime: Runtime,
    executor: tokio::runtime::Runtime,
}

fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| Host {
        runtime: Runtime::builder()
            .cache_dir(None)
            .worker_threads(1)
            .max_instances(8)
            .memory_limit(64 << 20)
            .build()
            .expect("the runtime starts"),
        executor: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("an executor"),
    })
}

fuzz_target!(|data: &[u8]| {
    let host = host();
    match host
        .executor
        .block_on(host.runtime.load_bytes(data, "fuzz.wasm"))
    {
        Ok(_) => {}
        Err(RayError::InvalidModule { source_name, .. }) => assert_eq!(source_name, "fuzz.wasm"),
        // A second load of a component whose functions are already registered.
        Err(RayError::DuplicateFunction { .. }) => {}
        Err(other) => panic!("unexpected error kind: {other:?}"),
    }
});
