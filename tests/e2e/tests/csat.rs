//! The satisfaction survey through the real components: resolving a widget conversation shows
//! the prompt live (and after a reload) and takes one answer; resolving an SMS or email
//! conversation sends the question through the provider, and the customer's reply that starts
//! with a rating is recorded without reopening the conversation, however often the provider
//! retries it; other replies reopen as before; the admin can turn surveys off.

use std::time::Duration;

use e2e::fake_provider::{FakeProvider, PUBLIC_BASE, TWILIO_TOKEN};
use e2e::{Operator, TestApp, Visitor, collect_events};
use serde_json::{Value, json};

const QUESTION: &str =
    "How did we do? Reply with a number from 1 (poor) to 5 (great), and a comment if you like.";

async fn app_with_fake() -> (FakeProvider, TestApp) {
    let fake = FakeProvider::start().await;
    let app = e2e::spawn_app_with(e2e::AppSettings {
        variables: fake.app_variables(""),
    })
    .await;
    (fake, app)
}

async fn resolve(operator: &Operator, conversation_id: i64) {
    let version = operator.conversation(conversation_id).await["version"].clone();
    let resolved = operator
        .post(
            &format!("/conversations/{conversation_id}/status"),
            json!({"status": "resolved", "version": version}),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.text);
    assert_eq!(resolved.body["conversation"]["status"], "resolved");
}

/// An SMS from `from` through the signed Twilio webhook.
async fn texts(app: &TestApp, sid: &str, from: &str, body: &str) {
    let reply = app
        .post_twilio(
            PUBLIC_BASE,
            "/hooks/twilio/sms",
            &[
                ("MessageSid", sid),
                ("AccountSid", "AC00000000000000000000000000000001"),
                ("From", from),
                ("To", "+15005550006"),
                ("Body", body),
                ("NumMedia", "0"),
            ],
            TWILIO_TOKEN,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

/// The newest conversation operators see.
async fn newest_conversation(operator: &Operator) -> i64 {
    let list = operator.get("/conversations?status=all").await;
    list.body["conversations"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no conversation in {}", list.text))
}

/// The conversation's `csat.received` timeline entries.
async fn ratings(operator: &Operator, conversation_id: i64) -> Vec<Value> {
    let thread = operator
        .get(&format!("/conversations/{conversation_id}"))
        .await;
    assert_eq!(thread.status, 200, "{}", thread.text);
    thread.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "csat.received")
        .map(|e| e["data"].clone())
        .collect()
}

fn visitor_bodies(thread: &Value) -> Vec<String> {
    thread["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["author"] == "visitor")
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

/// Every event the visitor may see so far (one page is plenty here).
async fn all_events(visitor: &Visitor) -> Vec<Value> {
    let reply = visitor.events(0, 0).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["events"].as_array().cloned().unwrap_or_default()
}

async fn answer(visitor: &Visitor, app: &TestApp, body: Value) -> e2e::Reply {
    let request = app
        .http
        .post(format!(
            "{}/api/widget/conversations/{}/csat",
            app.base, visitor.conversation_id
        ))
        .bearer_auth(&visitor.token)
        .json(&body);
    e2e::Reply::from(request.send().await.unwrap()).await
}

#[tokio::test]
async fn a_widget_visitor_is_asked_when_resolved_and_answers_once() {
    let app = e2e::spawn_app().await;
    let admin = app.operator().await;
    let visitor = app.visitor().await;
    assert_eq!(visitor.say("my parcel is lost").await.status, 201);
    // Nothing was asked yet.
    let early = answer(&visitor, &app, json!({"rating": 5})).await;
    assert_eq!(
        (early.status, early.error_code()),
        (409, "no_survey"),
        "{}",
        early.text
    );
    assert_eq!(
        admin
            .reply(visitor.conversation_id, "Found it, on its way")
            .await
            .status,
        201
    );
    let cursor = visitor.load().await.body["cursor"].as_i64().unwrap();
    let operators_cursor = admin.cursor().await;
    resolve(&admin, visitor.conversation_id).await;

    // The prompt arrives live on the visitor's stream, and survives a reload.
    let (events, _) = collect_events(
        |c| visitor.events(c, 5),
        cursor,
        Duration::from_secs(10),
        |events| events.iter().any(|e| e["kind"] == "csat.requested"),
    )
    .await;
    let requested = events
        .iter()
        .find(|e| e["kind"] == "csat.requested")
        .expect("the widget is asked");
    assert_eq!(requested["data"], json!({"channel": "web"}));
    let loaded = visitor.load().await;
    assert_eq!(loaded.body["csat"], json!({"status": "pending"}));

    // Bad answers name the field.
    for bad in [
        json!({"rating": 6}),
        json!({"rating": "5"}),
        json!({}),
        json!({"rating": 4, "comment": "x".repeat(1001)}),
    ] {
        let refused = answer(&visitor, &app, bad.clone()).await;
        assert_eq!(refused.status, 400, "{bad}: {}", refused.text);
        let field = if bad.get("comment").is_some() {
            "comment"
        } else {
            "rating"
        };
        assert!(
            refused.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{}",
            refused.text
        );
    }

    let rated = answer(
        &visitor,
        &app,
        json!({"rating": 4, "comment": "Quick and kind"}),
    )
    .await;
    assert_eq!(rated.status, 201, "{}", rated.text);
    assert_eq!(rated.body["csat"]["rating"], 4);
    assert_eq!(rated.body["csat"]["operator_id"], admin.id);
    let again = answer(&visitor, &app, json!({"rating": 1})).await;
    assert_eq!(
        (again.status, again.error_code()),
        (409, "already_answered"),
        "{}",
        again.text
    );
    assert_eq!(
        visitor.load().await.body["csat"],
        json!({"status": "answered", "rating": 4})
    );

    // Operators see it live and in the timeline, with exactly the fields reports read.
    let expected = json!({"rating": 4, "comment": "Quick and kind", "channel": "web", "operator_id": admin.id});
    let (events, _) = collect_events(
        |c| admin.events(c, 5),
        operators_cursor,
        Duration::from_secs(10),
        |events| events.iter().any(|e| e["kind"] == "csat.received"),
    )
    .await;
    let live: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "csat.received")
        .collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0]["data"], expected);
    assert_eq!(live[0]["conversation_id"], visitor.conversation_id);
    assert_eq!(ratings(&admin, visitor.conversation_id).await, [expected]);
    // The rating is internal: the visitor's stream never carries it.
    let events = all_events(&visitor).await;
    assert!(!events.iter().any(|e| e["kind"] == "csat.received"));

    // Reopened and resolved again: no second survey.
    assert_eq!(visitor.say("one more thing").await.status, 201);
    resolve(&admin, visitor.conversation_id).await;
    let events = all_events(&visitor).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e["kind"] == "csat.requested")
            .count(),
        1
    );
}

#[tokio::test]
async fn an_sms_survey_goes_through_twilio_and_the_texted_rating_is_recorded_once() {
    let (fake, app) = app_with_fake().await;
    let admin = app.operator().await;
    let customer = "+14155550111";
    texts(
        &app,
        "SM20000000000000000000000000000001",
        customer,
        "Where is my order?",
    )
    .await;
    let id = newest_conversation(&admin).await;
    assert_eq!(admin.reply(id, "It ships today.").await.status, 201);
    fake.wait_for(1).await;
    resolve(&admin, id).await;

    // The question goes out by SMS after the operator's answer.
    let sent = fake.wait_for(2).await;
    assert_eq!(sent.len(), 2, "the reply and the survey");
    assert_eq!(sent[1].form("To").as_deref(), Some(customer));
    assert_eq!(sent[1].form("Body").as_deref(), Some(QUESTION));
    let thread = admin.get(&format!("/conversations/{id}")).await;
    let survey = thread.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["sender"] == "csat")
        .cloned()
        .expect("the survey is in the operator's thread");
    assert_eq!(survey["channel"], "sms");
    assert_eq!(survey["author"], "system");

    // The answer, and Twilio's retry of the same webhook.
    for _ in 0..2 {
        texts(
            &app,
            "SM20000000000000000000000000000002",
            customer,
            "5 thanks!",
        )
        .await;
    }
    let conversation = admin.conversation(id).await;
    assert_eq!(
        conversation["status"], "resolved",
        "a rating does not reopen"
    );
    assert_eq!(
        ratings(&admin, id).await,
        [json!({"rating": 5, "comment": "thanks!", "channel": "sms", "operator_id": admin.id})]
    );
    let thread = admin.get(&format!("/conversations/{id}")).await;
    assert_eq!(
        visitor_bodies(&thread.body),
        ["Where is my order?"],
        "the rating is recorded, not stored as a message"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.requests().len(), 2, "nothing more was sent");
}

#[tokio::test]
async fn a_reply_that_is_not_a_rating_reopens_the_conversation_as_before() {
    let (fake, app) = app_with_fake().await;
    let admin = app.operator().await;
    let customer = "+14155550112";
    texts(
        &app,
        "SM30000000000000000000000000000001",
        customer,
        "My refund?",
    )
    .await;
    let id = newest_conversation(&admin).await;
    resolve(&admin, id).await;
    assert_eq!(
        fake.wait_for(1).await[0].form("Body").as_deref(),
        Some(QUESTION)
    );
    texts(
        &app,
        "SM30000000000000000000000000000002",
        customer,
        "I still have not received it",
    )
    .await;
    let conversation = admin.conversation(id).await;
    assert_eq!(conversation["status"], "open");
    let thread = admin.get(&format!("/conversations/{id}")).await;
    assert_eq!(
        visitor_bodies(&thread.body),
        ["My refund?", "I still have not received it"]
    );
    assert!(ratings(&admin, id).await.is_empty());
    // While reopened, a number is just a message.
    texts(&app, "SM30000000000000000000000000000003", customer, "2").await;
    let thread = admin.get(&format!("/conversations/{id}")).await;
    assert_eq!(visitor_bodies(&thread.body).len(), 3);
    assert!(ratings(&admin, id).await.is_empty());
}

#[tokio::test]
async fn an_email_survey_is_answered_by_replying_to_it() {
    let (fake, app) = app_with_fake().await;
    let admin = app.operator().await;
    let postmark = |body: Value| {
        app.http
            .post(format!("{}/hooks/email/postmark", app.base))
            .basic_auth("hook", Some("secret"))
            .json(&body)
            .send()
    };
    let first = postmark(json!({
        "From": "ann@example.com", "FromFull": {"Email": "ann@example.com", "Name": "Ann"},
        "To": "help@shop.example", "Subject": "Broken zip",
        "MessageID": "pm-1", "TextBody": "The zip of my jacket broke.",
        "Headers": [{"Name": "Message-ID", "Value": "<q-1@mail.example>"}]
    }))
    .await
    .unwrap();
    assert_eq!(first.status(), 200);
    let id = newest_conversation(&admin).await;
    resolve(&admin, id).await;
    let request = fake.wait_for(1).await.remove(0);
    assert_eq!(request.path, "/email");
    let sent = request.json();
    assert_eq!(sent["To"], "ann@example.com");
    assert_eq!(sent["Subject"], "Re: Broken zip");
    assert!(
        sent["TextBody"].as_str().unwrap().starts_with(QUESTION),
        "{sent}"
    );
    let survey_id = sent["Headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["Name"] == "Message-ID")
        .and_then(|h| h["Value"].as_str())
        .unwrap()
        .to_owned();

    let reply = json!({
        "From": "ann@example.com", "FromFull": {"Email": "ann@example.com", "Name": "Ann"},
        "To": "help@shop.example", "Subject": "Re: Broken zip",
        "MessageID": "pm-2",
        "TextBody": format!("4 good, but slow\n\nOn Mon, Support <help@shop.example> wrote:\n> {QUESTION}"),
        "Headers": [
            {"Name": "Message-ID", "Value": "<a-1@mail.example>"},
            {"Name": "In-Reply-To", "Value": survey_id},
        ]
    });
    for _ in 0..2 {
        let posted = postmark(reply.clone()).await.unwrap();
        assert_eq!(posted.status(), 200);
    }
    assert_eq!(admin.conversation(id).await["status"], "resolved");
    assert_eq!(
        ratings(&admin, id).await,
        [
            json!({"rating": 4, "comment": "good, but slow", "channel": "email", "operator_id": null})
        ]
    );
}

#[tokio::test]
async fn with_surveys_off_nobody_is_asked() {
    let (fake, app) = app_with_fake().await;
    let admin = app.operator().await;
    let settings = admin.call("GET", "/admin/csat", None).await;
    assert_eq!(settings.status, 200, "{}", settings.text);
    assert_eq!(settings.body["csat"]["enabled"], true);
    assert_eq!(settings.body["csat"]["channels"]["sms"], true);
    let bad = admin
        .admin_patch("/csat", json!({"channels": {"fax": true}}))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    let off = admin.admin_patch("/csat", json!({"enabled": false})).await;
    assert_eq!(off.status, 200, "{}", off.text);
    assert_eq!(off.body["csat"]["enabled"], false);

    texts(
        &app,
        "SM40000000000000000000000000000001",
        "+14155550113",
        "hi",
    )
    .await;
    let sms = newest_conversation(&admin).await;
    resolve(&admin, sms).await;
    let visitor = app.visitor().await;
    assert_eq!(visitor.say("hello").await.status, 201);
    resolve(&admin, visitor.conversation_id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fake.requests().is_empty(), "no survey SMS");
    assert_eq!(visitor.load().await.body["csat"], Value::Null);
    let events = all_events(&visitor).await;
    assert!(!events.iter().any(|e| e["kind"] == "csat.requested"));
    let refused = answer(&visitor, &app, json!({"rating": 5})).await;
    assert_eq!(refused.error_code(), "no_survey");

    // On again, but not for SMS: the widget is asked, the texter is not.
    let on = admin
        .admin_patch(
            "/csat",
            json!({"enabled": true, "channels": {"sms": false}}),
        )
        .await;
    assert_eq!(on.status, 200, "{}", on.text);
    texts(
        &app,
        "SM40000000000000000000000000000002",
        "+14155550114",
        "hey",
    )
    .await;
    let sms = newest_conversation(&admin).await;
    resolve(&admin, sms).await;
    let visitor = app.visitor().await;
    assert_eq!(visitor.say("hello").await.status, 201);
    resolve(&admin, visitor.conversation_id).await;
    assert_eq!(visitor.load().await.body["csat"]["status"], "pending");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fake.requests().is_empty(), "still no survey SMS");
}
