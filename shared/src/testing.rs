//! Native stand-ins for the host, for unit tests: rusqlite for the database (the very same SQL
//! Spin runs), maps for the key-value store, a clock that only moves when told.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::Path;

use crate::host::{Clock, Ctx, Entropy, KeyValue, KvError};
use crate::store::{Database, DbError, Rows, SqlValue};

pub struct TestDb(rusqlite::Connection);

impl TestDb {
    /// A fresh in-memory database with the schema applied.
    pub fn new() -> TestDb {
        let db = TestDb(rusqlite::Connection::open_in_memory().unwrap());
        crate::migrations::migrate(&db).unwrap();
        db
    }

    /// A fresh in-memory database without any schema.
    pub fn open_in_memory_unmigrated() -> TestDb {
        TestDb(rusqlite::Connection::open_in_memory().unwrap())
    }

    /// A connection to a database file, without migrating.
    pub fn open(path: &Path) -> TestDb {
        TestDb(rusqlite::Connection::open(path).unwrap())
    }
}

impl Database for TestDb {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, DbError> {
        let host = |e: rusqlite::Error| DbError::Host(e.to_string());
        let mut statement = self.0.prepare(sql).map_err(host)?;
        let columns: Vec<String> = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let params = params.iter().map(|p| match p {
            SqlValue::Null => rusqlite::types::Value::Null,
            SqlValue::Integer(v) => rusqlite::types::Value::Integer(*v),
            SqlValue::Real(v) => rusqlite::types::Value::Real(*v),
            SqlValue::Text(v) => rusqlite::types::Value::Text(v.clone()),
            SqlValue::Blob(v) => rusqlite::types::Value::Blob(v.clone()),
        });
        let mut rows = statement
            .query(rusqlite::params_from_iter(params))
            .map_err(host)?;
        let mut out = Rows {
            columns: columns.clone(),
            rows: Vec::new(),
        };
        while let Some(row) = rows.next().map_err(host)? {
            let values = (0..columns.len())
                .map(|i| match row.get_ref(i) {
                    Ok(rusqlite::types::ValueRef::Integer(v)) => SqlValue::Integer(v),
                    Ok(rusqlite::types::ValueRef::Real(v)) => SqlValue::Real(v),
                    Ok(rusqlite::types::ValueRef::Text(v)) => {
                        SqlValue::Text(String::from_utf8_lossy(v).into_owned())
                    }
                    Ok(rusqlite::types::ValueRef::Blob(v)) => SqlValue::Blob(v.to_vec()),
                    _ => SqlValue::Null,
                })
                .collect();
            out.rows.push(values);
        }
        Ok(out)
    }
}

#[derive(Default)]
pub struct MemoryKv(RefCell<HashMap<String, Vec<u8>>>);

impl KeyValue for MemoryKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.0.borrow().get(key).cloned())
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.0.borrow_mut().insert(key.to_owned(), value.to_vec());
        Ok(())
    }
}

/// Time starts at a fixed instant and advances only by `advance` or `sleep_ms`.
pub struct TestClock(Cell<i64>);

impl Default for TestClock {
    fn default() -> Self {
        TestClock(Cell::new(1_767_225_600_000))
    }
}

impl TestClock {
    pub fn advance(&self, ms: i64) {
        self.0.set(self.0.get() + ms);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.get()
    }
    fn sleep_ms(&self, ms: u64) {
        self.advance(ms as i64);
    }
}

/// Deterministic, distinct bytes on every call (a counter through SHA-256).
#[derive(Default)]
pub struct TestEntropy(Cell<u64>);

impl Entropy for TestEntropy {
    fn fill(&self, buf: &mut [u8]) {
        use sha2::{Digest, Sha256};
        for chunk in buf.chunks_mut(32) {
            self.0.set(self.0.get() + 1);
            let block = Sha256::digest(self.0.get().to_le_bytes());
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}

/// One of everything, owned, for building a [`Ctx`].
#[derive(Default)]
pub struct TestHost {
    pub db: Option<TestDb>,
    pub kv: MemoryKv,
    pub clock: TestClock,
    pub entropy: TestEntropy,
}

impl TestHost {
    pub fn new() -> TestHost {
        TestHost {
            db: Some(TestDb::new()),
            ..Default::default()
        }
    }

    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            db: self.db.as_ref().expect("TestHost::new sets the database"),
            kv: &self.kv,
            clock: &self.clock,
            entropy: &self.entropy,
        }
    }
}
