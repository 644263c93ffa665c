//! Business settings admins edit in the console, stored as key -> text in SQLite.

use serde::{Deserialize, Serialize};

use crate::chat::ChatError;
use crate::input::bounded_text;
use crate::store::{Database, DbError};

/// What the visitor reads when their conversation is transferred. `{operator}` and `{team}`
/// are replaced by the receiver's name; empty means no notice. The reason is never shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    pub transfer_notice_operator: String,
    pub transfer_notice_team: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            transfer_notice_operator: "You're now chatting with {operator}.".into(),
            transfer_notice_team: "We've passed your conversation to our {team} team; someone will be with you shortly.".into(),
        }
    }
}

/// `PATCH /api/admin/settings` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    pub transfer_notice_operator: Option<String>,
    pub transfer_notice_team: Option<String>,
}

const NOTICE_MAX_CHARS: usize = 300;

const GET: &str = "SELECT key, value FROM settings";
const SET: &str = "INSERT INTO settings (key, value) VALUES (?1, ?2)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

pub fn load(db: &dyn Database) -> Result<Settings, DbError> {
    let mut settings = Settings::default();
    for row in db.execute(GET, &[])?.iter() {
        let value = row.str("value")?.to_owned();
        match row.str("key")? {
            "transfer_notice_operator" => settings.transfer_notice_operator = value,
            "transfer_notice_team" => settings.transfer_notice_team = value,
            _ => {}
        }
    }
    Ok(settings)
}

/// Validates and stores the fields present in `patch`.
pub fn save(db: &dyn Database, patch: &SettingsPatch) -> Result<(), ChatError> {
    let notices = [
        ("transfer_notice_operator", &patch.transfer_notice_operator),
        ("transfer_notice_team", &patch.transfer_notice_team),
    ];
    let mut parsed = Vec::new();
    for (key, value) in notices {
        if let Some(value) = value {
            parsed.push((key, bounded_text(key, value, 0, NOTICE_MAX_CHARS)?));
        }
    }
    for (key, text) in parsed {
        db.execute(SET, &[key.into(), text.into()])?;
    }
    Ok(())
}
