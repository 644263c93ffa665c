//! Agent assist: suggested replies for the conversation an operator has open, ranked from the
//! team's canned responses and knowledge-base passages, and a draft the operator edits before
//! sending. Nothing here sends anything: a person always approves what goes out.
//!
//! Ranking is explainable: a canned response scores the share of the customer's latest
//! question (its content words, stemmed like the knowledge base's search) that its title and
//! text contain; an article scores its knowledge-base confidence ([`kb::best_answer`]) or, for
//! the runners-up, their BM25 rank scaled below the best. Each suggestion says which words
//! matched.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::chat::ChatError;
use crate::host::Ctx;
use crate::kb;
use crate::operator::Operator;

/// Suggestions returned at most.
pub const MAX_SUGGESTIONS: usize = 6;
/// A canned response needs this share of the question's words to be suggested.
const CANNED_MIN_SCORE: f64 = 0.2;

#[derive(Debug, Clone, PartialEq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Draft {
    pub text: String,
    /// The suggestion the draft is built on.
    pub based_on: Option<Source>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assist {
    /// What the suggestions answer: the customer's messages since the last reply.
    pub question: String,
    pub suggestions: Vec<Suggestion>,
    pub draft: Draft,
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
        },
        Some(top) => Draft {
            text: top.text.clone(),
            based_on: Some(Source::Canned),
        },
        None => Draft {
            text: format!("{greeting}\n\n"),
            based_on: None,
        },
    };
    Ok(Assist {
        question,
        suggestions,
        draft,
    })
}
