//! Messages arriving from providers (SMS, email, Messenger, Instagram, WhatsApp): one customer,
//! one thread, one stored message per provider message however often the provider retries.
//!
//! The webhook components verify authenticity and parse the provider's payload (see
//! [`crate::channel`]); this module stores what they found, in one write transaction:
//! 1. A message whose provider id is already stored is a retry: nothing happens. A unique index
//!    on (channel, provider id) backs this up.
//! 2. The customer is found by phone number (E.164), email address, or their id on the channel,
//!    following merges; else a new contact is created with what the provider told us.
//! 3. An email threads by the PROTOCOLS.md order: the token in the address it was sent to
//!    (our replies' `Reply-To`), then its `In-Reply-To`/`References` against the Message-IDs
//!    stored with messages, never by subject alone.
//! 4. Otherwise the message goes to the customer's latest conversation on any channel, if it is
//!    still going (not resolved) or was resolved within [`REOPEN_WINDOW_MS`] (the message
//!    reopens it); otherwise a new conversation starts on this channel.
//! 5. Its attachments are staged, then the message is inserted with its channel and provider
//!    id; the `messages_publish` trigger does the rest (claiming the attachments, event,
//!    reopening, waiting, full-text index). An email's subject and `References` are kept for
//!    the reply's headers.
//!
//! One exception to step 5: a text-only reply that answers the conversation's pending
//! satisfaction survey ("5 thanks!") is recorded as the answer instead of stored as a message,
//! so it does not reopen the conversation (see [`crate::csat`]).

use serde::Serialize;

use crate::attachment::{self, NewAttachment};
use crate::channel::Channel;
use crate::chat::ChatError;
use crate::contact::{EmailAddress, PersonName, PhoneNumber};
use crate::conversation;
use crate::event;
use crate::host::Ctx;
use crate::input::InvalidInput;
use crate::media::{self, RemoteMedia};
use crate::message::MessageBody;
use crate::store::{Database, DbError, transaction};

/// A resolved conversation this recent is reopened by a new message rather than replaced.
pub const REOPEN_WINDOW_MS: i64 = 7 * 24 * 3_600_000;
/// Provider ids are at most this long (email Message-IDs are the longest).
const MAX_EXTERNAL_ID_CHARS: usize = 998;

/// Who wrote, as the channel identifies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    Phone(PhoneNumber),
    Email(EmailAddress),
    /// An id only this channel knows (PSID, IGSID, WhatsApp id, a short-code sender).
    ChannelId(String),
}

/// One message a provider delivered to us.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    pub channel: Channel,
    pub sender: Sender,
    /// A display name, when the provider gives one.
    pub name: Option<PersonName>,
    /// The provider's id for the message: the idempotency key (an email's RFC Message-ID).
    pub external_id: String,
    pub body: MessageBody,
    /// Email only: how it may thread, and what a reply to it needs.
    pub email: Option<EmailContext>,
    /// Files that passed the limits (see [`crate::attachment`]); at most
    /// [`attachment::MAX_PER_MESSAGE`] are kept.
    pub attachments: Vec<NewAttachment>,
    /// Files the provider hosts, fetched after the message is stored (see [`crate::media`]).
    pub media: Vec<RemoteMedia>,
}

/// What an inbound email says about its thread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmailContext {
    /// The token in the address it was sent to (`support+<token>@...`), if any.
    pub reply_token: Option<String>,
    /// Message-IDs it answers, without angle brackets: `In-Reply-To` first, then `References`.
    pub referenced_ids: Vec<String>,
    pub subject: String,
    /// Its `References` header as received, for building a reply's.
    pub references: String,
}

/// What storing an inbound message did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Received {
    pub conversation_id: i64,
    /// `None` when the message answered the conversation's satisfaction survey: the answer is
    /// recorded instead of a message (see [`crate::csat`]).
    pub message_id: Option<i64>,
    /// `false`: the provider retried a message (or a survey answer) we already had.
    pub created: bool,
}

/// A provider id, checked for length and control characters.
pub fn external_id(field: &'static str, text: &str) -> Result<String, InvalidInput> {
    let id = crate::input::bounded_text(field, text, 1, MAX_EXTERNAL_ID_CHARS)?;
    if id.contains(['\n', '\t']) {
        return Err(InvalidInput::new(field, "must be one line"));
    }
    Ok(id)
}

/// What a customer's message is stored as: its text with line ends normalised, other control
/// characters dropped and cut to [`MessageBody::MAX_CHARS`] (a provider's message is never
/// refused for its text, or the provider would retry it forever), or a note of what it carried.
pub fn body(text: Option<&str>, attachments: usize) -> Result<MessageBody, InvalidInput> {
    let cleaned: String = text
        .unwrap_or_default()
        .replace("\r\n", "\n")
        .chars()
        .map(|c| if c == '\r' { '\n' } else { c })
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect();
    let trimmed = cleaned.trim();
    let text = if !trimmed.is_empty() {
        trimmed.chars().take(MessageBody::MAX_CHARS).collect()
    } else if attachments == 0 {
        "(empty message)".to_owned()
    } else {
        format!(
            "({attachments} attachment{})",
            if attachments == 1 { "" } else { "s" }
        )
    };
    MessageBody::parse(&text)
}

const ALREADY_STORED: &str = "SELECT id, conversation_id FROM messages
      WHERE channel = ?1 AND external_id = ?2";
const BY_PHONE: &str =
    "SELECT id FROM contacts WHERE phone = ?1 ORDER BY merged_into IS NOT NULL, id LIMIT 1";
const BY_EMAIL: &str = "SELECT id FROM contacts WHERE email = ?1 COLLATE NOCASE ORDER BY merged_into IS NOT NULL, id LIMIT 1";
const BY_IDENTITY: &str =
    "SELECT contact_id AS id FROM contact_identities WHERE channel = ?1 AND external_id = ?2";
const INSERT_CONTACT: &str = "INSERT INTO contacts (name, email, phone, created_at)
     VALUES (?1, ?2, ?3, ?4) RETURNING id";
const INSERT_IDENTITY: &str =
    "INSERT INTO contact_identities (channel, external_id, contact_id, created_at)
     VALUES (?1, ?2, ?3, ?4)";
const FILL_NAME: &str = "UPDATE contacts SET name = ?2 WHERE id = ?1 AND name IS NULL";
const LATEST_CONVERSATION: &str = "SELECT id, status, resolved_at FROM conversations
      WHERE contact_id = ?1 ORDER BY updated_at DESC, id DESC LIMIT 1";
const BY_REPLY_TOKEN: &str = "SELECT conversation_id AS id FROM email_threads WHERE token = ?1";
/// The conversation of the newest email message among up to [`MAX_REFERENCED`] Message-IDs
/// (`?1`, a JSON array).
const BY_REFERENCED_ID: &str = "SELECT conversation_id AS id FROM messages
     WHERE channel = 'email' AND external_id IN (SELECT value FROM json_each(?1))
     ORDER BY id DESC LIMIT 1";
const INSERT_EMAIL_DETAILS: &str =
    "INSERT INTO email_details (message_id, subject, refs) VALUES (?1, ?2, ?3)";
/// A thread is looked up by at most this many referenced Message-IDs (a long `References` chain
/// is mostly old history; its newest ids are the ones that matter).
const MAX_REFERENCED: usize = 20;
const INSERT_MESSAGE: &str =
    "INSERT INTO messages (conversation_id, author, channel, body, external_id, created_at)
     VALUES (?1, 'visitor', ?2, ?3, ?4, ?5) RETURNING id";

fn first_id(
    db: &dyn Database,
    sql: &str,
    params: &[crate::store::SqlValue],
) -> Result<Option<i64>, DbError> {
    db.execute(sql, params)?
        .first()
        .map(|row| row.i64("id"))
        .transpose()
}

/// The customer `sender` is, created if new.
fn customer(db: &dyn Database, inbound: &InboundMessage, now: i64) -> Result<i64, DbError> {
    let name = inbound.name.as_ref().map(PersonName::as_str);
    let found = match &inbound.sender {
        Sender::Phone(phone) => first_id(db, BY_PHONE, &[phone.as_str().into()])?,
        Sender::Email(email) => first_id(db, BY_EMAIL, &[email.as_str().into()])?,
        Sender::ChannelId(id) => first_id(
            db,
            BY_IDENTITY,
            &[inbound.channel.as_str().into(), id.as_str().into()],
        )?,
    };
    let id = match found {
        Some(id) => crate::contact::survivor(db, id)?,
        None => {
            let (email, phone) = match &inbound.sender {
                Sender::Phone(phone) => (None, Some(phone.as_str())),
                Sender::Email(email) => (Some(email.as_str()), None),
                Sender::ChannelId(_) => (None, None),
            };
            let id = first_id(
                db,
                INSERT_CONTACT,
                &[name.into(), email.into(), phone.into(), now.into()],
            )?
            .ok_or_else(|| DbError::Decode("INSERT ... RETURNING gave no row".into()))?;
            if let Sender::ChannelId(external) = &inbound.sender {
                db.execute(
                    INSERT_IDENTITY,
                    &[
                        inbound.channel.as_str().into(),
                        external.as_str().into(),
                        id.into(),
                        now.into(),
                    ],
                )?;
            }
            id
        }
    };
    if let Some(name) = name {
        db.execute(FILL_NAME, &[id.into(), name.into()])?;
    }
    Ok(id)
}

/// The conversation a new message of `contact_id` belongs to (see the module docs).
fn thread(db: &dyn Database, contact_id: i64, channel: Channel, now: i64) -> Result<i64, DbError> {
    if let Some(row) = db
        .execute(LATEST_CONVERSATION, &[contact_id.into()])?
        .first()
    {
        let resolved_recently = row
            .opt_i64("resolved_at")?
            .is_none_or(|at| now - at <= REOPEN_WINDOW_MS);
        if row.str("status")? != "resolved" || resolved_recently {
            return row.i64("id");
        }
    }
    let id = conversation::insert(db, contact_id, contact_id, channel, None, now)?;
    // The assistant takes new conversations from every channel alike (its settings' mode).
    if crate::assistant::takes_new(db, now)? {
        crate::assistant::adopt(db, id)?;
    }
    // Announced with the message that started it (`receive`).
    let summary = conversation::summary(db, id)?
        .ok_or_else(|| DbError::Decode("the new conversation vanished".into()))?;
    event::append(
        db,
        id,
        event::EventKind::ConversationCreated,
        event::Visibility::Internal,
        &serde_json::json!({ "conversation": summary }),
        now,
    )?;
    Ok(id)
}

/// The conversation an email belongs to by its token or the Message-IDs it answers.
fn email_thread(db: &dyn Database, email: &EmailContext) -> Result<Option<i64>, DbError> {
    if let Some(token) = &email.reply_token
        && let Some(id) = first_id(db, BY_REPLY_TOKEN, &[token.as_str().into()])?
    {
        return Ok(Some(id));
    }
    if email.referenced_ids.is_empty() {
        return Ok(None);
    }
    // The newest references are the last ones of `References`; In-Reply-To is first.
    let mut ids: Vec<&str> = email.referenced_ids.iter().map(String::as_str).collect();
    if ids.len() > MAX_REFERENCED {
        let newest = ids.split_off(ids.len() - (MAX_REFERENCED - 1));
        ids.truncate(1);
        ids.extend(newest);
    }
    let list = serde_json::to_string(&ids).map_err(|e| DbError::Decode(e.to_string()))?;
    first_id(db, BY_REFERENCED_ID, &[list.into()])
}

/// Stores `inbound` once (see the module docs).
pub fn receive(ctx: &Ctx<'_>, inbound: &InboundMessage) -> Result<Received, ChatError> {
    let now = ctx.clock.now_ms();
    let db = ctx.db;
    // The change to announce after the commit, if any.
    let (received, change) =
        transaction(db, || -> Result<(Received, Option<String>), ChatError> {
            if let Some(row) = db
                .execute(
                    ALREADY_STORED,
                    &[
                        inbound.channel.as_str().into(),
                        inbound.external_id.as_str().into(),
                    ],
                )?
                .first()
            {
                return Ok((
                    Received {
                        conversation_id: row.i64("conversation_id")?,
                        message_id: Some(row.i64("id")?),
                        created: false,
                    },
                    None,
                ));
            }
            let threaded = match &inbound.email {
                Some(email) => email_thread(db, email)?,
                None => None,
            };
            let conversation_id = match threaded {
                Some(id) => id,
                None => {
                    let contact_id = customer(db, inbound, now)?;
                    thread(db, contact_id, inbound.channel, now)?
                }
            };
            if inbound.attachments.is_empty() && inbound.media.is_empty() {
                let answered = match crate::csat::reply(
                    db,
                    conversation_id,
                    inbound.channel,
                    inbound.body.as_str(),
                    now,
                )? {
                    crate::csat::Reply::NotAnAnswer => None,
                    crate::csat::Reply::Recorded { event_id } => Some(Some(format!("e{event_id}"))),
                    crate::csat::Reply::Repeated => Some(None),
                };
                if let Some(change) = answered {
                    let received = Received {
                        conversation_id,
                        message_id: None,
                        created: change.is_some(),
                    };
                    return Ok((received, change));
                }
            }
            attachment::stage(db, conversation_id, &inbound.attachments, now)?;
            let message_id = first_id(
                db,
                INSERT_MESSAGE,
                &[
                    conversation_id.into(),
                    inbound.channel.as_str().into(),
                    inbound.body.as_str().into(),
                    inbound.external_id.as_str().into(),
                    now.into(),
                ],
            )?
            .ok_or_else(|| DbError::Decode("INSERT ... RETURNING gave no row".into()))?;
            media::queue(
                db,
                conversation_id,
                message_id,
                inbound.channel,
                &inbound.media,
                now,
            )?;
            if let Some(email) = &inbound.email {
                db.execute(
                    INSERT_EMAIL_DETAILS,
                    &[
                        message_id.into(),
                        email.subject.as_str().into(),
                        email.references.as_str().into(),
                    ],
                )?;
            }
            Ok((
                Received {
                    conversation_id,
                    message_id: Some(message_id),
                    created: true,
                },
                Some(format!("m{message_id}")),
            ))
        })?;
    if let Some(change) = change {
        event::announce(ctx, received.conversation_id, &change);
    }
    Ok(received)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Clock;
    use crate::testing::TestHost;

    fn sms(from: &str, sid: &str, text: &str) -> InboundMessage {
        InboundMessage {
            channel: Channel::Sms,
            sender: Sender::Phone(PhoneNumber::parse("from", from).unwrap()),
            name: None,
            external_id: sid.into(),
            body: MessageBody::parse(text).unwrap(),
            email: None,
            attachments: vec![],
            media: vec![],
        }
    }

    fn count(host: &TestHost, sql: &str) -> i64 {
        host.ctx()
            .db
            .execute(sql, &[])
            .unwrap()
            .first()
            .unwrap()
            .i64("n")
            .unwrap()
    }

    #[test]
    fn provider_texts_are_never_refused_for_their_characters() {
        assert_eq!(body(Some("a\r\nb\rc\u{7}"), 0).unwrap().as_str(), "a\nb\nc");
        assert_eq!(body(Some("  "), 0).unwrap().as_str(), "(empty message)");
        assert_eq!(body(None, 1).unwrap().as_str(), "(1 attachment)");
        assert_eq!(body(None, 3).unwrap().as_str(), "(3 attachments)");
        let long = "é".repeat(MessageBody::MAX_CHARS + 10);
        assert_eq!(
            body(Some(&long), 0).unwrap().as_str().chars().count(),
            MessageBody::MAX_CHARS
        );
    }

    #[test]
    fn a_retried_provider_message_is_stored_once() {
        let host = TestHost::new();
        let first = receive(&host.ctx(), &sms("+14155550100", "SM1", "hello")).unwrap();
        assert!(first.created);
        for _ in 0..2 {
            let again = receive(&host.ctx(), &sms("+14155550100", "SM1", "hello")).unwrap();
            assert_eq!(
                again,
                Received {
                    created: false,
                    ..first.clone()
                }
            );
        }
        assert_eq!(count(&host, "SELECT COUNT(*) AS n FROM messages"), 1);
        assert_eq!(count(&host, "SELECT COUNT(*) AS n FROM contacts"), 1);
    }

    #[test]
    fn one_customer_one_thread_across_channels() {
        let host = TestHost::new();
        let ctx = host.ctx();
        // A widget visitor who told us their phone number and email.
        let contact = crate::contact::insert(
            ctx.db,
            None,
            Some(&EmailAddress::parse("email", "ann@example.com").unwrap()),
            ctx.clock.now_ms(),
        )
        .unwrap();
        ctx.db
            .execute(
                "UPDATE contacts SET phone = '+14155550100' WHERE id = ?1",
                &[contact.into()],
            )
            .unwrap();
        let web = conversation::insert(
            ctx.db,
            contact,
            contact,
            Channel::Web,
            None,
            ctx.clock.now_ms(),
        )
        .unwrap();
        let by_sms = receive(&ctx, &sms("+14155550100", "SM1", "it's Ann")).unwrap();
        assert_eq!(by_sms.conversation_id, web);
        let by_email = receive(
            &ctx,
            &InboundMessage {
                channel: Channel::Email,
                sender: Sender::Email(EmailAddress::parse("from", "ANN@example.com").unwrap()),
                name: None,
                external_id: "<abc@mail.example.com>".into(),
                body: MessageBody::parse("me again").unwrap(),
                email: None,
                attachments: vec![],
                media: vec![],
            },
        )
        .unwrap();
        assert_eq!(by_email.conversation_id, web);
        let channels: Vec<String> = ctx
            .db
            .execute(
                "SELECT channel FROM messages WHERE conversation_id = ?1 ORDER BY id",
                &[web.into()],
            )
            .unwrap()
            .iter()
            .map(|r| r.str("channel").unwrap().to_owned())
            .collect();
        assert_eq!(channels, ["sms", "email"]);
    }

    #[test]
    fn a_long_resolved_thread_is_not_reopened_and_channel_ids_identify_customers() {
        let host = TestHost::new();
        let first = receive(&host.ctx(), &sms("+14155550100", "SM1", "hi")).unwrap();
        host.ctx()
            .db
            .execute(
                "UPDATE conversations SET status = 'resolved', resolved_at = ?1",
                &[host.clock.now_ms().into()],
            )
            .unwrap();
        host.clock.advance(REOPEN_WINDOW_MS - 1);
        let soon = receive(&host.ctx(), &sms("+14155550100", "SM2", "one more")).unwrap();
        assert_eq!(soon.conversation_id, first.conversation_id, "reopened");
        host.ctx()
            .db
            .execute(
                "UPDATE conversations SET status = 'resolved', resolved_at = ?1",
                &[host.clock.now_ms().into()],
            )
            .unwrap();
        host.clock.advance(REOPEN_WINDOW_MS + 1);
        let later = receive(&host.ctx(), &sms("+14155550100", "SM3", "new topic")).unwrap();
        assert_ne!(later.conversation_id, first.conversation_id);

        let psid = |mid: &str| InboundMessage {
            channel: Channel::Messenger,
            sender: Sender::ChannelId("PSID-1".into()),
            name: Some(PersonName::parse("name", "Kim").unwrap()),
            external_id: mid.into(),
            body: MessageBody::parse("hey").unwrap(),
            email: None,
            attachments: vec![],
            media: vec![],
        };
        let a = receive(&host.ctx(), &psid("m1")).unwrap();
        let b = receive(&host.ctx(), &psid("m2")).unwrap();
        assert_eq!(a.conversation_id, b.conversation_id);
        assert_eq!(
            count(
                &host,
                "SELECT COUNT(*) AS n FROM contacts WHERE name = 'Kim'"
            ),
            1
        );
    }

    #[test]
    fn email_threads_by_token_then_references_never_by_subject() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let email = |from: &str, id: &str, context: EmailContext| InboundMessage {
            channel: Channel::Email,
            sender: Sender::Email(EmailAddress::parse("from", from).unwrap()),
            name: None,
            external_id: id.into(),
            body: MessageBody::parse("text").unwrap(),
            email: Some(context),
            attachments: vec![],
            media: vec![],
        };
        let subject = |s: &str| EmailContext {
            subject: s.into(),
            ..EmailContext::default()
        };
        let first = receive(&ctx, &email("ann@example.com", "a1@x", subject("Order 7"))).unwrap();
        // Another person, same subject: a new thread.
        let other = receive(&ctx, &email("bob@example.com", "b1@x", subject("Order 7"))).unwrap();
        assert_ne!(other.conversation_id, first.conversation_id);
        // Bob answering Ann's Message-ID (a forwarded thread) joins Ann's conversation.
        let answer = EmailContext {
            referenced_ids: vec!["nope@x".into(), "a1@x".into()],
            ..subject("Re: Order 7")
        };
        let by_reference = receive(&ctx, &email("bob@example.com", "b2@x", answer)).unwrap();
        assert_eq!(by_reference.conversation_id, first.conversation_id);
        // A reply token wins over references.
        ctx.db
            .execute(
                "INSERT INTO email_threads (token, conversation_id) VALUES ('tok', ?1)",
                &[other.conversation_id.into()],
            )
            .unwrap();
        let tokened = EmailContext {
            reply_token: Some("tok".into()),
            referenced_ids: vec!["a1@x".into()],
            ..subject("Re: Order 7")
        };
        let by_token = receive(&ctx, &email("carl@example.com", "c1@x", tokened)).unwrap();
        assert_eq!(by_token.conversation_id, other.conversation_id);
        assert_eq!(
            count(
                &host,
                "SELECT COUNT(*) AS n FROM email_details WHERE subject = 'Re: Order 7'"
            ),
            2
        );
    }

    #[test]
    fn attachments_are_claimed_by_their_message() {
        let host = TestHost::new();
        let mut message = sms("+14155550100", "MM1", "photo");
        message.attachments = vec![
            NewAttachment::new("a.png", "image/png", b"\x89PNG\r\n\x1a\nxx".to_vec()).unwrap(),
        ];
        let received = receive(&host.ctx(), &message).unwrap();
        assert_eq!(
            count(
                &host,
                &format!(
                    "SELECT COUNT(*) AS n FROM attachments WHERE message_id = {}",
                    received.message_id.unwrap()
                )
            ),
            1
        );
        let data: String = host
            .ctx()
            .db
            .execute(
                "SELECT data FROM events WHERE kind = 'message.created'",
                &[],
            )
            .unwrap()
            .first()
            .unwrap()
            .str("data")
            .unwrap()
            .to_owned();
        assert!(
            data.contains(
                r#""attachments":[{"id":1,"name":"a.png","content_type":"image/png","size":10}]"#
            ),
            "{data}"
        );
    }
}
