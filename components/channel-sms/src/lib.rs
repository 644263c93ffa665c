//! `channel-sms`: Twilio's webhooks for SMS/MMS (and WhatsApp through Twilio), under
//! `/hooks/twilio`.
//!
//! Thin by design: the signature check and the form parsing are `shared::channel::twilio`; storing
//! the message (once, in the customer's one thread) is `shared::inbound`. Nothing is read from the
//! form before its signature has been checked against the public URL Twilio called
//! (`public_base_url` + the path, because behind a proxy Spin sees another URL), and nothing is
//! stored unless it verifies.
//!
//! - `POST /hooks/twilio/sms`: an inbound message. Answers empty TwiML: replies go out through
//!   the REST API (the `dispatch` component), never inline.
//! - `POST /hooks/twilio/status`: a status callback for a reply we sent (the `StatusCallback`
//!   `dispatch` gives Twilio); moves its delivery state forward, never back.

use shared::api::{ApiError, MAX_JSON_BODY_BYTES};
use shared::channel::{Channel, twilio};
use shared::contact::PhoneNumber;
use shared::delivery;
use shared::inbound::{self, InboundMessage, Sender};
use shared::media::RemoteMedia;
use shared::ops_counter::Counter;
use shared::router::{self, Sweep};
use spin_host::{Access, Afterwards, ApiRequest, SpinHost};
use spin_sdk::http::{IncomingRequest, Method, Response, ResponseOutparam};
use spin_sdk::http_component;

const COMPONENT: &str = "channel-sms";
/// The route prefix in spin.toml: Twilio signs the whole path.
const ROUTE_PREFIX: &str = "/hooks/twilio";
const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

#[derive(Debug, PartialEq)]
enum Command {
    Inbound,
    Status,
    WrongMethod(&'static str),
    Unknown,
}

impl Command {
    fn route(method: &Method, segments: &[&str]) -> Command {
        match (segments, method) {
            (["sms"], Method::Post) => Command::Inbound,
            (["sms"], _) => Command::WrongMethod("POST"),
            (["status"], Method::Post) => Command::Status,
            (["status"], _) => Command::WrongMethod("POST"),
            _ => Command::Unknown,
        }
    }
}

#[http_component]
async fn handle(request: IncomingRequest, out: ResponseOutparam) {
    spin_host::begin(COMPONENT, &request);
    let client = spin_host::client_address(&request);
    let (response, afterwards) = match serve(request).await {
        Ok(done) => done,
        Err(e) => (
            spin_host::webhook_refused(COMPONENT, Counter::WebhookRejectedTwilio, &client, e),
            Afterwards::default(),
        ),
    };
    // The provider gets its answer at once; the assistant and media fetches follow.
    spin_host::respond(out, response).await;
    afterwards.run(COMPONENT).await;
}

/// The URL Twilio called: the configured public base (behind proxies) or what Spin saw.
fn public_url(request: &ApiRequest) -> String {
    let base = spin_host::variable("public_base_url", "");
    let base = if base.is_empty() {
        request.origin()
    } else {
        base.trim_end_matches('/').to_owned()
    };
    let query = if request.query.is_empty() {
        String::new()
    } else {
        format!("?{}", request.query)
    };
    format!("{base}{ROUTE_PREFIX}{}{query}", request.path)
}

fn is_form(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

async fn serve(request: IncomingRequest) -> Result<(Response, Afterwards), ApiError> {
    let request = ApiRequest::read(request, MAX_JSON_BODY_BYTES).await?;
    let command = Command::route(&request.method, &request.segments());
    match command {
        Command::Unknown => return Err(ApiError::not_found_route()),
        Command::WrongMethod(allowed) => return Err(ApiError::method_not_allowed(allowed)),
        Command::Inbound | Command::Status => {}
    }
    let Some(signature) = request.header("x-twilio-signature") else {
        return Err(ApiError::new(
            401,
            "unsigned",
            "X-Twilio-Signature is missing",
        ));
    };
    if !is_form(request.header("content-type")) {
        return Err(ApiError::unsupported_media_type());
    }
    let params = twilio::parse_form(&request.body)?;
    let auth_token = spin_host::variable("twilio_auth_token", "");
    if !twilio::verify_form(&auth_token, &public_url(&request), &params, Some(signature)) {
        return Err(ApiError::new(
            403,
            "forged_signature",
            "X-Twilio-Signature does not match (check twilio_auth_token and public_base_url)",
        ));
    }
    if command == Command::Status {
        let callback = twilio::status_callback(&params)?;
        let host = SpinHost::open(Access::Write)?;
        let ctx = host.ctx();
        let error = callback
            .error_code
            .as_deref()
            .map(|code| format!("Twilio error {code} (see twilio.com/docs/api/errors/{code})"));
        let db = ctx.db;
        let events = shared::store::transaction(db, || {
            delivery::advance_by_provider_id(
                db,
                &[Channel::Sms, Channel::Whatsapp],
                &callback.message_sid,
                callback.status,
                error.as_deref(),
                ctx.clock.now_ms(),
            )
        })
        .map_err(ApiError::internal)?;
        shared::event::announce_each(&ctx, &events);
        return Ok((
            spin_host::text(200, "text/xml", EMPTY_TWIML),
            Afterwards::default(),
        ));
    }
    let sms = twilio::inbound(&params)?;
    let (channel, number) = match sms.from.strip_prefix("whatsapp:") {
        Some(number) => (Channel::Whatsapp, number),
        None => (Channel::Sms, sms.from.as_str()),
    };
    let sender = match PhoneNumber::parse("From", number) {
        Ok(phone) => Sender::Phone(phone),
        // Short codes and alphanumeric senders are not phone numbers; they are still someone.
        Err(_) => Sender::ChannelId(inbound::external_id("From", number)?),
    };
    let message = InboundMessage {
        channel,
        sender,
        name: None,
        external_id: inbound::external_id("MessageSid", &sms.message_sid)?,
        body: inbound::body(Some(&sms.body), sms.media.len())?,
        email: None,
        attachments: Vec::new(),
        media: sms
            .media
            .iter()
            .map(|m| RemoteMedia::url(&m.url, Some(&m.content_type)))
            .collect(),
    };
    let host = SpinHost::open(Access::Write)?;
    let ctx = host.ctx();
    let received = inbound::receive(&ctx, &message)?;
    if received.created
        && router::message_needs_pass(ctx.db, received.conversation_id, ctx.clock.now_ms())
            .map_err(ApiError::internal)?
    {
        spin_host::route(COMPONENT, Sweep::Skip).await;
    }
    let mut afterwards = Afterwards::default();
    afterwards.after_receiving(&ctx, &received, !message.media.is_empty())?;
    Ok((spin_host::text(200, "text/xml", EMPTY_TWIML), afterwards))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Command::route(&Method::Post, &["sms"]), Command::Inbound);
        assert_eq!(
            Command::route(&Method::Get, &["sms"]),
            Command::WrongMethod("POST")
        );
        assert_eq!(Command::route(&Method::Post, &["status"]), Command::Status);
        assert_eq!(Command::route(&Method::Post, &["voice"]), Command::Unknown);
    }

    #[test]
    fn form_content_types() {
        assert!(is_form(Some(
            "application/x-www-form-urlencoded; charset=utf-8"
        )));
        assert!(!is_form(Some("application/json")));
        assert!(!is_form(None));
    }

    spin_host::route_table_property!(Command::route);
}
