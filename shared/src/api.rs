//! The HTTP face every component shares: the error envelope, body limits and JSON parsing.
//!
//! Every error response is `{"error":{"code":"...","message":"..."}}`. 4xx messages tell the
//! caller what they did wrong; 5xx bodies say nothing about internals (the cause is logged).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::chat::ChatError;
use crate::input::InvalidInput;

use crate::store::SQLITE_BUSY_MESSAGE;

/// The largest request body any JSON endpoint accepts. A 4000-character message in the worst
/// UTF-8 and JSON escaping fits with room to spare.
pub const MAX_JSON_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug)]
pub struct ApiError {
    status: u16,
    code: &'static str,
    message: String,
    /// What went wrong inside, for the log only; never sent.
    cause: Option<String>,
    /// For 405: the methods the route accepts (the `Allow` header).
    allow: Option<&'static str>,
    /// For 429: seconds until a retry may succeed (the `Retry-After` header).
    retry_after: Option<i64>,
    /// For 409 `stale_version`: the conversation as it is now, sent as `error.conversation`.
    conversation: Option<Box<serde_json::Value>>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation: Option<&'a serde_json::Value>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            cause: None,
            allow: None,
            retry_after: None,
            conversation: None,
        }
    }

    pub fn not_found_route() -> ApiError {
        ApiError::new(404, "not_found", "no such route")
    }

    pub fn method_not_allowed(allowed: &'static str) -> ApiError {
        ApiError {
            allow: Some(allowed),
            ..ApiError::new(
                405,
                "method_not_allowed",
                format!("this route accepts {allowed}"),
            )
        }
    }

    pub fn payload_too_large(limit: usize) -> ApiError {
        ApiError::new(
            413,
            "payload_too_large",
            format!("request body must be at most {limit} bytes"),
        )
    }

    /// 429 `rate_limited`: a request-rate limit (see `rate_limit`); `Retry-After` says when the
    /// next window opens.
    pub fn rate_limited(retry_after_s: i64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after_s),
            ..ApiError::new(
                429,
                "rate_limited",
                format!("too many requests; try again in {retry_after_s} s"),
            )
        }
    }

    pub fn unsupported_media_type() -> ApiError {
        ApiError::new(
            415,
            "unsupported_media_type",
            "request body must be JSON (Content-Type: application/json)",
        )
    }

    pub fn invalid_path(what: &str) -> ApiError {
        ApiError::new(404, "not_found", format!("{what} not found"))
    }

    /// A failure that is ours, not the caller's. `cause` goes to the log.
    ///
    /// One of ours is worth telling apart: SQLite's busy timeout running out ("database is
    /// locked") under a burst of writers. Nothing is wrong with the request and nothing was
    /// written, so it answers 503 `busy` with `Retry-After: 1`, which clients retry (the
    /// widget's and console's outboxes resend with the same client id).
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        let cause = cause.to_string();
        if cause.contains(SQLITE_BUSY_MESSAGE) {
            return ApiError {
                retry_after: Some(1),
                cause: Some(cause),
                ..ApiError::new(503, "busy", "the service is busy; please retry in a moment")
            };
        }
        ApiError {
            status: 500,
            code: "internal",
            message: "something went wrong on our side; please retry".into(),
            cause: Some(cause),
            allow: None,
            retry_after: None,
            conversation: None,
        }
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The methods a 405's route accepts, for the `Allow` header.
    pub fn allow(&self) -> Option<&'static str> {
        self.allow
    }

    /// Seconds a 429's caller should wait, for the `Retry-After` header.
    pub fn retry_after(&self) -> Option<i64> {
        self.retry_after
    }

    /// The internal cause, if any, for logging.
    pub fn cause(&self) -> Option<&str> {
        self.cause.as_deref()
    }

    pub fn body(&self) -> Vec<u8> {
        let envelope = Envelope {
            error: Body {
                code: self.code,
                message: &self.message,
                conversation: self.conversation.as_deref(),
            },
        };
        serde_json::to_vec(&envelope)
            .unwrap_or_else(|_| br#"{"error":{"code":"internal","message":"error"}}"#.to_vec())
    }
}

impl From<InvalidInput> for ApiError {
    fn from(e: InvalidInput) -> Self {
        ApiError::new(400, "invalid_input", e.to_string())
    }
}

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::Invalid(e) => e.into(),
            ChatError::Unauthenticated => {
                ApiError::new(401, "unauthorized", "authentication required")
            }
            ChatError::BadCredentials => ApiError::new(401, "invalid_credentials", e.to_string()),
            ChatError::Forbidden(why) => ApiError::new(403, "forbidden", why),
            ChatError::NotFound(_) => ApiError::new(404, "not_found", e.to_string()),
            ChatError::Conflict(code, ref message) => ApiError::new(409, code, message.clone()),
            ChatError::Stale(ref current) => ApiError {
                conversation: serde_json::to_value(current).ok().map(Box::new),
                ..ApiError::new(409, "stale_version", e.to_string())
            },
            ChatError::RateLimited(seconds) => ApiError {
                retry_after: Some(seconds),
                ..ApiError::new(429, "too_many_requests", e.to_string())
            },
            ChatError::Misconfigured(_) => ApiError::internal(e),
            ChatError::Store(cause) => ApiError::internal(cause),
        }
    }
}

/// Parses a JSON request body into `T`, with a message that points at what is wrong.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.len() > MAX_JSON_BODY_BYTES {
        return Err(ApiError::payload_too_large(MAX_JSON_BODY_BYTES));
    }
    if std::str::from_utf8(body).is_err() {
        return Err(ApiError::new(
            400,
            "invalid_json",
            "request body is not valid UTF-8",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        let problem = if e.is_data() {
            "invalid_input"
        } else {
            "invalid_json"
        };
        ApiError::new(400, problem, format!("request body: {e}"))
    })
}

/// The value of `name` in a query string (`a=1&b=2`), undecoded: our parameters are plain
/// tokens and integers.
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// The value of `name` in a query string, percent-decoded (and `+` as space), for free text
/// such as a search. `None` when absent or not valid UTF-8 once decoded.
pub fn query_text(query: &str, name: &str) -> Option<String> {
    let raw = query_param(query, name)?;
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Whether a `Content-Type` header value names JSON.
pub fn is_json_content_type(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        let essence = v.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case("application/json")
    })
}

/// Serializes a response body. Our own types always serialize; the fallback is unreachable
/// in practice but keeps this function total.
pub fn to_json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_text_is_percent_decoded() {
        assert_eq!(
            query_text("a=1&q=caf%C3%A9+refund%21&z", "q").as_deref(),
            Some("café refund!")
        );
        assert_eq!(query_text("q=100%", "q").as_deref(), Some("100%"));
        assert_eq!(query_text("q=%ZZ", "q").as_deref(), Some("%ZZ"));
        assert_eq!(query_text("q=%FF", "q"), None);
        assert_eq!(query_text("x=1", "q"), None);
    }
    use proptest::prelude::*;

    #[derive(serde::Deserialize, Debug)]
    struct Sample {
        #[allow(dead_code)]
        body: String,
    }

    #[test]
    fn envelope_shape() {
        let e = ApiError::new(400, "invalid_input", "body: must not be empty");
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["error"]["code"], "invalid_input");
        assert_eq!(v["error"]["message"], "body: must not be empty");
    }

    #[test]
    fn an_exhausted_busy_timeout_asks_the_client_to_retry() {
        let e = ApiError::internal(
            "database error: Error::Io(\"database is locked\") in `INSERT INTO messages`",
        );
        assert_eq!(
            (e.status(), e.code(), e.retry_after()),
            (503, "busy", Some(1))
        );
        assert!(!String::from_utf8(e.body()).unwrap().contains("INSERT"));
        assert!(e.cause().unwrap().contains("database is locked"));
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = ApiError::internal("database error: disk I/O at /var/lib/x");
        assert_eq!(e.status(), 500);
        assert!(!String::from_utf8(e.body()).unwrap().contains("/var/lib"));
        assert!(e.cause().unwrap().contains("/var/lib"));
    }

    #[test]
    fn parse_json_classifies_failures() {
        assert_eq!(
            parse_json::<Sample>(b"{").unwrap_err().code(),
            "invalid_json"
        );
        assert_eq!(
            parse_json::<Sample>(b"").unwrap_err().code(),
            "invalid_json"
        );
        assert_eq!(
            parse_json::<Sample>(b"{\"body\":5}").unwrap_err().code(),
            "invalid_input"
        );
        assert_eq!(
            parse_json::<Sample>(b"{\"body\":\"\xff\"}")
                .unwrap_err()
                .code(),
            "invalid_json"
        );
        assert_eq!(
            parse_json::<Sample>(&vec![b' '; MAX_JSON_BODY_BYTES + 1])
                .unwrap_err()
                .status(),
            413
        );
        assert!(parse_json::<Sample>(b"{\"body\":\"hi\"}").is_ok());
    }

    #[test]
    fn json_content_types() {
        assert!(is_json_content_type(Some("application/json")));
        assert!(is_json_content_type(Some(
            "Application/JSON; charset=utf-8"
        )));
        assert!(!is_json_content_type(Some("text/plain")));
        assert!(!is_json_content_type(None));
    }

    proptest! {
        #[test]
        fn parse_json_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_json::<Sample>(&bytes);
        }
    }
}
