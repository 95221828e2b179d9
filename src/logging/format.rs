//! The JSON line of an event.
//!
//! The line has the shape of tracing-subscriber's own JSON format (`timestamp`, `level`,
//! `fields`, `target`, `span`), so log shippers set up for it keep working. It is written here
//! because that format re-parses the span's stored fields into a `serde_json::Value` for every
//! event, and re-serializes them on every `Span::record`; on the hook path that was about a
//! sixth of a request's CPU. This one splices the stored JSON in as it is, and stores a span's
//! fields with [`SpanFields`], which writes them straight out (tracing-subscriber's `JsonFields`
//! builds a map of `serde_json::Value`s for every span first: a few percent of a request).

use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The JSON line format; use it with [`SpanFields`] so span fields are stored as JSON.
pub struct JsonLine;

/// Stores a span's fields as one JSON object (`{"channel":"wechat",...}`), written directly.
pub struct SpanFields;

impl<'w> FormatFields<'w> for SpanFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        writer.write_char('{')?;
        close_object(writer, true, fields)
    }

    /// `Span::record`: the new fields go inside the stored object.
    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        if current.fields.is_empty() {
            return self.format_fields(current.as_writer(), fields);
        }
        if current.fields.ends_with('}') {
            current.fields.pop();
        }
        let first = current.fields.len() <= 1;
        close_object(current.as_writer(), first, fields)
    }
}

/// Writes `fields` as the members of an open JSON object (`first`: none written yet), then `}`.
fn close_object<R: RecordFields>(mut writer: Writer<'_>, first: bool, fields: R) -> fmt::Result {
    let mut visit = Fields {
        out: &mut writer,
        first,
        result: Ok(()),
    };
    fields.record(&mut visit);
    visit.result?;
    writer.write_char('}')
}

impl<S> FormatEvent<S, SpanFields> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, SpanFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        // Digit by digit into a fixed buffer: chrono's general formatter and `write!` were about
        // 2,000 instructions a line (callgrind), and every request writes a line.
        let now = chrono::Utc::now();
        writer.write_str("{\"timestamp\":\"")?;
        match intake_schema::fixed_width_micros(&now) {
            Some(digits) => {
                writer.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)?
            }
            None => writer.write_str(&now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))?,
        }
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(meta.level().as_str())?;
        writer.write_str("\",\"fields\":{")?;
        let mut fields = Fields {
            out: &mut writer,
            first: true,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_str("},\"target\":")?;
        string(&mut writer, meta.target())?;
        if let Some(span) = ctx.lookup_current() {
            writer.write_str(",\"span\":{")?;
            let extensions = span.extensions();
            // `{"a":1,"b":2}` as JsonFields stored it; empty when the span has no fields.
            let stored = extensions
                .get::<FormattedFields<SpanFields>>()
                .map(|f| f.fields.as_str())
                .unwrap_or("");
            let inner = stored
                .strip_prefix('{')
                .and_then(|s| s.strip_suffix('}'))
                .unwrap_or("");
            if !inner.is_empty() {
                writer.write_str(inner)?;
                writer.write_char(',')?;
            }
            writer.write_str("\"name\":")?;
            string(&mut writer, span.name())?;
            writer.write_char('}')?;
        } else {
            // A request without a tracing span (`scope::use_spans(false)`): the same object.
            super::scope::write_current(&mut writer)?;
        }
        writer.write_str("}\n")
    }
}

/// Writes an event's fields as `"name":value` pairs.
struct Fields<'a, 'w> {
    out: &'a mut Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    fn key(&mut self, field: &Field) -> fmt::Result {
        if !std::mem::take(&mut self.first) {
            self.out.write_char(',')?;
        }
        string(self.out, field.name())?;
        self.out.write_char(':')
    }

    fn put(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|_| value(self.out));
        }
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, |w| string(w, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, |w| write!(w, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, |w| write!(w, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.put(field, |w| write!(w, "{value}"));
        } else {
            self.put(field, |w| string(w, &value.to_string()));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, |w| string(w, &value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, |w| {
            w.write_char('"')?;
            write!(super::json::Escaped(w), "{value:?}")?;
            w.write_char('"')
        });
    }
}

/// `value` as a JSON string.
fn string(out: &mut Writer<'_>, value: &str) -> fmt::Result {
    super::json::write_string(out, value)
}

/// The gateway's JSON log layer over `writer` (what `log.format = "json"` installs).
pub fn json_layer<S, W>(writer: W) -> tracing_subscriber::fmt::Layer<S, SpanFields, JsonLine, W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static,
{
    tracing_subscriber::fmt::layer()
        .fmt_fields(SpanFields)
        .event_format(JsonLine)
        .with_writer(writer)
}

/// Tests only: the JSON lines that some code logs, captured through the gateway's own layer.
#[cfg(test)]
pub(crate) mod capture {
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `emit` logs, as the JSON log layer writes it, with that layer as the thread's subscriber.
    pub fn captured(emit: impl FnOnce()) -> String {
        let capture = Capture::default();
        let sink = capture.clone();
        let subscriber =
            tracing_subscriber::registry().with(super::json_layer(move || sink.clone()));
        tracing::subscriber::with_default(subscriber, emit);
        let text = capture.0.lock().unwrap().clone();
        String::from_utf8(text).unwrap()
    }
}

#[cfg(test)]
mod tests {
    fn lines(emit: impl FnOnce()) -> Vec<serde_json::Value> {
        let text = super::capture::captured(emit);
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    #[test]
    fn a_line_is_json_with_its_fields_and_span() {
        let got = lines(|| {
            let span = tracing::info_span!("request", channel = "wechat", trace_id = %"ab\"c");
            span.in_scope(|| {
                tracing::info!(status = 200u16, elapsed_ms = 3u64, ok = true, ratio = 0.5, reason = %"a\nb\u{1}", "request answered")
            });
            tracing::warn!(error = ?"x", "outside");
        });
        assert_eq!(got.len(), 2);
        let first = &got[0];
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["fields"]["message"], "request answered");
        assert_eq!(first["fields"]["status"], 200);
        assert_eq!(first["fields"]["ok"], true);
        assert_eq!(first["fields"]["ratio"], 0.5);
        assert_eq!(first["fields"]["reason"], "a\nb\u{1}");
        assert_eq!(first["span"]["channel"], "wechat");
        assert_eq!(first["span"]["trace_id"], "ab\"c");
        assert_eq!(first["span"]["name"], "request");
        assert_eq!(first["target"], module_path!());
        assert!(first["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(got[1]["fields"]["error"], "\"x\"");
        assert!(got[1].get("span").is_none());
    }

    #[test]
    fn recorded_span_fields_join_the_stored_object() {
        let got = lines(|| {
            let span = tracing::info_span!(
                "request",
                channel = "sms",
                tracking_no = tracing::field::Empty
            );
            span.record("tracking_no", "YB-1");
            span.in_scope(|| tracing::info!("one"));
            let bare = tracing::info_span!("bare", late = tracing::field::Empty);
            bare.record("late", 7u64);
            bare.in_scope(|| tracing::info!("two"));
        });
        assert_eq!(got[0]["span"]["channel"], "sms");
        assert_eq!(got[0]["span"]["tracking_no"], "YB-1");
        assert_eq!(
            got[1]["span"],
            serde_json::json!({"late": 7, "name": "bare"})
        );
    }

    #[test]
    fn a_span_without_fields_still_has_its_name() {
        let got = lines(|| tracing::info_span!("bare").in_scope(|| tracing::info!("hi")));
        assert_eq!(got[0]["span"], serde_json::json!({"name": "bare"}));
    }
}
