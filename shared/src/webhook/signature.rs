//! How webhook deliveries are signed, and how a receiver checks them.
//!
//! Every attempt carries `Webhook-Timestamp` (unix seconds of that attempt) and
//! `Webhook-Signature: v1=<hex>`, where `<hex>` is the lower-case hex HMAC-SHA256 of
//! `"<timestamp>.<body>"` under the endpoint's secret (its UTF-8 bytes, exactly as the admin
//! sees it). The timestamp is inside the MAC so an old delivery cannot be replayed with a fresh
//! time; receivers refuse timestamps too far from their clock ([`DEFAULT_TOLERANCE_S`]).
//! The header may carry several space-separated `v1=` values (a receiver accepts any that
//! matches), which leaves room for signing with two secrets during a rotation later.

use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::channel::signature::{hex, hmac_sha256};

/// The signature scheme's version prefix in `Webhook-Signature`.
pub const VERSION: &str = "v1";
/// How far a receiver should let a delivery's timestamp be from its own clock.
pub const DEFAULT_TOLERANCE_S: i64 = 300;

/// `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn sign(secret: &str, timestamp_s: i64, body: &[u8]) -> String {
    format!("{VERSION}={}", hex(&mac(secret, timestamp_s, body)))
}

fn mac(secret: &str, timestamp_s: i64, body: &[u8]) -> [u8; 32] {
    let mut message = Vec::with_capacity(body.len() + 21);
    message.extend_from_slice(timestamp_s.to_string().as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    hmac_sha256(secret.as_bytes(), &message)
}

/// Why a delivery did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    #[error("no secret configured")]
    NoSecret,
    #[error("Webhook-Timestamp is not unix seconds")]
    BadTimestamp,
    #[error("Webhook-Timestamp is more than {0} s from now")]
    Stale(i64),
    #[error("no v1 signature matches")]
    Mismatch,
}

/// Checks one delivery as a receiver would: the timestamp within `tolerance_s` of `now_s`, and
/// some `v1=` value of `signature_header` equal (in constant time) to the expected MAC.
pub fn verify(
    secret: &str,
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now_s: i64,
    tolerance_s: i64,
) -> Result<(), VerifyError> {
    if secret.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let timestamp = timestamp_header
        .trim()
        .parse::<i64>()
        .map_err(|_| VerifyError::BadTimestamp)?;
    // Checked: the timestamp is the sender's text, and `now - i64::MIN` overflows.
    let skew = now_s.checked_sub(timestamp).and_then(i64::checked_abs);
    if skew.is_none_or(|skew| skew > tolerance_s) {
        return Err(VerifyError::Stale(tolerance_s));
    }
    let expected = hex(&mac(secret, timestamp, body));
    let matched = signature_header
        .split_whitespace()
        .filter_map(|part| part.split_once('='))
        .filter(|(version, _)| *version == VERSION)
        .any(|(_, given)| bool::from(given.as_bytes().ct_eq(expected.as_bytes())));
    if matched {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &str = "whsec_test_secret";
    const TIMESTAMP: i64 = 1_767_225_600;
    const BODY: &[u8] = br#"{"id":"wh_test","type":"ping"}"#;
    // Computed outside this code, with both of:
    //   printf '%s' '1767225600.{"id":"wh_test","type":"ping"}' \
    //     | openssl dgst -sha256 -hmac 'whsec_test_secret'
    //   python3 -c 'import hmac,hashlib; print(hmac.new(b"whsec_test_secret",
    //     b"1767225600.{\"id\":\"wh_test\",\"type\":\"ping\"}", hashlib.sha256).hexdigest())'
    const EXPECTED: &str = "932e16b33fa0705bf15425056225fc1cb7bda9581b0d01cd62be8d27ab1089f9";

    #[test]
    fn signs_like_openssl_and_python() {
        assert_eq!(sign(SECRET, TIMESTAMP, BODY), format!("v1={EXPECTED}"));
    }

    #[test]
    fn verifies_its_own_signature_and_refuses_tampering() {
        let header = sign(SECRET, TIMESTAMP, BODY);
        let ts = TIMESTAMP.to_string();
        assert_eq!(
            verify(SECRET, &ts, &header, BODY, TIMESTAMP + 10, 300),
            Ok(())
        );
        assert_eq!(
            verify(SECRET, &ts, &header, b"{}", TIMESTAMP, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify("other", &ts, &header, BODY, TIMESTAMP, 300),
            Err(VerifyError::Mismatch)
        );
        // The timestamp is signed: moving it breaks the signature, not just the window.
        let later = (TIMESTAMP + 1).to_string();
        assert_eq!(
            verify(SECRET, &later, &header, BODY, TIMESTAMP, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, &ts, &header, BODY, TIMESTAMP + 301, 300),
            Err(VerifyError::Stale(300))
        );
        assert_eq!(
            verify(SECRET, "soon", &header, BODY, TIMESTAMP, 300),
            Err(VerifyError::BadTimestamp)
        );
        assert_eq!(
            verify("", &ts, &header, BODY, TIMESTAMP, 300),
            Err(VerifyError::NoSecret)
        );
    }

    #[test]
    fn any_of_several_v1_values_may_match() {
        let header = format!("v1=00ff v0={EXPECTED} {}", sign(SECRET, TIMESTAMP, BODY));
        let ts = TIMESTAMP.to_string();
        assert_eq!(verify(SECRET, &ts, &header, BODY, TIMESTAMP, 300), Ok(()));
        let only_v0 = format!("v0={EXPECTED}");
        assert_eq!(
            verify(SECRET, &ts, &only_v0, BODY, TIMESTAMP, 300),
            Err(VerifyError::Mismatch)
        );
    }

    proptest! {
        #[test]
        fn a_signature_verifies_exactly_its_own_secret_time_and_body(
            secret in "[ -~]{1,64}",
            other in "[ -~]{1,64}",
            timestamp in 0i64..4_000_000_000,
            body in proptest::collection::vec(any::<u8>(), 0..512),
            flip in any::<usize>(),
        ) {
            let header = sign(&secret, timestamp, &body);
            let ts = timestamp.to_string();
            prop_assert_eq!(verify(&secret, &ts, &header, &body, timestamp, 0), Ok(()));
            if other != secret {
                prop_assert_eq!(
                    verify(&other, &ts, &header, &body, timestamp, 0),
                    Err(VerifyError::Mismatch)
                );
            }
            if !body.is_empty() {
                let mut changed = body.clone();
                let at = flip % changed.len();
                changed[at] ^= 1;
                prop_assert_eq!(
                    verify(&secret, &ts, &header, &changed, timestamp, 0),
                    Err(VerifyError::Mismatch)
                );
            }
        }
    }
}
