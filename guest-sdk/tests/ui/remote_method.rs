extern crate rustyray_sdk as rustyray;

struct Counter;

impl Counter {
    #[rustyray::remote]
    fn bump(&self, by: u32) -> u32 {
        by
    }
}

fn main() {}
