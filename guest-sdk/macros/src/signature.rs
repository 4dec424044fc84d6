//! What a rustyray entry point's signature may look like, and how it reads in `describe()`.
//!
//! Both macros accept only plain functions whose values can cross the component boundary
//! through serde: owned parameters, no generics, no receivers. Checking that here, with an
//! error on the offending tokens, beats letting a trait bound fail deep in generated code.
//! The same module renders the signature string the host shows in `rustyray inspect`.

use proc_macro2::Span;
use quote::ToTokens;
use syn::{
    FnArg, GenericArgument, Ident, Pat, PathArguments, ReturnType, Signature, Type, TypePath,
};

/// One parameter of a checked signature.
pub(crate) struct Param {
    /// A Rust identifier for the value: the user's name, or `argN` for a pattern.
    pub ident: Ident,
    /// How the parameter reads in messages and in `describe()`: `a: i32`.
    pub display: String,
    pub ty: Type,
}

/// Rejects what no entry point may be: generic, `unsafe`, `extern`, variadic, a method.
pub(crate) fn check_plain_fn(sig: &Signature, attr: &str) -> syn::Result<()> {
    check_concrete(sig, &format!("{attr} functions"))?;
    if let Some(FnArg::Receiver(receiver)) = sig.inputs.first() {
        return Err(syn::Error::new_spanned(
            receiver,
            format!(
                "{attr} cannot be used on methods: write a free function (actors come with \
                 #[rustyray::actor])"
            ),
        ));
    }
    Ok(())
}

/// Rejects generic, `unsafe`, `extern` and variadic signatures; `subject` names what is
/// checked in messages (`#[rustyray::remote] functions`).
pub(crate) fn check_concrete(sig: &Signature, subject: &str) -> syn::Result<()> {
    if let Some(param) = sig.generics.params.first() {
        return Err(syn::Error::new_spanned(
            param,
            format!(
                "{subject} cannot be generic: the host calls them by name with encoded \
                 arguments, so every type must be concrete"
            ),
        ));
    }
    if let Some(clause) = &sig.generics.where_clause {
        return Err(syn::Error::new_spanned(
            clause,
            format!("{subject} cannot have a where clause"),
        ));
    }
    if let Some(token) = &sig.unsafety {
        return Err(syn::Error::new_spanned(
            token,
            format!("{subject} cannot be `unsafe`"),
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(syn::Error::new_spanned(
            abi,
            format!("{subject} cannot have an `extern` ABI"),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new_spanned(
            variadic,
            format!("{subject} cannot be variadic"),
        ));
    }
    Ok(())
}

/// The parameters of a signature already passed through [`check_concrete`], each checked to
/// be an owned, serde-friendly type. A method's receiver is not among them.
pub(crate) fn params(sig: &Signature) -> syn::Result<Vec<Param>> {
    let mut out = Vec::with_capacity(sig.inputs.len());
    let typed_inputs = sig.inputs.iter().filter_map(|input| match input {
        FnArg::Typed(typed) => Some(typed),
        FnArg::Receiver(_) => None,
    });
    for (index, typed) in typed_inputs.enumerate() {
        check_owned(&typed.ty, "parameter")?;
        let (ident, name) = match &*typed.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                (pat.ident.clone(), pat.ident.to_string())
            }
            other => (
                Ident::new(&format!("arg{index}"), Span::call_site()),
                tidy(&other.to_token_stream().to_string()),
            ),
        };
        let display = format!("{name}: {}", render_type(&typed.ty));
        out.push(Param {
            ident,
            display,
            ty: (*typed.ty).clone(),
        });
    }
    Ok(out)
}

/// Checks that a return type can be encoded and named by callers.
pub(crate) fn check_return(ret: &ReturnType) -> syn::Result<()> {
    match ret {
        ReturnType::Default => Ok(()),
        ReturnType::Type(_, ty) => check_owned(ty, "return type"),
    }
}

/// True for `Result<..>` under any path (`std::io::Result<T>`, an alias named `Result`):
/// such a function's `Err` becomes an application error rather than a stored value.
pub(crate) fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Path(TypePath { qself: None, path }) => path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "Result"),
        Type::Paren(inner) => is_result(&inner.elem),
        Type::Group(inner) => is_result(&inner.elem),
        _ => false,
    }
}

/// The closure that turns a `Result` return type's `Err` into the SDK's application
/// error: message, type name and, if the error type is `Serialize` (an autoref probe,
/// decided here where the type is concrete), its value.
/// `ret_ty` is `None` where the type may name `Self` (a constructor's): the closure's
/// parameter is then inferred from the value it is applied to.
pub(crate) fn application_error(
    ret_ty: Option<&proc_macro2::TokenStream>,
) -> proc_macro2::TokenStream {
    let param = match ret_ty {
        Some(ret_ty) => {
            quote::quote!(__rustyray_err: <#ret_ty as ::rustyray::__private::Fallible>::Err)
        }
        None => quote::quote!(__rustyray_err),
    };
    quote::quote! {
        |#param| {
            #[allow(unused_imports)]
            use ::rustyray::__private::probe::{ErrValue as _, NoErrValue as _};
            #[allow(clippy::needless_borrow)]
            let __value = (&&::rustyray::__private::probe::ErrProbe(&__rustyray_err))
                .rustyray_error_value();
            ::rustyray::__private::application_error(&__rustyray_err, __value)
        }
    }
}

/// Rejects borrowed, `impl Trait` and `Self` types anywhere inside `ty`.
fn check_owned(ty: &Type, role: &str) -> syn::Result<()> {
    match ty {
        Type::Reference(reference) => {
            let hint = match &*reference.elem {
                Type::Path(path) if path.path.is_ident("str") => "take `String` instead",
                Type::Slice(_) => "take a `Vec<_>` instead",
                _ => "take the value by ownership instead",
            };
            Err(syn::Error::new_spanned(
                ty,
                format!(
                    "rustyray entry points cannot have a borrowed {role} (`{}`): values are \
                     decoded from bytes the host sends; {hint}",
                    render_type(ty)
                ),
            ))
        }
        Type::ImplTrait(_) => Err(syn::Error::new_spanned(
            ty,
            format!(
                "rustyray entry points cannot use `impl Trait` as a {role}: name a concrete type"
            ),
        )),
        Type::Path(path) => {
            if let Some(qself) = &path.qself {
                check_owned(&qself.ty, role)?;
            }
            for segment in &path.path.segments {
                if segment.ident == "Self" {
                    return Err(syn::Error::new_spanned(
                        &segment.ident,
                        format!(
                            "rustyray entry points cannot name `Self` in a {role}: write the \
                             type out"
                        ),
                    ));
                }
                if let PathArguments::AngleBracketed(args) = &segment.arguments {
                    for arg in &args.args {
                        if let GenericArgument::Type(inner) = arg {
                            check_owned(inner, role)?;
                        }
                    }
                }
            }
            Ok(())
        }
        Type::Tuple(tuple) => tuple
            .elems
            .iter()
            .try_for_each(|elem| check_owned(elem, role)),
        Type::Array(array) => check_owned(&array.elem, role),
        Type::Slice(slice) => check_owned(&slice.elem, role),
        Type::Paren(inner) => check_owned(&inner.elem, role),
        Type::Group(inner) => check_owned(&inner.elem, role),
        _ => Ok(()),
    }
}

/// `fn add(a: i32, b: i32) -> i32` (or `fn add(&mut self, n: i32) -> i32`), as
/// `describe()` reports it.
pub(crate) fn render_signature(sig: &Signature, params: &[Param]) -> String {
    let asyncness = if sig.asyncness.is_some() {
        "async "
    } else {
        ""
    };
    let receiver = match sig.inputs.first() {
        Some(FnArg::Receiver(receiver)) => Some(tidy(&receiver.to_token_stream().to_string())),
        _ => None,
    };
    let list = receiver
        .into_iter()
        .chain(params.iter().map(|param| param.display.clone()))
        .collect::<Vec<_>>()
        .join(", ");
    let ret = match &sig.output {
        ReturnType::Default => String::new(),
        ReturnType::Type(_, ty) => format!(" -> {}", render_type(ty)),
    };
    format!("{asyncness}fn {}({list}){ret}", sig.ident)
}

/// A type as a person writes it (`Vec<u8>`), not as tokens print (`Vec < u8 >`).
pub(crate) fn render_type(ty: &Type) -> String {
    tidy(&ty.to_token_stream().to_string())
}

/// Removes the spaces `TokenStream::to_string` puts between every token.
fn tidy(tokens: &str) -> String {
    const RULES: [(&str, &str); 13] = [
        (" :: ", "::"),
        (":: ", "::"),
        (" < ", "<"),
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        ("& ", "&"),
        ("( ", "("),
        (" )", ")"),
        ("[ ", "["),
        (" ]", "]"),
        (" ;", ";"),
    ];
    let mut out = tokens.to_owned();
    for (from, to) in RULES {
        while out.contains(from) {
            out = out.replace(from, to);
        }
    }
    out
}

/// The element types of the value a function with `num_returns = count` returns: its
/// return type (or the `T` of its `Result<T, E>`) must be a tuple of `count` types, or
/// `()` for 0.
pub(crate) fn return_elements(output: &ReturnType, count: usize) -> syn::Result<Vec<Type>> {
    let ty = match output {
        ReturnType::Default if count == 0 => return Ok(Vec::new()),
        ReturnType::Default => {
            return Err(syn::Error::new_spanned(
                output,
                format!(
                    "`num_returns = {count}` needs a function returning a tuple of {count} values"
                ),
            ));
        }
        ReturnType::Type(_, ty) => ty,
    };
    let value = if is_result(ty) {
        result_ok(ty).unwrap_or(ty)
    } else {
        ty
    };
    let mut value = value;
    while let Type::Paren(inner) = value {
        value = &inner.elem;
    }
    match value {
        Type::Tuple(tuple) if tuple.elems.len() == count => {
            Ok(tuple.elems.iter().cloned().collect())
        }
        other => Err(syn::Error::new_spanned(
            other,
            format!(
                "`num_returns = {count}` needs a function returning a tuple of {count} values \
                 (or a `Result` of one), one object each"
            ),
        )),
    }
}

/// The `T` of `Result<T, ..>`.
fn result_ok(ty: &Type) -> Option<&Type> {
    let Type::Path(TypePath { path, .. }) = ty else {
        return None;
    };
    let syn::PathArguments::AngleBracketed(args) = &path.segments.last()?.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(ok) => Some(ok),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn renders_types_as_written() {
        let cases: [(Type, &str); 6] = [
            (parse_quote!(Vec<u8>), "Vec<u8>"),
            (parse_quote!(Vec<Vec<u8>>), "Vec<Vec<u8>>"),
            (
                parse_quote!(Result<u64, std::num::ParseIntError>),
                "Result<u64, std::num::ParseIntError>",
            ),
            (parse_quote!((i32, String)), "(i32, String)"),
            (parse_quote!([u8; 4]), "[u8; 4]"),
            (
                parse_quote!(::std::collections::HashMap<String, (u8, i8)>),
                "::std::collections::HashMap<String, (u8, i8)>",
            ),
        ];
        for (ty, expected) in cases {
            assert_eq!(render_type(&ty), expected);
        }
    }

    #[test]
    fn renders_signatures() {
        let item: syn::ItemFn = parse_quote! {
            async fn slow(x: Point, (a, b): (i32, i32)) -> Result<Point, String> { todo!() }
        };
        let params = params(&item.sig).expect("valid params");
        assert_eq!(
            render_signature(&item.sig, &params),
            "async fn slow(x: Point, (a, b): (i32, i32)) -> Result<Point, String>"
        );
        assert_eq!(params[1].ident, "arg1");
    }

    #[test]
    fn renders_method_signatures() {
        let item: syn::ImplItemFn = parse_quote! {
            async fn add(&mut self, n: i32) -> i32 { todo!() }
        };
        let params = params(&item.sig).expect("valid params");
        assert_eq!(
            render_signature(&item.sig, &params),
            "async fn add(&mut self, n: i32) -> i32"
        );
        let item: syn::ImplItemFn = parse_quote! { fn get(&self) -> i32 { 0 } };
        assert_eq!(render_signature(&item.sig, &[]), "fn get(&self) -> i32");
    }

    #[test]
    fn rejects_borrowed_parameters() {
        let item: syn::ItemFn = parse_quote! { fn f(s: &str) {} };
        let err = params(&item.sig).err().expect("&str is rejected");
        assert!(err.to_string().contains("take `String` instead"), "{err}");
        let item: syn::ItemFn = parse_quote! { fn f(s: Vec<&[u8]>) {} };
        assert!(params(&item.sig).is_err());
    }

    #[test]
    fn detects_result_returns() {
        assert!(is_result(&parse_quote!(Result<u8, String>)));
        assert!(is_result(&parse_quote!(std::io::Result<u8>)));
        assert!(!is_result(&parse_quote!(Option<u8>)));
    }
}
