//! How long the business keeps old conversations and files, and the purge that enforces it.
//!
//! Two settings (the `settings` table, keys `retention.conversation_days` and
//! `retention.attachment_days`; 0 = keep forever, the default; at most [`MAX_DAYS`]):
//! - a **resolved** conversation whose last activity (`updated_at`) is older than
//!   `conversation_days` is emptied by the very code that erases a customer on request
//!   ([`privacy::erase_conversations`]): the words and files go, the anonymous skeleton the
//!   reports count stays. Open, pending and snoozed conversations are never purged;
//! - a file older than `attachment_days` loses its bytes; its row stays with the marker
//!   [`REMOVED_MARK`] in `sha256` and an empty body, so the timeline still lists it and the
//!   download answers 404 instead of serving an empty file.
//!
//! The purge runs in bounded batches ([`CONVERSATION_BATCH`] conversations and
//! [`ATTACHMENT_BATCH`] files per run, one write transaction each) at most every
//! [`INTERVAL_MS`], from the router's periodic sweep (operators' heartbeats call it), and on
//! demand (`POST /api/admin/retention/purge`). Each batch that changed anything writes one audit
//! line `retention.purged` with its counts. "Not emptied since its last content"
//! (`conversations.emptied_at IS NULL`, a partial index) is what selects a conversation, so a
//! purge needs no cursor, a shortened limit catches up by itself, and conversations already
//! emptied are never looked at again.

use serde::{Deserialize, Serialize};

use crate::audit::{self, Action, Entry};
use crate::chat::ChatError;
use crate::host::Ctx;
use crate::input::InvalidInput;
use crate::operator::{Operator, Role};
use crate::privacy::{self, Erased};
use crate::store::{Database, DbError, transaction};

/// The longest limit: ten years.
pub const MAX_DAYS: i64 = 3650;
/// Conversations emptied per run.
pub const CONVERSATION_BATCH: i64 = 50;
/// Files emptied per run.
pub const ATTACHMENT_BATCH: i64 = 200;
/// How often the periodic path runs a purge.
pub const INTERVAL_MS: i64 = 10 * 60_000;
/// The `sha256` of a file whose bytes retention removed.
pub const REMOVED_MARK: &str = "removed-by-retention";
const DAY_MS: i64 = 86_400_000;
const LAST_RUN_KEY: &str = "retention:last_run";

const CONVERSATION_KEY: &str = "retention.conversation_days";
const ATTACHMENT_KEY: &str = "retention.attachment_days";

/// The retention settings; 0 days means keep forever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Retention {
    pub conversation_days: i64,
    pub attachment_days: i64,
}

/// `PATCH /api/admin/retention` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPatch {
    pub conversation_days: Option<i64>,
    pub attachment_days: Option<i64>,
}

const GET: &str = "SELECT key, value FROM settings WHERE key IN (?1, ?2)";
const SET: &str = "INSERT INTO settings (key, value) VALUES (?1, ?2)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

pub fn load(db: &dyn Database) -> Result<Retention, DbError> {
    let mut retention = Retention::default();
    for row in db
        .execute(GET, &[CONVERSATION_KEY.into(), ATTACHMENT_KEY.into()])?
        .iter()
    {
        // Written only by `save`; anything unreadable means "keep", the safe reading.
        let days = row
            .str("value")?
            .parse::<i64>()
            .unwrap_or(0)
            .clamp(0, MAX_DAYS);
        match row.str("key")? {
            CONVERSATION_KEY => retention.conversation_days = days,
            ATTACHMENT_KEY => retention.attachment_days = days,
            _ => {}
        }
    }
    Ok(retention)
}

fn days(field: &'static str, value: i64) -> Result<i64, InvalidInput> {
    if (0..=MAX_DAYS).contains(&value) {
        Ok(value)
    } else {
        Err(InvalidInput::new(
            field,
            format!("must be 0 (keep forever) to {MAX_DAYS} days"),
        ))
    }
}

/// The settings. Admins only.
pub fn settings(ctx: &Ctx<'_>, admin: &Operator) -> Result<Retention, ChatError> {
    admin.require(Role::Admin)?;
    Ok(load(ctx.db)?)
}

/// Changes the fields present in `patch` (each 0-[`MAX_DAYS`]). Admins only.
pub fn update(
    ctx: &Ctx<'_>,
    admin: &Operator,
    patch: &RetentionPatch,
) -> Result<Retention, ChatError> {
    admin.require(Role::Admin)?;
    let conversation = patch
        .conversation_days
        .map(|d| days("conversation_days", d))
        .transpose()?;
    let attachment = patch
        .attachment_days
        .map(|d| days("attachment_days", d))
        .transpose()?;
    transaction(ctx.db, || -> Result<(), ChatError> {
        for (key, value) in [
            (CONVERSATION_KEY, conversation),
            (ATTACHMENT_KEY, attachment),
        ] {
            if let Some(value) = value {
                ctx.db
                    .execute(SET, &[key.into(), value.to_string().into()])?;
            }
        }
        Ok(())
    })?;
    Ok(load(ctx.db)?)
}

/// Resolved, inactive since before `?1`, not emptied since its last content (migration 0013's
/// partial index `conversations_to_purge`), and still holding words or files. `INDEXED BY`:
/// without statistics the planner prefers `(status, updated_at)`, which walks every emptied
/// conversation again on each run.
const OLD_CONVERSATIONS: &str = "SELECT c.id FROM conversations c INDEXED BY conversations_to_purge
     WHERE c.status = 'resolved' AND c.emptied_at IS NULL AND c.updated_at < ?1
       AND (EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.body != '')
         OR EXISTS (SELECT 1 FROM attachments a WHERE a.conversation_id = c.id)
         OR EXISTS (SELECT 1 FROM notes n WHERE n.conversation_id = c.id))
     ORDER BY c.updated_at LIMIT ?2";
/// Marks conversations that turned out to hold nothing (customer-erased before emptied_at
/// existed, or never had content) so the next run does not look at them again.
const MARK_EMPTY: &str = "UPDATE conversations SET emptied_at = ?2
     WHERE id IN (SELECT c.id FROM conversations c INDEXED BY conversations_to_purge
                   WHERE c.status = 'resolved' AND c.emptied_at IS NULL AND c.updated_at < ?1
                     AND NOT EXISTS (SELECT 1 FROM messages m
                                      WHERE m.conversation_id = c.id AND m.body != '')
                     AND NOT EXISTS (SELECT 1 FROM attachments a WHERE a.conversation_id = c.id)
                     AND NOT EXISTS (SELECT 1 FROM notes n WHERE n.conversation_id = c.id)
                   ORDER BY c.updated_at LIMIT ?3)";
/// The literal `'removed-by-retention'` (= [`REMOVED_MARK`]) and not a parameter: SQLite uses
/// the partial index `attachments_to_purge` only when the query's WHERE states its predicate.
const OLD_ATTACHMENTS: &str = "UPDATE attachments SET data = x'', sha256 = ?3
     WHERE id IN (SELECT id FROM attachments
                   WHERE sha256 != 'removed-by-retention' AND created_at < ?1
                   ORDER BY created_at LIMIT ?2)
     RETURNING size";

/// What one purge run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Purged {
    /// Old conversations emptied (with everything in them).
    pub conversations: Erased,
    /// Files whose bytes were removed for their age alone.
    pub attachments: i64,
    pub attachment_bytes: i64,
}

impl Purged {
    fn is_empty(&self) -> bool {
        self.conversations == Erased::default() && self.attachments == 0
    }
}

/// One bounded purge batch now, with its audit line when it changed anything. Returns what it
/// did (all zeros when both limits are "keep forever").
pub fn purge(ctx: &Ctx<'_>) -> Result<Purged, ChatError> {
    let now = ctx.clock.now_ms();
    transaction(ctx.db, || -> Result<Purged, ChatError> {
        let db = ctx.db;
        let limits = load(db)?;
        let mut purged = Purged::default();
        if limits.conversation_days > 0 {
            let cutoff = now - limits.conversation_days * DAY_MS;
            let ids = db
                .execute(
                    OLD_CONVERSATIONS,
                    &[cutoff.into(), CONVERSATION_BATCH.into()],
                )?
                .iter()
                .map(|r| r.i64("id"))
                .collect::<Result<Vec<_>, _>>()?;
            purged.conversations = privacy::erase_conversations(db, &ids, now)?;
            db.execute(
                MARK_EMPTY,
                &[cutoff.into(), now.into(), CONVERSATION_BATCH.into()],
            )?;
        }
        if limits.attachment_days > 0 {
            let cutoff = now - limits.attachment_days * DAY_MS;
            let rows = db.execute(
                OLD_ATTACHMENTS,
                &[cutoff.into(), ATTACHMENT_BATCH.into(), REMOVED_MARK.into()],
            )?;
            purged.attachments = rows.rows.len() as i64;
            purged.attachment_bytes = rows.iter().map(|r| r.i64("size")).sum::<Result<i64, _>>()?;
        }
        if !purged.is_empty() {
            let detail = serde_json::to_value(&purged)
                .unwrap_or_else(|_| serde_json::Value::Object(Default::default()));
            audit::record(
                db,
                now,
                &Entry::new(None, Action::RetentionPurged).detail(detail),
            )?;
        }
        Ok(purged)
    })
}

/// [`purge`] when [`INTERVAL_MS`] has passed since the last run on any node (a key-value
/// marker claimed before the run, so concurrent callers skip rather than queue). Errors are
/// logged: the next run tries again.
pub fn purge_if_due(ctx: &Ctx<'_>) {
    let now = ctx.clock.now_ms();
    let last = ctx
        .kv
        .get(LAST_RUN_KEY)
        .ok()
        .flatten()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| t.parse::<i64>().ok());
    if last.is_some_and(|at| now - at < INTERVAL_MS) {
        return;
    }
    let _ = ctx.kv.set(LAST_RUN_KEY, now.to_string().as_bytes());
    if let Err(e) = purge(ctx) {
        eprintln!("retention: purge failed: {e}");
    }
}

/// `POST /api/admin/retention/purge`: one batch now. Admins only.
pub fn purge_now(ctx: &Ctx<'_>, admin: &Operator) -> Result<Purged, ChatError> {
    admin.require(Role::Admin)?;
    purge(ctx)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::store::SqlValue;
    use crate::testing::TestHost;

    fn admin() -> Operator {
        Operator {
            id: 1,
            email: "admin@example.com".into(),
            name: "Admin".into(),
            role: Role::Admin,
        }
    }

    /// An admin sets conversations to be kept `days` days (attachments unchanged).
    fn keep_conversations_for_days(ctx: &Ctx<'_>, days: i64) {
        update(
            ctx,
            &admin(),
            &RetentionPatch {
                conversation_days: Some(days),
                attachment_days: None,
            },
        )
        .unwrap();
    }

    fn one(db: &dyn Database, sql: &str) -> i64 {
        db.execute(sql, &[])
            .unwrap()
            .first()
            .unwrap()
            .i64("n")
            .unwrap()
    }

    /// Conversation `id` with status `status`, last active at `at`, with one message and a
    /// file created at `at`.
    fn conversation(db: &dyn Database, id: i64, status: &str, at: i64) {
        db.execute(
            "INSERT OR IGNORE INTO contacts (id, name, created_at) VALUES (1, 'Ada', 0)",
            &[],
        )
        .unwrap();
        db.execute(
            "INSERT INTO conversations (id, contact_id, visitor_contact_id, status, created_at,
                                        updated_at) VALUES (?1, 1, 1, 'open', ?2, ?2)",
            &[id.into(), at.into()],
        )
        .unwrap();
        db.execute(
            "INSERT INTO attachments (conversation_id, name, content_type, size, sha256, data,
                                      created_at)
             VALUES (?1, 'a.png', 'image/png', 3, 'x', x'010203', ?2)",
            &[id.into(), at.into()],
        )
        .unwrap();
        db.execute(
            "INSERT INTO messages (conversation_id, author, body, created_at)
             VALUES (?1, 'visitor', 'hello from ' || ?1, ?2)",
            &[id.into(), at.into()],
        )
        .unwrap();
        db.execute(
            "UPDATE conversations SET status = ?2 WHERE id = ?1",
            &[id.into(), SqlValue::Text(status.into())],
        )
        .unwrap();
    }

    #[test]
    fn settings_default_to_keep_forever_and_refuse_out_of_range() {
        let host = TestHost::new();
        let ctx = host.ctx();
        assert_eq!(settings(&ctx, &admin()).unwrap(), Retention::default());
        let set = update(
            &ctx,
            &admin(),
            &RetentionPatch {
                conversation_days: Some(30),
                attachment_days: None,
            },
        )
        .unwrap();
        assert_eq!(set.conversation_days, 30);
        assert_eq!(set.attachment_days, 0);
        let e = update(
            &ctx,
            &admin(),
            &RetentionPatch {
                conversation_days: None,
                attachment_days: Some(-1),
            },
        )
        .unwrap_err();
        assert!(matches!(e, ChatError::Invalid(ref i) if i.field == "attachment_days"));
        let mut supervisor = admin();
        supervisor.role = Role::Supervisor;
        assert!(matches!(
            settings(&ctx, &supervisor),
            Err(ChatError::Forbidden(_))
        ));
    }

    #[test]
    fn nothing_is_purged_while_limits_keep_forever() {
        let host = TestHost::new();
        let ctx = host.ctx();
        conversation(ctx.db, 1, "resolved", 0);
        assert_eq!(purge(&ctx).unwrap(), Purged::default());
        assert_eq!(one(ctx.db, "SELECT COUNT(*) AS n FROM audit_log"), 0);
    }

    #[test]
    fn old_resolved_conversations_are_emptied_and_open_or_recent_ones_kept() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let now = ctx.clock.now_ms();
        let days = |d: i64| now - d * DAY_MS;
        conversation(ctx.db, 1, "resolved", days(40));
        conversation(ctx.db, 2, "open", days(40));
        conversation(ctx.db, 3, "resolved", days(10));
        keep_conversations_for_days(&ctx, 30);
        let purged = purge(&ctx).unwrap();
        assert_eq!(purged.conversations.conversations, 1);
        assert_eq!(purged.conversations.messages, 1);
        assert_eq!(purged.conversations.attachments, 1);
        let bodies = ctx
            .db
            .execute("SELECT body FROM messages ORDER BY conversation_id", &[])
            .unwrap();
        let bodies: Vec<&str> = bodies.iter().map(|r| r.str("body").unwrap()).collect();
        assert_eq!(bodies, vec!["", "hello from 2", "hello from 3"]);
        let line = ctx
            .db
            .execute(
                "SELECT actor_id, detail FROM audit_log WHERE action = 'retention.purged'",
                &[],
            )
            .unwrap();
        let line = line.first().unwrap();
        assert_eq!(line.opt_i64("actor_id").unwrap(), None);
        assert!(line.str("detail").unwrap().contains("\"messages\":1"));
        // The next run finds nothing more and writes no line.
        assert_eq!(purge(&ctx).unwrap(), Purged::default());
        assert_eq!(one(ctx.db, "SELECT COUNT(*) AS n FROM audit_log"), 1);
    }

    #[test]
    fn old_files_lose_their_bytes_but_keep_a_marker() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let now = ctx.clock.now_ms();
        conversation(ctx.db, 1, "open", now - 100 * DAY_MS);
        conversation(ctx.db, 2, "open", now - DAY_MS);
        update(
            &ctx,
            &admin(),
            &RetentionPatch {
                conversation_days: None,
                attachment_days: Some(90),
            },
        )
        .unwrap();
        let purged = purge(&ctx).unwrap();
        assert_eq!(purged.attachments, 1);
        assert_eq!(purged.attachment_bytes, 3);
        assert_eq!(
            one(
                ctx.db,
                "SELECT COUNT(*) AS n FROM attachments WHERE length(data) = 0
                          AND sha256 = 'removed-by-retention' AND conversation_id = 1"
            ),
            1
        );
        // The marked file is not served, and the message lists it as removed.
        let id = one(
            ctx.db,
            "SELECT id AS n FROM attachments WHERE conversation_id = 1",
        );
        let message = one(
            ctx.db,
            "SELECT id AS n FROM messages WHERE conversation_id = 1",
        );
        ctx.db
            .execute(
                "UPDATE attachments SET message_id = ?1 WHERE id = ?2",
                &[message.into(), id.into()],
            )
            .unwrap();
        assert!(
            crate::attachment::for_operator(ctx.db, 1, id)
                .unwrap()
                .is_none()
        );
        let listed = crate::message::get(ctx.db, message).unwrap().unwrap();
        assert_eq!(listed.attachments.len(), 1);
        assert!(listed.attachments[0].removed);
        assert_eq!(listed.attachments[0].name, "a.png");
        // The message text of an open conversation is untouched.
        assert_eq!(
            one(
                ctx.db,
                "SELECT COUNT(*) AS n FROM messages WHERE body LIKE 'hello%'"
            ),
            2
        );
    }

    fn plan(db: &dyn Database, sql: &str, params: &[SqlValue]) -> String {
        db.execute(&format!("EXPLAIN QUERY PLAN {sql}"), params)
            .unwrap()
            .iter()
            .map(|r| r.str("detail").unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn both_selections_read_their_partial_indexes_not_the_tables() {
        let host = TestHost::new();
        let db = host.ctx().db;
        let files = plan(
            db,
            OLD_ATTACHMENTS,
            &[0.into(), 1.into(), REMOVED_MARK.into()],
        );
        assert!(
            files.contains("USING INDEX attachments_to_purge")
                || files.contains("USING COVERING INDEX attachments_to_purge"),
            "{files}"
        );
        assert!(!files.contains("SCAN attachments"), "{files}");
        let conversations = plan(db, OLD_CONVERSATIONS, &[0.into(), 1.into()]);
        assert!(
            conversations.contains("INDEX conversations_to_purge"),
            "{conversations}"
        );
        assert!(!conversations.contains("SCAN c\n"), "{conversations}");
    }

    #[test]
    fn emptied_conversations_leave_the_selection_until_they_get_new_content() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let old = ctx.clock.now_ms() - 400 * DAY_MS;
        conversation(ctx.db, 1, "resolved", old);
        // Already empty (say, erased on request before the mark existed): marked, not erased.
        conversation(ctx.db, 2, "resolved", old);
        ctx.db
            .execute(
                "UPDATE messages SET body = '' WHERE conversation_id = 2;",
                &[],
            )
            .unwrap();
        ctx.db
            .execute("DELETE FROM attachments WHERE conversation_id = 2", &[])
            .unwrap();
        keep_conversations_for_days(&ctx, 1);
        assert_eq!(purge(&ctx).unwrap().conversations.conversations, 1);
        let selected = |db: &dyn Database| {
            db.execute(OLD_CONVERSATIONS, &[(old + 1).into(), 100.into()])
                .unwrap()
                .rows
                .len()
        };
        assert_eq!(
            one(
                ctx.db,
                "SELECT COUNT(*) AS n FROM conversations WHERE emptied_at IS NULL"
            ),
            0
        );
        assert_eq!(selected(ctx.db), 0);
        // The customer writes again (reopening it; dated old here) and it is resolved again:
        // purgeable again.
        ctx.db
            .execute(
                "INSERT INTO messages (conversation_id, author, body, created_at)
                 VALUES (1, 'visitor', 'back again', ?1)",
                &[old.into()],
            )
            .unwrap();
        ctx.db
            .execute(
                "UPDATE conversations SET status = 'resolved' WHERE id = 1",
                &[],
            )
            .unwrap();
        assert_eq!(selected(ctx.db), 1);
        assert_eq!(purge(&ctx).unwrap().conversations.messages, 1);
        assert_eq!(selected(ctx.db), 0);
    }

    #[test]
    fn batches_are_bounded() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let old = ctx.clock.now_ms() - 400 * DAY_MS;
        for id in 1..=CONVERSATION_BATCH + 5 {
            conversation(ctx.db, id, "resolved", old);
        }
        keep_conversations_for_days(&ctx, 365);
        assert_eq!(
            purge(&ctx).unwrap().conversations.conversations,
            CONVERSATION_BATCH
        );
        assert_eq!(purge(&ctx).unwrap().conversations.conversations, 5);
    }

    #[test]
    fn the_periodic_path_runs_at_most_once_per_interval() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let old = ctx.clock.now_ms() - 400 * DAY_MS;
        keep_conversations_for_days(&ctx, 1);
        conversation(ctx.db, 1, "resolved", old);
        purge_if_due(&ctx);
        conversation(ctx.db, 2, "resolved", old);
        purge_if_due(&ctx);
        assert_eq!(
            one(ctx.db, "SELECT COUNT(*) AS n FROM messages WHERE body = ''"),
            1
        );
        host.clock.advance(INTERVAL_MS);
        purge_if_due(&ctx);
        assert_eq!(
            one(ctx.db, "SELECT COUNT(*) AS n FROM messages WHERE body = ''"),
            2
        );
    }
}
