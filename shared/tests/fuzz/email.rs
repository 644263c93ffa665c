//! Inbound email: Postmark JSON, Mailgun forwards, SendGrid Inbound Parse, and the header
//! helpers threading relies on.

use proptest::prelude::*;
use serde_json::json;
use shared::channel::email::{
    self, html_to_text, message_ids, references, reply_subject, reply_token,
};
use shared::channel::multipart::{self, Part};

use crate::inputs::{deep_json, hostile_bytes, hostile_text, json};
use crate::{LIMIT_MS, config, within_ms};

const POSTMARK_KEYS: &[&str] = &[
    "From",
    "FromName",
    "FromFull",
    "Email",
    "Name",
    "MailboxHash",
    "To",
    "ToFull",
    "Cc",
    "CcFull",
    "OriginalRecipient",
    "Subject",
    "MessageID",
    "Date",
    "TextBody",
    "HtmlBody",
    "StrippedTextReply",
    "Headers",
    "Value",
    "Attachments",
    "Content",
    "ContentType",
];

/// An address part: what the token and address rules accept, or noise.
fn local_part() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9.]{0,10}"
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_=-][A-Za-z0-9._=-]{0,40}"
}

fn message_id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.$_-]{1,30}@[a-z0-9]{1,10}\\.[a-z]{2,4}"
}

/// A Postmark inbound body built from generated parts, and those parts.
#[derive(Debug, Clone)]
struct Email {
    from: String,
    name: String,
    subject: String,
    text: String,
    token: String,
    id: String,
    in_reply_to: String,
    refs: Vec<String>,
    files: Vec<Vec<u8>>,
}

fn an_email() -> impl Strategy<Value = Email> {
    (
        (local_part(), "[a-z]{1,10}\\.[a-z]{2,4}"),
        "[A-Za-z][A-Za-z '\u{e9}\u{f6}-]{0,30}[A-Za-z]",
        "[ -~\u{e9}]{1,80}",
        "[ -~\u{e9}\n]{1,200}",
        token(),
        message_id(),
        message_id(),
        proptest::collection::vec(message_id(), 0..6),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..14),
    )
        .prop_map(
            |((local, domain), name, subject, text, token, id, in_reply_to, refs, files)| Email {
                from: format!("{local}@{domain}"),
                name,
                subject,
                text,
                token,
                id,
                in_reply_to,
                refs,
                files,
            },
        )
}

fn postmark_body(e: &Email) -> Vec<u8> {
    use base64::Engine as _;
    let refs: Vec<String> = e.refs.iter().map(|r| format!("<{r}>")).collect();
    let attachments: Vec<_> = e
        .files
        .iter()
        .enumerate()
        .map(|(n, data)| {
            json!({
                "Name": format!("f{n}.txt"),
                "ContentType": "text/plain",
                "Content": base64::engine::general_purpose::STANDARD.encode(data),
            })
        })
        .collect();
    serde_json::to_vec(&json!({
        "From": format!("\"{}\" <{}>", e.name, e.from),
        "To": format!("support+{}@example.com", e.token),
        "Subject": e.subject,
        "TextBody": e.text,
        "Headers": [
            {"Name": "Message-ID", "Value": format!("<{}>", e.id)},
            {"Name": "In-Reply-To", "Value": format!("<{}>", e.in_reply_to)},
            {"Name": "References", "Value": refs.join("\r\n ")},
        ],
        "Attachments": attachments,
    }))
    .expect("a json! value serializes")
}

fn check_email(e: &Email, got: &email::InboundEmail) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.from.as_str(), e.from.as_str());
    let name = e.name.split_whitespace().collect::<Vec<_>>().join(" ");
    prop_assert_eq!(got.name.as_ref().map(|n| n.as_str()), Some(name.as_str()));
    prop_assert_eq!(&got.message_id, &e.id);
    let subject: Vec<&str> = e.subject.split_whitespace().collect();
    prop_assert_eq!(&got.subject, &subject.join(" "));
    prop_assert_eq!(got.reply_token.as_deref(), Some(e.token.as_str()));
    prop_assert_eq!(got.referenced_ids.first(), Some(&e.in_reply_to));
    for r in &e.refs {
        prop_assert!(got.referenced_ids.contains(r), "{r} lost");
    }
    let kept = e.files.len().min(shared::attachment::MAX_PER_MESSAGE);
    prop_assert_eq!(got.attachments.len(), kept);
    prop_assert_eq!(got.attachments_over_limit, e.files.len() - kept);
    for (a, data) in got.attachments.iter().zip(&e.files) {
        prop_assert_eq!(&a.data, data);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn postmark_never_panics_on_any_bytes(bytes in hostile_bytes(600)) {
        let _ = email::postmark(&bytes);
    }

    #[test]
    fn postmark_never_panics_on_json_of_its_own_shape(value in json(POSTMARK_KEYS)) {
        let _ = email::postmark(&serde_json::to_vec(&value).unwrap_or_default());
        let wrapped = json!({ "From": "a@b.co", "Headers": value.clone(), "ToFull": value.clone(),
            "Attachments": value.clone(), "FromFull": value });
        let _ = email::postmark(&serde_json::to_vec(&wrapped).unwrap_or_default());
    }

    /// Round trip: a Postmark body written from parts reads back as those parts.
    #[test]
    fn postmark_reads_back_what_was_written(e in an_email()) {
        let got = email::postmark(&postmark_body(&e));
        prop_assert!(got.is_ok(), "{:?}", got);
        check_email(&e, &got.unwrap_or_else(|_| unreachable!()))?;
    }

    /// The same email as a Mailgun forward, urlencoded fields and multipart alike.
    #[test]
    fn mailgun_reads_back_what_was_written(e in an_email(), as_multipart in any::<bool>()) {
        let refs: Vec<String> = e.refs.iter().map(|r| format!("<{r}>")).collect();
        let headers = serde_json::to_string(&json!([
            ["Message-Id", format!("<{}>", e.id)],
            ["In-Reply-To", format!("<{}>", e.in_reply_to)],
            ["References", refs.join(" ")],
        ])).unwrap_or_default();
        let fields: Vec<(String, Vec<u8>, Option<String>)> = [
            ("from", format!("\"{}\" <{}>", e.name, e.from)),
            ("recipient", format!("support+{}@example.com", e.token)),
            ("subject", e.subject.clone()),
            ("body-plain", e.text.clone()),
            ("message-headers", headers),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.into_bytes(), None))
        .chain(e.files.iter().enumerate().map(|(n, d)| {
            (format!("attachment-{}", n + 1), d.clone(), Some(format!("f{n}.bin")))
        }))
        .collect();
        let body = form_data("b0und", &fields);
        let got = if as_multipart {
            let parts = multipart::parse("multipart/form-data; boundary=b0und", &body);
            prop_assert!(parts.is_ok(), "{:?}", parts);
            email::mailgun(&parts.unwrap_or_default())
        } else {
            let parts: Vec<Part<'_>> = fields
                .iter()
                .filter(|(_, _, file)| file.is_none())
                .map(|(n, v, _)| Part::field(n, std::str::from_utf8(v).unwrap_or_default()))
                .collect();
            email::mailgun(&parts).map(|mut m| {
                // Urlencoded forwards carry no files.
                m.attachments = Vec::new();
                m
            })
        };
        prop_assert!(got.is_ok(), "{:?}", got);
        let got = got.unwrap_or_else(|_| unreachable!());
        let e = if as_multipart { e } else { Email { files: Vec::new(), ..e } };
        check_email(&e, &got)?;
    }

    /// And as SendGrid's Inbound Parse (parsed mode).
    #[test]
    fn sendgrid_reads_back_what_was_written(e in an_email()) {
        let refs: Vec<String> = e.refs.iter().map(|r| format!("<{r}>")).collect();
        let headers = format!(
            "Message-ID: <{}>\r\nIn-Reply-To: <{}>\r\nReferences: {}\r\n",
            e.id, e.in_reply_to, refs.join("\r\n\t")
        );
        let info: serde_json::Map<String, serde_json::Value> = (1..=e.files.len())
            .map(|n| (format!("attachment{n}"), json!({"filename": format!("f{n}.bin"), "type": "text/plain"})))
            .collect();
        let fields: Vec<(String, Vec<u8>, Option<String>)> = [
            ("headers", headers),
            ("from", format!("\"{}\" <{}>", e.name, e.from)),
            ("to", format!("support+{}@example.com", e.token)),
            ("subject", e.subject.clone()),
            ("text", e.text.clone()),
            ("charsets", r#"{"text":"utf-8","subject":"UTF-8"}"#.to_owned()),
            ("envelope", json!({"to": ["x@example.com"], "from": e.from}).to_string()),
            ("attachment-info", serde_json::Value::Object(info).to_string()),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.into_bytes(), None))
        .chain(e.files.iter().enumerate().map(|(n, d)| {
            (format!("attachment{}", n + 1), d.clone(), Some(format!("f{n}.bin")))
        }))
        .collect();
        let body = form_data("xYzZY", &fields);
        let parts = multipart::parse("multipart/form-data; boundary=xYzZY", &body);
        prop_assert!(parts.is_ok(), "{:?}", parts);
        let got = email::sendgrid(&parts.unwrap_or_default());
        prop_assert!(got.is_ok(), "{:?}", got);
        check_email(&e, &got.unwrap_or_else(|_| unreachable!()))?;
    }

    #[test]
    fn mailgun_and_sendgrid_never_panic_on_any_fields(
        fields in proptest::collection::vec(
            (
                prop_oneof![
                    proptest::sample::select(&[
                        "from", "sender", "recipient", "subject", "body-plain", "stripped-text",
                        "body-html", "stripped-html", "message-headers", "Message-Id", "To", "Cc",
                        "References", "In-Reply-To", "attachment-1", "attachment-x", "headers",
                        "text", "html", "to", "cc", "envelope", "charsets", "attachment-info",
                        "email", "attachment1", "attachment01", "attachment99999999999",
                    ][..]).prop_map(str::to_owned),
                    "[a-z-]{0,12}",
                ],
                prop_oneof![
                    hostile_bytes(200),
                    json(&["to", "from", "text", "html", "subject", "attachment1", "filename",
                        "type", "name"]).prop_map(|v| v.to_string().into_bytes()),
                ],
                proptest::option::of("[ -~]{0,10}"),
                proptest::option::of("[ -~]{0,20}"),
            ),
            0..12,
        ),
    ) {
        let parts: Vec<Part<'_>> = fields
            .iter()
            .map(|(name, body, filename, content_type)| Part {
                name: name.clone(),
                filename: filename.clone(),
                content_type: content_type.clone(),
                body,
            })
            .collect();
        let _ = email::mailgun(&parts);
        let _ = email::sendgrid(&parts);
    }

    #[test]
    fn header_helpers_never_panic_and_agree(header in hostile_text(300), id in message_id()) {
        let ids = message_ids(&header);
        for found in &ids {
            prop_assert!(found.contains('@') && !found.contains(['<', '>']));
        }
        let _ = reply_token(&header);
        let subject = reply_subject(&header);
        prop_assert!(subject.starts_with("Re: "));
        prop_assert_eq!(reply_subject(&subject), subject.clone());
        // `References` of a reply: the parent's ids, then the parent's, each in brackets.
        let refs = references(&header, &id);
        let again = message_ids(&refs);
        prop_assert_eq!(again.last(), Some(&id.as_str()));
        prop_assert_eq!(again.iter().filter(|i| **i == id).count(), 1);
        let text = html_to_text(&header);
        prop_assert!(!text.contains('\0') && !text.contains('\r'));
    }

    /// Round trip: a plus address carries its token back, however the address is written.
    #[test]
    fn reply_tokens_round_trip(
        local in local_part(),
        token in token(),
        name in "[A-Za-z ]{0,20}",
        bracketed in any::<bool>(),
    ) {
        let address = format!("{local}+{token}@example.com");
        let written = if bracketed { format!("\"{name}\" <{address}>") } else { address };
        prop_assert_eq!(reply_token(&written), Some(token.as_str()));
    }

    #[test]
    fn message_id_lists_round_trip(ids in proptest::collection::vec(message_id(), 0..20), fold in any::<bool>()) {
        let sep = if fold { "\r\n " } else { " " };
        let header = ids.iter().map(|i| format!("<{i}>")).collect::<Vec<_>>().join(sep);
        let parsed: Vec<String> = message_ids(&header).into_iter().map(str::to_owned).collect();
        prop_assert_eq!(parsed, ids);
    }
}

/// A `multipart/form-data` body: (name, bytes, filename) fields.
pub fn form_data(boundary: &str, fields: &[(String, Vec<u8>, Option<String>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value, filename) in fields {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let file = filename
            .as_ref()
            .map(|f| format!("; filename=\"{f}\""))
            .unwrap_or_default();
        out.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n").as_bytes(),
        );
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

#[test]
fn deeply_nested_postmark_json_is_refused_not_a_stack_overflow() {
    for object in [false, true] {
        for close in [false, true] {
            let deep = deep_json(100_000, object, close);
            assert!(email::postmark(&deep).is_err());
            let mut wrapped = b"{\"Headers\":".to_vec();
            wrapped.extend_from_slice(&deep);
            wrapped.push(b'}');
            assert!(email::postmark(&wrapped).is_err());
        }
    }
}

/// A customer controls `References` (any mail client lets them write it), and an email body
/// may be tens of MiB: reading its ids must stay linear.
#[test]
fn a_huge_references_header_is_read_in_linear_time() {
    let ids: Vec<String> = (0..200_000).map(|n| format!("<{n}@x.co>")).collect();
    let references = ids.join(" ");
    let body = serde_json::to_vec(&json!({
        "From": "a@example.com",
        "Headers": [
            {"Name": "Message-ID", "Value": "<m@example.com>"},
            {"Name": "In-Reply-To", "Value": "<0@x.co>"},
            {"Name": "References", "Value": references},
        ],
    }))
    .expect("a json! value serializes");
    let got = within_ms(LIMIT_MS, "postmark with 200,000 references", || {
        email::postmark(&body)
    })
    .expect("a valid email");
    assert_eq!(got.referenced_ids.len(), 50);
    assert_eq!(got.referenced_ids[0], "0@x.co");
    assert_eq!(got.referenced_ids[49], "199999@x.co");
    assert!(got.references.len() <= 8_000);
    assert!(got.references.ends_with("<199999@x.co>"));

    let fields = [
        Part::field("from", "a@example.com"),
        Part::field("References", &references),
    ];
    within_ms(LIMIT_MS, "mailgun with 200,000 references", || {
        email::mailgun(&fields)
    })
    .expect("a valid email");
}

#[test]
fn huge_html_and_headers_are_read_in_linear_time() {
    let n = 200_000;
    for html in [
        "<".repeat(n),
        "<a".repeat(n),
        "</".repeat(n),
        "<script>".repeat(n / 8),
        "<script></scrip".repeat(n / 15),
        "<!--".repeat(n / 4),
        "&#x".repeat(n / 3),
        "&amp;".repeat(n / 5),
        "<br>".repeat(n / 4),
    ] {
        within_ms(LIMIT_MS, "html_to_text", || html_to_text(&html));
    }
    for header in ["<".repeat(n), "<a@b>".repeat(n / 5), "re:".repeat(n / 3)] {
        within_ms(LIMIT_MS, "header helpers", || {
            message_ids(&header);
            reply_token(&header);
            reply_subject(&header);
            references(&header, "p@x.co");
        });
    }
}
