//! Failure throttles for guessable secrets (passwords, the setup token), in the key-value store.
//!
//! A fixed window per key: after [`Limit::failures`] failures within [`Limit::window_ms`], the
//! key is refused until the window ends. Counting is read-then-write, so racing requests may
//! each count once where a transaction would count twice: the limit can be exceeded by the
//! number of requests in flight at once, which is fine for slowing guessing down and is the
//! price of keeping this out of SQLite's single writer. Nothing here is durable state.

use crate::host::Ctx;

#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub failures: u32,
    pub window_ms: i64,
}

/// Sign-in failures per email address: 10 per 15 minutes.
pub const PER_ACCOUNT: Limit = Limit {
    failures: 10,
    window_ms: 15 * 60 * 1000,
};
/// Sign-in or setup failures per client address: 30 per 15 minutes (offices share addresses).
pub const PER_CLIENT: Limit = Limit {
    failures: 30,
    window_ms: 15 * 60 * 1000,
};

fn read(ctx: &Ctx<'_>, key: &str) -> Option<(u32, i64)> {
    let value = ctx.kv.get(key).ok().flatten()?;
    let text = String::from_utf8(value).ok()?;
    let (count, start) = text.split_once(':')?;
    Some((count.parse().ok()?, start.parse().ok()?))
}

/// Seconds until `key` may try again, if it is over `limit` now.
pub fn blocked_for(ctx: &Ctx<'_>, key: &str, limit: Limit) -> Option<i64> {
    let now = ctx.clock.now_ms();
    let (count, start) = read(ctx, key)?;
    let ends = start + limit.window_ms;
    (count >= limit.failures && now < ends).then(|| ((ends - now) + 999) / 1000)
}

/// Counts one failure for `key`.
pub fn record_failure(ctx: &Ctx<'_>, key: &str, limit: Limit) {
    let now = ctx.clock.now_ms();
    let (count, start) = match read(ctx, key) {
        Some((count, start)) if now < start + limit.window_ms => (count + 1, start),
        _ => (1, now),
    };
    let _ = ctx.kv.set(key, format!("{count}:{start}").as_bytes());
}

/// Forgets the failures of `key` (after a success).
pub fn reset(ctx: &Ctx<'_>, key: &str) {
    let _ = ctx.kv.set(key, b"0:0");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestHost;

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let limit = Limit {
            failures: 3,
            window_ms: 60_000,
        };
        for _ in 0..2 {
            record_failure(&ctx, "k", limit);
        }
        assert_eq!(blocked_for(&ctx, "k", limit), None);
        record_failure(&ctx, "k", limit);
        assert_eq!(blocked_for(&ctx, "k", limit), Some(60));
        host.clock.advance(59_500);
        assert_eq!(blocked_for(&ctx, "k", limit), Some(1));
        host.clock.advance(500);
        assert_eq!(blocked_for(&ctx, "k", limit), None);
        record_failure(&ctx, "k", limit);
        assert_eq!(
            blocked_for(&ctx, "k", limit),
            None,
            "a new window starts from one"
        );
        reset(&ctx, "k");
        assert_eq!(blocked_for(&ctx, "other", limit), None);
    }
}
