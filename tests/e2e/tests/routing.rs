//! Routing through the real components: widget-api, inbox-api and admin-api call the private
//! `router` component by service chaining, which assigns waiting conversations.

use std::time::Duration;

use e2e::{Operator, TestApp, Visitor, spawn_app};
use futures::future::join_all;
use serde_json::{Value, json};

async fn available(app: &TestApp, name: &str) -> Operator {
    let operator = app.staff("operator", name).await;
    set_presence(&operator, "available").await;
    operator
}

async fn set_presence(operator: &Operator, presence: &str) {
    let reply = operator
        .post("/presence", json!({ "presence": presence }))
        .await;
    assert_eq!(reply.status, 200, "presence: {}", reply.text);
}

async fn admin_patch(app: &TestApp, path: &str, body: Value) -> Value {
    let admin = app.operator().await;
    let reply = admin
        .call("PATCH", &format!("/admin{path}"), Some(body))
        .await;
    assert_eq!(reply.status, 200, "PATCH {path}: {}", reply.text);
    reply.body
}

async fn admin_post(app: &TestApp, path: &str, body: Value) -> Value {
    let admin = app.operator().await;
    let reply = admin.admin_post(path, body).await;
    assert_eq!(reply.status, 201, "POST {path}: {}", reply.text);
    reply.body
}

async fn waiting_visitor(app: &TestApp, text: &str) -> Visitor {
    let visitor = app.visitor().await;
    assert_eq!(visitor.say(text).await.status, 201);
    visitor
}

async fn assignee(operator: &Operator, conversation_id: i64) -> Option<i64> {
    operator.conversation(conversation_id).await["assignee"]["id"].as_i64()
}

/// The conversation's routing entries (assignments by the system, classifications), in order.
async fn routing_timeline(operator: &Operator, conversation_id: i64) -> Vec<Value> {
    let thread = operator
        .get(&format!("/conversations/{conversation_id}"))
        .await;
    thread.body["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .filter(|e| {
            e["kind"] == "conversation.classified"
                || (e["kind"] == "conversation.assigned" && e["data"]["by"].is_null())
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_new_conversation_goes_to_an_available_operator_and_the_timeline_says_why() {
    let app = spawn_app().await;
    let away = app.staff("operator", "Away Amy").await;
    set_presence(&away, "away").await;
    let ann = available(&app, "Ann").await;
    let visitor = waiting_visitor(&app, "Hello, anyone there?").await;
    let id = visitor.conversation_id;

    // Routing ran before the visitor's POST returned.
    assert_eq!(assignee(&ann, id).await, Some(ann.id));
    let entries = routing_timeline(&ann, id).await;
    let assigned = entries.last().expect("a routing decision");
    assert_eq!(assigned["data"]["to"]["id"], ann.id);
    assert_eq!(assigned["data"]["rule"], "least_loaded");
    assert!(
        assigned["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("lowest load"),
        "{assigned}"
    );
    // The visitor is no longer in the queue.
    let queue = visitor.queue().await;
    assert_eq!(queue.status, 200, "{}", queue.text);
    assert_eq!(queue.body["waiting"], false);
    assert_eq!(queue.body["position"], Value::Null);
}

#[tokio::test]
async fn away_and_offline_operators_never_receive_chats_and_visitors_are_told_honestly() {
    let app = spawn_app().await;
    let amy = app.staff("operator", "Amy").await;
    set_presence(&amy, "away").await;
    let olaf = app.staff("operator", "Olaf").await;
    set_presence(&olaf, "offline").await;
    let first = waiting_visitor(&app, "first").await;
    let second = waiting_visitor(&app, "second").await;
    for visitor in [&first, &second] {
        assert_eq!(assignee(&amy, visitor.conversation_id).await, None);
    }
    let queue = second.queue().await;
    assert_eq!(queue.body["waiting"], true);
    assert_eq!(queue.body["position"], 2);
    assert_eq!(queue.body["available_operators"], 0);
    assert_eq!(
        queue.body["estimated_wait_s"],
        Value::Null,
        "no number without anyone to serve it"
    );

    // Amy becomes available: her presence change routes the queue, longest waiting first,
    // up to her capacity (1).
    let admin = app.operator().await;
    admin
        .call(
            "PATCH",
            &format!("/admin/operators/{}", amy.id),
            Some(json!({ "capacity": 1 })),
        )
        .await;
    set_presence(&amy, "available").await;
    assert_eq!(assignee(&amy, first.conversation_id).await, Some(amy.id));
    assert_eq!(assignee(&amy, second.conversation_id).await, None);
    let queue = second.queue().await;
    assert_eq!(queue.body["position"], 1);
    assert_eq!(queue.body["available_operators"], 1);
    assert_eq!(queue.body["basis"], "default_handle_time");
    assert_eq!(
        queue.body["estimated_wait_s"], 600,
        "one slot, default handle time"
    );
    // The assistant reads the same from the router.
    let (status, internal) = app
        .call_internal(
            "router",
            http::Method::GET,
            &format!("/queue/{}", second.conversation_id),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(internal, queue.body);
    // And the outside world cannot reach the router at all.
    assert_eq!(app.get("/route").await.status, 404);
    assert_eq!(app.get("/queue/1").await.status, 404);
}

#[tokio::test]
async fn freed_capacity_goes_to_the_most_urgent_then_longest_waiting_conversation_at_once() {
    let app = spawn_app().await;
    admin_post(
        &app,
        "/topics",
        json!({ "name": "outage", "label": "Something is down", "priority": 2,
                "keywords": ["down", "outage"], "in_picker": false }),
    )
    .await;
    let ann = available(&app, "Ann").await;
    admin_patch(
        &app,
        &format!("/operators/{}", ann.id),
        json!({ "capacity": 1 }),
    )
    .await;
    let current = waiting_visitor(&app, "a question").await;
    assert_eq!(assignee(&ann, current.conversation_id).await, Some(ann.id));
    let patient = waiting_visitor(&app, "another question").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let urgent = waiting_visitor(&app, "Your site is down!").await;
    let urgent_view = ann.conversation(urgent.conversation_id).await;
    assert_eq!(urgent_view["priority"], 2);
    assert_eq!(urgent_view["topic"], "outage");
    assert_eq!(
        urgent.queue().await.body["position"],
        1,
        "urgent jumps the line"
    );
    assert_eq!(patient.queue().await.body["position"], 2);

    let id = current.conversation_id;
    let version = ann.conversation(id).await["version"].clone();
    let resolved = ann
        .post(
            &format!("/conversations/{id}/status"),
            json!({ "status": "resolved", "version": version }),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.text);
    assert_eq!(assignee(&ann, urgent.conversation_id).await, Some(ann.id));
    assert_eq!(assignee(&ann, patient.conversation_id).await, None);
    let entries = routing_timeline(&ann, urgent.conversation_id).await;
    assert_eq!(entries[0]["kind"], "conversation.classified");
    assert!(
        entries[0]["data"]["because"]
            .as_str()
            .unwrap()
            .contains("mentioned down"),
        "{}",
        entries[0]
    );
}

#[tokio::test]
async fn the_topic_picker_sends_a_conversation_to_the_skilled_operator_of_its_team() {
    let app = spawn_app().await;
    let generalist = available(&app, "Gina").await;
    let expert = available(&app, "Eve").await;
    admin_patch(
        &app,
        &format!("/operators/{}", expert.id),
        json!({ "skills": [{ "skill": "billing", "level": 5 }], "languages": ["de"] }),
    )
    .await;
    let team = admin_post(
        &app,
        "/teams",
        json!({ "name": "Billing", "member_ids": [generalist.id, expert.id],
                "routing": { "strategy": "skills" } }),
    )
    .await;
    assert_eq!(team["team"]["routing"]["strategy"], "skills");
    let team_id = team["team"]["id"].as_i64().unwrap();
    admin_post(
        &app,
        "/topics",
        json!({ "name": "billing", "label": "Billing & invoices", "team_id": team_id }),
    )
    .await;
    let topics = app.get("/api/widget/topics").await;
    assert_eq!(
        topics.body["topics"],
        json!([{ "name": "billing", "label": "Billing & invoices" }])
    );
    let bad = app
        .post_raw(
            "/api/widget/conversations",
            "application/json",
            br#"{"topic":"astrology"}"#.to_vec(),
            None,
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);

    let visitor = app
        .visitor_with(json!({ "topic": "billing", "language": "de-AT" }))
        .await;
    assert_eq!(visitor.say("Hallo").await.status, 201);
    let id = visitor.conversation_id;
    let view = expert.conversation(id).await;
    assert_eq!(view["team"]["id"], team_id);
    assert_eq!(view["language"], "de-AT");
    assert_eq!(view["assignee"]["id"], expert.id);
    let entries = routing_timeline(&expert, id).await;
    assert_eq!(entries[0]["data"]["because"], "chosen by the customer");
    assert_eq!(entries[1]["data"]["rule"], "skills_match");
}

#[tokio::test]
async fn a_full_team_overflows_to_its_backup_team() {
    let app = spawn_app().await;
    let front = available(&app, "Fran").await;
    let back = available(&app, "Bert").await;
    for operator in [&front, &back] {
        admin_patch(
            &app,
            &format!("/operators/{}", operator.id),
            json!({ "capacity": 1 }),
        )
        .await;
    }
    let tier2 = admin_post(
        &app,
        "/teams",
        json!({ "name": "Tier 2", "member_ids": [back.id] }),
    )
    .await["team"]["id"]
        .as_i64()
        .unwrap();
    let tier1 = admin_post(
        &app,
        "/teams",
        json!({ "name": "Tier 1", "member_ids": [front.id],
                "routing": { "backup_team_id": tier2 } }),
    )
    .await["team"]["id"]
        .as_i64()
        .unwrap();
    let self_backup = app
        .operator()
        .await
        .call(
            "PATCH",
            &format!("/admin/teams/{tier1}"),
            Some(json!({ "routing": { "backup_team_id": tier1 } })),
        )
        .await;
    assert_eq!(self_backup.status, 400, "{}", self_backup.text);
    admin_post(
        &app,
        "/topics",
        json!({ "name": "help", "label": "Help", "team_id": tier1, "keywords": ["help"] }),
    )
    .await;
    let one = waiting_visitor(&app, "help one").await;
    let two = waiting_visitor(&app, "help two").await;
    assert_eq!(assignee(&front, one.conversation_id).await, Some(front.id));
    assert_eq!(assignee(&front, two.conversation_id).await, Some(back.id));
    let entries = routing_timeline(&front, two.conversation_id).await;
    let decision = entries.last().unwrap();
    assert_eq!(decision["data"]["overflow"], true);
    assert!(
        decision["data"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("overflow to Tier 2"),
        "{decision}"
    );
}

#[tokio::test]
async fn an_unanswered_conversation_is_rerouted_and_an_operator_going_offline_hands_back() {
    let app = spawn_app().await;
    admin_patch(
        &app,
        "/routing",
        json!({ "answer_timeout_s": 1, "stickiness_window_h": 0 }),
    )
    .await;
    let ann = available(&app, "Ann").await;
    let visitor = waiting_visitor(&app, "hello?").await;
    let id = visitor.conversation_id;
    assert_eq!(assignee(&ann, id).await, Some(ann.id));
    let bob = available(&app, "Bob").await;

    // Ann does not answer. Past the timeout and the sweep interval, a heartbeat runs the checks.
    // (Heartbeats repeat, as consoles send them, so a slow machine does not fail the test; the
    // checks still must happen within a few intervals.)
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        assert_eq!(bob.post("/heartbeat", json!({})).await.status, 204);
        if assignee(&bob, id).await == Some(bob.id) || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(assignee(&bob, id).await, Some(bob.id));
    let entries = routing_timeline(&bob, id).await;
    let requeued = entries
        .iter()
        .find(|e| e["kind"] == "conversation.assigned" && e["data"]["to"].is_null())
        .expect("a return to the queue");
    assert_eq!(requeued["data"]["from"]["id"], ann.id);
    assert_eq!(
        requeued["data"]["reason"],
        "no answer from Ann within 1 s; back to the queue"
    );

    // Bob answers, then the customer writes again and Bob goes offline: it goes back to Ann.
    assert_eq!(bob.reply(id, "Hi, Bob here").await.status, 201);
    assert_eq!(visitor.say("thanks, one more thing").await.status, 201);
    set_presence(&bob, "offline").await;
    assert_eq!(assignee(&ann, id).await, Some(ann.id));
    let last = routing_timeline(&ann, id).await;
    assert!(
        last.iter()
            .any(|e| e["data"]["reason"] == "Bob went offline; back to the queue"),
        "{last:?}"
    );
}

/// Counts what must never happen, straight from the database: conversations assigned twice
/// without a return to the queue in between, operators over capacity, and conversations waiting
/// while an available operator has room.
fn invariant_violations(app: &TestApp) -> (i64, i64, i64, i64) {
    let db = rusqlite::Connection::open(app.database()).expect("the app's database");
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).expect(sql) };
    // Every assignment event must follow a state where the conversation had no assignee: walking
    // each conversation's assignment events in order, "to" may only be set after a null.
    let double_assignments = count(
        "SELECT COUNT(*) FROM (
            SELECT conversation_id, json_extract(data, '$.to.id') AS to_id,
                   LAG(json_extract(data, '$.to.id')) OVER (PARTITION BY conversation_id ORDER BY id) AS before
              FROM events WHERE kind = 'conversation.assigned')
          WHERE to_id IS NOT NULL AND before IS NOT NULL",
    );
    let over_capacity = count(
        "SELECT COUNT(*) FROM operators o
          WHERE (SELECT COUNT(*) FROM conversations c
                  WHERE c.assignee_id = o.id AND c.status IN ('open', 'pending')) > o.capacity",
    );
    let idle_slots = count(
        "SELECT COALESCE(SUM(o.capacity - (SELECT COUNT(*) FROM conversations c
                  WHERE c.assignee_id = o.id AND c.status IN ('open', 'pending'))), 0)
           FROM operators o WHERE o.presence = 'available' AND o.active = 1",
    );
    let waiting = count(
        "SELECT COUNT(*) FROM conversations
          WHERE status = 'open' AND assignee_id IS NULL AND waiting_since IS NOT NULL",
    );
    (double_assignments, over_capacity, idle_slots, waiting)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_routing_requests_keep_every_invariant() {
    let app = spawn_app().await;
    const OPERATORS: usize = 20;
    const CAPACITY: i64 = 3;
    const VISITORS: usize = 200;
    let mut operators = Vec::new();
    for i in 0..OPERATORS {
        let operator = available(&app, &format!("Op {i}")).await;
        operators.push(operator);
    }
    let visitors: Vec<Visitor> = join_all((0..VISITORS).map(|_| app.visitor())).await;

    // 200 first messages at once: each one's POST asks the router for a pass.
    let replies = join_all(visitors.iter().map(|v| v.say("hello"))).await;
    assert!(
        replies.iter().all(|r| r.status == 201),
        "every message stored"
    );
    let slots = OPERATORS as i64 * CAPACITY;
    let (double, over, idle, waiting) = invariant_violations(&app);
    assert_eq!(
        (double, over),
        (0, 0),
        "no double assignment, no one over capacity"
    );
    assert_eq!(idle, 0, "nobody has room while conversations wait");
    assert_eq!(waiting, VISITORS as i64 - slots);

    // Every operator resolves everything they have, all at once: each resolve asks for a pass,
    // and the freed seats go to the waiting conversations.
    let resolves = join_all(operators.iter().map(|operator| async move {
        let mine = operator.get("/conversations?assignee=me&status=open").await;
        let mut statuses = Vec::new();
        for conversation in mine.body["conversations"].as_array().unwrap() {
            let id = conversation["id"].as_i64().unwrap();
            let reply = operator
                .post(
                    &format!("/conversations/{id}/status"),
                    json!({ "status": "resolved", "version": conversation["version"] }),
                )
                .await;
            statuses.push(reply.status);
        }
        statuses
    }))
    .await;
    let resolved = resolves.iter().flatten().filter(|s| **s == 200).count() as i64;
    assert_eq!(resolved, slots, "each operator resolved a full load");
    let (double, over, idle, waiting) = invariant_violations(&app);
    assert_eq!((double, over), (0, 0));
    assert_eq!(idle, 0);
    assert_eq!(waiting, VISITORS as i64 - 2 * slots);
}

#[tokio::test]
async fn a_returning_customer_goes_back_to_their_previous_operator() {
    let app = spawn_app().await;
    let ann = available(&app, "Ann").await;
    let bob = available(&app, "Bob").await;
    let visitor = waiting_visitor(&app, "first visit").await;
    let first = visitor.conversation_id;
    let theirs = assignee(&ann, first).await.expect("assigned");
    let (previous, other) = if theirs == ann.id {
        (&ann, &bob)
    } else {
        (&bob, &ann)
    };
    let version = previous.conversation(first).await["version"].clone();
    let resolved = previous
        .post(
            &format!("/conversations/{first}/status"),
            json!({ "status": "resolved", "version": version }),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.text);

    // Both are free now, and round robin or least loaded would pick the other one (assigned
    // less recently); the returning customer still goes back to their operator.
    let again = app
        .post_raw(
            "/api/widget/conversations",
            "application/json",
            b"{}".to_vec(),
            Some(&visitor.token),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.text);
    let second = again.body["conversation"]["id"].as_i64().unwrap();
    let returning = visitor.in_conversation(second);
    assert_eq!(returning.say("back again").await.status, 201);
    assert_eq!(assignee(previous, second).await, Some(previous.id));
    let decision = routing_timeline(previous, second).await.pop().unwrap();
    assert_eq!(decision["data"]["rule"], "sticky");
    let _ = other;
}

#[tokio::test]
async fn routing_settings_topics_and_queue_reject_bad_input_clearly() {
    let app = spawn_app().await;
    let admin = app.operator().await;
    for (method, path, body, field) in [
        (
            "PATCH",
            "/admin/routing",
            json!({ "strategy": "random" }),
            "strategy",
        ),
        (
            "PATCH",
            "/admin/routing",
            json!({ "answer_timeout_s": 0 }),
            "answer_timeout_s",
        ),
        (
            "PATCH",
            "/admin/routing",
            json!({ "backup_team_id": 999 }),
            "backup_team_id",
        ),
        (
            "POST",
            "/admin/topics",
            json!({ "name": "no spaces please" }),
            "name",
        ),
        (
            "POST",
            "/admin/topics",
            json!({ "name": "x", "pages": ["pricing"] }),
            "pages",
        ),
        (
            "POST",
            "/admin/topics",
            json!({ "name": "x", "team_id": 999 }),
            "team_id",
        ),
    ] {
        let reply = admin.call(method, path, Some(body.clone())).await;
        assert_eq!(reply.status, 400, "{method} {path} {body}: {}", reply.text);
        assert_eq!(reply.error_code(), "invalid_input");
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{}",
            reply.text
        );
    }
    let unknown = admin
        .call("PATCH", "/admin/routing", Some(json!({ "speed": "fast" })))
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    let bad_language = app
        .post_raw(
            "/api/widget/conversations",
            "application/json",
            br#"{"language":"english please"}"#.to_vec(),
            None,
        )
        .await;
    assert_eq!(bad_language.status, 400, "{}", bad_language.text);
    // Someone else's queue place is as invisible as their conversation.
    let mine = waiting_visitor(&app, "hi").await;
    let theirs = waiting_visitor(&app, "hello").await;
    let snoop = mine.in_conversation(theirs.conversation_id);
    assert_eq!(snoop.queue().await.status, 404);
}

#[tokio::test]
async fn a_transfer_to_the_team_goes_to_someone_else_in_it() {
    let app = spawn_app().await;
    let ann = available(&app, "Ann").await;
    let visitor = waiting_visitor(&app, "question").await;
    let id = visitor.conversation_id;
    assert_eq!(assignee(&ann, id).await, Some(ann.id));
    let bob = available(&app, "Bob").await;
    let team = admin_post(
        &app,
        "/teams",
        json!({ "name": "Support", "member_ids": [ann.id, bob.id] }),
    )
    .await["team"]["id"]
        .as_i64()
        .unwrap();
    // Bob is busier than Ann after the transfer, and it still does not bounce back to Ann.
    let other = waiting_visitor(&app, "another").await;
    assert_eq!(assignee(&bob, other.conversation_id).await, Some(bob.id));
    let version = ann.conversation(id).await["version"].clone();
    let moved = ann
        .post(
            &format!("/conversations/{id}/transfer"),
            json!({ "team_id": team, "reason": "needs a second opinion", "version": version }),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(assignee(&ann, id).await, Some(bob.id));
}
