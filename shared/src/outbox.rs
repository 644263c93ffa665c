//! Replies that leave through a provider: which channels an operator can reply on, the durable
//! outbox that sends them, and its retries.
//!
//! An operator's reply goes back the way the customer came: through the channel of the
//! customer's latest message, unless the operator picks another ([`reply_options`] lists them,
//! with the reason a channel is closed). The reply and its outbox row are written in one
//! transaction ([`enqueue`]), so an acknowledged reply is never lost. The `dispatch` component
//! then [`claim`]s due rows under a lease (a sender that dies mid-send leaves rows that come due
//! again when the lease ends), sends them, and [`record`]s the provider's answer: sent, a retry
//! after the next step of the [`RetrySchedule`], or failed for good with the provider's error,
//! which the operator sees on the message.
//!
//! Messenger, Instagram and WhatsApp only take free-form replies within [`WINDOW_MS`] of the
//! customer's last message on that channel (templates and message tags are not supported
//! here); outside it the channel is shown closed rather than failing at the provider.

use serde::Serialize;
use serde_json::{Value, json};

use crate::channel::Channel;
use crate::channel::email;
use crate::channel::send::{self, Answer, EmailHeaders};
use crate::chat::ChatError;
use crate::delivery::{self, DeliveryStatus};
use crate::host::Entropy;
use crate::input::InvalidInput;
use crate::store::{Database, DbError, Row};

/// Meta's customer-service window for free-form replies.
pub const WINDOW_MS: i64 = 24 * 3_600_000;
/// How long a claimed row is left to its sender before another may take it: longer than any
/// request may run (hosted Spin stops handlers at 30 s).
pub const LEASE_MS: i64 = 60_000;
/// The most rows one dispatch pass sends.
pub const BATCH: i64 = 20;

/// Waits between attempts, in milliseconds: after attempt n fails, the next comes
/// `steps[n - 1]` later; when the steps run out the message has failed. The default gives a
/// provider about 1 h 21 min to come back over 6 attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<i64>);

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule(vec![10_000, 60_000, 300_000, 900_000, 3_600_000])
    }
}

impl RetrySchedule {
    /// Parses a comma-separated list of waits in ms (`dispatch_retry_schedule_ms`): 0 to 20
    /// steps of 1 ms to 1 day each; empty means the default.
    pub fn parse(text: &str) -> Result<RetrySchedule, String> {
        if text.trim().is_empty() {
            return Ok(RetrySchedule::default());
        }
        let steps = text
            .split(',')
            .map(|step| {
                step.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|ms| (1..=86_400_000).contains(ms))
                    .ok_or_else(|| format!("{step:?} is not a wait of 1..86400000 ms"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if steps.len() > 20 {
            return Err("at most 20 steps".into());
        }
        Ok(RetrySchedule(steps))
    }

    /// The most attempts a message gets.
    pub fn attempts(&self) -> i64 {
        self.0.len() as i64 + 1
    }

    /// The waits, in ms.
    pub fn steps(&self) -> &[i64] {
        &self.0
    }
}

/// One channel an operator could reply through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelOption {
    pub channel: Channel,
    pub available: bool,
    /// Why it is closed, in words for the operator.
    pub reason: Option<String>,
    /// Messenger, Instagram, WhatsApp: when free-form replies stop (or stopped) being allowed.
    pub window_closes_at: Option<i64>,
}

/// The channels of a conversation's customer, and the one a reply uses by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyOptions {
    /// The channel of the customer's latest message (or the conversation's own).
    pub default: Channel,
    pub channels: Vec<ChannelOption>,
}

const CONVERSATION: &str = "SELECT contact_id, channel FROM conversations WHERE id = ?1";
/// The contact and its merged-in tombstones: an address may sit on either.
const ADDRESSES: &str = "SELECT phone, email FROM contacts WHERE id = ?1 OR merged_into = ?1
     ORDER BY id = ?1 DESC, id DESC";
const IDENTITY: &str = "SELECT external_id FROM contact_identities
     WHERE channel = ?2 AND contact_id IN (SELECT id FROM contacts WHERE id = ?1 OR merged_into = ?1)
     ORDER BY created_at DESC LIMIT 1";
/// The channel of the customer's latest message, unless the visitor asked to continue on
/// another channel after it (`preferred_channel`, see [`crate::continuation`]).
const DEFAULT_CHANNEL: &str = "SELECT CASE
         WHEN c.preferred_channel IS NOT NULL AND c.preferred_at >= COALESCE(m.created_at, 0)
         THEN c.preferred_channel ELSE m.channel END AS channel
     FROM conversations c
     LEFT JOIN messages m ON m.id = (SELECT id FROM messages
         WHERE conversation_id = c.id AND author = 'visitor' ORDER BY id DESC LIMIT 1)
     WHERE c.id = ?1";
const USED_THE_WIDGET: &str = "SELECT 1 AS used FROM conversations c WHERE c.id = ?1
     AND (c.channel = 'web' OR EXISTS (SELECT 1 FROM messages m
           WHERE m.conversation_id = c.id AND m.author = 'visitor' AND m.channel = 'web'))";
const LAST_ON_CHANNEL: &str = "SELECT MAX(created_at) AS at FROM messages
     WHERE conversation_id = ?1 AND author = 'visitor' AND channel = ?2";

/// Where a reply on one channel would go, if anywhere.
fn recipient(
    db: &dyn Database,
    contact_id: i64,
    channel: Channel,
) -> Result<Option<String>, DbError> {
    let first = |column: &str| -> Result<Option<String>, DbError> {
        for row in db.execute(ADDRESSES, &[contact_id.into()])?.iter() {
            if let Some(value) = row.opt_str(column)? {
                return Ok(Some(value.to_owned()));
            }
        }
        Ok(None)
    };
    match channel {
        Channel::Web => Ok(None),
        Channel::Sms | Channel::Whatsapp => first("phone"),
        Channel::Email => first("email"),
        Channel::Messenger | Channel::Instagram => Ok(db
            .execute(IDENTITY, &[contact_id.into(), channel.as_str().into()])?
            .first()
            .map(|row| row.str("external_id").map(str::to_owned))
            .transpose()?),
    }
}

fn has_window(channel: Channel) -> bool {
    matches!(
        channel,
        Channel::Messenger | Channel::Instagram | Channel::Whatsapp
    )
}

fn option(
    db: &dyn Database,
    conversation_id: i64,
    contact_id: i64,
    channel: Channel,
    now: i64,
) -> Result<(ChannelOption, Option<String>), DbError> {
    if channel == Channel::Web {
        // A reply in the chat reaches only someone who has the chat: a conversation that began
        // in the widget, or one the customer has written to from it.
        let used = db
            .execute(USED_THE_WIDGET, &[conversation_id.into()])?
            .first()
            .is_some();
        let option = ChannelOption {
            channel,
            available: used,
            reason: (!used).then(|| "the customer has never used the website chat".to_owned()),
            window_closes_at: None,
        };
        return Ok((option, None));
    }
    let to = recipient(db, contact_id, channel)?;
    let mut option = ChannelOption {
        channel,
        available: to.is_some(),
        reason: to.is_none().then(|| match channel {
            Channel::Sms | Channel::Whatsapp => "the customer has no phone number".to_owned(),
            Channel::Email => "the customer has no email address".to_owned(),
            _ => format!("the customer has not written on {}", channel.as_str()),
        }),
        window_closes_at: None,
    };
    if has_window(channel) && to.is_some() {
        let last = db
            .execute(
                LAST_ON_CHANNEL,
                &[conversation_id.into(), channel.as_str().into()],
            )?
            .first()
            .map(|row| row.opt_i64("at"))
            .transpose()?
            .flatten();
        match last {
            Some(at) => {
                option.window_closes_at = Some(at + WINDOW_MS);
                if now >= at + WINDOW_MS {
                    option.available = false;
                    option.reason = Some(format!(
                        "the 24-hour window for free-form {} replies has closed; the customer must write first",
                        channel.as_str()
                    ));
                }
            }
            None => {
                option.available = false;
                option.reason = Some(format!(
                    "the customer has not written on {} in this conversation, so a free-form reply is not allowed",
                    channel.as_str()
                ));
            }
        }
    }
    Ok((option, to))
}

fn conversation(db: &dyn Database, conversation_id: i64) -> Result<(i64, Channel), ChatError> {
    let rows = db.execute(CONVERSATION, &[conversation_id.into()])?;
    let row = rows.first().ok_or(ChatError::NotFound("conversation"))?;
    let contact_id = crate::contact::survivor(db, row.i64("contact_id")?)?;
    let channel = Channel::parse(row.str("channel")?).unwrap_or(Channel::Web);
    Ok((contact_id, channel))
}

fn default_channel(
    db: &dyn Database,
    conversation_id: i64,
    own: Channel,
) -> Result<Channel, DbError> {
    Ok(db
        .execute(DEFAULT_CHANNEL, &[conversation_id.into()])?
        .first()
        .and_then(|row| {
            row.opt_str("channel")
                .ok()
                .flatten()
                .and_then(Channel::parse)
        })
        .unwrap_or(own))
}

/// The channels an operator may reply through in a conversation (see the module docs).
pub fn reply_options(
    db: &dyn Database,
    conversation_id: i64,
    now: i64,
) -> Result<ReplyOptions, ChatError> {
    let (contact_id, own) = conversation(db, conversation_id)?;
    let default = default_channel(db, conversation_id, own)?;
    let channels = [
        Channel::Web,
        Channel::Sms,
        Channel::Whatsapp,
        Channel::Email,
        Channel::Messenger,
        Channel::Instagram,
    ]
    .into_iter()
    .map(|channel| Ok(option(db, conversation_id, contact_id, channel, now)?.0))
    .collect::<Result<Vec<_>, DbError>>()?;
    Ok(ReplyOptions { default, channels })
}

/// Where a reply goes: the widget (`recipient` is `None`) or a provider channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub channel: Channel,
    pub recipient: Option<String>,
}

/// The target of an operator's reply of `body_chars` characters: `requested` (a channel name)
/// or the default; refused with the reason when that channel is closed or the text too long
/// for it.
pub fn choose(
    db: &dyn Database,
    conversation_id: i64,
    requested: Option<&str>,
    body_chars: usize,
    now: i64,
) -> Result<Target, ChatError> {
    let (contact_id, own) = conversation(db, conversation_id)?;
    let channel = match requested {
        Some(name) => Channel::parse(name).ok_or_else(|| {
            InvalidInput::new(
                "channel",
                "must be one of web, sms, whatsapp, email, messenger, instagram",
            )
        })?,
        None => default_channel(db, conversation_id, own)?,
    };
    let (option, recipient) = option(db, conversation_id, contact_id, channel, now)?;
    if !option.available {
        return Err(ChatError::Conflict(
            "channel_unavailable",
            format!(
                "cannot reply by {}: {}",
                channel.as_str(),
                option.reason.unwrap_or_default()
            ),
        ));
    }
    if let Some(max) = send::max_chars(channel)
        && body_chars > max
    {
        return Err(InvalidInput::new(
            "body",
            format!(
                "{} takes at most {max} characters per message",
                channel.as_str()
            ),
        )
        .into());
    }
    Ok(Target { channel, recipient })
}

/// Where a message the app writes on its own (the assistant's) goes: the customer's latest
/// channel when a reply may go there now, else the conversation's timeline in the web chat (an
/// operator still sees it). The text is cut to the channel's length limit by the caller.
pub fn automatic_target(
    db: &dyn Database,
    conversation_id: i64,
    now: i64,
) -> Result<Target, ChatError> {
    let (contact_id, own) = conversation(db, conversation_id)?;
    let channel = default_channel(db, conversation_id, own)?;
    let (option, recipient) = option(db, conversation_id, contact_id, channel, now)?;
    Ok(match recipient {
        Some(recipient) if option.available => Target {
            channel,
            recipient: Some(recipient),
        },
        _ => Target {
            channel: Channel::Web,
            recipient: None,
        },
    })
}

const LATEST_EMAIL: &str = "SELECT m.external_id, d.subject, d.refs FROM messages m
     JOIN email_details d ON d.message_id = m.id
     WHERE m.conversation_id = ?1 AND m.author = 'visitor' AND m.channel = 'email'
     ORDER BY m.id DESC LIMIT 1";
const INSERT: &str =
    "INSERT INTO outbox (message_id, channel, recipient, details, next_attempt_at, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?5)";

/// Queues message `message_id` for `target`; call in the transaction that inserted the
/// message. An email reply answers the customer's latest email (subject, `In-Reply-To`,
/// `References`).
pub fn enqueue(
    db: &dyn Database,
    conversation_id: i64,
    message_id: i64,
    target: &Target,
    now: i64,
) -> Result<(), DbError> {
    enqueue_with(db, conversation_id, message_id, target, None, now)
}

/// [`enqueue`] with the outbox row's details given rather than derived: an email's `subject`,
/// and `text`, which is sent instead of the message's body (a transcript, whose conversation
/// keeps only a short notice of it).
pub fn enqueue_with(
    db: &dyn Database,
    conversation_id: i64,
    message_id: i64,
    target: &Target,
    details: Option<Value>,
    now: i64,
) -> Result<(), DbError> {
    let Some(recipient) = &target.recipient else {
        return Ok(());
    };
    let details = if let Some(details) = details {
        details
    } else if target.channel == Channel::Email {
        match db.execute(LATEST_EMAIL, &[conversation_id.into()])?.first() {
            Some(row) => {
                let parent = row.opt_str("external_id")?.unwrap_or_default();
                json!({
                    "subject": email::reply_subject(row.str("subject")?),
                    "in_reply_to": (!parent.is_empty()).then_some(parent),
                    "references": if parent.is_empty() { String::new() } else { email::references(row.str("refs")?, parent) },
                })
            }
            None => json!({}),
        }
    } else {
        json!({})
    };
    db.execute(
        INSERT,
        &[
            message_id.into(),
            target.channel.as_str().into(),
            recipient.as_str().into(),
            details.to_string().into(),
            now.into(),
        ],
    )?;
    Ok(())
}

/// An outbox row claimed for sending.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub message_id: i64,
    pub conversation_id: i64,
    pub channel: Channel,
    pub recipient: String,
    pub body: String,
    pub details: Value,
    /// Including this one.
    pub attempts: i64,
}

const DUE: &str = "SELECT 1 AS due FROM outbox
     WHERE done_at IS NULL AND next_attempt_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)
     LIMIT 1";
const CLAIM: &str = "UPDATE outbox SET lease_until = ?1 + ?2, attempts = attempts + 1
     WHERE id IN (SELECT id FROM outbox
                   WHERE done_at IS NULL AND next_attempt_at <= ?1
                     AND (lease_until IS NULL OR lease_until <= ?1)
                   ORDER BY next_attempt_at, id LIMIT ?3)
     RETURNING id, message_id, channel, recipient, details, attempts";
const MESSAGE: &str = "SELECT conversation_id, body FROM messages WHERE id = ?1";

/// Whether anything waits to be sent now (one indexed read; callers skip the hop when not).
pub fn is_due(db: &dyn Database, now: i64) -> Result<bool, DbError> {
    Ok(!db.execute(DUE, &[now.into()])?.is_empty())
}

fn job(db: &dyn Database, row: &Row<'_>) -> Result<Job, DbError> {
    let message_id = row.i64("message_id")?;
    let channel = row.str("channel")?;
    let message = db.execute(MESSAGE, &[message_id.into()])?;
    let message = message
        .first()
        .ok_or_else(|| DbError::Decode(format!("outbox row for missing message {message_id}")))?;
    let details: Value = serde_json::from_str(row.str("details")?)
        .map_err(|e| DbError::Decode(format!("outbox details: {e}")))?;
    let body = match details.get("text").and_then(Value::as_str) {
        Some(text) => text.to_owned(),
        None => message.str("body")?.to_owned(),
    };
    Ok(Job {
        id: row.i64("id")?,
        message_id,
        conversation_id: message.i64("conversation_id")?,
        channel: Channel::parse(channel)
            .ok_or_else(|| DbError::Decode(format!("unknown channel {channel}")))?,
        recipient: row.str("recipient")?.to_owned(),
        body,
        details,
        attempts: row.i64("attempts")?,
    })
}

/// Claims up to [`BATCH`] due rows for [`LEASE_MS`]; call inside a write transaction.
pub fn claim(db: &dyn Database, now: i64) -> Result<Vec<Job>, DbError> {
    let rows = db.execute(CLAIM, &[now.into(), LEASE_MS.into(), BATCH.into()])?;
    rows.iter().map(|row| job(db, &row)).collect()
}

const TOKEN_FOR: &str = "SELECT token FROM email_threads WHERE conversation_id = ?1";
const INSERT_TOKEN: &str = "INSERT INTO email_threads (token, conversation_id) VALUES (?1, ?2)
     ON CONFLICT (conversation_id) DO NOTHING";
const SET_MESSAGE_ID: &str = "UPDATE messages SET external_id = COALESCE(external_id, ?2)
     WHERE id = ?1 RETURNING external_id";

/// The reply-address token of a conversation, created on first use: 16 random bytes in
/// lower-case hex (safe in an address's local part, unguessable, never a sequential id).
fn thread_token(
    db: &dyn Database,
    entropy: &dyn Entropy,
    conversation_id: i64,
) -> Result<String, DbError> {
    let mut bytes = [0u8; 16];
    entropy.fill(&mut bytes);
    let fresh = crate::channel::signature::hex(&bytes);
    db.execute(INSERT_TOKEN, &[fresh.into(), conversation_id.into()])?;
    db.execute(TOKEN_FOR, &[conversation_id.into()])?
        .first()
        .ok_or_else(|| DbError::Decode("email thread token vanished".into()))?
        .str("token")
        .map(str::to_owned)
}

/// The headers of an email reply: subject and threading fixed at [`enqueue`], plus the
/// conversation's reply token in `Reply-To` and our own Message-ID, which is stored as the
/// message's provider id on the first attempt so the customer's answer (`In-Reply-To`) threads
/// back, and kept across retries. `from` is the support address (`Support <s@example.com>`);
/// `fallback_subject` is used when the customer never wrote by email.
pub fn email_headers(
    db: &dyn Database,
    entropy: &dyn Entropy,
    job: &Job,
    from: &str,
    fallback_subject: &str,
) -> Result<EmailHeaders, DbError> {
    let address = match (from.rfind('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => &from[open + 1..close],
        _ => from,
    }
    .trim();
    let (local, domain) = address.rsplit_once('@').unwrap_or((address, "localhost"));
    let token = thread_token(db, entropy, job.conversation_id)?;
    let mut random = [0u8; 8];
    entropy.fill(&mut random);
    let candidate = format!(
        "m{}.{}@{domain}",
        job.message_id,
        crate::channel::signature::hex(&random)
    );
    let message_id = db
        .execute(SET_MESSAGE_ID, &[job.message_id.into(), candidate.into()])?
        .first()
        .ok_or_else(|| DbError::Decode("reply message vanished".into()))?
        .str("external_id")?
        .to_owned();
    let text = |key: &str| {
        job.details
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Ok(EmailHeaders {
        subject: text("subject").unwrap_or_else(|| fallback_subject.to_owned()),
        in_reply_to: text("in_reply_to"),
        references: text("references").unwrap_or_default(),
        message_id,
        reply_to: format!("{local}+{token}@{domain}"),
    })
}

/// `RETURNING id`: no row back means the job is gone (a customer erasure deleted it while the
/// attempt was in flight), and then nothing about the attempt may be written.
const DONE: &str = "UPDATE outbox SET done_at = ?2, lease_until = NULL, last_error = ?3
     WHERE id = ?1 RETURNING id";
const AGAIN: &str = "UPDATE outbox SET next_attempt_at = ?2, lease_until = NULL, last_error = ?3
     WHERE id = ?1 RETURNING id";
/// `OR IGNORE`: a provider id that is already taken (only a misbehaving provider would send
/// one) must not undo recording that the message was sent.
const PROVIDER_ID: &str =
    "UPDATE OR IGNORE messages SET external_id = ?2 WHERE id = ?1 AND external_id IS NULL";

/// Records the provider's answer to one attempt; call inside a write transaction. Returns the
/// events written, for [`crate::event::announce_each`] after the commit. When the outbox row
/// no longer exists (the customer was erased mid-send) it writes nothing and returns no events:
/// the provider's answer may quote their address.
pub fn record(
    db: &dyn Database,
    job: &Job,
    answer: &Answer,
    schedule: &RetrySchedule,
    now: i64,
) -> Result<Vec<(i64, i64)>, DbError> {
    match answer {
        Answer::Accepted { provider_id } => {
            if db
                .execute(DONE, &[job.id.into(), now.into(), None::<&str>.into()])?
                .is_empty()
            {
                return Ok(Vec::new());
            }
            // Email keeps our own Message-ID (set before sending); others take the provider's.
            if let Some(id) = provider_id
                && job.channel != Channel::Email
            {
                db.execute(PROVIDER_ID, &[job.message_id.into(), id.as_str().into()])?;
            }
            delivery::advance(db, job.message_id, DeliveryStatus::Sent, None, now)
        }
        Answer::Retry(error) if job.attempts < schedule.attempts() => {
            let wait = schedule.0[(job.attempts - 1) as usize];
            if db
                .execute(
                    AGAIN,
                    &[job.id.into(), (now + wait).into(), error.as_str().into()],
                )?
                .is_empty()
            {
                return Ok(Vec::new());
            }
            let note = format!(
                "attempt {} of {} failed ({error}); retrying in {} s",
                job.attempts,
                schedule.attempts(),
                (wait + 999) / 1000
            );
            delivery::note_retry(db, job.message_id, job.conversation_id, &note, now)
        }
        Answer::Retry(error) | Answer::Refused(error) => {
            if db
                .execute(DONE, &[job.id.into(), now.into(), error.as_str().into()])?
                .is_empty()
            {
                return Ok(Vec::new());
            }
            let error = if matches!(answer, Answer::Retry(_)) {
                format!("gave up after {} attempts: {error}", job.attempts)
            } else {
                error.clone()
            };
            delivery::advance(
                db,
                job.message_id,
                DeliveryStatus::Failed,
                Some(&error),
                now,
            )
        }
    }
}

#[cfg(test)]
mod tests;
