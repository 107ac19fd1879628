//! OTLP export: HTTP (protobuf or JSON) by default, gRPC behind the `grpc` feature.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::error::{Error, Result};
use crate::secret::Secret;

/// The OTLP transport and encoding.
///
/// ```
/// use hivetrace_core::exporter::Protocol;
/// assert_eq!("http/json".parse::<Protocol>().ok(), Some(Protocol::HttpJson));
/// assert_eq!(Protocol::default(), Protocol::HttpProtobuf);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// `http/protobuf`: the default.
    #[default]
    HttpProtobuf,
    /// `http/json`.
    HttpJson,
    /// `grpc`: needs the `grpc` feature.
    Grpc,
}

impl Protocol {
    /// The name the OpenTelemetry spec gives the protocol.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
            Protocol::Grpc => "grpc",
        }
    }
}

impl FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            "http/json" => Ok(Protocol::HttpJson),
            "grpc" => Ok(Protocol::Grpc),
            _ => Err("expected http/protobuf, http/json or grpc".into()),
        }
    }
}

/// The OpenTelemetry OTLP exporter, wrapped so its `Debug` never prints headers (bearer tokens).
pub struct OtlpExporter {
    inner: opentelemetry_otlp::SpanExporter,
    endpoint: String,
    protocol: Protocol,
    /// gRPC needs a tokio runtime to build and to export; it is owned here so a tracer works
    /// from any thread, inside a runtime or not.
    #[cfg(feature = "grpc")]
    runtime: Option<tokio::runtime::Runtime>,
}

impl fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpExporter")
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl OtlpExporter {
    /// Builds an exporter to `endpoint` (used verbatim: for HTTP, the full traces URL).
    ///
    /// Retries follow the OTLP spec (429, 502, 503, 504 and the retryable gRPC codes, honouring
    /// `Retry-After`), all within `timeout`, which bounds each export call.
    pub fn new(
        endpoint: &str,
        protocol: Protocol,
        headers: &[(String, Secret)],
        timeout: Duration,
    ) -> Result<Self> {
        let build_err = |e: &dyn fmt::Display| Error::ExporterBuild {
            exporter: "otlp",
            reason: e.to_string(),
        };
        match protocol {
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                let map: HashMap<String, String> = headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.expose().to_owned()))
                    .collect();
                let otlp_protocol = if protocol == Protocol::HttpJson {
                    opentelemetry_otlp::Protocol::HttpJson
                } else {
                    opentelemetry_otlp::Protocol::HttpBinary
                };
                let inner = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_endpoint(endpoint)
                    .with_protocol(otlp_protocol)
                    .with_timeout(timeout)
                    .with_headers(map)
                    .build()
                    .map_err(|e| build_err(&e))?;
                Ok(OtlpExporter {
                    inner,
                    endpoint: endpoint.to_owned(),
                    protocol,
                    #[cfg(feature = "grpc")]
                    runtime: None,
                })
            }
            #[cfg(feature = "grpc")]
            Protocol::Grpc => {
                use opentelemetry_otlp::WithTonicConfig;
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .thread_name("hivetrace-grpc")
                    .build()
                    .map_err(|e| build_err(&e))?;
                let mut map = http::HeaderMap::new();
                for (k, v) in headers {
                    let key = http::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                        Error::invalid("headers", k.clone(), "not a valid gRPC metadata key")
                    })?;
                    let value = http::HeaderValue::from_str(v.expose()).map_err(|_| {
                        Error::invalid(
                            "headers",
                            format!("{k}=<redacted>"),
                            "not a valid gRPC metadata value",
                        )
                    })?;
                    map.insert(key, value);
                }
                let metadata =
                    opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(map);
                let inner = {
                    let _entered = runtime.enter();
                    opentelemetry_otlp::SpanExporter::builder()
                        .with_tonic()
                        .with_endpoint(endpoint)
                        .with_timeout(timeout)
                        .with_metadata(metadata)
                        .build()
                        .map_err(|e| build_err(&e))?
                };
                Ok(OtlpExporter {
                    inner,
                    endpoint: endpoint.to_owned(),
                    protocol,
                    runtime: Some(runtime),
                })
            }
            #[cfg(not(feature = "grpc"))]
            Protocol::Grpc => Err(Error::FeatureDisabled {
                protocol: "grpc",
                feature: "grpc",
            }),
        }
    }

    /// The endpoint spans are sent to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The protocol.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }
}

impl SpanExporter for OtlpExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        #[cfg(feature = "grpc")]
        if let Some(runtime) = &self.runtime {
            return runtime.block_on(self.inner.export(batch));
        }
        self.inner.export(batch).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        #[cfg(feature = "grpc")]
        if let Some(runtime) = &self.runtime {
            let _entered = runtime.enter();
            return self.inner.shutdown_with_timeout(timeout);
        }
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
