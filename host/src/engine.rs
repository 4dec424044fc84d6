//! The wasmtime `Engine` every instance shares, configured for many short-lived
//! instances: a pooling allocator with copy-on-write memory images (instantiation in
//! microseconds), fiber-based async (a guest waiting on an object suspends, not a
//! thread), epoch interruption for deadlines and cancellation (about 1% overhead,
//! against several times that for fuel), and component-model async turned off,
//! because it triples the cost of every call. A second engine, made on first use, has
//! it on, for the components that use it (actors whose calls interleave,
//! `max_concurrency`): only their calls pay for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::error::{RayError, Result};

/// How often the engine's epoch advances: the granularity of deadlines and of
/// cancelling a running guest, and how often a long task yields its thread.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Linear memory per pool slot reset in place rather than decommitted (only the
/// pages a task actually dirtied are touched, when PAGEMAP_SCAN is available).
const KEEP_RESIDENT_MEMORY: usize = 2 << 20;
/// Table and fiber-stack bytes per slot zeroed in place rather than decommitted.
const KEEP_RESIDENT_SMALL: usize = 64 << 10;

/// The wasm stack a guest may use; deeper recursion traps with a stack overflow.
pub(crate) const MAX_WASM_STACK: usize = 512 << 10;

/// Sizes of the instance pool.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolSizes {
    /// Component instances alive at once (running tasks, waiting guests, drivers).
    pub(crate) instances: u32,
    /// Largest linear memory a guest may grow to.
    pub(crate) max_memory: usize,
    /// Meter fuel (off by default: it slows every guest down).
    pub(crate) fuel: bool,
}

/// The engine; with `concurrent`, the one with the component model's async ABI on (the
/// calls of an actor with `max_concurrency` > 1 interleave in its one instance at their
/// `concurrent-objects` waits), whose instances are allocated on demand rather than from
/// a second pool.
pub(crate) fn build_engine(pool: &PoolSizes, concurrent: bool) -> Result<Engine> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.concurrency_support(concurrent);
    if concurrent {
        config.wasm_component_model_async(true);
    }
    // Fibers of 1 MiB with the guest's stack limit well below, so a guest stack
    // overflow traps instead of overrunning the fiber.
    config.async_stack_size(1 << 20);
    config.max_wasm_stack(MAX_WASM_STACK);
    // Metering fuel costs on every loop and call, so only when asked for.
    config.consume_fuel(pool.fuel);
    if concurrent {
        config.memory_reservation(pool.max_memory as u64);
        config.memory_guard_size(32 << 20);
        config.memory_reservation_for_growth(0);
        return Engine::new(&config)
            .map_err(|err| RayError::Internal(format!("wasmtime engine: {err}")));
    }

    let mut pooling = PoolingAllocationConfig::default();
    // Decommit at once, not in batches: with the in-place reset below, only an
    // instance that dirtied more than `KEEP_RESIDENT_MEMORY` has pages to give back,
    // and a batch kept them all resident until 64 such regions piled up — 25 tasks
    // that each took a 50 MiB argument held 1.2 GB after they had ended.
    pooling.decommit_batch_size(1);
    // The dominant cost of a fresh instance is not wasmtime but the kernel: the
    // guest's first writes fault in pages (copy-on-write of the image, or of the
    // zero page after a read), and with two threads each such fault flushes the
    // other CPU's TLB by IPI — slow under virtualization. Instead, keep the pages a
    // task dirtied resident and reset just those in place (found with the
    // PAGEMAP_SCAN ioctl, Linux ≥ 6.7; elsewhere wasmtime falls back to madvise),
    // so the next instance in the slot starts with its pages mapped and writable:
    // 26k → 95k tasks/s here. Tables and fiber stacks are zeroed in place likewise.
    pooling.pagemap_scan(wasmtime::Enabled::Auto);
    pooling.linear_memory_keep_resident(KEEP_RESIDENT_MEMORY);
    pooling.table_keep_resident(KEEP_RESIDENT_SMALL);
    pooling.async_stack_keep_resident(KEEP_RESIDENT_SMALL);
    pooling.total_component_instances(pool.instances);
    // A Rust guest built with WASI has 3 core instances, 2 tables and 1 memory.
    pooling.total_core_instances(pool.instances * 4);
    pooling.total_memories(pool.instances);
    pooling.total_tables(pool.instances * 4);
    pooling.total_stacks(pool.instances);
    pooling.max_memory_size(pool.max_memory);
    pooling.max_core_instances_per_component(20);
    pooling.max_tables_per_component(20);
    pooling.max_memories_per_component(4);
    pooling.table_elements(20_000);
    pooling.max_component_instance_size(1 << 20);
    pooling.max_core_instance_size(1 << 20);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    // Reserve only what a memory may use (plus the guard), not the default 4 GiB,
    // so thousands of slots fit in the address space.
    config.memory_reservation(pool.max_memory as u64);
    config.memory_guard_size(32 << 20);
    config.memory_reservation_for_growth(0);

    Engine::new(&config).map_err(|err| RayError::Internal(format!("wasmtime engine: {err}")))
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`] until dropped.
#[derive(Debug)]
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: Engine) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("rustyray-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .map_err(|err| RayError::io("starting the epoch thread", err))?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
