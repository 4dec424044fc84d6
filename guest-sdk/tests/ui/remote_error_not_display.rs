extern crate rustyray_sdk as rustyray;

#[derive(Debug)]
struct Opaque;

#[rustyray::remote]
fn fallible(x: u8) -> Result<u8, Opaque> {
    Ok(x)
}

fn main() {}
