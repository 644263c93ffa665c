//! Bearer secrets (visitor tokens, operator sessions) and how they are stored: only as hashes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::host::Entropy;

/// 256 random bits, written as 43 base64url characters. Unguessable, so possession is proof.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

/// The form a [`Token`] is stored and looked up in: its SHA-256. A plain hash suffices (no
/// salt, no stretching) because the token has full entropy; it cannot be brute-forced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

const TOKEN_BYTES: usize = 32;
const TOKEN_CHARS: usize = 43;

impl Token {
    pub fn generate(entropy: &dyn Entropy) -> Token {
        let mut bytes = [0u8; TOKEN_BYTES];
        entropy.fill(&mut bytes);
        Token(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Accepts exactly the shape [`Token::generate`] produces; anything else cannot match a stored
    /// hash, so it is rejected before touching the database.
    pub fn parse(text: &str) -> Option<Token> {
        let well_formed = text.len() == TOKEN_CHARS
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| Token(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

/// The credentials of an `Authorization: Bearer <token>` header value. The scheme is
/// case-insensitive, as for every HTTP authentication scheme.
pub fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, credentials) = authorization.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
}

/// Compares two configured secrets (setup tokens, webhook secrets) in constant time. Both sides
/// are hashed first: comparing the raw bytes would return early on a length mismatch and so
/// reveal the secret's length.
pub fn secrets_match(expected: &str, given: &str) -> bool {
    let expected_hash = Sha256::digest(expected.as_bytes());
    let given_hash = Sha256::digest(given.as_bytes());
    !expected.is_empty() && bool::from(expected_hash.ct_eq(&given_hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestEntropy;
    use proptest::prelude::*;

    #[test]
    fn generated_tokens_parse_and_differ() {
        let entropy = TestEntropy::default();
        let a = Token::generate(&entropy);
        let b = Token::generate(&entropy);
        assert_ne!(a, b);
        assert_eq!(Token::parse(a.as_str()), Some(a.clone()));
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
    }

    #[test]
    fn secrets_match_rejects_empty_expected() {
        assert!(!secrets_match("", ""));
        assert!(secrets_match("abc", "abc"));
        assert!(!secrets_match("abc", "abd"));
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_only_accepts_token_shape(s in "\\PC{0,60}") {
            if let Some(token) = Token::parse(&s) {
                prop_assert_eq!(token.as_str().len(), TOKEN_CHARS);
            }
        }

        #[test]
        fn token_shaped_strings_parse_and_one_bad_character_does_not(
            s in "[A-Za-z0-9_-]{43}", at in 0usize..43, bad in "[^A-Za-z0-9_-]",
        ) {
            prop_assert!(Token::parse(&s).is_some());
            let mut mutated: Vec<char> = s.chars().collect();
            mutated[at] = bad.chars().next().unwrap();
            prop_assert!(Token::parse(&mutated.into_iter().collect::<String>()).is_none());
            prop_assert!(Token::parse(&s[1..]).is_none());
        }
    }
}
