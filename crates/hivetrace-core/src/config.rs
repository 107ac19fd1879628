//! Building a tracer: explicit settings, then environment variables, then defaults.

use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{Sampler, ShouldSample, SpanProcessor};

use crate::conventions::Conventions;
use crate::env::{self, Lookup};
use crate::error::{Error, Result};
use crate::exporter::{ConsoleExporter, DEFAULT_TRACE_FILE, Exporter, FileRotation, Protocol};
use crate::processor::BatchConfig;
use crate::secret::Secret;
use crate::truncate::DEFAULT_MAX_ATTRIBUTE_LEN;

/// OpenTelemetry's default attribute count limit per span.
const DEFAULT_MAX_ATTRIBUTES_PER_SPAN: u32 = 128;
/// OpenTelemetry's default limit of events, and of links, per span.
const DEFAULT_COUNT_LIMIT: u32 = 128;

/// HoneyHive's API when `HH_API_KEY` is set and no URL is given.
pub const DEFAULT_HONEYHIVE_URL: &str = "https://api.dp1.us.honeyhive.ai";
/// The path HoneyHive's OTLP receiver listens on, below the API URL.
pub const HONEYHIVE_TRACES_PATH: &str = "/opentelemetry/v1/traces";
/// The export timeout when none is configured: HoneyHive's per-request timeout.
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(30);
/// The source (environment name) when none is configured, as in HoneyHive's SDK.
pub const DEFAULT_SOURCE: &str = "dev";
/// The largest span queue: its slots are allocated up front (a few hundred bytes each).
pub const MAX_QUEUE_SIZE: usize = 1 << 20;
/// The longest export timeout, flush timeout or batch delay accepted.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// The shortest batch delay: a zero delay would make the export thread spin.
pub const MIN_SCHEDULED_DELAY: Duration = Duration::from_millis(1);

/// The environment variables a tracer from [`TracerBuilder::from_env`] reads. Where two name
/// one setting, the more specific one (`..._TRACES_...`, `OTEL_SPAN_...`,
/// `HH_INGESTION_API_KEY`) wins, as each says.
pub mod vars {
    /// `service.name`.
    pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
    /// `key=value,...` resource attributes.
    pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
    /// Base endpoint; `/v1/traces` is appended for HTTP.
    pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
    /// Traces endpoint, used verbatim.
    pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    /// `key=value,...` headers.
    pub const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
    /// `key=value,...` headers for traces; wins over the general ones.
    pub const OTEL_EXPORTER_OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
    /// Export timeout in milliseconds.
    pub const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
    /// Export timeout for traces in milliseconds.
    pub const OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
    /// `http/protobuf`, `http/json` or `grpc`.
    pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
    /// Protocol for traces.
    pub const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
    /// Batch queue size.
    pub const OTEL_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
    /// Batch size.
    pub const OTEL_BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
    /// Batch delay in milliseconds.
    pub const OTEL_BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
    /// Batch export timeout in milliseconds (used when no OTLP timeout is set).
    pub const OTEL_BSP_EXPORT_TIMEOUT: &str = "OTEL_BSP_EXPORT_TIMEOUT";
    /// Maximum attribute value length in bytes.
    pub const OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT";
    /// Maximum span attribute value length in bytes; wins over the general one.
    pub const OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str =
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT";
    /// Maximum number of attributes per span (and per event or link).
    pub const OTEL_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_ATTRIBUTE_COUNT_LIMIT";
    /// Maximum number of attributes per span; wins over the general one.
    pub const OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT";
    /// Maximum number of events per span.
    pub const OTEL_SPAN_EVENT_COUNT_LIMIT: &str = "OTEL_SPAN_EVENT_COUNT_LIMIT";
    /// Maximum number of links per span.
    pub const OTEL_SPAN_LINK_COUNT_LIMIT: &str = "OTEL_SPAN_LINK_COUNT_LIMIT";
    /// The sampler when none is set in code: `always_on`, `always_off`, `traceidratio`,
    /// `parentbased_always_on`, `parentbased_always_off` or `parentbased_traceidratio`.
    pub const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
    /// The ratio of the `traceidratio` samplers, from 0 to 1; default 1.
    pub const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
    /// HoneyHive API key.
    pub const HH_API_KEY: &str = "HH_API_KEY";
    /// HoneyHive's ingestion-only API key; wins over [`HH_API_KEY`], as in HoneyHive's SDK.
    pub const HH_INGESTION_API_KEY: &str = "HH_INGESTION_API_KEY";
    /// HoneyHive's name for the OTLP protocol; [`OTEL_EXPORTER_OTLP_PROTOCOL`] wins over it.
    pub const HH_OTLP_PROTOCOL: &str = "HH_OTLP_PROTOCOL";
    /// HoneyHive project.
    pub const HH_PROJECT: &str = "HH_PROJECT";
    /// Source (environment name).
    pub const HH_SOURCE: &str = "HH_SOURCE";
    /// Session name.
    pub const HH_SESSION_NAME: &str = "HH_SESSION_NAME";
    /// HoneyHive API URL; export goes to `{HH_API_URL}/opentelemetry/v1/traces`.
    /// `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT` wins over it; an API URL or endpoint set in code
    /// wins over every variable.
    pub const HH_API_URL: &str = "HH_API_URL";
    /// Alias of [`HH_API_URL`] used by HoneyHive's SDK.
    pub const HONEYHIVE_SERVER_URL: &str = "HONEYHIVE_SERVER_URL";
    /// Alias of [`HH_API_URL`] used by HoneyHive's SDK.
    pub const HH_SERVER_URL: &str = "HH_SERVER_URL";
    /// The local trace file when no endpoint is configured.
    pub const HH_TRACE_FILE: &str = "HH_TRACE_FILE";
    /// The size in bytes at which the trace file is rotated; `0` never rotates it.
    pub const HH_TRACE_FILE_MAX_BYTES: &str = "HH_TRACE_FILE_MAX_BYTES";
    /// How many rotated trace files are kept besides the one being written.
    pub const HH_TRACE_FILE_KEEP: &str = "HH_TRACE_FILE_KEEP";
    /// Vocabularies to write: a comma-separated list of `honeyhive`, `openinference`, `genai`.
    pub const HH_CONVENTIONS: &str = "HH_CONVENTIONS";
}

enum Destination {
    Endpoint(String),
    File(PathBuf),
    Exporter(Box<Exporter>),
}

/// Configures and builds a [`Tracer`](crate::Tracer).
///
/// Values set here win over the environment, which wins over defaults. Nothing is read from
/// the environment unless the builder came from [`TracerBuilder::from_env`].
///
/// ```
/// use std::time::Duration;
/// # fn main() -> Result<(), hivetrace_core::Error> {
/// let tracer = hivetrace_core::Tracer::builder()
///     .project("support-bot")
///     .source("staging")
///     .service_name("support-api")
///     .console_writer(std::io::sink())
///     .export_timeout(Duration::from_secs(5))
///     .build()?;
/// # tracer.shutdown()?;
/// # Ok(()) }
/// ```
pub struct TracerBuilder {
    pub(crate) env: Option<Lookup>,
    pub(crate) project: Option<String>,
    pub(crate) source: Option<String>,
    pub(crate) service_name: Option<String>,
    pub(crate) session_name: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) api_key: Option<Secret>,
    pub(crate) api_url: Option<String>,
    destination: Option<Destination>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) headers: Vec<(String, Secret)>,
    pub(crate) export_timeout: Option<Duration>,
    pub(crate) flush_timeout: Option<Duration>,
    pub(crate) queue_size: Option<usize>,
    pub(crate) batch_size: Option<usize>,
    pub(crate) scheduled_delay: Option<Duration>,
    pub(crate) sampler: Option<Box<dyn ShouldSample>>,
    pub(crate) resource_attributes: Vec<KeyValue>,
    pub(crate) max_attribute_len: Option<usize>,
    pub(crate) max_attributes_per_span: Option<u32>,
    pub(crate) conventions: Option<Conventions>,
    pub(crate) file_rotation: Option<FileRotation>,
    pub(crate) processors: Vec<Box<dyn SpanProcessor>>,
    pub(crate) observers: Vec<Box<dyn crate::SpanObserver>>,
    /// Set while resolving: the endpoint is HoneyHive's (from the API URL or key).
    honeyhive_destination: bool,
}

impl fmt::Debug for TracerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("TracerBuilder")
            .field("from_env", &self.env.is_some())
            .field("project", &self.project)
            .field("source", &self.source)
            .field("service_name", &self.service_name)
            .field("api_key", &self.api_key)
            .field(
                "api_url",
                &self.api_url.as_deref().map(crate::secret::redact_url),
            )
            .field("protocol", &self.protocol)
            .field("header_names", &header_names)
            .field("export_timeout", &self.export_timeout)
            .field("sampler", &self.sampler)
            .finish_non_exhaustive()
    }
}

impl Default for TracerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TracerBuilder {
    /// A builder that reads no environment variables.
    pub fn new() -> Self {
        TracerBuilder {
            env: None,
            project: None,
            source: None,
            service_name: None,
            session_name: None,
            session_id: None,
            api_key: None,
            api_url: None,
            destination: None,
            protocol: None,
            headers: Vec::new(),
            export_timeout: None,
            flush_timeout: None,
            queue_size: None,
            batch_size: None,
            scheduled_delay: None,
            sampler: None,
            resource_attributes: Vec::new(),
            max_attribute_len: None,
            max_attributes_per_span: None,
            conventions: None,
            file_rotation: None,
            processors: Vec::new(),
            observers: Vec::new(),
            honeyhive_destination: false,
        }
    }

    /// A builder that falls back to the process environment (`OTEL_*`, `HH_*`) for every
    /// setting not given explicitly. Variables are read when [`build`](Self::build) runs.
    pub fn from_env() -> Self {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup` instead of the
    /// process environment: for configuration maps, and for tests.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// # fn main() -> Result<(), hivetrace_core::Error> {
    /// let vars = HashMap::from([("HH_PROJECT", "demo"), ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")]);
    /// let err = hivetrace_core::TracerBuilder::from_env_with(move |k| vars.get(k).map(|v| v.to_string()))
    ///     .build()
    ///     .expect_err("an unparsable timeout is an error");
    /// assert!(err.to_string().contains("OTEL_EXPORTER_OTLP_TIMEOUT"));
    /// # Ok(()) }
    /// ```
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        TracerBuilder {
            env: Some(Box::new(lookup)),
            ..Self::new()
        }
    }

    /// The HoneyHive project (`honeyhive.project` on every span).
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// The source, i.e. the environment name (`dev`, `staging`, `prod`), also written as the
    /// `deployment.environment.name` resource attribute. Default `HH_SOURCE`, else that
    /// attribute in `OTEL_RESOURCE_ATTRIBUTES`, else `dev`. With an API key it is also sent as
    /// the `X-Source` header, so it must then be visible ASCII (else `build` fails, naming it).
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The service name (`service.name`); default `OTEL_SERVICE_NAME`, else `service.name` in
    /// `OTEL_RESOURCE_ATTRIBUTES`, else the project, else `unknown_service`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The session name (`honeyhive.session_name` on every span).
    pub fn session_name(mut self, name: impl Into<String>) -> Self {
        self.session_name = Some(name.into());
        self
    }

    /// The session id (`honeyhive.session_id` on spans that carry no session of their own);
    /// default a new UUID per tracer.
    pub fn session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = Some(id.into());
        self
    }

    /// The HoneyHive API key: sent as `Authorization: Bearer <key>` with `X-Source`.
    pub fn api_key(mut self, key: impl Into<Secret>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// HoneyHive's API URL; spans go to `{url}/opentelemetry/v1/traces`, with the API key.
    ///
    /// Wins over every endpoint variable (`OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`, `HH_API_URL`);
    /// an [`endpoint`](Self::endpoint), [`file`](Self::file) or [`exporter`](Self::exporter)
    /// set in code wins over it.
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// The OTLP traces endpoint, used verbatim (for HTTP, the full URL including `/v1/traces`).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.destination = Some(Destination::Endpoint(url.into()));
        self
    }

    /// Writes OTLP JSON lines to `path` instead of sending anywhere.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.destination = Some(Destination::File(path.into()));
        self
    }

    /// When the [local trace file](Self::file) is rotated and how many full files are kept;
    /// default 100 MiB and 3 (see [`FileRotation`]), or `HH_TRACE_FILE_MAX_BYTES` and
    /// `HH_TRACE_FILE_KEEP`. Used only when spans go to a file.
    ///
    /// ```
    /// use hivetrace_core::{FileRotation, Tracer};
    /// # fn main() -> Result<(), hivetrace_core::Error> {
    /// # let dir = tempfile::tempdir().map_err(|e| hivetrace_core::Error::File { path: ".".into(), source: e })?;
    /// # let path = dir.path().join("traces.jsonl");
    /// // At most 10 MiB now and 5 × 10 MiB of older spans.
    /// let tracer = Tracer::builder()
    ///     .file(&path)
    ///     .file_rotation(FileRotation::new(10 * 1024 * 1024, 5)?)
    ///     .build()?;
    /// # tracer.shutdown()?;
    /// # Ok(()) }
    /// ```
    pub fn file_rotation(mut self, rotation: FileRotation) -> Self {
        self.file_rotation = Some(rotation);
        self
    }

    /// Prints readable span trees to standard output.
    pub fn console(self) -> Self {
        self.exporter(ConsoleExporter::stdout())
    }

    /// Prints readable span trees to `out`.
    pub fn console_writer(self, out: impl Write + Send + 'static) -> Self {
        self.exporter(ConsoleExporter::new(out))
    }

    /// Sends spans to this exporter, ignoring endpoint settings.
    pub fn exporter(mut self, exporter: impl Into<Exporter>) -> Self {
        self.destination = Some(Destination::Exporter(Box::new(exporter.into())));
        self
    }

    /// The OTLP protocol; default `http/protobuf`.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// An extra header on every export request; wins over the same header from the environment.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Secret>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The bound on one export call, retries included; default 30 s.
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = Some(timeout);
        self
    }

    /// The bound on [`Tracer::force_flush`](crate::Tracer::force_flush) and
    /// [`Tracer::shutdown`](crate::Tracer::shutdown); default the export timeout plus one second.
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = Some(timeout);
        self
    }

    /// Queue size, batch size and delay at once.
    pub fn batch(mut self, batch: BatchConfig) -> Self {
        self.queue_size = Some(batch.queue_size());
        self.batch_size = Some(batch.max_export_batch_size);
        self.scheduled_delay = Some(batch.delay());
        self
    }

    /// The sampler: any `ShouldSample`, hivetrace's or your own. Default: the one
    /// `OTEL_TRACES_SAMPLER` (and `OTEL_TRACES_SAMPLER_ARG`) names, for a builder from
    /// [`from_env`](Self::from_env), else parent-based always-on.
    pub fn sampler(mut self, sampler: impl ShouldSample + 'static) -> Self {
        self.sampler = Some(Box::new(sampler));
        self
    }

    /// A resource attribute; wins over the same key from `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn resource_attribute(mut self, attribute: KeyValue) -> Self {
        self.resource_attributes.push(attribute);
        self
    }

    /// The longest attribute value in bytes; longer ones are cut to fit with a visible
    /// [`TRUNCATION_MARKER`](crate::TRUNCATION_MARKER), the marker counted in the limit.
    pub fn max_attribute_len(mut self, len: usize) -> Self {
        self.max_attribute_len = Some(len);
        self
    }

    /// The most attributes a span keeps; later ones are dropped and counted in
    /// [`TracerStats::attributes_dropped`](crate::TracerStats::attributes_dropped). Default
    /// OpenTelemetry's 128, or `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT` / `OTEL_ATTRIBUTE_COUNT_LIMIT`.
    /// Each flattened enrichment key is one attribute: raise it for spans that carry large
    /// JSON inputs. With the value length limit, it bounds a span's memory.
    pub fn max_attributes_per_span(mut self, max: u32) -> Self {
        self.max_attributes_per_span = Some(max);
        self
    }

    /// Which vocabularies spans are written in; default HoneyHive's only.
    pub fn conventions(mut self, conventions: Conventions) -> Self {
        self.conventions = Some(conventions);
        self
    }

    /// Another span processor, run before hivetrace's own (which exports).
    ///
    /// The SDK gives each processor its own copy of every ended span once there are several;
    /// a hook that hivetrace's crates provide as a [`SpanObserver`](crate::SpanObserver) is
    /// cheaper added with [`observer`](Self::observer).
    pub fn span_processor(mut self, processor: impl SpanProcessor + 'static) -> Self {
        self.processors.push(Box::new(processor));
        self
    }

    /// A hook called by hivetrace's own processor when each span starts and ends, with no
    /// copy of the span (see [`SpanObserver`](crate::SpanObserver)). Observers run in the
    /// order they were added.
    pub fn observer(mut self, observer: impl crate::SpanObserver) -> Self {
        self.observers.push(Box::new(observer));
        self
    }

    /// Builds the tracer. Fails with an error naming the setting when a value is unusable.
    pub fn build(self) -> Result<crate::Tracer> {
        crate::tracer::build(self)
    }

    fn var(&self, name: &'static str) -> Option<(&'static str, String)> {
        self.env
            .as_ref()
            .and_then(|lookup| env::get(lookup, name).map(|v| (name, v)))
    }

    fn first_var(&self, names: &[&'static str]) -> Option<(&'static str, String)> {
        self.env
            .as_ref()
            .and_then(|lookup| env::first(lookup, names))
    }

    /// The sampler `OTEL_TRACES_SAMPLER` names, else parent-based always-on. (The SDK would
    /// read the process environment itself, even for a builder not made from it.)
    fn sampler_from_env(&self) -> Result<Box<dyn ShouldSample>> {
        use vars::{OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG};
        let Some((name, value)) = self.var(OTEL_TRACES_SAMPLER) else {
            return Ok(Box::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn))));
        };
        let ratio = || -> Result<f64> {
            match self.var(OTEL_TRACES_SAMPLER_ARG) {
                None => Ok(1.0),
                Some((arg, v)) => v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| Error::invalid(arg, v, "expected a ratio from 0 to 1")),
            }
        };
        let parent_based = |root: Sampler| Sampler::ParentBased(Box::new(root));
        let sampler = match value.trim().to_ascii_lowercase().as_str() {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::TraceIdRatioBased(ratio()?),
            "parentbased_always_on" => parent_based(Sampler::AlwaysOn),
            "parentbased_always_off" => parent_based(Sampler::AlwaysOff),
            "parentbased_traceidratio" => parent_based(Sampler::TraceIdRatioBased(ratio()?)),
            _ => {
                return Err(Error::invalid(
                    name,
                    value,
                    "expected always_on, always_off, traceidratio, parentbased_always_on, \
                     parentbased_always_off or parentbased_traceidratio (set other samplers \
                     in code)",
                ));
            }
        };
        Ok(Box::new(sampler))
    }

    /// A per-span count limit from the first of `names` set in the environment, else
    /// `default`.
    fn count_limit(&self, names: &[&'static str], default: u32) -> Result<u32> {
        match self.first_var(names) {
            None => Ok(default),
            Some((name, v)) => {
                let n = env::count(name, &v)?;
                u32::try_from(n)
                    .map_err(|_| Error::invalid(name, v, format!("expected at most {}", u32::MAX)))
            }
        }
    }

    /// Resolves every setting into what the tracer needs.
    pub(crate) fn resolve(&mut self) -> Result<Resolved> {
        use vars::*;
        let project = self
            .project
            .take()
            .or_else(|| self.var(HH_PROJECT).map(|(_, v)| v));
        let source = self
            .source
            .take()
            .or_else(|| self.var(HH_SOURCE).map(|(_, v)| v));
        let service_name = self
            .service_name
            .take()
            .or_else(|| self.var(OTEL_SERVICE_NAME).map(|(_, v)| v));
        let session_name = self
            .session_name
            .take()
            .or_else(|| self.var(HH_SESSION_NAME).map(|(_, v)| v));
        let api_key = self.api_key.take().or_else(|| {
            self.first_var(&[HH_INGESTION_API_KEY, HH_API_KEY])
                .map(|(_, v)| Secret::new(v))
        });

        let protocol = match self.protocol {
            Some(p) => p,
            None => match self.first_var(&[
                OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
                OTEL_EXPORTER_OTLP_PROTOCOL,
                HH_OTLP_PROTOCOL,
            ]) {
                Some((name, v)) => v
                    .parse::<Protocol>()
                    .map_err(|reason| Error::invalid(name, v.clone(), reason))?,
                None => Protocol::default(),
            },
        };

        // The setting named in an error: the builder's, or the variable the value came from.
        let (export_timeout, timeout_setting) = match self.export_timeout {
            Some(t) => (t, "export timeout"),
            None => match self.first_var(&[
                OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
                OTEL_EXPORTER_OTLP_TIMEOUT,
                OTEL_BSP_EXPORT_TIMEOUT,
            ]) {
                Some((name, v)) => (env::millis(name, &v)?, name),
                None => (DEFAULT_EXPORT_TIMEOUT, "export timeout"),
            },
        };
        if export_timeout.is_zero() || export_timeout > MAX_DURATION {
            return Err(Error::invalid(
                timeout_setting,
                format!("{export_timeout:?}"),
                "expected between 1 ms and 1 hour",
            ));
        }
        let flush_timeout = self
            .flush_timeout
            .unwrap_or(export_timeout.saturating_add(Duration::from_secs(1)))
            .min(MAX_DURATION);

        let mut batch = BatchConfig::default();
        batch.max_queue_size = match self.queue_size {
            Some(n) => n.max(1),
            None => match self.var(OTEL_BSP_MAX_QUEUE_SIZE) {
                Some((name, v)) => env::count(name, &v)?,
                None => batch.max_queue_size,
            },
        };
        batch.max_export_batch_size = match self.batch_size {
            Some(n) => n.max(1),
            None => match self.var(OTEL_BSP_MAX_EXPORT_BATCH_SIZE) {
                Some((name, v)) => env::count(name, &v)?,
                None => batch.max_export_batch_size,
            },
        };
        batch.scheduled_delay = match self.scheduled_delay {
            Some(d) => d,
            None => match self.var(OTEL_BSP_SCHEDULE_DELAY) {
                Some((name, v)) => env::millis(name, &v)?,
                None => batch.scheduled_delay,
            },
        }
        .clamp(MIN_SCHEDULED_DELAY, MAX_DURATION);
        if batch.max_queue_size > MAX_QUEUE_SIZE {
            let setting = if self.queue_size.is_some() {
                "max_queue_size"
            } else {
                OTEL_BSP_MAX_QUEUE_SIZE
            };
            return Err(Error::invalid(
                setting,
                batch.max_queue_size.to_string(),
                format!("the queue is allocated up front: at most {MAX_QUEUE_SIZE} spans"),
            ));
        }

        let max_attributes_per_span = match self.max_attributes_per_span {
            Some(0) => {
                return Err(Error::invalid(
                    "max_attributes_per_span",
                    "0",
                    "expected at least 1 attribute per span",
                ));
            }
            Some(n) => n,
            None => self.count_limit(
                &[OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, OTEL_ATTRIBUTE_COUNT_LIMIT],
                DEFAULT_MAX_ATTRIBUTES_PER_SPAN,
            )?,
        };

        let max_attribute_len = match self.max_attribute_len {
            Some(n) => n,
            None => match self.first_var(&[
                OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
                OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
            ]) {
                Some((name, v)) => env::count(name, &v)?,
                None => DEFAULT_MAX_ATTRIBUTE_LEN,
            },
        };

        let conventions = match self.conventions {
            Some(c) => c,
            None => match self.var(HH_CONVENTIONS) {
                Some((name, v)) => Conventions::parse(&v).ok_or_else(|| {
                    Error::invalid(
                        name,
                        v.clone(),
                        "expected a comma-separated list of honeyhive, openinference, genai",
                    )
                })?,
                None => Conventions::default(),
            },
        };

        // Headers: environment first, then explicit ones, so explicit values win.
        let mut headers: Vec<(String, Secret)> = Vec::new();
        if let Some((name, v)) = self.first_var(&[
            OTEL_EXPORTER_OTLP_TRACES_HEADERS,
            OTEL_EXPORTER_OTLP_HEADERS,
        ]) {
            let parsed = env::key_value_list(name, &v, true)?;
            env::check_headers(name, &parsed)?;
            for (k, v) in parsed {
                set_header(&mut headers, k, Secret::new(v));
            }
        }
        let explicit: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.expose().to_owned()))
            .collect();
        env::check_headers("header", &explicit)?;
        for (k, v) in self.headers.drain(..) {
            set_header(&mut headers, k, v);
        }

        let mut env_resource_attributes = Vec::new();
        if let Some((name, v)) = self.var(OTEL_RESOURCE_ATTRIBUTES) {
            for (k, v) in env::key_value_list(name, &v, false)? {
                env_resource_attributes.push(KeyValue::new(k, v));
            }
        }
        // The spec: OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES,
        // which wins over hivetrace's fallbacks.
        let service_name = match service_name {
            Some(name) => name,
            None => resource_value(
                &env_resource_attributes,
                crate::conventions::otel::SERVICE_NAME,
            )
            .or_else(|| project.clone())
            .unwrap_or_else(|| "unknown_service".to_owned()),
        };
        // Likewise the source, which the tracer writes as `deployment.environment.name`: a
        // value in OTEL_RESOURCE_ATTRIBUTES is not overwritten by the default.
        let source = match source {
            Some(source) => source,
            None => resource_value(
                &env_resource_attributes,
                crate::conventions::otel::DEPLOYMENT_ENVIRONMENT,
            )
            .unwrap_or_else(|| DEFAULT_SOURCE.to_owned()),
        };
        let resource_attributes = std::mem::take(&mut self.resource_attributes);

        let file_rotation = match self.file_rotation {
            Some(rotation) => rotation,
            None => self.file_rotation_from_env()?,
        };

        let explicit_endpoint = matches!(self.destination, Some(Destination::Endpoint(_)));
        let destination = match self.destination.take() {
            Some(Destination::Exporter(e)) => ResolvedDestination::Exporter(e),
            Some(Destination::File(path)) => ResolvedDestination::File(path, file_rotation),
            Some(Destination::Endpoint(url)) => {
                ResolvedDestination::Otlp(env::endpoint("endpoint", &url)?)
            }
            None => self.resolve_endpoint(protocol, api_key.is_some(), file_rotation)?,
        };
        // The key goes to HoneyHive, and to an endpoint set in code next to it; never to an
        // endpoint that came from OTEL_* variables (a shared collector, a third party).
        let honeyhive_bound = explicit_endpoint || self.honeyhive_destination;
        if let Some(key) = &api_key
            && honeyhive_bound
        {
            env::check_headers(
                "api key",
                &[("authorization".into(), format!("Bearer {}", key.expose()))],
            )?;
            set_header_if_absent(
                &mut headers,
                "authorization",
                Secret::new(format!("Bearer {}", key.expose())),
            );
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("x-source"))
                && !source
                    .bytes()
                    .all(|b| b == b'\t' || (b' '..b'\x7f').contains(&b))
            {
                return Err(Error::invalid(
                    "source",
                    source,
                    "it is sent as the X-Source header with the API key, and HTTP headers allow \
                     only visible ASCII; set another source (HH_SOURCE) or an X-Source header",
                ));
            }
            set_header_if_absent(&mut headers, "x-source", Secret::new(source.clone()));
        }

        let session_id = self
            .session_id
            .take()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());

        Ok(Resolved {
            project,
            source,
            service_name,
            session_name,
            session_id,
            protocol,
            headers,
            export_timeout,
            flush_timeout,
            batch,
            sampler: match self.sampler.take() {
                Some(sampler) => sampler,
                None => self.sampler_from_env()?,
            },
            max_events_per_span: self
                .count_limit(&[OTEL_SPAN_EVENT_COUNT_LIMIT], DEFAULT_COUNT_LIMIT)?,
            max_links_per_span: self
                .count_limit(&[OTEL_SPAN_LINK_COUNT_LIMIT], DEFAULT_COUNT_LIMIT)?,
            env_resource_attributes,
            resource_attributes,
            max_attribute_len,
            max_attributes_per_span,
            conventions,
            destination,
            processors: std::mem::take(&mut self.processors),
            observers: std::mem::take(&mut self.observers),
        })
    }

    fn resolve_endpoint(
        &mut self,
        protocol: Protocol,
        has_api_key: bool,
        rotation: FileRotation,
    ) -> Result<ResolvedDestination> {
        use vars::*;
        // An API URL set in code wins over every variable; among variables, OTEL_* endpoints
        // win over HoneyHive's URL.
        if let Some(url) = self.api_url.take() {
            return self.honeyhive_endpoint("api_url", &url);
        }
        if let Some((name, v)) = self.var(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) {
            return Ok(ResolvedDestination::Otlp(env::endpoint(name, &v)?));
        }
        if let Some((name, v)) = self.var(OTEL_EXPORTER_OTLP_ENDPOINT) {
            let base = env::endpoint(name, &v)?;
            // The spec: only the general endpoint gets the signal path, and only over HTTP.
            let url = if protocol == Protocol::Grpc {
                base
            } else {
                append_path(&base, "/v1/traces")
            };
            return Ok(ResolvedDestination::Otlp(url));
        }
        if let Some((name, url)) =
            self.first_var(&[HH_API_URL, HONEYHIVE_SERVER_URL, HH_SERVER_URL])
        {
            return self.honeyhive_endpoint(name, &url);
        }
        if has_api_key {
            self.honeyhive_destination = true;
            return Ok(ResolvedDestination::Otlp(format!(
                "{DEFAULT_HONEYHIVE_URL}{HONEYHIVE_TRACES_PATH}"
            )));
        }
        let path = self
            .var(HH_TRACE_FILE)
            .map(|(_, v)| PathBuf::from(v))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_TRACE_FILE));
        Ok(ResolvedDestination::File(path, rotation))
    }

    /// `HH_TRACE_FILE_MAX_BYTES` (`0`: never) and `HH_TRACE_FILE_KEEP` over the defaults.
    fn file_rotation_from_env(&self) -> Result<FileRotation> {
        use vars::*;
        let max_bytes = match self.var(HH_TRACE_FILE_MAX_BYTES) {
            Some((name, v)) => env::whole::<u64>(
                name,
                &v,
                "expected a whole number of bytes, such as 104857600 (0 never rotates)",
            )?,
            None => FileRotation::DEFAULT_MAX_BYTES,
        };
        let keep = match self.var(HH_TRACE_FILE_KEEP) {
            Some((name, v)) => env::whole::<u32>(
                name,
                &v,
                &format!("expected a whole number of files from 0 to {}", u32::MAX),
            )?,
            None => FileRotation::DEFAULT_KEEP,
        };
        if max_bytes == 0 {
            return Ok(FileRotation::NEVER);
        }
        FileRotation::new(max_bytes, keep)
    }

    /// HoneyHive's traces endpoint below the API URL `url`, read from `setting`.
    fn honeyhive_endpoint(&mut self, setting: &str, url: &str) -> Result<ResolvedDestination> {
        let base = env::endpoint(setting, url)?;
        self.honeyhive_destination = true;
        Ok(ResolvedDestination::Otlp(append_path(
            &base,
            HONEYHIVE_TRACES_PATH,
        )))
    }
}

/// The value of `key` among `attributes`, as a string.
fn resource_value(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

/// `base` with `suffix` added to its path (not after a query string or fragment).
fn append_path(base: &str, suffix: &str) -> String {
    match url::Url::parse(base) {
        Ok(mut url) => {
            let path = format!("{}{suffix}", url.path().trim_end_matches('/'));
            url.set_path(&path);
            url.to_string()
        }
        Err(_) => format!("{}{suffix}", base.trim_end_matches('/')),
    }
}

fn set_header(headers: &mut Vec<(String, Secret)>, name: String, value: Secret) {
    headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
    headers.push((name, value));
}

fn set_header_if_absent(headers: &mut Vec<(String, Secret)>, name: &str, value: Secret) {
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) {
        headers.push((name.to_owned(), value));
    }
}

pub(crate) enum ResolvedDestination {
    Otlp(String),
    File(PathBuf, FileRotation),
    Exporter(Box<Exporter>),
}

/// Every setting, resolved.
pub(crate) struct Resolved {
    pub(crate) project: Option<String>,
    pub(crate) source: String,
    pub(crate) service_name: String,
    pub(crate) session_name: Option<String>,
    pub(crate) session_id: String,
    pub(crate) protocol: Protocol,
    pub(crate) headers: Vec<(String, Secret)>,
    pub(crate) export_timeout: Duration,
    pub(crate) flush_timeout: Duration,
    pub(crate) batch: BatchConfig,
    pub(crate) sampler: Box<dyn ShouldSample>,
    pub(crate) max_events_per_span: u32,
    pub(crate) max_links_per_span: u32,
    /// From `OTEL_RESOURCE_ATTRIBUTES`: applied first.
    pub(crate) env_resource_attributes: Vec<KeyValue>,
    /// From the builder: applied last, so they win.
    pub(crate) resource_attributes: Vec<KeyValue>,
    pub(crate) max_attribute_len: usize,
    pub(crate) max_attributes_per_span: u32,
    pub(crate) conventions: Conventions,
    pub(crate) destination: ResolvedDestination,
    pub(crate) processors: Vec<Box<dyn SpanProcessor>>,
    pub(crate) observers: Vec<Box<dyn crate::SpanObserver>>,
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn from_vars(vars: &[(&'static str, &'static str)]) -> TracerBuilder {
        let vars: HashMap<&str, &str> = vars.iter().copied().collect();
        TracerBuilder::from_env_with(move |k| vars.get(k).map(|v| (*v).to_owned()))
    }

    #[test]
    fn an_out_of_range_timeout_names_where_it_came_from() {
        for (vars, setting) in [
            (
                &[("OTEL_EXPORTER_OTLP_TIMEOUT", "0")][..],
                "OTEL_EXPORTER_OTLP_TIMEOUT",
            ),
            (
                &[("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "7200000")][..],
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            ),
            (
                &[("OTEL_BSP_EXPORT_TIMEOUT", "0")][..],
                "OTEL_BSP_EXPORT_TIMEOUT",
            ),
        ] {
            let err = from_vars(vars).resolve().err().expect("out of range");
            assert!(err.to_string().contains(setting), "{err}");
        }
        let err = from_vars(&[])
            .export_timeout(Duration::ZERO)
            .resolve()
            .err()
            .expect("zero");
        assert!(err.to_string().contains("export timeout"), "{err}");
    }

    fn rotation_of(mut builder: TracerBuilder) -> FileRotation {
        match builder
            .resolve()
            .expect("a valid configuration")
            .destination
        {
            ResolvedDestination::File(_, rotation) => rotation,
            _ => panic!("spans go to a file"),
        }
    }

    #[test]
    fn file_rotation_comes_from_the_builder_then_the_environment_then_the_default() {
        assert_eq!(rotation_of(from_vars(&[])), FileRotation::default());
        let vars = [
            ("HH_TRACE_FILE_MAX_BYTES", " 4096 "),
            ("HH_TRACE_FILE_KEEP", "7"),
        ];
        let from_env = FileRotation::new(4096, 7).expect("valid");
        assert_eq!(rotation_of(from_vars(&vars)), from_env);
        let only_keep = FileRotation::new(FileRotation::DEFAULT_MAX_BYTES, 0).expect("valid");
        assert_eq!(
            rotation_of(from_vars(&[("HH_TRACE_FILE_KEEP", "0")])),
            only_keep
        );
        assert_eq!(
            rotation_of(from_vars(&[("HH_TRACE_FILE_MAX_BYTES", "0")])),
            FileRotation::NEVER
        );
        // Code wins, for a path set in code and for the default file alike.
        let code = FileRotation::new(10, 1).expect("valid");
        assert_eq!(
            rotation_of(from_vars(&vars).file_rotation(code).file("t.jsonl")),
            code
        );
        assert_eq!(rotation_of(from_vars(&vars).file_rotation(code)), code);
    }

    #[test]
    fn a_bad_file_rotation_value_names_its_variable() {
        for (var, value) in [
            ("HH_TRACE_FILE_MAX_BYTES", "100MB"),
            ("HH_TRACE_FILE_MAX_BYTES", "-1"),
            ("HH_TRACE_FILE_KEEP", "4294967296"),
            ("HH_TRACE_FILE_KEEP", "three"),
        ] {
            let err = from_vars(&[(var, value)])
                .resolve()
                .err()
                .expect("rejected");
            let msg = err.to_string();
            assert!(msg.contains(var) && msg.contains(value), "{msg}");
        }
        let err = FileRotation::new(0, 1).expect_err("no zero size");
        assert!(err.to_string().contains("NEVER"), "{err}");
    }

    /// The OTLP endpoint and whether the API key goes with it.
    fn endpoint_and_key(mut builder: TracerBuilder) -> (String, bool) {
        let resolved = builder.resolve().expect("a valid configuration");
        let ResolvedDestination::Otlp(endpoint) = resolved.destination else {
            panic!("expected an OTLP destination");
        };
        let has_key = resolved
            .headers
            .iter()
            .any(|(k, v)| k == "authorization" && v.expose() == "Bearer k");
        (endpoint, has_key)
    }

    #[test]
    fn an_api_url_set_in_code_wins_over_every_endpoint_variable() {
        for var in [
            vars::OTEL_EXPORTER_OTLP_ENDPOINT,
            vars::OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
            vars::HH_API_URL,
            vars::HONEYHIVE_SERVER_URL,
        ] {
            let builder = from_vars(&[(var, "http://collector:4318")])
                .api_url("https://hh.example.com")
                .api_key("k");
            assert_eq!(
                endpoint_and_key(builder),
                (
                    "https://hh.example.com/opentelemetry/v1/traces".to_owned(),
                    true
                ),
                "{var} won over the api_url set in code"
            );
        }
    }

    #[test]
    fn the_environment_in_resource_attributes_is_not_replaced_by_the_default_source() {
        let resource = "deployment.environment.name=prod,team=llm";
        let mut builder = from_vars(&[(vars::OTEL_RESOURCE_ATTRIBUTES, resource)]);
        let resolved = builder.resolve().expect("a valid configuration");
        assert_eq!(resolved.source, "prod");

        let mut builder = from_vars(&[
            (vars::OTEL_RESOURCE_ATTRIBUTES, resource),
            (vars::HH_SOURCE, "staging"),
        ]);
        let resolved = builder.resolve().expect("a valid configuration");
        assert_eq!(resolved.source, "staging", "a source given outright wins");

        let mut builder = from_vars(&[(vars::OTEL_RESOURCE_ATTRIBUTES, "team=llm")]);
        let resolved = builder.resolve().expect("a valid configuration");
        assert_eq!(resolved.source, DEFAULT_SOURCE);
    }

    #[test]
    fn protocol_values_from_the_environment_are_case_insensitive() {
        // The OpenTelemetry spec: enum values SHOULD be interpreted case-insensitively.
        for (value, expected) in [
            ("HTTP/JSON", Protocol::HttpJson),
            ("Http/Protobuf", Protocol::HttpProtobuf),
            (" GRPC ", Protocol::Grpc),
        ] {
            let mut builder = from_vars(&[(vars::OTEL_EXPORTER_OTLP_PROTOCOL, value)]);
            let resolved = builder.resolve().expect("a known protocol in any case");
            assert_eq!(resolved.protocol, expected, "{value}");
        }
        let err = from_vars(&[(vars::OTEL_EXPORTER_OTLP_PROTOCOL, "http/xml")])
            .resolve()
            .err()
            .expect("an unknown protocol is still an error");
        assert!(err.to_string().contains("http/xml"), "{err}");
    }

    #[test]
    fn a_source_sent_as_x_source_must_be_visible_ascii() {
        let err = from_vars(&[(vars::HH_SOURCE, "préprod"), (vars::HH_API_KEY, "k")])
            .api_url("https://hh.example.com")
            .resolve()
            .err()
            .expect("X-Source cannot carry a non-ASCII source");
        let text = err.to_string();
        assert!(
            text.contains("source") && text.contains("préprod") && text.contains("X-Source"),
            "{text}"
        );
        assert!(!text.contains("api key"), "{text}");

        // Without a key no X-Source header is sent, and the source is only a resource value.
        let resolved = from_vars(&[(vars::HH_SOURCE, "préprod")])
            .resolve()
            .expect("a non-ASCII source without a key is fine");
        assert_eq!(resolved.source, "préprod");
        // Nor when the user sets X-Source themselves.
        let mut builder = from_vars(&[(vars::HH_SOURCE, "préprod"), (vars::HH_API_KEY, "k")])
            .api_url("https://hh.example.com")
            .header("X-Source", "preprod");
        builder
            .resolve()
            .expect("the user's X-Source header is used");
    }

    #[test]
    fn the_sampler_variables_are_read_through_the_configuration() {
        use opentelemetry::trace::{SpanKind, TraceId};
        use opentelemetry_sdk::trace::SamplingDecision;
        let decides = |vars: &[(&'static str, &'static str)]| {
            let sampler = from_vars(vars).resolve().expect("valid").sampler;
            let id = TraceId::from(u128::MAX);
            sampler
                .should_sample(None, id, "s", &SpanKind::Internal, &[], &[])
                .decision
        };
        assert_eq!(decides(&[]), SamplingDecision::RecordAndSample);
        assert_eq!(
            decides(&[(vars::OTEL_TRACES_SAMPLER, "always_off")]),
            SamplingDecision::Drop
        );
        assert_eq!(
            decides(&[(vars::OTEL_TRACES_SAMPLER, " ParentBased_Always_Off ")]),
            SamplingDecision::Drop
        );
        let ratio = |arg: &'static str| {
            decides(&[
                (vars::OTEL_TRACES_SAMPLER, "parentbased_traceidratio"),
                (vars::OTEL_TRACES_SAMPLER_ARG, arg),
            ])
        };
        assert_eq!(ratio("0"), SamplingDecision::Drop);
        assert_eq!(ratio("1"), SamplingDecision::RecordAndSample);

        for (vars, named) in [
            (
                vec![(vars::OTEL_TRACES_SAMPLER, "xray")],
                "OTEL_TRACES_SAMPLER",
            ),
            (
                vec![
                    (vars::OTEL_TRACES_SAMPLER, "traceidratio"),
                    (vars::OTEL_TRACES_SAMPLER_ARG, "1.5"),
                ],
                "OTEL_TRACES_SAMPLER_ARG",
            ),
            (
                vec![(vars::OTEL_SPAN_EVENT_COUNT_LIMIT, "lots")],
                "OTEL_SPAN_EVENT_COUNT_LIMIT",
            ),
        ] {
            let err = from_vars(&vars).resolve().err().expect("a bad value");
            assert!(err.to_string().contains(named), "{err}");
        }
        let resolved = from_vars(&[
            (vars::OTEL_SPAN_EVENT_COUNT_LIMIT, "7"),
            (vars::OTEL_SPAN_LINK_COUNT_LIMIT, "9"),
        ])
        .resolve()
        .expect("valid");
        assert_eq!(
            (resolved.max_events_per_span, resolved.max_links_per_span),
            (7, 9)
        );
    }

    #[test]
    fn an_endpoint_set_in_code_wins_over_the_api_url() {
        let builder = from_vars(&[(vars::OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318")])
            .endpoint("http://mine:4318/v1/traces")
            .api_url("https://hh.example.com")
            .api_key("k");
        assert_eq!(
            endpoint_and_key(builder),
            ("http://mine:4318/v1/traces".to_owned(), true)
        );
    }

    #[test]
    fn otlp_endpoint_variables_win_over_the_honeyhive_url_variable() {
        let builder = from_vars(&[
            (vars::OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318"),
            (vars::HH_API_URL, "https://hh.example.com"),
            (vars::HH_API_KEY, "k"),
        ]);
        assert_eq!(
            endpoint_and_key(builder),
            ("http://collector:4318/v1/traces".to_owned(), false),
            "the key never goes to an endpoint from OTEL_* variables"
        );
        let builder = from_vars(&[
            (vars::HH_API_URL, "https://hh.example.com"),
            (vars::HH_API_KEY, "k"),
        ]);
        assert_eq!(
            endpoint_and_key(builder),
            (
                "https://hh.example.com/opentelemetry/v1/traces".to_owned(),
                true
            )
        );
    }
}
