//! What `App::load` refuses, with messages that name the culprit. The components here are
//! tiny hand-written ones in the WebAssembly text format (Wasmtime compiles text directly).

use std::path::Path;

use anyhow::bail;
use spin_test_host::{App, HostOptions};

const MANIFEST: &str = r#"
spin_manifest_version = 2
[application]
name = "broken"
[[trigger.http]]
route = "/..."
component = "broken"
[component.broken]
source = "broken.wat"
"#;

async fn load_error(dir: &Path, component_text: &str) -> anyhow::Result<String> {
    std::fs::write(dir.join("spin.toml"), MANIFEST)?;
    std::fs::write(dir.join("broken.wat"), component_text)?;
    let options = HostOptions::new(dir.join("spin.toml"), dir.join("data"));
    match App::load(options).await {
        Ok(_) => bail!("loading should have failed"),
        Err(error) => Ok(format!("{error:#}")),
    }
}

#[tokio::test]
async fn an_unsupported_import_is_named_with_its_component() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let message = load_error(
        dir.path(),
        r#"(component (import "fermyon:spin/mqtt@2.0.0" (instance)))"#,
    )
    .await?;
    assert!(
        message.contains(
            "component 'broken' imports 'fermyon:spin/mqtt@2.0.0', which this host does not support"
        ),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn a_component_without_the_http_handler_export_is_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let message = load_error(dir.path(), "(component)").await?;
    assert!(
        message.contains("component 'broken' does not export wasi:http/incoming-handler"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn a_missing_wasm_file_says_to_build_it() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("spin.toml"), MANIFEST)?;
    let options = HostOptions::new(dir.path().join("spin.toml"), dir.path().join("data"));
    let Err(error) = App::load(options).await else {
        bail!("loading should have failed");
    };
    let message = format!("{error:#}");
    assert!(
        message.contains("has the component been built?"),
        "{message}"
    );
    Ok(())
}
