//! The routing pass on rusqlite (the SQL Spin runs), with a clock that moves only when told.

use super::*;
use crate::host::Clock;
use crate::testing::TestHost;

struct World {
    host: TestHost,
}

impl World {
    fn new() -> World {
        World {
            host: TestHost::new(),
        }
    }

    fn db(&self) -> &dyn Database {
        self.host.ctx().db
    }

    fn now(&self) -> i64 {
        self.host.clock.now_ms()
    }

    fn sql(&self, sql: &str, params: &[crate::store::SqlValue]) -> crate::store::Rows {
        self.db().execute(sql, params).unwrap()
    }

    /// An active operator with a password, available and online unless `presence` says not.
    fn operator(&self, name: &str, capacity: i64, presence: &str) -> i64 {
        self.sql(
            "INSERT INTO operators (email, name, role, password_hash, created_at, capacity,
                                    presence, last_seen_at)
             VALUES (?1, ?2, 'operator', 'x', 0, ?3, ?4, ?5) RETURNING id",
            &[
                format!("{name}@example.com").into(),
                name.into(),
                capacity.into(),
                presence.into(),
                self.now().into(),
            ],
        )
        .first()
        .unwrap()
        .i64("id")
        .unwrap()
    }

    fn skill(&self, operator: i64, skill: &str, level: i64) {
        self.sql(
            "INSERT INTO operator_skills (operator_id, skill, level) VALUES (?1, ?2, ?3)",
            &[operator.into(), skill.into(), level.into()],
        );
    }

    fn team(&self, name: &str, members: &[i64]) -> i64 {
        let id = self
            .sql(
                "INSERT INTO teams (name, created_at) VALUES (?1, 0) RETURNING id",
                &[name.into()],
            )
            .first()
            .unwrap()
            .i64("id")
            .unwrap();
        for m in members {
            self.sql(
                "INSERT INTO team_members (team_id, operator_id) VALUES (?1, ?2)",
                &[id.into(), (*m).into()],
            );
        }
        id
    }

    fn contact(&self, attributes: &str) -> i64 {
        self.sql(
            "INSERT INTO contacts (created_at, attributes) VALUES (0, ?1) RETURNING id",
            &[attributes.into()],
        )
        .first()
        .unwrap()
        .i64("id")
        .unwrap()
    }

    /// A conversation of `contact` in which the customer wrote `text` now: it waits.
    fn chat(&self, contact: i64, text: &str) -> i64 {
        let id = conversation::insert(
            self.db(),
            contact,
            contact,
            crate::channel::Channel::Web,
            None,
            self.now(),
        )
        .unwrap();
        self.visitor_writes(id, text);
        id
    }

    fn visitor_writes(&self, conversation: i64, text: &str) {
        self.sql(
            "INSERT INTO messages (conversation_id, author, body, created_at)
             VALUES (?1, 'visitor', ?2, ?3)",
            &[conversation.into(), text.into(), self.now().into()],
        );
    }

    fn operator_writes(&self, conversation: i64, operator: i64) {
        self.sql(
            "INSERT INTO messages (conversation_id, author, operator_id, body, created_at)
             VALUES (?1, 'operator', ?2, 'hello', ?3)",
            &[conversation.into(), operator.into(), self.now().into()],
        );
    }

    fn assignee(&self, conversation: i64) -> Option<i64> {
        self.sql(
            "SELECT assignee_id FROM conversations WHERE id = ?1",
            &[conversation.into()],
        )
        .first()
        .unwrap()
        .opt_i64("assignee_id")
        .unwrap()
    }

    fn resolve(&self, conversation: i64) {
        let version = conversation::summary(self.db(), conversation)
            .unwrap()
            .unwrap()
            .version;
        assert!(
            conversation::set_status(
                self.db(),
                conversation,
                version,
                conversation::Status::Resolved,
                None,
                self.now()
            )
            .unwrap()
        );
    }

    fn route(&self) -> Outcome {
        run(&self.host.ctx(), Sweep::IfDue).unwrap()
    }

    fn set_team_routing(&self, team: i64, patch: RoutingPatch) {
        let current = team_settings(self.db()).unwrap()[&team].1.clone();
        save_team_settings(self.db(), team, &current.apply(&patch).unwrap()).unwrap();
    }

    fn timeline(&self, conversation: i64) -> Vec<String> {
        self.sql(
            "SELECT kind || ' ' || data AS line FROM events WHERE conversation_id = ?1 ORDER BY id",
            &[conversation.into()],
        )
        .iter()
        .map(|r| r.str("line").unwrap().to_owned())
        .collect()
    }
}

#[test]
fn a_waiting_conversation_goes_to_the_least_loaded_available_operator_with_the_reason() {
    let w = World::new();
    let busy = w.operator("Busy", 3, "available");
    let idle = w.operator("Idle", 3, "available");
    let c0 = w.contact("{}");
    let first = w.chat(c0, "hi");
    w.sql(
        "UPDATE conversations SET assignee_id = ?1 WHERE id = ?2",
        &[busy.into(), first.into()],
    );
    let chat = w.chat(w.contact("{}"), "hello?");
    let outcome = w.route();
    assert_eq!(outcome.assigned.len(), 1);
    assert_eq!(w.assignee(chat), Some(idle));
    let line = w.timeline(chat).into_iter().last().unwrap();
    assert!(line.starts_with("conversation.assigned"), "{line}");
    assert!(line.contains(r#""rule":"least_loaded""#), "{line}");
    assert!(line.contains("lowest load (0 of 3)"), "{line}");
    assert!(line.contains(r#""by":null"#), "{line}");
}

#[test]
fn away_offline_and_silent_operators_never_receive_conversations() {
    let w = World::new();
    w.operator("Away", 3, "away");
    w.operator("Offline", 3, "offline");
    let silent = w.operator("Silent", 3, "available");
    w.host.clock.advance(PRESENCE_GRACE_MS + 1);
    let chat = w.chat(w.contact("{}"), "anyone?");
    let outcome = w.route();
    assert!(outcome.assigned.is_empty());
    assert_eq!(w.assignee(chat), None);
    assert_eq!(outcome.still_waiting, 1);
    // Once Silent's console checks in again, it is theirs.
    w.sql(
        "UPDATE operators SET last_seen_at = ?1 WHERE id = ?2",
        &[w.now().into(), silent.into()],
    );
    w.route();
    assert_eq!(w.assignee(chat), Some(silent));
}

#[test]
fn capacity_is_never_exceeded_and_freed_capacity_goes_to_the_highest_priority_longest_waiting() {
    let w = World::new();
    let ann = w.operator("Ann", 2, "available");
    let chats: Vec<i64> = (0..4)
        .map(|i| {
            w.host.clock.advance(1000);
            w.chat(w.contact("{}"), &format!("chat {i}"))
        })
        .collect();
    w.route();
    assert_eq!(w.assignee(chats[0]), Some(ann));
    assert_eq!(w.assignee(chats[1]), Some(ann));
    assert_eq!(w.assignee(chats[2]), None, "Ann is at capacity");
    // A VIP arrives last but jumps the queue.
    w.host.clock.advance(1000);
    let vip = w.chat(w.contact(r#"{"tier":"VIP"}"#), "I pay a lot");
    let outcome = w.route();
    assert_eq!(outcome.classified.len(), 1);
    assert_eq!(outcome.classified[0].priority, 1);
    assert!(outcome.assigned.is_empty());
    w.resolve(chats[0]);
    w.route();
    assert_eq!(w.assignee(vip), Some(ann), "priority first");
    w.resolve(chats[1]);
    w.route();
    assert_eq!(w.assignee(chats[2]), Some(ann), "then the longest waiting");
    assert_eq!(w.assignee(chats[3]), None);
}

#[test]
fn skills_routing_prefers_the_expert_for_the_detected_topic() {
    let w = World::new();
    let generalist = w.operator("Gen", 3, "available");
    let expert = w.operator("Exp", 3, "available");
    w.skill(expert, "billing", 5);
    // The expert already has two chats; the generalist none.
    for _ in 0..2 {
        let c = w.chat(w.contact("{}"), "x");
        w.sql(
            "UPDATE conversations SET assignee_id = ?1, waiting_since = NULL WHERE id = ?2",
            &[expert.into(), c.into()],
        );
    }
    let team = w.team("Support", &[generalist, expert]);
    w.set_team_routing(
        team,
        RoutingPatch {
            strategy: Some("skills".into()),
            ..RoutingPatch::default()
        },
    );
    let t = topic::apply(
        None,
        &topic::TopicRequest {
            name: Some("billing".into()),
            team_id: Some(Some(team)),
            keywords: Some(vec!["refund".into(), "invoice".into()]),
            ..topic::TopicRequest::default()
        },
    )
    .unwrap();
    topic::insert(w.db(), &t, 0).unwrap();
    let chat = w.chat(w.contact("{}"), "I need a refund for this invoice");
    let outcome = w.route();
    assert_eq!(outcome.classified[0].topic.as_deref(), Some("billing"));
    assert_eq!(w.assignee(chat), Some(expert));
    let lines = w.timeline(chat).join("\n");
    assert!(lines.contains("conversation.classified"), "{lines}");
    assert!(lines.contains("mentioned refund, invoice"), "{lines}");
    assert!(lines.contains(r#""team":{"id":"#), "{lines}");
    assert!(lines.contains(r#""rule":"skills_match""#), "{lines}");
    assert!(lines.contains(r#""topic_match":true"#), "{lines}");
}

#[test]
fn a_full_team_overflows_to_its_backup_team() {
    let w = World::new();
    let front = w.operator("Front", 1, "available");
    let back = w.operator("Back", 1, "available");
    let tier1 = w.team("Tier 1", &[front]);
    let tier2 = w.team("Tier 2", &[back]);
    w.set_team_routing(
        tier1,
        RoutingPatch {
            backup_team_id: Some(Some(tier2)),
            ..RoutingPatch::default()
        },
    );
    let chats: Vec<i64> = (0..3)
        .map(|_| {
            let c = w.chat(w.contact("{}"), "help");
            w.sql(
                "UPDATE conversations SET team_id = ?1 WHERE id = ?2",
                &[tier1.into(), c.into()],
            );
            c
        })
        .collect();
    let outcome = w.route();
    assert_eq!(w.assignee(chats[0]), Some(front));
    assert_eq!(w.assignee(chats[1]), Some(back));
    assert!(outcome.assigned[1].overflow);
    assert!(outcome.assigned[1].reason.contains("overflow to Tier 2"));
    assert_eq!(w.assignee(chats[2]), None, "both teams are full");
}

#[test]
fn a_returning_customer_goes_back_to_their_operator() {
    let w = World::new();
    let ann = w.operator("Ann", 3, "available");
    let bob = w.operator("Bob", 3, "available");
    let customer = w.contact("{}");
    let first = w.chat(customer, "hi");
    w.sql(
        "UPDATE conversations SET assignee_id = ?1, waiting_since = NULL, status = 'resolved'
          WHERE id = ?2",
        &[bob.into(), first.into()],
    );
    // Bob was assigned more recently than Ann, so round robin alone would pick Ann.
    w.sql(
        "UPDATE operators SET last_assigned_at = ?1 WHERE id = ?2",
        &[w.now().into(), bob.into()],
    );
    let again = w.chat(customer, "me again");
    let outcome = w.route();
    assert_eq!(w.assignee(again), Some(bob));
    assert_eq!(outcome.assigned[0].rule, Rule::Sticky);
    let _ = ann;
}

#[test]
fn no_answer_within_the_timeout_returns_it_to_the_queue_and_to_someone_else() {
    let w = World::new();
    let ann = w.operator("Ann", 3, "available");
    let bob = w.operator("Bob", 3, "available");
    let mut default = default_settings(w.db()).unwrap();
    default.answer_timeout_s = Some(30);
    default.stickiness_window_h = 0;
    save_default_settings(w.db(), &default).unwrap();
    let chat = w.chat(w.contact("{}"), "hello?");
    w.route();
    let first = w.assignee(chat).unwrap();
    let other = if first == ann { bob } else { ann };
    w.host.clock.advance(29_000);
    assert!(w.route().requeued.is_empty(), "not yet");
    w.host.clock.advance(2_000);
    // The first operator now has the lower load and the older assignment, and still is not
    // offered it again.
    let outcome = w.route();
    assert_eq!(outcome.requeued.len(), 1);
    assert!(outcome.requeued[0].reason.contains("no answer"));
    assert_eq!(w.assignee(chat), Some(other));
    // An answered conversation stays.
    w.operator_writes(chat, other);
    w.host.clock.advance(60_000);
    assert!(w.route().requeued.is_empty());
    assert_eq!(w.assignee(chat), Some(other));
}

#[test]
fn an_operator_who_goes_offline_hands_back_conversations_awaiting_a_reply() {
    let w = World::new();
    let ann = w.operator("Ann", 3, "available");
    let awaiting = w.chat(w.contact("{}"), "question");
    let answered = w.chat(w.contact("{}"), "question");
    w.route();
    assert_eq!(w.assignee(awaiting), Some(ann));
    w.operator_writes(answered, ann);
    crate::operator::set_presence(w.db(), ann, crate::operator::Presence::Offline, w.now())
        .unwrap();
    let bob = w.operator("Bob", 3, "available");
    w.host.clock.advance(SWEEP_INTERVAL_MS);
    let outcome = w.route();
    assert_eq!(outcome.requeued.len(), 1);
    assert!(outcome.requeued[0].reason.contains("Ann went offline"));
    assert_eq!(w.assignee(awaiting), Some(bob));
    assert_eq!(
        w.assignee(answered),
        Some(ann),
        "the customer is not waiting on Ann"
    );
}

#[test]
fn a_supervisors_assignment_to_someone_not_yet_online_is_left_alone() {
    let w = World::new();
    let ann = w.operator("Ann", 3, "offline");
    w.host.clock.advance(1000);
    let chat = w.chat(w.contact("{}"), "question");
    w.sql(
        "UPDATE conversations SET assignee_id = ?1, assigned_at = ?2, waiting_since = NULL
          WHERE id = ?3",
        &[ann.into(), w.now().into(), chat.into()],
    );
    w.host.clock.advance(SWEEP_INTERVAL_MS);
    assert!(w.route().requeued.is_empty());
    assert_eq!(w.assignee(chat), Some(ann));
}

#[test]
fn manual_routing_leaves_conversations_in_the_queue() {
    let w = World::new();
    w.operator("Ann", 3, "available");
    let mut default = default_settings(w.db()).unwrap();
    default.strategy = Strategy::Manual;
    save_default_settings(w.db(), &default).unwrap();
    let chat = w.chat(w.contact("{}"), "hi");
    assert!(w.route().assigned.is_empty());
    assert_eq!(w.assignee(chat), None);
}

#[test]
fn queue_position_and_an_honest_wait_estimate() {
    let w = World::new();
    let ann = w.operator("Ann", 1, "available");
    let chats: Vec<i64> = (0..3)
        .map(|_| {
            w.host.clock.advance(1000);
            w.chat(w.contact("{}"), "hi")
        })
        .collect();
    w.route();
    assert_eq!(w.assignee(chats[0]), Some(ann));
    let info = queue_info(w.db(), chats[0], w.now()).unwrap();
    assert!(!info.waiting);
    let second = queue_info(w.db(), chats[1], w.now()).unwrap();
    let third = queue_info(w.db(), chats[2], w.now()).unwrap();
    assert_eq!((second.position, third.position), (Some(1), Some(2)));
    assert_eq!(second.available_operators, 1);
    // No history yet: the default handle time, one slot.
    assert_eq!(second.basis, Some("default_handle_time"));
    assert_eq!(second.estimated_wait_s, Some(DEFAULT_HANDLE_TIME_S));
    assert_eq!(third.estimated_wait_s, Some(2 * DEFAULT_HANDLE_TIME_S));
    // Ann resolves after 4 minutes: recent handle times take over.
    w.host.clock.advance(240_000);
    crate::operator::heartbeat(w.db(), ann, w.now()).unwrap();
    w.resolve(chats[0]);
    let second = queue_info(w.db(), chats[1], w.now()).unwrap();
    assert_eq!(second.basis, Some("recent_handle_times"));
    assert_eq!(second.estimated_wait_s, Some(0), "a slot is free now");
    // Nobody available: no number at all rather than a made-up one.
    crate::operator::set_presence(w.db(), ann, crate::operator::Presence::Away, w.now()).unwrap();
    let third = queue_info(w.db(), chats[2], w.now()).unwrap();
    assert_eq!(
        (third.available_operators, third.estimated_wait_s),
        (0, None)
    );
}

#[test]
fn wait_estimates_scale_with_the_line_and_the_slots() {
    assert_eq!(estimate_wait_s(1, 1, 3, 600), Some(0));
    assert_eq!(estimate_wait_s(4, 0, 6, 600), Some(400));
    assert_eq!(estimate_wait_s(1, 0, 0, 600), None);
}

#[test]
fn routing_patches_are_checked() {
    let current = RoutingSettings::default();
    let bad = |patch: RoutingPatch| current.apply(&patch).is_err();
    assert!(bad(RoutingPatch {
        strategy: Some("random".into()),
        ..RoutingPatch::default()
    }));
    assert!(bad(RoutingPatch {
        answer_timeout_s: Some(Some(0)),
        ..RoutingPatch::default()
    }));
    assert!(bad(RoutingPatch {
        skill_wait_s: Some(-1),
        ..RoutingPatch::default()
    }));
    let patched = current
        .apply(&RoutingPatch {
            answer_timeout_s: Some(Some(45)),
            ..RoutingPatch::default()
        })
        .unwrap()
        .apply(&RoutingPatch {
            answer_timeout_s: Some(None),
            strategy: Some("round_robin".into()),
            ..RoutingPatch::default()
        })
        .unwrap();
    assert_eq!(patched.answer_timeout_s, None);
    assert_eq!(patched.strategy, Strategy::RoundRobin);
}

#[test]
fn callers_skip_the_router_when_a_pass_could_do_nothing() {
    let w = World::new();
    let ctx = w.host.ctx();
    assert!(!pass_needed(&ctx, Sweep::Skip), "nothing waits");
    let ann = w.operator("Ann", 1, "available");
    let first = w.chat(w.contact("{}"), "hi");
    assert!(
        pass_needed(&ctx, Sweep::Skip),
        "a conversation to classify and assign"
    );
    w.route();
    assert_eq!(w.assignee(first), Some(ann));
    let second = w.chat(w.contact("{}"), "hi");
    w.route();
    assert_eq!(w.assignee(second), None, "Ann is full");
    assert!(
        !pass_needed(&ctx, Sweep::Skip),
        "classified, and nobody has room"
    );
    assert!(!message_needs_pass(w.db(), second, w.now()).unwrap());
    assert!(pass_needed(&ctx, Sweep::Now));
    w.resolve(first);
    assert!(pass_needed(&ctx, Sweep::Skip), "Ann has room again");
    assert!(message_needs_pass(w.db(), second, w.now()).unwrap());
    assert!(
        !message_needs_pass(w.db(), first, w.now()).unwrap(),
        "not waiting"
    );
}

#[test]
fn an_operator_marked_offline_but_working_keeps_what_they_took() {
    let w = World::new();
    let ann = w.operator("Ann", 3, "offline");
    let chat = w.chat(w.contact("{}"), "question");
    w.sql(
        "UPDATE conversations SET assignee_id = ?1, assigned_at = ?2, waiting_since = NULL
          WHERE id = ?3",
        &[ann.into(), w.now().into(), chat.into()],
    );
    // Her console keeps checking in; she never chose a presence.
    for _ in 0..3 {
        w.host.clock.advance(30_000);
        crate::operator::heartbeat(w.db(), ann, w.now()).unwrap();
        assert!(w.route().requeued.is_empty());
    }
    assert_eq!(w.assignee(chat), Some(ann));
}

#[test]
fn a_customer_reopening_with_an_operator_at_capacity_waits_in_the_queue_instead() {
    let w = World::new();
    let ann = w.operator("Ann", 1, "available");
    let customer = w.contact("{}");
    let old = w.chat(customer, "first question");
    w.route();
    assert_eq!(w.assignee(old), Some(ann));
    w.resolve(old);
    let busy = w.chat(w.contact("{}"), "someone else");
    w.route();
    assert_eq!(w.assignee(busy), Some(ann), "Ann is at capacity (1 of 1)");

    // The first customer writes again: Ann has no room, so it queues rather than reopening
    // with her over capacity, and the timeline says why.
    w.host.clock.advance(1000);
    w.visitor_writes(old, "one more thing");
    assert_eq!(w.assignee(old), None);
    let (status, waiting) = {
        let row = w.sql(
            "SELECT status, waiting_since FROM conversations WHERE id = ?1",
            &[old.into()],
        );
        let row = row.first().unwrap();
        (
            row.str("status").unwrap().to_owned(),
            row.opt_i64("waiting_since").unwrap(),
        )
    };
    assert_eq!((status.as_str(), waiting), ("open", Some(w.now())));
    let timeline = w.timeline(old);
    let line = timeline
        .iter()
        .find(|l| l.contains("Ann was at capacity"))
        .unwrap_or_else(|| panic!("{timeline:#?}"));
    assert!(line.starts_with("conversation.assigned"), "{line}");
    assert!(line.contains(r#""to":null"#), "{line}");
    assert!(w.route().assigned.is_empty(), "still no room");

    // Once Ann has room, the router gives it back to her (stickiness).
    w.resolve(busy);
    w.route();
    assert_eq!(w.assignee(old), Some(ann));

    // With room, a reopening stays with its operator as before.
    w.resolve(old);
    w.visitor_writes(old, "and another");
    assert_eq!(w.assignee(old), Some(ann));
}

#[test]
fn a_plan_made_on_a_stale_snapshot_is_refused_by_the_guards_and_made_again() {
    let w = World::new();
    let ann = w.operator("Ann", 1, "available");
    let bob = w.operator("Bob", 1, "available");
    let first = w.chat(w.contact("{}"), "first");
    w.host.clock.advance(1000);
    let second = w.chat(w.contact("{}"), "second");
    let (teams, default) = (
        team_settings(w.db()).unwrap(),
        default_settings(w.db()).unwrap(),
    );
    let planned = plan_assignments(w.db(), w.now(), &teams, &default).unwrap();
    assert_eq!(planned.len(), 2, "one each");
    assert_eq!(planned[0].conversation_id, first);
    let bob_planned_second = planned[1].to.id == bob;
    // Between the plan and its writes, Bob answered the first conversation himself (a reply
    // to an unassigned conversation claims it), which fills him up.
    w.operator_writes(first, bob);
    assert_eq!(w.assignee(first), Some(bob));
    let mut outcome = Outcome::default();
    let mut appended = Vec::new();
    let applied: Vec<bool> = planned
        .into_iter()
        .map(|p| apply_assignment(w.db(), w.now(), p, &mut outcome, &mut appended).unwrap())
        .collect();
    // The first conversation moved (version guard), and if the plan gave Bob the second one he
    // has no room for it now (capacity guard): refused, and nothing recorded for them.
    assert!(!applied[0]);
    assert_eq!(applied[1], !bob_planned_second);
    assert_eq!(w.assignee(first), Some(bob));
    assert_eq!(
        outcome.assigned.len(),
        applied.iter().filter(|a| **a).count()
    );
    // A full pass plans again and leaves nobody over capacity.
    w.route();
    assert_eq!(w.assignee(first), Some(bob));
    assert_eq!(w.assignee(second), Some(ann));
    for operator in [ann, bob] {
        assert_eq!(conversation::load(w.db(), operator).unwrap(), 1);
    }
}
