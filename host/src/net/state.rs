//! The network state of one instance: its grants and limits, what it has open and
//! sent, the names it looked up, and the refusals it was told about.
//!
//! Every hook (`wasmtime-wasi`'s socket address check, the shadowed socket and
//! name-lookup functions, the counting streams, the HTTP sender) holds an `Arc` of
//! this and asks it. A refusal is written to the task's captured stderr (a driver's
//! own stderr), saying what was refused and what would allow it, because the guest
//! itself only sees `access-denied`. A limit hit is remembered, so that the task
//! fails with it even when the guest swallows the error it was given.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use wasmtime_wasi::sockets::SocketAddrUse;

use super::allow::{NetGrants, NetHost, NetProtocol, Refuser, Resolved, special_address};
use crate::limits::{Limit, LimitTrap, ResolvedLimits};
use crate::output::OutputCapture;

/// Refusals written out per instance (or actor call), past which they are counted only.
const MAX_NOTES: usize = 32;

/// Where refusals are reported.
#[derive(Debug, Clone)]
pub(crate) enum Report {
    /// Into a task's (or actor's) captured stderr.
    Capture(OutputCapture),
    /// To the process's stderr (a driver, whose stderr is the process's).
    Stderr,
    /// Nowhere (`describe`).
    Nowhere,
}

/// The network limits of one instance.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NetLimits {
    pub(crate) connections: u32,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_received: u64,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Duration,
}

impl From<&ResolvedLimits> for NetLimits {
    fn from(limits: &ResolvedLimits) -> Self {
        NetLimits {
            connections: limits.connections,
            bytes_sent: limits.bytes_sent,
            bytes_received: limits.bytes_received,
            connect_timeout: limits.connect_timeout,
            read_timeout: limits.read_timeout,
        }
    }
}

#[derive(Default)]
struct Inner {
    open: u32,
    sent: u64,
    received: u64,
    /// Names looked up and the addresses handed to the guest for them.
    names: Vec<(String, IpAddr)>,
    /// Name of each live lookup, by its resource.
    lookups: HashMap<u32, String>,
    /// Connects in progress, by socket resource, with their deadlines.
    connecting: HashMap<u32, Instant>,
    hit: Option<LimitTrap>,
    notes: Vec<String>,
    unreported: usize,
}

impl Resolved for Inner {
    fn resolved_from(&self, host: &NetHost, ip: IpAddr) -> bool {
        self.names
            .iter()
            .any(|(name, resolved)| *resolved == ip && host.matches_name(name))
    }
}

/// See the [module docs](self).
pub(crate) struct NetState {
    grants: Arc<NetGrants>,
    limits: NetLimits,
    report: Report,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for NetState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetState")
            .field("grants", &self.grants)
            .finish_non_exhaustive()
    }
}

impl NetState {
    pub(crate) fn new(grants: Arc<NetGrants>, limits: NetLimits, report: Report) -> Arc<Self> {
        Arc::new(NetState {
            grants,
            limits,
            report,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave it inconsistent enough to
        // matter: counters and lists only.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn limits(&self) -> &NetLimits {
        &self.limits
    }

    /// Writes `message` where this instance's refusals go (at most [`MAX_NOTES`]).
    fn note(&self, message: String) {
        {
            let mut inner = self.inner();
            if inner.notes.contains(&message) {
                return;
            }
            if inner.notes.len() >= MAX_NOTES {
                inner.unreported += 1;
                return;
            }
            inner.notes.push(message.clone());
        }
        let line = format!("rustyray: {message}");
        match &self.report {
            Report::Capture(capture) => capture.note(&line),
            Report::Stderr => eprintln!("{line}"),
            Report::Nowhere => {}
        }
    }

    /// Records the first limit hit; returns it to trap the guest with.
    pub(crate) fn hit(&self, limit: Limit, value: u64, detail: String) -> LimitTrap {
        let trap = LimitTrap {
            limit,
            value,
            detail,
        };
        let mut inner = self.inner();
        if inner.hit.is_none() {
            inner.hit = Some(trap.clone());
        }
        trap
    }

    /// The limit hit, if one was (kept).
    pub(crate) fn pending_hit(&self) -> Option<LimitTrap> {
        self.inner().hit.clone()
    }

    /// The limit hit, if one was (and forgets it).
    pub(crate) fn take_hit(&self) -> Option<LimitTrap> {
        self.inner().hit.take()
    }

    /// Before an actor's next call: bytes are counted per call; open sockets stay.
    pub(crate) fn start_call(&self) {
        let mut inner = self.inner();
        inner.sent = 0;
        inner.received = 0;
        inner.hit = None;
        inner.notes.clear();
        inner.unreported = 0;
    }

    // ---- what may be reached ----

    /// `wasmtime-wasi`'s socket address check, for this instance.
    pub(crate) fn addr_check(
        self: &Arc<Self>,
    ) -> impl Fn(SocketAddr, SocketAddrUse) -> Pin<Box<dyn Future<Output = bool> + Send + Sync>>
    + Send
    + Sync
    + 'static {
        let state = self.clone();
        move |addr, use_| {
            let allowed = state.check_socket(addr, use_);
            Box::pin(std::future::ready(allowed))
        }
    }

    fn check_socket(&self, addr: SocketAddr, use_: SocketAddrUse) -> bool {
        match use_ {
            // Implicit binds (to port 0, before a connect or a send) are part of
            // connecting; binding a chosen port is listening on it.
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind if addr.port() == 0 => true,
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind | SocketAddrUse::TcpListen => {
                self.check_listen(addr.port())
            }
            SocketAddrUse::TcpAccept => true,
            SocketAddrUse::TcpConnect => self.check_dest(NetProtocol::Tcp, addr, "TCP connect to"),
            SocketAddrUse::UdpSend => self.check_dest(NetProtocol::Udp, addr, "UDP send to"),
            SocketAddrUse::UdpReceive => {
                let inner = self.inner();
                self.grants
                    .check_addr(NetProtocol::Udp, addr, &*inner)
                    .is_ok()
                    || !self.grants.allow().listen_ports().is_empty()
            }
        }
    }

    fn check_listen(&self, port: u16) -> bool {
        match self.grants.check_listen(port) {
            Ok(()) => true,
            Err(refuser) => {
                let what = if port == 0 {
                    "listening on an ephemeral port".to_string()
                } else {
                    format!("listening on port {port}")
                };
                let fix = if port == 0 {
                    "bind a granted port (`--allow-listen PORT`, `Capabilities::listen(PORT)`)"
                        .to_string()
                } else {
                    format!(
                        "allow it with `--allow-listen {port}` (or `Capabilities::listen({port})`)"
                    )
                };
                self.refused(&what, refuser, &fix);
                false
            }
        }
    }

    /// Checks a destination, reporting a refusal with the grant that would allow it.
    pub(crate) fn check_dest(&self, protocol: NetProtocol, addr: SocketAddr, what: &str) -> bool {
        let (verdict, name) = {
            let inner = self.inner();
            let verdict = self.grants.check_addr(protocol, addr, &*inner);
            let ip = addr.ip().to_canonical();
            let name = inner
                .names
                .iter()
                .find(|(_, resolved)| *resolved == ip)
                .map(|(name, _)| name.clone());
            (verdict, name)
        };
        match verdict {
            Ok(()) => true,
            Err(refuser) => {
                let ip = addr.ip().to_canonical();
                let spec = match (&name, special_address(ip)) {
                    (Some(name), None) => format!("{name}:{}", addr.port()),
                    _ => SocketAddr::new(ip, addr.port()).to_string(),
                };
                let spec = match protocol {
                    NetProtocol::Udp => format!("udp://{spec}"),
                    _ => spec,
                };
                self.refused(
                    &format!("{what} {}", SocketAddr::new(ip, addr.port())),
                    refuser,
                    &format!(
                        "allow it with `--allow-net {spec}` (or `Capabilities::net(\"{spec}\")`)"
                    ),
                );
                false
            }
        }
    }

    fn refused(&self, what: &str, refuser: Refuser, fix: &str) {
        let message = match refuser {
            Refuser::Grants => format!("refused {what}: not granted; {fix}"),
            Refuser::Bound => format!(
                "refused {what}: outside the bound laid over this runtime's network grants \
                 (an operator's allow-list), which a task cannot widen"
            ),
        };
        self.note(message);
    }

    /// Whether the guest may look `name` up (an IP address needs no lookup).
    pub(crate) fn check_lookup(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if name.parse::<IpAddr>().is_ok()
            || name
                .strip_prefix('[')
                .and_then(|n| n.strip_suffix(']'))
                .is_some_and(|n| n.parse::<IpAddr>().is_ok())
        {
            return true;
        }
        match self.grants.check_name(&name, None, NetProtocol::Any) {
            Ok(()) => true,
            Err(refuser) => {
                self.refused(
                    &format!("name lookup of {name}"),
                    refuser,
                    &format!(
                        "allow it with `--allow-net {name}:PORT` (or `Capabilities::net(\"{name}:PORT\")`)"
                    ),
                );
                false
            }
        }
    }

    /// A lookup of `name` started, as resource `rep`.
    pub(crate) fn lookup_started(&self, rep: u32, name: &str) {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.inner().lookups.insert(rep, name);
    }

    /// Whether the address `ip` that lookup `rep` produced may be handed to the guest
    /// (see [`NetState::answer`]).
    pub(crate) fn lookup_answer(&self, rep: u32, ip: IpAddr) -> bool {
        let name = match self.inner().lookups.get(&rep) {
            Some(name) => name.clone(),
            None => return true,
        };
        self.answer(&name, ip)
    }

    /// Whether `ip`, an address of `name`, may be used: a special address only if it
    /// is granted itself. Remembers it, so the name's grant lets it be connected to.
    pub(crate) fn answer(&self, name: &str, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        if name.parse::<IpAddr>().is_err()
            && let Some(why) = special_address(ip)
            && !self.grants.lists_ip(ip)
        {
            self.note(format!(
                "refused {ip} as an address of {name}: it is {why}, which a name may not \
                 lead to unless the address is granted itself (`--allow-net {}`)",
                match ip {
                    IpAddr::V4(v4) => v4.to_string(),
                    IpAddr::V6(v6) => format!("[{v6}]"),
                }
            ));
            return false;
        }
        let mut inner = self.inner();
        if !inner.names.iter().any(|(n, a)| n == name && *a == ip) {
            inner.names.push((name.to_string(), ip));
        }
        true
    }

    /// Whether an HTTP request may go to `host` (a name) on `port`.
    pub(crate) fn check_http_name(&self, host: &str, port: u16) -> bool {
        match self.grants.check_name(host, Some(port), NetProtocol::Http) {
            Ok(()) => true,
            Err(refuser) => {
                self.refused(
                    &format!("HTTP request to {host}:{port}"),
                    refuser,
                    &format!(
                        "allow it with `--allow-net {host}:{port}` (or `Capabilities::net(\"{host}:{port}\")`)"
                    ),
                );
                false
            }
        }
    }

    /// Lookup `rep` ended (all its addresses were read).
    pub(crate) fn lookup_ended(&self, rep: u32) {
        self.inner().lookups.remove(&rep);
    }

    // ---- limits ----

    /// Counts a socket (or HTTP connection) opened, if the limit allows.
    pub(crate) fn open(&self, what: &str) -> Result<(), LimitTrap> {
        let mut inner = self.inner();
        if inner.open >= self.limits.connections {
            drop(inner);
            return Err(self.hit(
                Limit::Connections,
                u64::from(self.limits.connections),
                format!(
                    "opening {what} with {} already open",
                    self.limits.connections
                ),
            ));
        }
        inner.open += 1;
        Ok(())
    }

    /// Counts a socket (or HTTP connection) closed.
    pub(crate) fn close(&self) {
        let mut inner = self.inner();
        inner.open = inner.open.saturating_sub(1);
    }

    /// Counts `bytes` sent, if the limit allows.
    pub(crate) fn sent(&self, bytes: usize) -> Result<(), LimitTrap> {
        let mut inner = self.inner();
        inner.sent = inner.sent.saturating_add(bytes as u64);
        if inner.sent > self.limits.bytes_sent {
            let total = inner.sent;
            drop(inner);
            return Err(self.hit(
                Limit::BytesSent,
                self.limits.bytes_sent,
                format!("{total} bytes sent"),
            ));
        }
        Ok(())
    }

    /// Counts `bytes` received, if the limit allows.
    pub(crate) fn received(&self, bytes: usize) -> Result<(), LimitTrap> {
        let mut inner = self.inner();
        inner.received = inner.received.saturating_add(bytes as u64);
        if inner.received > self.limits.bytes_received {
            let total = inner.received;
            drop(inner);
            return Err(self.hit(
                Limit::BytesReceived,
                self.limits.bytes_received,
                format!("{total} bytes received"),
            ));
        }
        Ok(())
    }

    /// The read timeout hit, as a trap.
    pub(crate) fn read_timed_out(&self, what: &str) -> LimitTrap {
        self.hit(
            Limit::ReadTimeout,
            duration_ms(self.limits.read_timeout),
            format!("nothing arrived on {what} for that long"),
        )
    }

    /// The connect timeout hit, as a trap.
    pub(crate) fn connect_timed_out(&self, what: &str) -> LimitTrap {
        self.hit(
            Limit::ConnectTimeout,
            duration_ms(self.limits.connect_timeout),
            format!("{what} did not complete in time"),
        )
    }

    /// Socket `rep` started connecting.
    pub(crate) fn connect_started(&self, rep: u32) {
        let deadline = Instant::now() + self.limits.connect_timeout;
        self.inner().connecting.insert(rep, deadline);
    }

    /// Socket `rep` stopped connecting (connected, failed, or dropped).
    pub(crate) fn connect_ended(&self, rep: u32) {
        self.inner().connecting.remove(&rep);
    }

    /// The earliest deadline of a connect in progress.
    pub(crate) fn connect_deadline(&self) -> Option<Instant> {
        let inner = self.inner();
        if inner.connecting.is_empty() {
            return None;
        }
        inner.connecting.values().min().copied()
    }
}

/// Milliseconds of `duration`, saturating.
pub(crate) fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
