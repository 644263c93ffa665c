//! `static-files`: serves the `static/` directory (mounted at `/` by `spin.toml`).
//!
//! A thin handler over [`policy`], a pure, unit-tested core that decides everything about a
//! response except reading the file: which file a URL means, its content type, caching, and the
//! security headers (a strict CSP for the console, a frameable one for the widget frame).

mod policy;

use policy::{Resolution, ServePlan};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(request: Request) -> Response {
    let mut response = serve(&request);
    // HSTS only when the operator says every request arrives over HTTPS (README, "Security
    // headers"); usually the TLS proxy sets it instead.
    let max_age = spin_sdk::variables::get("hsts_max_age").unwrap_or_default();
    if let Some(header) = policy::hsts(&max_age) {
        response.set_header("strict-transport-security", header);
    }
    response
}

fn serve(request: &Request) -> Response {
    let head = match request.method() {
        Method::Get => false,
        Method::Head => true,
        _ => return text(405, "method not allowed", &[("allow", "GET, HEAD")]),
    };
    let path = request
        .header("spin-path-info")
        .and_then(|v| v.as_str())
        .unwrap_or(request.path())
        .to_owned();
    let file = match policy::resolve(&path) {
        Resolution::File(file) => file,
        Resolution::Redirect(location) => return text(308, "moved", &[("location", &location)]),
        Resolution::NotFound => return not_found(),
    };
    let Ok(bytes) = std::fs::read(&file) else {
        return not_found();
    };
    let if_none_match = request
        .header("if-none-match")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let plan = ServePlan::new(&file, &bytes, if_none_match.as_deref());
    let mut builder = Response::builder();
    builder.status(plan.status);
    for (name, value) in &plan.headers {
        builder.header(*name, value.as_str());
    }
    if plan.status == 200 && !head {
        builder.body(bytes);
    }
    builder.build()
}

fn not_found() -> Response {
    text(404, "not found", &[])
}

fn text(status: u16, body: &str, headers: &[(&str, &str)]) -> Response {
    let mut builder = Response::builder();
    builder
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .header("x-content-type-options", "nosniff");
    for (name, value) in headers {
        builder.header(*name, *value);
    }
    builder.body(body.as_bytes().to_vec()).build()
}
