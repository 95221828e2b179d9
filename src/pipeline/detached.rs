//! A delivery awaited in the request's own task, that finishes on a task of its own once the
//! request stops waiting for it.
//!
//! The caller must be answered within its budget, but a late acknowledgement must still settle
//! the dedup claim, so that the caller's retry is a duplicate rather than a second record. A
//! task per request gave that, at the price of a spawn, usually a wake-up of the other worker
//! thread and a cross-thread hand-back on every request. Here the delivery runs inline; only a
//! request that times out, or whose caller hung up, hands the rest of it to a task.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Boxed so it can be handed to a task as it is, mid-way.
type Delivery<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A future run in place that is spawned, not dropped, when it is dropped unfinished.
pub struct Detached<T: Send + 'static>(Option<Delivery<T>>);

impl<T: Send + 'static> Detached<T> {
    /// Wraps `delivery`; nothing runs until it is polled (or dropped).
    pub fn new(delivery: impl Future<Output = T> + Send + 'static) -> Self {
        Detached(Some(Box::pin(delivery)))
    }
}

impl<T: Send + 'static> Future for Detached<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let Some(delivery) = self.0.as_mut() else {
            // Polled after it finished: a caller bug, and never ready again.
            return Poll::Pending;
        };
        let ready = delivery.as_mut().poll(cx);
        if ready.is_ready() {
            self.0 = None;
        }
        ready
    }
}

impl<T: Send + 'static> Drop for Detached<T> {
    fn drop(&mut self) {
        if let Some(delivery) = self.0.take() {
            // Outside a runtime (the process is going down) there is nobody left to tell.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    delivery.await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_delivery_that_finishes_in_time_runs_inline() {
        let value = Detached::new(async { 7 }).await;
        assert_eq!(value, 7);
    }

    #[tokio::test]
    async fn a_timed_out_delivery_still_finishes() {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let slow = Detached::new(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            flag.store(true, Ordering::SeqCst);
        });
        let waited = tokio::time::timeout(Duration::from_millis(5), slow).await;
        assert!(waited.is_err(), "the caller stopped waiting");
        assert!(!done.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(done.load(Ordering::SeqCst), "the rest ran on its own task");
    }

    #[tokio::test]
    async fn a_dropped_caller_does_not_cancel_the_delivery() {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let caller = tokio::spawn(async move {
            Detached::new(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                flag.store(true, Ordering::SeqCst);
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        caller.abort();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(done.load(Ordering::SeqCst));
    }
}
