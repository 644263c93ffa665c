//! `webhooks`: sends outgoing webhooks to the endpoints admins registered, from the durable
//! delivery outbox. Private (`route = { private = true }`): only other components reach it, by
//! Spin service chaining at `http://webhooks.spin.internal`.
//!
//! A component of its own, apart from `dispatch`, because its destinations are arbitrary
//! admin-chosen hosts: its manifest entry allows `https://*:*` (and the one
//! `webhook_trusted_origin`), while `dispatch` keeps its narrow list of provider APIs.
//!
//! Thin by design: which deliveries are due, leases, payloads, retries and the SSRF rule are
//! `shared::webhook`; this file reads the settings and does the HTTP.
//!
//! - `POST /send`: one pass: claims due deliveries one at a time (each under a lease), sends
//!   each with `Webhook-Id`, `Webhook-Timestamp` and `Webhook-Signature`, waits at most
//!   `webhook_timeout_ms` for the answer, records it; stops when nothing is due or after
//!   [`PASS_BUDGET_MS`]; says what happened. Callers: `inbox-api` after changes and on
//!   heartbeats, `admin-api` after queueing a test ping, the assistant after its turn, and the
//!   channel webhooks after storing a message, each only when something is due.

use serde::Serialize;
use shared::api::ApiError;
use shared::store::transaction;
use shared::webhook::address::{EndpointUrl, Origin};
use shared::webhook::{self, Outcome};
use spin_host::{Access, ApiRequest, SpinHost, variable};
use spin_sdk::http::{IncomingRequest, Method, Response};
use spin_sdk::http_component;

const COMPONENT: &str = "webhooks";
/// A pass claims no new delivery after this long, so it ends well inside hosted Spin's 30 s
/// (one more attempt may run up to `webhook_timeout_ms` past it).
const PASS_BUDGET_MS: i64 = 15_000;
/// The most of a receiver's answer kept (it only explains a failure).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

#[derive(Debug, PartialEq)]
enum Command {
    Send,
    WrongMethod(&'static str),
    Unknown,
}

impl Command {
    fn route(method: &Method, segments: &[&str]) -> Command {
        match (segments, method) {
            (["send"], Method::Post) => Command::Send,
            (["send"], _) => Command::WrongMethod("POST"),
            _ => Command::Unknown,
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Serialize)]
struct Pass {
    delivered: usize,
    retrying: usize,
    failed: usize,
}

#[http_component]
async fn handle(request: IncomingRequest) -> Response {
    spin_host::begin(COMPONENT, &request);
    spin_host::finish(match serve(request).await {
        Ok(response) => response,
        Err(e) => spin_host::error(COMPONENT, e),
    })
}

/// POSTs the delivery; the receiver's answer, or why there was none.
fn attempt(
    job: &webhook::Job,
    url: &EndpointUrl,
    body: &str,
    now_ms: i64,
    timeout_ms: u64,
) -> Outcome {
    let headers = job.headers(body, now_ms.div_euclid(1000));
    match spin_host::post_with_timeout(
        url.as_str(),
        &headers,
        body.as_bytes(),
        std::time::Duration::from_millis(timeout_ms),
        MAX_ANSWER_BYTES,
    ) {
        Ok((status, answer)) => Outcome::from_answer(status, &answer),
        Err(why) => Outcome::Failed {
            status: None,
            error: format!("could not deliver: {why}"),
        },
    }
}

async fn serve(request: IncomingRequest) -> Result<Response, ApiError> {
    let request = ApiRequest::read(request, 1024).await?;
    match Command::route(&request.method, &request.segments()) {
        Command::Send => {}
        Command::WrongMethod(allowed) => return Err(ApiError::method_not_allowed(allowed)),
        Command::Unknown => return Err(ApiError::not_found_route()),
    }
    let schedule = webhook::retry_schedule(&variable("webhook_retry_schedule_ms", ""))
        .map_err(|e| ApiError::internal(format!("webhook_retry_schedule_ms: {e}")))?;
    let trusted = Origin::parse_setting(&variable("webhook_trusted_origin", ""))
        .map_err(|e| ApiError::internal(format!("webhook_trusted_origin: {e}")))?;
    let timeout_ms = webhook::attempt_timeout_ms(&variable("webhook_timeout_ms", ""));
    let host = SpinHost::open(Access::Write)?;
    let ctx = host.ctx();
    let db = ctx.db;
    let started = ctx.clock.now_ms();
    let mut pass = Pass::default();
    while ctx.clock.now_ms() - started < PASS_BUDGET_MS {
        let Some(job) = transaction(db, || webhook::claim(db, ctx.clock.now_ms()))
            .map_err(ApiError::internal)?
        else {
            break;
        };
        // The URL is checked again at every attempt: the trusted origin may have changed since
        // the endpoint was saved.
        let outcome = match (&job.payload, EndpointUrl::parse(&job.url, trusted.as_ref())) {
            (None, _) => Outcome::Refused("what this event was about no longer exists".into()),
            (_, Err(e)) => Outcome::Refused(format!("refused: {e}")),
            (Some(body), Ok(url)) => attempt(&job, &url, body, ctx.clock.now_ms(), timeout_ms),
        };
        if !matches!(outcome, Outcome::Delivered(_)) {
            spin_host::observe::log(
                "warn",
                COMPONENT,
                &format!(
                    "delivery {} ({}) to endpoint {} attempt {}: {outcome:?}",
                    job.delivery_id, job.kind, job.endpoint_id, job.attempts
                ),
            );
        }
        let now = ctx.clock.now_ms();
        let state = transaction(db, || webhook::record(db, &job, &outcome, &schedule, now))
            .map_err(ApiError::internal)?;
        match state {
            "delivered" => pass.delivered += 1,
            "pending" => pass.retrying += 1,
            _ => pass.failed += 1,
        }
    }
    Ok(spin_host::json(200, &pass))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Command::route(&Method::Post, &["send"]), Command::Send);
        assert_eq!(
            Command::route(&Method::Get, &["send"]),
            Command::WrongMethod("POST")
        );
        assert_eq!(Command::route(&Method::Post, &["x"]), Command::Unknown);
    }

    spin_host::route_table_property!(Command::route);
}
