//! Host capabilities the core needs besides the database, as small traits.
//!
//! Components implement them over `spin_sdk` (see `components/spin-host`); native tests over
//! in-memory maps and a controllable clock (see `testing`).

use thiserror::Error;

#[derive(Debug, Error)]
#[error("key-value store error: {0}")]
pub struct KvError(pub String);

/// Spin's key-value store: short-lived, hot state (change markers, throttles). Nothing in it
/// may be the only copy of anything a user was promised.
pub trait KeyValue {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError>;
}

/// Wall-clock time and waiting.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// Blocks this request (its own instance) for about `ms` milliseconds.
    fn sleep_ms(&self, ms: u64);
}

/// A cryptographically secure random source, for tokens and salts.
pub trait Entropy {
    fn fill(&self, buf: &mut [u8]);
}

/// Everything a use case may touch, borrowed for one request.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub db: &'a dyn crate::store::Database,
    pub kv: &'a dyn KeyValue,
    pub clock: &'a dyn Clock,
    pub entropy: &'a dyn Entropy,
}
