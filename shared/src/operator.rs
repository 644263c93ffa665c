//! Operators (the business's people), their passwords and their sessions.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::Serialize;

use crate::contact::{EmailAddress, PersonName};
use crate::host::Entropy;
use crate::input::InvalidInput;
use crate::secret::TokenHash;
use crate::store::{Database, DbError, Row, SqlValue};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Supervisor,
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Operator => "operator",
        }
    }
    fn from_db(text: &str) -> Result<Role, DbError> {
        match text {
            "admin" => Ok(Role::Admin),
            "supervisor" => Ok(Role::Supervisor),
            "operator" => Ok(Role::Operator),
            other => Err(DbError::Decode(format!("unknown role {other}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Operator {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
}

impl Operator {
    fn from_row(row: &Row<'_>) -> Result<Operator, DbError> {
        Ok(Operator {
            id: row.i64("id")?,
            email: row.str("email")?.to_owned(),
            name: row.str("name")?.to_owned(),
            role: Role::from_db(row.str("role")?)?,
        })
    }
}

/// A password as chosen: 10 to 256 characters. Length is the only rule (NIST SP 800-63B);
/// the upper bound keeps hashing cost bounded.
pub struct Password(String);

impl Password {
    pub fn parse(text: &str) -> Result<Password, InvalidInput> {
        let chars = text.chars().count();
        if !(10..=256).contains(&chars) {
            return Err(InvalidInput::new(
                "password",
                "must be 10 to 256 characters",
            ));
        }
        Ok(Password(text.to_owned()))
    }

    /// Hashes with Argon2id at the OWASP-recommended cost (19 MiB, 2 passes, 1 lane), in PHC
    /// string form so the parameters travel with the hash.
    pub fn hash(&self, entropy: &dyn Entropy) -> Result<String, DbError> {
        let mut salt = [0u8; 16];
        entropy.fill(&mut salt);
        let salt =
            SaltString::encode_b64(&salt).map_err(|e| DbError::Decode(format!("salt: {e}")))?;
        Argon2::default()
            .hash_password(self.0.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| DbError::Decode(format!("argon2: {e}")))
    }
}

/// Checks `password` against a stored PHC hash. A malformed hash never verifies.
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// A valid Argon2id hash of a password nobody has, verified against when the email is unknown
/// so that a login for an unknown email costs as much time as one with a wrong password.
pub const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZGVjb3lkZWNveWRlY295$VdA1CyYeH6nd/5pDQrd/zqEHIrPvD5lLc/1CwQk5y+g";

/// A new operator, parsed from a setup or bootstrap request.
pub struct NewOperator {
    pub email: EmailAddress,
    pub name: PersonName,
    pub role: Role,
    pub password: Password,
}

const COLUMNS: &str = "id, email, name, role";

/// Creates the operator only while the table is empty: the first-admin paths (setup token,
/// bootstrap variables) cannot create a second admin however many requests race.
const INSERT_FIRST: &str = "INSERT INTO operators (email, name, role, password_hash, created_at)
     SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS (SELECT 1 FROM operators)
     RETURNING id, email, name, role";
const ANY: &str = "SELECT EXISTS (SELECT 1 FROM operators) AS any";
const CREDENTIALS_BY_EMAIL: &str =
    "SELECT id, email, name, role, password_hash FROM operators WHERE email = ?1 AND active = 1";

const INSERT_SESSION: &str = "INSERT INTO operator_sessions (token_hash, operator_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)";
const BY_SESSION: &str = "SELECT o.id, o.email, o.name, o.role FROM operator_sessions s JOIN operators o ON o.id = s.operator_id
     WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND o.active = 1";
const DELETE_SESSION: &str = "DELETE FROM operator_sessions WHERE token_hash = ?1";
const DELETE_EXPIRED_SESSIONS: &str = "DELETE FROM operator_sessions WHERE expires_at <= ?1";

pub fn any_exist(db: &dyn Database) -> Result<bool, DbError> {
    Ok(db
        .execute(ANY, &[])?
        .first()
        .map(|r| r.i64("any"))
        .transpose()?
        .unwrap_or(0)
        == 1)
}

/// Inserts `new` if no operator exists yet; `None` if one already did.
pub fn insert_first(
    db: &dyn Database,
    new: &NewOperator,
    password_hash: &str,
    now: i64,
) -> Result<Option<Operator>, DbError> {
    let rows = db.execute(
        INSERT_FIRST,
        &[
            new.email.as_str().into(),
            new.name.as_str().into(),
            new.role.as_str().into(),
            password_hash.into(),
            now.into(),
        ],
    )?;
    rows.first().map(|row| Operator::from_row(&row)).transpose()
}

/// The active operator with this email and their password hash.
pub fn credentials(db: &dyn Database, email: &str) -> Result<Option<(Operator, String)>, DbError> {
    let rows = db.execute(CREDENTIALS_BY_EMAIL, &[email.into()])?;
    rows.first()
        .map(|row| {
            Ok((
                Operator::from_row(&row)?,
                row.str("password_hash")?.to_owned(),
            ))
        })
        .transpose()
}

pub fn by_id(db: &dyn Database, id: i64) -> Result<Option<Operator>, DbError> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM operators WHERE id = ?1"),
        &[id.into()],
    )?;
    rows.first().map(|row| Operator::from_row(&row)).transpose()
}

pub fn insert_session(
    db: &dyn Database,
    hash: &TokenHash,
    operator_id: i64,
    now: i64,
    expires_at: i64,
) -> Result<(), DbError> {
    db.execute(DELETE_EXPIRED_SESSIONS, &[now.into()])?;
    db.execute(
        INSERT_SESSION,
        &[
            SqlValue::Blob(hash.0.to_vec()),
            operator_id.into(),
            now.into(),
            expires_at.into(),
        ],
    )?;
    Ok(())
}

pub fn by_session(
    db: &dyn Database,
    hash: &TokenHash,
    now: i64,
) -> Result<Option<Operator>, DbError> {
    let rows = db.execute(BY_SESSION, &[SqlValue::Blob(hash.0.to_vec()), now.into()])?;
    rows.first().map(|row| Operator::from_row(&row)).transpose()
}

pub fn delete_session(db: &dyn Database, hash: &TokenHash) -> Result<(), DbError> {
    db.execute(DELETE_SESSION, &[SqlValue::Blob(hash.0.to_vec())])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestEntropy;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = Password::parse("correct horse")
            .unwrap()
            .hash(&TestEntropy::default())
            .unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse!", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn decoy_hash_is_well_formed_and_matches_nothing_common() {
        assert!(PasswordHash::new(DECOY_HASH).is_ok());
        assert!(!verify_password("", DECOY_HASH));
        assert!(!verify_password("password", DECOY_HASH));
    }

    #[test]
    fn password_length_rules() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(257)).is_err());
        assert!(Password::parse("ten chars!").is_ok());
    }
}
