//! Abuse limits over HTTP: request-rate limits per client address, visitor and operator
//! (429 `rate_limited` with `Retry-After`, counted for supervisors), the sign-in
//! throttle per address, the CSRF origin check on cookie-authenticated changes, the headers
//! every API response carries, and refused provider webhooks in the system report.

use std::collections::HashMap;
use std::time::Duration;

use e2e::{AppSettings, Reply, TestApp, spawn_app_with};
use serde_json::{Value, json};

async fn app_with(variables: &[(&str, &str)]) -> TestApp {
    let variables: HashMap<String, String> = variables
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    spawn_app_with(AppSettings { variables }).await
}

/// The limits count per clock minute: a test that needs N requests in one window starts early
/// in a minute, so the window cannot roll over under it.
async fn start_of_a_minute() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970");
    let into_minute = now.as_millis() % 60_000;
    if into_minute > 45_000 {
        tokio::time::sleep(Duration::from_millis((60_000 - into_minute) as u64 + 200)).await;
    }
}

fn assert_rate_limited(reply: &Reply) -> i64 {
    assert_eq!(reply.status, 429, "{}", reply.text);
    assert_eq!(reply.error_code(), "rate_limited");
    let retry_after: i64 = reply
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    retry_after
}

async fn system(app: &TestApp) -> Value {
    let admin = app.operator().await;
    let reply = admin.call("GET", "/reports/system", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

#[tokio::test]
async fn a_visitor_over_their_limit_waits_and_others_do_not() {
    let app = app_with(&[("rate_limit_visitor_per_minute", "5")]).await;
    start_of_a_minute().await;
    let visitor = app.visitor().await;
    for n in 0..4 {
        assert_eq!(visitor.say(&format!("message {n}")).await.status, 201);
    }
    assert_eq!(visitor.typing().await.status, 204, "typing counts too");
    let refused = visitor.say("one too many").await;
    assert_rate_limited(&refused);
    assert_rate_limited(&visitor.say("and again").await);
    assert_eq!(
        visitor.load().await.status,
        200,
        "reading is not a visitor write"
    );
    let other = app.visitor().await;
    assert_eq!(other.say("my own budget").await.status, 201);

    // The refused message was not stored.
    let thread = visitor.load().await;
    let bodies: Vec<&str> = thread.body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert!(!bodies.contains(&"one too many"), "{bodies:?}");

    let report = system(&app).await;
    assert_eq!(
        report["rate_limited_24h"]["visitor"], 1,
        "one visitor went over once (counted once per minute): {report}"
    );
}

#[tokio::test]
async fn every_public_request_counts_against_the_client_address() {
    let app = app_with(&[("rate_limit_ip_per_minute", "8")]).await;
    start_of_a_minute().await;
    for _ in 0..8 {
        assert_eq!(app.get("/api/widget/config").await.status, 200);
    }
    assert_rate_limited(&app.get("/api/widget/config").await);
    // The same address is over its budget on the console's API too.
    let login = app
        .login(e2e::ADMIN_EMAIL, e2e::ADMIN_PASSWORD)
        .await
        .err()
        .expect("refused while over the limit");
    assert_rate_limited(&login);
    // Provider webhooks and the health check are not limited by address (README, "Limits").
    assert_eq!(app.get("/health").await.status, 200);
    let unsigned = app
        .post_raw(
            "/hooks/twilio/sms",
            "application/x-www-form-urlencoded",
            b"Body=hi".to_vec(),
            None,
        )
        .await;
    assert_eq!(unsigned.status, 401, "{}", unsigned.text);
}

#[tokio::test]
async fn a_spoofed_client_address_header_does_not_escape_the_limit() {
    let app = app_with(&[("rate_limit_ip_per_minute", "3")]).await;
    start_of_a_minute().await;
    for n in 0..4 {
        let reply = Reply::from(
            app.http
                .get(app.url("/api/widget/config"))
                .header("spin-client-addr", format!("10.0.0.{n}:1234"))
                .header("x-forwarded-for", format!("10.0.1.{n}"))
                .send()
                .await
                .expect("the app answers"),
        )
        .await;
        if n < 3 {
            assert_eq!(reply.status, 200, "{}", reply.text);
        } else {
            assert_rate_limited(&reply);
        }
    }
}

#[tokio::test]
async fn an_operator_is_limited_on_changes_only_in_all_their_sessions() {
    let app = app_with(&[("rate_limit_operator_per_minute", "3")]).await;
    start_of_a_minute().await;
    let admin = app.operator().await;
    for _ in 0..3 {
        let reply = admin
            .post("/presence", json!({ "presence": "available" }))
            .await;
        assert!(reply.status < 300, "{} {}", reply.status, reply.text);
    }
    assert_rate_limited(&admin.post("/presence", json!({ "presence": "away" })).await);
    assert_eq!(admin.get("/me").await.status, 200, "reads are not limited");
    // The budget is the person's: another session of theirs does not get a fresh one.
    let second = app.operator().await;
    assert_rate_limited(
        &second
            .post("/presence", json!({ "presence": "available" }))
            .await,
    );
}

#[tokio::test]
async fn a_token_that_authenticates_no_one_is_never_rate_limited_as_a_visitor() {
    let app = app_with(&[("rate_limit_visitor_per_minute", "1")]).await;
    start_of_a_minute().await;
    // Made-up tokens own no conversation (404, as for any conversation not the visitor's) every
    // time, never 429: only the address limit counts them, so they create no per-visitor state
    // (limit keys never expire).
    for n in 0..3 {
        let token = format!("{n:0>43}");
        let reply = app
            .post_raw(
                "/api/widget/conversations/1/typing",
                "application/json",
                b"{}".to_vec(),
                Some(&token),
            )
            .await;
        assert_eq!(reply.status, 404, "{}", reply.text);
    }
    let made_up = format!("{:z>43}", "");
    for _ in 0..3 {
        let reply = app
            .post_raw(
                "/api/widget/conversations/1/typing",
                "application/json",
                b"{}".to_vec(),
                Some(&made_up),
            )
            .await;
        assert_eq!(
            reply.status, 404,
            "the same made-up token again: {}",
            reply.text
        );
    }
}

#[tokio::test]
async fn failed_sign_ins_from_one_address_are_throttled_with_retry_after() {
    let app = app_with(&[]).await;
    // 30 failures per address in 15 minutes, whichever accounts they try.
    for n in 0..30 {
        let refused = app
            .login(&format!("nobody{n}@example.com"), "wrong password!")
            .await
            .err()
            .expect("a wrong password is refused");
        assert_eq!(refused.status, 401, "{}", refused.text);
    }
    let throttled = app
        .login(e2e::ADMIN_EMAIL, e2e::ADMIN_PASSWORD)
        .await
        .err()
        .expect("the address is throttled, even with the right password");
    assert_eq!(throttled.status, 429, "{}", throttled.text);
    assert_eq!(throttled.error_code(), "too_many_requests");
    let retry_after: i64 = throttled
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .expect("seconds");
    assert!((1..=900).contains(&retry_after), "{retry_after}");
}

/// A console-style request: the session in the cookie, with the given browser headers.
async fn cookie_post(app: &TestApp, token: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = app
        .http
        .post(app.url(path))
        .header("content-type", "application/json")
        .header("cookie", format!("lc_session={token}"))
        .body(json!({ "presence": "available" }).to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Reply::from(request.send().await.expect("the app answers")).await
}

#[tokio::test]
async fn cookie_authenticated_changes_must_come_from_our_own_origin() {
    let app = app_with(&[]).await;
    let admin = app.operator().await;
    let own = app.base.clone();
    let presence = "/api/inbox/presence";

    let same = cookie_post(&app, &admin.token, presence, &[("origin", &own)]).await;
    assert!(same.status < 300, "{} {}", same.status, same.text);
    let fetch_site = cookie_post(
        &app,
        &admin.token,
        presence,
        &[("sec-fetch-site", "same-origin")],
    )
    .await;
    assert!(fetch_site.status < 300, "{}", fetch_site.text);

    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "same-origin"),
        ],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
    ] {
        let forged = cookie_post(&app, &admin.token, presence, &headers).await;
        assert_eq!(forged.status, 403, "{headers:?}: {}", forged.text);
        assert_eq!(forged.error_code(), "csrf");
    }
    // The admin API is guarded the same way.
    let forged = cookie_post(
        &app,
        &admin.token,
        "/api/admin/tags",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(forged.error_code(), "csrf");

    // A bearer token cannot be attached by another site: no origin check.
    let bearer = Reply::from(
        app.http
            .post(app.url(presence))
            .bearer_auth(&admin.token)
            .header("content-type", "application/json")
            .header("origin", "https://evil.example")
            .body(json!({ "presence": "available" }).to_string())
            .send()
            .await
            .expect("the app answers"),
    )
    .await;
    assert!(bearer.status < 300, "{} {}", bearer.status, bearer.text);
}

#[tokio::test]
async fn the_public_base_url_is_an_own_origin_behind_a_proxy() {
    let app = app_with(&[("public_base_url", "https://chat.example.com")]).await;
    let admin = app.operator().await;
    let proxied = cookie_post(
        &app,
        &admin.token,
        "/api/inbox/presence",
        &[("origin", "https://chat.example.com")],
    )
    .await;
    assert!(proxied.status < 300, "{} {}", proxied.status, proxied.text);
}

#[tokio::test]
async fn api_responses_carry_security_headers_and_a_request_id() {
    let app = app_with(&[("hsts_max_age", "31536000")]).await;
    for path in [
        "/api/widget/config",
        "/api/inbox/me",
        "/api/admin/tags",
        "/api/reports/summary",
        "/api/widget/nope",
        "/health",
    ] {
        let reply = app.get(path).await;
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            reply.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(
            reply.header("strict-transport-security"),
            Some("max-age=31536000"),
            "{path}"
        );
        let id = reply.header("x-request-id").unwrap_or_default();
        assert!(
            id.len() >= 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{path}: {id:?}"
        );
    }
    // The pages get HSTS too (static-files); the console cannot be framed.
    let console = app.get("/console/").await;
    assert_eq!(console.status, 200);
    assert_eq!(
        console.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    assert!(
        console
            .header("content-security-policy")
            .is_some_and(|csp| csp.contains("frame-ancestors 'none'")),
        "{:?}",
        console.header("content-security-policy")
    );
    let given = Reply::from(
        app.http
            .get(app.url("/api/widget/config"))
            .header("x-request-id", "trace-abc.123")
            .send()
            .await
            .expect("the app answers"),
    )
    .await;
    assert_eq!(given.header("x-request-id"), Some("trace-abc.123"));
    let hostile = Reply::from(
        app.http
            .get(app.url("/api/widget/config"))
            .header("x-request-id", "a\"b}{".repeat(3))
            .send()
            .await
            .expect("the app answers"),
    )
    .await;
    assert_ne!(hostile.header("x-request-id"), Some("a\"b}{a\"b}{a\"b}{"));
    assert!(hostile.header("x-request-id").is_some());
}

#[tokio::test]
async fn without_hsts_configured_no_hsts_header_is_sent() {
    let app = app_with(&[]).await;
    for path in ["/api/widget/config", "/console/"] {
        let reply = app.get(path).await;
        assert_eq!(reply.header("strict-transport-security"), None, "{path}");
    }
}

#[tokio::test]
async fn a_badly_signed_twilio_webhook_is_counted_for_supervisors() {
    let app = app_with(&[("twilio_auth_token", "test-twilio-auth-token")]).await;
    let before = system(&app).await;
    assert_eq!(before["inbound_rejected_24h"]["twilio"], 0, "{before}");
    start_of_a_minute().await;
    // A flood from one address is counted once a minute: refusals must not become SQLite writes.
    for _ in 0..3 {
        let forged = Reply::from(
            app.http
                .post(app.url("/hooks/twilio/sms"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-twilio-signature", "bm90IGEgc2lnbmF0dXJl")
                .body("From=%2B15550001111&Body=hi&MessageSid=SM1")
                .send()
                .await
                .expect("the app answers"),
        )
        .await;
        assert_eq!(forged.status, 403, "{}", forged.text);
    }
    let unsigned_meta = app
        .post_raw("/hooks/meta", "application/json", b"{}".to_vec(), None)
        .await;
    assert_eq!(unsigned_meta.status, 401, "{}", unsigned_meta.text);
    let after = system(&app).await;
    assert_eq!(after["inbound_rejected_24h"]["twilio"], 1, "{after}");
    assert_eq!(after["inbound_rejected_24h"]["meta"], 1, "{after}");
    assert_eq!(after["inbound_rejected_24h"]["postmark"], 0, "{after}");
}

#[tokio::test]
async fn the_system_report_shows_the_queue_and_is_for_supervisors() {
    let app = app_with(&[]).await;
    let visitor = app.visitor().await;
    assert_eq!(visitor.say("anyone there?").await.status, 201);
    let report = system(&app).await;
    assert_eq!(report["queue"]["waiting"], 1, "{report}");
    assert!(
        report["queue"]["longest_wait_s"].as_i64().is_some(),
        "{report}"
    );
    assert_eq!(report["replies"]["failed_24h"], 0);
    assert_eq!(report["webhooks"]["retrying"], 0);
    let operator = app.staff("operator", "Olive").await;
    let refused = operator.call("GET", "/reports/system", None).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let anonymous = app.get("/api/reports/system").await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
}

#[tokio::test]
async fn a_body_over_any_routes_limit_is_a_413_envelope_not_a_500() {
    let app = app_with(&[
        ("twilio_auth_token", "test-twilio-auth-token"),
        ("meta_app_secret", "test-meta-secret"),
    ])
    .await;
    let admin = app.operator().await;
    let kib = |n: usize| vec![b'a'; n * 1024];
    for (method, path, content_type, body) in [
        (
            "POST",
            "/api/widget/conversations",
            "application/json",
            kib(65),
        ),
        ("POST", "/api/inbox/login", "application/json", kib(65)),
        ("PATCH", "/api/admin/settings", "application/json", kib(65)),
        ("GET", "/api/reports/summary", "application/json", kib(2)),
        (
            "POST",
            "/hooks/twilio/sms",
            "application/x-www-form-urlencoded",
            kib(65),
        ),
        ("POST", "/hooks/meta", "application/json", kib(1025)),
        (
            "POST",
            "/hooks/email/postmark",
            "application/json",
            kib(32 * 1024 + 1),
        ),
    ] {
        let method: reqwest::Method = method.parse().expect("a method");
        let reply = Reply::from(
            app.http
                .request(method.clone(), app.url(path))
                .bearer_auth(&admin.token)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .expect("the app answers"),
        )
        .await;
        assert_eq!(reply.status, 413, "{method} {path}: {}", reply.text);
        // The app answers a declared length over the limit before reading the body; a client
        // still sending 32 MiB may see the connection close under the envelope.
        if !(reply.text.is_empty() && path.starts_with("/hooks/email")) {
            assert_eq!(reply.error_code(), "payload_too_large", "{method} {path}");
        }
    }
}
