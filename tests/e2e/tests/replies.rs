//! Replies out through the customer's channel, through the real components: the operator's
//! reply is answered at once, `dispatch` sends it to a fake provider on loopback, delivery
//! states follow the provider's callbacks (never backwards), outages are retried from the
//! durable outbox until delivered or visibly failed. Also: visitors' uploads and who may read
//! them.

use std::time::{Duration, Instant};

use e2e::fake_provider::{FakeProvider, META_SECRET, PUBLIC_BASE, TWILIO_TOKEN};
use e2e::{AppSettings, Operator, TestApp, spawn_app_with};
use serde_json::{Value, json};

const CUSTOMER: &str = "+14155550100";

async fn app_with(fake: &FakeProvider, retry_schedule: &str) -> TestApp {
    spawn_app_with(AppSettings {
        variables: fake.app_variables(retry_schedule),
    })
    .await
}

/// An SMS from the customer; returns its conversation id.
async fn customer_texts(app: &TestApp, admin: &Operator, sid: &str, body: &str) -> i64 {
    // Behind a proxy Twilio signs the public URL, which public_base_url names.
    let reply = app
        .post_twilio(
            PUBLIC_BASE,
            "/hooks/twilio/sms",
            &[
                ("MessageSid", sid),
                ("AccountSid", "AC00000000000000000000000000000001"),
                ("From", CUSTOMER),
                ("To", "+15005550006"),
                ("Body", body),
                ("NumMedia", "0"),
            ],
            TWILIO_TOKEN,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let list = admin.get("/conversations").await;
    list.body["conversations"][0]["id"]
        .as_i64()
        .expect("a conversation")
}

/// The operator's view of one message, by id.
async fn message(admin: &Operator, conversation_id: i64, id: i64) -> Value {
    let thread = admin
        .get(&format!("/conversations/{conversation_id}"))
        .await;
    thread.body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["id"] == id)
        .cloned()
        .expect("the message is in the thread")
}

/// Polls (heartbeats drive retries) until the message's delivery is `state`.
async fn wait_for_delivery(admin: &Operator, conversation_id: i64, id: i64, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let current = message(admin, conversation_id, id).await;
        if current["delivery"] == state || Instant::now() > deadline {
            return current;
        }
        admin.post("/heartbeat", json!({})).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_sms_reply_goes_out_through_twilio_and_follows_status_callbacks_forward_only() {
    let fake = FakeProvider::start().await;
    let app = app_with(&fake, "").await;
    let admin = app.operator().await;
    let id = customer_texts(
        &app,
        &admin,
        "SM00000000000000000000000000000001",
        "Is my order shipped?",
    )
    .await;

    let thread = admin.get(&format!("/conversations/{id}")).await;
    assert_eq!(thread.body["reply"]["default"], "sms");

    let reply = admin
        .reply(id, "Yes, it left today & arrives Friday.")
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let sent = &reply.body["message"];
    assert_eq!(sent["channel"], "sms");
    assert_eq!(
        sent["delivery"], "queued",
        "answered before the provider was called"
    );
    let message_id = sent["id"].as_i64().unwrap();

    let requests = fake.wait_for(1).await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.path,
        "/2010-04-01/Accounts/AC00000000000000000000000000000001/Messages.json"
    );
    assert_eq!(request.form("To").as_deref(), Some(CUSTOMER));
    assert_eq!(request.form("From").as_deref(), Some("+15005550006"));
    assert_eq!(
        request.form("Body").as_deref(),
        Some("Yes, it left today & arrives Friday.")
    );
    assert_eq!(
        request.form("StatusCallback").as_deref(),
        Some("https://chat.example.com/hooks/twilio/status")
    );
    assert!(
        request
            .header("authorization")
            .is_some_and(|a| a.starts_with("Basic "))
    );

    let after_send = wait_for_delivery(&admin, id, message_id, "sent").await;
    assert_eq!(after_send["delivery"], "sent");
    let sid = format!("SMf{:031}", 1);

    // Callbacks: delivered, then a late "sent" and a late "undelivered" change nothing; read does.
    for (status, expected) in [
        ("delivered", "delivered"),
        ("sent", "delivered"),
        ("undelivered", "delivered"),
        ("read", "read"),
    ] {
        let callback = app
            .post_twilio(
                PUBLIC_BASE,
                "/hooks/twilio/status",
                &[("MessageSid", &sid), ("MessageStatus", status)],
                TWILIO_TOKEN,
            )
            .await;
        assert_eq!(callback.status, 200, "{}", callback.text);
        assert_eq!(
            message(&admin, id, message_id).await["delivery"],
            expected,
            "after {status}"
        );
    }
    // A forged callback is refused and changes nothing.
    let forged = app
        .post_twilio(
            PUBLIC_BASE,
            "/hooks/twilio/status",
            &[("MessageSid", &sid), ("MessageStatus", "failed")],
            "wrong",
        )
        .await;
    assert_eq!(forged.status, 403);
    // Operators saw each change as an event.
    let events = admin.events(0, 0).await;
    let states: Vec<&str> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "message.delivery")
        .map(|e| e["data"]["delivery"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["sent", "delivered", "read"]);
    assert_eq!(fake.requests().len(), 1, "sent exactly once");
}

#[tokio::test]
async fn a_provider_outage_is_retried_from_the_outbox_until_the_reply_is_delivered() {
    let fake = FakeProvider::start().await;
    let app = app_with(&fake, "200,200,200").await;
    let admin = app.operator().await;
    let id = customer_texts(&app, &admin, "SM00000000000000000000000000000002", "hello?").await;
    fake.fail_next(
        2,
        503,
        r#"{"code":20500,"message":"Service unavailable","status":503}"#,
    );

    let reply = admin.reply(id, "Sorry for the wait").await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let message_id = reply.body["message"]["id"].as_i64().unwrap();
    let first = fake.wait_for(1).await;
    assert_eq!(first.len(), 1);
    let retrying = message(&admin, id, message_id).await;
    assert_eq!(retrying["delivery"], "queued");
    assert!(
        retrying["delivery_error"]
            .as_str()
            .unwrap_or_default()
            .contains("attempt 1 of 4 failed"),
        "{retrying}"
    );
    let delivered = wait_for_delivery(&admin, id, message_id, "sent").await;
    assert_eq!(delivered["delivery"], "sent", "{delivered}");
    assert_eq!(delivered["delivery_error"], Value::Null);
    let requests = fake.requests();
    assert_eq!(
        requests.len(),
        3,
        "two failures, then one success; nothing after"
    );
    assert!(
        requests
            .iter()
            .all(|r| r.form("Body").as_deref() == Some("Sorry for the wait"))
    );
    let db = rusqlite::Connection::open(app.database()).unwrap();
    let (messages, pending): (i64, i64) = db
        .query_row(
            "SELECT (SELECT COUNT(*) FROM messages WHERE author = 'operator'),
                    (SELECT COUNT(*) FROM outbox WHERE done_at IS NULL)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((messages, pending), (1, 0));
}

#[tokio::test]
async fn replies_that_cannot_be_delivered_are_flagged_with_the_providers_error() {
    let fake = FakeProvider::start().await;
    let app = app_with(&fake, "100,100").await;
    let admin = app.operator().await;
    let id = customer_texts(&app, &admin, "SM00000000000000000000000000000003", "hi").await;

    // A permanent refusal fails at once, with Twilio's own words.
    fake.fail_next(
        1,
        400,
        r#"{"code":21211,"message":"The 'To' number is not a valid phone number.","status":400}"#,
    );
    let refused = admin.reply(id, "first").await;
    let refused_id = refused.body["message"]["id"].as_i64().unwrap();
    let failed = wait_for_delivery(&admin, id, refused_id, "failed").await;
    assert_eq!(failed["delivery"], "failed");
    assert_eq!(
        failed["delivery_error"],
        "HTTP 400, Twilio 21211: The 'To' number is not a valid phone number."
    );
    assert_eq!(
        fake.requests().len(),
        1,
        "a permanent refusal is not retried"
    );

    // An outage that outlasts the schedule: 3 attempts, then failed, never silently dropped.
    fake.fail_next(100, 503, "<html>down</html>");
    let outage = admin.reply(id, "second").await;
    let outage_id = outage.body["message"]["id"].as_i64().unwrap();
    let gave_up = wait_for_delivery(&admin, id, outage_id, "failed").await;
    assert_eq!(gave_up["delivery"], "failed");
    assert!(
        gave_up["delivery_error"]
            .as_str()
            .unwrap()
            .starts_with("gave up after 3 attempts: HTTP 503"),
        "{gave_up}"
    );
    assert_eq!(fake.requests().len(), 4);
}

#[tokio::test]
async fn messenger_replies_use_the_send_api_and_receipts_mark_them_read_and_windows_close() {
    let fake = FakeProvider::start().await;
    let app = app_with(&fake, "").await;
    let admin = app.operator().await;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let inbound = json!({"object": "page", "entry": [{"id": "PAGE", "time": now_ms, "messaging": [{
        "sender": {"id": "PSID-77"}, "recipient": {"id": "PAGE"}, "timestamp": now_ms,
        "message": {"mid": "m_in_1", "text": "Do you ship to Canada?"}}]}]});
    assert_eq!(
        app.post_meta(&inbound.to_string(), META_SECRET)
            .await
            .status,
        200
    );
    let id = admin.get("/conversations").await.body["conversations"][0]["id"]
        .as_i64()
        .unwrap();

    let reply = admin.reply(id, "We do!").await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let message_id = reply.body["message"]["id"].as_i64().unwrap();
    let request = fake.wait_for(1).await.remove(0);
    assert_eq!(request.path, "/v21.0/me/messages");
    assert_eq!(request.header("authorization"), Some("Bearer PAGE-TOKEN"));
    assert_eq!(
        request.json(),
        json!({"recipient": {"id": "PSID-77"}, "messaging_type": "RESPONSE", "message": {"text": "We do!"}})
    );
    wait_for_delivery(&admin, id, message_id, "sent").await;

    let read = json!({"object": "page", "entry": [{"id": "PAGE", "time": now_ms, "messaging": [{
        "sender": {"id": "PSID-77"}, "recipient": {"id": "PAGE"}, "timestamp": now_ms + 60_000,
        "read": {"watermark": now_ms + 60_000}}]}]});
    assert_eq!(
        app.post_meta(&read.to_string(), META_SECRET).await.status,
        200
    );
    assert_eq!(message(&admin, id, message_id).await["delivery"], "read");

    // 25 hours later (the customer's message moved back in time), the window has closed.
    let db = rusqlite::Connection::open(app.database()).unwrap();
    db.execute(
        "UPDATE messages SET created_at = created_at - 90000000 WHERE author = 'visitor'",
        [],
    )
    .unwrap();
    let thread = admin.get(&format!("/conversations/{id}")).await;
    let messenger = thread.body["reply"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "messenger")
        .cloned()
        .unwrap();
    assert_eq!(messenger["available"], false);
    assert!(
        messenger["reason"]
            .as_str()
            .unwrap()
            .contains("24-hour window")
    );
    let late = admin.reply(id, "Any news?").await;
    assert_eq!(
        (late.status, late.error_code()),
        (409, "channel_unavailable")
    );
    assert_eq!(fake.requests().len(), 1, "nothing sent outside the window");
}

#[tokio::test]
async fn an_email_reply_carries_threading_headers_and_a_reply_token() {
    let fake = FakeProvider::start().await;
    let app = app_with(&fake, "").await;
    let admin = app.operator().await;
    let visitor = app
        .visitor_with(json!({"name": "Ann", "email": "ann@example.com"}))
        .await;
    visitor.say("Please email me the invoice").await;
    let id = visitor.conversation_id;

    let thread = admin.get(&format!("/conversations/{id}")).await;
    assert_eq!(thread.body["reply"]["default"], "web");
    let reply = admin
        .post(
            &format!("/conversations/{id}/messages"),
            json!({"body": "Invoice attached to your account.", "channel": "email"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["message"]["channel"], "email");
    let request = fake.wait_for(1).await.remove(0);
    assert_eq!(request.path, "/email");
    assert_eq!(
        request.header("x-postmark-server-token"),
        Some("POSTMARK-TOKEN")
    );
    let email = request.json();
    assert_eq!(email["To"], "ann@example.com");
    assert_eq!(email["From"], "Support <help@shop.example>");
    assert_eq!(email["Subject"], "Your conversation with Support");
    let reply_to = email["ReplyTo"].as_str().unwrap();
    assert!(
        reply_to.starts_with("help+") && reply_to.ends_with("@shop.example"),
        "{reply_to}"
    );
    let message_id = email["Headers"][0]["Value"].as_str().unwrap();
    assert!(
        message_id.starts_with("<m") && message_id.ends_with("@shop.example>"),
        "{message_id}"
    );
    // The customer answers from their mail client: once to the Reply-To address (the token),
    // once from another address only quoting our Message-ID; both land in this conversation.
    let token = reply_to
        .trim_start_matches("help+")
        .split('@')
        .next()
        .unwrap();
    let answers = [
        json!({"From": "ann@example.com", "FromFull": {"Email": "ann@example.com", "Name": "Ann"},
               "To": reply_to, "MailboxHash": token, "Subject": "Re: Your conversation with Support",
               "MessageID": "pm-in-1", "TextBody": "Thanks, got it",
               "Headers": [{"Name": "Message-ID", "Value": "<answer-1@mail.example>"}]}),
        json!({"From": "ann.work@example.org", "FromFull": {"Email": "ann.work@example.org", "Name": "Ann"},
               "To": "help@shop.example", "Subject": "Re: Your conversation with Support",
               "MessageID": "pm-in-2", "TextBody": "From my work address",
               "Headers": [{"Name": "Message-ID", "Value": "<answer-2@mail.example>"},
                           {"Name": "In-Reply-To", "Value": message_id}]}),
    ];
    for answer in answers {
        let posted = app
            .http
            .post(format!("{}/hooks/email/postmark", app.base))
            .basic_auth("hook", Some("secret"))
            .json(&answer)
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 200);
    }
    let thread = admin.get(&format!("/conversations/{id}")).await;
    let bodies: Vec<&str> = thread.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            "Please email me the invoice",
            "Invoice attached to your account.",
            "Thanks, got it",
            "From my work address"
        ]
    );
    assert_eq!(
        thread.body["reply"]["default"], "email",
        "replies now follow the customer to email"
    );

    // An SMS-only override for a customer without a phone is refused with the reason.
    let no_phone = admin
        .post(
            &format!("/conversations/{id}/messages"),
            json!({"body": "x", "channel": "sms"}),
        )
        .await;
    assert_eq!(
        (no_phone.status, no_phone.error_code()),
        (409, "channel_unavailable")
    );
}

#[tokio::test]
async fn visitors_upload_files_that_only_their_conversation_can_read_with_safe_headers() {
    let fake = FakeProvider::start().await;
    let app = app_with(&fake, "").await;
    let admin = app.operator().await;
    let visitor = app.visitor().await;
    visitor.say("here is a photo").await;
    let png = b"\x89PNG\r\n\x1a\nfake-image-bytes".to_vec();
    let upload = |content_type: &'static str, body: Vec<u8>, name: &'static str| {
        let request = app
            .http
            .post(format!(
                "{}/api/widget/conversations/{}/attachments?name={name}&client_id=up-1",
                app.base, visitor.conversation_id
            ))
            .bearer_auth(&visitor.token)
            .header("content-type", content_type)
            .body(body);
        async move { e2e::Reply::from(request.send().await.unwrap()).await }
    };
    let uploaded = upload("image/png", png.clone(), "photo.png").await;
    assert_eq!(uploaded.status, 201, "{}", uploaded.text);
    let attachment = &uploaded.body["message"]["attachments"][0];
    assert_eq!(attachment["name"], "photo.png");
    let attachment_id = attachment["id"].as_i64().unwrap();
    let again = upload("image/png", png.clone(), "photo.png").await;
    assert_eq!(again.status, 200, "a retried upload stores one message");

    let svg = upload("image/svg+xml", b"<svg onload=alert(1)>".to_vec(), "x.svg").await;
    assert_eq!(svg.status, 400, "{}", svg.text);
    let lying = upload("image/png", b"<html>".to_vec(), "x.png").await;
    assert_eq!(lying.status, 400);
    let huge = upload("text/plain", vec![b'a'; 10 * 1024 * 1024 + 1], "big.txt").await;
    assert_eq!(huge.status, 413);

    let path = format!(
        "/conversations/{}/attachments/{attachment_id}",
        visitor.conversation_id
    );
    let by_operator = admin.get(&path).await;
    assert_eq!(by_operator.status, 200);
    assert_eq!(by_operator.header("content-type"), Some("image/png"));
    assert_eq!(
        by_operator.header("x-content-type-options"),
        Some("nosniff")
    );
    assert!(
        by_operator
            .header("content-disposition")
            .unwrap()
            .starts_with("inline; filename=\"photo.png\"")
    );
    let own = app
        .http
        .get(format!("{}/api/widget{path}", app.base))
        .bearer_auth(&visitor.token)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(own.bytes().await.unwrap().to_vec(), png);
    let stranger = app.visitor().await;
    let theirs = app
        .http
        .get(format!("{}/api/widget{path}", app.base))
        .bearer_auth(&stranger.token)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 404);
    let anonymous = app
        .http
        .get(format!("{}/api/inbox{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(fake.requests().is_empty());
}

/// Polls (heartbeats drive the fetch retries) until a message lists `count` attachments.
async fn wait_for_attachments(
    admin: &Operator,
    conversation_id: i64,
    message_id: i64,
    count: usize,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let current = message(admin, conversation_id, message_id).await;
        if current["attachments"].as_array().map_or(0, Vec::len) >= count
            || Instant::now() > deadline
        {
            return current;
        }
        admin.post("/heartbeat", json!({})).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn mms_media_are_fetched_with_twilio_credentials_that_never_follow_a_redirect_elsewhere() {
    let fake = FakeProvider::start().await;
    let app = app_with(&fake, "").await;
    let admin = app.operator().await;
    let media_url = format!("{}/redirect/ME1.png", fake.base);
    let sms = app
        .post_twilio(
            PUBLIC_BASE,
            "/hooks/twilio/sms",
            &[
                ("MessageSid", "MM00000000000000000000000000000001"),
                ("AccountSid", "AC00000000000000000000000000000001"),
                ("From", CUSTOMER),
                ("To", "+15005550006"),
                ("Body", ""),
                ("NumMedia", "1"),
                ("MediaUrl0", &media_url),
                ("MediaContentType0", "image/png"),
            ],
            TWILIO_TOKEN,
        )
        .await;
    assert_eq!(sms.status, 200, "{}", sms.text);
    let list = admin.get("/conversations").await;
    let id = list.body["conversations"][0]["id"].as_i64().unwrap();
    let message_id = list.body["conversations"][0]["last_message"]["id"]
        .as_i64()
        .unwrap();
    let stored = wait_for_attachments(&admin, id, message_id, 1).await;
    assert_eq!(stored["body"], "(1 attachment)");
    let attachment = &stored["attachments"][0];
    assert_eq!(attachment["content_type"], "image/png");
    let requests = fake.requests();
    let first = requests
        .iter()
        .find(|r| r.path == "/redirect/ME1.png")
        .expect("fetched from Twilio");
    assert!(
        first
            .header("authorization")
            .is_some_and(|a| a.starts_with("Basic "))
    );
    let second = requests
        .iter()
        .find(|r| r.path == "/media/ME1.png")
        .expect("followed the redirect");
    assert_eq!(
        second.header("authorization"),
        None,
        "credentials stay with Twilio's host"
    );
    let file = admin
        .get(&format!(
            "/conversations/{id}/attachments/{}",
            attachment["id"]
        ))
        .await;
    assert_eq!(file.status, 200);
    assert_eq!(file.header("content-type"), Some("image/png"));
    let db = rusqlite::Connection::open(app.database()).unwrap();
    let data: Vec<u8> = db
        .query_row("SELECT data FROM attachments", [], |r| r.get(0))
        .unwrap();
    assert_eq!(data, e2e::fake_provider::MEDIA_PNG);
    // A retried webhook queues nothing new.
    let fetches = requests.len();
    admin.post("/heartbeat", json!({})).await;
    assert_eq!(fake.requests().len(), fetches);
}

#[tokio::test]
async fn whatsapp_media_are_looked_up_through_the_graph_api_then_downloaded() {
    let fake = FakeProvider::start().await;
    let app = app_with(&fake, "").await;
    let admin = app.operator().await;
    let inbound = json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{
        "field": "messages",
        "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "PHONE-ID"},
            "contacts": [{"wa_id": "14155550100", "profile": {"name": "Ann"}}],
            "messages": [{"from": "14155550100", "id": "wamid.IN1", "timestamp": "1700000000", "type": "image",
                "image": {"id": "MEDIA9", "mime_type": "image/png", "caption": "my receipt"}}]}}]}]});
    assert_eq!(
        app.post_meta(&inbound.to_string(), META_SECRET)
            .await
            .status,
        200
    );
    let list = admin.get("/conversations").await;
    let id = list.body["conversations"][0]["id"].as_i64().unwrap();
    let message_id = list.body["conversations"][0]["last_message"]["id"]
        .as_i64()
        .unwrap();
    let stored = wait_for_attachments(&admin, id, message_id, 1).await;
    assert_eq!(stored["body"], "my receipt");
    assert_eq!(stored["attachments"][0]["content_type"], "image/png");
    let requests = fake.requests();
    let lookup = requests
        .iter()
        .find(|r| r.path == "/v21.0/MEDIA9")
        .expect("looked up");
    assert_eq!(lookup.header("authorization"), Some("Bearer WA-TOKEN"));
    let download = requests
        .iter()
        .find(|r| r.path.starts_with("/media/wa-"))
        .expect("downloaded");
    assert_eq!(download.header("authorization"), Some("Bearer WA-TOKEN"));
}
