extern crate rustyray_sdk as rustyray;

#[rustyray::actor(snapshot)]
struct Counter {
    count: i32,
}

#[rustyray::actor]
impl Counter {
    fn new() -> Self {
        Counter { count: 0 }
    }

    fn get(&self) -> i32 {
        self.count
    }
}

fn main() {}
