//! The `fermyon:spin@2.0.0` host interfaces, bound with `bindgen!` on the vendored WIT files
//! in `wit/` (Spin's published definitions; see `wit/README.md`).
//!
//! # Layout
//!
//! - [`key_value`]: `fermyon:spin/key-value`, backed by one SQLite file shared by processes.
//! - [`sqlite`]: `fermyon:spin/sqlite`, a new connection per `open`, as Spin does.
//! - [`variables`]: `fermyon:spin/variables`, resolving component variable templates.
//! - [`llm`]: `fermyon:spin/llm`, which has no model behind it and says so.

pub mod key_value;
pub mod llm;
pub mod sqlite;
pub mod variables;

use wasmtime::component::{HasSelf, Linker};

use crate::instance::InstanceState;

wasmtime::component::bindgen!({
    path: "wit",
    world: "fermyon:spin/test-host",
    imports: { default: async | trappable },
    with: {
        "fermyon:spin/key-value.store": key_value::StoreHandle,
        "fermyon:spin/sqlite.connection": sqlite::ConnectionHandle,
    },
    additional_derives: [PartialEq],
});

/// The `fermyon:spin@2.0.0` interfaces this host implements.
pub const SPIN_INTERFACES: &[&str] = &["key-value", "sqlite", "variables", "llm"];

/// Adds the Spin interfaces to `linker`.
pub fn add_to_linker(linker: &mut Linker<InstanceState>) -> anyhow::Result<()> {
    TestHost::add_to_linker::<InstanceState, HasSelf<InstanceState>>(linker, |state| state)
}
