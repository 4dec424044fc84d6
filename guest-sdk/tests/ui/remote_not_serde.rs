extern crate rustyray_sdk as rustyray;

struct Plain {
    x: u8,
}

#[rustyray::remote]
fn take(p: Plain) -> u8 {
    p.x
}

fn main() {}
