//! The deployment examples in `tests/deploy/` stay true to the app: the runtime configs name the
//! stores the components use, the SpinApp manifest binds only variables `spin.toml` declares and
//! probes a route the app answers, and the proxy/systemd examples point at files that exist.
//!
//! Redis and libSQL cannot run here, so what is checked is the shape and the cross-references;
//! the health probe is called on the real app.

use std::collections::HashSet;
use std::path::PathBuf;

use e2e::{spawn_app, workspace_root};

fn deploy_file(name: &str) -> (PathBuf, String) {
    let path = workspace_root().join("tests/deploy").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} is readable: {e}", path.display()));
    (path, text)
}

fn toml_file(name: &str) -> toml::Table {
    let (path, text) = deploy_file(name);
    text.parse()
        .unwrap_or_else(|e| panic!("{} is valid TOML: {e}", path.display()))
}

fn store<'a>(config: &'a toml::Table, kind: &str) -> &'a toml::Table {
    config
        .get(kind)
        .and_then(|v| v.get("default"))
        .and_then(toml::Value::as_table)
        .unwrap_or_else(|| panic!("[{kind}.default] is present"))
}

fn text<'a>(table: &'a toml::Table, key: &str) -> &'a str {
    table
        .get(key)
        .and_then(toml::Value::as_str)
        .unwrap_or_else(|| panic!("`{key}` is a string in {table:?}"))
}

/// The variables `spin.toml` declares (the only names a SpinApp or env file may set).
fn declared_variables() -> HashSet<String> {
    let manifest: toml::Table = std::fs::read_to_string(workspace_root().join("spin.toml"))
        .expect("spin.toml is readable")
        .parse()
        .expect("spin.toml is valid TOML");
    manifest["variables"]
        .as_table()
        .expect("spin.toml has [variables]")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn the_many_node_runtime_config_points_both_stores_at_shared_services() {
    let config = toml_file("runtime-config.toml");
    let kv = store(&config, "key_value_store");
    assert_eq!(text(kv, "type"), "redis");
    let url = text(kv, "url");
    assert!(
        url.starts_with("redis://") || url.starts_with("rediss://"),
        "{url}"
    );

    let db = store(&config, "sqlite_database");
    assert_eq!(text(db, "type"), "libsql");
    assert!(text(db, "url").starts_with("https://"));
    assert!(!text(db, "token").is_empty());
    // Only the `default` stores: the components open nothing else.
    for kind in ["key_value_store", "sqlite_database"] {
        let labels: Vec<_> = config[kind].as_table().unwrap().keys().collect();
        assert_eq!(labels, ["default"], "{kind}");
    }
}

#[test]
fn the_single_node_runtime_config_keeps_both_files_in_one_data_directory() {
    let config = toml_file("runtime-config.single-node.toml");
    let kv = store(&config, "key_value_store");
    let db = store(&config, "sqlite_database");
    assert_eq!(text(kv, "type"), "spin");
    assert_eq!(text(db, "type"), "spin");
    let kv_dir = PathBuf::from(text(kv, "path")).parent().map(PathBuf::from);
    let db_dir = PathBuf::from(text(db, "path")).parent().map(PathBuf::from);
    assert_eq!(kv_dir, db_dir, "one directory to back up");
}

#[test]
fn the_systemd_unit_and_proxies_point_at_what_exists() {
    let (_, unit) = deploy_file("livechat.service");
    let exec = unit
        .lines()
        .find_map(|line| line.strip_prefix("ExecStart="))
        .expect("the unit has an ExecStart");
    let config = exec
        .split_whitespace()
        .skip_while(|word| *word != "--runtime-config-file")
        .nth(1)
        .expect("ExecStart passes a runtime config");
    let in_repo = config
        .strip_prefix("/opt/livechat/")
        .expect("the unit runs from /opt/livechat (its WorkingDirectory)");
    assert!(workspace_root().join(in_repo).exists(), "{in_repo} exists");
    assert!(exec.contains("--listen 127.0.0.1:3000"));
    // Behind the proxy every request comes from 127.0.0.1 unless the app reads the header the
    // proxies below set.
    assert!(unit.contains("SPIN_VARIABLE_CLIENT_IP_HEADER=x-forwarded-for"));

    // Both proxies forward to the address the unit listens on, wait longer than a long-poll
    // (25 s) and set HSTS.
    let (_, caddy) = deploy_file("Caddyfile");
    let (_, nginx) = deploy_file("nginx.conf");
    assert!(nginx.contains("proxy_set_header X-Forwarded-For $remote_addr"));
    for proxy in [&caddy, &nginx] {
        assert!(proxy.contains("127.0.0.1:3000"));
        assert!(proxy.contains("Strict-Transport-Security"));
        assert!(proxy.contains("40s"));
    }
}

#[tokio::test]
async fn the_spinapp_manifest_binds_declared_variables_and_probes_a_route_the_app_answers() {
    let (path, text) = deploy_file("spinapp.yaml");
    let app: serde_yaml::Value = serde_yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is valid YAML: {e}", path.display()));
    assert_eq!(
        app["apiVersion"].as_str(),
        Some("core.spinkube.dev/v1alpha1")
    );
    assert_eq!(app["kind"].as_str(), Some("SpinApp"));
    let spec = &app["spec"];
    assert!(
        spec["replicas"].as_u64().is_some_and(|n| n >= 2),
        "more than one node"
    );

    let declared = declared_variables();
    let bound = spec["variables"].as_sequence().expect("spec.variables");
    for variable in bound {
        let name = variable["name"].as_str().expect("each variable has a name");
        assert!(declared.contains(name), "spin.toml declares `{name}`");
    }
    assert!(
        bound
            .iter()
            .any(|v| v["name"].as_str() == Some("client_ip_header")),
        "behind an Ingress the client address comes from a forwarded header"
    );

    // The stores match the many-node runtime config.
    let config = toml_file("runtime-config.toml");
    let runtime = &spec["runtimeConfig"];
    for (section, kind) in [
        ("keyValueStores", "key_value_store"),
        ("sqliteDatabases", "sqlite_database"),
    ] {
        let stores = runtime[section].as_sequence().expect(section);
        assert_eq!(stores.len(), 1, "{section}: only `default`");
        assert_eq!(stores[0]["name"].as_str(), Some("default"));
        assert_eq!(
            stores[0]["type"].as_str(),
            Some(self::text(store(&config, kind), "type"))
        );
    }

    // Kubernetes probes the path; the real app must answer it with 200.
    let probe = spec["checks"]["readiness"]["httpGet"]["path"]
        .as_str()
        .expect("a readiness probe path");
    assert_eq!(
        spec["checks"]["liveness"]["httpGet"]["path"].as_str(),
        Some(probe)
    );
    let app = spawn_app().await;
    let reply = app.get(probe).await;
    assert_eq!(reply.status, 200, "{probe}: {:?}", reply.body);
}
