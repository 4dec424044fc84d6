extern crate rustyray_sdk as rustyray;

#[rustyray::actor(persistent)]
struct Counter {
    count: i32,
}

#[rustyray::actor]
impl Counter {
    fn new() -> Self {
        Counter { count: 0 }
    }
}

fn main() {}
