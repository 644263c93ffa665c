//! The visitors' help search: published knowledge-base articles, found with the same FTS5
//! ranking the assistant uses ([`crate::kb`]), shown in the widget before or instead of a chat.

use serde::Serialize;

use crate::chat::ChatError;
use crate::input::bounded_text;
use crate::kb;
use crate::store::Database;

/// The most results one search returns.
pub const MAX_RESULTS: i64 = 8;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HelpHit {
    pub id: i64,
    pub title: String,
    /// Plain text around the matched words.
    pub snippet: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HelpArticle {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub language: String,
}

/// Published articles for `query` (2-200 characters), best first, preferring `language`.
pub fn search(
    db: &dyn Database,
    query: &str,
    language: Option<&str>,
) -> Result<Vec<HelpHit>, ChatError> {
    let query = bounded_text("q", query, 2, 200)?;
    let language = language
        .filter(|l| !l.trim().is_empty())
        .map(|l| crate::input::language_tag("language", l))
        .transpose()?;
    let mut hits = kb::search(db, &query, language.as_deref(), MAX_RESULTS)?;
    if hits.is_empty() && language.is_some() {
        hits = kb::search(db, &query, None, MAX_RESULTS)?;
    }
    Ok(hits
        .into_iter()
        .map(|hit| HelpHit {
            id: hit.article_id,
            title: hit.title,
            snippet: hit.snippet,
        })
        .collect())
}

/// A published article; drafts are not found.
pub fn article(db: &dyn Database, id: i64) -> Result<HelpArticle, ChatError> {
    match kb::get(db, id)? {
        Some(article) if article.published => Ok(HelpArticle {
            id: article.id,
            title: article.title,
            body: article.body,
            language: article.language,
        }),
        _ => Err(ChatError::NotFound("article")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Clock;
    use crate::input::InvalidInput;
    use crate::testing::TestHost;

    #[test]
    fn visitors_find_published_articles_only() {
        let host = TestHost::new();
        let db = host.ctx().db;
        for (title, published) in [("Shipping times", true), ("Shipping secrets", false)] {
            let request = kb::ArticleRequest {
                title: Some(title.into()),
                body: Some("Parcels ship within two days.".into()),
                published: Some(published),
                ..Default::default()
            };
            kb::create(db, &request, host.clock.now_ms()).unwrap();
        }
        let hits = search(db, "when do parcels ship", Some("en")).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].title, "Shipping times");
        assert!(article(db, hits[0].id).is_ok());
        assert!(
            matches!(article(db, 2), Err(ChatError::NotFound(_))),
            "drafts stay hidden"
        );
        assert!(matches!(
            search(db, "x", None),
            Err(ChatError::Invalid(InvalidInput { field: "q", .. }))
        ));
        assert!(
            search(db, "\"* OR NEAR(", None).unwrap().is_empty(),
            "FTS syntax is just text"
        );
    }
}
