//! What a guest may touch outside its own memory: [`Capabilities`], and the WASI
//! context built from them for each instance.
//!
//! No ambient authority: by default a task, an actor or a driver gets no
//! filesystem (no preopened directory), no network (TCP, UDP and name lookup are
//! refused, and no address passes the address check), no environment variables, no
//! arguments (drivers get theirs), and a closed stdin. Its stdout and stderr are
//! captured (see `output.rs`). What WASI itself requires stays: the wall and
//! monotonic clocks, and random numbers.
//!
//! Capabilities grant, explicitly: directories preopened read-only or read-write
//! (wasmtime-wasi opens them with cap-std, so `..` and symlinks cannot lead out of
//! them), named environment variables, and stdin (bytes given, or the process's own).
//! Network access is granted by destination ([`Capabilities::net`], `--allow-net`)
//! and listening port ([`Capabilities::listen`], `--allow-listen`); `net/` enforces
//! it on sockets, name lookups and outgoing `wasi:http`, with the network limits.
//! The runtime has defaults ([`RuntimeBuilder::capabilities`](crate::RuntimeBuilder::capabilities));
//! a task or actor given its own capabilities gets those *instead* of the defaults,
//! never both. Tasks a guest submits get the runtime's defaults, not its own grants.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use crate::error::{RayError, Result};
use crate::limits::{Limits, ResolvedLimits};
use crate::net::{
    NetCtx, NetGrants, NetRule, NetSpecError, NetState, PortRange, Report, parse_net_rule,
};
use crate::output::{OutputCapture, OutputSink, Stream};
use crate::terminal::EscapedStdio;

/// The runtime-wide sandbox settings every instance starts from.
#[derive(Clone)]
pub(crate) struct SandboxDefaults {
    /// What tasks and actors get when they bring no capabilities of their own.
    pub(crate) capabilities: Arc<Capabilities>,
    /// Limits of tasks and actors that override none.
    pub(crate) limits: ResolvedLimits,
    /// Where guest output goes live, besides the capture.
    pub(crate) sink: Option<OutputSink>,
    /// Whether the engine meters fuel.
    pub(crate) fuel: bool,
    /// Instances alive at once (the pool's size), for the error that names it.
    pub(crate) pool_instances: u32,
    /// Whether a driver's own stdout and stderr are escaped (see `terminal.rs`).
    pub(crate) escape_driver_output: bool,
}

impl std::fmt::Debug for SandboxDefaults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxDefaults")
            .field("capabilities", &self.capabilities)
            .field("limits", &self.limits)
            .field("sink", &self.sink.is_some())
            .field("fuel", &self.fuel)
            .finish()
    }
}

impl SandboxDefaults {
    /// The limits of an instance given `limits` of its own; refuses fuel when the
    /// engine does not meter it.
    pub(crate) fn limits_for(&self, limits: &Limits) -> Result<ResolvedLimits> {
        if limits.is_empty() {
            return Ok(self.limits);
        }
        if limits.fuel.is_some() && !self.fuel {
            return Err(fuel_unavailable());
        }
        Ok(limits.resolve(&self.limits))
    }

    /// The capabilities of an instance given `own` (or none).
    pub(crate) fn capabilities_for<'a>(
        &'a self,
        own: Option<&'a Capabilities>,
    ) -> &'a Capabilities {
        own.unwrap_or(&self.capabilities)
    }
}

/// The error for a fuel limit on a runtime that does not meter fuel.
pub(crate) fn fuel_unavailable() -> RayError {
    RayError::InvalidOptions(
        "a fuel limit needs a runtime that meters fuel (RuntimeBuilder::fuel(true), or \
         a default fuel limit)"
            .into(),
    )
}

/// How a preopened directory may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirAccess {
    /// Read files and list directories; nothing can be created, changed or removed.
    ReadOnly,
    /// Everything, inside the directory.
    ReadWrite,
}

/// A host directory a guest may open, under the path it sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    /// The directory on the host.
    pub host: PathBuf,
    /// Its path inside the guest (e.g. `/data`).
    pub guest: String,
    /// Read-only or read-write.
    pub access: DirAccess,
}

/// What a guest's stdin reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Stdin {
    /// Nothing: end of file at once (the default).
    #[default]
    Closed,
    /// These bytes, then end of file.
    Bytes(Bytes),
    /// The host process's stdin (sensible for one driver, not for many tasks).
    Inherit,
}

/// What a guest is granted beyond computing: see the [module docs](self).
///
/// ```
/// use rustyray::{Capabilities, DirAccess};
/// let caps = Capabilities::new()
///     .dir("/srv/data", "/data", DirAccess::ReadOnly)
///     .env("MODE", "fast")
///     .net("api.example.com:443")
///     .net("10.0.0.0/8:5432")
///     .listen(8080);
/// assert!(!caps.is_empty());
/// assert!(Capabilities::new().is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct Capabilities {
    dirs: Vec<DirGrant>,
    env: Vec<(String, String)>,
    stdin: Stdin,
    net: Arc<NetGrants>,
    /// `net` specs that did not parse, reported by `check`.
    net_errors: Vec<NetSpecError>,
}

/// What one instance's store is built from: its WASI context and its network state.
pub(crate) struct InstanceSandbox {
    pub(crate) wasi: WasiCtx,
    pub(crate) net: NetCtx,
}

impl InstanceSandbox {
    /// Nothing granted, refusals reported nowhere (for `describe`).
    pub(crate) fn bare(limits: &ResolvedLimits) -> Self {
        let state = NetState::new(Arc::default(), limits.into(), Report::Nowhere);
        let mut builder = WasiCtx::builder();
        builder.socket_addr_check(state.addr_check());
        InstanceSandbox {
            wasi: builder.build(),
            net: NetCtx::new(state),
        }
    }
}

impl Capabilities {
    /// Nothing granted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Preopens the host directory `host` as `guest` inside the guest.
    pub fn dir(
        mut self,
        host: impl Into<PathBuf>,
        guest: impl Into<String>,
        access: DirAccess,
    ) -> Self {
        self.dirs.push(DirGrant {
            host: host.into(),
            guest: guest.into(),
            access,
        });
        self
    }

    /// Sets the environment variable `name` to `value` inside the guest.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.env.retain(|(existing, _)| *existing != name);
        self.env.push((name, value.into()));
        self
    }

    /// Passes the host's variable `name` through, with its value now (nothing if
    /// it is not set, or not Unicode).
    pub fn inherit_env(self, name: impl Into<String>) -> Self {
        let name = name.into();
        match std::env::var(&name) {
            Ok(value) => self.env(name, value),
            Err(_) => self,
        }
    }

    /// What stdin reads.
    pub fn stdin(mut self, stdin: Stdin) -> Self {
        self.stdin = stdin;
        self
    }

    /// Lets the guest reach a destination, given as `rustyray run --allow-net` takes
    /// it: `[tcp://|udp://|http://|https://]HOST[:PORTS]`, where `HOST` is an IP, a
    /// CIDR block, a DNS name, `*.domain` or `*`, and `PORTS` a port, a range
    /// (`8000-8099`) or `*` (the default, but 80/443 after `http://`/`https://`).
    /// Covers TCP connects, UDP sends and outgoing `wasi:http` requests; a name is
    /// looked up only if listed, and what it resolves to is checked (a loopback,
    /// link-local or cloud-metadata address must be listed itself). A spec that does
    /// not parse makes the capabilities invalid where they are given
    /// ([`RayError::InvalidOptions`]).
    pub fn net(mut self, spec: impl AsRef<str>) -> Self {
        match parse_net_rule(spec.as_ref()) {
            Ok(rule) => self.net_rule(rule),
            Err(err) => {
                self.net_errors.push(err);
                self
            }
        }
    }

    /// Lets the guest reach the destinations of a parsed rule (see [`Capabilities::net`]).
    pub fn net_rule(mut self, rule: NetRule) -> Self {
        Arc::make_mut(&mut self.net).allow_mut().push_rule(rule);
        self
    }

    /// Lets the guest listen on (bind) `port`, TCP or UDP (`--allow-listen PORT`).
    pub fn listen(self, port: u16) -> Self {
        self.listen_ports(PortRange::one(port))
    }

    /// Lets the guest listen on any port of `ports`.
    pub fn listen_ports(mut self, ports: PortRange) -> Self {
        Arc::make_mut(&mut self.net).allow_mut().push_listen(ports);
        self
    }

    /// These capabilities with their network grants narrowed by `bound`: a
    /// destination, name or port then passes only if both allow it, so whatever a
    /// task asks for, it never gets more than the bound (an operator's allow-list
    /// over a job's). Directories, environment and stdin are left as they are.
    pub fn narrow_net(mut self, bound: &NetGrants) -> Self {
        let narrowed = (*self.net).clone().narrow(bound);
        self.net = Arc::new(narrowed);
        self
    }

    /// The network grants (and the bounds over them).
    pub fn net_grants(&self) -> &NetGrants {
        &self.net
    }

    /// The directories granted.
    pub fn dirs(&self) -> &[DirGrant] {
        &self.dirs
    }

    /// The environment granted.
    pub fn envs(&self) -> &[(String, String)] {
        &self.env
    }

    /// Whether nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
            && self.env.is_empty()
            && self.stdin == Stdin::Closed
            && self.net.is_empty()
            && self.net_errors.is_empty()
    }

    /// Checks the grants can be honoured (each directory exists and is one), so a
    /// bad grant fails where it is given rather than in every task.
    pub(crate) fn check(&self) -> Result<()> {
        if let Some(err) = self.net_errors.first() {
            return Err(RayError::InvalidOptions(err.to_string()));
        }
        for grant in &self.dirs {
            if !grant.host.is_dir() {
                return Err(RayError::InvalidOptions(format!(
                    "{} is not a directory (granted as {})",
                    grant.host.display(),
                    grant.guest
                )));
            }
            if grant.guest.is_empty() {
                return Err(RayError::InvalidOptions(format!(
                    "{} is granted under an empty guest path",
                    grant.host.display()
                )));
            }
        }
        for (name, _) in &self.env {
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                return Err(RayError::InvalidOptions(format!(
                    "{name:?} is not an environment variable name"
                )));
            }
        }
        Ok(())
    }

    /// The WASI context and network state of an instance: these grants, under
    /// `limits`, output (and network refusals) into `capture`.
    pub(crate) fn wasi(
        &self,
        capture: &OutputCapture,
        limits: &ResolvedLimits,
    ) -> Result<InstanceSandbox> {
        let mut builder = WasiCtx::builder();
        builder
            .stdout(capture.stream(Stream::Stdout))
            .stderr(capture.stream(Stream::Stderr));
        let net = self.grant(&mut builder, limits, Report::Capture(capture.clone()))?;
        Ok(InstanceSandbox {
            wasi: builder.build(),
            net,
        })
    }

    /// The WASI context of a driver: these grants but `stdin`, `args`, and the
    /// process's stdout and stderr (with control characters escaped if `escape`),
    /// where its network refusals go too.
    pub(crate) fn driver_wasi(
        &self,
        args: &[String],
        stdin: Stdin,
        escape: bool,
        limits: &ResolvedLimits,
    ) -> Result<InstanceSandbox> {
        let mut builder = WasiCtx::builder();
        if escape {
            builder
                .stdout(EscapedStdio::new(Stream::Stdout))
                .stderr(EscapedStdio::new(Stream::Stderr));
        } else {
            builder.inherit_stdout().inherit_stderr();
        }
        builder.args(args);
        let net = self.grant(&mut builder, limits, Report::Stderr)?;
        set_stdin(&mut builder, &stdin);
        Ok(InstanceSandbox {
            wasi: builder.build(),
            net,
        })
    }

    fn grant(
        &self,
        builder: &mut WasiCtxBuilder,
        limits: &ResolvedLimits,
        report: Report,
    ) -> Result<NetCtx> {
        // Sockets and lookups are on, and every use is checked against the grants
        // (nothing passes without one): a refusal can then say what was refused.
        let state = NetState::new(self.net.clone(), limits.into(), report);
        builder
            .allow_tcp(true)
            .allow_udp(true)
            .allow_ip_name_lookup(true)
            .socket_addr_check(state.addr_check());
        for grant in &self.dirs {
            let perms = match grant.access {
                DirAccess::ReadOnly => FsPerms::ReadOnly,
                DirAccess::ReadWrite => FsPerms::ReadWrite,
            };
            builder
                .preopened_dir(&grant.host, &grant.guest, perms)
                .map_err(|err| {
                    RayError::InvalidOptions(format!(
                        "cannot open {} for the guest: {err:#}",
                        grant.host.display()
                    ))
                })?;
        }
        if !self.env.is_empty() {
            builder.envs(&self.env);
        }
        set_stdin(builder, &self.stdin);
        Ok(NetCtx::new(state))
    }
}

fn set_stdin(builder: &mut WasiCtxBuilder, stdin: &Stdin) {
    match stdin {
        Stdin::Closed => {
            builder.stdin(tokio::io::empty());
        }
        Stdin::Bytes(bytes) => {
            builder.stdin(MemoryInputPipe::new(bytes.clone()));
        }
        Stdin::Inherit => {
            builder.inherit_stdin();
        }
    }
}

/// Parses the CLI's `HOST[:GUEST][:ro|:rw]` (guest path defaults to the host path;
/// access to read-write).
pub fn parse_dir_grant(spec: &str) -> std::result::Result<DirGrant, String> {
    let mut parts: Vec<&str> = spec.split(':').collect();
    let access = match parts.last() {
        Some(&"ro") if parts.len() > 1 => {
            parts.pop();
            DirAccess::ReadOnly
        }
        Some(&"rw") if parts.len() > 1 => {
            parts.pop();
            DirAccess::ReadWrite
        }
        _ => DirAccess::ReadWrite,
    };
    let (host, guest) = match parts.as_slice() {
        [host] => (*host, *host),
        [host, guest] => (*host, *guest),
        _ => return Err(format!("{spec:?}: expected HOST[:GUEST][:ro|:rw]")),
    };
    if host.is_empty() || guest.is_empty() {
        return Err(format!("{spec:?}: expected HOST[:GUEST][:ro|:rw]"));
    }
    Ok(DirGrant {
        host: Path::new(host).to_path_buf(),
        guest: guest.to_string(),
        access,
    })
}

impl Capabilities {
    /// Adds a parsed grant (see [`parse_dir_grant`]).
    pub fn grant_dir(mut self, grant: DirGrant) -> Self {
        self.dirs.push(grant);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_specs_parse() {
        let ro = parse_dir_grant("/srv/data:/data:ro").unwrap();
        assert_eq!(ro.host, PathBuf::from("/srv/data"));
        assert_eq!(ro.guest, "/data");
        assert_eq!(ro.access, DirAccess::ReadOnly);
        let same = parse_dir_grant("out").unwrap();
        assert_eq!(
            (same.guest.as_str(), same.access),
            ("out", DirAccess::ReadWrite)
        );
        let ro_same = parse_dir_grant("in:ro").unwrap();
        assert_eq!(
            (ro_same.guest.as_str(), ro_same.access),
            ("in", DirAccess::ReadOnly)
        );
        assert!(parse_dir_grant("a:b:c:d").is_err());
        assert!(parse_dir_grant(":x").is_err());
    }

    #[test]
    fn env_names_are_checked_and_later_values_win() {
        let caps = Capabilities::new().env("A", "1").env("A", "2");
        assert_eq!(caps.envs(), [("A".to_string(), "2".to_string())]);
        assert!(Capabilities::new().env("A=B", "x").check().is_err());
        assert!(
            Capabilities::new()
                .dir("/definitely/not/here", "/x", DirAccess::ReadOnly)
                .check()
                .is_err()
        );
    }
}
