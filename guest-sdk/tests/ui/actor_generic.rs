extern crate rustyray_sdk as rustyray;

#[rustyray::actor]
struct Stack<T> {
    items: Vec<T>,
}

fn main() {}
