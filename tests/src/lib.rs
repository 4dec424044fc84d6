//! Paths of the guest components the integration tests run, built once by
//! `build.rs` (examples from `examples/`, fixtures from `tests/guests/`).

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
