//! A runtime-free "something changed" signal for tasks waiting on the socket core.
//!
//! A waiter first takes a [`Signal::listen`] ticket, then checks its condition under the
//! core's lock, then awaits the ticket. Any [`Signal::notify_all`] after the ticket was
//! taken completes it, so a change between "checked: nothing to do" and "waiting" is never
//! lost. Built only on [`crate::sync`] so loom can model it.
//!
//! Notifying is free while no ticket is outstanding: `listen` counts itself in before it
//! reads the generation, and the notifier's state change is ordered after the waiter's
//! check through the core's lock, so a notifier that reads a zero count knows that no
//! waiter checked before its change.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use std::sync::atomic::Ordering;

use crate::sync::{AtomicUsize, Mutex};

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
    /// Tickets taken and not yet dropped.
    listeners: AtomicUsize,
}

impl Signal {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> crate::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Completes every ticket taken so far. Inlined: every send and receive calls it, and
    /// usually nobody listens.
    #[inline]
    pub(crate) fn notify_all(&self) {
        if self.listeners.load(Ordering::SeqCst) != 0 {
            self.wake_listeners();
        }
    }

    #[cold]
    fn wake_listeners(&self) {
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
        self.listeners.fetch_add(1, Ordering::SeqCst);
        let mut inner = self.lock();
        let ticket = inner.next_ticket;
        inner.next_ticket += 1;
        Listen {
            signal: self,
            generation: inner.generation,
            ticket,
            registered: false,
        }
    }
}

/// A pending wait on a [`Signal`].
#[derive(Debug)]
pub(crate) struct Listen<'a> {
    signal: &'a Signal,
    generation: u64,
    ticket: u64,
    /// A waker of this ticket may be in the list.
    registered: bool,
}

impl Future for Listen<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let signal = self.signal;
        let mut inner = signal.lock();
        if inner.generation != self.generation {
            return Poll::Ready(());
        }
        match inner.wakers.iter_mut().find(|(t, _)| *t == self.ticket) {
            Some((_, w)) => w.clone_from(cx.waker()),
            None => inner.wakers.push((self.ticket, cx.waker().clone())),
        }
        drop(inner);
        self.registered = true;
        Poll::Pending
    }
}

impl Drop for Listen<'_> {
    fn drop(&mut self) {
        if self.registered {
            let ticket = self.ticket;
            self.signal.lock().wakers.retain(|(t, _)| *t != ticket);
        }
        self.signal.listeners.fetch_sub(1, Ordering::SeqCst);
    }
}
