//! The one place the app meets `spin-sdk`, shared by every API component so none repeats it.
//!
//! STYLE.md puts the host adapter in each component's `host.rs`; with three and more components
//! doing the same I/O that would be the same file three times, so it lives here once.
//!
//! # Layout
//! - [`SpinHost`]: the `shared::host` traits over Spin's SQLite, key-value store, clock and
//!   randomness; opening it configures the connection (for reading or writing) and applies
//!   migrations.
//! - [`ApiRequest`]: an incoming request read into plain parts, with the body size limit
//!   enforced while streaming (an oversized body is never buffered whole).
//! - Response helpers: [`json`], [`no_content`], [`error`] (logs 5xx causes, sends the envelope).
//! - [`route`], [`route_if_needed`]: ask the private `router` component for a routing pass
//!   (service chaining).
//! - [`dispatch`], [`dispatch_due`]: ask the private `dispatch` component to send what the
//!   outbox holds; [`respond`]: answer first, then do such work.
//! - [`webhooks`], [`webhooks_due`]: ask the private `webhooks` component to send the outgoing
//!   webhooks that are due.
//! - [`begin`], [`finish`]: every request's id, security headers and its one structured log
//!   line ([`observe`]); service-chaining calls carry the id along.
//! - [`rate_limit`]: the request-rate limits of `shared::rate_limit`, as 429 `rate_limited`.
//! - [`csrf`]: the origin check for cookie-authenticated changes
//!   ([`ApiRequest::guard_state_change`]).
//! - [`route_table_property!`]: the property test every component's route table gets.

pub mod csrf;
#[cfg(test)]
mod fuzz;

/// Generates, inside a component's test module, the property test of its route table: any
/// method and path maps to a command (an unknown one at worst) without panicking, because the
/// route table is the first parser every request meets. Give it the component's
/// `fn(&Method, &[&str]) -> Command`; the component needs `proptest` as a dev-dependency.
/// 512 cases per run (the CI budget of README > Fuzzing), or `PROPTEST_CASES` when set.
#[macro_export]
macro_rules! route_table_property {
    ($route:path) => {
        proptest::proptest! {
            #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
                std::env::var("PROPTEST_CASES")
                    .ok()
                    .and_then(|cases| cases.parse().ok())
                    .unwrap_or(512),
            ))]

            #[test]
            fn any_method_and_path_routes_without_panicking(
                segments in proptest::collection::vec("[^/]{0,12}|-?[0-9]{1,25}", 0..7),
                method in proptest::sample::select(vec![
                    spin_sdk::http::Method::Get, spin_sdk::http::Method::Post,
                    spin_sdk::http::Method::Put, spin_sdk::http::Method::Patch,
                    spin_sdk::http::Method::Delete, spin_sdk::http::Method::Head,
                    spin_sdk::http::Method::Options,
                ]),
            ) {
                let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
                let _ = $route(&method, &segments);
            }
        }
    };
}
pub mod observe;

use futures::StreamExt;
use serde::Serialize;
use shared::api::{self, ApiError};
use shared::host::{Clock, Ctx, Entropy, KeyValue, KvError};
use shared::rate_limit::{Decision, PerMinute, Subject};
pub use shared::store::Access;
use shared::store::{Database, DbError, Queued, Rows, SqlValue};
use spin_sdk::http::{IncomingRequest, Method, OutgoingResponse, Response, ResponseOutparam};
use spin_sdk::{key_value, sqlite, variables};

/// Spin's default SQLite database.
pub struct SpinDb(sqlite::Connection);

impl SpinDb {
    /// Opens the default database with the settings `access` needs, queueing for locks in
    /// short attempts ([`Queued`]), without migrating it (the health check must not change the
    /// schema; [`SpinHost::open`] migrates).
    pub fn open(access: Access) -> Result<Queued<SpinDb>, String> {
        let connection =
            sqlite::Connection::open_default().map_err(|e| format!("sqlite open: {e:?}"))?;
        let db = Queued::new(SpinDb(connection));
        shared::store::configure_connection(&db, access).map_err(|e| e.to_string())?;
        Ok(db)
    }
}

impl Database for SpinDb {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, DbError> {
        let params: Vec<sqlite::Value> = params
            .iter()
            .map(|p| match p {
                SqlValue::Null => sqlite::Value::Null,
                SqlValue::Integer(v) => sqlite::Value::Integer(*v),
                SqlValue::Real(v) => sqlite::Value::Real(*v),
                SqlValue::Text(v) => sqlite::Value::Text(v.clone()),
                SqlValue::Blob(v) => sqlite::Value::Blob(v.clone()),
            })
            .collect();
        let result = self.0.execute(sql, &params).map_err(|e| {
            // Name the statement (its first words) so a log line says where it failed.
            let statement: String = sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
            DbError::Host(format!("{e:?} in `{statement}`"))
        })?;
        let rows = result
            .rows
            .into_iter()
            .map(|row| {
                row.values
                    .into_iter()
                    .map(|v| match v {
                        sqlite::Value::Null => SqlValue::Null,
                        sqlite::Value::Integer(v) => SqlValue::Integer(v),
                        sqlite::Value::Real(v) => SqlValue::Real(v),
                        sqlite::Value::Text(v) => SqlValue::Text(v),
                        sqlite::Value::Blob(v) => SqlValue::Blob(v),
                    })
                    .collect()
            })
            .collect();
        Ok(Rows {
            columns: result.columns,
            rows,
        })
    }
}

/// Spin's default key-value store.
pub struct SpinKv(key_value::Store);

impl SpinKv {
    /// Opens the default key-value store.
    pub fn open() -> Result<SpinKv, String> {
        key_value::Store::open_default()
            .map(SpinKv)
            .map_err(|e| format!("key-value open: {e:?}"))
    }
}

impl KeyValue for SpinKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.0.get(key).map_err(|e| KvError(format!("{e:?}")))
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.0
            .set(key, value)
            .map_err(|e| KvError(format!("{e:?}")))
    }
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
    fn sleep_ms(&self, ms: u64) {
        // Each request has its own instance, so blocking it blocks no one else.
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn fill(&self, buf: &mut [u8]) {
        // wasi:random never fails on a conforming host; if it did, an all-zero token must not be
        // issued, so this aborts the request (a 500) rather than continue.
        if getrandom::fill(buf).is_err() {
            std::process::abort();
        }
    }
}

/// Everything a use case may touch, opened for one request.
pub struct SpinHost {
    db: Queued<SpinDb>,
    kv: SpinKv,
}

impl SpinHost {
    /// Opens the default database and key-value store, sets the connection settings `access`
    /// needs, and brings the schema up to date.
    pub fn open(access: Access) -> Result<SpinHost, ApiError> {
        let connection = sqlite::Connection::open_default()
            .map_err(|e| ApiError::internal(format!("sqlite open: {e:?}")))?;
        let db = Queued::new(SpinDb(connection));
        shared::store::configure_connection(&db, access).map_err(ApiError::internal)?;
        shared::migrations::migrate(&db).map_err(ApiError::internal)?;
        let kv = key_value::Store::open_default()
            .map_err(|e| ApiError::internal(format!("key-value open: {e:?}")))?;
        Ok(SpinHost { db, kv: SpinKv(kv) })
    }

    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            db: &self.db,
            kv: &self.kv,
            clock: &SystemClock,
            entropy: &SystemEntropy,
        }
    }
}

/// A Spin variable, or `default` when it is unset or empty.
pub fn variable(name: &str, default: &str) -> String {
    variables::get(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// An incoming request, read into plain parts.
pub struct ApiRequest {
    pub method: Method,
    /// The path below the component's route (Spin's `spin-path-info`), e.g. `/conversations/7`.
    pub path: String,
    pub query: String,
    headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    /// See [`ApiRequest::client_address`].
    client_addr: String,
}

impl ApiRequest {
    /// Reads the request, refusing bodies over `max_body` bytes without buffering them whole.
    pub async fn read(request: IncomingRequest, max_body: usize) -> Result<ApiRequest, ApiError> {
        let method = request.method();
        let headers = request.headers().entries();
        let path_with_query = request.path_with_query().unwrap_or_default();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| std::str::from_utf8(v).ok())
        };
        let query = path_with_query
            .split_once('?')
            .map(|(_, q)| q.to_owned())
            .unwrap_or_default();
        let path = match header("spin-path-info") {
            Some(info) => info.to_owned(),
            None => path_with_query
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned(),
        };
        let declared = header("content-length").and_then(|v| v.trim().parse::<usize>().ok());
        if declared.is_some_and(|len| len > max_body) {
            return Err(ApiError::payload_too_large(max_body));
        }
        let mut body = Vec::new();
        let mut stream = request.into_body_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| {
                ApiError::new(400, "invalid_body", "the request body could not be read")
            })?;
            if body.len() + chunk.len() > max_body {
                return Err(ApiError::payload_too_large(max_body));
            }
            body.extend_from_slice(&chunk);
        }
        let client_addr = client_address_of(&headers, &variable("client_ip_header", ""));
        Ok(ApiRequest {
            method,
            path,
            query,
            headers,
            body,
            client_addr,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// The value of cookie `name`, if sent.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            .filter_map(|(_, v)| std::str::from_utf8(v).ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// The path split into segments, without the leading slash and empty segments.
    pub fn segments(&self) -> Vec<&str> {
        self.path.split('/').filter(|s| !s.is_empty()).collect()
    }

    /// The operator session token: the console's cookie, or a bearer token for API clients.
    pub fn session_token(&self) -> Option<&str> {
        self.header("authorization")
            .and_then(shared::secret::bearer)
            .or_else(|| self.cookie(shared::inbox::SESSION_COOKIE))
    }

    /// The caller's IP address, without the port: Spin's `spin-client-addr` (`ip:port`), or,
    /// behind a proxy, the header the `client_ip_header` variable names (see
    /// [`client_address_of`]).
    pub fn client_address(&self) -> &str {
        &self.client_addr
    }

    /// The last value of header `name`: Spin appends its `spin-*` headers after any a client
    /// sent under the same name, so the last one is Spin's.
    fn last_header(&self, name: &str) -> Option<&str> {
        last_header(&self.headers, name)
    }

    /// `scheme://host[:port]` as the browser addressed us (from Spin's `spin-full-url`), for
    /// links we hand out such as invitations. Behind a TLS proxy Spin sees plain http; the
    /// `x-forwarded-proto` the proxy sets tells the truth.
    pub fn origin(&self) -> String {
        let url = self.last_header("spin-full-url").unwrap_or_default();
        let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        let scheme = match self.header("x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            _ => scheme,
        };
        format!("{scheme}://{host}")
    }

    /// Whether the browser talks to this machine itself (`localhost`, `127.0.0.1`, `[::1]`).
    fn loopback_host(&self) -> bool {
        // WASI HTTP hands the component no `host` header; Spin's `spin-full-url` is built from it.
        let url = self.last_header("spin-full-url").unwrap_or_default();
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let host = without_port(after_scheme.split(['/', '?']).next().unwrap_or_default());
        matches!(host, "localhost" | "127.0.0.1" | "[::1]")
    }

    /// The session cookie: HttpOnly, SameSite=Strict, for every `/api` component, and `Secure`
    /// unless the browser is talking to this machine itself. Behind a TLS proxy Spin sees plain
    /// http, so the scheme cannot decide; the host name the browser used can.
    pub fn session_cookie(&self, value: &str, max_age_s: i64) -> String {
        format!(
            "{}={value}; Path=/api; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{}",
            shared::inbox::SESSION_COOKIE,
            if self.loopback_host() { "" } else { "; Secure" }
        )
    }

    /// The checks for requests that change things, against cross-site request forgery:
    /// - a body must be JSON (415 otherwise): a cross-site form cannot send it, which with the
    ///   SameSite=Strict cookie is the first defence;
    /// - a request riding on the session cookie must come from our own origin (403 `csrf`, see
    ///   [`csrf`]): the browser's `Origin` must be the address it used (or `public_base_url`).
    pub fn guard_state_change(&self) -> Result<(), ApiError> {
        let changing = matches!(self.method, Method::Post | Method::Patch | Method::Put);
        if changing && !api::is_json_content_type(self.header("content-type")) {
            return Err(ApiError::unsupported_media_type());
        }
        let own = self.origin();
        let public = variable("public_base_url", "");
        let check = csrf::Request {
            changes_state: changing || self.method == Method::Delete,
            has_bearer: self
                .header("authorization")
                .and_then(shared::secret::bearer)
                .is_some(),
            has_session_cookie: self.cookie(shared::inbox::SESSION_COOKIE).is_some(),
            origin: self.header("origin"),
            sec_fetch_site: self.header("sec-fetch-site"),
        };
        if csrf::is_cross_site(&check, &[own.as_str(), public.as_str()]) {
            return Err(ApiError::new(
                403,
                "csrf",
                "this change must come from the console's own origin",
            ));
        }
        Ok(())
    }

    /// Parses the JSON body into `T`, insisting on a JSON content type first.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        if !api::is_json_content_type(self.header("content-type")) {
            return Err(ApiError::unsupported_media_type());
        }
        api::parse_json(&self.body)
    }
}

/// The last value of header `name` in `headers` (see [`ApiRequest::last_header`]).
fn last_header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// The client's address. Without a proxy it is Spin's `spin-client-addr` (its last value: a
/// client cannot spoof it by sending its own). Behind a proxy every request comes from the
/// proxy, so the operator names the header the proxy sets in `client_ip_header` (e.g.
/// `x-real-ip`, or `x-forwarded-for`, whose last entry is the one the proxy appended; earlier
/// entries come from the client and are ignored). Without that variable no forwarded header is
/// trusted: anyone can send one. A value that is not an IP address falls back to Spin's.
pub fn client_address_of(headers: &[(String, Vec<u8>)], client_ip_header: &str) -> String {
    let plausible = |ip: &str| {
        !ip.is_empty()
            && ip.len() <= 45
            && ip
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b':' | b'[' | b']'))
    };
    let header = client_ip_header.trim();
    if !header.is_empty()
        && let Some(value) = last_header(headers, header)
        && let Some(last) = value.rsplit(',').next().map(str::trim)
        && plausible(without_port(last))
    {
        return without_port(last).to_owned();
    }
    without_port(last_header(headers, "spin-client-addr").unwrap_or("unknown")).to_owned()
}

/// `host:port` or `ip:port` (IPv6 in brackets) without the port.
pub fn without_port(address: &str) -> &str {
    address
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(address, |(host, _)| host)
}

/// The operator a request's session belongs to (401 without a live session).
pub fn operator(
    ctx: &Ctx<'_>,
    request: &ApiRequest,
) -> Result<shared::operator::Operator, ApiError> {
    Ok(shared::inbox::authenticate(ctx, request.session_token())?)
}

/// A positive integer path segment (an id), or `None`.
pub fn id(segment: &str) -> Option<i64> {
    segment.parse::<i64>().ok().filter(|id| *id > 0)
}

/// Counts this request against its subject's per-minute limit (the Spin variable
/// [`shared::rate_limit::Kind::variable`]): the client address (before anything else), or an
/// authenticated visitor or operator (only after authentication, so unknown tokens create no
/// keys). Over it: 429 `rate_limited` with `Retry-After`, and the first refusal of a subject in
/// a window is counted in `ops_counters`. A key-value failure is logged and lets the request
/// through (see `shared::rate_limit`).
pub fn rate_limit(ctx: &Ctx<'_>, component: &str, subject: Subject<'_>) -> Result<(), ApiError> {
    let kind = subject.kind();
    let limit = PerMinute::from_setting(kind, &variable(kind.variable(), ""));
    let now = ctx.clock.now_ms();
    match shared::rate_limit::check(ctx.kv, now, subject, limit) {
        Ok(Decision::Allowed) => Ok(()),
        Ok(Decision::Refused {
            retry_after_s,
            first,
        }) => {
            if first && let Err(e) = shared::ops_counter::bump(ctx.db, kind.counter(), now) {
                observe::log("warn", component, &format!("rate-limit counter: {e}"));
            }
            Err(ApiError::rate_limited(retry_after_s))
        }
        Err(e) => {
            observe::log("warn", component, &format!("rate limit skipped: {e}"));
            Ok(())
        }
    }
}

/// The client address of `request` (see [`client_address_of`]), for handlers that need it
/// before [`ApiRequest::read`] takes the request.
pub fn client_address(request: &IncomingRequest) -> String {
    let headers: Vec<(String, Vec<u8>)> = request.headers().entries();
    client_address_of(&headers, &variable("client_ip_header", ""))
}

/// Starts serving `request` for `component`: its request id and log context ([`observe`]).
/// Handlers call it first; [`finish`] (or [`respond`], which calls it) ends the request.
pub fn begin(component: &'static str, request: &IncomingRequest) {
    let headers = request.headers();
    let id = headers
        .get("x-request-id")
        .into_iter()
        .next()
        .and_then(|v| String::from_utf8(v).ok());
    let method = method_name(&request.method());
    let path = request.path_with_query().unwrap_or_default();
    observe::begin(component, method, &path, id.as_deref());
}

fn method_name(method: &Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
        Method::Options => "OPTIONS",
        Method::Connect => "CONNECT",
        Method::Trace => "TRACE",
        Method::Other(_) => "OTHER",
    }
}

/// Ends the request: adds the headers every response carries ([`security_headers`] and the
/// request id) and logs the request's line.
pub fn finish(mut response: Response) -> Response {
    let hsts_max_age = variable("hsts_max_age", "");
    for (name, value) in security_headers(&hsts_max_age) {
        if response.header(name).is_none() {
            response.set_header(name, value);
        }
    }
    if let Some(id) = observe::request_id() {
        response.set_header("x-request-id", id);
    }
    observe::log_request(*response.status());
    response
}

/// What every response of the app's components carries besides its own headers: no MIME
/// sniffing, no referrer leaking conversation URLs, and, when `hsts_max_age` is a positive
/// number of seconds, `Strict-Transport-Security` (README, "Security headers": set it only when
/// every request reaches us over HTTPS).
pub fn security_headers(hsts_max_age: &str) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("x-content-type-options", "nosniff".to_owned()),
        ("referrer-policy", "no-referrer".to_owned()),
    ];
    if let Ok(seconds) = hsts_max_age.trim().parse::<u64>()
        && seconds > 0
    {
        headers.push(("strict-transport-security", format!("max-age={seconds}")));
    }
    headers
}

/// Headers every API response carries: JSON, never cached, never sniffed.
fn api_response(status: u16, body: Vec<u8>) -> spin_sdk::http::ResponseBuilder {
    let mut builder = Response::builder();
    builder
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
        .body(body);
    builder
}

pub fn json(status: u16, value: &impl Serialize) -> Response {
    api_response(status, api::to_json(value)).build()
}

/// `{"<key>": value}`: the API names what every answer carries (`{"conversation": ...}`).
pub fn json_field(status: u16, key: &str, value: impl Serialize) -> Response {
    let mut map = serde_json::Map::new();
    map.insert(
        key.to_owned(),
        serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
    );
    json(status, &map)
}

/// A JSON response with extra headers (e.g. `set-cookie`).
pub fn json_with_headers(
    status: u16,
    value: &impl Serialize,
    headers: &[(&str, String)],
) -> Response {
    let mut builder = api_response(status, api::to_json(value));
    for (name, value) in headers {
        builder.header(*name, value.as_str());
    }
    builder.build()
}

/// A non-JSON answer a provider expects (e.g. Twilio's empty TwiML), never cached, never sniffed.
pub fn text(status: u16, content_type: &str, body: &str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
        .body(body.as_bytes().to_vec())
        .build()
}

pub fn no_content() -> Response {
    let mut builder = api_response(204, Vec::new());
    builder.build()
}

pub fn no_content_with_headers(headers: &[(&str, String)]) -> Response {
    let mut builder = api_response(204, Vec::new());
    for (name, value) in headers {
        builder.header(*name, value.as_str());
    }
    builder.build()
}

/// [`route`], unless one read shows the pass could do nothing (`router::pass_needed`): the hop
/// costs a second instance.
pub async fn route_if_needed(component: &str, ctx: &Ctx<'_>, sweep: shared::router::Sweep) {
    if shared::router::pass_needed(ctx, sweep) {
        route(component, sweep).await;
    }
}

/// Asks the `router` component (by Spin service chaining; the caller's manifest entry must allow
/// `http://router.spin.internal`) to run a routing pass, and waits for it, so the caller's
/// response goes out after the assignments it caused. A failure is logged, not returned: the
/// change that asked for routing is already committed, and the next pass (any later trigger, or
/// the periodic sweep from heartbeats and waiting visitors) picks the conversations up.
pub async fn route(component: &str, sweep: shared::router::Sweep) {
    let uri = format!(
        "http://router.spin.internal/route?sweep={}",
        sweep.as_param()
    );
    call_private(component, "routing pass", &uri).await;
}

/// POSTs to a private component by service chaining and logs anything but a 2xx: the callers'
/// own change is already committed, and the work asked for is picked up again later.
async fn call_private(component: &str, what: &str, uri: &str) {
    post_private(component, what, uri, Vec::new()).await;
}

/// POSTs `question` as JSON to a private component by service chaining and reads its JSON
/// answer; `None` (logged) on anything but a 2xx with the expected shape.
pub async fn ask_private<Q: Serialize, A: serde::de::DeserializeOwned>(
    component: &str,
    what: &str,
    uri: &str,
    question: &Q,
) -> Option<A> {
    let body = serde_json::to_vec(question).ok()?;
    let answer = post_private(component, what, uri, body).await?;
    serde_json::from_slice(&answer)
        .inspect_err(|e| {
            observe::log(
                "error",
                component,
                &format!("{what} answered unexpectedly: {e}"),
            )
        })
        .ok()
}

/// POSTs `body` to a private component: the answer's body when it is a 2xx, else `None`
/// (logged).
async fn post_private(component: &str, what: &str, uri: &str, body: Vec<u8>) -> Option<Vec<u8>> {
    let mut builder = spin_sdk::http::Request::builder();
    builder
        .method(Method::Post)
        .uri(uri)
        .header("content-type", "application/json");
    // The called component logs under the same id, so one action reads as one story.
    if let Some(id) = observe::request_id() {
        builder.header("x-request-id", id);
    }
    let request = builder.body(body).build();
    match spin_sdk::http::send::<_, Response>(request).await {
        Ok(response) if (200..300).contains(response.status()) => Some(response.into_body()),
        Ok(response) => {
            let message = format!(
                "{what} answered {}: {}",
                response.status(),
                String::from_utf8_lossy(response.body())
            );
            observe::log("error", component, &message);
            None
        }
        Err(e) => {
            observe::log("error", component, &format!("{what} failed: {e}"));
            None
        }
    }
}

/// Sends `response` to the client now. The handler may go on working afterwards (the instance
/// lives until the handler returns), which is how work the caller need not wait for, such as
/// sending a reply through a provider, runs without delaying the answer. Handlers that use it
/// take Spin's `ResponseOutparam` instead of returning a `Response`.
pub async fn respond(out: ResponseOutparam, response: Response) {
    let mut response = finish(response);
    let body = std::mem::take(response.body_mut());
    match OutgoingResponse::try_from(response) {
        Ok(outgoing) => {
            if let Err(e) = out.set_with_body(outgoing, body).await {
                observe::log(
                    "error",
                    "spin-host",
                    &format!("could not send the response: {e:?}"),
                );
            }
        }
        Err(e) => observe::log(
            "error",
            "spin-host",
            &format!("could not build the response: {e}"),
        ),
    }
}

/// A stored file as a response that cannot become a page on our origin: its own type with
/// `nosniff`, a `Content-Disposition` (inline only for raster images), and a sandboxing CSP.
pub fn file(file: &shared::attachment::StoredFile) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", file.content_type.as_str())
        .header("content-disposition", shared::attachment::disposition(file))
        .header("x-content-type-options", "nosniff")
        .header("content-security-policy", "default-src 'none'; sandbox")
        .header("cache-control", "private, max-age=3600")
        .body(file.data.clone())
        .build()
}

/// Whether the outbox has anything to send now (one indexed read), so callers skip the hop
/// to `dispatch` when it has not.
pub fn dispatch_due(ctx: &Ctx<'_>) -> bool {
    let now = ctx.clock.now_ms();
    let due = shared::outbox::is_due(ctx.db, now)
        .and_then(|replies| Ok(replies || shared::media::is_due(ctx.db, now)?));
    due.unwrap_or_else(|e| {
        observe::log("error", "spin-host", &format!("outbox check failed: {e}"));
        false
    })
}

/// Asks the private `dispatch` component (service chaining; the caller's manifest entry must
/// allow `http://dispatch.spin.internal`) to send what the outbox holds. A failure is logged,
/// not returned: the rows stay in the outbox and the next pass sends them.
pub async fn dispatch(component: &str) {
    call_private(
        component,
        "dispatch pass",
        "http://dispatch.spin.internal/send",
    )
    .await;
}

/// Whether an outgoing webhook is due now (one read of a partial index), so callers skip the
/// hop to `webhooks` when none is: most apps have no endpoints at all.
pub fn webhooks_due(ctx: &Ctx<'_>) -> bool {
    shared::webhook::is_due(ctx.db, ctx.clock.now_ms()).unwrap_or_else(|e| {
        observe::log("error", "spin-host", &format!("webhook check failed: {e}"));
        false
    })
}

/// Asks the private `webhooks` component (service chaining; the caller's manifest entry must
/// allow `http://webhooks.spin.internal`) to send the due webhooks. A failure is logged, not
/// returned: the deliveries stay in their outbox and the next pass sends them.
pub async fn webhooks(component: &str) {
    call_private(
        component,
        "webhooks pass",
        "http://webhooks.spin.internal/send",
    )
    .await;
}

/// [`webhooks`] when [`webhooks_due`]: for handlers that just changed something webhooks may
/// report (a message, an assignment, a resolution), after their response has gone out.
pub async fn webhooks_if_due(component: &str, ctx: &Ctx<'_>) {
    if webhooks_due(ctx) {
        webhooks(component).await;
    }
}

/// Asks the private `assistant` component (service chaining; the caller's manifest entry must
/// allow `http://assistant.spin.internal`) to take its turn in a conversation it owns. A failure
/// is logged: the customer's message is stored and waits; an operator sees the conversation.
pub async fn assistant_turn(component: &str, conversation_id: i64) {
    let uri = format!("http://assistant.spin.internal/turn/{conversation_id}");
    call_private(component, "assistant turn", &uri).await;
}

/// Work a provider's webhook leaves for after the provider has its answer: the assistant's
/// turns in the conversations it owns (it queues its own replies and sends them), then a
/// dispatch pass for provider-hosted media, then the outgoing webhooks the message queued.
#[derive(Debug, Default)]
pub struct Afterwards {
    assistant_turns: Vec<i64>,
    fetch_media: bool,
    /// A new message (or conversation) may have queued outgoing webhooks.
    webhooks: bool,
}

impl Afterwards {
    /// Notes what storing one inbound message calls for.
    pub fn after_receiving(
        &mut self,
        ctx: &Ctx<'_>,
        received: &shared::inbound::Received,
        has_media: bool,
    ) -> Result<(), ApiError> {
        // Anything stored (a message, a survey answer) may have queued outgoing webhooks.
        self.webhooks |= received.created;
        // A survey answer (no message) asks nothing of the assistant or the media fetcher.
        if !received.created || received.message_id.is_none() {
            return Ok(());
        }
        self.fetch_media |= has_media;
        if !self.assistant_turns.contains(&received.conversation_id)
            && shared::assistant::owns(ctx.db, received.conversation_id)
                .map_err(ApiError::internal)?
        {
            self.assistant_turns.push(received.conversation_id);
        }
        Ok(())
    }

    /// Runs it (the caller's manifest entry must allow `http://assistant.spin.internal`,
    /// `http://dispatch.spin.internal` and `http://webhooks.spin.internal`). Failures are logged
    /// by the calls themselves.
    pub async fn run(self, component: &str) {
        for conversation_id in self.assistant_turns {
            assistant_turn(component, conversation_id).await;
        }
        if self.fetch_media {
            dispatch(component).await;
        }
        if self.webhooks {
            // Opened only now: the assistant's turns above may have queued more.
            match SpinHost::open(Access::Read) {
                Ok(host) => webhooks_if_due(component, &host.ctx()).await,
                Err(e) => observe::log("error", component, &format!("webhook check: {}", e.code())),
            }
        }
    }
}

/// [`error`] for a provider's webhook, also logging 4xx refusals: providers never show our
/// answer to anyone, so the log is where a wrong webhook URL or credential shows up.
pub fn webhook_error(component: &str, e: ApiError) -> Response {
    if e.status() < 500 {
        let message = format!("refused with {} {}", e.status(), e.code());
        observe::log("warn", component, &message);
    }
    error(component, e)
}

/// [`webhook_error`] that also counts a refused signature or credentials (401/403) from
/// `client` (its address, [`client_address`]) under `counter` in `ops_counters`, which
/// supervisors read in `GET /api/reports/system`. At most once per client address (IPv6: per
/// /64) and minute: a key-value marker ([`shared::rate_limit::first_in_window`]) decides, so a
/// flood of unsigned requests costs key-value reads, not writes to the one SQLite writer. If
/// the key-value store fails the refusal is not counted (logged).
pub fn webhook_refused(
    component: &str,
    counter: shared::ops_counter::Counter,
    client: &str,
    e: ApiError,
) -> Response {
    if matches!(e.status(), 401 | 403) {
        let counted = SpinKv::open()
            .map_err(ApiError::internal)
            .and_then(|kv| {
                let now = SystemClock.now_ms();
                shared::rate_limit::first_in_window(&kv, now, counter.name(), client)
                    .map_err(ApiError::internal)
            })
            .and_then(|first| {
                if !first {
                    return Ok(());
                }
                let host = SpinHost::open(Access::Write)?;
                let ctx = host.ctx();
                shared::ops_counter::bump(ctx.db, counter, ctx.clock.now_ms())
                    .map_err(ApiError::internal)
            });
        if let Err(e) = counted {
            observe::log("error", component, &format!("reject counter: {}", e.code()));
        }
    }
    webhook_error(component, e)
}

/// The error envelope; 5xx causes are logged to stderr (Spin's component log), never sent.
pub fn error(component: &str, e: ApiError) -> Response {
    if let Some(cause) = e.cause() {
        let message = format!("{} {}: {cause}", e.status(), e.code());
        observe::log("error", component, &message);
    }
    let mut builder = api_response(e.status(), e.body());
    if let Some(allow) = e.allow() {
        builder.header("allow", allow);
    }
    if let Some(seconds) = e.retry_after() {
        builder.header("retry-after", seconds.to_string().as_str());
    }
    builder.build()
}

/// POSTs `body` to `url` and waits at most `timeout` for the first byte of the answer (Spin's
/// `wasi:http` request options; `spin_sdk::http::send` sets none), reading at most `max_body`
/// bytes. For calls that must fail fast rather than hold the request, such as a language
/// model, whose caller falls back to a deterministic answer. Blocking is fine: each request has
/// its own instance.
pub fn post_with_timeout(
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    timeout: std::time::Duration,
    max_body: usize,
) -> Result<(u16, Vec<u8>), String> {
    use spin_sdk::wit::wasi::http0_2_0::outgoing_handler;
    use spin_sdk::wit::wasi::http0_2_0::types::{
        Fields, IncomingBody, Method as WasiMethod, OutgoingBody, OutgoingRequest, RequestOptions,
        Scheme,
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("not an absolute URL: {url}"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let entries: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
        .collect();
    let fields = Fields::from_list(&entries).map_err(|e| format!("headers: {e:?}"))?;
    let request = OutgoingRequest::new(fields);
    let _ = request.set_method(&WasiMethod::Post);
    let _ = request.set_scheme(Some(&match scheme {
        "https" => Scheme::Https,
        _ => Scheme::Http,
    }));
    let _ = request.set_authority(Some(authority));
    let _ = request.set_path_with_query(Some(if path.is_empty() { "/" } else { path }));
    let options = RequestOptions::new();
    let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    let _ = options.set_connect_timeout(Some(nanos));
    let _ = options.set_first_byte_timeout(Some(nanos));
    let _ = options.set_between_bytes_timeout(Some(nanos));
    let outgoing = request
        .body()
        .map_err(|()| "request body taken".to_owned())?;
    let future = outgoing_handler::handle(request, Some(options))
        .map_err(|e| format!("request refused: {e:?}"))?;
    {
        let stream = outgoing
            .write()
            .map_err(|()| "body stream taken".to_owned())?;
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("sending the body: {e:?}"))?;
        }
    }
    OutgoingBody::finish(outgoing, None).map_err(|e| format!("finishing the body: {e:?}"))?;
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(format!("no answer: {e:?}")),
        _ => return Err("no answer".to_owned()),
    };
    let status = response.status();
    let incoming = response
        .consume()
        .map_err(|()| "response body taken".to_owned())?;
    let mut data = Vec::new();
    {
        let stream = incoming
            .stream()
            .map_err(|()| "response stream taken".to_owned())?;
        loop {
            match stream.blocking_read(16 * 1024) {
                Ok(chunk) => {
                    data.extend_from_slice(&chunk);
                    if data.len() > max_body {
                        return Err(format!("answer larger than {max_body} bytes"));
                    }
                }
                Err(wasi::io::streams::StreamError::Closed) => break,
                Err(e) => return Err(format!("reading the answer: {e:?}")),
            }
        }
    }
    drop(IncomingBody::finish(incoming));
    Ok((status, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn the_client_address_is_spins_unless_a_proxy_header_is_configured() {
        // A client's own `spin-client-addr` comes first; Spin's is appended after it.
        let h = headers(&[
            ("spin-client-addr", "6.6.6.6:1"),
            ("x-forwarded-for", "6.6.6.6, 203.0.113.9"),
            ("x-real-ip", "203.0.113.7"),
            ("spin-client-addr", "10.0.0.2:51000"),
        ]);
        assert_eq!(
            client_address_of(&h, ""),
            "10.0.0.2",
            "no forwarded header is trusted"
        );
        assert_eq!(
            client_address_of(&h, "x-forwarded-for"),
            "203.0.113.9",
            "the entry the proxy appended, not the client's"
        );
        assert_eq!(client_address_of(&h, "X-Real-IP"), "203.0.113.7");
        let bad = headers(&[
            ("x-real-ip", "<script>"),
            ("spin-client-addr", "[::1]:8080"),
        ]);
        assert_eq!(client_address_of(&bad, "x-real-ip"), "[::1]");
        assert_eq!(client_address_of(&[], "x-real-ip"), "unknown");
    }

    #[test]
    fn hsts_only_with_a_positive_max_age() {
        let names =
            |v: &str| -> Vec<&str> { security_headers(v).iter().map(|(n, _)| *n).collect() };
        assert_eq!(names(""), ["x-content-type-options", "referrer-policy"]);
        assert_eq!(names("0").len(), 2);
        assert_eq!(names("soon").len(), 2);
        assert_eq!(
            security_headers("31536000").last(),
            Some(&("strict-transport-security", "max-age=31536000".to_owned()))
        );
    }
}
