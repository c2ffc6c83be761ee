//! The state every protocol shares: its options, its raw flag, the transmit and event
//! queues it fills between polls, and its counters, with helpers that keep the counters
//! honest. The [`Protocol`](crate::Protocol) trait's provided methods (`poll_transmit`,
//! `poll_event`, `stats`, `options`, `is_raw`...) read it, so a protocol writes only
//! what is its own.
//!
//! A protocol whose `recv` takes from one socket-wide queue of received messages (PAIR,
//! PULL, SUB, BUS, REQ in raw mode, REP, RESPONDENT) also lends that queue with its core
//! as a [`Receiver`]: the provided `recv` and `set_options` work through it. A protocol
//! that lends none cannot receive (PUB, PUSH) or overrides both (SURVEYOR, whose
//! contexts queue their own responses).

use alloc::collections::VecDeque;

use bytes::Bytes;

use crate::inbound::Inbound;
use crate::message::Message;
use crate::options::Options;
use crate::pipes::PipeId;
use crate::protocol::{Config, Event, RecvError, SendError, SendErrorKind, Transmit};
use crate::stats::{DropReason, ProtoStats};

/// The shared core of a protocol state machine (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Core {
    /// The options in force.
    pub(crate) options: Options,
    /// Raw mode (`AF_SP_RAW`).
    pub(crate) raw: bool,
    /// Messages to write, oldest first.
    pub(crate) transmits: VecDeque<Transmit>,
    /// Events for the driver, oldest first.
    pub(crate) events: VecDeque<Event>,
    /// Counters, including every drop with its reason.
    pub(crate) stats: ProtoStats,
}

impl Core {
    /// The core of a protocol created with `config` (its seed is the protocol's own).
    pub(crate) fn new(config: Config) -> Self {
        Self {
            options: config.options,
            raw: config.raw,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: ProtoStats::default(),
        }
    }

    /// Queues `msg` for `pipe` and counts it.
    pub(crate) fn transmit(&mut self, pipe: PipeId, msg: Message) {
        self.stats.count_out(msg.wire_len());
        self.transmits.push_back(Transmit { pipe, msg });
    }

    /// Counts an arriving payload.
    pub(crate) fn arrived(&mut self, len: usize) {
        self.stats.count_in(len);
    }

    /// Counts a dropped message.
    pub(crate) fn dropped(&mut self, reason: DropReason) {
        self.stats.drop_one(reason);
    }

    /// Refuses a cooked send with [`SendErrorKind::NoPeers`] when `fail_no_peers` is set
    /// and no pipe is attached (`attached` is the protocol's count); hands `msg` back
    /// otherwise.
    pub(crate) fn refuse_without_peers(
        &self,
        attached: usize,
        msg: Message,
    ) -> Result<Message, SendError> {
        if self.options.fail_no_peers && !self.raw && attached == 0 {
            Err(SendError::new(SendErrorKind::NoPeers, msg))
        } else {
            Ok(msg)
        }
    }

    /// Counts a message handed to the user.
    pub(crate) fn delivered(&mut self) {
        self.stats.delivered += 1;
    }

    /// Queues `msg` from `pipe` in `inbound`, which counts a drop (or pauses the pipe)
    /// when it cannot take it.
    pub(crate) fn receive(&mut self, inbound: &mut Inbound, pipe: PipeId, msg: Message) {
        inbound.push(pipe, msg, &mut self.stats, &mut self.events);
    }

    /// Queues a payload without SP header from `pipe` in `inbound` as a message tagged
    /// with its pipe (see [`receive`](Self::receive)).
    pub(crate) fn receive_body(&mut self, inbound: &mut Inbound, pipe: PipeId, payload: Bytes) {
        let mut msg = Message::new(payload);
        msg.pipe = Some(pipe);
        self.receive(inbound, pipe, msg);
    }

    /// Takes the next message of `inbound` for the user and counts it delivered.
    pub(crate) fn deliver(
        &mut self,
        inbound: &mut Inbound,
    ) -> Result<(PipeId, Message), RecvError> {
        let next = inbound.pop(&mut self.events).ok_or(RecvError::WouldBlock)?;
        self.delivered();
        Ok(next)
    }
}

/// A protocol's [`Core`] with the one queue of received messages its `recv` takes from,
/// borrowed together (see the module docs).
pub struct Receiver<'a> {
    /// The protocol's core.
    pub(crate) core: &'a mut Core,
    /// The socket-wide receive queue.
    pub(crate) inbound: &'a mut Inbound,
}

impl Receiver<'_> {
    /// The next received message for the user, counted delivered.
    pub(crate) fn recv(self) -> Result<Message, RecvError> {
        self.core.deliver(self.inbound).map(|(_, msg)| msg)
    }

    /// Replaces the options and sizes the receive queue to their `recv_queue`.
    pub(crate) fn set_options(self, options: Options) {
        self.inbound.set_capacity(options.recv_queue());
        self.core.options = options;
    }
}

/// Implements the sealed core accessor for a protocol whose [`Core`] is its `core` field.
/// The parts in braces say what else it lends: `receiver: FIELD`, its socket-wide receive
/// queue (see [`Receiver`]); `contexts`, its [`Contexts`](crate::Contexts) implementation.
macro_rules! has_core {
    ($protocol:ty $({ $($part:ident $(: $field:ident)?),* $(,)? })?) => {
        impl $crate::protocol::sealed::HasCore for $protocol {
            fn core(&self) -> &$crate::proto::Core {
                &self.core
            }
            fn core_mut(&mut self) -> &mut $crate::proto::Core {
                &mut self.core
            }
            $($($crate::proto::common::has_core!(@lend $part $($field)?);)*)?
        }
    };
    (@lend receiver $inbound:ident) => {
        fn receiver(&mut self) -> Option<$crate::proto::common::Receiver<'_>> {
            Some($crate::proto::common::Receiver {
                core: &mut self.core,
                inbound: &mut self.$inbound,
            })
        }
    };
    (@lend contexts) => {
        fn contexts(&mut self) -> Option<&mut dyn $crate::context::Contexts> {
            Some(self)
        }
    };
}
pub(crate) use has_core;

/// Implements, inside `impl Protocol for …`, the pipe inputs of a receive-only protocol
/// (PULL, SUB): each pipe joins and leaves the fair-queued receive queue in the named
/// field at its receive priority, refused when that queue already has it; as the
/// protocol never sends, a pipe becoming writable changes nothing.
macro_rules! receive_only_pipes {
    ($inbound:ident) => {
        fn handle_pipe_added(
            &mut self,
            _now: $crate::time::Instant,
            pipe: $crate::pipes::PipeId,
            info: $crate::pipes::PipeInfo,
        ) -> Result<(), $crate::protocol::PipeRefused> {
            self.$inbound.add_new_pipe(pipe, info.recv_priority)
        }

        fn handle_pipe_removed(
            &mut self,
            _now: $crate::time::Instant,
            pipe: $crate::pipes::PipeId,
        ) {
            self.$inbound.remove_pipe(pipe);
        }

        fn handle_writable(&mut self, _now: $crate::time::Instant, _pipe: $crate::pipes::PipeId) {}
    };
}
pub(crate) use receive_only_pipes;

/// Implements, inside `impl Protocol for …`, the message input of a send-only protocol
/// (PUB, PUSH): data from a peer is counted as arrived and dropped as
/// [`DropReason::UnexpectedData`](crate::DropReason::UnexpectedData), where nanomsg aborts.
macro_rules! send_only_discards_data {
    () => {
        fn handle_message(
            &mut self,
            _now: $crate::time::Instant,
            _pipe: $crate::pipes::PipeId,
            payload: bytes::Bytes,
        ) {
            self.core.arrived(payload.len());
            self.core.dropped($crate::stats::DropReason::UnexpectedData);
        }
    };
}
pub(crate) use send_only_discards_data;
