extern crate rustyray_sdk as rustyray;

#[rustyray::main]
fn run(args: Vec<String>) {
    let _ = args;
}

fn main() {}
