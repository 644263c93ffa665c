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
//! - `POST /draft`: a language model's draft of an operator's reply, from the
//!   `shared::assist::DraftRequest` in the body (the best suggestions as its only sources);
//!   404 `no_model` without a model, 502 `no_draft` when the model fails or strays from its
//!   sources. Caller: `inbox-api`, which has checked the operator may see the conversation.
//!
//! With a language model configured (`llm_provider` = `spin` or `openai`), a confident answer
//! is phrased by the model from the article's passage, and a handoff gets the model's briefing
//! for the operator beside the assistant's own summary; each call is bounded by
//! `llm_timeout_ms`, and its text is used only if `shared::llm` finds it grounded, else the
//! deterministic text stands.

use shared::api::ApiError;
use shared::assist::DraftRequest;
use shared::assistant::{self, Turned};
use shared::llm::{self, Prompt, Provider};
use shared::router::Sweep;
use std::time::Duration;

use spin_host::{Access, ApiRequest, SpinHost, id, variable};
use spin_sdk::http::{IncomingRequest, Method, Response};
use spin_sdk::http_component;

const COMPONENT: &str = "assistant";
/// A draft request carries a few suggestions' texts.
const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, PartialEq)]
enum Command {
    Turn(i64),
    Draft,
    WrongMethod(&'static str),
    Unknown,
}

impl Command {
    fn route(method: &Method, segments: &[&str]) -> Command {
        match (segments, method) {
            (["turn", c], Method::Post) => id(c).map_or(Command::Unknown, Command::Turn),
            (["draft"], Method::Post) => Command::Draft,
            (["turn", _] | ["draft"], _) => Command::WrongMethod("POST"),
            _ => Command::Unknown,
        }
    }
}

#[http_component]
async fn handle(request: IncomingRequest) -> Response {
    spin_host::begin(COMPONENT, &request);
    spin_host::finish(match serve(request).await {
        Ok(response) => response,
        Err(e) => spin_host::error(COMPONENT, e),
    })
}

async fn serve(request: IncomingRequest) -> Result<Response, ApiError> {
    let request = ApiRequest::read(request, MAX_BODY_BYTES).await?;
    let provider = Provider::from_settings(
        &variable("llm_provider", ""),
        &variable("llm_model", ""),
        &variable("openai_api_origin", ""),
        &variable("openai_api_path", "/v1/chat/completions"),
        &variable("openai_api_key", ""),
    );
    match Command::route(&request.method, &request.segments()) {
        Command::Turn(conversation_id) => turn(&provider, conversation_id).await,
        Command::Draft => draft(&provider, &request.json()?),
        Command::WrongMethod(allowed) => Err(ApiError::method_not_allowed(allowed)),
        Command::Unknown => Err(ApiError::not_found_route()),
    }
}

async fn turn(provider: &Provider, conversation_id: i64) -> Result<Response, ApiError> {
    let host = SpinHost::open(Access::Write)?;
    let ctx = host.ctx();
    let defer = *provider != Provider::None;
    let (turned, pending) = assistant::plan(&ctx, conversation_id, defer)?;
    if let Some(pending) = pending {
        let passages = [(pending.title.as_str(), pending.passage.as_str())];
        let prompt = llm::answer_prompt(&pending.question, &passages, pending.language);
        let phrased = ask_model(provider, &prompt).and_then(|text| {
            let grounded = llm::grounded(&text, &passages);
            if grounded.is_none() {
                spin_host::observe::log(
                    "warn",
                    COMPONENT,
                    "the model's answer was not grounded in the article; using the passage",
                );
            }
            grounded
        });
        assistant::post_answer(&ctx, &pending, phrased.as_deref())?;
    }
    if matches!(turned, Turned::HandedOff { .. }) {
        spin_host::route(COMPONENT, Sweep::Skip).await;
        assistant::tell_wait(&ctx, conversation_id)?;
    }
    // What it said to a customer on SMS, email, Messenger, Instagram or WhatsApp waits in the
    // outbox: send it now, before the operator's briefing (which only operators wait for).
    if spin_host::dispatch_due(&ctx) {
        spin_host::dispatch(COMPONENT).await;
    }
    if matches!(turned, Turned::HandedOff { .. })
        && *provider != Provider::None
        && let Some(request) =
            assistant::summary_request(ctx.db, conversation_id).map_err(ApiError::internal)?
        && let Some(text) = ask_model(provider, &request.prompt)
        && !assistant::record_summary(&ctx, &request, &text, model_name(provider))?
    {
        spin_host::observe::log(
            "warn",
            COMPONENT,
            "the model's handoff summary was not grounded; keeping the assistant's",
        );
    }
    // The customer's message that asked for this turn, and what the turn wrote, may have
    // queued outgoing webhooks; the caller has already answered its client.
    spin_host::webhooks_if_due(COMPONENT, &ctx).await;
    Ok(spin_host::json(200, &turned))
}

fn draft(provider: &Provider, request: &DraftRequest) -> Result<Response, ApiError> {
    if *provider == Provider::None {
        return Err(ApiError::new(
            404,
            "no_model",
            "no language model is configured",
        ));
    }
    let draft = ask_model(provider, &request.prompt())
        .and_then(|text| request.draft(&text, model_name(provider)))
        .ok_or_else(|| {
            ApiError::new(
                502,
                "no_draft",
                "the language model gave no usable draft (unavailable, too slow, or not grounded in the suggestions)",
            )
        })?;
    Ok(spin_host::json_field(200, "draft", &draft))
}

fn model_name(provider: &Provider) -> &str {
    match provider {
        Provider::None => "",
        Provider::Spin { model } | Provider::OpenAi { model, .. } => model,
    }
}

/// The model's text for `prompt`, within `llm_timeout_ms`; `None` (logged) on any failure.
fn ask_model(provider: &Provider, prompt: &Prompt) -> Option<String> {
    match provider {
        Provider::None => None,
        Provider::OpenAi {
            url,
            api_key,
            model,
        } => {
            let request = llm::openai_request(url, api_key, model, prompt);
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
                    spin_host::observe::log(
                        "warn",
                        COMPONENT,
                        &format!("language model unavailable, going on without it: {why}"),
                    );
                    None
                }
            }
        }
        Provider::Spin { model } => {
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
                    spin_host::observe::log(
                        "warn",
                        COMPONENT,
                        &format!("language model unavailable, going on without it: {why:?}"),
                    );
                    None
                }
            }
        }
    }
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
        assert_eq!(Command::route(&Method::Post, &["draft"]), Command::Draft);
        assert_eq!(
            Command::route(&Method::Get, &["draft"]),
            Command::WrongMethod("POST")
        );
        assert_eq!(Command::route(&Method::Post, &["x"]), Command::Unknown);
    }

    spin_host::route_table_property!(Command::route);
}
