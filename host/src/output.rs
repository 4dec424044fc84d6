//! Guest stdout and stderr: captured per task (and per actor call), returned with
//! the result, and optionally shown live.
//!
//! A task's WASI context gets two streams writing into one [`OutputCapture`]: a
//! buffer per stream under a shared cap ([`Limits::output`](crate::Limits::output)).
//! A write past the cap keeps what fits and traps the guest with a
//! [`LimitTrap`](crate::limits::LimitTrap), so the task fails with
//! [`RayError::LimitExceeded`](crate::RayError::LimitExceeded) naming the output
//! limit. When the task ends, what it printed is attached to its object
//! ([`ObjectRef::output`](crate::ObjectRef::output)), whether it succeeded or not.
//!
//! With a live sink ([`RuntimeBuilder::on_output`](crate::RuntimeBuilder::on_output))
//! complete lines are also handed over as they are written, labelled with their
//! source (`task 12 add`, `actor#3 Counter.incr`); the CLI prints them prefixed.
//! Nothing is allocated for a task that prints nothing but the capture itself.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

use crate::limits::{Limit, LimitTrap};
use crate::object_store::ObjectId;
use crate::registry::{Function, FunctionKind};
use crate::runtime::RuntimeInner;
use crate::task_impl::TaskOptions;

/// Longest partial line held back from a live sink before it is passed on anyway.
const MAX_PENDING_LINE: usize = 8 << 10;
/// What one `check-write` permits.
const WRITE_PERMIT: usize = 64 << 10;

/// What a task (or one actor call) printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskOutput {
    /// Its stdout.
    pub stdout: Bytes,
    /// Its stderr.
    pub stderr: Bytes,
    /// Whether it printed more than the output limit (the rest was dropped, and the
    /// task failed with [`RayError::LimitExceeded`](crate::RayError::LimitExceeded)).
    pub truncated: bool,
}

impl TaskOutput {
    /// What is kept of a task's output the host could not hold (`why`): a note on
    /// stderr in its place.
    pub(crate) fn dropped(why: &crate::RayError) -> Self {
        TaskOutput {
            stdout: Bytes::new(),
            stderr: Bytes::from(format!("[output dropped: {why}]\n")),
            truncated: true,
        }
    }

    /// Stdout as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }

    /// Stderr as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }
}

/// Which of a guest's output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of guest output, as a live sink receives it.
#[derive(Debug, Clone, Copy)]
pub struct OutputLine<'a> {
    /// Who printed it: `task 12 add`, `actor#3 Counter.incr`.
    pub source: &'a str,
    /// Stdout or stderr.
    pub stream: Stream,
    /// The line, without its newline.
    pub line: &'a [u8],
}

/// Receives guest output live, a line at a time (see
/// [`RuntimeBuilder::on_output`](crate::RuntimeBuilder::on_output)). Called on the
/// worker thread running the guest: keep it short.
pub type OutputSink = Arc<dyn Fn(&OutputLine<'_>) + Send + Sync>;

/// Who is printing, rendered only if a live sink needs the label.
#[derive(Debug)]
pub(crate) enum Source {
    /// A task, by its output object's id.
    Task {
        id: ObjectId,
        function: Arc<Function>,
    },
    /// An actor call or anything else that has its label already.
    Label(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Task { id, function } => write!(f, "task {} {}", id.0, function.name),
            Source::Label(label) => f.write_str(label),
        }
    }
}

struct State {
    source: Source,
    label: Option<String>,
    out: [Vec<u8>; 2],
    pending: [Vec<u8>; 2],
    used: usize,
    truncated: bool,
}

struct Shared {
    cap: usize,
    sink: Option<OutputSink>,
    /// Whether anything was written since the last `take`: most tasks and actor
    /// calls print nothing, and then `take` need not lock.
    written: AtomicBool,
    state: Mutex<State>,
}

/// The capture of one task's (or one actor's) stdout and stderr.
#[derive(Clone)]
pub(crate) struct OutputCapture {
    shared: Arc<Shared>,
}

impl fmt::Debug for OutputCapture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutputCapture")
            .field("cap", &self.shared.cap)
            .finish()
    }
}

fn index(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl OutputCapture {
    /// The capture of a task of `function` whose result is object `id`; `None` for
    /// native functions, which print as the host does.
    pub(crate) fn for_task(
        runtime: &RuntimeInner,
        function: &Arc<Function>,
        id: ObjectId,
        options: &TaskOptions,
    ) -> Option<Self> {
        if !matches!(function.kind, FunctionKind::Wasm(_)) {
            return None;
        }
        let defaults = &runtime.sandbox;
        let cap = options.limits.output.unwrap_or(defaults.limits.output);
        // Only a live sink needs the label; without one, do not touch the function's
        // reference count (shared by every task of it, on every thread).
        let source = match defaults.sink {
            Some(_) => Source::Task {
                id,
                function: function.clone(),
            },
            None => Source::Label(String::new()),
        };
        Some(OutputCapture::new(source, cap, defaults.sink.clone()))
    }

    /// A capture of at most `cap` bytes, passing lines to `sink` if there is one.
    pub(crate) fn new(source: Source, cap: usize, sink: Option<OutputSink>) -> Self {
        OutputCapture {
            shared: Arc::new(Shared {
                cap,
                sink,
                written: AtomicBool::new(false),
                state: Mutex::new(State {
                    source,
                    label: None,
                    out: [Vec::new(), Vec::new()],
                    pending: [Vec::new(), Vec::new()],
                    used: 0,
                    truncated: false,
                }),
            }),
        }
    }

    /// The stream a WASI context writes `stream` to.
    pub(crate) fn stream(&self, stream: Stream) -> CaptureStream {
        CaptureStream {
            capture: self.clone(),
            stream,
        }
    }

    /// Whether lines go to a live sink (which is what labels are for).
    pub(crate) fn has_sink(&self) -> bool {
        self.shared.sink.is_some()
    }

    /// Labels what is printed from now on (an actor's next call).
    pub(crate) fn set_source(&self, source: Source) {
        if let Ok(mut state) = self.shared.state.lock() {
            state.source = source;
            state.label = None;
        }
    }

    /// Takes what was printed so far (`None` if nothing), passing any unfinished
    /// line to the live sink, and starts afresh.
    pub(crate) fn take(&self) -> Option<TaskOutput> {
        if !self.shared.written.swap(false, Ordering::AcqRel) {
            return None;
        }
        let mut state = self.shared.state.lock().ok()?;
        if let Some(sink) = &self.shared.sink {
            for stream in [Stream::Stdout, Stream::Stderr] {
                let pending = std::mem::take(&mut state.pending[index(stream)]);
                if !pending.is_empty() {
                    emit(sink, &mut state, stream, &pending);
                }
            }
        }
        if state.used == 0 && !state.truncated {
            return None;
        }
        let output = TaskOutput {
            stdout: Bytes::from(std::mem::take(&mut state.out[0])),
            stderr: Bytes::from(std::mem::take(&mut state.out[1])),
            truncated: state.truncated,
        };
        state.used = 0;
        state.truncated = false;
        Some(output)
    }

    /// Writes a line from the host (a refused connection, say) to the captured
    /// stderr, as the guest's own output is; dropped past the output limit.
    pub(crate) fn note(&self, line: &str) {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        let _ = self.write(Stream::Stderr, &bytes);
    }

    /// Appends `bytes`; past the cap, keeps what fits and says which limit was hit.
    fn write(&self, stream: Stream, bytes: &[u8]) -> Result<(), LimitTrap> {
        let Ok(mut state) = self.shared.state.lock() else {
            return Ok(());
        };
        self.shared.written.store(true, Ordering::Release);
        let room = self.shared.cap.saturating_sub(state.used);
        let kept = &bytes[..bytes.len().min(room)];
        state.used += kept.len();
        state.out[index(stream)].extend_from_slice(kept);
        if let Some(sink) = &self.shared.sink {
            pass_lines(sink, &mut state, stream, kept);
        }
        if kept.len() < bytes.len() {
            state.truncated = true;
            return Err(LimitTrap {
                limit: Limit::Output,
                value: self.shared.cap as u64,
                detail: format!(
                    "the guest wrote {} bytes past it to {}",
                    bytes.len() - kept.len(),
                    match stream {
                        Stream::Stdout => "stdout",
                        Stream::Stderr => "stderr",
                    }
                ),
            });
        }
        Ok(())
    }
}

/// Hands complete lines of `bytes` to the sink, keeping an unfinished one pending.
fn pass_lines(sink: &OutputSink, state: &mut State, stream: Stream, mut bytes: &[u8]) {
    let slot = index(stream);
    while let Some(newline) = bytes.iter().position(|&b| b == b'\n') {
        let (line, rest) = bytes.split_at(newline);
        bytes = &rest[1..];
        if state.pending[slot].is_empty() {
            emit(sink, state, stream, line);
        } else {
            let mut whole = std::mem::take(&mut state.pending[slot]);
            whole.extend_from_slice(line);
            emit(sink, state, stream, &whole);
        }
    }
    state.pending[slot].extend_from_slice(bytes);
    if state.pending[slot].len() > MAX_PENDING_LINE {
        let long = std::mem::take(&mut state.pending[slot]);
        emit(sink, state, stream, &long);
    }
}

fn emit(sink: &OutputSink, state: &mut State, stream: Stream, line: &[u8]) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let label = state.label.get_or_insert_with(|| state.source.to_string());
    sink(&OutputLine {
        source: label,
        stream,
        line,
    });
}

/// One of a capture's two streams, as WASI sees it.
pub(crate) struct CaptureStream {
    capture: OutputCapture,
    stream: Stream,
}

impl IsTerminal for CaptureStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CaptureStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(CaptureStream {
            capture: self.capture.clone(),
            stream: self.stream,
        })
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(CaptureStream {
            capture: self.capture.clone(),
            stream: self.stream,
        })
    }
}

impl OutputStream for CaptureStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.capture
            .write(self.stream, &bytes)
            .map_err(|trap| StreamError::Trap(trap.into()))
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CaptureStream {
    async fn ready(&mut self) {}
}

impl AsyncWrite for CaptureStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(
            self.capture
                .write(self.stream, buf)
                .map(|()| buf.len())
                .map_err(io::Error::other),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collecting() -> (OutputSink, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        let sink: OutputSink = Arc::new(move |line: &OutputLine<'_>| {
            seen.lock().unwrap().push(format!(
                "[{}] {:?} {}",
                line.source,
                line.stream,
                String::from_utf8_lossy(line.line)
            ));
        });
        (sink, lines)
    }

    #[test]
    fn captures_both_streams_and_passes_whole_lines() {
        let (sink, lines) = collecting();
        let capture = OutputCapture::new(Source::Label("task 1 f".into()), 1024, Some(sink));
        capture.write(Stream::Stdout, b"hel").unwrap();
        capture.write(Stream::Stdout, b"lo\nwor").unwrap();
        capture.write(Stream::Stderr, b"oops\r\n").unwrap();
        assert_eq!(
            *lines.lock().unwrap(),
            ["[task 1 f] Stdout hello", "[task 1 f] Stderr oops"]
        );
        let output = capture.take().expect("something was printed");
        assert_eq!(output.stdout_text(), "hello\nwor");
        assert_eq!(output.stderr_text(), "oops\r\n");
        assert!(!output.truncated);
        assert_eq!(
            lines.lock().unwrap().len(),
            3,
            "the partial line is flushed"
        );
        assert!(capture.take().is_none(), "taking starts afresh");
    }

    #[test]
    fn the_cap_keeps_what_fits_and_names_the_limit() {
        let capture = OutputCapture::new(Source::Label("t".into()), 8, None);
        capture.write(Stream::Stdout, b"12345").unwrap();
        let hit = capture.write(Stream::Stderr, b"67890").unwrap_err();
        assert_eq!(hit.limit, Limit::Output);
        assert_eq!(hit.value, 8);
        let output = capture.take().unwrap();
        assert_eq!(&output.stdout[..], b"12345");
        assert_eq!(&output.stderr[..], b"678");
        assert!(output.truncated);
    }

    #[test]
    fn a_long_line_is_passed_on_in_pieces() {
        let (sink, lines) = collecting();
        let capture = OutputCapture::new(Source::Label("t".into()), 1 << 20, Some(sink));
        capture
            .write(Stream::Stdout, &vec![b'x'; MAX_PENDING_LINE + 1])
            .unwrap();
        assert_eq!(lines.lock().unwrap().len(), 1);
    }
}
