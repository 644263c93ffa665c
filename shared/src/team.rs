//! Teams: groups of operators (Billing, Tech support...) that conversations can be transferred
//! to and, with routing, queued for.

use serde::{Deserialize, Serialize};

use crate::input::{InvalidInput, bounded_text};
use crate::router::{RoutingPatch, RoutingSettings};
use crate::store::{Database, DbError, Row};

/// 1 to 60 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamName(String);

impl TeamName {
    pub fn parse(text: &str) -> Result<TeamName, InvalidInput> {
        bounded_text("name", text, 1, 60).map(TeamName)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Team {
    pub id: i64,
    pub name: String,
    pub member_ids: Vec<i64>,
    pub routing: RoutingSettings,
}

/// `POST /teams` and `PATCH /teams/:id` bodies.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamRequest {
    pub name: Option<String>,
    pub member_ids: Option<Vec<i64>>,
    /// Changes to the team's routing (see `router::RoutingSettings`).
    pub routing: Option<RoutingPatch>,
}

fn from_row(row: &Row<'_>) -> Result<Team, DbError> {
    Ok(Team {
        id: row.i64("id")?,
        name: row.str("name")?.to_owned(),
        member_ids: serde_json::from_str(row.str("members_json")?)
            .map_err(|e| DbError::Decode(format!("members: {e}")))?,
        routing: crate::router::settings_from_row(row)?,
    })
}

const SELECT: &str = "SELECT t.id, t.name, t.strategy, t.backup_team_id, t.overflow_after_s,
            t.stickiness_window_h, t.skill_wait_s, t.answer_timeout_s,
            (SELECT json_group_array(m.operator_id) FROM team_members m
              WHERE m.team_id = t.id) AS members_json
       FROM teams t";
const INSERT: &str = "INSERT INTO teams (name, created_at) VALUES (?1, ?2)
     ON CONFLICT (name) DO NOTHING RETURNING id";
const NAME_TAKEN: &str =
    "SELECT EXISTS (SELECT 1 FROM teams WHERE name = ?1 AND id != ?2) AS taken";
const RENAME: &str = "UPDATE teams SET name = ?2 WHERE id = ?1 RETURNING id";
const EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM teams WHERE id = ?1) AS found";
const CLEAR_MEMBERS: &str = "DELETE FROM team_members WHERE team_id = ?1";
const ADD_MEMBER: &str = "INSERT INTO team_members (team_id, operator_id)
     SELECT ?1, id FROM operators WHERE id = ?2 ON CONFLICT DO NOTHING";
const UNSET_CONVERSATIONS: &str =
    "UPDATE conversations SET team_id = NULL, version = version + 1 WHERE team_id = ?1";
const DELETE: &str = "DELETE FROM teams WHERE id = ?1 RETURNING id";

pub fn list(db: &dyn Database) -> Result<Vec<Team>, DbError> {
    db.execute(&format!("{SELECT} ORDER BY t.name"), &[])?
        .iter()
        .map(|r| from_row(&r))
        .collect()
}

pub fn by_id(db: &dyn Database, id: i64) -> Result<Option<Team>, DbError> {
    db.execute(&format!("{SELECT} WHERE t.id = ?1"), &[id.into()])?
        .first()
        .map(|r| from_row(&r))
        .transpose()
}

pub fn exists(db: &dyn Database, id: i64) -> Result<bool, DbError> {
    Ok(db
        .execute(EXISTS, &[id.into()])?
        .first()
        .map_or(Ok(0), |r| r.i64("found"))?
        == 1)
}

/// `None` when the name is taken.
pub fn insert(db: &dyn Database, name: &TeamName, now: i64) -> Result<Option<i64>, DbError> {
    db.execute(INSERT, &[name.0.as_str().into(), now.into()])?
        .first()
        .map(|r| r.i64("id"))
        .transpose()
}

pub fn name_taken(db: &dyn Database, name: &TeamName, id: i64) -> Result<bool, DbError> {
    Ok(db
        .execute(NAME_TAKEN, &[name.0.as_str().into(), id.into()])?
        .first()
        .map_or(Ok(0), |r| r.i64("taken"))?
        == 1)
}

pub fn rename(db: &dyn Database, id: i64, name: &TeamName) -> Result<bool, DbError> {
    Ok(!db
        .execute(RENAME, &[id.into(), name.0.as_str().into()])?
        .is_empty())
}

/// Replaces the members (unknown operator ids are ignored). Call inside a transaction.
pub fn set_members(db: &dyn Database, id: i64, member_ids: &[i64]) -> Result<(), DbError> {
    db.execute(CLEAR_MEMBERS, &[id.into()])?;
    for member in member_ids {
        db.execute(ADD_MEMBER, &[id.into(), (*member).into()])?;
    }
    Ok(())
}

/// Deletes a team; its conversations keep their history and lose the team. Call inside a
/// transaction.
pub fn delete(db: &dyn Database, id: i64) -> Result<bool, DbError> {
    db.execute(CLEAR_MEMBERS, &[id.into()])?;
    crate::router::unset_backup(db, id)?;
    crate::topic::unset_team(db, id)?;
    db.execute(UNSET_CONVERSATIONS, &[id.into()])?;
    Ok(!db.execute(DELETE, &[id.into()])?.is_empty())
}
