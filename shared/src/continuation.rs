//! Taking a widget conversation elsewhere: "continue by email / SMS", and its transcript by
//! email.
//!
//! # Continue elsewhere
//! A visitor who has to leave gives an email address or an E.164 phone number
//! ([`continue_elsewhere`]). The address goes onto the conversation's contact, the conversation
//! remembers the channel as its preference (`preferred_channel`, `preferred_at`), and a short
//! confirmation goes out through the outbox to that address. From then on an operator's reply
//! (and the assistant's) defaults to that channel until the customer writes on another one
//! ([`crate::outbox`]'s default channel). Their SMS answers find the contact by phone number,
//! and their emails thread by the confirmation's reply token, into the same conversation (see
//! [`crate::inbound`]). A number or address that already belongs to another customer record
//! keeps leading there: a visitor typing it proves nothing, so no records are merged.
//!
//! # Transcript
//! [`transcript`] emails the conversation's messages as plain text (who said what and when, in
//! UTC; no markup, so nothing in a message can become a link or a tag) through the outbox: the
//! conversation gets a short notice (a system message), whose outbox row carries the transcript
//! as the email's text (`details.text`). The address is used for this email only.
//!
//! Both are limited per conversation ([`CONTINUE_LIMIT`], [`TRANSCRIPT_LIMIT`]), because each
//! sends a message to an address the visitor typed.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::channel::Channel;
use crate::chat::ChatError;
use crate::contact::{EmailAddress, PhoneNumber};
use crate::conversation;
use crate::delivery::DeliveryStatus;
use crate::event;
use crate::host::Ctx;
use crate::input::InvalidInput;
use crate::message::{self, Author, ClientId, Inserted, Message, MessageBody, NewMessage};
use crate::outbox::{self, Target};
use crate::secret::Token;
use crate::store::{Database, transaction};
use crate::throttle::{self, Limit};

/// Continue requests per conversation: 5 an hour.
pub const CONTINUE_LIMIT: Limit = Limit {
    failures: 5,
    window_ms: 3_600_000,
};
/// Transcripts per conversation: 3 an hour.
pub const TRANSCRIPT_LIMIT: Limit = Limit {
    failures: 3,
    window_ms: 3_600_000,
};
/// The most messages a transcript lists (the latest ones).
pub const TRANSCRIPT_MESSAGES: i64 = 1_000;

/// `POST /api/widget/conversations/:id/continue` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContinueRequest {
    pub channel: String,
    pub address: String,
}

/// A parsed [`ContinueRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Sms(PhoneNumber),
    Email(EmailAddress),
}

impl Destination {
    pub fn parse(request: &ContinueRequest) -> Result<Destination, InvalidInput> {
        match request.channel.as_str() {
            "sms" => Ok(Destination::Sms(PhoneNumber::parse(
                "address",
                &request.address,
            )?)),
            "email" => Ok(Destination::Email(EmailAddress::parse(
                "address",
                &request.address,
            )?)),
            _ => Err(InvalidInput::new("channel", "must be \"email\" or \"sms\"")),
        }
    }

    fn channel(&self) -> Channel {
        match self {
            Destination::Sms(_) => Channel::Sms,
            Destination::Email(_) => Channel::Email,
        }
    }

    fn address(&self) -> &str {
        match self {
            Destination::Sms(phone) => phone.as_str(),
            Destination::Email(email) => email.as_str(),
        }
    }
}

/// What the widget hears back.
#[derive(Debug, Serialize)]
pub struct Continued {
    pub channel: Channel,
    pub address: String,
    /// The confirmation, as stored in the conversation (its delivery follows).
    pub message: Message,
}

const CONTACT_OF: &str = "SELECT contact_id FROM conversations WHERE id = ?1";
const SET_PHONE: &str = "UPDATE contacts SET phone = ?2, updated_at = ?3 WHERE id = ?1";
const SET_EMAIL: &str = "UPDATE contacts SET email = ?2, updated_at = ?3 WHERE id = ?1";
const PREFER: &str =
    "UPDATE conversations SET preferred_channel = ?2, preferred_at = ?3 WHERE id = ?1";

fn limited(ctx: &Ctx<'_>, key: &str, limit: Limit) -> Result<(), ChatError> {
    match throttle::blocked_for(ctx, key, limit) {
        Some(seconds) => Err(ChatError::RateLimited(seconds)),
        None => Ok(()),
    }
}

/// Inserts a system notice on `target`'s channel and queues it there; `details` go to the
/// outbox row (email subject, transcript text).
fn notify(
    db: &dyn Database,
    conversation_id: i64,
    target: &Target,
    text: &str,
    client_id: &str,
    details: Option<serde_json::Value>,
    now: i64,
) -> Result<Message, ChatError> {
    let body = MessageBody::parse(text)?;
    let client_id = ClientId::parse(client_id)?;
    let new = NewMessage {
        conversation_id,
        author: Author::System,
        operator_id: None,
        operator_name: None,
        channel: target.channel,
        body: &body,
        client_id: Some(&client_id),
        delivery: Some(DeliveryStatus::Queued),
        sender: None,
    };
    match message::insert(db, &new, None, None, now)? {
        Inserted::Created(message) => {
            outbox::enqueue_with(db, conversation_id, message.id, target, details, now)?;
            Ok(message)
        }
        // The same request twice within a millisecond: queued once.
        Inserted::Duplicate(message) => Ok(message),
        Inserted::Refused => Err(ChatError::NotFound("conversation")),
    }
}

/// Continues the visitor's conversation by SMS or email (see the module docs).
/// `business_name` signs the confirmation.
pub fn continue_elsewhere(
    ctx: &Ctx<'_>,
    token: &Token,
    conversation_id: i64,
    request: &ContinueRequest,
    business_name: &str,
) -> Result<Continued, ChatError> {
    let destination = Destination::parse(request)?;
    conversation::owned_by_visitor(ctx.db, conversation_id, &token.hash())?
        .ok_or(ChatError::NotFound("conversation"))?;
    let key = format!("widget:continue:{conversation_id}");
    limited(ctx, &key, CONTINUE_LIMIT)?;
    let now = ctx.clock.now_ms();
    let db = ctx.db;
    let channel = destination.channel();
    let text = match &destination {
        Destination::Sms(_) => format!(
            "{business_name}: this is your chat with us, continued by text message. Reply here to write to us; our answers come here too."
        ),
        Destination::Email(_) => format!(
            "This is your chat with {business_name}, continued by email. Reply to this email to write to us; our answers come here too."
        ),
    };
    let message = transaction(db, || -> Result<Message, ChatError> {
        let contact_id = db
            .execute(CONTACT_OF, &[conversation_id.into()])?
            .first()
            .map(|row| row.i64("contact_id"))
            .transpose()?
            .ok_or(ChatError::NotFound("conversation"))?;
        let contact_id = crate::contact::survivor(db, contact_id)?;
        let set = if channel == Channel::Sms {
            SET_PHONE
        } else {
            SET_EMAIL
        };
        db.execute(
            set,
            &[contact_id.into(), destination.address().into(), now.into()],
        )?;
        db.execute(
            PREFER,
            &[conversation_id.into(), channel.as_str().into(), now.into()],
        )?;
        let target = Target {
            channel,
            recipient: Some(destination.address().to_owned()),
        };
        let client_id = format!("continue-{}-{now}", channel.as_str());
        notify(db, conversation_id, &target, &text, &client_id, None, now)
    })?;
    throttle::record_failure(ctx, &key, CONTINUE_LIMIT);
    event::announce(ctx, conversation_id, &format!("m{}", message.id));
    Ok(Continued {
        channel,
        address: destination.address().to_owned(),
        message,
    })
}

/// `POST /api/widget/conversations/:id/transcript` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscriptRequest {
    pub email: String,
}

/// What the widget hears back.
#[derive(Debug, Serialize)]
pub struct TranscriptQueued {
    pub email: String,
    pub messages: usize,
}

/// `ms` as `2026-11-26 09:42 UTC`.
fn utc(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// The transcript's text: a heading, then each message as `[time] Who: text`, continuation
/// lines indented.
pub fn transcript_text(business_name: &str, messages: &[Message]) -> String {
    let mut out = format!("Your conversation with {business_name}\n\n");
    for m in messages {
        let who = match (m.author, m.sender.as_deref()) {
            (Author::Visitor, _) => "You".to_owned(),
            (Author::Operator, _) => m
                .operator_name
                .clone()
                .unwrap_or_else(|| business_name.to_owned()),
            (Author::System, Some("assistant")) => "Assistant".to_owned(),
            (Author::System, _) => business_name.to_owned(),
        };
        let mut body = m.body.replace("\r\n", "\n").replace('\r', "\n");
        if !m.attachments.is_empty() {
            body.push_str(&format!(" ({} attachment(s))", m.attachments.len()));
        }
        out.push_str(&format!(
            "[{}] {who}: {}\n",
            utc(m.created_at),
            body.replace('\n', "\n    ")
        ));
    }
    out
}

/// Emails the conversation's transcript to `request.email` (see the module docs).
pub fn transcript(
    ctx: &Ctx<'_>,
    token: &Token,
    conversation_id: i64,
    request: &TranscriptRequest,
    business_name: &str,
) -> Result<TranscriptQueued, ChatError> {
    let email = EmailAddress::parse("email", &request.email)?;
    conversation::owned_by_visitor(ctx.db, conversation_id, &token.hash())?
        .ok_or(ChatError::NotFound("conversation"))?;
    let key = format!("widget:transcript:{conversation_id}");
    limited(ctx, &key, TRANSCRIPT_LIMIT)?;
    let now = ctx.clock.now_ms();
    let db = ctx.db;
    let (message, count) = transaction(db, || -> Result<(Message, usize), ChatError> {
        let messages = message::latest(db, conversation_id, TRANSCRIPT_MESSAGES)?;
        if messages.is_empty() {
            return Err(ChatError::Conflict(
                "empty_conversation",
                "this conversation has no messages yet".into(),
            ));
        }
        let text = transcript_text(business_name, &messages);
        let details = json!({
            "subject": format!("Transcript of your conversation with {business_name}"),
            "text": text,
        });
        let target = Target {
            channel: Channel::Email,
            recipient: Some(email.as_str().to_owned()),
        };
        let message = notify(
            db,
            conversation_id,
            &target,
            "A transcript of this conversation was sent by email.",
            &format!("transcript-{now}"),
            Some(details),
            now,
        )?;
        Ok((message, messages.len()))
    })?;
    throttle::record_failure(ctx, &key, TRANSCRIPT_LIMIT);
    event::announce(ctx, conversation_id, &format!("m{}", message.id));
    Ok(TranscriptQueued {
        email: email.as_str().to_owned(),
        messages: count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestHost;
    use crate::visitor::{self, StartRequest};

    fn started(host: &TestHost) -> (Token, i64) {
        let started = visitor::start(&host.ctx(), None, &StartRequest::default()).unwrap();
        (
            Token::parse(started.visitor_token.as_deref().unwrap()).unwrap(),
            started.conversation.id,
        )
    }

    fn say(host: &TestHost, token: &Token, id: i64, text: &str) {
        let request = crate::chat::PostMessageRequest {
            body: text.into(),
            client_id: None,
            channel: None,
        };
        visitor::post(&host.ctx(), token, id, &request).unwrap();
    }

    #[test]
    fn continuing_by_sms_makes_it_the_default_until_the_customer_writes_elsewhere() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let (token, id) = started(&host);
        say(&host, &token, id, "hello");
        let request = ContinueRequest {
            channel: "sms".into(),
            address: "+1 415 555 0100".into(),
        };
        let done = continue_elsewhere(&ctx, &token, id, &request, "Shop").unwrap();
        assert_eq!(done.address, "+14155550100");
        let options = outbox::reply_options(ctx.db, id, ctx.clock.now_ms()).unwrap();
        assert_eq!(options.default, Channel::Sms);
        let queued = ctx
            .db
            .execute("SELECT recipient, channel FROM outbox", &[])
            .unwrap();
        assert_eq!(
            queued.first().unwrap().str("recipient").unwrap(),
            "+14155550100"
        );

        host.clock.advance(1_000);
        say(&host, &token, id, "back on the site");
        let options = outbox::reply_options(ctx.db, id, ctx.clock.now_ms()).unwrap();
        assert_eq!(options.default, Channel::Web);
    }

    #[test]
    fn bad_addresses_strangers_and_floods_are_refused() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let (token, id) = started(&host);
        let (other, _) = started(&host);
        let ask = |token: &Token, channel: &str, address: &str| {
            continue_elsewhere(
                &ctx,
                token,
                id,
                &ContinueRequest {
                    channel: channel.into(),
                    address: address.into(),
                },
                "Shop",
            )
        };
        assert!(matches!(
            ask(&token, "sms", "4155550100"),
            Err(ChatError::Invalid(_))
        ));
        assert!(matches!(
            ask(&token, "email", "nope"),
            Err(ChatError::Invalid(_))
        ));
        assert!(matches!(
            ask(&token, "fax", "+14155550100"),
            Err(ChatError::Invalid(_))
        ));
        assert!(matches!(
            ask(&other, "sms", "+14155550100"),
            Err(ChatError::NotFound(_))
        ));
        for _ in 0..CONTINUE_LIMIT.failures {
            ask(&token, "email", "ann@example.com").unwrap();
        }
        assert!(matches!(
            ask(&token, "email", "ann@example.com"),
            Err(ChatError::RateLimited(_))
        ));
    }

    #[test]
    fn the_transcript_is_plain_text_with_times_and_speakers() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let (token, id) = started(&host);
        say(&host, &token, id, "<b>hi</b>\nsecond line");
        let request = TranscriptRequest {
            email: "ann@example.com".into(),
        };
        let queued = transcript(&ctx, &token, id, &request, "Shop").unwrap();
        assert_eq!(queued.messages, 1);
        let rows = ctx.db.execute("SELECT details FROM outbox", &[]).unwrap();
        let details: serde_json::Value =
            serde_json::from_str(rows.first().unwrap().str("details").unwrap()).unwrap();
        let text = details["text"].as_str().unwrap();
        assert!(
            text.contains("] You: <b>hi</b>\n    second line\n"),
            "{text}"
        );
        assert!(text.contains(" UTC]"), "{text}");
        // The default channel is unchanged by a transcript.
        let options = outbox::reply_options(ctx.db, id, ctx.clock.now_ms()).unwrap();
        assert_eq!(options.default, Channel::Web);
    }
}
