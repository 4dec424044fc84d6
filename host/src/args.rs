//! [`Args`] and [`IntoArgs`]: the arguments of an actor call (and of any call made by
//! method name), given as a tuple of values or built up with object references.

use serde::Serialize;

use crate::codec;
use crate::error::{RayError, Result};
use crate::object_ref::ObjectRef;
use crate::task_impl::TaskArg;

/// Arguments built one by one: values and object references, in order.
#[derive(Debug, Clone, Default)]
pub struct Args {
    args: Vec<TaskArg>,
    error: Option<RayError>,
}

impl Args {
    /// No arguments yet.
    pub fn new() -> Self {
        Args::default()
    }

    /// Adds a value.
    pub fn value<A: Serialize>(mut self, value: A) -> Self {
        match codec::encode(&value) {
            Ok(value) => self.args.push(TaskArg::Value(value)),
            Err(err) => {
                self.error.get_or_insert(err);
            }
        }
        self
    }

    /// Adds an object: the callee receives its value once it is ready.
    pub fn object<A>(mut self, object: &ObjectRef<A>) -> Self {
        self.args.push(TaskArg::Object(object.slot().clone()));
        self
    }

    /// Adds the reference itself, for a parameter of type `ObjectRef<T>`.
    pub fn reference<A>(mut self, object: &ObjectRef<A>) -> Self {
        self.args.push(TaskArg::Reference(object.slot().clone()));
        self
    }
}

impl Args {
    /// The encoded arguments, or the first encoding error.
    pub(crate) fn into_parts(self) -> Result<Vec<TaskArg>> {
        match self.error {
            Some(err) => Err(err),
            None => Ok(self.args),
        }
    }
}

/// Anything that can be the arguments of a call: [`Args`], `()`, or a tuple of
/// serializable values.
pub trait IntoArgs {
    /// The arguments, encoded.
    fn into_args(self) -> Args;
}

impl IntoArgs for Args {
    fn into_args(self) -> Args {
        self
    }
}

macro_rules! tuple_args {
    ($($name:ident),*) => {
        impl<$($name: Serialize),*> IntoArgs for ($($name,)*) {
            #[allow(non_snake_case)]
            fn into_args(self) -> Args {
                let ($($name,)*) = self;
                Args::new()$(.value($name))*
            }
        }
    };
}

tuple_args!();
tuple_args!(A);
tuple_args!(A, B);
tuple_args!(A, B, C);
tuple_args!(A, B, C, D);
tuple_args!(A, B, C, D, E);
tuple_args!(A, B, C, D, E, F);
