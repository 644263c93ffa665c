//! `inbox-api`: what the operator console calls, under `/api/inbox`.
//!
//! Thin by design: this file turns a request into a [`Command`], authenticates the operator,
//! runs the matching use case from `shared` (`inbox`, `workflow`), and maps the result to a
//! response. Roles are checked by the use cases. The API is documented in the README
//! ("Inbox API").
//!
//! Sessions ride in an HttpOnly, `SameSite=Strict` cookie (or a bearer token for API clients).
//! Every POST/PATCH must be `application/json`, which a cross-site form cannot send: together
//! these close CSRF without a token dance.

use serde::Serialize;
use shared::api::{ApiError, MAX_JSON_BODY_BYTES, query_param};
use shared::chat::{EventsQuery, PostMessageRequest, ReadRequest};
use shared::inbox::{self, FirstAdmin, LoginRequest, SetupRequest};
use shared::rate_limit::Subject;
use shared::router::Sweep;
use shared::{operator::OperatorProfile, workflow};
use spin_host::{Access, ApiRequest, SpinHost, id};
use spin_sdk::http::{IncomingRequest, Method, Response, ResponseOutparam};
use spin_sdk::http_component;

const COMPONENT: &str = "inbox-api";

/// Every request the console can make, decided before any I/O.
#[derive(Debug, PartialEq)]
enum Command {
    Setup,
    Login,
    Logout,
    AcceptInvite,
    Me,
    SetPresence,
    Heartbeat,
    Operators,
    Teams,
    Tags,
    List,
    Thread(i64),
    Attachment(i64, i64),
    Suggestions(i64),
    Draft(i64),
    HandBack(i64),
    Reply(i64),
    Note(i64),
    Typing(i64),
    Read(i64),
    SetStatus(i64),
    Transfer(i64),
    Assign(i64),
    AddTag(i64),
    RemoveTag(i64, i64),
    SearchContacts,
    Contact(i64),
    UpdateContact(i64),
    MergeContacts(i64),
    SearchCanned,
    CreateCanned,
    UpdateCanned(i64),
    DeleteCanned(i64),
    Mentions,
    ReadMentions,
    Queue,
    Events,
    WrongMethod(&'static str),
    Unknown,
}

impl Command {
    fn route(method: &Method, segments: &[&str]) -> Command {
        use Command as C;
        use Method::{Delete, Get, Patch, Post};
        let wrong = C::WrongMethod;
        match (segments, method) {
            (["setup"], Post) => C::Setup,
            (["login"], Post) => C::Login,
            (["logout"], Post) => C::Logout,
            (["invites", "accept"], Post) => C::AcceptInvite,
            (["presence"], Post) => C::SetPresence,
            (["heartbeat"], Post) => C::Heartbeat,
            (["mentions", "read"], Post) => C::ReadMentions,
            (
                ["setup" | "login" | "logout" | "presence" | "heartbeat"]
                | ["invites", "accept"]
                | ["mentions", "read"],
                _,
            ) => wrong("POST"),
            (["me"], Get) => C::Me,
            (["operators"], Get) => C::Operators,
            (["teams"], Get) => C::Teams,
            (["tags"], Get) => C::Tags,
            (["events"], Get) => C::Events,
            (["conversations"], Get) => C::List,
            (["contacts"], Get) => C::SearchContacts,
            (["mentions"], Get) => C::Mentions,
            (["queue"], Get) => C::Queue,
            (
                [
                    "me" | "operators" | "teams" | "tags" | "events" | "conversations" | "contacts"
                    | "mentions" | "queue",
                ],
                _,
            ) => wrong("GET"),
            (["canned"], Get) => C::SearchCanned,
            (["canned"], Post) => C::CreateCanned,
            (["canned"], _) => wrong("GET, POST"),
            (["canned", c], m) => match (id(c), m) {
                (None, _) => C::Unknown,
                (Some(c), Patch) => C::UpdateCanned(c),
                (Some(c), Delete) => C::DeleteCanned(c),
                (Some(_), _) => wrong("PATCH, DELETE"),
            },
            (["contacts", c], m) => match (id(c), m) {
                (None, _) => C::Unknown,
                (Some(c), Get) => C::Contact(c),
                (Some(c), Patch) => C::UpdateContact(c),
                (Some(_), _) => wrong("GET, PATCH"),
            },
            (["contacts", c, "merge"], m) => match (id(c), m) {
                (None, _) => C::Unknown,
                (Some(c), Post) => C::MergeContacts(c),
                (Some(_), _) => wrong("POST"),
            },
            (["conversations", c], m) => match (id(c), m) {
                (None, _) => C::Unknown,
                (Some(c), Get) => C::Thread(c),
                (Some(_), _) => wrong("GET"),
            },
            (["conversations", c, "suggestions"], m) => match (id(c), m) {
                (Some(c), Get) => C::Suggestions(c),
                (Some(_), _) => wrong("GET"),
                (None, _) => C::Unknown,
            },
            (["conversations", c, "draft"], m) => match (id(c), m) {
                (Some(c), Post) => C::Draft(c),
                (Some(_), _) => wrong("POST"),
                (None, _) => C::Unknown,
            },
            (["conversations", c, "attachments", a], m) => match (id(c), id(a), m) {
                (Some(c), Some(a), Get) => C::Attachment(c, a),
                (Some(_), Some(_), _) => wrong("GET"),
                _ => C::Unknown,
            },
            (["conversations", c, "tags", t], m) => match (id(c), id(t), m) {
                (Some(c), Some(t), Delete) => C::RemoveTag(c, t),
                (Some(_), Some(_), _) => wrong("DELETE"),
                _ => C::Unknown,
            },
            (["conversations", c, action], m) => {
                let Some(c) = id(c) else {
                    return C::Unknown;
                };
                let command = match *action {
                    "messages" => C::Reply(c),
                    "notes" => C::Note(c),
                    "typing" => C::Typing(c),
                    "read" => C::Read(c),
                    "status" => C::SetStatus(c),
                    "transfer" => C::Transfer(c),
                    "assign" => C::Assign(c),
                    "tags" => C::AddTag(c),
                    "assistant" => C::HandBack(c),
                    _ => return C::Unknown,
                };
                if *m == Post { command } else { wrong("POST") }
            }
            _ => C::Unknown,
        }
    }

    /// Whether the command only reads (a reader connection is enough).
    fn reads_only(&self) -> bool {
        use Command as C;
        matches!(
            self,
            C::Me
                | C::Operators
                | C::Teams
                | C::Tags
                | C::Thread(_)
                | C::Attachment(..)
                | C::Suggestions(_)
                | C::Draft(_)
                | C::Events
                | C::SearchContacts
                | C::Contact(_)
                | C::SearchCanned
                | C::Mentions
                | C::Queue
        )
    }
}

impl Command {
    /// Whether this (successful) command may let waiting conversations be assigned, and how
    /// much re-routing to check: status changes, transfers and assignments free or queue
    /// conversations; a presence change adds or removes an operator (going offline hands back
    /// conversations at once); heartbeats run the periodic re-routing checks when they are due
    /// (and catch any waiting work a missed pass left). `spin_host::route` skips the hop when
    /// the pass could do nothing.
    fn routing_after(&self) -> Option<Sweep> {
        use Command as C;
        match self {
            C::SetStatus(_) | C::Transfer(_) | C::Assign(_) => Some(Sweep::Skip),
            C::SetPresence => Some(Sweep::Now),
            C::Heartbeat => Some(Sweep::IfDue),
            _ => None,
        }
    }
}

/// Suggestions, and whether a language model can write drafts (the console offers it then).
#[derive(Serialize)]
struct WithModel<'a> {
    #[serde(flatten)]
    assist: &'a shared::assist::Assist,
    model_drafts: bool,
}

fn model_configured() -> bool {
    !spin_host::variable("llm_provider", "").trim().is_empty()
}

/// `POST .../draft`'s answer: a model's draft, or the assistant's own with why.
#[derive(Serialize)]
struct DraftAnswer {
    draft: shared::assist::Draft,
    /// Why the model's draft is not there (no model, nothing to draw on, it failed).
    fallback: Option<&'static str>,
}

/// A language model's draft (written by the private `assistant` component, which holds the
/// model's settings), or the assistant's own draft when there is no model or it fails.
async fn model_draft(assist: shared::assist::Assist) -> DraftAnswer {
    let fallback = |why| DraftAnswer {
        draft: assist.draft.clone(),
        fallback: Some(why),
    };
    if !model_configured() {
        return fallback("no language model is configured");
    }
    let Some(request) = &assist.draft_request else {
        return fallback("no suggestion to draw on");
    };
    #[derive(serde::Deserialize)]
    struct Answer {
        draft: shared::assist::Draft,
    }
    let answer: Option<Answer> = spin_host::ask_private(
        COMPONENT,
        "model draft",
        "http://assistant.spin.internal/draft",
        request,
    )
    .await;
    match answer {
        Some(answer) => DraftAnswer {
            draft: answer.draft,
            fallback: None,
        },
        None => fallback("the language model gave no usable draft"),
    }
}

#[derive(Serialize)]
struct Me<'a, T: Serialize> {
    operator: &'a T,
}

/// Work that runs after the response has gone out.
#[derive(Debug, Default, PartialEq)]
struct After {
    /// Send what the outbox holds (a reply through a provider, or retries that came due).
    dispatch: bool,
    /// Send the outgoing webhooks that are due (the change's own, or retries that came due).
    webhooks: bool,
}

#[http_component]
async fn handle(request: IncomingRequest, out: ResponseOutparam) {
    spin_host::begin(COMPONENT, &request);
    let (response, after) = match serve(request).await {
        Ok(done) => done,
        Err(e) => (spin_host::error(COMPONENT, e), After::default()),
    };
    // The operator's answer does not wait for a provider: the reply is already in the outbox.
    spin_host::respond(out, response).await;
    if after.dispatch {
        spin_host::dispatch(COMPONENT).await;
    }
    if after.webhooks {
        spin_host::webhooks(COMPONENT).await;
    }
}

fn first_admin() -> FirstAdmin {
    FirstAdmin {
        email: spin_host::variable("admin_email", ""),
        password: spin_host::variable("admin_password", ""),
        setup_token: spin_host::variable("setup_token", ""),
    }
}

fn session_ttl_ms() -> i64 {
    let hours = spin_host::variable("session_ttl_hours", "12")
        .parse::<i64>()
        .unwrap_or(12)
        .clamp(1, 24 * 30);
    hours * 3_600_000
}

async fn serve(request: IncomingRequest) -> Result<(Response, After), ApiError> {
    let request = ApiRequest::read(request, MAX_JSON_BODY_BYTES).await?;
    let command = Command::route(&request.method, &request.segments());
    match command {
        Command::Unknown => return Err(ApiError::not_found_route()),
        Command::WrongMethod(allowed) => return Err(ApiError::method_not_allowed(allowed)),
        _ => {}
    }
    request.guard_state_change()?;
    let access = if command.reads_only() {
        Access::Read
    } else {
        Access::Write
    };
    let host = SpinHost::open(access)?;
    let ctx = host.ctx();
    // Every request counts against its address; an operator's changes also against the
    // operator, once the session has authenticated (below).
    spin_host::rate_limit(&ctx, COMPONENT, Subject::Address(request.client_address()))?;

    // Commands that need no session.
    match command {
        Command::Setup => {
            let operator = inbox::setup(
                &ctx,
                &first_admin(),
                &request.json::<SetupRequest>()?,
                request.client_address(),
            )?;
            return Ok((
                spin_host::json(
                    201,
                    &Me {
                        operator: &operator,
                    },
                ),
                After::default(),
            ));
        }
        Command::Login | Command::AcceptInvite => {
            let ttl = session_ttl_ms();
            let signed_in = if command == Command::Login {
                inbox::login(
                    &ctx,
                    &first_admin(),
                    &request.json::<LoginRequest>()?,
                    ttl,
                    request.client_address(),
                )?
            } else {
                inbox::accept_invite(&ctx, &request.json()?, ttl, request.client_address())?
            };
            let cookie = request.session_cookie(&signed_in.token, ttl / 1000);
            return Ok((
                spin_host::json_with_headers(200, &signed_in, &[("set-cookie", cookie)]),
                After::default(),
            ));
        }
        Command::Logout => {
            inbox::logout(&ctx, request.session_token(), request.client_address())?;
            return Ok((
                spin_host::no_content_with_headers(&[(
                    "set-cookie",
                    request.session_cookie("", 0),
                )]),
                After::default(),
            ));
        }
        _ => {}
    }

    let operator = spin_host::operator(&ctx, &request)?;
    if !command.reads_only() {
        spin_host::rate_limit(&ctx, COMPONENT, Subject::Operator(operator.id))?;
    }
    let me = |profile: OperatorProfile| spin_host::json(200, &Me { operator: &profile });
    let mut after = After::default();
    let response = match command {
        Command::Me => me(inbox::me(&ctx, &operator)?),
        Command::SetPresence => me(inbox::set_presence(&ctx, &operator, &request.json()?)?),
        Command::Heartbeat => {
            inbox::heartbeat(&ctx, &operator)?;
            // Heartbeats are the clock that makes retries happen while the app is in use.
            after.dispatch = spin_host::dispatch_due(&ctx);
            spin_host::no_content()
        }
        Command::Operators => {
            spin_host::json_field(200, "operators", inbox::operators(&ctx, &operator)?)
        }
        Command::Teams => spin_host::json_field(200, "teams", inbox::teams(&ctx, &operator)?),
        Command::Tags => spin_host::json_field(200, "tags", inbox::tags(&ctx, &operator)?),
        Command::List => {
            let list = inbox::list_request(&request.query, &operator)?;
            spin_host::json(200, &inbox::list(&ctx, &operator, &list)?)
        }
        Command::Thread(id) => spin_host::json(200, &inbox::thread(&ctx, &operator, id)?),
        Command::Attachment(id, attachment_id) => {
            let file = shared::attachment::for_operator(ctx.db, id, attachment_id)
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::new(404, "not_found", "attachment not found"))?;
            spin_host::file(&file)
        }
        Command::Suggestions(id) => {
            let assist = shared::assist::suggest(
                &ctx,
                &operator,
                id,
                &spin_host::variable("business_name", "Support"),
            )?;
            spin_host::json(
                200,
                &WithModel {
                    assist: &assist,
                    model_drafts: model_configured(),
                },
            )
        }
        Command::Draft(id) => {
            let assist = shared::assist::suggest(
                &ctx,
                &operator,
                id,
                &spin_host::variable("business_name", "Support"),
            )?;
            spin_host::json(200, &model_draft(assist).await)
        }
        Command::HandBack(id) => {
            let body: shared::assistant::HandBackRequest = request.json()?;
            spin_host::json_field(
                200,
                "conversation",
                shared::assistant::hand_back(&ctx, &operator, id, body.version)?,
            )
        }
        Command::Reply(id) => {
            let (message, created) =
                inbox::reply(&ctx, &operator, id, &request.json::<PostMessageRequest>()?)?;
            after.dispatch = created && message.delivery.is_some();
            spin_host::json_field(if created { 201 } else { 200 }, "message", message)
        }
        Command::Note(id) => {
            let (note, created) = workflow::add_note(&ctx, &operator, id, &request.json()?)?;
            spin_host::json_field(if created { 201 } else { 200 }, "note", note)
        }
        Command::Typing(id) => {
            inbox::typing(&ctx, &operator, id)?;
            spin_host::no_content()
        }
        Command::Read(id) => {
            inbox::read(&ctx, &operator, id, &request.json::<ReadRequest>()?)?;
            spin_host::no_content()
        }
        Command::SetStatus(id) => {
            let conversation = workflow::set_status(&ctx, &operator, id, &request.json()?)?;
            // Resolving may have queued a satisfaction survey for the customer's SMS, email or
            // Meta channel: one indexed read says whether there is anything to send.
            after.dispatch = spin_host::dispatch_due(&ctx);
            spin_host::json_field(200, "conversation", conversation)
        }
        Command::Transfer(id) => spin_host::json_field(
            200,
            "conversation",
            workflow::transfer(&ctx, &operator, id, &request.json()?)?,
        ),
        Command::Assign(id) => spin_host::json_field(
            200,
            "conversation",
            workflow::assign(&ctx, &operator, id, &request.json()?)?,
        ),
        Command::AddTag(id) => {
            let body: workflow::TagRequest = request.json()?;
            spin_host::json_field(
                200,
                "tags",
                workflow::tag(&ctx, &operator, id, body.tag_id, workflow::Tagging::Add)?,
            )
        }
        Command::RemoveTag(id, tag_id) => spin_host::json_field(
            200,
            "tags",
            workflow::tag(&ctx, &operator, id, tag_id, workflow::Tagging::Remove)?,
        ),
        Command::SearchContacts => spin_host::json_field(
            200,
            "contacts",
            inbox::search_contacts(&ctx, &operator, &request.query)?,
        ),
        Command::Contact(id) => spin_host::json(200, &inbox::contact_view(&ctx, &operator, id)?),
        Command::UpdateContact(id) => spin_host::json_field(
            200,
            "contact",
            inbox::update_contact(&ctx, &operator, id, &request.json()?)?,
        ),
        Command::MergeContacts(id) => spin_host::json_field(
            200,
            "contact",
            inbox::merge_contacts(&ctx, &operator, id, &request.json()?)?,
        ),
        Command::SearchCanned => {
            let conversation_id = match query_param(&request.query, "conversation_id") {
                None | Some("") => None,
                Some(text) => Some(id(text).ok_or_else(|| {
                    ApiError::new(
                        400,
                        "invalid_input",
                        "conversation_id: must be a positive id",
                    )
                })?),
            };
            let query = shared::api::query_text(&request.query, "q").unwrap_or_default();
            spin_host::json_field(
                200,
                "canned",
                inbox::search_canned(
                    &ctx,
                    &operator,
                    &query,
                    conversation_id,
                    &spin_host::variable("business_name", "Support"),
                )?,
            )
        }
        Command::CreateCanned => spin_host::json_field(
            201,
            "canned",
            inbox::create_canned(&ctx, Some(operator.id), &request.json()?)?,
        ),
        Command::UpdateCanned(id) => spin_host::json_field(
            200,
            "canned",
            inbox::update_canned(&ctx, Some(operator.id), id, &request.json()?)?,
        ),
        Command::DeleteCanned(id) => {
            inbox::delete_canned(&ctx, Some(operator.id), id)?;
            spin_host::no_content()
        }
        Command::Mentions => spin_host::json(200, &inbox::mentions(&ctx, &operator)?),
        Command::ReadMentions => {
            inbox::read_mentions(&ctx, &operator, &request.json()?)?;
            spin_host::no_content()
        }
        Command::Queue => spin_host::json(200, &workflow::queue(&ctx, &operator)?),
        Command::Events => spin_host::json(
            200,
            &inbox::events(&ctx, &operator, EventsQuery::parse(&request.query)?)?,
        ),
        Command::Setup
        | Command::Login
        | Command::AcceptInvite
        | Command::Logout
        | Command::WrongMethod(_)
        | Command::Unknown => {
            return Err(ApiError::not_found_route());
        }
    };
    if let Some(sweep) = command.routing_after() {
        spin_host::route_if_needed(COMPONENT, &ctx, sweep).await;
    }
    // Any change (a reply, an assignment, a resolution, and the routing it caused) may have
    // queued webhooks; heartbeats are the clock for their retries. One indexed read each.
    after.webhooks = !command.reads_only() && spin_host::webhooks_due(&ctx);
    Ok((response, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        use Method::{Delete, Get, Patch, Post, Put};
        assert_eq!(Command::route(&Post, &["login"]), Command::Login);
        assert_eq!(
            Command::route(&Get, &["login"]),
            Command::WrongMethod("POST")
        );
        assert_eq!(Command::route(&Get, &["conversations"]), Command::List);
        assert_eq!(
            Command::route(&Get, &["conversations", "3"]),
            Command::Thread(3)
        );
        assert_eq!(
            Command::route(&Post, &["conversations", "3", "messages"]),
            Command::Reply(3)
        );
        assert_eq!(
            Command::route(&Post, &["conversations", "3", "transfer"]),
            Command::Transfer(3)
        );
        assert_eq!(
            Command::route(&Get, &["conversations", "3", "status"]),
            Command::WrongMethod("POST")
        );
        assert_eq!(
            Command::route(&Delete, &["conversations", "3", "tags", "9"]),
            Command::RemoveTag(3, 9)
        );
        assert_eq!(
            Command::route(&Patch, &["contacts", "4"]),
            Command::UpdateContact(4)
        );
        assert_eq!(
            Command::route(&Put, &["contacts", "4"]),
            Command::WrongMethod("GET, PATCH")
        );
        assert_eq!(
            Command::route(&Delete, &["canned", "2"]),
            Command::DeleteCanned(2)
        );
        assert_eq!(Command::route(&Get, &["events"]), Command::Events);
        assert_eq!(
            Command::route(&Get, &["conversations", "0"]),
            Command::Unknown
        );
        assert_eq!(Command::route(&Get, &["admin"]), Command::Unknown);
        assert_eq!(
            Command::route(&Post, &["conversations", "3", "launch"]),
            Command::Unknown
        );
    }

    spin_host::route_table_property!(Command::route);
}
