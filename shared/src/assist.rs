//! Agent assist: suggested replies for the conversation an operator has open, ranked from the
//! team's canned responses and knowledge-base passages, and a draft the operator edits before
//! sending. Nothing here sends anything: a person always approves what goes out.
//!
//! Ranking is explainable: a canned response scores the share of the customer's latest
//! question (its content words, stemmed like the knowledge base's search) that its title and
//! text contain; an article scores its knowledge-base confidence ([`kb::best_answer`]) or, for
//! the runners-up, their BM25 rank scaled below the best. Each suggestion says which words
//! matched.
//!
//! With a language model configured, the operator can ask for a model-written draft
//! ([`DraftRequest`]): its only sources are the best suggestions and the customer's words, and
//! a draft stating a number, address or link they do not contain is refused
//! ([`crate::llm::grounded`]), leaving the assistant's own draft.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::chat::ChatError;
use crate::host::Ctx;
use crate::kb;
use crate::operator::Operator;

/// Suggestions returned at most.
pub const MAX_SUGGESTIONS: usize = 6;
/// A canned response needs this share of the question's words to be suggested.
const CANNED_MIN_SCORE: f64 = 0.2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Canned,
    Article,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    pub source: Source,
    /// The canned response's or the article's id.
    pub id: i64,
    pub title: String,
    /// Ready to insert: placeholders filled, or the article's passage.
    pub text: String,
    /// 0..1, higher first.
    pub score: f64,
    /// The question's words it contains.
    pub matched: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub text: String,
    /// The suggestion the draft is built on (for a model's draft: the best of its sources).
    pub based_on: Option<Source>,
    /// The language model that wrote it; `None` for the assistant's own draft.
    #[serde(default)]
    pub model: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assist {
    /// What the suggestions answer: the customer's messages since the last reply.
    pub question: String,
    pub suggestions: Vec<Suggestion>,
    pub draft: Draft,
    /// What a language model would need to write a better draft (none without suggestions).
    #[serde(skip)]
    pub draft_request: Option<DraftRequest>,
}

/// Suggestions a model's draft may draw on.
const DRAFT_SOURCES: usize = 3;

/// What a language model needs to draft a reply: the question, the best suggestions as its
/// only sources, and the greeting the draft starts with. Sent by `inbox-api` to the private
/// `assistant` component, which talks to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftRequest {
    pub question: String,
    pub language: Option<String>,
    pub greeting: String,
    /// (title, text) of the best suggestions.
    pub sources: Vec<(String, String)>,
    pub based_on: Source,
}

impl DraftRequest {
    pub fn prompt(&self) -> crate::llm::Prompt {
        crate::llm::draft_prompt(
            &self.question,
            &self.source_pairs(),
            self.language.as_deref(),
        )
    }

    fn source_pairs(&self) -> Vec<(&str, &str)> {
        self.sources
            .iter()
            .map(|(title, text)| (title.as_str(), text.as_str()))
            .collect()
    }

    /// The draft from the model's `text`, if it is grounded in the sources or the customer's
    /// own words (a draft may repeat the order number they gave; it may not invent one).
    pub fn draft(&self, text: &str, model: &str) -> Option<Draft> {
        let mut sources = self.source_pairs();
        sources.push(("Customer", &self.question));
        let body = crate::llm::grounded(text, &sources)?;
        Some(Draft {
            text: format!("{}\n\n{body}", self.greeting),
            based_on: Some(self.based_on.clone()),
            model: Some(model.to_owned()),
        })
    }
}

const LATEST_QUESTION: &str = "SELECT body FROM messages
      WHERE conversation_id = ?1 AND author = 'visitor'
        AND id > COALESCE((SELECT MAX(id) FROM messages
                            WHERE conversation_id = ?1 AND author != 'visitor'), 0)
      ORDER BY id LIMIT 10";
const LAST_CUSTOMER_MESSAGE: &str = "SELECT body FROM messages
      WHERE conversation_id = ?1 AND author = 'visitor' ORDER BY id DESC LIMIT 1";

/// The stemmed content words of `text`.
fn content_words(text: &str, language: Option<&str>) -> BTreeSet<String> {
    kb::words(text)
        .into_iter()
        .filter(|w| w.text.chars().count() > 1 && !kb::is_stop_word(&w.text, language))
        .map(|w| kb::stem(&w.text, language))
        .collect()
}

/// Suggestions and a draft for `conversation_id`, as `operator` would send them.
pub fn suggest(
    ctx: &Ctx<'_>,
    operator: &Operator,
    conversation_id: i64,
    business_name: &str,
) -> Result<Assist, ChatError> {
    let db = ctx.db;
    let summary = crate::conversation::summary(db, conversation_id)?
        .ok_or(ChatError::NotFound("conversation"))?;
    let mut asked: Vec<String> = db
        .execute(LATEST_QUESTION, &[conversation_id.into()])?
        .iter()
        .map(|r| r.str("body").map(str::to_owned))
        .collect::<Result<_, _>>()?;
    if asked.is_empty() {
        // Already answered: suggestions still help with the customer's last message.
        asked = db
            .execute(LAST_CUSTOMER_MESSAGE, &[conversation_id.into()])?
            .iter()
            .map(|r| r.str("body").map(str::to_owned))
            .collect::<Result<_, _>>()?;
    }
    let question = asked.join("\n");
    let language = summary
        .language
        .as_deref()
        .and_then(|l| l.split('-').next())
        .map(str::to_ascii_lowercase);
    let language = language
        .as_deref()
        .or_else(|| kb::detect_language(&question));
    let wanted = content_words(&question, language);

    let mut suggestions = Vec::new();
    if !wanted.is_empty() {
        let canned =
            crate::inbox::search_canned(ctx, operator, "", Some(conversation_id), business_name)?;
        for item in canned {
            let have = content_words(&format!("{} {}", item.title, item.body), language);
            let matched: Vec<String> = wanted.intersection(&have).cloned().collect();
            let score = matched.len() as f64 / wanted.len() as f64;
            if score >= CANNED_MIN_SCORE {
                suggestions.push(Suggestion {
                    source: Source::Canned,
                    id: item.id,
                    title: item.title.clone(),
                    text: item.rendered.unwrap_or(item.body),
                    score,
                    matched,
                });
            }
        }
    }
    let best = kb::best_answer(db, &question, language)?;
    let hits = kb::search(db, &question, language, 4)?;
    let top_score = hits.first().map_or(0.0, |h| h.score);
    for hit in hits {
        let (score, text, matched) = match &best {
            Some(answer) if answer.article.id == hit.article_id => (
                answer.confidence,
                answer.passage.clone(),
                answer.why.matched.clone(),
            ),
            _ => {
                // Runners-up rank below the best by their share of its BM25 score.
                let relative = if top_score > 0.0 {
                    hit.score / top_score
                } else {
                    0.0
                };
                let ceiling = best.as_ref().map_or(0.5, |b| b.confidence);
                (ceiling * relative * 0.9, hit.snippet.clone(), Vec::new())
            }
        };
        suggestions.push(Suggestion {
            source: Source::Article,
            id: hit.article_id,
            title: hit.title,
            text,
            score,
            matched,
        });
    }
    suggestions.sort_by(|a, b| b.score.total_cmp(&a.score));
    suggestions.truncate(MAX_SUGGESTIONS);

    let first_name = summary
        .contact
        .name
        .as_deref()
        .and_then(|n| n.split_whitespace().next())
        .map(str::to_owned);
    let greeting = match (language, &first_name) {
        (Some("es"), Some(n)) => format!("Hola {n}:"),
        (Some("es"), None) => "Hola:".to_owned(),
        (Some("fr"), Some(n)) => format!("Bonjour {n},"),
        (Some("fr"), None) => "Bonjour,".to_owned(),
        (Some("de"), Some(n)) => format!("Hallo {n},"),
        (Some("de"), None) => "Hallo,".to_owned(),
        (_, Some(n)) => format!("Hi {n},"),
        (_, None) => "Hi,".to_owned(),
    };
    let draft = match suggestions.first() {
        Some(top) if top.source == Source::Article => Draft {
            text: format!("{greeting}\n\n{}", top.text.trim()),
            based_on: Some(Source::Article),
            model: None,
        },
        Some(top) => Draft {
            text: top.text.clone(),
            based_on: Some(Source::Canned),
            model: None,
        },
        None => Draft {
            text: format!("{greeting}\n\n"),
            based_on: None,
            model: None,
        },
    };
    let draft_request = suggestions.first().map(|top| DraftRequest {
        question: question.clone(),
        language: language.map(str::to_owned),
        greeting,
        sources: suggestions
            .iter()
            .take(DRAFT_SOURCES)
            .map(|s| (s.title.clone(), s.text.clone()))
            .collect(),
        based_on: top.source.clone(),
    });
    Ok(Assist {
        question,
        suggestions,
        draft,
        draft_request,
    })
}
