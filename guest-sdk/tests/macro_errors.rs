//! Misuse of `#[rustyray::remote]` / `#[rustyray::actor]` / `#[rustyray::main]` must fail to
//! compile with a message on the user's tokens; the expected messages live next to each case
//! in `ui/`.
//! Regenerate them after an intended change with `TRYBUILD=overwrite cargo test`.

#[test]
fn macro_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
