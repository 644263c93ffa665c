//! A visitor and an operator chatting through the real components.

use std::time::{Duration, Instant};

use e2e::{collect_events, message_bodies, spawn_app};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn visitor_messages_reach_the_operator_in_order_exactly_once() {
    let app = spawn_app().await;
    let operator = app.operator().await;
    let cursor = operator.cursor().await;
    let visitor = app.visitor().await;

    let sent: Vec<String> = (0..20).map(|i| format!("question {i}")).collect();
    for body in &sent {
        assert_eq!(visitor.say(body).await.status, 201);
    }

    let (events, _) = collect_events(
        |c| operator.events(c, 5),
        cursor,
        Duration::from_secs(30),
        |e| message_bodies(e).len() >= 20,
    )
    .await;
    assert_eq!(message_bodies(&events), sent);
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "event ids not increasing: {ids:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operator_reply_reaches_a_waiting_visitor_promptly() {
    let app = spawn_app().await;
    let operator = app.operator().await;
    let visitor = app.visitor().await;
    visitor.say("hello?").await;
    let cursor = visitor.load().await.body["cursor"].as_i64().unwrap();

    let waiting = {
        let visitor = visitor.clone();
        tokio::spawn(async move { visitor.events(cursor, 20).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent_at = Instant::now();
    assert_eq!(
        operator
            .reply(visitor.conversation_id, "Hi! How can I help?")
            .await
            .status,
        201
    );
    let reply = waiting.await.unwrap();
    let delivered_after = sent_at.elapsed();

    assert_eq!(reply.status, 200);
    let messages: Vec<&Value> = reply.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "message.created")
        .collect();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0]["data"]["message"]["body"],
        "Hi! How can I help?"
    );
    assert_eq!(messages[0]["data"]["message"]["author"], "operator");
    assert_eq!(
        messages[0]["data"]["message"]["operator_name"],
        json!(operator.name)
    );
    assert!(
        delivered_after < Duration::from_secs(2),
        "a held long-poll took {delivered_after:?} to deliver"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delivery_is_loss_free_across_a_dropped_long_poll() {
    let app = spawn_app().await;
    let operator = app.operator().await;
    let visitor = app.visitor().await;
    let cursor = visitor.load().await.body["cursor"].as_i64().unwrap();

    // A long-poll is cut off while it waits (a closed tab, a flaky network)...
    let dropped = {
        let visitor = visitor.clone();
        tokio::spawn(async move { visitor.events(cursor, 20).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    dropped.abort();
    // ...and the operator keeps writing; then an answer is lost on its way back: the server
    // sent the first events but the client never read them, so it still holds the old cursor.
    let sent: Vec<String> = (0..5).map(|i| format!("answer {i}")).collect();
    assert_eq!(
        operator
            .reply(visitor.conversation_id, &sent[0])
            .await
            .status,
        201
    );
    let lost = visitor.events(cursor, 5).await;
    assert_eq!(
        message_bodies(lost.body["events"].as_array().unwrap()),
        &sent[..1]
    );
    for body in &sent[1..] {
        assert_eq!(
            operator.reply(visitor.conversation_id, body).await.status,
            201
        );
    }
    // Reconnecting from the last cursor it kept delivers everything, once, in order.
    let (events, cursor) = collect_events(
        |c| visitor.events(c, 2),
        cursor,
        Duration::from_secs(20),
        |e| message_bodies(e).len() >= 5,
    )
    .await;
    assert_eq!(message_bodies(&events), sent);
    let again = visitor.events(cursor, 0).await;
    assert_eq!(
        again.body["events"],
        json!([]),
        "nothing is delivered twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_post_with_the_same_client_id_is_stored_once() {
    let app = spawn_app().await;
    let visitor = app.visitor().await;
    let first = visitor.say_with_id("only once", Some("msg-1")).await;
    let retry = visitor.say_with_id("only once", Some("msg-1")).await;
    assert_eq!(first.status, 201);
    assert_eq!(retry.status, 200);
    assert_eq!(first.body["message"]["id"], retry.body["message"]["id"]);
    let history = visitor.load().await;
    assert_eq!(history.body["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reloaded_widget_resumes_with_its_history_and_cursor() {
    let app = spawn_app().await;
    let operator = app.operator().await;
    let visitor = app.visitor().await;
    visitor.say("first").await;
    operator.reply(visitor.conversation_id, "second").await;

    let snapshot = visitor.load().await;
    assert_eq!(snapshot.status, 200);
    let bodies: Vec<&str> = snapshot.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["first", "second"]);
    // Following events from the snapshot's cursor repeats none of the history.
    let cursor = snapshot.body["cursor"].as_i64().unwrap();
    operator.reply(visitor.conversation_id, "third").await;
    let (events, _) = collect_events(
        |c| visitor.events(c, 2),
        cursor,
        Duration::from_secs(10),
        |e| !message_bodies(e).is_empty(),
    )
    .await;
    assert_eq!(message_bodies(&events), ["third"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn typing_is_seen_by_the_other_side_and_throttled() {
    let app = spawn_app().await;
    let operator = app.operator().await;
    let visitor = app.visitor().await;
    let visitor_cursor = visitor.load().await.body["cursor"].as_i64().unwrap();
    let operator_cursor = operator.cursor().await;

    for _ in 0..5 {
        assert_eq!(visitor.typing().await.status, 204);
    }
    assert_eq!(
        operator
            .post(
                &format!("/conversations/{}/typing", visitor.conversation_id),
                json!({})
            )
            .await
            .status,
        204
    );

    let operator_sees = operator.events(operator_cursor, 0).await;
    let typing: Vec<&Value> = operator_sees.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "typing")
        .collect();
    assert_eq!(
        typing
            .iter()
            .filter(|e| e["data"]["by"] == "visitor")
            .count(),
        1,
        "five typing calls within 2 s publish once"
    );

    let visitor_sees = visitor.events(visitor_cursor, 0).await;
    let from_operator: Vec<&Value> = visitor_sees.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "typing" && e["data"]["by"] == "operator")
        .collect();
    assert_eq!(from_operator.len(), 1);
    assert_eq!(from_operator[0]["data"]["name"], json!(operator.name));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_receipts_flow_both_ways_and_only_forward() {
    let app = spawn_app().await;
    let operator = app.operator().await;
    let visitor = app.visitor().await;
    let question = visitor.say("is it in stock?").await.body["message"]["id"]
        .as_i64()
        .unwrap();
    let answer = operator.reply(visitor.conversation_id, "yes").await.body["message"]["id"]
        .as_i64()
        .unwrap();
    let visitor_cursor = visitor.load().await.body["cursor"].as_i64().unwrap();
    let operator_cursor = operator.cursor().await;

    // The operator reads the question: the visitor is told.
    let conversation = format!("/conversations/{}", visitor.conversation_id);
    assert_eq!(
        operator
            .post(
                &format!("{conversation}/read"),
                json!({ "message_id": question })
            )
            .await
            .status,
        204
    );
    let seen = visitor.events(visitor_cursor, 5).await;
    let receipt = &seen.body["events"][0];
    assert_eq!(receipt["kind"], "read");
    assert_eq!(
        receipt["data"],
        json!({ "by": "operator", "up_to": question })
    );

    // The visitor reads the answer: operators are told, and the inbox shows it.
    assert_eq!(visitor.read(answer).await.status, 204);
    let seen = operator.events(operator_cursor, 5).await;
    let receipts: Vec<&Value> = seen.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "read" && e["data"]["by"] == "visitor")
        .collect();
    assert_eq!(receipts.len(), 1);
    let thread = operator.get(&conversation).await;
    assert_eq!(thread.body["conversation"]["visitor_read_up_to"], answer);
    assert_eq!(thread.body["conversation"]["unread_count"], 0);

    // Going backwards, or past the last message, changes nothing and publishes nothing.
    let cursor = visitor.events(visitor_cursor, 0).await.body["cursor"]
        .as_i64()
        .unwrap();
    assert_eq!(visitor.read(question).await.status, 204);
    assert_eq!(visitor.read(answer + 1000).await.status, 204);
    assert_eq!(visitor.events(cursor, 0).await.body["events"], json!([]));
    assert_eq!(
        operator.get(&conversation).await.body["conversation"]["visitor_read_up_to"],
        answer
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_inbox_lists_open_conversations_with_unread_counts_newest_first() {
    let app = spawn_app().await;
    let operator = app.operator().await;
    let older = app.visitor().await;
    older.say("one").await;
    let newer = app.visitor().await;
    newer.say("two").await;
    newer.say("three").await;

    let list = operator.get("/conversations").await;
    assert_eq!(list.status, 200);
    let conversations = list.body["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 2);
    assert_eq!(conversations[0]["id"], newer.conversation_id);
    assert_eq!(conversations[0]["unread_count"], 2);
    assert_eq!(conversations[0]["last_message"]["body"], "three");
    assert_eq!(conversations[1]["id"], older.conversation_id);
    assert_eq!(
        operator
            .get("/conversations?status=bogus")
            .await
            .assert_client_error(),
        "invalid_input"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idle_long_poll_returns_empty_when_its_wait_ends() {
    let app = spawn_app().await;
    let visitor = app.visitor().await;
    let cursor = visitor.load().await.body["cursor"].as_i64().unwrap();
    let started = Instant::now();
    let reply = visitor.events(cursor, 1).await;
    let took = started.elapsed();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["events"], json!([]));
    assert_eq!(reply.body["cursor"], cursor);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "wait=1 took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_first_requests_at_once_all_succeed_on_a_fresh_database() {
    let app = spawn_app().await;
    let starts = (0..16).map(|_| {
        let http = app.http.clone();
        let url = app.url("/api/widget/conversations");
        tokio::spawn(async move {
            http.post(url)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    });
    for start in starts {
        assert_eq!(start.await.unwrap().unwrap(), 201);
    }
}
