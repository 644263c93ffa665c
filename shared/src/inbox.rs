//! The operator's side: signing in, the inbox list, a thread, replying, typing, receipts and
//! the inbox-wide event stream. Every use case but sign-in takes an authenticated [`Operator`].

use serde::{Deserialize, Serialize};

use crate::chat::{
    self, ChatError, EventsPage, EventsQuery, PostMessageRequest, ReadRequest, Speaker,
};
use crate::contact::{EmailAddress, PersonName};
use crate::conversation::{self, ConversationSummary, StatusFilter};
use crate::event::{self, Audience};
use crate::host::Ctx;
use crate::message::{self, Message};
use crate::operator::{self, NewOperator, Operator, Password, Role};
use crate::secret::{Token, secrets_match};
use crate::store::read_transaction;
use crate::throttle;

/// Most conversations one inbox listing returns.
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
}

#[derive(Debug, Serialize)]
pub struct Thread {
    pub conversation: ConversationSummary,
    pub messages: Vec<Message>,
    pub cursor: i64,
}

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
    operator::insert_first(ctx.db, &new, &hash, ctx.clock.now_ms())?.ok_or(ChatError::Conflict(
        "already_set_up",
        "an operator already exists; sign in instead",
    ))
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
    let (account, client) = (account_key(&request.email), client_key(client));
    let blocked = throttle::blocked_for(ctx, &account, throttle::PER_ACCOUNT)
        .max(throttle::blocked_for(ctx, &client, throttle::PER_CLIENT));
    if let Some(seconds) = blocked {
        return Err(ChatError::RateLimited(seconds));
    }
    bootstrap_admin(ctx, config)?;
    let found = operator::credentials(ctx.db, request.email.trim())?;
    let password_ok = match &found {
        Some((_, hash)) => operator::verify_password(&request.password, hash),
        None => {
            // Same cost as a wrong password, so response time does not reveal which emails exist.
            operator::verify_password(&request.password, operator::DECOY_HASH);
            false
        }
    };
    let Some((operator, _)) = found.filter(|_| password_ok) else {
        throttle::record_failure(ctx, &account, throttle::PER_ACCOUNT);
        throttle::record_failure(ctx, &client, throttle::PER_CLIENT);
        return Err(ChatError::BadCredentials);
    };
    throttle::reset(ctx, &account);
    let token = Token::generate(ctx.entropy);
    let now = ctx.clock.now_ms();
    let expires_at = now + session_ttl_ms;
    operator::insert_session(ctx.db, &token.hash(), operator.id, now, expires_at)?;
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

pub fn logout(ctx: &Ctx<'_>, token: Option<&str>) -> Result<(), ChatError> {
    if let Some(token) = token.and_then(Token::parse) {
        operator::delete_session(ctx.db, &token.hash())?;
    }
    Ok(())
}

pub fn list(
    ctx: &Ctx<'_>,
    _operator: &Operator,
    filter: StatusFilter,
) -> Result<Listing, ChatError> {
    let db = ctx.db;
    read_transaction(db, || {
        let cursor = event::latest_cursor(db, Audience::Operators)?;
        let conversations = conversation::list(db, filter, LIST_LIMIT)?;
        Ok(Listing {
            conversations,
            cursor,
        })
    })
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
        Ok(Thread {
            conversation,
            messages,
            cursor,
        })
    })
}

fn existing(ctx: &Ctx<'_>, conversation_id: i64) -> Result<(), ChatError> {
    conversation::by_id(ctx.db, conversation_id)?
        .map(|_| ())
        .ok_or(ChatError::NotFound("conversation"))
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
    existing(ctx, conversation_id)?;
    chat::typing(ctx, conversation_id, Speaker::Operator(operator))
}

pub fn read(
    ctx: &Ctx<'_>,
    operator: &Operator,
    conversation_id: i64,
    request: &ReadRequest,
) -> Result<(), ChatError> {
    existing(ctx, conversation_id)?;
    chat::mark_read(ctx, conversation_id, Speaker::Operator(operator), request)
}

pub fn events(
    ctx: &Ctx<'_>,
    _operator: &Operator,
    query: EventsQuery,
) -> Result<EventsPage, ChatError> {
    chat::events(ctx, Audience::Operators, query)
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
        logout(&ctx, Some(&signed_in.token)).unwrap();
        assert!(authenticate(&ctx, Some(&signed_in.token)).is_err());
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
        };
        let (asked, _) = visitor::post(&ctx, &token, id, &question).unwrap();
        visitor::post(&ctx, &token, id, &question).unwrap();

        let listing = list(&ctx, &operator, StatusFilter::All).unwrap();
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
