//! `wasi:sockets` under the allow-list and the limits: the few functions of
//! `wasmtime-wasi` we wrap, shadowing them in the linker, and the streams that count.
//!
//! `wasmtime-wasi` already checks every address a socket connects, sends, binds or
//! listens to against our check ([`NetState::addr_check`]). What it cannot do, we do
//! around its own implementation, calling it for the work:
//!
//! - `create-tcp-socket`/`create-udp-socket`/`accept` count open sockets against the
//!   connection limit (and the sockets' destructors count them closed);
//! - `resolve-addresses` refuses names no grant lists, and `resolve-next-address`
//!   withholds special addresses a name resolved to and remembers the others, which
//!   are then what the name's grant lets the guest connect to;
//! - `finish-connect`/`accept` put counting, read-timed streams in place of the
//!   socket's own (same table slots, so ownership between them is unchanged);
//! - `start-connect` sets a deadline that `poll` and `pollable.block` enforce.
//!
//! A limit hit traps the guest with a [`LimitTrap`](crate::limits::LimitTrap), so
//! the task fails with `LimitExceeded` naming it.

use std::sync::Arc;

use bytes::Bytes;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceType};
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{
    self, HostResolveAddressStream, ResolveAddressStream,
};
use wasmtime_wasi::p2::bindings::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Network,
};
use wasmtime_wasi::p2::bindings::sockets::tcp::HostTcpSocket;
use wasmtime_wasi::p2::bindings::sockets::udp::{
    HostIncomingDatagramStream, HostOutgoingDatagramStream, IncomingDatagram,
    IncomingDatagramStream, OutgoingDatagram, OutgoingDatagramStream,
};
use wasmtime_wasi::p2::bindings::sockets::{tcp_create_socket, udp_create_socket};
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, DynPollable, InputStream, OutputStream, Pollable, SocketError,
    StreamError, StreamResult, TcpSocket, UdpSocket,
};
use wasmtime_wasi::sockets::WasiSocketsView;
use wasmtime_wasi_io::bindings::wasi::io::poll::{Host as _, HostPollable as _};

use super::state::NetState;
use crate::bindings::TaskCtx;

/// The version of the `wasi:*` interfaces `wasmtime-wasi` defines (older guests'
/// imports resolve to it by semver).
const WASI: &str = "0.2.12";

/// A socket call's outcome for the guest: its error code, or a trap.
fn split<T>(result: Result<T, SocketError>) -> wasmtime::Result<Result<T, ErrorCode>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(err) => err.downcast().map(Err),
    }
}

fn net(store: &StoreContextMut<'_, TaskCtx>) -> Arc<NetState> {
    store.data().net.state.clone()
}

/// Shadows the wrapped functions in a linker that already has `wasmtime-wasi`'s.
pub(crate) fn add_to_linker(linker: &mut Linker<TaskCtx>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let result = shadow(linker);
    linker.allow_shadowing(false);
    result
}

fn shadow(linker: &mut Linker<TaskCtx>) -> wasmtime::Result<()> {
    let mut create = linker.instance(&format!("wasi:sockets/tcp-create-socket@{WASI}"))?;
    create.func_wrap(
        "create-tcp-socket",
        |mut store: StoreContextMut<'_, TaskCtx>, (family,): (IpAddressFamily,)| {
            let net = net(&store);
            net.open("a TCP socket")?;
            let created = split(tcp_create_socket::Host::create_tcp_socket(
                &mut store.data_mut().sockets(),
                family,
            ))?;
            if created.is_err() {
                net.close();
            }
            Ok((created,))
        },
    )?;

    let mut create = linker.instance(&format!("wasi:sockets/udp-create-socket@{WASI}"))?;
    create.func_wrap_async(
        "create-udp-socket",
        |mut store: StoreContextMut<'_, TaskCtx>, (family,): (IpAddressFamily,)| {
            Box::new(async move {
                let net = net(&store);
                net.open("a UDP socket")?;
                let created = split(
                    udp_create_socket::Host::create_udp_socket(
                        &mut store.data_mut().sockets(),
                        family,
                    )
                    .await,
                )?;
                if created.is_err() {
                    net.close();
                }
                Ok((created,))
            })
        },
    )?;

    let mut tcp = linker.instance(&format!("wasi:sockets/tcp@{WASI}"))?;
    tcp.resource(
        "tcp-socket",
        ResourceType::host::<TcpSocket>(),
        |mut store, rep| {
            let net = net(&store);
            net.connect_ended(rep);
            net.close();
            HostTcpSocket::drop(&mut store.data_mut().sockets(), Resource::new_own(rep))
        },
    )?;
    tcp.func_wrap(
        "[method]tcp-socket.start-connect",
        |mut store: StoreContextMut<'_, TaskCtx>,
         (socket, network, remote): (Resource<TcpSocket>, Resource<Network>, IpSocketAddress)| {
            let rep = socket.rep();
            let started = split(HostTcpSocket::start_connect(
                &mut store.data_mut().sockets(),
                socket,
                network,
                remote,
            ))?;
            if started.is_ok() {
                net(&store).connect_started(rep);
            }
            Ok((started,))
        },
    )?;
    tcp.func_wrap(
        "[method]tcp-socket.finish-connect",
        |mut store: StoreContextMut<'_, TaskCtx>, (socket,): (Resource<TcpSocket>,)| {
            let net = net(&store);
            let rep = socket.rep();
            let finished = split(HostTcpSocket::finish_connect(
                &mut store.data_mut().sockets(),
                socket,
            ))?;
            match &finished {
                Err(ErrorCode::WouldBlock) => {
                    if net
                        .connect_deadline()
                        .is_some_and(|deadline| deadline <= std::time::Instant::now())
                    {
                        return Err(net.connect_timed_out("a TCP connect").into());
                    }
                }
                Ok((input, output)) => {
                    net.connect_ended(rep);
                    count_streams(&mut store, &net, input, output)?;
                }
                Err(_) => net.connect_ended(rep),
            }
            Ok((finished,))
        },
    )?;
    tcp.func_wrap(
        "[method]tcp-socket.accept",
        |mut store: StoreContextMut<'_, TaskCtx>, (socket,): (Resource<TcpSocket>,)| {
            let net = net(&store);
            let accepted = split(HostTcpSocket::accept(
                &mut store.data_mut().sockets(),
                socket,
            ))?;
            if let Ok((_, input, output)) = &accepted {
                net.open("an accepted TCP connection")?;
                count_streams(&mut store, &net, input, output)?;
            }
            Ok((accepted,))
        },
    )?;

    let mut udp = linker.instance(&format!("wasi:sockets/udp@{WASI}"))?;
    udp.resource(
        "udp-socket",
        ResourceType::host::<UdpSocket>(),
        |mut store, rep| {
            net(&store).close();
            wasmtime_wasi::p2::bindings::sockets::udp::HostUdpSocket::drop(
                &mut store.data_mut().sockets(),
                Resource::new_own(rep),
            )
        },
    )?;
    udp.func_wrap(
        "[method]outgoing-datagram-stream.send",
        |mut store: StoreContextMut<'_, TaskCtx>,
         (stream, datagrams): (Resource<OutgoingDatagramStream>, Vec<OutgoingDatagram>)| {
            let net = net(&store);
            let bytes: usize = datagrams.iter().map(|d| d.data.len()).sum();
            net.sent(bytes)?;
            let sent = split(HostOutgoingDatagramStream::send(
                &mut store.data_mut().sockets(),
                stream,
                datagrams,
            ))?;
            Ok((sent,))
        },
    )?;
    udp.func_wrap(
        "[method]incoming-datagram-stream.receive",
        |mut store: StoreContextMut<'_, TaskCtx>,
         (stream, max): (Resource<IncomingDatagramStream>, u64)| {
            let net = net(&store);
            let received: Result<Vec<IncomingDatagram>, ErrorCode> = split(
                HostIncomingDatagramStream::receive(&mut store.data_mut().sockets(), stream, max),
            )?;
            if let Ok(datagrams) = &received {
                net.received(datagrams.iter().map(|d| d.data.len()).sum())?;
            }
            Ok((received,))
        },
    )?;

    let mut lookup = linker.instance(&format!("wasi:sockets/ip-name-lookup@{WASI}"))?;
    lookup.func_wrap(
        "resolve-addresses",
        |mut store: StoreContextMut<'_, TaskCtx>, (network, name): (Resource<Network>, String)| {
            let net = net(&store);
            if !net.check_lookup(&name) {
                return Ok((Err(ErrorCode::AccessDenied),));
            }
            let started: Result<Resource<ResolveAddressStream>, ErrorCode> =
                split(ip_name_lookup::Host::resolve_addresses(
                    &mut store.data_mut().sockets(),
                    network,
                    name.clone(),
                ))?;
            if let Ok(stream) = &started {
                net.lookup_started(stream.rep(), &name);
            }
            Ok((started,))
        },
    )?;
    lookup.func_wrap(
        "[method]resolve-address-stream.resolve-next-address",
        |mut store: StoreContextMut<'_, TaskCtx>, (stream,): (Resource<ResolveAddressStream>,)| {
            let net = net(&store);
            let rep = stream.rep();
            loop {
                let next: Result<Option<IpAddress>, ErrorCode> =
                    split(HostResolveAddressStream::resolve_next_address(
                        &mut store.data_mut().sockets(),
                        Resource::new_borrow(rep),
                    ))?;
                match next {
                    Ok(Some(address)) => {
                        let ip = match address {
                            IpAddress::Ipv4((a, b, c, d)) => std::net::IpAddr::from([a, b, c, d]),
                            IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => {
                                std::net::IpAddr::from([a, b, c, d, e, f, g, h])
                            }
                        };
                        if net.lookup_answer(rep, ip) {
                            return Ok((Ok(Some(address)),));
                        }
                    }
                    Ok(None) => {
                        net.lookup_ended(rep);
                        return Ok((Ok(None),));
                    }
                    Err(code) => return Ok((Err(code),)),
                }
            }
        },
    )?;

    let mut poll = linker.instance(&format!("wasi:io/poll@{WASI}"))?;
    poll.func_wrap_async(
        "poll",
        |mut store: StoreContextMut<'_, TaskCtx>, (pollables,): (Vec<Resource<DynPollable>>,)| {
            Box::new(async move {
                let net = net(&store);
                let deadline = net.connect_deadline();
                let table = &mut store.data_mut().table;
                match deadline {
                    None => Ok((table.poll(pollables).await?,)),
                    Some(deadline) => {
                        match tokio::time::timeout_at(deadline.into(), table.poll(pollables)).await
                        {
                            Ok(ready) => Ok((ready?,)),
                            Err(_) => Err(net.connect_timed_out("a TCP connect").into()),
                        }
                    }
                }
            })
        },
    )?;
    poll.func_wrap_async(
        "[method]pollable.block",
        |mut store: StoreContextMut<'_, TaskCtx>, (pollable,): (Resource<DynPollable>,)| {
            Box::new(async move {
                let net = net(&store);
                let deadline = net.connect_deadline();
                let table = &mut store.data_mut().table;
                match deadline {
                    None => table.block(pollable).await?,
                    Some(deadline) => {
                        match tokio::time::timeout_at(deadline.into(), table.block(pollable)).await
                        {
                            Ok(done) => done?,
                            Err(_) => return Err(net.connect_timed_out("a TCP connect").into()),
                        }
                    }
                }
                Ok(())
            })
        },
    )?;
    Ok(())
}

/// Puts counting streams in the table slots of a connection's own.
fn count_streams(
    store: &mut StoreContextMut<'_, TaskCtx>,
    net: &Arc<NetState>,
    input: &Resource<DynInputStream>,
    output: &Resource<DynOutputStream>,
) -> wasmtime::Result<()> {
    let table = &mut store.data_mut().table;
    let slot = table.get_mut(input)?;
    let inner = std::mem::replace(slot, Box::new(Placeholder));
    *slot = Box::new(CountingInput {
        inner,
        net: net.clone(),
    });
    let slot = table.get_mut(output)?;
    let inner = std::mem::replace(slot, Box::new(Placeholder));
    *slot = Box::new(CountingOutput {
        inner,
        net: net.clone(),
    });
    Ok(())
}

/// Holds a table slot for the instant between taking a stream out and putting its
/// wrapper in.
struct Placeholder;

#[wasmtime_wasi::async_trait]
impl Pollable for Placeholder {
    async fn ready(&mut self) {}
}

impl InputStream for Placeholder {
    fn read(&mut self, _: usize) -> StreamResult<Bytes> {
        Err(StreamError::Closed)
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Placeholder {
    fn write(&mut self, _: Bytes) -> StreamResult<()> {
        Err(StreamError::Closed)
    }
    fn flush(&mut self) -> StreamResult<()> {
        Err(StreamError::Closed)
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Err(StreamError::Closed)
    }
}

/// A connection's receiving stream, counting bytes and timing out waits.
struct CountingInput {
    inner: DynInputStream,
    net: Arc<NetState>,
}

impl CountingInput {
    fn trap(&self, trap: crate::limits::LimitTrap) -> StreamError {
        StreamError::Trap(trap.into())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CountingInput {
    async fn ready(&mut self) {
        let timeout = self.net.limits().read_timeout;
        if tokio::time::timeout(timeout, self.inner.ready())
            .await
            .is_err()
        {
            // Recorded: the read that follows traps with it.
            self.net.read_timed_out("a TCP connection");
        }
    }
}

#[wasmtime_wasi::async_trait]
impl InputStream for CountingInput {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if let Some(hit) = self.net.pending_hit() {
            return Err(self.trap(hit));
        }
        let bytes = self.inner.read(size)?;
        self.net.received(bytes.len()).map_err(|t| self.trap(t))?;
        Ok(bytes)
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await;
    }
}

/// A connection's sending stream, counting bytes.
struct CountingOutput {
    inner: DynOutputStream,
    net: Arc<NetState>,
}

#[wasmtime_wasi::async_trait]
impl Pollable for CountingOutput {
    async fn ready(&mut self) {
        self.inner.ready().await;
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for CountingOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.net
            .sent(bytes.len())
            .map_err(|trap| StreamError::Trap(trap.into()))?;
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await;
    }
}
