//! A bare `.collect()` as a `remote` argument: its target type cannot be inferred
//! through the generic parameter (see `remote_bare_into.rs`); `collect::<Vec<_>>()` works.
extern crate rustyray_sdk as rustyray;

#[rustyray::remote]
fn total(values: Vec<i64>) -> i64 {
    values.iter().sum()
}

fn main() {
    let _ = total::remote((0..10).collect());
    let _ = total::remote((0..10).collect::<Vec<_>>());
}
