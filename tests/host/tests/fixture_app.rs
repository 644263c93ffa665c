//! Runs the real fixture component (`fixtures/echo`, built here for `wasm32-wasip2`) through
//! the host over HTTP, the way the end-to-end tests use it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use spin_test_host::{App, HostOptions, ServerHandle};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/echo")
}

/// Builds the fixture once per test binary.
fn build_fixture() -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = fixture_dir();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args([
                    "build",
                    "--release",
                    "--target",
                    "wasm32-wasip2",
                    "--manifest-path",
                ])
                .arg(dir.join("Cargo.toml"))
                .arg("--target-dir")
                .arg(dir.join("target"))
                .env_remove("CARGO_TARGET_DIR")
                .env_remove("RUSTFLAGS")
                .env_remove("CARGO_ENCODED_RUSTFLAGS")
                .status()
                .map_err(|e| format!("cannot run cargo: {e}"))?;
            if !status.success() {
                return Err(format!("building the fixture failed: {status}"));
            }
            Ok(dir.join("spin.toml"))
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

struct TestApp {
    server: ServerHandle,
    _data: tempfile::TempDir,
}

fn options(data_dir: &Path) -> anyhow::Result<HostOptions> {
    let mut options = HostOptions::new(build_fixture()?, data_dir);
    options.variables.insert("token".into(), "s3cret".into());
    Ok(options)
}

async fn spawn(configure: impl FnOnce(&mut HostOptions)) -> anyhow::Result<TestApp> {
    let data = tempfile::tempdir()?;
    let mut options = options(data.path())?;
    configure(&mut options);
    let app = App::load(options).await?;
    let server = app.serve(([127, 0, 0, 1], 0).into()).await?;
    Ok(TestApp {
        server,
        _data: data,
    })
}

struct Reply {
    status: u16,
    body: String,
}

async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    host: Option<&str>,
    body: &str,
) -> anyhow::Result<Reply> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let host = host.map_or_else(|| addr.to_string(), str::to_owned);
    let request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", host)
        .body(Full::new(Bytes::from(body.to_owned())))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Reply {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

async fn get(app: &TestApp, path: &str) -> anyhow::Result<Reply> {
    request(app.server.addr, "GET", path, None, "").await
}

/// The value of `name` in a `name: value` per line listing.
fn line<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
}

#[tokio::test]
async fn wildcard_routes_get_spins_headers() -> anyhow::Result<()> {
    let app = spawn(|_| {}).await?;
    let reply = get(&app, "/echo/headers?x=1").await?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let b = &reply.body;
    assert_eq!(line(b, "spin-path-info"), Some("/headers"));
    assert_eq!(line(b, "spin-matched-route"), Some("/echo/..."));
    assert_eq!(line(b, "spin-raw-component-route"), Some("/echo/..."));
    assert_eq!(line(b, "spin-component-route"), Some("/echo"));
    assert_eq!(line(b, "spin-base-path"), Some("/"));
    let full_url = format!("http://{}/echo/headers?x=1", app.server.addr);
    assert_eq!(line(b, "spin-full-url"), Some(full_url.as_str()));
    let client = line(b, "spin-client-addr").context("client address")?;
    assert!(client.starts_with("127.0.0.1:"), "{client}");
    assert_ne!(
        client,
        app.server.addr.to_string(),
        "the peer, not the server"
    );
    Ok(())
}

#[tokio::test]
async fn exact_and_named_segment_routes() -> anyhow::Result<()> {
    let app = spawn(|_| {}).await?;
    let reply = get(&app, "/exact").await?;
    assert_eq!(reply.status, 200);
    assert_eq!(line(&reply.body, "spin-matched-route"), Some("/exact"));
    assert_eq!(line(&reply.body, "spin-path-info"), Some(""));

    let reply = get(&app, "/users/42/headers").await?;
    assert_eq!(line(&reply.body, "spin-path-match-user-id"), Some("42"));
    assert_eq!(line(&reply.body, "spin-path-info"), Some("/headers"));
    assert_eq!(
        line(&reply.body, "spin-component-route"),
        Some("/users/:user_id")
    );
    Ok(())
}

#[tokio::test]
async fn unmatched_and_private_routes_are_not_found_from_outside() -> anyhow::Result<()> {
    let app = spawn(|_| {}).await?;
    assert_eq!(get(&app, "/nothing/here").await?.status, 404);
    assert_eq!(get(&app, "/exact/more").await?.status, 404);
    assert_eq!(
        get(&app, "/headers").await?.status,
        404,
        "backend is private"
    );
    let spoofed = request(
        app.server.addr,
        "GET",
        "/headers",
        Some("backend.spin.internal"),
        "",
    )
    .await?;
    assert_eq!(
        spoofed.status, 404,
        "a spoofed Host does not reach the private component"
    );
    assert_eq!(get(&app, "/.well-known/spin/health").await?.body, "OK");
    Ok(())
}

#[tokio::test]
async fn key_value_round_trips_and_is_shared_by_apps_on_one_data_dir() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let first = App::load(options(data.path())?).await?;
    let second = App::load(options(data.path())?).await?;
    let a = first.serve(([127, 0, 0, 1], 0).into()).await?;
    let b = second.serve(([127, 0, 0, 1], 0).into()).await?;

    assert_eq!(
        request(a.addr, "GET", "/echo/kv/greeting", None, "")
            .await?
            .status,
        404
    );
    let put = request(a.addr, "PUT", "/echo/kv/greeting", None, "hej").await?;
    assert_eq!((put.status, put.body.as_str()), (200, "stored"));
    let read = request(b.addr, "GET", "/echo/kv/greeting", None, "").await?;
    assert_eq!((read.status, read.body.as_str()), (200, "hej"));
    request(b.addr, "DELETE", "/echo/kv/greeting", None, "").await?;
    assert_eq!(
        request(a.addr, "GET", "/echo/kv/greeting", None, "")
            .await?
            .status,
        404
    );
    assert!(data.path().join("kv.db").exists());
    Ok(())
}

#[tokio::test]
async fn a_runtime_config_moves_both_stores_out_of_the_data_dir() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let elsewhere = tempfile::tempdir()?;
    let config = elsewhere.path().join("runtime-config.toml");
    std::fs::write(
        &config,
        "[key_value_store.default]\ntype = \"spin\"\npath = \"state/kv.sqlite\"\n\
         [sqlite_database.default]\ntype = \"spin\"\npath = \"state/app.sqlite\"\n",
    )?;
    let mut options = options(data.path())?;
    options.stores = spin_test_host::StorePaths::from_file(&config)?;
    let app = App::load(options).await?;
    let server = app.serve(([127, 0, 0, 1], 0).into()).await?;

    let put = request(server.addr, "PUT", "/echo/kv/greeting", None, "hej").await?;
    assert_eq!(put.status, 200);
    assert_eq!(
        request(server.addr, "GET", "/echo/sql", None, "")
            .await?
            .body,
        "journal_mode=wal id=1 count=1"
    );
    let state = elsewhere.path().join("state");
    assert!(state.join("kv.sqlite").exists() && state.join("app.sqlite").exists());
    assert!(!data.path().join("kv.db").exists() && !data.path().join("sqlite_db.db").exists());
    Ok(())
}

#[tokio::test]
async fn key_value_stores_are_limited_to_the_manifest() -> anyhow::Result<()> {
    let app = spawn(|_| {}).await?;
    assert_eq!(get(&app, "/echo/store/default").await?.body, "opened");
    assert_eq!(
        get(&app, "/echo/store/other").await?.body,
        "error: Error::AccessDenied"
    );
    Ok(())
}

#[tokio::test]
async fn sqlite_runs_pragmas_returning_and_transactions() -> anyhow::Result<()> {
    let app = spawn(|_| {}).await?;
    assert_eq!(
        get(&app, "/echo/sql").await?.body,
        "journal_mode=wal id=1 count=1"
    );
    assert_eq!(
        get(&app, "/echo/sql").await?.body,
        "journal_mode=wal id=2 count=2"
    );
    assert_eq!(
        get(&app, "/echo/sql-tx").await?.body,
        "outside-before-commit=0 after-commit=1"
    );
    Ok(())
}

#[tokio::test]
async fn variables_resolve_templates_overrides_and_defaults() -> anyhow::Result<()> {
    let app = spawn(|o| {
        o.variables.insert("greeting".into(), "bonjour".into());
    })
    .await?;
    assert_eq!(
        get(&app, "/echo/var/greeting").await?.body,
        "bonjour, world"
    );
    assert_eq!(get(&app, "/echo/var/token").await?.body, "s3cret");
    assert_eq!(get(&app, "/echo/var/literal").await?.body, "just text");
    let undefined = get(&app, "/echo/var/api_host").await?.body;
    assert!(
        undefined.starts_with("error: Error::Undefined"),
        "{undefined}"
    );
    let invalid = get(&app, "/echo/var/Not-Valid").await?.body;
    assert!(
        invalid.starts_with("error: Error::InvalidName"),
        "{invalid}"
    );
    Ok(())
}

#[tokio::test]
async fn a_required_variable_without_a_value_fails_the_load() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let mut options = options(data.path())?;
    options.variables.clear();
    let Err(error) = App::load(options).await else {
        bail!("loading without `token` should fail");
    };
    let message = format!("{error:#}");
    assert!(message.contains("SPIN_VARIABLE_TOKEN"), "{message}");
    Ok(())
}

#[tokio::test]
async fn service_chaining_reaches_the_private_component() -> anyhow::Result<()> {
    let app = spawn(|_| {}).await?;
    let reply = get(&app, "/echo/chain/headers").await?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let b = reply
        .body
        .strip_prefix("backend said:\n")
        .context("the backend answered")?;
    assert_eq!(line(b, "spin-path-info"), Some("/headers"));
    assert_eq!(line(b, "spin-matched-route"), Some("/..."));
    assert_eq!(line(b, "spin-component-route"), Some(""));
    assert_eq!(
        line(b, "spin-full-url"),
        Some("http://localhost/headers?from=echo")
    );
    assert_eq!(line(b, "spin-client-addr"), Some("0.0.0.0:0"));
    Ok(())
}

#[tokio::test]
async fn a_component_cannot_chain_without_permission() -> anyhow::Result<()> {
    let app = spawn(|_| {}).await?;
    // echo -> backend (allowed) -> backend's own /chain (backend may not call anyone).
    let reply = get(&app, "/echo/chain/chain/headers").await?;
    assert!(
        reply.body.contains("denied: ErrorCode::HttpRequestDenied"),
        "{}",
        reply.body
    );
    Ok(())
}

#[tokio::test]
async fn outbound_http_follows_allowed_outbound_hosts() -> anyhow::Result<()> {
    // A second app stands in for an external API; `api_host` points the allow-list at it.
    let api = spawn(|_| {}).await?;
    let api_addr = api.server.addr;
    let app = spawn(|o| {
        o.variables.insert("api_host".into(), api_addr.to_string());
    })
    .await?;
    let allowed = get(&app, &format!("/echo/outbound/http:/{api_addr}/echo/env")).await?;
    assert_eq!(allowed.body, "status 200");
    let other_port = SocketAddr::new(api_addr.ip(), api_addr.port().wrapping_add(1));
    for url in [
        "https:/example.com/".to_owned(),
        format!("http:/{other_port}/"),
        format!("https:/{api_addr}/"),
    ] {
        let denied = get(&app, &format!("/echo/outbound/{url}")).await?;
        assert_eq!(denied.body, "denied: ErrorCode::HttpRequestDenied", "{url}");
    }
    Ok(())
}

#[tokio::test]
async fn relative_urls_go_back_to_the_app_when_self_is_allowed() -> anyhow::Result<()> {
    let app = spawn(|_| {}).await?;
    assert_eq!(
        get(&app, "/echo/self/echo/env").await?.body,
        "status 200: from-manifest"
    );
    // The backend may not make self requests.
    let reply = get(&app, "/echo/chain/self/echo/env").await?;
    assert!(
        reply.body.ends_with("denied: ErrorCode::HttpRequestDenied"),
        "{}",
        reply.body
    );
    Ok(())
}

#[tokio::test]
async fn files_and_environment_are_visible_to_the_guest() -> anyhow::Result<()> {
    let app = spawn(|_| {}).await?;
    assert_eq!(
        get(&app, "/echo/file").await?.body,
        "hello from a mounted file\n"
    );
    assert_eq!(get(&app, "/echo/env").await?.body, "from-manifest");
    assert_eq!(get(&app, "/echo/log").await?.body, "logged");
    Ok(())
}

#[tokio::test]
async fn traps_and_timeouts_become_empty_500s() -> anyhow::Result<()> {
    let app = spawn(|o| o.request_timeout = Duration::from_secs(1)).await?;
    let trap = get(&app, "/echo/trap").await?;
    assert_eq!((trap.status, trap.body.as_str()), (500, ""));

    for path in ["/echo/spin", "/echo/sleep"] {
        let started = Instant::now();
        let reply = get(&app, path).await?;
        let took = started.elapsed();
        assert_eq!((reply.status, reply.body.as_str()), (500, ""), "{path}");
        ensure!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(10),
            "{path} took {took:?}"
        );
    }
    // The host is still healthy afterwards.
    assert_eq!(get(&app, "/echo/env").await?.status, 200);
    Ok(())
}

#[tokio::test]
async fn shutdown_stops_the_listener() -> anyhow::Result<()> {
    let app = spawn(|_| {}).await?;
    let addr = app.server.addr;
    assert_eq!(get(&app, "/echo/env").await?.status, 200);
    app.server.shutdown().await;
    ensure!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port should be closed"
    );
    Ok(())
}
