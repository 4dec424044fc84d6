//! Errors: an application error, a panic, a wasm trap, and an error propagating
//! through a chain of dependent tasks to the one that reads it.
//!
//! Run with `rustyray run examples/error_handling`.

use rustyray::RayError;

/// Parses a number; a bad one is an application error carrying the parse error.
#[rustyray::remote]
fn parse(text: String) -> Result<i64, std::num::ParseIntError> {
    text.trim().parse()
}

#[rustyray::remote]
fn checked_div(a: i64, b: i64) -> Result<i64, String> {
    a.checked_div(b)
        .ok_or_else(|| format!("cannot divide {a} by {b}"))
}

#[rustyray::remote]
fn increment(x: i64) -> i64 {
    x + 1
}

/// Panics: the task fails with the panic message; the runtime goes on.
#[rustyray::remote]
fn explode(at: i64) -> i64 {
    let items = [1i64, 2, 3];
    items[at as usize]
}

fn report<T: std::fmt::Debug>(what: &str, result: Result<T, RayError>) {
    match result {
        Ok(v) => println!("{what}: ok {v:?}"),
        Err(e) => println!("{what}: error: {e}"),
    }
}

#[rustyray::main]
fn main() -> Result<(), RayError> {
    report("parse(\"42\")", parse::remote("42".to_string()).get());
    report(
        "parse(\"forty-two\")",
        parse::remote("forty-two".to_string()).get(),
    );
    report("checked_div(10, 0)", checked_div::remote(10, 0).get());
    report("explode(7)", explode::remote(7).get());

    // A failure early in a chain reaches the end of it, with the root cause.
    let mut value = parse::remote("not a number".to_string());
    for _ in 0..5 {
        value = increment::remote(&value);
    }
    report("5 increments after a failed parse", value.get());

    // Nothing else was harmed: a fresh chain works.
    let mut ok = parse::remote("1".to_string());
    for _ in 0..5 {
        ok = increment::remote(&ok);
    }
    report("5 increments after parse(\"1\")", ok.get());
    Ok(())
}
