//! What the README documents (and `remote_bare_collect.rs` for `.collect()`): a `remote` argument is generic (`impl IntoArg<T>`, so it
//! takes a value, `&T`, an `ObjectRef<T>`, `&str` for `String`, a slice for `Vec`), and
//! Rust cannot infer a bare `.into()` or `.collect()` through a generic parameter. The
//! fixes the message points at: pass `"text"` itself, or name the type.
extern crate rustyray_sdk as rustyray;

#[rustyray::remote]
fn echo(text: String) -> String {
    text
}

#[rustyray::remote]
fn total(values: Vec<i64>) -> i64 {
    values.iter().sum()
}

fn main() {
    let _ = echo::remote("text".into());
    // These infer:
    let _ = echo::remote("text");
    let _ = echo::remote(String::from("text"));
    let _ = total::remote((0..10).collect::<Vec<_>>());
    let _ = total::remote([1, 2, 3]);
}
