//! Application variables and the `{{ name }}` templates that refer to them.
//!
//! Follows Spin's `spin-expressions` crate: a template is literal text with `{{ expr }}` parts
//! (the expression is trimmed and must name an application variable); variable names are
//! lower-case letters, digits and single underscores, starting with a letter. Application
//! variable values come, in order of precedence, from the overrides a test passes in
//! [`HostOptions::variables`](crate::HostOptions), from `SPIN_VARIABLE_<NAME>` environment
//! variables (Spin's environment provider), and from the manifest `default`.
//!
//! Not modelled: Spin's environment provider also reads a `.env` file, and runtime-config
//! providers (Vault, Azure Key Vault) can supply values; neither exists here.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use anyhow::bail;

use crate::manifest::VariableDecl;

/// The prefix of environment variables that supply application variable values.
pub const ENV_PREFIX: &str = "SPIN_VARIABLE_";

/// A string with `{{ variable }}` parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable(String),
}

impl Template {
    /// Parses `text`; fails only on an unmatched `{{`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after_open) = rest.strip_prefix("{{") {
                let Some((expr, after_close)) = after_open.split_once("}}") else {
                    return Err("unmatched '{{' in template".to_owned());
                };
                parts.push(Part::Variable(expr.trim().to_owned()));
                rest = after_close;
            } else {
                let end = rest.find("{{").unwrap_or(rest.len());
                let (literal, tail) = rest.split_at(end);
                parts.push(Part::Literal(literal.to_owned()));
                rest = tail;
            }
        }
        Ok(Self { parts })
    }

    /// True when the template has no `{{ }}` parts.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    /// The variable names the template refers to.
    pub fn referenced_variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Variable(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Substitutes each variable with `lookup(name)`.
    pub fn render<E>(
        &self,
        mut lookup: impl FnMut(&str) -> Result<String, E>,
    ) -> Result<String, E> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Variable(name) => out.push_str(&lookup(name)?),
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Literal(text) => f.write_str(text)?,
                Part::Variable(name) => write!(f, "{{{{ {name} }}}}")?,
            }
        }
        Ok(())
    }
}

/// Checks a variable name the way Spin does; the error says why it is invalid.
pub fn validate_name(name: &str) -> Result<(), String> {
    let (Some(first), Some(last)) = (name.bytes().next(), name.bytes().last()) else {
        return Err("must not be empty".to_owned());
    };
    if let Some(invalid) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(format!(
            "invalid character {invalid:?}. Variable names may contain only lower-case letters, numbers, and underscores."
        ));
    }
    if !first.is_ascii_lowercase() {
        return Err("must start with a lowercase ASCII letter".to_owned());
    }
    if !last.is_ascii_alphanumeric() {
        return Err("must end with a lowercase ASCII letter or digit".to_owned());
    }
    if name.contains("__") {
        return Err("must not contain multiple consecutive underscores".to_owned());
    }
    Ok(())
}

/// Why a component's variable could not be resolved; mirrors the WIT `variables.error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableError {
    /// The requested name is not a valid variable name.
    InvalidName(String),
    /// The component does not define the variable.
    Undefined(String),
}

/// Resolved application variable values.
#[derive(Debug, Clone, Default)]
pub struct AppVariables {
    values: HashMap<String, String>,
}

impl AppVariables {
    /// Resolves every declared variable from `overrides`, then `env`, then its default.
    ///
    /// A variable with no value from any source is an error, naming all such variables (Spin
    /// refuses to start in that case too).
    pub fn resolve(
        declared: &BTreeMap<String, VariableDecl>,
        overrides: &HashMap<String, String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let mut values = HashMap::new();
        let mut missing = Vec::new();
        for (name, decl) in declared {
            let value = overrides
                .get(name)
                .cloned()
                .or_else(|| env(&format!("{ENV_PREFIX}{}", name.to_ascii_uppercase())))
                .or_else(|| decl.default.clone());
            match value {
                Some(value) => {
                    values.insert(name.clone(), value);
                }
                None => missing.push(name.as_str()),
            }
        }
        if !missing.is_empty() {
            bail!(
                "no value for required variable(s) {missing:?}: set {} or pass them to the host",
                missing
                    .iter()
                    .map(|n| format!("{ENV_PREFIX}{}", n.to_ascii_uppercase()))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        for name in overrides.keys() {
            if !declared.contains_key(name) {
                // Spin ignores `SPIN_VARIABLE_*` values nobody declared; so does this host, but
                // a test passing one has probably misspelt it.
                eprintln!(
                    "spin-test-host: ignoring variable {name:?}: it is not declared in the manifest's [variables]"
                );
            }
        }
        Ok(Self { values })
    }

    /// Renders `template` with these values.
    ///
    /// Templates are checked against the declared variables at load time, so an unknown name
    /// here means the template came from somewhere unchecked.
    pub fn render(&self, template: &Template) -> anyhow::Result<String> {
        template.render(|name| match self.values.get(name) {
            Some(value) => Ok(value.clone()),
            None => Err(anyhow::anyhow!("unknown variable {name:?}")),
        })
    }

    /// Resolves a component variable as `fermyon:spin/variables.get` does.
    pub fn get(
        &self,
        component_id: &str,
        component_variables: &BTreeMap<String, Template>,
        name: &str,
    ) -> Result<String, VariableError> {
        validate_name(name)
            .map_err(|reason| VariableError::InvalidName(format!("{name:?}: {reason}")))?;
        let template = component_variables.get(name).ok_or_else(|| {
            VariableError::Undefined(format!("no variable for {component_id:?}.{name:?}"))
        })?;
        self.render(template)
            .map_err(|err| VariableError::Undefined(format!("{component_id:?}.{name:?}: {err}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(default: Option<&str>) -> VariableDecl {
        VariableDecl {
            default: default.map(str::to_owned),
            required: default.is_none(),
            secret: false,
        }
    }

    #[test]
    fn templates_split_into_literals_and_trimmed_variables() -> Result<(), String> {
        let t = Template::parse("a-{{ host }}-b{{port}}")?;
        assert_eq!(
            t.referenced_variables().collect::<Vec<_>>(),
            ["host", "port"]
        );
        assert!(!t.is_literal());
        assert!(Template::parse("plain")?.is_literal());
        assert!(Template::parse("")?.is_literal());
        assert!(Template::parse("{{ matched }} {{ unmatched").is_err());
        assert_eq!(t.to_string(), "a-{{ host }}-b{{ port }}");
        Ok(())
    }

    #[test]
    fn names_follow_spins_rules() {
        for good in ["a", "admin_email", "x1", "a_b_c"] {
            assert_eq!(validate_name(good), Ok(()), "{good}");
        }
        for bad in ["", "A", "1a", "_a", "a_", "a__b", "a-b", "aé"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn overrides_beat_env_which_beats_defaults() -> anyhow::Result<()> {
        let declared = BTreeMap::from([
            ("a".to_owned(), decl(Some("default-a"))),
            ("b".to_owned(), decl(Some("default-b"))),
            ("c".to_owned(), decl(Some("default-c"))),
        ]);
        let overrides = HashMap::from([("a".to_owned(), "override-a".to_owned())]);
        let env = |key: &str| match key {
            "SPIN_VARIABLE_A" => Some("env-a".to_owned()),
            "SPIN_VARIABLE_B" => Some("env-b".to_owned()),
            _ => None,
        };
        let vars = AppVariables::resolve(&declared, &overrides, env)?;
        let render = |s: &str| -> anyhow::Result<String> {
            vars.render(&Template::parse(s).map_err(anyhow::Error::msg)?)
        };
        assert_eq!(
            render("{{ a }}/{{ b }}/{{ c }}")?,
            "override-a/env-b/default-c"
        );
        Ok(())
    }

    #[test]
    fn a_required_variable_without_a_value_fails_to_load() {
        let declared = BTreeMap::from([("token".to_owned(), decl(None))]);
        let err = AppVariables::resolve(&declared, &HashMap::new(), |_| None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("SPIN_VARIABLE_TOKEN"), "{err}");
        let ok = AppVariables::resolve(&declared, &HashMap::new(), |_| Some("t".into()));
        assert!(ok.is_ok());
    }

    #[test]
    fn undeclared_overrides_are_ignored_as_spin_ignores_undeclared_env_values() {
        let result = AppVariables::resolve(
            &BTreeMap::new(),
            &HashMap::from([("typo".to_owned(), "x".to_owned())]),
            |_| None,
        );
        assert!(result.is_ok_and(|vars| vars.values.is_empty()));
    }

    #[test]
    fn component_get_resolves_templates_and_reports_errors() -> anyhow::Result<()> {
        let declared = BTreeMap::from([("admin_email".to_owned(), decl(Some("a@example.com")))]);
        let vars = AppVariables::resolve(&declared, &HashMap::new(), |_| None)?;
        let component_vars = BTreeMap::from([
            (
                "email".to_owned(),
                Template::parse("<{{ admin_email }}>").map_err(anyhow::Error::msg)?,
            ),
            (
                "plain".to_owned(),
                Template::parse("literal").map_err(anyhow::Error::msg)?,
            ),
        ]);
        assert_eq!(
            vars.get("c", &component_vars, "email"),
            Ok("<a@example.com>".into())
        );
        assert_eq!(
            vars.get("c", &component_vars, "plain"),
            Ok("literal".into())
        );
        assert!(matches!(
            vars.get("c", &component_vars, "missing"),
            Err(VariableError::Undefined(_))
        ));
        assert!(matches!(
            vars.get("c", &component_vars, "Bad-Name"),
            Err(VariableError::InvalidName(_))
        ));
        Ok(())
    }
}
