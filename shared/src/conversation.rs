//! Conversations: one thread between a contact and the team. Its state (status, assignee, team)
//! changes only through conditional UPDATEs that match the `version` the caller saw, so two
//! operators acting at once cannot silently overwrite each other.

use serde::{Deserialize, Serialize};

use crate::channel::Channel;
use crate::contact::ContactRef;
use crate::message::{Author, Message};
use crate::secret::TokenHash;
use crate::store::{Database, DbError, Row, SqlValue};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Needs the team's attention.
    Open,
    /// Waiting on the customer.
    Pending,
    /// Put aside until `snoozed_until`; wakes up open, or earlier if the customer writes.
    Snoozed,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Pending => "pending",
            Status::Snoozed => "snoozed",
            Status::Resolved => "resolved",
        }
    }
    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "open" => Some(Status::Open),
            "pending" => Some(Status::Pending),
            "snoozed" => Some(Status::Snoozed),
            "resolved" => Some(Status::Resolved),
            _ => None,
        }
    }
    fn from_db(text: &str) -> Result<Status, DbError> {
        Status::parse(text).ok_or_else(|| DbError::Decode(format!("unknown status {text}")))
    }
    /// Whether a conversation in this state counts against its assignee's capacity.
    pub fn counts_as_load(self) -> bool {
        matches!(self, Status::Open | Status::Pending)
    }
}

/// Which conversations an inbox listing shows, by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Only(Status),
    All,
}

impl StatusFilter {
    pub fn parse(text: &str) -> Option<StatusFilter> {
        match text {
            "all" => Some(StatusFilter::All),
            other => Status::parse(other).map(StatusFilter::Only),
        }
    }
}

/// By assignee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    Any,
    Unassigned,
    Operator(i64),
}

/// Everything an inbox listing can filter on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFilter {
    pub status: StatusFilter,
    pub assignee: AssigneeFilter,
    pub tag_id: Option<i64>,
    pub team_id: Option<i64>,
    pub search: Option<SearchTerms>,
    /// Keyset pagination: only conversations older than this `(updated_at, id)`.
    pub before: Option<(i64, i64)>,
}

impl Default for ListFilter {
    fn default() -> Self {
        ListFilter {
            status: StatusFilter::Only(Status::Open),
            assignee: AssigneeFilter::Any,
            tag_id: None,
            team_id: None,
            search: None,
            before: None,
        }
    }
}

/// What an operator typed into the search box, made safe for both uses: an FTS5 query of
/// prefix-matched words (every word must occur) for message text, and a LIKE pattern for contact
/// details. FTS5 syntax characters never reach the query: words are quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerms {
    fts: Option<String>,
    like: String,
}

impl SearchTerms {
    pub const MIN_CHARS: usize = 2;
    pub const MAX_CHARS: usize = 100;

    pub fn parse(text: &str) -> Result<SearchTerms, crate::input::InvalidInput> {
        let text = crate::input::bounded_text("q", text, Self::MIN_CHARS, Self::MAX_CHARS)?;
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .take(8)
            .map(|w| format!("\"{w}\"*"))
            .collect();
        Ok(SearchTerms {
            fts: (!words.is_empty()).then(|| words.join(" ")),
            like: format!("%{}%", crate::store::like_escape(&text)),
        })
    }
}

/// An operator or a team as a conversation names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub id: i64,
    pub name: String,
}

impl From<&crate::operator::Operator> for Named {
    fn from(operator: &crate::operator::Operator) -> Named {
        Named {
            id: operator.id,
            name: operator.name.clone(),
        }
    }
}

/// A tag as shown on a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRef {
    pub id: i64,
    pub name: String,
    pub color: String,
}

/// A conversation as its visitor sees it: pending and snoozed are the team's business, so a
/// visitor sees them as open.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conversation {
    pub id: i64,
    pub status: Status,
    pub channel: Channel,
    pub created_at: i64,
    pub updated_at: i64,
    pub visitor_read_up_to: i64,
    pub operator_read_up_to: i64,
}

impl Conversation {
    fn from_row(row: &Row<'_>) -> Result<Conversation, DbError> {
        let channel = row.str("channel")?;
        Ok(Conversation {
            id: row.i64("id")?,
            status: Status::from_db(row.str("status")?)?,
            channel: Channel::parse(channel)
                .ok_or_else(|| DbError::Decode(format!("unknown channel {channel}")))?,
            created_at: row.i64("created_at")?,
            updated_at: row.i64("updated_at")?,
            visitor_read_up_to: row.i64("visitor_read_up_to")?,
            operator_read_up_to: row.i64("operator_read_up_to")?,
        })
    }

    /// The view for the visitor.
    pub fn for_visitor(mut self) -> Conversation {
        if matches!(self.status, Status::Pending | Status::Snoozed) {
            self.status = Status::Open;
        }
        self
    }
}

/// A conversation as operators see it: state, who has it, tags, the contact, the latest
/// message and how much is unread.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationSummary {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub version: i64,
    pub snoozed_until: Option<i64>,
    pub waiting_since: Option<i64>,
    /// What it is about (picked, or detected by routing), its language, and its priority in
    /// the queue (0 normal, 1 high, 2 urgent).
    pub topic: Option<String>,
    pub language: Option<String>,
    pub priority: i64,
    pub assignee: Option<Named>,
    pub team: Option<Named>,
    pub tags: Vec<TagRef>,
    pub contact: ContactRef,
    pub last_message: Option<Message>,
    /// Visitor messages after the operators' read marker.
    pub unread_count: i64,
    /// The assistant owns it (not waiting for an operator until it hands off).
    pub bot_active: bool,
    /// When the assistant handed it to people, if it did.
    pub handed_off_at: Option<i64>,
}

impl ConversationSummary {
    pub fn status(&self) -> Status {
        self.conversation.status
    }
    pub fn assignee_id(&self) -> Option<i64> {
        self.assignee.as_ref().map(|a| a.id)
    }

    fn from_row(row: &Row<'_>) -> Result<ConversationSummary, DbError> {
        let named = |id: &str, name: &str| -> Result<Option<Named>, DbError> {
            Ok(match row.opt_i64(id)? {
                Some(id) => Some(Named {
                    id,
                    name: row.opt_str(name)?.unwrap_or_default().to_owned(),
                }),
                None => None,
            })
        };
        let last_message = match row.opt_i64("m_id")? {
            None => None,
            Some(id) => Some(Message {
                id,
                conversation_id: row.i64("id")?,
                author: match row.str("m_author")? {
                    "visitor" => Author::Visitor,
                    "operator" => Author::Operator,
                    _ => Author::System,
                },
                operator_name: row.opt_str("m_operator_name")?.map(str::to_owned),
                channel: Channel::parse(row.str("m_channel")?).unwrap_or(Channel::Web),
                body: row.str("m_body")?.to_owned(),
                created_at: row.i64("m_created_at")?,
                client_id: row.opt_str("m_client_id")?.map(str::to_owned),
                sender: row.opt_str("m_sender")?.map(str::to_owned),
                delivery: None,
                delivery_error: None,
                attachments: Vec::new(),
            }),
        };
        let tags = serde_json::from_str(row.str("tags_json")?)
            .map_err(|e| DbError::Decode(format!("tags: {e}")))?;
        Ok(ConversationSummary {
            conversation: Conversation::from_row(row)?,
            version: row.i64("version")?,
            snoozed_until: row.opt_i64("snoozed_until")?,
            waiting_since: row.opt_i64("waiting_since")?,
            topic: row.opt_str("topic")?.map(str::to_owned),
            language: row.opt_str("language")?.map(str::to_owned),
            priority: row.i64("priority")?,
            assignee: named("assignee_id", "assignee_name")?,
            team: named("team_id", "team_name")?,
            tags,
            contact: ContactRef::from_row(row)?,
            last_message,
            unread_count: row.i64("unread_count")?,
            bot_active: row.i64("bot_active")? != 0,
            handed_off_at: row.opt_i64("handed_off_at")?,
        })
    }
}

const COLUMNS: &str = "c.id, c.status, c.channel, c.created_at, c.updated_at, c.visitor_read_up_to, c.operator_read_up_to";

const INSERT: &str = "INSERT INTO conversations
        (contact_id, visitor_contact_id, channel, page_url, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?5) RETURNING id";

const SUMMARY: &str = "SELECT c.id, c.status, c.channel, c.created_at, c.updated_at, c.visitor_read_up_to,
            c.operator_read_up_to, c.version, c.snoozed_until, c.waiting_since,
            c.topic, c.language, c.priority, c.bot_active, c.handed_off_at, c.assignee_id, a.name AS assignee_name, c.team_id, t.name AS team_name,
            (SELECT json_group_array(json(tag)) FROM (
                SELECT json_object('id', g.id, 'name', g.name, 'color', g.color) AS tag
                  FROM conversation_tags x JOIN tags g ON g.id = x.tag_id
                 WHERE x.conversation_id = c.id ORDER BY g.name)) AS tags_json,
            ct.id AS contact_id, ct.name AS contact_name, ct.email AS contact_email,
            ct.phone AS contact_phone,
            m.id AS m_id, m.author AS m_author, m.channel AS m_channel, m.body AS m_body,
            m.created_at AS m_created_at, m.client_id AS m_client_id, m.sender AS m_sender, o.name AS m_operator_name,
            (SELECT COUNT(*) FROM messages u
              WHERE u.conversation_id = c.id AND u.author = 'visitor' AND u.id > c.operator_read_up_to) AS unread_count
     FROM conversations c
     JOIN contacts ct ON ct.id = c.contact_id
     LEFT JOIN operators a ON a.id = c.assignee_id
     LEFT JOIN teams t ON t.id = c.team_id
     LEFT JOIN messages m ON m.id = c.last_message_id
     LEFT JOIN operators o ON o.id = m.operator_id";

/// A visitor owns a conversation when its token belongs to the contact that started it (never
/// the contact it was merged into): one indexed lookup answers both "is the token real" and
/// "is this theirs".
const OWNED_BY_TOKEN: &str = "SELECT c.id, c.status, c.channel, c.created_at, c.updated_at, c.visitor_read_up_to, c.operator_read_up_to
     FROM conversations c JOIN visitor_tokens t ON t.contact_id = c.visitor_contact_id
     WHERE c.id = ?1 AND t.token_hash = ?2";

/// Read markers move forward only, and never past the last message: the conditional UPDATE
/// answers whether this receipt changed anything, so stale or replayed receipts emit nothing.
/// A trigger publishes the receipt event when the marker moves (see migration 0002).
const ADVANCE_VISITOR_READ: &str =
    "UPDATE conversations SET visitor_read_up_to = ?2, visitor_read_at = ?3
     WHERE id = ?1 AND visitor_read_up_to < ?2 AND ?2 <= COALESCE(last_message_id, 0) RETURNING id";
const ADVANCE_OPERATOR_READ: &str = "UPDATE conversations SET operator_read_up_to = ?2, operator_read_at = ?3
     WHERE id = ?1 AND operator_read_up_to < ?2 AND ?2 <= COALESCE(last_message_id, 0) RETURNING id";

/// Every state change matches on `version` (?2) and bumps it: a caller who saw an older
/// version changes nothing.
const SET_STATUS: &str = "UPDATE conversations
        SET status = ?3, snoozed_until = ?4, version = version + 1,
            resolved_at = CASE WHEN ?3 = 'resolved' THEN ?5 ELSE resolved_at END,
            waiting_since = CASE WHEN ?3 != 'open' THEN NULL
                                 WHEN assignee_id IS NULL THEN COALESCE(waiting_since, ?5)
                                 ELSE NULL END
      WHERE id = ?1 AND version = ?2 RETURNING id";

/// Assigns to operator ?3 only if they are active and, when the conversation will count as load,
/// below their capacity: the count and the assignment are one statement, so concurrent
/// assignments cannot push anyone over. ?5 sets the team (NULL keeps it); ?6 = 1 reopens.
const ASSIGN_TO_OPERATOR: &str = "UPDATE conversations
        SET assignee_id = ?3, assigned_at = ?4, waiting_since = NULL, version = version + 1,
            declined_by = NULL, team_id = COALESCE(?5, team_id),
            status = CASE WHEN ?6 THEN 'open' ELSE status END,
            snoozed_until = CASE WHEN ?6 THEN NULL ELSE snoozed_until END
      WHERE id = ?1 AND version = ?2
        AND EXISTS (SELECT 1 FROM operators o WHERE o.id = ?3 AND o.active = 1
              AND o.password_hash != ''
              AND ((CASE WHEN ?6 THEN 'open' ELSE conversations.status END) NOT IN ('open', 'pending')
                   OR (SELECT COUNT(*) FROM conversations l
                        WHERE l.assignee_id = o.id AND l.status IN ('open', 'pending') AND l.id != ?1)
                      < o.capacity))
      RETURNING id";
const TOUCH_LAST_ASSIGNED: &str = "UPDATE operators SET last_assigned_at = ?2 WHERE id = ?1";

/// Back to the queue (of team ?3 if given). An open conversation waits from now. The operator
/// it leaves is not offered it again by the next routing pass (a transfer to a team they belong
/// to must not bounce straight back).
const RETURN_TO_QUEUE: &str = "UPDATE conversations
        SET assignee_id = NULL, assigned_at = NULL, version = version + 1,
            declined_by = assignee_id,
            team_id = COALESCE(?3, team_id),
            status = CASE WHEN ?4 THEN 'open' ELSE status END,
            snoozed_until = CASE WHEN ?4 THEN NULL ELSE snoozed_until END,
            waiting_since = CASE WHEN ?4 OR status = 'open' THEN ?5 ELSE NULL END
      WHERE id = ?1 AND version = ?2 RETURNING id";

const LOAD: &str = "SELECT COUNT(*) AS load FROM conversations
     WHERE assignee_id = ?1 AND status IN ('open', 'pending')";

const SNOOZES_DUE: &str = "SELECT EXISTS (SELECT 1 FROM conversations
     WHERE status = 'snoozed' AND snoozed_until <= ?1) AS due";
const RECORD_WAKES: &str =
    "INSERT INTO events (conversation_id, kind, visibility, data, created_at)
     SELECT id, 'conversation.status', 'internal',
            json_object('from', 'snoozed', 'to', 'open', 'by', NULL, 'reason', 'the snooze ended',
                        'snoozed_until', NULL), ?1
       FROM conversations WHERE status = 'snoozed' AND snoozed_until <= ?1";
const WAKE: &str = "UPDATE conversations
        SET status = 'open', snoozed_until = NULL, version = version + 1, updated_at = ?1,
            waiting_since = CASE WHEN assignee_id IS NULL THEN ?1 END
      WHERE status = 'snoozed' AND snoozed_until <= ?1 RETURNING id";

const WAITING: &str = "c.status = 'open' AND c.assignee_id IS NULL AND c.waiting_since IS NOT NULL";

fn single_id(rows: &crate::store::Rows) -> Result<i64, DbError> {
    rows.first()
        .ok_or_else(|| DbError::Decode("INSERT ... RETURNING gave no row".into()))?
        .i64("id")
}

/// A new conversation of `contact_id` (the customer as operators see them), owned on the
/// visitor side by `visitor_contact_id` (the contact whose widget tokens may read it).
pub fn insert(
    db: &dyn Database,
    contact_id: i64,
    visitor_contact_id: i64,
    channel: Channel,
    page_url: Option<&str>,
    now: i64,
) -> Result<i64, DbError> {
    let rows = db.execute(
        INSERT,
        &[
            contact_id.into(),
            visitor_contact_id.into(),
            channel.as_str().into(),
            page_url.into(),
            now.into(),
        ],
    )?;
    single_id(&rows)
}

pub fn by_id(db: &dyn Database, id: i64) -> Result<Option<Conversation>, DbError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM conversations c WHERE c.id = ?1"),
        &[id.into()],
    )?;
    rows.first()
        .map(|row| Conversation::from_row(&row))
        .transpose()
}

pub fn owned_by_visitor(
    db: &dyn Database,
    id: i64,
    token: &TokenHash,
) -> Result<Option<Conversation>, DbError> {
    let rows = db.execute(
        OWNED_BY_TOKEN,
        &[id.into(), SqlValue::Blob(token.0.to_vec())],
    )?;
    rows.first()
        .map(|row| Conversation::from_row(&row))
        .transpose()
}

pub fn summary(db: &dyn Database, id: i64) -> Result<Option<ConversationSummary>, DbError> {
    let rows = db.execute(&format!("{SUMMARY} WHERE c.id = ?1"), &[id.into()])?;
    rows.first()
        .map(|row| ConversationSummary::from_row(&row))
        .transpose()
}

/// Conversations matching `filter`, by most recent activity, at most `limit`.
///
/// Two steps in one statement: the inner query finds the page's ids walking an index, the outer
/// one builds summaries (tags, unread counts, last message) for those ids only. Building them
/// before the ORDER BY/LIMIT would compute every match's subqueries: 900 ms instead of
/// milliseconds at 10,000 conversations. Each condition is added only when asked for, rather
/// than `?1 IS NULL OR ...`, which would stop SQLite from walking the (status, updated_at) or
/// (assignee, status, updated_at) index.
pub fn list(
    db: &dyn Database,
    filter: &ListFilter,
    limit: i64,
) -> Result<Vec<ConversationSummary>, DbError> {
    let mut page = String::from("SELECT c.id FROM conversations c WHERE 1 = 1");
    let mut params: Vec<SqlValue> = Vec::new();
    if let StatusFilter::Only(status) = filter.status {
        page.push_str(" AND c.status = ?");
        params.push(status.as_str().into());
    }
    match filter.assignee {
        AssigneeFilter::Any => {}
        AssigneeFilter::Unassigned => page.push_str(" AND c.assignee_id IS NULL"),
        AssigneeFilter::Operator(id) => {
            page.push_str(" AND c.assignee_id = ?");
            params.push(id.into());
        }
    }
    if let Some(team_id) = filter.team_id {
        page.push_str(" AND c.team_id = ?");
        params.push(team_id.into());
    }
    if let Some(tag_id) = filter.tag_id {
        page.push_str(
            " AND c.id IN (SELECT conversation_id FROM conversation_tags WHERE tag_id = ?)",
        );
        params.push(tag_id.into());
    }
    if let Some(search) = &filter.search {
        page.push_str(
            " AND (c.contact_id IN (SELECT id FROM contacts
                      WHERE name LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\' OR phone LIKE ? ESCAPE '\\')",
        );
        for _ in 0..3 {
            params.push(search.like.clone().into());
        }
        if let Some(fts) = &search.fts {
            page.push_str(
                " OR c.id IN (SELECT m.conversation_id FROM messages_fts f
                               JOIN messages m ON m.id = f.rowid WHERE messages_fts MATCH ?)",
            );
            params.push(fts.clone().into());
        }
        page.push(')');
    }
    if let Some((updated_at, id)) = filter.before {
        page.push_str(" AND (c.updated_at, c.id) < (?, ?)");
        params.push(updated_at.into());
        params.push(id.into());
    }
    page.push_str(" ORDER BY c.updated_at DESC, c.id DESC LIMIT ?");
    params.push(limit.into());
    let sql = format!("{SUMMARY} WHERE c.id IN ({page}) ORDER BY c.updated_at DESC, c.id DESC");
    let rows = db.execute(&sql, &params)?;
    rows.iter()
        .map(|row| ConversationSummary::from_row(&row))
        .collect()
}

const SET_ROUTING_HINTS: &str = "UPDATE conversations SET topic = ?2, language = ?3 WHERE id = ?1";

/// What the visitor told the widget before writing: the topic they picked, their language.
pub fn set_routing_hints(
    db: &dyn Database,
    id: i64,
    topic: Option<&str>,
    language: Option<&str>,
) -> Result<(), DbError> {
    db.execute(
        SET_ROUTING_HINTS,
        &[id.into(), topic.into(), language.into()],
    )?;
    Ok(())
}

/// Every conversation of a contact, newest activity first.
pub fn of_contact(
    db: &dyn Database,
    contact_id: i64,
    limit: i64,
) -> Result<Vec<ConversationSummary>, DbError> {
    let rows = db.execute(
        &format!(
            "{SUMMARY} WHERE c.id IN (SELECT c.id FROM conversations c WHERE c.contact_id = ?1
                                        ORDER BY c.updated_at DESC, c.id DESC LIMIT ?2)
              ORDER BY c.updated_at DESC, c.id DESC"
        ),
        &[contact_id.into(), limit.into()],
    )?;
    rows.iter()
        .map(|row| ConversationSummary::from_row(&row))
        .collect()
}

/// The queue: open, unassigned conversations with a customer message, longest waiting first.
pub fn waiting(db: &dyn Database, limit: i64) -> Result<Vec<ConversationSummary>, DbError> {
    let rows = db.execute(
        &format!(
            "{SUMMARY} WHERE c.id IN (SELECT c.id FROM conversations c WHERE {WAITING}
                                        ORDER BY c.waiting_since, c.id LIMIT ?1)
              ORDER BY c.waiting_since, c.id"
        ),
        &[limit.into()],
    )?;
    rows.iter()
        .map(|row| ConversationSummary::from_row(&row))
        .collect()
}

/// How many conversations wait, and since when the oldest and (on average) they do.
pub fn waiting_stats(db: &dyn Database) -> Result<(i64, Option<i64>, Option<f64>), DbError> {
    let rows = db.execute(
        &format!(
            "SELECT COUNT(*) AS n, MIN(c.waiting_since) AS oldest, AVG(c.waiting_since) AS mean
               FROM conversations c WHERE {WAITING}"
        ),
        &[],
    )?;
    let Some(row) = rows.first() else {
        return Ok((0, None, None));
    };
    Ok((row.i64("n")?, row.opt_i64("oldest")?, row.opt_f64("mean")?))
}

/// Moves one side's read marker forward to `up_to` and, in the same statement, publishes the
/// receipt. Returns whether it moved.
pub fn advance_read(
    db: &dyn Database,
    id: i64,
    reader: Author,
    up_to: i64,
    now: i64,
) -> Result<bool, DbError> {
    let sql = match reader {
        Author::Visitor => ADVANCE_VISITOR_READ,
        _ => ADVANCE_OPERATOR_READ,
    };
    Ok(!db
        .execute(sql, &[id.into(), up_to.into(), now.into()])?
        .is_empty())
}

/// Sets the status if the conversation is still at `version`. Returns whether it was.
pub fn set_status(
    db: &dyn Database,
    id: i64,
    version: i64,
    status: Status,
    snoozed_until: Option<i64>,
    now: i64,
) -> Result<bool, DbError> {
    Ok(!db
        .execute(
            SET_STATUS,
            &[
                id.into(),
                version.into(),
                status.as_str().into(),
                snoozed_until.into(),
                now.into(),
            ],
        )?
        .is_empty())
}

/// Where [`reassign`] puts a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignee {
    Operator(i64),
    /// Unassigned: back in the queue.
    Queue,
}

/// Assigns or unassigns if the conversation is still at `version` (and, for an operator, they
/// are active and have room). `team_id` moves it to that team; `reopen` makes it open.
/// Returns whether it changed.
pub fn reassign(
    db: &dyn Database,
    id: i64,
    version: i64,
    to: Assignee,
    team_id: Option<i64>,
    reopen: bool,
    now: i64,
) -> Result<bool, DbError> {
    let reopen = i64::from(reopen);
    let changed = match to {
        Assignee::Operator(operator_id) => {
            let changed = !db
                .execute(
                    ASSIGN_TO_OPERATOR,
                    &[
                        id.into(),
                        version.into(),
                        operator_id.into(),
                        now.into(),
                        team_id.into(),
                        reopen.into(),
                    ],
                )?
                .is_empty();
            if changed {
                db.execute(TOUCH_LAST_ASSIGNED, &[operator_id.into(), now.into()])?;
            }
            changed
        }
        Assignee::Queue => !db
            .execute(
                RETURN_TO_QUEUE,
                &[
                    id.into(),
                    version.into(),
                    team_id.into(),
                    reopen.into(),
                    now.into(),
                ],
            )?
            .is_empty(),
    };
    Ok(changed)
}

/// Conversations that count against `operator_id`'s capacity.
pub fn load(db: &dyn Database, operator_id: i64) -> Result<i64, DbError> {
    db.execute(LOAD, &[operator_id.into()])?
        .first()
        .map_or(Ok(0), |row| row.i64("load"))
}

/// Reopens snoozed conversations whose time has come, each with its timeline entry. Spin has
/// no timers, so this runs on requests operators make anyway (heartbeats, listings); a read
/// first keeps the common case (nothing due) free of write locks. Returns the woken ids.
pub fn wake_snoozed(db: &dyn Database, now: i64) -> Result<Vec<i64>, DbError> {
    let due = db
        .execute(SNOOZES_DUE, &[now.into()])?
        .first()
        .map_or(Ok(0), |row| row.i64("due"))?;
    if due == 0 {
        return Ok(Vec::new());
    }
    crate::store::transaction(db, || {
        db.execute(RECORD_WAKES, &[now.into()])?;
        let rows = db.execute(WAKE, &[now.into()])?;
        rows.iter().map(|row| row.i64("id")).collect()
    })
}
