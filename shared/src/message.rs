//! Messages: what visitors and operators say, stored once each.

use serde::Serialize;

use crate::channel::Channel;
use crate::input::{InvalidInput, bounded_text};
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
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if ok {
            Ok(ClientId(text.to_owned()))
        } else {
            Err(InvalidInput::new("client_id", "must be 1-64 characters from A-Z a-z 0-9 - _ . :"))
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
            channel: Channel::parse(channel).ok_or_else(|| DbError::Decode(format!("unknown channel {channel}")))?,
            body: row.str("body")?.to_owned(),
            created_at: row.i64("created_at")?,
            client_id: row.opt_str("client_id")?.map(str::to_owned),
        })
    }
}

/// What a new message carries.
pub struct NewMessage<'a> {
    pub conversation_id: i64,
    pub author: Author,
    pub operator_id: Option<i64>,
    pub channel: Channel,
    pub body: &'a MessageBody,
    pub client_id: Option<&'a ClientId>,
}

const INSERT: &str = "INSERT INTO messages (conversation_id, author, operator_id, channel, body, client_id, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
     ON CONFLICT (conversation_id, author, client_id) DO NOTHING
     RETURNING id";

const SELECT: &str = "SELECT m.id, m.conversation_id, m.author, o.name AS operator_name, m.channel, m.body,
            m.created_at, m.client_id
     FROM messages m LEFT JOIN operators o ON o.id = m.operator_id";

const BY_CLIENT_ID: &str = "WHERE m.conversation_id = ?1 AND m.author = ?2 AND m.client_id = ?3";
const BY_ID: &str = "WHERE m.id = ?1";
/// The newest `?2` messages of a conversation, returned oldest first.
const LATEST_IN_CONVERSATION: &str = "WHERE m.id IN (SELECT id FROM messages WHERE conversation_id = ?1 ORDER BY id DESC LIMIT ?2)
     ORDER BY m.id";

/// Inserts the message unless its client id was seen before in this conversation. Returns the
/// stored message and whether this call created it.
pub fn insert(db: &dyn Database, new: &NewMessage<'_>, now: i64) -> Result<(Message, bool), DbError> {
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
        ],
    )?;
    if let Some(row) = rows.first() {
        let id = row.i64("id")?;
        let message = one(db, &format!("{SELECT} {BY_ID}"), &[id.into()])?;
        return Ok((message, true));
    }
    // The conflict clause fired: this is a retry. Return what the first attempt stored.
    let client_id = new.client_id.map(ClientId::as_str).unwrap_or_default();
    let existing = one(
        db,
        &format!("{SELECT} {BY_CLIENT_ID}"),
        &[new.conversation_id.into(), new.author.as_str().into(), client_id.into()],
    )?;
    Ok((existing, false))
}

fn one(db: &dyn Database, sql: &str, params: &[SqlValue]) -> Result<Message, DbError> {
    let rows = db.execute(sql, params)?;
    let row = rows.first().ok_or_else(|| DbError::Decode("message row missing".into()))?;
    Message::from_row(&row)
}

/// The most recent `limit` messages of a conversation, oldest first.
pub fn latest(db: &dyn Database, conversation_id: i64, limit: i64) -> Result<Vec<Message>, DbError> {
    let rows = db.execute(&format!("{SELECT} {LATEST_IN_CONVERSATION}"), &[conversation_id.into(), limit.into()])?;
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
