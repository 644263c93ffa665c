//! Customer satisfaction (CSAT): one survey when a conversation is resolved, one answer per
//! conversation, a rating from 1 (poor) to 5 (great) and an optional comment.
//!
//! # When a survey goes out
//! [`request`] runs in the transaction that resolves a conversation. It asks where the
//! customer last wrote (the channel an automatic message would take, [`outbox`]):
//! - the website chat: a public `csat.requested` event, so an open widget shows the prompt at
//!   once; a widget that loads the conversation later learns it from [`for_widget`];
//! - SMS, WhatsApp, email, Messenger or Instagram: a short question in the customer's language
//!   (en, es, fr, de; English otherwise), stored as a system message with `sender: "csat"` and
//!   queued in the outbox like the assistant's messages. A channel that is closed (no address,
//!   Meta's 24-hour window) gets no survey rather than one in a chat the customer never opens.
//!
//! The survey row's primary key makes it once per conversation: resolving again after a reopen
//! asks nothing. The admin switches surveys off, or off per channel ([`CsatSettings`]).
//!
//! # Answers
//! In the widget, `POST .../csat` ([`answer_in_widget`]). On a provider channel, [`reply`]
//! decides whether an inbound message is the answer: the survey went out on that channel, the
//! conversation is still resolved, nobody answered yet, it is at most [`ANSWER_WINDOW_MS`] old,
//! and the text starts with a rating ([`parse_reply`]). Such a reply is recorded as the answer
//! and **not stored as a message**: a customer message reopens a conversation (the
//! `messages_publish` trigger), and a rating is not a request for more help. Any other text is
//! a message as before. A provider's retry of an answer (same channel, same rating and
//! comment) changes nothing; so does the customer sending the same answer again.
//!
//! Each answer appends an internal `csat.received` event `{rating, comment, channel,
//! operator_id}` (`operator_id`: the assignee, who handled it when it was resolved). Reports
//! and outgoing webhooks read that event: keep its name and fields.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::channel::{Channel, send};
use crate::chat::ChatError;
use crate::conversation;
use crate::delivery::DeliveryStatus;
use crate::event::{self, EventKind, Visibility};
use crate::host::Ctx;
use crate::input::{InvalidInput, bounded_text};
use crate::message::{self, Author, ClientId, Inserted, MessageBody, NewMessage};
use crate::outbox;
use crate::secret::Token;
use crate::store::{Database, DbError, transaction};

/// The `sender` of survey messages.
pub const SENDER: &str = "csat";
/// How long a survey on a provider channel waits for its answer: the window in which a message
/// would reopen the conversation rather than start a new one.
pub const ANSWER_WINDOW_MS: i64 = crate::inbound::REOPEN_WINDOW_MS;
/// Comments are at most this long (a longer one from a provider channel is cut, not refused).
pub const COMMENT_MAX_CHARS: usize = 1000;
const SETTINGS_KEY: &str = "csat";

/// Which channels get surveys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelSwitches {
    pub web: bool,
    pub sms: bool,
    pub whatsapp: bool,
    pub email: bool,
    pub messenger: bool,
    pub instagram: bool,
}

impl Default for ChannelSwitches {
    fn default() -> Self {
        ChannelSwitches {
            web: true,
            sms: true,
            whatsapp: true,
            email: true,
            messenger: true,
            instagram: true,
        }
    }
}

impl ChannelSwitches {
    pub fn allows(&self, channel: Channel) -> bool {
        match channel {
            Channel::Web => self.web,
            Channel::Sms => self.sms,
            Channel::Whatsapp => self.whatsapp,
            Channel::Email => self.email,
            Channel::Messenger => self.messenger,
            Channel::Instagram => self.instagram,
        }
    }
}

/// The survey settings (`GET/PATCH /api/admin/csat`): on by default, on every channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsatSettings {
    pub enabled: bool,
    pub channels: ChannelSwitches,
}

impl Default for CsatSettings {
    fn default() -> Self {
        CsatSettings {
            enabled: true,
            channels: ChannelSwitches::default(),
        }
    }
}

const GET_SETTING: &str = "SELECT value FROM settings WHERE key = ?1";
const SET_SETTING: &str = "INSERT INTO settings (key, value) VALUES (?1, ?2)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

pub fn settings(db: &dyn Database) -> Result<CsatSettings, DbError> {
    match db.execute(GET_SETTING, &[SETTINGS_KEY.into()])?.first() {
        None => Ok(CsatSettings::default()),
        Some(row) => serde_json::from_str(row.str("value")?)
            .map_err(|e| DbError::Decode(format!("csat settings: {e}"))),
    }
}

/// Replaces the settings with `patch` applied: a JSON object of the fields to change;
/// `channels` may name only some channels.
pub fn save_settings(db: &dyn Database, patch: &Value) -> Result<CsatSettings, ChatError> {
    let mut merged = serde_json::to_value(settings(db)?)
        .map_err(|e| DbError::Decode(format!("csat settings: {e}")))?;
    let (Some(target), Some(changes)) = (merged.as_object_mut(), patch.as_object()) else {
        return Err(InvalidInput::new("body", "must be a JSON object").into());
    };
    for (key, value) in changes {
        match (target.get_mut(key), value) {
            (Some(Value::Object(inner)), Value::Object(fields)) if key == "channels" => {
                for (k, v) in fields {
                    inner.insert(k.clone(), v.clone());
                }
            }
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
    let parsed: CsatSettings =
        serde_json::from_value(merged).map_err(|e| InvalidInput::new("body", e.to_string()))?;
    let text = serde_json::to_string(&parsed)
        .map_err(|e| DbError::Decode(format!("csat settings: {e}")))?;
    db.execute(SET_SETTING, &[SETTINGS_KEY.into(), text.into()])?;
    Ok(parsed)
}

/// A rating: 1 (poor) to 5 (great).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Rating(u8);

impl Rating {
    pub fn new(value: i64) -> Option<Rating> {
        (1..=5).contains(&value).then_some(Rating(value as u8))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// One customer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub rating: Rating,
    pub comment: Option<String>,
}

/// `POST /api/widget/conversations/:id/csat` body. `rating` is taken as any JSON value so a
/// wrong one is refused naming the field, not with a deserializer's message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    #[serde(default)]
    pub rating: Value,
    #[serde(default)]
    pub comment: Option<String>,
}

impl AnswerRequest {
    pub fn parse(&self) -> Result<Answer, InvalidInput> {
        let rating = self
            .rating
            .as_i64()
            .and_then(Rating::new)
            .ok_or_else(|| InvalidInput::new("rating", "must be a whole number from 1 to 5"))?;
        let comment = bounded_text(
            "comment",
            self.comment.as_deref().unwrap_or(""),
            0,
            COMMENT_MAX_CHARS,
        )?;
        Ok(Answer {
            rating,
            comment: (!comment.is_empty()).then_some(comment),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Reading an answer out of a free-text reply

/// Number words a reply may start with instead of a digit (folded: lower case, no accents).
const NUMBER_WORDS: &[(&str, u8)] = &[
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("uno", 1),
    ("una", 1),
    ("dos", 2),
    ("tres", 3),
    ("cuatro", 4),
    ("cinco", 5),
    ("un", 1),
    ("une", 1),
    ("deux", 2),
    ("trois", 3),
    ("quatre", 4),
    ("cinq", 5),
    ("eins", 1),
    ("zwei", 2),
    ("drei", 3),
    ("vier", 4),
    ("funf", 5),
    ("fuenf", 5),
];

/// What may follow a rating and belongs to it: a scale or "stars", in the four languages.
const SCALE_WORDS: &[&str] = &[
    "out of 5",
    "of 5",
    "de 5",
    "sur 5",
    "von 5",
    "stars",
    "star",
    "estrellas",
    "estrella",
    "etoiles",
    "etoile",
    "sterne",
    "stern",
];

/// Punctuation that separates a rating from its comment ("5 - great", "five!").
fn is_separator(c: char) -> bool {
    matches!(
        c,
        '.' | '!' | ',' | ';' | ':' | '-' | '–' | '—' | ')' | '/' | '?' | '\n'
    )
}

fn fold(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ä' | 'Á' | 'À' | 'Â' | 'Ä' => 'a',
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Î' | 'Ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'Ó' | 'Ô' | 'Ö' => 'o',
        'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Û' | 'Ü' => 'u',
        other => other.to_ascii_lowercase(),
    }
}

/// The leading letters of `text`, folded, and the rest.
fn leading_word(text: &str) -> (String, &str) {
    let end = text
        .char_indices()
        .find(|(_, c)| !c.is_alphabetic())
        .map_or(text.len(), |(i, _)| i);
    (text[..end].chars().map(fold).collect(), &text[end..])
}

/// `rest` without a leading scale ("/5", "out of 5", "stars").
fn skip_scale(rest: &str) -> &str {
    let trimmed = rest.trim_start_matches([' ', '\t']);
    if let Some(after) = trimmed.strip_prefix('/') {
        let after = after.trim_start();
        if let Some(after) = after.strip_prefix('5') {
            return after;
        }
    }
    let folded: String = trimmed.chars().map(fold).collect();
    for scale in SCALE_WORDS {
        // Folding keeps one char per char, so a char count finds the same place in `trimmed`.
        if folded.starts_with(scale)
            && folded[scale.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphanumeric())
        {
            let chars = scale.chars().count();
            let at = trimmed
                .char_indices()
                .nth(chars)
                .map_or(trimmed.len(), |(i, _)| i);
            return &trimmed[at..];
        }
    }
    rest
}

/// A reply's rating and what follows it, or `None` when it does not start with one.
fn leading_rating(text: &str) -> Option<(Rating, &str)> {
    let first = text.chars().next()?;
    if let Some(digit) = first.to_digit(10) {
        let rest = &text[first.len_utf8()..];
        let mut next = rest.chars();
        let refused = match next.next() {
            // "10", "12 items", "5pm", "3rd": a bigger number or a word, not a rating.
            Some(c) if c.is_alphanumeric() => true,
            // "4.5", "5:30", "3,5": a decimal or a time.
            Some('.' | ',' | ':') => next.next().is_some_and(|c| c.is_ascii_digit()),
            _ => false,
        };
        if refused {
            return None;
        }
        return Some((Rating::new(i64::from(digit))?, skip_scale(rest)));
    }
    // Stars: "★★★★" or "⭐⭐⭐⭐⭐".
    let stars = text
        .chars()
        .take_while(|c| matches!(c, '★' | '⭐' | '\u{fe0f}'))
        .filter(|c| *c != '\u{fe0f}')
        .count();
    if stars > 0 {
        let at = text
            .char_indices()
            .find(|(_, c)| !matches!(c, '★' | '⭐' | '\u{fe0f}'))
            .map_or(text.len(), |(i, _)| i);
        return Some((Rating::new(stars as i64)?, &text[at..]));
    }
    // A number word only alone or before punctuation: "Five!", "cinq - super". Words start
    // too many sentences ("One more thing", "Un problème") to take more than that.
    let (word, rest) = leading_word(text);
    let value = NUMBER_WORDS.iter().find(|(w, _)| *w == word)?.1;
    let rest = skip_scale(rest);
    let after = rest.trim_start_matches([' ', '\t']);
    if after.is_empty() || after.starts_with(is_separator) || after.starts_with('\r') {
        return Some((Rating::new(i64::from(value))?, rest));
    }
    None
}

/// A line that starts the quoted original in an email reply.
fn starts_quote(line: &str) -> bool {
    let line = line.trim();
    line.starts_with('>')
        || line.starts_with("-----Original")
        || line.starts_with("________________")
        || ["wrote:", "a écrit :", "a écrit:", "escribió:", "schrieb:"]
            .iter()
            .any(|end| line.ends_with(end))
}

/// The comment after a rating: without the separator before it and any quoted email below,
/// cut to [`COMMENT_MAX_CHARS`].
fn comment_of(rest: &str) -> Option<String> {
    let kept: Vec<&str> = rest
        .lines()
        .take_while(|line| !starts_quote(line))
        .collect();
    let text = kept.join("\n");
    let text = text.trim_start_matches(|c: char| c.is_whitespace() || is_separator(c));
    let text: String = text
        .trim()
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .take(COMMENT_MAX_CHARS)
        .collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The answer in a free-text reply, if it starts with a rating: a digit 1-5 (not part of a
/// bigger number, a decimal, a time or a word: "10", "4.5", "5:30", "5pm"), optionally "/5",
/// "out of 5" or "stars"; one to five ★; or a number word in English, Spanish, French or
/// German on its own or before punctuation ("five", "cinco!", "cinq.", "fünf"). The rest,
/// without quoted email, is the comment.
pub fn parse_reply(text: &str) -> Option<Answer> {
    let text = text.trim_start();
    let (rating, rest) = leading_rating(text)?;
    Some(Answer {
        rating,
        comment: comment_of(rest),
    })
}

// ---------------------------------------------------------------------------------------------
// Asking

/// What [`request`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// Surveys are off (or for this channel), the channel is closed, or it was surveyed before.
    Nothing,
    /// The widget was told by a public `csat.requested` event.
    InWidget,
    /// A survey message waits in the outbox: the caller runs a dispatch pass.
    Queued { message_id: i64 },
}

const INSERT_SURVEY: &str = "INSERT INTO csat_surveys (conversation_id, channel, created_at)
     VALUES (?1, ?2, ?3) ON CONFLICT (conversation_id) DO NOTHING RETURNING conversation_id";
const SET_SURVEY_MESSAGE: &str =
    "UPDATE csat_surveys SET message_id = ?2 WHERE conversation_id = ?1";
/// The conversation's language, else the customer's recent words to detect it from.
const LANGUAGE: &str = "SELECT c.language,
        (SELECT group_concat(body, ' ') FROM (SELECT body FROM messages
           WHERE conversation_id = c.id AND author = 'visitor' ORDER BY id DESC LIMIT 5)) AS texts
     FROM conversations c WHERE c.id = ?1";

/// The survey question in the customer's language.
pub fn question(language: Option<&str>) -> &'static str {
    match language {
        Some("es") => {
            "¿Qué tal lo hicimos? Responda con un número del 1 (malo) al 5 (excelente) y, si quiere, un comentario."
        }
        Some("fr") => {
            "Comment avons-nous fait ? Répondez par un chiffre de 1 (mauvais) à 5 (excellent), et un commentaire si vous le souhaitez."
        }
        Some("de") => {
            "Wie waren wir? Antworten Sie mit einer Zahl von 1 (schlecht) bis 5 (sehr gut) und gern mit einem Kommentar."
        }
        _ => {
            "How did we do? Reply with a number from 1 (poor) to 5 (great), and a comment if you like."
        }
    }
}

/// A language the survey speaks, from a tag like `pt-BR` or `es`.
fn spoken(language: Option<&str>) -> Option<&'static str> {
    let primary = language?.split(['-', '_']).next()?.to_ascii_lowercase();
    ["en", "es", "fr", "de"].into_iter().find(|l| *l == primary)
}

fn language_of(db: &dyn Database, conversation_id: i64) -> Result<Option<&'static str>, DbError> {
    let rows = db.execute(LANGUAGE, &[conversation_id.into()])?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    Ok(spoken(row.opt_str("language")?).or_else(|| {
        row.opt_str("texts")
            .ok()
            .flatten()
            .and_then(crate::kb::detect_language)
    }))
}

/// Asks for the customer's rating of a conversation that is being resolved (see the module
/// docs); call inside the transaction that resolves it. Events it appends are announced with
/// the resolution's.
pub fn request(db: &dyn Database, conversation_id: i64, now: i64) -> Result<Requested, ChatError> {
    let settings = settings(db)?;
    if !settings.enabled {
        return Ok(Requested::Nothing);
    }
    let options = outbox::reply_options(db, conversation_id, now)?;
    let channel = options.default;
    let open = options
        .channels
        .iter()
        .any(|o| o.channel == channel && o.available);
    if !open || !settings.channels.allows(channel) {
        return Ok(Requested::Nothing);
    }
    let target = if channel == Channel::Web {
        None
    } else {
        let target = outbox::automatic_target(db, conversation_id, now)?;
        if target.channel != channel || target.recipient.is_none() {
            return Ok(Requested::Nothing);
        }
        Some(target)
    };
    let fresh = db.execute(
        INSERT_SURVEY,
        &[conversation_id.into(), channel.as_str().into(), now.into()],
    )?;
    if fresh.is_empty() {
        return Ok(Requested::Nothing);
    }
    let Some(target) = target else {
        event::append(
            db,
            conversation_id,
            EventKind::CsatRequested,
            Visibility::Public,
            &json!({ "channel": Channel::Web.as_str() }),
            now,
        )?;
        return Ok(Requested::InWidget);
    };
    let text = question(language_of(db, conversation_id)?);
    debug_assert!(send::max_chars(channel).is_none_or(|max| text.chars().count() <= max));
    let body = MessageBody::parse(text)?;
    let client_id = ClientId::parse(&format!("csat-{conversation_id}"))?;
    let new = NewMessage {
        conversation_id,
        author: Author::System,
        operator_id: None,
        operator_name: None,
        channel: target.channel,
        body: &body,
        client_id: Some(&client_id),
        delivery: Some(DeliveryStatus::Queued),
        sender: Some(SENDER),
    };
    Ok(match message::insert(db, &new, None, None, now)? {
        Inserted::Created(message) => {
            outbox::enqueue(db, conversation_id, message.id, &target, now)?;
            db.execute(
                SET_SURVEY_MESSAGE,
                &[conversation_id.into(), message.id.into()],
            )?;
            Requested::Queued {
                message_id: message.id,
            }
        }
        _ => Requested::Nothing,
    })
}

// ---------------------------------------------------------------------------------------------
// Answering

/// A recorded answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Response {
    pub conversation_id: i64,
    pub rating: Rating,
    pub comment: Option<String>,
    pub channel: Channel,
    pub operator_id: Option<i64>,
    pub created_at: i64,
}

/// The `csat.received` event's data (reports and webhooks read exactly these fields).
#[derive(Serialize)]
struct Received<'a> {
    rating: Rating,
    comment: Option<&'a str>,
    channel: Channel,
    operator_id: Option<i64>,
}

const SURVEYED: &str = "SELECT channel FROM csat_surveys WHERE conversation_id = ?1";
/// The handler is the conversation's assignee: while a survey is pending the conversation is
/// still resolved, so that is who had it when it was resolved.
const INSERT_RESPONSE: &str = "INSERT INTO csat_responses
        (conversation_id, rating, comment, channel, operator_id, created_at)
     SELECT c.id, ?2, ?3, ?4, c.assignee_id, ?5 FROM conversations c WHERE c.id = ?1
     ON CONFLICT (conversation_id) DO NOTHING RETURNING operator_id";

/// Records `answer` once per conversation and appends its `csat.received` event. Returns the
/// response and the event id (announce it after the commit).
fn record(
    db: &dyn Database,
    conversation_id: i64,
    answer: &Answer,
    channel: Channel,
    now: i64,
) -> Result<(Response, i64), ChatError> {
    if db
        .execute(SURVEYED, &[conversation_id.into()])?
        .first()
        .is_none()
    {
        return Err(ChatError::Conflict(
            "no_survey",
            "no satisfaction survey was requested for this conversation".into(),
        ));
    }
    let rows = db.execute(
        INSERT_RESPONSE,
        &[
            conversation_id.into(),
            i64::from(answer.rating.get()).into(),
            answer.comment.as_deref().into(),
            channel.as_str().into(),
            now.into(),
        ],
    )?;
    let Some(row) = rows.first() else {
        return Err(ChatError::Conflict(
            "already_answered",
            "this conversation has been rated already".into(),
        ));
    };
    let operator_id = row.opt_i64("operator_id")?;
    let event_id = event::append(
        db,
        conversation_id,
        EventKind::CsatReceived,
        Visibility::Internal,
        &Received {
            rating: answer.rating,
            comment: answer.comment.as_deref(),
            channel,
            operator_id,
        },
        now,
    )?;
    Ok((
        Response {
            conversation_id,
            rating: answer.rating,
            comment: answer.comment.clone(),
            channel,
            operator_id,
            created_at: now,
        },
        event_id,
    ))
}

/// The widget's answer (`POST /api/widget/conversations/:id/csat`): 409 `no_survey` when none
/// was requested, 409 `already_answered` for a second answer.
pub fn answer_in_widget(
    ctx: &Ctx<'_>,
    token: &Token,
    conversation_id: i64,
    request: &AnswerRequest,
) -> Result<Response, ChatError> {
    let answer = request.parse()?;
    let now = ctx.clock.now_ms();
    let (response, event_id) = transaction(ctx.db, || {
        conversation::owned_by_visitor(ctx.db, conversation_id, &token.hash())?
            .ok_or(ChatError::NotFound("conversation"))?;
        record(ctx.db, conversation_id, &answer, Channel::Web, now)
    })?;
    event::announce(ctx, conversation_id, &format!("e{event_id}"));
    Ok(response)
}

/// Where the survey stands, as the widget shows it after a reload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum WidgetSurvey {
    /// Asked in the chat and not answered yet: show the prompt.
    Pending,
    /// Answered (on any channel): show the thanks.
    Answered { rating: Rating },
}

const SURVEY_STATE: &str = "SELECT s.channel, r.rating FROM csat_surveys s
     LEFT JOIN csat_responses r ON r.conversation_id = s.conversation_id
     WHERE s.conversation_id = ?1";

/// The survey of a conversation for its widget: `None` when there is none, or it went out on
/// another channel and is not answered.
pub fn for_widget(
    db: &dyn Database,
    conversation_id: i64,
) -> Result<Option<WidgetSurvey>, DbError> {
    let rows = db.execute(SURVEY_STATE, &[conversation_id.into()])?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    Ok(match row.opt_i64("rating")?.and_then(Rating::new) {
        Some(rating) => Some(WidgetSurvey::Answered { rating }),
        None if row.str("channel")? == Channel::Web.as_str() => Some(WidgetSurvey::Pending),
        None => None,
    })
}

/// What [`reply`] made of an inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Not an answer: store it as a message, as always.
    NotAnAnswer,
    /// Recorded as the survey's answer; announce the event after the commit.
    Recorded { event_id: i64 },
    /// The answer already recorded, again (a provider's retry): nothing changes.
    Repeated,
}

const RECORDED: &str =
    "SELECT rating, comment, channel, created_at FROM csat_responses WHERE conversation_id = ?1";
const PENDING: &str = "SELECT 1 AS pending FROM csat_surveys s
     JOIN conversations c ON c.id = s.conversation_id
     WHERE s.conversation_id = ?1 AND s.channel = ?2 AND c.status = 'resolved'
       AND s.created_at >= ?3";

/// Whether an inbound message on a provider `channel` answers `conversation_id`'s survey, and
/// if so records it (see the module docs); call in the transaction that would store it.
pub fn reply(
    db: &dyn Database,
    conversation_id: i64,
    channel: Channel,
    text: &str,
    now: i64,
) -> Result<Reply, ChatError> {
    let Some(answer) = parse_reply(text) else {
        return Ok(Reply::NotAnAnswer);
    };
    if let Some(row) = db.execute(RECORDED, &[conversation_id.into()])?.first() {
        let same = row.str("channel")? == channel.as_str()
            && row.i64("rating")? == i64::from(answer.rating.get())
            && row.opt_str("comment")? == answer.comment.as_deref()
            && now - row.i64("created_at")? <= ANSWER_WINDOW_MS;
        return Ok(if same {
            Reply::Repeated
        } else {
            Reply::NotAnAnswer
        });
    }
    let pending = db
        .execute(
            PENDING,
            &[
                conversation_id.into(),
                channel.as_str().into(),
                (now - ANSWER_WINDOW_MS).into(),
            ],
        )?
        .first()
        .is_some();
    if !pending {
        return Ok(Reply::NotAnAnswer);
    }
    let (_, event_id) = record(db, conversation_id, &answer, channel, now)?;
    Ok(Reply::Recorded { event_id })
}

#[cfg(test)]
mod tests;
