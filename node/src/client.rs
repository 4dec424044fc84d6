//! The CLI's side of the node's API: a small blocking HTTP client (ureq) that finds the
//! node (`--address`, else `RUSTYRAY_ADDRESS`, else `http://127.0.0.1:8265`), carries
//! the token, turns the node's JSON errors back into one-line messages, shows upload
//! progress, and follows a job's log stream.

use std::io::Read;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ErrorBody, NodeError, Result};

/// The default address, Ray's dashboard port on loopback.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:8265";

/// A connection to one node.
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// A client of the node at `address`, with the token in `token_file` if given.
    pub fn new(address: &str, token_file: Option<&Path>) -> Result<Self> {
        let token = token_file.map(crate::token::read).transpose()?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Client {
            base: address.trim_end_matches('/').to_string(),
            token,
            agent,
        })
    }

    /// The node's address.
    pub fn address(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn auth<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(token) => request.header("Authorization", format!("Bearer {token}")),
            None => request,
        }
    }

    fn failed(&self, err: ureq::Error) -> NodeError {
        match err {
            ureq::Error::Io(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Timeout(_) => NodeError::NoNode {
                address: self.base.clone(),
                cause: err.to_string(),
            },
            other => NodeError::io(format!("talking to {}", self.base), other),
        }
    }

    /// The body as `T`, or the node's error.
    fn answer<T: DeserializeOwned>(
        &self,
        response: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T> {
        let mut response = response.map_err(|err| self.failed(err))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .map_err(|err| self.failed(err))?;
        if status == 401 {
            return Err(NodeError::Unauthorized);
        }
        if !(200..300).contains(&status) {
            let message = match serde_json::from_slice::<ErrorBody>(&body) {
                Ok(error) => error.message,
                Err(_) => String::from_utf8_lossy(&body).chars().take(500).collect(),
            };
            return Err(NodeError::Remote { status, message });
        }
        serde_json::from_slice(&body).map_err(|err| NodeError::Remote {
            status,
            message: format!(
                "an answer that is not what a rustyray node sends ({err}): is {} a rustyray node?",
                self.base
            ),
        })
    }

    /// `GET path` as JSON.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.answer(self.auth(self.agent.get(self.url(path))).call())
    }

    /// `POST path` with a JSON body.
    pub fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        let json = serde_json::to_vec(body).map_err(|err| NodeError::io("encoding", err))?;
        self.answer(
            self.auth(self.agent.post(self.url(path)))
                .header("Content-Type", "application/json")
                .send(&json[..]),
        )
    }

    /// `DELETE path`.
    pub fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.answer(self.auth(self.agent.delete(self.url(path))).call())
    }

    /// Uploads a module, with a progress bar on a terminal.
    pub fn deploy(&self, bytes: &[u8], name: &str) -> Result<crate::api::ModuleInfo> {
        let bar = indicatif::ProgressBar::new(bytes.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "uploading {msg} {bar:30} {bytes}/{total_bytes}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(name.to_string());
        let mut reader = bar.wrap_read(bytes);
        let path = format!("/api/modules?name={}", url_encode(name));
        let result = self.answer(
            self.auth(self.agent.post(self.url(&path)))
                .header("Content-Type", "application/wasm")
                .send(ureq::SendBody::from_reader(&mut reader)),
        );
        bar.finish_and_clear();
        result
    }

    /// Follows `GET path` (a stream), handing each chunk to `sink` until it ends or
    /// `sink` returns false.
    pub fn follow(&self, path: &str, mut sink: impl FnMut(&[u8]) -> bool) -> Result<()> {
        let response = self
            .auth(self.agent.get(self.url(path)))
            .call()
            .map_err(|err| self.failed(err))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return self.answer::<serde_json::Value>(Ok(response)).map(|_| ());
        }
        let mut reader = response.into_body().into_reader();
        let mut buffer = vec![0u8; 16 << 10];
        loop {
            match reader.read(&mut buffer) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    if !sink(&buffer[..n]) {
                        return Ok(());
                    }
                }
                Err(err) => return Err(NodeError::io("reading the log stream", err)),
            }
        }
    }
}

/// Percent-encodes a query value.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
