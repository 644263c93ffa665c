//! Topics: what customers write about (billing, shipping...), which team handles them, how
//! urgent they are, and how a conversation's topic is detected for skills-based routing.
//!
//! A topic's `name` is also the operator skill it is matched on. Detection, in order: the topic
//! the visitor picked in the widget; else the first topic (by position) whose channel or page
//! rule matches; else the topic with the most keyword hits in the customer's first messages.
//! [`detect`] is a pure function, so the rules are tested without a database.

use serde::{Deserialize, Serialize};

use crate::channel::Channel;
use crate::contact::patch_field;
use crate::input::{InvalidInput, bounded_text};
use crate::store::{Database, DbError, Row, SqlValue};

pub const MAX_TOPICS: i64 = 100;
const MAX_RULES: usize = 50;
const MAX_RULE_CHARS: usize = 60;
const MAX_PAGE_CHARS: usize = 200;

/// How urgent a conversation is; higher is served first.
pub const PRIORITY_NORMAL: i64 = 0;
pub const PRIORITY_HIGH: i64 = 1;
pub const PRIORITY_URGENT: i64 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Topic {
    pub id: i64,
    pub name: String,
    pub label: String,
    pub team_id: Option<i64>,
    pub priority: i64,
    pub in_picker: bool,
    pub keywords: Vec<String>,
    pub channels: Vec<String>,
    pub pages: Vec<String>,
    pub position: i64,
    /// The assistant never answers this topic: it hands such conversations to people at once.
    pub human_only: bool,
}

/// What the widget's topic picker offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PickerTopic {
    pub name: String,
    pub label: String,
}

/// `POST /api/admin/topics` and `PATCH /api/admin/topics/:id` bodies.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicRequest {
    pub name: Option<String>,
    pub label: Option<String>,
    #[serde(default, deserialize_with = "patch_field")]
    pub team_id: Option<Option<i64>>,
    pub priority: Option<i64>,
    pub in_picker: Option<bool>,
    pub keywords: Option<Vec<String>>,
    pub channels: Option<Vec<String>>,
    pub pages: Option<Vec<String>>,
    pub position: Option<i64>,
    pub human_only: Option<bool>,
}

/// A topic name: 1-40 characters of lower-case letters, digits, `-`, `_`, `:` (it doubles as a
/// skill name, so it stays simple to type and match).
pub fn parse_name(text: &str) -> Result<String, InvalidInput> {
    let name = bounded_text("name", text, 1, 40)?.to_lowercase();
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ':'))
    {
        return Err(InvalidInput::new(
            "name",
            "use letters, digits, '-', '_' or ':' only",
        ));
    }
    Ok(name)
}

fn parse_priority(value: i64) -> Result<i64, InvalidInput> {
    if (PRIORITY_NORMAL..=PRIORITY_URGENT).contains(&value) {
        Ok(value)
    } else {
        Err(InvalidInput::new(
            "priority",
            "must be 0 (normal), 1 (high) or 2 (urgent)",
        ))
    }
}

fn parse_list(
    field: &'static str,
    items: &[String],
    max_chars: usize,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<Vec<String>, InvalidInput> {
    if items.len() > MAX_RULES {
        return Err(InvalidInput::new(
            field,
            format!("at most {MAX_RULES} entries"),
        ));
    }
    let mut parsed: Vec<String> = Vec::new();
    for item in items {
        let item = bounded_text(field, item, 1, max_chars)?.to_lowercase();
        check(&item).map_err(|problem| InvalidInput::new(field, problem))?;
        if !parsed.contains(&item) {
            parsed.push(item);
        }
    }
    Ok(parsed)
}

/// The topic `request` describes, over `current` (a new topic when `None`).
pub fn apply(current: Option<&Topic>, request: &TopicRequest) -> Result<Topic, InvalidInput> {
    let name = match (&request.name, current) {
        (Some(name), _) => parse_name(name)?,
        (None, Some(topic)) => topic.name.clone(),
        (None, None) => return Err(InvalidInput::new("name", "is required")),
    };
    let label = match (&request.label, current) {
        (Some(label), _) => bounded_text("label", label, 1, 60)?,
        (None, Some(topic)) => topic.label.clone(),
        (None, None) => name.clone(),
    };
    let keep = |list: &Option<Vec<String>>, old: fn(&Topic) -> &Vec<String>| {
        list.clone()
            .unwrap_or_else(|| current.map(|t| old(t).clone()).unwrap_or_default())
    };
    let keywords = parse_list(
        "keywords",
        &keep(&request.keywords, |t| &t.keywords),
        MAX_RULE_CHARS,
        |_| Ok(()),
    )?;
    let channels = parse_list(
        "channels",
        &keep(&request.channels, |t| &t.channels),
        20,
        |c| {
            Channel::parse(c)
                .map(|_| ())
                .ok_or_else(|| format!("unknown channel '{c}'"))
        },
    )?;
    let pages = parse_list(
        "pages",
        &keep(&request.pages, |t| &t.pages),
        MAX_PAGE_CHARS,
        |p| {
            if p.starts_with('/') {
                Ok(())
            } else {
                Err("page rules are URL paths starting with '/'".into())
            }
        },
    )?;
    let position = request
        .position
        .or(current.map(|t| t.position))
        .unwrap_or(0);
    if !(0..=10_000).contains(&position) {
        return Err(InvalidInput::new("position", "must be 0 to 10000"));
    }
    Ok(Topic {
        id: current.map_or(0, |t| t.id),
        name,
        label,
        team_id: match request.team_id {
            Some(team) => team,
            None => current.and_then(|t| t.team_id),
        },
        priority: parse_priority(
            request
                .priority
                .or(current.map(|t| t.priority))
                .unwrap_or(PRIORITY_NORMAL),
        )?,
        in_picker: request
            .in_picker
            .or(current.map(|t| t.in_picker))
            .unwrap_or(true),
        keywords,
        channels,
        pages,
        position,
        human_only: request
            .human_only
            .or(current.map(|t| t.human_only))
            .unwrap_or(false),
    })
}

/// Why a conversation got its topic, for the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", content = "rule", rename_all = "snake_case")]
pub enum Because {
    /// The visitor chose it in the widget.
    Picker,
    Channel(String),
    Page(String),
    /// These keywords appeared in the customer's first messages.
    Keywords(Vec<String>),
}

impl Because {
    pub fn describe(&self) -> String {
        match self {
            Because::Picker => "chosen by the customer".into(),
            Because::Channel(c) => format!("came in by {c}"),
            Because::Page(p) => format!("started on a page under {p}"),
            Because::Keywords(words) => format!("mentioned {}", words.join(", ")),
        }
    }
}

/// What detection looks at.
#[derive(Debug, Clone, Copy)]
pub struct Clues<'a> {
    pub picked: Option<&'a str>,
    pub channel: &'a str,
    /// The page the chat started on (a full URL or a path).
    pub page_url: Option<&'a str>,
    /// The customer's first messages.
    pub texts: &'a [String],
}

/// The path of a URL (`https://shop.example/pricing?x` -> `/pricing`), or the text if it is
/// already a path.
fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = if url.contains("://") {
        rest.find('/').map_or("/", |i| &rest[i..])
    } else {
        rest
    };
    path.split(['?', '#']).next().unwrap_or(path)
}

/// Whether `phrase` occurs in `text` as whole words (both lower-case).
fn mentions(text: &str, phrase: &str) -> bool {
    let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
    text.match_indices(phrase).any(|(at, _)| {
        boundary(text[..at].chars().next_back())
            && boundary(text[at + phrase.len()..].chars().next())
    })
}

/// The topic for a conversation, and why; `topics` in position order.
pub fn detect<'t>(topics: &'t [Topic], clues: &Clues<'_>) -> Option<(&'t Topic, Because)> {
    if let Some(picked) = clues.picked
        && let Some(topic) = topics.iter().find(|t| t.name.eq_ignore_ascii_case(picked))
    {
        return Some((topic, Because::Picker));
    }
    if let Some(topic) = topics
        .iter()
        .find(|t| t.channels.iter().any(|c| c == clues.channel))
    {
        return Some((topic, Because::Channel(clues.channel.to_owned())));
    }
    if let Some(path) = clues.page_url.map(|u| url_path(u).to_lowercase()) {
        for topic in topics {
            if let Some(prefix) = topic.pages.iter().find(|p| path.starts_with(p.as_str())) {
                return Some((topic, Because::Page(prefix.clone())));
            }
        }
    }
    let text = clues.texts.join("\n").to_lowercase();
    let mut best: Option<(&Topic, Vec<String>)> = None;
    for topic in topics {
        let hits: Vec<String> = topic
            .keywords
            .iter()
            .filter(|k| mentions(&text, k))
            .cloned()
            .collect();
        if !hits.is_empty() && best.as_ref().is_none_or(|(_, b)| hits.len() > b.len()) {
            best = Some((topic, hits));
        }
    }
    best.map(|(topic, hits)| (topic, Because::Keywords(hits)))
}

fn from_row(row: &Row<'_>) -> Result<Topic, DbError> {
    let list = |column: &str| -> Result<Vec<String>, DbError> {
        serde_json::from_str(row.str(column)?)
            .map_err(|e| DbError::Decode(format!("topic {column}: {e}")))
    };
    Ok(Topic {
        id: row.i64("id")?,
        name: row.str("name")?.to_owned(),
        label: row.str("label")?.to_owned(),
        team_id: row.opt_i64("team_id")?,
        priority: row.i64("priority")?,
        in_picker: row.i64("in_picker")? == 1,
        keywords: list("keywords")?,
        channels: list("channels")?,
        pages: list("pages")?,
        position: row.i64("position")?,
        human_only: row.i64("human_only")? == 1,
    })
}

const SELECT: &str = "SELECT id, name, label, team_id, priority, in_picker, keywords, channels,
            pages, position, human_only FROM topics";
const ORDER: &str = "ORDER BY position, id";
const COUNT: &str = "SELECT COUNT(*) AS n FROM topics";
const INSERT: &str = "INSERT INTO topics (name, label, team_id, priority, in_picker, keywords,
            channels, pages, position, human_only, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
     ON CONFLICT (name) DO NOTHING RETURNING id";
const UPDATE: &str = "UPDATE topics SET name = ?2, label = ?3, team_id = ?4, priority = ?5,
            in_picker = ?6, keywords = ?7, channels = ?8, pages = ?9, position = ?10,
            human_only = ?11
      WHERE id = ?1 RETURNING id";
const NAME_TAKEN: &str =
    "SELECT EXISTS (SELECT 1 FROM topics WHERE name = ?1 AND id != ?2) AS taken";
const DELETE: &str = "DELETE FROM topics WHERE id = ?1 RETURNING id";
const UNSET_TEAM: &str = "UPDATE topics SET team_id = NULL WHERE team_id = ?1";

pub fn list(db: &dyn Database) -> Result<Vec<Topic>, DbError> {
    db.execute(&format!("{SELECT} {ORDER}"), &[])?
        .iter()
        .map(|row| from_row(&row))
        .collect()
}

pub fn by_id(db: &dyn Database, id: i64) -> Result<Option<Topic>, DbError> {
    db.execute(&format!("{SELECT} WHERE id = ?1"), &[id.into()])?
        .first()
        .map(|row| from_row(&row))
        .transpose()
}

pub fn count(db: &dyn Database) -> Result<i64, DbError> {
    db.execute(COUNT, &[])?
        .first()
        .map_or(Ok(0), |row| row.i64("n"))
}

pub fn name_taken(db: &dyn Database, name: &str, id: i64) -> Result<bool, DbError> {
    Ok(db
        .execute(NAME_TAKEN, &[name.into(), id.into()])?
        .first()
        .map_or(Ok(0), |row| row.i64("taken"))?
        == 1)
}

fn params(topic: &Topic) -> Vec<SqlValue> {
    let json = |list: &Vec<String>| SqlValue::Text(serde_json::to_string(list).unwrap_or_default());
    vec![
        topic.name.as_str().into(),
        topic.label.as_str().into(),
        topic.team_id.into(),
        topic.priority.into(),
        i64::from(topic.in_picker).into(),
        json(&topic.keywords),
        json(&topic.channels),
        json(&topic.pages),
        topic.position.into(),
        i64::from(topic.human_only).into(),
    ]
}

/// Inserts `topic`; `None` when its name is taken.
pub fn insert(db: &dyn Database, topic: &Topic, now: i64) -> Result<Option<i64>, DbError> {
    let mut values = params(topic);
    values.push(now.into());
    db.execute(INSERT, &values)?
        .first()
        .map(|row| row.i64("id"))
        .transpose()
}

pub fn update(db: &dyn Database, topic: &Topic) -> Result<bool, DbError> {
    let mut values = vec![topic.id.into()];
    values.extend(params(topic));
    Ok(!db.execute(UPDATE, &values)?.is_empty())
}

pub fn delete(db: &dyn Database, id: i64) -> Result<bool, DbError> {
    Ok(!db.execute(DELETE, &[id.into()])?.is_empty())
}

/// A deleted team's topics queue for nobody in particular.
pub fn unset_team(db: &dyn Database, team_id: i64) -> Result<(), DbError> {
    db.execute(UNSET_TEAM, &[team_id.into()])?;
    Ok(())
}

/// The topics the widget offers, in position order.
pub fn picker(db: &dyn Database) -> Result<Vec<PickerTopic>, DbError> {
    Ok(list(db)?
        .into_iter()
        .filter(|t| t.in_picker)
        .map(|t| PickerTopic {
            name: t.name,
            label: t.label,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str, keywords: &[&str]) -> Topic {
        apply(
            None,
            &TopicRequest {
                name: Some(name.into()),
                keywords: Some(keywords.iter().map(|k| (*k).to_owned()).collect()),
                ..TopicRequest::default()
            },
        )
        .unwrap()
    }

    fn clues<'a>(texts: &'a [String]) -> Clues<'a> {
        Clues {
            picked: None,
            channel: "web",
            page_url: None,
            texts,
        }
    }

    #[test]
    fn keywords_match_whole_words_and_the_most_hits_win() {
        let topics = [
            topic("billing", &["invoice", "refund", "charged twice"]),
            topic("shipping", &["parcel", "delivery", "tracking"]),
        ];
        let texts = [
            "Where is my PARCEL? The tracking page says nothing, and my invoice is fine."
                .to_owned(),
        ];
        let (found, because) = detect(&topics, &clues(&texts)).unwrap();
        assert_eq!(found.name, "shipping");
        assert_eq!(
            because,
            Because::Keywords(vec!["parcel".into(), "tracking".into()])
        );
        let texts = ["I was charged twice!".to_owned()];
        assert_eq!(detect(&topics, &clues(&texts)).unwrap().0.name, "billing");
        // "invoices" is not "invoice"; "parcels" neither: whole words only.
        let texts = ["invoicesparcel refunded".to_owned()];
        assert_eq!(detect(&topics, &clues(&texts)), None);
    }

    #[test]
    fn the_picker_beats_channel_and_page_rules_which_beat_keywords() {
        let mut sales = topic("sales", &["price"]);
        sales.pages = vec!["/pricing".into()];
        let mut support = topic("support", &["broken"]);
        support.channels = vec!["sms".into()];
        let topics = [sales, support];
        let texts = ["it is broken".to_owned()];
        let mut c = clues(&texts);
        c.page_url = Some("https://shop.example/pricing/team?plan=2");
        assert_eq!(
            detect(&topics, &c).map(|(t, b)| (t.name.as_str(), b)),
            Some(("sales", Because::Page("/pricing".into())))
        );
        c.channel = "sms";
        assert_eq!(
            detect(&topics, &c).map(|(t, b)| (t.name.as_str(), b)),
            Some(("support", Because::Channel("sms".into())))
        );
        c.picked = Some("Sales");
        assert_eq!(
            detect(&topics, &c).map(|(t, b)| (t.name.as_str(), b)),
            Some(("sales", Because::Picker))
        );
    }

    #[test]
    fn topic_requests_are_checked() {
        assert!(parse_name("Billing").is_ok_and(|n| n == "billing"));
        assert!(parse_name("billing & co").is_err());
        let bad = |request: TopicRequest| apply(None, &request).is_err();
        assert!(bad(TopicRequest::default()), "a name is required");
        assert!(bad(TopicRequest {
            name: Some("x".into()),
            priority: Some(3),
            ..TopicRequest::default()
        }));
        assert!(bad(TopicRequest {
            name: Some("x".into()),
            channels: Some(vec!["fax".into()]),
            ..TopicRequest::default()
        }));
        assert!(bad(TopicRequest {
            name: Some("x".into()),
            pages: Some(vec!["pricing".into()]),
            ..TopicRequest::default()
        }));
        assert!(bad(TopicRequest {
            name: Some("x".into()),
            keywords: Some(vec!["k".into(); MAX_RULES + 1]),
            ..TopicRequest::default()
        }));
        let t = apply(
            None,
            &TopicRequest {
                name: Some("x".into()),
                keywords: Some(vec![" Refund ".into(), "refund".into()]),
                ..TopicRequest::default()
            },
        )
        .unwrap();
        assert_eq!(t.keywords, ["refund"], "trimmed, lower-cased, deduplicated");
    }
}
