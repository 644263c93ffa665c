//! The ways a customer can reach the business. Every message records the channel it came
//! through, so replies can go back the same way.
//!
//! # Layout
//! - [`Channel`]: the channel names.
//! - [`signature`]: HMAC helpers and constant-time checks the providers' webhooks need.
//! - [`twilio`]: `X-Twilio-Signature` (form and JSON-body variants) and inbound SMS/MMS and
//!   status-callback forms.
//! - [`meta`]: the verification handshake, `X-Hub-Signature-256`, and Messenger, Instagram and
//!   WhatsApp Cloud payloads (batched entries, messages, receipts, statuses).
//! - [`send`]: the providers' send APIs: one outbound message as one HTTP request, and the
//!   provider's answer as accepted / retry / refused.
//! - [`email`]: Mailgun signatures (freshness, replay tokens), basic-auth credentials (Postmark,
//!   SendGrid), threading (reply-address tokens, Message-ID lists, `Re:` subjects), and inbound
//!   emails (Postmark's JSON, Mailgun's forwarded form, SendGrid's Inbound Parse) parsed into
//!   one shape.
//! - [`multipart`]: a strict, bounded `multipart/form-data` parser (Mailgun and SendGrid post
//!   that way).

use serde::Serialize;

pub mod email;
pub mod meta;
pub mod multipart;
pub mod send;
pub mod signature;
pub mod twilio;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The website widget.
    Web,
    Sms,
    Email,
    Messenger,
    Instagram,
    Whatsapp,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Messenger => "messenger",
            Channel::Instagram => "instagram",
            Channel::Whatsapp => "whatsapp",
        }
    }

    pub fn parse(text: &str) -> Option<Channel> {
        [
            Channel::Web,
            Channel::Sms,
            Channel::Email,
            Channel::Messenger,
            Channel::Instagram,
            Channel::Whatsapp,
        ]
        .into_iter()
        .find(|c| c.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// Outside input never panics a parser or a check: it parses, or it is refused.
        #[test]
        fn webhook_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = super::twilio::parse_form(&bytes).map(|p| {
                let _ = super::twilio::inbound(&p);
                let _ = super::twilio::status_callback(&p);
            });
            let _ = super::meta::events(&bytes);
            let text = String::from_utf8_lossy(&bytes);
            let _ = super::email::message_ids(&text);
            let _ = super::email::reply_token(&text);
            let _ = super::email::reply_subject(&text);
            let _ = super::email::verify_basic_auth("a:b", Some(&text));
            let _ = super::twilio::verify_form("t", &text, &[], Some(&text));
        }

        #[test]
        fn meta_json_shaped_input_never_panics(
            object in prop_oneof![Just("page"), Just("instagram"), Just("whatsapp_business_account")],
            inner in "[\\[\\]{}\":,a-z0-9 ]{0,200}",
        ) {
            let body = format!("{{\"object\":\"{object}\",\"entry\":[{inner}]}}");
            let _ = super::meta::events(body.as_bytes());
        }
    }
}
