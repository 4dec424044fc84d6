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
use wasmtime_wasi::WasiCtx;

use crate::bindings::{InvokeError, TaskCtx, TaskModulePre};
use crate::cache::{CacheOutcome, content_hash};
use crate::error::{RayError, Result};
use crate::runtime::RuntimeInner;

/// The interface every rustyray guest exports.
pub(crate) const GUEST_INTERFACE: &str = "rustyray:runtime/guest@0.1.0";
/// The interface a runnable guest (one with `#[rustyray::main]`) exports.
pub(crate) const DRIVER_INTERFACE: &str = "rustyray:runtime/driver@0.1.0";

/// A function a component exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFunction {
    /// The name tasks use.
    pub name: String,
    /// The Rust signature the guest reports.
    pub signature: String,
}

/// An actor class a component exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorClassInfo {
    /// The class name actors are created by.
    pub name: String,
    /// The constructor's Rust signature.
    pub constructor: String,
    /// Its methods.
    pub methods: Vec<ExportedFunction>,
    /// Whether its state can be snapshotted (`#[rustyray::actor(snapshot)]`).
    pub snapshot: bool,
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
}

impl fmt::Debug for LoadedComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedComponent")
            .field("source", &self.info.source_name)
            .field("functions", &self.info.functions.len())
            .finish()
    }
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
        let (component, cache) = runtime
            .cache
            .load(&runtime.engine, bytes, &hash, source_name)?;
        let pre = runtime.linker.instantiate_pre(&component).map_err(|err| {
            RayError::invalid_module(
                source_name,
                format!(
                    "it needs imports rustyray does not provide (a component of another \
                     world?): {err:#}"
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
        };
        let described = loaded.describe(runtime).await?;
        let function = |f: crate::bindings::GuestFunctionInfo| ExportedFunction {
            name: f.name,
            signature: f.signature,
        };
        loaded.info.functions = described.functions.into_iter().map(function).collect();
        loaded.info.actors = described
            .actors
            .into_iter()
            .map(|class| ActorClassInfo {
                name: class.name,
                constructor: class.constructor,
                methods: class.methods.into_iter().map(function).collect(),
                snapshot: class.snapshot,
            })
            .collect();
        loaded.info.has_main = described.has_main && loaded.run_export.is_some();
        Ok(loaded)
    }

    async fn describe(
        &self,
        runtime: &Arc<RuntimeInner>,
    ) -> Result<crate::bindings::GuestComponentInfo> {
        let mut store = new_store(runtime, WasiCtx::builder().build());
        let name = &self.info.source_name;
        let instance = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|err| {
                RayError::invalid_module(name, format!("cannot instantiate: {err:#}"))
            })?;
        instance
            .rustyray_runtime_guest()
            .call_describe(&mut store)
            .await
            .map_err(|err| RayError::invalid_module(name, format!("`describe` failed: {err:#}")))
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

    /// Runs `function` in a fresh instance and drops the instance.
    pub(crate) async fn invoke(
        &self,
        runtime: &Arc<RuntimeInner>,
        function: &str,
        args: &[Vec<u8>],
        permit: OwnedSemaphorePermit,
    ) -> Result<Bytes> {
        let mut store = new_store(runtime, runtime.task_wasi());
        store.data_mut().permit = Some(permit);
        let instance = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|err| instantiate_error(function, err))?;
        let outcome = instance
            .rustyray_runtime_guest()
            .call_invoke(&mut store, function, args)
            .await;
        match outcome {
            Ok(Ok(bytes)) => Ok(Bytes::from(bytes)),
            Ok(Err(InvokeError::Application(message))) => Err(RayError::Application {
                function: function.to_string(),
                message,
            }),
            Ok(Err(InvokeError::BadArguments(message))) => Err(RayError::BadArguments {
                function: function.to_string(),
                message,
            }),
            Ok(Err(InvokeError::FunctionNotFound(name))) => Err(RayError::FunctionNotFound(name)),
            Err(err) => Err(trap_error(
                function,
                err,
                store.data_mut().panic_message.take(),
            )),
        }
    }

    /// Runs the component's `#[rustyray::main]` with `args` and stdio of the process;
    /// its exit status.
    pub(crate) async fn run_main(
        &self,
        runtime: &Arc<RuntimeInner>,
        args: &[String],
    ) -> Result<i32> {
        let (Some(run), true) = (self.run_export, self.info.has_main) else {
            return Err(RayError::invalid_module(
                &self.info.source_name,
                "it has no `#[rustyray::main]` (no `rustyray:runtime/driver` export) to run",
            ));
        };
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdout().inherit_stderr().args(args);
        let mut store = new_store(runtime, wasi.build());
        let instance = self
            .pre
            .instance_pre()
            .instantiate_async(&mut store)
            .await
            .map_err(|err| instantiate_error("main", err))?;
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
                Err(trap_error(
                    "main",
                    err,
                    store.data_mut().panic_message.take(),
                ))
            }
        }
    }
}

/// A store for one instance, with the runtime's limits and a deadline that makes a
/// running guest yield its thread every epoch tick (so cancel and timeouts, which
/// drop the call's future, get their turn).
pub(crate) fn new_store(runtime: &Arc<RuntimeInner>, wasi: WasiCtx) -> Store<TaskCtx> {
    let mut store = Store::new(
        &runtime.engine,
        TaskCtx::new(runtime.clone(), wasi, runtime.store_limits()),
    );
    store.limiter(|ctx| ctx);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Yield(1)));
    store
}

fn instantiate_error(function: &str, err: wasmtime::Error) -> RayError {
    let message = format!("{err:#}");
    if message.contains("concurrent limit") || message.contains("resource limit") {
        RayError::Trap {
            function: function.to_string(),
            message: format!("could not start an instance: {message}"),
            backtrace: String::new(),
        }
    } else {
        RayError::Internal(format!("instantiating for {function}: {message}"))
    }
}

/// A trap as the user should see it: the panic message if the guest reported one,
/// else the trap code, and the symbolized wasm backtrace.
pub(crate) fn trap_error_from(
    function: &str,
    err: wasmtime::Error,
    store: &mut Store<TaskCtx>,
) -> RayError {
    trap_error(function, err, store.data_mut().panic_message.take())
}

/// See [`trap_error_from`].
pub(crate) fn trap_error(function: &str, err: wasmtime::Error, panic: Option<String>) -> RayError {
    let backtrace = err
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .map(render_backtrace)
        .unwrap_or_default();
    let message = match (panic, err.downcast_ref::<wasmtime::Trap>()) {
        (Some(panic), _) => panic,
        (None, Some(trap)) => trap.to_string(),
        (None, None) => format!("{err:#}"),
    };
    RayError::Trap {
        function: function.to_string(),
        message,
        backtrace,
    }
}

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
