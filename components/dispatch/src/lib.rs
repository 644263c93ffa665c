//! `dispatch`: sends operators' replies out through the customer's channel (Twilio, Meta,
//! Postmark) from the durable outbox. Private (`route = { private = true }`): only other
//! components reach it, by Spin service chaining at `http://dispatch.spin.internal`.
//!
//! Thin by design: which rows are due, leases, retries and delivery states are
//! `shared::outbox`; the providers' requests and answers are `shared::channel::send`. This file
//! reads the settings and does the HTTP.
//!
//! - `POST /send`: one pass: claims the due replies (at most `shared::outbox::BATCH`), sends
//!   each, records each answer; then fetches due provider-hosted media into attachments
//!   (`shared::media`); and says what happened. Callers: `inbox-api` after an operator's reply
//!   through a provider and on heartbeats while anything is due (that is what makes retries
//!   happen: an open console checks in every few seconds); `channel-sms` and `channel-meta`
//!   after storing a message with media.

use futures::StreamExt;
use serde::Serialize;
use shared::api::ApiError;
use shared::attachment;
use shared::channel::Channel;
use shared::channel::send::{
    self, Answer, MetaConfig, Outgoing, PostmarkConfig, Providers, TwilioConfig,
};
use shared::event;
use shared::media::{self, Fetched};
use shared::outbox::{self, RetrySchedule};
use shared::store::transaction;
use spin_host::{Access, ApiRequest, SpinHost, variable};
use spin_sdk::http::{IncomingRequest, IncomingResponse, Method, Request, Response};
use spin_sdk::http_component;

const COMPONENT: &str = "dispatch";

#[derive(Debug, PartialEq)]
enum Command {
    Send,
    WrongMethod(&'static str),
    Unknown,
}

impl Command {
    fn route(method: &Method, segments: &[&str]) -> Command {
        match (segments, method) {
            (["send"], Method::Post) => Command::Send,
            (["send"], _) => Command::WrongMethod("POST"),
            _ => Command::Unknown,
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Serialize)]
struct Pass {
    sent: usize,
    retrying: usize,
    failed: usize,
    media_fetched: usize,
}

#[http_component]
async fn handle(request: IncomingRequest) -> Response {
    spin_host::begin(COMPONENT, &request);
    spin_host::finish(match serve(request).await {
        Ok(response) => response,
        Err(e) => spin_host::error(COMPONENT, e),
    })
}

/// The providers' settings, from Spin variables (see spin.toml and the README).
fn providers() -> Providers {
    let public_base = variable("public_base_url", "");
    Providers {
        twilio: TwilioConfig {
            api_base: variable("twilio_api_base", "https://api.twilio.com"),
            account_sid: variable("twilio_account_sid", ""),
            auth_token: variable("twilio_auth_token", ""),
            from: variable("twilio_from", ""),
            messaging_service_sid: variable("twilio_messaging_service_sid", ""),
            whatsapp_from: variable("twilio_whatsapp_from", ""),
            status_callback: if public_base.is_empty() {
                String::new()
            } else {
                format!("{}/hooks/twilio/status", public_base.trim_end_matches('/'))
            },
        },
        meta: MetaConfig {
            graph_base: format!(
                "{}/{}",
                variable("meta_graph_base", "https://graph.facebook.com").trim_end_matches('/'),
                variable("meta_graph_version", "v21.0")
            ),
            page_token: variable("meta_page_token", ""),
            whatsapp_token: variable("whatsapp_token", ""),
            whatsapp_phone_number_id: variable("whatsapp_phone_number_id", ""),
        },
        postmark: PostmarkConfig {
            api_base: variable("postmark_api_base", "https://api.postmarkapp.com"),
            server_token: variable("postmark_server_token", ""),
            from: variable("email_from", ""),
            message_stream: variable("postmark_message_stream", "outbound"),
        },
    }
}

/// Sends one provider request; `Err` when the provider could not be reached at all.
async fn post(request: send::HttpRequest) -> Result<(u16, Vec<u8>), String> {
    let mut builder = Request::builder();
    builder.method(Method::Post).uri(request.url);
    for (name, value) in &request.headers {
        builder.header(name, value);
    }
    let response: Response = spin_sdk::http::send(builder.body(request.body).build())
        .await
        .map_err(|e| format!("could not reach the provider: {e}"))?;
    Ok((*response.status(), response.into_body()))
}

/// The most redirects a media download follows (Twilio redirects once, to its CDN).
const MAX_REDIRECTS: usize = 3;

/// Downloads a provider-hosted file: follows redirects (dropping credentials when the host
/// changes: a CDN's signed URL must not receive the account's secret), stops reading past the
/// attachment limit, and says whether a failure is worth retrying.
async fn download(mut get: media::HttpGet) -> Fetched {
    for _ in 0..=MAX_REDIRECTS {
        let mut builder = Request::builder();
        builder.method(Method::Get).uri(get.url.as_str());
        for (name, value) in &get.headers {
            builder.header(name, value);
        }
        let response: IncomingResponse = match spin_sdk::http::send(builder.build()).await {
            Ok(response) => response,
            Err(e) => return Fetched::Retry(format!("could not reach the media host: {e}")),
        };
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .first()
                .and_then(|v| String::from_utf8(v.clone()).ok())
        };
        if matches!(status, 301 | 302 | 303 | 307 | 308) {
            let Some(location) = header("location") else {
                return Fetched::Failed(format!("HTTP {status} without a Location"));
            };
            let host = |url: &str| {
                url.split("://")
                    .nth(1)
                    .and_then(|rest| rest.split('/').next())
                    .map(str::to_owned)
            };
            if host(&location) != host(&get.url) {
                get.headers.clear();
            }
            get.url = location;
            continue;
        }
        if !(200..300).contains(&status) {
            let why = format!("HTTP {status} from the media host");
            return if media::retryable(status) {
                Fetched::Retry(why)
            } else {
                Fetched::Failed(why)
            };
        }
        let content_type = header("content-type").unwrap_or_default();
        let mut data = Vec::new();
        let mut stream = response.take_body_stream();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => data.extend_from_slice(&chunk),
                Err(e) => return Fetched::Retry(format!("the download broke off: {e:?}")),
            }
            if data.len() > attachment::MAX_BYTES {
                return Fetched::Failed(format!(
                    "larger than {} MiB",
                    attachment::MAX_BYTES / (1024 * 1024)
                ));
            }
        }
        return Fetched::File { content_type, data };
    }
    Fetched::Failed("too many redirects".into())
}

/// Fetches one provider-hosted file (a WhatsApp media id takes a lookup first).
async fn fetch(providers: &Providers, job: &media::MediaJob) -> Fetched {
    let first = match media::first_request(providers, job) {
        Ok(get) => get,
        Err(why) => return Fetched::Failed(why),
    };
    match download(first).await {
        Fetched::File { content_type, data } => {
            match media::second_request(providers, job, &data) {
                None => Fetched::File { content_type, data },
                Some(Err(why)) => Fetched::Failed(why),
                Some(Ok((get, declared))) => match download(get).await {
                    Fetched::File { content_type, data } => Fetched::File {
                        content_type: declared.unwrap_or(content_type),
                        data,
                    },
                    other => other,
                },
            }
        }
        other => other,
    }
}

async fn serve(request: IncomingRequest) -> Result<Response, ApiError> {
    let request = ApiRequest::read(request, 1024).await?;
    match Command::route(&request.method, &request.segments()) {
        Command::Send => {}
        Command::WrongMethod(allowed) => return Err(ApiError::method_not_allowed(allowed)),
        Command::Unknown => return Err(ApiError::not_found_route()),
    }
    let schedule = RetrySchedule::parse(&variable("dispatch_retry_schedule_ms", ""))
        .map_err(|e| ApiError::internal(format!("dispatch_retry_schedule_ms: {e}")))?;
    let providers = providers();
    let fallback_subject = format!(
        "Your conversation with {}",
        variable("business_name", "Support")
    );
    let host = SpinHost::open(Access::Write)?;
    let ctx = host.ctx();
    let db = ctx.db;
    let jobs =
        transaction(db, || outbox::claim(db, ctx.clock.now_ms())).map_err(ApiError::internal)?;
    let mut pass = Pass::default();
    for job in jobs {
        let headers = if job.channel == Channel::Email {
            Some(
                transaction(db, || {
                    outbox::email_headers(
                        db,
                        ctx.entropy,
                        &job,
                        &providers.postmark.from,
                        &fallback_subject,
                    )
                })
                .map_err(ApiError::internal)?,
            )
        } else {
            None
        };
        let outgoing = Outgoing {
            channel: job.channel,
            recipient: &job.recipient,
            body: &job.body,
            email: headers.as_ref(),
        };
        let answer = match send::request(&providers, &outgoing) {
            Err(why) => Answer::Refused(why),
            Ok(http) => match post(http).await {
                Ok((status, body)) => send::answer(&providers, job.channel, status, &body),
                Err(why) => Answer::Retry(why),
            },
        };
        match &answer {
            Answer::Accepted { .. } => pass.sent += 1,
            Answer::Retry(why) | Answer::Refused(why) => {
                spin_host::observe::log(
                    "warn",
                    COMPONENT,
                    &format!(
                        "message {} by {} attempt {}: {why}",
                        job.message_id,
                        job.channel.as_str(),
                        job.attempts
                    ),
                );
                if matches!(answer, Answer::Retry(_)) && job.attempts < schedule.attempts() {
                    pass.retrying += 1;
                } else {
                    pass.failed += 1;
                }
            }
        }
        let now = ctx.clock.now_ms();
        let events = transaction(db, || outbox::record(db, &job, &answer, &schedule, now))
            .map_err(ApiError::internal)?;
        event::announce_each(&ctx, &events);
    }
    let media_jobs =
        transaction(db, || media::claim(db, ctx.clock.now_ms())).map_err(ApiError::internal)?;
    for job in media_jobs {
        let fetched = fetch(&providers, &job).await;
        match &fetched {
            Fetched::File { .. } => pass.media_fetched += 1,
            Fetched::Retry(why) | Fetched::Failed(why) => spin_host::observe::log(
                "warn",
                COMPONENT,
                &format!(
                    "media of message {} attempt {}: {why}",
                    job.message_id, job.attempts
                ),
            ),
        }
        let now = ctx.clock.now_ms();
        let events = transaction(db, || media::record(db, &job, fetched, &schedule, now))
            .map_err(ApiError::internal)?;
        event::announce_each(&ctx, &events);
    }
    Ok(spin_host::json(200, &pass))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Command::route(&Method::Post, &["send"]), Command::Send);
        assert_eq!(
            Command::route(&Method::Get, &["send"]),
            Command::WrongMethod("POST")
        );
        assert_eq!(Command::route(&Method::Post, &["x"]), Command::Unknown);
    }

    spin_host::route_table_property!(Command::route);
}
