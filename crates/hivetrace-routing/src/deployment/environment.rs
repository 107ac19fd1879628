//! One deployment environment's tracer settings.

use opentelemetry::KeyValue;

use crate::error::{Error, Result};

/// A named deployment environment (`blue`, `green`, `staging`, or yours) and the tracer
/// settings its spans carry: project, source and resource attributes.
///
/// The source defaults to the environment's name.
///
/// ```
/// use hivetrace_routing::Environment;
/// use opentelemetry::KeyValue;
///
/// let green = Environment::new("green")?
///     .project("support-bot")
///     .source("prod")
///     .resource_attribute(KeyValue::new("deployment.color", "green"));
/// assert_eq!((green.name(), green.source_name()), ("green", "prod"));
/// assert!(Environment::new("blue green").is_err());
/// # Ok::<(), hivetrace_routing::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Environment {
    name: String,
    project: Option<String>,
    source: Option<String>,
    resource_attributes: Vec<KeyValue>,
}

impl Environment {
    /// An environment named `name`: ASCII letters, digits, `-`, `_` or `.`, lowercased.
    pub fn new(name: &str) -> Result<Environment> {
        let trimmed = name.trim();
        if trimmed.is_empty()
            || !trimmed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(Error::invalid(
                "environment name",
                name,
                "expected ASCII letters, digits, '-', '_' or '.'",
            ));
        }
        Ok(Environment {
            name: trimmed.to_ascii_lowercase(),
            project: None,
            source: None,
            resource_attributes: Vec::new(),
        })
    }

    /// The HoneyHive project of this environment's spans.
    #[must_use]
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// The source written on this environment's spans; default the environment's name.
    #[must_use]
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// A resource attribute of this environment's tracer.
    #[must_use]
    pub fn resource_attribute(mut self, attribute: KeyValue) -> Self {
        self.resource_attributes.push(attribute);
        self
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The project, if set.
    pub fn project_name(&self) -> Option<&str> {
        self.project.as_deref()
    }

    /// The source: the one set, else the name.
    pub fn source_name(&self) -> &str {
        self.source.as_deref().unwrap_or(&self.name)
    }

    /// The resource attributes.
    pub fn resource_attributes(&self) -> &[KeyValue] {
        &self.resource_attributes
    }

    /// `builder` with this environment's settings applied over it.
    pub fn apply(
        &self,
        mut builder: hivetrace_core::TracerBuilder,
    ) -> hivetrace_core::TracerBuilder {
        if let Some(project) = &self.project {
            builder = builder.project(project.clone());
        }
        builder = builder.source(self.source_name().to_owned());
        for kv in &self.resource_attributes {
            builder = builder.resource_attribute(kv.clone());
        }
        builder
    }
}
