//! The network allow-list: which destinations a guest may reach and which ports it may
//! listen on, parsed from `--allow-net`-style specs, and how an address, a name or
//! an HTTP authority is matched against it.
//!
//! A spec is `[tcp://|udp://|http://|https://]HOST[:PORTS]`:
//!
//! - `HOST` is an IP address (`10.0.0.7`, `[::1]`), a CIDR block (`10.0.0.0/8`,
//!   `[fd00::]/8`), a DNS name (`api.example.com`), every name under a domain
//!   (`*.example.com`), or `*` (any name and any address, except the special ones
//!   below);
//! - `PORTS` is a port (`443`), a range (`8000-8099`) or `*`; without it every port
//!   is allowed, except after `http://` (80) and `https://` (443);
//! - the scheme restricts the protocol: `tcp://` and `udp://` to those sockets,
//!   `http://` and `https://` to outgoing `wasi:http` requests; without one, all three.
//!
//! A name is only looked up when a rule lists it, and the addresses it resolves to
//! are what the guest may then connect to. A loopback, link-local, unspecified or
//! cloud-metadata address is refused when it comes from a name or from `*`, unless
//! a rule lists that address (or a block containing it) itself: a listed name must
//! not become a way into the host's own services.
//!
//! [`NetGrants`] is what [`Capabilities`](crate::Capabilities) holds: the task's own
//! list plus any *bounds* laid over it ([`NetGrants::narrow`]); a destination passes
//! only if every one of them allows it, so a bound (an operator's allow-list) can
//! never be widened by what a job asks for.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A spec that is not a valid network grant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{spec:?} is not a network grant: {reason} (expected \
     [tcp://|udp://|http://|https://]HOST[:PORT|:FIRST-LAST|:*], HOST an IP, a CIDR block, \
     a DNS name, *.domain or *)"
)]
pub struct NetSpecError {
    /// The spec as given.
    pub spec: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Which traffic a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetProtocol {
    /// TCP and UDP sockets, and outgoing HTTP.
    Any,
    /// TCP sockets only (`tcp://`).
    Tcp,
    /// UDP sockets only (`udp://`).
    Udp,
    /// Outgoing `wasi:http` requests only (`http://`, `https://`).
    Http,
}

impl NetProtocol {
    fn covers(self, used: NetProtocol) -> bool {
        self == NetProtocol::Any || self == used
    }

    /// How a destination of this protocol is written in a spec.
    fn prefix(self) -> &'static str {
        match self {
            NetProtocol::Any => "",
            NetProtocol::Tcp => "tcp://",
            NetProtocol::Udp => "udp://",
            NetProtocol::Http => "http://",
        }
    }
}

impl fmt::Display for NetProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetProtocol::Any => "any",
            NetProtocol::Tcp => "TCP",
            NetProtocol::Udp => "UDP",
            NetProtocol::Http => "HTTP",
        })
    }
}

/// An inclusive range of ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    /// The first port.
    pub first: u16,
    /// The last port (`first` for a single port).
    pub last: u16,
}

impl PortRange {
    /// Every port.
    pub const ALL: PortRange = PortRange {
        first: 1,
        last: u16::MAX,
    };

    /// One port.
    pub fn one(port: u16) -> Self {
        PortRange {
            first: port,
            last: port,
        }
    }

    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }

    /// Whether every port of `other` is in this range.
    pub fn covers(&self, other: &PortRange) -> bool {
        self.first <= other.first && other.last <= self.last
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == PortRange::ALL {
            f.write_str("*")
        } else if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// Parses `N`, `N-M` or `*` (ports 1 to 65535).
pub fn parse_ports(text: &str) -> Result<PortRange, String> {
    if text == "*" {
        return Ok(PortRange::ALL);
    }
    let port = |part: &str| -> Result<u16, String> {
        match part.parse::<u16>() {
            Ok(0) => Err("port 0 cannot be granted".into()),
            Ok(port) => Ok(port),
            Err(_) => Err(format!("{part:?} is not a port (1-65535)")),
        }
    };
    match text.split_once('-') {
        Some((first, last)) => {
            let (first, last) = (port(first)?, port(last)?);
            if first > last {
                return Err(format!("the port range {text} is empty"));
            }
            Ok(PortRange { first, last })
        }
        None => Ok(PortRange::one(port(text)?)),
    }
}

/// An IP address block (`10.0.0.0/8`; a single address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpBlock {
    addr: IpAddr,
    prefix: u8,
}

impl IpBlock {
    /// The block of `prefix` leading bits of `addr` (the rest is zeroed).
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let addr = addr.to_canonical();
        let bits = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if prefix > bits {
            return None;
        }
        let addr = match addr {
            IpAddr::V4(v4) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        };
        Some(IpBlock { addr, prefix })
    }

    /// The block holding just `addr`.
    pub fn single(addr: IpAddr) -> Self {
        let addr = addr.to_canonical();
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        IpBlock { addr, prefix }
    }

    /// Whether `ip` is in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        IpBlock::new(ip, self.prefix).is_some_and(|masked| masked.addr == self.addr)
    }

    /// Whether every address of `other` is in this block.
    pub fn covers(&self, other: &IpBlock) -> bool {
        self.prefix <= other.prefix && self.contains(other.addr)
    }

    /// Whether the two blocks share an address (blocks are aligned, so one then holds
    /// the other).
    fn overlaps(&self, other: &IpBlock) -> bool {
        self.covers(other) || other.covers(self)
    }

    /// Whether the block holds an address [`special_address`] names (loopback,
    /// link-local, unspecified, metadata, broadcast or multicast).
    fn holds_special(&self) -> bool {
        const SPECIAL: &[(&str, u8)] = &[
            ("127.0.0.0", 8),
            ("169.254.0.0", 16),
            ("100.100.100.200", 32),
            ("0.0.0.0", 8),
            ("224.0.0.0", 3),
            ("::1", 128),
            ("::", 128),
            ("fe80::", 10),
            ("fd00:ec2::254", 128),
            ("ff00::", 8),
        ];
        SPECIAL.iter().any(|(addr, prefix)| {
            addr.parse()
                .ok()
                .and_then(|addr| IpBlock::new(addr, *prefix))
                .is_some_and(|special| self.overlaps(&special))
        })
    }
}

impl fmt::Display for IpBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.addr, self.prefix) {
            (IpAddr::V4(v4), 32) => write!(f, "{v4}"),
            (IpAddr::V6(v6), 128) => write!(f, "[{v6}]"),
            (IpAddr::V4(v4), prefix) => write!(f, "{v4}/{prefix}"),
            (IpAddr::V6(v6), prefix) => write!(f, "[{v6}]/{prefix}"),
        }
    }
}

/// The host part of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NetHost {
    /// `*`: any name, and any address that is not special.
    Any,
    /// One DNS name (lowercase, without a trailing dot).
    Name(String),
    /// Every name under a domain (`*.example.com` holds `.example.com`).
    Suffix(String),
    /// An address or a block of them.
    Block(IpBlock),
}

impl NetHost {
    pub(crate) fn matches_name(&self, name: &str) -> bool {
        match self {
            NetHost::Any => true,
            NetHost::Name(listed) => listed == name,
            NetHost::Suffix(suffix) => name.ends_with(suffix.as_str()),
            NetHost::Block(_) => false,
        }
    }
}

impl NetHost {
    /// Whether everything `other` lets a guest reach, this lets it reach too: an
    /// address or block inside this block; a name equal to this one or under this
    /// domain; under `*`, any name and any block without a special address (which `*`
    /// never reaches).
    pub fn covers(&self, other: &NetHost) -> bool {
        match (self, other) {
            (NetHost::Any, NetHost::Block(block)) => !block.holds_special(),
            (NetHost::Any, _) => true,
            (NetHost::Block(bound), NetHost::Block(block)) => bound.covers(block),
            (NetHost::Name(bound), NetHost::Name(name)) => bound == name,
            (NetHost::Suffix(bound), NetHost::Name(name) | NetHost::Suffix(name)) => {
                name.ends_with(bound.as_str())
            }
            _ => false,
        }
    }
}

impl fmt::Display for NetHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetHost::Any => f.write_str("*"),
            NetHost::Name(name) => f.write_str(name),
            NetHost::Suffix(suffix) => write!(f, "*{suffix}"),
            NetHost::Block(block) => write!(f, "{block}"),
        }
    }
}

/// One allowed destination: see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NetRule {
    /// Which traffic.
    pub protocol: NetProtocol,
    /// Which hosts.
    pub host: NetHost,
    /// Which ports.
    pub ports: PortRange,
}

impl NetRule {
    /// Whether this rule allows everything `other` does (same or wider protocol, a
    /// host that [covers](NetHost::covers) `other`'s, and a port range holding
    /// `other`'s): how an operator's allow-list judges what a job asks for.
    pub fn covers(&self, other: &NetRule) -> bool {
        self.protocol.covers(other.protocol)
            && self.host.covers(&other.host)
            && self.ports.covers(&other.ports)
    }
}

impl fmt::Display for NetRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}:{}", self.protocol.prefix(), self.host, self.ports)
    }
}

impl std::str::FromStr for NetRule {
    type Err = NetSpecError;

    fn from_str(spec: &str) -> Result<Self, NetSpecError> {
        parse_net_rule(spec)
    }
}

/// Parses one `--allow-net` spec (see the [module docs](self)).
pub fn parse_net_rule(spec: &str) -> Result<NetRule, NetSpecError> {
    parse_rule(spec.trim()).map_err(|reason| NetSpecError {
        spec: spec.to_string(),
        reason,
    })
}

fn parse_rule(spec: &str) -> Result<NetRule, String> {
    if spec.is_empty() {
        return Err("it is empty".into());
    }
    let lower = spec.to_ascii_lowercase();
    let (protocol, default_ports, rest) = [
        ("tcp://", NetProtocol::Tcp, None),
        ("udp://", NetProtocol::Udp, None),
        ("http://", NetProtocol::Http, Some(80)),
        ("https://", NetProtocol::Http, Some(443)),
    ]
    .into_iter()
    .find_map(|(prefix, protocol, port)| {
        lower
            .strip_prefix(prefix)
            .map(|rest| (protocol, port, rest.to_string()))
    })
    .unwrap_or((NetProtocol::Any, None, lower.clone()));
    if lower.contains("://") && protocol == NetProtocol::Any {
        return Err("the only schemes are tcp://, udp://, http:// and https://".into());
    }
    let rest = rest.strip_suffix('/').unwrap_or(&rest);
    let (host, ports) = split_host_ports(rest)?;
    let host = parse_host(host)?;
    let ports = match (ports, default_ports) {
        (Some(ports), _) => parse_ports(ports)?,
        (None, Some(port)) => PortRange::one(port),
        (None, None) => PortRange::ALL,
    };
    Ok(NetRule {
        protocol,
        host,
        ports,
    })
}

/// Splits `HOST[:PORTS]`, where an IPv6 host is in brackets (or bare, without ports).
fn split_host_ports(text: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(inner) = text.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return Err("an IPv6 address opened with [ is not closed with ]".into());
        };
        let after = &inner[close + 1..];
        // `[fd00::]/8` or `[fd00::/8]`, then maybe `:PORTS`.
        let (prefix, after) = match after.strip_prefix('/') {
            Some(rest) => match rest.split_once(':') {
                Some((prefix, ports)) => (Some(prefix), Some(ports)),
                None => (Some(rest), None),
            },
            None => match after.strip_prefix(':') {
                Some(ports) => (None, Some(ports)),
                None if after.is_empty() => (None, None),
                None => return Err(format!("unexpected {after:?} after the address")),
            },
        };
        let host_len = 1 + close + 1 + prefix.map_or(0, |p| 1 + p.len());
        return Ok((&text[..host_len], after));
    }
    if text.matches(':').count() > 1 {
        // A bare IPv6 address or block: no port possible.
        return Ok((text, None));
    }
    match text.split_once(':') {
        Some((host, ports)) => Ok((host, Some(ports))),
        None => Ok((text, None)),
    }
}

fn parse_host(text: &str) -> Result<NetHost, String> {
    if text == "*" {
        return Ok(NetHost::Any);
    }
    if text.is_empty() {
        return Err("the host is empty".into());
    }
    let unbracketed = text.replace(['[', ']'], "");
    if let Some((addr, prefix)) = unbracketed.split_once('/') {
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| "a path is not part of a grant: give the host and port only")?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| format!("{prefix:?} is not a prefix length"))?;
        return IpBlock::new(addr, prefix)
            .map(NetHost::Block)
            .ok_or_else(|| format!("/{prefix} is too long for {addr}"));
    }
    if let Ok(addr) = unbracketed.parse::<IpAddr>() {
        return Ok(NetHost::Block(IpBlock::single(addr)));
    }
    if text.starts_with('[') {
        return Err(format!("{text:?} is not an IPv6 address"));
    }
    let (suffix, name) = match text.strip_prefix("*.") {
        Some(name) => (true, name),
        None => (false, text),
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    check_dns_name(name)?;
    Ok(if suffix {
        NetHost::Suffix(format!(".{name}"))
    } else {
        NetHost::Name(name.to_string())
    })
}

fn check_dns_name(name: &str) -> Result<(), String> {
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.len() > 253 || !name.split('.').all(valid_label) {
        return Err(format!(
            "{name:?} is not a DNS name, an IP address or a block"
        ));
    }
    if name
        .split('.')
        .all(|label| label.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("{name:?} is not an IP address"));
    }
    Ok(())
}

/// Why an address is special (refused when it comes from a name or `*`), if it is.
pub fn special_address(ip: IpAddr) -> Option<&'static str> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let octets = v4.octets();
            if v4.is_loopback() {
                Some("a loopback address")
            } else if v4 == Ipv4Addr::new(169, 254, 169, 254)
                || v4 == Ipv4Addr::new(100, 100, 100, 200)
            {
                Some("a cloud metadata address")
            } else if v4.is_link_local() {
                Some("a link-local address")
            } else if v4.is_unspecified() || octets[0] == 0 {
                Some("an unspecified address")
            } else if v4.is_broadcast() || v4.is_multicast() {
                Some("a broadcast or multicast address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            if v6.is_loopback() {
                Some("a loopback address")
            } else if segments == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] {
                Some("a cloud metadata address")
            } else if segments[0] & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if v6.is_unspecified() {
                Some("an unspecified address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else {
                None
            }
        }
    }
}

/// One allow-list: destinations and listening ports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetAllow {
    rules: Vec<NetRule>,
    listen: Vec<PortRange>,
}

/// Names this instance looked up, with the (allowed) addresses they resolved to.
pub(crate) trait Resolved {
    /// Whether `ip` came from looking up a name `host` matches.
    fn resolved_from(&self, host: &NetHost, ip: IpAddr) -> bool;
}

impl NetAllow {
    /// Nothing allowed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a destination.
    pub fn rule(mut self, rule: NetRule) -> Self {
        self.push_rule(rule);
        self
    }

    /// Adds listening ports.
    pub fn listen(mut self, ports: PortRange) -> Self {
        self.push_listen(ports);
        self
    }

    pub(crate) fn push_rule(&mut self, rule: NetRule) {
        if !self.rules.contains(&rule) {
            self.rules.push(rule);
        }
    }

    pub(crate) fn push_listen(&mut self, ports: PortRange) {
        if !self.listen.contains(&ports) {
            self.listen.push(ports);
        }
    }

    /// The destinations.
    pub fn rules(&self) -> &[NetRule] {
        &self.rules
    }

    /// The listening ports.
    pub fn listen_ports(&self) -> &[PortRange] {
        &self.listen
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.listen.is_empty()
    }

    /// Whether `ip` is listed by an address or block (not through a name or `*`).
    pub(crate) fn lists_ip(&self, ip: IpAddr) -> bool {
        self.rules
            .iter()
            .any(|rule| matches!(&rule.host, NetHost::Block(block) if block.contains(ip)))
    }

    /// Whether a rule lets `name` be looked up (or, for HTTP, be connected to).
    pub(crate) fn allows_name(&self, name: &str, port: Option<u16>, protocol: NetProtocol) -> bool {
        self.rules.iter().any(|rule| {
            rule.host.matches_name(name)
                && port.is_none_or(|port| rule.ports.contains(port))
                && (port.is_none() || rule.protocol.covers(protocol))
        })
    }

    /// Whether a `protocol` connection (or datagram) to `addr` is allowed.
    pub(crate) fn allows_addr(
        &self,
        protocol: NetProtocol,
        addr: SocketAddr,
        resolved: &dyn Resolved,
    ) -> bool {
        let ip = addr.ip().to_canonical();
        let special = special_address(ip).is_some();
        self.rules.iter().any(|rule| {
            rule.protocol.covers(protocol)
                && rule.ports.contains(addr.port())
                && match &rule.host {
                    NetHost::Block(block) => block.contains(ip),
                    NetHost::Any => !special,
                    host => !special && resolved.resolved_from(host, ip),
                }
        })
    }

    /// Whether listening on (or binding) `port` is allowed.
    pub(crate) fn allows_listen(&self, port: u16) -> bool {
        self.listen.iter().any(|range| range.contains(port))
    }
}

/// What [`Capabilities`](crate::Capabilities) holds about the network: the grants
/// themselves and the bounds laid over them. See the [module docs](self).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetGrants {
    allow: NetAllow,
    bounds: Vec<NetAllow>,
}

/// Which list refused something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refuser {
    /// The task's own grants.
    Grants,
    /// A bound over them.
    Bound,
}

impl NetGrants {
    /// The grants of `allow`, with no bound.
    pub fn new(allow: NetAllow) -> Self {
        NetGrants {
            allow,
            bounds: Vec::new(),
        }
    }

    /// The grants asked for.
    pub fn allow(&self) -> &NetAllow {
        &self.allow
    }

    pub(crate) fn allow_mut(&mut self) -> &mut NetAllow {
        &mut self.allow
    }

    /// The bounds laid over them.
    pub fn bounds(&self) -> &[NetAllow] {
        &self.bounds
    }

    /// These grants, never wider than `bound`: what passes must pass both (and
    /// every bound before). An operator's allow-list narrows a job's this way; the
    /// job cannot widen it, whatever it asks for.
    pub fn narrow(mut self, bound: &NetGrants) -> Self {
        for list in std::iter::once(&bound.allow).chain(&bound.bounds) {
            if !self.bounds.contains(list) {
                self.bounds.push(list.clone());
            }
        }
        self
    }

    /// Whether nothing at all is granted.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty()
    }

    fn check(&self, allowed: impl Fn(&NetAllow) -> bool) -> Result<(), Refuser> {
        if !allowed(&self.allow) {
            Err(Refuser::Grants)
        } else if !self.bounds.iter().all(allowed) {
            Err(Refuser::Bound)
        } else {
            Ok(())
        }
    }

    pub(crate) fn check_addr(
        &self,
        protocol: NetProtocol,
        addr: SocketAddr,
        resolved: &dyn Resolved,
    ) -> Result<(), Refuser> {
        self.check(|list| list.allows_addr(protocol, addr, resolved))
    }

    pub(crate) fn check_name(
        &self,
        name: &str,
        port: Option<u16>,
        protocol: NetProtocol,
    ) -> Result<(), Refuser> {
        self.check(|list| list.allows_name(name, port, protocol))
    }

    pub(crate) fn check_listen(&self, port: u16) -> Result<(), Refuser> {
        self.check(|list| list.allows_listen(port))
    }

    /// Whether every list names `ip` by address (so a special address may be used).
    pub(crate) fn lists_ip(&self, ip: IpAddr) -> bool {
        self.check(|list| list.lists_ip(ip)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_cover_narrower_rules() {
        let rule = |spec: &str| parse_net_rule(spec).unwrap();
        let covers = |bound: &str, asked: &str| rule(bound).covers(&rule(asked));
        assert!(covers("127.0.0.1:8000-8099", "127.0.0.1:8080"));
        assert!(covers("127.0.0.1:8000-8099", "127.0.0.1:8000-8099"));
        assert!(!covers("127.0.0.1:8000-8099", "127.0.0.1:8000-8100"));
        assert!(!covers("127.0.0.1:8000", "127.0.0.2:8000"));
        assert!(covers("10.0.0.0/8", "10.1.2.0/24:443"));
        assert!(!covers("10.1.0.0/16", "10.0.0.0/8"));
        assert!(covers("api.example.com:443", "api.example.com:443"));
        assert!(!covers("api.example.com", "other.example.com"));
        assert!(covers("*.example.com", "api.example.com"));
        assert!(covers("*.example.com", "*.eu.example.com:443"));
        assert!(!covers("*.example.com", "example.com"));
        assert!(!covers("*.example.com", "*"));
        assert!(covers("*", "example.com"));
        assert!(covers("*", "93.184.0.0/16"));
        assert!(!covers("*", "127.0.0.1"), "* never reaches loopback");
        assert!(!covers("*", "0.0.0.0/0"));
        assert!(
            !covers("127.0.0.1", "localhost"),
            "a name may resolve anywhere"
        );
        assert!(covers("127.0.0.1", "tcp://127.0.0.1:80"));
        assert!(
            !covers("tcp://127.0.0.1", "127.0.0.1"),
            "the job would get UDP and HTTP too"
        );
        assert!(covers("[::1]", "[::1]:80"));
    }

    struct NoNames;
    impl Resolved for NoNames {
        fn resolved_from(&self, _: &NetHost, _: IpAddr) -> bool {
            false
        }
    }

    struct Names(Vec<(&'static str, IpAddr)>);
    impl Resolved for Names {
        fn resolved_from(&self, host: &NetHost, ip: IpAddr) -> bool {
            self.0
                .iter()
                .any(|(name, resolved)| host.matches_name(name) && *resolved == ip)
        }
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn allow(specs: &[&str]) -> NetAllow {
        specs.iter().fold(NetAllow::new(), |allow, spec| {
            allow.rule(parse_net_rule(spec).unwrap())
        })
    }

    #[test]
    fn specs_parse_and_print_back() {
        for (spec, shown) in [
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("10.0.0.0/8", "10.0.0.0/8:*"),
            ("10.1.2.3/8:80-90", "10.0.0.0/8:80-90"),
            ("[::1]:443", "[::1]:443"),
            ("::1", "[::1]:*"),
            ("[fd00::]/8:1-2", "[fd00::]/8:1-2"),
            ("API.Example.com.", "api.example.com:*"),
            ("*.example.com:443", "*.example.com:443"),
            ("*:443", "*:443"),
            ("https://api.example.com", "http://api.example.com:443"),
            ("http://api.example.com/", "http://api.example.com:80"),
            ("tcp://db.internal:5432", "tcp://db.internal:5432"),
            ("udp://10.0.0.53:53", "udp://10.0.0.53:53"),
        ] {
            let rule = parse_net_rule(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(rule.to_string(), shown, "{spec}");
        }
        for bad in [
            "",
            "host:0",
            "host:70000",
            "host:9-3",
            "ftp://host",
            "https://host/path",
            "10.0.0.0/33",
            "[::1",
            "bad_host!",
            "300.1.1.1",
            "[nope]:80",
        ] {
            let err = parse_net_rule(bad).expect_err(bad);
            assert!(err.to_string().contains("not a network grant"), "{err}");
        }
    }

    #[test]
    fn addresses_match_by_block_port_and_protocol() {
        let list = allow(&[
            "127.0.0.1:8080",
            "10.0.0.0/8:1000-2000",
            "udp://192.0.2.1:53",
        ]);
        assert!(list.allows_addr(NetProtocol::Tcp, addr("127.0.0.1:8080"), &NoNames));
        assert!(!list.allows_addr(NetProtocol::Tcp, addr("127.0.0.1:8081"), &NoNames));
        assert!(!list.allows_addr(NetProtocol::Tcp, addr("127.0.0.2:8080"), &NoNames));
        assert!(list.allows_addr(NetProtocol::Tcp, addr("10.9.8.7:1500"), &NoNames));
        assert!(!list.allows_addr(NetProtocol::Tcp, addr("11.0.0.1:1500"), &NoNames));
        assert!(list.allows_addr(NetProtocol::Udp, addr("192.0.2.1:53"), &NoNames));
        assert!(!list.allows_addr(NetProtocol::Tcp, addr("192.0.2.1:53"), &NoNames));
        // IPv4-mapped IPv6 is the IPv4 address.
        assert!(list.allows_addr(NetProtocol::Tcp, addr("[::ffff:127.0.0.1]:8080"), &NoNames));
    }

    #[test]
    fn names_and_star_never_reach_special_addresses_unless_listed() {
        let names = Names(vec![
            ("api.example.com", "93.184.216.34".parse().unwrap()),
            ("evil.example.com", "127.0.0.1".parse().unwrap()),
            ("meta.example.com", "169.254.169.254".parse().unwrap()),
        ]);
        let list = allow(&["*.example.com:443", "*:8443"]);
        assert!(list.allows_addr(NetProtocol::Tcp, addr("93.184.216.34:443"), &names));
        assert!(!list.allows_addr(NetProtocol::Tcp, addr("93.184.216.34:80"), &names));
        assert!(!list.allows_addr(NetProtocol::Tcp, addr("127.0.0.1:443"), &names));
        assert!(!list.allows_addr(NetProtocol::Tcp, addr("169.254.169.254:443"), &names));
        assert!(list.allows_addr(NetProtocol::Tcp, addr("8.8.8.8:8443"), &NoNames));
        assert!(!list.allows_addr(NetProtocol::Tcp, addr("127.0.0.1:8443"), &NoNames));
        let listed = allow(&["*.example.com:443", "127.0.0.1:443"]);
        assert!(listed.allows_addr(NetProtocol::Tcp, addr("127.0.0.1:443"), &names));
        assert_eq!(
            special_address("169.254.169.254".parse().unwrap()),
            Some("a cloud metadata address")
        );
        assert_eq!(
            special_address("fe80::1".parse().unwrap()),
            Some("a link-local address")
        );
        assert_eq!(
            special_address("::ffff:127.0.0.1".parse().unwrap()),
            Some("a loopback address")
        );
        assert_eq!(special_address("93.184.216.34".parse().unwrap()), None);
    }

    #[test]
    fn name_lookups_only_for_listed_names() {
        let list = allow(&["api.example.com:443", "*.svc.local", "10.0.0.1"]);
        assert!(list.allows_name("api.example.com", None, NetProtocol::Any));
        assert!(list.allows_name("db.svc.local", None, NetProtocol::Any));
        assert!(!list.allows_name("svc.local", None, NetProtocol::Any));
        assert!(!list.allows_name("example.com", None, NetProtocol::Any));
        assert!(list.allows_name("api.example.com", Some(443), NetProtocol::Http));
        assert!(!list.allows_name("api.example.com", Some(80), NetProtocol::Http));
    }

    #[test]
    fn a_bound_narrows_and_cannot_be_widened() {
        let operator = NetGrants::new(allow(&["10.1.0.0/16:443", "api.example.com:443"]));
        let job = NetGrants::new(allow(&["10.0.0.0/8", "*"])).narrow(&operator);
        assert_eq!(
            job.check_addr(NetProtocol::Tcp, addr("10.1.2.3:443"), &NoNames),
            Ok(())
        );
        assert_eq!(
            job.check_addr(NetProtocol::Tcp, addr("10.2.0.1:443"), &NoNames),
            Err(Refuser::Bound)
        );
        assert_eq!(
            job.check_addr(NetProtocol::Tcp, addr("10.1.2.3:80"), &NoNames),
            Err(Refuser::Bound)
        );
        assert_eq!(
            job.check_name("api.example.com", None, NetProtocol::Any),
            Ok(())
        );
        assert_eq!(
            job.check_name("other.example.com", None, NetProtocol::Any),
            Err(Refuser::Bound)
        );
        // What the job does not ask for stays refused by its own grants.
        let narrow_job = NetGrants::new(allow(&["10.1.2.3:443"])).narrow(&operator);
        assert_eq!(
            narrow_job.check_addr(NetProtocol::Tcp, addr("10.1.2.4:443"), &NoNames),
            Err(Refuser::Grants)
        );
        // Narrowing twice keeps both bounds.
        let tighter = NetGrants::new(allow(&["10.1.2.0/24"]));
        let twice = job.narrow(&tighter);
        assert_eq!(
            twice.check_addr(NetProtocol::Tcp, addr("10.1.3.1:443"), &NoNames),
            Err(Refuser::Bound)
        );
        assert_eq!(
            twice.check_addr(NetProtocol::Tcp, addr("10.1.2.9:443"), &NoNames),
            Ok(())
        );
        let listen = NetGrants::new(NetAllow::new().listen(PortRange::ALL)).narrow(
            &NetGrants::new(NetAllow::new().listen(PortRange::one(8080))),
        );
        assert_eq!(listen.check_listen(8080), Ok(()));
        assert_eq!(listen.check_listen(8081), Err(Refuser::Bound));
    }
}
