//! Every signature and secret check: a valid one verifies, any one-byte change of what it
//! covers fails, published vectors pass, and no header value panics a check.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use shared::channel::email::{self, Refusal};
use shared::channel::signature::{hex, hmac_sha256, matches, sha256_hex};
use shared::channel::{meta, twilio};
use shared::identity::expected_hash;
use shared::secret::secrets_match;
use shared::webhook::signature::{self as outgoing, VerifyError};

use crate::config;
use crate::inputs::{hostile_bytes, hostile_text};
use crate::requests::Db;

/// The host a use case needs, natively: a fresh database, a map for key-value, a fixed clock
/// and counting entropy.
struct Host {
    db: Db,
    kv: Kv,
}

#[derive(Default)]
struct Kv(std::cell::RefCell<std::collections::HashMap<String, Vec<u8>>>);

impl shared::host::KeyValue for Kv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, shared::host::KvError> {
        Ok(self.0.borrow().get(key).cloned())
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), shared::host::KvError> {
        self.0.borrow_mut().insert(key.to_owned(), value.to_vec());
        Ok(())
    }
}

struct Clock;

impl shared::host::Clock for Clock {
    fn now_ms(&self) -> i64 {
        1_767_225_600_000
    }
    fn sleep_ms(&self, _ms: u64) {}
}

#[derive(Default)]
struct Entropy(std::cell::Cell<u8>);

impl shared::host::Entropy for Entropy {
    fn fill(&self, buf: &mut [u8]) {
        for b in buf {
            self.0.set(self.0.get().wrapping_add(1));
            *b = self.0.get();
        }
    }
}

thread_local! {
    static HOST: Host = Host { db: Db::new(), kv: Kv::default() };
    static ENTROPY: Entropy = Entropy::default();
}

/// `text` with the byte at `at` (mod its length) changed to `to` (when that changes it), or
/// `None` when there is nothing to change or the result is not UTF-8.
fn changed(text: &str, at: usize, to: u8) -> Option<String> {
    let mut bytes = text.as_bytes().to_vec();
    if bytes.is_empty() {
        return None;
    }
    let at = at % bytes.len();
    if bytes[at] == to {
        return None;
    }
    bytes[at] = to;
    String::from_utf8(bytes).ok()
}

fn changed_bytes(bytes: &[u8], at: usize, to: u8) -> Option<Vec<u8>> {
    changed_owned(bytes.to_vec(), at, to)
}

fn changed_owned(mut bytes: Vec<u8>, at: usize, to: u8) -> Option<Vec<u8>> {
    if bytes.is_empty() {
        return None;
    }
    let at = at % bytes.len();
    (bytes[at] != to).then(|| {
        bytes[at] = to;
        bytes
    })
}

fn twilio_example() -> Vec<(String, String)> {
    [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect()
}

/// PROTOCOLS.md's Twilio vectors, through the verifier rather than the signer.
#[test]
fn twilios_published_vectors_verify() {
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    for header in [
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
        "kvajT1Ptam85bY51eRf/AJRuM3w=",
    ] {
        assert!(twilio::verify_form(
            "12345",
            url,
            &twilio_example(),
            Some(header)
        ));
        assert!(!twilio::verify_form(
            "12346",
            url,
            &twilio_example(),
            Some(header)
        ));
    }
}

/// GitHub's published `X-Hub-Signature-256` vector (the same scheme as Meta's).
#[test]
fn the_published_hub_signature_vector_verifies() {
    let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert!(meta::verify(
        "It's a Secret to Everybody",
        b"Hello, World!",
        Some(header)
    ));
}

proptest! {
    #![proptest_config(config(512))]

    /// Twilio: the signature over generated params and URL verifies (in any wire order, with
    /// or without the default port), and a change to one byte of the URL, a name, a value,
    /// the token or the signature fails.
    #[test]
    fn twilio_signatures_cover_url_params_and_token(
        token in "[0-9a-f]{32}",
        host in "[a-z]{1,12}\\.example\\.com",
        path in "/[a-zA-Z0-9/_.-]{0,30}(\\?[a-z]{1,5}=[a-z0-9]{1,5})?",
        params in proptest::collection::vec(("[A-Za-z][A-Za-z0-9]{0,15}", hostile_text(30)), 1..10),
        which in any::<usize>(),
        at in any::<usize>(),
        to in 0x20u8..0x7f,
    ) {
        let url = format!("https://{host}{path}");
        let header = twilio::signature(&token, &url, &params);
        prop_assert!(twilio::verify_form(&token, &url, &params, Some(&header)));
        let mut reversed = params.clone();
        reversed.reverse();
        prop_assert!(twilio::verify_form(&token, &url, &reversed, Some(&header)));
        let with_port = format!("https://{host}:443{path}");
        prop_assert!(twilio::verify_form(&token, &with_port, &params, Some(&header)));
        prop_assert!(!twilio::verify_form("", &url, &params, Some(&header)));

        if let Some(other) = changed(&url, at, to) {
            // Adding or dropping the default port is the one change that keeps a signature.
            if other.replace(":443", "") != url {
                prop_assert!(!twilio::verify_form(&token, &other, &params, Some(&header)), "url {other}");
            }
        }
        let i = which % params.len();
        let mut tampered = params.clone();
        if let Some(value) = changed(&params[i].1, at, to) {
            tampered[i].1 = value;
            // A duplicate pair is signed once: changing one of two equal pairs can make it
            // equal to a third; only a set change must fail.
            let mut before: Vec<_> = params.clone();
            let mut after: Vec<_> = tampered.clone();
            before.sort();
            before.dedup();
            after.sort();
            after.dedup();
            if before != after {
                prop_assert!(!twilio::verify_form(&token, &url, &tampered, Some(&header)));
            }
        }
        if let Some(name) = changed(&params[i].0, at, to) {
            let mut tampered = params.clone();
            tampered[i].0 = name;
            // Names and values are concatenated: "ab"+"c" signs like "a"+"bc". Only a change
            // that alters the signed string must fail.
            let signed = |p: &[(String, String)]| {
                let mut p = p.to_vec();
                p.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then(a.1.cmp(&b.1)));
                p.dedup();
                p.iter().map(|(n, v)| format!("{n}{v}")).collect::<String>()
            };
            if signed(&tampered) != signed(&params) {
                prop_assert!(!twilio::verify_form(&token, &url, &tampered, Some(&header)));
            }
        }
        if let Some(sig) = changed(&header, at, to) {
            // Surrounding whitespace is trimmed; a space at either end changes nothing.
            if sig.trim() != header {
                prop_assert!(!twilio::verify_form(&token, &url, &params, Some(&sig)));
            }
        }
        if let Some(other) = changed(&token, at, to) {
            prop_assert!(!twilio::verify_form(&other, &url, &params, Some(&header)));
        }
    }

    /// Twilio's JSON-body variant: the URL's `bodySHA256` must be the body's hash.
    #[test]
    fn twilio_json_bodies_are_bound_by_their_hash(
        body in hostile_bytes(300),
        at in any::<usize>(),
        to in any::<u8>(),
    ) {
        let url = format!("https://x.example.com/hook?bodySHA256={}", sha256_hex(&body));
        let header = twilio::signature("tok", &url, &[]);
        prop_assert!(twilio::verify_json("tok", &url, &body, Some(&header)));
        if let Some(other) = changed_bytes(&body, at, to) {
            prop_assert!(!twilio::verify_json("tok", &url, &other, Some(&header)));
        }
    }

    /// Meta's `X-Hub-Signature-256` over the raw bytes.
    #[test]
    fn meta_signatures_cover_every_byte(
        secret in "[ -~]{1,40}",
        body in hostile_bytes(400),
        at in any::<usize>(),
        to in any::<u8>(),
    ) {
        let header = format!("sha256={}", hex(&hmac_sha256(secret.as_bytes(), &body)));
        prop_assert!(meta::verify(&secret, &body, Some(&header)));
        prop_assert!(meta::verify(&secret, &body, Some(&header.to_uppercase().replace("SHA256=", "sha256="))));
        prop_assert!(!meta::verify("", &body, Some(&header)));
        if let Some(other) = changed_bytes(&body, at, to) {
            prop_assert!(!meta::verify(&secret, &other, Some(&header)));
        }
        if let Some(sig) = changed(&header, at, to) {
            // Hex digits compare without case, and whitespace around the header is trimmed.
            if sig.trim().to_ascii_lowercase() != header {
                prop_assert!(!meta::verify(&secret, &body, Some(&sig)), "{sig}");
            }
        }
        if let Some(other) = changed(&secret, at, to) {
            prop_assert!(!meta::verify(&other, &body, Some(&header)));
        }
    }

    /// The verify-token handshake answers the challenge for our token only.
    #[test]
    fn the_meta_handshake_needs_our_token(
        ours in "[ -~]{1,30}",
        theirs in hostile_text(30),
        mode in hostile_text(12),
        challenge in hostile_text(30),
    ) {
        prop_assert_eq!(
            meta::handshake(&ours, Some("subscribe"), Some(&ours), Some(&challenge)),
            Some(challenge.as_str())
        );
        let answered = meta::handshake(&ours, Some(&mode), Some(&theirs), Some(&challenge));
        prop_assert_eq!(answered.is_some(), mode == "subscribe" && theirs == ours);
        prop_assert_eq!(meta::handshake("", Some("subscribe"), Some(""), Some(&challenge)), None);
    }

    /// Mailgun: HMAC over timestamp + token, fresh within the window; any change is forged.
    #[test]
    fn mailgun_signatures_cover_timestamp_and_token(
        key in "key-[a-z0-9]{20,32}",
        token in "[a-f0-9]{50}",
        timestamp in 1_000_000_000i64..4_000_000_000,
        skew in -600i64..600,
        at in any::<usize>(),
        to in 0x21u8..0x7f,
        noise in hostile_text(30),
    ) {
        let ts = timestamp.to_string();
        let signature = hex(&hmac_sha256(key.as_bytes(), format!("{ts}{token}").as_bytes()));
        let now = timestamp + skew;
        let verdict = email::verify_mailgun(&key, Some(&ts), Some(&token), Some(&signature), now);
        prop_assert_eq!(verdict, if skew.abs() <= email::MAILGUN_MAX_SKEW_S { Ok(()) } else { Err(Refusal::Stale) });
        if let Some(other) = changed(&token, at, to) {
            let forged = email::verify_mailgun(&key, Some(&ts), Some(&other), Some(&signature), timestamp);
            prop_assert_eq!(forged, Err(Refusal::Forged));
        }
        if let Some(other) = changed(&ts, at, to) {
            let forged = email::verify_mailgun(&key, Some(&other), Some(&token), Some(&signature), timestamp);
            prop_assert_eq!(forged, Err(Refusal::Forged));
        }
        if let Some(sig) = changed(&signature, at, to)
            && sig.to_ascii_lowercase() != signature
        {
            let forged = email::verify_mailgun(&key, Some(&ts), Some(&token), Some(&sig), timestamp);
            prop_assert_eq!(forged, Err(Refusal::Forged));
        }
        // Noise anywhere is refused, never a panic.
        prop_assert!(email::verify_mailgun(&key, Some(&noise), Some(&noise), Some(&noise), timestamp).is_err());
        prop_assert!(email::verify_mailgun(&key, Some(&noise), Some(&token), Some(&signature), i64::MIN).is_err());
    }

    /// A Mailgun signature made with a timestamp at the ends of the integer range is stale,
    /// not an overflow.
    #[test]
    fn mailgun_timestamps_at_the_ends_of_the_range_are_stale(
        ts in prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>()],
        now in prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>()],
    ) {
        let ts = ts.to_string();
        let signature = hex(&hmac_sha256(b"k", format!("{ts}t").as_bytes()));
        let _ = email::verify_mailgun("k", Some(&ts), Some("t"), Some(&signature), now);
    }

    /// Postmark / SendGrid basic auth: exactly the configured `user:password`.
    #[test]
    fn basic_auth_accepts_exactly_the_configured_credentials(
        user in "[a-z]{1,12}",
        password in "[ -~]{1,30}",
        header in hostile_text(60),
        at in any::<usize>(),
        to in 0x20u8..0x7f,
    ) {
        let configured = format!("{user}:{password}");
        let good = format!("Basic {}", STANDARD.encode(&configured));
        prop_assert!(email::verify_basic_auth(&configured, Some(&good)));
        prop_assert!(email::verify_basic_auth(&configured, Some(&good.replace("Basic", "basic"))));
        if let Some(other) = changed(&configured, at, to) {
            let forged = format!("Basic {}", STANDARD.encode(&other));
            prop_assert!(!email::verify_basic_auth(&configured, Some(&forged)));
        }
        prop_assert!(!email::verify_basic_auth("", Some(&good)));
        let no_colon = format!("Basic {}", STANDARD.encode("nocolon"));
        prop_assert!(!email::verify_basic_auth("nocolon", Some(&no_colon)));
        let _ = email::verify_basic_auth(&configured, Some(&header));
    }

    /// Outgoing webhooks, as a receiver checks them: any header text is refused or accepted,
    /// never a panic (timestamps at the ends of the range included).
    #[test]
    fn outgoing_webhook_checks_never_panic(
        timestamp in prop_oneof![hostile_text(25), any::<i64>().prop_map(|t| t.to_string()),
            Just(i64::MIN.to_string()), Just(i64::MAX.to_string())],
        signature in hostile_text(120),
        body in hostile_bytes(200),
        now in prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), 0i64..4_000_000_000],
        tolerance in prop_oneof![Just(300i64), any::<i64>()],
    ) {
        let _ = outgoing::verify("s", &timestamp, &signature, &body, now, tolerance);
    }

    /// And a genuine one verifies with several values in the header (rotation), the right one
    /// anywhere among them; a changed body, timestamp or signature does not.
    #[test]
    fn outgoing_webhook_signatures_cover_time_and_body(
        secret in "[ -~]{1,40}",
        timestamp in 0i64..4_000_000_000,
        body in hostile_bytes(300),
        others in proptest::collection::vec("v[01]=[0-9a-f]{64}", 0..3),
        at in any::<usize>(),
        to in any::<u8>(),
    ) {
        let good = outgoing::sign(&secret, timestamp, &body);
        let mut values = others.clone();
        values.insert(at % (others.len() + 1), good.clone());
        let header = values.join(" ");
        let ts = timestamp.to_string();
        prop_assert_eq!(outgoing::verify(&secret, &ts, &header, &body, timestamp, 300), Ok(()));
        if let Some(other) = changed_bytes(&body, at, to) {
            prop_assert_eq!(outgoing::verify(&secret, &ts, &good, &other, timestamp, 300), Err(VerifyError::Mismatch));
        }
        let later = (timestamp + 1).to_string();
        prop_assert_eq!(outgoing::verify(&secret, &later, &good, &body, timestamp, 300), Err(VerifyError::Mismatch));
        if let Some(sig) = changed(&good, at, to) {
            prop_assert!(outgoing::verify(&secret, &ts, &sig, &body, timestamp, 300).is_err());
        }
        prop_assert_eq!(outgoing::verify("", &ts, &good, &body, timestamp, 300), Err(VerifyError::NoSecret));
    }

    /// The widget identity HMAC: hex HMAC-SHA256(secret, user id), different for any other id
    /// or secret.
    #[test]
    fn identity_hashes_bind_user_and_secret(
        secret in "[ -~]{1,40}",
        user in hostile_text(60),
        at in any::<usize>(),
        to in 0x20u8..0x7f,
    ) {
        let hash = expected_hash(&secret, &user);
        prop_assert_eq!(hash.len(), 64);
        prop_assert_eq!(&hash, &hex(&hmac_sha256(secret.as_bytes(), user.as_bytes())));
        prop_assert!(matches(&hash, &hash));
        if let Some(other) = changed(&user, at, to) {
            prop_assert!(!matches(&hash, &expected_hash(&secret, &other)));
        }
        if let Some(other) = changed(&secret, at, to) {
            prop_assert!(!matches(&hash, &expected_hash(&other, &user)));
        }
    }

    /// Secret comparisons: equal non-empty strings only; an empty configured secret never.
    #[test]
    fn secret_comparisons_are_exact(a in hostile_text(40), b in hostile_text(40)) {
        prop_assert_eq!(secrets_match(&a, &b), !a.is_empty() && a == b);
        prop_assert_eq!(matches(&a, &b), !a.is_empty() && a == b);
        prop_assert_eq!(secrets_match(&a, &a), !a.is_empty());
    }
}

/// The identity HMAC against a value computed outside this code:
/// `printf %s user-42 | openssl dgst -sha256 -hmac identity-secret` (and Python's `hmac`).
#[test]
fn the_identity_hash_matches_openssl() {
    assert_eq!(
        expected_hash("identity-secret", "user-42"),
        "2bdde05d54d28f6c1686a5f352227bdf69a7a114e6f1a2694f9315696e7a7962"
    );
}

proptest! {
    // Each case writes a contact and a token to SQLite: fewer cases than the pure checks.
    #![proptest_config(config(128))]

    /// `identify` (the widget's `setUser`): the right hash verifies the user, in either case;
    /// a hash with any one byte changed is refused (403), never taken as verified; without a
    /// configured secret nobody is verified.
    #[test]
    fn identify_verifies_exactly_the_right_hash(
        secret in "[ -~]{1,40}",
        user in "[!-~][ -~]{0,40}[!-~]",
        at in any::<usize>(),
        to in 0x21u8..0x7f,
        noise in hostile_text(80),
    ) {
        use shared::identity::{IdentifyRequest, identify};
        HOST.with(|host| ENTROPY.with(|entropy| {
            let ctx = shared::host::Ctx { db: &host.db, kv: &host.kv, clock: &Clock, entropy };
            let hash = expected_hash(&secret, &user);
            let request = |hash: &str| IdentifyRequest {
                user_id: user.clone(),
                hash: Some(hash.to_owned()),
                ..IdentifyRequest::default()
            };
            let done = identify(&ctx, &secret, None, &request(&hash));
            prop_assert!(done.as_ref().is_ok_and(|d| d.verified), "{:?}", done);
            let upper = identify(&ctx, &secret, None, &request(&hash.to_uppercase()));
            prop_assert!(upper.is_ok_and(|d| d.verified));
            if let Some(other) = changed(&hash, at, to)
                && other.to_ascii_lowercase() != hash
            {
                let refused = identify(&ctx, &secret, None, &request(&other));
                let refused = refused.map_err(|e| shared::api::ApiError::from(e).status());
                prop_assert_eq!(refused.err(), Some(403));
            }
            let unconfigured = identify(&ctx, "", None, &request(&hash));
            prop_assert!(unconfigured.is_ok_and(|d| !d.verified));
            // Noise as the user id or the hash: refused as the caller's mistake, or unverified.
            let noisy = IdentifyRequest { user_id: noise.clone(), hash: Some(noise.clone()),
                name: Some(noise.clone()), email: Some(noise.clone()) };
            if let Err(e) = identify(&ctx, &secret, None, &noisy) {
                prop_assert!(shared::api::ApiError::from(e).status() < 500);
            }
            Ok(())
        }))?;
    }
}
