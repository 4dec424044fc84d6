//! Text a guest chose, made safe to print on a terminal.
//!
//! Function names, actor names, signatures, error messages and output lines come
//! from guests; printed raw, an escape sequence in one of them could clear the
//! screen, move the cursor, retitle the window or hide text (and right-to-left
//! overrides can make text read differently than it is). Everything the CLI prints
//! on a guest's behalf goes through here: control characters (C0, DEL, C1) and
//! Unicode bidirectional controls are shown as `\u{1b}`, never sent. The CLI sends
//! a program's own stdout and stderr through [`EscapedStdio`] too (newlines and
//! tabs pass; `--raw-output` opts out, for a program that writes binary data).

use std::borrow::Cow;
use std::io::{self, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::output::Stream;

/// Whether `c` may reach a terminal as is (`keep` lists the allowed controls).
fn harmless(c: char, keep: &[char]) -> bool {
    if keep.contains(&c) {
        return true;
    }
    !(c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
}

fn escape_keeping<'a>(text: &'a str, keep: &[char]) -> Cow<'a, str> {
    if text.chars().all(|c| harmless(c, keep)) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if harmless(c, keep) {
            escaped.push(c);
        } else {
            escaped.extend(c.escape_unicode());
        }
    }
    Cow::Owned(escaped)
}

/// A name or signature, on one line: every control character escaped.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_keeping(text, &[])
}

/// A message or a line of output: newlines and tabs kept, other controls escaped.
pub fn escape_text(text: &str) -> Cow<'_, str> {
    escape_keeping(text, &['\n', '\t'])
}

/// Bytes a guest wrote, as text (invalid UTF-8 replaced), with only tabs kept.
pub fn escape_line(bytes: &[u8]) -> String {
    escape_keeping(&String::from_utf8_lossy(bytes), &['\t']).into_owned()
}

/// A driver's stdout or stderr, passed to the process's own with [`escape_text`]
/// applied (a UTF-8 sequence split across writes is held back until complete).
#[derive(Clone)]
pub(crate) struct EscapedStdio {
    stream: Stream,
    /// An incomplete UTF-8 sequence at the end of the last write.
    carry: Arc<Mutex<Vec<u8>>>,
}

impl EscapedStdio {
    pub(crate) fn new(stream: Stream) -> Self {
        EscapedStdio {
            stream,
            carry: Arc::default(),
        }
    }

    fn write_escaped(&self, bytes: &[u8]) -> io::Result<()> {
        let mut carry = self
            .carry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        carry.extend_from_slice(bytes);
        let mut text = String::with_capacity(carry.len());
        let mut rest: &[u8] = &carry;
        loop {
            match std::str::from_utf8(rest) {
                Ok(valid) => {
                    text.push_str(&escape_text(valid));
                    rest = &[];
                    break;
                }
                Err(err) => {
                    let (valid, after) = rest.split_at(err.valid_up_to());
                    text.push_str(&escape_text(&String::from_utf8_lossy(valid)));
                    match err.error_len() {
                        Some(bad) => {
                            text.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[bad..];
                        }
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        let kept = rest.to_vec();
        *carry = kept;
        drop(carry);
        match self.stream {
            Stream::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(text.as_bytes())?;
                out.flush()
            }
            Stream::Stderr => io::stderr().lock().write_all(text.as_bytes()),
        }
    }
}

impl IsTerminal for EscapedStdio {
    fn is_terminal(&self) -> bool {
        match self.stream {
            Stream::Stdout => io::IsTerminal::is_terminal(&io::stdout()),
            Stream::Stderr => io::IsTerminal::is_terminal(&io::stderr()),
        }
    }
}

impl StdoutStream for EscapedStdio {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for EscapedStdio {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        // A closed pipe is not the guest's problem.
        let _ = self.write_escaped(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 << 10)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for EscapedStdio {
    async fn ready(&mut self) {}
}

impl AsyncWrite for EscapedStdio {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let _ = self.write_escaped(buf);
        Poll::Ready(Ok(buf.len()))
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

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_line(b"plain\ttext"), "plain\ttext");
        assert_eq!(escape_line(b"\x1b[2Jgone\r"), "\\u{1b}[2Jgone\\u{d}");
        assert_eq!(escape_line("\u{9b}31m".as_bytes()), "\\u{9b}31m");
        assert_eq!(escape("a\nb\tc\u{7f}"), "a\\u{a}b\\u{9}c\\u{7f}");
        assert_eq!(escape_text("a\nb\x07"), "a\nb\\u{7}");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert!(matches!(escape("fn add(a: i32)"), Cow::Borrowed(_)));
    }
}
