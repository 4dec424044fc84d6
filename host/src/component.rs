//! A loaded component: compiled once, checked against the contract, described, and
//! ready to be instantiated in microseconds for every task.
//!
//! Loading is where bad input is caught, each with its own message: bytes that are
//! not wasm, a core module where a component is needed, a component that imports
//! what rustyray does not provide (another world), one that does not export the
//! `guest` interface. After that a task is only `InstancePre::instantiate` plus one
//! call, and the instance is dropped as soon as the call returns, so no state
//! survives from one task to the next.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::OwnedSemaphorePermit;
use wasmtime::component::ComponentExportIndex;
use wasmtime::{Store, UpdateDeadline};

use crate::bindings::{
    Argument, GuestObjectRef, InvokeError, TaskCtx, TaskModulePre, WitEncoding, WitValue,
};
use crate::cache::{CacheOutcome, content_hash};
use crate::codec::{Encoding, Value};
use crate::error::{RayError, Result, TrapContext};
use crate::limits::{GuestLimiter, Limit, LimitTrap, ResolvedLimits, cut_message, limit_of_error};
use crate::object_store::ObjectId;
use crate::output::{OutputCapture, Source};
use crate::runtime::RuntimeInner;
use crate::sandbox::{InstanceSandbox, Stdin};
use crate::task_impl::Resolved;
use crate::task_impl::TaskOptions;

/// What a task brings to [`LoadedComponent::invoke`] besides its arguments.
pub(crate) struct TaskRun<'a> {
    /// The task's id: its result object's.
    pub(crate) id: ObjectId,
    /// Its result object, which keeps alive the actors whose handles the result holds.
    pub(crate) slot: &'a crate::object_store::Slot,
    pub(crate) options: &'a TaskOptions,
    /// Where its stdout and stderr go (`None`: discarded).
    pub(crate) capture: Option<&'a OutputCapture>,
    /// Its cancel: the tasks it submits become its children.
    pub(crate) control: &'a Arc<crate::task_impl::TaskControl>,
    /// The program it belongs to, which the tasks and actors it submits inherit.
    pub(crate) scope: Option<&'a Arc<crate::signal::Signal>>,
    /// Where time not to count against its deadline is recorded (with a deadline).
    pub(crate) clock: Option<Arc<crate::deadline::RunClock>>,
}

/// How long a component's `describe` (and the constructors before it) may take.
const DESCRIBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The interface every rustyray guest exports.
pub(crate) const GUEST_INTERFACE: &str = "rustyray:runtime/guest@0.1.0";
/// The interface a guest whose actors' calls may interleave exports (`max_concurrency`).
pub(crate) const CONCURRENT_INTERFACE: &str = "rustyray:runtime/concurrent-actor@0.1.0";
/// The interface a runnable guest (one with `#[rustyray::main]`) exports.
pub(crate) const DRIVER_INTERFACE: &str = "rustyray:runtime/driver@0.1.0";

/// A function a component exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFunction {
    /// The name tasks use.
    pub name: String,
    /// The Rust signature the guest reports.
    pub signature: String,
    /// How many arguments it takes.
    pub arity: Arity,
}

/// How many arguments a function, constructor or method takes: a submission with another
/// count is refused at once (Ray's `TypeError` at `.remote()`), never run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arity {
    /// The fewest.
    pub min: u32,
    /// The most; `None`: any number more (variadic).
    pub max: Option<u32>,
}

impl Arity {
    /// Exactly `n` arguments.
    pub const fn exact(n: u32) -> Self {
        Arity {
            min: n,
            max: Some(n),
        }
    }

    /// `Ok` if `got` arguments fit; else `BadArguments` for `what` (`add`, `Counter.add`).
    pub(crate) fn check(&self, what: &str, got: usize) -> Result<()> {
        let got_u32 = u32::try_from(got).unwrap_or(u32::MAX);
        if got_u32 >= self.min && self.max.is_none_or(|max| got_u32 <= max) {
            return Ok(());
        }
        let wanted = match self.max {
            None => format!("at least {}", self.min),
            Some(max) if max == self.min => max.to_string(),
            Some(max) => format!("{} to {max}", self.min),
        };
        let plural = if self.min == 1 && self.max == Some(1) {
            ""
        } else {
            "s"
        };
        Err(RayError::BadArguments {
            function: what.to_string(),
            message: format!("`{what}` takes {wanted} argument{plural}, got {got}"),
        })
    }
}

impl From<crate::bindings::WitArity> for Arity {
    fn from(arity: crate::bindings::WitArity) -> Self {
        Arity {
            min: arity.min,
            max: arity.max,
        }
    }
}

/// An actor class a component exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorClassInfo {
    /// The class name actors are created by.
    pub name: String,
    /// The constructor's Rust signature.
    pub constructor: String,
    /// How many arguments the constructor takes.
    pub constructor_arity: Arity,
    /// Its methods.
    pub methods: Vec<ExportedFunction>,
    /// Whether its state can be snapshotted (`#[rustyray::actor(snapshot)]`).
    pub snapshot: bool,
    /// The methods that may interleave when an actor is created with `max_concurrency`
    /// > 1 (Rust guests: `async fn` taking `&self`); empty for a class that cannot.
    pub concurrent_methods: Vec<String>,
}

/// What `describe` learned about a component.
#[derive(Debug, Clone)]
pub struct ComponentInfo {
    /// Where it was loaded from.
    pub source_name: String,
    /// SHA-256 of its bytes.
    pub hash: String,
    /// Its size in bytes.
    pub size: usize,
    /// Its functions.
    pub functions: Vec<ExportedFunction>,
    /// Its actor classes.
    pub actors: Vec<ActorClassInfo>,
    /// Whether it has a `#[rustyray::main]` entry point.
    pub has_main: bool,
    /// Whether it was compiled or came from the cache.
    pub cache: CacheOutcome,
}

/// A compiled, checked component.
pub(crate) struct LoadedComponent {
    info: ComponentInfo,
    pre: TaskModulePre<TaskCtx>,
    run_export: Option<ComponentExportIndex>,
    /// `concurrent-actor`'s functions, for a component that exports it.
    concurrent: Option<ConcurrentExports>,
}

/// Where a component's `concurrent-actor` functions are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConcurrentExports {
    /// `concurrent-methods`.
    pub(crate) methods: ComponentExportIndex,
    /// `actor-call`, lifted async.
    pub(crate) call: ComponentExportIndex,
}

impl fmt::Debug for LoadedComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedComponent")
            .field("source", &self.info.source_name)
            .field("functions", &self.info.functions.len())
            .finish()
    }
}

/// Refuses a component that exports two functions, two actor classes or two methods
/// of one class under one name (one would win at random), naming both.
fn refuse_duplicates(info: &ComponentInfo) -> Result<()> {
    fn first_duplicate<'a>(
        items: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Option<(&'a str, &'a str, &'a str)> {
        let mut seen = std::collections::HashMap::new();
        for (name, signature) in items {
            if let Some(first) = seen.insert(name, signature) {
                return Some((name, first, signature));
            }
        }
        None
    }
    let duplicate = |what: &str, (name, first, second): (&str, &str, &str)| {
        RayError::invalid_module(
            &info.source_name,
            format!(
                "it exports two {what} named {:?}: `{}` and `{}`; rename one",
                name,
                crate::terminal::escape(first),
                crate::terminal::escape(second)
            ),
        )
    };
    let functions = info
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f.signature.as_str()));
    if let Some(dup) = first_duplicate(functions) {
        return Err(duplicate("functions", dup));
    }
    let classes = info
        .actors
        .iter()
        .map(|class| (class.name.as_str(), class.constructor.as_str()));
    if let Some(dup) = first_duplicate(classes) {
        return Err(duplicate("actor classes", dup));
    }
    for class in &info.actors {
        let methods = class
            .methods
            .iter()
            .map(|m| (m.name.as_str(), m.signature.as_str()));
        if let Some(dup) = first_duplicate(methods) {
            return Err(duplicate(&format!("methods of {:?}", class.name), dup));
        }
    }
    Ok(())
}

/// Whether the component is one of the `concurrent-module` world (it exports the
/// `concurrent-actor` interface, at its top level): it runs on the engine with the
/// component model's async ABI. Bytes that do not parse are left to the plain engine,
/// whose error names what is wrong; a component that uses the async ABI without that
/// export is refused by the plain engine's validation.
fn uses_concurrency(bytes: &[u8]) -> bool {
    use wasmparser::Payload;
    let interface = CONCURRENT_INTERFACE
        .split('@')
        .next()
        .unwrap_or(CONCURRENT_INTERFACE);
    // Nested modules and components have exports of their own: only depth 0 counts.
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::ModuleSection { .. } | Payload::ComponentSection { .. }) => depth += 1,
            Ok(Payload::End(_)) => depth = depth.saturating_sub(1),
            Ok(Payload::ComponentExportSection(exports)) if depth == 0 => {
                for export in exports.into_iter().flatten() {
                    if export.name.name.starts_with(interface) {
                        return true;
                    }
                }
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// Whether `methods` has one named `name`.
fn class_has(methods: &[crate::bindings::GuestFunctionInfo], name: &str) -> bool {
    methods.iter().any(|method| method.name == name)
}

/// Refuses bytes that are not a component, naming what they are instead.
fn check_header(bytes: &[u8], source_name: &str) -> Result<()> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(RayError::invalid_module(
            source_name,
            "not a WebAssembly file (no \\0asm header)",
        ));
    }
    if bytes[4..8] == [1, 0, 0, 0] {
        return Err(RayError::invalid_module(
            source_name,
            "this is a core WebAssembly module, not a component; build the guest with \
             `cargo build --target wasm32-wasip2` and the rustyray SDK",
        ));
    }
    Ok(())
}

impl LoadedComponent {
    /// Compiles (or loads from the cache), links, checks and describes `bytes`.
    pub(crate) async fn load(
        runtime: &Arc<RuntimeInner>,
        bytes: &[u8],
        source_name: &str,
    ) -> Result<Self> {
        check_header(bytes, source_name)?;
        let hash = content_hash(bytes);
        let (engine, linker) = if uses_concurrency(bytes) {
            let concurrent = runtime.concurrent_engine()?;
            (&concurrent.engine, &concurrent.linker)
        } else {
            (&runtime.engine, &runtime.linker)
        };
        let (component, cache) = runtime.cache.load(engine, bytes, &hash, source_name)?;
        let pre = linker.instantiate_pre(&component).map_err(|err| {
            RayError::invalid_module(
                source_name,
                format!(
                    "it needs imports this rustyray does not provide: built with the SDK \
                     of another rustyray (its WIT differs: rebuild the guest with the SDK \
                     that comes with this rustyray), or a component of another world: \
                     {err:#}"
                ),
            )
        })?;
        if component.get_export_index(None, GUEST_INTERFACE).is_none() {
            return Err(RayError::invalid_module(
                source_name,
                format!(
                    "it does not export `{GUEST_INTERFACE}`; is it built with the rustyray SDK \
                     (a `#[rustyray::remote]` function or `#[rustyray::main]`)?"
                ),
            ));
        }
        let pre = TaskModulePre::new(pre).map_err(|err| {
            RayError::invalid_module(
                source_name,
                format!("its `{GUEST_INTERFACE}` export has the wrong shape: {err:#}"),
            )
        })?;
        let run_export = component
            .get_export_index(None, DRIVER_INTERFACE)
            .and_then(|driver| component.get_export_index(Some(&driver), "run"));
        let concurrent = component
            .get_export_index(None, CONCURRENT_INTERFACE)
            .and_then(|exported| {
                Some(ConcurrentExports {
                    methods: component.get_export_index(Some(&exported), "concurrent-methods")?,
                    call: component.get_export_index(Some(&exported), "actor-call")?,
                })
            });
        let mut loaded = LoadedComponent {
            info: ComponentInfo {
                source_name: source_name.to_string(),
                hash,
                size: bytes.len(),
                functions: Vec::new(),
                actors: Vec::new(),
                has_main: false,
                cache,
            },
            pre,
            run_export,
            concurrent,
        };
        let (described, mut concurrent_methods) = loaded.describe(runtime).await?;
        let function = |f: crate::bindings::GuestFunctionInfo| ExportedFunction {
            name: f.name,
            signature: f.signature,
            arity: f.arity.into(),
        };
        loaded.info.functions = described.functions.into_iter().map(function).collect();
        loaded.info.actors = described
            .actors
            .into_iter()
            .map(|class| {
                // Only methods the class has (a guest cannot make up others).
                let concurrent = concurrent_methods
                    .remove(&class.name)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|method| class_has(&class.methods, method))
                    .collect();
                ActorClassInfo {
                    name: class.name,
                    constructor: class.constructor,
                    constructor_arity: class.constructor_arity.into(),
                    methods: class.methods.into_iter().map(function).collect(),
                    snapshot: class.snapshot,
                    concurrent_methods: concurrent,
                }
            })
            .collect();
        loaded.info.has_main = described.has_main && loaded.run_export.is_some();
        refuse_duplicates(&loaded.info)?;
        // Only a component that passed every check is worth (and safe) keeping.
        if matches!(
            loaded.info.cache,
            CacheOutcome::Miss | CacheOutcome::Replaced
        ) {
            runtime.cache.store(engine, &loaded.info.hash, &component);
        }
        Ok(loaded)
    }

    /// Asks the component what it exports, in an instance with nothing granted, the
    /// default limits but no fuel limit, and a deadline: its constructors run here,
    /// and a component that never answers must not hang the load.
    async fn describe(
        &self,
        runtime: &Arc<RuntimeInner>,
    ) -> Result<(
        crate::bindings::GuestComponentInfo,
        std::collections::HashMap<String, Vec<String>>,
    )> {
        let limits = ResolvedLimits {
            fuel: None,
            ..runtime.sandbox.limits
        };
        let mut store = new_store(
            runtime,
            self.engine(),
            InstanceSandbox::bare(&limits),
            limits,
        );
        let name = &self.info.source_name;
        let described = async {
            let instance = match self.pre.instance_pre().instantiate_async(&mut store).await {
                Ok(instance) => instance,
                Err(err) => {
                    let why = match limit_hit(&err, &mut store) {
                        Some(hit) => hit.to_string(),
                        None => format!("{err:#}"),
                    };
                    return Err(RayError::invalid_module(
                        name,
                        format!("cannot instantiate: {why}"),
                    ));
                }
            };
            let guest = crate::bindings::TaskModule::new(&mut store, &instance).map_err(|err| {
                RayError::invalid_module(name, format!("its exports have the wrong shape: {err:#}"))
            })?;
            let described = guest
                .rustyray_runtime_guest()
                .call_describe(&mut store)
                .await
                .map_err(|err| {
                    RayError::invalid_module(name, format!("`describe` failed: {err:#}"))
                })?;
            let mut concurrent_methods = std::collections::HashMap::new();
            if let Some(exports) = self.concurrent {
                let func = instance
                    .get_typed_func::<(), (Vec<(String, Vec<String>)>,)>(
                        &mut store,
                        exports.methods,
                    )
                    .map_err(|err| {
                        RayError::invalid_module(
                            name,
                            format!("its `concurrent-methods` export has the wrong type: {err:#}"),
                        )
                    })?;
                let (classes,) = func.call_async(&mut store, ()).await.map_err(|err| {
                    RayError::invalid_module(name, format!("`concurrent-methods` failed: {err:#}"))
                })?;
                concurrent_methods.extend(classes);
            }
            Ok((described, concurrent_methods))
        };
        // Bounded, and cut short by the runtime's abort like every other guest phase.
        let bounded = tokio::time::timeout(DESCRIBE_TIMEOUT, described);
        tokio::select! {
            biased;
            _ = runtime.abort.raised() => Err(RayError::ShutDown),
            outcome = bounded => match outcome {
                Ok(described) => described,
                Err(_) => Err(RayError::invalid_module(
                    name,
                    format!("`describe` did not answer within {DESCRIBE_TIMEOUT:?}"),
                )),
            },
        }
    }

    /// The engine it was compiled for, which its stores must use.
    pub(crate) fn engine(&self) -> &wasmtime::Engine {
        self.pre.instance_pre().component().engine()
    }

    /// `concurrent-actor`'s functions, if the component exports them.
    pub(crate) fn concurrent(&self) -> Option<ConcurrentExports> {
        self.concurrent
    }

    /// The pre-instantiated component, for actors (which keep their instance).
    pub(crate) fn pre(&self) -> &TaskModulePre<TaskCtx> {
        &self.pre
    }

    pub(crate) fn info(&self) -> &ComponentInfo {
        &self.info
    }

    pub(crate) fn source_name(&self) -> &str {
        &self.info.source_name
    }

    pub(crate) fn hash(&self) -> &str {
        &self.info.hash
    }

    pub(crate) fn signature_of(&self, function: &str) -> Option<&str> {
        self.info
            .functions
            .iter()
            .find(|f| f.name == function)
            .map(|f| f.signature.as_str())
    }

    /// Runs `function` in a fresh instance, under the task's capabilities and
    /// limits, and drops the instance.
    pub(crate) async fn invoke(
        &self,
        runtime: &Arc<RuntimeInner>,
        function: &str,
        args: Vec<Resolved>,
        (permit, reservation): (OwnedSemaphorePermit, Option<crate::budget::Reservation>),
        run: &TaskRun<'_>,
    ) -> Result<Value> {
        let defaults = &runtime.sandbox;
        let limits = defaults.limits_for(&run.options.limits)?;
        let capabilities = defaults.capabilities_for(run.options.capabilities.as_deref());
        let sandbox = match run.capture {
            Some(capture) => capabilities.wasi(capture, &limits)?,
            None => capabilities.wasi(
                &OutputCapture::new(Source::Label(String::new()), limits.output, None),
                &limits,
            )?,
        };
        // Counted against the task budget for as long as the instance lives (running,
        // or parked in `get`).
        let _counted = runtime
            .instances
            .enter(crate::budget::InstanceKind::Task, function)?;
        let mut store = new_store(runtime, self.engine(), sandbox, limits);
        store.data_mut().origin = Some(self.hash().to_string());
        store.data_mut().permit = Some(permit);
        store.data_mut().limiter.reservation = reservation;
        store.data_mut().clock = run.clock.clone();
        store.data_mut().control = Some(run.control.clone());
        store.data_mut().scope = run.scope.cloned();
        let arg_sizes: Vec<usize> = args.iter().map(Resolved::len).collect();
        let context = || TrapContext {
            task: format!("task {}", run.id.0),
            arg_sizes: arg_sizes.clone(),
        };
        let args = match guest_args(&mut store, &args) {
            Ok(args) => args,
            Err(err) => {
                return Err(RayError::Internal(format!(
                    "arguments of {function}: {err:#}"
                )));
            }
        };
        let instance = match self.pre.instantiate_async(&mut store).await {
            Ok(instance) => instance,
            Err(err) => return Err(instantiate_error(function, err, &mut store)),
        };
        charge_growth(&mut store);
        let outcome = instance
            .rustyray_runtime_guest()
            .call_invoke(&mut store, function, &args)
            .await;
        // A network limit the guest was told about but survived still fails the task.
        if outcome.is_ok()
            && let Some(hit) = store.data().net.state.take_hit()
        {
            return Err(hit.into_error(function));
        }
        match outcome {
            Ok(Ok(value)) => {
                limits.check_result(function, value.data.len())?;
                // Handles inside the result keep their actors as long as it lives.
                run.slot.carry(store.data_mut().take_carried());
                store.data_mut().value_from_guest(value)
            }
            Ok(Err(InvokeError::Application(error))) => Err(application_error(function, error)),
            Ok(Err(InvokeError::BadArguments(message))) => Err(RayError::BadArguments {
                function: function.to_string(),
                message: cut_message(message),
            }),
            Ok(Err(InvokeError::FunctionNotFound(name))) => {
                Err(RayError::FunctionNotFound(cut_message(name)))
            }
            Err(err) => Err(call_error(function, err, &mut store, context())),
        }
    }

    /// Runs the component's `#[rustyray::main]` with `args` and stdio of the process;
    /// its exit status.
    pub(crate) async fn run_main(
        &self,
        runtime: &Arc<RuntimeInner>,
        args: &[String],
        stdin: Stdin,
    ) -> Result<i32> {
        let (Some(run), true) = (self.run_export, self.info.has_main) else {
            return Err(RayError::invalid_module(
                &self.info.source_name,
                "it has no `#[rustyray::main]` (no `rustyray:runtime/driver` export) to run",
            ));
        };
        let sandbox = runtime.sandbox.capabilities.driver_wasi(
            args,
            stdin,
            runtime.sandbox.escape_driver_output,
            &runtime.sandbox.limits,
        )?;
        let mut store = new_store(runtime, self.engine(), sandbox, runtime.sandbox.limits);
        store.data_mut().origin = Some(self.hash().to_string());
        // The program's scope: what it submits (and what that submits) is cancelled, and
        // the actors it created stop unless detached, when `main` ends however it ends.
        let scope = Arc::new(crate::signal::Signal::default());
        let _end_of_program = crate::signal::RaiseOnDrop(scope.clone());
        store.data_mut().scope = Some(scope);
        let instance = match self.pre.instance_pre().instantiate_async(&mut store).await {
            Ok(instance) => instance,
            Err(err) => return Err(instantiate_error("main", err, &mut store)),
        };
        charge_growth(&mut store);
        let func = instance
            .get_typed_func::<(Vec<String>,), (i32,)>(&mut store, run)
            .map_err(|err| {
                RayError::invalid_module(
                    &self.info.source_name,
                    format!("its `run` export has the wrong type: {err:#}"),
                )
            })?;
        match func.call_async(&mut store, (args.to_vec(),)).await {
            Ok((status,)) => Ok(status),
            Err(err) => {
                if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
                    return Ok(exit.0);
                }
                Err(call_error(
                    "main",
                    err,
                    &mut store,
                    TrapContext {
                        task: "the driver".into(),
                        arg_sizes: args.iter().map(String::len).collect(),
                    },
                ))
            }
        }
    }
}

/// Arguments as the guest's `invoke` takes them: values, and references pushed into
/// the instance's table (the guest owns them).
pub(crate) fn guest_args<'a>(
    store: &mut Store<TaskCtx>,
    args: &'a [Resolved],
) -> wasmtime::Result<Vec<Argument<'a>>> {
    args.iter()
        .map(|arg| {
            Ok(match arg {
                Resolved::Value(value) => Argument::Value(store.data_mut().value_param(value)),
                Resolved::Reference(slot) => Argument::Reference(
                    store
                        .data_mut()
                        .table
                        .push(GuestObjectRef { slot: slot.clone() })?,
                ),
            })
        })
        .collect()
}

/// A value as the WIT carries it (one copy of its bytes).
pub(crate) fn to_guest(value: &Value) -> WitValue {
    WitValue {
        encoding: wit_encoding(value.encoding),
        data: value.data.to_vec(),
    }
}

/// An encoding as the WIT names it.
pub(crate) fn wit_encoding(encoding: Encoding) -> WitEncoding {
    match encoding {
        Encoding::Msgpack => WitEncoding::Msgpack,
        Encoding::Raw => WitEncoding::Raw,
    }
}

/// The application error a guest's `Err` became: its message, type name and value,
/// each cut to the error limit ([`ERROR_MESSAGE`](crate::limits::ERROR_MESSAGE) bytes;
/// a larger value is dropped, saying so), since the host holds it for every `get`.
pub(crate) fn application_error(
    function: &str,
    error: crate::bindings::WitApplicationError,
) -> RayError {
    let mut message = error.message;
    let value = match error.value {
        Some(value) if value.data.len() > crate::limits::ERROR_MESSAGE => {
            message.push_str(&format!(
                " [its value of {} bytes was dropped: error values are kept up to {} bytes]",
                value.data.len(),
                crate::limits::ERROR_MESSAGE
            ));
            None
        }
        other => other.map(from_guest),
    };
    let type_name = error
        .type_name
        .filter(|name| name.len() <= crate::limits::NAME_LENGTH);
    RayError::Application {
        function: function.to_string(),
        message: cut_message(message),
        type_name,
        value: value.map(Box::new),
    }
}

/// A value the guest gave (no copy).
pub(crate) fn from_guest(value: WitValue) -> Value {
    let data = Bytes::from(value.data);
    match value.encoding {
        WitEncoding::Msgpack => Value::msgpack(data),
        WitEncoding::Raw => Value::raw(data),
    }
}

/// A store for one instance, under `limits`, with a deadline that makes a running
/// guest yield its thread every epoch tick (so cancel and timeouts, which drop the
/// call's future, get their turn).
pub(crate) fn new_store(
    runtime: &Arc<RuntimeInner>,
    engine: &wasmtime::Engine,
    sandbox: InstanceSandbox,
    limits: ResolvedLimits,
) -> Store<TaskCtx> {
    let mut store = Store::new(
        engine,
        TaskCtx::new(
            runtime.clone(),
            sandbox.wasi,
            sandbox.net,
            GuestLimiter::new(limits),
        ),
    );
    store.limiter(|ctx| &mut ctx.limiter);
    // wasmtime caps what one guest-to-host call may hand over (128 MiB by default,
    // "fuel allocated for hostcalls has been exhausted"); here a guest may hand over
    // anything its memory holds (a `put`, a result), so the cap is above that.
    store.set_hostcall_fuel(hostcall_fuel(&limits));
    if runtime.sandbox.fuel {
        refuel(&mut store);
    }
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Yield(1)));
    store
}

/// From now on, charges the linear memory the instance grows into to the runtime's
/// host memory account.
pub(crate) fn charge_growth(store: &mut Store<TaskCtx>) {
    let memory = store.data().runtime.objects.host_memory().clone();
    store.data_mut().limiter.charge_to(&memory);
}

/// What one guest-to-host call may transfer: more than the guest's memory can hold
/// (lists are counted in bytes, with some per-element overhead for the others).
pub(crate) fn hostcall_fuel(limits: &ResolvedLimits) -> usize {
    limits
        .memory_ceiling
        .max(limits.memory)
        .saturating_mul(2)
        .saturating_add(16 << 20)
}

/// Fills the store's tank to its fuel limit (unlimited without one); before each
/// actor call, so the limit is per call.
pub(crate) fn refuel(store: &mut Store<TaskCtx>) {
    let fuel = store.data().limiter.limits.fuel.unwrap_or(u64::MAX);
    // Fails only when the engine does not meter fuel.
    let _ = store.set_fuel(fuel);
}

/// Why instantiating failed: a limit (memory or tables at start, the per-store
/// counts, the runtime's pool of instances), or a fault of the runtime.
pub(crate) fn instantiate_error(
    function: &str,
    err: wasmtime::Error,
    store: &mut Store<TaskCtx>,
) -> RayError {
    if let Some(hit) = limit_hit(&err, store) {
        return hit.into_error(function);
    }
    RayError::Internal(format!("instantiating for {function}: {err:#}"))
}

/// The limit behind `err`, if one is: recorded by the limiter, carried by the
/// error (output), out of fuel, or a count.
fn limit_hit(err: &wasmtime::Error, store: &mut Store<TaskCtx>) -> Option<LimitTrap> {
    let ctx = store.data_mut();
    if let Some(trap) = err.downcast_ref::<LimitTrap>() {
        return Some(trap.clone());
    }
    if let Some(hit) = ctx.limiter.take_hit() {
        return Some(hit);
    }
    if let Some(hit) = ctx.net.state.take_hit() {
        return Some(hit);
    }
    if err.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::OutOfFuel) {
        return Some(LimitTrap {
            limit: Limit::Fuel,
            value: ctx.limiter.limits.fuel.unwrap_or(u64::MAX),
            detail: String::new(),
        });
    }
    limit_of_error(err, &ctx.limiter.limits, ctx.runtime.sandbox.pool_instances)
}

/// A failed call as the user should see it: the limit it ran into, else the trap
/// with the panic message if the guest reported one (else the trap code), where it
/// happened, and the symbolized wasm backtrace.
pub(crate) fn call_error(
    function: &str,
    err: wasmtime::Error,
    store: &mut Store<TaskCtx>,
    context: TrapContext,
) -> RayError {
    if let Some(hit) = limit_hit(&err, store) {
        return hit.into_error(function);
    }
    let panic = store.data_mut().panic_message.take();
    trap_error(function, err, panic, context)
}

/// See [`call_error`].
pub(crate) fn trap_error(
    function: &str,
    err: wasmtime::Error,
    panic: Option<String>,
    context: TrapContext,
) -> RayError {
    let frames = err.downcast_ref::<wasmtime::WasmBacktrace>();
    let recursion = frames.is_some_and(recursing);
    let backtrace = frames.map(render_backtrace).unwrap_or_default();
    let message = match (panic, err.downcast_ref::<wasmtime::Trap>()) {
        (Some(panic), _) => panic,
        (None, Some(wasmtime::Trap::StackOverflow)) => format!(
            "{} (the wasm stack is limited to {} KiB)",
            wasmtime::Trap::StackOverflow,
            crate::engine::MAX_WASM_STACK >> 10
        ),
        (None, Some(wasmtime::Trap::MemoryOutOfBounds)) if recursion => format!(
            "{} (inside a deep recursion: most likely the guest's own stack, which lives \
             in its linear memory, overflowed)",
            wasmtime::Trap::MemoryOutOfBounds
        ),
        (None, Some(trap)) => trap.to_string(),
        (None, None) => format!("{err:#}"),
    };
    RayError::Trap {
        function: function.to_string(),
        message,
        backtrace,
        context,
    }
}

/// Innermost frames that, all in one function, suggest a runaway recursion.
const RECURSION_FRAMES: usize = 16;

/// One line per frame, innermost first (wasmtime keeps the innermost 20).
fn render_backtrace(backtrace: &wasmtime::WasmBacktrace) -> String {
    backtrace
        .frames()
        .iter()
        .enumerate()
        .map(|(index, frame)| match frame.func_name() {
            Some(name) => format!("  {index:>3}: {:#}", rustc_demangle::demangle(name)),
            None => format!("  {index:>3}: <unnamed function {}>", frame.func_index()),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether the innermost frames are all one function calling itself.
fn recursing(backtrace: &wasmtime::WasmBacktrace) -> bool {
    let frames = backtrace.frames();
    frames.len() >= RECURSION_FRAMES
        && frames[..RECURSION_FRAMES]
            .iter()
            .all(|frame| frame.func_index() == frames[0].func_index())
}
