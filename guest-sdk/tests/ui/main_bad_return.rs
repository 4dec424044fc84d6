extern crate rustyray_sdk as rustyray;

#[rustyray::main]
fn run() -> i32 {
    0
}

fn main() {}
