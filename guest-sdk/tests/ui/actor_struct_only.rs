extern crate rustyray_sdk as rustyray;

#[rustyray::actor]
struct Counter {
    count: i32,
}

impl Counter {
    fn new() -> Self {
        Counter { count: 0 }
    }
}

fn main() {}
