//! No one reads what isn't theirs: visitor tokens, operator sessions, the first-admin paths.

use e2e::{ADMIN_EMAIL, AppSettings, SETUP_TOKEN, spawn_app, spawn_app_with};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_visitor_cannot_read_or_write_another_visitors_conversation() {
    let app = spawn_app().await;
    let alice = app.visitor().await;
    let mallory = app.visitor().await;
    alice.say("my address is 1 Secret Lane").await;

    let mut intruder = mallory.clone();
    intruder.conversation_id = alice.conversation_id;
    for reply in [
        intruder.load().await,
        intruder.say("hijack").await,
        intruder.events(0, 0).await,
        intruder.typing().await,
        intruder.read(1).await,
    ] {
        assert_eq!(reply.status, 404, "{}", reply.text);
        assert_eq!(reply.error_code(), "not_found");
        assert!(!reply.text.contains("Secret Lane"));
    }
    // Malformed tokens: 401; a well-formed token that owns nothing: 404. Never data.
    for (token, status) in [("", 401), ("not-a-token", 401), (&*"x".repeat(43), 404)] {
        let mut anonymous = alice.clone();
        anonymous.token = token.to_owned();
        let reply = anonymous.load().await;
        assert_eq!(reply.status, status, "token {token:?}: {}", reply.text);
        assert!(!reply.text.contains("Secret Lane"));
    }
    let no_auth = app
        .get(&format!(
            "/api/widget/conversations/{}",
            alice.conversation_id
        ))
        .await;
    assert_eq!(no_auth.status, 401);
    assert_eq!(no_auth.error_code(), "unauthorized");
    // Alice still sees only her own message.
    let history = alice.load().await;
    assert_eq!(history.body["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_returning_visitor_token_starts_new_conversations_for_the_same_contact() {
    let app = spawn_app().await;
    let visitor = app.visitor().await;
    let details = br#"{"name":"Ann","email":"ann@example.com"}"#.to_vec();
    let again = app
        .post_raw(
            "/api/widget/conversations",
            "application/json",
            details,
            Some(&visitor.token),
        )
        .await;
    assert_eq!(again.status, 201);
    assert!(
        again.body.get("visitor_token").is_none(),
        "the token is issued once"
    );
    // The same token owns both conversations: it is one contact.
    let mut second = visitor.clone();
    second.conversation_id = again.body["conversation"]["id"].as_i64().unwrap();
    assert_ne!(second.conversation_id, visitor.conversation_id);
    assert_eq!(second.load().await.status, 200);
    assert_eq!(visitor.load().await.status, 200);
    // What the returning visitor told us reaches the operators.
    let thread = app
        .operator()
        .await
        .get(&format!("/conversations/{}", visitor.conversation_id))
        .await;
    assert_eq!(thread.body["conversation"]["contact"]["name"], "Ann");
    assert_eq!(
        thread.body["conversation"]["contact"]["email"],
        "ann@example.com"
    );
    // The bearer scheme is case-insensitive.
    let lower = e2e::Reply::from(
        app.http
            .get(app.url(&format!(
                "/api/widget/conversations/{}",
                visitor.conversation_id
            )))
            .header("authorization", format!("bearer {}", visitor.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(lower.status, 200);
    let forged = app
        .post_raw(
            "/api/widget/conversations",
            "application/json",
            b"{}".to_vec(),
            Some(&"A".repeat(43)),
        )
        .await;
    assert_eq!(forged.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_operator_route_needs_a_valid_session() {
    let app = spawn_app().await;
    let visitor = app.visitor().await;
    let c = visitor.conversation_id;
    let thread = format!("/api/inbox/conversations/{c}");
    let gets = [
        "/api/inbox/me",
        "/api/inbox/conversations",
        &thread,
        "/api/inbox/events?wait=0",
        "/api/inbox/queue",
        "/api/inbox/operators",
        "/api/inbox/contacts/1",
        "/api/inbox/canned",
        "/api/inbox/mentions",
        "/api/admin/operators",
        "/api/admin/settings",
    ];
    let posts = [
        format!("/api/inbox/conversations/{c}/messages"),
        format!("/api/inbox/conversations/{c}/typing"),
        format!("/api/inbox/conversations/{c}/read"),
        format!("/api/inbox/conversations/{c}/notes"),
        format!("/api/inbox/conversations/{c}/status"),
        format!("/api/inbox/conversations/{c}/assign"),
        "/api/inbox/presence".to_owned(),
        "/api/inbox/heartbeat".to_owned(),
        "/api/admin/tags".to_owned(),
        "/api/admin/operators".to_owned(),
    ];
    for bearer in [None, Some("A".repeat(43)), Some(visitor.token.clone())] {
        for path in gets {
            let mut request = app.http.get(app.url(path));
            if let Some(token) = &bearer {
                request = request.bearer_auth(token);
            }
            let reply = e2e::Reply::from(request.send().await.unwrap()).await;
            assert_eq!(reply.status, 401, "GET {path}: {}", reply.text);
            assert_eq!(reply.error_code(), "unauthorized");
        }
        for path in &posts {
            let reply = app
                .post_raw(
                    path,
                    "application/json",
                    br#"{"body":"x","message_id":1}"#.to_vec(),
                    bearer.as_deref(),
                )
                .await;
            assert_eq!(reply.status, 401, "POST {path}: {}", reply.text);
        }
    }
    assert!(
        visitor.load().await.body["messages"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was posted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_sets_an_http_only_cookie_and_logout_ends_the_session() {
    let app = spawn_app().await;
    let login = app
        .post_raw(
            "/api/inbox/login",
            "application/json",
            serde_json::to_vec(&json!({"email": ADMIN_EMAIL, "password": e2e::ADMIN_PASSWORD}))
                .unwrap(),
            None,
        )
        .await;
    assert_eq!(login.status, 200);
    let cookie = login.header("set-cookie").expect("a session cookie");
    assert!(cookie.starts_with("lc_session="));
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/api;"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain-http loopback development needs a non-Secure cookie"
    );
    // Through a TLS proxy the browser's host name is a real one: the cookie must be Secure.
    let proxied = e2e::Reply::from(
        app.http
            .post(app.url("/api/inbox/login"))
            .header("host", "chat.example.com")
            .json(&json!({"email": ADMIN_EMAIL, "password": e2e::ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(proxied.status, 200, "{}", proxied.text);
    assert!(proxied.header("set-cookie").unwrap().contains("; Secure"));
    let session = cookie.split(';').next().unwrap().to_owned();
    let me = e2e::Reply::from(
        app.http
            .get(app.url("/api/inbox/me"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["operator"]["email"], ADMIN_EMAIL);
    assert_eq!(me.body["operator"]["role"], "admin");

    // Cookie-authenticated POSTs must be JSON: a cross-site form cannot forge one.
    let form = e2e::Reply::from(
        app.http
            .post(app.url("/api/inbox/logout"))
            .header("cookie", &session)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("a=b")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(form.status, 415);

    let logout = e2e::Reply::from(
        app.http
            .post(app.url("/api/inbox/logout"))
            .header("cookie", &session)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(logout.status, 204);
    assert!(logout.header("set-cookie").unwrap().contains("Max-Age=0"));
    let after = e2e::Reply::from(
        app.http
            .get(app.url("/api/inbox/me"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(after.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_passwords_and_unknown_emails_get_the_same_answer() {
    let app = spawn_app().await;
    let wrong = app
        .login(ADMIN_EMAIL, "wrong password!")
        .await
        .err()
        .unwrap();
    let unknown = app
        .login("nobody@example.com", "wrong password!")
        .await
        .err()
        .unwrap();
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert_eq!(wrong.error_code(), "invalid_credentials");
    assert_eq!(wrong.body, unknown.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_setup_token_creates_the_first_admin_once() {
    let settings = AppSettings {
        variables: [
            ("admin_email".to_owned(), String::new()),
            ("admin_password".to_owned(), String::new()),
        ]
        .into(),
    };
    let app = spawn_app_with(settings).await;
    let setup = |token: &str, email: &str| {
        serde_json::to_vec(&json!({"setup_token": token, "email": email, "name": "Ada", "password": "a long passphrase"})).unwrap()
    };
    let wrong = app
        .post_raw(
            "/api/inbox/setup",
            "application/json",
            setup("guess", "ada@example.com"),
            None,
        )
        .await;
    assert_eq!(wrong.status, 403);
    let created = app
        .post_raw(
            "/api/inbox/setup",
            "application/json",
            setup(SETUP_TOKEN, "ada@example.com"),
            None,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["operator"]["role"], "admin");
    let again = app
        .post_raw(
            "/api/inbox/setup",
            "application/json",
            setup(SETUP_TOKEN, "eve@example.com"),
            None,
        )
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(again.error_code(), "already_set_up");
    assert!(
        app.login("ada@example.com", "a long passphrase")
            .await
            .is_ok()
    );
    assert!(
        app.login("eve@example.com", "a long passphrase")
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeated_wrong_passwords_are_throttled_with_retry_after() {
    let app = spawn_app().await;
    for _ in 0..10 {
        assert_eq!(
            app.login(ADMIN_EMAIL, "wrong password!")
                .await
                .err()
                .unwrap()
                .status,
            401
        );
    }
    let throttled = app
        .login(ADMIN_EMAIL, e2e::ADMIN_PASSWORD)
        .await
        .err()
        .expect("the account is locked for now");
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.error_code(), "too_many_requests");
    let retry_after: i64 = throttled
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
}
