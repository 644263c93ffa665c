//! The Wasmtime engine, compilation and linking.
//!
//! One engine serves every [`App`](crate::App) in the process: the pooling allocator reserves
//! a large range of virtual memory per engine, so a test binary that loads many apps must not
//! create one engine each. The engine is configured like Spin's (`spin-core`): async support,
//! epoch interruption with a 10 ms tick driven by one background thread, and the pooling
//! allocator with Spin's limits (1,000 instances; `SPIN_MAX_INSTANCE_COUNT` changes that).
//! When the pooling allocator cannot reserve its memory the engine falls back to on-demand
//! allocation, as Spin does.
//!
//! Compiled components are cached twice: in memory per process (keyed by path, size and
//! modification time) so that each test's `App::load` does not recompile, and on disk through
//! Wasmtime's cache in `$SPIN_TEST_HOST_CACHE_DIR` (default: `<temp dir>/spin-test-host-cache`;
//! set it to `off` to disable) so that separate processes share the work.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::instance::InstanceState;
use crate::interfaces;

/// How often the epoch advances; request deadlines are checked at this granularity.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The process-wide engine (created, with its epoch ticker thread, on first use).
pub fn engine() -> anyhow::Result<Engine> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let engine = new_engine().map_err(|e| format!("{e:#}"))?;
            let weak = engine.weak();
            std::thread::Builder::new()
                .name("spin-test-host-epoch".into())
                .spawn(move || {
                    while let Some(engine) = weak.upgrade() {
                        engine.increment_epoch();
                        drop(engine);
                        std::thread::sleep(EPOCH_TICK);
                    }
                })
                .map_err(|e| format!("cannot start the epoch ticker thread: {e}"))?;
            Ok(engine)
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

fn new_engine() -> anyhow::Result<Engine> {
    let mut config = base_config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling_config()));
    match Engine::new(&config) {
        Ok(engine) => Ok(engine),
        Err(pooling_error) => {
            eprintln!(
                "spin-test-host: pooling allocator unavailable ({pooling_error:#}); using on-demand allocation"
            );
            Engine::new(&base_config()).context("cannot create the Wasmtime engine")
        }
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.async_support(true);
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    if let Some(cache) = disk_cache() {
        config.cache(Some(cache));
    }
    config
}

fn disk_cache() -> Option<wasmtime::Cache> {
    let dir = match std::env::var_os("SPIN_TEST_HOST_CACHE_DIR") {
        Some(dir) if dir == "off" || dir.is_empty() => return None,
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join("spin-test-host-cache"),
    };
    let mut cache_config = wasmtime::CacheConfig::new();
    cache_config.with_directory(&dir);
    match wasmtime::Cache::new(cache_config) {
        Ok(cache) => Some(cache),
        Err(e) => {
            eprintln!(
                "spin-test-host: compilation cache in {} disabled: {e:#}",
                dir.display()
            );
            None
        }
    }
}

/// Spin's pooling limits (`spin-core`), scaled by `SPIN_MAX_INSTANCE_COUNT`.
fn pooling_config() -> PoolingAllocationConfig {
    const MB: usize = 1 << 20;
    let max_instances: u32 = std::env::var("SPIN_MAX_INSTANCE_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(max_instances)
        .total_memories(max_instances)
        .total_tables(2 * max_instances)
        .total_stacks(max_instances)
        .total_core_instances(4 * max_instances)
        .table_elements(100_000)
        .max_component_instance_size(10 * MB)
        .max_core_instance_size(10 * MB)
        .max_core_instances_per_component(200)
        .max_tables_per_component(64)
        .max_memories_per_component(32)
        .max_tables_per_module(2)
        .max_memories_per_module(2)
        .max_memory_size(4 << 30)
        .linear_memory_keep_resident(2 * MB)
        .table_keep_resident(MB / 2);
    pooling
}

/// Compiles the component at `path`, or returns the copy compiled earlier in this process.
pub fn compile(engine: &Engine, path: &Path) -> anyhow::Result<Component> {
    struct Compiled {
        len: u64,
        modified: Option<SystemTime>,
        component: Component,
    }
    static COMPILED: OnceLock<Mutex<HashMap<PathBuf, Compiled>>> = OnceLock::new();

    let metadata = std::fs::metadata(path).with_context(|| {
        format!(
            "cannot read {} (has the component been built?)",
            path.display()
        )
    })?;
    let (len, modified) = (metadata.len(), metadata.modified().ok());
    // Held while compiling, so parallel loads of one app (tests) compile each file once;
    // Wasmtime already spreads one compilation over all cores.
    let mut compiled = COMPILED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(hit) = compiled.get(path)
        && hit.len == len
        && hit.modified == modified
        && modified.is_some()
    {
        return Ok(hit.component.clone());
    }
    let component = Component::from_file(engine, path)
        .with_context(|| format!("cannot compile {}", path.display()))?;
    compiled.insert(
        path.to_path_buf(),
        Compiled {
            len,
            modified,
            component: component.clone(),
        },
    );
    Ok(component)
}

/// The linker with everything this host provides: WASI 0.2 (CLI, clocks, filesystem, random,
/// sockets, I/O), `wasi:http` and the Spin interfaces.
pub fn linker(engine: &Engine) -> anyhow::Result<Linker<InstanceState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::add_only_http_to_linker_async(&mut linker)?;
    interfaces::add_to_linker(&mut linker)?;
    Ok(linker)
}

/// WASI packages provided (any `0.2.x` version; Wasmtime links compatible minor versions).
const WASI_INTERFACES: &[(&str, &[&str])] = &[
    (
        "wasi:cli",
        &[
            "environment",
            "exit",
            "stdin",
            "stdout",
            "stderr",
            "terminal-input",
            "terminal-output",
            "terminal-stdin",
            "terminal-stdout",
            "terminal-stderr",
        ],
    ),
    ("wasi:clocks", &["monotonic-clock", "wall-clock"]),
    ("wasi:filesystem", &["types", "preopens"]),
    ("wasi:io", &["error", "poll", "streams"]),
    ("wasi:random", &["random", "insecure", "insecure-seed"]),
    (
        "wasi:sockets",
        &[
            "network",
            "instance-network",
            "udp",
            "udp-create-socket",
            "tcp",
            "tcp-create-socket",
            "ip-name-lookup",
        ],
    ),
    ("wasi:http", &["types", "outgoing-handler"]),
];

/// Whether this host provides the import named `name` (e.g. `wasi:io/poll@0.2.6`).
pub fn is_supported_import(name: &str) -> bool {
    let (path, version) = name.split_once('@').unwrap_or((name, ""));
    let Some((package, interface)) = path.split_once('/') else {
        return false;
    };
    if package == "fermyon:spin" {
        return version == "2.0.0" && interfaces::SPIN_INTERFACES.contains(&interface);
    }
    version.starts_with("0.2.")
        && WASI_INTERFACES
            .iter()
            .any(|(p, names)| *p == package && names.contains(&interface))
}

/// Fails, naming the component and the interface, when `component` imports something this
/// host does not provide.
pub fn check_imports(
    engine: &Engine,
    component_id: &str,
    component: &Component,
) -> anyhow::Result<()> {
    for (name, _) in component.component_type().imports(engine) {
        if !is_supported_import(name) {
            bail!("component '{component_id}' imports '{name}', which this host does not support");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_imports_spin_sdk_components_use() {
        for name in [
            "wasi:io/poll@0.2.6",
            "wasi:cli/environment@0.2.0",
            "wasi:http/types@0.2.6",
            "wasi:http/outgoing-handler@0.2.6",
            "fermyon:spin/key-value@2.0.0",
            "fermyon:spin/sqlite@2.0.0",
            "fermyon:spin/variables@2.0.0",
            "fermyon:spin/llm@2.0.0",
        ] {
            assert!(is_supported_import(name), "{name}");
        }
        for name in [
            "fermyon:spin/mqtt@2.0.0",
            "fermyon:spin/key-value@3.0.0",
            "spin:sqlite/sqlite@3.0.0",
            "wasi:http/types@0.3.0-rc-2026-01-06",
            "wasi:keyvalue/store@0.2.0-draft2",
            "nonsense",
        ] {
            assert!(!is_supported_import(name), "{name}");
        }
    }
}
