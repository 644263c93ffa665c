//! `channel-email`: inbound email webhooks, under `/hooks/email`.
//!
//! Thin by design: authenticity checks and payload parsing are `shared::channel::email` (and
//! `shared::channel::multipart` for Mailgun's and SendGrid's forms); replay tokens are
//! `shared::webhook_nonce`; storing the email (once per Message-ID, threaded by reply token,
//! then `In-Reply-To` / `References`, else the customer's one thread) is `shared::inbound`.
//! Nothing is stored from a request that did not authenticate.
//!
//! # Layout
//! - `POST /hooks/email/postmark`: Postmark's inbound JSON. Postmark cannot sign, so the webhook
//!   URL carries HTTP Basic credentials (`https://user:password@host/hooks/email/postmark`),
//!   checked against `postmark_inbound_credentials`. Missing: 401; wrong: 403, which is the one
//!   answer that stops Postmark's retries.
//! - `POST /hooks/email/mailgun`: a Mailgun route's `forward()`, urlencoded or (with
//!   attachments) multipart. Its `signature` is checked against `mailgun_signing_key`, its
//!   `timestamp` must be fresh, and its `token` is accepted once (a replay gets 406, which
//!   Mailgun does not retry).
//! - `POST /hooks/email/sendgrid`: SendGrid Inbound Parse in its default (parsed) mode,
//!   multipart with files `attachment1..N`. Unsigned like Postmark, so behind the same kind of
//!   URL credentials, checked against `sendgrid_inbound_credentials` (missing: 401; wrong: 403).
//!   Raw mode (the whole MIME message in `email`) gets a 400 naming the setting to untick.
//! - All answer `200 {"ok":true,"duplicate":false}`, or `"duplicate":true` for a retry of an
//!   email already stored (SendGrid retries anything else for three days).
//!
//! Files that break the attachment limits (type, size, count) are dropped with a line in the
//! message saying so, never by refusing the email: the provider would retry it forever.

use serde::Serialize;
use shared::api::{ApiError, is_json_content_type};
use shared::attachment::{MAX_PER_MESSAGE, NewAttachment};
use shared::channel::email::{self, InboundEmail, Refusal};
use shared::channel::multipart::{self, Part};
use shared::channel::{Channel, twilio};
use shared::host::{Clock, Ctx};
use shared::inbound::{self, EmailContext, InboundMessage, Sender};
use shared::message::MessageBody;
use shared::ops_counter::Counter;
use shared::router::{self, Sweep};
use shared::webhook_nonce;
use spin_host::{Access, Afterwards, ApiRequest, SpinHost, SystemClock};
use spin_sdk::http::{IncomingRequest, Method, Response, ResponseOutparam};
use spin_sdk::http_component;

const COMPONENT: &str = "channel-email";
/// Emails carry attachments (base64 in Postmark's JSON, a third larger than the files): 32 MiB
/// holds an email with several, and bounds what one request can make us buffer.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// The provider name Mailgun's tokens are remembered under.
const MAILGUN: &str = "mailgun";

#[derive(Debug, PartialEq)]
enum Command {
    Postmark,
    Mailgun,
    Sendgrid,
    WrongMethod(&'static str),
    Unknown,
}

impl Command {
    fn route(method: &Method, segments: &[&str]) -> Command {
        match (segments, method) {
            (["postmark"], Method::Post) => Command::Postmark,
            (["mailgun"], Method::Post) => Command::Mailgun,
            (["sendgrid"], Method::Post) => Command::Sendgrid,
            (["postmark" | "mailgun" | "sendgrid"], _) => Command::WrongMethod("POST"),
            _ => Command::Unknown,
        }
    }
}

#[http_component]
async fn handle(request: IncomingRequest, out: ResponseOutparam) {
    spin_host::begin(COMPONENT, &request);
    let client = spin_host::client_address(&request);
    let counter = rejects_counter(&request.path_with_query().unwrap_or_default());
    let (response, afterwards) = match serve(request).await {
        Ok(done) => done,
        Err(e) => (
            spin_host::webhook_refused(COMPONENT, counter, &client, e),
            Afterwards::default(),
        ),
    };
    // The provider gets its answer at once; the assistant's turn follows.
    spin_host::respond(out, response).await;
    afterwards.run(COMPONENT).await;
}

/// The provider a refused request is counted under, from its path's last segment.
fn rejects_counter(path: &str) -> Counter {
    let path = path.split('?').next().unwrap_or_default();
    match path.trim_end_matches('/').rsplit('/').next() {
        Some("mailgun") => Counter::WebhookRejectedMailgun,
        Some("sendgrid") => Counter::WebhookRejectedSendgrid,
        _ => Counter::WebhookRejectedPostmark,
    }
}

/// The response, and what follows it.
type Served = (Response, Afterwards);

async fn serve(request: IncomingRequest) -> Result<Served, ApiError> {
    let request = ApiRequest::read(request, MAX_BODY_BYTES).await?;
    match Command::route(&request.method, &request.segments()) {
        Command::Unknown => Err(ApiError::not_found_route()),
        Command::WrongMethod(allowed) => Err(ApiError::method_not_allowed(allowed)),
        Command::Postmark => postmark(&request).await,
        Command::Mailgun => mailgun(&request).await,
        Command::Sendgrid => sendgrid(&request).await,
    }
}

/// Postmark and SendGrid cannot sign their posts: the HTTP Basic credentials in the webhook URL
/// are the secret, compared with the `user:password` in `variable`. Missing: 401; wrong, or none
/// configured: 403 (for Postmark, the one answer that stops its retries).
fn check_credentials(request: &ApiRequest, variable: &str) -> Result<(), ApiError> {
    let Some(authorization) = request.header("authorization") else {
        return Err(ApiError::new(
            401,
            "unsigned",
            "HTTP Basic credentials are missing (put user:password@ in the webhook URL)",
        ));
    };
    let configured = spin_host::variable(variable, "");
    if !email::verify_basic_auth(&configured, Some(authorization)) {
        return Err(ApiError::new(
            403,
            "forged_credentials",
            format!("the credentials do not match {variable}"),
        ));
    }
    Ok(())
}

async fn postmark(request: &ApiRequest) -> Result<Served, ApiError> {
    check_credentials(request, "postmark_inbound_credentials")?;
    if !is_json_content_type(request.header("content-type")) {
        return Err(ApiError::unsupported_media_type());
    }
    let parsed = email::postmark(&request.body)?;
    let message = inbound_message(parsed)?;
    let host = SpinHost::open(Access::Write)?;
    store(&host.ctx(), &message).await
}

/// Mailgun posts a form: urlencoded, or multipart when the email has attachments.
fn form_type(content_type: Option<&str>) -> Option<FormType> {
    let essence = content_type?.split(';').next()?.trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Some(FormType::Urlencoded)
    } else if multipart::is_multipart(Some(essence)) {
        Some(FormType::Multipart)
    } else {
        None
    }
}

#[derive(Debug, PartialEq)]
enum FormType {
    Urlencoded,
    Multipart,
}

async fn mailgun(request: &ApiRequest) -> Result<Served, ApiError> {
    let content_type = request.header("content-type");
    let Some(form) = form_type(content_type) else {
        return Err(ApiError::new(
            415,
            "unsupported_media_type",
            "request body must be application/x-www-form-urlencoded or multipart/form-data",
        ));
    };
    // The signature travels inside the form, so the form is parsed (not trusted) first.
    let pairs;
    let fields: Vec<Part<'_>> = match form {
        FormType::Urlencoded => {
            pairs = twilio::parse_form(&request.body)?;
            pairs.iter().map(|(n, v)| Part::field(n, v)).collect()
        }
        FormType::Multipart => multipart::parse(content_type.unwrap_or_default(), &request.body)?,
    };
    let signed = |name: &str| multipart::text(&fields, name).filter(|v| !v.trim().is_empty());
    let (Some(timestamp), Some(token), Some(signature)) =
        (signed("timestamp"), signed("token"), signed("signature"))
    else {
        return Err(ApiError::new(
            401,
            "unsigned",
            "the timestamp, token and signature fields are missing",
        ));
    };
    let key = spin_host::variable("mailgun_signing_key", "");
    let now_ms = SystemClock.now_ms();
    match email::verify_mailgun(
        &key,
        Some(timestamp),
        Some(token),
        Some(signature),
        now_ms / 1000,
    ) {
        Ok(()) => {}
        Err(Refusal::Stale) => {
            return Err(ApiError::new(
                403,
                "stale_signature",
                "the timestamp is too far from now (check the server clock)",
            ));
        }
        // With the fields present, `Unsigned` means no key is configured: nothing can match.
        Err(Refusal::Forged | Refusal::Unsigned) => {
            return Err(ApiError::new(
                403,
                "forged_signature",
                "the signature does not match (check mailgun_signing_key)",
            ));
        }
    }
    let host = SpinHost::open(Access::Write)?;
    let ctx = host.ctx();
    if !webhook_nonce::remember(ctx.db, MAILGUN, token, now_ms).map_err(ApiError::internal)? {
        return Err(ApiError::new(
            406,
            "replayed",
            "this signed request was already accepted once",
        ));
    }
    let result = match email::mailgun(&fields) {
        Ok(parsed) => match inbound_message(parsed) {
            Ok(message) => store(&ctx, &message).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e.into()),
    };
    if result.as_ref().is_err_and(|e| e.status() >= 500) {
        // Our failure, not the request's: Mailgun's retry of this very request must not look
        // like a replay. A refused request keeps its token spent.
        if let Err(e) = webhook_nonce::forget(ctx.db, MAILGUN, token) {
            spin_host::observe::log(
                "warn",
                COMPONENT,
                &format!("could not forget a Mailgun token: {e}"),
            );
        }
    }
    result
}

async fn sendgrid(request: &ApiRequest) -> Result<Served, ApiError> {
    check_credentials(request, "sendgrid_inbound_credentials")?;
    let content_type = request.header("content-type");
    if !multipart::is_multipart(content_type) {
        return Err(ApiError::new(
            415,
            "unsupported_media_type",
            "request body must be multipart/form-data",
        ));
    }
    let fields = multipart::parse(content_type.unwrap_or_default(), &request.body)?;
    let message = inbound_message(email::sendgrid(&fields)?)?;
    let host = SpinHost::open(Access::Write)?;
    store(&host.ctx(), &message).await
}

/// A line for each file that was not kept.
fn attachment_notes(email: &mut InboundEmail) -> (Vec<NewAttachment>, Vec<String>) {
    let mut kept = Vec::new();
    let mut notes = Vec::new();
    for file in std::mem::take(&mut email.attachments) {
        match NewAttachment::from_provider(&file.name, &file.content_type, file.data) {
            Ok(attachment) => kept.push(attachment),
            Err(note) => notes.push(note),
        }
    }
    match email.attachments_over_limit {
        0 => {}
        1 => notes.push(format!(
            "(1 more attachment was not kept: at most {MAX_PER_MESSAGE} per message)"
        )),
        more => notes.push(format!(
            "({more} more attachments were not kept: at most {MAX_PER_MESSAGE} per message)"
        )),
    }
    (kept, notes)
}

/// The message to store: the email's text, cut so that the notes about dropped files still fit
/// after it.
fn inbound_message(mut email: InboundEmail) -> Result<InboundMessage, ApiError> {
    let (attachments, notes) = attachment_notes(&mut email);
    let text = if notes.is_empty() {
        email.text
    } else {
        let notes = notes.join("\n");
        let room = MessageBody::MAX_CHARS.saturating_sub(notes.chars().count() + 2);
        let text: String = email.text.trim_end().chars().take(room).collect();
        if text.trim().is_empty() {
            notes
        } else {
            format!("{text}\n\n{notes}")
        }
    };
    Ok(InboundMessage {
        channel: Channel::Email,
        sender: Sender::Email(email.from),
        name: email.name,
        external_id: inbound::external_id("Message-ID", &email.message_id)?,
        body: inbound::body(Some(&text), attachments.len())?,
        email: Some(EmailContext {
            reply_token: email.reply_token,
            referenced_ids: email.referenced_ids,
            subject: email.subject,
            references: email.references,
        }),
        attachments,
        media: Vec::new(),
    })
}

#[derive(Serialize)]
struct Accepted {
    ok: bool,
    /// The provider retried an email already stored: nothing new was stored.
    duplicate: bool,
}

/// Stores the email once and asks for a routing pass when it may need one.
async fn store(ctx: &Ctx<'_>, message: &InboundMessage) -> Result<Served, ApiError> {
    let received = inbound::receive(ctx, message)?;
    let mut afterwards = Afterwards::default();
    afterwards.after_receiving(ctx, &received, false)?;
    if received.created
        && router::message_needs_pass(ctx.db, received.conversation_id, ctx.clock.now_ms())
            .map_err(ApiError::internal)?
    {
        spin_host::route(COMPONENT, Sweep::Skip).await;
    }
    let response = spin_host::json(
        200,
        &Accepted {
            ok: true,
            duplicate: !received.created,
        },
    );
    Ok((response, afterwards))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            Command::route(&Method::Post, &["postmark"]),
            Command::Postmark
        );
        assert_eq!(
            Command::route(&Method::Post, &["mailgun"]),
            Command::Mailgun
        );
        assert_eq!(
            Command::route(&Method::Get, &["mailgun"]),
            Command::WrongMethod("POST")
        );
        assert_eq!(
            Command::route(&Method::Post, &["sendgrid"]),
            Command::Sendgrid
        );
        assert_eq!(
            Command::route(&Method::Put, &["sendgrid"]),
            Command::WrongMethod("POST")
        );
        assert_eq!(
            Command::route(&Method::Post, &["sparkpost"]),
            Command::Unknown
        );
        assert_eq!(Command::route(&Method::Post, &[]), Command::Unknown);
    }

    #[test]
    fn mailgun_posts_either_form() {
        assert_eq!(
            form_type(Some("application/x-www-form-urlencoded; charset=utf-8")),
            Some(FormType::Urlencoded)
        );
        assert_eq!(
            form_type(Some("multipart/form-data; boundary=x")),
            Some(FormType::Multipart)
        );
        assert_eq!(form_type(Some("application/json")), None);
        assert_eq!(form_type(None), None);
    }

    spin_host::route_table_property!(Command::route);
}
