//! Email webhooks and threading: Mailgun's signature (with freshness), Postmark's basic-auth
//! credentials, and the pieces replies need to thread (reply-address tokens, Message-ID lists,
//! `Re:` subjects, `References`).
//!
//! Threading order (PROTOCOLS.md): a token in the reply address first, then `In-Reply-To` /
//! `References` against the conversation's stored Message-IDs, else a new conversation. Never the
//! subject alone.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::signature::{hex, hmac_sha256, matches};

/// Mailgun requests older (or newer) than this are refused: a captured request cannot be
/// replayed later, and within the window each token is accepted once (the caller remembers them).
pub const MAILGUN_MAX_SKEW_S: i64 = 300;

/// Why a Mailgun request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No signature fields, or no signing key configured.
    Unsigned,
    /// The signature does not match.
    Forged,
    /// The timestamp is outside [`MAILGUN_MAX_SKEW_S`] of now.
    Stale,
}

/// Checks a Mailgun signature: hex(HMAC-SHA256(signing key, timestamp + token)), with the
/// timestamp (seconds) within [`MAILGUN_MAX_SKEW_S`] of `now_s`. The caller must also refuse a
/// token it has seen before.
pub fn verify_mailgun(
    signing_key: &str,
    timestamp: Option<&str>,
    token: Option<&str>,
    signature: Option<&str>,
    now_s: i64,
) -> Result<(), Refusal> {
    let (Some(timestamp), Some(token), Some(signature)) = (timestamp, token, signature) else {
        return Err(Refusal::Unsigned);
    };
    if signing_key.is_empty() || token.is_empty() {
        return Err(Refusal::Unsigned);
    }
    let expected = hex(&hmac_sha256(
        signing_key.as_bytes(),
        format!("{timestamp}{token}").as_bytes(),
    ));
    if !matches(&expected, &signature.trim().to_ascii_lowercase()) {
        return Err(Refusal::Forged);
    }
    let at: i64 = timestamp.trim().parse().map_err(|_| Refusal::Forged)?;
    if (now_s - at).abs() > MAILGUN_MAX_SKEW_S {
        return Err(Refusal::Stale);
    }
    Ok(())
}

/// Whether an `Authorization` header carries the Postmark webhook's configured `user:password`
/// (HTTP Basic, compared in constant time). Nothing verifies without configured credentials.
pub fn verify_basic_auth(configured: &str, authorization: Option<&str>) -> bool {
    let Some((scheme, encoded)) = authorization.and_then(|h| h.trim().split_once(' ')) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") || !configured.contains(':') {
        return false;
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default();
    matches(configured, &decoded)
}

/// The token in a reply address: `support+<token>@example.com` gives `<token>` (Postmark calls it
/// the mailbox hash). Tokens are random, never sequential ids.
pub fn reply_token(address: &str) -> Option<&str> {
    let address = address.trim();
    let address = match (address.rfind('<'), address.rfind('>')) {
        (Some(open), Some(close)) if open < close => &address[open + 1..close],
        _ => address,
    };
    let (local, _domain) = address.rsplit_once('@')?;
    let (_, token) = local.split_once('+')?;
    (!token.is_empty()).then_some(token)
}

/// The Message-IDs in a header value (`<a@b> <c@d>`), in order, without angle brackets.
pub fn message_ids(header: &str) -> Vec<&str> {
    header
        .split('<')
        .skip(1)
        .filter_map(|part| part.split_once('>').map(|(id, _)| id.trim()))
        .filter(|id| !id.is_empty() && id.contains('@'))
        .collect()
}

/// The subject of a reply: `Re: ` once, whatever case or stacking the original had.
pub fn reply_subject(subject: &str) -> String {
    let mut rest = subject.trim();
    while let Some(stripped) = rest
        .get(..3)
        .filter(|prefix| prefix.eq_ignore_ascii_case("re:"))
        .map(|_| rest[3..].trim_start())
    {
        rest = stripped;
    }
    if rest.is_empty() {
        "Re: (no subject)".to_owned()
    } else {
        format!("Re: {rest}")
    }
}

/// The `References` of a reply: the parent's references, then the parent's own id.
pub fn references(parent_references: &str, parent_id: &str) -> String {
    let mut ids: Vec<&str> = message_ids(parent_references);
    ids.retain(|id| *id != parent_id);
    ids.push(parent_id);
    ids.iter()
        .map(|id| format!("<{id}>"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(key: &str, timestamp: &str, token: &str) -> String {
        hex(&hmac_sha256(
            key.as_bytes(),
            format!("{timestamp}{token}").as_bytes(),
        ))
    }

    #[test]
    fn mailgun_signatures_must_match_and_be_fresh() {
        let key = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";
        let token = "e0b5477167110d68991efc6b9f89f0a11066af27834600e123";
        let signature = sign(key, "1770920772", token);
        let check = |ts: Option<&str>, tok: Option<&str>, sig: Option<&str>, now: i64| {
            verify_mailgun(key, ts, tok, sig, now)
        };
        assert_eq!(
            check(
                Some("1770920772"),
                Some(token),
                Some(&signature),
                1_770_920_800
            ),
            Ok(())
        );
        assert_eq!(
            check(
                Some("1770920772"),
                Some(token),
                Some(&signature.to_uppercase()),
                1_770_920_800
            ),
            Ok(())
        );
        assert_eq!(
            check(
                Some("1770920772"),
                Some(token),
                Some(&signature),
                1_770_920_772 + 301
            ),
            Err(Refusal::Stale)
        );
        assert_eq!(
            check(
                Some("1770920773"),
                Some(token),
                Some(&signature),
                1_770_920_800
            ),
            Err(Refusal::Forged)
        );
        assert_eq!(
            check(None, Some(token), Some(&signature), 0),
            Err(Refusal::Unsigned)
        );
        assert_eq!(
            verify_mailgun("", Some("1"), Some(token), Some(&sign("", "1", token)), 1),
            Err(Refusal::Unsigned)
        );
    }

    #[test]
    fn postmark_credentials_are_basic_auth() {
        let header = format!("Basic {}", STANDARD.encode("postmark:s3cret"));
        assert!(verify_basic_auth("postmark:s3cret", Some(&header)));
        assert!(!verify_basic_auth("postmark:other", Some(&header)));
        assert!(!verify_basic_auth("", Some(&header)));
        assert!(!verify_basic_auth("postmark:s3cret", Some("Bearer x")));
        assert!(!verify_basic_auth("postmark:s3cret", Some("Basic !!!")));
        assert!(!verify_basic_auth("postmark:s3cret", None));
    }

    #[test]
    fn threading_pieces() {
        assert_eq!(reply_token("support+Ab3x9@help.example.com"), Some("Ab3x9"));
        assert_eq!(
            reply_token("Help <support+Ab3x9@help.example.com>"),
            Some("Ab3x9")
        );
        assert_eq!(reply_token("support@help.example.com"), None);
        assert_eq!(reply_token("support+@help.example.com"), None);
        assert_eq!(
            message_ids("<a@x.com>  <b@y.com>\r\n <not-an-id> junk"),
            ["a@x.com", "b@y.com"]
        );
        assert_eq!(reply_subject("Order 42"), "Re: Order 42");
        assert_eq!(reply_subject("RE: re:Order 42"), "Re: Order 42");
        assert_eq!(reply_subject("  "), "Re: (no subject)");
        assert_eq!(reply_subject("Réunion"), "Re: Réunion");
        assert_eq!(references("<a@x> <b@x>", "c@x"), "<a@x> <b@x> <c@x>");
        assert_eq!(references("", "c@x"), "<c@x>");
    }
}
