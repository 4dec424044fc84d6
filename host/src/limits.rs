//! Limits on what one task or actor may consume, and how hitting one is reported.
//!
//! Every instance runs under a [`ResolvedLimits`]: the runtime's defaults
//! ([`RuntimeBuilder::limits`](crate::RuntimeBuilder::limits)) with a task's or an
//! actor's own [`Limits`] laid over them. They are enforced where the resource is
//! taken:
//!
//! - linear memory, table elements, and core instances/tables per store by the
//!   store's [`ResourceLimiter`] ([`GuestLimiter`]), which *records* a refusal: a
//!   Rust guest that cannot grow its memory aborts (an `unreachable` trap), and the
//!   record is what lets the error say "memory limit" instead of "unreachable";
//! - fuel by wasmtime (`Trap::OutOfFuel`), when the engine meters fuel;
//! - result size when a result or a guest `put` is about to be stored;
//! - captured output by the capture buffer (see `output.rs`), which traps the guest
//!   with a [`LimitTrap`] once the cap is reached.
//!
//! - network connections, bytes and timeouts by the network hooks (see `net/`),
//!   which trap the guest (or record the hit, for `wasi:http`).
//!
//! Whatever the limit, the error is [`RayError::LimitExceeded`] naming it and its value.
//! The wall-clock deadline is the task's timeout ([`RayError::Timeout`]).

use std::fmt;
use std::time::Duration;

use wasmtime::ResourceLimiter;

use crate::budget::{HostMemory, Reservation};
use crate::error::RayError;

/// A limit a guest can run into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// Bytes of linear memory one instance may grow to.
    Memory,
    /// Units of fuel (roughly, wasm instructions) one task or actor call may burn.
    Fuel,
    /// Elements of one table.
    TableElements,
    /// Core instances in one task's store (a component instantiates a few).
    Instances,
    /// Tables in one task's store.
    Tables,
    /// Bytes of one result, or of one object a guest `put`s.
    ResultSize,
    /// Bytes of stdout plus stderr captured for one task or actor call.
    Output,
    /// Instances alive at once in the whole runtime (running tasks, tasks blocked in
    /// `get`, actors, drivers): what unbounded recursion through `remote` runs into.
    LiveInstances,
    /// Sockets (TCP, UDP, listening) and HTTP connections one task or actor has open
    /// at once.
    Connections,
    /// Bytes one task (or actor call) sends over the network.
    BytesSent,
    /// Bytes one task (or actor call) receives over the network.
    BytesReceived,
    /// Milliseconds a connect may take.
    ConnectTimeout,
    /// Milliseconds a read from the network may wait for data.
    ReadTimeout,
    /// Bytes the host holds on guests' behalf, runtime-wide: objects, queued
    /// arguments, errors, captured output, grown linear memory (see `budget.rs`).
    HostMemory,
    /// Actors alive at once in the whole runtime (counted apart from tasks).
    LiveActors,
    /// Bytes of a name a guest hands the host: function, actor, namespace, class,
    /// method.
    NameLength,
    /// Bytes of objects spilled to disk at once, runtime-wide (see `spill.rs`).
    Spilled,
    /// Type names a task's `retry_exceptions` may list
    /// ([`MAX_RETRY_EXCEPTION_TYPES`](crate::task::MAX_RETRY_EXCEPTION_TYPES)).
    RetryExceptionTypes,
    /// Task runtimes (one per job, namespace and module set) a cluster node keeps at once
    /// for the tasks other nodes send it (`MAX_TASK_RUNTIMES` of the node).
    TaskRuntimes,
    /// Bytes of an actor snapshot a cluster node keeps in JetStream (`rustyray start
    /// --max-snapshot-mib`).
    SnapshotSize,
}

impl Limit {
    /// The limit's name, as errors show it.
    pub fn name(self) -> &'static str {
        match self {
            Limit::Memory => "memory",
            Limit::Fuel => "fuel",
            Limit::TableElements => "table elements",
            Limit::Instances => "instances",
            Limit::Tables => "tables",
            Limit::ResultSize => "result size",
            Limit::Output => "output",
            Limit::LiveInstances => "live instances",
            Limit::Connections => "connections",
            Limit::BytesSent => "bytes sent",
            Limit::BytesReceived => "bytes received",
            Limit::ConnectTimeout => "connect timeout",
            Limit::ReadTimeout => "read timeout",
            Limit::HostMemory => "host memory",
            Limit::LiveActors => "live actors",
            Limit::NameLength => "name length",
            Limit::Spilled => "spilled bytes",
            Limit::RetryExceptionTypes => "retry exception types",
            Limit::TaskRuntimes => "task runtimes",
            Limit::SnapshotSize => "snapshot size",
        }
    }

    /// The limit named `name` (as [`Limit::name`] spells it), for errors that crossed
    /// from another runtime.
    pub fn from_name(name: &str) -> Option<Limit> {
        Limit::ALL.into_iter().find(|limit| limit.name() == name)
    }

    /// Every limit.
    pub const ALL: [Limit; 20] = [
        Limit::Memory,
        Limit::Fuel,
        Limit::TableElements,
        Limit::Instances,
        Limit::Tables,
        Limit::ResultSize,
        Limit::Output,
        Limit::LiveInstances,
        Limit::Connections,
        Limit::BytesSent,
        Limit::BytesReceived,
        Limit::ConnectTimeout,
        Limit::ReadTimeout,
        Limit::HostMemory,
        Limit::LiveActors,
        Limit::NameLength,
        Limit::Spilled,
        Limit::RetryExceptionTypes,
        Limit::TaskRuntimes,
        Limit::SnapshotSize,
    ];

    /// Whether the value counts bytes.
    pub fn is_bytes(self) -> bool {
        matches!(
            self,
            Limit::Memory
                | Limit::ResultSize
                | Limit::Output
                | Limit::BytesSent
                | Limit::BytesReceived
                | Limit::HostMemory
                | Limit::NameLength
                | Limit::Spilled
                | Limit::SnapshotSize
        )
    }

    /// `value` with its unit, for messages: `16 MiB (16777216 bytes)`, `1000 instances`.
    pub fn describe(self, value: u64) -> String {
        if self.is_bytes() {
            format!("{} ({value} bytes)", human_bytes(value))
        } else {
            match self {
                Limit::Fuel => format!("{value} units"),
                Limit::ConnectTimeout | Limit::ReadTimeout => format!("{value} ms"),
                _ => format!("{value}"),
            }
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn human_bytes(value: u64) -> String {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    match value {
        v if v >= GIB && v % GIB == 0 => format!("{} GiB", v / GIB),
        v if v >= MIB && v % MIB == 0 => format!("{} MiB", v / MIB),
        v if v >= KIB && v % KIB == 0 => format!("{} KiB", v / KIB),
        v => format!("{v} B"),
    }
}

/// Limits of one task or actor; each `None` takes the runtime's default.
///
/// ```
/// use rustyray::Limits;
/// let tight = Limits::new().memory(16 << 20).fuel(10_000_000).result_size(1 << 20);
/// assert_eq!(tight.memory, Some(16 << 20));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use]
pub struct Limits {
    /// Bytes of linear memory (at most the runtime's
    /// [`memory_limit`](crate::RuntimeBuilder::memory_limit), which sizes the pool).
    pub memory: Option<usize>,
    /// Fuel per task or actor call; needs [`RuntimeBuilder::fuel`](crate::RuntimeBuilder::fuel).
    pub fuel: Option<u64>,
    /// Elements per table.
    pub table_elements: Option<u32>,
    /// Core instances per store.
    pub instances: Option<u32>,
    /// Tables per store.
    pub tables: Option<u32>,
    /// Bytes of one result (and of one object a guest `put`s).
    pub result_size: Option<usize>,
    /// Bytes of stdout plus stderr captured per task or actor call.
    pub output: Option<usize>,
    /// Sockets and HTTP connections open at once.
    pub connections: Option<u32>,
    /// Bytes sent over the network per task or actor call.
    pub bytes_sent: Option<u64>,
    /// Bytes received over the network per task or actor call.
    pub bytes_received: Option<u64>,
    /// How long a connect (TCP, or HTTP including TLS) may take.
    pub connect_timeout: Option<Duration>,
    /// How long a read from the network may wait for data.
    pub read_timeout: Option<Duration>,
}

impl Limits {
    /// No overrides: every limit is the runtime's default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Caps linear memory at `bytes`.
    pub fn memory(mut self, bytes: usize) -> Self {
        self.memory = Some(bytes);
        self
    }

    /// Gives each task (or actor call) `units` of fuel.
    pub fn fuel(mut self, units: u64) -> Self {
        self.fuel = Some(units);
        self
    }

    /// Caps table elements.
    pub fn table_elements(mut self, elements: u32) -> Self {
        self.table_elements = Some(elements);
        self
    }

    /// Caps core instances per store.
    pub fn instances(mut self, instances: u32) -> Self {
        self.instances = Some(instances);
        self
    }

    /// Caps tables per store.
    pub fn tables(mut self, tables: u32) -> Self {
        self.tables = Some(tables);
        self
    }

    /// Caps the encoded size of a result (and of a guest `put`).
    pub fn result_size(mut self, bytes: usize) -> Self {
        self.result_size = Some(bytes);
        self
    }

    /// Caps captured output (stdout plus stderr).
    pub fn output(mut self, bytes: usize) -> Self {
        self.output = Some(bytes);
        self
    }

    /// Caps sockets and HTTP connections open at once.
    pub fn connections(mut self, connections: u32) -> Self {
        self.connections = Some(connections);
        self
    }

    /// Caps bytes sent over the network.
    pub fn bytes_sent(mut self, bytes: u64) -> Self {
        self.bytes_sent = Some(bytes);
        self
    }

    /// Caps bytes received over the network.
    pub fn bytes_received(mut self, bytes: u64) -> Self {
        self.bytes_received = Some(bytes);
        self
    }

    /// Bounds how long a connect may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Bounds how long a network read may wait for data.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    /// These limits over `defaults`; memory never above `ceiling` (the pool's size).
    pub(crate) fn resolve(&self, defaults: &ResolvedLimits) -> ResolvedLimits {
        ResolvedLimits {
            memory: self
                .memory
                .unwrap_or(defaults.memory)
                .min(defaults.memory_ceiling),
            memory_ceiling: defaults.memory_ceiling,
            fuel: self.fuel.or(defaults.fuel),
            table_elements: self.table_elements.unwrap_or(defaults.table_elements),
            instances: self.instances.unwrap_or(defaults.instances),
            tables: self.tables.unwrap_or(defaults.tables),
            result_size: self.result_size.unwrap_or(defaults.result_size),
            output: self.output.unwrap_or(defaults.output),
            connections: self.connections.unwrap_or(defaults.connections),
            bytes_sent: self.bytes_sent.unwrap_or(defaults.bytes_sent),
            bytes_received: self.bytes_received.unwrap_or(defaults.bytes_received),
            connect_timeout: self.connect_timeout.unwrap_or(defaults.connect_timeout),
            read_timeout: self.read_timeout.unwrap_or(defaults.read_timeout),
        }
    }
}

/// Default elements per table (the pool's size).
pub(crate) const TABLE_ELEMENTS: u32 = 20_000;
/// Default core instances per store (the pool allows 20 per component).
pub(crate) const INSTANCES: u32 = 20;
/// Default tables per store.
pub(crate) const TABLES: u32 = 20;
/// Default captured output per task: 1 MiB.
pub(crate) const OUTPUT: usize = 1 << 20;
/// Default sockets and HTTP connections open at once per task or actor.
pub(crate) const CONNECTIONS: u32 = 16;
/// Default bytes sent, and received, over the network per task or call: 1 GiB.
pub(crate) const NET_BYTES: u64 = 1 << 30;
/// Default connect timeout.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default read timeout.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest name (function, actor, namespace, class, method) the host accepts.
pub const NAME_LENGTH: usize = 1 << 10;
/// The longest error message (a guest's `Err` text or panic message) the host keeps;
/// longer ones are cut, saying how much was cut.
pub const ERROR_MESSAGE: usize = 64 << 10;

/// Refuses a guest-chosen `name` longer than [`NAME_LENGTH`]; `kind` says what it
/// names ("function", "actor name", ...).
pub(crate) fn check_name(kind: &str, name: &str) -> Result<(), RayError> {
    if name.len() <= NAME_LENGTH {
        return Ok(());
    }
    let mut shown = NAME_LENGTH.min(64);
    while !name.is_char_boundary(shown) {
        shown -= 1;
    }
    Err(RayError::LimitExceeded {
        function: format!("{kind} {:?}...", &name[..shown]),
        limit: Limit::NameLength,
        value: NAME_LENGTH as u64,
        detail: format!("the {kind} is {} bytes", name.len()),
    })
}

/// `message` cut to [`ERROR_MESSAGE`] bytes (at a character boundary), saying how
/// many bytes were cut.
pub(crate) fn cut_message(mut message: String) -> String {
    if message.len() <= ERROR_MESSAGE {
        return message;
    }
    let total = message.len();
    let mut end = ERROR_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message.truncate(end);
    message.push_str(&format!(
        "... [{} of {total} bytes cut: error messages are kept up to {} bytes]",
        total - end,
        ERROR_MESSAGE
    ));
    message
}

/// The shorter of two optional deadlines (`None`: no deadline).
pub(crate) fn shorter(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The limits one instance actually runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResolvedLimits {
    pub(crate) memory: usize,
    /// The pool's memory size: no task may go above it.
    pub(crate) memory_ceiling: usize,
    pub(crate) fuel: Option<u64>,
    pub(crate) table_elements: u32,
    pub(crate) instances: u32,
    pub(crate) tables: u32,
    pub(crate) result_size: usize,
    pub(crate) output: usize,
    pub(crate) connections: u32,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_received: u64,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Duration,
}

impl ResolvedLimits {
    /// The runtime's defaults: `overrides` over the built-in values.
    pub(crate) fn defaults(memory_ceiling: usize, overrides: &Limits) -> Self {
        let builtin = ResolvedLimits {
            memory: memory_ceiling,
            memory_ceiling,
            fuel: None,
            table_elements: TABLE_ELEMENTS,
            instances: INSTANCES,
            tables: TABLES,
            // A result (or `put`) can be as large as the memory it was made in.
            result_size: memory_ceiling,
            output: OUTPUT,
            connections: CONNECTIONS,
            bytes_sent: NET_BYTES,
            bytes_received: NET_BYTES,
            connect_timeout: CONNECT_TIMEOUT,
            read_timeout: READ_TIMEOUT,
        };
        overrides.resolve(&builtin)
    }

    /// The error for a result (or `put`) of `len` bytes, if it is over the limit.
    pub(crate) fn check_result(&self, function: &str, len: usize) -> Result<(), RayError> {
        if len > self.result_size {
            Err(RayError::LimitExceeded {
                function: function.to_string(),
                limit: Limit::ResultSize,
                value: self.result_size as u64,
                detail: format!("the result is {len} bytes"),
            })
        } else {
            Ok(())
        }
    }
}

/// A limit hit inside wasmtime, carried through a trap as its error (captured
/// output over its cap) or recorded by the limiter (a refused memory growth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LimitTrap {
    pub(crate) limit: Limit,
    pub(crate) value: u64,
    pub(crate) detail: String,
}

impl fmt::Display for LimitTrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} limit of {} exceeded",
            self.limit,
            self.limit.describe(self.value)
        )?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for LimitTrap {}

impl LimitTrap {
    pub(crate) fn into_error(self, function: &str) -> RayError {
        RayError::LimitExceeded {
            function: function.to_string(),
            limit: self.limit,
            value: self.value,
            detail: self.detail,
        }
    }
}

/// The store's [`ResourceLimiter`]: enforces [`ResolvedLimits`] and remembers the
/// first refusal, so the trap that follows can be reported as that limit.
#[derive(Debug)]
pub(crate) struct GuestLimiter {
    pub(crate) limits: ResolvedLimits,
    hit: Option<LimitTrap>,
    /// Where growth of linear memory after instantiation is charged, and how much
    /// has been; given back when the store (and this) is dropped.
    charge: Option<(HostMemory, usize)>,
    /// A running task's memory reservation (see `budget.rs`): growth is taken out of
    /// it as it is charged. `None` while the task waits in `get`, and for actors.
    pub(crate) reservation: Option<Reservation>,
}

impl GuestLimiter {
    pub(crate) fn new(limits: ResolvedLimits) -> Self {
        GuestLimiter {
            limits,
            hit: None,
            charge: None,
            reservation: None,
        }
    }

    /// What a task may still grow into: its memory limit less what it has grown
    /// into already (what it should reserve to run again after a `get`).
    pub(crate) fn remaining_need(&self) -> usize {
        let charged = self.charge.as_ref().map_or(0, |(_, charged)| *charged);
        self.limits.memory.saturating_sub(charged)
    }

    /// From now on, linear memory the instance grows into is charged to `memory`
    /// (called once the instance exists: its initial memory is bounded by the
    /// instance budgets instead).
    pub(crate) fn charge_to(&mut self, memory: &HostMemory) {
        self.charge = Some((memory.clone(), 0));
    }

    /// The refusal recorded since the last [`GuestLimiter::reset`], if any.
    pub(crate) fn take_hit(&mut self) -> Option<LimitTrap> {
        self.hit.take()
    }

    /// Forgets a refusal the guest survived (before an actor's next call).
    pub(crate) fn reset(&mut self) {
        self.hit = None;
    }

    fn refuse(&mut self, limit: Limit, value: u64, detail: String) -> wasmtime::Result<bool> {
        if self.hit.is_none() {
            self.hit = Some(LimitTrap {
                limit,
                value,
                detail,
            });
        }
        Ok(false)
    }
}

impl Drop for GuestLimiter {
    fn drop(&mut self) {
        if let Some((memory, charged)) = &self.charge {
            memory.release(*charged);
        }
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limits.memory {
            return self.refuse(
                Limit::Memory,
                self.limits.memory as u64,
                format!("growing linear memory from {current} to {desired} bytes was refused"),
            );
        }
        if let Some((memory, charged)) = &mut self.charge {
            let more = desired.saturating_sub(current);
            if let Err(RayError::LimitExceeded { value, detail, .. }) =
                memory.take(more, String::new)
            {
                return self.refuse(
                    Limit::HostMemory,
                    value,
                    format!("growing linear memory from {current} to {desired} bytes: {detail}"),
                );
            }
            *charged += more;
            if let Some(reservation) = &mut self.reservation {
                reservation.consume(more);
            }
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limits.table_elements as usize {
            return self.refuse(
                Limit::TableElements,
                u64::from(self.limits.table_elements),
                format!("growing a table from {current} to {desired} elements was refused"),
            );
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.limits.instances as usize
    }

    fn tables(&self) -> usize {
        self.limits.tables as usize
    }

    fn memories(&self) -> usize {
        // A component of Rust has one; the pool allows 4 per component.
        4
    }
}

/// The limit behind an instantiation or call error that did not come through the
/// limiter: a per-store count, or the runtime's pool of instances.
pub(crate) fn limit_of_error(
    err: &wasmtime::Error,
    limits: &ResolvedLimits,
    pool_instances: u32,
) -> Option<LimitTrap> {
    if let Some(trap) = err.downcast_ref::<LimitTrap>() {
        return Some(trap.clone());
    }
    if err
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        return Some(LimitTrap {
            limit: Limit::LiveInstances,
            value: u64::from(pool_instances),
            detail: format!("{err}"),
        });
    }
    let message = format!("{err:#}");
    if message.contains("maximum concurrent limit") {
        return Some(LimitTrap {
            limit: Limit::LiveInstances,
            value: u64::from(pool_instances),
            detail: message,
        });
    }
    if message.contains("count too high") {
        let (limit, value) = if message.contains("table count") {
            (Limit::Tables, limits.tables)
        } else {
            (Limit::Instances, limits.instances)
        };
        return Some(LimitTrap {
            limit,
            value: u64::from(value),
            detail: message,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_lay_over_defaults_and_memory_stays_under_the_pool() {
        let defaults = ResolvedLimits::defaults(64 << 20, &Limits::new().output(100));
        assert_eq!(defaults.memory, 64 << 20);
        assert_eq!(defaults.output, 100);
        let task = Limits::new().memory(1 << 30).fuel(5).resolve(&defaults);
        assert_eq!(task.memory, 64 << 20, "capped by the pool");
        assert_eq!(task.fuel, Some(5));
        assert_eq!(task.output, 100);
        assert_eq!(task.result_size, 64 << 20, "the memory limit");
    }

    #[test]
    fn values_are_described_with_units() {
        assert_eq!(Limit::Memory.describe(16 << 20), "16 MiB (16777216 bytes)");
        assert_eq!(Limit::Output.describe(1000), "1000 B (1000 bytes)");
        assert_eq!(Limit::Fuel.describe(7), "7 units");
        assert_eq!(Limit::LiveInstances.describe(1000), "1000");
    }

    #[test]
    fn the_limiter_records_its_first_refusal() {
        let mut limiter = GuestLimiter::new(ResolvedLimits::defaults(1 << 20, &Limits::new()));
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        assert!(!limiter.memory_growing(1 << 20, 2 << 20, None).unwrap());
        assert!(!limiter.table_growing(0, 1_000_000, None).unwrap());
        let hit = limiter.take_hit().expect("a refusal");
        assert_eq!(hit.limit, Limit::Memory);
        assert_eq!(hit.value, 1 << 20);
        assert!(limiter.take_hit().is_none());
    }
}
