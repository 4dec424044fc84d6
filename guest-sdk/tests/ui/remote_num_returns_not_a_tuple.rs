extern crate rustyray_sdk as rustyray;

#[rustyray::remote(num_returns = 2)]
fn pair() -> u32 {
    1
}

fn main() {}
