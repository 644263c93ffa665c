use serde_json::{Value, json};

use super::*;
use crate::chat::PostMessageRequest;
use crate::event::{self, EventKind, Visibility};
use crate::host::Clock;
use crate::secret::Token;
use crate::testing::TestHost;
use crate::visitor::{self, StartRequest};

fn admin() -> Operator {
    Operator {
        id: 1,
        email: "admin@example.com".into(),
        name: "Ada".into(),
        role: Role::Admin,
    }
}

fn request(url: &str, events: &[&str]) -> EndpointRequest {
    EndpointRequest {
        url: Some(url.into()),
        events: Some(events.iter().map(|e| (*e).to_owned()).collect()),
        ..Default::default()
    }
}

const ALL: [&str; 5] = [
    "conversation.created",
    "conversation.assigned",
    "conversation.resolved",
    "message.created",
    "csat.received",
];

fn create(host: &TestHost, url: &str, events: &[&str]) -> Endpoint {
    create_endpoint(&host.ctx(), &admin(), &request(url, events), None).unwrap()
}

/// A visitor starts a chat and writes `text`; returns the conversation id.
fn chat(host: &TestHost, text: &str) -> i64 {
    let started = visitor::start(&host.ctx(), None, &StartRequest::default()).unwrap();
    let token = Token::parse(started.visitor_token.as_deref().unwrap()).unwrap();
    let id = started.conversation.id;
    let post = PostMessageRequest {
        body: text.into(),
        client_id: Some("client-1".into()),
        channel: None,
    };
    visitor::post(&host.ctx(), &token, id, &post).unwrap();
    id
}

fn append(host: &TestHost, id: i64, kind: EventKind, data: Value) {
    event::append(
        host.ctx().db,
        id,
        kind,
        Visibility::Internal,
        &data,
        host.clock.now_ms(),
    )
    .unwrap();
}

/// The pending deliveries' types, oldest first.
fn queued(host: &TestHost, endpoint: i64) -> Vec<String> {
    host.ctx()
        .db
        .execute(
            "SELECT type FROM webhook_deliveries WHERE endpoint_id = ?1 AND done_at IS NULL ORDER BY id",
            &[endpoint.into()],
        )
        .unwrap()
        .iter()
        .map(|r| r.str("type").unwrap().to_owned())
        .collect()
}

fn claim_now(host: &TestHost) -> Option<Job> {
    let db = host.ctx().db;
    transaction(db, || claim(db, host.clock.now_ms())).unwrap()
}

fn schedule() -> RetrySchedule {
    RetrySchedule::parse("1000,5000").unwrap()
}

#[test]
fn each_event_type_becomes_a_delivery_for_subscribed_active_endpoints_only() {
    let host = TestHost::new();
    let all = create(&host, "https://hooks.example.com/all", &ALL);
    let messages_only = create(
        &host,
        "https://hooks.example.com/messages",
        &["message.created"],
    );
    let off = create(&host, "https://hooks.example.com/off", &ALL);
    update_endpoint(
        &host.ctx(),
        &admin(),
        off.id,
        &EndpointRequest {
            active: Some(false),
            ..Default::default()
        },
        None,
    )
    .unwrap();

    let id = chat(&host, "Where is my parcel?");
    let by = json!({ "id": 1, "name": "Ada" });
    // Back to the queue and a status other than resolved are not webhooks.
    append(
        &host,
        id,
        EventKind::ConversationAssigned,
        json!({ "from": null, "to": by, "by": by, "reason": "assigned by hand" }),
    );
    append(
        &host,
        id,
        EventKind::ConversationAssigned,
        json!({ "from": by, "to": null, "by": by, "reason": "returned to the queue" }),
    );
    append(
        &host,
        id,
        EventKind::ConversationStatus,
        json!({ "from": "open", "to": "pending", "by": by }),
    );
    append(
        &host,
        id,
        EventKind::ConversationStatus,
        json!({ "from": "pending", "to": "resolved", "by": by, "reason": "answered" }),
    );
    // The CSAT event kind belongs to the survey; webhooks subscribe to it by name.
    host.ctx()
        .db
        .execute(
            "INSERT INTO events (conversation_id, kind, visibility, data, created_at)
             VALUES (?1, 'csat.received', 'internal', ?2, ?3)",
            &[
                id.into(),
                json!({ "rating": 5, "comment": "quick!", "channel": "web", "operator_id": 1 })
                    .to_string()
                    .into(),
                host.clock.now_ms().into(),
            ],
        )
        .unwrap();

    assert_eq!(
        queued(&host, all.id),
        [
            "conversation.created",
            "message.created",
            "conversation.assigned",
            "conversation.resolved",
            "csat.received"
        ]
    );
    assert_eq!(queued(&host, messages_only.id), ["message.created"]);
    assert!(queued(&host, off.id).is_empty());
}

#[test]
fn payloads_carry_what_integrations_need_and_no_internals() {
    let host = TestHost::new();
    let endpoint = create(&host, "https://hooks.example.com/in", &ALL);
    let id = chat(&host, "Where is my parcel?");
    let by = json!({ "id": 1, "name": "Ada" });
    append(
        &host,
        id,
        EventKind::ConversationAssigned,
        json!({ "from": null, "to": by, "by": null, "reason": "routed" }),
    );

    let mut bodies = Vec::new();
    while let Some(job) = claim_now(&host) {
        assert_eq!(job.endpoint_id, endpoint.id);
        assert_eq!(job.url, "https://hooks.example.com/in");
        assert_eq!(job.secret, endpoint.secret);
        let body: Value = serde_json::from_str(job.payload.as_deref().unwrap()).unwrap();
        assert_eq!(body["id"], job.delivery_id);
        assert_eq!(body["type"], job.kind);
        assert!(body["occurred_at"].is_i64());
        bodies.push(body);
    }
    assert_eq!(bodies.len(), 3);
    let conversation = &bodies[0]["data"]["conversation"];
    assert_eq!(conversation["id"], id);
    assert_eq!(conversation["channel"], "web");
    assert!(conversation["contact"]["id"].is_i64());
    let message = &bodies[1]["data"]["message"];
    assert_eq!(message["body"], "Where is my parcel?");
    assert_eq!(message["author"], "visitor");
    assert_eq!(message["channel"], "web");
    assert_eq!(bodies[2]["data"]["assignee"], by);
    assert_eq!(bodies[2]["data"]["assigned_by"], Value::Null);
    let text = bodies.iter().map(Value::to_string).collect::<String>();
    for internal in [
        "client_id",
        "version",
        "visibility",
        "waiting_since",
        "delivery_error",
    ] {
        assert!(!text.contains(internal), "{internal} leaked: {text}");
    }
}

#[test]
fn a_claimed_delivery_is_leased_and_retried_with_the_same_id_and_body_then_fails() {
    let host = TestHost::new();
    let endpoint = create(&host, "https://hooks.example.com/in", &["message.created"]);
    chat(&host, "hello");
    let schedule = schedule();

    let first = claim_now(&host).unwrap();
    assert_eq!(first.attempts, 1);
    // Leased: a concurrent pass finds nothing, and "due" says so too.
    assert_eq!(claim_now(&host), None);
    assert!(!is_due(host.ctx().db, host.clock.now_ms()).unwrap());

    let db = host.ctx().db;
    let failed = Outcome::from_answer(500, b"boom");
    let state = transaction(db, || {
        record(db, &first, &failed, &schedule, host.clock.now_ms())
    });
    assert_eq!(state.unwrap(), "pending");
    let listed = deliveries(&host.ctx(), &admin(), endpoint.id).unwrap();
    assert_eq!(listed[0].status, "pending");
    assert_eq!(listed[0].last_status, Some(500));
    assert!(
        listed[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("HTTP 500: boom")
    );
    assert_eq!(listed[0].next_attempt_at, Some(host.clock.now_ms() + 1000));

    assert_eq!(claim_now(&host), None, "not due before the first step");
    host.clock.advance(1000);
    let second = claim_now(&host).unwrap();
    assert_eq!(second.delivery_id, first.delivery_id);
    assert_eq!(second.payload, first.payload);
    assert_eq!(second.attempts, 2);
    let timeout = Outcome::Failed {
        status: None,
        error: "timed out".into(),
    };
    transaction(db, || {
        record(db, &second, &timeout, &schedule, host.clock.now_ms())
    })
    .unwrap();
    host.clock.advance(5000);
    let third = claim_now(&host).unwrap();
    assert_eq!(third.attempts, 3);
    let state = transaction(db, || {
        record(db, &third, &timeout, &schedule, host.clock.now_ms())
    });
    assert_eq!(state.unwrap(), "failed");
    let listed = deliveries(&host.ctx(), &admin(), endpoint.id).unwrap();
    assert_eq!(listed[0].status, "failed");
    assert_eq!(listed[0].attempts, 3);
    assert!(
        listed[0]
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("gave up after 3 attempts")
    );
    assert_eq!(listed[0].next_attempt_at, None);
    assert!(!is_due(db, host.clock.now_ms() + 1_000_000).unwrap());
}

#[test]
fn a_sender_that_dies_leaves_its_delivery_due_again_after_the_lease() {
    let host = TestHost::new();
    create(&host, "https://hooks.example.com/in", &["message.created"]);
    chat(&host, "hello");
    let first = claim_now(&host).unwrap();
    host.clock.advance(LEASE_MS - 1);
    assert_eq!(claim_now(&host), None);
    host.clock.advance(1);
    let again = claim_now(&host).unwrap();
    assert_eq!(again.delivery_id, first.delivery_id);
    assert_eq!(again.attempts, 2);
    let db = host.ctx().db;
    let state = transaction(db, || {
        record(
            db,
            &again,
            &Outcome::Delivered(204),
            &schedule(),
            host.clock.now_ms(),
        )
    });
    assert_eq!(state.unwrap(), "delivered");
    assert_eq!(claim_now(&host), None);
}

#[test]
fn disabling_cancels_pending_deliveries_and_deleting_removes_them() {
    let host = TestHost::new();
    let endpoint = create(&host, "https://hooks.example.com/in", &ALL);
    chat(&host, "hello");
    assert!(is_due(host.ctx().db, host.clock.now_ms()).unwrap());
    let off = EndpointRequest {
        active: Some(false),
        ..Default::default()
    };
    let updated = update_endpoint(&host.ctx(), &admin(), endpoint.id, &off, None).unwrap();
    assert!(!updated.active);
    assert_eq!(updated.pending, 0);
    assert_eq!(updated.last_status.as_deref(), Some("cancelled"));
    assert!(!is_due(host.ctx().db, host.clock.now_ms()).unwrap());
    chat(&host, "while it is off");
    assert!(queued(&host, endpoint.id).is_empty());

    delete_endpoint(&host.ctx(), &admin(), endpoint.id).unwrap();
    assert!(matches!(
        deliveries(&host.ctx(), &admin(), endpoint.id),
        Err(ChatError::NotFound(_))
    ));
    assert!(matches!(
        delete_endpoint(&host.ctx(), &admin(), endpoint.id),
        Err(ChatError::NotFound(_))
    ));
}

#[test]
fn admins_manage_endpoints_with_clear_refusals() {
    let host = TestHost::new();
    let ctx = host.ctx();
    let bad = |request: EndpointRequest| match create_endpoint(&ctx, &admin(), &request, None) {
        Err(ChatError::Invalid(e)) => format!("{}: {}", e.field, e.problem),
        other => panic!("expected a 400, got {other:?}"),
    };
    assert!(
        bad(request("http://hooks.example.com/", &ALL))
            .starts_with("url: must start with https://")
    );
    assert!(bad(request("https://10.0.0.8/", &ALL)).contains("private address"));
    assert!(
        bad(request("https://hooks.example.com/", &["message.deleted"]))
            .contains("unknown event type")
    );
    assert!(bad(request("https://hooks.example.com/", &[])).contains("at least one"));
    assert!(bad(EndpointRequest::default()).starts_with("url: is required"));

    let operator = Operator {
        role: Role::Operator,
        ..admin()
    };
    assert!(matches!(
        create_endpoint(
            &ctx,
            &operator,
            &request("https://hooks.example.com/", &ALL),
            None
        ),
        Err(ChatError::Forbidden(_))
    ));
    assert!(matches!(
        endpoints(&ctx, &operator),
        Err(ChatError::Forbidden(_))
    ));

    let first = create(
        &host,
        "https://hooks.example.com/0",
        &["message.created", "message.created"],
    );
    assert_eq!(first.events, ["message.created"]);
    assert!(first.secret.starts_with("whsec_") && first.secret.len() == 54);
    assert!(first.active);
    for n in 1..MAX_ENDPOINTS {
        create(&host, &format!("https://hooks.example.com/{n}"), &ALL);
    }
    match create_endpoint(
        &ctx,
        &admin(),
        &request("https://hooks.example.com/x", &ALL),
        None,
    ) {
        Err(ChatError::Conflict(code, _)) => assert_eq!(code, "too_many_webhooks"),
        other => panic!("expected a 409, got {other:?}"),
    }

    let rotated = update_endpoint(
        &ctx,
        &admin(),
        first.id,
        &EndpointRequest {
            rotate_secret: true,
            description: Some("CRM".into()),
            events: Some(vec!["csat.received".into(), "conversation.created".into()]),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    assert_ne!(rotated.secret, first.secret);
    assert_eq!(rotated.url, first.url);
    assert_eq!(rotated.description, "CRM");
    assert_eq!(rotated.events, ["conversation.created", "csat.received"]);
    assert_eq!(
        endpoints(&ctx, &admin()).unwrap().len() as i64,
        MAX_ENDPOINTS
    );
}

#[test]
fn the_trusted_origin_may_be_plain_http_on_loopback() {
    let host = TestHost::new();
    let trusted = Origin::parse_setting("http://127.0.0.1:9000").unwrap();
    let created = create_endpoint(
        &host.ctx(),
        &admin(),
        &request("http://127.0.0.1:9000/hook", &ALL),
        trusted.as_ref(),
    )
    .unwrap();
    assert_eq!(created.url, "http://127.0.0.1:9000/hook");
}

#[test]
fn a_ping_is_queued_even_for_a_disabled_endpoint_and_signed_like_any_delivery() {
    let host = TestHost::new();
    let endpoint = create_endpoint(
        &host.ctx(),
        &admin(),
        &EndpointRequest {
            active: Some(false),
            ..request("https://hooks.example.com/in", &["message.created"])
        },
        None,
    )
    .unwrap();
    let row = queue_ping(&host.ctx(), &admin(), endpoint.id).unwrap();
    let job = claim_now(&host).unwrap();
    assert_eq!(job.row_id, row);
    assert_eq!(job.kind, "ping");
    let body = job.payload.clone().unwrap();
    let parsed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(parsed["data"]["endpoint_id"], endpoint.id);
    let now_s = host.clock.now_ms() / 1000;
    let headers = job.headers(&body, now_s);
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).unwrap().1.clone();
    assert_eq!(header("webhook-id"), job.delivery_id);
    assert_eq!(
        signature::verify(
            &endpoint.secret,
            &header("webhook-timestamp"),
            &header("webhook-signature"),
            body.as_bytes(),
            now_s,
            signature::DEFAULT_TOLERANCE_S
        ),
        Ok(())
    );
    assert_eq!(
        delivery(host.ctx().db, row).unwrap().unwrap().status,
        "pending"
    );
    assert!(matches!(
        queue_ping(&host.ctx(), &admin(), 999),
        Err(ChatError::NotFound(_))
    ));
}

#[test]
fn settings_parse_with_defaults() {
    assert_eq!(retry_schedule("").unwrap().attempts(), 7);
    assert_eq!(retry_schedule("5").unwrap().steps(), [5]);
    assert!(retry_schedule("soon").is_err());
    assert_eq!(attempt_timeout_ms(""), DEFAULT_TIMEOUT_MS);
    assert_eq!(attempt_timeout_ms("999999"), MAX_TIMEOUT_MS);
    assert_eq!(attempt_timeout_ms("10"), 1_000);
}
