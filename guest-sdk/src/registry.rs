//! The component's table of entry points, filled by the macros through `inventory`.
//!
//! `#[rustyray::remote]` submits a [`RemoteFunction`] and `#[rustyray::main]` a
//! [`MainFunction`]; the exported `guest.describe`, `guest.invoke` and `driver.run` read
//! them here. Nothing wasm-specific lives in this module, so dispatch is unit-tested
//! natively. On wasm, `inventory`'s registrations are static constructors: the component's
//! export glue (wit-bindgen's `run_ctors_once`) runs them before the first export body, so
//! the table is complete by the time anything below reads it.

use crate::codec::{Encoded, InArg};
use crate::error::InvokeError;

/// A registered function's shim: arguments in (each taken by its parameter), the encoded
/// result out.
pub type InvokeFn = fn(&mut [InArg]) -> Result<Encoded, InvokeError>;

/// One `#[rustyray::remote]` function.
pub struct RemoteFunction {
    /// The name the host invokes it by.
    pub name: &'static str,
    /// Its Rust signature, for `rustyray inspect`: `fn add(a: i32, b: i32) -> i32`.
    pub signature: &'static str,
    /// The fewest arguments it takes.
    pub min_args: u32,
    /// The most (`None` for a `variadic` function).
    pub max_args: Option<u32>,
    /// Decodes the arguments, calls the function, encodes its result.
    pub invoke: InvokeFn,
}

inventory::collect!(RemoteFunction);

/// The `#[rustyray::main]` function.
pub struct MainFunction {
    /// The function's Rust name, for messages.
    pub name: &'static str,
    /// Runs it; its exit status.
    pub run: fn() -> i32,
}

inventory::collect!(MainFunction);

/// Exit status of `driver.run` in a component with no `#[rustyray::main]`.
pub const EXIT_NO_MAIN: i32 = 2;
/// Exit status of `driver.run` in a component with more than one `#[rustyray::main]`.
pub const EXIT_SEVERAL_MAINS: i32 = 3;

/// Every remote function, sorted by name.
pub fn describe() -> Vec<&'static RemoteFunction> {
    let mut functions: Vec<_> = inventory::iter::<RemoteFunction>.into_iter().collect();
    functions.sort_unstable_by_key(|function| function.name);
    functions
}

/// Whether the component has exactly one `#[rustyray::main]`.
pub fn has_main() -> bool {
    inventory::iter::<MainFunction>.into_iter().count() == 1
}

/// Runs the remote function exported as `name` on `args`.
///
/// # Errors
///
/// [`InvokeError::FunctionNotFound`] for an unknown name, [`InvokeError::BadArguments`]
/// when the arguments do not decode, [`InvokeError::Application`] when it returns `Err`.
pub fn invoke(name: &str, args: &mut [InArg]) -> Result<Encoded, InvokeError> {
    let function = inventory::iter::<RemoteFunction>
        .into_iter()
        .find(|function| function.name == name)
        .ok_or_else(|| InvokeError::FunctionNotFound(name.to_owned()))?;
    (function.invoke)(args)
}

/// Runs the component's `#[rustyray::main]`; its exit status, or [`EXIT_NO_MAIN`] /
/// [`EXIT_SEVERAL_MAINS`] when there is not exactly one.
///
/// Those two are not printed here: `eprintln!` would add ~15 KB of std's print machinery to
/// every guest, tasks included, since every guest exports `driver.run`. A `#[main]` itself
/// only ever yields 0 or 1 (panics trap), so the host can tell these statuses apart and
/// name them.
pub fn run_main() -> i32 {
    let mut mains = inventory::iter::<MainFunction>.into_iter();
    match (mains.next(), mains.next()) {
        (Some(main), None) => (main.run)(),
        (None, _) => EXIT_NO_MAIN,
        (Some(_), Some(_)) => EXIT_SEVERAL_MAINS,
    }
}

#[cfg(test)]
mod tests {
    //! Dispatch through the real macros, natively: the same path `guest.invoke` takes.

    use std::time::Duration;

    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::{AnyObjectRef, ObjectRef, RayError, TaskOptions};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Point {
        x: i64,
        y: i64,
    }

    #[rustyray::remote]
    fn add(a: i32, b: i32) -> i32 {
        a + b
    }

    #[rustyray::remote]
    fn parse(s: String) -> Result<u64, std::num::ParseIntError> {
        s.parse()
    }

    #[rustyray::remote]
    async fn flip(p: Point) -> Point {
        Point { x: p.y, y: p.x }
    }

    #[rustyray::remote(name = "sum_pair")]
    fn pair((a, b): (u64, u64), options: Vec<u8>) -> u64 {
        a + b + options.len() as u64
    }

    #[rustyray::remote]
    fn nothing() {}

    #[rustyray::remote(variadic)]
    fn weighted_sum(weight: u64, parts: Vec<u64>) -> u64 {
        weight * parts.iter().sum::<u64>()
    }

    #[rustyray::main]
    fn main() -> Result<(), RayError> {
        Ok(())
    }

    fn enc<T: Serialize>(value: &T) -> crate::codec::Encoded {
        crate::codec::encode(value).expect("test values encode")
    }

    fn a<T: Serialize>(value: &T) -> crate::codec::InArg {
        crate::codec::InArg::Value(enc(value))
    }

    #[test]
    fn describe_lists_every_remote_function() {
        let described = describe();
        assert!(described.is_sorted_by_key(|function| function.name));
        let functions: Vec<_> = described
            .iter()
            .map(|function| (function.name, function.signature))
            .collect();
        let arity = |name: &str| {
            let function = described.iter().find(|f| f.name == name).expect("listed");
            (function.min_args, function.max_args)
        };
        assert_eq!(arity("add"), (2, Some(2)));
        assert_eq!(arity("nothing"), (0, Some(0)));
        assert_eq!(arity("weighted_sum"), (1, None));
        for expected in [
            ("add", "fn add(a: i32, b: i32) -> i32"),
            (
                "parse",
                "fn parse(s: String) -> Result<u64, std::num::ParseIntError>",
            ),
            ("flip", "async fn flip(p: Point) -> Point"),
            (
                "sum_pair",
                "fn pair((a, b): (u64, u64), options: Vec<u8>) -> u64",
            ),
            ("nothing", "fn nothing()"),
        ] {
            assert!(
                functions.contains(&expected),
                "{expected:?} in {functions:?}"
            );
        }
    }

    #[test]
    fn invoke_decodes_calls_and_encodes() {
        assert_eq!(invoke("add", &mut [a(&5), a(&3)]), Ok(enc(&8)));
        let p = Point { x: 1, y: -2 };
        assert_eq!(
            invoke("flip", &mut [a(&p)]),
            Ok(enc(&Point { x: -2, y: 1 }))
        );
        assert_eq!(
            invoke("sum_pair", &mut [a(&(1u64, 2u64)), a(&vec![0u8; 3])]),
            Ok(enc(&6u64))
        );
        assert_eq!(invoke("nothing", &mut []), Ok(enc(&())));
        assert_eq!(
            invoke("parse", &mut [a(&"42".to_string())]),
            Ok(enc(&42u64))
        );
    }

    #[test]
    fn variadic_takes_every_remaining_argument() {
        assert_eq!(invoke("weighted_sum", &mut [a(&2u64)]), Ok(enc(&0u64)));
        assert_eq!(
            invoke(
                "weighted_sum",
                &mut [a(&2u64), a(&1u64), a(&2u64), a(&3u64)]
            ),
            Ok(enc(&12u64))
        );
        assert!(matches!(
            invoke("weighted_sum", &mut []),
            Err(InvokeError::BadArguments(message)) if message.contains("at least 1")
        ));
        assert!(matches!(
            invoke("weighted_sum", &mut [a(&2u64), a(&"x".to_string())]),
            Err(InvokeError::BadArguments(message)) if message.contains("argument 1")
        ));
    }

    #[test]
    fn err_returns_are_application_errors() {
        let Err(InvokeError::Application(error)) = invoke("parse", &mut [a(&"x".to_string())])
        else {
            panic!("an application error");
        };
        assert_eq!(error, "invalid digit found in string");
        // Not `Serialize`: its type's name, no value.
        assert_eq!(error.type_name(), Some("core::num::error::ParseIntError"));
        assert_eq!(error.downcast::<String>(), None);
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum BankError {
        Overdrawn { by: u64 },
        Frozen,
    }

    impl std::fmt::Display for BankError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "bank error: {self:?}")
        }
    }

    #[rustyray::remote]
    fn withdraw(balance: u64, amount: u64) -> Result<u64, BankError> {
        if balance == 0 {
            return Err(BankError::Frozen);
        }
        balance.checked_sub(amount).ok_or(BankError::Overdrawn {
            by: amount - balance,
        })
    }

    #[rustyray::remote]
    fn propagate(error: RayError) -> Result<u64, RayError> {
        Err(error)
    }

    /// Ray's `test_failure.py::test_failed_task` (a custom exception class is re-raised as
    /// itself), at the dispatch level: a `Serialize` error crosses with its type and value.
    #[test]
    fn typed_errors_keep_their_type_and_value() {
        let Err(InvokeError::Application(error)) = invoke("withdraw", &mut [a(&5u64), a(&7u64)])
        else {
            panic!("an application error");
        };
        assert_eq!(error, "bank error: Overdrawn { by: 2 }");
        assert!(error.is::<BankError>());
        assert_eq!(
            error.downcast::<BankError>(),
            Some(BankError::Overdrawn { by: 2 })
        );
        // Not another type, even one the value would decode as.
        assert_eq!(error.downcast::<String>(), None);
        let ray = RayError::Application(error);
        assert_eq!(
            ray.downcast::<BankError>(),
            Some(BankError::Overdrawn { by: 2 })
        );
        assert_eq!(RayError::Cancelled.downcast::<BankError>(), None);
        // A unit variant too.
        let Err(InvokeError::Application(error)) = invoke("withdraw", &mut [a(&0u64), a(&1u64)])
        else {
            panic!("an application error");
        };
        assert_eq!(error.downcast::<BankError>(), Some(BankError::Frozen));
    }

    /// A `RayError` returned as it is keeps its kind: it travels as the SDK's own type and
    /// decodes back to the same error (a trap stays a trap through a nested `get`).
    #[test]
    fn returned_ray_errors_keep_their_kind() {
        let trap = RayError::Trap {
            message: "panicked: the root".into(),
            backtrace: "0: f".into(),
        };
        let Err(InvokeError::Application(error)) = invoke("propagate", &mut [a(&trap)]) else {
            panic!("an application error");
        };
        assert_eq!(error.type_name(), Some(crate::RAY_ERROR_TYPE));
        assert_eq!(error.as_ray_error(), Some(trap.clone()));
        // Nested: a typed application error inside a returned RayError.
        let Err(InvokeError::Application(inner)) = invoke("withdraw", &mut [a(&1u64), a(&3u64)])
        else {
            panic!("an application error");
        };
        let Err(InvokeError::Application(outer)) =
            invoke("propagate", &mut [a(&RayError::Application(inner))])
        else {
            panic!("an application error");
        };
        let back = outer.as_ray_error().expect("a RayError");
        assert_eq!(
            back.downcast::<BankError>(),
            Some(BankError::Overdrawn { by: 2 })
        );
    }

    #[test]
    fn bad_arguments_name_the_function_and_parameter() {
        assert_eq!(
            invoke("add", &mut [a(&5)]),
            Err(InvokeError::BadArguments(
                "`add` takes 2 arguments, got 1".into()
            ))
        );
        let Err(InvokeError::BadArguments(message)) = invoke(
            "add",
            &mut [
                a(&5),
                crate::codec::InArg::Value(crate::codec::Encoded {
                    encoding: crate::codec::Encoding::Msgpack,
                    data: vec![],
                }),
            ],
        ) else {
            panic!("an empty buffer is not an i32");
        };
        assert!(
            message.starts_with("`add` argument 1 (`b: i32`) did not decode: "),
            "{message}"
        );
        let Err(InvokeError::BadArguments(message)) = invoke(
            "add",
            &mut [
                a(&5),
                crate::codec::InArg::Value(crate::codec::Encoded {
                    encoding: crate::codec::Encoding::Msgpack,
                    data: vec![5, 0],
                }),
            ],
        ) else {
            panic!("trailing bytes are refused");
        };
        assert!(message.contains("trailing"), "{message}");
    }

    #[test]
    fn unknown_functions_are_not_found() {
        assert_eq!(
            invoke("nope", &mut []),
            Err(InvokeError::FunctionNotFound("nope".into()))
        );
        // The Rust name of a renamed function is not exported.
        assert!(matches!(
            invoke("pair", &mut []),
            Err(InvokeError::FunctionNotFound(_))
        ));
    }

    #[test]
    fn runs_the_main_function() {
        assert_eq!(run_main(), 0);
    }

    #[test]
    fn functions_stay_callable_directly() {
        assert_eq!(add(5, 3), 8);
        assert_eq!(
            crate::executor::block_on(flip(Point { x: 1, y: 2 })),
            Point { x: 2, y: 1 }
        );
    }

    /// Without a host, every runtime call fails with one clear error, and the call sites of
    /// the documented API compile.
    #[test]
    fn native_calls_fail_with_a_runtime_error() {
        let a: ObjectRef<i32> = add::remote(5, 3);
        let b = add::remote(&a, 10);
        let c = add::remote(a.clone(), b.clone());
        let d = add::remote_with(TaskOptions::new().timeout(Duration::from_millis(50)), 1, 2);
        let n: ObjectRef<u64> = parse::remote("7".to_string());
        let m = pair::remote((1, 2), vec![]);
        let Err(RayError::Runtime(message)) = c.get() else {
            panic!("no runtime natively");
        };
        assert!(message.contains("on native targets call the function directly"));
        assert_eq!(d.id(), crate::Id::NONE);
        assert_eq!(crate::get(&n), Err(RayError::Runtime(message.clone())));
        assert_eq!(
            crate::wait_indexes(&[&a, &b], 2, Some(Duration::from_millis(100))),
            Ok(vec![0, 1])
        );
        assert_eq!(
            crate::wait_indexes(&[&n as &dyn AnyObjectRef, &m, &d], 1, None),
            Ok(vec![0])
        );
        let refs: Vec<ObjectRef<i32>> = [&a, &b].into_iter().cloned().collect();
        let (ready, not_ready) = crate::wait(&refs, 1, None).expect("valid wait");
        assert_eq!((ready.len(), not_ready.len()), (1, 1));
        assert!(matches!(
            crate::wait(&refs, 3, None),
            Err(RayError::InvalidArgument(_))
        ));
        assert!(matches!(
            crate::wait(&refs, 0, None),
            Err(RayError::InvalidArgument(_))
        ));
        assert_eq!(
            crate::wait_indexes::<&ObjectRef<i32>>(&[], 0, None),
            Ok(vec![])
        );
        assert_eq!(
            crate::get_all(&refs),
            Err(RayError::Runtime(message.clone()))
        );
        crate::cancel(&b);
        assert!(matches!(
            crate::put(&vec![1u8, 2, 3]),
            Err(RayError::Runtime(_))
        ));
        assert!(crate::args().is_empty());
    }
}
