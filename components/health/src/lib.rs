//! `health`: `GET /health` (and `HEAD`), for load balancers, orchestrators and supervisors.
//!
//! 200 `{"status":"ok","checks":{"sqlite":{...},"key_value":{...}}}` when this node reaches
//! both stores, else 503 with the failing check marked `"ok": false`. It runs no migrations and
//! writes no rows (the checks are in `shared::health`); the causes of a failure go to the log,
//! never into the answer. Never cached. A component of its own so a probe costs no more than
//! opening the two stores, and so it still answers when an API component is broken.

use shared::api::ApiError;
use spin_host::{Access, SpinDb, SpinKv, SystemClock};
use spin_sdk::http::{IncomingRequest, Method, Response};
use spin_sdk::http_component;

const COMPONENT: &str = "health";

#[http_component]
async fn handle(request: IncomingRequest) -> Response {
    spin_host::begin(COMPONENT, &request);
    spin_host::finish(serve(&request))
}

fn serve(request: &IncomingRequest) -> Response {
    let head = match request.method() {
        Method::Get => false,
        Method::Head => true,
        _ => return spin_host::error(COMPONENT, ApiError::method_not_allowed("GET, HEAD")),
    };
    let path = request.path_with_query().unwrap_or_default();
    let path = path.split('?').next().unwrap_or_default();
    if path.trim_end_matches('/') != "/health" {
        return spin_host::error(COMPONENT, ApiError::not_found_route());
    }
    let db = SpinDb::open(Access::Read)
        .inspect_err(|e| spin_host::observe::log("error", COMPONENT, &e.to_string()))
        .ok();
    let kv = SpinKv::open()
        .inspect_err(|e| spin_host::observe::log("error", COMPONENT, &e.to_string()))
        .ok();
    let (health, causes) = shared::health::check(
        db.as_ref().map(|d| d as &dyn shared::store::Database),
        kv.as_ref().map(|k| k as &dyn shared::host::KeyValue),
        &SystemClock,
    );
    for cause in &causes {
        spin_host::observe::log("error", COMPONENT, cause);
    }
    let mut response = spin_host::json(if health.ok() { 200 } else { 503 }, &health);
    if head {
        response.body_mut().clear();
    }
    response
}
