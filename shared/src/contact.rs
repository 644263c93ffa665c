//! Contacts: the customers behind conversations, and the tokens their browsers hold.

use serde::Serialize;

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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactRef {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
}

impl ContactRef {
    /// Reads `contact_id`, `contact_name`, `contact_email` columns.
    pub fn from_row(row: &Row<'_>) -> Result<ContactRef, DbError> {
        Ok(ContactRef {
            id: row.i64("contact_id")?,
            name: row.opt_str("contact_name")?.map(str::to_owned),
            email: row.opt_str("contact_email")?.map(str::to_owned),
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

pub fn by_visitor_token(db: &dyn Database, hash: &TokenHash) -> Result<Option<i64>, DbError> {
    let rows = db.execute(CONTACT_BY_TOKEN, &[SqlValue::Blob(hash.0.to_vec())])?;
    rows.first().map(|row| row.i64("contact_id")).transpose()
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

    proptest! {
        #[test]
        fn email_parse_never_panics(s in "\\PC{0,300}") {
            let _ = EmailAddress::parse("email", &s);
        }
    }
}
