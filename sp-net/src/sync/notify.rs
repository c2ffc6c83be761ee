//! A loom-visible stand-in for `tokio::sync::Notify`, with the subset of its behaviour
//! the core uses: one task waits on each notifier, [`notify_one`](Notify::notify_one)
//! wakes it or, when it is not waiting, stores one permit that its next
//! [`notified`](Notify::notified) future consumes at once. (tokio's `notify_one` wakes
//! only one of several waiters; with one waiter the two agree.)

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::Mutex;

#[derive(Debug, Default)]
struct State {
    permit: bool,
    waker: Option<Waker>,
}

/// Wakes the one task waiting on it, or lets its next wait pass.
#[derive(Debug, Default)]
pub(crate) struct Notify {
    state: Mutex<State>,
}

impl Notify {
    /// A notifier with no permit stored.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Stores a permit and wakes the waiting task, if any.
    pub(crate) fn notify_one(&self) {
        let waker = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.permit = true;
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Completes once a permit is (or was already) stored, consuming it.
    pub(crate) fn notified(&self) -> Notified<'_> {
        Notified { notify: self }
    }
}

/// The future of [`Notify::notified`].
#[derive(Debug)]
pub(crate) struct Notified<'a> {
    notify: &'a Notify,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.notify.state.lock().unwrap_or_else(|e| e.into_inner());
        if std::mem::take(&mut st.permit) {
            return Poll::Ready(());
        }
        st.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
