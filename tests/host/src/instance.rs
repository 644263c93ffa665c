//! The state behind one component instance (one per request), and its outbound HTTP.
//!
//! Outbound requests are checked the way Spin's `factor-outbound-http` checks them, before
//! anything is sent:
//!
//! 1. A URL without a host (or with host `self.alt`) is a "self" request; it needs `self` (or
//!    `*`) in `allowed_outbound_hosts` and goes to this host's own listening address over
//!    the network, as in Spin. Without a listening address (an app used only in-process) it
//!    fails with `HTTP-request-URI-invalid`, as Spin does without a self origin.
//! 2. Any other URL must match `allowed_outbound_hosts`, else `HTTP-request-denied`.
//! 3. An allowed `http://<component>.spin.internal/...` request runs that component
//!    in-process (service chaining) as if its route were `/...`; an allowed chaining request
//!    to a component with no HTTP trigger traps the caller, as it does in Spin.
//! 4. Everything else goes out through `wasmtime-wasi-http`'s default client.
//!
//! Outbound requests carry `Host: <authority>` (Spin's client sets it from the URL); a
//! service-chaining request carries none, as in Spin. Raw sockets (`wasi:sockets`) are linked but every address is refused: Spin
//! would allow TCP to hosts in `allowed_outbound_hosts`, this host does not.

use std::sync::Arc;

use anyhow::Context as _;
use http::uri::{Authority, Scheme};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{DirPerms, FilePerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::body::HyperOutgoingBody;
use wasmtime_wasi_http::types::{
    HostFutureIncomingResponse, IncomingResponse, OutgoingRequestConfig, default_send_request,
};
use wasmtime_wasi_http::{HttpError, HttpResult, WasiHttpCtx, WasiHttpView};

use crate::allowed_hosts::service_chaining_target;
use crate::app::{AppInner, LoadedComponent};
use crate::headers::CHAINED_CLIENT_ADDR;
use crate::routes::RouteMatch;
use crate::stdio::ComponentOutput;

/// Store data for one instance.
pub struct InstanceState {
    pub(crate) table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    /// The component being run.
    pub(crate) component: Arc<LoadedComponent>,
    /// The application, for shared state and service chaining.
    pub(crate) app: Arc<AppInner>,
}

impl InstanceState {
    /// Fresh state for one instance of `component`.
    pub fn new(app: Arc<AppInner>, component: Arc<LoadedComponent>) -> anyhow::Result<Self> {
        let mut wasi = WasiCtxBuilder::new();
        let output = ComponentOutput::new(&component.config.id);
        wasi.stdout(output.clone()).stderr(output);
        wasi.envs(&component.config.environment.iter().collect::<Vec<_>>());
        if let Some(dir) = &component.files_dir {
            wasi.preopened_dir(dir, "/", DirPerms::READ, FilePerms::READ)
                .with_context(|| format!("cannot mount {}", dir.display()))?;
        }
        Ok(Self {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            component,
            app,
        })
    }
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for InstanceState {
    fn ctx(&mut self) -> &mut WasiHttpCtx {
        &mut self.http
    }

    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    fn send_request(
        &mut self,
        mut request: hyper::Request<HyperOutgoingBody>,
        config: OutgoingRequestConfig,
    ) -> HttpResult<HostFutureIncomingResponse> {
        let id = &self.component.config.id;
        // wasmtime-wasi-http fills in an empty authority for relative URLs.
        let host = request
            .uri()
            .authority()
            .map(|a| a.host().to_owned())
            .filter(|h| !h.is_empty());
        let is_self = host.as_deref().is_none_or(|h| h == "self.alt");

        let allowed = if is_self {
            self.component
                .allowed_hosts
                .allows_relative(&["http", "https"])
        } else {
            let scheme = request.uri().scheme_str().unwrap_or("https");
            let port = request.uri().port_u16();
            host.as_deref()
                .is_some_and(|h| self.component.allowed_hosts.allows(scheme, h, port))
        };
        if !allowed {
            eprintln!(
                "spin-test-host: component '{id}' tried to make an HTTP request to {}, which is not in its allowed_outbound_hosts {:?}",
                if is_self {
                    "itself (a relative URL)".to_owned()
                } else {
                    request.uri().to_string()
                },
                self.component.allowed_hosts.describe(),
            );
            return Ok(ready(Err(ErrorCode::HttpRequestDenied)));
        }

        if is_self {
            let Some(origin) = self.app.self_origin() else {
                eprintln!(
                    "spin-test-host: component '{id}' made a relative request, but the app is not listening on an address"
                );
                return Ok(ready(Err(ErrorCode::HttpRequestUriInvalid)));
            };
            let mut parts = request.uri().clone().into_parts();
            parts.scheme = Some(Scheme::HTTP);
            parts.authority = Some(
                Authority::try_from(origin.to_string())
                    .map_err(|_| HttpError::from(ErrorCode::HttpRequestUriInvalid))?,
            );
            *request.uri_mut() = http::Uri::from_parts(parts)
                .map_err(|_| HttpError::from(ErrorCode::HttpRequestUriInvalid))?;
            let host = http::HeaderValue::try_from(origin.to_string())
                .map_err(|_| HttpError::from(ErrorCode::HttpRequestUriInvalid))?;
            request.headers_mut().insert(http::header::HOST, host);
            let config = OutgoingRequestConfig {
                use_tls: false,
                ..config
            };
            return Ok(default_send_request(request, config));
        }

        if let Some(target) = host.as_deref().and_then(service_chaining_target) {
            let target = target.to_owned();
            request.headers_mut().remove(http::header::HOST);
            let app = self.app.clone();
            let between_bytes_timeout = config.between_bytes_timeout;
            let handle = wasmtime_wasi::runtime::spawn(async move {
                let Some(component) = app.component(&target) else {
                    anyhow::bail!(
                        "service chaining to '{target}', which is not a component with an HTTP trigger"
                    );
                };
                let path = request.uri().path().to_owned();
                let route_match = RouteMatch::synthetic(&target, &path);
                let response = app
                    .respond(component, &route_match, request, CHAINED_CLIENT_ADDR)
                    .await;
                Ok(Ok(IncomingResponse {
                    resp: response,
                    worker: None,
                    between_bytes_timeout,
                }))
            });
            return Ok(HostFutureIncomingResponse::pending(handle));
        }

        Ok(default_send_request(request, config))
    }
}

fn ready(result: Result<IncomingResponse, ErrorCode>) -> HostFutureIncomingResponse {
    HostFutureIncomingResponse::ready(Ok(result))
}
