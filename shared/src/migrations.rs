//! The schema, as append-only numbered migrations, and the one function that applies them.
//!
//! Never edit a migration that has shipped; add the next number. `PRAGMA user_version` records
//! how many have been applied.

use crate::store::{Database, DbError, SqlValue};

/// Migration scripts in order; migration `n` (1-based) is `MIGRATIONS[n - 1]`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_operator_inbox.sql"),
    include_str!("migrations/0003_routing.sql"),
    include_str!("migrations/0004_channels.sql"),
    include_str!("migrations/0005_delivery.sql"),
    include_str!("migrations/0006_knowledge_base.sql"),
    include_str!("migrations/0007_business_hours.sql"),
    include_str!("migrations/0008_assistant.sql"),
    include_str!("migrations/0009_reports.sql"),
    include_str!("migrations/0010_webhooks.sql"),
    include_str!("migrations/0011_widget_identity.sql"),
    include_str!("migrations/0012_audit_and_counters.sql"),
    include_str!("migrations/0013_retention_index.sql"),
    include_str!("migrations/0014_reopen_within_capacity.sql"),
];

/// The schema version this build expects.
pub const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

fn user_version(db: &dyn Database) -> Result<i64, DbError> {
    let rows = db.execute("PRAGMA user_version", &[])?;
    match rows.rows.first().and_then(|row| row.first()) {
        Some(SqlValue::Integer(v)) => Ok(*v),
        other => Err(DbError::Decode(format!(
            "PRAGMA user_version returned {other:?}"
        ))),
    }
}

/// Brings the schema up to [`LATEST_VERSION`]. Cheap when it already is (one PRAGMA read), so
/// components call it on every connection.
///
/// Safe to run concurrently: the version is checked again after `BEGIN IMMEDIATE` has taken the
/// write lock, so when two first requests race, one applies the migrations and the other, once
/// the lock frees, sees they are done. DDL and the version bump commit atomically.
pub fn migrate(db: &dyn Database) -> Result<(), DbError> {
    if user_version(db)? >= LATEST_VERSION {
        return Ok(());
    }
    // WAL persists in the file; it is set here, outside the transaction (the journal mode
    // cannot change inside one), before the first table exists. A libSQL server refuses it (it
    // keeps its own WAL), which `apply_setting` tolerates.
    crate::store::apply_setting(db, crate::store::JOURNAL_MODE);
    // Rebuilding a table (the only way SQLite changes a constraint) drops the old one, which
    // with foreign keys enforced would delete-check every row referring to it. SQLite's
    // procedure: enforcement off for the migration (it cannot change inside a transaction),
    // `foreign_key_check` before committing, enforcement back as it was.
    let enforced = db
        .execute("PRAGMA foreign_keys", &[])?
        .first()
        .map_or(Ok(0), |row| row.i64("foreign_keys"))?
        == 1;
    if enforced {
        db.execute("PRAGMA foreign_keys = OFF", &[])?;
    }
    let migrated = crate::store::transaction(db, || {
        let current = user_version(db)?;
        for (index, script) in MIGRATIONS.iter().enumerate() {
            let version = index as i64 + 1;
            if version <= current {
                continue;
            }
            for statement in split_statements(script) {
                db.execute(&statement, &[])?;
            }
        }
        let violations = db.execute("PRAGMA foreign_key_check", &[])?;
        if !violations.is_empty() {
            return Err(DbError::Decode(format!(
                "migration would leave {} rows with dangling references",
                violations.rows.len()
            )));
        }
        // PRAGMA takes no bound parameters; the value is our own constant.
        db.execute(&format!("PRAGMA user_version = {LATEST_VERSION}"), &[])?;
        Ok(())
    });
    if enforced {
        db.execute("PRAGMA foreign_keys = ON", &[])?;
    }
    migrated
}

/// Splits a script into single statements, because a host's `execute` runs only one.
///
/// Understands `'...'`, `"..."`, `--` and `/* */` comments, and `BEGIN ... END` bodies of
/// triggers, which contain semicolons of their own.
pub fn split_statements(script: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut chars = script.chars().peekable();
    let mut block_depth = 0usize;
    let mut word = String::new();

    let flush_word = |word: &mut String, depth: &mut usize| {
        match word.to_ascii_uppercase().as_str() {
            "BEGIN" | "CASE" => *depth += 1,
            "END" => *depth = depth.saturating_sub(1),
            _ => {}
        }
        word.clear();
    };

    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            current.push(c);
            continue;
        }
        flush_word(&mut word, &mut block_depth);
        match c {
            '\'' | '"' => {
                current.push(c);
                for inner in chars.by_ref() {
                    current.push(inner);
                    if inner == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for inner in chars.by_ref() {
                    if inner == '\n' {
                        current.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut previous = ' ';
                for inner in chars.by_ref() {
                    if previous == '*' && inner == '/' {
                        break;
                    }
                    previous = inner;
                }
                current.push(' ');
            }
            ';' if block_depth == 0 => {
                let statement = current.trim();
                if !statement.is_empty() {
                    statements.push(statement.to_owned());
                }
                current.clear();
            }
            _ => current.push(c),
        }
    }
    flush_word(&mut word, &mut block_depth);
    let statement = current.trim();
    if !statement.is_empty() {
        statements.push(statement.to_owned());
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    #[test]
    fn splits_on_semicolons_outside_strings_comments_and_trigger_bodies() {
        let script = "CREATE TABLE a (x TEXT DEFAULT 'a;b'); -- c;d\n\
            /* e;f */ CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE a SET x = 'y'; DELETE FROM a; END;\n\
            SELECT CASE WHEN 1 THEN 2 END;";
        let statements = split_statements(script);
        assert_eq!(statements.len(), 3, "{statements:#?}");
        assert!(statements[0].contains("'a;b'"));
        assert!(statements[1].starts_with("CREATE TRIGGER") && statements[1].ends_with("END"));
        assert_eq!(statements[2], "SELECT CASE WHEN 1 THEN 2 END");
    }

    #[test]
    fn migrate_is_idempotent_and_sets_the_version() {
        let db = TestDb::new();
        migrate(&db).unwrap();
        migrate(&db).unwrap();
        assert_eq!(user_version(&db).unwrap(), LATEST_VERSION);
        let tables = db
            .execute("SELECT name FROM sqlite_master WHERE type = 'table'", &[])
            .unwrap();
        let names: Vec<_> = tables
            .iter()
            .map(|r| r.str("name").unwrap().to_owned())
            .collect();
        for expected in [
            "operators",
            "contacts",
            "conversations",
            "messages",
            "events",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "missing {expected} in {names:?}"
            );
        }
    }

    #[test]
    fn a_version_1_database_upgrades_keeping_every_row() {
        let db = TestDb::open_in_memory_unmigrated();
        for statement in split_statements(MIGRATIONS[0]) {
            db.execute(&statement, &[]).unwrap();
        }
        db.execute("PRAGMA user_version = 1", &[]).unwrap();
        db.execute(
            "INSERT INTO contacts (id, name, created_at) VALUES (1, 'Ada', 1)",
            &[],
        )
        .unwrap();
        db.execute(
            "INSERT INTO conversations (id, contact_id, created_at, updated_at) VALUES (7, 1, 1, 1)",
            &[],
        )
        .unwrap();
        db.execute(
            "INSERT INTO messages (conversation_id, author, body, created_at) VALUES (7, 'visitor', 'old parcel question', 2)",
            &[],
        )
        .unwrap();
        migrate(&db).unwrap();
        assert_eq!(user_version(&db).unwrap(), LATEST_VERSION);
        let summary = crate::conversation::summary(&db, 7).unwrap().unwrap();
        assert_eq!(summary.contact.name.as_deref(), Some("Ada"));
        assert_eq!(summary.last_message.unwrap().body, "old parcel question");
        assert_eq!(summary.version, 1);
        assert_eq!(
            summary.waiting_since,
            Some(2),
            "an unanswered conversation waits since the customer's first message"
        );
        // Old messages are searchable, and the rebuilt triggers still publish.
        let filter = crate::conversation::ListFilter {
            status: crate::conversation::StatusFilter::All,
            search: Some(crate::conversation::SearchTerms::parse("parcel").unwrap()),
            ..Default::default()
        };
        assert_eq!(
            crate::conversation::list(&db, &filter, 10).unwrap().len(),
            1
        );
        db.execute(
            "INSERT INTO messages (conversation_id, author, body, created_at) VALUES (7, 'visitor', 'again', 3)",
            &[],
        )
        .unwrap();
        // One event from 0001's trigger, one from 0002's.
        let events = db
            .execute(
                "SELECT COUNT(*) AS n FROM events WHERE kind = 'message.created'",
                &[],
            )
            .unwrap();
        assert_eq!(events.first().unwrap().i64("n").unwrap(), 2);
        let enforced = db.execute("PRAGMA foreign_keys", &[]).unwrap();
        assert_eq!(
            enforced.first().unwrap().i64("foreign_keys").unwrap(),
            1,
            "enforcement is back on after migrating"
        );
    }

    #[test]
    fn migrating_a_file_switches_it_to_wal_for_good() {
        let dir = std::env::temp_dir().join(format!("livechat-wal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("wal.db");
        let _ = std::fs::remove_file(&path);
        migrate(&TestDb::open(&path)).unwrap();
        let mode = TestDb::open(&path)
            .execute("PRAGMA journal_mode", &[])
            .unwrap();
        assert_eq!(mode.rows[0][0], SqlValue::Text("wal".into()));
    }

    #[test]
    fn concurrent_first_migrations_both_succeed() {
        let dir = std::env::temp_dir().join(format!("livechat-migrate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("race.db");
        let _ = std::fs::remove_file(&path);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    // Composed as the app composes its connections: short busy attempts,
                    // queued again while the first migration holds the write lock.
                    let db = crate::store::Queued::new(TestDb::open(&path));
                    crate::store::configure_connection(&db, crate::store::Access::Write).unwrap();
                    migrate(&db)
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap().unwrap();
        }
        assert_eq!(user_version(&TestDb::open(&path)).unwrap(), LATEST_VERSION);
    }
    /// A libSQL server (Turso/sqld) refuses PRAGMAs that set the journal mode, `synchronous` or
    /// the busy timeout ("unsupported statement"); `user_version` and `foreign_keys` it allows.
    struct LibSqlLike(TestDb);

    impl Database for LibSqlLike {
        fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<crate::store::Rows, DbError> {
            let setting = sql.to_ascii_lowercase();
            let refused = ["journal_mode", "synchronous", "busy_timeout"]
                .iter()
                .any(|name| {
                    setting.starts_with(&format!("pragma {name}")) && setting.contains('=')
                });
            if refused {
                return Err(DbError::Host(
                    "SQL_PARSE_ERROR: unsupported statement".into(),
                ));
            }
            self.0.execute(sql, params)
        }
    }

    #[test]
    fn a_libsql_server_that_refuses_connection_pragmas_still_migrates_and_serves() {
        let db = LibSqlLike(TestDb::open_in_memory_unmigrated());
        crate::store::configure_connection(&db, crate::store::Access::Write).unwrap();
        migrate(&db).unwrap();
        assert_eq!(user_version(&db).unwrap(), LATEST_VERSION);
        // The refusal is real: the same statement fails when run directly.
        assert!(db.execute(crate::store::JOURNAL_MODE, &[]).is_err());
    }
}
