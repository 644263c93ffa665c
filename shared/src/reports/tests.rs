//! The metrics against hand-computed scenarios: conversations driven through the real
//! workflow (visitor messages, replies that claim, transfers, resolutions, reopening, the
//! assistant's answers and handoff) at known instants, folded from the event log, then
//! measured. The expected values are worked out in the comments.

use super::*;
use crate::chat::{PostMessageRequest, Speaker};
use crate::host::Clock;
use crate::operator::Operator;
use crate::secret::Token;
use crate::testing::TestHost;
use crate::visitor::{self, StartRequest};
use crate::workflow::{self, StatusRequest, TransferRequest};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
/// The test clock starts at Thursday 2026-01-01 00:00 UTC.
const THU: i64 = 1_767_225_600_000;
const FRI: i64 = THU + 24 * HOUR;

struct World {
    host: TestHost,
}

impl World {
    fn new() -> World {
        let world = World {
            host: TestHost::new(),
        };
        // Business hours Monday to Friday 09:00-17:00 UTC.
        let hours: crate::hours::BusinessHours = serde_json::from_value(serde_json::json!({
            "time_zone": "UTC",
            "weekly": {"monday": ["09:00-17:00"], "tuesday": ["09:00-17:00"],
                       "wednesday": ["09:00-17:00"], "thursday": ["09:00-17:00"],
                       "friday": ["09:00-17:00"]}
        }))
        .unwrap();
        crate::hours::save_default_hours(world.db(), Some(&hours)).unwrap();
        world
    }

    fn db(&self) -> &dyn Database {
        self.host.ctx().db
    }

    fn at(&self, instant: i64) {
        let now = self.host.clock.now_ms();
        assert!(instant >= now, "time only moves forward");
        self.host.clock.advance(instant - now);
    }

    fn operator(&self, name: &str) -> Operator {
        let id = self
            .db()
            .execute(
                "INSERT INTO operators (email, name, role, password_hash, created_at, capacity,
                                        presence, last_seen_at)
                 VALUES (?1, ?2, 'operator', 'x', 0, 5, 'available', ?3) RETURNING id",
                &[
                    format!("{name}@example.com").into(),
                    name.into(),
                    self.host.clock.now_ms().into(),
                ],
            )
            .unwrap()
            .first()
            .unwrap()
            .i64("id")
            .unwrap();
        crate::operator::by_id(self.db(), id).unwrap().unwrap()
    }

    fn start(&self) -> (Token, i64) {
        let started = visitor::start(&self.host.ctx(), None, &StartRequest::default()).unwrap();
        let token = Token::parse(started.visitor_token.as_deref().unwrap()).unwrap();
        (token, started.conversation.id)
    }

    fn customer(&self, token: &Token, id: i64, text: &str) {
        let request = PostMessageRequest {
            body: text.into(),
            client_id: None,
            channel: None,
        };
        visitor::post(&self.host.ctx(), token, id, &request).unwrap();
    }

    fn reply(&self, operator: &Operator, id: i64) {
        let request = PostMessageRequest {
            body: "Happy to help.".into(),
            client_id: None,
            channel: None,
        };
        crate::chat::post_message(
            &self.host.ctx(),
            id,
            Speaker::Operator(operator),
            None,
            &request,
        )
        .unwrap();
    }

    fn version(&self, id: i64) -> i64 {
        crate::conversation::summary(self.db(), id)
            .unwrap()
            .unwrap()
            .version
    }

    fn resolve(&self, operator: &Operator, id: i64) {
        let request = StatusRequest {
            status: "resolved".into(),
            version: self.version(id),
            snoozed_until: None,
            reason: None,
        };
        workflow::set_status(&self.host.ctx(), operator, id, &request).unwrap();
    }

    fn transfer(&self, from: &Operator, id: i64, to: &Operator) {
        let request = TransferRequest {
            operator_id: Some(to.id),
            team_id: None,
            reason: "billing question".into(),
            version: self.version(id),
        };
        workflow::transfer(&self.host.ctx(), from, id, &request).unwrap();
    }

    /// A survey answer, as the CSAT module records it (its event).
    fn rated(&self, id: i64, rating: i64) {
        self.db()
            .execute(
                "INSERT INTO events (conversation_id, kind, visibility, data, created_at)
                 VALUES (?1, 'csat.received', 'internal', json_object('rating', ?2), ?3)",
                &[id.into(), rating.into(), self.host.clock.now_ms().into()],
            )
            .unwrap();
    }

    fn report(&self, from: &str, to: &str) -> (Filter, Vec<Row>) {
        crate::report_facts::catch_up(self.db(), 100).unwrap();
        let filter = Filter::parse(
            &format!("from={from}&to={to}&tz=UTC"),
            "UTC",
            self.host.clock.now_ms(),
        )
        .unwrap();
        let rows = rows(self.db(), &filter).unwrap();
        (filter, rows)
    }
}

fn article(world: &World) {
    let request = crate::kb::ArticleRequest {
        title: Some("Shipping times".into()),
        body: Some("Orders ship within 2 business days.".into()),
        tags: Some(vec!["shipping".into()]),
        language: Some("en".into()),
        topic: None,
        published: Some(true),
    };
    crate::kb::create(world.db(), &request, 0).unwrap();
}

fn assistant_mode(world: &World, mode: &str) {
    crate::assistant::save_settings(world.db(), &serde_json::json!({ "mode": mode })).unwrap();
}

/// Five conversations, A to E (see each step), measured on Saturday 14:00.
fn five_conversations() -> (World, Operator, Operator, [i64; 5]) {
    let w = World::new();
    let ann = w.operator("Ann");
    let bob = w.operator("Bob");
    article(&w);

    // A: writes Thu 10:00, Ann replies 10:02 (claiming it), resolves 10:30, rated 5.
    w.at(THU + 10 * HOUR);
    let (a_token, a) = w.start();
    w.customer(&a_token, a, "Where is my order?");
    w.at(THU + 10 * HOUR + 2 * MINUTE);
    w.reply(&ann, a);
    w.at(THU + 10 * HOUR + 30 * MINUTE);
    w.resolve(&ann, a);
    w.rated(a, 5);

    // B: writes Thu 16:50 (10 minutes before closing); Ann replies Fri 09:10 (10 minutes after
    // opening) and resolves 09:20; the customer writes again Fri 12:00 (a reopen), Ann
    // resolves 12:05; rated 2.
    w.at(THU + 16 * HOUR + 50 * MINUTE);
    let (b_token, b) = w.start();
    w.customer(&b_token, b, "My invoice is wrong");
    w.at(FRI + 9 * HOUR + 10 * MINUTE);
    w.reply(&ann, b);
    w.at(FRI + 9 * HOUR + 20 * MINUTE);
    w.resolve(&ann, b);

    // C: the assistant first. Asks Fri 10:00 (answered), asks for a person 10:01 (handoff);
    // Ann replies 10:04, transfers to Bob 10:06; Bob resolves 10:16.
    assistant_mode(&w, "always");
    w.at(FRI + 10 * HOUR);
    let (c_token, c) = w.start();
    w.customer(&c_token, c, "How long does shipping take?");
    assert!(matches!(
        crate::assistant::turn(&w.host.ctx(), c).unwrap(),
        crate::assistant::Turned::Answered { .. }
    ));
    w.at(FRI + 10 * HOUR + MINUTE);
    w.customer(&c_token, c, "I want to talk to a human");
    assert!(matches!(
        crate::assistant::turn(&w.host.ctx(), c).unwrap(),
        crate::assistant::Turned::HandedOff { .. }
    ));
    w.at(FRI + 10 * HOUR + 4 * MINUTE);
    w.reply(&ann, c);
    w.at(FRI + 10 * HOUR + 6 * MINUTE);
    w.transfer(&ann, c, &bob);
    w.at(FRI + 10 * HOUR + 16 * MINUTE);
    w.resolve(&bob, c);

    // D: the assistant alone. Asks Fri 11:00, answered; nobody else ever writes.
    w.at(FRI + 11 * HOUR);
    let (d_token, d) = w.start();
    w.customer(&d_token, d, "How long does shipping take?");
    crate::assistant::turn(&w.host.ctx(), d).unwrap();

    // B again: the customer writes Fri 12:00 (a reopen); Ann resolves 12:05; rated 2.
    w.at(FRI + 12 * HOUR);
    w.customer(&b_token, b, "Still wrong, sorry");
    w.at(FRI + 12 * HOUR + 5 * MINUTE);
    w.resolve(&ann, b);
    w.rated(b, 2);

    // E: nobody answers. Writes Fri 13:00 (the assistant is off again).
    assistant_mode(&w, "never");
    w.at(FRI + 13 * HOUR);
    let (e_token, e) = w.start();
    w.customer(&e_token, e, "Hello? Anyone?");

    // Measured Saturday 14:00: E has been silent 25 hours.
    w.at(FRI + 38 * HOUR);
    (w, ann, bob, [a, b, c, d, e])
}

#[test]
fn the_headline_metrics_match_the_hand_computed_scenario() {
    let (w, _, _, _) = five_conversations();
    let (_, rows) = w.report("2026-01-01", "2026-01-03");
    let now = w.host.clock.now_ms();
    let s = summarize(&rows, 7, now);
    assert_eq!(s.conversations, 5);
    assert_eq!(s.with_customer_message, 5);
    // First response: A 120 s; B 16 h 20 min = 58,800 s; C from the handoff 10:01 to 10:04 =
    // 180 s (not from the first message). Median 180, mean 59,100 / 3 = 19,700, p90 (nearest
    // rank, 3rd of 3) 58,800.
    assert_eq!(s.first_response.count, 3);
    assert_eq!(s.first_response.median_s, Some(180.0));
    assert_eq!(s.first_response.mean_s, Some(19_700.0));
    assert_eq!(s.first_response.p90_s, Some(58_800.0));
    // In business hours B is 10 min Thursday + 10 min Friday = 1,200 s: mean (120 + 1,200 +
    // 180) / 3 = 500.
    assert_eq!(s.first_response_business.count, 3);
    assert_eq!(s.first_response_business.median_s, Some(180.0));
    assert_eq!(s.first_response_business.mean_s, Some(500.0));
    // Waiting before assignment: the replies claimed A and B, Ann's reply claimed C.
    assert_eq!(s.waiting_before_assignment.count, 3);
    assert_eq!(s.waiting_before_assignment.median_s, Some(180.0));
    // Resolution (first): A 1,800 s; B Thu 16:50 to Fri 09:20 = 59,400 s; C 10:00 to 10:16 =
    // 960 s.
    assert_eq!(s.resolution.count, 3);
    assert_eq!(s.resolution.median_s, Some(1_800.0));
    assert_eq!(
        s.resolution.mean_s,
        Some((1_800.0 + 59_400.0 + 960.0) / 3.0)
    );
    // First contact: A yes; B reopened within 7 days; C had two operators.
    assert_eq!(s.first_contact_resolution.count, 1);
    assert_eq!(s.first_contact_resolution.of, 3);
    // CSAT: 5 and 2.
    assert_eq!(s.csat.responses, 2);
    assert_eq!(s.csat.average, Some(3.5));
    assert_eq!(s.csat.satisfied.count, 1);
    // D alone was the assistant's; A, B, C people's.
    assert_eq!((s.bot_resolved.count, s.bot_resolved.of), (1, 5));
    assert_eq!((s.human_handled.count, s.human_handled.of), (3, 5));
    assert_eq!(s.transfers.total, 1);
    assert_eq!(s.transfers.conversations.count, 1);
    // E never got an answer and has been silent over 24 hours.
    assert_eq!((s.abandoned.count, s.abandoned.of), (1, 5));
}

#[test]
fn operators_get_their_conversations_times_and_concurrent_load() {
    let (w, ann, bob, _) = five_conversations();
    let (filter, rows) = w.report("2026-01-01", "2026-01-03");
    let now = w.host.clock.now_ms();
    let spans = spans(w.db(), &filter, now).unwrap();
    let table = by_operator(w.db(), &rows, &spans, &filter).unwrap();
    let row = |id: i64| table.iter().find(|r| r.operator_id == id).unwrap();
    // Ann handled A and B (C ended with Bob).
    assert_eq!(row(ann.id).conversations, 2);
    assert_eq!(row(ann.id).csat.average, Some(3.5));
    assert_eq!(row(bob.id).conversations, 1);
    // Ann held A 10:02-10:30 (28 min), B 09:10-09:20 and again 12:00-12:05 after the reopen
    // (15 min), C 10:04-10:06 (2 min): 45 min, never two at once.
    assert_eq!(row(ann.id).concurrent_peak, 1);
    assert_eq!(row(ann.id).concurrent_average, Some(1.0));
    assert!((row(ann.id).handling_hours - 0.75).abs() < 1e-9);
    // Bob held C 10:06-10:16.
    assert!((row(bob.id).handling_hours - 10.0 / 60.0).abs() < 1e-9);
}

#[test]
fn concurrent_load_counts_overlaps_and_not_handovers() {
    let span = |a: i64, b: i64| Span {
        operator_id: 1,
        started_at: a,
        ended_at: b,
    };
    // 0-10 and 5-15 overlap for 5: busy 15, weighted 20 -> 1.333; a span starting as another
    // ends is a handover, not two at once.
    let (average, peak, held) = concurrency(&[span(0, 10), span(5, 15), span(15, 20)], 0, 100);
    assert_eq!(peak, 2);
    assert_eq!(held, 25);
    assert!((average.unwrap() - 25.0 / 20.0).abs() < 1e-9);
    assert_eq!(concurrency(&[], 0, 10), (None, 0, 0));
}

#[test]
fn traffic_counts_starts_by_weekday_and_hour_in_the_reports_time_zone() {
    let (w, _, _, _) = five_conversations();
    let (filter, rows) = w.report("2026-01-01", "2026-01-03");
    let t = traffic(&rows, &filter);
    assert_eq!(t.total, 5);
    // Thursday (3) 10:00 and 16:00; Friday (4) 10:00, 11:00, 13:00.
    assert_eq!(t.counts[3][10], 1);
    assert_eq!(t.counts[3][16], 1);
    assert_eq!(t.counts[4][10], 1);
    assert_eq!(t.counts[4][11], 1);
    assert_eq!(t.counts[4][13], 1);
    // In Berlin (UTC+1 in January) every hour is one later.
    let berlin = Filter::parse(
        "from=2026-01-01&to=2026-01-03&tz=Europe/Berlin",
        "UTC",
        w.host.clock.now_ms(),
    )
    .unwrap();
    assert_eq!(traffic(&rows, &berlin).counts[3][11], 1);
}

#[test]
fn folding_in_pieces_gives_the_same_facts_as_folding_at_once() {
    let (w, _, _, _) = five_conversations();
    let all = |w: &World| {
        w.db()
            .execute(
                "SELECT * FROM conversation_facts ORDER BY conversation_id",
                &[],
            )
            .unwrap()
            .rows
    };
    crate::report_facts::catch_up(w.db(), 100).unwrap();
    let at_once = all(&w);
    // Again from scratch, a few events per transaction.
    w.db()
        .execute("DELETE FROM conversation_facts", &[])
        .unwrap();
    w.db().execute("DELETE FROM assignment_spans", &[]).unwrap();
    w.db()
        .execute("UPDATE report_progress SET last_event_id = 0", &[])
        .unwrap();
    // Three events per transaction, one transaction per call.
    let mut calls = 0;
    while !crate::report_facts::catch_up_in(w.db(), 1, 3)
        .unwrap()
        .caught_up
    {
        calls += 1;
    }
    assert!(calls >= 5, "folded in {calls} pieces");
    crate::report_facts::catch_up(w.db(), 100).unwrap();
    assert_eq!(all(&w), at_once);
    assert!(!crate::report_facts::behind(w.db()).unwrap());
}

#[test]
fn csv_quotes_what_needs_quoting_and_defuses_formulas() {
    let text = csv(
        &["name", "note"],
        &[
            vec!["Ann, A.".into(), "said \"hi\"".into()],
            vec!["=HYPERLINK(\"x\")".into(), "-3".into()],
        ],
    );
    assert_eq!(
        text,
        "name,note\r\n\"Ann, A.\",\"said \"\"hi\"\"\"\r\n\"'=HYPERLINK(\"\"x\"\")\",-3\r\n"
    );
    assert_eq!(csv_number(Some(1.5)), "1.5");
    assert_eq!(csv_number(Some(2.0)), "2");
    assert_eq!(csv_number(None), "");
}

#[test]
fn filters_are_parsed_with_clear_errors() {
    let now = THU;
    let f = Filter::parse("", "UTC", now).unwrap();
    assert_eq!(f.days(), 7);
    assert_eq!(f.to.to_string(), "2026-01-01");
    for (query, field) in [
        ("from=2026-02-01&to=2026-01-01", "from"),
        ("from=2024-01-01&to=2026-01-01", "from"),
        ("tz=Mars/Olympus", "tz"),
        ("team=x", "team"),
        ("channel=fax", "channel"),
        ("fcr_days=0", "fcr_days"),
        ("to=yesterday", "to"),
    ] {
        let error = Filter::parse(query, "UTC", now).unwrap_err();
        assert_eq!(error.field, field, "{query}");
    }
}
