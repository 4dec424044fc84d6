//! Actors: a counter, bank accounts with transfers between them, a pipeline of actors each
//! forwarding to the next, and a crash survived thanks to a snapshot.
//!
//! Run with `rustyray run examples/actors`.
//!
//! An actor is a struct and its impl block, both marked `#[rustyray::actor]`. It lives in a
//! WebAssembly instance of its own, whose memory is its state; calls to it run one at a
//! time, in the order they were made. `Counter::remote(..)` creates one and returns a typed
//! handle (`CounterHandle`) with a method per actor method, each returning an `ObjectRef`.

mod bank;
mod counter;
mod pipeline;
mod recovery;

use rustyray::RayError;

#[rustyray::main]
fn main() -> Result<(), RayError> {
    println!("== counter");
    counter::demo()?;
    println!("\n== bank");
    bank::demo()?;
    println!("\n== pipeline");
    pipeline::demo()?;
    println!("\n== crash and recovery");
    recovery::demo()?;
    Ok(())
}
