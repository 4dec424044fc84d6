extern crate rustyray_sdk as rustyray;

#[rustyray::remote(variadic)]
fn total(first: u64, rest: u64) -> u64 {
    first + rest
}

fn main() {}
