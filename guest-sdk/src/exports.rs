//! The component's exports (`guest` and `driver` of `wit/runtime.wit`), implemented once in
//! the SDK so a guest crate writes none (wasm only).
//!
//! The exported symbols are defined in this rlib and survive into the user's `cdylib`
//! because rustc exports every `#[export_name]` function of the crates it links. Before
//! each export body runs, wit-bindgen's glue runs the static constructors once
//! (`run_ctors_once`), which is what fills `inventory`'s registry; the first export also
//! installs a panic hook that hands the message to the host (`diagnostics.report-panic`)
//! before the panic aborts and the instance traps.

use std::sync::Once;

use crate::bindings::exports::rustyray::runtime::{driver, guest};
use crate::error::InvokeError;
use crate::{registry, runtime, sys};

struct Component;

impl guest::Guest for Component {
    fn describe() -> guest::ComponentInfo {
        init();
        guest::ComponentInfo {
            functions: registry::describe()
                .into_iter()
                .map(|(name, signature)| guest::FunctionInfo {
                    name: name.to_owned(),
                    signature: signature.to_owned(),
                })
                .collect(),
            actors: Vec::new(),
            has_main: registry::has_main(),
        }
    }

    fn invoke(function: String, args: Vec<Vec<u8>>) -> Result<Vec<u8>, guest::InvokeError> {
        init();
        registry::invoke(&function, &args).map_err(|error| match error {
            InvokeError::Application(message) => guest::InvokeError::Application(message),
            InvokeError::BadArguments(message) => guest::InvokeError::BadArguments(message),
            InvokeError::FunctionNotFound(name) => guest::InvokeError::FunctionNotFound(name),
        })
    }
    fn actor_new(class: String, _args: Vec<Vec<u8>>) -> Result<(), guest::InvokeError> {
        init();
        Err(guest::InvokeError::FunctionNotFound(class))
    }

    fn actor_call(method: String, _args: Vec<Vec<u8>>) -> Result<Vec<u8>, guest::InvokeError> {
        init();
        Err(guest::InvokeError::FunctionNotFound(method))
    }

    fn actor_snapshot() -> Option<Vec<u8>> {
        None
    }

    fn actor_restore(class: String, _state: Vec<u8>) -> Result<(), guest::InvokeError> {
        init();
        Err(guest::InvokeError::FunctionNotFound(class))
    }

    fn actor_stop() {}
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
