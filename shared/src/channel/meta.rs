//! Meta webhooks (Messenger, Instagram, WhatsApp Cloud): the subscription handshake, the
//! `X-Hub-Signature-256` check over the raw bytes, and the payloads turned into plain events.
//!
//! Payloads batch: one POST may carry several `entry[]`, each with several events, from any of
//! the three products. Unknown event kinds are skipped (Meta adds fields and kinds over time);
//! a payload that is not the shape Meta documents is refused as a whole, so nothing is stored
//! half.

use serde_json::Value;

use super::Channel;
use super::signature::{hex, hmac_sha256, matches};
use super::twilio::DeliveryStatus;
use crate::input::InvalidInput;

/// The subscription handshake: `hub.mode=subscribe` with our verify token gets the challenge
/// back; anything else gets nothing (a 403).
pub fn handshake<'q>(
    verify_token: &str,
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&'q str>,
) -> Option<&'q str> {
    (mode == Some("subscribe") && matches(verify_token, token.unwrap_or_default()))
        .then_some(challenge)
        .flatten()
}

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of the exact `body` bytes under the app
/// secret.
pub fn verify(app_secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(given) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    !app_secret.is_empty()
        && matches(
            &hex(&hmac_sha256(app_secret.as_bytes(), body)),
            &given.to_ascii_lowercase(),
        )
}

/// A media item Meta hosts (Messenger/Instagram give a URL; WhatsApp a media id to fetch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub kind: String,
    pub url: Option<String>,
    pub media_id: Option<String>,
    /// WhatsApp declares the type (`mime_type`) and a document's file name.
    pub content_type: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A customer's message. `id` (mid / wamid) is the idempotency key.
    Message {
        channel: Channel,
        /// PSID, IGSID or WhatsApp id (`wa_id`, the phone number without `+`).
        sender: String,
        /// Our page, Instagram account or WhatsApp phone-number id.
        recipient: String,
        id: String,
        timestamp_ms: i64,
        text: Option<String>,
        attachments: Vec<Attachment>,
        /// WhatsApp gives the profile name.
        name: Option<String>,
    },
    /// Messenger/Instagram: everything we sent to `sender` before `watermark_ms` is delivered
    /// or read.
    Receipt {
        channel: Channel,
        sender: String,
        status: DeliveryStatus,
        watermark_ms: i64,
    },
    /// WhatsApp: the state of one message we sent.
    Status {
        id: String,
        status: DeliveryStatus,
        error: Option<String>,
    },
}

fn bad(problem: &str) -> InvalidInput {
    InvalidInput::new("body", problem.to_owned())
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn number(value: &Value, key: &str) -> Option<i64> {
    match value.get(key)? {
        Value::Number(n) => n.as_i64(),
        // WhatsApp sends timestamps as strings of seconds.
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The events in a webhook body, in order.
pub fn events(body: &[u8]) -> Result<Vec<Event>, InvalidInput> {
    let payload: Value = serde_json::from_slice(body).map_err(|_| bad("is not valid JSON"))?;
    let object = payload
        .get("object")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("has no \"object\""))?;
    let entries = payload
        .get("entry")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("has no \"entry\" list"))?;
    let mut out = Vec::new();
    for entry in entries {
        match object {
            "page" | "instagram" => {
                let channel = if object == "page" {
                    Channel::Messenger
                } else {
                    Channel::Instagram
                };
                for event in entry
                    .get("messaging")
                    .and_then(Value::as_array)
                    .map_or(&[][..], Vec::as_slice)
                {
                    if let Some(e) = messaging_event(channel, event)? {
                        out.push(e);
                    }
                }
            }
            "whatsapp_business_account" => {
                for change in entry
                    .get("changes")
                    .and_then(Value::as_array)
                    .map_or(&[][..], Vec::as_slice)
                {
                    whatsapp_change(change, &mut out)?;
                }
            }
            other => return Err(bad(&format!("has an unknown object {other:?}"))),
        }
    }
    Ok(out)
}

fn messaging_event(channel: Channel, event: &Value) -> Result<Option<Event>, InvalidInput> {
    let sender = event
        .get("sender")
        .and_then(|s| text(s, "id"))
        .ok_or_else(|| bad("has a messaging event without sender.id"))?;
    if let Some(message) = event.get("message") {
        // Our own replies come back as echoes: never store them as the customer's.
        if message.get("is_echo").and_then(Value::as_bool) == Some(true) {
            return Ok(None);
        }
        let attachments = message
            .get("attachments")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|a| Attachment {
                kind: text(a, "type").unwrap_or_else(|| "file".into()),
                url: a.get("payload").and_then(|p| text(p, "url")),
                media_id: None,
                content_type: None,
                name: None,
            })
            .collect();
        return Ok(Some(Event::Message {
            channel,
            sender,
            recipient: event
                .get("recipient")
                .and_then(|r| text(r, "id"))
                .unwrap_or_default(),
            id: text(message, "mid").ok_or_else(|| bad("has a message without mid"))?,
            timestamp_ms: number(event, "timestamp").unwrap_or_default(),
            text: text(message, "text"),
            attachments,
            name: None,
        }));
    }
    for (key, status) in [
        ("delivery", DeliveryStatus::Delivered),
        ("read", DeliveryStatus::Read),
    ] {
        if let Some(receipt) = event.get(key) {
            return Ok(Some(Event::Receipt {
                channel,
                sender,
                status,
                watermark_ms: number(receipt, "watermark")
                    .ok_or_else(|| bad("has a receipt without watermark"))?,
            }));
        }
    }
    Ok(None)
}

fn whatsapp_change(change: &Value, out: &mut Vec<Event>) -> Result<(), InvalidInput> {
    let Some(value) = change.get("value") else {
        return Ok(());
    };
    let recipient = value
        .get("metadata")
        .and_then(|m| text(m, "phone_number_id"))
        .unwrap_or_default();
    let contacts = value
        .get("contacts")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    // Indexed once: looking each message's sender up in the list was quadratic, and a 1 MiB
    // batch of messages and contacts took seconds.
    let mut names: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
    for contact in contacts {
        let wa_id = contact.get("wa_id").and_then(Value::as_str);
        let name = contact.get("profile").and_then(|p| text(p, "name"));
        if let (Some(wa_id), Some(name)) = (wa_id, name) {
            // Listed twice: the first name wins.
            names.entry(wa_id).or_insert(name);
        }
    }
    let name_of = |wa_id: &str| names.get(wa_id).cloned();
    for message in value
        .get("messages")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
    {
        let from = text(message, "from").ok_or_else(|| bad("has a message without from"))?;
        let kind = text(message, "type").unwrap_or_else(|| "text".into());
        let body = message
            .get("text")
            .and_then(|t| text(t, "body"))
            .or_else(|| message.get(&kind).and_then(|m| text(m, "caption")));
        let attachments = match message.get(&kind) {
            Some(media) if kind != "text" => vec![Attachment {
                kind: kind.clone(),
                url: None,
                media_id: text(media, "id"),
                content_type: text(media, "mime_type"),
                name: text(media, "filename"),
            }],
            _ => Vec::new(),
        };
        out.push(Event::Message {
            channel: Channel::Whatsapp,
            name: name_of(&from),
            sender: from,
            recipient: recipient.clone(),
            id: text(message, "id").ok_or_else(|| bad("has a message without id"))?,
            // Seconds; one too large for milliseconds is no time at all (and must not wrap).
            timestamp_ms: number(message, "timestamp")
                .and_then(|s| s.checked_mul(1000))
                .unwrap_or_default(),
            text: body,
            attachments,
        });
    }
    for status in value
        .get("statuses")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
    {
        let state = match status.get("status").and_then(Value::as_str) {
            Some("sent") => DeliveryStatus::Sent,
            Some("delivered") => DeliveryStatus::Delivered,
            Some("read") => DeliveryStatus::Read,
            Some("failed") => DeliveryStatus::Failed,
            _ => continue,
        };
        let error = status
            .get("errors")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
            .map(|e| {
                let code = number(e, "code").map(|c| c.to_string()).unwrap_or_default();
                let title = text(e, "title").unwrap_or_default();
                format!("{code} {title}").trim().to_owned()
            });
        out.push(Event::Status {
            id: text(status, "id").ok_or_else(|| bad("has a status without id"))?,
            status: state,
            error,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same scheme as GitHub's `X-Hub-Signature-256`, whose documentation publishes this
    /// vector (Meta publishes none): secret "It's a Secret to Everybody", body "Hello, World!".
    #[test]
    fn signatures_match_the_published_hub_signature_vector() {
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(verify(
            "It's a Secret to Everybody",
            b"Hello, World!",
            Some(header)
        ));
        assert!(verify(
            "It's a Secret to Everybody",
            b"Hello, World!",
            Some(&header.to_uppercase().replace("SHA256=", "sha256="))
        ));
        assert!(!verify(
            "It's a Secret to Everybody",
            b"Hello, World?",
            Some(header)
        ));
        assert!(!verify("", b"Hello, World!", Some(header)));
        assert!(!verify(
            "It's a Secret to Everybody",
            b"Hello, World!",
            None
        ));
        assert!(!verify(
            "It's a Secret to Everybody",
            b"Hello, World!",
            Some("sha1=757107ea")
        ));
    }

    #[test]
    fn the_handshake_answers_only_our_token() {
        assert_eq!(
            handshake("tok", Some("subscribe"), Some("tok"), Some("42")),
            Some("42")
        );
        assert_eq!(
            handshake("tok", Some("subscribe"), Some("nope"), Some("42")),
            None
        );
        assert_eq!(
            handshake("tok", Some("unsubscribe"), Some("tok"), Some("42")),
            None
        );
        assert_eq!(handshake("", Some("subscribe"), Some(""), Some("42")), None);
    }

    #[test]
    fn batched_messenger_entries_give_every_message_and_receipt_but_no_echo() {
        let body = br#"{"object":"page","entry":[
          {"id":"PAGE","time":1,"messaging":[
            {"sender":{"id":"PSID1"},"recipient":{"id":"PAGE"},"timestamp":1700000000000,
             "message":{"mid":"m_1","text":"Hi","attachments":[{"type":"image","payload":{"url":"https://cdn/x.jpg"}}]}},
            {"sender":{"id":"PAGE"},"recipient":{"id":"PSID1"},"timestamp":1700000000001,
             "message":{"mid":"m_echo","text":"our reply","is_echo":true}}]},
          {"id":"PAGE","time":2,"messaging":[
            {"sender":{"id":"PSID2"},"recipient":{"id":"PAGE"},"timestamp":1700000000002,
             "delivery":{"mids":["m_9"],"watermark":1700000000000}},
            {"sender":{"id":"PSID2"},"recipient":{"id":"PAGE"},"timestamp":1700000000003,
             "read":{"watermark":1700000000001}}]}]}"#;
        let events = events(body).unwrap();
        assert_eq!(events.len(), 3);
        match &events[0] {
            Event::Message {
                channel,
                sender,
                id,
                text,
                attachments,
                ..
            } => {
                assert_eq!(*channel, Channel::Messenger);
                assert_eq!((sender.as_str(), id.as_str()), ("PSID1", "m_1"));
                assert_eq!(text.as_deref(), Some("Hi"));
                assert_eq!(attachments[0].url.as_deref(), Some("https://cdn/x.jpg"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            events[2],
            Event::Receipt {
                status: DeliveryStatus::Read,
                watermark_ms: 1_700_000_000_001,
                ..
            }
        ));
    }

    #[test]
    fn whatsapp_messages_and_statuses() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{
          "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"PNID"},
          "contacts":[{"profile":{"name":"Kerry"},"wa_id":"16505551234"}],
          "messages":[{"from":"16505551234","id":"wamid.A","timestamp":"1700000000","type":"text","text":{"body":"Hello"}},
                      {"from":"16505551234","id":"wamid.B","timestamp":"1700000001","type":"image","image":{"id":"MEDIA1","mime_type":"image/jpeg","caption":"look"}}],
          "statuses":[{"id":"wamid.OUT","status":"failed","timestamp":"1700000002","recipient_id":"16505551234",
                       "errors":[{"code":131047,"title":"Re-engagement message"}]}]}}]}]}"#;
        let events = events(body).unwrap();
        assert_eq!(events.len(), 3);
        match &events[1] {
            Event::Message {
                channel,
                name,
                text,
                attachments,
                timestamp_ms,
                recipient,
                ..
            } => {
                assert_eq!(*channel, Channel::Whatsapp);
                assert_eq!(name.as_deref(), Some("Kerry"));
                assert_eq!(text.as_deref(), Some("look"));
                assert_eq!(attachments[0].media_id.as_deref(), Some("MEDIA1"));
                assert_eq!(*timestamp_ms, 1_700_000_001_000);
                assert_eq!(recipient, "PNID");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            events[2],
            Event::Status {
                id: "wamid.OUT".into(),
                status: DeliveryStatus::Failed,
                error: Some("131047 Re-engagement message".into())
            }
        );
    }

    #[test]
    fn malformed_payloads_are_refused_whole() {
        for body in [
            &b"{\"object\":\"page\",\"entry\":[{\"messaging\":[{\"sender\":{\"id\":\"x\"},\"message\":{\"text\":\"no mid\"}}]}"[..],
            b"{\"object\":\"page\"}",
            b"{\"entry\":[]}",
            b"{\"object\":\"telegraph\",\"entry\":[{}]}",
            b"not json",
            b"{\"object\":\"page\",\"entry\":[{\"messaging\":[{\"sender\":{\"id\":\"x\"},\"message\":{\"text\":\"no mid\"}}]}]}",
        ] {
            assert!(events(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }
}
