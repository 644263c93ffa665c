use super::*;
use crate::chat::PostMessageRequest;
use crate::host::Clock;
use crate::secret::Token;
use crate::testing::TestHost;
use crate::visitor::{self, StartRequest};

fn article(host: &TestHost, title: &str, body: &str, tags: &[&str]) {
    let request = kb::ArticleRequest {
        title: Some(title.into()),
        body: Some(body.into()),
        tags: Some(tags.iter().map(|t| (*t).to_owned()).collect()),
        language: Some("en".into()),
        topic: None,
        published: Some(true),
    };
    kb::create(host.ctx().db, &request, host.clock.now_ms()).unwrap();
}

fn shop(host: &TestHost) {
    article(
        host,
        "Shipping times",
        "Orders ship within 2 business days.\n\nDelivery to Canada takes 5 to 8 business days after shipping.",
        &["shipping", "delivery"],
    );
    article(
        host,
        "Returns and refunds",
        "You can return any item within 30 days of delivery for a full refund.",
        &["returns", "refund"],
    );
    article(
        host,
        "Gift cards",
        "Gift cards never expire and can be used for any product in the shop.",
        &["gift card"],
    );
}

fn set_mode(host: &TestHost, mode: &str) {
    save_settings(host.ctx().db, &serde_json::json!({ "mode": mode })).unwrap();
}

/// A visitor starts a chat; returns the token and conversation id.
fn start(host: &TestHost) -> (Token, i64) {
    let started = visitor::start(&host.ctx(), None, &StartRequest::default()).unwrap();
    let token = Token::parse(started.visitor_token.as_deref().unwrap()).unwrap();
    (token, started.conversation.id)
}

fn say_as_visitor(host: &TestHost, token: &Token, id: i64, text: &str) {
    let request = PostMessageRequest {
        body: text.into(),
        client_id: None,
        channel: None,
    };
    visitor::post(&host.ctx(), token, id, &request).unwrap();
}

fn assistant_messages(host: &TestHost, id: i64) -> Vec<String> {
    host.ctx()
        .db
        .execute(
            "SELECT body FROM messages WHERE conversation_id = ?1 AND sender = 'assistant' ORDER BY id",
            &[id.into()],
        )
        .unwrap()
        .iter()
        .map(|r| r.str("body").unwrap().to_owned())
        .collect()
}

fn waiting(host: &TestHost, id: i64) -> bool {
    host.ctx()
        .db
        .execute(
            "SELECT waiting_since IS NOT NULL AS w FROM conversations WHERE id = ?1",
            &[id.into()],
        )
        .unwrap()
        .first()
        .unwrap()
        .i64("w")
        .unwrap()
        == 1
}

#[test]
fn the_assistant_takes_new_chats_only_when_configured() {
    let host = TestHost::new();
    let (_, id) = start(&host);
    assert!(!owns(host.ctx().db, id).unwrap(), "off by default");
    set_mode(&host, "always");
    let (_, id) = start(&host);
    assert!(owns(host.ctx().db, id).unwrap());
    assert!(save_settings(host.ctx().db, &serde_json::json!({"mode": "sometimes"})).is_err());
    assert!(
        save_settings(
            host.ctx().db,
            &serde_json::json!({"escalation": {"min_confidence": 2}})
        )
        .is_err()
    );
    assert!(
        save_settings(
            host.ctx().db,
            &serde_json::json!({"escalation": {"vip": false}})
        )
        .is_ok()
    );
    assert!(!settings(host.ctx().db).unwrap().escalation.vip);
    assert!(
        settings(host.ctx().db).unwrap().escalation.explicit_request,
        "other fields kept"
    );
}

#[test]
fn a_confident_match_is_answered_with_the_articles_own_words_once() {
    let host = TestHost::new();
    shop(&host);
    set_mode(&host, "always");
    let (token, id) = start(&host);
    say_as_visitor(&host, &token, id, "How long does delivery to Canada take?");
    assert!(!waiting(&host, id), "the assistant's, not the queue's");
    let turned = turn(&host.ctx(), id).unwrap();
    assert!(matches!(turned, Turned::Answered { .. }), "{turned:?}");
    let said = assistant_messages(&host, id);
    assert_eq!(said.len(), 1);
    assert!(
        said[0].contains("Delivery to Canada takes 5 to 8 business days"),
        "{}",
        said[0]
    );
    assert!(said[0].contains("“Shipping times”"));
    assert_eq!(
        turn(&host.ctx(), id).unwrap(),
        Turned::Nothing,
        "nothing new to answer"
    );
}

#[test]
fn an_explicit_request_hands_off_with_a_summary_and_the_queue_takes_over() {
    let host = TestHost::new();
    shop(&host);
    set_mode(&host, "always");
    let (token, id) = start(&host);
    say_as_visitor(
        &host,
        &token,
        id,
        "Quiero hablar con una persona, por favor",
    );
    let turned = turn(&host.ctx(), id).unwrap();
    let Turned::HandedOff { reasons } = &turned else {
        panic!("{turned:?}")
    };
    assert_eq!(reasons[0].trigger, escalation::Trigger::ExplicitRequest);
    assert!(!owns(host.ctx().db, id).unwrap());
    assert!(waiting(&host, id), "now waits for an operator");
    let data = host
        .ctx()
        .db
        .execute(
            "SELECT data FROM events WHERE kind = 'assistant.handoff' AND visibility = 'internal'",
            &[],
        )
        .unwrap()
        .first()
        .unwrap()
        .str("data")
        .unwrap()
        .to_owned();
    let handoff: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(handoff["language"], "es");
    assert!(
        handoff["summary"]
            .as_str()
            .unwrap()
            .contains("asked for a person"),
        "{handoff}"
    );
    tell_wait(&host.ctx(), id).unwrap();
    let said = assistant_messages(&host, id);
    assert!(
        said.last().unwrap().starts_with("Te paso con una persona"),
        "{said:?}"
    );
    assert!(
        said.last().unwrap().contains("no hay nadie disponible"),
        "nobody is online: {said:?}"
    );
    // The customer writes again: the assistant stays out.
    say_as_visitor(&host, &token, id, "hola?");
    assert_eq!(turn(&host.ctx(), id).unwrap(), Turned::Nothing);
}

#[test]
fn an_unclear_question_gets_one_clarifying_question_then_a_person() {
    let host = TestHost::new();
    shop(&host);
    set_mode(&host, "always");
    let (token, id) = start(&host);
    say_as_visitor(
        &host,
        &token,
        id,
        "my parcel arrived damaged and crushed, what now regarding refund",
    );
    let first = turn(&host.ctx(), id).unwrap();
    assert_eq!(
        first,
        Turned::Clarified,
        "{:?}",
        assistant_messages(&host, id)
    );
    assert!(assistant_messages(&host, id)[0].contains("“Returns and refunds”"));
    say_as_visitor(&host, &token, id, "the courier threw it over the fence");
    let second = turn(&host.ctx(), id).unwrap();
    assert!(
        matches!(&second, Turned::HandedOff { reasons } if reasons.iter().any(|r| r.trigger == escalation::Trigger::LowConfidence)),
        "{second:?}"
    );
}

#[test]
fn people_take_over_and_can_hand_back() {
    let host = TestHost::new();
    shop(&host);
    set_mode(&host, "always");
    let (token, id) = start(&host);
    say_as_visitor(&host, &token, id, "hello");
    let db = host.ctx().db;
    db.execute("INSERT INTO operators (email, name, role, password_hash, created_at) VALUES ('a@x', 'Ann', 'admin', 'x', 0)", &[]).unwrap();
    db.execute(
        "UPDATE conversations SET assignee_id = 1 WHERE id = ?1",
        &[id.into()],
    )
    .unwrap();
    assert!(!owns(db, id).unwrap(), "assigned: the assistant stops");
    let bot_active = db
        .execute(
            "SELECT bot_active FROM conversations WHERE id = ?1",
            &[id.into()],
        )
        .unwrap()
        .first()
        .unwrap()
        .i64("bot_active")
        .unwrap();
    assert_eq!(bot_active, 0, "cleared by the trigger, not just hidden");
    assert_eq!(turn(&host.ctx(), id).unwrap(), Turned::Nothing);
}

#[test]
fn after_hours_the_customer_is_told_when_the_team_opens() {
    let host = TestHost::new();
    shop(&host);
    set_mode(&host, "after_hours");
    let db = host.ctx().db;
    // Open on Tuesdays only; the test clock starts on Thursday 2026-01-01.
    let hours: crate::hours::BusinessHours = serde_json::from_value(serde_json::json!({
        "time_zone": "Europe/Berlin", "weekly": {"tuesday": ["09:00-17:00"]}
    }))
    .unwrap();
    crate::hours::save_default_hours(db, Some(&hours)).unwrap();
    let (token, id) = start(&host);
    assert!(owns(db, id).unwrap(), "closed: the assistant takes it");
    say_as_visitor(&host, &token, id, "I need a person please");
    assert!(matches!(
        turn(&host.ctx(), id).unwrap(),
        Turned::HandedOff { .. }
    ));
    tell_wait(&host.ctx(), id).unwrap();
    let said = assistant_messages(&host, id);
    assert!(
        said.last()
            .unwrap()
            .contains("we'll reply when we open (Tue 2026-01-06 09:00 (Europe/Berlin))"),
        "{said:?}"
    );
}

#[test]
fn long_text_is_cut_at_a_word_for_short_channels() {
    assert_eq!(cut("short enough", 20), "short enough");
    let long = "word ".repeat(400);
    let cut_text = cut(&long, 1600);
    assert!(cut_text.chars().count() <= 1600);
    assert!(cut_text.ends_with("word…"), "{cut_text}");
    // No break near the end: cut mid-word rather than lose most of the text.
    let unbroken = "x".repeat(2000);
    assert_eq!(cut(&unbroken, 100).chars().count(), 100);
}
