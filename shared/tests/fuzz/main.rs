//! Property tests ("fuzzing") for every parser of outside input in `shared`: bytes and text that
//! a visitor, an operator, an admin or a provider's webhook can send us.
//!
//! One integration-test binary (`cargo test -p shared --test fuzz`), so the whole suite links
//! once; it also runs with `cargo test -p shared` (tests/run-all's unit step). Unit-level
//! properties that need private items stay beside their code (`proptest!` blocks in
//! `shared/src/**`); this suite works through the public API only, as the components do.
//!
//! # Time budget
//! Every property runs [`config`]`(n)` cases: a CI-sized default per property (the whole suite
//! stays well under a minute on two cores), or `PROPTEST_CASES` when set, for long local runs:
//! `PROPTEST_CASES=50000 cargo test -p shared --release --test fuzz`. Failing inputs are kept in
//! `shared/tests/proptest-regressions/<module>.txt` (committed: they are replayed first).
//!
//! # What each property claims
//! (1) never panics and terminates on arbitrary bytes / text, including invalid UTF-8, NULs,
//! CR/LF, huge and deeply nested input (timed where a quadratic path was possible);
//! (2) round-trips where we also write the format; (3) signatures verify exactly their own
//! input: any one-byte change of body, parameter, URL, secret or signature fails, and the
//! published vectors pass; (4) refusals are [`shared::input::InvalidInput`] / 4xx `ApiError`s,
//! and size limits hold.
//!
//! # Inventory: parser by parser (module of this suite in brackets)
//! Channel webhooks ([`channels`], [`email`]):
//! - `channel::twilio::parse_form` (urlencoded body), `inbound`, `status_callback`: never panic,
//!   form round-trip, `NumMedia` bound.
//! - `channel::twilio::verify_form`, `verify_json`, `signature`: PROTOCOLS.md vectors, any
//!   change fails, default-port forms, `bodySHA256` [`signatures`].
//! - `channel::meta::handshake` (`hub.*` query), `verify` (`X-Hub-Signature-256`)
//!   [`signatures`]; `meta::events` (Messenger / Instagram / WhatsApp JSON): arbitrary bytes,
//!   JSON-shaped noise, deep nesting, generated valid payloads round-trip.
//! - `channel::multipart::boundary`, `is_multipart`, `parse`: arbitrary bytes, generated bodies
//!   round-trip, boundary look-alikes inside parts, `MAX_PARTS`, near-delimiter floods timed.
//! - `channel::email::postmark` (JSON), `mailgun` (urlencoded or multipart fields), `sendgrid`
//!   (multipart fields, charsets, envelope JSON, attachment-info JSON, raw header block):
//!   arbitrary input, generated valid emails keep sender / subject / ids / token, attachment
//!   caps, huge `References` timed.
//! - `channel::email` header helpers: `message_ids` (Message-ID, In-Reply-To, References),
//!   `reply_token` (the plus-address token), `reply_subject`, `references`, `html_to_text`,
//!   `verify_mailgun` (signature + freshness) and `verify_basic_auth` [`signatures`].
//!   Encoded words (RFC 2047) are not decoded anywhere (SendGrid's parsed mode decodes them).
//!
//! Widget / inbox / admin requests ([`requests`]):
//! - `api::parse_json::<T>` for every request type a component reads from a body (listed in
//!   [`requests`]), with arbitrary bytes, arbitrary JSON values and deep nesting; the pure
//!   `parse`/`apply` each type goes through next (`AnswerRequest::parse`, `Destination::parse`,
//!   `ContactChanges::parse`, `CannedFields::parse`, `ArticleFields::parse`, `topic::apply`,
//!   `RoutingSettings::apply`, `DayHours::parse`, `Attributes::parse`).
//! - Query strings: `api::query_param`, `api::query_text` (percent-decoding round-trip),
//!   `chat::EventsQuery::parse` (events cursors), `reports::Filter::parse`.
//! - Field newtypes: `MessageBody`, `ClientId`, `PersonName`, `EmailAddress`, `PhoneNumber`,
//!   `TagName`, `Color`, `TeamName`, `Shortcut`, `AccentColor`, `TimeZoneName`, `Interval`,
//!   `SearchTerms`, `Password`, `input::bounded_text`, `input::language_tag`, `Channel`,
//!   `Status`, `Role`, `Strategy`, `EventType`, `Sweep`, `csat::parse_reply` (SMS / email
//!   replies), `kb::Question::parse`, `topic::parse_name`, `RetrySchedule::parse`.
//! - Credentials: `secret::bearer` (Authorization), `secret::Token::parse`,
//!   `visitor::bearer_token` / `optional_bearer_token`.
//! - Files: `attachment::NewAttachment::new` / `from_upload` (content type, size, sniffing, the
//!   name from the query) and `attachment::disposition` (no header injection).
//! - Webhook endpoint URLs (SSRF rule): `webhook::address::EndpointUrl::parse`,
//!   `Origin::parse_setting`.
//!
//! Signatures ([`signatures`]): outgoing webhooks `webhook::signature::{sign, verify}`, the
//! widget identity HMAC `identity::expected_hash`, Twilio, Meta, Mailgun, basic auth,
//! `secret::secrets_match` and `channel::signature::matches` (constant-time, empty never
//! matches). `webhook_nonce::remember` is covered by its unit tests and the e2e replay test (it
//! is SQL, not parsing: the nonce is a bound parameter).
//!
//! Outside this crate, with the same properties: `components/spin-host/src/fuzz.rs` (cookies,
//! the session token, the client address and forwarded headers, `x-request-id`, the CSRF
//! origin check, path segments), every component's route table (`any_method_and_path_routes_
//! without_panicking` in each `lib.rs`) and static-files' path resolution (no path resolves
//! outside the mount).

// A test states its expectations by panicking (`expect` on a value that must be there).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::test_runner::{Config, FileFailurePersistence};

mod channels;
mod email;
mod requests;
mod signatures;

/// `default_cases` cases, or `PROPTEST_CASES` when set (a long local run).
pub fn config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        // proptest puts them in `shared/tests/proptest-regressions/<module>.txt`.
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

/// The time limit of the timed tests. Generous: CI machines are shared and debug builds slow,
/// and each timed input is sized so that the quadratic version of its parser takes minutes
/// (the `References` one took 572 s before its fix) while the linear one takes a second or two.
pub const LIMIT_MS: u128 = 30_000;

/// Runs `f` and fails when it takes longer than `limit_ms`: a parser that is quadratic (or
/// loops) on a crafted input shows up here even in a debug build.
pub fn within_ms<T>(limit_ms: u128, what: &str, f: impl FnOnce() -> T) -> T {
    let started = std::time::Instant::now();
    let out = f();
    let took = started.elapsed().as_millis();
    assert!(
        took <= limit_ms,
        "{what} took {took} ms (limit {limit_ms} ms)"
    );
    out
}

pub mod inputs {
    //! Generators shared by the modules.
    use proptest::prelude::*;

    /// The characters parsers split on, and a few non-ASCII ones.
    const SPECIAL: &[char] = &[
        '<',
        '>',
        '@',
        '+',
        '=',
        '&',
        ';',
        '%',
        '"',
        '\\',
        '\r',
        '\n',
        '\0',
        '\t',
        ' ',
        ':',
        ',',
        '-',
        '/',
        '?',
        '#',
        '[',
        ']',
        '{',
        '}',
        '\u{e9}',
        '\u{a0}',
        '\u{2028}',
        '\u{1F600}',
        'a',
        'e',
        'f',
        '0',
        '9',
    ];

    /// Text a hostile sender might write: any Unicode, heavy in printable ASCII and in the
    /// characters parsers split on (`<>@+=&;%"\`, CR, LF, NUL, tab...).
    ///
    /// Built from plain integers: a `prop_oneof!` per character made generating a case cost
    /// ~40 ms in a debug build, which the CI budget cannot afford.
    pub fn hostile_text(max: usize) -> BoxedStrategy<String> {
        proptest::collection::vec(any::<u32>(), 0..max)
            .prop_map(|codes| {
                codes
                    .into_iter()
                    .map(|code| {
                        let pick = code >> 2;
                        match code & 3 {
                            0 | 1 => SPECIAL[pick as usize % SPECIAL.len()],
                            2 => char::from(b' ' + (pick % 95) as u8),
                            _ => char::from_u32(pick % 0x11_0000).unwrap_or('\u{fffd}'),
                        }
                    })
                    .collect()
            })
            .boxed()
    }

    /// Arbitrary bytes, often almost UTF-8 text.
    pub fn hostile_bytes(max: usize) -> BoxedStrategy<Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..max),
            (hostile_text(max), any::<usize>(), any::<u8>()).prop_map(|(t, at, b)| {
                let mut bytes = t.into_bytes();
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    bytes[at] = b;
                }
                bytes
            }),
        ]
        .boxed()
    }

    /// Any JSON value, nested a few levels, with keys from `keys` or arbitrary.
    pub fn json(keys: &'static [&'static str]) -> BoxedStrategy<serde_json::Value> {
        use serde_json::Value;
        let key = prop_oneof![
            3 => proptest::sample::select(keys).prop_map(str::to_owned),
            1 => "[a-zA-Z_]{0,8}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            (-10i64..10).prop_map(Value::from),
            hostile_text(40).prop_map(Value::String),
            "[ -~]{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 8, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((key.clone(), inner), 0..8)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
        .boxed()
    }

    /// `depth` nested arrays (or objects), unterminated when `close` is false.
    pub fn deep_json(depth: usize, object: bool, close: bool) -> Vec<u8> {
        let (open, end) = if object {
            (&b"{\"a\":"[..], &b"}"[..])
        } else {
            (&b"["[..], &b"]"[..])
        };
        let mut out = Vec::with_capacity(depth * 6);
        for _ in 0..depth {
            out.extend_from_slice(open);
        }
        out.extend_from_slice(b"1");
        if close {
            for _ in 0..depth {
                out.extend_from_slice(end);
            }
        }
        out
    }
}
