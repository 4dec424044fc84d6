//! Hostile guests: each function misbehaves on purpose (or tries to leave the
//! sandbox), so the tests can check the host stops it with the right error and
//! nothing else is harmed. `canary` is the honest task run alongside.

use std::hint::black_box;
use std::io::Read;

use rustyray::RayError;

mod budgets;
mod ids;
mod net;

/// Honest work with a known answer: `rounds` million steps of an LCG.
#[rustyray::remote]
fn canary(rounds: u32) -> u64 {
    let mut x: u64 = 0;
    for i in 0..u64::from(rounds) * 1_000_000 {
        x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i));
    }
    x
}

/// Never returns.
#[rustyray::remote]
fn forever() -> u64 {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// Allocates and touches a MiB at a time until something stops it.
#[rustyray::remote]
fn memory_bomb() -> u64 {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; 1 << 20];
        for byte in block.iter_mut().step_by(4096) {
            *byte = 1;
        }
        hoard.push(black_box(block));
    }
}

/// Allocates `mib` MiB fallibly: an error, not an abort, when memory is refused.
#[rustyray::remote]
fn try_allocate(mib: u32) -> Result<u64, String> {
    let mut block: Vec<u8> = Vec::new();
    block
        .try_reserve_exact(mib as usize * (1 << 20))
        .map_err(|err| format!("refused: {err}"))?;
    block.resize(mib as usize * (1 << 20), 1);
    Ok(block.iter().step_by(4096).map(|&b| u64::from(b)).sum())
}

/// Recurses until the wasm stack runs out.
#[rustyray::remote]
fn stack_overflow(start: u64) -> u64 {
    deep(start)
}

#[inline(never)]
fn deep(n: u64) -> u64 {
    let pad = black_box([n; 32]);
    if black_box(n) == u64::MAX {
        return 0;
    }
    deep(n + 1).wrapping_add(pad[n as usize % 32])
}

/// Recurses without using the guest's own (linear-memory) stack, until the wasm
/// call stack runs out.
#[rustyray::remote]
fn call_stack_overflow(start: u64) -> u64 {
    calls(start)
}

#[inline(never)]
fn calls(n: u64) -> u64 {
    if n == u64::MAX {
        return 1;
    }
    let below = calls(n + 1);
    below.wrapping_mul(n | 1) ^ (below >> 7)
}

/// Submits itself and waits for the answer, with no base case.
#[rustyray::remote]
fn recurse(depth: u64) -> Result<u64, RayError> {
    Ok(recurse::remote(depth + 1).get()? + 1)
}

/// A result of `bytes` bytes.
#[rustyray::remote]
fn big_result(bytes: u64) -> Vec<u8> {
    vec![7u8; bytes as usize]
}

/// Puts an object of `bytes` bytes from inside the guest.
#[rustyray::remote]
fn put_big(bytes: u64) -> Result<u64, RayError> {
    let object = rustyray::put(&vec![7u8; bytes as usize])?;
    drop(object);
    Ok(bytes)
}

/// Panics with `message`.
#[rustyray::remote]
fn panic_with(message: String) -> u64 {
    panic!("{message}")
}

/// Prints `lines` lines to stdout and to stderr.
#[rustyray::remote]
fn chatter(lines: u32) -> u32 {
    for i in 0..lines {
        println!("out {i}");
        eprintln!("err {i}");
    }
    lines
}

/// Prints a line, then spins until stopped.
#[rustyray::remote]
fn print_then_spin(text: String) -> u64 {
    println!("{text}");
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// Reads a file.
#[rustyray::remote]
fn read_file(path: String) -> Result<String, String> {
    std::fs::read_to_string(&path).map_err(|err| format!("{path}: {err}"))
}

/// Writes a file.
#[rustyray::remote]
fn write_file(path: String, contents: String) -> Result<(), String> {
    std::fs::write(&path, contents).map_err(|err| format!("{path}: {err}"))
}

/// Lists a directory.
#[rustyray::remote]
fn list_dir(path: String) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&path).map_err(|err| format!("{path}: {err}"))? {
        let entry = entry.map_err(|err| err.to_string())?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// An environment variable, if the guest can see it.
#[rustyray::remote]
fn env_var(name: String) -> Option<String> {
    std::env::var(name).ok()
}

/// Every environment variable the guest can see.
#[rustyray::remote]
fn env_all() -> Vec<(String, String)> {
    std::env::vars().collect()
}

/// The guest's command-line arguments (a task should have none).
#[rustyray::remote]
fn args_seen() -> Vec<String> {
    std::env::args().collect()
}

/// Connects to a TCP address.
#[rustyray::remote]
fn tcp_connect(addr: String) -> Result<(), String> {
    let addr: std::net::SocketAddr = addr.parse().map_err(|err| format!("{err}"))?;
    std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2))
        .map(drop)
        .map_err(|err| format!("connect {addr}: {err}"))
}

/// Listens on a TCP address.
#[rustyray::remote]
fn tcp_listen(addr: String) -> Result<(), String> {
    std::net::TcpListener::bind(&addr)
        .map(drop)
        .map_err(|err| format!("bind {addr}: {err}"))
}

/// Sends a UDP datagram.
#[rustyray::remote]
fn udp_send(addr: String) -> Result<(), String> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").map_err(|err| format!("bind: {err}"))?;
    socket
        .send_to(b"hello", &addr)
        .map(drop)
        .map_err(|err| format!("send to {addr}: {err}"))
}

/// Resolves a host name.
#[rustyray::remote]
fn resolve(host: String) -> Result<Vec<String>, String> {
    use std::net::ToSocketAddrs;
    (host.as_str(), 80)
        .to_socket_addrs()
        .map(|addrs| addrs.map(|addr| addr.to_string()).collect())
        .map_err(|err| format!("resolve {host}: {err}"))
}

/// Everything on stdin.
#[rustyray::remote]
fn read_stdin() -> Result<String, String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|err| err.to_string())?;
    Ok(text)
}

/// Fails at once: the root of a chain of failed dependencies.
#[rustyray::remote]
fn fail_now() -> Result<u64, String> {
    Err("the root cause".to_string())
}

/// Returns its argument: a link of a dependency chain.
#[rustyray::remote]
fn pass_on(x: u64) -> u64 {
    x
}

/// Builds a chain of `depth` tasks, each taking the one before as its argument, on
/// a task that fails; returns the error the last one got. The chain is dropped when
/// this instance ends, on its fiber's stack.
#[rustyray::remote]
fn failure_chain(depth: u32) -> Result<String, RayError> {
    let mut last = pass_on::remote(fail_now::remote());
    for _ in 1..depth {
        last = pass_on::remote(last);
    }
    match last.get() {
        Ok(value) => Err(RayError::application(format!("the chain returned {value}"))),
        Err(error) => Ok(error.to_string()),
    }
}

/// Creates the symlink `link` pointing at `target`.
#[rustyray::remote]
fn make_symlink(target: String, link: String) -> Result<(), String> {
    let target = std::ffi::CString::new(target).map_err(|err| err.to_string())?;
    let link = std::ffi::CString::new(link).map_err(|err| err.to_string())?;
    // SAFETY: both are NUL-terminated and outlive the call.
    if unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error().to_string())
    }
}

/// Exported under a name full of terminal escape sequences (clear screen, set the
/// window title, bell); prints `text` and returns it.
#[rustyray::remote(name = "evil\u{1b}[2J\u{1b}]0;pwned\u{7}")]
fn evil_name(text: String) -> String {
    println!("{text}");
    text
}

/// An actor whose methods misbehave on request.
#[rustyray::actor]
pub struct Fragile {
    calls: u32,
}

impl Default for Fragile {
    fn default() -> Self {
        Self::new()
    }
}

#[rustyray::actor]
impl Fragile {
    pub fn new() -> Self {
        Fragile { calls: 0 }
    }

    /// Counts calls.
    pub fn ok(&mut self) -> u32 {
        self.calls += 1;
        self.calls
    }

    /// Executes `unreachable`.
    pub fn trap(&mut self) -> u32 {
        self.calls += 1;
        #[cfg(target_arch = "wasm32")]
        core::arch::wasm32::unreachable();
        #[cfg(not(target_arch = "wasm32"))]
        unreachable!()
    }

    /// Allocates until stopped.
    pub fn bomb(&mut self) -> u64 {
        memory_bomb()
    }

    /// Spins until stopped.
    pub fn spin(&mut self) -> u64 {
        forever()
    }

    /// An environment variable, if the actor can see it.
    pub fn env(&self, name: String) -> Option<String> {
        std::env::var(name).ok()
    }

    /// Prints `text` and returns the call count.
    pub fn say(&mut self, text: String) -> u32 {
        self.calls += 1;
        println!("{text}");
        self.calls
    }
}

/// A driver that prints what it may see: args, env, a file.
#[rustyray::main]
fn main() -> Result<(), RayError> {
    let args = rustyray::args();
    if args.get(1).map(String::as_str) == Some("--escape") {
        return escape_everywhere();
    }
    if args.get(1).map(String::as_str) == Some("--fork-bomb") {
        let count = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100);
        return budgets::fork_bomb(count);
    }
    if args.get(1).map(String::as_str) == Some("--lifetimes") {
        return budgets::lifetimes();
    }
    println!("hostile main: args={:?}", &args[1..]);
    println!("env HOSTILE_MODE={:?}", std::env::var("HOSTILE_MODE").ok());
    if let Some(path) = args.get(1) {
        match std::fs::read_to_string(path) {
            Ok(text) => println!("read {path}: {}", text.trim()),
            Err(err) => println!("cannot read {path}: {err}"),
        }
    }
    let mut stdin = String::new();
    let _ = std::io::stdin().read_to_string(&mut stdin);
    println!("stdin: {:?}", stdin.trim());
    println!("chatter -> {}", chatter::remote(2u32).get()?);
    Ok(())
}

/// `rustyray run hostile.wasm -- --escape`: escape sequences in a task's name and
/// output, in the program's own output, and in the panic it ends with.
fn escape_everywhere() -> Result<(), RayError> {
    let echoed = evil_name::remote("task says \u{1b}[31mred\u{1b}[0m\r".to_string()).get()?;
    println!("main says {echoed}\u{1b}]0;title\u{7}");
    eprintln!("main warns \u{9b}2J");
    // A panic: its message reaches the terminal twice, from the guest's own stderr
    // and in the error the CLI prints.
    panic!("failing with \u{1b}[2J in the message");
}
