//! `fermyon:spin/key-value@2.0.0` over a SQLite file, `<data-dir>/kv.db`.
//!
//! The table is Spin's own (`spin_key_value(store, key, value)`, keyed by store and key), and,
//! as in Spin, one connection per application serves every request behind a lock. Unlike
//! Spin's default store the file is switched to WAL and waits up to 5 s on a lock held by
//! another process, so that two host processes over one data directory share the store
//! safely (Spin's store is used by one process only).
//!
//! Speed over Spin's defaults, on purpose: `synchronous=NORMAL` (no fsync per set; a key-value
//! store holds short-lived state, and production deployments point it at Redis), and each
//! operation runs inline on the calling task rather than on a blocking thread. An operation is
//! one indexed statement of a few microseconds, while a hand-off to a blocking thread and back
//! cost more than the statement: under load-test traffic (thousands of change-marker reads a
//! second) the thread switches were a fifth of all CPU time. The lock is held only for the
//! statement; only a second process holding the file's write lock can make it wait (up to the
//! busy timeout).
//!
//! A component may open only the stores listed in its `key_value_stores`
//! (`access-denied` otherwise); only `default` exists, and the manifest loader rejects others.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use rusqlite::{Connection, OptionalExtension as _};
use wasmtime::component::Resource;

use super::fermyon::spin::key_value::{self, Error};
use crate::instance::InstanceState;

/// The open key-value database of an application.
#[derive(Clone)]
pub struct KeyValueBackend {
    connection: Arc<Mutex<Connection>>,
}

/// A store opened by a guest: which label it refers to.
pub struct StoreHandle {
    label: String,
}

impl KeyValueBackend {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let connection = Connection::open(path)
            .with_context(|| format!("cannot open key-value database {}", path.display()))?;
        connection.busy_timeout(Duration::from_secs(5))?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .context("cannot switch the key-value database to WAL")?;
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .context("cannot set the key-value database's synchronous level")?;
        connection.execute(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
                store TEXT NOT NULL,
                key   TEXT NOT NULL,
                value BLOB NOT NULL,
                PRIMARY KEY (store, key)
            )",
            [],
        )?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Runs `f` on the connection, inline (see the module doc for why not on a blocking thread).
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, Error> {
        let connection = self
            .connection
            .lock()
            .map_err(|_| Error::Other("key-value connection lock poisoned".into()))?;
        f(&connection).map_err(|e| Error::Other(e.to_string()))
    }

    async fn get(&self, store: String, key: String) -> Result<Option<Vec<u8>>, Error> {
        self.run(move |c| {
            c.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .query_row([&store, &key], |row| row.get(0))
                .optional()
        })
        .await
    }

    async fn set(&self, store: String, key: String, value: Vec<u8>) -> Result<(), Error> {
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
            )?
            .execute(rusqlite::params![store, key, value])
            .map(drop)
        })
        .await
    }

    async fn delete(&self, store: String, key: String) -> Result<(), Error> {
        self.run(move |c| {
            c.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .execute([&store, &key])
                .map(drop)
        })
        .await
    }

    async fn get_keys(&self, store: String) -> Result<Vec<String>, Error> {
        self.run(move |c| {
            c.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1")?
                .query_map([&store], |row| row.get(0))?
                .collect()
        })
        .await
    }
}

impl InstanceState {
    fn store_label(&self, store: &Resource<StoreHandle>) -> wasmtime::Result<String> {
        Ok(self.table.get(store)?.label.clone())
    }
}

impl key_value::Host for InstanceState {}

impl key_value::HostStore for InstanceState {
    async fn open(
        &mut self,
        label: String,
    ) -> wasmtime::Result<Result<Resource<StoreHandle>, Error>> {
        if !self.component.config.key_value_stores.contains(&label) {
            return Ok(Err(Error::AccessDenied));
        }
        Ok(Ok(self.table.push(StoreHandle { label })?))
    }

    async fn get(
        &mut self,
        store: Resource<StoreHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let label = self.store_label(&store)?;
        Ok(self.app.key_value.get(label, key).await)
    }

    async fn set(
        &mut self,
        store: Resource<StoreHandle>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let label = self.store_label(&store)?;
        Ok(self.app.key_value.set(label, key, value).await)
    }

    async fn delete(
        &mut self,
        store: Resource<StoreHandle>,
        key: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        let label = self.store_label(&store)?;
        Ok(self.app.key_value.delete(label, key).await)
    }

    async fn exists(
        &mut self,
        store: Resource<StoreHandle>,
        key: String,
    ) -> wasmtime::Result<Result<bool, Error>> {
        let label = self.store_label(&store)?;
        Ok(self
            .app
            .key_value
            .get(label, key)
            .await
            .map(|v| v.is_some()))
    }

    async fn get_keys(
        &mut self,
        store: Resource<StoreHandle>,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        let label = self.store_label(&store)?;
        Ok(self.app.key_value.get_keys(label).await)
    }

    async fn drop(&mut self, store: Resource<StoreHandle>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_round_trip_and_stores_are_separate() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let kv = KeyValueBackend::open(&dir.path().join("kv.db"))?;
        let s = |v: &str| v.to_owned();
        assert_eq!(kv.get(s("default"), s("k")).await, Ok(None));
        kv.set(s("default"), s("k"), b"one".to_vec())
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        kv.set(s("default"), s("k"), b"two".to_vec())
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        assert_eq!(
            kv.get(s("default"), s("k")).await,
            Ok(Some(b"two".to_vec()))
        );
        assert_eq!(kv.get(s("other"), s("k")).await, Ok(None));
        assert_eq!(kv.get_keys(s("default")).await, Ok(vec![s("k")]));
        kv.delete(s("default"), s("k"))
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        assert_eq!(kv.get(s("default"), s("k")).await, Ok(None));
        Ok(())
    }

    #[tokio::test]
    async fn two_backends_over_one_file_share_state() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("kv.db");
        let a = KeyValueBackend::open(&path)?;
        let b = KeyValueBackend::open(&path)?;
        a.set("default".into(), "shared".into(), b"x".to_vec())
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        assert_eq!(
            b.get("default".into(), "shared".into()).await,
            Ok(Some(b"x".to_vec()))
        );
        Ok(())
    }
}
