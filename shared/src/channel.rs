//! The ways a customer can reach the business. Every message records the channel it came
//! through, so replies can go back the same way.

use serde::Serialize;

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
