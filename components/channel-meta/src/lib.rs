//! `channel-meta`: Meta's webhooks for Messenger, Instagram and WhatsApp Cloud, at `/hooks/meta`.
//!
//! Thin by design: the handshake, the signature check and the payload parsing are
//! `shared::channel::meta`; storing each message (once, in the customer's one thread) is
//! `shared::inbound`. The signature is checked over the exact bytes received before the body is
//! parsed, and the whole payload is parsed before anything is stored.
//!
//! - `GET /hooks/meta?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...`: the
//!   subscription handshake (the challenge back, or 403).
//! - `POST /hooks/meta`: a batch of events. Messages are stored; delivery/read receipts and
//!   WhatsApp statuses are acknowledged (they concern replies, which `dispatch` will send).

use shared::api::{ApiError, query_text};
use shared::channel::Channel;
use shared::channel::meta::{self, Event};
use shared::contact::{PersonName, PhoneNumber};
use shared::delivery;
use shared::inbound::{self, InboundMessage, Sender};
use shared::media::RemoteMedia;
use shared::ops_counter::Counter;
use shared::router::{self, Sweep};
use spin_host::{Access, Afterwards, ApiRequest, SpinHost};
use spin_sdk::http::{IncomingRequest, Method, Response, ResponseOutparam};
use spin_sdk::http_component;

const COMPONENT: &str = "channel-meta";
/// Meta batches events; a batch may be larger than the app's usual JSON limit.
const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, PartialEq)]
enum Command {
    Handshake,
    Events,
    WrongMethod(&'static str),
    Unknown,
}

impl Command {
    fn route(method: &Method, segments: &[&str]) -> Command {
        match (segments, method) {
            ([], Method::Get) => Command::Handshake,
            ([], Method::Post) => Command::Events,
            ([], _) => Command::WrongMethod("GET, POST"),
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
            spin_host::webhook_refused(COMPONENT, Counter::WebhookRejectedMeta, &client, e),
            Afterwards::default(),
        ),
    };
    // The provider gets its answer at once; the assistant and media fetches follow.
    spin_host::respond(out, response).await;
    afterwards.run(COMPONENT).await;
}

fn inbound_message(event: &Event) -> Result<Option<InboundMessage>, ApiError> {
    let Event::Message {
        channel,
        sender,
        id,
        text,
        attachments,
        name,
        ..
    } = event
    else {
        return Ok(None);
    };
    let sender = match channel {
        // A WhatsApp id is the phone number without '+': the same customer as by SMS.
        Channel::Whatsapp => match PhoneNumber::parse("from", &format!("+{sender}")) {
            Ok(phone) => Sender::Phone(phone),
            Err(_) => Sender::ChannelId(inbound::external_id("from", sender)?),
        },
        _ => Sender::ChannelId(inbound::external_id("sender.id", sender)?),
    };
    Ok(Some(InboundMessage {
        channel: *channel,
        sender,
        name: name
            .as_deref()
            .and_then(|n| PersonName::parse("name", n).ok()),
        external_id: inbound::external_id("id", id)?,
        body: inbound::body(text.as_deref(), attachments.len())?,
        email: None,
        attachments: Vec::new(),
        media: attachments
            .iter()
            .filter_map(|a| match (&a.media_id, &a.url) {
                (Some(id), _) => Some(RemoteMedia::whatsapp(
                    id,
                    a.content_type.as_deref(),
                    a.name.as_deref(),
                )),
                (None, Some(url)) => Some(RemoteMedia::url(url, a.content_type.as_deref())),
                (None, None) => None,
            })
            .collect(),
    }))
}

/// Moves our replies' delivery states forward from Messenger/Instagram receipts (watermarks)
/// and WhatsApp statuses (per message).
fn record_receipts(ctx: &shared::host::Ctx<'_>, events: &[meta::Event]) -> Result<(), ApiError> {
    let now = ctx.clock.now_ms();
    let db = ctx.db;
    let written = shared::store::transaction(db, || {
        let mut written = Vec::new();
        for event in events {
            match event {
                meta::Event::Receipt {
                    channel,
                    sender,
                    status,
                    watermark_ms,
                } => written.extend(delivery::advance_up_to(
                    db,
                    *channel,
                    sender,
                    *watermark_ms,
                    *status,
                    now,
                )?),
                meta::Event::Status { id, status, error } => {
                    written.extend(delivery::advance_by_provider_id(
                        db,
                        &[Channel::Whatsapp],
                        id,
                        *status,
                        error.as_deref(),
                        now,
                    )?)
                }
                meta::Event::Message { .. } => {}
            }
        }
        Ok::<_, shared::store::DbError>(written)
    })
    .map_err(ApiError::internal)?;
    shared::event::announce_each(ctx, &written);
    Ok(())
}

async fn serve(request: IncomingRequest) -> Result<(Response, Afterwards), ApiError> {
    let request = ApiRequest::read(request, MAX_BODY_BYTES).await?;
    match Command::route(&request.method, &request.segments()) {
        Command::Unknown => Err(ApiError::not_found_route()),
        Command::WrongMethod(allowed) => Err(ApiError::method_not_allowed(allowed)),
        Command::Handshake => {
            let token = spin_host::variable("meta_verify_token", "");
            let challenge = query_text(&request.query, "hub.challenge");
            match meta::handshake(
                &token,
                query_text(&request.query, "hub.mode").as_deref(),
                query_text(&request.query, "hub.verify_token").as_deref(),
                challenge.as_deref(),
            ) {
                Some(challenge) => Ok((
                    spin_host::text(200, "text/plain", challenge),
                    Afterwards::default(),
                )),
                None => Err(ApiError::new(
                    403,
                    "forbidden",
                    "the verify token does not match meta_verify_token",
                )),
            }
        }
        Command::Events => {
            let Some(signature) = request.header("x-hub-signature-256") else {
                return Err(ApiError::new(
                    401,
                    "unsigned",
                    "X-Hub-Signature-256 is missing",
                ));
            };
            let secret = spin_host::variable("meta_app_secret", "");
            if !meta::verify(&secret, &request.body, Some(signature)) {
                return Err(ApiError::new(
                    403,
                    "forged_signature",
                    "X-Hub-Signature-256 does not match (check meta_app_secret)",
                ));
            }
            if !shared::api::is_json_content_type(request.header("content-type")) {
                return Err(ApiError::unsupported_media_type());
            }
            let events = meta::events(&request.body)?;
            let messages = events
                .iter()
                .map(inbound_message)
                .collect::<Result<Vec<_>, _>>()?;
            let host = SpinHost::open(Access::Write)?;
            let ctx = host.ctx();
            let mut needs_pass = false;
            let mut afterwards = Afterwards::default();
            for message in messages.iter().flatten() {
                let received = inbound::receive(&ctx, message)?;
                afterwards.after_receiving(&ctx, &received, !message.media.is_empty())?;
                needs_pass |= received.created
                    && router::message_needs_pass(
                        ctx.db,
                        received.conversation_id,
                        ctx.clock.now_ms(),
                    )
                    .map_err(ApiError::internal)?;
            }
            record_receipts(&ctx, &events)?;
            if needs_pass {
                spin_host::route(COMPONENT, Sweep::Skip).await;
            }
            Ok((
                spin_host::text(200, "text/plain", "EVENT_RECEIVED"),
                afterwards,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Command::route(&Method::Get, &[]), Command::Handshake);
        assert_eq!(Command::route(&Method::Post, &[]), Command::Events);
        assert_eq!(
            Command::route(&Method::Put, &[]),
            Command::WrongMethod("GET, POST")
        );
        assert_eq!(Command::route(&Method::Post, &["x"]), Command::Unknown);
    }

    spin_host::route_table_property!(Command::route);
}
