use super::*;
use crate::chat::{PostMessageRequest, Speaker, post_message};
use crate::host::Clock;
use crate::inbound::{self, EmailContext, InboundMessage, Sender};
use crate::inbox::{FirstAdmin, LoginRequest, login};
use crate::message::{Message, MessageBody};
use crate::testing::TestHost;

fn customer_message(
    host: &TestHost,
    channel: Channel,
    sender: Sender,
    id: &str,
    email: Option<EmailContext>,
) -> i64 {
    let message = InboundMessage {
        channel,
        sender,
        name: None,
        external_id: id.into(),
        body: MessageBody::parse("hello").unwrap(),
        email,
        attachments: vec![],
        media: vec![],
    };
    inbound::receive(&host.ctx(), &message)
        .unwrap()
        .conversation_id
}

fn sms(host: &TestHost, sid: &str) -> i64 {
    let phone = crate::contact::PhoneNumber::parse("from", "+14155550100").unwrap();
    customer_message(host, Channel::Sms, Sender::Phone(phone), sid, None)
}

fn reply(
    host: &TestHost,
    id: i64,
    body: &str,
    channel: Option<&str>,
) -> Result<Message, ChatError> {
    let admin = FirstAdmin {
        email: "admin@example.com".into(),
        password: "a long passphrase".into(),
        setup_token: String::new(),
    };
    let request = LoginRequest {
        email: "admin@example.com".into(),
        password: "a long passphrase".into(),
    };
    let operator = login(&host.ctx(), &admin, &request, 60_000, "10.0.0.1")
        .unwrap()
        .operator;
    let request = PostMessageRequest {
        body: body.into(),
        client_id: None,
        channel: channel.map(str::to_owned),
    };
    post_message(
        &host.ctx(),
        id,
        Speaker::Operator(&operator),
        None,
        &request,
    )
    .map(|(m, _)| m)
}

#[test]
fn replies_go_back_through_the_customers_channel_and_are_queued_durably() {
    let host = TestHost::new();
    let id = sms(&host, "SM1");
    let message = reply(&host, id, "Hi there", None).unwrap();
    assert_eq!(message.channel, Channel::Sms);
    assert_eq!(message.delivery.as_deref(), Some("queued"));
    let db = host.ctx().db;
    assert!(is_due(db, host.clock.now_ms()).unwrap());
    let jobs = claim(db, host.clock.now_ms()).unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].recipient, "+14155550100");
    assert_eq!(jobs[0].body, "Hi there");
    assert!(claim(db, host.clock.now_ms()).unwrap().is_empty(), "leased");
    // A customer who never used the chat cannot be answered there; a channel with no address
    // is refused with the reason.
    match reply(&host, id, "chat", Some("web")) {
        Err(ChatError::Conflict("channel_unavailable", why)) => {
            assert!(why.contains("never used the website chat"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    match reply(&host, id, "mail", Some("email")) {
        Err(ChatError::Conflict("channel_unavailable", why)) => {
            assert!(why.contains("no email"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        reply(&host, id, &"x".repeat(1601), None),
        Err(ChatError::Invalid(_))
    ));
    assert!(matches!(
        reply(&host, id, "x", Some("fax")),
        Err(ChatError::Invalid(_))
    ));
}

#[test]
fn retries_follow_the_schedule_then_fail_visibly() {
    let host = TestHost::new();
    let id = sms(&host, "SM1");
    let message = reply(&host, id, "Hi", None).unwrap();
    let schedule = RetrySchedule::parse("1000,2000").unwrap();
    let db = host.ctx().db;
    for attempt in 1..=3 {
        let jobs = claim(db, host.clock.now_ms()).unwrap();
        assert_eq!(jobs.len(), 1, "attempt {attempt}");
        record(
            db,
            &jobs[0],
            &Answer::Retry("HTTP 503".into()),
            &schedule,
            host.clock.now_ms(),
        )
        .unwrap();
        assert!(
            claim(db, host.clock.now_ms()).unwrap().is_empty(),
            "not due yet"
        );
        host.clock.advance(2000);
    }
    let rows = db
        .execute(
            "SELECT delivery, delivery_error FROM messages WHERE id = ?1",
            &[message.id.into()],
        )
        .unwrap();
    let row = rows.first().unwrap();
    assert_eq!(row.str("delivery").unwrap(), "failed");
    assert_eq!(
        row.str("delivery_error").unwrap(),
        "gave up after 3 attempts: HTTP 503"
    );
    assert!(!is_due(db, host.clock.now_ms()).unwrap());
    assert!(RetrySchedule::parse("0").is_err());
    assert!(RetrySchedule::parse("a,b").is_err());
    assert_eq!(RetrySchedule::parse("").unwrap().attempts(), 6);
}

#[test]
fn an_expired_lease_makes_a_row_due_again_and_acceptance_records_the_provider_id() {
    let host = TestHost::new();
    let id = sms(&host, "SM1");
    let message = reply(&host, id, "Hi", None).unwrap();
    let db = host.ctx().db;
    assert_eq!(claim(db, host.clock.now_ms()).unwrap().len(), 1);
    host.clock.advance(LEASE_MS);
    let jobs = claim(db, host.clock.now_ms()).unwrap();
    assert_eq!(jobs[0].attempts, 2);
    let accepted = Answer::Accepted {
        provider_id: Some("SMabc".into()),
    };
    record(
        db,
        &jobs[0],
        &accepted,
        &RetrySchedule::default(),
        host.clock.now_ms(),
    )
    .unwrap();
    let rows = db
        .execute(
            "SELECT delivery, external_id FROM messages WHERE id = ?1",
            &[message.id.into()],
        )
        .unwrap();
    assert_eq!(rows.first().unwrap().str("delivery").unwrap(), "sent");
    assert_eq!(rows.first().unwrap().str("external_id").unwrap(), "SMabc");
}

#[test]
fn window_channels_close_after_24_hours() {
    let host = TestHost::new();
    let id = customer_message(
        &host,
        Channel::Messenger,
        Sender::ChannelId("PSID-9".into()),
        "mid.1",
        None,
    );
    let options = reply_options(host.ctx().db, id, host.clock.now_ms()).unwrap();
    assert_eq!(options.default, Channel::Messenger);
    let messenger = options
        .channels
        .iter()
        .find(|c| c.channel == Channel::Messenger)
        .unwrap();
    assert!(messenger.available);
    assert_eq!(
        messenger.window_closes_at,
        Some(host.clock.now_ms() + WINDOW_MS)
    );
    host.clock.advance(WINDOW_MS);
    match reply(&host, id, "late", None) {
        Err(ChatError::Conflict("channel_unavailable", why)) => {
            assert!(why.contains("24-hour window"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        reply(&host, id, "here instead", Some("web")).is_err(),
        "no chat to answer in"
    );
}

#[test]
fn email_replies_thread_and_keep_their_message_id_across_retries() {
    let host = TestHost::new();
    let ann = crate::contact::EmailAddress::parse("from", "ann@example.com").unwrap();
    let context = EmailContext {
        subject: "RE: Order 7".into(),
        references: "<a1@mail.example>".into(),
        ..Default::default()
    };
    let id = customer_message(
        &host,
        Channel::Email,
        Sender::Email(ann),
        "a2@mail.example",
        Some(context),
    );
    reply(&host, id, "On its way", None).unwrap();
    let db = host.ctx().db;
    let job = claim(db, host.clock.now_ms()).unwrap().remove(0);
    let headers = email_headers(
        db,
        &host.entropy,
        &job,
        "Support <help@shop.example>",
        "Your conversation",
    )
    .unwrap();
    assert_eq!(headers.subject, "Re: Order 7");
    assert_eq!(headers.in_reply_to.as_deref(), Some("a2@mail.example"));
    assert_eq!(headers.references, "<a1@mail.example> <a2@mail.example>");
    assert!(headers.reply_to.starts_with("help+") && headers.reply_to.ends_with("@shop.example"));
    assert!(headers.message_id.ends_with("@shop.example"));
    let again = email_headers(db, &host.entropy, &job, "Support <help@shop.example>", "x").unwrap();
    assert_eq!(again.message_id, headers.message_id);
    assert_eq!(again.reply_to, headers.reply_to);
    // The customer's answer to our reply threads back by its In-Reply-To, whoever sends it.
    let other = crate::contact::EmailAddress::parse("from", "other@example.com").unwrap();
    let answer = EmailContext {
        referenced_ids: vec![headers.message_id.clone()],
        subject: "Re: Order 7".into(),
        ..Default::default()
    };
    assert_eq!(
        customer_message(
            &host,
            Channel::Email,
            Sender::Email(other),
            "a3@mail.example",
            Some(answer)
        ),
        id
    );
}

#[test]
fn an_answer_arriving_after_the_customer_was_erased_writes_nothing() {
    let host = TestHost::new();
    let id = sms(&host, "SM1");
    let message = reply(&host, id, "Hi", None).unwrap();
    let db = host.ctx().db;
    let job = claim(db, host.clock.now_ms()).unwrap().remove(0);
    let erased = crate::privacy::erase_conversations(db, &[id], host.clock.now_ms()).unwrap();
    assert_eq!(erased.outbox, 1);
    let events_before = db
        .execute("SELECT COUNT(*) AS n FROM events", &[])
        .unwrap()
        .first()
        .unwrap()
        .i64("n")
        .unwrap();
    let schedule = RetrySchedule::default();
    for answer in [
        Answer::Retry("HTTP 503 for +14155550100".into()),
        Answer::Refused("21211 invalid number +14155550100".into()),
        Answer::Accepted {
            provider_id: Some("SMabc".into()),
        },
    ] {
        let events = record(db, &job, &answer, &schedule, host.clock.now_ms()).unwrap();
        assert!(events.is_empty(), "{answer:?} announced events");
    }
    let rows = db
        .execute(
            "SELECT delivery, delivery_error, external_id FROM messages WHERE id = ?1",
            &[message.id.into()],
        )
        .unwrap();
    let row = rows.first().unwrap();
    assert_eq!(row.str("delivery").unwrap(), "queued");
    assert_eq!(row.opt_str("delivery_error").unwrap(), None);
    assert_eq!(row.opt_str("external_id").unwrap(), None);
    let events_after = db
        .execute("SELECT COUNT(*) AS n FROM events", &[])
        .unwrap()
        .first()
        .unwrap()
        .i64("n")
        .unwrap();
    assert_eq!(events_after, events_before);
}
