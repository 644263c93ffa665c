//! Roles on every route: each route of the inbox and admin APIs is called by an operator, a
//! supervisor and an admin. Below the route's least role the answer must be 403 `forbidden`;
//! at or above it, anything but 401/403/5xx (validation or state answers such as 404/409 are
//! fine: the caller got past the role check).

use e2e::{Operator, Reply, TestApp, spawn_app};
use serde_json::{Value, json};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Role {
    Operator,
    Supervisor,
    Admin,
}

struct Route {
    method: &'static str,
    path: String,
    body: Option<Value>,
    least: Role,
}

fn route(method: &'static str, path: impl Into<String>, body: Option<Value>, least: Role) -> Route {
    Route {
        method,
        path: path.into(),
        body,
        least,
    }
}

struct Fixtures {
    conversation: i64,
    contact: i64,
    tag: i64,
    team: i64,
    team_canned: i64,
    supervisor_id: i64,
    target_operator: i64,
}

async fn fixtures(app: &TestApp, admin: &Operator, supervisor_id: i64) -> Fixtures {
    let visitor = app.visitor().await;
    assert_eq!(visitor.say("hello").await.status, 201);
    let contact_of = |reply: Value| reply["contact"]["id"].as_i64().expect("a contact id");
    let tag = admin
        .admin_post("/tags", json!({ "name": "billing" }))
        .await;
    let team = admin
        .admin_post("/teams", json!({ "name": "Tier 2" }))
        .await;
    let canned = admin
        .admin_post(
            "/canned",
            json!({ "shortcut": "hi", "title": "Hi", "body": "Hello!" }),
        )
        .await;
    let target = admin
        .admin_post(
            "/operators",
            json!({ "email": "target@example.com", "name": "Target", "role": "operator" }),
        )
        .await;
    Fixtures {
        conversation: visitor.conversation_id,
        contact: contact_of(admin.conversation(visitor.conversation_id).await),
        tag: tag.body["tag"]["id"].as_i64().expect("tag"),
        team: team.body["team"]["id"].as_i64().expect("team"),
        team_canned: canned.body["canned"]["id"].as_i64().expect("canned"),
        supervisor_id,
        target_operator: target.body["operator"]["id"].as_i64().expect("operator"),
    }
}

fn routes(f: &Fixtures) -> Vec<Route> {
    use Role::{Admin, Operator as Op, Supervisor};
    let c = f.conversation;
    // Versions in bodies are deliberately stale: past the role check the answer is a 409.
    vec![
        route("GET", "/inbox/me", None, Op),
        route(
            "POST",
            "/inbox/presence",
            Some(json!({ "presence": "away" })),
            Op,
        ),
        route("POST", "/inbox/heartbeat", Some(json!({})), Op),
        route("GET", "/inbox/operators", None, Op),
        route("GET", "/inbox/teams", None, Op),
        route("GET", "/inbox/tags", None, Op),
        route("GET", "/inbox/conversations?status=all", None, Op),
        route("GET", format!("/inbox/conversations/{c}"), None, Op),
        route(
            "GET",
            format!("/inbox/conversations/{c}/suggestions"),
            None,
            Op,
        ),
        route(
            "POST",
            format!("/inbox/conversations/{c}/draft"),
            Some(json!({})),
            Op,
        ),
        route(
            "POST",
            format!("/inbox/conversations/{c}/assistant"),
            Some(json!({ "version": 999_999 })),
            Op,
        ),
        route(
            "POST",
            format!("/inbox/conversations/{c}/typing"),
            Some(json!({})),
            Op,
        ),
        route(
            "POST",
            format!("/inbox/conversations/{c}/read"),
            Some(json!({ "message_id": 1 })),
            Op,
        ),
        route(
            "POST",
            format!("/inbox/conversations/{c}/notes"),
            Some(json!({ "body": "note" })),
            Op,
        ),
        route(
            "POST",
            format!("/inbox/conversations/{c}/tags"),
            Some(json!({ "tag_id": f.tag })),
            Op,
        ),
        route(
            "DELETE",
            format!("/inbox/conversations/{c}/tags/{}", f.tag),
            None,
            Op,
        ),
        route(
            "POST",
            format!("/inbox/conversations/{c}/status"),
            Some(json!({ "status": "pending", "version": 999_999 })),
            Op,
        ),
        route(
            "POST",
            format!("/inbox/conversations/{c}/transfer"),
            Some(json!({ "team_id": f.team, "reason": "r", "version": 999_999 })),
            Op,
        ),
        // Operators may only claim for themselves; assigning to someone else needs a supervisor.
        route(
            "POST",
            format!("/inbox/conversations/{c}/assign"),
            Some(json!({ "operator_id": f.supervisor_id, "version": 999_999 })),
            Supervisor,
        ),
        route("GET", "/inbox/contacts?q=a", None, Op),
        route("GET", format!("/inbox/contacts/{}", f.contact), None, Op),
        route(
            "PATCH",
            format!("/inbox/contacts/{}", f.contact),
            Some(json!({ "attributes": {} })),
            Op,
        ),
        route(
            "POST",
            format!("/inbox/contacts/{}/merge", f.contact),
            Some(json!({ "from_contact_id": 999_999 })),
            Supervisor,
        ),
        route("GET", "/inbox/canned?q=h", None, Op),
        route(
            "POST",
            "/inbox/canned",
            Some(json!({ "shortcut": "s", "title": "t", "body": "b" })),
            Op,
        ),
        route(
            "PATCH",
            "/inbox/canned/999999",
            Some(json!({ "title": "t" })),
            Op,
        ),
        route("DELETE", "/inbox/canned/999999", None, Op),
        route("GET", "/inbox/mentions", None, Op),
        route(
            "POST",
            "/inbox/mentions/read",
            Some(json!({ "note_id": 1 })),
            Op,
        ),
        route("GET", "/inbox/queue", None, Supervisor),
        route("GET", "/inbox/events?after=0&wait=0", None, Op),
        route(
            "POST",
            format!("/inbox/conversations/{c}/messages"),
            Some(json!({ "body": "hi" })),
            Op,
        ),
        // Admin API: everything needs an admin.
        route("GET", "/admin/operators", None, Admin),
        route(
            "POST",
            "/admin/operators",
            Some(json!({ "email": "x@example.com", "name": "X", "role": "operator" })),
            Admin,
        ),
        route(
            "PATCH",
            format!("/admin/operators/{}", f.target_operator),
            Some(json!({ "capacity": 4 })),
            Admin,
        ),
        route(
            "POST",
            format!("/admin/operators/{}/invite", f.target_operator),
            Some(json!({})),
            Admin,
        ),
        route("GET", "/admin/teams", None, Admin),
        route(
            "POST",
            "/admin/teams",
            Some(json!({ "name": "New team" })),
            Admin,
        ),
        route(
            "PATCH",
            format!("/admin/teams/{}", f.team),
            Some(json!({ "member_ids": [] })),
            Admin,
        ),
        route("GET", "/admin/tags", None, Admin),
        route(
            "POST",
            "/admin/tags",
            Some(json!({ "name": "new-tag" })),
            Admin,
        ),
        route(
            "PATCH",
            format!("/admin/tags/{}", f.tag),
            Some(json!({ "color": "#112233" })),
            Admin,
        ),
        route("GET", "/admin/canned", None, Admin),
        route(
            "POST",
            "/admin/canned",
            Some(json!({ "shortcut": "t2", "title": "t", "body": "b" })),
            Admin,
        ),
        route(
            "PATCH",
            format!("/admin/canned/{}", f.team_canned),
            Some(json!({ "title": "T" })),
            Admin,
        ),
        route("GET", "/admin/routing", None, Admin),
        route(
            "PATCH",
            "/admin/routing",
            Some(json!({ "skill_wait_s": 30 })),
            Admin,
        ),
        route("GET", "/admin/topics", None, Admin),
        route(
            "POST",
            "/admin/topics",
            Some(json!({ "name": "billing", "keywords": ["invoice"] })),
            Admin,
        ),
        route(
            "PATCH",
            "/admin/topics/999999",
            Some(json!({ "priority": 2 })),
            Admin,
        ),
        route("DELETE", "/admin/topics/999999", None, Admin),
        route("GET", "/reports/summary", None, Supervisor),
        route("GET", "/reports/daily?format=csv", None, Supervisor),
        route("GET", "/reports/operators", None, Supervisor),
        route("GET", "/reports/tags", None, Supervisor),
        route("GET", "/reports/traffic", None, Supervisor),
        route("GET", "/reports/staffing", None, Supervisor),
        route("GET", "/reports/live", None, Supervisor),
        route("GET", "/reports/system", None, Supervisor),
        route("GET", "/admin/articles", None, Admin),
        route(
            "POST",
            "/admin/articles",
            Some(json!({ "title": "T", "body": "B", "language": "en" })),
            Admin,
        ),
        route("GET", "/admin/articles/999999", None, Admin),
        route(
            "PATCH",
            "/admin/articles/999999",
            Some(json!({ "title": "T2" })),
            Admin,
        ),
        route("DELETE", "/admin/articles/999999", None, Admin),
        route("GET", "/admin/assistant", None, Admin),
        route(
            "PATCH",
            "/admin/assistant",
            Some(json!({ "mode": "never" })),
            Admin,
        ),
        route("GET", "/admin/csat", None, Admin),
        route(
            "PATCH",
            "/admin/csat",
            Some(json!({ "enabled": true })),
            Admin,
        ),
        route("GET", "/admin/hours", None, Admin),
        route("PUT", "/admin/hours", Some(Value::Null), Admin),
        route("GET", format!("/admin/teams/{}/hours", f.team), None, Admin),
        route(
            "PUT",
            format!("/admin/teams/{}/hours", f.team),
            Some(Value::Null),
            Admin,
        ),
        // Webhooks: invalid bodies and unknown ids answer 400/404 past the role check, so the
        // matrix registers no endpoint that later events would be sent to.
        route("GET", "/admin/webhooks", None, Admin),
        route(
            "POST",
            "/admin/webhooks",
            Some(json!({ "url": "http://hooks.example.com/", "events": [] })),
            Admin,
        ),
        route(
            "PATCH",
            "/admin/webhooks/999999",
            Some(json!({ "active": false })),
            Admin,
        ),
        route("DELETE", "/admin/webhooks/999999", None, Admin),
        route(
            "POST",
            "/admin/webhooks/999999/test",
            Some(json!({})),
            Admin,
        ),
        route("GET", "/admin/webhooks/999999/deliveries", None, Admin),
        route("GET", "/admin/settings", None, Admin),
        route(
            "PATCH",
            "/admin/settings",
            Some(json!({ "transfer_notice_team": "Moved to {team}." })),
            Admin,
        ),
        // Privacy: the audit log, customers' data, retention. Erasure is tried on an unknown
        // contact (404 past the role check) so the fixtures stay.
        route("GET", "/admin/audit", None, Admin),
        route("GET", "/admin/audit?format=csv", None, Admin),
        route("GET", "/admin/contacts?q=a", None, Admin),
        route(
            "GET",
            format!("/admin/contacts/{}/export", f.contact),
            None,
            Admin,
        ),
        route(
            "DELETE",
            "/admin/contacts/999999",
            Some(json!({ "confirm": "erase" })),
            Admin,
        ),
        route("GET", "/admin/retention", None, Admin),
        route("PATCH", "/admin/retention", Some(json!({})), Admin),
        route("POST", "/admin/retention/purge", Some(json!({})), Admin),
        // Deletions last: they remove fixtures.
        route(
            "DELETE",
            format!("/admin/canned/{}", f.team_canned),
            None,
            Admin,
        ),
        route("DELETE", format!("/admin/tags/{}", f.tag), None, Admin),
        route("DELETE", format!("/admin/teams/{}", f.team), None, Admin),
    ]
}

fn describe(route: &Route, reply: &Reply) -> String {
    format!(
        "{} {} -> {} {}",
        route.method, route.path, reply.status, reply.text
    )
}

#[tokio::test]
async fn every_route_enforces_its_least_role() {
    let app = spawn_app().await;
    let admin = app.operator().await;
    let operator = app.staff("operator", "Olive").await;
    let supervisor = app.staff("supervisor", "Sven").await;
    let f = fixtures(&app, &admin, supervisor.id).await;
    let callers = [
        (Role::Operator, &operator),
        (Role::Supervisor, &supervisor),
        (Role::Admin, &admin),
    ];
    let mut checked = 0;
    for route in routes(&f) {
        for (role, caller) in callers {
            let reply = caller
                .call(route.method, &route.path, route.body.clone())
                .await;
            if role < route.least {
                assert_eq!(
                    reply.status,
                    403,
                    "{:?}: {}",
                    role,
                    describe(&route, &reply)
                );
                assert_eq!(reply.error_code(), "forbidden");
            } else {
                assert!(
                    !matches!(reply.status, 401 | 403) && reply.status < 500,
                    "{:?} should pass the role check: {}",
                    role,
                    describe(&route, &reply)
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 91 * 3);
}

#[tokio::test]
async fn operators_act_only_on_their_own_or_unassigned_conversations() {
    let app = spawn_app().await;
    let ann = app.staff("operator", "Ann").await;
    let bob = app.staff("operator", "Bob").await;
    let sue = app.staff("supervisor", "Sue").await;
    let visitor = app.visitor().await;
    assert_eq!(visitor.say("hi").await.status, 201);
    let id = visitor.conversation_id;
    assert_eq!(ann.reply(id, "mine now").await.status, 201);
    let version = ann.conversation(id).await["version"].as_i64().unwrap();
    for (method, path, body) in [
        (
            "POST",
            format!("/inbox/conversations/{id}/messages"),
            json!({ "body": "x" }),
        ),
        (
            "POST",
            format!("/inbox/conversations/{id}/notes"),
            json!({ "body": "x" }),
        ),
        (
            "POST",
            format!("/inbox/conversations/{id}/status"),
            json!({ "status": "resolved", "version": version }),
        ),
        (
            "POST",
            format!("/inbox/conversations/{id}/transfer"),
            json!({ "operator_id": bob.id, "reason": "x", "version": version }),
        ),
    ] {
        let reply = bob.call(method, &path, Some(body.clone())).await;
        assert_eq!(reply.status, 409, "{path}: {}", reply.text);
        assert_eq!(reply.error_code(), "assigned_elsewhere");
        assert!(reply.text.contains("Ann has this conversation") || path.ends_with("messages"));
    }
    // Supervisors may act on anyone's conversation.
    for (path, body) in [
        (
            format!("/conversations/{id}/messages"),
            json!({ "body": "supervisor here" }),
        ),
        (
            format!("/conversations/{id}/notes"),
            json!({ "body": "supervisor note" }),
        ),
        (
            format!("/conversations/{id}/status"),
            json!({ "status": "resolved", "version": version }),
        ),
    ] {
        let reply = sue.post(&path, body).await;
        assert!(reply.status < 300, "{path} by a supervisor: {}", reply.text);
    }
    // Reading is always allowed: history is never hidden from whoever answers.
    assert_eq!(bob.get(&format!("/conversations/{id}")).await.status, 200);
}
