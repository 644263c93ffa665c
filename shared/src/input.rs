//! What parsing outside input can say: which field was wrong, and why.

use thiserror::Error;

/// A field of a request did not parse into its domain type. Both parts are safe to show the
/// caller: they describe their input, not our internals.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {problem}")]
pub struct InvalidInput {
    pub field: &'static str,
    pub problem: String,
}

impl InvalidInput {
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        InvalidInput {
            field,
            problem: problem.into(),
        }
    }
}

/// Trims `text` and checks its length in characters, rejecting control characters other than
/// newlines and tabs (`\r` included: clients send `\n` line ends) (they have no business in chat text and confuse terminals and logs).
pub fn bounded_text(
    field: &'static str,
    text: &str,
    min_chars: usize,
    max_chars: usize,
) -> Result<String, InvalidInput> {
    let trimmed = text.trim();
    let chars = trimmed.chars().count();
    if chars < min_chars {
        return Err(InvalidInput::new(
            field,
            if min_chars == 1 {
                "must not be empty".to_owned()
            } else {
                format!("must be at least {min_chars} characters")
            },
        ));
    }
    if chars > max_chars {
        return Err(InvalidInput::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(InvalidInput::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// A language tag like `en` or `pt-BR`: 2-3 letters, then optional `-` parts of 1-8 letters or
/// digits. Returned trimmed, as given.
pub fn language_tag(field: &'static str, text: &str) -> Result<String, InvalidInput> {
    let tag = text.trim();
    let mut parts = tag.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    let rest_ok =
        parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if primary_ok && rest_ok && tag.len() <= 35 {
        Ok(tag.to_owned())
    } else {
        Err(InvalidInput::new(
            field,
            format!("{tag:?} is not a language tag like en or pt-BR"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_text_trims_and_counts_characters_not_bytes() {
        assert_eq!(bounded_text("f", "  héllo ", 1, 5).unwrap(), "héllo");
        assert!(bounded_text("f", "   ", 1, 5).is_err());
        assert!(bounded_text("f", "abcdef", 1, 5).is_err());
        assert!(bounded_text("f", "a\u{0}b", 1, 5).is_err());
        assert!(bounded_text("f", "a\nb", 1, 5).is_ok());
        assert!(bounded_text("f", "a\rb", 1, 5).is_err());
    }
}
