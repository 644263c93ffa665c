//! What the providers' send APIs take and answer: one outbound message becomes one HTTP request
//! ([`request`]), and the provider's answer becomes an [`Answer`] (accepted with its id, worth
//! retrying, or refused for good) ([`answer`]). Pure functions: the `dispatch` component does
//! the I/O, the outbox ([`crate::outbox`]) the bookkeeping.
//!
//! - SMS and WhatsApp through Twilio: `POST {api}/2010-04-01/Accounts/{sid}/Messages.json`,
//!   HTTP Basic, form fields `To`, `From` or `MessagingServiceSid`, `Body`, `StatusCallback`.
//! - Messenger and Instagram: `POST {graph}/me/messages` with the page token, `RESPONSE` type.
//! - WhatsApp Cloud API (preferred for WhatsApp when configured):
//!   `POST {graph}/{phone-number-id}/messages`.
//! - Email through Postmark: `POST {api}/email` with `In-Reply-To`, `References`, our own
//!   `Message-ID`, a `Re:` subject and a `Reply-To` carrying the conversation's token.
//!
//! Retry policy: network errors, 408, 429 and 5xx are worth retrying; any other refusal is
//! final (a wrong number will still be wrong in an hour), reported with the provider's own code
//! and message so the operator sees why.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Channel;

/// An HTTP request to a provider. Always a POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TwilioConfig {
    /// `https://api.twilio.com` (a fake server in tests).
    pub api_base: String,
    pub account_sid: String,
    pub auth_token: String,
    /// The sending number (E.164), unless a messaging service is used.
    pub from: String,
    pub messaging_service_sid: String,
    /// The WhatsApp sender registered with Twilio (E.164), if WhatsApp goes through Twilio.
    pub whatsapp_from: String,
    /// Where Twilio reports delivery (`{public_base_url}/hooks/twilio/status`), if known.
    pub status_callback: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaConfig {
    /// `https://graph.facebook.com/v21.0` (a fake server in tests).
    pub graph_base: String,
    /// The Page access token (Messenger, and Instagram through the linked Page).
    pub page_token: String,
    pub whatsapp_token: String,
    pub whatsapp_phone_number_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostmarkConfig {
    /// `https://api.postmarkapp.com` (a fake server in tests).
    pub api_base: String,
    pub server_token: String,
    /// `Support <support@example.com>`: the address customers write to.
    pub from: String,
    pub message_stream: String,
}

/// Every provider's settings; an empty credential means "not configured".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Providers {
    pub twilio: TwilioConfig,
    pub meta: MetaConfig,
    pub postmark: PostmarkConfig,
}

/// The headers an email reply carries, fixed when the reply is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailHeaders {
    pub subject: String,
    /// The Message-ID answered (no angle brackets), if the customer wrote by email.
    pub in_reply_to: Option<String>,
    /// The `References` value to send (with angle brackets), possibly empty.
    pub references: String,
    /// Our Message-ID for this reply (no angle brackets).
    pub message_id: String,
    /// `support+<token>@example.com`.
    pub reply_to: String,
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing<'a> {
    pub channel: Channel,
    /// E.164 number, email address, or the customer's id on the channel.
    pub recipient: &'a str,
    pub body: &'a str,
    /// Email only.
    pub email: Option<&'a EmailHeaders>,
}

/// The longest text each channel takes in one message (Twilio: 1,600 characters; Messenger and
/// Instagram: 2,000; WhatsApp: 4,096). Longer replies are refused before they are queued.
pub fn max_chars(channel: Channel) -> Option<usize> {
    match channel {
        Channel::Sms => Some(1600),
        Channel::Messenger | Channel::Instagram => Some(2000),
        Channel::Whatsapp => Some(4096),
        Channel::Web | Channel::Email => None,
    }
}

/// What a provider said about one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Accepted; the provider's id for the message, when it gives one.
    Accepted { provider_id: Option<String> },
    /// Worth trying again later.
    Retry(String),
    /// Refused for good.
    Refused(String),
}

fn form(params: &[(&str, &str)]) -> Vec<u8> {
    fn encode(text: &str) -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else if b == b' ' {
                    "+".to_owned()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }
    params
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

fn json_request(url: String, bearer: &str, body: &Value) -> HttpRequest {
    HttpRequest {
        url,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("authorization".into(), format!("Bearer {bearer}")),
        ],
        body: body.to_string().into_bytes(),
    }
}

fn twilio(config: &TwilioConfig, to: String, from: Option<String>, body: &str) -> HttpRequest {
    let mut params: Vec<(&str, &str)> = vec![("To", &to), ("Body", body)];
    let from_value;
    match from {
        Some(from) => {
            from_value = from;
            params.push(("From", &from_value));
        }
        None => params.push(("MessagingServiceSid", &config.messaging_service_sid)),
    }
    if !config.status_callback.is_empty() {
        params.push(("StatusCallback", &config.status_callback));
    }
    let credentials = STANDARD.encode(format!("{}:{}", config.account_sid, config.auth_token));
    HttpRequest {
        url: format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            config.api_base.trim_end_matches('/'),
            config.account_sid
        ),
        headers: vec![
            (
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("authorization".into(), format!("Basic {credentials}")),
        ],
        body: form(&params),
    }
}

/// The request that sends `out`, or why it cannot be sent (a channel nobody configured).
pub fn request(providers: &Providers, out: &Outgoing<'_>) -> Result<HttpRequest, String> {
    let twilio_ready =
        !providers.twilio.account_sid.is_empty() && !providers.twilio.auth_token.is_empty();
    let meta = &providers.meta;
    match out.channel {
        Channel::Sms => {
            let config = &providers.twilio;
            if !twilio_ready
                || (config.from.is_empty() && config.messaging_service_sid.is_empty())
            {
                return Err("SMS is not configured (twilio_account_sid, twilio_auth_token and twilio_from or twilio_messaging_service_sid)".into());
            }
            let from = (!config.from.is_empty()).then(|| config.from.clone());
            Ok(twilio(config, out.recipient.to_owned(), from, out.body))
        }
        Channel::Whatsapp
            if !meta.whatsapp_token.is_empty() && !meta.whatsapp_phone_number_id.is_empty() =>
        {
            Ok(json_request(
                format!(
                    "{}/{}/messages",
                    meta.graph_base.trim_end_matches('/'),
                    meta.whatsapp_phone_number_id
                ),
                &meta.whatsapp_token,
                &json!({
                    "messaging_product": "whatsapp",
                    "recipient_type": "individual",
                    "to": out.recipient.trim_start_matches('+'),
                    "type": "text",
                    "text": {"preview_url": false, "body": out.body},
                }),
            ))
        }
        Channel::Whatsapp if twilio_ready && !providers.twilio.whatsapp_from.is_empty() => {
            let config = &providers.twilio;
            Ok(twilio(
                config,
                format!("whatsapp:{}", out.recipient),
                Some(format!("whatsapp:{}", config.whatsapp_from)),
                out.body,
            ))
        }
        Channel::Whatsapp => Err("WhatsApp is not configured (whatsapp_token and whatsapp_phone_number_id, or twilio_whatsapp_from)".into()),
        Channel::Messenger | Channel::Instagram => {
            if meta.page_token.is_empty() {
                return Err("Messenger and Instagram are not configured (meta_page_token)".into());
            }
            Ok(json_request(
                format!("{}/me/messages", meta.graph_base.trim_end_matches('/')),
                &meta.page_token,
                &json!({
                    "recipient": {"id": out.recipient},
                    "messaging_type": "RESPONSE",
                    "message": {"text": out.body},
                }),
            ))
        }
        Channel::Email => {
            let config = &providers.postmark;
            if config.server_token.is_empty() || config.from.is_empty() {
                return Err("Email is not configured (postmark_server_token and email_from)".into());
            }
            let Some(email) = out.email else {
                return Err("an email reply has no headers".into());
            };
            let mut headers = vec![json!({"Name": "Message-ID", "Value": format!("<{}>", email.message_id)})];
            if let Some(parent) = &email.in_reply_to {
                headers.push(json!({"Name": "In-Reply-To", "Value": format!("<{parent}>")}));
            }
            if !email.references.is_empty() {
                headers.push(json!({"Name": "References", "Value": email.references}));
            }
            let body = json!({
                "From": config.from,
                "To": out.recipient,
                "Subject": email.subject,
                "TextBody": out.body,
                "ReplyTo": email.reply_to,
                "Headers": headers,
                "MessageStream": if config.message_stream.is_empty() { "outbound" } else { config.message_stream.as_str() },
            });
            Ok(HttpRequest {
                url: format!("{}/email", config.api_base.trim_end_matches('/')),
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("accept".into(), "application/json".into()),
                    ("x-postmark-server-token".into(), config.server_token.clone()),
                ],
                body: body.to_string().into_bytes(),
            })
        }
        Channel::Web => Err("widget replies are not sent through a provider".into()),
    }
}

fn retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

/// A short, single-line piece of a provider's text for the operator's eyes.
fn shown(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    line.trim().to_owned()
}

/// Reads a provider's answer to [`request`]'s request for `channel`.
pub fn answer(providers: &Providers, channel: Channel, status: u16, body: &[u8]) -> Answer {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let str_at = |pointer: &str| {
        json.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let via_meta_whatsapp = channel == Channel::Whatsapp
        && !providers.meta.whatsapp_token.is_empty()
        && !providers.meta.whatsapp_phone_number_id.is_empty();
    let provider = match channel {
        Channel::Sms => "Twilio",
        Channel::Whatsapp if !via_meta_whatsapp => "Twilio",
        Channel::Email => "Postmark",
        _ => "Meta",
    };
    if (200..300).contains(&status) {
        let id = match (channel, provider) {
            (_, "Twilio") => str_at("/sid"),
            (_, "Postmark") => {
                // Postmark answers 200 with ErrorCode 0 on success.
                match json.get("ErrorCode").and_then(Value::as_i64) {
                    Some(0) | None => str_at("/MessageID"),
                    Some(code) => {
                        return Answer::Refused(format!(
                            "Postmark {code}: {}",
                            shown(&str_at("/Message").unwrap_or_default())
                        ));
                    }
                }
            }
            (Channel::Whatsapp, _) => str_at("/messages/0/id"),
            _ => str_at("/message_id"),
        };
        return Answer::Accepted { provider_id: id };
    }
    let reason = match provider {
        "Twilio" => format!(
            "Twilio {}: {}",
            json.get("code")
                .map_or_else(|| status.to_string(), Value::to_string),
            shown(&str_at("/message").unwrap_or_else(|| "HTTP error".into()))
        ),
        "Postmark" => format!(
            "Postmark {}: {}",
            json.get("ErrorCode")
                .map_or_else(|| status.to_string(), Value::to_string),
            shown(&str_at("/Message").unwrap_or_else(|| "HTTP error".into()))
        ),
        _ => format!(
            "Meta {}: {}",
            json.pointer("/error/code")
                .map_or_else(|| status.to_string(), Value::to_string),
            shown(&str_at("/error/message").unwrap_or_else(|| "HTTP error".into()))
        ),
    };
    // Meta marks temporary trouble (codes 1, 2, rate limits 4/17/32/613, WhatsApp 130429)
    // with 4xx statuses too.
    let meta_transient = provider == "Meta"
        && matches!(
            json.pointer("/error/code").and_then(Value::as_i64),
            Some(1 | 2 | 4 | 17 | 32 | 613 | 130429 | 131000)
        );
    if retryable_status(status) || meta_transient {
        Answer::Retry(format!("HTTP {status}, {reason}"))
    } else {
        Answer::Refused(format!("HTTP {status}, {reason}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn providers() -> Providers {
        Providers {
            twilio: TwilioConfig {
                api_base: "http://fake".into(),
                account_sid: "AC1".into(),
                auth_token: "tok".into(),
                from: "+15005550006".into(),
                status_callback: "https://chat.example.com/hooks/twilio/status".into(),
                ..TwilioConfig::default()
            },
            meta: MetaConfig {
                graph_base: "http://fake/v21.0".into(),
                page_token: "PAGE".into(),
                whatsapp_token: "WA".into(),
                whatsapp_phone_number_id: "123".into(),
            },
            postmark: PostmarkConfig {
                api_base: "http://fake".into(),
                server_token: "PM".into(),
                from: "Support <support@example.com>".into(),
                message_stream: String::new(),
            },
        }
    }

    fn out(channel: Channel, recipient: &str) -> Outgoing<'_> {
        Outgoing {
            channel,
            recipient,
            body: "Hi & welcome",
            email: None,
        }
    }

    #[test]
    fn twilio_form_with_basic_auth_and_status_callback() {
        let request = request(&providers(), &out(Channel::Sms, "+14155550100")).unwrap();
        assert_eq!(
            request.url,
            "http://fake/2010-04-01/Accounts/AC1/Messages.json"
        );
        assert_eq!(
            String::from_utf8(request.body).unwrap(),
            "To=%2B14155550100&Body=Hi+%26+welcome&From=%2B15005550006&StatusCallback=https%3A%2F%2Fchat.example.com%2Fhooks%2Ftwilio%2Fstatus"
        );
        assert!(
            request
                .headers
                .contains(&("authorization".into(), "Basic QUMxOnRvaw==".into()))
        );
    }

    #[test]
    fn whatsapp_prefers_the_cloud_api_and_falls_back_to_twilio() {
        let cloud = request(&providers(), &out(Channel::Whatsapp, "+14155550100")).unwrap();
        assert_eq!(cloud.url, "http://fake/v21.0/123/messages");
        let body: Value = serde_json::from_slice(&cloud.body).unwrap();
        assert_eq!(body["to"], "14155550100");
        assert_eq!(body["text"]["body"], "Hi & welcome");
        let mut twilio_only = providers();
        twilio_only.meta.whatsapp_token.clear();
        assert!(request(&twilio_only, &out(Channel::Whatsapp, "+1")).is_err());
        twilio_only.twilio.whatsapp_from = "+15005550006".into();
        let via_twilio = request(&twilio_only, &out(Channel::Whatsapp, "+14155550100")).unwrap();
        assert!(
            String::from_utf8(via_twilio.body)
                .unwrap()
                .starts_with("To=whatsapp%3A%2B14155550100")
        );
    }

    #[test]
    fn messenger_and_email_requests() {
        let messenger = request(&providers(), &out(Channel::Messenger, "PSID")).unwrap();
        let body: Value = serde_json::from_slice(&messenger.body).unwrap();
        assert_eq!(body["recipient"]["id"], "PSID");
        assert_eq!(body["messaging_type"], "RESPONSE");
        let headers = EmailHeaders {
            subject: "Re: Order 7".into(),
            in_reply_to: Some("a1@mail.example".into()),
            references: "<a0@mail.example> <a1@mail.example>".into(),
            message_id: "m5.x@example.com".into(),
            reply_to: "support+tok@example.com".into(),
        };
        let email = Outgoing {
            email: Some(&headers),
            ..out(Channel::Email, "ann@example.com")
        };
        let request = request(&providers(), &email).unwrap();
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["Subject"], "Re: Order 7");
        assert_eq!(body["ReplyTo"], "support+tok@example.com");
        assert_eq!(body["MessageStream"], "outbound");
        assert_eq!(
            body["Headers"][1],
            json!({"Name": "In-Reply-To", "Value": "<a1@mail.example>"})
        );
        assert_eq!(
            body["Headers"][2]["Value"],
            "<a0@mail.example> <a1@mail.example>"
        );
    }

    #[test]
    fn unconfigured_channels_say_what_is_missing() {
        let none = Providers::default();
        for channel in [
            Channel::Sms,
            Channel::Whatsapp,
            Channel::Messenger,
            Channel::Email,
        ] {
            let why = request(&none, &out(channel, "x")).unwrap_err();
            assert!(
                why.contains("not configured") || why.contains("headers"),
                "{why}"
            );
        }
    }

    #[test]
    fn answers() {
        let p = providers();
        assert_eq!(
            answer(
                &p,
                Channel::Sms,
                201,
                br#"{"sid":"SM123","status":"queued"}"#
            ),
            Answer::Accepted {
                provider_id: Some("SM123".into())
            }
        );
        assert_eq!(
            answer(
                &p,
                Channel::Whatsapp,
                200,
                br#"{"messages":[{"id":"wamid.X"}]}"#
            ),
            Answer::Accepted {
                provider_id: Some("wamid.X".into())
            }
        );
        assert_eq!(
            answer(
                &p,
                Channel::Messenger,
                200,
                br#"{"recipient_id":"1","message_id":"m_1"}"#
            ),
            Answer::Accepted {
                provider_id: Some("m_1".into())
            }
        );
        assert_eq!(
            answer(
                &p,
                Channel::Email,
                200,
                br#"{"ErrorCode":0,"Message":"OK","MessageID":"b7bc"}"#
            ),
            Answer::Accepted {
                provider_id: Some("b7bc".into())
            }
        );
        assert!(matches!(
            answer(&p, Channel::Sms, 503, b"<html>"),
            Answer::Retry(_)
        ));
        assert!(matches!(
            answer(&p, Channel::Sms, 429, b""),
            Answer::Retry(_)
        ));
        assert_eq!(
            answer(&p, Channel::Sms, 400, br#"{"code":21211,"message":"The 'To' number is not a valid phone number.","status":400}"#),
            Answer::Refused("HTTP 400, Twilio 21211: The 'To' number is not a valid phone number.".into())
        );
        assert!(matches!(
            answer(&p, Channel::Messenger, 400, br#"{"error":{"message":"(#613) Calls to this api have exceeded the rate limit.","code":613}}"#),
            Answer::Retry(_)
        ));
        assert!(matches!(
            answer(&p, Channel::Messenger, 400, br#"{"error":{"message":"This message is sent outside of allowed window.","code":10,"error_subcode":2018278}}"#),
            Answer::Refused(_)
        ));
        assert!(matches!(
            answer(&p, Channel::Email, 422, br#"{"ErrorCode":406,"Message":"You tried to send to a recipient that has been marked as inactive."}"#),
            Answer::Refused(_)
        ));
    }
}
