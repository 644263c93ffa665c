//! The optional language model: prompts, the OpenAI-compatible wire format, and the guard that
//! keeps a model's words grounded in the knowledge base.
//!
//! The assistant works without a model (see [`crate::assistant`]); with one configured, it
//! phrases answers from the retrieved article passages, briefs operators on handoffs
//! ([`summary_prompt`]) and drafts replies for them ([`draft_prompt`]). Two providers: Spin's own `llm`
//! interface (`fermyon:spin/llm`, inference run by the Spin host) and any OpenAI-compatible
//! chat-completions endpoint (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp's server...).
//! Every failure, timeout, refusal or ungrounded answer falls back to the deterministic text,
//! so a model can only make an answer read better, never make it wrong: [`grounded`] refuses
//! any answer that carries a number, amount, e-mail address or link that the passages do not
//! contain, and any answer that is empty or far longer than its sources.

use serde_json::{Value, json};

use crate::channel::send::HttpRequest;

/// Which model, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Provider {
    #[default]
    None,
    /// Spin's `llm` interface with this model name (listed in the component's `ai_models`).
    Spin { model: String },
    /// `POST {url}` (a chat-completions endpoint) with a bearer key.
    OpenAi {
        url: String,
        api_key: String,
        model: String,
    },
}

impl Provider {
    /// From the Spin variables `llm_provider` (`spin`, `openai` or empty), `llm_model`,
    /// `openai_api_origin` (`https://api.openai.com`, also the allowed outbound host),
    /// `openai_api_path` and `openai_api_key`; incomplete settings mean no model.
    pub fn from_settings(
        provider: &str,
        model: &str,
        origin: &str,
        path: &str,
        api_key: &str,
    ) -> Provider {
        match provider.trim() {
            "spin" if !model.trim().is_empty() => Provider::Spin {
                model: model.trim().to_owned(),
            },
            "openai" if !model.trim().is_empty() && !origin.trim().is_empty() => Provider::OpenAi {
                url: format!(
                    "{}/{}",
                    origin.trim().trim_end_matches('/'),
                    path.trim().trim_start_matches('/')
                ),
                api_key: api_key.trim().to_owned(),
                model: model.trim().to_owned(),
            },
            _ => Provider::None,
        }
    }
}

/// A system instruction and a user message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub system: String,
    pub user: String,
}

impl Prompt {
    /// One string for models without chat roles (Spin's `llm` interface).
    pub fn flattened(&self) -> String {
        format!("{}\n\n{}\n\nAnswer:", self.system, self.user)
    }
}

/// The model's reply when the sources do not answer the question.
pub const NO_ANSWER: &str = "NO_ANSWER";

fn language_name(language: Option<&str>) -> &'static str {
    match language {
        Some("es") => "Spanish",
        Some("fr") => "French",
        Some("de") => "German",
        _ => "English",
    }
}

/// Asks for a short answer to `question` using only `passages` (title, text).
pub fn answer_prompt(question: &str, passages: &[(&str, &str)], language: Option<&str>) -> Prompt {
    let sources: String = passages
        .iter()
        .map(|(title, text)| format!("### {title}\n{text}\n"))
        .collect();
    Prompt {
        system: format!(
            "You are a customer support assistant. Answer the customer's question in {} in at most \
             three short sentences, using ONLY facts stated in the help articles below. Do not add \
             numbers, prices, dates, links or promises that the articles do not state. If the \
             articles do not answer the question, reply exactly {NO_ANSWER}.",
            language_name(language)
        ),
        user: format!("Help articles:\n{sources}\nCustomer's question:\n{question}"),
    }
}

/// Asks for a draft reply an operator will edit, grounded the same way.
pub fn draft_prompt(question: &str, passages: &[(&str, &str)], language: Option<&str>) -> Prompt {
    let mut prompt = answer_prompt(question, passages, language);
    prompt.system = prompt.system.replace(
        "You are a customer support assistant.",
        "You draft a reply for a human support agent, who will edit it before sending.",
    );
    prompt
}

/// Asks for the operator's summary of a handoff: `transcript` is (who, text) in order,
/// `reasons` why the assistant handed over. Operators read English, whatever the customer's
/// language.
pub fn summary_prompt(
    transcript: &[(&str, &str)],
    reasons: &str,
    topic: Option<&str>,
    language: Option<&str>,
) -> Prompt {
    let lines: String = transcript
        .iter()
        .map(|(who, text)| format!("{who}: {text}\n"))
        .collect();
    let mut facts = format!("Why the assistant handed over: {reasons}\n");
    if let Some(topic) = topic {
        facts.push_str(&format!("Topic: {topic}\n"));
    }
    facts.push_str(&format!(
        "The customer writes in {}.\n",
        language_name(language)
    ));
    Prompt {
        system: "You brief a human support agent who is taking over a chat from an automated \
                 assistant. In English, in at most three short sentences: what the customer \
                 wants, what they were already told, and what is still open. Use only what the \
                 conversation says; do not add numbers, dates, links or promises."
            .to_owned(),
        user: format!("Conversation:\n{lines}\n{facts}"),
    }
}

/// The longest handoff summary shown (a briefing, not a transcript).
pub const MAX_SUMMARY_CHARS: usize = 700;

/// The model's handoff summary when it may be shown: [`grounded`] in the conversation itself,
/// and at most [`MAX_SUMMARY_CHARS`].
pub fn grounded_summary(summary: &str, transcript: &[(&str, &str)]) -> Option<String> {
    grounded(summary, transcript).filter(|s| s.chars().count() <= MAX_SUMMARY_CHARS)
}

/// The OpenAI-compatible chat-completions request for `prompt`.
pub fn openai_request(url: &str, api_key: &str, model: &str, prompt: &Prompt) -> HttpRequest {
    let body = json!({
        "model": model,
        "temperature": 0.2,
        "max_tokens": 300,
        "messages": [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user},
        ],
    });
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    if !api_key.is_empty() {
        headers.push(("authorization".to_owned(), format!("Bearer {api_key}")));
    }
    HttpRequest {
        url: url.to_owned(),
        headers,
        body: body.to_string().into_bytes(),
    }
}

/// The text of an OpenAI-compatible answer (`choices[0].message.content`).
pub fn openai_text(status: u16, body: &[u8]) -> Option<String> {
    if !(200..300).contains(&status) {
        return None;
    }
    let json: Value = serde_json::from_slice(body).ok()?;
    json.pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .map(|s| s.trim().to_owned())
}

/// Tokens that state checkable facts: anything with a digit, an e-mail address, a link.
fn factual_tokens(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '"' | '“' | '”'))
        .map(|t| t.trim_end_matches(['.', '!', '?', ':']).to_lowercase())
        .filter(|t| {
            t.chars().any(|c| c.is_ascii_digit())
                || t.contains('@')
                || t.contains("://")
                || t.starts_with("www.")
        })
        .collect()
}

/// The model's answer when it may be shown: not a refusal, not empty, not much longer than
/// its sources, and stating no number, address or link the sources do not contain.
pub fn grounded(answer: &str, passages: &[(&str, &str)]) -> Option<String> {
    let answer = answer.trim();
    if answer.is_empty() || answer.contains(NO_ANSWER) {
        return None;
    }
    let sources: String = passages
        .iter()
        .map(|(title, text)| format!("{title}\n{text}\n"))
        .collect::<String>()
        .to_lowercase();
    if answer.chars().count() > 2 * sources.chars().count().max(200) {
        return None;
    }
    let known = factual_tokens(&sources);
    if factual_tokens(answer).iter().any(|t| !known.contains(t)) {
        return None;
    }
    Some(answer.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PASSAGES: &[(&str, &str)] = &[(
        "Shipping times",
        "Delivery to Canada takes 5 to 8 business days. Questions: help@shop.example.",
    )];

    #[test]
    fn settings_choose_a_provider_only_when_complete() {
        assert_eq!(
            Provider::from_settings("", "m", "u", "/p", "k"),
            Provider::None
        );
        assert_eq!(
            Provider::from_settings("openai", "", "u", "/p", "k"),
            Provider::None
        );
        assert_eq!(
            Provider::from_settings("spin", "llama2-chat", "", "", ""),
            Provider::Spin {
                model: "llama2-chat".into()
            }
        );
        assert!(matches!(
            Provider::from_settings("openai", "gpt-4o-mini", "https://api.openai.com/", "/v1/chat/completions", "sk"),
            Provider::OpenAi { url, .. } if url == "https://api.openai.com/v1/chat/completions"
        ));
    }

    #[test]
    fn the_request_is_openai_shaped_and_the_prompt_grounds_the_model() {
        let prompt = answer_prompt("how long to Canada?", PASSAGES, Some("fr"));
        assert!(prompt.system.contains("French") && prompt.system.contains(NO_ANSWER));
        assert!(prompt.user.contains("### Shipping times"));
        let request = openai_request("http://x/v1/chat/completions", "sk-1", "m", &prompt);
        assert_eq!(request.url, "http://x/v1/chat/completions");
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["messages"][0]["role"], "system");
        assert_eq!(body["messages"][1]["content"], prompt.user);
        assert!(
            request
                .headers
                .contains(&("authorization".into(), "Bearer sk-1".into()))
        );
        assert_eq!(
            openai_text(
                200,
                br#"{"choices":[{"message":{"role":"assistant","content":" Hi "}}]}"#
            ),
            Some("Hi".into())
        );
        assert_eq!(openai_text(500, b"{}"), None);
        assert_eq!(openai_text(200, b"not json"), None);
    }

    #[test]
    fn summaries_stay_within_what_the_conversation_said() {
        let transcript = [
            ("Customer", "My order 4411 never arrived"),
            ("Assistant", "Orders ship within 2 business days."),
            ("Customer", "I want a person"),
        ];
        let prompt = summary_prompt(
            &transcript,
            "asked for a person",
            Some("Shipping"),
            Some("es"),
        );
        assert!(
            prompt
                .user
                .contains("Customer: My order 4411 never arrived\n")
        );
        assert!(prompt.user.contains("Topic: Shipping") && prompt.user.contains("Spanish"));
        assert!(prompt.system.contains("English"));
        assert!(
            grounded_summary(
                "The customer's order 4411 has not arrived; they asked for a person.",
                &transcript
            )
            .is_some()
        );
        assert!(
            grounded_summary("Order 4412 is late; offer a 10% refund.", &transcript).is_none(),
            "invented facts"
        );
        assert!(grounded_summary(&"long ".repeat(200), &transcript).is_none());
    }

    #[test]
    fn answers_with_facts_the_articles_do_not_state_are_refused() {
        assert!(grounded("It takes 5 to 8 business days to reach Canada.", PASSAGES).is_some());
        assert!(grounded("Write to help@shop.example.", PASSAGES).is_some());
        assert!(
            grounded("It takes 3 days.", PASSAGES).is_none(),
            "invented number"
        );
        assert!(
            grounded("Shipping costs $5.", PASSAGES).is_none(),
            "invented price"
        );
        assert!(
            grounded("See https://evil.example", PASSAGES).is_none(),
            "invented link"
        );
        assert!(grounded("NO_ANSWER", PASSAGES).is_none());
        assert!(grounded("  ", PASSAGES).is_none());
        assert!(
            grounded(&"words ".repeat(500), PASSAGES).is_none(),
            "far longer than its sources"
        );
    }

    proptest! {
        #[test]
        fn the_guard_and_parser_never_panic(answer in "\\PC{0,300}", body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = grounded(&answer, PASSAGES);
            let _ = openai_text(200, &body);
        }
    }
}
