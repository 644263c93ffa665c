//! A component's `files`, copied into a directory that is mounted read-only at the guest's `/`.
//!
//! Like `spin up` (its default "copy" strategy), the files are copied once at load time, so
//! edits made while the host runs are not seen. Rules, from Spin's loader:
//!
//! - `"path/file.txt"` is copied to `/path/file.txt`; `"dir"` copies the directory's files to
//!   `/dir/...`; a glob (`"static/**/*"`) copies every matching file to its own relative path.
//! - `{ source = "dir", destination = "/x" }` copies the directory's files below `/x`;
//!   `{ source = "file.txt", destination = "/x.txt" }` copies one file.
//! - `exclude_files` globs (relative to the manifest directory) skip files; patterns ending in
//!   `.` or `..` are rejected; files outside the application directory are refused.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail, ensure};

use crate::manifest::{ComponentConfig, FileMount};

/// Copies `component`'s files from `app_root` into `dest_root`.
pub fn stage(component: &ComponentConfig, app_root: &Path, dest_root: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dest_root)
        .with_context(|| format!("cannot create {}", dest_root.display()))?;
    let excludes = component
        .exclude_files
        .iter()
        .map(|p| {
            glob::Pattern::new(p).with_context(|| format!("invalid exclude_files pattern {p:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let copier = Copier {
        app_root,
        excludes: &excludes,
    };
    for mount in &component.files {
        match mount {
            FileMount::Pattern(pattern) => copier.pattern(pattern, dest_root)?,
            FileMount::Placement {
                source,
                destination,
            } => {
                let src = app_root.join(source);
                let dest = dest_root.join(destination.trim_start_matches('/'));
                let meta = std::fs::metadata(&src)
                    .with_context(|| format!("file mount source {source:?} cannot be read"))?;
                if meta.is_dir() {
                    copier.glob(&src.join("**/*"), &src, &dest)?;
                } else {
                    copier.file(&src, &dest)?;
                }
            }
        }
    }
    Ok(())
}

struct Copier<'a> {
    app_root: &'a Path,
    excludes: &'a [glob::Pattern],
}

impl Copier<'_> {
    fn pattern(&self, pattern: &str, dest_root: &Path) -> anyhow::Result<()> {
        ensure!(
            !(pattern == ".."
                || pattern.ends_with("/..")
                || pattern == "."
                || pattern.ends_with("/.")),
            "file pattern {pattern:?} can't end in '.' or '..'; use the source-destination form or a glob ending in **/*"
        );
        let path = self.app_root.join(pattern);
        if path.is_dir() {
            self.glob(&path.join("**/*"), self.app_root, dest_root)
        } else if path.is_file() {
            self.file(&path, &dest_root.join(pattern))
        } else if pattern.contains(['*', '?', '[']) {
            self.glob(&path, self.app_root, dest_root)
        } else {
            bail!("{pattern:?} does not exist and doesn't appear to be a glob pattern")
        }
    }

    /// Copies the files matching `pattern` to `dest_root`, keeping their path below `prefix`.
    fn glob(&self, pattern: &Path, prefix: &Path, dest_root: &Path) -> anyhow::Result<()> {
        let pattern_text = pattern
            .to_str()
            .with_context(|| format!("file pattern {} is not UTF-8", pattern.display()))?;
        let matches = glob::glob(pattern_text)
            .with_context(|| format!("invalid glob pattern {pattern_text:?}"))?;
        std::fs::create_dir_all(dest_root)
            .with_context(|| format!("cannot create {}", dest_root.display()))?;
        for entry in matches {
            let src = entry?;
            if !src.is_file() {
                continue;
            }
            let Ok(in_app) = src.strip_prefix(self.app_root) else {
                bail!("{} is outside the application directory", src.display());
            };
            if self.excludes.iter().any(|p| p.matches_path(in_app)) {
                continue;
            }
            let relative = src.strip_prefix(prefix)?;
            self.file(&src, &dest_root.join(relative))?;
        }
        Ok(())
    }

    fn file(&self, src: &Path, dest: &Path) -> anyhow::Result<()> {
        let canonical = src
            .canonicalize()
            .with_context(|| format!("cannot read {}", src.display()))?;
        let root = self
            .app_root
            .canonicalize()
            .unwrap_or_else(|_| PathBuf::from(self.app_root));
        ensure!(
            canonical.starts_with(&root),
            "{} is outside the application directory",
            src.display()
        );
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::copy(src, dest)
            .with_context(|| format!("cannot copy {} to {}", src.display(), dest.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn component(files: Vec<FileMount>, exclude_files: Vec<String>) -> ComponentConfig {
        ComponentConfig {
            id: "c".into(),
            source: PathBuf::from("c.wasm"),
            files,
            exclude_files,
            allowed_outbound_hosts: vec![],
            key_value_stores: vec![],
            sqlite_databases: vec![],
            ai_models: vec![],
            environment: BTreeMap::new(),
            variables: BTreeMap::new(),
        }
    }

    fn write(path: &Path, text: &str) -> anyhow::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        Ok(std::fs::write(path, text)?)
    }

    #[test]
    fn placements_patterns_and_excludes() -> anyhow::Result<()> {
        let app = tempfile::tempdir()?;
        let out = tempfile::tempdir()?;
        write(&app.path().join("static/index.html"), "index")?;
        write(&app.path().join("static/js/app.js"), "js")?;
        write(&app.path().join("static/secret.key"), "no")?;
        write(&app.path().join("docs/a.md"), "a")?;
        write(&app.path().join("README.txt"), "readme")?;
        let c = component(
            vec![
                FileMount::Placement {
                    source: "static".into(),
                    destination: "/".into(),
                },
                FileMount::Pattern("docs/*.md".into()),
                FileMount::Pattern("README.txt".into()),
            ],
            vec!["static/*.key".into()],
        );
        stage(&c, app.path(), out.path())?;
        let read = |p: &str| std::fs::read_to_string(out.path().join(p)).ok();
        assert_eq!(read("index.html").as_deref(), Some("index"));
        assert_eq!(read("js/app.js").as_deref(), Some("js"));
        assert_eq!(read("docs/a.md").as_deref(), Some("a"));
        assert_eq!(read("README.txt").as_deref(), Some("readme"));
        assert_eq!(read("secret.key"), None);
        Ok(())
    }

    #[test]
    fn missing_sources_are_errors() -> anyhow::Result<()> {
        let app = tempfile::tempdir()?;
        let out = tempfile::tempdir()?;
        let c = component(vec![FileMount::Pattern("nope.txt".into())], vec![]);
        assert!(stage(&c, app.path(), out.path()).is_err());
        let c = component(vec![FileMount::Pattern("static/..".into())], vec![]);
        assert!(stage(&c, app.path(), out.path()).is_err());
        Ok(())
    }
}
