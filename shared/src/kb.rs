//! The knowledge base: articles admins write, the full-text index over them, and the
//! assistant's deterministic answer to a question: the best article, how confident that is and
//! why, and the passage of the article that answers.
//!
//! Also the word rules retrieval and escalation share: [`words`] (lower-cased, accents folded
//! exactly as the index's `unicode61 remove_diacritics 2` tokenizer folds them), stop words for
//! English, Spanish, French and German, and [`detect_language`].
//!
//! # How a question is answered
//! 1. [`Question::parse`] keeps the question's content words (stop words of its language go,
//!    numbers too), each with the index prefixes that count as it: its light stem (`shipping`
//!    -> `ship*`, `devoluciones` -> `devolu*`). [`Question::weigh`] then looks each one up in
//!    the index's vocabulary: a word no indexed word starts with is either a misspelt stop word
//!    (`wen`: it weighs nothing) or gets the nearest indexed words within one edit (two for
//!    words of 8+ letters, same first letter, never a stop word) as extra prefixes, so `refnd`
//!    finds `refund`. A question of up to 8 words is also searched as a phrase, stop words
//!    included, so "where is my order" finds the article tagged with exactly that.
//! 2. BM25 over title, body and tags (title weighted [`TITLE_WEIGHT`], tags [`TAGS_WEIGHT`],
//!    body 1), every prefix and the phrase OR-ed, only published articles, in the question's
//!    language when any article in it matches (else in any language).
//! 3. The confidence of the best article is `coverage * (0.75 + 0.25 * margin)`:
//!    - `coverage`: the share of the question's weight the article contains. Each content word
//!      weighs its rarity in the knowledge base, `ln((N + 1) / (max(df, 1) + 0.5))` (N
//!      articles, df the articles containing it), so words every article has count for little
//!      and a word no article has counts like the rarest one: "do you sell bicycles?" is not
//!      answered by an article that only shares "sell". A word found only through a typo
//!      correction counts [`CORRECTION_CREDIT`] of its weight.
//!    - `margin`: how far the best BM25 score is ahead of the second, `(s1 - s2) / s1` (1 when
//!      only one article matches), so two articles that fit equally well lower the confidence.
//!
//!    Confidence is in 0..=1; [`CONFIDENT`] is the default bar for answering. [`Confidence`]
//!    carries both parts and the matched and missing words, for the operator to check.
//! 4. The passage is the paragraph (blank-line separated) that contains the most of the
//!    question's weight (the first paragraph when none does), with the next paragraph too when
//!    the best one is a heading or a short lead-in ending in a colon, without a leading heading
//!    line, cut at a sentence end beyond 1,200 characters. It is always a slice of the
//!    article's body: never text that is not in it.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::contact::patch_field;
use crate::input::{InvalidInput, bounded_text, language_tag};
use crate::store::{Database, DbError, Row, SqlValue};

/// BM25 weight of a word in the title, relative to the body's 1.
pub const TITLE_WEIGHT: f64 = 4.0;
/// BM25 weight of a word in the tags, relative to the body's 1.
pub const TAGS_WEIGHT: f64 = 2.0;
/// The default confidence at or above which the assistant answers with an article.
pub const CONFIDENT: f64 = 0.5;
/// Most content words of a question that are searched for.
const MAX_TERMS: usize = 12;
/// The share of its weight a word matched only through a typo correction counts for. Below
/// half, so that a question matched by corrections alone stays under [`CONFIDENT`] however
/// clear its margin: the right article is found, but the assistant asks before answering.
const CORRECTION_CREDIT: f64 = 0.4;
/// Questions of up to this many words are also searched as a phrase.
const MAX_PHRASE_WORDS: usize = 8;
/// Most hits one search returns.
pub const MAX_LIMIT: i64 = 50;
const MAX_TAGS: usize = 30;
const MAX_TAG_CHARS: usize = 60;
/// A passage longer than this is cut at the last sentence end before it.
const MAX_PASSAGE_CHARS: usize = 1_200;

// ---------------------------------------------------------------------------------------------
// Article fields, parsed

/// 1-200 characters, trimmed, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleTitle(String);

impl ArticleTitle {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(text: &str) -> Result<ArticleTitle, InvalidInput> {
        bounded_text("title", text, 1, Self::MAX_CHARS).map(ArticleTitle)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 1-20,000 characters of plain text or markdown; `\r\n` line ends become `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleBody(String);

impl ArticleBody {
    pub const MAX_CHARS: usize = 20_000;

    pub fn parse(text: &str) -> Result<ArticleBody, InvalidInput> {
        let text = text.replace("\r\n", "\n");
        bounded_text("body", &text, 1, Self::MAX_CHARS).map(ArticleBody)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Up to 30 tags of 1-60 characters, trimmed, lower-cased, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags(Vec<String>);

impl Tags {
    pub fn parse(items: &[String]) -> Result<Tags, InvalidInput> {
        if items.len() > MAX_TAGS {
            return Err(InvalidInput::new(
                "tags",
                format!("at most {MAX_TAGS} tags"),
            ));
        }
        let mut tags: Vec<String> = Vec::new();
        for item in items {
            let tag = bounded_text("tags", item, 1, MAX_TAG_CHARS)?.to_lowercase();
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        Ok(Tags(tags))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// A language tag like `en`, `es` or `pt-BR` (see [`language_tag`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language(String);

impl Language {
    pub fn parse(text: &str) -> Result<Language, InvalidInput> {
        language_tag("language", text).map(Language)
    }

    /// The primary subtag, lower-cased: `pt-BR` -> `pt`.
    pub fn primary(&self) -> String {
        primary_subtag(&self.0).unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The lower-cased primary subtag of a language tag, if it is one.
fn primary_subtag(tag: &str) -> Option<String> {
    let primary = tag.trim().split('-').next()?;
    ((2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| primary.to_ascii_lowercase())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Article {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub language: String,
    pub topic: Option<String>,
    pub published: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `POST /api/admin/kb/articles` and `PATCH /api/admin/kb/articles/:id` bodies.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArticleRequest {
    pub title: Option<String>,
    pub body: Option<String>,
    pub tags: Option<Vec<String>>,
    pub language: Option<String>,
    #[serde(default, deserialize_with = "patch_field")]
    pub topic: Option<Option<String>>,
    pub published: Option<bool>,
}

/// An article's fields, parsed; `None` keeps a field on update.
#[derive(Debug, Clone, Default)]
pub struct ArticleFields {
    pub title: Option<ArticleTitle>,
    pub body: Option<ArticleBody>,
    pub tags: Option<Tags>,
    pub language: Option<Language>,
    /// `Some(None)` clears the topic.
    pub topic: Option<Option<String>>,
    pub published: Option<bool>,
}

impl ArticleFields {
    /// Title and body are required when `creating`; language defaults to `en`, published to
    /// false (admins publish when an article is ready).
    pub fn parse(request: &ArticleRequest, creating: bool) -> Result<ArticleFields, InvalidInput> {
        if creating && request.title.is_none() {
            return Err(InvalidInput::new("title", "is required"));
        }
        if creating && request.body.is_none() {
            return Err(InvalidInput::new("body", "is required"));
        }
        let topic = match &request.topic {
            None => None,
            Some(None) => Some(None),
            Some(Some(name)) => Some(Some(
                crate::topic::parse_name(name)
                    .map_err(|e| InvalidInput::new("topic", e.problem))?,
            )),
        };
        Ok(ArticleFields {
            title: request
                .title
                .as_deref()
                .map(ArticleTitle::parse)
                .transpose()?,
            body: request
                .body
                .as_deref()
                .map(ArticleBody::parse)
                .transpose()?,
            tags: request.tags.as_deref().map(Tags::parse).transpose()?,
            language: match (&request.language, creating) {
                (Some(language), _) => Some(Language::parse(language)?),
                (None, true) => Some(Language("en".into())),
                (None, false) => None,
            },
            topic,
            published: request.published,
        })
    }
}

/// What can go wrong changing the knowledge base.
#[derive(Debug, Error)]
pub enum KbError {
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error("article not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] DbError),
}

impl From<KbError> for crate::chat::ChatError {
    fn from(error: KbError) -> Self {
        match error {
            KbError::Invalid(invalid) => crate::chat::ChatError::Invalid(invalid),
            KbError::NotFound => crate::chat::ChatError::NotFound("article"),
            KbError::Store(db) => crate::chat::ChatError::Store(db),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Storage

const COLUMNS: &str = "id, title, body, tags, language, topic, published, created_at, updated_at";
const TOPIC_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM topics WHERE name = ?1) AS found";
const INSERT: &str = "INSERT INTO kb_articles
            (title, body, tags, language, topic, published, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
     RETURNING id, title, body, tags, language, topic, published, created_at, updated_at";
/// `?6` says whether `?7` replaces the topic (NULL clears it).
const UPDATE: &str = "UPDATE kb_articles
        SET title = COALESCE(?2, title), body = COALESCE(?3, body), tags = COALESCE(?4, tags),
            language = COALESCE(?5, language),
            topic = CASE WHEN ?6 = 1 THEN ?7 ELSE topic END,
            published = COALESCE(?8, published), updated_at = ?9
      WHERE id = ?1
  RETURNING id, title, body, tags, language, topic, published, created_at, updated_at";
const DELETE: &str = "DELETE FROM kb_articles WHERE id = ?1 RETURNING id";
const COUNT: &str = "SELECT COUNT(*) AS n FROM kb_articles";
/// Published articles matching an FTS5 query (`?1`), in a language (`?2`, a lower-case primary
/// subtag, or NULL for any), best first. `bm25` is lower for better matches.
const SEARCH: &str = "SELECT a.id, a.title,
            snippet(kb_articles_fts, 1, '', '', '…', 16) AS snippet,
            bm25(kb_articles_fts, ?4, 1.0, ?5) AS rank
       FROM kb_articles_fts JOIN kb_articles a ON a.id = kb_articles_fts.rowid
      WHERE kb_articles_fts MATCH ?1 AND a.published = 1
        AND (?2 IS NULL OR lower(a.language) = ?2 OR lower(a.language) LIKE ?2 || '-%')
      ORDER BY rank LIMIT ?3";
/// How many articles contain a word starting with `?1` (the most for any one such word).
const DOC_FREQUENCY: &str =
    "SELECT max(doc) AS df FROM kb_articles_vocab WHERE term >= ?1 AND term < ?2";
/// Indexed words from `?1` (inclusive) to `?2` (exclusive): the candidates for typo correction.
const VOCABULARY_RANGE: &str =
    "SELECT term, doc FROM kb_articles_vocab WHERE term >= ?1 AND term < ?2";

fn from_row(row: &Row<'_>) -> Result<Article, DbError> {
    Ok(Article {
        id: row.i64("id")?,
        title: row.str("title")?.to_owned(),
        body: row.str("body")?.to_owned(),
        tags: serde_json::from_str(row.str("tags")?)
            .map_err(|e| DbError::Decode(format!("article tags: {e}")))?,
        language: row.str("language")?.to_owned(),
        topic: row.opt_str("topic")?.map(str::to_owned),
        published: row.i64("published")? == 1,
        created_at: row.i64("created_at")?,
        updated_at: row.i64("updated_at")?,
    })
}

fn tags_json(tags: &Tags) -> String {
    serde_json::to_string(&tags.0).unwrap_or_else(|_| "[]".into())
}

/// A topic may be set only if it exists. Checked before writing: a topic deleted at the same
/// moment leaves the name behind, exactly like `conversations.topic` (it is a label, not a key).
fn check_topic(db: &dyn Database, topic: Option<&Option<String>>) -> Result<(), KbError> {
    if let Some(Some(name)) = topic {
        let found = db
            .execute(TOPIC_EXISTS, &[name.as_str().into()])?
            .first()
            .map_or(Ok(0), |row| row.i64("found"))?;
        if found != 1 {
            return Err(InvalidInput::new("topic", format!("no topic named '{name}'")).into());
        }
    }
    Ok(())
}

/// Creates an article from a create request (see [`ArticleFields::parse`]).
pub fn create(db: &dyn Database, request: &ArticleRequest, now: i64) -> Result<Article, KbError> {
    let fields = ArticleFields::parse(request, true)?;
    check_topic(db, fields.topic.as_ref())?;
    let (Some(title), Some(body)) = (&fields.title, &fields.body) else {
        return Err(InvalidInput::new("title", "is required").into());
    };
    let rows = db.execute(
        INSERT,
        &[
            title.as_str().into(),
            body.as_str().into(),
            tags_json(fields.tags.as_ref().unwrap_or(&Tags::default())).into(),
            fields
                .language
                .as_ref()
                .map_or("en", Language::as_str)
                .into(),
            fields.topic.clone().flatten().into(),
            i64::from(fields.published.unwrap_or(false)).into(),
            now.into(),
        ],
    )?;
    rows.first()
        .map(|row| from_row(&row))
        .transpose()?
        .ok_or_else(|| DbError::Decode("INSERT ... RETURNING gave no row".into()).into())
}

/// Changes the fields present in `request`.
pub fn update(
    db: &dyn Database,
    id: i64,
    request: &ArticleRequest,
    now: i64,
) -> Result<Article, KbError> {
    let fields = ArticleFields::parse(request, false)?;
    check_topic(db, fields.topic.as_ref())?;
    let rows = db.execute(
        UPDATE,
        &[
            id.into(),
            fields.title.as_ref().map(ArticleTitle::as_str).into(),
            fields.body.as_ref().map(ArticleBody::as_str).into(),
            fields.tags.as_ref().map(tags_json).into(),
            fields.language.as_ref().map(Language::as_str).into(),
            i64::from(fields.topic.is_some()).into(),
            fields.topic.clone().flatten().into(),
            fields.published.map(i64::from).into(),
            now.into(),
        ],
    )?;
    rows.first()
        .map(|row| from_row(&row))
        .transpose()?
        .ok_or(KbError::NotFound)
}

/// Deletes an article (and its index entry, by trigger); false if there was none.
pub fn delete(db: &dyn Database, id: i64) -> Result<bool, DbError> {
    Ok(!db.execute(DELETE, &[id.into()])?.is_empty())
}

pub fn get(db: &dyn Database, id: i64) -> Result<Option<Article>, DbError> {
    db.execute(
        &format!("SELECT {COLUMNS} FROM kb_articles WHERE id = ?1"),
        &[id.into()],
    )?
    .first()
    .map(|row| from_row(&row))
    .transpose()
}

/// Every article (published or not), in a language when one is given, by title.
pub fn list(db: &dyn Database, language: Option<&str>) -> Result<Vec<Article>, DbError> {
    db.execute(
        &format!(
            "SELECT {COLUMNS} FROM kb_articles
              WHERE ?1 IS NULL OR lower(language) = ?1 OR lower(language) LIKE ?1 || '-%'
              ORDER BY title COLLATE NOCASE, id"
        ),
        &[language.and_then(primary_subtag).into()],
    )?
    .iter()
    .map(|row| from_row(&row))
    .collect()
}

// ---------------------------------------------------------------------------------------------
// Words

/// A word of a text: lower-cased with accents folded (`Facturación` -> `facturacion`), and
/// where it sits in the original text (byte offsets), so callers can quote the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// Folds the accents `unicode61 remove_diacritics 2` folds in the Latin scripts our languages
/// use; other characters stay as they are.
fn fold_char(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => 'c',
        'ď' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => 'e',
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => 'g',
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' => 'i',
        'ñ' | 'ń' | 'ņ' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ō' | 'ŏ' | 'ő' => 'o',
        'ŕ' | 'ř' => 'r',
        'ś' | 'ŝ' | 'ş' | 'š' => 's',
        'ţ' | 'ť' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => 'u',
        'ý' | 'ÿ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        other => other,
    }
}

/// Combining accents (as in decomposed text) are dropped, like the index drops them.
fn is_combining_mark(c: char) -> bool {
    ('\u{0300}'..='\u{036f}').contains(&c)
}

/// The words of `text`: runs of letters and digits, as the index's tokenizer splits them (so
/// `didn't` is `didn` and `t`, `l'adresse` is `l` and `adresse`).
pub fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut current: Option<Word> = None;
    for (at, c) in text.char_indices() {
        if c.is_alphanumeric() || (is_combining_mark(c) && current.is_some()) {
            let word = current.get_or_insert_with(|| Word {
                text: String::new(),
                start: at,
                end: at,
            });
            word.text.extend(
                c.to_lowercase()
                    .map(fold_char)
                    .filter(|c| c.is_alphanumeric()),
            );
            word.end = at + c.len_utf8();
        } else if let Some(word) = current.take() {
            out.push(word);
        }
    }
    out.extend(current);
    out
}

/// Folded text: lower case, accents folded, as [`words`] gives them.
pub fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .filter(|c| !is_combining_mark(*c))
        .map(fold_char)
        .collect()
}

/// The languages [`detect_language`] knows, and whose stop words retrieval drops.
pub const LANGUAGES: [&str; 4] = ["en", "es", "fr", "de"];

/// Words that carry no subject in a question (articles, pronouns, auxiliaries, question words,
/// greetings, chat filler), folded. Questions keep every other word.
const STOP_EN: &[&str] = &[
    "a",
    "about",
    "after",
    "again",
    "all",
    "already",
    "also",
    "am",
    "an",
    "and",
    "any",
    "anyone",
    "are",
    "aren",
    "as",
    "ask",
    "at",
    "be",
    "been",
    "before",
    "being",
    "but",
    "by",
    "can",
    "cant",
    "could",
    "d",
    "did",
    "didn",
    "didnt",
    "do",
    "does",
    "doesn",
    "doesnt",
    "doing",
    "don",
    "dont",
    "for",
    "from",
    "get",
    "got",
    "had",
    "has",
    "hasn",
    "hasnt",
    "have",
    "haven",
    "having",
    "he",
    "hello",
    "help",
    "her",
    "here",
    "hey",
    "hi",
    "him",
    "his",
    "how",
    "i",
    "if",
    "im",
    "in",
    "into",
    "is",
    "isn",
    "isnt",
    "it",
    "its",
    "ive",
    "just",
    "know",
    "like",
    "ll",
    "long",
    "m",
    "many",
    "may",
    "me",
    "might",
    "much",
    "must",
    "my",
    "need",
    "never",
    "no",
    "not",
    "now",
    "of",
    "ok",
    "okay",
    "on",
    "one",
    "or",
    "our",
    "out",
    "please",
    "pls",
    "possible",
    "question",
    "re",
    "really",
    "s",
    "said",
    "say",
    "says",
    "shall",
    "she",
    "should",
    "so",
    "some",
    "someone",
    "something",
    "still",
    "t",
    "take",
    "takes",
    "than",
    "thank",
    "thanks",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "thing",
    "this",
    "those",
    "to",
    "too",
    "up",
    "us",
    "ve",
    "very",
    "want",
    "wanted",
    "was",
    "wasn",
    "way",
    "we",
    "were",
    "what",
    "whats",
    "when",
    "where",
    "wheres",
    "which",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "won",
    "would",
    "yes",
    "you",
    "your",
    "yours",
];
const STOP_ES: &[&str] = &[
    "a", "al", "algo", "alguien", "como", "con", "cual", "cuales", "cuando", "cuanta", "cuantas",
    "cuanto", "cuantos", "de", "del", "donde", "el", "ella", "en", "es", "esa", "ese", "eso",
    "esta", "estan", "este", "esto", "favor", "gracias", "hay", "hola", "la", "las", "le", "les",
    "lo", "los", "me", "mi", "mis", "muy", "mas", "necesito", "no", "nos", "nuestro", "o", "para",
    "pero", "por", "puede", "pueden", "puedo", "que", "quiero", "quisiera", "se", "si", "sin",
    "son", "su", "sus", "tarda", "te", "tengo", "tiene", "tu", "tus", "u", "un", "una", "unas",
    "uno", "unos", "usted", "ustedes", "y", "ya", "yo",
];
const STOP_FR: &[&str] = &[
    "a", "ai", "au", "aussi", "aux", "avec", "avez", "avoir", "bonjour", "c", "ce", "ces", "cet",
    "cette", "combien", "comment", "d", "dans", "de", "des", "du", "elle", "en", "est", "et",
    "etre", "faire", "il", "ils", "j", "je", "l", "la", "le", "les", "leur", "m", "ma", "me",
    "merci", "mes", "mon", "n", "ne", "nos", "notre", "nous", "on", "ou", "par", "pas", "peut",
    "peux", "plait", "plus", "pour", "pourquoi", "pouvez", "qu", "quand", "que", "quel", "quelle",
    "quels", "qui", "s", "sa", "se", "sera", "serai", "ses", "si", "son", "sont", "suis", "sur",
    "svp", "t", "ta", "te", "tres", "tu", "un", "une", "veux", "vos", "votre", "voudrais", "vous",
    "y",
];
const STOP_DE: &[&str] = &[
    "aber", "am", "an", "auch", "auf", "aus", "bei", "bekomme", "bin", "bitte", "da", "danke",
    "das", "dauert", "dem", "den", "der", "des", "die", "dir", "du", "ein", "eine", "einem",
    "einen", "einer", "eines", "er", "es", "fur", "gibt", "habe", "haben", "hallo", "hat", "ich",
    "ihr", "ihre", "ihren", "ihnen", "im", "in", "ist", "ja", "kann", "kein", "keine", "konnen",
    "lange", "man", "mein", "meine", "meinen", "meinem", "meiner", "mich", "mir", "mit", "mochte",
    "nach", "nein", "nicht", "noch", "oder", "schon", "sehr", "sie", "sind", "uber", "um", "und",
    "uns", "viel", "vom", "von", "wann", "war", "was", "welche", "wie", "will", "wir", "wird",
    "wo", "zu", "zum", "zur",
];

fn stop_words(language: &str) -> &'static [&'static str] {
    match language {
        "en" => STOP_EN,
        "es" => STOP_ES,
        "fr" => STOP_FR,
        "de" => STOP_DE,
        _ => &[],
    }
}

/// Whether a folded word is a stop word of `language` (of any known language when `None`).
pub fn is_stop_word(word: &str, language: Option<&str>) -> bool {
    match language {
        Some(language) => stop_words(language).contains(&word),
        None => LANGUAGES.iter().any(|l| stop_words(l).contains(&word)),
    }
}

/// The language of `text` among en, es, fr and de, from how many of its words are each
/// language's stop words plus letters only some of them use (`ñ ¿ ¡` Spanish, `ß ä ö ü`
/// German, `ç è ê à ù œ` French...). `None` when no language wins outright (too short, mixed,
/// or another language).
pub fn detect_language(text: &str) -> Option<&'static str> {
    let mut scores = [0.0f64; 4];
    for word in words(text) {
        for (i, language) in LANGUAGES.iter().enumerate() {
            if stop_words(language).contains(&word.text.as_str()) {
                scores[i] += 1.0;
            }
        }
    }
    for c in text.chars().flat_map(char::to_lowercase) {
        let hint = match c {
            'ñ' | '¿' | '¡' | 'á' | 'í' | 'ó' | 'ú' => Some(1),
            'ç' | 'è' | 'ê' | 'à' | 'ù' | 'œ' | 'â' | 'î' | 'ô' | 'û' | 'ë' | 'ï' => {
                Some(2)
            }
            'ß' | 'ä' | 'ö' | 'ü' => Some(3),
            _ => None,
        };
        if let Some(i) = hint {
            scores[i] += 0.5;
        }
    }
    let (best, best_score) =
        scores.iter().enumerate().fold(
            (0, 0.0),
            |acc, (i, s)| if *s > acc.1 { (i, *s) } else { acc },
        );
    let runner_up = scores
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != best)
        .map(|(_, s)| *s)
        .fold(0.0, f64::max);
    (best_score >= 1.0 && best_score > runner_up).then(|| LANGUAGES[best])
}

/// Suffixes a light stemmer strips, longest first; a stem keeps at least 4 letters. Stems are
/// searched as prefixes, so they only need to be a common start of a word's forms.
fn suffixes(language: Option<&str>) -> &'static [&'static str] {
    match language {
        Some("es") => &[
            "amientos", "amiento", "aciones", "acion", "ciones", "cion", "mente", "ados", "adas",
            "idos", "idas", "ado", "ada", "ido", "ida", "ar", "er", "ir", "os", "as", "es", "o",
            "a", "e", "s",
        ],
        Some("fr") => &[
            "issements",
            "issement",
            "ements",
            "ement",
            "ations",
            "ation",
            "ees",
            "ee",
            "es",
            "er",
            "ez",
            "e",
            "s",
            "x",
        ],
        Some("de") => &[
            "ungen", "ung", "heiten", "heit", "keiten", "keit", "en", "er", "es", "em", "e", "n",
            "s",
        ],
        _ => &[
            "ations", "ation", "ments", "ings", "ing", "ies", "ied", "ed", "ly", "s", "y",
        ],
    }
}

/// The prefix a word is searched by: `shipping` -> `ship`, `refunds` -> `refund`,
/// `lieferung` -> `liefer`. Folded words in, folded prefixes out.
pub fn stem(word: &str, language: Option<&str>) -> String {
    const MIN_STEM: usize = 4;
    let chars = word.chars().count();
    if chars <= MIN_STEM || word.chars().any(|c| c.is_ascii_digit()) {
        return word.to_owned();
    }
    let english = !matches!(language, Some("es" | "fr" | "de"));
    for suffix in suffixes(language) {
        let Some(stem) = word.strip_suffix(suffix) else {
            continue;
        };
        if stem.chars().count() < MIN_STEM {
            continue;
        }
        // English plural "s" only after a letter that is not "s" itself ("address" stays).
        if english && *suffix == "s" && (stem.ends_with('s') || stem.ends_with('u')) {
            continue;
        }
        // "delivery" -> "deliver", but "norway" stays.
        if english && *suffix == "y" && stem.ends_with(['a', 'e', 'o', 'u']) {
            continue;
        }
        let mut stem = stem.to_owned();
        // shipp(ing) -> ship, cancell(ed) -> cancel.
        if english && matches!(*suffix, "ing" | "ings" | "ed" | "ation" | "ations") {
            let mut tail = stem.chars().rev();
            if let (Some(a), Some(b)) = (tail.next(), tail.next())
                && a == b
                && !"aeiou".contains(a)
                && stem.chars().count() > MIN_STEM
            {
                stem.pop();
            }
        }
        return stem;
    }
    word.to_owned()
}

/// Damerau-Levenshtein distance (optimal string alignment) between two short words, in chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

// ---------------------------------------------------------------------------------------------
// Questions and search

/// One content word of a question and the index prefixes that count as it.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// The word as the customer wrote it, folded.
    pub word: String,
    /// Prefixes searched for it: its stem, and corrections when the stem is not indexed.
    pub prefixes: Vec<String>,
    /// Rarity in the knowledge base (see the module doc); 1 until [`Question::weigh`] runs.
    pub weight: f64,
}

/// A question made safe for FTS5: content words only, every one quoted, OR-ed together. No
/// character of the customer's text reaches FTS5 syntax unquoted.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub terms: Vec<Term>,
    /// A short question's words in order, stop words included ("where is my order"), searched
    /// as a phrase too: admins put common phrasings in titles and tags.
    pub phrase: Option<String>,
    pub language: Option<&'static str>,
}

/// Numbers (order numbers, prices) say nothing about which article answers.
fn is_number(word: &str) -> bool {
    word.chars().all(|c| c.is_numeric())
}

impl Question {
    /// The content words of `text` in `language` (detected when `None`); `None` when there are
    /// none (only stop words, numbers or punctuation).
    pub fn parse(text: &str, language: Option<&str>) -> Option<Question> {
        let language = language
            .and_then(primary_subtag)
            .and_then(|l| LANGUAGES.iter().copied().find(|known| *known == l))
            .or_else(|| detect_language(text));
        let all = words(text);
        let phrase = (2..=MAX_PHRASE_WORDS).contains(&all.len()).then(|| {
            all.iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        });
        let mut terms: Vec<Term> = Vec::new();
        for word in all {
            let w = word.text;
            if w.chars().count() < 2
                || is_number(&w)
                || is_stop_word(&w, language)
                || terms.iter().any(|t| t.word == w)
            {
                continue;
            }
            let prefix = stem(&w, language);
            terms.push(Term {
                word: w,
                prefixes: vec![prefix],
                weight: 1.0,
            });
            if terms.len() == MAX_TERMS {
                break;
            }
        }
        (!terms.is_empty()).then_some(Question {
            terms,
            phrase,
            language,
        })
    }

    /// The FTS5 MATCH expression: every prefix of every term quoted (`"` doubled inside, though
    /// words never contain one) and OR-ed, and the phrase, quoted.
    pub fn fts_match(&self) -> String {
        let quoted = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
        let mut seen: Vec<&str> = Vec::new();
        for prefix in self.terms.iter().flat_map(|t| &t.prefixes) {
            if !seen.contains(&prefix.as_str()) {
                seen.push(prefix);
            }
        }
        let mut parts: Vec<String> = seen.iter().map(|p| format!("{}*", quoted(p))).collect();
        if let Some(phrase) = &self.phrase {
            parts.push(quoted(phrase));
        }
        parts.join(" OR ")
    }

    /// Adds corrections for words the index does not know (typos), then weighs every term by
    /// its rarity in the knowledge base.
    pub fn weigh(&mut self, db: &dyn Database) -> Result<(), DbError> {
        let articles = db
            .execute(COUNT, &[])?
            .first()
            .map_or(Ok(0), |row| row.i64("n"))? as f64;
        for term in &mut self.terms {
            let mut df = document_frequency(db, &term.prefixes)?;
            if df == 0 && near_stop_word(&term.word, self.language) {
                // "wen" for "when": a misspelt stop word, not a subject.
                term.weight = 0.0;
                continue;
            }
            if df == 0 && term.word.chars().count() >= 3 {
                let corrections = corrections(db, &term.word)?;
                for correction in corrections {
                    let prefix = stem(&correction, self.language);
                    if !term.prefixes.contains(&prefix) {
                        term.prefixes.push(prefix);
                    }
                }
                df = document_frequency(db, &term.prefixes)?;
            }
            // A word no article contains weighs as much as the rarest word that one does: it is
            // as likely a synonym or filler the knowledge base does not use as a subject it lacks.
            term.weight = ((articles + 1.0) / (df.max(1) as f64 + 0.5)).ln().max(0.0);
        }
        Ok(())
    }

    /// The terms `text` contains (by prefix, over its folded words), each with its weight:
    /// whole when the customer's own word is there, [`CORRECTION_CREDIT`] of it when only a
    /// correction is (the correction may not be what they meant: "hiring" is one letter from
    /// "hiking").
    fn covered_by<'a>(
        &'a self,
        text_words: &'a [String],
    ) -> impl Iterator<Item = (&'a Term, f64)> + 'a {
        self.terms.iter().filter_map(move |term| {
            let has = |prefix: &String| text_words.iter().any(|w| w.starts_with(prefix.as_str()));
            let (own, corrections) = term.prefixes.split_first()?;
            if has(own) {
                Some((term, term.weight))
            } else if corrections.iter().any(has) {
                Some((term, term.weight * CORRECTION_CREDIT))
            } else {
                None
            }
        })
    }

    fn total_weight(&self) -> f64 {
        self.terms.iter().map(|t| t.weight).sum()
    }
}

/// The exclusive upper bound of the words starting with `prefix`.
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10ffff}")
}

fn document_frequency(db: &dyn Database, prefixes: &[String]) -> Result<i64, DbError> {
    let mut df = 0;
    for prefix in prefixes {
        let found = db
            .execute(
                DOC_FREQUENCY,
                &[prefix.as_str().into(), prefix_end(prefix).into()],
            )?
            .first()
            .map_or(Ok(None), |row| row.opt_i64("df"))?
            .unwrap_or(0);
        df = df.max(found);
    }
    Ok(df)
}

/// Indexed words nearest to `word` (same first letter; one edit for words up to 7 letters, two
/// beyond), at most 3, the most common first.
fn corrections(db: &dyn Database, word: &str) -> Result<Vec<String>, DbError> {
    let Some(first) = word.chars().next() else {
        return Ok(Vec::new());
    };
    let Some(next) = char::from_u32(first as u32 + 1) else {
        return Ok(Vec::new());
    };
    let length = word.chars().count();
    let allowed = if length <= 7 { 1 } else { 2 };
    let rows = db.execute(
        VOCABULARY_RANGE,
        &[first.to_string().into(), next.to_string().into()],
    )?;
    let mut found: Vec<(usize, i64, String)> = Vec::new();
    for row in rows.iter() {
        let term = row.str("term")?;
        if term.chars().count().abs_diff(length) > allowed || is_stop_word(term, None) {
            continue;
        }
        let distance = edit_distance(word, term);
        if distance <= allowed {
            found.push((distance, -row.i64("doc")?, term.to_owned()));
        }
    }
    found.sort();
    let Some(best) = found.first().map(|f| f.0) else {
        return Ok(Vec::new());
    };
    Ok(found
        .into_iter()
        .take_while(|f| f.0 == best)
        .take(3)
        .map(|f| f.2)
        .collect())
}

fn near_stop_word(word: &str, language: Option<&str>) -> bool {
    let languages: &[&str] = match language {
        Some(l) => &[l][..],
        None => &LANGUAGES[..],
    };
    let length = word.chars().count();
    languages.iter().any(|l| {
        stop_words(l)
            .iter()
            .any(|s| s.len() >= 3 && s.len().abs_diff(length) <= 1 && edit_distance(word, s) == 1)
    })
}

/// A search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub article_id: i64,
    pub title: String,
    /// A few words of the body around the matches, plain text.
    pub snippet: String,
    /// BM25 relevance, higher is better (SQLite's `bm25()` negated).
    pub score: f64,
}

fn run_search(
    db: &dyn Database,
    question: &Question,
    language: Option<&str>,
    limit: i64,
) -> Result<Vec<Hit>, DbError> {
    db.execute(
        SEARCH,
        &[
            question.fts_match().into(),
            language.and_then(primary_subtag).into(),
            limit.clamp(1, MAX_LIMIT).into(),
            SqlValue::Real(TITLE_WEIGHT),
            SqlValue::Real(TAGS_WEIGHT),
        ],
    )?
    .iter()
    .map(|row| {
        Ok(Hit {
            article_id: row.i64("id")?,
            title: row.str("title")?.to_owned(),
            snippet: row.str("snippet")?.to_owned(),
            score: -row.opt_f64("rank")?.unwrap_or(0.0),
        })
    })
    .collect()
}

/// Published articles matching free text `query`, best first, in `language` (its primary
/// subtag; any language when `None` or not a language tag). Any text is safe: it only ever
/// reaches FTS5 as quoted words; text without content words finds nothing.
pub fn search(
    db: &dyn Database,
    query: &str,
    language: Option<&str>,
    limit: i64,
) -> Result<Vec<Hit>, DbError> {
    let Some(mut question) = Question::parse(query, language) else {
        return Ok(Vec::new());
    };
    question.weigh(db)?;
    run_search(db, &question, language, limit)
}

// ---------------------------------------------------------------------------------------------
// Answers

/// Why the assistant is as confident as it is, in numbers an operator can check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confidence {
    /// Share of the question's weight the article contains (0..=1).
    pub coverage: f64,
    /// How far ahead of the runner-up the article is (0..=1).
    pub margin: f64,
    /// The question's content words the article contains.
    pub matched: Vec<String>,
    /// The question's content words it does not.
    pub missing: Vec<String>,
}

/// The best article for a question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub article: Article,
    /// `coverage * (0.75 + 0.25 * margin)`, 0..=1; answer when at or above the bar
    /// ([`CONFIDENT`] by default).
    pub confidence: f64,
    pub why: Confidence,
    /// The paragraph(s) of the article that answer; always a slice of its body.
    pub passage: String,
}

/// The folded words of an article's title, body and tags.
fn article_words(article: &Article) -> Vec<String> {
    let mut all: Vec<String> = words(&article.title)
        .into_iter()
        .chain(words(&article.body))
        .map(|w| w.text)
        .collect();
    for tag in &article.tags {
        all.extend(words(tag).into_iter().map(|w| w.text));
    }
    all.sort();
    all.dedup();
    all
}

/// The best published article for `question`, in `language` when any article in it matches
/// (else in any language), with its confidence and passage; `None` when nothing matches.
pub fn best_answer(
    db: &dyn Database,
    question: &str,
    language: Option<&str>,
) -> Result<Option<Answer>, DbError> {
    let Some(mut parsed) = Question::parse(question, language) else {
        return Ok(None);
    };
    parsed.weigh(db)?;
    if parsed.total_weight() <= 0.0 {
        return Ok(None);
    }
    let filter = language.or(parsed.language);
    let mut hits = run_search(db, &parsed, filter, 2)?;
    if hits.is_empty() && filter.is_some() {
        hits = run_search(db, &parsed, None, 2)?;
    }
    let Some(best) = hits.first() else {
        return Ok(None);
    };
    let Some(article) = get(db, best.article_id)? else {
        return Ok(None);
    };
    let margin = match hits.get(1) {
        Some(second) if best.score > 0.0 => {
            ((best.score - second.score) / best.score).clamp(0.0, 1.0)
        }
        Some(_) => 0.0,
        None => 1.0,
    };
    let text_words = article_words(&article);
    let matched: Vec<&Term> = parsed.covered_by(&text_words).map(|(t, _)| t).collect();
    let coverage = (parsed.covered_by(&text_words).map(|(_, w)| w).sum::<f64>()
        / parsed.total_weight())
    .clamp(0.0, 1.0);
    let why = Confidence {
        coverage,
        margin,
        matched: matched.iter().map(|t| t.word.clone()).collect(),
        missing: parsed
            .terms
            .iter()
            .filter(|t| t.weight > 0.0 && !matched.iter().any(|m| m.word == t.word))
            .map(|t| t.word.clone())
            .collect(),
    };
    let passage = passage(&article.body, &parsed).to_owned();
    Ok(Some(Answer {
        confidence: coverage * (0.75 + 0.25 * margin),
        why,
        passage,
        article,
    }))
}

/// Byte ranges of `body`'s paragraphs (separated by blank lines), trimmed.
fn paragraphs(body: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut end = 0;
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        if content.trim().is_empty() {
            if let Some(s) = start.take() {
                out.push((s, end));
            }
        } else {
            let leading = content.len() - content.trim_start().len();
            start.get_or_insert(offset + leading);
            end = offset + content.trim_end().len();
        }
        offset += line.len();
    }
    if let Some(s) = start {
        out.push((s, end));
    }
    out
}

/// The paragraph of `body` holding the most of the question's weight (the first on ties; the
/// first paragraph when none holds any), with the next one when it is a heading or a short
/// lead-in ending in a colon. Cut at a sentence end beyond [`MAX_PASSAGE_CHARS`].
fn passage<'b>(body: &'b str, question: &Question) -> &'b str {
    let spans = paragraphs(body);
    let Some(&first) = spans.first() else {
        return body;
    };
    let mut best = (0usize, 0.0f64);
    for (i, (start, end)) in spans.iter().enumerate() {
        let text_words: Vec<String> = words(&body[*start..*end])
            .into_iter()
            .map(|w| w.text)
            .collect();
        let weight: f64 = question.covered_by(&text_words).map(|(_, w)| w).sum();
        if weight > best.1 {
            best = (i, weight);
        }
    }
    let (mut start, mut end) = if best.1 > 0.0 { spans[best.0] } else { first };
    let text = &body[start..end];
    let lead_in = text.starts_with('#') || (text.len() < 80 && text.ends_with(':'));
    if lead_in && let Some(next) = spans.get(best.0 + 1) {
        end = next.1;
    }
    if body[start..end].starts_with('#') {
        // A heading alone says nothing; start at the text under it when there is some.
        if let Some(newline) = body[start..end].find('\n') {
            start += newline + 1;
            start += body[start..end].len() - body[start..end].trim_start().len();
        }
    }
    cut(&body[start..end])
}

fn cut(text: &str) -> &str {
    if text.chars().count() <= MAX_PASSAGE_CHARS {
        return text;
    }
    let limit = text
        .char_indices()
        .nth(MAX_PASSAGE_CHARS)
        .map_or(text.len(), |(at, _)| at);
    let head = &text[..limit];
    match head.rfind(". ") {
        Some(at) if at > 0 => &head[..=at],
        _ => head,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    fn request(title: &str, body: &str, tags: &[&str], language: &str) -> ArticleRequest {
        ArticleRequest {
            title: Some(title.into()),
            body: Some(body.into()),
            tags: Some(tags.iter().map(|t| (*t).to_owned()).collect()),
            language: Some(language.into()),
            topic: None,
            published: Some(true),
        }
    }

    fn shop() -> TestDb {
        let db = TestDb::new();
        let articles = [
            request(
                "Shipping times",
                "We ship every working day.\n\n## Delivery times\nGermany: 2-4 working days. Express delivery is next day.\n\n## Costs\nShipping is free over EUR 50.",
                &["shipping", "delivery"],
                "en",
            ),
            request(
                "Returns",
                "You can return unworn items within 30 days.\n\nPrint the return label from your account.",
                &["returns", "exchange"],
                "en",
            ),
            request(
                "Refunds",
                "We refund returns within 5 working days after they arrive.\n\nCard refunds take 3-5 more days.",
                &["refund", "money back"],
                "en",
            ),
            request(
                "Facturas",
                "La facturación se hace al pagar. Puedes descargar la factura en tu cuenta.",
                &["factura"],
                "es",
            ),
        ];
        for article in &articles {
            create(&db, article, 1).unwrap();
        }
        db
    }

    #[test]
    fn fields_are_parsed_and_required_on_create() {
        assert!(ArticleTitle::parse("  ").is_err());
        assert!(ArticleTitle::parse(&"x".repeat(201)).is_err());
        assert_eq!(ArticleBody::parse("a\r\nb").unwrap().as_str(), "a\nb");
        assert!(ArticleBody::parse(&"x".repeat(20_001)).is_err());
        assert_eq!(
            Tags::parse(&[" Refund ".into(), "refund".into()])
                .unwrap()
                .as_slice(),
            ["refund"]
        );
        assert!(Tags::parse(&vec!["t".to_owned(); 31]).is_err());
        assert_eq!(Language::parse("pt-BR").unwrap().primary(), "pt");
        assert!(Language::parse("english").is_err());
        let missing = ArticleRequest {
            title: Some("t".into()),
            ..ArticleRequest::default()
        };
        assert!(ArticleFields::parse(&missing, true).is_err());
        assert!(ArticleFields::parse(&missing, false).is_ok());
    }

    #[test]
    fn articles_are_created_updated_listed_and_deleted() {
        let db = TestDb::new();
        let article = create(
            &db,
            &request("Gift cards", "Valid for two years.", &["Voucher"], "en"),
            5,
        )
        .unwrap();
        assert_eq!(article.tags, ["voucher"]);
        assert!(article.published);
        let unknown_topic = ArticleRequest {
            topic: Some(Some("billing".into())),
            ..ArticleRequest::default()
        };
        assert!(matches!(
            update(&db, article.id, &unknown_topic, 6),
            Err(KbError::Invalid(_))
        ));
        db.execute(
            "INSERT INTO topics (name, label, created_at) VALUES ('billing', 'Billing', 1)",
            &[],
        )
        .unwrap();
        let updated = update(&db, article.id, &unknown_topic, 6).unwrap();
        assert_eq!(updated.topic.as_deref(), Some("billing"));
        assert_eq!(updated.title, "Gift cards", "absent fields are kept");
        assert_eq!(updated.updated_at, 6);
        let cleared = update(
            &db,
            article.id,
            &serde_json::from_str(r#"{"topic": null, "body": "Valid for three years."}"#).unwrap(),
            7,
        )
        .unwrap();
        assert_eq!(cleared.topic, None);
        assert_eq!(search(&db, "three years", None, 5).unwrap().len(), 1);
        assert!(
            search(&db, "two", None, 5).unwrap().is_empty(),
            "the index follows updates"
        );
        assert_eq!(list(&db, Some("en")).unwrap().len(), 1);
        assert!(list(&db, Some("de")).unwrap().is_empty());
        assert!(matches!(
            update(&db, 999, &unknown_topic, 8),
            Err(KbError::NotFound)
        ));
        assert!(delete(&db, article.id).unwrap());
        assert!(!delete(&db, article.id).unwrap());
        assert!(search(&db, "three years", None, 5).unwrap().is_empty());
        assert_eq!(get(&db, article.id).unwrap(), None);
    }

    #[test]
    fn search_ranks_by_bm25_folds_accents_and_filters_language_and_drafts() {
        let db = shop();
        let hits = search(&db, "When do I get my refund?", Some("en"), 5).unwrap();
        assert_eq!(hits[0].title, "Refunds");
        assert!(hits[0].score > 0.0);
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        let hits = search(&db, "facturacion", None, 5).unwrap();
        assert_eq!(
            hits[0].title, "Facturas",
            "no accent finds the accented word"
        );
        assert!(
            search(&db, "facturación", Some("en"), 5)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            search(&db, "facturación", Some("es-MX"), 5).unwrap().len(),
            1
        );
        let draft = ArticleRequest {
            published: Some(false),
            ..request("Secret", "unreleased parka", &[], "en")
        };
        create(&db, &draft, 2).unwrap();
        assert!(
            search(&db, "parka", None, 5).unwrap().is_empty(),
            "drafts are not found"
        );
        assert!(search(&db, "the and of", None, 5).unwrap().is_empty());
    }

    #[test]
    fn questions_keep_content_words_with_stems() {
        let q = Question::parse("How long does SHIPPING take to Norway?", Some("en")).unwrap();
        let words: Vec<_> = q.terms.iter().map(|t| t.word.as_str()).collect();
        assert_eq!(words, ["shipping", "norway"]);
        assert_eq!(q.terms[0].prefixes, ["ship"]);
        assert_eq!(
            q.fts_match(),
            "\"ship\"* OR \"norway\"* OR \"how long does shipping take to norway\""
        );
        assert_eq!(stem("refunds", Some("en")), "refund");
        assert_eq!(stem("address", Some("en")), "address");
        assert_eq!(stem("cancelled", Some("en")), "cancel");
        assert_eq!(stem("lieferung", Some("de")), "liefer");
        assert!(Question::parse("¿¿?? 12345 !!", None).is_none());
        assert!(Question::parse("what is the", Some("en")).is_none());
    }

    #[test]
    fn fts_syntax_in_questions_is_only_ever_words() {
        let db = shop();
        for nasty in [
            "\"",
            "refund\" OR \"x",
            "NEAR(refund shipping)",
            "title:refund",
            "refund*",
            "-refund",
            "^refund",
            "(((",
            "AND OR NOT",
            "{title body}: x",
            "a\u{0}b",
            "ＲＥＦＵＮＤ",
        ] {
            search(&db, nasty, None, 5).unwrap();
            best_answer(&db, nasty, None).unwrap();
        }
    }

    #[test]
    fn typos_find_the_indexed_word_at_half_credit() {
        let db = shop();
        let answer = best_answer(&db, "wen do i get my refnd", Some("en"))
            .unwrap()
            .unwrap();
        assert_eq!(answer.article.title, "Refunds");
        assert_eq!(
            answer.why.matched,
            ["refnd"],
            "\"wen\" is a misspelt \"when\""
        );
        // Only a correction matched: the right article, but not confidently.
        assert!(answer.confidence < CONFIDENT, "{answer:?}");
        let answer = best_answer(&db, "how long do card refnds take", Some("en"))
            .unwrap()
            .unwrap();
        assert_eq!(answer.article.title, "Refunds");
        assert!(answer.confidence >= CONFIDENT, "{answer:?}");
    }

    #[test]
    fn best_answer_explains_itself_and_quotes_the_article() {
        let db = shop();
        let answer = best_answer(&db, "Is express delivery available to Germany?", Some("en"))
            .unwrap()
            .unwrap();
        assert_eq!(answer.article.title, "Shipping times");
        assert!(answer.article.body.contains(&answer.passage));
        assert!(
            answer.passage.starts_with("Germany: 2-4"),
            "{:?}",
            answer.passage
        );
        assert!(answer.why.matched.contains(&"express".to_owned()));
        assert!(answer.confidence >= CONFIDENT, "{answer:?}");
        // Nothing about bicycles: whatever matches "sell", the confidence stays low.
        let unrelated = best_answer(&db, "Do you sell bicycles or delivery drones?", Some("en"))
            .unwrap()
            .unwrap();
        assert!(unrelated.confidence < CONFIDENT, "{unrelated:?}");
        assert_eq!(best_answer(&db, "bicycles", Some("en")).unwrap(), None);
    }

    #[test]
    fn a_question_in_a_language_without_articles_falls_back_to_any() {
        let db = shop();
        let answer = best_answer(&db, "refund", Some("fr")).unwrap().unwrap();
        assert_eq!(answer.article.title, "Refunds");
    }

    #[test]
    fn passages_are_slices_of_the_body() {
        let body = "# Title\n\nIntro line.\n\n## Steps:\nOne.\nTwo.\n\nClosing   \n";
        let spans = paragraphs(body);
        assert_eq!(spans.len(), 4);
        assert_eq!(&body[spans[2].0..spans[2].1], "## Steps:\nOne.\nTwo.");
        assert_eq!(&body[spans[3].0..spans[3].1], "Closing");
        let long = format!("{} end", "A sentence. ".repeat(200));
        assert!(cut(&long).ends_with('.') && cut(&long).len() <= MAX_PASSAGE_CHARS + 1);
    }

    #[test]
    fn languages_are_detected_by_their_small_words() {
        assert_eq!(
            detect_language("Where is my order? I need it for the weekend"),
            Some("en")
        );
        assert_eq!(
            detect_language("¿Dónde está mi pedido? Lo necesito"),
            Some("es")
        );
        assert_eq!(
            detect_language("Je voudrais savoir où est ma commande"),
            Some("fr")
        );
        assert_eq!(
            detect_language("Ich möchte wissen, wo meine Bestellung ist"),
            Some("de")
        );
        assert_eq!(detect_language("AGENT"), None);
        assert_eq!(detect_language(""), None);
    }

    #[test]
    fn words_fold_case_and_accents_and_keep_offsets() {
        let text = "Facturación, ÜBER l'adresse";
        let found = words(text);
        let folded: Vec<_> = found.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(folded, ["facturacion", "uber", "l", "adresse"]);
        assert_eq!(&text[found[0].start..found[0].end], "Facturación");
        assert_eq!(words("cafe\u{301} ok")[0].text, "cafe");
        assert_eq!(edit_distance("retruns", "returns"), 1);
        assert_eq!(edit_distance("refnd", "refund"), 1);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            #[test]
            fn any_text_searches_without_error(text in "\\PC{0,80}") {
                let db = shop();
                prop_assert!(search(&db, &text, None, 5).is_ok());
                prop_assert!(best_answer(&db, &text, Some("en")).is_ok());
            }

            #[test]
            fn any_text_gives_quoted_words_only(text in any::<String>()) {
                if let Some(question) = Question::parse(&text, None) {
                    let expression = question.fts_match();
                    for part in expression.split(" OR ") {
                        let inner = part
                            .strip_prefix('"')
                            .and_then(|p| p.strip_suffix("\"*").or_else(|| p.strip_suffix('"')));
                        prop_assert!(inner.is_some(), "{}", part);
                        prop_assert!(
                            inner.unwrap_or_default().chars().all(|c| c.is_alphanumeric() || c == ' '),
                            "{}",
                            part
                        );
                    }
                }
                let _ = detect_language(&text);
            }

            #[test]
            fn passages_always_come_from_the_body(body in "[a-z .:#\n]{1,400}", q in "[a-z ]{1,40}") {
                if let Some(question) = Question::parse(&q, Some("en")) {
                    let found = passage(&body, &question);
                    prop_assert!(body.contains(found));
                }
            }
        }
    }
}
