//! The timeline (Ray's `ray timeline`): every task and actor call as a slice of Chrome
//! trace events, on the worker thread that ran it, with its arguments — a file
//! `chrome://tracing` and Perfetto open.
//!
//! Tasks and actor calls are `tracing` spans (target [`TARGET`]): the runtime enters a
//! task's span each time its future is polled and leaves it when the guest suspends or
//! ends, so a task that waited in `get` shows as several slices with the wait between
//! them. [`Timeline`] is a `tracing-subscriber` layer that writes one complete event
//! (`"ph": "X"`) per entered interval, and names each worker thread once. Without a
//! subscriber the spans cost one relaxed atomic load each, so the recording is off
//! unless asked for (`rustyray run --timeline FILE`, and every job on a node).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::error::{RayError, Result};

/// The `tracing` target of the runtime's task and actor-call spans.
pub const TARGET: &str = "rustyray::timeline";

/// A task's span: the slice is named after `function`; `task` is its object id.
pub(crate) fn task_span(function: &str, task: &dyn std::fmt::Display) -> tracing::Span {
    tracing::info_span!(target: "rustyray::timeline", "task", name = function, task = %task)
}

/// A task the cluster placed (`remote/tasks.rs`; on any node, this one included), just answered
/// after `took`: one slice from its sending to its answer, on a lane of its own ("cluster
/// tasks N": tasks out at once get separate lanes), as the driver saw it.
pub(crate) fn remote_task(function: &str, task: &dyn std::fmt::Display, took: Duration) {
    tracing::info!(
        target: "rustyray::timeline",
        name = function,
        task = %task,
        took_us = took.as_micros() as u64,
        ran = "placed on the cluster",
    );
}

/// An actor call's span: the slice is named `what` (e.g. "`Counter.add`"), on `actor`.
pub(crate) fn actor_call_span(what: &str, actor: &dyn std::fmt::Display) -> tracing::Span {
    tracing::info_span!(target: "rustyray::timeline", "actor_call", name = what, actor = %actor)
}

/// The default most bytes a timeline file may take (`--timeline-max-mib`).
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// Writes Chrome trace events to a file; see the module docs. Install it with
/// [`Timeline::install`], and keep the guard until the program ends.
pub struct Timeline {
    out: Mutex<Writer>,
    start: Instant,
    pid: u32,
    /// When each lane of remote tasks is free again (µs since `start`).
    lanes: Mutex<Vec<f64>>,
}

/// Chrome `tid`s of the lanes of remote tasks (far above worker threads' numbers).
const REMOTE_LANES: u64 = 1 << 20;

struct Writer {
    file: BufWriter<File>,
    /// Whether an event was written (so the next one needs a comma).
    wrote: bool,
    /// Whether the closing bracket was written: later events are dropped.
    closed: bool,
    /// Bytes written, and the most it may write (then one last event says so).
    written: u64,
    max_bytes: u64,
    /// The first write error, reported when the guard closes the file.
    failed: Option<std::io::Error>,
}

impl Writer {
    fn event(&mut self, event: &Value) {
        if self.closed || self.failed.is_some() {
            return;
        }
        let separator = if self.wrote { ",\n" } else { "" };
        self.wrote = true;
        let text = format!("{separator}{event}");
        self.written += text.len() as u64;
        let text = if self.written > self.max_bytes {
            // The last event: a note of the cut, then nothing more.
            self.closed_early(separator)
        } else {
            text
        };
        if let Err(err) = self.file.write_all(text.as_bytes()) {
            self.failed = Some(err);
        }
    }

    fn closed_early(&mut self, separator: &str) -> String {
        let note = json!({
            "ph": "i", "s": "g", "name": "timeline cut here", "ts": 0,
            "args": {"why": format!(
                "the timeline reached its limit of {} MiB (--timeline-max-mib)",
                self.max_bytes >> 20
            )}
        });
        let text = format!("{separator}{note}\n]\n");
        self.closed = true;
        text
    }

    fn close(&mut self) -> Option<std::io::Error> {
        if self.failed.is_none()
            && let Err(err) = self.file.flush()
        {
            self.failed = Some(err);
        }
        if !self.closed {
            self.closed = true;
            if self.failed.is_none()
                && let Err(err) = self
                    .file
                    .write_all(b"\n]\n")
                    .and_then(|()| self.file.flush())
            {
                self.failed = Some(err);
            }
        }
        self.failed.take()
    }
}

/// What a span carries: its slice name and arguments.
struct SliceInfo {
    name: String,
    category: &'static str,
    args: Map<String, Value>,
    /// When the span was entered on this poll, on which thread.
    entered: Option<(Instant, u64)>,
}

struct FieldVisitor<'a> {
    name: &'a mut String,
    args: &'a mut Map<String, Value>,
}

impl Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "name" {
            *self.name = text;
        } else {
            self.args
                .insert(field.name().to_string(), Value::String(text));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "name" {
            *self.name = value.to_string();
        } else {
            self.args
                .insert(field.name().to_string(), Value::String(value.to_string()));
        }
    }
}

/// A small number per thread, stable for the thread's life (Chrome's `tid`).
fn thread_number() -> (u64, bool) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static NUMBER: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    NUMBER.with(|number| match number.get() {
        0 => {
            let fresh = NEXT.fetch_add(1, Ordering::Relaxed);
            number.set(fresh);
            (fresh, true)
        }
        known => (known, false),
    })
}

impl Timeline {
    /// Starts writing the timeline to `path`, at most `max_bytes` of it (then a last
    /// event says it was cut), and makes it the process's `tracing` subscriber.
    /// Dropping the guard closes the file.
    ///
    /// # Errors
    ///
    /// `Io` if the file cannot be created; `Internal` if a subscriber is already set.
    pub fn install(path: &Path, max_bytes: u64) -> Result<TimelineGuard> {
        use tracing_subscriber::layer::SubscriberExt;
        let file = File::create(path).map_err(|err| {
            RayError::io(format!("creating the timeline {}", path.display()), err)
        })?;
        let mut file = BufWriter::new(file);
        file.write_all(b"[\n")
            .map_err(|err| RayError::io(format!("writing the timeline {}", path.display()), err))?;
        let timeline = std::sync::Arc::new(Timeline {
            out: Mutex::new(Writer {
                file,
                wrote: false,
                closed: false,
                written: 0,
                max_bytes,
                failed: None,
            }),
            start: Instant::now(),
            pid: std::process::id(),
            lanes: Mutex::new(Vec::new()),
        });
        let subscriber = tracing_subscriber::registry().with(Shared(timeline.clone()));
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|err| RayError::Internal(format!("installing the timeline: {err}")))?;
        Ok(TimelineGuard {
            timeline,
            path: path.to_path_buf(),
        })
    }

    fn write(&self, event: &Value) {
        if let Ok(mut out) = self.out.lock() {
            out.event(event);
        }
    }

    fn micros(&self, at: Instant) -> f64 {
        at.duration_since(self.start).as_nanos() as f64 / 1000.0
    }

    /// The lane (Chrome `tid`) of a remote task from `start` to `end` (µs): the first
    /// free by `start`, else a new one, named when new.
    fn lane(&self, start: f64, end: f64) -> u64 {
        let Ok(mut lanes) = self.lanes.lock() else {
            return REMOTE_LANES;
        };
        let index = match lanes.iter().position(|free| *free <= start) {
            Some(index) => index,
            None => {
                lanes.push(0.0);
                let index = lanes.len() - 1;
                self.write(&json!({
                    "ph": "M", "name": "thread_name", "pid": self.pid,
                    "tid": REMOTE_LANES + index as u64,
                    "args": {"name": format!("cluster tasks {}", index + 1)}
                }));
                index
            }
        };
        lanes[index] = end;
        REMOTE_LANES + index as u64
    }
}

/// The fields of a remote task's event.
#[derive(Default)]
struct RemoteFields {
    name: String,
    args: Map<String, Value>,
    took_us: u64,
}

impl Visit for RemoteFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        FieldVisitor {
            name: &mut self.name,
            args: &mut self.args,
        }
        .record_debug(field, value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        FieldVisitor {
            name: &mut self.name,
            args: &mut self.args,
        }
        .record_str(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "took_us" {
            self.took_us = value;
        } else {
            self.record_debug(field, &value);
        }
    }
}

/// Closes the timeline file when dropped (or with [`TimelineGuard::finish`]).
pub struct TimelineGuard {
    timeline: std::sync::Arc<Timeline>,
    path: std::path::PathBuf,
}

impl TimelineGuard {
    /// Closes the file, reporting the first error writing it.
    ///
    /// # Errors
    ///
    /// `Io` naming the file.
    pub fn finish(self) -> Result<()> {
        self.close()
    }

    fn close(&self) -> Result<()> {
        let failed = match self.timeline.out.lock() {
            Ok(mut out) => out.close(),
            Err(_) => None,
        };
        match failed {
            Some(err) => Err(RayError::io(
                format!("writing the timeline {}", self.path.display()),
                err,
            )),
            None => Ok(()),
        }
    }
}

impl Drop for TimelineGuard {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// The layer as installed (an `Arc`, so the guard can close the file).
struct Shared(std::sync::Arc<Timeline>);

impl<S> Layer<S> for Shared
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        metadata.target() == TARGET
    }

    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = RemoteFields::default();
        event.record(&mut fields);
        let end = self.0.micros(Instant::now());
        let start = (end - fields.took_us as f64).max(0.0);
        let tid = self.0.lane(start, end);
        self.0.write(&json!({
            "ph": "X",
            "name": fields.name,
            "cat": "task",
            "pid": self.0.pid,
            "tid": tid,
            "ts": start,
            "dur": end - start,
            "args": fields.args,
        }));
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut name = attrs.metadata().name().to_string();
        let mut args = Map::new();
        attrs.record(&mut FieldVisitor {
            name: &mut name,
            args: &mut args,
        });
        let category = if attrs.metadata().name() == "task" {
            "task"
        } else {
            "actor"
        };
        span.extensions_mut().insert(SliceInfo {
            name,
            category,
            args,
            entered: None,
        });
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let (tid, new_thread) = thread_number();
        if new_thread {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("thread").to_string();
            self.0.write(&json!({
                "ph": "M", "name": "thread_name", "pid": self.0.pid, "tid": tid,
                "args": {"name": format!("{name} {tid}")}
            }));
        }
        if let Some(info) = span.extensions_mut().get_mut::<SliceInfo>() {
            info.entered = Some((Instant::now(), tid));
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let now = Instant::now();
        let mut extensions = span.extensions_mut();
        let Some(info) = extensions.get_mut::<SliceInfo>() else {
            return;
        };
        let Some((entered, tid)) = info.entered.take() else {
            return;
        };
        let event = json!({
            "ph": "X",
            "name": info.name,
            "cat": info.category,
            "pid": self.0.pid,
            "tid": tid,
            "ts": self.0.micros(entered),
            "dur": now.duration_since(entered).as_nanos() as f64 / 1000.0,
            "args": info.args,
        });
        drop(extensions);
        self.0.write(&event);
    }
}
