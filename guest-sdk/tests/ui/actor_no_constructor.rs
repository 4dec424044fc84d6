extern crate rustyray_sdk as rustyray;

#[rustyray::actor]
struct Counter {
    count: i32,
}

#[rustyray::actor]
impl Counter {
    fn get(&self) -> i32 {
        self.count
    }
}

fn main() {}
