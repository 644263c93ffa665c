//! Twilio SMS/MMS webhooks: the `X-Twilio-Signature` check and the inbound and status-callback
//! forms.
//!
//! The signature is base64(HMAC-SHA1(auth token, public URL + every POST parameter's name and
//! value, names in byte order, a repeated name's values sorted)). Twilio signs the URL it was
//! configured with, which behind a proxy is not the one Spin sees: the caller passes the public
//! URL (see the README). Twilio may sign the URL with or without the default port, so both are
//! tried. JSON-body webhooks sign the URL alone and carry `bodySHA256` in its query.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::signature::{hmac_sha1, matches, sha256_hex};
use crate::input::InvalidInput;

/// The signature Twilio computes for `url` and form `params`.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then(a.1.cmp(&b.1)));
    sorted.dedup();
    let mut data = url.to_owned();
    for (name, value) in sorted {
        data.push_str(name);
        data.push_str(value);
    }
    STANDARD.encode(hmac_sha1(auth_token.as_bytes(), data.as_bytes()))
}

/// `url` with the scheme's default port added when absent, or removed when present.
fn other_port_form(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port == default => return Some(format!("{scheme}://{host}{tail}")),
        Some((_, port)) if port.chars().all(|c| c.is_ascii_digit()) => return None,
        _ => authority,
    };
    Some(format!("{scheme}://{host}:{default}{tail}"))
}

/// Whether `header` is Twilio's signature of a form webhook to `public_url` with `params`.
pub fn verify_form(
    auth_token: &str,
    public_url: &str,
    params: &[(String, String)],
    header: Option<&str>,
) -> bool {
    let Some(header) = header else {
        return false;
    };
    if auth_token.is_empty() {
        return false;
    }
    std::iter::once(public_url.to_owned())
        .chain(other_port_form(public_url))
        .any(|url| matches(&signature(auth_token, &url, params), header.trim()))
}

/// Whether `header` signs a JSON-body webhook: the URL's `bodySHA256` is the body's hash and the
/// URL alone is signed.
pub fn verify_json(auth_token: &str, public_url: &str, body: &[u8], header: Option<&str>) -> bool {
    let declared = crate::api::query_param(
        public_url.split_once('?').map_or("", |(_, q)| q),
        "bodySHA256",
    );
    declared.is_some_and(|hash| matches(&sha256_hex(body), &hash.to_ascii_lowercase()))
        && verify_form(auth_token, public_url, &[], header)
}

/// Decodes an `application/x-www-form-urlencoded` body into name/value pairs, in order.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, InvalidInput> {
    let text = std::str::from_utf8(body)
        .map_err(|_| InvalidInput::new("body", "is not UTF-8 form data"))?;
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((form_decode(name)?, form_decode(value)?))
        })
        .collect()
}

fn form_decode(text: &str) -> Result<String, InvalidInput> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let digit = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
                match (digit(bytes.get(i + 1)), digit(bytes.get(i + 2))) {
                    (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                    _ => return Err(InvalidInput::new("body", "has a broken %-escape")),
                }
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| InvalidInput::new("body", "is not UTF-8 form data"))
}

fn field<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn required<'a>(
    params: &'a [(String, String)],
    name: &'static str,
) -> Result<&'a str, InvalidInput> {
    field(params, name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| InvalidInput::new(name, "is missing"))
}

/// A media item of an MMS: fetched later with the account's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub url: String,
    pub content_type: String,
}

/// An inbound SMS/MMS, as Twilio posts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// `SM...`/`MM...`: the idempotency key.
    pub message_sid: String,
    pub account_sid: String,
    /// E.164, or `whatsapp:+...` for WhatsApp through Twilio.
    pub from: String,
    pub to: String,
    pub body: String,
    pub media: Vec<Media>,
}

/// Most media items one MMS may carry (Twilio's own limit is 10).
pub const MAX_MEDIA: usize = 10;

pub fn inbound(params: &[(String, String)]) -> Result<Inbound, InvalidInput> {
    let count: usize = field(params, "NumMedia")
        .unwrap_or("0")
        .parse()
        .map_err(|_| InvalidInput::new("NumMedia", "is not a number"))?;
    if count > MAX_MEDIA {
        return Err(InvalidInput::new(
            "NumMedia",
            format!("at most {MAX_MEDIA}"),
        ));
    }
    let media = (0..count)
        .map(|n| {
            Ok(Media {
                url: field(params, &format!("MediaUrl{n}"))
                    .ok_or_else(|| InvalidInput::new("MediaUrl", "is missing"))?
                    .to_owned(),
                content_type: field(params, &format!("MediaContentType{n}"))
                    .unwrap_or("application/octet-stream")
                    .to_owned(),
            })
        })
        .collect::<Result<_, InvalidInput>>()?;
    Ok(Inbound {
        message_sid: required(params, "MessageSid")?.to_owned(),
        account_sid: required(params, "AccountSid")?.to_owned(),
        from: required(params, "From")?.to_owned(),
        to: required(params, "To")?.to_owned(),
        body: field(params, "Body").unwrap_or_default().to_owned(),
        media,
    })
}

pub use crate::delivery::DeliveryStatus;

/// A status callback for one of our outbound messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCallback {
    pub message_sid: String,
    pub status: DeliveryStatus,
    pub error_code: Option<String>,
}

pub fn status_callback(params: &[(String, String)]) -> Result<StatusCallback, InvalidInput> {
    let status = match required(params, "MessageStatus")? {
        "accepted" | "scheduled" | "queued" | "sending" => DeliveryStatus::Queued,
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "failed" | "undelivered" | "canceled" => DeliveryStatus::Failed,
        other => {
            return Err(InvalidInput::new(
                "MessageStatus",
                format!("unknown status {other:?}"),
            ));
        }
    };
    Ok(StatusCallback {
        message_sid: required(params, "MessageSid")?.to_owned(),
        status,
        error_code: field(params, "ErrorCode")
            .filter(|c| !c.is_empty())
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Twilio's published example (docs "Webhooks security" and its helper libraries' tests).
    fn example() -> Vec<(String, String)> {
        pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ])
    }

    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    #[test]
    fn signatures_match_twilios_published_vectors() {
        assert_eq!(
            signature("12345", URL, &example()),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
        assert_eq!(
            signature(
                "12345",
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                &example()
            ),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
    }

    #[test]
    fn verification_accepts_either_port_form_and_nothing_else() {
        let with_port = "kvajT1Ptam85bY51eRf/AJRuM3w=";
        assert!(verify_form(
            "12345",
            URL,
            &example(),
            Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        ));
        assert!(verify_form("12345", URL, &example(), Some(with_port)));
        assert!(verify_form(
            "12345",
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &example(),
            Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        ));
        assert!(!verify_form("12345", URL, &example(), None));
        assert!(!verify_form("", URL, &example(), Some(with_port)));
        assert!(!verify_form("54321", URL, &example(), Some(with_port)));
        let mut tampered = example();
        tampered[2].1 = "9999".into();
        assert!(!verify_form("12345", URL, &tampered, Some(with_port)));
        // Parameter order on the wire does not matter; their sorted order does.
        let mut reordered = example();
        reordered.reverse();
        assert!(verify_form("12345", URL, &reordered, Some(with_port)));
    }

    #[test]
    fn json_bodies_are_checked_by_their_hash() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let url = format!("{URL}&bodySHA256={}", sha256_hex(body));
        let header = signature("12345", &url, &[]);
        assert!(verify_json("12345", &url, body, Some(&header)));
        assert!(!verify_json("12345", &url, b"{}", Some(&header)));
        assert!(!verify_json(
            "12345",
            URL,
            body,
            Some(&signature("12345", URL, &[]))
        ));
    }

    #[test]
    fn port_forms() {
        assert_eq!(
            other_port_form("https://a.example/x?y=1").as_deref(),
            Some("https://a.example:443/x?y=1")
        );
        assert_eq!(
            other_port_form("http://a.example:80/x").as_deref(),
            Some("http://a.example/x")
        );
        assert_eq!(other_port_form("https://a.example:8443/x"), None);
    }

    #[test]
    fn inbound_forms_parse_and_bad_ones_are_refused() {
        let body = b"MessageSid=SM123&AccountSid=AC1&From=%2B14155550100&To=%2B14155550199&Body=Hello+there%21&NumMedia=1&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2Fm%2F1&MediaContentType0=image%2Fjpeg";
        let params = parse_form(body).unwrap();
        let sms = inbound(&params).unwrap();
        assert_eq!(sms.message_sid, "SM123");
        assert_eq!(sms.from, "+14155550100");
        assert_eq!(sms.body, "Hello there!");
        assert_eq!(sms.media.len(), 1);
        assert_eq!(sms.media[0].content_type, "image/jpeg");
        assert!(inbound(&parse_form(b"From=%2B1&To=%2B2").unwrap()).is_err());
        assert!(parse_form(b"Body=%E2%28").is_err(), "not UTF-8");
        assert!(parse_form(b"Body=%2").is_err(), "broken escape");
        let too_many = b"MessageSid=SM1&AccountSid=AC1&From=a&To=b&NumMedia=11";
        assert!(inbound(&parse_form(too_many).unwrap()).is_err());
    }

    #[test]
    fn status_callbacks_map_to_delivery_states() {
        let params =
            parse_form(b"MessageSid=SM1&MessageStatus=undelivered&ErrorCode=30003").unwrap();
        let callback = status_callback(&params).unwrap();
        assert_eq!(callback.status, DeliveryStatus::Failed);
        assert_eq!(callback.error_code.as_deref(), Some("30003"));
        assert!(DeliveryStatus::Sent < DeliveryStatus::Delivered);
        assert!(
            status_callback(&parse_form(b"MessageSid=SM1&MessageStatus=teleported").unwrap())
                .is_err()
        );
    }
}
