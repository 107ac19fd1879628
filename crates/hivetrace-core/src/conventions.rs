//! Every attribute key hivetrace writes, in the three vocabularies it speaks.
//!
//! Spans are written in HoneyHive's vocabulary while they run (so enrichment costs one key per
//! value); when a span ends, the tracer's processor adds the OpenInference and OpenTelemetry
//! GenAI forms that [`Conventions`] switches on, and removes the HoneyHive keys if that
//! vocabulary is switched off. The keys are defined here rather than taken from the semantic
//! conventions crate, which marks the `gen_ai.*` keys deprecated or experimental.

/// HoneyHive's keys (`notes/honeyhive-python.md`): underscored payload keys, dotted identity keys.
pub mod honeyhive {
    /// The event type: `model`, `tool`, `chain` or `session`.
    pub const EVENT_TYPE: &str = "honeyhive_event_type";
    /// The event's name (the span name).
    pub const EVENT_NAME: &str = "honeyhive_event_name";
    /// The span's duration in milliseconds.
    pub const DURATION_MS: &str = "honeyhive_duration_ms";
    /// The error message of a failed event.
    pub const ERROR: &str = "honeyhive_error";
    /// The error's type name.
    pub const ERROR_TYPE: &str = "honeyhive_error_type";
    /// Prefix of captured inputs: `honeyhive_inputs.<name>`.
    pub const INPUTS: &str = "honeyhive_inputs";
    /// Prefix of captured outputs: `honeyhive_outputs.<name>`.
    pub const OUTPUTS: &str = "honeyhive_outputs";
    /// Prefix of metadata: `honeyhive_metadata.<name>`.
    pub const METADATA: &str = "honeyhive_metadata";
    /// Prefix of metrics: `honeyhive_metrics.<name>`.
    pub const METRICS: &str = "honeyhive_metrics";
    /// Prefix of configuration (model, temperature, ...): `honeyhive_config.<name>`.
    pub const CONFIG: &str = "honeyhive_config";
    /// Prefix of feedback: `honeyhive_feedback.<name>`.
    pub const FEEDBACK: &str = "honeyhive_feedback";
    /// Prefix of user properties: `honeyhive_user_properties.<name>`.
    pub const USER_PROPERTIES: &str = "honeyhive_user_properties";
    /// The key of a captured return value under [`OUTPUTS`].
    pub const OUTPUT_RESULT: &str = "honeyhive_outputs.result";
    /// The session the span belongs to.
    pub const SESSION_ID: &str = "honeyhive.session_id";
    /// The session's name.
    pub const SESSION_NAME: &str = "honeyhive.session_name";
    /// The HoneyHive project.
    pub const PROJECT: &str = "honeyhive.project";
    /// The source (environment name: `dev`, `prod`, ...).
    pub const SOURCE: &str = "honeyhive.source";
    /// The parent event's id.
    pub const PARENT_ID: &str = "honeyhive.parent_id";
}

/// OpenInference's keys (Arize Phoenix and compatible backends).
pub mod openinference {
    /// `LLM`, `CHAIN`, `TOOL`, `AGENT`, ...
    pub const SPAN_KIND: &str = "openinference.span.kind";
    /// The inputs, as one value (JSON when structured).
    pub const INPUT_VALUE: &str = "input.value";
    /// The MIME type of [`INPUT_VALUE`].
    pub const INPUT_MIME_TYPE: &str = "input.mime_type";
    /// The output, as one value (JSON when structured).
    pub const OUTPUT_VALUE: &str = "output.value";
    /// The MIME type of [`OUTPUT_VALUE`].
    pub const OUTPUT_MIME_TYPE: &str = "output.mime_type";
    /// The session id.
    pub const SESSION_ID: &str = "session.id";
    /// The user id.
    pub const USER_ID: &str = "user.id";
    /// Metadata, as one JSON object.
    pub const METADATA: &str = "metadata";
    /// The model's name.
    pub const LLM_MODEL_NAME: &str = "llm.model_name";
    /// The model provider.
    pub const LLM_PROVIDER: &str = "llm.provider";
    /// Prompt tokens.
    pub const LLM_TOKEN_COUNT_PROMPT: &str = "llm.token_count.prompt";
    /// Completion tokens.
    pub const LLM_TOKEN_COUNT_COMPLETION: &str = "llm.token_count.completion";
    /// Total tokens.
    pub const LLM_TOKEN_COUNT_TOTAL: &str = "llm.token_count.total";
    /// The MIME type written for JSON values.
    pub const MIME_JSON: &str = "application/json";
    /// The MIME type written for text values.
    pub const MIME_TEXT: &str = "text/plain";
}

/// OpenTelemetry's GenAI keys.
pub mod genai {
    /// `chat`, `execute_tool`, `invoke_workflow`, ...
    pub const OPERATION_NAME: &str = "gen_ai.operation.name";
    /// The model provider (`openai`, `anthropic`, ...).
    pub const PROVIDER_NAME: &str = "gen_ai.provider.name";
    /// The model asked for.
    pub const REQUEST_MODEL: &str = "gen_ai.request.model";
    /// The model that answered.
    pub const RESPONSE_MODEL: &str = "gen_ai.response.model";
    /// Sampling temperature.
    pub const REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
    /// Maximum tokens asked for.
    pub const REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
    /// Input (prompt) tokens used.
    pub const USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
    /// Output (completion) tokens used.
    pub const USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
}

/// OpenTelemetry's general keys that hivetrace writes.
pub mod otel {
    /// The name of the event that records an error.
    pub const EXCEPTION_EVENT: &str = "exception";
    /// The error's type, on the `exception` event.
    pub const EXCEPTION_TYPE: &str = "exception.type";
    /// The error's message, on the `exception` event.
    pub const EXCEPTION_MESSAGE: &str = "exception.message";
    /// The error's type, on the span.
    pub const ERROR_TYPE: &str = "error.type";
    /// The service's name (a resource attribute).
    pub const SERVICE_NAME: &str = "service.name";
    /// The deployment environment (a resource attribute).
    pub const DEPLOYMENT_ENVIRONMENT: &str = "deployment.environment.name";
}

/// The names hivetrace looks for in `config` and `metrics` to fill the model keys of the
/// other vocabularies.
pub(crate) mod known {
    pub(crate) const CONFIG_MODEL: &str = "honeyhive_config.model";
    pub(crate) const CONFIG_PROVIDER: &str = "honeyhive_config.provider";
    pub(crate) const CONFIG_TEMPERATURE: &str = "honeyhive_config.temperature";
    pub(crate) const CONFIG_MAX_TOKENS: &str = "honeyhive_config.max_tokens";
    pub(crate) const METRICS_INPUT_TOKENS: [&str; 2] = [
        "honeyhive_metrics.prompt_tokens",
        "honeyhive_metrics.input_tokens",
    ];
    pub(crate) const METRICS_OUTPUT_TOKENS: [&str; 2] = [
        "honeyhive_metrics.completion_tokens",
        "honeyhive_metrics.output_tokens",
    ];
    pub(crate) const METRICS_TOTAL_TOKENS: &str = "honeyhive_metrics.total_tokens";
    pub(crate) const USER_ID: [&str; 2] = [
        "honeyhive_user_properties.user_id",
        "honeyhive_user_properties.id",
    ];
}

/// A section of enrichment data: each becomes a prefix of flattened keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Section {
    /// `honeyhive_inputs.*`
    Inputs,
    /// `honeyhive_outputs.*`
    Outputs,
    /// `honeyhive_metadata.*`
    Metadata,
    /// `honeyhive_metrics.*`
    Metrics,
    /// `honeyhive_config.*`
    Config,
    /// `honeyhive_feedback.*`
    Feedback,
    /// `honeyhive_user_properties.*`
    UserProperties,
}

impl Section {
    /// The key prefix of the section, without the trailing dot.
    pub const fn prefix(self) -> &'static str {
        match self {
            Section::Inputs => honeyhive::INPUTS,
            Section::Outputs => honeyhive::OUTPUTS,
            Section::Metadata => honeyhive::METADATA,
            Section::Metrics => honeyhive::METRICS,
            Section::Config => honeyhive::CONFIG,
            Section::Feedback => honeyhive::FEEDBACK,
            Section::UserProperties => honeyhive::USER_PROPERTIES,
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

/// Which vocabularies a tracer writes.
///
/// HoneyHive's is on by default; OpenInference and GenAI are derived from it when a span ends,
/// so switching them on costs nothing while the span runs.
///
/// ```
/// use hivetrace_core::Conventions;
/// let all = Conventions::default().with_openinference(true).with_genai(true);
/// assert!(all.honeyhive() && all.openinference() && all.genai());
/// assert_eq!(Conventions::all(), all);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conventions {
    honeyhive: bool,
    openinference: bool,
    genai: bool,
}

impl Default for Conventions {
    fn default() -> Self {
        Conventions {
            honeyhive: true,
            openinference: false,
            genai: false,
        }
    }
}

impl Conventions {
    /// All three vocabularies.
    pub const fn all() -> Self {
        Conventions {
            honeyhive: true,
            openinference: true,
            genai: true,
        }
    }

    /// Switches HoneyHive's vocabulary on or off.
    pub const fn with_honeyhive(mut self, on: bool) -> Self {
        self.honeyhive = on;
        self
    }

    /// Switches OpenInference's vocabulary on or off.
    pub const fn with_openinference(mut self, on: bool) -> Self {
        self.openinference = on;
        self
    }

    /// Switches OpenTelemetry GenAI's vocabulary on or off.
    pub const fn with_genai(mut self, on: bool) -> Self {
        self.genai = on;
        self
    }

    /// Whether HoneyHive's keys are written.
    pub const fn honeyhive(self) -> bool {
        self.honeyhive
    }

    /// Whether OpenInference's keys are written.
    pub const fn openinference(self) -> bool {
        self.openinference
    }

    /// Whether GenAI's keys are written.
    pub const fn genai(self) -> bool {
        self.genai
    }

    /// Parses a comma-separated list such as `honeyhive,openinference,genai`.
    pub(crate) fn parse(list: &str) -> Option<Self> {
        let mut c = Conventions {
            honeyhive: false,
            openinference: false,
            genai: false,
        };
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name.to_ascii_lowercase().as_str() {
                "honeyhive" => c.honeyhive = true,
                "openinference" => c.openinference = true,
                "genai" | "gen_ai" => c.genai = true,
                _ => return None,
            }
        }
        Some(c)
    }
}
