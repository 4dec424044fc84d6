//! The function registry: every function a task can name, and where it lives.
//!
//! Names map either to an export of a loaded component (sandboxed, run in a fresh
//! instance per task) or to a native Rust closure registered with
//! [`task_function!`](crate::task_function) (trusted, run on the worker threads as
//! is, so the seed's host-only programs keep working). One name, one function: a
//! second registration of a name is refused rather than silently shadowing the first —
//! unless the runtime was built with
//! [`shared_names`](crate::RuntimeBuilder::shared_names) (a node's runtimes, which load
//! every deployed module): then several components may define one name, and a name
//! resolves to the caller's own component's, else to the only one that has it, else to
//! [`RayError::AmbiguousName`] naming them. Never silently to one of several.
//!
//! A name may also be qualified by its module: `MODULE/NAME`, where `MODULE` is the
//! component's SHA-256 (or a prefix of at least 8 hex digits), its source name, or that
//! name's file stem (`tasks` for `tasks.wasm`).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use crate::codec::Value;

use crate::actor_impl::ActorClass;
use crate::component::LoadedComponent;
use crate::error::{RayError, Result};

/// Why a function produced no value (shared by native functions and guests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeFailure {
    /// The function returned `Err`; its message.
    Application(String),
    /// The arguments did not decode.
    BadArguments(String),
}

/// The future a native function returns.
pub type NativeFuture = Pin<Box<dyn Future<Output = Result<Value, InvokeFailure>> + Send>>;

/// A native task function: encoded arguments in, encoded result out.
#[derive(Clone)]
pub struct NativeFunction {
    call: Arc<dyn Fn(Vec<Value>) -> NativeFuture + Send + Sync>,
    signature: String,
}

impl fmt::Debug for NativeFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NativeFunction")
            .field("signature", &self.signature)
            .finish()
    }
}

impl NativeFunction {
    /// Wraps a closure over encoded arguments. Most users want
    /// [`task_function!`](crate::task_function) instead.
    pub fn new(
        signature: impl Into<String>,
        call: impl Fn(Vec<Value>) -> NativeFuture + Send + Sync + 'static,
    ) -> Self {
        NativeFunction {
            call: Arc::new(call),
            signature: signature.into(),
        }
    }

    pub(crate) fn call(&self, args: Vec<Value>) -> NativeFuture {
        (self.call)(args)
    }
}

/// Where a registered function runs.
#[derive(Debug, Clone)]
pub(crate) enum FunctionKind {
    /// An export of a loaded component.
    Wasm(Arc<LoadedComponent>),
    /// A native closure.
    Native(NativeFunction),
}

/// A registered function.
#[derive(Debug)]
pub(crate) struct Function {
    pub(crate) name: String,
    pub(crate) kind: FunctionKind,
    /// How many arguments it takes (`None`: unknown, a native function: it checks).
    pub(crate) arity: Option<crate::component::Arity>,
}

impl Function {
    /// Refuses `got` arguments when the function takes another count.
    pub(crate) fn check_arity(&self, got: usize) -> Result<()> {
        match &self.arity {
            Some(arity) => arity.check(&self.name, got),
            None => Ok(()),
        }
    }

    /// Its name qualified by its component (`SHA-256/NAME`), which means this function
    /// whatever else is loaded; a native function's plain name.
    pub(crate) fn qualified_name(&self) -> String {
        match &self.kind {
            FunctionKind::Wasm(component) => format!("{}/{}", component.hash(), self.name),
            FunctionKind::Native(_) => self.name.clone(),
        }
    }

    /// Where the function comes from, for messages.
    fn origin(&self) -> String {
        match &self.kind {
            FunctionKind::Wasm(component) => format!("component {}", component.source_name()),
            FunctionKind::Native(_) => "a native registration".to_string(),
        }
    }
}

/// A function and its signature, as listed by [`Runtime::functions`](crate::Runtime::functions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    /// The name tasks use.
    pub name: String,
    /// Its Rust signature as the guest reported it (or the native one).
    pub signature: String,
    /// The component it lives in, or `None` for a native function.
    pub component: Option<String>,
}

/// Something registered under a name, from a component or natively.
trait Named {
    /// Its component, if it has one.
    fn component(&self) -> Option<&LoadedComponent>;
}

impl Named for Function {
    fn component(&self) -> Option<&LoadedComponent> {
        match &self.kind {
            FunctionKind::Wasm(component) => Some(component),
            FunctionKind::Native(_) => None,
        }
    }
}

impl Named for ActorClass {
    fn component(&self) -> Option<&LoadedComponent> {
        Some(&self.component)
    }
}

/// Whether `qualifier` names `component`: its SHA-256 or a prefix of 8 or more hex
/// digits of it, its source name, or that name's file stem.
fn names_module(qualifier: &str, component: &LoadedComponent) -> bool {
    let hash = component.hash();
    let source = component.source_name();
    let stem = std::path::Path::new(source)
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or(source);
    qualifier == source
        || qualifier == stem
        || (qualifier.len() >= 8
            && qualifier.chars().all(|c| c.is_ascii_hexdigit())
            && hash.starts_with(&qualifier.to_ascii_lowercase()))
}

/// How a component is named in messages: its source name and the start of its hash.
pub(crate) fn module_label(component: &LoadedComponent) -> String {
    let hash = component.hash();
    format!(
        "{} ({})",
        component.source_name(),
        &hash[..12.min(hash.len())]
    )
}

/// The one of `entries` (every registration of a name, oldest first) that `name`
/// means when asked from `origin` (the caller's component hash); see the module docs.
fn pick<T: Named>(
    entries: Option<&Vec<Arc<T>>>,
    name: &str,
    qualifier: Option<&str>,
    origin: Option<&str>,
    not_found: impl Fn() -> RayError,
) -> Result<Arc<T>> {
    let entries: Vec<&Arc<T>> = match (entries, qualifier) {
        (None, _) => Vec::new(),
        (Some(entries), None) => entries.iter().collect(),
        (Some(entries), Some(qualifier)) => entries
            .iter()
            .filter(|entry| {
                entry
                    .component()
                    .is_some_and(|c| names_module(qualifier, c))
            })
            .collect(),
    };
    if let Some(origin) = origin
        && let Some(own) = entries
            .iter()
            .find(|entry| entry.component().is_some_and(|c| c.hash() == origin))
    {
        return Ok((*own).clone());
    }
    match entries.as_slice() {
        [] => Err(not_found()),
        [one] => Ok((*one).clone()),
        several => Err(RayError::AmbiguousName {
            name: name.to_string(),
            modules: several
                .iter()
                .map(|entry| {
                    entry
                        .component()
                        .map_or_else(|| "native".into(), module_label)
                })
                .collect(),
        }),
    }
}

/// `MODULE/NAME` split at its last `/`; a plain name has no qualifier.
fn split_qualified(name: &str) -> (Option<&str>, &str) {
    match name.rsplit_once('/') {
        Some((module, plain)) if !module.is_empty() => (Some(module), plain),
        _ => (None, name),
    }
}

/// All functions and actor classes the runtime knows: every registration of a name,
/// oldest first (more than one only with `shared` names).
#[derive(Debug, Default)]
pub(crate) struct Registry {
    functions: RwLock<HashMap<String, Vec<Arc<Function>>>>,
    actor_classes: RwLock<HashMap<String, Vec<Arc<ActorClass>>>>,
    /// Several components may define one name (see the module docs).
    shared: bool,
}

impl Registry {
    /// A registry; with `shared`, several components may define one name.
    pub(crate) fn new(shared: bool) -> Self {
        Registry {
            shared,
            ..Registry::default()
        }
    }

    /// The actor class `name` (plain or `MODULE/NAME`) means to a caller of component
    /// `origin`.
    pub(crate) fn actor_class_from(
        &self,
        name: &str,
        origin: Option<&str>,
    ) -> Result<Arc<ActorClass>> {
        let classes = self
            .actor_classes
            .read()
            .map_err(|_| RayError::Internal("actor registry poisoned".into()))?;
        let (qualifier, plain) = split_qualified(name);
        pick(classes.get(plain), plain, qualifier, origin, || {
            RayError::ActorClassNotFound(name.to_string())
        })
    }

    /// The actor class `name` means to the host (no caller's component).
    pub(crate) fn actor_class(&self, name: &str) -> Result<Arc<ActorClass>> {
        self.actor_class_from(name, None)
    }

    /// Registers actor classes, refusing a name another component already uses
    /// (unless names are shared).
    pub(crate) fn register_actor_classes(&self, classes: Vec<ActorClass>) -> Result<()> {
        let mut registered = self
            .actor_classes
            .write()
            .map_err(|_| RayError::Internal("actor registry poisoned".into()))?;
        if !self.shared {
            for class in &classes {
                if let Some(existing) = registered.get(&class.name).and_then(|all| {
                    all.iter()
                        .find(|existing| existing.component.hash() != class.component.hash())
                }) {
                    return Err(RayError::DuplicateFunction {
                        name: class.name.clone(),
                        existing: format!(
                            "actor class of component {}",
                            existing.component.source_name()
                        ),
                    });
                }
            }
        }
        for class in classes {
            let all = registered.entry(class.name.clone()).or_default();
            if !all
                .iter()
                .any(|existing| existing.component.hash() == class.component.hash())
            {
                all.push(Arc::new(class));
            }
        }
        Ok(())
    }

    /// The function `name` (plain or `MODULE/NAME`) means to a caller of component
    /// `origin`.
    pub(crate) fn lookup_from(&self, name: &str, origin: Option<&str>) -> Result<Arc<Function>> {
        let functions = self
            .functions
            .read()
            .map_err(|_| RayError::Internal("function registry poisoned".into()))?;
        let (qualifier, plain) = split_qualified(name);
        pick(functions.get(plain), plain, qualifier, origin, || {
            RayError::FunctionNotFound(name.to_string())
        })
    }

    /// The function `name` means to the host (no caller's component).
    pub(crate) fn lookup(&self, name: &str) -> Result<Arc<Function>> {
        self.lookup_from(name, None)
    }

    /// Registers all of `entries` or none of them. A native function never shares its
    /// name; components share names only when names are shared.
    pub(crate) fn register_all(&self, entries: Vec<Function>) -> Result<()> {
        let mut functions = self
            .functions
            .write()
            .map_err(|_| RayError::Internal("function registry poisoned".into()))?;
        for entry in &entries {
            for existing in functions.get(&entry.name).into_iter().flatten() {
                // Reloading the same component is harmless; anything else is a clash.
                let allowed = match (&existing.kind, &entry.kind) {
                    (FunctionKind::Wasm(a), FunctionKind::Wasm(b)) => {
                        a.hash() == b.hash() || self.shared
                    }
                    _ => false,
                };
                if !allowed {
                    return Err(RayError::DuplicateFunction {
                        name: entry.name.clone(),
                        existing: existing.origin(),
                    });
                }
            }
        }
        for entry in entries {
            let all = functions.entry(entry.name.clone()).or_default();
            let known = all.iter().any(|existing| {
                matches!((&existing.kind, &entry.kind),
                    (FunctionKind::Wasm(a), FunctionKind::Wasm(b)) if a.hash() == b.hash())
            });
            if !known {
                all.push(Arc::new(entry));
            }
        }
        Ok(())
    }

    pub(crate) fn list(&self) -> Vec<FunctionInfo> {
        let Ok(functions) = self.functions.read() else {
            return Vec::new();
        };
        let mut list: Vec<FunctionInfo> = functions
            .values()
            .flatten()
            .map(|function| match &function.kind {
                FunctionKind::Wasm(component) => FunctionInfo {
                    name: function.name.clone(),
                    signature: component
                        .signature_of(&function.name)
                        .unwrap_or_default()
                        .to_string(),
                    component: Some(component.source_name().to_string()),
                },
                FunctionKind::Native(native) => FunctionInfo {
                    name: function.name.clone(),
                    signature: native.signature.clone(),
                    component: None,
                },
            })
            .collect();
        list.sort_by(|a, b| (&a.name, &a.component).cmp(&(&b.name, &b.component)));
        list
    }
}

/// Turns a closure with typed arguments into a [`NativeFunction`].
///
/// ```
/// use rustyray::task_function;
/// let add = task_function!(|a: i32, b: i32| async move {
///     Ok::<i32, rustyray::error::RustyRayError>(a + b)
/// });
/// ```
///
/// The closure's future must resolve to `Result<T, E>` where `T: Serialize` and
/// `E: Display`; an `Err` becomes the task's application error.
#[macro_export]
macro_rules! task_function {
    (| $($arg:ident : $ty:ty),* $(,)? | $body:expr) => {{
        const NAMES: &[&str] = &[$(stringify!($arg)),*];
        $crate::registry::NativeFunction::new(
            concat!("fn(", $(stringify!($arg), ": ", stringify!($ty), ", ",)* ")"),
            move |args: ::std::vec::Vec<$crate::codec::Value>| -> $crate::registry::NativeFuture {
                ::std::boxed::Box::pin(async move {
                    if args.len() != NAMES.len() {
                        return Err($crate::registry::InvokeFailure::BadArguments(format!(
                            "expected {} arguments, got {}",
                            NAMES.len(),
                            args.len()
                        )));
                    }
                    let mut args = args.into_iter();
                    $(
                        let $arg: $ty = {
                            let value = args.next().unwrap_or_else(|| $crate::codec::Value::raw(::std::vec::Vec::new()));
                            $crate::codec::decode(&value).map_err(|err| {
                                $crate::registry::InvokeFailure::BadArguments(format!(
                                    "argument `{}` is not a {}: {}",
                                    stringify!($arg),
                                    stringify!($ty),
                                    err
                                ))
                            })?
                        };
                    )*
                    match $body.await {
                        Ok(value) => $crate::codec::encode(&value).map_err(|err| {
                            $crate::registry::InvokeFailure::Application(err.to_string())
                        }),
                        Err(err) => Err($crate::registry::InvokeFailure::Application(
                            ::std::string::ToString::to_string(&err),
                        )),
                    }
                })
            },
        )
    }};
}
