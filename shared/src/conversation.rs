//! Conversations: one thread between a contact and the team, with read markers for both sides.

use serde::Serialize;

use crate::channel::Channel;
use crate::contact::ContactRef;
use crate::message::{Author, Message};
use crate::secret::TokenHash;
use crate::store::{Database, DbError, Row, SqlValue};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Resolved => "resolved",
        }
    }
    fn from_db(text: &str) -> Result<Status, DbError> {
        match text {
            "open" => Ok(Status::Open),
            "resolved" => Ok(Status::Resolved),
            other => Err(DbError::Decode(format!("unknown status {other}"))),
        }
    }
}

/// Which conversations an inbox listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Only(Status),
    All,
}

impl StatusFilter {
    pub fn parse(text: &str) -> Option<StatusFilter> {
        match text {
            "open" => Some(StatusFilter::Only(Status::Open)),
            "resolved" => Some(StatusFilter::Only(Status::Resolved)),
            "all" => Some(StatusFilter::All),
            _ => None,
        }
    }
}

/// A conversation as its visitor sees it.
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
}

/// A conversation as operators see it in the inbox: who, the latest message, how much is unread.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationSummary {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub contact: ContactRef,
    pub last_message: Option<Message>,
    /// Visitor messages after the operators' read marker.
    pub unread_count: i64,
}

impl ConversationSummary {
    fn from_row(row: &Row<'_>) -> Result<ConversationSummary, DbError> {
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
            }),
        };
        Ok(ConversationSummary {
            conversation: Conversation::from_row(row)?,
            contact: ContactRef::from_row(row)?,
            last_message,
            unread_count: row.i64("unread_count")?,
        })
    }
}

const COLUMNS: &str = "c.id, c.status, c.channel, c.created_at, c.updated_at, c.visitor_read_up_to, c.operator_read_up_to";

const INSERT: &str =
    "INSERT INTO conversations (contact_id, channel, page_url, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?4) RETURNING id";

const SUMMARY: &str = "SELECT c.id, c.status, c.channel, c.created_at, c.updated_at, c.visitor_read_up_to, c.operator_read_up_to,
            ct.id AS contact_id, ct.name AS contact_name, ct.email AS contact_email,
            m.id AS m_id, m.author AS m_author, m.channel AS m_channel, m.body AS m_body,
            m.created_at AS m_created_at, m.client_id AS m_client_id, o.name AS m_operator_name,
            (SELECT COUNT(*) FROM messages u
              WHERE u.conversation_id = c.id AND u.author = 'visitor' AND u.id > c.operator_read_up_to) AS unread_count
     FROM conversations c
     JOIN contacts ct ON ct.id = c.contact_id
     LEFT JOIN messages m ON m.id = c.last_message_id
     LEFT JOIN operators o ON o.id = m.operator_id";

/// A visitor owns a conversation when its token belongs to the conversation's contact: one
/// indexed lookup answers both "is the token real" and "is this theirs".
const OWNED_BY_TOKEN: &str = "SELECT c.id, c.status, c.channel, c.created_at, c.updated_at, c.visitor_read_up_to, c.operator_read_up_to
     FROM conversations c JOIN visitor_tokens t ON t.contact_id = c.contact_id
     WHERE c.id = ?1 AND t.token_hash = ?2";

/// Read markers move forward only, and never past the last message: the conditional UPDATE
/// answers whether this receipt changed anything, so stale or replayed receipts emit nothing.
/// A trigger publishes the receipt event when the marker moves (see migration 0001).
const ADVANCE_VISITOR_READ: &str =
    "UPDATE conversations SET visitor_read_up_to = ?2, visitor_read_at = ?3
     WHERE id = ?1 AND visitor_read_up_to < ?2 AND ?2 <= COALESCE(last_message_id, 0) RETURNING id";
const ADVANCE_OPERATOR_READ: &str = "UPDATE conversations SET operator_read_up_to = ?2, operator_read_at = ?3
     WHERE id = ?1 AND operator_read_up_to < ?2 AND ?2 <= COALESCE(last_message_id, 0) RETURNING id";

pub fn insert(
    db: &dyn Database,
    contact_id: i64,
    channel: Channel,
    page_url: Option<&str>,
    now: i64,
) -> Result<i64, DbError> {
    let rows = db.execute(
        INSERT,
        &[
            contact_id.into(),
            channel.as_str().into(),
            page_url.into(),
            now.into(),
        ],
    )?;
    rows.first()
        .ok_or_else(|| DbError::Decode("INSERT ... RETURNING gave no row".into()))?
        .i64("id")
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

/// Conversations by most recent activity, at most `limit`.
pub fn list(
    db: &dyn Database,
    filter: StatusFilter,
    limit: i64,
) -> Result<Vec<ConversationSummary>, DbError> {
    // Two statements rather than `?1 = 'all' OR c.status = ?1`, which would stop SQLite from
    // walking the (status, updated_at) index and make it sort every conversation instead.
    let rows = match filter {
        StatusFilter::Only(status) => db.execute(
            &format!(
                "{SUMMARY} WHERE c.status = ?1 ORDER BY c.updated_at DESC, c.id DESC LIMIT ?2"
            ),
            &[status.as_str().into(), limit.into()],
        )?,
        StatusFilter::All => db.execute(
            &format!("{SUMMARY} ORDER BY c.updated_at DESC, c.id DESC LIMIT ?1"),
            &[limit.into()],
        )?,
    };
    rows.iter()
        .map(|row| ConversationSummary::from_row(&row))
        .collect()
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
