//! `router`: makes every routing decision. Private (`route = { private = true }`): only other
//! components reach it, by Spin service chaining at `http://router.spin.internal`.
//!
//! Thin by design: the pass and the rules live in `shared::router` and `shared::routing`.
//!
//! - `POST /route?sweep=skip|due|now`: one routing pass (re-routing checks as `sweep` says,
//!   topic detection, assignments); answers what it did. Callers: `widget-api` (a conversation
//!   starts waiting; visitors polling their queue place), `inbox-api` (status changes,
//!   transfers, assignments, presence, heartbeats), `admin-api` (capacity, teams, policies).
//!   A sweeping pass (`due`/`now`) also runs the retention purge when it is due
//!   (`shared::retention`).
//! - `GET /queue/:conversation_id`: the queue position and wait estimate (for the assistant).

use shared::api::{ApiError, query_param};
use shared::router::{self, Sweep};
use spin_host::{Access, ApiRequest, SpinHost, id};
use spin_sdk::http::{IncomingRequest, Method, Response};
use spin_sdk::http_component;

const COMPONENT: &str = "router";

#[derive(Debug, PartialEq)]
enum Command {
    Route,
    Queue(i64),
    WrongMethod(&'static str),
    Unknown,
}

impl Command {
    fn route(method: &Method, segments: &[&str]) -> Command {
        match (segments, method) {
            (["route"], Method::Post) => Command::Route,
            (["route"], _) => Command::WrongMethod("POST"),
            (["queue", c], Method::Get) => id(c).map_or(Command::Unknown, Command::Queue),
            (["queue", _], _) => Command::WrongMethod("GET"),
            _ => Command::Unknown,
        }
    }
}

#[http_component]
async fn handle(request: IncomingRequest) -> Response {
    spin_host::begin(COMPONENT, &request);
    spin_host::finish(match serve(request).await {
        Ok(response) => response,
        Err(e) => spin_host::error(COMPONENT, e),
    })
}

async fn serve(request: IncomingRequest) -> Result<Response, ApiError> {
    let request = ApiRequest::read(request, 1024).await?;
    match Command::route(&request.method, &request.segments()) {
        Command::Route => {
            let sweep = match query_param(&request.query, "sweep") {
                None => Sweep::Skip,
                Some(text) => Sweep::parse(text).ok_or_else(|| {
                    ApiError::new(400, "invalid_sweep", "sweep must be skip, due or now")
                })?,
            };
            let host = SpinHost::open(Access::Write)?;
            let outcome = router::run(&host.ctx(), sweep)?;
            // Retention rides on the periodic sweep (operators' heartbeats ask for it); it
            // runs a bounded batch at most every `retention::INTERVAL_MS` on any node.
            if sweep != Sweep::Skip {
                shared::retention::purge_if_due(&host.ctx());
            }
            Ok(spin_host::json(200, &outcome))
        }
        Command::Queue(conversation_id) => {
            let host = SpinHost::open(Access::Read)?;
            let ctx = host.ctx();
            let info = router::queue_info(ctx.db, conversation_id, ctx.clock.now_ms())
                .map_err(ApiError::internal)?;
            Ok(spin_host::json(200, &info))
        }
        Command::WrongMethod(allowed) => Err(ApiError::method_not_allowed(allowed)),
        Command::Unknown => Err(ApiError::not_found_route()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Command::route(&Method::Post, &["route"]), Command::Route);
        assert_eq!(
            Command::route(&Method::Get, &["route"]),
            Command::WrongMethod("POST")
        );
        assert_eq!(
            Command::route(&Method::Get, &["queue", "7"]),
            Command::Queue(7)
        );
        assert_eq!(
            Command::route(&Method::Get, &["queue", "x"]),
            Command::Unknown
        );
        assert_eq!(Command::route(&Method::Get, &["nope"]), Command::Unknown);
    }

    spin_host::route_table_property!(Command::route);
}
