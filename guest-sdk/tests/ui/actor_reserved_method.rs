extern crate rustyray_sdk as rustyray;

#[rustyray::actor]
struct Worker {
    alive: bool,
}

#[rustyray::actor]
impl Worker {
    fn new() -> Self {
        Worker { alive: true }
    }

    fn kill(&mut self) {
        self.alive = false;
    }
}

fn main() {}
