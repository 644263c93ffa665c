//! The operator's side: signing in (and accepting an invitation), the inbox list with its
//! filters and search, a thread with its timeline, replying, typing, receipts, the inbox-wide
//! event stream, contacts (history, edits, merging), canned responses, mentions and presence.
//! Every use case but sign-in takes an authenticated [`Operator`]; conversation actions
//! (status, assignment, transfer, tags, notes) are in [`crate::workflow`].

use serde::{Deserialize, Serialize};

use crate::api::{query_param, query_text};
use crate::audit::{self, Action, Entry};
use crate::canned::{self, Canned, CannedFields, CannedRequest, Placeholders};
use crate::chat::{
    self, ChatError, EventsPage, EventsQuery, PostMessageRequest, ReadRequest, Speaker,
};
use crate::contact::{self, Contact, ContactChanges, ContactPatch, EmailAddress, PersonName};
use crate::conversation::{
    self, AssigneeFilter, ConversationSummary, ListFilter, SearchTerms, StatusFilter, TagRef,
};
use crate::event::{self, Audience, Event, EventKind, Visibility};
use crate::host::Ctx;
use crate::input::InvalidInput;
use crate::message::{self, Message};
use crate::note::{self, Mention, Note};
use crate::operator::{self, NewOperator, Operator, OperatorProfile, Password, Presence, Role};
use crate::secret::{Token, secrets_match};
use crate::store::{read_transaction, transaction};
use crate::team::{self, Team};
use crate::{tag, throttle};

/// Conversations one inbox page returns by default, and at most (`limit`).
pub const LIST_PAGE: i64 = 50;
pub const LIST_LIMIT: i64 = 200;
/// How much of a thread an operator loads at once.
pub const HISTORY_LIMIT: i64 = 500;

/// The name of the session cookie the console uses.
pub const SESSION_COOKIE: &str = "lc_session";

/// Settings from Spin variables that decide how the first admin comes to be.
#[derive(Debug, Clone, Default)]
pub struct FirstAdmin {
    /// `admin_email` / `admin_password`: created on the first login attempt if no operator exists.
    pub email: String,
    pub password: String,
    /// `setup_token`: allows one `POST /api/inbox/setup` while no operator exists.
    pub setup_token: String,
}

#[derive(Debug, Deserialize)]
pub struct SetupRequest {
    pub setup_token: String,
    pub email: String,
    pub name: String,
    pub password: String,
}

#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize)]
pub struct SignedIn {
    pub operator: Operator,
    pub token: String,
    pub expires_at: i64,
}

#[derive(Debug, Serialize)]
pub struct Listing {
    pub conversations: Vec<ConversationSummary>,
    pub cursor: i64,
    /// When the page is full: the `before` value that fetches the next (older) page.
    pub next_before: Option<String>,
}

/// An inbox listing request: what to show and how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub filter: ListFilter,
    pub limit: i64,
}

#[derive(Debug, Serialize)]
pub struct Thread {
    pub conversation: ConversationSummary,
    pub messages: Vec<Message>,
    /// Notes, status changes, assignments, transfers and tags, oldest first.
    pub timeline: Vec<Event>,
    pub cursor: i64,
    /// The channels a reply can go through, which one it uses by default, and which are closed.
    pub reply: crate::outbox::ReplyOptions,
}

/// `POST /invites/accept` body.
#[derive(Debug, Deserialize)]
pub struct AcceptInviteRequest {
    pub token: String,
    pub password: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /presence` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresenceRequest {
    pub presence: Presence,
}

/// `POST /contacts/:id/merge` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    pub from_contact_id: i64,
}

/// `POST /mentions/read` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MentionsReadRequest {
    pub note_id: i64,
}

/// A contact with everything the team knows: every conversation, on every channel, and the
/// latest notes.
#[derive(Debug, Serialize)]
pub struct ContactView {
    pub contact: Contact,
    pub conversations: Vec<ConversationSummary>,
    pub notes: Vec<Note>,
}

#[derive(Debug, Serialize)]
pub struct Mentions {
    pub mentions: Vec<Mention>,
    pub unread_count: i64,
}

/// Most conversations a contact view lists, and notes it shows.
pub const CONTACT_HISTORY_LIMIT: i64 = 100;
pub const CONTACT_NOTES_LIMIT: i64 = 20;
/// Most results a contact search returns.
pub const CONTACT_SEARCH_LIMIT: i64 = 20;
/// Most mentions one read returns.
pub const MENTIONS_LIMIT: i64 = 50;
/// How long an invitation link lives.
pub const INVITE_TTL_MS: i64 = 7 * 24 * 3_600_000;

fn client_key(client: &str) -> String {
    format!("throttle:signin:client:{client}")
}

fn account_key(email: &str) -> String {
    format!("throttle:signin:account:{}", email.trim().to_lowercase())
}

/// Creates the first admin with the one-time setup token. Works only while no operator exists;
/// the database enforces that (conditional insert), however many requests race. Wrong tokens
/// count against `client` (the caller's address), like failed sign-ins.
pub fn setup(
    ctx: &Ctx<'_>,
    config: &FirstAdmin,
    request: &SetupRequest,
    client: &str,
) -> Result<Operator, ChatError> {
    if let Some(seconds) = throttle::blocked_for(ctx, &client_key(client), throttle::PER_CLIENT) {
        return Err(ChatError::RateLimited(seconds));
    }
    if !secrets_match(&config.setup_token, &request.setup_token) {
        throttle::record_failure(ctx, &client_key(client), throttle::PER_CLIENT);
        return Err(ChatError::Forbidden("setup token is missing or wrong"));
    }
    let new = NewOperator {
        email: EmailAddress::parse("email", &request.email)?,
        name: PersonName::parse("name", &request.name)?,
        role: Role::Admin,
        password: Password::parse(&request.password)?,
    };
    let hash = new.password.hash(ctx.entropy)?;
    let admin = operator::insert_first(ctx.db, &new, &hash, ctx.clock.now_ms())?.ok_or(
        ChatError::Conflict(
            "already_set_up",
            "an operator already exists; sign in instead".into(),
        ),
    )?;
    audit::record_or_log(ctx, &Entry::new(Some(&admin), Action::Setup).from(client));
    Ok(admin)
}

/// Signs an operator in and opens a session lasting `session_ttl_ms`.
///
/// Failures are throttled per account and per `client` address before any password is hashed,
/// so guessing is slow and a flood of attempts cannot make us spend 19 MiB and tens of
/// milliseconds of CPU each.
pub fn login(
    ctx: &Ctx<'_>,
    config: &FirstAdmin,
    request: &LoginRequest,
    session_ttl_ms: i64,
    client: &str,
) -> Result<SignedIn, ChatError> {
    let address = client;
    let (account, client) = (account_key(&request.email), client_key(client));
    let blocked = throttle::blocked_for(ctx, &account, throttle::PER_ACCOUNT)
        .max(throttle::blocked_for(ctx, &client, throttle::PER_CLIENT));
    if let Some(seconds) = blocked {
        return Err(ChatError::RateLimited(seconds));
    }
    bootstrap_admin(ctx, config)?;
    let found = operator::credentials(ctx.db, request.email.trim())?;
    let password_ok = match &found {
        Some((_, hash)) if !hash.is_empty() => operator::verify_password(&request.password, hash),
        // Unknown, or invited and no password chosen yet.
        _ => {
            // Same cost as a wrong password, so response time does not reveal which emails exist.
            operator::verify_password(&request.password, operator::DECOY_HASH);
            false
        }
    };
    let Some((operator, _)) = found.filter(|_| password_ok) else {
        throttle::record_failure(ctx, &account, throttle::PER_ACCOUNT);
        throttle::record_failure(ctx, &client, throttle::PER_CLIENT);
        // The email tried, never the password.
        audit::record_or_log(
            ctx,
            &Entry::new(None, Action::LoginFailed)
                .detail(audit::tried_email(&request.email))
                .from(address),
        );
        return Err(ChatError::BadCredentials);
    };
    throttle::reset(ctx, &account);
    let token = Token::generate(ctx.entropy);
    let now = ctx.clock.now_ms();
    let expires_at = now + session_ttl_ms;
    operator::insert_session(ctx.db, &token.hash(), operator.id, now, expires_at)?;
    audit::record_or_log(
        ctx,
        &Entry::new(Some(&operator), Action::Login).from(address),
    );
    Ok(SignedIn {
        operator,
        token: token.as_str().to_owned(),
        expires_at,
    })
}

/// Creates the admin named by the `admin_email`/`admin_password` variables if there is no
/// operator yet. Hashing is slow, so the common case (operators exist) is checked first.
fn bootstrap_admin(ctx: &Ctx<'_>, config: &FirstAdmin) -> Result<(), ChatError> {
    if config.email.is_empty() || config.password.is_empty() || operator::any_exist(ctx.db)? {
        return Ok(());
    }
    // A bad variable is the operator's misconfiguration, not the caller's mistake: a 500 with
    // the reason in the log, never a 4xx telling strangers how the server is set up.
    let misconfigured = |what: &'static str| ChatError::Misconfigured(what);
    let new = NewOperator {
        email: EmailAddress::parse("admin_email", &config.email)
            .map_err(|_| misconfigured("admin_email is not an email address"))?,
        name: PersonName::parse("name", "Admin")?,
        role: Role::Admin,
        password: Password::parse(&config.password)
            .map_err(|_| misconfigured("admin_password must be 10 to 256 characters"))?,
    };
    let hash = new.password.hash(ctx.entropy)?;
    operator::insert_first(ctx.db, &new, &hash, ctx.clock.now_ms())?;
    Ok(())
}

/// The operator a session token belongs to, if the session is live.
pub fn authenticate(ctx: &Ctx<'_>, token: Option<&str>) -> Result<Operator, ChatError> {
    let token = token
        .and_then(Token::parse)
        .ok_or(ChatError::Unauthenticated)?;
    operator::by_session(ctx.db, &token.hash(), ctx.clock.now_ms())?
        .ok_or(ChatError::Unauthenticated)
}

/// Ends the session `token` (if any); a live one leaves an audit line from `client`.
pub fn logout(ctx: &Ctx<'_>, token: Option<&str>, client: &str) -> Result<(), ChatError> {
    if let Some(token) = token.and_then(Token::parse) {
        let who = operator::by_session(ctx.db, &token.hash(), ctx.clock.now_ms())?;
        operator::delete_session(ctx.db, &token.hash())?;
        if let Some(who) = who {
            audit::record_or_log(ctx, &Entry::new(Some(&who), Action::Logout).from(client));
        }
    }
    Ok(())
}

/// Reads the inbox filters from a query string (`status`, `assignee`, `tag`, `team`, `q`,
/// and the page: `limit`, `before`).
pub fn list_request(query: &str, operator: &Operator) -> Result<ListRequest, InvalidInput> {
    let id = |name: &'static str| -> Result<Option<i64>, InvalidInput> {
        query_param(query, name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<i64>()
                    .ok()
                    .filter(|id| *id > 0)
                    .ok_or_else(|| InvalidInput::new(name, "must be a positive id"))
            })
            .transpose()
    };
    let status = query_param(query, "status")
        .filter(|v| !v.is_empty())
        .unwrap_or("open");
    let status = StatusFilter::parse(status).ok_or_else(|| {
        InvalidInput::new("status", "must be open, pending, snoozed, resolved or all")
    })?;
    let assignee = match query_param(query, "assignee").filter(|v| !v.is_empty()) {
        None | Some("any") => AssigneeFilter::Any,
        Some("me") => AssigneeFilter::Operator(operator.id),
        Some("unassigned") => AssigneeFilter::Unassigned,
        Some(other) => {
            AssigneeFilter::Operator(other.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(
                || InvalidInput::new("assignee", "must be any, me, unassigned or an operator id"),
            )?)
        }
    };
    let search = match (query_param(query, "q"), query_text(query, "q")) {
        (None, _) => None,
        (Some(_), None) => return Err(InvalidInput::new("q", "must be valid UTF-8 text")),
        (Some(_), Some(text)) if text.trim().is_empty() => None,
        (Some(_), Some(text)) => Some(SearchTerms::parse(&text)?),
    };
    let limit = match query_param(query, "limit").filter(|v| !v.is_empty()) {
        None => LIST_PAGE,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=LIST_LIMIT).contains(n))
            .ok_or_else(|| InvalidInput::new("limit", format!("must be 1 to {LIST_LIMIT}")))?,
    };
    let before = match query_param(query, "before").filter(|v| !v.is_empty()) {
        None => None,
        Some(text) => Some(
            text.split_once('.')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.parse::<i64>().ok()?)))
                .ok_or_else(|| InvalidInput::new("before", "must be a next_before value"))?,
        ),
    };
    Ok(ListRequest {
        filter: ListFilter {
            status,
            assignee,
            tag_id: id("tag")?,
            team_id: id("team")?,
            search,
            before,
        },
        limit,
    })
}

pub fn list(
    ctx: &Ctx<'_>,
    _operator: &Operator,
    request: &ListRequest,
) -> Result<Listing, ChatError> {
    let db = ctx.db;
    wake_snoozed(ctx)?;
    read_transaction(db, || {
        let cursor = event::latest_cursor(db, Audience::Operators)?;
        let conversations = conversation::list(db, &request.filter, request.limit)?;
        let next_before = (conversations.len() as i64 == request.limit)
            .then(|| conversations.last())
            .flatten()
            .map(|c| format!("{}.{}", c.conversation.updated_at, c.conversation.id));
        Ok(Listing {
            conversations,
            cursor,
            next_before,
        })
    })
}

/// Wakes due snoozes and tells waiting consoles.
fn wake_snoozed(ctx: &Ctx<'_>) -> Result<(), ChatError> {
    for id in conversation::wake_snoozed(ctx.db, ctx.clock.now_ms())? {
        event::announce(ctx, id, &format!("w{id}:{}", ctx.clock.now_ms()));
    }
    Ok(())
}

pub fn thread(
    ctx: &Ctx<'_>,
    _operator: &Operator,
    conversation_id: i64,
) -> Result<Thread, ChatError> {
    let db = ctx.db;
    read_transaction(db, || {
        let conversation = conversation::summary(db, conversation_id)?
            .ok_or(ChatError::NotFound("conversation"))?;
        let cursor = event::latest_cursor(db, Audience::Operators)?;
        let messages = message::latest(db, conversation_id, HISTORY_LIMIT)?;
        let timeline = event::timeline(db, conversation_id, HISTORY_LIMIT)?;
        let reply = crate::outbox::reply_options(db, conversation_id, ctx.clock.now_ms())?;
        Ok(Thread {
            conversation,
            messages,
            timeline,
            cursor,
            reply,
        })
    })
}

pub fn reply(
    ctx: &Ctx<'_>,
    operator: &Operator,
    conversation_id: i64,
    request: &PostMessageRequest,
) -> Result<(Message, bool), ChatError> {
    chat::post_message(
        ctx,
        conversation_id,
        Speaker::Operator(operator),
        None,
        request,
    )
}

pub fn typing(ctx: &Ctx<'_>, operator: &Operator, conversation_id: i64) -> Result<(), ChatError> {
    crate::workflow::actionable(ctx, operator, conversation_id)?;
    chat::typing(ctx, conversation_id, Speaker::Operator(operator))
}

pub fn read(
    ctx: &Ctx<'_>,
    operator: &Operator,
    conversation_id: i64,
    request: &ReadRequest,
) -> Result<(), ChatError> {
    // Reading moves the team's read marker (the visitor sees "read"): only whoever may answer.
    crate::workflow::actionable(ctx, operator, conversation_id)?;
    chat::mark_read(ctx, conversation_id, Speaker::Operator(operator), request)
}

pub fn events(
    ctx: &Ctx<'_>,
    _operator: &Operator,
    query: EventsQuery,
) -> Result<EventsPage, ChatError> {
    chat::events(ctx, Audience::Operators, query)
}

/// Signs in with an invitation link, choosing a password (and optionally a display name).
pub fn accept_invite(
    ctx: &Ctx<'_>,
    request: &AcceptInviteRequest,
    session_ttl_ms: i64,
    client: &str,
) -> Result<SignedIn, ChatError> {
    let address = client;
    let client = client_key(client);
    if let Some(seconds) = throttle::blocked_for(ctx, &client, throttle::PER_CLIENT) {
        return Err(ChatError::RateLimited(seconds));
    }
    let password = Password::parse(&request.password)?;
    let name = request
        .name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .map(|n| PersonName::parse("name", n))
        .transpose()?;
    let Some(token) = Token::parse(&request.token) else {
        throttle::record_failure(ctx, &client, throttle::PER_CLIENT);
        return Err(ChatError::NotFound("invite"));
    };
    let hash = password.hash(ctx.entropy)?;
    let now = ctx.clock.now_ms();
    let session = Token::generate(ctx.entropy);
    let expires_at = now + session_ttl_ms;
    let operator = transaction(ctx.db, || {
        let operator = operator::accept_invite(ctx.db, &token.hash(), &hash, name.as_ref(), now)?
            .ok_or(ChatError::NotFound("invite"))?;
        // A new password (an invitation doubles as a reset) ends every older session.
        operator::delete_sessions_of(ctx.db, operator.id)?;
        operator::insert_session(ctx.db, &session.hash(), operator.id, now, expires_at)?;
        audit::record(
            ctx.db,
            now,
            &Entry::new(Some(&operator), Action::InviteAccepted).from(address),
        )?;
        Ok(operator)
    })
    .inspect_err(|e| {
        if matches!(e, ChatError::NotFound(_)) {
            throttle::record_failure(ctx, &client, throttle::PER_CLIENT);
        }
    })?;
    Ok(SignedIn {
        operator,
        token: session.as_str().to_owned(),
        expires_at,
    })
}

/// The signed-in operator's full profile.
pub fn me(ctx: &Ctx<'_>, operator: &Operator) -> Result<OperatorProfile, ChatError> {
    operator::profile(ctx.db, operator.id, ctx.clock.now_ms())?.ok_or(ChatError::Unauthenticated)
}

/// Sets presence (and counts as a heartbeat).
pub fn set_presence(
    ctx: &Ctx<'_>,
    operator: &Operator,
    request: &PresenceRequest,
) -> Result<OperatorProfile, ChatError> {
    operator::set_presence(ctx.db, operator.id, request.presence, ctx.clock.now_ms())?;
    me(ctx, operator)
}

/// The console checking in; also the moment due snoozes wake.
pub fn heartbeat(ctx: &Ctx<'_>, operator: &Operator) -> Result<(), ChatError> {
    operator::heartbeat(ctx.db, operator.id, ctx.clock.now_ms())?;
    wake_snoozed(ctx)
}

/// Active operators, for transfer and @mention pickers.
pub fn operators(ctx: &Ctx<'_>, _operator: &Operator) -> Result<Vec<OperatorProfile>, ChatError> {
    Ok(operator::profiles(ctx.db, false, ctx.clock.now_ms())?)
}

pub fn teams(ctx: &Ctx<'_>, _operator: &Operator) -> Result<Vec<Team>, ChatError> {
    Ok(team::list(ctx.db)?)
}

pub fn tags(ctx: &Ctx<'_>, _operator: &Operator) -> Result<Vec<TagRef>, ChatError> {
    Ok(tag::list(ctx.db)?)
}

pub fn contact_view(
    ctx: &Ctx<'_>,
    _operator: &Operator,
    contact_id: i64,
) -> Result<ContactView, ChatError> {
    read_transaction(ctx.db, || {
        let contact = contact::by_id(ctx.db, contact_id)?.ok_or(ChatError::NotFound("contact"))?;
        Ok(ContactView {
            conversations: conversation::of_contact(ctx.db, contact.id, CONTACT_HISTORY_LIMIT)?,
            notes: note::of_contact(ctx.db, contact.id, CONTACT_NOTES_LIMIT)?,
            contact,
        })
    })
}

pub fn search_contacts(
    ctx: &Ctx<'_>,
    _operator: &Operator,
    query: &str,
) -> Result<Vec<Contact>, ChatError> {
    let text = query_text(query, "q").unwrap_or_default();
    let text = crate::input::bounded_text("q", &text, 1, SearchTerms::MAX_CHARS)?;
    let escaped = crate::store::like_escape(&text);
    Ok(contact::search(
        ctx.db,
        &format!("%{escaped}%"),
        CONTACT_SEARCH_LIMIT,
    )?)
}

#[derive(Serialize)]
struct ContactChanged<'a> {
    contact: &'a Contact,
    by: conversation::Named,
}

#[derive(Serialize)]
struct ContactsMerged<'a> {
    from_contact_id: i64,
    contact: &'a Contact,
    by: conversation::Named,
}

/// Edits a contact; each of their conversations' timelines records it.
pub fn update_contact(
    ctx: &Ctx<'_>,
    operator: &Operator,
    contact_id: i64,
    patch: &ContactPatch,
) -> Result<Contact, ChatError> {
    let changes = ContactChanges::parse(patch)?;
    let now = ctx.clock.now_ms();
    let (contact, touched) = transaction(ctx.db, || {
        // A merged-away contact's page leads to the survivor; so do its edits.
        let contact_id = contact::survivor(ctx.db, contact_id)?;
        let contact = contact::update(ctx.db, contact_id, &changes, now)?
            .ok_or(ChatError::NotFound("contact"))?;
        let conversations = conversation::of_contact(ctx.db, contact.id, CONTACT_HISTORY_LIMIT)?;
        let touched = event::append_each(
            ctx.db,
            conversations.iter().map(|c| c.conversation.id),
            EventKind::ContactUpdated,
            Visibility::Internal,
            &ContactChanged {
                contact: &contact,
                by: conversation::Named::from(operator),
            },
            now,
        )?;
        Ok::<_, ChatError>((contact, touched))
    })?;
    event::announce_each(ctx, &touched);
    Ok(contact)
}

/// Merges another contact into this one (supervisors and admins): every conversation and
/// message moves, nothing is lost.
pub fn merge_contacts(
    ctx: &Ctx<'_>,
    operator: &Operator,
    into: i64,
    request: &MergeRequest,
) -> Result<Contact, ChatError> {
    operator.require(Role::Supervisor)?;
    if request.from_contact_id == into {
        return Err(InvalidInput::new("from_contact_id", "must be another contact").into());
    }
    let now = ctx.clock.now_ms();
    let (contact, touched) = transaction(ctx.db, || {
        let moved = contact::merge(ctx.db, request.from_contact_id, into, now)?
            .ok_or(ChatError::NotFound("contact"))?;
        let contact = contact::by_id(ctx.db, into)?.ok_or(ChatError::NotFound("contact"))?;
        let touched = event::append_each(
            ctx.db,
            moved,
            EventKind::ContactMerged,
            Visibility::Internal,
            &ContactsMerged {
                from_contact_id: request.from_contact_id,
                contact: &contact,
                by: conversation::Named::from(operator),
            },
            now,
        )?;
        Ok::<_, ChatError>((contact, touched))
    })?;
    event::announce_each(ctx, &touched);
    Ok(contact)
}

/// Canned responses `operator` can use matching `query`; with a conversation, each is rendered
/// for it (placeholders filled).
pub fn search_canned(
    ctx: &Ctx<'_>,
    operator: &Operator,
    query: &str,
    conversation_id: Option<i64>,
    business_name: &str,
) -> Result<Vec<Canned>, ChatError> {
    let query = crate::input::bounded_text("q", query, 0, canned::Shortcut::MAX_QUERY_CHARS)?;
    let mut found = canned::search(ctx.db, operator.id, &query)?;
    if let Some(conversation_id) = conversation_id {
        let summary = conversation::summary(ctx.db, conversation_id)?
            .ok_or(ChatError::NotFound("conversation"))?;
        let values = Placeholders {
            contact_name: summary.contact.name.clone(),
            contact_email: summary.contact.email.clone(),
            contact_phone: summary.contact.phone.clone(),
            operator_name: operator.name.clone(),
            conversation_id,
            business_name: business_name.to_owned(),
        };
        for item in &mut found {
            item.rendered = Some(canned::render(&item.body, &values));
        }
    }
    Ok(found)
}

/// Creates a canned response: the operator's own, or (`team` and an admin) team-wide.
pub fn create_canned(
    ctx: &Ctx<'_>,
    owner: Option<i64>,
    request: &CannedRequest,
) -> Result<Canned, ChatError> {
    let fields = CannedFields::parse(request, true)?;
    let (Some(shortcut), Some(title), Some(body)) = (&fields.shortcut, &fields.title, &fields.body)
    else {
        return Err(InvalidInput::new("shortcut", "shortcut, title and body are required").into());
    };
    canned::insert(ctx.db, owner, shortcut, title, body, ctx.clock.now_ms())?.ok_or_else(|| {
        ChatError::Conflict("shortcut_taken", "that shortcut is already in use".into())
    })
}

/// Updates a canned response within `owner`'s scope (None: team-wide).
pub fn update_canned(
    ctx: &Ctx<'_>,
    owner: Option<i64>,
    id: i64,
    request: &CannedRequest,
) -> Result<Canned, ChatError> {
    let fields = CannedFields::parse(request, false)?;
    transaction(ctx.db, || {
        if let Some(shortcut) = &fields.shortcut
            && canned::shortcut_taken(ctx.db, owner, shortcut, id)?
        {
            return Err(ChatError::Conflict(
                "shortcut_taken",
                "that shortcut is already in use".into(),
            ));
        }
        canned::update(ctx.db, id, owner, &fields, ctx.clock.now_ms())?
            .ok_or(ChatError::NotFound("canned response"))
    })
}

pub fn delete_canned(ctx: &Ctx<'_>, owner: Option<i64>, id: i64) -> Result<(), ChatError> {
    if canned::delete(ctx.db, id, owner)? {
        Ok(())
    } else {
        Err(ChatError::NotFound("canned response"))
    }
}

pub fn mentions(ctx: &Ctx<'_>, operator: &Operator) -> Result<Mentions, ChatError> {
    let (mentions, unread_count) = note::mentions_of(ctx.db, operator.id, MENTIONS_LIMIT)?;
    Ok(Mentions {
        mentions,
        unread_count,
    })
}

pub fn read_mentions(
    ctx: &Ctx<'_>,
    operator: &Operator,
    request: &MentionsReadRequest,
) -> Result<(), ChatError> {
    Ok(note::read_mentions(
        ctx.db,
        operator.id,
        request.note_id,
        ctx.clock.now_ms(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestHost;
    use crate::visitor::{self, StartRequest};

    fn config() -> FirstAdmin {
        FirstAdmin {
            email: "admin@example.com".into(),
            password: "a long passphrase".into(),
            setup_token: "s3cret-setup".into(),
        }
    }

    fn login_request(password: &str) -> LoginRequest {
        LoginRequest {
            email: "admin@example.com".into(),
            password: password.into(),
        }
    }

    #[test]
    fn the_bootstrap_admin_signs_in_and_sessions_expire() {
        let host = TestHost::new();
        let ctx = host.ctx();
        assert!(matches!(
            login(
                &ctx,
                &config(),
                &login_request("wrong password"),
                1000,
                "10.0.0.1"
            ),
            Err(ChatError::BadCredentials)
        ));
        let signed_in = login(
            &ctx,
            &config(),
            &login_request("a long passphrase"),
            60_000,
            "10.0.0.1",
        )
        .unwrap();
        assert_eq!(signed_in.operator.role, Role::Admin);
        assert_eq!(
            authenticate(&ctx, Some(&signed_in.token)).unwrap().id,
            signed_in.operator.id
        );
        host.clock.advance(60_001);
        assert!(matches!(
            authenticate(&ctx, Some(&signed_in.token)),
            Err(ChatError::Unauthenticated)
        ));
    }

    #[test]
    fn repeated_failures_are_throttled_per_account_and_per_client() {
        let host = TestHost::new();
        let ctx = host.ctx();
        for _ in 0..throttle::PER_ACCOUNT.failures {
            assert!(matches!(
                login(
                    &ctx,
                    &config(),
                    &login_request("wrong password"),
                    1000,
                    "10.0.0.1"
                ),
                Err(ChatError::BadCredentials)
            ));
        }
        // Now even the right password waits: the account is locked for the window.
        assert!(matches!(
            login(
                &ctx,
                &config(),
                &login_request("a long passphrase"),
                1000,
                "10.0.0.2"
            ),
            Err(ChatError::RateLimited(_))
        ));
        host.clock.advance(throttle::PER_ACCOUNT.window_ms);
        assert!(
            login(
                &ctx,
                &config(),
                &login_request("a long passphrase"),
                1000,
                "10.0.0.2"
            )
            .is_ok()
        );
        // One address guessing many accounts hits the per-client limit.
        for i in 0..throttle::PER_CLIENT.failures {
            let request = LoginRequest {
                email: format!("user{i}@example.com"),
                password: "whatever it is".into(),
            };
            assert!(matches!(
                login(&ctx, &config(), &request, 1000, "10.0.0.3"),
                Err(ChatError::BadCredentials)
            ));
        }
        assert!(matches!(
            login(
                &ctx,
                &config(),
                &login_request("a long passphrase"),
                1000,
                "10.0.0.3"
            ),
            Err(ChatError::RateLimited(_))
        ));
    }

    #[test]
    fn logout_ends_the_session() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let signed_in = login(
            &ctx,
            &config(),
            &login_request("a long passphrase"),
            60_000,
            "10.0.0.1",
        )
        .unwrap();
        logout(&ctx, Some(&signed_in.token), "127.0.0.1").unwrap();
        assert!(authenticate(&ctx, Some(&signed_in.token)).is_err());
    }

    #[test]
    fn sign_ins_and_outs_are_audited_without_the_password() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let wrong = LoginRequest {
            email: "admin@example.com".into(),
            password: "not the passphrase".into(),
        };
        assert!(login(&ctx, &config(), &wrong, 1000, "10.0.0.7").is_err());
        let signed_in = login(
            &ctx,
            &config(),
            &login_request("a long passphrase"),
            60_000,
            "10.0.0.8",
        )
        .unwrap();
        logout(&ctx, Some(&signed_in.token), "10.0.0.8").unwrap();
        // A dead token signs nobody out: no line.
        logout(&ctx, Some(&signed_in.token), "10.0.0.8").unwrap();
        let lines = ctx
            .db
            .execute(
                "SELECT action, actor_email, detail, client_addr FROM audit_log ORDER BY id",
                &[],
            )
            .unwrap();
        let got: Vec<(String, Option<String>, String, String)> = lines
            .iter()
            .map(|r| {
                (
                    r.str("action").unwrap().to_owned(),
                    r.opt_str("actor_email").unwrap().map(str::to_owned),
                    r.str("detail").unwrap().to_owned(),
                    r.str("client_addr").unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].0, "login.failed");
        assert_eq!(got[0].1, None);
        assert!(got[0].2.contains("admin@example.com"));
        assert!(!got[0].2.contains("passphrase"));
        assert_eq!(got[0].3, "10.0.0.7");
        assert_eq!(got[1].0, "login");
        assert_eq!(got[1].1.as_deref(), Some("admin@example.com"));
        assert_eq!(got[2].0, "logout");
    }

    #[test]
    fn setup_works_once_and_only_with_the_token() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let request = |token: &str| SetupRequest {
            setup_token: token.into(),
            email: "ada@example.com".into(),
            name: "Ada".into(),
            password: "a long passphrase".into(),
        };
        let no_bootstrap = FirstAdmin {
            email: String::new(),
            password: String::new(),
            ..config()
        };
        assert!(matches!(
            setup(&ctx, &no_bootstrap, &request("wrong"), "10.0.0.1"),
            Err(ChatError::Forbidden(_))
        ));
        assert!(setup(&ctx, &no_bootstrap, &request("s3cret-setup"), "10.0.0.1").is_ok());
        assert!(matches!(
            setup(&ctx, &no_bootstrap, &request("s3cret-setup"), "10.0.0.1"),
            Err(ChatError::Conflict("already_set_up", _))
        ));
        let disabled = FirstAdmin {
            setup_token: String::new(),
            ..no_bootstrap
        };
        assert!(matches!(
            setup(&ctx, &disabled, &request(""), "10.0.0.1"),
            Err(ChatError::Forbidden(_))
        ));
    }

    #[test]
    fn replies_assign_the_conversation_and_unread_counts_follow_the_read_marker() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let operator = login(
            &ctx,
            &config(),
            &login_request("a long passphrase"),
            60_000,
            "10.0.0.1",
        )
        .unwrap()
        .operator;
        let started = visitor::start(&ctx, None, &StartRequest::default()).unwrap();
        let token = Token::parse(started.visitor_token.as_deref().unwrap()).unwrap();
        let id = started.conversation.id;
        let question = PostMessageRequest {
            body: "where is my order?".into(),
            client_id: None,
            channel: None,
        };
        let (asked, _) = visitor::post(&ctx, &token, id, &question).unwrap();
        visitor::post(&ctx, &token, id, &question).unwrap();

        let everything = ListRequest {
            filter: ListFilter {
                status: StatusFilter::All,
                ..ListFilter::default()
            },
            limit: LIST_PAGE,
        };
        let listing = list(&ctx, &operator, &everything).unwrap();
        assert_eq!(listing.conversations[0].unread_count, 2);
        read(
            &ctx,
            &operator,
            id,
            &ReadRequest {
                message_id: asked.id,
            },
        )
        .unwrap();
        assert_eq!(
            thread(&ctx, &operator, id)
                .unwrap()
                .conversation
                .unread_count,
            1
        );

        let answer = PostMessageRequest {
            body: "on its way".into(),
            client_id: None,
            channel: None,
        };
        let (replied, _) = reply(&ctx, &operator, id, &answer).unwrap();
        assert_eq!(replied.operator_name.as_deref(), Some("Admin"));
        let assignee = ctx
            .db
            .execute(
                "SELECT assignee_id FROM conversations WHERE id = ?1",
                &[id.into()],
            )
            .unwrap();
        assert_eq!(
            assignee.first().unwrap().opt_i64("assignee_id").unwrap(),
            Some(operator.id)
        );
        assert!(matches!(
            reply(&ctx, &operator, id + 100, &answer),
            Err(ChatError::NotFound(_))
        ));
    }

    #[test]
    fn the_published_event_carries_exactly_the_message_the_api_returns() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let operator = login(
            &ctx,
            &config(),
            &login_request("a long passphrase"),
            60_000,
            "10.0.0.1",
        )
        .unwrap()
        .operator;
        let started = visitor::start(&ctx, None, &StartRequest::default()).unwrap();
        let id = started.conversation.id;
        let answer = PostMessageRequest {
            body: "\"quoted\" <b>é</b>\nline".into(),
            client_id: Some("op-1".into()),
            channel: None,
        };
        let (replied, _) = reply(&ctx, &operator, id, &answer).unwrap();
        let page = events(
            &ctx,
            &operator,
            EventsQuery {
                after: 0,
                wait_ms: 0,
            },
        )
        .unwrap();
        let published = page
            .events
            .iter()
            .find(|e| e.kind == "message.created")
            .unwrap();
        let published: serde_json::Value = serde_json::from_str(published.data.get()).unwrap();
        assert_eq!(
            published["message"],
            serde_json::to_value(&replied).unwrap()
        );
    }
}
