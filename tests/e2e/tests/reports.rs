//! Reports through the real components: what supervisors see after real conversations (the
//! figures come from the event log the other components write), the live view moving as the
//! queue does, CSV exports, the staffing plan, filters and their errors. The metrics' exact
//! values are checked against hand-computed scenarios in `shared::reports`' unit tests (a
//! test clock); here the clock is real, so times are checked for order and sign.

use e2e::{Operator, spawn_app};
use serde_json::json;

async fn report(supervisor: &Operator, path: &str) -> serde_json::Value {
    let reply = supervisor
        .call("GET", &format!("/reports{path}"), None)
        .await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    reply.body
}

#[tokio::test]
async fn supervisors_see_the_teams_numbers_from_real_conversations() {
    let app = spawn_app().await;
    let admin = app.operator().await;
    let supervisor = app.staff("supervisor", "Sue").await;

    // One conversation answered and resolved, one waiting.
    let answered = app.visitor().await;
    answered.say("Where is my parcel?").await;
    let waiting = app.visitor().await;
    waiting.say("Hello?").await;
    let live = report(&supervisor, "/live?tz=UTC").await;
    assert_eq!(live["waiting"], 2);
    assert!(live["longest_wait_s"].as_f64().unwrap() >= 0.0);

    assert_eq!(
        admin
            .reply(answered.conversation_id, "On its way!")
            .await
            .status,
        201
    );
    let version = admin.conversation(answered.conversation_id).await["version"].clone();
    let resolved = admin
        .post(
            &format!("/conversations/{}/status", answered.conversation_id),
            json!({"status": "resolved", "version": version}),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.text);

    let live = report(&supervisor, "/live?tz=UTC").await;
    assert_eq!(live["waiting"], 1, "{live}");
    assert_eq!(live["today"]["conversations"], 2);
    assert_eq!(live["today"]["first_response"]["count"], 1);

    let summary = report(&supervisor, "/summary?tz=UTC").await;
    assert_eq!(summary["caught_up"], true);
    let s = &summary["summary"];
    assert_eq!(s["conversations"], 2);
    assert_eq!(s["first_response"]["count"], 1);
    assert!(s["first_response"]["median_s"].as_f64().unwrap() >= 0.0);
    assert_eq!(s["resolution"]["count"], 1);
    assert_eq!(s["first_contact_resolution"]["count"], 1);
    assert_eq!(s["first_contact_resolution"]["of"], 1);
    assert_eq!(s["human_handled"]["count"], 1);
    assert_eq!(s["human_handled"]["of"], 2);
    assert_eq!(summary["daily"].as_array().unwrap().len(), 7);

    let operators = report(&supervisor, "/operators?tz=UTC").await;
    let rows = operators["operators"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{operators}");
    assert_eq!(rows[0]["operator_id"], admin.id);
    assert_eq!(rows[0]["conversations"], 1);
    assert_eq!(rows[0]["concurrent_peak"], 1);

    // Filters narrow: another channel has nothing.
    let sms = report(&supervisor, "/summary?tz=UTC&channel=sms").await;
    assert_eq!(sms["summary"]["conversations"], 0);

    let traffic = report(&supervisor, "/traffic?tz=UTC").await;
    assert_eq!(traffic["traffic"]["total"], 2);
    assert_eq!(traffic["traffic"]["counts"].as_array().unwrap().len(), 7);

    let staffing = report(
        &supervisor,
        "/staffing?tz=UTC&concurrency=2&shrinkage=0.2&target_service_level=0.9&target_answer_secs=30",
    )
    .await;
    let plan = &staffing["staffing"];
    assert_eq!(plan["hours"].as_array().unwrap().len(), 168);
    assert_eq!(plan["settings"]["concurrency"], 2);
    assert_eq!(plan["settings"]["shrinkage"], 0.2);
}

#[tokio::test]
async fn every_table_exports_as_csv() {
    let app = spawn_app().await;
    let admin = app.operator().await;
    let visitor = app.visitor().await;
    visitor.say("Hi").await;
    admin.reply(visitor.conversation_id, "Hello!").await;
    for (path, header) in [
        (
            "/daily",
            "date,conversations,resolved,first_response_median_s",
        ),
        ("/operators", "operator_id,name,conversations,resolved,"),
        ("/tags", "tag_id,tag,conversations,"),
        ("/traffic", "weekday,00:00,01:00"),
        (
            "/staffing",
            "weekday,hour,arrivals_per_hour,traffic_erlangs,operators_needed",
        ),
    ] {
        let reply = admin
            .call("GET", &format!("/reports{path}?format=csv&tz=UTC"), None)
            .await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert_eq!(
            reply.header("content-type"),
            Some("text/csv; charset=utf-8"),
            "{path}"
        );
        assert!(
            reply
                .header("content-disposition")
                .is_some_and(|d| d.starts_with("attachment; filename=")),
            "{path}"
        );
        assert!(reply.text.starts_with(header), "{path}: {}", reply.text);
    }
    let operators = admin
        .call("GET", "/reports/operators?format=csv&tz=UTC", None)
        .await;
    assert_eq!(operators.text.lines().count(), 2, "{}", operators.text);
}

#[tokio::test]
async fn bad_filters_and_settings_are_refused_with_the_field() {
    let app = spawn_app().await;
    let admin = app.operator().await;
    for (query, field) in [
        ("/summary?from=2026-02-01&to=2026-01-01", "from"),
        ("/summary?tz=Nowhere/City", "tz"),
        ("/operators?team=abc", "team"),
        ("/summary?channel=pigeon", "channel"),
        ("/staffing?target_service_level=1.5", "target_service_level"),
        ("/staffing?concurrency=0", "concurrency"),
        ("/staffing?handle_s=0", "handle_s"),
    ] {
        let reply = admin.call("GET", &format!("/reports{query}"), None).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.text);
        assert!(reply.text.contains(field), "{query}: {}", reply.text);
    }
    let operator = app.staff("operator", "Olive").await;
    let denied = operator.call("GET", "/reports/summary", None).await;
    assert_eq!(denied.status, 403);
    let anonymous = app
        .http
        .get(format!("{}/api/reports/summary", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = admin
        .call("POST", "/reports/summary", Some(json!({})))
        .await;
    assert_eq!(wrong.status, 405);
}
