//! `widget-api`: what the website widget calls, under `/api/widget`.
//!
//! Thin by design: this file turns a request into a [`Command`], runs the matching use case
//! from `shared::visitor`, and maps the result to a response. The API is documented in the
//! README ("Widget API").

use serde::Serialize;
use shared::api::{ApiError, MAX_JSON_BODY_BYTES};
use shared::attachment::NewAttachment;
use shared::chat::{EventsQuery, PostMessageRequest, ReadRequest};
use shared::rate_limit::Subject;
use shared::router::{self, Sweep};
use shared::visitor::{self, StartRequest};
use shared::{continuation, identity};
use spin_host::{Access, ApiRequest, SpinHost};
use spin_sdk::http::{IncomingRequest, Method, Response, ResponseOutparam};
use spin_sdk::http_component;

const COMPONENT: &str = "widget-api";

/// Every request the widget can make, decided before any I/O.
#[derive(Debug, PartialEq)]
enum Command {
    Config,
    Topics,
    HelpSearch,
    HelpArticle(i64),
    Start,
    Load(i64),
    PostMessage(i64),
    Typing(i64),
    Read(i64),
    Events(i64),
    Queue(i64),
    Upload(i64),
    Attachment(i64, i64),
    Csat(i64),
    Identify,
    Attributes,
    Continue(i64),
    Transcript(i64),
    WrongMethod(&'static str),
    Unknown,
}

impl Command {
    fn route(method: &Method, segments: &[&str]) -> Command {
        use Method::{Get, Post};
        let id = |s: &str| s.parse::<i64>().ok().filter(|id| *id > 0);
        match (segments, method) {
            (["config"], Get) => Command::Config,
            (["config"], _) => Command::WrongMethod("GET"),
            (["topics"], Get) => Command::Topics,
            (["topics"], _) => Command::WrongMethod("GET"),
            (["help"], Get) => Command::HelpSearch,
            (["help"], _) => Command::WrongMethod("GET"),
            (["help", a], m) => match (id(a), m) {
                (Some(a), Get) => Command::HelpArticle(a),
                (Some(_), _) => Command::WrongMethod("GET"),
                (None, _) => Command::Unknown,
            },
            (["identify"], Post) => Command::Identify,
            (["identify"], _) => Command::WrongMethod("POST"),
            (["attributes"], Post) => Command::Attributes,
            (["attributes"], _) => Command::WrongMethod("POST"),
            (["conversations"], Post) => Command::Start,
            (["conversations"], _) => Command::WrongMethod("POST"),
            (["conversations", c], m) => match (id(c), m) {
                (None, _) => Command::Unknown,
                (Some(c), Get) => Command::Load(c),
                (Some(_), _) => Command::WrongMethod("GET"),
            },
            (["conversations", c, "attachments", a], m) => match (id(c), id(a), m) {
                (Some(c), Some(a), Get) => Command::Attachment(c, a),
                (Some(_), Some(_), _) => Command::WrongMethod("GET"),
                _ => Command::Unknown,
            },
            (["conversations", c, action], m) => match (id(c), *action, m) {
                (None, _, _) => Command::Unknown,
                (Some(c), "messages", Post) => Command::PostMessage(c),
                (Some(c), "typing", Post) => Command::Typing(c),
                (Some(c), "read", Post) => Command::Read(c),
                (Some(c), "events", Get) => Command::Events(c),
                (Some(c), "queue", Get) => Command::Queue(c),
                (Some(c), "attachments", Post) => Command::Upload(c),
                (Some(c), "csat", Post) => Command::Csat(c),
                (Some(c), "continue", Post) => Command::Continue(c),
                (Some(c), "transcript", Post) => Command::Transcript(c),
                (
                    Some(_),
                    "messages" | "typing" | "read" | "attachments" | "csat" | "continue"
                    | "transcript",
                    _,
                ) => Command::WrongMethod("POST"),
                (Some(_), "events" | "queue", _) => Command::WrongMethod("GET"),
                _ => Command::Unknown,
            },
            _ => Command::Unknown,
        }
    }
}

#[derive(Serialize)]
struct Posted<'a> {
    message: &'a shared::message::Message,
}

#[http_component]
async fn handle(request: IncomingRequest, out: ResponseOutparam) {
    spin_host::begin(COMPONENT, &request);
    let changes = !matches!(
        request.method(),
        Method::Get | Method::Head | Method::Options
    );
    let served = match serve(request).await {
        Ok(served) => served,
        Err(e) => Served::answer(spin_host::error(COMPONENT, e)),
    };
    // The visitor's message is acknowledged at once; the assistant's answer follows as an
    // event on their stream (its turn sends the webhooks it and the message caused).
    spin_host::respond(out, served.response).await;
    if let Some(conversation_id) = served.assistant_turn {
        spin_host::assistant_turn(COMPONENT, conversation_id).await;
    } else if changes && let Some(host) = served.host {
        // A new conversation, message or survey answer may have queued webhook deliveries; a
        // continue confirmation or a transcript waits in the outbox. Checked on the request's
        // own connection: every `open` costs the host a fresh SQLite connection, which parses
        // the whole schema before its first statement. (A failed request changed nothing.)
        if spin_host::dispatch_due(&host.ctx()) {
            spin_host::dispatch(COMPONENT).await;
        }
        spin_host::webhooks_if_due(COMPONENT, &host.ctx()).await
    }
}

/// What [`serve`] leaves for after the response has gone out.
struct Served {
    response: Response,
    /// The conversation the assistant should take a turn in.
    assistant_turn: Option<i64>,
    /// The request's connections, for the checks after the response.
    host: Option<SpinHost>,
}

impl Served {
    fn answer(response: Response) -> Served {
        Served {
            response,
            assistant_turn: None,
            host: None,
        }
    }
}

/// An upload's body is the file itself, so its route takes up to the attachment limit; every
/// other route takes JSON-sized bodies.
fn body_limit(request: &IncomingRequest) -> usize {
    let path = request.path_with_query().unwrap_or_default();
    let path = path.split('?').next().unwrap_or_default();
    if request.method() == Method::Post && path.ends_with("/attachments") {
        shared::attachment::MAX_BYTES
    } else {
        MAX_JSON_BODY_BYTES
    }
}

async fn serve(request: IncomingRequest) -> Result<Served, ApiError> {
    let limit = body_limit(&request);
    let request = ApiRequest::read(request, limit).await?;
    let command = Command::route(&request.method, &request.segments());
    let host = match command {
        Command::Unknown => return Err(ApiError::not_found_route()),
        Command::WrongMethod(allowed) => return Err(ApiError::method_not_allowed(allowed)),
        Command::Load(_)
        | Command::Config
        | Command::Events(_)
        | Command::Topics
        | Command::HelpSearch
        | Command::HelpArticle(_)
        | Command::Queue(_)
        | Command::Attachment(..) => SpinHost::open(Access::Read)?,
        _ => SpinHost::open(Access::Write)?,
    };
    let ctx = host.ctx();
    let authorization = request.header("authorization");
    // Every request counts against its address; a visitor's writes also against the visitor,
    // but only when their token authenticates: an unknown token gets no key of its own.
    spin_host::rate_limit(&ctx, COMPONENT, Subject::Address(request.client_address()))?;
    if request.method == Method::Post
        && let Ok(Some(token)) = visitor::optional_bearer_token(authorization)
        && let Some(visitor_id) = visitor::authenticated(&ctx, &token)?
    {
        spin_host::rate_limit(&ctx, COMPONENT, Subject::Visitor(visitor_id))?;
    }
    let mut assistant_turn = None;
    let response = match command {
        Command::Start => {
            let token = visitor::optional_bearer_token(authorization)?;
            let body: StartRequest = if request.body.is_empty() {
                StartRequest::default()
            } else {
                request.json()?
            };
            spin_host::json(201, &visitor::start(&ctx, token.as_ref(), &body)?)
        }
        Command::Load(id) => spin_host::json(
            200,
            &visitor::load(&ctx, &visitor::bearer_token(authorization)?, id)?,
        ),
        Command::PostMessage(id) => {
            let token = visitor::bearer_token(authorization)?;
            let (message, created) =
                visitor::post(&ctx, &token, id, &request.json::<PostMessageRequest>()?)?;
            // A conversation that (now) waits for an operator gets a routing pass before the
            // visitor hears back, so an available operator has it by then. One the assistant
            // owns gets its turn after the visitor has heard back.
            if created && shared::assistant::owns(ctx.db, id).map_err(ApiError::internal)? {
                assistant_turn = Some(id);
            } else if created
                && router::message_needs_pass(ctx.db, id, ctx.clock.now_ms())
                    .map_err(ApiError::internal)?
            {
                spin_host::route(COMPONENT, Sweep::Skip).await;
            }
            spin_host::json(
                if created { 201 } else { 200 },
                &Posted { message: &message },
            )
        }
        Command::Upload(id) => {
            let token = visitor::bearer_token(authorization)?;
            let name = shared::api::query_text(&request.query, "name").unwrap_or_default();
            let content_type = request.header("content-type").unwrap_or_default();
            let file = NewAttachment::from_upload(&name, content_type, request.body.clone())?;
            let client_id = shared::api::query_text(&request.query, "client_id");
            let (message, created) =
                visitor::upload(&ctx, &token, id, &file, client_id.as_deref())?;
            if created
                && router::message_needs_pass(ctx.db, id, ctx.clock.now_ms())
                    .map_err(ApiError::internal)?
            {
                spin_host::route(COMPONENT, Sweep::Skip).await;
            }
            spin_host::json(
                if created { 201 } else { 200 },
                &Posted { message: &message },
            )
        }
        Command::Attachment(id, attachment_id) => {
            let token = visitor::bearer_token(authorization)?;
            spin_host::file(&visitor::attachment(&ctx, &token, id, attachment_id)?)
        }
        Command::Typing(id) => {
            visitor::typing(&ctx, &visitor::bearer_token(authorization)?, id)?;
            spin_host::no_content()
        }
        Command::Read(id) => {
            let token = visitor::bearer_token(authorization)?;
            visitor::read(&ctx, &token, id, &request.json::<ReadRequest>()?)?;
            spin_host::no_content()
        }
        Command::Csat(id) => {
            let token = visitor::bearer_token(authorization)?;
            let answer = shared::csat::answer_in_widget(&ctx, &token, id, &request.json()?)?;
            spin_host::json_field(201, "csat", answer)
        }
        Command::Events(id) => {
            let token = visitor::bearer_token(authorization)?;
            let query = EventsQuery::parse(&request.query)?;
            spin_host::json(200, &visitor::events(&ctx, &token, id, query)?)
        }
        Command::HelpSearch => {
            let query = shared::api::query_text(&request.query, "q").unwrap_or_default();
            let language = shared::api::query_text(&request.query, "language");
            spin_host::json_field(
                200,
                "articles",
                shared::help::search(ctx.db, &query, language.as_deref())?,
            )
        }
        Command::HelpArticle(article_id) => {
            spin_host::json_field(200, "article", shared::help::article(ctx.db, article_id)?)
        }
        Command::Topics => spin_host::json_field(
            200,
            "topics",
            shared::topic::picker(ctx.db).map_err(ApiError::internal)?,
        ),
        Command::Identify => {
            let token = visitor::optional_bearer_token(authorization)?;
            let secret = spin_host::variable("identity_secret", "");
            let identified = identity::identify(&ctx, &secret, token.as_ref(), &request.json()?)?;
            spin_host::json(200, &identified)
        }
        Command::Attributes => {
            let token = visitor::bearer_token(authorization)?;
            let attributes = identity::set_attributes(&ctx, &token, &request.json()?)?;
            spin_host::json_field(200, "attributes", attributes)
        }
        Command::Continue(id) => {
            let token = visitor::bearer_token(authorization)?;
            let business = spin_host::variable("business_name", "Support");
            let done =
                continuation::continue_elsewhere(&ctx, &token, id, &request.json()?, &business)?;
            spin_host::json(201, &done)
        }
        Command::Transcript(id) => {
            let token = visitor::bearer_token(authorization)?;
            let business = spin_host::variable("business_name", "Support");
            let queued = continuation::transcript(&ctx, &token, id, &request.json()?, &business)?;
            spin_host::json(202, &queued)
        }
        Command::Queue(id) => {
            let token = visitor::bearer_token(authorization)?;
            // Waiting visitors poll this: it is where overdue re-routing checks get their turn
            // when no operator console is open to send heartbeats.
            let mut info = visitor::queue(&ctx, &token, id)?;
            if info.waiting && router::sweep_due(&ctx) {
                spin_host::route_if_needed(COMPONENT, &ctx, Sweep::IfDue).await;
                info = visitor::queue(&ctx, &token, id)?;
            }
            spin_host::json(200, &info)
        }
        Command::Config => spin_host::json(
            200,
            &shared::widget_settings::config(
                ctx.db,
                &spin_host::variable("business_name", "Support"),
                ctx.clock.now_ms(),
            )
            .map_err(ApiError::internal)?,
        ),
        Command::WrongMethod(_) | Command::Unknown => {
            return Err(ApiError::not_found_route());
        }
    };
    Ok(Served {
        response,
        assistant_turn,
        host: Some(host),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Command::route(&Method::Get, &["config"]), Command::Config);
        assert_eq!(
            Command::route(&Method::Post, &["conversations"]),
            Command::Start
        );
        assert_eq!(
            Command::route(&Method::Get, &["conversations", "5"]),
            Command::Load(5)
        );
        assert_eq!(
            Command::route(&Method::Post, &["conversations", "5", "messages"]),
            Command::PostMessage(5)
        );
        assert_eq!(
            Command::route(&Method::Get, &["conversations", "5", "events"]),
            Command::Events(5)
        );
        assert_eq!(
            Command::route(&Method::Get, &["conversations", "x"]),
            Command::Unknown
        );
        assert_eq!(
            Command::route(&Method::Get, &["conversations", "-1"]),
            Command::Unknown
        );
        assert_eq!(
            Command::route(&Method::Delete, &["conversations", "5", "messages"]),
            Command::WrongMethod("POST")
        );
        assert_eq!(
            Command::route(&Method::Post, &["conversations", "5", "csat"]),
            Command::Csat(5)
        );
        assert_eq!(
            Command::route(&Method::Get, &["conversations", "5", "csat"]),
            Command::WrongMethod("POST")
        );
        assert_eq!(
            Command::route(&Method::Post, &["identify"]),
            Command::Identify
        );
        assert_eq!(
            Command::route(&Method::Post, &["conversations", "5", "continue"]),
            Command::Continue(5)
        );
        assert_eq!(
            Command::route(&Method::Get, &["conversations", "5", "transcript"]),
            Command::WrongMethod("POST")
        );
        assert_eq!(Command::route(&Method::Get, &["nope"]), Command::Unknown);
    }

    spin_host::route_table_property!(Command::route);
}
