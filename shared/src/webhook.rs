//! Outgoing webhooks for integrations: admins register endpoints for event types; events become
//! signed deliveries in a durable outbox, sent and retried by the private `webhooks` component.
//!
//! # Layout
//! - This file: the webhook types ([`EventType`]), endpoints and their admin use cases (list,
//!   create, update with enable/disable and secret rotation, delete, test ping, recent
//!   deliveries), and the sender's side of the outbox ([`is_due`], [`claim`], [`record`]) with
//!   the payloads it sends.
//! - [`signature`]: `Webhook-Signature` (HMAC-SHA256 over `"<timestamp>.<body>"`) and its check.
//! - [`address`]: which URLs an endpoint may have (https, public hosts: the SSRF rule).
//!
//! # How an event becomes a delivery
//! Migration 0010's trigger on `events` inserts one `webhook_deliveries` row per active
//! endpoint subscribed to the event's webhook type, in the statement that appends the event:
//! an event and its deliveries commit together, whichever code path wrote the event. The row's
//! `delivery_id` (the `Webhook-Id` header) never changes. The payload is built from the event
//! (and the conversation, contact and message it names) at the first attempt and stored, so
//! every retry sends the same body; only `Webhook-Timestamp` and the signature are new.
//!
//! # Sending
//! A pass [`claim`]s one due row at a time under a lease of [`LEASE_MS`] (longer than an
//! attempt may take), so concurrent passes never send the same row twice; a sender that dies
//! leaves its row to come due again when the lease ends. A 2xx answer is delivered; anything
//! else, a timeout or no connection waits the next step of the retry schedule; after the last
//! step the delivery has failed. Disabling an endpoint cancels what it still had pending;
//! deleting it deletes its deliveries.

pub mod address;
pub mod signature;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::chat::ChatError;
use crate::host::Ctx;
use crate::input::{self, InvalidInput};
use crate::operator::{Operator, Role};
use crate::outbox::RetrySchedule;
use crate::store::{Database, DbError, Row, transaction};

use address::{EndpointUrl, Origin};

/// The most endpoints an app can have. Every matching event is one row per endpoint and each
/// pass sends them one by one, so the number stays small.
pub const MAX_ENDPOINTS: i64 = 10;
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// How long a claimed delivery is its sender's: longer than the longest attempt
/// ([`MAX_TIMEOUT_MS`]) plus recording it.
pub const LEASE_MS: i64 = 60_000;
/// Per-attempt timeout bounds for `webhook_timeout_ms` (connect, first byte, between bytes).
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
pub const MAX_TIMEOUT_MS: u64 = 25_000;
/// Waits between attempts by default: 10 s, 1 min, 5 min, 30 min, 2 h, 6 h (7 attempts over
/// about 8.6 hours).
pub const DEFAULT_RETRY_SCHEDULE: &str = "10000,60000,300000,1800000,7200000,21600000";
/// How many deliveries the admin API lists per endpoint.
pub const RECENT_DELIVERIES: i64 = 50;
/// The longest error text kept with a delivery.
const MAX_ERROR_CHARS: usize = 300;

/// What a webhook tells the receiver happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    ConversationCreated,
    ConversationAssigned,
    ConversationResolved,
    MessageCreated,
    CsatReceived,
}

impl EventType {
    pub const ALL: [EventType; 5] = [
        EventType::ConversationCreated,
        EventType::ConversationAssigned,
        EventType::ConversationResolved,
        EventType::MessageCreated,
        EventType::CsatReceived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ConversationCreated => "conversation.created",
            EventType::ConversationAssigned => "conversation.assigned",
            EventType::ConversationResolved => "conversation.resolved",
            EventType::MessageCreated => "message.created",
            EventType::CsatReceived => "csat.received",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// The type of the deliveries an admin's "send test" queues; never subscribed to.
pub const PING: &str = "ping";

/// The `webhook_retry_schedule_ms` setting; empty means [`DEFAULT_RETRY_SCHEDULE`].
pub fn retry_schedule(setting: &str) -> Result<RetrySchedule, String> {
    RetrySchedule::parse(if setting.trim().is_empty() {
        DEFAULT_RETRY_SCHEDULE
    } else {
        setting
    })
}

/// The `webhook_timeout_ms` setting, within 1 s ..= [`MAX_TIMEOUT_MS`].
pub fn attempt_timeout_ms(setting: &str) -> u64 {
    setting
        .trim()
        .parse::<u64>()
        .unwrap_or(DEFAULT_TIMEOUT_MS)
        .clamp(1_000, MAX_TIMEOUT_MS)
}

// ---------------------------------------------------------------------------------------------
// Endpoints

/// An endpoint as admins see it, secret included (they paste it into the receiver).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub id: i64,
    pub url: String,
    pub secret: String,
    pub events: Vec<String>,
    pub active: bool,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Deliveries still waiting to go out (first attempts and retries).
    pub pending: i64,
    /// The latest finished delivery's status (`delivered`, `failed`, `cancelled`), if any.
    pub last_status: Option<String>,
}

/// `POST /api/admin/webhooks` and `PATCH /api/admin/webhooks/:id` body. Creating needs `url`
/// and `events`; a PATCH changes what it names, and `rotate_secret: true` issues a new secret.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointRequest {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub active: Option<bool>,
    pub description: Option<String>,
    #[serde(default)]
    pub rotate_secret: bool,
}

fn event_types(list: &[String]) -> Result<Vec<EventType>, InvalidInput> {
    let mut parsed: Vec<EventType> = Vec::new();
    for name in list {
        let t = EventType::parse(name.trim()).ok_or_else(|| {
            InvalidInput::new(
                "events",
                format!(
                    "unknown event type {name:?}; the types are {}",
                    EventType::ALL.map(EventType::as_str).join(", ")
                ),
            )
        })?;
        if !parsed.contains(&t) {
            parsed.push(t);
        }
    }
    if parsed.is_empty() {
        return Err(InvalidInput::new(
            "events",
            "choose at least one event type",
        ));
    }
    Ok(parsed)
}

fn description(text: &str) -> Result<String, InvalidInput> {
    input::bounded_text("description", text, 0, MAX_DESCRIPTION_CHARS)
}

/// `whsec_` and 24 random bytes in hex: 192 bits, printable, safe in any config file.
fn new_secret(ctx: &Ctx<'_>) -> String {
    let mut bytes = [0u8; 24];
    ctx.entropy.fill(&mut bytes);
    format!("whsec_{}", crate::channel::signature::hex(&bytes))
}

const ENDPOINTS: &str = "SELECT e.id, e.url, e.secret, e.active, e.description, e.created_at,
            e.updated_at,
            (SELECT COUNT(*) FROM webhook_deliveries d
              WHERE d.endpoint_id = e.id AND d.done_at IS NULL) AS pending,
            (SELECT d.status FROM webhook_deliveries d
              WHERE d.endpoint_id = e.id AND d.done_at IS NOT NULL
              ORDER BY d.done_at DESC, d.id DESC LIMIT 1) AS last_status
       FROM webhook_endpoints e WHERE ?1 IS NULL OR e.id = ?1 ORDER BY e.id";
const SUBSCRIPTIONS: &str =
    "SELECT event_type FROM webhook_subscriptions WHERE endpoint_id = ?1 ORDER BY event_type";
const COUNT_ENDPOINTS: &str = "SELECT COUNT(*) AS n FROM webhook_endpoints";
const INSERT_ENDPOINT: &str =
    "INSERT INTO webhook_endpoints (url, secret, description, active, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?5) RETURNING id";
const UPDATE_ENDPOINT: &str = "UPDATE webhook_endpoints
        SET url = ?2, secret = ?3, description = ?4, active = ?5, updated_at = ?6
      WHERE id = ?1";
const SUBSCRIBE: &str =
    "INSERT INTO webhook_subscriptions (event_type, endpoint_id) VALUES (?1, ?2)";
const UNSUBSCRIBE_ALL: &str = "DELETE FROM webhook_subscriptions WHERE endpoint_id = ?1";
/// Disabling stops what is pending: a receiver that was switched off should not get a burst of
/// old events if it is switched on again.
const CANCEL_PENDING: &str = "UPDATE webhook_deliveries
        SET status = 'cancelled', done_at = ?2, lease_until = NULL,
            last_error = 'the endpoint was disabled'
      WHERE endpoint_id = ?1 AND done_at IS NULL";
const DELETE_DELIVERIES: &str = "DELETE FROM webhook_deliveries WHERE endpoint_id = ?1";
const DELETE_ENDPOINT: &str = "DELETE FROM webhook_endpoints WHERE id = ?1 RETURNING id";

fn endpoint_from_row(db: &dyn Database, row: &Row<'_>) -> Result<Endpoint, DbError> {
    let id = row.i64("id")?;
    let events = db
        .execute(SUBSCRIPTIONS, &[id.into()])?
        .iter()
        .map(|r| r.str("event_type").map(str::to_owned))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Endpoint {
        id,
        url: row.str("url")?.to_owned(),
        secret: row.str("secret")?.to_owned(),
        events,
        active: row.i64("active")? == 1,
        description: row.str("description")?.to_owned(),
        created_at: row.i64("created_at")?,
        updated_at: row.i64("updated_at")?,
        pending: row.i64("pending")?,
        last_status: row.opt_str("last_status")?.map(str::to_owned),
    })
}

fn load(db: &dyn Database, id: Option<i64>) -> Result<Vec<Endpoint>, DbError> {
    db.execute(ENDPOINTS, &[id.into()])?
        .iter()
        .map(|row| endpoint_from_row(db, &row))
        .collect()
}

fn endpoint(db: &dyn Database, id: i64) -> Result<Endpoint, ChatError> {
    load(db, Some(id))?
        .pop()
        .ok_or(ChatError::NotFound("webhook endpoint"))
}

fn subscribe(db: &dyn Database, id: i64, events: &[EventType]) -> Result<(), DbError> {
    db.execute(UNSUBSCRIBE_ALL, &[id.into()])?;
    for event in events {
        db.execute(SUBSCRIBE, &[event.as_str().into(), id.into()])?;
    }
    Ok(())
}

pub fn endpoints(ctx: &Ctx<'_>, admin: &Operator) -> Result<Vec<Endpoint>, ChatError> {
    admin.require(Role::Admin)?;
    Ok(load(ctx.db, None)?)
}

/// Creates an endpoint with a new secret. `trusted` is the `webhook_trusted_origin` setting.
pub fn create_endpoint(
    ctx: &Ctx<'_>,
    admin: &Operator,
    request: &EndpointRequest,
    trusted: Option<&Origin>,
) -> Result<Endpoint, ChatError> {
    admin.require(Role::Admin)?;
    if request.rotate_secret {
        return Err(InvalidInput::new("rotate_secret", "only when changing an endpoint").into());
    }
    let url = EndpointUrl::parse(
        request
            .url
            .as_deref()
            .ok_or_else(|| InvalidInput::new("url", "is required"))?,
        trusted,
    )?;
    let events = event_types(
        request
            .events
            .as_deref()
            .ok_or_else(|| InvalidInput::new("events", "is required"))?,
    )?;
    let description = description(request.description.as_deref().unwrap_or_default())?;
    let secret = new_secret(ctx);
    let now = ctx.clock.now_ms();
    transaction(ctx.db, || {
        let count = ctx
            .db
            .execute(COUNT_ENDPOINTS, &[])?
            .first()
            .map_or(Ok(0), |row| row.i64("n"))?;
        if count >= MAX_ENDPOINTS {
            return Err(ChatError::Conflict(
                "too_many_webhooks",
                format!("at most {MAX_ENDPOINTS} webhook endpoints; delete one first"),
            ));
        }
        let id = ctx
            .db
            .execute(
                INSERT_ENDPOINT,
                &[
                    url.as_str().into(),
                    secret.as_str().into(),
                    description.as_str().into(),
                    i64::from(request.active.unwrap_or(true)).into(),
                    now.into(),
                ],
            )?
            .first()
            .ok_or_else(|| DbError::Decode("INSERT ... RETURNING gave no row".into()))?
            .i64("id")?;
        subscribe(ctx.db, id, &events)?;
        endpoint(ctx.db, id)
    })
}

/// Changes what the request names; disabling cancels the endpoint's pending deliveries.
pub fn update_endpoint(
    ctx: &Ctx<'_>,
    admin: &Operator,
    id: i64,
    request: &EndpointRequest,
    trusted: Option<&Origin>,
) -> Result<Endpoint, ChatError> {
    admin.require(Role::Admin)?;
    let url = request
        .url
        .as_deref()
        .map(|url| EndpointUrl::parse(url, trusted))
        .transpose()?;
    let events = request.events.as_deref().map(event_types).transpose()?;
    let description = request
        .description
        .as_deref()
        .map(description)
        .transpose()?;
    let secret = request.rotate_secret.then(|| new_secret(ctx));
    let now = ctx.clock.now_ms();
    transaction(ctx.db, || {
        let current = endpoint(ctx.db, id)?;
        let active = request.active.unwrap_or(current.active);
        ctx.db.execute(
            UPDATE_ENDPOINT,
            &[
                id.into(),
                url.as_ref()
                    .map_or(current.url.as_str(), EndpointUrl::as_str)
                    .into(),
                secret.as_deref().unwrap_or(&current.secret).into(),
                description
                    .as_deref()
                    .unwrap_or(&current.description)
                    .into(),
                i64::from(active).into(),
                now.into(),
            ],
        )?;
        if let Some(events) = &events {
            subscribe(ctx.db, id, events)?;
        }
        if !active {
            ctx.db.execute(CANCEL_PENDING, &[id.into(), now.into()])?;
        }
        endpoint(ctx.db, id)
    })
}

pub fn delete_endpoint(ctx: &Ctx<'_>, admin: &Operator, id: i64) -> Result<(), ChatError> {
    admin.require(Role::Admin)?;
    transaction(ctx.db, || {
        ctx.db.execute(DELETE_DELIVERIES, &[id.into()])?;
        ctx.db.execute(UNSUBSCRIBE_ALL, &[id.into()])?;
        if ctx.db.execute(DELETE_ENDPOINT, &[id.into()])?.is_empty() {
            return Err(ChatError::NotFound("webhook endpoint"));
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Deliveries as admins see them

/// One delivery in an endpoint's recent list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The `Webhook-Id` header (stable across retries).
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending`, `delivered`, `failed` or `cancelled`.
    pub status: String,
    pub attempts: i64,
    /// The receiver's HTTP status on the latest attempt (none when it could not be reached).
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<i64>,
    pub event_id: Option<i64>,
    pub created_at: i64,
    pub done_at: Option<i64>,
}

const DELIVERY_COLUMNS: &str = "id, delivery_id, type, status, attempts, last_status,
     last_error, next_attempt_at, event_id, created_at, done_at";

fn delivery_from_row(row: &Row<'_>) -> Result<Delivery, DbError> {
    let status = row.str("status")?.to_owned();
    Ok(Delivery {
        id: row.str("delivery_id")?.to_owned(),
        kind: row.str("type")?.to_owned(),
        attempts: row.i64("attempts")?,
        last_status: row.opt_i64("last_status")?,
        last_error: row.opt_str("last_error")?.map(str::to_owned),
        next_attempt_at: if status == "pending" {
            Some(row.i64("next_attempt_at")?)
        } else {
            None
        },
        event_id: row.opt_i64("event_id")?,
        created_at: row.i64("created_at")?,
        done_at: row.opt_i64("done_at")?,
        status,
    })
}

/// The endpoint's latest [`RECENT_DELIVERIES`] deliveries, newest first.
pub fn deliveries(ctx: &Ctx<'_>, admin: &Operator, id: i64) -> Result<Vec<Delivery>, ChatError> {
    admin.require(Role::Admin)?;
    endpoint(ctx.db, id)?;
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = ?1
          ORDER BY id DESC LIMIT ?2"
    );
    Ok(ctx
        .db
        .execute(&sql, &[id.into(), RECENT_DELIVERIES.into()])?
        .iter()
        .map(|row| delivery_from_row(&row))
        .collect::<Result<_, _>>()?)
}

/// One delivery by its row, for showing a test ping's outcome after a send pass.
pub fn delivery(db: &dyn Database, row_id: i64) -> Result<Option<Delivery>, DbError> {
    let sql = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?1");
    db.execute(&sql, &[row_id.into()])?
        .first()
        .map(|row| delivery_from_row(&row))
        .transpose()
}

const INSERT_PING: &str = "INSERT INTO webhook_deliveries
        (delivery_id, endpoint_id, type, payload, next_attempt_at, created_at)
     VALUES (?1, ?2, 'ping', ?3, ?4, ?4) RETURNING id";

/// Queues a `ping` to an endpoint (enabled or not: testing a disabled one before switching it
/// on is the point). Returns the delivery's row id.
pub fn queue_ping(ctx: &Ctx<'_>, admin: &Operator, id: i64) -> Result<i64, ChatError> {
    admin.require(Role::Admin)?;
    let mut random = [0u8; 16];
    ctx.entropy.fill(&mut random);
    let delivery_id = format!("wh_{}", crate::channel::signature::hex(&random));
    let now = ctx.clock.now_ms();
    let payload = json!({
        "id": delivery_id,
        "type": PING,
        "occurred_at": now,
        "data": {
            "endpoint_id": id,
            "message": "A test from the live-chat admin screen. Answer 2xx to mark it delivered.",
        },
    })
    .to_string();
    transaction(ctx.db, || {
        endpoint(ctx.db, id)?;
        Ok(ctx
            .db
            .execute(
                INSERT_PING,
                &[
                    delivery_id.as_str().into(),
                    id.into(),
                    payload.as_str().into(),
                    now.into(),
                ],
            )?
            .first()
            .ok_or_else(|| DbError::Decode("INSERT ... RETURNING gave no row".into()))?
            .i64("id")?)
    })
}

// ---------------------------------------------------------------------------------------------
// The sender's side

/// A delivery claimed for one attempt, with what sending it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub row_id: i64,
    pub delivery_id: String,
    pub endpoint_id: i64,
    pub url: String,
    pub secret: String,
    pub kind: String,
    /// `None` when what the event names is gone: the delivery fails without an attempt.
    pub payload: Option<String>,
    /// Including this one.
    pub attempts: i64,
}

impl Job {
    /// The headers of this attempt at unix time `now_s` (the signature is over this body at
    /// this time).
    pub fn headers(&self, body: &str, now_s: i64) -> Vec<(String, String)> {
        vec![
            ("content-type".into(), "application/json".into()),
            ("user-agent".into(), "livechat-webhooks/1".into()),
            ("webhook-id".into(), self.delivery_id.clone()),
            ("webhook-timestamp".into(), now_s.to_string()),
            (
                "webhook-signature".into(),
                signature::sign(&self.secret, now_s, body.as_bytes()),
            ),
        ]
    }
}

const DUE: &str = "SELECT 1 AS due FROM webhook_deliveries
     WHERE done_at IS NULL AND next_attempt_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)
     LIMIT 1";
const CLAIM: &str = "UPDATE webhook_deliveries SET lease_until = ?1 + ?2, attempts = attempts + 1
     WHERE id = (SELECT d.id FROM webhook_deliveries d
                   JOIN webhook_endpoints e ON e.id = d.endpoint_id
                  WHERE d.done_at IS NULL AND d.next_attempt_at <= ?1
                    AND (d.lease_until IS NULL OR d.lease_until <= ?1)
                  ORDER BY d.next_attempt_at, d.id LIMIT 1)
     RETURNING id, delivery_id, endpoint_id, event_id, type, payload, attempts";
const ENDPOINT_TARGET: &str = "SELECT url, secret FROM webhook_endpoints WHERE id = ?1";
const SET_PAYLOAD: &str =
    "UPDATE webhook_deliveries SET payload = COALESCE(payload, ?2) WHERE id = ?1 RETURNING payload";

/// Whether any delivery is due now (one read of a partial index; callers skip the hop to the
/// `webhooks` component when not).
pub fn is_due(db: &dyn Database, now: i64) -> Result<bool, DbError> {
    Ok(!db.execute(DUE, &[now.into()])?.is_empty())
}

/// Claims the most overdue delivery for [`LEASE_MS`], writing its payload on its first
/// attempt; call inside a write transaction.
pub fn claim(db: &dyn Database, now: i64) -> Result<Option<Job>, DbError> {
    let rows = db.execute(CLAIM, &[now.into(), LEASE_MS.into()])?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let row_id = row.i64("id")?;
    let endpoint_id = row.i64("endpoint_id")?;
    let delivery_id = row.str("delivery_id")?.to_owned();
    let kind = row.str("type")?.to_owned();
    let body = match row.opt_str("payload")? {
        Some(stored) => Some(stored.to_owned()),
        None => match row.opt_i64("event_id")? {
            Some(event_id) => match payload(db, &delivery_id, &kind, event_id)? {
                Some(built) => db
                    .execute(SET_PAYLOAD, &[row_id.into(), built.into()])?
                    .first()
                    .map(|r| r.str("payload").map(str::to_owned))
                    .transpose()?,
                None => None,
            },
            None => None,
        },
    };
    let target = db.execute(ENDPOINT_TARGET, &[endpoint_id.into()])?;
    let target = target
        .first()
        .ok_or_else(|| DbError::Decode(format!("delivery for missing endpoint {endpoint_id}")))?;
    Ok(Some(Job {
        row_id,
        delivery_id,
        endpoint_id,
        url: target.str("url")?.to_owned(),
        secret: target.str("secret")?.to_owned(),
        kind,
        payload: body,
        attempts: row.i64("attempts")?,
    }))
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx.
    Delivered(u16),
    /// Another status, a timeout or no connection: retried while the schedule lasts.
    Failed { status: Option<u16>, error: String },
    /// Not worth retrying: the URL is no longer allowed, or the event's subject is gone.
    Refused(String),
}

impl Outcome {
    /// An HTTP answer's outcome; `body` (the receiver's answer) becomes the error text.
    pub fn from_answer(status: u16, body: &[u8]) -> Outcome {
        if (200..300).contains(&status) {
            return Outcome::Delivered(status);
        }
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        Outcome::Failed {
            status: Some(status),
            error: if text.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {text}")
            },
        }
    }
}

fn clip(text: &str) -> String {
    let clipped: String = text.chars().take(MAX_ERROR_CHARS).collect();
    if clipped.len() < text.len() {
        format!("{clipped}…")
    } else {
        clipped
    }
}

const DELIVERED: &str = "UPDATE webhook_deliveries
        SET status = 'delivered', done_at = ?2, lease_until = NULL, last_status = ?3,
            last_error = NULL
      WHERE id = ?1";
const FAILED: &str = "UPDATE webhook_deliveries
        SET status = 'failed', done_at = ?2, lease_until = NULL, last_status = ?3, last_error = ?4
      WHERE id = ?1";
/// Only while still pending: a delivery cancelled during its attempt stays cancelled.
const AGAIN: &str = "UPDATE webhook_deliveries
        SET next_attempt_at = ?2, lease_until = NULL, last_status = ?3, last_error = ?4
      WHERE id = ?1 AND done_at IS NULL";

/// Records one attempt; call inside a write transaction. Returns the delivery's status after it.
pub fn record(
    db: &dyn Database,
    job: &Job,
    outcome: &Outcome,
    schedule: &RetrySchedule,
    now: i64,
) -> Result<&'static str, DbError> {
    match outcome {
        Outcome::Delivered(status) => {
            db.execute(
                DELIVERED,
                &[job.row_id.into(), now.into(), i64::from(*status).into()],
            )?;
            Ok("delivered")
        }
        Outcome::Failed { status, error } if job.attempts < schedule.attempts() => {
            let wait = schedule
                .steps()
                .get((job.attempts - 1).max(0) as usize)
                .copied()
                .unwrap_or(0);
            let note = format!(
                "attempt {} of {} failed ({error}); retrying in {} s",
                job.attempts,
                schedule.attempts(),
                (wait + 999) / 1000
            );
            db.execute(
                AGAIN,
                &[
                    job.row_id.into(),
                    (now + wait).into(),
                    status.map(i64::from).into(),
                    clip(&note).into(),
                ],
            )?;
            Ok("pending")
        }
        Outcome::Failed { status, error } => {
            let note = format!("gave up after {} attempts: {error}", job.attempts);
            db.execute(
                FAILED,
                &[
                    job.row_id.into(),
                    now.into(),
                    status.map(i64::from).into(),
                    clip(&note).into(),
                ],
            )?;
            Ok("failed")
        }
        Outcome::Refused(error) => {
            db.execute(
                FAILED,
                &[
                    job.row_id.into(),
                    now.into(),
                    None::<i64>.into(),
                    clip(error).into(),
                ],
            )?;
            Ok("failed")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Payloads

const EVENT: &str = "SELECT conversation_id, kind, data, created_at FROM events WHERE id = ?1";
const CONVERSATION: &str = "SELECT c.id, c.channel, c.created_at, c.topic, c.language,
            c.team_id, t.name AS team_name, k.id AS contact_id, k.name AS contact_name,
            k.email AS contact_email, k.phone AS contact_phone
       FROM conversations c JOIN contacts k ON k.id = c.contact_id
       LEFT JOIN teams t ON t.id = c.team_id
      WHERE c.id = ?1";
const MESSAGE: &str = "SELECT m.id, m.author, m.sender, m.channel, m.body, m.created_at,
            m.operator_id, o.name AS operator_name
       FROM messages m LEFT JOIN operators o ON o.id = m.operator_id
      WHERE m.id = ?1";
const ATTACHMENTS: &str =
    "SELECT id, name, content_type, size FROM attachments WHERE message_id = ?1 ORDER BY id";

fn text(row: &Row<'_>, column: &str) -> Result<Value, DbError> {
    Ok(row.opt_str(column)?.map_or(Value::Null, |s| json!(s)))
}

fn number(row: &Row<'_>, column: &str) -> Result<Value, DbError> {
    Ok(row.opt_i64(column)?.map_or(Value::Null, |n| json!(n)))
}

/// The conversation as receivers see it: who the customer is, where they came from, which team
/// has it. Read at the first attempt.
fn conversation(db: &dyn Database, id: i64) -> Result<Option<Value>, DbError> {
    let rows = db.execute(CONVERSATION, &[id.into()])?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let team = match row.opt_i64("team_id")? {
        Some(team_id) => json!({ "id": team_id, "name": text(&row, "team_name")? }),
        None => Value::Null,
    };
    Ok(Some(json!({
        "id": row.i64("id")?,
        "channel": row.str("channel")?,
        "created_at": row.i64("created_at")?,
        "topic": text(&row, "topic")?,
        "language": text(&row, "language")?,
        "team": team,
        "contact": {
            "id": row.i64("contact_id")?,
            "name": text(&row, "contact_name")?,
            "email": text(&row, "contact_email")?,
            "phone": text(&row, "contact_phone")?,
        },
    })))
}

fn message(db: &dyn Database, id: i64) -> Result<Option<Value>, DbError> {
    let rows = db.execute(MESSAGE, &[id.into()])?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let operator = match row.opt_i64("operator_id")? {
        Some(operator_id) => json!({ "id": operator_id, "name": text(&row, "operator_name")? }),
        None => Value::Null,
    };
    let attachments = db
        .execute(ATTACHMENTS, &[id.into()])?
        .iter()
        .map(|a| {
            Ok(json!({
                "id": a.i64("id")?,
                "name": text(&a, "name")?,
                "content_type": text(&a, "content_type")?,
                "size": number(&a, "size")?,
            }))
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok(Some(json!({
        "id": row.i64("id")?,
        "author": row.str("author")?,
        "sender": text(&row, "sender")?,
        "operator": operator,
        "channel": row.str("channel")?,
        "body": row.str("body")?,
        "created_at": row.i64("created_at")?,
        "attachments": attachments,
    })))
}

/// `{id, name}` from an event's data, or null.
fn person(value: &Value) -> Value {
    match value.get("id").and_then(Value::as_i64) {
        Some(id) => json!({ "id": id, "name": value.get("name").cloned().unwrap_or(Value::Null) }),
        None => Value::Null,
    }
}

/// The body of a delivery of type `kind` for event `event_id`: `{id, type, occurred_at, data}`,
/// with only what integrations need (no cursors, versions, client ids or delivery internals).
/// `None` when the event or what it names is gone.
pub fn payload(
    db: &dyn Database,
    delivery_id: &str,
    kind: &str,
    event_id: i64,
) -> Result<Option<String>, DbError> {
    let rows = db.execute(EVENT, &[event_id.into()])?;
    let Some(event) = rows.first() else {
        return Ok(None);
    };
    let data: Value = serde_json::from_str(event.str("data")?)
        .map_err(|e| DbError::Decode(format!("event {event_id} data: {e}")))?;
    let Some(conversation) = conversation(db, event.i64("conversation_id")?)? else {
        return Ok(None);
    };
    let field = |name: &str| data.get(name).cloned().unwrap_or(Value::Null);
    let body = match EventType::parse(kind) {
        Some(EventType::ConversationCreated) => json!({ "conversation": conversation }),
        Some(EventType::ConversationAssigned) => json!({
            "conversation": conversation,
            "assignee": person(&field("to")),
            "previous_assignee": person(&field("from")),
            "assigned_by": person(&field("by")),
            "reason": field("reason"),
        }),
        Some(EventType::ConversationResolved) => json!({
            "conversation": conversation,
            "resolved_by": person(&field("by")),
            "reason": field("reason"),
        }),
        Some(EventType::MessageCreated) => {
            let message_id = data
                .pointer("/message/id")
                .and_then(Value::as_i64)
                .ok_or_else(|| DbError::Decode(format!("event {event_id} names no message")))?;
            let Some(message) = message(db, message_id)? else {
                return Ok(None);
            };
            json!({ "conversation": conversation, "message": message })
        }
        Some(EventType::CsatReceived) => json!({
            "conversation": conversation,
            "rating": field("rating"),
            "comment": field("comment"),
            "channel": field("channel"),
            "operator_id": field("operator_id"),
        }),
        None => return Ok(None),
    };
    Ok(Some(
        json!({
            "id": delivery_id,
            "type": kind,
            "occurred_at": event.i64("created_at")?,
            "data": body,
        })
        .to_string(),
    ))
}

#[cfg(test)]
mod tests;
