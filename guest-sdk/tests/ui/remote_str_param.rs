extern crate rustyray_sdk as rustyray;

#[rustyray::remote]
fn shout(text: &str) -> String {
    text.to_uppercase()
}

fn main() {}
