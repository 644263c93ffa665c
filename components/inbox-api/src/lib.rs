//! `inbox-api`: what the operator console calls, under `/api/inbox`.
//!
//! Thin by design: this file turns a request into a [`Command`], authenticates the operator,
//! runs the matching use case from `shared::inbox`, and maps the result to a response. The API
//! is documented in the README ("Inbox API").
//!
//! Sessions ride in an HttpOnly, `SameSite=Strict` cookie (or a bearer token for API clients).
//! Every POST must be `application/json`, which a cross-site form cannot send: together these
//! close CSRF without a token dance.

use serde::Serialize;
use shared::api::{ApiError, MAX_JSON_BODY_BYTES};
use shared::chat::{EventsQuery, PostMessageRequest, ReadRequest};
use shared::conversation::StatusFilter;
use shared::inbox::{self, FirstAdmin, LoginRequest, SESSION_COOKIE, SetupRequest};
use shared::operator::Operator;
use spin_host::{Access, ApiRequest, SpinHost};
use spin_sdk::http::{IncomingRequest, Method, Response};
use spin_sdk::http_component;

const COMPONENT: &str = "inbox-api";

/// Every request the console can make, decided before any I/O.
#[derive(Debug, PartialEq)]
enum Command {
    Setup,
    Login,
    Logout,
    Me,
    List,
    Thread(i64),
    Reply(i64),
    Typing(i64),
    Read(i64),
    Events,
    WrongMethod(&'static str),
    Unknown,
}

impl Command {
    fn route(method: &Method, segments: &[&str]) -> Command {
        use Method::{Get, Post};
        let id = |s: &str| s.parse::<i64>().ok().filter(|id| *id > 0);
        match (segments, method) {
            (["setup"], Post) => Command::Setup,
            (["login"], Post) => Command::Login,
            (["logout"], Post) => Command::Logout,
            (["setup" | "login" | "logout"], _) => Command::WrongMethod("POST"),
            (["me"], Get) => Command::Me,
            (["events"], Get) => Command::Events,
            (["conversations"], Get) => Command::List,
            (["me" | "events" | "conversations"], _) => Command::WrongMethod("GET"),
            (["conversations", c], m) => match (id(c), m) {
                (None, _) => Command::Unknown,
                (Some(c), Get) => Command::Thread(c),
                (Some(_), _) => Command::WrongMethod("GET"),
            },
            (["conversations", c, action], m) => match (id(c), *action, m) {
                (None, _, _) => Command::Unknown,
                (Some(c), "messages", Post) => Command::Reply(c),
                (Some(c), "typing", Post) => Command::Typing(c),
                (Some(c), "read", Post) => Command::Read(c),
                (Some(_), "messages" | "typing" | "read", _) => Command::WrongMethod("POST"),
                _ => Command::Unknown,
            },
            _ => Command::Unknown,
        }
    }
}

#[derive(Serialize)]
struct Me<'a> {
    operator: &'a Operator,
}

#[derive(Serialize)]
struct Posted<'a> {
    message: &'a shared::message::Message,
}

#[http_component]
async fn handle(request: IncomingRequest) -> Response {
    match serve(request).await {
        Ok(response) => response,
        Err(e) => spin_host::error(COMPONENT, e),
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

/// The session token: the cookie for the console, a bearer token for API clients.
fn session_token(request: &ApiRequest) -> Option<&str> {
    request
        .header("authorization")
        .and_then(shared::secret::bearer)
        .or_else(|| request.cookie(SESSION_COOKIE))
}

/// The caller's IP address, without the port (Spin's `spin-client-addr` is `ip:port`).
fn client_address(request: &ApiRequest) -> &str {
    without_port(request.header("spin-client-addr").unwrap_or("unknown"))
}

/// `host:port` or `ip:port` (IPv6 in brackets) without the port.
fn without_port(address: &str) -> &str {
    address
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(address, |(host, _)| host)
}

fn session_cookie(request: &ApiRequest, value: &str, max_age_s: i64) -> String {
    // `Secure` unless the browser is talking to this machine itself. Behind a TLS proxy Spin sees
    // plain http, so the scheme cannot decide; the host name the browser used can.
    // WASI HTTP hands the component no `host` header; Spin's `spin-full-url` is built from it.
    let url = request.header("spin-full-url").unwrap_or_default();
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = without_port(after_scheme.split(['/', '?']).next().unwrap_or_default());
    let secure = !matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    format!(
        "{SESSION_COOKIE}={value}; Path=/api/inbox; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{}",
        if secure { "; Secure" } else { "" }
    )
}

async fn serve(request: IncomingRequest) -> Result<Response, ApiError> {
    let request = ApiRequest::read(request, MAX_JSON_BODY_BYTES).await?;
    let command = Command::route(&request.method, &request.segments());
    match command {
        Command::Unknown => return Err(ApiError::not_found_route()),
        Command::WrongMethod(allowed) => return Err(ApiError::method_not_allowed(allowed)),
        _ => {}
    }
    if request.method == Method::Post
        && !shared::api::is_json_content_type(request.header("content-type"))
    {
        return Err(ApiError::unsupported_media_type());
    }
    let access = match command {
        Command::Me | Command::List | Command::Thread(_) | Command::Events => Access::Read,
        _ => Access::Write,
    };
    let host = SpinHost::open(access)?;
    let ctx = host.ctx();

    // Commands that need no session.
    match command {
        Command::Setup => {
            let operator = inbox::setup(
                &ctx,
                &first_admin(),
                &request.json::<SetupRequest>()?,
                client_address(&request),
            )?;
            return Ok(spin_host::json(
                201,
                &Me {
                    operator: &operator,
                },
            ));
        }
        Command::Login => {
            let ttl = session_ttl_ms();
            let signed_in = inbox::login(
                &ctx,
                &first_admin(),
                &request.json::<LoginRequest>()?,
                ttl,
                client_address(&request),
            )?;
            let cookie = session_cookie(&request, &signed_in.token, ttl / 1000);
            return Ok(spin_host::json_with_headers(
                200,
                &signed_in,
                &[("set-cookie", cookie)],
            ));
        }
        Command::Logout => {
            inbox::logout(&ctx, session_token(&request))?;
            return Ok(spin_host::no_content_with_headers(&[(
                "set-cookie",
                session_cookie(&request, "", 0),
            )]));
        }
        _ => {}
    }

    let operator = inbox::authenticate(&ctx, session_token(&request))?;
    Ok(match command {
        Command::Me => spin_host::json(
            200,
            &Me {
                operator: &operator,
            },
        ),
        Command::List => {
            let status = shared::api::query_param(&request.query, "status").unwrap_or("open");
            let filter = StatusFilter::parse(status).ok_or_else(|| {
                ApiError::new(
                    400,
                    "invalid_input",
                    "status: must be open, resolved or all",
                )
            })?;
            spin_host::json(200, &inbox::list(&ctx, &operator, filter)?)
        }
        Command::Thread(id) => spin_host::json(200, &inbox::thread(&ctx, &operator, id)?),
        Command::Reply(id) => {
            let (message, created) =
                inbox::reply(&ctx, &operator, id, &request.json::<PostMessageRequest>()?)?;
            spin_host::json(
                if created { 201 } else { 200 },
                &Posted { message: &message },
            )
        }
        Command::Typing(id) => {
            inbox::typing(&ctx, &operator, id)?;
            spin_host::no_content()
        }
        Command::Read(id) => {
            inbox::read(&ctx, &operator, id, &request.json::<ReadRequest>()?)?;
            spin_host::no_content()
        }
        Command::Events => spin_host::json(
            200,
            &inbox::events(&ctx, &operator, EventsQuery::parse(&request.query)?)?,
        ),
        Command::Setup
        | Command::Login
        | Command::Logout
        | Command::WrongMethod(_)
        | Command::Unknown => {
            return Err(ApiError::not_found_route());
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Command::route(&Method::Post, &["login"]), Command::Login);
        assert_eq!(
            Command::route(&Method::Get, &["login"]),
            Command::WrongMethod("POST")
        );
        assert_eq!(
            Command::route(&Method::Get, &["conversations"]),
            Command::List
        );
        assert_eq!(
            Command::route(&Method::Get, &["conversations", "3"]),
            Command::Thread(3)
        );
        assert_eq!(
            Command::route(&Method::Post, &["conversations", "3", "messages"]),
            Command::Reply(3)
        );
        assert_eq!(Command::route(&Method::Get, &["events"]), Command::Events);
        assert_eq!(
            Command::route(&Method::Get, &["conversations", "0"]),
            Command::Unknown
        );
        assert_eq!(Command::route(&Method::Get, &["admin"]), Command::Unknown);
    }

    #[test]
    fn ports_are_stripped_from_addresses() {
        assert_eq!(without_port("127.0.0.1:5000"), "127.0.0.1");
        assert_eq!(without_port("[::1]:3000"), "[::1]");
        assert_eq!(without_port("chat.example.com"), "chat.example.com");
    }
}
