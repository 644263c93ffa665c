//! The operator inbox through the real components: notes, tags, transfers, statuses, assignment
//! and capacity, contacts, canned responses, mentions, search, the queue, and what must never
//! reach the visitor.

use std::time::Duration;

use e2e::{Operator, TestApp, Visitor, collect_events, spawn_app};
use serde_json::{Value, json};

async fn tag(app: &TestApp, name: &str) -> i64 {
    let admin = app.operator().await;
    let reply = admin.admin_post("/tags", json!({ "name": name })).await;
    assert_eq!(reply.status, 201, "create tag: {}", reply.text);
    reply.body["tag"]["id"].as_i64().expect("a tag id")
}

async fn team(app: &TestApp, name: &str, members: &[i64]) -> i64 {
    let admin = app.operator().await;
    let reply = admin
        .admin_post("/teams", json!({ "name": name, "member_ids": members }))
        .await;
    assert_eq!(reply.status, 201, "create team: {}", reply.text);
    reply.body["team"]["id"].as_i64().expect("a team id")
}

async fn version(operator: &Operator, conversation_id: i64) -> i64 {
    operator.conversation(conversation_id).await["version"]
        .as_i64()
        .expect("a version")
}

/// A visitor who has written `text`, so their conversation waits in the queue.
async fn waiting_visitor(app: &TestApp, text: &str) -> Visitor {
    let visitor = app.visitor().await;
    assert_eq!(visitor.say(text).await.status, 201);
    visitor
}

#[tokio::test]
async fn notes_tags_and_transfer_reasons_never_reach_the_visitor() {
    let app = spawn_app().await;
    let ann = app.staff("operator", "Ann Lee").await;
    let bob = app.staff("operator", "Bob Stone").await;
    let billing = team(&app, "Billing", &[bob.id]).await;
    let vip = tag(&app, "vip-secret-tag").await;
    let visitor = waiting_visitor(&app, "My invoice is wrong").await;
    let id = visitor.conversation_id;

    assert_eq!(ann.reply(id, "Let me look").await.status, 201);
    let note = ann
        .post(
            &format!("/conversations/{id}/notes"),
            json!({ "body": "internal-note-text: @bob.stone.operator please check refunds" }),
        )
        .await;
    assert_eq!(note.status, 201, "{}", note.text);
    assert_eq!(note.body["note"]["mentions"][0]["id"], bob.id);
    let tagged = ann
        .post(
            &format!("/conversations/{id}/tags"),
            json!({ "tag_id": vip }),
        )
        .await;
    assert_eq!(tagged.status, 200, "{}", tagged.text);
    assert_eq!(tagged.body["tags"][0]["name"], "vip-secret-tag");
    let transfer = ann
        .post(
            &format!("/conversations/{id}/transfer"),
            json!({
                "team_id": billing,
                "reason": "secret-transfer-reason: refund over limit",
                "version": version(&ann, id).await,
            }),
        )
        .await;
    assert_eq!(transfer.status, 200, "{}", transfer.text);
    assert_eq!(transfer.body["conversation"]["assignee"], Value::Null);
    assert_eq!(transfer.body["conversation"]["team"]["name"], "Billing");

    // The receiver sees the whole history and why it came.
    let thread = bob.get(&format!("/conversations/{id}")).await;
    assert_eq!(thread.status, 200);
    let timeline = thread.body["timeline"].to_string();
    for expected in [
        "internal-note-text",
        "secret-transfer-reason",
        "vip-secret-tag",
    ] {
        assert!(
            timeline.contains(expected),
            "{expected} missing: {timeline}"
        );
    }
    assert!(
        thread.body["messages"]
            .to_string()
            .contains("My invoice is wrong")
    );

    // The visitor sees the notice, and nothing internal: not in the snapshot, not in events.
    let snapshot = visitor.load().await;
    let (events, _) = collect_events(
        |after| visitor.events(after, 0),
        0,
        Duration::from_secs(5),
        |_| false,
    )
    .await;
    let events = Value::Array(events).to_string();
    for seen_by_visitor in [&snapshot.text, &events] {
        assert!(
            seen_by_visitor.contains("passed your conversation to our Billing team"),
            "no transfer notice: {seen_by_visitor}"
        );
        for secret in [
            "internal-note-text",
            "secret-transfer-reason",
            "vip-secret-tag",
            "note.created",
            "conversation.transferred",
            "conversation.tagged",
        ] {
            assert!(
                !seen_by_visitor.contains(secret),
                "the visitor saw {secret}: {seen_by_visitor}"
            );
        }
    }

    // Bob was mentioned: it is in his mentions, unread until he reads it.
    let mentions = bob.get("/mentions").await;
    assert_eq!(mentions.body["unread_count"], 1, "{}", mentions.text);
    let note_id = mentions.body["mentions"][0]["note"]["id"].as_i64().unwrap();
    assert_eq!(mentions.body["mentions"][0]["conversation_id"], id);
    assert_eq!(
        bob.post("/mentions/read", json!({ "note_id": note_id }))
            .await
            .status,
        204
    );
    assert_eq!(bob.get("/mentions").await.body["unread_count"], 0);
    assert_eq!(ann.get("/mentions").await.body["unread_count"], 0);
}

#[tokio::test]
async fn two_operators_replying_at_once_leave_one_assignee_and_a_409() {
    let app = spawn_app().await;
    let ann = app.staff("operator", "Ann").await;
    let bob = app.staff("operator", "Bob").await;
    let admin = app.operator().await;
    for operator in [&ann, &bob] {
        // Room for every round: this test is about the race, not capacity.
        admin
            .admin_patch(
                &format!("/operators/{}", operator.id),
                json!({ "capacity": 10 }),
            )
            .await;
    }
    for round in 0..5 {
        let visitor = waiting_visitor(&app, "Anyone there?").await;
        let id = visitor.conversation_id;
        let (ann_text, bob_text) = (format!("Ann here {round}"), format!("Bob here {round}"));
        let (a, b) = tokio::join!(ann.reply(id, &ann_text), bob.reply(id, &bob_text));
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409], "{} / {}", a.text, b.text);
        let loser = if a.status == 409 { &a } else { &b };
        assert_eq!(loser.error_code(), "assigned_elsewhere");
        let winner_id = if a.status == 201 { ann.id } else { bob.id };
        let conversation = ann.conversation(id).await;
        assert_eq!(conversation["assignee"]["id"], winner_id);
        let snapshot = visitor.load().await;
        let operator_messages = snapshot.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["author"] == "operator")
            .count();
        assert_eq!(operator_messages, 1, "the refused reply was stored");
    }
}

#[tokio::test]
async fn racing_resolve_and_transfer_one_wins_and_the_other_gets_the_current_state() {
    let app = spawn_app().await;
    let sue = app.staff("supervisor", "Sue").await;
    let sam = app.staff("supervisor", "Sam").await;
    let ann = app.staff("operator", "Ann").await;
    let visitor = waiting_visitor(&app, "Help").await;
    let id = visitor.conversation_id;
    let seen = version(&sue, id).await;
    let (status_path, transfer_path) = (
        format!("/conversations/{id}/status"),
        format!("/conversations/{id}/transfer"),
    );
    let (resolve, transfer) =
        tokio::join!(
        sue.post(&status_path, json!({ "status": "resolved", "version": seen })),
        sam.post(
            &transfer_path,
            json!({ "operator_id": ann.id, "reason": "she knows this customer", "version": seen })
        ),
    );
    let mut statuses = [resolve.status, transfer.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} / {}", resolve.text, transfer.text);
    let loser = if resolve.status == 409 {
        &resolve
    } else {
        &transfer
    };
    assert_eq!(loser.error_code(), "stale_version");
    let current = &loser.body["error"]["conversation"];
    let now = sue.conversation(id).await;
    assert_eq!(current["version"], now["version"]);
    assert_eq!(now["version"], seen + 1, "exactly one change applied");
    if resolve.status == 200 {
        assert_eq!(now["status"], "resolved");
        assert_eq!(now["assignee"], Value::Null);
    } else {
        assert_eq!(now["status"], "open");
        assert_eq!(now["assignee"]["id"], ann.id);
    }
}

#[tokio::test]
async fn statuses_are_recorded_and_the_customer_writing_reopens() {
    let app = spawn_app().await;
    let ann = app.staff("operator", "Ann").await;
    let visitor = waiting_visitor(&app, "Question").await;
    let id = visitor.conversation_id;
    assert_eq!(ann.reply(id, "Answer").await.status, 201);

    let set = |status: &str, extra: Value| {
        let ann = ann.clone();
        let status = status.to_owned();
        async move {
            let mut body = json!({ "status": status, "version": version(&ann, id).await });
            if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
                body.extend(extra.clone());
            }
            ann.post(&format!("/conversations/{id}/status"), body).await
        }
    };
    let pending = set("pending", json!({ "reason": "asked for order number" })).await;
    assert_eq!(pending.status, 200, "{}", pending.text);
    assert_eq!(pending.body["conversation"]["status"], "pending");
    // The visitor never sees the team's internal states.
    assert_eq!(visitor.load().await.body["conversation"]["status"], "open");
    assert_eq!(set("pending", json!({})).await.error_code(), "no_change");
    assert_eq!(
        set("snoozed", json!({ "snoozed_until": 1 }))
            .await
            .error_code(),
        "invalid_input"
    );
    let listing = ann.get("/conversations?status=pending").await;
    assert_eq!(listing.body["conversations"][0]["id"], id);

    let resolved = set("resolved", json!({})).await;
    assert_eq!(resolved.status, 200);
    assert_eq!(visitor.say("One more thing").await.status, 201);
    let reopened = ann.conversation(id).await;
    assert_eq!(reopened["status"], "open");

    // A snooze wakes up by itself once its time has passed (on the next heartbeat or listing).
    let until = chrono_now_ms() + 1_500;
    let snoozed = set("snoozed", json!({ "snoozed_until": until })).await;
    assert_eq!(snoozed.status, 200, "{}", snoozed.text);
    assert_eq!(snoozed.body["conversation"]["snoozed_until"], until);
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    assert_eq!(ann.post("/heartbeat", json!({})).await.status, 204);
    assert_eq!(ann.conversation(id).await["status"], "open");

    let timeline = ann.get(&format!("/conversations/{id}")).await.body["timeline"].clone();
    let changes: Vec<(String, String, String)> = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "conversation.status")
        .map(|e| {
            (
                e["data"]["to"].as_str().unwrap_or_default().to_owned(),
                e["data"]["by"]["name"]
                    .as_str()
                    .unwrap_or("system")
                    .to_owned(),
                e["data"]["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("pending", "Ann", "asked for order number"),
        ("resolved", "Ann", ""),
        ("open", "system", "the customer wrote again"),
        ("snoozed", "Ann", ""),
        ("open", "system", "the snooze ended"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect();
    assert_eq!(changes, expected);
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[tokio::test]
async fn replying_claims_only_within_capacity_and_a_customer_message_invalidates_stale_views() {
    let app = spawn_app().await;
    let admin = app.operator().await;
    let ann = app.staff("operator", "Ann").await;
    let bob = app.staff("operator", "Bob").await;
    admin
        .admin_patch(&format!("/operators/{}", ann.id), json!({ "capacity": 1 }))
        .await;
    let first = waiting_visitor(&app, "one").await;
    let second = waiting_visitor(&app, "two").await;
    assert_eq!(ann.reply(first.conversation_id, "mine").await.status, 201);
    let refused = ann.reply(second.conversation_id, "and this one").await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert_eq!(refused.error_code(), "at_capacity");
    assert_eq!(
        admin.conversation(second.conversation_id).await["assignee"],
        Value::Null
    );

    // Someone else's conversation: no typing, no read receipts, no transfer of it.
    let id = first.conversation_id;
    assert_eq!(
        bob.post(&format!("/conversations/{id}/typing"), json!({}))
            .await
            .error_code(),
        "assigned_elsewhere"
    );
    // An operator cannot hand an unassigned conversation to someone else (that is assigning).
    let other = second.conversation_id;
    let handed = bob
        .post(
            &format!("/conversations/{other}/transfer"),
            json!({ "operator_id": ann.id, "reason": "yours", "version": version(&bob, other).await }),
        )
        .await;
    assert_eq!(handed.error_code(), "forbidden");

    // The customer writes after Ann loaded the conversation: resolving over it is refused.
    let seen = version(&ann, id).await;
    assert_eq!(first.say("wait, one more question").await.status, 201);
    let resolve = ann
        .post(
            &format!("/conversations/{id}/status"),
            json!({ "status": "resolved", "version": seen }),
        )
        .await;
    assert_eq!(resolve.error_code(), "stale_version");
    assert!(
        resolve.body["error"]["conversation"]["last_message"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("one more question")),
        "{}",
        resolve.text
    );
}

#[tokio::test]
async fn concurrent_assignments_never_push_an_operator_over_capacity() {
    let app = spawn_app().await;
    let admin = app.operator().await;
    let sue = app.staff("supervisor", "Sue").await;
    let ann = app.staff("operator", "Ann").await;
    let capped = admin
        .admin_patch(&format!("/operators/{}", ann.id), json!({ "capacity": 3 }))
        .await;
    assert_eq!(capped.status, 200, "{}", capped.text);
    let mut visitors = Vec::new();
    for _ in 0..10 {
        visitors.push(waiting_visitor(&app, "hello").await);
    }
    let mut attempts = Vec::new();
    for visitor in &visitors {
        let id = visitor.conversation_id;
        let version = version(&sue, id).await;
        let sue = sue.clone();
        let ann_id = ann.id;
        attempts.push(tokio::spawn(async move {
            sue.post(
                &format!("/conversations/{id}/assign"),
                json!({ "operator_id": ann_id, "version": version }),
            )
            .await
        }));
    }
    let mut assigned = 0;
    for attempt in attempts {
        let reply = attempt.await.unwrap();
        match reply.status {
            200 => assigned += 1,
            409 => assert_eq!(reply.error_code(), "at_capacity"),
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert_eq!(assigned, 3);
    let queue = sue.get("/queue").await;
    assert_eq!(queue.status, 200, "{}", queue.text);
    assert_eq!(queue.body["waiting"]["count"], 7);
    let ann_load = queue.body["operators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == ann.id)
        .cloned()
        .unwrap();
    assert_eq!(
        (ann_load["load"].as_i64(), ann_load["capacity"].as_i64()),
        (Some(3), Some(3))
    );

    // Resolving one frees a seat.
    let mine = ann.get("/conversations?assignee=me").await;
    let mine_id = mine.body["conversations"][0]["id"].as_i64().unwrap();
    let resolve = ann
        .post(
            &format!("/conversations/{mine_id}/status"),
            json!({ "status": "resolved", "version": version(&ann, mine_id).await }),
        )
        .await;
    assert_eq!(resolve.status, 200);
    let waiting_id = queue.body["waiting"]["conversations"][0]["id"]
        .as_i64()
        .unwrap();
    let again = sue
        .post(
            &format!("/conversations/{waiting_id}/assign"),
            json!({ "operator_id": ann.id, "version": version(&sue, waiting_id).await }),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
}

#[tokio::test]
async fn the_queue_is_live_and_supervisors_assign_by_hand() {
    let app = spawn_app().await;
    // Manual routing: conversations wait for a supervisor or a claim, even with Ann available.
    let admin = app.operator().await;
    let manual = admin
        .call(
            "PATCH",
            "/admin/routing",
            Some(json!({ "strategy": "manual" })),
        )
        .await;
    assert_eq!(
        manual.body["routing"]["strategy"], "manual",
        "{}",
        manual.text
    );
    let sue = app.staff("supervisor", "Sue").await;
    let ann = app.staff("operator", "Ann").await;
    assert_eq!(
        ann.post("/presence", json!({ "presence": "available" }))
            .await
            .body["operator"]["available"],
        true
    );
    let first = waiting_visitor(&app, "first").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = waiting_visitor(&app, "second").await;
    let queue = sue.get("/queue").await;
    assert_eq!(queue.body["waiting"]["count"], 2);
    assert_eq!(
        queue.body["waiting"]["conversations"][0]["id"], first.conversation_id,
        "longest waiting first"
    );
    assert!(queue.body["waiting"]["longest_wait_ms"].as_i64().unwrap() >= 50);
    let ann_row = queue.body["operators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == ann.id)
        .cloned()
        .unwrap();
    assert_eq!(ann_row["available"], true);
    assert_eq!(ann.get("/queue").await.error_code(), "forbidden");

    let cursor = ann.cursor().await;
    let id = first.conversation_id;
    let assign = sue
        .post(
            &format!("/conversations/{id}/assign"),
            json!({ "operator_id": ann.id, "version": version(&sue, id).await }),
        )
        .await;
    assert_eq!(assign.status, 200, "{}", assign.text);
    // Ann's console hears about it at once.
    let (events, _) = collect_events(
        |after| ann.events(after, 5),
        cursor,
        Duration::from_secs(10),
        |events| events.iter().any(|e| e["kind"] == "conversation.assigned"),
    )
    .await;
    let assigned = events
        .iter()
        .find(|e| e["kind"] == "conversation.assigned")
        .expect("an assignment event");
    assert_eq!(assigned["data"]["to"]["id"], ann.id);
    assert_eq!(assigned["data"]["by"]["name"], "Sue");
    assert_eq!(sue.get("/queue").await.body["waiting"]["count"], 1);

    // An operator may not assign to others, only claim unassigned conversations.
    let other = second.conversation_id;
    let forbidden = ann
        .post(
            &format!("/conversations/{other}/assign"),
            json!({ "operator_id": sue.id, "version": version(&ann, other).await }),
        )
        .await;
    assert_eq!(forbidden.error_code(), "forbidden");
    let claim = ann
        .post(
            &format!("/conversations/{other}/assign"),
            json!({ "operator_id": ann.id, "version": version(&ann, other).await }),
        )
        .await;
    assert_eq!(claim.status, 200, "{}", claim.text);
}

#[tokio::test]
async fn contacts_keep_their_history_and_merge_without_losing_a_message() {
    let app = spawn_app().await;
    let sue = app.staff("supervisor", "Sue").await;
    let ann = app.staff("operator", "Ann").await;
    let web = waiting_visitor(&app, "first visit question").await;
    let phone_visitor = waiting_visitor(&app, "second device question").await;
    let a = ann.conversation(web.conversation_id).await["contact"]["id"]
        .as_i64()
        .unwrap();
    let b = ann.conversation(phone_visitor.conversation_id).await["contact"]["id"]
        .as_i64()
        .unwrap();

    let edited = ann
        .patch(
            &format!("/contacts/{a}"),
            json!({
                "name": "Ada Lovelace",
                "phone": "+44 20 7946 0958",
                "attributes": { "plan": "pro", "seats": 12 }
            }),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    assert_eq!(edited.body["contact"]["phone"], "+442079460958");
    assert_eq!(edited.body["contact"]["attributes"]["plan"], "pro");
    let bad = ann
        .patch(&format!("/contacts/{a}"), json!({ "phone": "call me" }))
        .await;
    assert_eq!(bad.assert_client_error(), "invalid_input");
    ann.patch(
        &format!("/contacts/{b}"),
        json!({ "email": "ada@example.com" }),
    )
    .await;

    assert_eq!(
        ann.post(
            &format!("/contacts/{a}/merge"),
            json!({ "from_contact_id": b })
        )
        .await
        .error_code(),
        "forbidden"
    );
    let merged = sue
        .post(
            &format!("/contacts/{a}/merge"),
            json!({ "from_contact_id": b }),
        )
        .await;
    assert_eq!(merged.status, 200, "{}", merged.text);
    assert_eq!(merged.body["contact"]["name"], "Ada Lovelace");
    assert_eq!(
        merged.body["contact"]["email"], "ada@example.com",
        "gaps filled"
    );

    let view = ann.get(&format!("/contacts/{a}")).await;
    let ids: Vec<i64> = view.body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&web.conversation_id) && ids.contains(&phone_visitor.conversation_id));
    // The old record leads to the survivor; both visitors still have their conversations.
    assert_eq!(
        ann.get(&format!("/contacts/{b}")).await.body["contact"]["id"],
        a
    );
    for (visitor, text) in [
        (&web, "first visit question"),
        (&phone_visitor, "second device question"),
    ] {
        let snapshot = visitor.load().await;
        assert_eq!(snapshot.status, 200);
        assert!(snapshot.text.contains(text));
        assert_eq!(visitor.say("still here").await.status, 201);
    }
    // A merge is the team's judgement, never a key: neither browser reads the other's thread
    // (anyone can type someone else's email into a widget).
    let mut crossed = phone_visitor.clone();
    crossed.conversation_id = web.conversation_id;
    assert_eq!(crossed.load().await.status, 404);
    assert_eq!(crossed.say("let me in").await.status, 404);
    // A new chat from the merged-away browser is filed under the survivor for operators.
    let again = app
        .post_raw(
            "/api/widget/conversations",
            "application/json",
            b"{}".to_vec(),
            Some(&phone_visitor.token),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.text);
    let new_id = again.body["conversation"]["id"].as_i64().unwrap();
    assert_eq!(ann.conversation(new_id).await["contact"]["id"], a);
    assert_eq!(
        sue.post(
            &format!("/contacts/{a}/merge"),
            json!({ "from_contact_id": b })
        )
        .await
        .status,
        404,
        "a contact merges once"
    );
}

#[tokio::test]
async fn canned_responses_fill_placeholders_and_respect_scope() {
    let app = spawn_app().await;
    let admin = app.operator().await;
    let ann = app.staff("operator", "Ann Lee").await;
    let bob = app.staff("operator", "Bob").await;
    let team_wide = admin
        .admin_post(
            "/canned",
            json!({
                "shortcut": "refund",
                "title": "Refund policy",
                "body": "Hi {{contact.first_name|there}}, {{operator.first_name}} here: refunds take 5 days (ref #{{conversation.id}})."
            }),
        )
        .await;
    assert_eq!(team_wide.status, 201, "{}", team_wide.text);
    let mine = ann
        .post(
            "/canned",
            json!({ "shortcut": "bye", "title": "Goodbye", "body": "Bye from {{operator.name}}" }),
        )
        .await;
    assert_eq!(mine.status, 201, "{}", mine.text);
    assert_eq!(
        ann.post(
            "/canned",
            json!({ "shortcut": "bye", "title": "again", "body": "x" })
        )
        .await
        .error_code(),
        "shortcut_taken"
    );

    let visitor = waiting_visitor(&app, "refund?").await;
    let id = visitor.conversation_id;
    let found = ann
        .get(&format!("/canned?q=ref&conversation_id={id}"))
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(
        found.body["canned"][0]["rendered"],
        format!("Hi there, Ann here: refunds take 5 days (ref #{id}).")
    );
    // Personal responses are personal.
    let bobs = bob.get("/canned?q=").await;
    let shortcuts: Vec<&str> = bobs.body["canned"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["shortcut"].as_str())
        .collect();
    assert_eq!(shortcuts, ["refund"]);
    let ann_bye = mine.body["canned"]["id"].as_i64().unwrap();
    assert_eq!(bob.delete(&format!("/canned/{ann_bye}")).await.status, 404);
    // Operators cannot manage team-wide ones.
    assert_eq!(
        ann.admin_post(
            "/canned",
            json!({ "shortcut": "x", "title": "x", "body": "x" })
        )
        .await
        .error_code(),
        "forbidden"
    );
}

#[tokio::test]
async fn search_and_filters_find_conversations() {
    let app = spawn_app().await;
    let ann = app.staff("operator", "Ann").await;
    let urgent = tag(&app, "urgent").await;
    let a = waiting_visitor(&app, "My parcel to Zürich never arrived").await;
    let b = waiting_visitor(&app, "How do I change my password?").await;
    ann.patch(
        &format!(
            "/contacts/{}",
            ann.conversation(b.conversation_id).await["contact"]["id"]
        ),
        json!({ "name": "Grace Hopper" }),
    )
    .await;
    ann.post(
        &format!("/conversations/{}/tags", a.conversation_id),
        json!({ "tag_id": urgent }),
    )
    .await;

    let ids = |reply: &e2e::Reply| -> Vec<i64> {
        reply.body["conversations"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", reply.text))
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(
        ids(&ann.get("/conversations?q=zurich").await),
        [a.conversation_id],
        "message text, accents folded"
    );
    assert_eq!(
        ids(&ann.get("/conversations?q=parc").await),
        [a.conversation_id],
        "prefix"
    );
    assert_eq!(
        ids(&ann.get("/conversations?q=grace%20hop").await),
        [b.conversation_id]
    );
    assert_eq!(
        ids(&ann.get(&format!("/conversations?tag={urgent}")).await),
        [a.conversation_id]
    );
    assert_eq!(
        ids(&ann.get("/conversations?assignee=me").await),
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(&ann.get("/conversations?assignee=unassigned").await).len(),
        2
    );
    // Pages: newest first, then older ones with the `next_before` of the last page.
    let first = ann.get("/conversations?status=all&limit=1").await;
    assert_eq!(ids(&first), [b.conversation_id]);
    let before = first.body["next_before"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let second = ann
        .get(&format!(
            "/conversations?status=all&limit=1&before={before}"
        ))
        .await;
    assert_eq!(ids(&second), [a.conversation_id]);
    assert_eq!(
        ann.get("/conversations?limit=0").await.error_code(),
        "invalid_input"
    );
    assert_eq!(
        ann.get("/conversations?q=%22%29%28*").await.status,
        200,
        "FTS syntax in the input is harmless"
    );
    assert_eq!(
        ann.get("/conversations?status=bogus").await.error_code(),
        "invalid_input"
    );
}

#[tokio::test]
async fn deactivated_operators_lose_their_sessions_and_their_chats_return_to_the_queue() {
    let app = spawn_app().await;
    let admin = app.operator().await;
    let ann = app.staff("operator", "Ann").await;
    let visitor = waiting_visitor(&app, "hi").await;
    assert_eq!(
        ann.reply(visitor.conversation_id, "hello").await.status,
        201
    );
    let deactivated = admin
        .admin_patch(
            &format!("/operators/{}", ann.id),
            json!({ "active": false }),
        )
        .await;
    assert_eq!(deactivated.status, 200, "{}", deactivated.text);
    assert_eq!(ann.get("/me").await.status, 401);
    let conversation = admin.conversation(visitor.conversation_id).await;
    assert_eq!(conversation["assignee"], Value::Null);
    assert!(conversation["waiting_since"].is_i64());

    // The last admin cannot demote or deactivate themselves.
    let me = admin.get("/me").await.body["operator"]["id"]
        .as_i64()
        .unwrap();
    for change in [json!({ "role": "operator" }), json!({ "active": false })] {
        assert_eq!(
            admin
                .admin_patch(&format!("/operators/{me}"), change)
                .await
                .error_code(),
            "last_admin"
        );
    }
}

#[tokio::test]
async fn an_invitation_link_works_once() {
    let app = spawn_app().await;
    let admin = app.operator().await;
    let invited = admin
        .admin_post(
            "/operators",
            json!({ "email": "new@example.com", "name": "New Person", "role": "operator" }),
        )
        .await;
    assert_eq!(invited.status, 201, "{}", invited.text);
    assert!(invited.body["operator"]["invited"].as_bool().unwrap());
    assert_eq!(
        admin
            .admin_post(
                "/operators",
                json!({ "email": "NEW@example.com", "name": "Dup", "role": "operator" })
            )
            .await
            .error_code(),
        "email_taken"
    );
    // Before accepting, the account cannot sign in at all.
    assert_eq!(
        app.login("new@example.com", "").await.err().unwrap().status,
        401
    );
    let token = e2e::invite_token(&invited);
    let signed_in = app.accept_invite(&token, "my new password").await;
    assert!(signed_in.is_ok());
    assert_eq!(
        app.accept_invite(&token, "another password")
            .await
            .err()
            .unwrap()
            .status,
        404
    );
    assert!(
        app.login("new@example.com", "my new password")
            .await
            .is_ok()
    );
}
