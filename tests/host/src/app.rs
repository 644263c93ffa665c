//! A loaded application and how one request runs through one component instance.
//!
//! Loading reads the manifest, resolves variables, builds the router, compiles and links every
//! component that has an HTTP trigger (failing early on imports the host does not provide or a
//! missing `wasi:http/incoming-handler` export), stages `files` and opens the key-value
//! database. Components without a trigger are not loaded, as in Spin.
//!
//! Each request gets a fresh instance from the component's pre-instantiated `ProxyPre`, with a
//! wall-clock deadline ([`HostOptions::request_timeout`]): the epoch callback traps guest code
//! still running after it (yielding to the async runtime every tick so a busy guest cannot
//! starve others), and the invocation is dropped at the deadline even while the guest waits in
//! a host call. Like Spin, the guest keeps running after it has sent its response head (it may
//! still be streaming the body) until it returns or hits the deadline; a failure before the
//! response is a `500` with an empty body and the cause on stderr.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::{Request, Response, StatusCode};
use tokio::sync::oneshot;
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi_http::WasiHttpView as _;
use wasmtime_wasi_http::bindings::ProxyPre;
use wasmtime_wasi_http::bindings::http::types::Scheme;
use wasmtime_wasi_http::body::{HostIncomingBody, HyperIncomingBody, HyperOutgoingBody};
use wasmtime_wasi_http::types::HostIncomingRequest;

use crate::HostOptions;
use crate::allowed_hosts::AllowedHosts;
use crate::engine;
use crate::files;
use crate::headers;
use crate::instance::InstanceState;
use crate::interfaces::key_value::KeyValueBackend;
use crate::interfaces::sqlite::SqlitePool;
use crate::manifest::{ComponentConfig, DEFAULT_LABEL, Manifest};
use crate::routes::{RouteMatch, Router};
use crate::variables::AppVariables;

/// Wasmtime's default limit on the in-memory size of a request's headers.
const FIELD_SIZE_LIMIT: usize = 2 << 30;

/// How long a guest may wait between chunks of a request body (Wasmtime's default).
const BETWEEN_BYTES_TIMEOUT: Duration = Duration::from_secs(600);

/// Everything a loaded application shares between requests.
pub struct AppInner {
    pub(crate) name: String,
    engine: Engine,
    pub(crate) router: Router,
    components: HashMap<String, Arc<LoadedComponent>>,
    pub(crate) variables: AppVariables,
    pub(crate) key_value: KeyValueBackend,
    /// The default SQLite database (its file is in the data directory unless a runtime config
    /// moved it), with the connections no request holds.
    sqlite: Arc<SqlitePool>,
    request_timeout: Duration,
    self_origin: OnceLock<SocketAddr>,
    /// Keeps the staged `files` alive (deleted when the app is dropped).
    _files: Option<tempfile::TempDir>,
}

/// A compiled, linked component ready to instantiate.
pub struct LoadedComponent {
    pub(crate) config: ComponentConfig,
    pub(crate) allowed_hosts: AllowedHosts,
    pub(crate) files_dir: Option<PathBuf>,
    pre: ProxyPre<InstanceState>,
}

impl AppInner {
    /// Loads the application described by `options` (blocking: compiles components).
    pub fn load(options: HostOptions) -> anyhow::Result<Self> {
        let manifest = Manifest::from_file(&options.manifest)?;
        let variables = AppVariables::resolve(&manifest.variables, &options.variables, |key| {
            std::env::var(key).ok()
        })?;
        let router = Router::build(&manifest.http_triggers)?;

        std::fs::create_dir_all(&options.data_dir).with_context(|| {
            format!(
                "cannot create data directory {}",
                options.data_dir.display()
            )
        })?;
        let data_dir = std::path::absolute(&options.data_dir)?;
        let key_value_path = match &options.stores.key_value {
            Some(path) => std::path::absolute(path)?,
            None => data_dir.join("kv.db"),
        };
        let sqlite_path = match &options.stores.sqlite {
            Some(path) => std::path::absolute(path)?,
            None => data_dir.join("sqlite_db.db"),
        };
        for file in [&key_value_path, &sqlite_path] {
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
        }
        crate::interfaces::sqlite::configure_library();
        let key_value = KeyValueBackend::open(&key_value_path)?;

        let engine = engine::engine()?;
        let linker = engine::linker(&engine)?;
        let component_ids: Vec<&str> = manifest.components.keys().map(String::as_str).collect();
        let triggered: BTreeSet<&str> = manifest
            .http_triggers
            .iter()
            .map(|t| t.component.as_str())
            .collect();
        let files_root = if triggered.iter().any(|id| {
            manifest
                .components
                .get(*id)
                .is_some_and(|c| !c.files.is_empty())
        }) {
            Some(
                tempfile::Builder::new()
                    .prefix("spin-test-host-files-")
                    .tempdir()
                    .context("cannot create a directory for component files")?,
            )
        } else {
            None
        };

        let mut components = HashMap::new();
        for id in triggered {
            let config = manifest
                .components
                .get(id)
                .with_context(|| format!("component '{id}' is not defined"))?;
            let loaded = load_component(
                &engine,
                &linker,
                config,
                &manifest.root,
                &variables,
                &component_ids,
                files_root.as_ref().map(tempfile::TempDir::path),
            )
            .with_context(|| format!("cannot load component '{id}'"))?;
            components.insert(id.to_owned(), Arc::new(loaded));
        }

        Ok(Self {
            name: manifest.name,
            engine,
            router,
            components,
            variables,
            key_value,
            sqlite: SqlitePool::new(sqlite_path),
            request_timeout: options.request_timeout,
            self_origin: OnceLock::new(),
            _files: files_root,
        })
    }

    /// The component `id`, if it has an HTTP trigger.
    pub fn component(&self, id: &str) -> Option<Arc<LoadedComponent>> {
        self.components.get(id).cloned()
    }

    /// The SQLite database `label`, if it exists.
    pub fn sqlite_pool(&self, label: &str) -> Option<Arc<SqlitePool>> {
        (label == DEFAULT_LABEL).then(|| self.sqlite.clone())
    }

    /// The address the app first listened on (the origin of "self" requests).
    pub fn self_origin(&self) -> Option<SocketAddr> {
        self.self_origin.get().copied()
    }

    pub(crate) fn set_self_origin(&self, addr: SocketAddr) {
        // Only the first listener is the origin; later ones are ignored.
        let _ = self.self_origin.set(addr);
    }

    /// Runs `request` through `component`; failures become an empty `500`, logged.
    pub async fn respond(
        self: &Arc<Self>,
        component: Arc<LoadedComponent>,
        route_match: &RouteMatch,
        request: Request<HyperIncomingBody>,
        client_addr: SocketAddr,
    ) -> Response<HyperOutgoingBody> {
        let id = component.config.id.clone();
        match self
            .execute(component, route_match, request, client_addr)
            .await
        {
            Ok(response) => response,
            Err(error) => {
                eprintln!(
                    "spin-test-host: component '{id}' failed to handle the request: {error:#}"
                );
                status_response(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    async fn execute(
        self: &Arc<Self>,
        component: Arc<LoadedComponent>,
        route_match: &RouteMatch,
        request: Request<HyperIncomingBody>,
        client_addr: SocketAddr,
    ) -> anyhow::Result<Response<HyperOutgoingBody>> {
        let (mut parts, body) = request.into_parts();
        headers::apply(&mut parts.headers, &parts.uri, route_match, client_addr)?;

        let limit = self.request_timeout;
        let deadline = Instant::now() + limit;
        let mut store = Store::new(
            &self.engine,
            InstanceState::new(self.clone(), component.clone())?,
        );
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Err(anyhow!("the request exceeded its {limit:?} time limit"))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });

        let proxy = component
            .pre
            .instantiate_async(&mut store)
            .await
            .context("cannot instantiate the component")?;
        let state = store.data_mut();
        let body = HostIncomingBody::new(body, BETWEEN_BYTES_TIMEOUT, FIELD_SIZE_LIMIT);
        let incoming =
            HostIncomingRequest::new(state, parts, Scheme::Http, Some(body), FIELD_SIZE_LIMIT)?;
        let incoming = state.table.push(incoming)?;
        let (response_tx, response_rx) = oneshot::channel();
        let outparam = state.new_response_outparam(response_tx)?;

        let guest = tokio::spawn(async move {
            let call = proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, outparam);
            match tokio::time::timeout_at(deadline.into(), call).await {
                Ok(result) => result,
                Err(_) => Err(anyhow!("the request exceeded its {limit:?} time limit")),
            }
        });

        match response_rx.await {
            Ok(response) => {
                let id = component.config.id.clone();
                tokio::spawn(async move {
                    match guest.await {
                        Ok(Ok(())) => {}
                        Ok(Err(error)) => eprintln!(
                            "spin-test-host: component '{id}' failed after its response started (the response may be cut short): {error:#}"
                        ),
                        Err(join) => {
                            eprintln!("spin-test-host: component '{id}' task failed: {join}")
                        }
                    }
                });
                response.map_err(|code| anyhow!("the guest responded with an error: {code:?}"))
            }
            Err(_) => match guest.await {
                Ok(Ok(())) => bail!("the guest returned without producing a response"),
                Ok(Err(error)) => Err(error.context("guest invocation failed")),
                Err(join) => Err(anyhow!("guest invocation panicked: {join}")),
            },
        }
    }
}

fn load_component(
    engine: &Engine,
    linker: &wasmtime::component::Linker<InstanceState>,
    config: &ComponentConfig,
    app_root: &Path,
    variables: &AppVariables,
    component_ids: &[&str],
    files_root: Option<&Path>,
) -> anyhow::Result<LoadedComponent> {
    let id = &config.id;
    let allowed_hosts =
        AllowedHosts::parse(&config.allowed_outbound_hosts, variables, component_ids)
            .context("`allowed_outbound_hosts` is malformed")?;
    let component = engine::compile(engine, &config.source)?;
    engine::check_imports(engine, id, &component)?;
    let pre = linker
        .instantiate_pre(&component)
        .with_context(|| format!("component '{id}' cannot be linked"))?;
    let pre = ProxyPre::new(pre).with_context(|| {
        format!("component '{id}' does not export wasi:http/incoming-handler@0.2")
    })?;
    let files_dir = match files_root {
        Some(root) if !config.files.is_empty() => {
            let dir = root.join(id);
            files::stage(config, app_root, &dir).context("cannot stage `files`")?;
            Some(dir)
        }
        _ => None,
    };
    Ok(LoadedComponent {
        config: config.clone(),
        allowed_hosts,
        files_dir,
        pre,
    })
}

/// A response with `status` and an empty body.
pub fn status_response(status: StatusCode) -> Response<HyperOutgoingBody> {
    let mut response = Response::new(empty_body());
    *response.status_mut() = status;
    response
}

/// An empty body of the type guests' responses have.
pub fn empty_body() -> HyperOutgoingBody {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A fixed body of the type guests' responses have.
pub fn full_body(bytes: impl Into<Bytes>) -> HyperOutgoingBody {
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}
