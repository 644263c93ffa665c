use super::*;
use crate::chat::PostMessageRequest;
use crate::contact::PhoneNumber;
use crate::host::Clock;
use crate::inbound::{self, InboundMessage, Sender};
use crate::testing::TestHost;
use crate::visitor::{self, StartRequest};

fn answer(text: &str) -> Option<(u8, Option<String>)> {
    parse_reply(text).map(|a| (a.rating.get(), a.comment))
}

fn rated(rating: u8, comment: &str) -> Option<(u8, Option<String>)> {
    Some((rating, (!comment.is_empty()).then(|| comment.to_owned())))
}

#[test]
fn a_reply_that_starts_with_a_rating_is_an_answer_in_four_languages() {
    assert_eq!(answer("5 thanks!"), rated(5, "thanks!"));
    assert_eq!(answer("  4"), rated(4, ""));
    assert_eq!(answer("1 - never again"), rated(1, "never again"));
    assert_eq!(answer("4/5 quick answer"), rated(4, "quick answer"));
    assert_eq!(answer("3 out of 5. Slow."), rated(3, "Slow."));
    assert_eq!(answer("5 stars"), rated(5, ""));
    assert_eq!(answer("Five!"), rated(5, ""));
    assert_eq!(answer("two"), rated(2, ""));
    assert_eq!(answer("★★★★"), rated(4, ""));
    assert_eq!(answer("⭐⭐⭐⭐⭐ lovely"), rated(5, "lovely"));
    // Spanish, French, German.
    assert_eq!(answer("5 muchas gracias"), rated(5, "muchas gracias"));
    assert_eq!(answer("Cinco, muy amables"), rated(5, "muy amables"));
    assert_eq!(answer("cuatro."), rated(4, ""));
    assert_eq!(answer("4 sur 5 - très bien"), rated(4, "très bien"));
    assert_eq!(answer("Cinq ! Merci"), rated(5, "Merci"));
    assert_eq!(answer("deux"), rated(2, ""));
    assert_eq!(answer("fünf Sterne"), rated(5, ""));
    assert_eq!(answer("Drei: ging so"), rated(3, "ging so"));
    assert_eq!(answer("2 von 5, zu langsam"), rated(2, "zu langsam"));
}

#[test]
fn numbers_that_are_not_ratings_and_sentences_are_not_answers() {
    for text in [
        "10",
        "0",
        "6 stars",
        "4.5",
        "3,5",
        "5:30 works for me",
        "5pm tomorrow?",
        "3rd time I ask",
        "12345 is my order",
        "One more thing",
        "Un problème avec ma commande",
        "uno de mis pedidos",
        "drei Fragen noch",
        "hello",
        "",
        "Thanks, 5",
    ] {
        assert_eq!(answer(text), None, "{text:?}");
    }
}

#[test]
fn an_emailed_answer_loses_the_quoted_survey_and_long_comments_are_cut() {
    let email = "4 good, but slow\n\nOn Mon, 5 Jan 2026, Support <help@shop.example> wrote:\n> How did we do?";
    assert_eq!(answer(email), rated(4, "good, but slow"));
    assert_eq!(
        answer("5\n> How did we do? Reply with a number"),
        rated(5, "")
    );
    assert_eq!(
        answer("3 ok\n\nLe lun. 5 janv. 2026, Support a écrit :\n> ..."),
        rated(3, "ok")
    );
    let long = format!("5 {}", "é".repeat(COMMENT_MAX_CHARS + 50));
    let comment = parse_reply(&long).unwrap().comment.unwrap();
    assert_eq!(comment.chars().count(), COMMENT_MAX_CHARS);
}

#[test]
fn the_widget_answer_names_the_wrong_field() {
    let request = |v: serde_json::Value| serde_json::from_value::<AnswerRequest>(v).unwrap();
    for bad in [
        json!({"rating": 0}),
        json!({"rating": 6}),
        json!({"rating": "5"}),
        json!({"rating": 4.5}),
        json!({}),
    ] {
        assert_eq!(request(bad).parse().unwrap_err().field, "rating");
    }
    let long = json!({"rating": 3, "comment": "x".repeat(COMMENT_MAX_CHARS + 1)});
    assert_eq!(request(long).parse().unwrap_err().field, "comment");
    let ok = request(json!({"rating": 3, "comment": "  "}))
        .parse()
        .unwrap();
    assert_eq!((ok.rating.get(), ok.comment), (3, None));
}

fn sms(text: &str, sid: &str) -> InboundMessage {
    InboundMessage {
        channel: Channel::Sms,
        sender: Sender::Phone(PhoneNumber::parse("from", "+14155550100").unwrap()),
        name: None,
        external_id: sid.into(),
        body: MessageBody::parse(text).unwrap(),
        email: None,
        attachments: vec![],
        media: vec![],
    }
}

fn resolve(host: &TestHost, id: i64) -> Requested {
    let db = host.ctx().db;
    db.execute(
        "UPDATE conversations SET status = 'resolved', resolved_at = ?2 WHERE id = ?1",
        &[id.into(), host.clock.now_ms().into()],
    )
    .unwrap();
    request(db, id, host.clock.now_ms()).unwrap()
}

fn count(host: &TestHost, sql: &str) -> i64 {
    host.ctx()
        .db
        .execute(sql, &[])
        .unwrap()
        .first()
        .unwrap()
        .i64("n")
        .unwrap()
}

fn status(host: &TestHost, id: i64) -> String {
    host.ctx()
        .db
        .execute(
            "SELECT status FROM conversations WHERE id = ?1",
            &[id.into()],
        )
        .unwrap()
        .first()
        .unwrap()
        .str("status")
        .unwrap()
        .to_owned()
}

#[test]
fn an_sms_customer_is_asked_once_and_their_rating_is_recorded_once() {
    let host = TestHost::new();
    let ctx = host.ctx();
    let id = inbound::receive(&ctx, &sms("hola, mi pedido no llegó", "SM1"))
        .unwrap()
        .conversation_id;
    let Requested::Queued { message_id } = resolve(&host, id) else {
        panic!("an SMS survey is queued");
    };
    let jobs = outbox::claim(ctx.db, host.clock.now_ms()).unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].message_id, message_id);
    assert_eq!(jobs[0].recipient, "+14155550100");
    assert!(
        jobs[0].body.starts_with("¿Qué tal lo hicimos?"),
        "in Spanish"
    );
    assert_eq!(status(&host, id), "resolved", "the survey does not reopen");
    // Resolving again asks nothing.
    assert_eq!(resolve(&host, id), Requested::Nothing);
    assert_eq!(count(&host, "SELECT COUNT(*) AS n FROM outbox"), 1);

    host.clock.advance(60_000);
    let first = inbound::receive(&ctx, &sms("5 gracias!", "SM2")).unwrap();
    assert_eq!((first.message_id, first.created), (None, true));
    assert_eq!(status(&host, id), "resolved");
    let row = ctx
        .db
        .execute(
            "SELECT rating, comment, channel FROM csat_responses WHERE conversation_id = ?1",
            &[id.into()],
        )
        .unwrap();
    let row = row.first().unwrap();
    assert_eq!(row.i64("rating").unwrap(), 5);
    assert_eq!(row.opt_str("comment").unwrap(), Some("gracias!"));
    assert_eq!(row.str("channel").unwrap(), "sms");
    let data = ctx
        .db
        .execute(
            "SELECT data FROM events WHERE kind = 'csat.received' AND visibility = 'internal'",
            &[],
        )
        .unwrap()
        .first()
        .unwrap()
        .str("data")
        .unwrap()
        .to_owned();
    assert_eq!(
        serde_json::from_str::<Value>(&data).unwrap(),
        json!({"rating": 5, "comment": "gracias!", "channel": "sms", "operator_id": null})
    );

    // The provider's retry, and the same words again, change nothing.
    for sid in ["SM2", "SM3"] {
        let again = inbound::receive(&ctx, &sms("5 gracias!", sid)).unwrap();
        assert_eq!((again.message_id, again.created), (None, false));
    }
    assert_eq!(
        count(
            &host,
            "SELECT COUNT(*) AS n FROM events WHERE kind = 'csat.received'"
        ),
        1
    );
    assert_eq!(
        count(
            &host,
            "SELECT COUNT(*) AS n FROM messages WHERE author = 'visitor'"
        ),
        1
    );
    // Another rating after the answer is a message like any other: it reopens.
    let later = inbound::receive(&ctx, &sms("4", "SM4")).unwrap();
    assert!(later.message_id.is_some());
    assert_eq!(later.conversation_id, id);
    assert_eq!(status(&host, id), "open");
}

#[test]
fn a_reply_that_is_not_a_rating_or_comes_too_late_reopens_as_before() {
    let host = TestHost::new();
    let ctx = host.ctx();
    let id = inbound::receive(&ctx, &sms("my order is late", "SM1"))
        .unwrap()
        .conversation_id;
    assert!(matches!(resolve(&host, id), Requested::Queued { .. }));
    let words = inbound::receive(&ctx, &sms("still not here", "SM2")).unwrap();
    assert!(words.message_id.is_some());
    assert_eq!(status(&host, id), "open");
    // Reopened, a rating is a message; resolved again, no new survey.
    let rating = inbound::receive(&ctx, &sms("5", "SM3")).unwrap();
    assert!(rating.message_id.is_some());
    assert_eq!(resolve(&host, id), Requested::Nothing);
    // The survey's window: a week.
    host.clock.advance(ANSWER_WINDOW_MS + 1);
    assert_eq!(
        reply(ctx.db, id, Channel::Sms, "5", host.clock.now_ms()).unwrap(),
        Reply::NotAnAnswer
    );
    assert_eq!(count(&host, "SELECT COUNT(*) AS n FROM csat_responses"), 0);
}

#[test]
fn a_widget_visitor_is_asked_in_the_chat_and_answers_once() {
    let host = TestHost::new();
    let ctx = host.ctx();
    let started = visitor::start(&ctx, None, &StartRequest::default()).unwrap();
    let token = Token::parse(started.visitor_token.as_deref().unwrap()).unwrap();
    let id = started.conversation.id;
    let request = |rating: i64| AnswerRequest {
        rating: json!(rating),
        comment: Some("Quick and kind".into()),
    };
    // Nothing asked yet.
    let err = answer_in_widget(&ctx, &token, id, &request(4)).unwrap_err();
    assert!(
        matches!(err, ChatError::Conflict("no_survey", _)),
        "{err:?}"
    );
    visitor::post(
        &ctx,
        &token,
        id,
        &PostMessageRequest {
            body: "hi".into(),
            client_id: None,
            channel: None,
        },
    )
    .unwrap();
    assert_eq!(for_widget(ctx.db, id).unwrap(), None);
    assert_eq!(resolve(&host, id), Requested::InWidget);
    assert_eq!(
        count(
            &host,
            "SELECT COUNT(*) AS n FROM events WHERE kind = 'csat.requested' AND visibility = 'public'"
        ),
        1
    );
    assert_eq!(for_widget(ctx.db, id).unwrap(), Some(WidgetSurvey::Pending));
    let response = answer_in_widget(&ctx, &token, id, &request(4)).unwrap();
    assert_eq!(response.rating.get(), 4);
    assert_eq!(response.channel, Channel::Web);
    let err = answer_in_widget(&ctx, &token, id, &request(5)).unwrap_err();
    assert!(
        matches!(err, ChatError::Conflict("already_answered", _)),
        "{err:?}"
    );
    assert_eq!(
        for_widget(ctx.db, id).unwrap(),
        Some(WidgetSurvey::Answered {
            rating: Rating::new(4).unwrap()
        })
    );
    // Someone else's token sees no such conversation.
    let other = visitor::start(&ctx, None, &StartRequest::default()).unwrap();
    let other = Token::parse(other.visitor_token.as_deref().unwrap()).unwrap();
    let err = answer_in_widget(&ctx, &other, id, &request(1)).unwrap_err();
    assert!(matches!(err, ChatError::NotFound(_)), "{err:?}");
}

#[test]
fn admins_turn_surveys_off_or_off_per_channel() {
    let host = TestHost::new();
    let ctx = host.ctx();
    assert_eq!(settings(ctx.db).unwrap(), CsatSettings::default());
    let saved = save_settings(ctx.db, &json!({"channels": {"sms": false}})).unwrap();
    assert!(saved.enabled && !saved.channels.sms && saved.channels.email);
    let id = inbound::receive(&ctx, &sms("hello", "SM1"))
        .unwrap()
        .conversation_id;
    assert_eq!(resolve(&host, id), Requested::Nothing);
    assert_eq!(count(&host, "SELECT COUNT(*) AS n FROM csat_surveys"), 0);
    // Off for every channel; back on later does not survey the old resolution.
    save_settings(
        ctx.db,
        &json!({"enabled": false, "channels": {"sms": true}}),
    )
    .unwrap();
    assert_eq!(resolve(&host, id), Requested::Nothing);
    assert!(save_settings(ctx.db, &json!({"enabled": "yes"})).is_err());
    assert!(save_settings(ctx.db, &json!({"channels": {"fax": true}})).is_err());
    assert!(
        !settings(ctx.db).unwrap().enabled,
        "a refused patch changes nothing"
    );
}
