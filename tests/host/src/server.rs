//! The HTTP/1.1 listener: accepts connections and hands each request to the app.
//!
//! Per request, as Spin's `spin-trigger-http` server does:
//!
//! - A `Host` header naming a `*.spin.internal` host is dropped and `Connection` is removed.
//! - `/.well-known/spin/health` answers `OK`; `/.well-known/spin/info` answers a small JSON
//!   document; other paths under `/.well-known/spin/` are `404`.
//! - A path no public route matches is `404` with an empty body (private routes are never
//!   matched from outside, whatever the `Host` header says).
//! - The request URI gets scheme `http` and the authority from the `Host` header. A request
//!   without one (HTTP/1.0), or whose `Host` disagrees with an absolute URI, fails in Spin with
//!   the connection closed; here it is a `400` with an empty body.
//!
//! [`ServerHandle`] stops accepting and drops open connections when shut down or dropped.
//! Guest invocations already running are not cancelled: they finish or hit their deadline.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use http::uri::{Authority, Scheme};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use wasmtime_wasi_http::body::HyperOutgoingBody;

use crate::allowed_hosts::service_chaining_target;
use crate::app::{AppInner, full_body, status_response};
use crate::routes::WELL_KNOWN_PREFIX;

/// A running server. Dropping it (or awaiting [`ServerHandle::shutdown`]) stops it.
pub struct ServerHandle {
    /// The address the server listens on (with the real port when `:0` was asked for).
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// Stops accepting connections, closes the open ones and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // The task only ends by being told to; a panic inside it has nothing to return.
            let _ = task.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Binds `addr` and serves `app` on a spawned task.
pub async fn serve(app: Arc<AppInner>, addr: SocketAddr) -> anyhow::Result<ServerHandle> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    app.set_self_origin(addr);
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        connections.spawn(serve_connection(app.clone(), stream, peer));
                    }
                    Err(error) => {
                        // Typically out of file descriptors: back off instead of spinning.
                        eprintln!("spin-test-host: accept failed: {error}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        // Dropping the set aborts the connections still open.
        drop(connections);
    });
    Ok(ServerHandle {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}

async fn serve_connection(app: Arc<AppInner>, stream: tokio::net::TcpStream, peer: SocketAddr) {
    let service = service_fn(move |request| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(handle(&app, request, peer).await) }
    });
    if let Err(error) = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await
        && !error.is_incomplete_message()
    {
        eprintln!("spin-test-host: connection from {peer}: {error}");
    }
}

/// Handles one request from outside.
pub async fn handle(
    app: &Arc<AppInner>,
    request: Request<Incoming>,
    client_addr: SocketAddr,
) -> Response<HyperOutgoingBody> {
    let (mut parts, body) = request.into_parts();
    if parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| service_chaining_target(host).is_some())
    {
        parts.headers.remove(http::header::HOST);
    }
    parts.headers.remove(http::header::CONNECTION);

    let path = parts.uri.path().to_owned();
    if let Some(well_known) = path.strip_prefix(WELL_KNOWN_PREFIX) {
        return match well_known {
            "health" => Response::new(full_body("OK")),
            "info" => {
                let mut response = Response::new(full_body(format!(
                    "{{\"name\":{:?},\"host\":\"spin-test-host\"}}",
                    app.name
                )));
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                response
            }
            _ => status_response(StatusCode::NOT_FOUND),
        };
    }

    let Some(route_match) = app.router.route(&path) else {
        return status_response(StatusCode::NOT_FOUND);
    };
    let Some(component) = app.component(route_match.component()) else {
        eprintln!(
            "spin-test-host: route {} names component '{}', which is not loaded",
            route_match.raw_route(),
            route_match.component()
        );
        return status_response(StatusCode::INTERNAL_SERVER_ERROR);
    };
    if let Err(error) = set_uri_authority(&mut parts) {
        eprintln!("spin-test-host: bad request for {path}: {error:#}");
        return status_response(StatusCode::BAD_REQUEST);
    }
    let body = body
        .map_err(wasmtime_wasi_http::hyper_response_error)
        .boxed_unsync();
    let request = Request::from_parts(parts, body);
    app.respond(component, &route_match, request, client_addr)
        .await
}

/// Gives the request URI scheme `http` and the authority from the `Host` header.
fn set_uri_authority(parts: &mut http::request::Parts) -> anyhow::Result<()> {
    let header_authority = parts
        .headers
        .get(http::header::HOST)
        .map(|h| -> anyhow::Result<Authority> {
            let host = h.to_str().context("'Host' header is not valid UTF-8")?;
            host.parse()
                .context("'Host' header contains an invalid authority")
        })
        .transpose()?;
    let uri_authority = parts.uri.authority().cloned();
    let authority = match (header_authority, uri_authority) {
        (None, None) => anyhow::bail!("no 'Host' header present in request"),
        (None, Some(a)) | (Some(a), None) => a,
        (Some(header), Some(uri)) => {
            anyhow::ensure!(
                header == uri,
                "authority in 'Host' header does not match authority in URI"
            );
            header
        }
    };
    let mut uri = parts.uri.clone().into_parts();
    uri.scheme = Some(Scheme::HTTP);
    uri.authority = Some(authority);
    if uri.path_and_query.is_none() {
        uri.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    }
    parts.uri = http::Uri::from_parts(uri).context("cannot rebuild the request URI")?;
    Ok(())
}
