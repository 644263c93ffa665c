//! The database seam: a SQLite connection as the host gives it to us.
//!
//! Spin's `fermyon:spin/sqlite` interface is one call, `execute(statement, parameters)`, that
//! returns columns and rows. [`Database`] mirrors exactly that, so the same SQL runs on Spin,
//! on libSQL behind Spin, and on rusqlite in native tests.

use thiserror::Error;

/// `text` with LIKE's wildcards (`%`, `_`) and the escape character made literal, for
/// patterns written with `ESCAPE '\'`.
pub fn like_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A value bound to a statement parameter or read from a result column.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Integer(v)
    }
}
impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_owned())
    }
}
impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}
impl From<&[u8]> for SqlValue {
    fn from(v: &[u8]) -> Self {
        SqlValue::Blob(v.to_vec())
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// The result of one statement: column names and rows in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<SqlValue>>,
}

impl Rows {
    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|values| Row {
            columns: &self.columns,
            values,
        })
    }

    pub fn first(&self) -> Option<Row<'_>> {
        self.iter().next()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// One result row, read by column name.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    columns: &'a [String],
    values: &'a [SqlValue],
}

impl<'a> Row<'a> {
    fn value(&self, column: &str) -> Result<&'a SqlValue, DbError> {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| DbError::Decode(format!("no column `{column}`")))
    }

    pub fn i64(&self, column: &str) -> Result<i64, DbError> {
        match self.value(column)? {
            SqlValue::Integer(v) => Ok(*v),
            other => Err(DbError::Decode(format!(
                "column `{column}`: expected integer, got {other:?}"
            ))),
        }
    }

    pub fn opt_i64(&self, column: &str) -> Result<Option<i64>, DbError> {
        match self.value(column)? {
            SqlValue::Null => Ok(None),
            SqlValue::Integer(v) => Ok(Some(*v)),
            other => Err(DbError::Decode(format!(
                "column `{column}`: expected integer, got {other:?}"
            ))),
        }
    }

    /// A number (integer or real), or `None` for NULL: aggregates like AVG give either.
    pub fn opt_f64(&self, column: &str) -> Result<Option<f64>, DbError> {
        match self.value(column)? {
            SqlValue::Null => Ok(None),
            SqlValue::Integer(v) => Ok(Some(*v as f64)),
            SqlValue::Real(v) => Ok(Some(*v)),
            other => Err(DbError::Decode(format!(
                "column `{column}`: expected a number, got {other:?}"
            ))),
        }
    }

    pub fn str(&self, column: &str) -> Result<&'a str, DbError> {
        match self.value(column)? {
            SqlValue::Text(v) => Ok(v),
            other => Err(DbError::Decode(format!(
                "column `{column}`: expected text, got {other:?}"
            ))),
        }
    }

    pub fn bytes(&self, column: &str) -> Result<&'a [u8], DbError> {
        match self.value(column)? {
            SqlValue::Blob(v) => Ok(v),
            other => Err(DbError::Decode(format!(
                "column `{column}`: expected a blob, got {other:?}"
            ))),
        }
    }

    pub fn opt_str(&self, column: &str) -> Result<Option<&'a str>, DbError> {
        match self.value(column)? {
            SqlValue::Null => Ok(None),
            SqlValue::Text(v) => Ok(Some(v)),
            other => Err(DbError::Decode(format!(
                "column `{column}`: expected text, got {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Error)]
pub enum DbError {
    /// The host reported a failure (I/O, constraint, busy, syntax...). The text is for logs only.
    #[error("database error: {0}")]
    Host(String),
    /// A row did not have the shape the SQL next to it promises: a bug, not bad input.
    #[error("unexpected row shape: {0}")]
    Decode(String),
}

/// A connection to the app's SQLite database.
///
/// Implementations must keep one underlying connection for their whole life, so that
/// `BEGIN IMMEDIATE` ... `COMMIT` issued as separate calls form one transaction.
pub trait Database {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, DbError>;
}

/// What a request will do with its connection, which decides the settings it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Only reads (event streams, listings): the busy timeout alone, because each PRAGMA is one
    /// more host round trip on the hottest requests, and `synchronous` only matters to writers.
    Read,
    /// May write: every setting.
    Write,
}

/// The busy timeout of one attempt at a lock: SQLite's own busy handler retries within it, and
/// [`Queued`] makes up to [`BUSY_ATTEMPTS`] attempts (about 10 s in all, well under hosted
/// Spin's 30 s handler limit); past them the request answers 503 `busy` with `Retry-After`
/// (`ApiError`).
///
/// Why not one long timeout: SQLite's handler backs off (1, 2, 5, 10 ... then 100 ms between
/// tries), so under a burst of writers the ones that have waited longest try least often and
/// newcomers keep taking the lock before them. With a single 10 s timeout, the sustained-load
/// run saw some writers wait out all 10 s while the write lock was busy a fraction of the time.
/// Short attempts restart the dense part of the schedule, so every waiter keeps trying every
/// few milliseconds and the lock goes round roughly in turn.
const BUSY_TIMEOUT: &str = "PRAGMA busy_timeout = 100";
pub const BUSY_ATTEMPTS: u32 = 100;

/// SQLite's text for `SQLITE_BUSY`, as Spin's hosts report it.
pub const SQLITE_BUSY_MESSAGE: &str = "database is locked";

/// Whether `error` is SQLite's busy timeout running out.
pub fn is_busy(error: &DbError) -> bool {
    matches!(error, DbError::Host(text) if text.contains(SQLITE_BUSY_MESSAGE))
}

/// A connection that queues for SQLite's locks in short attempts (see [`BUSY_TIMEOUT`]).
///
/// A statement that failed with `SQLITE_BUSY` outside an explicit transaction did nothing and
/// may run again: an autocommit statement takes its lock before changing anything, and a
/// `BEGIN IMMEDIATE` that could not take the write lock began nothing. Inside a transaction a
/// busy statement is not retried (the transaction's view may be stale; the caller rolls back).
/// The decorator follows `BEGIN`/`COMMIT`/`ROLLBACK`/`END` to know which case it is in.
///
/// On a libSQL server, which refuses the busy timeout ([`apply_setting`]), the attempts follow
/// each other without a wait; the server serializes writes itself, so a busy answer there is
/// rare and 100 quick attempts are a bounded cost.
pub struct Queued<D> {
    inner: D,
    in_transaction: std::cell::Cell<bool>,
}

impl<D: Database> Queued<D> {
    pub fn new(inner: D) -> Queued<D> {
        Queued {
            inner,
            in_transaction: std::cell::Cell::new(false),
        }
    }
}

impl<D: Database> Database for Queued<D> {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, DbError> {
        let verb = sql
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let retriable = !self.in_transaction.get();
        let mut attempts = 1;
        let result = loop {
            match self.inner.execute(sql, params) {
                Err(error) if retriable && attempts < BUSY_ATTEMPTS && is_busy(&error) => {
                    attempts += 1;
                }
                result => break result,
            }
        };
        match verb.as_str() {
            "BEGIN" if result.is_ok() => self.in_transaction.set(true),
            // A failed COMMIT leaves the transaction open (the caller rolls it back); a
            // ROLLBACK ends it whatever it answers (SQLite may have rolled back already).
            "COMMIT" | "END" if result.is_ok() => self.in_transaction.set(false),
            "ROLLBACK" => self.in_transaction.set(false),
            _ => {}
        }
        result
    }
}

/// Settings for connections that write (Spin opens a new connection per `open` and sets
/// nothing itself). `synchronous=NORMAL` is per connection: durable in WAL mode except for the
/// last transactions on power loss, and never corrupting.
const WRITER_PRAGMAS: [&str; 1] = ["PRAGMA synchronous = NORMAL"];

/// WAL lets readers run beside the single writer and is ~5x faster for our insert-heavy load
/// (DESIGN.md section 6). It persists in the database file, so `migrate` sets it when it creates
/// the schema (and on every later migration) instead of every connection paying one more host
/// round trip for a no-op.
pub const JOURNAL_MODE: &str = "PRAGMA journal_mode = WAL";

/// Applies the settings `access` needs; call once right after opening.
pub fn configure_connection(db: &dyn Database, access: Access) -> Result<(), DbError> {
    apply_setting(db, BUSY_TIMEOUT);
    if access == Access::Write {
        for pragma in WRITER_PRAGMAS {
            apply_setting(db, pragma);
        }
    }
    Ok(())
}

/// Runs one connection setting (a `PRAGMA name = value`), tolerating a database that refuses it.
///
/// A libSQL server (Turso, sqld: Spin's `type = "libsql"` database) answers "unsupported
/// statement" to PRAGMAs that set the journal mode, `synchronous` or the busy timeout, because it
/// owns all three: it runs its own WAL and serializes writes itself. The embedded SQLite accepts
/// every one of them, so ignoring a refusal loses nothing there and keeps the app running on
/// libSQL. (A broken connection still fails loudly on the first real statement.)
pub fn apply_setting(db: &dyn Database, pragma: &str) {
    let _ = db.execute(pragma, &[]);
}

/// Runs `work` inside `BEGIN IMMEDIATE` ... `COMMIT`, rolling back if it fails.
///
/// `IMMEDIATE` takes the write lock up front, so two writers queue on the busy timeout instead
/// of both reading and then one failing to upgrade its lock.
pub fn transaction<T, E>(db: &dyn Database, work: impl FnOnce() -> Result<T, E>) -> Result<T, E>
where
    E: From<DbError>,
{
    db.execute("BEGIN IMMEDIATE", &[])?;
    match work() {
        Ok(value) => {
            if let Err(commit_error) = db.execute("COMMIT", &[]) {
                // The transaction is still open after a failed COMMIT (e.g. SQLITE_BUSY); end it
                // so the connection is usable, and report the commit failure.
                let _ = db.execute("ROLLBACK", &[]);
                return Err(commit_error.into());
            }
            Ok(value)
        }
        Err(error) => {
            let _ = db.execute("ROLLBACK", &[]);
            Err(error)
        }
    }
}

/// Runs `work` in a read transaction (`BEGIN` ... `COMMIT`): every query sees one snapshot,
/// without taking the write lock, so readers never queue behind writers in WAL mode.
pub fn read_transaction<T, E>(
    db: &dyn Database,
    work: impl FnOnce() -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DbError>,
{
    db.execute("BEGIN", &[])?;
    let result = work();
    // Ending a read-only transaction cannot lose anything; a failure here leaves nothing to undo.
    let _ = db.execute("COMMIT", &[]);
    result
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// A database whose lock is busy for the next `busy_for` attempts, recording every call.
    struct Contended {
        busy_for: std::cell::Cell<u32>,
        calls: RefCell<Vec<String>>,
    }

    impl Contended {
        fn new(busy_for: u32) -> Contended {
            Contended {
                busy_for: std::cell::Cell::new(busy_for),
                calls: RefCell::new(Vec::new()),
            }
        }
    }

    impl Database for &Contended {
        fn execute(&self, sql: &str, _params: &[SqlValue]) -> Result<Rows, DbError> {
            self.calls.borrow_mut().push(sql.to_owned());
            let busy = self.busy_for.get();
            if busy > 0 {
                self.busy_for.set(busy - 1);
                return Err(DbError::Host(
                    "Error::Io(\"database is locked\") in `INSERT`".into(),
                ));
            }
            Ok(Rows::default())
        }
    }

    #[test]
    fn a_busy_statement_outside_a_transaction_queues_again_in_short_attempts() {
        let db = Contended::new(30);
        let queued = Queued::new(&db);
        queued.execute("INSERT INTO t VALUES (1)", &[]).unwrap();
        assert_eq!(
            db.calls.borrow().len(),
            31,
            "30 busy attempts, then it got in"
        );

        let db = Contended::new(5);
        let queued = Queued::new(&db);
        transaction(&queued, || queued.execute("UPDATE t SET x = 1", &[])).unwrap();
        assert_eq!(
            db.calls.borrow().as_slice(),
            [
                vec!["BEGIN IMMEDIATE"; 6],
                vec!["UPDATE t SET x = 1", "COMMIT"]
            ]
            .concat(),
            "BEGIN IMMEDIATE began nothing while busy, so it is tried again"
        );
    }

    #[test]
    fn queueing_gives_up_after_its_attempts_with_the_busy_error() {
        let db = Contended::new(u32::MAX);
        let error = Queued::new(&db)
            .execute("INSERT INTO t VALUES (1)", &[])
            .unwrap_err();
        assert!(is_busy(&error));
        assert_eq!(db.calls.borrow().len(), BUSY_ATTEMPTS as usize);
    }

    #[test]
    fn a_busy_statement_inside_a_transaction_is_not_run_again() {
        let db = Contended::new(0);
        let queued = Queued::new(&db);
        let result = transaction(&queued, || {
            db.busy_for.set(3);
            queued.execute("UPDATE t SET x = 1", &[])
        });
        assert!(result.is_err_and(|e| is_busy(&e)));
        assert_eq!(
            db.calls.borrow().as_slice(),
            [
                "BEGIN IMMEDIATE",
                "UPDATE t SET x = 1",
                // The transaction's own ROLLBACK is busy too (the fake is); it still ends it.
                "ROLLBACK"
            ],
        );
        // After the rollback, statements queue again.
        db.busy_for.set(2);
        queued.execute("INSERT INTO t VALUES (1)", &[]).unwrap();
        assert_eq!(db.calls.borrow().len(), 3 + 3);
    }
}
