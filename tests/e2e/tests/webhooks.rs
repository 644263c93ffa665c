//! Outgoing webhooks end to end: an admin registers a receiver on loopback (the one origin
//! `webhook_trusted_origin` lets through), customers and operators do their work, and the
//! receiver gets each event type signed with the endpoint's secret. The receiver here checks
//! signatures itself, from the documented recipe (HMAC-SHA256 over `"<timestamp>.<body>"`),
//! and drops repeats by `Webhook-Id` like a careful integration would.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::{AppSettings, Operator, TestApp, spawn_app_with};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TYPES: [&str; 5] = [
    "conversation.created",
    "conversation.assigned",
    "conversation.resolved",
    "message.created",
    "csat.received",
];

/// One delivery attempt as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    id: String,
    timestamp: String,
    signature: String,
    content_type: String,
    body: Vec<u8>,
    at: Instant,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Default)]
struct State {
    /// Each endpoint path's secret, once the test knows it.
    secrets: HashMap<String, String>,
    attempts: Vec<Received>,
    /// Webhook-Ids already processed: a repeat is acknowledged and not processed again.
    processed: HashSet<String>,
    unique: Vec<Received>,
    /// Answer the next `n` attempts with this status, after processing them (a receiver that
    /// stored the event but crashed before answering).
    fail_next: usize,
    fail_status: u16,
    bad_signatures: usize,
}

/// A webhook receiver on loopback.
#[derive(Clone)]
struct Receiver {
    origin: String,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let origin = format!("http://{}", listener.local_addr().expect("its address"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
            }
        });
        Receiver { origin, state }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    fn trust(&self, path: &str, secret: &str) {
        self.lock()
            .secrets
            .insert(path.to_owned(), secret.to_owned());
    }

    fn fail_next(&self, count: usize, status: u16) {
        let mut state = self.lock();
        state.fail_next = count;
        state.fail_status = status;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("receiver state")
    }

    fn attempts(&self) -> Vec<Received> {
        self.lock().attempts.clone()
    }

    fn unique(&self, path: &str) -> Vec<Received> {
        self.lock()
            .unique
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits until `path` has processed a delivery whose body satisfies `pick`.
    async fn wait_for(&self, path: &str, pick: impl Fn(&Value) -> bool) -> Received {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(found) = self.unique(path).into_iter().find(|r| pick(&r.json())) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no matching delivery at {path}; got {:#?}",
                self.unique(path)
                    .iter()
                    .map(Received::json)
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Whether the signature is right, computed here from the documented recipe rather than with
/// the app's own `sign`.
fn signature_ok(secret: &str, received: &Received) -> bool {
    let mut signed = received.timestamp.clone().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(&received.body);
    let mac = shared::channel::signature::hmac_sha256(secret.as_bytes(), &signed);
    let expected = format!("v1={}", shared::channel::signature::hex(&mac));
    received
        .signature
        .split_whitespace()
        .any(|value| value == expected)
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .unwrap_or_default()
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length = headers
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok());
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    while if chunked {
        !buffer[header_end..].ends_with(b"0\r\n\r\n")
    } else {
        buffer.len() < header_end + length.unwrap_or(0)
    } {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = if chunked {
        dechunk(&buffer[header_end..])
    } else {
        buffer[header_end..].to_vec()
    };
    let header = |name: &str| headers.get(name).cloned().unwrap_or_default();
    let received = Received {
        path: path.clone(),
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        content_type: header("content-type"),
        body,
        at: Instant::now(),
    };
    let status = {
        let mut state = state.lock().expect("receiver state");
        state.attempts.push(received.clone());
        let verified = state
            .secrets
            .get(&path)
            .is_some_and(|secret| signature_ok(secret, &received));
        if !verified {
            state.bad_signatures += 1;
            401
        } else {
            if state.processed.insert(received.id.clone()) {
                state.unique.push(received);
            }
            if state.fail_next > 0 {
                state.fail_next -= 1;
                state.fail_status
            } else {
                204
            }
        }
    };
    let head = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.shutdown().await
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..line_end])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        let end = (start + size).min(data.len());
        out.extend_from_slice(&data[start..end]);
        data = data.get(end + 2..).unwrap_or_default();
    }
    out
}

async fn app_with_receiver(retry_schedule: &str) -> (TestApp, Receiver) {
    let receiver = Receiver::start().await;
    let mut settings = AppSettings::default();
    settings
        .variables
        .insert("webhook_trusted_origin".into(), receiver.origin.clone());
    settings
        .variables
        .insert("webhook_retry_schedule_ms".into(), retry_schedule.into());
    settings
        .variables
        .insert("webhook_timeout_ms".into(), "2000".into());
    (spawn_app_with(settings).await, receiver)
}

/// Registers `receiver`'s `path` for `events`; returns the endpoint.
async fn register(admin: &Operator, receiver: &Receiver, path: &str, events: &[&str]) -> Value {
    let reply = admin
        .admin_post(
            "/webhooks",
            json!({ "url": receiver.url(path), "events": events, "description": path }),
        )
        .await;
    assert_eq!(reply.status, 201, "register: {}", reply.text);
    let endpoint = reply.body["webhook"].clone();
    receiver.trust(path, endpoint["secret"].as_str().expect("a secret"));
    endpoint
}

async fn deliveries(admin: &Operator, endpoint: &Value) -> Vec<Value> {
    let reply = admin
        .call(
            "GET",
            &format!("/admin/webhooks/{}/deliveries", endpoint["id"]),
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "deliveries: {}", reply.text);
    reply.body["deliveries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_type_reaches_the_receiver_signed_with_its_endpoint_secret() {
    let (app, receiver) = app_with_receiver("").await;
    let admin = app.operator().await;
    register(&admin, &receiver, "/all", &TYPES).await;

    // A visitor starts a chat and writes; the operator's first action (claiming it) sends
    // what that queued.
    let visitor = app
        .visitor_with(json!({ "name": "Dana", "email": "dana@example.com" }))
        .await;
    let id = visitor.conversation_id;
    assert_eq!(visitor.say("Where is my parcel?").await.status, 201);
    let version = admin.conversation(id).await["version"].as_i64().unwrap();
    let assigned = admin
        .post(
            &format!("/conversations/{id}/assign"),
            json!({ "operator_id": admin.id, "version": version }),
        )
        .await;
    // Routing may have given it to the admin already (409 then); either way it is theirs.
    assert!(
        matches!(assigned.status, 200 | 409),
        "assign: {}",
        assigned.text
    );
    assert_eq!(admin.post("/heartbeat", json!({})).await.status, 204);

    let created = receiver
        .wait_for("/all", |b| b["type"] == "conversation.created")
        .await;
    let conversation = &created.json()["data"]["conversation"];
    assert_eq!(conversation["id"], id);
    assert_eq!(conversation["contact"]["name"], "Dana");
    assert_eq!(conversation["contact"]["email"], "dana@example.com");
    let message = receiver
        .wait_for("/all", |b| {
            b["type"] == "message.created" && b["data"]["message"]["author"] == "visitor"
        })
        .await;
    assert_eq!(
        message.json()["data"]["message"]["body"],
        "Where is my parcel?"
    );
    assert_eq!(message.json()["data"]["message"]["channel"], "web");
    let assignment = receiver
        .wait_for("/all", |b| b["type"] == "conversation.assigned")
        .await;
    assert_eq!(
        assignment.json()["data"]["assignee"],
        json!({ "id": admin.id, "name": admin.name })
    );

    // Latency: from sending the operator's reply to the receiver holding its webhook.
    let mut latencies = Vec::new();
    for n in 0..8 {
        let text = format!("Reply number {n}");
        let started = Instant::now();
        assert_eq!(admin.reply(id, &text).await.status, 201);
        let got = receiver
            .wait_for("/all", |b| b["data"]["message"]["body"] == text.as_str())
            .await;
        latencies.push(ms(got.at.duration_since(started)));
        let reply = got.json();
        assert_eq!(reply["data"]["message"]["author"], "operator");
        assert_eq!(reply["data"]["message"]["operator"]["id"], admin.id);
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "webhook latency, operator reply -> receiver: median {:.1} ms, max {:.1} ms (n={})",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1],
        latencies.len()
    );
    assert!(latencies[latencies.len() - 1] < 5_000.0, "{latencies:?}");

    let version = admin.conversation(id).await["version"].as_i64().unwrap();
    let started = Instant::now();
    let resolved = admin
        .post(
            &format!("/conversations/{id}/status"),
            json!({ "status": "resolved", "version": version, "reason": "answered" }),
        )
        .await;
    assert_eq!(resolved.status, 200, "resolve: {}", resolved.text);
    let resolution = receiver
        .wait_for("/all", |b| b["type"] == "conversation.resolved")
        .await;
    println!(
        "webhook latency, resolve -> receiver: {:.1} ms",
        ms(resolution.at.duration_since(started))
    );
    assert_eq!(resolution.json()["data"]["resolved_by"]["id"], admin.id);
    assert_eq!(resolution.json()["data"]["reason"], "answered");

    // The customer rates the chat in the widget: the widget's own request sends it, with no
    // console heartbeat in between.
    let rated = app
        .post_raw(
            &format!("/api/widget/conversations/{id}/csat"),
            "application/json",
            json!({ "rating": 5, "comment": "Quick and kind" })
                .to_string()
                .into_bytes(),
            Some(&visitor.token),
        )
        .await;
    assert_eq!(rated.status, 201, "csat: {}", rated.text);
    let csat = receiver
        .wait_for("/all", |b| b["type"] == "csat.received")
        .await;
    assert_eq!(csat.json()["data"]["rating"], 5);
    assert_eq!(csat.json()["data"]["comment"], "Quick and kind");
    assert_eq!(csat.json()["data"]["conversation"]["id"], id);

    // Every attempt was signed with the endpoint's secret, as JSON, its id in the body too.
    let state = receiver.lock();
    assert_eq!(state.bad_signatures, 0);
    for attempt in &state.attempts {
        assert_eq!(attempt.content_type, "application/json");
        assert_eq!(attempt.json()["id"], attempt.id.as_str());
        assert!(attempt.id.starts_with("wh_"), "{}", attempt.id);
        let sent: i64 = attempt.timestamp.parse().expect("unix seconds");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((now - sent).abs() < 60, "timestamp {sent} vs now {now}");
        let text = String::from_utf8_lossy(&attempt.body);
        for internal in ["client_id", "\"version\"", "visibility", "visitor_token"] {
            assert!(!text.contains(internal), "{internal} in {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_delivery_is_retried_with_the_same_id_and_the_receiver_processes_it_once() {
    let (app, receiver) = app_with_receiver("300,300").await;
    let admin = app.operator().await;
    let endpoint = register(&admin, &receiver, "/crm", &["message.created"]).await;
    let visitor = app.visitor().await;
    assert_eq!(visitor.say("hello").await.status, 201);

    // The receiver stores the first attempt but answers 500, as if it crashed before answering.
    receiver.fail_next(1, 500);
    assert_eq!(admin.post("/heartbeat", json!({})).await.status, 204);
    let first = receiver.wait_for("/crm", |_| true).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(admin.post("/heartbeat", json!({})).await.status, 204);
    let deadline = Instant::now() + Duration::from_secs(10);
    while receiver.attempts().len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let attempts = receiver.attempts();
    assert_eq!(attempts.len(), 2, "{attempts:#?}");
    assert_eq!(
        attempts[0].id, attempts[1].id,
        "the same Webhook-Id on a retry"
    );
    assert_eq!(
        attempts[0].body, attempts[1].body,
        "the same body on a retry"
    );
    assert_eq!(receiver.unique("/crm").len(), 1, "processed once");
    assert_eq!(first.id, attempts[0].id);

    let listed = deliveries(&admin, &endpoint).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], first.id.as_str());
    assert_eq!(listed[0]["status"], "delivered");
    assert_eq!(listed[0]["attempts"], 2);
    assert_eq!(listed[0]["last_status"], 204);

    // A receiver that keeps failing: after the schedule (3 attempts) the delivery has failed.
    receiver.fail_next(3, 503);
    assert_eq!(visitor.say("again").await.status, 201);
    for _ in 0..3 {
        assert_eq!(admin.post("/heartbeat", json!({})).await.status, 204);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let listed = deliveries(&admin, &endpoint).await;
    assert_eq!(listed[0]["status"], "failed", "{listed:#?}");
    assert_eq!(listed[0]["attempts"], 3);
    assert_eq!(listed[0]["last_status"], 503);
    assert!(
        listed[0]["last_error"]
            .as_str()
            .unwrap()
            .starts_with("gave up after 3 attempts: HTTP 503")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_disabled_endpoint_receives_nothing_and_a_rotated_secret_signs_what_follows() {
    let (app, receiver) = app_with_receiver("").await;
    let admin = app.operator().await;
    let on = register(&admin, &receiver, "/on", &["message.created"]).await;
    let off = register(&admin, &receiver, "/off", &["message.created"]).await;
    let disabled = admin
        .admin_patch(
            &format!("/webhooks/{}", off["id"]),
            json!({ "active": false }),
        )
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    assert_eq!(disabled.body["webhook"]["active"], false);

    let visitor = app.visitor().await;
    assert_eq!(visitor.say("first").await.status, 201);
    assert_eq!(admin.post("/heartbeat", json!({})).await.status, 204);
    receiver
        .wait_for("/on", |b| b["data"]["message"]["body"] == "first")
        .await;

    // Rotating: the next delivery is signed with the new secret only.
    let rotated = admin
        .admin_patch(
            &format!("/webhooks/{}", on["id"]),
            json!({ "rotate_secret": true }),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let secret = rotated.body["webhook"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(secret, on["secret"].as_str().unwrap());
    receiver.trust("/on", &secret);
    assert_eq!(visitor.say("second").await.status, 201);
    assert_eq!(admin.post("/heartbeat", json!({})).await.status, 204);
    receiver
        .wait_for("/on", |b| b["data"]["message"]["body"] == "second")
        .await;

    assert!(receiver.unique("/off").is_empty());
    assert!(receiver.attempts().iter().all(|a| a.path != "/off"));
    assert!(deliveries(&admin, &off).await.is_empty());
    assert_eq!(receiver.lock().bad_signatures, 0);

    // A test ping goes even to the disabled endpoint, and its outcome comes back at once.
    let ping = admin
        .admin_post(&format!("/webhooks/{}/test", off["id"]), json!({}))
        .await;
    assert_eq!(ping.status, 202, "{}", ping.text);
    assert_eq!(ping.body["delivery"]["type"], "ping");
    assert_eq!(ping.body["delivery"]["status"], "delivered");
    assert_eq!(receiver.unique("/off").len(), 1);

    // Deleting an endpoint removes it and its history.
    let deleted = admin
        .call("DELETE", &format!("/admin/webhooks/{}", off["id"]), None)
        .await;
    assert_eq!(deleted.status, 204);
    let listed = admin.call("GET", "/admin/webhooks", None).await;
    assert_eq!(listed.body["webhooks"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_webhook_requests_get_clear_errors() {
    let (app, receiver) = app_with_receiver("").await;
    let admin = app.operator().await;
    for (body, field) in [
        (
            json!({ "url": "http://hooks.example.com/in", "events": TYPES }),
            "url: must start with https://",
        ),
        (
            json!({ "url": "https://127.0.0.1/in", "events": TYPES }),
            "url: 127.0.0.1 is a loopback address",
        ),
        (
            json!({ "url": "https://169.254.169.254/latest", "events": TYPES }),
            "link-local",
        ),
        (
            json!({ "url": "https://dispatch.spin.internal/send", "events": TYPES }),
            "local network name",
        ),
        (json!({ "url": "not a url", "events": TYPES }), "url:"),
        (
            json!({ "url": "https://hooks.example.com/in", "events": ["message.deleted"] }),
            "events: unknown event type",
        ),
        (
            json!({ "url": "https://hooks.example.com/in", "events": [] }),
            "events: choose at least one",
        ),
        (
            json!({ "url": "https://hooks.example.com/in" }),
            "events: is required",
        ),
        (
            json!({ "url": "https://hooks.example.com/in", "events": TYPES, "rotate_secret": true }),
            "rotate_secret",
        ),
    ] {
        let reply = admin.admin_post("/webhooks", body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert_eq!(reply.error_code(), "invalid_input");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{body}: {message}");
    }
    let unknown = admin
        .admin_post(
            "/webhooks",
            json!({ "url": "https://hooks.example.com/in", "events": TYPES, "secret": "mine" }),
        )
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    // The trusted origin may be plain http; another port of the same host may not.
    let other_port = receiver
        .origin
        .rsplit_once(':')
        .map(|(h, p)| format!("{h}:{}", p.parse::<u16>().unwrap() ^ 1))
        .unwrap();
    let reply = admin
        .admin_post(
            "/webhooks",
            json!({ "url": format!("{other_port}/x"), "events": TYPES }),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    for n in 0..10 {
        let reply = admin
            .admin_post("/webhooks", json!({ "url": format!("https://hooks.example.com/{n}"), "events": ["message.created"] }))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
    let eleventh = admin
        .admin_post(
            "/webhooks",
            json!({ "url": "https://hooks.example.com/11", "events": TYPES }),
        )
        .await;
    assert_eq!(eleventh.status, 409, "{}", eleventh.text);
    assert_eq!(eleventh.error_code(), "too_many_webhooks");
    for (method, path, body) in [
        (
            "PATCH",
            "/admin/webhooks/999999",
            Some(json!({ "active": false })),
        ),
        ("DELETE", "/admin/webhooks/999999", None),
        ("POST", "/admin/webhooks/999999/test", Some(json!({}))),
        ("GET", "/admin/webhooks/999999/deliveries", None),
    ] {
        let reply = admin.call(method, path, body).await;
        assert_eq!(reply.status, 404, "{method} {path}: {}", reply.text);
        assert_eq!(reply.error_code(), "not_found");
    }
    let wrong = admin.call("PUT", "/admin/webhooks", Some(json!({}))).await;
    assert_eq!(wrong.status, 405);
    let form = app
        .post_raw(
            "/api/admin/webhooks",
            "text/plain",
            b"url=x".to_vec(),
            Some(&admin.token),
        )
        .await;
    assert_eq!(form.status, 415);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_admins_manage_webhooks() {
    let (app, receiver) = app_with_receiver("").await;
    let admin = app.operator().await;
    let endpoint = register(&admin, &receiver, "/x", &["message.created"]).await;
    let id = endpoint["id"].as_i64().unwrap();
    let operator = app.staff("operator", "Olive").await;
    let supervisor = app.staff("supervisor", "Sven").await;
    for caller in [&operator, &supervisor] {
        for (method, path, body) in [
            ("GET", "/admin/webhooks".to_owned(), None),
            (
                "POST",
                "/admin/webhooks".to_owned(),
                Some(json!({ "url": receiver.url("/y"), "events": TYPES })),
            ),
            (
                "PATCH",
                format!("/admin/webhooks/{id}"),
                Some(json!({ "rotate_secret": true })),
            ),
            ("DELETE", format!("/admin/webhooks/{id}"), None),
            (
                "POST",
                format!("/admin/webhooks/{id}/test"),
                Some(json!({})),
            ),
            ("GET", format!("/admin/webhooks/{id}/deliveries"), None),
        ] {
            let reply = caller.call(method, &path, body).await;
            assert_eq!(reply.status, 403, "{method} {path}: {}", reply.text);
            assert_eq!(reply.error_code(), "forbidden");
            assert!(!reply.text.contains("whsec_"));
        }
    }
    // Nothing changed, and nobody but the admin saw the secret.
    let listed = admin.call("GET", "/admin/webhooks", None).await;
    assert_eq!(listed.body["webhooks"][0]["secret"], endpoint["secret"]);
    assert!(receiver.attempts().is_empty());
}
