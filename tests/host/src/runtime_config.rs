//! Spin's runtime configuration file (`--runtime-config-file`), as far as this host can honour it.
//!
//! The host keeps both stores in local SQLite files, like Spin's `type = "spin"` stores, so it
//! reads `[key_value_store.default]` and `[sqlite_database.default]` with that type and an
//! optional `path`. Everything else a real Spin runtime config may hold (Redis, libSQL, other
//! labels, LLM or variable providers) is refused with a message naming it, rather than silently
//! running on local files while the operator believes the stores are shared.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// Where the default stores live when a runtime config says so; `None`: the data directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorePaths {
    pub key_value: Option<PathBuf>,
    pub sqlite: Option<PathBuf>,
}

impl StorePaths {
    /// Reads the runtime config at `path`. A relative store path is taken relative to the
    /// file's directory.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read runtime config {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).with_context(|| format!("runtime config {}", path.display()))
    }

    fn parse(text: &str, base: &Path) -> anyhow::Result<Self> {
        let config: toml::Table = text.parse().context("not valid TOML")?;
        let mut paths = StorePaths::default();
        for (section, value) in &config {
            let slot = match section.as_str() {
                "key_value_store" => &mut paths.key_value,
                "sqlite_database" => &mut paths.sqlite,
                other => bail!("[{other}] is not supported by spin-test-host (use real Spin)"),
            };
            let stores = value
                .as_table()
                .with_context(|| format!("[{section}] must be a table of stores"))?;
            for (label, store) in stores {
                if label != "default" {
                    bail!("[{section}.{label}]: spin-test-host has only the `default` store");
                }
                *slot = Some(local_store(section, store, base)?);
            }
        }
        Ok(paths)
    }
}

fn local_store(section: &str, store: &toml::Value, base: &Path) -> anyhow::Result<PathBuf> {
    let kind = store
        .get("type")
        .and_then(toml::Value::as_str)
        .unwrap_or("");
    if kind != "spin" {
        bail!(
            "[{section}.default] type = {kind:?} is not supported by spin-test-host, which keeps \
             both stores in local SQLite files (type = \"spin\"); run real Spin for Redis or libSQL"
        );
    }
    let path = store
        .get("path")
        .and_then(toml::Value::as_str)
        .with_context(|| format!("[{section}.default] needs a `path` for this host"))?;
    Ok(base.join(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_stores_take_their_paths_relative_to_the_file() -> anyhow::Result<()> {
        let paths = StorePaths::parse(
            "[key_value_store.default]\ntype = \"spin\"\npath = \"kv/kv.db\"\n\
             [sqlite_database.default]\ntype = \"spin\"\npath = \"/srv/db.sqlite\"\n",
            Path::new("/etc/livechat"),
        )?;
        assert_eq!(
            paths,
            StorePaths {
                key_value: Some(PathBuf::from("/etc/livechat/kv/kv.db")),
                sqlite: Some(PathBuf::from("/srv/db.sqlite")),
            }
        );
        Ok(())
    }

    #[test]
    fn shared_services_and_other_sections_are_refused_by_name() {
        for (config, named) in [
            (
                "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://x\"",
                "redis",
            ),
            (
                "[sqlite_database.default]\ntype = \"libsql\"\nurl = \"https://x\"",
                "libsql",
            ),
            (
                "[key_value_store.other]\ntype = \"spin\"\npath = \"x\"",
                "other",
            ),
            ("[llm_compute]\ntype = \"remote_http\"", "llm_compute"),
            ("[sqlite_database.default]\ntype = \"spin\"", "path"),
        ] {
            let error = StorePaths::parse(config, Path::new(".")).unwrap_err();
            assert!(format!("{error:#}").contains(named), "{config}: {error:#}");
        }
    }

    #[test]
    fn the_repository_examples_parse_or_are_refused_as_documented() -> anyhow::Result<()> {
        let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
        let single = StorePaths::from_file(&deploy.join("runtime-config.single-node.toml"))?;
        assert_eq!(
            single.key_value,
            Some(PathBuf::from("/var/lib/livechat/kv.db"))
        );
        assert_eq!(
            single.sqlite,
            Some(PathBuf::from("/var/lib/livechat/sqlite_db.db"))
        );
        let shared = StorePaths::from_file(&deploy.join("runtime-config.toml")).unwrap_err();
        assert!(format!("{shared:#}").contains("real Spin"));
        Ok(())
    }
}
