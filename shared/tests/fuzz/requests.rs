//! What the widget, the console and admins send: JSON bodies, query strings, field values,
//! credentials, uploads and webhook endpoint URLs.

use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::api::{self, ApiError, MAX_JSON_BODY_BYTES};
use shared::chat::{ChatError, EventsQuery};
use shared::store::{Database, DbError, Rows, SqlValue};

use crate::config;
use crate::inputs::{deep_json, hostile_bytes, hostile_text, json};

/// Every request type a component reads from a JSON body, by name: (keys it knows, a parse of
/// arbitrary bytes through `api::parse_json` that reports whether it was accepted).
type Parse = fn(&[u8]) -> Result<(), ApiError>;

fn accepts<T: DeserializeOwned>(body: &[u8]) -> Result<(), ApiError> {
    api::parse_json::<T>(body).map(|_| ())
}

const REQUEST_TYPES: &[(&str, Parse)] = &[
    (
        "visitor::StartRequest",
        accepts::<shared::visitor::StartRequest>,
    ),
    (
        "chat::PostMessageRequest",
        accepts::<shared::chat::PostMessageRequest>,
    ),
    ("chat::ReadRequest", accepts::<shared::chat::ReadRequest>),
    (
        "csat::AnswerRequest",
        accepts::<shared::csat::AnswerRequest>,
    ),
    (
        "continuation::ContinueRequest",
        accepts::<shared::continuation::ContinueRequest>,
    ),
    (
        "continuation::TranscriptRequest",
        accepts::<shared::continuation::TranscriptRequest>,
    ),
    (
        "identity::IdentifyRequest",
        accepts::<shared::identity::IdentifyRequest>,
    ),
    (
        "identity::AttributesRequest",
        accepts::<shared::identity::AttributesRequest>,
    ),
    (
        "inbox::SetupRequest",
        accepts::<shared::inbox::SetupRequest>,
    ),
    (
        "inbox::LoginRequest",
        accepts::<shared::inbox::LoginRequest>,
    ),
    (
        "inbox::AcceptInviteRequest",
        accepts::<shared::inbox::AcceptInviteRequest>,
    ),
    (
        "inbox::PresenceRequest",
        accepts::<shared::inbox::PresenceRequest>,
    ),
    (
        "inbox::MergeRequest",
        accepts::<shared::inbox::MergeRequest>,
    ),
    (
        "inbox::MentionsReadRequest",
        accepts::<shared::inbox::MentionsReadRequest>,
    ),
    (
        "workflow::StatusRequest",
        accepts::<shared::workflow::StatusRequest>,
    ),
    (
        "workflow::AssignRequest",
        accepts::<shared::workflow::AssignRequest>,
    ),
    (
        "workflow::TransferRequest",
        accepts::<shared::workflow::TransferRequest>,
    ),
    (
        "workflow::TagRequest",
        accepts::<shared::workflow::TagRequest>,
    ),
    ("note::NoteRequest", accepts::<shared::note::NoteRequest>),
    (
        "contact::ContactPatch",
        accepts::<shared::contact::ContactPatch>,
    ),
    (
        "canned::CannedRequest",
        accepts::<shared::canned::CannedRequest>,
    ),
    (
        "assist::DraftRequest",
        accepts::<shared::assist::DraftRequest>,
    ),
    (
        "assistant::HandBackRequest",
        accepts::<shared::assistant::HandBackRequest>,
    ),
    (
        "admin::InviteRequest",
        accepts::<shared::admin::InviteRequest>,
    ),
    (
        "admin::OperatorPatch",
        accepts::<shared::admin::OperatorPatch>,
    ),
    ("team::TeamRequest", accepts::<shared::team::TeamRequest>),
    ("tag::TagRequest", accepts::<shared::tag::TagRequest>),
    (
        "topic::TopicRequest",
        accepts::<shared::topic::TopicRequest>,
    ),
    ("kb::ArticleRequest", accepts::<shared::kb::ArticleRequest>),
    (
        "router::RoutingPatch",
        accepts::<shared::router::RoutingPatch>,
    ),
    (
        "hours::BusinessHoursInput",
        accepts::<shared::hours::BusinessHoursInput>,
    ),
    (
        "staffing::SettingsInput",
        accepts::<shared::staffing::SettingsInput>,
    ),
    (
        "staffing::DemandInput",
        accepts::<shared::staffing::DemandInput>,
    ),
    (
        "settings::SettingsPatch",
        accepts::<shared::settings::SettingsPatch>,
    ),
    (
        "widget_settings::WidgetSettingsPatch",
        accepts::<shared::widget_settings::WidgetSettingsPatch>,
    ),
    (
        "webhook::EndpointRequest",
        accepts::<shared::webhook::EndpointRequest>,
    ),
    (
        "escalation::EscalationSettings",
        accepts::<shared::escalation::EscalationSettings>,
    ),
    (
        "assistant::AssistantSettings",
        accepts::<shared::assistant::AssistantSettings>,
    ),
    ("csat::CsatSettings", accepts::<shared::csat::CsatSettings>),
    ("serde_json::Value", accepts::<Value>),
];

/// Field names the request types use, so generated objects often hit real fields.
const REQUEST_KEYS: &[&str] = &[
    "body",
    "client_id",
    "name",
    "email",
    "phone",
    "user_id",
    "user_hash",
    "attributes",
    "rating",
    "comment",
    "channel",
    "address",
    "password",
    "token",
    "status",
    "version",
    "operator_id",
    "team_id",
    "tag_id",
    "tags",
    "title",
    "language",
    "topic",
    "published",
    "shortcut",
    "text",
    "role",
    "url",
    "events",
    "enabled",
    "time_zone",
    "weekly",
    "monday",
    "holidays",
    "date",
    "hours",
    "strategy",
    "max_chats",
    "color",
    "accent_color",
    "greeting",
    "position",
    "prechat_name",
    "offline_form",
    "transfer_notice_team",
    "up_to",
    "question",
    "mode",
    "channels",
    "sms",
    "skills",
    "level",
    "secret",
    "message_id",
    "contact_id",
    "into",
    "custom_fields",
    "transcript",
    "email_to",
];

/// How files start: the image signatures `attachment` sniffs, and others.
const FILE_HEADS: &[&[u8]] = &[
    b"\x89PNG\r\n\x1a\n",
    &[0xFF, 0xD8, 0xFF],
    b"GIF89a",
    b"RIFF0000WEBP",
    b"%PDF-",
    b"",
];

fn envelope_ok(e: &ApiError) -> Result<(), TestCaseError> {
    prop_assert!(
        matches!(e.status(), 400 | 413),
        "status {} for {}",
        e.status(),
        e.code()
    );
    let body: Value = serde_json::from_slice(&e.body()).unwrap_or_default();
    prop_assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string());
    Ok(())
}

/// A rusqlite database with the app's schema, as `shared`'s own unit tests use (its
/// `testing` module is test-only, so not visible here).
pub struct Db(rusqlite::Connection);

impl Db {
    pub fn new() -> Db {
        let db = Db(rusqlite::Connection::open_in_memory().expect("an in-memory database"));
        shared::migrations::migrate(&db).expect("the migrations apply");
        db
    }
}

impl Database for Db {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, DbError> {
        use rusqlite::types::{Value as V, ValueRef};
        let host = |e: rusqlite::Error| DbError::Host(e.to_string());
        let mut statement = self.0.prepare(sql).map_err(host)?;
        let columns: Vec<String> = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let params = params.iter().map(|p| match p {
            SqlValue::Null => V::Null,
            SqlValue::Integer(v) => V::Integer(*v),
            SqlValue::Real(v) => V::Real(*v),
            SqlValue::Text(v) => V::Text(v.clone()),
            SqlValue::Blob(v) => V::Blob(v.clone()),
        });
        let mut rows = statement
            .query(rusqlite::params_from_iter(params))
            .map_err(host)?;
        let mut out = Rows {
            columns: columns.clone(),
            rows: Vec::new(),
        };
        while let Some(row) = rows.next().map_err(host)? {
            out.rows.push(
                (0..columns.len())
                    .map(|i| match row.get_ref(i) {
                        Ok(ValueRef::Integer(v)) => SqlValue::Integer(v),
                        Ok(ValueRef::Real(v)) => SqlValue::Real(v),
                        Ok(ValueRef::Text(v)) => {
                            SqlValue::Text(String::from_utf8_lossy(v).into_owned())
                        }
                        Ok(ValueRef::Blob(v)) => SqlValue::Blob(v.to_vec()),
                        _ => SqlValue::Null,
                    })
                    .collect(),
            );
        }
        Ok(out)
    }
}

thread_local! {
    /// One database per test thread: migrating a fresh one per case cost ~100 ms. What one
    /// case saves, the next starts from, which is a fair test of its own.
    static DB: Db = {
        let db = Db::new();
        // An article to search, so a query reaches the full-text index's MATCH.
        let article = shared::kb::ArticleRequest {
            title: Some("Refunds and returns".into()),
            body: Some("You can return any order within 30 days for a full refund.".into()),
            published: Some(true),
            ..Default::default()
        };
        shared::kb::create(&db, &article, 0).expect("a valid article");
        db
    };
}

/// A caller's mistake is a 4xx; only our own failures may be 5xx.
fn caller_error(e: ChatError) -> Result<(), TestCaseError> {
    let e = ApiError::from(e);
    prop_assert!(e.status() < 500, "{} {:?}", e.status(), e.cause());
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    /// Any bytes into any request type: parsed, or a 400/413 in the envelope.
    #[test]
    fn every_request_body_parses_or_is_a_4xx(bytes in hostile_bytes(400)) {
        for (_, parse) in REQUEST_TYPES {
            if let Err(e) = parse(&bytes) {
                envelope_ok(&e)?;
            }
        }
    }

    /// JSON of the request types' own shape, including wrong types and unknown fields.
    #[test]
    fn every_request_json_parses_or_is_a_4xx(value in json(REQUEST_KEYS)) {
        let body = serde_json::to_vec(&value).unwrap_or_default();
        for (_, parse) in REQUEST_TYPES {
            if let Err(e) = parse(&body) {
                envelope_ok(&e)?;
            }
        }
    }

    /// Parsed bodies go through their domain parsers: a value, or a field error.
    #[test]
    fn request_domain_parsers_never_panic(
        value in json(REQUEST_KEYS),
        text in hostile_text(120),
        texts in proptest::collection::vec(hostile_text(20), 0..8),
    ) {
        let body = serde_json::to_vec(&value).unwrap_or_default();
        if let Ok(r) = api::parse_json::<shared::csat::AnswerRequest>(&body) {
            let _ = r.parse();
        }
        if let Ok(r) = api::parse_json::<shared::continuation::ContinueRequest>(&body) {
            let _ = shared::continuation::Destination::parse(&r);
        }
        if let Ok(r) = api::parse_json::<shared::contact::ContactPatch>(&body) {
            let _ = shared::contact::ContactChanges::parse(&r);
        }
        if let Ok(r) = api::parse_json::<shared::canned::CannedRequest>(&body) {
            let _ = shared::canned::CannedFields::parse(&r, true);
            let _ = shared::canned::CannedFields::parse(&r, false);
        }
        if let Ok(r) = api::parse_json::<shared::kb::ArticleRequest>(&body) {
            let _ = shared::kb::ArticleFields::parse(&r, true);
            let _ = shared::kb::ArticleFields::parse(&r, false);
        }
        if let Ok(r) = api::parse_json::<shared::topic::TopicRequest>(&body) {
            let _ = shared::topic::apply(None, &r);
        }
        if let Ok(r) = api::parse_json::<shared::router::RoutingPatch>(&body) {
            let _ = shared::router::RoutingSettings::default().apply(&r);
        }
        if let Ok(r) = api::parse_json::<shared::hours::BusinessHoursInput>(&body) {
            let _ = shared::hours::BusinessHours::try_from(r);
        }
        let _ = shared::contact::Attributes::parse(&value);
        let _ = shared::hours::DayHours::parse("monday", &texts);
        let _ = shared::kb::Tags::parse(&texts);
        let _ = shared::csat::parse_reply(&text);
        let _ = shared::kb::Question::parse(&text, Some(&text));
        let _ = shared::kb::Question::parse(&text, None);
    }

    /// Settings patches that admins send are saved or refused as the caller's mistake, never
    /// a store error (a 500) or a panic.
    #[test]
    fn settings_patches_are_saved_or_refused_as_4xx(value in json(REQUEST_KEYS), text in hostile_text(80)) {
        DB.with(|db| {
        let body = serde_json::to_vec(&value).unwrap_or_default();
        if let Ok(patch) = api::parse_json::<shared::settings::SettingsPatch>(&body)
            && let Err(e) = shared::settings::save(db, &patch)
        {
            caller_error(e)?;
        }
        if let Ok(patch) = api::parse_json::<shared::widget_settings::WidgetSettingsPatch>(&body)
            && let Err(e) = shared::widget_settings::save(db, &patch)
        {
            caller_error(e)?;
        }
        if let Err(e) = shared::csat::save_settings(db, &value) { caller_error(e)?; }
        if let Err(e) = shared::assistant::save_settings(db, &value) { caller_error(e)?; }
        let with_text = json!({"greeting": text, "business_name": text, "accent_color": text,
            "transfer_notice_team": text});
        if let Ok(patch) = serde_json::from_value::<shared::widget_settings::WidgetSettingsPatch>(with_text)
            && let Err(e) = shared::widget_settings::save(db, &patch)
        {
            caller_error(e)?;
        }
        // What was saved reads back and serves the widget.
        prop_assert!(shared::widget_settings::config(db, "Support", 0).is_ok());
        prop_assert!(shared::settings::load(db).is_ok());
        Ok(())
        })?;
    }

    /// The visitors' help search takes any text to SQLite's full-text index: a result or a
    /// field error, never an FTS syntax error.
    #[test]
    fn help_search_takes_any_text(query in hostile_text(120), language in proptest::option::of(hostile_text(12))) {
        DB.with(|db| {
            if let Err(e) = shared::help::search(db, &query, language.as_deref()) {
                caller_error(e)?;
            }
            prop_assert!(shared::kb::search(db, &query, language.as_deref(), 5).is_ok());
            Ok(())
        })?;
    }

    #[test]
    fn query_strings_never_panic(query in hostile_text(200), name in "[a-z_]{1,8}") {
        let _ = api::query_param(&query, &name);
        let _ = api::query_text(&query, &name);
        let _ = EventsQuery::parse(&query);
        let _ = shared::reports::Filter::parse(&query, "UTC", 1_767_225_600_000);
        let _ = shared::reports::Filter::parse(&query, &query, i64::MAX);
        let _ = shared::reports::Filter::parse(&query, "Europe/Berlin", i64::MIN);
    }

    /// Round trip: free text percent-encoded into a query comes back as itself.
    #[test]
    fn query_text_round_trips(text in hostile_text(80), other in "[a-pr-z]{1,5}=[a-z0-9]{0,5}") {
        let encoded: String = text
            .bytes()
            .map(|b| match b {
                b' ' => "+".to_owned(),
                b if b.is_ascii_alphanumeric() => (b as char).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect();
        let query = format!("{other}&q={encoded}&z=1");
        prop_assert_eq!(api::query_text(&query, "q"), Some(text));
    }

    /// Events cursors: exactly the non-negative integers, waits of 0-25 s.
    #[test]
    fn events_cursors_are_exact(after in any::<i64>(), wait in -5i64..40, junk in "[^0-9&=][ -~]{0,5}") {
        let parsed = EventsQuery::parse(&format!("after={after}&wait={wait}"));
        let good = after >= 0 && (0..=25).contains(&wait);
        prop_assert_eq!(parsed.is_ok(), good);
        if let Ok(q) = parsed {
            prop_assert_eq!(q.after, after);
            prop_assert_eq!(q.wait_ms, wait * 1000);
        }
        let junked = format!("after={after}{junk}");
        prop_assert!(EventsQuery::parse(&junked).is_err());
    }

    /// Report filters: generated valid ones parse to what was asked; any date range parses or
    /// is refused.
    #[test]
    fn report_filters_read_back(
        from in (1i16..9999, 1i8..13, 1i8..29),
        days in 0i64..400,
        team in proptest::option::of(1i64..i64::MAX),
        fcr in 0i64..100,
        tz in proptest::sample::select(&["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Nowhere/Else"][..]),
    ) {
        let from = jiff::civil::date(from.0, from.1, from.2);
        let Ok(to) = from.checked_add(jiff::Span::new().days(days)) else { return Ok(()) };
        let mut query = format!("from={from}&to={to}&fcr_days={fcr}&tz={}", tz.replace('/', "%2F"));
        if let Some(team) = team {
            query.push_str(&format!("&team={team}"));
        }
        let parsed = shared::reports::Filter::parse(&query, "UTC", 1_767_225_600_000);
        let good = days < 366 && (1..=90).contains(&fcr) && tz != "Nowhere/Else";
        prop_assert_eq!(parsed.is_ok(), good, "{} {:?}", query, parsed.as_ref().err());
        if let Ok(f) = parsed {
            prop_assert_eq!(f.from, from);
            prop_assert_eq!(f.to, to);
            prop_assert_eq!(f.team_id, team);
            prop_assert_eq!(f.days(), days + 1);
            let (start, end) = f.range_ms();
            prop_assert!(start < end);
        }
    }

    /// Field newtypes: any text parses or is refused; what parses keeps its limits.
    #[test]
    fn field_parsers_never_panic_and_keep_their_limits(text in hostile_text(300)) {
        use shared::contact::{EmailAddress, PersonName, PhoneNumber};
        use shared::message::{ClientId, MessageBody};
        if let Ok(body) = MessageBody::parse(&text) {
            let n = body.as_str().chars().count();
            prop_assert!((1..=MessageBody::MAX_CHARS).contains(&n));
            prop_assert!(!body.as_str().contains(['\r', '\0']));
        }
        if let Ok(id) = ClientId::parse(&text) {
            prop_assert!((1..=64).contains(&id.as_str().len()));
        }
        if let Ok(name) = PersonName::parse("name", &text) {
            prop_assert!(name.as_str().chars().count() <= PersonName::MAX_CHARS);
            prop_assert!(!name.as_str().contains(['\r', '\0']));
        }
        if let Ok(email) = EmailAddress::parse("email", &text) {
            prop_assert!(email.as_str().contains('@') && !email.as_str().contains(char::is_whitespace));
        }
        if let Ok(phone) = PhoneNumber::parse("phone", &text) {
            let digits = phone.as_str().strip_prefix('+').unwrap_or_default();
            prop_assert!((8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()));
        }
        let _ = shared::input::bounded_text("f", &text, 0, 10);
        if let Ok(tag) = shared::input::language_tag("language", &text) {
            prop_assert!(tag.len() <= 35);
        }
        let _ = shared::tag::TagName::parse(&text);
        let _ = shared::tag::Color::parse(&text);
        let _ = shared::team::TeamName::parse(&text);
        let _ = shared::canned::Shortcut::parse(&text);
        let _ = shared::widget_settings::AccentColor::parse(&text);
        let _ = shared::hours::TimeZoneName::parse(&text);
        let _ = shared::hours::Interval::parse(&text);
        let _ = shared::conversation::SearchTerms::parse(&text);
        let _ = shared::conversation::Status::parse(&text);
        let _ = shared::conversation::StatusFilter::parse(&text);
        let _ = shared::operator::Password::parse(&text);
        let _ = shared::operator::Role::parse(&text);
        let _ = shared::routing::Strategy::parse(&text);
        let _ = shared::webhook::EventType::parse(&text);
        let _ = shared::router::Sweep::parse(&text);
        let _ = shared::channel::Channel::parse(&text);
        let _ = shared::topic::parse_name(&text);
        let _ = shared::outbox::RetrySchedule::parse(&text);
        let _ = shared::kb::ArticleTitle::parse(&text);
        let _ = shared::kb::ArticleBody::parse(&text);
        let _ = shared::kb::Language::parse(&text);
    }

    /// Phone numbers and emails as people type them read back normalised.
    #[test]
    fn contact_fields_round_trip(
        digits in "[1-9][0-9]{7,14}",
        seps in proptest::collection::vec(prop_oneof![Just(""), Just(" "), Just("-"), Just("."), Just("(")], 15),
        local in "[a-z0-9._%+-]{1,30}",
        domain in "[a-z0-9-]{1,20}\\.[a-z]{2,6}",
    ) {
        let typed: String = digits.chars().zip(seps.iter().cycle()).map(|(d, s)| format!("{s}{d}")).collect();
        let phone = shared::contact::PhoneNumber::parse("phone", &format!("+{typed}"));
        prop_assert_eq!(phone.map(|p| p.as_str().to_owned()), Ok(format!("+{digits}")));
        let address = format!("{local}@{domain}");
        let email = shared::contact::EmailAddress::parse("email", &format!("  {address} "));
        prop_assert_eq!(email.map(|e| e.as_str().to_owned()), Ok(address));
    }

    /// Credentials: `Authorization` values and tokens; only well-formed tokens get through.
    #[test]
    fn credentials_never_panic(header in hostile_text(120), token in "[A-Za-z0-9_-]{43}") {
        let _ = shared::secret::bearer(&header);
        let _ = shared::secret::Token::parse(&header);
        let _ = shared::visitor::bearer_token(Some(&header));
        let _ = shared::visitor::optional_bearer_token(Some(&header));
        prop_assert!(shared::visitor::optional_bearer_token(None).is_ok_and(|t| t.is_none()));
        let parsed = shared::visitor::bearer_token(Some(&format!("bEaReR  {token} ")));
        prop_assert_eq!(parsed.map(|t| t.as_str().to_owned()).ok(), Some(token.clone()));
        let longer = format!("{token}x");
        prop_assert!(shared::secret::Token::parse(&longer).is_none());
    }

    /// Uploads: any declared type, name and bytes are kept or refused; a kept file's name is
    /// safe in a header and its `Content-Disposition` cannot be broken out of.
    #[test]
    fn uploads_are_kept_or_refused_and_their_names_are_safe(
        name in hostile_text(300),
        content_type in prop_oneof![
            hostile_text(40),
            proptest::sample::select(&["image/png", "image/jpeg", "IMAGE/JPG; q=1", "image/gif",
                "image/webp", "application/pdf", "text/plain", "text/html", "image/svg+xml"][..]).prop_map(str::to_owned),
        ],
        head in proptest::sample::select(FILE_HEADS),
        tail in hostile_bytes(100),
    ) {
        let data = [head, &tail[..]].concat();
        if let Ok(file) = shared::attachment::NewAttachment::from_upload(&name, &content_type, data.clone()) {
            prop_assert!(shared::attachment::ALLOWED_TYPES.iter().any(|(t, _)| *t == file.content_type()));
            prop_assert!(!file.name().is_empty());
            prop_assert!(!file.name().contains(['/', '\\', '"', '\r', '\n', '\0']));
            prop_assert_eq!(file.size(), data.len());
            let stored = shared::attachment::StoredFile {
                name: file.name().to_owned(),
                content_type: file.content_type().to_owned(),
                data,
            };
            let disposition = shared::attachment::disposition(&stored);
            prop_assert!(disposition.is_ascii() && !disposition.contains(['\r', '\n', '\0']));
            prop_assert_eq!(disposition.matches('"').count(), 2);
        }
        let _ = shared::attachment::NewAttachment::from_provider(&name, &content_type, tail);
    }

    /// Webhook endpoint URLs (the SSRF rule): any text is an endpoint or a field error; an
    /// accepted one is https to a public host unless it is the trusted origin.
    #[test]
    fn endpoint_urls_never_panic(text in prop_oneof![
        hostile_text(120),
        hostile_text(60).prop_map(|t| format!("https://{t}")),
        "(https?|ftp)://[a-z0-9.:\\[\\]@%-]{0,40}(/[ -~]{0,20})?",
    ]) {
        use shared::webhook::address::{EndpointUrl, Origin};
        let trusted = Origin::parse_setting("http://localhost:8080").ok().flatten();
        let _ = Origin::parse_setting(&text);
        if let Ok(url) = EndpointUrl::parse(&text, None) {
            prop_assert!(text.trim().to_ascii_lowercase().starts_with("https://"), "{:?}", url);
        }
        let _ = EndpointUrl::parse(&text, trusted.as_ref());
    }
}

#[test]
fn deeply_nested_request_bodies_are_refused_not_a_stack_overflow() {
    for object in [false, true] {
        for close in [false, true] {
            // Within the body limit, so the nesting limit is what refuses it.
            let deep = deep_json(MAX_JSON_BODY_BYTES / 12, object, close);
            for (name, parse) in REQUEST_TYPES {
                // Refused by the nesting limit, or (well-formed fields a type does not know)
                // skipped without recursion; never a stack overflow.
                match parse(&deep) {
                    Ok(()) => assert!(close && object, "{name} accepted {object} {close}"),
                    Err(e) => assert_eq!(e.status(), 400, "{name}"),
                }
                if !close {
                    assert!(parse(&deep).is_err(), "{name} accepted unclosed JSON");
                }
                // The same as the value of a field.
                let mut wrapped = b"{\"body\":".to_vec();
                wrapped.extend_from_slice(&deep);
                wrapped.push(b'}');
                match parse(&wrapped) {
                    Ok(()) => assert!(close, "{name} accepted unclosed JSON"),
                    Err(e) => assert_eq!(e.status(), 400, "{name}"),
                }
            }
        }
    }
}

#[test]
fn bodies_over_the_limit_are_413_before_parsing() {
    let mut big = b"{\"body\":\"".to_vec();
    big.resize(MAX_JSON_BODY_BYTES + 1, b'a');
    for (name, parse) in REQUEST_TYPES {
        assert_eq!(parse(&big).expect_err(name).status(), 413, "{name}");
    }
}

/// Free text the assistant and the survey read (a message, an email's text) is read in linear
/// time, whatever its shape.
#[test]
fn long_free_text_is_read_in_linear_time() {
    use crate::{LIMIT_MS, within_ms};
    let n = 256 * 1024;
    for text in [
        "refund ".repeat(n / 7),
        "a".repeat(n),
        "5 ".repeat(n / 2),
        "> quoted\n".repeat(n / 9),
        "\u{2605}".repeat(n / 3),
        "the ".repeat(n / 4),
    ] {
        within_ms(LIMIT_MS, "kb::Question::parse", || {
            shared::kb::Question::parse(&text, None)
        });
        within_ms(LIMIT_MS, "csat::parse_reply", || {
            shared::csat::parse_reply(&text)
        });
        let _ = within_ms(LIMIT_MS, "MessageBody::parse", || {
            shared::message::MessageBody::parse(&text)
        });
        within_ms(LIMIT_MS, "query_text", || {
            api::query_text(&format!("q={text}"), "q")
        });
    }
}
