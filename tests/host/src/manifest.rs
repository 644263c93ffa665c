//! Reading `spin.toml` (manifest version 2) into the parts this host runs.
//!
//! Only what a Spin HTTP application needs is modelled: `[application]`, `[variables]`,
//! `[[trigger.http]]` and `[component.<id>]`. Keys Spin knows but that do not change how a
//! component runs (`build`, `description`, `tool`, ...) are ignored, as `spin up` ignores them.
//! Things this host cannot do (other trigger types, remote or inline component sources,
//! component dependencies, `static_response` triggers, non-default stores) are load-time errors
//! that say so, rather than being silently skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::variables::{self, Template};
use anyhow::{Context as _, anyhow, bail, ensure};

/// The only store and database label available without a runtime config file.
pub const DEFAULT_LABEL: &str = "default";

/// A parsed and validated application manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// `[application] name`.
    pub name: String,
    /// The directory holding `spin.toml`; relative paths in the manifest are resolved against it.
    pub root: PathBuf,
    /// `[variables]`, by name.
    pub variables: BTreeMap<String, VariableDecl>,
    /// `[[trigger.http]]`, in manifest order.
    pub http_triggers: Vec<HttpTrigger>,
    /// `[component.<id>]`, by id.
    pub components: BTreeMap<String, ComponentConfig>,
}

/// One application variable declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableDecl {
    /// The value used when no provider supplies one.
    pub default: Option<String>,
    /// Whether a provider must supply a value (then there is no default).
    pub required: bool,
    /// Whether the value is sensitive (never logged by this host).
    pub secret: bool,
}

/// One `[[trigger.http]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTrigger {
    /// The route pattern, or private (reachable only through service chaining).
    pub route: RouteSpec,
    /// The component that handles requests on this route.
    pub component: String,
}

/// The `route` of an HTTP trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteSpec {
    /// A routable pattern, exactly as written in the manifest.
    Path(String),
    /// `route = { private = true }`.
    Private,
}

/// One `[component.<id>]` table, with paths made absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentConfig {
    /// The component id (the table key).
    pub id: String,
    /// Absolute path of the `.wasm` file.
    pub source: PathBuf,
    /// `files`, in manifest order.
    pub files: Vec<FileMount>,
    /// `exclude_files` glob patterns (relative to the manifest directory).
    pub exclude_files: Vec<String>,
    /// `allowed_outbound_hosts`, plus any converted legacy `allowed_http_hosts`.
    pub allowed_outbound_hosts: Vec<String>,
    /// `key_value_stores` labels.
    pub key_value_stores: Vec<String>,
    /// `sqlite_databases` labels.
    pub sqlite_databases: Vec<String>,
    /// `ai_models` names.
    pub ai_models: Vec<String>,
    /// `environment`: environment variables visible to the guest.
    pub environment: BTreeMap<String, String>,
    /// `[component.<id>.variables]`: name -> template over application variables.
    pub variables: BTreeMap<String, Template>,
}

/// One entry of a component's `files`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileMount {
    /// A path or glob pattern relative to the manifest directory; matches keep their relative
    /// path under the guest's `/`.
    Pattern(String),
    /// `{ source = "dir-or-file", destination = "/guest/path" }`.
    Placement {
        /// Path relative to the manifest directory.
        source: String,
        /// Absolute path inside the guest.
        destination: String,
    },
}

impl Manifest {
    /// Reads and validates the manifest at `path`.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read manifest {}", path.display()))?;
        let root = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let root = if root.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            root
        };
        let root = std::path::absolute(&root)
            .with_context(|| format!("cannot resolve manifest directory {}", root.display()))?;
        Self::parse(&text, &root).with_context(|| format!("invalid manifest {}", path.display()))
    }

    /// Parses manifest text; relative paths are resolved against `root`.
    pub fn parse(text: &str, root: &Path) -> anyhow::Result<Self> {
        let raw: raw::Manifest = toml::from_str(text)?;
        ensure!(
            raw.spin_manifest_version == 2,
            "spin_manifest_version must be 2 (this host reads manifest version 2 only), found {}",
            raw.spin_manifest_version
        );

        let mut declared = BTreeMap::new();
        for (name, var) in raw.variables {
            variables::validate_name(&name)
                .map_err(|reason| anyhow!("invalid variable name {name:?}: {reason}"))?;
            ensure!(
                var.required ^ var.default.is_some(),
                "variable {name:?}: must be `required` OR have a `default`"
            );
            declared.insert(
                name,
                VariableDecl {
                    default: var.default,
                    required: var.required,
                    secret: var.secret,
                },
            );
        }

        let mut components = BTreeMap::new();
        for (id, component) in raw.component {
            let config = component_config(&id, component, root, &declared)
                .with_context(|| format!("component {id:?}"))?;
            components.insert(id, config);
        }

        let mut http_triggers = Vec::new();
        for (trigger_type, triggers) in raw.trigger {
            if trigger_type != "http" {
                bail!("trigger type {trigger_type:?} is not supported by this host (only `http`)");
            }
            let triggers: Vec<raw::HttpTrigger> = triggers
                .try_into()
                .context("invalid [[trigger.http]] entries")?;
            for (index, trigger) in triggers.into_iter().enumerate() {
                let what = trigger
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("#{}", index + 1));
                http_triggers.push(
                    http_trigger(trigger, &components)
                        .with_context(|| format!("[[trigger.http]] {what}"))?,
                );
            }
        }

        Ok(Self {
            name: raw.application.name,
            root: root.to_path_buf(),
            variables: declared,
            http_triggers,
            components,
        })
    }
}

fn http_trigger(
    trigger: raw::HttpTrigger,
    components: &BTreeMap<String, ComponentConfig>,
) -> anyhow::Result<HttpTrigger> {
    ensure!(
        trigger.static_response.is_none(),
        "`static_response` triggers are not supported by this host"
    );
    if let Some(executor) = &trigger.executor {
        let kind = executor.get("type").and_then(toml::Value::as_str);
        ensure!(
            matches!(kind, Some("http" | "spin")),
            "executor {kind:?} is not supported by this host (only the default `http` executor)"
        );
    }
    let component = match trigger.component {
        Some(toml::Value::String(id)) => id,
        Some(_) => bail!("inline components are not supported by this host; use [component.<id>]"),
        None => bail!("`component` is required"),
    };
    ensure!(
        components.contains_key(&component),
        "refers to component {component:?}, which is not defined"
    );
    let route = match trigger.route {
        raw::Route::Path(route) => RouteSpec::Path(route),
        raw::Route::Private { private: true } => RouteSpec::Private,
        raw::Route::Private { private: false } => bail!(
            "route must be a string pattern or '{{ private = true }}': '{component}' has {{ private = false }}"
        ),
    };
    Ok(HttpTrigger { route, component })
}

fn component_config(
    id: &str,
    component: raw::Component,
    root: &Path,
    declared: &BTreeMap<String, VariableDecl>,
) -> anyhow::Result<ComponentConfig> {
    validate_component_id(id)?;
    let source = match component.source {
        toml::Value::String(path) => root.join(path),
        _ => bail!("only local `source` paths are supported by this host (no url/registry)"),
    };
    ensure!(
        component.dependencies.is_none(),
        "component dependencies are not supported by this host"
    );
    for label in &component.key_value_stores {
        ensure!(
            label == DEFAULT_LABEL,
            "key-value store {label:?} is not defined: only \"default\" exists without a runtime config"
        );
    }
    for label in &component.sqlite_databases {
        ensure!(
            label == DEFAULT_LABEL,
            "SQLite database {label:?} is not defined: only \"default\" exists without a runtime config"
        );
    }

    let files = component
        .files
        .into_iter()
        .map(|mount| match mount {
            raw::FileMount::Pattern(pattern) => FileMount::Pattern(pattern),
            raw::FileMount::Placement {
                source,
                destination,
            } => FileMount::Placement {
                source,
                destination,
            },
        })
        .collect();

    let mut allowed_outbound_hosts = component.allowed_outbound_hosts;
    // Spin still accepts the pre-2.0 key and converts each host to `http(s)://host`.
    for host in component.allowed_http_hosts {
        if host == "insecure:allow-all" {
            allowed_outbound_hosts.push("*://*:*".to_owned());
        } else if host.contains("://") {
            allowed_outbound_hosts.push(host);
        } else {
            allowed_outbound_hosts.push(format!("http://{host}"));
            allowed_outbound_hosts.push(format!("https://{host}"));
        }
    }

    let mut variables = BTreeMap::new();
    for (name, value) in component.variables {
        variables::validate_name(&name)
            .map_err(|reason| anyhow!("invalid variable name {name:?}: {reason}"))?;
        let template = Template::parse(&value)
            .map_err(|reason| anyhow!("variable {name:?}: invalid template: {reason}"))?;
        if let Some(unknown) = template
            .referenced_variables()
            .find(|var| !declared.contains_key(*var))
        {
            bail!("variable {name:?}: unknown variable {unknown:?}");
        }
        variables.insert(name, template);
    }

    Ok(ComponentConfig {
        id: id.to_owned(),
        source,
        files,
        exclude_files: component.exclude_files,
        allowed_outbound_hosts,
        key_value_stores: component.key_value_stores,
        sqlite_databases: component.sqlite_databases,
        ai_models: component.ai_models,
        environment: component.environment,
        variables,
    })
}

/// Component ids are kebab-case (Spin's `KebabId`): they become `<id>.spin.internal` host names.
fn validate_component_id(id: &str) -> anyhow::Result<()> {
    let valid = !id.is_empty()
        && id.split('-').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && id.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    ensure!(
        valid,
        "component id {id:?} must be kebab-case (lower-case letters, digits and single dashes, starting with a letter)"
    );
    Ok(())
}

/// The serde shape of the TOML file.
mod raw {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct Manifest {
        pub spin_manifest_version: i64,
        pub application: Application,
        #[serde(default)]
        pub variables: BTreeMap<String, Variable>,
        #[serde(default)]
        pub trigger: BTreeMap<String, toml::Value>,
        #[serde(default)]
        pub component: BTreeMap<String, Component>,
    }

    #[derive(Deserialize)]
    pub struct Application {
        pub name: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Variable {
        #[serde(default)]
        pub default: Option<String>,
        #[serde(default)]
        pub required: bool,
        #[serde(default)]
        pub secret: bool,
        #[serde(default)]
        #[allow(dead_code, reason = "accepted for compatibility, not used")]
        pub description: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct HttpTrigger {
        #[serde(default)]
        pub id: Option<String>,
        pub route: Route,
        #[serde(default)]
        pub component: Option<toml::Value>,
        #[serde(default)]
        pub executor: Option<toml::Value>,
        #[serde(default)]
        pub static_response: Option<toml::Value>,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    pub enum Route {
        Path(String),
        Private { private: bool },
    }

    #[derive(Deserialize)]
    pub struct Component {
        pub source: toml::Value,
        #[serde(default)]
        pub files: Vec<FileMount>,
        #[serde(default)]
        pub exclude_files: Vec<String>,
        #[serde(default)]
        pub allowed_outbound_hosts: Vec<String>,
        #[serde(default)]
        pub allowed_http_hosts: Vec<String>,
        #[serde(default)]
        pub key_value_stores: Vec<String>,
        #[serde(default)]
        pub sqlite_databases: Vec<String>,
        #[serde(default)]
        pub ai_models: Vec<String>,
        #[serde(default)]
        pub environment: BTreeMap<String, String>,
        #[serde(default)]
        pub variables: BTreeMap<String, String>,
        #[serde(default)]
        pub dependencies: Option<toml::Value>,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    pub enum FileMount {
        Pattern(String),
        Placement { source: String, destination: String },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "/app";

    fn parse(text: &str) -> anyhow::Result<Manifest> {
        Manifest::parse(text, Path::new(ROOT))
    }

    const MINIMAL: &str = r#"
        spin_manifest_version = 2
        [application]
        name = "demo"
    "#;

    #[test]
    fn parses_the_apps_shape() -> anyhow::Result<()> {
        let manifest = parse(
            r#"
            spin_manifest_version = 2
            [application]
            name = "demo"
            version = "0.1.0"
            [variables]
            admin_email = { default = "" }
            token = { required = true, secret = true }
            [[trigger.http]]
            route = "/api/..."
            component = "api"
            [[trigger.http]]
            route = { private = true }
            component = "worker"
            [component.api]
            source = "target/api.wasm"
            files = ["static/*.html", { source = "assets", destination = "/assets" }]
            allowed_outbound_hosts = ["http://worker.spin.internal"]
            key_value_stores = ["default"]
            sqlite_databases = ["default"]
            environment = { RUST_LOG = "info" }
            [component.api.variables]
            email = "{{ admin_email }}"
            greeting = "hello"
            [component.api.build]
            command = "cargo build"
            [component.worker]
            source = "worker.wasm"
        "#,
        )?;
        assert_eq!(manifest.name, "demo");
        assert_eq!(
            manifest.variables["token"],
            VariableDecl {
                default: None,
                required: true,
                secret: true
            }
        );
        assert_eq!(
            manifest.http_triggers,
            vec![
                HttpTrigger {
                    route: RouteSpec::Path("/api/...".into()),
                    component: "api".into()
                },
                HttpTrigger {
                    route: RouteSpec::Private,
                    component: "worker".into()
                },
            ]
        );
        let api = &manifest.components["api"];
        assert_eq!(api.source, Path::new("/app/target/api.wasm"));
        assert_eq!(
            api.files,
            vec![
                FileMount::Pattern("static/*.html".into()),
                FileMount::Placement {
                    source: "assets".into(),
                    destination: "/assets".into()
                }
            ]
        );
        assert_eq!(api.key_value_stores, ["default"]);
        assert_eq!(api.environment["RUST_LOG"], "info");
        assert_eq!(api.variables.len(), 2);
        Ok(())
    }

    #[test]
    fn the_projects_own_manifest_loads() -> anyhow::Result<()> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml");
        let manifest = Manifest::from_file(&path)?;
        assert!(!manifest.http_triggers.is_empty());
        for trigger in &manifest.http_triggers {
            assert!(manifest.components.contains_key(&trigger.component));
        }
        Ok(())
    }

    #[test]
    fn a_variable_must_be_required_or_have_a_default() {
        let both = format!("{MINIMAL}\n[variables]\nx = {{ default = \"a\", required = true }}");
        let neither = format!("{MINIMAL}\n[variables]\nx = {{ secret = true }}");
        for text in [both, neither] {
            let err = format!(
                "{:#}",
                parse(&text)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default()
            );
            assert!(
                err.contains("must be `required` OR have a `default`"),
                "{err}"
            );
        }
    }

    #[test]
    fn component_variables_must_refer_to_declared_variables() {
        let text = format!(
            "{MINIMAL}\n[component.c]\nsource = \"c.wasm\"\n[component.c.variables]\nx = \"{{{{ nope }}}}\""
        );
        let err = parse(&text)
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(err.contains("unknown variable \"nope\""), "{err}");
    }

    #[test]
    fn triggers_must_name_a_defined_component() {
        let text = format!("{MINIMAL}\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"ghost\"");
        let err = parse(&text)
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(err.contains("\"ghost\", which is not defined"), "{err}");
    }

    #[test]
    fn private_false_is_rejected() {
        let text = format!(
            "{MINIMAL}\n[[trigger.http]]\nroute = {{ private = false }}\ncomponent = \"c\"\n[component.c]\nsource = \"c.wasm\""
        );
        assert!(parse(&text).is_err());
    }

    #[test]
    fn only_the_default_store_and_database_exist() {
        for key in ["key_value_stores", "sqlite_databases"] {
            let text =
                format!("{MINIMAL}\n[component.c]\nsource = \"c.wasm\"\n{key} = [\"other\"]");
            let err = parse(&text)
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default();
            assert!(err.contains("\"other\" is not defined"), "{err}");
        }
    }

    #[test]
    fn other_trigger_types_are_rejected() {
        let text = format!(
            "{MINIMAL}\n[[trigger.redis]]\nchannel = \"x\"\ncomponent = \"c\"\n[component.c]\nsource = \"c.wasm\""
        );
        let err = parse(&text)
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(err.contains("\"redis\" is not supported"), "{err}");
    }

    #[test]
    fn legacy_allowed_http_hosts_are_converted() -> anyhow::Result<()> {
        let text = format!(
            "{MINIMAL}\n[component.c]\nsource = \"c.wasm\"\nallowed_http_hosts = [\"example.com\"]"
        );
        let manifest = parse(&text)?;
        assert_eq!(
            manifest.components["c"].allowed_outbound_hosts,
            ["http://example.com", "https://example.com"]
        );
        Ok(())
    }

    #[test]
    fn component_ids_are_kebab_case() {
        for bad in ["Api", "api_x", "-api", "api-", "a--b", "1api"] {
            assert!(validate_component_id(bad).is_err(), "{bad}");
        }
        for good in ["api", "widget-api", "a1-b2"] {
            assert!(validate_component_id(good).is_ok(), "{good}");
        }
    }
}
