//! Network as a capability: an allow-list of destinations and listening ports,
//! enforced on `wasi:sockets` and on outgoing `wasi:http`, with per-task limits.
//!
//! - `allow.rs`: the grants ([`NetRule`], [`NetAllow`], [`NetGrants`]) and matching;
//! - `state.rs`: one instance's network state, refusals and limit accounting;
//! - `sockets.rs`: the socket and name-lookup functions wrapped in the linker, and
//!   the counting streams;
//! - `http.rs`: the `wasi:http` sender.
//!
//! Nothing is reachable by default. How it fits the rest of the sandbox is in
//! `sandbox.rs`; the threat model in `SECURITY.md`.

mod allow;
mod http;
pub(crate) mod sockets;
mod state;

use std::sync::Arc;

pub use allow::{
    IpBlock, NetAllow, NetGrants, NetHost, NetProtocol, NetRule, NetSpecError, PortRange,
    parse_net_rule, parse_ports,
};
pub(crate) use state::{NetState, Report};

use wasmtime_wasi_http::WasiHttpCtx;

/// The network part of one instance's store: its state and its `wasi:http` context.
pub(crate) struct NetCtx {
    pub(crate) state: Arc<NetState>,
    pub(crate) http: WasiHttpCtx,
    pub(crate) hooks: http::NetHooks,
}

impl NetCtx {
    pub(crate) fn new(state: Arc<NetState>) -> Self {
        NetCtx {
            hooks: http::NetHooks {
                state: state.clone(),
            },
            state,
            http: WasiHttpCtx::new(),
        }
    }
}
