//! Guests that use the network with plain `std::net` (and `wasi:http` through the
//! `wasip2` bindings): what they may reach is only what the task was granted.
//! Every function returns the guest-side error as text, so the tests see both what
//! the guest was told and what the host reported in the task's stderr.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

/// Connects to `addr` (`IP:PORT` or `NAME:PORT`), sends `message` and a newline,
/// and returns everything the peer sends back before closing.
#[rustyray::remote]
fn net_echo(addr: String, message: String) -> Result<String, String> {
    let mut stream = TcpStream::connect(&addr).map_err(|err| format!("connect {addr}: {err}"))?;
    stream
        .write_all(format!("{message}\n").as_bytes())
        .map_err(|err| format!("write: {err}"))?;
    let mut reply = String::new();
    stream
        .read_to_string(&mut reply)
        .map_err(|err| format!("read: {err}"))?;
    Ok(reply)
}

/// Opens `count` connections to `addr` and holds them all: how many opened.
#[rustyray::remote]
fn net_hoard(addr: String, count: u32) -> Result<u32, String> {
    let mut held = Vec::new();
    for n in 0..count {
        match TcpStream::connect(&addr) {
            Ok(stream) => held.push(stream),
            Err(err) => return Err(format!("connection {n}: {err}")),
        }
    }
    Ok(held.len() as u32)
}

/// Sends `bytes` zero bytes to `addr`; how many were written.
#[rustyray::remote]
fn net_send(addr: String, bytes: u64) -> Result<u64, String> {
    let mut stream = TcpStream::connect(&addr).map_err(|err| format!("connect {addr}: {err}"))?;
    let chunk = vec![0u8; 64 << 10];
    let mut sent = 0u64;
    while sent < bytes {
        let n = (bytes - sent).min(chunk.len() as u64) as usize;
        stream
            .write_all(&chunk[..n])
            .map_err(|err| format!("write after {sent} bytes: {err}"))?;
        sent += n as u64;
    }
    let _ = stream.shutdown(Shutdown::Write);
    Ok(sent)
}

/// Reads from `addr` until the peer closes; how many bytes arrived.
#[rustyray::remote]
fn net_drain(addr: String) -> Result<u64, String> {
    let mut stream = TcpStream::connect(&addr).map_err(|err| format!("connect {addr}: {err}"))?;
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(err) => return Err(format!("read after {total} bytes: {err}")),
        }
    }
}

/// GETs `url` through `wasi:http`: `STATUS BODY`.
#[rustyray::remote]
fn net_http_get(url: String) -> Result<String, String> {
    let (status, body) = http_get(&url)?;
    Ok(format!("{status} {}", String::from_utf8_lossy(&body)))
}

/// A minimal `wasi:http` GET (the `wasip2` crate's bindings).
fn http_get(url: &str) -> Result<(u16, Vec<u8>), String> {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, OutgoingRequest, Scheme};
    let (scheme, rest) = match url.split_once("://") {
        Some(("http", rest)) => (Scheme::Http, rest),
        Some(("https", rest)) => (Scheme::Https, rest),
        _ => return Err(format!("{url}: only http:// and https:// URLs")),
    };
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    request
        .set_scheme(Some(&scheme))
        .and_then(|()| request.set_authority(Some(authority)))
        .and_then(|()| request.set_path_with_query(Some(path)))
        .map_err(|()| format!("{url}: not a valid request"))?;
    let pending =
        outgoing_handler::handle(request, None).map_err(|err| format!("{url}: {err:?}"))?;
    pending.subscribe().block();
    let response = pending
        .get()
        .ok_or("no response after the wait")?
        .map_err(|()| "the response was taken already")?
        .map_err(|err| format!("{url}: {err:?}"))?;
    let status = response.status();
    let body = response.consume().map_err(|()| "no body")?;
    let mut bytes = Vec::new();
    {
        let mut stream = body.stream().map_err(|()| "no body stream")?;
        stream
            .read_to_end(&mut bytes)
            .map_err(|err| format!("{url}: reading the body: {err}"))?;
    }
    drop(body);
    Ok((status, bytes))
}
