//! `#[rustyray::main]`: registers a driver's entry point.
//!
//! The function is left as written; next to it an anonymous `const` block registers a
//! `MainFunction` with `inventory`. The SDK's exported `driver.run` finds it, runs it
//! (through `block_on` when it is `async`) and turns its return value into an exit status.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Item, ReturnType};

use crate::signature;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    if !attr.is_empty() {
        return Err(syn::Error::new_spanned(
            attr,
            "#[rustyray::main] takes no options",
        ));
    }
    let func = match syn::parse2::<Item>(item)? {
        Item::Fn(func) => func,
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "#[rustyray::main] applies to a free function",
            ));
        }
    };
    let sig = &func.sig;
    signature::check_plain_fn(sig, "#[rustyray::main]")?;
    if let Some(FnArg::Typed(param)) = sig.inputs.first() {
        return Err(syn::Error::new_spanned(
            param,
            "#[rustyray::main] takes no parameters: read the command line with `rustyray::args()`",
        ));
    }
    signature::check_return(&sig.output)?;

    let ident = &sig.ident;
    let name = ident.to_string();
    let call = if sig.asyncness.is_some() {
        quote!(::rustyray::__private::block_on(#ident()))
    } else {
        quote!(#ident())
    };
    // Point a wrong return type's error at the return type.
    let span = match &sig.output {
        ReturnType::Default => ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let exit_code = quote_spanned!(span=> ::rustyray::__private::exit_code(__rustyray_output));
    Ok(quote! {
        #func

        const _: () = {
            fn __rustyray_run_main() -> i32 {
                let __rustyray_output = #call;
                #exit_code
            }

            ::rustyray::__private::inventory::submit! {
                ::rustyray::__private::MainFunction {
                    name: #name,
                    run: __rustyray_run_main,
                }
            }
        };
    })
}
