//! Operators (the business's people): roles and what each may do, passwords, sessions,
//! invitations, presence and capacity, skills and languages.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};

use crate::chat::ChatError;
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
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "supervisor" => Some(Role::Supervisor),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
    fn from_db(text: &str) -> Result<Role, DbError> {
        Role::parse(text).ok_or_else(|| DbError::Decode(format!("unknown role {text}")))
    }
    /// Roles are nested: an admin may do whatever a supervisor may, who may do whatever an
    /// operator may.
    fn rank(self) -> u8 {
        match self {
            Role::Operator => 0,
            Role::Supervisor => 1,
            Role::Admin => 2,
        }
    }
    pub fn includes(self, least: Role) -> bool {
        self.rank() >= least.rank()
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
    /// 403 unless this operator's role includes `least`.
    pub fn require(&self, least: Role) -> Result<(), ChatError> {
        if self.role.includes(least) {
            return Ok(());
        }
        Err(ChatError::Forbidden(match least {
            Role::Admin => "only admins may do this",
            Role::Supervisor => "only supervisors and admins may do this",
            Role::Operator => "operators only",
        }))
    }

    /// Supervisors and admins act on any conversation; operators on their own and unassigned
    /// ones.
    pub fn acts_on_any_conversation(&self) -> bool {
        self.role.includes(Role::Supervisor)
    }

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

/// What an operator chose to be. Whether it counts also depends on their console checking in:
/// see [`PRESENCE_GRACE_MS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Available,
    Away,
    Offline,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Available => "available",
            Presence::Away => "away",
            Presence::Offline => "offline",
        }
    }
    fn from_db(text: &str) -> Result<Presence, DbError> {
        match text {
            "available" => Ok(Presence::Available),
            "away" => Ok(Presence::Away),
            "offline" => Ok(Presence::Offline),
            other => Err(DbError::Decode(format!("unknown presence {other}"))),
        }
    }
}

/// The console sends a heartbeat every 30 s. An operator whose last one is older than this is
/// not online: a laptop lid closed for a minute changes nothing (their conversations stay theirs),
/// but someone gone for good stops counting as available for new conversations after two minutes.
pub const PRESENCE_GRACE_MS: i64 = 120_000;
/// Heartbeats closer together than this do not write (they would only cost write locks).
pub const HEARTBEAT_MIN_INTERVAL_MS: i64 = 10_000;

/// A skill with a level, 1 (basic) to 5 (expert), for skills-based routing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skill {
    pub skill: String,
    pub level: i64,
}

/// An operator as the console and admins see them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperatorProfile {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    /// Invited and not yet chosen a password.
    pub invited: bool,
    pub capacity: i64,
    /// Conversations counting against capacity now (open or pending, assigned to them).
    pub load: i64,
    pub presence: Presence,
    /// A heartbeat within [`PRESENCE_GRACE_MS`].
    pub online: bool,
    /// Presence `available` and online: may receive new conversations.
    pub available: bool,
    pub last_seen_at: Option<i64>,
    pub skills: Vec<Skill>,
    pub languages: Vec<String>,
    pub team_ids: Vec<i64>,
}

impl OperatorProfile {
    fn from_row(row: &Row<'_>, now: i64) -> Result<OperatorProfile, DbError> {
        let json = |column: &str| -> Result<serde_json::Value, DbError> {
            serde_json::from_str(row.str(column)?)
                .map_err(|e| DbError::Decode(format!("{column}: {e}")))
        };
        let decode = |e: serde_json::Error| DbError::Decode(format!("profile: {e}"));
        let presence = Presence::from_db(row.str("presence")?)?;
        let last_seen_at = row.opt_i64("last_seen_at")?;
        let online = last_seen_at.is_some_and(|at| now - at <= PRESENCE_GRACE_MS);
        let active = row.i64("active")? == 1;
        Ok(OperatorProfile {
            id: row.i64("id")?,
            email: row.str("email")?.to_owned(),
            name: row.str("name")?.to_owned(),
            role: Role::from_db(row.str("role")?)?,
            active,
            invited: row.i64("invited")? == 1,
            capacity: row.i64("capacity")?,
            load: row.i64("load")?,
            presence,
            online,
            available: active && online && presence == Presence::Available,
            last_seen_at,
            skills: serde_json::from_value(json("skills_json")?).map_err(decode)?,
            languages: serde_json::from_value(json("languages_json")?).map_err(decode)?,
            team_ids: serde_json::from_value(json("teams_json")?).map_err(decode)?,
        })
    }
}

const PROFILE: &str = "SELECT o.id, o.email, o.name, o.role, o.active, o.capacity, o.presence,
            o.last_seen_at, o.password_hash = '' AS invited,
            (SELECT COUNT(*) FROM conversations l
              WHERE l.assignee_id = o.id AND l.status IN ('open', 'pending')) AS load,
            (SELECT json_group_array(json_object('skill', s.skill, 'level', s.level))
               FROM operator_skills s WHERE s.operator_id = o.id) AS skills_json,
            (SELECT json_group_array(g.language) FROM operator_languages g
              WHERE g.operator_id = o.id) AS languages_json,
            (SELECT json_group_array(m.team_id) FROM team_members m
              WHERE m.operator_id = o.id) AS teams_json
       FROM operators o";

pub fn profile(db: &dyn Database, id: i64, now: i64) -> Result<Option<OperatorProfile>, DbError> {
    let rows = db.execute(&format!("{PROFILE} WHERE o.id = ?1"), &[id.into()])?;
    rows.first()
        .map(|row| OperatorProfile::from_row(&row, now))
        .transpose()
}

/// Every operator (with `include_inactive`) or the active ones, by name.
pub fn profiles(
    db: &dyn Database,
    include_inactive: bool,
    now: i64,
) -> Result<Vec<OperatorProfile>, DbError> {
    let filter = if include_inactive {
        ""
    } else {
        "WHERE o.active = 1"
    };
    let rows = db.execute(
        &format!("{PROFILE} {filter} ORDER BY o.name COLLATE NOCASE, o.id"),
        &[],
    )?;
    rows.iter()
        .map(|row| OperatorProfile::from_row(&row, now))
        .collect()
}

const SET_PRESENCE: &str = "UPDATE operators
        SET presence_changed_at = CASE WHEN presence != ?2 THEN ?3 ELSE presence_changed_at END,
            presence = ?2, last_seen_at = ?3
      WHERE id = ?1 AND active = 1";
const HEARTBEAT: &str = "UPDATE operators SET last_seen_at = ?2
      WHERE id = ?1 AND (last_seen_at IS NULL OR last_seen_at <= ?2 - ?3)";

pub fn set_presence(
    db: &dyn Database,
    id: i64,
    presence: Presence,
    now: i64,
) -> Result<(), DbError> {
    db.execute(
        SET_PRESENCE,
        &[id.into(), presence.as_str().into(), now.into()],
    )?;
    Ok(())
}

/// Records that the operator's console is open. Writes at most every
/// [`HEARTBEAT_MIN_INTERVAL_MS`]; a read first keeps the common case free of write locks.
pub fn heartbeat(db: &dyn Database, id: i64, now: i64) -> Result<(), DbError> {
    let rows = db.execute(
        "SELECT last_seen_at FROM operators WHERE id = ?1",
        &[id.into()],
    )?;
    let recent = rows
        .first()
        .map(|row| row.opt_i64("last_seen_at"))
        .transpose()?
        .flatten()
        .is_some_and(|at| now - at < HEARTBEAT_MIN_INTERVAL_MS);
    if !recent {
        db.execute(
            HEARTBEAT,
            &[id.into(), now.into(), HEARTBEAT_MIN_INTERVAL_MS.into()],
        )?;
    }
    Ok(())
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

/// Ends every session of an operator (deactivation, a new password).
pub fn delete_sessions_of(db: &dyn Database, operator_id: i64) -> Result<(), DbError> {
    db.execute(DELETE_ALL_SESSIONS, &[operator_id.into()])?;
    Ok(())
}

pub fn delete_session(db: &dyn Database, hash: &TokenHash) -> Result<(), DbError> {
    db.execute(DELETE_SESSION, &[SqlValue::Blob(hash.0.to_vec())])?;
    Ok(())
}

/// An operator added by an admin: no password until they accept their invitation.
const INSERT_INVITED: &str =
    "INSERT INTO operators (email, name, role, capacity, password_hash, created_at)
     VALUES (?1, ?2, ?3, ?4, '', ?5) ON CONFLICT (email) DO NOTHING RETURNING id";
const DELETE_INVITES: &str =
    "DELETE FROM operator_invites WHERE operator_id = ?1 OR expires_at <= ?2";
const INSERT_INVITE: &str =
    "INSERT INTO operator_invites (token_hash, operator_id, created_at, expires_at)
     VALUES (?1, ?2, ?3, ?4)";
/// Using an invitation is one statement: it sets the password only while the link is live, and
/// the link dies with it (below), so a link works once.
const ACCEPT_INVITE: &str = "UPDATE operators SET password_hash = ?2, name = COALESCE(?3, name)
      WHERE active = 1 AND id = (SELECT operator_id FROM operator_invites
                                  WHERE token_hash = ?1 AND expires_at > ?4)
  RETURNING id, email, name, role";
const DELETE_OPERATOR_INVITES: &str = "DELETE FROM operator_invites WHERE operator_id = ?1";

/// Changes an operator's settings; an absent (NULL) field keeps its value. The last active admin
/// can be neither demoted nor deactivated: the guard counts admins in the same statement.
const UPDATE_SETTINGS: &str = "UPDATE operators
        SET name = COALESCE(?2, name), role = COALESCE(?3, role),
            capacity = COALESCE(?4, capacity), active = COALESCE(?5, active)
      WHERE id = ?1
        AND ((COALESCE(?3, role) = 'admin' AND COALESCE(?5, active) = 1)
             OR role != 'admin' OR active = 0
             OR (SELECT COUNT(*) FROM operators WHERE role = 'admin' AND active = 1) > 1)
  RETURNING id";
const DELETE_SKILLS: &str = "DELETE FROM operator_skills WHERE operator_id = ?1";
const INSERT_SKILL: &str =
    "INSERT INTO operator_skills (operator_id, skill, level) VALUES (?1, ?2, ?3)";
const DELETE_LANGUAGES: &str = "DELETE FROM operator_languages WHERE operator_id = ?1";
const INSERT_LANGUAGE: &str =
    "INSERT INTO operator_languages (operator_id, language) VALUES (?1, ?2)";
const DELETE_MEMBERSHIPS: &str = "DELETE FROM team_members WHERE operator_id = ?1";
const INSERT_MEMBERSHIP: &str = "INSERT INTO team_members (team_id, operator_id)
     SELECT id, ?2 FROM teams WHERE id = ?1 ON CONFLICT DO NOTHING";
const DELETE_ALL_SESSIONS: &str = "DELETE FROM operator_sessions WHERE operator_id = ?1";
/// A deactivated operator's open work goes back to the queue, each with its timeline entry.
const RECORD_RELEASES: &str =
    "INSERT INTO events (conversation_id, kind, visibility, data, created_at)
     SELECT c.id, 'conversation.assigned', 'internal',
            json_object('from', json_object('id', o.id, 'name', o.name), 'to', NULL,
                        'by', json_object('id', ?2, 'name', ?3),
                        'reason', 'operator deactivated'), ?4
       FROM conversations c JOIN operators o ON o.id = c.assignee_id
      WHERE c.assignee_id = ?1 AND c.status IN ('open', 'pending', 'snoozed')";
const RELEASE_CONVERSATIONS: &str = "UPDATE conversations
        SET assignee_id = NULL, assigned_at = NULL, version = version + 1,
            waiting_since = CASE WHEN status = 'open' THEN ?2 END
      WHERE assignee_id = ?1 AND status IN ('open', 'pending', 'snoozed') RETURNING id";

/// A new operator as an admin adds them.
pub struct Invitation {
    pub email: EmailAddress,
    pub name: PersonName,
    pub role: Role,
    pub capacity: i64,
}

/// Adds an invited operator; `None` if the email is taken.
pub fn insert_invited(
    db: &dyn Database,
    invitation: &Invitation,
    now: i64,
) -> Result<Option<i64>, DbError> {
    let rows = db.execute(
        INSERT_INVITED,
        &[
            invitation.email.as_str().into(),
            invitation.name.as_str().into(),
            invitation.role.as_str().into(),
            invitation.capacity.into(),
            now.into(),
        ],
    )?;
    rows.first().map(|row| row.i64("id")).transpose()
}

/// Replaces the operator's invitation link (older links die) and sweeps expired ones.
pub fn replace_invite(
    db: &dyn Database,
    operator_id: i64,
    hash: &TokenHash,
    now: i64,
    expires_at: i64,
) -> Result<(), DbError> {
    db.execute(DELETE_INVITES, &[operator_id.into(), now.into()])?;
    db.execute(
        INSERT_INVITE,
        &[
            SqlValue::Blob(hash.0.to_vec()),
            operator_id.into(),
            now.into(),
            expires_at.into(),
        ],
    )?;
    Ok(())
}

/// Sets the password of the operator a live invitation belongs to and ends the invitation.
/// Call inside a transaction. `None` if the link is unknown, used or expired.
pub fn accept_invite(
    db: &dyn Database,
    hash: &TokenHash,
    password_hash: &str,
    name: Option<&PersonName>,
    now: i64,
) -> Result<Option<Operator>, DbError> {
    let rows = db.execute(
        ACCEPT_INVITE,
        &[
            SqlValue::Blob(hash.0.to_vec()),
            password_hash.into(),
            name.map(PersonName::as_str).into(),
            now.into(),
        ],
    )?;
    let Some(operator) = rows
        .first()
        .map(|row| Operator::from_row(&row))
        .transpose()?
    else {
        return Ok(None);
    };
    db.execute(DELETE_OPERATOR_INVITES, &[operator.id.into()])?;
    Ok(Some(operator))
}

/// What an admin may change about an operator; `None` keeps a field.
#[derive(Debug, Default)]
pub struct OperatorChanges {
    pub name: Option<PersonName>,
    pub role: Option<Role>,
    pub capacity: Option<i64>,
    pub active: Option<bool>,
    pub skills: Option<Vec<Skill>>,
    pub languages: Option<Vec<String>>,
    pub team_ids: Option<Vec<i64>>,
}

/// Applies `changes`. Call inside a transaction. `None` when the guard refused: the operator
/// does not exist, or the change would leave no active admin. Otherwise the conversations a
/// deactivation returned to the queue (to announce once committed).
pub fn update(
    db: &dyn Database,
    id: i64,
    changes: &OperatorChanges,
    by: &Operator,
    now: i64,
) -> Result<Option<Vec<i64>>, DbError> {
    let updated = db.execute(
        UPDATE_SETTINGS,
        &[
            id.into(),
            changes.name.as_ref().map(PersonName::as_str).into(),
            changes.role.map(Role::as_str).into(),
            changes.capacity.into(),
            changes.active.map(i64::from).into(),
        ],
    )?;
    if updated.is_empty() {
        return Ok(None);
    }
    if let Some(skills) = &changes.skills {
        db.execute(DELETE_SKILLS, &[id.into()])?;
        for skill in skills {
            db.execute(
                INSERT_SKILL,
                &[id.into(), skill.skill.as_str().into(), skill.level.into()],
            )?;
        }
    }
    if let Some(languages) = &changes.languages {
        db.execute(DELETE_LANGUAGES, &[id.into()])?;
        for language in languages {
            db.execute(INSERT_LANGUAGE, &[id.into(), language.as_str().into()])?;
        }
    }
    if let Some(team_ids) = &changes.team_ids {
        db.execute(DELETE_MEMBERSHIPS, &[id.into()])?;
        for team_id in team_ids {
            db.execute(INSERT_MEMBERSHIP, &[(*team_id).into(), id.into()])?;
        }
    }
    let mut released = Vec::new();
    if changes.active == Some(false) {
        delete_sessions_of(db, id)?;
        db.execute(
            RECORD_RELEASES,
            &[id.into(), by.id.into(), by.name.as_str().into(), now.into()],
        )?;
        for row in db
            .execute(RELEASE_CONVERSATIONS, &[id.into(), now.into()])?
            .iter()
        {
            released.push(row.i64("id")?);
        }
    }
    Ok(Some(released))
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
    fn presence_counts_only_within_the_heartbeat_grace_period() {
        use crate::testing::TestHost;
        let host = TestHost::new();
        let ctx = host.ctx();
        let new = NewOperator {
            email: EmailAddress::parse("email", "ann@example.com").unwrap(),
            name: PersonName::parse("name", "Ann").unwrap(),
            role: Role::Operator,
            password: Password::parse("a long password").unwrap(),
        };
        let ann = insert_first(ctx.db, &new, "x", 0).unwrap().unwrap();
        let now = || ctx.clock.now_ms();
        let seen = || profile(ctx.db, ann.id, now()).unwrap().unwrap();
        assert!(!seen().online, "never checked in");
        set_presence(ctx.db, ann.id, Presence::Available, now()).unwrap();
        assert!(seen().available);
        // A closed lid for a minute: still available, chats stay.
        host.clock.advance(60_000);
        assert!(seen().available);
        heartbeat(ctx.db, ann.id, now()).unwrap();
        host.clock.advance(PRESENCE_GRACE_MS);
        assert!(seen().available, "exactly at the grace limit");
        host.clock.advance(1);
        let gone = seen();
        assert!(!gone.online && !gone.available);
        assert_eq!(
            gone.presence,
            Presence::Available,
            "what they chose is kept"
        );
        heartbeat(ctx.db, ann.id, now()).unwrap();
        assert!(seen().available, "back as soon as the console checks in");
        set_presence(ctx.db, ann.id, Presence::Away, now()).unwrap();
        assert!(seen().online && !seen().available);
    }

    #[test]
    fn roles_are_nested() {
        assert!(Role::Admin.includes(Role::Supervisor));
        assert!(Role::Supervisor.includes(Role::Operator));
        assert!(!Role::Operator.includes(Role::Supervisor));
        assert!(!Role::Supervisor.includes(Role::Admin));
    }

    #[test]
    fn password_length_rules() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(257)).is_err());
        assert!(Password::parse("ten chars!").is_ok());
    }
}
