//! Request-rate limits per client address, per visitor and per operator session, in the
//! key-value store.
//!
//! A fixed one-minute window per subject: the window number (unix minute) and the count live in
//! one key per subject (`rl:<kind>:<subject>`), overwritten when a new minute starts. One key
//! per subject rather than one per subject and minute, because Spin's key-value interface has no
//! expiry: per-minute keys would pile up forever in the embedded store.
//!
//! # Accuracy, races and cost
//! - Counting is read-then-write (the interface has no atomic increment): requests racing on the
//!   same subject may each read the same count, so a burst can pass the limit by the number of
//!   requests in flight at once for that subject. On many nodes sharing Redis the same holds
//!   across nodes. That is the price of one `get` + one `set` per check and no SQLite write; a
//!   limit here slows abuse down, it is not an exact quota.
//! - A fixed window lets a client send up to twice the limit across a minute boundary (the end
//!   of one window and the start of the next). A sliding window would cost a second `get`.
//! - A refused request costs one `get`; only the first refusal in a window writes (so the caller
//!   can count "a client went over its limit" once per client and minute, see [`Decision`]).
//! - A key-value failure lets the request through (and the caller logs it): the limiter guards
//!   capacity, it must not take the app down with the store.
//! - Subjects that are secrets (visitor tokens, session tokens) are hashed before they become
//!   keys: the store may be a shared Redis.

use crate::channel::signature::sha256_hex;
use crate::host::KeyValue;

const WINDOW_MS: i64 = 60_000;

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Every public request from one client address.
    Ip,
    /// A visitor's writes (messages, typing, uploads, read receipts, ...), per visitor token.
    Visitor,
    /// An operator session's state-changing requests.
    Operator,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ip => "ip",
            Kind::Visitor => "visitor",
            Kind::Operator => "operator",
        }
    }

    /// The Spin variable that sets this limit (requests per minute; `0` turns it off).
    pub fn variable(self) -> &'static str {
        match self {
            Kind::Ip => "rate_limit_ip_per_minute",
            Kind::Visitor => "rate_limit_visitor_per_minute",
            Kind::Operator => "rate_limit_operator_per_minute",
        }
    }

    /// The limit when the variable is unset: room for a busy office behind one NAT address
    /// (IP), a visitor typing and writing fast (visitor), an operator working several chats at
    /// once (operator).
    pub fn default_per_minute(self) -> u32 {
        match self {
            Kind::Ip => 1_200,
            Kind::Visitor => 120,
            Kind::Operator => 600,
        }
    }

    /// The ops counter bumped when a subject first goes over this limit in a window.
    pub fn counter(self) -> crate::ops_counter::Counter {
        use crate::ops_counter::Counter;
        match self {
            Kind::Ip => Counter::RateLimitedIp,
            Kind::Visitor => Counter::RateLimitedVisitor,
            Kind::Operator => Counter::RateLimitedOperator,
        }
    }
}

/// Requests per minute; zero means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerMinute(u32);

impl PerMinute {
    /// The limit from a variable's text: a whole number (`0` = off), or the kind's default when
    /// the text is empty or not a number (a typo must not switch a limit off).
    pub fn from_setting(kind: Kind, text: &str) -> PerMinute {
        PerMinute(
            text.trim()
                .parse::<u32>()
                .unwrap_or_else(|_| kind.default_per_minute()),
        )
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Refused {
        /// Seconds until the window ends (at least 1), for `Retry-After`.
        retry_after_s: i64,
        /// Whether this is the subject's first refusal in the window (count it once).
        first: bool,
    },
}

/// The key of `subject` under `kind`; secrets are hashed (see the module doc).
fn key(kind: Kind, subject: &str) -> String {
    match kind {
        Kind::Ip => format!("rl:ip:{subject}"),
        Kind::Visitor | Kind::Operator => {
            let digest = sha256_hex(subject.as_bytes());
            format!("rl:{}:{}", kind.as_str(), &digest[..32])
        }
    }
}

fn read(kv: &dyn KeyValue, key: &str) -> Result<Option<(i64, u32)>, crate::host::KvError> {
    let Some(value) = kv.get(key)? else {
        return Ok(None);
    };
    // A value this module did not write reads as an empty window.
    let parsed = std::str::from_utf8(&value)
        .ok()
        .and_then(|text| text.split_once(':'))
        .and_then(|(window, count)| Some((window.parse().ok()?, count.parse().ok()?)));
    Ok(parsed)
}

/// Counts one request of `subject` against `limit` at `now_ms`.
pub fn check(
    kv: &dyn KeyValue,
    now_ms: i64,
    kind: Kind,
    subject: &str,
    limit: PerMinute,
) -> Result<Decision, crate::host::KvError> {
    if limit.0 == 0 {
        return Ok(Decision::Allowed);
    }
    let key = key(kind, subject);
    let window = now_ms.div_euclid(WINDOW_MS);
    let count = match read(kv, &key)? {
        Some((w, count)) if w == window => count,
        _ => 0,
    };
    if count >= limit.0 {
        let first = count == limit.0;
        if first {
            // Marks the window as already counted; later refusals only read.
            kv.set(&key, format!("{window}:{}", count + 1).as_bytes())?;
        }
        let ends = (window + 1) * WINDOW_MS;
        let retry_after_s = ((ends - now_ms) + 999) / 1000;
        return Ok(Decision::Refused {
            retry_after_s: retry_after_s.max(1),
            first,
        });
    }
    kv.set(&key, format!("{window}:{}", count + 1).as_bytes())?;
    Ok(Decision::Allowed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::KvError;
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// A key-value store that can list its keys.
    #[derive(Default)]
    struct MemoryKv(RefCell<HashMap<String, Vec<u8>>>);

    impl MemoryKv {
        fn keys(&self) -> Vec<String> {
            self.0.borrow().keys().cloned().collect()
        }
    }

    impl KeyValue for MemoryKv {
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
            Ok(self.0.borrow().get(key).cloned())
        }
        fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
            self.0.borrow_mut().insert(key.to_owned(), value.to_vec());
            Ok(())
        }
    }

    const MINUTE: i64 = 1_700_000_040_000; // a minute boundary

    #[test]
    fn refuses_past_the_limit_until_the_minute_ends() {
        let kv = MemoryKv::default();
        let limit = PerMinute(3);
        for _ in 0..3 {
            assert_eq!(
                check(&kv, MINUTE + 1_000, Kind::Ip, "10.0.0.1", limit).unwrap(),
                Decision::Allowed
            );
        }
        assert_eq!(
            check(&kv, MINUTE + 20_500, Kind::Ip, "10.0.0.1", limit).unwrap(),
            Decision::Refused {
                retry_after_s: 40,
                first: true
            }
        );
        assert_eq!(
            check(&kv, MINUTE + 59_999, Kind::Ip, "10.0.0.1", limit).unwrap(),
            Decision::Refused {
                retry_after_s: 1,
                first: false
            },
            "only the first refusal in a window is marked first"
        );
        assert_eq!(
            check(&kv, MINUTE + 1_000, Kind::Ip, "10.0.0.2", limit).unwrap(),
            Decision::Allowed,
            "another address has its own budget"
        );
        assert_eq!(
            check(&kv, MINUTE + 60_000, Kind::Ip, "10.0.0.1", limit).unwrap(),
            Decision::Allowed,
            "a new minute starts from zero"
        );
    }

    #[test]
    fn zero_turns_a_limit_off_and_bad_settings_keep_the_default() {
        let kv = MemoryKv::default();
        let off = PerMinute::from_setting(Kind::Visitor, "0");
        for _ in 0..1_000 {
            assert_eq!(
                check(&kv, MINUTE, Kind::Visitor, "t", off).unwrap(),
                Decision::Allowed
            );
        }
        assert_eq!(PerMinute::from_setting(Kind::Visitor, "").get(), 120);
        assert_eq!(PerMinute::from_setting(Kind::Ip, "lots").get(), 1_200);
        assert_eq!(PerMinute::from_setting(Kind::Operator, "-5").get(), 600);
        assert_eq!(PerMinute::from_setting(Kind::Operator, " 42 ").get(), 42);
    }

    #[test]
    fn secret_subjects_are_hashed_and_kinds_do_not_share_budgets() {
        let kv = MemoryKv::default();
        let limit = PerMinute(1);
        let token = "visitor-token-secret";
        assert_eq!(
            check(&kv, MINUTE, Kind::Visitor, token, limit).unwrap(),
            Decision::Allowed
        );
        assert_eq!(
            check(&kv, MINUTE, Kind::Operator, token, limit).unwrap(),
            Decision::Allowed
        );
        assert!(matches!(
            check(&kv, MINUTE, Kind::Visitor, token, limit).unwrap(),
            Decision::Refused { .. }
        ));
        assert!(
            !kv.keys().iter().any(|k| k.contains(token)),
            "a token never becomes a key: {:?}",
            kv.keys()
        );
    }

    #[test]
    fn a_foreign_value_reads_as_an_empty_window() {
        let kv = MemoryKv::default();
        kv.set("rl:ip:a", b"garbage").unwrap();
        assert_eq!(
            check(&kv, MINUTE, Kind::Ip, "a", PerMinute(1)).unwrap(),
            Decision::Allowed
        );
    }
}
