//! `#[rustyray::actor]`: one attribute for both halves of an actor class, and the struct half.
//!
//! A class is a struct and one impl block, each carrying the attribute; each half emits what
//! only it knows. On the struct (here): the typed handle `NameHandle` (its visibility is the
//! struct's) with the methods every handle has, and the `ActorState` impl that the
//! `snapshot` option decides. On the impl block (`actor_impl`): the constructor's
//! `remote`/`remote_with`/`get_named`, one handle method per remote method, the dispatch and
//! the class registration. Each half asserts the other is there (`ActorObject` and
//! `ActorState` carry `on_unimplemented` messages), so marking only one is a clear error
//! rather than a class that silently does not exist.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Ident, Item, ItemStruct};

use crate::actor_impl;

/// Options inside `#[rustyray::actor(..)]`.
#[derive(Default)]
struct Options {
    /// `snapshot`: the state is saved after calls and restored after a crash. Its span, for
    /// errors about the serde bounds it needs.
    snapshot: Option<Span>,
}

fn parse_options(attr: TokenStream) -> syn::Result<Options> {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("snapshot") {
            options.snapshot = Some(meta.path.require_ident()?.span());
            Ok(())
        } else {
            Err(meta.error("unknown #[rustyray::actor] option; the only one is `snapshot`"))
        }
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(options)
}

/// Expands either half. An error in one half still emits what the other half checks for
/// (the handle and `ActorState` for a struct whose options are wrong, a stub `ActorObject`
/// for an impl block the macro refused), so the user sees the one error that matters and not
/// its echo from the other half.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    match syn::parse2::<Item>(item)? {
        Item::Struct(item) => match parse_options(attr) {
            Ok(options) => expand_struct(options, &item),
            Err(error) => {
                let error = error.into_compile_error();
                let expanded = expand_struct(Options::default(), &item)?;
                Ok(quote!(#error #expanded))
            }
        },
        Item::Impl(item) => {
            let expanded = if attr.is_empty() {
                actor_impl::expand(&item)
            } else {
                Err(syn::Error::new_spanned(
                    attr,
                    "options go on the struct (`#[rustyray::actor(snapshot)] struct ..`); the \
                     impl block takes plain #[rustyray::actor]",
                ))
            };
            expanded.or_else(|error| {
                let error = error.into_compile_error();
                let stub = actor_impl::stub(&item);
                Ok(quote!(#error #item #stub))
            })
        }
        other => Err(syn::Error::new_spanned(
            other,
            "#[rustyray::actor] applies to a struct and to its impl block",
        )),
    }
}

/// The typed handle's name: `Counter` -> `CounterHandle`.
pub(crate) fn handle_ident(class: &Ident) -> Ident {
    format_ident!("{}Handle", class)
}

fn expand_struct(options: Options, item: &ItemStruct) -> syn::Result<TokenStream> {
    if let Some(param) = item.generics.params.first() {
        return Err(syn::Error::new_spanned(
            param,
            "#[rustyray::actor] structs cannot be generic: the host creates actors by class \
             name, so the type must be concrete",
        ));
    }
    if let Some(clause) = &item.generics.where_clause {
        return Err(syn::Error::new_spanned(
            clause,
            "#[rustyray::actor] structs cannot have a where clause",
        ));
    }
    let class = &item.ident;
    let class_name = class.to_string();
    let vis = &item.vis;
    let handle = handle_ident(class);
    let state = state_impl(class, options.snapshot);

    let handle_doc = format!(
        "A handle to a [`{class}`] actor: one method per remote method of `{class}`, each \
         returning an `ObjectRef` (and a `_tell` twin that discards the result). Create one \
         with `{class}::remote(..)`, find a named one with `{class}::get_named(..)`. Cloning \
         it adds a handle to the same actor; it serializes as the actor's id, so it can be \
         passed to tasks and to other actors."
    );
    let from_raw_doc = format!(
        "Treats an untyped handle as a `{class}` actor. Nothing checks the class: calls to \
         an actor of another class fail with `FunctionNotFound`."
    );
    Ok(quote! {
        #item

        #[doc = #handle_doc]
        #[must_use = "dropping the last handle to an unnamed actor stops it"]
        #vis struct #handle(::rustyray::ActorHandle);

        #[allow(dead_code)]
        impl #handle {
            #[doc = #from_raw_doc]
            pub fn from_raw(raw: ::rustyray::ActorHandle) -> Self {
                Self(raw)
            }

            /// The untyped handle, for [`call`](::rustyray::ActorHandle::call) by name.
            pub fn raw(&self) -> &::rustyray::ActorHandle {
                &self.0
            }

            /// The untyped handle, by value.
            pub fn into_raw(self) -> ::rustyray::ActorHandle {
                self.0
            }

            /// The actor's id: equal across handles to the same actor; `Id::NONE` if
            /// creation failed.
            pub fn id(&self) -> ::rustyray::Id {
                self.0.id()
            }

            /// Stops the actor now: pending calls fail and it is not restarted.
            pub fn kill(&self) {
                self.0.kill()
            }

            /// Ray's `kill(actor, no_restart)`: with `no_restart` as `kill`; without, the
            /// actor restarts (from its constructor or last snapshot) if it has restarts
            /// left, using one.
            pub fn kill_with(&self, no_restart: bool) {
                self.0.kill_with(no_restart)
            }

            /// `Err` with the reason if the actor could not be created (the same error every
            /// call on this handle yields).
            pub fn ready(&self) -> ::core::result::Result<(), ::rustyray::RayError> {
                self.0.ready()
            }
        }

        impl ::core::clone::Clone for #handle {
            fn clone(&self) -> Self {
                Self(::core::clone::Clone::clone(&self.0))
            }
        }

        impl ::core::fmt::Debug for #handle {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::write!(f, "{}({:?})", #class_name, self.0)
            }
        }

        impl ::rustyray::__private::serde::Serialize for #handle {
            fn serialize<S: ::rustyray::__private::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                ::rustyray::__private::serde::Serialize::serialize(&self.0, serializer)
            }
        }

        impl<'de> ::rustyray::__private::serde::Deserialize<'de> for #handle {
            fn deserialize<D: ::rustyray::__private::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                <::rustyray::ActorHandle as ::rustyray::__private::serde::Deserialize<'de>>::deserialize(
                    deserializer,
                )
                .map(Self)
            }
        }

        #state

        // The impl block must be marked too; this names the missing half if it is not.
        const _: fn() = ::rustyray::__private::assert_actor_impl::<#class>;
    })
}

/// `ActorState`: snapshots through serde for `#[rustyray::actor(snapshot)]`, none otherwise.
fn state_impl(class: &Ident, snapshot: Option<Span>) -> TokenStream {
    let (flag, snapshot_body, restore_body) = match snapshot {
        Some(span) => (
            quote!(true),
            quote_spanned! {span=>
                ::core::option::Option::Some(::rustyray::__private::snapshot_state::<Self>(self))
            },
            quote_spanned! {span=>
                ::rustyray::__private::restore_state::<Self>(__class, __state)
            },
        ),
        None => (
            quote!(false),
            quote!(::core::option::Option::None),
            quote!({
                let _ = __state;
                ::rustyray::__private::no_snapshots(__class)
            }),
        ),
    };
    quote! {
        impl ::rustyray::__private::ActorState for #class {
            const SNAPSHOT: bool = #flag;

            fn snapshot(
                &self,
            ) -> ::core::option::Option<
                ::core::result::Result<::std::vec::Vec<u8>, ::std::string::String>,
            > {
                #snapshot_body
            }

            fn restore(
                __class: &str,
                __state: &[u8],
            ) -> ::core::result::Result<Self, ::rustyray::__private::InvokeError> {
                #restore_body
            }
        }
    }
}
