//! Internal notes: what operators tell each other about a conversation. They live in their own
//! table and travel only as internal events, so no query or event stream that serves a visitor
//! can reach them. A note can mention operators, who are notified.

use serde::{Deserialize, Serialize};

use crate::conversation::Named;
use crate::store::{Database, DbError, Row, SqlValue};

/// `POST /conversations/:id/notes` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    pub body: String,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub mention_ids: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub id: i64,
    pub conversation_id: i64,
    pub author: Named,
    pub body: String,
    pub mentions: Vec<Named>,
    pub created_at: i64,
}

/// The most operators one note can mention.
pub const MAX_MENTIONS: usize = 20;

/// A mention as the mentioned operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mention {
    pub note: Note,
    pub conversation_id: i64,
    pub read: bool,
}

/// The `@handles` in a note: `@` then letters, digits, `.`, `_`, `-`, `+` (an email's local
/// part), not preceded by a word character (so `ann@example.com` mentions nobody).
pub fn handles(body: &str) -> Vec<String> {
    let mut found = Vec::new();
    let chars: Vec<char> = body.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if *c != '@' || (i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '.')) {
            continue;
        }
        let handle: String = chars[i + 1..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
            .collect();
        let handle = handle.trim_end_matches('.').to_lowercase();
        if !handle.is_empty() && !found.contains(&handle) {
            found.push(handle);
        }
    }
    found
}

const SELECT: &str =
    "SELECT n.id, n.conversation_id, n.operator_id, o.name AS operator_name, n.body,
            n.created_at,
            (SELECT json_group_array(json_object('id', mo.id, 'name', mo.name))
               FROM note_mentions nm JOIN operators mo ON mo.id = nm.operator_id
              WHERE nm.note_id = n.id) AS mentions_json
       FROM notes n JOIN operators o ON o.id = n.operator_id";
const INSERT: &str = "INSERT INTO notes (conversation_id, operator_id, body, client_id, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (conversation_id, operator_id, client_id) DO NOTHING RETURNING id";
const RETRIED: &str =
    "SELECT id FROM notes WHERE conversation_id = ?1 AND operator_id = ?2 AND client_id = ?3";
/// Mentions only active operators: ids from the request, or handles matching the local part of
/// an operator's email.
const MENTION_BY_ID: &str = "INSERT INTO note_mentions (operator_id, note_id)
     SELECT id, ?2 FROM operators WHERE id = ?1 AND active = 1 ON CONFLICT DO NOTHING";
const MENTION_BY_HANDLE: &str = "INSERT INTO note_mentions (operator_id, note_id)
     SELECT id, ?2 FROM operators
      WHERE active = 1 AND lower(substr(email, 1, instr(email, '@') - 1)) = ?1
     ON CONFLICT DO NOTHING";
const MENTIONS_OF: &str =
    "SELECT nm.read_at, n.id FROM note_mentions nm JOIN notes n ON n.id = nm.note_id
      WHERE nm.operator_id = ?1 ORDER BY n.id DESC LIMIT ?2";
const UNREAD_MENTIONS: &str =
    "SELECT COUNT(*) AS n FROM note_mentions WHERE operator_id = ?1 AND read_at IS NULL";
const READ_MENTIONS: &str = "UPDATE note_mentions SET read_at = ?3
      WHERE operator_id = ?1 AND note_id <= ?2 AND read_at IS NULL";

fn from_row(row: &Row<'_>) -> Result<Note, DbError> {
    Ok(Note {
        id: row.i64("id")?,
        conversation_id: row.i64("conversation_id")?,
        author: Named {
            id: row.i64("operator_id")?,
            name: row.str("operator_name")?.to_owned(),
        },
        body: row.str("body")?.to_owned(),
        mentions: serde_json::from_str(row.str("mentions_json")?)
            .map_err(|e| DbError::Decode(format!("mentions: {e}")))?,
        created_at: row.i64("created_at")?,
    })
}

/// What [`insert`] did.
pub enum Inserted {
    Created(Note),
    /// A retry with the same client id: the first copy.
    Duplicate(Note),
}

/// Stores a note and its mentions. Call inside a transaction.
pub fn insert(
    db: &dyn Database,
    conversation_id: i64,
    operator_id: i64,
    body: &str,
    client_id: Option<&str>,
    mention_ids: &[i64],
    now: i64,
) -> Result<Inserted, DbError> {
    let rows = db.execute(
        INSERT,
        &[
            conversation_id.into(),
            operator_id.into(),
            body.into(),
            client_id.into(),
            now.into(),
        ],
    )?;
    let Some(id) = rows.first().map(|r| r.i64("id")).transpose()? else {
        let earlier = db
            .execute(
                RETRIED,
                &[conversation_id.into(), operator_id.into(), client_id.into()],
            )?
            .first()
            .map(|r| r.i64("id"))
            .transpose()?
            .ok_or_else(|| DbError::Decode("note conflict without an earlier note".into()))?;
        let note = by_id(db, earlier)?.ok_or_else(|| DbError::Decode("note vanished".into()))?;
        return Ok(Inserted::Duplicate(note));
    };
    // At most MAX_MENTIONS in all, ids first: a note that pings the whole team is a broadcast,
    // and each mention is a write.
    let handles = handles(body);
    for mention in mention_ids.iter().take(MAX_MENTIONS) {
        db.execute(MENTION_BY_ID, &[(*mention).into(), id.into()])?;
    }
    let room = MAX_MENTIONS.saturating_sub(mention_ids.len());
    for handle in handles.iter().take(room) {
        db.execute(MENTION_BY_HANDLE, &[handle.as_str().into(), id.into()])?;
    }
    let note = by_id(db, id)?.ok_or_else(|| DbError::Decode("note vanished".into()))?;
    Ok(Inserted::Created(note))
}

pub fn by_id(db: &dyn Database, id: i64) -> Result<Option<Note>, DbError> {
    db.execute(&format!("{SELECT} WHERE n.id = ?1"), &[id.into()])?
        .first()
        .map(|r| from_row(&r))
        .transpose()
}

/// The latest `limit` notes on a contact's conversations, newest first.
pub fn of_contact(db: &dyn Database, contact_id: i64, limit: i64) -> Result<Vec<Note>, DbError> {
    db.execute(
        &format!(
            "{SELECT} WHERE n.conversation_id IN (SELECT id FROM conversations WHERE contact_id = ?1)
              ORDER BY n.id DESC LIMIT ?2"
        ),
        &[contact_id.into(), limit.into()],
    )?
    .iter()
    .map(|r| from_row(&r))
    .collect()
}

/// The newest `limit` mentions of an operator, and how many are unread.
pub fn mentions_of(
    db: &dyn Database,
    operator_id: i64,
    limit: i64,
) -> Result<(Vec<Mention>, i64), DbError> {
    let rows = db.execute(MENTIONS_OF, &[operator_id.into(), limit.into()])?;
    let mut mentions = Vec::new();
    for row in rows.iter() {
        if let Some(note) = by_id(db, row.i64("id")?)? {
            mentions.push(Mention {
                conversation_id: note.conversation_id,
                note,
                read: row.opt_i64("read_at")?.is_some(),
            });
        }
    }
    let unread = db
        .execute(UNREAD_MENTIONS, &[operator_id.into()])?
        .first()
        .map_or(Ok(0), |r| r.i64("n"))?;
    Ok((mentions, unread))
}

/// Marks the operator's mentions up to note `up_to` read.
pub fn read_mentions(
    db: &dyn Database,
    operator_id: i64,
    up_to: i64,
    now: i64,
) -> Result<(), DbError> {
    db.execute(
        READ_MENTIONS,
        &[operator_id.into(), up_to.into(), SqlValue::Integer(now)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_found_but_email_addresses_are_not_mentions() {
        assert_eq!(
            handles("@ann.lee can you check? cc @Bob-2, mail joe@example.com."),
            vec!["ann.lee", "bob-2"]
        );
        assert!(handles("no mentions @ here").is_empty());
        assert_eq!(handles("@ann @ann"), vec!["ann"]);
    }
}
