//! The keyed hashes providers sign webhooks with, and the comparisons that check them.
//!
//! Every check compares in constant time ([`crate::secret::secrets_match`] hashes both sides
//! first, so not even the length leaks), and an empty configured secret never verifies anything:
//! a channel without credentials rejects every request rather than accepting unsigned ones.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::secret::secrets_match;

/// HMAC-SHA1 of `message` under `key`.
pub fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha1>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0; 20],
    };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0; 32],
    };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Whether `given` equals `expected`, in constant time; never when `expected` is empty.
pub fn matches(expected: &str, given: &str) -> bool {
    secrets_match(expected, given)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 2202 (HMAC-SHA1) and RFC 4231 (HMAC-SHA256), test case 2: key "Jefe".
    #[test]
    fn hmacs_match_the_rfc_test_vectors() {
        let message = b"what do ya want for nothing?";
        assert_eq!(
            hex(&hmac_sha1(b"Jefe", message)),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", message)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn empty_expected_secrets_never_match() {
        assert!(!matches("", ""));
        assert!(matches("abc", "abc"));
        assert!(!matches("abc", "abd"));
    }
}
