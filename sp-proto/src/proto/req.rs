//! REQ (requester, 0x30): sends each request to one REP peer (load balancing with strict
//! send priorities), re-sends it until a reply with its id arrives, and hands that reply
//! to the user.
//!
//! # Cooked mode
//!
//! * **Request ids.** The first id is `Rng::new(config.seed).next_u32() | 0x8000_0000`; each
//!   later request takes the next value (bit 31 always set), skipping ids still
//!   outstanding on another context. On the wire a request is `[id word] body`.
//! * **Contexts** ([`ContextId`]) let one socket run many requests at once (NNG's
//!   `nng_ctx`). [`Protocol::send`]/[`Protocol::recv`] use [`ContextId::DEFAULT`].
//! * **Holding.** A request that finds no writable pipe is accepted and held until one
//!   becomes writable (nanomsg), unless [`Options::fail_no_peers`](crate::Options::fail_no_peers) is set and no pipe is
//!   attached at all, which fails with [`SendErrorKind::NoPeers`].
//! * **Resending.** A request without a reply is sent again (same id) after
//!   [`Options::resend_interval`](crate::Options::resend_interval), and at once when the pipe that carried it is removed.
//!   Each resend counts in [`ProtoStats::resends`](crate::ProtoStats::resends) and emits [`Event::RequestResent`].
//! * **Cancelling.** A new send on a context with a request in progress cancels it
//!   silently: the old request (or its reply, if it arrived but was not read yet) counts
//!   once as [`DropReason::Cancelled`], and a reply to it arriving later counts as
//!   [`DropReason::StaleId`].
//! * **Replies.** Exactly 4 header bytes are stripped. A payload shorter than 4 bytes or
//!   whose first word lacks bit 31 is dropped as [`DropReason::MalformedHeader`] (the pipe
//!   is kept); an id that no context is waiting for is dropped as
//!   [`DropReason::StaleId`].
//!
//! # Raw mode
//!
//! No request state. [`Protocol::send`] needs a valid backtrace header (whole 32-bit words,
//! only the last one with bit 31 set), else [`SendErrorKind::BadHeader`]; the message is
//! forwarded verbatim to the next writable pipe, or refused with `WouldBlock`. Received
//! messages are fair-queued by receive priority; their header is the stack down to and
//! including the id word (at most `max_ttl` words), the rest is body. Malformed ones are
//! dropped and counted. Contexts all behave like the socket itself.

use alloc::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use super::common::{has_core, Core};
use crate::inbound::{Inbound, OnFull};
use crate::message::Message;
use crate::pipes::{PipeId, PipeInfo, PriorityRing};
use crate::protocol::{Config, Event, PipeRefused, Protocol, RecvError, SendError, SendErrorKind};
use crate::rng::Rng;
use crate::socket_type::SocketType;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::backtrace::{first_word, id_header, is_whole_backtrace, Backtrace, ID_FLAG};

pub use crate::context::ContextId;
use crate::context::{ContextError, ContextTable, Contexts};

/// Where a request is in its journey to a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Delivery {
    /// Waiting in the hold queue for a writable pipe.
    Held,
    /// Written on this pipe; re-sent at the deadline, if any.
    OnPipe {
        pipe: PipeId,
        resend_at: Option<Instant>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Request {
    id: u32,
    body: Bytes,
    delivery: Delivery,
    /// Whether it was written at least once (a further write is a resend).
    sent_before: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
enum CtxState {
    /// No request: recv is not valid.
    #[default]
    Idle,
    /// A request waits for its reply.
    Pending(Request),
    /// The reply arrived and waits for recv.
    Replied(Message),
}

/// The REQ state machine.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Req {
    /// Writable pipes (load balancing by send priority).
    writable: PriorityRing,
    /// Raw mode: received replies, fair-queued.
    inbound: Inbound,
    next_id: u32,
    contexts: ContextTable<CtxState>,
    /// Outstanding request id -> context.
    by_id: BTreeMap<u32, ContextId>,
    /// Contexts whose request waits for a writable pipe, oldest first. Entries whose
    /// context no longer holds a `Held` request are skipped.
    held: VecDeque<ContextId>,
    core: Core,
}

impl Req {
    /// A new REQ socket.
    pub fn new(config: Config) -> Self {
        let mut rng = Rng::new(config.seed);
        let inbound = Inbound::new(config.options.recv_queue(), OnFull::Pause);
        Self {
            next_id: rng.next_u32(),
            writable: PriorityRing::new(),
            inbound,
            contexts: ContextTable::new(CtxState::Idle),
            by_id: BTreeMap::new(),
            held: VecDeque::new(),
            core: Core::new(config),
        }
    }

    /// Whether `ctx` has a request waiting for its reply (sent or held).
    pub fn is_pending(&self, ctx: ContextId) -> bool {
        matches!(self.contexts.get(ctx), Some(CtxState::Pending(_)))
    }

    /// The id of the request in progress on `ctx` (bit 31 set), if any.
    pub fn request_id(&self, ctx: ContextId) -> Option<u32> {
        match self.contexts.get(ctx) {
            Some(CtxState::Pending(r)) => Some(r.id),
            _ => None,
        }
    }

    /// Forgets a context's request or unread reply, counting it as cancelled.
    fn cancel(&mut self, state: CtxState) {
        match state {
            CtxState::Idle => {}
            CtxState::Pending(req) => {
                self.by_id.remove(&req.id);
                self.core.dropped(DropReason::Cancelled);
            }
            CtxState::Replied(_) => self.core.dropped(DropReason::Cancelled),
        }
    }

    /// The next request id not outstanding on any context.
    fn allocate_id(&mut self) -> u32 {
        loop {
            let id = self.next_id | ID_FLAG;
            self.next_id = self.next_id.wrapping_add(1);
            if !self.by_id.contains_key(&id) {
                return id;
            }
        }
    }

    /// Writes held requests while pipes are writable.
    fn flush(&mut self, now: Instant) {
        while self.writable.any_active() {
            let Some(ctx) = self.held.pop_front() else {
                return;
            };
            let Some(CtxState::Pending(req)) = self.contexts.get_mut(ctx) else {
                continue;
            };
            if req.delivery != Delivery::Held {
                continue;
            }
            let Some(pipe) = self.writable.take() else {
                self.held.push_front(ctx);
                return;
            };
            req.delivery = Delivery::OnPipe {
                pipe,
                resend_at: self.core.options.resend_interval().map(|ivl| now + ivl),
            };
            let msg = Message::with_header(id_header(req.id), req.body.clone());
            if req.sent_before {
                self.core.stats.resends += 1;
                self.core.events.push_back(Event::RequestResent { pipe });
            }
            req.sent_before = true;
            self.core.transmit(pipe, msg);
        }
    }

    /// Moves the requests matched by `due` back to the hold queue, in context order.
    fn requeue(&mut self, mut due: impl FnMut(PipeId, Option<Instant>) -> bool) {
        for (ctx, state) in self.contexts.iter_mut() {
            if let CtxState::Pending(req) = state {
                if let Delivery::OnPipe { pipe, resend_at } = req.delivery {
                    if due(pipe, resend_at) {
                        req.delivery = Delivery::Held;
                        self.held.push_back(ctx);
                    }
                }
            }
        }
    }

    fn send_raw(&mut self, mut msg: Message) -> Result<(), SendError> {
        if !is_whole_backtrace(&msg.header) {
            return Err(SendError::new(SendErrorKind::BadHeader, msg));
        }
        let Some(pipe) = self.writable.take() else {
            return Err(SendError::new(SendErrorKind::WouldBlock, msg));
        };
        msg.pipe = None;
        self.core.transmit(pipe, msg);
        Ok(())
    }

    fn recv_raw(&mut self) -> Result<Message, RecvError> {
        self.core.deliver(&mut self.inbound).map(|(_, msg)| msg)
    }

    fn handle_reply(&mut self, pipe: PipeId, payload: Bytes) {
        let Some(word) = first_word(&payload).filter(|w| w & ID_FLAG != 0) else {
            self.core.dropped(DropReason::MalformedHeader);
            return;
        };
        let Some(ctx) = self.by_id.remove(&word) else {
            self.core.dropped(DropReason::StaleId);
            return;
        };
        let Some(state) = self.contexts.get_mut(ctx) else {
            self.core.dropped(DropReason::StaleId);
            return;
        };
        let mut msg = Message::new(payload.slice(4..));
        msg.pipe = Some(pipe);
        *state = CtxState::Replied(msg);
    }
}

impl Contexts for Req {
    /// Opens a new context (raw contexts all behave like the socket itself).
    fn open_context(&mut self) -> Result<ContextId, ContextError> {
        Ok(self.contexts.open(CtxState::Idle))
    }

    /// Closes a context, cancelling its request (counted as [`DropReason::Cancelled`]).
    fn close_context(&mut self, ctx: ContextId) -> bool {
        match self.contexts.close(ctx) {
            Some(state) => {
                self.cancel(state);
                true
            }
            None => false,
        }
    }

    /// Sends a request on `ctx` (see the module docs).
    fn send_in(&mut self, ctx: ContextId, now: Instant, msg: Message) -> Result<(), SendError> {
        if !self.contexts.contains(ctx) {
            return Err(SendError::new(SendErrorKind::NoSuchContext, msg));
        }
        if self.core.raw {
            return self.send_raw(msg);
        }
        let msg = self.core.refuse_without_peers(self.writable.len(), msg)?;
        let old = self
            .contexts
            .get_mut(ctx)
            .map(core::mem::take)
            .unwrap_or_default();
        self.cancel(old);
        let id = self.allocate_id();
        self.by_id.insert(id, ctx);
        if let Some(state) = self.contexts.get_mut(ctx) {
            *state = CtxState::Pending(Request {
                id,
                body: msg.body,
                delivery: Delivery::Held,
                sent_before: false,
            });
        }
        self.held.push_back(ctx);
        self.flush(now);
        Ok(())
    }

    /// Receives the reply to the request on `ctx`.
    fn recv_in(&mut self, ctx: ContextId, _now: Instant) -> Result<Message, RecvError> {
        if self.core.raw {
            if !self.contexts.contains(ctx) {
                return Err(RecvError::NoSuchContext);
            }
            return self.recv_raw();
        }
        let state = self.contexts.get_mut(ctx).ok_or(RecvError::NoSuchContext)?;
        match state {
            CtxState::Idle => Err(RecvError::WrongState),
            CtxState::Pending(_) => Err(RecvError::WouldBlock),
            CtxState::Replied(_) => match core::mem::take(state) {
                CtxState::Replied(msg) => {
                    self.core.delivered();
                    Ok(msg)
                }
                _ => Err(RecvError::WrongState),
            },
        }
    }
}

has_core!(Req {
    receiver: inbound,
    contexts
});

impl Protocol for Req {
    fn socket_type(&self) -> SocketType {
        SocketType::Req
    }

    fn handle_pipe_added(
        &mut self,
        now: Instant,
        pipe: PipeId,
        info: PipeInfo,
    ) -> Result<(), PipeRefused> {
        self.writable.attach_writable(pipe, info.send_priority)?;
        if self.core.raw {
            self.inbound.add_pipe(pipe, info.recv_priority);
        } else {
            self.flush(now);
        }
        Ok(())
    }

    fn handle_pipe_removed(&mut self, now: Instant, pipe: PipeId) {
        if !self.writable.contains(pipe) {
            return;
        }
        self.writable.remove(pipe);
        if self.core.raw {
            self.inbound.remove_pipe(pipe);
        } else {
            self.requeue(|on, _| on == pipe);
            self.flush(now);
        }
    }

    fn handle_message(&mut self, _now: Instant, pipe: PipeId, payload: Bytes) {
        self.core.arrived(payload.len());
        if !self.core.raw {
            self.handle_reply(pipe, payload);
            return;
        }
        match Backtrace::parse(&payload, self.core.options.max_ttl()) {
            Ok(bt) => {
                let mut msg = Message::with_header(bt.header, bt.body);
                msg.pipe = Some(pipe);
                self.core.receive(&mut self.inbound, pipe, msg);
            }
            Err(e) => self.core.dropped(e.drop_reason()),
        }
    }

    fn handle_writable(&mut self, now: Instant, pipe: PipeId) {
        self.writable.activate(pipe);
        if !self.core.raw {
            self.flush(now);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.core.raw {
            return;
        }
        self.requeue(|_, resend_at| resend_at.is_some_and(|t| t <= now));
        self.flush(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.contexts
            .values()
            .filter_map(|state| match state {
                CtxState::Pending(Request {
                    delivery: Delivery::OnPipe { resend_at, .. },
                    ..
                }) => *resend_at,
                _ => None,
            })
            .min()
    }

    /// REQ resends on a timer.
    fn uses_clock(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_skip_outstanding_ones() {
        let mut req = Req::new(Config::cooked(3));
        let start = Rng::new(3).next_u32();
        req.next_id = start;
        let first = req.allocate_id();
        assert_eq!(first, start | ID_FLAG);
        req.by_id
            .insert(start.wrapping_add(1) | ID_FLAG, ContextId::DEFAULT);
        assert_eq!(req.allocate_id(), start.wrapping_add(2) | ID_FLAG);
    }
}
