//! The assistant through the real components: the widget's message is acknowledged at once and
//! the assistant's answer arrives on the visitor's event stream; an explicit request hands the
//! conversation to people with a summary and an honest wait message; operators see the
//! assistant's state, get suggestions, and can hand back.

use std::time::Duration;

use e2e::{Operator, Visitor, collect_events, spawn_app};
use serde_json::{Value, json};

async fn knowledge_base(admin: &Operator) {
    for (title, body, tags) in [
        (
            "Shipping times",
            "Orders ship within 2 business days.\n\nDelivery to Canada takes 5 to 8 business days after shipping.",
            vec!["shipping", "delivery"],
        ),
        (
            "Returns and refunds",
            "You can return any item within 30 days of delivery for a full refund.",
            vec!["returns", "refund"],
        ),
    ] {
        let created = admin
            .admin_post(
                "/articles",
                json!({"title": title, "body": body, "tags": tags, "language": "en", "published": true}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let mode = admin
        .admin_patch("/assistant", json!({"mode": "always"}))
        .await;
    assert_eq!(mode.status, 200, "{}", mode.text);
    assert_eq!(mode.body["assistant"]["mode"], "always");
}

/// The visitor's messages from the assistant, waiting for `count` of them.
async fn assistant_says(visitor: &Visitor, count: usize) -> Vec<String> {
    let (events, _) = collect_events(
        |cursor| visitor.events(cursor, 5),
        0,
        Duration::from_secs(15),
        |events| {
            events
                .iter()
                .filter(|e| e["data"]["message"]["sender"] == "assistant")
                .count()
                >= count
        },
    )
    .await;
    events
        .iter()
        .filter(|e| e["data"]["message"]["sender"] == "assistant")
        .map(|e| e["data"]["message"]["body"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_assistant_answers_from_the_knowledge_base_and_hands_off_on_request() {
    let app = spawn_app().await;
    let admin = app.operator().await;
    knowledge_base(&admin).await;
    let visitor = app.visitor().await;
    let posted = visitor.say("How long does delivery to Canada take?").await;
    assert_eq!(posted.status, 201, "{}", posted.text);
    let said = assistant_says(&visitor, 1).await;
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with("Delivery to Canada takes 5 to 8 business days"),
        "{}",
        said[0]
    );
    assert!(said[0].contains("“Shipping times”"));

    let thread = admin
        .get(&format!("/conversations/{}", visitor.conversation_id))
        .await;
    assert_eq!(thread.body["conversation"]["bot_active"], true);
    assert_eq!(
        thread.body["conversation"]["waiting_since"],
        Value::Null,
        "not in the queue"
    );

    visitor
        .say("that didn't help, I want to talk to a human")
        .await;
    let said = assistant_says(&visitor, 2).await;
    assert!(
        said[1].starts_with("I'm passing you to a person from our team."),
        "{said:?}"
    );
    assert!(
        said[1].contains("Nobody is available right now"),
        "no operator is online: {said:?}"
    );
    let thread = admin
        .get(&format!("/conversations/{}", visitor.conversation_id))
        .await;
    let conversation = &thread.body["conversation"];
    assert_eq!(conversation["bot_active"], false);
    assert!(
        conversation["waiting_since"].is_i64(),
        "waits for an operator now"
    );
    let handoff = thread.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "assistant.handoff")
        .cloned()
        .expect("the handoff is in the operator's timeline");
    let summary = handoff["data"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("How long does delivery to Canada take?"),
        "{summary}"
    );
    assert!(summary.contains("“Shipping times”"), "{summary}");
    assert!(summary.contains("asked for a person"), "{summary}");
    // The visitor never sees the internal summary.
    let (visitor_events, _) = collect_events(
        |c| visitor.events(c, 0),
        0,
        Duration::from_secs(2),
        |_| true,
    )
    .await;
    assert!(
        visitor_events
            .iter()
            .all(|e| e["kind"] != "assistant.handoff")
    );

    // Agent assist: the article and a draft for the operator to edit.
    let assist = admin
        .get(&format!(
            "/conversations/{}/suggestions",
            visitor.conversation_id
        ))
        .await;
    assert_eq!(assist.status, 200, "{}", assist.text);
    assert!(assist.body["draft"]["text"].is_string());

    // An operator takes over by replying, then hands back; the assistant answers again.
    let reply = admin.reply(visitor.conversation_id, "Hi, I'm here.").await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let conversation = admin.conversation(visitor.conversation_id).await;
    assert_eq!(conversation["bot_active"], false);
    let back = admin
        .post(
            &format!("/conversations/{}/assistant", visitor.conversation_id),
            json!({"version": conversation["version"]}),
        )
        .await;
    assert_eq!(back.status, 200, "{}", back.text);
    assert_eq!(back.body["conversation"]["bot_active"], true);
    assert_eq!(back.body["conversation"]["assignee"], Value::Null);
    visitor.say("Can I return an item for a refund?").await;
    let said = assistant_says(&visitor, 3).await;
    assert!(said[2].contains("within 30 days"), "{said:?}");
}

#[tokio::test]
async fn visitors_search_published_help_articles() {
    let app = spawn_app().await;
    let admin = app.operator().await;
    knowledge_base(&admin).await;
    let draft = admin
        .admin_post(
            "/articles",
            json!({"title": "Secret plans", "body": "Delivery by drone next year."}),
        )
        .await;
    assert_eq!(draft.status, 201);
    let found = app
        .get("/api/widget/help?q=delivery%20canada&language=en")
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    let titles: Vec<&str> = found.body["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles[0], "Shipping times");
    assert!(!titles.contains(&"Secret plans"), "drafts are not public");
    let id = found.body["articles"][0]["id"].as_i64().unwrap();
    let article = app.get(&format!("/api/widget/help/{id}")).await;
    assert_eq!(article.body["article"]["title"], "Shipping times");
    let hidden = draft.body["article"]["id"].as_i64().unwrap();
    assert_eq!(
        app.get(&format!("/api/widget/help/{hidden}")).await.status,
        404
    );
    assert_eq!(app.get("/api/widget/help?q=a").await.status, 400);
    // Admin-only: a plain operator cannot write articles.
    let agent = app.staff("operator", "Al").await;
    let refused = agent
        .admin_post("/articles", json!({"title": "x", "body": "y"}))
        .await;
    assert_eq!(refused.status, 403);
}

#[tokio::test]
async fn a_configured_language_model_phrases_answers_but_never_beyond_the_article() {
    let fake = e2e::fake_provider::FakeProvider::start().await;
    let vars = [
        ("llm_provider", "openai"),
        ("llm_model", "test-model"),
        ("openai_api_origin", fake.base.as_str()),
        ("openai_api_key", "sk-test"),
        ("llm_timeout_ms", "1000"),
    ];
    let app = e2e::spawn_app_with(e2e::AppSettings {
        variables: vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    })
    .await;
    let admin = app.operator().await;
    knowledge_base(&admin).await;

    // A grounded phrasing is used, with its source.
    fake.answer_chats_with("Parcels to Canada arrive 5 to 8 business days after they ship.");
    let visitor = app.visitor().await;
    visitor.say("How long does delivery to Canada take?").await;
    let said = assistant_says(&visitor, 1).await;
    assert!(
        said[0].starts_with("Parcels to Canada arrive 5 to 8 business days"),
        "{said:?}"
    );
    assert!(said[0].contains("“Shipping times”"));
    let request = fake.wait_for(1).await.remove(0);
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(request.header("authorization"), Some("Bearer sk-test"));
    let body = request.json();
    assert_eq!(body["model"], "test-model");
    assert!(
        body["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("Delivery to Canada takes 5 to 8 business days")
    );

    // An answer with facts the article does not state is not shown: the passage is.
    fake.answer_chats_with("Canada takes 2 days and costs $9.");
    let second = app.visitor().await;
    second.say("How long does delivery to Canada take?").await;
    let said = assistant_says(&second, 1).await;
    assert!(
        said[0].starts_with("Delivery to Canada takes 5 to 8 business days"),
        "{said:?}"
    );

    // A model that fails, or is too slow, changes nothing for the customer.
    fake.fail_next(1, 500, r#"{"error":{"message":"overloaded"}}"#);
    let third = app.visitor().await;
    third.say("How long does delivery to Canada take?").await;
    assert!(assistant_says(&third, 1).await[0].starts_with("Delivery to Canada takes"));
    fake.delay_next(Duration::from_secs(4));
    let fourth = app.visitor().await;
    let started = std::time::Instant::now();
    fourth.say("How long does delivery to Canada take?").await;
    assert!(assistant_says(&fourth, 1).await[0].starts_with("Delivery to Canada takes"));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the timeout, not the slow model, decided"
    );
}

/// An SMS from `from` through the signed Twilio webhook.
async fn texts(app: &e2e::TestApp, sid: &str, from: &str, body: &str) {
    use e2e::fake_provider::{PUBLIC_BASE, TWILIO_TOKEN};
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

#[tokio::test]
async fn the_assistant_answers_and_hands_off_by_sms_through_twilio() {
    let fake = e2e::fake_provider::FakeProvider::start().await;
    let app = e2e::spawn_app_with(e2e::AppSettings {
        variables: fake.app_variables(""),
    })
    .await;
    let admin = app.operator().await;
    // While the assistant's mode is "never", an SMS waits for people and nothing is sent.
    texts(
        &app,
        "SM10000000000000000000000000000001",
        "+14155550101",
        "How long does delivery to Canada take?",
    )
    .await;
    knowledge_base(&admin).await;
    texts(
        &app,
        "SM10000000000000000000000000000002",
        "+14155550102",
        "How long does delivery to Canada take?",
    )
    .await;

    // The webhook was answered first; the assistant's answer follows through Twilio.
    let sent = fake.wait_for(1).await;
    assert_eq!(
        sent.len(),
        1,
        "only the customer the assistant owns is answered"
    );
    assert_eq!(sent[0].form("To").as_deref(), Some("+14155550102"));
    let body = sent[0].form("Body").unwrap();
    assert!(
        body.starts_with("Delivery to Canada takes 5 to 8 business days"),
        "{body}"
    );
    assert!(body.contains("“Shipping times”"), "{body}");

    let list = admin.get("/conversations").await;
    let id = list.body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["bot_active"] == true)
        .expect("the second customer's conversation is the assistant's")["id"]
        .as_i64()
        .unwrap();
    let thread = admin.get(&format!("/conversations/{id}")).await;
    let answer = thread.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["sender"] == "assistant")
        .cloned()
        .expect("the answer is in the operator's thread");
    assert_eq!(answer["channel"], "sms", "shown as sent by SMS");
    assert!(
        matches!(answer["delivery"].as_str(), Some("queued" | "sent")),
        "{answer}"
    );

    texts(
        &app,
        "SM10000000000000000000000000000003",
        "+14155550102",
        "that didn't help. can I talk to a real person",
    )
    .await;
    let sent = fake.wait_for(2).await;
    assert_eq!(sent.len(), 2);
    let handoff = sent[1].form("Body").unwrap();
    assert!(
        handoff.starts_with("I'm passing you to a person from our team."),
        "{handoff}"
    );
    let thread = admin.get(&format!("/conversations/{id}")).await;
    assert_eq!(thread.body["conversation"]["bot_active"], false);
    assert!(thread.body["conversation"]["waiting_since"].is_i64());
    let reasons = &thread.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "assistant.handoff")
        .expect("the handoff is in the timeline")["data"]["reasons"];
    assert_eq!(reasons[0]["trigger"], "explicit_request", "{reasons}");

    // The retried webhook (same MessageSid) makes no second answer.
    texts(
        &app,
        "SM10000000000000000000000000000003",
        "+14155550102",
        "that didn't help. can I talk to a real person",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn the_assistant_answers_an_email_in_its_thread() {
    let fake = e2e::fake_provider::FakeProvider::start().await;
    let app = e2e::spawn_app_with(e2e::AppSettings {
        variables: fake.app_variables(""),
    })
    .await;
    let admin = app.operator().await;
    knowledge_base(&admin).await;
    let email = json!({
        "From": "ann@example.com", "FromFull": {"Email": "ann@example.com", "Name": "Ann"},
        "To": "help@shop.example", "Subject": "Returning a jacket",
        "MessageID": "pm-1", "TextBody": "Can I return an item and get a refund?",
        "Headers": [{"Name": "Message-ID", "Value": "<q-1@mail.example>"}]
    });
    let posted = app
        .http
        .post(format!("{}/hooks/email/postmark", app.base))
        .basic_auth("hook", Some("secret"))
        .json(&email)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let request = fake.wait_for(1).await.remove(0);
    assert_eq!(request.path, "/email");
    let sent = request.json();
    assert_eq!(sent["To"], "ann@example.com");
    assert_eq!(sent["Subject"], "Re: Returning a jacket");
    let headers = sent["Headers"].as_array().unwrap();
    let header = |name: &str| {
        headers
            .iter()
            .find(|h| h["Name"] == name)
            .and_then(|h| h["Value"].as_str())
            .map(str::to_owned)
    };
    assert_eq!(header("In-Reply-To").as_deref(), Some("<q-1@mail.example>"));
    let text = sent["TextBody"].as_str().unwrap();
    assert!(
        text.starts_with("You can return any item within 30 days"),
        "{text}"
    );
}

#[tokio::test]
async fn a_configured_model_briefs_operators_on_handoffs_and_drafts_replies_they_approve() {
    let fake = e2e::fake_provider::FakeProvider::start().await;
    let vars = [
        ("llm_provider", "openai"),
        ("llm_model", "test-model"),
        ("openai_api_origin", fake.base.as_str()),
        ("llm_timeout_ms", "1000"),
    ];
    let app = e2e::spawn_app_with(e2e::AppSettings {
        variables: vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    })
    .await;
    let admin = app.operator().await;
    knowledge_base(&admin).await;

    // The handoff keeps the assistant's summary and adds the model's grounded briefing.
    fake.answer_chats_with(
        "The customer's order 4411 has not arrived and they want a person to look into it.",
    );
    let visitor = app.visitor().await;
    visitor
        .say("My order 4411 never arrived, I want to talk to a human")
        .await;
    assistant_says(&visitor, 1).await;
    let briefing = wait_for_timeline(&admin, visitor.conversation_id, "assistant.summary").await;
    assert_eq!(
        briefing["data"]["summary"],
        "The customer's order 4411 has not arrived and they want a person to look into it."
    );
    assert_eq!(briefing["data"]["model"], "test-model");
    let thread = admin
        .get(&format!("/conversations/{}", visitor.conversation_id))
        .await;
    let handoff = thread.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "assistant.handoff")
        .cloned()
        .unwrap();
    assert_eq!(briefing["data"]["handoff_event_id"], handoff["id"]);
    assert!(
        handoff["data"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("The customer asked:"),
        "the assistant's own summary stays"
    );
    let prompt = fake.requests().last().unwrap().json();
    assert!(
        prompt["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("Customer: My order 4411 never arrived")
    );

    // A briefing that invents a fact is dropped; the assistant's summary stands alone.
    fake.answer_chats_with("Order 9999 was refunded $50 yesterday.");
    let second = app.visitor().await;
    second.say("I want to talk to a human").await;
    assistant_says(&second, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let thread = admin
        .get(&format!("/conversations/{}", second.conversation_id))
        .await;
    let kinds: Vec<&str> = thread.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"assistant.handoff"));
    assert!(!kinds.contains(&"assistant.summary"), "{kinds:?}");

    // Drafts: the console learns a model can draft, and asks for one; it never sends.
    let suggestions = admin
        .get(&format!(
            "/conversations/{}/suggestions",
            second.conversation_id
        ))
        .await;
    assert_eq!(suggestions.body["model_drafts"], true);
    second
        .say("Also, how long does delivery to Canada take?")
        .await;
    fake.answer_chats_with("Delivery to Canada takes 5 to 8 business days once shipped.");
    let before = fake.requests().len();
    let draft = admin
        .post(
            &format!("/conversations/{}/draft", second.conversation_id),
            json!({}),
        )
        .await;
    assert_eq!(draft.status, 200, "{}", draft.text);
    assert_eq!(draft.body["fallback"], Value::Null, "{}", draft.text);
    assert_eq!(draft.body["draft"]["model"], "test-model");
    assert_eq!(
        draft.body["draft"]["text"],
        "Hi,\n\nDelivery to Canada takes 5 to 8 business days once shipped."
    );
    let asked = fake.requests()[before].json();
    let sources = asked["messages"][1]["content"].as_str().unwrap();
    assert!(sources.contains("### Shipping times"), "{sources}");
    assert!(
        asked["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("human support agent")
    );

    // An ungrounded draft, or a failing model, falls back to the assistant's own draft.
    fake.answer_chats_with("Delivery to Canada takes 2 days, guaranteed.");
    let draft = admin
        .post(
            &format!("/conversations/{}/draft", second.conversation_id),
            json!({}),
        )
        .await;
    assert_eq!(draft.status, 200);
    assert_eq!(draft.body["draft"]["model"], Value::Null);
    assert_eq!(draft.body["draft"]["based_on"], "article");
    assert_eq!(
        draft.body["fallback"],
        "the language model gave no usable draft"
    );
    let messages = admin
        .get(&format!("/conversations/{}", second.conversation_id))
        .await;
    assert!(
        messages.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["author"] != "operator"),
        "drafting sends nothing"
    );
}

/// The conversation's first timeline event of `kind`, waiting for it.
async fn wait_for_timeline(admin: &e2e::Operator, conversation_id: i64, kind: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let thread = admin
            .get(&format!("/conversations/{conversation_id}"))
            .await;
        if let Some(event) = thread.body["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == kind)
        {
            return event.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {kind} in {}",
            thread.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
