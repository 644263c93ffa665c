//! Replay protection for signed webhooks whose signature covers a one-time token rather than the
//! body (Mailgun signs `timestamp + token`): a captured request could otherwise be posted again,
//! with another body, while its timestamp is fresh. Each (provider, token) is accepted once.
//!
//! The database decides, not a read in Rust: the insert either adds the row or, for a token seen
//! before, does nothing (`ON CONFLICT DO NOTHING RETURNING`), so two racing copies of one request
//! cannot both pass. Rows older than [`KEEP_MS`] are pruned: by then the signature's timestamp
//! is stale and the request is refused before its token is looked at.

use crate::channel::email::MAILGUN_MAX_SKEW_S;
use crate::store::{Database, DbError};

/// How long a token is remembered: twice the signature's freshness window, so a token is still
/// known for as long as its timestamp could pass the check (either side of now).
pub const KEEP_MS: i64 = 2 * MAILGUN_MAX_SKEW_S * 1000;

const PRUNE: &str = "DELETE FROM webhook_nonces WHERE seen_at < ?1";
const REMEMBER: &str = "INSERT INTO webhook_nonces (provider, nonce, seen_at) VALUES (?1, ?2, ?3)
     ON CONFLICT DO NOTHING RETURNING seen_at";
const FORGET: &str = "DELETE FROM webhook_nonces WHERE provider = ?1 AND nonce = ?2";

/// Records `nonce` for `provider`: `true` the first time, `false` when it was seen within
/// [`KEEP_MS`] (a replay). Prunes expired tokens first.
pub fn remember(
    db: &dyn Database,
    provider: &str,
    nonce: &str,
    now_ms: i64,
) -> Result<bool, DbError> {
    db.execute(PRUNE, &[(now_ms - KEEP_MS).into()])?;
    let inserted = db.execute(REMEMBER, &[provider.into(), nonce.into(), now_ms.into()])?;
    Ok(!inserted.is_empty())
}

/// Forgets `nonce` again, for a request that was remembered but then not accepted (a failure
/// while storing): the provider's retry of the very same request must not look like a replay.
pub fn forget(db: &dyn Database, provider: &str, nonce: &str) -> Result<(), DbError> {
    db.execute(FORGET, &[provider.into(), nonce.into()])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestHost;

    fn rows(host: &TestHost) -> i64 {
        host.ctx()
            .db
            .execute("SELECT COUNT(*) AS n FROM webhook_nonces", &[])
            .unwrap()
            .first()
            .unwrap()
            .i64("n")
            .unwrap()
    }

    #[test]
    fn a_token_is_accepted_once_per_provider() {
        let host = TestHost::new();
        let db = host.ctx().db;
        assert!(remember(db, "mailgun", "tok-1", 1_000).unwrap());
        assert!(!remember(db, "mailgun", "tok-1", 2_000).unwrap());
        assert!(remember(db, "mailgun", "tok-2", 2_000).unwrap());
        assert!(remember(db, "other", "tok-1", 2_000).unwrap());
        assert_eq!(rows(&host), 3);
    }

    #[test]
    fn tokens_are_pruned_once_their_signatures_are_stale_anyway() {
        let host = TestHost::new();
        let db = host.ctx().db;
        assert!(remember(db, "mailgun", "old", 0).unwrap());
        assert!(
            !remember(db, "mailgun", "old", KEEP_MS).unwrap(),
            "still known"
        );
        assert!(remember(db, "mailgun", "new", KEEP_MS + 1).unwrap());
        assert_eq!(rows(&host), 1, "the old token is gone");
        assert!(remember(db, "mailgun", "old", KEEP_MS + 2).unwrap());
    }

    #[test]
    fn a_forgotten_token_is_accepted_again() {
        let host = TestHost::new();
        let db = host.ctx().db;
        assert!(remember(db, "mailgun", "tok", 1).unwrap());
        forget(db, "mailgun", "tok").unwrap();
        assert!(remember(db, "mailgun", "tok", 2).unwrap());
        forget(db, "mailgun", "never-seen").unwrap();
    }
}
