//! The widget's JS API on the server: identity verification (`POST /api/widget/identify`), a
//! verified user's history on another device, custom attributes and their limits, continuing a
//! conversation by SMS or email (through the fake provider, and the customer's answers landing
//! in the same thread), the transcript by email, and bad inputs answered with 4xx JSON.

use e2e::fake_provider::{FakeProvider, PUBLIC_BASE, TWILIO_TOKEN};
use e2e::{AppSettings, Reply, TestApp, Visitor, spawn_app_with};
use serde_json::{Value, json};

const SECRET: &str = "identity-secret-for-tests";

async fn app_with(fake: Option<&FakeProvider>) -> TestApp {
    let mut variables = fake.map(|f| f.app_variables("")).unwrap_or_default();
    variables.insert("identity_secret".into(), SECRET.into());
    variables.insert("business_name".into(), "Acme <Bikes>".into());
    spawn_app_with(AppSettings { variables }).await
}

fn hash(user_id: &str) -> String {
    shared::identity::expected_hash(SECRET, user_id)
}

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> Reply {
    app.post_raw(
        &format!("/api/widget{path}"),
        "application/json",
        body.to_string().into_bytes(),
        token,
    )
    .await
}

async fn get(app: &TestApp, path: &str, token: &str) -> Reply {
    let request = app
        .http
        .get(app.url(&format!("/api/widget{path}")))
        .bearer_auth(token);
    Reply::from(request.send().await.expect("GET reaches the app")).await
}

fn bodies(snapshot: &Reply) -> Vec<String> {
    snapshot.body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["body"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_verified_user_sees_their_history_on_another_device_and_a_wrong_hash_is_refused() {
    let app = app_with(None).await;
    let laptop = app.visitor().await;
    laptop.say("my order is late").await;
    let verified = post(
        &app,
        "/identify",
        Some(&laptop.token),
        json!({"user_id": "user-42", "hash": hash("user-42"), "name": "Ann", "email": "ann@example.com"}),
    )
    .await;
    assert_eq!(verified.status, 200, "{}", verified.text);
    assert_eq!(verified.body["verified"], true);
    assert!(verified.body.get("visitor_token").is_none());
    assert_eq!(verified.body["conversation_id"], laptop.conversation_id);

    // Another device: no token yet; proving the same user id gives one that reads the history.
    let phone = post(
        &app,
        "/identify",
        None,
        json!({"user_id": "user-42", "hash": hash("user-42")}),
    )
    .await;
    assert_eq!(phone.status, 200, "{}", phone.text);
    let token = phone.body["visitor_token"].as_str().expect("a new token");
    assert_eq!(phone.body["conversation_id"], laptop.conversation_id);
    let history = get(
        &app,
        &format!("/conversations/{}", laptop.conversation_id),
        token,
    )
    .await;
    assert_eq!(history.status, 200, "{}", history.text);
    assert_eq!(bodies(&history), ["my order is late"]);

    // A wrong hash: 403 with a clear error, no token, nothing readable.
    for wrong in [hash("user-43"), "00".repeat(32), "not hex".into()] {
        let refused = post(
            &app,
            "/identify",
            None,
            json!({"user_id": "user-42", "hash": wrong}),
        )
        .await;
        assert_eq!(refused.status, 403, "{}", refused.text);
        assert_eq!(refused.error_code(), "forbidden");
        assert!(
            refused.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("hash")
        );
    }

    // Unverified (no hash): details for this browser only, never another's history.
    let stranger = app.visitor().await;
    let unverified = post(
        &app,
        "/identify",
        Some(&stranger.token),
        json!({"user_id": "user-42", "name": "Mallory"}),
    )
    .await;
    assert_eq!(unverified.status, 200, "{}", unverified.text);
    assert_eq!(unverified.body["verified"], false);
    assert_eq!(unverified.body["conversation_id"], stranger.conversation_id);
    let theirs = get(
        &app,
        &format!("/conversations/{}", laptop.conversation_id),
        &stranger.token,
    )
    .await;
    assert_eq!(theirs.status, 404);

    // The operator sees one contact for the user, with the verified details.
    let admin = app.operator().await;
    let thread = admin
        .get(&format!("/conversations/{}", laptop.conversation_id))
        .await;
    let contact = &thread.body["conversation"]["contact"];
    assert_eq!(contact["name"], "Ann", "{}", thread.text);
    assert_eq!(contact["email"], "ann@example.com");
}

#[tokio::test]
async fn without_a_secret_every_user_is_unverified() {
    let app = spawn_app_with(AppSettings::default()).await;
    let visitor = app.visitor().await;
    let reply = post(
        &app,
        "/identify",
        Some(&visitor.token),
        json!({"user_id": "user-42", "hash": "ab".repeat(32)}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["verified"], false);
    let elsewhere = post(
        &app,
        "/identify",
        None,
        json!({"user_id": "user-42", "hash": "ab".repeat(32)}),
    )
    .await;
    assert_eq!(elsewhere.body["verified"], false);
    assert!(elsewhere.body.get("visitor_token").is_none());
}

#[tokio::test]
async fn attributes_are_kept_on_the_contact_within_their_limits() {
    let app = app_with(None).await;
    let visitor = app.visitor().await;
    let set = |body: Value| post(&app, "/attributes", Some(&visitor.token), body);
    let reply = set(json!({"attributes": {"plan": "pro", "seats": 3}})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = set(json!({"attributes": {"seats": null, "vip": true}})).await;
    assert_eq!(
        reply.body["attributes"],
        json!({"plan": "pro", "vip": true})
    );
    let admin = app.operator().await;
    let thread = admin
        .get(&format!("/conversations/{}", visitor.conversation_id))
        .await;
    let contact_id = thread.body["conversation"]["contact"]["id"]
        .as_i64()
        .expect("a contact");
    let contact = admin.get(&format!("/contacts/{contact_id}")).await;
    assert_eq!(
        contact.body["contact"]["attributes"]["plan"], "pro",
        "{}",
        contact.text
    );

    let too_long = set(json!({"attributes": {"note": "x".repeat(501)}})).await;
    assert_eq!(too_long.assert_client_error(), "invalid_input");
    let nested = set(json!({"attributes": {"a": {"b": 1}}})).await;
    assert_eq!(nested.status, 400);
    let bad_key = set(json!({"attributes": {"no spaces": 1}})).await;
    assert_eq!(bad_key.status, 400);
    let many: serde_json::Map<String, Value> =
        (0..49).map(|i| (format!("k{i}"), json!(i))).collect();
    let over = set(json!({ "attributes": many })).await;
    assert_eq!(over.status, 400, "50 keys at most in all: {}", over.text);
    let anonymous = post(&app, "/attributes", None, json!({"attributes": {}})).await;
    assert_eq!(anonymous.status, 401);
}

async fn continue_by(app: &TestApp, visitor: &Visitor, channel: &str, address: &str) -> Reply {
    post(
        app,
        &format!("/conversations/{}/continue", visitor.conversation_id),
        Some(&visitor.token),
        json!({"channel": channel, "address": address}),
    )
    .await
}

#[tokio::test]
async fn continuing_by_sms_sends_a_confirmation_replies_follow_and_answers_land_in_the_thread() {
    let fake = FakeProvider::start().await;
    let app = app_with(Some(&fake)).await;
    let admin = app.operator().await;
    let visitor = app.visitor().await;
    visitor.say("Can you text me when it ships?").await;

    let reply = continue_by(&app, &visitor, "sms", "+1 (415) 555-0177").await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["address"], "+14155550177");
    let sent = fake.wait_for(1).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].form("To").as_deref(), Some("+14155550177"));
    assert!(
        sent[0].form("Body").unwrap().contains("continued by text"),
        "{:?}",
        sent[0].form("Body")
    );

    // The operator's reply goes by SMS now, without choosing.
    let answer = admin
        .reply(visitor.conversation_id, "It ships tomorrow.")
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert_eq!(answer.body["message"]["channel"], "sms", "{}", answer.text);
    let sent = fake.wait_for(2).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].form("Body").as_deref(), Some("It ships tomorrow."));

    // The customer's text answer lands in the same conversation.
    let hook = app
        .post_twilio(
            PUBLIC_BASE,
            "/hooks/twilio/sms",
            &[
                ("MessageSid", "SM70000000000000000000000000000001"),
                ("AccountSid", "AC00000000000000000000000000000001"),
                ("From", "+14155550177"),
                ("To", "+15005550006"),
                ("Body", "Thanks!"),
                ("NumMedia", "0"),
            ],
            TWILIO_TOKEN,
        )
        .await;
    assert_eq!(hook.status, 200, "{}", hook.text);
    let history = visitor.load().await;
    let said = bodies(&history);
    assert_eq!(said.last().map(String::as_str), Some("Thanks!"), "{said:?}");
}

#[tokio::test]
async fn continuing_by_email_threads_the_customers_reply_into_the_conversation() {
    let fake = FakeProvider::start().await;
    let app = app_with(Some(&fake)).await;
    let visitor = app.visitor().await;
    visitor.say("Email me please").await;
    let reply = continue_by(&app, &visitor, "email", "ann@example.com").await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let sent = fake.wait_for(1).await;
    let email = sent[0].json();
    assert_eq!(sent[0].path, "/email");
    assert_eq!(email["To"], "ann@example.com");
    assert!(
        email["TextBody"]
            .as_str()
            .unwrap()
            .contains("continued by email")
    );
    let reply_to = email["ReplyTo"]
        .as_str()
        .expect("a reply address")
        .to_owned();

    let admin = app.operator().await;
    let options = admin
        .get(&format!("/conversations/{}", visitor.conversation_id))
        .await;
    assert_eq!(
        options.body["reply"]["default"], "email",
        "{}",
        options.text
    );

    let inbound = json!({
        "From": "ann@example.com",
        "FromFull": {"Email": "ann@example.com", "Name": "Ann", "MailboxHash": ""},
        "To": reply_to,
        "ToFull": [{"Email": reply_to, "Name": "", "MailboxHash": ""}],
        "Subject": "Re: Your conversation",
        "MessageID": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
        "MailboxHash": "",
        "TextBody": "Here is my answer",
        "StrippedTextReply": "Here is my answer",
        "Headers": [{"Name": "Message-ID", "Value": "<answer-1@mail.example.com>"}],
        "Attachments": []
    });
    let hook = app
        .http
        .post(app.url("/hooks/email/postmark"))
        .basic_auth("hook", Some("secret"))
        .header("content-type", "application/json")
        .body(inbound.to_string())
        .send()
        .await
        .expect("POST postmark");
    assert_eq!(hook.status(), 200);
    let said = bodies(&visitor.load().await);
    assert!(
        said.iter().any(|b| b.contains("Here is my answer")),
        "{said:?}"
    );
}

#[tokio::test]
async fn the_transcript_goes_by_email_as_plain_text_and_is_rate_limited() {
    let fake = FakeProvider::start().await;
    let app = app_with(Some(&fake)).await;
    let visitor = app.visitor().await;
    visitor
        .say("<script>alert(1)</script> where is my bike?")
        .await;
    let admin = app.operator().await;
    admin
        .reply(visitor.conversation_id, "On its way, Ann.")
        .await;
    let path = format!("/conversations/{}/transcript", visitor.conversation_id);
    let reply = post(
        &app,
        &path,
        Some(&visitor.token),
        json!({"email": "ann@example.com"}),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(reply.body["messages"], 2);
    let sent = fake.wait_for(1).await;
    let email = sent[0].json();
    assert_eq!(email["To"], "ann@example.com");
    assert_eq!(
        email["Subject"],
        "Transcript of your conversation with Acme <Bikes>"
    );
    assert!(
        email.get("HtmlBody").is_none_or(Value::is_null),
        "text only"
    );
    let text = email["TextBody"].as_str().unwrap();
    assert!(
        text.contains("You: <script>alert(1)</script> where is my bike?"),
        "{text}"
    );
    assert!(text.contains(": On its way, Ann."), "{text}");
    assert!(text.contains(" UTC] "), "{text}");
    // The conversation keeps a notice, not the transcript.
    let said = bodies(&visitor.load().await);
    assert!(said.iter().any(|b| b.contains("transcript")), "{said:?}");

    for _ in 0..2 {
        let again = post(
            &app,
            &path,
            Some(&visitor.token),
            json!({"email": "ann@example.com"}),
        )
        .await;
        assert_eq!(again.status, 202, "{}", again.text);
    }
    let limited = post(
        &app,
        &path,
        Some(&visitor.token),
        json!({"email": "ann@example.com"}),
    )
    .await;
    assert_eq!(limited.status, 429, "{}", limited.text);
    assert_eq!(limited.error_code(), "too_many_requests");
}

#[tokio::test]
async fn bad_inputs_get_clear_4xx_json() {
    let app = app_with(None).await;
    let visitor = app.visitor().await;
    let other = app.visitor().await;
    let id = visitor.conversation_id;
    let cases: Vec<(String, Option<&str>, Value, u16)> = vec![
        ("/identify".into(), None, json!({}), 400),
        ("/identify".into(), None, json!({"user_id": ""}), 400),
        (
            "/identify".into(),
            None,
            json!({"user_id": "x".repeat(201), "hash": "00"}),
            400,
        ),
        (
            "/identify".into(),
            Some(&visitor.token),
            json!({"user_id": "u", "email": "nope"}),
            400,
        ),
        (
            "/identify".into(),
            None,
            json!({"user_id": "u", "extra": 1}),
            400,
        ),
        (
            format!("/conversations/{id}/continue"),
            Some(&visitor.token),
            json!({"channel": "sms", "address": "4155550100"}),
            400,
        ),
        (
            format!("/conversations/{id}/continue"),
            Some(&visitor.token),
            json!({"channel": "fax", "address": "+14155550100"}),
            400,
        ),
        (
            format!("/conversations/{id}/continue"),
            Some(&visitor.token),
            json!({"channel": "email", "address": "not an address"}),
            400,
        ),
        (
            format!("/conversations/{id}/continue"),
            None,
            json!({"channel": "email", "address": "a@example.com"}),
            401,
        ),
        (
            format!("/conversations/{id}/continue"),
            Some(&other.token),
            json!({"channel": "email", "address": "a@example.com"}),
            404,
        ),
        (
            format!("/conversations/{id}/transcript"),
            Some(&visitor.token),
            json!({"email": "nope"}),
            400,
        ),
        (
            format!("/conversations/{id}/transcript"),
            Some(&other.token),
            json!({"email": "a@example.com"}),
            404,
        ),
    ];
    for (path, token, body, status) in cases {
        let reply = post(&app, &path, token, body.clone()).await;
        assert_eq!(reply.status, status, "{path} {body}: {}", reply.text);
        reply.assert_client_error();
    }
    let wrong_method = app.get("/api/widget/identify").await;
    assert_eq!(wrong_method.status, 405);
    // A transcript of a conversation with nothing in it is refused, not sent empty.
    let empty = post(
        &app,
        &format!("/conversations/{id}/transcript"),
        Some(&visitor.token),
        json!({"email": "a@example.com"}),
    )
    .await;
    assert_eq!(empty.status, 409, "{}", empty.text);
}
