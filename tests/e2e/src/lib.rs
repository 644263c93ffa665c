//! End-to-end test support: start the real app, talk to it like its clients do.
//!
//! [`spawn_app`] starts the built `.wasm` components under the bundled Spin-compatible test
//! host (`tests/host`) with a fresh database, or, when `LIVECHAT_TEST_RUNTIME=spin` and `spin`
//! is on `PATH`, under real `spin up`. Either way tests get a base URL and typed clients, so
//! every test runs unchanged on both runtimes.
//!
//! # Layout
//! - [`spawn_app`] / [`TestApp`]: one running app per test, torn down on drop.
//! - [`Visitor`]: the widget's calls. [`Operator`]: the console's calls.
//! - [`Reply`]: a status and JSON body, with helpers for the error envelope.
//! - [`fake_provider`]: a fake Twilio/Meta/Postmark API on loopback that records what the app
//!   sends and fails on demand.

pub mod fake_provider;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";
pub const SETUP_TOKEN: &str = "test-setup-token-0123456789";

/// The workspace root (where `spin.toml` lives).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("../.."))
}

enum Runtime {
    TestHost {
        _server: spin_test_host::ServerHandle,
        app: spin_test_host::App,
    },
    Spin {
        child: tokio::process::Child,
    },
}

/// A running app with its own data directory.
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    _runtime: Runtime,
    /// Shared with the other nodes started by [`TestApp::second_node`]; deleted with the last.
    _data: std::sync::Arc<tempfile::TempDir>,
    /// The variables this node was started with, so that another node runs the same config.
    variables: HashMap<String, String>,
}

impl TestApp {
    /// Calls a private component (`http://<id>.spin.internal<path>`) the way another component
    /// would. Only the bundled test host can do this from outside; under real Spin it panics.
    pub async fn call_internal(&self, id: &str, method: http::Method, path: &str) -> (u16, Value) {
        let Runtime::TestHost { app, .. } = &self._runtime else {
            panic!("call_internal needs the bundled test host");
        };
        let (status, body) = app
            .call_component(id, method, path, Vec::new())
            .await
            .expect("the component answers");
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// The app's SQLite file, for tests that check invariants across every row (never to set
    /// up state the API could).
    pub fn database(&self) -> PathBuf {
        self._data.path().join("sqlite_db.db")
    }
}

/// Settings a test can change from the defaults.
#[derive(Default, Clone)]
pub struct AppSettings {
    pub variables: HashMap<String, String>,
}

/// Request-rate limits out of the way: every test and measuring tool talks from 127.0.0.1, and
/// some start hundreds of visitors or thousands of requests a minute. Tests that check the
/// limits set their own (tests/limits.rs).
pub const UNLIMITED_RATES: [(&str, &str); 3] = [
    ("rate_limit_ip_per_minute", "1000000"),
    ("rate_limit_visitor_per_minute", "1000000"),
    ("rate_limit_operator_per_minute", "1000000"),
];

pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppSettings::default()).await
}

pub async fn spawn_app_with(settings: AppSettings) -> TestApp {
    let root = workspace_root();
    for wasm in [
        "widget_api",
        "inbox_api",
        "admin_api",
        "router",
        "dispatch",
        "webhooks",
        "assistant",
        "reports_api",
        "health",
        "channel_sms",
        "channel_meta",
        "channel_email",
        "static_files",
    ] {
        let path = root.join(format!("target/wasm32-wasip2/release/{wasm}.wasm"));
        assert!(
            path.exists(),
            "{} is missing: build the components first (cargo build --target wasm32-wasip2 --release --workspace --exclude ...; see README)",
            path.display()
        );
    }
    let data = tempfile::tempdir().expect("a temporary data directory");
    let mut variables: HashMap<String, String> = [
        ("admin_email", ADMIN_EMAIL),
        ("admin_password", ADMIN_PASSWORD),
        ("setup_token", SETUP_TOKEN),
    ]
    .into_iter()
    .chain(UNLIMITED_RATES)
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    variables.extend(settings.variables);
    start_node(std::sync::Arc::new(data), variables).await
}

/// Starts one app instance over `data` (which other instances may share).
async fn start_node(
    data: std::sync::Arc<tempfile::TempDir>,
    variables: HashMap<String, String>,
) -> TestApp {
    let root = workspace_root();
    let use_spin = std::env::var("LIVECHAT_TEST_RUNTIME").is_ok_and(|v| v == "spin");
    let (base, runtime) = if use_spin {
        start_spin(&root, data.path(), &variables).await
    } else {
        start_test_host(&root, data.path(), variables.clone()).await
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(64)
        .build()
        .expect("an HTTP client");
    TestApp {
        base,
        http,
        _runtime: runtime,
        _data: data,
        variables,
    }
}

impl TestApp {
    /// Another node of the same app: a second host (its own router, instances, listener,
    /// key-value connection and SQLite connections) over this node's data directory, with the
    /// same variables, as two servers share one store in production. Under the test host the
    /// two share only the process's compiled code; every piece of state goes through the files,
    /// so their locking is SQLite's own.
    pub async fn second_node(&self) -> TestApp {
        start_node(self._data.clone(), self.variables.clone()).await
    }
}

impl Visitor {
    /// The same visitor talking to another node of the app.
    pub fn on(&self, node: &TestApp) -> Visitor {
        Visitor {
            app_base: node.base.clone(),
            ..self.clone()
        }
    }
}

impl Operator {
    /// The same signed-in operator talking to another node of the app.
    pub fn on(&self, node: &TestApp) -> Operator {
        Operator {
            app_base: node.base.clone(),
            ..self.clone()
        }
    }
}

async fn start_test_host(
    root: &Path,
    data: &Path,
    variables: HashMap<String, String>,
) -> (String, Runtime) {
    let mut options = spin_test_host::HostOptions::new(root.join("spin.toml"), data);
    options.variables = variables;
    let app = spin_test_host::App::load(options)
        .await
        .expect("the test host loads spin.toml and the components");
    let server = app
        .serve("127.0.0.1:0".parse().expect("a socket address"))
        .await
        .expect("the test host serves");
    (
        format!("http://{}", server.addr),
        Runtime::TestHost {
            _server: server,
            app,
        },
    )
}

async fn start_spin(
    root: &Path,
    data: &Path,
    variables: &HashMap<String, String>,
) -> (String, Runtime) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut command = tokio::process::Command::new("spin");
    command
        .current_dir(root)
        .args([
            "up",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--state-dir",
        ])
        .arg(data)
        .kill_on_drop(true);
    for (name, value) in variables {
        command.env(format!("SPIN_VARIABLE_{}", name.to_uppercase()), value);
    }
    let child = command
        .spawn()
        .expect("`spin up` starts (is spin on PATH?)");
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if reqwest::get(format!("{base}/api/widget/config"))
            .await
            .is_ok()
        {
            return (base, Runtime::Spin { child });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("spin up did not answer on {base} within 20 s");
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Runtime::Spin { child } = &mut self._runtime {
            let _ = child.start_kill();
        }
    }
}

/// A response: status, headers and JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub async fn from(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    /// The error code of the envelope; panics if the body is not an envelope.
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error envelope: {} {}", self.status, self.text))
    }

    /// Asserts this is a 4xx with a well-formed error envelope, and returns its code.
    pub fn assert_client_error(&self) -> &str {
        assert!(
            (400..500).contains(&self.status),
            "expected a 4xx, got {} {}",
            self.status,
            self.text
        );
        assert!(
            self.body["error"]["message"].is_string(),
            "no message in {}",
            self.text
        );
        self.error_code()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Reply {
        Reply::from(
            self.http
                .get(self.url(path))
                .send()
                .await
                .expect("GET reaches the app"),
        )
        .await
    }

    /// POSTs raw bytes with the given content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        bearer: Option<&str>,
    ) -> Reply {
        let mut request = self
            .http
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        Reply::from(request.send().await.expect("POST reaches the app")).await
    }

    /// A new visitor who has started a conversation.
    pub async fn visitor(&self) -> Visitor {
        self.visitor_with(json!({})).await
    }

    /// A visitor whose conversation starts with `start` (name, email, page_url, topic, language).
    pub async fn visitor_with(&self, start: Value) -> Visitor {
        let reply = self
            .post_raw(
                "/api/widget/conversations",
                "application/json",
                start.to_string().into_bytes(),
                None,
            )
            .await;
        assert_eq!(reply.status, 201, "start conversation: {}", reply.text);
        Visitor {
            app_base: self.base.clone(),
            http: self.http.clone(),
            token: reply.body["visitor_token"]
                .as_str()
                .expect("a visitor token")
                .to_owned(),
            conversation_id: reply.body["conversation"]["id"]
                .as_i64()
                .expect("a conversation id"),
        }
    }

    /// The bootstrap admin, signed in.
    pub async fn operator(&self) -> Operator {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .expect("the bootstrap admin signs in")
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<Operator, Reply> {
        let body =
            serde_json::to_vec(&json!({ "email": email, "password": password })).expect("JSON");
        let reply = self
            .post_raw("/api/inbox/login", "application/json", body, None)
            .await;
        if reply.status != 200 {
            return Err(reply);
        }
        Ok(self.signed_in(&reply))
    }

    fn signed_in(&self, reply: &Reply) -> Operator {
        Operator {
            app_base: self.base.clone(),
            http: self.http.clone(),
            token: reply.body["token"]
                .as_str()
                .expect("a session token")
                .to_owned(),
            name: reply.body["operator"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            id: reply.body["operator"]["id"]
                .as_i64()
                .expect("an operator id"),
        }
    }

    /// A new team member with `role`, invited by the bootstrap admin and signed in through their
    /// invitation link.
    pub async fn staff(&self, role: &str, name: &str) -> Operator {
        let admin = self.operator().await;
        let email = format!(
            "{}.{}@example.com",
            name.to_lowercase().replace(' ', "."),
            role
        );
        let invited = admin
            .admin_post(
                "/operators",
                json!({ "email": email, "name": name, "role": role }),
            )
            .await;
        assert_eq!(invited.status, 201, "invite: {}", invited.text);
        let token = invite_token(&invited);
        self.accept_invite(&token, STAFF_PASSWORD)
            .await
            .unwrap_or_else(|reply| panic!("accept invite: {}", reply.text))
    }

    pub async fn accept_invite(&self, token: &str, password: &str) -> Result<Operator, Reply> {
        let body =
            serde_json::to_vec(&json!({ "token": token, "password": password })).expect("JSON");
        let reply = self
            .post_raw("/api/inbox/invites/accept", "application/json", body, None)
            .await;
        if reply.status != 200 {
            return Err(reply);
        }
        Ok(self.signed_in(&reply))
    }
}

/// The password invited staff choose in tests.
pub const STAFF_PASSWORD: &str = "staff password 123";

/// The token in an invitation answer's `invite_url` (`.../console/#invite=<token>`).
pub fn invite_token(reply: &Reply) -> String {
    reply.body["invite_url"]
        .as_str()
        .and_then(|url| url.split_once("#invite="))
        .map(|(_, token)| token.to_owned())
        .unwrap_or_else(|| panic!("no invite_url in {}", reply.text))
}

/// The widget's side of a conversation.
#[derive(Clone)]
pub struct Visitor {
    app_base: String,
    http: reqwest::Client,
    pub token: String,
    pub conversation_id: i64,
}

impl Visitor {
    fn url(&self, tail: &str) -> String {
        format!(
            "{}/api/widget/conversations/{}{tail}",
            self.app_base, self.conversation_id
        )
    }

    pub async fn say(&self, body: &str) -> Reply {
        self.say_with_id(body, None).await
    }

    pub async fn say_with_id(&self, body: &str, client_id: Option<&str>) -> Reply {
        let mut payload = json!({ "body": body });
        if let Some(id) = client_id {
            payload["client_id"] = json!(id);
        }
        let request = self
            .http
            .post(self.url("/messages"))
            .bearer_auth(&self.token)
            .json(&payload);
        Reply::from(request.send().await.expect("POST message")).await
    }

    pub async fn load(&self) -> Reply {
        Reply::from(
            self.http
                .get(self.url(""))
                .bearer_auth(&self.token)
                .send()
                .await
                .expect("GET conversation"),
        )
        .await
    }

    /// The same visitor (token) addressing another conversation, theirs or not.
    pub fn in_conversation(&self, conversation_id: i64) -> Visitor {
        Visitor {
            conversation_id,
            ..self.clone()
        }
    }

    /// `GET .../queue`: position in the queue and the wait estimate.
    pub async fn queue(&self) -> Reply {
        Reply::from(
            self.http
                .get(self.url("/queue"))
                .bearer_auth(&self.token)
                .send()
                .await
                .expect("GET queue"),
        )
        .await
    }

    pub async fn typing(&self) -> Reply {
        let request = self
            .http
            .post(self.url("/typing"))
            .bearer_auth(&self.token)
            .json(&json!({}));
        Reply::from(request.send().await.expect("POST typing")).await
    }

    pub async fn read(&self, message_id: i64) -> Reply {
        let request = self
            .http
            .post(self.url("/read"))
            .bearer_auth(&self.token)
            .json(&json!({ "message_id": message_id }));
        Reply::from(request.send().await.expect("POST read")).await
    }

    pub async fn events(&self, after: i64, wait_s: u64) -> Reply {
        let request = self
            .http
            .get(self.url(&format!("/events?after={after}&wait={wait_s}")))
            .bearer_auth(&self.token);
        Reply::from(request.send().await.expect("GET events")).await
    }
}

/// The console's side.
#[derive(Clone)]
pub struct Operator {
    app_base: String,
    http: reqwest::Client,
    pub token: String,
    pub name: String,
    pub id: i64,
}

impl Operator {
    fn url(&self, tail: &str) -> String {
        format!("{}/api/inbox{tail}", self.app_base)
    }

    pub async fn get(&self, tail: &str) -> Reply {
        Reply::from(
            self.http
                .get(self.url(tail))
                .bearer_auth(&self.token)
                .send()
                .await
                .expect("GET inbox"),
        )
        .await
    }

    pub async fn post(&self, tail: &str, body: Value) -> Reply {
        let request = self
            .http
            .post(self.url(tail))
            .bearer_auth(&self.token)
            .json(&body);
        Reply::from(request.send().await.expect("POST inbox")).await
    }

    /// Any method on any path under `/api` (e.g. `/admin/tags`), with an optional JSON body.
    pub async fn call(&self, method: &str, api_path: &str, body: Option<Value>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut request = self
            .http
            .request(method, format!("{}/api{api_path}", self.app_base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Reply::from(request.send().await.expect("request reaches the app")).await
    }

    pub async fn patch(&self, tail: &str, body: Value) -> Reply {
        self.call("PATCH", &format!("/inbox{tail}"), Some(body))
            .await
    }

    pub async fn delete(&self, tail: &str) -> Reply {
        self.call("DELETE", &format!("/inbox{tail}"), None).await
    }

    pub async fn admin_post(&self, tail: &str, body: Value) -> Reply {
        self.call("POST", &format!("/admin{tail}"), Some(body))
            .await
    }

    pub async fn admin_patch(&self, tail: &str, body: Value) -> Reply {
        self.call("PATCH", &format!("/admin{tail}"), Some(body))
            .await
    }

    /// The conversation as operators see it (summary), from its thread.
    pub async fn conversation(&self, conversation_id: i64) -> Value {
        let thread = self.get(&format!("/conversations/{conversation_id}")).await;
        assert_eq!(thread.status, 200, "thread: {}", thread.text);
        thread.body["conversation"].clone()
    }

    pub async fn reply(&self, conversation_id: i64, body: &str) -> Reply {
        self.post(
            &format!("/conversations/{conversation_id}/messages"),
            json!({ "body": body }),
        )
        .await
    }

    pub async fn events(&self, after: i64, wait_s: u64) -> Reply {
        self.get(&format!("/events?after={after}&wait={wait_s}"))
            .await
    }

    /// The cursor of "now": the newest event, from the inbox listing.
    pub async fn cursor(&self) -> i64 {
        let listing = self.get("/conversations?status=all").await;
        listing.body["cursor"]
            .as_i64()
            .unwrap_or_else(|| panic!("no cursor in {}", listing.text))
    }
}

/// Reads events until `done` says the collected ones are enough, or `timeout` passes.
pub async fn collect_events<F, Fut>(
    mut next: F,
    mut cursor: i64,
    timeout: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> (Vec<Value>, i64)
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut events = Vec::new();
    while !done(&events) && tokio::time::Instant::now() < deadline {
        let reply = next(cursor).await;
        assert_eq!(reply.status, 200, "events: {}", reply.text);
        events.extend(reply.body["events"].as_array().cloned().unwrap_or_default());
        cursor = reply.body["cursor"].as_i64().expect("a cursor");
    }
    (events, cursor)
}

/// The bodies of `message.created` events, in order.
pub fn message_bodies(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["kind"] == "message.created")
        .filter_map(|e| e["data"]["message"]["body"].as_str().map(str::to_owned))
        .collect()
}

/// Throughput and latency of one kind of request, as the benchmark tools report them.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// 2xx answers per second.
    pub per_second: f64,
    /// Latency percentiles of the successful requests, in milliseconds.
    pub p50: f64,
    pub p99: f64,
    pub failures: u64,
}

/// Runs `clients` concurrent loops for `duration`, each sending the request `request(client, n)`
/// builds (n counts that client's requests) back to back over keep-alive connections, and
/// measures what came back: a request counts as a success when its status is 2xx and its body
/// was read.
pub async fn measure<F>(clients: usize, duration: Duration, request: F) -> Measured
where
    F: Fn(usize, u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::Instant;

    let request = Arc::new(request);
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (request, stop, failures) = (request.clone(), stop.clone(), failures.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let started = Instant::now();
                let success = match request(client, n).send().await {
                    Ok(response) => {
                        response.status().is_success() && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                };
                if success {
                    latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                } else {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await.unwrap_or_default());
    }
    let elapsed = started.elapsed().as_secs_f64();
    samples.sort_by(f64::total_cmp);
    let at = |p: f64| {
        samples
            .get(((p / 100.0) * samples.len() as f64).ceil().max(1.0) as usize - 1)
            .copied()
            .unwrap_or(f64::NAN)
    };
    Measured {
        per_second: samples.len() as f64 / elapsed,
        p50: at(50.0),
        p99: at(99.0),
        failures: failures.load(Ordering::Relaxed),
    }
}

/// `application/x-www-form-urlencoded` for name/value pairs.
pub fn form_encode(params: &[(String, String)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    params
        .iter()
        .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl TestApp {
    /// POSTs a Twilio form webhook to `path` (e.g. `/hooks/twilio/status`), signed with `token`
    /// over `public_base` + `path` (the app's `public_base_url`), as Twilio would.
    pub async fn post_twilio(
        &self,
        public_base: &str,
        path: &str,
        params: &[(&str, &str)],
        token: &str,
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        let signed_url = format!("{public_base}{path}");
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        let signature = shared::channel::twilio::signature(token, &signed_url, &params);
        let request = self
            .http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", signature)
            .body(form_encode(&params));
        Reply::from(request.send().await.expect("POST webhook")).await
    }

    /// POSTs a Meta webhook body signed with `secret`.
    pub async fn post_meta(&self, body: &str, secret: &str) -> Reply {
        let mac = shared::channel::signature::hmac_sha256(secret.as_bytes(), body.as_bytes());
        let request = self
            .http
            .post(format!("{}/hooks/meta", self.base))
            .header("content-type", "application/json")
            .header(
                "x-hub-signature-256",
                format!("sha256={}", shared::channel::signature::hex(&mac)),
            )
            .body(body.to_owned());
        Reply::from(request.send().await.expect("POST meta webhook")).await
    }
}
