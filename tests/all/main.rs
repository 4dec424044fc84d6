//! rustyray's integration tests: one binary, a module per area.
//!
//! Every test starts its own [`rustyray::Runtime`] (sharing one compile cache under
//! the target's tmp dir) over the guests `build.rs` built: the fixtures
//! (`tests/guests/fixtures`), two components rustyray must refuse, and the examples.
//! Waits are bounded by ceilings (`common::within`), so a regression fails a test
//! instead of hanging the suite.

mod common;

mod actors;
mod cache;
mod cancel;
mod cli;
mod cli_sandbox;
mod cluster;
mod cluster_actors;
mod cluster_objects;
mod cluster_tasks;
mod concurrency;
mod detached;
mod errors;
mod held;
mod hostile;
mod hostile_ids;
mod js;
mod limits;
mod loading;
mod net;
mod node;
mod objects;
mod output;
mod parity;
mod programs;
mod python;
mod scheduling;
mod seed;
mod shutdown;
mod spill;
mod state;
mod tasks;
mod wait;
