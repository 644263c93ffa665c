//! `assistant`: the AI first line. Private (`route = { private = true }`): only other
//! components reach it, by Spin service chaining at `http://assistant.spin.internal`.
//!
//! Thin by design: the decisions are `shared::assistant` (answer, clarify, hand off), the
//! knowledge base `shared::kb`, the triggers `shared::escalation`.
//!
//! - `POST /turn/:conversation_id`: one turn for a conversation the assistant owns (nothing
//!   when it does not, or when there is nothing new). After a handoff it asks the router for a
//!   pass and then tells the customer what happens next (who has it, or their place in line and
//!   the expected wait). Its messages go where the customer last wrote: the web chat, or the
//!   outbox for their provider channel, which it then asks `dispatch` to send. Callers:
//!   `widget-api` and the channel webhooks, after the customer's message has been answered.
//!
//! With a language model configured (`llm_provider` = `spin` or `openai`), a confident answer
//! is phrased by the model from the article's passage, within `llm_timeout_ms`; the phrasing
//! is shown only if `shared::llm::grounded` accepts it, else the passage itself is.

use shared::api::ApiError;
use shared::assistant::{self, Turned};
use shared::router::Sweep;
use std::time::Duration;

use shared::llm;
use spin_host::{Access, ApiRequest, SpinHost, id, variable};
use spin_sdk::http::{IncomingRequest, Method, Response};
use spin_sdk::http_component;

const COMPONENT: &str = "assistant";

#[derive(Debug, PartialEq)]
enum Command {
    Turn(i64),
    WrongMethod(&'static str),
    Unknown,
}

impl Command {
    fn route(method: &Method, segments: &[&str]) -> Command {
        match (segments, method) {
            (["turn", c], Method::Post) => id(c).map_or(Command::Unknown, Command::Turn),
            (["turn", _], _) => Command::WrongMethod("POST"),
            _ => Command::Unknown,
        }
    }
}

#[http_component]
async fn handle(request: IncomingRequest) -> Response {
    match serve(request).await {
        Ok(response) => response,
        Err(e) => spin_host::error(COMPONENT, e),
    }
}

async fn serve(request: IncomingRequest) -> Result<Response, ApiError> {
    let request = ApiRequest::read(request, 1024).await?;
    let conversation_id = match Command::route(&request.method, &request.segments()) {
        Command::Turn(id) => id,
        Command::WrongMethod(allowed) => return Err(ApiError::method_not_allowed(allowed)),
        Command::Unknown => return Err(ApiError::not_found_route()),
    };
    let host = SpinHost::open(Access::Write)?;
    let ctx = host.ctx();
    let provider = llm::Provider::from_settings(
        &variable("llm_provider", ""),
        &variable("llm_model", ""),
        &variable("openai_api_origin", ""),
        &variable("openai_api_path", "/v1/chat/completions"),
        &variable("openai_api_key", ""),
    );
    let defer = provider != llm::Provider::None;
    let (turned, pending) = assistant::plan(&ctx, conversation_id, defer)?;
    if let Some(pending) = pending {
        let phrased = phrase(&provider, &pending);
        assistant::post_answer(&ctx, &pending, phrased.as_deref())?;
    }
    if matches!(turned, Turned::HandedOff { .. }) {
        spin_host::route(COMPONENT, Sweep::Skip).await;
        assistant::tell_wait(&ctx, conversation_id)?;
    }
    // What it said to a customer on SMS, email, Messenger, Instagram or WhatsApp waits in the
    // outbox: send it now.
    if spin_host::dispatch_due(&ctx) {
        spin_host::dispatch(COMPONENT).await;
    }
    Ok(spin_host::json(200, &turned))
}

/// The model's phrasing of a pending answer, if it gives a grounded one in time.
fn phrase(provider: &llm::Provider, pending: &assistant::PendingAnswer) -> Option<String> {
    let passages = [(pending.title.as_str(), pending.passage.as_str())];
    let prompt = llm::answer_prompt(&pending.question, &passages, pending.language);
    let text = match provider {
        llm::Provider::None => return None,
        llm::Provider::OpenAi {
            url,
            api_key,
            model,
        } => {
            let request = llm::openai_request(url, api_key, model, &prompt);
            let timeout_ms = variable("llm_timeout_ms", "8000")
                .parse::<u64>()
                .unwrap_or(8000)
                .clamp(500, 25_000);
            match spin_host::post_with_timeout(
                &request.url,
                &request.headers,
                &request.body,
                Duration::from_millis(timeout_ms),
                MAX_MODEL_ANSWER_BYTES,
            ) {
                Ok((status, body)) => llm::openai_text(status, &body),
                Err(why) => {
                    eprintln!(
                        "{COMPONENT}: language model unavailable, answering without it: {why}"
                    );
                    None
                }
            }
        }
        llm::Provider::Spin { model } => {
            let params = spin_sdk::llm::InferencingParams {
                max_tokens: 300,
                temperature: 0.2,
                ..Default::default()
            };
            match spin_sdk::llm::infer_with_options(
                spin_sdk::llm::InferencingModel::Other(model),
                &prompt.flattened(),
                params,
            ) {
                Ok(result) => Some(result.text),
                Err(why) => {
                    eprintln!(
                        "{COMPONENT}: language model unavailable, answering without it: {why:?}"
                    );
                    None
                }
            }
        }
    }?;
    let grounded = llm::grounded(&text, &passages);
    if grounded.is_none() {
        eprintln!(
            "{COMPONENT}: the model's answer was not grounded in the article; using the passage"
        );
    }
    grounded
}

/// A model's answer larger than this is not read (a short answer is all that is asked for).
const MAX_MODEL_ANSWER_BYTES: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            Command::route(&Method::Post, &["turn", "4"]),
            Command::Turn(4)
        );
        assert_eq!(
            Command::route(&Method::Get, &["turn", "4"]),
            Command::WrongMethod("POST")
        );
        assert_eq!(
            Command::route(&Method::Post, &["turn", "x"]),
            Command::Unknown
        );
        assert_eq!(Command::route(&Method::Post, &["x"]), Command::Unknown);
    }
}
