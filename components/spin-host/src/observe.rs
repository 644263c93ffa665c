//! Request ids and structured logs: one JSON line to stderr per request, and error lines with
//! the same id.
//!
//! WASI 0.2 gives each request its own instance, so the request being served is the only one
//! this instance will ever see: a thread-local holds it between [`begin`] and [`finish`] without
//! sharing anything across requests (DESIGN.md: no state in memory between requests).
//!
//! The id comes from the caller's `x-request-id` when it is a plausible id ([`incoming_id`]),
//! else it is made up here; it is echoed in the response's `x-request-id` and sent along on
//! service-chaining calls, so one visitor action can be followed across components. Lines never
//! carry query strings, bodies, tokens or header values other than the id.

use std::cell::RefCell;
use std::time::Instant;

use serde::Serialize;

/// The longest request id accepted from outside; longer ones are replaced.
pub const MAX_REQUEST_ID_CHARS: usize = 64;

struct Current {
    id: String,
    component: &'static str,
    method: String,
    path: String,
    started: Instant,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// `value` as a request id if it is 1..=64 characters of `A-Z a-z 0-9 - _ . :` (what tracing
/// systems and proxies send), so a header cannot smuggle anything into a log line.
pub fn incoming_id(value: Option<&str>) -> Option<String> {
    let value = value?.trim();
    let ok = !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_CHARS
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| value.to_owned())
}

fn new_id() -> String {
    let mut bytes = [0u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        // An id only correlates log lines; a clock-based one still does.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        return format!("t{nanos:x}");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts the request: its id (from `x-request-id` or new), component, method and path (without
/// the query string). Called first thing by each component's handler.
pub fn begin(component: &'static str, method: &str, path: &str, request_id: Option<&str>) {
    let id = incoming_id(request_id).unwrap_or_else(new_id);
    let path = path.split('?').next().unwrap_or_default().to_owned();
    CURRENT.with(|c| {
        *c.borrow_mut() = Some(Current {
            id,
            component,
            method: method.to_owned(),
            path,
            started: Instant::now(),
        })
    });
}

/// The current request's id, if [`begin`] ran.
pub fn request_id() -> Option<String> {
    CURRENT.with(|c| c.borrow().as_ref().map(|c| c.id.clone()))
}

#[derive(Serialize)]
struct RequestLine<'a> {
    ts: String,
    level: &'static str,
    component: &'a str,
    request_id: &'a str,
    method: &'a str,
    path: &'a str,
    status: u16,
    duration_ms: u64,
}

#[derive(Serialize)]
struct EventLine<'a> {
    ts: String,
    level: &'static str,
    component: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    message: &'a str,
}

/// Logs the request's line with its `status` (once: a second call logs nothing).
pub fn log_request(status: u16) {
    let Some(current) = CURRENT.with(|c| c.borrow_mut().take()) else {
        return;
    };
    let level = match status {
        500.. => "error",
        400..=499 => "warn",
        _ => "info",
    };
    let line = RequestLine {
        ts: timestamp(now_ms()),
        level,
        component: current.component,
        request_id: &current.id,
        method: &current.method,
        path: &current.path,
        status,
        duration_ms: u64::try_from(current.started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    write_line(&line);
    // Later lines of this instance (work after the response) keep the id.
    CURRENT.with(|c| {
        *c.borrow_mut() = Some(Current {
            path: String::new(),
            method: String::new(),
            ..current
        })
    });
}

/// Logs one event (an error's cause chain, a failed call) with the current request's id.
pub fn log(level: &'static str, component: &str, message: &str) {
    let id = request_id();
    write_line(&EventLine {
        ts: timestamp(now_ms()),
        level,
        component,
        request_id: id.as_deref(),
        message,
    });
}

fn write_line(line: &impl Serialize) {
    if let Ok(text) = serde_json::to_string(line) {
        eprintln!("{text}");
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `ms` since the Unix epoch as RFC 3339 UTC with milliseconds (`2026-11-26T12:04:16.123Z`).
pub fn timestamp(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Howard Hinnant's days-to-civil: the proleptic Gregorian date of a day number.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1_000 % 60,
        in_day % 1_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plausible_ids_and_refuses_the_rest() {
        assert_eq!(
            incoming_id(Some("abc-123_x.y:z")).as_deref(),
            Some("abc-123_x.y:z")
        );
        assert_eq!(incoming_id(Some(" padded ")).as_deref(), Some("padded"));
        assert_eq!(incoming_id(None), None);
        assert_eq!(incoming_id(Some("")), None);
        assert_eq!(incoming_id(Some("has space")), None);
        assert_eq!(incoming_id(Some("quote\"brace}")), None);
        assert_eq!(incoming_id(Some("line\nbreak")), None);
        assert_eq!(
            incoming_id(Some(&"a".repeat(64))).map(|s| s.len()),
            Some(64)
        );
        assert_eq!(incoming_id(Some(&"a".repeat(65))), None);
    }

    #[test]
    fn begin_keeps_a_valid_id_and_makes_one_otherwise() {
        begin("test", "GET", "/api/x?token=secret", Some("from-proxy-1"));
        assert_eq!(request_id().as_deref(), Some("from-proxy-1"));
        let path = CURRENT.with(|c| c.borrow().as_ref().map(|c| c.path.clone()));
        assert_eq!(
            path.as_deref(),
            Some("/api/x"),
            "the query string is dropped"
        );
        begin("test", "GET", "/", Some("bad id"));
        let made = request_id().unwrap_or_default();
        assert_eq!(made.len(), 24);
        assert!(made.bytes().all(|b| b.is_ascii_hexdigit()));
        log_request(200);
        assert_eq!(request_id(), Some(made), "the id outlives the request line");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(1_795_694_656_123), "2026-11-26T12:04:16.123Z");
        assert_eq!(timestamp(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
