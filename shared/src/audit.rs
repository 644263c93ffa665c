//! The audit log: who did what to the system, when, and from where.
//!
//! Every sign-in (and failed sign-in), sign-out, first setup and accepted invitation is
//! recorded by the use cases in [`crate::inbox`]; every admin write is recorded by the one
//! dispatch of the `admin-api` component ([`AdminChange`] names it), so a new admin route cannot
//! forget it; exports, erasures and retention purges by [`crate::privacy`] and
//! [`crate::retention`].
//!
//! What a line holds, and what it never holds:
//! - the actor's operator id and email (copied, so the line still says who it was after the
//!   operator is removed); none for the system (retention) and for failed sign-ins, which carry
//!   the email that was tried in `detail` instead (cut to [`MAX_TRIED_EMAIL_CHARS`]);
//! - an [`Action`] from a closed list, a target (`operator:3`, `contact:12`, `team:2`...), and a
//!   small JSON detail of field *names* and counts, never field values: no passwords, tokens,
//!   secrets or message text can end up here because nothing copies values in;
//! - the client address (Spin's `spin-client-addr`, without the port).
//!
//! The log is append-only: nothing in the app updates or deletes a line. Reading it is for
//! admins ([`list`], `GET /api/admin/audit`), newest first, with keyset pages (`before=<id>`)
//! so a page is one indexed range read however long the log grows.

use serde::Serialize;
use serde_json::Value;

use crate::api::{query_param, query_text};
use crate::chat::ChatError;
use crate::host::Ctx;
use crate::input::InvalidInput;
use crate::operator::{Operator, Role};
use crate::store::{Database, DbError, Row};

/// Most lines one page returns, and the default.
pub const MAX_PAGE: i64 = 500;
pub const DEFAULT_PAGE: i64 = 50;
/// Most lines one CSV download holds (newest first).
pub const MAX_CSV_ROWS: i64 = 10_000;
/// A failed sign-in's tried email is cut to this many characters: enough to recognise an
/// account, not a place to store whatever an attacker sends.
pub const MAX_TRIED_EMAIL_CHARS: usize = 120;
/// Most field names a detail lists.
const MAX_FIELDS: usize = 30;

/// Everything the log can say happened. Dotted names are the stored and public form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Action {
    #[serde(rename = "login")]
    Login,
    #[serde(rename = "login.failed")]
    LoginFailed,
    #[serde(rename = "logout")]
    Logout,
    #[serde(rename = "setup")]
    Setup,
    #[serde(rename = "invite.accepted")]
    InviteAccepted,
    #[serde(rename = "operator.invited")]
    OperatorInvited,
    #[serde(rename = "operator.reinvited")]
    OperatorReinvited,
    #[serde(rename = "operator.updated")]
    OperatorUpdated,
    #[serde(rename = "operator.role_changed")]
    OperatorRoleChanged,
    #[serde(rename = "operator.removed")]
    OperatorRemoved,
    #[serde(rename = "settings.changed")]
    SettingsChanged,
    #[serde(rename = "contact.exported")]
    ContactExported,
    #[serde(rename = "contact.erased")]
    ContactErased,
    #[serde(rename = "retention.purged")]
    RetentionPurged,
}

impl Action {
    pub const ALL: [Action; 14] = [
        Action::Login,
        Action::LoginFailed,
        Action::Logout,
        Action::Setup,
        Action::InviteAccepted,
        Action::OperatorInvited,
        Action::OperatorReinvited,
        Action::OperatorUpdated,
        Action::OperatorRoleChanged,
        Action::OperatorRemoved,
        Action::SettingsChanged,
        Action::ContactExported,
        Action::ContactErased,
        Action::RetentionPurged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::LoginFailed => "login.failed",
            Action::Logout => "logout",
            Action::Setup => "setup",
            Action::InviteAccepted => "invite.accepted",
            Action::OperatorInvited => "operator.invited",
            Action::OperatorReinvited => "operator.reinvited",
            Action::OperatorUpdated => "operator.updated",
            Action::OperatorRoleChanged => "operator.role_changed",
            Action::OperatorRemoved => "operator.removed",
            Action::SettingsChanged => "settings.changed",
            Action::ContactExported => "contact.exported",
            Action::ContactErased => "contact.erased",
            Action::RetentionPurged => "retention.purged",
        }
    }

    pub fn parse(text: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// One line to append.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// `None` for the system and for failed sign-ins.
    pub actor: Option<&'a Operator>,
    pub action: Action,
    pub target: Option<String>,
    /// Field names and counts only (see the module docs).
    pub detail: Value,
    pub client_addr: Option<&'a str>,
}

impl<'a> Entry<'a> {
    pub fn new(actor: Option<&'a Operator>, action: Action) -> Entry<'a> {
        Entry {
            actor,
            action,
            target: None,
            detail: Value::Object(Default::default()),
            client_addr: None,
        }
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }

    pub fn from(mut self, client_addr: &'a str) -> Self {
        self.client_addr = Some(client_addr);
        self
    }
}

const INSERT: &str = "INSERT INTO audit_log
    (at_ms, actor_id, actor_email, action, target, detail, client_addr)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// Appends `entry` at `now`.
pub fn record(db: &dyn Database, now: i64, entry: &Entry<'_>) -> Result<(), DbError> {
    db.execute(
        INSERT,
        &[
            now.into(),
            entry.actor.map(|a| a.id).into(),
            entry.actor.map(|a| a.email.clone()).into(),
            entry.action.as_str().into(),
            entry.target.clone().into(),
            entry.detail.to_string().into(),
            entry.client_addr.map(str::to_owned).into(),
        ],
    )?;
    Ok(())
}

/// [`record`] for work whose outcome is already decided (the change is committed, the
/// sign-in refused): a failure to write the line is logged, not turned into an error the
/// caller would misread as "the change did not happen".
pub fn record_or_log(ctx: &Ctx<'_>, entry: &Entry<'_>) {
    if let Err(e) = record(ctx.db, ctx.clock.now_ms(), entry) {
        eprintln!("audit: could not record {}: {e}", entry.action.as_str());
    }
}

/// The detail of a failed sign-in: the email tried, trimmed and cut, so the line says which
/// account was being guessed. Only something shaped like an email address is kept: people paste
/// their password into the wrong box, and every admin can read this log.
pub fn tried_email(email: &str) -> Value {
    match crate::contact::EmailAddress::parse("email", email) {
        Ok(address) => {
            let tried: String = address
                .as_str()
                .chars()
                .take(MAX_TRIED_EMAIL_CHARS)
                .collect();
            serde_json::json!({ "email": tried })
        }
        Err(_) => serde_json::json!({ "email": null, "malformed": true }),
    }
}

/// The top-level field names of a JSON body, sorted and bounded: what a change touched,
/// without any of the values (which may be secrets, like a webhook's, or personal data).
pub fn field_names(body: &Value) -> Value {
    let mut names: Vec<&str> = body
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    names.sort_unstable();
    names.truncate(MAX_FIELDS);
    Value::from(names)
}

/// A request body as JSON for [`admin_entry`] (`Null` when it is empty or not JSON: the write
/// already succeeded, so its body parsed; a DELETE has none).
pub fn body_value(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// How an admin write changes the system, as the `admin-api` dispatch describes it: which
/// area, what happened to it, and the item's id if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminChange {
    pub area: &'static str,
    pub change: Change,
    pub item: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Deleted,
    /// A test delivery or similar action that changes no setting but is worth a line.
    Tested,
    /// A batch run now (retention).
    Ran,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Deleted => "deleted",
            Change::Tested => "tested",
            Change::Ran => "ran",
        }
    }
}

/// The line for an admin write. Operators get their own actions (invited, role changed,
/// removed); everything else is `settings.changed` with its area. `role_before` is the target
/// operator's role before a `PATCH /operators/:id`, so a role change names both ends.
pub fn admin_entry<'a>(
    actor: &'a Operator,
    change: &AdminChange,
    body: &Value,
    role_before: Option<Role>,
) -> Entry<'a> {
    let fields = field_names(body);
    let target = change.item.map(|id| {
        let noun = if change.area == "operators" {
            "operator".to_owned()
        } else {
            change.area.trim_end_matches('s').to_owned()
        };
        format!("{noun}:{id}")
    });
    let entry = |action: Action, detail: Value| {
        let mut e = Entry::new(Some(actor), action).detail(detail);
        e.target = target.clone();
        e
    };
    if change.area == "operators" {
        let new_role = body.get("role").and_then(Value::as_str);
        return match change.change {
            Change::Created => entry(
                Action::OperatorInvited,
                serde_json::json!({ "role": new_role }),
            ),
            Change::Tested | Change::Ran => entry(Action::OperatorReinvited, serde_json::json!({})),
            _ if body.get("active") == Some(&Value::Bool(false)) => entry(
                Action::OperatorRemoved,
                serde_json::json!({ "fields": fields }),
            ),
            _ => match (role_before, new_role.and_then(Role::parse)) {
                (Some(from), Some(to)) if from != to => entry(
                    Action::OperatorRoleChanged,
                    serde_json::json!({ "from": from.as_str(), "to": to.as_str(), "fields": fields }),
                ),
                _ => entry(
                    Action::OperatorUpdated,
                    serde_json::json!({ "fields": fields }),
                ),
            },
        };
    }
    entry(
        Action::SettingsChanged,
        serde_json::json!({
            "area": change.area,
            "change": change.change.as_str(),
            "fields": fields,
        }),
    )
}

/// One line as admins read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: Value,
    pub client_addr: Option<String>,
}

impl Line {
    fn from_row(row: &Row<'_>) -> Result<Line, DbError> {
        Ok(Line {
            id: row.i64("id")?,
            at: row.i64("at_ms")?,
            actor_id: row.opt_i64("actor_id")?,
            actor_email: row.opt_str("actor_email")?.map(str::to_owned),
            action: row.str("action")?.to_owned(),
            target: row.opt_str("target")?.map(str::to_owned),
            // Written by `record` from a `Value`; anything else is shown as the empty object
            // rather than failing the whole page.
            detail: serde_json::from_str(row.str("detail")?)
                .unwrap_or(Value::Object(Default::default())),
            client_addr: row.opt_str("client_addr")?.map(str::to_owned),
        })
    }
}

/// Who did it: an operator id or an exact email (case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorFilter {
    Id(i64),
    Email(String),
}

/// `GET /api/admin/audit` filters, parsed from the query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub action: Option<Action>,
    pub actor: Option<ActorFilter>,
    /// Inclusive lower bound, ms.
    pub from: Option<i64>,
    /// Exclusive upper bound, ms.
    pub to: Option<i64>,
    /// Only lines older than this id (the previous page's `next_before`).
    pub before: Option<i64>,
    pub limit: i64,
}

/// A day (`YYYY-MM-DD`, UTC) or a unix time in ms. `end` makes a day mean its end (the first
/// instant of the next day), so `to=2026-01-31` includes all of January 31st.
fn instant(field: &'static str, text: &str, end: bool) -> Result<i64, InvalidInput> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let date: jiff::civil::Date = text
        .parse()
        .map_err(|_| InvalidInput::new(field, "must be a date (YYYY-MM-DD) or unix ms"))?;
    let date = if end {
        date.tomorrow()
            .map_err(|_| InvalidInput::new(field, "is out of range"))?
    } else {
        date
    };
    jiff::tz::TimeZone::UTC
        .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .map(|t| t.as_millisecond())
        .map_err(|_| InvalidInput::new(field, "is out of range"))
}

impl Query {
    /// `action` (one of [`Action`]'s names), `actor` (operator id or email), `from`/`to`
    /// (`YYYY-MM-DD` in UTC, inclusive, or unix ms), `before` (an id), `limit` (1-500).
    pub fn parse(query: &str) -> Result<Query, InvalidInput> {
        let action = query_text(query, "action")
            .filter(|a| !a.is_empty())
            .map(|a| {
                Action::parse(&a)
                    .ok_or_else(|| InvalidInput::new("action", "is not an audit action"))
            })
            .transpose()?;
        let actor = query_text(query, "actor")
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .map(|a| match a.parse::<i64>() {
                Ok(id) if id > 0 => Ok(ActorFilter::Id(id)),
                Ok(_) => Err(InvalidInput::new(
                    "actor",
                    "must be an operator id or an email",
                )),
                Err(_) if a.contains('@') && a.chars().count() <= 254 => Ok(ActorFilter::Email(a)),
                Err(_) => Err(InvalidInput::new(
                    "actor",
                    "must be an operator id or an email",
                )),
            })
            .transpose()?;
        let bound = |name: &'static str, end: bool| {
            query_text(query, name)
                .filter(|t| !t.is_empty())
                .map(|t| instant(name, &t, end))
                .transpose()
        };
        let (from, to) = (bound("from", false)?, bound("to", true)?);
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            return Err(InvalidInput::new("to", "must be after from"));
        }
        let before = query_param(query, "before")
            .filter(|b| !b.is_empty())
            .map(|b| {
                b.parse::<i64>()
                    .ok()
                    .filter(|b| *b > 0)
                    .ok_or_else(|| InvalidInput::new("before", "must be a line id"))
            })
            .transpose()?;
        let limit = query_param(query, "limit")
            .filter(|l| !l.is_empty())
            .map(|l| {
                l.parse::<i64>()
                    .ok()
                    .filter(|l| (1..=MAX_PAGE).contains(l))
                    .ok_or_else(|| InvalidInput::new("limit", format!("must be 1 to {MAX_PAGE}")))
            })
            .transpose()?
            .unwrap_or(DEFAULT_PAGE);
        Ok(Query {
            action,
            actor,
            from,
            to,
            before,
            limit,
        })
    }
}

/// Every filter is bound; an absent one is NULL and its condition is true. Newest first by id
/// (ids grow with time), so `before` continues exactly where the last page stopped.
const LIST: &str = "SELECT id, at_ms, actor_id, actor_email, action, target, detail, client_addr
      FROM audit_log
     WHERE (?1 IS NULL OR action = ?1)
       AND (?2 IS NULL OR actor_id = ?2)
       AND (?3 IS NULL OR actor_email = ?3 COLLATE NOCASE)
       AND (?4 IS NULL OR at_ms >= ?4)
       AND (?5 IS NULL OR at_ms < ?5)
       AND (?6 IS NULL OR id < ?6)
     ORDER BY id DESC
     LIMIT ?7";

/// One page of the log.
#[derive(Debug, Serialize)]
pub struct Page {
    pub entries: Vec<Line>,
    /// Pass as `before` for the next (older) page; `None` on the last page.
    pub next_before: Option<i64>,
}

fn select(db: &dyn Database, q: &Query, limit: i64) -> Result<Vec<Line>, DbError> {
    let (actor_id, actor_email) = match &q.actor {
        Some(ActorFilter::Id(id)) => (Some(*id), None),
        Some(ActorFilter::Email(email)) => (None, Some(email.clone())),
        None => (None, None),
    };
    db.execute(
        LIST,
        &[
            q.action.map(Action::as_str).into(),
            actor_id.into(),
            actor_email.into(),
            q.from.into(),
            q.to.into(),
            q.before.into(),
            limit.into(),
        ],
    )?
    .iter()
    .map(|row| Line::from_row(&row))
    .collect()
}

/// A page of lines matching `q`. Admins only.
pub fn list(ctx: &Ctx<'_>, admin: &Operator, q: &Query) -> Result<Page, ChatError> {
    admin.require(Role::Admin)?;
    // One more than asked tells whether an older page exists without a COUNT.
    let mut entries = select(ctx.db, q, q.limit + 1)?;
    let more = entries.len() as i64 > q.limit;
    entries.truncate(q.limit as usize);
    let next_before = if more {
        entries.last().map(|l| l.id)
    } else {
        None
    };
    Ok(Page {
        entries,
        next_before,
    })
}

/// The lines matching `q` (ignoring its page size, up to [`MAX_CSV_ROWS`]) as CSV, times in
/// UTC (RFC 3339). Admins only.
pub fn csv(ctx: &Ctx<'_>, admin: &Operator, q: &Query) -> Result<String, ChatError> {
    admin.require(Role::Admin)?;
    let lines = select(ctx.db, q, MAX_CSV_ROWS)?;
    let records: Vec<Vec<String>> = lines
        .into_iter()
        .map(|l| {
            let at = jiff::Timestamp::from_millisecond(l.at)
                .map(|t| t.to_string())
                .unwrap_or_else(|_| l.at.to_string());
            vec![
                l.id.to_string(),
                at,
                l.actor_id.map(|a| a.to_string()).unwrap_or_default(),
                l.actor_email.unwrap_or_default(),
                l.action,
                l.target.unwrap_or_default(),
                l.detail.to_string(),
                l.client_addr.unwrap_or_default(),
            ]
        })
        .collect();
    Ok(crate::reports::csv(
        &[
            "id",
            "at",
            "actor_id",
            "actor_email",
            "action",
            "target",
            "detail",
            "client_addr",
        ],
        &records,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::testing::TestHost;
    use serde_json::json;

    fn admin() -> Operator {
        Operator {
            id: 1,
            email: "admin@example.com".into(),
            name: "Admin".into(),
            role: Role::Admin,
        }
    }

    fn operator() -> Operator {
        Operator {
            id: 2,
            email: "op@example.com".into(),
            name: "Op".into(),
            role: Role::Operator,
        }
    }

    #[test]
    fn every_action_round_trips_through_its_name() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                json!(action.as_str())
            );
        }
        assert_eq!(Action::parse("login.succeeded"), None);
    }

    #[test]
    fn pages_go_newest_first_and_continue_with_before() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let a = admin();
        for i in 0..5 {
            record(
                ctx.db,
                1_000 + i,
                &Entry::new(Some(&a), Action::Login).from("10.0.0.1"),
            )
            .unwrap();
        }
        let q = Query::parse("limit=2").unwrap();
        let first = list(&ctx, &a, &q).unwrap();
        assert_eq!(
            first.entries.iter().map(|l| l.at).collect::<Vec<_>>(),
            vec![1_004, 1_003]
        );
        let next = Query::parse(&format!("limit=2&before={}", first.next_before.unwrap())).unwrap();
        let second = list(&ctx, &a, &next).unwrap();
        assert_eq!(
            second.entries.iter().map(|l| l.at).collect::<Vec<_>>(),
            vec![1_002, 1_001]
        );
        let last =
            Query::parse(&format!("limit=2&before={}", second.next_before.unwrap())).unwrap();
        let third = list(&ctx, &a, &last).unwrap();
        assert_eq!(third.entries.len(), 1);
        assert_eq!(third.next_before, None);
        assert_eq!(third.entries[0].client_addr.as_deref(), Some("10.0.0.1"));
    }

    #[test]
    fn filters_by_action_actor_and_period() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let (a, o) = (admin(), operator());
        let day = 86_400_000;
        let jan2 = 1_767_312_000_000; // 2026-01-02T00:00:00Z
        record(ctx.db, jan2 - 1, &Entry::new(Some(&o), Action::Login)).unwrap();
        record(ctx.db, jan2, &Entry::new(Some(&a), Action::Login)).unwrap();
        record(
            ctx.db,
            jan2 + day - 1,
            &Entry::new(None, Action::LoginFailed).detail(tried_email("x@example.com")),
        )
        .unwrap();
        record(ctx.db, jan2 + day, &Entry::new(Some(&o), Action::Logout)).unwrap();

        let got = |q: &str| {
            list(&ctx, &a, &Query::parse(q).unwrap())
                .unwrap()
                .entries
                .into_iter()
                .map(|l| l.action)
                .collect::<Vec<_>>()
        };
        assert_eq!(got("action=login"), vec!["login", "login"]);
        assert_eq!(got("actor=2"), vec!["logout", "login"]);
        assert_eq!(got("actor=OP%40example.com"), vec!["logout", "login"]);
        assert_eq!(
            got("from=2026-01-02&to=2026-01-02"),
            vec!["login.failed", "login"]
        );
        assert_eq!(got(&format!("from={}", jan2 + day)), vec!["logout"]);
    }

    #[test]
    fn bad_filters_are_refused_with_the_field() {
        for (query, field) in [
            ("action=drop", "action"),
            ("actor=-3", "actor"),
            ("actor=bobby", "actor"),
            ("from=yesterday", "from"),
            ("from=2026-02-01&to=2026-01-01", "to"),
            ("before=x", "before"),
            ("limit=0", "limit"),
            ("limit=501", "limit"),
        ] {
            let e = Query::parse(query).unwrap_err();
            assert_eq!(e.field, field, "{query}");
        }
    }

    #[test]
    fn only_admins_read_the_log() {
        let host = TestHost::new();
        let q = Query::parse("").unwrap();
        assert!(matches!(
            list(&host.ctx(), &operator(), &q),
            Err(ChatError::Forbidden(_))
        ));
        assert!(matches!(
            csv(&host.ctx(), &operator(), &q),
            Err(ChatError::Forbidden(_))
        ));
    }

    #[test]
    fn admin_writes_name_fields_never_values() {
        let a = admin();
        let body = json!({ "url": "https://example.com/hook", "secret": "s3cr3t", "active": true });
        let change = AdminChange {
            area: "webhooks",
            change: Change::Updated,
            item: Some(4),
        };
        let entry = admin_entry(&a, &change, &body, None);
        assert_eq!(entry.action, Action::SettingsChanged);
        assert_eq!(entry.target.as_deref(), Some("webhook:4"));
        assert_eq!(
            entry.detail,
            json!({ "area": "webhooks", "change": "updated", "fields": ["active", "secret", "url"] })
        );
        assert!(!entry.detail.to_string().contains("s3cr3t"));
    }

    #[test]
    fn operator_changes_get_their_own_actions() {
        let a = admin();
        let change = |c| AdminChange {
            area: "operators",
            change: c,
            item: Some(7),
        };
        let role = admin_entry(
            &a,
            &change(Change::Updated),
            &json!({ "role": "supervisor" }),
            Some(Role::Operator),
        );
        assert_eq!(role.action, Action::OperatorRoleChanged);
        assert_eq!(role.detail["from"], "operator");
        assert_eq!(role.detail["to"], "supervisor");
        assert_eq!(role.target.as_deref(), Some("operator:7"));
        let same = admin_entry(
            &a,
            &change(Change::Updated),
            &json!({ "role": "operator", "capacity": 4 }),
            Some(Role::Operator),
        );
        assert_eq!(same.action, Action::OperatorUpdated);
        let removed = admin_entry(
            &a,
            &change(Change::Updated),
            &json!({ "active": false }),
            Some(Role::Operator),
        );
        assert_eq!(removed.action, Action::OperatorRemoved);
        let invited = admin_entry(
            &a,
            &AdminChange {
                area: "operators",
                change: Change::Created,
                item: None,
            },
            &json!({ "email": "n@example.com", "name": "N", "role": "operator" }),
            None,
        );
        assert_eq!(invited.action, Action::OperatorInvited);
        assert!(!invited.detail.to_string().contains("n@example.com"));
    }

    #[test]
    fn csv_has_a_header_and_guards_formulas() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let a = admin();
        record(
            ctx.db,
            1_767_225_600_000,
            &Entry::new(None, Action::LoginFailed).detail(tried_email("=cmd()@x.com")),
        )
        .unwrap();
        let text = csv(&ctx, &a, &Query::parse("").unwrap()).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("id,at,actor_id,actor_email,action,target,detail,client_addr")
        );
        let row = lines.next().unwrap();
        assert!(
            row.starts_with("1,2026-01-01T00:00:00Z,,,login.failed,,"),
            "{row}"
        );
    }

    #[test]
    fn a_tried_email_is_cut() {
        let long = format!("{}@{}.example.com", "a".repeat(60), "b".repeat(150));
        assert_eq!(
            tried_email(&long)["email"].as_str().unwrap().len(),
            MAX_TRIED_EMAIL_CHARS
        );
    }

    #[test]
    fn a_password_typed_into_the_email_box_is_not_kept() {
        for typed in ["correct horse battery staple", "hunter2!", "", "a@b"] {
            let detail = tried_email(typed);
            assert_eq!(detail["email"], Value::Null, "{typed}");
            assert_eq!(detail["malformed"], true);
        }
        assert_eq!(tried_email(" ops@example.com ")["email"], "ops@example.com");
    }
}
