//! `GET /api/reports/system`: the figures a supervisor watches to see the system is healthy.
//!
//! Queue length and oldest wait, replies that could not be delivered, outgoing webhooks that
//! fail, provider webhooks refused, and clients that went over a rate limit. "Last 24 h" spans
//! count whole hours for the counters (see `ops_counter`), exact times for rows.

use serde::Serialize;

use crate::ops_counter::{self, Counter};
use crate::store::{Database, DbError};

const DAY_MS: i64 = 24 * 3_600_000;

#[derive(Debug, Serialize, PartialEq)]
pub struct SystemReport {
    pub at: i64,
    pub queue: Queue,
    pub replies: Failures,
    pub webhooks: Failures,
    pub inbound_rejected_24h: InboundRejected,
    pub rate_limited_24h: RateLimited,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Queue {
    /// Conversations waiting for an operator now.
    pub waiting: i64,
    /// Since when the longest-waiting one waits (unix ms), and for how long (s).
    pub oldest_waiting_since: Option<i64>,
    pub longest_wait_s: Option<i64>,
}

/// Outgoing deliveries (replies through providers, or outgoing webhooks).
#[derive(Debug, Serialize, PartialEq)]
pub struct Failures {
    /// Failed for good in the last 24 h (retries exhausted or refused).
    pub failed_24h: i64,
    /// Not delivered yet, with at least one failed attempt: waiting for their next retry.
    pub retrying: i64,
}

/// Provider webhooks refused (bad signature or credentials, provider not configured).
#[derive(Debug, Serialize, PartialEq)]
pub struct InboundRejected {
    pub twilio: i64,
    pub meta: i64,
    pub postmark: i64,
    pub mailgun: i64,
    pub sendgrid: i64,
}

/// Times a client went over a limit (once per client and minute).
#[derive(Debug, Serialize, PartialEq)]
pub struct RateLimited {
    pub ip: i64,
    pub visitor: i64,
    pub operator: i64,
}

// Neither table has an index on done_at: these scan the outbox rows (a supervisor's occasional
// read, not a hot path).
const REPLIES: &str = "SELECT
      COALESCE(SUM(CASE WHEN done_at >= ?1 AND last_error IS NOT NULL THEN 1 ELSE 0 END), 0) AS failed,
      COALESCE(SUM(CASE WHEN done_at IS NULL AND last_error IS NOT NULL THEN 1 ELSE 0 END), 0) AS retrying
    FROM outbox";
const WEBHOOKS: &str = "SELECT
      COALESCE(SUM(CASE WHEN status = 'failed' AND done_at >= ?1 THEN 1 ELSE 0 END), 0) AS failed,
      COALESCE(SUM(CASE WHEN status = 'pending' AND last_error IS NOT NULL THEN 1 ELSE 0 END), 0) AS retrying
    FROM webhook_deliveries";

fn failures(db: &dyn Database, sql: &str, since: i64) -> Result<Failures, DbError> {
    let rows = db.execute(sql, &[since.into()])?;
    Ok(match rows.first() {
        Some(row) => Failures {
            failed_24h: row.i64("failed")?,
            retrying: row.i64("retrying")?,
        },
        None => Failures {
            failed_24h: 0,
            retrying: 0,
        },
    })
}

pub fn report(db: &dyn Database, now_ms: i64) -> Result<SystemReport, DbError> {
    let since = now_ms - DAY_MS;
    let (waiting, oldest, _) = crate::conversation::waiting_stats(db)?;
    let totals = ops_counter::totals_since(db, since)?;
    let count = |c: Counter| totals.iter().find(|(x, _)| *x == c).map_or(0, |(_, n)| *n);
    Ok(SystemReport {
        at: now_ms,
        queue: Queue {
            waiting,
            oldest_waiting_since: oldest,
            longest_wait_s: oldest.map(|since| ((now_ms - since) / 1000).max(0)),
        },
        replies: failures(db, REPLIES, since)?,
        webhooks: failures(db, WEBHOOKS, since)?,
        inbound_rejected_24h: InboundRejected {
            twilio: count(Counter::WebhookRejectedTwilio),
            meta: count(Counter::WebhookRejectedMeta),
            postmark: count(Counter::WebhookRejectedPostmark),
            mailgun: count(Counter::WebhookRejectedMailgun),
            sendgrid: count(Counter::WebhookRejectedSendgrid),
        },
        rate_limited_24h: RateLimited {
            ip: count(Counter::RateLimitedIp),
            visitor: count(Counter::RateLimitedVisitor),
            operator: count(Counter::RateLimitedOperator),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    #[test]
    fn an_empty_system_reports_zeros() {
        let db = TestDb::new();
        let report = report(&db, 1_767_225_600_000).unwrap();
        assert_eq!(report.queue.waiting, 0);
        assert_eq!(report.queue.longest_wait_s, None);
        assert_eq!(report.replies.failed_24h, 0);
        assert_eq!(report.webhooks.retrying, 0);
        assert_eq!(report.inbound_rejected_24h.twilio, 0);
    }

    #[test]
    fn counters_land_in_their_fields_and_age_out_after_a_day() {
        let db = TestDb::new();
        let now = 1_767_225_600_000;
        ops_counter::bump(&db, Counter::WebhookRejectedMeta, now - 1_000).unwrap();
        ops_counter::bump(&db, Counter::RateLimitedVisitor, now).unwrap();
        ops_counter::bump(&db, Counter::RateLimitedVisitor, now - 2 * DAY_MS).unwrap();
        let report = report(&db, now).unwrap();
        assert_eq!(report.inbound_rejected_24h.meta, 1);
        assert_eq!(report.inbound_rejected_24h.twilio, 0);
        assert_eq!(report.rate_limited_24h.visitor, 1);
    }
}
