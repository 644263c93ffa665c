//! The visitor's side: what the website widget can do, each use case authorizing by the
//! visitor's bearer token before anything else.

use serde::{Deserialize, Serialize};

use crate::attachment::{self, NewAttachment, StoredFile};
use crate::channel::Channel;
use crate::chat::{
    self, ChatError, EventsPage, EventsQuery, PostMessageRequest, ReadRequest, Speaker,
};
use crate::contact::{self, EmailAddress, PersonName};
use crate::conversation::{self, Conversation};
use crate::event::{self, Audience, EventKind, Visibility};
use crate::host::Ctx;
use crate::input::bounded_text;
use crate::message::{self, Author, ClientId, Inserted, Message, MessageBody, NewMessage};
use crate::secret::Token;
use crate::store::{read_transaction, transaction};

/// How much history a widget loads at once.
pub const HISTORY_LIMIT: i64 = 200;

/// `POST /api/widget/conversations` body. Every field is optional: a visitor may just start typing.
#[derive(Debug, Default, Deserialize)]
pub struct StartRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// A phone number to answer by SMS later (the widget's offline form), E.164 like
    /// `+14155550100`.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub page_url: Option<String>,
    /// A topic from the widget's picker (`GET /api/widget/topics`), for routing.
    #[serde(default)]
    pub topic: Option<String>,
    /// The visitor's language (`en`, `pt-BR`), for routing to someone who speaks it.
    #[serde(default)]
    pub language: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Started {
    /// Present only when this request created the visitor; the only time the token is sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visitor_token: Option<String>,
    pub conversation: Conversation,
}

/// A conversation as the widget loads it after a reload: the recent history and the cursor to
/// follow events from.
#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub conversation: Conversation,
    pub messages: Vec<Message>,
    pub cursor: i64,
    /// The satisfaction survey, when one was asked in the chat or answered: the prompt (or the
    /// thanks) survives reloads.
    pub csat: Option<crate::csat::WidgetSurvey>,
}

#[derive(Serialize)]
struct Created<'a> {
    conversation: &'a conversation::ConversationSummary,
}

/// Starts a conversation. Without a token a new visitor (contact) is created and its token
/// returned; with one, the conversation belongs to that visitor.
pub fn start(
    ctx: &Ctx<'_>,
    token: Option<&Token>,
    request: &StartRequest,
) -> Result<Started, ChatError> {
    let name = request
        .name
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| PersonName::parse("name", s))
        .transpose()?;
    let email = request
        .email
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| EmailAddress::parse("email", s))
        .transpose()?;
    let phone = request
        .phone
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| contact::PhoneNumber::parse("phone", s))
        .transpose()?;
    let page_url = request
        .page_url
        .as_deref()
        .map(|s| bounded_text("page_url", s, 0, 2048))
        .transpose()?;
    let language = request
        .language
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| crate::input::language_tag("language", s))
        .transpose()?;
    let picked = request
        .topic
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(crate::topic::parse_name)
        .transpose()?;
    let now = ctx.clock.now_ms();
    let new_token = token.is_none().then(|| Token::generate(ctx.entropy));
    // Reads that do not depend on the new rows come before the write transaction, which then
    // holds SQLite's one write lock for as few statements as possible (visitors arrive in
    // bursts, and every statement in a transaction is a round trip to the host).
    if let Some(name) = &picked
        && !crate::topic::picker(ctx.db)?
            .iter()
            .any(|t| &t.name == name)
    {
        return Err(ChatError::Invalid(crate::input::InvalidInput::new(
            "topic",
            "is not one of the topics the widget offers",
        )));
    }
    let assistant_takes = crate::assistant::takes_new(ctx.db, now)?;

    let (conversation, event_id) = transaction(ctx.db, || -> Result<_, ChatError> {
        // The token's own contact owns the conversation on the widget side; operators file it
        // under the contact it was merged into, if any. What a visitor says about themselves
        // updates only their own record, never a merged-into one they cannot vouch for.
        let visitor_contact_id = match (token, &new_token) {
            (Some(token), _) => {
                let id = contact::by_visitor_token(ctx.db, &token.hash())?
                    .ok_or(ChatError::Unauthenticated)?;
                contact::update_details(ctx.db, id, name.as_ref(), email.as_ref())?;
                id
            }
            (None, Some(new_token)) => {
                let id = contact::insert(ctx.db, name.as_ref(), email.as_ref(), now)?;
                contact::insert_visitor_token(ctx.db, &new_token.hash(), id, now)?;
                id
            }
            (None, None) => return Err(ChatError::Unauthenticated),
        };
        if let Some(phone) = &phone {
            contact::set_phone_if_unset(ctx.db, visitor_contact_id, phone)?;
        }
        // A contact made just now cannot have been merged into another.
        let contact_id = if new_token.is_some() {
            visitor_contact_id
        } else {
            contact::survivor(ctx.db, visitor_contact_id)?
        };
        let id = conversation::insert(
            ctx.db,
            contact_id,
            visitor_contact_id,
            Channel::Web,
            page_url.as_deref(),
            now,
        )?;
        if picked.is_some() || language.is_some() {
            conversation::set_routing_hints(ctx.db, id, picked.as_deref(), language.as_deref())?;
        }
        // The assistant takes it first when the settings say so (always, or while closed).
        if assistant_takes {
            crate::assistant::adopt(ctx.db, id)?;
        }
        let summary =
            conversation::summary(ctx.db, id)?.ok_or(ChatError::NotFound("conversation"))?;
        let event_id = event::append(
            ctx.db,
            id,
            EventKind::ConversationCreated,
            Visibility::Internal,
            &Created {
                conversation: &summary,
            },
            now,
        )?;
        Ok((summary.conversation.for_visitor(), event_id))
    })?;
    event::announce(ctx, conversation.id, &format!("e{event_id}"));
    Ok(Started {
        visitor_token: new_token.map(|t| t.as_str().to_owned()),
        conversation,
    })
}

/// Where the visitor's conversation stands in the queue (position, honest wait estimate).
pub fn queue(
    ctx: &Ctx<'_>,
    token: &Token,
    conversation_id: i64,
) -> Result<crate::router::QueueInfo, ChatError> {
    owned(ctx, token, conversation_id)?;
    Ok(crate::router::queue_info(
        ctx.db,
        conversation_id,
        ctx.clock.now_ms(),
    )?)
}

/// The conversation if `token` owns it. Another visitor's conversation and a conversation that
/// does not exist look the same: not found.
fn owned(ctx: &Ctx<'_>, token: &Token, conversation_id: i64) -> Result<Conversation, ChatError> {
    conversation::owned_by_visitor(ctx.db, conversation_id, &token.hash())?
        .ok_or(ChatError::NotFound("conversation"))
}

pub fn load(ctx: &Ctx<'_>, token: &Token, conversation_id: i64) -> Result<Snapshot, ChatError> {
    // One snapshot: the history and the cursor agree, so the events that follow neither repeat
    // nor skip a message.
    read_transaction(ctx.db, || {
        let conversation = owned(ctx, token, conversation_id)?.for_visitor();
        let cursor = event::latest_cursor(ctx.db, Audience::Visitor { conversation_id })?;
        let messages = message::latest(ctx.db, conversation_id, HISTORY_LIMIT)?;
        let csat = crate::csat::for_widget(ctx.db, conversation_id)?;
        Ok(Snapshot {
            conversation,
            messages,
            cursor,
            csat,
        })
    })
}

pub fn post(
    ctx: &Ctx<'_>,
    token: &Token,
    conversation_id: i64,
    request: &PostMessageRequest,
) -> Result<(Message, bool), ChatError> {
    // Ownership is checked inside the insert itself: one statement, no separate lookup.
    chat::post_message(
        ctx,
        conversation_id,
        Speaker::Visitor,
        Some(&token.hash()),
        request,
    )
}

/// Why an upload stored nothing: the staged file is rolled back with the transaction.
enum UploadAborted {
    Chat(ChatError),
    Duplicate(Message),
}

impl From<crate::store::DbError> for UploadAborted {
    fn from(e: crate::store::DbError) -> Self {
        UploadAborted::Chat(e.into())
    }
}

/// A visitor's file, posted as a message whose text is the file's name. Limits are
/// [`crate::attachment`]'s; `client_id` makes a retried upload store one message.
pub fn upload(
    ctx: &Ctx<'_>,
    token: &Token,
    conversation_id: i64,
    file: &NewAttachment,
    client_id: Option<&str>,
) -> Result<(Message, bool), ChatError> {
    let body = MessageBody::parse(file.name())?;
    let client_id = client_id.map(ClientId::parse).transpose()?;
    let now = ctx.clock.now_ms();
    let new = NewMessage {
        conversation_id,
        author: Author::Visitor,
        operator_id: None,
        operator_name: None,
        channel: Channel::Web,
        body: &body,
        client_id: client_id.as_ref(),
        delivery: None,
        sender: None,
    };
    let db = ctx.db;
    let stored = transaction(db, || {
        attachment::stage(db, conversation_id, std::slice::from_ref(file), now)?;
        match message::insert(db, &new, Some(&token.hash()), None, now)? {
            // Read back: the insert's own answer cannot list the attachment it just claimed.
            Inserted::Created(message) => Ok(message::get(db, message.id)?.unwrap_or(message)),
            Inserted::Duplicate(message) => Err(UploadAborted::Duplicate(
                message::get(db, message.id)?.unwrap_or(message),
            )),
            Inserted::Refused => Err(UploadAborted::Chat(ChatError::NotFound("conversation"))),
        }
    });
    match stored {
        Ok(message) => {
            event::announce(ctx, conversation_id, &format!("m{}", message.id));
            Ok((message, true))
        }
        Err(UploadAborted::Duplicate(message)) => Ok((message, false)),
        Err(UploadAborted::Chat(e)) => Err(e),
    }
}

/// A file of the visitor's own conversation.
pub fn attachment(
    ctx: &Ctx<'_>,
    token: &Token,
    conversation_id: i64,
    attachment_id: i64,
) -> Result<StoredFile, ChatError> {
    attachment::for_visitor(ctx.db, &token.hash(), conversation_id, attachment_id)?
        .ok_or(ChatError::NotFound("attachment"))
}

pub fn typing(ctx: &Ctx<'_>, token: &Token, conversation_id: i64) -> Result<(), ChatError> {
    owned(ctx, token, conversation_id)?;
    chat::typing(ctx, conversation_id, Speaker::Visitor)
}

pub fn read(
    ctx: &Ctx<'_>,
    token: &Token,
    conversation_id: i64,
    request: &ReadRequest,
) -> Result<(), ChatError> {
    owned(ctx, token, conversation_id)?;
    chat::mark_read(ctx, conversation_id, Speaker::Visitor, request)
}

pub fn events(
    ctx: &Ctx<'_>,
    token: &Token,
    conversation_id: i64,
    query: EventsQuery,
) -> Result<EventsPage, ChatError> {
    owned(ctx, token, conversation_id)?;
    chat::events(ctx, Audience::Visitor { conversation_id }, query)
}

/// The visitor (contact id) `token` belongs to, or `None` when it authenticates no one. What the
/// per-visitor rate limit counts: only tokens that exist get a key (see `rate_limit`).
pub fn authenticated(ctx: &Ctx<'_>, token: &Token) -> Result<Option<i64>, ChatError> {
    Ok(contact::by_visitor_token(ctx.db, &token.hash())?)
}

/// Parses the bearer token of a widget request; absent or malformed means unauthenticated.
pub fn bearer_token(authorization: Option<&str>) -> Result<Token, ChatError> {
    authorization
        .and_then(crate::secret::bearer)
        .and_then(Token::parse)
        .ok_or(ChatError::Unauthenticated)
}

/// Parses an optional bearer token: absent is fine, malformed is not.
pub fn optional_bearer_token(authorization: Option<&str>) -> Result<Option<Token>, ChatError> {
    match authorization {
        None => Ok(None),
        Some(_) => bearer_token(authorization).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Clock;
    use crate::testing::TestHost;

    fn say(
        host: &TestHost,
        token: &Token,
        id: i64,
        body: &str,
        client_id: Option<&str>,
    ) -> Result<(Message, bool), ChatError> {
        let request = PostMessageRequest {
            body: body.into(),
            client_id: client_id.map(Into::into),
            channel: None,
        };
        post(&host.ctx(), token, id, &request)
    }

    #[test]
    fn a_new_visitor_gets_a_token_that_owns_only_its_conversations() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let started = start(&ctx, None, &StartRequest::default()).unwrap();
        let token = Token::parse(started.visitor_token.as_deref().unwrap()).unwrap();
        let other = start(&ctx, None, &StartRequest::default()).unwrap();
        let other_token = Token::parse(other.visitor_token.as_deref().unwrap()).unwrap();

        say(&host, &token, started.conversation.id, "hello", None).unwrap();
        assert!(matches!(
            load(&ctx, &other_token, started.conversation.id),
            Err(ChatError::NotFound(_))
        ));
        assert!(matches!(
            say(&host, &other_token, started.conversation.id, "x", None),
            Err(ChatError::NotFound(_))
        ));
        let snapshot = load(&ctx, &token, started.conversation.id).unwrap();
        assert_eq!(snapshot.messages.len(), 1);

        // What is stored is the token's SHA-256, never the token itself.
        let stored = ctx
            .db
            .execute(
                "SELECT token_hash FROM visitor_tokens WHERE contact_id = 1",
                &[],
            )
            .unwrap();
        assert_eq!(
            stored.rows,
            vec![vec![crate::store::SqlValue::Blob(token.hash().0.to_vec())]]
        );
        let anywhere = ctx
            .db
            .execute(
                "SELECT COUNT(*) AS n FROM visitor_tokens WHERE CAST(token_hash AS TEXT) = ?1",
                &[token.as_str().into()],
            )
            .unwrap();
        assert_eq!(anywhere.first().unwrap().i64("n").unwrap(), 0);
    }

    #[test]
    fn retries_with_a_client_id_store_one_message_and_one_event() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let started = start(&ctx, None, &StartRequest::default()).unwrap();
        let token = Token::parse(started.visitor_token.as_deref().unwrap()).unwrap();
        let id = started.conversation.id;
        let (first, created) = say(&host, &token, id, "once", Some("c1")).unwrap();
        let (again, created_again) = say(&host, &token, id, "once", Some("c1")).unwrap();
        assert!(created && !created_again);
        assert_eq!(first.id, again.id);
        let page = events(
            &ctx,
            &token,
            id,
            EventsQuery {
                after: 0,
                wait_ms: 0,
            },
        )
        .unwrap();
        assert_eq!(
            page.events
                .iter()
                .filter(|e| e.kind == "message.created")
                .count(),
            1
        );
    }

    #[test]
    fn events_wait_returns_empty_at_the_deadline_and_never_internal_events() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let started = start(&ctx, None, &StartRequest::default()).unwrap();
        let token = Token::parse(started.visitor_token.as_deref().unwrap()).unwrap();
        let before = host.clock.now_ms();
        let page = events(
            &ctx,
            &token,
            started.conversation.id,
            EventsQuery {
                after: 0,
                wait_ms: 3_000,
            },
        )
        .unwrap();
        // The only event so far is the internal conversation.created, which visitors never see.
        assert!(page.events.is_empty());
        assert!(host.clock.now_ms() - before >= 3_000);
    }

    #[test]
    fn start_rejects_bad_fields_and_unknown_tokens() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let bad = StartRequest {
            email: Some("nope".into()),
            ..Default::default()
        };
        assert!(matches!(
            start(&ctx, None, &bad),
            Err(ChatError::Invalid(_))
        ));
        let stranger = Token::parse(&"a".repeat(43)).unwrap();
        assert!(matches!(
            start(&ctx, Some(&stranger), &StartRequest::default()),
            Err(ChatError::Unauthenticated)
        ));
    }

    #[test]
    fn a_phone_left_in_the_offline_form_goes_onto_the_visitors_contact() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let bad = StartRequest {
            phone: Some("555-1234".into()),
            ..Default::default()
        };
        assert!(matches!(
            start(&ctx, None, &bad),
            Err(ChatError::Invalid(_))
        ));
        let request = StartRequest {
            phone: Some("+47 412 34 567".into()),
            email: Some("ola@example.no".into()),
            ..Default::default()
        };
        let started = start(&ctx, None, &request).unwrap();
        let token = Token::parse(&started.visitor_token.unwrap()).unwrap();
        let contact_id = contact::by_visitor_token(ctx.db, &token.hash())
            .unwrap()
            .unwrap();
        let contact = contact::by_id(ctx.db, contact_id).unwrap().unwrap();
        assert_eq!(contact.phone.as_deref(), Some("+4741234567"));
        assert_eq!(contact.email.as_deref(), Some("ola@example.no"));
    }
}
