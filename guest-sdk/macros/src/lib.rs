//! Procedural macros of the rustyray guest SDK: `#[rustyray::remote]`, `#[rustyray::actor]`
//! and `#[rustyray::main]`.
//!
//! They exist so a guest crate is plain Rust: the macros turn an ordinary function into an
//! entry the component exports (registered with `inventory`, dispatched by the SDK's `invoke`)
//! and give it a typed `name::remote(..)` submitter; a struct and its impl block into an
//! actor class (dispatched by the SDK's `actor-*` exports) with a typed handle. Users reach them through the SDK's
//! re-exports; the generated code names the SDK as `::rustyray::__private`, so the dependency
//! must be named `rustyray` (`rustyray = { package = "rustyray-sdk", .. }`).
//!
//! Misuse (methods, generics, `&str` parameters, a `main` with parameters, an actor without a
//! constructor, …) is a compile error pointing at the offending tokens, never a confusing
//! error inside generated code.

mod actor;
mod actor_impl;
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
/// Options (comma-separated):
///
/// - `name = "other"` exports the function under another name.
/// - `num_returns = k` (Ray's `num_returns`): the function returns a tuple of `k` values
///   (or `Result` of one) and `remote` returns a tuple of `k` `ObjectRef`s, one object per
///   element; `num_returns = 0` takes a function returning `()` (or `Result<(), E>`) and
///   `remote` returns `()` — the task runs all the same. A failed task fails every object.
/// - `variadic` (Ray's `*args`): the last parameter is a `Vec<T>`; callers pass it as one.
///
/// ```ignore
/// #[rustyray::remote(num_returns = 2)]
/// fn split(v: Vec<i32>) -> (Vec<i32>, Vec<i32>) { let (a, b) = v.split_at(v.len() / 2); (a.to_vec(), b.to_vec()) }
/// let (left, right) = split::remote(vec![1, 2, 3, 4]);
/// ```
#[proc_macro_attribute]
pub fn remote(attr: TokenStream, item: TokenStream) -> TokenStream {
    with_item_on_error(remote::expand, attr, item)
}

/// Make a struct an actor class: put it on the struct *and* on its impl block.
///
/// ```ignore
/// #[rustyray::actor]
/// struct Counter { count: i32 }
///
/// #[rustyray::actor]
/// impl Counter {
///     fn new(start: i32) -> Self { Counter { count: start } }
///     fn increment(&mut self) -> i32 { self.count += 1; self.count }
///     fn get(&self) -> i32 { self.count }
/// }
///
/// let counter = Counter::remote(10);          // CounterHandle
/// let n = counter.increment().get()?;         // ObjectRef<i32> -> 11
/// ```
///
/// In the impl block:
///
/// - the **constructor** is the associated fn returning `Self` or `Result<Self, E>`
///   (`E: Display`); if several do, the one named `new`. It gives `Counter::remote(..)`,
///   `Counter::remote_with(ActorOptions, ..)`, `Counter::get_named(name)` and
///   `Counter::get_named_in(namespace, name)`.
/// - every method taking `&self` or `&mut self` is a **remote method**, whatever its
///   visibility (helpers that need `self` go in a second, unmarked impl block). Parameters
///   are owned serde types; the return is a value or `Result<T, E>` (`Err` is an application
///   error and the actor lives on); `async` is allowed. The handle gets
///   `handle.method(..) -> ObjectRef<T>` and `handle.method_tell(..)` (fire and forget).
/// - `#[rustyray::method(num_returns = k)]` on a method (Ray's `@ray.method(num_returns=k)`):
///   it returns a tuple of `k` values and its handle method a tuple of `k` `ObjectRef`s.
/// - a method that **panics** traps the instance: that call answers `ActorDied` carrying
///   the panic message, and the actor is restarted (up to `max_restarts`) or dead. Return
///   `Err` to fail only the call. `rustyray::exit_actor()` ends the actor for good.
/// - `fn on_stop(&mut self)`, if present, is not remote: it runs when the actor is stopped
///   gracefully.
/// - associated fns without `self` other than the constructor are left alone.
///
/// The typed handle `CounterHandle` has the visibility of the struct, and `id()`, `kill()`,
/// `ready()`, `raw()`, `Clone`, and serde as the actor's id, so handles can be passed to
/// tasks and to other actors.
///
/// Option (on the struct only): `#[rustyray::actor(snapshot)]` lets the runtime save the
/// state (serde `Serialize` + `Deserialize`, required) and restore it when it restarts the
/// actor after a crash, instead of running the constructor again.
#[proc_macro_attribute]
pub fn actor(attr: TokenStream, item: TokenStream) -> TokenStream {
    with_item_on_error(actor::expand, attr, item)
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
