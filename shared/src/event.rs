//! The append-only event log behind real-time delivery, and the long-poll wait over it.
//!
//! Every change a client must see (a message, typing, a read receipt, a new conversation) is a
//! row in `events`, written in the same transaction as the change itself. Clients read with a
//! cursor (the last id they saw), which makes delivery ordered and loss-free across reconnects:
//! SQLite commits ids in order, so nothing can appear below a cursor later.
//!
//! Waiting cheaply: after committing, writers stamp a *change marker* in the key-value store
//! (one per conversation and one for the whole inbox). A waiting request re-reads SQLite only
//! when its marker changed, checking the marker often right after a change, less often as the
//! conversation cools, and rarely when it is cold ([`check_interval_ms`]). DESIGN.md section 6
//! has the costs that set these numbers.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::host::Ctx;
use crate::store::{Database, DbError, Row};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    ConversationCreated,
    MessageCreated,
    Typing,
    Read,
    ConversationStatus,
    ConversationAssigned,
    ConversationTransferred,
    ConversationTagged,
    ConversationUntagged,
    NoteCreated,
    ContactUpdated,
    ContactMerged,
    ConversationClassified,
    MessageDelivery,
    MessageAttachment,
    AssistantHandoff,
    AssistantResumed,
    AssistantSummary,
    /// A satisfaction survey shown in the widget (public: the widget shows the prompt).
    CsatRequested,
    /// A customer's satisfaction rating (reports and webhooks read it; see [`crate::csat`]).
    CsatReceived,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ConversationCreated => "conversation.created",
            EventKind::MessageCreated => "message.created",
            EventKind::Typing => "typing",
            EventKind::Read => "read",
            EventKind::ConversationStatus => "conversation.status",
            EventKind::ConversationAssigned => "conversation.assigned",
            EventKind::ConversationTransferred => "conversation.transferred",
            EventKind::ConversationTagged => "conversation.tagged",
            EventKind::ConversationUntagged => "conversation.untagged",
            EventKind::NoteCreated => "note.created",
            EventKind::ContactUpdated => "contact.updated",
            EventKind::ContactMerged => "contact.merged",
            EventKind::ConversationClassified => "conversation.classified",
            EventKind::MessageDelivery => "message.delivery",
            EventKind::MessageAttachment => "message.attachment",
            EventKind::AssistantHandoff => "assistant.handoff",
            EventKind::AssistantResumed => "assistant.resumed",
            EventKind::AssistantSummary => "assistant.summary",
            EventKind::CsatRequested => "csat.requested",
            EventKind::CsatReceived => "csat.received",
        }
    }
}

/// Who may see an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// The conversation's visitor and every operator.
    Public,
    /// Operators only.
    Internal,
}

impl Visibility {
    fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Internal => "internal",
        }
    }
}

/// An event as clients receive it. `data` is the JSON stored with it, passed through untouched.
#[derive(Debug, Serialize)]
pub struct Event {
    pub id: i64,
    pub conversation_id: i64,
    pub kind: String,
    pub at: i64,
    pub data: Box<RawValue>,
}

impl Event {
    fn from_row(row: &Row<'_>) -> Result<Event, DbError> {
        let data = RawValue::from_string(row.str("data")?.to_owned())
            .map_err(|e| DbError::Decode(format!("event data is not JSON: {e}")))?;
        Ok(Event {
            id: row.i64("id")?,
            conversation_id: row.i64("conversation_id")?,
            kind: row.str("kind")?.to_owned(),
            at: row.i64("created_at")?,
            data,
        })
    }
}

/// Whose events a reader may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// A visitor: public events of one conversation.
    Visitor { conversation_id: i64 },
    /// Operators: every event of every conversation.
    Operators,
}

impl Audience {
    fn marker_key(self) -> String {
        match self {
            Audience::Visitor { conversation_id } => conversation_marker(conversation_id),
            Audience::Operators => INBOX_MARKER.to_owned(),
        }
    }
}

/// The most events one read returns; a client with more to catch up on reads again at once.
pub const PAGE_SIZE: i64 = 100;

const INSERT: &str = "INSERT INTO events (conversation_id, kind, visibility, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id";
const FOR_VISITOR: &str = "SELECT id, conversation_id, kind, data, created_at FROM events
     WHERE conversation_id = ?1 AND visibility = 'public' AND id > ?2 ORDER BY id LIMIT ?3";
const FOR_OPERATORS: &str = "SELECT id, conversation_id, kind, data, created_at FROM events WHERE id > ?1 ORDER BY id LIMIT ?2";
const LATEST_FOR_VISITOR: &str = "SELECT COALESCE(MAX(id), 0) AS id FROM events WHERE conversation_id = ?1 AND visibility = 'public'";
const LATEST: &str = "SELECT COALESCE(MAX(id), 0) AS id FROM events";

/// Appends an event; call inside the transaction that makes the change it describes, then call
/// [`announce`] after the commit.
pub fn append(
    db: &dyn Database,
    conversation_id: i64,
    kind: EventKind,
    visibility: Visibility,
    data: &impl Serialize,
    now: i64,
) -> Result<i64, DbError> {
    let data =
        serde_json::to_string(data).map_err(|e| DbError::Decode(format!("event data: {e}")))?;
    let rows = db.execute(
        INSERT,
        &[
            conversation_id.into(),
            kind.as_str().into(),
            visibility.as_str().into(),
            data.into(),
            now.into(),
        ],
    )?;
    rows.first()
        .ok_or_else(|| DbError::Decode("INSERT ... RETURNING gave no row".into()))?
        .i64("id")
}

/// Appends the same event to several conversations (a contact's edit, a merge). Returns each
/// conversation with its event id, for [`announce_each`] after the commit.
pub fn append_each(
    db: &dyn Database,
    conversation_ids: impl IntoIterator<Item = i64>,
    kind: EventKind,
    visibility: Visibility,
    data: &impl Serialize,
    now: i64,
) -> Result<Vec<(i64, i64)>, DbError> {
    conversation_ids
        .into_iter()
        .map(|id| Ok((id, append(db, id, kind, visibility, data, now)?)))
        .collect()
}

/// [`announce`] for what [`append_each`] wrote.
pub fn announce_each(ctx: &Ctx<'_>, appended: &[(i64, i64)]) {
    for (conversation_id, event_id) in appended {
        announce(ctx, *conversation_id, &format!("e{event_id}"));
    }
}

/// Events after `cursor` that `audience` may see, oldest first, at most [`PAGE_SIZE`].
pub fn after(db: &dyn Database, audience: Audience, cursor: i64) -> Result<Vec<Event>, DbError> {
    let rows = match audience {
        Audience::Visitor { conversation_id } => db.execute(
            FOR_VISITOR,
            &[conversation_id.into(), cursor.into(), PAGE_SIZE.into()],
        )?,
        Audience::Operators => db.execute(FOR_OPERATORS, &[cursor.into(), PAGE_SIZE.into()])?,
    };
    rows.iter().map(|row| Event::from_row(&row)).collect()
}

/// What a conversation's timeline shows besides messages.
const TIMELINE: &str = "SELECT id, conversation_id, kind, data, created_at FROM (
        SELECT id, conversation_id, kind, data, created_at FROM events
         WHERE conversation_id = ?1
           AND kind IN ('note.created', 'conversation.status', 'conversation.assigned',
                        'conversation.transferred', 'conversation.tagged',
                        'conversation.untagged', 'contact.merged',
                        'conversation.classified', 'assistant.handoff', 'assistant.resumed',
                        'assistant.summary', 'csat.received')
         ORDER BY id DESC LIMIT ?2)
     ORDER BY id";

/// The newest `limit` timeline events of a conversation (notes, status, assignment, transfer,
/// tags, merges, topic detection, satisfaction ratings), oldest first. Operators only.
pub fn timeline(
    db: &dyn Database,
    conversation_id: i64,
    limit: i64,
) -> Result<Vec<Event>, DbError> {
    db.execute(TIMELINE, &[conversation_id.into(), limit.into()])?
        .iter()
        .map(|row| Event::from_row(&row))
        .collect()
}

/// The cursor a client starts from after loading a snapshot: the newest event it may see.
pub fn latest_cursor(db: &dyn Database, audience: Audience) -> Result<i64, DbError> {
    let rows = match audience {
        Audience::Visitor { conversation_id } => {
            db.execute(LATEST_FOR_VISITOR, &[conversation_id.into()])?
        }
        Audience::Operators => db.execute(LATEST, &[])?,
    };
    rows.first().map_or(Ok(0), |row| row.i64("id"))
}

const INBOX_MARKER: &str = "events:inbox";

fn conversation_marker(conversation_id: i64) -> String {
    format!("events:conversation:{conversation_id}")
}

/// Tells waiting readers that `conversation_id` has new events, after they are committed.
/// `change` must never repeat (e.g. `m<message id>`): waiters compare markers for inequality, so
/// a unique value cannot be mistaken for one they already saw. Best effort: a missed marker only
/// delays delivery until the waiter's periodic re-read, never loses anything.
pub fn announce(ctx: &Ctx<'_>, conversation_id: i64, change: &str) {
    // The time tells waiters the conversation is hot.
    let value = format!("{change}:{}", ctx.clock.now_ms());
    let _ = ctx
        .kv
        .set(&conversation_marker(conversation_id), value.as_bytes());
    let _ = ctx.kv.set(INBOX_MARKER, value.as_bytes());
}

/// A conversation counts as hot for this long after its last event: an answer is most likely
/// now (a reply after a question, a message after typing).
pub const HOT_WINDOW_MS: i64 = 2_000;
/// ... and as warm for this long: people are still in the conversation.
pub const WARM_WINDOW_MS: i64 = 30_000;
/// How often a waiter checks its marker while hot, warm and cold.
pub const HOT_CHECK_MS: u64 = 40;
pub const WARM_CHECK_MS: u64 = 100;
pub const COLD_CHECK_MS: u64 = 250;

/// How long a waiter sleeps between marker checks, given when its marker last changed.
///
/// Every check wakes the waiting request, so the interval sets the cost of waiting: 500 open
/// conversations checked every 40 ms is 12,500 wake-ups a second, which under the sustained-load
/// run crowded out the requests doing real work (and the transactions holding SQLite's write
/// lock). Checking every 40 ms only in the two seconds after a change, when an answer is most
/// likely, keeps delivery fast where it shows, and a conversation between messages (a customer
/// reading, an operator typing a long answer: typing re-heats it) costs 2.5 times less.
pub fn check_interval_ms(changed_at: Option<i64>, now: i64) -> u64 {
    match changed_at.map(|at| now - at) {
        Some(age) if age < HOT_WINDOW_MS => HOT_CHECK_MS,
        Some(age) if age < WARM_WINDOW_MS => WARM_CHECK_MS,
        _ => COLD_CHECK_MS,
    }
}
/// A waiter re-reads SQLite at least this often even if no marker changed, so a lost marker
/// (key-value outage, eviction) delays delivery by at most this much.
pub const RESYNC_MS: i64 = 5_000;
/// The longest a request may wait. Hosted Spin stops handlers at 30 s.
pub const MAX_WAIT_MS: i64 = 25_000;

fn marker_changed_at(marker: &Option<Vec<u8>>) -> Option<i64> {
    let text = std::str::from_utf8(marker.as_deref()?).ok()?;
    text.rsplit_once(':')?.1.parse().ok()
}

/// Returns the events after `cursor` for `audience`, waiting up to `wait_ms` for the first one.
pub fn wait_for(
    ctx: &Ctx<'_>,
    audience: Audience,
    cursor: i64,
    wait_ms: i64,
) -> Result<Vec<Event>, DbError> {
    let deadline = ctx.clock.now_ms() + wait_ms.clamp(0, MAX_WAIT_MS);
    let key = audience.marker_key();
    loop {
        // Read the marker before the events: a change committed after this read moves the marker
        // past this value, so it cannot slip between the query and the wait.
        let marker = ctx.kv.get(&key).ok().flatten();
        let events = after(ctx.db, audience, cursor)?;
        let read_at = ctx.clock.now_ms();
        if !events.is_empty() || read_at >= deadline {
            return Ok(events);
        }
        loop {
            let now = ctx.clock.now_ms();
            let step = check_interval_ms(marker_changed_at(&marker), now);
            let remaining = (deadline - now).max(0) as u64;
            ctx.clock.sleep_ms(step.min(remaining));
            let now = ctx.clock.now_ms();
            if now >= deadline || now - read_at >= RESYNC_MS {
                break;
            }
            match ctx.kv.get(&key) {
                Ok(current) if current == marker => continue,
                _ => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_check_often_right_after_a_change_and_less_as_it_cools() {
        let now = 1_000_000;
        assert_eq!(check_interval_ms(Some(now), now), HOT_CHECK_MS);
        assert_eq!(check_interval_ms(Some(now - 1_999), now), HOT_CHECK_MS);
        assert_eq!(check_interval_ms(Some(now - 2_000), now), WARM_CHECK_MS);
        assert_eq!(check_interval_ms(Some(now - 29_999), now), WARM_CHECK_MS);
        assert_eq!(check_interval_ms(Some(now - 30_000), now), COLD_CHECK_MS);
        assert_eq!(check_interval_ms(None, now), COLD_CHECK_MS, "never changed");
        assert!(HOT_CHECK_MS < WARM_CHECK_MS && WARM_CHECK_MS < COLD_CHECK_MS);
    }

    #[test]
    fn the_marker_carries_when_it_changed() {
        assert_eq!(marker_changed_at(&Some(b"m12:1700".to_vec())), Some(1700));
        assert_eq!(marker_changed_at(&Some(b"garbage".to_vec())), None);
        assert_eq!(marker_changed_at(&None), None);
    }
}
