//! Use cases both sides of a conversation share: posting a message, typing, read receipts,
//! and reading the event stream. Callers authorize first (see `visitor` and `inbox`).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::api::query_param;
use crate::channel::Channel;
use crate::conversation;
use crate::delivery::DeliveryStatus;
use crate::event::{self, Audience, Event, EventKind, Visibility};
use crate::host::Ctx;
use crate::input::InvalidInput;
use crate::message::{self, Author, ClientId, Inserted, Message, MessageBody, NewMessage};
use crate::operator::Operator;
use crate::outbox::{self, Target};
use crate::secret::TokenHash;
use crate::store::{DbError, transaction};

/// What can go wrong in a use case, in the caller's terms.
#[derive(Debug, Error)]
pub enum ChatError {
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// No credentials, or credentials that do not identify anyone.
    #[error("authentication required")]
    Unauthenticated,
    /// Wrong email or password.
    #[error("email or password is incorrect")]
    BadCredentials,
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The thing does not exist, or the caller may not know that it does.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request contradicts the current state; the code says how (`email_taken`...).
    #[error("{1}")]
    Conflict(&'static str, String),
    /// The conversation changed since the caller loaded it (another operator acted first).
    /// Carries the current state so the caller can show it.
    #[error("this conversation changed since you loaded it; here is its current state")]
    Stale(Box<crate::conversation::ConversationSummary>),
    /// Too many failed attempts; try again after this many seconds.
    #[error("too many failed attempts; try again in {0} s")]
    RateLimited(i64),
    /// A setting (Spin variable) is wrong: the server's fault, reported as a 500 and logged.
    #[error("misconfigured: {0}")]
    Misconfigured(&'static str),
    #[error(transparent)]
    Store(#[from] DbError),
}

/// `POST .../messages` body.
#[derive(Debug, Deserialize)]
pub struct PostMessageRequest {
    pub body: String,
    #[serde(default)]
    pub client_id: Option<String>,
    /// Operators only: the channel to reply through (`web`, `sms`, `whatsapp`, `email`,
    /// `messenger`, `instagram`); by default the channel of the customer's latest message.
    #[serde(default)]
    pub channel: Option<String>,
}

/// `POST .../read` body.
#[derive(Debug, Deserialize)]
pub struct ReadRequest {
    pub message_id: i64,
}

/// The answer to an events read: the events and the cursor to send next time.
#[derive(Debug, Serialize)]
pub struct EventsPage {
    pub events: Vec<Event>,
    pub cursor: i64,
}

#[derive(Serialize)]
struct Typing<'a> {
    by: Author,
    name: Option<&'a str>,
}

/// Who is acting in a conversation.
#[derive(Debug, Clone, Copy)]
pub enum Speaker<'a> {
    Visitor,
    Operator(&'a Operator),
}

impl Speaker<'_> {
    fn author(self) -> Author {
        match self {
            Speaker::Visitor => Author::Visitor,
            Speaker::Operator(_) => Author::Operator,
        }
    }
    fn operator_id(self) -> Option<i64> {
        match self {
            Speaker::Visitor => None,
            Speaker::Operator(operator) => Some(operator.id),
        }
    }
}

/// Stores a message once and publishes it, in one statement (see `message::insert`). A retry
/// with the same `client_id` returns the first copy and publishes nothing. `owner` is the
/// visitor's token hash when a visitor speaks: the conversation must be theirs.
pub fn post_message(
    ctx: &Ctx<'_>,
    conversation_id: i64,
    speaker: Speaker<'_>,
    owner: Option<&TokenHash>,
    request: &PostMessageRequest,
) -> Result<(Message, bool), ChatError> {
    let body = MessageBody::parse(&request.body)?;
    let client_id = request
        .client_id
        .as_deref()
        .map(ClientId::parse)
        .transpose()?;
    let now = ctx.clock.now_ms();
    let target = match speaker {
        Speaker::Visitor => Target {
            channel: Channel::Web,
            recipient: None,
        },
        Speaker::Operator(_) => outbox::choose(
            ctx.db,
            conversation_id,
            request.channel.as_deref(),
            body.as_str().chars().count(),
            now,
        )?,
    };
    let new = NewMessage {
        conversation_id,
        author: speaker.author(),
        operator_id: speaker.operator_id(),
        operator_name: match speaker {
            Speaker::Visitor => None,
            Speaker::Operator(operator) => Some(operator.name.as_str()),
        },
        channel: target.channel,
        body: &body,
        client_id: client_id.as_ref(),
        delivery: target.recipient.is_some().then_some(DeliveryStatus::Queued),
        sender: None,
    };
    let restricted_to = match speaker {
        Speaker::Operator(operator) if !operator.acts_on_any_conversation() => Some(operator.id),
        _ => None,
    };
    // A reply through a provider and its outbox row commit together, or neither does.
    let inserted = if target.recipient.is_some() {
        transaction(ctx.db, || -> Result<Inserted, DbError> {
            let inserted = message::insert(ctx.db, &new, owner, restricted_to, now)?;
            if let Inserted::Created(stored) = &inserted {
                outbox::enqueue(ctx.db, conversation_id, stored.id, &target, now)?;
            }
            Ok(inserted)
        })?
    } else {
        message::insert(ctx.db, &new, owner, restricted_to, now)?
    };
    match inserted {
        Inserted::Created(stored) => {
            event::announce(ctx, conversation_id, &format!("m{}", stored.id));
            Ok((stored, true))
        }
        Inserted::Duplicate(stored) => Ok((stored, false)),
        Inserted::Refused => match speaker {
            Speaker::Operator(operator) => Err(why_refused(ctx, operator, conversation_id)?),
            Speaker::Visitor => Err(ChatError::NotFound("conversation")),
        },
    }
}

/// Why an operator's message was refused, read after the fact (the INSERT decided atomically;
/// this only explains): the conversation is gone, someone else has it (perhaps they claimed it a
/// moment ago by replying first), the operator is at capacity and cannot claim it, or the
/// `client_id` belongs to another operator's message.
fn why_refused(
    ctx: &Ctx<'_>,
    operator: &Operator,
    conversation_id: i64,
) -> Result<ChatError, ChatError> {
    let current = conversation::summary(ctx.db, conversation_id)?
        .ok_or(ChatError::NotFound("conversation"))?;
    crate::workflow::may_act(operator, &current)?;
    let profile = crate::operator::profile(ctx.db, operator.id, ctx.clock.now_ms())?;
    let Some(profile) = profile.filter(|p| p.active) else {
        return Ok(ChatError::Unauthenticated);
    };
    if current.assignee.is_none() && profile.load >= profile.capacity {
        return Ok(ChatError::Conflict(
            "at_capacity",
            format!(
                "you are at capacity ({} of {}): resolve or snooze one first, or ask a supervisor",
                profile.load, profile.capacity
            ),
        ));
    }
    Ok(ChatError::Conflict(
        "client_id_taken",
        "another message in this conversation already uses that client_id".into(),
    ))
}

/// Typing notifications are throttled to one per side per conversation per this many ms;
/// clients show "typing…" for a few seconds after each.
pub const TYPING_THROTTLE_MS: i64 = 2_000;

/// Publishes that `speaker` is typing, at most once per [`TYPING_THROTTLE_MS`].
///
/// The throttle lives in the key-value store and is read-then-written: two racing requests may
/// both publish, which costs one extra event and breaks nothing.
pub fn typing(ctx: &Ctx<'_>, conversation_id: i64, speaker: Speaker<'_>) -> Result<(), ChatError> {
    let now = ctx.clock.now_ms();
    let key = format!("typing:{conversation_id}:{}", speaker.author().as_str());
    let last = ctx
        .kv
        .get(&key)
        .ok()
        .flatten()
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.parse::<i64>().ok());
    if last.is_some_and(|last| now - last < TYPING_THROTTLE_MS) {
        return Ok(());
    }
    let _ = ctx.kv.set(&key, now.to_string().as_bytes());
    let name = match speaker {
        Speaker::Visitor => None,
        Speaker::Operator(operator) => Some(operator.name.as_str()),
    };
    let event_id = event::append(
        ctx.db,
        conversation_id,
        EventKind::Typing,
        Visibility::Public,
        &Typing {
            by: speaker.author(),
            name,
        },
        now,
    )?;
    event::announce(ctx, conversation_id, &format!("e{event_id}"));
    Ok(())
}

/// Moves `speaker`'s read marker forward to `request.message_id` and publishes the receipt if
/// it moved. Unknown, future or older ids change nothing.
pub fn mark_read(
    ctx: &Ctx<'_>,
    conversation_id: i64,
    speaker: Speaker<'_>,
    request: &ReadRequest,
) -> Result<(), ChatError> {
    if request.message_id < 1 {
        return Err(InvalidInput::new("message_id", "must be a positive message id").into());
    }
    let reader = speaker.author();
    if conversation::advance_read(
        ctx.db,
        conversation_id,
        reader,
        request.message_id,
        ctx.clock.now_ms(),
    )? {
        // Markers only grow, so conversation, side and position name this change uniquely.
        event::announce(
            ctx,
            conversation_id,
            &format!("r{}{}", reader.as_str(), request.message_id),
        );
    }
    Ok(())
}

/// Query of an events request: `after=<cursor>&wait=<seconds>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventsQuery {
    pub after: i64,
    pub wait_ms: i64,
}

impl EventsQuery {
    /// Without `wait`, a request waits the longest allowed time.
    pub fn parse(query: &str) -> Result<EventsQuery, InvalidInput> {
        let after = match query_param(query, "after") {
            None => 0,
            Some(value) => value
                .parse()
                .ok()
                .filter(|v: &i64| *v >= 0)
                .ok_or_else(|| {
                    InvalidInput::new("after", "must be a non-negative integer cursor")
                })?,
        };
        let wait_ms = match query_param(query, "wait") {
            None => event::MAX_WAIT_MS,
            Some(value) => {
                value
                    .parse::<i64>()
                    .ok()
                    .filter(|v| (0..=event::MAX_WAIT_MS / 1000).contains(v))
                    .ok_or_else(|| InvalidInput::new("wait", "must be 0 to 25 seconds"))?
                    * 1000
            }
        };
        Ok(EventsQuery { after, wait_ms })
    }
}

/// Events after the cursor for `audience`, waiting up to the query's `wait`.
pub fn events(
    ctx: &Ctx<'_>,
    audience: Audience,
    query: EventsQuery,
) -> Result<EventsPage, ChatError> {
    let events = event::wait_for(ctx, audience, query.after, query.wait_ms)?;
    let cursor = events.last().map_or(query.after, |e| e.id);
    Ok(EventsPage { events, cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_query_defaults_and_bounds() {
        assert_eq!(
            EventsQuery::parse("").unwrap(),
            EventsQuery {
                after: 0,
                wait_ms: 25_000
            }
        );
        assert_eq!(
            EventsQuery::parse("after=7&wait=0").unwrap(),
            EventsQuery {
                after: 7,
                wait_ms: 0
            }
        );
        assert!(EventsQuery::parse("after=-1").is_err());
        assert!(EventsQuery::parse("after=x").is_err());
        assert!(EventsQuery::parse("wait=26").is_err());
        assert_eq!(EventsQuery::parse("foo=bar&after=3").unwrap().after, 3);
    }
}
