//! `#[rustyray::remote]`: one function in, three things out.
//!
//! 1. The function itself, untouched, so it stays an ordinary function (native unit tests
//!    call it directly).
//! 2. A module of the same name (modules and functions live in different namespaces) holding
//!    the typed submitters `remote` and `remote_with`, so a call site reads `add::remote(5, 3)`.
//! 3. An `invoke` shim registered with `inventory`: it decodes the host's arguments
//!    into the parameter types, calls the function and encodes its result. The SDK's exported
//!    `guest.invoke` dispatches to it by name.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Item, LitStr, ReturnType};

use crate::signature::{self, Param};

/// Options inside `#[rustyray::remote(..)]`.
#[derive(Default)]
struct Options {
    /// `name = ".."`: the exported name, if not the function's own.
    name: Option<LitStr>,
    /// `variadic`: the last parameter, a `Vec<T>`, takes every remaining argument, each
    /// one a `T` (Ray's `*args`), so a reducer can take any number of `ObjectRef`s.
    variadic: bool,
    /// `num_returns = k`: the function returns a tuple of `k` values and `remote` gives
    /// a tuple of `k` `ObjectRef`s, one per element (Ray's `num_returns`).
    num_returns: Option<usize>,
}

fn parse_options(attr: TokenStream) -> syn::Result<Options> {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            let name: LitStr = meta.value()?.parse()?;
            if name.value().is_empty() {
                return Err(syn::Error::new(
                    name.span(),
                    "the exported name cannot be empty",
                ));
            }
            options.name = Some(name);
            Ok(())
        } else if meta.path.is_ident("variadic") {
            options.variadic = true;
            Ok(())
        } else if meta.path.is_ident("num_returns") {
            let count: syn::LitInt = meta.value()?.parse()?;
            options.num_returns = Some(count.base10_parse()?);
            Ok(())
        } else {
            Err(meta.error(
                "unknown #[rustyray::remote] option; the options are `name = \"..\"`, \
                 `variadic` and `num_returns = k`",
            ))
        }
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(options)
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let options = parse_options(attr)?;
    let func = match syn::parse2::<Item>(item)? {
        Item::Fn(func) => func,
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "#[rustyray::remote] applies to free functions",
            ));
        }
    };
    let sig = &func.sig;
    signature::check_plain_fn(sig, "#[rustyray::remote]")?;
    let params = signature::params(sig)?;
    signature::check_return(&sig.output)?;

    let ident = &sig.ident;
    let vis = &func.vis;
    let export_name = options
        .name
        .map_or_else(|| ident.to_string(), |name| name.value());
    let signature_text = signature::render_signature(sig, &params);

    // What `remote` hands back: `ObjectRef<T>`, where a `Result<T, E>` function yields `T`.
    let (ret_ty, fallible) = match &sig.output {
        ReturnType::Default => (quote!(()), false),
        ReturnType::Type(_, ty) => (quote!(#ty), signature::is_result(ty)),
    };
    let ret_span = match &sig.output {
        ReturnType::Default => ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let value_ty = if fallible {
        quote_spanned!(ret_span=> <#ret_ty as ::rustyray::__private::Fallible>::Ok)
    } else {
        ret_ty.clone()
    };

    let variadic = if options.variadic {
        let last = params.last().ok_or_else(|| {
            syn::Error::new_spanned(
                sig,
                "a `variadic` function needs a last parameter of type `Vec<T>`",
            )
        })?;
        Some(vec_element(&last.ty).ok_or_else(|| {
            syn::Error::new_spanned(
                &last.ty,
                "the last parameter of a `variadic` function must be a `Vec<T>`: it receives \
                 every remaining argument, each one a `T`",
            )
        })?)
    } else {
        None
    };

    let count = u32::try_from(params.len()).unwrap_or(u32::MAX);
    let (min_args, max_args) = if variadic.is_some() {
        (count - 1, quote!(::core::option::Option::None))
    } else {
        (count, quote!(::core::option::Option::Some(#count)))
    };
    // `num_returns = k` (k != 1): one `ObjectRef` per element of the returned tuple.
    let returns = match options.num_returns {
        Some(count) if count != 1 => Some(signature::return_elements(&sig.output, count)?),
        _ => None,
    };
    let submitters = submitters(
        &export_name,
        ident,
        &params,
        &value_ty,
        variadic.as_ref(),
        returns.as_deref(),
    );
    let invoke = invoke_shim(
        &export_name,
        sig,
        &params,
        &ret_ty,
        fallible,
        variadic.as_ref(),
    );

    let module_doc = format!(
        "Submit [`{ident}`](fn@{ident}) to the rustyray runtime (exported as `{export_name}`)."
    );
    Ok(quote! {
        #func

        #[doc = #module_doc]
        #vis mod #ident {
            #[allow(unused_imports)]
            use super::*;

            #submitters

            #invoke

            ::rustyray::__private::inventory::submit! {
                ::rustyray::__private::RemoteFunction {
                    name: #export_name,
                    signature: #signature_text,
                    min_args: #min_args,
                    max_args: #max_args,
                    invoke: __rustyray_invoke,
                }
            }
        }
    })
}

/// `T` of a `Vec<T>` type (by its last path segment), if it is one.
fn vec_element(ty: &syn::Type) -> Option<syn::Type> {
    let syn::Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "Vec" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(element) if args.args.len() == 1 => Some(element.clone()),
        _ => None,
    }
}

/// `remote(..)` and `remote_with(options, ..)`.
fn submitters(
    export_name: &str,
    ident: &syn::Ident,
    params: &[Param],
    value_ty: &TokenStream,
    variadic: Option<&syn::Type>,
    returns: Option<&[syn::Type]>,
) -> TokenStream {
    let names: Vec<_> = params.iter().map(|param| &param.ident).collect();
    let name_strs: Vec<_> = params.iter().map(|param| param.display.clone()).collect();
    let fixed = if variadic.is_some() {
        &params[..params.len() - 1]
    } else {
        params
    };
    let mut arg_tys: Vec<_> = fixed
        .iter()
        .map(|param| {
            let ty = &param.ty;
            quote!(impl ::rustyray::__private::IntoArg<'a, #ty>)
        })
        .collect();
    let fixed_lowered: Vec<_> = fixed
        .iter()
        .map(|param| {
            let (name, ty) = (&param.ident, &param.ty);
            quote_spanned!(ty.span()=> ::rustyray::__private::IntoArg::<'a, #ty>::into_arg(#name))
        })
        .collect();
    let lowered = match (variadic, params.last()) {
        (Some(element), Some(rest)) => {
            arg_tys.push(quote!(
                impl ::core::iter::IntoIterator<
                    Item = impl ::rustyray::__private::IntoArg<'a, #element>,
                >
            ));
            let rest = &rest.ident;
            quote! {{
                let mut __lowered = ::std::vec![#(#fixed_lowered),*];
                __lowered.extend(
                    #rest
                        .into_iter()
                        .map(|__arg| ::rustyray::__private::IntoArg::<'a, #element>::into_arg(__arg)),
                );
                __lowered
            }}
        }
        _ => quote!(::std::vec![#(#fixed_lowered),*]),
    };
    // A parameter may itself be called `options`.
    let options = if names.iter().any(|name| *name == "options") {
        format_ident!("__rustyray_options")
    } else {
        format_ident!("options")
    };
    let remote_doc = format!(
        "Submit `{ident}` with default options; the result is an `ObjectRef` to wait on. \
         Each argument is a value, an `ObjectRef` or a `&ObjectRef`."
    );
    let remote_with_doc = format!("Submit `{ident}` with `options` (e.g. a timeout).");
    if let Some(elements) = returns {
        let count = elements.len() as u32;
        let result_ty = quote!((#(::rustyray::__private::ObjectRef<#elements>,)*));
        let picks = elements
            .iter()
            .map(|_| quote!(::rustyray::__private::next_ref(&mut __refs)));
        let remote_doc = format!(
            "Submit `{ident}` with default options; one `ObjectRef` per returned value \
             (`num_returns = {count}`). Each argument is a value, an `ObjectRef` or a \
             `&ObjectRef`."
        );
        return quote! {
            #[doc = #remote_doc]
            #[allow(clippy::too_many_arguments, clippy::unused_unit)]
            pub fn remote<'a>(#(#names: #arg_tys),*) -> #result_ty {
                remote_with(::rustyray::__private::TaskOptions::new(), #(#names),*)
            }

            #[doc = #remote_with_doc]
            #[allow(clippy::too_many_arguments, clippy::unused_unit, unused_mut)]
            pub fn remote_with<'a>(
                #options: ::rustyray::__private::TaskOptions,
                #(#names: #arg_tys),*
            ) -> #result_ty {
                let mut __refs = ::rustyray::__private::submit_returns(
                    #export_name,
                    &[#(#name_strs),*],
                    #lowered,
                    #options,
                    #count,
                )
                .into_iter();
                (#(#picks,)*)
            }
        };
    }
    quote! {
        #[doc = #remote_doc]
        #[allow(clippy::too_many_arguments)]
        pub fn remote<'a>(#(#names: #arg_tys),*) -> ::rustyray::__private::ObjectRef<#value_ty> {
            remote_with(::rustyray::__private::TaskOptions::new(), #(#names),*)
        }

        #[doc = #remote_with_doc]
        #[allow(clippy::too_many_arguments)]
        pub fn remote_with<'a>(
            #options: ::rustyray::__private::TaskOptions,
            #(#names: #arg_tys),*
        ) -> ::rustyray::__private::ObjectRef<#value_ty> {
            ::rustyray::__private::submit(
                #export_name,
                &[#(#name_strs),*],
                #lowered,
                #options,
            )
        }
    }
}

/// The registered `fn(&mut [InArg]) -> Result<Encoded, InvokeError>`.
fn invoke_shim(
    export_name: &str,
    sig: &syn::Signature,
    params: &[Param],
    ret_ty: &TokenStream,
    fallible: bool,
    variadic: Option<&syn::Type>,
) -> TokenStream {
    let ident = &sig.ident;
    let count = params.len();
    let locals: Vec<_> = (0..count)
        .map(|i| format_ident!("__rustyray_arg{i}"))
        .collect();
    let fixed = if variadic.is_some() { count - 1 } else { count };
    let mut decodes: Vec<TokenStream> = params
        .iter()
        .zip(&locals)
        .take(fixed)
        .enumerate()
        .map(|(index, (param, local))| {
            let (ty, display) = (&param.ty, &param.display);
            quote_spanned! {ty.span()=>
                let #local = ::rustyray::__private::decode_arg::<#ty>(#export_name, __args, #index, #display)?;
            }
        })
        .collect();
    let arity = match (variadic, params.last(), locals.last()) {
        (Some(element), Some(rest), Some(local)) => {
            let display = &rest.display;
            decodes.push(quote! {
                let #local = (#fixed..__args.len())
                    .map(|__index| {
                        ::rustyray::__private::decode_arg::<#element>(
                            #export_name, __args, __index, #display,
                        )
                    })
                    .collect::<::core::result::Result<::std::vec::Vec<#element>, _>>()?;
            });
            quote!(::rustyray::__private::check_min_arity(#export_name, __args, #fixed)?;)
        }
        _ => quote!(::rustyray::__private::check_arity(#export_name, __args, #count)?;),
    };
    let call = quote!(super::#ident(#(#locals),*));
    let call = if sig.asyncness.is_some() {
        quote!(::rustyray::__private::block_on(#call))
    } else {
        call
    };
    // A return type that cannot be encoded is reported on the return type.
    let span = match &sig.output {
        ReturnType::Default => ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let encode = if fallible {
        let error = signature::application_error(Some(ret_ty));
        quote_spanned!(span=> ::rustyray::__private::encode_fallible::<#ret_ty>(#export_name, __out, #error))
    } else {
        quote_spanned!(span=> ::rustyray::__private::encode_output::<#ret_ty>(#export_name, __out))
    };
    quote! {
        fn __rustyray_invoke(
            __args: &mut [::rustyray::__private::InArg],
        ) -> ::core::result::Result<::rustyray::__private::Encoded, ::rustyray::__private::InvokeError> {
            #arity
            #(#decodes)*
            let __out = #call;
            #encode
        }
    }
}
