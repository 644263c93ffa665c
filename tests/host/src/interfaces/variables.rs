//! `fermyon:spin/variables@2.0.0`: a component reads the variables in its
//! `[component.<id>.variables]`, each a template over application variables.

use super::fermyon::spin::variables::{self, Error};
use crate::instance::InstanceState;
use crate::variables::VariableError;

impl variables::Host for InstanceState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, Error>> {
        let component = &self.component.config;
        Ok(self
            .app
            .variables
            .get(&component.id, &component.variables, &name)
            .map_err(|e| match e {
                VariableError::InvalidName(message) => Error::InvalidName(message),
                VariableError::Undefined(message) => Error::Undefined(message),
            }))
    }
}
