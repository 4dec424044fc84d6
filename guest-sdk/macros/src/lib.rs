//! Procedural macros of the rustyray guest SDK: `#[rustyray::remote]` and `#[rustyray::main]`.
//!
//! They exist so a guest crate is plain Rust: the macros turn an ordinary function into an
//! entry the component exports (registered with `inventory`, dispatched by the SDK's `invoke`)
//! and give it a typed `name::remote(..)` submitter. Users reach them through the SDK's
//! re-exports; the generated code names the SDK as `::rustyray::__private`, so the dependency
//! must be named `rustyray` (`rustyray = { package = "rustyray-sdk", .. }`).
//!
//! Misuse (methods, generics, `&str` parameters, a `main` with parameters, …) is a compile
//! error pointing at the offending tokens, never a confusing error inside generated code.

mod main_fn;
mod remote;
mod signature;

use proc_macro::TokenStream;

/// Make a function a rustyray remote function.
///
/// The function stays callable as written (natively too, for unit tests). Next to it the
/// macro generates a module of the same name with
/// `remote(args..) -> ObjectRef<T>` and `remote_with(TaskOptions, args..) -> ObjectRef<T>`,
/// and registers the function so the host can invoke it by name. Each argument of
/// `remote` accepts the value itself, an `ObjectRef<T>`, or a `&ObjectRef<T>`.
///
/// A function returning `Result<T, E>` (with `E: Display`) yields `ObjectRef<T>`; its `Err`
/// becomes an application error carrying `e.to_string()`. `async fn`s are allowed.
///
/// Options: `#[rustyray::remote(name = "other")]` exports the function under another name.
#[proc_macro_attribute]
pub fn remote(attr: TokenStream, item: TokenStream) -> TokenStream {
    with_item_on_error(remote::expand, attr, item)
}

/// Mark the driver's entry point: the function `rustyray run` calls.
///
/// It takes no parameters (use `rustyray::args()`) and returns `()` or
/// `Result<(), E>` with `E: Display` (exit status 1 and `Error: {e}` on stderr). It may be
/// `async`. A component has at most one.
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    with_item_on_error(main_fn::expand, attr, item)
}

/// Runs `expand`; on error, emits the error *and* the item unchanged, so the one clear
/// message is not buried under "function not found" errors from everything that uses it.
fn with_item_on_error(
    expand: fn(
        proc_macro2::TokenStream,
        proc_macro2::TokenStream,
    ) -> syn::Result<proc_macro2::TokenStream>,
    attr: TokenStream,
    item: TokenStream,
) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match expand(attr.into(), item.clone()) {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            let error = error.into_compile_error();
            quote::quote!(#error #item).into()
        }
    }
}
