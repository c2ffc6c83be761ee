//! The replier engine shared by REP and RESPONDENT (DESIGN rule 2: the backtrace stack
//! lives once). The two protocols differ only in their socket type and in what happens to
//! an answer for a pipe that cannot take it now ([`OnBusy`]); their module docs state
//! the behaviour.

use alloc::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use super::common::{has_core, Core};
use crate::context::{ContextError, ContextId, ContextTable, Contexts};
use crate::inbound::{Inbound, OnFull};
use crate::message::Message;
use crate::pipes::{PipeId, PipeInfo};
use crate::protocol::{Config, PipeRefused, Protocol, RecvError, SendError, SendErrorKind};
use crate::socket_type::SocketType;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::backtrace::{first_word, push_word, Backtrace};

/// The send side of one pipe: its write credit and the replies waiting for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct PipeOut {
    writable: bool,
    backlog: VecDeque<Message>,
}

/// What a context must answer: the pipe and backtrace of its last request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Pending {
    pipe: PipeId,
    header: Bytes,
}

/// What a replier does with an answer for a pipe that cannot take it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum OnBusy {
    /// Keep it in the pipe's backlog (bounded by `recv_queue`) until the pipe is writable.
    Backlog,
    /// Drop it, counted as [`DropReason::PipeBusy`] (best effort).
    Drop,
}

/// The shared engine of REP and RESPONDENT: fair-queued requests with backtraces,
/// contexts that remember what to answer, answers routed back by pipe.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Replier {
    socket_type: SocketType,
    on_busy: OnBusy,
    inbound: Inbound,
    pipes: BTreeMap<PipeId, PipeOut>,
    contexts: ContextTable<Option<Pending>>,
    core: Core,
}

impl Replier {
    /// A replier of `socket_type` with the given busy-pipe policy.
    pub(crate) fn new(socket_type: SocketType, config: Config, on_busy: OnBusy) -> Self {
        let inbound = Inbound::new(config.options.recv_queue(), OnFull::Pause);
        Self {
            socket_type,
            on_busy,
            inbound,
            pipes: BTreeMap::new(),
            contexts: ContextTable::new(None),
            core: Core::new(config),
        }
    }

    /// Whether `ctx` holds a request to answer.
    pub(crate) fn is_pending(&self, ctx: ContextId) -> bool {
        matches!(self.contexts.get(ctx), Some(Some(_)))
    }

    /// Replies waiting in the backlog of `pipe` for write credit.
    pub(crate) fn backlog(&self, pipe: PipeId) -> usize {
        self.pipes.get(&pipe).map_or(0, |p| p.backlog.len())
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
            self.core.dropped(DropReason::PipeGone);
            return;
        };
        if p.writable {
            p.writable = false;
            self.core.transmit(pipe, msg);
        } else if self.on_busy == OnBusy::Drop {
            self.core.dropped(DropReason::PipeBusy);
        } else if p.backlog.len() < self.core.options.recv_queue() {
            p.backlog.push_back(msg);
        } else {
            self.core.dropped(DropReason::QueueFull);
        }
    }
}

impl Contexts for Replier {
    /// Opens a new context. A raw RESPONDENT has none (nanomsg and NNG); raw REP
    /// contexts all behave like the socket itself.
    fn open_context(&mut self) -> Result<ContextId, ContextError> {
        if self.core.raw && self.socket_type == SocketType::Respondent {
            return Err(ContextError::Raw);
        }
        Ok(self.contexts.open(None))
    }

    /// Closes a context (an unanswered request is forgotten).
    fn close_context(&mut self, ctx: ContextId) -> bool {
        self.contexts.close(ctx).is_some()
    }

    /// Receives the next request into `ctx`, forgetting any unanswered one.
    fn recv_in(&mut self, ctx: ContextId, _now: Instant) -> Result<Message, RecvError> {
        let slot = self.contexts.get_mut(ctx).ok_or(RecvError::NoSuchContext)?;
        *slot = None;
        let (pipe, mut msg) = self.core.deliver(&mut self.inbound)?;
        if !self.core.raw {
            let header = core::mem::take(&mut msg.header);
            *slot = Some(Pending { pipe, header });
        }
        Ok(msg)
    }

    /// Sends the reply to the request last received on `ctx`.
    fn send_in(&mut self, ctx: ContextId, _now: Instant, msg: Message) -> Result<(), SendError> {
        let Some(slot) = self.contexts.get_mut(ctx) else {
            return Err(SendError::new(SendErrorKind::NoSuchContext, msg));
        };
        if self.core.raw {
            return self.send_raw(msg);
        }
        let Some(pending) = slot.take() else {
            return Err(SendError::new(SendErrorKind::WrongState, msg));
        };
        self.route(pending.pipe, Message::with_header(pending.header, msg.body));
        Ok(())
    }
}

has_core!(Replier {
    receiver: inbound,
    contexts
});

impl Protocol for Replier {
    fn socket_type(&self) -> SocketType {
        self.socket_type
    }

    fn handle_pipe_added(
        &mut self,
        _now: Instant,
        pipe: PipeId,
        info: PipeInfo,
    ) -> Result<(), PipeRefused> {
        PipeRefused::if_attached(self.pipes.contains_key(&pipe), pipe)?;
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

    fn handle_pipe_removed(&mut self, _now: Instant, pipe: PipeId) {
        if let Some(p) = self.pipes.remove(&pipe) {
            self.core
                .stats
                .drop_many(DropReason::PipeGone, p.backlog.len() as u64);
            self.inbound.remove_pipe(pipe);
        }
    }

    fn handle_message(&mut self, _now: Instant, pipe: PipeId, payload: Bytes) {
        self.core.arrived(payload.len());
        let bt = match Backtrace::parse(&payload, self.core.options.max_ttl()) {
            Ok(bt) => bt,
            Err(e) => return self.core.dropped(e.drop_reason()),
        };
        let header = if self.core.raw {
            push_word(pipe.get(), &bt.header)
        } else {
            bt.header
        };
        let mut msg = Message::with_header(header, bt.body);
        msg.pipe = Some(pipe);
        self.core.receive(&mut self.inbound, pipe, msg);
    }

    fn handle_writable(&mut self, _now: Instant, pipe: PipeId) {
        let Some(p) = self.pipes.get_mut(&pipe) else {
            return;
        };
        match p.backlog.pop_front() {
            Some(msg) => self.core.transmit(pipe, msg),
            None => p.writable = true,
        }
    }

    /// REP and RESPONDENT have no timer, but answer `true` as they always have: leaving
    /// their clock reads to the driver is a behaviour change of its own.
    fn uses_clock(&self) -> bool {
        true
    }
}

/// Implements [`Protocol`] and [`Contexts`] for a newtype over [`Replier`] (REP,
/// RESPONDENT) by handing every call to the engine, so the two sockets differ only in
/// their own methods.
macro_rules! protocol_via_replier {
    ($socket:ty) => {
        impl $crate::protocol::sealed::HasCore for $socket {
            fn core(&self) -> &$crate::proto::Core {
                $crate::protocol::sealed::HasCore::core(&self.0)
            }
            fn core_mut(&mut self) -> &mut $crate::proto::Core {
                $crate::protocol::sealed::HasCore::core_mut(&mut self.0)
            }
            fn receiver(&mut self) -> Option<$crate::proto::Receiver<'_>> {
                $crate::protocol::sealed::HasCore::receiver(&mut self.0)
            }
            fn contexts(&mut self) -> Option<&mut dyn $crate::context::Contexts> {
                Some(self)
            }
        }

        impl $crate::protocol::Protocol for $socket {
            fn socket_type(&self) -> $crate::socket_type::SocketType {
                self.0.socket_type()
            }
            fn handle_pipe_added(
                &mut self,
                now: $crate::time::Instant,
                pipe: $crate::pipes::PipeId,
                info: $crate::pipes::PipeInfo,
            ) -> Result<(), $crate::protocol::PipeRefused> {
                self.0.handle_pipe_added(now, pipe, info)
            }
            fn handle_pipe_removed(
                &mut self,
                now: $crate::time::Instant,
                pipe: $crate::pipes::PipeId,
            ) {
                self.0.handle_pipe_removed(now, pipe);
            }
            fn handle_message(
                &mut self,
                now: $crate::time::Instant,
                pipe: $crate::pipes::PipeId,
                payload: bytes::Bytes,
            ) {
                self.0.handle_message(now, pipe, payload);
            }
            fn handle_writable(&mut self, now: $crate::time::Instant, pipe: $crate::pipes::PipeId) {
                self.0.handle_writable(now, pipe);
            }
            fn handle_timeout(&mut self, now: $crate::time::Instant) {
                self.0.handle_timeout(now);
            }
            fn send(
                &mut self,
                now: $crate::time::Instant,
                msg: $crate::message::Message,
            ) -> Result<(), $crate::protocol::SendError> {
                self.0.send(now, msg)
            }
            fn recv(
                &mut self,
                now: $crate::time::Instant,
            ) -> Result<$crate::message::Message, $crate::protocol::RecvError> {
                self.0.recv(now)
            }
            fn poll_timeout(&self) -> Option<$crate::time::Instant> {
                self.0.poll_timeout()
            }
            fn set_options(&mut self, options: $crate::options::Options) {
                self.0.set_options(options);
            }
            fn uses_clock(&self) -> bool {
                self.0.uses_clock()
            }
        }

        impl $crate::context::Contexts for $socket {
            fn open_context(
                &mut self,
            ) -> Result<$crate::context::ContextId, $crate::context::ContextError> {
                self.0.open_context()
            }
            fn close_context(&mut self, ctx: $crate::context::ContextId) -> bool {
                self.0.close_context(ctx)
            }
            fn send_in(
                &mut self,
                ctx: $crate::context::ContextId,
                now: $crate::time::Instant,
                msg: $crate::message::Message,
            ) -> Result<(), $crate::protocol::SendError> {
                self.0.send_in(ctx, now, msg)
            }
            fn recv_in(
                &mut self,
                ctx: $crate::context::ContextId,
                now: $crate::time::Instant,
            ) -> Result<$crate::message::Message, $crate::protocol::RecvError> {
                self.0.recv_in(ctx, now)
            }
        }
    };
}
pub(crate) use protocol_via_replier;
