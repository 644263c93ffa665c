//! A Spin-compatible host for running this project's Wasm components in tests, browsers and
//! load tests, on machines without the Spin CLI.
//!
//! It reads `spin.toml` (manifest version 2), compiles each component with an HTTP trigger
//! once, and serves HTTP the way `spin up` does: Spin's route matching and `spin-*` request
//! headers, one fresh instance per request, service chaining through
//! `http://<component>.spin.internal`, `allowed_outbound_hosts` enforcement, and the
//! `fermyon:spin@2.0.0` key-value, SQLite, variables and LLM interfaces backed by SQLite files
//! in a data directory. Each module's documentation states the Spin behaviour it follows and
//! anything it could not match.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use spin_test_host::{App, HostOptions};
//!
//! let mut options = HostOptions::new("spin.toml", "/tmp/app-data");
//! options.variables.insert("admin_email".into(), "admin@example.com".into());
//! let app = App::load(options).await?;
//! let server = app.serve("127.0.0.1:0".parse()?).await?;
//! println!("listening on http://{}", server.addr);
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - [`App`], [`HostOptions`], [`ServerHandle`]: the public API (this file and `server`).
//! - `manifest`: reading and validating `spin.toml`.
//! - `variables`: application variables, `{{ name }}` templates, `SPIN_VARIABLE_*`.
//! - `routes`: Spin's route matching and the values behind the `spin-*` headers.
//! - `headers`: the `spin-*` request headers.
//! - `allowed_hosts`: `allowed_outbound_hosts` parsing and matching.
//! - `engine`: the process-wide Wasmtime engine, compilation cache, linker, import checks.
//! - `app`: loading an application and running one request through one instance.
//! - `instance`: per-instance state and outbound HTTP (allow-list, chaining, self requests).
//! - `interfaces`: the `fermyon:spin` interfaces (`key_value`, `sqlite`, `variables`, `llm`).
//! - `files`: staging a component's `files` for its read-only `/` mount.
//! - `stdio`: guest stdout/stderr to the host's stderr, prefixed with the component id.
//! - `server`: the HTTP listener and the handling of requests from outside.

mod allowed_hosts;
mod app;
mod engine;
mod files;
mod headers;
mod instance;
mod interfaces;
mod manifest;
mod routes;
mod runtime_config;
mod server;
mod stdio;
mod variables;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

pub use runtime_config::StorePaths;
pub use server::ServerHandle;

/// The default wall-clock limit on one request (instantiation, handling and body streaming).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What to run and where to keep its state.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// The application manifest (`spin.toml`); relative paths in it are resolved against its
    /// directory.
    pub manifest: PathBuf,
    /// Where the key-value store (`kv.db`) and the default SQLite database (`sqlite_db.db`)
    /// live. Two hosts over one directory share both.
    pub data_dir: PathBuf,
    /// Application variable values that take precedence over `SPIN_VARIABLE_*` and defaults.
    /// Names the manifest does not declare are ignored (with a warning), as Spin ignores
    /// undeclared `SPIN_VARIABLE_*` values.
    pub variables: HashMap<String, String>,
    /// Wall-clock limit on one request; a guest still running after it is stopped.
    pub request_timeout: Duration,
    /// Store files a runtime config (`--runtime-config-file`) places outside `data_dir`.
    pub stores: StorePaths,
}

impl HostOptions {
    /// Options with no variable overrides and the default request timeout (60 s).
    pub fn new(manifest: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            manifest: manifest.into(),
            data_dir: data_dir.into(),
            variables: HashMap::new(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            stores: StorePaths::default(),
        }
    }
}

/// A loaded, compiled application. Cheap to clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<app::AppInner>,
}

impl App {
    /// Loads the manifest, resolves variables, compiles and links the components and opens
    /// the data directory. Fails on anything Spin would refuse at startup and on imports this
    /// host does not provide.
    pub async fn load(options: HostOptions) -> anyhow::Result<App> {
        let inner = tokio::task::spawn_blocking(move || app::AppInner::load(options))
            .await
            .context("the loading task failed")??;
        Ok(App {
            inner: Arc::new(inner),
        })
    }

    /// Binds and serves in a spawned tokio task; returns the bound address and a handle that
    /// stops the server when dropped or `.shutdown().await`ed.
    pub async fn serve(&self, addr: SocketAddr) -> anyhow::Result<ServerHandle> {
        server::serve(self.inner.clone(), addr).await
    }

    /// Runs one request through component `id` exactly as a service-chained call
    /// (`http://<id>.spin.internal<path_and_query>`) reaches it, private components included.
    /// For benchmarks and tests of an internal component on its own; returns status and body.
    pub async fn call_component(
        &self,
        id: &str,
        method: http::Method,
        path_and_query: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        use http_body_util::{BodyExt as _, Full};
        let component = self
            .inner
            .component(id)
            .with_context(|| format!("no component '{id}' with an HTTP trigger"))?;
        let body = Full::new(bytes::Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync();
        let request = http::Request::builder()
            .method(method)
            .uri(format!("http://{id}.spin.internal{path_and_query}"))
            .body(body)?;
        let path = path_and_query.split('?').next().unwrap_or(path_and_query);
        let route_match = routes::RouteMatch::synthetic(id, path);
        let response = self
            .inner
            .respond(
                component,
                &route_match,
                request,
                headers::CHAINED_CLIENT_ADDR,
            )
            .await;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading the response: {e:?}"))?
            .to_bytes();
        Ok((status, bytes.to_vec()))
    }

    /// The application name from the manifest.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The public routes as `(route, component)`, most specific first.
    pub fn routes(&self) -> Vec<(String, String)> {
        self.inner
            .router
            .routes()
            .map(|(route, component)| (route.to_owned(), component.to_owned()))
            .collect()
    }
}
