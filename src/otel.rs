//! Optional OpenTelemetry export: the gateway's tracing spans (the per-request `request` span
//! with its channel, source and trace id) sent over OTLP/HTTP (protobuf) to a collector.
//!
//! Off unless `log.otlp_endpoint` is set. Only spans are exported, never log events: a span
//! carries ids (channel, source, trace id), an event may carry an error's text. Spans are
//! batched on the SDK's own thread and sent with a blocking HTTP client, so a slow or absent
//! collector never holds up a request; what cannot be sent is dropped.

use crate::config::LogConfig;
use crate::outbound::Outbound;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::filter::{FilterFn, Filtered};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The layer that hands closed spans to the exporter (and nothing else: events are filtered out).
pub type SpanLayer<S> = Filtered<OpenTelemetryLayer<S, SdkTracer>, FilterFn, S>;

fn spans_only(meta: &tracing::Metadata<'_>) -> bool {
    meta.is_span()
}

/// A running OTLP trace exporter; [`Otlp::shutdown`] sends what is still batched.
pub struct Otlp {
    provider: SdkTracerProvider,
}

/// Where the spans go: `{endpoint}/v1/traces`.
pub fn traces_url(endpoint: &str) -> String {
    format!("{}/v1/traces", endpoint.trim_end_matches('/'))
}

impl Otlp {
    /// Starts the batch exporter if `log.otlp_endpoint` is set; `None` when it is not.
    /// Call before the tokio runtime starts (the HTTP client is a blocking one).
    /// `https://` endpoints are verified against the system's store and `outbound.ca_file`.
    pub fn start(log: &LogConfig, outbound: &Outbound) -> Result<Option<Otlp>, String> {
        if log.otlp_endpoint.is_empty() {
            return Ok(None);
        }
        let client = outbound
            .blocking_builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the OTLP HTTP client: {e}"))?;
        let exporter = SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(traces_url(&log.otlp_endpoint))
            .build()
            .map_err(|e| format!("cannot build the OTLP exporter: {e}"))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name(log.otlp_service_name.clone())
                    .build(),
            )
            .build();
        Ok(Some(Otlp { provider }))
    }

    /// A tracing layer exporting spans (only spans) through this exporter.
    pub fn layer<S>(&self) -> SpanLayer<S>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        let tracer = self.provider.tracer("intake-gateway");
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_tracked_inactivity(false)
            .with_filter(FilterFn::new(
                spans_only as fn(&tracing::Metadata<'_>) -> bool,
            ))
    }

    /// Exports what is still batched and stops the exporter (bounded by the export timeout).
    /// Call outside the async runtime: it blocks.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("intake-gateway: OTLP exporter shutdown: {e}");
        }
    }
}
