//! A request's log context without a tracing span.
//!
//! Every line a request logs names its channel, source and trace id in a `span` object. A
//! tracing span carries that for the text format and for OpenTelemetry, which export spans; for
//! the JSON lines alone it is a lot of machinery per request (the registry's slot, the fields
//! rendered and stored in the span's extensions, an enter and exit on every poll, the close):
//! about 6,000 instructions of a request's ~150,000 (`valgrind --tool=callgrind`, README
//! "Performance"). Without OpenTelemetry the JSON format uses this instead: the same members
//! rendered once into a string, held in a task-local scope around the request's work, and
//! spliced in by [`JsonLine`](super::JsonLine) exactly where the span's would be. The lines are
//! the same either way.
//!
//! The scope also holds what the request admitted (its record's request id and tracking number),
//! which only its outcome line carries: set deep in a handler, read once the work is done.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::task::futures::TaskLocalFuture;

/// Whether requests get a tracing span (the default, and what the text format and
/// OpenTelemetry need) or only a [`Context`].
static SPANS: AtomicBool = AtomicBool::new(true);

/// Chooses how requests carry their log context: `true` for a tracing span, `false` for a
/// [`Context`] read by the JSON line format. Set once at start, before any request.
pub fn use_spans(spans: bool) {
    SPANS.store(spans, Ordering::Relaxed);
}

/// Whether requests get a tracing span; see [`use_spans`].
pub fn spans() -> bool {
    SPANS.load(Ordering::Relaxed)
}

tokio::task_local! {
    static REQUEST: Context;
}

/// A request's log context: the members of its `span` object, rendered once
/// (`"channel":"wechat",...`; empty when the request has a tracing span instead), and what it
/// admitted.
#[derive(Default)]
pub struct Context {
    members: String,
    admitted: RefCell<Option<Admitted>>,
}

/// The ids of what a request produced, for its outcome line (joined by commas when several).
#[derive(Debug, PartialEq, Eq)]
pub struct Admitted {
    /// The record's `request_id`.
    pub request_id: String,
    /// The record's `tracking_no`.
    pub tracking_no: String,
}

/// Notes what the current request admitted, for its outcome line; nothing outside a request.
pub fn admit(request_id: &impl fmt::Display, tracking_no: &impl fmt::Display) {
    let _ = REQUEST.try_with(|context| {
        *context.admitted.borrow_mut() = Some(Admitted {
            request_id: request_id.to_string(),
            tracking_no: tracking_no.to_string(),
        })
    });
}

impl Context {
    /// The context of a request with these fields, in this order, as a tracing span named
    /// `request` with the same fields would show them.
    pub fn new(fields: &[(&str, &str)]) -> Self {
        let mut members = String::with_capacity(96);
        for (i, (key, value)) in fields.iter().enumerate() {
            if i > 0 {
                members.push(',');
            }
            // Writing into a String cannot fail.
            let _ = super::json::write_string(&mut members, key);
            members.push(':');
            let _ = super::json::write_string(&mut members, value);
        }
        Context {
            members,
            admitted: RefCell::new(None),
        }
    }

    /// No context: the request has a tracing span.
    pub fn none() -> Self {
        Context::default()
    }

    /// Runs `work` with this context current for its log lines.
    pub fn scope<F: Future>(self, work: F) -> TaskLocalFuture<Context, F> {
        REQUEST.scope(self, work)
    }

    /// Runs `f` with this context current for its log lines.
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        REQUEST.sync_scope(self, f)
    }

    /// What the request admitted while this context was current, taken out.
    pub fn take_admitted(&mut self) -> Option<Admitted> {
        self.admitted.get_mut().take()
    }
}

/// Writes `,"span":{...,"name":"request"}` for the current request's context, if there is one
/// with members; nothing otherwise.
pub(super) fn write_current(out: &mut impl fmt::Write) -> fmt::Result {
    REQUEST
        .try_with(|context| {
            if context.members.is_empty() {
                return Ok(());
            }
            out.write_str(",\"span\":{")?;
            out.write_str(&context.members)?;
            out.write_str(",\"name\":\"request\"}")
        })
        .unwrap_or(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_rendered_as_json() {
        let context = Context::new(&[("channel", "web"), ("source", "a\"b")]);
        assert_eq!(context.members, r#""channel":"web","source":"a\"b""#);
        let mut out = String::new();
        context.sync_scope(|| write_current(&mut out)).unwrap();
        assert_eq!(
            out,
            r#","span":{"channel":"web","source":"a\"b","name":"request"}"#
        );
    }

    #[test]
    fn nothing_is_written_outside_a_scope_or_for_an_empty_context() {
        let mut out = String::new();
        write_current(&mut out).unwrap();
        Context::none()
            .sync_scope(|| write_current(&mut out))
            .unwrap();
        assert!(out.is_empty());
    }

    #[tokio::test]
    async fn what_a_request_admitted_is_kept_in_its_scope() {
        admit(&"outside", &"ignored");
        let work = Context::new(&[("channel", "web")]).scope(async { admit(&"r-1", &"T-1") });
        let mut work = std::pin::pin!(work);
        (&mut work).await;
        let mut context = work.as_mut().take_value().unwrap();
        assert_eq!(
            context.take_admitted(),
            Some(Admitted {
                request_id: "r-1".into(),
                tracking_no: "T-1".into()
            })
        );
        assert_eq!(context.take_admitted(), None);
    }
}
