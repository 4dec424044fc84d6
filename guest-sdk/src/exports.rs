//! The component's exports (`guest` and `driver` of `wit/runtime.wit`), implemented once in
//! the SDK so a guest crate writes none (wasm only).
//!
//! Tasks go through `registry` (`invoke`), actors through `actor_registry` (`actor-new`,
//! `actor-call`, …); this module only converts between wit-bindgen's types and theirs.
//!
//! The exported symbols are defined in this rlib and survive into the user's `cdylib`
//! because rustc exports every `#[export_name]` function of the crates it links. Before
//! each export body runs, wit-bindgen's glue runs the static constructors once
//! (`run_ctors_once`), which is what fills `inventory`'s registry; the first export also
//! installs a panic hook that hands the message to the host (`diagnostics.report-panic`)
//! before the panic aborts and the instance traps.

use std::sync::Once;

use crate::actor_registry;
#[cfg(feature = "concurrent")]
use crate::bindings::exports::rustyray::runtime::concurrent_actor;
use crate::bindings::exports::rustyray::runtime::{driver, guest};
use crate::bindings::rustyray::runtime::types;
use crate::codec::InArg;
use crate::error::InvokeError;
use crate::{registry, runtime, sys};

struct Component;

impl guest::Guest for Component {
    fn describe() -> guest::ComponentInfo {
        init();
        guest::ComponentInfo {
            functions: registry::describe()
                .into_iter()
                .map(|function| {
                    function_info(
                        function.name,
                        function.signature,
                        guest::Arity {
                            min: function.min_args,
                            max: function.max_args,
                        },
                    )
                })
                .collect(),
            actors: actor_registry::describe_actors()
                .into_iter()
                .map(|class| guest::ActorClassInfo {
                    name: class.name.to_owned(),
                    constructor: class.constructor_signature.to_owned(),
                    constructor_arity: exact(class.constructor_args),
                    methods: class
                        .methods
                        .iter()
                        .zip(class.method_args)
                        .map(|(&(name, signature), &args)| {
                            function_info(name, signature, exact(args))
                        })
                        .collect(),
                    snapshot: class.snapshot,
                })
                .collect(),
            has_main: registry::has_main(),
        }
    }

    fn invoke(
        function: String,
        args: Vec<guest::Argument>,
    ) -> Result<types::Value, guest::InvokeError> {
        init();
        let result = registry::invoke(&function, &mut in_args(args))
            .map(sys::to_value)
            .map_err(to_wit);
        // Handles inside the result keep their actors as long as it lives.
        sys::flush_carried();
        result
    }

    fn actor_new(class: String, args: Vec<guest::Argument>) -> Result<(), guest::InvokeError> {
        init();
        actor_registry::new_actor(&class, &mut in_args(args)).map_err(to_wit)
    }

    fn actor_call(
        method: String,
        args: Vec<guest::Argument>,
    ) -> Result<types::Value, guest::InvokeError> {
        init();
        let result = actor_registry::call_actor(&method, &mut in_args(args))
            .map(sys::to_value)
            .map_err(to_wit);
        sys::flush_carried();
        result
    }

    fn actor_snapshot() -> Option<Vec<u8>> {
        init();
        let state = actor_registry::snapshot_actor();
        // Handles inside the state: the host keeps their actors with the snapshot.
        sys::flush_carried();
        state
    }

    fn actor_restore(class: String, state: Vec<u8>) -> Result<(), guest::InvokeError> {
        init();
        actor_registry::restore_actor(&class, &state).map_err(to_wit)
    }

    fn actor_stop() {
        init();
        actor_registry::stop_actor();
    }
}

/// The arguments as the SDK takes them (values keep their buffers: no copy).
fn in_args(args: Vec<guest::Argument>) -> Vec<InArg> {
    args.into_iter()
        .map(|arg| match arg {
            guest::Argument::Value(value) => InArg::Value(sys::from_value(value)),
            guest::Argument::Reference(handle) => InArg::Reference(handle),
        })
        .collect()
}

fn function_info(name: &str, signature: &str, arity: guest::Arity) -> guest::FunctionInfo {
    guest::FunctionInfo {
        name: name.to_owned(),
        signature: signature.to_owned(),
        arity,
    }
}

fn exact(args: u32) -> guest::Arity {
    guest::Arity {
        min: args,
        max: Some(args),
    }
}

fn to_wit(error: InvokeError) -> guest::InvokeError {
    match error {
        InvokeError::Application(error) => {
            let (message, type_name, value) = error.into_parts();
            guest::InvokeError::Application(types::ApplicationError {
                message,
                type_name,
                value: value.map(sys::to_value),
            })
        }
        InvokeError::BadArguments(message) => guest::InvokeError::BadArguments(message),
        InvokeError::FunctionNotFound(name) => guest::InvokeError::FunctionNotFound(name),
    }
}

#[cfg(feature = "concurrent")]
impl concurrent_actor::Guest for Component {
    fn concurrent_methods() -> Vec<(String, Vec<String>)> {
        init();
        actor_registry::describe_concurrent()
            .into_iter()
            .map(|(class, methods)| {
                (
                    class.to_owned(),
                    methods.iter().map(|&method| method.to_owned()).collect(),
                )
            })
            .collect()
    }

    async fn actor_call(
        call: u64,
        method: String,
        args: Vec<guest::Argument>,
    ) -> Result<types::Value, guest::InvokeError> {
        init();
        let result = actor_registry::call_actor_concurrent(call, method, in_args(args))
            .await
            .map(sys::to_value)
            .map_err(to_wit);
        sys::flush_carried();
        result
    }
}

impl driver::Guest for Component {
    fn run(args: Vec<String>) -> i32 {
        init();
        runtime::set_args(args);
        registry::run_main()
    }
}

crate::bindings::export!(Component with_types_in crate::bindings);

/// Once per instance: route panic messages to the host.
fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        std::panic::set_hook(Box::new(|info| sys::report_panic(&info.to_string())));
    });
}
