//! Counters of operational events that leave no row of their own: webhooks refused for a bad
//! signature or credentials, clients going over a rate limit.
//!
//! One row per counter and UTC hour in `ops_counters` (migration 0012), bumped by an upsert, so
//! concurrent requests on any node count exactly and a supervisor can sum any recent span. The
//! names are a closed set ([`Counter`]): nothing from a request becomes a counter name.

use crate::store::{Database, DbError};

const HOUR_MS: i64 = 3_600_000;

/// Every counter the app keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// A provider's webhook refused: bad or missing signature or credentials, or the provider
    /// is not configured.
    WebhookRejectedTwilio,
    WebhookRejectedMeta,
    WebhookRejectedPostmark,
    WebhookRejectedMailgun,
    WebhookRejectedSendgrid,
    /// A subject's first refusal in a rate-limit window (once per subject and minute, see
    /// `rate_limit`).
    RateLimitedIp,
    RateLimitedVisitor,
    RateLimitedOperator,
}

impl Counter {
    pub const ALL: [Counter; 8] = [
        Counter::WebhookRejectedTwilio,
        Counter::WebhookRejectedMeta,
        Counter::WebhookRejectedPostmark,
        Counter::WebhookRejectedMailgun,
        Counter::WebhookRejectedSendgrid,
        Counter::RateLimitedIp,
        Counter::RateLimitedVisitor,
        Counter::RateLimitedOperator,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Counter::WebhookRejectedTwilio => "webhook_rejected.twilio",
            Counter::WebhookRejectedMeta => "webhook_rejected.meta",
            Counter::WebhookRejectedPostmark => "webhook_rejected.postmark",
            Counter::WebhookRejectedMailgun => "webhook_rejected.mailgun",
            Counter::WebhookRejectedSendgrid => "webhook_rejected.sendgrid",
            Counter::RateLimitedIp => "rate_limited.ip",
            Counter::RateLimitedVisitor => "rate_limited.visitor",
            Counter::RateLimitedOperator => "rate_limited.operator",
        }
    }
}

const BUMP: &str = "INSERT INTO ops_counters (name, hour, count) VALUES (?1, ?2, 1)
     ON CONFLICT (name, hour) DO UPDATE SET count = count + 1";
const SINCE: &str =
    "SELECT name, SUM(count) AS total FROM ops_counters WHERE hour >= ?1 GROUP BY name";

/// Counts one event of `counter` in the hour of `now_ms`.
pub fn bump(db: &dyn Database, counter: Counter, now_ms: i64) -> Result<(), DbError> {
    db.execute(
        BUMP,
        &[counter.name().into(), now_ms.div_euclid(HOUR_MS).into()],
    )?;
    Ok(())
}

/// Every counter's total over the hours that overlap `[since_ms, now]` (whole hours: the first
/// hour counts in full), zero for counters with no row.
pub fn totals_since(db: &dyn Database, since_ms: i64) -> Result<Vec<(Counter, i64)>, DbError> {
    let rows = db.execute(SINCE, &[since_ms.div_euclid(HOUR_MS).into()])?;
    let mut totals: Vec<(Counter, i64)> = Counter::ALL.iter().map(|c| (*c, 0)).collect();
    for row in rows.iter() {
        let name = row.str("name")?;
        let total = row.i64("total")?;
        if let Some(entry) = totals.iter_mut().find(|(c, _)| c.name() == name) {
            entry.1 = total;
        }
    }
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    #[test]
    fn bumps_count_per_hour_and_sum_over_a_span() {
        let db = TestDb::new();
        let now = 1_767_225_600_000 + 30 * 60_000;
        bump(&db, Counter::WebhookRejectedTwilio, now - 3 * HOUR_MS).unwrap();
        bump(&db, Counter::WebhookRejectedTwilio, now).unwrap();
        bump(&db, Counter::WebhookRejectedTwilio, now + 1).unwrap();
        bump(&db, Counter::RateLimitedIp, now).unwrap();
        let totals = totals_since(&db, now - HOUR_MS).unwrap();
        let get = |c: Counter| totals.iter().find(|(x, _)| *x == c).map(|(_, n)| *n);
        assert_eq!(get(Counter::WebhookRejectedTwilio), Some(2));
        assert_eq!(get(Counter::RateLimitedIp), Some(1));
        assert_eq!(get(Counter::WebhookRejectedMeta), Some(0));
        assert_eq!(totals.len(), Counter::ALL.len());
        let all = totals_since(&db, now - 24 * HOUR_MS).unwrap();
        assert_eq!(
            all.iter()
                .find(|(c, _)| *c == Counter::WebhookRejectedTwilio)
                .map(|(_, n)| *n),
            Some(3)
        );
    }

    #[test]
    fn names_are_distinct() {
        let mut names: Vec<&str> = Counter::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Counter::ALL.len());
    }
}
