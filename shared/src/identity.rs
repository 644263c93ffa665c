//! Who a widget visitor is, as the business's own site says: `LiveChat('setUser', ...)` and
//! `LiveChat('setAttributes', ...)` (see the README, "JS API").
//!
//! # Verified and unverified users
//! A user is *verified* when the site's server signed their id: `hash` is the lower-case hex
//! HMAC-SHA256 of the user id under the `identity_secret` variable, which only the business's
//! server and this app know. A verified user id maps to exactly one contact
//! (`widget_identities`, primary key on the user id), so every browser that proves the same id
//! reads the same conversations: the browser's visitor token is bound to that contact (a new
//! token when the browser has none, or when its token already belongs to another user).
//! An anonymous browser that verifies takes its conversations along: its contact is merged into
//! the user's, and its conversations become readable by the user's tokens. That is safe
//! because the browser holding the anonymous token has just proved to be that user.
//!
//! Without a secret configured, or without a hash, the user is *unverified*: the name and email
//! only fill in the browser's own contact (as the pre-chat form would), and nothing is ever
//! merged or shared between browsers. A hash that does not match is refused (403) and changes
//! nothing, so a page cannot claim someone else's history by guessing.
//!
//! # Attributes
//! Custom attributes a page sets describe the browser's own contact (merged into what it has;
//! [`contact::Attributes`] limits apply to each call and to the merged result).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::chat::ChatError;
use crate::contact::{self, Attributes, EmailAddress, PersonName};
use crate::host::Ctx;
use crate::input::InvalidInput;
use crate::secret::Token;
use crate::store::{Database, DbError, SqlValue, transaction};

/// The longest user id a site may use.
pub const MAX_USER_ID_CHARS: usize = 200;

/// `POST /api/widget/identify` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifyRequest {
    pub user_id: String,
    #[serde(default)]
    pub hash: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// What identifying did.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Identified {
    /// Whether the user id was proven by its hash.
    pub verified: bool,
    /// A new visitor token for this browser, when it needs one to read the user's
    /// conversations; the only time it is sent. The browser drops its old token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visitor_token: Option<String>,
    /// The user's latest conversation this browser can now read, if any.
    pub conversation_id: Option<i64>,
}

/// A user id: 1-200 printable characters, case-sensitive, as the site's own accounts name them.
fn user_id(text: &str) -> Result<String, InvalidInput> {
    let id = crate::input::bounded_text("user_id", text, 1, MAX_USER_ID_CHARS)?;
    if id.chars().any(char::is_control) {
        return Err(InvalidInput::new("user_id", "must be one line of text"));
    }
    Ok(id)
}

/// The hash the business's server computes: lower-case hex HMAC-SHA256(secret, user id).
pub fn expected_hash(secret: &str, user_id: &str) -> String {
    crate::channel::signature::hex(&crate::channel::signature::hmac_sha256(
        secret.as_bytes(),
        user_id.as_bytes(),
    ))
}

const CONTACT_OF_USER: &str = "SELECT contact_id AS id FROM widget_identities WHERE user_id = ?1";
const LINK: &str = "INSERT INTO widget_identities (user_id, contact_id, created_at)
     VALUES (?1, ?2, ?3) ON CONFLICT (user_id) DO NOTHING";
const IS_LINKED: &str = "SELECT 1 AS linked FROM widget_identities WHERE contact_id = ?1 LIMIT 1";
const TOKEN_CONTACT: &str = "SELECT contact_id AS id FROM visitor_tokens WHERE token_hash = ?1";
const MOVE_VISITOR_CONVERSATIONS: &str =
    "UPDATE conversations SET visitor_contact_id = ?2 WHERE visitor_contact_id = ?1";
const REBIND_TOKEN: &str = "UPDATE visitor_tokens SET contact_id = ?2 WHERE token_hash = ?1";
const LATEST_VISIBLE: &str = "SELECT id FROM conversations WHERE visitor_contact_id = ?1
     ORDER BY updated_at DESC, id DESC LIMIT 1";
const FILL_DETAILS: &str =
    "UPDATE contacts SET name = COALESCE(?2, name), email = COALESCE(?3, email)
     WHERE id = ?1";
const MERGE_ATTRIBUTES: &str = "UPDATE contacts SET attributes = json_patch(attributes, ?2)
     WHERE id = ?1
       AND (SELECT COUNT(*) FROM json_each(json_patch(attributes, ?2))) <= ?3
     RETURNING attributes";

fn first_id(db: &dyn Database, sql: &str, params: &[SqlValue]) -> Result<Option<i64>, DbError> {
    db.execute(sql, params)?
        .first()
        .map(|row| row.i64("id"))
        .transpose()
}

fn token_contact(db: &dyn Database, token: &Token) -> Result<Option<i64>, DbError> {
    first_id(
        db,
        TOKEN_CONTACT,
        &[SqlValue::Blob(token.hash().0.to_vec())],
    )
}

/// Identifies the browser holding `token` (if any) as `request.user_id`. `secret` is the
/// `identity_secret` variable (empty: not configured, so every user is unverified).
pub fn identify(
    ctx: &Ctx<'_>,
    secret: &str,
    token: Option<&Token>,
    request: &IdentifyRequest,
) -> Result<Identified, ChatError> {
    let user = user_id(&request.user_id)?;
    let name = request
        .name
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| PersonName::parse("name", s))
        .transpose()?;
    let email = request
        .email
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| EmailAddress::parse("email", s))
        .transpose()?;
    let hash = request
        .hash
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty());
    let verified = match hash {
        Some(hash) if !secret.is_empty() => {
            if !crate::secret::secrets_match(
                &expected_hash(secret, &user),
                &hash.to_ascii_lowercase(),
            ) {
                return Err(ChatError::Forbidden(
                    "the identity hash does not match this user id (HMAC-SHA256 of the user id with the identity secret, in hex)",
                ));
            }
            true
        }
        _ => false,
    };
    let db = ctx.db;
    let now = ctx.clock.now_ms();
    let name = name.as_ref().map(PersonName::as_str);
    let email = email.as_ref().map(EmailAddress::as_str);
    if !verified {
        // Unverified: details for the browser's own contact, nothing else.
        let Some(token) = token else {
            return Ok(Identified {
                verified,
                visitor_token: None,
                conversation_id: None,
            });
        };
        return transaction(db, || {
            let own = token_contact(db, token)?.ok_or(ChatError::Unauthenticated)?;
            db.execute(FILL_DETAILS, &[own.into(), name.into(), email.into()])?;
            Ok(Identified {
                verified,
                visitor_token: None,
                conversation_id: first_id(db, LATEST_VISIBLE, &[own.into()])?,
            })
        });
    }
    let fresh = Token::generate(ctx.entropy);
    transaction(db, || {
        let current = match token {
            Some(token) => Some(token_contact(db, token)?.ok_or(ChatError::Unauthenticated)?),
            None => None,
        };
        // An anonymous browser's contact (linked to no user) can become the user's.
        let anonymous = match current {
            Some(id) => db
                .execute(IS_LINKED, &[id.into()])?
                .is_empty()
                .then_some(id),
            None => None,
        };
        let user_contact = match first_id(db, CONTACT_OF_USER, &[user.as_str().into()])? {
            Some(id) => contact::survivor(db, id)?,
            None => {
                let id = match anonymous {
                    Some(id) => id,
                    None => contact::insert(db, None, None, now)?,
                };
                db.execute(LINK, &[user.as_str().into(), id.into(), now.into()])?;
                // Another request may have linked the user first: its contact wins.
                first_id(db, CONTACT_OF_USER, &[user.as_str().into()])?
                    .ok_or_else(|| DbError::Decode("identity link vanished".into()))?
            }
        };
        db.execute(
            FILL_DETAILS,
            &[user_contact.into(), name.into(), email.into()],
        )?;
        let latest = first_id(db, LATEST_VISIBLE, &[user_contact.into()])?;
        let visitor_token = match (token, current, anonymous) {
            (Some(_), Some(current), _) if current == user_contact => None,
            (Some(token), Some(current), Some(_)) => {
                // This browser's anonymous conversations come along (see the module docs).
                contact::merge(db, current, user_contact, now)?;
                db.execute(
                    MOVE_VISITOR_CONVERSATIONS,
                    &[current.into(), user_contact.into()],
                )?;
                db.execute(
                    REBIND_TOKEN,
                    &[SqlValue::Blob(token.hash().0.to_vec()), user_contact.into()],
                )?;
                None
            }
            // A browser without a token and a user without conversations: nothing to read
            // yet. Its first conversation is linked when it identifies again with the token
            // that conversation gives it.
            (None, ..) if latest.is_none() => None,
            _ => {
                contact::insert_visitor_token(db, &fresh.hash(), user_contact, now)?;
                Some(fresh.as_str().to_owned())
            }
        };
        Ok(Identified {
            verified,
            visitor_token,
            conversation_id: first_id(db, LATEST_VISIBLE, &[user_contact.into()])?,
        })
    })
}

/// `POST /api/widget/attributes` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributesRequest {
    pub attributes: Value,
}

/// Merges `request.attributes` into the attributes of the contact `token` belongs to (a null
/// value removes a key). Returns the contact's attributes after the merge.
pub fn set_attributes(
    ctx: &Ctx<'_>,
    token: &Token,
    request: &AttributesRequest,
) -> Result<Value, ChatError> {
    // Nulls remove keys (JSON merge patch); the parsed form drops them, so patch with the
    // original object once it has passed the limits.
    Attributes::parse(&request.attributes)?;
    let patch = request.attributes.to_string();
    let db = ctx.db;
    transaction(db, || {
        let own = token_contact(db, token)?.ok_or(ChatError::Unauthenticated)?;
        let rows = db.execute(
            MERGE_ATTRIBUTES,
            &[
                own.into(),
                patch.as_str().into(),
                (Attributes::MAX_KEYS as i64).into(),
            ],
        )?;
        let row = rows.first().ok_or_else(|| {
            InvalidInput::new(
                "attributes",
                format!(
                    "a contact keeps at most {} attributes; remove some (set them to null) first",
                    Attributes::MAX_KEYS
                ),
            )
        })?;
        serde_json::from_str(row.str("attributes")?)
            .map_err(|e| DbError::Decode(format!("attributes: {e}")).into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestHost;
    use crate::visitor::{self, StartRequest};

    const SECRET: &str = "s3cret";

    fn request(user: &str, hash: Option<String>) -> IdentifyRequest {
        IdentifyRequest {
            user_id: user.into(),
            hash,
            ..Default::default()
        }
    }

    fn started(host: &TestHost) -> (Token, i64) {
        let started = visitor::start(&host.ctx(), None, &StartRequest::default()).unwrap();
        (
            Token::parse(started.visitor_token.as_deref().unwrap()).unwrap(),
            started.conversation.id,
        )
    }

    #[test]
    fn the_hash_is_hex_hmac_sha256_of_the_user_id() {
        // RFC 4231 test case 2.
        assert_eq!(
            expected_hash("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_verified_user_reads_the_same_conversations_from_another_browser() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let (first_token, conversation) = started(&host);
        let hash = Some(expected_hash(SECRET, "u-1"));
        let here = identify(
            &ctx,
            SECRET,
            Some(&first_token),
            &request("u-1", hash.clone()),
        )
        .unwrap();
        assert_eq!(
            here,
            Identified {
                verified: true,
                visitor_token: None,
                conversation_id: Some(conversation)
            }
        );
        let elsewhere = identify(&ctx, SECRET, None, &request("u-1", hash.clone())).unwrap();
        let token = Token::parse(elsewhere.visitor_token.as_deref().unwrap()).unwrap();
        assert_eq!(elsewhere.conversation_id, Some(conversation));
        assert!(visitor::load(&ctx, &token, conversation).is_ok());

        // A third browser that chatted anonymously brings its conversation along.
        let (third_token, third_conversation) = started(&host);
        let third = identify(&ctx, SECRET, Some(&third_token), &request("u-1", hash)).unwrap();
        assert_eq!(third.visitor_token, None);
        assert!(visitor::load(&ctx, &token, third_conversation).is_ok());
        assert!(visitor::load(&ctx, &third_token, conversation).is_ok());
    }

    #[test]
    fn a_wrong_hash_or_an_unverified_user_shares_nothing() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let (token, conversation) = started(&host);
        identify(
            &ctx,
            SECRET,
            Some(&token),
            &request("u-1", Some(expected_hash(SECRET, "u-1"))),
        )
        .unwrap();
        let wrong = identify(
            &ctx,
            SECRET,
            None,
            &request("u-1", Some(expected_hash("x", "u-1"))),
        );
        assert!(matches!(wrong, Err(ChatError::Forbidden(_))));
        // No secret, or no hash: unverified, no token, nothing merged.
        for secret in ["", SECRET] {
            let unverified = identify(&ctx, secret, None, &request("u-1", None)).unwrap();
            assert_eq!(unverified.visitor_token, None);
            assert!(!unverified.verified);
        }
        let (other, _) = started(&host);
        let claimed = identify(&ctx, "", Some(&other), &request("u-1", Some("ab".into()))).unwrap();
        assert!(!claimed.verified);
        assert!(visitor::load(&ctx, &other, conversation).is_err());
    }

    #[test]
    fn attributes_merge_within_the_limits() {
        let host = TestHost::new();
        let ctx = host.ctx();
        let (token, _) = started(&host);
        let set =
            |value: Value| set_attributes(&ctx, &token, &AttributesRequest { attributes: value });
        assert_eq!(
            set(serde_json::json!({"plan": "pro", "seats": 3})).unwrap(),
            serde_json::json!({"plan": "pro", "seats": 3})
        );
        assert_eq!(
            set(serde_json::json!({"seats": null, "vip": true})).unwrap(),
            serde_json::json!({"plan": "pro", "vip": true})
        );
        let many: serde_json::Map<String, Value> =
            (0..49).map(|i| (format!("k{i}"), Value::from(i))).collect();
        assert!(matches!(
            set(Value::Object(many)),
            Err(ChatError::Invalid(_))
        ));
        assert!(matches!(
            set(serde_json::json!({"x": "y".repeat(501)})),
            Err(ChatError::Invalid(_))
        ));
    }
}
