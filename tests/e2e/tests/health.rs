//! `GET /health`: the stores' health, without migrating or writing rows, never cached.

use e2e::{Reply, spawn_app};

#[tokio::test]
async fn health_reports_both_stores_and_the_schema_without_migrating() {
    let app = spawn_app().await;
    // First request of a fresh app: the health check must not be what creates the schema.
    let fresh = app.get("/health").await;
    assert_eq!(fresh.status, 200, "{}", fresh.text);
    assert_eq!(fresh.body["status"], "ok");
    assert_eq!(fresh.body["checks"]["sqlite"]["ok"], true);
    assert_eq!(fresh.body["checks"]["key_value"]["ok"], true);
    assert!(fresh.body["checks"]["sqlite"]["ms"].as_i64().is_some());
    // Under real Spin, spawn_app's readiness probe is an API request, which migrates.
    if std::env::var("LIVECHAT_TEST_RUNTIME").as_deref() != Ok("spin") {
        assert_eq!(
            fresh.body["checks"]["sqlite"]["schema_version"], 0,
            "{}",
            fresh.text
        );
    }
    assert_eq!(fresh.header("cache-control"), Some("no-store"));
    assert_eq!(fresh.header("content-type"), Some("application/json"));

    // Any API request migrates; health then reports the build's schema version.
    assert_eq!(app.get("/api/widget/config").await.status, 200);
    let migrated = app.get("/health").await;
    let expected = migrated.body["checks"]["sqlite"]["expected_schema_version"].clone();
    assert!(
        expected.as_i64().is_some_and(|v| v >= 12),
        "{}",
        migrated.text
    );
    assert_eq!(
        migrated.body["checks"]["sqlite"]["schema_version"],
        expected
    );
    for secret in ["password", "token", "sqlite_db", ".db"] {
        assert!(
            !migrated.text.contains(secret),
            "{secret} in {}",
            migrated.text
        );
    }
}

#[tokio::test]
async fn health_answers_head_and_refuses_other_methods() {
    let app = spawn_app().await;
    let head = app
        .http
        .head(app.url("/health"))
        .send()
        .await
        .expect("the app answers");
    assert_eq!(head.status(), 200);
    assert!(head.bytes().await.expect("a body").is_empty());
    let post = app
        .post_raw("/health", "application/json", b"{}".to_vec(), None)
        .await;
    assert_eq!(post.status, 405, "{}", post.text);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    assert_eq!(post.error_code(), "method_not_allowed");
    let below = Reply::from(
        app.http
            .get(app.url("/health/extra"))
            .send()
            .await
            .expect("the app answers"),
    )
    .await;
    assert_ne!(below.status, 200, "only /health itself: {}", below.text);
}

/// The test host binary, run as its own process so its log (the components' stderr) can be read.
struct LoggedApp {
    base: String,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    child: std::process::Child,
    _data: tempfile::TempDir,
}

impl Drop for LoggedApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn logged_app() -> LoggedApp {
    use std::io::BufRead;
    let root = e2e::workspace_root();
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let host = target.join("host/spin-test-host");
    assert!(
        host.exists(),
        "{} is missing: `cargo test --profile host -p spin-test-host -p e2e` builds it",
        host.display()
    );
    let data = tempfile::tempdir().expect("a data directory");
    let mut command = std::process::Command::new(&host);
    command
        .current_dir(&root)
        .args([
            "up",
            "--manifest",
            "spin.toml",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (name, value) in [
        ("admin_email", e2e::ADMIN_EMAIL),
        ("admin_password", e2e::ADMIN_PASSWORD),
    ] {
        command.arg("--var").arg(format!("{name}={value}"));
    }
    let mut child = command.spawn().expect("the test host starts");
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    for reader in [
        Box::new(stdout) as Box<dyn std::io::Read + Send>,
        Box::new(stderr),
    ] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(reader).lines() {
                let Ok(line) = line else { break };
                lines.lock().expect("the log").push(line);
            }
        });
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let serving = lines
            .lock()
            .expect("the log")
            .iter()
            .find_map(|l| l.split("Serving ").nth(1).map(|u| u.trim().to_owned()));
        if let Some(base) = serving {
            return LoggedApp {
                base: base.trim_end_matches('/').to_owned(),
                lines,
                child,
                _data: data,
            };
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the host did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The JSON log lines of component `id` (the host prefixes each with `[id] `).
fn json_lines(lines: &[String], id: &str) -> Vec<serde_json::Value> {
    let prefix = format!("[{id}] ");
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test]
async fn one_request_id_follows_a_change_across_components_and_logs_keep_no_secrets() {
    use serde_json::json;
    let app = logged_app().await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", app.base);
    let post = |path: &str, token: Option<&str>, body: serde_json::Value| {
        let mut request = http.post(url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
    };
    let started: serde_json::Value = post("/api/widget/conversations", None, json!({}))
        .send()
        .await
        .expect("start")
        .json()
        .await
        .expect("JSON");
    let visitor = started["visitor_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let conversation = started["conversation"]["id"].as_i64().expect("an id");
    let said = post(
        &format!("/api/widget/conversations/{conversation}/messages"),
        Some(&visitor),
        json!({ "body": "a private message body" }),
    )
    .send()
    .await
    .expect("say");
    assert_eq!(said.status(), 201);
    let login: serde_json::Value = post(
        "/api/inbox/login",
        None,
        json!({ "email": e2e::ADMIN_EMAIL, "password": e2e::ADMIN_PASSWORD }),
    )
    .send()
    .await
    .expect("login")
    .json()
    .await
    .expect("JSON");
    let session = login["token"].as_str().expect("a session").to_owned();
    // Going available with a conversation waiting makes inbox-api ask the router for a pass.
    let available = post(
        "/api/inbox/presence",
        Some(&session),
        json!({ "presence": "available" }),
    )
    .header("x-request-id", "trace-e2e-42")
    .send()
    .await
    .expect("presence");
    assert_eq!(available.status(), 200);
    assert_eq!(
        available
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("trace-e2e-42")
    );
    let events = http
        .get(url(&format!(
            "/api/widget/conversations/{conversation}/events?after=0&wait=0"
        )))
        .bearer_auth(&visitor)
        .send()
        .await
        .expect("events");
    assert_eq!(events.status(), 200);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (inbox, router) = loop {
        let lines = app.lines.lock().expect("the log").clone();
        let inbox = json_lines(&lines, "inbox-api");
        let router = json_lines(&lines, "router");
        let traced = |v: &&serde_json::Value| v["request_id"] == "trace-e2e-42";
        if inbox.iter().any(|v| traced(&v)) && router.iter().any(|v| traced(&v)) {
            break (inbox, router);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no traced lines from inbox-api and router in:\n{}",
            lines.join("\n")
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let line = inbox
        .iter()
        .find(|v| v["request_id"] == "trace-e2e-42")
        .expect("the inbox line");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["path"], "/api/inbox/presence");
    assert_eq!(line["status"], 200);
    assert_eq!(line["level"], "info");
    assert!(line["duration_ms"].is_u64() && line["ts"].as_str().is_some_and(|t| t.ends_with('Z')));
    let routed = router
        .iter()
        .find(|v| v["request_id"] == "trace-e2e-42")
        .expect("the router's line, same id");
    assert_eq!(routed["component"], "router");

    let lines = app.lines.lock().expect("the log").clone();
    let widget = json_lines(&lines, "widget-api");
    let polled = widget
        .iter()
        .find(|v| v["path"].as_str().is_some_and(|p| p.ends_with("/events")))
        .expect("the events request's line");
    assert_eq!(polled["status"], 200);
    let all = lines.join("\n");
    for secret in [
        visitor.as_str(),
        session.as_str(),
        "a private message body",
        e2e::ADMIN_PASSWORD,
        "after=0",
    ] {
        assert!(!all.contains(secret), "the log holds {secret:?}");
    }
}
