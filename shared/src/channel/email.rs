//! Email webhooks and threading: Mailgun's signature (with freshness), the basic-auth
//! credentials of the webhooks that cannot be signed (Postmark, SendGrid), the pieces replies
//! need to thread (reply-address tokens, Message-ID lists, `Re:` subjects, `References`), and
//! inbound emails as Postmark ([`postmark`]), Mailgun ([`mailgun`]) and SendGrid's Inbound Parse
//! ([`sendgrid`]) post them, parsed into one [`InboundEmail`].
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
    // Checked: `now - i64::MIN` overflows (a signed timestamp far from any date is stale).
    let skew = now_s.checked_sub(at).and_then(i64::checked_abs);
    if skew.is_none_or(|skew| skew > MAILGUN_MAX_SKEW_S) {
        return Err(Refusal::Stale);
    }
    Ok(())
}

/// Whether an `Authorization` header carries a webhook's configured `user:password` (HTTP Basic,
/// compared in constant time): Postmark and SendGrid cannot sign their posts, so the credentials
/// in the webhook URL are the secret. Nothing verifies without configured credentials.
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
    // A set, not a scan of `ids`: the sender writes `References`, and a header of 200,000 ids
    // took minutes when each was compared with every one before it.
    let mut seen = std::collections::HashSet::new();
    for id in message_ids(in_reply_to)
        .into_iter()
        .chain(message_ids(references))
    {
        if id.chars().count() <= MAX_MESSAGE_ID_CHARS
            && !id.contains(char::is_control)
            && seen.insert(id)
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
/// The most headers and addresses of an email read (Postmark's lists, SendGrid's header block and
/// envelope); a body full of thousands of them is counted or skipped through, not kept.
const MAX_HEADERS: usize = 1_000;
const MAX_ADDRESSES: usize = 200;

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
    to_full: Option<Capped<PostmarkAddress, MAX_ADDRESSES>>,
    cc: Option<String>,
    cc_full: Option<Capped<PostmarkAddress, MAX_ADDRESSES>>,
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
    headers: Option<Capped<PostmarkHeader, MAX_HEADERS>>,
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

/// A raw header block as SendGrid posts it in `headers`: `Name: value` lines, each line that
/// starts with a space or tab continuing the field before it (RFC 5322 folding, undone by
/// joining the lines). Lookups ignore case and the first of repeated fields wins. Lenient, as
/// mail is: lines that are not fields (no colon, a name with spaces) are skipped with their
/// continuations, the block ends at its first empty line, and at most [`MAX_HEADERS`] fields are
/// read.
#[derive(Debug, Default, PartialEq, Eq)]
struct HeaderBlock {
    fields: Vec<(String, String)>,
}

impl HeaderBlock {
    fn parse(raw: &str) -> HeaderBlock {
        let mut fields: Vec<(String, String)> = Vec::new();
        // Whether the last field line was skipped: its continuation lines are skipped too.
        let mut skipping = true;
        for line in raw.trim_start_matches(['\r', '\n']).split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = fields.last_mut().filter(|_| !skipping) {
                    value.push_str(line);
                }
                continue;
            }
            if fields.len() == MAX_HEADERS {
                break;
            }
            skipping = true;
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            // RFC 5322 allows whitespace before the colon only in its obsolete syntax; a name
            // is otherwise printable ASCII.
            let name = name.trim_end();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
                continue;
            }
            fields.push((name.to_owned(), value.to_owned()));
            skipping = false;
        }
        HeaderBlock { fields }
    }

    /// The value of the first field called `name` (any case), unfolded and trimmed.
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// Windows-1252's characters for the bytes 0x80-0x9F (elsewhere it is ISO-8859-1); its five
/// unassigned bytes read as U+FFFD.
const WINDOWS_1252_C1: [char; 32] = [
    '\u{20ac}', '\u{fffd}', '\u{201a}', '\u{0192}', '\u{201e}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02c6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{fffd}', '\u{017d}', '\u{fffd}',
    '\u{fffd}', '\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02dc}', '\u{2122}', '\u{0161}', '\u{203a}', '\u{0153}', '\u{fffd}', '\u{017e}', '\u{0178}',
];

/// One byte of Windows-1252, or of ISO-8859-15 (Latin-9: ISO-8859-1 with eight characters
/// swapped).
fn single_byte(byte: u8, latin9: bool) -> char {
    match (byte, latin9) {
        (0x80..=0x9f, false) => WINDOWS_1252_C1[usize::from(byte - 0x80)],
        (0xa4, true) => '\u{20ac}',
        (0xa6, true) => '\u{0160}',
        (0xa8, true) => '\u{0161}',
        (0xb4, true) => '\u{017d}',
        (0xb8, true) => '\u{017e}',
        (0xbc, true) => '\u{0152}',
        (0xbd, true) => '\u{0153}',
        (0xbe, true) => '\u{0178}',
        _ => char::from(byte),
    }
}

/// A SendGrid field's text, read in the charset its `charsets` entry names. SendGrid passes the
/// bodies (and at times the subject) on in the email's own charset: UTF-8 is read as it is;
/// ISO-8859-1, Windows-1252 and ASCII as Windows-1252 (what mail labelled with them usually is,
/// as browsers also assume); ISO-8859-15 as itself; anything else as UTF-8, with U+FFFD for what
/// is not. Never refused: an email is not lost over its encoding.
fn decode_text(bytes: &[u8], charset: Option<&str>) -> String {
    let label = charset.unwrap_or_default().trim().to_ascii_lowercase();
    let latin9 = match label.as_str() {
        "iso-8859-1" | "iso8859-1" | "iso_8859-1" | "latin1" | "latin-1" | "l1"
        | "windows-1252" | "cp1252" | "us-ascii" | "ascii" => false,
        "iso-8859-15" | "iso8859-15" | "iso_8859-15" | "latin9" | "latin-9" => true,
        _ => return String::from_utf8_lossy(bytes).into_owned(),
    };
    bytes.iter().map(|&b| single_byte(b, latin9)).collect()
}

/// SendGrid's `envelope`: the SMTP recipients and sender.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SendgridEnvelope {
    to: Option<Capped<String, MAX_ADDRESSES>>,
    from: Option<String>,
}

/// SendGrid's `charsets`: the charset of each text field it posts.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SendgridCharsets {
    to: Option<String>,
    cc: Option<String>,
    from: Option<String>,
    subject: Option<String>,
    text: Option<String>,
    html: Option<String>,
}

/// One entry of SendGrid's `attachment-info`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SendgridFileInfo {
    filename: Option<String>,
    name: Option<String>,
    #[serde(rename = "type")]
    content_type: Option<String>,
}

/// The `attachment-info` entries of the files kept (`attachment1`, ...), by field name; the
/// other entries are skipped without being built.
fn sendgrid_file_info(
    json: &str,
    wanted: &[&str],
) -> Result<Vec<(String, SendgridFileInfo)>, serde_json::Error> {
    struct Entries<'w>(&'w [&'w str]);
    impl<'de> serde::de::Visitor<'de> for Entries<'_> {
        type Value = Vec<(String, SendgridFileInfo)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of attachment fields to file descriptions")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut kept = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                if self.0.contains(&key.as_str()) {
                    let info = map.next_value::<SendgridFileInfo>()?;
                    kept.push((key, info));
                } else {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
            Ok(kept)
        }
    }
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let kept = serde::Deserializer::deserialize_map(&mut deserializer, Entries(wanted))?;
    deserializer.end()?;
    Ok(kept)
}

/// A SendGrid JSON field, or the empty value when it was not posted.
fn sendgrid_json<T: serde::de::DeserializeOwned + Default>(
    bytes: Option<&[u8]>,
    name: &'static str,
    problem: &str,
) -> Result<T, InvalidInput> {
    bytes.map_or_else(
        || Ok(T::default()),
        |bytes| serde_json::from_slice(bytes).map_err(|_| bad(name, problem)),
    )
}

/// The number of a SendGrid attachment field (`attachment3` is 3; digits only).
fn sendgrid_attachment_number(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("attachment")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// An email as SendGrid's Inbound Parse posts it in its default (parsed) mode, from its
/// `multipart/form-data` parts: `headers` (the raw header block, where `Message-ID`,
/// `In-Reply-To` and `References` are read), `from`, `to`, `cc`, `subject`, `text`, `html` (in
/// the charsets `charsets` names), `envelope` (JSON: the SMTP `to` list and `from`),
/// `attachment-info` (JSON: `attachmentN` -> `filename`, `type`) and the files `attachment1` ..
/// `attachmentN`.
///
/// A post in raw mode (the whole MIME message in `email`) is refused, saying which setting to
/// change: reading MIME bodies (nested parts, transfer encodings, encoded words) is a parser of
/// its own, and the parsed mode gives us everything we use. The caller checks the credentials
/// first.
pub fn sendgrid(fields: &[Part<'_>]) -> Result<InboundEmail, InvalidInput> {
    let raw = |wanted: &str| {
        fields
            .iter()
            .find(|p| p.filename.is_none() && p.name == wanted)
            .map(|p| p.body)
    };
    if raw("email").is_some() && raw("headers").is_none() {
        return Err(bad(
            "email",
            "is a raw MIME message, which is not read: in SendGrid's Inbound Parse settings, \
             untick \"POST the raw, full MIME message\"",
        ));
    }
    let charsets: SendgridCharsets = sendgrid_json(
        raw("charsets"),
        "charsets",
        "is not a JSON map of fields to charsets",
    )?;
    let envelope: SendgridEnvelope = sendgrid_json(
        raw("envelope"),
        "envelope",
        "is not SendGrid's envelope JSON ({\"to\":[...],\"from\":\"...\"})",
    )?;
    let text_of = |name: &str, charset: &Option<String>| {
        raw(name).map(|bytes| decode_text(bytes, charset.as_deref()))
    };
    let headers = HeaderBlock::parse(&String::from_utf8_lossy(raw("headers").unwrap_or_default()));
    let from_header = text_of("from", &charsets.from).or(headers.get("From").map(str::to_owned));
    // The From header names the person; the envelope sender (a bounce address) is the fallback.
    let (from, name) = match sender("from", None, None, from_header.as_deref()) {
        Ok(found) => found,
        Err(e) => match envelope.from.as_deref() {
            Some(address) if !address.trim().is_empty() => {
                sender("envelope", None, None, Some(address))?
            }
            _ => return Err(e),
        },
    };
    let subject = subject(
        text_of("subject", &charsets.subject)
            .as_deref()
            .or(headers.get("Subject"))
            .unwrap_or_default(),
    );
    let plain = text_of("text", &charsets.text);
    let html = text_of("html", &charsets.html);
    let text = best_text(None, plain.as_deref(), html.as_deref());
    let recipients: Vec<&str> = envelope
        .to
        .iter()
        .flat_map(|c| &c.items)
        .map(String::as_str)
        .collect();
    let message_id = message_id_or_synthetic(
        headers.get("Message-ID"),
        &[
            "sendgrid",
            from.as_str(),
            &recipients.join(","),
            headers.get("Date").unwrap_or_default(),
            &subject,
            &text,
        ],
    );
    let to = text_of("to", &charsets.to).or(headers.get("To").map(str::to_owned));
    let cc = text_of("cc", &charsets.cc).or(headers.get("Cc").map(str::to_owned));
    let reply_token = token_in_addresses(
        recipients
            .iter()
            .copied()
            .chain(to.as_deref())
            .chain(cc.as_deref()),
    );
    let mut files: Vec<(u32, &Part<'_>)> = fields
        .iter()
        .filter_map(|p| sendgrid_attachment_number(&p.name).map(|n| (n, p)))
        .collect();
    files.sort_by_key(|(n, _)| *n);
    let attachments_over_limit = files.len().saturating_sub(MAX_ATTACHMENTS);
    files.truncate(MAX_ATTACHMENTS);
    let info = match std::str::from_utf8(raw("attachment-info").unwrap_or(b"{}")) {
        Ok(json) => {
            let wanted: Vec<&str> = files.iter().map(|(_, p)| p.name.as_str()).collect();
            sendgrid_file_info(json, &wanted).ok()
        }
        Err(_) => None,
    }
    .ok_or_else(|| {
        bad(
            "attachment-info",
            "is not a JSON map of attachment fields to file descriptions",
        )
    })?;
    let attachments = files
        .iter()
        .map(|(_, part)| {
            let described = info
                .iter()
                .find(|(field, _)| *field == part.name)
                .map(|(_, info)| info);
            let name = described
                .and_then(|i| i.filename.clone().or_else(|| i.name.clone()))
                .or_else(|| part.filename.clone())
                .unwrap_or_default();
            let content_type = described
                .and_then(|i| i.content_type.clone())
                .or_else(|| part.content_type.clone())
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            EmailAttachment {
                name,
                content_type,
                data: part.body.to_vec(),
            }
        })
        .collect();
    let references = headers.get("References").unwrap_or_default();
    Ok(InboundEmail {
        from,
        name,
        message_id,
        subject,
        text,
        reply_token,
        referenced_ids: referenced_ids(headers.get("In-Reply-To").unwrap_or_default(), references),
        references: references_value(references),
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

    /// A field or file of a hand-written form: name, file name, content type, bytes.
    type FormPart<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

    /// A `multipart/form-data` body as the providers' senders write one: CRLF lines, each part
    /// after its delimiter, a closing delimiter.
    fn form_data(boundary: &str, parts: &[FormPart<'_>]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, filename, content_type, value) in parts {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"")
                    .as_bytes(),
            );
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
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        body
    }

    /// The parts of a body [`form_data`] wrote, read back by the real parser.
    fn form_parts<'a>(boundary: &str, body: &'a [u8]) -> Vec<Part<'a>> {
        super::super::multipart::parse(&format!("multipart/form-data; boundary={boundary}"), body)
            .unwrap()
    }

    #[test]
    fn a_mailgun_forward_with_attachments_as_multipart() {
        let body = form_data(
            "b0undary",
            &[
                ("from", None, None, "Zoë <zoe@example.com>".as_bytes()),
                ("recipient", None, None, b"support@help.example.com"),
                ("subject", None, None, b"Photo of the damage"),
                ("body-plain", None, None, b"See attached."),
                ("Message-Id", None, None, b"<z1@example.com>"),
                ("attachment-count", None, None, b"2"),
                ("attachment-2", Some("notes.txt"), None, b"second"),
                (
                    "attachment-1",
                    Some("photo.png"),
                    Some("image/png"),
                    b"\x89PNG\r\n\x1a\n\x00\xff",
                ),
            ],
        );
        let parts = form_parts("b0undary", &body);
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

    /// The header block of a customer's reply as SendGrid posts it in `headers`: LF line ends,
    /// `Received`, DKIM and `References` folded over several lines.
    const SENDGRID_HEADERS: &str = "Received: by mx0047p1mdw1.sendgrid.net with SMTP id 6WCVv7KAWn Wed, 06 Feb 2024 10:00:02 +0000 (UTC)\n\
Received: from mail-io0-f169.google.com (mail-io0-f169.google.com [209.85.223.169])\n\tby mx0047p1mdw1.sendgrid.net (Postfix) with ESMTPS id AA9FFA817F2\n\tfor <support+Ab3x9@parse.help.example.com>; Wed, 06 Feb 2024 10:00:02 +0000 (UTC)\n\
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\n        d=example.com; s=20230601; t=1707213600;\n        h=to:subject:message-id:date:from:in-reply-to:references:mime-version;\n        bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\n        b=JCDAea097NZuAf4chbjqgUOlyH6\n\
MIME-Version: 1.0\n\
References: <first-1@help.example.com>\n <out-7@help.example.com>\n\
In-Reply-To: <out-7@help.example.com>\n\
From: Bob Lee <bob@example.com>\n\
Date: Tue, 6 Feb 2024 11:00:00 +0100\n\
message-id: <CAN_P_JMvV7Zp+bob=1@mail.example.com>\n\
Subject: Re: Order 42\n\
To: Support <support+Ab3x9@parse.help.example.com>\n\
Content-Type: multipart/mixed; boundary=\"000000000000b1b4e1061193e2c5\"\n";

    const SENDGRID_BOUNDARY: &str = "xYzZY";

    /// The parts of a SendGrid Inbound Parse post in its default (parsed) mode, in the order
    /// SendGrid writes them; `edit` replaces, adds or (with `None`) removes parts.
    fn sendgrid_body(edit: &[(&str, Option<FormPart<'_>>)]) -> Vec<u8> {
        let png: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";
        let mut parts: Vec<FormPart<'_>> = vec![
            ("headers", None, None, SENDGRID_HEADERS.as_bytes()),
            ("dkim", None, None, b"{@example.com : pass}"),
            ("content-ids", None, None, br#"{"ii_lsa8c0ro0":"attachment1"}"#),
            ("to", None, None, b"Support <support+Ab3x9@parse.help.example.com>"),
            ("html", None, None, b"<div dir=\"ltr\">Thanks, it arrived!</div><br><div class=\"gmail_quote\">On Mon, Support wrote:<blockquote>shipped</blockquote></div>"),
            ("from", None, None, b"Bob Lee <bob@example.com>"),
            ("text", None, None, b"Thanks, it arrived!\n\nOn Mon, Support wrote:\n> shipped\n"),
            ("sender_ip", None, None, b"209.85.223.169"),
            ("spam_report", None, None, b"Spam detection software, running on the system \"mx0047p1mdw1.sendgrid.net\", has NOT identified this incoming email as spam."),
            ("envelope", None, None, br#"{"to":["support+Ab3x9@parse.help.example.com"],"from":"bob@example.com"}"#),
            ("attachments", None, None, b"1"),
            ("subject", None, None, b"Re: Order 42"),
            ("attachment-info", None, None, br#"{"attachment1":{"filename":"damage.png","name":"damage.png","type":"image/png","content-id":"ii_lsa8c0ro0"}}"#),
            ("spam_score", None, None, b"0.1"),
            ("charsets", None, None, br#"{"to":"UTF-8","html":"UTF-8","subject":"UTF-8","from":"UTF-8","text":"UTF-8"}"#),
            ("SPF", None, None, b"pass"),
            ("attachment1", Some("damage.png"), Some("image/png"), png),
        ];
        for (name, replacement) in edit {
            let at = parts.iter().position(|(n, ..)| n == name);
            match (at, replacement) {
                (Some(at), Some(part)) => parts[at] = *part,
                (Some(at), None) => {
                    parts.remove(at);
                }
                (None, Some(part)) => parts.push(*part),
                (None, None) => {}
            }
        }
        form_data(SENDGRID_BOUNDARY, &parts)
    }

    fn sendgrid_with(edit: &[(&str, Option<FormPart<'_>>)]) -> Result<InboundEmail, InvalidInput> {
        let body = sendgrid_body(edit);
        sendgrid(&form_parts(SENDGRID_BOUNDARY, &body))
    }

    #[test]
    fn a_sendgrid_inbound_parse_post_in_parsed_mode() {
        let email = sendgrid_with(&[]).unwrap();
        assert_eq!(email.from.as_str(), "bob@example.com");
        assert_eq!(email.name.as_ref().map(PersonName::as_str), Some("Bob Lee"));
        assert_eq!(email.message_id, "CAN_P_JMvV7Zp+bob=1@mail.example.com");
        assert_eq!(email.subject, "Re: Order 42");
        assert_eq!(
            email.text, "Thanks, it arrived!\n\nOn Mon, Support wrote:\n> shipped\n",
            "SendGrid does not strip quoted history; the plain text is taken as sent"
        );
        assert_eq!(email.reply_token.as_deref(), Some("Ab3x9"));
        assert_eq!(
            email.referenced_ids,
            ["out-7@help.example.com", "first-1@help.example.com"]
        );
        assert_eq!(
            email.references,
            "<first-1@help.example.com> <out-7@help.example.com>"
        );
        assert_eq!(
            email.attachments,
            [EmailAttachment {
                name: "damage.png".into(),
                content_type: "image/png".into(),
                data: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec(),
            }]
        );
        assert_eq!(email.attachments_over_limit, 0);
    }

    #[test]
    fn sendgrid_reply_tokens_come_from_the_envelope_then_to_and_cc() {
        // Sent Bcc to the tokened address: only the envelope names it.
        let bcc = sendgrid_with(&[
            ("to", Some(("to", None, None, b"someone@example.org"))),
            (
                "headers",
                Some(("headers", None, None, b"Message-ID: <b@x>\n")),
            ),
        ])
        .unwrap();
        assert_eq!(bcc.reply_token.as_deref(), Some("Ab3x9"));
        let to_only = sendgrid_with(&[
            ("envelope", None),
            (
                "to",
                Some((
                    "to",
                    None,
                    None,
                    b"\"Help, Desk\" <support+T0k-en_1@parse.help.example.com>, x@example.org",
                )),
            ),
        ])
        .unwrap();
        assert_eq!(to_only.reply_token.as_deref(), Some("T0k-en_1"));
        let cc = sendgrid_with(&[
            (
                "envelope",
                Some((
                    "envelope",
                    None,
                    None,
                    br#"{"to":["support@parse.help.example.com"]}"#,
                )),
            ),
            (
                "to",
                Some(("to", None, None, b"support@parse.help.example.com")),
            ),
            (
                "cc",
                Some(("cc", None, None, b"support+Cc9@parse.help.example.com")),
            ),
        ])
        .unwrap();
        assert_eq!(cc.reply_token.as_deref(), Some("Cc9"));
        let none = sendgrid_with(&[
            (
                "envelope",
                Some((
                    "envelope",
                    None,
                    None,
                    br#"{"to":["support@parse.help.example.com"],"from":"bob@example.com"}"#,
                )),
            ),
            (
                "to",
                Some(("to", None, None, b"support@parse.help.example.com")),
            ),
            (
                "headers",
                Some((
                    "headers",
                    None,
                    None,
                    b"Message-ID: <n@x>\nTo: support+not-read-here@x.example\n",
                )),
            ),
        ])
        .unwrap();
        assert_eq!(
            none.reply_token, None,
            "the posted to field wins over the header"
        );
    }

    #[test]
    fn sendgrid_text_is_read_in_the_charset_sendgrid_names() {
        let email = sendgrid_with(&[
            ("text", Some(("text", None, None, b"The parcel\x92s box\x85 \x80 5"))),
            ("html", Some(("html", None, None, b"<p>\xbfLleg\xf3?</p>"))),
            ("subject", Some(("subject", None, None, b"Como usted pidi\xa2"))),
            ("from", Some(("from", None, None, "Zoë Ortiz <zoe@example.com>".as_bytes()))),
            ("charsets", Some(("charsets", None, None, br#"{"to":"UTF-8","html":"iso-8859-1","subject":"cp850","from":"UTF-8","text":"windows-1252"}"#))),
        ])
        .unwrap();
        assert_eq!(email.text, "The parcel\u{2019}s box\u{2026} \u{20ac} 5");
        assert_eq!(
            email.name.as_ref().map(PersonName::as_str),
            Some("Zoë Ortiz")
        );
        assert_eq!(
            email.subject, "Como usted pidi\u{fffd}",
            "a charset we do not know is read as UTF-8, never refused"
        );
        let html = sendgrid_with(&[
            ("text", None),
            ("html", Some(("html", None, None, b"<p>\xbfLleg\xf3?</p>"))),
            (
                "charsets",
                Some(("charsets", None, None, br#"{"html":"ISO-8859-1"}"#)),
            ),
        ])
        .unwrap();
        assert_eq!(html.text, "\u{bf}Lleg\u{f3}?");
        assert_eq!(
            decode_text(b"\xa4 \xbd", Some("iso-8859-15")),
            "\u{20ac} \u{153}"
        );
        assert_eq!(decode_text(b"\xa4 \xbd", Some("latin1")), "\u{a4} \u{bd}");
        assert_eq!(decode_text("é".as_bytes(), None), "é");
    }

    #[test]
    fn sendgrid_files_follow_their_number_and_attachment_info() {
        let names: Vec<String> = (1..=12).map(|n| format!("attachment{n}")).collect();
        let files: Vec<FormPart<'_>> = names
            .iter()
            .rev()
            .map(|n| {
                (
                    n.as_str(),
                    Some("upload.bin"),
                    Some("text/plain"),
                    b"x".as_slice(),
                )
            })
            .collect();
        let info = r#"{"attachment2":{"filename":"second.txt","type":"text/csv"},"attachment1":{"name":"first.txt"},"attachment11":{"filename":"never read","type":7}}"#;
        let mut edit: Vec<(&str, Option<FormPart<'_>>)> = vec![
            ("attachment1", None),
            (
                "attachment-info",
                Some(("attachment-info", None, None, info.as_bytes())),
            ),
        ];
        edit.extend(files.iter().map(|f| ("", Some(*f))));
        let email = sendgrid_with(&edit).unwrap();
        let seen: Vec<(&str, &str)> = email
            .attachments
            .iter()
            .map(|a| (a.name.as_str(), a.content_type.as_str()))
            .collect();
        assert_eq!(seen.len(), crate::attachment::MAX_PER_MESSAGE);
        assert_eq!(seen[0], ("first.txt", "text/plain"));
        assert_eq!(seen[1], ("second.txt", "text/csv"));
        assert_eq!(
            seen[9],
            ("upload.bin", "text/plain"),
            "attachment10 after attachment9"
        );
        assert_eq!(email.attachments_over_limit, 2);
        assert_eq!(sendgrid_attachment_number("attachment10"), Some(10));
        for not_a_file in [
            "attachments",
            "attachment-info",
            "attachment",
            "attachment+3",
            "attachment 1",
        ] {
            assert_eq!(sendgrid_attachment_number(not_a_file), None, "{not_a_file}");
        }
    }

    #[test]
    fn sendgrid_senders_fall_back_to_the_header_then_the_envelope() {
        let header = sendgrid_with(&[("from", None)]).unwrap();
        assert_eq!(header.from.as_str(), "bob@example.com");
        assert_eq!(
            header.name.as_ref().map(PersonName::as_str),
            Some("Bob Lee")
        );
        let envelope = sendgrid_with(&[(
            "from",
            Some(("from", None, None, b"undisclosed-recipients:;")),
        )])
        .unwrap();
        assert_eq!(envelope.from.as_str(), "bob@example.com");
        assert_eq!(envelope.name, None);
        let nobody = sendgrid_with(&[("from", None), ("headers", None), ("envelope", None)]);
        assert_eq!(nobody.unwrap_err().to_string(), "from: is missing");
    }

    #[test]
    fn sendgrid_raw_mode_and_malformed_posts_are_refused() {
        let raw = sendgrid_with(&[
            ("headers", None),
            ("text", None),
            ("html", None),
            (
                "email",
                Some((
                    "email",
                    None,
                    None,
                    b"From: Bob <bob@example.com>\r\nMessage-ID: <r@x>\r\n\r\nHi\r\n",
                )),
            ),
        ])
        .unwrap_err();
        assert_eq!(raw.field, "email");
        assert!(
            raw.problem
                .contains("untick \"POST the raw, full MIME message\""),
            "{raw}"
        );
        let problem = |name: &str, value: &[u8]| {
            sendgrid_with(&[(name, Some((name, None, None, value)))])
                .unwrap_err()
                .to_string()
        };
        assert!(
            problem("envelope", b"{\"to\":\"one@x\"}")
                .starts_with("envelope: is not SendGrid's envelope JSON")
        );
        assert!(problem("envelope", b"not json").starts_with("envelope: "));
        assert!(problem("charsets", b"{\"text\":1}").starts_with("charsets: "));
        assert!(problem("attachment-info", b"[]").starts_with("attachment-info: "));
        assert!(
            problem("attachment-info", br#"{"attachment1":{"type":5}}"#)
                .starts_with("attachment-info: ")
        );
        assert!(problem("attachment-info", b"{} trailing").starts_with("attachment-info: "));
        assert!(problem("attachment-info", b"{\"a\":\xff}").starts_with("attachment-info: "));
        // Entries of files not kept are not read at all.
        assert!(
            sendgrid_with(&[(
                "attachment-info",
                Some((
                    "attachment-info",
                    None,
                    None,
                    br#"{"attachment9":{"type":5}}"#
                ))
            )])
            .is_ok()
        );
    }

    #[test]
    fn header_blocks_unfold_ignore_case_and_skip_what_is_not_a_field() {
        let block = HeaderBlock::parse(
            "From bob@example.com Tue Feb  6 10:00:00 2024\r\n\
             \tcontinuation of a line that is not a field\r\n\
             Message-ID:\r\n <first@x>\r\n\
             MESSAGE-ID: <second@x>\r\n\
             References: <a@x>\r\n\t<b@x>\r\n   <c@x>\r\n\
             Subject : obsolete spacing\r\n\
             no colon here\r\n\
             \x20 continued junk\r\n\
             X-Empty:\r\n\
             \r\n\
             In-Reply-To: <after-the-block@x>\r\n",
        );
        assert_eq!(block.get("message-id"), Some("<first@x>"), "the first wins");
        assert_eq!(block.get("References"), Some("<a@x>\t<b@x>   <c@x>"));
        assert_eq!(
            message_ids(block.get("references").unwrap_or_default()),
            ["a@x", "b@x", "c@x"]
        );
        assert_eq!(block.get("subject"), Some("obsolete spacing"));
        assert_eq!(block.get("X-Empty"), Some(""));
        assert_eq!(
            block.get("In-Reply-To"),
            None,
            "the block ends at its empty line"
        );
        assert_eq!(block.fields.len(), 5);
        assert_eq!(HeaderBlock::parse("\n\nTo: a@x\n").get("to"), Some("a@x"));
        assert_eq!(HeaderBlock::parse(""), HeaderBlock::default());
        let many = "X-Many: 1\n".repeat(MAX_HEADERS + 5) + "Message-ID: <late@x>\n";
        let block = HeaderBlock::parse(&many);
        assert_eq!(block.fields.len(), MAX_HEADERS);
        assert_eq!(block.get("Message-ID"), None);
    }

    #[test]
    fn a_sendgrid_email_without_a_message_id_gets_the_same_made_up_one_on_every_retry() {
        let without = |headers: &[u8]| {
            sendgrid_with(&[("headers", Some(("headers", None, None, headers)))])
                .unwrap()
                .message_id
        };
        let id =
            without(b"From: Bob Lee <bob@example.com>\nDate: Tue, 6 Feb 2024 11:00:00 +0100\n");
        assert!(id.ends_with("@missing-message-id.invalid"), "{id}");
        assert_eq!(id.len(), 64 + "@missing-message-id.invalid".len());
        assert_eq!(
            id,
            without(b"From: Bob Lee <bob@example.com>\nDate: Tue, 6 Feb 2024 11:00:00 +0100\n")
        );
        assert_ne!(id, without(b"Date: Wed, 7 Feb 2024 11:00:00 +0100\n"));
        assert_eq!(
            without(b"Message-ID:\n\t<folded@mail.example.com>\n"),
            "folded@mail.example.com"
        );
        assert!(without(b"Message-ID: <no at sign>\n").ends_with("@missing-message-id.invalid"));
        let threaded = sendgrid_with(&[(
            "headers",
            Some((
                "headers",
                None,
                None,
                b"in-reply-to:\n <out-9@help.example.com>\n",
            )),
        )])
        .unwrap();
        assert_eq!(threaded.referenced_ids, ["out-9@help.example.com"]);
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

        #[test]
        fn header_blocks_never_panic(raw in "[ -~\t\r\n\u{e9}\u{1F600}]{0,300}") {
            let block = HeaderBlock::parse(&raw);
            let _ = block.get("Message-ID");
        }

        #[test]
        fn folding_a_header_changes_nothing_but_its_line_breaks(
            words in proptest::collection::vec("[!-9;-~]{1,12}", 1..8),
            folds in proptest::collection::vec(proptest::prelude::any::<bool>(), 8),
            crlf in proptest::prelude::any::<bool>(),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut folded = String::from("X-Before: 1");
            folded.push_str(eol);
            folded.push_str("references:");
            for (word, fold) in words.iter().zip(&folds) {
                if *fold {
                    folded.push_str(eol);
                }
                folded.push(' ');
                folded.push_str(word);
            }
            folded.push_str(eol);
            folded.push_str("X-After: 2");
            folded.push_str(eol);
            let block = HeaderBlock::parse(&folded);
            proptest::prop_assert_eq!(block.get("References").map(unfold), Some(words.join(" ")));
            proptest::prop_assert_eq!(block.get("x-after"), Some("2"));
        }

        #[test]
        fn sendgrid_never_panics(
            fields in proptest::collection::vec(
                ("(from|to|cc|subject|text|html|headers|envelope|charsets|attachment-info|email|attachment[0-9]{1,2})", "[ -~\r\n\u{e9}]{0,80}", proptest::option::of("[ -~]{0,10}")),
                0..10,
            ),
        ) {
            let parts: Vec<Part<'_>> = fields
                .iter()
                .map(|(n, v, file)| Part { name: n.clone(), filename: file.clone(), content_type: file.clone(), body: v.as_bytes() })
                .collect();
            let _ = sendgrid(&parts);
        }
    }
}
