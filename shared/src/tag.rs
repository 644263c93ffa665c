//! Tags: a list admins manage, put on conversations by operators to say what they are about.
//! Tags are internal: nothing that serves the visitor reads them.

use serde::Deserialize;

use crate::conversation::TagRef;
use crate::input::{InvalidInput, bounded_text};
use crate::store::{Database, DbError, Row};

/// 1 to 40 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagName(String);

impl TagName {
    pub fn parse(text: &str) -> Result<TagName, InvalidInput> {
        bounded_text("name", text, 1, 40).map(TagName)
    }
}

/// A CSS hex colour, `#rrggbb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Color(String);

impl Color {
    pub const DEFAULT: &'static str = "#64748b";

    pub fn parse(text: &str) -> Result<Color, InvalidInput> {
        let ok = text.len() == 7
            && text.starts_with('#')
            && text[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if ok {
            Ok(Color(text.to_ascii_lowercase()))
        } else {
            Err(InvalidInput::new("color", "must be a colour like #1d4ed8"))
        }
    }
}

/// `POST /tags` and `PATCH /tags/:id` bodies.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagRequest {
    pub name: Option<String>,
    pub color: Option<String>,
}

pub type Tag = TagRef;

fn from_row(row: &Row<'_>) -> Result<Tag, DbError> {
    Ok(TagRef {
        id: row.i64("id")?,
        name: row.str("name")?.to_owned(),
        color: row.str("color")?.to_owned(),
    })
}

const LIST: &str = "SELECT id, name, color FROM tags ORDER BY name";
const INSERT: &str = "INSERT INTO tags (name, color, created_at) VALUES (?1, ?2, ?3)
     ON CONFLICT (name) DO NOTHING RETURNING id, name, color";
const NAME_TAKEN: &str = "SELECT EXISTS (SELECT 1 FROM tags WHERE name = ?1 AND id != ?2) AS taken";
const UPDATE: &str = "UPDATE tags SET name = COALESCE(?2, name), color = COALESCE(?3, color)
      WHERE id = ?1 RETURNING id, name, color";
const UNTAG_ALL: &str = "DELETE FROM conversation_tags WHERE tag_id = ?1";
const DELETE: &str = "DELETE FROM tags WHERE id = ?1 RETURNING id";
const ATTACH: &str = "INSERT INTO conversation_tags (conversation_id, tag_id, created_at)
     SELECT ?1, id, ?3 FROM tags WHERE id = ?2
     ON CONFLICT DO NOTHING RETURNING tag_id";
const DETACH: &str =
    "DELETE FROM conversation_tags WHERE conversation_id = ?1 AND tag_id = ?2 RETURNING tag_id";
const BY_ID: &str = "SELECT id, name, color FROM tags WHERE id = ?1";

pub fn list(db: &dyn Database) -> Result<Vec<Tag>, DbError> {
    db.execute(LIST, &[])?
        .iter()
        .map(|r| from_row(&r))
        .collect()
}

pub fn by_id(db: &dyn Database, id: i64) -> Result<Option<Tag>, DbError> {
    db.execute(BY_ID, &[id.into()])?
        .first()
        .map(|r| from_row(&r))
        .transpose()
}

/// `None` when the name is taken.
pub fn insert(
    db: &dyn Database,
    name: &TagName,
    color: Option<&Color>,
    now: i64,
) -> Result<Option<Tag>, DbError> {
    let color = color.map_or(Color::DEFAULT, |c| c.0.as_str());
    db.execute(INSERT, &[name.0.as_str().into(), color.into(), now.into()])?
        .first()
        .map(|r| from_row(&r))
        .transpose()
}

/// Whether another tag than `id` has this name.
pub fn name_taken(db: &dyn Database, name: &TagName, id: i64) -> Result<bool, DbError> {
    Ok(db
        .execute(NAME_TAKEN, &[name.0.as_str().into(), id.into()])?
        .first()
        .map_or(Ok(0), |r| r.i64("taken"))?
        == 1)
}

pub fn update(
    db: &dyn Database,
    id: i64,
    name: Option<&TagName>,
    color: Option<&Color>,
) -> Result<Option<Tag>, DbError> {
    db.execute(
        UPDATE,
        &[
            id.into(),
            name.map(|n| n.0.as_str()).into(),
            color.map(|c| c.0.as_str()).into(),
        ],
    )?
    .first()
    .map(|r| from_row(&r))
    .transpose()
}

/// Deletes a tag and takes it off every conversation. Call inside a transaction.
pub fn delete(db: &dyn Database, id: i64) -> Result<bool, DbError> {
    db.execute(UNTAG_ALL, &[id.into()])?;
    Ok(!db.execute(DELETE, &[id.into()])?.is_empty())
}

/// Puts a tag on a conversation; `false` if it was already there (or the tag does not exist).
pub fn attach(
    db: &dyn Database,
    conversation_id: i64,
    tag_id: i64,
    now: i64,
) -> Result<bool, DbError> {
    Ok(!db
        .execute(ATTACH, &[conversation_id.into(), tag_id.into(), now.into()])?
        .is_empty())
}

/// Takes a tag off; `false` if it was not there.
pub fn detach(db: &dyn Database, conversation_id: i64, tag_id: i64) -> Result<bool, DbError> {
    Ok(!db
        .execute(DETACH, &[conversation_id.into(), tag_id.into()])?
        .is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_and_names() {
        assert_eq!(Color::parse("#1D4ED8").unwrap().0, "#1d4ed8");
        for bad in ["1d4ed8", "#1d4ed", "#1d4ed8f", "#gggggg", "red"] {
            assert!(Color::parse(bad).is_err(), "{bad}");
        }
        assert!(TagName::parse(" ").is_err());
        assert!(TagName::parse(&"x".repeat(41)).is_err());
    }
}
