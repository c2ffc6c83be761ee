//! RESPONDENT (0x63): receives surveys from SURVEYOR peers and answers each on the pipe it
//! came from, echoing its backtrace (wire-facts §7, §14).
//!
//! # Cooked mode
//!
//! * Surveys from all pipes are fair-queued by receive priority; a pipe whose queue is
//!   full is paused (nothing is lost at the respondent). Any number of surveyors may be
//!   connected (wire-facts C8: nanomsg's doc says one, its code and NNG allow many).
//! * The backtrace is parsed on arrival, with `Options::max_ttl()` words at most (request
//!   id included). A payload with no bit-31 word is dropped as
//!   [`DropReason::MalformedHeader`], one with too many words as
//!   [`DropReason::TtlExceeded`]; the pipe stays open either way (nanomsg; NNG closes on
//!   the former).
//! * [`recv`](Protocol::recv) remembers the survey's pipe and backtrace. Every recv first
//!   forgets a survey received earlier and not yet answered (nanomsg's implicit cancel),
//!   even when it then returns [`RecvError::WouldBlock`].
//! * [`send`](Protocol::send) without a survey to answer is
//!   [`SendErrorKind::WrongState`]. The response goes back on the survey's pipe with the
//!   full backtrace as its header. Responses are best-effort, as in nanomsg: when that
//!   pipe is gone the response is dropped as [`DropReason::PipeGone`], when it cannot take
//!   a message now as [`DropReason::PipeBusy`]; `send` still succeeds (the surveyor would
//!   have discarded a late answer anyway).
//! * Contexts ([`Respondent::open_context`]) each hold their own survey to answer, so a
//!   service can answer several surveys concurrently; they all draw from the same
//!   fair queue. The trait's `send`/`recv` use [`ContextId::DEFAULT`].
//!
//! # Raw mode
//!
//! `recv` returns the header `[id of the source pipe, bit 31 clear] + backtrace`, like
//! nanomsg's `xrespondent` (the TTL is checked on the received backtrace). `send` pops the
//! first word of the header as the pipe to answer on and sends the rest of the header
//! unchanged. The header must be at least 8 bytes, a multiple of 4, and start with a valid
//! pipe id (1..=0x7fff_ffff), else [`SendErrorKind::BadHeader`]; an id naming no current
//! pipe drops the message as [`DropReason::PipeGone`]. Raw sockets have no contexts.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::common::Outputs;
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

pub use crate::context::ContextId;

/// A received survey waiting for its answer.
#[derive(Clone, Debug)]
struct Pending {
    pipe: PipeId,
    backtrace: Bytes,
}

/// The RESPONDENT state machine (cooked or raw, see the module docs).
#[derive(Clone, Debug)]
pub struct Respondent {
    options: Options,
    raw: bool,
    /// Attached pipes and whether each can take a message now.
    writable: BTreeMap<PipeId, bool>,
    surveys: Inbound,
    /// Per context, the survey it received and has not answered yet.
    contexts: BTreeMap<ContextId, Option<Pending>>,
    next_context: u32,
    out: Outputs,
}

impl Respondent {
    /// A new RESPONDENT socket.
    pub fn new(config: Config) -> Self {
        let mut contexts = BTreeMap::new();
        contexts.insert(ContextId::DEFAULT, None);
        Self {
            surveys: Inbound::new(config.options.recv_queue(), OnFull::Pause),
            options: config.options,
            raw: config.raw,
            writable: BTreeMap::new(),
            contexts,
            next_context: 1,
            out: Outputs::default(),
        }
    }

    /// Opens a new context. Raw sockets have no contexts and return `None`.
    pub fn open_context(&mut self) -> Option<ContextId> {
        if self.raw {
            return None;
        }
        while self
            .contexts
            .contains_key(&ContextId::from_raw(u64::from(self.next_context)))
        {
            self.next_context = self.next_context.wrapping_add(1).max(1);
        }
        let id = ContextId::from_raw(u64::from(self.next_context));
        self.next_context = self.next_context.wrapping_add(1).max(1);
        self.contexts.insert(id, None);
        Some(id)
    }

    /// Closes a context, forgetting any survey it has not answered. Returns false for an
    /// unknown context and for [`ContextId::DEFAULT`], which cannot be closed.
    pub fn close_context(&mut self, ctx: ContextId) -> bool {
        ctx != ContextId::DEFAULT && self.contexts.remove(&ctx).is_some()
    }

    /// Receives the next survey on `ctx` (see [`Protocol::recv`] and the module docs).
    pub fn recv_in(&mut self, ctx: ContextId, _now: Instant) -> Result<Message, RecvError> {
        let slot = self
            .contexts
            .get_mut(&ctx)
            .ok_or(RecvError::NoSuchContext)?;
        *slot = None;
        let (pipe, mut msg) = self
            .surveys
            .pop(&mut self.out.events)
            .ok_or(RecvError::WouldBlock)?;
        if self.raw {
            msg.header = push_word(pipe.get(), &msg.header);
        } else {
            *slot = Some(Pending {
                pipe,
                backtrace: std::mem::take(&mut msg.header),
            });
        }
        self.out.delivered();
        Ok(msg)
    }

    /// Answers the survey held by `ctx` (see [`Protocol::send`] and the module docs).
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
        let response = Message::with_header(pending.backtrace, msg.body);
        self.route(pending.pipe, response);
        Ok(())
    }

    /// Whether `ctx` holds a survey it can answer with `send_in`.
    pub fn has_pending(&self, ctx: ContextId) -> bool {
        self.contexts.get(&ctx).is_some_and(|p| p.is_some())
    }

    fn send_raw(&mut self, msg: Message) -> Result<(), SendError> {
        let pipe = first_word(&msg.header).and_then(PipeId::new);
        let Some(pipe) = pipe.filter(|_| msg.header.len() >= 8 && msg.header.len() % 4 == 0) else {
            return Err(SendError::new(SendErrorKind::BadHeader, msg));
        };
        let response = Message::with_header(msg.header.slice(4..), msg.body);
        self.route(pipe, response);
        Ok(())
    }

    /// Sends `msg` on `pipe` if it is there and writable; drops it (counted) otherwise.
    fn route(&mut self, pipe: PipeId, msg: Message) {
        match self.writable.get_mut(&pipe) {
            None => self.out.dropped(DropReason::PipeGone),
            Some(false) => self.out.dropped(DropReason::PipeBusy),
            Some(writable) => {
                *writable = false;
                self.out.transmit(pipe, msg);
            }
        }
    }
}

impl Protocol for Respondent {
    fn socket_type(&self) -> SocketType {
        SocketType::Respondent
    }

    fn is_raw(&self) -> bool {
        self.raw
    }

    fn add_pipe(&mut self, _now: Instant, pipe: PipeId, info: PipeInfo) -> Result<(), PipeRefused> {
        if self.writable.contains_key(&pipe) {
            return Err(PipeRefused::Duplicate(pipe));
        }
        self.writable.insert(pipe, true);
        self.surveys.add_pipe(pipe, info.recv_priority);
        Ok(())
    }

    fn remove_pipe(&mut self, _now: Instant, pipe: PipeId) {
        if self.writable.remove(&pipe).is_some() {
            self.surveys.remove_pipe(pipe);
        }
    }

    fn handle_message(&mut self, _now: Instant, pipe: PipeId, payload: Bytes) {
        self.out.arrived(payload.len());
        let bt = match Backtrace::parse(&payload, self.options.max_ttl()) {
            Ok(bt) => bt,
            Err(BacktraceError::NoRequestId(_)) => {
                self.out.dropped(DropReason::MalformedHeader);
                return;
            }
            Err(BacktraceError::TooManyHops { .. }) => {
                self.out.dropped(DropReason::TtlExceeded);
                return;
            }
        };
        let mut msg = Message::with_header(bt.header, bt.body);
        msg.pipe = Some(pipe);
        self.surveys
            .push(pipe, msg, &mut self.out.stats, &mut self.out.events);
    }

    fn handle_writable(&mut self, _now: Instant, pipe: PipeId) {
        if let Some(w) = self.writable.get_mut(&pipe) {
            *w = true;
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
        self.surveys.set_capacity(options.recv_queue());
        self.options = options;
    }
}
