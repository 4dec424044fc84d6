//! The network capability (part of the hostile suite): guests using plain
//! `std::net` and `wasi:http` against servers these tests start on 127.0.0.1 (free
//! ports, stopped when the test ends). Nothing is reachable without a grant; a
//! granted destination answers while another port, another host, a name leading to
//! a loopback address and a listen are refused, each with the refusal (and the
//! grant that would allow it) in the task's captured stderr; the network limits
//! each fail the task with `LimitExceeded` naming them. A canary task runs beside
//! each hostile act.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rustyray::{
    Capabilities, Limit, Limits, NetGrants, RayError, Result, Runtime, TaskBuilder, TaskOutput,
};

use crate::common::{self, SHORT, assert_adds, hostile_runtime, within};

/// A server on 127.0.0.1 (a free port), handling each connection on a thread of
/// its own; stopped and joined when dropped.
pub(crate) struct Server {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub(crate) fn start(handle: fn(TcpStream)) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
        let addr = listener.local_addr().expect("its address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (accepted, stop) = (accepted.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    accepted.fetch_add(1, Ordering::AcqRel);
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
                    std::thread::spawn(move || handle(stream));
                }
            })
        };
        Server {
            addr,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    pub(crate) fn addr(&self) -> String {
        self.addr.to_string()
    }

    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Acquire)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers a line with `echo: LINE` and closes.
pub(crate) fn echo(stream: TcpStream) {
    let mut line = String::new();
    let mut reader = BufReader::new(&stream);
    if reader.read_line(&mut line).is_ok() {
        let _ = (&stream).write_all(format!("echo: {}\n", line.trim()).as_bytes());
    }
}

/// Reads everything until the peer closes.
fn sink(mut stream: TcpStream) {
    let mut buf = vec![0u8; 64 << 10];
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

/// Sends 4 MiB and closes.
fn flood(mut stream: TcpStream) {
    let chunk = vec![7u8; 64 << 10];
    for _ in 0..64 {
        if stream.write_all(&chunk).is_err() {
            return;
        }
    }
}

/// Says nothing, and holds the connection until the peer goes.
fn silent(mut stream: TcpStream) {
    let mut buf = [0u8; 1];
    let _ = stream.read(&mut buf);
}

/// Answers one HTTP request with `hello from PATH`.
fn http(stream: TcpStream) {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let path = request_line.split(' ').nth(1).unwrap_or("?").to_string();
    let body = format!("hello from {path}");
    let _ = (&stream).write_all(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

/// A loopback port nothing listens on (bound, then let go).
fn unused_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn net_runtime(capabilities: Capabilities, limits: Limits) -> Runtime {
    hostile_runtime(common::builder().capabilities(capabilities).limits(limits)).await
}

/// A task's arguments: one string, or a pair.
trait TaskArgs {
    fn add(self, task: TaskBuilder) -> TaskBuilder;
}

impl TaskArgs for String {
    fn add(self, task: TaskBuilder) -> TaskBuilder {
        task.arg(self)
    }
}

impl TaskArgs for &str {
    fn add(self, task: TaskBuilder) -> TaskBuilder {
        task.arg(self)
    }
}

impl<A: serde::Serialize, B: serde::Serialize> TaskArgs for (A, B) {
    fn add(self, task: TaskBuilder) -> TaskBuilder {
        task.arg(self.0).arg(self.1)
    }
}

/// Runs `function(args)` returning the guest's `Result<T, String>`, with its output.
async fn call<T: serde::de::DeserializeOwned + Send + 'static>(
    runtime: &Runtime,
    function: &str,
    args: impl TaskArgs,
    capabilities: Option<Capabilities>,
) -> (Result<T>, TaskOutput) {
    let mut task = args.add(runtime.task(function));
    if let Some(capabilities) = capabilities {
        task = task.capabilities(capabilities);
    }
    let object = task.submit_now::<T>(runtime).expect("submit");
    within(SHORT, function, object.get_with_output()).await
}

fn stderr(output: &TaskOutput) -> String {
    output.stderr_text().into_owned()
}

fn application(result: Result<impl std::fmt::Debug>) -> String {
    match result {
        Err(RayError::Application { message, .. }) => message,
        other => panic!("expected the guest's own error, got {other:?}"),
    }
}

fn limit_of(result: Result<impl std::fmt::Debug>) -> (Limit, String) {
    match result {
        Err(err @ RayError::LimitExceeded { limit, .. }) => (limit, err.to_string()),
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
}

#[tokio::test]
async fn tcp_reaches_only_granted_destinations_and_refusals_say_the_fix() -> Result<()> {
    let server = Server::start(echo);
    let other = Server::start(echo);
    let runtime = net_runtime(Capabilities::new(), Limits::new()).await;
    let canary = runtime
        .task("canary")
        .arg(50u32)
        .submit_now::<u64>(&runtime)?;

    // No grant: refused before any packet, and the output says how to allow it.
    let (result, output) = call::<String>(&runtime, "net_echo", (server.addr(), "hi"), None).await;
    assert!(
        application(result).contains("connect"),
        "the guest sees an error"
    );
    let told = stderr(&output);
    assert!(
        told.contains(&format!("refused TCP connect to {}", server.addr()))
            && told.contains(&format!("--allow-net {}", server.addr())),
        "{told}"
    );

    // Granted (per task): answered. Another port of the same host: refused.
    let grant = Capabilities::new().net(server.addr());
    let (result, _) = call::<String>(
        &runtime,
        "net_echo",
        (server.addr(), "hi"),
        Some(grant.clone()),
    )
    .await;
    assert_eq!(result?, "echo: hi\n");
    let (result, output) = call::<String>(
        &runtime,
        "net_echo",
        (other.addr(), "hi"),
        Some(grant.clone()),
    )
    .await;
    application(result);
    assert!(stderr(&output).contains(&format!("--allow-net {}", other.addr())));
    // Another host (127.0.0.2 is loopback too, but not the granted address).
    let (result, output) = call::<()>(
        &runtime,
        "tcp_connect",
        format!("127.0.0.2:{}", server.port()),
        Some(grant),
    )
    .await;
    application(result);
    assert!(stderr(&output).contains(&format!(
        "refused TCP connect to 127.0.0.2:{}",
        server.port()
    )));

    // A port range and a block grant both cover it.
    for spec in [
        format!("127.0.0.1:{}-{}", server.port(), server.port()),
        format!("127.0.0.0/8:{}", server.port()),
    ] {
        let (result, _) = call::<String>(
            &runtime,
            "net_echo",
            (server.addr(), "range"),
            Some(Capabilities::new().net(&spec)),
        )
        .await;
        assert_eq!(result?, "echo: range\n", "{spec}");
    }
    assert_eq!(
        server.accepted(),
        3,
        "only granted connects reached the server"
    );
    assert_eq!(other.accepted(), 0);
    within(SHORT, "the canary", canary.get()).await?;
    assert_adds(&runtime, 2, 3).await
}

#[tokio::test]
async fn runtime_defaults_grant_and_a_bound_narrows_them() -> Result<()> {
    let server = Server::start(echo);
    let runtime = net_runtime(Capabilities::new().net(server.addr()), Limits::new()).await;
    let (result, _) = call::<String>(&runtime, "net_echo", (server.addr(), "x"), None).await;
    assert_eq!(result?, "echo: x\n");
    // An operator's bound that does not include it wins over what the task asks for.
    let bound =
        NetGrants::new(rustyray::NetAllow::new().rule("127.0.0.1:1".parse().expect("a rule")));
    let narrowed = Capabilities::new()
        .net("*")
        .net(server.addr())
        .narrow_net(&bound);
    let (result, output) =
        call::<String>(&runtime, "net_echo", (server.addr(), "x"), Some(narrowed)).await;
    application(result);
    assert!(
        stderr(&output).contains("outside the bound"),
        "{}",
        stderr(&output)
    );
    // A bad grant is refused where it is given, naming the spec.
    let bad = runtime
        .task("net_echo")
        .arg(server.addr())
        .arg("x")
        .capabilities(Capabilities::new().net("127.0.0.1:99999"))
        .submit_now::<String>(&runtime);
    match bad {
        Err(RayError::InvalidOptions(message)) => {
            assert!(message.contains("127.0.0.1:99999"), "{message}")
        }
        other => panic!("expected InvalidOptions, got {other:?}"),
    }
    assert_adds(&runtime, 1, 1).await
}

#[tokio::test]
async fn names_are_looked_up_only_when_granted_and_cannot_lead_to_loopback() -> Result<()> {
    let server = Server::start(echo);
    let runtime = net_runtime(Capabilities::new(), Limits::new()).await;
    let canary = runtime
        .task("canary")
        .arg(50u32)
        .submit_now::<u64>(&runtime)?;
    let by_name = format!("localhost:{}", server.port());

    // Not granted: the lookup itself is refused.
    let (result, output) = call::<Vec<String>>(&runtime, "resolve", "localhost", None).await;
    application(result);
    assert!(
        stderr(&output).contains("refused name lookup of localhost"),
        "{}",
        stderr(&output)
    );

    // The name is granted, but it resolves to loopback, which is not: withheld.
    let name_only = Capabilities::new().net(&by_name);
    let (result, output) = call::<String>(
        &runtime,
        "net_echo",
        (by_name.clone(), "n"),
        Some(name_only),
    )
    .await;
    application(result);
    let told = stderr(&output);
    assert!(
        told.contains("refused 127.0.0.1 as an address of localhost: it is a loopback address"),
        "{told}"
    );
    assert_eq!(server.accepted(), 0);

    // The name and the address: answered.
    let both = Capabilities::new().net(&by_name).net(server.addr());
    let (result, _) = call::<String>(&runtime, "net_echo", (by_name, "n"), Some(both)).await;
    assert_eq!(result?, "echo: n\n");
    within(SHORT, "the canary", canary.get()).await?;
    assert_adds(&runtime, 4, 4).await
}

#[tokio::test]
async fn listening_and_udp_need_their_own_grants() -> Result<()> {
    let runtime = net_runtime(Capabilities::new(), Limits::new()).await;
    let canary = runtime
        .task("canary")
        .arg(50u32)
        .submit_now::<u64>(&runtime)?;
    let port = unused_port();
    let here = format!("127.0.0.1:{port}");
    let (result, output) = call::<()>(&runtime, "tcp_listen", here.clone(), None).await;
    application(result);
    assert!(
        stderr(&output).contains(&format!("--allow-listen {port}")),
        "{}",
        stderr(&output)
    );
    let (result, _) = call::<()>(
        &runtime,
        "tcp_listen",
        here,
        Some(Capabilities::new().listen(port)),
    )
    .await;
    result?;

    let receiver = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
    receiver
        .set_read_timeout(Some(SHORT))
        .expect("a read timeout");
    let to = receiver.local_addr().expect("its address").to_string();
    // A TCP-only grant does not cover UDP.
    let tcp_only = Capabilities::new().net(format!("tcp://{to}"));
    let (result, output) = call::<()>(&runtime, "udp_send", to.clone(), Some(tcp_only)).await;
    application(result);
    assert!(
        stderr(&output).contains(&format!("--allow-net udp://{to}")),
        "{}",
        stderr(&output)
    );
    let udp = Capabilities::new().net(format!("udp://{to}"));
    let (result, _) = call::<()>(&runtime, "udp_send", to, Some(udp)).await;
    result?;
    let mut buf = [0u8; 16];
    let (n, _) = receiver.recv_from(&mut buf).expect("the datagram arrives");
    assert_eq!(&buf[..n], b"hello");
    within(SHORT, "the canary", canary.get()).await?;
    assert_adds(&runtime, 5, 6).await
}

#[tokio::test]
async fn network_limits_fail_the_task_naming_them() -> Result<()> {
    let echo_server = Server::start(echo);
    let sink_server = Server::start(sink);
    let flood_server = Server::start(flood);
    let silent_server = Server::start(silent);
    let grants = Capabilities::new()
        .net(echo_server.addr())
        .net(sink_server.addr())
        .net(flood_server.addr())
        .net(silent_server.addr());
    let limits = Limits::new()
        .connections(3)
        .bytes_sent(100_000)
        .bytes_received(100_000)
        .read_timeout(Duration::from_millis(300));
    let runtime = net_runtime(grants, limits).await;
    let canary = runtime
        .task("canary")
        .arg(100u32)
        .submit_now::<u64>(&runtime)?;

    let (result, _) = call::<u32>(&runtime, "net_hoard", (echo_server.addr(), 10u32), None).await;
    let (limit, message) = limit_of(result);
    assert_eq!(limit, Limit::Connections);
    assert!(message.contains("connections limit of 3"), "{message}");
    // Within the limit, fine.
    let (result, _) = call::<u32>(&runtime, "net_hoard", (echo_server.addr(), 2u32), None).await;
    assert_eq!(result?, 2);

    let (result, _) = call::<u64>(
        &runtime,
        "net_send",
        (sink_server.addr(), 1_000_000u64),
        None,
    )
    .await;
    let (limit, message) = limit_of(result);
    assert_eq!(limit, Limit::BytesSent, "{message}");
    let (result, _) =
        call::<u64>(&runtime, "net_send", (sink_server.addr(), 50_000u64), None).await;
    assert_eq!(result?, 50_000);

    let (result, _) = call::<u64>(&runtime, "net_drain", flood_server.addr(), None).await;
    let (limit, message) = limit_of(result);
    assert_eq!(limit, Limit::BytesReceived, "{message}");

    let (result, _) = call::<u64>(&runtime, "net_drain", silent_server.addr(), None).await;
    let (limit, message) = limit_of(result);
    assert_eq!(limit, Limit::ReadTimeout);
    assert!(message.contains("300 ms"), "{message}");

    within(SHORT, "the canary", canary.get()).await?;
    assert_adds(&runtime, 7, 8).await
}

#[tokio::test]
async fn a_connect_that_hangs_hits_the_connect_timeout() -> Result<()> {
    // A listener that never accepts: once its backlog is full, the kernel drops
    // further SYNs and a connect waits.
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    let addr = listener.local_addr().expect("its address");
    let mut held = Vec::new();
    while let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
        held.push(stream);
        assert!(held.len() < 10_000, "the backlog never filled");
    }
    let runtime = net_runtime(
        Capabilities::new().net(addr.to_string()),
        Limits::new().connect_timeout(Duration::from_millis(300)),
    )
    .await;
    let (result, _) = call::<String>(&runtime, "net_echo", (addr.to_string(), "x"), None).await;
    let (limit, message) = limit_of(result);
    assert_eq!(limit, Limit::ConnectTimeout);
    assert!(message.contains("300 ms"), "{message}");
    drop(held);
    assert_adds(&runtime, 9, 9).await
}

#[tokio::test]
async fn outgoing_http_goes_through_the_same_allow_list() -> Result<()> {
    let server = Server::start(http);
    let runtime = net_runtime(Capabilities::new(), Limits::new()).await;
    let canary = runtime
        .task("canary")
        .arg(50u32)
        .submit_now::<u64>(&runtime)?;
    let url = format!("http://{}/data", server.addr());

    let (result, output) = call::<String>(&runtime, "net_http_get", url.clone(), None).await;
    assert!(application(result).contains("HttpRequestDenied"));
    assert!(
        stderr(&output).contains(&format!("refused HTTP request to {}", server.addr())),
        "{}",
        stderr(&output)
    );
    for spec in [server.addr(), format!("http://{}", server.addr())] {
        let (result, _) = call::<String>(
            &runtime,
            "net_http_get",
            url.clone(),
            Some(Capabilities::new().net(&spec)),
        )
        .await;
        assert_eq!(result?, "200 hello from /data", "{spec}");
    }
    // A TCP-only grant is not an HTTP grant; a name leading to loopback is refused.
    let (result, _) = call::<String>(
        &runtime,
        "net_http_get",
        url,
        Some(Capabilities::new().net(format!("tcp://{}", server.addr()))),
    )
    .await;
    application(result);
    let by_name = format!("http://localhost:{}/data", server.port());
    let (result, output) = call::<String>(
        &runtime,
        "net_http_get",
        by_name,
        Some(Capabilities::new().net(format!("localhost:{}", server.port()))),
    )
    .await;
    application(result);
    assert!(
        stderr(&output).contains("it is a loopback address"),
        "{}",
        stderr(&output)
    );
    assert_eq!(server.accepted(), 2);
    within(SHORT, "the canary", canary.get()).await?;
    assert_adds(&runtime, 10, 1).await
}

/// The example's `Counts`.
#[derive(Debug, serde::Deserialize)]
struct Counts {
    #[allow(dead_code)]
    url: String,
    bytes: u64,
    lines: u64,
    words: std::collections::BTreeMap<String, u64>,
}

#[tokio::test]
async fn the_http_fetch_example_fetches_and_processes_in_tasks() -> Result<()> {
    let server = Server::start(http);
    let runtime = common::builder()
        .capabilities(Capabilities::new().net(server.addr()))
        .build()?;
    runtime.load(rustyray_tests::HTTP_FETCH).await?;
    let counts = runtime
        .task("fetch_and_count")
        .arg(format!("http://{}/doc.txt", server.addr()))
        .submit_now::<Counts>(&runtime)?;
    let counts = within(SHORT, "fetch_and_count", counts.get()).await?;
    assert_eq!(counts.lines, 1, "{counts:?}");
    assert_eq!(
        counts.bytes,
        "hello from /doc.txt".len() as u64,
        "{counts:?}"
    );
    assert_eq!(counts.words.get("hello"), Some(&1), "{counts:?}");
    runtime.shutdown().await
}

/// The README's network example, as a new user would run it.
#[test]
fn the_readme_client_reaches_its_server_only_with_allow_net() {
    let server = Server::start(echo);
    let other = Server::start(echo);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();

    let refused = crate::cli_sandbox::run(
        &["run", rustyray_tests::NET_CLIENT, "--", &server.addr()],
        b"",
    );
    let err = text(&refused.stderr);
    assert!(!refused.status.success(), "{err}");
    assert!(
        err.contains(&format!("refused TCP connect to {}", server.addr()))
            && err.contains(&format!("--allow-net {}", server.addr()))
            && err.contains(&format!("cannot talk to {}", server.addr())),
        "{err}"
    );

    let answered = crate::cli_sandbox::run(
        &[
            "run",
            rustyray_tests::NET_CLIENT,
            "--allow-net",
            &server.addr(),
            "--",
            &server.addr(),
        ],
        b"",
    );
    assert!(answered.status.success(), "{}", text(&answered.stderr));
    assert_eq!(
        text(&answered.stdout).trim(),
        format!("{} answered: echo: hello", server.addr())
    );

    let other_port = crate::cli_sandbox::run(
        &[
            "run",
            rustyray_tests::NET_CLIENT,
            "--allow-net",
            &server.addr(),
            "--",
            &other.addr(),
        ],
        b"",
    );
    assert!(!other_port.status.success());
    assert!(
        text(&other_port.stderr).contains(&format!("--allow-net {}", other.addr())),
        "{}",
        text(&other_port.stderr)
    );
    assert_eq!(server.accepted(), 1);
    assert_eq!(other.accepted(), 0);

    let bad = crate::cli_sandbox::run(
        &[
            "run",
            rustyray_tests::NET_CLIENT,
            "--allow-net",
            "127.0.0.1:0",
        ],
        b"",
    );
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("not a network grant"),
        "{}",
        text(&bad.stderr)
    );
}
