extern crate rustyray_sdk as rustyray;

#[rustyray::actor]
struct Greeter {
    greeting: String,
}

#[rustyray::actor]
impl Greeter {
    fn new() -> Self {
        Greeter {
            greeting: "hello".to_owned(),
        }
    }

    fn greet(&self, name: &str) -> String {
        format!("{} {name}", self.greeting)
    }
}

fn main() {}
