//! Messages: what visitors and operators say, stored once each.

use serde::Serialize;

use crate::attachment::AttachmentRef;
use crate::channel::Channel;
use crate::delivery::DeliveryStatus;
use crate::input::{InvalidInput, bounded_text};
use crate::secret::TokenHash;
use crate::store::{Database, DbError, Row, SqlValue};

/// The text of a message: 1 to [`MessageBody::MAX_CHARS`] characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody(String);

impl MessageBody {
    /// Long enough for a detailed question, short enough to read in one bubble.
    pub const MAX_CHARS: usize = 4000;

    pub fn parse(text: &str) -> Result<MessageBody, InvalidInput> {
        bounded_text("body", text, 1, Self::MAX_CHARS).map(MessageBody)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The sender's idempotency key for one message: 1-64 characters from `[A-Za-z0-9_-.:]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(text: &str) -> Result<ClientId, InvalidInput> {
        let ok = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if ok {
            Ok(ClientId(text.to_owned()))
        } else {
            Err(InvalidInput::new(
                "client_id",
                "must be 1-64 characters from A-Z a-z 0-9 - _ . :",
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Visitor,
    Operator,
    System,
}

impl Author {
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Visitor => "visitor",
            Author::Operator => "operator",
            Author::System => "system",
        }
    }
    fn parse(text: &str) -> Result<Author, DbError> {
        match text {
            "visitor" => Ok(Author::Visitor),
            "operator" => Ok(Author::Operator),
            "system" => Ok(Author::System),
            other => Err(DbError::Decode(format!("unknown author {other}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub id: i64,
    pub conversation_id: i64,
    pub author: Author,
    pub operator_name: Option<String>,
    pub channel: Channel,
    pub body: String,
    pub created_at: i64,
    pub client_id: Option<String>,
    /// Who wrote a system message: `assistant` for the AI first line, `None` for notices.
    pub sender: Option<String>,
    /// How far an outbound message on a provider channel got (`None` for everything else).
    pub delivery: Option<String>,
    /// Why it failed, or why the last attempt did while it is being retried.
    pub delivery_error: Option<String>,
    pub attachments: Vec<AttachmentRef>,
}

impl Message {
    /// Reads the columns of [`MESSAGE_COLUMNS`].
    pub fn from_row(row: &Row<'_>) -> Result<Message, DbError> {
        let channel = row.str("channel")?;
        Ok(Message {
            id: row.i64("id")?,
            conversation_id: row.i64("conversation_id")?,
            author: Author::parse(row.str("author")?)?,
            operator_name: row.opt_str("operator_name")?.map(str::to_owned),
            channel: Channel::parse(channel)
                .ok_or_else(|| DbError::Decode(format!("unknown channel {channel}")))?,
            body: row.str("body")?.to_owned(),
            created_at: row.i64("created_at")?,
            client_id: row.opt_str("client_id")?.map(str::to_owned),
            sender: row.opt_str("sender")?.map(str::to_owned),
            delivery: row.opt_str("delivery")?.map(str::to_owned),
            delivery_error: row.opt_str("delivery_error")?.map(str::to_owned),
            attachments: crate::attachment::refs_from_json(row.opt_str("attachments")?)?,
        })
    }
}

/// What a new message carries.
pub struct NewMessage<'a> {
    pub conversation_id: i64,
    pub author: Author,
    pub operator_id: Option<i64>,
    pub operator_name: Option<&'a str>,
    pub channel: Channel,
    pub body: &'a MessageBody,
    pub client_id: Option<&'a ClientId>,
    /// `Some(Queued)` for a reply that goes out through a provider (the outbox sends it).
    pub delivery: Option<DeliveryStatus>,
    /// `Some("assistant")` for the assistant's system messages.
    pub sender: Option<&'a str>,
}

/// Inserts a message only if the conversation exists and, for a visitor, belongs to the
/// visitor holding token hash `?8` (`NULL` skips that check for operators); for an operator,
/// only while they are active; for an operator who may act only on their own or unassigned
/// conversations (`?9`, their id), only if it is theirs or unassigned with room below their
/// capacity (the reply claims it); and only if its client id is new. Ownership, the assignment race (two
/// operators replying at once to an unassigned conversation: the first claims it, the second is
/// refused), idempotency and publishing (the `messages_publish` trigger) are all decided inside
/// this one statement.
const INSERT: &str = "INSERT INTO messages (conversation_id, author, operator_id, channel, body, client_id, created_at, delivery, sender)
     SELECT c.id, ?2, ?3, ?4, ?5, ?6, ?7, ?10, ?11 FROM conversations c
      WHERE c.id = ?1
        AND (?8 IS NULL OR c.visitor_contact_id = (SELECT contact_id FROM visitor_tokens WHERE token_hash = ?8))
        AND (?3 IS NULL OR EXISTS (SELECT 1 FROM operators WHERE id = ?3 AND active = 1))
        AND (?9 IS NULL OR c.assignee_id = ?9
             OR (c.assignee_id IS NULL
                 AND (SELECT COUNT(*) FROM conversations l
                       WHERE l.assignee_id = ?9 AND l.status IN ('open', 'pending'))
                     < (SELECT capacity FROM operators WHERE id = ?9)))
     ON CONFLICT (conversation_id, author, client_id) DO NOTHING
     RETURNING id, conversation_id, author, NULL AS operator_name, channel, body, created_at, client_id,
               sender, delivery, delivery_error, NULL AS attachments";

const SELECT: &str =
    "SELECT m.id, m.conversation_id, m.author, o.name AS operator_name, m.channel, m.body,
            m.created_at, m.client_id, m.sender, m.delivery, m.delivery_error,
            (SELECT json_group_array(json_object('id', a.id, 'name', a.name,
                    'content_type', a.content_type, 'size', a.size,
                    'removed', json(CASE WHEN a.sha256 = 'removed-by-retention'
                                         THEN 'true' ELSE 'false' END)))
               FROM attachments a WHERE a.message_id = m.id HAVING COUNT(*) > 0) AS attachments
     FROM messages m LEFT JOIN operators o ON o.id = m.operator_id";

/// The earlier copy of a retried message, under the same ownership rule as [`INSERT`], by the
/// same operator (another operator's message with the same key is not a retry of this one).
const RETRIED: &str = "JOIN conversations c ON c.id = m.conversation_id
     WHERE m.conversation_id = ?1 AND m.author = ?2 AND m.client_id = ?3
       AND (?4 IS NULL OR c.visitor_contact_id = (SELECT contact_id FROM visitor_tokens WHERE token_hash = ?4))
       AND m.operator_id IS ?5";
/// The newest `?2` messages of a conversation, returned oldest first.
const LATEST_IN_CONVERSATION: &str =
    "WHERE m.id IN (SELECT id FROM messages WHERE conversation_id = ?1 ORDER BY id DESC LIMIT ?2)
     ORDER BY m.id";

/// What [`insert`] did.
#[derive(Debug)]
pub enum Inserted {
    /// Stored and published now.
    Created(Message),
    /// A retry: the message stored by the first attempt, nothing new published.
    Duplicate(Message),
    /// The conversation does not exist, does not belong to this visitor, or is assigned to
    /// someone other than the restricted operator.
    Refused,
}

/// Stores and publishes `new` in one statement; see [`INSERT`]. `owner` is the visitor's token
/// hash, or `None` for operators; `restricted_to` is the id of an operator who may only write
/// in their own or unassigned conversations. `operator_name` is filled in from
/// `new.operator_name`.
pub fn insert(
    db: &dyn Database,
    new: &NewMessage<'_>,
    owner: Option<&TokenHash>,
    restricted_to: Option<i64>,
    now: i64,
) -> Result<Inserted, DbError> {
    let owner: SqlValue = owner
        .map(|h| SqlValue::Blob(h.0.to_vec()))
        .unwrap_or(SqlValue::Null);
    let rows = db.execute(
        INSERT,
        &[
            new.conversation_id.into(),
            new.author.as_str().into(),
            new.operator_id.into(),
            new.channel.as_str().into(),
            new.body.as_str().into(),
            new.client_id.map(ClientId::as_str).into(),
            now.into(),
            owner.clone(),
            restricted_to.into(),
            new.delivery.map(DeliveryStatus::as_str).into(),
            new.sender.into(),
        ],
    )?;
    if let Some(row) = rows.first() {
        let mut message = Message::from_row(&row)?;
        message.operator_name = new.operator_name.map(str::to_owned);
        return Ok(Inserted::Created(message));
    }
    let Some(client_id) = new.client_id else {
        return Ok(Inserted::Refused);
    };
    let rows = db.execute(
        &format!("{SELECT} {RETRIED}"),
        &[
            new.conversation_id.into(),
            new.author.as_str().into(),
            client_id.as_str().into(),
            owner,
            new.operator_id.into(),
        ],
    )?;
    match rows.first() {
        Some(row) => Ok(Inserted::Duplicate(Message::from_row(&row)?)),
        None => Ok(Inserted::Refused),
    }
}

/// One message, with its attachments.
pub fn get(db: &dyn Database, id: i64) -> Result<Option<Message>, DbError> {
    let rows = db.execute(&format!("{SELECT} WHERE m.id = ?1"), &[id.into()])?;
    rows.first().map(|row| Message::from_row(&row)).transpose()
}

/// The most recent `limit` messages of a conversation, oldest first.
pub fn latest(
    db: &dyn Database,
    conversation_id: i64,
    limit: i64,
) -> Result<Vec<Message>, DbError> {
    let rows = db.execute(
        &format!("{SELECT} {LATEST_IN_CONVERSATION}"),
        &[conversation_id.into(), limit.into()],
    )?;
    rows.iter().map(|row| Message::from_row(&row)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn message_body_limits() {
        assert!(MessageBody::parse("").is_err());
        assert!(MessageBody::parse(" \n ").is_err());
        assert!(MessageBody::parse(&"é".repeat(MessageBody::MAX_CHARS)).is_ok());
        assert!(MessageBody::parse(&"é".repeat(MessageBody::MAX_CHARS + 1)).is_err());
        assert_eq!(MessageBody::parse(" hi ").unwrap().as_str(), "hi");
    }

    #[test]
    fn client_id_shape() {
        assert!(ClientId::parse("m-1.2:3_x").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse(&"a".repeat(65)).is_err());
        assert!(ClientId::parse("a b").is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,80}") {
            let _ = MessageBody::parse(&s);
            let _ = ClientId::parse(&s);
        }
    }
}
