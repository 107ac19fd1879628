//! The kinds of event an LLM application's spans describe.

use std::fmt;
use std::str::FromStr;

/// What a span describes, in HoneyHive's event vocabulary.
///
/// The event type decides `honeyhive_event_type`, OpenInference's `openinference.span.kind`
/// and GenAI's `gen_ai.operation.name`.
///
/// ```
/// use hivetrace_core::EventType;
/// assert_eq!(EventType::Model.as_str(), "model");
/// assert_eq!("chain".parse::<EventType>().unwrap(), EventType::Chain);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventType {
    /// A call to a language or embedding model.
    Model,
    /// A tool call: retrieval, a function, an API. HoneyHive's default.
    #[default]
    Tool,
    /// A composition of steps: an agent, a workflow, a pipeline.
    Chain,
    /// The root of a user session.
    Session,
}

impl EventType {
    /// HoneyHive's name for the event type.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::Model => "model",
            EventType::Tool => "tool",
            EventType::Chain => "chain",
            EventType::Session => "session",
        }
    }

    /// OpenInference's `openinference.span.kind` for the event type.
    pub const fn openinference_kind(self) -> &'static str {
        match self {
            EventType::Model => "LLM",
            EventType::Tool => "TOOL",
            EventType::Chain | EventType::Session => "CHAIN",
        }
    }

    /// GenAI's `gen_ai.operation.name` for the event type.
    pub const fn genai_operation(self) -> &'static str {
        match self {
            EventType::Model => "chat",
            EventType::Tool => "execute_tool",
            EventType::Chain | EventType::Session => "invoke_workflow",
        }
    }

    /// Infers the event type the way HoneyHive's SDK does: from `gen_ai.operation.name`, then
    /// from `openinference.span.kind`; `None` when neither says.
    pub fn infer(genai_operation: Option<&str>, openinference_kind: Option<&str>) -> Option<Self> {
        if let Some(op) = genai_operation {
            match op {
                "chat" | "text_completion" | "generate_content" | "embeddings" => {
                    return Some(EventType::Model);
                }
                "invoke_agent" | "create_agent" | "invoke_workflow" => {
                    return Some(EventType::Chain);
                }
                "execute_tool" | "retrieval" => return Some(EventType::Tool),
                _ => {}
            }
        }
        openinference_kind.map(|kind| match kind {
            "LLM" | "EMBEDDING" => EventType::Model,
            "CHAIN" | "AGENT" => EventType::Chain,
            _ => EventType::Tool,
        })
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a string that names no [`EventType`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {0:?}: expected model, tool, chain or session")]
pub struct ParseEventTypeError(String);

impl FromStr for EventType {
    type Err = ParseEventTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "model" => Ok(EventType::Model),
            "tool" => Ok(EventType::Tool),
            "chain" => Ok(EventType::Chain),
            "session" => Ok(EventType::Session),
            other => Err(ParseEventTypeError(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_str() {
        for t in [
            EventType::Model,
            EventType::Tool,
            EventType::Chain,
            EventType::Session,
        ] {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
        }
        assert!("llm".parse::<EventType>().is_err());
    }

    #[test]
    fn infers_like_honeyhive() {
        assert_eq!(
            EventType::infer(Some("embeddings"), None),
            Some(EventType::Model)
        );
        assert_eq!(
            EventType::infer(Some("unknown"), Some("AGENT")),
            Some(EventType::Chain)
        );
        assert_eq!(
            EventType::infer(None, Some("RETRIEVER")),
            Some(EventType::Tool)
        );
        assert_eq!(EventType::infer(None, None), None);
    }
}
