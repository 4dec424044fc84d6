//! Outgoing `wasi:http` requests under the allow-list and the limits.
//!
//! `wasmtime-wasi-http` implements the interface; it hands every request to
//! [`WasiHttpHooks::send_request`], which is ours: the request's host and port must
//! be granted (`http://`/`https://` rules, or rules for every protocol), a name is
//! resolved here and each address checked as a socket connect would be (special
//! addresses only if granted themselves), and the connection is made to an address
//! that passed — so a name cannot be re-resolved to somewhere else between the
//! check and the connect. The request and response bodies count towards the bytes
//! sent and received, the connection towards the open connections, and the connect
//! and read timeouts apply. A refusal answers the guest with `HTTP-request-denied`
//! and is reported like any other (see `state.rs`).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Scheme;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::allow::NetProtocol;
use super::state::NetState;

/// The hooks of one instance's `wasi:http`.
pub(crate) struct NetHooks {
    pub(crate) state: Arc<NetState>,
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type Sent = Result<(http::Response<WasiBody>, IoFuture), Error>;

impl WasiHttpHooks for NetHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        Box::new(send(self.state.clone(), request, options))
    }
}

trait Connection: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static> Connection for T {}

/// Counts a connection closed when dropped.
struct Open(Arc<NetState>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.close();
    }
}

async fn send(
    net: Arc<NetState>,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Sent {
    let uri = request.uri().clone();
    let tls = uri.scheme() == Some(&Scheme::HTTPS);
    let host = uri
        .host()
        .ok_or(Error::HttpRequestUriInvalid)?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let limits = *net.limits();
    let connect_timeout = options
        .as_ref()
        .and_then(|o| o.connect_timeout)
        .map_or(limits.connect_timeout, |t| t.min(limits.connect_timeout));
    let read_timeout = options
        .as_ref()
        .and_then(|o| o.first_byte_timeout)
        .map_or(limits.read_timeout, |t| t.min(limits.read_timeout));

    let candidates = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            if !net.check_http_name(&host, port) {
                return Err(Error::HttpRequestDenied);
            }
            let found = tokio::time::timeout(
                connect_timeout,
                tokio::net::lookup_host((host.as_str(), port)),
            )
            .await
            .map_err(|_| Error::DnsTimeout)?
            .map_err(|_| Error::DnsError {
                rcode: None,
                info_code: None,
            })?;
            let addrs: Vec<SocketAddr> =
                found.filter(|addr| net.answer(&host, addr.ip())).collect();
            if addrs.is_empty() {
                return Err(Error::DestinationIpProhibited);
            }
            addrs
        }
    };
    let allowed: Vec<SocketAddr> = candidates
        .into_iter()
        .filter(|addr| net.check_dest(NetProtocol::Http, *addr, "HTTP request to"))
        .collect();
    if allowed.is_empty() {
        return Err(Error::HttpRequestDenied);
    }

    net.open("an HTTP connection")
        .map_err(|_| Error::ConnectionLimitReached)?;
    let open = Open(net.clone());
    let stream = match tokio::time::timeout(connect_timeout, TcpStream::connect(&allowed[..])).await
    {
        Ok(stream) => stream.map_err(Error::Connect)?,
        Err(_) => {
            net.connect_timed_out(&format!("an HTTP connect to {host}:{port}"));
            return Err(Error::ConnectionTimeout);
        }
    };
    let stream: Box<dyn Connection> = if tls {
        Box::new(tls_connect(&host, stream, connect_timeout).await?)
    } else {
        Box::new(stream)
    };
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;

    // The request line carries the path only (the authority is in `Host`).
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = http::Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;
    let request = request.map(|body| {
        CountingBody {
            inner: body,
            net: net.clone(),
            sending: true,
            timeout: None,
        }
        .boxed_unsync()
    });

    let mut conn = Some(Box::pin(conn));
    let mut response = Box::pin(tokio::time::timeout(
        read_timeout,
        sender.send_request(request),
    ));
    // Drive the connection while waiting for the response head.
    let response = std::future::poll_fn(|cx| {
        if let Poll::Ready(done) = response.as_mut().poll(cx) {
            return Poll::Ready(done);
        }
        if let Some(driving) = conn.as_mut()
            && let Poll::Ready(ended) = driving.as_mut().poll(cx)
        {
            conn = None;
            if let Err(err) = ended {
                return Poll::Ready(Ok(Err(err)));
            }
            return response.as_mut().poll(cx);
        }
        Poll::Pending
    })
    .await;
    let response = match response {
        Ok(response) => response?,
        Err(_) => {
            net.read_timed_out(&format!("an HTTP response from {host}:{port}"));
            return Err(Error::ConnectionReadTimeout);
        }
    };
    let response = response.map(|body| {
        CountingBody {
            inner: body.map_err(Error::from).boxed_unsync(),
            net: net.clone(),
            sending: false,
            timeout: Some((read_timeout, Box::pin(tokio::time::sleep(read_timeout)))),
        }
        .boxed_unsync()
    });
    let io: IoFuture = Box::new(async move {
        let _open = open;
        match conn {
            Some(conn) => conn.await.map_err(Error::from),
            None => Ok(()),
        }
    });
    Ok((response, io))
}

async fn tls_connect(
    host: &str,
    stream: TcpStream,
    timeout: Duration,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
    use rustls::pki_types::ServerName;
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = match host.parse::<IpAddr>() {
        Ok(ip) => ServerName::from(ip),
        Err(_) => ServerName::try_from(host.to_string())?,
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    tokio::time::timeout(timeout, connector.connect(name, stream))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Tls)
}

/// A request or response body counting its bytes (and, for a response, timing out
/// when nothing arrives for the read timeout).
struct CountingBody {
    inner: WasiBody,
    net: Arc<NetState>,
    sending: bool,
    timeout: Option<(Duration, Pin<Box<tokio::time::Sleep>>)>,
}

impl Body for CountingBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let counted = if this.sending {
                        this.net.sent(data.len())
                    } else {
                        this.net.received(data.len())
                    };
                    if let Err(hit) = counted {
                        return Poll::Ready(Some(Err(if this.sending {
                            Error::HttpRequestBodySize(Some(hit.value))
                        } else {
                            Error::HttpResponseBodySize(Some(hit.value))
                        })));
                    }
                }
                if let Some((timeout, sleep)) = &mut this.timeout {
                    sleep.as_mut().reset(tokio::time::Instant::now() + *timeout);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                if let Some((_, sleep)) = &mut this.timeout
                    && sleep.as_mut().poll(cx).is_ready()
                {
                    this.net.read_timed_out("an HTTP response body");
                    return Poll::Ready(Some(Err(Error::ConnectionReadTimeout)));
                }
                Poll::Pending
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
