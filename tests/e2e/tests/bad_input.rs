//! Bad input always gets a clear 4xx JSON envelope: never a panic, a hang or a 500.

use e2e::spawn_app;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_messages_are_rejected_with_a_reason_and_nothing_is_stored() {
    let app = spawn_app().await;
    let visitor = app.visitor().await;
    let path = format!(
        "/api/widget/conversations/{}/messages",
        visitor.conversation_id
    );
    let too_long = serde_json::to_vec(&json!({ "body": "x".repeat(4001) })).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str, u16, &str)> = vec![
        (
            "malformed JSON",
            b"{\"body\":".to_vec(),
            "application/json",
            400,
            "invalid_json",
        ),
        (
            "not an object",
            b"[1,2]".to_vec(),
            "application/json",
            400,
            "invalid_input",
        ),
        (
            "wrong type",
            b"{\"body\":42}".to_vec(),
            "application/json",
            400,
            "invalid_input",
        ),
        (
            "missing field",
            b"{}".to_vec(),
            "application/json",
            400,
            "invalid_input",
        ),
        (
            "empty body text",
            b"{\"body\":\"   \"}".to_vec(),
            "application/json",
            400,
            "invalid_input",
        ),
        (
            "oversized message",
            too_long,
            "application/json",
            400,
            "invalid_input",
        ),
        (
            "invalid UTF-8",
            b"{\"body\":\"\xff\xfe\"}".to_vec(),
            "application/json",
            400,
            "invalid_json",
        ),
        (
            "control characters",
            b"{\"body\":\"a\\u0000b\"}".to_vec(),
            "application/json",
            400,
            "invalid_input",
        ),
        (
            "bad client id",
            b"{\"body\":\"hi\",\"client_id\":\"a b\"}".to_vec(),
            "application/json",
            400,
            "invalid_input",
        ),
        (
            "not JSON at all",
            b"body=hi".to_vec(),
            "application/x-www-form-urlencoded",
            415,
            "unsupported_media_type",
        ),
        (
            "body over the limit",
            vec![b' '; 70 * 1024],
            "application/json",
            413,
            "payload_too_large",
        ),
    ];
    for (what, body, content_type, status, code) in cases {
        let reply = app
            .post_raw(&path, content_type, body, Some(&visitor.token))
            .await;
        assert_eq!(reply.status, status, "{what}: {}", reply.text);
        assert_eq!(reply.assert_client_error(), code, "{what}");
    }
    assert!(
        visitor.load().await.body["messages"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = spawn_app().await;
    let visitor = app.visitor().await;
    for path in [
        "/api/widget/nope",
        "/api/widget/conversations/abc",
        "/api/widget/conversations/1/whatever",
        "/api/inbox/nope",
        "/api/inbox/conversations/-3",
    ] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text);
        assert_eq!(reply.error_code(), "not_found");
    }
    let delete = e2e::Reply::from(
        app.http
            .delete(app.url(&format!(
                "/api/widget/conversations/{}/messages",
                visitor.conversation_id
            )))
            .bearer_auth(&visitor.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(delete.status, 405);
    assert_eq!(delete.error_code(), "method_not_allowed");
    assert_eq!(delete.header("allow"), Some("POST"));
    let get_login = app.get("/api/inbox/login").await;
    assert_eq!(get_login.status, 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_event_cursors_and_read_ids_are_rejected() {
    let app = spawn_app().await;
    let visitor = app.visitor().await;
    for query in ["after=-1", "after=abc", "wait=99", "wait=-1"] {
        let reply = app
            .http
            .get(app.url(&format!(
                "/api/widget/conversations/{}/events?{query}",
                visitor.conversation_id
            )))
            .bearer_auth(&visitor.token)
            .send()
            .await
            .unwrap();
        let reply = e2e::Reply::from(reply).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.text);
        assert_eq!(reply.error_code(), "invalid_input");
    }
    assert_eq!(visitor.read(0).await.status, 400);
    let string_id = app
        .post_raw(
            &format!("/api/widget/conversations/{}/read", visitor.conversation_id),
            "application/json",
            br#"{"message_id":"7"}"#.to_vec(),
            Some(&visitor.token),
        )
        .await;
    assert_eq!(string_id.assert_client_error(), "invalid_input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_login_and_start_payloads_are_client_errors() {
    let app = spawn_app().await;
    for body in [&b"{"[..], b"{\"email\":1}", b"null", b""] {
        let reply = app
            .post_raw("/api/inbox/login", "application/json", body.to_vec(), None)
            .await;
        reply.assert_client_error();
    }
    let bad_email = app
        .post_raw(
            "/api/widget/conversations",
            "application/json",
            br#"{"email":"not an email"}"#.to_vec(),
            None,
        )
        .await;
    assert_eq!(bad_email.assert_client_error(), "invalid_input");
    let long_name = serde_json::to_vec(&json!({ "name": "n".repeat(101) })).unwrap();
    assert_eq!(
        app.post_raw(
            "/api/widget/conversations",
            "application/json",
            long_name,
            None
        )
        .await
        .status,
        400
    );
}
