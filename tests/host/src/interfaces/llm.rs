//! `fermyon:spin/llm@2.0.0` with no model behind it.
//!
//! A model the component may not use (not in its `ai_models`) gets Spin's `invalid-input`
//! message; any other model is `model-not-supported`, which is what a Spin host without a
//! local or remote LLM engine configured would answer for an unknown model.

use super::fermyon::spin::llm::{
    self, EmbeddingsResult, Error, InferencingParams, InferencingResult,
};
use crate::instance::InstanceState;

impl InstanceState {
    fn model_error(&self, model: &str) -> Error {
        if self.component.config.ai_models.iter().any(|m| m == model) {
            Error::ModelNotSupported
        } else {
            Error::InvalidInput(format!(
                "The component does not have access to use '{model}'. To give the component access, add '{model}' to the 'ai_models' key for the component in your spin.toml manifest"
            ))
        }
    }
}

impl llm::Host for InstanceState {
    async fn infer(
        &mut self,
        model: String,
        _prompt: String,
        _params: Option<InferencingParams>,
    ) -> wasmtime::Result<Result<InferencingResult, Error>> {
        Ok(Err(self.model_error(&model)))
    }

    async fn generate_embeddings(
        &mut self,
        model: String,
        _text: Vec<String>,
    ) -> wasmtime::Result<Result<EmbeddingsResult, Error>> {
        Ok(Err(self.model_error(&model)))
    }
}
