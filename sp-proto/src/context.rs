//! Contexts: independent conversations on one REQ, REP, SURVEYOR or RESPONDENT socket
//! (NNG-style contexts), so an async API can have many operations in flight at once.
//!
//! [`Contexts`] is the one API for them. The four socket types implement it, and so does
//! [`AnyProtocol`](crate::AnyProtocol), which answers for the other types that they have
//! no contexts; a driver therefore never needs to know which protocol it runs.

use alloc::collections::BTreeMap;

use crate::message::Message;
use crate::protocol::{RecvError, SendError};
use crate::time::Instant;

/// Identifies one context of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContextId(u64);

impl ContextId {
    /// The context used by [`Protocol::send`](crate::Protocol::send) and
    /// [`Protocol::recv`](crate::Protocol::recv); it always exists.
    pub const DEFAULT: Self = Self(0);

    /// The numeric id (0 for the default context).
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// Why [`Contexts::open_context`] opened no context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// A raw SURVEYOR or RESPONDENT has no contexts (raw REQ and REP do: each behaves like
    /// the socket itself).
    #[error("raw sockets of this type have no contexts")]
    Raw,
    /// This socket type has no contexts (everything but REQ, REP, SURVEYOR, RESPONDENT).
    #[error("socket type has no contexts")]
    NotSupported,
}

/// Independent conversations on one socket. [`ContextId::DEFAULT`] always exists and is
/// the one [`Protocol::send`](crate::Protocol::send) and
/// [`Protocol::recv`](crate::Protocol::recv) use.
///
/// The same driving contract as for [`Protocol`](crate::Protocol) holds: `send_in` and
/// `recv_in` are user commands, after which the driver drains the outputs.
pub trait Contexts {
    /// Opens a new context.
    fn open_context(&mut self) -> Result<ContextId, ContextError>;

    /// Closes `ctx`, cancelling what it had in progress (see each protocol's docs for
    /// how that is counted). Returns false for an unknown context and for
    /// [`ContextId::DEFAULT`], which cannot be closed.
    fn close_context(&mut self, ctx: ContextId) -> bool;

    /// Sends on `ctx`: a request, a reply, a survey or a response.
    fn send_in(&mut self, ctx: ContextId, now: Instant, msg: Message) -> Result<(), SendError>;

    /// Receives on `ctx`: the reply, the next request, the next response.
    fn recv_in(&mut self, ctx: ContextId, now: Instant) -> Result<Message, RecvError>;
}

/// The open contexts of one socket and their protocol state, with the one id allocator:
/// ids count up from 1, wrap around below 2^32 and skip 0 and ids still open.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ContextTable<T> {
    next: u32,
    open: BTreeMap<ContextId, T>,
}

impl<T> ContextTable<T> {
    /// A table holding only [`ContextId::DEFAULT`], in state `default`.
    pub(crate) fn new(default: T) -> Self {
        Self {
            next: 1,
            open: BTreeMap::from([(ContextId::DEFAULT, default)]),
        }
    }

    /// Opens a context in `state` under a fresh id.
    pub(crate) fn open(&mut self, state: T) -> ContextId {
        let id = loop {
            let id = ContextId(u64::from(self.next));
            self.next = self.next.wrapping_add(1).max(1);
            if !self.open.contains_key(&id) {
                break id;
            }
        };
        self.open.insert(id, state);
        id
    }

    /// Closes `ctx` and returns its state; `None` for an unknown context and for
    /// [`ContextId::DEFAULT`], which stays open.
    pub(crate) fn close(&mut self, ctx: ContextId) -> Option<T> {
        if ctx == ContextId::DEFAULT {
            return None;
        }
        self.open.remove(&ctx)
    }

    /// Whether `ctx` is open.
    pub(crate) fn contains(&self, ctx: ContextId) -> bool {
        self.open.contains_key(&ctx)
    }

    /// The state of `ctx`, if open.
    pub(crate) fn get(&self, ctx: ContextId) -> Option<&T> {
        self.open.get(&ctx)
    }

    /// The state of `ctx`, if open, for change.
    pub(crate) fn get_mut(&mut self, ctx: ContextId) -> Option<&mut T> {
        self.open.get_mut(&ctx)
    }

    /// Every open context's state, in id order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &T> + '_ {
        self.open.values()
    }

    /// Every open context's state, in id order, for change.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut T> + '_ {
        self.open.values_mut()
    }

    /// Every open context with its state, in id order, for change.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (ContextId, &mut T)> + '_ {
        self.open.iter_mut().map(|(&ctx, state)| (ctx, state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_count_up_wrap_and_skip_open_ones() {
        let mut t = ContextTable::new(());
        assert_eq!(t.open(()).get(), 1);
        assert_eq!(t.open(()).get(), 2);
        assert_eq!(t.close(ContextId::DEFAULT), None);
        assert_eq!(t.close(ContextId(1)), Some(()));
        t.next = u32::MAX;
        assert_eq!(t.open(()).get(), u64::from(u32::MAX));
        // Wraps past 0 (the default), reuses the closed 1, skips the open 2.
        assert_eq!(t.open(()).get(), 1);
        assert_eq!(t.open(()).get(), 3);
        assert!(t.contains(ContextId::DEFAULT));
    }
}
