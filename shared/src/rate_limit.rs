//! Request-rate limits per client address, per visitor and per operator, in the key-value
//! store; and [`first_in_window`], which lets a caller count an event once per client address
//! and minute.
//!
//! A fixed one-minute window per subject: the window number (unix minute) and the count live in
//! one key per subject (`rl:<kind>:<subject>`), overwritten when a new minute starts. One key
//! per subject rather than one per subject and minute, because Spin's key-value interface has no
//! expiry: per-minute keys would pile up forever in the embedded store.
//!
//! # Which subjects get keys
//! Keys never expire, so a subject must be something a client cannot mint at will. A
//! [`Subject`] is a client address (IPv6 bucketed by its /64, which one client usually holds
//! whole, see [`address_bucket`]), or the id of a visitor or operator whose token has already
//! authenticated. The address limit is checked before anything else; the visitor and operator
//! limits only after authentication, so a random token costs one address check and a database
//! read, and creates no key. Ids are not secrets; tokens never become keys.
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

use crate::host::KeyValue;
use std::net::IpAddr;

const WINDOW_MS: i64 = 60_000;

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Every public request from one client address.
    Ip,
    /// A visitor's writes (messages, typing, uploads, read receipts, ...), per visitor.
    Visitor,
    /// An operator's state-changing requests.
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

/// Whom a limit counts. Visitor and operator ids come only from an authenticated token (see
/// the module doc): a token that does not authenticate has no subject besides its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// A client address as the host saw it.
    Address(&'a str),
    /// The contact id an authenticated visitor token belongs to.
    Visitor(i64),
    /// An authenticated operator's id.
    Operator(i64),
}

impl Subject<'_> {
    pub fn kind(self) -> Kind {
        match self {
            Subject::Address(_) => Kind::Ip,
            Subject::Visitor(_) => Kind::Visitor,
            Subject::Operator(_) => Kind::Operator,
        }
    }

    fn key(self) -> String {
        match self {
            Subject::Address(address) => format!("rl:ip:{}", address_bucket(address)),
            Subject::Visitor(id) => format!("rl:visitor:{id}"),
            Subject::Operator(id) => format!("rl:operator:{id}"),
        }
    }
}

/// The part of a client address a limit counts: an IPv6 address by its /64 prefix (a single
/// host is usually given a whole /64, so counting full addresses would let it rotate through
/// 2^64 budgets), written `<prefix>::/64`; an IPv4 address (also one mapped into IPv6) as is.
/// Text that is not an IP address is kept as it is.
pub fn address_bucket(address: &str) -> String {
    let bare = address.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        },
        Err(_) => address.to_owned(),
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
    subject: Subject<'_>,
    limit: PerMinute,
) -> Result<Decision, crate::host::KvError> {
    if limit.0 == 0 {
        return Ok(Decision::Allowed);
    }
    let key = subject.key();
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

/// Whether this is the first time in the current minute that `event` happens for the client
/// at `address` (bucketed like the address limit), marking it so if it is. For events a caller
/// wants to count in SQLite without letting a flood turn into SQLite writes: a repeat costs
/// one `get`, the first in a minute one `get` and one `set`. One key per event and address
/// (`rl:once:<event>:<address>`), overwritten each minute, as for the limits.
pub fn first_in_window(
    kv: &dyn KeyValue,
    now_ms: i64,
    event: &str,
    address: &str,
) -> Result<bool, crate::host::KvError> {
    let key = format!("rl:once:{event}:{}", address_bucket(address));
    let window = now_ms.div_euclid(WINDOW_MS).to_string();
    if kv.get(&key)?.as_deref() == Some(window.as_bytes()) {
        return Ok(false);
    }
    kv.set(&key, window.as_bytes())?;
    Ok(true)
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
                check(&kv, MINUTE + 1_000, Subject::Address("10.0.0.1"), limit).unwrap(),
                Decision::Allowed
            );
        }
        assert_eq!(
            check(&kv, MINUTE + 20_500, Subject::Address("10.0.0.1"), limit).unwrap(),
            Decision::Refused {
                retry_after_s: 40,
                first: true
            }
        );
        assert_eq!(
            check(&kv, MINUTE + 59_999, Subject::Address("10.0.0.1"), limit).unwrap(),
            Decision::Refused {
                retry_after_s: 1,
                first: false
            },
            "only the first refusal in a window is marked first"
        );
        assert_eq!(
            check(&kv, MINUTE + 1_000, Subject::Address("10.0.0.2"), limit).unwrap(),
            Decision::Allowed,
            "another address has its own budget"
        );
        assert_eq!(
            check(&kv, MINUTE + 60_000, Subject::Address("10.0.0.1"), limit).unwrap(),
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
                check(&kv, MINUTE, Subject::Visitor(7), off).unwrap(),
                Decision::Allowed
            );
        }
        assert_eq!(PerMinute::from_setting(Kind::Visitor, "").get(), 120);
        assert_eq!(PerMinute::from_setting(Kind::Ip, "lots").get(), 1_200);
        assert_eq!(PerMinute::from_setting(Kind::Operator, "-5").get(), 600);
        assert_eq!(PerMinute::from_setting(Kind::Operator, " 42 ").get(), 42);
    }

    #[test]
    fn visitors_and_operators_are_counted_by_id_and_kinds_do_not_share_budgets() {
        let kv = MemoryKv::default();
        let limit = PerMinute(1);
        assert_eq!(
            check(&kv, MINUTE, Subject::Visitor(7), limit).unwrap(),
            Decision::Allowed
        );
        assert_eq!(
            check(&kv, MINUTE, Subject::Operator(7), limit).unwrap(),
            Decision::Allowed
        );
        assert!(matches!(
            check(&kv, MINUTE, Subject::Visitor(7), limit).unwrap(),
            Decision::Refused { .. }
        ));
        let mut keys = kv.keys();
        keys.sort();
        assert_eq!(keys, ["rl:operator:7", "rl:visitor:7"]);
    }

    #[test]
    fn ipv6_addresses_share_a_budget_per_64_and_ipv4_is_per_address() {
        let kv = MemoryKv::default();
        let limit = PerMinute(2);
        for address in ["2001:db8:1:2::1", "[2001:db8:1:2:ffff::9]"] {
            assert_eq!(
                check(&kv, MINUTE, Subject::Address(address), limit).unwrap(),
                Decision::Allowed
            );
        }
        assert!(
            matches!(
                check(&kv, MINUTE, Subject::Address("2001:db8:1:2:abcd::"), limit).unwrap(),
                Decision::Refused { .. }
            ),
            "another address in the same /64 shares its budget"
        );
        assert_eq!(
            check(&kv, MINUTE, Subject::Address("2001:db8:1:3::1"), limit).unwrap(),
            Decision::Allowed,
            "the next /64 has its own"
        );
        assert_eq!(address_bucket("2001:DB8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(address_bucket("203.0.113.9"), "203.0.113.9");
        assert_eq!(address_bucket("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(address_bucket("unknown"), "unknown");
        assert_eq!(address_bucket("[::1]"), "0:0:0:0::/64");
    }

    #[test]
    fn an_event_is_first_once_per_address_bucket_and_minute() {
        let kv = MemoryKv::default();
        assert!(first_in_window(&kv, MINUTE, "e", "10.0.0.1").unwrap());
        assert!(!first_in_window(&kv, MINUTE + 59_999, "e", "10.0.0.1").unwrap());
        assert!(first_in_window(&kv, MINUTE, "other", "10.0.0.1").unwrap());
        assert!(first_in_window(&kv, MINUTE, "e", "10.0.0.2").unwrap());
        assert!(first_in_window(&kv, MINUTE, "e", "2001:db8::1").unwrap());
        assert!(!first_in_window(&kv, MINUTE, "e", "2001:db8::2").unwrap());
        assert!(first_in_window(&kv, MINUTE + 60_000, "e", "10.0.0.1").unwrap());
        assert_eq!(kv.keys().len(), 4, "{:?}", kv.keys());
    }

    #[test]
    fn a_foreign_value_reads_as_an_empty_window() {
        let kv = MemoryKv::default();
        kv.set("rl:ip:a", b"garbage").unwrap();
        assert_eq!(
            check(&kv, MINUTE, Subject::Address("a"), PerMinute(1)).unwrap(),
            Decision::Allowed
        );
    }
}
