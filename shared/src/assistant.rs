//! The assistant: the AI first line. It answers routine questions from the knowledge base,
//! asks one clarifying question when unsure, and hands off to people, with a summary, when it
//! should. Deterministic and explainable: every answer is a passage of a published article
//! (never invented text), and every handoff records the triggers that fired.
//!
//! # Ownership
//! A conversation is the assistant's while `bot_active` is set (migration 0008): it is then not
//! waiting for an operator, so routing leaves it alone. [`adopt`] gives new conversations to the
//! assistant when the settings say so (`always`, or `after_hours` while the team is closed).
//! Handing off clears the flag and starts the wait for an operator; an operator can hand a
//! conversation back ([`hand_back`]). The assistant stops the moment a person owns the
//! conversation: a turn only runs while it is unassigned and the flag is set.
//!
//! # A turn
//! [`turn`] claims the customer messages the assistant has not dealt with yet (one conditional
//! `UPDATE`, so concurrent calls never answer twice), then decides, in this order:
//! 1. escalate (see [`crate::escalation`]): an explicit request for a person, frustration, a
//!    VIP customer, a human-only topic, a long wait, or too little confidence after one
//!    clarifying question;
//! 2. answer with the best article's passage when its confidence reaches the bar;
//! 3. otherwise ask one clarifying question offering the closest articles' titles;
//! 4. a second unsure turn hands off.

use serde::{Deserialize, Serialize};

use crate::channel::send;
use crate::chat::ChatError;
use crate::delivery::DeliveryStatus;
use crate::escalation::{self, EscalationSettings};
use crate::event::{self, EventKind, Visibility};
use crate::host::Ctx;
use crate::input::InvalidInput;
use crate::kb;
use crate::message::{self, Author, ClientId, Inserted, MessageBody, NewMessage};
use crate::outbox;
use crate::store::{Database, DbError, transaction};

/// The `sender` of the assistant's messages.
pub const SENDER: &str = "assistant";
const SETTINGS_KEY: &str = "assistant";

/// When the assistant takes new conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Always,
    AfterHours,
    Never,
}

/// The assistant's settings (`GET/PATCH /api/admin/assistant`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AssistantSettings {
    pub mode: Mode,
    /// Clarifying questions before an unsure assistant hands off (0-3).
    pub max_clarifications: i64,
    /// The triggers, and the confidence an article needs before the assistant answers with
    /// it (`escalation.min_confidence`).
    pub escalation: EscalationSettings,
}

impl Default for AssistantSettings {
    fn default() -> Self {
        AssistantSettings {
            mode: Mode::Never,
            max_clarifications: 1,
            escalation: EscalationSettings::default(),
        }
    }
}

impl AssistantSettings {
    fn check(&self) -> Result<(), InvalidInput> {
        if !(0..=3).contains(&self.max_clarifications) {
            return Err(InvalidInput::new("max_clarifications", "must be 0-3"));
        }
        Ok(())
    }
}

const GET_SETTING: &str = "SELECT value FROM settings WHERE key = ?1";
const SET_SETTING: &str = "INSERT INTO settings (key, value) VALUES (?1, ?2)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

pub fn settings(db: &dyn Database) -> Result<AssistantSettings, DbError> {
    match db.execute(GET_SETTING, &[SETTINGS_KEY.into()])?.first() {
        None => Ok(AssistantSettings::default()),
        Some(row) => serde_json::from_str(row.str("value")?)
            .map_err(|e| DbError::Decode(format!("assistant settings: {e}"))),
    }
}

/// Replaces the settings with `patch` applied (a JSON object of the fields to change).
pub fn save_settings(
    db: &dyn Database,
    patch: &serde_json::Value,
) -> Result<AssistantSettings, ChatError> {
    let mut merged = serde_json::to_value(settings(db)?)
        .map_err(|e| DbError::Decode(format!("assistant settings: {e}")))?;
    let (Some(target), Some(changes)) = (merged.as_object_mut(), patch.as_object()) else {
        return Err(InvalidInput::new("body", "must be a JSON object").into());
    };
    for (key, value) in changes {
        match (target.get_mut(key), value) {
            (Some(serde_json::Value::Object(inner)), serde_json::Value::Object(fields))
                if key == "escalation" =>
            {
                for (k, v) in fields {
                    inner.insert(k.clone(), v.clone());
                }
            }
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
    // Range errors name their field ("min_confidence: must be 0 to 1").
    let parsed: AssistantSettings =
        serde_json::from_value(merged).map_err(|e| InvalidInput::new("body", e.to_string()))?;
    parsed.check()?;
    let text = serde_json::to_string(&parsed)
        .map_err(|e| DbError::Decode(format!("assistant settings: {e}")))?;
    db.execute(SET_SETTING, &[SETTINGS_KEY.into(), text.into()])?;
    Ok(parsed)
}

const OWNS: &str =
    "SELECT 1 AS owns FROM conversations WHERE id = ?1 AND bot_active = 1 AND assignee_id IS NULL";

/// Whether the assistant owns the conversation (its turn follows each customer message).
pub fn owns(db: &dyn Database, conversation_id: i64) -> Result<bool, DbError> {
    Ok(!db.execute(OWNS, &[conversation_id.into()])?.is_empty())
}

const ADOPT: &str = "UPDATE conversations SET bot_active = 1 WHERE id = ?1";

/// Whether the assistant takes a conversation that starts now: its settings' mode, and for
/// "after hours" whether the default team is open. Reads only, so callers ask before the
/// transaction that creates the conversation and do not hold the write lock for it.
pub fn takes_new(db: &dyn Database, now: i64) -> Result<bool, DbError> {
    Ok(match settings(db)?.mode {
        Mode::Always => true,
        Mode::AfterHours => !crate::hours::expected_reply(db, None, now)?.open,
        Mode::Never => false,
    })
}

/// Gives a new conversation to the assistant (when [`takes_new`] said so). Call in the
/// transaction that creates it, before its first message.
pub fn adopt(db: &dyn Database, conversation_id: i64) -> Result<(), DbError> {
    db.execute(ADOPT, &[conversation_id.into()])?;
    Ok(())
}

/// Words the assistant says, in the languages it speaks (English otherwise).
#[derive(Debug, Clone, Copy)]
enum Phrase {
    FromArticle,
    DidThatHelp,
    Clarify,
    Or,
    HandedOff,
    Assigned,
    Position,
    NobodyAvailable,
    Closed,
}

fn phrase(what: Phrase, language: Option<&str>) -> &'static str {
    use Phrase as P;
    match (language.unwrap_or("en"), what) {
        ("es", P::FromArticle) => "(De nuestro artículo de ayuda «{title}».)",
        ("es", P::DidThatHelp) => {
            "¿Responde esto a tu pregunta? Si no, dímelo y te paso con una persona."
        }
        ("es", P::Clarify) => {
            "Quiero asegurarme de entenderte. ¿Tu pregunta es sobre {options}? Si no, cuéntame un poco más."
        }
        ("es", P::Or) => " o ",
        ("es", P::HandedOff) => "Te paso con una persona de nuestro equipo.",
        ("es", P::Assigned) => "{name} ya está con tu conversación y te responderá enseguida.",
        ("es", P::Position) => {
            "Eres el número {position} en la fila; suele tardar unos {minutes} min."
        }
        ("es", P::NobodyAvailable) => {
            "Ahora mismo no hay nadie disponible; te responderemos lo antes posible."
        }
        ("es", P::Closed) => {
            "Ahora estamos cerrados; te responderemos cuando abramos ({opening}). Puedes dejar aquí tu mensaje."
        }
        ("fr", P::FromArticle) => "(Tiré de notre article d’aide « {title} ».)",
        ("fr", P::DidThatHelp) => {
            "Est-ce que cela répond à votre question ? Sinon, dites-le-moi et je vous passe un conseiller."
        }
        ("fr", P::Clarify) => {
            "Je veux être sûr de bien comprendre. Votre question porte-t-elle sur {options} ? Sinon, dites-m’en un peu plus."
        }
        ("fr", P::Or) => " ou ",
        ("fr", P::HandedOff) => "Je vous passe une personne de notre équipe.",
        ("fr", P::Assigned) => "{name} a pris votre conversation et vous répond tout de suite.",
        ("fr", P::Position) => {
            "Vous êtes numéro {position} dans la file ; comptez environ {minutes} min."
        }
        ("fr", P::NobodyAvailable) => {
            "Personne n’est disponible pour le moment ; nous vous répondrons dès que possible."
        }
        ("fr", P::Closed) => {
            "Nous sommes fermés ; nous vous répondrons à l’ouverture ({opening}). Vous pouvez laisser votre message ici."
        }
        ("de", P::FromArticle) => "(Aus unserem Hilfeartikel „{title}“.)",
        ("de", P::DidThatHelp) => {
            "Beantwortet das Ihre Frage? Wenn nicht, sagen Sie es mir, dann verbinde ich Sie mit einem Menschen."
        }
        ("de", P::Clarify) => {
            "Ich möchte Sie richtig verstehen. Geht es um {options}? Wenn nicht, erzählen Sie mir etwas mehr."
        }
        ("de", P::Or) => " oder ",
        ("de", P::HandedOff) => "Ich verbinde Sie mit jemandem aus unserem Team.",
        ("de", P::Assigned) => "{name} hat Ihr Gespräch übernommen und antwortet gleich.",
        ("de", P::Position) => {
            "Sie sind Nummer {position} in der Warteschlange; etwa {minutes} Min."
        }
        ("de", P::NobodyAvailable) => {
            "Gerade ist niemand verfügbar; wir antworten so bald wie möglich."
        }
        ("de", P::Closed) => {
            "Wir haben gerade geschlossen; wir antworten, sobald wir öffnen ({opening}). Sie können Ihre Nachricht hier hinterlassen."
        }
        (_, P::FromArticle) => "(From our help article “{title}”.)",
        (_, P::DidThatHelp) => {
            "Did that answer your question? If not, just say so and I'll bring in a person."
        }
        (_, P::Clarify) => {
            "I want to be sure I understand. Is your question about {options}? If not, tell me a little more."
        }
        (_, P::Or) => " or ",
        (_, P::HandedOff) => "I'm passing you to a person from our team.",
        (_, P::Assigned) => "{name} has your conversation and will reply shortly.",
        (_, P::Position) => {
            "You're number {position} in line; it usually takes about {minutes} min."
        }
        (_, P::NobodyAvailable) => {
            "Nobody is available right now; a person will reply as soon as possible."
        }
        (_, P::Closed) => {
            "We're closed right now; we'll reply when we open ({opening}). You can leave your message here."
        }
    }
}

/// A language the assistant speaks, from a tag like `pt-BR` or `es`.
fn spoken(language: Option<&str>) -> Option<&'static str> {
    let primary = language?.split(['-', '_']).next()?.to_ascii_lowercase();
    ["en", "es", "fr", "de"].into_iter().find(|l| *l == primary)
}

/// What a turn did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "did", rename_all = "snake_case")]
pub enum Turned {
    /// Not the assistant's conversation, or nothing new from the customer.
    Nothing,
    Answered {
        article_id: i64,
        confidence: f64,
    },
    Clarified,
    /// The conversation now waits for people; the caller runs a routing pass, then
    /// [`tell_wait`].
    HandedOff {
        reasons: Vec<escalation::Reason>,
    },
}

/// What the operator reads when the assistant hands off (an internal `assistant.handoff`
/// event in the conversation's timeline).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Handoff {
    /// What the customer asked, in their words.
    pub asked: Vec<String>,
    /// The articles the assistant answered with, if any.
    pub answered: Vec<String>,
    pub reasons: Vec<escalation::Reason>,
    pub topic: Option<String>,
    pub language: Option<String>,
    /// A one-paragraph summary for the operator.
    pub summary: String,
}

struct State {
    seen_up_to: i64,
    topic: Option<String>,
    language: Option<String>,
    channel: String,
    page_url: Option<String>,
    contact_id: i64,
}

const STATE: &str = "SELECT c.bot_seen_up_to, c.topic, c.language, c.channel, c.page_url, c.contact_id,
            (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = c.id AND author = 'visitor') AS latest
       FROM conversations c
      WHERE c.id = ?1 AND c.bot_active = 1 AND c.assignee_id IS NULL AND c.status = 'open'";
const CLAIM: &str = "UPDATE conversations SET bot_seen_up_to = ?3
      WHERE id = ?1 AND bot_seen_up_to = ?2 AND bot_active = 1 AND assignee_id IS NULL";
/// The customer's messages and the assistant's, newest 40, returned oldest first.
const HISTORY: &str = "SELECT id, author, body, client_id, created_at FROM (
        SELECT m.id, m.author, m.body, m.client_id, m.created_at
          FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE m.conversation_id = ?1 AND m.id > c.bot_started_after
           AND (m.author = 'visitor' OR m.sender = 'assistant')
         ORDER BY m.id DESC LIMIT 40) ORDER BY id";
const VIP: &str = "SELECT 1 AS vip FROM contacts
      WHERE id = ?1 AND lower(CAST(json_extract(attributes, '$.tier') AS TEXT)) = 'vip'";
const HAND_OFF: &str = "UPDATE conversations
        SET bot_active = 0, handed_off_at = ?2, waiting_since = COALESCE(waiting_since, ?2),
            version = version + 1
      WHERE id = ?1 AND bot_active = 1";

/// One message of the history.
struct Said {
    id: i64,
    by_customer: bool,
    body: String,
    kind: Option<String>,
    at: i64,
}

fn history(db: &dyn Database, conversation_id: i64) -> Result<Vec<Said>, DbError> {
    db.execute(HISTORY, &[conversation_id.into()])?
        .iter()
        .map(|row| {
            Ok(Said {
                id: row.i64("id")?,
                by_customer: row.str("author")? == "visitor",
                body: row.str("body")?.to_owned(),
                kind: row
                    .opt_str("client_id")?
                    .and_then(|c| c.strip_prefix("assistant-"))
                    .and_then(|c| c.split('-').next())
                    .map(str::to_owned),
                at: row.i64("created_at")?,
            })
        })
        .collect()
}

/// Posts the assistant's message where the customer last wrote: in the web chat, or queued
/// in the outbox for their SMS, email, Messenger, Instagram or WhatsApp (cut to that channel's
/// length limit); call inside a transaction, so the message and its outbox row commit together.
/// `kind` and the customer message it answers make its idempotency key
/// (`assistant-<kind>-<id>`).
fn say(
    db: &dyn Database,
    conversation_id: i64,
    kind: &str,
    answering: i64,
    text: &str,
    now: i64,
) -> Result<Option<i64>, ChatError> {
    let target = outbox::automatic_target(db, conversation_id, now)?;
    let limit = send::max_chars(target.channel).map_or(MessageBody::MAX_CHARS, |max| {
        max.min(MessageBody::MAX_CHARS)
    });
    let body = MessageBody::parse(&cut(text, limit))?;
    let client_id = ClientId::parse(&format!("assistant-{kind}-{answering}"))?;
    let new = NewMessage {
        conversation_id,
        author: Author::System,
        operator_id: None,
        operator_name: None,
        channel: target.channel,
        body: &body,
        client_id: Some(&client_id),
        delivery: target.recipient.is_some().then_some(DeliveryStatus::Queued),
        sender: Some(SENDER),
    };
    Ok(match message::insert(db, &new, None, None, now)? {
        Inserted::Created(message) => {
            outbox::enqueue(db, conversation_id, message.id, &target, now)?;
            Some(message.id)
        }
        _ => None,
    })
}

/// `text` in at most `limit` characters, ending in "…" when cut (at a word break if one is near).
fn cut(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let kept: String = text.chars().take(limit.saturating_sub(1)).collect();
    let at_word = kept
        .rfind(char::is_whitespace)
        .filter(|&i| kept[..i].chars().count() + 40 >= limit)
        .map_or(kept.as_str(), |i| &kept[..i]);
    format!("{}…", at_word.trim_end())
}

/// The topic of the conversation: set (picked or classified), else detected from the
/// customer's words now.
fn topic_of(
    db: &dyn Database,
    state: &State,
    texts: &[String],
) -> Result<Option<crate::topic::Topic>, DbError> {
    let topics = crate::topic::list(db)?;
    if let Some(name) = &state.topic {
        return Ok(topics.into_iter().find(|t| &t.name == name));
    }
    let clues = crate::topic::Clues {
        picked: None,
        channel: &state.channel,
        page_url: state.page_url.as_deref(),
        texts,
    };
    Ok(crate::topic::detect(&topics, &clues).map(|(t, _)| t.clone()))
}

/// Runs one turn for `conversation_id` (see the module docs). Announces what it wrote.
pub fn turn(ctx: &Ctx<'_>, conversation_id: i64) -> Result<Turned, ChatError> {
    let (turned, pending) = plan(ctx, conversation_id, false)?;
    debug_assert!(
        pending.is_none(),
        "answers are posted at once when not deferred"
    );
    Ok(turned)
}

/// An answer the caller may have a language model phrase before it is posted with
/// [`post_answer`]. The deterministic text is kept as the fallback.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingAnswer {
    pub conversation_id: i64,
    /// The customer message it answers (its idempotency key).
    answering: i64,
    pub question: String,
    pub language: Option<&'static str>,
    /// The article's title and passage: everything a phrasing may use.
    pub title: String,
    pub passage: String,
}

/// [`turn`], with the option to `defer_answer`: the claim, a handoff or a clarifying question
/// are committed as in `turn`, but a confident answer comes back as a [`PendingAnswer`].
pub fn plan(
    ctx: &Ctx<'_>,
    conversation_id: i64,
    defer_answer: bool,
) -> Result<(Turned, Option<PendingAnswer>), ChatError> {
    let db = ctx.db;
    let now = ctx.clock.now_ms();
    let settings = settings(db)?;
    let mut pending = None;
    let (turned, wrote) = transaction(db, || -> Result<(Turned, Option<i64>), ChatError> {
        let Some(row) = db
            .execute(STATE, &[conversation_id.into()])?
            .first()
            .map(|row| {
                Ok::<_, DbError>((
                    State {
                        seen_up_to: row.i64("bot_seen_up_to")?,
                        topic: row.opt_str("topic")?.map(str::to_owned),
                        language: row.opt_str("language")?.map(str::to_owned),
                        channel: row.str("channel")?.to_owned(),
                        page_url: row.opt_str("page_url")?.map(str::to_owned),
                        contact_id: row.i64("contact_id")?,
                    },
                    row.i64("latest")?,
                ))
            })
            .transpose()?
        else {
            return Ok((Turned::Nothing, None));
        };
        let (state, latest) = row;
        if latest <= state.seen_up_to {
            return Ok((Turned::Nothing, None));
        }
        db.execute(
            CLAIM,
            &[
                conversation_id.into(),
                state.seen_up_to.into(),
                latest.into(),
            ],
        )?;

        let said = history(db, conversation_id)?;
        let new_words: Vec<&Said> = said
            .iter()
            .filter(|s| s.by_customer && s.id > state.seen_up_to)
            .collect();
        let question = new_words
            .iter()
            .map(|s| s.body.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let customer_texts: Vec<String> = said
            .iter()
            .filter(|s| s.by_customer)
            .map(|s| s.body.clone())
            .collect();
        let language = spoken(state.language.as_deref())
            .or_else(|| spoken(kb::detect_language(&customer_texts.join("\n"))));
        let answer = kb::best_answer(db, &question, language)?;
        let topic = topic_of(db, &state, &customer_texts)?;
        // Since the assistant's last answer: how long the customer has waited for a useful
        // one, and how often it has already asked them to clarify.
        let last_answer = said
            .iter()
            .rposition(|s| s.kind.as_deref() == Some("answer"));
        let since_answer = &said[last_answer.map_or(0, |i| i + 1)..];
        let clarifications = since_answer
            .iter()
            .filter(|s| s.kind.as_deref() == Some("clarify"))
            .count() as i64;
        let waiting_since = since_answer
            .iter()
            .find(|s| s.by_customer)
            .map_or(now, |s| s.at);
        let vip = !db.execute(VIP, &[state.contact_id.into()])?.is_empty();
        let context = escalation::Context {
            vip,
            topic_human_only: topic.as_ref().is_some_and(|t| t.human_only),
            retrieval_confidence: answer.as_ref().map(|a| a.confidence),
            waiting_without_useful_answer_ms: now - waiting_since,
        };
        let turns: Vec<escalation::Turn> = said
            .iter()
            .map(|s| {
                if s.by_customer {
                    escalation::Turn::customer(s.body.clone())
                } else {
                    escalation::Turn::bot(s.body.clone())
                }
            })
            .collect();
        let mut assessment = escalation::assess(&turns, &context, &settings.escalation);
        let bar = settings.escalation.min_confidence;
        let confident = answer.as_ref().filter(|a| a.confidence >= bar);
        // Low confidence alone first earns one clarifying question (see the module docs).
        let may_clarify = clarifications < settings.max_clarifications;
        if may_clarify
            && assessment
                .reasons
                .iter()
                .all(|r| r.trigger == escalation::Trigger::LowConfidence)
        {
            assessment.reasons.clear();
            assessment.escalate = false;
        }
        let options = if confident.is_none() && !assessment.escalate {
            kb::search(db, &question, language, 3)?
        } else {
            Vec::new()
        };
        if !assessment.escalate && confident.is_none() && (!may_clarify || options.is_empty()) {
            assessment.escalate = true;
            assessment.reasons.push(escalation::Reason {
                trigger: escalation::Trigger::LowConfidence,
                evidence: match &answer {
                    Some(a) => format!(
                        "best article “{}” at confidence {:.2}, below {:.2}{}",
                        a.article.title,
                        a.confidence,
                        bar,
                        if clarifications > 0 {
                            ", after a clarifying question"
                        } else {
                            ""
                        }
                    ),
                    None => "no article matches".to_owned(),
                },
            });
        }
        if assessment.escalate {
            db.execute(HAND_OFF, &[conversation_id.into(), now.into()])?;
            let answered: Vec<String> = said
                .iter()
                .filter(|s| s.kind.as_deref() == Some("answer"))
                .filter_map(|s| s.body.rsplit('“').next().and_then(|t| t.split('”').next()))
                .map(str::to_owned)
                .collect();
            let handoff = Handoff {
                asked: customer_texts.iter().rev().take(5).rev().cloned().collect(),
                summary: summarize(
                    &customer_texts,
                    &answered,
                    &assessment.reasons,
                    topic.as_ref(),
                    language,
                ),
                answered,
                reasons: assessment.reasons.clone(),
                topic: topic.as_ref().map(|t| t.name.clone()),
                language: language.map(str::to_owned),
            };
            let event = event::append(
                db,
                conversation_id,
                EventKind::AssistantHandoff,
                Visibility::Internal,
                &handoff,
                now,
            )?;
            return Ok((
                Turned::HandedOff {
                    reasons: assessment.reasons,
                },
                Some(-event),
            ));
        }
        if let Some(answer) = confident {
            let held = PendingAnswer {
                conversation_id,
                answering: latest,
                question: question.clone(),
                language,
                title: answer.article.title.clone(),
                passage: answer.passage.trim().to_owned(),
            };
            let id = if defer_answer {
                pending = Some(held);
                None
            } else {
                say(
                    db,
                    conversation_id,
                    "answer",
                    latest,
                    &answer_text(&held, None),
                    now,
                )?
            };
            return Ok((
                Turned::Answered {
                    article_id: answer.article.id,
                    confidence: answer.confidence,
                },
                id,
            ));
        }
        let titles: Vec<String> = options.iter().map(|h| format!("“{}”", h.title)).collect();
        let listed = match titles.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => {
                format!("{}{}{last}", rest.join(", "), phrase(Phrase::Or, language))
            }
            None => String::new(),
        };
        let text = phrase(Phrase::Clarify, language).replace("{options}", &listed);
        let id = say(db, conversation_id, "clarify", latest, &text, now)?;
        Ok((Turned::Clarified, id))
    })?;
    match wrote {
        Some(id) if id > 0 => event::announce(ctx, conversation_id, &format!("m{id}")),
        Some(event) => event::announce(ctx, conversation_id, &format!("e{}", -event)),
        None => {}
    }
    Ok((turned, pending))
}

/// The assistant's answer: the model's phrasing when there is one (already checked with
/// [`crate::llm::grounded`]), else the passage itself; then its source and a check-back.
fn answer_text(pending: &PendingAnswer, phrased: Option<&str>) -> String {
    format!(
        "{}\n\n{} {}",
        phrased.unwrap_or(&pending.passage),
        phrase(Phrase::FromArticle, pending.language).replace("{title}", &pending.title),
        phrase(Phrase::DidThatHelp, pending.language)
    )
}

/// Posts a deferred answer, phrased by a model or not. Nothing happens if a person took the
/// conversation meanwhile (the assistant never talks over an operator).
pub fn post_answer(
    ctx: &Ctx<'_>,
    pending: &PendingAnswer,
    phrased: Option<&str>,
) -> Result<(), ChatError> {
    let db = ctx.db;
    let now = ctx.clock.now_ms();
    let id = transaction(db, || {
        if !owns(db, pending.conversation_id)? {
            return Ok(None);
        }
        say(
            db,
            pending.conversation_id,
            "answer",
            pending.answering,
            &answer_text(pending, phrased),
            now,
        )
    })?;
    if let Some(id) = id {
        event::announce(ctx, pending.conversation_id, &format!("m{id}"));
    }
    Ok(())
}

const LATEST_HANDOFF: &str = "SELECT id, data FROM events
      WHERE conversation_id = ?1 AND kind = 'assistant.handoff' ORDER BY id DESC LIMIT 1";

/// What a language model needs to brief the operator on the latest handoff.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRequest {
    pub conversation_id: i64,
    /// The `assistant.handoff` event the summary belongs to.
    pub handoff_event_id: i64,
    pub prompt: crate::llm::Prompt,
    /// The conversation as (who, text): all a summary may draw on.
    transcript: Vec<(String, String)>,
}

/// The briefing request for the conversation's latest handoff, if it has one.
pub fn summary_request(
    db: &dyn Database,
    conversation_id: i64,
) -> Result<Option<SummaryRequest>, DbError> {
    let Some(row) = db
        .execute(LATEST_HANDOFF, &[conversation_id.into()])?
        .first()
        .map(|row| Ok::<_, DbError>((row.i64("id")?, row.str("data")?.to_owned())))
        .transpose()?
    else {
        return Ok(None);
    };
    let (handoff_event_id, data) = row;
    let handoff: serde_json::Value =
        serde_json::from_str(&data).map_err(|e| DbError::Decode(format!("handoff: {e}")))?;
    let reasons = handoff["reasons"]
        .as_array()
        .map(|reasons| {
            reasons
                .iter()
                .map(|r| {
                    let trigger = serde_json::from_value(r["trigger"].clone())
                        .map(trigger_words)
                        .unwrap_or("another reason");
                    format!("{trigger} ({})", r["evidence"].as_str().unwrap_or_default())
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    let transcript: Vec<(String, String)> = history(db, conversation_id)?
        .into_iter()
        .map(|s| {
            let who = if s.by_customer {
                "Customer"
            } else {
                "Assistant"
            };
            (who.to_owned(), s.body)
        })
        .collect();
    let pairs: Vec<(&str, &str)> = transcript
        .iter()
        .map(|(w, t)| (w.as_str(), t.as_str()))
        .collect();
    let prompt = crate::llm::summary_prompt(
        &pairs,
        &reasons,
        handoff["topic"].as_str(),
        handoff["language"].as_str(),
    );
    Ok(Some(SummaryRequest {
        conversation_id,
        handoff_event_id,
        prompt,
        transcript,
    }))
}

#[derive(Serialize)]
struct ModelSummary<'a> {
    handoff_event_id: i64,
    summary: &'a str,
    model: &'a str,
}

/// Adds a language model's briefing to the handoff (an internal `assistant.summary` event the
/// console shows with it), if [`crate::llm::grounded_summary`] accepts it. The assistant's own
/// summary stays in the handoff either way. Returns whether it was added.
pub fn record_summary(
    ctx: &Ctx<'_>,
    request: &SummaryRequest,
    text: &str,
    model: &str,
) -> Result<bool, ChatError> {
    let pairs: Vec<(&str, &str)> = request
        .transcript
        .iter()
        .map(|(w, t)| (w.as_str(), t.as_str()))
        .collect();
    let Some(summary) = crate::llm::grounded_summary(text, &pairs) else {
        return Ok(false);
    };
    let event = event::append(
        ctx.db,
        request.conversation_id,
        EventKind::AssistantSummary,
        Visibility::Internal,
        &ModelSummary {
            handoff_event_id: request.handoff_event_id,
            summary: &summary,
            model,
        },
        ctx.clock.now_ms(),
    )?;
    event::announce(ctx, request.conversation_id, &format!("e{event}"));
    Ok(true)
}

/// A trigger in words for the operator.
fn trigger_words(trigger: escalation::Trigger) -> &'static str {
    use escalation::Trigger as T;
    match trigger {
        T::ExplicitRequest => "asked for a person",
        T::Frustration => "sounds frustrated",
        T::LowConfidence => "no confident answer in the knowledge base",
        T::Vip => "VIP customer",
        T::HumanOnlyTopic => "a topic only people handle",
        T::LongWait => "waited too long for a useful answer",
    }
}

/// The operator's summary of a handoff, in English (operators' language).
fn summarize(
    asked: &[String],
    answered: &[String],
    reasons: &[escalation::Reason],
    topic: Option<&crate::topic::Topic>,
    language: Option<&str>,
) -> String {
    let first: String = asked
        .first()
        .map_or(String::new(), |q| q.chars().take(200).collect());
    let mut summary = format!("The customer asked: “{first}”");
    if asked.len() > 1 {
        summary.push_str(&format!(" ({} messages in all)", asked.len()));
    }
    summary.push_str(". ");
    if answered.is_empty() {
        summary.push_str("The assistant did not answer from the knowledge base. ");
    } else {
        summary.push_str(&format!(
            "The assistant answered with {}. ",
            answered
                .iter()
                .map(|t| format!("“{t}”"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let why: Vec<String> = reasons
        .iter()
        .map(|r| format!("{} ({})", trigger_words(r.trigger), r.evidence))
        .collect();
    summary.push_str(&format!("Handed off because: {}.", why.join("; ")));
    if let Some(topic) = topic {
        summary.push_str(&format!(" Topic: {}.", topic.label));
    }
    if let Some(language) = language {
        summary.push_str(&format!(" Language: {language}."));
    }
    summary
}

/// Tells the customer, after a handoff and its routing pass, honestly what happens next: who
/// has the conversation, or their place in line and the expected wait, or that nobody is
/// available, or, when the team is closed (its business hours), when it opens next.
pub fn tell_wait(ctx: &Ctx<'_>, conversation_id: i64) -> Result<(), ChatError> {
    let db = ctx.db;
    let now = ctx.clock.now_ms();
    let summary = crate::conversation::summary(db, conversation_id)?
        .ok_or(ChatError::NotFound("conversation"))?;
    let language = spoken(summary.language.as_deref()).or_else(|| {
        spoken(
            summary
                .last_message
                .as_ref()
                .and_then(|m| kb::detect_language(&m.body)),
        )
    });
    let team_id = summary.team.as_ref().map(|t| t.id);
    let opening = match crate::hours::for_team(db, team_id)? {
        Some(hours) if !crate::hours::is_open(&hours, now) => Some(
            crate::hours::next_opening(&hours, now)
                .and_then(|at| crate::hours::local_time(&hours, at))
                .unwrap_or_else(|| "?".to_owned()),
        ),
        _ => None,
    };
    let next = if let Some(assignee) = &summary.assignee {
        phrase(Phrase::Assigned, language).replace("{name}", &assignee.name)
    } else if let Some(opening) = &opening {
        phrase(Phrase::Closed, language).replace("{opening}", opening)
    } else {
        let info = crate::router::queue_info(db, conversation_id, now)?;
        match (info.position, info.estimated_wait_s) {
            (Some(position), Some(wait)) => phrase(Phrase::Position, language)
                .replace("{position}", &position.to_string())
                .replace("{minutes}", &((wait + 59) / 60).max(1).to_string()),
            _ => phrase(Phrase::NobodyAvailable, language).to_owned(),
        }
    };
    let text = format!("{} {next}", phrase(Phrase::HandedOff, language));
    let handed = summary.handed_off_at.unwrap_or(now);
    let id = transaction(db, || {
        say(db, conversation_id, "handoff", handed, &text, now)
    })?;
    if let Some(id) = id {
        event::announce(ctx, conversation_id, &format!("m{id}"));
    }
    Ok(())
}

const HAND_BACK: &str = "UPDATE conversations
        SET bot_active = 1, assignee_id = NULL, assigned_at = NULL, waiting_since = NULL,
            handed_off_at = NULL, version = version + 1,
            bot_seen_up_to = (SELECT COALESCE(MAX(id), 0) FROM messages
                               WHERE conversation_id = ?1 AND author = 'visitor'),
            bot_started_after = (SELECT COALESCE(MAX(id), 0) FROM messages
                                  WHERE conversation_id = ?1)
      WHERE id = ?1 AND version = ?2 AND status = 'open' RETURNING id";

#[derive(Serialize)]
struct HandedBack<'a> {
    by: crate::conversation::Named,
    note: &'a str,
}

/// `POST /api/inbox/conversations/:id/assistant` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandBackRequest {
    pub version: i64,
}

/// An operator gives the conversation back to the assistant (it answers the customer's next
/// message). Matches on `version` like every state change.
pub fn hand_back(
    ctx: &Ctx<'_>,
    operator: &crate::operator::Operator,
    conversation_id: i64,
    version: i64,
) -> Result<crate::conversation::ConversationSummary, ChatError> {
    let db = ctx.db;
    let now = ctx.clock.now_ms();
    let event = transaction(db, || -> Result<i64, ChatError> {
        let current = crate::conversation::summary(db, conversation_id)?
            .ok_or(ChatError::NotFound("conversation"))?;
        crate::workflow::may_act(operator, &current)?;
        if db
            .execute(HAND_BACK, &[conversation_id.into(), version.into()])?
            .is_empty()
        {
            return Err(ChatError::Stale(Box::new(current)));
        }
        Ok(event::append(
            db,
            conversation_id,
            EventKind::AssistantResumed,
            Visibility::Internal,
            &HandedBack {
                by: crate::conversation::Named::from(operator),
                note: "handed back to the assistant",
            },
            now,
        )?)
    })?;
    event::announce(ctx, conversation_id, &format!("e{event}"));
    crate::conversation::summary(db, conversation_id)?.ok_or(ChatError::NotFound("conversation"))
}

#[cfg(test)]
mod tests;
