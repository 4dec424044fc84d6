//! The transport a node's drivers use: one connection to the node's unix socket per
//! request. The socket is the node's own (in a private 0700 directory), so only
//! processes of its user reach it, and guests never do: WASI gives them TCP and UDP at
//! most, through the network grants.

use std::path::PathBuf;

use tokio::net::UnixStream;

use crate::actor_impl::ActorId;
use crate::error::{RayError, Result};
use crate::remote::wire::{self, CreateRequest, RemoteActor, Request, Response, WireValue};
use crate::remote::{ActorTransport, Pending};

/// Reaches the actors a node hosts through its unix socket.
#[derive(Debug, Clone)]
pub struct SocketTransport {
    path: PathBuf,
    owner: Option<String>,
}

impl SocketTransport {
    /// The transport to the socket at `path` (nothing is connected yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SocketTransport {
            path: path.into(),
            owner: None,
        }
    }

    /// The actors it creates belong to job `job` (a non-detached one ends with it).
    pub fn with_owner(mut self, job: impl Into<String>) -> Self {
        self.owner = Some(job.into());
        self
    }

    async fn exchange(&self, request: Request) -> Result<Response> {
        let unreachable = |err: std::io::Error| RayError::Io {
            context: format!(
                "reaching the node's detached actors at {}",
                self.path.display()
            ),
            message: err.to_string(),
        };
        let mut stream = UnixStream::connect(&self.path).await.map_err(unreachable)?;
        wire::write_frame(&mut stream, &request)
            .await
            .map_err(unreachable)?;
        match wire::read_frame::<Response>(&mut stream)
            .await
            .map_err(unreachable)?
        {
            Some(Response::Failed(err)) => Err(err.into()),
            Some(response) => Ok(response),
            None => Err(unreachable(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the node closed the connection without an answer",
            ))),
        }
    }
}

fn unexpected(response: Response) -> RayError {
    RayError::Remote(format!("unexpected answer from the node: {response:?}"))
}

impl ActorTransport for SocketTransport {
    fn create(&self, mut request: CreateRequest) -> Pending<'_, RemoteActor> {
        Box::pin(async move {
            request.owner = self.owner.clone();
            match self.exchange(Request::Create(request)).await? {
                Response::Actor(Some(actor)) => Ok(actor),
                other => Err(unexpected(other)),
            }
        })
    }

    fn lookup(&self, namespace: String, name: String) -> Pending<'_, Option<RemoteActor>> {
        Box::pin(async move {
            match self.exchange(Request::Lookup { namespace, name }).await? {
                Response::Actor(actor) => Ok(actor),
                other => Err(unexpected(other)),
            }
        })
    }

    fn call(
        &self,
        actor: ActorId,
        method: String,
        args: Vec<WireValue>,
        want_result: bool,
    ) -> Pending<'_, WireValue> {
        Box::pin(async move {
            let request = Request::Call {
                actor,
                method,
                args,
                want_result,
                caller_node: None,
            };
            match self.exchange(request).await? {
                Response::Value(value) => Ok(value),
                Response::Done => Ok(WireValue {
                    raw: false,
                    data: bytes::Bytes::from_static(crate::codec::UNIT),
                    held: None,
                    refs: Vec::new(),
                }),
                other => Err(unexpected(other)),
            }
        })
    }

    fn locate(&self, actor: ActorId) -> Pending<'_, Option<RemoteActor>> {
        Box::pin(async move {
            match self.exchange(Request::Locate { actor }).await? {
                Response::Actor(actor) => Ok(actor),
                other => Err(unexpected(other)),
            }
        })
    }

    fn kill(&self, actor: ActorId, no_restart: bool) -> Pending<'_, ()> {
        Box::pin(async move {
            match self.exchange(Request::Kill { actor, no_restart }).await? {
                Response::Done => Ok(()),
                other => Err(unexpected(other)),
            }
        })
    }
}
