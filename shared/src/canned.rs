//! Canned responses: saved replies, team-wide (admins manage them) or an operator's own,
//! found by `/shortcut` in the reply box, with placeholders filled in before the operator edits
//! and sends.

use serde::{Deserialize, Serialize};

use crate::input::{InvalidInput, bounded_text};
use crate::store::{Database, DbError, Row, like_escape};

/// 1 to 32 characters from `a-z 0-9 _ -`, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortcut(String);

impl Shortcut {
    /// The longest search text accepted (a shortcut, or words of a title or body).
    pub const MAX_QUERY_CHARS: usize = 100;

    pub fn parse(text: &str) -> Result<Shortcut, InvalidInput> {
        let text = text.trim().trim_start_matches('/').to_lowercase();
        let ok = (1..=32).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if ok {
            Ok(Shortcut(text))
        } else {
            Err(InvalidInput::new(
                "shortcut",
                "must be 1-32 characters from a-z 0-9 _ -",
            ))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Team,
    Personal,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Canned {
    pub id: i64,
    pub shortcut: String,
    pub title: String,
    pub body: String,
    pub scope: Scope,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered: Option<String>,
    #[serde(skip)]
    pub owner_id: Option<i64>,
}

/// Create and update bodies.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedRequest {
    pub shortcut: Option<String>,
    pub title: Option<String>,
    pub body: Option<String>,
}

/// A canned response's fields, parsed; `None` keeps a field on update.
pub struct CannedFields {
    pub shortcut: Option<Shortcut>,
    pub title: Option<String>,
    pub body: Option<String>,
}

impl CannedFields {
    pub fn parse(request: &CannedRequest, creating: bool) -> Result<CannedFields, InvalidInput> {
        let required = |field: &'static str, value: &Option<String>| {
            if creating && value.is_none() {
                Err(InvalidInput::new(field, "is required"))
            } else {
                Ok(())
            }
        };
        required("shortcut", &request.shortcut)?;
        required("title", &request.title)?;
        required("body", &request.body)?;
        Ok(CannedFields {
            shortcut: request
                .shortcut
                .as_deref()
                .map(Shortcut::parse)
                .transpose()?,
            title: request
                .title
                .as_deref()
                .map(|t| bounded_text("title", t, 1, 100))
                .transpose()?,
            body: request
                .body
                .as_deref()
                .map(|b| bounded_text("body", b, 1, crate::message::MessageBody::MAX_CHARS))
                .transpose()?,
        })
    }
}

/// The values placeholders are filled from.
#[derive(Debug, Default, Clone)]
pub struct Placeholders {
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub operator_name: String,
    pub conversation_id: i64,
    pub business_name: String,
}

fn first_name(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or(name)
}

/// Fills `{{name}}` and `{{name|fallback}}` placeholders. A placeholder with no value takes its
/// fallback (or nothing); unknown placeholders stay as written so the operator sees them.
pub fn render(template: &str, values: &Placeholders) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &after[..end];
        let (key, fallback) = match inner.split_once('|') {
            Some((key, fallback)) => (key.trim(), Some(fallback.trim())),
            None => (inner.trim(), None),
        };
        let value: Option<Option<String>> = match key {
            "contact.name" => Some(values.contact_name.clone()),
            "contact.first_name" => Some(
                values
                    .contact_name
                    .as_deref()
                    .map(|n| first_name(n).to_owned()),
            ),
            "contact.email" => Some(values.contact_email.clone()),
            "contact.phone" => Some(values.contact_phone.clone()),
            "operator.name" => Some(Some(values.operator_name.clone())),
            "operator.first_name" => Some(Some(first_name(&values.operator_name).to_owned())),
            "conversation.id" => Some(Some(values.conversation_id.to_string())),
            "business.name" => Some(Some(values.business_name.clone())),
            _ => None,
        };
        match value {
            Some(value) => out.push_str(
                value
                    .as_deref()
                    .filter(|v| !v.is_empty())
                    .or(fallback)
                    .unwrap_or_default(),
            ),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn from_row(row: &Row<'_>) -> Result<Canned, DbError> {
    let owner_id = row.opt_i64("owner_id")?;
    Ok(Canned {
        id: row.i64("id")?,
        shortcut: row.str("shortcut")?.to_owned(),
        title: row.str("title")?.to_owned(),
        body: row.str("body")?.to_owned(),
        scope: if owner_id.is_some() {
            Scope::Personal
        } else {
            Scope::Team
        },
        rendered: None,
        owner_id,
    })
}

const COLUMNS: &str = "id, owner_id, shortcut, title, body";
/// Team-wide and the operator's own; shortcut prefix matches first, then title, then body.
const SEARCH: &str = "SELECT id, owner_id, shortcut, title, body FROM canned_responses
      WHERE (owner_id IS NULL OR owner_id = ?1)
        AND (shortcut LIKE ?2 ESCAPE '\\' OR title LIKE ?3 ESCAPE '\\' OR body LIKE ?3 ESCAPE '\\')
      ORDER BY CASE WHEN shortcut LIKE ?2 ESCAPE '\\' THEN 0
                    WHEN title LIKE ?3 ESCAPE '\\' THEN 1 ELSE 2 END,
               length(shortcut), shortcut
      LIMIT ?4";
const INSERT: &str =
    "INSERT INTO canned_responses (owner_id, shortcut, title, body, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT DO NOTHING
     RETURNING id, owner_id, shortcut, title, body";
/// Updates only within the scope (?2 owner, NULL for team-wide).
const UPDATE: &str = "UPDATE OR IGNORE canned_responses
        SET shortcut = COALESCE(?3, shortcut), title = COALESCE(?4, title),
            body = COALESCE(?5, body), updated_at = ?6
      WHERE id = ?1 AND owner_id IS ?2
  RETURNING id, owner_id, shortcut, title, body";
const DELETE: &str = "DELETE FROM canned_responses WHERE id = ?1 AND owner_id IS ?2 RETURNING id";
const SHORTCUT_TAKEN: &str = "SELECT EXISTS (SELECT 1 FROM canned_responses
      WHERE owner_id IS ?1 AND lower(shortcut) = ?2 AND id != ?3) AS taken";

/// Most results one search returns.
pub const SEARCH_LIMIT: i64 = 20;

/// What `operator_id` can use that matches `query` (empty: everything), best first.
pub fn search(db: &dyn Database, operator_id: i64, query: &str) -> Result<Vec<Canned>, DbError> {
    let query = like_escape(query.trim().trim_start_matches('/'));
    db.execute(
        SEARCH,
        &[
            operator_id.into(),
            format!("{query}%").into(),
            format!("%{query}%").into(),
            SEARCH_LIMIT.into(),
        ],
    )?
    .iter()
    .map(|r| from_row(&r))
    .collect()
}

/// Every canned response of a scope (`owner` None: team-wide), by shortcut.
pub fn list(db: &dyn Database, owner: Option<i64>) -> Result<Vec<Canned>, DbError> {
    db.execute(
        &format!("SELECT {COLUMNS} FROM canned_responses WHERE owner_id IS ?1 ORDER BY shortcut"),
        &[owner.into()],
    )?
    .iter()
    .map(|r| from_row(&r))
    .collect()
}

/// `None` when the shortcut is taken in that scope.
pub fn insert(
    db: &dyn Database,
    owner: Option<i64>,
    shortcut: &Shortcut,
    title: &str,
    body: &str,
    now: i64,
) -> Result<Option<Canned>, DbError> {
    db.execute(
        INSERT,
        &[
            owner.into(),
            shortcut.0.as_str().into(),
            title.into(),
            body.into(),
            now.into(),
        ],
    )?
    .first()
    .map(|r| from_row(&r))
    .transpose()
}

pub fn shortcut_taken(
    db: &dyn Database,
    owner: Option<i64>,
    shortcut: &Shortcut,
    id: i64,
) -> Result<bool, DbError> {
    Ok(db
        .execute(
            SHORTCUT_TAKEN,
            &[owner.into(), shortcut.0.as_str().into(), id.into()],
        )?
        .first()
        .map_or(Ok(0), |r| r.i64("taken"))?
        == 1)
}

/// Updates within `owner`'s scope; `None` if there is no such response there.
pub fn update(
    db: &dyn Database,
    id: i64,
    owner: Option<i64>,
    fields: &CannedFields,
    now: i64,
) -> Result<Option<Canned>, DbError> {
    db.execute(
        UPDATE,
        &[
            id.into(),
            owner.into(),
            fields.shortcut.as_ref().map(|s| s.0.as_str()).into(),
            fields.title.as_deref().into(),
            fields.body.as_deref().into(),
            now.into(),
        ],
    )?
    .first()
    .map(|r| from_row(&r))
    .transpose()
}

pub fn delete(db: &dyn Database, id: i64, owner: Option<i64>) -> Result<bool, DbError> {
    Ok(!db.execute(DELETE, &[id.into(), owner.into()])?.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Placeholders {
        Placeholders {
            contact_name: Some("Ada Lovelace".into()),
            contact_email: None,
            contact_phone: None,
            operator_name: "Grace Hopper".into(),
            conversation_id: 42,
            business_name: "Acme".into(),
        }
    }

    #[test]
    fn placeholders_are_filled_with_fallbacks_and_unknown_ones_stay() {
        assert_eq!(
            render(
                "Hi {{contact.first_name|there}}, {{operator.first_name}} from {{business.name}} (#{{ conversation.id }}). {{contact.email|no email}} {{ticket.url}}",
                &values()
            ),
            "Hi Ada, Grace from Acme (#42). no email {{ticket.url}}"
        );
        let anonymous = Placeholders {
            contact_name: None,
            ..values()
        };
        assert_eq!(
            render("Hi {{contact.first_name|there}}!", &anonymous),
            "Hi there!"
        );
        assert_eq!(render("Hi {{contact.name}}!", &anonymous), "Hi !");
        assert_eq!(
            render("unclosed {{contact.name", &values()),
            "unclosed {{contact.name"
        );
    }

    #[test]
    fn shortcuts() {
        assert_eq!(Shortcut::parse("/Refund").unwrap().0, "refund");
        assert!(Shortcut::parse("two words").is_err());
        assert!(Shortcut::parse("").is_err());
    }
}
