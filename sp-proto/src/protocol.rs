//! The one API every protocol state machine implements.
//!
//! # Driving contract
//!
//! A protocol is a plain value. The driver (sp-net's socket task, the simulator, or an
//! embedder's own I/O loop) feeds it inputs and then drains its outputs:
//!
//! 1. Inputs (`handle_*`), each with the current [`Instant`]:
//!    [`handle_pipe_added`](Protocol::handle_pipe_added) when a connection finished its SP
//!    handshake, [`handle_pipe_removed`](Protocol::handle_pipe_removed) when it is gone,
//!    [`handle_message`](Protocol::handle_message) with each frame's payload,
//!    [`handle_writable`](Protocol::handle_writable) when a pipe can take another message,
//!    [`handle_timeout`](Protocol::handle_timeout) when the deadline passes.
//! 2. User commands: [`send`](Protocol::send) and [`recv`](Protocol::recv). They never
//!    block: `WouldBlock` means "retry after the next input".
//! 3. After any input or command, drain [`poll_transmit`](Protocol::poll_transmit) and
//!    [`poll_event`](Protocol::poll_event) until both return `None`, then arm a timer for
//!    [`poll_timeout`](Protocol::poll_timeout). [`Drain`](crate::Drain) is that loop, and
//!    every driver in this workspace uses it.
//!
//! **The drain rule.** Outputs are drained after every input, before the next one: a
//! driver never feeds an input to a protocol that still holds outputs
//! ([`is_drained`](Protocol::is_drained), which the drivers debug-assert). Two batches
//! are the exceptions: messages already read (a driver may feed them with
//! `handle_message` back to back, see *Flow control*) and receives (`recv` until it
//! would block); the driver drains after the batch.
//!
//! Time must not go backwards between calls. Nothing here reads a clock, spawns, locks or
//! allocates randomness on its own: ids and jitter come from the seed in [`Config`].
//!
//! # Flow control
//!
//! *Send side:* a pipe is writable when attached. Every [`Transmit`] for a pipe uses up
//! its writability until the driver calls `handle_writable` for it; a driver with an
//! output buffer calls it as soon as the buffer has room again.
//!
//! *Receive side:* the driver keeps delivering a pipe's messages until the protocol emits
//! [`Event::PausePipe`], and resumes after [`Event::ResumePipe`]. Messages delivered after
//! a pause (already decoded) are still accepted.

use bytes::Bytes;

use crate::context::ContextId;
use crate::message::Message;
use crate::options::Options;
use crate::pipes::{PipeId, PipeInfo};
use crate::proto::Receiver;
use crate::socket_type::SocketType;
use crate::stats::ProtoStats;
use crate::time::Instant;

/// How a protocol state machine is created.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Option values.
    pub options: Options,
    /// Seed for every random choice (ids, jitter).
    pub seed: u64,
    /// Raw mode (`AF_SP_RAW`): headers are exposed to and supplied by the user, no
    /// request/survey state is kept. Used by devices.
    pub raw: bool,
}

impl Config {
    /// Cooked mode, default options, the given seed.
    pub fn cooked(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }

    /// Raw mode, default options, the given seed.
    pub fn raw(seed: u64) -> Self {
        Self {
            seed,
            raw: true,
            ..Self::default()
        }
    }
}

/// A message to write on a pipe: `msg.header || msg.body` as one frame.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Transmit {
    /// The pipe to write on.
    pub pipe: PipeId,
    /// The message; its header is the SP protocol header to put on the wire.
    pub msg: Message,
}

impl Transmit {
    /// The payload length on the wire.
    pub fn wire_len(&self) -> usize {
        self.msg.wire_len()
    }
}

/// Something the driver must act on, or may report.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Event {
    /// Stop reading messages from this pipe (its receive queue is full).
    PausePipe(PipeId),
    /// Reading from this pipe may resume.
    ResumePipe(PipeId),
    /// A request was sent again (timer or lost pipe).
    RequestResent {
        /// The pipe it went out on.
        pipe: PipeId,
    },
    /// The current survey reached its deadline.
    SurveyExpired,
}

/// Why a pipe was refused by [`Protocol::handle_pipe_added`]. The driver closes the connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PipeRefused {
    /// The protocol takes one peer and already has one (PAIR).
    #[error("socket already has its one peer")]
    Busy,
    /// The id is already attached.
    #[error("pipe {0} is already attached")]
    Duplicate(PipeId),
}

impl PipeRefused {
    /// Refuses `pipe` as a [`Duplicate`](Self::Duplicate) when it is already attached.
    pub(crate) fn if_attached(attached: bool, pipe: PipeId) -> Result<(), Self> {
        if attached {
            Err(Self::Duplicate(pipe))
        } else {
            Ok(())
        }
    }
}

/// The kind of a failed send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SendErrorKind {
    /// No pipe can take the message now; retry after the next input.
    WouldBlock,
    /// Sending is not valid in the current state (REP or RESPONDENT with nothing to answer;
    /// nanomsg's `EFSM`).
    WrongState,
    /// This socket type cannot send (SUB, PULL).
    NotSupported,
    /// Raw mode: the header is not valid for this protocol.
    BadHeader,
    /// `fail_no_peers` is set and no pipe is attached.
    NoPeers,
    /// The context does not exist.
    NoSuchContext,
}

/// A failed send; the message is handed back.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("send failed: {kind:?}")]
pub struct SendError {
    /// What went wrong.
    pub kind: SendErrorKind,
    /// The message that was not sent.
    pub msg: Message,
}

impl core::fmt::Debug for SendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SendError({:?}, {:?})", self.kind, self.msg)
    }
}

impl SendError {
    /// Builds an error of `kind` returning `msg`.
    pub fn new(kind: SendErrorKind, msg: Message) -> Self {
        Self { kind, msg }
    }
}

/// Why [`Protocol::recv`] returned no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecvError {
    /// Nothing to receive yet; retry after the next input.
    #[error("no message available")]
    WouldBlock,
    /// Receiving is not valid in this state (REQ with no request, SURVEYOR with no survey;
    /// nanomsg's `EFSM`).
    #[error("operation not valid in the current state")]
    WrongState,
    /// The survey deadline passed (reported once, by the first recv after expiry).
    #[error("survey deadline expired")]
    TimedOut,
    /// This socket type cannot receive (PUB, PUSH).
    #[error("socket type cannot receive")]
    NotSupported,
    /// The context does not exist.
    #[error("no such context")]
    NoSuchContext,
}

/// Gives the [`Protocol`] trait's provided methods the state every protocol shares.
/// Private, so that [`Protocol`] is sealed: its implementations are this crate's state
/// machines (pick one at run time with [`AnyProtocol`](crate::AnyProtocol)).
pub(crate) mod sealed {
    use crate::context::Contexts;
    use crate::proto::{Core, Receiver};

    /// Access to a protocol's shared [`Core`].
    pub trait HasCore {
        /// The shared core.
        fn core(&self) -> &Core;
        /// The shared core, for change.
        fn core_mut(&mut self) -> &mut Core;
        /// The core with the one receive queue `recv` takes from, for a protocol that has
        /// one (the default: none).
        fn receiver(&mut self) -> Option<Receiver<'_>> {
            None
        }
        /// The protocol's contexts, for a socket type that has them (the default: none).
        fn contexts(&mut self) -> Option<&mut dyn Contexts> {
            None
        }
    }
}

/// The sans-IO interface of every SP protocol. See the module docs for the contract.
///
/// The trait is sealed: only this crate's state machines implement it.
pub trait Protocol: sealed::HasCore {
    /// The socket type (and so the wire id and peer) of this state machine.
    fn socket_type(&self) -> SocketType;

    /// Whether this is a raw-mode socket.
    fn is_raw(&self) -> bool {
        self.core().raw
    }

    /// A connection to a peer of the right type finished its handshake.
    fn handle_pipe_added(
        &mut self,
        now: Instant,
        pipe: PipeId,
        info: PipeInfo,
    ) -> Result<(), PipeRefused>;

    /// A pipe is gone. Unknown ids are ignored.
    fn handle_pipe_removed(&mut self, now: Instant, pipe: PipeId);

    /// One message payload (SP header and body, as framed on the wire) from `pipe`.
    fn handle_message(&mut self, now: Instant, pipe: PipeId, payload: Bytes);

    /// `pipe` can take another message.
    fn handle_writable(&mut self, now: Instant, pipe: PipeId);

    /// Time has advanced to `now`; fire due timers. A protocol without timers ignores it.
    fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
    }

    /// The user sends a message. A socket type with contexts sends on
    /// [`ContextId::DEFAULT`]; SUB and PULL cannot send
    /// ([`SendErrorKind::NotSupported`]).
    fn send(&mut self, now: Instant, msg: Message) -> Result<(), SendError> {
        // Provided for the socket types with contexts and those that cannot send; the
        // others implement their own.
        match self.contexts() {
            Some(contexts) => contexts.send_in(ContextId::DEFAULT, now, msg),
            None => Err(SendError::new(SendErrorKind::NotSupported, msg)),
        }
    }

    /// The user receives a message. A socket type with contexts receives on
    /// [`ContextId::DEFAULT`]; PUB and PUSH cannot receive ([`RecvError::NotSupported`]).
    fn recv(&mut self, now: Instant) -> Result<Message, RecvError> {
        // Provided: the default context, else the socket-wide receive queue.
        if let Some(contexts) = self.contexts() {
            return contexts.recv_in(ContextId::DEFAULT, now);
        }
        self.receiver()
            .map_or(Err(RecvError::NotSupported), Receiver::recv)
    }

    /// The user closed the socket (sp-overview §14.3): every message the user could
    /// still receive on the default context is discarded and counted as
    /// [`DropReason::SocketClosed`](crate::DropReason::SocketClosed), not delivered;
    /// returns how many. The driver then feeds the protocol no user command and no timer,
    /// attaches no pipe, and removes each pipe as its connection ends. (A context's own
    /// queue goes when the context is closed, counted as it says.)
    fn close(&mut self, now: Instant) -> u64 {
        // The receive queue is bounded, so this loop is too.
        let mut discarded = 0;
        while self.recv(now).is_ok() {
            discarded += 1;
        }
        let stats = &mut self.core_mut().stats;
        stats.delivered -= discarded;
        stats.drop_many(crate::DropReason::SocketClosed, discarded);
        discarded
    }

    /// The next message to write, if any.
    #[must_use]
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.core_mut().transmits.pop_front()
    }

    /// The next event, if any.
    #[must_use]
    fn poll_event(&mut self) -> Option<Event> {
        self.core_mut().events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called (never, for a
    /// protocol without timers).
    #[must_use]
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Whether every output was taken: no transmit and no event is waiting. Drivers
    /// debug-assert it before they feed an input (see the module docs).
    fn is_drained(&self) -> bool {
        let core = self.core();
        core.transmits.is_empty() && core.events.is_empty()
    }

    /// Counters, including every drop with its reason.
    fn stats(&self) -> &ProtoStats {
        &self.core().stats
    }

    /// The options in force.
    fn options(&self) -> &Options {
        &self.core().options
    }

    /// Replaces the options; takes effect for subsequent operations (the receive queue
    /// takes its new `recv_queue` size at once).
    fn set_options(&mut self, options: Options) {
        match self.receiver() {
            Some(receiver) => receiver.set_options(options),
            None => self.core_mut().options = options,
        }
    }

    /// Whether this protocol reads the `now` argument of its calls at all. A protocol
    /// without timers answers `false` (the default); a driver may then skip reading its
    /// clock and pass any instant (such as the last one it read), which saves a clock
    /// read per message on the hot path. REQ and SURVEYOR, which have timers, answer
    /// `true`, and so do REP and RESPONDENT.
    fn uses_clock(&self) -> bool {
        false
    }
}
