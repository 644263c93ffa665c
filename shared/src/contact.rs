//! Contacts: the customers behind conversations, the tokens their browsers hold, the details
//! operators keep about them, and merging two records of the same person.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::input::{InvalidInput, bounded_text};
use crate::secret::TokenHash;
use crate::store::{Database, DbError, Row, SqlValue};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(field: &'static str, text: &str) -> Result<PersonName, InvalidInput> {
        bounded_text(field, text, 1, Self::MAX_CHARS).map(PersonName)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address as people type them: one `@`, a dotted domain, no spaces; at most 254
/// characters (RFC 5321). Deliverability is the mail provider's question, not ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(field: &'static str, text: &str) -> Result<EmailAddress, InvalidInput> {
        let text = text.trim();
        let invalid = || InvalidInput::new(field, "must be an email address like name@example.com");
        if text.chars().count() > 254 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = text.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@');
        if local.is_empty() || local.chars().count() > 64 || !domain_ok {
            return Err(invalid());
        }
        Ok(EmailAddress(text.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number in E.164 form (`+` and 8 to 15 digits), as channels (SMS, WhatsApp) send
/// them. People type spaces, dashes, dots and brackets; those are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(field: &'static str, text: &str) -> Result<PhoneNumber, InvalidInput> {
        let invalid =
            || InvalidInput::new(field, "must be an international number like +14155550100");
        let text = text.trim();
        let rest = text.strip_prefix('+').ok_or_else(invalid)?;
        let mut digits = String::from("+");
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(invalid()),
            }
        }
        let count = digits.len() - 1;
        if !(8..=15).contains(&count) || digits.starts_with("+0") {
            return Err(invalid());
        }
        Ok(PhoneNumber(digits))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Custom attributes operators keep on a contact (plan, company, order number...): a flat JSON
/// object of at most [`Attributes::MAX_KEYS`] keys (`[A-Za-z0-9_.-]`, 1-64 characters) whose
/// values are strings (at most 500 characters), numbers, booleans or null.
#[derive(Debug, Clone, PartialEq)]
pub struct Attributes(Map<String, Value>);

impl Attributes {
    pub const MAX_KEYS: usize = 50;
    const MAX_VALUE_CHARS: usize = 500;

    pub fn parse(value: &Value) -> Result<Attributes, InvalidInput> {
        let invalid = |why: String| InvalidInput::new("attributes", why);
        let Value::Object(map) = value else {
            return Err(invalid("must be a JSON object".into()));
        };
        if map.len() > Self::MAX_KEYS {
            return Err(invalid(format!("at most {} keys", Self::MAX_KEYS)));
        }
        for (key, value) in map {
            let key_ok = (1..=64).contains(&key.len())
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !key_ok {
                return Err(invalid(format!(
                    "key {key:?}: 1-64 characters from A-Z a-z 0-9 _ . -"
                )));
            }
            match value {
                Value::String(text) => {
                    if text.chars().count() > Self::MAX_VALUE_CHARS
                        || text
                            .chars()
                            .any(|c| c.is_control() && c != '\n' && c != '\t')
                    {
                        return Err(invalid(format!(
                            "{key}: text of at most {} characters",
                            Self::MAX_VALUE_CHARS
                        )));
                    }
                }
                Value::Number(_) | Value::Bool(_) | Value::Null => {}
                Value::Array(_) | Value::Object(_) => {
                    return Err(invalid(format!(
                        "{key}: must be text, a number, true/false or null"
                    )));
                }
            }
        }
        // Null means "no value": dropped, so a merge (JSON merge patch) cannot misread it.
        Ok(Attributes(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ))
    }

    fn to_json(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }
}

/// A contact as operators see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contact {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub attributes: Value,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

impl Contact {
    fn from_row(row: &Row<'_>) -> Result<Contact, DbError> {
        Ok(Contact {
            id: row.i64("id")?,
            name: row.opt_str("name")?.map(str::to_owned),
            email: row.opt_str("email")?.map(str::to_owned),
            phone: row.opt_str("phone")?.map(str::to_owned),
            attributes: serde_json::from_str(row.str("attributes")?)
                .map_err(|e| DbError::Decode(format!("attributes: {e}")))?,
            created_at: row.i64("created_at")?,
            updated_at: row.opt_i64("updated_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactRef {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl ContactRef {
    /// Reads `contact_id`, `contact_name`, `contact_email`, `contact_phone` columns.
    pub fn from_row(row: &Row<'_>) -> Result<ContactRef, DbError> {
        Ok(ContactRef {
            id: row.i64("contact_id")?,
            name: row.opt_str("contact_name")?.map(str::to_owned),
            email: row.opt_str("contact_email")?.map(str::to_owned),
            phone: row.opt_str("contact_phone")?.map(str::to_owned),
        })
    }
}

/// Tells "absent" (keep) from `null` (clear) in a PATCH body: `Some(None)` is null.
pub fn patch_field<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `PATCH /contacts/:id` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    #[serde(default, deserialize_with = "patch_field")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    pub attributes: Option<Option<Value>>,
}

/// A parsed [`ContactPatch`]: `None` keeps a field, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct ContactChanges {
    pub name: Option<Option<PersonName>>,
    pub email: Option<Option<EmailAddress>>,
    pub phone: Option<Option<PhoneNumber>>,
    pub attributes: Option<Attributes>,
}

impl ContactChanges {
    pub fn parse(patch: &ContactPatch) -> Result<ContactChanges, InvalidInput> {
        fn field<T>(
            value: &Option<Option<String>>,
            parse: impl Fn(&str) -> Result<T, InvalidInput>,
        ) -> Result<Option<Option<T>>, InvalidInput> {
            match value {
                None => Ok(None),
                Some(None) => Ok(Some(None)),
                Some(Some(text)) if text.trim().is_empty() => Ok(Some(None)),
                Some(Some(text)) => parse(text).map(|v| Some(Some(v))),
            }
        }
        Ok(ContactChanges {
            name: field(&patch.name, |t| PersonName::parse("name", t))?,
            email: field(&patch.email, |t| EmailAddress::parse("email", t))?,
            phone: field(&patch.phone, |t| PhoneNumber::parse("phone", t))?,
            attributes: match &patch.attributes {
                None => None,
                Some(None) => Some(Attributes(Map::new())),
                Some(Some(value)) => Some(Attributes::parse(value)?),
            },
        })
    }
}

const INSERT_CONTACT: &str =
    "INSERT INTO contacts (name, email, created_at) VALUES (?1, ?2, ?3) RETURNING id";
const INSERT_VISITOR_TOKEN: &str =
    "INSERT INTO visitor_tokens (token_hash, contact_id, created_at) VALUES (?1, ?2, ?3)";
const CONTACT_BY_TOKEN: &str = "SELECT contact_id FROM visitor_tokens WHERE token_hash = ?1";

pub fn insert(
    db: &dyn Database,
    name: Option<&PersonName>,
    email: Option<&EmailAddress>,
    now: i64,
) -> Result<i64, DbError> {
    let rows = db.execute(
        INSERT_CONTACT,
        &[
            name.map(PersonName::as_str).into(),
            email.map(EmailAddress::as_str).into(),
            now.into(),
        ],
    )?;
    rows.first()
        .ok_or_else(|| DbError::Decode("INSERT ... RETURNING gave no row".into()))?
        .i64("id")
}

pub fn insert_visitor_token(
    db: &dyn Database,
    hash: &TokenHash,
    contact_id: i64,
    now: i64,
) -> Result<(), DbError> {
    db.execute(
        INSERT_VISITOR_TOKEN,
        &[
            SqlValue::Blob(hash.0.to_vec()),
            contact_id.into(),
            now.into(),
        ],
    )?;
    Ok(())
}

const UPDATE_DETAILS: &str =
    "UPDATE contacts SET name = COALESCE(?2, name), email = COALESCE(?3, email) WHERE id = ?1";

/// Records what a returning visitor told us about themselves; absent fields keep their values.
pub fn update_details(
    db: &dyn Database,
    id: i64,
    name: Option<&PersonName>,
    email: Option<&EmailAddress>,
) -> Result<(), DbError> {
    if name.is_some() || email.is_some() {
        db.execute(
            UPDATE_DETAILS,
            &[
                id.into(),
                name.map(PersonName::as_str).into(),
                email.map(EmailAddress::as_str).into(),
            ],
        )?;
    }
    Ok(())
}

const SET_PHONE_IF_UNSET: &str = "UPDATE contacts SET phone = ?2 WHERE id = ?1 AND phone IS NULL";

/// Records the phone number a visitor left (the widget's offline form) so operators can answer
/// by SMS; a number the contact already has (e.g. from an SMS thread) is kept.
pub fn set_phone_if_unset(db: &dyn Database, id: i64, phone: &PhoneNumber) -> Result<(), DbError> {
    db.execute(SET_PHONE_IF_UNSET, &[id.into(), phone.as_str().into()])?;
    Ok(())
}

pub fn by_visitor_token(db: &dyn Database, hash: &TokenHash) -> Result<Option<i64>, DbError> {
    let rows = db.execute(CONTACT_BY_TOKEN, &[SqlValue::Blob(hash.0.to_vec())])?;
    rows.first().map(|row| row.i64("contact_id")).transpose()
}

const CONTACT_COLUMNS: &str = "id, name, email, phone, attributes, created_at, updated_at";

/// Each field changes only when its flag (?2, ?4, ?6, ?8) is set. Merged contacts are
/// tombstones and never change.
const UPDATE: &str = "UPDATE contacts
        SET name = CASE WHEN ?2 THEN ?3 ELSE name END,
            email = CASE WHEN ?4 THEN ?5 ELSE email END,
            phone = CASE WHEN ?6 THEN ?7 ELSE phone END,
            attributes = CASE WHEN ?8 THEN ?9 ELSE attributes END,
            updated_at = ?10
      WHERE id = ?1 AND merged_into IS NULL
  RETURNING id, name, email, phone, attributes, created_at, updated_at";

/// The first step of a merge and its guard: `?1` becomes a tombstone pointing at `?2`, only if
/// both are live and different. Returns the details the survivor may lack.
const MARK_MERGED: &str = "UPDATE contacts SET merged_into = ?2, updated_at = ?3
      WHERE id = ?1 AND ?1 != ?2 AND merged_into IS NULL
        AND EXISTS (SELECT 1 FROM contacts s WHERE s.id = ?2 AND s.merged_into IS NULL)
  RETURNING name, email, phone, attributes";
const MOVE_CONVERSATIONS: &str =
    "UPDATE conversations SET contact_id = ?2 WHERE contact_id = ?1 RETURNING id";
/// Contacts merged into `?1` earlier now point at `?2` directly: links never chain.
const REPOINT_TOMBSTONES: &str = "UPDATE contacts SET merged_into = ?2 WHERE merged_into = ?1";
const SURVIVOR: &str = "SELECT COALESCE(merged_into, id) AS id FROM contacts WHERE id = ?1";
/// The survivor keeps what it has; the other record fills gaps (attributes: survivor wins).
const FILL_GAPS: &str = "UPDATE contacts
        SET name = COALESCE(name, ?2), email = COALESCE(email, ?3), phone = COALESCE(phone, ?4),
            attributes = json_patch(?5, attributes), updated_at = ?6
      WHERE id = ?1";
const SEARCH: &str =
    "SELECT id, name, email, phone, attributes, created_at, updated_at FROM contacts
      WHERE merged_into IS NULL
        AND (name LIKE ?1 ESCAPE '\\' OR email LIKE ?1 ESCAPE '\\' OR phone LIKE ?1 ESCAPE '\\')
      ORDER BY id DESC LIMIT ?2";

/// A live contact, or the one it was merged into.
pub fn by_id(db: &dyn Database, id: i64) -> Result<Option<Contact>, DbError> {
    let rows = db.execute(
        &format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts
              WHERE id = (SELECT COALESCE(merged_into, id) FROM contacts WHERE id = ?1)"
        ),
        &[id.into()],
    )?;
    rows.first().map(|row| Contact::from_row(&row)).transpose()
}

/// Applies `changes`; `None` if the contact does not exist (or was merged away).
pub fn update(
    db: &dyn Database,
    id: i64,
    changes: &ContactChanges,
    now: i64,
) -> Result<Option<Contact>, DbError> {
    fn flag<T>(v: &Option<T>) -> SqlValue {
        i64::from(v.is_some()).into()
    }
    let rows = db.execute(
        UPDATE,
        &[
            id.into(),
            flag(&changes.name),
            changes
                .name
                .as_ref()
                .and_then(|n| n.as_ref())
                .map(PersonName::as_str)
                .into(),
            flag(&changes.email),
            changes
                .email
                .as_ref()
                .and_then(|e| e.as_ref())
                .map(EmailAddress::as_str)
                .into(),
            flag(&changes.phone),
            changes
                .phone
                .as_ref()
                .and_then(|p| p.as_ref())
                .map(PhoneNumber::as_str)
                .into(),
            flag(&changes.attributes),
            changes.attributes.as_ref().map(Attributes::to_json).into(),
            now.into(),
        ],
    )?;
    rows.first().map(|row| Contact::from_row(&row)).transpose()
}

/// Merges contact `from` into `into`: conversations (and so every message) move, details fill
/// gaps, `from` stays as a tombstone. Widget sessions do NOT move: each browser keeps reading
/// only the conversations its own contact started (`visitor_contact_id`), because a merge is an
/// operator's guess about identity (a visitor can type anyone's email), never proof. Call inside
/// a transaction. Returns the ids of the conversations that moved, or `None` if either contact is
/// not live (or they are the same).
pub fn merge(
    db: &dyn Database,
    from: i64,
    into: i64,
    now: i64,
) -> Result<Option<Vec<i64>>, DbError> {
    let rows = db.execute(MARK_MERGED, &[from.into(), into.into(), now.into()])?;
    let Some(old) = rows.first() else {
        return Ok(None);
    };
    db.execute(
        FILL_GAPS,
        &[
            into.into(),
            old.opt_str("name")?.into(),
            old.opt_str("email")?.into(),
            old.opt_str("phone")?.into(),
            old.str("attributes")?.into(),
            now.into(),
        ],
    )?;
    db.execute(REPOINT_TOMBSTONES, &[from.into(), into.into()])?;
    let moved = db.execute(MOVE_CONVERSATIONS, &[from.into(), into.into()])?;
    moved
        .iter()
        .map(|row| row.i64("id"))
        .collect::<Result<_, _>>()
        .map(Some)
}

/// The live contact `id` was merged into, or `id` itself.
pub fn survivor(db: &dyn Database, id: i64) -> Result<i64, DbError> {
    db.execute(SURVIVOR, &[id.into()])?
        .first()
        .map_or(Ok(id), |row| row.i64("id"))
}

/// Live contacts whose name, email or phone contains `pattern` (a LIKE pattern), newest first.
pub fn search(db: &dyn Database, pattern: &str, limit: i64) -> Result<Vec<Contact>, DbError> {
    let rows = db.execute(SEARCH, &[pattern.into(), limit.into()])?;
    rows.iter().map(|row| Contact::from_row(&row)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn email_addresses() {
        assert!(EmailAddress::parse("email", "ann@example.com").is_ok());
        assert!(EmailAddress::parse("email", " ann+x@mail.example.co ").is_ok());
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "ann@.com",
            "ann@example.com.",
            "a@b@example.com",
        ] {
            assert!(EmailAddress::parse("email", bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn phone_numbers_normalise_to_e164() {
        assert_eq!(
            PhoneNumber::parse("phone", " +1 (415) 555-0100 ")
                .unwrap()
                .as_str(),
            "+14155550100"
        );
        for bad in [
            "4155550100",
            "+1",
            "+0123456789",
            "+1415555010012345",
            "+1 415 CALL ME",
        ] {
            assert!(PhoneNumber::parse("phone", bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn attributes_are_flat_and_bounded() {
        let ok = serde_json::json!({"plan": "pro", "seats": 12, "vip": true, "note": null});
        assert!(Attributes::parse(&ok).is_ok());
        for bad in [
            serde_json::json!([1]),
            serde_json::json!({"nested": {"a": 1}}),
            serde_json::json!({"bad key": 1}),
            serde_json::json!({"long": "x".repeat(501)}),
        ] {
            assert!(Attributes::parse(&bad).is_err(), "{bad} accepted");
        }
        let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), Value::Null)).collect();
        assert!(Attributes::parse(&Value::Object(many)).is_err());
    }

    proptest! {
        #[test]
        fn phone_parse_never_panics(s in "\\PC{0,40}") {
            let _ = PhoneNumber::parse("phone", &s);
        }

        #[test]
        fn email_parse_never_panics(s in "\\PC{0,300}") {
            let _ = EmailAddress::parse("email", &s);
        }
    }
}
