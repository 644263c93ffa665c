//! Channel webhooks through the real components: authenticity first, one message per provider
//! message, one thread per customer.

use std::collections::HashMap;

use e2e::{AppSettings, Reply, TestApp, spawn_app_with};
use serde_json::json;
use shared::channel::twilio;

const TWILIO_TOKEN: &str = "test-twilio-auth-token";
const META_SECRET: &str = "test-meta-app-secret";
const META_VERIFY: &str = "test-meta-verify-token";

async fn app() -> TestApp {
    spawn_app_with(AppSettings {
        variables: HashMap::from([
            ("twilio_auth_token".to_owned(), TWILIO_TOKEN.to_owned()),
            ("meta_app_secret".to_owned(), META_SECRET.to_owned()),
            ("meta_verify_token".to_owned(), META_VERIFY.to_owned()),
        ]),
    })
    .await
}

/// POSTs a Meta webhook body signed with `secret` (None: unsigned).
async fn post_meta(app: &TestApp, body: &str, secret: Option<&str>) -> Reply {
    let mut request = app
        .http
        .post(format!("{}/hooks/meta", app.base))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(secret) = secret {
        let mac = shared::channel::signature::hmac_sha256(secret.as_bytes(), body.as_bytes());
        request = request.header(
            "x-hub-signature-256",
            format!("sha256={}", shared::channel::signature::hex(&mac)),
        );
    }
    Reply::from(request.send().await.expect("POST meta webhook")).await
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn sms(sid: &str, from: &str, body: &str) -> Vec<(String, String)> {
    [
        ("MessageSid", sid),
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("From", from),
        ("To", "+15005550006"),
        ("Body", body),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
        ("ApiVersion", "2010-04-01"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect()
}

/// POSTs a Twilio form webhook, signed with `token` over the URL the app is reached at.
async fn post_sms(
    app: &TestApp,
    params: &[(String, String)],
    token: Option<&str>,
    content_type: &str,
) -> Reply {
    let url = format!("{}/hooks/twilio/sms", app.base);
    let body = params
        .iter()
        .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut request = app
        .http
        .post(&url)
        .header("content-type", content_type)
        .body(body);
    if let Some(token) = token {
        request = request.header("x-twilio-signature", twilio::signature(token, &url, params));
    }
    Reply::from(request.send().await.expect("POST webhook")).await
}

fn count(app: &TestApp, sql: &str) -> i64 {
    let db = rusqlite::Connection::open(app.database()).expect("the app's database");
    db.query_row(sql, [], |r| r.get(0)).expect(sql)
}

const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn an_sms_is_stored_once_however_often_twilio_retries_it() {
    let app = app().await;
    let params = sms(
        "SM0000000000000000000000000000001",
        "+14155550100",
        "Hi, is my order shipped?",
    );
    for _ in 0..3 {
        let reply = post_sms(&app, &params, Some(TWILIO_TOKEN), FORM).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.headers["content-type"], "text/xml");
        assert!(reply.text.contains("<Response></Response>"));
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM messages"), 1);
    let admin = app.operator().await;
    let list = admin.get("/conversations").await;
    let conversations = list.body["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 1);
    let conversation = &conversations[0];
    assert_eq!(conversation["channel"], "sms");
    assert_eq!(conversation["contact"]["phone"], "+14155550100");
    assert_eq!(conversation["last_message"]["channel"], "sms");
    assert_eq!(
        conversation["last_message"]["body"],
        "Hi, is my order shipped?"
    );
}

#[tokio::test]
async fn unsigned_forged_and_malformed_sms_webhooks_are_refused_and_store_nothing() {
    let app = app().await;
    let params = sms("SM0000000000000000000000000000002", "+14155550100", "hello");
    let unsigned = post_sms(&app, &params, None, FORM).await;
    assert_eq!((unsigned.status, unsigned.error_code()), (401, "unsigned"));
    let forged = post_sms(&app, &params, Some("not-the-token"), FORM).await;
    assert_eq!(
        (forged.status, forged.error_code()),
        (403, "forged_signature")
    );
    // A signature over other parameters does not cover these.
    let url = format!("{}/hooks/twilio/sms", app.base);
    let signed_for_other =
        twilio::signature(TWILIO_TOKEN, &url, &sms("SM9", "+14155550100", "hello"));
    let tampered = app
        .http
        .post(&url)
        .header("content-type", FORM)
        .header("x-twilio-signature", signed_for_other)
        .body("MessageSid=SM0000000000000000000000000000002&AccountSid=AC1&From=%2B14155550100&To=%2B15005550006&Body=hello")
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 403);
    let json = post_sms(&app, &params, Some(TWILIO_TOKEN), "application/json").await;
    assert_eq!(json.status, 415, "{}", json.text);
    // Signed but not a message: 400 naming the field.
    let mut missing = params.clone();
    missing.retain(|(n, _)| n != "MessageSid");
    let bad = post_sms(&app, &missing, Some(TWILIO_TOKEN), FORM).await;
    assert_eq!(
        (bad.status, bad.error_code()),
        (400, "invalid_input"),
        "{}",
        bad.text
    );
    let huge = sms("SM3", "+14155550100", &"x".repeat(70_000));
    assert_eq!(
        post_sms(&app, &huge, Some(TWILIO_TOKEN), FORM).await.status,
        413
    );
    // Not one refused request even opened the database; a sign-in creates the schema to count in.
    app.operator().await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM messages"), 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM contacts"), 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM conversations"), 0);
}

#[tokio::test]
async fn an_sms_from_a_known_customer_lands_in_their_widget_thread() {
    let app = app().await;
    let visitor = app.visitor().await;
    assert_eq!(visitor.say("Hi from the website").await.status, 201);
    let admin = app.operator().await;
    let id = visitor.conversation_id;
    let contact = admin.conversation(id).await["contact"]["id"]
        .as_i64()
        .unwrap();
    let patched = admin
        .call(
            "PATCH",
            &format!("/inbox/contacts/{contact}"),
            Some(json!({ "phone": "+14155550177" })),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);

    let params = sms(
        "SM0000000000000000000000000000004",
        "+14155550177",
        "Texting you instead",
    );
    assert_eq!(
        post_sms(&app, &params, Some(TWILIO_TOKEN), FORM)
            .await
            .status,
        200
    );
    let thread = admin.get(&format!("/conversations/{id}")).await;
    let channels: Vec<&str> = thread.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["web", "sms"]);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM conversations"), 1);
    // The visitor's widget sees it too: it is their thread.
    let loaded = visitor.load().await;
    assert_eq!(loaded.body["messages"][1]["body"], "Texting you instead");
}

#[tokio::test]
async fn an_sms_waits_for_an_operator_and_is_routed_like_any_conversation() {
    let app = app().await;
    let ann = app.staff("operator", "Ann").await;
    let presence = ann
        .post("/presence", json!({ "presence": "available" }))
        .await;
    assert_eq!(presence.status, 200);
    let params = sms(
        "SM0000000000000000000000000000005",
        "+14155550188",
        "Anyone there?",
    );
    assert_eq!(
        post_sms(&app, &params, Some(TWILIO_TOKEN), FORM)
            .await
            .status,
        200
    );
    let mine = ann.get("/conversations?assignee=me").await;
    assert_eq!(mine.body["conversations"][0]["channel"], "sms");
}

#[tokio::test]
async fn meta_answers_its_handshake_only_with_our_verify_token() {
    let app = app().await;
    let ok = app
        .get(&format!(
            "/hooks/meta?hub.mode=subscribe&hub.verify_token={META_VERIFY}&hub.challenge=1158201444"
        ))
        .await;
    assert_eq!((ok.status, ok.text.as_str()), (200, "1158201444"));
    let wrong = app
        .get("/hooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1")
        .await;
    assert_eq!(wrong.status, 403);
}

#[tokio::test]
async fn batched_meta_messages_are_stored_once_each_in_one_thread_per_customer() {
    let app = app().await;
    // Non-ASCII text: the signature covers the raw bytes, as Meta sends them (escaped).
    let body = r#"{"object":"page","entry":[
      {"id":"PAGE","time":1,"messaging":[
        {"sender":{"id":"PSID-7"},"recipient":{"id":"PAGE"},"timestamp":1700000000000,
         "message":{"mid":"m_one","text":"Bonjour, o\u00f9 est ma commande ?"}},
        {"sender":{"id":"PAGE"},"recipient":{"id":"PSID-7"},"timestamp":1700000000001,
         "message":{"mid":"m_echo","text":"our own reply","is_echo":true}}]},
      {"id":"PAGE","time":2,"messaging":[
        {"sender":{"id":"PSID-7"},"recipient":{"id":"PAGE"},"timestamp":1700000000002,
         "message":{"mid":"m_two","attachments":[{"type":"image","payload":{"url":"https://cdn.example/x.jpg"}}]}},
        {"sender":{"id":"PSID-7"},"recipient":{"id":"PAGE"},"timestamp":1700000000003,
         "read":{"watermark":1700000000000}}]}]}"#;
    for _ in 0..3 {
        let reply = post_meta(&app, body, Some(META_SECRET)).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM messages"), 2);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM conversations"), 1);
    let admin = app.operator().await;
    let list = admin.get("/conversations").await;
    let conversation = &list.body["conversations"][0];
    assert_eq!(conversation["channel"], "messenger");
    let id = conversation["id"].as_i64().unwrap();
    let thread = admin.get(&format!("/conversations/{id}")).await;
    let bodies: Vec<&str> = thread.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["Bonjour, où est ma commande ?", "(1 attachment)"]);
}

#[tokio::test]
async fn a_whatsapp_message_from_an_sms_customer_joins_their_thread() {
    let app = app().await;
    let params = sms(
        "SM0000000000000000000000000000006",
        "+16505551234",
        "by sms",
    );
    assert_eq!(
        post_sms(&app, &params, Some(TWILIO_TOKEN), FORM)
            .await
            .status,
        200
    );
    let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{
      "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"PNID"},
      "contacts":[{"profile":{"name":"Kerry Fisher"},"wa_id":"16505551234"}],
      "messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdCNUY","timestamp":"1700000000","type":"text","text":{"body":"and by WhatsApp"}}]}}]}]}"#;
    assert_eq!(post_meta(&app, body, Some(META_SECRET)).await.status, 200);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM conversations"), 1);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM contacts WHERE name = 'Kerry Fisher' AND phone = '+16505551234'"
        ),
        1,
        "the profile name fills the contact's empty name"
    );
    let channels = {
        let db = rusqlite::Connection::open(app.database()).unwrap();
        let mut statement = db
            .prepare("SELECT channel FROM messages ORDER BY id")
            .unwrap();
        statement
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    };
    assert_eq!(channels, ["sms", "whatsapp"]);
}

#[tokio::test]
async fn forged_unsigned_and_malformed_meta_webhooks_store_nothing() {
    let app = app().await;
    let good = r#"{"object":"instagram","entry":[{"id":"IG","time":1,"messaging":[
        {"sender":{"id":"IGSID-1"},"recipient":{"id":"IG"},"timestamp":1,"message":{"mid":"ig_1","text":"hi"}}]}]}"#;
    let unsigned = post_meta(&app, good, None).await;
    assert_eq!((unsigned.status, unsigned.error_code()), (401, "unsigned"));
    let forged = post_meta(&app, good, Some("wrong-secret")).await;
    assert_eq!(
        (forged.status, forged.error_code()),
        (403, "forged_signature")
    );
    // Signed garbage is still garbage: refused whole, nothing half-stored.
    for body in [
        &good[..good.len() - 10],
        r#"{"object":"instagram","entry":[{"messaging":[{"sender":{"id":"IGSID-1"},"message":{"mid":"ig_2","text":"ok"}},{"sender":{"id":"IGSID-1"},"message":{"text":"no mid"}}]}]}"#,
        r#"{"entry":[]}"#,
    ] {
        let reply = post_meta(&app, body, Some(META_SECRET)).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
    }
    let huge = format!(
        r#"{{"object":"page","entry":[],"pad":"{}"}}"#,
        "x".repeat(1_100_000)
    );
    assert_eq!(post_meta(&app, &huge, Some(META_SECRET)).await.status, 413);
    app.operator().await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM messages"), 0);
}

/// X-Twilio-Signature as Twilio's own Node library computes it (tests/browser/tools).
fn twilio_library_signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    let root = e2e::workspace_root().join("tests/browser");
    assert!(
        root.join("node_modules/twilio").exists(),
        "run `npm ci` in {} first (tests/run-all does)",
        root.display()
    );
    let input = json!({ "token": token, "url": url, "params": params });
    let output = std::process::Command::new("node")
        .arg(root.join("tools/twilio-sign.mjs"))
        .arg(input.to_string())
        .current_dir(&root)
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("a signature")
}

#[tokio::test]
async fn webhooks_signed_by_twilios_own_library_are_accepted() {
    let app = app().await;
    let url = format!("{}/hooks/twilio/sms", app.base);
    let cases = [
        sms("SM0000000000000000000000000000010", "+14155550100", "plain"),
        sms(
            "SM0000000000000000000000000000011",
            "+14155550100",
            "Ünïcödé & symbols: + = ? % # ; emoji 🎉\nsecond line",
        ),
        {
            let mut mms = sms("MM0000000000000000000000000000012", "+14155550100", "");
            mms.retain(|(n, _)| n != "NumMedia");
            mms.extend(
                [
                    ("NumMedia", "2"),
                    (
                        "MediaUrl0",
                        "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
                    ),
                    ("MediaContentType0", "image/jpeg"),
                    (
                        "MediaUrl1",
                        "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2",
                    ),
                    ("MediaContentType1", "application/pdf"),
                ]
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
            );
            mms
        },
    ];
    for params in &cases {
        let theirs = twilio_library_signature(TWILIO_TOKEN, &url, params);
        assert_eq!(
            theirs,
            twilio::signature(TWILIO_TOKEN, &url, params),
            "{params:?}"
        );
        let body = params
            .iter()
            .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let reply = app
            .http
            .post(&url)
            .header("content-type", FORM)
            .header("x-twilio-signature", theirs)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM messages"), 3);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM messages WHERE body = '(2 attachments)'"
        ),
        1
    );
}
