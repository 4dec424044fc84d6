//! postcard on both sides of the boundary, and the traits that let generated code handle
//! every supported return type uniformly.
//!
//! Arguments arrive as one postcard buffer per parameter and results leave as one; objects
//! read with `get` are postcard too. Keeping all encoding here means error messages name
//! the function, the parameter and its type the same way everywhere.
//!
//! postcard drops the message of a serde custom error (`Error::custom("actor 7 is gone")`
//! becomes a bare "Serde Deserialization Error"). The SDK's own `Serialize`/`Deserialize`
//! impls that can fail (actor handles) raise theirs through [`ser_error`]/[`de_error`],
//! which keep the message aside, and every encode and decode here puts it back.

use std::cell::RefCell;
use std::fmt::Display;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{InvokeError, RayError};

/// Fails unless exactly `expected` arguments arrived.
pub fn check_arity(function: &str, args: &[Vec<u8>], expected: usize) -> Result<(), InvokeError> {
    if args.len() == expected {
        Ok(())
    } else {
        let plural = if expected == 1 { "" } else { "s" };
        Err(InvokeError::BadArguments(format!(
            "`{function}` takes {expected} argument{plural}, got {}",
            args.len()
        )))
    }
}

/// Checks that a `variadic` function got at least its `fixed` arguments.
pub fn check_min_arity(function: &str, args: &[Vec<u8>], fixed: usize) -> Result<(), InvokeError> {
    if args.len() >= fixed {
        Ok(())
    } else {
        Err(InvokeError::BadArguments(format!(
            "`{function}` takes at least {fixed} argument(s), got {}",
            args.len()
        )))
    }
}

/// Decodes argument `index` (described as `param`, e.g. `b: i32`) of `function`.
pub fn decode_arg<T: DeserializeOwned>(
    function: &str,
    args: &[Vec<u8>],
    index: usize,
    param: &str,
) -> Result<T, InvokeError> {
    let bad = |why: String| {
        InvokeError::BadArguments(format!(
            "`{function}` argument {index} (`{param}`) did not decode: {why}"
        ))
    };
    let bytes = args.get(index).ok_or_else(|| bad("missing".to_owned()))?;
    decode_exact(bytes).map_err(bad)
}

/// Encodes what a function returned.
pub fn encode_output<T: Serialize>(function: &str, value: T) -> Result<Vec<u8>, InvokeError> {
    to_bytes(&value).map_err(|error| {
        InvokeError::Application(format!(
            "the result of `{function}` did not encode: {error}"
        ))
    })
}

/// A `Result` return type: its `Ok` value is the task's value, its `Err` the task's
/// application error (rendered with `Display`).
#[diagnostic::on_unimplemented(
    message = "a #[rustyray::remote] function returning `{Self}` needs an error type that implements `Display`"
)]
pub trait Fallible {
    /// The value a successful call stores.
    type Ok;
    /// The value, or the error's message.
    fn into_result(self) -> Result<Self::Ok, String>;
}

impl<T, E: Display> Fallible for Result<T, E> {
    type Ok = T;

    fn into_result(self) -> Result<T, String> {
        self.map_err(|error| error.to_string())
    }
}

/// Encodes the `Ok` of a `Result`-returning function; its `Err` becomes
/// [`InvokeError::Application`].
pub fn encode_fallible<R>(function: &str, value: R) -> Result<Vec<u8>, InvokeError>
where
    R: Fallible,
    R::Ok: Serialize,
{
    match value.into_result() {
        Ok(value) => encode_output(function, value),
        Err(message) => Err(InvokeError::Application(message)),
    }
}

/// The `Ok` of a `Result`-returning constructor; its `Err` becomes
/// [`InvokeError::Application`].
pub fn fallible_value<R: Fallible>(value: R) -> Result<R::Ok, InvokeError> {
    value.into_result().map_err(InvokeError::Application)
}

/// What a `#[rustyray::main]` may return, and the exit status it means.
#[diagnostic::on_unimplemented(
    message = "#[rustyray::main] must return `()` or `Result<(), E>` with `E: Display`, not `{Self}`"
)]
pub trait MainOutput {
    /// 0 for success; otherwise reports the error on stderr and returns 1.
    fn exit_code(self) -> i32;
}

impl MainOutput for () {
    fn exit_code(self) -> i32 {
        0
    }
}

impl<E: Display> MainOutput for Result<(), E> {
    fn exit_code(self) -> i32 {
        match self {
            Ok(()) => 0,
            Err(error) => {
                // Only drivers (components with a `#[main]`) instantiate this, so only they
                // import stderr for it.
                eprintln!("Error: {error}");
                1
            }
        }
    }
}

/// The exit status of a `#[rustyray::main]`'s return value.
pub fn exit_code<R: MainOutput>(output: R) -> i32 {
    output.exit_code()
}

/// Decodes an object's bytes as the `T` its `ObjectRef<T>` promised.
pub(crate) fn decode_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RayError> {
    decode_exact(bytes).map_err(|why| {
        RayError::Decode(format!(
            "{why} (expected a postcard-encoded `{}`)",
            std::any::type_name::<T>()
        ))
    })
}

/// Encodes a value for the object store.
pub(crate) fn encode_value<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, RayError> {
    to_bytes(value).map_err(RayError::Encode)
}

/// postcard bytes of `value`, or why it did not encode.
pub(crate) fn to_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    CUSTOM_MESSAGE.take();
    postcard::to_allocvec(value).map_err(explain)
}

/// postcard, refusing trailing bytes: they mean the bytes were written as another type.
pub(crate) fn decode_exact<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    CUSTOM_MESSAGE.take();
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(format!("{} unexpected trailing bytes", rest.len())),
        Err(error) => Err(explain(error)),
    }
}

thread_local! {
    /// The message of the last custom serde error raised through [`ser_error`]/[`de_error`].
    static CUSTOM_MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A custom serialization error whose message survives postcard.
pub(crate) fn ser_error<E: serde::ser::Error>(message: String) -> E {
    let error = E::custom(&message);
    CUSTOM_MESSAGE.set(Some(message));
    error
}

/// A custom deserialization error whose message survives postcard.
pub(crate) fn de_error<E: serde::de::Error>(message: String) -> E {
    let error = E::custom(&message);
    CUSTOM_MESSAGE.set(Some(message));
    error
}

/// A postcard error as text, with the message postcard dropped put back.
fn explain(error: postcard::Error) -> String {
    let custom = CUSTOM_MESSAGE.take();
    match (error, custom) {
        (postcard::Error::SerdeSerCustom | postcard::Error::SerdeDeCustom, Some(message)) => {
            message
        }
        (error, _) => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_exactly() {
        let bytes = postcard::to_allocvec(&(1u8, 2u8)).expect("encodes");
        assert_eq!(decode_object::<(u8, u8)>(&bytes), Ok((1, 2)));
        let err = decode_object::<u8>(&bytes).expect_err("trailing byte");
        assert!(
            matches!(&err, RayError::Decode(m) if m.contains("1 unexpected trailing bytes") && m.contains("`u8`")),
            "{err}"
        );
    }

    /// A failing `Deserialize` whose message postcard alone would drop.
    struct Picky;

    impl<'de> serde::Deserialize<'de> for Picky {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let n = u8::deserialize(deserializer)?;
            Err(de_error(format!("{n} is not acceptable")))
        }
    }

    #[test]
    fn custom_messages_survive_postcard() {
        let bytes = postcard::to_allocvec(&7u8).expect("encodes");
        assert_eq!(
            decode_exact::<Picky>(&bytes).err().as_deref(),
            Some("7 is not acceptable")
        );
        // A message is never attached to a later, unrelated error.
        assert_eq!(
            decode_exact::<u8>(&[]).err().as_deref(),
            Some(
                postcard::Error::DeserializeUnexpectedEnd
                    .to_string()
                    .as_str()
            )
        );
    }

    #[test]
    fn arity_message() {
        let err = check_arity("add", &[vec![]], 2).expect_err("wrong count");
        assert_eq!(
            err,
            InvokeError::BadArguments("`add` takes 2 arguments, got 1".into())
        );
    }

    #[test]
    fn fallible_err_is_an_application_error() {
        let out: Result<u8, String> = Err("nope".into());
        assert_eq!(
            encode_fallible("f", out),
            Err(InvokeError::Application("nope".into()))
        );
    }

    #[test]
    fn main_exit_codes() {
        assert_eq!(exit_code(()), 0);
        assert_eq!(exit_code(Ok::<(), String>(())), 0);
        assert_eq!(exit_code(Err::<(), _>("bad")), 1);
    }
}
