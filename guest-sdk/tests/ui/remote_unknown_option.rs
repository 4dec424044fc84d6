extern crate rustyray_sdk as rustyray;

#[rustyray::remote(nmae = "other")]
fn add(a: i32, b: i32) -> i32 {
    a + b
}

fn main() {}
