//! `GET /health`: whether this node can reach its stores, for load balancers and supervisors.
//!
//! Read-only on the database (no migrations, no rows written): one `PRAGMA user_version`, which
//! also tells a deploy whether the schema matches this build. The key-value check writes and
//! reads back one probe key (its only write). Answers carry no secrets and no error details
//! (those go to the log).

use serde::Serialize;

use crate::host::{Clock, KeyValue};
use crate::store::Database;

/// The one key the health check writes.
pub const PROBE_KEY: &str = "health:probe";

#[derive(Debug, Serialize, PartialEq)]
pub struct Health {
    /// `ok` when every check passed, else `unavailable`.
    pub status: &'static str,
    pub checks: Checks,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Checks {
    pub sqlite: SqliteCheck,
    pub key_value: KvCheck,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct SqliteCheck {
    pub ok: bool,
    pub ms: i64,
    /// The schema version in the database (`PRAGMA user_version`), and the one this build
    /// migrates to: lower means no API request has run the migrations yet; higher means an
    /// older build is serving a newer database.
    pub schema_version: Option<i64>,
    pub expected_schema_version: i64,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct KvCheck {
    pub ok: bool,
    pub ms: i64,
}

impl Health {
    pub fn ok(&self) -> bool {
        self.checks.sqlite.ok && self.checks.key_value.ok
    }
}

/// Runs both checks. `db`/`kv` are `None` when the store could not be opened. The causes of
/// failed checks come back separately, for the log only.
pub fn check(
    db: Option<&dyn Database>,
    kv: Option<&dyn KeyValue>,
    clock: &dyn Clock,
) -> (Health, Vec<String>) {
    let mut causes = Vec::new();
    let (sqlite, cause) = sqlite(db, clock);
    causes.extend(cause.map(|c| format!("sqlite: {c}")));
    let (key_value, cause) = key_value(kv, clock);
    causes.extend(cause.map(|c| format!("key-value: {c}")));
    let ok = sqlite.ok && key_value.ok;
    let health = Health {
        status: if ok { "ok" } else { "unavailable" },
        checks: Checks { sqlite, key_value },
    };
    (health, causes)
}

fn sqlite(db: Option<&dyn Database>, clock: &dyn Clock) -> (SqliteCheck, Option<String>) {
    let started = clock.now_ms();
    let version = match db {
        Some(db) => db
            .execute("PRAGMA user_version", &[])
            .map_err(|e| e.to_string())
            .and_then(|rows| match rows.rows.first().and_then(|row| row.first()) {
                Some(crate::store::SqlValue::Integer(n)) => Ok(*n),
                _ => Err("no user_version".to_owned()),
            }),
        None => Err("the database could not be opened".to_owned()),
    };
    let check = SqliteCheck {
        ok: version.is_ok(),
        ms: clock.now_ms() - started,
        schema_version: version.as_ref().ok().copied(),
        expected_schema_version: crate::migrations::LATEST_VERSION,
    };
    (check, version.err())
}

/// Writes the time to [`PROBE_KEY`] and reads it back.
fn key_value(kv: Option<&dyn KeyValue>, clock: &dyn Clock) -> (KvCheck, Option<String>) {
    let started = clock.now_ms();
    let probe = started.to_string();
    let result = match kv {
        Some(kv) => kv
            .set(PROBE_KEY, probe.as_bytes())
            .and_then(|()| kv.get(PROBE_KEY))
            .map_err(|e| e.to_string())
            .and_then(|read| {
                (read.as_deref() == Some(probe.as_bytes()))
                    .then_some(())
                    .ok_or_else(|| "the probe did not read back".to_owned())
            }),
        None => Err("the key-value store could not be opened".to_owned()),
    };
    let check = KvCheck {
        ok: result.is_ok(),
        ms: clock.now_ms() - started,
    };
    (check, result.err())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::KvError;
    use crate::testing::{MemoryKv, TestClock, TestDb};

    struct BrokenKv;
    impl KeyValue for BrokenKv {
        fn get(&self, _: &str) -> Result<Option<Vec<u8>>, KvError> {
            Err(KvError("down".into()))
        }
        fn set(&self, _: &str, _: &[u8]) -> Result<(), KvError> {
            Err(KvError("down".into()))
        }
    }

    #[test]
    fn healthy_stores_report_ok_and_the_schema_version() {
        let db = TestDb::new();
        let kv = MemoryKv::default();
        let (health, causes) = check(Some(&db), Some(&kv), &TestClock::default());
        assert!(health.ok(), "{causes:?}");
        assert_eq!(health.status, "ok");
        assert_eq!(
            health.checks.sqlite.schema_version,
            Some(crate::migrations::LATEST_VERSION)
        );
        assert!(causes.is_empty());
    }

    #[test]
    fn a_failing_store_is_named_and_its_cause_kept_for_the_log() {
        let db = TestDb::open_in_memory_unmigrated();
        let (health, causes) = check(Some(&db), Some(&BrokenKv), &TestClock::default());
        assert_eq!(health.status, "unavailable");
        assert!(
            health.checks.sqlite.ok,
            "an unmigrated database is reachable"
        );
        assert_eq!(health.checks.sqlite.schema_version, Some(0));
        assert!(!health.checks.key_value.ok);
        assert_eq!(causes.len(), 1);
        assert!(causes[0].starts_with("key-value"), "{causes:?}");
        let (health, causes) = check(None, Some(&MemoryKv::default()), &TestClock::default());
        assert!(!health.checks.sqlite.ok);
        assert_eq!(health.checks.sqlite.schema_version, None);
        assert!(causes[0].starts_with("sqlite"), "{causes:?}");
    }

    #[test]
    fn nothing_secret_or_internal_is_serialized() {
        let (health, _) = check(None, Some(&BrokenKv), &TestClock::default());
        let json = serde_json::to_string(&health).unwrap_or_default();
        assert!(!json.contains("down") && !json.contains("opened"), "{json}");
    }
}
