//! REP (replier, 0x31): receives requests fair-queued by receive priority and sends each
//! reply back to the pipe its request came from, with the request's backtrace.
//!
//! # Cooked mode
//!
//! * **Arrival.** Each request's backtrace is parsed when it arrives, with the hop limit
//!   [`Options::max_ttl`] (words, request id included). One without a word carrying bit 31
//!   is dropped as [`DropReason::MalformedHeader`], one with too many words as
//!   [`DropReason::TtlExceeded`]; the pipe is kept either way (nanomsg; NNG closes it).
//!   So dropped requests never take a place in the receive queue.
//! * **Contexts** ([`ContextId`]) let a server answer several requests concurrently. Each
//!   remembers the pipe and backtrace of the request it last received. Any recv on a
//!   context forgets an unanswered request (nanomsg's implicit cancel). A send with
//!   nothing to answer fails with [`SendErrorKind::WrongState`].
//! * **Replies** carry the whole received stack as header (wire-facts E3). A reply for a
//!   pipe that is gone is dropped as [`DropReason::PipeGone`] and the send still
//!   succeeds. A reply for a pipe that cannot take it now waits in that pipe's backlog
//!   (up to [`Options::recv_queue`] replies; beyond that [`DropReason::QueueFull`]) and
//!   goes out on `handle_writable`: like NNG, and unlike nanomsg, a reply is not lost to
//!   back-pressure.
//!
//! # Raw mode (xrep)
//!
//! A received message's header is `[pipe id (bit 31 clear)] + received stack`; the hop
//! limit applies to the received words. On send, the first header word names the pipe and
//! the rest is sent as header: a header shorter than 8 bytes, not whole words, or whose
//! first word is no valid pipe id gives [`SendErrorKind::BadHeader`]; an unknown pipe is a
//! [`DropReason::PipeGone`] drop; a busy pipe uses the backlog as in cooked mode.
//! Contexts all behave like the socket itself.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use super::common::Outputs;
use super::req::{ContextId, ContextIds};
use crate::inbound::{Inbound, OnFull};
use crate::message::Message;
use crate::options::Options;
use crate::pipes::{PipeId, PipeInfo};
use crate::protocol::{
    Config, Event, PipeRefused, Protocol, RecvError, SendError, SendErrorKind, Transmit,
};
use crate::socket_type::SocketType;
use crate::stats::{DropReason, ProtoStats};
use crate::time::Instant;
use crate::wire::backtrace::{first_word, push_word, Backtrace, BacktraceError};

/// The send side of one pipe: its write credit and the replies waiting for it.
#[derive(Clone, Debug, Default)]
struct PipeOut {
    writable: bool,
    backlog: VecDeque<Message>,
}

/// What a context must answer: the pipe and backtrace of its last request.
#[derive(Clone, Debug)]
struct Pending {
    pipe: PipeId,
    header: Bytes,
}

/// The REP state machine.
#[derive(Clone, Debug)]
pub struct Rep {
    options: Options,
    raw: bool,
    inbound: Inbound,
    pipes: BTreeMap<PipeId, PipeOut>,
    ctx_ids: ContextIds,
    contexts: BTreeMap<ContextId, Option<Pending>>,
    out: Outputs,
}

impl Rep {
    /// A new REP socket.
    pub fn new(config: Config) -> Self {
        let inbound = Inbound::new(config.options.recv_queue(), OnFull::Pause);
        Self {
            options: config.options,
            raw: config.raw,
            inbound,
            pipes: BTreeMap::new(),
            ctx_ids: ContextIds::new(),
            contexts: BTreeMap::from([(ContextId::DEFAULT, None)]),
            out: Outputs::default(),
        }
    }

    /// Opens a new context.
    pub fn open_context(&mut self) -> ContextId {
        let id = self.ctx_ids.allocate();
        self.contexts.insert(id, None);
        id
    }

    /// Closes a context (an unanswered request is forgotten). Returns false if it did not
    /// exist; the default context cannot be closed.
    pub fn close_context(&mut self, ctx: ContextId) -> bool {
        ctx != ContextId::DEFAULT && self.contexts.remove(&ctx).is_some()
    }

    /// Whether `ctx` holds a request to answer.
    pub fn is_pending(&self, ctx: ContextId) -> bool {
        matches!(self.contexts.get(&ctx), Some(Some(_)))
    }

    /// Replies waiting in the backlog of `pipe` for write credit.
    pub fn backlog(&self, pipe: PipeId) -> usize {
        self.pipes.get(&pipe).map_or(0, |p| p.backlog.len())
    }

    /// Receives the next request into `ctx`, forgetting any unanswered one.
    pub fn recv_in(&mut self, ctx: ContextId, _now: Instant) -> Result<Message, RecvError> {
        let slot = self
            .contexts
            .get_mut(&ctx)
            .ok_or(RecvError::NoSuchContext)?;
        *slot = None;
        let (pipe, mut msg) = self
            .inbound
            .pop(&mut self.out.events)
            .ok_or(RecvError::WouldBlock)?;
        self.out.delivered();
        if !self.raw {
            let header = std::mem::take(&mut msg.header);
            *slot = Some(Pending { pipe, header });
        }
        Ok(msg)
    }

    /// Sends the reply to the request last received on `ctx`.
    pub fn send_in(
        &mut self,
        ctx: ContextId,
        _now: Instant,
        msg: Message,
    ) -> Result<(), SendError> {
        let Some(slot) = self.contexts.get_mut(&ctx) else {
            return Err(SendError::new(SendErrorKind::NoSuchContext, msg));
        };
        if self.raw {
            return self.send_raw(msg);
        }
        let Some(pending) = slot.take() else {
            return Err(SendError::new(SendErrorKind::WrongState, msg));
        };
        self.route(pending.pipe, Message::with_header(pending.header, msg.body));
        Ok(())
    }

    fn send_raw(&mut self, msg: Message) -> Result<(), SendError> {
        let header = &msg.header;
        let pipe = (header.len() >= 8 && header.len() % 4 == 0)
            .then(|| first_word(header))
            .flatten()
            .and_then(PipeId::new);
        let Some(pipe) = pipe else {
            return Err(SendError::new(SendErrorKind::BadHeader, msg));
        };
        let reply = Message::with_header(msg.header.slice(4..), msg.body);
        self.route(pipe, reply);
        Ok(())
    }

    /// Writes `msg` on `pipe` now, or keeps it in the pipe's backlog, or drops it.
    fn route(&mut self, pipe: PipeId, msg: Message) {
        let Some(p) = self.pipes.get_mut(&pipe) else {
            self.out.dropped(DropReason::PipeGone);
            return;
        };
        if p.writable {
            p.writable = false;
            self.out.transmit(pipe, msg);
        } else if p.backlog.len() < self.options.recv_queue() {
            p.backlog.push_back(msg);
        } else {
            self.out.dropped(DropReason::QueueFull);
        }
    }
}

impl Protocol for Rep {
    fn socket_type(&self) -> SocketType {
        SocketType::Rep
    }

    fn is_raw(&self) -> bool {
        self.raw
    }

    fn add_pipe(&mut self, _now: Instant, pipe: PipeId, info: PipeInfo) -> Result<(), PipeRefused> {
        if self.pipes.contains_key(&pipe) {
            return Err(PipeRefused::Duplicate(pipe));
        }
        self.pipes.insert(
            pipe,
            PipeOut {
                writable: true,
                backlog: VecDeque::new(),
            },
        );
        self.inbound.add_pipe(pipe, info.recv_priority);
        Ok(())
    }

    fn remove_pipe(&mut self, _now: Instant, pipe: PipeId) {
        if let Some(p) = self.pipes.remove(&pipe) {
            self.out
                .stats
                .drop_many(DropReason::PipeGone, p.backlog.len() as u64);
            self.inbound.remove_pipe(pipe);
        }
    }

    fn handle_message(&mut self, _now: Instant, pipe: PipeId, payload: Bytes) {
        self.out.arrived(payload.len());
        let bt = match Backtrace::parse(&payload, self.options.max_ttl()) {
            Ok(bt) => bt,
            Err(BacktraceError::NoRequestId(_)) => {
                return self.out.dropped(DropReason::MalformedHeader);
            }
            Err(BacktraceError::TooManyHops { .. }) => {
                return self.out.dropped(DropReason::TtlExceeded);
            }
        };
        let header = if self.raw {
            push_word(pipe.get(), &bt.header)
        } else {
            bt.header
        };
        let mut msg = Message::with_header(header, bt.body);
        msg.pipe = Some(pipe);
        self.inbound
            .push(pipe, msg, &mut self.out.stats, &mut self.out.events);
    }

    fn handle_writable(&mut self, _now: Instant, pipe: PipeId) {
        let Some(p) = self.pipes.get_mut(&pipe) else {
            return;
        };
        match p.backlog.pop_front() {
            Some(msg) => self.out.transmit(pipe, msg),
            None => p.writable = true,
        }
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn send(&mut self, now: Instant, msg: Message) -> Result<(), SendError> {
        self.send_in(ContextId::DEFAULT, now, msg)
    }

    fn recv(&mut self, now: Instant) -> Result<Message, RecvError> {
        self.recv_in(ContextId::DEFAULT, now)
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn stats(&self) -> &ProtoStats {
        &self.out.stats
    }

    fn options(&self) -> &Options {
        &self.options
    }

    fn set_options(&mut self, options: Options) {
        self.inbound.set_capacity(options.recv_queue());
        self.options = options;
    }
}
