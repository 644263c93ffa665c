//! `fermyon:spin/sqlite@2.0.0` over `<data-dir>/sqlite_db.db`, following Spin's
//! `spin-sqlite-inproc` crate:
//!
//! - Every `open` gets a connection of its own (on its first `execute`), so a guest that holds
//!   one connection keeps its transaction across `execute` calls, and two connections are
//!   independent. Unlike Spin, which opens a new one each time, the host reuses connections
//!   other guests have finished with ([`SqlitePool`] says why and what is reset).
//! - The host sets no PRAGMAs: journal mode and synchronous level are the application's
//!   business. The busy timeout is rusqlite's default of 5 s, which Spin (also on rusqlite)
//!   inherits without setting it.
//! - `ATTACH` of anything but a temporary or in-memory database is refused, as in Spin.
//! - Each statement is prepared on its own (more than one statement in a call is an error),
//!   parameters map integer/real/text/blob/null one to one, and every failure is
//!   `error::io(<SQLite's message>)`.
//! - A database not in the component's `sqlite_databases` is `access-denied`; only `default`
//!   exists (the manifest loader rejects other labels).
//!
//! Scheduling (not visible to a guest, but it shapes the host's speed): a statement runs on a
//! blocking thread, because it may wait up to the busy timeout for a lock, except inside a
//! write transaction, where it cannot wait and runs inline (see `ConnectionHandle::execute`).
//!
//! Not modelled: Spin's 128 MiB limit on buffered results and its cap of 256 open
//! connections per instance.
//!
//! For tests of what the app does on its connections (which PRAGMAs, before which writes):
//! with `SPIN_TEST_HOST_SQL_TRACE=<file>` in the host's environment, every statement is
//! appended to that file as `<connection serial>\t<ok|err>\t<start>\t<duration>\t<statement on
//! one line>`: the start in microseconds since the first traced statement, the duration in
//! microseconds (waiting for the connection's lock and running the statement, not the hop to a
//! blocking thread). Enough to see which transactions hold SQLite's write lock and for how
//! long. Off unless set; it costs a locked file write per statement.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::ValueRef;
use wasmtime::component::Resource;

use super::fermyon::spin::sqlite::{self, Error, QueryResult, RowResult, Value};
use crate::instance::InstanceState;

/// Process-wide SQLite settings, applied once before the library opens its first connection.
///
/// Memory-usage statistics are switched off (`SQLITE_CONFIG_MEMSTATUS`, on by default in the
/// bundled library). With them on, every allocation SQLite makes takes one process-wide mutex,
/// and every `open` allocates heavily: a new connection parses the whole schema (tables,
/// indexes, triggers) before its first statement, and frees it all on close. With hundreds of
/// requests a second on many blocking threads that mutex was the host's hottest lock (profiled
/// under `load`: a quarter of all CPU time in futex waits and wakes from `sqlite3Malloc` and
/// `sqlite3_free`). Nothing observable to a guest depends on the statistics; real Spin keeps the
/// library's default.
pub fn configure_library() {
    static CONFIGURED: OnceLock<()> = OnceLock::new();
    CONFIGURED.get_or_init(|| {
        // SAFETY: `sqlite3_config` must run before `sqlite3_initialize`, which rusqlite calls
        // on the first connection; this runs before the host opens any database, and the
        // `OnceLock` makes it run once. If the library was already initialised (a test opened
        // a connection first) the call returns SQLITE_MISUSE and changes nothing.
        unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                0 as std::ffi::c_int,
            );
        }
    });
}

/// The connections of one database file that no guest holds, for later `open`s to take.
///
/// Spin opens a new SQLite connection for every `open`, and a new connection reads and parses
/// the whole schema (this app's: about 27 KB of tables, indexes and triggers) before its first
/// statement and frees it on close: about 1.7 ms of CPU per request on these machines, which
/// under the sustained-load run (hundreds of requests a second) was over a third of all the
/// host's CPU time, with SQL statement parsing on top. Handing a finished request's connection
/// to the next one, as a connection pool does, keeps the parsed schema and the prepared
/// statements. A guest cannot tell: a connection is pooled only in autocommit mode (no
/// transaction left open), and the settings this app changes per connection are put back to a
/// fresh connection's defaults first. On real Spin the per-request cost remains; the README's
/// performance section says so next to the figures measured here.
pub struct SqlitePool {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

/// Idle connections kept per database; more are closed when handed back.
const MAX_IDLE_CONNECTIONS: usize = 64;

/// Puts back what a guest may have changed on its connection: the busy timeout rusqlite opens
/// with, SQLite's default `synchronous` (FULL), and foreign keys on (the bundled library's
/// compile-time default).
const RESET_CONNECTION: &str =
    "PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";

impl SqlitePool {
    pub fn new(path: PathBuf) -> Arc<SqlitePool> {
        Arc::new(SqlitePool {
            path,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// An idle connection, or a new one.
    fn take(&self) -> Result<rusqlite::Connection, Error> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match idle {
            Some(connection) => Ok(connection),
            None => open(&self.path),
        }
    }

    /// Keeps `connection` for a later `open` if it is clean, closes it otherwise.
    fn give_back(&self, connection: rusqlite::Connection) {
        if !connection.is_autocommit() || connection.execute_batch(RESET_CONNECTION).is_err() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE_CONNECTIONS
        {
            idle.push(connection);
        }
    }
}

/// A guest's connection: taken from the pool on its first `execute`, handed back when the guest
/// drops it or the instance ends.
pub struct ConnectionHandle {
    pool: Arc<SqlitePool>,
    connection: Arc<Mutex<Option<rusqlite::Connection>>>,
    /// Numbers connections in the statement trace.
    serial: u64,
}

/// The statement trace file, when `SPIN_TEST_HOST_SQL_TRACE` names one.
fn trace_file() -> Option<&'static Mutex<std::fs::File>> {
    static TRACE: OnceLock<Option<Mutex<std::fs::File>>> = OnceLock::new();
    TRACE
        .get_or_init(|| {
            let path = std::env::var_os("SPIN_TEST_HOST_SQL_TRACE")?;
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
            {
                Ok(file) => Some(Mutex::new(file)),
                Err(error) => {
                    eprintln!("spin-test-host: cannot open the SQL trace {path:?}: {error}");
                    None
                }
            }
        })
        .as_ref()
}

/// The clock trace lines are stamped with (started by the first traced statement).
fn trace_epoch() -> std::time::Instant {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

fn trace(serial: u64, ok: bool, started: std::time::Instant, statement: &str) {
    let Some(file) = trace_file() else {
        return;
    };
    let start_us = started.saturating_duration_since(trace_epoch()).as_micros();
    let duration_us = started.elapsed().as_micros();
    let statement = statement.split_whitespace().collect::<Vec<_>>().join(" ");
    let outcome = if ok { "ok" } else { "err" };
    if let Ok(mut file) = file.lock() {
        // A trace line lost to a full disk fails the test that reads it; nothing else depends on it.
        let _ = writeln!(
            file,
            "{serial}\t{outcome}\t{start_us}\t{duration_us}\t{statement}"
        );
    }
}

impl Drop for ConnectionHandle {
    fn drop(&mut self) {
        // A statement still running (its request timed out) keeps the lock: that connection
        // is closed by its blocking task instead.
        if let Ok(mut guard) = self.connection.try_lock()
            && let Some(connection) = guard.take()
        {
            self.pool.give_back(connection);
        }
    }
}

impl ConnectionHandle {
    fn new(pool: Arc<SqlitePool>) -> Self {
        static SERIAL: AtomicU64 = AtomicU64::new(1);
        Self {
            pool,
            connection: Arc::new(Mutex::new(None)),
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
        }
    }

    async fn execute(
        &self,
        statement: String,
        parameters: Vec<Value>,
    ) -> Result<QueryResult, Error> {
        // Inside a write transaction a statement cannot wait for a lock (the connection holds
        // the write lock, WAL readers never block it, and the checkpoint after a COMMIT is
        // passive), so it runs inline instead of hopping to a blocking thread and back. The
        // hop is what made transactions slow under load: with the CPU busy, each one cost
        // milliseconds of scheduling while the transaction held SQLite's one write lock,
        // and every other writer queued behind it (the 500-visitor `load` run measured 3-5 ms
        // per statement, for well under 1 ms of SQLite work). Everything else, which may wait
        // on the busy timeout, still runs on a blocking thread.
        {
            let mut guard = self
                .connection
                .lock()
                .map_err(|_| Error::Io("connection lock poisoned".into()))?;
            if let Some(connection) = guard.as_mut()
                && matches!(
                    connection.transaction_state(None::<&str>),
                    Ok(rusqlite::TransactionState::Write)
                )
            {
                let started = std::time::Instant::now();
                let result = execute(connection, &statement, parameters);
                trace(self.serial, result.is_ok(), started, &statement);
                return result;
            }
        }
        let connection = self.connection.clone();
        let pool = self.pool.clone();
        let serial = self.serial;
        let result = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let mut guard = connection
                .lock()
                .map_err(|_| Error::Io("connection lock poisoned".into()))?;
            let connection = match &mut *guard {
                Some(connection) => connection,
                empty => empty.insert(pool.take()?),
            };
            let result = execute(connection, &statement, parameters);
            trace(serial, result.is_ok(), started, &statement);
            result
        })
        .await;
        match result {
            Ok(result) => result,
            Err(join) => Err(Error::Io(format!("sqlite task failed: {join}"))),
        }
    }
}

fn open(path: &PathBuf) -> Result<rusqlite::Connection, Error> {
    let connection = rusqlite::Connection::open(path).map_err(io_error)?;
    connection
        .authorizer(Some(|ctx: AuthContext<'_>| match ctx.action {
            AuthAction::Attach { filename } if !matches!(filename, "" | ":memory:") => {
                Authorization::Deny
            }
            _ => Authorization::Allow,
        }))
        .map_err(io_error)?;
    Ok(connection)
}

fn execute(
    connection: &rusqlite::Connection,
    statement: &str,
    parameters: Vec<Value>,
) -> Result<QueryResult, Error> {
    let mut prepared = connection.prepare_cached(statement).map_err(io_error)?;
    let columns: Vec<String> = prepared
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let column_count = columns.len();
    let parameters = parameters.into_iter().map(|value| match value {
        Value::Integer(i) => rusqlite::types::Value::Integer(i),
        Value::Real(r) => rusqlite::types::Value::Real(r),
        Value::Text(t) => rusqlite::types::Value::Text(t),
        Value::Blob(b) => rusqlite::types::Value::Blob(b),
        Value::Null => rusqlite::types::Value::Null,
    });
    let mut rows = prepared
        .query(rusqlite::params_from_iter(parameters))
        .map_err(io_error)?;
    let mut results = Vec::new();
    while let Some(row) = rows.next().map_err(io_error)? {
        let mut values = Vec::with_capacity(column_count);
        for index in 0..column_count {
            values.push(match row.get_ref(index).map_err(io_error)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(i) => Value::Integer(i),
                ValueRef::Real(r) => Value::Real(r),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        results.push(RowResult { values });
    }
    Ok(QueryResult {
        columns,
        rows: results,
    })
}

fn io_error(error: rusqlite::Error) -> Error {
    Error::Io(error.to_string())
}

impl sqlite::Host for InstanceState {}

impl sqlite::HostConnection for InstanceState {
    async fn open(
        &mut self,
        database: String,
    ) -> wasmtime::Result<Result<Resource<ConnectionHandle>, Error>> {
        if !self.component.config.sqlite_databases.contains(&database) {
            return Ok(Err(Error::AccessDenied));
        }
        let Some(pool) = self.app.sqlite_pool(&database) else {
            return Ok(Err(Error::NoSuchDatabase));
        };
        Ok(Ok(self.table.push(ConnectionHandle::new(pool))?))
    }

    async fn execute(
        &mut self,
        connection: Resource<ConnectionHandle>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<QueryResult, Error>> {
        let handle = self.table.get(&connection)?;
        Ok(handle.execute(statement, parameters).await)
    }

    async fn drop(&mut self, connection: Resource<ConnectionHandle>) -> wasmtime::Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    async fn run(
        handle: &ConnectionHandle,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<QueryResult, Error> {
        handle.execute(sql.to_owned(), params).await
    }

    #[tokio::test]
    async fn statements_parameters_and_values_round_trip() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let db = ConnectionHandle::new(SqlitePool::new(dir.path().join("sqlite_db.db")));
        let ok = |r: Result<QueryResult, Error>| r.map_err(|e| anyhow::anyhow!("{e:?}"));
        let mode = ok(run(&db, "PRAGMA journal_mode=WAL", vec![]).await)?;
        assert_eq!(mode.rows[0].values, vec![text("wal")]);
        ok(run(
            &db,
            "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n)",
            vec![],
        )
        .await)?;
        let inserted = ok(run(
            &db,
            "INSERT INTO t VALUES (?, ?, ?, ?, ?) RETURNING rowid",
            vec![
                Value::Integer(7),
                Value::Real(1.5),
                text("hé"),
                Value::Blob(vec![0, 1]),
                Value::Null,
            ],
        )
        .await)?;
        assert_eq!(inserted.columns, ["rowid"]);
        assert_eq!(inserted.rows[0].values, vec![Value::Integer(1)]);
        let selected = ok(run(&db, "SELECT i, r, s, b, n FROM t", vec![]).await)?;
        assert_eq!(selected.columns, ["i", "r", "s", "b", "n"]);
        assert_eq!(
            selected.rows[0].values,
            vec![
                Value::Integer(7),
                Value::Real(1.5),
                text("hé"),
                Value::Blob(vec![0, 1]),
                Value::Null
            ]
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_connection_keeps_its_transaction_and_others_do_not_see_it() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let pool = SqlitePool::new(dir.path().join("sqlite_db.db"));
        let a = ConnectionHandle::new(pool.clone());
        let b = ConnectionHandle::new(pool);
        let ok = |r: Result<QueryResult, Error>| r.map_err(|e| anyhow::anyhow!("{e:?}"));
        ok(run(&a, "PRAGMA journal_mode=WAL", vec![]).await)?;
        ok(run(&a, "CREATE TABLE t (x)", vec![]).await)?;
        ok(run(&a, "BEGIN IMMEDIATE", vec![]).await)?;
        ok(run(&a, "INSERT INTO t VALUES (1)", vec![]).await)?;
        let seen_by_b = ok(run(&b, "SELECT count(*) FROM t", vec![]).await)?;
        assert_eq!(seen_by_b.rows[0].values, vec![Value::Integer(0)]);
        ok(run(&a, "COMMIT", vec![]).await)?;
        let seen_by_b = ok(run(&b, "SELECT count(*) FROM t", vec![]).await)?;
        assert_eq!(seen_by_b.rows[0].values, vec![Value::Integer(1)]);
        Ok(())
    }

    fn idle(pool: &SqlitePool) -> anyhow::Result<usize> {
        Ok(pool
            .idle
            .lock()
            .map_err(|_| anyhow::anyhow!("pool lock poisoned"))?
            .len())
    }

    #[tokio::test]
    async fn a_reused_connection_looks_new_and_one_left_in_a_transaction_is_not_reused()
    -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let pool = SqlitePool::new(dir.path().join("sqlite_db.db"));
        let ok = |r: Result<QueryResult, Error>| r.map_err(|e| anyhow::anyhow!("{e:?}"));
        let first = ConnectionHandle::new(pool.clone());
        ok(run(&first, "PRAGMA journal_mode=WAL", vec![]).await)?;
        ok(run(&first, "CREATE TABLE t (x)", vec![]).await)?;
        let defaults = (
            ok(run(&first, "PRAGMA busy_timeout", vec![]).await)?.rows,
            ok(run(&first, "PRAGMA synchronous", vec![]).await)?.rows,
        );
        ok(run(&first, "PRAGMA busy_timeout = 100", vec![]).await)?;
        ok(run(&first, "PRAGMA synchronous = NORMAL", vec![]).await)?;
        drop(first);
        assert_eq!(idle(&pool)?, 1, "handed back");

        let second = ConnectionHandle::new(pool.clone());
        let settings = (
            ok(run(&second, "PRAGMA busy_timeout", vec![]).await)?.rows,
            ok(run(&second, "PRAGMA synchronous", vec![]).await)?.rows,
        );
        assert_eq!(settings, defaults, "the settings of a fresh connection");
        assert_eq!(idle(&pool)?, 0, "taken");
        // A guest that goes away inside a transaction: its connection is closed (SQLite rolls
        // the transaction back), never handed to the next guest with the lock still held.
        ok(run(&second, "BEGIN IMMEDIATE", vec![]).await)?;
        ok(run(&second, "INSERT INTO t VALUES (1)", vec![]).await)?;
        drop(second);
        assert_eq!(idle(&pool)?, 0, "not reused");
        let third = ConnectionHandle::new(pool);
        ok(run(&third, "BEGIN IMMEDIATE", vec![]).await)?;
        let rows = ok(run(&third, "SELECT count(*) FROM t", vec![]).await)?;
        assert_eq!(rows.rows[0].values, vec![Value::Integer(0)], "rolled back");
        Ok(())
    }

    #[tokio::test]
    async fn errors_carry_sqlites_message_and_attach_is_refused() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let db = ConnectionHandle::new(SqlitePool::new(dir.path().join("sqlite_db.db")));
        let error = run(&db, "SELEC nonsense", vec![]).await.err();
        assert!(
            matches!(&error, Some(Error::Io(message)) if message.contains("syntax error")),
            "{error:?}"
        );
        let other = dir.path().join("other.db");
        let attach = format!("ATTACH DATABASE '{}' AS other", other.display());
        assert!(matches!(run(&db, &attach, vec![]).await, Err(Error::Io(_))));
        assert!(
            run(&db, "ATTACH DATABASE ':memory:' AS mem", vec![])
                .await
                .is_ok()
        );
        Ok(())
    }

    #[tokio::test]
    async fn fts5_is_available() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let db = ConnectionHandle::new(SqlitePool::new(dir.path().join("sqlite_db.db")));
        run(&db, "CREATE VIRTUAL TABLE docs USING fts5(body)", vec![])
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(())
    }
}
