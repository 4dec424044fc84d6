extern crate rustyray_sdk as rustyray;

#[rustyray::remote]
fn identity<T: serde::Serialize>(value: T) -> T {
    value
}

fn main() {}
