//! A customer's data on request: finding them, exporting everything we hold about them, and
//! erasing it.
//!
//! A "customer" is a contact and every contact merged into it (`contacts.merged_into`): the
//! same person reached us on several channels. Their conversations are those whose
//! `contact_id` or `visitor_contact_id` is one of those contacts.
//!
//! # What erasure removes, and what it keeps
//!
//! Erasure runs in one write transaction, is idempotent (erasing again changes nothing and
//! answers zero counts) and is also what [`crate::retention`] runs on old conversations
//! ([`erase_conversations`]).
//!
//! Removed (rows deleted, or the personal columns emptied):
//! - `contacts`: name, email, phone and custom attributes emptied (the row stays as an
//!   anonymous skeleton so the conversations that point at it still load);
//! - `contact_identities` (phone numbers, email addresses, Messenger/Instagram/WhatsApp ids),
//!   `widget_identities` (the business's user ids), `visitor_tokens` (every widget session of
//!   theirs ends);
//! - `messages.body` (emptied) and `messages.delivery_error` (provider errors quote addresses),
//!   and their entries in the `messages_fts` search index;
//! - `attachments` (the bytes and names) and `media_fetches` (provider URLs still to fetch; a
//!   fetch already running stores nothing, see `media::record`);
//! - `email_details` (subjects), `email_threads` (reply tokens);
//! - `outbox` rows (recipient addresses; a reply being sent at this instant may still reach
//!   the provider, but nothing about it is written back);
//! - `notes` and their `note_mentions` (what operators wrote about them);
//! - `csat_responses.comment` (the rating stays);
//! - `conversations.page_url`;
//! - `events` payloads that carry their words: message bodies and attachment lists inside
//!   `message.created`, the whole payload of `conversation.created` (it embeds the contact),
//!   `note.created`, `contact.updated`, `contact.merged`, `message.attachment`,
//!   `assistant.summary`, the survey comment in `csat.received`, free-text reasons;
//! - `webhook_deliveries` payloads for those events (pending ones are cancelled).
//!
//! Kept, anonymous, so supervisors' figures do not change after an erasure: the conversation
//! rows (channel, status, times, assignee, team, tags), the message rows with empty bodies
//! (who wrote, when, delivery state, the provider's message id, which keeps a provider's late
//! retry from storing the message again), the event skeletons the report facts are folded from
//! (kinds, times, authors, assignments, ratings), `conversation_facts`, `assignment_spans`,
//! `csat_surveys`, and the audit log (which never holds personal data: see [`crate::audit`]).

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::query_text;
use crate::audit::{self, Action, Entry};
use crate::chat::ChatError;
use crate::contact::{self, Contact};
use crate::host::Ctx;
use crate::input::{InvalidInput, bounded_text};
use crate::operator::{Operator, Role};
use crate::store::{Database, DbError, like_escape, read_transaction, transaction};

/// The version of the export document's shape; bumped when a field changes meaning.
pub const EXPORT_FORMAT_VERSION: i64 = 1;
/// Attachment bytes one export embeds (base64), in total. Past it, attachments are listed with
/// their metadata and `content_base64: null, omitted: true`: an export must fit one response
/// (the largest single file is 10 MiB, `attachment::MAX_BYTES`).
pub const EXPORT_MAX_ATTACHMENT_BYTES: i64 = 25 * 1024 * 1024;
/// Most contacts a search returns.
pub const SEARCH_LIMIT: i64 = 20;
/// What the confirmation field of an erase request must say.
pub const ERASE_CONFIRMATION: &str = "erase";

/// The contact ids that are this person: `id` resolved to the live contact, and every contact
/// merged into it. Empty when there is no such contact.
const PERSON: &str = "WITH live AS (
        SELECT COALESCE(merged_into, id) AS id FROM contacts WHERE id = ?1)
     SELECT id FROM contacts WHERE id = (SELECT id FROM live)
     UNION SELECT id FROM contacts WHERE merged_into = (SELECT id FROM live)
     ORDER BY id";

fn person(db: &dyn Database, id: i64) -> Result<Vec<i64>, DbError> {
    db.execute(PERSON, &[id.into()])?
        .iter()
        .map(|r| r.i64("id"))
        .collect()
}

fn ids_json(ids: &[i64]) -> String {
    Value::from(ids.to_vec()).to_string()
}

const CONVERSATIONS_OF: &str = "SELECT id FROM conversations
     WHERE contact_id IN (SELECT value FROM json_each(?1))
        OR visitor_contact_id IN (SELECT value FROM json_each(?1))
     ORDER BY id";

fn conversations_of(db: &dyn Database, contacts: &[i64]) -> Result<Vec<i64>, DbError> {
    db.execute(CONVERSATIONS_OF, &[ids_json(contacts).into()])?
        .iter()
        .map(|r| r.i64("id"))
        .collect()
}

/// `GET /api/admin/contacts?q=`: contacts whose name, email or phone contains `q` (1-100
/// characters), newest first, at most [`SEARCH_LIMIT`]. Admins only: this is the door to
/// export and erasure.
pub fn search(ctx: &Ctx<'_>, admin: &Operator, query: &str) -> Result<Vec<Contact>, ChatError> {
    admin.require(Role::Admin)?;
    let text = query_text(query, "q").unwrap_or_default();
    let text = bounded_text("q", &text, 1, 100)?;
    Ok(contact::search(
        ctx.db,
        &format!("%{}%", like_escape(&text)),
        SEARCH_LIMIT,
    )?)
}

// ---------------------------------------------------------------------------------------------
// Export

/// The export document (README, "Customer data: export and erasure").
#[derive(Debug, Serialize)]
pub struct Export {
    pub format_version: i64,
    pub exported_at: i64,
    pub contact: Value,
    /// Contacts merged into this one (the same person on other channels).
    pub merged_contacts: Vec<Value>,
    pub identities: Vec<Value>,
    pub widget_identities: Vec<Value>,
    pub conversations: Vec<Value>,
    /// Attachment bytes embedded, and whether any were left out for the size cap.
    pub attachment_bytes: i64,
    pub attachments_omitted: bool,
}

const CONTACT_ROW: &str = "SELECT json_object('id', id, 'name', name, 'email', email,
        'phone', phone, 'attributes', json(attributes), 'created_at', created_at,
        'updated_at', updated_at) AS doc
      FROM contacts WHERE id = ?1";
const IDENTITIES: &str = "SELECT json_object('channel', channel, 'external_id', external_id,
        'contact_id', contact_id, 'created_at', created_at) AS doc
      FROM contact_identities WHERE contact_id IN (SELECT value FROM json_each(?1))
      ORDER BY created_at";
const WIDGET_IDENTITIES: &str = "SELECT json_object('user_id', user_id,
        'contact_id', contact_id, 'created_at', created_at) AS doc
      FROM widget_identities WHERE contact_id IN (SELECT value FROM json_each(?1))
      ORDER BY created_at";
/// One conversation with everything in it except attachment bytes, as one JSON value (one
/// round trip through the host interface per conversation).
const CONVERSATION_DOC: &str = "SELECT json_object(
        'id', c.id, 'channel', c.channel, 'status', c.status,
        'created_at', c.created_at, 'updated_at', c.updated_at, 'page_url', c.page_url,
        'tags', (SELECT json_group_array(t.name) FROM conversation_tags ct
                   JOIN tags t ON t.id = ct.tag_id WHERE ct.conversation_id = c.id),
        'csat', (SELECT json_object('rating', r.rating, 'comment', r.comment,
                        'channel', r.channel, 'created_at', r.created_at)
                   FROM csat_responses r WHERE r.conversation_id = c.id),
        'notes', (SELECT json_group_array(json_object('id', n.id, 'author', o.name,
                        'body', n.body, 'created_at', n.created_at))
                    FROM (SELECT * FROM notes WHERE conversation_id = c.id ORDER BY id) n
                    LEFT JOIN operators o ON o.id = n.operator_id),
        'messages', (SELECT json_group_array(json_object('id', m.id, 'author', m.author,
                        'direction', CASE m.author WHEN 'visitor' THEN 'inbound'
                                     WHEN 'operator' THEN 'outbound' ELSE 'system' END,
                        'operator', o.name, 'sender', m.sender, 'channel', m.channel,
                        'body', m.body, 'created_at', m.created_at, 'delivery', m.delivery,
                        'subject', e.subject))
                    FROM (SELECT * FROM messages WHERE conversation_id = c.id ORDER BY id) m
                    LEFT JOIN operators o ON o.id = m.operator_id
                    LEFT JOIN email_details e ON e.message_id = m.id)
      ) AS doc
      FROM conversations c WHERE c.id = ?1";
/// Attachment metadata only: the bytes are fetched one file at a time ([`ATTACHMENT_DATA`]),
/// and only for files that fit what is left of [`EXPORT_MAX_ATTACHMENT_BYTES`], so a customer
/// with many large files never has them all in memory at once.
const ATTACHMENTS: &str = "SELECT id, message_id, name, content_type, size, sha256, created_at,
        sha256 != 'removed-by-retention' AS has_data
      FROM attachments WHERE conversation_id = ?1 ORDER BY id";
const ATTACHMENT_DATA: &str = "SELECT data FROM attachments WHERE id = ?1";
/// The live contact of `?1`: itself, or the contact it was merged into.
const LIVE: &str = "SELECT COALESCE(merged_into, id) AS id FROM contacts WHERE id = ?1";

fn doc(
    db: &dyn Database,
    sql: &str,
    params: &[crate::store::SqlValue],
) -> Result<Vec<Value>, DbError> {
    db.execute(sql, params)?
        .iter()
        .map(|r| {
            serde_json::from_str(r.str("doc")?).map_err(|e| DbError::Decode(format!("doc: {e}")))
        })
        .collect()
}

/// Everything held about contact `id` as one document, and an audit line `contact.exported`.
/// Admins only; 404 for an unknown contact.
pub fn export(
    ctx: &Ctx<'_>,
    admin: &Operator,
    id: i64,
    client_addr: &str,
) -> Result<Export, ChatError> {
    admin.require(Role::Admin)?;
    let now = ctx.clock.now_ms();
    let export = read_transaction(ctx.db, || -> Result<Export, ChatError> {
        let db = ctx.db;
        let people = person(db, id)?;
        // The main `contact` is the live one (the survivor of a merge), whichever id was asked
        // for; the others are `merged_contacts`.
        let Some(live) = db
            .execute(LIVE, &[id.into()])?
            .first()
            .map(|r| r.i64("id"))
            .transpose()?
        else {
            return Err(ChatError::NotFound("contact"));
        };
        let mut contact = None;
        let mut contacts = Vec::new();
        for p in &people {
            for row in doc(db, CONTACT_ROW, &[(*p).into()])? {
                if *p == live {
                    contact = Some(row);
                } else {
                    contacts.push(row);
                }
            }
        }
        let Some(contact) = contact else {
            return Err(ChatError::NotFound("contact"));
        };
        let json_ids = ids_json(&people);
        let mut conversations = Vec::new();
        let mut budget = EXPORT_MAX_ATTACHMENT_BYTES;
        let mut omitted = false;
        for conversation in conversations_of(db, &people)? {
            let Some(mut c) = doc(db, CONVERSATION_DOC, &[conversation.into()])?.pop() else {
                continue;
            };
            let mut files = Vec::new();
            for row in db.execute(ATTACHMENTS, &[conversation.into()])?.iter() {
                let size = row.i64("size")?;
                let file_id = row.i64("id")?;
                let content = if row.i64("has_data")? == 1 && budget >= size {
                    let data = db.execute(ATTACHMENT_DATA, &[file_id.into()])?;
                    match data.first() {
                        Some(data) => {
                            budget -= size;
                            Some(
                                base64::engine::general_purpose::STANDARD
                                    .encode(data.bytes("data")?),
                            )
                        }
                        None => None,
                    }
                } else {
                    None
                };
                omitted |= content.is_none();
                files.push(serde_json::json!({
                    "id": file_id,
                    "message_id": row.opt_i64("message_id")?,
                    "name": row.str("name")?,
                    "content_type": row.str("content_type")?,
                    "size": size,
                    "sha256": row.str("sha256")?,
                    "created_at": row.i64("created_at")?,
                    "omitted": content.is_none(),
                    "content_base64": content,
                }));
            }
            c["attachments"] = Value::from(files);
            conversations.push(c);
        }
        Ok(Export {
            format_version: EXPORT_FORMAT_VERSION,
            exported_at: now,
            contact,
            merged_contacts: contacts,
            identities: doc(db, IDENTITIES, &[json_ids.clone().into()])?,
            widget_identities: doc(db, WIDGET_IDENTITIES, &[json_ids.into()])?,
            conversations,
            attachment_bytes: EXPORT_MAX_ATTACHMENT_BYTES - budget,
            attachments_omitted: omitted,
        })
    })?;
    audit::record_or_log(
        ctx,
        &Entry::new(Some(admin), Action::ContactExported)
            .target(format!("contact:{id}"))
            .detail(serde_json::json!({
                "conversations": export.conversations.len(),
                "attachment_bytes": export.attachment_bytes,
                "attachments_omitted": export.attachments_omitted,
            }))
            .from(client_addr),
    );
    Ok(export)
}

// ---------------------------------------------------------------------------------------------
// Erasure

/// `DELETE /api/admin/contacts/:id` body: `{"confirm": "erase"}`, so a stray click or a
/// replayed GET cannot erase anyone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    pub confirm: String,
}

/// What an erasure (or a retention batch) changed; counts only, never content.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Erased {
    pub conversations: i64,
    pub messages: i64,
    pub attachments: i64,
    pub attachment_bytes: i64,
    pub notes: i64,
    pub events: i64,
    pub outbox: i64,
    pub webhook_deliveries: i64,
    pub identities: i64,
    pub sessions: i64,
}

impl Erased {
    fn add(&mut self, other: &Erased) {
        self.conversations += other.conversations;
        self.messages += other.messages;
        self.attachments += other.attachments;
        self.attachment_bytes += other.attachment_bytes;
        self.notes += other.notes;
        self.events += other.events;
        self.outbox += other.outbox;
        self.webhook_deliveries += other.webhook_deliveries;
        self.identities += other.identities;
        self.sessions += other.sessions;
    }
}

/// Statements that empty one set of conversations (`?1`, a JSON array of ids; `?2` now). The
/// order matters: the search index needs the old bodies, deliveries need their events'
/// conversation, mentions their notes. Each returns how many rows it changed.
const ERASE_CONVERSATION_STEPS: &[(&str, &str)] = &[
    (
        "",
        "INSERT INTO messages_fts (messages_fts, rowid, body)
         SELECT 'delete', id, body FROM messages
          WHERE conversation_id IN (SELECT value FROM json_each(?1)) AND body != ''",
    ),
    (
        "messages",
        "UPDATE messages SET body = '', delivery_error = NULL
          WHERE conversation_id IN (SELECT value FROM json_each(?1))
            AND (body != '' OR delivery_error IS NOT NULL)",
    ),
    (
        "attachments",
        "DELETE FROM attachments WHERE conversation_id IN (SELECT value FROM json_each(?1))",
    ),
    (
        "",
        "DELETE FROM media_fetches WHERE conversation_id IN (SELECT value FROM json_each(?1))",
    ),
    (
        "",
        "DELETE FROM email_details WHERE message_id IN (SELECT id FROM messages
          WHERE conversation_id IN (SELECT value FROM json_each(?1)))",
    ),
    (
        "",
        "DELETE FROM email_threads WHERE conversation_id IN (SELECT value FROM json_each(?1))",
    ),
    (
        "outbox",
        "DELETE FROM outbox WHERE message_id IN (SELECT id FROM messages
          WHERE conversation_id IN (SELECT value FROM json_each(?1)))",
    ),
    (
        "",
        "DELETE FROM note_mentions WHERE note_id IN (SELECT id FROM notes
          WHERE conversation_id IN (SELECT value FROM json_each(?1)))",
    ),
    (
        "notes",
        "DELETE FROM notes WHERE conversation_id IN (SELECT value FROM json_each(?1))",
    ),
    (
        "",
        "UPDATE csat_responses SET comment = NULL
          WHERE conversation_id IN (SELECT value FROM json_each(?1)) AND comment IS NOT NULL",
    ),
    // Marks them emptied so retention's selection (an index on `emptied_at IS NULL`) skips
    // them from now on; new content clears the mark (migration 0013's triggers).
    (
        "",
        "UPDATE conversations SET emptied_at = ?2
          WHERE id IN (SELECT value FROM json_each(?1)) AND emptied_at IS NULL",
    ),
    (
        "conversations",
        "UPDATE conversations SET page_url = NULL
          WHERE id IN (SELECT value FROM json_each(?1)) AND page_url IS NOT NULL",
    ),
    (
        "webhook_deliveries",
        "UPDATE webhook_deliveries
            SET payload = NULL,
                status = CASE status WHEN 'pending' THEN 'cancelled' ELSE status END,
                done_at = COALESCE(done_at, ?2), lease_until = NULL,
                last_error = CASE status WHEN 'pending' THEN 'the customer''s data was erased'
                                  ELSE last_error END
          WHERE event_id IN (SELECT id FROM events
                              WHERE conversation_id IN (SELECT value FROM json_each(?1)))
            AND (payload IS NOT NULL OR status = 'pending')",
    ),
    // The event skeletons the report facts fold stay (see the module docs); the words go.
    (
        "events",
        "UPDATE events SET data = CASE kind
             WHEN 'message.created' THEN
                 json_set(data, '$.message.body', '', '$.message.attachments', json('[]'))
             WHEN 'csat.received' THEN json_remove(data, '$.comment')
             WHEN 'conversation.transferred' THEN json_remove(data, '$.reason', '$.note')
             WHEN 'conversation.status' THEN json_remove(data, '$.reason')
             WHEN 'conversation.assigned' THEN json_remove(data, '$.reason')
             WHEN 'message.delivery' THEN json_remove(data, '$.error', '$.delivery_error')
             ELSE '{}' END
          WHERE conversation_id IN (SELECT value FROM json_each(?1))
            AND kind IN ('message.created', 'csat.received', 'conversation.transferred',
                         'conversation.status', 'conversation.assigned', 'message.delivery',
                         'conversation.created', 'note.created', 'contact.updated',
                         'contact.merged', 'message.attachment', 'assistant.summary',
                         'assistant.handoff')
            AND data != CASE kind
             WHEN 'message.created' THEN
                 json_set(data, '$.message.body', '', '$.message.attachments', json('[]'))
             WHEN 'csat.received' THEN json_remove(data, '$.comment')
             WHEN 'conversation.transferred' THEN json_remove(data, '$.reason', '$.note')
             WHEN 'conversation.status' THEN json_remove(data, '$.reason')
             WHEN 'conversation.assigned' THEN json_remove(data, '$.reason')
             WHEN 'message.delivery' THEN json_remove(data, '$.error', '$.delivery_error')
             ELSE '{}' END",
    ),
];

const ATTACHMENT_TOTALS: &str = "SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes
      FROM attachments WHERE conversation_id IN (SELECT value FROM json_each(?1))";

fn changes(db: &dyn Database) -> Result<i64, DbError> {
    db.execute("SELECT changes() AS n", &[])?
        .first()
        .map_or(Ok(0), |r| r.i64("n"))
}

/// Empties conversations `ids` of everything personal (see the module docs); call inside a
/// write transaction. The counts say what changed, so a second call reports zeros.
pub fn erase_conversations(db: &dyn Database, ids: &[i64], now: i64) -> Result<Erased, DbError> {
    let mut erased = Erased::default();
    if ids.is_empty() {
        return Ok(erased);
    }
    let json_ids = ids_json(ids);
    if let Some(row) = db
        .execute(ATTACHMENT_TOTALS, &[json_ids.clone().into()])?
        .first()
    {
        erased.attachment_bytes = row.i64("bytes")?;
    }
    for (counter, sql) in ERASE_CONVERSATION_STEPS {
        let params: &[crate::store::SqlValue] = if sql.contains("?2") {
            &[json_ids.clone().into(), now.into()]
        } else {
            &[json_ids.clone().into()]
        };
        db.execute(sql, params)?;
        let n = changes(db)?;
        match *counter {
            "messages" => erased.messages = n,
            "attachments" => erased.attachments = n,
            "outbox" => erased.outbox = n,
            "notes" => erased.notes = n,
            "webhook_deliveries" => erased.webhook_deliveries = n,
            "events" => erased.events = n,
            "conversations" => erased.conversations = n,
            _ => {}
        }
    }
    // Counted as "emptied" when anything in them changed; a conversation already erased counts
    // zero, so the audit line of a repeat says nothing happened.
    if erased.messages + erased.attachments + erased.notes + erased.events > 0 {
        erased.conversations = ids.len() as i64;
    }
    Ok(erased)
}

const ERASE_CONTACT_STEPS: &[(&str, &str)] = &[
    (
        "identities",
        "DELETE FROM contact_identities WHERE contact_id IN (SELECT value FROM json_each(?1))",
    ),
    (
        "identities",
        "DELETE FROM widget_identities WHERE contact_id IN (SELECT value FROM json_each(?1))",
    ),
    (
        "sessions",
        "DELETE FROM visitor_tokens WHERE contact_id IN (SELECT value FROM json_each(?1))",
    ),
    (
        "contacts",
        "UPDATE contacts SET name = NULL, email = NULL, phone = NULL, attributes = '{}',
                updated_at = ?2
          WHERE id IN (SELECT value FROM json_each(?1))
            AND (name IS NOT NULL OR email IS NOT NULL OR phone IS NOT NULL
                 OR attributes != '{}')",
    ),
];

/// Erases contact `id` (and every contact merged into it) with all their conversations' words
/// and files, in one transaction, and writes the audit line `contact.erased` with the counts.
/// Admins only; 404 for an unknown contact; 400 without `confirm: "erase"`.
pub fn erase(
    ctx: &Ctx<'_>,
    admin: &Operator,
    id: i64,
    request: &EraseRequest,
    client_addr: &str,
) -> Result<Erased, ChatError> {
    admin.require(Role::Admin)?;
    if request.confirm != ERASE_CONFIRMATION {
        return Err(
            InvalidInput::new("confirm", format!("must be \"{ERASE_CONFIRMATION}\"")).into(),
        );
    }
    let now = ctx.clock.now_ms();
    transaction(ctx.db, || -> Result<Erased, ChatError> {
        let db = ctx.db;
        let people = person(db, id)?;
        if people.is_empty() {
            return Err(ChatError::NotFound("contact"));
        }
        let conversations = conversations_of(db, &people)?;
        let mut erased = erase_conversations(db, &conversations, now)?;
        let json_ids = ids_json(&people);
        let mut contacts_changed = 0;
        for (counter, sql) in ERASE_CONTACT_STEPS {
            let params: &[crate::store::SqlValue] = if sql.contains("?2") {
                &[json_ids.clone().into(), now.into()]
            } else {
                &[json_ids.clone().into()]
            };
            db.execute(sql, params)?;
            let n = changes(db)?;
            match *counter {
                "identities" => erased.identities += n,
                "sessions" => erased.sessions += n,
                _ => contacts_changed += n,
            }
        }
        let mut detail = serde_json::to_value(&erased).unwrap_or(Value::Null);
        detail["contacts"] = Value::from(contacts_changed);
        // In the same transaction: an erasure is never without its line, nor a line without it.
        audit::record(
            db,
            now,
            &Entry::new(Some(admin), Action::ContactErased)
                .target(format!("contact:{id}"))
                .detail(detail)
                .from(client_addr),
        )?;
        Ok(erased)
    })
}

/// Sums batches (retention runs several).
pub fn total(batches: &[Erased]) -> Erased {
    let mut sum = Erased::default();
    for b in batches {
        sum.add(b);
    }
    sum
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

    fn exec(db: &dyn Database, sql: &str, params: &[SqlValue]) -> crate::store::Rows {
        db.execute(sql, params).unwrap()
    }

    fn one(db: &dyn Database, sql: &str) -> i64 {
        exec(db, sql, &[]).first().unwrap().i64("n").unwrap()
    }

    /// A customer (contact 1, and contact 2 merged into it) with one web conversation holding
    /// two messages, a file, a note and a survey comment; and a bystander (contact 3).
    fn seed(db: &dyn Database) {
        for sql in [
            "INSERT INTO operators (id, email, name, role, password_hash, created_at)
             VALUES (1, 'admin@example.com', 'Admin', 'admin', '', 0)",
            "INSERT INTO contacts (id, name, email, phone, attributes, created_at)
             VALUES (1, 'Ada Lovelace', 'ada@example.com', '+15550001', '{\"plan\":\"pro\"}', 0)",
            "INSERT INTO contacts (id, name, email, phone, created_at, merged_into)
             VALUES (2, 'Ada', NULL, '+15550002', 0, 1)",
            "INSERT INTO contacts (id, name, email, created_at) VALUES (3, 'Bob', 'bob@example.com', 0)",
            "INSERT INTO contact_identities (channel, external_id, contact_id, created_at)
             VALUES ('sms', '+15550002', 2, 0)",
            "INSERT INTO widget_identities (user_id, contact_id, created_at) VALUES ('u-ada', 1, 0)",
            "INSERT INTO visitor_tokens (token_hash, contact_id, created_at) VALUES (x'01', 1, 0)",
            "INSERT INTO conversations (id, contact_id, visitor_contact_id, status, page_url,
                                        created_at, updated_at)
             VALUES (10, 1, 1, 'resolved', 'https://shop.example/?email=ada', 0, 0)",
            "INSERT INTO conversations (id, contact_id, visitor_contact_id, created_at, updated_at)
             VALUES (20, 3, 3, 0, 0)",
            "INSERT INTO attachments (conversation_id, name, content_type, size, sha256, data, created_at)
             VALUES (10, 'passport.png', 'image/png', 4, 'x', x'89504e47', 1)",
            "INSERT INTO messages (conversation_id, author, body, created_at)
             VALUES (10, 'visitor', 'my secret diagnosis', 2)",
            "INSERT INTO messages (conversation_id, author, operator_id, body, created_at)
             VALUES (10, 'operator', 1, 'thanks Ada', 3)",
            "INSERT INTO messages (conversation_id, author, body, created_at)
             VALUES (20, 'visitor', 'bob says diagnosis too', 4)",
            "INSERT INTO notes (conversation_id, operator_id, body, created_at)
             VALUES (10, 1, 'Ada is a VIP', 5)",
            "INSERT INTO csat_responses (conversation_id, rating, comment, channel, created_at)
             VALUES (10, 5, 'Loved it, Ada', 'web', 6)",
        ] {
            exec(db, sql, &[]);
        }
    }

    #[test]
    fn search_finds_by_name_email_or_phone_for_admins_only() {
        let host = TestHost::new();
        let ctx = host.ctx();
        seed(ctx.db);
        let found = search(&ctx, &admin(), "q=ada%40example").unwrap();
        assert_eq!(found.iter().map(|c| c.id).collect::<Vec<_>>(), vec![1]);
        assert_eq!(search(&ctx, &admin(), "q=%2B1555").unwrap().len(), 1);
        let mut operator = admin();
        operator.role = Role::Supervisor;
        assert!(matches!(
            search(&ctx, &operator, "q=ada"),
            Err(ChatError::Forbidden(_))
        ));
        assert!(matches!(
            search(&ctx, &admin(), "q="),
            Err(ChatError::Invalid(_))
        ));
    }

    #[test]
    fn export_holds_everything_about_the_person_and_nothing_else() {
        let host = TestHost::new();
        let ctx = host.ctx();
        seed(ctx.db);
        let export = export(&ctx, &admin(), 1, "10.0.0.9").unwrap();
        let text = serde_json::to_string(&export).unwrap();
        assert_eq!(export.format_version, 1);
        assert_eq!(export.contact["email"], "ada@example.com");
        assert_eq!(export.contact["attributes"]["plan"], "pro");
        assert_eq!(export.merged_contacts[0]["phone"], "+15550002");
        assert_eq!(export.identities[0]["external_id"], "+15550002");
        assert_eq!(export.widget_identities[0]["user_id"], "u-ada");
        assert_eq!(export.conversations.len(), 1);
        let c = &export.conversations[0];
        assert_eq!(c["messages"][0]["body"], "my secret diagnosis");
        assert_eq!(c["messages"][0]["direction"], "inbound");
        assert_eq!(c["messages"][1]["operator"], "Admin");
        assert_eq!(c["notes"][0]["body"], "Ada is a VIP");
        assert_eq!(c["csat"]["comment"], "Loved it, Ada");
        assert_eq!(c["attachments"][0]["content_base64"], "iVBORw==");
        assert_eq!(export.attachment_bytes, 4);
        assert!(
            !text.contains("bob"),
            "another customer's data leaked: {text}"
        );
        let line = exec(
            ctx.db,
            "SELECT action, target, detail, client_addr FROM audit_log",
            &[],
        );
        let line = line.first().unwrap();
        assert_eq!(line.str("action").unwrap(), "contact.exported");
        assert_eq!(line.str("target").unwrap(), "contact:1");
        assert_eq!(line.str("client_addr").unwrap(), "10.0.0.9");
        // Asking by the merged contact's id exports the same person, the survivor as `contact`.
        let again = super::export(&ctx, &admin(), 2, "x").unwrap();
        assert_eq!(again.conversations.len(), 1);
        assert_eq!(again.contact["id"], 1);
        assert_eq!(again.contact["email"], "ada@example.com");
        assert_eq!(again.merged_contacts.len(), 1);
        assert_eq!(again.merged_contacts[0]["id"], 2);
        assert!(matches!(
            super::export(&ctx, &admin(), 99, "x"),
            Err(ChatError::NotFound("contact"))
        ));
    }

    #[test]
    fn export_embeds_each_file_that_still_fits_the_budget_and_lists_the_rest() {
        let host = TestHost::new();
        let ctx = host.ctx();
        seed(ctx.db);
        // `size` is what the budget counts; the stored bytes stay tiny here.
        for (name, size, sha) in [
            ("big.pdf", EXPORT_MAX_ATTACHMENT_BYTES - 7, "x"),
            ("too-big.png", 5, "x"),
            ("old.png", 1, "removed-by-retention"),
            ("fits.txt", 3, "x"),
        ] {
            exec(
                ctx.db,
                "INSERT INTO attachments (conversation_id, name, content_type, size, sha256, data,
                                          created_at)
                 VALUES (10, ?1, 'application/octet-stream', ?2, ?3, x'414243', 7)",
                &[
                    SqlValue::Text(name.into()),
                    size.into(),
                    SqlValue::Text(sha.into()),
                ],
            );
        }
        let export = export(&ctx, &admin(), 1, "x").unwrap();
        let files = export.conversations[0]["attachments"].as_array().unwrap();
        let embedded: Vec<(&str, bool)> = files
            .iter()
            .map(|f| (f["name"].as_str().unwrap(), f["content_base64"].is_string()))
            .collect();
        assert_eq!(
            embedded,
            vec![
                ("passport.png", true),
                ("big.pdf", true),
                ("too-big.png", false),
                ("old.png", false),
                ("fits.txt", true),
            ]
        );
        assert_eq!(files[4]["content_base64"], "QUJD");
        assert_eq!(files[2]["omitted"], true);
        assert_eq!(export.attachment_bytes, EXPORT_MAX_ATTACHMENT_BYTES);
        assert!(export.attachments_omitted);
    }

    #[test]
    fn erasure_removes_the_words_keeps_the_figures_and_is_idempotent() {
        let host = TestHost::new();
        let ctx = host.ctx();
        seed(ctx.db);
        let confirm = EraseRequest {
            confirm: "erase".into(),
        };
        let before_events = one(ctx.db, "SELECT COUNT(*) AS n FROM events");
        let erased = erase(&ctx, &admin(), 1, &confirm, "10.0.0.9").unwrap();
        assert_eq!(erased.conversations, 1);
        assert_eq!(erased.messages, 2);
        assert_eq!(erased.attachments, 1);
        assert_eq!(erased.attachment_bytes, 4);
        assert_eq!(erased.notes, 1);
        assert_eq!(erased.identities, 2);
        assert_eq!(erased.sessions, 1);

        let db = ctx.db;
        // Nothing they said or are called is left anywhere.
        let dump = exec(
            db,
            "SELECT group_concat(x, ' ') AS t FROM (
                SELECT body AS x FROM messages UNION ALL SELECT data FROM events
                UNION ALL SELECT COALESCE(name,'') || COALESCE(email,'') || COALESCE(phone,'')
                               || attributes FROM contacts
                UNION ALL SELECT COALESCE(comment, '') FROM csat_responses
                UNION ALL SELECT body FROM notes UNION ALL SELECT name FROM attachments
                UNION ALL SELECT COALESCE(page_url, '') FROM conversations
                UNION ALL SELECT external_id FROM contact_identities
                UNION ALL SELECT user_id FROM widget_identities)",
            &[],
        );
        let dump = dump.first().unwrap().str("t").unwrap().to_owned();
        for word in [
            "Ada", "ada@", "1555", "secret", "passport", "VIP", "Loved", "u-ada", "pro",
        ] {
            assert!(!dump.contains(word), "{word} survived: {dump}");
        }
        assert!(
            dump.contains("bob says diagnosis too"),
            "the bystander was erased"
        );
        // The search index forgot them but still finds the bystander.
        assert_eq!(
            one(
                db,
                "SELECT COUNT(*) AS n FROM messages_fts WHERE messages_fts MATCH 'diagnosis'"
            ),
            1
        );
        // Figures stay: conversations, message rows, events, the rating.
        assert_eq!(one(db, "SELECT COUNT(*) AS n FROM conversations"), 2);
        assert_eq!(one(db, "SELECT COUNT(*) AS n FROM messages"), 3);
        assert_eq!(one(db, "SELECT COUNT(*) AS n FROM events"), before_events);
        assert_eq!(
            one(
                db,
                "SELECT rating AS n FROM csat_responses WHERE conversation_id = 10"
            ),
            5
        );
        assert_eq!(
            one(
                db,
                "SELECT COUNT(*) AS n FROM events WHERE kind = 'message.created'
                      AND json_extract(data, '$.message.author') = 'visitor'"
            ),
            2
        );
        // One audit line, counts only.
        let line = exec(
            db,
            "SELECT detail FROM audit_log WHERE action = 'contact.erased'",
            &[],
        );
        let detail = line.first().unwrap().str("detail").unwrap().to_owned();
        assert!(detail.contains("\"messages\":2"), "{detail}");
        assert!(!detail.contains("Ada"));

        // Again: nothing left to change, a second line with zeros.
        let again = erase(&ctx, &admin(), 1, &confirm, "10.0.0.9").unwrap();
        assert_eq!(again, Erased::default());
        assert_eq!(
            one(
                db,
                "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'contact.erased'"
            ),
            2
        );
    }

    #[test]
    fn erasure_needs_the_confirmation_and_a_real_contact() {
        let host = TestHost::new();
        let ctx = host.ctx();
        seed(ctx.db);
        let wrong = EraseRequest {
            confirm: "yes".into(),
        };
        assert!(matches!(
            erase(&ctx, &admin(), 1, &wrong, "x"),
            Err(ChatError::Invalid(_))
        ));
        assert_eq!(
            one(
                ctx.db,
                "SELECT COUNT(*) AS n FROM messages WHERE body = 'my secret diagnosis'"
            ),
            1
        );
        let confirm = EraseRequest {
            confirm: "erase".into(),
        };
        assert!(matches!(
            erase(&ctx, &admin(), 99, &confirm, "x"),
            Err(ChatError::NotFound("contact"))
        ));
        assert_eq!(one(ctx.db, "SELECT COUNT(*) AS n FROM audit_log"), 0);
    }

    #[test]
    fn pending_webhook_deliveries_and_replies_go_with_the_data() {
        let host = TestHost::new();
        let ctx = host.ctx();
        seed(ctx.db);
        let db = ctx.db;
        exec(
            db,
            "INSERT INTO webhook_endpoints (id, url, secret, created_at, updated_at)
             VALUES (1, 'https://hooks.example/x', 's', 0, 0)",
            &[],
        );
        exec(
            db,
            "INSERT INTO webhook_deliveries (delivery_id, endpoint_id, event_id, type,
                                             next_attempt_at, created_at, payload)
             SELECT 'wh_' || id, 1, id, 'message.created', 0, 0, data FROM events
              WHERE conversation_id = 10 AND kind = 'message.created'",
            &[],
        );
        exec(
            db,
            "INSERT INTO outbox (message_id, channel, recipient, next_attempt_at, created_at)
             SELECT id, 'sms', '+15550002', 0, 0 FROM messages WHERE author = 'operator'",
            &[],
        );
        let erased = erase(
            &ctx,
            &admin(),
            1,
            &EraseRequest {
                confirm: "erase".into(),
            },
            "x",
        )
        .unwrap();
        assert_eq!(erased.webhook_deliveries, 2);
        assert_eq!(erased.outbox, 1);
        assert_eq!(
            one(
                db,
                "SELECT COUNT(*) AS n FROM webhook_deliveries
                      WHERE payload IS NULL AND status = 'cancelled'"
            ),
            2
        );
        assert_eq!(one(db, "SELECT COUNT(*) AS n FROM outbox"), 0);
        // Nothing is left for the sender to claim.
        assert!(!crate::webhook::is_due(db, i64::MAX / 2).unwrap());
    }
}
