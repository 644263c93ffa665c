//! What each conversation did, folded from the event log, for reports.
//!
//! Reports never read request handlers' state: they read `conversation_facts` and
//! `assignment_spans` (migration 0009), which [`catch_up`] derives from the append-only
//! `events` table in id order, remembering how far it got (`report_progress`). Any report can
//! therefore be recomputed from the log, and a fact means exactly what its event meant:
//!
//! | event | fact |
//! |---|---|
//! | `message.created`, customer | `first_customer_at`, `last_customer_at` |
//! | `message.created`, operator | `first_human_reply_at` (and its business-hours time), `first_answer_at` |
//! | `message.created`, the assistant's answer | `bot_answered`, `first_answer_at` |
//! | `assistant.handoff` | `handoff_at` |
//! | `conversation.assigned` to someone | `first_assigned_at`, the assignee, a new assignment span |
//! | `conversation.assigned` to nobody | the span ends |
//! | `conversation.transferred` | `transfers`, the span ends (a new one for an operator target) |
//! | `conversation.status` to resolved | `resolutions`, `first_resolved_at`, `resolved_at`, the span ends |
//! | `conversation.status` from resolved | `reopened_at` (first time), `resolved_at` cleared, the assignee's span resumes |
//! | `csat.received` | `csat`, `csat_at` |
//!
//! The fold is incremental and idempotent in effect: each batch (at most [`BATCH`] events) is
//! read, applied in memory and written back in one write transaction that also moves the
//! progress marker, so a batch is either folded once or not at all.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::hours::{self, BusinessHours};
use crate::store::{Database, DbError, SqlValue, transaction};

/// Events folded per transaction.
pub const BATCH: i64 = 5_000;

/// The event kinds the facts depend on.
const KINDS: &str = "'message.created', 'assistant.handoff', 'conversation.assigned',
     'conversation.transferred', 'conversation.status', 'csat.received'";

const PROGRESS: &str = "SELECT last_event_id FROM report_progress WHERE id = 1";
const LATEST_EVENT: &str = "SELECT COALESCE(MAX(id), 0) AS id FROM events";
const SET_PROGRESS: &str = "UPDATE report_progress SET last_event_id = ?1 WHERE id = 1";
const FACTS: &str = "SELECT f.*, c.team_id AS team_id FROM conversation_facts f
       JOIN conversations c ON c.id = f.conversation_id
      WHERE f.conversation_id IN (SELECT value FROM json_each(?1))";
const NEW_FACTS: &str = "SELECT id AS conversation_id, created_at, channel, team_id
       FROM conversations WHERE id IN (SELECT value FROM json_each(?1))";
const OPEN_SPANS: &str = "SELECT id, conversation_id, operator_id FROM assignment_spans
      WHERE ended_at IS NULL AND conversation_id IN (SELECT value FROM json_each(?1))";
const SAVE_FACTS: &str = "INSERT INTO conversation_facts (conversation_id, created_at, channel,
        first_customer_at, handoff_at, bot_answered, first_assigned_at, first_human_reply_at,
        first_response_business_ms, first_resolved_at, reopened_at, resolved_at, resolutions,
        transfers, operator_id, operators, last_customer_at, first_answer_at, csat, csat_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
     ON CONFLICT (conversation_id) DO UPDATE SET
        first_customer_at = excluded.first_customer_at, handoff_at = excluded.handoff_at,
        bot_answered = excluded.bot_answered, first_assigned_at = excluded.first_assigned_at,
        first_human_reply_at = excluded.first_human_reply_at,
        first_response_business_ms = excluded.first_response_business_ms,
        first_resolved_at = excluded.first_resolved_at, reopened_at = excluded.reopened_at,
        resolved_at = excluded.resolved_at, resolutions = excluded.resolutions,
        transfers = excluded.transfers, operator_id = excluded.operator_id,
        operators = excluded.operators, last_customer_at = excluded.last_customer_at,
        first_answer_at = excluded.first_answer_at, csat = excluded.csat, csat_at = excluded.csat_at";
const START_SPAN: &str = "INSERT INTO assignment_spans (conversation_id, operator_id, started_at)
     VALUES (?1, ?2, ?3)";
const END_SPAN: &str = "UPDATE assignment_spans SET ended_at = ?2 WHERE id = ?1";
const END_NEW_SPAN: &str = "UPDATE assignment_spans SET ended_at = ?3
      WHERE conversation_id = ?1 AND operator_id = ?2 AND ended_at IS NULL";

/// One conversation's facts while folding.
#[derive(Debug, Clone, Default, PartialEq)]
struct Facts {
    conversation_id: i64,
    created_at: i64,
    channel: String,
    team_id: Option<i64>,
    first_customer_at: Option<i64>,
    handoff_at: Option<i64>,
    bot_answered: bool,
    first_assigned_at: Option<i64>,
    first_human_reply_at: Option<i64>,
    first_response_business_ms: Option<i64>,
    first_resolved_at: Option<i64>,
    reopened_at: Option<i64>,
    resolved_at: Option<i64>,
    resolutions: i64,
    transfers: i64,
    operator_id: Option<i64>,
    operators: BTreeSet<i64>,
    last_customer_at: Option<i64>,
    first_answer_at: Option<i64>,
    csat: Option<i64>,
    csat_at: Option<i64>,
    /// The assignment span open now: (its row id if stored, operator).
    open_span: Option<(Option<i64>, i64)>,
}

impl Facts {
    fn from_row(row: &crate::store::Row<'_>) -> Result<Facts, DbError> {
        let operators: Vec<i64> = match row.opt_str("operators")? {
            Some(text) => serde_json::from_str(text)
                .map_err(|e| DbError::Decode(format!("facts operators: {e}")))?,
            None => Vec::new(),
        };
        let opt = |c: &str| row.opt_i64(c).ok().flatten();
        Ok(Facts {
            conversation_id: row.i64("conversation_id")?,
            created_at: row.i64("created_at")?,
            channel: row.str("channel")?.to_owned(),
            team_id: row.opt_i64("team_id")?,
            first_customer_at: opt("first_customer_at"),
            handoff_at: opt("handoff_at"),
            bot_answered: opt("bot_answered") == Some(1),
            first_assigned_at: opt("first_assigned_at"),
            first_human_reply_at: opt("first_human_reply_at"),
            first_response_business_ms: opt("first_response_business_ms"),
            first_resolved_at: opt("first_resolved_at"),
            reopened_at: opt("reopened_at"),
            resolved_at: opt("resolved_at"),
            resolutions: opt("resolutions").unwrap_or(0),
            transfers: opt("transfers").unwrap_or(0),
            operator_id: opt("operator_id"),
            operators: operators.into_iter().collect(),
            last_customer_at: opt("last_customer_at"),
            first_answer_at: opt("first_answer_at"),
            csat: opt("csat"),
            csat_at: opt("csat_at"),
            open_span: None,
        })
    }

    /// When the wait for people began: the handoff, if the assistant had the conversation,
    /// else the customer's first message.
    fn wait_started(&self) -> Option<i64> {
        self.handoff_at.or(self.first_customer_at)
    }
}

/// A span change to write.
enum SpanChange {
    Start {
        conversation_id: i64,
        operator_id: i64,
        at: i64,
    },
    End {
        id: Option<i64>,
        conversation_id: i64,
        operator_id: i64,
        at: i64,
    },
}

/// One event, as the fold reads it.
struct Folded {
    conversation_id: i64,
    kind: String,
    data: Value,
    at: i64,
}

fn named_id(value: &Value) -> Option<i64> {
    value.get("id").and_then(Value::as_i64).or(value.as_i64())
}

/// Applies one event to its conversation's facts (see the module docs).
fn apply(
    facts: &mut Facts,
    event: &Folded,
    spans: &mut Vec<SpanChange>,
    business_ms: &mut dyn FnMut(Option<i64>, i64, i64) -> Option<i64>,
) {
    let at = event.at;
    let end_span = |facts: &mut Facts, spans: &mut Vec<SpanChange>| {
        if let Some((id, operator_id)) = facts.open_span.take() {
            spans.push(SpanChange::End {
                id,
                conversation_id: facts.conversation_id,
                operator_id,
                at,
            });
        }
    };
    let start_span = |facts: &mut Facts, spans: &mut Vec<SpanChange>, operator_id: i64| {
        facts.open_span = Some((None, operator_id));
        spans.push(SpanChange::Start {
            conversation_id: facts.conversation_id,
            operator_id,
            at,
        });
    };
    match event.kind.as_str() {
        "message.created" => {
            let message = &event.data["message"];
            match message["author"].as_str() {
                Some("visitor") => {
                    facts.first_customer_at.get_or_insert(at);
                    facts.last_customer_at = Some(at);
                }
                Some("operator") => {
                    if facts.first_human_reply_at.is_none() {
                        facts.first_human_reply_at = Some(at);
                        facts.first_response_business_ms = facts
                            .wait_started()
                            .and_then(|start| business_ms(facts.team_id, start, at));
                    }
                    facts.first_answer_at.get_or_insert(at);
                }
                Some("system")
                    if message["sender"] == "assistant"
                        && message["client_id"]
                            .as_str()
                            .is_some_and(|c| c.starts_with("assistant-answer-")) =>
                {
                    facts.bot_answered = true;
                    facts.first_answer_at.get_or_insert(at);
                }
                _ => {}
            }
        }
        "assistant.handoff" => {
            facts.handoff_at.get_or_insert(at);
        }
        "conversation.assigned" => {
            end_span(facts, spans);
            match event.data.get("to").and_then(named_id) {
                Some(operator_id) => {
                    facts.first_assigned_at.get_or_insert(at);
                    facts.operator_id = Some(operator_id);
                    facts.operators.insert(operator_id);
                    if facts.resolved_at.is_none() {
                        start_span(facts, spans, operator_id);
                    }
                }
                None => facts.operator_id = None,
            }
        }
        "conversation.transferred" => {
            facts.transfers += 1;
            end_span(facts, spans);
            match event.data.get("to_operator").and_then(named_id) {
                Some(operator_id) => {
                    facts.first_assigned_at.get_or_insert(at);
                    facts.operator_id = Some(operator_id);
                    facts.operators.insert(operator_id);
                    start_span(facts, spans, operator_id);
                }
                None => facts.operator_id = None,
            }
        }
        "conversation.status" => {
            let to = event.data["to"].as_str();
            let from = event.data["from"].as_str();
            if to == Some("resolved") {
                facts.resolutions += 1;
                facts.first_resolved_at.get_or_insert(at);
                facts.resolved_at = Some(at);
                end_span(facts, spans);
            } else if from == Some("resolved") {
                if facts.first_resolved_at.is_some() {
                    facts.reopened_at.get_or_insert(at);
                }
                facts.resolved_at = None;
                if let Some(operator_id) = facts.operator_id
                    && facts.open_span.is_none()
                {
                    start_span(facts, spans, operator_id);
                }
            }
        }
        "csat.received" => {
            facts.csat = event.data["rating"]
                .as_i64()
                .filter(|r| (1..=5).contains(r));
            facts.csat_at = Some(at);
        }
        _ => {}
    }
}

/// Business time between two instants under a team's hours (or the default hours); `None`
/// when no hours are set (every hour counts: the calendar figure is the figure).
pub fn business_ms_between(hours: &BusinessHours, start: i64, end: i64) -> i64 {
    let mut total = 0;
    let mut t = start;
    // Each step crosses one opening or closing; a year of them is the most a reply can wait.
    for _ in 0..2_000 {
        if t >= end {
            break;
        }
        if hours::is_open(hours, t) {
            let closing = hours::current_closing(hours, t).unwrap_or(end).min(end);
            total += closing - t;
            t = closing.max(t + 1);
        } else {
            match hours::next_opening(hours, t) {
                Some(opening) if opening > t => t = opening,
                _ => break,
            }
        }
    }
    total
}

/// What a call to [`catch_up`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    pub folded_events: i64,
    /// Every event up to the log's end is folded.
    pub caught_up: bool,
}

/// Folds events after the progress marker, a batch per transaction, until the log's end or
/// `max_batches`. Safe to run concurrently: each batch moves the marker conditionally under
/// the write lock, so two callers never fold the same events.
pub fn catch_up(db: &dyn Database, max_batches: usize) -> Result<Progress, DbError> {
    catch_up_in(db, max_batches, BATCH)
}

/// [`catch_up`] with batches of `batch` events (tests fold in small pieces).
pub fn catch_up_in(db: &dyn Database, max_batches: usize, batch: i64) -> Result<Progress, DbError> {
    let mut folded = 0;
    let mut hours_cache: HashMap<Option<i64>, Option<BusinessHours>> = HashMap::new();
    for _ in 0..max_batches {
        let (count, done) = transaction(db, || fold_batch(db, batch, &mut hours_cache))?;
        folded += count;
        if done {
            return Ok(Progress {
                folded_events: folded,
                caught_up: true,
            });
        }
    }
    Ok(Progress {
        folded_events: folded,
        caught_up: false,
    })
}

/// [`catch_up`] for about `budget_ms` of `clock` time: no new batch starts after that, so a
/// request that finds a long backlog (an upgrade, an import) answers in bounded time and the
/// next one folds on.
pub fn catch_up_for(
    db: &dyn Database,
    clock: &dyn crate::host::Clock,
    budget_ms: i64,
) -> Result<Progress, DbError> {
    let started = clock.now_ms();
    let mut folded = 0;
    loop {
        let step = catch_up(db, 1)?;
        folded += step.folded_events;
        if step.caught_up || clock.now_ms() - started >= budget_ms {
            return Ok(Progress {
                folded_events: folded,
                caught_up: step.caught_up,
            });
        }
    }
}

/// Whether events wait to be folded (two indexed reads).
pub fn behind(db: &dyn Database) -> Result<bool, DbError> {
    Ok(progress(db)? < latest_event(db)?)
}

fn progress(db: &dyn Database) -> Result<i64, DbError> {
    db.execute(PROGRESS, &[])?
        .first()
        .map_or(Ok(0), |row| row.i64("last_event_id"))
}

fn latest_event(db: &dyn Database) -> Result<i64, DbError> {
    db.execute(LATEST_EVENT, &[])?
        .first()
        .map_or(Ok(0), |row| row.i64("id"))
}

fn ids_json(ids: impl Iterator<Item = i64>) -> String {
    let ids: Vec<i64> = ids.collect();
    serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_owned())
}

/// Folds one batch; returns how many events and whether the log's end was reached.
fn fold_batch(
    db: &dyn Database,
    batch: i64,
    hours_cache: &mut HashMap<Option<i64>, Option<BusinessHours>>,
) -> Result<(i64, bool), DbError> {
    let start = progress(db)?;
    let latest = latest_event(db)?;
    if start >= latest {
        return Ok((0, true));
    }
    let end = (start + batch.max(1)).min(latest);
    let rows = db.execute(
        &format!(
            "SELECT id, conversation_id, kind, data, created_at FROM events
              WHERE id > ?1 AND id <= ?2 AND kind IN ({KINDS}) ORDER BY id"
        ),
        &[start.into(), end.into()],
    )?;
    let mut events = Vec::with_capacity(rows.rows.len());
    for row in rows.iter() {
        events.push(Folded {
            conversation_id: row.i64("conversation_id")?,
            kind: row.str("kind")?.to_owned(),
            data: serde_json::from_str(row.str("data")?).unwrap_or(Value::Null),
            at: row.i64("created_at")?,
        });
    }
    let ids: BTreeSet<i64> = events.iter().map(|e| e.conversation_id).collect();
    let list = ids_json(ids.iter().copied());
    let mut facts: HashMap<i64, Facts> = HashMap::new();
    for row in db.execute(FACTS, &[list.clone().into()])?.iter() {
        let f = Facts::from_row(&row)?;
        facts.insert(f.conversation_id, f);
    }
    let missing = ids_json(ids.iter().copied().filter(|id| !facts.contains_key(id)));
    for row in db.execute(NEW_FACTS, &[missing.into()])?.iter() {
        let f = Facts {
            conversation_id: row.i64("conversation_id")?,
            created_at: row.i64("created_at")?,
            channel: row.str("channel")?.to_owned(),
            team_id: row.opt_i64("team_id")?,
            ..Facts::default()
        };
        facts.insert(f.conversation_id, f);
    }
    for row in db.execute(OPEN_SPANS, &[list.into()])?.iter() {
        if let Some(f) = facts.get_mut(&row.i64("conversation_id")?) {
            f.open_span = Some((Some(row.i64("id")?), row.i64("operator_id")?));
        }
    }
    let mut spans = Vec::new();
    for event in &events {
        let Some(f) = facts.get_mut(&event.conversation_id) else {
            continue;
        };
        let mut business = |team: Option<i64>, from: i64, to: i64| -> Option<i64> {
            let hours = hours_cache
                .entry(team)
                .or_insert_with(|| hours::for_team(db, team).ok().flatten());
            hours.as_ref().map(|h| business_ms_between(h, from, to))
        };
        apply(f, event, &mut spans, &mut business);
    }
    for change in spans {
        match change {
            SpanChange::Start {
                conversation_id,
                operator_id,
                at,
            } => {
                db.execute(
                    START_SPAN,
                    &[conversation_id.into(), operator_id.into(), at.into()],
                )?;
            }
            SpanChange::End {
                id: Some(id), at, ..
            } => {
                db.execute(END_SPAN, &[id.into(), at.into()])?;
            }
            SpanChange::End {
                id: None,
                conversation_id,
                operator_id,
                at,
            } => {
                db.execute(
                    END_NEW_SPAN,
                    &[conversation_id.into(), operator_id.into(), at.into()],
                )?;
            }
        }
    }
    for f in facts.values() {
        let operators = serde_json::to_string(&f.operators.iter().collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".to_owned());
        let params: Vec<SqlValue> = vec![
            f.conversation_id.into(),
            f.created_at.into(),
            f.channel.as_str().into(),
            f.first_customer_at.into(),
            f.handoff_at.into(),
            i64::from(f.bot_answered).into(),
            f.first_assigned_at.into(),
            f.first_human_reply_at.into(),
            f.first_response_business_ms.into(),
            f.first_resolved_at.into(),
            f.reopened_at.into(),
            f.resolved_at.into(),
            f.resolutions.into(),
            f.transfers.into(),
            f.operator_id.into(),
            operators.into(),
            f.last_customer_at.into(),
            f.first_answer_at.into(),
            f.csat.into(),
            f.csat_at.into(),
        ];
        db.execute(SAVE_FACTS, &params)?;
    }
    db.execute(SET_PROGRESS, &[end.into()])?;
    Ok((events.len() as i64, end >= latest))
}
