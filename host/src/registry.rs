//! The function registry: every function a task can name, and where it lives.
//!
//! Names map either to an export of a loaded component (sandboxed, run in a fresh
//! instance per task) or to a native Rust closure registered with
//! [`task_function!`](crate::task_function) (trusted, run on the worker threads as
//! is, so the seed's host-only programs keep working). One name, one function: a
//! second registration of a name is refused rather than silently shadowing the first.

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

/// All functions and actor classes the runtime knows.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    functions: RwLock<HashMap<String, Arc<Function>>>,
    actor_classes: RwLock<HashMap<String, Arc<ActorClass>>>,
}

impl Registry {
    pub(crate) fn actor_class(&self, name: &str) -> Result<Arc<ActorClass>> {
        let classes = self
            .actor_classes
            .read()
            .map_err(|_| RayError::Internal("actor registry poisoned".into()))?;
        classes
            .get(name)
            .cloned()
            .ok_or_else(|| RayError::ActorClassNotFound(name.to_string()))
    }

    /// Registers actor classes, refusing a name another component already uses.
    pub(crate) fn register_actor_classes(&self, classes: Vec<ActorClass>) -> Result<()> {
        let mut registered = self
            .actor_classes
            .write()
            .map_err(|_| RayError::Internal("actor registry poisoned".into()))?;
        for class in &classes {
            if let Some(existing) = registered.get(&class.name)
                && existing.component.hash() != class.component.hash()
            {
                return Err(RayError::DuplicateFunction {
                    name: class.name.clone(),
                    existing: format!(
                        "actor class of component {}",
                        existing.component.source_name()
                    ),
                });
            }
        }
        for class in classes {
            registered.insert(class.name.clone(), Arc::new(class));
        }
        Ok(())
    }

    pub(crate) fn lookup(&self, name: &str) -> Result<Arc<Function>> {
        let functions = self
            .functions
            .read()
            .map_err(|_| RayError::Internal("function registry poisoned".into()))?;
        functions
            .get(name)
            .cloned()
            .ok_or_else(|| RayError::FunctionNotFound(name.to_string()))
    }

    /// Registers all of `entries` or none of them.
    pub(crate) fn register_all(&self, entries: Vec<Function>) -> Result<()> {
        let mut functions = self
            .functions
            .write()
            .map_err(|_| RayError::Internal("function registry poisoned".into()))?;
        for entry in &entries {
            if let Some(existing) = functions.get(&entry.name) {
                // Reloading the same component is harmless; anything else is a clash.
                let same = match (&existing.kind, &entry.kind) {
                    (FunctionKind::Wasm(a), FunctionKind::Wasm(b)) => a.hash() == b.hash(),
                    _ => false,
                };
                if !same {
                    return Err(RayError::DuplicateFunction {
                        name: entry.name.clone(),
                        existing: existing.origin(),
                    });
                }
            }
        }
        for entry in entries {
            functions.insert(entry.name.clone(), Arc::new(entry));
        }
        Ok(())
    }

    pub(crate) fn list(&self) -> Vec<FunctionInfo> {
        let Ok(functions) = self.functions.read() else {
            return Vec::new();
        };
        let mut list: Vec<FunctionInfo> = functions
            .values()
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
        list.sort_by(|a, b| a.name.cmp(&b.name));
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
