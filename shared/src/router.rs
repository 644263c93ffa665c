//! The router's use cases: routing settings per team, the routing pass that hands waiting
//! conversations to operators, re-routing (no answer, operator gone), and the queue position
//! and wait estimate visitors see.
//!
//! The rules themselves are pure functions in [`crate::routing`]; this module loads their
//! inputs, applies their decisions, and records each one in the conversation's timeline.
//!
//! A pass plans on a read snapshot and applies its plan in a short write transaction. The plan
//! (settings, roster, queue, topic detection: most of a pass's statements) is read inside a
//! plain `BEGIN` with no lock held, so other writers go on meanwhile; the write transaction then
//! holds SQLite's single write lock only for the guarded writes and their timeline events. An
//! earlier version held the write lock for the whole pass, and under a burst of arrivals
//! (hundreds of new conversations a minute, each calling the router) passes queued for the lock
//! behind each other until writers ran out of busy timeout.
//!
//! Planning without the lock is safe because no invariant rests on the plan: every write is
//! guarded in SQL. An assignment is the capacity- and version-guarded UPDATE of
//! [`conversation::reassign`] (one assignee, no one over capacity, only active operators), a
//! re-route is version-guarded, and a topic is recorded only while none is. A write refused
//! because the state moved (a concurrent pass, a claim, a transfer) is skipped and the pass
//! plans its assignments again, up to [`ASSIGN_ROUNDS`] times; what is left waits for the next
//! pass, which every change that may free a place triggers.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::chat::ChatError;
use crate::contact::patch_field;
use crate::conversation::{self, Assignee, Named};
use crate::event::{self, EventKind, Visibility};
use crate::host::Ctx;
use crate::input::InvalidInput;
use crate::operator::PRESENCE_GRACE_MS;
use crate::routing::{self, Candidate, Need, Overflow, Policy, Rule, Strategy};
use crate::store::{Database, DbError, Row, read_transaction, transaction};
use crate::topic::{self, Clues, PRIORITY_HIGH};

/// Re-routing checks (answer timeouts, operators gone) run at most this often; routing passes
/// in between only assign.
pub const SWEEP_INTERVAL_MS: i64 = 2_000;
/// How many times a pass plans its assignments again after some of them were refused.
const ASSIGN_ROUNDS: usize = 3;
/// A pass considers at most this many waiting conversations, in queue order.
pub const MAX_WAITING_PER_PASS: usize = 10_000;
/// Topic detection reads this many of the customer's first messages.
const CLASSIFY_MESSAGES: i64 = 3;
/// Conversations classified per pass (the rest in the next one).
const CLASSIFY_PER_PASS: i64 = 200;
/// The handle time assumed for wait estimates until there is history.
pub const DEFAULT_HANDLE_TIME_S: i64 = 600;
/// Wait estimates use the handle times of this many recent resolutions, within a week.
const HANDLE_TIME_SAMPLE: i64 = 100;
const HANDLE_TIME_WINDOW_MS: i64 = 7 * 24 * 3_600_000;

const SWEPT_AT_KEY: &str = "router:swept_at";

/// How a team (or the pool of conversations without a team) is routed, as admins set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingSettings {
    pub strategy: Strategy,
    /// Where conversations overflow to; `None`: nowhere.
    pub backup_team_id: Option<i64>,
    /// Overflow after waiting this long even when the team has room (skills routing waiting
    /// for a match); `None`: only when the team is full.
    pub overflow_after_s: Option<i64>,
    /// A returning customer goes to their previous operator within this window; 0 is off.
    pub stickiness_window_h: i64,
    /// Skills routing waits this long for a matching operator before taking anyone.
    pub skill_wait_s: i64,
    /// A conversation whose operator has not answered this long after being assigned goes back
    /// to the queue; `None`: never.
    pub answer_timeout_s: Option<i64>,
}

impl Default for RoutingSettings {
    fn default() -> Self {
        RoutingSettings {
            strategy: Strategy::LeastLoaded,
            backup_team_id: None,
            overflow_after_s: None,
            stickiness_window_h: 168,
            skill_wait_s: 60,
            answer_timeout_s: None,
        }
    }
}

/// A PATCH of [`RoutingSettings`]: absent keeps a field, `null` clears a nullable one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingPatch {
    pub strategy: Option<String>,
    #[serde(default, deserialize_with = "patch_field")]
    pub backup_team_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "patch_field")]
    pub overflow_after_s: Option<Option<i64>>,
    pub stickiness_window_h: Option<i64>,
    pub skill_wait_s: Option<i64>,
    #[serde(default, deserialize_with = "patch_field")]
    pub answer_timeout_s: Option<Option<i64>>,
}

impl RoutingPatch {
    pub fn is_empty(&self) -> bool {
        self.strategy.is_none()
            && self.backup_team_id.is_none()
            && self.overflow_after_s.is_none()
            && self.stickiness_window_h.is_none()
            && self.skill_wait_s.is_none()
            && self.answer_timeout_s.is_none()
    }
}

fn within(field: &'static str, value: i64, min: i64, max: i64) -> Result<i64, InvalidInput> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(InvalidInput::new(field, format!("must be {min} to {max}")))
    }
}

impl RoutingSettings {
    /// `self` with `patch` applied, each field within its documented range. Whether a backup
    /// team exists is the caller's check (it needs the database).
    pub fn apply(&self, patch: &RoutingPatch) -> Result<RoutingSettings, InvalidInput> {
        let strategy = match &patch.strategy {
            Some(name) => Strategy::parse(name).ok_or_else(|| {
                InvalidInput::new(
                    "strategy",
                    "must be round_robin, least_loaded, skills or manual",
                )
            })?,
            None => self.strategy,
        };
        let optional = |field, value: Option<Option<i64>>, current, max| match value {
            None => Ok(current),
            Some(None) => Ok(None),
            Some(Some(v)) => within(field, v, 1, max).map(Some),
        };
        Ok(RoutingSettings {
            strategy,
            backup_team_id: patch.backup_team_id.unwrap_or(self.backup_team_id),
            overflow_after_s: optional(
                "overflow_after_s",
                patch.overflow_after_s,
                self.overflow_after_s,
                86_400,
            )?,
            stickiness_window_h: within(
                "stickiness_window_h",
                patch
                    .stickiness_window_h
                    .unwrap_or(self.stickiness_window_h),
                0,
                8_760,
            )?,
            skill_wait_s: within(
                "skill_wait_s",
                patch.skill_wait_s.unwrap_or(self.skill_wait_s),
                0,
                3_600,
            )?,
            answer_timeout_s: optional(
                "answer_timeout_s",
                patch.answer_timeout_s,
                self.answer_timeout_s,
                3_600,
            )?,
        })
    }

    pub fn policy(&self) -> Policy {
        Policy {
            strategy: self.strategy,
            stickiness_window_ms: self.stickiness_window_h * 3_600_000,
            skill_wait_ms: self.skill_wait_s * 1000,
        }
    }
}

const DEFAULT_KEY: &str = "routing.default";
const GET_DEFAULT: &str = "SELECT value FROM settings WHERE key = ?1";
const SET_DEFAULT: &str = "INSERT INTO settings (key, value) VALUES (?1, ?2)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";
const TEAM_SETTINGS: &str = "SELECT id, name, strategy, backup_team_id, overflow_after_s,
            stickiness_window_h, skill_wait_s, answer_timeout_s FROM teams";
const SAVE_TEAM_SETTINGS: &str = "UPDATE teams SET strategy = ?2, backup_team_id = ?3,
            overflow_after_s = ?4, stickiness_window_h = ?5, skill_wait_s = ?6,
            answer_timeout_s = ?7
      WHERE id = ?1 RETURNING id";
const UNSET_BACKUP: &str = "UPDATE teams SET backup_team_id = NULL WHERE backup_team_id = ?1";

/// Routing for conversations without a team.
pub fn default_settings(db: &dyn Database) -> Result<RoutingSettings, DbError> {
    match db.execute(GET_DEFAULT, &[DEFAULT_KEY.into()])?.first() {
        None => Ok(RoutingSettings::default()),
        Some(row) => serde_json::from_str(row.str("value")?)
            .map_err(|e| DbError::Decode(format!("{DEFAULT_KEY}: {e}"))),
    }
}

pub fn save_default_settings(db: &dyn Database, settings: &RoutingSettings) -> Result<(), DbError> {
    let json = serde_json::to_string(settings)
        .map_err(|e| DbError::Decode(format!("{DEFAULT_KEY}: {e}")))?;
    db.execute(SET_DEFAULT, &[DEFAULT_KEY.into(), json.into()])?;
    Ok(())
}

pub fn settings_from_row(row: &Row<'_>) -> Result<RoutingSettings, DbError> {
    let strategy = row.str("strategy")?;
    Ok(RoutingSettings {
        strategy: Strategy::parse(strategy)
            .ok_or_else(|| DbError::Decode(format!("unknown strategy {strategy}")))?,
        backup_team_id: row.opt_i64("backup_team_id")?,
        overflow_after_s: row.opt_i64("overflow_after_s")?,
        stickiness_window_h: row.i64("stickiness_window_h")?,
        skill_wait_s: row.i64("skill_wait_s")?,
        answer_timeout_s: row.opt_i64("answer_timeout_s")?,
    })
}

/// Every team's name and routing settings, by id.
pub fn team_settings(
    db: &dyn Database,
) -> Result<HashMap<i64, (String, RoutingSettings)>, DbError> {
    db.execute(TEAM_SETTINGS, &[])?
        .iter()
        .map(|row| {
            Ok((
                row.i64("id")?,
                (row.str("name")?.to_owned(), settings_from_row(&row)?),
            ))
        })
        .collect()
}

pub fn save_team_settings(
    db: &dyn Database,
    team_id: i64,
    settings: &RoutingSettings,
) -> Result<bool, DbError> {
    Ok(!db
        .execute(
            SAVE_TEAM_SETTINGS,
            &[
                team_id.into(),
                settings.strategy.as_str().into(),
                settings.backup_team_id.into(),
                settings.overflow_after_s.into(),
                settings.stickiness_window_h.into(),
                settings.skill_wait_s.into(),
                settings.answer_timeout_s.into(),
            ],
        )?
        .is_empty())
}

/// A deleted team stops being anyone's backup.
pub fn unset_backup(db: &dyn Database, team_id: i64) -> Result<(), DbError> {
    db.execute(UNSET_BACKUP, &[team_id.into()])?;
    Ok(())
}

/// Whether re-routing checks are due (a cheap key-value read, so callers can skip calling the
/// router at all when they are not).
pub fn sweep_due(ctx: &Ctx<'_>) -> bool {
    let last = ctx
        .kv
        .get(SWEPT_AT_KEY)
        .ok()
        .flatten()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse::<i64>().ok());
    last.is_none_or(|at| ctx.clock.now_ms() - at >= SWEEP_INTERVAL_MS)
}

/// Whether a routing pass also runs the re-routing checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sweep {
    /// Only assign.
    Skip,
    /// When [`SWEEP_INTERVAL_MS`] has passed since the last sweep (periodic callers).
    IfDue,
    /// Now: an operator just went offline.
    Now,
}

impl Sweep {
    /// The `sweep` query parameter of the router's `POST /route`.
    pub fn as_param(self) -> &'static str {
        match self {
            Sweep::Skip => "skip",
            Sweep::IfDue => "due",
            Sweep::Now => "now",
        }
    }

    pub fn parse(text: &str) -> Option<Sweep> {
        [Sweep::Skip, Sweep::IfDue, Sweep::Now]
            .into_iter()
            .find(|s| s.as_param() == text)
    }
}

/// Whether a customer's new message calls for a routing pass: their conversation waits, and it
/// still needs its topic detected or someone has room. One indexed read, because it runs after
/// every visitor message (a message in an assigned conversation stops at the primary key).
pub fn message_needs_pass(
    db: &dyn Database,
    conversation_id: i64,
    now: i64,
) -> Result<bool, DbError> {
    Ok(!db
        .execute(
            &format!(
                "SELECT id FROM conversations c
                  WHERE c.id = ?1 AND c.status = 'open' AND c.assignee_id IS NULL
                    AND c.waiting_since IS NOT NULL
                    AND (c.classified_at IS NULL OR EXISTS ({SOMEONE_FREE}))"
            ),
            &[conversation_id.into(), (now - PRESENCE_GRACE_MS).into()],
        )?
        .is_empty())
}

/// Whether a pass could do anything besides the sweep: a waiting conversation to classify, or
/// one waiting while someone has room. One read; most calls (a message in a queue nobody can
/// serve yet) stop here, without taking the write lock.
const WORK_WAITING: &str = "SELECT EXISTS (SELECT 1 FROM conversations c
          WHERE c.classified_at IS NULL AND c.waiting_since IS NOT NULL
            AND c.status = 'open' AND c.assignee_id IS NULL)
       OR (EXISTS (SELECT 1 FROM conversations c
          WHERE c.status = 'open' AND c.assignee_id IS NULL AND c.waiting_since IS NOT NULL)
           AND EXISTS (";

/// An eligible operator with room (`?2` = the oldest heartbeat that still counts as online).
const SOMEONE_FREE: &str = "SELECT 1 FROM operators o
          WHERE o.active = 1 AND o.password_hash != '' AND o.presence = 'available'
            AND o.last_seen_at >= ?2
            AND (SELECT COUNT(*) FROM conversations l
                  WHERE l.assignee_id = o.id AND l.status IN ('open', 'pending')) < o.capacity";

fn work_waiting(db: &dyn Database, now: i64) -> Result<bool, DbError> {
    Ok(db
        .execute(
            &format!("{WORK_WAITING}{SOMEONE_FREE})) AS work"),
            &[0.into(), (now - PRESENCE_GRACE_MS).into()],
        )?
        .first()
        .map_or(Ok(0), |row| row.i64("work"))?
        == 1)
}

/// Whether calling the router with `sweep` could change anything: the sweep is due (or forced),
/// or [`WORK_WAITING`]. Callers check this before paying for the service-chaining hop; a
/// database error says "yes" (the router will report it).
pub fn pass_needed(ctx: &Ctx<'_>, sweep: Sweep) -> bool {
    match sweep {
        Sweep::Now => true,
        Sweep::IfDue if sweep_due(ctx) => true,
        _ => work_waiting(ctx.db, ctx.clock.now_ms()).unwrap_or(true),
    }
}

/// What one routing pass did.
#[derive(Debug, Default, Serialize)]
pub struct Outcome {
    pub requeued: Vec<Requeued>,
    pub classified: Vec<Classified>,
    pub assigned: Vec<Assignment>,
    /// Conversations still waiting after the pass.
    pub still_waiting: i64,
}

#[derive(Debug, Serialize)]
pub struct Requeued {
    pub conversation_id: i64,
    pub from_operator_id: i64,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct Classified {
    pub conversation_id: i64,
    pub topic: Option<String>,
    pub priority: i64,
}

#[derive(Debug, Serialize)]
pub struct Assignment {
    pub conversation_id: i64,
    pub operator_id: i64,
    pub rule: Rule,
    pub overflow: bool,
    pub reason: String,
}

/// The timeline entry of a routing decision (kind `conversation.assigned`, `by` null: the
/// system), in the shape manual assignments use, plus the rule.
#[derive(Serialize)]
struct Routed<'a> {
    from: Option<Named>,
    to: Option<Named>,
    by: Option<Named>,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<Rule>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    overflow: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic_match: Option<bool>,
}

impl Routed<'_> {
    /// Appends the decision to the conversation's timeline, and notes it for announcing after
    /// the commit.
    fn record(
        &self,
        db: &dyn Database,
        conversation_id: i64,
        now: i64,
        appended: &mut Vec<(i64, i64)>,
    ) -> Result<(), DbError> {
        let event_id = event::append(
            db,
            conversation_id,
            EventKind::ConversationAssigned,
            Visibility::Internal,
            self,
            now,
        )?;
        appended.push((conversation_id, event_id));
        Ok(())
    }
}

#[derive(Serialize)]
struct ClassifiedEvent<'a> {
    topic: Option<&'a str>,
    because: Option<String>,
    team: Option<Named>,
    priority: i64,
}

/// Runs one routing pass: re-routing checks as `sweep` says, topic detection for new waiting
/// conversations, then assignments in queue order until nobody eligible is left.
///
/// Each step is planned on a read snapshot, with no lock held, and applied in a short
/// `BEGIN IMMEDIATE` transaction of guarded writes only (see the module doc for why).
pub fn run(ctx: &Ctx<'_>, sweep: Sweep) -> Result<Outcome, ChatError> {
    let now = ctx.clock.now_ms();
    let sweep = match sweep {
        Sweep::Skip => false,
        Sweep::IfDue => sweep_due(ctx),
        Sweep::Now => true,
    };
    if sweep {
        // Claimed before the pass, so concurrent callers skip it rather than queue for it.
        let _ = ctx.kv.set(SWEPT_AT_KEY, now.to_string().as_bytes());
    }
    if !sweep && !work_waiting(ctx.db, now)? {
        return Ok(Outcome {
            still_waiting: conversation::waiting_stats(ctx.db)?.0,
            ..Outcome::default()
        });
    }
    let db = ctx.db;
    let mut outcome = Outcome::default();
    let mut appended = Vec::new();
    let (teams, default, requeues, classifications) = read_transaction(db, || {
        let teams = team_settings(db)?;
        let default = default_settings(db)?;
        let requeues = if sweep {
            plan_requeues(db, now, &teams, &default)?
        } else {
            Vec::new()
        };
        let classifications = plan_classifications(db)?;
        Ok::<_, ChatError>((teams, default, requeues, classifications))
    })?;
    if !requeues.is_empty() || !classifications.is_empty() {
        transaction(db, || -> Result<(), ChatError> {
            for requeue in requeues {
                apply_requeue(db, now, requeue, &mut outcome, &mut appended)?;
            }
            for classification in classifications {
                apply_classification(db, now, &teams, classification, &mut outcome, &mut appended)?;
            }
            Ok(())
        })?;
    }
    for _ in 0..ASSIGN_ROUNDS {
        let planned = read_transaction(db, || plan_assignments(db, now, &teams, &default))?;
        if planned.is_empty() {
            break;
        }
        let refused = transaction(db, || -> Result<usize, ChatError> {
            let mut refused = 0;
            for assignment in planned {
                if !apply_assignment(db, now, assignment, &mut outcome, &mut appended)? {
                    refused += 1;
                }
            }
            Ok(refused)
        })?;
        if refused == 0 {
            break;
        }
    }
    outcome.still_waiting = conversation::waiting_stats(db)?.0;
    event::announce_each(ctx, &appended);
    Ok(outcome)
}

const UNANSWERED: &str = "SELECT c.id, c.version, c.team_id, c.assignee_id, c.assigned_at,
            o.name AS operator_name
       FROM conversations c JOIN operators o ON o.id = c.assignee_id
      WHERE c.status = 'open' AND c.assigned_at <= ?1
        AND NOT EXISTS (SELECT 1 FROM messages m
                         WHERE m.conversation_id = c.id AND m.author = 'operator'
                           AND m.operator_id = c.assignee_id AND m.created_at >= c.assigned_at)";
/// Open conversations whose customer is waiting for a reply from an operator who has gone
/// offline since being assigned: they switched to offline after the assignment, or their console
/// stopped checking in after it. Being offline is not enough: everyone starts offline, and a
/// supervisor's assignment to someone not online yet (or an operator taking a conversation
/// without setting their presence) is left alone.
const ASSIGNEE_GONE: &str = "SELECT c.id, c.version, c.assignee_id, o.name AS operator_name
       FROM conversations c JOIN operators o ON o.id = c.assignee_id
       JOIN messages last ON last.id = c.last_message_id
      WHERE c.status = 'open' AND last.author = 'visitor'
        AND ((o.presence = 'offline' AND o.presence_changed_at >= c.assigned_at)
             OR (o.last_seen_at < ?1 - ?2 AND o.last_seen_at >= c.assigned_at))";
/// Back to the queue, waiting since the customer's first unanswered message (or now).
const RETURN: &str = "UPDATE conversations
        SET assignee_id = NULL, assigned_at = NULL, version = version + 1, declined_by = ?3,
            waiting_since = COALESCE(
                (SELECT MIN(m.created_at) FROM messages m
                  WHERE m.conversation_id = conversations.id AND m.author = 'visitor'
                    AND m.id > COALESCE((SELECT MAX(r.id) FROM messages r
                                          WHERE r.conversation_id = conversations.id
                                            AND r.author = 'operator'), 0)),
                ?4)
      WHERE id = ?1 AND version = ?2 RETURNING id";

/// A conversation a sweep will hand back to the queue.
struct PlannedRequeue {
    conversation_id: i64,
    version: i64,
    operator: Named,
    /// Not answered in time: the operator is not offered it again right away.
    declined: bool,
    reason: String,
}

/// The re-routing checks: conversations whose operator went offline, or did not answer within
/// their team's timeout.
fn plan_requeues(
    db: &dyn Database,
    now: i64,
    teams: &HashMap<i64, (String, RoutingSettings)>,
    default: &RoutingSettings,
) -> Result<Vec<PlannedRequeue>, ChatError> {
    let settings_of = |team_id: Option<i64>| {
        team_id
            .and_then(|id| teams.get(&id))
            .map_or(default, |(_, s)| s)
    };
    let mut planned = Vec::new();
    let rows = db.execute(ASSIGNEE_GONE, &[now.into(), PRESENCE_GRACE_MS.into()])?;
    for row in rows.iter() {
        let operator = Named {
            id: row.i64("assignee_id")?,
            name: row.str("operator_name")?.to_owned(),
        };
        planned.push(PlannedRequeue {
            conversation_id: row.i64("id")?,
            version: row.i64("version")?,
            reason: format!("{} went offline; back to the queue", operator.name),
            operator,
            declined: false,
        });
    }
    // The shortest timeout bounds the scan; each conversation is then held to its own team's.
    let shortest = std::iter::once(settings_of(None).answer_timeout_s)
        .chain(
            teams
                .keys()
                .map(|&id| settings_of(Some(id)).answer_timeout_s),
        )
        .flatten()
        .min();
    let Some(shortest) = shortest else {
        return Ok(planned);
    };
    let rows = db.execute(UNANSWERED, &[(now - shortest * 1000).into()])?;
    for row in rows.iter() {
        let id = row.i64("id")?;
        let Some(timeout) = settings_of(row.opt_i64("team_id")?).answer_timeout_s else {
            continue;
        };
        if now - row.i64("assigned_at")? < timeout * 1000
            || planned.iter().any(|p| p.conversation_id == id)
        {
            continue;
        }
        let operator = Named {
            id: row.i64("assignee_id")?,
            name: row.str("operator_name")?.to_owned(),
        };
        planned.push(PlannedRequeue {
            conversation_id: id,
            version: row.i64("version")?,
            reason: format!(
                "no answer from {} within {timeout} s; back to the queue",
                operator.name
            ),
            operator,
            declined: true,
        });
    }
    Ok(planned)
}

/// Hands one conversation back, unless it changed since the plan was read.
fn apply_requeue(
    db: &dyn Database,
    now: i64,
    planned: PlannedRequeue,
    outcome: &mut Outcome,
    appended: &mut Vec<(i64, i64)>,
) -> Result<(), ChatError> {
    let id = planned.conversation_id;
    let declined_by = planned.declined.then_some(planned.operator.id);
    if db
        .execute(
            RETURN,
            &[
                id.into(),
                planned.version.into(),
                declined_by.into(),
                now.into(),
            ],
        )?
        .is_empty()
    {
        return Ok(());
    }
    Routed {
        from: Some(planned.operator.clone()),
        to: None,
        by: None,
        reason: &planned.reason,
        rule: None,
        overflow: false,
        topic_match: None,
    }
    .record(db, id, now, appended)?;
    outcome.requeued.push(Requeued {
        conversation_id: id,
        from_operator_id: planned.operator.id,
        reason: planned.reason,
    });
    Ok(())
}

const UNCLASSIFIED: &str = "SELECT c.id, c.channel, c.page_url, c.topic, c.team_id,
            CAST(json_extract(ct.attributes, '$.tier') AS TEXT) AS tier
       FROM conversations c JOIN contacts ct ON ct.id = c.contact_id
      WHERE c.classified_at IS NULL AND c.waiting_since IS NOT NULL
        AND c.status = 'open' AND c.assignee_id IS NULL
      ORDER BY c.waiting_since LIMIT ?1";
const FIRST_TEXTS: &str = "SELECT body FROM messages
      WHERE conversation_id = ?1 AND author = 'visitor' ORDER BY id LIMIT ?2";
/// Guarded by `classified_at IS NULL`: of two passes that detected the same conversation's
/// topic, only the first records it.
const SET_CLASSIFICATION: &str = "UPDATE conversations
        SET topic = ?2, team_id = COALESCE(team_id, ?3), priority = MAX(priority, ?4),
            classified_at = ?5, version = version + (team_id IS NULL AND ?3 IS NOT NULL)
      WHERE id = ?1 AND classified_at IS NULL RETURNING team_id, priority";

/// A detected topic, with the team and priority it brings.
struct PlannedClassification {
    conversation_id: i64,
    topic: Option<String>,
    team_id: Option<i64>,
    priority: i64,
    because: Option<String>,
}

/// Detects the topic (and from it the team and priority) of conversations that started waiting
/// since the last pass. VIP customers (contact attribute `tier` = `vip`) are high priority.
fn plan_classifications(db: &dyn Database) -> Result<Vec<PlannedClassification>, ChatError> {
    let rows = db.execute(UNCLASSIFIED, &[CLASSIFY_PER_PASS.into()])?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let topics = topic::list(db)?;
    let mut planned = Vec::new();
    for row in rows.iter() {
        let id = row.i64("id")?;
        let texts: Vec<String> = db
            .execute(FIRST_TEXTS, &[id.into(), CLASSIFY_MESSAGES.into()])?
            .iter()
            .map(|r| r.str("body").map(str::to_owned))
            .collect::<Result<_, _>>()?;
        let clues = Clues {
            picked: row.opt_str("topic")?,
            channel: row.str("channel")?,
            page_url: row.opt_str("page_url")?,
            texts: &texts,
        };
        let found = topic::detect(&topics, &clues);
        let vip = row
            .opt_str("tier")?
            .is_some_and(|t| t.eq_ignore_ascii_case("vip"));
        let priority =
            found
                .as_ref()
                .map_or(0, |(t, _)| t.priority)
                .max(if vip { PRIORITY_HIGH } else { 0 });
        let mut because = found.as_ref().map(|(_, b)| b.describe());
        if vip {
            let vip_note = "VIP customer".to_owned();
            because = Some(because.map_or(vip_note.clone(), |b| format!("{b}; {vip_note}")));
        }
        planned.push(PlannedClassification {
            conversation_id: id,
            // A picked topic that no longer exists is kept as the customer's words, without
            // rules.
            topic: found
                .as_ref()
                .map(|(t, _)| t.name.clone())
                .or_else(|| clues.picked.map(str::to_owned)),
            team_id: found.as_ref().and_then(|(t, _)| t.team_id),
            priority,
            because,
        });
    }
    Ok(planned)
}

/// Records a detected topic, unless another pass already did.
fn apply_classification(
    db: &dyn Database,
    now: i64,
    teams: &HashMap<i64, (String, RoutingSettings)>,
    planned: PlannedClassification,
    outcome: &mut Outcome,
    appended: &mut Vec<(i64, i64)>,
) -> Result<(), ChatError> {
    let id = planned.conversation_id;
    let result = db.execute(
        SET_CLASSIFICATION,
        &[
            id.into(),
            planned.topic.clone().into(),
            planned.team_id.into(),
            planned.priority.into(),
            now.into(),
        ],
    )?;
    let team_id = match result.first() {
        Some(r) => r.opt_i64("team_id")?,
        None => return Ok(()),
    };
    let event_id = event::append(
        db,
        id,
        EventKind::ConversationClassified,
        Visibility::Internal,
        &ClassifiedEvent {
            topic: planned.topic.as_deref(),
            because: planned.because,
            team: team_id.and_then(|t| {
                teams.get(&t).map(|(name, _)| Named {
                    id: t,
                    name: name.clone(),
                })
            }),
            priority: planned.priority,
        },
        now,
    )?;
    appended.push((id, event_id));
    outcome.classified.push(Classified {
        conversation_id: id,
        topic: planned.topic,
        priority: planned.priority,
    });
    Ok(())
}

/// Every operator who could take conversations (active, with a password), with their load.
const CANDIDATES: &str = "SELECT o.id, o.name, o.capacity, o.presence, o.last_seen_at,
            o.last_assigned_at,
            (SELECT COUNT(*) FROM conversations l
              WHERE l.assignee_id = o.id AND l.status IN ('open', 'pending')) AS load
       FROM operators o WHERE o.active = 1 AND o.password_hash != ''";
const SKILLS: &str = "SELECT operator_id, lower(skill) AS skill, level FROM operator_skills";
const LANGUAGES: &str = "SELECT operator_id, lower(language) AS language FROM operator_languages";
const MEMBERS: &str = "SELECT team_id, operator_id FROM team_members";
const QUEUE: &str = "SELECT c.id, c.version, c.team_id, c.topic, c.language, c.priority,
            c.waiting_since,
            c.declined_by, c.contact_id,
            CAST(json_extract(ct.attributes, '$.region') AS TEXT) AS region,
            CAST(json_extract(ct.attributes, '$.tier') AS TEXT) AS tier
       FROM conversations c JOIN contacts ct ON ct.id = c.contact_id
      WHERE c.status = 'open' AND c.assignee_id IS NULL AND c.waiting_since IS NOT NULL
        AND (c.priority < ?1 OR (c.priority = ?1 AND (c.waiting_since > ?2
             OR (c.waiting_since = ?2 AND c.id > ?3))))
      ORDER BY c.priority DESC, c.waiting_since, c.id LIMIT ?4";
/// The queue is read in pages of this many, so a pass that runs out of operators after a few
/// assignments never reads the whole queue.
const QUEUE_PAGE: i64 = 200;
const PREVIOUS_OPERATOR: &str = "SELECT assignee_id, updated_at FROM conversations
      WHERE contact_id = ?1 AND id != ?2 AND assignee_id IS NOT NULL
      ORDER BY updated_at DESC LIMIT 1";

/// Operators as routing sees them, and who belongs to which team.
struct Roster {
    all: Vec<Candidate>,
    names: HashMap<i64, String>,
    members: HashMap<i64, Vec<i64>>,
}

fn roster(db: &dyn Database, now: i64) -> Result<Roster, DbError> {
    let mut names = HashMap::new();
    let mut all = Vec::new();
    for row in db.execute(CANDIDATES, &[])?.iter() {
        let id = row.i64("id")?;
        let online = row
            .opt_i64("last_seen_at")?
            .is_some_and(|at| now - at <= PRESENCE_GRACE_MS);
        names.insert(id, row.str("name")?.to_owned());
        all.push(Candidate {
            operator_id: id,
            available: online && row.str("presence")? == "available",
            load: row.i64("load")?,
            capacity: row.i64("capacity")?,
            last_assigned_at: row.opt_i64("last_assigned_at")?,
            skills: Vec::new(),
            languages: Vec::new(),
        });
    }
    let index: HashMap<i64, usize> = all
        .iter()
        .enumerate()
        .map(|(i, c)| (c.operator_id, i))
        .collect();
    for row in db.execute(SKILLS, &[])?.iter() {
        if let Some(&i) = index.get(&row.i64("operator_id")?) {
            all[i]
                .skills
                .push((row.str("skill")?.to_owned(), row.i64("level")?));
        }
    }
    for row in db.execute(LANGUAGES, &[])?.iter() {
        if let Some(&i) = index.get(&row.i64("operator_id")?) {
            all[i].languages.push(row.str("language")?.to_owned());
        }
    }
    let mut members: HashMap<i64, Vec<i64>> = HashMap::new();
    for row in db.execute(MEMBERS, &[])?.iter() {
        members
            .entry(row.i64("team_id")?)
            .or_default()
            .push(row.i64("operator_id")?);
    }
    Ok(Roster {
        all,
        names,
        members,
    })
}

impl Roster {
    /// The operators of a team, or everyone for conversations without a team.
    fn pool(&self, team_id: Option<i64>) -> Vec<Candidate> {
        match team_id {
            None => self.all.clone(),
            Some(team) => {
                let ids = self.members.get(&team).map_or(&[][..], Vec::as_slice);
                self.all
                    .iter()
                    .filter(|c| ids.contains(&c.operator_id))
                    .cloned()
                    .collect()
            }
        }
    }

    fn any_eligible(&self) -> bool {
        self.all.iter().any(Candidate::eligible)
    }
}

/// Records an assignment in every copy of the operator (the roster and cached pools), so the
/// next decision in the same pass sees their new load.
fn took_one(candidates: &mut [Candidate], operator_id: i64, now: i64) {
    for c in candidates
        .iter_mut()
        .filter(|c| c.operator_id == operator_id)
    {
        c.load += 1;
        c.last_assigned_at = Some(now);
    }
}

/// An assignment a pass decided on its snapshot.
struct PlannedAssignment {
    conversation_id: i64,
    /// The conversation's version when read: the assignment is refused if it moved since.
    version: i64,
    to: Named,
    decision: routing::Decision,
    topic_match: Option<bool>,
}

/// Decides the assignments for the queue as it stands, in queue order until nobody eligible is
/// left. Each decision counts against its operator in the plan (the roster's copies), so one
/// plan never gives anyone more than their room.
fn plan_assignments(
    db: &dyn Database,
    now: i64,
    teams: &HashMap<i64, (String, RoutingSettings)>,
    default: &RoutingSettings,
) -> Result<Vec<PlannedAssignment>, ChatError> {
    // The common busy case (nobody has room) answered by one query, before loading everyone.
    let anyone_free = db
        .execute(
            &format!("SELECT EXISTS ({SOMEONE_FREE}) AS free"),
            &[0.into(), (now - PRESENCE_GRACE_MS).into()],
        )?
        .first()
        .map_or(Ok(0), |row| row.i64("free"))?;
    if anyone_free == 0 {
        return Ok(Vec::new());
    }
    let mut roster = roster(db, now)?;
    if !roster.any_eligible() {
        return Ok(Vec::new());
    }
    let mut planned = Vec::new();
    let mut pools: HashMap<Option<i64>, Vec<Candidate>> = HashMap::new();
    // Keyset paging in queue order: after (priority, waiting_since, id) of the last row seen.
    let mut after = (i64::MAX, i64::MIN, i64::MIN);
    let mut considered = 0;
    'pages: while considered < MAX_WAITING_PER_PASS {
        let page = db.execute(
            QUEUE,
            &[
                after.0.into(),
                after.1.into(),
                after.2.into(),
                QUEUE_PAGE.into(),
            ],
        )?;
        if page.is_empty() {
            break;
        }
        considered += page.rows.len();
        for row in page.iter() {
            if !roster.any_eligible() {
                break 'pages;
            }
            after = (
                row.i64("priority")?,
                row.i64("waiting_since")?,
                row.i64("id")?,
            );
            if let Some(assignment) =
                decide(db, now, &row, teams, default, &mut roster, &mut pools)?
            {
                planned.push(assignment);
            }
        }
    }
    Ok(planned)
}

/// Routes one waiting conversation (a row of [`QUEUE`]), if the rules find someone.
fn decide(
    db: &dyn Database,
    now: i64,
    row: &Row<'_>,
    teams: &HashMap<i64, (String, RoutingSettings)>,
    default: &RoutingSettings,
    roster: &mut Roster,
    pools: &mut HashMap<Option<i64>, Vec<Candidate>>,
) -> Result<Option<PlannedAssignment>, ChatError> {
    let id = row.i64("id")?;
    let team_id = row.opt_i64("team_id")?;
    let settings = team_id
        .and_then(|t| teams.get(&t))
        .map_or(default, |(_, s)| s);
    let policy = settings.policy();
    let backup = settings
        .backup_team_id
        .filter(|b| Some(*b) != team_id)
        .and_then(|b| teams.get(&b).map(|(name, s)| (b, name, s)));
    for pool in std::iter::once(team_id).chain(backup.map(|(b, _, _)| Some(b))) {
        pools.entry(pool).or_insert_with(|| roster.pool(pool));
    }
    let waiting_since = row.i64("waiting_since")?;
    let contact_id = row.i64("contact_id")?;
    let previous = if policy.stickiness_window_ms > 0 {
        db.execute(PREVIOUS_OPERATOR, &[contact_id.into(), id.into()])?
            .first()
            .map(|r| Ok::<_, DbError>((r.i64("assignee_id")?, r.i64("updated_at")?)))
            .transpose()?
    } else {
        None
    };
    let need = Need {
        topic: row.opt_str("topic")?.map(str::to_lowercase),
        language: row.opt_str("language")?.map(str::to_lowercase),
        region: row.opt_str("region")?.map(str::to_lowercase),
        tier: row.opt_str("tier")?.map(str::to_lowercase),
        previous,
        waited_ms: now - waiting_since,
        declined_by: row.opt_i64("declined_by")?,
    };
    let own = pools.get(&team_id).map_or(&[][..], Vec::as_slice);
    let backup_policy = backup.map(|(_, _, s)| s.policy());
    let overflow = match (backup, &backup_policy) {
        (Some((b, name, _)), Some(policy)) => Some(Overflow {
            backup_name: name,
            policy,
            candidates: pools.get(&Some(b)).map_or(&[][..], Vec::as_slice),
            after_ms: settings.overflow_after_s.map(|s| s * 1000),
        }),
        _ => None,
    };
    let Some(decision) = routing::route(&policy, &need, own, overflow.as_ref(), now) else {
        return Ok(None);
    };
    took_one(&mut roster.all, decision.operator_id, now);
    for pool in pools.values_mut() {
        took_one(pool, decision.operator_id, now);
    }
    Ok(Some(PlannedAssignment {
        conversation_id: id,
        version: row.i64("version")?,
        to: Named {
            id: decision.operator_id,
            name: roster
                .names
                .get(&decision.operator_id)
                .cloned()
                .unwrap_or_default(),
        },
        topic_match: need.topic.as_ref().map(|_| decision.topic_match),
        decision,
    }))
}

/// Makes one planned assignment through the capacity- and version-guarded UPDATE. Returns
/// false when it was refused: the conversation or the operator's load moved since the plan was
/// read (another pass, a claim, a transfer), and the pass plans again.
fn apply_assignment(
    db: &dyn Database,
    now: i64,
    planned: PlannedAssignment,
    outcome: &mut Outcome,
    appended: &mut Vec<(i64, i64)>,
) -> Result<bool, ChatError> {
    let id = planned.conversation_id;
    let decision = planned.decision;
    if !conversation::reassign(
        db,
        id,
        planned.version,
        Assignee::Operator(decision.operator_id),
        None,
        false,
        now,
    )? {
        return Ok(false);
    }
    Routed {
        from: None,
        to: Some(planned.to),
        by: None,
        reason: &decision.reason,
        rule: Some(decision.rule),
        overflow: decision.overflow,
        topic_match: planned.topic_match,
    }
    .record(db, id, now, appended)?;
    outcome.assigned.push(Assignment {
        conversation_id: id,
        operator_id: decision.operator_id,
        rule: decision.rule,
        overflow: decision.overflow,
        reason: decision.reason,
    });
    Ok(true)
}

/// Where a waiting conversation stands, for the visitor (and the assistant).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueInfo {
    /// Open, unassigned, with a customer message: in the queue.
    pub waiting: bool,
    /// 1 = next in line (among conversations of the same team).
    pub position: Option<i64>,
    /// Operators available now for this conversation's team.
    pub available_operators: i64,
    /// An estimate in seconds; `None` when nobody is available (no honest number exists).
    pub estimated_wait_s: Option<i64>,
    /// What the estimate rests on: `recent_handle_times` or `default_handle_time`.
    pub basis: Option<&'static str>,
}

const QUEUE_ENTRY: &str = "SELECT c.id, c.team_id, c.priority, c.waiting_since
       FROM conversations c
      WHERE c.id = ?1 AND c.status = 'open' AND c.assignee_id IS NULL
        AND c.waiting_since IS NOT NULL";
const AHEAD: &str = "SELECT COUNT(*) AS n FROM conversations c
      WHERE c.status = 'open' AND c.assignee_id IS NULL AND c.waiting_since IS NOT NULL
        AND c.team_id IS ?1
        AND (c.priority > ?2 OR (c.priority = ?2 AND (c.waiting_since < ?3
             OR (c.waiting_since = ?3 AND c.id < ?4))))";
const POOL_CAPACITY: &str = "SELECT COUNT(*) AS available,
            COALESCE(SUM(o.capacity), 0) AS slots,
            COALESCE(SUM(MAX(0, o.capacity - (SELECT COUNT(*) FROM conversations l
                 WHERE l.assignee_id = o.id AND l.status IN ('open', 'pending')))), 0) AS free
       FROM operators o
      WHERE o.active = 1 AND o.password_hash != '' AND o.presence = 'available'
        AND o.last_seen_at >= ?1
        AND (?2 IS NULL OR o.id IN (SELECT operator_id FROM team_members WHERE team_id = ?2))";
const HANDLE_TIME: &str = "SELECT AVG(resolved_at - assigned_at) AS mean, COUNT(*) AS n FROM (
         SELECT resolved_at, assigned_at FROM conversations
          WHERE status = 'resolved' AND assigned_at IS NOT NULL AND resolved_at >= ?1
            AND resolved_at > assigned_at
          ORDER BY resolved_at DESC LIMIT ?2)";

/// The wait estimate: `ahead` conversations are served before this one by `available`
/// operators with `slots` places in all, `free` of them open now. Slots free up at about
/// `slots / handle_time` per second, so the conversation waits for the releases its place in
/// line needs beyond the free slots. Rounded up to whole seconds.
pub fn estimate_wait_s(position: i64, free: i64, slots: i64, handle_time_s: i64) -> Option<i64> {
    if slots <= 0 {
        return None;
    }
    let releases_needed = (position - free).max(0);
    Some((releases_needed * handle_time_s + slots - 1) / slots)
}

/// How many operators are available for a new conversation with no team yet (any team), for
/// the widget's offline notice: zero means nobody would answer now.
pub fn available_operators(db: &dyn Database, now: i64) -> Result<i64, DbError> {
    let rows = db.execute(
        POOL_CAPACITY,
        &[
            (now - PRESENCE_GRACE_MS).into(),
            crate::store::SqlValue::Null,
        ],
    )?;
    rows.first().map_or(Ok(0), |row| row.i64("available"))
}

pub fn queue_info(db: &dyn Database, conversation_id: i64, now: i64) -> Result<QueueInfo, DbError> {
    let Some(entry) = db
        .execute(QUEUE_ENTRY, &[conversation_id.into()])?
        .first()
        .map(|row| {
            Ok::<_, DbError>((
                row.opt_i64("team_id")?,
                row.i64("priority")?,
                row.i64("waiting_since")?,
            ))
        })
        .transpose()?
    else {
        return Ok(QueueInfo {
            waiting: false,
            position: None,
            available_operators: 0,
            estimated_wait_s: None,
            basis: None,
        });
    };
    let (team_id, priority, waiting_since) = entry;
    let ahead = db
        .execute(
            AHEAD,
            &[
                team_id.into(),
                priority.into(),
                waiting_since.into(),
                conversation_id.into(),
            ],
        )?
        .first()
        .map_or(Ok(0), |row| row.i64("n"))?;
    let capacity = db.execute(
        POOL_CAPACITY,
        &[(now - PRESENCE_GRACE_MS).into(), team_id.into()],
    )?;
    let (available, slots, free) = capacity.first().map_or(Ok((0, 0, 0)), |row| {
        Ok::<_, DbError>((row.i64("available")?, row.i64("slots")?, row.i64("free")?))
    })?;
    let history = db.execute(
        HANDLE_TIME,
        &[
            (now - HANDLE_TIME_WINDOW_MS).into(),
            HANDLE_TIME_SAMPLE.into(),
        ],
    )?;
    let recent = history
        .first()
        .map(|row| Ok::<_, DbError>((row.opt_f64("mean")?, row.i64("n")?)))
        .transpose()?
        .and_then(|(mean, n)| mean.filter(|_| n > 0))
        .map(|ms| (ms / 1000.0).ceil() as i64);
    let (handle_time_s, basis) = match recent {
        Some(s) => (s.max(1), "recent_handle_times"),
        None => (DEFAULT_HANDLE_TIME_S, "default_handle_time"),
    };
    let position = ahead + 1;
    let estimated_wait_s = estimate_wait_s(position, free, slots, handle_time_s);
    Ok(QueueInfo {
        waiting: true,
        position: Some(position),
        available_operators: available,
        estimated_wait_s,
        basis: estimated_wait_s.map(|_| basis),
    })
}

#[cfg(test)]
mod tests;
