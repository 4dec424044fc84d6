//! [`function`]: a task named at run time, for functions this crate does not define — a
//! Python task, another Rust component's task — the way [`ActorHandle::create`] names an
//! actor class. Ray's `ray.cross_language.python_function` in spirit; here every loaded
//! component shares one namespace of functions, so a name is all it takes.
//!
//! Nothing is checked at compile time: an unknown name fails the returned reference with
//! [`RayError::FunctionNotFound`](crate::RayError::FunctionNotFound), a wrong result type
//! fails `get` with [`RayError::Decode`](crate::RayError::Decode).
//!
//! [`ActorHandle::create`]: crate::ActorHandle::create

use crate::object_ref::{LoweredArg, ObjectRef};
use crate::options::TaskOptions;
use crate::runtime::submit;

/// A task of any loaded component, by name; see [`function`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    name: String,
}

/// The task called `name`, exported by any component loaded in this runtime (in any
/// language). Arguments are [`arg(value)`](crate::arg), [`arg_ref(&r)`](crate::arg_ref)
/// (resolved to its value first) or [`arg_object(&r)`](crate::arg_object) (passed as the
/// reference).
///
/// ```no_run
/// # extern crate rustyray_sdk as rustyray;
/// # fn demo() -> Result<(), rustyray::RayError> {
/// // `def norm(p)` in a Python component loaded beside this one.
/// let norm = rustyray::function("norm");
/// let length: f64 = norm.remote(vec![rustyray::arg(Point { x: 3.0, y: 4.0 })]).get()?;
/// # Ok(()) }
/// # #[derive(serde::Serialize)] struct Point { x: f64, y: f64 }
/// ```
pub fn function(name: impl Into<String>) -> Function {
    Function { name: name.into() }
}

impl Function {
    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Submits the task with `args`; the result type `T` is the caller's word for what the
    /// function returns.
    pub fn remote<T>(&self, args: Vec<LoweredArg<'_>>) -> ObjectRef<T> {
        self.remote_with(TaskOptions::new(), args)
    }

    /// [`remote`](Self::remote) with options (timeout, retries).
    pub fn remote_with<T>(&self, options: TaskOptions, args: Vec<LoweredArg<'_>>) -> ObjectRef<T> {
        submit(&self.name, &[], args, options)
    }

    /// Submits a task whose result is a tuple (or list) of `num_returns` values, one
    /// object each (Ray's `f.options(num_returns=k).remote(..)`); `0` is allowed (the task
    /// runs, nothing is returned). See [`ObjectRef::cast`] for their types. A result of
    /// another length fails every one of them, as does a failed task; `num_returns` above
    /// [`MAX_NUM_RETURNS`](crate::MAX_NUM_RETURNS) fails them with
    /// [`RayError::InvalidArgument`](crate::RayError::InvalidArgument).
    ///
    /// ```no_run
    /// # extern crate rustyray_sdk as rustyray;
    /// # fn demo() -> Result<(), rustyray::RayError> {
    /// let refs = rustyray::function("min_max").remote_returns(vec![rustyray::arg(vec![3, 1, 2])], 2);
    /// let low: i32 = refs[0].clone().cast::<i32>().get()?;
    /// # Ok(()) }
    /// ```
    pub fn remote_returns(
        &self,
        args: Vec<LoweredArg<'_>>,
        num_returns: u32,
    ) -> Vec<ObjectRef<()>> {
        self.remote_returns_with(TaskOptions::new(), args, num_returns)
    }

    /// [`remote_returns`](Self::remote_returns) with options (timeout, retries).
    pub fn remote_returns_with(
        &self,
        options: TaskOptions,
        args: Vec<LoweredArg<'_>>,
        num_returns: u32,
    ) -> Vec<ObjectRef<()>> {
        crate::runtime::submit_returns(&self.name, &[], args, options, num_returns)
    }
}
