//! Email webhooks and threading: Mailgun's signature (with freshness), Postmark's basic-auth
//! credentials, the pieces replies need to thread (reply-address tokens, Message-ID lists,
//! `Re:` subjects, `References`), and inbound emails as Postmark ([`postmark`]) and Mailgun
//! ([`mailgun`]) post them, parsed into one [`InboundEmail`].
//!
//! Threading order (PROTOCOLS.md): a token in the reply address first, then `In-Reply-To` /
//! `References` against the conversation's stored Message-IDs, else a new conversation. Never the
//! subject alone.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::multipart::Part;
use super::signature::{hex, hmac_sha256, matches, sha256_hex};
use crate::contact::{EmailAddress, PersonName};
use crate::input::InvalidInput;

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

/// Most characters of a subject kept (RFC 5322's line limit).
const MAX_SUBJECT_CHARS: usize = 998;
/// Message-IDs longer than this are not ids we can store (`inbound::external_id`'s limit).
const MAX_MESSAGE_ID_CHARS: usize = 998;
/// Most Message-IDs an email may name as its ancestors; a longer chain keeps `In-Reply-To` and
/// the newest `References` (the ones a thread is found by).
const MAX_REFERENCED_IDS: usize = 50;
/// Most characters of `References` kept for a reply's header; a longer one keeps its newest ids.
const MAX_REFERENCES_CHARS: usize = 8_000;
/// Reply tokens we hand out are short; anything else in an address is not ours.
const MAX_TOKEN_CHARS: usize = 128;
/// The domain of Message-IDs made up for emails that came without one (RFC 2606's `.invalid`:
/// it can never be anyone's real id).
const SYNTHETIC_ID_DOMAIN: &str = "missing-message-id.invalid";

/// A file that came with an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAttachment {
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// An inbound email, whichever provider delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEmail {
    pub from: EmailAddress,
    /// The sender's display name, when the `From` header has a usable one.
    pub name: Option<PersonName>,
    /// The RFC Message-ID without angle brackets (as [`message_ids`] gives them, so a later
    /// email's `In-Reply-To` matches it): the idempotency key. An email without a usable one
    /// gets `HASH@missing-message-id.invalid`, HASH being the SHA-256 (hex) of its provider id,
    /// sender, date, subject and text: the same for every retry.
    pub message_id: String,
    /// One line, at most 998 characters; empty when there was none.
    pub subject: String,
    /// The new text of the email: the provider's reply without the quoted history when it
    /// found one, else the plain text, else the HTML made plain. May be empty.
    pub text: String,
    /// The token in the address it was sent to (`support+<token>@...`).
    pub reply_token: Option<String>,
    /// Message-IDs it answers, without angle brackets: `In-Reply-To` first, then `References`
    /// in their order (oldest first), each once.
    pub referenced_ids: Vec<String>,
    /// The `References` header as received (unfolded), for a reply's own.
    pub references: String,
    /// At most [`crate::attachment::MAX_PER_MESSAGE`] files, in the order they came.
    pub attachments: Vec<EmailAttachment>,
    /// How many more files came beyond that limit (not kept, not even read).
    pub attachments_over_limit: usize,
}

/// A header value on one line: folded lines joined, control characters dropped.
fn unfold(value: &str) -> String {
    let joined: String = value
        .chars()
        .map(|c| {
            if c == '\r' || c == '\n' || c == '\t' {
                ' '
            } else {
                c
            }
        })
        .filter(|c| !c.is_control())
        .collect();
    joined
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn subject(value: &str) -> String {
    unfold(value).chars().take(MAX_SUBJECT_CHARS).collect()
}

/// `Name <address>`, `"Name" <address>` or a bare address: the address and the name.
fn mailbox(value: &str) -> (String, Option<String>) {
    let value = value.trim();
    match (value.rfind('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => {
            let address = value.get(open + 1..close).unwrap_or_default().trim();
            let name = value
                .get(..open)
                .unwrap_or_default()
                .trim()
                .trim_matches('"')
                .replace("\\\"", "\"");
            (address.to_owned(), Some(name))
        }
        _ => (value.to_owned(), None),
    }
}

/// A display name worth keeping: not empty, not the address again, cut to fit.
fn display_name(name: Option<&str>, address: &EmailAddress) -> Option<PersonName> {
    let name = unfold(name?);
    let name = name.trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace());
    if name.is_empty() || name.eq_ignore_ascii_case(address.as_str()) {
        return None;
    }
    let cut: String = name.chars().take(PersonName::MAX_CHARS).collect();
    PersonName::parse("From", &cut).ok()
}

/// A reply token as we issue them: 1-128 characters of letters, digits and `-_.=`.
fn token(text: &str) -> Option<String> {
    let text = text.trim();
    let ok = !text.is_empty()
        && text.len() <= MAX_TOKEN_CHARS
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.=".contains(&b));
    ok.then(|| text.to_owned())
}

/// The first reply token among address lists (`a@x, "B" <b+tok@y>`).
fn token_in_addresses<'a>(lists: impl IntoIterator<Item = &'a str>) -> Option<String> {
    lists
        .into_iter()
        .flat_map(|list| list.split(','))
        .find_map(|address| reply_token(address).and_then(token))
}

/// One Message-ID from a `Message-ID` header: the bracketed id, or a bare `local@domain` some
/// senders write without brackets.
fn message_id_of(header: &str) -> Option<String> {
    let id = match message_ids(header).first() {
        Some(id) => (*id).to_owned(),
        None => {
            let bare = header.trim();
            (bare.contains('@') && !bare.contains([' ', '<', '>'])).then(|| bare.to_owned())?
        }
    };
    let usable = id.chars().count() <= MAX_MESSAGE_ID_CHARS && !id.contains(char::is_control);
    usable.then_some(id)
}

/// The Message-ID, or one made up from what the email says (the same on every retry).
fn message_id_or_synthetic(header: Option<&str>, ingredients: &[&str]) -> String {
    header.and_then(message_id_of).unwrap_or_else(|| {
        format!(
            "{}@{SYNTHETIC_ID_DOMAIN}",
            sha256_hex(ingredients.join("\u{0}").as_bytes())
        )
    })
}

/// `In-Reply-To` then `References` ids, each once, usable ones only, at most
/// [`MAX_REFERENCED_IDS`] (`In-Reply-To` and the newest references win).
fn referenced_ids(in_reply_to: &str, references: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for id in message_ids(in_reply_to)
        .into_iter()
        .chain(message_ids(references))
    {
        if id.chars().count() <= MAX_MESSAGE_ID_CHARS
            && !id.contains(char::is_control)
            && !ids.iter().any(|known| known == id)
        {
            ids.push(id.to_owned());
        }
    }
    if ids.len() > MAX_REFERENCED_IDS {
        let first = message_ids(in_reply_to).len().min(MAX_REFERENCED_IDS / 2);
        let newest = ids.split_off(ids.len() - (MAX_REFERENCED_IDS - first));
        ids.truncate(first);
        ids.extend(newest);
    }
    ids
}

/// The `References` value kept: as received (unfolded), or, when too long, its newest ids.
fn references_value(raw: &str) -> String {
    let unfolded = unfold(raw);
    if unfolded.chars().count() <= MAX_REFERENCES_CHARS {
        return unfolded;
    }
    let mut kept: Vec<String> = Vec::new();
    let mut length = 0;
    for id in message_ids(&unfolded).into_iter().rev() {
        let piece = format!("<{id}>");
        if length + piece.len() + 1 > MAX_REFERENCES_CHARS {
            break;
        }
        length += piece.len() + 1;
        kept.push(piece);
    }
    kept.reverse();
    kept.join(" ")
}

/// The first text that says something: the quoted-history-free reply, the plain text, the HTML.
fn best_text(stripped: Option<&str>, plain: Option<&str>, html: Option<&str>) -> String {
    let said = |t: &&str| !t.trim().is_empty();
    if let Some(text) = stripped.filter(said).or(plain.filter(said)) {
        return text.to_owned();
    }
    html.filter(said).map(html_to_text).unwrap_or_default()
}

/// Finds `needle` (ASCII, lower-case) in `haystack`, ignoring ASCII case.
fn find_ignoring_case(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| {
        h.get(i..i + n.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(n))
    })
}

/// An HTML entity at the start of `text` (after the `&`): the character and its length.
fn entity(text: &str) -> Option<(char, usize)> {
    let end = text.bytes().take(12).position(|b| b == b';')?;
    let name = text.get(..end)?;
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" | "#39" => '\'',
        "nbsp" => ' ',
        "hellip" => '\u{2026}',
        "mdash" => '\u{2014}',
        "ndash" => '\u{2013}',
        "lsquo" => '\u{2018}',
        "rsquo" => '\u{2019}',
        "ldquo" => '\u{201c}',
        "rdquo" => '\u{201d}',
        "copy" => '\u{a9}',
        "euro" => '\u{20ac}',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
                .filter(|c| !c.is_control() || *c == '\n')
                .unwrap_or('\u{fffd}')
        }
    };
    Some((c, end + 1))
}

/// Plain text from an email's HTML, crudely but safely: tags dropped (with `script`, `style`,
/// `head` and `title` content), block ends as line breaks, entities decoded, whitespace
/// collapsed. The result is text, shown escaped like any message.
pub fn html_to_text(html: &str) -> String {
    const SKIPPED: [&str; 4] = ["script", "style", "head", "title"];
    const BREAKS: [&str; 14] = [
        "br",
        "p",
        "div",
        "tr",
        "li",
        "ul",
        "ol",
        "table",
        "blockquote",
        "h1",
        "h2",
        "h3",
        "h4",
        "hr",
    ];
    let mut out = String::new();
    let mut space = false;
    let push_text = |out: &mut String, space: &mut bool, text: &str| {
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let (c, len) = match c {
                '&' => entity(&rest[1..]).map_or(('&', 1), |(c, len)| (c, len + 1)),
                c => (c, c.len_utf8()),
            };
            rest = rest.get(len..).unwrap_or_default();
            if c.is_whitespace() && c != '\u{a0}' {
                *space = true;
            } else if !c.is_control() {
                if *space && !out.is_empty() && !out.ends_with('\n') {
                    out.push(' ');
                }
                *space = false;
                out.push(c);
            }
        }
    };
    let mut rest = html;
    while !rest.is_empty() {
        let Some(open) = rest.find('<') else {
            push_text(&mut out, &mut space, rest);
            break;
        };
        push_text(&mut out, &mut space, rest.get(..open).unwrap_or_default());
        rest = rest.get(open..).unwrap_or_default();
        if rest.starts_with("<!--") {
            rest = rest
                .find("-->")
                .and_then(|end| rest.get(end + 3..))
                .unwrap_or_default();
            continue;
        }
        let after = rest.get(1..).unwrap_or_default();
        let closing = after.starts_with('/');
        let name: String = after
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() && !after.starts_with(['!', '?', '/']) {
            // A lone `<` (as in "a < b") is text.
            push_text(&mut out, &mut space, "<");
            rest = after;
            continue;
        }
        let Some(end) = rest.find('>') else {
            break;
        };
        rest = rest.get(end + 1..).unwrap_or_default();
        if !closing && SKIPPED.contains(&name.as_str()) {
            rest = find_ignoring_case(rest, &format!("</{name}"))
                .and_then(|at| rest.get(at..))
                .unwrap_or_default();
        } else if BREAKS.contains(&name.as_str()) {
            // Each `<br>` is a line break; other blocks only make sure one has started.
            if name == "br" || !(out.is_empty() || out.ends_with('\n')) {
                out.push('\n');
            }
            space = false;
            if name == "li" && !closing {
                out.push_str("- ");
            }
        }
    }
    let mut text = String::new();
    let mut blank_lines = 0;
    for line in out.lines().map(str::trim) {
        if line.is_empty() {
            blank_lines += 1;
            if blank_lines > 1 || text.is_empty() {
                continue;
            }
        } else {
            blank_lines = 0;
        }
        text.push_str(line);
        text.push('\n');
    }
    text.trim_end().to_owned()
}

fn bad(field: &'static str, problem: &str) -> InvalidInput {
    InvalidInput::new(field, problem.to_owned())
}

/// The sender's address and name, from `From` as written (`Name <a@b>`) unless the provider
/// parsed it already.
fn sender(
    field: &'static str,
    parsed_email: Option<&str>,
    parsed_name: Option<&str>,
    header: Option<&str>,
) -> Result<(EmailAddress, Option<PersonName>), InvalidInput> {
    let (header_address, header_name) = mailbox(header.unwrap_or_default());
    let address = parsed_email
        .filter(|e| !e.trim().is_empty())
        .unwrap_or(&header_address);
    if address.trim().is_empty() {
        return Err(bad(field, "is missing"));
    }
    let from = EmailAddress::parse(field, address)?;
    let name = display_name(
        parsed_name
            .filter(|n| !n.trim().is_empty())
            .or(header_name.as_deref()),
        &from,
    );
    Ok((from, name))
}

/// The most files one email keeps (the rest are counted).
const MAX_ATTACHMENTS: usize = crate::attachment::MAX_PER_MESSAGE;
/// The most headers and addresses of a Postmark email read; a body full of thousands of them is
/// counted through, not kept.
const MAX_POSTMARK_HEADERS: usize = 1_000;
const MAX_POSTMARK_ADDRESSES: usize = 200;

/// A JSON list of which only the first `N` elements are deserialized and kept; the rest are
/// skipped (and counted) without building anything, so a body of millions of tiny elements
/// costs no more memory than its bytes.
#[derive(Debug)]
struct Capped<T, const N: usize> {
    items: Vec<T>,
    skipped: usize,
}

impl<T, const N: usize> Default for Capped<T, N> {
    fn default() -> Self {
        Capped {
            items: Vec::new(),
            skipped: 0,
        }
    }
}

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for Capped<T, N> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct List<T, const N: usize>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const N: usize> serde::de::Visitor<'de> for List<T, N> {
            type Value = Capped<T, N>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut capped = Capped::default();
                while capped.items.len() < N {
                    match seq.next_element::<T>()? {
                        Some(item) => capped.items.push(item),
                        None => return Ok(capped),
                    }
                }
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    capped.skipped += 1;
                }
                Ok(capped)
            }
        }
        deserializer.deserialize_seq(List(std::marker::PhantomData))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct PostmarkAddress {
    email: Option<String>,
    name: Option<String>,
    mailbox_hash: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct PostmarkHeader {
    name: Option<String>,
    value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct PostmarkAttachment {
    name: Option<String>,
    content: Option<String>,
    content_type: Option<String>,
}

/// Postmark's inbound JSON: the fields used, each optional (`null` and absent alike).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct PostmarkInbound {
    from: Option<String>,
    from_name: Option<String>,
    from_full: Option<PostmarkAddress>,
    to: Option<String>,
    to_full: Option<Capped<PostmarkAddress, MAX_POSTMARK_ADDRESSES>>,
    cc: Option<String>,
    cc_full: Option<Capped<PostmarkAddress, MAX_POSTMARK_ADDRESSES>>,
    original_recipient: Option<String>,
    subject: Option<String>,
    /// Postmark's own id (not the RFC one): stable across its retries.
    #[serde(rename = "MessageID")]
    message_id: Option<String>,
    date: Option<String>,
    mailbox_hash: Option<String>,
    text_body: Option<String>,
    html_body: Option<String>,
    stripped_text_reply: Option<String>,
    headers: Option<Capped<PostmarkHeader, MAX_POSTMARK_HEADERS>>,
    attachments: Option<Capped<PostmarkAttachment, MAX_ATTACHMENTS>>,
}

/// A Postmark inbound webhook body (JSON).
pub fn postmark(body: &[u8]) -> Result<InboundEmail, InvalidInput> {
    // serde would read a JSON list into the struct field by field; only an object is Postmark's.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(bad("body", "is not a JSON object"));
    }
    let email: PostmarkInbound = serde_json::from_slice(body).map_err(|e| {
        InvalidInput::new(
            "body",
            if e.is_data() {
                format!("is not Postmark's inbound JSON: {e}")
            } else {
                "is not valid JSON".to_owned()
            },
        )
    })?;
    let header = |wanted: &str| {
        email
            .headers
            .iter()
            .flat_map(|c| &c.items)
            .find(|h| {
                h.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(wanted))
            })
            .and_then(|h| h.value.as_deref())
    };
    let from_full = email.from_full.as_ref();
    let (from, name) = sender(
        "From",
        from_full.and_then(|f| f.email.as_deref()),
        from_full
            .and_then(|f| f.name.as_deref())
            .or(email.from_name.as_deref()),
        email.from.as_deref(),
    )?;
    let subject = subject(email.subject.as_deref().unwrap_or_default());
    let text = best_text(
        email.stripped_text_reply.as_deref(),
        email.text_body.as_deref(),
        email.html_body.as_deref(),
    );
    let message_id = message_id_or_synthetic(
        header("Message-ID"),
        &[
            "postmark",
            email.message_id.as_deref().unwrap_or_default(),
            from.as_str(),
            email.date.as_deref().unwrap_or_default(),
            &subject,
            &text,
        ],
    );
    let full = || {
        email
            .to_full
            .iter()
            .chain(email.cc_full.iter())
            .flat_map(|c| &c.items)
    };
    let full_hashes = full().filter_map(|a| a.mailbox_hash.as_deref());
    let reply_token = email
        .mailbox_hash
        .as_deref()
        .into_iter()
        .chain(full_hashes)
        .find_map(token)
        .or_else(|| {
            let full_addresses = full().filter_map(|a| a.email.as_deref());
            token_in_addresses(
                email
                    .original_recipient
                    .as_deref()
                    .into_iter()
                    .chain(full_addresses)
                    .chain(email.to.as_deref())
                    .chain(email.cc.as_deref()),
            )
        });
    let files = email.attachments.unwrap_or_default();
    let attachments = files
        .items
        .into_iter()
        .map(|file| {
            let content: String = file
                .content
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            let data = STANDARD
                .decode(content)
                .map_err(|_| bad("Attachments", "has a Content that is not base64"))?;
            Ok(EmailAttachment {
                name: file.name.unwrap_or_default(),
                content_type: file.content_type.unwrap_or_default(),
                data,
            })
        })
        .collect::<Result<Vec<_>, InvalidInput>>()?;
    let references = header("References").unwrap_or_default();
    Ok(InboundEmail {
        from,
        name,
        message_id,
        subject,
        text,
        reply_token,
        referenced_ids: referenced_ids(header("In-Reply-To").unwrap_or_default(), references),
        references: references_value(references),
        attachments,
        attachments_over_limit: files.skipped,
    })
}

/// The number of a Mailgun attachment field (`attachment-3` is 3).
fn attachment_number(name: &str) -> Option<u32> {
    name.strip_prefix("attachment-")?.parse().ok()
}

/// A Mailgun route forward (`forward()` action), from its form fields: urlencoded (each field
/// as [`Part::field`]) or multipart, with the files `attachment-1` .. `attachment-N`.
///
/// The caller checks the signature (`timestamp`, `token`, `signature`) first.
pub fn mailgun(fields: &[Part<'_>]) -> Result<InboundEmail, InvalidInput> {
    let field = |wanted: &str| {
        fields
            .iter()
            .find(|p| p.filename.is_none() && p.name.eq_ignore_ascii_case(wanted))
            .map(|p| {
                p.text()
                    .ok_or_else(|| InvalidInput::new("body", format!("{wanted} is not UTF-8")))
            })
            .transpose()
    };
    // `message-headers`: every MIME header as `[[name, value], ...]`, in order.
    let listed: Vec<(String, String)> = match field("message-headers")? {
        None => Vec::new(),
        Some(json) => serde_json::from_str::<Vec<serde_json::Value>>(json)
            .map_err(|_| {
                bad(
                    "message-headers",
                    "is not a JSON list of [name, value] pairs",
                )
            })?
            .iter()
            .filter_map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([serde_json::Value::String(n), serde_json::Value::String(v)]) => {
                    Some((n.clone(), v.clone()))
                }
                _ => None,
            })
            .collect(),
    };
    // Mailgun posts the usual headers as fields of their own too; either will do.
    let header = |wanted: &str| -> Result<Option<String>, InvalidInput> {
        Ok(field(wanted)?.map(str::to_owned).or_else(|| {
            listed
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(wanted))
                .map(|(_, v)| v.clone())
        }))
    };
    let from_header = field("from")?.map(str::to_owned).or(header("From")?);
    let envelope_sender = field("sender")?;
    // The From header names the person; the envelope sender (a bounce address) is the fallback.
    let (from, name) = match sender("from", None, None, from_header.as_deref()) {
        Ok(found) => found,
        Err(e) => match envelope_sender {
            Some(address) if !address.trim().is_empty() => {
                sender("sender", None, None, Some(address))?
            }
            _ => return Err(e),
        },
    };
    let subject = subject(
        field("subject")?
            .or(header("Subject")?.as_deref())
            .unwrap_or_default(),
    );
    let html = field("stripped-html")?.or(field("body-html")?);
    let text = best_text(field("stripped-text")?, field("body-plain")?, html);
    let recipient = field("recipient")?;
    let message_id = message_id_or_synthetic(
        header("Message-Id")?.as_deref(),
        &[
            "mailgun",
            from.as_str(),
            recipient.unwrap_or_default(),
            header("Date")?.as_deref().unwrap_or_default(),
            &subject,
            &text,
        ],
    );
    let to = header("To")?;
    let cc = header("Cc")?;
    let reply_token = token_in_addresses(
        recipient
            .into_iter()
            .chain(to.as_deref())
            .chain(cc.as_deref()),
    );
    let mut files: Vec<(u32, &Part<'_>)> = fields
        .iter()
        .filter(|p| p.filename.is_some())
        .filter_map(|p| attachment_number(&p.name).map(|n| (n, p)))
        .collect();
    files.sort_by_key(|(n, _)| *n);
    let attachments_over_limit = files.len().saturating_sub(MAX_ATTACHMENTS);
    let attachments = files
        .iter()
        .take(MAX_ATTACHMENTS)
        .map(|(_, p)| EmailAttachment {
            name: p.filename.clone().unwrap_or_default(),
            content_type: p
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
            data: p.body.to_vec(),
        })
        .collect();
    let references = header("References")?.unwrap_or_default();
    let in_reply_to = header("In-Reply-To")?.unwrap_or_default();
    Ok(InboundEmail {
        from,
        name,
        message_id,
        subject,
        text,
        reply_token,
        referenced_ids: referenced_ids(&in_reply_to, &references),
        references: references_value(&references),
        attachments,
        attachments_over_limit,
    })
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

    /// The shape of Postmark's documented inbound example, with the headers a reply carries.
    const POSTMARK_EXAMPLE: &str = r#"{
      "FromName": "Postmarkapp Support",
      "MessageStream": "inbound",
      "From": "support@postmarkapp.com",
      "FromFull": {"Email": "support@postmarkapp.com", "Name": "Postmarkapp Support", "MailboxHash": ""},
      "To": "\"Firstname Lastname\" <yourhash+SampleHash@inbound.postmarkapp.com>",
      "ToFull": [{"Email": "yourhash+SampleHash@inbound.postmarkapp.com", "Name": "Firstname Lastname", "MailboxHash": "SampleHash"}],
      "Cc": "\"First Cc\" <firstcc@postmarkapp.com>, secondCc@postmarkapp.com",
      "CcFull": [{"Email": "firstcc@postmarkapp.com", "Name": "First Cc", "MailboxHash": ""},
                 {"Email": "secondCc@postmarkapp.com", "Name": "", "MailboxHash": ""}],
      "Bcc": "\"First Bcc\" <firstbcc@postmarkapp.com>",
      "BccFull": [{"Email": "firstbcc@postmarkapp.com", "Name": "First Bcc", "MailboxHash": ""}],
      "OriginalRecipient": "yourhash+SampleHash@inbound.postmarkapp.com",
      "Subject": "Test subject",
      "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
      "ReplyTo": "replyto@example.com",
      "MailboxHash": "SampleHash",
      "Date": "Fri, 1 Aug 2014 16:45:32 -04:00",
      "TextBody": "This is a test text body.\n\nOn Thu, someone wrote:\n> earlier",
      "HtmlBody": "<html><body><p>This is a test html body.</p></body></html>",
      "StrippedTextReply": "This is the reply text",
      "Tag": "TestTag",
      "Headers": [
        {"Name": "X-Header-Test", "Value": ""},
        {"Name": "X-Spam-Status", "Value": "No"},
        {"Name": "Message-ID", "Value": "<CAGXpo6Xo8k@mail.gmail.com>"},
        {"Name": "In-Reply-To", "Value": "<reply-2@help.example.com>"},
        {"Name": "References", "Value": "<start-1@help.example.com>\r\n <reply-2@help.example.com>"}
      ],
      "Attachments": [
        {"Name": "test.txt", "Content": "VGhpcyBpcyBhdHRhY2htZW50IGNvbnRlbnRzLCBiYXNlLTY0IGVuY29kZWQu",
         "ContentType": "text/plain", "ContentLength": 45}
      ]
    }"#;

    fn postmark_with(
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> Result<InboundEmail, InvalidInput> {
        let mut value: serde_json::Value = serde_json::from_str(POSTMARK_EXAMPLE).unwrap();
        edit(&mut value);
        postmark(value.to_string().as_bytes())
    }

    #[test]
    fn postmarks_documented_inbound_example() {
        let email = postmark(POSTMARK_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(email.from.as_str(), "support@postmarkapp.com");
        assert_eq!(
            email.name.as_ref().map(PersonName::as_str),
            Some("Postmarkapp Support")
        );
        assert_eq!(email.message_id, "CAGXpo6Xo8k@mail.gmail.com");
        assert_eq!(email.subject, "Test subject");
        assert_eq!(email.text, "This is the reply text");
        assert_eq!(email.reply_token.as_deref(), Some("SampleHash"));
        assert_eq!(
            email.referenced_ids,
            ["reply-2@help.example.com", "start-1@help.example.com"]
        );
        assert_eq!(
            email.references,
            "<start-1@help.example.com> <reply-2@help.example.com>"
        );
        assert_eq!(
            email.attachments,
            [EmailAttachment {
                name: "test.txt".into(),
                content_type: "text/plain".into(),
                data: b"This is attachment contents, base-64 encoded.".to_vec(),
            }]
        );
        assert_eq!(email.attachments_over_limit, 0);
    }

    #[test]
    fn postmark_fallbacks_for_text_sender_and_token() {
        let email = postmark_with(|v| {
            v["StrippedTextReply"] = "".into();
            v["FromFull"] = serde_json::Value::Null;
            v["FromName"] = serde_json::Value::Null;
            v["From"] = "\"Lee, Ann\" <ann@example.com>".into();
            v["MailboxHash"] = "".into();
            v["ToFull"][0]["MailboxHash"] = "".into();
            v["To"] = "Support <support+T0k-en_1@help.example.com>".into();
            v["OriginalRecipient"] = "support+T0k-en_1@help.example.com".into();
            v["ToFull"][0]["Email"] = "support+T0k-en_1@help.example.com".into();
        })
        .unwrap();
        assert!(email.text.starts_with("This is a test text body."));
        assert_eq!(email.from.as_str(), "ann@example.com");
        assert_eq!(
            email.name.as_ref().map(PersonName::as_str),
            Some("Lee, Ann")
        );
        assert_eq!(email.reply_token.as_deref(), Some("T0k-en_1"));

        let html_only = postmark_with(|v| {
            v["StrippedTextReply"] = serde_json::Value::Null;
            v["TextBody"] = "  \n".into();
            v["HtmlBody"] = "<html><head><style>p{}</style></head><body><p>Hello &amp; welcome</p><p>Line&nbsp;two<br>three</p><script>alert(1)</script></body></html>".into();
        })
        .unwrap();
        assert_eq!(html_only.text, "Hello & welcome\nLine two\nthree");

        // No token anywhere, a plus in the customer's own Cc'd address is not one of ours.
        let plain = postmark_with(|v| {
            v["MailboxHash"] = "".into();
            v["ToFull"] =
                serde_json::json!([{"Email": "support@help.example.com", "MailboxHash": ""}]);
            v["To"] = "support@help.example.com".into();
            v["OriginalRecipient"] = "support@help.example.com".into();
            v["CcFull"] = serde_json::json!([]);
            v["Cc"] = "".into();
        })
        .unwrap();
        assert_eq!(plain.reply_token, None);
        let weird = postmark_with(|v| v["MailboxHash"] = "has space".into()).unwrap();
        assert_eq!(
            weird.reply_token.as_deref(),
            Some("SampleHash"),
            "falls back to ToFull"
        );
    }

    #[test]
    fn an_email_without_a_message_id_gets_one_that_is_the_same_on_every_retry() {
        let without = |postmark_id: &str| {
            postmark_with(|v| {
                v["Headers"] = serde_json::json!([{"Name": "X-Spam-Status", "Value": "No"}]);
                v["MessageID"] = postmark_id.into();
            })
            .unwrap()
            .message_id
        };
        let id = without("73e6d360-66eb-11e1-8e72-a8904824019b");
        assert!(id.ends_with("@missing-message-id.invalid"), "{id}");
        assert_eq!(id.len(), 64 + "@missing-message-id.invalid".len());
        assert_eq!(id, without("73e6d360-66eb-11e1-8e72-a8904824019b"));
        assert_ne!(id, without("another-postmark-id"));
        assert_eq!(message_ids(&format!("<{id}>")), [id.as_str()]);
        // A bare id some mailers write is still the id; a broken one is replaced.
        let bare = postmark_with(|v| {
            v["Headers"] = serde_json::json!([{"Name": "message-id", "Value": " abc@host "}]);
        })
        .unwrap();
        assert_eq!(bare.message_id, "abc@host");
        let broken = postmark_with(|v| {
            v["Headers"] = serde_json::json!([{"Name": "Message-ID", "Value": "<no at sign>"}]);
        })
        .unwrap();
        assert!(broken.message_id.ends_with("@missing-message-id.invalid"));
    }

    #[test]
    fn malformed_postmark_bodies_are_refused() {
        let problem = |body: &[u8]| postmark(body).unwrap_err().to_string();
        assert_eq!(problem(b""), "body: is not a JSON object");
        assert_eq!(problem(b" [{}]"), "body: is not a JSON object");
        assert_eq!(
            problem(&POSTMARK_EXAMPLE.as_bytes()[..POSTMARK_EXAMPLE.len() / 2]),
            "body: is not valid JSON"
        );
        assert!(problem(br#"{"From": 5}"#).starts_with("body: is not Postmark's inbound JSON"));
        assert_eq!(problem(br#"{"Subject": "hi"}"#), "From: is missing");
        assert_eq!(
            problem(br#"{"From": "not an address"}"#),
            "From: must be an email address like name@example.com"
        );
        let bad_base64 = postmark_with(|v| v["Attachments"][0]["Content"] = "!!!".into());
        assert_eq!(
            bad_base64.unwrap_err().to_string(),
            "Attachments: has a Content that is not base64"
        );
    }

    #[test]
    fn attachments_beyond_the_limit_are_counted_not_kept() {
        let email = postmark_with(|v| {
            let files: Vec<serde_json::Value> = (1..=12)
                .map(|n| serde_json::json!({"Name": format!("f{n}.txt"), "Content": "eA==", "ContentType": "text/plain"}))
                .collect();
            v["Attachments"] = files.into();
        })
        .unwrap();
        assert_eq!(email.attachments.len(), crate::attachment::MAX_PER_MESSAGE);
        assert_eq!(email.attachments[9].name, "f10.txt");
        assert_eq!(email.attachments_over_limit, 2);

        // Lists are read only as far as they are used: the rest is skipped, not built.
        let body = format!(
            r#"{{"From":"a@example.com","Headers":[{}],"Attachments":[{}],"ToFull":[{}]}}"#,
            ["{}"; 100_000].join(","),
            [r#"{"Content":"eA=="}"#; 50_000].join(","),
            ["{}"; 10_000].join(","),
        );
        let many = postmark(body.as_bytes()).unwrap();
        assert_eq!(many.attachments.len(), crate::attachment::MAX_PER_MESSAGE);
        assert_eq!(many.attachments_over_limit, 50_000 - 10);
        let broken = body.replace(r#""Content":"eA=="}]"#, r#""Content":"eA=="},]"#);
        assert!(
            postmark(broken.as_bytes()).is_err(),
            "skipped elements are still parsed"
        );
    }

    fn encode(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    /// A Mailgun forward with the documented field names, urlencoded; `extra` fields replace
    /// those of the same name.
    fn mailgun_form(extra: &[(&str, &str)]) -> String {
        let headers = serde_json::json!([
            [
                "Received",
                "by mxa.mailgun.org with ESMTP id 1; Tue, 06 Feb 2024 10:00:00 +0000"
            ],
            ["From", "Bob Lee <bob@example.com>"],
            ["To", "support+Ab3x9@help.example.com"],
            ["Subject", "Re: Order 42"],
            ["Message-Id", "<CAF=bob.1@mail.example.com>"],
            ["In-Reply-To", "<out-7@help.example.com>"],
            [
                "References",
                "<first-1@help.example.com> <out-7@help.example.com>"
            ],
            ["Date", "Tue, 06 Feb 2024 10:00:00 +0000"]
        ]);
        let mut fields = vec![
            ("recipient", "support+Ab3x9@help.example.com"),
            ("sender", "bounces+srs=x@mail.example.com"),
            ("from", "Bob Lee <bob@example.com>"),
            ("subject", "Re: Order 42"),
            (
                "body-plain",
                "Thanks, it arrived!\n\n> On Monday you wrote:\n> shipped",
            ),
            ("stripped-text", "Thanks, it arrived!"),
            ("stripped-signature", ""),
            ("body-html", "<p>Thanks, it arrived!</p>"),
            ("attachment-count", "0"),
            ("timestamp", "1707213600"),
            (
                "token",
                "e0b5477167110d68991efc6b9f89f0a11066af27834600e123",
            ),
            ("signature", "0000"),
        ];
        fields.retain(|(n, _)| !extra.iter().any(|(e, _)| e == n));
        fields.extend_from_slice(extra);
        let headers = headers.to_string();
        fields.push(("message-headers", &headers));
        fields
            .iter()
            .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    fn mailgun_urlencoded(body: &str) -> Result<InboundEmail, InvalidInput> {
        let pairs = super::super::twilio::parse_form(body.as_bytes())?;
        let fields: Vec<Part<'_>> = pairs.iter().map(|(n, v)| Part::field(n, v)).collect();
        mailgun(&fields)
    }

    #[test]
    fn a_mailgun_forward_urlencoded() {
        let email = mailgun_urlencoded(&mailgun_form(&[])).unwrap();
        assert_eq!(email.from.as_str(), "bob@example.com");
        assert_eq!(email.name.as_ref().map(PersonName::as_str), Some("Bob Lee"));
        assert_eq!(email.message_id, "CAF=bob.1@mail.example.com");
        assert_eq!(email.subject, "Re: Order 42");
        assert_eq!(email.text, "Thanks, it arrived!");
        assert_eq!(email.reply_token.as_deref(), Some("Ab3x9"));
        assert_eq!(
            email.referenced_ids,
            ["out-7@help.example.com", "first-1@help.example.com"]
        );
        assert_eq!(
            email.references,
            "<first-1@help.example.com> <out-7@help.example.com>"
        );
        assert!(email.attachments.is_empty());

        // Header fields posted on their own win over message-headers; the envelope sender stands
        // in for an unusable From.
        let own = mailgun_urlencoded(&mailgun_form(&[
            ("Message-Id", "<own@mail.example.com>"),
            ("from", "undisclosed"),
        ]))
        .unwrap();
        assert_eq!(own.message_id, "own@mail.example.com");
        assert_eq!(own.from.as_str(), "bounces+srs=x@mail.example.com");
        assert_eq!(own.name, None);
    }

    #[test]
    fn malformed_mailgun_forwards_are_refused() {
        let only = |fields: &[(&str, &str)]| {
            let fields: Vec<Part<'_>> = fields.iter().map(|(n, v)| Part::field(n, v)).collect();
            mailgun(&fields).map(|e| e.from.as_str().to_owned())
        };
        assert_eq!(only(&[]).unwrap_err().to_string(), "from: is missing");
        assert_eq!(
            only(&[("from", "Bob <bob@example.com>"), ("message-headers", "[[")])
                .unwrap_err()
                .field,
            "message-headers"
        );
        assert!(only(&[("from", "nobody"), ("sender", "also nobody")]).is_err());
        assert_eq!(
            only(&[("from", "bob@example.com")]).unwrap(),
            "bob@example.com"
        );
        let not_utf8 = [Part {
            name: "from".into(),
            filename: None,
            content_type: None,
            body: b"\xff",
        }];
        assert!(mailgun(&not_utf8).is_err());
    }

    #[test]
    fn a_mailgun_forward_with_attachments_as_multipart() {
        let mut body = Vec::new();
        let mut field =
            |name: &str, filename: Option<&str>, content_type: Option<&str>, value: &[u8]| {
                body.extend_from_slice(b"--b0undary\r\nContent-Disposition: form-data; name=\"");
                body.extend_from_slice(name.as_bytes());
                body.push(b'"');
                if let Some(filename) = filename {
                    body.extend_from_slice(format!("; filename=\"{filename}\"").as_bytes());
                }
                body.extend_from_slice(b"\r\n");
                if let Some(content_type) = content_type {
                    body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
                }
                body.extend_from_slice(b"\r\n");
                body.extend_from_slice(value);
                body.extend_from_slice(b"\r\n");
            };
        field("from", None, None, "Zoë <zoe@example.com>".as_bytes());
        field("recipient", None, None, b"support@help.example.com");
        field("subject", None, None, b"Photo of the damage");
        field("body-plain", None, None, b"See attached.");
        field("Message-Id", None, None, b"<z1@example.com>");
        field("attachment-count", None, None, b"2");
        field("attachment-2", Some("notes.txt"), None, b"second");
        field(
            "attachment-1",
            Some("photo.png"),
            Some("image/png"),
            b"\x89PNG\r\n\x1a\n\x00\xff",
        );
        body.extend_from_slice(b"--b0undary--\r\n");
        let parts = super::super::multipart::parse("multipart/form-data; boundary=b0undary", &body)
            .unwrap();
        let email = mailgun(&parts).unwrap();
        assert_eq!(email.name.as_ref().map(PersonName::as_str), Some("Zoë"));
        assert_eq!(email.text, "See attached.");
        assert_eq!(email.reply_token, None);
        assert_eq!(email.referenced_ids, Vec::<String>::new());
        assert_eq!(
            email.attachments,
            [
                EmailAttachment {
                    name: "photo.png".into(),
                    content_type: "image/png".into(),
                    data: b"\x89PNG\r\n\x1a\n\x00\xff".to_vec(),
                },
                EmailAttachment {
                    name: "notes.txt".into(),
                    content_type: "application/octet-stream".into(),
                    data: b"second".to_vec(),
                },
            ]
        );
    }

    #[test]
    fn html_becomes_plain_text_crudely_but_safely() {
        assert_eq!(
            html_to_text(
                "<div>Hi <b>Ann</b>,</div><div><br></div><ul><li>one</li><li>two</li></ul><!-- <p>hidden</p> -->x &lt;script&gt; &#233;&#x1F600; a < b &bogus; &"
            ),
            "Hi Ann,\n\n- one\n- two\nx <script> é😀 a < b &bogus; &"
        );
        assert_eq!(html_to_text("<SCRIPT>evil()</SCRIPT>ok<style"), "ok");
        assert_eq!(html_to_text("<p>unterminated <b"), "unterminated");
        assert_eq!(
            html_to_text("&#0;&#xD800;&#99999999;"),
            "\u{fffd}\u{fffd}\u{fffd}"
        );
        assert_eq!(html_to_text(""), "");
        assert_eq!(
            html_to_text("caf&eacute; &amp;\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9};"),
            "caf&eacute; &\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9};"
        );
    }

    #[test]
    fn referenced_ids_are_bounded_and_keep_the_newest() {
        let chain: Vec<String> = (0..80).map(|n| format!("<m{n}@x>")).collect();
        let ids = referenced_ids("<parent@x>", &chain.join(" "));
        assert_eq!(ids.len(), MAX_REFERENCED_IDS);
        assert_eq!(ids[0], "parent@x");
        assert_eq!(ids.last().map(String::as_str), Some("m79@x"));
        assert_eq!(referenced_ids("<a@x>", "<b@x> <a@x>"), ["a@x", "b@x"]);
        let long: Vec<String> = (0..1000)
            .map(|n| format!("<message-{n}@example.com>"))
            .collect();
        let kept = references_value(&long.join("\r\n "));
        assert!(kept.len() <= MAX_REFERENCES_CHARS);
        assert!(kept.ends_with("<message-999@example.com>"));
        assert!(kept.starts_with('<'));
        assert_eq!(subject("  Re:\r\n  hello\u{7}  "), "Re: hello");
    }

    proptest::proptest! {
        #[test]
        fn postmark_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = postmark(&bytes);
        }

        #[test]
        fn postmark_json_shaped_input_never_panics(
            from in "[ -~]{0,40}",
            hash in "[ -~]{0,20}",
            headers in proptest::collection::vec(("(Message-ID|In-Reply-To|References|X)", "[ -~<>@]{0,60}"), 0..5),
            content in "[A-Za-z0-9+/= !]{0,40}",
            html in "[ -~]{0,80}",
        ) {
            let body = serde_json::json!({
                "From": from, "MailboxHash": hash, "To": hash, "HtmlBody": html,
                "Headers": headers.iter().map(|(n, v)| serde_json::json!({"Name": n, "Value": v})).collect::<Vec<_>>(),
                "Attachments": [{"Name": from, "Content": content, "ContentType": hash}],
            });
            let _ = postmark(body.to_string().as_bytes());
        }

        #[test]
        fn mailgun_never_panics(
            fields in proptest::collection::vec(
                ("(from|sender|recipient|subject|body-plain|stripped-text|body-html|message-headers|Message-Id|References|In-Reply-To|To|attachment-[0-9]{1,3})", "[ -~\u{e9}]{0,60}", proptest::option::of("[ -~]{0,10}")),
                0..10,
            ),
        ) {
            let parts: Vec<Part<'_>> = fields
                .iter()
                .map(|(n, v, file)| Part { name: n.clone(), filename: file.clone(), content_type: None, body: v.as_bytes() })
                .collect();
            let _ = mailgun(&parts);
        }

        #[test]
        fn html_to_text_never_panics(html in "[<>/!&#;a-z0-9 \u{e9}\u{1F600}-]{0,200}") {
            let _ = html_to_text(&html);
        }
    }
}
