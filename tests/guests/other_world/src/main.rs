//! A WASI command component that knows nothing of rustyray.

fn main() {
    println!("hello from another world");
}
