//! A runtime-free "something changed" signal for tasks waiting on the socket core.
//!
//! A waiter first takes a [`Signal::listen`] ticket, then checks its condition under the
//! core's lock, then awaits the ticket. Any [`Signal::notify_all`] after the ticket was
//! taken completes it, so a change between "checked: nothing to do" and "waiting" is never
//! lost. Built only on [`crate::sync`] so loom can model it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::sync::Mutex;

#[derive(Debug, Default)]
struct Inner {
    generation: u64,
    next_ticket: u64,
    wakers: Vec<(u64, Waker)>,
}

/// Wakes every task that listened before the notification.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    inner: Mutex<Inner>,
}

impl Signal {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> crate::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Completes every ticket taken so far.
    pub(crate) fn notify_all(&self) {
        let wakers = {
            let mut inner = self.lock();
            inner.generation += 1;
            std::mem::take(&mut inner.wakers)
        };
        for (_, w) in wakers {
            w.wake();
        }
    }

    /// A ticket that completes at the next [`notify_all`](Self::notify_all).
    pub(crate) fn listen(&self) -> Listen<'_> {
        let mut inner = self.lock();
        let ticket = inner.next_ticket;
        inner.next_ticket += 1;
        Listen {
            signal: self,
            generation: inner.generation,
            ticket,
        }
    }
}

/// A pending wait on a [`Signal`].
#[derive(Debug)]
pub(crate) struct Listen<'a> {
    signal: &'a Signal,
    generation: u64,
    ticket: u64,
}

impl Future for Listen<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = self.signal.lock();
        if inner.generation != self.generation {
            return Poll::Ready(());
        }
        match inner.wakers.iter_mut().find(|(t, _)| *t == self.ticket) {
            Some((_, w)) => w.clone_from(cx.waker()),
            None => inner.wakers.push((self.ticket, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Drop for Listen<'_> {
    fn drop(&mut self) {
        let ticket = self.ticket;
        self.signal.lock().wakers.retain(|(t, _)| *t != ticket);
    }
}
